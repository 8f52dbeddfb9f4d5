//! The fuzz targets' inputs, replayed in the normal suite: every committed seed
//! (`fuzz/seeds/<target>/`) and every input the fuzzer once found failing
//! (`fuzz/regressions/<target>/`) goes through the same harness function the fuzz target
//! calls (`tlsdoctor::fuzzing`), so a crash found once stays fixed without nightly Rust.
//!
//! `capture_flights` (ignored; run by `scripts/fuzz-seeds`) records what real servers send
//! before their TLS go-ahead, as seeds for the dialogue targets — and, for TDS (no SQL
//! Server installs here), what the in-process TDS server that `tests/connect_tds.rs` proves
//! against FreeTDS `tsql` and `tedious` sends: its PRELOGIN answer and the whole TLS
//! handshake inside PRELOGIN packets, and its TDS 8 PRELOGIN answer inside TLS.

#[path = "common/servers.rs"]
mod servers;
#[path = "common/tds.rs"]
mod tds;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_fuzz_target_has_a_wrapper_and_seeds() {
    let targets = fuzz_dir().join("fuzz_targets");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in tlsdoctor::fuzzing::TARGETS {
        let wrapper = targets.join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&wrapper)
            .unwrap_or_else(|e| panic!("{}: {e} (every harness needs its fuzz target)", wrapper.display()));
        assert!(
            text.contains(&format!("tlsdoctor::fuzzing::{name}(")),
            "{} does not call tlsdoctor::fuzzing::{name}",
            wrapper.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
        assert!(
            !inputs("seeds", name).is_empty(),
            "fuzz/seeds/{name}/ is empty: run scripts/fuzz-seeds"
        );
    }
    // And no stray target the harness list does not know.
    for e in std::fs::read_dir(&targets).expect("fuzz/fuzz_targets").flatten() {
        let n = e
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        assert!(
            tlsdoctor::fuzzing::TARGETS.iter().any(|(t, _)| *t == n),
            "fuzz/fuzz_targets/{n}.rs is not in tlsdoctor::fuzzing::TARGETS"
        );
    }
}

/// Every seed and regression input, through its harness, each within a bound: the
/// harnesses are what the fuzzer runs, so a slow one here is a slow one there.
#[test]
fn seeds_and_regressions_replay_without_panic() {
    let mut ran = 0;
    for (name, f) in tlsdoctor::fuzzing::TARGETS {
        for kind in ["seeds", "regressions"] {
            for p in inputs(kind, name) {
                let data = std::fs::read(&p).unwrap();
                let t = Instant::now();
                let r = std::panic::catch_unwind(|| f(&data));
                assert!(r.is_ok(), "{name}: {} panicked", p.display());
                assert!(
                    t.elapsed() < Duration::from_secs(5),
                    "{name}: {} took {:?}",
                    p.display(),
                    t.elapsed()
                );
                ran += 1;
            }
        }
    }
    assert!(
        ran >= tlsdoctor::fuzzing::TARGETS.len(),
        "only {ran} inputs replayed"
    );
}

/// Hostile shapes every dialogue harness must survive: nothing, one byte, a huge line,
/// binary noise — each ending quickly because the peer closes.
#[test]
fn dialogue_harnesses_end_on_hostile_flights() {
    let big_line = vec![b'A'; 200_000];
    let noise: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (name, f) in tlsdoctor::fuzzing::TARGETS
        .iter()
        .filter(|(n, _)| n.starts_with("dialogue_"))
    {
        for flight in [&b""[..], b"\x00", &big_line, &noise] {
            let t = Instant::now();
            f(flight);
            assert!(
                t.elapsed() < Duration::from_secs(4),
                "{name} on a {}-byte flight took {:?}",
                flight.len(),
                t.elapsed()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Capturing real servers' flights (scripts/fuzz-seeds)

/// A relay between tlsdoctor and `upstream` that records what the server sends until the
/// first TLS record (0x16 0x03 at a read boundary after the client's ClientHello). TDS 7.x
/// carries the handshake inside PRELOGIN packets, so a TDS flight is recorded whole: the
/// PRELOGIN answer, the server's handshake messages, until tlsdoctor closes.
fn record(upstream: String) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut client, _) = l.accept().unwrap();
        let mut server = TcpStream::connect(&upstream).unwrap();
        client.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        server.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut flight = Vec::new();
        let mut client_sent_tls = false;
        let end = Instant::now() + Duration::from_secs(8);
        let mut buf = [0u8; 16384];
        while Instant::now() < end {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    client_sent_tls |= buf[0] == 0x16;
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(_) => {}
            }
            match server.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if client_sent_tls && buf[0] == 0x16 {
                        // The server's TLS flight: keep its first bytes only.
                        flight.extend_from_slice(&buf[..n.min(5)]);
                        break;
                    }
                    flight.extend_from_slice(&buf[..n]);
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(_) => {}
            }
        }
        flight
    });
    (port, h)
}

#[test]
#[ignore = "run by scripts/fuzz-seeds: records real servers' flights as fuzz seeds"]
fn capture_flights() {
    let out = PathBuf::from(std::env::var("FUZZ_SEEDS_OUT").expect("FUZZ_SEEDS_OUT"));
    let pki = servers::Pki::new();
    let good = pki.leaf("good", "db.test", &["db.test", "127.0.0.1"], 2020, 2040);
    let chain = format!("{}{}", good.pem(), pki.int.pem());
    let mut servers_seen = Vec::new();
    if let Some(pg) = servers::postgres(&chain, &good.key_pem()) {
        servers_seen.push((
            "dialogue_postgres",
            "postgresql-ssl-on",
            pg.tls.addr(),
            "postgres",
        ));
        servers_seen.push((
            "dialogue_postgres",
            "postgresql-ssl-off",
            pg.plain.addr(),
            "postgres",
        ));
    }
    if let Some(db) = servers::mariadb(&chain, &good.key_pem()) {
        servers_seen.push(("dialogue_mysql", "mariadb-ssl-on", db.tls.addr(), "mysql"));
        servers_seen.push(("dialogue_mysql", "mariadb-ssl-off", db.plain.addr(), "mysql"));
    }
    assert!(!servers_seen.is_empty(), "no real server could be started");
    // TDS: the in-process server, each encryption setting (TDS 7.x only).
    let tds_servers: Vec<(&str, tds::TdsServer)> = [
        ("inprocess-encrypt-off", tds::Encryption::Off),
        ("inprocess-encrypt-required", tds::Encryption::Required),
        ("inprocess-encrypt-not-supported", tds::Encryption::NotSupported),
    ]
    .into_iter()
    .map(|(name, enc)| (name, tds::start(&chain, &good.key_pem(), enc, tds::Strict::No)))
    .collect();
    for (name, srv) in &tds_servers {
        servers_seen.push(("dialogue_tds", *name, srv.addr(), "tds"));
    }
    for (target, name, addr, starttls) in servers_seen {
        let (port, h) = record(addr);
        let _ = servers::tlsdoctor(
            &[
                "connect",
                &format!("127.0.0.1:{port}"),
                "--starttls",
                starttls,
                "--timeout",
                "5s",
                "--json",
            ],
            &[],
        );
        let flight = h.join().unwrap();
        assert!(!flight.is_empty(), "{name}: nothing recorded");
        std::fs::create_dir_all(out.join(target)).unwrap();
        std::fs::write(out.join(target).join(name), &flight).unwrap();
        eprintln!("captured {target}/{name}: {} bytes", flight.len());
    }
    // TDS 8 strict: the PRELOGIN answer travels inside TLS, so a relay sees only ciphertext;
    // a TLS client (trusting the test root) sends tlsdoctor's PRELOGIN and keeps the
    // plaintext answer. `scripts/soak` serves these `strict-*` flights inside TLS.
    let strict = tds::start(&chain, &good.key_pem(), tds::Encryption::Off, tds::Strict::Only);
    let answer = strict_prelogin_answer(&strict.addr(), &pki.root.pem());
    let name = "strict-prelogin-answer";
    std::fs::write(out.join("dialogue_tds").join(name), &answer).unwrap();
    eprintln!("captured dialogue_tds/{name}: {} bytes", answer.len());
}

/// The bytes a TDS 8 server answers tlsdoctor's PRELOGIN with, inside TLS (ALPN `tds/8.0`).
fn strict_prelogin_answer(addr: &str, root_pem: &str) -> Vec<u8> {
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    use tlsdoctor::probe::protocols::tds;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"tds/8.0".to_vec()];
    let conn =
        rustls::ClientConnection::new(std::sync::Arc::new(cfg), ServerName::try_from("db.test").unwrap())
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(&tds::prelogin(tds::ENCRYPT_STRICT)).unwrap();
    tls.flush().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while tds::complete_reply(&got).is_none() {
        let n = tls.read(&mut buf).unwrap();
        assert!(n > 0, "the strict server closed before answering the PRELOGIN");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(tds::parse_prelogin(&tds::complete_reply(&got).unwrap()).is_ok());
    got
}
