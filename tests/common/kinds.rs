//! Fixtures for tests/kinds.rs: keys from `openssl genpkey`, certificates DER-encoded here
//! and signed with `openssl dgst` / `pkeyutl`, one scenario per odd kind of certificate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The time every scenario is evaluated at: 2030-06-01T00:00:00Z.
pub const AT: i64 = 1_906_502_400;
pub const HOST: &str = "db.example.test";

// ---------------------------------------------------------------- DER

pub fn der_len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else if n < 256 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// The content octets of an OBJECT IDENTIFIER.
pub fn oid_body(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut out = vec![];
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        out.extend(tmp);
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    out
}

pub fn oid(dotted: &str) -> Vec<u8> {
    tlv(0x06, &oid_body(dotted))
}

pub fn int(v: u64) -> Vec<u8> {
    let mut b: Vec<u8> = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

pub const NULL: [u8; 2] = [0x05, 0x00];

/// A Name of CN RDNs, in order.
pub fn name(cns: &[&str]) -> Vec<u8> {
    seq(&cns
        .iter()
        .map(|cn| tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())])))
        .collect::<Vec<_>>())
}

/// Split a DER SEQUENCE into its elements (test data: panics on bad input).
pub fn elements(der: &[u8]) -> Vec<Vec<u8>> {
    let (_, body) = split_tlv(der);
    let mut out = vec![];
    let mut rest = body;
    while !rest.is_empty() {
        let (len, _) = split_tlv(rest);
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    out
}

/// (total length, content) of the TLV at the start of `der`.
fn split_tlv(der: &[u8]) -> (usize, &[u8]) {
    let (hl, len) = if der[1] < 0x80 {
        (2, der[1] as usize)
    } else {
        let n = (der[1] & 0x7f) as usize;
        (
            2 + n,
            der[2..2 + n].iter().fold(0usize, |a, &b| a << 8 | b as usize),
        )
    };
    (hl + len, &der[hl..hl + len])
}

// ---------------------------------------------------------------- extensions

pub fn ext(oid_s: &str, critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![oid(oid_s)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(tlv(0x04, &value));
    seq(&parts)
}

pub fn basic_constraints(ca: bool, pathlen: Option<u64>, critical: bool) -> Vec<u8> {
    let mut parts = vec![];
    if ca {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    if let Some(p) = pathlen {
        parts.push(int(p));
    }
    ext("2.5.29.19", critical, seq(&parts))
}

/// keyUsage from bit numbers (0 digitalSignature, 2 keyEncipherment, 4 keyAgreement,
/// 5 keyCertSign, 6 cRLSign).
pub fn key_usage(bits: &[u8]) -> Vec<u8> {
    let mut v: u16 = 0;
    for &b in bits {
        v |= 0x8000 >> b;
    }
    let bytes = v.to_be_bytes();
    let used = if bytes[1] == 0 { 1 } else { 2 };
    let last = bytes[used - 1];
    let unused = last.trailing_zeros().min(7) as u8;
    let mut body = vec![unused];
    body.extend_from_slice(&bytes[..used]);
    ext("2.5.29.15", true, tlv(0x03, &body))
}

pub fn eku_server() -> Vec<u8> {
    ext("2.5.29.37", false, seq(&[oid("1.3.6.1.5.5.7.3.1")]))
}

pub fn gn_dns(s: &str) -> Vec<u8> {
    tlv(0x82, s.as_bytes())
}
pub fn gn_email(s: &str) -> Vec<u8> {
    tlv(0x81, s.as_bytes())
}
/// registeredID [8]
pub fn gn_registered_id(dotted: &str) -> Vec<u8> {
    tlv(0x88, &oid_body(dotted))
}
/// ediPartyName [5] { partyName [1] DirectoryString }
pub fn gn_edi_party(party: &str) -> Vec<u8> {
    tlv(0xa5, &tlv(0xa1, &tlv(0x0c, party.as_bytes())))
}
/// x400Address [3] ORAddress: an empty BuiltInStandardAttributes.
pub fn gn_x400() -> Vec<u8> {
    tlv(0xa3, &seq(&[seq(&[])]))
}

pub fn san(names: &[Vec<u8>], critical: bool) -> Vec<u8> {
    ext("2.5.29.17", critical, seq(names))
}

/// nameConstraints with these permitted / excluded GeneralNames (critical).
pub fn name_constraints(permitted: &[Vec<u8>], excluded: &[Vec<u8>]) -> Vec<u8> {
    let subtrees = |names: &[Vec<u8>]| {
        names
            .iter()
            .map(|n| seq(std::slice::from_ref(n)))
            .collect::<Vec<_>>()
            .concat()
    };
    let mut parts = vec![];
    if !permitted.is_empty() {
        parts.push(tlv(0xa0, &subtrees(permitted)));
    }
    if !excluded.is_empty() {
        parts.push(tlv(0xa1, &subtrees(excluded)));
    }
    ext("2.5.29.30", true, seq(&parts))
}

/// The usual server-leaf extensions for `host`.
pub fn leaf_exts(host: &str) -> Vec<Vec<u8>> {
    vec![key_usage(&[0, 2]), eku_server(), san(&[gn_dns(host)], false)]
}

pub fn ca_exts() -> Vec<Vec<u8>> {
    vec![basic_constraints(true, None, true), key_usage(&[5, 6])]
}

// ---------------------------------------------------------------- keys and signing

pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A private key file and its SubjectPublicKeyInfo.
#[derive(Clone)]
pub struct Key {
    pub path: PathBuf,
    pub spki: Vec<u8>,
}

impl Key {
    fn gen(dir: &Path, name: &str, genpkey: &[&str]) -> Key {
        let file = format!("{name}.key");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(genpkey);
        args.extend(["-out", &file]);
        openssl(dir, &args);
        let spki = openssl(dir, &["pkey", "-in", &file, "-pubout", "-outform", "DER"]);
        Key {
            path: dir.join(file),
            spki,
        }
    }

    /// The same key with its EC point compressed.
    fn compressed(&self) -> Key {
        let dir = self.path.parent().unwrap();
        let spki = openssl(
            dir,
            &[
                "pkey",
                "-in",
                self.path.to_str().unwrap(),
                "-pubout",
                "-outform",
                "DER",
                "-ec_conv_form",
                "compressed",
            ],
        );
        Key {
            path: self.path.clone(),
            spki,
        }
    }

    /// The same RSA key with its SubjectPublicKeyInfo algorithm replaced.
    fn with_algorithm(&self, alg: Vec<u8>) -> Key {
        let parts = elements(&self.spki);
        Key {
            path: self.path.clone(),
            spki: seq(&[alg, parts[1].clone()]),
        }
    }
}

/// A signature algorithm as declared, and how the bytes are actually made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sig {
    RsaSha256,
    /// Declared sha256WithRSAEncryption, made with another digest.
    RsaSha256MadeWith(&'static str),
    PssSha256,
    /// RSASSA-PSS with default parameters: SHA-1, MGF1-SHA-1, salt 20.
    PssSha1,
    EcdsaSha256,
    /// Declared ecdsa-with-SHA384, made over SHA-256.
    EcdsaSha384MadeWithSha256,
    Ed25519,
    Sm2Sm3,
}

impl Sig {
    pub fn algorithm(self) -> Vec<u8> {
        let sha256 = || seq(&[oid("2.16.840.1.101.3.4.2.1"), NULL.to_vec()]);
        match self {
            Sig::RsaSha256 | Sig::RsaSha256MadeWith(_) => seq(&[oid("1.2.840.113549.1.1.11"), NULL.to_vec()]),
            Sig::PssSha256 => seq(&[
                oid("1.2.840.113549.1.1.10"),
                seq(&[
                    tlv(0xa0, &sha256()),
                    tlv(0xa1, &seq(&[oid("1.2.840.113549.1.1.8"), sha256()])),
                    tlv(0xa2, &int(32)),
                ]),
            ]),
            Sig::PssSha1 => seq(&[oid("1.2.840.113549.1.1.10"), seq(&[])]),
            Sig::EcdsaSha256 => seq(&[oid("1.2.840.10045.4.3.2")]),
            Sig::EcdsaSha384MadeWithSha256 => seq(&[oid("1.2.840.10045.4.3.3")]),
            Sig::Ed25519 => seq(&[oid("1.3.101.112")]),
            Sig::Sm2Sm3 => seq(&[oid("1.2.156.10197.1.501")]),
        }
    }

    fn sign(self, tbs: &[u8], key: &Key) -> Vec<u8> {
        let dir = key.path.parent().unwrap();
        let tbs_file = dir.join(format!("tbs-{}.der", std::process::id()));
        std::fs::write(&tbs_file, tbs).unwrap();
        let k = key.path.to_str().unwrap();
        let t = tbs_file.to_str().unwrap();
        let pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt"];
        let sig = match self {
            Sig::RsaSha256 | Sig::EcdsaSha256 | Sig::EcdsaSha384MadeWithSha256 => {
                openssl(dir, &["dgst", "-sha256", "-sign", k, t])
            }
            Sig::RsaSha256MadeWith(d) => openssl(dir, &["dgst", &format!("-{d}"), "-sign", k, t]),
            Sig::PssSha256 => openssl(
                dir,
                &[
                    "dgst",
                    "-sha256",
                    "-sign",
                    k,
                    pss[0],
                    pss[1],
                    pss[2],
                    "rsa_pss_saltlen:32",
                    "-sigopt",
                    "rsa_mgf1_md:sha256",
                    t,
                ],
            ),
            Sig::PssSha1 => openssl(
                dir,
                &[
                    "dgst",
                    "-sha1",
                    "-sign",
                    k,
                    pss[0],
                    pss[1],
                    pss[2],
                    "rsa_pss_saltlen:20",
                    t,
                ],
            ),
            Sig::Ed25519 => openssl(dir, &["pkeyutl", "-sign", "-rawin", "-inkey", k, "-in", t]),
            // No distinguishing ID: what `openssl req -x509 -sm3` makes and x509 verifies.
            Sig::Sm2Sm3 => openssl(dir, &["dgst", "-sm3", "-sign", k, t]),
        };
        std::fs::remove_file(&tbs_file).unwrap();
        sig
    }
}

/// One certificate to make.
pub struct Cert<'a> {
    pub subject: Vec<&'a str>,
    pub issuer: Vec<&'a str>,
    pub serial: u64,
    pub spki: Vec<u8>,
    pub exts: Vec<Vec<u8>>,
    pub sig: Sig,
    pub signer: &'a Key,
}

impl Cert<'_> {
    pub fn der(&self) -> Vec<u8> {
        let tbs = seq(&[
            tlv(0xa0, &int(2)),
            int(self.serial),
            self.sig.algorithm(),
            name(&self.issuer),
            seq(&[tlv(0x17, b"290101000000Z"), tlv(0x17, b"350101000000Z")]),
            name(&self.subject),
            self.spki.clone(),
            tlv(0xa3, &seq(&self.exts)),
        ]);
        let sig = self.sig.sign(&tbs, self.signer);
        let mut bits = vec![0u8];
        bits.extend(sig);
        seq(&[tbs, self.sig.algorithm(), tlv(0x03, &bits)])
    }
}

pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for c in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// Every key the scenarios use, generated once per run.
pub struct Pki {
    pub rsa_root: Key,
    pub rsa_int: Key,
    pub rsa_leaf: Key,
    pub pss: Key,
    pub pss_sha256: Key,
    pub ec_root: Key,
    pub ec_leaf: Key,
    pub ed_root: Key,
    pub ed_int: Key,
    pub ed_leaf: Key,
    pub x25519: Key,
    pub sm2_root: Key,
    pub sm2_leaf: Key,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let rsa = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
        let ec = [
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-pkeyopt",
            "ec_param_enc:named_curve",
        ];
        let sm2 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2"];
        Pki {
            rsa_root: Key::gen(dir, "rsa-root", &rsa),
            rsa_int: Key::gen(dir, "rsa-int", &rsa),
            rsa_leaf: Key::gen(dir, "rsa-leaf", &rsa),
            pss: Key::gen(
                dir,
                "pss",
                &["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
            ),
            pss_sha256: Key::gen(
                dir,
                "pss-sha256",
                &[
                    "-algorithm",
                    "RSA-PSS",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-pkeyopt",
                    "rsa_pss_keygen_md:sha256",
                    "-pkeyopt",
                    "rsa_pss_keygen_mgf1_md:sha256",
                    "-pkeyopt",
                    "rsa_pss_keygen_saltlen:32",
                ],
            ),
            ec_root: Key::gen(dir, "ec-root", &ec),
            ec_leaf: Key::gen(dir, "ec-leaf", &ec),
            ed_root: Key::gen(dir, "ed-root", &["-algorithm", "ED25519"]),
            ed_int: Key::gen(dir, "ed-int", &["-algorithm", "ED25519"]),
            ed_leaf: Key::gen(dir, "ed-leaf", &["-algorithm", "ED25519"]),
            x25519: Key::gen(dir, "x25519", &["-algorithm", "X25519"]),
            sm2_root: Key::gen(dir, "sm2-root", &sm2),
            sm2_leaf: Key::gen(dir, "sm2-leaf", &sm2),
        }
    }
}

// ---------------------------------------------------------------- scenarios

pub struct Scenario {
    /// The kind of certificate it is about (rows of the agreement table).
    pub kind: String,
    pub name: String,
    /// Presented, leaf first (DER).
    pub chain: Vec<Vec<u8>>,
    /// What the CA file holds: the trusted certificates as PEM, or this text.
    pub trusted: Vec<Vec<u8>>,
    pub ca_text: Option<String>,
    pub host: String,
}

impl Scenario {
    /// chain.pem (all presented), leaf.pem, untrusted.pem, ca.pem.
    pub fn write(&self, dir: &Path) {
        let pems: Vec<String> = self.chain.iter().map(|d| pem(d)).collect();
        std::fs::write(dir.join("chain.pem"), pems.concat()).unwrap();
        std::fs::write(dir.join("leaf.pem"), &pems[0]).unwrap();
        std::fs::write(dir.join("untrusted.pem"), pems[1..].concat()).unwrap();
        let ca = match &self.ca_text {
            Some(t) => t.clone(),
            None => self.trusted.iter().map(|d| pem(d)).collect::<String>(),
        };
        std::fs::write(dir.join("ca.pem"), ca).unwrap();
    }
}

/// A self-signed RSA root named `cn`.
fn rsa_root<'a>(p: &'a Pki, cn: &'a str, mut extra: Vec<Vec<u8>>) -> Vec<u8> {
    let mut exts = ca_exts();
    exts.append(&mut extra);
    Cert {
        subject: vec![cn],
        issuer: vec![cn],
        serial: 1,
        spki: p.rsa_root.spki.clone(),
        exts,
        sig: Sig::RsaSha256,
        signer: &p.rsa_root,
    }
    .der()
}

/// A leaf for HOST with `spki`, issued by `issuer` with `key`.
fn leaf<'a>(issuer: &'a str, spki: &Key, sig: Sig, key: &'a Key, exts: Vec<Vec<u8>>) -> Vec<u8> {
    Cert {
        subject: vec![HOST],
        issuer: vec![issuer],
        serial: 1000,
        spki: spki.spki.clone(),
        exts,
        sig,
        signer: key,
    }
    .der()
}

pub fn scenarios(p: &Pki) -> Vec<Scenario> {
    let mut v = vec![];
    let mut add = |kind: &str, name: &str, chain: Vec<Vec<u8>>, trusted: Vec<Vec<u8>>| {
        v.push(Scenario {
            kind: kind.into(),
            name: name.into(),
            chain,
            trusted,
            ca_text: None,
            host: HOST.into(),
        })
    };
    const R: &str = "Kinds Root CA";
    let root = rsa_root(p, R, vec![]);
    let ok_leaf = leaf(R, &p.rsa_leaf, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST));
    add(
        "control",
        "control-rsa-chain",
        vec![ok_leaf.clone()],
        vec![root.clone()],
    );

    // ---- RSA-PSS keys (id-RSASSA-PSS SubjectPublicKeyInfo)
    add(
        "rsa-pss-key",
        "rsa-pss-key-leaf",
        vec![leaf(R, &p.pss, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST))],
        vec![root.clone()],
    );
    add(
        "rsa-pss-key",
        "rsa-pss-key-leaf-sha256-params",
        vec![leaf(
            R,
            &p.pss_sha256,
            Sig::RsaSha256,
            &p.rsa_root,
            leaf_exts(HOST),
        )],
        vec![root.clone()],
    );
    {
        let int = Cert {
            subject: vec!["Kinds PSS Issuing CA"],
            issuer: vec![R],
            serial: 2,
            spki: p.pss_sha256.spki.clone(),
            exts: ca_exts(),
            sig: Sig::RsaSha256,
            signer: &p.rsa_root,
        }
        .der();
        let l = leaf(
            "Kinds PSS Issuing CA",
            &p.rsa_leaf,
            Sig::PssSha256,
            &p.pss_sha256,
            leaf_exts(HOST),
        );
        add(
            "rsa-pss-key",
            "rsa-pss-key-intermediate",
            vec![l, int],
            vec![root.clone()],
        );
    }
    {
        let pss_root = Cert {
            subject: vec!["Kinds PSS Root CA"],
            issuer: vec!["Kinds PSS Root CA"],
            serial: 3,
            spki: p.pss.spki.clone(),
            exts: ca_exts(),
            sig: Sig::PssSha256,
            signer: &p.pss,
        }
        .der();
        let l = leaf(
            "Kinds PSS Root CA",
            &p.rsa_leaf,
            Sig::PssSha256,
            &p.pss,
            leaf_exts(HOST),
        );
        add("rsa-pss-key", "rsa-pss-key-root", vec![l], vec![pss_root]);
    }
    // ---- RSA-PSS signatures by an rsaEncryption key
    add(
        "rsa-pss-signature",
        "rsa-pss-sha256-signature",
        vec![leaf(R, &p.rsa_leaf, Sig::PssSha256, &p.rsa_root, leaf_exts(HOST))],
        vec![root.clone()],
    );
    add(
        "rsa-pss-signature",
        "rsa-pss-sha1-signature",
        vec![leaf(R, &p.rsa_leaf, Sig::PssSha1, &p.rsa_root, leaf_exts(HOST))],
        vec![root.clone()],
    );
    // ---- RSA under id-ea-rsa (2.5.8.1.1)
    {
        let ea = p.rsa_leaf.with_algorithm(seq(&[oid("2.5.8.1.1"), NULL.to_vec()]));
        add(
            "rsa-oid-2.5.8.1.1",
            "rsa-ea-oid-leaf",
            vec![leaf(R, &ea, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST))],
            vec![root.clone()],
        );
        let ea_int = p.rsa_int.with_algorithm(seq(&[oid("2.5.8.1.1"), NULL.to_vec()]));
        let int = Cert {
            subject: vec!["Kinds EA Issuing CA"],
            issuer: vec![R],
            serial: 4,
            spki: ea_int.spki.clone(),
            exts: ca_exts(),
            sig: Sig::RsaSha256,
            signer: &p.rsa_root,
        }
        .der();
        let l = leaf(
            "Kinds EA Issuing CA",
            &p.rsa_leaf,
            Sig::RsaSha256,
            &p.rsa_int,
            leaf_exts(HOST),
        );
        add(
            "rsa-oid-2.5.8.1.1",
            "rsa-ea-oid-intermediate",
            vec![l, int],
            vec![root.clone()],
        );
    }
    // ---- Ed25519 and X25519
    const ER: &str = "Kinds Ed25519 Root CA";
    let ed_root = Cert {
        subject: vec![ER],
        issuer: vec![ER],
        serial: 5,
        spki: p.ed_root.spki.clone(),
        exts: ca_exts(),
        sig: Sig::Ed25519,
        signer: &p.ed_root,
    }
    .der();
    add(
        "ed25519",
        "ed25519-chain",
        vec![leaf(ER, &p.ed_leaf, Sig::Ed25519, &p.ed_root, leaf_exts(HOST))],
        vec![ed_root.clone()],
    );
    {
        let int = Cert {
            subject: vec!["Kinds Ed25519 Issuing CA"],
            issuer: vec![R],
            serial: 6,
            spki: p.ed_int.spki.clone(),
            exts: ca_exts(),
            sig: Sig::RsaSha256,
            signer: &p.rsa_root,
        }
        .der();
        let l = leaf(
            "Kinds Ed25519 Issuing CA",
            &p.rsa_leaf,
            Sig::Ed25519,
            &p.ed_int,
            leaf_exts(HOST),
        );
        add(
            "ed25519",
            "ed25519-intermediate-under-rsa",
            vec![l, int],
            vec![root.clone()],
        );
    }
    {
        let x_exts = vec![key_usage(&[4]), eku_server(), san(&[gn_dns(HOST)], false)];
        add(
            "x25519",
            "x25519-leaf",
            vec![leaf(ER, &p.x25519, Sig::Ed25519, &p.ed_root, x_exts)],
            vec![ed_root.clone()],
        );
        // An X25519 key cannot sign: the "intermediate" below cannot have made this leaf.
        let int = Cert {
            subject: vec!["Kinds X25519 CA"],
            issuer: vec![ER],
            serial: 7,
            spki: p.x25519.spki.clone(),
            exts: ca_exts(),
            sig: Sig::Ed25519,
            signer: &p.ed_root,
        }
        .der();
        let l = leaf(
            "Kinds X25519 CA",
            &p.ed_leaf,
            Sig::Ed25519,
            &p.ed_int,
            leaf_exts(HOST),
        );
        add(
            "x25519",
            "x25519-intermediate",
            vec![l, int],
            vec![ed_root.clone()],
        );
        // Go 1.19's alreadyInChain asserts the candidate's key has Equal: a root with a
        // key Go does not parse (nil), named like the leaf, makes the program panic.
        const LOOP: &str = "Kinds Loop CA";
        let nil_root = Cert {
            subject: vec![LOOP],
            issuer: vec![LOOP],
            serial: 8,
            spki: p.x25519.spki.clone(),
            exts: ca_exts(),
            sig: Sig::Ed25519,
            signer: &p.ed_root,
        }
        .der();
        let l = Cert {
            subject: vec![LOOP],
            issuer: vec![LOOP],
            serial: 9,
            spki: p.ed_leaf.spki.clone(),
            exts: leaf_exts(HOST),
            sig: Sig::Ed25519,
            signer: &p.ed_leaf,
        }
        .der();
        add(
            "go-crash",
            "go-nil-key-candidate-named-like-the-leaf",
            vec![l],
            vec![nil_root],
        );
    }
    // ---- compressed EC points
    {
        let c = p.ec_leaf.compressed();
        add(
            "compressed-ec-point",
            "compressed-ec-leaf",
            vec![leaf(R, &c, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST))],
            vec![root.clone()],
        );
        const CR: &str = "Kinds Compressed EC Root CA";
        let croot = Cert {
            subject: vec![CR],
            issuer: vec![CR],
            serial: 10,
            spki: p.ec_root.compressed().spki,
            exts: ca_exts(),
            sig: Sig::EcdsaSha256,
            signer: &p.ec_root,
        }
        .der();
        let l = leaf(CR, &p.ec_leaf, Sig::EcdsaSha256, &p.ec_root, leaf_exts(HOST));
        add("compressed-ec-point", "compressed-ec-root", vec![l], vec![croot]);
    }
    // ---- SM2
    {
        add(
            "sm2",
            "sm2-leaf-key",
            vec![leaf(R, &p.sm2_leaf, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST))],
            vec![root.clone()],
        );
        const SR: &str = "Kinds SM2 Root CA";
        let sroot = Cert {
            subject: vec![SR],
            issuer: vec![SR],
            serial: 11,
            spki: p.sm2_root.spki.clone(),
            exts: ca_exts(),
            sig: Sig::Sm2Sm3,
            signer: &p.sm2_root,
        }
        .der();
        let l = leaf(SR, &p.sm2_leaf, Sig::Sm2Sm3, &p.sm2_root, leaf_exts(HOST));
        add("sm2", "sm2-chain", vec![l], vec![sroot]);
    }
    // ---- proxy certificates (RFC 3820)
    {
        let ee = leaf(R, &p.rsa_leaf, Sig::RsaSha256, &p.rsa_root, leaf_exts(HOST));
        // With a subjectAltName a proxy certificate is malformed to OpenSSL (EXFLAG_INVALID);
        // without one the host name is found in the subject CN.
        for (name, critical, with_san) in [
            ("proxy-certificate", true, false),
            ("proxy-certificate-noncritical", false, false),
            ("proxy-certificate-with-san", true, true),
            ("proxy-certificate-with-san-noncritical", false, true),
        ] {
            let pci = seq(&[seq(&[oid("1.3.6.1.5.5.7.21.1")])]);
            let mut exts = if with_san {
                leaf_exts(HOST)
            } else {
                vec![key_usage(&[0, 2]), eku_server()]
            };
            exts.push(ext("1.3.6.1.5.5.7.1.14", critical, pci));
            let proxy = Cert {
                subject: vec![HOST, "12345"],
                issuer: vec![HOST],
                serial: 12,
                spki: p.ec_leaf.spki.clone(),
                exts,
                sig: Sig::RsaSha256,
                signer: &p.rsa_leaf,
            }
            .der();
            add(
                "proxy-certificate",
                name,
                vec![proxy, ee.clone()],
                vec![root.clone()],
            );
        }
    }
    // ---- critical extensions
    {
        let with = |e: Vec<u8>| {
            let mut x = leaf_exts(HOST);
            x.push(e);
            leaf(R, &p.rsa_leaf, Sig::RsaSha256, &p.rsa_root, x)
        };
        add(
            "critical-extension",
            "ocsp-nocheck-critical",
            vec![with(ext("1.3.6.1.5.5.7.48.1.5", true, NULL.to_vec()))],
            vec![root.clone()],
        );
        // CRL distribution points: on OpenSSL's list of supported critical extensions.
        let crldp = seq(&[seq(&[tlv(
            0xa0,
            &tlv(0xa0, &tlv(0x86, b"http://crl.example.test/root.crl")),
        )])]);
        add(
            "critical-extension",
            "crl-distribution-points-critical",
            vec![with(ext("2.5.29.31", true, crldp))],
            vec![root.clone()],
        );
        add(
            "critical-extension",
            "unknown-critical-leaf",
            vec![with(ext("1.3.6.1.4.1.55555.1", true, NULL.to_vec()))],
            vec![root.clone()],
        );
        add(
            "critical-extension",
            "unknown-noncritical-leaf",
            vec![with(ext("1.3.6.1.4.1.55555.1", false, NULL.to_vec()))],
            vec![root.clone()],
        );
        let mut iexts = ca_exts();
        iexts.push(ext("1.3.6.1.4.1.55555.2", true, NULL.to_vec()));
        let int = Cert {
            subject: vec!["Kinds Critical Issuing CA"],
            issuer: vec![R],
            serial: 13,
            spki: p.rsa_int.spki.clone(),
            exts: iexts,
            sig: Sig::RsaSha256,
            signer: &p.rsa_root,
        }
        .der();
        let l = leaf(
            "Kinds Critical Issuing CA",
            &p.rsa_leaf,
            Sig::RsaSha256,
            &p.rsa_int,
            leaf_exts(HOST),
        );
        add(
            "critical-extension",
            "unknown-critical-intermediate",
            vec![l, int],
            vec![root.clone()],
        );
    }
    // ---- rfc822Name constraints
    {
        const NR: &str = "Kinds Mail Root CA";
        let nc_root = |permitted: &[Vec<u8>], excluded: &[Vec<u8>]| {
            let mut exts = ca_exts();
            exts.push(name_constraints(permitted, excluded));
            Cert {
                subject: vec![NR],
                issuer: vec![NR],
                serial: 14,
                spki: p.rsa_root.spki.clone(),
                exts,
                sig: Sig::RsaSha256,
                signer: &p.rsa_root,
            }
            .der()
        };
        let mail_leaf = |emails: &[&str]| {
            let mut names = vec![gn_dns(HOST)];
            names.extend(emails.iter().map(|e| gn_email(e)));
            leaf(
                NR,
                &p.rsa_leaf,
                Sig::RsaSha256,
                &p.rsa_root,
                vec![key_usage(&[0, 2]), eku_server(), san(&names, false)],
            )
        };
        let good = nc_root(&[gn_email("good.com")], &[]);
        let k = "email-constraints";
        add(
            k,
            "email-permitted",
            vec![mail_leaf(&["alice@good.com"])],
            vec![good.clone()],
        );
        add(
            k,
            "email-not-permitted",
            vec![mail_leaf(&["alice@evil.com"])],
            vec![good.clone()],
        );
        add(
            k,
            "email-quoted-local-part",
            vec![mail_leaf(&["\"john doe\"@good.com"])],
            vec![good.clone()],
        );
        add(
            k,
            "email-quoted-local-part-evil",
            vec![mail_leaf(&["\"john@good.com\"@evil.com"])],
            vec![good.clone()],
        );
        add(
            k,
            "email-san-not-a-mailbox",
            vec![mail_leaf(&["not-an-email"])],
            vec![good.clone()],
        );
        add(
            k,
            "email-san-not-a-mailbox-unconstrained",
            vec![mail_leaf(&["not-an-email"])],
            vec![root.clone()],
        );
        let at = nc_root(&[gn_email("@good.com")], &[]);
        add(
            k,
            "email-constraint-at-domain",
            vec![mail_leaf(&["alice@good.com"])],
            vec![at],
        );
        let mailbox = nc_root(&[gn_email("alice@good.com")], &[]);
        add(
            k,
            "email-constraint-mailbox",
            vec![mail_leaf(&["alice@good.com"])],
            vec![mailbox.clone()],
        );
        add(
            k,
            "email-constraint-mailbox-other",
            vec![mail_leaf(&["bob@good.com"])],
            vec![mailbox],
        );
        let sub = nc_root(&[], &[gn_email(".good.com")]);
        add(
            k,
            "email-excluded-subdomain",
            vec![mail_leaf(&["bob@mail.good.com"])],
            vec![sub.clone()],
        );
        add(
            k,
            "email-excluded-subdomain-apex",
            vec![mail_leaf(&["bob@good.com"])],
            vec![sub],
        );

        // ---- unknown GeneralName types
        let k = "unknown-general-name";
        let gn_leaf = |extra: Vec<u8>, issuer: &'static str| {
            leaf(
                issuer,
                &p.rsa_leaf,
                Sig::RsaSha256,
                &p.rsa_root,
                vec![
                    key_usage(&[0, 2]),
                    eku_server(),
                    san(&[gn_dns(HOST), extra], false),
                ],
            )
        };
        add(
            k,
            "san-registered-id",
            vec![gn_leaf(gn_registered_id("1.2.3.4"), R)],
            vec![root.clone()],
        );
        add(
            k,
            "san-edi-party-name",
            vec![gn_leaf(gn_edi_party("kinds"), R)],
            vec![root.clone()],
        );
        add(
            k,
            "san-x400-address",
            vec![gn_leaf(gn_x400(), R)],
            vec![root.clone()],
        );
        let rid_root = nc_root(&[gn_dns("example.test"), gn_registered_id("1.2.3.4")], &[]);
        add(
            k,
            "nc-registered-id",
            vec![mail_leaf(&[])],
            vec![rid_root.clone()],
        );
        add(
            k,
            "nc-registered-id-and-san-registered-id",
            vec![gn_leaf(gn_registered_id("1.2.3.4"), NR)],
            vec![rid_root],
        );
        let edi_root = nc_root(&[gn_dns("example.test")], &[gn_edi_party("kinds")]);
        add(k, "nc-edi-party-name", vec![mail_leaf(&[])], vec![edi_root]);
    }
    // ---- basicConstraints in a leaf
    {
        let mut exts = leaf_exts(HOST);
        exts.push(basic_constraints(false, Some(0), true));
        add(
            "leaf-ca-false-pathlen",
            "leaf-ca-false-pathlen-0",
            vec![leaf(R, &p.rsa_leaf, Sig::RsaSha256, &p.rsa_root, exts)],
            vec![root.clone()],
        );
    }
    // ---- a signature made with another hash than declared
    {
        let k = "signature-hash-mismatch";
        add(
            k,
            "declared-sha256-made-with-sha1",
            vec![leaf(
                R,
                &p.rsa_leaf,
                Sig::RsaSha256MadeWith("sha1"),
                &p.rsa_root,
                leaf_exts(HOST),
            )],
            vec![root.clone()],
        );
        add(
            k,
            "declared-sha256-made-with-sha384",
            vec![leaf(
                R,
                &p.rsa_leaf,
                Sig::RsaSha256MadeWith("sha384"),
                &p.rsa_root,
                leaf_exts(HOST),
            )],
            vec![root.clone()],
        );
        const EC: &str = "Kinds EC Root CA";
        let ec_root = Cert {
            subject: vec![EC],
            issuer: vec![EC],
            serial: 15,
            spki: p.ec_root.spki.clone(),
            exts: ca_exts(),
            sig: Sig::EcdsaSha256,
            signer: &p.ec_root,
        }
        .der();
        add(
            k,
            "declared-ecdsa-sha384-made-with-sha256",
            vec![leaf(
                EC,
                &p.ec_leaf,
                Sig::EcdsaSha384MadeWithSha256,
                &p.ec_root,
                leaf_exts(HOST),
            )],
            vec![ec_root],
        );
    }
    // ---- CA files without a certificate
    for (name, text) in [
        ("ca-file-empty", String::new()),
        ("ca-file-text-only", "this is not a certificate\n".to_string()),
        (
            "ca-file-key-only",
            String::from_utf8(openssl(
                p.ec_leaf.path.parent().unwrap(),
                &["pkey", "-in", p.ec_leaf.path.to_str().unwrap()],
            ))
            .unwrap(),
        ),
    ] {
        v.push(Scenario {
            kind: "ca-file-without-certificate".into(),
            name: name.into(),
            chain: vec![ok_leaf.clone()],
            trusted: vec![],
            ca_text: Some(text),
            host: HOST.into(),
        });
    }
    v
}
