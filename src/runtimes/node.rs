//! Node.js `tls`: its compiled-in Mozilla list (or, in Debian's build, OpenSSL's paths),
//! plus `NODE_EXTRA_CA_CERTS`; OpenSSL's `X509_verify_cert`, then `tls.checkServerIdentity`.

use super::{CaFile, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Runtime, Tier, Unit};
use crate::diagnose::openssl::OsslErr;
use crate::x509::CertInfo;

pub static UNIT: Unit = Unit {
    runtime: Runtime::Node,
    id: "node",
    title: "Node.js (tls)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("NODE_EXTRA_CA_CERTS"),
        EnvVar::marks("NODE_OPTIONS"),
        EnvVar::marks("NODE_USE_SYSTEM_CA"),
    ],
    binaries: &["node", "nodejs"],
    present_also: None,
    resolve: crate::trust::extra::node,
    // `tls.connect({ca})`: PEM CERTIFICATE blocks.
    ca_file: CaFile::PemCertificates,
    engine: Engine::OpensslApp(&APP),
    profile: Some(crate::detect::Kind::Node),
    own_ca_variable: Some("NODE_EXTRA_CA_CERTS for Node.js"),
    client: None,
};

static APP: OsslApp = OsslApp {
    host_check: HostCheck::After(host_check),
    partial_chain: PartialChain::Never,
    no_partial_wildcards: false,
    never_check_subject: false,
    // Node's verify callback accepts everything and reads the result afterwards.
    reports_last_error: true,
    strict: None,
    security_level: Some(crate::profiles::Rule::NodeSecurityLevel),
    message,
};

/// `err.message` (the code, `err.code`, is a separate property: [`node_code`]).
fn message(e: &OsslErr, _name: &str, _p: &crate::profiles::Profile) -> String {
    e.text().to_string()
}

fn host_check(c: &CertInfo, host: &str, _p: &crate::profiles::Profile) -> Result<(), String> {
    node_check_identity(c, host)
        .map_err(|reason| format!("Hostname/IP does not match certificate's altnames: {reason}"))
}

/// The `X509_V_ERR_*` name Node.js uses as `err.code` (src/crypto/crypto_common.cc).
pub fn node_code(code: i32) -> &'static str {
    match code {
        2 => "UNABLE_TO_GET_ISSUER_CERT",
        3 => "UNABLE_TO_GET_CRL",
        4 => "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
        5 => "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
        6 => "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
        7 => "CERT_SIGNATURE_FAILURE",
        8 => "CRL_SIGNATURE_FAILURE",
        9 => "CERT_NOT_YET_VALID",
        10 => "CERT_HAS_EXPIRED",
        11 => "CRL_NOT_YET_VALID",
        12 => "CRL_HAS_EXPIRED",
        13 => "ERROR_IN_CERT_NOT_BEFORE_FIELD",
        14 => "ERROR_IN_CERT_NOT_AFTER_FIELD",
        15 => "ERROR_IN_CRL_LAST_UPDATE_FIELD",
        16 => "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
        17 => "OUT_OF_MEM",
        18 => "DEPTH_ZERO_SELF_SIGNED_CERT",
        19 => "SELF_SIGNED_CERT_IN_CHAIN",
        20 => "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        21 => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        22 => "CERT_CHAIN_TOO_LONG",
        23 => "CERT_REVOKED",
        24 => "INVALID_CA",
        25 => "PATH_LENGTH_EXCEEDED",
        26 => "INVALID_PURPOSE",
        27 => "CERT_UNTRUSTED",
        28 => "CERT_REJECTED",
        62 => "HOSTNAME_MISMATCH",
        _ => "UNSPECIFIED",
    }
}

/// Node's `splitHost` + `check` (lib/tls.js): lowercase, equal label counts, a wildcard
/// only in the first label of a pattern with at least 3 labels, never in an A-label.
pub fn node_host_match(host: &str, pattern: &str) -> bool {
    let unfqdn = |s: &str| s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    let h = unfqdn(host);
    let p = unfqdn(pattern);
    if p.is_empty() {
        return false;
    }
    let hp: Vec<&str> = h.split('.').collect();
    let pp: Vec<&str> = p.split('.').collect();
    if hp.len() != pp.len() || pp.contains(&"") {
        return false;
    }
    if pp
        .iter()
        .any(|s| s.chars().any(|c| !('\u{21}'..='\u{7f}').contains(&c)))
    {
        return false;
    }
    for i in (1..hp.len()).rev() {
        if hp[i] != pp[i] {
            return false;
        }
    }
    let (hs, ps) = (hp[0], pp[0]);
    let parts: Vec<&str> = ps.split('*').collect();
    if parts.len() == 1 || ps.contains("xn--") {
        return hs == ps;
    }
    if parts.len() > 2 || pp.len() <= 2 {
        return false;
    }
    let (pre, suf) = (parts[0], parts[1]);
    pre.len() + suf.len() <= hs.len() && hs.starts_with(pre) && hs.ends_with(suf)
}

fn alt_names(c: &CertInfo) -> String {
    let mut v: Vec<String> = c.dns_names.iter().map(|d| format!("DNS:{d}")).collect();
    v.extend(c.ip_addresses.iter().map(|i| format!("IP Address:{i}")));
    v.join(", ")
}

/// `tls.checkServerIdentity`: Err(reason) when the name does not match.
pub fn node_check_identity(c: &CertInfo, host: &str) -> Result<(), String> {
    let hostname = host.strip_suffix('.').unwrap_or(host);
    if let Ok(ip) = hostname.parse::<std::net::IpAddr>() {
        let ok = c
            .ip_addresses
            .iter()
            .any(|i| i.parse::<std::net::IpAddr>().ok() == Some(ip));
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "IP: {hostname} is not in the cert's list: {}",
                c.ip_addresses.join(", ")
            ))
        };
    }
    if !c.dns_names.is_empty() {
        if c.dns_names.iter().any(|d| node_host_match(hostname, d)) {
            return Ok(());
        }
        return Err(format!(
            "Host: {hostname}. is not in the cert's altnames: {}",
            alt_names(c)
        ));
    }
    if c.subject_cn.is_empty() {
        return Err("Cert does not contain a DNS name".into());
    }
    if c.subject_cn.iter().any(|cn| node_host_match(hostname, cn)) {
        return Ok(());
    }
    Err(format!(
        "Host: {hostname}. is not cert's CN: {}",
        c.subject_cn.join(",")
    ))
}

