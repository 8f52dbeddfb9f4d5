//! Node.js: what differs is the build more than the version. Debian's nodejs links the
//! system libnode and OpenSSL (built with `--openssl-use-def-ca-store`: the system store,
//! `SSL_CERT_FILE` and a hashed `SSL_CERT_DIR` honoured) at the system's security level 2;
//! NodeSource's and nodejs.org's builds carry their own OpenSSL and Mozilla list and run at
//! security level 1.

use super::{BuildIs, Escape, Family, Kind, Row, Rule, Version};
use crate::world::World;

pub static FAMILY: Family = Family {
    kind: Kind::Node,
    title: "Node.js",
    known: &[Version::new(20, 0, None), Version::new(22, 0, None)],
    detection: "--runtime node@N; the dpkg database (nodejs: a `nodesource` version is \
                NodeSource's build); else a libnode.so in the library directories (Debian's build)",
    detect: crate::detect::node,
    rows: ROWS,
};

static ROWS: &[Row] = &[
    Row {
        kind: Kind::Node,
        rule: Rule::NodeSystemStore,
        since: Version::new(0, 0, None),
        until: None,
        build: BuildIs::Distro,
        param: 0,
        behaviour: "the distribution's build verifies with the system OpenSSL's default paths \
                    (SSL_CERT_FILE, a hashed SSL_CERT_DIR), not the compiled-in Mozilla list",
        escape: Escape::Option("--use-bundled-ca"),
    },
    Row {
        kind: Kind::Node,
        rule: Rule::NodeSecurityLevel,
        since: Version::new(0, 0, None),
        until: None,
        build: BuildIs::Distro,
        param: 2,
        behaviour: "the distribution's build runs at OpenSSL security level 2: an RSA-1024 leaf is \
                    `EE certificate key too weak`",
        escape: Escape::Option("--tls-cipher-list=DEFAULT@SECLEVEL=1"),
    },
    Row {
        kind: Kind::Node,
        rule: Rule::NodeSecurityLevel,
        since: Version::new(0, 0, None),
        until: None,
        build: BuildIs::Bundled,
        param: 1,
        behaviour: "the bundled build runs at OpenSSL security level 1: an RSA-1024 leaf is accepted",
        escape: Escape::BuildOption("the bundled OpenSSL's default"),
    },
];

/// The build a World would run when the package database does not say: Debian's
/// libnode present → the distribution's build, else a self-contained one.
pub fn build_in(world: &World) -> BuildIs {
    if crate::trust::extra::debian_libnode(world).is_some() {
        BuildIs::Distro
    } else {
        BuildIs::Bundled
    }
}
