//! Bounded work on hostile local input: the six ways black-box fuzzing once made tlsdoctor
//! hang or exhaust memory from local files (issue 15), each run against the shipped
//! binary (the static release build, scripts/build-static) under GNU `time`:
//!
//! 1. a FIFO named wherever a path is taken (`inspect F`, `verify F`, `--ca F`,
//!    `--client-cert F`, `check F`, `--image F`, `--manifest F`, `--find F`, `--exe F`);
//! 2. a PKCS#12 Java trust store of many PBES2 parts at 2,000,000 PBKDF2 iterations, named
//!    in `JAVA_TOOL_OPTIONS`, in `store`, `verify` and `connect --timeout`;
//! 3. one BEGIN line followed by 60 million empty lines (60 MB);
//! 4. 2 million BEGIN lines (56 MB);
//! 5. an 8.4 MB `--ca`, and four such files in `SSL_CERT_DIR` and in an image's
//!    /etc/ssl/certs (memory adds up across files);
//! 6. `inspect` of a 64 MiB bundle (repeated copies of a 146-certificate bundle, as a
//!    concatenated system bundle looks), against `store` reading the same file.
//!
//! Each must end within 2 s of CPU time (user + system: what the input costs, whatever
//! else the machine runs) and 150 MB of peak RSS; where the danger is blocking rather than
//! work (FIFOs, `--timeout`), the wall time is bounded too. The inputs are generated here,
//! at run time, never committed.

#[path = "common/ship.rs"]
mod ship;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

const CPU_MAX_S: f64 = 2.0;
const RSS_MAX_MB: f64 = 150.0;

/// One measured run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

struct Bin {
    tlsdoctor: PathBuf,
    time: PathBuf,
}

fn bin() -> Option<Bin> {
    let time = ship::need("time")?;
    let tlsdoctor = ship::build_static()?;
    Some(Bin { tlsdoctor, time })
}

impl Bin {
    /// Run `tlsdoctor ARGS` with only `env` (and PATH), stdout to `out` (or kept, capped),
    /// killed after 60 s (a hang fails the test instead of stalling the suite).
    fn run(&self, args: &[&str], env: &[(&str, &str)], out: Option<&Path>) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let tf = dir.path().join("time");
        let so = out
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("stdout"));
        let mut cmd = Command::new(&self.time);
        cmd.args(["-f", "%e %U %S %M", "-o"])
            .arg(&tf)
            .arg(&self.tlsdoctor)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&so).unwrap())
            .stderr(Stdio::piped());
        let t0 = Instant::now();
        let mut child = cmd.spawn().expect("spawn GNU time");
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code();
            }
            if t0.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tlsdoctor {args:?} did not end within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        use std::io::Read as _;
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let stdout = if out.is_none() {
            String::from_utf8_lossy(&std::fs::read(&so).unwrap()).into_owned()
        } else {
            String::new()
        };
        let t = std::fs::read_to_string(&tf).unwrap();
        let f: Vec<f64> = t
            .lines()
            .last()
            .unwrap()
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        Run {
            code,
            stdout,
            stderr,
            wall: f[0],
            cpu: f[1] + f[2],
            rss_mb: f[3] / 1024.0,
        }
    }
}

/// The bounds every case shares; `wall_max` where blocking is the danger.
fn bounded(what: &str, r: &Run, wall_max: Option<f64>) {
    eprintln!(
        "{what}: exit {:?}, cpu {:.2} s, wall {:.2} s, peak RSS {:.1} MB",
        r.code, r.cpu, r.wall, r.rss_mb
    );
    assert!(!r.stderr.contains("panicked"), "{what}: panic\n{}", r.stderr);
    assert!(
        matches!(r.code, Some(0..=3)),
        "{what}: exit {:?}\n{}",
        r.code,
        r.stderr
    );
    assert!(
        r.cpu <= CPU_MAX_S,
        "{what}: {:.2} s of CPU (max {CPU_MAX_S})",
        r.cpu
    );
    assert!(
        r.rss_mb <= RSS_MAX_MB,
        "{what}: peak RSS {:.1} MB (max {RSS_MAX_MB})",
        r.rss_mb
    );
    if let Some(w) = wall_max {
        assert!(r.wall <= w, "{what}: {:.2} s of wall time (max {w})", r.wall);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl {args:?}");
}

/// A self-signed RSA CA made by openssl, with a 16-byte serial that marks where distinct
/// copies differ: (DER, offset of the serial).
fn template(dir: &Path) -> (Vec<u8>, usize) {
    const SERIAL: &str = "0x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "t.key",
            "-subj",
            "/O=tlsdoctor tests/CN=Bulk CA",
            "-days",
            "3650",
            "-set_serial",
            SERIAL,
            "-outform",
            "DER",
            "-out",
            "t.der",
        ],
    );
    let der = std::fs::read(dir.join("t.der")).unwrap();
    let at = der.windows(16).position(|w| w == [0x5a; 16]).expect("the serial");
    (der, at)
}

/// The `n`th distinct certificate: the template with serial `n`.
fn nth(t: &(Vec<u8>, usize), n: u64) -> Vec<u8> {
    let mut d = t.0.clone();
    d[t.1 + 8..t.1 + 16].copy_from_slice(&n.to_be_bytes());
    d
}

fn pem(der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for c in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// A bundle of at least `bytes` bytes of distinct certificates `from..`; returns the count.
fn bundle(path: &Path, t: &(Vec<u8>, usize), from: u64, bytes: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let (mut n, mut written) = (from, 0);
    while written < bytes {
        let p = pem(&nth(t, n));
        f.write_all(p.as_bytes()).unwrap();
        written += p.len();
        n += 1;
    }
    f.flush().unwrap();
    n - from
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

#[test]
fn a_fifo_named_anywhere_never_blocks() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let fifo = dir.join("ca.fifo");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let t = template(dir);
    std::fs::write(dir.join("leaf.pem"), pem(&t.0)).unwrap();
    let leaf = dir.join("leaf.pem");
    let leaf = leaf.to_str().unwrap();
    let port = ship::refused_port().to_string();
    let target = format!("127.0.0.1:{port}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("inspect FIFO", vec!["inspect", f]),
        ("verify FIFO", vec!["verify", f]),
        ("verify --ca FIFO", vec!["verify", leaf, "--ca", f]),
        (
            "connect --ca FIFO",
            vec!["connect", &target, "--ca", f, "--timeout", "1s"],
        ),
        (
            "connect --client-cert FIFO",
            vec![
                "connect",
                &target,
                "--client-cert",
                f,
                "--client-key",
                f,
                "--timeout",
                "1s",
            ],
        ),
        ("check FIFO", vec!["check", f]),
        ("--image FIFO", vec!["--image", f, "store"]),
        ("--manifest FIFO", vec!["--manifest", f, "store"]),
        ("store --find FIFO", vec!["store", "--find", f]),
        ("--exe FIFO", vec!["--exe", f, "store"]),
    ];
    for (what, args) in cases {
        let r = b.run(&args, &[], None);
        bounded(what, &r, Some(2.0));
        assert_ne!(r.code, Some(0), "{what}: an empty FIFO is no input\n{}", r.stdout);
    }
    // A FIFO someone writes to is read, as `<(…)` process substitution is.
    let writer = {
        let fifo = fifo.clone();
        let text = pem(&t.0);
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    let r = b.run(&["inspect", f], &[], None);
    writer.join().unwrap();
    bounded("inspect FIFO with a writer", &r, Some(2.0));
    assert!(r.stdout.contains(": 1 certificate(s)"), "{}", r.stdout);
}

/// One PBES2 part at `iter` iterations (openssl), repeated `parts` times in one PFX.
fn p12_parts(dir: &Path, cert: &Path, iter: u32, parts: usize) -> Vec<u8> {
    let one = dir.join(format!("one-{iter}.p12"));
    if !one.exists() {
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-nokeys",
                "-in",
                cert.to_str().unwrap(),
                "-certpbe",
                "AES-256-CBC",
                "-iter",
                &iter.to_string(),
                "-macalg",
                "sha256",
                "-passout",
                "pass:changeit",
                "-out",
                one.to_str().unwrap(),
            ],
        );
    }
    let d = std::fs::read(one).unwrap();
    // PFX { version, authSafe ContentInfo { data, [0] OCTET STRING { SEQUENCE OF ContentInfo } }, mac }
    let tlv = |b: &[u8], i: usize| -> (usize, usize) {
        let l = b[i + 1] as usize;
        if l & 0x80 == 0 {
            (i + 2, i + 2 + l)
        } else {
            let n = l & 0x7f;
            let len = b[i + 2..i + 2 + n]
                .iter()
                .fold(0usize, |a, &x| a << 8 | x as usize);
            (i + 2 + n, i + 2 + n + len)
        }
    };
    let enc = |tag: u8, body: &[u8]| -> Vec<u8> {
        let mut v = vec![tag];
        let n = body.len();
        if n < 128 {
            v.push(n as u8);
        } else {
            let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            v.push(0x80 | bytes.len() as u8);
            v.extend(bytes);
        }
        v.extend_from_slice(body);
        v
    };
    let (s, _) = tlv(&d, 0);
    let (_, e1) = tlv(&d, s); // version
    let (s2, _) = tlv(&d, e1); // authSafe
    let (s3, e3) = tlv(&d, s2); // data OID
    let (s4, _) = tlv(&d, e3); // [0]
    let (s5, _) = tlv(&d, s4); // OCTET STRING
    let (s6, e6) = tlv(&d, s5); // SEQUENCE OF ContentInfo
    let ci = &d[s6..e6];
    let auth = enc(0x30, &ci.repeat(parts));
    let mut authsafe = d[s3 - 2..e3].to_vec();
    authsafe.extend(enc(0xa0, &enc(0x04, &auth)));
    let mut pfx = d[s..e1].to_vec();
    pfx.extend(enc(0x30, &authsafe));
    enc(0x30, &pfx)
}

#[test]
fn a_java_trust_store_of_costly_key_derivations_ends_in_a_finding() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let leaf = ship::ca(dir, "root", "KDF Root");
    let mut stores = vec![];
    for (name, iter, parts) in [
        ("five-2m", 2_000_000u32, 5usize),
        ("sixty-2m", 2_000_000, 60),
        ("five-400k", 400_000, 5),
    ] {
        let p = dir.join(format!("{name}.p12"));
        std::fs::write(&p, p12_parts(dir, &leaf.cert_path, iter, parts)).unwrap();
        stores.push((name, p));
    }
    for (name, p) in &stores {
        let opts = format!(
            "-Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStorePassword=changeit",
            p.display()
        );
        let env = [("JAVA_TOOL_OPTIONS", opts.as_str())];
        let r = b.run(&["store", "--runtime", "java", "--format", "json"], &env, None);
        bounded(&format!("store, {name}"), &r, None);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let codes: Vec<&str> = v["runtimes"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&"java-truststore-kdf-budget"), "{name}: {codes:?}");
        let reason = v["runtimes"][0]["steps"].to_string();
        if *name == "five-400k" {
            // The budget is a total: two parts fit (800,000 iterations), three do not.
            assert!(reason.contains("2 encrypted part(s) decrypted"), "{reason}");
            assert!(reason.contains("3 encrypted part(s) not decrypted"), "{reason}");
        } else {
            assert!(reason.contains("not decrypted"), "{reason}");
        }
        let r = b.run(
            &["verify", leaf.cert_path.to_str().unwrap(), "--runtime", "java"],
            &env,
            None,
        );
        bounded(&format!("verify, {name}"), &r, None);
    }
    // connect: the store is read within --timeout, against a real server.
    let Some(openssl) = ship::need("openssl") else {
        return;
    };
    let server_leaf = ship::leaf(dir, "srv", &["localhost"], (2025, 1, 1), (2039, 1, 1), &leaf);
    let s = ship::SServer::start(&openssl, &server_leaf.cert_path, &server_leaf.key_path, &[]);
    let opts = format!(
        "-Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStorePassword=changeit",
        stores[1].1.display()
    );
    let target = format!("127.0.0.1:{}", s.port);
    let r = b.run(
        &[
            "connect",
            &target,
            "--name",
            "localhost",
            "--runtime",
            "java",
            "--timeout",
            "2s",
            "--json",
        ],
        &[("JAVA_TOOL_OPTIONS", opts.as_str())],
        None,
    );
    bounded("connect --timeout 2s, sixty-2m", &r, Some(3.0));
    // The verdict was reached with that store (read, its costly parts left out).
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let sources = v["verdicts"][0]["store"]["sources"].to_string();
    assert!(sources.contains("sixty-2m.p12"), "{}", r.stdout);
}

/// The three ways to hand tlsdoctor a PEM file: `--ca`, `SSL_CERT_FILE`, `inspect`.
fn pem_file_everywhere(b: &Bin, what: &str, f: &Path, leaf: &Path) {
    let fs = f.to_str().unwrap();
    let r = b.run(
        &["verify", leaf.to_str().unwrap(), "--ca", fs, "--runtime", "go"],
        &[],
        None,
    );
    bounded(&format!("{what} as --ca"), &r, None);
    let r = b.run(
        &["store", "--runtime", "go"],
        &[("SSL_CERT_FILE", fs), ("SSL_CERT_DIR", "/nonexistent")],
        None,
    );
    bounded(&format!("{what} as SSL_CERT_FILE"), &r, None);
    let r = b.run(&["inspect", fs], &[], None);
    bounded(&format!("{what} in inspect"), &r, None);
}

#[test]
fn one_begin_line_and_sixty_million_empty_lines() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let t = template(d.path());
    let leaf = d.path().join("leaf.pem");
    std::fs::write(&leaf, pem(&t.0)).unwrap();
    let f = d.path().join("empty-lines.pem");
    let mut data = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    data.resize(data.len() + 60_000_000, b'\n');
    std::fs::write(&f, &data).unwrap();
    drop(data);
    pem_file_everywhere(&b, "1 BEGIN + 60M empty lines (60 MB)", &f, &leaf);
}

#[test]
fn two_million_begin_lines() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let t = template(d.path());
    let leaf = d.path().join("leaf.pem");
    std::fs::write(&leaf, pem(&t.0)).unwrap();
    let f = d.path().join("begins.pem");
    std::fs::write(&f, b"-----BEGIN CERTIFICATE-----\n".repeat(2_000_000)).unwrap();
    pem_file_everywhere(&b, "2M BEGIN lines (56 MB)", &f, &leaf);
}

#[test]
fn big_bundles_in_a_directory_and_an_image_add_up_to_a_bound() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let t = template(d.path());
    let leaf = d.path().join("leaf.pem");
    std::fs::write(&leaf, pem(&t.0)).unwrap();
    let root = d.path().join("root");
    let certs = root.join("etc/ssl/certs");
    std::fs::create_dir_all(&certs).unwrap();
    let mut n = 0;
    for i in 0..4 {
        n += bundle(&certs.join(format!("bulk-{i}.pem")), &t, 1 + n, 8_400_000);
    }
    eprintln!("4 files of 8.4 MB: {n} distinct certificates");
    let one = certs.join("bulk-0.pem");
    let r = b.run(
        &[
            "verify",
            leaf.to_str().unwrap(),
            "--ca",
            one.to_str().unwrap(),
            "--runtime",
            "go",
        ],
        &[],
        None,
    );
    bounded("8.4 MB --ca", &r, None);
    let dir = certs.to_str().unwrap();
    let r = b.run(
        &["store", "--runtime", "go"],
        &[("SSL_CERT_DIR", dir), ("SSL_CERT_FILE", "/nonexistent")],
        None,
    );
    bounded("SSL_CERT_DIR of 4 x 8.4 MB", &r, None);
    let r = b.run(
        &[
            "--root",
            root.to_str().unwrap(),
            "store",
            "--runtime",
            "go",
            "--runtime",
            "openssl",
        ],
        &[],
        None,
    );
    bounded("--root image, /etc/ssl/certs of 4 x 8.4 MB", &r, None);
}

#[test]
fn inspect_of_a_64_mib_bundle_is_as_lean_as_store() {
    let Some(b) = bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let t = template(d.path());
    // A 146-certificate bundle (Debian's size) concatenated up to 64 MiB.
    let mut unit = String::new();
    for n in 1..=146 {
        unit.push_str(&pem(&nth(&t, n)));
    }
    let f = d.path().join("bundle-64mib.pem");
    let copies = (64 << 20) / unit.len();
    std::fs::write(&f, unit.repeat(copies)).unwrap();
    let count = copies * 146;
    let fs = f.to_str().unwrap();
    let out = d.path().join("out");
    let r = b.run(&["inspect", fs], &[], Some(&out));
    bounded(&format!("inspect, 64 MiB ({count} certificates)"), &r, None);
    let head = std::fs::read(&out).unwrap();
    let first = String::from_utf8_lossy(&head[..200]);
    assert!(
        first.starts_with(&format!("{fs}: {count} certificate(s)")),
        "{first}"
    );
    let r = b.run(&["inspect", "--json", fs], &[], Some(&out));
    bounded(
        &format!("inspect --json, 64 MiB ({count} certificates)"),
        &r,
        None,
    );
    // Too big to parse here: count the certificates' labels, check the document closes.
    let json = std::fs::read(&out).unwrap();
    let label = b"\"label\": \"CERTIFICATE\"";
    assert_eq!(json.windows(label.len()).filter(|w| w == label).count(), count);
    assert!(json.ends_with(b"}\n"), "the JSON document is not closed");
    drop(json);
    let r = b.run(
        &["store", "--runtime", "go"],
        &[("SSL_CERT_FILE", fs), ("SSL_CERT_DIR", "/nonexistent")],
        Some(&out),
    );
    bounded("store, the same 64 MiB bundle", &r, None);
}
