//! `tlsdoctor connect` against real servers on 127.0.0.1 ephemeral ports: `openssl
//! s_server` (incomplete chain, expired, wrong name, CN-only, client certificate required,
//! TLS 1.3-only, TLS 1.2-only), PostgreSQL (TLS trusted via --ca and untrusted; ssl=off)
//! and MariaDB (TLS; --skip-ssl). One PostgreSQL pair and one MariaDB pair per test binary.
//! Missing binaries skip loudly, or fail with CI=true.

#[path = "common/servers.rs"]
mod servers;

use std::sync::OnceLock;

use servers::{tlsdoctor, Pki, Run, AT};
use tlsdoctor::report::json::Document;

struct Fx {
    pki: Pki,
    /// World root whose stores hold only an unrelated CA.
    world: servers::Scratch,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = Pki::new();
        pki.leaf(
            "good",
            "db.test",
            &["db.test", "localhost", "127.0.0.1"],
            2020,
            2040,
        );
        pki.leaf("expired", "expired.test", &["expired.test"], 2000, 2010);
        pki.leaf("wrong", "other.test", &["other.test"], 2020, 2040);
        pki.leaf("cnonly", "cn.test", &[], 2020, 2040);
        let client_ca = servers::ca("tlsdoctor Client CA", None);
        let client = servers::leaf("client.test", &["client.test"], &client_ca, 2020, 2040);
        pki.write("client-ca.pem", &client_ca.pem());
        pki.write("client.pem", &client.pem());
        pki.write("client.key", &client.key_pem());
        Fx {
            pki,
            world: servers::unrelated_world(),
        }
    })
}

fn p(name: &str) -> String {
    fx().pki.path(name).display().to_string()
}

/// Run `connect --json` with the fixture World and the fixed evaluation time.
fn connect(target: &str, extra: &[&str]) -> Run {
    let root = fx().world.path().display().to_string();
    let mut args = vec![
        "--json",
        "--root",
        root.as_str(),
        "connect",
        target,
        "--timeout",
        "5s",
        "--at",
        AT,
    ];
    args.extend_from_slice(extra);
    let r = tlsdoctor(&args, &[]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.elapsed.as_secs() < 6, "took {:?}", r.elapsed);
    r
}

fn causes(doc: &Document) -> Vec<String> {
    let mut c: Vec<String> = doc.verdicts.iter().flat_map(|v| v.causes.clone()).collect();
    c.sort();
    c.dedup();
    c
}

fn s_server(leaf: &str, chain: bool, extra: &[&str]) -> Option<servers::Server> {
    let cert = p(&format!("{leaf}.pem"));
    let key = p(&format!("{leaf}.key"));
    let int = p("int.pem");
    let mut args = vec!["-cert", cert.as_str(), "-key", key.as_str()];
    if chain {
        args.extend(["-cert_chain", int.as_str()]);
    }
    args.extend_from_slice(extra);
    servers::s_server(&args)
}

#[test]
fn s_server_complete_chain_trusted_with_ca() {
    let Some(srv) = s_server("good", true, &[]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert_eq!(doc.chain.len(), 2);
    assert_eq!(
        doc.chain[1].subject,
        "O=tlsdoctor tests, CN=tlsdoctor Test Intermediate"
    );
    assert!(!doc.verdicts.is_empty());
    assert!(
        doc.verdicts.iter().all(|v| v.trusted && v.cause == "ok"),
        "{}",
        r.stdout
    );
    assert!(doc.verdicts.iter().all(|v| v.store.explicit));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let hs = doc.handshake.unwrap();
    assert_eq!(hs.version.as_deref(), Some("TLSv1.3"));
    assert!(!hs.client_cert_requested);
    // Without --ca, against a store that does not hold the root: a diagnosis, exit 1.
    let r = connect(&srv.addr(), &["--name", "db.test"]);
    let doc = r.doc();
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(doc.verdicts.iter().all(|v| !v.trusted), "{}", r.stdout);
    assert!(
        // The server sent leaf + intermediate; the intermediate's issuer (the root) is
        // in no store: an untrusted root (the trust store, not the server, needs fixing).
        causes(&doc).contains(&"unknown-authority".to_string()),
        "{:?}",
        causes(&doc)
    );
}

#[test]
fn s_server_incomplete_chain() {
    let Some(srv) = s_server("good", false, &[]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert_eq!(doc.chain.len(), 1, "{}", r.stdout);
    assert_eq!(r.code, 1);
    assert!(
        causes(&doc).contains(&"missing-intermediate".to_string()),
        "{:?}",
        causes(&doc)
    );
}

#[test]
fn s_server_expired() {
    let Some(srv) = s_server("expired", true, &[]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "expired.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert_eq!(r.code, 1);
    assert!(
        causes(&doc).contains(&"expired".to_string()),
        "{:?}",
        causes(&doc)
    );
    assert_eq!(doc.chain[0].not_after, "2010-01-01T00:00:00Z");
}

#[test]
fn s_server_wrong_name() {
    let Some(srv) = s_server("wrong", true, &[]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert_eq!(r.code, 1);
    assert!(doc.verdicts.iter().all(|v| !v.name_ok), "{}", r.stdout);
    assert!(
        causes(&doc).contains(&"name-mismatch".to_string()),
        "{:?}",
        causes(&doc)
    );
    assert_eq!(
        doc.target.unwrap().server_name.as_deref(),
        Some("db.test"),
        "SNI follows --name"
    );
}

#[test]
fn s_server_cn_only() {
    let Some(srv) = s_server("cnonly", true, &[]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "cn.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert!(doc.chain[0].dns_names.is_empty());
    assert!(
        causes(&doc).contains(&"legacy-common-name".to_string()),
        "{:?}",
        causes(&doc)
    );
    let go = doc
        .verdicts
        .iter()
        .find(|v| v.runtime == "go")
        .expect("go verdict");
    assert!(!go.trusted, "Go ignores the CN: {}", r.stdout);
}

#[test]
fn s_server_client_certificate_required() {
    let ca = p("client-ca.pem");
    let Some(srv) = s_server("good", true, &["-Verify", "1", "-CAfile", &ca]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    let e = doc.error.as_ref().unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(e.cause, "client-cert-required", "{}", r.stdout);
    let hs = doc.handshake.as_ref().unwrap();
    assert!(hs.client_cert_requested && !hs.completed);
    assert_eq!(
        hs.acceptable_client_cas,
        vec!["O=tlsdoctor tests, CN=tlsdoctor Client CA".to_string()]
    );
    // The server's chain was seen: a diagnosis (1), not "unreachable" (3).
    assert_eq!(doc.chain.len(), 2);
    assert_eq!(r.code, 1);
    // Presenting the certificate completes the handshake.
    let r = connect(
        &srv.addr(),
        &[
            "--name",
            "db.test",
            "--ca",
            &p("root.pem"),
            "--client-cert",
            &p("client.pem"),
            "--client-key",
            &p("client.key"),
        ],
    );
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert!(doc.handshake.unwrap().completed);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn s_server_client_certificate_required_tls12() {
    let ca = p("client-ca.pem");
    let Some(srv) = s_server("good", true, &["-tls1_2", "-Verify", "1", "-CAfile", &ca]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert_eq!(
        doc.error.as_ref().map(|e| e.cause.as_str()),
        Some("client-cert-required"),
        "{}",
        r.stdout
    );
    let hs = doc.handshake.unwrap();
    assert_eq!(hs.version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        hs.acceptable_client_cas,
        vec!["O=tlsdoctor tests, CN=tlsdoctor Client CA".to_string()]
    );
}

#[test]
fn s_server_tls13_only_and_tls12_only() {
    let Some(srv) = s_server("good", true, &["-tls1_3"]) else {
        return;
    };
    let r = connect(
        &srv.addr(),
        &["--name", "db.test", "--ca", &p("root.pem"), "--alpn", "h2"],
    );
    let hs = r.doc().handshake.unwrap();
    assert_eq!(hs.version.as_deref(), Some("TLSv1.3"));
    assert!(hs.cipher.unwrap().starts_with("TLS13_"));
    drop(srv);
    let Some(srv) = s_server("good", true, &["-tls1_2"]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    let hs = doc.handshake.unwrap();
    assert_eq!(hs.version.as_deref(), Some("TLSv1.2"));
    assert!(
        hs.cipher.unwrap().starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
}

fn pg() -> Option<&'static servers::Postgres> {
    let f = fx();
    let chain = std::fs::read_to_string(f.pki.path("good-chain.pem")).unwrap();
    let key = std::fs::read_to_string(f.pki.path("good.key")).unwrap();
    servers::postgres(&chain, &key)
}

#[test]
fn postgres_tls_trusted_with_ca() {
    let Some(pg) = pg() else { return };
    let target = format!("postgres://app@127.0.0.1:{}/app", pg.tls.port);
    let r = connect(&target, &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert_eq!(doc.target.as_ref().unwrap().starttls, "postgres");
    assert_eq!(
        doc.network.as_ref().unwrap().server_greeting.as_deref(),
        Some("PostgreSQL: S (TLS accepted)")
    );
    assert_eq!(doc.chain.len(), 2);
    assert!(doc.findings.iter().all(|f| f.code != "bytes-after-starttls"));
    let server = doc.server.clone().unwrap();
    assert_eq!(server["ssl_response"], "S");
    assert_eq!(server["libpq"]["sslmode=verify-full"], "connects", "{}", r.stdout);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn postgres_tls_untrusted() {
    let Some(pg) = pg() else { return };
    let target = format!("127.0.0.1:{}", pg.tls.port);
    let r = connect(&target, &["--starttls", "postgres", "--name", "db.test"]);
    let doc = r.doc();
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        // The server sent leaf + intermediate; the intermediate's issuer (the root) is
        // in no store: an untrusted root (the trust store, not the server, needs fixing).
        causes(&doc).contains(&"unknown-authority".to_string()),
        "{:?}",
        causes(&doc)
    );
    let server = doc.server.unwrap();
    assert!(server["libpq"]["sslmode=require"]
        .as_str()
        .unwrap()
        .starts_with("connects"));
    assert!(server["libpq"]["sslmode=verify-full"]
        .as_str()
        .unwrap()
        .starts_with("fails"));
    assert!(doc.findings.iter().any(|f| f.code == "libpq-sslmode"));
}

#[test]
fn postgres_ssl_off_is_starttls_refused() {
    let Some(pg) = pg() else { return };
    let target = format!("postgresql://127.0.0.1:{}/db", pg.plain.port);
    let r = connect(&target, &[]);
    let doc = r.doc();
    assert_eq!(
        doc.error.as_ref().unwrap().cause,
        "starttls-refused",
        "{}",
        r.stdout
    );
    assert_eq!(doc.server.unwrap()["ssl_response"], "N");
    assert_eq!(r.code, 3);
}

#[test]
fn postgres_on_another_port_is_detected_by_auto() {
    // Not 5432, no scheme, no --starttls: PostgreSQL closes on the ClientHello without a
    // word; `auto` must confirm it with an SSLRequest and carry on, saying so.
    let Some(pg) = pg() else { return };
    let target = format!("127.0.0.1:{}", pg.tls.port);
    let r = connect(&target, &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(doc.target.as_ref().unwrap().starttls, "postgres");
    let found = doc.findings.iter().find(|f| f.code == "dialogue-detected");
    assert!(
        found.is_some_and(|f| f.message.contains("--starttls postgres")),
        "{}",
        r.stdout
    );
    let target = format!("127.0.0.1:{}", pg.plain.port);
    let r = connect(&target, &[]);
    let doc = r.doc();
    assert_eq!(
        doc.error.as_ref().unwrap().cause,
        "starttls-refused",
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 3);
    // Asked for plain TLS explicitly: no retry, the hint names the flag.
    let target = format!("127.0.0.1:{}", pg.tls.port);
    let r = connect(&target, &["--starttls", "none"]);
    let e = r.doc().error.unwrap();
    assert_eq!(e.cause, "handshake-failure");
    assert!(e.message.contains("--starttls postgres"), "{}", e.message);
}

#[test]
fn a_leaf_that_expires_within_two_weeks_is_a_warning() {
    // "good" ends 2040-01-01: evaluated four days before, every runtime still says ok
    // (exit 0), and the report warns that it stops working in 4 days.
    let Some(srv) = s_server("good", true, &[]) else {
        return;
    };
    let root = fx().world.path().display().to_string();
    let ca = p("root.pem");
    let args = |at: &'static str| {
        let addr = srv.addr();
        let args: Vec<String> = [
            "--json",
            "--root",
            &root,
            "connect",
            &addr,
            "--name",
            "db.test",
            "--ca",
            &ca,
            "--timeout",
            "5s",
            "--at",
            at,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args
    };
    let run = |at| {
        let a = args(at);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        tlsdoctor(&a, &[])
    };
    let r = run("2039-12-28T00:00:00Z");
    assert_eq!(r.code, 0, "{}", r.stdout);
    let doc = r.doc();
    let f = doc.findings.iter().find(|f| f.code == "expires-soon");
    assert!(
        f.is_some_and(|f| f.message.contains("expires in 4 days")),
        "{}",
        r.stdout
    );
    let r = run("2039-11-01T00:00:00Z");
    assert!(
        r.doc().findings.iter().all(|f| f.code != "expires-soon"),
        "{}",
        r.stdout
    );
}

#[test]
fn mysql_dialogue_against_postgres_names_postgres() {
    // PostgreSQL waits for the client: a server-first dialogue hears nothing, and the
    // advice must include the dialogue that fits, not only plain TLS.
    let Some(pg) = pg() else { return };
    let target = format!("127.0.0.1:{}", pg.tls.port);
    let r = connect(&target, &["--starttls", "mysql"]);
    let e = r.doc().error.unwrap();
    assert_eq!(e.cause, "timeout", "{}", e.message);
    assert!(e.message.contains("--starttls postgres"), "{}", e.message);
    assert_eq!(r.code, 3);
}

#[test]
fn postgres_15_rejects_direct_tls() {
    let Some(pg) = pg() else { return };
    let target = format!("127.0.0.1:{}", pg.tls.port);
    let r = connect(&target, &["--starttls", "postgres-direct", "--name", "db.test"]);
    let doc = r.doc();
    assert_eq!(
        doc.error.as_ref().unwrap().cause,
        "handshake-failure",
        "{}",
        r.stdout
    );
    assert_eq!(doc.server.unwrap()["negotiation"], "direct");
    assert_eq!(r.code, 3);
}

fn maria() -> Option<&'static servers::Mariadb> {
    let f = fx();
    let chain = std::fs::read_to_string(f.pki.path("good-chain.pem")).unwrap();
    let key = std::fs::read_to_string(f.pki.path("good.key")).unwrap();
    servers::mariadb(&chain, &key)
}

#[test]
fn mariadb_tls_with_fixture_chain() {
    let Some(db) = maria() else { return };
    let target = format!("mysql://root@127.0.0.1:{}", db.tls.port);
    let r = connect(&target, &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert_eq!(doc.chain.len(), 2);
    let server = doc.server.clone().unwrap();
    assert_eq!(server["product"], "MariaDB");
    assert_eq!(server["ssl_offered"], true);
    assert_eq!(server["ssl_mode"]["VERIFY_IDENTITY"], "connects", "{}", r.stdout);
    assert!(doc
        .network
        .unwrap()
        .server_greeting
        .unwrap()
        .starts_with("MariaDB "));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Closed politely (a login attempt, then COM_QUIT): not an interrupted connection,
    // which max_connect_errors would count towards blocking this host.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read_to_string(&db.tls.log).unwrap();
    assert!(log.contains("ready for connections"));
    assert!(!log.contains("Aborted connection"), "{log}");
}

#[test]
fn mariadb_without_tls_is_starttls_refused_with_version() {
    let Some(db) = maria() else { return };
    let target = format!("127.0.0.1:{}", db.plain.port);
    let r = connect(&target, &["--starttls", "mysql"]);
    let doc = r.doc();
    let e = doc.error.as_ref().unwrap();
    assert_eq!(e.cause, "starttls-refused", "{}", r.stdout);
    assert!(
        e.message.contains("MariaDB") && e.message.contains("-MariaDB"),
        "{}",
        e.message
    );
    let server = doc.server.unwrap();
    assert!(server["server_version"].as_str().unwrap().contains("MariaDB"));
    assert_eq!(server["ssl_offered"], false);
    assert_eq!(r.code, 3);
    // Without --starttls on a non-standard port: sniffed, retried as MySQL, and said so.
    let r = connect(&target, &[]);
    let doc = r.doc();
    assert_eq!(
        doc.error.as_ref().unwrap().cause,
        "starttls-refused",
        "{}",
        r.stdout
    );
    assert_eq!(doc.target.unwrap().starttls, "mysql");
    assert!(
        doc.findings.iter().any(|f| f.code == "dialogue-detected"),
        "{}",
        r.stdout
    );
}

#[test]
fn human_report_reads_like_a_transcript() {
    let Some(srv) = s_server("wrong", true, &[]) else {
        return;
    };
    let root = fx().world.path().display().to_string();
    let target = srv.addr();
    let r = tlsdoctor(
        &[
            "--root",
            &root,
            "--color",
            "never",
            "connect",
            &target,
            "--name",
            "db.test",
            "--ca",
            &p("root.pem"),
            "--at",
            AT,
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("connect {target} → {target}"));
    assert!(lines[1].starts_with("  TLS: TLSv1.3 TLS13_"), "{}", r.stdout);
    assert!(lines[1].ends_with(", SNI db.test"), "{}", r.stdout);
    assert!(r.stdout.contains("✘ go"), "{}", r.stdout);
    assert!(r.stdout.contains("name-mismatch"), "{}", r.stdout);
    assert!(
        r.stdout.lines().all(|l| l.chars().count() <= 80),
        "wider than 80 columns:\n{}",
        r.stdout
    );
    // Quiet: verdict lines only, no header.
    let q = tlsdoctor(
        &[
            "--root",
            &root,
            "-q",
            "connect",
            &target,
            "--name",
            "db.test",
            "--ca",
            &p("root.pem"),
            "--at",
            AT,
        ],
        &[],
    );
    assert!(q.stdout.starts_with("✘ go"), "{}", q.stdout);
}

#[test]
fn s_server_tls11_only_is_protocol_version() {
    // OpenSSL 3 still speaks TLS 1.1 at security level 0, as old MySQL builds' servers do.
    let Some(srv) = s_server("good", true, &["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"]) else {
        return;
    };
    let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
    let doc = r.doc();
    let e = doc.error.as_ref().unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(e.cause, "protocol-version", "{}", r.stdout);
    assert!(doc.chain.is_empty());
    assert_eq!(r.code, 3);
}

#[test]
fn optional_client_certificate_does_not_fail_or_stall() {
    let ca = p("client-ca.pem");
    for version in ["-tls1_2", "-tls1_3"] {
        // -verify (lower case): the server asks for a certificate but does not require one.
        let Some(srv) = s_server("good", true, &[version, "-verify", "1", "-CAfile", &ca]) else {
            return;
        };
        let r = connect(&srv.addr(), &["--name", "db.test", "--ca", &p("root.pem")]);
        let doc = r.doc();
        assert!(doc.error.is_none(), "{version}: {}", r.stdout);
        let hs = doc.handshake.unwrap();
        assert!(hs.completed && hs.client_cert_requested, "{version}");
        assert!(
            r.elapsed < std::time::Duration::from_secs(1),
            "{version}: {:?}",
            r.elapsed
        );
        assert_eq!(r.code, 0);
    }
}
