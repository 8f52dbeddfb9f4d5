//! Expectations: what a `check` target must satisfy, evaluated on the `connect` document.

use serde::{Deserialize, Serialize};

use crate::report::json::{CertDoc, Document};
use crate::report::sanitize::sanitize;
use crate::trust::Runtime;

/// Which runtimes must trust the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedBy {
    /// Every runtime that was evaluated (the default; `connect`'s own exit-code rule).
    AllEvaluated,
    /// These runtimes (each must have been evaluated and trust).
    Runtimes(Vec<Runtime>),
    /// No trust expectation (`trusted_by = []`), e.g. for a date or pin check only.
    Nobody,
}

/// A TLS protocol version, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `1.2`, `TLSv1.2`, `TLS1.2`, `TLSv1_2`, `tls12` …
    pub fn parse(s: &str) -> Option<TlsVersion> {
        let l = s.trim().to_ascii_lowercase().replace(['_', ' '], ".");
        if l == "sslv3" || l == "ssl3" || l == "ssl3.0" {
            return Some(TlsVersion::Ssl3);
        }
        let v = l
            .trim_start_matches("tls")
            .trim_start_matches('v')
            .trim_start_matches('.');
        match v {
            "1" | "1.0" | "10" => Some(TlsVersion::Tls10),
            "1.1" | "11" => Some(TlsVersion::Tls11),
            "1.2" | "12" => Some(TlsVersion::Tls12),
            "1.3" | "13" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

/// Everything one target is expected to satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    pub trusted_by: TrustedBy,
    pub min_days: Option<i64>,
    /// Case-insensitive substring of the leaf's issuer DN.
    pub issuer: Option<String>,
    /// Normalized (lowercase hex) SHA-256 pins; empty = no pin.
    pub pin_sha256: Vec<String>,
    pub tls_min: Option<TlsVersion>,
    pub client_cert_requested: Option<bool>,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            trusted_by: TrustedBy::AllEvaluated,
            min_days: None,
            issuer: None,
            pin_sha256: Vec::new(),
            tls_min: None,
            client_cert_requested: None,
        }
    }
}

/// The result of one expectation (wire type, part of `tlsdoctor.check/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationResult {
    /// The spec key: `trusted_by`, `min_days`, `issuer`, `pin_sha256`, `tls_min`,
    /// `client_cert_requested`.
    pub expectation: String,
    pub passed: bool,
    /// What was expected, in words.
    pub expected: String,
    /// What was observed, in words (peer strings escaped).
    pub actual: String,
}

/// `sha256:AB:CD…` / `abcd…` -> 64 lowercase hex digits.
pub fn normalize_pin(p: &str) -> Option<String> {
    let p = p.trim();
    let p = p
        .strip_prefix("sha256:")
        .or_else(|| p.strip_prefix("sha256/"))
        .or_else(|| p.strip_prefix("SHA256:"))
        .unwrap_or(p);
    let h: String = p
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(h)
}

/// Why nothing could be observed, for `actual` when the target was not examined.
fn not_examined(doc: &Document) -> String {
    match &doc.error {
        Some(e) => format!("not examined: {}: {}", e.cause, sanitize(&e.message)),
        None => "not examined: no handshake".to_string(),
    }
}

fn short_subject(c: &CertDoc) -> String {
    let s = sanitize(&c.subject);
    if s.is_empty() {
        format!("chain[{}] (empty subject)", c.index)
    } else {
        format!("chain[{}] {s}", c.index)
    }
}

/// `in 3 days`, `in 5 h`, `2 days ago` (durations by the one formatter).
pub fn days_phrase(secs: i64) -> String {
    let d = crate::report::style::span(secs);
    if secs >= 0 {
        format!("in {d}")
    } else {
        format!("{d} ago")
    }
}

fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The earliest notAfter (Unix seconds) among the presented certificates.
pub fn soonest_expiry(doc: &Document) -> Option<i64> {
    doc.chain.iter().filter_map(|c| parse_time(&c.not_after)).min()
}

/// The handshake itself: a server that ended it over the client certificate (none sent,
/// or the one sent was rejected) fails the target like `connect` (exit 1), unless the spec
/// expects a request and sends no certificate (then the refusal is the expected answer).
pub fn handshake_result(
    e: &Expectations,
    doc: &Document,
    client_cert_sent: bool,
) -> Option<ExpectationResult> {
    let err = doc.error.as_ref().filter(|x| x.cause == "client-cert-required")?;
    if !client_cert_sent && e.client_cert_requested == Some(true) {
        return None;
    }
    let hint = if client_cert_sent {
        "fix client_cert/client_key"
    } else {
        "set client_cert/client_key, or client_cert_requested = true if the refusal is expected"
    };
    Some(ExpectationResult {
        expectation: "handshake".to_string(),
        passed: false,
        expected: "the TLS handshake completes".to_string(),
        actual: format!("{}: {} ({hint})", err.cause, sanitize(&err.message)),
    })
}

/// Evaluate every set expectation on `doc`, as of `at` (Unix seconds).
pub fn evaluate(e: &Expectations, doc: &Document, at: i64) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let examined = doc.handshake.is_some() || !doc.chain.is_empty();
    let mut push = |name: &str, passed: bool, expected: String, actual: String| {
        out.push(ExpectationResult {
            expectation: name.to_string(),
            passed,
            expected,
            actual,
        })
    };

    // trusted_by
    match &e.trusted_by {
        TrustedBy::Nobody => {}
        TrustedBy::AllEvaluated => {
            let expected = "trusted by every evaluated runtime".to_string();
            if doc.verdicts.is_empty() {
                let actual = if examined {
                    "no runtime was evaluated".to_string()
                } else {
                    not_examined(doc)
                };
                push("trusted_by", false, expected, actual);
            } else {
                let passed = doc.verdicts.iter().all(|v| v.trusted);
                push("trusted_by", passed, expected, verdict_summary(doc, None));
            }
        }
        TrustedBy::Runtimes(rts) => {
            let codes: Vec<&str> = rts.iter().map(|r| r.code()).collect();
            let expected = format!("trusted by {}", codes.join(", "));
            if !examined && doc.verdicts.is_empty() {
                push("trusted_by", false, expected, not_examined(doc));
            } else {
                let passed = codes
                    .iter()
                    .all(|c| doc.verdicts.iter().any(|v| v.runtime == *c && v.trusted));
                push("trusted_by", passed, expected, verdict_summary(doc, Some(&codes)));
            }
        }
    }

    // min_days
    if let Some(min) = e.min_days {
        let expected = format!("every presented certificate valid ≥ {min} days");
        if doc.chain.is_empty() {
            let actual = if examined {
                "no certificate presented".to_string()
            } else {
                not_examined(doc)
            };
            push("min_days", false, expected, actual);
        } else {
            let mut soonest: Option<(&CertDoc, i64)> = None;
            let mut unparsable = None;
            for c in &doc.chain {
                match parse_time(&c.not_after) {
                    Some(t) => {
                        if soonest.is_none_or(|(_, s)| t < s) {
                            soonest = Some((c, t));
                        }
                    }
                    None => unparsable = Some(c),
                }
            }
            if let Some(c) = unparsable {
                push(
                    "min_days",
                    false,
                    expected,
                    format!("{}: unreadable notAfter {:?}", short_subject(c), c.not_after),
                );
            } else if let Some((c, t)) = soonest {
                let left = t - at;
                let passed = left >= min.saturating_mul(86_400);
                let verb = if left >= 0 { "expires" } else { "expired" };
                push(
                    "min_days",
                    passed,
                    expected,
                    format!(
                        "{} {verb} {} ({})",
                        short_subject(c),
                        days_phrase(left),
                        c.not_after
                    ),
                );
            }
        }
    }

    // issuer
    if let Some(want) = &e.issuer {
        let expected = format!("leaf issuer contains {want:?}");
        match leaf(doc) {
            None => {
                let actual = if examined {
                    "no certificate presented".to_string()
                } else {
                    not_examined(doc)
                };
                push("issuer", false, expected, actual);
            }
            Some(c) => {
                let passed = c.issuer.to_lowercase().contains(&want.to_lowercase());
                push(
                    "issuer",
                    passed,
                    expected,
                    format!("issuer {}", sanitize(&c.issuer)),
                );
            }
        }
    }

    // pin_sha256
    if !e.pin_sha256.is_empty() {
        let expected = if e.pin_sha256.len() == 1 {
            format!("a certificate with SHA-256 {}", e.pin_sha256[0])
        } else {
            format!("a certificate with SHA-256 in {}", e.pin_sha256.join(", "))
        };
        if doc.chain.is_empty() && !examined {
            push("pin_sha256", false, expected, not_examined(doc));
        } else {
            let chain_hit = doc
                .chain
                .iter()
                .find(|c| e.pin_sha256.iter().any(|p| c.sha256.eq_ignore_ascii_case(p)));
            let anchor_hit = doc
                .verdicts
                .iter()
                .filter_map(|v| v.anchor.as_ref().map(|a| (v, a)))
                .find(|(_, a)| e.pin_sha256.iter().any(|p| a.sha256.eq_ignore_ascii_case(p)));
            match (chain_hit, anchor_hit) {
                (Some(c), _) => push(
                    "pin_sha256",
                    true,
                    expected,
                    format!("matched {}", short_subject(c)),
                ),
                (None, Some((v, a))) => push(
                    "pin_sha256",
                    true,
                    expected,
                    format!("matched the {} anchor {}", v.runtime, sanitize(&a.subject)),
                ),
                (None, None) => {
                    let seen: Vec<String> = doc
                        .chain
                        .iter()
                        .map(|c| format!("chain[{}] {}", c.index, c.sha256))
                        .collect();
                    let actual = if seen.is_empty() {
                        "no certificate presented".to_string()
                    } else {
                        format!("no match: {}", seen.join(", "))
                    };
                    push("pin_sha256", false, expected, actual);
                }
            }
        }
    }

    // tls_min
    if let Some(min) = e.tls_min {
        let expected = format!("TLS version ≥ {}", min.as_str());
        let negotiated = doc.handshake.as_ref().and_then(|h| h.version.clone());
        match negotiated {
            None => {
                let actual = if examined {
                    "no TLS version negotiated".to_string()
                } else {
                    not_examined(doc)
                };
                push("tls_min", false, expected, actual);
            }
            Some(v) => match TlsVersion::parse(&v) {
                Some(got) => push(
                    "tls_min",
                    got >= min,
                    expected,
                    format!("negotiated {}", got.as_str()),
                ),
                None => push(
                    "tls_min",
                    false,
                    expected,
                    format!("unrecognised version {:?}", sanitize(&v)),
                ),
            },
        }
    }

    // client_cert_requested
    if let Some(want) = e.client_cert_requested {
        let expected = if want {
            "the server asks for a client certificate"
        } else {
            "the server does not ask for a client certificate"
        }
        .to_string();
        match &doc.handshake {
            None => push("client_cert_requested", false, expected, not_examined(doc)),
            Some(h) => {
                let actual = if h.client_cert_requested {
                    if h.acceptable_client_cas.is_empty() {
                        "a client certificate was requested".to_string()
                    } else {
                        format!(
                            "a client certificate was requested (acceptable CAs: {})",
                            h.acceptable_client_cas
                                .iter()
                                .map(|s| sanitize(s))
                                .collect::<Vec<_>>()
                                .join("; ")
                        )
                    }
                } else {
                    "no client certificate was requested".to_string()
                };
                push(
                    "client_cert_requested",
                    h.client_cert_requested == want,
                    expected,
                    actual,
                );
            }
        }
    }
    out
}

/// The leaf: chain index 0 (the first presented certificate).
fn leaf(doc: &Document) -> Option<&CertDoc> {
    doc.chain.iter().find(|c| c.index == 0).or(doc.chain.first())
}

/// `go: ok; openssl: unknown-authority` (only `only` runtimes when given; missing ones say so).
fn verdict_summary(doc: &Document, only: Option<&[&str]>) -> String {
    let mut parts = Vec::new();
    match only {
        None => {
            for v in &doc.verdicts {
                parts.push(format!("{}: {}", v.runtime, sanitize(&v.cause)));
            }
        }
        Some(codes) => {
            for c in codes {
                match doc.verdicts.iter().find(|v| v.runtime == *c) {
                    Some(v) => parts.push(format!("{}: {}", v.runtime, sanitize(&v.cause))),
                    None => parts.push(format!("{c}: not evaluated")),
                }
            }
        }
    }
    parts.join("; ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::json::{
        AnchorDoc, ErrorDoc, HandshakeDoc, StoreSummaryDoc, TargetDoc, VerdictDoc, CONNECT_SCHEMA,
    };

    /// 2030-01-01T00:00:00Z
    pub const AT: i64 = 1_893_456_000;

    pub fn cert(index: usize, subject: &str, issuer: &str, not_after: &str, sha: &str) -> CertDoc {
        CertDoc {
            index,
            subject: subject.into(),
            issuer: issuer.into(),
            serial: "01".into(),
            not_before: "2020-01-01T00:00:00Z".into(),
            not_after: not_after.into(),
            dns_names: vec![],
            ip_addresses: vec![],
            is_ca: index > 0,
            self_signed: false,
            key: "ECDSA P-256".into(),
            signature: "ecdsa-with-SHA256".into(),
            sha256: sha.into(),
            pem: String::new(),
        }
    }

    pub fn verdict(runtime: &str, cause: &str, anchor_sha: Option<&str>) -> VerdictDoc {
        VerdictDoc {
            runtime: runtime.into(),
            trusted: cause == "ok",
            name_ok: true,
            cause: cause.into(),
            causes: vec![cause.into()],
            message: String::new(),
            anchor: anchor_sha.map(|s| AnchorDoc {
                subject: "CN=Root".into(),
                sha256: s.into(),
                source: "/etc/ssl/certs/ca-certificates.crt".into(),
            }),
            store: StoreSummaryDoc {
                anchors: 1,
                sources: vec![],
                explicit: false,
            },
            details: vec![],
            failing_index: None,
        }
    }

    /// A completed TLS 1.3 handshake with a two-certificate chain, trusted by go, not by openssl.
    pub fn doc() -> Document {
        Document {
            patch: None,
            schema: CONNECT_SCHEMA.into(),
            target: Some(TargetDoc {
                host: "db.test".into(),
                port: 5432,
                name: "db.test".into(),
                server_name: Some("db.test".into()),
                starttls: "postgres".into(),
            }),
            network: None,
            handshake: Some(HandshakeDoc {
                completed: true,
                version: Some("TLSv1.3".into()),
                cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
                alpn: None,
                client_cert_requested: true,
                acceptable_client_cas: vec!["CN=Clients".into()],
            }),
            chain: vec![
                cert(
                    0,
                    "CN=db.test",
                    "CN=Example Int, O=Example",
                    "2030-01-11T00:00:00Z",
                    &"a".repeat(64),
                ),
                cert(
                    1,
                    "CN=Example Int, O=Example",
                    "CN=Root",
                    "2035-01-01T00:00:00Z",
                    &"b".repeat(64),
                ),
            ],
            verdicts: vec![
                verdict("go", "ok", Some(&"c".repeat(64))),
                verdict("openssl", "unknown-authority", None),
            ],
            findings: vec![],
            error: None,
            evaluated_at: Some("2030-01-01T00:00:00Z".into()),
            server: None,
            issuer: None,
        }
    }

    pub fn unreachable() -> Document {
        Document {
            patch: None,
            schema: CONNECT_SCHEMA.into(),
            target: None,
            network: None,
            handshake: None,
            chain: vec![],
            verdicts: vec![],
            findings: vec![],
            error: Some(ErrorDoc {
                cause: "connection-refused".into(),
                message: "connect 127.0.0.1:9: connection refused".into(),
            }),
            evaluated_at: None,
            server: None,
            issuer: None,
        }
    }

    fn one(e: Expectations, d: &Document) -> ExpectationResult {
        let r = evaluate(&e, d, AT);
        assert_eq!(r.len(), 1, "{r:?}");
        r.into_iter().next().unwrap()
    }

    fn nothing() -> Expectations {
        Expectations {
            trusted_by: TrustedBy::Nobody,
            ..Expectations::default()
        }
    }

    #[test]
    fn trusted_by_all_evaluated_needs_every_verdict() {
        let r = one(Expectations::default(), &doc());
        assert!(!r.passed);
        assert_eq!(r.actual, "go: ok; openssl: unknown-authority");
        let mut d = doc();
        d.verdicts.pop();
        assert!(one(Expectations::default(), &d).passed);
        d.verdicts.clear();
        let r = one(Expectations::default(), &d);
        assert!(!r.passed && r.actual == "no runtime was evaluated", "{r:?}");
    }

    #[test]
    fn trusted_by_named_runtimes() {
        let go = Expectations {
            trusted_by: TrustedBy::Runtimes(vec![Runtime::Go]),
            ..nothing()
        };
        assert!(one(go, &doc()).passed);
        let both = Expectations {
            trusted_by: TrustedBy::Runtimes(vec![Runtime::Go, Runtime::RustlsNative]),
            ..nothing()
        };
        let r = one(both, &doc());
        assert!(!r.passed);
        assert_eq!(r.actual, "go: ok; rustls-native: not evaluated");
        assert!(evaluate(&nothing(), &doc(), AT).is_empty());
    }

    #[test]
    fn min_days_uses_the_soonest_certificate() {
        let e = |d| Expectations {
            min_days: Some(d),
            ..nothing()
        };
        // The leaf expires 2030-01-11, 10 days after AT.
        assert!(one(e(10), &doc()).passed);
        let r = one(e(11), &doc());
        assert!(!r.passed);
        assert_eq!(
            r.actual,
            "chain[0] CN=db.test expires in 10 days (2030-01-11T00:00:00Z)"
        );
        let mut d = doc();
        d.chain[1].not_after = "2029-12-30T00:00:00Z".into();
        let r = one(e(0), &d);
        assert!(!r.passed);
        assert!(
            r.actual
                .starts_with("chain[1] CN=Example Int, O=Example expired 2 days ago"),
            "{r:?}"
        );
        d.chain[1].not_after = "garbage".into();
        assert!(one(e(0), &d).actual.contains("unreadable notAfter"));
    }

    #[test]
    fn issuer_is_a_case_insensitive_substring_of_the_leaf_issuer() {
        let e = |s: &str| Expectations {
            issuer: Some(s.into()),
            ..nothing()
        };
        assert!(one(e("example int"), &doc()).passed);
        let r = one(e("CN=Root"), &doc());
        assert!(!r.passed, "only the leaf's issuer counts: {r:?}");
        let mut d = doc();
        d.chain[0].issuer = "CN=Evil\u{202e}".into();
        assert_eq!(one(e("x"), &d).actual, "issuer CN=Evil\\u{202e}");
    }

    #[test]
    fn pin_matches_any_presented_certificate_or_an_anchor() {
        let e = |p: &str| Expectations {
            pin_sha256: vec![p.into()],
            ..nothing()
        };
        assert_eq!(
            one(e(&"a".repeat(64)), &doc()).actual,
            "matched chain[0] CN=db.test"
        );
        assert!(one(e(&"b".repeat(64)), &doc()).passed);
        let r = one(e(&"c".repeat(64)), &doc());
        assert!(r.passed);
        assert_eq!(r.actual, "matched the go anchor CN=Root");
        let r = one(e(&"d".repeat(64)), &doc());
        assert!(!r.passed);
        assert!(r.actual.starts_with("no match: chain[0] aaaa"), "{r:?}");
        assert_eq!(
            normalize_pin(&format!("sha256:{}", "AB:".repeat(31) + "AB")),
            Some("ab".repeat(32))
        );
        assert_eq!(normalize_pin("abc"), None);
    }

    #[test]
    fn tls_min_compares_versions() {
        let e = |v| Expectations {
            tls_min: Some(v),
            ..nothing()
        };
        assert!(one(e(TlsVersion::Tls12), &doc()).passed);
        assert!(one(e(TlsVersion::Tls13), &doc()).passed);
        let mut d = doc();
        d.handshake.as_mut().unwrap().version = Some("TLSv1_2".into());
        let r = one(e(TlsVersion::Tls13), &d);
        assert!(!r.passed);
        assert_eq!(r.actual, "negotiated TLSv1.2");
        for (s, v) in [
            ("1.2", TlsVersion::Tls12),
            ("TLSv1.3", TlsVersion::Tls13),
            ("tls1.1", TlsVersion::Tls11),
            ("TLSv1", TlsVersion::Tls10),
        ] {
            assert_eq!(TlsVersion::parse(s), Some(v), "{s}");
        }
        assert_eq!(TlsVersion::parse("1.4"), None);
    }

    #[test]
    fn client_cert_requested_both_ways() {
        let e = |b| Expectations {
            client_cert_requested: Some(b),
            ..nothing()
        };
        let r = one(e(true), &doc());
        assert!(r.passed);
        assert_eq!(
            r.actual,
            "a client certificate was requested (acceptable CAs: CN=Clients)"
        );
        assert!(!one(e(false), &doc()).passed);
    }

    #[test]
    fn unreachable_targets_fail_every_expectation_with_the_cause() {
        let e = Expectations {
            min_days: Some(1),
            issuer: Some("x".into()),
            pin_sha256: vec!["a".repeat(64)],
            tls_min: Some(TlsVersion::Tls12),
            client_cert_requested: Some(false),
            ..Expectations::default()
        };
        let r = evaluate(&e, &unreachable(), AT);
        assert_eq!(r.len(), 6);
        for x in &r {
            assert!(!x.passed);
            assert_eq!(
                x.actual,
                "not examined: connection-refused: connect 127.0.0.1:9: connection refused"
            );
        }
    }
}
