//! Go `crypto/x509` (Go 1.19, `verify.go`, `parser.go`, `cert_pool.go`) as a `crypto/tls`
//! client calls it: `Verify(VerifyOptions{Roots, Intermediates, DNSName, CurrentTime})`.
//!
//! Order (verify.go `Verify`): the leaf's own validity (`isValid`), then the host name,
//! then `buildChains` (every certificate in the roots is an anchor; candidates found by
//! raw issuer name with the AKI/SKI hint only ordering them; depth-first with
//! backtracking; the first candidate error either becomes the `(possibly because of …)`
//! hint — signature errors — or the error itself — `isValid` errors), then the EKU check.

use super::cause::Cause;
use super::facts::{Arena, Facts, Gn, SigCheck, OID_AIA, OID_NC, OID_SAN};
use super::name;

/// One Go error, with the cause it maps to and the certificate concerned (arena index).
#[derive(Debug, Clone)]
pub struct GoErr {
    pub msg: String,
    pub cause: Cause,
    pub cert: Option<usize>,
    /// An `UnknownAuthorityError`: `cert` is the certificate whose issuer was not found.
    pub unknown: bool,
    /// The `(possibly because of …)` hint's cause, when there is one.
    pub hint_cause: Option<Cause>,
    /// The candidate issuer the hint is about.
    pub hint_cert: Option<usize>,
}

impl GoErr {
    fn new(msg: impl Into<String>, cause: Cause, cert: Option<usize>) -> GoErr {
        GoErr {
            msg: msg.into(),
            cause,
            cert,
            unknown: false,
            hint_cause: None,
            hint_cert: None,
        }
    }
}

/// The result of a Go verification.
#[derive(Debug, Clone, Default)]
pub struct GoOutcome {
    /// The chain Go returned first (arena indices, leaf first), when it verified.
    pub chain: Option<Vec<usize>>,
    /// The error `Verify` returned.
    pub error: Option<GoErr>,
    /// Every independent problem (leaf validity, name, chain), for `causes`.
    pub all: Vec<GoErr>,
    /// The longest partial chain seen (for showing where it broke).
    pub partial: Vec<usize>,
}

/// Go's `SignatureAlgorithm.String()`.
fn sig_alg_string(f: &Facts) -> String {
    match f.sig_oid.as_str() {
        "1.2.840.113549.1.1.2" => "MD2-RSA".into(),
        "1.2.840.113549.1.1.4" => "MD5-RSA".into(),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "SHA1-RSA".into(),
        "1.2.840.113549.1.1.11" => "SHA256-RSA".into(),
        "1.2.840.113549.1.1.12" => "SHA384-RSA".into(),
        "1.2.840.113549.1.1.13" => "SHA512-RSA".into(),
        "1.2.840.10040.4.3" => "DSA-SHA1".into(),
        "2.16.840.1.101.3.4.3.2" => "DSA-SHA256".into(),
        "1.2.840.10045.4.1" => "ECDSA-SHA1".into(),
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384".into(),
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.2.840.113549.1.1.10" => match pss_hash(&f.sig_params) {
            Some(256) => "SHA256-RSAPSS".into(),
            Some(384) => "SHA384-RSAPSS".into(),
            Some(512) => "SHA512-RSAPSS".into(),
            _ => "0".into(),
        },
        _ => "0".into(),
    }
}

/// Known to Go's signatureAlgorithmDetails? (An RSASSA-PSS identifier counts only with
/// the parameters `getSignatureAlgorithmFromAI` accepts.)
fn sig_alg_known(f: &Facts) -> bool {
    sig_alg_string(f) != "0"
}

/// The SHA-2 size of RSASSA-PSS parameters as Go's `getSignatureAlgorithmFromAI` reads
/// them (parser.go): hash and MGF1 present (no defaults), MGF1 over the same hash, NULL or
/// absent hash parameters, the salt as long as the hash, trailer 1. None: Go does not know
/// the algorithm (`UnknownSignatureAlgorithm`) — RSASSA-PSS with SHA-1 among them.
/// `params` is the tag number followed by the content, as [`Facts::sig_params`] holds it.
fn pss_hash(params: &[u8]) -> Option<u32> {
    // SEQUENCE: universal tag number 16.
    if params.first() != Some(&16) {
        return None;
    }
    // Hand-walked DER (why: four fixed fields; a generic decoder's view of EXPLICIT
    // context tags would obscure the exact checks Go makes).
    let fields = tlvs(&params[1..])?;
    let field = |tag: u8| -> Option<&[u8]> {
        let (_, body) = fields.iter().find(|(t, _)| *t == tag)?;
        match tlvs(body)?.as_slice() {
            [(_, inner)] => Some(*inner),
            _ => None,
        }
    };
    // AlgorithmIdentifier body → (OID bytes, parameters absent or NULL)
    let alg = |body: &[u8]| -> Option<(Vec<u8>, bool)> {
        let parts = tlvs(body)?;
        let (t, oid) = parts.first()?;
        if *t != 0x06 {
            return None;
        }
        let ok = match parts.get(1) {
            None => true,
            Some((t, b)) => *t == 0x05 && b.is_empty(),
        };
        Some((oid.to_vec(), ok))
    };
    let (hash, hash_ok) = alg(field(0xa0)?)?;
    let mgf = tlvs(field(0xa1)?)?;
    let (t, mgf_oid) = mgf.first()?;
    const MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
    let (t2, mgf_hash_body) = mgf.get(1)?;
    if *t != 0x06 || *mgf_oid != MGF1 || *t2 != 0x30 {
        return None;
    }
    let (mgf_hash, mgf_ok) = alg(mgf_hash_body)?;
    let int = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 8 || b[0] & 0x80 != 0 {
            return None;
        }
        Some(b.iter().fold(0u64, |a, &x| a << 8 | x as u64))
    };
    let salt = int(field(0xa2)?)?;
    let trailer = match fields.iter().any(|(t, _)| *t == 0xa3) {
        false => 1,
        true => int(field(0xa3)?)?,
    };
    if !hash_ok || !mgf_ok || mgf_hash != hash || trailer != 1 {
        return None;
    }
    const SHA2: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    match (hash.split_last()?, salt) {
        ((1, head), 32) if head == SHA2 => Some(256),
        ((2, head), 48) if head == SHA2 => Some(384),
        ((3, head), 64) if head == SHA2 => Some(512),
        _ => None,
    }
}

/// The (tag, content) elements of a DER concatenation; None when malformed.
fn tlvs(mut b: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = vec![];
    while !b.is_empty() {
        let tag = b[0];
        let first = *b.get(1)?;
        let (hl, len) = if first < 0x80 {
            (2, first as usize)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 3 || b.len() < 2 + n {
                return None;
            }
            (
                2 + n,
                b[2..2 + n].iter().fold(0usize, |a, &x| a << 8 | x as usize),
            )
        };
        let body = b.get(hl..hl + len)?;
        out.push((tag, body));
        b = &b[hl + len..];
    }
    Some(out)
}

/// The type of `Certificate.PublicKey` after `x509.ParseCertificate` (parser.go
/// `parsePublicKey`): decided by the SubjectPublicKeyInfo algorithm OID alone. Every
/// other algorithm — id-RSASSA-PSS, id-ea-rsa (2.5.8.1.1), X25519, X448, Ed448 — parses
/// as `UnknownPublicKeyAlgorithm` with a nil key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoKey {
    Rsa,
    Ecdsa,
    Ed25519,
    Dsa,
    Nil,
}

pub fn go_key(f: &Facts) -> GoKey {
    match f.spki_alg_oid.as_str() {
        "1.2.840.113549.1.1.1" => GoKey::Rsa,
        "1.2.840.10045.2.1" => GoKey::Ecdsa,
        "1.3.101.112" => GoKey::Ed25519,
        "1.2.840.10040.4.1" => GoKey::Dsa,
        _ => GoKey::Nil,
    }
}

impl GoKey {
    /// `%T` of the key, as crypto/tls prints it.
    pub fn type_name(self) -> &'static str {
        match self {
            GoKey::Rsa => "*rsa.PublicKey",
            GoKey::Ecdsa => "*ecdsa.PublicKey",
            GoKey::Ed25519 => "ed25519.PublicKey",
            GoKey::Dsa => "*dsa.PublicKey",
            GoKey::Nil => "<nil>",
        }
    }
}

/// The version-dependent behaviours of crypto/tls + crypto/x509, read once from a
/// [`Profile`](crate::profiles::Profile)'s rows (the engine's hot loops test plain fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoRules {
    /// A candidate issuer with a nil key (an algorithm Go does not parse) named like a
    /// certificate already in the chain makes `alreadyInChain` panic (CVE-2024-24783,
    /// fixed in 1.21.8 / 1.22.1); later versions skip such candidates altogether.
    pub nil_key_candidate_panics: bool,
    /// crypto/tls wraps Verify's error in `tls: failed to verify certificate: ` (1.20+).
    pub wraps_verify_error: bool,
    /// Name constraints apply to the SANs of every certificate in the chain so far.
    pub nc_whole_chain: bool,
    /// SHA-1 / MD5 signatures are refused.
    pub sha1_rejected: bool,
    /// … with `(temporarily override with GODEBUG=x509sha1=1)`.
    pub sha1_hint: bool,
    pub negative_serial_rejected: bool,
    /// AKI, SKI, AIA marked critical fail parsing.
    pub critical_key_ids_rejected: bool,
    pub duplicate_extension_oid: bool,
    /// `domainToReverseLabels` keeps a leading empty label.
    pub leading_period_label: bool,
    pub bare_wildcard_invalid: bool,
    /// RSA keys under 1024 bits fail every signature check.
    pub rsa_min_1024: bool,
}

impl GoRules {
    /// The rules of a profile.
    pub fn of(p: &crate::profiles::Profile) -> GoRules {
        use crate::profiles::Rule as R;
        GoRules {
            nil_key_candidate_panics: !p.has(R::GoNilKeyCandidateSkipped),
            wraps_verify_error: p.has(R::GoVerifyErrorPrefix),
            nc_whole_chain: p.has(R::GoNameConstraintsWholeChain),
            sha1_rejected: p.has(R::GoSha1Rejected),
            sha1_hint: p.has(R::GoSha1OverrideHint),
            negative_serial_rejected: p.has(R::GoNegativeSerialRejected),
            critical_key_ids_rejected: p.has(R::GoCriticalKeyIdsRejected),
            duplicate_extension_oid: p.has(R::GoDuplicateExtensionOid),
            leading_period_label: p.has(R::GoLeadingPeriodLabel),
            bare_wildcard_invalid: p.has(R::GoBareWildcardInvalid),
            rsa_min_1024: p.has(R::GoRsaMin1024),
        }
    }

    /// The rules of a Go version, with its default GODEBUG settings.
    pub fn version(minor: u32) -> GoRules {
        use crate::profiles::{Kind, Profile, Source, Version};
        GoRules::of(&Profile::of(Kind::Go, Version::new(1, minor, None), Source::Flag))
    }
}

/// The message a Go 1.19 program dies with in `alreadyInChain`.
pub const NIL_KEY_PANIC: &str = "panic: interface conversion: interface is nil, not x509.pubKeyEqual";

/// strconv.Quote, close enough for error texts.
pub fn go_quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `x509.ParseCertificate` errors this emulation detects (parser.go), as Go 1.19 has
/// them. None = parses.
pub fn parse_error(f: &Facts) -> Option<String> {
    parse_error_rules(f, &GoRules::version(19))
}

/// [`parse_error`] with the behaviours of a given Go version.
pub fn parse_error_rules(f: &Facts, rules: &GoRules) -> Option<String> {
    let info = &f.info;
    if f.tbs.is_empty() {
        return Some("x509: malformed certificate".into());
    }
    if rules.negative_serial_rejected && f.serial_raw.first().is_some_and(|b| b & 0x80 != 0) {
        return Some("x509: negative serial number".into());
    }
    if f.sig_oid != f.inner_sig_oid || f.sig_params != f.inner_sig_params {
        return Some("x509: inner and outer signature algorithm identifiers don't match".into());
    }
    match info.key_algorithm {
        crate::x509::KeyAlgorithm::Rsa if info.key_bits == 0 => {
            return Some("x509: invalid RSA public key".into());
        }
        crate::x509::KeyAlgorithm::Ec => {
            let coord = match f.spki_curve_oid.as_deref() {
                None => return Some("x509: invalid ECDSA parameters".into()),
                Some("1.2.840.10045.3.1.7") => 32,
                Some("1.3.132.0.34") => 48,
                Some("1.3.132.0.35") => 66,
                Some("1.3.132.0.33") => 28,
                Some(_) => return Some("x509: unsupported elliptic curve".into()),
            };
            // elliptic.Unmarshal: only the uncompressed form (04 || X || Y).
            if f.spki_key.len() != 1 + 2 * coord || f.spki_key[0] != 4 {
                return Some("x509: failed to unmarshal elliptic curve point".into());
            }
        }
        crate::x509::KeyAlgorithm::Ed25519 => {
            if f.spki_params_present {
                return Some("x509: Ed25519 key encoded with illegal parameters".into());
            }
            if f.spki_key.len() != 32 {
                return Some("x509: wrong Ed25519 public key size".into());
            }
        }
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    for e in &f.exts {
        if !seen.insert(e.oid.clone()) {
            if rules.duplicate_extension_oid {
                return Some(format!(
                    "x509: certificate contains duplicate extension with OID {}",
                    go_quote(&e.oid)
                ));
            }
            return Some("x509: certificate contains duplicate extensions".into());
        }
    }
    for e in &f.exts {
        if rules.critical_key_ids_rejected && e.critical {
            let what = match e.oid.as_str() {
                "2.5.29.35" => Some("authority key identifier"),
                "2.5.29.14" => Some("subject key identifier"),
                OID_AIA => Some("authority info access"),
                _ => None,
            };
            if let Some(w) = what {
                return Some(format!("x509: {w} incorrectly marked critical"));
            }
        }
        match e.oid.as_str() {
            OID_SAN => {
                if e.parse_error {
                    return Some("x509: invalid subject alternative names".into());
                }
                for g in &f.san {
                    match g {
                        Gn::Ip(b) if b.len() != 4 && b.len() != 16 => {
                            return Some(format!("x509: cannot parse IP address of length {}", b.len()))
                        }
                        Gn::Dns(d) if !d.is_ascii() => return Some("x509: SAN dNSName is malformed".into()),
                        Gn::Email(d) if !d.is_ascii() => {
                            return Some("x509: SAN rfc822Name is malformed".into())
                        }
                        _ => {}
                    }
                }
            }
            OID_NC => {
                if e.parse_error {
                    return Some("x509: invalid NameConstraints extension".into());
                }
                if let Some(nc) = &f.nc {
                    if nc.empty {
                        return Some("x509: empty name constraints extension".into());
                    }
                    for g in nc.permitted.iter().chain(nc.excluded.iter()) {
                        match g {
                            Gn::Dns(d) => {
                                let t = d.strip_prefix('.').unwrap_or(d);
                                if reverse_labels_lp(t, rules.leading_period_label).is_none() {
                                    return Some(format!(
                                        "x509: failed to parse dnsName constraint {}",
                                        go_quote(d)
                                    ));
                                }
                            }
                            // An exact mailbox, else a domain (with an optional leading dot).
                            Gn::Email(c) => {
                                let ok = if c.contains('@') {
                                    parse_mailbox(c).is_some()
                                } else {
                                    reverse_labels_lp(
                                        c.strip_prefix('.').unwrap_or(c),
                                        rules.leading_period_label,
                                    )
                                    .is_some()
                                };
                                if !ok || !c.is_ascii() {
                                    return Some(format!(
                                        "x509: failed to parse rfc822Name constraint {}",
                                        go_quote(c)
                                    ));
                                }
                            }
                            Gn::Ip(b) => {
                                if b.len() != 8 && b.len() != 32 {
                                    return Some(format!(
                                        "x509: IP constraint contained value of length {}",
                                        b.len()
                                    ));
                                }
                                let mask = &b[b.len() / 2..];
                                if !canonical_mask(mask) {
                                    return Some(format!(
                                        "x509: IP constraint contained invalid mask {}",
                                        hex::encode(mask)
                                    ));
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            OID_AIA if e.parse_error => return Some("x509: invalid authority info access".into()),
            "2.5.29.19" if e.parse_error => return Some("x509: invalid basic constraints a".into()),
            "2.5.29.15" if e.parse_error => return Some("x509: invalid key usage".into()),
            "2.5.29.37" if e.parse_error => return Some("x509: invalid extended key usages".into()),
            "2.5.29.35" if e.parse_error => return Some("x509: invalid authority key identifier".into()),
            "2.5.29.14" if e.parse_error => return Some("x509: invalid subject key identifier".into()),
            _ => {}
        }
    }
    None
}

fn canonical_mask(m: &[u8]) -> bool {
    let mut zero = false;
    for b in m {
        for i in (0..8).rev() {
            let bit = b >> i & 1 == 1;
            if bit && zero {
                return false;
            }
            if !bit {
                zero = true;
            }
        }
    }
    true
}

/// Go's `UnhandledCriticalExtensions` after parsing.
pub fn unhandled_critical(f: &Facts) -> bool {
    for e in f.exts.iter().filter(|e| e.critical) {
        let handled = match e.oid.as_str() {
            "2.5.29.15" | "2.5.29.19" | "2.5.29.31" | "2.5.29.35" | "2.5.29.37" | "2.5.29.14"
            | "2.5.29.32" | OID_AIA => true,
            OID_SAN => f
                .san
                .iter()
                .any(|g| matches!(g, Gn::Dns(_) | Gn::Email(_) | Gn::Ip(_) | Gn::Uri(_))),
            OID_NC => f.nc.as_ref().is_none_or(|nc| {
                nc.permitted
                    .iter()
                    .chain(nc.excluded.iter())
                    .all(|g| matches!(g, Gn::Dns(_) | Gn::Email(_) | Gn::Ip(_) | Gn::Uri(_)))
            }),
            _ => false,
        };
        if !handled {
            return true;
        }
    }
    false
}

fn reverse_labels(domain: &str) -> Option<Vec<String>> {
    let mut labels = Vec::new();
    let mut d = domain;
    while !d.is_empty() {
        match d.rfind('.') {
            None => {
                labels.push(d.to_string());
                d = "";
            }
            Some(i) => {
                labels.push(d[i + 1..].to_string());
                d = &d[..i];
            }
        }
    }
    if labels.first().is_some_and(|l| l.is_empty()) {
        return None;
    }
    for l in &labels {
        if l.is_empty() || l.bytes().any(|c| !(33..=126).contains(&c)) {
            return None;
        }
    }
    Some(labels)
}

/// `domainToReverseLabels` as Go ≥ 1.24 has it (`lp`): a leading period is an empty first
/// label, which is invalid; earlier versions dropped it.
fn reverse_labels_lp(domain: &str, lp: bool) -> Option<Vec<String>> {
    if lp && domain.starts_with('.') {
        return None;
    }
    reverse_labels(domain)
}

fn match_domain_constraint(domain: &str, constraint: &str, lp: bool) -> Result<bool, String> {
    if constraint.is_empty() {
        return Ok(true);
    }
    let dl = reverse_labels_lp(domain, lp)
        .ok_or_else(|| format!("x509: internal error: cannot parse domain {}", go_quote(domain)))?;
    let (must_sub, c) = match constraint.strip_prefix('.') {
        Some(c) => (true, c),
        None => (false, constraint),
    };
    let cl = reverse_labels_lp(c, lp)
        .ok_or_else(|| format!("x509: internal error: cannot parse domain {}", go_quote(c)))?;
    if dl.len() < cl.len() || (must_sub && dl.len() == cl.len()) {
        return Ok(false);
    }
    Ok(cl.iter().zip(dl.iter()).all(|(a, b)| a.eq_ignore_ascii_case(b)))
}

/// Go's `parseRFC2821Mailbox` (verify.go): a dot-atom or quoted-string local part (with
/// Go's tolerance for a space in quotes and backslash escapes outside them), `@`, and a
/// domain that `domainToReverseLabels` accepts. (local part unquoted, domain).
pub fn parse_mailbox(s: &str) -> Option<(String, String)> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut local = Vec::new();
    let mut i = 0;
    if b[0] == b'"' {
        i = 1;
        loop {
            let c = *b.get(i)?;
            i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let n = *b.get(i)?;
                    if n == 11 || n == 12 || (1..=9).contains(&n) || (14..=127).contains(&n) {
                        local.push(n);
                        i += 1;
                    } else {
                        return None;
                    }
                }
                11 | 12 | 32 | 33 | 127 | 1..=8 | 14..=31 | 35..=91 | 93..=126 => local.push(c),
                _ => return None,
            }
        }
    } else {
        while i < b.len() {
            let mut c = b[i];
            if c == b'\\' {
                i += 1;
                c = *b.get(i)?;
            } else if !(c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&c)) {
                break;
            }
            local.push(c);
            i += 1;
        }
        if local.is_empty()
            || local[0] == b'.'
            || local[local.len() - 1] == b'.'
            || local.windows(2).any(|w| w == b"..")
        {
            return None;
        }
    }
    if b.get(i) != Some(&b'@') {
        return None;
    }
    let domain = &s[i + 1..];
    reverse_labels(domain)?;
    Some((String::from_utf8_lossy(&local).into_owned(), domain.to_string()))
}

fn match_email_constraint(mb: &(String, String), c: &str, lp: bool) -> Result<bool, String> {
    if c.contains('@') {
        let cm = parse_mailbox(c)
            .ok_or_else(|| format!("x509: internal error: cannot parse constraint {}", go_quote(c)))?;
        return Ok(mb.0 == cm.0 && mb.1.eq_ignore_ascii_case(&cm.1));
    }
    match_domain_constraint(&mb.1, c, lp)
}

fn uri_host(u: &str) -> Option<String> {
    let rest = u.split_once("://").map(|x| x.1)?;
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let auth = auth.rsplit_once('@').map(|x| x.1).unwrap_or(auth);
    let host = if auth.starts_with('[') {
        auth.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        auth.split(':').next().unwrap_or("").to_string()
    };
    Some(host)
}

fn match_uri_constraint(u: &str, c: &str, lp: bool) -> Result<bool, String> {
    let host = uri_host(u).unwrap_or_default();
    if host.is_empty() {
        return Err(format!(
            "URI with empty host ({}) cannot be matched against constraints",
            go_quote(u)
        ));
    }
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "URI with IP ({}) cannot be matched against constraints",
            go_quote(u)
        ));
    }
    match_domain_constraint(&host, c, lp)
}

fn match_ip_constraint(ip: &[u8], c: &[u8]) -> bool {
    let n = c.len() / 2;
    let (cip, mask) = (&c[..n], &c[n..]);
    if ip.len() != cip.len() {
        return false;
    }
    ip.iter().zip(cip).zip(mask).all(|((a, b), m)| a & m == b & m)
}

/// Types of certificate in `isValid`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CertType {
    Leaf,
    Intermediate,
    Root,
}

struct Ctx<'a> {
    arena: &'a Arena,
    roots: &'a [usize],
    inters: &'a [usize],
    /// (seconds, nanoseconds)
    now: (i64, u32),
    sig_checks: usize,
    partial: Vec<usize>,
    rules: GoRules,
    /// The search reached Go 1.19's nil-key panic in `alreadyInChain`.
    crashed: bool,
}

impl Ctx<'_> {
    fn f(&self, i: usize) -> &Facts {
        self.arena.get(i)
    }

    fn check_nc(
        &self,
        c: usize,
        count: &mut usize,
        name_type: &str,
        name: &str,
        m: &dyn Fn(&Gn) -> Option<Result<bool, String>>,
    ) -> Result<(), GoErr> {
        let nc = self.f(c).nc.clone().unwrap_or_default();
        let excl: Vec<&Gn> = nc.excluded.iter().filter(|g| m(g).is_some()).collect();
        *count += excl.len();
        if *count > 250_000 {
            return Err(GoErr::new("x509: unknown error", Cause::NameConstraints, Some(c)));
        }
        let err = |d: String| {
            GoErr::new(
                format!(
                    "x509: a root or intermediate certificate is not authorized to sign for this name: {d}"
                ),
                Cause::NameConstraints,
                Some(c),
            )
        };
        for g in excl {
            match m(g).unwrap() {
                Err(e) => return Err(err(e)),
                Ok(true) => {
                    return Err(err(format!(
                        "{name_type} {} is excluded by constraint {}",
                        go_quote(name),
                        go_quote(&gn_string(g))
                    )))
                }
                Ok(false) => {}
            }
        }
        let perm: Vec<&Gn> = nc.permitted.iter().filter(|g| m(g).is_some()).collect();
        *count += perm.len();
        if *count > 250_000 {
            return Err(GoErr::new("x509: unknown error", Cause::NameConstraints, Some(c)));
        }
        let mut ok = true;
        for g in perm {
            match m(g).unwrap() {
                Err(e) => return Err(err(e)),
                Ok(b) => ok = b,
            }
            if ok {
                break;
            }
        }
        if !ok {
            return Err(err(format!(
                "{name_type} {} is not permitted by any constraint",
                go_quote(name)
            )));
        }
        Ok(())
    }

    /// `isValid`.
    fn is_valid(&self, c: usize, ct: CertType, chain: &[usize]) -> Result<(), GoErr> {
        let f = self.f(c);
        if unhandled_critical(f) {
            return Err(GoErr::new(
                "x509: unhandled critical extension",
                Cause::UnhandledCriticalExtension,
                Some(c),
            ));
        }
        if let Some(&child) = chain.last() {
            if self.f(child).info.issuer_der != f.info.subject_der {
                return Err(GoErr::new(
                    "x509: issuer name does not match subject from issuing certificate",
                    Cause::UnknownAuthority,
                    Some(c),
                ));
            }
        }
        let (s, ns) = self.now;
        let now_s = crate::x509::rfc3339(s);
        if s < f.info.not_before {
            return Err(GoErr::new(
                format!(
                    "x509: certificate has expired or is not yet valid: current time {now_s} is before {}",
                    crate::x509::rfc3339(f.info.not_before)
                ),
                Cause::NotYetValid,
                Some(c),
            ));
        }
        if s > f.info.not_after || (s == f.info.not_after && ns > 0) {
            return Err(GoErr::new(
                format!(
                    "x509: certificate has expired or is not yet valid: current time {now_s} is after {}",
                    crate::x509::rfc3339(f.info.not_after)
                ),
                Cause::Expired,
                Some(c),
            ));
        }
        if ct != CertType::Leaf && f.nc.is_some() {
            let lp = self.rules.leading_period_label;
            let leaf = chain[0];
            let mut to_check = vec![];
            if self.rules.nc_whole_chain {
                // Every certificate below the candidate, not the candidate itself.
                to_check.extend(chain.iter().copied().filter(|&x| self.f(x).san_ext.is_some()));
            } else {
                if self.f(leaf).san_ext.is_some() {
                    to_check.push(leaf);
                }
                if f.san_ext.is_some() {
                    to_check.push(c);
                }
            }
            let mut count = 0usize;
            for sc in to_check {
                for g in &self.f(sc).san {
                    match g {
                        Gn::Email(name) => {
                            let Some(mb) = parse_mailbox(name) else {
                                // Go formats the (zero) parsed mailbox with %q, not the name.
                                return Err(GoErr::new(
                                    "x509: cannot parse rfc822Name {\"\" \"\"}".to_string(),
                                    Cause::NameConstraints,
                                    Some(c),
                                ));
                            };
                            self.check_nc(c, &mut count, "email address", name, &|g| match g {
                                Gn::Email(k) => Some(match_email_constraint(&mb, k, lp)),
                                _ => None,
                            })?;
                        }
                        Gn::Dns(name) => {
                            if reverse_labels_lp(name, lp).is_none() {
                                return Err(GoErr::new(
                                    format!("x509: cannot parse dnsName {}", go_quote(name)),
                                    Cause::NameConstraints,
                                    Some(c),
                                ));
                            }
                            self.check_nc(c, &mut count, "DNS name", name, &|g| match g {
                                Gn::Dns(k) => Some(match_domain_constraint(name, k, lp)),
                                _ => None,
                            })?;
                        }
                        Gn::Uri(name) => {
                            self.check_nc(c, &mut count, "URI", name, &|g| match g {
                                Gn::Uri(k) => Some(match_uri_constraint(name, k, lp)),
                                _ => None,
                            })?;
                        }
                        Gn::Ip(ip) => {
                            let s = name::go_ip_string(ip);
                            self.check_nc(c, &mut count, "IP address", &s, &|g| match g {
                                Gn::Ip(k) => Some(Ok(match_ip_constraint(ip, k))),
                                _ => None,
                            })?;
                        }
                        _ => {}
                    }
                }
            }
        }
        let bc = f.info.basic_constraints.as_ref();
        if ct == CertType::Intermediate && !bc.is_some_and(|b| b.ca) {
            return Err(GoErr::new(
                "x509: certificate is not authorized to sign other certificates",
                Cause::NotACa,
                Some(c),
            ));
        }
        if let Some(pl) = bc.and_then(|b| b.path_len) {
            if chain.len().saturating_sub(1) > pl as usize {
                return Err(GoErr::new(
                    "x509: too many intermediates for path length constraint",
                    Cause::PathTooLong,
                    Some(c),
                ));
            }
        }
        Ok(())
    }

    /// `CheckSignatureFrom`: Err((message, cause)).
    fn check_signature_from(&self, child: usize, parent: usize) -> Result<(), (String, Cause)> {
        let p = self.f(parent);
        let cf = self.f(child);
        let bc = p.info.basic_constraints.as_ref();
        if (p.info.version == 3 && bc.is_none()) || bc.is_some_and(|b| !b.ca) {
            return Err((
                "x509: invalid signature: parent certificate cannot sign this kind of certificate".into(),
                Cause::NotACa,
            ));
        }
        if p.info.key_usage.as_ref().is_some_and(|k| !k.is_empty()) && !p.info.has_key_usage("keyCertSign") {
            return Err((
                "x509: invalid signature: parent certificate cannot sign this kind of certificate".into(),
                Cause::NotACa,
            ));
        }
        let unsupported = || {
            (
                "x509: cannot verify signature: algorithm unimplemented".to_string(),
                Cause::BadSignature,
            )
        };
        if !matches!(go_key(p), GoKey::Rsa | GoKey::Ecdsa | GoKey::Ed25519) {
            return Err(unsupported());
        }
        if !sig_alg_known(cf) {
            return Err(unsupported());
        }
        match cf.info.signature_hash.as_str() {
            // x509sha1=1 (before 1.24) lets SHA-1 through; MD5 never.
            "SHA1" if !self.rules.sha1_rejected => {}
            "MD5" | "SHA1" => {
                let name = sig_alg_string(cf);
                let ov = if self.rules.sha1_hint && (name == "SHA1-RSA" || name == "ECDSA-SHA1") {
                    " (temporarily override with GODEBUG=x509sha1=1)"
                } else {
                    ""
                };
                return Err((
                    format!("x509: cannot verify signature: insecure algorithm {name}{ov}"),
                    Cause::WeakSignature,
                ));
            }
            _ => {}
        }
        let sig = self.arena.sig(child, parent);
        // rsa.VerifyPKCS1v15 / VerifyPSS refuse a small key before looking at the signature
        // (once the key type matched the algorithm).
        if self.rules.rsa_min_1024 && go_key(p) == GoKey::Rsa && !matches!(sig, SigCheck::KeyMismatch) {
            if let Some(m) = rsa_too_small(p) {
                return Err((m, Cause::WeakSignature));
            }
        }
        match sig {
            SigCheck::Valid | SigCheck::Unsupported => Ok(()),
            SigCheck::KeyMismatch => {
                let (exp, have) = (
                    super::facts::sig_key_kind(&cf.sig_oid).unwrap_or("?"),
                    super::facts::key_kind(&p.spki_alg_oid),
                );
                let exp = match exp {
                    "rsa" => "RSA",
                    "ec" => "ECDSA",
                    "ed25519" => "Ed25519",
                    "dsa" => "DSA",
                    x => x,
                };
                let have = match have {
                    "rsa" => "*rsa.PublicKey",
                    "ec" => "*ecdsa.PublicKey",
                    "ed25519" => "ed25519.PublicKey",
                    _ => "*dsa.PublicKey",
                };
                Err((
                    format!("x509: signature algorithm specifies an {exp} public key, but have public key of type {have}"),
                    Cause::BadSignature,
                ))
            }
            SigCheck::Invalid => Err((
                match p.info.key_algorithm {
                    crate::x509::KeyAlgorithm::Rsa => "crypto/rsa: verification error".to_string(),
                    crate::x509::KeyAlgorithm::Ec => "x509: ECDSA verification failure".to_string(),
                    _ => "x509: Ed25519 verification failure".to_string(),
                },
                Cause::BadSignature,
            )),
        }
    }

    fn potential_parents(&self, pool: &[usize], c: usize) -> Vec<usize> {
        let cf = self.f(c);
        let (mut m, mut one, mut mis) = (vec![], vec![], vec![]);
        for &p in pool {
            // The name first, from the cheap decode: most of a system pool never matches.
            if self.arena.info(p).subject_der != cf.info.issuer_der {
                continue;
            }
            let pf = self.f(p);
            let ski = pf.skid.clone().unwrap_or_default();
            let aki = cf.akid_keyid.clone().unwrap_or_default();
            if ski == aki {
                m.push(p)
            } else if (ski.is_empty() && !aki.is_empty()) || (!ski.is_empty() && aki.is_empty()) {
                one.push(p)
            } else {
                mis.push(p)
            }
        }
        m.extend(one);
        m.extend(mis);
        m
    }

    fn already_in_chain(&self, cand: usize, chain: &[usize]) -> bool {
        let cf = self.f(cand);
        chain.iter().any(|&x| {
            let xf = self.f(x);
            xf.info.subject_der == cf.info.subject_der
                && xf.spki_key == cf.spki_key
                && xf.san_ext == cf.san_ext
        })
    }

    /// `buildChains`.
    fn build_chains(&mut self, chain: Vec<usize>) -> (Vec<Vec<usize>>, Option<GoErr>) {
        if chain.len() > self.partial.len() {
            self.partial = chain.clone();
        }
        let c = *chain.last().unwrap();
        let mut chains = vec![];
        let mut err: Option<GoErr> = None;
        let mut hint: Option<(String, Cause, usize)> = None;
        let cands: Vec<(CertType, usize)> = self
            .potential_parents(self.roots, c)
            .into_iter()
            .map(|r| (CertType::Root, r))
            .chain(
                self.potential_parents(self.inters, c)
                    .into_iter()
                    .map(|i| (CertType::Intermediate, i)),
            )
            .collect();
        for (ct, cand) in cands {
            if go_key(self.f(cand)) == GoKey::Nil {
                if !self.rules.nil_key_candidate_panics {
                    continue;
                }
                // `candidate.PublicKey.(pubKeyEqual)` on a nil key, reached as soon as a
                // certificate in the chain has the candidate's subject.
                let subject = &self.f(cand).info.subject_der;
                if chain.iter().any(|&x| &self.f(x).info.subject_der == subject) {
                    self.crashed = true;
                    return (vec![], None);
                }
            }
            if self.already_in_chain(cand, &chain) {
                continue;
            }
            self.sig_checks += 1;
            if self.sig_checks > 100 {
                err = Some(GoErr::new(
                    "x509: signature check attempts limit reached while verifying certificate chain",
                    Cause::PathTooLong,
                    Some(c),
                ));
                continue;
            }
            if let Err((m, cause)) = self.check_signature_from(c, cand) {
                if hint.is_none() {
                    hint = Some((m, cause, cand));
                }
                continue;
            }
            if let Err(e) = self.is_valid(cand, ct, &chain) {
                err = Some(e);
                continue;
            }
            let mut next = chain.clone();
            next.push(cand);
            match ct {
                CertType::Root => {
                    if next.len() > self.partial.len() {
                        self.partial = next.clone();
                    }
                    chains.push(next)
                }
                _ => {
                    let (cc, e) = self.build_chains(next);
                    if self.crashed {
                        return (vec![], None);
                    }
                    err = e;
                    chains.extend(cc);
                }
            }
        }
        if !chains.is_empty() {
            err = None;
        }
        if chains.is_empty() && err.is_none() {
            let mut msg = "x509: certificate signed by unknown authority".to_string();
            let mut hint_cause = None;
            let mut hint_cert = None;
            if let Some((hm, hc, hcert)) = &hint {
                hint_cert = Some(*hcert);
                let hf = &self.f(*hcert).info;
                let name = hf
                    .subject_cn
                    .last()
                    .cloned()
                    .filter(|s| !s.is_empty())
                    .or_else(|| org_of(hf))
                    .unwrap_or_else(|| format!("serial:{}", serial_decimal(&self.f(*hcert).serial_raw)));
                msg.push_str(&format!(
                    " (possibly because of {} while trying to verify candidate authority certificate {})",
                    go_quote(hm),
                    go_quote(&name)
                ));
                hint_cause = Some(*hc);
            }
            err = Some(GoErr {
                msg,
                cause: Cause::UnknownAuthority,
                cert: Some(c),
                unknown: true,
                hint_cause,
                hint_cert,
            });
        }
        (chains, err)
    }
}

/// `crypto/rsa: 768-bit keys are insecure (…)` (Go ≥ 1.24, rsa1024min) for a small RSA key.
fn rsa_too_small(f: &Facts) -> Option<String> {
    let bits = f.info.key_bits;
    (bits > 0 && bits < 1024).then(|| {
        format!("crypto/rsa: {bits}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)")
    })
}

/// How Go prints a constraint (`%q` of the string, or of the `*net.IPNet`).
fn gn_string(g: &Gn) -> String {
    match g {
        Gn::Dns(s) | Gn::Email(s) | Gn::Uri(s) => s.clone(),
        Gn::Ip(b) => {
            let n = b.len() / 2;
            let ones: u32 = b[n..].iter().map(|x| x.count_ones()).sum();
            format!("{}/{}", name::go_ip_string(&b[..n]), ones)
        }
        _ => String::new(),
    }
}

fn org_of(c: &crate::x509::CertInfo) -> Option<String> {
    c.subject
        .split(", ")
        .find_map(|p| p.strip_prefix("O=").map(|s| s.to_string()))
}

fn serial_decimal(raw: &[u8]) -> String {
    // big-endian two's complement → decimal (magnitude; sign prefix)
    let neg = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = if neg {
        // two's complement negate
        let mut v: Vec<u8> = raw.iter().map(|b| !b).collect();
        for b in v.iter_mut().rev() {
            let (r, o) = b.overflowing_add(1);
            *b = r;
            if !o {
                break;
            }
        }
        v
    } else {
        raw.to_vec()
    };
    let mut digits = vec![];
    while mag.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | *b as u32;
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    let s = String::from_utf8(digits).unwrap_or_default();
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

/// `checkChainForKeyUsage` with serverAuth.
fn chain_eku_ok(arena: &Arena, chain: &[usize]) -> bool {
    for &c in chain.iter().rev() {
        let Some(eku) = &arena.get(c).info.ext_key_usage else {
            continue;
        };
        if eku.is_empty() {
            continue;
        }
        if eku.iter().any(|e| e == "any") {
            continue;
        }
        if !eku.iter().any(|e| e == "serverAuth") {
            return false;
        }
    }
    true
}

/// Run Go's verification. `leaf` and `inters` are arena indices of the presented chain
/// (leaf first, then the rest in presented order); `roots` the pool.
pub fn verify(
    arena: &Arena,
    presented: &[usize],
    roots: &[usize],
    name: Option<&str>,
    now: (i64, u32),
) -> GoOutcome {
    verify_rules(arena, presented, roots, name, now, GoRules::version(19))
}

/// [`verify`] with the behaviours of a given Go version.
pub fn verify_rules(
    arena: &Arena,
    presented: &[usize],
    roots: &[usize],
    name: Option<&str>,
    now: (i64, u32),
    rules: GoRules,
) -> GoOutcome {
    let mut out = GoOutcome::default();
    // crypto/tls: parse every certificate the server sent.
    for &p in presented {
        if let Some(e) = parse_error_rules(arena.get(p), &rules) {
            let err = GoErr::new(
                format!("tls: failed to parse certificate from server: {e}"),
                Cause::MalformedCertificate,
                Some(p),
            );
            out.all.push(err.clone());
            out.error = Some(err);
            return out;
        }
    }
    let Some(&leaf) = presented.first() else {
        return out;
    };
    // Roots that do not parse are dropped by AppendCertsFromPEM; duplicates too.
    let mut rootv: Vec<usize> = vec![];
    for &r in roots {
        if parse_error_rules(arena.get(r), &rules).is_none() && !rootv.contains(&r) {
            rootv.push(r);
        }
    }
    let mut interv: Vec<usize> = vec![];
    for &i in &presented[1..] {
        if !interv.contains(&i) {
            interv.push(i);
        }
    }
    let mut ctx = Ctx {
        arena,
        roots: &rootv,
        inters: &interv,
        now,
        sig_checks: 0,
        partial: vec![leaf],
        rules,
        crashed: false,
    };
    let mut first: Option<GoErr> = None;
    if let Err(e) = ctx.is_valid(leaf, CertType::Leaf, &[]) {
        out.all.push(e.clone());
        first.get_or_insert(e);
    }
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        if let Err(m) = name::go_verify_hostname_rules(arena.get(leaf), n, rules.bare_wildcard_invalid) {
            let legacy = m.contains("legacy Common Name");
            let e = GoErr::new(
                m,
                if legacy {
                    Cause::LegacyCommonName
                } else {
                    Cause::NameMismatch
                },
                Some(leaf),
            );
            out.all.push(e.clone());
            first.get_or_insert(e);
        }
    }
    let candidate_chains = if rootv
        .iter()
        .any(|&r| arena.get(r).info.der == arena.get(leaf).info.der)
    {
        vec![vec![leaf]]
    } else {
        let (chains, err) = ctx.build_chains(vec![leaf]);
        if ctx.crashed && first.is_none() {
            // Verify got as far as the chain search: the program dies there.
            let e = GoErr::new(NIL_KEY_PANIC, Cause::RuntimeCrash, ctx.partial.last().copied());
            out.all.push(e.clone());
            out.error = Some(e);
            out.partial = ctx.partial.clone();
            return out;
        }
        if let Some(e) = err {
            out.all.push(e.clone());
            first.get_or_insert(e);
        }
        chains
    };
    out.partial = ctx.partial.clone();
    if !candidate_chains.is_empty() {
        let good: Vec<&Vec<usize>> = candidate_chains
            .iter()
            .filter(|c| chain_eku_ok(arena, c))
            .collect();
        if good.is_empty() {
            let e = GoErr::new(
                "x509: certificate specifies an incompatible key usage",
                Cause::BadEku,
                Some(leaf),
            );
            out.all.push(e.clone());
            first.get_or_insert(e);
            out.partial = candidate_chains[0].clone();
        } else {
            out.partial = good[0].clone();
            out.chain = Some(good[0].clone());
        }
    }
    if rules.wraps_verify_error {
        if let Some(e) = first.as_mut() {
            e.msg = format!("tls: failed to verify certificate: {}", e.msg);
        }
    }
    if first.is_none() {
        // crypto/tls: only RSA, ECDSA and Ed25519 server keys.
        let kind = match go_key(arena.get(leaf)) {
            GoKey::Rsa | GoKey::Ecdsa | GoKey::Ed25519 => None,
            k => Some(k.type_name()),
        };
        if let Some(k) = kind {
            let e = GoErr::new(
                format!("tls: server's certificate contains an unsupported type of public key: {k}"),
                Cause::MalformedCertificate,
                Some(leaf),
            );
            out.all.push(e.clone());
            first = Some(e);
            out.chain = None;
        } else if let Some(m) = rules
            .rsa_min_1024
            .then(|| rsa_too_small(arena.get(leaf)))
            .flatten()
            .filter(|_| go_key(arena.get(leaf)) == GoKey::Rsa)
        {
            // The handshake signature (CertificateVerify / ServerKeyExchange) is checked
            // with the leaf's key: rsa refuses the key itself.
            let e = GoErr::new(
                format!("tls: invalid signature by the server certificate: {m}"),
                Cause::WeakSignature,
                Some(leaf),
            );
            out.all.push(e.clone());
            first = Some(e);
            out.chain = None;
        }
    } else {
        out.chain = None;
    }
    out.error = first;
    out
}
