//! POP3 STLS (RFC 2595): `+OK` greeting, `STLS`, `+OK`.

use super::{clean, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::{first_line, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Pop3;

impl Protocol for Pop3 {
    fn code(&self) -> &'static str {
        "pop3"
    }
    fn label(&self) -> &'static str {
        "POP3"
    }
    fn help(&self) -> &'static str {
        "POP3 STLS (RFC 2595)"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("pop3", 110), Scheme::implicit("pop3s", 995)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[110]
    }
    fn server_speaks_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        b.starts_with(b"+OK").then(|| Sniffed {
            what: "POP3",
            summary: first_line(b),
            dialogue: Some(Starttls::of(&Pop3)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "pop3");
    let greeting = conn.read_line(4096, "POP3 greeting")?;
    let banner = clean(&greeting);
    d.fact("banner", banner.clone());
    d.greet(format!("POP3: {banner}"));
    if !greeting.starts_with("+OK") {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!("not a POP3 greeting: {banner}"),
        ));
    }
    d.confirmed = true;
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
