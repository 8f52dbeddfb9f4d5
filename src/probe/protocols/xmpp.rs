//! XMPP STARTTLS (RFC 6120 §5): open a stream, wait for `<starttls`, ask, expect `<proceed`.

use super::{clean, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::{first_line, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Xmpp;

impl Protocol for Xmpp {
    fn code(&self) -> &'static str {
        "xmpp"
    }
    fn label(&self) -> &'static str {
        "XMPP"
    }
    fn help(&self) -> &'static str {
        "XMPP client STARTTLS (RFC 6120); the stream is opened to --xmpp-domain"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("xmpp", 5222), Scheme::implicit("xmpps", 5223)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[5222]
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        (b.starts_with(b"<?xml") || b.starts_with(b"<stream:")).then(|| Sniffed {
            what: "XMPP",
            summary: first_line(b),
            dialogue: Some(Starttls::of(&Xmpp)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        // The stream's `to` is the XMPP domain, which is often not the host connected to
        // (SRV records): --xmpp-domain, else the name verified, else the host.
        let domain = cx.xmpp_domain.or(cx.name).unwrap_or(cx.target.host.as_str());
        run(conn, domain)
    }
}

/// The defined condition of a `<stream:error>` (`host-unknown`, …) and its text, if any.
fn stream_error(b: &[u8]) -> Option<(String, String)> {
    let start = find(b, b"<stream:error")?;
    let body = &b[start..];
    let end = find(body, b"</stream:error>").unwrap_or(body.len());
    let body = &body[..end];
    let gt = find(body, b">")? + 1;
    let inner = &body[gt..];
    let lt = find(inner, b"<")? + 1;
    let name: String = inner[lt..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
        .map(|&c| c as char)
        .collect();
    let text = find(inner, b"<text")
        .and_then(|t| {
            let after = &inner[t..];
            let open = find(after, b">")? + 1;
            let close = find(after, b"</text>")?;
            (close > open).then(|| clean(&String::from_utf8_lossy(&after[open..close])))
        })
        .unwrap_or_default();
    (!name.is_empty()).then_some((name, text))
}

/// The domain as it goes into an XML attribute.
fn xml_attr(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '\'' => "&apos;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// End of the element starting at `start`: after `/>` or after `</name>`.
fn element_end(b: &[u8], start: usize, name: &[u8]) -> Option<usize> {
    let gt = start + find(&b[start..], b">")?;
    if b[gt - 1] == b'/' {
        return Some(gt + 1);
    }
    let mut close = b"</".to_vec();
    close.extend_from_slice(name);
    let c = gt + find(&b[gt..], &close)?;
    let end = c + find(&b[c..], b">")?;
    Some(end + 1)
}

pub fn run(conn: &mut Conn, domain: &str) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "xmpp");
    d.fact("xmpp_domain", clean(domain));
    let open = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
        xml_attr(domain)
    );
    conn.write_d(open.as_bytes(), "XMPP stream")?;
    let features = conn.read_until(64 * 1024, "XMPP stream features", |b| {
        if let Some(i) = find(b, b"</stream:features>") {
            return Some(i + "</stream:features>".len());
        }
        find(b, b"</stream:stream>").map(|i| i + "</stream:stream>".len())
    })?;
    d.confirmed =
        find(&features, b"<stream:stream").is_some() || find(&features, b"<stream:features").is_some();
    if let Some((condition, text)) = stream_error(&features) {
        d.fact("stream_error", condition.clone());
        d.greet(format!("XMPP: stream error <{condition}/>"));
        let why = match condition.as_str() {
            "host-unknown" => format!(
                " — the server does not serve the XMPP domain '{}': give the domain with \
                 --xmpp-domain (default: --name, else the host connected to)",
                clean(domain)
            ),
            _ => String::new(),
        };
        let text = if text.is_empty() {
            String::new()
        } else {
            format!(" ({text})")
        };
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the XMPP server closed the stream with <{condition}/>{text}{why}"),
        ));
    }
    let offered = find(&features, b"<starttls").is_some();
    d.fact("starttls_offered", offered);
    d.greet(format!(
        "XMPP: stream features{}",
        if offered { " with starttls" } else { "" }
    ));
    if !offered {
        return Ok(d.refuse(Cause::StarttlsRefused, "the XMPP server does not offer STARTTLS"));
    }
    conn.write_d(
        b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        "XMPP starttls",
    )?;
    let answer = conn.read_until(16 * 1024, "XMPP starttls answer", |b| {
        if let Some(i) = find(b, b"<proceed") {
            return element_end(b, i, b"proceed");
        }
        find(b, b"<failure").and_then(|i| element_end(b, i, b"failure"))
    })?;
    if find(&answer, b"<proceed").is_some() {
        Ok(d)
    } else {
        Ok(d.refuse(
            Cause::StarttlsRefused,
            "the XMPP server answered <failure/> to starttls",
        ))
    }
}
