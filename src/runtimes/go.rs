//! Go (`crypto/tls` + `crypto/x509`): the system pool (`SSL_CERT_FILE`, `SSL_CERT_DIR`,
//! the distribution's bundle files and directories), verified by Go's x509 engine.

use super::{CaFile, Engine, EnvVar, Runtime, Tier, Unit};

pub static UNIT: Unit = Unit {
    runtime: Runtime::Go,
    id: "go",
    title: "Go (crypto/x509)",
    tier: Tier::Core,
    env: &[
        EnvVar::reads("SSL_CERT_FILE"),
        EnvVar::reads("SSL_CERT_DIR"),
        // Go's proxy rules (net/http ProxyFromEnvironment), used for https targets.
        EnvVar::proxy("HTTPS_PROXY"),
        EnvVar::proxy("https_proxy"),
        EnvVar::proxy("HTTP_PROXY"),
        EnvVar::proxy("http_proxy"),
        EnvVar::proxy("ALL_PROXY"),
        EnvVar::proxy("all_proxy"),
        EnvVar::proxy("NO_PROXY"),
        EnvVar::proxy("no_proxy"),
    ],
    binaries: &[],
    present_also: None,
    resolve: crate::trust::go::resolve,
    // tls.Config.RootCAs filled with AppendCertsFromPEM.
    ca_file: CaFile::PemCertificates,
    engine: Engine::GoX509,
    profile: Some(crate::detect::Kind::Go),
    own_ca_variable: None,
    client: None,
};
