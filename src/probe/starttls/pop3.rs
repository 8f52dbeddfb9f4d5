//! POP3 STLS (RFC 2595): `+OK` greeting, `STLS`, `+OK`.

use super::{clean, Dialogue, ProbeError};
use crate::diagnose::Cause;
use crate::probe::net::Conn;

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "pop3");
    let greeting = conn.read_line(4096, "POP3 greeting")?;
    let banner = clean(&greeting);
    d.fact("banner", banner.clone());
    d.greeting = Some(format!("POP3: {banner}"));
    if !greeting.starts_with("+OK") {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!("not a POP3 greeting: {banner}"),
        ));
    }
    conn.write_d(b"STLS\r\n", "POP3 STLS")?;
    let reply = conn.read_line(4096, "POP3 STLS")?;
    d.fact("stls_reply", clean(&reply));
    if reply.starts_with("+OK") {
        Ok(d)
    } else {
        Ok(d.refuse(
            Cause::StarttlsRefused,
            format!("the POP3 server refused STLS: {}", clean(&reply)),
        ))
    }
}
