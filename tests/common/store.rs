//! Helpers for the trust-store tests: a tiny PKI (rcgen, fixed validity), fixture
//! filesystems laid out like Debian, Alpine, RHEL, distroless and scratch images, and the
//! tools to run real `go` and `openssl` with a cleared environment.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyPair, KeyUsagePurpose,
};
use time::macros::datetime;

use tlsdoctor::trust::openssl::subject_hash;
use tlsdoctor::x509::CertInfo;

/// A CA (or leaf) with its key.
pub struct Ca {
    pub name: String,
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Ca {
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
    pub fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }
    pub fn info(&self) -> CertInfo {
        CertInfo::from_der(&self.der()).unwrap()
    }
    pub fn sha256(&self) -> String {
        self.info().sha256
    }
    /// OpenSSL subject-hash file name (`abcd1234.0`).
    pub fn hash_name(&self, n: u32) -> String {
        format!("{:08x}.{n}", subject_hash(&self.info().subject_der).unwrap())
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(
        DnType::OrganizationName,
        DnValue::Utf8String("tlsdoctor tests".into()),
    );
    d.push(DnType::CommonName, DnValue::Utf8String(cn.into()));
    d
}

/// A self-signed CA valid 2020–2099 (deterministic name).
pub fn ca(cn: &str) -> Ca {
    ca_valid(cn, datetime!(2020-01-01 0:00 UTC), datetime!(2099-01-01 0:00 UTC))
}

/// A CA that expired in 2001.
pub fn expired_ca(cn: &str) -> Ca {
    ca_valid(cn, datetime!(2000-01-01 0:00 UTC), datetime!(2001-01-01 0:00 UTC))
}

fn ca_valid(cn: &str, nb: time::OffsetDateTime, na: time::OffsetDateTime) -> Ca {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = nb;
    p.not_after = na;
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        name: cn.into(),
        cert,
        key,
    }
}

/// A leaf for `name` issued by `ca`.
pub fn leaf(issuer: &Ca, name: &str) -> Ca {
    let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name = dn(name);
    p.not_before = datetime!(2020-01-01 0:00 UTC);
    p.not_after = datetime!(2099-01-01 0:00 UTC);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Ca {
        name: name.into(),
        cert,
        key,
    }
}

/// A fixture filesystem in a temp dir. Paths are World paths (`/etc/...`).
pub struct Fs {
    pub dir: tempfile::TempDir,
}

impl Fs {
    pub fn new() -> Fs {
        Fs {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// The host path of a World path.
    pub fn host(&self, p: &str) -> PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }
    pub fn write(&self, p: &str, data: impl AsRef<[u8]>) -> &Fs {
        let h = self.host(p);
        std::fs::create_dir_all(h.parent().unwrap()).unwrap();
        std::fs::write(h, data).unwrap();
        self
    }
    pub fn mkdir(&self, p: &str) -> &Fs {
        std::fs::create_dir_all(self.host(p)).unwrap();
        self
    }
    /// `p -> target` (target written as given: absolute targets resolve inside the root).
    pub fn link(&self, target: &str, p: &str) -> &Fs {
        let h = self.host(p);
        std::fs::create_dir_all(h.parent().unwrap()).unwrap();
        symlink(target, h).unwrap();
        self
    }
    pub fn world(&self, env: &[(&str, &str)]) -> tlsdoctor::world::World {
        tlsdoctor::world::World::fixture(self.root(), env)
    }
}

pub fn bundle(cas: &[&Ca]) -> String {
    cas.iter().map(|c| c.pem()).collect::<Vec<_>>().concat()
}

/// A CERTIFICATE block whose base64 is fine but whose DER is not a certificate.
pub const BAD_BLOCK: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBjunkjunkjunkjunkjunkjunkjunkjunkjunk\n-----END CERTIFICATE-----\n";

/// Debian layout: /usr/share/ca-certificates/mozilla/*.crt, /etc/ssl/certs/*.pem links,
/// hash links, ca-certificates.crt, /usr/lib/ssl/{certs,cert.pem} links.
pub fn debian(fs: &Fs, cas: &[&Ca]) {
    fs.write(
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    );
    fs.write("/etc/debian_version", "12.8\n");
    fs.write("/bin/sh", "");
    fs.mkdir("/etc/ssl/certs");
    for c in cas {
        let n = c.name.replace(' ', "_");
        fs.write(&format!("/usr/share/ca-certificates/mozilla/{n}.crt"), c.pem());
        fs.link(
            &format!("/usr/share/ca-certificates/mozilla/{n}.crt"),
            &format!("/etc/ssl/certs/{n}.pem"),
        );
        fs.link(&format!("{n}.pem"), &format!("/etc/ssl/certs/{}", c.hash_name(0)));
    }
    fs.write("/etc/ssl/certs/ca-certificates.crt", bundle(cas));
    fs.link("/etc/ssl/certs", "/usr/lib/ssl/certs");
    fs.link("/etc/ssl/certs/ca-certificates.crt", "/usr/lib/ssl/cert.pem");
}

/// Alpine layout: /etc/ssl/certs/ca-certificates.crt, /etc/ssl/cert.pem link, hash links.
pub fn alpine(fs: &Fs, cas: &[&Ca]) {
    fs.write("/etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\n");
    fs.write("/etc/alpine-release", "3.20.0\n");
    fs.write("/etc/ssl/certs/ca-certificates.crt", bundle(cas));
    fs.link("certs/ca-certificates.crt", "/etc/ssl/cert.pem");
    for c in cas {
        let n = c.name.replace(' ', "_");
        fs.write(&format!("/usr/share/ca-certificates/mozilla/{n}.crt"), c.pem());
        fs.link(
            &format!("/usr/share/ca-certificates/mozilla/{n}.crt"),
            &format!("/etc/ssl/certs/{}", c.hash_name(0)),
        );
    }
}

/// RHEL layout: extracted bundle and the /etc/pki/tls links.
pub fn rhel(fs: &Fs, cas: &[&Ca]) {
    fs.write(
        "/etc/os-release",
        "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n",
    );
    fs.write("/etc/redhat-release", "Red Hat Enterprise Linux release 9.4\n");
    fs.write("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", bundle(cas));
    fs.link(
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/pki/tls/certs/ca-bundle.crt",
    );
    fs.link(
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/pki/tls/cert.pem",
    );
    fs.mkdir("/etc/pki/ca-trust/source/anchors");
}

/// Distroless: the bundle only.
pub fn distroless(fs: &Fs, cas: &[&Ca]) {
    fs.write(
        "/etc/os-release",
        "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n",
    );
    fs.write("/etc/ssl/certs/ca-certificates.crt", bundle(cas));
}

/// scratch: one binary, nothing else.
pub fn scratch(fs: &Fs) {
    fs.write("/app", "\x7fELF");
}

/// Is `tool` installed (`tool version` succeeds)? With CI=true a missing tool is a failure.
pub fn have(tool: &str) -> bool {
    have_with(tool, "version")
}

/// Is `tool` installed (`tool ARG` succeeds)? With CI=true a missing tool is a failure
/// (`.ci/run` installs every tool the suite needs); otherwise the test skips loudly.
pub fn have_with(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is required when CI=true (install it: .ci/run does)");
        }
        eprintln!("\n!!! SKIPPING: `{tool}` is not installed; this test did not run !!!\n");
    }
    ok
}

/// Path to the tlsdoctor binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tlsdoctor"))
}

/// Run tlsdoctor with a cleared environment plus `env`.
pub fn tlsdoctor(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Build a static Go program (this machine's Go, CGO off, no network, its own caches under
/// target/tmp/go-NAME) from one `main.go`, once per test binary; None without `go`.
pub fn build_go(name: &str, main_go: &str) -> Option<std::path::PathBuf> {
    build_go_mod(name, main_go, "")
}

/// [`build_go`] with more lines for its go.mod (`require` and `replace` lines: a module
/// from a directory, such as Debian's `/usr/share/gocode/src/…`, needs no network).
pub fn build_go_mod(name: &str, main_go: &str, go_mod: &str) -> Option<std::path::PathBuf> {
    if !have("go") {
        return None;
    }
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("go-{name}"));
    let src = base.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(base.join("home")).unwrap();
    std::fs::write(src.join("go.mod"), format!("module {name}\n\ngo 1.19\n{go_mod}")).unwrap();
    std::fs::write(src.join("main.go"), main_go).unwrap();
    let out = base.join(name);
    let o = std::process::Command::new("go")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", base.join("home"))
        .env("GOCACHE", base.join("cache"))
        .env("GOPATH", base.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("CGO_ENABLED", "0")
        .current_dir(&src)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "go build {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}
