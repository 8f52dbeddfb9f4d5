//! PostgreSQL: SSLRequest (`S`/`N`/`E`), or direct TLS with ALPN `postgresql` (17+), and
//! what libpq's `sslmode` would conclude.

use serde_json::{json, Map, Value};

use super::{openssl_client_modes, Context, Dialogue, Outcome, Protocol, Scheme};
use crate::diagnose::Cause;
use crate::finding::{Finding, Severity};
use crate::probe::net::Conn;
use crate::probe::sniff::Sniffed;
use crate::probe::{ProbeError, Starttls};

pub struct Postgres;

impl Protocol for Postgres {
    fn code(&self) -> &'static str {
        "postgres"
    }
    fn label(&self) -> &'static str {
        "PostgreSQL"
    }
    fn help(&self) -> &'static str {
        "PostgreSQL: SSLRequest, then TLS"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[
            Scheme::dialogue("postgres", 5432),
            Scheme::dialogue("postgresql", 5432),
        ];
        S
    }
    fn ports(&self) -> &'static [u16] {
        &[5432]
    }
    fn tls_first_variant(&self) -> Option<&'static str> {
        Some("postgres-direct")
    }
    fn url_variant(&self, query: &str) -> Option<Starttls> {
        // libpq's sslnegotiation=direct in a postgres URL.
        query
            .split('&')
            .any(|kv| kv.eq_ignore_ascii_case("sslnegotiation=direct"))
            .then_some(Starttls::of(&PostgresDirect))
    }
    fn guessable(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        if b.first() == Some(&b'E') && b.len() >= 6 {
            let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
            if (5..=8192).contains(&len) && matches!(b[5], b'S' | b'V' | b'C' | b'M') {
                return Some(Sniffed {
                    what: "a PostgreSQL error",
                    summary: String::new(),
                    dialogue: Some(Starttls::of(&Postgres)),
                });
            }
        }
        None
    }
    fn negotiate(&self, conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        run(conn)
    }
    fn conclusions(&self, o: &Outcome<'_>, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
        libpq(o, server, findings)
    }
}

/// PostgreSQL 17+ direct TLS (libpq `sslnegotiation=direct`).
pub struct PostgresDirect;

impl Protocol for PostgresDirect {
    fn code(&self) -> &'static str {
        "postgres-direct"
    }
    fn label(&self) -> &'static str {
        "PostgreSQL direct TLS"
    }
    fn help(&self) -> &'static str {
        "PostgreSQL 17+ direct TLS (ALPN `postgresql`)"
    }
    fn tls_first(&self) -> bool {
        true
    }
    fn negotiate(&self, _conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        Ok(direct())
    }
    fn conclusions(&self, o: &Outcome<'_>, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
        libpq(o, server, findings)
    }
}

/// What libpq's `sslmode` would conclude (it verifies with OpenSSL).
fn libpq(o: &Outcome<'_>, server: &mut Map<String, Value>, findings: &mut Vec<Finding>) {
    if server.contains_key("libpq") {
        return; // the negotiation already concluded (no TLS at all)
    }
    let [req, vca, vfull] = openssl_client_modes(
        o,
        |m| format!("SSL error: certificate verify failed ({m})"),
        "server certificate does not match host name",
    );
    let full_ok = vfull == "connects";
    let judged = o.verdict("openssl").is_some();
    server.insert(
        "libpq".into(),
        json!({
            "sslrootcert": if o.explicit_ca { "the --ca file(s)" } else { "system (OpenSSL's default store, PostgreSQL 16+ sslrootcert=system); libpq's default is ~/.postgresql/root.crt" },
            "sslmode=require": req,
            "sslmode=verify-ca": vca,
            "sslmode=verify-full": vfull,
        }),
    );
    if o.tls_ok && judged && !full_ok {
        findings.push(
            Finding::new(
                "libpq-sslmode",
                Severity::Warning,
                "sslmode=require would connect but does not verify the certificate; verify-full would fail with this chain.",
            )
            .fix("Give clients the CA that issued the server certificate (sslrootcert=FILE) and use sslmode=verify-full; make the certificate name the host clients use."),
        );
    }
}

/// Int32 length 8, Int32 code 80877103.
pub const SSL_REQUEST: [u8; 8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];

pub fn run(conn: &mut Conn) -> Result<Dialogue, ProbeError> {
    let mut d = Dialogue::default();
    d.fact("protocol", "postgres");
    d.fact("negotiation", "sslrequest");
    conn.write_d(&SSL_REQUEST, "PostgreSQL SSLRequest")?;
    let answer = match conn.read_exact_d(1, "PostgreSQL SSLRequest answer") {
        Ok(b) => b[0],
        // PostgreSQL answers at once with one byte: say what silence or a close means.
        Err(mut e) => {
            match e.cause {
                Cause::HandshakeFailure => e.message.push_str(
                    " without answering (PostgreSQL always answers S or N); a server that speaks \
                     TLS from the first byte closes like this: try --starttls none (PostgreSQL 17+ \
                     direct TLS: --starttls postgres-direct)",
                ),
                Cause::Timeout => e.message.push_str(
                    "; PostgreSQL answers an SSLRequest at once, so this is probably not \
                     PostgreSQL (an HTTP server waits like this for the rest of a request)",
                ),
                _ => {}
            }
            return Err(e);
        }
    };
    match answer {
        b'S' => {
            d.confirmed = true;
            d.fact("ssl_response", "S");
            d.greeting = Some("PostgreSQL: S (TLS accepted)".into());
            Ok(d)
        }
        b'N' => {
            d.confirmed = true;
            d.fact("ssl_response", "N");
            d.greeting = Some("PostgreSQL: N (no TLS)".into());
            d.fact(
                "libpq",
                json!({
                    "sslmode=prefer": "connects without TLS",
                    "sslmode=require": "fails: server does not support SSL, but SSL was required",
                    "sslmode=verify-ca": "fails: server does not support SSL, but SSL was required",
                    "sslmode=verify-full": "fails: server does not support SSL, but SSL was required",
                }),
            );
            Ok(d.refuse(
                Cause::StarttlsRefused,
                "the PostgreSQL server answered N to the SSLRequest: TLS is not enabled there \
                 (ssl = off in postgresql.conf, or no ssl_cert_file/ssl_key_file)",
            ))
        }
        b'E' => {
            d.fact("ssl_response", "E");
            d.greeting = Some("PostgreSQL: E (error instead of an SSLRequest answer)".into());
            // Its text is not shown: it arrives unauthenticated before TLS.
            Ok(d.refuse(
                Cause::StarttlsRefused,
                "the server answered the SSLRequest with an error message: a very old PostgreSQL \
                 server, or something that is not PostgreSQL (its text is not shown: it is \
                 unauthenticated)",
            ))
        }
        other => Err(ProbeError::new(
            Cause::NoTls,
            format!("the server answered the PostgreSQL SSLRequest with byte 0x{other:02x}, not S/N/E"),
        )),
    }
}

/// Direct TLS: nothing before the ClientHello; ALPN `postgresql` is mandatory.
pub fn direct() -> Dialogue {
    let mut d = Dialogue::default();
    d.fact("protocol", "postgres");
    d.fact("negotiation", "direct");
    d.alpn = Some(vec!["postgresql".into()]);
    d
}
