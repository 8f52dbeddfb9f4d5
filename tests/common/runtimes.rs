//! Helpers for the extra-runtime tests (node, python, python-requests, curl, java): a small
//! PKI valid 2020–2099 (so real runtimes, which use the wall clock, and tlsdoctor at a
//! fixed `--at` agree), a loopback `openssl s_server`, and the real runtimes run with a
//! cleared environment.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use time::macros::datetime;

/// The `--at` tlsdoctor uses: inside 2020–2099, after the expired fixture (2000–2001).
pub const AT: &str = "2030-06-01T00:00:00Z";

pub struct Cert {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Cert {
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn params(
    cn: &str,
    sans: &[&str],
    ca: bool,
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, "tlsdoctor runtimes");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = from;
    p.not_after = to;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    p.use_authority_key_identifier_extension = !sans.is_empty() || !ca;
    p
}

/// A root, an intermediate, and leaves for each scenario.
pub struct Pki {
    pub root: Cert,
    pub int: Cert,
    /// good.test, issued by `int`.
    pub leaf: Cert,
    /// good.test, expired in 2001, issued by `int`.
    pub expired: Cert,
    /// self.test, self-signed.
    pub selfsigned: Cert,
    /// CN=good.test and no subjectAltName, issued by `int`.
    pub cn_only: Cert,
    /// SAN *.good.test, issued by `int`.
    pub wildcard: Cert,
    /// SAN w*.good.test (a partial wildcard), issued by `int`.
    pub partial: Cert,
}

pub fn pki() -> Pki {
    pki_named("Runtimes")
}

/// A PKI whose CA names start with `prefix` (the same prefix twice: same names, other keys).
pub fn pki_named(prefix: &str) -> Pki {
    let (a, z) = (datetime!(2020-01-01 0:00 UTC), datetime!(2099-01-01 0:00 UTC));
    let rk = KeyPair::generate().unwrap();
    let root = params(&format!("{prefix} Root CA"), &[], true, a, z)
        .self_signed(&rk)
        .unwrap();
    let root = Cert { cert: root, key: rk };
    let ik = KeyPair::generate().unwrap();
    let int = params(&format!("{prefix} Intermediate CA"), &[], true, a, z)
        .signed_by(&ik, &root.cert, &root.key)
        .unwrap();
    let int = Cert { cert: int, key: ik };
    let issue = |cn: &str, from, to| {
        let k = KeyPair::generate().unwrap();
        let c = params(cn, &[cn], false, from, to)
            .signed_by(&k, &int.cert, &int.key)
            .unwrap();
        Cert { cert: c, key: k }
    };
    let leaf = issue("good.test", a, z);
    let expired = issue(
        "good.test",
        datetime!(2000-01-01 0:00 UTC),
        datetime!(2001-01-01 0:00 UTC),
    );
    let wildcard = issue("*.good.test", a, z);
    let partial = issue("w*.good.test", a, z);
    let ck = KeyPair::generate().unwrap();
    let cn_only = params("good.test", &[], false, a, z)
        .signed_by(&ck, &int.cert, &int.key)
        .unwrap();
    let sk = KeyPair::generate().unwrap();
    let selfsigned = params("self.test", &["self.test"], false, a, z)
        .self_signed(&sk)
        .unwrap();
    Pki {
        root,
        int,
        leaf,
        expired,
        selfsigned: Cert {
            cert: selfsigned,
            key: sk,
        },
        cn_only: Cert {
            cert: cn_only,
            key: ck,
        },
        wildcard,
        partial,
    }
}

/// Is `tool` runnable? With CI=true a missing tool is a failure; otherwise skip loudly.
pub fn need(tool: &str, version_arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_arg)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("`{tool}` is required when CI=true (.ci/run installs it)");
        }
        eprintln!(
            "\n!!! SKIPPING: `{tool}` is not installed; this real-runtime cross-check did not run !!!\n"
        );
    }
    ok
}

/// A loopback `openssl s_server -www` presenting `cert` (+ `chain`), killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(cert: &Cert, chain: &[&Cert]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, s: String| {
            let p = dir.path().join(n);
            std::fs::write(&p, s).unwrap();
            p
        };
        let c = w("cert.pem", cert.pem());
        let k = w("key.pem", cert.key_pem());
        let ch = (!chain.is_empty()).then(|| w("chain.pem", chain.iter().map(|c| c.pem()).collect()));
        Server::spawn(dir, &c, &k, ch.as_deref(), &[])
    }

    /// A server for files made elsewhere (openssl-made keys rcgen cannot make), with
    /// extra `s_server` arguments.
    pub fn start_files(cert: &Path, key: &Path, chain: Option<&Path>, extra: &[&str]) -> Server {
        Server::spawn(tempfile::tempdir().unwrap(), cert, key, chain, extra)
    }

    fn spawn(dir: tempfile::TempDir, c: &Path, k: &Path, chain: Option<&Path>, extra: &[&str]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("openssl");
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(c)
            .arg("-key")
            .arg(k)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(ch) = chain {
            cmd.arg("-cert_chain").arg(ch);
        }
        let child = cmd.spawn().expect("openssl s_server");
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `prog args` with only PATH (and `env`) set, a timeout, and return (status, stdout, stderr).
pub fn run(prog: &str, args: &[&str], env: &[(&str, &str)], cwd: &Path) -> (i32, String, String) {
    let mut c = Command::new(prog);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{prog} {args:?} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub const NODE_CLIENT: &str = r#"
const tls = require("tls");
const [port, name] = process.argv.slice(2);
const s = tls.connect({ host: "127.0.0.1", port: +port, servername: name }, () => {
  const e = tls.checkServerIdentity(name, s.getPeerCertificate());
  console.log(e ? e.message : "OK");
  s.destroy();
});
s.setTimeout(5000, () => { console.log("TIMEOUT"); s.destroy(); });
s.on("error", (e) => { console.log(e.message); });
"#;

pub const PY_CLIENT: &str = r#"
import socket, ssl, sys
port, name = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
try:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=name):
            print("OK")
except ssl.SSLCertVerificationError as e:
    print(e.args[1] if len(e.args) > 1 else str(e))
"#;

pub const JAVA_CLIENT: &str = r#"
import javax.net.ssl.*; import java.net.*;
public class Check { public static void main(String[] a) throws Exception {
  SSLContext ctx = SSLContext.getDefault();
  Socket raw = new Socket(); raw.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[0])), 5000);
  SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, a[1], Integer.parseInt(a[0]), true);
  SSLParameters p = s.getSSLParameters(); p.setEndpointIdentificationAlgorithm("HTTPS"); s.setSSLParameters(p);
  s.setSoTimeout(5000);
  try { s.startHandshake(); System.out.println("OK"); } catch (Exception e) { System.out.println(e.toString()); }
}}
"#;

/// Write `data` to `dir/name`, creating parents; returns the host path.
pub fn put(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(data.as_ref()).unwrap();
    p
}
