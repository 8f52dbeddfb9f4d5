//! The matrix on real servers: Postfix (submission STARTTLS, smtps), Dovecot (IMAP and POP3,
//! STARTTLS and implicit), slapd (StartTLS, ldaps), vsftpd (AUTH TLS, implicit) and Prosody
//! (c2s STARTTLS, direct TLS), each serving the good, leaf-only, expired, wrong-name and
//! self-signed chains and once with TLS off (tests/common/daemons.rs). Every endpoint is
//! probed three ways — its URL scheme, an explicit `--starttls`, and no flag at all (an
//! ephemeral port: `auto` must find the dialogue) — and compared with `openssl s_client
//! [-starttls …]` on the same server at the same time: the same chain, the same verdict,
//! the same verify error number. With CI=true a missing server fails.

#[path = "common/daemons.rs"]
mod daemons;
#[path = "common/servers.rs"]
mod servers;

use std::sync::OnceLock;

use daemons::{ChainFiles, Endpoint, Starter};
use servers::{tlsdoctor, Pki, Run, AT};
use tlsdoctor::report::json::Document;

/// `AT` as seconds since the epoch, for `s_client -attime`.
const AT_EPOCH: &str = "1906502400";
const NAME: &str = "mail.test";

struct Fx {
    pki: Pki,
    world: servers::Scratch,
    chains: Vec<ChainFiles>,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = Pki::new();
        let int = pki.int.pem();
        let mut chains = Vec::new();
        let mut add = |name: &'static str, chain: String, leaf: String, key: String| {
            let c = ChainFiles {
                name,
                chain: pki.write(&format!("srv-{name}-chain.pem"), &chain),
                key: pki.write(&format!("srv-{name}.key"), &key),
                leaf: pki.write(&format!("srv-{name}-leaf.pem"), &leaf),
                extra: pki.write(
                    &format!("srv-{name}-extra.pem"),
                    chain.strip_prefix(&leaf).unwrap_or(""),
                ),
            };
            chains.push(c);
        };
        let good = servers::leaf(NAME, &[NAME, "127.0.0.1"], &pki.int, 2020, 2040);
        add("good", format!("{}{int}", good.pem()), good.pem(), good.key_pem());
        add("leaf-only", good.pem(), good.pem(), good.key_pem());
        let exp = servers::leaf(NAME, &[NAME], &pki.int, 2000, 2010);
        add("expired", format!("{}{int}", exp.pem()), exp.pem(), exp.key_pem());
        let wrong = servers::leaf("other.test", &["other.test"], &pki.int, 2020, 2040);
        add(
            "wrong-name",
            format!("{}{int}", wrong.pem()),
            wrong.pem(),
            wrong.key_pem(),
        );
        let mut sp = rcgen::CertificateParams::new(vec![NAME.to_string()]).unwrap();
        sp.not_before = rcgen::date_time_ymd(2020, 1, 1);
        sp.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let sk = rcgen::KeyPair::generate().unwrap();
        let ss = sp.self_signed(&sk).unwrap();
        add("self-signed", ss.pem(), ss.pem(), sk.serialize_pem());
        Fx {
            pki,
            world: servers::unrelated_world(),
            chains,
        }
    })
}

fn root() -> String {
    fx().pki.path("root.pem").display().to_string()
}

/// What `openssl s_client` saw: the presented chain (SHA-256, leaf first) and the verify
/// return code (None when no handshake happened).
#[derive(Debug)]
struct SClient {
    chain: Vec<String>,
    code: Option<u32>,
    text: String,
}

fn s_client(ep: &Endpoint) -> SClient {
    let bin = servers::need("openssl").expect("openssl");
    let root = root();
    let connect = format!("127.0.0.1:{}", ep.port);
    let mut args: Vec<&str> = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        NAME,
        "-CAfile",
        &root,
        "-verify_hostname",
        NAME,
        "-attime",
        AT_EPOCH,
        "-showcerts",
    ];
    if let Some(p) = ep.s_client {
        args.extend(["-starttls", p]);
        if p == "xmpp" {
            args.extend(["-xmpphost", NAME]);
        }
    }
    // Bounded: s_client waits for a STARTTLS offer that a server without TLS never makes.
    let out = servers::clean("timeout")
        .arg("10")
        .arg(&bin)
        .args(&args)
        .output()
        .expect("run s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let chain = tlsdoctor::trust::pem::parse(text.as_bytes())
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .filter_map(|b| b.data.ok())
        .map(|d| tlsdoctor::x509::sha256_hex(&d))
        .collect();
    // The first error its verify callback logged (`verify error:num=N:`) is where a client
    // that verifies stops (s_client itself logs and goes on: 20 then 21 for a lone leaf,
    // and its final "Verify return code" is the last one); none logged = its return code.
    let first_error = text.lines().find_map(|l| {
        l.split("verify error:num=")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse().ok())
    });
    let code = first_error
        .or_else(|| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix("Verify return code: "))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .filter(|_| text.contains("BEGIN CERTIFICATE"));
    SClient { chain, code, text }
}

fn connect(target: &str, extra: &[&str]) -> Run {
    let world = fx().world.path().display().to_string();
    let root = root();
    let mut args = vec![
        "--json",
        "--root",
        &world,
        "connect",
        target,
        "--timeout",
        "8s",
        "--at",
        AT,
        "--name",
        NAME,
        "--ca",
        &root,
        "--runtime",
        "openssl",
    ];
    args.extend_from_slice(extra);
    let r = tlsdoctor(&args, &[]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

fn fingerprints(doc: &Document) -> Vec<String> {
    doc.chain
        .iter()
        .map(|c| c.sha256.replace(':', "").to_lowercase())
        .collect()
}

/// The three ways to name an endpoint.
fn forms(ep: &Endpoint) -> Vec<(String, Vec<&'static str>)> {
    vec![
        (format!("{}://127.0.0.1:{}", ep.scheme, ep.port), vec![]),
        (format!("127.0.0.1:{}", ep.port), vec!["--starttls", ep.starttls]),
        (format!("127.0.0.1:{}", ep.port), vec![]),
    ]
}

/// Probe every endpoint every way and compare with s_client. Returns the rows for the
/// summary printed on failure.
fn matrix(start: Starter) {
    let Some((eps, _daemons)) = start(&fx().chains) else {
        return;
    };
    // Every chain served, and TLS off.
    for c in &fx().chains {
        assert!(
            eps.iter().any(|e| e.chain == Some(c.name)),
            "no endpoint serves {}",
            c.name
        );
    }
    assert!(eps.iter().any(|e| e.chain.is_none()), "no endpoint without TLS");
    let mut bad = Vec::new();
    for ep in &eps {
        let sc = s_client(ep);
        for (target, flags) in forms(ep) {
            let r = connect(&target, &flags);
            let doc = r.doc();
            let how = format!(
                "{} [{}] {target} {}",
                ep.what,
                ep.chain.unwrap_or("TLS off"),
                flags.join(" ")
            );
            match ep.chain {
                Some(_) => {
                    let ours = fingerprints(&doc);
                    let completed = doc.handshake.as_ref().is_some_and(|h| h.completed);
                    let v = doc.verdicts.iter().find(|v| v.runtime == "openssl");
                    let code = sc.code;
                    let agree = completed
                        && ours == sc.chain
                        && v.is_some_and(|v| {
                            v.trusted == (code == Some(0))
                                && (v.trusted
                                    || code.is_some_and(|c| v.message.contains(&format!("num={c}:"))))
                        });
                    if !agree {
                        bad.push(format!(
                            "{how}: tlsdoctor chain {ours:?} verdict {:?} error {:?}; s_client chain {:?} code {code:?}",
                            v.map(|v| (&v.message, v.trusted)),
                            doc.error.as_ref().map(|e| &e.message),
                            sc.chain
                        ));
                    }
                }
                None => {
                    // No TLS: s_client gets no certificate; tlsdoctor says the server refused.
                    let cause = doc.error.as_ref().map(|e| e.cause.as_str());
                    let ok = sc.code.is_none() && doc.chain.is_empty() && cause == Some("starttls-refused");
                    if !ok {
                        bad.push(format!(
                            "{how}: tlsdoctor {:?}; s_client code {:?}: {}",
                            doc.error.as_ref().map(|e| (&e.cause, &e.message)),
                            sc.code,
                            sc.text.lines().take(3).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagreement(s):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn postfix_submission_and_smtps() {
    matrix(daemons::postfix)
}

#[test]
fn dovecot_imap_pop3_starttls_and_implicit() {
    matrix(daemons::dovecot)
}

#[test]
fn slapd_starttls_and_ldaps() {
    matrix(daemons::slapd)
}

#[test]
fn vsftpd_auth_tls_and_implicit() {
    matrix(daemons::vsftpd)
}

#[test]
fn prosody_c2s_starttls_and_direct_tls() {
    matrix(daemons::prosody)
}

/// `scripts/bench-protocols`: each protocol's `connect` against `openssl s_client
/// -starttls` on the same real server (good chain), paired and alternated, medians and
/// their ratio. Ignored: run by the script with `TLSDOCTOR_BENCH_BIN` (the release binary)
/// and `BENCH_RUNS`.
#[test]
#[ignore]
fn bench_protocols() {
    let bin =
        std::env::var("TLSDOCTOR_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tlsdoctor").to_string());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let good: Vec<ChainFiles> = fx().chains.iter().filter(|c| c.name == "good").cloned().collect();
    let starters: [Starter; 5] = [
        daemons::postfix,
        daemons::dovecot,
        daemons::slapd,
        daemons::vsftpd,
        daemons::prosody,
    ];
    let world = fx().world.path().display().to_string();
    let root = root();
    // "wait": s_client's wall time minus its CPU time (user + system, as hyperfine
    // measures them) — the time it spends waiting for the server, which any client of the
    // same exchange waits too; "floor" = wait / s_client's wall, the best ratio a client
    // with zero CPU cost could reach.
    println!(
        "{:<22} {:>10} {:>10} {:>7} {:>10} {:>10} {:>6}",
        "protocol", "tlsdoctor", "s_client", "ratio", "td CPU", "sc wait", "floor"
    );
    let mut keep = Vec::new();
    for start in starters {
        let Some((eps, d)) = start(&good) else { continue };
        keep.push(d);
        for ep in eps.iter().filter(|e| e.chain.is_some()) {
            let target = format!("{}://127.0.0.1:{}", ep.scheme, ep.port);
            let connect = format!("127.0.0.1:{}", ep.port);
            let td =
                format!("{bin} --json --root {world} connect {target} --name {NAME} --ca {root} --at {AT}");
            let mut sc = format!(
                "openssl s_client -connect {connect} -servername {NAME} -CAfile {root} -verify_return_error \
                 -verify_hostname {NAME} -attime {AT_EPOCH}"
            );
            if let Some(p) = ep.s_client {
                sc.push_str(&format!(" -starttls {p}"));
                if p == "xmpp" {
                    sc.push_str(&format!(" -xmpphost {NAME}"));
                }
            }
            // Process times as hyperfine measures them (-N: no shell), one sample of each
            // per round, the order flipped every round so that a load spike hits both;
            // the first two rounds warm up.
            let hf = servers::need("hyperfine").expect("hyperfine");
            let json = std::env::temp_dir().join(format!("bench-protocols-{}.json", std::process::id()));
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let (mut ours_cpu, mut theirs_wait) = (Vec::new(), Vec::new());
            for i in 0..runs + 2 {
                let order = if i % 2 == 0 {
                    [("td", &td), ("sc", &sc)]
                } else {
                    [("sc", &sc), ("td", &td)]
                };
                let mut c = servers::clean(hf.to_str().unwrap());
                c.args(["-N", "--runs", "1", "--style", "none", "--export-json"])
                    .arg(&json);
                for (n, cmd) in order {
                    c.args(["-n", n, cmd.as_str()]);
                }
                let out = c.output().expect("run hyperfine");
                assert!(
                    out.status.success(),
                    "{}: {}",
                    ep.what,
                    String::from_utf8_lossy(&out.stderr)
                );
                let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
                if i < 2 {
                    continue;
                }
                for r in doc["results"].as_array().unwrap() {
                    let ms = r["times"][0].as_f64().unwrap() * 1000.0;
                    let cpu =
                        (r["user"].as_f64().unwrap_or(0.0) + r["system"].as_f64().unwrap_or(0.0)) * 1000.0;
                    match r["command"].as_str() {
                        Some("td") => {
                            ours.push(ms);
                            ours_cpu.push(cpu);
                        }
                        _ => {
                            theirs.push(ms);
                            theirs_wait.push((ms - cpu).max(0.0));
                        }
                    }
                }
            }
            let _ = std::fs::remove_file(&json);
            let median = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                v[v.len() / 2]
            };
            let (m1, m2) = (median(&mut ours), median(&mut theirs));
            let (c1, w2) = (median(&mut ours_cpu), median(&mut theirs_wait));
            println!(
                "{:<22} {:>8.2}ms {:>8.2}ms {:>6.2}× {:>8.2}ms {:>8.2}ms {:>5.2}×",
                ep.what,
                m1,
                m2,
                m1 / m2,
                c1,
                w2,
                w2 / m2
            );
        }
    }
}
