//! Python `ssl.create_default_context()`: OpenSSL's default paths (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`), the host name checked by OpenSSL, CPython's words.

use super::{CaFile, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Runtime, Tier, Unit};
use crate::diagnose::openssl::OsslErr;
use crate::profiles::{Profile, Rule};

pub static UNIT: Unit = Unit {
    runtime: Runtime::Python,
    id: "python",
    title: "Python ssl",
    tier: Tier::Extra,
    env: &[EnvVar::reads("SSL_CERT_FILE"), EnvVar::reads("SSL_CERT_DIR")],
    binaries: &["python3", "python"],
    present_also: None,
    resolve: crate::trust::extra::python,
    // load_verify_locations(cafile): X509_STORE_load_file.
    ca_file: CaFile::OpensslCafile,
    engine: Engine::OpensslApp(&APP),
    profile: Some(crate::detect::Kind::Python),
    own_ca_variable: None,
    client: None,
};

pub(super) static APP: OsslApp = OsslApp {
    host_check: HostCheck::ByOpenssl,
    // Python ≥ 3.13 sets VERIFY_X509_PARTIAL_CHAIN (and VERIFY_X509_STRICT).
    partial_chain: PartialChain::When(Rule::PyPartialChain),
    // CPython sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS.
    no_partial_wildcards: true,
    never_check_subject: false,
    reports_last_error: false,
    strict: Some(Rule::PyX509Strict),
    security_level: None,
    message,
};

/// The `SSLCertVerificationError` text, with the `_ssl.c` line of the modelled release.
pub fn message(e: &OsslErr, name: &str, p: &Profile) -> String {
    format!(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {} (_ssl.c:{})",
        python_text(e, name),
        ssl_line(p)
    )
}

/// The `_ssl.c` line of the modelled release.
pub fn ssl_line(p: &Profile) -> u32 {
    p.param(Rule::PySslLine)
        .unwrap_or_else(|| Profile::assumed(crate::detect::Kind::Python).param(Rule::PySslLine).unwrap_or(0))
}

fn python_text(e: &OsslErr, name: &str) -> String {
    match e.code {
        62 => format!("Hostname mismatch, certificate is not valid for '{name}'."),
        64 => format!("IP address mismatch, certificate is not valid for '{name}'."),
        _ => e.text().to_string(),
    }
}
