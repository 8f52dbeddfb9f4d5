//! OpenSSL 3 (`libssl` with `SSL_CTX_set_default_verify_paths`): OPENSSLDIR's `cert.pem`
//! and `certs/`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`; `X509_verify_cert` at security level 2.

use super::{CaFile, Engine, EnvVar, Runtime, Tier, Unit};

pub static UNIT: Unit = Unit {
    runtime: Runtime::Openssl,
    id: "openssl",
    title: "OpenSSL 3",
    tier: Tier::Core,
    env: &[EnvVar::reads("SSL_CERT_FILE"), EnvVar::reads("SSL_CERT_DIR")],
    binaries: &[],
    present_also: None,
    resolve: crate::trust::openssl::resolve,
    ca_file: CaFile::OpensslCafile,
    engine: Engine::Openssl,
    profile: Some(crate::detect::Kind::Openssl),
    own_ca_variable: None,
    client: None,
};
