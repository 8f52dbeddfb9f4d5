//! FTP AUTH TLS (RFC 4217): 220 greeting, `AUTH TLS`, 234.

use super::{clean, read_numeric_reply, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::{first_line, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Ftp;

impl Protocol for Ftp {
    fn code(&self) -> &'static str {
        "ftp"
    }
    fn label(&self) -> &'static str {
        "FTP"
    }
    fn help(&self) -> &'static str {
        "FTP AUTH TLS (RFC 4217)"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("ftp", 21), Scheme::implicit("ftps", 990)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[21]
    }
    fn server_speaks_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        if b.len() < 4 || &b[..3] != b"220" || !matches!(b[3], b' ' | b'-') {
            return None;
        }
        let line = first_line(b);
        let lower = line.to_ascii_lowercase();
        (lower.contains("ftp") && !lower.contains("smtp")).then(|| Sniffed {
            what: "FTP",
            summary: line,
            dialogue: Some(Starttls::of(&Ftp)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "ftp");
    let (code, lines) = read_numeric_reply(conn, "FTP greeting")?;
    let banner = clean(lines.first().map(String::as_str).unwrap_or_default());
    d.fact("banner", banner.clone());
    d.greet(format!("FTP: {banner}"));
    d.confirmed = true;
    if code != 220 {
        return Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the FTP server refused the session: {banner}"),
        ));
    }
    conn.write_d(b"AUTH TLS\r\n", "FTP AUTH TLS")?;
    let (code, lines) = read_numeric_reply(conn, "FTP AUTH TLS")?;
    let reply = clean(&lines.join(" / "));
    d.fact("auth_tls_reply", reply.clone());
    if code == 234 {
        Ok(d)
    } else {
        Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the FTP server refused AUTH TLS: {reply}"),
        ))
    }
}
