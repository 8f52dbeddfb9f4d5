//! `tlsdoctor connect` against in-process peers: hostile ones (silent, trickling, garbage,
//! floods, huge chains, alerts, resets, injected bytes after a STARTTLS go-ahead), plain
//! HTTP, databases that refuse TLS, an HTTP CONNECT proxy, SNI rules, usage errors. Each
//! must end within the timeout plus one second with the right cause, never a panic.

#[path = "common/servers.rs"]
mod servers;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use servers::{tlsdoctor, Issued, Run};
use tlsdoctor::report::json::Document;

/// Accept `n` connections on 127.0.0.1 and hand each to `f`.
fn peer<F>(n: usize, f: F) -> u16
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let f = Arc::new(f);
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((s, _)) = l.accept() else { return };
            let f = f.clone();
            std::thread::spawn(move || f(s));
        }
    });
    port
}

/// A fixture World (never the host's stores) shared by the tests of this binary.
fn world() -> String {
    static W: std::sync::OnceLock<servers::Scratch> = std::sync::OnceLock::new();
    W.get_or_init(servers::unrelated_world)
        .path()
        .display()
        .to_string()
}

fn connect(port: u16, extra: &[&str]) -> Run {
    let target = format!("127.0.0.1:{port}");
    connect_to(&target, extra)
}

fn connect_to(target: &str, extra: &[&str]) -> Run {
    let root = world();
    let mut args = vec![
        "--json",
        "--root",
        root.as_str(),
        "connect",
        target,
        "--timeout",
        "2s",
        "--no-proxy",
    ];
    args.extend_from_slice(extra);
    tlsdoctor(&args, &[])
}

fn within_budget(r: &Run) {
    assert!(
        r.elapsed < Duration::from_secs(3),
        "took {:?} with a 2s budget\n{}\n{}",
        r.elapsed,
        r.stdout,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
}

fn expect_error(r: &Run, cause: &str, needle: &str) {
    within_budget(r);
    let doc = r.doc();
    let e = doc
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("no error in {}", r.stdout));
    assert_eq!(e.cause, cause, "{}", r.stdout);
    assert!(e.message.contains(needle), "{:?} lacks {needle:?}", e.message);
    assert_eq!(r.code, 3, "{}", r.stdout);
}

fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].to_vec()
}

/// A rustls server config for `chain` (leaf first) and the leaf's key.
fn server_config(chain: &[&Issued], leaf_key: &Issued) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = chain.iter().map(|c| c.cert.der().clone()).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(cfg)
}

/// Run a rustls server handshake on `s`; send the SNI seen.
fn serve_tls(cfg: Arc<rustls::ServerConfig>, mut s: TcpStream, sni: Option<mpsc::Sender<Option<String>>>) {
    let Ok(mut conn) = rustls::ServerConnection::new(cfg) else {
        return;
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let _ = conn.complete_io(&mut s);
    if let Some(tx) = sni {
        let _ = tx.send(conn.server_name().map(str::to_string));
    }
    while conn.is_handshaking() {
        if conn.complete_io(&mut s).is_err() {
            break;
        }
    }
    let _ = conn.complete_io(&mut s);
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn silent_peer_times_out() {
    let port = peer(1, |s| {
        std::thread::sleep(Duration::from_secs(6));
        drop(s);
    });
    let r = connect(port, &[]);
    expect_error(&r, "timeout", "time budget (2s)");
}

#[test]
fn trickling_peer_times_out() {
    let port = peer(1, |mut s| {
        // A TLS record header promising more, one byte a second.
        for b in [0x16u8, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xff, 0x03, 0x03] {
            if s.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let r = connect(port, &[]);
    expect_error(&r, "timeout", "time budget");
}

#[test]
fn garbage_is_no_tls() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(&[
            0x00, 0x9f, 0x33, 0x01, 0xfe, 0x42, 0x00, 0x13, 0x37, 0x00, 0x00, 0x01,
        ]);
        std::thread::sleep(Duration::from_secs(1));
    });
    let r = connect(port, &[]);
    expect_error(&r, "no-tls", "not TLS (00 9f 33 01");
}

#[test]
fn ten_megabytes_of_data_end_quickly() {
    let port = peer(1, |mut s| {
        let chunk = vec![b'A'; 64 * 1024];
        for _ in 0..160 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let r = connect(port, &[]);
    expect_error(&r, "no-tls", "AAAA");
    assert!(r.elapsed < Duration::from_secs(1), "{:?}", r.elapsed);
}

#[test]
fn ten_megabytes_of_tls_records_end_quickly() {
    let port = peer(1, |mut s| {
        let mut rec = vec![0x17u8, 0x03, 0x03, 0x40, 0x00];
        rec.extend(std::iter::repeat_n(0u8, 0x4000));
        for _ in 0..640 {
            if s.write_all(&rec).is_err() {
                return;
            }
        }
    });
    let r = connect(port, &[]);
    within_budget(&r);
    let cause = r.error_cause().expect("an error");
    assert_eq!(cause, "handshake-failure", "{}", r.stdout);
}

#[test]
fn hundred_certificate_chain_is_recorded() {
    let root = servers::ca("Deep Root", None);
    let mut cas = vec![root];
    for i in 0..98 {
        let next = servers::ca(&format!("Deep CA {i}"), cas.last());
        cas.push(next);
    }
    let leaf = servers::leaf("deep.test", &["deep.test"], cas.last().unwrap(), 2020, 2040);
    let mut chain: Vec<&Issued> = vec![&leaf];
    chain.extend(cas.iter().rev().take(99));
    let cfg = server_config(&chain, &leaf);
    let port = peer(1, move |s| serve_tls(cfg.clone(), s, None));
    let r = connect(port, &["--name", "deep.test", "--at", servers::AT]);
    within_budget(&r);
    let doc = r.doc();
    assert_eq!(doc.chain.len(), 100, "{}", r.stdout);
    assert!(doc.handshake.as_ref().unwrap().completed);
    assert_eq!(doc.chain[0].subject, "O=tlsdoctor tests, CN=deep.test");
    assert_ne!(r.code, 3);
}

#[test]
fn protocol_version_alert() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = connect(port, &[]);
    expect_error(&r, "protocol-version", "protocol_version (70)");
}

#[test]
fn old_server_hello_is_protocol_version() {
    // A TLS 1.0 ServerHello: version 0x0301, random, empty session id, a CBC suite.
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let mut body = vec![0x03, 0x01];
        body.extend_from_slice(&[7u8; 32]);
        body.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
        let mut hs = vec![0x02, 0x00, 0x00, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01, 0x00, hs.len() as u8];
        rec.extend_from_slice(&hs);
        let _ = s.write_all(&rec);
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = connect(port, &[]);
    expect_error(&r, "protocol-version", "TLS 1.0");
}

#[test]
fn reset_mid_handshake() {
    let port = peer(1, |mut s| {
        // Leave the ClientHello unread, send half a ServerHello, close: the kernel resets.
        std::thread::sleep(Duration::from_millis(200));
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0x00, 0x50, 0x02, 0x00]);
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    });
    let r = connect(port, &[]);
    within_budget(&r);
    let doc = r.doc();
    let e = doc.error.unwrap();
    assert_eq!(e.cause, "handshake-failure");
    assert!(
        e.message.contains("reset") || e.message.contains("closed"),
        "{}",
        e.message
    );
}

#[test]
fn bytes_after_postgres_s_are_reported_and_not_fed_to_tls() {
    let root = servers::ca("PG Root", None);
    let leaf = servers::leaf("db.test", &["db.test"], &root, 2020, 2040);
    let cfg = server_config(&[&leaf], &leaf);
    let port = peer(1, move |mut s| {
        let mut req = [0u8; 8];
        if s.read_exact(&mut req).is_err() || req != [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
            return;
        }
        // The go-ahead and, in the same segment, injected plaintext (CVE-2021-23222).
        let _ = s.write_all(b"SINJECTED\x00SELECT 1;");
        serve_tls(cfg.clone(), s, None);
    });
    let r = connect(port, &["--starttls", "postgres", "--name", "db.test"]);
    within_budget(&r);
    let doc = r.doc();
    let f = doc
        .findings
        .iter()
        .find(|f| f.code == "bytes-after-starttls")
        .unwrap_or_else(|| panic!("no finding: {}", r.stdout));
    assert!(
        f.message.contains("18 byte(s)") && f.message.contains("INJECTED"),
        "{}",
        f.message
    );
    // Discarded, not fed to TLS: the handshake still completed.
    assert!(doc.handshake.unwrap().completed, "{}", r.stdout);
    assert_eq!(
        doc.network.unwrap().server_greeting.as_deref(),
        Some("PostgreSQL: S (TLS accepted)")
    );
}

#[test]
fn plain_http_is_no_tls() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
    });
    let r = connect(port, &[]);
    expect_error(&r, "no-tls", "this is HTTP (HTTP/1.1 400 Bad Request)");
    // Human output says so too.
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello");
    });
    let target = format!("127.0.0.1:{port}");
    let h = tlsdoctor(&["connect", &target, "--timeout", "2s"], &[]);
    assert_eq!(h.code, 3);
    assert!(
        h.stdout.contains("✘ no-tls: this is HTTP (HTTP/1.0 200 OK)"),
        "{}",
        h.stdout
    );
    // `python3 -m http.server` takes the ClientHello for an HTTP/0.9 request and answers
    // with a bare error page, no status line: still HTTP.
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<title>Error response</title>\n</head>\n<body>Error code: 400</body></html>\n");
    });
    let r = connect(port, &[]);
    expect_error(&r, "no-tls", "this is HTTP (an HTML page without a status line)");
}

#[test]
fn refused_port() {
    let port = servers::free_port();
    let r = connect(port, &["--name", "db.test"]);
    expect_error(&r, "connection-refused", "connection refused");
    // The report still says which SNI would have been sent.
    let doc = r.doc();
    assert_eq!(doc.target.unwrap().server_name.as_deref(), Some("db.test"));
    assert!(doc.handshake.is_none() && doc.chain.is_empty() && doc.verdicts.is_empty());
}

#[test]
fn unresolvable_name() {
    let r = tlsdoctor(
        &[
            "--json",
            "connect",
            "no-such-host.invalid:443",
            "--timeout",
            "2s",
            "--no-proxy",
        ],
        &[],
    );
    within_budget(&r);
    let cause = r.error_cause().unwrap();
    assert!(cause == "dns-failure" || cause == "timeout", "{}", r.stdout);
    assert_eq!(r.code, 3);
}

#[test]
fn postgres_n_and_e_answers() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"N");
        std::thread::sleep(Duration::from_millis(300));
    });
    let r = connect(port, &["--starttls", "postgres"]);
    expect_error(&r, "starttls-refused", "answered N");
    let server = r.doc().server.unwrap();
    assert_eq!(server["ssl_response"], "N");
    assert!(server["libpq"]["sslmode=require"]
        .as_str()
        .unwrap()
        .starts_with("fails"));

    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"E\x00\x00\x00\x20SFATAL\x00Munsupported frontend protocol\x00\x00");
        std::thread::sleep(Duration::from_millis(300));
    });
    let r = connect(port, &["--starttls", "postgres"]);
    expect_error(&r, "starttls-refused", "answered the SSLRequest with an error");
    assert!(
        !r.stdout.contains("unsupported frontend"),
        "unauthenticated text must not be shown"
    );
}

#[test]
fn tls_alert_on_postgres_dialogue_says_use_none() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);
    });
    let r = connect(port, &["--starttls", "postgres"]);
    expect_error(&r, "no-tls", "use --starttls none");
}

fn mysql_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

fn mysql_greeting(version: &str, ssl: bool) -> Vec<u8> {
    let mut g = vec![0x0a];
    g.extend_from_slice(version.as_bytes());
    g.push(0);
    g.extend_from_slice(&42u32.to_le_bytes());
    g.extend_from_slice(b"12345678\0");
    let caps: u16 = if ssl { 0xffff } else { 0xf7ff };
    g.extend_from_slice(&caps.to_le_bytes());
    g.push(33);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&0x81ffu16.to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0u8; 10]);
    g.extend_from_slice(b"123456789012\0mysql_native_password\0");
    mysql_packet(0, &g)
}

#[test]
fn mysql_err_instead_of_greeting() {
    let port = peer(1, |mut s| {
        let mut p = vec![0xff];
        p.extend_from_slice(&1130u16.to_le_bytes());
        p.extend_from_slice(b"Host '10.1.2.3' is not allowed to connect to this MySQL server\x1b]0;x\x07");
        let _ = s.write_all(&mysql_packet(0, &p));
    });
    let r = connect(port, &["--starttls", "mysql"]);
    expect_error(&r, "connection-refused", "ERROR 1130");
    let doc = r.doc();
    let server = doc.server.unwrap();
    assert_eq!(server["error_code"], 1130);
    let msg = server["error_message"].as_str().unwrap();
    assert!(
        msg.contains("\\x1b]0;x\\x07") && !msg.contains('\x1b'),
        "not sanitized: {msg:?}"
    );
}

#[test]
fn mysql_without_client_ssl_is_refused_with_version() {
    let port = peer(1, |mut s| {
        let _ = s.write_all(&mysql_greeting("5.7.44-log", false));
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = connect(port, &["--starttls", "mysql"]);
    expect_error(&r, "starttls-refused", "MySQL 5.7.44-log");
    assert_eq!(r.doc().server.unwrap()["server_version"], "5.7.44-log");
}

#[test]
fn mysql_sslrequest_then_tls() {
    let root = servers::ca("MySQL_Server_8.0.36_Auto_Generated_CA_Certificate", None);
    let leaf = servers::leaf(
        "MySQL_Server_8.0.36_Auto_Generated_Server_Certificate",
        &[],
        &root,
        2020,
        2040,
    );
    let cfg = server_config(&[&leaf], &leaf);
    let (tx, rx) = mpsc::channel();
    let port = peer(1, move |mut s| {
        let _ = s.write_all(&mysql_greeting("8.0.36", true));
        let mut req = [0u8; 36];
        if s.read_exact(&mut req).is_err() {
            return;
        }
        let _ = tx.send(req.to_vec());
        serve_tls(cfg.clone(), s, None);
    });
    let r = connect(port, &["--starttls", "mysql", "--at", servers::AT]);
    within_budget(&r);
    let req = rx.recv_timeout(Duration::from_secs(2)).expect("SSLRequest");
    assert_eq!(&req[..4], &[0x20, 0, 0, 1], "36-byte SSLRequest, seq 1");
    let flags = u32::from_le_bytes([req[4], req[5], req[6], req[7]]);
    assert_eq!(flags & 0x0a00, 0x0a00, "CLIENT_SSL | CLIENT_PROTOCOL_41");
    let doc = r.doc();
    assert!(doc.handshake.as_ref().unwrap().completed, "{}", r.stdout);
    assert!(
        doc.findings.iter().any(|f| f.code == "mysql-auto-generated-ca"),
        "{}",
        r.stdout
    );
    let server = doc.server.unwrap();
    assert_eq!(server["product"], "MySQL");
    assert!(server["ssl_mode"]["REQUIRED"]
        .as_str()
        .unwrap()
        .starts_with("connects"));
}

fn smtp_peer(offer: bool, cfg: Option<Arc<rustls::ServerConfig>>) -> u16 {
    peer(1, move |mut s| {
        let _ = s.write_all(b"220-mail.test ESMTP\r\n220 ready\r\n");
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        let mut read_line = |s: &mut TcpStream| {
            line.clear();
            while s.read(&mut b).unwrap_or(0) == 1 {
                line.push(b[0]);
                if b[0] == b'\n' {
                    break;
                }
            }
            String::from_utf8_lossy(&line).into_owned()
        };
        let ehlo = read_line(&mut s);
        if !ehlo.starts_with("EHLO ") {
            return;
        }
        let ext = if offer { "250-STARTTLS\r\n" } else { "" };
        let _ = s.write_all(format!("250-mail.test\r\n250-PIPELINING\r\n{ext}250 8BITMIME\r\n").as_bytes());
        if !offer {
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        if read_line(&mut s) != "STARTTLS\r\n" {
            return;
        }
        let _ = s.write_all(b"220 2.0.0 go ahead\r\n");
        if let Some(cfg) = &cfg {
            serve_tls(cfg.clone(), s, None);
        }
    })
}

#[test]
fn smtp_starttls() {
    let root = servers::ca("Mail Root", None);
    let leaf = servers::leaf("mail.test", &["mail.test"], &root, 2020, 2040);
    let port = smtp_peer(true, Some(server_config(&[&leaf], &leaf)));
    let r = connect(port, &["--starttls", "smtp", "--name", "mail.test"]);
    within_budget(&r);
    let doc = r.doc();
    assert!(doc.handshake.as_ref().unwrap().completed, "{}", r.stdout);
    assert_eq!(
        doc.network.unwrap().server_greeting.as_deref(),
        Some("SMTP: 220-mail.test ESMTP")
    );
    let server = doc.server.unwrap();
    assert_eq!(server["starttls_offered"], true);
    assert!(doc.findings.iter().all(|f| f.code != "bytes-after-starttls"));

    let port = smtp_peer(false, None);
    let r = connect(port, &["--starttls", "smtp"]);
    expect_error(&r, "starttls-refused", "does not offer STARTTLS");
}

#[test]
fn sni_rules() {
    let root = servers::ca("SNI Root", None);
    let leaf = servers::leaf("sni.test", &["sni.test", "127.0.0.1"], &root, 2020, 2040);
    let cfg = server_config(&[&leaf], &leaf);
    // An IP address: no SNI, even with --name.
    let (tx, rx) = mpsc::channel();
    let c = cfg.clone();
    let port = peer(1, move |s| serve_tls(c.clone(), s, Some(tx.clone())));
    let r = connect(port, &[]);
    assert_eq!(rx.recv_timeout(Duration::from_secs(3)).unwrap(), None);
    assert_eq!(r.doc().target.unwrap().server_name, None);
    // --servername sends it.
    let (tx, rx) = mpsc::channel();
    let port = peer(1, move |s| serve_tls(cfg.clone(), s, Some(tx.clone())));
    let r = connect(port, &["--servername", "sni.test"]);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(3)).unwrap().as_deref(),
        Some("sni.test")
    );
    assert_eq!(r.doc().target.unwrap().server_name.as_deref(), Some("sni.test"));
}

/// A CONNECT proxy that sends every tunnel to `backend` and reports the authority asked for.
fn connect_proxy(backend: u16, seen: mpsc::Sender<String>) -> u16 {
    peer(1, move |mut client| {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut b).unwrap_or(0) == 0 {
                return;
            }
            head.push(b[0]);
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let _ = seen.send(line);
        let Ok(mut up) = TcpStream::connect(("127.0.0.1", backend)) else {
            return;
        };
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let mut c2 = client.try_clone().unwrap();
        let mut u2 = up.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut u2, &mut c2);
        });
        let _ = std::io::copy(&mut client, &mut up);
    })
}

#[test]
fn https_proxy_from_environment() {
    let root = servers::ca("Proxy Root", None);
    let leaf = servers::leaf("svc.test", &["svc.test"], &root, 2020, 2040);
    let cfg = server_config(&[&leaf], &leaf);
    let backend = peer(1, move |s| serve_tls(cfg.clone(), s, None));
    let (tx, rx) = mpsc::channel();
    let proxy = connect_proxy(backend, tx);
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    // svc.test does not resolve: only the proxy can reach it, as in a corporate network.
    // The proxy settings belong to the evaluated World (--env), not to tlsdoctor's own
    // process environment.
    let root = world();
    let https_proxy = format!("HTTPS_PROXY={proxy_url}");
    let r = tlsdoctor(
        &[
            "--json",
            "--root",
            &root,
            "--env",
            &https_proxy,
            "--env",
            "NO_PROXY=localhost,.internal",
            "connect",
            "https://svc.test/",
            "--timeout",
            "3s",
        ],
        &[("HTTPS_PROXY", "http://127.0.0.1:9"), ("NO_PROXY", "*")],
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(3)).unwrap(),
        "CONNECT svc.test:443 HTTP/1.1"
    );
    let doc = r.doc();
    assert_eq!(
        doc.network.as_ref().unwrap().proxy.as_deref(),
        Some(proxy_url.as_str()),
        "{}",
        r.stdout
    );
    assert!(doc.handshake.as_ref().unwrap().completed, "{}", r.stdout);
    assert_eq!(doc.chain[0].subject, "O=tlsdoctor tests, CN=svc.test");
    assert!(doc.findings.iter().any(|f| f.code == "proxy-used"));

    // NO_PROXY covers it: direct, and svc.test does not resolve.
    let r = tlsdoctor(
        &[
            "--json",
            "--root",
            &root,
            "--env",
            &https_proxy,
            "--env",
            "no_proxy=*.test",
            "connect",
            "https://svc.test/",
            "--timeout",
            "2s",
        ],
        &[],
    );
    let doc = r.doc();
    assert_eq!(doc.network.unwrap().proxy, None);
    let cause = doc.error.unwrap().cause;
    assert!(cause == "dns-failure" || cause == "timeout", "{cause}");
}

#[test]
fn proxy_refusing_connect() {
    let port = peer(1, |mut s| {
        let _ = read_some(&mut s);
        let _ = s.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(300));
    });
    let proxy = format!("127.0.0.1:{port}");
    let r = tlsdoctor(
        &[
            "--json",
            "connect",
            "example.test:443",
            "--timeout",
            "2s",
            "--proxy",
            &proxy,
        ],
        &[],
    );
    expect_error(&r, "connection-refused", "407");
    // The report must not claim the connection went through it.
    let doc = r.doc();
    let used = doc.findings.iter().find(|f| f.code == "proxy-used").unwrap();
    assert!(
        !used.message.contains("went through") && used.message.contains("failed"),
        "{}",
        used.message
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["connect", "host:99999"],
        vec!["connect", "http://example.test"],
        vec!["connect", "a b"],
        vec!["connect", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem"],
        vec![
            "connect",
            "127.0.0.1:1",
            "--client-cert",
            "/nonexistent/c.pem",
            "--client-key",
            "/nonexistent/k.pem",
        ],
        vec!["connect", "127.0.0.1:1", "--proxy", "socks5://127.0.0.1:1080"],
        // An empty name would verify nothing and say "ok"; an empty ALPN is invalid.
        vec!["connect", "127.0.0.1:1", "--name", ""],
        vec!["connect", "127.0.0.1:1", "--name", "  "],
        vec!["connect", "127.0.0.1:1", "--alpn", ""],
    ] {
        let r = tlsdoctor(&args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.starts_with("tlsdoctor: error: "), "{}", r.stderr);
    }
    // A zero budget is a usage error (clap's message), not a silent 10 s.
    for t in ["0", "0s", "0ms"] {
        let r = tlsdoctor(&["connect", "127.0.0.1:1", "--timeout", t], &[]);
        assert_eq!(r.code, 2, "--timeout {t}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("more than 0"), "{}", r.stderr);
    }
}

/// A scripted peer: for each step, read until `expect` has arrived (empty = read nothing)
/// and answer `reply`; then run TLS.
fn script_peer(steps: Vec<(&'static str, &'static str)>, cfg: Arc<rustls::ServerConfig>) -> u16 {
    peer(1, move |mut s| {
        for (expect, reply) in &steps {
            let mut got = Vec::new();
            let mut b = [0u8; 1];
            while !String::from_utf8_lossy(&got).contains(expect) {
                if s.read(&mut b).unwrap_or(0) != 1 || got.len() > 4096 {
                    return;
                }
                got.push(b[0]);
            }
            if s.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
        serve_tls(cfg.clone(), s, None);
    })
}

fn mail_cfg() -> Arc<rustls::ServerConfig> {
    let root = servers::ca("Dialogue Root", None);
    let leaf = servers::leaf("mail.test", &["mail.test"], &root, 2020, 2040);
    server_config(&[&leaf], &leaf)
}

fn completed(r: &Run) -> Document {
    within_budget(r);
    let doc = r.doc();
    assert!(doc.error.is_none(), "{}", r.stdout);
    assert!(doc.handshake.as_ref().unwrap().completed, "{}", r.stdout);
    assert!(
        doc.findings.iter().all(|f| f.code != "bytes-after-starttls"),
        "{}",
        r.stdout
    );
    assert_eq!(doc.chain[0].subject, "O=tlsdoctor tests, CN=mail.test");
    doc
}

#[test]
fn imap_starttls() {
    let port = script_peer(
        vec![
            ("", "* OK IMAP4rev1 ready\r\n"),
            (
                "a CAPABILITY\r\n",
                "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na OK done\r\n",
            ),
            ("b STARTTLS\r\n", "b OK Begin TLS negotiation now\r\n"),
        ],
        mail_cfg(),
    );
    let doc = completed(&connect(port, &["--starttls", "imap"]));
    assert_eq!(doc.server.unwrap()["starttls_offered"], true);
    // Refused: no STARTTLS capability.
    let port = script_peer(
        vec![
            ("", "* OK ready\r\n"),
            ("a CAPABILITY\r\n", "* CAPABILITY IMAP4rev1\r\na OK done\r\n"),
        ],
        mail_cfg(),
    );
    expect_error(
        &connect(port, &["--starttls", "imap"]),
        "starttls-refused",
        "IMAP",
    );
}

#[test]
fn pop3_stls() {
    let port = script_peer(
        vec![("", "+OK POP3 ready\r\n"), ("STLS\r\n", "+OK Begin TLS\r\n")],
        mail_cfg(),
    );
    let doc = completed(&connect(port, &["--starttls", "pop3"]));
    assert_eq!(
        doc.network.unwrap().server_greeting.as_deref(),
        Some("POP3: +OK POP3 ready")
    );
    let port = script_peer(
        vec![("", "+OK ready\r\n"), ("STLS\r\n", "-ERR not here\r\n")],
        mail_cfg(),
    );
    expect_error(
        &connect(port, &["--starttls", "pop3"]),
        "starttls-refused",
        "-ERR not here",
    );
}

#[test]
fn ftp_auth_tls() {
    let port = script_peer(
        vec![
            ("", "220-Welcome\r\n220 FTP ready\r\n"),
            ("AUTH TLS\r\n", "234 AUTH TLS OK.\r\n"),
        ],
        mail_cfg(),
    );
    completed(&connect(port, &["--starttls", "ftp"]));
    let port = script_peer(
        vec![("", "220 FTP ready\r\n"), ("AUTH TLS\r\n", "500 no\r\n")],
        mail_cfg(),
    );
    expect_error(
        &connect(port, &["--starttls", "ftp"]),
        "starttls-refused",
        "500 no",
    );
}

#[test]
fn xmpp_starttls() {
    let port = script_peer(
        vec![
            (
                "version='1.0'>",
                "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='mail.test' id='x' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
            ),
            ("xmpp-tls'/>", "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        ],
        mail_cfg(),
    );
    let doc = completed(&connect_to(
        &format!("127.0.0.1:{port}"),
        &["--starttls", "xmpp", "--name", "mail.test"],
    ));
    assert_eq!(doc.server.unwrap()["starttls_offered"], true);
}

#[test]
fn ldap_starttls() {
    let cfg = mail_cfg();
    let ok = peer(1, move |mut s| {
        let mut req = [0u8; 31];
        if s.read_exact(&mut req).is_err() || &req[9..] != b"1.3.6.1.4.1.1466.20037" {
            return;
        }
        let _ = s.write_all(&[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ]);
        serve_tls(cfg.clone(), s, None);
    });
    completed(&connect(ok, &["--starttls", "ldap"]));
    let refused = peer(1, |mut s| {
        let mut req = [0u8; 31];
        let _ = s.read_exact(&mut req);
        let _ = s.write_all(&[
            0x30, 0x10, 0x02, 0x01, 0x01, 0x78, 0x0b, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04, 0x04, b'n', b'o',
            b'p', b'e',
        ]);
        std::thread::sleep(Duration::from_millis(300));
    });
    expect_error(
        &connect(refused, &["--starttls", "ldap"]),
        "starttls-refused",
        "resultCode 2 nope",
    );
}

#[test]
fn ipv6_literal_target() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("\n!!! SKIPPED ipv6_literal_target: no IPv6 loopback here !!!\n");
        return;
    };
    let port = l.local_addr().unwrap().port();
    let cfg = mail_cfg();
    std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            serve_tls(cfg, s, None);
        }
    });
    let doc = completed(&connect_to(&format!("[::1]:{port}"), &["--name", "mail.test"]));
    let net = doc.network.unwrap();
    assert_eq!(net.addresses, vec![format!("[::1]:{port}")]);
    assert_eq!(net.connected_to, Some(format!("[::1]:{port}")));
}

#[test]
fn server_first_dialogue_against_a_silent_server_ends_early() {
    let port = peer(1, |s| {
        std::thread::sleep(Duration::from_secs(8));
        drop(s);
    });
    let target = format!("127.0.0.1:{port}");
    let root = world();
    let r = tlsdoctor(
        &[
            "--json",
            "--root",
            &root,
            "connect",
            &target,
            "--starttls",
            "mysql",
            "--timeout",
            "6s",
        ],
        &[],
    );
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    let e = r.doc().error.unwrap();
    assert_eq!(e.cause, "timeout");
    assert!(
        e.message.contains("sent nothing within 2s") && e.message.contains("--starttls none"),
        "{}",
        e.message
    );
}

#[test]
fn silent_close_that_is_not_postgres_keeps_the_handshake_error() {
    // Closes on the ClientHello, then sits silent on the confirming SSLRequest: `auto`
    // must not blame PostgreSQL, and the guess must not eat the whole budget.
    let port = peer(2, |mut s| {
        let first = read_some(&mut s);
        if first.first() == Some(&0x16) {
            return; // the ClientHello: close without a word
        }
        std::thread::sleep(Duration::from_secs(6));
    });
    let root = world();
    let target = format!("127.0.0.1:{port}");
    let r = tlsdoctor(
        &[
            "--json",
            "--root",
            &root,
            "connect",
            &target,
            "--timeout",
            "10s",
            "--no-proxy",
        ],
        &[],
    );
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    let doc = r.doc();
    let e = doc.error.as_ref().unwrap();
    assert_eq!(e.cause, "handshake-failure", "{}", r.stdout);
    assert!(e.message.contains("closed the connection"), "{}", e.message);
    assert!(doc.findings.iter().all(|f| f.code != "dialogue-detected"));
    assert_eq!(r.code, 3);
}

#[test]
fn postgres_dialogue_against_a_peer_that_closes_or_waits_says_why() {
    // A TLS-only server closes on the SSLRequest; an HTTP server waits for the rest of a
    // request line. Neither is PostgreSQL, and the message says what to try.
    let closes = peer(1, |mut s| {
        let _ = read_some(&mut s);
    });
    let r = connect(closes, &["--starttls", "postgres"]);
    expect_error(&r, "handshake-failure", "PostgreSQL always answers S or N");
    assert!(r.doc().error.unwrap().message.contains("--starttls none"));
    let waits = peer(1, |mut s| {
        let _ = read_some(&mut s);
        std::thread::sleep(Duration::from_secs(4));
    });
    let r = connect(waits, &["--starttls", "postgres"]);
    expect_error(&r, "timeout", "probably not PostgreSQL");
}

#[test]
fn greeting_timeout_names_the_budget_it_had() {
    // A 1 s budget: the greeting wait is cut to it, and the message must not claim 2 s.
    let port = peer(1, |s| {
        std::thread::sleep(Duration::from_secs(4));
        drop(s);
    });
    let target = format!("smtp://127.0.0.1:{port}");
    let root = world();
    let r = tlsdoctor(
        &["--json", "--root", &root, "connect", &target, "--timeout", "1s"],
        &[],
    );
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
    let e = r.doc().error.unwrap();
    assert_eq!(e.cause, "timeout");
    assert!(e.message.contains("sent nothing within 1s"), "{}", e.message);
}

#[test]
fn store_setup_problems_of_a_rejecting_runtime_are_reported() {
    let cfg = mail_cfg();
    let port = peer(1, move |s| serve_tls(cfg.clone(), s, None));
    let target = format!("127.0.0.1:{port}");
    let root = world();
    let r = tlsdoctor(
        &[
            "--json",
            "--root",
            &root,
            "--env",
            "SSL_CERT_FILE=/etc/ssl/missing.pem",
            "connect",
            &target,
            "--name",
            "mail.test",
            "--runtime",
            "openssl",
            "--timeout",
            "2s",
        ],
        &[],
    );
    within_budget(&r);
    let doc = r.doc();
    assert_eq!(r.code, 1, "{}", r.stdout);
    let f = doc
        .findings
        .iter()
        .find(|f| f.code == "ssl-cert-file-missing")
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(f.runtimes, vec!["openssl".to_string()]);
}

#[test]
fn connect_tries_every_address_in_order() {
    use tlsdoctor::probe::{net, Deadline};
    let refused: std::net::SocketAddr = format!("127.0.0.1:{}", servers::free_port()).parse().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let good = l.local_addr().unwrap();
    let d = Deadline::after(Duration::from_secs(2));
    let (_s, used) = net::connect_any(&[refused, good], &d).unwrap();
    assert_eq!(used, good);
    drop(l);
    let e = net::connect_any(&[refused, good], &d).unwrap_err();
    assert_eq!(e.cause.code(), "connection-refused");
    assert!(
        e.message.contains(&refused.to_string()) && e.message.contains(&good.to_string()),
        "{}",
        e.message
    );
}

#[test]
fn flood_during_a_dialogue_ends_quickly() {
    let port = peer(1, |mut s| {
        let chunk = vec![b'2'; 64 * 1024];
        for _ in 0..160 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let r = connect(port, &["--starttls", "smtp"]);
    expect_error(&r, "no-tls", "no end of line within 4096 bytes");
    assert!(r.elapsed < Duration::from_secs(1), "{:?}", r.elapsed);
}

#[test]
fn unusable_client_key_or_cert_says_why() {
    // An encrypted key and DER files are the usual reasons: the error names the fix.
    let pki = servers::Pki::new();
    let c = pki.leaf("client", "client.test", &["client.test"], 2025, 2039);
    let cert = pki.path("client.pem");
    let enc = pki.write(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQww\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let der_cert = pki.path("client.der");
    std::fs::write(&der_cert, c.cert.der()).unwrap();
    let key = pki.path("client.key");
    for (cert, key, needle) in [(&cert, &enc, "encrypted"), (&der_cert, &key, "looks like DER")] {
        let r = tlsdoctor(
            &[
                "connect",
                "127.0.0.1:1",
                "--client-cert",
                cert.to_str().unwrap(),
                "--client-key",
                key.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
}
