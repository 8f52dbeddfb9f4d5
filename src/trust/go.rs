//! Go's crypto/x509 system pool on Linux (root_linux.go, root_unix.go `loadSystemRoots`,
//! cert_pool.go `AppendCertsFromPEM`). See TRUST-RULES.md, "Go".

use std::path::{Path, PathBuf};

use crate::finding::{Finding, Severity};

use super::findings::{self, env_source_problem};
use super::loader::ReadErr;
use super::{Cx, Outcome, Pool, Runtime, Step, StepKind, TrustStore};

/// `certFiles` in root_linux.go, in order.
pub const FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// `certDirectories` in root_linux.go.
pub const DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// Go's error text for a failed read (`open PATH: …` / `read PATH: is a directory`).
fn go_err(path: &str, e: &ReadErr) -> String {
    match e {
        ReadErr::IsDir => format!("read {path}: is a directory"),
        other => format!("open {path}: {}", other.describe()),
    }
}

pub fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let mut store = TrustStore::empty(Runtime::Go);
    let mut pool = Pool::new();
    let mut first_err: Option<String> = None;
    let rt = [Runtime::Go.code()];

    let env_file = w.var_nonempty("SSL_CERT_FILE");
    let files: Vec<String> = match env_file {
        Some(f) => vec![f.to_string()],
        None => FILES.iter().map(|s| s.to_string()).collect(),
    };
    let mut won: Option<String> = None;
    for f in &files {
        let p = Path::new(f);
        let why = if env_file.is_some() {
            Some("set by SSL_CERT_FILE")
        } else {
            None
        };
        if let Some(winner) = &won {
            store.steps.push(Step {
                source: f.clone(),
                kind: StepKind::File,
                outcome: Outcome::Skipped,
                anchors: 0,
                reason: Some(format!(
                    "not read: Go reads only the first file that opens ({winner})"
                )),
            });
            continue;
        }
        let loaded = cx.loader.file(p);
        match &*loaded {
            Ok(c) => {
                won = Some(f.clone());
                let mut n = 0;
                for (b, cert) in c.pem_certificates() {
                    n += 1;
                    pool.add(cert, p, &c.resolved, b);
                }
                let bad = c.bad_cert_blocks().count();
                let mut reason = why
                    .map(str::to_string)
                    .unwrap_or_else(|| "first default file that exists".into());
                if bad > 0 {
                    reason.push_str(&format!("; {bad} undecodable block(s) skipped"));
                }
                store.steps.push(Step {
                    source: f.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Loaded,
                    anchors: n,
                    reason: Some(reason),
                });
                findings::file_findings(
                    cx,
                    Runtime::Go,
                    p,
                    c,
                    env_file.is_some().then_some("SSL_CERT_FILE"),
                    &mut store.findings,
                );
            }
            Err(ReadErr::Missing) => {
                store.steps.push(Step {
                    source: f.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Missing,
                    anchors: 0,
                    reason: why.map(str::to_string),
                });
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(go_err(f, e));
                }
                store.steps.push(Step {
                    source: f.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Error,
                    anchors: 0,
                    reason: Some(format!(
                        "{}{}",
                        e.describe(),
                        why.map(|w| format!(" ({w})")).unwrap_or_default()
                    )),
                });
            }
        }
        if env_file.is_some() {
            if let Some(f) = env_source_problem(cx, "SSL_CERT_FILE", p, &loaded, &rt) {
                store.findings.push(f);
            }
        }
    }

    let from_file = pool.anchors.len();
    let env_dir = w.var_nonempty("SSL_CERT_DIR");
    let dirs: Vec<String> = match env_dir {
        Some(d) => d.split(':').map(str::to_string).collect(),
        None => DIRS.iter().map(|s| s.to_string()).collect(),
    };
    for d in &dirs {
        let why = env_dir.map(|_| "set by SSL_CERT_DIR");
        if d.is_empty() {
            store.steps.push(Step {
                source: String::new(),
                kind: StepKind::Dir,
                outcome: Outcome::Missing,
                anchors: 0,
                reason: Some("empty element in SSL_CERT_DIR".into()),
            });
            continue;
        }
        let dp = PathBuf::from(d);
        let listing = cx.loader.dir(&dp);
        match &*listing {
            Err(ReadErr::Missing) => {
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::Missing,
                    anchors: 0,
                    reason: why.map(str::to_string),
                });
                if env_dir.is_some() {
                    store
                        .findings
                        .push(findings::dir_missing(cx, "SSL_CERT_DIR", d, &rt));
                }
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(go_err(d, e));
                }
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::Error,
                    anchors: 0,
                    reason: Some(e.describe()),
                });
                if env_dir.is_some() {
                    store
                        .findings
                        .push(findings::dir_broken(cx, "SSL_CERT_DIR", d, e, &rt));
                }
            }
            Ok(entries) => {
                let mut n = 0;
                let mut files_read = 0;
                let mut same_dir_links = 0;
                let mut empty_files = Vec::new();
                let mut unreadable = Vec::new();
                for e in entries {
                    let target = if e.is_link {
                        cx.world().read_link(&e.path).ok().flatten()
                    } else {
                        None
                    };
                    if let Some(t) = &target {
                        if !t.as_os_str().as_encoded_bytes().contains(&b'/') {
                            same_dir_links += 1;
                            continue;
                        }
                    }
                    let loaded = cx.loader.file(&e.path);
                    match &*loaded {
                        Ok(c) => {
                            files_read += 1;
                            let before = n;
                            for (b, cert) in c.pem_certificates() {
                                n += 1;
                                pool.add(cert, &e.path, &c.resolved, b);
                            }
                            if n == before {
                                empty_files.push(e.path.clone());
                            }
                        }
                        Err(ReadErr::IsDir) | Err(ReadErr::Missing) => {}
                        Err(err) => unreadable.push((e.path.clone(), err.clone())),
                    }
                }
                let mut reason = format!("{files_read} file(s) read");
                if same_dir_links > 0 {
                    reason.push_str(&format!(
                        ", {same_dir_links} same-directory link(s) skipped (Go ignores links such as abcd1234.0 -> x.pem)"
                    ));
                }
                if let Some(w) = why {
                    reason.push_str(&format!("; {w}"));
                }
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::Loaded,
                    anchors: n,
                    reason: Some(reason),
                });
                findings::dir_entry_findings(
                    cx,
                    Runtime::Go,
                    d,
                    &empty_files,
                    &unreadable,
                    &mut store.findings,
                );
                if env_dir.is_some() && n == 0 {
                    store.findings.push(
                        Finding::new(
                            "ssl-cert-dir-empty",
                            if env_file.is_some() {
                                Severity::Info
                            } else {
                                Severity::Warning
                            },
                            format!(
                                "SSL_CERT_DIR element {d} holds no PEM certificate{}.",
                                if env_file.is_some() {
                                    " (fine if meant to trust only SSL_CERT_FILE)"
                                } else {
                                    ""
                                }
                            ),
                        )
                        .fix(cx.distro.install_ca())
                        .runtimes(&rt)
                        .path(d.clone()),
                    );
                }
            }
        }
    }

    // SSL_CERT_FILE without SSL_CERT_DIR: the system directories still count.
    if env_file.is_some() && env_dir.is_none() {
        let from_dirs = pool.anchors.len() - from_file;
        if from_dirs > 0 {
            store.findings.push(
                Finding::new(
                    "ssl-cert-file-without-dir",
                    Severity::Warning,
                    format!(
                        "SSL_CERT_FILE is set but SSL_CERT_DIR is not: Go still trusts the {from_dirs} \
                         certificate(s) in {}.",
                        DIRS.join(" and ")
                    ),
                )
                .fix(
                    "to trust only SSL_CERT_FILE, also set SSL_CERT_DIR to an empty or nonexistent \
                     directory (e.g. SSL_CERT_DIR=/nonexistent)",
                )
                .runtimes(&rt),
            );
        }
    }

    fallback_roots(cx, &mut store, &mut pool);
    store.anchors = pool.anchors;
    if store.anchors.is_empty() {
        if let Some(e) = first_err {
            store.error = Some(e);
        }
    }
    store.assumptions.push(
        "Go ≥ 1.16 rules: the first readable file, plus every directory; SSL_CERT_FILE / \
         SSL_CERT_DIR replace the defaults"
            .into(),
    );
    store
}

/// `x509.SetFallbackRoots` (Go ≥ 1.20), called by the init of
/// `golang.org/x/crypto/x509roots/fallback` when the program links it: the embedded roots
/// replace the system pool when that pool is empty or failed to load (a scratch or
/// distroless image without a bundle), or always with `GODEBUG=x509usefallbackroots=1`
/// (the process's GODEBUG over the program's DefaultGODEBUG). The program is `--exe`, or
/// the process's own executable with `--pid`.
fn fallback_roots(cx: &Cx, store: &mut TrustStore, pool: &mut Pool) {
    let Some(Ok(detected)) = crate::detect::go_program(cx.world()) else {
        return;
    };
    let Some(go) = detected.go() else { return };
    let Some(fb) = &go.fallback else { return };
    let program = detected.source.to_string();
    let mut forced = None;
    for (k, v) in &go.default_godebug {
        if k == "x509usefallbackroots" {
            forced = Some((v == "1", "the program's DefaultGODEBUG"));
        }
    }
    if let Some(env) = cx.world().var("GODEBUG") {
        for (k, v) in crate::detect::gobuildinfo::parse_godebug(env) {
            if k == "x509usefallbackroots" {
                forced = Some((v == "1", "GODEBUG"));
            }
        }
    }
    let source = format!(
        "builtin:{} {}",
        crate::detect::FALLBACK_PACKAGE,
        fb.module_version
    );
    let go_ok = detected
        .version
        .is_some_and(|v| v >= crate::detect::Version::new(1, 20, None));
    let use_it = match forced {
        Some((true, _)) => true,
        _ => pool.anchors.is_empty(),
    };
    if !go_ok || !use_it {
        let reason = if !go_ok {
            format!(
                "linked into the program ({program}), but {} has no SetFallbackRoots (Go 1.20+)",
                detected.text
            )
        } else {
            format!(
                "linked into the program ({program}); not used: the system pool has {} certificate(s) \
                 (GODEBUG=x509usefallbackroots=1 would force it)",
                pool.anchors.len()
            )
        };
        store.steps.push(Step {
            source,
            kind: StepKind::Builtin,
            outcome: Outcome::Skipped,
            anchors: 0,
            reason: Some(reason),
        });
        return;
    }
    // The fallback pool replaces whatever the system pool had.
    pool.anchors.clear();
    pool.seen.clear();
    let mut n = 0;
    for (i, der) in fb.certs.iter().enumerate() {
        let Ok(cert) = cx.loader.cert(der) else { continue };
        n += 1;
        if pool.seen.insert(cert.sha256.clone()) {
            pool.anchors.push(super::Anchor {
                cert,
                provenance: super::Provenance {
                    path: source.clone(),
                    resolved: None,
                    block: Some(i),
                    line: None,
                },
                hash_name: None,
                trusted_cert_block: false,
                aux_trust: None,
            });
        }
    }
    for s in store.steps.iter_mut().filter(|s| s.outcome == Outcome::Loaded) {
        s.outcome = Outcome::Skipped;
        s.reason = Some(format!(
            "read, then replaced by the fallback roots ({} certificate(s))",
            s.anchors
        ));
    }
    let why = match forced {
        Some((true, by)) => format!("x509usefallbackroots=1 from {by}"),
        _ => "the system pool is empty".into(),
    };
    store.steps.push(Step {
        source,
        kind: StepKind::Builtin,
        outcome: Outcome::Loaded,
        anchors: n,
        reason: Some(format!("embedded in the program ({program}); used because {why}")),
    });
    store.assumptions.push(format!(
        "the program links {} ({}): x509.SetFallbackRoots",
        crate::detect::FALLBACK_PACKAGE,
        detected.describe()
    ));
}
