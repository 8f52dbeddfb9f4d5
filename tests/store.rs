//! Trust stores: `tlsdoctor store`, the runtime rules, and cross-checks against real Go and
//! real OpenSSL. Every fixture is generated here; the host's store and environment are
//! never used (children run with a cleared environment).

#[path = "common/store.rs"]
mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};
use tlsdoctor::report::store::StoreDoc;
use tlsdoctor::trust::{self, distro, openssl, Runtime, TrustOptions, TrustStore};
use tlsdoctor::world::World;

fn codes(s: &TrustStore) -> Vec<String> {
    for f in &s.findings {
        assert!(
            trust::findings::CODES.contains(&f.code.as_str()),
            "finding code {:?} is not in trust::findings::CODES (the stable list)",
            f.code
        );
    }
    s.findings.iter().map(|f| f.code.clone()).collect()
}

fn resolve(rt: Runtime, w: &World) -> TrustStore {
    trust::resolve(rt, w, &TrustOptions::default())
}

fn has_anchor(s: &TrustStore, c: &Ca) -> bool {
    s.find_sha256(&c.sha256()).is_some()
}

// ---------------------------------------------------------------------------------------
// OpenSSL subject hash against `openssl x509 -hash`.

fn openssl_hash(pem_path: &Path) -> String {
    let o = Command::new("openssl")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["x509", "-hash", "-noout", "-in"])
        .arg(pem_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn rcgen_subject(entries: Vec<(DnType, DnValue)>) -> String {
    let mut p = CertificateParams::default();
    let mut d = DistinguishedName::new();
    for (t, v) in entries {
        d.push(t, v);
    }
    p.distinguished_name = d;
    let key = KeyPair::generate().unwrap();
    p.self_signed(&key).unwrap().pem()
}

fn openssl_req(dir: &Path, i: usize, subj: &str, extra: &[&str], string_mask: Option<&str>) -> String {
    let cfg = dir.join(format!("req{i}.cnf"));
    std::fs::write(
        &cfg,
        format!(
            "[req]\ndistinguished_name=dn\nprompt=no\n{}\n[dn]\nCN=placeholder\n",
            string_mask
                .map(|m| format!("string_mask={m}"))
                .unwrap_or_default()
        ),
    )
    .unwrap();
    let out = dir.join(format!("req{i}.pem"));
    let mut c = Command::new("openssl");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .arg("-config")
        .arg(&cfg)
        .arg("-keyout")
        .arg(dir.join(format!("req{i}.key")))
        .arg("-out")
        .arg(&out)
        .args(["-subj", subj])
        .args(extra);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "openssl req {subj}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn subject_hash_matches_openssl_on_varied_subjects() {
    if !have("openssl") {
        return;
    }
    use rcgen::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
    let dir = tempfile::tempdir().unwrap();
    let email = DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
    let dc = DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]);
    let serial = DnType::CustomDnType(vec![2, 5, 4, 5]);
    let mut pems: Vec<(String, String)> = vec![
        (
            "utf8 plain".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("Example Root CA".into()),
            )]),
        ),
        (
            "case, inner whitespace, tab, trailing".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("EXAMPLE   root\tCA  ".into()),
            )]),
        ),
        (
            "leading spaces".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("   Leading".into()),
            )]),
        ),
        (
            "printable".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::PrintableString(PrintableString::try_from("Mixed Case  Printable").unwrap()),
            )]),
        ),
        (
            "utf8 non-ascii uppercase".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("ZÜRICH Ünïcode  CA".into()),
            )]),
        ),
        (
            "bmp".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::BmpString(BmpString::try_from("BMP Name Ω").unwrap()),
            )]),
        ),
        (
            "bmp with spaces".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::BmpString(BmpString::try_from("  BMP   Spaces ").unwrap()),
            )]),
        ),
        (
            "t61".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::TeletexString(TeletexString::try_from("T61  Name").unwrap()),
            )]),
        ),
        (
            "universal".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::UniversalString(UniversalString::try_from("Universal NAME").unwrap()),
            )]),
        ),
        (
            "ia5 org".into(),
            rcgen_subject(vec![(
                DnType::OrganizationName,
                DnValue::Ia5String(Ia5String::try_from("IA5  Org").unwrap()),
            )]),
        ),
        ("empty subject".into(), rcgen_subject(vec![])),
        (
            "several RDNs".into(),
            rcgen_subject(vec![
                (
                    DnType::CountryName,
                    DnValue::PrintableString(PrintableString::try_from("US").unwrap()),
                ),
                (
                    DnType::OrganizationName,
                    DnValue::Utf8String("Example, Inc.".into()),
                ),
                (
                    DnType::OrganizationalUnitName,
                    DnValue::Utf8String("Ops  Team".into()),
                ),
                (DnType::CommonName, DnValue::Utf8String("Multi RDN".into())),
            ]),
        ),
        (
            "DC components (IA5)".into(),
            rcgen_subject(vec![
                (
                    dc.clone(),
                    DnValue::Ia5String(Ia5String::try_from("Example").unwrap()),
                ),
                (
                    dc.clone(),
                    DnValue::Ia5String(Ia5String::try_from("COM").unwrap()),
                ),
                (DnType::CommonName, DnValue::Utf8String("DC Test".into())),
            ]),
        ),
        (
            "emailAddress IA5".into(),
            rcgen_subject(vec![
                (DnType::CommonName, DnValue::Utf8String("Mail".into())),
                (
                    email.clone(),
                    DnValue::Ia5String(Ia5String::try_from("Admin@Example.COM").unwrap()),
                ),
            ]),
        ),
        (
            "serialNumber printable with spaces".into(),
            rcgen_subject(vec![(
                serial,
                DnValue::PrintableString(PrintableString::try_from("  1234  5678 ").unwrap()),
            )]),
        ),
        (
            "non-ASCII no-break space untouched".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("\u{a0}nbsp\u{a0}Name\u{a0}".into()),
            )]),
        ),
        (
            "vertical tab, form feed, CR".into(),
            rcgen_subject(vec![(
                DnType::CommonName,
                DnValue::Utf8String("A\x0bB\x0c\x0cC\rD".into()),
            )]),
        ),
        (
            "only spaces".into(),
            rcgen_subject(vec![(DnType::CommonName, DnValue::Utf8String("    ".into()))]),
        ),
    ];
    let req: Vec<(&str, &str, Vec<&str>, Option<&str>)> = vec![
        (
            "multi-valued RDN",
            "/CN=Multi+O=Valued/C=US",
            vec!["-multivalue-rdn"],
            None,
        ),
        (
            "multi-valued RDN needs sorting",
            "/O=Zeta Corp+CN=alpha+OU=Middle/C=DE",
            vec!["-multivalue-rdn"],
            None,
        ),
        (
            "utf8 via -utf8",
            "/CN=Grüße  GmbH/O=ÜMLAUT AG",
            vec!["-utf8"],
            None,
        ),
        ("DC via openssl", "/DC=org/DC=Example/CN=Dc Test", vec![], None),
        (
            "emailAddress via openssl",
            "/CN=UPPER/emailAddress=ROOT@EXAMPLE.ORG",
            vec![],
            None,
        ),
        (
            "BMPString via string_mask",
            "/CN=Bmp Via  OpenSSL/O=Org",
            vec![],
            Some("MASK:0x800"),
        ),
        (
            "T61String via string_mask",
            "/CN=T61 Via OpenSSL/O=Org",
            vec![],
            Some("MASK:0x4"),
        ),
        (
            "PrintableString via string_mask",
            "/C=DE/ST=Berlin/O=Foo   Bar/CN=Print",
            vec![],
            Some("MASK:0x2"),
        ),
        (
            "leading/trailing via openssl",
            "/CN=  Spaced Out  /O=  X  ",
            vec![],
            None,
        ),
    ];
    for (i, (label, subj, extra, mask)) in req.into_iter().enumerate() {
        pems.push((label.to_string(), openssl_req(dir.path(), i, subj, &extra, mask)));
    }
    assert!(pems.len() >= 20);
    let mut distinct = HashSet::new();
    for (i, (label, pem)) in pems.iter().enumerate() {
        let p = dir.path().join(format!("s{i}.pem"));
        std::fs::write(&p, pem).unwrap();
        let expected = openssl_hash(&p);
        let der = tlsdoctor::trust::pem::parse(pem.as_bytes())[0]
            .data
            .clone()
            .unwrap();
        let info = tlsdoctor::x509::CertInfo::from_der(&der).unwrap();
        let got = openssl::subject_hash(&info.subject_der).map(|h| format!("{h:08x}"));
        assert_eq!(
            got.as_deref(),
            Some(expected.as_str()),
            "subject hash of {label:?} ({})",
            info.subject
        );
        distinct.insert(expected);
    }
    assert!(
        distinct.len() >= 15,
        "the subjects should be varied: {distinct:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Fixture distributions.

#[test]
fn debian_layout_all_runtimes_agree() {
    let (a, b, c) = (ca("Deb Root A"), ca("Deb Root B"), ca("Deb Root C"));
    let fs = Fs::new();
    debian(&fs, &[&a, &b, &c]);
    let w = fs.world(&[]);
    assert_eq!(distro::detect(&w), distro::Distro::Debian);
    let stores = trust::resolve_many(&Runtime::ALL, &w, &TrustOptions::default());
    for s in &stores[..3] {
        assert_eq!(s.anchors.len(), 3, "{} {:?} {:?}", s.runtime, s.steps, s.findings);
        assert!(
            s.findings
                .iter()
                .all(|f| f.severity != tlsdoctor::finding::Severity::Error),
            "{:?}",
            s.findings
        );
    }
    let go = &stores[0];
    // The bundle wins the file list, the rest are skipped; the directory is still read.
    assert_eq!(go.steps[0].source, "/etc/ssl/certs/ca-certificates.crt");
    assert_eq!(go.steps[0].anchors, 3);
    assert!(go.steps[1..6]
        .iter()
        .all(|s| s.outcome == trust::Outcome::Skipped));
    let dir = go.steps.iter().find(|s| s.source == "/etc/ssl/certs").unwrap();
    assert!(
        dir.reason
            .as_deref()
            .unwrap()
            .contains("3 same-directory link(s) skipped"),
        "{dir:?}"
    );
    let ossl = &stores[1];
    assert!(
        ossl.assumptions[0].contains("/usr/lib/ssl"),
        "{:?}",
        ossl.assumptions
    );
    assert_eq!(ossl.steps[0].source, "/usr/lib/ssl/cert.pem");
    // Every anchor has provenance; the file ones carry block and line.
    let first = &go.anchors[0];
    assert_eq!(first.provenance.block, Some(0));
    assert_eq!(first.provenance.line, Some(1));
    // webpki-roots ignores the fixture entirely.
    assert!(stores[3].anchors.len() > 50);
}

#[test]
fn openssl_hashed_dir_only_finds_hash_named_files() {
    let (a, b, c) = (ca("Hashed A"), ca("Unhashed B"), ca("Wrong Hash C"));
    let fs = Fs::new();
    fs.write("/certs/a.pem", a.pem());
    fs.link("a.pem", &format!("/certs/{}", a.hash_name(0)));
    fs.write("/certs/b.crt", b.pem());
    // c is stored under a's hash, .1: reached (a.0 exists) but the name does not match.
    fs.write(&format!("/certs/{}", a.hash_name(1)), c.pem());
    let w = fs.world(&[("SSL_CERT_FILE", "/nonexistent.pem"), ("SSL_CERT_DIR", "/certs")]);
    let o = resolve(Runtime::Openssl, &w);
    assert!(has_anchor(&o, &a));
    assert!(!has_anchor(&o, &b));
    assert!(!has_anchor(&o, &c));
    assert_eq!(
        o.anchors[0].hash_name,
        Some(openssl::subject_hash(&a.info().subject_der).unwrap())
    );
    let cs = codes(&o);
    assert!(cs.contains(&"not-hashed".to_string()), "{cs:?}");
    assert!(cs.contains(&"stale-hash-link".to_string()), "{cs:?}");
    assert!(cs.contains(&"ssl-cert-file-missing".to_string()), "{cs:?}");
    // Go sees all three.
    let g = resolve(Runtime::Go, &w);
    assert_eq!(g.anchors.len(), 3);

    // On Debian a custom directory is not what update-ca-certificates rehashes, and
    // `openssl rehash` skips a file with two certificates: the fix says both.
    let (d, e) = (ca("Bundled D"), ca("Bundled E"));
    let fs = Fs::new();
    debian(&fs, &[&a]);
    fs.write("/corp/certs/chain.pem", format!("{}{}", d.pem(), e.pem()));
    let w = fs.world(&[("SSL_CERT_DIR", "/corp/certs")]);
    let o = resolve(Runtime::Openssl, &w);
    let f = o.findings.iter().find(|f| f.code == "not-hashed").unwrap();
    let fix = f.fix.as_deref().unwrap();
    assert!(!fix.contains("update-ca-certificates"), "{fix}");
    assert!(fix.contains("`openssl rehash /corp/certs`"), "{fix}");
    assert!(fix.contains("more than one certificate (chain.pem)"), "{fix}");
}

#[test]
fn staged_but_not_installed_and_the_crt_rule() {
    let (a, staged, wrong_ext) = (ca("Sys Root"), ca("Corp Staged CA"), ca("Corp Pem CA"));
    let fs = Fs::new();
    debian(&fs, &[&a]);
    fs.write("/usr/local/share/ca-certificates/corp/staged.crt", staged.pem());
    fs.write("/usr/local/share/ca-certificates/corp.pem", wrong_ext.pem());
    let w = fs.world(&[]);
    let g = resolve(Runtime::Go, &w);
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "staged-not-installed")
        .expect("staged finding");
    assert!(f.message.contains("Corp Staged CA"), "{}", f.message);
    assert!(f.fix.as_deref().unwrap().contains("update-ca-certificates"));
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "staged-wrong-extension")
        .expect(".crt rule");
    assert!(f.message.contains(".crt"));

    // Staged *and* installed in the system bundle, but SSL_CERT_FILE points elsewhere:
    // running update-ca-certificates again would change nothing.
    let fs = Fs::new();
    debian(&fs, &[&a, &staged]);
    fs.write("/usr/local/share/ca-certificates/corp.crt", staged.pem());
    fs.write("/app/ca.pem", a.pem());
    let w = fs.world(&[("SSL_CERT_FILE", "/app/ca.pem"), ("SSL_CERT_DIR", "/nonexistent")]);
    let g = resolve(Runtime::Go, &w);
    assert!(
        !codes(&g).contains(&"staged-not-installed".to_string()),
        "{:?}",
        g.findings
    );
    let f = g
        .findings
        .iter()
        .find(|f| f.code == "system-bundle-not-read")
        .expect("installed, not read");
    assert!(
        f.message.contains("/etc/ssl/certs/ca-certificates.crt")
            && f.message.contains("SSL_CERT_FILE=/app/ca.pem"),
        "{}",
        f.message
    );
    assert!(!f.fix.as_deref().unwrap().contains("update-ca-certificates"));
    // With nothing trusted at all, empty-store says it once; no finding per staged CA.
    let w = fs.world(&[("SSL_CERT_FILE", "/nope.pem"), ("SSL_CERT_DIR", "/nonexistent")]);
    let g = resolve(Runtime::Go, &w);
    let cs = codes(&g);
    assert!(cs.contains(&"empty-store".to_string()), "{cs:?}");
    assert!(!cs.contains(&"system-bundle-not-read".to_string()), "{cs:?}");

    // RHEL: source/anchors, update-ca-trust.
    let fs = Fs::new();
    rhel(&fs, &[&a]);
    fs.write("/etc/pki/ca-trust/source/anchors/corp.pem", staged.pem());
    let w = fs.world(&[]);
    assert_eq!(distro::detect(&w), distro::Distro::Rhel);
    let stores = trust::resolve_many(&[Runtime::Go, Runtime::Openssl], &w, &TrustOptions::default());
    for s in &stores {
        assert_eq!(s.anchors.len(), 1, "{}: {:?}", s.runtime, s.steps);
        let f = s
            .findings
            .iter()
            .find(|f| f.code == "staged-not-installed")
            .expect("rhel staged");
        assert!(
            f.fix.as_deref().unwrap().contains("update-ca-trust"),
            "{:?}",
            f.fix
        );
    }
    assert!(stores[1].assumptions[0].contains("/etc/pki/tls"));
}

#[test]
fn alpine_distroless_scratch() {
    let a = ca("Alp Root");
    let fs = Fs::new();
    alpine(&fs, &[&a]);
    let w = fs.world(&[]);
    assert_eq!(distro::detect(&w), distro::Distro::Alpine);
    for s in trust::resolve_many(
        &[Runtime::Go, Runtime::Openssl, Runtime::RustlsNative],
        &w,
        &TrustOptions::default(),
    ) {
        assert_eq!(s.anchors.len(), 1, "{} {:?}", s.runtime, s.steps);
    }
    let o = resolve(Runtime::Openssl, &w);
    assert!(o.assumptions[0].contains("/etc/ssl "), "{:?}", o.assumptions);

    // Distroless: Go finds the bundle, OpenSSL (OPENSSLDIR /usr/lib/ssl) finds nothing.
    let fs = Fs::new();
    distroless(&fs, &[&a]);
    let w = fs.world(&[]);
    assert_eq!(distro::detect(&w), distro::Distro::Distroless);
    assert_eq!(resolve(Runtime::Go, &w).anchors.len(), 1);
    let o = resolve(Runtime::Openssl, &w);
    assert!(o.anchors.is_empty());
    let f = o.findings.iter().find(|f| f.code == "empty-store").unwrap();
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
        "{:?}",
        f.fix
    );
    // The transcript: verdict lines first, then the finding with its fix.
    let root = fs.root().to_str().unwrap();
    let (code, out, _) = tlsdoctor(&["--root", root, "--color", "never"], &[]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Trust stores — root {root} · distroless"));
    assert_eq!(
        lines[1],
        "  OPENSSLDIR /usr/lib/ssl (assumed; --openssldir to change)"
    );
    let lines = &lines[1..];
    assert_eq!(
        lines[2],
        "✔ go              1 anchor   /etc/ssl/certs/ca-certificates.crt, /etc/ssl/certs"
    );
    assert_eq!(
        lines[3],
        "✘ openssl         0 anchors  no source gave certificates"
    );
    assert!(lines[4].starts_with("✔ rustls-native   1 anchor "), "{out}");
    assert!(lines[5].starts_with("✔ webpki-roots "), "{out}");
    // The versions modelled: nothing in the image names them.
    assert_eq!(
        lines[6],
        "  modelled: Go 1.25 (assumed: newest known); OpenSSL 3.5 (assumed: newest known)"
    );
    // The extra runtimes, absent from this image, share one short line.
    assert_eq!(
        lines[7],
        "– not present here (no binary, home or variable): node, python, python-requests,"
    );
    assert_eq!(lines[10], "Findings");
    assert!(
        lines[11].starts_with("✘ empty-store [openssl]: No trust anchors at all"),
        "{out}"
    );
    assert!(lines.len() < 20, "short by default: {out}");
    // -q: the verdict lines and the errors, nothing else.
    let (code, out, _) = tlsdoctor(&["--root", root, "-q", "--color", "never"], &[]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("✔ go "), "{out}");
    assert!(lines[4].starts_with("✘ empty-store"), "{out}");
    assert!(
        !out.contains("Trust stores") && !out.contains("Findings") && !out.contains("(-v"),
        "{out}"
    );
    // -v: every step, with the assumptions.
    let (_, out, _) = tlsdoctor(&["--root", root, "-v", "--color", "never"], &[]);
    assert!(out.contains(" 1. file /usr/lib/ssl/cert.pem: missing"), "{out}");
    assert!(
        out.contains("assumed: OPENSSLDIR /usr/lib/ssl (distroless is Debian-based"),
        "{out}"
    );

    // scratch: nothing at all, and the CLI exits 1.
    let fs = Fs::new();
    scratch(&fs);
    let w = fs.world(&[]);
    assert_eq!(distro::detect(&w), distro::Distro::Scratch);
    let g = resolve(Runtime::Go, &w);
    assert!(g.anchors.is_empty() && g.error.is_none());
    assert!(
        g.findings[0].fix.as_deref().unwrap().contains("COPY"),
        "{:?}",
        g.findings
    );
    let root = fs.root().to_str().unwrap();
    let (code, out, err) = tlsdoctor(&["--root", root, "--color", "never"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("empty-store"), "{out}");
    assert!(out.contains("scratch"), "{out}");
    // curl, java … are absent from a scratch image: no finding of theirs is listed.
    assert!(!out.contains("curl-ca-file-unusable"), "{out}");
    let (_, out, _) = tlsdoctor(&["--root", root, "store", "--json"], &[]);
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    assert!(
        doc.findings
            .iter()
            .all(|f| !f.runtimes.iter().any(|r| r == "curl")),
        "{:?}",
        doc.findings
    );
}

#[test]
fn environment_findings() {
    let (a, b) = (ca("Env Root A"), ca("Env Root B"));
    let fs = Fs::new();
    debian(&fs, &[&a]);
    fs.write("/ca/b.pem", b.pem());
    fs.write("/ca/b.der", b.der());
    fs.write("/ca/empty.pem", "");
    fs.write("/ca/bad.pem", format!("{}{}", BAD_BLOCK, b.pem()));
    fs.write("/ca/trusted.pem", trusted_pem(&b));
    fs.write("/ca/withkey.pem", format!("{}{}", b.pem(), b.key.serialize_pem()));
    fs.write("/ca/expired.pem", expired_ca("Old Root").pem());
    fs.write("/ca/leaf.pem", leaf(&a, "leaf.example").pem());
    fs.mkdir("/ca/dir.pem");
    let case = |env: &[(&str, &str)], rt: Runtime| resolve(rt, &fs.world(env));

    let o = case(&[("SSL_CERT_FILE", "/ca/b.pem")], Runtime::Openssl);
    let f = o
        .findings
        .iter()
        .find(|f| f.code == "ssl-cert-file-without-dir")
        .expect("openssl still uses certs/");
    assert!(f.message.contains("/usr/lib/ssl/certs"), "{}", f.message);
    let g = case(&[("SSL_CERT_FILE", "/ca/missing.pem")], Runtime::Go);
    assert!(codes(&g).contains(&"ssl-cert-file-missing".into()));
    assert!(
        codes(&g).contains(&"ssl-cert-file-without-dir".into()),
        "{:?}",
        codes(&g)
    );
    assert_eq!(g.anchors.len(), 1, "the Debian directory still counts");
    let g = case(
        &[("SSL_CERT_FILE", "/ca/dir.pem"), ("SSL_CERT_DIR", "/nonexistent")],
        Runtime::Go,
    );
    assert!(codes(&g).contains(&"ssl-cert-file-is-dir".into()));
    assert!(codes(&g).contains(&"ssl-cert-dir-missing".into()));
    assert!(
        g.error.as_deref().unwrap().contains("is a directory"),
        "{:?}",
        g.error
    );
    let g = case(&[("SSL_CERT_FILE", "/ca/empty.pem")], Runtime::Go);
    assert!(codes(&g).contains(&"ssl-cert-file-empty".into()));
    let o = case(&[("SSL_CERT_FILE", "/ca/b.der")], Runtime::Openssl);
    assert!(codes(&o).contains(&"ssl-cert-file-der".into()), "{:?}", codes(&o));
    // A bad block: OpenSSL drops the file (error), Go keeps the rest (warning).
    let env = [("SSL_CERT_FILE", "/ca/bad.pem"), ("SSL_CERT_DIR", "/nonexistent")];
    let o = case(&env, Runtime::Openssl);
    let g = case(&env, Runtime::Go);
    assert!(!has_anchor(&o, &b));
    assert!(has_anchor(&g, &b));
    let fo = o.findings.iter().find(|f| f.code == "bundle-bad-block").unwrap();
    let fg = g.findings.iter().find(|f| f.code == "bundle-bad-block").unwrap();
    assert_eq!(fo.severity, tlsdoctor::finding::Severity::Error);
    assert_eq!(fg.severity, tlsdoctor::finding::Severity::Warning);
    // TRUSTED CERTIFICATE: OpenSSL only.
    let env = [
        ("SSL_CERT_FILE", "/ca/trusted.pem"),
        ("SSL_CERT_DIR", "/nonexistent"),
    ];
    let o = case(&env, Runtime::Openssl);
    assert!(has_anchor(&o, &b) && o.anchors[0].trusted_cert_block);
    let g = case(&env, Runtime::Go);
    assert!(!has_anchor(&g, &b));
    assert!(codes(&g).contains(&"trusted-certificate-block".into()));
    let g = case(&[("SSL_CERT_FILE", "/ca/withkey.pem")], Runtime::Go);
    assert!(codes(&g).contains(&"private-key-in-bundle".into()));
    let g = case(&[("SSL_CERT_FILE", "/ca/expired.pem")], Runtime::Go);
    assert!(codes(&g).contains(&"expired-anchor".into()));
    let g = case(&[("SSL_CERT_FILE", "/ca/leaf.pem")], Runtime::Go);
    assert!(codes(&g).contains(&"not-a-ca-anchor".into()));
    // rustls-native: a set variable replaces everything, even the empty string.
    let r = case(&[("SSL_CERT_FILE", "")], Runtime::RustlsNative);
    assert!(r.anchors.is_empty() && r.error.is_some());
    let r = case(&[("SSL_CERT_DIR", "/ca")], Runtime::RustlsNative);
    assert!(has_anchor(&r, &b) && !has_anchor(&r, &a));
    // An empty SSL_CERT_DIR names no directory: the system locations are used…
    let r = case(&[("SSL_CERT_DIR", "")], Runtime::RustlsNative);
    assert!(has_anchor(&r, &a), "{:?}", r.steps);
    // …but an existing empty directory is used as is (0.8.5: no fallback).
    fs.mkdir("/ca-empty");
    let r = case(&[("SSL_CERT_DIR", "/ca-empty")], Runtime::RustlsNative);
    assert!(r.anchors.is_empty(), "{:?}", r.steps);
    // A negative serial (made by openssl: rcgen only writes positive ones).
    if have("openssl") {
        let d = tempfile::tempdir().unwrap();
        let st = Command::new("openssl")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args([
                "-subj",
                "/CN=Negative Serial CA",
                "-days",
                "1",
                "-set_serial",
                "-5",
                "-keyout",
            ])
            .arg(d.path().join("k.pem"))
            .arg("-out")
            .arg(fs.host("/ca/neg.pem"))
            .status()
            .unwrap();
        assert!(st.success());
        let g = case(
            &[("SSL_CERT_FILE", "/ca/neg.pem"), ("SSL_CERT_DIR", "/none")],
            Runtime::Go,
        );
        assert!(
            codes(&g).contains(&"negative-serial-anchor".into()),
            "{:?}",
            codes(&g)
        );
    }
    // Kubernetes CA and proxies: info.
    fs.write(
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        ca("k8s cluster CA").pem(),
    );
    let g = case(&[("HTTPS_PROXY", "http://proxy:3128")], Runtime::Go);
    let k = g
        .findings
        .iter()
        .find(|f| f.code == "k8s-sa-ca-not-trusted")
        .unwrap();
    assert_eq!(k.severity, tlsdoctor::finding::Severity::Info);
    assert!(codes(&g).contains(&"proxy-env".into()));
}

/// The certificate as an OpenSSL TRUSTED CERTIFICATE block (no aux trust settings).
fn trusted_pem(c: &Ca) -> String {
    // TRUSTED CERTIFICATE = certificate DER followed by (optional) X509_CERT_AUX.
    tlsdoctor::x509::pem_encode("TRUSTED CERTIFICATE", &c.der())
}

#[test]
fn openssldir_override_is_used_and_said() {
    let a = ca("Custom Dir Root");
    let fs = Fs::new();
    scratch(&fs);
    fs.write("/opt/ssl/cert.pem", a.pem());
    let w = fs.world(&[]);
    let opts = TrustOptions {
        openssldir: Some("/opt/ssl".into()),
        ..Default::default()
    };
    let o = trust::resolve(Runtime::Openssl, &w, &opts);
    assert!(has_anchor(&o, &a));
    assert!(o.assumptions[0].contains("--openssldir"));
}

#[test]
fn explicit_ca_files_and_certs() {
    let a = ca("Explicit Root");
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ca.pem");
    std::fs::write(&p, format!("{}{}", a.pem(), a.pem())).unwrap();
    let s = trust::from_ca_files(Runtime::Go, std::slice::from_ref(&p)).unwrap();
    assert!(s.explicit && s.anchors.len() == 1);
    assert_eq!(s.steps[0].anchors, 2);
    let bad = d.path().join("junk.pem");
    std::fs::write(&bad, "junk").unwrap();
    // A file without a certificate is not refused: an OpenSSL client fails to load it (the
    // store carries its words), Go trusts nothing from it; both are warned about.
    let o = trust::from_ca_files(Runtime::Openssl, std::slice::from_ref(&bad)).unwrap();
    assert!(o.anchors.is_empty());
    assert_eq!(
        o.error.as_deref(),
        Some("error:05800088:x509 certificate routines::no certificate or crl found")
    );
    assert!(codes(&o).contains(&"ca-file-no-certificate".into()));
    let g = trust::from_ca_files(Runtime::Go, std::slice::from_ref(&bad)).unwrap();
    assert!(g.anchors.is_empty() && g.error.is_none());
    assert!(codes(&g).contains(&"ca-file-no-certificate".into()));
    // DER: a certificate, but neither Go's AppendCertsFromPEM nor -CAfile reads it.
    let der = d.path().join("ca.der");
    std::fs::write(&der, a.der()).unwrap();
    for rt in [Runtime::Go, Runtime::Openssl] {
        let s = trust::from_ca_files(rt, std::slice::from_ref(&der)).unwrap();
        assert!(s.anchors.is_empty());
        assert!(codes(&s).contains(&"ca-file-der".into()));
    }
    // A bad block: OpenSSL refuses the file, Go keeps the good certificate.
    let mixed = d.path().join("mixed.pem");
    std::fs::write(&mixed, format!("{}{}", a.pem(), BAD_BLOCK)).unwrap();
    assert!(
        trust::from_ca_files(Runtime::Openssl, std::slice::from_ref(&mixed))
            .unwrap()
            .anchors
            .is_empty()
    );
    assert_eq!(
        trust::from_ca_files(Runtime::Go, std::slice::from_ref(&mixed))
            .unwrap()
            .anchors
            .len(),
        1
    );
    assert!(trust::from_ca_files(Runtime::Go, &[d.path().join("missing")]).is_err());
    let s = trust::from_certs(Runtime::Openssl, vec![a.info()], "limbo");
    assert_eq!(s.anchors.len(), 1);
    assert!(s.anchors[0].cert.self_signed);
}

// ---------------------------------------------------------------------------------------
// Bad input never panics and never hides the rest.

#[test]
fn bad_input_is_reported_not_fatal() {
    let a = ca("Survivor Root");
    let fs = Fs::new();
    debian(&fs, &[&a]);
    fs.write("/etc/ssl/certs/junk.txt", "this is not a certificate\n");
    fs.write(
        "/etc/ssl/certs/binary.bin",
        (0u8..=255).cycle().take(10_000).collect::<Vec<u8>>(),
    );
    // "./" makes Go read them (it skips only targets without a slash).
    fs.link("./loop2", "/etc/ssl/certs/loop1");
    fs.link("./loop1", "/etc/ssl/certs/loop2");
    fs.link("/nowhere/at/all.pem", "/etc/ssl/certs/dangling.pem");
    fs.mkdir("/etc/ssl/certs/subdir.pem");
    fs.write("/etc/ssl/certs/corp.der", ca("Der In Dir").der());
    // A FIFO must never be opened (it would block).
    let fifo = fs.host("/etc/ssl/certs/fifo.pem");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    // 50 MB of junk: read (under the 64 MiB cap), scanned fast, reported.
    let big: Vec<u8> = (0..50_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    fs.write("/etc/ssl/certs/big.bin", &big);
    // A junk SSL_CERT_FILE too.
    fs.write("/junk.pem", &big[..4096]);
    let w = fs.world(&[("SSL_CERT_FILE", "/junk.pem")]);
    let t = std::time::Instant::now();
    let stores = trust::resolve_many(&Runtime::ALL, &w, &TrustOptions::default());
    let elapsed = t.elapsed();
    eprintln!("bad-input resolve took {elapsed:?}");
    let g = &stores[0];
    assert!(has_anchor(g, &a), "the good certificate still counts");
    let cs = codes(g);
    assert!(cs.contains(&"ssl-cert-file-empty".into()), "{cs:?}");
    let unreadable = g
        .findings
        .iter()
        .find(|f| f.code == "unreadable-entry")
        .expect("unreadable");
    assert!(unreadable.message.contains("loop"), "{}", unreadable.message);
    assert!(unreadable.message.contains("FIFO"), "{}", unreadable.message);
    let der = g
        .findings
        .iter()
        .find(|f| f.code == "der-in-cert-dir")
        .expect("DER file in the dir");
    assert!(der.message.contains("corp.der"), "{}", der.message);
    let empty = g
        .findings
        .iter()
        .find(|f| f.code == "file-without-certificates")
        .expect("junk files");
    assert!(empty.message.contains("file(s)"), "{}", empty.message);
    // The CLI renders it all, exits 1 (SSL_CERT_FILE is broken), no panic.
    let root = fs.root().to_str().unwrap();
    let (code, out, err) = tlsdoctor(
        &[
            "--root",
            root,
            "--env",
            "SSL_CERT_FILE=/junk.pem",
            "--color",
            "never",
            "-v",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.contains("unreadable-entry") && out.contains("ssl-cert-file-empty"),
        "{out}"
    );
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "line over 80 columns: {l:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The CLI: JSON contract, default command, exit codes, --find.

#[test]
fn cli_json_and_default_command() {
    let (a, b) = (ca("Cli Root A"), ca("Cli Root B"));
    let fs = Fs::new();
    debian(&fs, &[&a, &b]);
    let root = fs.root().to_str().unwrap();
    let (code, out, err) = tlsdoctor(&["--root", root, "store", "--json", "--list"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    assert_eq!(doc.schema, "tlsdoctor.store/v1");
    assert_eq!(doc.distro, "debian");
    assert_eq!(doc.runtimes.len(), tlsdoctor::runtimes::REGISTRY.len());
    let go = &doc.runtimes[0];
    assert_eq!((go.runtime.as_str(), go.anchors, go.ok), ("go", 2, true));
    let list = go.anchor_list.as_ref().unwrap();
    assert_eq!(list[0].path, "/etc/ssl/certs/ca-certificates.crt");
    assert_eq!(list[0].sha256, a.sha256());
    let ossl = &doc.runtimes[1];
    assert!(ossl
        .steps
        .iter()
        .all(|s| !s.source.is_empty() && !s.kind.is_empty()));

    // Default command (no arguments) == store; human output fits 80 columns.
    let (code, out, _) = tlsdoctor(&["--root", root, "--color", "never"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Debian/Ubuntu") && out.contains("go") && out.contains("2 anchors"),
        "{out}"
    );
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    // --list too, with an expired anchor whose long subject is cut to leave room.
    let old = expired_ca("A Rather Long Expired Certification Authority Name");
    let fs2 = Fs::new();
    debian(&fs2, &[&a, &old]);
    let root2 = fs2.root().to_str().unwrap();
    let (_, out, _) = tlsdoctor(&["--root", root2, "store", "--list", "--color", "never"], &[]);
    assert!(out.contains(" EXPIRED"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    // A proxy password never reaches the report (human or JSON).
    for extra in [&["--color", "never"][..], &["--json"][..]] {
        let mut args = vec![
            "--root",
            root,
            "--env",
            "HTTPS_PROXY=http://me:hunter2@proxy:3128",
            "store",
        ];
        args.extend_from_slice(extra);
        let (_, out, _) = tlsdoctor(&args, &[]);
        assert!(out.contains("me:****@proxy:3128"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
    }
    let (code, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "--env",
            "SSL_CERT_FILE=/nope",
            "store",
            "--runtime",
            "openssl",
            "--color",
            "never",
        ],
        &[],
    );
    assert_eq!(code, 1, "a broken SSL_CERT_FILE exits 1: {out}");
    assert!(out.contains("ssl-cert-file-missing"), "{out}");
}

#[test]
fn cli_find_says_why_and_where() {
    let (a, staged) = (ca("Find Root"), ca("Find Staged Corp CA"));
    let fs = Fs::new();
    debian(&fs, &[&a]);
    fs.write("/usr/local/share/ca-certificates/corp.crt", staged.pem());
    fs.write("/etc/ssl/certs/corp-copied.pem", staged.pem());
    let root = fs.root().to_str().unwrap();
    let d = tempfile::tempdir().unwrap();
    let q = d.path().join("q.der");
    std::fs::write(&q, staged.der()).unwrap();
    let (code, out, err) = tlsdoctor(
        &["--root", root, "store", "--find", q.to_str().unwrap(), "--json"],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    let f = doc.find.unwrap();
    assert_eq!(f.kind, "file");
    let c = &f.certificates[0];
    let by = |r: &str| c.runtimes.iter().find(|x| x.runtime == r).unwrap();
    // Go reads every file in /etc/ssl/certs; OpenSSL needs a hash link.
    assert!(by("go").trusted, "{:?}", c.runtimes);
    assert!(!by("openssl").trusted);
    assert!(
        by("openssl").why_not.as_deref().unwrap().contains("hash link"),
        "{:?}",
        by("openssl")
    );
    assert!(c.locations.iter().any(|l| l.kind == "staging"));
    // node, python, curl, java … have no sign of life in this image: not asked.
    assert!(
        c.runtimes
            .iter()
            .all(|r| !["node", "python", "curl", "java"].contains(&r.runtime.as_str())),
        "{:?}",
        c.runtimes
    );
    // Text: SHA-256 prefix and subject substring.
    let (code, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "store",
            "--find",
            &a.sha256()[..10],
            "--color",
            "never",
        ],
        &[],
    );
    // Trusted by every runtime that reads this image's store: exit 0. webpki-roots (a
    // compiled-in list no setup can change) does not trust it, says so, and does not
    // decide the exit code unless named.
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Find Root") && out.contains("trusted, from"),
        "{out}"
    );
    assert!(out.contains("webpki-roots"), "{out}");
    let (code, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "store",
            "--find",
            &a.sha256()[..10],
            "--runtime",
            "all",
            "--runtime",
            "webpki-roots",
        ],
        &[],
    );
    assert_eq!(code, 1, "named, webpki-roots decides too: {out}");
    let (_, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "store",
            "--find",
            "staged corp",
            "--runtime",
            "go",
            "--json",
        ],
        &[],
    );
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    assert_eq!(doc.find.unwrap().certificates.len(), 1);
    // A mistyped file name or an empty query is an input error, not "no match".
    // Named with --runtime, an absent runtime is asked all the same.
    let (code, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "store",
            "--runtime",
            "java",
            "--find",
            "Find Root",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    assert_eq!(doc.find.unwrap().certificates[0].runtimes[0].runtime, "java");
    for q in ["/no/such/corp-ca.crt", ""] {
        let (code, out, err) = tlsdoctor(&["--root", root, "store", "--find", q], &[]);
        assert_eq!(code, 2, "{q:?}: {out}{err}");
        assert!(err.contains("--find"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// Cross-check against real Go.

static GO_BIN: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();

fn go_counter() -> Option<std::path::PathBuf> {
    GO_BIN
        .get_or_init(|| {
            if !have("go") {
                return None;
            }
            let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-syspool");
            let src = base.join("src");
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join("go.mod"), "module syspool\n\ngo 1.19\n").unwrap();
            std::fs::write(
                src.join("main.go"),
                r#"package main

import (
	"crypto/x509"
	"fmt"
)

func main() {
	pool, err := x509.SystemCertPool()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	//lint:ignore SA1019 Subjects is the portable way to count the pool across Go versions
	fmt.Println(len(pool.Subjects()))
}
"#,
            )
            .unwrap();
            let home = base.join("home");
            std::fs::create_dir_all(&home).unwrap();
            let out = base.join("syspool");
            let o = Command::new("go")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", &home)
                .env("GOCACHE", base.join("cache"))
                .env("GOPATH", base.join("gopath"))
                .env("GOFLAGS", "-mod=mod")
                .env("GOTOOLCHAIN", "local")
                .env("CGO_ENABLED", "0")
                .current_dir(&src)
                .args(["build", "-o"])
                .arg(&out)
                .arg(".")
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "go build: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            Some(out)
        })
        .clone()
}

/// What real Go says for this environment: Ok(count) or Err(message).
fn go_says(bin: &Path, env: &[(&str, &str)]) -> Result<usize, String> {
    let mut c = Command::new(bin);
    c.env_clear();
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    s.parse::<usize>().map_err(|_| s)
}

#[test]
fn go_anchor_counts_match_real_go() {
    let Some(bin) = go_counter() else { return };
    let cas: Vec<Ca> = (0..6).map(|i| ca(&format!("Go Xcheck {i}"))).collect();
    let fs = Fs::new();
    let r = |p: &str| fs.host(p).to_str().unwrap().to_string();
    fs.write("/f/bundle.pem", bundle(&[&cas[0], &cas[1], &cas[2]]));
    fs.write("/f/dups.pem", bundle(&[&cas[0], &cas[0], &cas[1]]));
    fs.write(
        "/f/bad.pem",
        format!("{}{}{}", cas[3].pem(), BAD_BLOCK, cas[4].pem()),
    );
    fs.write("/f/ca.der", cas[5].der());
    fs.write(
        "/f/trusted.pem",
        format!("{}{}", trusted_pem(&cas[4]), cas[5].pem()),
    );
    fs.write(
        "/f/withkey.pem",
        format!("{}{}", cas[2].key.serialize_pem(), cas[2].pem()),
    );
    fs.write(
        "/f/badkey.pem",
        format!(
            "-----BEGIN PRIVATE KEY-----\n!!!! not base64\n-----END PRIVATE KEY-----\n{}",
            cas[2].pem()
        ),
    );
    fs.mkdir("/f/emptydir");
    // dir1: plain files
    fs.write("/d1/a.crt", cas[3].pem());
    fs.write("/d1/b.pem", cas[4].pem());
    // dir2: overlaps the bundle
    fs.write("/d2/c.pem", cas[0].pem());
    fs.write("/d2/d.pem", cas[5].pem());
    // dir3: non-hashed names, same-dir links (skipped by Go), junk, a subdirectory
    fs.write("/d3/x.pem", cas[1].pem());
    fs.link("x.pem", &format!("/d3/{}", cas[1].hash_name(0)));
    fs.link("y.pem", "/d3/z-link.pem");
    fs.write("/d3/y.pem", cas[2].pem());
    fs.write("/d3/README", "not a cert\n");
    fs.mkdir("/d3/sub");
    fs.write("/d3/sub/inner.pem", cas[3].pem());
    // dir4: links that leave the directory (read), a dangling one and a loop
    let abs = r("/f/bundle.pem");
    fs.link(&abs, "/d4/abs-link.pem");
    fs.link("../d1/a.crt", "/d4/rel-link.pem");
    fs.link(&r("/nowhere.pem"), "/d4/dangling.pem");
    fs.link("l2", "/d4/l1");
    fs.link("l1", "/d4/l2");
    fs.write("/d4/ca.der", cas[5].der());
    fs.write("/d4/trusted.pem", trusted_pem(&cas[4]));

    let none = r("/does-not-exist");
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "file only",
            vec![
                ("SSL_CERT_FILE", r("/f/bundle.pem")),
                ("SSL_CERT_DIR", none.clone()),
            ],
        ),
        (
            "dir only",
            vec![("SSL_CERT_FILE", none.clone()), ("SSL_CERT_DIR", r("/d1"))],
        ),
        (
            "both",
            vec![("SSL_CERT_FILE", r("/f/bundle.pem")), ("SSL_CERT_DIR", r("/d2"))],
        ),
        (
            "colon-separated dirs",
            vec![
                ("SSL_CERT_FILE", none.clone()),
                ("SSL_CERT_DIR", format!("{}:{}:{}", r("/d1"), r("/d2"), none)),
            ],
        ),
        (
            "missing file, missing dir",
            vec![("SSL_CERT_FILE", none.clone()), ("SSL_CERT_DIR", none.clone())],
        ),
        (
            "non-hashed dir with same-dir links",
            vec![("SSL_CERT_FILE", none.clone()), ("SSL_CERT_DIR", r("/d3"))],
        ),
        (
            "bundle with a bad block",
            vec![
                ("SSL_CERT_FILE", r("/f/bad.pem")),
                ("SSL_CERT_DIR", r("/f/emptydir")),
            ],
        ),
        (
            "symlinks out, dangling, loop",
            vec![("SSL_CERT_FILE", none.clone()), ("SSL_CERT_DIR", r("/d4"))],
        ),
        (
            "DER file",
            vec![("SSL_CERT_FILE", r("/f/ca.der")), ("SSL_CERT_DIR", r("/d1"))],
        ),
        (
            "TRUSTED CERTIFICATE block",
            vec![
                ("SSL_CERT_FILE", r("/f/trusted.pem")),
                ("SSL_CERT_DIR", none.clone()),
            ],
        ),
        (
            "duplicates",
            vec![("SSL_CERT_FILE", r("/f/dups.pem")), ("SSL_CERT_DIR", r("/d2"))],
        ),
        (
            "private key in bundle",
            vec![
                ("SSL_CERT_FILE", r("/f/withkey.pem")),
                ("SSL_CERT_DIR", none.clone()),
            ],
        ),
        (
            "broken key block",
            vec![
                ("SSL_CERT_FILE", r("/f/badkey.pem")),
                ("SSL_CERT_DIR", none.clone()),
            ],
        ),
        (
            "file is a directory",
            vec![
                ("SSL_CERT_FILE", r("/f/emptydir")),
                ("SSL_CERT_DIR", none.clone()),
            ],
        ),
        (
            "dir is a file",
            vec![
                ("SSL_CERT_FILE", none.clone()),
                ("SSL_CERT_DIR", r("/f/bundle.pem")),
            ],
        ),
    ];
    assert!(cases.len() >= 8);
    let mut nonzero = 0;
    for (label, env) in &cases {
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let real = go_says(&bin, &env_ref);
        // The World is the host root with exactly this environment: both variables always
        // point into the fixture, so Go's default paths are never consulted.
        let w = World::fixture("/", &env_ref);
        let ours = resolve(Runtime::Go, &w);
        match &real {
            Ok(n) => {
                assert_eq!(
                    ours.anchors.len(),
                    *n,
                    "{label}: Go counts {n}; steps {:#?}",
                    ours.steps
                );
                assert!(ours.error.is_none(), "{label}: {:?}", ours.error);
                if *n > 0 {
                    nonzero += 1;
                }
            }
            Err(msg) => {
                assert!(ours.anchors.is_empty(), "{label}: Go failed ({msg})");
                let e = ours
                    .error
                    .as_deref()
                    .unwrap_or_else(|| panic!("{label}: Go said {msg:?}, we saw no error"));
                let tail = e.rsplit(": ").next().unwrap();
                assert!(msg.contains(tail), "{label}: Go said {msg:?}, we said {e:?}");
            }
        }
        eprintln!(
            "go cross-check {label:40} go={real:?} tlsdoctor={}",
            ours.anchors.len()
        );
    }
    assert!(nonzero >= 8, "most cases should load something");
}

// ---------------------------------------------------------------------------------------
// Cross-check against real OpenSSL: is the CA findable?

fn openssl_verifies(env: &[(&str, String)], leaf: &Path) -> bool {
    let mut c = Command::new("openssl");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.arg("verify").arg(leaf).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        assert!(out.contains(": OK"), "{out}");
        true
    } else {
        assert!(
            out.contains("error 20") || out.contains("error 2 "),
            "unexpected openssl failure: {out}"
        );
        false
    }
}

#[test]
fn openssl_findability_matches_real_openssl() {
    if !have("openssl") {
        return;
    }
    let root = ca("Ossl Xcheck Root");
    let other = ca("Ossl Xcheck Other");
    let lf = leaf(&root, "leaf.ossl.test");
    let fs = Fs::new();
    let r = |p: &str| fs.host(p).to_str().unwrap().to_string();
    fs.write("/leaf.pem", lf.pem());
    fs.mkdir("/empty");
    // hashed: correct link
    fs.write("/hashed/root.pem", root.pem());
    fs.link("root.pem", &format!("/hashed/{}", root.hash_name(0)));
    // not hashed
    fs.write("/plain/root.crt", root.pem());
    // wrong hash name (the other CA's hash)
    fs.write(&format!("/wrong/{}", other.hash_name(0)), root.pem());
    // a gap: .1 without .0
    fs.write(&format!("/gap/{}", root.hash_name(1)), root.pem());
    // .0 is another cert with a colliding name, .1 is ours: found (OpenSSL walks .0, .1)
    fs.write(&format!("/chain/{}", root.hash_name(0)), other.pem());
    fs.write(&format!("/chain/{}", root.hash_name(1)), root.pem());
    // bundles
    fs.write("/good.pem", bundle(&[&other, &root]));
    fs.write("/bad.pem", format!("{}{}{}", other.pem(), root.pem(), BAD_BLOCK));
    fs.write("/trusted.pem", trusted_pem(&root));
    fs.write("/root.der", root.der());
    fs.write(
        "/badkey.pem",
        format!(
            "{}-----BEGIN PRIVATE KEY-----\n!!!! not base64 !!!!\n-----END PRIVATE KEY-----\n",
            root.pem()
        ),
    );
    fs.write(
        "/goodkey.pem",
        format!("{}{}", root.pem(), other.key.serialize_pem()),
    );

    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "hash-named link",
            vec![("SSL_CERT_FILE", r("/none")), ("SSL_CERT_DIR", r("/hashed"))],
        ),
        (
            "not hash-named",
            vec![("SSL_CERT_FILE", r("/none")), ("SSL_CERT_DIR", r("/plain"))],
        ),
        (
            "wrong hash name",
            vec![("SSL_CERT_FILE", r("/none")), ("SSL_CERT_DIR", r("/wrong"))],
        ),
        // OpenSSL 3.0's directory store finds .1 despite the gap; the classic lookup
        // (used alone when SSL_CERT_DIR has several parts) does not.
        (
            "gap before .1",
            vec![("SSL_CERT_FILE", r("/none")), ("SSL_CERT_DIR", r("/gap"))],
        ),
        (
            "gap, colon list",
            vec![
                ("SSL_CERT_FILE", r("/none")),
                ("SSL_CERT_DIR", format!("{}:{}", r("/gap"), r("/empty"))),
            ],
        ),
        (
            "collision walks to .1",
            vec![("SSL_CERT_FILE", r("/none")), ("SSL_CERT_DIR", r("/chain"))],
        ),
        (
            "colon-separated dirs",
            vec![
                ("SSL_CERT_FILE", r("/none")),
                ("SSL_CERT_DIR", format!("{}:{}", r("/plain"), r("/hashed"))),
            ],
        ),
        (
            "good bundle",
            vec![("SSL_CERT_FILE", r("/good.pem")), ("SSL_CERT_DIR", r("/empty"))],
        ),
        (
            "bundle with a bad block",
            vec![("SSL_CERT_FILE", r("/bad.pem")), ("SSL_CERT_DIR", r("/empty"))],
        ),
        (
            "bad bundle, hashed dir",
            vec![("SSL_CERT_FILE", r("/bad.pem")), ("SSL_CERT_DIR", r("/hashed"))],
        ),
        (
            "TRUSTED CERTIFICATE bundle",
            vec![
                ("SSL_CERT_FILE", r("/trusted.pem")),
                ("SSL_CERT_DIR", r("/empty")),
            ],
        ),
        (
            "DER bundle",
            vec![("SSL_CERT_FILE", r("/root.der")), ("SSL_CERT_DIR", r("/empty"))],
        ),
        (
            "broken key block",
            vec![("SSL_CERT_FILE", r("/badkey.pem")), ("SSL_CERT_DIR", r("/empty"))],
        ),
        (
            "private key in bundle",
            vec![
                ("SSL_CERT_FILE", r("/goodkey.pem")),
                ("SSL_CERT_DIR", r("/empty")),
            ],
        ),
    ];
    let mut yes = 0;
    for (label, env) in &cases {
        let real = openssl_verifies(env, &fs.host("/leaf.pem"));
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ours = resolve(Runtime::Openssl, &World::fixture("/", &env_ref));
        let predicted = has_anchor(&ours, &root);
        eprintln!("openssl cross-check {label:32} openssl={real} tlsdoctor={predicted}");
        assert_eq!(
            predicted, real,
            "{label}: steps {:#?} findings {:#?}",
            ours.steps, ours.findings
        );
        yes += real as usize;
    }
    assert!(yes >= 3 && yes < cases.len(), "both outcomes must be exercised");
}

#[test]
fn cli_pid_reads_another_process() {
    let a = ca("Pid Root");
    let fs = Fs::new();
    fs.write("/bundle.pem", a.pem());
    fs.mkdir("/emptydir");
    let file = fs.host("/bundle.pem").to_str().unwrap().to_string();
    let dir = fs.host("/emptydir").to_str().unwrap().to_string();
    // A process with its own environment; tlsdoctor reads /proc/PID/environ and root.
    let mut child = Command::new("sleep")
        .arg("30")
        .env_clear()
        .env("SSL_CERT_FILE", &file)
        .env("SSL_CERT_DIR", &dir)
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (code, out, err) = tlsdoctor(&["--pid", &pid, "store", "--runtime", "go", "--json"], &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 0, "{out}{err}");
    let doc: StoreDoc = serde_json::from_str(&out).unwrap();
    assert_eq!(doc.world.kind, "pid");
    assert_eq!(doc.world.env.get("SSL_CERT_FILE"), Some(&file));
    assert_eq!(doc.runtimes[0].anchors, 1);
    let (code, _, err) = tlsdoctor(&["--pid", "999999999", "store"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no process"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Cross-check against the real rustls-native-certs crate (0.8.x, a dev-dependency). It
// reads the process environment, so it runs in a child: this test binary, re-invoked on
// the ignored helper below with a cleared environment.

#[test]
#[ignore = "helper: run in a child process by rustls_native_counts_match_the_real_crate"]
fn rustls_native_helper() {
    if std::env::var_os("TLSDOCTOR_RUSTLS_HELPER").is_none() {
        return;
    }
    let r = rustls_native_certs::load_native_certs();
    // What `RootCertStore::add_parsable_certificates` keeps.
    let usable = r
        .certs
        .iter()
        .filter(|c| webpki::anchor_from_trusted_cert(c).is_ok())
        .count();
    println!(
        "RUSTLS_NATIVE usable={usable} certs={} errors={}",
        r.certs.len(),
        r.errors.len()
    );
}

fn rustls_native_says(env: &[(&str, String)]) -> (usize, usize) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env_clear().env("TLSDOCTOR_RUSTLS_HELPER", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .args([
            "rustls_native_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let line = out
        .lines()
        .find_map(|l| l.find("RUSTLS_NATIVE ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("helper printed nothing: {out}"));
    let field = |k: &str| -> usize {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("usable="), field("errors="))
}

#[test]
fn rustls_native_counts_match_the_real_crate() {
    let cas: Vec<Ca> = (0..5).map(|i| ca(&format!("Rustls Xcheck {i}"))).collect();
    let fs = Fs::new();
    let r = |p: &str| fs.host(p).to_str().unwrap().to_string();
    fs.write("/f/bundle.pem", bundle(&[&cas[0], &cas[1], &cas[2]]));
    fs.write("/f/dups.pem", bundle(&[&cas[0], &cas[0]]));
    fs.write("/f/junkder.pem", format!("{}{}", cas[3].pem(), BAD_BLOCK));
    fs.write(
        "/f/badb64.pem",
        format!(
            "{}-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n{}",
            cas[3].pem(),
            cas[4].pem()
        ),
    );
    fs.write("/f/ca.der", cas[4].der());
    fs.write(
        "/f/trusted.pem",
        format!("{}{}", trusted_pem(&cas[4]), cas[2].pem()),
    );
    fs.mkdir("/f/emptydir");
    fs.write("/d1/a.crt", cas[3].pem());
    fs.write("/d1/b.pem", cas[4].pem());
    fs.write("/d2/c.pem", cas[0].pem());
    fs.link("c.pem", &format!("/d2/{}", cas[0].hash_name(0)));
    fs.write("/d2/README", "not a certificate\n");
    fs.mkdir("/d2/sub");
    fs.write("/d2/sub/inner.pem", cas[1].pem());
    fs.link(&r("/f/bundle.pem"), "/d3/abs-link.pem");
    fs.link(&r("/nowhere.pem"), "/d3/dangling.pem");
    fs.write("/d3/ca.der", cas[4].der());
    let none = r("/does-not-exist");
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("file only", vec![("SSL_CERT_FILE", r("/f/bundle.pem"))]),
        ("dir only", vec![("SSL_CERT_DIR", r("/d1"))]),
        (
            "both",
            vec![("SSL_CERT_FILE", r("/f/bundle.pem")), ("SSL_CERT_DIR", r("/d2"))],
        ),
        (
            "colon list with empty part",
            vec![("SSL_CERT_DIR", format!("{}::{}", r("/d1"), r("/d2")))],
        ),
        (
            "missing file, good dir",
            vec![("SSL_CERT_FILE", none.clone()), ("SSL_CERT_DIR", r("/d1"))],
        ),
        (
            "empty SSL_CERT_FILE, good dir",
            vec![("SSL_CERT_FILE", String::new()), ("SSL_CERT_DIR", r("/d1"))],
        ),
        ("existing empty dir", vec![("SSL_CERT_DIR", r("/f/emptydir"))]),
        ("links, dangling, DER", vec![("SSL_CERT_DIR", r("/d3"))]),
        ("junk DER block", vec![("SSL_CERT_FILE", r("/f/junkder.pem"))]),
        ("bad base64 block", vec![("SSL_CERT_FILE", r("/f/badb64.pem"))]),
        ("DER file", vec![("SSL_CERT_FILE", r("/f/ca.der"))]),
        (
            "TRUSTED CERTIFICATE",
            vec![("SSL_CERT_FILE", r("/f/trusted.pem"))],
        ),
        (
            "duplicates",
            vec![("SSL_CERT_FILE", r("/f/dups.pem")), ("SSL_CERT_DIR", r("/d2"))],
        ),
        ("file is a directory", vec![("SSL_CERT_FILE", r("/f/emptydir"))]),
    ];
    for (label, env) in &cases {
        let (real, errors) = rustls_native_says(env);
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ours = resolve(Runtime::RustlsNative, &World::fixture("/", &env_ref));
        eprintln!(
            "rustls-native cross-check {label:32} crate={real} (errors {errors}) tlsdoctor={}",
            ours.anchors.len()
        );
        assert_eq!(ours.anchors.len(), real, "{label}: steps {:#?}", ours.steps);
    }
}

/// `--root` evaluates an image: the shell's own SSL_CERT_FILE (this machine exports one)
/// must not leak into it; `--env` is how the image's variables are given.
#[test]
fn root_starts_from_an_empty_environment() {
    let fs = Fs::new();
    let a = ca("Root Env Test CA");
    debian(&fs, &[&a]);
    let root = fs.root().to_str().unwrap();
    let shell = [("SSL_CERT_FILE", "/nonexistent/shell-bundle.pem")];
    let (_, out, _) = tlsdoctor(&["--root", root, "store", "--json"], &shell);
    assert!(
        !out.contains("shell-bundle"),
        "the shell's variable leaked into --root: {out}"
    );
    let (_, out, _) = tlsdoctor(
        &[
            "--root",
            root,
            "--env",
            "SSL_CERT_FILE=/nonexistent/image-bundle.pem",
            "store",
            "--json",
        ],
        &shell,
    );
    assert!(
        out.contains("image-bundle"),
        "--env must apply inside --root: {out}"
    );
}
