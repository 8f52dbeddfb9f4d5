//! The closed vocabulary of causes. Codes are a CI contract: a snapshot test lists them.

use serde::{Deserialize, Serialize};

/// Why a runtime would (not) accept a connection or chain.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Trusted: a path to an anchor, the name matches, every certificate valid.
    Ok,
    /// No path to any anchor.
    UnknownAuthority,
    /// The top presented certificate is not self-signed and its issuer is in no store:
    /// the server did not send a needed intermediate.
    MissingIntermediate,
    /// The leaf signed itself and is not an anchor.
    SelfSigned,
    /// A certificate's notAfter has passed.
    Expired,
    /// A certificate's notBefore is in the future.
    NotYetValid,
    /// The name is not among the certificate's names.
    NameMismatch,
    /// Only the subject CN carries the name (no SAN); runtimes disagree.
    LegacyCommonName,
    /// An issuer without CA:TRUE / keyCertSign.
    NotACa,
    /// The leaf's extendedKeyUsage lacks serverAuth.
    BadEku,
    /// SHA-1/MD5 signature, or a key too small.
    WeakSignature,
    /// A signature does not verify.
    BadSignature,
    /// A name constraint forbids the name.
    NameConstraints,
    /// pathLenConstraint exceeded, or the chain is too long.
    PathTooLong,
    /// The chain comes from a TLS-inspecting proxy whose root is not trusted.
    UntrustedIntercept,
    /// A critical extension the runtime does not understand.
    UnhandledCriticalExtension,
    /// A certificate the runtime cannot parse.
    MalformedCertificate,
    /// The runtime itself would crash on this chain (a Go panic): there is no verdict.
    RuntimeCrash,
    /// The name could not be resolved.
    DnsFailure,
    /// Nothing listens there (RST).
    ConnectionRefused,
    /// A step did not finish in time.
    Timeout,
    /// The peer does not speak TLS there.
    NoTls,
    /// The server said no to STARTTLS (MySQL without CLIENT_SSL, Postgres `N`).
    StarttlsRefused,
    /// No common protocol version.
    ProtocolVersion,
    /// The handshake failed for another reason.
    HandshakeFailure,
    /// The server requires a client certificate.
    ClientCertRequired,
}

impl Cause {
    /// Every cause, in a stable order (the snapshot test lists this).
    pub const ALL: &'static [Cause] = &[
        Cause::Ok,
        Cause::UnknownAuthority,
        Cause::MissingIntermediate,
        Cause::SelfSigned,
        Cause::Expired,
        Cause::NotYetValid,
        Cause::NameMismatch,
        Cause::LegacyCommonName,
        Cause::NotACa,
        Cause::BadEku,
        Cause::WeakSignature,
        Cause::BadSignature,
        Cause::NameConstraints,
        Cause::PathTooLong,
        Cause::UntrustedIntercept,
        Cause::UnhandledCriticalExtension,
        Cause::MalformedCertificate,
        Cause::RuntimeCrash,
        Cause::DnsFailure,
        Cause::ConnectionRefused,
        Cause::Timeout,
        Cause::NoTls,
        Cause::StarttlsRefused,
        Cause::ProtocolVersion,
        Cause::HandshakeFailure,
        Cause::ClientCertRequired,
    ];

    /// The stable kebab-case code.
    pub fn code(self) -> &'static str {
        match self {
            Cause::Ok => "ok",
            Cause::UnknownAuthority => "unknown-authority",
            Cause::MissingIntermediate => "missing-intermediate",
            Cause::SelfSigned => "self-signed",
            Cause::Expired => "expired",
            Cause::NotYetValid => "not-yet-valid",
            Cause::NameMismatch => "name-mismatch",
            Cause::LegacyCommonName => "legacy-common-name",
            Cause::NotACa => "not-a-ca",
            Cause::BadEku => "bad-eku",
            Cause::WeakSignature => "weak-signature",
            Cause::BadSignature => "bad-signature",
            Cause::NameConstraints => "name-constraints",
            Cause::PathTooLong => "path-too-long",
            Cause::UntrustedIntercept => "untrusted-intercept",
            Cause::UnhandledCriticalExtension => "unhandled-critical-extension",
            Cause::MalformedCertificate => "malformed-certificate",
            Cause::RuntimeCrash => "runtime-crash",
            Cause::DnsFailure => "dns-failure",
            Cause::ConnectionRefused => "connection-refused",
            Cause::Timeout => "timeout",
            Cause::NoTls => "no-tls",
            Cause::StarttlsRefused => "starttls-refused",
            Cause::ProtocolVersion => "protocol-version",
            Cause::HandshakeFailure => "handshake-failure",
            Cause::ClientCertRequired => "client-cert-required",
        }
    }

    /// Causes that arise before any certificate was seen (exit code 3).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            Cause::DnsFailure
                | Cause::ConnectionRefused
                | Cause::Timeout
                | Cause::NoTls
                | Cause::StarttlsRefused
                | Cause::ProtocolVersion
                | Cause::HandshakeFailure
                | Cause::ClientCertRequired
        )
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
