//! SQL Server / Azure SQL (MS-TDS). TDS 7.x: a PRELOGIN exchange whose ENCRYPTION option
//! decides whether TLS follows; the TLS handshake records then travel *inside* TDS PRELOGIN
//! packets ([`TdsWire`]) and bare once it is over. TDS 8 (`Encrypt=Strict`): TLS from the
//! first byte with ALPN `tds/8.0`, and the PRELOGIN inside it. Conclusions: what
//! go-mssqldb's `encrypt`, `TrustServerCertificate` and `hostNameInCertificate` would do.
//!
//! Byte layouts: [MS-TDS] 2.2.3.1 (packet header), 2.2.6.5 (PRELOGIN), and go-mssqldb's
//! `tds.go` / `session.go` / `msdsn/conn_str.go` for the client's choices.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Context, Dialogue, Outcome, Protocol, Scheme, Wire};
use crate::diagnose::Cause;
use crate::finding::{Finding, Severity};
use crate::probe::net::Conn;
use crate::probe::sniff::Sniffed;
use crate::probe::{ProbeError, Starttls};

/// TDS 7.x: PRELOGIN, then TLS inside PRELOGIN packets.
pub struct Tds;

impl Protocol for Tds {
    fn code(&self) -> &'static str {
        "tds"
    }
    fn label(&self) -> &'static str {
        "SQL Server (TDS)"
    }
    fn help(&self) -> &'static str {
        "SQL Server / Azure SQL (TDS 7.x): PRELOGIN, then TLS inside TDS packets"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[
            Scheme::dialogue("mssql", 1433),
            Scheme::dialogue("sqlserver", 1433),
        ];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[1433]
    }
    fn tls_first_variant(&self) -> Option<&'static str> {
        Some("tds-strict")
    }
    fn url_variant(&self, query: &str) -> Option<Starttls> {
        // go-mssqldb / ADO.NET: encrypt=strict selects TDS 8.
        query
            .split(['&', ';'])
            .any(|kv| kv.eq_ignore_ascii_case("encrypt=strict"))
            .then_some(Starttls::of(&TdsStrict))
    }
    fn guessable(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        // A TDS server never speaks first; a TDS reply (tabular result, EOM) in answer to
        // something else still says what is listening.
        let (ty, status, len) = header(b)?;
        if ty == TYPE_PRELOGIN && crate::probe::sniff::looks_like_tls(&b[HEADER..]) {
            // TLS records in PRELOGIN packets (the TDS 7.x handshake): it is TLS after all.
            return Some(Sniffed {
                what: "TLS inside TDS packets",
                summary: String::new(),
                dialogue: Some(Starttls::None),
            });
        }
        (ty == TYPE_REPLY && status & STATUS_EOM != 0 && (HEADER..=MAX_PACKET).contains(&len)).then(|| {
            Sniffed {
                what: "SQL Server (TDS)",
                summary: String::new(),
                dialogue: Some(Starttls::of(&Tds)),
            }
        })
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
    fn wire<'a>(&self, conn: &'a mut Conn, _d: &Dialogue) -> Box<dyn Wire + 'a> {
        Box::new(TdsWire::new(conn))
    }
    fn conclusions(&self, o: &Outcome<'_>, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
        go_mssqldb(o, false, server, findings)
    }
}

/// TDS 8 (`Encrypt=Strict`): TLS first, ALPN `tds/8.0`, PRELOGIN inside TLS.
pub struct TdsStrict;

impl Protocol for TdsStrict {
    fn code(&self) -> &'static str {
        "tds-strict"
    }
    fn label(&self) -> &'static str {
        "SQL Server TDS 8 strict"
    }
    fn help(&self) -> &'static str {
        "SQL Server 2022+ / Azure SQL TDS 8 (encrypt=strict): TLS first, ALPN `tds/8.0`"
    }
    fn tls_first(&self) -> bool {
        true
    }
    fn negotiate(&self, _conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        let mut d = Dialogue::default();
        d.fact("protocol", "tds");
        d.fact("negotiation", "strict");
        d.alpn = Some(vec!["tds/8.0".into()]);
        Ok(d)
    }
    fn after_handshake(&self, tls: &mut rustls::ClientConnection, wire: &mut dyn Wire, d: &mut Dialogue) {
        // The PRELOGIN travels inside TLS: its answer names the server version.
        let limit = wire
            .conn()
            .deadline()
            .remaining("")
            .map(|d| d.min(Duration::from_secs(2)))
            .unwrap_or_default();
        let until = std::time::Instant::now() + limit;
        let mut io = crate::probe::tls::LimitedWait::new(wire, until);
        let mut stream = rustls::Stream::new(tls, &mut io);
        if stream
            .write_all(&prelogin(ENCRYPT_STRICT))
            .and_then(|_| stream.flush())
            .is_err()
        {
            return;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let reply = loop {
            if let Some(r) = complete_reply(&got) {
                break r;
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.len() > 64 * 1024 {
                return;
            }
        };
        if let Ok(p) = parse_prelogin(&reply) {
            d.confirmed = true;
            record(d, &p);
            d.greeting = Some(format!("{} (TDS 8 strict)", p.describe()));
        }
    }
    fn conclusions(&self, o: &Outcome<'_>, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
        go_mssqldb(o, true, server, findings)
    }
}

// ---------------------------------------------------------------------------------------
// Packets

/// Packet types ([MS-TDS] 2.2.3.1.1).
pub const TYPE_PRELOGIN: u8 = 0x12;
pub const TYPE_REPLY: u8 = 0x04;
/// Status bit: end of message.
pub const STATUS_EOM: u8 = 0x01;
pub const HEADER: usize = 8;
/// The largest packet TDS allows (the negotiated size is at most 32767).
pub const MAX_PACKET: usize = 32767;
/// Our packets during the handshake: the default packet size before LOGIN7 negotiates one.
const OUT_PACKET: usize = 4096;

/// PRELOGIN option tokens ([MS-TDS] 2.2.6.5).
const OPT_VERSION: u8 = 0x00;
const OPT_ENCRYPTION: u8 = 0x01;
const OPT_INSTOPT: u8 = 0x02;
const OPT_THREADID: u8 = 0x03;
const OPT_MARS: u8 = 0x04;
const OPT_FEDAUTHREQUIRED: u8 = 0x06;
const OPT_TERMINATOR: u8 = 0xff;

pub const ENCRYPT_OFF: u8 = 0x00;
pub const ENCRYPT_ON: u8 = 0x01;
pub const ENCRYPT_NOT_SUP: u8 = 0x02;
pub const ENCRYPT_REQ: u8 = 0x03;
pub const ENCRYPT_STRICT: u8 = 0x04;

/// (type, status, length) of a packet header.
pub fn header(b: &[u8]) -> Option<(u8, u8, usize)> {
    if b.len() < HEADER {
        return None;
    }
    Some((b[0], b[1], u16::from_be_bytes([b[2], b[3]]) as usize))
}

/// One packet: type, status, big-endian length including the 8-byte header, SPID 0,
/// packet id, window 0.
pub fn packet(ty: u8, status: u8, id: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + HEADER) as u16;
    let mut v = Vec::with_capacity(payload.len() + HEADER);
    v.extend_from_slice(&[ty, status]);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0, id, 0]);
    v.extend_from_slice(payload);
    v
}

/// Our PRELOGIN: VERSION (ours), ENCRYPTION, INSTOPT (default instance), THREADID, MARS off
/// — the options go-mssqldb sends.
pub fn prelogin(encrypt: u8) -> Vec<u8> {
    let v = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<u8>().unwrap_or(0))
        .collect::<Vec<_>>();
    let version = [
        v.first().copied().unwrap_or(0),
        v.get(1).copied().unwrap_or(0),
        0,
        v.get(2).copied().unwrap_or(0),
        0,
        0,
    ];
    let options: [(u8, &[u8]); 5] = [
        (OPT_VERSION, &version),
        (OPT_ENCRYPTION, &[encrypt]),
        (OPT_INSTOPT, &[0]),
        (OPT_THREADID, &[0, 0, 0, 0]),
        (OPT_MARS, &[0]),
    ];
    let table = options.len() * 5 + 1;
    let mut head = Vec::new();
    let mut data = Vec::new();
    for (tok, val) in options {
        head.push(tok);
        head.extend_from_slice(&((table + data.len()) as u16).to_be_bytes());
        head.extend_from_slice(&(val.len() as u16).to_be_bytes());
        data.extend_from_slice(val);
    }
    head.push(OPT_TERMINATOR);
    head.extend_from_slice(&data);
    packet(TYPE_PRELOGIN, STATUS_EOM, 1, &head)
}

/// The payload of a complete reply message at the start of `b` (packets up to EOM), or
/// None while incomplete. Malformed headers end the message where they are (the parser
/// then fails on the payload).
pub fn complete_reply(b: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    let mut payload = Vec::new();
    loop {
        let (_, status, len) = header(&b[at..])?;
        let len = len.max(HEADER);
        if b.len() < at + len {
            return None;
        }
        payload.extend_from_slice(&b[at + HEADER..at + len]);
        at += len;
        if status & STATUS_EOM != 0 {
            return Some(payload);
        }
    }
}

/// A server's PRELOGIN answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prelogin {
    /// major, minor, build, sub-build.
    pub version: Option<(u8, u8, u16, u16)>,
    pub encryption: Option<u8>,
    pub instance_ok: Option<bool>,
    pub mars: Option<u8>,
    pub fedauth_required: Option<u8>,
}

impl Prelogin {
    pub fn version_text(&self) -> Option<String> {
        self.version.map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
    }

    /// The product a major version belongs to.
    pub fn product(&self) -> Option<&'static str> {
        let (major, minor, build, _) = self.version?;
        Some(match (major, minor, build) {
            // Azure SQL Database and Managed Instance report 12.0.2000.x.
            (12, 0, 2000) => "Azure SQL (or SQL Server 2014)",
            (17, ..) => "SQL Server 2025",
            (16, ..) => "SQL Server 2022",
            (15, ..) => "SQL Server 2019",
            (14, ..) => "SQL Server 2017",
            (13, ..) => "SQL Server 2016",
            (12, ..) => "SQL Server 2014",
            (11, ..) => "SQL Server 2012",
            (10, 50, _) => "SQL Server 2008 R2",
            (10, ..) => "SQL Server 2008",
            (9, ..) => "SQL Server 2005",
            _ => "SQL Server",
        })
    }

    pub fn describe(&self) -> String {
        match (self.product(), self.version_text()) {
            (Some(p), Some(v)) => format!("{p} {v}"),
            _ => "SQL Server (no version in PRELOGIN)".to_string(),
        }
    }
}

/// The ENCRYPTION value as a setting.
pub fn encryption_name(e: u8) -> &'static str {
    match e {
        ENCRYPT_OFF => "off",
        ENCRYPT_ON => "on",
        ENCRYPT_NOT_SUP => "not supported",
        ENCRYPT_REQ => "required",
        ENCRYPT_STRICT => "strict",
        e if e & 0x80 != 0 => "client certificate",
        _ => "unknown",
    }
}

/// Parse a PRELOGIN payload: an option table (token, u16 BE offset, u16 BE length) ended
/// by 0xFF, offsets relative to the payload. Hand-written because no crate we link speaks
/// TDS; every offset is bounds-checked.
pub fn parse_prelogin(p: &[u8]) -> Result<Prelogin, String> {
    let mut out = Prelogin::default();
    let mut i = 0;
    let mut seen = 0;
    loop {
        let tok = *p.get(i).ok_or("option table not terminated")?;
        if tok == OPT_TERMINATOR {
            break;
        }
        let e = p.get(i + 1..i + 5).ok_or("option table truncated")?;
        let off = u16::from_be_bytes([e[0], e[1]]) as usize;
        let len = u16::from_be_bytes([e[2], e[3]]) as usize;
        let val = p
            .get(off..off + len)
            .ok_or_else(|| format!("option 0x{tok:02x} points outside the message"))?;
        match tok {
            OPT_VERSION if len >= 6 => {
                out.version = Some((
                    val[0],
                    val[1],
                    u16::from_be_bytes([val[2], val[3]]),
                    u16::from_be_bytes([val[4], val[5]]),
                ))
            }
            OPT_VERSION if len >= 4 => {
                out.version = Some((val[0], val[1], u16::from_be_bytes([val[2], val[3]]), 0))
            }
            OPT_ENCRYPTION if len >= 1 => out.encryption = Some(val[0]),
            OPT_INSTOPT if len >= 1 => out.instance_ok = Some(val[0] == 0),
            OPT_MARS if len >= 1 => out.mars = Some(val[0]),
            OPT_FEDAUTHREQUIRED if len >= 1 => out.fedauth_required = Some(val[0]),
            _ => {}
        }
        i += 5;
        seen += 1;
        if seen > 64 {
            return Err("more than 64 PRELOGIN options".into());
        }
    }
    if out.encryption.is_none() && out.version.is_none() {
        return Err("neither VERSION nor ENCRYPTION in the PRELOGIN answer".into());
    }
    Ok(out)
}

fn record(d: &mut Dialogue, p: &Prelogin) {
    if let Some(v) = p.version_text() {
        d.fact("server_version", v);
    }
    if let Some(prod) = p.product() {
        d.fact("product", prod);
    }
    if let Some(e) = p.encryption {
        d.fact("encryption", encryption_name(e));
    }
    if let Some(ok) = p.instance_ok {
        d.fact("instance_ok", ok);
    }
    if let Some(f) = p.fedauth_required {
        d.fact("fedauth_required", f != 0);
    }
}

/// TDS 7.x: send PRELOGIN with ENCRYPT_OFF (go-mssqldb's `encrypt=false`; the server's
/// answer then tells "off" — TLS for the login only, on request — from "required"), read
/// the answer, and go ahead unless the server does not support encryption.
pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "tds");
    d.fact("negotiation", "prelogin");
    conn.write_d(&prelogin(ENCRYPT_OFF), "TDS PRELOGIN")?;
    let first = match conn.read_exact_d(HEADER, "TDS PRELOGIN answer") {
        Ok(h) => h,
        Err(mut e) => {
            if e.cause == Cause::HandshakeFailure {
                e.message.push_str(
                    " without answering the PRELOGIN; a SQL Server that accepts only TDS 8 \
                     (Force Strict Encryption) does this: try --starttls tds-strict",
                );
            }
            return Err(e);
        }
    };
    let (ty, _, len) = header(&first).unwrap_or_default();
    if ty != TYPE_REPLY || !(HEADER..=MAX_PACKET).contains(&len) {
        return Err(ProbeError::new(
            Cause::NoTls,
            format!(
                "the answer to the TDS PRELOGIN is not a TDS reply packet ({})",
                crate::probe::sniff::preview(&first)
            ),
        ));
    }
    let mut message = first;
    let body = conn.read_exact_d(len - HEADER, "TDS PRELOGIN answer")?;
    message.extend_from_slice(&body);
    // Rare: an answer spread over several packets.
    while complete_reply(&message).is_none() {
        if message.len() > 64 * 1024 {
            return Err(ProbeError::new(
                Cause::NoTls,
                "the TDS PRELOGIN answer is too long",
            ));
        }
        let h = conn.read_exact_d(HEADER, "TDS PRELOGIN answer")?;
        let (_, _, l) = header(&h).unwrap_or_default();
        message.extend_from_slice(&h);
        message.extend_from_slice(&conn.read_exact_d(l.saturating_sub(HEADER), "TDS PRELOGIN answer")?);
    }
    let payload = complete_reply(&message).unwrap_or_default();
    let p = parse_prelogin(&payload)
        .map_err(|why| ProbeError::new(Cause::NoTls, format!("not a TDS PRELOGIN answer: {why}")))?;
    d.confirmed = true;
    record(&mut d, &p);
    let enc = p.encryption.unwrap_or(ENCRYPT_NOT_SUP);
    d.greeting = Some(format!("{}: encryption {}", p.describe(), encryption_name(enc)));
    match enc {
        ENCRYPT_NOT_SUP => {
            d.fact(
                "go_mssqldb",
                json!({
                    "encrypt=disable": "connects without encryption (the login, password included, travels in clear)",
                    "encrypt=false": "connects without encryption (the login, password included, travels in clear)",
                    "encrypt=true": "fails: server does not support encryption",
                    "encrypt=strict": "fails: TLS Handshake failed (the server does not speak TDS 8)",
                }),
            );
            Ok(d.refuse(
                Cause::StarttlsRefused,
                format!(
                    "the server ({}) answered the PRELOGIN with ENCRYPT_NOT_SUP: it supports no \
                     encryption at all (no certificate configured, or encryption disabled)",
                    p.describe()
                ),
            ))
        }
        _ => Ok(d),
    }
}

// ---------------------------------------------------------------------------------------
// The transport

/// TLS records inside TDS PRELOGIN packets during the handshake ([MS-TDS] 3.2.5.2: "the TLS
/// handshake payload is carried in PRELOGIN messages"), bare records afterwards. Writes
/// are gathered into one message per flight (sent when the client turns to reading, as
/// go-mssqldb's `tlsHandshakeConn` does: SQL Server expects one message per flight).
pub struct TdsWire<'a> {
    conn: &'a mut Conn,
    /// Unread payload of the current packet.
    inbuf: Vec<u8>,
    /// The current packet was the last of its message.
    in_eom: bool,
    outbuf: Vec<u8>,
    packet_id: u8,
    bare: bool,
}

impl<'a> TdsWire<'a> {
    pub fn new(conn: &'a mut Conn) -> TdsWire<'a> {
        TdsWire {
            conn,
            inbuf: Vec::new(),
            in_eom: true,
            outbuf: Vec::new(),
            packet_id: 1,
            bare: false,
        }
    }

    fn send_pending(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.outbuf);
        let chunks: Vec<&[u8]> = data.chunks(OUT_PACKET - HEADER).collect();
        let n = chunks.len();
        let mut wire = Vec::with_capacity(data.len() + n * HEADER);
        for (i, c) in chunks.into_iter().enumerate() {
            self.packet_id = self.packet_id.wrapping_add(1);
            let status = if i + 1 == n { STATUS_EOM } else { 0 };
            wire.extend_from_slice(&packet(TYPE_PRELOGIN, status, self.packet_id, c));
        }
        self.conn.write_all(&wire)?;
        self.conn.flush()
    }

    /// Read exactly `buf.len()` bytes from the connection with an optional wait limit.
    fn read_full(&mut self, buf: &mut [u8], limit: Option<Duration>) -> std::io::Result<()> {
        let mut at = 0;
        while at < buf.len() {
            let n = match limit {
                Some(l) => self.conn.read_with_timeout(&mut buf[at..], l)?,
                None => self.conn.read(&mut buf[at..])?,
            };
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            at += n;
        }
        Ok(())
    }

    fn read_packet(&mut self, buf: &mut [u8], limit: Option<Duration>) -> std::io::Result<usize> {
        if self.bare {
            return match limit {
                Some(l) => self.conn.read_with_timeout(buf, l),
                None => self.conn.read(buf),
            };
        }
        self.send_pending()?;
        while self.inbuf.is_empty() {
            let mut h = [0u8; HEADER];
            // A close between messages is an end of stream for TLS to judge.
            let n = match limit {
                Some(l) => self.conn.read_with_timeout(&mut h[..1], l)?,
                None => self.conn.read(&mut h[..1])?,
            };
            if n == 0 {
                return Ok(0);
            }
            self.read_full(&mut h[1..], limit)?;
            let (ty, status, len) = header(&h).unwrap_or_default();
            if ty != TYPE_PRELOGIN || !(HEADER..=MAX_PACKET).contains(&len) {
                // Not a handshake packet: hand the bytes to TLS, which then fails with
                // them, and the sniffer names them (an error reply, say).
                self.inbuf = h.to_vec();
                self.in_eom = true;
                break;
            }
            let mut body = vec![0u8; len - HEADER];
            self.read_full(&mut body, limit)?;
            self.inbuf = body;
            self.in_eom = status & STATUS_EOM != 0;
        }
        let n = buf.len().min(self.inbuf.len());
        buf[..n].copy_from_slice(&self.inbuf[..n]);
        self.inbuf.drain(..n);
        Ok(n)
    }
}

impl Read for TdsWire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_packet(buf, None)
    }
}

impl Write for TdsWire<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bare {
            return self.conn.write(buf);
        }
        self.outbuf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.bare {
            return self.conn.flush();
        }
        self.send_pending()
    }
}

impl Wire for TdsWire<'_> {
    fn conn(&mut self) -> &mut Conn {
        self.conn
    }
    fn read_with_timeout(&mut self, buf: &mut [u8], limit: Duration) -> std::io::Result<usize> {
        self.read_packet(buf, Some(limit))
    }
    fn handshake_done(&mut self) {
        // The client's last flight (its Finished) still travels in a PRELOGIN packet;
        // everything after it is bare TLS records.
        let _ = self.send_pending();
        self.bare = true;
    }
}

// ---------------------------------------------------------------------------------------
// Conclusions

/// What go-mssqldb would conclude, per `encrypt` setting (msdsn/conn_str.go `parseTLS`,
/// tds.go `connect`): `disable` sends ENCRYPT_NOT_SUP; `false` (and no `encrypt` at all)
/// sends ENCRYPT_OFF, so SQL Server still encrypts the login with TLS — verified unless
/// `TrustServerCertificate=true`, which is the default only when `encrypt` is absent;
/// `true` sends ENCRYPT_ON and fails on a server without encryption; `strict` is TDS 8,
/// TLS first, and always verifies (TrustServerCertificate is ignored). Verification is Go's
/// crypto/tls: the `go` runtime's verdict; `hostNameInCertificate` replaces the host name.
fn go_mssqldb(o: &Outcome<'_>, strict: bool, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
    if server.contains_key("go_mssqldb") {
        return; // the negotiation already concluded (no encryption at all)
    }
    let enc = server
        .get("encryption")
        .and_then(Value::as_str)
        .map(str::to_string);
    let fail = |why: &str| format!("fails: TLS Handshake failed: {why}");
    let go = o.verdict("go");
    let verified = match (o.tls_ok, go) {
        (false, _) => fail(o.error.unwrap_or("no TLS session")),
        (true, None) => "unknown: Go was not evaluated (add --runtime go)".to_string(),
        (true, Some(v)) if v.trusted => "connects".to_string(),
        (true, Some(v)) => fail(&v.message),
    };
    let unverified = if o.tls_ok {
        "connects (encrypted, certificate not verified)".to_string()
    } else {
        fail(o.error.unwrap_or("no TLS session"))
    };
    let login_only = enc.as_deref() == Some("off");
    let scope = |s: String| {
        if login_only && s == "connects" {
            "connects (only the login is encrypted: the server's encryption is off, later traffic is plaintext)".to_string()
        } else if login_only && s.starts_with("connects") {
            "connects (only the login is encrypted, certificate not verified)".to_string()
        } else {
            s
        }
    };
    let roots = if o.explicit_ca {
        "the --ca file(s) (certificate=FILE)"
    } else {
        "the system store (no certificate= parameter)"
    };
    let host_name = match go {
        Some(v) if o.tls_ok && v.only_name_problems() => {
            "would fix this failure: the chain is trusted and only the name differs; set it to a name the certificate carries"
        }
        Some(v) if o.tls_ok && v.trusted => "not needed: the certificate matches the host name",
        Some(_) if o.tls_ok => "would not help: the chain itself fails, not only the name",
        _ => "unknown",
    };
    let mut m = Map::new();
    m.insert("roots".into(), roots.into());
    if strict {
        m.insert("encrypt=strict".into(), verified.clone().into());
        m.insert(
            "TrustServerCertificate=true".into(),
            "ignored with encrypt=strict (always verified)".into(),
        );
    } else {
        m.insert(
            "encrypt=disable".into(),
            if enc.as_deref() == Some("required") {
                "fails: the server requires encryption and ends the connection".into()
            } else {
                "connects without encryption (the login, password included, travels in clear)".into()
            },
        );
        m.insert("encrypt=false".into(), scope(verified.clone()).into());
        m.insert("(no encrypt parameter)".into(), scope(unverified.clone()).into());
        m.insert("encrypt=true".into(), verified.clone().into());
        m.insert(
            "encrypt=true&TrustServerCertificate=true".into(),
            unverified.into(),
        );
        m.insert(
            "encrypt=strict".into(),
            "not probed: TDS 8 is TLS first (--starttls tds-strict)".into(),
        );
    }
    m.insert("hostNameInCertificate".into(), host_name.into());
    server.insert("go_mssqldb".into(), Value::Object(m));
    if o.tls_ok && go.is_some_and(|v| !v.trusted) {
        findings.push(
            Finding::new(
                "mssql-trust-server-certificate",
                Severity::Warning,
                if strict {
                    "go-mssqldb with encrypt=strict would fail with this chain (TDS 8 always verifies)."
                } else {
                    "go-mssqldb connects only without verification (no encrypt parameter, or \
                     TrustServerCertificate=true); encrypt=true or encrypt=false would fail with this chain."
                },
            )
            .fix("Give clients the CA that issued the server certificate (certificate=FILE in the DSN, or the system store) and use encrypt=true (or strict); make the certificate name the host clients use, or set hostNameInCertificate."),
        );
    }
    if login_only && o.tls_ok {
        findings.push(
            Finding::new(
                "mssql-encryption-off",
                Severity::Info,
                "The server's encryption setting is off: it encrypts only the login packet unless \
                 the client asks for more (encrypt=true).",
            )
            .fix("Turn on Force Encryption on the server, or use encrypt=true (or strict) in every client."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(opts: &[(u8, &[u8])]) -> Vec<u8> {
        let table = opts.len() * 5 + 1;
        let mut head = Vec::new();
        let mut data = Vec::new();
        for (tok, val) in opts {
            head.push(*tok);
            head.extend_from_slice(&((table + data.len()) as u16).to_be_bytes());
            head.extend_from_slice(&(val.len() as u16).to_be_bytes());
            data.extend_from_slice(val);
        }
        head.push(0xff);
        head.extend_from_slice(&data);
        head
    }

    #[test]
    fn parses_sql_server_2022_answer() {
        let p = answer(&[
            (OPT_VERSION, &[16, 0, 0x10, 0x27, 0, 0]),
            (OPT_ENCRYPTION, &[ENCRYPT_REQ]),
            (OPT_INSTOPT, &[0]),
            (OPT_THREADID, &[]),
            (OPT_MARS, &[0]),
        ]);
        let pl = parse_prelogin(&p).unwrap();
        assert_eq!(pl.version, Some((16, 0, 4135, 0)));
        assert_eq!(pl.describe(), "SQL Server 2022 16.0.4135.0");
        assert_eq!(encryption_name(pl.encryption.unwrap()), "required");
        let pkt = packet(TYPE_REPLY, STATUS_EOM, 1, &p);
        assert_eq!(complete_reply(&pkt).unwrap(), p);
        assert!(complete_reply(&pkt[..pkt.len() - 1]).is_none());
    }

    #[test]
    fn rejects_bad_offsets_and_unterminated_tables() {
        assert!(parse_prelogin(&[0x01, 0x00, 0xff, 0x00, 0x01, 0xff]).is_err());
        assert!(parse_prelogin(&[0x01, 0x00, 0x06]).is_err());
        assert!(parse_prelogin(&[0xff]).is_err());
    }

    #[test]
    fn our_prelogin_parses_as_a_prelogin() {
        let p = prelogin(ENCRYPT_OFF);
        let (ty, st, len) = header(&p).unwrap();
        assert_eq!((ty, st, len), (TYPE_PRELOGIN, STATUS_EOM, p.len()));
        let pl = parse_prelogin(&p[HEADER..]).unwrap();
        assert_eq!(pl.encryption, Some(ENCRYPT_OFF));
        assert_eq!(pl.instance_ok, Some(true));
    }
}
