//! OpenSSL's `X509_verify_cert` as libssl sets it up for a client, 3.0 through 3.5.
//! Measured against real OpenSSL 3.0.19 (Debian 12) and 3.5.9 (Debian 13): on every
//! x509-limbo SERVER testcase both give the same verdict, error number and depth, and the
//! client's default security level is 2 in both, so no row differs yet; the profile still
//! names the version modelled (and python, node and curl runtimes build on it).

use super::{Family, Kind, Row, Version};

pub static FAMILY: Family = Family {
    kind: Kind::Openssl,
    title: "OpenSSL",
    known: &[
        Version::new(3, 0, None),
        Version::new(3, 1, None),
        Version::new(3, 2, None),
        Version::new(3, 3, None),
        Version::new(3, 4, None),
        Version::new(3, 5, None),
    ],
    detection: "--runtime openssl@3.N; the libcrypto mapped into --pid N; else the dpkg database \
                (libssl3t64, libssl3); else libssl.so.3 in the World's library directories \
                (libcrypto's OPENSSL_VERSION_TEXT beside it)",
    detect: crate::detect::openssl_version,
    rows: ROWS,
};

static ROWS: &[Row] = &[];
