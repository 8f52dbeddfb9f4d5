//! What is really listening? Classify the first bytes a peer sent (before or instead of a
//! TLS ServerHello) and say which flag to use.

use super::Starttls;
use crate::report::sanitize::sanitize;

/// A recognised peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// What it is: `HTTP`, `MySQL/MariaDB`, `SMTP`, `a TLS alert`, …
    pub what: &'static str,
    /// One line of what it said (sanitized), e.g. `HTTP/1.1 400 Bad Request`.
    pub summary: String,
    /// The dialogue to use, when one fits (`Some(Starttls::None)` = plain TLS).
    pub dialogue: Option<Starttls>,
}

impl Sniffed {
    /// The message for a `no-tls` error when `used` was spoken.
    pub fn message_for(&self, used: Starttls) -> String {
        let said = if self.summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.summary)
        };
        match self.dialogue {
            _ if self.what == "HTTP" => format!(
                "this is HTTP{said}: the port serves plaintext HTTP, not TLS — is TLS on another port \
                 (443, 8443), or terminated by something in front of this one?"
            ),
            Some(d) if d == Starttls::None && used != Starttls::None => format!(
                "the server answered the {} dialogue with {}{said}: it speaks TLS from the first \
                 byte — use --starttls none{}",
                used.label(),
                self.what,
                match used.unit().tls_first_variant() {
                    Some(v) => format!(
                        " ({}: --starttls {v})",
                        Starttls::from_code(v).map(|d| d.label()).unwrap_or(v)
                    ),
                    None => String::new(),
                }
            ),
            Some(d) if d != used => format!(
                "this is {}{said}, not {}: use --starttls {}",
                self.what,
                used.label(),
                d.code()
            ),
            _ => format!("the peer sent {}{said}", self.what),
        }
    }
}

/// Does this start like a TLS record (handshake, alert, change-cipher-spec, data)?
pub fn looks_like_tls(b: &[u8]) -> bool {
    b.len() >= 2 && matches!(b[0], 0x14..=0x17) && b[1] == 0x03
}

/// Classify the first bytes; None when nothing is recognised. What is not a protocol we
/// speak (HTTP, SSH, plaintext Redis) is recognised here; every protocol unit recognises
/// its own, in registry order.
pub fn sniff(b: &[u8]) -> Option<Sniffed> {
    if b.is_empty() {
        return None;
    }
    if b.starts_with(b"HTTP/1.") || b.starts_with(b"HTTP/2") || b.starts_with(b"HTTP/0.9") {
        return Some(Sniffed {
            what: "HTTP",
            summary: first_line(b),
            dialogue: None,
        });
    }
    // An HTML page without a status line: an HTTP server that took the ClientHello for an
    // HTTP/0.9 request and answered with a bare error page (Python's http.server does).
    if looks_like_html(b) {
        return Some(Sniffed {
            what: "HTTP",
            summary: "an HTML page without a status line".to_string(),
            dialogue: None,
        });
    }
    if b.starts_with(b"SSH-") {
        return Some(Sniffed {
            what: "SSH",
            summary: first_line(b),
            dialogue: None,
        });
    }
    if b.starts_with(b"-ERR") || b.starts_with(b"-DENIED") || b.starts_with(b"-NOAUTH") {
        return Some(Sniffed {
            what: "Redis (plaintext)",
            summary: first_line(b),
            dialogue: None,
        });
    }
    super::protocols::REGISTRY.iter().find_map(|p| p.sniff(b))
}

fn looks_like_html(b: &[u8]) -> bool {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let head = b[start..].get(..14).unwrap_or(&b[start..]);
    let head = head.to_ascii_lowercase();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

/// The first line of what a peer sent, sanitised, whole up to
/// [`QUOTE_MAX`](super::protocols::QUOTE_MAX) characters and never cut mid-word.
pub fn first_line(b: &[u8]) -> String {
    let end = b
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len());
    sanitize(&super::protocols::bounded(
        &String::from_utf8_lossy(&b[..end]),
        super::protocols::QUOTE_MAX,
    ))
}

/// A short, safe rendering of unknown bytes: printable text or hex.
pub fn preview(b: &[u8]) -> String {
    let head = &b[..b.len().min(32)];
    let printable = head
        .iter()
        .filter(|c| c.is_ascii_graphic() || matches!(**c, b' ' | b'\r' | b'\n' | b'\t'))
        .count();
    let more = if b.len() > head.len() { "…" } else { "" };
    if printable * 10 >= head.len() * 9 {
        // `sanitize` already escapes control characters (`\x0a`); quote without escaping
        // them a second time.
        format!("\"{}\"{more}", sanitize(&String::from_utf8_lossy(head)))
    } else {
        let hex: Vec<String> = head.iter().map(|c| format!("{c:02x}")).collect();
        format!("{}{more}", hex.join(" "))
    }
}

/// When a server closes without a word after the ClientHello.
pub fn silent_close_hint(port: u16) -> String {
    let guesses = Starttls::guesses();
    let labels: Vec<&str> = guesses.iter().map(|g| g.label()).collect();
    let mut s = format!(
        " before answering the ClientHello; a server that expects a client-first dialogue \
         ({} do this: try {}) or that accepts no TLS version or cipher we offer (TLS 1.2 and \
         1.3) closes like this",
        labels.join(", "),
        Starttls::flags_text(&guesses)
    );
    let owner = Starttls::for_port(port);
    if owner != Starttls::None {
        s.push_str(&format!(
            "; port {port} is {}'s (--starttls {})",
            owner.label(),
            owner.code()
        ));
    }
    s
}

/// TLS alert description names (RFC 8446 §6).
pub fn alert_name(d: u8) -> String {
    let n = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("{d}"),
    };
    format!("{n} ({d})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_peers() {
        let s = sniff(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(s.what, "HTTP");
        assert!(s
            .message_for(Starttls::None)
            .starts_with("this is HTTP (HTTP/1.1 400 Bad Request)"));
        let mut greeting = vec![0u8, 0, 0, 0, 0x0a];
        greeting.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        greeting.extend_from_slice(&[1, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0]);
        let len = greeting.len() - 4;
        greeting[0] = len as u8;
        let s = sniff(&greeting).unwrap();
        assert_eq!(s.dialogue, Some(Starttls::from_code("mysql").unwrap()));
        assert_eq!(
            s.message_for(Starttls::None),
            "this is MySQL/MariaDB (server version 5.5.5-10.11.6-MariaDB), not plain TLS: use --starttls mysql"
        );
        assert_eq!(
            sniff(b"220 mail.example ESMTP Postfix\r\n").unwrap().dialogue,
            Some(Starttls::from_code("smtp").unwrap())
        );
        assert_eq!(
            sniff(b"220 (vsFTPd 3.0.5)\r\n").unwrap().dialogue,
            Some(Starttls::from_code("ftp").unwrap())
        );
        assert_eq!(
            sniff(b"220 ProFTPD Server ready\r\n").unwrap().dialogue,
            Some(Starttls::from_code("ftp").unwrap())
        );
        assert_eq!(
            sniff(b"* OK [CAPABILITY IMAP4rev1] ready\r\n").unwrap().dialogue,
            Some(Starttls::from_code("imap").unwrap())
        );
        assert_eq!(
            sniff(b"+OK POP3 ready\r\n").unwrap().dialogue,
            Some(Starttls::from_code("pop3").unwrap())
        );
        let alert = sniff(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]).unwrap();
        assert_eq!(alert.dialogue, Some(Starttls::None));
        assert!(alert.summary.contains("protocol_version (70)"));
        assert!(alert
            .message_for(Starttls::from_code("postgres").unwrap())
            .contains("use --starttls none"));
        assert!(sniff(b"\x00\x01garbage").is_none());
        // Python's http.server answers a ClientHello like an HTTP/0.9 request: a bare page.
        let page = sniff(b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>").unwrap();
        assert_eq!(page.what, "HTTP");
        assert!(page
            .message_for(Starttls::None)
            .starts_with("this is HTTP (an HTML page without a status line)"));
        assert_eq!(sniff(b"  <html><body>400</body></html>").unwrap().what, "HTTP");
        assert!(!looks_like_tls(b"GET"));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01]));
    }

    #[test]
    fn preview_is_safe() {
        assert_eq!(preview(b"hello, world\x1b[2J"), "\"hello, world\\x1b[2J\"");
        assert_eq!(
            preview(b"<!DOCTYPE HTML>\n<html lang=\"en\">"),
            "\"<!DOCTYPE HTML>\\x0a<html lang=\"en\">\""
        );
        assert_eq!(preview(&[0, 1, 2, 0xff]), "00 01 02 ff");
        // Protocol lines end in CRLF: still text.
        assert_eq!(preview(b"250 injected\r\n"), "\"250 injected\\x0d\\x0a\"");
    }
}
