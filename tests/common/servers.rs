//! Real peers for the `connect` tests: a generated PKI (rcgen, fixed validity windows),
//! `openssl s_server`, PostgreSQL and MariaDB started on 127.0.0.1 ephemeral ports, and a
//! runner for the `tlsdoctor` binary. Every child gets a cleared environment, is waited for
//! with a deadline, and is killed on drop (shared database servers: when the test process
//! exits, through PR_SET_PDEATHSIG from a thread that lives as long as the process).

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The moment tests evaluate at: far from every fixture's validity edges.
pub const AT: &str = "2030-06-01T00:00:00Z";

// ---------------------------------------------------------------------------------------
// PKI

/// A certificate with its key, as PEM.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Issued {
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, "tlsdoctor tests");
    d.push(DnType::CommonName, cn);
    d
}

fn window(p: &mut CertificateParams, from: i32, to: i32) {
    p.not_before = rcgen::date_time_ymd(from, 1, 1);
    p.not_after = rcgen::date_time_ymd(to, 1, 1);
}

pub fn ca(cn: &str, issuer: Option<&Issued>) -> Issued {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    window(&mut p, 2020, 2045);
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        None => p.self_signed(&key).expect("self-sign"),
        Some(i) => p.signed_by(&key, &i.cert, &i.key).expect("sign"),
    };
    Issued { cert, key }
}

/// A server leaf. `sans` empty = CN only (no subjectAltName at all).
pub fn leaf(cn: &str, sans: &[&str], issuer: &Issued, from: i32, to: i32) -> Issued {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*s).try_into().expect("dns name")),
        })
        .collect();
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    window(&mut p, from, to);
    let key = KeyPair::generate().expect("key");
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).expect("sign");
    Issued { cert, key }
}

/// A generated PKI written to a temp dir: root → intermediate → leaves per scenario.
pub struct Pki {
    pub dir: Scratch,
    pub root: Issued,
    pub int: Issued,
}

impl Pki {
    pub fn new() -> Pki {
        let root = ca("tlsdoctor Test Root", None);
        let int = ca("tlsdoctor Test Intermediate", Some(&root));
        let dir = scratch("pki");
        let pki = Pki { dir, root, int };
        pki.write("root.pem", &pki.root.pem());
        pki.write("int.pem", &pki.int.pem());
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write fixture");
        p
    }

    /// Write `NAME.pem` (leaf), `NAME.key`, `NAME-chain.pem` (leaf + intermediate).
    pub fn leaf(&self, name: &str, cn: &str, sans: &[&str], from: i32, to: i32) -> Issued {
        let l = leaf(cn, sans, &self.int, from, to);
        self.write(&format!("{name}.pem"), &l.pem());
        self.write(&format!("{name}.key"), &l.key_pem());
        self.write(
            &format!("{name}-chain.pem"),
            &format!("{}{}", l.pem(), self.int.pem()),
        );
        l
    }
}

// ---------------------------------------------------------------------------------------
// Processes

/// Is `bin` usable? With CI=true a missing binary fails the test; otherwise skip loudly.
pub fn need(bin: &str) -> Option<PathBuf> {
    let found = if bin.contains('/') {
        Path::new(bin).exists().then(|| PathBuf::from(bin))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
                .map(|d| d.join(bin))
                .find(|p| p.exists())
        })
    };
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and the server binary {bin:?} is missing: install it (.ci/run does)");
        }
        eprintln!("\n!!! SKIPPED: {bin} is not installed; this test did not run !!!\n");
    }
    found
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed (and reaped) on drop.
pub struct Server {
    pub child: Child,
    /// Held open: `s_server` stops at EOF on its standard input.
    pub stdin: Option<std::process::ChildStdin>,
    pub port: u16,
    pub log: PathBuf,
    pub dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A clean command: no inherited environment besides PATH and a neutral locale.
pub fn clean(cmd: &str) -> Command {
    let mut c = Command::new(cmd);
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    c
}

/// Wait until `log` contains `needle`; returns its text. Fails with the log on timeout or exit.
pub fn wait_for(child: &mut Child, log: &Path, needle: &str, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("server exited ({st}) before {needle:?}; log:\n{text}");
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("server not ready within {limit:?} (waiting for {needle:?}); log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `openssl s_server` on 127.0.0.1, the port chosen by the kernel and read from its
/// `ACCEPT` line. `args` come after the accept/quiet options.
pub fn s_server(args: &[&str]) -> Option<Server> {
    let bin = need("openssl")?;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("s_server.log");
    let out = std::fs::File::create(&log).expect("log");
    let mut child = clean(bin.to_str().unwrap())
        .args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1000"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("spawn openssl s_server");
    let text = wait_for(&mut child, &log, "ACCEPT", Duration::from_secs(10));
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("ACCEPT "))
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in s_server output: {text}"));
    let stdin = child.stdin.take();
    Some(Server {
        child,
        stdin,
        port,
        log,
        dir: Some(dir),
    })
}

/// Spawn from a thread that lives as long as the test process, with PR_SET_PDEATHSIG
/// (setpriv --pdeathsig KILL): the child dies with the test binary even though it is held
/// in a static that is never dropped.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

pub fn spawn_forever(mut cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::spawn(move || {
            for (mut c, reply) in rx {
                let _ = reply.send(c.spawn());
            }
            loop {
                std::thread::park();
            }
        });
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    cmd.stdin(Stdio::null());
    tx.lock().unwrap().send((cmd, rtx)).expect("spawner alive");
    rrx.recv().expect("spawner reply")
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.sort();
    let found = dirs.iter().rev().map(|d| d.join(name)).find(|p| p.exists());
    match found {
        Some(p) => Some(p),
        None => need(name),
    }
}

/// A directory for a shared server's data that outlives every test of this binary (the
/// servers die with it): `target/tmp/connect-servers/KIND-PID`. Directories of earlier runs
/// whose process is gone are removed first.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

pub fn scratch(kind: &str) -> Scratch {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("connect-servers");
    std::fs::create_dir_all(&base).expect("scratch base");
    if let Ok(rd) = std::fs::read_dir(&base) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let d = base.join(format!("{kind}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    Scratch(d)
}

/// A database server with TLS (`chain`/`key`) and one without, shared by a test binary.
pub struct Pair {
    pub tls: Server,
    pub plain: Server,
}

/// Two PostgreSQL servers from one initdb: `ssl=on` and `ssl=off`.
pub type Postgres = Pair;

/// The shared PostgreSQL pair (started once per test binary), with certificates from `pki`
/// written by the first caller. None = skipped.
pub fn postgres(chain_pem: &str, key_pem: &str) -> Option<&'static Postgres> {
    static PG: OnceLock<Option<Postgres>> = OnceLock::new();
    PG.get_or_init(|| start_postgres(chain_pem, key_pem)).as_ref()
}

fn chown_postgres(path: &Path) {
    let st = clean("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success(), "chown postgres {}", path.display());
}

fn start_postgres(chain_pem: &str, key_pem: &str) -> Option<Postgres> {
    Some(Postgres {
        tls: pg_instance("shared-tls", Some((chain_pem, key_pem)))?,
        plain: pg_instance("shared-plain", None)?,
    })
}

/// `chain.pem`/`key.pem` as the servers read them: `dir/server.crt`, `dir/server.key`
/// (mode 0600, which PostgreSQL requires of a key file).
fn write_cert_key(dir: &Path, chain_pem: &str, key_pem: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("server.crt"), chain_pem).unwrap();
    std::fs::write(dir.join("server.key"), key_pem).unwrap();
    std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Start `postgres` on a free port from `data`, its sockets and log in `dir`; with `ssl`,
/// `dir/server.crt` and `dir/server.key`.
fn start_pg(postgres: &Path, dir: &Path, data: &Path, ssl: bool, name: &str) -> Server {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let logf = std::fs::File::create(&log).unwrap();
    let mut c = as_postgres(postgres);
    c.arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args([
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=20",
        ])
        .args(["-c", if ssl { "ssl=on" } else { "ssl=off" }]);
    if ssl {
        c.arg("-c")
            .arg(format!("ssl_cert_file={}", dir.join("server.crt").display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.join("server.key").display()));
    }
    c.stdout(logf.try_clone().unwrap()).stderr(logf);
    started(
        c,
        port,
        log,
        "ready to accept connections",
        Duration::from_secs(60),
    )
}

/// Spawn a database daemon for the process lifetime ([`spawn_forever`]) and wait until its
/// log says `ready` (it listens on `port`).
fn started(c: Command, port: u16, log: PathBuf, ready: &str, limit: Duration) -> Server {
    let mut child = spawn_forever(c).expect("spawn the server");
    wait_for(&mut child, &log, ready, limit);
    Server {
        child,
        stdin: None,
        port,
        log,
        dir: None,
    }
}

/// One initdb per test binary, copied for every [`postgres_tls`] server: (scratch, data).
fn pg_template() -> Option<&'static (Scratch, PathBuf)> {
    static T: OnceLock<Option<(Scratch, PathBuf)>> = OnceLock::new();
    T.get_or_init(|| {
        let initdb = pg_bin("initdb")?;
        need("setpriv")?;
        let dir = scratch("pgtemplate");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        chown_postgres(dir.path());
        let out = as_postgres(&initdb)
            .arg("-D")
            .arg(&base)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--locale=C",
                "-E",
                "UTF8",
            ])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some((dir, base))
    })
    .as_ref()
}

/// A PostgreSQL server of its own serving `chain_pem`/`key_pem` (killed on drop), its
/// data copied from one initdb per test binary. None = skipped.
pub fn postgres_tls(name: &str, chain_pem: &str, key_pem: &str) -> Option<Server> {
    pg_instance(name, Some((chain_pem, key_pem)))
}

/// A PostgreSQL server in `NAME/` of the template's scratch, its data copied from the
/// template: `ssl=on` with `tls` = (chain PEM, key PEM), or `ssl=off`.
fn pg_instance(name: &str, tls: Option<(&str, &str)>) -> Option<Server> {
    let postgres = pg_bin("postgres")?;
    let (tdir, base) = pg_template()?;
    let dir = tdir.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some((chain_pem, key_pem)) = tls {
        write_cert_key(&dir, chain_pem, key_pem);
    }
    let data = dir.join("data");
    let st = clean("cp").arg("-a").arg(base).arg(&data).status().unwrap();
    assert!(st.success());
    chown_postgres(&dir);
    let what = if tls.is_some() { "tls" } else { "plain" };
    Some(start_pg(&postgres, &dir, &data, tls.is_some(), what))
}

fn as_postgres(bin: &Path) -> Command {
    let mut c = clean("setpriv");
    c.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--pdeathsig=KILL",
        "--",
    ])
    .arg(bin)
    .env("HOME", "/tmp");
    c
}

/// MariaDB with TLS and without (`--skip-ssl`).
pub type Mariadb = Pair;

pub fn mariadb(chain_pem: &str, key_pem: &str) -> Option<&'static Mariadb> {
    static DB: OnceLock<Option<Mariadb>> = OnceLock::new();
    DB.get_or_init(|| start_mariadb(chain_pem, key_pem)).as_ref()
}

fn start_mariadb(chain_pem: &str, key_pem: &str) -> Option<Mariadb> {
    Some(Mariadb {
        tls: mariadb_instance("shared-tls", Some((chain_pem, key_pem)))?,
        plain: mariadb_instance("shared-plain", None)?,
    })
}

/// Start mariadbd with a fresh data directory `dir/name`; with `ssl`, `dir/server.crt`
/// and `dir/server.key`.
fn start_mariadb_in(bin: &Path, dir: &Path, name: &str, ssl: bool) -> Server {
    let data = dir.join(name);
    std::fs::create_dir(&data).unwrap();
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let logf = std::fs::File::create(&log).unwrap();
    let mut c = clean("setpriv");
    c.args(["--pdeathsig=KILL", "--"])
        .arg(bin)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--user=root")
        .arg("--skip-grant-tables")
        .arg(format!("--socket={}", dir.join(format!("{name}.sock")).display()))
        .arg(format!(
            "--pid-file={}",
            dir.join(format!("{name}.pid")).display()
        ))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--skip-log-bin")
        .arg("--innodb-buffer-pool-size=16M")
        .arg("--max-connect-errors=100000")
        // Logs every connection closed before authentication ("Aborted connection").
        .arg("--log-warnings=4");
    if ssl {
        c.arg(format!("--ssl-cert={}", dir.join("server.crt").display()))
            .arg(format!("--ssl-key={}", dir.join("server.key").display()));
    } else {
        c.arg("--skip-ssl");
    }
    c.stdout(logf.try_clone().unwrap()).stderr(logf);
    started(c, port, log, "ready for connections", Duration::from_secs(90))
}

/// A MariaDB server of its own serving `chain_pem`/`key_pem` (killed on drop).
pub fn mariadb_tls(name: &str, chain_pem: &str, key_pem: &str) -> Option<Server> {
    mariadb_instance(name, Some((chain_pem, key_pem)))
}

/// A MariaDB server of its own without TLS (`--skip-ssl`; killed on drop).
pub fn mariadb_plain(name: &str) -> Option<Server> {
    mariadb_instance(name, None)
}

/// A MariaDB server in its own scratch `mariadb-NAME`: TLS with `tls` = (chain PEM, key
/// PEM), or `--skip-ssl`.
fn mariadb_instance(name: &str, tls: Option<(&str, &str)>) -> Option<Server> {
    let bin = need("mariadbd").or_else(|| need("mysqld"))?;
    need("setpriv")?;
    let dir = scratch(&format!("mariadb-{name}"));
    if let Some((chain_pem, key_pem)) = tls {
        write_cert_key(dir.path(), chain_pem, key_pem);
    }
    let what = if tls.is_some() { "tls" } else { "plain" };
    Some(start_mariadb_in(&bin, dir.path(), what, tls.is_some()))
}

// ---------------------------------------------------------------------------------------
// Running tlsdoctor

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn doc(&self) -> tlsdoctor::report::json::Document {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a connect document ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn error_cause(&self) -> Option<String> {
        self.doc().error.map(|e| e.cause)
    }
}

/// Run the binary with a cleared environment (plus `env`).
pub fn tlsdoctor(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = clean(env!("CARGO_BIN_EXE_tlsdoctor"));
    c.args(args).env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run tlsdoctor");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A fixture World root with a CA bundle that holds an unrelated CA (so the resolved stores
/// are real, small and never the host's). Kept for the whole test binary.
pub fn unrelated_world() -> Scratch {
    let w = scratch("world");
    let other = ca("Unrelated Root", None);
    for d in ["etc/ssl/certs", "usr/lib/ssl"] {
        std::fs::create_dir_all(w.path().join(d)).unwrap();
    }
    std::fs::write(w.path().join("etc/ssl/certs/ca-certificates.crt"), other.pem()).unwrap();
    std::fs::write(w.path().join("etc/debian_version"), "12.0\n").unwrap();
    std::os::unix::fs::symlink("/etc/ssl/certs", w.path().join("usr/lib/ssl/certs")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/ssl/certs/ca-certificates.crt",
        w.path().join("usr/lib/ssl/cert.pem"),
    )
    .unwrap();
    w
}

/// Read everything a reader has (helper for in-process peers).
pub fn drain(r: &mut impl Read, limit: usize) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.take(limit as u64).read_to_end(&mut v);
    v
}
