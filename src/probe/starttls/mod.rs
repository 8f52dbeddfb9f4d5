//! Pre-TLS dialogues (PROTOCOLS.md). Each reads exactly what its protocol needs through
//! [`Conn`]'s dialogue buffer; whatever is left there when TLS starts is reported as a
//! finding by the caller and never handed to TLS.

pub mod ftp;
pub mod imap;
pub mod ldap;
pub mod mysql;
pub mod pop3;
pub mod postgres;
pub mod smtp;
pub mod xmpp;

use serde_json::{Map, Value};

use super::net::Conn;
use super::{ProbeError, Starttls, Target};
use crate::diagnose::Cause;
use crate::finding::Finding;
use crate::report::sanitize::sanitize;

/// What a dialogue learned.
#[derive(Debug, Clone, Default)]
pub struct Dialogue {
    /// One line for the report's `network.server_greeting`.
    pub greeting: Option<String>,
    /// Facts for the report's `server` object.
    pub facts: Map<String, Value>,
    pub findings: Vec<Finding>,
    /// ALPN the protocol mandates (postgres-direct), overriding `--alpn`.
    pub alpn: Option<Vec<String>>,
    /// The server said no (`starttls-refused` and friends); facts are still kept.
    pub refused: Option<ProbeError>,
    /// MySQL: the sequence id for the login packet sent over TLS before closing.
    pub mysql_login_seq: Option<u8>,
}

impl Dialogue {
    pub fn fact(&mut self, k: &str, v: impl Into<Value>) {
        self.facts.insert(k.to_string(), v.into());
    }

    fn refuse(mut self, cause: Cause, msg: impl Into<String>) -> Dialogue {
        self.refused = Some(ProbeError::new(cause, msg));
        self
    }
}

/// Speak `which` on `conn` until the server's go-ahead for TLS.
pub fn run(which: Starttls, conn: &mut Conn, target: &Target) -> Result<Dialogue, ProbeError> {
    if which.server_speaks_first() {
        // A third of the budget, at least 2 s: enough for a slow greeting, short enough to
        // leave time to say what is wrong.
        // Never more than what is left of the whole budget; the message then names the
        // budget (`--timeout`), not a wait that was never granted.
        let total = conn.deadline().total();
        let wait = (total / 3).max(std::time::Duration::from_secs(2));
        let left = conn.deadline().remaining("greeting").unwrap_or_default();
        if wait < left {
            conn.expect_greeting_within(wait, wait);
        } else {
            conn.expect_greeting_within(left, total);
        }
    }
    match which {
        Starttls::None | Starttls::Auto => Ok(Dialogue::default()),
        Starttls::Mysql => mysql::run(conn),
        Starttls::Postgres => postgres::run(conn),
        Starttls::PostgresDirect => Ok(postgres::direct()),
        Starttls::Smtp => smtp::run(conn),
        Starttls::Imap => imap::run(conn),
        Starttls::Pop3 => pop3::run(conn),
        Starttls::Ftp => ftp::run(conn),
        Starttls::Ldap => ldap::run(conn),
        Starttls::Xmpp => xmpp::run(conn, &target.host),
    }
}

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

/// Sanitized, shortened text of a peer's line.
pub(crate) fn clean(s: &str) -> String {
    let s = s.trim_end_matches(['\r', '\n']);
    let short: String = s.chars().take(200).collect();
    sanitize(&short)
}
