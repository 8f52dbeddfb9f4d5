//! Runtimes built on the OpenSSL and Go-like emulations: Node.js, Python `ssl`, Python
//! requests, the curl tool (all OpenSSL's `X509_verify_cert`, each with its own order of
//! checks, its own host-name rules and its own words) and Java (PKIX path building, which
//! like Go ends a path at any certificate in the trust store).

use super::{openssl, Cause, Env, Verdict};
use crate::trust::Runtime;
use crate::x509::CertInfo;

/// CPython's `_ssl.c` line in the message, as Debian 12's Python 3.11 prints it (the
/// number changes with the Python version).
pub const PY_SSL_LINE: u32 = 992;

/// Evaluate one of the extra runtimes.
pub(super) fn eval(env: &Env, si: usize) -> Verdict {
    match env.stores[si].runtime {
        Runtime::Java => eval_java(env, si),
        rt => eval_ossl_family(env, si, rt),
    }
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

/// `Curl_ossl_verifyhost`: Err(message) on mismatch.
pub fn curl_verify_host(c: &CertInfo, host: &str) -> Result<(), String> {
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
            "curl: (60) SSL: no alternative certificate subject name matches target host name '{host}'"
        ));
    }
    match c.subject_cn.last() {
        None => Err("curl: (60) SSL: unable to obtain common name from peer certificate".into()),
        Some(cn) if ip.is_none() && curl_host_match(cn, host) => Ok(()),
        Some(cn) if ip.is_some() && cn == host => Ok(()),
        Some(cn) => Err(format!(
            "curl: (60) SSL: certificate subject name '{cn}' does not match target host name '{host}'"
        )),
    }
}

fn python_text(e: &openssl::OsslErr, name: &str) -> String {
    match e.code {
        62 => format!("Hostname mismatch, certificate is not valid for '{name}'."),
        64 => format!("IP address mismatch, certificate is not valid for '{name}'."),
        _ => e.text().to_string(),
    }
}

fn python_message(e: &openssl::OsslErr, name: &str) -> String {
    format!(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {} (_ssl.c:{PY_SSL_LINE})",
        python_text(e, name)
    )
}

fn eval_ossl_family(env: &Env, si: usize, rt: Runtime) -> Verdict {
    let name = env.input.name.as_deref().filter(|n| !n.is_empty());
    let leaf = env.pres[0];
    let python = matches!(rt, Runtime::Python | Runtime::PythonRequests);
    // Python hands the name to OpenSSL (X509_VERIFY_PARAM_set1_host); Node and curl check
    // it themselves after the chain verified.
    let out = env.openssl_verify(si, if python { name } else { None });
    let mut errors = out.errors.clone();
    let mut out = out;
    // curl ≥ 7.68 sets X509_V_FLAG_PARTIAL_CHAIN (unless --ssl-no-partialchain): any
    // certificate in its store ends the chain, as in Go. Where OpenSSL stopped only for
    // want of a self-signed root, path building that accepts any anchor decides.
    // Python ≥ 3.13 sets it too (VERIFY_X509_PARTIAL_CHAIN), said in the store.
    let partial = rt == Runtime::Curl
        || (rt == Runtime::Python
            && env.stores[si]
                .assumptions
                .iter()
                .any(|a| a.contains(crate::trust::extra::PARTIAL_CHAIN_MARK)));
    if partial
        && errors
            .first()
            .is_some_and(|e| matches!(e.code, 2 | 18 | 19 | 20 | 21))
    {
        let g = super::go::verify(
            &env.arena,
            &env.pres,
            &env.store_idx[si],
            None,
            (env.input.at, env.nanos),
        );
        let chain_codes = |c: i32| matches!(c, 2 | 18 | 19 | 20 | 21);
        match (&g.error, &g.chain) {
            (None, Some(chain)) => {
                errors.clear();
                out.chain = chain.clone();
            }
            (Some(e), _) if matches!(e.cause, Cause::Expired | Cause::NotYetValid) && g.chain.is_some() => {
                errors.retain(|x| !chain_codes(x.code));
                if errors.is_empty() {
                    errors.push(openssl::OsslErr {
                        code: if e.cause == Cause::Expired { 10 } else { 9 },
                        depth: 0,
                        cert: e.cert,
                    });
                }
            }
            _ => {}
        }
    }
    // CPython sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: `w*.example.com` matches nothing.
    let partial_only = python
        && name.is_some_and(|n| {
            let c = env.cert(leaf);
            let pats: Vec<&String> = if c.dns_names.is_empty() {
                c.subject_cn.iter().collect()
            } else {
                c.dns_names.iter().collect()
            };
            let whole = |p: &str| !p.contains('*') || p.starts_with("*.");
            n.parse::<std::net::IpAddr>().is_err()
                && pats
                    .iter()
                    .any(|p| super::name::openssl_equal_wildcard(p.as_bytes(), n.as_bytes()))
                && !pats
                    .iter()
                    .any(|p| whole(p) && super::name::openssl_equal_wildcard(p.as_bytes(), n.as_bytes()))
        });
    // urllib3 2 sets hostname_checks_common_name = False (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT).
    if (rt == Runtime::PythonRequests && out.cn_fallback)
        || (partial_only && !errors.iter().any(|e| e.code == 62))
    {
        let pos = errors
            .iter()
            .position(|e| matches!(e.code, 7 | 9 | 10 | 47 | 48 | 51 | 53))
            .unwrap_or(errors.len());
        errors.insert(
            pos,
            openssl::OsslErr {
                code: 62,
                depth: 0,
                cert: Some(leaf),
            },
        );
    }
    let mut v = Verdict {
        runtime: rt,
        trusted: errors.is_empty(),
        name_ok: !errors.iter().any(|e| e.code == 62 || e.code == 64),
        causes: vec![],
        message: String::new(),
        anchor: errors.is_empty().then(|| out.chain.last().copied()).flatten(),
        failing: None,
        rejected: errors.iter().find(|e| e.code == 28).and_then(|e| e.cert),
    };
    for e in &errors {
        let mut o = out.clone();
        o.errors = errors.clone();
        if let Some((c, d)) = super::ossl_cause(env, &o, e) {
            let c = if e.code == 62 && rt == Runtime::PythonRequests && out.cn_fallback && !partial_only {
                Cause::LegacyCommonName
            } else {
                c
            };
            v.add(c, d);
        }
    }
    // The error the runtime reports: the first (Python, curl: no verify callback) or the
    // last one set (Node: its callback accepts everything and reads the result after).
    let reported = if rt == Runtime::Node {
        errors.last()
    } else {
        errors.first()
    };
    v.failing = reported.and_then(|e| e.cert);
    let n = name.unwrap_or("");
    v.message = match (rt, reported) {
        (_, None) => String::new(),
        (Runtime::Node, Some(e)) => format!("{}: {}", node_code(e.code), e.text()),
        (Runtime::Python, Some(e)) => python_message(e, n),
        (Runtime::PythonRequests, Some(e)) => format!(
            "requests.exceptions.SSLError: HTTPSConnectionPool(host='{n}', …): Max retries exceeded with url: … \
             (Caused by SSLError(SSLCertVerificationError(1, '{}')))",
            python_message(e, n)
        ),
        // A signature that does not verify leaves ASN1_item_verify's error on top of
        // OpenSSL's queue, which curl reports as a handshake failure (35), not (60).
        (_, Some(e)) if e.code == 7 => {
            "curl: (35) OpenSSL/3.0.x: error:06880006:asn1 encoding routines::EVP lib".to_string()
        }
        (_, Some(e)) => format!("curl: (60) SSL certificate problem: {}", e.text()),
    };
    // Node and curl: the host name, once the chain is accepted.
    if let (Some(n), Runtime::Node | Runtime::Curl) = (name, rt) {
        let c = env.cert(leaf);
        let r = if rt == Runtime::Node {
            node_check_identity(c, n).map_err(|reason| {
                format!("ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: {reason}")
            })
        } else {
            curl_verify_host(c, n)
        };
        if let Err(msg) = r {
            v.name_ok = false;
            v.add(Cause::NameMismatch, env.name_detail(Runtime::Openssl));
            if v.trusted {
                v.trusted = false;
                v.message = msg;
                v.failing = Some(leaf);
                v.anchor = None;
                // The name is the reason reported: put it first.
                if let Some(p) = v.causes.iter().position(|(c, _)| *c == Cause::NameMismatch) {
                    let x = v.causes.remove(p);
                    v.causes.insert(0, x);
                }
            }
        }
    }
    store_error(env, si, &mut v);
    v
}

/// A store the runtime cannot even load (curl (77), requests' OSError, Java's empty
/// trustAnchors, node refusing its options): that is what the program prints.
pub(super) fn store_error(env: &Env, si: usize, v: &mut Verdict) {
    let store = &env.stores[si];
    if let Some(e) = &store.error {
        if store.anchors.is_empty() {
            v.trusted = false;
            v.message = e.clone();
            v.anchor = None;
            // The program stops before any verification: nothing about the chain applies.
            v.causes.clear();
            v.failing = None;
            v.causes.insert(
                0,
                (
                    Cause::UnknownAuthority,
                    format!("the {} store cannot be used: {e}", store.runtime.code()),
                ),
            );
        }
    }
}

/// `java.util.Date#toString` in UTC: `Sat Jan 01 00:00:00 UTC 2022`.
fn java_date(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => {
            let f = time::macros::format_description!(
                "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
            );
            d.format(&f).unwrap_or_else(|_| t.to_string())
        }
        Err(_) => t.to_string(),
    }
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
    let m = |p: &str| super::name::openssl_equal_wildcard(p.as_bytes(), host.as_bytes());
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

fn eval_java(env: &Env, si: usize) -> Verdict {
    let roots = &env.store_idx[si];
    let leaf = env.pres[0];
    let out = super::go::verify(&env.arena, &env.pres, roots, None, (env.input.at, env.nanos));
    let mut v = Verdict {
        runtime: Runtime::Java,
        trusted: out.error.is_none(),
        name_ok: true,
        causes: vec![],
        message: String::new(),
        anchor: out.chain.as_ref().and_then(|c| c.last().copied()),
        failing: out.error.as_ref().and_then(|e| e.hint_cert.or(e.cert)),
        rejected: None,
    };
    for e in &out.all {
        let (c, d) = super::go_cause(env, Runtime::Java, e);
        v.add(c, d);
    }
    const PREFIX: &str = "javax.net.ssl.SSLHandshakeException: ";
    if let Some(err) = &out.error {
        // PKIXValidator: a presented chain that already reaches an anchor is *validated*
        // (errors name the failed check); otherwise a path is *built*, and every failure
        // reads "unable to find valid certification path".
        let top = env.presented_top();
        let anchored = roots.iter().any(|&r| {
            env.cert(r).der == env.cert(top).der || env.cert(r).subject_der == env.cert(top).issuer_der
        });
        let time = out
            .all
            .iter()
            .find(|e| matches!(e.cause, Cause::Expired | Cause::NotYetValid));
        let bad_sig =
            err.cause == Cause::BadSignature || v.causes.iter().any(|(c, _)| *c == Cause::BadSignature);
        let not_ca = err.cause == Cause::NotACa || v.causes.iter().any(|(c, _)| *c == Cause::NotACa);
        let cause = if bad_sig {
            Cause::BadSignature
        } else if not_ca {
            Cause::NotACa
        } else {
            err.cause
        };
        v.message = match (anchored, time, cause) {
            (true, Some(t), _) => {
                let c = env.cert(t.cert.unwrap_or(leaf));
                let inner = if t.cause == Cause::Expired {
                    format!("java.security.cert.CertificateExpiredException: NotAfter: {}", java_date(c.not_after))
                } else {
                    format!("java.security.cert.CertificateNotYetValidException: NotBefore: {}", java_date(c.not_before))
                };
                format!(
                    "{PREFIX}PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed (caused by {inner})"
                )
            }
            (true, None, Cause::BadSignature) => format!(
                "{PREFIX}PKIX path validation failed: java.security.cert.CertPathValidatorException: signature check failed"
            ),
            (true, None, Cause::NotACa) => format!(
                "{PREFIX}PKIX path validation failed: java.security.cert.CertPathValidatorException: basic constraints check failed: this is not a CA certificate"
            ),
            _ => format!(
                "{PREFIX}PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"
            ),
        };
        if !anchored {
            if let Some(p) = v.causes.iter().position(|(c, _)| {
                matches!(
                    c,
                    Cause::UnknownAuthority | Cause::MissingIntermediate | Cause::SelfSigned
                )
            }) {
                let x = v.causes.remove(p);
                v.causes.insert(0, x);
            } else {
                let (c, d) = env.classify_unknown(top);
                v.causes.insert(0, (c, d));
            }
        }
    }
    // X509TrustManagerImpl: the endpoint identity after the path validated.
    if let Some(n) = env.input.name.as_deref().filter(|n| !n.is_empty()) {
        if let Err(m) = java_check_host(env.cert(leaf), n) {
            v.name_ok = false;
            v.add(Cause::NameMismatch, env.name_detail(Runtime::Openssl));
            if v.trusted {
                v.trusted = false;
                v.anchor = None;
                v.failing = Some(leaf);
                v.message = format!("{PREFIX}{m}");
                if let Some(p) = v.causes.iter().position(|(c, _)| *c == Cause::NameMismatch) {
                    let x = v.causes.remove(p);
                    v.causes.insert(0, x);
                }
            }
        } else {
            v.causes
                .retain(|(c, _)| !matches!(c, Cause::NameMismatch | Cause::LegacyCommonName));
        }
    }
    store_error(env, si, &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_wildcards() {
        assert!(node_host_match("b.a.com", "*.a.com"));
        assert!(node_host_match("B.A.COM.", "*.a.com"));
        assert!(!node_host_match("c.b.a.com", "*.a.com"));
        assert!(!node_host_match("a.com", "*.com"));
        assert!(node_host_match("www.a.com", "w*.a.com"));
        assert!(!node_host_match("xn--a.a.com", "xn--*.a.com"));
        assert!(!node_host_match("a.com", ""));
        assert!(!node_host_match("a..com", "a..com"));
    }

    #[test]
    fn curl_wildcards() {
        assert!(curl_host_match("*.example.com", "a.example.com"));
        assert!(!curl_host_match("*.example.com", "example.com"));
        assert!(!curl_host_match("*.example.com", "a.b.example.com"));
        assert!(!curl_host_match("*.com", "example.com"));
        assert!(!curl_host_match("w*.example.com", "www.example.com"));
        assert!(!curl_host_match("*.0.0.1", "127.0.0.1"));
        assert!(curl_host_match("Example.COM", "example.com"));
    }

    #[test]
    fn node_codes() {
        assert_eq!(node_code(20), "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
        assert_eq!(node_code(21), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
        assert_eq!(node_code(18), "DEPTH_ZERO_SELF_SIGNED_CERT");
        assert_eq!(node_code(94), "UNSPECIFIED");
    }

    #[test]
    fn java_dates() {
        assert_eq!(java_date(978_307_200), "Mon Jan 01 00:00:00 UTC 2001");
    }
}
