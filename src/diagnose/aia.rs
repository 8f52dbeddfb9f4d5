//! Fetch a certificate's AIA caIssuers URL: one plain-HTTP GET, bounded in size and time,
//! through the same proxy rules as `connect` (an explicit `--proxy`, `--no-proxy`, else the
//! World's HTTP_PROXY/http_proxy with NO_PROXY, never for loopback). Only `http://` is
//! fetched: CAs publish caIssuers over HTTP precisely because fetching it over HTTPS would
//! need the trust being diagnosed.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use super::evidence::AiaFetch;
use crate::probe::net::{connect_any, resolve, use_proxy, ProxyUrl};
use crate::probe::{Deadline, ProxyChoice};
use crate::world::World;
use crate::x509::CertInfo;

/// Most bytes read from an AIA URL (header and body): a CA certificate or a small PKCS#7
/// bundle is a few KiB.
pub const MAX_BYTES: usize = 64 * 1024;
/// Longest an AIA fetch may take, whatever the connect budget.
pub const MAX_TIME: Duration = Duration::from_secs(5);

/// Fetch `url` and decode the certificates it serves.
pub fn fetch(url: &str, world: &World, proxy: &ProxyChoice, timeout: Duration) -> AiaFetch {
    let fail = |reason: String| AiaFetch::Failed {
        url: url.to_string(),
        reason,
    };
    let Some(rest) = url.strip_prefix("http://").or_else(|| {
        url.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
    }) else {
        return AiaFetch::NotFetched {
            url: url.to_string(),
            reason: "only http:// caIssuers URLs are fetched".into(),
        };
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match split_host_port(authority) {
        Some(hp) => hp,
        None => return fail(format!("bad host in URL: {authority:?}")),
    };
    let deadline = Deadline::after(timeout.clamp(Duration::from_millis(100), MAX_TIME));
    let via: Option<ProxyUrl> = match proxy {
        ProxyChoice::Never => None,
        ProxyChoice::Explicit(u) => match ProxyUrl::parse(u) {
            Ok(p) => Some(p),
            Err(e) => return fail(e.message),
        },
        ProxyChoice::FromEnv => match proxy_url_for_http(world, &host, port) {
            Ok(p) => p,
            Err(e) => return fail(e.message),
        },
    };
    let (connect_host, connect_port) = match &via {
        Some(p) => (p.host.clone(), p.port),
        None => (host.clone(), port),
    };
    let addrs = match resolve(&connect_host, connect_port, &deadline) {
        Ok(a) => a,
        Err(e) => return fail(e.message),
    };
    let (mut stream, _) = match connect_any(&addrs, &deadline) {
        Ok(s) => s,
        Err(e) => return fail(e.message),
    };
    let target = match &via {
        // Absolute form through a proxy.
        Some(_) => format!("http://{authority}{path}"),
        None => path.to_string(),
    };
    let mut req = format!(
        "GET {target} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: tlsdoctor\r\nAccept: */*\r\nConnection: close\r\n"
    );
    if let Some(ui) = via.as_ref().and_then(|p| p.userinfo.as_ref()) {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(ui.as_bytes());
        req.push_str(&format!("Proxy-Authorization: Basic {b}\r\n"));
    }
    req.push_str("\r\n");
    let remaining = |d: &Deadline| d.remaining("AIA fetch").map_err(|e| e.message);
    match remaining(&deadline) {
        Ok(t) => {
            let _ = stream.set_write_timeout(Some(t));
        }
        Err(e) => return fail(e),
    }
    if let Err(e) = stream.write_all(req.as_bytes()) {
        return fail(crate::probe::net::short_io(&e));
    }
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match remaining(&deadline) {
            Ok(t) => {
                let _ = stream.set_read_timeout(Some(t));
            }
            Err(e) => return fail(e),
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if data.len() > MAX_BYTES {
                    return fail(format!("the answer exceeds {} KiB", MAX_BYTES / 1024));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return fail(format!(
                    "no complete answer within {}",
                    crate::probe::fmt_duration(deadline.total())
                ))
            }
            Err(e) => return fail(crate::probe::net::short_io(&e)),
        }
    }
    let Some(split) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return fail("not an HTTP answer".into());
    };
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let body = &data[split + 4..];
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return fail(format!(
            "HTTP {}",
            crate::report::sanitize::sanitize(status.split_once(' ').map(|x| x.1).unwrap_or(status))
        ));
    }
    let certs = decode(body);
    if certs.is_empty() {
        return fail(format!(
            "the {} bytes served are not a certificate (DER, PEM or PKCS#7)",
            body.len()
        ));
    }
    AiaFetch::Fetched {
        url: url.to_string(),
        certs,
    }
}

/// Go's `http.ProxyFromEnvironment` for an `http` request: HTTP_PROXY (then http_proxy),
/// unless NO_PROXY (then no_proxy) excludes the host; never for loopback.
fn proxy_url_for_http(
    world: &World,
    host: &str,
    port: u16,
) -> Result<Option<ProxyUrl>, crate::probe::ProbeError> {
    let any = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| world.var_nonempty(n).map(str::to_string))
    };
    let Some(proxy) = any(&["HTTP_PROXY", "http_proxy"]) else {
        return Ok(None);
    };
    let no_proxy = any(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    if !use_proxy(&no_proxy, host, port) {
        return Ok(None);
    }
    ProxyUrl::parse(&proxy).map(Some)
}

fn split_host_port(a: &str) -> Option<(String, u16)> {
    let a = a.rsplit_once('@').map_or(a, |x| x.1);
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        return Some((h.to_string(), port));
    }
    match a.split_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_string(), p.parse().ok()?)),
        None if !a.is_empty() => Some((a.to_string(), 80)),
        _ => None,
    }
}

/// The certificates in a caIssuers answer: one DER certificate (RFC 5280 4.2.2.1), a
/// "certs-only" PKCS#7 SignedData (`.p7c`), or PEM.
pub fn decode(body: &[u8]) -> Vec<Arc<CertInfo>> {
    if let Ok(c) = CertInfo::from_der(body) {
        return vec![Arc::new(c)];
    }
    if let Some(v) = pkcs7_certs(body) {
        return v;
    }
    crate::commands::inspect::decode_bundle(body)
        .into_iter()
        .filter_map(|b| b.result.ok())
        .collect()
}

/// A hand-written walk because no linked crate reads PKCS#7: ContentInfo { OID signedData,
/// [0] SignedData { version, digestAlgorithms, encapContentInfo, [0] IMPLICIT certificates } }.
fn pkcs7_certs(body: &[u8]) -> Option<Vec<Arc<CertInfo>>> {
    use crate::trust::der::{children, read_tlv};
    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let (ci, _) = read_tlv(body)?;
    let parts = children(ci.content)?;
    if parts.len() < 2 || parts[0].tag != 0x06 || parts[0].content != SIGNED_DATA || parts[1].tag != 0xa0 {
        return None;
    }
    let (sd, _) = read_tlv(parts[1].content)?;
    let fields = children(sd.content)?;
    let certs = fields.iter().find(|f| f.tag == 0xa0)?;
    // Re-encode each certificate from its content (children only gives the content).
    let mut out = vec![];
    let mut rest = certs.content;
    while !rest.is_empty() {
        let (t, r) = read_tlv(rest)?;
        let full = &rest[..rest.len() - r.len()];
        if t.tag == 0x30 {
            if let Ok(c) = CertInfo::from_der(full) {
                out.push(Arc::new(c));
            }
        }
        rest = r;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("ca.example"), Some(("ca.example".into(), 80)));
        assert_eq!(
            split_host_port("127.0.0.1:8080"),
            Some(("127.0.0.1".into(), 8080))
        );
        assert_eq!(split_host_port("[::1]:81"), Some(("::1".into(), 81)));
        assert_eq!(split_host_port("[::1]"), Some(("::1".into(), 80)));
        assert_eq!(split_host_port(":80"), None);
        assert_eq!(split_host_port("h:x"), None);
    }

    #[test]
    fn non_http_urls_are_not_fetched() {
        let w = World::fixture("/nonexistent", &[]);
        let r = fetch(
            "ldap://ca.example/cn=x",
            &w,
            &ProxyChoice::Never,
            Duration::from_secs(1),
        );
        assert!(matches!(r, AiaFetch::NotFetched { .. }), "{r:?}");
        let r = fetch(
            "https://ca.example/x.crt",
            &w,
            &ProxyChoice::Never,
            Duration::from_secs(1),
        );
        assert!(matches!(r, AiaFetch::NotFetched { .. }), "{r:?}");
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(decode(b"hello").is_empty());
        assert!(decode(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_empty());
    }
}
