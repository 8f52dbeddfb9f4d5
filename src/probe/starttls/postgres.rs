//! PostgreSQL: SSLRequest (`S`/`N`/`E`), or direct TLS with ALPN `postgresql` (17+).

use super::{Dialogue, ProbeError};
use crate::diagnose::Cause;
use crate::probe::net::Conn;

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
            d.fact("ssl_response", "S");
            d.greeting = Some("PostgreSQL: S (TLS accepted)".into());
            Ok(d)
        }
        b'N' => {
            d.fact("ssl_response", "N");
            d.greeting = Some("PostgreSQL: N (no TLS)".into());
            d.fact(
                "libpq",
                serde_json::json!({
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
