//! The doctor's reasoning, scenario by scenario, against real peers: `openssl s_server`
//! serving generated chains, Python's `http.server` serving an intermediate at its AIA
//! URL, and fixture container trees laid out as Debian lays out its stores (a public root
//! installed, plus what each scenario adds: a staged root, a service-account CA, an
//! unhashed `SSL_CERT_DIR`, Debian's snakeoil certificate).
//!
//! Each scenario asserts, per runtime, the primary cause, where the evidence was found and
//! the fix worded for that runtime; where a fix is a change to the tree, the test applies it
//! and proves it with a real `openssl s_client` (and tlsdoctor) on the fixed tree. The
//! default human report of each scenario is kept as a reviewed transcript under
//! `tests/transcripts/doctor/` (volatile values filtered; `TLSDOCTOR_BLESS=1` rewrites
//! them) and must fit the doctor's-note budget: 25 lines at 80 columns.

#[path = "common/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::Value;
use servers::{clean, need, s_server, tlsdoctor, wait_for, Issued, Server, AT};

// ---------------------------------------------------------------------------------------
// PKI with scenario names

fn dn(cn: &str, o: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, o);
    d.push(DnType::CommonName, cn);
    d
}

fn ca_in(cn: &str, o: &str, issuer: Option<&Issued>) -> Issued {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn, o);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = issuer.is_some();
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        None => p.self_signed(&key).expect("self-sign"),
        Some(i) => p.signed_by(&key, &i.cert, &i.key).expect("sign"),
    };
    Issued { cert, key }
}

fn ca(cn: &str, issuer: Option<&Issued>) -> Issued {
    ca_in(cn, "Corp", issuer)
}

/// The DER of an AuthorityInfoAccess extension with one caIssuers URL.
fn aia_ext(url: &str) -> CustomExtension {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = body.len();
        if n < 0x80 {
            v.push(n as u8);
        } else {
            v.extend([0x81, n as u8]);
        }
        v.extend_from_slice(body);
        v
    }
    // id-ad-caIssuers 1.3.6.1.5.5.7.48.2
    let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut access = oid.to_vec();
    access.extend(tlv(0x86, url.as_bytes()));
    let der = tlv(0x30, &tlv(0x30, &access));
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], der)
}

struct LeafOpts<'a> {
    name: &'a str,
    from: i32,
    to: i32,
    aia: Option<&'a str>,
}

fn leaf_with(issuer: Option<&Issued>, o: LeafOpts) -> Issued {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(o.name, "Corp");
    p.subject_alt_names = vec![SanType::DnsName(o.name.try_into().expect("dns"))];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.is_ca = IsCa::ExplicitNoCa;
    p.use_authority_key_identifier_extension = issuer.is_some();
    p.not_before = rcgen::date_time_ymd(o.from, 1, 1);
    p.not_after = rcgen::date_time_ymd(o.to, 1, 1);
    if let Some(url) = o.aia {
        p.custom_extensions.push(aia_ext(url));
    }
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        None => p.self_signed(&key).expect("self-sign"),
        Some(i) => p.signed_by(&key, &i.cert, &i.key).expect("sign"),
    };
    Issued { cert, key }
}

fn leaf(issuer: &Issued, name: &str) -> Issued {
    leaf_with(
        Some(issuer),
        LeafOpts {
            name,
            from: 2025,
            to: 2040,
            aia: None,
        },
    )
}

// ---------------------------------------------------------------------------------------
// Fixture trees

/// OpenSSL's subject hash of a certificate, from the real `openssl x509 -hash`.
fn subject_hash(openssl: &Path, pem: &str, dir: &Path) -> String {
    let f = dir.join("hash-input.pem");
    std::fs::write(&f, pem).unwrap();
    let out = clean(openssl.to_str().unwrap())
        .args(["x509", "-noout", "-hash", "-in"])
        .arg(&f)
        .output()
        .expect("openssl x509 -hash");
    assert!(out.status.success(), "openssl x509 -hash failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A Debian-like container tree: the public root installed as `update-ca-certificates`
/// installs it (a `.crt` under /usr/share, a `.pem` link and a hash link in /etc/ssl/certs,
/// the bundle), OpenSSL's directory linked to it, python3 with requests and Debian's
/// certifi (its bundle is the system one), node, and a JDK whose cacerts is the shared
/// store. Links are relative so host tools (s_client -CApath) read the tree as well.
struct Tree {
    dir: tempfile::TempDir,
    openssl: PathBuf,
}

impl Tree {
    fn debian(public: &Issued) -> Option<Tree> {
        let openssl = need("openssl")?;
        need("keytool")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tree { dir, openssl };
        t.write("etc/debian_version", "12.8\n");
        t.write("usr/share/ca-certificates/mozilla/Public_Root.crt", &public.pem());
        t.link(
            "../../../usr/share/ca-certificates/mozilla/Public_Root.crt",
            "etc/ssl/certs/Public_Root.pem",
        );
        let h = t.hash(&public.pem());
        t.link("Public_Root.pem", &format!("etc/ssl/certs/{h}.0"));
        t.write("etc/ssl/certs/ca-certificates.crt", &public.pem());
        t.link("../../../etc/ssl/certs", "usr/lib/ssl/certs");
        t.link(
            "../../../etc/ssl/certs/ca-certificates.crt",
            "usr/lib/ssl/cert.pem",
        );
        for b in ["usr/bin/python3", "usr/bin/curl"] {
            t.write(b, "");
        }
        t.mkdir("usr/lib/python3/dist-packages/requests");
        // Debian's python3-certifi: where() patched to return the system bundle.
        t.write(
            "usr/lib/python3/dist-packages/certifi/core.py",
            "def where():\n    return \"/etc/ssl/certs/ca-certificates.crt\"\n",
        );
        Some(t)
    }

    /// Add node (NodeSource's build: its own list) and a JDK whose cacerts is the shared
    /// store, made by a real keytool: every runtime the tool knows is then present.
    fn add_node_and_java(&self, public: &Issued) {
        let t = self;
        let keytool = need("keytool").expect("keytool");
        t.write("usr/bin/node", "");
        t.mkdir("etc/ssl/certs/java");
        let cacerts = t.path("etc/ssl/certs/java/cacerts");
        let pub_file = t.dir.path().join("public-root-input.pem");
        std::fs::write(&pub_file, public.pem()).unwrap();
        let st = clean(keytool.to_str().unwrap())
            .args([
                "-importcert",
                "-noprompt",
                "-alias",
                "public-root",
                "-storetype",
                "JKS",
            ])
            .args(["-storepass", "changeit", "-keystore"])
            .arg(&cacerts)
            .arg("-file")
            .arg(&pub_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("keytool");
        assert!(st.success(), "keytool -importcert failed");
        std::fs::remove_file(&pub_file).unwrap();
        t.write("usr/lib/jvm/java-17-openjdk-amd64/bin/java", "");
        t.link(
            "../../../../../../etc/ssl/certs/java/cacerts",
            "usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts",
        );
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn root(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
    fn mkdir(&self, p: &str) {
        std::fs::create_dir_all(self.path(p)).unwrap();
    }
    fn write(&self, p: &str, data: &str) {
        let f = self.path(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, data).unwrap();
    }
    fn link(&self, target: &str, p: &str) {
        let f = self.path(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        symlink(target, f).unwrap();
    }
    fn hash(&self, pem: &str) -> String {
        subject_hash(&self.openssl, pem, self.dir.path())
    }
    /// What `update-ca-certificates` does with one staged `.crt`.
    fn install(&self, staged: &str, pem: &str) {
        let base = Path::new(staged)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".crt", ".pem");
        self.link(&format!("../../..{staged}"), &format!("etc/ssl/certs/{base}"));
        self.link(&base, &format!("etc/ssl/certs/{}.0", self.hash(pem)));
        let bundle = self.path("etc/ssl/certs/ca-certificates.crt");
        let mut b = std::fs::read_to_string(&bundle).unwrap();
        b.push_str(pem);
        std::fs::write(bundle, b).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Peers

/// `openssl s_server` presenting `certs` (leaf first) with `key`.
fn serve(dir: &Path, certs: &[&Issued], key: &Issued) -> Option<Server> {
    let leaf = dir.join("served-leaf.pem");
    let keyf = dir.join("served-leaf.key");
    std::fs::write(&leaf, certs[0].pem()).unwrap();
    std::fs::write(&keyf, key.key_pem()).unwrap();
    let mut args = vec![
        "-cert".to_string(),
        leaf.display().to_string(),
        "-key".into(),
        keyf.display().to_string(),
    ];
    if certs.len() > 1 {
        let chain = dir.join("served-chain.pem");
        std::fs::write(&chain, certs[1..].iter().map(|c| c.pem()).collect::<String>()).unwrap();
        args.extend(["-cert_chain".into(), chain.display().to_string()]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    s_server(&a)
}

/// Python's `http.server` serving `dir` on 127.0.0.1 (the AIA caIssuers host).
fn http_server(dir: &Path) -> Option<Server> {
    let py = need("python3")?;
    let log = dir.join("http.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = clean(py.to_str().unwrap())
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
        .current_dir(dir)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("python3 -m http.server");
    let text = wait_for(&mut child, &log, "Serving HTTP", Duration::from_secs(10));
    let port = text
        .split("port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in http.server output: {text}"));
    Some(Server {
        child,
        stdin: None,
        port,
        log,
        dir: None,
    })
}

// ---------------------------------------------------------------------------------------
// Running and reading the doctor

struct Outcome {
    json: Value,
    human: String,
    code: i32,
}

fn doctor(tree: &Tree, server: &Server, name: &str, extra: &[&str]) -> Outcome {
    let target = server.addr();
    let mut args = vec![
        "connect",
        &target,
        "--name",
        name,
        "--root",
        tree.root(),
        "--at",
        AT,
    ];
    args.extend_from_slice(extra);
    let mut j = args.clone();
    j.push("--json");
    let json = tlsdoctor(&j, &[]);
    let human = tlsdoctor(&args, &[("COLUMNS", "80")]);
    assert_eq!(
        json.code, human.code,
        "exit code differs between --json and human"
    );
    Outcome {
        json: serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", json.stdout, json.stderr)),
        human: human.stdout,
        code: human.code,
    }
}

impl Outcome {
    /// Primary cause per runtime (`ok` when trusted).
    fn causes(&self) -> BTreeMap<String, String> {
        self.json["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .map(|v| {
                let rt = v["runtime"].as_str().unwrap().to_string();
                let c = if v["trusted"].as_bool() == Some(true) && v["name_ok"].as_bool() != Some(false) {
                    "ok".to_string()
                } else {
                    v["cause"].as_str().unwrap_or("?").to_string()
                };
                (rt, c)
            })
            .collect()
    }

    fn assert_causes(&self, want: &[(&str, &str)]) {
        let got = self.causes();
        for (rt, c) in want {
            assert_eq!(
                got.get(*rt).map(String::as_str),
                Some(*c),
                "cause of {rt}; all: {got:?}\n{}",
                self.human
            );
        }
    }

    /// The fix text that a finding gives `runtime` ("go, openssl: TEXT" lines), joined.
    fn fix_for(&self, code: &str, runtime: &str) -> String {
        let f = self.finding(code);
        let fix = f["fix"].as_str().unwrap_or_default();
        let mut out = vec![];
        for para in fix.split("\n\n") {
            if let Some((who, text)) = para.split_once(": ") {
                if who.split(", ").any(|w| w == runtime) {
                    out.push(text.to_string());
                }
            }
        }
        if out.is_empty() {
            // One text for every runtime of the finding.
            if f["runtimes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r == runtime))
            {
                out.push(fix.to_string());
            }
        }
        out.join("\n")
    }

    fn finding(&self, code: &str) -> &Value {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no finding {code}:\n{}", self.human))
    }

    fn codes(&self) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    }

    fn evidence_paths(&self) -> Vec<String> {
        self.json["issuer"]["found_at"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["path"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The human report with volatile values replaced: ports, temp dirs, dates, digests.
fn filtered(text: &str, tree: &Tree, port: u16) -> String {
    let mut t = text
        .replace(tree.root(), "TREE")
        .replace(&format!(":{port}"), ":PORT");
    // Key identifiers, fingerprints and subject hashes come from generated keys and names.
    let mut out = String::new();
    for line in t.lines() {
        let mut l = String::new();
        for word in line.split_inclusive(|c: char| !c.is_ascii_hexdigit()) {
            let (hex, rest) = word.split_at(word.trim_end_matches(|c: char| !c.is_ascii_hexdigit()).len());
            if hex.len() >= 8
                && hex.chars().all(|c| c.is_ascii_hexdigit())
                && hex.chars().any(|c| c.is_ascii_digit())
            {
                l.push_str("HEX");
            } else {
                l.push_str(hex);
            }
            l.push_str(rest);
        }
        out.push_str(&l);
        out.push('\n');
    }
    t = out;
    t
}

/// Compare with (or, with `TLSDOCTOR_BLESS=1`, write) the reviewed transcript, and keep the
/// doctor's note within 25 lines of at most 80 columns.
fn transcript(name: &str, report: &str, tree: &Tree, port: u16) {
    transcript_within(name, report, tree, port, 25)
}

/// As [`transcript`], for a failure with two causes and two fixes (an expired or misnamed
/// certificate *and* an untrusted root): both must be said, in at most `budget` lines.
fn transcript_within(name: &str, report: &str, tree: &Tree, port: u16, budget: usize) {
    let text = filtered(report, tree, port);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/transcripts/doctor/{name}.txt"));
    if std::env::var_os("TLSDOCTOR_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &text).unwrap();
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() <= budget,
        "{name}: {} lines (> {budget}):\n{text}",
        lines.len()
    );
    for l in &lines {
        assert!(l.chars().count() <= 80, "{name}: line over 80 columns: {l:?}");
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        panic!(
            "no transcript {}: run with TLSDOCTOR_BLESS=1 and review it",
            file.display()
        )
    });
    assert_eq!(
        text, want,
        "{name}: the report differs from its reviewed transcript"
    );
}

/// A real `openssl s_client -verify_return_error` with the tree's bundle and directory:
/// `Ok(())` when it verifies, else its verify error number.
fn s_client(tree: &Tree, server: &Server, name: &str) -> Result<(), String> {
    let mut c = clean(tree.openssl.to_str().unwrap());
    c.args([
        "s_client",
        "-connect",
        &server.addr(),
        "-servername",
        name,
        "-verify_hostname",
        name,
    ])
    .args(["-verify_return_error", "-attime", "1906502400"])
    .arg("-CAfile")
    .arg(tree.path("etc/ssl/certs/ca-certificates.crt"))
    .arg("-CApath")
    .arg(tree.path("etc/ssl/certs"))
    .stdin(Stdio::null());
    let out = c.output().expect("s_client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("Verify return code: 0 (ok)") {
        Ok(())
    } else {
        Err(text
            .lines()
            .find(|l| l.contains("verify error:num="))
            .unwrap_or("no verify error line")
            .to_string())
    }
}

/// The runtimes of the typical tree (a Debian image with python, requests and curl).
const TYPICAL: [&str; 7] = [
    "go",
    "openssl",
    "rustls-native",
    "webpki-roots",
    "python",
    "python-requests",
    "curl",
];

/// Every runtime, once node and a JDK are added.
const ALL: [&str; 9] = [
    "go",
    "openssl",
    "rustls-native",
    "webpki-roots",
    "node",
    "python",
    "python-requests",
    "curl",
    "java",
];

struct Corp {
    public: Issued,
    root: Issued,
    int: Issued,
    leaf: Issued,
}

fn corp() -> Corp {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let root = ca("Corp Root CA", None);
    let int = ca("Corp Issuing CA 1", Some(&root));
    let leaf = leaf(&int, "svc.corp.test");
    Corp {
        public,
        root,
        int,
        leaf,
    }
}

// ---------------------------------------------------------------------------------------
// Private root, untrusted

#[test]
fn private_root_trusted_nowhere() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    let Some(srv) = serve(tree.dir.path(), &[&c.leaf, &c.int], &c.leaf) else {
        return;
    };
    let o = doctor(&tree, &srv, "svc.corp.test", &[]);
    assert_eq!(o.code, 1);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "unknown-authority")).collect();
    o.assert_causes(&want);
    transcript("private-root-trusted-nowhere", &o.human, &tree, srv.port);
    tree.add_node_and_java(&c.public);
    let o = doctor(&tree, &srv, "svc.corp.test", &[]);
    let want: Vec<(&str, &str)> = ALL.iter().map(|r| (*r, "unknown-authority")).collect();
    o.assert_causes(&want);
    assert!(
        !o.codes().contains(&"missing-intermediate".to_string()),
        "{}",
        o.human
    );
    assert_eq!(o.json["issuer"]["kind"], "root", "{}", o.json["issuer"]);
    assert_eq!(o.json["issuer"]["confidence"], "likely", "{}", o.json["issuer"]);
    let why = o.finding("unknown-authority")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("\"Corp Issuing CA 1\"") && why.contains("is in no store"),
        "{why}"
    );
    for rt in ["go", "openssl", "python", "curl"] {
        let f = o.fix_for("unknown-authority", rt);
        assert!(
            f.contains("/usr/local/share/ca-certificates/corp-root-ca.crt")
                && f.contains("update-ca-certificates"),
            "{rt}: {f}"
        );
    }
    assert!(
        o.fix_for("unknown-authority", "node")
            .contains("NODE_EXTRA_CA_CERTS="),
        "{}",
        o.human
    );
    assert!(o
        .fix_for("unknown-authority", "java")
        .contains("keytool -importcert"));
    assert!(o
        .fix_for("unknown-authority", "webpki-roots")
        .contains("RootCertStore::add"));
    assert!(o
        .fix_for("unknown-authority", "python-requests")
        .contains("update-ca-certificates"));
    assert_eq!(
        s_client(&tree, &srv, "svc.corp.test").unwrap_err(),
        "verify error:num=20:unable to get local issuer certificate"
    );
}

#[test]
fn private_root_staged_but_never_installed() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    // A Secret mounted there (DevLake's story), laid out as the kubelet's atomic writer
    // does: the visible name links through `..data` into a timestamped directory, which is
    // not a second location.
    let stamp = "..2026_12_01_10_00_00.123456789";
    let staged = "usr/local/share/ca-certificates";
    tree.write(&format!("{staged}/{stamp}/corp-root.crt"), &c.root.pem());
    tree.link(stamp, &format!("{staged}/..data"));
    tree.link("..data/corp-root.crt", &format!("{staged}/corp-root.crt"));
    let Some(srv) = serve(tree.dir.path(), &[&c.leaf, &c.int], &c.leaf) else {
        return;
    };
    let o = doctor(&tree, &srv, "svc.corp.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "unknown-authority")).collect();
    o.assert_causes(&want);
    transcript("private-root-staged-not-installed", &o.human, &tree, srv.port);
    tree.add_node_and_java(&c.public);
    let o = doctor(&tree, &srv, "svc.corp.test", &[]);
    let want: Vec<(&str, &str)> = ALL.iter().map(|r| (*r, "unknown-authority")).collect();
    o.assert_causes(&want);
    assert_eq!(
        o.evidence_paths(),
        ["/usr/local/share/ca-certificates/corp-root.crt"]
    );
    let why = o.finding("unknown-authority")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("staged at /usr/local/share/ca-certificates/corp-root.crt") && why.contains("never ran"),
        "{why}"
    );
    for rt in ["go", "openssl", "rustls-native", "python", "curl"] {
        let f = o.fix_for("unknown-authority", rt);
        assert!(f.contains("run `update-ca-certificates`"), "{rt}: {f}");
    }
    // node's build reads its own list: the staged file itself, by its variable.
    assert!(
        o.fix_for("unknown-authority", "node")
            .contains("NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/corp-root.crt"),
        "{}",
        o.human
    );
    assert!(o
        .fix_for("unknown-authority", "java")
        .contains("-file /usr/local/share/ca-certificates/corp-root.crt"));

    // The fix, applied as update-ca-certificates would: OpenSSL (real) and the doctor agree.
    tree.install("/usr/local/share/ca-certificates/corp-root.crt", &c.root.pem());
    assert_eq!(s_client(&tree, &srv, "svc.corp.test"), Ok(()));
    let after = doctor(&tree, &srv, "svc.corp.test", &[]);
    after.assert_causes(&[
        ("go", "ok"),
        ("openssl", "ok"),
        ("python", "ok"),
        ("curl", "ok"),
        ("rustls-native", "ok"),
    ]);
}

#[test]
fn private_root_only_as_the_service_account_ca() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    tree.write(
        "var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        &c.root.pem(),
    );
    tree.write(
        "var/run/secrets/kubernetes.io/serviceaccount/namespace",
        "default",
    );
    let Some(srv) = serve(tree.dir.path(), &[&c.leaf, &c.int], &c.leaf) else {
        return;
    };
    let o = doctor(&tree, &srv, "svc.corp.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "unknown-authority")).collect();
    o.assert_causes(&want);
    assert_eq!(
        o.evidence_paths(),
        ["/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"]
    );
    let why = o.finding("unknown-authority")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("service-account CA") && why.contains("no runtime reads"),
        "{why}"
    );
    // The service-account CA is mounted at run time: the fix is the mount, not an image step.
    let go = o.fix_for("unknown-authority", "go");
    assert!(
        go.contains("Kubernetes line") && !go.contains("update-ca-certificates"),
        "{go}"
    );
    let k8s = o.fix_for("unknown-authority", "Kubernetes");
    assert!(k8s.contains("kube-root-ca.crt"), "{k8s}");
    transcript("private-root-service-account-ca", &o.human, &tree, srv.port);
}

#[test]
fn private_root_in_an_unhashed_ssl_cert_dir() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    tree.write("certs/corp-root.pem", &c.root.pem());
    let Some(srv) = serve(tree.dir.path(), &[&c.leaf, &c.int], &c.leaf) else {
        return;
    };
    let o = doctor(&tree, &srv, "svc.corp.test", &["--env", "SSL_CERT_DIR=/certs"]);
    // Go reads every file of SSL_CERT_DIR; OpenSSL looks certificates up by hash name only.
    o.assert_causes(&[
        ("go", "ok"),
        ("openssl", "unknown-authority"),
        ("python", "unknown-authority"),
        ("curl", "unknown-authority"),
    ]);
    assert!(
        o.evidence_paths().contains(&"/certs/corp-root.pem".to_string()),
        "{:?}",
        o.evidence_paths()
    );
    let why = o.finding("unknown-authority")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("/certs") && why.contains("hash"), "{why}");
    for rt in ["openssl", "python", "curl"] {
        let f = o.fix_for("unknown-authority", rt);
        assert!(f.contains("`openssl rehash /certs`"), "{rt}: {f}");
    }
    transcript("private-root-unhashed-dir", &o.human, &tree, srv.port);

    // The fix: a hash link, as `openssl rehash` makes.
    tree.link("corp-root.pem", &format!("certs/{}.0", tree.hash(&c.root.pem())));
    let after = doctor(&tree, &srv, "svc.corp.test", &["--env", "SSL_CERT_DIR=/certs"]);
    after.assert_causes(&[("go", "ok"), ("openssl", "ok"), ("python", "ok"), ("curl", "ok")]);
}

// ---------------------------------------------------------------------------------------
// Missing intermediate

#[test]
fn leaf_only_with_the_intermediate_at_its_aia_url() {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let int = ca_in("Public Issuing CA 7", "Public Trust", Some(&public));
    let Some(tree) = Tree::debian(&public) else { return };
    let www = tree.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("issuing-7.der"), int.cert.der()).unwrap();
    let Some(http) = http_server(&www) else { return };
    let url = format!("http://127.0.0.1:{}/issuing-7.der", http.port);
    let l = leaf_with(
        Some(&int),
        LeafOpts {
            name: "shop.example.test",
            from: 2025,
            to: 2040,
            aia: Some(&url),
        },
    );
    let Some(srv) = serve(tree.dir.path(), &[&l], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "shop.example.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "missing-intermediate")).collect();
    o.assert_causes(&want);
    let issuer = &o.json["issuer"];
    assert_eq!(issuer["kind"], "intermediate", "{issuer}");
    assert_eq!(issuer["confidence"], "certain", "{issuer}");
    assert_eq!(issuer["aia"]["url"], url.as_str(), "{issuer}");
    let fix = o.fix_for("missing-intermediate", "go");
    assert!(
        fix.contains("send the intermediate \"Public Issuing CA 7\"") && fix.contains(&url),
        "{fix}"
    );
    let log = std::fs::read_to_string(&http.log).unwrap();
    assert!(
        log.contains("GET /issuing-7.der"),
        "the AIA URL was not fetched: {log}"
    );
    let h = o.human.replace(&http.port.to_string(), "HTTPPORT");
    transcript("leaf-only-aia", &h, &tree, srv.port);

    // --no-fetch: the same cause, stated with less certainty, and no request made.
    let before = std::fs::read_to_string(&http.log)
        .unwrap()
        .matches("GET ")
        .count();
    let o = doctor(&tree, &srv, "shop.example.test", &["--no-fetch"]);
    o.assert_causes(&[
        ("go", "missing-intermediate"),
        ("openssl", "missing-intermediate"),
    ]);
    assert_ne!(o.json["issuer"]["confidence"], "certain");
    let after = std::fs::read_to_string(&http.log)
        .unwrap()
        .matches("GET ")
        .count();
    assert_eq!(before, after, "--no-fetch fetched");

    // The fix, applied (the server sends the intermediate): the real client agrees.
    drop(srv);
    let Some(srv) = serve(tree.dir.path(), &[&l, &int], &l) else {
        return;
    };
    assert_eq!(s_client(&tree, &srv, "shop.example.test"), Ok(()));
    doctor(&tree, &srv, "shop.example.test", &["--no-fetch"])
        .assert_causes(&[("go", "ok"), ("openssl", "ok")]);
}

#[test]
fn leaf_only_without_aia() {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let int = ca_in("Public Issuing CA 8", "Public Trust", Some(&public));
    let Some(tree) = Tree::debian(&public) else { return };
    let l = leaf(&int, "shop.example.test");
    let Some(srv) = serve(tree.dir.path(), &[&l], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "shop.example.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "missing-intermediate")).collect();
    o.assert_causes(&want);
    let issuer = &o.json["issuer"];
    assert_eq!(issuer["confidence"], "low", "{issuer}");
    assert!(o.human.contains("Public Issuing CA 8"), "{}", o.human);
    assert_eq!(
        s_client(&tree, &srv, "shop.example.test").unwrap_err(),
        "verify error:num=20:unable to get local issuer certificate"
    );
    transcript("leaf-only-no-aia", &o.human, &tree, srv.port);
}

// ---------------------------------------------------------------------------------------
// Interception, self-signed, and failures that come with an untrusted root

#[test]
fn interception_root() {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let Some(tree) = Tree::debian(&public) else { return };
    let root = ca_in("Zscaler Root CA", "Zscaler Inc.", None);
    let int = ca_in(
        "Zscaler Intermediate Root CA (zscaler.net)",
        "Zscaler Inc.",
        Some(&root),
    );
    let l = leaf(&int, "api.github.test");
    let Some(srv) = serve(tree.dir.path(), &[&l, &int], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "api.github.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "untrusted-intercept")).collect();
    o.assert_causes(&want);
    let f = o.finding("tls-interception");
    assert!(f["message"].as_str().unwrap().contains("Zscaler"), "{f}");
    assert!(f["fix"].as_str().unwrap().contains("ask IT"), "{f}");
    transcript("interception-root", &o.human, &tree, srv.port);
}

#[test]
fn self_signed_server() {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let Some(tree) = Tree::debian(&public) else { return };
    let l = leaf_with(
        None,
        LeafOpts {
            name: "dev.corp.test",
            from: 2025,
            to: 2040,
            aia: None,
        },
    );
    let Some(srv) = serve(tree.dir.path(), &[&l], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "dev.corp.test", &[]);
    let want: Vec<(&str, &str)> = TYPICAL.iter().map(|r| (*r, "self-signed")).collect();
    o.assert_causes(&want);
    let fix = o.finding("self-signed")["fix"].as_str().unwrap().to_string();
    assert!(
        fix.contains("signed itself") && fix.contains("\"dev.corp.test\""),
        "{fix}"
    );
    assert!(
        o.fix_for("self-signed", "go").contains("update-ca-certificates"),
        "{fix}"
    );
    assert_eq!(
        s_client(&tree, &srv, "dev.corp.test").unwrap_err(),
        "verify error:num=18:self-signed certificate"
    );
    transcript("self-signed", &o.human, &tree, srv.port);
}

#[test]
fn expired_under_an_untrusted_root() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    let l = leaf_with(
        Some(&c.int),
        LeafOpts {
            name: "old.corp.test",
            from: 2020,
            to: 2022,
            aia: None,
        },
    );
    let Some(srv) = serve(tree.dir.path(), &[&l, &c.int], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "old.corp.test", &[]);
    // Go checks the leaf's validity before it builds a chain; OpenSSL stops at the missing
    // issuer first.
    o.assert_causes(&[
        ("go", "expired"),
        ("openssl", "unknown-authority"),
        ("python", "unknown-authority"),
    ]);
    assert!(
        o.codes().contains(&"expired".to_string()) && o.codes().contains(&"unknown-authority".to_string())
    );
    assert_eq!(
        s_client(&tree, &srv, "old.corp.test").unwrap_err(),
        "verify error:num=20:unable to get local issuer certificate"
    );
    transcript_within("expired-untrusted-root", &o.human, &tree, srv.port, 32);
}

#[test]
fn wrong_name_under_an_untrusted_root() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    let Some(srv) = serve(tree.dir.path(), &[&c.leaf, &c.int], &c.leaf) else {
        return;
    };
    let o = doctor(&tree, &srv, "db.corp.test", &[]);
    // Go checks the name before it builds a chain; OpenSSL builds the chain first.
    o.assert_causes(&[
        ("go", "name-mismatch"),
        ("openssl", "unknown-authority"),
        ("curl", "unknown-authority"),
    ]);
    assert!(
        o.codes().contains(&"name-mismatch".to_string())
            && o.codes().contains(&"unknown-authority".to_string())
    );
    transcript_within("wrong-name-untrusted-root", &o.human, &tree, srv.port, 32);
}

// ---------------------------------------------------------------------------------------
// A healthy stock Debian host

/// Debian's snakeoil certificate, as `make-ssl-cert` makes it: self-signed, CA:FALSE, named
/// after the host, in /etc/ssl/certs with a hash link (update-ca-certificates rehashes it).
fn snakeoil(tree: &Tree) {
    let mut p = CertificateParams::default();
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, "buildkitsandbox");
    p.distinguished_name = d;
    p.subject_alt_names = vec![SanType::DnsName("buildkitsandbox".try_into().unwrap())];
    p.is_ca = IsCa::ExplicitNoCa;
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2034, 1, 1);
    let key = KeyPair::generate().unwrap();
    let pem = p.self_signed(&key).unwrap().pem();
    tree.write("etc/ssl/certs/ssl-cert-snakeoil.pem", &pem);
    tree.link(
        "ssl-cert-snakeoil.pem",
        &format!("etc/ssl/certs/{}.0", tree.hash(&pem)),
    );
}

#[test]
fn stock_debian_with_snakeoil_is_quiet() {
    let public = ca_in("Public Root R1", "Public Trust", None);
    let Some(tree) = Tree::debian(&public) else { return };
    snakeoil(&tree);
    // store: no warning on the default screen, and the one public root is one anchor.
    let r = tlsdoctor(&["store", "--root", tree.root()], &[("COLUMNS", "80")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("snakeoil"), "{}", r.stdout);
    assert!(
        !r.stdout.lines().any(|l| l.trim_start().starts_with('!')),
        "a warning on a healthy host:\n{}",
        r.stdout
    );
    let j = tlsdoctor(&["store", "--root", tree.root(), "--json"], &[]);
    let doc: Value = serde_json::from_str(&j.stdout).unwrap();
    let snake: Vec<&Value> = doc["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f.to_string().contains("snakeoil")).collect())
        .unwrap_or_default();
    assert!(snake.iter().all(|f| f["severity"] == "info"), "{snake:?}");
    assert!(
        snake.len() <= 1,
        "the snakeoil certificate reported more than once: {snake:?}"
    );
    // connect to a good server: trusted, nothing about snakeoil.
    let int = ca_in("Public Issuing CA 9", "Public Trust", Some(&public));
    let l = leaf(&int, "www.example.test");
    let Some(srv) = serve(tree.dir.path(), &[&l, &int], &l) else {
        return;
    };
    let o = doctor(&tree, &srv, "www.example.test", &[]);
    // webpki-roots has only Mozilla's list, which this test root is not in.
    let want: Vec<(&str, &str)> = TYPICAL
        .iter()
        .map(|r| {
            (
                *r,
                if *r == "webpki-roots" {
                    "unknown-authority"
                } else {
                    "ok"
                },
            )
        })
        .collect();
    o.assert_causes(&want);
    assert!(!o.human.contains("no runtime here reads"), "{}", o.human);
    assert!(!o.human.contains("snakeoil"), "{}", o.human);
    transcript("stock-debian-good-server", &o.human, &tree, srv.port);
}

#[test]
fn store_find_answers_first_with_the_fix() {
    let c = corp();
    let Some(tree) = Tree::debian(&c.public) else {
        return;
    };
    tree.write("usr/local/share/ca-certificates/corp-root.crt", &c.root.pem());
    let r = tlsdoctor(
        &["store", "--root", tree.root(), "--find", "Corp Root"],
        &[("COLUMNS", "80")],
    );
    let first: Vec<&str> = r.stdout.lines().take(3).collect();
    assert!(
        first.iter().any(|l| l.contains("Corp Root CA"))
            && first.iter().any(|l| l.contains("trusted by no runtime")),
        "the answer is not first:\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("update-ca-certificates"),
        "no fix:\n{}",
        r.stdout
    );
    assert!(r.stdout.lines().count() <= 25, "{}", r.stdout);
}
