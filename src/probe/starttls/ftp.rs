//! FTP AUTH TLS (RFC 4217): 220 greeting, `AUTH TLS`, 234.

use super::{clean, read_numeric_reply, Dialogue, ProbeError};
use crate::diagnose::Cause;
use crate::probe::net::Conn;

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "ftp");
    let (code, lines) = read_numeric_reply(conn, "FTP greeting")?;
    let banner = clean(lines.first().map(String::as_str).unwrap_or_default());
    d.fact("banner", banner.clone());
    d.greeting = Some(format!("FTP: {banner}"));
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
