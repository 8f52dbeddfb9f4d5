//! A bounded hostile-peer soak for `scripts/soak`: for each pre-TLS dialogue, loopback
//! servers replay mutated flights of real servers (the fuzz seeds in `fuzz/seeds/`) and
//! misbehave in delivery — truncation at every offset, bit flips, length bytes forced to 0
//! and 0xff, 1-byte writes, stalls, resets, a 10 MB flood — while the real `tlsdoctor
//! connect` binary talks to them under `--timeout`.
//!
//! TDS has two paths: `tds` (TDS 7.x) replays the flights of the in-process TDS server
//! (`tests/common/tds.rs`, proved against FreeTDS `tsql` and `tedious`) in turns — its
//! PRELOGIN answer after the client's PRELOGIN, the TLS handshake inside PRELOGIN packets
//! after the client's ClientHello — with every packet's length also forced to 0 and 0xffff. `tds-strict` (TDS 8) has no pre-TLS bytes; what it reads from the
//! server is the PRELOGIN answer *inside* TLS after the handshake, so a real TLS server
//! (ALPN `tds/8.0`) completes the handshake and then delivers the mutated answer through TLS.
//!
//! ```text
//! soak TLSDOCTOR_BIN SEEDS_DIR [TIMEOUT_MS=1000] [MAX_CASES_PER_DIALOGUE=400] [DIALOGUE...]
//! ```
//! (every dialogue unless some are named).
//! Every run must end within the timeout plus one second, exit 0–3, print one valid JSON
//! document and never panic. Prints a table per dialogue (runs, panics, bad exits, bad
//! JSON, worst wall time over the timeout, peak RSS) and exits 1 if any run broke a rule.
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`), Debian's `time` package.
//! The servers listen on 127.0.0.1 only; the number of runs is bounded.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server delivers its (mutated) flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// All at once, then half-close and drain.
    Whole,
    /// One byte per write, 2 ms apart, then half-close.
    Trickle,
    /// Half the flight, then silence with the connection held open.
    Stall,
    /// The flight, then a reset (closing with the client's bytes unread).
    Reset,
    /// The flight repeated up to 10 MB.
    Flood,
}

#[derive(Clone)]
struct Case {
    flight: Vec<u8>,
    delivery: Delivery,
    what: String,
}

#[derive(Default)]
struct Tally {
    runs: usize,
    panics: usize,
    bad_exit: usize,
    bad_json: usize,
    over: usize,
    worst_over_ms: i64,
    peak_rss_kb: u64,
    examples: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: soak TLSDOCTOR_BIN SEEDS_DIR [TIMEOUT_MS] [MAX_CASES_PER_DIALOGUE] [DIALOGUE...]");
        std::process::exit(2);
    }
    let bin = PathBuf::from(&args[0]);
    let seeds = PathBuf::from(&args[1]);
    let timeout_ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let max_cases: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(400);
    let time_bin = Path::new("/usr/bin/time");
    if !time_bin.exists() {
        eprintln!("soak: /usr/bin/time (Debian package `time`) is needed for peak RSS");
        std::process::exit(2);
    }
    let dialogues = [
        "mysql",
        "postgres",
        "smtp",
        "imap",
        "pop3",
        "ftp",
        "ldap",
        "xmpp",
        "tds",
        "tds-strict",
        "none",
    ];
    let only: Vec<&str> = args.iter().skip(4).map(String::as_str).collect();
    if let Some(bad) = only.iter().find(|d| !dialogues.contains(d)) {
        eprintln!("soak: unknown dialogue {bad} (known: {})", dialogues.join(" "));
        std::process::exit(2);
    }
    let mut broken = false;
    println!(
        "{:<10} {:>5} {:>6} {:>8} {:>8} {:>10} {:>9}",
        "dialogue", "runs", "panics", "bad-exit", "bad-json", "worst-over", "peak-rss"
    );
    for d in dialogues
        .into_iter()
        .filter(|d| only.is_empty() || only.contains(d))
    {
        let flights = load_flights(&seeds, d);
        let cases = mutate(&flights, max_cases, d);
        let t = soak_one(&bin, d, cases, timeout_ms);
        println!(
            "{:<10} {:>5} {:>6} {:>8} {:>8} {:>8}ms {:>7}MB",
            d,
            t.runs,
            t.panics,
            t.bad_exit,
            t.bad_json,
            t.worst_over_ms,
            t.peak_rss_kb / 1024
        );
        if t.panics + t.bad_exit + t.bad_json + t.over > 0 {
            broken = true;
            for e in t.examples.iter().take(5) {
                println!("    {e}");
            }
        }
    }
    std::process::exit(if broken { 1 } else { 0 });
}

/// The real servers' flights for one dialogue (plain TLS: a ServerHello prefix and an alert).
/// TDS 8's flights are the `strict-*` seeds of `dialogue_tds` (what the server says inside
/// TLS); TDS 7.x's are the others.
fn load_flights(seeds: &Path, dialogue: &str) -> Vec<Vec<u8>> {
    if dialogue == "none" {
        return vec![
            b"\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03".to_vec(),
            b"\x15\x03\x01\x00\x02\x02\x28".to_vec(),
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
        ];
    }
    let (dir, strict) = match dialogue {
        "tds" | "tds-strict" => (seeds.join("dialogue_tds"), dialogue == "tds-strict"),
        d => (seeds.join(format!("dialogue_{d}")), false),
    };
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("strict-") == strict)
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

/// A small deterministic PRNG (xorshift): the same cases every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(flights: &[Vec<u8>], max: usize, dialogue: &str) -> Vec<Case> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ dialogue.len() as u64);
    let mut cases = Vec::new();
    for (fi, f) in flights.iter().enumerate() {
        // Truncation at every offset (stepped for long flights).
        let step = (f.len() / 48).max(1);
        for cut in (0..f.len()).step_by(step) {
            cases.push(Case {
                flight: f[..cut].to_vec(),
                delivery: Delivery::Whole,
                what: format!("flight {fi} cut at {cut}"),
            });
        }
        // Bit flips.
        for _ in 0..24 {
            let mut m = f.clone();
            if m.is_empty() {
                break;
            }
            let i = rng.below(m.len());
            m[i] ^= 1 << rng.below(8);
            cases.push(Case {
                flight: m,
                delivery: Delivery::Whole,
                what: format!("flight {fi} bit flip"),
            });
        }
        // Length-ish bytes forced to 0 and to 0xff (every one of the first 16, then sampled).
        for i in (0..f.len().min(16)).chain((0..8).map(|_| rng.below(f.len()))) {
            for v in [0u8, 0xff] {
                let mut m = f.clone();
                if i < m.len() {
                    m[i] = v;
                }
                cases.push(Case {
                    flight: m,
                    delivery: Delivery::Whole,
                    what: format!("flight {fi} byte {i} = {v:#04x}"),
                });
            }
        }
        // Length fields forced to 0 and to their maximum (TDS packet headers).
        for (at, width) in length_fields(dialogue, f) {
            for v in [0u8, 0xff] {
                let mut m = f.clone();
                m[at..at + width].fill(v);
                cases.push(Case {
                    flight: m,
                    delivery: Delivery::Whole,
                    what: format!("flight {fi} length at {at} = {v:#04x}.."),
                });
            }
        }
        for delivery in [
            Delivery::Trickle,
            Delivery::Stall,
            Delivery::Reset,
            Delivery::Flood,
        ] {
            cases.push(Case {
                flight: f.clone(),
                delivery,
                what: format!("flight {fi} {delivery:?}"),
            });
        }
    }
    // Keep every delivery-mode case, sample the rest down to `max`.
    if cases.len() > max {
        let (special, mut plain): (Vec<Case>, Vec<Case>) =
            cases.into_iter().partition(|c| c.delivery != Delivery::Whole);
        let keep = max.saturating_sub(special.len());
        let mut picked = Vec::with_capacity(keep);
        while picked.len() < keep && !plain.is_empty() {
            let i = rng.below(plain.len());
            picked.push(plain.swap_remove(i));
        }
        cases = special;
        cases.extend(picked);
    }
    cases
}

/// (offset, width) of the length fields of a flight the soak knows the framing of: every
/// TDS packet's big-endian u16 length (header bytes 2–3), packets followed as the client
/// would (a length below the header's 8 bytes ends the walk).
fn length_fields(dialogue: &str, f: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if dialogue.starts_with("tds") {
        let mut at = 0;
        while at + 8 <= f.len() {
            out.push((at + 2, 2));
            let len = u16::from_be_bytes([f[at + 2], f[at + 3]]) as usize;
            if len < 8 {
                break;
            }
            at += len;
        }
    }
    out
}

/// The TDS 8 server's TLS side: a self-signed certificate (tlsdoctor reports on any chain)
/// and ALPN `tds/8.0`, as SQL Server 2022 with strict encryption.
fn tds8_config() -> Arc<rustls::ServerConfig> {
    static CFG: std::sync::OnceLock<Arc<rustls::ServerConfig>> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        let ck = rcgen::generate_simple_self_signed(vec!["soak.test".to_string()]).expect("certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
        let mut cfg =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(vec![ck.cert.der().clone()], key)
                .expect("server certificate");
        cfg.alpn_protocols = vec![b"tds/8.0".to_vec()];
        Arc::new(cfg)
    })
    .clone()
}

/// TDS 8: complete the TLS handshake, read the client's PRELOGIN, then deliver the case's
/// flight (the PRELOGIN answer) inside TLS.
fn serve_in_tls(s: TcpStream, case: &Case) {
    let conn = rustls::ServerConnection::new(tds8_config()).expect("server connection");
    let mut t = rustls::StreamOwned::new(conn, s);
    while t.conn.is_handshaking() {
        if t.conn.complete_io(&mut t.sock).is_err() {
            return;
        }
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while tlsdoctor::probe::protocols::tds::complete_reply(&got).is_none() && got.len() < 65536 {
        match t.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let close = |mut t: rustls::StreamOwned<rustls::ServerConnection, TcpStream>| {
        t.conn.send_close_notify();
        let _ = t.flush();
        finish(t.sock);
    };
    match case.delivery {
        Delivery::Whole => {
            let _ = t.write_all(&case.flight).and_then(|_| t.flush());
            close(t);
        }
        Delivery::Trickle => {
            for b in &case.flight {
                if t.write_all(&[*b]).and_then(|_| t.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            close(t);
        }
        Delivery::Stall => {
            let _ = t
                .write_all(&case.flight[..case.flight.len() / 2])
                .and_then(|_| t.flush());
            let mut sink = [0u8; 4096];
            while let Ok(n) = t.sock.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        }
        Delivery::Reset => {
            let _ = t.write_all(&case.flight).and_then(|_| t.flush());
            let mut one = [0u8; 1];
            let _ = t.sock.peek(&mut one);
            drop(t);
        }
        Delivery::Flood => {
            let chunk = if case.flight.is_empty() {
                vec![b'A'; 4096]
            } else {
                case.flight.repeat(4096 / case.flight.len() + 1)
            };
            let mut sent = 0;
            while sent < 10 << 20 {
                if t.write_all(&chunk).and_then(|_| t.flush()).is_err() {
                    return;
                }
                sent += chunk.len();
            }
            close(t);
        }
    }
}

/// How the peer paces its flight against the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// The flight at once (line protocols read their replies in order from the buffer).
    Replay,
    /// In turns, each after the client has spoken (TDS 7.x: the PRELOGIN answer after the
    /// client's PRELOGIN, the TLS records after its ClientHello — sent earlier they are
    /// bytes before the handshake, which tlsdoctor rightly discards).
    Turns,
    /// Inside TLS after a real handshake (TDS 8 strict).
    InTls,
}

fn peer_for(dialogue: &str) -> Peer {
    match dialogue {
        "tds" => Peer::Turns,
        "tds-strict" => Peer::InTls,
        _ => Peer::Replay,
    }
}

/// A TDS flight's turns: the first message (packets up to the first with EOM), then the
/// rest. A flight without a complete first message is one turn.
fn turns(f: &[u8]) -> Vec<&[u8]> {
    let mut at = 0;
    while at + 8 <= f.len() {
        let len = u16::from_be_bytes([f[at + 2], f[at + 3]]) as usize;
        if len < 8 {
            break;
        }
        at += len;
        if f[at - len + 1] & 0x01 != 0 {
            return if at < f.len() {
                vec![&f[..at], &f[at..]]
            } else {
                vec![f]
            };
        }
    }
    vec![f]
}

/// Wait (at most 2 s) for the client to say something; false once it has closed.
fn client_spoke(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let spoke = !matches!(s.read(&mut buf), Ok(0));
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    spoke
}

/// Write `data` whole, or one byte per write 2 ms apart; false if the client is gone.
fn send(s: &mut TcpStream, data: &[u8], trickle: bool) -> bool {
    if !trickle {
        return s.write_all(data).is_ok();
    }
    for b in data {
        if s.write_all(&[*b]).is_err() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Serve one case on a fresh listener; returns its port.
fn serve(case: Case, peer: Peer) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        // The client may never connect (a refused usage); do not wait for ever.
        l.set_nonblocking(true).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(2)),
                Err(_) => return,
            }
        };
        s.set_nonblocking(false).unwrap();
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if peer == Peer::InTls {
            return serve_in_tls(s, &case);
        }
        if case.delivery == Delivery::Flood {
            let mut sent = 0;
            let chunk = if case.flight.is_empty() {
                vec![b'A'; 4096]
            } else {
                case.flight.repeat(4096 / case.flight.len() + 1)
            };
            while sent < 10 << 20 {
                match s.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(_) => return,
                }
            }
            return finish(s);
        }
        // A stall sends half the flight, then nothing.
        let flight = match case.delivery {
            Delivery::Stall => &case.flight[..case.flight.len() / 2],
            _ => &case.flight[..],
        };
        let parts = match peer {
            Peer::Turns => turns(flight),
            _ => vec![flight],
        };
        for part in parts {
            if peer == Peer::Turns && !client_spoke(&mut s) {
                return;
            }
            if !send(&mut s, part, case.delivery == Delivery::Trickle) {
                return;
            }
        }
        match case.delivery {
            Delivery::Stall => {
                // Silent until the client gives up and closes.
                let mut sink = [0u8; 4096];
                while let Ok(n) = s.read(&mut sink) {
                    if n == 0 {
                        break;
                    }
                }
            }
            Delivery::Reset => {
                // Wait for the client to say something, then close with it unread: RST.
                let mut one = [0u8; 1];
                let _ = s.peek(&mut one);
                drop(s);
            }
            _ => finish(s),
        }
    });
    (port, h)
}

fn finish(mut s: TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    while let Ok(n) = s.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

fn soak_one(bin: &Path, dialogue: &str, cases: Vec<Case>, timeout_ms: u64) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let cases = Arc::new(cases);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (tally, cases, next, bin) = (tally.clone(), cases.clone(), next.clone(), bin.to_path_buf());
            let dialogue = dialogue.to_string();
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let (port, server) = serve(case.clone(), peer_for(&dialogue));
                let rss_file = tempfile::NamedTempFile::new().expect("temp file");
                let start = Instant::now();
                let out = Command::new("/usr/bin/time")
                    .arg("-f")
                    .arg("%M")
                    .arg("-o")
                    .arg(rss_file.path())
                    .arg(&bin)
                    .args([
                        "connect",
                        &format!("127.0.0.1:{port}"),
                        "--starttls",
                        &dialogue,
                        "--name",
                        "soak.test",
                        "--timeout",
                        &format!("{timeout_ms}ms"),
                        "--json",
                    ])
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .stdin(Stdio::null())
                    .output()
                    .expect("run tlsdoctor");
                let wall = start.elapsed();
                let _ = server.join();
                let rss: u64 = std::fs::read_to_string(rss_file.path())
                    .ok()
                    .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
                    .unwrap_or(0);
                let stderr = String::from_utf8_lossy(&out.stderr);
                let code = out.status.code().unwrap_or(-1);
                let json_ok = serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok();
                let over = wall.as_millis() as i64 - timeout_ms as i64;
                if std::env::var_os("SOAK_VERBOSE").is_some() {
                    // What the run concluded: its error, or how many certificates it saw.
                    let said = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                        .map(|v| {
                            let chain = v["chain"].as_array().map_or(0, Vec::len);
                            let version = v["server"]["server_version"].as_str().unwrap_or("-").to_string();
                            match v["error"]["message"].as_str() {
                                Some(m) => format!("chain {chain}, version {version}, {m}"),
                                None => format!("chain {chain}, version {version}"),
                            }
                        })
                        .unwrap_or_else(|_| stderr.lines().next().unwrap_or("").to_string());
                    eprintln!("{dialogue} {}: exit {code} in {wall:?}: {said}", case.what);
                }
                let mut t = tally.lock().unwrap();
                t.runs += 1;
                t.peak_rss_kb = t.peak_rss_kb.max(rss);
                t.worst_over_ms = t.worst_over_ms.max(over);
                let mut bad = Vec::new();
                if stderr.contains("panicked") {
                    t.panics += 1;
                    bad.push("panic");
                }
                if !(0..=3).contains(&code) {
                    t.bad_exit += 1;
                    bad.push("exit");
                }
                if code != 2 && !json_ok {
                    t.bad_json += 1;
                    bad.push("json");
                }
                if over > 1000 {
                    t.over += 1;
                    bad.push("slow");
                }
                if !bad.is_empty() {
                    t.examples.push(format!(
                        "{}: {} (exit {code}, {:?}): {}",
                        bad.join("+"),
                        case.what,
                        wall,
                        stderr.lines().next().unwrap_or("")
                    ));
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap()
}
