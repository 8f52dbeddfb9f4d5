//! Java (JSSE, PKIX): `javax.net.ssl.trustStore`, `jssecacerts`, `cacerts`; PKIX path
//! building, then `HostnameChecker`.

use super::{CaFile, Engine, EnvVar, Runtime, Tier, Unit};
use crate::world::World;
use crate::x509::CertInfo;

pub static UNIT: Unit = Unit {
    runtime: Runtime::Java,
    id: "java",
    title: "Java (JSSE PKIX)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("JAVA_HOME"),
        EnvVar::marks("JAVA_TOOL_OPTIONS"),
        EnvVar::marks("JDK_JAVA_OPTIONS"),
    ],
    binaries: &["java", "keytool"],
    present_also: Some(home),
    resolve: crate::trust::java::resolve,
    // keytool -importcert of PEM CERTIFICATE blocks.
    ca_file: CaFile::PemCertificates,
    engine: Engine::Pkix,
    profile: None,
    own_ca_variable: Some("-Djavax.net.ssl.trustStore (a keytool-made store) in JAVA_TOOL_OPTIONS for Java"),
    client: None,
};

/// What a Java TLS failure starts with.
pub const PREFIX: &str = "javax.net.ssl.SSLHandshakeException: ";

/// A JDK in one of the usual places.
fn home(world: &World) -> Option<String> {
    crate::trust::java::java_homes(world)
        .into_iter()
        .next()
        .map(|h| format!("{} is present", crate::trust::loader::disp(&h)))
}

/// `HostnameChecker.matchDNS` / `matchIP` (sun.security.util): Err(message).
pub fn java_check_host(c: &CertInfo, host: &str) -> Result<(), String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        if c.ip_addresses.is_empty() && c.dns_names.is_empty() {
            return Err("No subject alternative names present".into());
        }
        if c.ip_addresses
            .iter()
            .any(|i| i.parse::<std::net::IpAddr>().ok() == Some(ip))
        {
            return Ok(());
        }
        return Err(format!(
            "No subject alternative names matching IP address {host} found"
        ));
    }
    let m = |p: &str| crate::diagnose::name::openssl_equal_wildcard(p.as_bytes(), host.as_bytes());
    if !c.dns_names.is_empty() {
        if c.dns_names.iter().any(|d| m(d)) {
            return Ok(());
        }
        return Err(format!("No subject alternative DNS name matching {host} found."));
    }
    if c.subject_cn.last().is_some_and(|cn| m(cn)) {
        return Ok(());
    }
    Err(format!("No name matching {host} found"))
}

