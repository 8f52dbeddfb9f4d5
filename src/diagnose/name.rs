//! Name matching, per runtime.
//!
//! - Go (`crypto/x509/verify.go` `VerifyHostname`): DNS SANs only, a full left-most `*`
//!   label matches one label, IP names only against IP SANs; the CN is never used (Go ≥
//!   1.15), but the error text mentions it.
//! - OpenSSL (`crypto/x509/v3_utl.c` `X509_check_host`, flags 0): DNS SANs; when there is
//!   no DNS SAN at all, the subject CNs. A wildcard needs two dots after it, may be partial
//!   (`ba*.example.com`), is not allowed in IDNA labels. IP names: IP SANs only.

use std::net::IpAddr;

use super::facts::Facts;

/// Parse a name as an IP address the way the runtimes do (`[v6]` allowed for Go).
pub fn parse_ip(name: &str) -> Option<IpAddr> {
    let n = name
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(name);
    n.parse::<IpAddr>().ok()
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// Go's net.IP.Equal: v4 equals its v4-in-v6 form.
fn ip_equal(a: &[u8], b: &[u8]) -> bool {
    fn norm(x: &[u8]) -> Vec<u8> {
        if x.len() == 16 && x[..10].iter().all(|&b| b == 0) && x[10] == 0xff && x[11] == 0xff {
            x[12..].to_vec()
        } else {
            x.to_vec()
        }
    }
    (a.len() == 4 || a.len() == 16) && (b.len() == 4 || b.len() == 16) && norm(a) == norm(b)
}

fn lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

fn go_valid_hostname(host: &str, pattern: bool) -> bool {
    let host = if pattern {
        host
    } else {
        host.strip_suffix('.').unwrap_or(host)
    };
    if host.is_empty() {
        return false;
    }
    for (i, part) in host.split('.').enumerate() {
        if part.is_empty() {
            return false;
        }
        if pattern && i == 0 && part == "*" {
            continue;
        }
        for (j, c) in part.chars().enumerate() {
            if c.is_ascii_alphanumeric() || (c == '-' && j != 0) || c == '_' {
                continue;
            }
            return false;
        }
    }
    true
}

fn go_match_hostnames(pattern: &str, host: &str) -> bool {
    let pattern = lower(pattern);
    let host = lower(host.strip_suffix('.').unwrap_or(host));
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    let pp: Vec<&str> = pattern.split('.').collect();
    let hp: Vec<&str> = host.split('.').collect();
    if pp.len() != hp.len() {
        return false;
    }
    pp.iter()
        .zip(hp.iter())
        .enumerate()
        .all(|(i, (p, h))| (i == 0 && *p == "*") || p == h)
}

fn go_match_exactly(a: &str, b: &str) -> bool {
    if a.is_empty() || a == "." || b.is_empty() || b == "." {
        return false;
    }
    lower(a) == lower(b)
}

/// Go `VerifyHostname`: Ok or the `HostnameError` text (Go 1.19's rules).
pub fn go_verify_hostname(c: &Facts, h: &str) -> Result<(), String> {
    go_verify_hostname_rules(c, h, false)
}

/// [`go_verify_hostname`]; `bare_wildcard_invalid`: a lone `*` is not a valid pattern
/// (Go ≥ 1.24), so it is compared literally.
pub fn go_verify_hostname_rules(c: &Facts, h: &str, bare_wildcard_invalid: bool) -> Result<(), String> {
    let cand_ip = h
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .filter(|_| h.len() >= 3)
        .unwrap_or(h);
    if let Ok(ip) = cand_ip.parse::<IpAddr>() {
        let b = ip_bytes(ip);
        if c.ip_sans().any(|s| ip_equal(s, &b)) {
            return Ok(());
        }
        return Err(go_hostname_error(c, cand_ip));
    }
    let cand = lower(h);
    let valid_cand = go_valid_hostname(&cand, false);
    for m in c.dns_sans() {
        if valid_cand && go_valid_hostname(m, true) && !(bare_wildcard_invalid && m == "*") {
            if go_match_hostnames(m, &cand) {
                return Ok(());
            }
        } else if go_match_exactly(m, &cand) {
            return Ok(());
        }
    }
    Err(go_hostname_error(c, h))
}

/// `HostnameError.Error()` (verify.go).
fn go_hostname_error(c: &Facts, host: &str) -> String {
    let cn = c.info.subject_cn.last().cloned().unwrap_or_default();
    if c.san_ext.is_none() && go_match_hostnames(&cn, host) {
        return "x509: certificate relies on legacy Common Name field, use SANs instead".into();
    }
    let valid;
    if let Ok(_ip) = host.parse::<IpAddr>() {
        let ips: Vec<String> = c
            .ip_sans()
            .filter(|b| b.len() == 4 || b.len() == 16)
            .map(go_ip_string)
            .collect();
        if ips.is_empty() {
            return format!(
                "x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
            );
        }
        valid = ips.join(", ");
    } else {
        valid = c.dns_sans().collect::<Vec<_>>().join(", ");
    }
    if valid.is_empty() {
        return format!("x509: certificate is not valid for any names, but wanted to match {host}");
    }
    format!("x509: certificate is valid for {valid}, not {host}")
}

/// net.IP.String()
pub fn go_ip_string(b: &[u8]) -> String {
    if b.len() == 4 {
        return std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string();
    }
    if b.len() == 16 {
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        let v6 = std::net::Ipv6Addr::from(a);
        if let Some(v4) = v6.to_ipv4_mapped() {
            return v4.to_string();
        }
        return v6.to_string();
    }
    format!("?{}", hex::encode(b))
}

// ---- OpenSSL ----

const LABEL_START: u8 = 1;
const LABEL_IDNA: u8 = 2;
const LABEL_HYPHEN: u8 = 4;

fn valid_star(p: &[u8]) -> Option<usize> {
    let mut star = None;
    let mut state = LABEL_START;
    let mut dots = 0;
    let len = p.len();
    for i in 0..len {
        let c = p[i];
        if c == b'*' {
            let atstart = state & LABEL_START != 0;
            let atend = i == len - 1 || p[i + 1] == b'.';
            if star.is_some() || state & LABEL_IDNA != 0 || dots > 0 {
                return None;
            }
            if !atstart && !atend {
                return None;
            }
            star = Some(i);
            state &= !LABEL_START;
        } else if c.is_ascii_alphanumeric() {
            if state & LABEL_START != 0 && len - i >= 4 && p[i..i + 4].eq_ignore_ascii_case(b"xn--") {
                state |= LABEL_IDNA;
            }
            state &= !(LABEL_HYPHEN | LABEL_START);
        } else if c == b'.' {
            if state & (LABEL_HYPHEN | LABEL_START) != 0 {
                return None;
            }
            state = LABEL_START;
            dots += 1;
        } else if c == b'-' {
            if state & LABEL_START != 0 {
                return None;
            }
            state |= LABEL_HYPHEN;
        } else {
            return None;
        }
    }
    if state & (LABEL_START | LABEL_HYPHEN) != 0 || dots < 2 {
        return None;
    }
    star
}

fn equal_nocase(p: &[u8], s: &[u8]) -> bool {
    if p.len() != s.len() {
        return false;
    }
    p.iter()
        .zip(s)
        .all(|(&l, &r)| l != 0 && l.eq_ignore_ascii_case(&r))
}

fn wildcard_match(prefix: &[u8], suffix: &[u8], subject: &[u8]) -> bool {
    if subject.len() < prefix.len() + suffix.len() {
        return false;
    }
    if !equal_nocase(prefix, &subject[..prefix.len()]) {
        return false;
    }
    let ws = prefix.len();
    let we = subject.len() - suffix.len();
    if !equal_nocase(&subject[we..], suffix) {
        return false;
    }
    let mut allow_idna = false;
    if prefix.is_empty() && suffix.first() == Some(&b'.') {
        if ws == we {
            return false;
        }
        allow_idna = true;
    }
    if !allow_idna && subject.len() >= 4 && subject[..4].eq_ignore_ascii_case(b"xn--") {
        return false;
    }
    if we == ws + 1 && subject[ws] == b'*' {
        return true;
    }
    subject[ws..we]
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
}

/// OpenSSL `equal_wildcard`.
pub fn openssl_equal_wildcard(pattern: &[u8], subject: &[u8]) -> bool {
    let star = if !(subject.len() > 1 && subject[0] == b'.') {
        valid_star(pattern)
    } else {
        None
    };
    match star {
        None => equal_nocase(pattern, subject),
        Some(i) => wildcard_match(&pattern[..i], &pattern[i + 1..], subject),
    }
}

/// How OpenSSL matched (or not) a host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsslHost {
    San,
    /// Matched only through the subject CN (no DNS SAN present).
    CommonName,
    Mismatch,
}

/// `X509_check_host(x, name, 0, 0, NULL)`.
pub fn openssl_check_host(c: &Facts, name: &str) -> OsslHost {
    let n = name.as_bytes();
    let mut san_present = false;
    for d in c.dns_sans() {
        san_present = true;
        if openssl_equal_wildcard(d.as_bytes(), n) {
            return OsslHost::San;
        }
    }
    if san_present {
        return OsslHost::Mismatch;
    }
    for cn in &c.info.subject_cn {
        if openssl_equal_wildcard(cn.as_bytes(), n) {
            return OsslHost::CommonName;
        }
    }
    OsslHost::Mismatch
}

/// `X509_check_ip`: IP SANs only.
pub fn openssl_check_ip(c: &Facts, ip: IpAddr) -> bool {
    let b = ip_bytes(ip);
    c.ip_sans().any(|s| s == b.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_wildcards() {
        assert!(openssl_equal_wildcard(b"*.example.com", b"foo.example.com"));
        assert!(!openssl_equal_wildcard(b"*.example.com", b"a.b.example.com"));
        assert!(!openssl_equal_wildcard(b"*.com", b"example.com"));
        assert!(openssl_equal_wildcard(b"ba*.example.com", b"baz.example.com"));
        assert!(!openssl_equal_wildcard(b"f*o.example.com", b"foo.example.com"));
        assert!(!openssl_equal_wildcard(b"*", b"com"));
    }

    #[test]
    fn go_wildcards() {
        assert!(go_match_hostnames("*.example.com", "foo.example.com"));
        assert!(!go_match_hostnames("*.example.com", "a.b.example.com"));
        assert!(go_match_hostnames("*.com", "example.com"));
        assert!(!go_valid_hostname("ba*.example.com", true));
    }
}
