//! Plain TLS from the first byte: HTTPS, Redis, and every implicit-TLS port. Recognised by
//! a TLS record in answer to a dialogue (an alert or a ServerHello).

use super::{Context, Dialogue, Protocol, Scheme};
use crate::probe::net::Conn;
use crate::probe::sniff::{alert_name, Sniffed};
use crate::probe::{ProbeError, Starttls};

pub struct Plain;

impl Protocol for Plain {
    fn code(&self) -> &'static str {
        "none"
    }
    fn label(&self) -> &'static str {
        "plain TLS"
    }
    fn help(&self) -> &'static str {
        "Plain TLS from the first byte"
    }
    fn schemes(&self) -> &'static [Scheme] {
        const S: &[Scheme] = &[
            Scheme::implicit("https", 443),
            Scheme::implicit("wss", 443),
            Scheme::implicit("tls", 443),
            Scheme::implicit("grpcs", 443),
            Scheme::implicit("rediss", 6379),
            Scheme::implicit("mongodb", 27017),
            Scheme::implicit("amqps", 5671),
        ];
        S
    }
    fn tls_first(&self) -> bool {
        true
    }
    fn sniff(&self, b: &[u8]) -> Option<Sniffed> {
        if b.len() >= 7 && b[0] == 0x15 && b[1] == 0x03 && b[2] <= 0x04 {
            return Some(Sniffed {
                what: "a TLS alert",
                summary: format!("alert level {}, description {}", b[5], alert_name(b[6])),
                dialogue: Some(Starttls::None),
            });
        }
        if b.len() >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x02 {
            return Some(Sniffed {
                what: "a TLS ServerHello",
                summary: String::new(),
                dialogue: Some(Starttls::None),
            });
        }
        None
    }
    fn negotiate(&self, _conn: &mut Conn, _cx: &Context<'_>) -> Result<Dialogue, ProbeError> {
        Ok(Dialogue::default())
    }
}
