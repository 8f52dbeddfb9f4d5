//! MySQL / MariaDB: the HandshakeV10 greeting, then SSLRequest (PROTOCOLS.md).

use serde_json::{json, Map, Value};

use super::{clean, openssl_client_modes, Context, Dialogue, Outcome, Protocol, Scheme, Wire};
use crate::diagnose::Cause;
use crate::finding::Finding;
use crate::probe::net::Conn;
use crate::probe::sniff::Sniffed;
use crate::probe::{ProbeError, Starttls};

pub struct Mysql;

impl Protocol for Mysql {
    fn code(&self) -> &'static str {
        "mysql"
    }
    fn label(&self) -> &'static str {
        "MySQL/MariaDB"
    }
    fn help(&self) -> &'static str {
        "MySQL/MariaDB: greeting, then SSLRequest"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[Scheme::dialogue("mysql", 3306), Scheme::dialogue("mariadb", 3306)];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[3306]
    }
    fn server_speaks_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        sniff_first_packet(b)
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
    fn after_handshake(&self, tls: &mut rustls::ClientConnection, wire: &mut dyn Wire, d: &mut Dialogue) {
        if let Some(seq) = d.sequence {
            let limit = wire
                .conn()
                .deadline()
                .remaining("")
                .map(|d| d.min(std::time::Duration::from_secs(1)))
                .unwrap_or_default();
            polite_close(tls, wire, seq, limit);
        }
    }
    fn conclusions(&self, o: &Outcome<'_>, server: &mut Map<String, Value>, _findings: &mut Vec<Finding>) {
        if server.contains_key("ssl_mode") {
            return; // the negotiation already concluded (no TLS at all)
        }
        let [req, vca, vid] = openssl_client_modes(
            o,
            |m| m.to_string(),
            "SSL certificate validation failure (the host name does not match the certificate)",
        );
        server.insert(
            "ssl_mode".into(),
            json!({
                "ca": if o.explicit_ca { "the --ca file(s)" } else { "OpenSSL's default store" },
                "REQUIRED": req,
                "VERIFY_CA": vca,
                "VERIFY_IDENTITY": vid,
            }),
        );
    }
}

fn sniff_first_packet(b: &[u8]) -> Option<Sniffed> {
    if b.len() < 6 {
        return None;
    }
    let len = u32::from_le_bytes([b[0], b[1], b[2], 0]) as usize;
    if !(5..=4096).contains(&len) || b[3] > 1 {
        return None;
    }
    let payload = &b[4..];
    match payload[0] {
        0x0a => {
            let end = payload[1..].iter().position(|&c| c == 0)?;
            let ver = &payload[1..1 + end];
            if ver.is_empty() || !ver.iter().all(|c| c.is_ascii_graphic()) {
                return None;
            }
            Some(Sniffed {
                what: "MySQL/MariaDB",
                summary: format!("server version {}", clean(&String::from_utf8_lossy(ver))),
                dialogue: Some(Starttls::of(&Mysql)),
            })
        }
        0xff if payload.len() >= 3 => {
            let code = u16::from_le_bytes([payload[1], payload[2]]);
            let msg = String::from_utf8_lossy(&payload[3..payload.len().min(len)]);
            Some(Sniffed {
                what: "MySQL/MariaDB",
                summary: format!("ERROR {code}: {}", clean(msg.trim_start_matches('#'))),
                dialogue: Some(Starttls::of(&Mysql)),
            })
        }
        _ => None,
    }
}

pub const CLIENT_PROTOCOL_41: u32 = 0x0200;
pub const CLIENT_SSL: u32 = 0x0800;
/// The flags `openssl s_client -starttls mysql` sends.
const SSL_REQUEST_FLAGS: u32 = 0x007f_ae85;

/// A parsed greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub seq: u8,
    pub server_version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub charset: Option<u8>,
}

impl Greeting {
    pub fn ssl(&self) -> bool {
        self.capabilities & CLIENT_SSL != 0
    }

    pub fn is_mariadb(&self) -> bool {
        self.server_version.to_ascii_lowercase().contains("mariadb")
    }

    /// The version without MariaDB's `5.5.5-` compatibility prefix.
    pub fn display_version(&self) -> String {
        let v = self
            .server_version
            .strip_prefix("5.5.5-")
            .unwrap_or(&self.server_version);
        if self.is_mariadb() {
            format!("MariaDB {}", v.split("-MariaDB").next().unwrap_or(v))
        } else {
            format!("MySQL {v}")
        }
    }
}

/// What the first packet was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstPacket {
    Greeting(Greeting),
    /// An ERR packet instead of a greeting: code and (sanitized) message.
    Error(u16, String),
}

/// Parse the payload of the server's first packet.
pub fn parse_first(seq: u8, p: &[u8]) -> Result<FirstPacket, String> {
    match p.first() {
        Some(0xff) => {
            if p.len() < 3 {
                return Err("truncated ERR packet".into());
            }
            let code = u16::from_le_bytes([p[1], p[2]]);
            let mut msg = &p[3..];
            // A SQLSTATE marker would only come with CLIENT_PROTOCOL_41 negotiated; tolerate it.
            if msg.first() == Some(&b'#') && msg.len() >= 6 {
                msg = &msg[6..];
            }
            Ok(FirstPacket::Error(code, clean(&String::from_utf8_lossy(msg))))
        }
        Some(0x0a) => {
            let rest = &p[1..];
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or("server version is not NUL-terminated")?;
            let version = String::from_utf8_lossy(&rest[..nul]).into_owned();
            let r = &rest[nul + 1..];
            // u32 connection id, 8 bytes auth data, filler, u16 capabilities (low).
            if r.len() < 4 + 8 + 1 + 2 {
                return Err("greeting too short".into());
            }
            let connection_id = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
            let low = u16::from_le_bytes([r[13], r[14]]) as u32;
            let mut caps = low;
            let mut charset = None;
            // u8 charset, u16 status, u16 capabilities (high).
            if r.len() >= 15 + 5 {
                charset = Some(r[15]);
                let high = u16::from_le_bytes([r[18], r[19]]) as u32;
                caps |= high << 16;
            }
            Ok(FirstPacket::Greeting(Greeting {
                seq,
                server_version: clean(&version),
                connection_id,
                capabilities: caps,
                charset,
            }))
        }
        Some(b) => Err(format!("protocol byte 0x{b:02x} is not a MySQL greeting (0x0a)")),
        None => Err("empty packet".into()),
    }
}

/// The 36-byte SSLRequest packet (seq = greeting's + 1).
pub fn ssl_request(seq: u8) -> [u8; 36] {
    let mut p = [0u8; 36];
    p[0] = 32;
    p[3] = seq;
    p[4..8].copy_from_slice(&(SSL_REQUEST_FLAGS | CLIENT_SSL | CLIENT_PROTOCOL_41).to_le_bytes());
    p[8..12].copy_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    p[12] = 33; // utf8_general_ci
    p
}

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "mysql");
    let header = conn.read_exact_d(4, "MySQL greeting")?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let seq = header[3];
    if !(1..=16 * 1024).contains(&len) || seq > 1 {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!(
                "the server did not send a MySQL greeting ({})",
                crate::probe::sniff::preview(&header)
            ),
        ));
    }
    let payload = conn.read_exact_d(len, "MySQL greeting")?;
    match parse_first(seq, &payload) {
        Err(why) => Err(ProbeError::new(
            Cause::NoTls,
            format!("not a MySQL greeting: {why}"),
        )),
        Ok(FirstPacket::Error(code, msg)) => {
            d.fact("error_code", code);
            d.fact("error_message", msg.clone());
            d.greeting = Some(format!("MySQL: ERROR {code}: {msg}"));
            d.confirmed = true;
            let hint = match code {
                1129 => " (the host is blocked after too many interrupted connections: FLUSH HOSTS, or raise max_connect_errors)",
                1130 => " (no account may connect from this host)",
                1040 => " (too many connections)",
                _ => "",
            };
            Ok(d.refuse(
                Cause::ConnectionRefused,
                format!("the MySQL server sent ERROR {code} instead of a greeting: {msg}{hint}"),
            ))
        }
        Ok(FirstPacket::Greeting(g)) => {
            d.confirmed = true;
            d.fact("server_version", g.server_version.clone());
            d.fact("product", if g.is_mariadb() { "MariaDB" } else { "MySQL" });
            d.fact("connection_id", g.connection_id);
            d.fact("capabilities", format!("0x{:08x}", g.capabilities));
            d.fact("ssl_offered", g.ssl());
            let v = g.display_version();
            if !g.ssl() {
                d.greeting = Some(format!("{v}: no TLS offered (CLIENT_SSL not set)"));
                d.fact("ssl_mode", json!({
                    "PREFERRED": "connects without TLS",
                    "REQUIRED": "fails: SSL connection error: SSL is required but the server doesn't support it",
                    "VERIFY_CA": "fails: SSL connection error: SSL is required but the server doesn't support it",
                    "VERIFY_IDENTITY": "fails: SSL connection error: SSL is required but the server doesn't support it",
                }));
                let no_tls = format!("fails: {}", crate::runtimes::go_mysql::NO_TLS);
                d.fact(
                    "go_sql_driver_mysql",
                    json!({
                        "tls=false": "connects without TLS",
                        "tls=preferred": "connects without TLS",
                        "tls=true": no_tls,
                        "tls=skip-verify": no_tls,
                        "tls=<a registered config>": no_tls,
                        "allowFallbackToPlaintext=true": "connects without TLS (driver 1.7+, any tls=)",
                    }),
                );
                return Ok(d.refuse(
                    Cause::StarttlsRefused,
                    format!(
                        "the server ({v}, version {}) does not offer TLS: CLIENT_SSL is not set in its \
                         greeting (no ssl-cert/ssl-key configured, or started with --skip-ssl)",
                        g.server_version
                    ),
                ));
            }
            d.greeting = Some(format!("{v}: TLS offered"));
            d.findings.push(crate::finding::Finding::new(
                "mysql-require-secure-transport",
                crate::finding::Severity::Info,
                format!(
                    "{v} offers TLS. If a client saw error 3159 (\"Connections using insecure transport \
                     are prohibited while --require_secure_transport=ON\"), that client did not request \
                     TLS."
                ),
            ).fix("Ask for TLS in the client: Go DSN tls=true (or a registered tls config), mysql CLI --ssl-mode=REQUIRED, JDBC sslMode=REQUIRED."));
            conn.write_d(&ssl_request(seq.wrapping_add(1)), "MySQL SSLRequest")?;
            d.sequence = Some(seq.wrapping_add(2));
            Ok(d)
        }
    }
}

/// After the TLS handshake: log in as `tlsdoctor` with an empty password, answer one auth
/// switch, and send COM_QUIT on success. Closing right after TLS instead counts as an
/// interrupted connection, and `max_connect_errors` such interruptions block the client's
/// host (error 1129); a failed login does not count. Best effort, within `limit`.
fn polite_close(
    tls: &mut rustls::ClientConnection,
    wire: &mut dyn Wire,
    seq: u8,
    limit: std::time::Duration,
) {
    use std::io::{Read, Write};
    let until = std::time::Instant::now() + limit;
    let mut io = crate::probe::tls::LimitedWait::new(wire, until);
    let mut stream = rustls::Stream::new(tls, &mut io);
    let flags: u32 = 0x0000_0001 | CLIENT_PROTOCOL_41 | CLIENT_SSL | 0x0000_8000 | 0x0008_0000;
    let mut p = Vec::with_capacity(96);
    p.extend_from_slice(&flags.to_le_bytes());
    p.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    p.push(33);
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(b"tlsdoctor\0");
    p.push(0); // empty auth response
    p.extend_from_slice(b"mysql_native_password\0");
    let packet = |seq: u8, payload: &[u8]| {
        let mut v = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        v.push(seq);
        v.extend_from_slice(payload);
        v
    };
    let read_packet = |s: &mut rustls::Stream<'_, rustls::ClientConnection, _>| -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).ok()?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        if len > 64 * 1024 {
            return None;
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).ok()?;
        Some((h[3], body))
    };
    if stream
        .write_all(&packet(seq, &p))
        .and_then(|_| stream.flush())
        .is_err()
    {
        return;
    }
    let mut reply = read_packet(&mut stream);
    if let Some((rseq, body)) = &reply {
        if body.first() == Some(&0xfe) {
            // Auth switch: answer with an empty response.
            if stream.write_all(&packet(rseq.wrapping_add(1), &[])).is_err() {
                return;
            }
            reply = read_packet(&mut stream);
        }
    }
    if let Some((_, body)) = reply {
        if body.first() == Some(&0x00) {
            let _ = stream.write_all(&packet(0, &[0x01])); // COM_QUIT
            let _ = stream.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mariadb_greeting() {
        let mut p = vec![0x0a];
        p.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh\0");
        p.extend_from_slice(&0xfffeu16.to_le_bytes());
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&0x81bfu16.to_le_bytes());
        let FirstPacket::Greeting(g) = parse_first(0, &p).unwrap() else {
            panic!()
        };
        assert!(g.ssl());
        assert!(g.is_mariadb());
        assert_eq!(g.display_version(), "MariaDB 10.11.6");
        assert_eq!(g.connection_id, 7);
        assert_eq!(g.capabilities, 0x81bf_fffe);
    }

    #[test]
    fn parses_err_instead_of_greeting() {
        let mut p = vec![0xff];
        p.extend_from_slice(&1130u16.to_le_bytes());
        p.extend_from_slice(b"Host '10.0.0.9' is not allowed to connect to this MySQL server\x1b[2J");
        let FirstPacket::Error(code, msg) = parse_first(1, &p).unwrap() else {
            panic!()
        };
        assert_eq!(code, 1130);
        assert!(msg.starts_with("Host '10.0.0.9' is not allowed"));
        assert!(msg.ends_with("\\x1b[2J"), "{msg}");
    }

    #[test]
    fn ssl_request_layout() {
        let r = ssl_request(1);
        assert_eq!(&r[..4], &[0x20, 0, 0, 1]);
        let flags = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
        assert!(flags & CLIENT_SSL != 0 && flags & CLIENT_PROTOCOL_41 != 0);
        assert_eq!(r[12], 33);
        assert!(r[13..].iter().all(|&b| b == 0));
    }
}
