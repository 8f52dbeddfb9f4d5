//! OpenSSL 3.x default verify paths (x509_def.c, by_file.c, by_dir.c): the file
//! (`SSL_CERT_FILE` or `OPENSSLDIR/cert.pem`) is loaded eagerly and fails as a whole on one
//! bad block; the directories (`SSL_CERT_DIR`, `:`-separated, or `OPENSSLDIR/certs`) are
//! searched by subject hash, so only `<hash>.<n>` files whose name matches the subject hash
//! of the certificate inside can ever be found.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::finding::{Finding, Severity};

pub use super::canon::{canonical_name, subject_hash};
use super::distro::Distro;
use super::findings::{self, env_source_problem};
use super::loader::{disp, ReadErr};
use super::pem::Shape;
use super::{Cx, Outcome, Pool, Runtime, Step, StepKind, TrustStore};

/// OPENSSLDIR for this World, and how it was decided.
pub fn openssldir(cx: &Cx) -> (PathBuf, String) {
    if let Some(d) = &cx.opts.openssldir {
        return (
            d.clone(),
            format!("OPENSSLDIR {} (given with --openssldir)", d.display()),
        );
    }
    let (d, why) = match cx.distro {
        Distro::Debian => ("/usr/lib/ssl", "Debian/Ubuntu build"),
        Distro::Alpine => ("/etc/ssl", "Alpine build"),
        Distro::Rhel => ("/etc/pki/tls", "RHEL/Fedora build"),
        Distro::Distroless => ("/usr/lib/ssl", "distroless is Debian-based"),
        Distro::Scratch | Distro::Unknown => {
            let w = cx.world();
            if w.exists(Path::new("/usr/lib/ssl")) {
                ("/usr/lib/ssl", "found /usr/lib/ssl")
            } else if w.exists(Path::new("/etc/pki/tls")) {
                ("/etc/pki/tls", "found /etc/pki/tls")
            } else {
                ("/usr/lib/ssl", "no layout detected; Debian's default")
            }
        }
    };
    (
        PathBuf::from(d),
        format!("OPENSSLDIR {d} ({why}; override with --openssldir, check with `openssl version -d`)"),
    )
}

/// `<8 hex, any case>.<digits>`: the names OpenSSL 3.0's directory store opens.
pub fn parse_hash_name_ci(name: &str) -> Option<(u32, u32)> {
    parse_hash_name(&name.to_ascii_lowercase())
}

/// `<8 lowercase hex>.<digits>`: the names OpenSSL's directory lookup opens.
pub fn parse_hash_name(name: &str) -> Option<(u32, u32)> {
    let (h, n) = name.split_once('.')?;
    if h.len() != 8
        || !h
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.len() > 9 {
        return None;
    }
    Some((u32::from_str_radix(h, 16).ok()?, n.parse().ok()?))
}

/// Where an OpenSSL-based program looks for CAs: one file, loaded eagerly, and hashed
/// directories searched at verify time.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The CA file (None: no file configured).
    pub file: Option<PathBuf>,
    /// Why this file ("set by SSL_CERT_FILE", "OPENSSLDIR/cert.pem", …).
    pub file_why: String,
    /// The variable that named the file, for findings about a broken target.
    pub file_var: Option<&'static str>,
    /// The directories, in order (already split on `:`).
    pub dirs: Vec<String>,
    pub dir_why: String,
    pub dir_var: Option<&'static str>,
    /// OpenSSL 3.0–3.4 `X509_STORE_set_default_paths` also opens a single default
    /// directory as a `file:` store; an explicit capath (`-CApath`, curl) does not.
    pub store_lookup: bool,
    /// When only the file was overridden: the default directory still searched (finding).
    pub still_searched_dir: Option<String>,
}

/// OpenSSL's default verify paths for this World (`X509_STORE_set_default_paths`).
pub fn default_paths(cx: &Cx, dir: &Path) -> Paths {
    let w = cx.world();
    let env_file = w.var_nonempty("SSL_CERT_FILE");
    let env_dir = w.var_nonempty("SSL_CERT_DIR");
    let dirs: Vec<String> = match env_dir {
        Some(d) => d.split(':').map(str::to_string).collect(),
        None => vec![disp(&dir.join("certs"))],
    };
    Paths {
        file: Some(
            env_file
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join("cert.pem")),
        ),
        file_why: if env_file.is_some() {
            "set by SSL_CERT_FILE".into()
        } else {
            "OPENSSLDIR/cert.pem".into()
        },
        file_var: env_file.map(|_| "SSL_CERT_FILE"),
        store_lookup: dirs.len() == 1,
        dirs,
        dir_why: if env_dir.is_some() {
            "set by SSL_CERT_DIR".into()
        } else {
            "OPENSSLDIR/certs".into()
        },
        dir_var: env_dir.map(|_| "SSL_CERT_DIR"),
        still_searched_dir: (env_file.is_some() && env_dir.is_none()).then(|| disp(&dir.join("certs"))),
    }
}

pub fn resolve(cx: &Cx) -> TrustStore {
    let (dir, assumption) = openssldir(cx);
    let mut store = resolve_paths(cx, Runtime::Openssl, &default_paths(cx, &dir));
    store.assumptions.insert(0, assumption);
    store.assumptions.insert(
        1,
        "OpenSSL 3.0.x lookup: hashed directories by name (by_dir) and, for a single directory, \
         the 3.0–3.4 `file:` store too"
            .into(),
    );
    store
}

/// The store an OpenSSL-based `runtime` builds from `paths`.
pub fn resolve_paths(cx: &Cx, runtime: Runtime, paths: &Paths) -> TrustStore {
    let mut store = TrustStore::empty(runtime);
    let rt = [runtime.code()];
    let mut pool = Pool::new();

    // 1. The file, eagerly.
    if let Some(file) = &paths.file {
        load_file(cx, runtime, file, paths, &mut pool, &mut store);
    }
    dirs(cx, paths, &rt, &mut pool, &mut store);
    finish(paths, &rt, pool, &mut store);
    store
}

fn load_file(cx: &Cx, runtime: Runtime, file: &Path, paths: &Paths, pool: &mut Pool, store: &mut TrustStore) {
    let rt = [runtime.code()];
    let why = paths.file_why.as_str();
    let loaded = cx.loader.file(file);
    let fname = disp(file);
    match &*loaded {
        Ok(c) => {
            let bad: Vec<_> = c.openssl_fatal_blocks().collect();
            if let Some((b, e)) = bad.first() {
                store.steps.push(Step {
                    source: fname.clone(),
                    kind: StepKind::File,
                    outcome: Outcome::Error,
                    anchors: 0,
                    reason: Some(format!(
                        "block {} (line {}) does not decode ({e}): OpenSSL drops the whole file; {why}",
                        b.index.unwrap_or(0),
                        b.line.unwrap_or(0)
                    )),
                });
                let good = c.blocks.iter().filter(|b| matches!(b.cert, Some(Ok(_)))).count();
                store.findings.push(
                    Finding::new(
                        "bundle-bad-block",
                        Severity::Error,
                        format!(
                            "{fname} has {} undecodable PEM block(s) (first: block {} at line {}): OpenSSL \
                             refuses the whole file, so its {good} good certificate(s) are not trusted either \
                             (Go would skip just the bad block).",
                            bad.len(),
                            b.index.unwrap_or(0),
                            b.line.unwrap_or(0)
                        ),
                    )
                    .fix(format!("remove the broken block from {fname}; {}", cx.distro.refresh()))
                    .runtimes(&rt)
                    .path(fname.clone()),
                );
            } else {
                let mut n = 0;
                for b in &c.blocks {
                    if let (Some(Ok(cert)), true) = (&b.cert, b.is_cert_label() && b.label != "DER") {
                        n += 1;
                        pool.add(cert, file, &c.resolved, b);
                    }
                }
                store.steps.push(Step {
                    source: fname.clone(),
                    kind: StepKind::File,
                    outcome: if n > 0 || c.shape == Shape::Pem {
                        Outcome::Loaded
                    } else {
                        Outcome::Error
                    },
                    anchors: n,
                    reason: Some(if n == 0 {
                        format!("no certificate in it; {why}")
                    } else {
                        why.to_string()
                    }),
                });
            }
            findings::file_findings(cx, runtime, file, c, None, &mut store.findings);
        }
        Err(ReadErr::Missing) => store.steps.push(Step {
            source: fname.clone(),
            kind: StepKind::File,
            outcome: Outcome::Missing,
            anchors: 0,
            reason: Some(why.to_string()),
        }),
        Err(e) => store.steps.push(Step {
            source: fname.clone(),
            kind: StepKind::File,
            outcome: Outcome::Error,
            anchors: 0,
            reason: Some(format!("{}; {why}", e.describe())),
        }),
    }
    if let Some(var) = paths.file_var {
        if let Some(f) = env_source_problem(cx, var, file, &loaded, &rt) {
            store.findings.push(f);
        }
    }
}

fn dirs(cx: &Cx, paths: &Paths, rt: &[&str], pool: &mut Pool, store: &mut TrustStore) {
    let dirs = &paths.dirs;
    let why = paths.dir_why.as_str();
    for d in dirs {
        if d.is_empty() {
            continue;
        }
        let dp = PathBuf::from(d);
        let listing = cx.loader.dir(&dp);
        let entries = match &*listing {
            Ok(e) => e,
            Err(e) => {
                store.steps.push(Step {
                    source: d.clone(),
                    kind: StepKind::Dir,
                    outcome: Outcome::unreadable(e),
                    anchors: 0,
                    reason: Some(if *e == ReadErr::Missing {
                        why.to_string()
                    } else {
                        format!("{}; {why}", e.describe())
                    }),
                });
                if let Some(var) = paths.dir_var {
                    store.findings.push(if *e == ReadErr::Missing {
                        findings::dir_missing(cx, var, d, rt)
                    } else {
                        findings::dir_broken(cx, var, d, e, rt)
                    });
                }
                continue;
            }
        };
        // OpenSSL 3.0–3.4 search the default directory twice: the classic by_dir lookup
        // (lowercase `<hash>.N`, N = 0, 1, … until one is missing or unusable) and a `file:`
        // store over the whole SSL_CERT_DIR value (no `:` split) that opens every
        // `<hash>.N` name, case-insensitively, gaps or not.
        let store_lookup = paths.store_lookup;
        let mut by_hash: BTreeMap<u32, Vec<(u32, &crate::world::Entry)>> = BTreeMap::new();
        let mut others = Vec::new();
        for e in entries {
            match parse_hash_name_ci(&e.name) {
                Some((h, n)) => by_hash.entry(h).or_default().push((n, e)),
                None => others.push(e),
            }
        }
        let mut found = 0usize;
        let mut findable: HashSet<String> = HashSet::new();
        let mut stale: Vec<String> = Vec::new();
        let mut gaps: Vec<String> = Vec::new();
        let mut unreached: Vec<String> = Vec::new();
        for (h, mut list) in by_hash {
            list.sort_by_key(|(n, _)| *n);
            // The classic walk.
            let mut by_dir: HashSet<&str> = HashSet::new();
            let mut k = 0u32;
            loop {
                let name = format!("{h:08x}.{k}");
                let Some((_, e)) = list.iter().find(|(_, e)| e.name == name) else {
                    break;
                };
                let usable = matches!(&*cx.loader.file(&e.path), Ok(c) if c.blocks.iter().any(|b| b.is_cert_label() && b.label != "DER" && matches!(b.cert, Some(Ok(_)))));
                if !usable {
                    break;
                }
                by_dir.insert(e.name.as_str());
                k += 1;
            }
            for (_, e) in &list {
                let classic = by_dir.contains(e.name.as_str());
                if !classic && !store_lookup {
                    unreached.push(e.name.clone());
                    continue;
                }
                let loaded = cx.loader.file(&e.path);
                match &*loaded {
                    Ok(c) => {
                        // X509_load_cert_file: CERTIFICATE / TRUSTED CERTIFICATE blocks in
                        // order, until one fails.
                        let mut any = false;
                        for b in &c.blocks {
                            if !b.is_cert_label() || b.label == "DER" {
                                continue;
                            }
                            let Some(Ok(cert)) = &b.cert else { break };
                            any = true;
                            let sh = subject_hash(&cert.subject_der);
                            if sh == Some(h) {
                                // Counted before de-duplication with the file (Step::anchors).
                                if findable.insert(cert.sha256.clone()) {
                                    found += 1;
                                }
                                pool.add_full(cert, &e.path, &c.resolved, b, Some(h));
                                if !classic {
                                    gaps.push(e.name.clone());
                                }
                            } else {
                                stale.push(format!(
                                    "{} holds {} whose subject hash is {}",
                                    e.name,
                                    cert.short_name(),
                                    sh.map(|x| format!("{x:08x}")).unwrap_or_else(|| "unknown".into())
                                ));
                            }
                        }
                        if !any {
                            stale.push(format!("{} holds no PEM certificate", e.name));
                        }
                    }
                    Err(err) => stale.push(format!("{} -> {}", e.name, err.describe())),
                }
            }
        }
        // Files OpenSSL never opens: their certificates are invisible unless also hashed.
        let mut not_hashed: Vec<(String, String)> = Vec::new();
        let mut seen_unhashed: HashSet<String> = HashSet::new();
        // Files holding several certificates: `openssl rehash` skips them.
        let mut bundles: Vec<String> = Vec::new();
        for e in &others {
            if let Ok(c) = &*cx.loader.file(&e.path) {
                let before = not_hashed.len();
                let certs = c
                    .blocks
                    .iter()
                    .filter(|b| b.label != "DER" && matches!(b.cert, Some(Ok(_))))
                    .count();
                for b in &c.blocks {
                    if let Some(Ok(cert)) = &b.cert {
                        if b.label != "DER"
                            && !findable.contains(&cert.sha256)
                            && !pool.contains(&cert.sha256)
                            && seen_unhashed.insert(cert.sha256.clone())
                        {
                            not_hashed.push((e.name.clone(), cert.short_name()));
                        }
                    }
                }
                if certs > 1 && not_hashed.len() > before {
                    bundles.push(e.name.clone());
                }
            }
        }
        let hashed_entries = entries.len() - others.len();
        store.steps.push(Step {
            source: d.clone(),
            kind: StepKind::Dir,
            outcome: Outcome::Loaded,
            anchors: found,
            reason: Some(format!(
                "searched by subject hash at verify time: {hashed_entries} hash-named entr{}, {} other file(s) never opened; {why}",
                if hashed_entries == 1 { "y" } else { "ies" },
                others.len()
            )),
        });
        if !not_hashed.is_empty() {
            let list: Vec<String> = not_hashed
                .iter()
                .take(3)
                .map(|(f, n)| format!("{f} ({n})"))
                .collect();
            store.findings.push(
                Finding::new(
                    "not-hashed",
                    Severity::Warning,
                    format!(
                        "{} certificate(s) in {d} have no hash link: {}{}. Go reads them; OpenSSL only opens \
                         <subject-hash>.N files, so it never sees them.",
                        not_hashed.len(),
                        list.join(", "),
                        if not_hashed.len() > 3 { ", …" } else { "" }
                    ),
                )
                .fix(if bundles.is_empty() {
                    cx.distro.rehash(d)
                } else {
                    format!(
                        "{}; `openssl rehash` skips a file with more than one certificate ({}): split it \
                         into one file per certificate first, or name it in SSL_CERT_FILE",
                        cx.distro.rehash(d),
                        bundles.join(", ")
                    )
                })
                .runtimes(rt)
                .path(d.clone()),
            );
        }
        if !stale.is_empty() {
            store.findings.push(
                Finding::new(
                    "stale-hash-link",
                    Severity::Warning,
                    format!(
                        "{} hash-named entr{} in {d} cannot serve OpenSSL's lookup: {}{}.",
                        stale.len(),
                        if stale.len() == 1 { "y" } else { "ies" },
                        stale.iter().take(3).cloned().collect::<Vec<_>>().join("; "),
                        if stale.len() > 3 { "; …" } else { "" }
                    ),
                )
                .fix(cx.distro.rehash(d))
                .runtimes(rt)
                .path(d.clone()),
            );
        }
        if !gaps.is_empty() {
            store.findings.push(
                Finding::new(
                    "hash-chain-gap",
                    Severity::Info,
                    format!(
                        "{} in {d} {} found only by OpenSSL 3.0–3.4's directory store: the classic lookup \
                         stops at the first missing or unusable <hash>.N (OpenSSL 1.1 and 3.5+ will not find {}).",
                        gaps.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                        if gaps.len() == 1 { "is" } else { "are" },
                        if gaps.len() == 1 { "it" } else { "them" }
                    ),
                )
                .fix(cx.distro.rehash(d))
                .runtimes(rt)
                .path(d.clone()),
            );
        }
        if !unreached.is_empty() {
            store.findings.push(
                Finding::new(
                    "hash-chain-gap",
                    Severity::Warning,
                    format!(
                        "OpenSSL stops at the first missing or unusable <hash>.N, so {} in {d} {} never reached.",
                        unreached.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                        if unreached.len() == 1 { "is" } else { "are" }
                    ),
                )
                .fix(cx.distro.rehash(d))
                .runtimes(rt)
                .path(d.clone()),
            );
        }
    }
}

fn finish(paths: &Paths, rt: &[&str], pool: Pool, store: &mut TrustStore) {
    if let Some(dir) = &paths.still_searched_dir {
        let from_dir = store.anchors_from_dirs(&pool);
        if from_dir > 0 {
            store.findings.push(
                Finding::new(
                    "ssl-cert-file-without-dir",
                    Severity::Warning,
                    format!(
                        "SSL_CERT_FILE is set but SSL_CERT_DIR is not: OpenSSL still searches {dir} and can find \
                         {from_dir} certificate(s) there."
                    ),
                )
                .fix("to trust only SSL_CERT_FILE, also set SSL_CERT_DIR to an empty or nonexistent directory")
                .runtimes(rt),
            );
        }
    }
    store.anchors = pool.anchors;
    let not_self_signed: Vec<String> = store
        .anchors
        .iter()
        .filter(|a| !a.cert.self_issued)
        .take(3)
        .map(|a| a.cert.short_name())
        .collect();
    if !not_self_signed.is_empty() {
        store.findings.push(
            Finding::new(
                "openssl-not-self-signed-anchor",
                Severity::Info,
                format!(
                    "Some anchors are not self-signed ({}): without X509_V_FLAG_PARTIAL_CHAIN OpenSSL only \
                     ends a chain at a self-signed certificate (error 2), while Go accepts them.",
                    not_self_signed.join(", ")
                ),
            )
            .fix("add the root CA that issued them to the store")
            .runtimes(rt),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_names() {
        assert_eq!(parse_hash_name("3513523f.0"), Some((0x3513523f, 0)));
        assert_eq!(parse_hash_name("3513523f.12"), Some((0x3513523f, 12)));
        assert_eq!(parse_hash_name("3513523F.0"), None);
        assert_eq!(parse_hash_name("3513523f.r0"), None);
        assert_eq!(parse_hash_name("3513523f.pem"), None);
        assert_eq!(parse_hash_name("ca.crt"), None);
    }
}
