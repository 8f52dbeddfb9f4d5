//! SQL Server (TDS) without a SQL Server: `tlsdoctor connect` against the in-process TDS
//! server (tests/common/tds.rs) — TDS 7.x with TLS inside PRELOGIN packets, TDS 8 strict,
//! each encryption setting — and the proof that the server speaks real TDS: FreeTDS `tsql`
//! and node's `tedious` connect to it on the same fixture chains, with verification on and
//! off, and agree with tlsdoctor on what the server presented (the chain's fingerprints,
//! and whether it verifies). With CI=true a missing tsql, node or tedious fails.

#[path = "common/servers.rs"]
mod servers;
#[path = "common/tds.rs"]
mod tds;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use servers::{tlsdoctor, Pki, Run, AT};
use tds::{Encryption, Strict, TdsServer};
use tlsdoctor::report::json::Document;

/// Chains by scenario: name → (chain PEM, key PEM).
struct Fx {
    pki: Pki,
    world: servers::Scratch,
    chains: HashMap<&'static str, (String, String)>,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = Pki::new();
        let mut chains = HashMap::new();
        let int = pki.int.pem();
        let good = pki.leaf(
            "good",
            "db.test",
            &["db.test", "localhost", "127.0.0.1"],
            2020,
            2040,
        );
        chains.insert("good", (format!("{}{int}", good.pem()), good.key_pem()));
        chains.insert("leaf-only", (good.pem(), good.key_pem()));
        let expired = pki.leaf("expired", "db.test", &["db.test", "127.0.0.1"], 2000, 2010);
        chains.insert("expired", (format!("{}{int}", expired.pem()), expired.key_pem()));
        let wrong = pki.leaf("wrong", "other.test", &["other.test"], 2020, 2040);
        chains.insert("wrong-name", (format!("{}{int}", wrong.pem()), wrong.key_pem()));
        let mut sp =
            rcgen::CertificateParams::new(vec!["db.test".to_string(), "127.0.0.1".to_string()]).unwrap();
        sp.not_before = rcgen::date_time_ymd(2020, 1, 1);
        sp.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let sk = rcgen::KeyPair::generate().unwrap();
        let ss = sp.self_signed(&sk).unwrap();
        pki.write("self-signed.pem", &ss.pem());
        chains.insert("self-signed", (ss.pem(), sk.serialize_pem()));
        Fx {
            pki,
            world: servers::unrelated_world(),
            chains,
        }
    })
}

fn p(name: &str) -> String {
    fx().pki.path(name).display().to_string()
}

/// One server per (chain, setting, strictness), shared by the tests of this binary.
fn server(chain: &'static str, enc: Encryption, strict: Strict) -> &'static TdsServer {
    server_for("", chain, enc, strict)
}

/// A server of its own for one test (`tag`), whose log no other test adds to.
fn server_for(tag: &str, chain: &'static str, enc: Encryption, strict: Strict) -> &'static TdsServer {
    static SERVERS: OnceLock<Mutex<HashMap<String, &'static TdsServer>>> = OnceLock::new();
    let key = format!("{tag}/{chain}/{enc:?}/{strict:?}");
    let mut m = SERVERS.get_or_init(Default::default).lock().unwrap();
    m.entry(key).or_insert_with(|| {
        let (c, k) = &fx().chains[chain];
        Box::leak(Box::new(tds::start(c, k, enc, strict)))
    })
}

fn connect(target: &str, extra: &[&str]) -> Run {
    let root = fx().world.path().display().to_string();
    let mut args = vec![
        "--json",
        "--root",
        &root,
        "connect",
        target,
        "--timeout",
        "5s",
        "--at",
        AT,
        "--runtime",
        "go",
        "--runtime",
        "openssl",
        "--runtime",
        "node",
    ];
    args.extend_from_slice(extra);
    let r = tlsdoctor(&args, &[]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

fn server_fact<'a>(doc: &'a Document, k: &str) -> &'a serde_json::Value {
    &doc.server
        .as_ref()
        .unwrap_or_else(|| panic!("no server facts: {doc:?}"))[k]
}

fn verdict<'a>(doc: &'a Document, runtime: &str) -> &'a tlsdoctor::report::json::VerdictDoc {
    doc.verdicts
        .iter()
        .find(|v| v.runtime == runtime)
        .unwrap_or_else(|| panic!("no {runtime} verdict: {:?}", doc.verdicts))
}

fn fingerprints(doc: &Document) -> Vec<String> {
    doc.chain
        .iter()
        .map(|c| c.sha256.replace(':', "").to_lowercase())
        .collect()
}

// ---------------------------------------------------------------------------------------
// tlsdoctor against the server

#[test]
fn tds7_encryption_off_reports_version_setting_and_go_mssqldb() {
    let srv = server("good", Encryption::Off, Strict::No);
    let r = connect(
        &format!("mssql://{}", srv.addr()),
        &["--name", "db.test", "--ca", &p("root.pem")],
    );
    let doc = r.doc();
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(doc.target.as_ref().unwrap().starttls, "tds");
    assert!(doc.handshake.as_ref().unwrap().completed);
    assert_eq!(server_fact(&doc, "server_version"), "16.0.4135.4");
    assert_eq!(server_fact(&doc, "product"), "SQL Server 2022");
    assert_eq!(server_fact(&doc, "encryption"), "off");
    let go = server_fact(&doc, "go_mssqldb");
    assert_eq!(go["encrypt=true"], "connects", "{go}");
    assert!(
        go["encrypt=false"]
            .as_str()
            .unwrap()
            .contains("only the login is encrypted"),
        "{go}"
    );
    assert!(go["encrypt=disable"]
        .as_str()
        .unwrap()
        .starts_with("connects without encryption"));
    assert!(doc.findings.iter().any(|f| f.code == "mssql-encryption-off"));
    assert_eq!(fingerprints(&doc).len(), 2);
    // The server saw a PRELOGIN asking ENCRYPT_OFF and a TLS 1.2 handshake inside it.
    let seen = srv.log();
    assert!(
        seen.iter().any(|s| s.client_encrypt == Some(0)
            && s.tls_version.as_deref() == Some("TLSv1_2")
            && s.tls_error.is_none()),
        "{seen:?}"
    );
}

#[test]
fn tds7_required_and_not_supported() {
    let srv = server("good", Encryption::Required, Strict::No);
    let r = connect(
        &format!("sqlserver://{}", srv.addr()),
        &["--name", "db.test", "--ca", &p("root.pem")],
    );
    let doc = r.doc();
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(server_fact(&doc, "encryption"), "required");
    let go = server_fact(&doc, "go_mssqldb");
    assert!(
        go["encrypt=disable"].as_str().unwrap().starts_with("fails"),
        "{go}"
    );
    assert_eq!(go["encrypt=false"], "connects");

    let srv = server("good", Encryption::NotSupported, Strict::No);
    let r = connect(&srv.addr(), &["--starttls", "tds", "--name", "db.test"]);
    let doc = r.doc();
    assert_eq!(
        r.error_cause().as_deref(),
        Some("starttls-refused"),
        "{}",
        r.stdout
    );
    assert_eq!(server_fact(&doc, "encryption"), "not supported");
    assert_eq!(
        server_fact(&doc, "go_mssqldb")["encrypt=true"],
        "fails: server does not support encryption"
    );
}

#[test]
fn tds7_untrusted_chains_name_the_cause_and_go_mssqldb_outcome() {
    for (chain, want) in [
        ("leaf-only", "missing-intermediate"),
        ("expired", "expired"),
        ("wrong-name", "name-mismatch"),
        ("self-signed", "self-signed"),
    ] {
        let srv = server(chain, Encryption::Required, Strict::No);
        let r = connect(
            &format!("mssql://{}", srv.addr()),
            &["--name", "db.test", "--ca", &p("root.pem")],
        );
        let doc = r.doc();
        assert_eq!(r.code, 1, "{chain}: {}", r.stdout);
        let go = verdict(&doc, "go");
        assert!(
            !go.trusted && go.causes.iter().any(|c| c.contains(want)),
            "{chain}: {:?}",
            go.causes
        );
        let conc = server_fact(&doc, "go_mssqldb");
        assert!(
            conc["encrypt=true"]
                .as_str()
                .unwrap()
                .starts_with("fails: TLS Handshake failed"),
            "{conc}"
        );
        assert!(conc["encrypt=true&TrustServerCertificate=true"]
            .as_str()
            .unwrap()
            .starts_with("connects"));
        let hn = conc["hostNameInCertificate"].as_str().unwrap();
        assert_eq!(
            hn.starts_with("would fix"),
            chain == "wrong-name",
            "{chain}: {hn}"
        );
        assert!(doc
            .findings
            .iter()
            .any(|f| f.code == "mssql-trust-server-certificate"));
    }
}

#[test]
fn tds8_strict_by_flag_by_url_and_by_detection() {
    let srv = server("good", Encryption::Required, Strict::Accept);
    for (target, extra) in [
        (srv.addr(), vec!["--starttls", "tds-strict"]),
        (format!("sqlserver://{}?encrypt=strict", srv.addr()), vec![]),
    ] {
        let mut args = vec!["--name", "db.test", "--ca", &p("root.pem")]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = connect(&target, &a);
        let doc = r.doc();
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(doc.target.as_ref().unwrap().starttls, "tds-strict");
        assert_eq!(doc.handshake.as_ref().unwrap().alpn.as_deref(), Some("tds/8.0"));
        // The PRELOGIN inside TLS names the server.
        assert_eq!(server_fact(&doc, "server_version"), "16.0.4135.4", "{}", r.stdout);
        assert_eq!(server_fact(&doc, "go_mssqldb")["encrypt=strict"], "connects");
    }
    // A strict-only server closes on a plaintext PRELOGIN: auto retries with TDS 8.
    let only = server("good", Encryption::Required, Strict::Only);
    let r = connect(
        &format!("mssql://{}", only.addr()),
        &["--name", "db.test", "--ca", &p("root.pem")],
    );
    let doc = r.doc();
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(doc.target.as_ref().unwrap().starttls, "tds-strict");
    assert_eq!(doc.handshake.as_ref().unwrap().alpn.as_deref(), Some("tds/8.0"));
    let f = doc
        .findings
        .iter()
        .find(|f| f.code == "dialogue-detected")
        .expect("detection finding");
    assert!(f.message.contains("--starttls tds-strict"), "{}", f.message);
    // Explicitly TDS 7 against it: the error says what to do.
    let r = connect(&only.addr(), &["--starttls", "tds", "--name", "db.test"]);
    assert!(
        r.doc().error.unwrap().message.contains("--starttls tds-strict"),
        "{}",
        r.stdout
    );
}

#[test]
fn auto_on_an_unknown_port_finds_tds() {
    // SQL Server closes on a bare ClientHello; auto's guesses find PRELOGIN.
    let srv = server("good", Encryption::Off, Strict::No);
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(server_fact(&doc, "protocol"), "tds");
    let f = doc
        .findings
        .iter()
        .find(|f| f.code == "dialogue-detected")
        .expect("finding");
    assert!(f.message.contains("--starttls tds"), "{}", f.message);
}

// ---------------------------------------------------------------------------------------
// Real clients against the same server: FreeTDS tsql and tedious

/// FreeTDS `tsql` with its own freetds.conf: `encryption = require`, and (verification on)
/// `ca file` + `check certificate hostname`. Returns whether it logged in.
fn tsql(srv: &TdsServer, verify: bool) -> Option<(bool, String)> {
    let bin = servers::need("tsql")?;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("freetds.conf");
    let mut text = format!(
        "[global]\n\n[probe]\n\thost = 127.0.0.1\n\tport = {}\n\ttds version = 7.4\n\tencryption = require\n",
        srv.port
    );
    if verify {
        text.push_str(&format!(
            "\tca file = {}\n\tcheck certificate hostname = yes\n",
            p("root.pem")
        ));
    }
    std::fs::write(&conf, text).unwrap();
    let out = servers::clean(bin.to_str().unwrap())
        .args(["-S", "probe", "-U", "tlsdoctor", "-P", "x"])
        .env("FREETDSCONF", &conf)
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map(|mut c| {
            use std::io::Write;
            let _ = c.stdin.take().unwrap().write_all(b"exit\n");
            c.wait_with_output()
        })
        .expect("spawn tsql")
        .expect("tsql output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((text.contains("1>"), text))
}

fn tedious_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tds");
    if dir.join("node_modules/tedious").is_dir() {
        servers::need("node")?;
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true and tests/tds/node_modules/tedious is missing: npm ci --prefix tests/tds (.ci/run does)"
        );
    }
    eprintln!(
        "\n!!! SKIPPED: tedious is not installed (npm ci --prefix tests/tds); this test did not run !!!\n"
    );
    None
}

#[derive(Debug, serde::Deserialize)]
struct TediousOut {
    ok: bool,
    error: Option<String>,
    chain: Vec<String>,
}

fn tedious(srv: &TdsServer, encrypt: &str, trust: bool, ca: Option<&str>) -> Option<TediousOut> {
    let dir = tedious_dir()?;
    let mut c = servers::clean("node");
    c.current_dir(&dir).args([
        "tedious-connect.js",
        "127.0.0.1",
        &srv.port.to_string(),
        encrypt,
        if trust { "true" } else { "false" },
        "db.test",
    ]);
    if let Some(ca) = ca {
        c.arg(ca);
    }
    let out = c.output().expect("run node");
    let text = String::from_utf8_lossy(&out.stdout);
    Some(serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "tedious said {text:?} ({e}); stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
}

/// The chain tedious saw is the chain tlsdoctor reported (node appends the trusted root it
/// found in its CA list when the server did not send it).
fn same_chain(tedious: &[String], doc: &Document) {
    let ours = fingerprints(doc);
    assert!(!ours.is_empty());
    assert!(
        tedious.len() >= ours.len() && tedious[..ours.len()] == ours[..] && tedious.len() <= ours.len() + 1,
        "tedious saw {tedious:?}, tlsdoctor {ours:?}"
    );
}

#[test]
fn tsql_agrees_with_tlsdoctor_verification_on_and_off() {
    for chain in ["good", "leaf-only", "expired", "wrong-name", "self-signed"] {
        for enc in [Encryption::Off, Encryption::Required] {
            let srv = server_for("tsql", chain, enc, Strict::No);
            srv.clear();
            let r = connect(
                &srv.addr(),
                &["--starttls", "tds", "--name", "127.0.0.1", "--ca", &p("root.pem")],
            );
            let doc = r.doc();
            assert!(
                doc.handshake.as_ref().is_some_and(|h| h.completed),
                "{}",
                r.stdout
            );
            let openssl_ok = verdict(&doc, "openssl").trusted;
            // Verification on: tsql logs in exactly when OpenSSL-style verification passes.
            let Some((ok, text)) = tsql(srv, true) else { return };
            assert_eq!(
                ok,
                openssl_ok,
                "{chain} {enc:?}: tsql verify said {text}\ntlsdoctor: {:?}",
                verdict(&doc, "openssl")
            );
            // Verification off: it always logs in, through TLS.
            let (ok, text) = tsql(srv, false).unwrap();
            assert!(ok, "{chain} {enc:?}: tsql without verification: {text}");
            // The server logs a connection when it ends.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let logged_in = |s: &tds::Seen| s.login && s.tls_version.is_some() && s.client_encrypt == Some(1);
            while !srv.log().iter().any(logged_in) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let seen = srv.log();
            assert!(seen.iter().any(logged_in), "{seen:?}");
        }
    }
}

#[test]
fn tedious_agrees_with_tlsdoctor_on_chain_and_verdict() {
    for chain in ["good", "leaf-only", "expired", "wrong-name", "self-signed"] {
        for (enc, strict, mode) in [
            (Encryption::Off, Strict::No, "true"),
            (Encryption::Required, Strict::Accept, "strict"),
        ] {
            let srv = server(chain, enc, strict);
            let st = if mode == "strict" { "tds-strict" } else { "tds" };
            let r = connect(
                &srv.addr(),
                &["--starttls", st, "--name", "db.test", "--ca", &p("root.pem")],
            );
            let doc = r.doc();
            let node_ok = verdict(&doc, "node").trusted;
            // Verification on, the fixture root as its only CA.
            let Some(t) = tedious(srv, mode, false, Some(&p("root.pem"))) else {
                return;
            };
            assert_eq!(
                t.ok,
                node_ok,
                "{chain} {mode}: tedious {t:?}\ntlsdoctor node: {:?}",
                verdict(&doc, "node")
            );
            assert_eq!(t.ok, t.error.is_none(), "{t:?}");
            same_chain(&t.chain, &doc);
            // Verification off (TDS 7 only: strict always verifies).
            if mode == "true" {
                let t = tedious(srv, mode, true, None).unwrap();
                assert!(t.ok, "{chain}: tedious trustServerCertificate: {t:?}");
                same_chain(&t.chain, &doc);
            }
            let conc = server_fact(&doc, "go_mssqldb");
            let key = if mode == "strict" {
                "encrypt=strict"
            } else {
                "encrypt=true"
            };
            assert_eq!(conc[key] == "connects", verdict(&doc, "go").trusted, "{conc}");
        }
    }
}
