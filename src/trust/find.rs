//! `store --find`: is this certificate trusted, by which runtime, from where; if not, why,
//! and where does it exist on this filesystem (staging areas, certificate directories,
//! other bundles, the Kubernetes service-account CA).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use x509_parser::prelude::*;

use super::findings::{staging_areas, K8S_SA_CA};
use super::loader::disp;
use super::{go, openssl, Cx, Outcome, Runtime, StepKind, TrustStore};
use crate::x509::CertInfo;

/// What the user asked for.
#[derive(Debug, Clone)]
pub enum Query {
    /// Certificates read from a file on the host.
    Certs(Vec<Arc<CertInfo>>),
    /// A subject substring or SHA-256 prefix.
    Text(String),
}

/// One place a certificate exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub block: Option<usize>,
    pub kind: &'static str,
}

/// The answer for one runtime.
#[derive(Debug, Clone)]
pub struct RuntimeAnswer {
    pub runtime: Runtime,
    pub trusted: bool,
    pub from: Option<String>,
    pub why_not: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Found {
    pub cert: Arc<CertInfo>,
    pub runtimes: Vec<RuntimeAnswer>,
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone)]
pub struct FindResult {
    pub found: Vec<Found>,
    /// Matches not shown (beyond the cap).
    pub more: usize,
}

const MAX_SHOWN: usize = 20;
const MAX_FILES: usize = 20_000;

/// Read a `--find` argument: a readable file on the host is a certificate file; anything
/// else is text. A file without any certificate is an error.
pub fn parse_query(arg: &str) -> anyhow::Result<Query> {
    let p = Path::new(arg);
    match std::fs::metadata(p) {
        // A regular file, or a pipe (`--find <(kubectl get secret …)`, /dev/stdin), as
        // `verify` and `inspect` read them.
        Ok(md) if !md.is_dir() => {
            anyhow::ensure!(
                !md.is_file() || md.len() <= crate::world::MAX_FILE_BYTES,
                "--find {arg}: file is too large ({} bytes)",
                md.len()
            );
            let data = crate::world::read_host_file(p)
                .map_err(|e| anyhow::anyhow!("--find {arg}: {}", crate::world::describe_io(&e)))?;
            let host = crate::world::World::fixture("/", &[]);
            let loader = super::loader::Loader::new(&host, false);
            let c = loader.parse_content(p.to_path_buf(), &data);
            let certs: Vec<Arc<CertInfo>> = c
                .blocks
                .iter()
                .filter_map(|b| match &b.cert {
                    Some(Ok(c)) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            anyhow::ensure!(
                !certs.is_empty(),
                "--find {arg}: no certificate (PEM or DER) in this file"
            );
            Ok(Query::Certs(certs))
        }
        Ok(md) if md.is_dir() => {
            anyhow::bail!("--find {arg}: is a directory; give a certificate file or text")
        }
        // An empty text would match every certificate.
        _ if arg.trim().is_empty() => {
            anyhow::bail!("--find needs a certificate file, a subject substring or a SHA-256 prefix")
        }
        // A mistyped file name must not read as "no certificate matches".
        Err(e) if e.kind() != std::io::ErrorKind::NotFound || looks_like_path(arg) => anyhow::bail!(
            "--find {arg}: {} (give a certificate file, or text to match subjects)",
            crate::world::describe_io(&e)
        ),
        _ => Ok(Query::Text(arg.to_string())),
    }
}

/// Whether a `--find` argument that names no file was meant as one: a certificate file
/// extension, or a relative/home path. `/CN=Corp Root` (OpenSSL's one-line form) is text.
fn looks_like_path(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    [".pem", ".crt", ".cer", ".der", ".p7b", ".p7c", ".p12", ".pfx"]
        .iter()
        .any(|x| lower.ends_with(x))
        || ["./", "../", "~/"].iter().any(|p| arg.starts_with(p))
        || (arg.starts_with('/') && !arg.contains('='))
}

/// Every place this tool looks for certificates in the World, with a kind.
type Places = (Vec<(PathBuf, &'static str)>, Vec<(PathBuf, &'static str, bool)>);

fn places(cx: &Cx) -> Places {
    let w = cx.world();
    let (ossl_dir, _) = openssl::openssldir(cx);
    let mut files: Vec<(PathBuf, &'static str)> = Vec::new();
    let mut dirs: Vec<(PathBuf, &'static str, bool)> = Vec::new();
    for f in go::FILES {
        files.push((PathBuf::from(f), "bundle"));
    }
    files.push((ossl_dir.join("cert.pem"), "bundle"));
    files.push((
        PathBuf::from("/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"),
        "bundle",
    ));
    files.push((PathBuf::from("/etc/pki/tls/cert.pem"), "bundle"));
    if let Some(f) = w.var_nonempty("SSL_CERT_FILE") {
        files.push((PathBuf::from(f), "bundle"));
    }
    for k in K8S_SA_CA {
        files.push((PathBuf::from(k), "kubernetes"));
    }
    for d in go::DIRS {
        dirs.push((PathBuf::from(d), "cert-dir", false));
    }
    dirs.push((ossl_dir.join("certs"), "cert-dir", false));
    if let Some(d) = w.var_nonempty("SSL_CERT_DIR") {
        for p in d.split(':').filter(|p| !p.is_empty()) {
            dirs.push((PathBuf::from(p), "cert-dir", false));
        }
    }
    for (d, _, _) in staging_areas(cx.distro) {
        dirs.push((PathBuf::from(d), "staging", true));
    }
    dirs.push((PathBuf::from("/usr/local/share/ca-certificates"), "staging", true));
    dirs.push((PathBuf::from("/usr/share/ca-certificates"), "system-source", true));
    dirs.push((
        PathBuf::from("/usr/share/pki/ca-trust-source"),
        "system-source",
        true,
    ));
    (files, dirs)
}

/// Every certificate in the known places: sha256 -> (cert, locations).
pub(crate) type Inventory = BTreeMap<String, (Arc<CertInfo>, Vec<Location>)>;

/// The inventories of one World (its clones and threads share them), by the places looked
/// at and whether self-signatures are checked: they are made of the World's files as its
/// loader read them, which a World reads once, so each one is built once (`check`: the
/// issuer evidence of every target whose chain some store lacks asks for it).
#[derive(Default)]
struct Inventories(std::sync::Mutex<Vec<(InventoryKey, Arc<Inventory>)>>);

/// The places looked at, and whether self-signatures are checked.
type InventoryKey = (Places, bool);

/// [`inventory_uncached`], once per World, places and self-signature choice.
pub(crate) fn inventory(cx: &Cx) -> Arc<Inventory> {
    let key = (places(cx), cx.loader.checks_self_signature());
    let cache = cx.world().view_cache::<Inventories>();
    let lock = || cache.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, inv)) = lock().iter().find(|(k, _)| *k == key) {
        return inv.clone();
    }
    let inv = Arc::new(inventory_uncached(cx, key.0.clone()));
    let mut c = lock();
    if c.len() < 16 {
        c.push((key, inv.clone()));
    }
    inv
}

fn inventory_uncached(cx: &Cx, (files, dirs): Places) -> Inventory {
    let mut out: BTreeMap<String, (Arc<CertInfo>, Vec<Location>)> = BTreeMap::new();
    let mut visited: HashSet<PathBuf> = HashSet::new();
    let mut count = 0usize;
    let mut add_file =
        |p: &Path, kind: &'static str, out: &mut BTreeMap<String, (Arc<CertInfo>, Vec<Location>)>| {
            if !visited.insert(p.to_path_buf()) || count >= MAX_FILES {
                return;
            }
            count += 1;
            if let Ok(c) = &*cx.loader.file(p) {
                for b in &c.blocks {
                    if let Some(Ok(cert)) = &b.cert {
                        let e = out
                            .entry(cert.sha256.clone())
                            .or_insert_with(|| (cert.clone(), Vec::new()));
                        let loc = Location {
                            path: p.to_path_buf(),
                            block: b.index,
                            kind,
                        };
                        if !e.1.contains(&loc) {
                            e.1.push(loc);
                        }
                    }
                }
            }
        };
    for (f, kind) in &files {
        add_file(f, kind, &mut out);
    }
    let mut seen_dirs = HashSet::new();
    for (d, kind, recursive) in dirs {
        let mut stack = vec![(d, 0usize)];
        while let Some((d, depth)) = stack.pop() {
            if !seen_dirs.insert(d.clone()) {
                continue;
            }
            let listing = cx.loader.dir(&d);
            let Ok(entries) = &*listing else { continue };
            for e in entries {
                // The kubelet's atomic-writer internals (`..data`, `..2026_01_01_…`): the
                // visible names of a Secret or ConfigMap volume link into them, so each
                // certificate is named once, by the path the pod sees.
                if e.path
                    .file_name()
                    .is_some_and(|n| n.as_encoded_bytes().starts_with(b".."))
                {
                    continue;
                }
                match cx.loader.kind(&e.path) {
                    Ok(md) if md.is_dir() && recursive && depth < 8 => {
                        stack.push((e.path.clone(), depth + 1));
                    }
                    Ok(md) if md.is_file() => add_file(&e.path, kind, &mut out),
                    _ => {}
                }
            }
        }
    }
    out
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// webpki-roots trusts a certificate when an anchor has its subject and public key.
pub(crate) fn in_webpki(cert: &CertInfo) -> bool {
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return false;
    };
    let subject = x.tbs_certificate.subject.as_raw();
    let spki = x.tbs_certificate.subject_pki.raw;
    // Both are stored without their outer SEQUENCE header in the anchor.
    let inner = |d: &[u8]| super::der::read_tlv(d).map(|(t, _)| t.content.to_vec());
    let (Some(s), Some(k)) = (inner(subject), inner(spki)) else {
        return false;
    };
    webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .any(|a| a.subject.as_ref() == s.as_slice() && a.subject_public_key_info.as_ref() == k.as_slice())
}

/// Answer a query against resolved stores.
pub fn find(cx: &Cx, stores: &[TrustStore], q: &Query) -> FindResult {
    let inv = inventory(cx);
    let mut candidates: Vec<Arc<CertInfo>> = Vec::new();
    let mut seen = HashSet::new();
    match q {
        Query::Certs(certs) => {
            for c in certs {
                if seen.insert(c.sha256.clone()) {
                    candidates.push(c.clone());
                }
            }
        }
        Query::Text(t) => {
            let lower = t.to_ascii_lowercase();
            let hex: String = lower.chars().filter(|c| *c != ':').collect();
            let by_hash = hex.len() >= 4 && is_hex(&hex);
            let matches = |c: &CertInfo| {
                (by_hash && c.sha256.starts_with(&hex))
                    || c.subject.to_lowercase().contains(&t.to_lowercase())
            };
            for s in stores.iter().filter(|s| s.runtime != Runtime::WebpkiRoots) {
                // Node's compiled-in anchors are reconstructed too (see below).
                for a in s.anchors.iter().filter(|a| a.provenance.path != "builtin:node") {
                    if matches(&a.cert) && seen.insert(a.cert.sha256.clone()) {
                        candidates.push(a.cert.clone());
                    }
                }
            }
            for (cert, _) in inv.values() {
                if matches(cert) && seen.insert(cert.sha256.clone()) {
                    candidates.push(cert.clone());
                }
            }
            // webpki-roots anchors are reconstructed: show one only when no real
            // certificate with that subject matched.
            for s in stores.iter().filter(|s| s.runtime == Runtime::WebpkiRoots) {
                for a in &s.anchors {
                    if matches(&a.cert)
                        && !candidates.iter().any(|c| c.subject_der == a.cert.subject_der)
                        && seen.insert(a.cert.sha256.clone())
                    {
                        candidates.push(a.cert.clone());
                    }
                }
            }
        }
    }
    let more = candidates.len().saturating_sub(MAX_SHOWN);
    candidates.truncate(MAX_SHOWN);
    let found = candidates
        .into_iter()
        .map(|cert| {
            let locations = inv.get(&cert.sha256).map(|(_, l)| l.clone()).unwrap_or_default();
            let runtimes = stores.iter().map(|s| answer(cx, s, &cert, &locations)).collect();
            Found {
                cert,
                runtimes,
                locations,
            }
        })
        .collect();
    FindResult { found, more }
}

pub(crate) fn answer(cx: &Cx, s: &TrustStore, cert: &CertInfo, locations: &[Location]) -> RuntimeAnswer {
    let w = cx.world();
    let canon = |p: &str| {
        w.canonical(Path::new(p))
            .map(|c| disp(&c))
            .unwrap_or_else(|_| p.to_string())
    };
    if s.runtime == Runtime::WebpkiRoots {
        let hit = s.find_sha256(&cert.sha256).is_some() || in_webpki(cert);
        return RuntimeAnswer {
            runtime: s.runtime,
            trusted: hit,
            from: hit.then(|| "builtin:webpki-roots (compiled in)".to_string()),
            why_not: (!hit).then(|| {
                "not in Mozilla's list compiled into the program; webpki-roots ignores the system store and \
                 SSL_CERT_*: the program must add it to its RootCertStore"
                    .to_string()
            }),
        };
    }
    // Node's compiled-in list is represented by webpki-roots' anchors (reconstructed).
    let node_builtin = s.runtime == Runtime::Node && s.steps.iter().any(|st| st.source == "builtin:node");
    if node_builtin && s.find_sha256(&cert.sha256).is_none() && in_webpki(cert) {
        return RuntimeAnswer {
            runtime: s.runtime,
            trusted: true,
            from: Some("builtin:node (compiled in)".to_string()),
            why_not: None,
        };
    }
    if let Some(a) = s.find_sha256(&cert.sha256) {
        let mut from = a.provenance.path.clone();
        if let Some(b) = a.provenance.block {
            from.push_str(&format!("#{b}"));
        }
        if let Some(h) = a.hash_name {
            from.push_str(&format!(" (hash {h:08x})"));
        }
        return RuntimeAnswer {
            runtime: s.runtime,
            trusted: true,
            from: Some(from),
            why_not: None,
        };
    }
    let mut reasons: Vec<String> = Vec::new();
    for l in locations {
        let p = disp(&l.path);
        let parent = l.path.parent().map(disp).unwrap_or_default();
        let step_for = |src: &str| {
            let c = canon(src);
            s.steps
                .iter()
                .find(|st| st.source == src || (!st.source.is_empty() && canon(&st.source) == c))
        };
        if l.kind == "staging" {
            reasons.push(format!(
                "staged at {p}, but the CA update tool has not put it into the bundle"
            ));
        } else if let Some(st) = step_for(&p) {
            match st.outcome {
                Outcome::Skipped => reasons.push(format!(
                    "in {p}, which {} did not read ({})",
                    s.runtime,
                    st.reason.clone().unwrap_or_default()
                )),
                Outcome::Error => reasons.push(format!(
                    "in {p}, which {} could not use ({})",
                    s.runtime,
                    st.reason.clone().unwrap_or_default()
                )),
                _ => reasons.push(format!("in {p}, but that block is not usable by {}", s.runtime)),
            }
        } else if let Some(st) = step_for(&parent) {
            if st.kind == StepKind::Dir && s.runtime == Runtime::Openssl {
                let hash = openssl::subject_hash(&cert.subject_der)
                    .map(|h| format!("{h:08x}.0"))
                    .unwrap_or_else(|| "<hash>.0".into());
                reasons.push(format!("in {p}, but {parent} has no hash link {hash} to it (OpenSSL only opens hash-named files)"));
            } else {
                reasons.push(format!("in {p}, but {} did not take it from there", s.runtime));
            }
        } else if l.kind != "system-source" {
            reasons.push(format!("in {p}, which {} does not read", s.runtime));
        }
    }
    if reasons.is_empty() {
        let sources = s.sources();
        reasons.push(if sources.is_empty() {
            format!("{} has no sources here at all", s.runtime)
        } else {
            format!("not in any source {} reads ({})", s.runtime, sources.join(", "))
        });
    }
    if s.anchors.iter().any(|a| a.cert.subject_der == cert.subject_der) {
        reasons.push("an anchor with the same subject but a different certificate is trusted".into());
    }
    reasons.truncate(4);
    RuntimeAnswer {
        runtime: s.runtime,
        trusted: false,
        from: None,
        why_not: Some(reasons.join("; ")),
    }
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn a_worlds_inventory_is_built_once_per_self_signature_choice() {
        let dir = std::env::temp_dir().join(format!("tlsdoctor-inventory-{}", std::process::id()));
        let certs = dir.join("etc/ssl/certs");
        std::fs::create_dir_all(&certs).unwrap();
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "inventory CA");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = p.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
        std::fs::write(certs.join("ca-certificates.crt"), ca.pem()).unwrap();
        let world = crate::world::World::fixture(&dir, &[]);
        let opts = crate::trust::TrustOptions::default();
        let first = inventory(&Cx::new(&world, &opts, false));
        assert_eq!(first.len(), 1);
        // Another Cx on the same World (another target of a run): the same inventory.
        let second = inventory(&Cx::new(&world.clone(), &opts, false));
        assert!(Arc::ptr_eq(&first, &second));
        // Self-signatures checked: another inventory.
        assert!(!Arc::ptr_eq(&first, &inventory(&Cx::new(&world, &opts, true))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_or_missing_file_queries_are_errors_not_empty_answers() {
        assert!(parse_query("").is_err());
        assert!(parse_query("  ").is_err());
        let e = parse_query("/no/such/corp-ca.crt").unwrap_err().to_string();
        assert!(e.contains("--find /no/such/corp-ca.crt:"), "{e}");
        assert!(parse_query("corp-ca.pem").is_err());
        assert!(parse_query("./corp").is_err());
        // Text stays text.
        assert!(matches!(parse_query("Corp Root").unwrap(), Query::Text(t) if t == "Corp Root"));
        assert!(matches!(parse_query("/CN=Corp Root").unwrap(), Query::Text(_)));
        assert!(matches!(parse_query("5e231e7e").unwrap(), Query::Text(_)));
        // A pipe is read, not taken for text (`--find <(…)`).
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ca.fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, "not a certificate\n").unwrap())
        };
        let e = parse_query(fifo.to_str().unwrap()).unwrap_err().to_string();
        writer.join().unwrap();
        assert!(e.contains("no certificate"), "{e}");
    }
}
