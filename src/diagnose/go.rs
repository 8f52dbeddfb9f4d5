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
        _ => "0".into(),
    }
}

/// Known to Go's signatureAlgorithmDetails?
fn sig_alg_known(f: &Facts) -> bool {
    sig_alg_string(f) != "0" || f.sig_oid == "1.2.840.113549.1.1.10"
}

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

/// `x509.ParseCertificate` errors this emulation detects (parser.go). None = parses.
pub fn parse_error(f: &Facts) -> Option<String> {
    let info = &f.info;
    if f.tbs.is_empty() {
        return Some("x509: malformed certificate".into());
    }
    if f.sig_oid != f.inner_sig_oid || f.sig_params != f.inner_sig_params {
        return Some("x509: inner and outer signature algorithm identifiers don't match".into());
    }
    match info.key_algorithm {
        crate::x509::KeyAlgorithm::Rsa if info.key_bits == 0 => {
            return Some("x509: invalid RSA public key".into());
        }
        crate::x509::KeyAlgorithm::Ec => match f.spki_curve_oid.as_deref() {
            None => return Some("x509: invalid ECDSA parameters".into()),
            Some("1.2.840.10045.3.1.7" | "1.3.132.0.34" | "1.3.132.0.35" | "1.3.132.0.33") => {}
            Some(_) => return Some("x509: unsupported elliptic curve".into()),
        },
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    for e in &f.exts {
        if !seen.insert(e.oid.clone()) {
            return Some("x509: certificate contains duplicate extensions".into());
        }
    }
    for e in &f.exts {
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
                                if reverse_labels(t).is_none() {
                                    return Some(format!(
                                        "x509: failed to parse dnsName constraint {}",
                                        go_quote(d)
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

fn match_domain_constraint(domain: &str, constraint: &str) -> Result<bool, String> {
    if constraint.is_empty() {
        return Ok(true);
    }
    let dl = reverse_labels(domain)
        .ok_or_else(|| format!("x509: internal error: cannot parse domain {}", go_quote(domain)))?;
    let (must_sub, c) = match constraint.strip_prefix('.') {
        Some(c) => (true, c),
        None => (false, constraint),
    };
    let cl = reverse_labels(c)
        .ok_or_else(|| format!("x509: internal error: cannot parse domain {}", go_quote(c)))?;
    if dl.len() < cl.len() || (must_sub && dl.len() == cl.len()) {
        return Ok(false);
    }
    Ok(cl.iter().zip(dl.iter()).all(|(a, b)| a.eq_ignore_ascii_case(b)))
}

fn parse_mailbox(s: &str) -> Option<(String, String)> {
    let i = s.rfind('@')?;
    let (l, d) = (&s[..i], &s[i + 1..]);
    if l.is_empty() {
        return None;
    }
    Some((l.to_string(), d.to_string()))
}

fn match_email_constraint(mb: &(String, String), c: &str) -> Result<bool, String> {
    if c.contains('@') {
        let cm = parse_mailbox(c)
            .ok_or_else(|| format!("x509: internal error: cannot parse constraint {}", go_quote(c)))?;
        return Ok(mb.0 == cm.0 && mb.1.eq_ignore_ascii_case(&cm.1));
    }
    match_domain_constraint(&mb.1, c)
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

fn match_uri_constraint(u: &str, c: &str) -> Result<bool, String> {
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
    match_domain_constraint(&host, c)
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
            let leaf = chain[0];
            let mut to_check = vec![];
            if self.f(leaf).san_ext.is_some() {
                to_check.push(leaf);
            }
            if f.san_ext.is_some() {
                to_check.push(c);
            }
            let mut count = 0usize;
            for sc in to_check {
                for g in &self.f(sc).san {
                    match g {
                        Gn::Email(name) => {
                            let Some(mb) = parse_mailbox(name) else {
                                return Err(GoErr::new(
                                    format!("x509: cannot parse rfc822Name {}", go_quote(name)),
                                    Cause::NameConstraints,
                                    Some(c),
                                ));
                            };
                            self.check_nc(c, &mut count, "email address", name, &|g| match g {
                                Gn::Email(k) => Some(match_email_constraint(&mb, k)),
                                _ => None,
                            })?;
                        }
                        Gn::Dns(name) => {
                            if reverse_labels(name).is_none() {
                                return Err(GoErr::new(
                                    format!("x509: cannot parse dnsName {}", go_quote(name)),
                                    Cause::NameConstraints,
                                    Some(c),
                                ));
                            }
                            self.check_nc(c, &mut count, "DNS name", name, &|g| match g {
                                Gn::Dns(k) => Some(match_domain_constraint(name, k)),
                                _ => None,
                            })?;
                        }
                        Gn::Uri(name) => {
                            self.check_nc(c, &mut count, "URI", name, &|g| match g {
                                Gn::Uri(k) => Some(match_uri_constraint(name, k)),
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
        if !matches!(
            p.info.key_algorithm,
            crate::x509::KeyAlgorithm::Rsa
                | crate::x509::KeyAlgorithm::Ec
                | crate::x509::KeyAlgorithm::Ed25519
        ) {
            return Err(unsupported());
        }
        if !sig_alg_known(cf) {
            return Err(unsupported());
        }
        match cf.info.signature_hash.as_str() {
            "MD5" | "SHA1" => {
                let name = sig_alg_string(cf);
                let ov = if name == "SHA1-RSA" || name == "ECDSA-SHA1" {
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
        match self.arena.sig(child, parent) {
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
    let mut out = GoOutcome::default();
    // crypto/tls: parse every certificate the server sent.
    for &p in presented {
        if let Some(e) = parse_error(arena.get(p)) {
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
        if parse_error(arena.get(r)).is_none() && !rootv.contains(&r) {
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
    };
    let mut first: Option<GoErr> = None;
    if let Err(e) = ctx.is_valid(leaf, CertType::Leaf, &[]) {
        out.all.push(e.clone());
        first.get_or_insert(e);
    }
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        if let Err(m) = name::go_verify_hostname(arena.get(leaf), n) {
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
    if first.is_none() {
        // crypto/tls: only RSA, ECDSA and Ed25519 server keys.
        let lf = arena.get(leaf);
        let kind = match lf.info.key_algorithm {
            crate::x509::KeyAlgorithm::Rsa
            | crate::x509::KeyAlgorithm::Ec
            | crate::x509::KeyAlgorithm::Ed25519 => None,
            crate::x509::KeyAlgorithm::Dsa => Some("*dsa.PublicKey"),
            crate::x509::KeyAlgorithm::Ed448 | crate::x509::KeyAlgorithm::Other => Some("<nil>"),
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
        }
    } else {
        out.chain = None;
    }
    out.error = first;
    out
}
