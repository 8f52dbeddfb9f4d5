//! Conformance: every x509-limbo SERVER testcase through the Go and OpenSSL emulations,
//! once per profile that has a results file in `shared/conformance/limbo/` (see its
//! README): Go 1.19.8 and OpenSSL 3.0.19 (Debian 12), Go 1.24.4 and OpenSSL 3.5.9
//! (Debian 13), each modelled with that version's profile. Disagreements must be listed,
//! with a reason, in `tests/limbo-exceptions.toml`; a listed one that now agrees fails too.

#[path = "common/verify.rs"]
mod verify_common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tlsdoctor::diagnose::facts::Arena;
use tlsdoctor::diagnose::{evaluate_precise, openssl, order_presented, Input};
use tlsdoctor::profiles::{Kind, Profile, Source, Version};
use tlsdoctor::trust::Runtime;

/// Agreement floors (percent of SERVER testcases); raise as the emulation improves.
const FLOOR_GO: f64 = 99.0;
const FLOOR_OPENSSL: f64 = 99.0;

/// The data: `TLSDOCTOR_LIMBO_DIR` when set, else `../shared/conformance/limbo` relative to
/// the repository (the project's data lives beside it, never copied in, never at a fixed
/// absolute path).
fn limbo_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("TLSDOCTOR_LIMBO_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/limbo"),
    };
    if dir.join("limbo.json").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "x509-limbo data not found: no limbo.json in {} (check out shared/ beside the \
             repository, or set TLSDOCTOR_LIMBO_DIR)",
            dir.display()
        ))
    }
}

fn parse_time(s: &str) -> (i64, u32) {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("time");
    (t.unix_timestamp(), t.nanosecond())
}

#[derive(serde::Deserialize)]
struct Exceptions {
    #[serde(default)]
    exception: Vec<Exception>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Exception {
    id: String,
    /// A profile (`go1.24`, `openssl3.0`) or a runtime (`go`: every Go profile).
    runtime: String,
    /// "verdict" (default) or "message" (same verdict, different text / error / depth).
    #[serde(default)]
    kind: Option<String>,
    reason: String,
}

#[test]
fn limbo_agreement() {
    let dir = match limbo_dir() {
        Ok(dir) => dir,
        // cargo hides what a passing test prints, so a quiet skip would go unseen: without
        // the data this test fails, unless the developer opts out knowingly; never in CI.
        Err(why) => {
            let ci = std::env::var("CI").as_deref() == Ok("true");
            if ci || std::env::var_os("TLSDOCTOR_SKIP_LIMBO").is_none() {
                panic!(
                    "{why}{}",
                    if ci {
                        ""
                    } else {
                        "; to skip this conformance test knowingly, set TLSDOCTOR_SKIP_LIMBO=1"
                    }
                );
            }
            eprintln!("SKIPPED (TLSDOCTOR_SKIP_LIMBO is set): {why}");
            return;
        }
    };
    let limbo: Value = serde_json::from_slice(&std::fs::read(dir.join("limbo.json")).unwrap()).unwrap();
    // (Go profile, OpenSSL profile), evaluated together: each pair of results files.
    let pairs = [
        (
            ("go1.19", Version::new(1, 19, None)),
            ("openssl3.0", Version::new(3, 0, None)),
        ),
        (
            ("go1.24", Version::new(1, 24, None)),
            ("openssl3.5", Version::new(3, 5, None)),
        ),
    ];
    let exc: Exceptions = toml::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/limbo-exceptions.toml"),
        )
        .unwrap(),
    )
    .expect("tests/limbo-exceptions.toml");
    for e in &exc.exception {
        assert!(!e.reason.trim().is_empty(), "exception {} has no reason", e.id);
    }
    let mut report = String::new();
    let mut summary = String::new();
    let mut floors_failed = vec![];
    let mut ran = 0;
    for ((go_label, go_v), (os_label, os_v)) in pairs {
        let file = |l: &str| dir.join(format!("results-{l}.json"));
        if !file(go_label).is_file() || !file(os_label).is_file() {
            continue;
        }
        ran += 1;
        let profiles = [
            (go_label, Profile::of(Kind::Go, go_v, Source::Flag)),
            (os_label, Profile::of(Kind::Openssl, os_v, Source::Flag)),
        ];
        let outcome = run_pair(&limbo, &dir, &profiles, &exc);
        report.push_str(&outcome.report);
        summary.push_str(&outcome.summary);
        floors_failed.extend(outcome.below_floor);
    }
    eprintln!("{summary}");
    assert!(ran > 0, "no pair of results files in {}", dir.display());
    if !report.is_empty() {
        eprintln!("{report}");
    }
    assert!(floors_failed.is_empty(), "below the floor: {floors_failed:?}");
    assert!(report.is_empty(), "exceptions file out of date:\n{report}");
}

struct PairOutcome {
    report: String,
    summary: String,
    below_floor: Vec<String>,
}

/// Every SERVER testcase for one (Go profile, OpenSSL profile) pair.
fn run_pair(
    limbo: &Value,
    dir: &std::path::Path,
    profiles: &[(&str, Profile); 2],
    exc: &Exceptions,
) -> PairOutcome {
    let mut results: BTreeMap<&str, BTreeMap<String, (String, String)>> = BTreeMap::new();
    let mut now = String::new();
    let labels = [profiles[0].0, profiles[1].0];
    let raw: Vec<Value> = labels
        .iter()
        .map(|l| {
            serde_json::from_slice(&std::fs::read(dir.join(format!("results-{l}.json"))).unwrap()).unwrap()
        })
        .collect();
    for (l, v) in labels.iter().zip(&raw) {
        now = v["now"].as_str().unwrap().to_string();
        let m = results.entry(l).or_default();
        for r in v["results"].as_array().unwrap() {
            m.insert(
                r["id"].as_str().unwrap().to_string(),
                (
                    r["actual_result"].as_str().unwrap().to_string(),
                    r["context"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
    }
    // An exception names a profile (`go1.24`) or every profile of a runtime (`go`).
    let applies = |e: &Exception, label: &str| {
        e.runtime == label
            || label
                .strip_prefix(e.runtime.as_str())
                .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    };
    let listed = |id: &str, label: &str, kind: &str| {
        exc.exception
            .iter()
            .any(|e| e.id == id && applies(e, label) && e.kind.as_deref().unwrap_or("verdict") == kind)
    };
    let ossl_raw: BTreeMap<String, Value> = raw[1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    let mut msg_agree: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut total = 0usize;
    let mut agree: BTreeMap<&str, usize> = BTreeMap::new();
    let mut report = String::new();
    for tc in limbo["testcases"].as_array().unwrap() {
        if tc["validation_kind"] != "SERVER" {
            continue;
        }
        total += 1;
        let id = tc["id"].as_str().unwrap();
        let trusted: Vec<_> = tc["trusted_certs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| verify_common::pem_certs(p.as_str().unwrap()))
            .collect();
        let mut chain = verify_common::pem_certs(tc["peer_certificate"].as_str().unwrap());
        let mut parse_fail = chain.is_empty();
        for p in tc["untrusted_intermediates"].as_array().unwrap() {
            let c = verify_common::pem_certs(p.as_str().unwrap());
            parse_fail |= c.is_empty();
            chain.extend(c);
        }
        let name = tc["expected_peer_name"]["value"]
            .as_str()
            .or_else(|| {
                tc["expected_peer_names"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|n| n["value"].as_str())
            })
            .map(|s| s.to_string());
        let (at, nanos) = parse_time(tc["validation_time"].as_str().unwrap_or(&now));
        let mut stores = vec![
            verify_common::store(Runtime::Go, &trusted, "trusted_certs"),
            verify_common::store(Runtime::Openssl, &trusted, "trusted_certs"),
            // Not compared (no ground truth here), but every testcase must go through
            // rustls' verifier and the diagnosis without a panic.
            verify_common::store(Runtime::RustlsNative, &trusted, "trusted_certs"),
        ];
        stores[0].profile = Some(profiles[0].1.clone());
        stores[1].profile = Some(profiles[1].1.clone());
        let input = Input {
            chain,
            name,
            at,
            distro: None,
        };
        let d = evaluate_precise(&input, &stores, nanos);
        // Every testcase also renders: 80 columns, no raw control characters.
        let doc = tlsdoctor::report::json::Document {
            patch: None,
            schema: "tlsdoctor.verify/v1".into(),
            target: None,
            network: None,
            handshake: None,
            chain: d.chain.clone(),
            verdicts: d.verdicts.clone(),
            findings: d.findings.clone(),
            error: None,
            evaluated_at: Some(tlsdoctor::x509::rfc3339(at)),
            server: None,
            issuer: None,
        };
        let text = tlsdoctor::report::human::render(
            &doc,
            &tlsdoctor::report::human::HumanOpts {
                color: false,
                verbose: 1,
                quiet: false,
            },
        );
        for l in text.lines() {
            assert!(l.chars().count() <= 80, "{id}: {l:?}");
            assert!(!l.chars().any(|c| c.is_control()), "{id}: {l:?}");
        }
        for (i, rt) in labels.iter().enumerate() {
            let is_go = i == 0;
            let (actual, ctx) = &results[rt][id];
            let ours = if parse_fail {
                ("FAILURE", "(a certificate did not parse)".to_string())
            } else {
                let v = &d.verdicts[i];
                // The results files hold Verify's own error (the Go 1.24 harness called
                // Verify directly): crypto/tls's wrapping is not part of it.
                let msg = v
                    .message
                    .strip_prefix("tls: failed to verify certificate: ")
                    .unwrap_or(&v.message)
                    .to_string();
                (if v.trusted { "SUCCESS" } else { "FAILURE" }, msg)
            };
            if std::env::var("LIMBO_DEBUG").is_ok() {
                eprintln!("{rt} {id}: real {actual} ours {} {:?}", ours.0, ours.1);
            }
            if ours.0 == actual && actual == "FAILURE" && !parse_fail {
                // Same verdict: does the runtime's own message agree too?
                let expected = if is_go {
                    ctx.clone()
                } else {
                    let r = &ossl_raw[id];
                    format!(
                        "verify error:num={}:{} at depth {}",
                        r["error"],
                        r["error_string"].as_str().unwrap(),
                        r["error_depth"]
                    )
                };
                let got = if is_go {
                    ours.1.clone()
                } else {
                    let mut arena = Arena::new();
                    let order = order_presented(&input.chain);
                    let pres: Vec<usize> = order.iter().map(|&i| arena.add(&input.chain[i])).collect();
                    let tr: Vec<usize> = trusted.iter().map(|c| arena.add(c)).collect();
                    let o = openssl::verify(&arena, &pres, &tr, input.name.as_deref(), at);
                    o.first()
                        .map(|e| format!("{} at depth {}", e.message(), e.depth))
                        .unwrap_or_default()
                };
                let e = msg_agree.entry(rt).or_default();
                e.1 += 1;
                if got == expected {
                    e.0 += 1;
                    if listed(id, rt, "message") {
                        report.push_str(&format!("LISTED (message) BUT AGREES {rt} {id}\n"));
                    }
                } else if !listed(id, rt, "message") {
                    report.push_str(&format!(
                        "UNLISTED message {rt} {id}: real {expected:?}; ours {got:?}\n"
                    ));
                }
            }
            if ours.0 == actual {
                *agree.entry(rt).or_default() += 1;
                if listed(id, rt, "verdict") {
                    report.push_str(&format!("LISTED BUT AGREES {rt} {id}\n"));
                }
            } else if !listed(id, rt, "verdict") {
                report.push_str(&format!(
                    "UNLISTED {rt} {id}: real {actual} {ctx:?}; ours {} {:?}\n",
                    ours.0, ours.1
                ));
            }
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / total as f64;
    let mut summary = String::new();
    let mut below_floor = vec![];
    for (i, rt) in labels.iter().enumerate() {
        let n = agree.get(rt).copied().unwrap_or(0);
        let p = pct(n);
        let (a, m) = msg_agree.get(rt).copied().unwrap_or_default();
        summary.push_str(&format!(
            "limbo {rt}: verdicts {n}/{total} = {p:.1}%; same {} on {a}/{m} common failures\n",
            if i == 0 {
                "Go text"
            } else {
                "OpenSSL error and depth"
            }
        ));
        let floor = if i == 0 { FLOOR_GO } else { FLOOR_OPENSSL };
        if p < floor || (m > 0 && pct_of(a, m) < floor) {
            below_floor.push(format!(
                "{rt}: verdicts {p:.1}%, messages {a}/{m} (floor {floor}%)"
            ));
        }
    }
    PairOutcome {
        report,
        summary,
        below_floor,
    }
}

fn pct_of(a: usize, n: usize) -> f64 {
    100.0 * a as f64 / n as f64
}
