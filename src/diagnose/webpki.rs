//! rustls-native-certs / webpki-roots: verification by rustls' own `WebPkiServerVerifier`
//! (rustls-webpki underneath), so verdicts and messages are the real ones.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;

use super::cause::Cause;

/// The outcome of a rustls verification.
#[derive(Debug, Clone)]
pub struct WebpkiOutcome {
    /// `None` when trusted; else rustls' `Error` text (`invalid peer certificate: …`).
    pub error: Option<String>,
    pub cause: Cause,
    /// Name check failed (checked on its own, so it is known even when the path fails).
    pub name_ok: bool,
    /// Path validation alone succeeded.
    pub path_ok: bool,
}

/// Verify with rustls. `anchors` are DER certificates (the runtime's store); when
/// `builtin` is true the compiled-in webpki-roots are used as well.
pub fn verify(
    presented: &[Vec<u8>],
    anchors: &[Vec<u8>],
    builtin: bool,
    name: Option<&str>,
    at: i64,
) -> WebpkiOutcome {
    let mut roots = RootCertStore::empty();
    for a in anchors {
        let _ = roots.add(CertificateDer::from(a.clone()));
    }
    if builtin {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let Some(leaf) = presented.first() else {
        return WebpkiOutcome {
            error: Some("invalid peer certificate: BadEncoding".into()),
            cause: Cause::MalformedCertificate,
            name_ok: false,
            path_ok: false,
        };
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
    let ee = CertificateDer::from(leaf.clone());
    let inter: Vec<CertificateDer<'static>> = presented[1..]
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    let server_name = match name.filter(|n| !n.is_empty()) {
        Some(n) => ServerName::try_from(n.to_string()).ok(),
        None => None,
    };
    // Name check on its own.
    let name_ok = match (&server_name, webpki::EndEntityCert::try_from(&ee)) {
        (Some(sn), Ok(cert)) => cert.verify_is_valid_for_subject_name(sn).is_ok(),
        (None, _) => true,
        (Some(_), Err(_)) => false,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots);
    let verifier = match WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone()).build()
    {
        Ok(v) => v,
        Err(_) => {
            // No anchors at all: rustls refuses to build a verifier; a client would fail
            // every handshake with UnknownIssuer.
            return WebpkiOutcome {
                error: Some("invalid peer certificate: UnknownIssuer".into()),
                cause: Cause::UnknownAuthority,
                name_ok,
                path_ok: false,
            };
        }
    };
    // Path alone.
    let algs = provider.signature_verification_algorithms;
    let path_result = match webpki::EndEntityCert::try_from(&ee) {
        Ok(cert) => cert
            .verify_for_usage(
                algs.all,
                &roots.roots,
                &inter,
                time,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        Err(e) => Err(format!("{e:?}")),
    };
    let path_ok = path_result.is_ok();
    // A name rustls cannot take as a ServerName (`*.example.com`, `https://h/`, `h:443`):
    // the program cannot even start the handshake, so the chain is never accepted.
    if server_name.is_none() && name.is_some_and(|n| !n.is_empty()) {
        return WebpkiOutcome {
            // rustls-pki-types' InvalidDnsNameError, as `ServerName::try_from` returns it.
            error: Some("invalid dns name".into()),
            cause: Cause::NameMismatch,
            name_ok: false,
            path_ok,
        };
    }
    // Without a name to check, ask rustls with a name the certificate has, so that only
    // the path decides; with none at all, the path result is the answer.
    let sn = match server_name {
        Some(sn) => sn,
        None => {
            let alt = webpki::EndEntityCert::try_from(&ee).ok().and_then(|c| {
                c.valid_dns_names()
                    .find_map(|d| ServerName::try_from(d.to_string()).ok())
            });
            match alt {
                Some(sn) => sn,
                None => {
                    return WebpkiOutcome {
                        error: path_result
                            .as_ref()
                            .err()
                            .map(|e| format!("invalid peer certificate: {e}")),
                        cause: if path_ok {
                            Cause::Ok
                        } else {
                            cause_of(path_result.as_ref().err().unwrap())
                        },
                        name_ok,
                        path_ok,
                    }
                }
            }
        }
    };
    match verifier.verify_server_cert(&ee, &inter, &sn, &[], time) {
        Ok(_) => WebpkiOutcome {
            error: None,
            cause: Cause::Ok,
            name_ok,
            path_ok,
        },
        Err(e) => {
            let dbg = format!("{e:?}");
            let cause = cause_of(&dbg);
            WebpkiOutcome {
                error: Some(e.to_string()),
                cause,
                name_ok,
                path_ok,
            }
        }
    }
}

/// Map a rustls / webpki error (Debug form) to a cause.
fn cause_of(dbg: &str) -> Cause {
    if dbg.contains("UnknownIssuer") {
        Cause::UnknownAuthority
    } else if dbg.contains("NotValidYet") {
        Cause::NotYetValid
    } else if dbg.contains("Expired") {
        Cause::Expired
    } else if dbg.contains("NotValidForName") {
        Cause::NameMismatch
    } else if dbg.contains("BadSignature") || dbg.contains("UnsupportedSignatureAlgorithm") {
        Cause::BadSignature
    } else if dbg.contains("InvalidPurpose") {
        Cause::BadEku
    } else if dbg.contains("UnhandledCriticalExtension") {
        Cause::UnhandledCriticalExtension
    } else if dbg.contains("CaUsedAsEndEntity") || dbg.contains("EndEntityUsedAsCa") {
        Cause::NotACa
    } else if dbg.contains("NameConstraint") {
        Cause::NameConstraints
    } else if dbg.contains("PathLen") || dbg.contains("MaximumPath") {
        Cause::PathTooLong
    } else if dbg.contains("BadEncoding") || dbg.contains("BadDer") {
        Cause::MalformedCertificate
    } else {
        Cause::UnknownAuthority
    }
}
