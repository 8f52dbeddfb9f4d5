//! IMAP STARTTLS (RFC 9051): greeting, `a CAPABILITY`, `b STARTTLS`, `b OK`.

use super::{clean, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::{first_line, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Imap;

impl Protocol for Imap {
    fn code(&self) -> &'static str {
        "imap"
    }
    fn label(&self) -> &'static str {
        "IMAP"
    }
    fn help(&self) -> &'static str {
        "IMAP STARTTLS (RFC 9051)"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("imap", 143), Scheme::implicit("imaps", 993)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[143]
    }
    fn server_speaks_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        (b.starts_with(b"* OK") || b.starts_with(b"* PREAUTH") || b.starts_with(b"* BYE")).then(|| Sniffed {
            what: "IMAP",
            summary: first_line(b),
            dialogue: Some(Starttls::of(&Imap)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
}

/// Read untagged lines until the tagged completion; returns (untagged, tagged line).
fn tagged(conn: &mut Conn, tag: &str, step: &str) -> Result<(Vec<String>, String), ProbeError> {
    let mut untagged = Vec::new();
    loop {
        let line = conn.read_line(16 * 1024, step)?;
        if line.starts_with(&format!("{tag} ")) {
            return Ok((untagged, line));
        }
        untagged.push(line);
        if untagged.len() > 200 {
            return Err(ProbeError::new(Cause::NoTls, format!("{step}: no tagged reply")));
        }
    }
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "imap");
    let greeting = conn.read_line(16 * 1024, "IMAP greeting")?;
    let banner = clean(&greeting);
    d.fact("banner", banner.clone());
    d.greet(format!("IMAP: {banner}"));
    d.confirmed = greeting.starts_with("* ");
    if greeting.starts_with("* BYE") {
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the IMAP server refused the session: {banner}"),
        ));
    }
    if !greeting.starts_with("* OK") {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!("not an IMAP greeting: {banner}"),
        ));
    }
    conn.write_d(b"a CAPABILITY\r\n", "IMAP CAPABILITY")?;
    let (untagged, _) = tagged(conn, "a", "IMAP CAPABILITY")?;
    let caps = untagged
        .iter()
        .find(|l| l.to_ascii_uppercase().starts_with("* CAPABILITY"))
        .map(|l| clean(l))
        .unwrap_or_default();
    let offered = caps
        .to_ascii_uppercase()
        .split_whitespace()
        .any(|c| c == "STARTTLS");
    d.fact("capabilities", caps);
    d.fact("starttls_offered", offered);
    if !offered {
        return Ok(d.refuse(Cause::StarttlsRefused, "the IMAP server does not offer STARTTLS"));
    }
    conn.write_d(b"b STARTTLS\r\n", "IMAP STARTTLS")?;
    let (_, done) = tagged(conn, "b", "IMAP STARTTLS")?;
    if done.to_ascii_uppercase().starts_with("B OK") {
        Ok(d)
    } else {
        Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the IMAP server refused STARTTLS: {}", clean(&done)),
        ))
    }
}
