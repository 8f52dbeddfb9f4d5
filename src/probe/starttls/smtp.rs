//! SMTP STARTTLS (RFC 3207): 220 greeting, EHLO, STARTTLS, 220.

use super::{clean, read_numeric_reply, Dialogue, ProbeError};
use crate::diagnose::Cause;
use crate::probe::net::Conn;

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "smtp");
    let (code, lines) = read_numeric_reply(conn, "SMTP greeting")?;
    let banner = clean(lines.first().map(String::as_str).unwrap_or_default());
    d.fact("banner", banner.clone());
    d.greeting = Some(format!("SMTP: {banner}"));
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
