//! Target syntax: `host`, `host:port`, `[v6]:port`, bare IPv6, or a URL whose scheme implies
//! the port and the pre-TLS dialogue.

use std::net::IpAddr;

use anyhow::{bail, Context as _};

pub use super::protocols::Starttls;

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (no brackets).
    pub host: String,
    pub port: u16,
    /// The requested dialogue (`Auto` unless a flag or scheme fixed it).
    pub starttls: Starttls,
    /// The URL scheme, lowercased, if the target was a URL.
    pub scheme: Option<String>,
    /// The dialogue implied by the scheme, if any.
    pub scheme_starttls: Option<Starttls>,
    /// The URL's query parameters, percent-decoded, in order (`sslmode=verify-full`):
    /// what a database client reads from its connection URL.
    pub params: Vec<(String, String)>,
}

/// `application/x-www-form-urlencoded`-style decoding of one query component (`%XX`,
/// `+` as a space), as libpq's and the Go drivers' URL parsers do; a malformed escape is
/// kept as written. Hand-written: the one place that needs it, and no URL crate is linked.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's `key=value` pairs, decoded.
fn query_params(query: &str) -> Vec<(String, String)> {
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

impl Target {
    /// Parse a target as typed on the command line. `starttls` is the flag (Auto unless given).
    pub fn parse(input: &str, starttls: Starttls) -> anyhow::Result<Target> {
        let s = input.trim();
        if s.is_empty() {
            bail!("empty target: expected host, host:port, [v6]:port or a URL");
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            bail!("target {input:?} contains whitespace or control characters");
        }
        let (scheme, rest) = match s.find("://") {
            Some(i) => (Some(s[..i].to_ascii_lowercase()), &s[i + 3..]),
            None => (None, s),
        };
        let mut scheme_starttls = None;
        let mut default_port = 443;
        let mut query = "";
        let authority = if let Some(sc) = &scheme {
            if sc == "http" || sc == "ws" {
                bail!("{input}: {sc}:// is plaintext, there is no TLS to examine (did you mean https://?)");
            }
            let (port, dlg) = Starttls::for_scheme(sc).with_context(|| {
                format!(
                    "{input}: unknown URL scheme {sc:?} (known: {}; or give host:port with --starttls)",
                    Starttls::scheme_names().join(", ")
                )
            })?;
            default_port = port;
            scheme_starttls = Some(dlg);
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            if let Some(q) = rest.find('?') {
                query = &rest[q + 1..];
            }
            let auth = &rest[..end];
            // userinfo@host: take the part after the last '@'.
            match auth.rfind('@') {
                Some(i) => &auth[i + 1..],
                None => auth,
            }
        } else {
            if s.contains(['/', '?', '#', '@']) {
                bail!("target {input:?}: expected host, host:port, [v6]:port or a URL with a scheme");
            }
            rest
        };
        let (host, port) = split_host_port(authority).with_context(|| format!("target {input:?}"))?;
        let port = port.unwrap_or(default_port);
        // A URL option that selects a protocol's variant (libpq's sslnegotiation=direct,
        // go-mssqldb's encrypt=strict).
        if let Some(v) = scheme_starttls.and_then(|d| d.unit().url_variant(query)) {
            scheme_starttls = Some(v);
        }
        let host = host.trim_end_matches('.').to_string();
        if host.is_empty() {
            bail!("target {input:?}: no host");
        }
        if host.parse::<IpAddr>().is_err() && !valid_hostname(&host) {
            bail!("target {input:?}: {host:?} is neither an IP address nor a valid host name");
        }
        Ok(Target {
            host,
            port,
            starttls,
            scheme,
            scheme_starttls,
            params: query_params(query),
        })
    }

    /// The dialogue to speak: the flag, else the scheme's, else the well-known port's.
    pub fn effective_starttls(&self) -> Starttls {
        if self.starttls == Starttls::Auto {
            self.scheme_starttls
                .unwrap_or_else(|| Starttls::for_port(self.port))
        } else {
            self.starttls
        }
    }

    /// Whether HTTPS_PROXY applies (Go's ProxyFromEnvironment is for HTTPS requests): an
    /// `https://` URL, or a scheme-less target spoken to with plain TLS.
    pub fn proxy_eligible(&self) -> bool {
        match self.scheme.as_deref() {
            Some("https") | Some("wss") => true,
            Some(_) => false,
            None => self.effective_starttls() == Starttls::None,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port` with brackets for IPv6.
    pub fn host_port(&self) -> String {
        match self.ip() {
            Some(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

fn split_host_port(a: &str) -> anyhow::Result<(String, Option<u16>)> {
    if let Some(rest) = a.strip_prefix('[') {
        let close = rest.find(']').context("missing ']' after an IPv6 address")?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let ip: std::net::Ipv6Addr = host
            .split('%')
            .next()
            .unwrap_or_default()
            .parse()
            .with_context(|| format!("{host:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(parse_port(
                p.strip_prefix(':').context("expected ':' after ']'")?,
            )?),
        };
        return Ok((ip.to_string(), port));
    }
    match a.matches(':').count() {
        0 => Ok((a.to_string(), None)),
        1 => {
            let (h, p) = a.split_once(':').unwrap_or((a, ""));
            Ok((h.to_string(), Some(parse_port(p)?)))
        }
        _ => {
            let ip: std::net::Ipv6Addr = a
                .parse()
                .with_context(|| format!("{a:?}: put IPv6 addresses in brackets: [addr]:port"))?;
            Ok((ip.to_string(), None))
        }
    }
}

fn parse_port(p: &str) -> anyhow::Result<u16> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("invalid port {p:?}: expected 1-65535"),
    }
}

fn valid_hostname(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The target as typed, with a URL password replaced by `***` (`postgres://app:***@db/x`),
/// for reports and logs that CI keeps: a spec's `target` may carry credentials.
pub fn redact_password(target: &str) -> String {
    let Some(start) = target.find("://").map(|i| i + 3) else {
        return target.to_string();
    };
    let rest = &target[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return target.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &target[..start], &rest[..colon], &rest[at..]),
        None => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_for_reports() {
        assert_eq!(
            redact_password("postgres://app:s3cr%40t@db.example:5432/x?sslmode=require"),
            "postgres://app:***@db.example:5432/x?sslmode=require"
        );
        assert_eq!(redact_password("mysql://u:p@h"), "mysql://u:***@h");
        assert_eq!(redact_password("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_password("https://h/a@b:c"), "https://h/a@b:c");
        assert_eq!(redact_password("db.example:5432"), "db.example:5432");
    }

    fn d(code: &str) -> Starttls {
        Starttls::from_code(code).unwrap()
    }

    #[test]
    fn url_parameters_are_decoded_in_order() {
        let t = p(
            "postgres://u:pw@db.test/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%20ca.crt&x&%zz=1#frag",
        );
        assert_eq!(
            t.params,
            vec![
                ("sslmode".to_string(), "verify-full".to_string()),
                ("sslrootcert".to_string(), "/etc/pg ca.crt".to_string()),
                ("x".to_string(), String::new()),
                ("%zz".to_string(), "1".to_string()),
            ]
        );
        assert!(p("db.test:5432").params.is_empty());
        assert_eq!(percent_decode("%e2%82%ac%"), "€%");
    }

    fn p(s: &str) -> Target {
        Target::parse(s, Starttls::Auto).unwrap()
    }

    #[test]
    fn forms() {
        let t = p("example.com");
        assert_eq!(
            (t.host.as_str(), t.port, t.effective_starttls()),
            ("example.com", 443, Starttls::None)
        );
        let t = p("db.example.com:5432");
        assert_eq!((t.port, t.effective_starttls()), (5432, d("postgres")));
        let t = p("[::1]:8443");
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.host_port(), "[::1]:8443");
        let t = p("::1");
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        let t = p("postgres://user:pw@db.internal/app?sslmode=verify-full");
        assert_eq!(
            (t.host.as_str(), t.port, t.effective_starttls()),
            ("db.internal", 5432, d("postgres"))
        );
        let t = p("postgresql://db:6543/x?sslnegotiation=direct");
        assert_eq!((t.port, t.effective_starttls()), (6543, d("postgres-direct")));
        let t = p("mysql://root@10.0.0.5");
        assert_eq!(
            (t.host.as_str(), t.port, t.effective_starttls()),
            ("10.0.0.5", 3306, d("mysql"))
        );
        let t = p("smtp://mail.example.com:587");
        assert_eq!(t.effective_starttls(), d("smtp"));
        let t = p("ldaps://dc1");
        assert_eq!((t.port, t.effective_starttls()), (636, Starttls::None));
        let t = p("HTTPS://Example.com./path");
        assert_eq!((t.host.as_str(), t.port), ("Example.com", 443));
        let t = Target::parse("h:3306", Starttls::None).unwrap();
        assert_eq!(t.effective_starttls(), Starttls::None);
        assert_eq!(p("mail:25").effective_starttls(), d("smtp"));
        assert_eq!(p("h:389").effective_starttls(), d("ldap"));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "host:0",
            "host:99999",
            "host:x",
            "[::1",
            "[nope]:1",
            "http://x",
            "gopher://x",
            "a b",
            "host/path",
            "1::2::3",
            "bad..name",
        ] {
            assert!(
                Target::parse(bad, Starttls::Auto).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn proxy_eligibility() {
        assert!(p("https://x").proxy_eligible());
        assert!(p("x:8443").proxy_eligible());
        assert!(!p("x:5432").proxy_eligible());
        assert!(!p("mysql://x").proxy_eligible());
    }
}
