//! rustls-native-certs 0.8 (the openssl-probe paths, `SSL_CERT_FILE` / `SSL_CERT_DIR`),
//! verified by rustls-webpki.

use super::{CaFile, Engine, EnvVar, Runtime, Tier, Unit};

pub static UNIT: Unit = Unit {
    runtime: Runtime::RustlsNative,
    id: "rustls-native",
    title: "rustls-native-certs",
    tier: Tier::Core,
    env: &[EnvVar::reads("SSL_CERT_FILE"), EnvVar::reads("SSL_CERT_DIR")],
    binaries: &[],
    present_also: None,
    resolve: crate::trust::rustls::resolve,
    // rustls-pemfile into a RootCertStore.
    ca_file: CaFile::PemCertificates,
    engine: Engine::Webpki,
    profile: None,
    own_ca_variable: None,
    client: None,
};
