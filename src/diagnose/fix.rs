//! Remediation text per cause, worded for the runtime and the detected distro or image.

pub use crate::trust::distro::Distro;
use crate::trust::Runtime;

use super::cause::Cause;

/// How to install a CA into the system store on this distro (image build step).
pub fn install_ca(d: Distro, ca: &str) -> String {
    match d {
        Distro::Debian | Distro::Unknown => format!(
            "copy {ca} to /usr/local/share/ca-certificates/NAME.crt and run \
             `update-ca-certificates` in the image build"
        ),
        Distro::Alpine => format!(
            "`apk add ca-certificates`, copy {ca} to /usr/local/share/ca-certificates/ and run \
             `update-ca-certificates` in the image build"
        ),
        Distro::Rhel => format!(
            "copy {ca} to /etc/pki/ca-trust/source/anchors/ and run `update-ca-trust extract` in the image build"
        ),
        Distro::Distroless => format!(
            "distroless has no update tool: add {ca} in a Debian builder stage (update-ca-certificates) \
             and COPY its /etc/ssl/certs/ca-certificates.crt into the image"
        ),
        Distro::Scratch => format!(
            "a scratch image has no CA store: COPY a bundle with {ca} to \
             /etc/ssl/certs/ca-certificates.crt (or set SSL_CERT_FILE to it)"
        ),
    }
}

/// Kubernetes form: mount the CA and point the runtime at it.
pub fn kubernetes(runtime: Runtime) -> String {
    kubernetes_for(&[runtime])
}

/// Kubernetes form for several runtimes at once: one short paragraph.
pub fn kubernetes_for(runtimes: &[Runtime]) -> String {
    let webpki = runtimes.contains(&Runtime::WebpkiRoots);
    if webpki && runtimes.iter().all(|r| *r == Runtime::WebpkiRoots) {
        return "Kubernetes: webpki-roots ignores mounted CAs and SSL_CERT_FILE; the program must \
                add the CA in code."
            .into();
    }
    // Runtimes that do not read SSL_CERT_FILE: their unit names their own variable.
    let own: Vec<&str> = runtimes.iter().filter_map(|r| r.unit().own_ca_variable).collect();
    format!(
        "Kubernetes: mount a bundle (system CAs plus this CA) from a ConfigMap or Secret at \
         /etc/tlsdoctor-ca/ca.crt and set SSL_CERT_FILE to it{}{}; bake update-ca-certificates into \
         the image, not at pod start (read-only root filesystem).",
        if webpki {
            " (webpki-roots ignores it: add the CA in code)"
        } else {
            ""
        },
        if own.is_empty() {
            String::new()
        } else {
            format!(" (and {})", own.join(", "))
        }
    )
}

/// How to make `ca` trusted: the system store and its Kubernetes form, or, when the
/// program is given its own CA file (`--ca`), that file: installing a CA system-wide
/// changes nothing for a program with an explicit CA option.
fn trust_ca(distro: Distro, ca: &str, runtime: Runtime, ctx: &FixCtx) -> String {
    if ctx.explicit {
        return format!(
            "add {ca} to the CA file the program is given (--ca here): with an explicit CA file \
             the system store is not consulted, so installing it system-wide changes nothing"
        );
    }
    format!(
        "{}.\n\n{}",
        install_ca(distro, ca),
        kubernetes_for(if ctx.runtimes.is_empty() {
            std::slice::from_ref(&runtime)
        } else {
            &ctx.runtimes
        })
    )
}

/// The fix for one cause, for one runtime.
pub fn fix_for(cause: Cause, runtime: Runtime, distro: Distro, ctx: &FixCtx) -> Option<String> {
    let issuer = ctx.missing_issuer.as_deref().unwrap_or("the issuing CA");
    Some(match cause {
        Cause::Ok => return None,
        Cause::MissingIntermediate | Cause::UnknownAuthority | Cause::SelfSigned if ctx.product.is_some() => {
            format!(
                "The chain was minted by {}, not by the server: see the tls-interception fix.",
                ctx.product.unwrap_or_default()
            )
        }
        Cause::MissingIntermediate => {
            let aia = ctx
                .aia
                .as_ref()
                .map(|u| format!(" Its certificate is at {u} (AIA caIssuers)."))
                .unwrap_or_default();
            if ctx.intermediates_sent {
                // The server sent intermediates; the one it lacks may still be an
                // intermediate, or a private root that no store has.
                format!(
                    "If \"{issuer}\" is an intermediate, configure the server to send it after the \
                     certificates it sends now.{aia} If it is your own root CA, trust it: {}",
                    trust_ca(distro, "that root", runtime, ctx)
                )
            } else {
                format!(
                    "Fix the server: send the full chain (leaf followed by the intermediate \
                     \"{issuer}\"), e.g. nginx ssl_certificate with fullchain.pem.{aia} Clients \
                     should not need the intermediate installed."
                )
            }
        }
        Cause::UnknownAuthority | Cause::SelfSigned => {
            let how = match runtime {
                Runtime::WebpkiRoots => {
                    "webpki-roots only contains Mozilla's public CAs: the program must add this CA \
                     (RootCertStore::add) or switch to rustls-native-certs / rustls-platform-verifier."
                        .to_string()
                }
                Runtime::Go if ctx.explicit => {
                    "the program sets tls.Config.RootCAs from --ca: add the CA to that file (the system \
                     pool and SSL_CERT_FILE are not consulted)."
                        .to_string()
                }
                Runtime::Openssl if ctx.explicit => {
                    format!("add the root CA \"{issuer}\" to the -CAfile bundle given to the program (OpenSSL needs the self-signed root: an intermediate alone is no anchor without X509_V_FLAG_PARTIAL_CHAIN).")
                }
                _ => format!(
                    "trust \"{issuer}\" if it is yours: {}",
                    trust_ca(distro, "the CA certificate", runtime, ctx)
                ),
            };
            if cause == Cause::SelfSigned {
                format!(
                    "The server uses a self-signed certificate. Prefer one from a CA the clients trust; \
                     otherwise {how}"
                )
            } else {
                format!("No trusted anchor for this chain: {how}")
            }
        }
        Cause::UntrustedIntercept if ctx.explicit => format!(
            "Trust the root CA of {} (ask IT for it): {}. Or have this host excluded from inspection.",
            ctx.product.unwrap_or("the inspecting proxy"),
            trust_ca(distro, "it", runtime, ctx)
        ),
        Cause::UntrustedIntercept => format!(
            "Trust the root CA of {} (ask IT for it): {}. Or have this host excluded from inspection.\n\n{}",
            ctx.product.unwrap_or("the inspecting proxy"),
            install_ca(distro, "it"),
            kubernetes_for(if ctx.runtimes.is_empty() { std::slice::from_ref(&runtime) } else { &ctx.runtimes })
        ),
        Cause::Expired => "Renew the certificate on the server (and reload the server so it serves the new one); \
             check automation (certbot/cert-manager) logs. If only an old intermediate expired, update the chain file."
            .into(),
        Cause::NotYetValid => {
            if ctx.clock_skew {
                "The certificate becomes valid in a few minutes: this machine's clock (or the server's) is likely \
                 wrong. Check NTP (`timedatectl`, `chronyc tracking`) on the client."
                    .into()
            } else {
                "The certificate is not valid yet: check the client's clock, or the certificate's notBefore.".into()
            }
        }
        Cause::NameMismatch => format!(
            "Connect with a name the certificate covers, or reissue the certificate with a subjectAltName \
             for {}.",
            ctx.name.as_deref().unwrap_or("the name you use")
        ),
        Cause::LegacyCommonName => "Reissue the certificate with the host name in a subjectAltName (DNS) entry: \
             Go (since 1.15) and rustls ignore the subject CN; OpenSSL still falls back to it."
            .into(),
        Cause::NotACa if ctx.ca_as_leaf => "Reissue the server certificate with basicConstraints CA:FALSE \
             (self-signed: `openssl req -x509 … -addext basicConstraints=critical,CA:FALSE`); rustls refuses a \
             CA certificate as the server's own."
            .into(),
        Cause::NotACa => "An issuing certificate lacks basicConstraints CA:TRUE (or keyCertSign): reissue the \
             intermediate as a CA certificate."
            .into(),
        Cause::BadEku => "Reissue the server certificate with extendedKeyUsage serverAuth (or without an EKU \
             extension), and make sure no CA in the chain restricts EKU to something else."
            .into(),
        Cause::WeakSignature => "Reissue with SHA-256 (or better) signatures and RSA ≥ 2048 or ECDSA P-256 keys; \
             SHA-1 and MD5 signatures and 1024-bit RSA are refused."
            .into(),
        Cause::BadSignature => "A signature does not verify: the chain file probably mixes certificates from \
             different CAs (an old intermediate). Serve the intermediate that actually issued the leaf."
            .into(),
        Cause::NameConstraints => "A CA in the chain has name constraints that exclude this name: use a \
             certificate from a CA allowed to issue for it."
            .into(),
        Cause::PathTooLong => "The chain exceeds a pathLenConstraint (or a runtime limit): remove extra \
             intermediates or reissue from a CA higher in the hierarchy."
            .into(),
        Cause::UnhandledCriticalExtension => "A certificate carries a critical extension this runtime does not \
             understand: reissue without it or mark it non-critical."
            .into(),
        Cause::MalformedCertificate => "A certificate cannot be parsed by this runtime: reissue it with a \
             standard-conforming CA."
            .into(),
        _ => return None,
    })
}

/// Context for wording a fix.
#[derive(Debug, Clone, Default)]
pub struct FixCtx {
    pub missing_issuer: Option<String>,
    pub aia: Option<String>,
    pub name: Option<String>,
    pub product: Option<&'static str>,
    pub clock_skew: bool,
    pub explicit: bool,
    /// The server sent intermediates (the top presented certificate is not the leaf).
    pub intermediates_sent: bool,
    /// The server's own certificate is a CA certificate (basicConstraints CA:TRUE).
    pub ca_as_leaf: bool,
    /// Every runtime the fix is for (Kubernetes wording).
    pub runtimes: Vec<Runtime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_an_explicit_ca_file_the_fix_names_that_file_not_the_system_store() {
        let ctx = FixCtx {
            explicit: true,
            product: Some("Zscaler"),
            missing_issuer: Some("Corp Root".into()),
            intermediates_sent: true,
            ..FixCtx::default()
        };
        let f = fix_for(
            Cause::UntrustedIntercept,
            Runtime::RustlsNative,
            Distro::Debian,
            &ctx,
        )
        .unwrap();
        assert!(!f.contains("update-ca-certificates") && f.contains("--ca"), "{f}");
        let ctx = FixCtx { product: None, ..ctx };
        for cause in [Cause::UnknownAuthority, Cause::MissingIntermediate] {
            let f = fix_for(cause, Runtime::RustlsNative, Distro::Debian, &ctx).unwrap();
            assert!(!f.contains("update-ca-certificates"), "{cause:?}: {f}");
            assert!(f.contains("--ca"), "{cause:?}: {f}");
        }
        // Without --ca: the system store, with its Kubernetes form.
        let f = fix_for(
            Cause::UntrustedIntercept,
            Runtime::Go,
            Distro::Debian,
            &FixCtx::default(),
        )
        .unwrap();
        assert!(
            f.contains("update-ca-certificates") && f.contains("Kubernetes"),
            "{f}"
        );
    }
}
