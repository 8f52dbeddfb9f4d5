//! Go's crypto/tls + crypto/x509, 1.19 through 1.25. Measured against real Go 1.19.8
//! (Debian 12) and Go 1.24.4 (Debian 13) on x509-limbo and the fixture servers; the
//! release a change first shipped in is from Go's source and release history
//! (`internal/godebugs/table.go` for the GODEBUG settings).
//!
//! GODEBUG settings follow the program, not only the toolchain: a binary built by Go 1.24
//! from a module whose go.mod says `go 1.19` records `DefaultGODEBUG=…,x509negativeserial=1,
//! rsa1024min=0,…` in its build info and behaves as 1.19 there; the `GODEBUG` environment
//! variable overrides both.

use super::{BuildIs, Escape, Family, Kind, Row, Rule, Version};

const fn v(minor: u32) -> Version {
    Version::new(1, minor, None)
}

const fn vp(minor: u32, patch: u32) -> Version {
    Version::new(1, minor, Some(patch))
}

const fn row(
    rule: Rule,
    since: Version,
    until: Option<Version>,
    behaviour: &'static str,
    escape: Escape,
) -> Row {
    Row {
        kind: Kind::Go,
        rule,
        since,
        until,
        build: BuildIs::Any,
        param: 0,
        behaviour,
        escape,
    }
}

pub static FAMILY: Family = Family {
    kind: Kind::Go,
    title: "Go",
    known: &[v(19), v(20), v(21), v(22), v(23), v(24), v(25)],
    detection: "--runtime go@1.N; the program's build info (--exe PATH, --pid N: /proc/N/exe), \
                its DefaultGODEBUG and the GODEBUG variable of the World",
    detect: |_| None,
    rows: ROWS,
};

static ROWS: &[Row] = &[
    row(
        Rule::GoVerifyErrorPrefix,
        v(20),
        None,
        "crypto/tls wraps the verification error: `tls: failed to verify certificate: x509: …`",
        Escape::None,
    ),
    row(
        Rule::GoNameConstraintsWholeChain,
        v(21),
        None,
        "name constraints apply to the SANs of every certificate below the constraining CA, \
         not only the leaf's",
        Escape::None,
    ),
    row(
        Rule::GoNilKeyCandidateSkipped,
        vp(21, 8),
        Some(v(22)),
        "a candidate issuer whose key Go cannot parse is skipped (before: \
         `panic: interface conversion` in alreadyInChain, CVE-2024-24783)",
        Escape::None,
    ),
    row(
        Rule::GoNilKeyCandidateSkipped,
        vp(22, 1),
        None,
        "a candidate issuer whose key Go cannot parse is skipped (before: \
         `panic: interface conversion` in alreadyInChain, CVE-2024-24783)",
        Escape::None,
    ),
    row(
        Rule::GoSha1Rejected,
        v(18),
        Some(v(24)),
        "SHA-1 signatures are rejected: `x509: cannot verify signature: insecure algorithm SHA1-RSA`",
        Escape::Godebug {
            name: "x509sha1",
            value: "1",
        },
    ),
    row(
        Rule::GoSha1OverrideHint,
        v(18),
        Some(v(24)),
        "the SHA-1 error adds `(temporarily override with GODEBUG=x509sha1=1)`",
        Escape::None,
    ),
    row(
        Rule::GoSha1Rejected,
        v(24),
        None,
        "SHA-1 signatures are rejected and the x509sha1 setting is gone: \
         `insecure algorithm SHA1-RSA` with no override hint",
        Escape::None,
    ),
    row(
        Rule::GoNegativeSerialRejected,
        v(23),
        None,
        "a negative serial number fails parsing: `tls: failed to parse certificate from server: \
         x509: negative serial number`; a root with one is dropped from the pool",
        Escape::Godebug {
            name: "x509negativeserial",
            value: "1",
        },
    ),
    row(
        Rule::GoCriticalKeyIdsRejected,
        v(23),
        None,
        "an authority/subject key identifier or authority info access extension marked critical \
         fails parsing (`x509: authority info access incorrectly marked critical`)",
        Escape::None,
    ),
    row(
        Rule::GoDuplicateExtensionOid,
        v(23),
        None,
        "a duplicate extension is named: `x509: certificate contains duplicate extension with OID \
         \"2.5.29.17\"` (before: `duplicate extensions`)",
        Escape::None,
    ),
    row(
        Rule::GoLeadingPeriodLabel,
        v(24),
        None,
        "a name with a leading period parses as an empty first label: a dNSName constraint \
         `.example.com` no longer matches `example.com`, a SAN `.example.com` under constraints \
         is `x509: cannot parse dnsName`",
        Escape::None,
    ),
    row(
        Rule::GoBareWildcardInvalid,
        v(24),
        None,
        "a bare `*` SAN is not a host name pattern (1.19 matched it against any one-label name)",
        Escape::None,
    ),
    row(
        Rule::GoRsaMin1024,
        v(24),
        None,
        "RSA keys under 1024 bits are refused: `crypto/rsa: 768-bit keys are insecure (see \
         https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)`",
        Escape::Godebug {
            name: "rsa1024min",
            value: "0",
        },
    ),
];
