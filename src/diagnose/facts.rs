//! Raw facts about a certificate that path validation needs beyond [`CertInfo`]: the signed
//! bytes and signature, key identifiers in full, typed SANs and name constraints, the list
//! of extensions, and signature verification with `ring`.

use std::collections::HashMap;
use std::sync::Arc;

use x509_parser::prelude::*;

use crate::x509::CertInfo;

/// A general name, as far as path validation cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gn {
    Dns(String),
    Ip(Vec<u8>),
    Email(String),
    Uri(String),
    /// Raw DER of a directoryName.
    Dir(Vec<u8>),
    /// otherName type OID.
    Other(String),
    /// Any other kind (x400, ediParty, registeredID).
    Unsupported,
}

#[derive(Debug, Clone, Default)]
pub struct Nc {
    pub critical: bool,
    pub permitted: Vec<Gn>,
    pub excluded: Vec<Gn>,
    /// The extension was present with neither subtree (or both empty).
    pub empty: bool,
}

#[derive(Debug, Clone)]
pub struct Ext {
    pub oid: String,
    pub critical: bool,
    pub value: Vec<u8>,
    /// x509-parser could not decode the value.
    pub parse_error: bool,
}

/// Everything about one certificate, decoded once.
#[derive(Debug, Clone)]
pub struct Facts {
    pub info: Arc<CertInfo>,
    pub tbs: Vec<u8>,
    pub sig_oid: String,
    /// The algorithm inside the TBS (must equal the outer one).
    pub inner_sig_oid: String,
    pub inner_sig_params: Vec<u8>,
    pub sig_params: Vec<u8>,
    pub sig_value: Vec<u8>,
    pub spki_alg_oid: String,
    pub spki_curve_oid: Option<String>,
    pub spki_params_present: bool,
    pub spki_key: Vec<u8>,
    pub skid: Option<Vec<u8>>,
    pub akid_keyid: Option<Vec<u8>>,
    /// authorityCertIssuer directory names (raw DER).
    pub akid_issuer: Option<Vec<Vec<u8>>>,
    pub akid_serial: Option<Vec<u8>>,
    pub exts: Vec<Ext>,
    pub san: Vec<Gn>,
    pub san_ext: Option<Vec<u8>>,
    pub nc: Option<Nc>,
    /// The subject's emailAddress attributes.
    pub subject_emails: Vec<String>,
    /// Number of attributes in the subject.
    pub subject_entries: usize,
    pub serial_raw: Vec<u8>,
}

pub const OID_SAN: &str = "2.5.29.17";
pub const OID_NC: &str = "2.5.29.30";
pub const OID_AKI: &str = "2.5.29.35";
pub const OID_SKI: &str = "2.5.29.14";
pub const OID_KU: &str = "2.5.29.15";
pub const OID_BC: &str = "2.5.29.19";
pub const OID_EKU: &str = "2.5.29.37";
pub const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";

fn gn(g: &GeneralName) -> Gn {
    match g {
        GeneralName::DNSName(d) => Gn::Dns(d.to_string()),
        GeneralName::IPAddress(b) => Gn::Ip(b.to_vec()),
        GeneralName::RFC822Name(e) => Gn::Email(e.to_string()),
        GeneralName::URI(u) => Gn::Uri(u.to_string()),
        GeneralName::DirectoryName(n) => Gn::Dir(n.as_raw().to_vec()),
        GeneralName::OtherName(oid, _) => Gn::Other(oid.to_id_string()),
        _ => Gn::Unsupported,
    }
}

/// An AlgorithmIdentifier's parameters as tag byte + content (empty when absent), so the
/// outer and the TBS algorithm can be compared byte for byte.
fn alg_params(alg: &x509_parser::x509::AlgorithmIdentifier) -> Vec<u8> {
    alg.parameters
        .as_ref()
        .map(|p| {
            let mut v = vec![p.tag().0 as u8];
            v.extend_from_slice(p.data);
            v
        })
        .unwrap_or_default()
}

impl Facts {
    pub fn new(info: Arc<CertInfo>) -> Facts {
        let mut f = Facts {
            info: info.clone(),
            tbs: vec![],
            sig_oid: String::new(),
            inner_sig_oid: String::new(),
            inner_sig_params: vec![],
            sig_params: vec![],
            sig_value: vec![],
            spki_alg_oid: String::new(),
            spki_curve_oid: None,
            spki_params_present: false,
            spki_key: vec![],
            skid: None,
            akid_keyid: None,
            akid_issuer: None,
            akid_serial: None,
            exts: vec![],
            san: vec![],
            san_ext: None,
            nc: None,
            subject_emails: vec![],
            subject_entries: 0,
            serial_raw: vec![],
        };
        let Ok((_, cert)) = X509Certificate::from_der(&info.der) else {
            return f;
        };
        let tbs = &cert.tbs_certificate;
        f.tbs = tbs.as_ref().to_vec();
        f.sig_oid = cert.signature_algorithm.algorithm.to_id_string();
        f.sig_params = alg_params(&cert.signature_algorithm);
        f.inner_sig_oid = tbs.signature.algorithm.to_id_string();
        f.inner_sig_params = alg_params(&tbs.signature);
        f.sig_value = cert.signature_value.data.to_vec();
        let spki = tbs.public_key();
        f.spki_alg_oid = spki.algorithm.algorithm.to_id_string();
        f.spki_params_present = spki.algorithm.parameters.is_some();
        f.spki_curve_oid = spki
            .algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag().0 == 6)
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        f.spki_key = spki.subject_public_key.data.to_vec();
        f.serial_raw = tbs.raw_serial().to_vec();
        for rdn in tbs.subject.iter_rdn() {
            for atv in rdn.iter() {
                f.subject_entries += 1;
                if atv.attr_type().to_id_string() == "1.2.840.113549.1.9.1" {
                    f.subject_emails
                        .push(String::from_utf8_lossy(atv.attr_value().data).into_owned());
                }
            }
        }
        for ext in tbs.extensions() {
            let oid = ext.oid.to_id_string();
            let parse_error = matches!(ext.parsed_extension(), ParsedExtension::ParseError { .. });
            f.exts.push(Ext {
                oid: oid.clone(),
                critical: ext.critical,
                value: ext.value.to_vec(),
                parse_error,
            });
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => f.skid = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    f.akid_keyid = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                    f.akid_serial = a.authority_cert_serial.map(|s| s.to_vec());
                    f.akid_issuer = a.authority_cert_issuer.as_ref().map(|v| {
                        v.iter()
                            .filter_map(|g| match g {
                                GeneralName::DirectoryName(n) => Some(n.as_raw().to_vec()),
                                _ => None,
                            })
                            .collect()
                    });
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    f.san = san.general_names.iter().map(gn).collect();
                    f.san_ext = Some(ext.value.to_vec());
                }
                ParsedExtension::NameConstraints(nc) => {
                    let conv = |s: &Option<Vec<GeneralSubtree>>| -> Vec<Gn> {
                        s.iter().flatten().map(|t| gn(&t.base)).collect()
                    };
                    let permitted = conv(&nc.permitted_subtrees);
                    let excluded = conv(&nc.excluded_subtrees);
                    f.nc = Some(Nc {
                        critical: ext.critical,
                        empty: permitted.is_empty() && excluded.is_empty(),
                        permitted,
                        excluded,
                    });
                }
                _ => {}
            }
            if oid == OID_SAN && f.san_ext.is_none() {
                f.san_ext = Some(ext.value.to_vec());
            }
        }
        f
    }

    pub fn has_ext(&self, oid: &str) -> bool {
        self.exts.iter().any(|e| e.oid == oid)
    }

    pub fn dns_sans(&self) -> impl Iterator<Item = &str> {
        self.san.iter().filter_map(|g| match g {
            Gn::Dns(d) => Some(d.as_str()),
            _ => None,
        })
    }

    pub fn ip_sans(&self) -> impl Iterator<Item = &[u8]> {
        self.san.iter().filter_map(|g| match g {
            Gn::Ip(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    /// Hash bits of the signature algorithm, if known (for security levels).
    pub fn sig_hash_bits(&self) -> Option<u32> {
        match self.info.signature_hash.as_str() {
            "MD5" => Some(128),
            "SHA1" => Some(160),
            "SHA224" => Some(224),
            "SHA256" => Some(256),
            "SHA384" => Some(384),
            "SHA512" => Some(512),
            _ => None,
        }
    }
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigCheck {
    Valid,
    Invalid,
    /// The combination cannot be checked here (DSA, P-521, SHA-1 ECDSA …).
    Unsupported,
    /// The signature algorithm does not fit the issuer's key type.
    KeyMismatch,
}

/// Which kind of key a signature algorithm needs.
pub fn sig_key_kind(sig_oid: &str) -> Option<&'static str> {
    Some(match sig_oid {
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.113549.1.1.12"
        | "1.2.840.113549.1.1.13"
        | "1.2.840.113549.1.1.14"
        | "1.3.14.3.2.29"
        | "1.2.840.113549.1.1.10" => "rsa",
        "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.1"
        | "1.2.840.10045.4.3.2"
        | "1.2.840.10045.4.3.3"
        | "1.2.840.10045.4.3.4" => "ec",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        "1.2.840.10040.4.3" | "2.16.840.1.101.3.4.3.1" | "2.16.840.1.101.3.4.3.2" => "dsa",
        _ => return None,
    })
}

pub fn key_kind(spki_oid: &str) -> &'static str {
    match spki_oid {
        // rsaEncryption, id-RSASSA-PSS, id-ea-rsa: the same RSAPublicKey.
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" | "2.5.8.1.1" => "rsa",
        "1.2.840.10045.2.1" => "ec",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        "1.2.840.10040.4.1" => "dsa",
        _ => "other",
    }
}

/// Hash named in RSASSA-PSS parameters (default SHA-1).
fn pss_hash(params: &[u8]) -> &'static str {
    // Look for the hash OID bytes inside the parameters.
    const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    let has = |n: &[u8]| params.windows(n.len()).any(|w| w == n);
    if has(SHA256) {
        "SHA256"
    } else if has(SHA384) {
        "SHA384"
    } else if has(SHA512) {
        "SHA512"
    } else {
        "SHA1"
    }
}

/// Verify `child`'s signature with `issuer`'s key.
pub fn verify_sig(child: &Facts, issuer: &Facts) -> SigCheck {
    use ring::signature as s;
    let Some(need) = sig_key_kind(&child.sig_oid) else {
        return SigCheck::Unsupported;
    };
    let have = key_kind(&issuer.spki_alg_oid);
    if need != have {
        return SigCheck::KeyMismatch;
    }
    let alg: &dyn s::VerificationAlgorithm = match child.sig_oid.as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => &s::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "1.2.840.113549.1.1.11" => &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        "1.2.840.113549.1.1.12" => &s::RSA_PKCS1_2048_8192_SHA384,
        "1.2.840.113549.1.1.13" => &s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        "1.2.840.113549.1.1.10" => match pss_hash(&child.sig_params) {
            "SHA256" => &s::RSA_PSS_2048_8192_SHA256,
            "SHA384" => &s::RSA_PSS_2048_8192_SHA384,
            "SHA512" => &s::RSA_PSS_2048_8192_SHA512,
            _ => return SigCheck::Unsupported,
        },
        "1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3" => {
            let sha384 = child.sig_oid.ends_with(".3");
            match (issuer.spki_curve_oid.as_deref(), sha384) {
                (Some("1.2.840.10045.3.1.7"), false) => &s::ECDSA_P256_SHA256_ASN1,
                (Some("1.2.840.10045.3.1.7"), true) => &s::ECDSA_P256_SHA384_ASN1,
                (Some("1.3.132.0.34"), false) => &s::ECDSA_P384_SHA256_ASN1,
                (Some("1.3.132.0.34"), true) => &s::ECDSA_P384_SHA384_ASN1,
                _ => return SigCheck::Unsupported,
            }
        }
        "1.3.101.112" => &s::ED25519,
        _ => return SigCheck::Unsupported,
    };
    if issuer.info.key_algorithm == crate::x509::KeyAlgorithm::Rsa && issuer.info.key_bits < 1024 {
        return SigCheck::Unsupported;
    }
    // ring takes only uncompressed EC points (04 || X || Y).
    if have == "ec" && issuer.spki_key.first() != Some(&4) {
        return SigCheck::Unsupported;
    }
    // The answer depends on these bytes alone: remembered for the whole process, so the
    // same certificate under the same issuer (every target of a `check` behind one CA,
    // each runtime's model, the issuer evidence) costs one public-key operation.
    let memo = sig_memo_key(&[
        child.sig_oid.as_bytes(),
        &child.sig_params,
        issuer.spki_curve_oid.as_deref().unwrap_or_default().as_bytes(),
        &issuer.spki_key,
        &child.tbs,
        &child.sig_value,
    ]);
    if let Some(valid) = sig_memo().lock().ok().and_then(|m| m.get(&memo).copied()) {
        return if valid { SigCheck::Valid } else { SigCheck::Invalid };
    }
    let key = s::UnparsedPublicKey::new(alg, &issuer.spki_key);
    let valid = key.verify(&child.tbs, &child.sig_value).is_ok();
    if let Ok(mut m) = sig_memo().lock() {
        if m.len() >= SIG_MEMO_MAX {
            m.clear();
        }
        m.insert(memo, valid);
    }
    if valid {
        SigCheck::Valid
    } else {
        SigCheck::Invalid
    }
}

/// What is derived from a decoded certificate alone, remembered per decoded certificate
/// (the same `Arc<CertInfo>`, which is what the process's decoded-certificate cache and a
/// run's stores hand out): every target of a `check` presenting the same chain under the
/// same stores derives it once, not once per target and runtime. Keyed by the allocation,
/// which the entry keeps alive, so an address is never reused while it is remembered.
type PerCert<T> = std::sync::Mutex<HashMap<usize, (Arc<CertInfo>, Arc<T>)>>;

fn per_cert<T>(
    memo: &'static std::sync::OnceLock<PerCert<T>>,
    info: &Arc<CertInfo>,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    let memo = || {
        memo.get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    };
    let key = Arc::as_ptr(info) as usize;
    if let Some((_, v)) = memo().get(&key) {
        return v.clone();
    }
    let v = Arc::new(make());
    let mut m = memo();
    if m.len() >= PER_CERT_MAX {
        m.clear();
    }
    m.insert(key, (info.clone(), v.clone()));
    v
}

/// Certificates whose derived values are remembered at most (then forgotten all at once).
const PER_CERT_MAX: usize = 1024;

fn shared_facts(info: &Arc<CertInfo>) -> Arc<Facts> {
    static MEMO: std::sync::OnceLock<PerCert<Facts>> = std::sync::OnceLock::new();
    per_cert(&MEMO, info, || Facts::new(info.clone()))
}

fn shared_canon(info: &Arc<CertInfo>) -> Arc<CanonNames> {
    static MEMO: std::sync::OnceLock<PerCert<CanonNames>> = std::sync::OnceLock::new();
    per_cert(&MEMO, info, || {
        (
            crate::diagnose::canon_name(&info.subject_der),
            crate::diagnose::canon_name(&info.issuer_der),
        )
    })
}

/// Signature checks remembered at most (then forgotten all at once): 64 KiB of keys.
const SIG_MEMO_MAX: usize = 2048;

fn sig_memo() -> &'static std::sync::Mutex<HashMap<[u8; 32], bool>> {
    static MEMO: std::sync::OnceLock<std::sync::Mutex<HashMap<[u8; 32], bool>>> = std::sync::OnceLock::new();
    MEMO.get_or_init(Default::default)
}

/// SHA-256 over the length-prefixed parts: what a signature check depends on.
fn sig_memo_key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        h.update(&(p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}

/// OpenSSL canonical forms of (subject, issuer); None when a name cannot be canonicalised.
type CanonNames = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A certificate as a key by its DER, without copying it. Hashed by the start of its
/// SHA-256 (a function of the DER: equal DER, equal hash), compared by the whole DER.
struct DerKey(Arc<CertInfo>);

impl std::hash::Hash for DerKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let d = self.0.sha256.as_bytes();
        d[..d.len().min(16)].hash(h)
    }
}

impl PartialEq for DerKey {
    fn eq(&self, other: &DerKey) -> bool {
        self.0.der == other.0.der
    }
}

impl Eq for DerKey {}

/// An arena of certificates with cached signature checks. A certificate's [`Facts`] (a
/// second, lower-level parse) are built the first time they are asked for: a store of
/// hundreds of anchors costs only the few that a path search looks at.
pub struct Arena {
    infos: Vec<Arc<CertInfo>>,
    facts: Vec<std::cell::OnceCell<Arc<Facts>>>,
    /// OpenSSL canonical (subject, issuer) names, computed when first compared.
    canon: Vec<std::cell::OnceCell<Arc<CanonNames>>>,
    by_der: crate::trust::fasthash::FastMap<DerKey, usize>,
    sigs: std::cell::RefCell<HashMap<(usize, usize), SigCheck>>,
}

impl Arena {
    pub fn new() -> Arena {
        Arena {
            infos: vec![],
            facts: vec![],
            canon: vec![],
            by_der: Default::default(),
            sigs: Default::default(),
        }
    }

    /// Add (or find, by DER) a certificate; returns its index.
    pub fn add(&mut self, info: &Arc<CertInfo>) -> usize {
        let key = DerKey(info.clone());
        if let Some(&i) = self.by_der.get(&key) {
            return i;
        }
        let i = self.infos.len();
        self.infos.push(info.clone());
        self.facts.push(std::cell::OnceCell::new());
        self.canon.push(std::cell::OnceCell::new());
        self.by_der.insert(key, i);
        i
    }

    /// The decoded certificate (cheap: no facts are built).
    pub fn info(&self, i: usize) -> &Arc<CertInfo> {
        &self.infos[i]
    }

    pub fn get(&self, i: usize) -> &Facts {
        self.facts[i].get_or_init(|| shared_facts(&self.infos[i]))
    }

    /// `X509_NAME_cmp(issuer's subject, subject's issuer) == 0`, on canonical forms (raw
    /// DER when a name cannot be canonicalised).
    pub fn names_match(&self, issuer: usize, subject: usize) -> bool {
        let canon = |i: usize| self.canon[i].get_or_init(|| shared_canon(&self.infos[i]));
        match (&canon(issuer).0, &canon(subject).1) {
            (Some(x), Some(y)) => x == y,
            _ => self.infos[issuer].subject_der == self.infos[subject].issuer_der,
        }
    }

    /// Does `issuer` sign `child`? Cached.
    pub fn sig(&self, child: usize, issuer: usize) -> SigCheck {
        if let Some(s) = self.sigs.borrow().get(&(child, issuer)) {
            return *s;
        }
        let r = verify_sig(self.get(child), self.get(issuer));
        self.sigs.borrow_mut().insert((child, issuer), r);
        r
    }
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Facts, Facts) {
        let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
        ca.distinguished_name.push(rcgen::DnType::CommonName, "memo CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["memo.test".to_string()]).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
        let facts = |der: &[u8]| Facts::new(Arc::new(CertInfo::from_der(der).unwrap()));
        (facts(leaf_cert.der()), facts(ca_cert.der()))
    }

    #[test]
    fn remembered_signature_checks_give_the_same_answers() {
        let (leaf, ca) = pair();
        let (_, other_ca) = pair();
        for _ in 0..2 {
            assert_eq!(verify_sig(&leaf, &ca), SigCheck::Valid);
            assert_eq!(verify_sig(&leaf, &other_ca), SigCheck::Invalid);
        }
        // One byte of the signed part changed: a different question, a different answer.
        let mut forged = leaf.clone();
        let last = forged.tbs.len() - 1;
        forged.tbs[last] ^= 1;
        for _ in 0..2 {
            assert_eq!(verify_sig(&forged, &ca), SigCheck::Invalid);
        }
        assert_eq!(verify_sig(&leaf, &ca), SigCheck::Valid);
    }

    #[test]
    fn arenas_share_derived_values_per_decoded_certificate_and_dedupe_by_der() {
        let (leaf, ca) = pair();
        // Another decoding of the same DER: its own allocation, the same certificate.
        let again = Arc::new(CertInfo::from_der(&leaf.info.der).unwrap());
        let mut a = Arena::new();
        let (l, c, g) = (a.add(&leaf.info), a.add(&ca.info), a.add(&again));
        assert_eq!(l, g, "the same DER is one arena entry");
        assert_ne!(l, c);
        let mut b = Arena::new();
        let (bl, bc) = (b.add(&leaf.info), b.add(&ca.info));
        // Another arena (another target) gets the very same facts, not a new parse.
        assert!(std::ptr::eq(a.get(l), b.get(bl)));
        assert!(a.names_match(c, l) && b.names_match(bc, bl));
        assert!(!a.names_match(l, c));
        // The facts are those of this certificate.
        assert_eq!(a.get(l).tbs, leaf.tbs);
        assert_eq!(b.get(bc).tbs, ca.tbs);
    }
}
