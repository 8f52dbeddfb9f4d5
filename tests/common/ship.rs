//! Shared helpers for the `check` and static-binary tests: a generated PKI (rcgen, fixed
//! validity windows around `AT`), real `openssl s_server` peers, a refused port and a
//! silent port. Used with `#[path = "common/ship.rs"] mod ship;`.
#![allow(dead_code)]

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose,
};

/// The pinned evaluation time of every scenario: 2030-06-01T00:00:00Z.
pub const AT: &str = "2030-06-01T00:00:00Z";

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Find a program; when missing, fail under CI=true, otherwise skip loudly (None).
pub fn need(program: &str) -> Option<PathBuf> {
    for dir in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return Some(p);
        }
    }
    if ci() {
        panic!("{program} is required under CI=true but was not found");
    }
    eprintln!("SKIPPED: {program} not found (install it, or set CI=true to make this a failure)");
    None
}

/// A certificate and its key, written as `<name>.pem` / `<name>.key`.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub sha256: String,
}

fn write(dir: &Path, name: &str, cert: rcgen::Certificate, key: KeyPair) -> Issued {
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let sha256 = tlsdoctor::x509::sha256_hex(cert.der());
    Issued {
        cert,
        key,
        cert_path,
        key_path,
        sha256,
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, "tlsdoctor tests");
    d.push(DnType::CommonName, cn);
    d
}

/// A root CA valid 2025..2040.
pub fn ca(dir: &Path, name: &str, cn: &str) -> Issued {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2040, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    write(dir, name, cert, key)
}

/// An intermediate CA valid 2025..2039, issued by `ca`.
pub fn intermediate(dir: &Path, name: &str, cn: &str, ca: &Issued) -> Issued {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2039, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    write(dir, name, cert, key)
}

/// A server certificate for `names`, valid `from..until` ((y, m, d) dates), issued by `ca`.
pub fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    from: (i32, u8, u8),
    until: (i32, u8, u8),
    ca: &Issued,
) -> Issued {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = dn(names[0]);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = date_time_ymd(from.0, from.1, from.2);
    p.not_after = date_time_ymd(until.0, until.1, until.2);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    write(dir, name, cert, key)
}

/// A free loopback port (bound then released: a small race, acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port where nothing listens: connecting is refused.
pub fn refused_port() -> u16 {
    free_port()
}

/// `openssl s_server` on 127.0.0.1, killed on drop.
pub struct SServer {
    child: Child,
    pub port: u16,
}

impl SServer {
    /// Serve `cert`/`key`; `extra` are more s_server flags (e.g. `-verify 1`).
    pub fn start(openssl: &Path, cert: &Path, key: &Path, extra: &[&str]) -> SServer {
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(openssl)
                .arg("s_server")
                .args(["-accept", &format!("127.0.0.1:{port}")])
                .arg("-cert")
                .arg(cert)
                .arg("-key")
                .arg(key)
                .args(["-quiet", "-naccept", "1000000"])
                .args(extra)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn openssl s_server");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_millis(200),
                )
                .is_ok()
                {
                    return SServer { child, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            eprintln!("s_server on port {port} did not come up ({err}); retrying");
        }
        panic!("openssl s_server did not start");
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that accepts TCP connections and never says a word (nor closes them).
pub struct Silent {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Silent {
    pub fn start() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => held.push(c),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Silent { port, stop }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Environment for a child `tlsdoctor`: nothing from this machine but PATH.
pub fn tlsdoctor_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"));
    c.env_clear().env("PATH", "/usr/bin:/bin").stdin(Stdio::null());
    c
}

/// A script of the repository (`scripts/NAME`) with a cleared environment plus what
/// cargo and rustup need; the static build is cached in target/static (shared by every
/// test that builds it).
pub fn repo_script(name: &str) -> Command {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(manifest.join("scripts").join(name));
    cmd.env_clear()
        .env("CARGO_TARGET_DIR", manifest.join("target/static"))
        .current_dir(manifest)
        .stdin(Stdio::null());
    for k in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    cmd
}

/// Build (or reuse) the static release binary through the shipped script
/// (scripts/build-static, cached in target/static): the artifact users run. None (skipped
/// loudly) when its prerequisites are missing outside CI.
pub fn build_static() -> Option<PathBuf> {
    let mut cmd = repo_script("build-static");
    let out = cmd.output().expect("run scripts/build-static");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) && !ci() {
        eprintln!("SKIPPED: the static build prerequisites are missing:\n{stderr}");
        return None;
    }
    assert!(out.status.success(), "scripts/build-static failed:\n{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let bin = PathBuf::from(stdout.lines().last().expect("the binary path").trim());
    assert!(bin.is_file(), "{}", bin.display());
    eprintln!(
        "{}",
        stderr
            .lines()
            .filter(|l| l.starts_with("size:"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Some(bin)
}
