//! Protocols as units (ARCHITECTURE.md, PROTOCOLS.md). A protocol is one module here and
//! one line in [`REGISTRY`]: its URL schemes and well-known ports, who speaks first, how to
//! recognise it from the first bytes a server sends, the negotiation before TLS, its
//! transport (TLS records on the plain stream, or carried in its own packets), what to do
//! after the handshake, and what its clients would conclude (libpq `sslmode`, MySQL
//! `ssl-mode`, go-mssqldb `encrypt`).
//!
//! Everything outside this folder works through [`Starttls`] (a handle on a unit) and the
//! [`Protocol`] trait; `tls.rs` names no protocol.
//!
//! Each negotiation reads exactly what its protocol needs through [`Conn`]'s dialogue
//! buffer; whatever is left there when TLS starts is reported as a finding by the caller
//! and never handed to TLS.

pub mod ftp;
pub mod imap;
pub mod ldap;
pub mod mysql;
pub mod plain;
pub mod pop3;
pub mod postgres;
pub mod smtp;
pub mod tds;
pub mod xmpp;

use std::io::{Read, Write};
use std::sync::LazyLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::net::Conn;
use super::sniff::Sniffed;
use super::{ProbeError, Target};
use crate::diagnose::Cause;
use crate::finding::Finding;
use crate::report::sanitize::sanitize;

/// Every protocol, in sniffing order (the first unit that recognises a peer's bytes wins).
pub static REGISTRY: &[&dyn Protocol] = &[
    &plain::Plain,
    &mysql::Mysql,
    &postgres::Postgres,
    &postgres::PostgresDirect,
    &ftp::Ftp,
    &smtp::Smtp,
    &imap::Imap,
    &pop3::Pop3,
    &ldap::Ldap,
    &xmpp::Xmpp,
    &tds::Tds,
    &tds::TdsStrict,
];

/// A URL scheme a protocol owns.
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    pub name: &'static str,
    pub port: u16,
    /// TLS from the first byte (`smtps`, `ldaps`, …): no dialogue before the ClientHello.
    pub implicit_tls: bool,
}

impl Scheme {
    pub const fn dialogue(name: &'static str, port: u16) -> Scheme {
        Scheme {
            name,
            port,
            implicit_tls: false,
        }
    }
    pub const fn implicit(name: &'static str, port: u16) -> Scheme {
        Scheme {
            name,
            port,
            implicit_tls: true,
        }
    }
}

/// What a negotiation is given besides the connection.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub target: &'a Target,
    /// `--name`: the name the certificate is verified for.
    pub name: Option<&'a str>,
    /// `--xmpp-domain`.
    pub xmpp_domain: Option<&'a str>,
}

/// One protocol. Only `code`, `label`, `help` and `negotiate` are required; the defaults
/// describe a protocol spoken client-first over a plain stream with nothing to conclude.
pub trait Protocol: Sync + Send {
    /// The `--starttls` value.
    fn code(&self) -> &'static str;
    /// A name for humans.
    fn label(&self) -> &'static str;
    /// One line for `--help`.
    fn help(&self) -> &'static str;
    /// URL schemes (with their default ports) that imply this protocol.
    fn schemes(&self) -> &'static [Scheme] {
        &[]
    }
    /// Well-known ports `auto` speaks this protocol on.
    fn ports(&self) -> &'static [u16] {
        &[]
    }
    /// The server sends the first bytes (a greeting).
    fn server_speaks_first(&self) -> bool {
        false
    }
    /// Nothing is said before the ClientHello, so there is no go-ahead after which stray
    /// bytes would be an injection.
    fn tls_first(&self) -> bool {
        false
    }
    /// The code of this protocol's TLS-first variant (`postgres-direct`, `tds-strict`).
    fn tls_first_variant(&self) -> Option<&'static str> {
        None
    }
    /// A URL query option that selects another unit (libpq's `sslnegotiation=direct`).
    fn url_variant(&self, _query: &str) -> Option<Starttls> {
        None
    }
    /// Recognise this protocol from the first bytes a server sent.
    fn sniff(&self, _first: &[u8]) -> Option<Sniffed> {
        None
    }
    /// A client-first protocol worth trying when a server closes on a ClientHello without
    /// a word; its answer must confirm it ([`Dialogue::confirmed`]).
    fn guessable(&self) -> bool {
        false
    }
    /// Speak until the server's go-ahead for TLS.
    fn negotiate(&self, conn: &mut Conn, cx: &Context<'_>) -> Result<Dialogue, ProbeError>;
    /// How TLS records travel: on the stream (default), or inside the protocol's packets.
    fn wire<'a>(&self, conn: &'a mut Conn, _d: &Dialogue) -> Box<dyn Wire + 'a> {
        Box::new(conn)
    }
    /// After a completed handshake, before closing (MySQL's polite login and COM_QUIT; TDS
    /// strict's PRELOGIN inside TLS). Facts go into `d`.
    fn after_handshake(&self, _tls: &mut rustls::ClientConnection, _wire: &mut dyn Wire, _d: &mut Dialogue) {}
    /// What this protocol's clients would conclude from the outcome (into the report's
    /// `server` object and findings).
    fn conclusions(&self, _o: &Outcome<'_>, _server: &mut Map<String, Value>, _findings: &mut Vec<Finding>) {}
}

/// The byte stream TLS runs on: the connection itself, or a protocol's framing around it.
pub trait Wire: Read + Write {
    fn conn(&mut self) -> &mut Conn;
    /// A read that waits no longer than `limit` (and the deadline).
    fn read_with_timeout(&mut self, buf: &mut [u8], limit: Duration) -> std::io::Result<usize>;
    /// The handshake is over (TDS 7.x: records travel bare from now on).
    fn handshake_done(&mut self) {}
}

impl Wire for Conn {
    fn conn(&mut self) -> &mut Conn {
        self
    }
    fn read_with_timeout(&mut self, buf: &mut [u8], limit: Duration) -> std::io::Result<usize> {
        Conn::read_with_timeout(self, buf, limit)
    }
}

impl<W: Wire + ?Sized> Wire for &mut W {
    fn conn(&mut self) -> &mut Conn {
        (**self).conn()
    }
    fn read_with_timeout(&mut self, buf: &mut [u8], limit: Duration) -> std::io::Result<usize> {
        (**self).read_with_timeout(buf, limit)
    }
    fn handshake_done(&mut self) {
        (**self).handshake_done()
    }
}

/// What a negotiation learned.
#[derive(Debug, Clone, Default)]
pub struct Dialogue {
    /// One line for the report's `network.server_greeting`.
    pub greeting: Option<String>,
    /// Facts for the report's `server` object.
    pub facts: Map<String, Value>,
    pub findings: Vec<Finding>,
    /// ALPN the protocol mandates (postgres-direct, tds-strict), overriding `--alpn`.
    pub alpn: Option<Vec<String>>,
    /// The server said no (`starttls-refused` and friends); facts are still kept.
    pub refused: Option<ProbeError>,
    /// The server's answer proves it speaks this protocol (a guess may be kept).
    pub confirmed: bool,
    /// The protocol's next packet sequence number, for what it does after the handshake.
    pub sequence: Option<u8>,
}

impl Dialogue {
    pub fn fact(&mut self, k: &str, v: impl Into<Value>) {
        self.facts.insert(k.to_string(), v.into());
    }

    /// A greeting line, unless the text is empty.
    pub fn greet(&mut self, line: String) {
        if !line.trim().is_empty() {
            self.greeting = Some(line);
        }
    }

    pub(crate) fn refuse(mut self, cause: Cause, msg: impl Into<String>) -> Dialogue {
        self.refused = Some(ProbeError::new(cause, msg));
        self
    }
}

// ---------------------------------------------------------------------------------------
// The handle

/// The dialogue spoken before the TLS ClientHello: a handle on a [`Protocol`] unit, or
/// `auto` (decide from the URL scheme or the well-known port).
#[derive(Clone, Copy)]
pub struct Starttls(&'static dyn Protocol);

struct Auto;

impl Protocol for Auto {
    fn code(&self) -> &'static str {
        "auto"
    }
    fn label(&self) -> &'static str {
        "auto"
    }
    fn help(&self) -> &'static str {
        "Decide from the URL scheme or the well-known port, confirmed by what the server says first"
    }
    fn tls_first(&self) -> bool {
        true
    }
    fn negotiate(&self, _conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        Ok(Dialogue::default())
    }
}

#[allow(non_upper_case_globals)]
impl Starttls {
    /// Decide from the URL scheme or the well-known port.
    pub const Auto: Starttls = Starttls(&Auto);
    /// Plain TLS from the first byte.
    pub const None: Starttls = Starttls(&plain::Plain);

    /// The handle of a unit.
    pub const fn of(unit: &'static dyn Protocol) -> Starttls {
        Starttls(unit)
    }

    pub fn unit(self) -> &'static dyn Protocol {
        self.0
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    pub fn label(self) -> &'static str {
        self.0.label()
    }

    pub fn from_code(s: &str) -> Option<Starttls> {
        all().iter().copied().find(|p| p.code() == s)
    }

    pub fn server_speaks_first(self) -> bool {
        self.0.server_speaks_first()
    }

    /// The dialogue `auto` picks for a well-known port; plain TLS for any other.
    pub fn for_port(port: u16) -> Starttls {
        REGISTRY
            .iter()
            .find(|p| p.ports().contains(&port))
            .map(|p| Starttls(*p))
            .unwrap_or(Starttls::None)
    }

    /// A URL scheme's default port and dialogue.
    pub fn for_scheme(scheme: &str) -> Option<(u16, Starttls)> {
        REGISTRY.iter().find_map(|p| {
            p.schemes().iter().find(|s| s.name == scheme).map(|s| {
                let d = if s.implicit_tls {
                    Starttls::None
                } else {
                    Starttls(*p)
                };
                (s.port, d)
            })
        })
    }

    /// Every URL scheme known, in registry order.
    pub fn scheme_names() -> Vec<&'static str> {
        REGISTRY
            .iter()
            .flat_map(|p| p.schemes().iter().map(|s| s.name))
            .collect()
    }

    /// The client-first protocols worth a guess after a silent close, in registry order.
    pub fn guesses() -> Vec<Starttls> {
        REGISTRY
            .iter()
            .filter(|p| p.guessable())
            .map(|p| Starttls(*p))
            .collect()
    }

    /// `--starttls a, b or c` for hints.
    pub fn flags_text(list: &[Starttls]) -> String {
        let codes: Vec<String> = list.iter().map(|p| p.code().to_string()).collect();
        match codes.len() {
            0 => String::new(),
            1 => format!("--starttls {}", codes[0]),
            n => format!("--starttls {} or {}", codes[..n - 1].join(", "), codes[n - 1]),
        }
    }
}

/// `auto` and every registered protocol (the `--starttls` values).
pub fn all() -> &'static [Starttls] {
    static ALL: LazyLock<Vec<Starttls>> = LazyLock::new(|| {
        std::iter::once(Starttls::Auto)
            .chain(REGISTRY.iter().map(|p| Starttls(*p)))
            .collect()
    });
    &ALL
}

impl PartialEq for Starttls {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}
impl Eq for Starttls {}

impl std::hash::Hash for Starttls {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code().hash(state)
    }
}

impl std::fmt::Debug for Starttls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Starttls({})", self.code())
    }
}

impl std::fmt::Display for Starttls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl clap::ValueEnum for Starttls {
    fn value_variants<'a>() -> &'a [Self] {
        all()
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.code()).help(self.0.help()))
    }
}

// ---------------------------------------------------------------------------------------
// Conclusions

/// One runtime's verdict on the presented chain, as the conclusions need it.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub runtime: String,
    pub trusted: bool,
    pub causes: Vec<String>,
    pub message: String,
}

impl Judgement {
    /// Fails only on the name (chain and dates fine)?
    pub fn only_name_problems(&self) -> bool {
        !self.trusted
            && !self.causes.is_empty()
            && self
                .causes
                .iter()
                .all(|c| c == "name-mismatch" || c == "legacy-common-name")
    }
}

/// What a protocol's conclusions are drawn from.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// The handshake completed and nothing failed.
    pub tls_ok: bool,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    pub verdicts: &'a [Judgement],
    /// The stores are the `--ca` files.
    pub explicit_ca: bool,
}

impl Outcome<'_> {
    pub fn verdict(&self, runtime: &str) -> Option<&Judgement> {
        self.verdicts.iter().find(|v| v.runtime == runtime)
    }
}

/// For clients that verify with OpenSSL (libpq, the MySQL client): (no verification, chain
/// verified, chain + host name), given the client's own words for a chain failure and for
/// a host-name failure. CN-only certificates: their X509_check_host falls back to the CN
/// when there is no DNS SAN, so only a real mismatch fails the identity check.
pub fn openssl_client_modes(
    o: &Outcome<'_>,
    chain_fail: impl Fn(&str) -> String,
    name_fail: &str,
) -> [String; 3] {
    let fail = |why: &str| format!("fails: {why}");
    if !o.tls_ok {
        let f = fail(o.error.unwrap_or("no TLS session"));
        return [f.clone(), f.clone(), f];
    }
    let Some(v) = o.verdict("openssl") else {
        // Without OpenSSL's verdict (`--runtime` left it out) the verifying modes cannot
        // be told, and must not be reported as failing.
        const UNKNOWN: &str = "unknown: OpenSSL was not evaluated (add --runtime openssl)";
        return [
            "connects (encrypted, certificate not verified)".to_string(),
            UNKNOWN.to_string(),
            UNKNOWN.to_string(),
        ];
    };
    let ca_ok = v.trusted || v.only_name_problems();
    let full_ok = v.trusted || (ca_ok && v.causes.iter().all(|c| c == "legacy-common-name"));
    let chain = fail(&chain_fail(&v.message));
    [
        "connects (encrypted, certificate not verified)".to_string(),
        if ca_ok {
            "connects".to_string()
        } else {
            chain.clone()
        },
        if full_ok {
            "connects".to_string()
        } else if ca_ok {
            fail(name_fail)
        } else {
            chain
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the line-based protocols

/// Most bytes of a line-based reply we accept.
const MAX_REPLY: usize = 64 * 1024;

/// A numeric reply (SMTP, FTP): lines `NNN-…` continued until `NNN …`.
pub(crate) fn read_numeric_reply(conn: &mut Conn, step: &str) -> Result<(u16, Vec<String>), ProbeError> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let line = conn.read_line(4096, step)?;
        total += line.len();
        let l = line.trim_end_matches(['\r', '\n']).to_string();
        let b = l.as_bytes();
        if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
            return Err(ProbeError::new(
                Cause::NoTls,
                format!(
                    "{step}: expected a numeric reply, got {}",
                    super::sniff::preview(line.as_bytes())
                ),
            ));
        }
        let code: u16 = l[..3].parse().unwrap_or(0);
        let last = b.len() == 3 || b[3] == b' ';
        lines.push(l);
        if last {
            return Ok((code, lines));
        }
        if total > MAX_REPLY || lines.len() > 500 {
            return Err(ProbeError::new(Cause::NoTls, format!("{step}: reply too long")));
        }
    }
}

/// Most characters of a peer's line quoted in a report.
pub const QUOTE_MAX: usize = 400;

/// A peer's line, sanitised and bounded: whole when it fits in [`QUOTE_MAX`] characters,
/// else cut at a word boundary with `…` (never mid-word).
pub(crate) fn clean(s: &str) -> String {
    sanitize(&bounded(s.trim_end_matches(['\r', '\n']).trim_end(), QUOTE_MAX))
}

/// `s` if it has at most `max` characters; else its longest prefix ending at a space
/// (a whole word) within `max`, followed by `…`.
pub fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    let end = match cut.rfind(char::is_whitespace) {
        Some(i) if i > max / 2 => cut[..i].trim_end().to_string(),
        // One enormous word: cut it, still marked.
        _ => cut,
    };
    format!("{end}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_codes_schemes_and_ports_are_unique() {
        let mut codes: Vec<&str> = all().iter().map(|p| p.code()).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate --starttls code");
        let mut schemes = Starttls::scheme_names();
        let n = schemes.len();
        schemes.sort();
        schemes.dedup();
        assert_eq!(schemes.len(), n, "a scheme owned twice");
        let mut ports: Vec<u16> = REGISTRY.iter().flat_map(|p| p.ports().iter().copied()).collect();
        let n = ports.len();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), n, "a well-known port owned twice");
        for p in all() {
            assert_eq!(Starttls::from_code(p.code()), Some(*p));
            assert!(!p.unit().help().is_empty() && !p.label().is_empty());
        }
    }

    #[test]
    fn quotes_are_whole_words() {
        let greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.";
        assert_eq!(clean(&format!("{greeting}\r\n")), greeting);
        let long = "word ".repeat(200);
        let q = clean(&long);
        assert!(q.ends_with("word…"), "{q}");
        assert!(q.chars().count() <= QUOTE_MAX + 1);
        let one = "x".repeat(1000);
        assert_eq!(clean(&one).chars().count(), QUOTE_MAX + 1);
        assert_eq!(clean("evil\x1b[2J\r\n"), "evil\\x1b[2J");
    }
}
