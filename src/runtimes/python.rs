//! Python `ssl.create_default_context()`: OpenSSL's default paths (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`), the host name checked by OpenSSL, CPython's words.

use super::{CaFile, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Runtime, Tier, Unit};
use crate::diagnose::openssl::OsslErr;

/// CPython's `_ssl.c` line in the message, as Debian 12's Python 3.11 prints it (the
/// number changes with the Python version).
pub const PY_SSL_LINE: u32 = 992;

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
    own_ca_variable: None,
    client: None,
};

pub(super) static APP: OsslApp = OsslApp {
    host_check: HostCheck::ByOpenssl,
    // Python ≥ 3.13 sets VERIFY_X509_PARTIAL_CHAIN; the store says which Python it is.
    partial_chain: PartialChain::WhenStoreSays,
    // CPython sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS.
    no_partial_wildcards: true,
    never_check_subject: false,
    reports_last_error: false,
    message,
};

/// The `SSLCertVerificationError` text.
pub fn message(e: &OsslErr, name: &str) -> String {
    format!(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {} (_ssl.c:{PY_SSL_LINE})",
        python_text(e, name)
    )
}

fn python_text(e: &OsslErr, name: &str) -> String {
    match e.code {
        62 => format!("Hostname mismatch, certificate is not valid for '{name}'."),
        64 => format!("IP address mismatch, certificate is not valid for '{name}'."),
        _ => e.text().to_string(),
    }
}
