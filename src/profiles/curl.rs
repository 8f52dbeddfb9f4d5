//! The curl tool: its own words around OpenSSL's. 7.88.1 (Debian 12) and 8.14.1
//! (Debian 13) measured; curl changed "host name" to "hostname" in its messages in 2024
//! (8.8.0 still printed `target host name`), first released in 8.9.0.

use super::{BuildIs, Escape, Family, Kind, Row, Rule, Version};

pub static FAMILY: Family = Family {
    kind: Kind::Curl,
    title: "curl",
    known: &[Version::new(7, 88, None), Version::new(8, 14, None)],
    detection: "--runtime curl@N.M; the dpkg database (curl)",
    detect: crate::detect::curl,
    rows: ROWS,
};

static ROWS: &[Row] = &[Row {
    kind: Kind::Curl,
    rule: Rule::CurlHostnameOneWord,
    since: Version::new(8, 9, None),
    until: None,
    build: BuildIs::Any,
    param: 0,
    behaviour: "`no alternative certificate subject name matches target hostname` (7.x: `target host name`)",
    escape: Escape::None,
}];
