//! Runtimes built on the OpenSSL and Go-like emulations: Node.js, Python `ssl`, Python
//! requests, the curl tool (all OpenSSL's `X509_verify_cert`, each with its own order of
//! checks, its own host-name rules and its own words) and Java (PKIX path building, which
//! like Go ends a path at any certificate in the trust store).

use super::{openssl, Cause, Env, Verdict};
pub use crate::runtimes::curl::{curl_host_match, curl_verify_host};
pub use crate::runtimes::java::java_check_host;
pub use crate::runtimes::node::{node_check_identity, node_code, node_host_match};
use crate::runtimes::{HostCheck, OsslApp, PartialChain};
use crate::trust::Runtime;

/// An application on OpenSSL's `X509_verify_cert` (node, Python, requests, curl, …): the
/// chain as OpenSSL verifies it with the application's flags, then its own checks, in
/// its own words ([`OsslApp`], from the runtime's unit).
pub(super) fn eval_ossl_app(env: &Env, si: usize, app: &OsslApp) -> Verdict {
    let rt = env.stores[si].runtime;
    let profile = env
        .profile(si)
        .unwrap_or_else(|| crate::profiles::Profile::assumed(crate::detect::Kind::Openssl));
    let name = env.input.name.as_deref().filter(|n| !n.is_empty());
    let leaf = env.pres[0];
    // Python hands the name to OpenSSL (X509_VERIFY_PARAM_set1_host); Node and curl check
    // it themselves after the chain verified.
    let by_openssl = matches!(app.host_check, HostCheck::ByOpenssl);
    let level = app.security_level.and_then(|r| profile.param(r)).unwrap_or(2);
    let strict = app.strict.is_some_and(|r| profile.has(r));
    let out = env.openssl_verify_with(si, if by_openssl { name } else { None }, level, strict);
    let mut errors = out.errors.clone();
    let mut out = out;
    // curl ≥ 7.68 sets X509_V_FLAG_PARTIAL_CHAIN (unless --ssl-no-partialchain): any
    // certificate in its store ends the chain, as in Go. Where OpenSSL stopped only for
    // want of a self-signed root, path building that accepts any anchor decides.
    // Python ≥ 3.13 sets it too (VERIFY_X509_PARTIAL_CHAIN): the profile says.
    let partial = match app.partial_chain {
        PartialChain::Always => true,
        PartialChain::Never => false,
        PartialChain::When(r) => profile.has(r),
    };
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
    let partial_only = by_openssl
        && app.no_partial_wildcards
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
    if (app.never_check_subject && out.cn_fallback) || (partial_only && !errors.iter().any(|e| e.code == 62))
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
            let c = if e.code == 62 && app.never_check_subject && out.cn_fallback && !partial_only {
                Cause::LegacyCommonName
            } else {
                c
            };
            v.add(c, d);
        }
    }
    // The error the runtime reports: the first (Python, curl: no verify callback) or the
    // last one set (Node: its callback accepts everything and reads the result after).
    let reported = if app.reports_last_error {
        errors.last()
    } else {
        errors.first()
    };
    v.failing = reported.and_then(|e| e.cert);
    let n = name.unwrap_or("");
    v.message = reported
        .map(|e| (app.message)(e, n, &profile))
        .unwrap_or_default();
    // Node and curl: the host name, once the chain is accepted.
    if let (Some(n), HostCheck::After(check)) = (name, app.host_check) {
        let r = check(env.cert(leaf), n, &profile);
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

pub(super) fn eval_java(env: &Env, si: usize) -> Verdict {
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
    use crate::runtimes::java::PREFIX;
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
