//! trust — *what would this program, in this environment, trust?*
//!
//! Each runtime module reproduces how that runtime resolves its CA store from the World
//! (environment variables, default files and directories), keeping the provenance of every
//! anchor and a reason for every source it considered. The rules are in
//! `shared/design/TRUST-RULES.md` and, as implemented, in `docs/TRUST-RULES.md`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::finding::Finding;
use crate::x509::CertInfo;

/// A runtime whose trust decisions the tool reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// Go's crypto/x509 system pool.
    Go,
    /// OpenSSL 3.x default verify paths (also: curl, Python ssl, psql, Ruby, PHP …).
    Openssl,
    /// rustls-native-certs (0.8.x) + rustls-webpki.
    RustlsNative,
    /// webpki-roots: Mozilla's list compiled into the program.
    WebpkiRoots,
}

impl Runtime {
    pub const ALL: [Runtime; 4] = [
        Runtime::Go,
        Runtime::Openssl,
        Runtime::RustlsNative,
        Runtime::WebpkiRoots,
    ];

    /// The stable code used on the command line and in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Runtime::Go => "go",
            Runtime::Openssl => "openssl",
            Runtime::RustlsNative => "rustls-native",
            Runtime::WebpkiRoots => "webpki-roots",
        }
    }

    /// A name for humans.
    pub fn title(self) -> &'static str {
        match self {
            Runtime::Go => "Go (crypto/x509)",
            Runtime::Openssl => "OpenSSL 3",
            Runtime::RustlsNative => "rustls-native-certs",
            Runtime::WebpkiRoots => "webpki-roots",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What kind of source a step looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// A bundle file.
    File,
    /// A certificate directory.
    Dir,
    /// A compiled-in list (webpki-roots).
    Builtin,
    /// A file given explicitly (`--ca`).
    Explicit,
}

/// What happened when the runtime considered a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Read; `anchors` certificates contributed.
    Loaded,
    /// Does not exist (silently skipped by the runtime).
    Missing,
    /// Not consulted, see `reason` (e.g. an earlier file won, the variable replaced it).
    Skipped,
    /// Exists but could not be used (permission, is a directory, undecodable …).
    Error,
}

/// One source a runtime considered, in the order it considered them.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The path as seen inside the World (or `builtin:webpki-roots`).
    pub source: String,
    pub kind: StepKind,
    pub outcome: Outcome,
    /// Certificates this source contributed (after the runtime's own filtering, before
    /// de-duplication across sources).
    pub anchors: usize,
    /// Why it was skipped / failed, or a note on what was loaded ("set by SSL_CERT_FILE").
    pub reason: Option<String>,
}

/// Where an anchor came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The file it was read from, as seen in the World (the name the runtime opened,
    /// e.g. `/etc/ssl/certs/ca-certificates.crt` or `/etc/ssl/certs/3513523f.0`).
    pub path: String,
    /// Where that path leads after symlinks (inside the World), when different.
    pub resolved: Option<String>,
    /// 0-based index of the PEM block in the file (None for DER / builtin).
    pub block: Option<usize>,
    /// 1-based line of the `-----BEGIN` line.
    pub line: Option<usize>,
}

/// A trusted certificate and where it came from.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub cert: Arc<CertInfo>,
    pub provenance: Provenance,
    /// OpenSSL hashed-directory entries: the hash this file is *named* by (`3513523f`).
    /// OpenSSL finds the certificate only when looking up an issuer whose subject hash is
    /// this value. None for anchors loaded eagerly from a file.
    pub hash_name: Option<u32>,
    /// OpenSSL `TRUSTED CERTIFICATE` blocks (OpenSSL only; auxiliary trust settings).
    pub trusted_cert_block: bool,
}

/// The resolved store of one runtime.
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub runtime: Runtime,
    /// Every source considered, in order.
    pub steps: Vec<Step>,
    /// Every usable anchor, de-duplicated as the runtime de-duplicates.
    pub anchors: Vec<Anchor>,
    /// Problems found with this setup.
    pub findings: Vec<Finding>,
    /// Facts assumed rather than observed ("OPENSSLDIR /usr/lib/ssl (Debian layout detected)").
    pub assumptions: Vec<String>,
    /// The store came from explicit `--ca` files, not the environment.
    pub explicit: bool,
    /// A hard failure the runtime itself would report (Go: "failed to load system roots").
    pub error: Option<String>,
}

impl TrustStore {
    /// Sources that contributed anchors, for the short JSON summary.
    pub fn sources(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Loaded)
            .map(|s| s.source.clone())
            .collect()
    }
}

/// Options that change how stores are resolved.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// `--openssldir`: override the detected OPENSSLDIR.
    pub openssldir: Option<PathBuf>,
}
