//! LDAP StartTLS (RFC 4511 §4.14): ExtendedRequest 1.3.6.1.4.1.1466.20037, resultCode 0.

use super::{clean, Context, Dialogue, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::probe::net::Conn;
use crate::probe::sniff::Sniffed;
use crate::probe::{ProbeError, Starttls};

pub struct Ldap;

impl Protocol for Ldap {
    fn code(&self) -> &'static str {
        "ldap"
    }
    fn label(&self) -> &'static str {
        "LDAP"
    }
    fn help(&self) -> &'static str {
        "LDAP StartTLS extended operation (RFC 4511)"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("ldap", 389), Scheme::implicit("ldaps", 636)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[389]
    }
    fn guessable(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        // An LDAP server speaks unprompted only to hang up: an ExtendedResponse such as the
        // Notice of Disconnection (RFC 4511 §4.4.1).
        let (rc, diag) = parse_response(b.get(..ber_total(b)?)?).ok()?;
        Some(Sniffed {
            what: "LDAP",
            summary: format!(
                "ExtendedResponse resultCode {rc}{}",
                if diag.is_empty() {
                    String::new()
                } else {
                    format!(" {diag}")
                }
            ),
            dialogue: Some(Starttls::of(&Ldap)),
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
}

const OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// The 31-byte request: messageID 1, [APPLICATION 23] { [0] requestName }.
pub fn request() -> Vec<u8> {
    let mut r = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    r.extend_from_slice(OID);
    r
}

/// Length of a complete BER element at the start of `b`, if all of it is there.
fn ber_total(b: &[u8]) -> Option<usize> {
    let (len, hdr) = ber_len(b.get(1..)?)?;
    let total = 1 + hdr + len;
    (b.len() >= total).then_some(total)
}

/// (content length, bytes of the length field).
fn ber_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 3 || b.len() < 1 + n {
        return None;
    }
    let mut len = 0usize;
    for &x in &b[1..=n] {
        len = (len << 8) | x as usize;
    }
    Some((len, 1 + n))
}

/// (tag, content) of the element at the start of `b`, and the rest.
fn element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let (len, hdr) = ber_len(&b[1..])?;
    let start = 1 + hdr;
    let content = b.get(start..start + len)?;
    Some((tag, content, &b[start + len..]))
}

/// resultCode and diagnosticMessage of an ExtendedResponse.
pub fn parse_response(msg: &[u8]) -> Result<(u32, String), String> {
    let (tag, seq, _) = element(msg).ok_or("truncated LDAPMessage")?;
    if tag != 0x30 {
        return Err(format!("not an LDAPMessage (tag 0x{tag:02x})"));
    }
    let (_, _, rest) = element(seq).ok_or("no messageID")?;
    let (op, body, _) = element(rest).ok_or("no protocolOp")?;
    if op != 0x78 {
        return Err(format!("expected an ExtendedResponse (0x78), got tag 0x{op:02x}"));
    }
    let (t, code, rest) = element(body).ok_or("no resultCode")?;
    if t != 0x0a || code.is_empty() || code.len() > 4 {
        return Err("bad resultCode".into());
    }
    let rc = code.iter().fold(0u32, |a, &x| (a << 8) | x as u32);
    let diag = element(rest)
        .and_then(|(_, _, r)| element(r))
        .map(|(_, m, _)| clean(&String::from_utf8_lossy(m)))
        .unwrap_or_default();
    Ok((rc, diag))
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "ldap");
    conn.write_d(&request(), "LDAP StartTLS")?;
    let first = conn.read_exact_d(1, "LDAP StartTLS answer")?;
    if first[0] != 0x30 {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!(
                "the server did not answer with an LDAP message (first byte 0x{:02x})",
                first[0]
            ),
        ));
    }
    let rest = conn.read_until(64 * 1024, "LDAP StartTLS answer", |p| {
        let mut b = vec![0x30];
        b.extend_from_slice(p);
        ber_total(&b).map(|t| t - 1)
    })?;
    let mut msg = first;
    msg.extend_from_slice(&rest);
    let parsed = parse_response(&msg);
    d.confirmed = parsed.is_ok();
    match parsed {
        Ok((0, _)) => {
            d.fact("result_code", 0);
            d.greeting = Some("LDAP: StartTLS accepted (resultCode 0)".into());
            Ok(d)
        }
        Ok((rc, diag)) => {
            d.fact("result_code", rc);
            d.fact("diagnostic_message", diag.clone());
            d.greeting = Some(format!("LDAP: StartTLS resultCode {rc}"));
            Ok(d.refuse(
                Cause::StarttlsRefused,
                format!("the LDAP server refused StartTLS: resultCode {rc} {diag}"),
            ))
        }
        Err(why) => Err(ProbeError::new(
            Cause::NoTls,
            format!("LDAP StartTLS answer: {why}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_31_bytes() {
        assert_eq!(request().len(), 31);
    }

    #[test]
    fn parses_extended_response() {
        // 30 0c 02 01 01 78 07 0a 01 00 04 00 04 00
        let ok = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(ber_total(&ok), Some(14));
        assert_eq!(parse_response(&ok).unwrap().0, 0);
        let refused = [
            0x30, 0x10, 0x02, 0x01, 0x01, 0x78, 0x0b, 0x0a, 0x01, 0x34, 0x04, 0x00, 0x04, 0x04, b'n', b'o',
            b'p', b'e',
        ];
        assert_eq!(parse_response(&refused).unwrap(), (52, "nope".to_string()));
        assert!(parse_response(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }
}
