//! `inspect` shows every fact chain debugging needs, and `-` reads standard input wherever
//! a file is taken. The certificates come from the real `openssl` (every extension: AIA,
//! CRL distribution points, key identifiers, path length).

#[path = "common/ship.rs"]
mod ship;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Run tlsdoctor with a cleared environment and `input` on standard input.
fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    let _ = sin.write_all(input); // a command that stops reading early closes the pipe
    drop(sin);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let exe = ship::need("openssl").expect("openssl");
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
}

/// A root (RSA 2048) and a leaf (P-256) with every extension `inspect` must show.
fn pki(dir: &Path) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[leaf]\n\
         basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth,clientAuth\n\
         subjectKeyIdentifier=hash\n\
         authorityKeyIdentifier=keyid\n\
         subjectAltName=DNS:api.example.test,IP:10.0.0.1\n\
         authorityInfoAccess=caIssuers;URI:http://ca.example.test/int.crt,OCSP;URI:http://ocsp.example.test\n\
         crlDistributionPoints=URI:http://crl.example.test/int.crl\n\
         [req]\n\
         distinguished_name=dn\n\
         [dn]\n\
         [root]\n\
         basicConstraints=critical,CA:TRUE,pathlen:1\n\
         keyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/O=Example/CN=Example Root",
            "-days",
            "30",
            "-config",
            "ext.cnf",
            "-extensions",
            "root",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=api.example.test",
            "-config",
            "ext.cnf",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-days",
            "10",
            "-set_serial",
            "0x0102abcdef",
            "-out",
            "leaf.pem",
        ],
    );
}

#[test]
fn inspect_shows_every_fact_and_reads_stdin() {
    if ship::need("openssl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let mut chain = std::fs::read(dir.path().join("leaf.pem")).unwrap();
    chain.extend(std::fs::read(dir.path().join("root.pem")).unwrap());

    let out = run_stdin(&["inspect", "-"], &chain);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}{}", text(&out.stderr));
    assert!(t.starts_with("standard input: 2 certificate(s)"), "{t}");
    for want in [
        "serial     01:02:ab:cd:ef",
        "issuer     O=Example, CN=Example Root",
        "names      DNS:api.example.test, IP:10.0.0.1",
        "key        ECDSA P-256",
        "key        RSA 2048",
        "signature  sha256WithRSAEncryption",
        "kind       issued by another certificate, X.509 v3",
        "kind       self-signed, X.509 v3",
        "basic      CA:FALSE (critical)",
        "basic      CA:TRUE, pathlen 1 (critical)",
        "key usage  digitalSignature, keyEncipherment",
        "key usage  keyCertSign, cRLSign",
        "ext usage  serverAuth, clientAuth",
        "subject id ",
        "auth id    ",
        "ca issuers http://ca.example.test/int.crt",
        "ocsp       http://ocsp.example.test",
        "crl        http://crl.example.test/int.crl",
        "validity   ",
        "sha256     ",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    // The leaf's authority key id is the root's subject key id.
    let ids: Vec<&str> = t
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("subject id ")
                .or(l.trim().strip_prefix("auth id    "))
        })
        .collect();
    assert_eq!(ids.len(), 3, "{t}");
    assert_eq!(ids[1], ids[2], "leaf AKI = root SKI:\n{t}");
    assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");

    // JSON carries the same facts.
    let out = run_stdin(&["--json", "inspect", "-"], &chain);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["files"][0]["certificates"][0];
    assert_eq!(c["crl_distribution_points"][0], "http://crl.example.test/int.crl");
    assert_eq!(c["ocsp_urls"][0], "http://ocsp.example.test");
    assert_eq!(
        v["files"][0]["certificates"][1]["basic_constraints"]["path_len"],
        1
    );

    // A key is not a certificate: exit 2 and a message about the user's file.
    let key = dir.path().join("leaf.key");
    let out = ship::tlsdoctor_cmd().arg("inspect").arg(&key).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("leaf.key: no certificate in it, only PRIVATE KEY"),
        "{err}"
    );
    let out = run_stdin(&["inspect", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("standard input: no certificate in it"));
}

#[test]
fn dash_is_stdin_for_verify_ca_and_check() {
    if ship::need("openssl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let d = dir.path();
    let leaf = std::fs::read(d.join("leaf.pem")).unwrap();
    let root = std::fs::read(d.join("root.pem")).unwrap();

    // verify - (the chain on stdin), CA from a file.
    let out = run_stdin(
        &[
            "verify",
            "-",
            "--name",
            "api.example.test",
            "--runtime",
            "go",
            "--ca",
        ],
        &leaf,
    );
    assert_eq!(out.status.code(), Some(2), "--ca needs a value");
    let root_path = d.join("root.pem");
    let out = run_stdin(
        &[
            "verify",
            "-",
            "--name",
            "api.example.test",
            "--runtime",
            "go",
            "--ca",
            root_path.to_str().unwrap(),
        ],
        &leaf,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // --ca - (the CA on stdin), chain from a file.
    let leaf_path = d.join("leaf.pem");
    let out = run_stdin(
        &[
            "verify",
            leaf_path.to_str().unwrap(),
            "--name",
            "api.example.test",
            "--runtime",
            "openssl",
            "--ca",
            "-",
        ],
        &root,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A truncated DER certificate on stdin: the user's input, never parser internals.
    let der_out = Command::new(ship::need("openssl").unwrap())
        .args(["x509", "-in", "leaf.pem", "-outform", "der"])
        .current_dir(d)
        .output()
        .unwrap();
    let truncated = &der_out.stdout[..der_out.stdout.len() / 2];
    let out = run_stdin(&["verify", "-", "--name", "x"], truncated);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("the data ends before the certificate does"), "{err}");
    assert!(
        !err.contains("NomError") && !err.contains("Parsing Error"),
        "{err}"
    );

    // check - (the spec on stdin): a spec that does not parse is exit 2 before any network,
    // and the error names the spec, not the TOML parser's internals.
    let out = run_stdin(&["check", "-"], b"[[target]]\nid = \"x\"\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("spec file -"), "{err}");
    assert!(err.contains("target"), "{err}");
    // … and a valid one from stdin is run: its one target is refused (exit 3).
    let spec = format!(
        "[[target]]\nid = \"refused\"\ntarget = \"127.0.0.1:{}\"\nstarttls = \"none\"\n",
        ship::refused_port()
    );
    let out = run_stdin(&["check", "-"], spec.as_bytes());
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{t}{}", text(&out.stderr));
    assert!(t.contains("refused"), "{t}");
}
