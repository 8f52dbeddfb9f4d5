//! Findings about trust-store setups, with stable codes and distro-specific fixes.
//!
//! Codes (stable): `ssl-cert-file-{missing,unreadable,is-dir,empty,der}`,
//! `ssl-cert-dir-{missing,unreadable,not-dir,empty}`, `ssl-cert-file-without-dir`,
//! `bundle-bad-block`, `private-key-in-bundle`, `trusted-certificate-block`,
//! `file-without-certificates`, `der-in-cert-dir`, `unreadable-entry`, `not-hashed`,
//! `stale-hash-link`, `hash-chain-gap`, `staged-not-installed`, `staged-wrong-extension`,
//! `system-bundle-not-read`, `empty-store`, `expired-anchor`, `not-a-ca-anchor`, `negative-serial-anchor`,
//! `openssl-not-self-signed-anchor`, `k8s-sa-ca-not-trusted`, `proxy-env`, `ca-file-der`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::finding::{Finding, Severity};
use crate::x509::CertInfo;

use super::distro::Distro;
use super::loader::{disp, FileContent, Loaded, ReadErr};
use super::pem::{self, Shape};
use super::{Cx, Runtime, TrustStore};

/// Every finding code the trust module emits (stable; the tests check each emitted code is
/// listed here, so a change to the CI contract shows up in review).
pub const CODES: &[&str] = &[
    "ssl-cert-file-missing",
    "ssl-cert-file-unreadable",
    "ssl-cert-file-is-dir",
    "ssl-cert-file-empty",
    "ssl-cert-file-der",
    "ssl-cert-dir-missing",
    "ssl-cert-dir-unreadable",
    "ssl-cert-dir-not-dir",
    "ssl-cert-dir-empty",
    "ssl-cert-file-without-dir",
    "bundle-bad-block",
    "private-key-in-bundle",
    "trusted-certificate-block",
    "file-without-certificates",
    "der-in-cert-dir",
    "unreadable-entry",
    "not-hashed",
    "stale-hash-link",
    "hash-chain-gap",
    "staged-not-installed",
    "staged-wrong-extension",
    "system-bundle-not-read",
    "empty-store",
    "expired-anchor",
    "not-a-ca-anchor",
    "negative-serial-anchor",
    "openssl-not-self-signed-anchor",
    "k8s-sa-ca-not-trusted",
    "proxy-env",
    "ca-file-der",
    "ca-file-no-certificate",
    "ca-file-missing",
    "node-options-invalid",
    "node-extra-ca-certs-failed",
    "node-extra-ca-certs-empty",
    "requests-ignores-ssl-cert-file",
    "requests-ca-bundle-unusable",
    "curl-ca-file-unusable",
    "java-truststore-unreadable",
    "java-truststore-encrypted",
    "java-pkcs12-not-trusted-entries",
    "java-truststore-invalid",
    "java-truststore-password",
    "java-truststore-kdf-budget",
];

/// "1 anchor is" / "2 anchors are".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn var_code(var: &str) -> String {
    var.to_ascii_lowercase().replace('_', "-")
}

/// What is wrong with the file an environment variable names, if anything.
pub fn env_source_problem(cx: &Cx, var: &str, p: &Path, loaded: &Loaded, rt: &[&str]) -> Option<Finding> {
    let code = var_code(var);
    let path = disp(p);
    let (suffix, msg, fix): (&str, String, String) = match &**loaded {
        Err(ReadErr::Missing) => (
            "missing",
            format!("{var}={path}: the file does not exist, so it contributes nothing."),
            format!(
                "point {var} at an existing PEM bundle (the system one here is {}), or unset it",
                cx.distro.system_bundle()
            ),
        ),
        Err(ReadErr::IsDir) => (
            "is-dir",
            format!("{var}={path} is a directory, not a file."),
            format!("set SSL_CERT_DIR={path} for a directory, and {var} to a PEM bundle file"),
        ),
        Err(e) => (
            "unreadable",
            format!("{var}={path} cannot be read: {}.", e.describe()),
            format!("make {path} a readable regular PEM file, or point {var} elsewhere"),
        ),
        Ok(c) => {
            let certs = c.blocks.iter().filter(|b| matches!(b.cert, Some(Ok(_)))).count();
            match c.shape {
                Shape::Der => (
                    "der",
                    format!("{var}={path} is a DER (binary) certificate; runtimes read {var} as PEM only."),
                    format!("convert it: `openssl x509 -inform der -in {path} -out ca.pem` and point {var} at ca.pem"),
                ),
                Shape::Pem if certs > 0 => return None,
                _ => (
                    "empty",
                    format!(
                        "{var}={path} holds no certificate ({}).",
                        match c.shape {
                            Shape::Empty => "the file is empty".to_string(),
                            Shape::Binary => format!("binary data, {} bytes", c.size),
                            Shape::Text => "text without any PEM block".to_string(),
                            _ => "no CERTIFICATE block".to_string(),
                        }
                    ),
                    format!("put the CA certificate(s) in PEM form into {path}, or point {var} at the system bundle"),
                ),
            }
        }
    };
    Some(
        Finding::new(&format!("{code}-{suffix}"), Severity::Error, msg)
            .fix(fix)
            .runtimes(rt)
            .path(path),
    )
}

pub fn dir_missing(cx: &Cx, var: &str, d: &str, rt: &[&str]) -> Finding {
    // With SSL_CERT_FILE set, a nonexistent SSL_CERT_DIR is the usual way to switch the
    // default directories off: worth saying, not an error.
    let deliberate = var == "SSL_CERT_DIR" && cx.world().var_nonempty("SSL_CERT_FILE").is_some();
    let f = Finding::new(
        &format!("{}-missing", var_code(var)),
        if deliberate { Severity::Info } else { Severity::Error },
        if deliberate {
            format!("{var} names {d}, which does not exist: no directory is searched there (fine if meant to trust only SSL_CERT_FILE).")
        } else {
            format!("{var} names {d}, which does not exist.")
        },
    )
    .runtimes(rt)
    .path(d.to_string());
    if deliberate {
        f
    } else {
        f.fix(format!("create it or fix {var}; {}", cx.distro.install_ca()))
    }
}

pub fn dir_broken(_cx: &Cx, var: &str, d: &str, e: &ReadErr, rt: &[&str]) -> Finding {
    let (suffix, fix) = match e {
        ReadErr::NotDir => (
            "not-dir",
            format!("{var} must name directories; use SSL_CERT_FILE for a bundle file"),
        ),
        _ => ("unreadable", format!("make {d} readable, or fix {var}")),
    };
    Finding::new(
        &format!("{}-{suffix}", var_code(var)),
        Severity::Error,
        format!("{var} names {d}: {}.", e.describe()),
    )
    .fix(fix)
    .runtimes(rt)
    .path(d.to_string())
}

/// Findings about one bundle file as a runtime reads it.
pub fn file_findings(
    cx: &Cx,
    runtime: Runtime,
    p: &Path,
    c: &FileContent,
    _var: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let rt = [runtime.code()];
    let path = disp(p);
    let bad: Vec<String> = c
        .bad_cert_blocks()
        .take(3)
        .map(|(b, e)| {
            format!(
                "block {} at line {}: {e}",
                b.index.unwrap_or(0),
                b.line.unwrap_or(0)
            )
        })
        .collect();
    if !bad.is_empty() && runtime != Runtime::Openssl {
        out.push(
            Finding::new(
                "bundle-bad-block",
                Severity::Warning,
                format!(
                    "{path} has {} undecodable CERTIFICATE block(s) ({}). {} skips them and keeps the \
                     rest; OpenSSL refuses the whole file.",
                    c.bad_cert_blocks().count(),
                    bad.join("; "),
                    runtime.title()
                ),
            )
            .fix(format!(
                "remove the broken block(s) from {path}; {}",
                cx.distro.refresh()
            ))
            .runtimes(&rt)
            .path(path.clone()),
        );
    }
    let keys = c.blocks.iter().filter(|b| pem::is_key_label(&b.label)).count();
    if keys > 0 {
        out.push(
            Finding::new(
                "private-key-in-bundle",
                Severity::Warning,
                format!("{path} contains {keys} private key block(s): a CA bundle should hold only certificates, and the key is exposed to every reader."),
            )
            .fix(format!("remove the key from {path} and keep it private"))
            .runtimes(&rt)
            .path(path.clone()),
        );
    }
    if runtime != Runtime::Openssl {
        let trusted = c
            .blocks
            .iter()
            .filter(|b| b.label == "TRUSTED CERTIFICATE")
            .count();
        if trusted > 0 {
            out.push(
                Finding::new(
                    "trusted-certificate-block",
                    Severity::Warning,
                    format!(
                        "{path} has {trusted} TRUSTED CERTIFICATE block(s): only OpenSSL reads them; {} ignores them.",
                        runtime.title()
                    ),
                )
                .fix(format!(
                    "convert with `openssl x509 -in {path} -out ca.pem` (plain CERTIFICATE) for other runtimes"
                ))
                .runtimes(&rt)
                .path(path),
            );
        }
    }
}

/// Entries of a certificate directory that gave nothing.
pub fn dir_entry_findings(
    cx: &Cx,
    runtime: Runtime,
    d: &str,
    empty_files: &[PathBuf],
    unreadable: &[(PathBuf, ReadErr)],
    out: &mut Vec<Finding>,
) {
    let rt = [runtime.code()];
    if !unreadable.is_empty() {
        let list: Vec<String> = unreadable
            .iter()
            .take(4)
            .map(|(p, e)| format!("{} ({})", disp(p), e.describe()))
            .collect();
        out.push(
            Finding::new(
                "unreadable-entry",
                Severity::Warning,
                format!(
                    "{} entr{} of {d} could not be read: {}{}.",
                    unreadable.len(),
                    if unreadable.len() == 1 { "y" } else { "ies" },
                    list.join(", "),
                    if unreadable.len() > 4 { ", …" } else { "" }
                ),
            )
            .fix("remove or repair these entries (broken links, loops, special or oversized files)")
            .runtimes(&rt)
            .path(d.to_string()),
        );
    }
    let (der, other): (Vec<&PathBuf>, Vec<&PathBuf>) = empty_files
        .iter()
        .partition(|p| matches!(&*cx.loader.file(p), Ok(c) if c.shape == Shape::Der));
    if !der.is_empty() {
        let list: Vec<String> = der.iter().take(4).map(|p| disp(p)).collect();
        out.push(
            Finding::new(
                "der-in-cert-dir",
                Severity::Warning,
                format!(
                    "{} DER (binary) certificate file(s) in {d} are ignored: certificate directories are read \
                     as PEM only ({}{}).",
                    der.len(),
                    list.join(", "),
                    if der.len() > 4 { ", …" } else { "" }
                ),
            )
            .fix(format!(
                "convert each to PEM (`openssl x509 -inform der -in F -out F.pem`), then {}",
                cx.distro.refresh()
            ))
            .runtimes(&rt)
            .path(d.to_string()),
        );
    }
    if !other.is_empty() {
        let list: Vec<String> = other.iter().take(4).map(|p| disp(p)).collect();
        out.push(
            Finding::new(
                "file-without-certificates",
                Severity::Info,
                format!(
                    "{} file(s) in {d} hold no PEM certificate: {}{}.",
                    other.len(),
                    list.join(", "),
                    if other.len() > 4 { ", …" } else { "" }
                ),
            )
            .runtimes(&rt)
            .path(d.to_string()),
        );
    }
}

/// Staging areas of the distribution tools: (directory, recursive, only `.crt`).
pub fn staging_areas(distro: Distro) -> Vec<(&'static str, bool, bool)> {
    let mut v = Vec::new();
    match distro {
        Distro::Alpine => v.push(("/usr/local/share/ca-certificates", false, false)),
        Distro::Rhel => {}
        _ => v.push(("/usr/local/share/ca-certificates", true, true)),
    }
    v.push(("/etc/pki/ca-trust/source/anchors", false, false));
    v.push(("/usr/share/pki/ca-trust-source/anchors", false, false));
    v
}

/// Kubernetes service-account CA locations.
pub const K8S_SA_CA: [&str; 2] = [
    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    "/run/secrets/kubernetes.io/serviceaccount/ca.crt",
];

/// Certificates staged for the distribution tool: (path, certificate, counted by the tool).
pub fn staged_certs(cx: &Cx) -> Vec<(PathBuf, Arc<CertInfo>, bool)> {
    let mut out = Vec::new();
    for (dir, recursive, crt_only) in staging_areas(cx.distro) {
        let mut stack = vec![(PathBuf::from(dir), 0usize)];
        while let Some((d, depth)) = stack.pop() {
            let listing = cx.loader.dir(&d);
            let Ok(entries) = &*listing else { continue };
            for e in entries.iter().take(10_000) {
                if e.name.starts_with('.') {
                    continue;
                }
                match cx.loader.kind(&e.path) {
                    Ok(md) if md.is_dir() => {
                        if recursive && depth < 8 {
                            stack.push((e.path.clone(), depth + 1));
                        }
                        continue;
                    }
                    Ok(md) if md.is_file() => {}
                    _ => continue,
                }
                let counted = !crt_only || e.name.ends_with(".crt");
                if let Ok(c) = &*cx.loader.file(&e.path) {
                    for b in &c.blocks {
                        if let Some(Ok(cert)) = &b.cert {
                            out.push((e.path.clone(), cert.clone(), counted));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Findings every store gets: empty store, expired or odd anchors, staging areas that never
/// reached it, the Kubernetes CA, proxies.
pub fn common(cx: &Cx, store: &mut TrustStore) {
    let rt = [store.runtime.code()];
    // An extra runtime with no sign of it here: nothing to warn about.
    let absent = store.runtime.is_extra() && super::extra::relevance(cx.world(), store.runtime).is_none();
    if absent {
        store.assumptions.push(
            "no sign of this runtime in the evaluated system (binary on PATH, home, variables): shown for completeness"
                .into(),
        );
        return;
    }
    if store.anchors.is_empty() && store.error.is_none() {
        // A bundle this runtime does not look at, but that exists here?
        let elsewhere = if store.explicit || store.runtime == Runtime::WebpkiRoots {
            None
        } else {
            super::go::FILES.iter().find(
                |f| matches!(&*cx.loader.file(Path::new(f)), Ok(c) if c.pem_certificates().next().is_some()),
            )
        };
        let fix = match (elsewhere, store.runtime) {
            (Some(b), Runtime::Openssl) => format!(
                "a bundle exists at {b}, but OpenSSL does not look there: set SSL_CERT_FILE={b} \
                 (or link OPENSSLDIR/cert.pem to it)"
            ),
            (Some(b), _) => format!("a bundle exists at {b}: set SSL_CERT_FILE={b}"),
            (None, _) => cx.distro.install_ca().to_string(),
        };
        store.findings.push(
            Finding::new(
                "empty-store",
                Severity::Error,
                "No trust anchors at all: every TLS connection will fail verification.",
            )
            .fix(fix)
            .runtimes(&rt),
        );
    }
    let expired: Vec<&super::Anchor> = store
        .anchors
        .iter()
        .filter(|a| a.cert.not_after < cx.now)
        .collect();
    if !expired.is_empty() {
        let names: Vec<String> = expired.iter().take(3).map(|a| a.cert.short_name()).collect();
        store.findings.push(
            Finding::new(
                "expired-anchor",
                Severity::Info,
                format!(
                    "{} expired ({}{}): harmless unless a server still chains to them, \
                     and then every runtime rejects it.",
                    count(expired.len(), "anchor has", "anchors have"),
                    names.join(", "),
                    if expired.len() > 3 { ", …" } else { "" }
                ),
            )
            .fix(format!("keep the bundle current: {}", cx.distro.upgrade_bundle()))
            .runtimes(&rt)
            .path(expired[0].provenance.path.clone()),
        );
    }
    if store.runtime != Runtime::WebpkiRoots {
        // A leaf in a store is trusted only for itself. Self-signed, that is harmless and
        // usually deliberate (Debian's ssl-cert snakeoil certificate sits in /etc/ssl/certs
        // with a hash link): information only. Issued by a CA, it is most likely a mistake
        // for that CA. Each is named once, by its real file, whatever link reached it, so
        // the runtimes' findings merge.
        let mut seen = HashSet::new();
        let non_ca: Vec<&super::Anchor> = store
            .anchors
            .iter()
            .filter(|a| !a.cert.is_ca() && seen.insert(a.cert.sha256.clone()))
            .collect();
        let real = |a: &super::Anchor| -> String {
            let p = Path::new(&a.provenance.path);
            let shown = cx
                .world()
                .canonical(p)
                .map(|c| disp(&c))
                .unwrap_or_else(|_| a.provenance.path.clone());
            let b = a
                .provenance
                .block
                .filter(|b| *b > 0)
                .map(|b| format!("#{b}"))
                .unwrap_or_default();
            format!("{} in {shown}{b}", a.cert.short_name())
        };
        let (own, issued): (Vec<&super::Anchor>, Vec<&super::Anchor>) =
            non_ca.into_iter().partition(|a| a.cert.self_signed);
        for (group, severity) in [(own, Severity::Info), (issued, Severity::Warning)] {
            if group.is_empty() {
                continue;
            }
            let names: Vec<String> = group.iter().take(3).map(|a| real(a)).collect();
            let more = if group.len() > 3 { ", …" } else { "" };
            let (what, fix) = if severity == Severity::Info {
                (
                    "self-signed and trusted only for itself (such as Debian's ssl-cert snakeoil certificate): \
                     harmless",
                    None,
                )
            } else {
                (
                    "a leaf in a CA bundle is trusted only for itself, not for what its CA issues",
                    Some("put the issuing CA certificate in the bundle instead of the server certificate"),
                )
            };
            let mut f = Finding::new(
                "not-a-ca-anchor",
                severity,
                format!(
                    "{} not a CA certificate ({}{more}): {what}.",
                    count(group.len(), "anchor is", "anchors are"),
                    names.join(", ")
                ),
            )
            .runtimes(&rt)
            .path(group[0].provenance.path.clone());
            if let Some(fix) = fix {
                f = f.fix(fix);
            }
            store.findings.push(f);
        }
    }
    if store.runtime == Runtime::Go {
        let neg: Vec<String> = store
            .anchors
            .iter()
            .filter(|a| a.cert.serial_negative)
            .map(|a| a.cert.short_name())
            .collect();
        if !neg.is_empty() {
            store.findings.push(
                Finding::new(
                    "negative-serial-anchor",
                    Severity::Warning,
                    format!(
                        "{} a negative serial number ({}): Go 1.23+ cannot parse them and drops \
                         them from the pool (older Go keeps them).",
                        count(neg.len(), "anchor has", "anchors have"),
                        neg.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
                .fix("re-issue the CA with a positive serial, or run Go with GODEBUG=x509negativeserial=1")
                .runtimes(&rt),
            );
        }
    }
    if store.runtime == Runtime::WebpkiRoots || store.explicit {
        proxy(cx, store);
        return;
    }
    let have: HashSet<&str> = store.anchors.iter().map(|a| a.cert.sha256.as_str()).collect();
    let mut reported = HashSet::new();
    // The system bundle: a staged certificate already in it was installed; this runtime
    // just does not read it (SSL_CERT_FILE / SSL_CERT_DIR point elsewhere).
    let bundle = cx.distro.system_bundle();
    let in_bundle: HashSet<String> = match &*cx.loader.file(Path::new(bundle)) {
        Ok(c) => c.pem_certificates().map(|(_, c)| c.sha256.clone()).collect(),
        Err(_) => HashSet::new(),
    };
    for (path, cert, counted) in staged_certs(cx) {
        if have.contains(cert.sha256.as_str()) || !reported.insert(cert.sha256.clone()) {
            continue;
        }
        let p = disp(&path);
        if in_bundle.contains(&cert.sha256) {
            if store.anchors.is_empty() {
                // empty-store already says the bundle exists and how to point at it.
                continue;
            }
            let vars: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
                .iter()
                .filter_map(|k| cx.world().var(k).map(|v| format!("{k}={v}")))
                .collect();
            let why = if vars.is_empty() {
                String::new()
            } else {
                format!(" ({})", vars.join(", "))
            };
            store.findings.push(
                Finding::new(
                    "system-bundle-not-read",
                    Severity::Warning,
                    format!(
                        "{} (staged at {p}) is installed in the system bundle {bundle}, but this runtime does \
                         not read that bundle{why}.",
                        cert.short_name()
                    ),
                )
                .fix(format!(
                    "add it to the bundle this runtime reads, or point SSL_CERT_FILE at {bundle}"
                ))
                .runtimes(&rt)
                .path(p),
            );
        } else if counted {
            store.findings.push(
                Finding::new(
                    "staged-not-installed",
                    Severity::Warning,
                    format!(
                        "{} is staged at {p} but is not in the store: the CA update tool has not run since it \
                         was added.",
                        cert.short_name()
                    ),
                )
                .fix(cx.distro.refresh())
                .runtimes(&rt)
                .path(p),
            );
        } else {
            store.findings.push(
                Finding::new(
                    "staged-wrong-extension",
                    Severity::Warning,
                    format!(
                        "{} is at {p}, but update-ca-certificates on Debian/Ubuntu only picks up files ending in .crt.",
                        cert.short_name()
                    ),
                )
                .fix(format!("rename it to {}.crt, then {}", p.trim_end_matches(".pem"), cx.distro.refresh()))
                .runtimes(&rt)
                .path(p),
            );
        }
    }
    for k in K8S_SA_CA {
        let kp = Path::new(k);
        if let Ok(c) = &*cx.loader.file(kp) {
            for b in &c.blocks {
                if let Some(Ok(cert)) = &b.cert {
                    if !have.contains(cert.sha256.as_str()) {
                        store.findings.push(
                            Finding::new(
                                "k8s-sa-ca-not-trusted",
                                Severity::Info,
                                format!(
                                    "The Kubernetes service-account CA ({}) at {k} is not in the store: fine for \
                                     public endpoints; in-cluster clients (the API server, services with cluster-issued \
                                     certificates) must load it explicitly.",
                                    cert.short_name()
                                ),
                            )
                            .fix(format!("pass {k} as the CA file of clients that talk to the API server"))
                            .runtimes(&rt)
                            .path(k.to_string()),
                        );
                    }
                }
            }
            break;
        }
    }
    proxy(cx, store);
}

/// A proxy URL with its password replaced by `****` (`http://user:****@proxy:3128`):
/// reports get pasted into issue trackers.
pub fn redact_url_password(v: &str) -> String {
    let start = v.find("://").map_or(0, |i| i + 3);
    let end = v[start..].find('/').map_or(v.len(), |i| start + i);
    match v[start..end].rfind('@') {
        Some(at) => {
            let userinfo = &v[start..start + at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:****{}", &v[..start], &userinfo[..c], &v[start + at..]),
                None => v.to_string(),
            }
        }
        None => v.to_string(),
    }
}

fn proxy(cx: &Cx, store: &mut TrustStore) {
    let w = cx.world();
    let set: Vec<String> = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ]
    .iter()
    .filter_map(|k| {
        w.var_nonempty(k)
            .map(|v| format!("{k}={}", redact_url_password(v)))
    })
    .collect();
    if !set.is_empty() {
        store.findings.push(
            Finding::new(
                "proxy-env",
                Severity::Info,
                format!(
                    "Proxy variables are set ({}): connections may go through a proxy, and a TLS-inspecting \
                     proxy presents its own CA, which must be in the store.",
                    set.join(", ")
                ),
            )
            .runtimes(&[store.runtime.code()]),
        );
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url_password as r;

    #[test]
    fn proxy_passwords_are_redacted() {
        assert_eq!(r("http://user:s3cret@proxy:3128"), "http://user:****@proxy:3128");
        assert_eq!(
            r("http://user:p@ss@proxy:3128/x"),
            "http://user:****@proxy:3128/x"
        );
        assert_eq!(r("user:pw@proxy:3128"), "user:****@proxy:3128");
        assert_eq!(r("http://user@proxy:3128"), "http://user@proxy:3128");
        assert_eq!(r("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(r("localhost,.internal"), "localhost,.internal");
        assert_eq!(r("http://proxy:3128/a@b"), "http://proxy:3128/a@b");
    }
}
