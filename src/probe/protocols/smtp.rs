//! SMTP STARTTLS (RFC 3207): 220 greeting, EHLO, STARTTLS, 220.

use super::{clean, read_numeric_reply, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::{first_line, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Smtp;

impl Protocol for Smtp {
    fn code(&self) -> &'static str {
        "smtp"
    }
    fn label(&self) -> &'static str {
        "SMTP"
    }
    fn help(&self) -> &'static str {
        "SMTP STARTTLS (RFC 3207)"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[
            Scheme::dialogue("smtp", 25),
            Scheme::dialogue("submission", 587),
            Scheme::implicit("smtps", 465),
        ];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[25, 587]
    }
    fn server_speaks_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        // A 220 greeting that does not name FTP (the FTP unit, earlier in the registry,
        // takes those).
        (b.len() >= 4 && &b[..3] == b"220" && matches!(b[3], b' ' | b'-')).then(|| Sniffed {
            what: "SMTP",
            summary: first_line(b),
            dialogue: Some(Starttls::of(&Smtp)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "smtp");
    let (code, lines) = read_numeric_reply(conn, "SMTP greeting")?;
    let banner = clean(lines.first().map(String::as_str).unwrap_or_default());
    d.fact("banner", banner.clone());
    d.greet(format!("SMTP: {banner}"));
    d.confirmed = true;
    if code != 220 {
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the SMTP server refused the session: {banner}"),
        ));
    }
    conn.write_d(b"EHLO tlsdoctor.invalid\r\n", "SMTP EHLO")?;
    let (code, lines) = read_numeric_reply(conn, "SMTP EHLO")?;
    if code != 250 {
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the SMTP server rejected EHLO: {}", clean(&lines.join(" / "))),
        ));
    }
    let exts: Vec<String> = lines
        .iter()
        .skip(1)
        .map(|l| clean(l.get(4..).unwrap_or_default()))
        .collect();
    let offered = exts.iter().any(|e| e.eq_ignore_ascii_case("STARTTLS"));
    d.fact("ehlo_extensions", exts);
    d.fact("starttls_offered", offered);
    if !offered {
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            "the SMTP server does not offer STARTTLS (not in its EHLO reply)",
        ));
    }
    conn.write_d(b"STARTTLS\r\n", "SMTP STARTTLS")?;
    let (code, lines) = read_numeric_reply(conn, "SMTP STARTTLS")?;
    let reply = clean(&lines.join(" / "));
    d.fact("starttls_reply", reply.clone());
    match code {
        220 => Ok(d),
        454 => Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("STARTTLS temporarily unavailable: {reply}"),
        )),
        _ => Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the SMTP server refused STARTTLS: {reply}"),
        )),
    }
}
