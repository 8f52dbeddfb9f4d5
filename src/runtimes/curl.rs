//! The curl tool (OpenSSL build): `CURL_CA_BUNDLE`, else `SSL_CERT_DIR` / `SSL_CERT_FILE`,
//! else the build-time CA file and path; `X509_V_FLAG_PARTIAL_CHAIN`; its own host check.

use super::{CaFile, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Runtime, Tier, Unit};
use crate::diagnose::openssl::OsslErr;
use crate::x509::CertInfo;

pub static UNIT: Unit = Unit {
    runtime: Runtime::Curl,
    id: "curl",
    title: "curl (OpenSSL)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("CURL_CA_BUNDLE"),
        EnvVar::reads("SSL_CERT_DIR"),
        EnvVar::reads("SSL_CERT_FILE"),
    ],
    binaries: &["curl"],
    present_also: None,
    resolve: crate::trust::extra::curl,
    // --cacert: X509_STORE_load_file.
    ca_file: CaFile::OpensslCafile,
    engine: Engine::OpensslApp(&APP),
    profile: Some(crate::detect::Kind::Curl),
    own_ca_variable: Some("CURL_CA_BUNDLE for curl"),
    client: None,
};

static APP: OsslApp = OsslApp {
    host_check: HostCheck::After(curl_verify_host),
    // curl ≥ 7.68 sets X509_V_FLAG_PARTIAL_CHAIN (unless --ssl-no-partialchain).
    partial_chain: PartialChain::Always,
    no_partial_wildcards: false,
    never_check_subject: false,
    reports_last_error: false,
    strict: None,
    security_level: None,
    message,
};

/// What the curl tool prints for the error OpenSSL reports.
fn message(e: &OsslErr, _name: &str, _p: &crate::profiles::Profile) -> String {
    if e.code == 7 {
        // A signature that does not verify leaves ASN1_item_verify's error on top of
        // OpenSSL's queue, which curl reports as a handshake failure (35), not (60).
        return "curl: (35) OpenSSL/3.0.x: error:06880006:asn1 encoding routines::EVP lib".to_string();
    }
    format!("curl: (60) SSL certificate problem: {}", e.text())
}

/// curl's `Curl_cert_hostcheck` (lib/vtls/hostcheck.c): a wildcard only as the whole
/// first label of a pattern with at least two dots, never for an IP address.
pub fn curl_host_match(pattern: &str, host: &str) -> bool {
    let p = pattern.strip_suffix('.').unwrap_or(pattern);
    let h = host.strip_suffix('.').unwrap_or(host);
    if p.eq_ignore_ascii_case(h) {
        return true;
    }
    let Some(rest) = p.strip_prefix("*.") else {
        return false;
    };
    if h.parse::<std::net::IpAddr>().is_ok() || !rest.contains('.') {
        return false;
    }
    match h.split_once('.') {
        Some((first, hrest)) => !first.is_empty() && hrest.eq_ignore_ascii_case(rest),
        None => false,
    }
}

/// `Curl_ossl_verifyhost`: Err(message) on mismatch, in the modelled version's words.
pub fn curl_verify_host(c: &CertInfo, host: &str, p: &crate::profiles::Profile) -> Result<(), String> {
    let hostname = if p.has(crate::profiles::Rule::CurlHostnameOneWord) {
        "hostname"
    } else {
        "host name"
    };
    let ip = host.parse::<std::net::IpAddr>().ok();
    let has_alt = !c.dns_names.is_empty() || !c.ip_addresses.is_empty();
    let matched = match ip {
        Some(ip) => c
            .ip_addresses
            .iter()
            .any(|i| i.parse::<std::net::IpAddr>().ok() == Some(ip)),
        None => c.dns_names.iter().any(|d| curl_host_match(d, host)),
    };
    if matched {
        return Ok(());
    }
    if has_alt {
        return Err(format!(
            "curl: (60) SSL: no alternative certificate subject name matches target {hostname} '{host}'"
        ));
    }
    match c.subject_cn.last() {
        None => Err("curl: (60) SSL: unable to obtain common name from peer certificate".into()),
        Some(cn) if ip.is_none() && curl_host_match(cn, host) => Ok(()),
        Some(cn) if ip.is_some() && cn == host => Ok(()),
        Some(cn) => Err(format!(
            "curl: (60) SSL: certificate subject name '{cn}' does not match target {hostname} '{host}'"
        )),
    }
}

