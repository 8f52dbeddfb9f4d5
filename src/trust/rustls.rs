//! rustls-native-certs 0.8.x on Linux (src/lib.rs `load_native_certs`, `CertPaths`,
//! src/unix.rs, openssl-probe).
//!
//! If `SSL_CERT_FILE` or `SSL_CERT_DIR` is set (even to the empty string: `var_os`), those
//! are loaded first; only when that gives **no certificate and no error** (e.g. an existing
//! but empty directory) does it fall back to the platform: openssl-probe's candidates, the
//! first bundle file that exists and the certificate directories that exist. Directories
//! (0.8.2+) are `:`-separated and every regular file in them is read (symlinks followed).
//! Only `CERTIFICATE` blocks count; a missing file, a missing directory or an undecodable
//! PEM section is an error in the result; certificates that do not parse are dropped by
//! `RootCertStore::add_parsable_certificates`.

use std::path::{Path, PathBuf};

use super::findings::{self, env_source_problem};
use super::loader::ReadErr;
use super::{Cx, Outcome, Pool, Runtime, Step, StepKind, TrustStore};

/// openssl-probe 0.2's Linux bundle candidates, in order (first existing wins).
pub const PROBE_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// openssl-probe 0.2's Linux directory candidates (each that exists).
pub const PROBE_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

pub fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let mut store = TrustStore::empty(Runtime::RustlsNative);
    let mut pool = Pool::new();
    store.assumptions.push(
        "rustls-native-certs ≥ 0.8.2 with openssl-probe 0.2 (0.7.1–0.8.1 read only hash-named files in \
         directories and probed other paths)"
            .into(),
    );
    let env_file = w.var("SSL_CERT_FILE");
    let env_dir = w.var("SSL_CERT_DIR");
    let mut fall_back = true;
    if env_file.is_some() || env_dir.is_some() {
        let files: Vec<String> = env_file.map(|f| vec![f.to_string()]).unwrap_or_default();
        let dirs: Vec<String> = env_dir
            .map(|d| d.split(':').map(str::to_string).collect())
            .unwrap_or_default();
        let errors = load(cx, &files, &dirs, true, &mut store, &mut pool);
        fall_back = pool.anchors.is_empty() && errors == 0;
        if fall_back {
            store.steps.push(Step {
                source: "SSL_CERT_FILE / SSL_CERT_DIR".into(),
                kind: StepKind::File,
                outcome: Outcome::Skipped,
                anchors: 0,
                reason: Some(
                    "the variables gave no certificate and no error, so rustls-native-certs falls back to \
                     the system locations"
                        .into(),
                ),
            });
        }
    }
    if fall_back {
        let file = PROBE_FILES
            .iter()
            .find(|f| cx.loader.kind(Path::new(f)).is_ok())
            .map(|f| vec![f.to_string()])
            .unwrap_or_default();
        for f in PROBE_FILES {
            if !file.iter().any(|x| x == f) {
                store.steps.push(Step {
                    source: f.to_string(),
                    kind: StepKind::File,
                    outcome: if file.is_empty() {
                        Outcome::Missing
                    } else {
                        Outcome::Skipped
                    },
                    anchors: 0,
                    reason: Some(if file.is_empty() {
                        "openssl-probe candidate".to_string()
                    } else {
                        "openssl-probe picked an earlier candidate".to_string()
                    }),
                });
            }
        }
        let dirs: Vec<String> = PROBE_DIRS
            .iter()
            .filter(|d| cx.loader.kind(Path::new(d)).map(|m| m.is_dir()).unwrap_or(false))
            .map(|d| d.to_string())
            .collect();
        load(cx, &file, &dirs, false, &mut store, &mut pool);
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
) -> usize {
    let rt = [Runtime::RustlsNative.code()];
    let mut errors = 0;
    for f in files {
        let p = PathBuf::from(f);
        let loaded = cx.loader.file(&p);
        let why = if from_env {
            "set by SSL_CERT_FILE (the variables come first)"
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
                    outcome: if *e == ReadErr::Missing {
                        Outcome::Missing
                    } else {
                        Outcome::Error
                    },
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
            "set by SSL_CERT_DIR (the variables come first)"
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
                    outcome: if *e == ReadErr::Missing {
                        Outcome::Missing
                    } else {
                        Outcome::Error
                    },
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
                for e in entries {
                    match &*cx.loader.file(&e.path) {
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
                    reason: Some(format!("{read} file(s) read; {why}")),
                });
                findings::dir_entry_findings(
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
