//! An in-process SQL Server stand-in speaking real TDS (no SQL Server installs here): a
//! PRELOGIN answer with VERSION and ENCRYPTION, the TLS handshake carried inside PRELOGIN
//! packets (TDS 7.x, TLS 1.2 as SQL Server's TDS 7 endpoint), or TLS first with ALPN
//! `tds/8.0` (TDS 8 strict), then LOGIN7 → LOGINACK + DONE and DONE for every SQL batch.
//! The tests prove it real by connecting FreeTDS `tsql` and node's `tedious` to it. Every
//! connection is logged ([`Seen`]) so a test can say what the client did.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tlsdoctor::probe::protocols::tds::{
    header, packet, parse_prelogin, ENCRYPT_NOT_SUP, ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ, ENCRYPT_STRICT,
    HEADER, STATUS_EOM, TYPE_PRELOGIN, TYPE_REPLY,
};

/// The server's encryption setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// A certificate, Force Encryption off: TLS on request (login only by default).
    Off,
    /// Force Encryption on.
    Required,
    /// No certificate at all.
    NotSupported,
}

/// Which TDS versions the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strict {
    /// TDS 7.x only (SQL Server 2019 and older): a ClientHello first is closed on.
    No,
    /// Both (SQL Server 2022).
    Accept,
    /// TDS 8 only (Force Strict Encryption): a PRELOGIN first is closed on.
    Only,
}

/// What one client connection did.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub client_encrypt: Option<u8>,
    pub answered: Option<u8>,
    pub strict: bool,
    pub tls_version: Option<String>,
    pub alpn: Option<String>,
    pub tls_error: Option<String>,
    pub login: bool,
    pub batches: usize,
}

pub struct TdsServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TdsServer {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn log(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

/// The version our PRELOGIN answer reports: SQL Server 2022 CU (16.0.4135.4).
pub const VERSION: [u8; 6] = [16, 0, 0x10, 0x27, 0, 4];

fn configs(chain_pem: &str, key_pem: &str) -> (Arc<ServerConfig>, Arc<ServerConfig>) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain pem");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key pem");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tds7 = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain.clone(), key.clone_key())
        .expect("server cert");
    let mut tds8 = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server cert");
    tds8.alpn_protocols = vec![b"tds/8.0".to_vec()];
    (Arc::new(tds7), Arc::new(tds8))
}

/// Start the server on 127.0.0.1 (kernel-chosen port); it lives as long as the process.
pub fn start(chain_pem: &str, key_pem: &str, enc: Encryption, strict: Strict) -> TdsServer {
    let (tds7, tds8) = configs(chain_pem, key_pem);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let (tds7, tds8, log) = (tds7.clone(), tds8.clone(), log.clone());
            std::thread::spawn(move || {
                let mut seen = Seen::default();
                let _ = serve(s, &tds7, &tds8, enc, strict, &mut seen);
                log.lock().unwrap().push(seen);
            });
        }
    });
    TdsServer { port, seen }
}

type R<T> = std::io::Result<T>;

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// One message (packets up to EOM): (type, payload); None at a clean end of stream.
fn read_message(r: &mut impl Read) -> R<Option<(u8, Vec<u8>)>> {
    let mut payload = Vec::new();
    loop {
        let mut h = [0u8; HEADER];
        match r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && payload.is_empty() => return Ok(None),
            Err(e) => return Err(e),
        }
        let (ty, status, len) = header(&h).unwrap();
        if len < HEADER {
            return Err(bad("short packet"));
        }
        let mut body = vec![0u8; len - HEADER];
        r.read_exact(&mut body)?;
        payload.extend_from_slice(&body);
        if status & STATUS_EOM != 0 {
            return Ok(Some((ty, payload)));
        }
    }
}

/// A message as packets of at most 4096 bytes.
fn message(ty: u8, payload: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[]]
    } else {
        payload.chunks(4096 - HEADER).collect()
    };
    let n = chunks.len();
    let mut v = Vec::new();
    for (i, c) in chunks.into_iter().enumerate() {
        v.extend_from_slice(&packet(
            ty,
            if i + 1 == n { STATUS_EOM } else { 0 },
            (i + 1) as u8,
            c,
        ));
    }
    v
}

fn prelogin_answer(encrypt: u8) -> Vec<u8> {
    let opts: [(u8, &[u8]); 5] = [
        (0x00, &VERSION),
        (0x01, &[encrypt]),
        (0x02, &[0]),
        (0x03, &[]),
        (0x04, &[0]),
    ];
    let table = opts.len() * 5 + 1;
    let mut head = Vec::new();
    let mut data = Vec::new();
    for (tok, val) in opts {
        head.push(tok);
        head.extend_from_slice(&((table + data.len()) as u16).to_be_bytes());
        head.extend_from_slice(&(val.len() as u16).to_be_bytes());
        data.extend_from_slice(val);
    }
    head.push(0xff);
    head.extend_from_slice(&data);
    head
}

fn us_varchar(s: &str) -> Vec<u8> {
    let u: Vec<u16> = s.encode_utf16().collect();
    let mut v = vec![u.len() as u8];
    for c in u {
        v.extend_from_slice(&c.to_le_bytes());
    }
    v
}

fn done() -> Vec<u8> {
    // DONE: status 0 (final), curcmd 0, row count (u64, TDS 7.2+).
    let mut v = vec![0xfd, 0, 0, 0, 0];
    v.extend_from_slice(&0u64.to_le_bytes());
    v
}

/// LOGINACK (TDS 7.4, "Microsoft SQL Server" 16.0.4135) + ENVCHANGE packet size + DONE.
fn login_answer() -> Vec<u8> {
    let mut ack = vec![1u8]; // interface: SQL_TSQL
    ack.extend_from_slice(&[0x74, 0x00, 0x00, 0x04]); // TDS 7.4
    ack.extend_from_slice(&us_varchar("Microsoft SQL Server"));
    ack.extend_from_slice(&[16, 0, 0x10, 0x27]);
    let mut v = vec![0xad];
    v.extend_from_slice(&(ack.len() as u16).to_le_bytes());
    v.extend_from_slice(&ack);
    // ENVCHANGE type 4 (packet size): new "4096", old "4096".
    let mut env = vec![4u8];
    env.extend_from_slice(&us_varchar("4096"));
    env.extend_from_slice(&us_varchar("4096"));
    v.push(0xe3);
    v.extend_from_slice(&(env.len() as u16).to_le_bytes());
    v.extend_from_slice(&env);
    v.extend_from_slice(&done());
    v
}

/// After the handshake (or without TLS): LOGIN7 (0x10) → LOGINACK; SQL batches → DONE.
/// `login_only`: the login came over `tls`, everything after it is plaintext on `raw`.
fn session(
    mut tls: Option<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>,
    mut raw: TcpStream,
    login_only: bool,
    seen: &mut Seen,
) -> R<()> {
    loop {
        let msg = match tls.as_mut() {
            Some(t) => read_message(t)?,
            None => read_message(&mut raw)?,
        };
        let Some((ty, _payload)) = msg else {
            return Ok(());
        };
        let answer = match ty {
            0x10 => {
                seen.login = true;
                login_answer()
            }
            0x01 => {
                seen.batches += 1;
                done()
            }
            0x0e => continue, // attention
            0x12 => prelogin_answer(ENCRYPT_STRICT),
            _ => return Err(bad(format!("unexpected message type 0x{ty:02x}"))),
        };
        if ty == 0x10 && login_only {
            // ENCRYPT_OFF: only the login packet was encrypted.
            tls = None;
        }
        let out = message(TYPE_REPLY, &answer);
        match tls.as_mut() {
            Some(t) => {
                t.write_all(&out)?;
                t.flush()?
            }
            None => raw.write_all(&out)?,
        }
    }
}

fn serve(
    mut s: TcpStream,
    tds7: &Arc<ServerConfig>,
    tds8: &Arc<ServerConfig>,
    enc: Encryption,
    strict: Strict,
    seen: &mut Seen,
) -> R<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut first = [0u8; 1];
    if s.peek(&mut first)? == 0 {
        return Ok(());
    }
    if first[0] == 0x16 {
        // TLS first: TDS 8.
        if strict == Strict::No {
            return Ok(());
        }
        seen.strict = true;
        let conn = rustls::ServerConnection::new(tds8.clone()).unwrap();
        let mut t = rustls::StreamOwned::new(conn, s.try_clone()?);
        while t.conn.is_handshaking() {
            if let Err(e) = t.conn.complete_io(&mut t.sock) {
                seen.tls_error = Some(e.to_string());
                return Ok(());
            }
        }
        seen.tls_version = t.conn.protocol_version().map(|v| format!("{v:?}"));
        seen.alpn = t
            .conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        return session(Some(t), s, false, seen);
    }
    // Anything but a PRELOGIN packet: closed at once, as SQL Server closes on a
    // structurally invalid first packet (its error 17832).
    if strict == Strict::Only || first[0] != TYPE_PRELOGIN {
        return Ok(());
    }
    let Some((ty, payload)) = read_message(&mut s)? else {
        return Ok(());
    };
    if ty != TYPE_PRELOGIN {
        return Err(bad("not a PRELOGIN"));
    }
    let client = parse_prelogin(&payload)
        .map_err(bad)?
        .encryption
        .unwrap_or(ENCRYPT_OFF);
    seen.client_encrypt = Some(client);
    // [MS-TDS] 2.2.6.5: the server's answer from its setting and the client's request.
    let answer = match (enc, client) {
        (Encryption::NotSupported, _) => ENCRYPT_NOT_SUP,
        (Encryption::Required, _) => ENCRYPT_REQ,
        (Encryption::Off, ENCRYPT_NOT_SUP) => ENCRYPT_NOT_SUP,
        (Encryption::Off, ENCRYPT_OFF) => ENCRYPT_OFF,
        (Encryption::Off, _) => ENCRYPT_ON,
    };
    seen.answered = Some(answer);
    s.write_all(&message(TYPE_REPLY, &prelogin_answer(answer)))?;
    if answer == ENCRYPT_NOT_SUP || (answer == ENCRYPT_REQ && client == ENCRYPT_NOT_SUP) {
        if client == ENCRYPT_NOT_SUP && answer == ENCRYPT_NOT_SUP {
            return session(None, s, false, seen);
        }
        return Ok(()); // one side cannot go on: the connection ends
    }
    // The handshake inside PRELOGIN packets.
    let mut conn = rustls::ServerConnection::new(tds7.clone()).unwrap();
    while conn.is_handshaking() {
        let Some((ty, data)) = read_message(&mut s)? else {
            seen.tls_error = Some("client closed during the handshake".into());
            return Ok(());
        };
        if ty != TYPE_PRELOGIN {
            seen.tls_error = Some(format!("message type 0x{ty:02x} during the handshake"));
            return Ok(());
        }
        let mut rd = &data[..];
        while !rd.is_empty() {
            conn.read_tls(&mut rd)?;
            if let Err(e) = conn.process_new_packets() {
                seen.tls_error = Some(e.to_string());
                let mut out = Vec::new();
                let _ = conn.write_tls(&mut out);
                let _ = s.write_all(&message(TYPE_PRELOGIN, &out));
                return Ok(());
            }
        }
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out)?;
        }
        if !out.is_empty() {
            s.write_all(&message(TYPE_PRELOGIN, &out))?;
        }
    }
    seen.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
    let t = rustls::StreamOwned::new(conn, s.try_clone()?);
    session(Some(t), s, answer == ENCRYPT_OFF, seen)
}

/// A client's PRELOGIN ENCRYPTION value, named.
pub fn encrypt_name(e: u8) -> &'static str {
    match e {
        ENCRYPT_OFF => "off",
        ENCRYPT_ON => "on",
        ENCRYPT_NOT_SUP => "not supported",
        ENCRYPT_REQ => "required",
        ENCRYPT_STRICT => "strict",
        _ => "other",
    }
}
