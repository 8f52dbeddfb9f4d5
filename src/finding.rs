//! Findings: something worth telling the user about a setup or a chain, with a stable
//! code, a severity and, where there is one, the fix.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable kebab-case code (`ssl-cert-file-missing`, `not-hashed`, …).
    pub code: String,
    pub severity: Severity,
    /// One or two sentences: what is wrong, concretely (paths, names, counts).
    pub message: String,
    /// What to change, worded for the detected distro / runtime; empty when nothing to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Runtimes this applies to (`go`, `openssl`, …); empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<String>,
    /// The file or directory concerned, as seen inside the World.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Finding {
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code: code.to_string(),
            severity,
            message: message.into(),
            fix: None,
            runtimes: Vec::new(),
            path: None,
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }

    pub fn runtimes(mut self, r: &[&str]) -> Finding {
        self.runtimes = r.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn path(mut self, p: impl Into<String>) -> Finding {
        self.path = Some(p.into());
        self
    }
}
