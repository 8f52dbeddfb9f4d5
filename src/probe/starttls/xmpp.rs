//! XMPP STARTTLS (RFC 6120 §5): open a stream, wait for `<starttls`, ask, expect `<proceed`.

use super::{Dialogue, ProbeError};
use crate::diagnose::Cause;
use crate::probe::net::Conn;

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
    let open = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>"
    );
    conn.write_d(open.as_bytes(), "XMPP stream")?;
    let features = conn.read_until(64 * 1024, "XMPP stream features", |b| {
        if let Some(i) = find(b, b"</stream:features>") {
            return Some(i + "</stream:features>".len());
        }
        find(b, b"</stream:stream>").map(|i| i + "</stream:stream>".len())
    })?;
    let offered = find(&features, b"<starttls").is_some();
    d.fact("starttls_offered", offered);
    d.greeting = Some(format!(
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
