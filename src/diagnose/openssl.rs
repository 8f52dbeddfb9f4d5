//! OpenSSL 3.0 `X509_verify_cert` as libssl sets it up for a client (`ssl_verify_cert_chain`):
//! purpose/trust `ssl_server`, auth level 2 (Debian's default security level), host check
//! via `SSL_set1_host` (flags 0), trusted-first, no partial chain, no strict mode.
//!
//! Stages in OpenSSL's order (x509_vfy.c `verify_chain`): leaf key level (66), `build_chain`
//! (2, 18, 19, 20), `check_extensions` (34, 79, 25, 26, 94), `check_auth_level` (67, 68),
//! `check_id` (62, 64), `internal_verify` top-down (32, 7, 9, 10), `check_name_constraints`
//! (47, 48, 51, 53). Like a verify callback that logs and continues (s_client), every error
//! is collected; the first one is the verdict.

use super::facts::{key_kind, sig_key_kind, Arena, Facts, Gn, SigCheck, OID_AKI, OID_SKI};
use super::name;
use crate::trust::auxtrust::{AuxDecision, AuxTrust, OID_SERVER_AUTH};

/// One OpenSSL verify error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsslErr {
    pub code: i32,
    pub depth: usize,
    /// Arena index of the certificate at that depth, when there is one.
    pub cert: Option<usize>,
}

impl OsslErr {
    pub fn text(&self) -> &'static str {
        error_string(self.code)
    }

    /// `verify error:num=N:TEXT` (as s_client and libssl-based clients log it).
    pub fn message(&self) -> String {
        format!("verify error:num={}:{}", self.code, self.text())
    }
}

/// `X509_verify_cert_error_string` (x509_txt.c, 3.0).
pub fn error_string(code: i32) -> &'static str {
    match code {
        0 => "ok",
        1 => "unspecified certificate verification error",
        2 => "unable to get issuer certificate",
        4 => "unable to decrypt certificate's signature",
        6 => "unable to decode issuer public key",
        7 => "certificate signature failure",
        9 => "certificate is not yet valid",
        10 => "certificate has expired",
        13 => "format error in certificate's notBefore field",
        14 => "format error in certificate's notAfter field",
        18 => "self-signed certificate",
        19 => "self-signed certificate in certificate chain",
        20 => "unable to get local issuer certificate",
        21 => "unable to verify the first certificate",
        22 => "certificate chain too long",
        24 => "invalid CA certificate",
        25 => "path length constraint exceeded",
        26 => "unsuitable certificate purpose",
        27 => "certificate not trusted",
        28 => "certificate rejected",
        32 => "key usage does not include certificate signing",
        34 => "unhandled critical extension",
        37 => "invalid non-CA certificate (has CA markings)",
        38 => "proxy path length constraint exceeded",
        39 => "key usage does not include digital signature",
        40 => "proxy certificates not allowed, please set the appropriate flag",
        47 => "permitted subtree violation",
        48 => "excluded subtree violation",
        49 => "name constraints minimum and maximum not supported",
        51 => "unsupported name constraint type",
        52 => "unsupported or invalid name constraint syntax",
        53 => "unsupported or invalid name syntax",
        62 => "hostname mismatch",
        63 => "email address mismatch",
        64 => "IP address mismatch",
        66 => "EE certificate key too weak",
        67 => "CA certificate key too weak",
        68 => "CA signature digest algorithm too weak",
        78 => "Signature algorithm inconsistency",
        79 => "invalid CA certificate",
        80 => "Path length invalid for non-CA cert",
        81 => "Path length given without key usage keyCertSign",
        82 => "Key usage keyCertSign invalid for non-CA cert",
        83 => "Issuer name empty",
        84 => "Subject name empty",
        85 => "Missing Authority Key Identifier",
        86 => "Missing Subject Key Identifier",
        87 => "Empty Subject Alternative Name extension",
        88 => "Subject empty and Subject Alt Name extension not critical",
        89 => "Basic Constraints of CA cert not marked critical",
        90 => "Authority Key Identifier marked critical",
        91 => "Subject Key Identifier marked critical",
        92 => "CA cert does not include key usage extension",
        93 => "Using cert extension requires at least X509v3",
        94 => "Certificate public key has explicit ECC parameters",
        _ => "unknown certificate verification error",
    }
}

/// The result of an OpenSSL verification.
#[derive(Debug, Clone, Default)]
pub struct OsslOutcome {
    /// Every error in the order a logging callback would see them.
    pub errors: Vec<OsslErr>,
    /// The chain built, leaf first (arena indices).
    pub chain: Vec<usize>,
    /// How many of `chain` came from the peer (the rest from the store).
    pub num_untrusted: usize,
    /// The host matched only through the subject CN.
    pub cn_fallback: bool,
    /// Chain was trusted (reached a self-signed anchor).
    pub trusted: bool,
}

impl OsslOutcome {
    pub fn first(&self) -> Option<&OsslErr> {
        self.errors.first()
    }
}

/// `X509_NAME_cmp` (canonical form).
pub fn name_eq(a: &[u8], b: &[u8]) -> bool {
    match (canon(a), canon(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn canon(n: &[u8]) -> Option<Vec<u8>> {
    crate::diagnose::canon_name(n)
}

/// X509_check_akid(issuer, subject's akid)
fn check_akid(issuer: &Facts, subject: &Facts) -> bool {
    if !subject.has_ext(OID_AKI) {
        return true;
    }
    if let (Some(k), Some(s)) = (&subject.akid_keyid, &issuer.skid) {
        if k != s {
            return false;
        }
    }
    if let Some(serial) = &subject.akid_serial {
        if strip_int(serial) != strip_int(&issuer.serial_raw) {
            return false;
        }
    }
    if let Some(names) = &subject.akid_issuer {
        if !names.iter().any(|n| name_eq(n, &issuer.info.issuer_der)) {
            return false;
        }
    }
    true
}

fn strip_int(b: &[u8]) -> &[u8] {
    let mut b = b;
    while b.len() > 1 && b[0] == 0 {
        b = &b[1..];
    }
    b
}

/// The key type OpenSSL 3 decodes a SubjectPublicKeyInfo to (its keymgmt name, roughly):
/// id-ea-rsa (2.5.8.1.1) is plain RSA, id-RSASSA-PSS its own type, and an EC key on the
/// SM2 curve an SM2 key.
fn key_type(f: &Facts) -> &'static str {
    match f.spki_alg_oid.as_str() {
        "1.2.840.113549.1.1.1" | "2.5.8.1.1" => "rsa",
        "1.2.840.113549.1.1.10" => "rsa-pss",
        "1.2.840.10045.2.1" if f.spki_curve_oid.as_deref() == Some(OID_SM2_CURVE) => "sm2",
        o => key_kind(o),
    }
}

const OID_SM2_CURVE: &str = "1.2.156.10197.1.301";

/// `check_sig_alg_match` (v3_purp.c): the key type the subject's signature algorithm
/// needs is the issuer key's type — or the issuer key is RSA and the signature RSASSA-PSS.
fn sig_alg_match(issuer: &Facts, subject: &Facts) -> bool {
    // X509_get0_pubkey fails on an undecodable key: no match.
    if issuer.info.key_algorithm == crate::x509::KeyAlgorithm::Rsa && issuer.info.key_bits == 0 {
        return false;
    }
    let need = match subject.sig_oid.as_str() {
        "1.2.840.113549.1.1.10" => "rsa-pss",
        "1.2.156.10197.1.501" => "sm2",
        o => match sig_key_kind(o) {
            Some(k) => k,
            None => return false,
        },
    };
    let have = key_type(issuer);
    have == need || (have == "rsa" && need == "rsa-pss")
}

/// EXFLAG_PROXY: a proxyCertInfo extension (RFC 3820) is present.
fn is_proxy(f: &Facts) -> bool {
    f.has_ext(OID_PROXY_CERT_INFO)
}

const OID_PROXY_CERT_INFO: &str = "1.3.6.1.5.5.7.1.14";

/// `ossl_x509v3_cache_extensions` failing (EXFLAG_INVALID).
pub fn invalid(f: &Facts) -> bool {
    if f.tbs.is_empty() {
        return true;
    }
    // A proxy certificate may not be a CA nor carry subject or issuer alternative names.
    if is_proxy(f) && (f.info.is_ca() || f.has_ext("2.5.29.17") || f.has_ext("2.5.29.18")) {
        return true;
    }
    // An empty keyUsage (no bit set) is invalid (RFC 5280 4.2.1.3).
    if f.info.key_usage.as_ref().is_some_and(|k| k.is_empty()) {
        return true;
    }
    let mut seen = std::collections::HashSet::new();
    for e in &f.exts {
        if !seen.insert(e.oid.as_str()) {
            return true;
        }
        if e.parse_error
            && matches!(
                e.oid.as_str(),
                "2.5.29.19" | "2.5.29.15" | "2.5.29.37" | OID_SKI | OID_AKI | "2.5.29.17" | "2.5.29.30"
            )
        {
            return true;
        }
    }
    false
}

fn likely_issued(a: &Arena, issuer: usize, subject: usize) -> bool {
    // The names first, from the cheap decode and cached canonical forms.
    if !a.names_match(issuer, subject) {
        return false;
    }
    let (i, s) = (a.get(issuer), a.get(subject));
    if invalid(i) || invalid(s) {
        return false;
    }
    check_akid(i, s) && sig_alg_match(i, s)
}

fn self_issued(f: &Facts) -> bool {
    name_eq(&f.info.subject_der, &f.info.issuer_der)
}

/// EXFLAG_SS
fn self_signed(f: &Facts) -> bool {
    self_issued(f) && check_akid(f, f) && sig_alg_match(f, f)
}

/// `X509_check_ca`
fn check_ca(f: &Facts) -> i32 {
    if f.info.key_usage.is_some() && !f.info.has_key_usage("keyCertSign") {
        return 0;
    }
    match &f.info.basic_constraints {
        Some(bc) => i32::from(bc.ca),
        None => {
            if f.info.version == 1 && self_signed(f) {
                3
            } else if f.info.key_usage.is_some() {
                4
            } else {
                0
            }
        }
    }
}

fn eku_allows_server(f: &Facts) -> bool {
    match &f.info.ext_key_usage {
        None => true,
        Some(v) => v
            .iter()
            .any(|e| e == "serverAuth" || e == "2.16.840.1.113730.4.1" || e == "1.3.6.1.4.1.311.10.3.3"),
    }
}

/// `X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, ca)`: 1 ok, 0 no, -1 invalid
fn purpose_ok(f: &Facts, ca: bool) -> i32 {
    if invalid(f) {
        return -1;
    }
    if !eku_allows_server(f) {
        return 0;
    }
    if ca {
        return i32::from(check_ca(f) != 0);
    }
    if let Some(ku) = &f.info.key_usage {
        if !ku
            .iter()
            .any(|k| k == "digitalSignature" || k == "keyEncipherment" || k == "keyAgreement")
        {
            return 0;
        }
    }
    1
}

/// Supported critical extensions (X509_supported_extension).
fn unhandled_critical(f: &Facts) -> bool {
    f.exts.iter().filter(|e| e.critical).any(|e| {
        !matches!(
            e.oid.as_str(),
            "2.16.840.1.113730.1.1"
                | "2.5.29.15"
                | "2.5.29.17"
                | "2.5.29.19"
                | "2.5.29.31"
                | "2.5.29.32"
                | "2.5.29.37"
                | "1.3.6.1.5.5.7.1.7"
                | "1.3.6.1.5.5.7.1.8"
                | "2.5.29.36"
                | "1.3.6.1.5.5.7.1.14"
                | "1.3.6.1.5.5.7.48.1.5"
                | "2.5.29.30"
                | "2.5.29.33"
                | "2.5.29.54"
        )
    })
}

/// Security bits of a key (EVP_PKEY_get_security_bits).
fn key_secbits(f: &Facts) -> u32 {
    use crate::x509::KeyAlgorithm::*;
    let bits = f.info.key_bits;
    match f.info.key_algorithm {
        Rsa | Dsa => {
            if bits >= 15360 {
                256
            } else if bits >= 7680 {
                192
            } else if bits >= 3072 {
                128
            } else if bits >= 2048 {
                112
            } else if bits >= 1024 {
                80
            } else {
                0
            }
        }
        // Explicit curve parameters: OpenSSL computes the order's size; assume a named-size curve.
        Ec if bits == 0 && f.spki_params_present => 128,
        Ec => bits / 2,
        Ed25519 | X25519 => 128,
        Ed448 | X448 => 224,
        Other => 0,
    }
}

fn sig_secbits(f: &Facts) -> u32 {
    // SM2-with-SM3: half of SM3's 256 bits.
    if f.sig_oid == "1.2.156.10197.1.501" {
        return 128;
    }
    match f.info.signature_hash.as_str() {
        "SHA1" => 63,
        "MD5" => 39,
        "intrinsic" => {
            if f.sig_oid == "1.3.101.113" {
                224
            } else {
                128
            }
        }
        _ => {
            if f.sig_oid == "1.2.840.113549.1.1.10" {
                let p = &f.sig_params;
                let has = |n: &[u8]| p.windows(n.len()).any(|w| w == n);
                if has(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03]) {
                    256
                } else if has(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02]) {
                    192
                } else if has(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]) {
                    128
                } else {
                    63
                }
            } else {
                f.sig_hash_bits().map(|b| b / 2).unwrap_or(0)
            }
        }
    }
}

/// `X509_V_FLAG_X509_STRICT`'s RFC 5280 checks in `check_extensions` (OpenSSL 3.x,
/// x509_vfy.c), in its order, for the certificate at depth `i` of a chain of `num`.
fn strict_checks(f: &Facts, i: usize, num: usize, fail: &mut dyn FnMut(i32)) {
    let info = &f.info;
    let ext = |oid: &str| f.exts.iter().find(|e| e.oid == oid);
    let bc = info.basic_constraints.as_ref();
    let ca = bc.is_some_and(|b| b.ca);
    // Basic Constraints, RFC 5280 4.2.1.9.
    if bc.and_then(|b| b.path_len).is_some() {
        if !ca {
            fail(80);
        }
        if !info.has_key_usage("keyCertSign") {
            fail(81);
        }
    }
    if ca && ext("2.5.29.19").is_some_and(|e| !e.critical) {
        fail(89);
    }
    // Key Usage, 4.2.1.3.
    if ca {
        if info.key_usage.is_none() {
            fail(92);
        }
    } else if info.has_key_usage("keyCertSign") {
        fail(82);
    }
    // Names, 4.1.2.4 and 4.1.2.6 (an empty Name is `30 00`).
    if info.issuer_der.len() <= 2 {
        fail(83);
    }
    let subject_empty = f.subject_entries == 0;
    let san = ext(super::facts::OID_SAN);
    if (ca || info.has_key_usage("cRLSign") || san.is_none()) && subject_empty {
        fail(84);
    }
    if subject_empty && san.is_some_and(|e| !e.critical) {
        fail(88);
    }
    if san.is_some() && f.san.is_empty() {
        fail(87);
    }
    // Signature algorithm consistency, 4.1.1.2.
    if f.sig_oid != f.inner_sig_oid || f.sig_params != f.inner_sig_params {
        fail(78);
    }
    if ext("2.5.29.35").is_some_and(|e| e.critical) {
        fail(90);
    }
    if ext("2.5.29.14").is_some_and(|e| e.critical) {
        fail(91);
    }
    if info.version >= 3 {
        // AKID, 4.2.1.1: every certificate but the last.
        if i + 1 < num && f.akid_keyid.is_none() {
            fail(85);
        }
        // SKID, 4.2.1.2.
        if ca && f.skid.is_none() {
            fail(86);
        }
    } else if !f.exts.is_empty() {
        fail(93);
    }
}

/// Minimum security bits at an auth level.
fn min_bits(level: u32) -> u32 {
    [0, 80, 112, 128, 192, 256][level.min(5) as usize]
}

struct Builder<'a> {
    a: &'a Arena,
    trusted: &'a [usize],
    /// Auxiliary trust settings, parallel to `trusted` (TRUSTED CERTIFICATE blocks).
    aux: &'a [Option<AuxTrust>],
    at: i64,
    chain: Vec<usize>,
    num_untrusted: usize,
}

/// `X509_check_trust` outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    Trusted,
    Rejected,
    Untrusted,
}

impl Builder<'_> {
    fn aux_of(&self, c: usize) -> Option<&AuxTrust> {
        self.trusted
            .iter()
            .position(|&t| t == c)
            .and_then(|i| self.aux.get(i))
            .and_then(|x| x.as_ref())
    }

    /// `X509_check_trust(x, X509_TRUST_SSL_SERVER, flags)` (x509_trs.c `trust_1oidany` →
    /// `obj_trust`) for a certificate taken from the store: explicit aux settings first,
    /// then, unless `no_ss_compat`, "trusted when self-signed" (`trust_compat`).
    fn check_trust(&self, c: usize, no_ss_compat: bool) -> Trust {
        match self.aux_of(c).map(|x| x.decision(OID_SERVER_AUTH)) {
            Some(AuxDecision::Trusted) => Trust::Trusted,
            Some(AuxDecision::Rejected) => Trust::Rejected,
            _ => {
                let f = self.a.get(c);
                if !no_ss_compat && !invalid(f) && self_signed(f) {
                    Trust::Trusted
                } else {
                    Trust::Untrusted
                }
            }
        }
    }

    fn time_ok(&self, c: usize) -> bool {
        let f = self.a.get(c);
        f.info.not_before <= self.at && self.at < f.info.not_after
    }

    /// X509_STORE_CTX_get1_issuer over the trusted store.
    fn trusted_issuer(&self, x: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for &t in self.trusted {
            if likely_issued(self.a, t, x) {
                if self.time_ok(t) {
                    return Some(t);
                }
                if best.is_none_or(|b| self.a.get(t).info.not_after > self.a.get(b).info.not_after) {
                    best = Some(t);
                }
            }
        }
        best
    }

    /// find_issuer over the untrusted stack.
    fn untrusted_issuer(&self, pool: &[usize], x: usize) -> Option<usize> {
        let mut rv: Option<usize> = None;
        let xs_si = self_issued(self.a.get(x));
        for &i in pool {
            if likely_issued(self.a, i, x) && ((xs_si && self.chain.len() == 1) || !self.chain.contains(&i)) {
                if self.time_ok(i) {
                    return Some(i);
                }
                if rv.is_none_or(|r| self.a.get(i).info.not_after > self.a.get(r).info.not_after) {
                    rv = Some(i);
                }
            }
        }
        rv
    }
}

/// The peer's name to check: DNS or IP.
pub enum Peer<'a> {
    None,
    Dns(&'a str),
    Ip(std::net::IpAddr),
}

pub fn peer(name: Option<&str>) -> Peer<'_> {
    match name {
        None | Some("") => Peer::None,
        Some(n) => match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Peer::Ip(ip),
            Err(_) => Peer::Dns(n),
        },
    }
}

const MAX_DEPTH: usize = 100;
const NAME_CHECK_MAX: usize = 1 << 20;

/// Run OpenSSL's verification. `presented`: leaf first, then the rest as sent.
pub fn verify(a: &Arena, presented: &[usize], trusted: &[usize], name: Option<&str>, at: i64) -> OsslOutcome {
    verify_level(a, presented, trusted, name, at, 2)
}

pub fn verify_level(
    a: &Arena,
    presented: &[usize],
    trusted: &[usize],
    name: Option<&str>,
    at: i64,
    level: u32,
) -> OsslOutcome {
    verify_aux(
        a,
        presented,
        trusted,
        &[],
        name,
        at,
        Params { level, strict: false },
    )
}

/// How the application set up `X509_verify_cert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The security level (libssl's default is 2 on Debian).
    pub level: u32,
    /// `X509_V_FLAG_X509_STRICT` (Python ≥ 3.13's default context).
    pub strict: bool,
}

/// Like [`verify_level`], with the auxiliary trust settings of the store's certificates
/// (`aux[i]` belongs to `trusted[i]`; missing entries mean none).
pub fn verify_aux(
    a: &Arena,
    presented: &[usize],
    trusted: &[usize],
    aux: &[Option<AuxTrust>],
    name: Option<&str>,
    at: i64,
    params: Params,
) -> OsslOutcome {
    let Params { level, strict } = params;
    let mut out = OsslOutcome::default();
    let Some(&leaf) = presented.first() else {
        return out;
    };
    let mut errs: Vec<OsslErr> = vec![];
    let min = min_bits(level);
    if level > 0 && key_secbits(a.get(leaf)) < min {
        errs.push(OsslErr {
            code: 66,
            depth: 0,
            cert: Some(leaf),
        });
    }
    // ---- build_chain ----
    let mut b = Builder {
        a,
        trusted,
        aux,
        at,
        chain: vec![leaf],
        num_untrusted: 1,
    };
    let mut untrusted: Vec<usize> = presented.to_vec();
    let mut ss = self_signed(a.get(leaf));
    let mut do_trusted = true;
    let mut do_untrusted = true;
    let mut trust = false;
    let max_depth = MAX_DEPTH + 1;
    loop {
        if do_trusted {
            let num = b.chain.len();
            let x = *b.chain.last().unwrap();
            let found = if num > max_depth {
                None
            } else {
                b.trusted_issuer(x)
            };
            let mut ok = found.is_some();
            if let Some(t) = found {
                if !ss {
                    b.chain.push(t);
                    ss = self_signed(a.get(t));
                } else if num == b.num_untrusted {
                    if a.get(x).info.der != a.get(t).info.der {
                        ok = false;
                    } else {
                        b.num_untrusted -= 1;
                        let n = b.chain.len();
                        b.chain[n - 1] = t;
                    }
                }
                if ok {
                    do_untrusted = false;
                    // check_trust(ctx, num): the certificate just taken from the store.
                    let i = b.chain.len() - 1;
                    match b.check_trust(b.chain[i], false) {
                        Trust::Trusted => {
                            trust = true;
                            break;
                        }
                        // X509_V_ERR_CERT_REJECTED; a logging callback continues, and
                        // the certificate then counts as untrusted.
                        Trust::Rejected => errs.push(OsslErr {
                            code: 28,
                            depth: i,
                            cert: Some(b.chain[i]),
                        }),
                        Trust::Untrusted => {}
                    }
                    if !ss {
                        continue;
                    }
                }
            }
            if !do_untrusted {
                break;
            }
        }
        if do_untrusted {
            let x = *b.chain.last().unwrap();
            let num = b.chain.len();
            let next = if ss || num > max_depth {
                None
            } else {
                b.untrusted_issuer(&untrusted, x)
            };
            match next {
                None => {
                    do_untrusted = false;
                    do_trusted = true;
                    continue;
                }
                Some(n) => {
                    untrusted.retain(|&u| u != n);
                    b.chain.push(n);
                    b.num_untrusted += 1;
                    ss = self_signed(a.get(n));
                }
            }
        }
    }
    if !trust && b.chain.len() == b.num_untrusted && b.chain.len() <= max_depth {
        // leaf trusted directly? (check_trust over an all-untrusted chain: no)
    }
    let num = b.chain.len();
    if !trust {
        let top = Some(b.chain[num - 1]);
        let code = if num > MAX_DEPTH + 1 {
            22
        } else if ss && num == 1 {
            18
        } else if ss {
            19
        } else if b.num_untrusted < num {
            2
        } else {
            20
        };
        errs.push(OsslErr {
            code,
            depth: num - 1,
            cert: top,
        });
    }
    out.trusted = trust;
    let chain = b.chain.clone();
    out.num_untrusted = b.num_untrusted;
    // ---- check_extensions ----
    let mut plen = 0usize;
    // -1 for the leaf; after a proxy certificate 0 (an EE or another proxy must follow),
    // else 1 (a CA must follow).
    let mut must_be_ca = -1;
    let mut proxy_path_length = 0usize;
    for (i, &c) in chain.iter().enumerate() {
        let f = a.get(c);
        let e = |code| OsslErr {
            code,
            depth: i,
            cert: Some(c),
        };
        if unhandled_critical(f) {
            errs.push(e(34));
        }
        // A libssl client never sets X509_V_FLAG_ALLOW_PROXY_CERTS.
        if is_proxy(f) {
            errs.push(e(40));
        }
        let ret = check_ca(f);
        match must_be_ca {
            -1 if strict && ret != 0 && ret != 1 => errs.push(e(79)),
            -1 => {}
            0 if ret != 0 => errs.push(e(37)),
            0 => {}
            _ if ret == 0 || ((i + 1 < num || strict) && ret != 1) => errs.push(e(79)),
            _ => {}
        }
        if num > 1
            && f.info.key_algorithm == crate::x509::KeyAlgorithm::Ec
            && f.spki_curve_oid.is_none()
            && f.spki_params_present
        {
            errs.push(e(94));
        }
        if strict && num > 1 {
            strict_checks(f, i, num, &mut |code| errs.push(e(code)));
        }
        // check_purpose: explicit aux trust of a store certificate trumps its EKU; an
        // explicit reject fails the purpose.
        let tr = if i >= b.num_untrusted {
            b.check_trust(c, true)
        } else {
            Trust::Untrusted
        };
        let purpose_fails = match tr {
            Trust::Trusted => false,
            Trust::Rejected => true,
            Trust::Untrusted => purpose_ok(f, must_be_ca > 0) == 0,
        };
        if purpose_fails {
            errs.push(e(26));
        }
        if let Some(pl) = f.info.basic_constraints.as_ref().and_then(|b| b.path_len) {
            if i > 1 && plen > pl as usize + proxy_path_length {
                errs.push(e(25));
            }
        }
        if i > 0 && !self_issued(f) {
            plen += 1;
        }
        if is_proxy(f) {
            proxy_path_length += 1;
            must_be_ca = 0;
        } else {
            must_be_ca = 1;
        }
    }
    // ---- check_auth_level ----
    if level > 0 {
        for (i, &c) in chain.iter().enumerate() {
            let f = a.get(c);
            if i > 0 && key_secbits(f) < min {
                errs.push(OsslErr {
                    code: 67,
                    depth: i,
                    cert: Some(c),
                });
            }
            if i + 1 < num && sig_secbits(f) < min {
                errs.push(OsslErr {
                    code: 68,
                    depth: i,
                    cert: Some(c),
                });
            }
        }
    }
    // ---- check_id ----
    match peer(name) {
        Peer::None => {}
        Peer::Dns(n) => match name::openssl_check_host(a.get(leaf), n) {
            name::OsslHost::Mismatch => errs.push(OsslErr {
                code: 62,
                depth: 0,
                cert: Some(leaf),
            }),
            name::OsslHost::CommonName => out.cn_fallback = true,
            name::OsslHost::San => {}
        },
        Peer::Ip(ip) => {
            if !name::openssl_check_ip(a.get(leaf), ip) {
                errs.push(OsslErr {
                    code: 64,
                    depth: 0,
                    cert: Some(leaf),
                })
            }
        }
    }
    // ---- internal_verify ----
    let mut n = num as isize - 1;
    let mut xi = chain[n as usize];
    let mut xs;
    let top_self = likely_issued(a, xi, xi);
    let mut skip_sig_top = false;
    if top_self {
        xs = xi;
    } else if n <= 0 {
        errs.push(OsslErr {
            code: 21,
            depth: 0,
            cert: Some(xi),
        });
        xs = xi;
        skip_sig_top = true;
    } else {
        n -= 1;
        xs = chain[n as usize];
    }
    while n >= 0 {
        if xs != xi && !skip_sig_top {
            let xif = a.get(xi);
            let xs_is_ca = xif.info.is_ca();
            let _ = xs_is_ca;
            // A proxy certificate is signed by its EE with a digitalSignature key.
            let (usage, code) = if is_proxy(a.get(xs)) {
                ("digitalSignature", 39)
            } else {
                ("keyCertSign", 32)
            };
            if xif.info.key_usage.is_some() && !xif.info.has_key_usage(usage) {
                errs.push(OsslErr {
                    code,
                    depth: n as usize + 1,
                    cert: Some(xi),
                });
            }
            if a.sig(xs, xi) == SigCheck::Invalid || a.sig(xs, xi) == SigCheck::KeyMismatch {
                errs.push(OsslErr {
                    code: 7,
                    depth: n as usize,
                    cert: Some(xs),
                });
            }
        }
        skip_sig_top = false;
        let f = a.get(xs);
        if f.info.not_before > at {
            errs.push(OsslErr {
                code: 9,
                depth: n as usize,
                cert: Some(xs),
            });
        }
        if f.info.not_after <= at {
            errs.push(OsslErr {
                code: 10,
                depth: n as usize,
                cert: Some(xs),
            });
        }
        n -= 1;
        if n >= 0 {
            xi = xs;
            xs = chain[n as usize];
        }
    }
    // ---- check_name_constraints ----
    for i in (0..num).rev() {
        let x = a.get(chain[i]);
        if i != 0 && self_issued(x) {
            continue;
        }
        for j in ((i + 1)..num).rev() {
            let Some(nc) = &a.get(chain[j]).nc else {
                continue;
            };
            let mut rv = nc_check(x, nc);
            if rv == 0 && i == 0 && x.dns_sans().next().is_none() {
                rv = nc_check_cn(x, nc);
            }
            if rv != 0 {
                errs.push(OsslErr {
                    code: rv,
                    depth: i,
                    cert: Some(chain[i]),
                });
            }
        }
    }
    out.errors = errs;
    out.chain = chain;
    out
}

fn nc_dns(dns: &str, base: &str) -> i32 {
    let (d, b) = (dns.as_bytes(), base.as_bytes());
    if b.is_empty() {
        return 0;
    }
    if d.len() < b.len() {
        return 47;
    }
    let mut off = 0;
    if d.len() > b.len() {
        off = d.len() - b.len();
        if b[0] != b'.' && d[off - 1] != b'.' {
            return 47;
        }
    }
    if !d[off..].eq_ignore_ascii_case(b) {
        return 47;
    }
    0
}

fn nc_email(eml: &str, base: &str) -> i32 {
    let Some(at) = eml.rfind('@') else {
        return 53;
    };
    let (local, dom) = (&eml[..at], &eml[at + 1..]);
    if let Some(bat) = base.rfind('@') {
        let (bl, bd) = (&base[..bat], &base[bat + 1..]);
        if !bl.is_empty() && bl != local {
            return 47;
        }
        if !bd.eq_ignore_ascii_case(dom) {
            return 47;
        }
        return 0;
    }
    if let Some(stripped) = base.strip_prefix('.') {
        if dom.len() > stripped.len() && nc_dns(dom, base) == 0 {
            return 0;
        }
        return 47;
    }
    if !base.eq_ignore_ascii_case(dom) {
        return 47;
    }
    0
}

fn nc_uri(uri: &str, base: &str) -> i32 {
    let Some(rest) = uri.split_once("://").map(|x| x.1) else {
        return 53;
    };
    let host = rest.split([':', '/']).next().unwrap_or("");
    if host.is_empty() {
        return 53;
    }
    if let Some(s) = base.strip_prefix('.') {
        if host.len() > s.len() && host[host.len() - s.len() - 1..].eq_ignore_ascii_case(base) {
            return 0;
        }
        return 47;
    }
    if !host.eq_ignore_ascii_case(base) {
        return 47;
    }
    0
}

fn nc_ip(ip: &[u8], base: &[u8]) -> i32 {
    let hl = ip.len();
    if hl != 4 && hl != 16 {
        return 53;
    }
    if base.len() != 8 && base.len() != 32 {
        return 53;
    }
    if hl * 2 != base.len() {
        return 47;
    }
    for i in 0..hl {
        if ip[i] & base[hl + i] != base[i] {
            return 47;
        }
    }
    0
}

fn gn_kind(g: &Gn) -> u8 {
    match g {
        Gn::Other(_) => 0,
        Gn::Email(_) => 1,
        Gn::Dns(_) => 2,
        Gn::Dir(_) => 4,
        Gn::Uri(_) => 6,
        Gn::Ip(_) => 7,
        Gn::Unsupported => 9,
    }
}

fn nc_match_single(g: &Gn, base: &Gn) -> i32 {
    match (g, base) {
        (Gn::Dns(d), Gn::Dns(b)) => nc_dns(d, b),
        (Gn::Email(d), Gn::Email(b)) => nc_email(d, b),
        (Gn::Uri(d), Gn::Uri(b)) => nc_uri(d, b),
        (Gn::Ip(d), Gn::Ip(b)) => nc_ip(d, b),
        (Gn::Dir(d), Gn::Dir(b)) => {
            // nc_dn: base must be a prefix of the (canonical) name
            let (dc, bc) = (
                canon(d).unwrap_or_else(|| d.clone()),
                canon(b).unwrap_or_else(|| b.clone()),
            );
            if bc.len() > dc.len() || dc[..bc.len()] != bc[..] {
                47
            } else {
                0
            }
        }
        _ => 51,
    }
}

fn nc_match(g: &Gn, nc: &super::facts::Nc) -> i32 {
    let k = gn_kind(g);
    let mut m = 0;
    for sub in &nc.permitted {
        if gn_kind(sub) != k {
            continue;
        }
        if let (Gn::Other(a), Gn::Other(b)) = (g, sub) {
            if a != b {
                continue;
            }
        }
        if m == 2 {
            continue;
        }
        if m == 0 {
            m = 1;
        }
        let r = nc_match_single(g, sub);
        if r == 0 {
            m = 2;
        } else if r != 47 {
            return r;
        }
    }
    if m == 1 {
        return 47;
    }
    for sub in &nc.excluded {
        if gn_kind(sub) != k {
            continue;
        }
        if let (Gn::Other(a), Gn::Other(b)) = (g, sub) {
            if a != b {
                continue;
            }
        }
        let r = nc_match_single(g, sub);
        if r == 0 {
            return 48;
        } else if r != 47 {
            return r;
        }
    }
    0
}

fn nc_check(x: &Facts, nc: &super::facts::Nc) -> i32 {
    let names = x.subject_entries + x.san.len();
    let cons = nc.permitted.len() + nc.excluded.len();
    if names > 0 && cons > NAME_CHECK_MAX / names {
        return 1;
    }
    if x.subject_entries > 0 {
        let r = nc_match(&Gn::Dir(x.info.subject_der.clone()), nc);
        if r != 0 {
            return r;
        }
        for e in &x.subject_emails {
            let r = nc_match(&Gn::Email(e.clone()), nc);
            if r != 0 {
                return r;
            }
        }
    }
    for g in &x.san {
        let r = nc_match(g, nc);
        if r != 0 {
            return r;
        }
    }
    0
}

/// NAME_CONSTRAINTS_check_CN: CNs that look like host names against DNS constraints.
fn nc_check_cn(x: &Facts, nc: &super::facts::Nc) -> i32 {
    for cn in &x.info.subject_cn {
        // cn2dnsid: only CNs that are valid host names with at least one dot
        let b = cn.as_bytes();
        if b.is_empty() || !cn.contains('.') {
            continue;
        }
        let ok = b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_alphanumeric()
                || c == b'_'
                || (c == b'-' && i > 0 && i + 1 < b.len() && b[i - 1] != b'.' && b[i + 1] != b'.')
                || (c == b'.' && i > 0 && i + 1 < b.len() && b[i - 1] != b'.')
        });
        if !ok {
            continue;
        }
        let r = nc_match(&Gn::Dns(cn.to_ascii_lowercase()), nc);
        if r != 0 {
            return r;
        }
    }
    0
}
