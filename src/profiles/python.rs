//! Python's `ssl.create_default_context()`, 3.11 through 3.13. The `_ssl.c` line in
//! every `SSLError` text moves with each release; the values here are measured: Debian 12's
//! 3.11.2, pyenv's 3.11.7, 3.12.1 and 3.13.0, Debian 13's 3.13.5 (a release between two
//! measured ones is modelled with the earlier one's line).

use std::path::PathBuf;

use super::{BuildIs, Escape, Family, Kind, Row, Rule, Version};
use crate::detect::{Detected, Source};
use crate::world::World;

const fn v(minor: u32, patch: u32) -> Version {
    Version::new(3, minor, Some(patch))
}

const fn row(rule: Rule, since: Version, param: u32, behaviour: &'static str, escape: Escape) -> Row {
    Row {
        kind: Kind::Python,
        rule,
        since,
        until: None,
        build: BuildIs::Any,
        param,
        behaviour,
        escape,
    }
}

const fn line(since: Version, until: Option<Version>, param: u32) -> Row {
    Row {
        kind: Kind::Python,
        rule: Rule::PySslLine,
        since,
        until,
        build: BuildIs::Any,
        param,
        behaviour: "the `(_ssl.c:N)` at the end of every SSLError text",
        escape: Escape::None,
    }
}

pub static FAMILY: Family = Family {
    kind: Kind::Python,
    title: "Python",
    known: &[
        Version::new(3, 11, None),
        Version::new(3, 12, None),
        Version::new(3, 13, None),
    ],
    detection: "--runtime python@3.N; the newest /usr/lib/python3.N (or /usr/local/lib) with an \
                ssl.py; its patch release from the dpkg database (python3.N-minimal)",
    detect,
    rows: ROWS,
};

static ROWS: &[Row] = &[
    row(
        Rule::PyX509Strict,
        v(13, 0),
        0,
        "create_default_context() sets VERIFY_X509_STRICT: `Basic Constraints of CA cert not marked \
         critical`, `CA cert does not include key usage extension`, `Missing Authority Key \
         Identifier` and the other RFC 5280 checks of OpenSSL's strict mode",
        Escape::ContextFlag("ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT"),
    ),
    row(
        Rule::PyPartialChain,
        v(13, 0),
        0,
        "create_default_context() sets VERIFY_X509_PARTIAL_CHAIN: any certificate in the store \
         (an intermediate) is an anchor",
        Escape::ContextFlag("ctx.verify_flags &= ~ssl.VERIFY_X509_PARTIAL_CHAIN"),
    ),
    line(v(11, 0), Some(v(11, 7)), 992),
    line(v(11, 7), Some(v(12, 0)), 1006),
    line(v(12, 0), Some(v(13, 0)), 1000),
    line(v(13, 0), Some(v(13, 5)), 1020),
    line(v(13, 5), None, 1029),
];

/// The newest python3.N in the World, with its patch release from the package database.
fn detect(world: &World) -> Option<Detected> {
    let mut d = crate::detect::python(world)?;
    let minor = d.version?.minor;
    for pkg in [
        format!("python3.{minor}-minimal"),
        format!("libpython3.{minor}-minimal"),
    ] {
        if let Some(ver) = crate::detect::dpkg_version(world, &pkg) {
            let upstream = ver.split(['-', '+', '~']).next().unwrap_or(&ver).to_string();
            if let Some(v) = Version::parse(&upstream).filter(|v| v.minor == minor) {
                d.version = Some(v);
                d.text = format!("Python {upstream}");
                d.source = Source::World(PathBuf::from("/var/lib/dpkg/status"));
            }
            break;
        }
    }
    Some(d)
}
