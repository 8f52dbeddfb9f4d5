//! Certificate facts, decoded once with `x509-parser` into plain data the rest of the
//! tool works with. `CertInfo` is what every module sees of a certificate.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// A decoded certificate. Cheap to clone; keeps its DER.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// RFC 4514-style distinguished name, most significant RDN first (`CN=x, O=y` order as
    /// OpenSSL prints with `-nameopt RFC2253` reversed: we print in certificate order).
    pub subject: String,
    pub issuer: String,
    /// The subject's CN values (for name checks and short labels).
    pub subject_cn: Vec<String>,
    /// DER of the subject Name (SEQUENCE), byte for byte.
    #[serde(skip)]
    pub subject_der: Vec<u8>,
    #[serde(skip)]
    pub issuer_der: Vec<u8>,
    /// Serial number, lowercase hex, as encoded (may have a leading 00).
    pub serial: String,
    pub serial_negative: bool,
    pub version: u32,
    /// Validity as Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
    /// True when a subjectAltName extension is present (even if it has no DNS names).
    pub has_san_ext: bool,
    /// basicConstraints: None when absent.
    pub basic_constraints: Option<BasicConstraintsInfo>,
    /// keyUsage bits by name (`digitalSignature`, `keyCertSign`, …); None when absent.
    pub key_usage: Option<Vec<String>>,
    pub key_usage_critical: bool,
    /// extendedKeyUsage OIDs/names (`serverAuth`, `clientAuth`, `any`, or dotted OIDs).
    pub ext_key_usage: Option<Vec<String>>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    /// caIssuers URLs from the AIA extension.
    pub aia_ca_issuers: Vec<String>,
    pub ocsp_urls: Vec<String>,
    /// Critical extensions this tool does not know (OIDs).
    pub unknown_critical_extensions: Vec<String>,
    /// Name constraints, if present.
    pub name_constraints: Option<NameConstraintsInfo>,
    /// "RSA 2048", "ECDSA P-256", "Ed25519", …
    pub key: String,
    pub key_algorithm: KeyAlgorithm,
    /// Key size in bits (RSA modulus, EC field size).
    pub key_bits: u32,
    /// Signature algorithm as OpenSSL names it (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`).
    pub signature: String,
    /// Hash inside the signature algorithm ("SHA256", "SHA1", "MD5", …).
    pub signature_hash: String,
    /// subject == issuer (byte-wise on the DER names).
    pub self_issued: bool,
    /// self-issued and the signature verifies with its own key.
    pub self_signed: bool,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    #[serde(skip)]
    pub der: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BasicConstraintsInfo {
    pub ca: bool,
    pub path_len: Option<u32>,
    pub critical: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct NameConstraintsInfo {
    pub critical: bool,
    /// Each entry: ("dns"|"ip"|"email"|"uri"|"dn"|"other", value)
    pub permitted: Vec<(String, String)>,
    pub excluded: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    Rsa,
    Ec,
    Ed25519,
    Ed448,
    Dsa,
    Other,
}

/// An error decoding a certificate.
#[derive(Debug, Clone)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// x509-parser's error in the user's terms: where the data stopped making sense, never the
/// parser's internals (`Parsing Error: NomError(Eof)`).
fn parse_failure(e: x509_parser::nom::Err<x509_parser::error::X509Error>) -> String {
    use x509_parser::error::X509Error;
    let e = X509Error::from(e);
    let dbg = format!("{e:?}");
    if dbg.contains("Incomplete") || dbg.contains("Eof") {
        return "the data ends before the certificate does (truncated?)".into();
    }
    match e {
        X509Error::Der(_) | X509Error::NomError(_) | X509Error::Generic => {
            "malformed DER (not the structure of a certificate)".into()
        }
        // The remaining variants name the field ("invalid serial", "invalid date", …).
        other => format!("{other}"),
    }
}

impl CertInfo {
    /// Decode one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertInfo, ParseError> {
        Self::from_der_opts(der, true)
    }

    /// Decode one DER certificate. With `check_self_signature` false the (costly) signature
    /// check of self-issued certificates is skipped and `self_signed` is presumed equal to
    /// `self_issued` (trust-store listings of hundreds of roots; see `trust::Loader`).
    pub fn from_der_opts(der: &[u8], check_self_signature: bool) -> Result<CertInfo, ParseError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| ParseError(format!("not a valid X.509 certificate: {}", parse_failure(e))))?;
        let used = der.len() - rest.len();
        let der = &der[..used];
        let tbs = &cert.tbs_certificate;

        let subject_der = tbs.subject.as_raw().to_vec();
        let issuer_der = tbs.issuer.as_raw().to_vec();
        let subject_cn = tbs
            .subject
            .iter_common_name()
            .filter_map(|a| attr_string(a.attr_value()))
            .collect();

        let mut info = CertInfo {
            subject: name_to_string(&tbs.subject),
            issuer: name_to_string(&tbs.issuer),
            subject_cn,
            self_issued: subject_der == issuer_der,
            subject_der,
            issuer_der,
            serial: hex::encode(tbs.raw_serial()),
            serial_negative: tbs.raw_serial().first().is_some_and(|b| b & 0x80 != 0),
            version: tbs.version().0 + 1,
            not_before: tbs.validity.not_before.timestamp(),
            not_after: tbs.validity.not_after.timestamp(),
            dns_names: vec![],
            ip_addresses: vec![],
            email_addresses: vec![],
            uris: vec![],
            has_san_ext: false,
            basic_constraints: None,
            key_usage: None,
            key_usage_critical: false,
            ext_key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
            aia_ca_issuers: vec![],
            ocsp_urls: vec![],
            unknown_critical_extensions: vec![],
            name_constraints: None,
            key: String::new(),
            key_algorithm: KeyAlgorithm::Other,
            key_bits: 0,
            signature: sig_alg_name(&cert.signature_algorithm.algorithm.to_id_string()),
            signature_hash: String::new(),
            self_signed: false,
            sha256: sha256_hex(der),
            der: der.to_vec(),
        };
        info.signature_hash = sig_hash(&info.signature).to_string();

        let (alg, bits, label) = key_desc(tbs.public_key());
        info.key_algorithm = alg;
        info.key_bits = bits;
        info.key = label;

        for ext in tbs.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    info.has_san_ext = true;
                    for gn in &san.general_names {
                        match gn {
                            GeneralName::DNSName(d) => info.dns_names.push(d.to_string()),
                            GeneralName::IPAddress(b) => info.ip_addresses.push(ip_string(b)),
                            GeneralName::RFC822Name(e) => info.email_addresses.push(e.to_string()),
                            GeneralName::URI(u) => info.uris.push(u.to_string()),
                            _ => {}
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) => {
                    info.basic_constraints = Some(BasicConstraintsInfo {
                        ca: bc.ca,
                        path_len: bc.path_len_constraint,
                        critical: ext.critical,
                    })
                }
                ParsedExtension::KeyUsage(ku) => {
                    info.key_usage_critical = ext.critical;
                    info.key_usage = Some(key_usage_names(ku));
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut v = Vec::new();
                    if eku.any {
                        v.push("any".to_string());
                    }
                    if eku.server_auth {
                        v.push("serverAuth".into());
                    }
                    if eku.client_auth {
                        v.push("clientAuth".into());
                    }
                    if eku.code_signing {
                        v.push("codeSigning".into());
                    }
                    if eku.email_protection {
                        v.push("emailProtection".into());
                    }
                    if eku.time_stamping {
                        v.push("timeStamping".into());
                    }
                    if eku.ocsp_signing {
                        v.push("OCSPSigning".into());
                    }
                    for o in &eku.other {
                        v.push(o.to_id_string());
                    }
                    info.ext_key_usage = Some(v);
                }
                ParsedExtension::SubjectKeyIdentifier(k) => info.subject_key_id = Some(hex::encode(k.0)),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    info.authority_key_id = aki.key_identifier.as_ref().map(|k| hex::encode(k.0))
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    for ad in &aia.accessdescs {
                        if let GeneralName::URI(u) = &ad.access_location {
                            let oid = ad.access_method.to_id_string();
                            if oid == "1.3.6.1.5.5.7.48.2" {
                                info.aia_ca_issuers.push(u.to_string());
                            } else if oid == "1.3.6.1.5.5.7.48.1" {
                                info.ocsp_urls.push(u.to_string());
                            }
                        }
                    }
                }
                ParsedExtension::NameConstraints(nc) => {
                    let conv = |subs: &Option<Vec<GeneralSubtree>>| -> Vec<(String, String)> {
                        subs.iter()
                            .flatten()
                            .map(|s| general_name_pair(&s.base))
                            .collect()
                    };
                    info.name_constraints = Some(NameConstraintsInfo {
                        critical: ext.critical,
                        permitted: conv(&nc.permitted_subtrees),
                        excluded: conv(&nc.excluded_subtrees),
                    });
                }
                ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. }
                    if ext.critical =>
                {
                    info.unknown_critical_extensions.push(ext.oid.to_id_string())
                }
                _ => {}
            }
        }

        if info.self_issued {
            info.self_signed = !check_self_signature || cert.verify_signature(None).is_ok();
        }
        Ok(info)
    }

    /// The name to show for this certificate in one line: the CN, else the whole subject.
    pub fn short_name(&self) -> String {
        self.subject_cn.first().cloned().unwrap_or_else(|| {
            if self.subject.is_empty() {
                "(empty subject)".into()
            } else {
                self.subject.clone()
            }
        })
    }

    pub fn is_ca(&self) -> bool {
        self.basic_constraints.as_ref().is_some_and(|b| b.ca)
    }

    pub fn has_key_usage(&self, name: &str) -> bool {
        self.key_usage
            .as_ref()
            .is_some_and(|k| k.iter().any(|n| n == name))
    }

    /// The PEM encoding.
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// Validity formatted as RFC 3339 (UTC).
    pub fn not_before_rfc3339(&self) -> String {
        rfc3339(self.not_before)
    }

    pub fn not_after_rfc3339(&self) -> String {
        rfc3339(self.not_after)
    }
}

/// Format Unix seconds as RFC 3339 UTC (`2026-11-21T23:08:33Z`).
pub fn rfc3339(t: i64) -> String {
    match ::time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => dt
            .format(&::time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string()),
        Err(_) => t.to_string(),
    }
}

/// PEM-encode DER with the given label, 64 columns.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn attr_string(v: &der_parser::asn1_rs::Any) -> Option<String> {
    use der_parser::asn1_rs::Tag;
    let data = v.data;
    match v.tag() {
        Tag::BmpString => {
            let u: Vec<u16> = data
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&u))
        }
        Tag::UniversalString => Some(
            data.chunks(4)
                .filter(|c| c.len() == 4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}'))
                .collect(),
        ),
        _ => Some(String::from_utf8_lossy(data).into_owned()),
    }
}

fn attr_short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "2.5.4.5" => "serialNumber",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "2.5.4.42" => "GN",
        "2.5.4.4" => "SN",
        "2.5.4.12" => "title",
        "2.5.4.97" => "organizationIdentifier",
        _ => return oid.to_string(),
    }
    .to_string()
}

/// `CN=leaf, O=Example` — RDNs in certificate order, multi-valued RDNs joined with `+`.
pub fn name_to_string(name: &X509Name) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter_rdn() {
        let mut vals = Vec::new();
        for atv in rdn.iter() {
            let key = attr_short_name(&atv.attr_type().to_id_string());
            let val = attr_string(atv.attr_value()).unwrap_or_default();
            vals.push(format!("{key}={}", escape_dn_value(&val)));
        }
        parts.push(vals.join("+"));
    }
    parts.join(", ")
}

fn escape_dn_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn ip_string(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        8 => {
            // An IPv4 constraint: address + mask
            format!(
                "{}/{}",
                std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7])
            )
        }
        32 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            let mut m = [0u8; 16];
            m.copy_from_slice(&b[16..]);
            format!("{}/{}", std::net::Ipv6Addr::from(a), std::net::Ipv6Addr::from(m))
        }
        _ => hex::encode(b),
    }
}

fn general_name_pair(gn: &GeneralName) -> (String, String) {
    match gn {
        GeneralName::DNSName(d) => ("dns".into(), d.to_string()),
        GeneralName::IPAddress(b) => ("ip".into(), ip_string(b)),
        GeneralName::RFC822Name(e) => ("email".into(), e.to_string()),
        GeneralName::URI(u) => ("uri".into(), u.to_string()),
        GeneralName::DirectoryName(n) => ("dn".into(), name_to_string(n)),
        other => ("other".into(), format!("{other:?}")),
    }
}

fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    let mut v = Vec::new();
    let pairs = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    for (on, name) in pairs {
        if on {
            v.push(name.to_string());
        }
    }
    v
}

fn key_desc(spki: &SubjectPublicKeyInfo) -> (KeyAlgorithm, u32, String) {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size() as u32,
                _ => 0,
            };
            (KeyAlgorithm::Rsa, bits, format!("RSA {bits}"))
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let (name, bits) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256", 256),
                "1.3.132.0.34" => ("P-384", 384),
                "1.3.132.0.35" => ("P-521", 521),
                "1.2.840.10045.3.1.1" => ("P-192", 192),
                "1.3.132.0.33" => ("P-224", 224),
                "1.3.132.0.10" => ("secp256k1", 256),
                _ => ("unknown curve", 0),
            };
            (KeyAlgorithm::Ec, bits, format!("ECDSA {name}"))
        }
        "1.3.101.112" => (KeyAlgorithm::Ed25519, 256, "Ed25519".into()),
        "1.3.101.113" => (KeyAlgorithm::Ed448, 456, "Ed448".into()),
        "1.2.840.10040.4.1" => {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::DSA(y)) => (y.len() as u32) * 8,
                _ => 0,
            };
            (KeyAlgorithm::Dsa, bits, format!("DSA {bits}"))
        }
        other => (KeyAlgorithm::Other, 0, format!("unknown key ({other})")),
    }
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10040.4.3" => "dsa_with_SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        other => return other.to_string(),
    }
    .to_string()
}

fn sig_hash(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    if n.contains("md5") {
        "MD5"
    } else if n.contains("sha1") {
        "SHA1"
    } else if n.contains("sha224") {
        "SHA224"
    } else if n.contains("sha256") {
        "SHA256"
    } else if n.contains("sha384") {
        "SHA384"
    } else if n.contains("sha512") {
        "SHA512"
    } else if n.contains("ed25519") || n.contains("ed448") {
        "intrinsic"
    } else {
        "unknown"
    }
}
