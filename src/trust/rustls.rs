//! rustls-native-certs 0.8.5 on Linux (src/lib.rs `load_native_certs`, `CertPaths`,
//! src/unix.rs) with openssl-probe 0.2.2 (`probe`).
//!
//! If `SSL_CERT_FILE` is set (even to the empty string: `var_os`) or `SSL_CERT_DIR` names at
//! least one directory (split on `:`, empty parts dropped), **only** those are loaded; a
//! missing file is an error in the result, not a fallback. Otherwise openssl-probe: the first
//! existing file of its Linux list, and every existing directory of `/etc/ssl/certs`,
//! `/etc/pki/tls/certs`, `/etc/security/certificates`. In a directory every regular file is
//! read (symlinks followed, dangling links skipped, no recursion, each file once). Only
//! `CERTIFICATE` PEM sections count; their DER is not parsed there, and
//! `RootCertStore::add_parsable_certificates` later drops what does not parse — the anchors
//! here are those that parse.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::findings::{self, env_source_problem};
use super::loader::ReadErr;
use super::{Cx, Outcome, Pool, Runtime, Step, StepKind, TrustStore};

/// openssl-probe 0.2's Linux bundle candidates, in order (first existing wins).
pub const PROBE_FILES: [&str; 8] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
    "/opt/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/certs/cacert.pem",
];
/// openssl-probe 0.2's Linux directory candidates (each that exists).
pub const PROBE_DIRS: [&str; 3] = [
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/etc/security/certificates",
];

pub fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let mut store = TrustStore::empty(Runtime::RustlsNative);
    let mut pool = Pool::new();
    let mut seen = HashSet::new();
    store.assumptions.push(
        "rustls-native-certs 0.8.5 with openssl-probe 0.2.2 (0.7.1–0.8.1 read only hash-named files \
         in directories, did not split SSL_CERT_DIR, and fell back to the system when the variables \
         gave nothing)"
            .into(),
    );
    let env_file = w.var("SSL_CERT_FILE");
    let env_dirs: Vec<String> = w
        .var("SSL_CERT_DIR")
        .map(|d| {
            d.split(':')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if env_file.is_some() || !env_dirs.is_empty() {
        let files: Vec<String> = env_file.map(|f| vec![f.to_string()]).unwrap_or_default();
        load(cx, &files, &env_dirs, true, &mut store, &mut pool, &mut seen);
    } else {
        let chosen = PROBE_FILES
            .iter()
            .position(|f| cx.loader.kind(Path::new(f)).is_ok());
        for (i, f) in PROBE_FILES.iter().enumerate() {
            match chosen {
                Some(c) if c == i => {
                    load(cx, &[f.to_string()], &[], false, &mut store, &mut pool, &mut seen);
                }
                Some(c) if i > c => store.steps.push(Step {
                    source: f.to_string(),
                    kind: StepKind::File,
                    outcome: Outcome::Skipped,
                    anchors: 0,
                    reason: Some("openssl-probe takes only the first file that exists".into()),
                }),
                _ => store.steps.push(Step {
                    source: f.to_string(),
                    kind: StepKind::File,
                    outcome: Outcome::Missing,
                    anchors: 0,
                    reason: Some("openssl-probe candidate".into()),
                }),
            }
        }
        let dirs: Vec<String> = PROBE_DIRS
            .iter()
            .filter(|d| cx.loader.kind(Path::new(d)).is_ok())
            .map(|d| d.to_string())
            .collect();
        load(cx, &[], &dirs, false, &mut store, &mut pool, &mut seen);
    }
    store.anchors = pool.anchors;
    if store.anchors.is_empty() {
        store.error = Some("no CA certificates found".into());
    }
    store
}

/// Load files and directories; returns how many errors `CertificateResult` would hold.
fn load(
    cx: &Cx,
    files: &[String],
    dirs: &[String],
    from_env: bool,
    store: &mut TrustStore,
    pool: &mut Pool,
    seen: &mut HashSet<PathBuf>,
) -> usize {
    let rt = [Runtime::RustlsNative.code()];
    let mut errors = 0;
    for f in files {
        let p = PathBuf::from(f);
        let loaded = cx.loader.file(&p);
        if let Ok(c) = &*loaded {
            seen.insert(c.resolved.clone());
        }
        let why = if from_env {
            "set by SSL_CERT_FILE (then only the variables count)"
        } else {
            "openssl-probe candidate"
        };
        match &*loaded {
            Ok(c) => {
                let mut n = 0;
                for (b, cert) in c.pem_certificates() {
                    n += 1;
                    pool.add(cert, &p, &c.resolved, b);
                }
                // rustls-pemfile reports sections whose base64 does not decode.
                errors += c
                    .blocks
                    .iter()
                    .filter(|b| {
                        b.label == "CERTIFICATE" && matches!(&b.cert, Some(Err(e)) if e.contains("base64"))
                    })
                    .count();
                store.steps.push(Step {
                    source: f.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Loaded,
                    anchors: n,
                    reason: Some(why.into()),
                });
                findings::file_findings(cx, Runtime::RustlsNative, &p, c, None, &mut store.findings);
            }
            Err(e) => {
                errors += 1;
                store.steps.push(Step {
                    source: f.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::unreadable(e),
                    anchors: 0,
                    reason: Some(format!("{}; {why}", e.describe())),
                })
            }
        }
        if from_env {
            let shown = if f.is_empty() {
                Path::new("\"\"")
            } else {
                p.as_path()
            };
            if let Some(f) = env_source_problem(cx, "SSL_CERT_FILE", shown, &loaded, &rt) {
                store.findings.push(f);
            }
        }
    }
    for d in dirs {
        let dp = PathBuf::from(d);
        let why = if from_env {
            "set by SSL_CERT_DIR (then only the variables count)"
        } else {
            "openssl-probe candidate"
        };
        let listing = cx.loader.dir(&dp);
        match &*listing {
            Err(e) => {
                errors += 1;
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::unreadable(e),
                    anchors: 0,
                    reason: Some(format!("{}; {why}", e.describe())),
                });
                if from_env {
                    store.findings.push(if *e == ReadErr::Missing {
                        findings::dir_missing(cx, "SSL_CERT_DIR", d, &rt)
                    } else {
                        findings::dir_broken(cx, "SSL_CERT_DIR", d, e, &rt)
                    });
                }
            }
            Ok(entries) => {
                let mut n = 0;
                let mut read = 0;
                let mut empty = Vec::new();
                let mut unreadable = Vec::new();
                let mut again = 0;
                for e in entries {
                    match &*cx.loader.file(&e.path) {
                        // Each file once (by identity): hash links, the bundle itself.
                        Ok(c) if !seen.insert(c.resolved.clone()) => again += 1,
                        Ok(c) => {
                            read += 1;
                            let before = n;
                            for (b, cert) in c.pem_certificates() {
                                n += 1;
                                pool.add(cert, &e.path, &c.resolved, b);
                            }
                            if n == before {
                                empty.push(e.path.clone());
                            }
                        }
                        Err(ReadErr::IsDir) | Err(ReadErr::Missing) => {}
                        Err(err) => {
                            errors += 1;
                            unreadable.push((e.path.clone(), err.clone()))
                        }
                    }
                }
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::Loaded,
                    anchors: n,
                    reason: Some(format!(
                        "{read} file(s) read{}; {why}",
                        if again > 0 {
                            format!(", {again} link(s) to files already read skipped")
                        } else {
                            String::new()
                        }
                    )),
                });
                findings::dir_entry_findings(
                    cx,
                    Runtime::RustlsNative,
                    d,
                    &empty,
                    &unreadable,
                    &mut store.findings,
                );
            }
        }
    }
    errors
}
