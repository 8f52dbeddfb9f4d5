//! Versioned JSON wire types (CLI.md). These structs are the contract: a test deserializes
//! real output into them with `deny_unknown_fields`. Add fields freely; renaming or
//! removing one needs a schema version bump.

use serde::{Deserialize, Serialize};

use crate::finding::Finding;

pub const CONNECT_SCHEMA: &str = "tlsdoctor.connect/v1";
pub const VERIFY_SCHEMA: &str = "tlsdoctor.verify/v1";
pub const STORE_SCHEMA: &str = "tlsdoctor.store/v1";
pub const INSPECT_SCHEMA: &str = "tlsdoctor.inspect/v1";

/// The `connect` / `verify` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub schema: String,
    pub target: Option<TargetDoc>,
    pub network: Option<NetworkDoc>,
    pub handshake: Option<HandshakeDoc>,
    pub chain: Vec<CertDoc>,
    pub verdicts: Vec<VerdictDoc>,
    pub findings: Vec<Finding>,
    /// For failures before any certificate was seen: the cause code (`timeout`, `no-tls`…).
    #[serde(default)]
    pub error: Option<ErrorDoc>,
    /// The time the chain was evaluated at (RFC 3339).
    #[serde(default)]
    pub evaluated_at: Option<String>,
    /// Protocol-specific facts: MySQL server version, SMTP banner, PostgreSQL's answer,
    /// and what libpq sslmode / MySQL ssl-mode would conclude.
    #[serde(default)]
    pub server: Option<serde_json::Value>,
    /// The certificate the chain lacks (the issuer of the top presented certificate, when
    /// a runtime rejected for want of it): root or intermediate, how sure, where it exists
    /// in the World and why it is not used there, and what its AIA caIssuers URL served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<crate::diagnose::evidence::IssuerDoc>,
    /// `--manifest`: the smallest manifest change that makes the runtimes that lack the CA
    /// trust the chain, and the verdicts with it applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<crate::commands::patch::PatchDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub server_name: Option<String>,
    pub starttls: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDoc {
    pub addresses: Vec<String>,
    pub connected_to: Option<String>,
    pub proxy: Option<String>,
    pub server_greeting: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandshakeDoc {
    pub completed: bool,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub client_cert_requested: bool,
    pub acceptable_client_cas: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertDoc {
    pub index: usize,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub is_ca: bool,
    pub self_signed: bool,
    pub key: String,
    pub signature: String,
    pub sha256: String,
    pub pem: String,
}

impl CertDoc {
    pub fn from_cert(index: usize, c: &crate::x509::CertInfo) -> CertDoc {
        CertDoc {
            index,
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before_rfc3339(),
            not_after: c.not_after_rfc3339(),
            dns_names: c.dns_names.clone(),
            ip_addresses: c.ip_addresses.clone(),
            is_ca: c.is_ca(),
            self_signed: c.self_signed,
            key: c.key.clone(),
            signature: c.signature.clone(),
            sha256: c.sha256.clone(),
            pem: c.pem(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictDoc {
    pub runtime: String,
    pub trusted: bool,
    pub name_ok: bool,
    /// Primary cause code (`ok` when trusted).
    pub cause: String,
    /// Every cause that applies.
    pub causes: Vec<String>,
    /// What the runtime itself would print.
    pub message: String,
    /// The anchor the path ended at, if any.
    pub anchor: Option<AnchorDoc>,
    pub store: StoreSummaryDoc,
    /// Context for each cause (expected vs presented names, missing issuer, AIA URL…).
    #[serde(default)]
    pub details: Vec<CauseDetailDoc>,
    /// Index in `chain` of the failing certificate, if one is to blame.
    #[serde(default)]
    pub failing_index: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorDoc {
    pub subject: String,
    pub sha256: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSummaryDoc {
    pub anchors: usize,
    pub sources: Vec<String>,
    /// True when the store is the explicit `--ca` files.
    #[serde(default)]
    pub explicit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseDetailDoc {
    pub cause: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDoc {
    pub cause: String,
    pub message: String,
}
