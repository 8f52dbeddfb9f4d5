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
        "Kubernetes: mount a bundle (system CAs plus this CA) from a ConfigMap or Secret with subPath \
         over /etc/ssl/certs/ca-certificates.crt{}{}; bake update-ca-certificates into the image, not \
         at pod start (read-only root filesystem).",
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
            "add {ca} to {}: with an explicit CA file the system store is not consulted, so \
             installing it system-wide changes nothing",
            given_file(&ctx.ca_in_world)
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
        Cause::Expired => "Renew the certificate on the server and reload it (check certbot/cert-manager); if \
             only an old intermediate expired, update the chain file."
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
        Cause::WeakSignature if runtime == Runtime::Go => "Reissue with SHA-256 (or better) signatures and \
             RSA ≥ 2048 or ECDSA P-256 keys. Go refuses SHA-1 and MD5 signatures (GODEBUG x509sha1=1 \
             lets SHA-1 through only before Go 1.24) and, from 1.24, RSA keys under 1024 bits \
             (GODEBUG rsa1024min=0)."
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
        Cause::MalformedCertificate => match runtime {
            // The version rules that turn a certificate away (src/profiles/), with their
            // escape hatches.
            Runtime::Go => "A certificate cannot be parsed or used by this Go version: reissue it with a \
                 standard-conforming CA. Go ≥ 1.23 refuses a negative serial number (GODEBUG \
                 x509negativeserial=1, or `go 1.22` or older in go.mod, restores the old parsing)."
                .into(),
            Runtime::Python | Runtime::PythonRequests => "A certificate breaks a rule of OpenSSL's strict \
                 mode, which Python ≥ 3.13's default context turns on (VERIFY_X509_STRICT): reissue \
                 it conforming to RFC 5280 (CA basicConstraints critical, keyUsage on CAs, an \
                 authority key identifier); or, in the program, `ctx.verify_flags &= \
                 ~ssl.VERIFY_X509_STRICT`."
                .into(),
            _ => "A certificate cannot be parsed by this runtime: reissue it with a standard-conforming CA."
                .into(),
        },
        _ => return None,
    })
}

/// What is known about the CA a runtime should trust, for wording its fix.
#[derive(Debug, Clone, Default)]
pub struct CaFacts {
    /// Its common name ("Corp Root CA").
    pub name: String,
    /// A file in the World that holds it (staged, service-account CA, unhashed directory).
    pub file: Option<String>,
    /// `file` is in the distribution's staging area, where its tool picks it up.
    pub staged: bool,
    /// It is in this certificate directory without a hash link.
    pub unhashed_dir: Option<String>,
    /// It is the Kubernetes service-account CA.
    pub in_sa_ca: bool,
    /// OpenSSL subject hash of its name (`%08x`).
    pub subject_hash: Option<String>,
    /// This World's OpenSSL certificate directory.
    pub cert_dir: Option<String>,
}

impl CaFacts {
    /// A file name for it: "Corp Root CA" → `corp-root-ca`.
    pub fn slug(&self) -> String {
        let mut s = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        let s = s.trim_end_matches('-').to_string();
        if s.is_empty() {
            "private-ca".into()
        } else {
            s
        }
    }

    /// Where the distribution's tool takes it from.
    fn staged_path(&self, distro: Distro) -> String {
        match distro {
            Distro::Rhel => format!("/etc/pki/ca-trust/source/anchors/{}.crt", self.slug()),
            _ => format!("/usr/local/share/ca-certificates/{}.crt", self.slug()),
        }
    }

    /// The file to hand to a runtime's own variable: the one in the World, else where the
    /// install step puts it.
    fn file_or_installed(&self, distro: Distro) -> String {
        self.file.clone().unwrap_or_else(|| self.staged_path(distro))
    }
}

/// How a fix names the CA file a program is given: `--ca` here, or the program's own
/// setting's path in the World (`--ca-in-world`).
fn given_file(in_world: &[String]) -> String {
    if in_world.is_empty() {
        "the CA file the program is given (--ca here)".into()
    } else {
        format!("{}, the CA file the program reads", in_world.join(", "))
    }
}

/// The step of `store` that an environment variable set, if any.
fn set_by<'a>(store: &'a crate::trust::TrustStore, var: &str) -> Option<&'a str> {
    store
        .steps
        .iter()
        .find(|s| {
            s.reason
                .as_deref()
                .is_some_and(|r| r.contains(&format!("set by {var}")))
        })
        .map(|s| s.source.as_str())
}

/// The one fix that makes `runtime`, as set up in `store`, trust the CA: the system
/// install for runtimes that read the system store, their own variable for those that
/// do not, the keystore Java really reads, code for webpki-roots.
pub fn trust_ca_for(
    runtime: Runtime,
    store: &crate::trust::TrustStore,
    distro: Distro,
    ca: &CaFacts,
) -> String {
    let name = &ca.name;
    // A database client is given its CA in its own setting (sslrootcert, --ssl-ca, …).
    if let Some(c) = runtime.unit().client {
        return (c.ca_fix)(store, name, &ca.file_or_installed(distro));
    }
    if store.explicit {
        let given = given_file(&store.ca_in_world);
        return match runtime {
            Runtime::Openssl | Runtime::Python | Runtime::Curl => {
                format!("add the self-signed root \"{name}\" to {given}: the system store is not consulted")
            }
            _ => format!("add \"{name}\" to {given}: the system store is not consulted"),
        };
    }
    let file = ca.file_or_installed(distro);
    let system = || -> String {
        let openssl_family = matches!(runtime, Runtime::Openssl | Runtime::Python | Runtime::Curl);
        if let Some(b) = set_by(store, "SSL_CERT_FILE").filter(|b| *b != distro.system_bundle()) {
            let what = ca
                .file
                .clone()
                .unwrap_or_else(|| format!("the PEM of \"{name}\""));
            return format!("append {what} to {b}, the bundle SSL_CERT_FILE names");
        }
        if ca.in_sa_ca && ca.file.is_some() {
            // Mounted by the kubelet at run time: nothing at image build can copy it.
            return "mount it into the store (the Kubernetes line: the service-account CA exists only in \
                    the running pod)"
                .into();
        }
        if let (Some(d), true) = (&ca.unhashed_dir, openssl_family) {
            return format!("`openssl rehash {d}` (or `c_rehash {d}`)");
        }
        if ca.staged {
            return match distro {
                Distro::Rhel => "run `update-ca-trust extract` (at image build)".into(),
                _ => "run `update-ca-certificates` (at image build: `RUN update-ca-certificates`)".into(),
            };
        }
        match distro {
            Distro::Debian | Distro::Unknown => format!(
                "copy {} to {} and run `update-ca-certificates` (at image build)",
                ca.file
                    .clone()
                    .unwrap_or_else(|| format!("the PEM of \"{name}\"")),
                ca.staged_path(distro)
            ),
            _ => install_ca(
                distro,
                &ca.file.clone().unwrap_or_else(|| format!("\"{name}\" (PEM)")),
            ),
        }
    };
    match runtime {
        Runtime::WebpkiRoots => format!("add \"{name}\" in the program's code (RootCertStore::add)"),
        Runtime::Node => match set_by(store, "NODE_EXTRA_CA_CERTS") {
            Some(f) => format!("append \"{name}\" to {f}, the file NODE_EXTRA_CA_CERTS names"),
            None if store.steps.iter().any(|s| s.source == "builtin:node") => {
                format!("NODE_EXTRA_CA_CERTS={file} (node's own list ignores the system store)")
            }
            None => system(),
        },
        Runtime::PythonRequests => {
            match set_by(store, "REQUESTS_CA_BUNDLE").or_else(|| set_by(store, "CURL_CA_BUNDLE")) {
                Some(f) => format!("append \"{name}\" to {f}, the bundle requests reads"),
                None if store.sources().iter().any(|s| s == distro.system_bundle()) => system(),
                None => format!(
                    "{}; then REQUESTS_CA_BUNDLE={} (requests reads certifi's bundle, not the system store)",
                    system(),
                    distro.system_bundle()
                ),
            }
        }
        Runtime::Java => {
            let ks = store
                .steps
                .iter()
                .find(|s| s.outcome == crate::trust::Outcome::Loaded)
                .map(|s| s.source.clone());
            match ks {
                Some(ks) => format!(
                    "`keytool -importcert -noprompt -alias {} -file {file} -keystore {ks} -storepass changeit` \
                     (the store this Java reads), or -Djavax.net.ssl.trustStore=<a store with it>",
                    ca.slug()
                ),
                None => format!(
                    "import {file} with `keytool -importcert` into a store and pass \
                     -Djavax.net.ssl.trustStore=<that store> (JAVA_TOOL_OPTIONS)"
                ),
            }
        }
        _ => system(),
    }
}

/// Per-runtime fixes, runtimes with the same words grouped: "go, openssl: …".
pub fn trust_ca_lines(stores: &[&crate::trust::TrustStore], distro: Distro, ca: &CaFacts) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&str>)> = vec![];
    for s in stores {
        let t = trust_ca_for(s.runtime, s, distro, ca);
        match groups.iter_mut().find(|g| g.0 == t) {
            Some(g) => g.1.push(s.runtime.code()),
            None => groups.push((t, vec![s.runtime.code()])),
        }
    }
    groups
        .into_iter()
        .map(|(t, rts)| format!("{}: {t}", rts.join(", ")))
        .collect()
}

/// Kubernetes: the concrete volume, mount and variables for this image's layout. The CA
/// is mounted with `subPath` as `HASH.0` in the certificate directory, where Go and the
/// OpenSSL-based clients read it without `update-ca-certificates` (read-only root
/// filesystem, non-root user).
pub fn kubernetes_mount(runtimes: &[Runtime], ca: &CaFacts, distro: Distro) -> Option<String> {
    if runtimes.iter().all(|r| *r == Runtime::WebpkiRoots) {
        return None;
    }
    if distro == Distro::Scratch {
        return Some(
            "Kubernetes: a scratch image has no store: mount a bundle (system CAs plus this CA) from a \
             ConfigMap or Secret (subPath) at /etc/ssl/certs/ca-certificates.crt"
                .into(),
        );
    }
    let default_dir = match distro {
        Distro::Rhel => "/etc/pki/tls/certs",
        _ => "/etc/ssl/certs",
    };
    let dir = ca.cert_dir.clone().unwrap_or_else(|| default_dir.to_string());
    let hash = ca.subject_hash.as_ref()?;
    let path = format!("{}/{hash}.0", dir.trim_end_matches('/'));
    let source = if ca.in_sa_ca {
        "ConfigMap kube-root-ca.crt (in every namespace)".to_string()
    } else {
        format!("a ConfigMap or Secret {}", ca.slug())
    };
    let mut env = vec![];
    if runtimes.contains(&Runtime::Node) {
        env.push(format!("NODE_EXTRA_CA_CERTS={path}"));
    }
    if runtimes.contains(&Runtime::PythonRequests) {
        env.push(format!("REQUESTS_CA_BUNDLE={dir}"));
    }
    Some(format!(
        "Kubernetes: mount key ca.crt of {source} (subPath ca.crt) at {path}{}{}",
        if env.is_empty() {
            String::new()
        } else {
            format!(" and set env {}", env.join(", "))
        },
        if runtimes.contains(&Runtime::Java) {
            "; Java still needs the keytool import"
        } else {
            ""
        }
    ))
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
    /// The explicit CA files are the program's own setting, read in the World
    /// (`--ca-in-world`): their paths, named in the fix instead of `--ca`.
    pub ca_in_world: Vec<String>,
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
