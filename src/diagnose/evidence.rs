//! Evidence about the certificate a chain is missing: the issuer of the top presented
//! certificate, when some store lacks it. Where it exists in the World (other runtimes'
//! stores, staging areas, certificate directories without a hash link, other bundles, the
//! Kubernetes service-account CA) and what its AIA caIssuers URL serves decide whether it
//! is a root the trust store lacks or an intermediate the server should send — and why
//! each runtime does not see it.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::trust::find::{self, Location};
use crate::trust::{Cx, Runtime, TrustStore};
use crate::x509::CertInfo;

/// What the missing issuer is, as far as the evidence tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerKind {
    /// A self-signed CA: the trust store lacks it.
    Root,
    /// A CA issued by another: the server should send it.
    Intermediate,
    /// Not found anywhere: inferred from what the server sent.
    Unknown,
}

/// How sure the cause is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The issuer itself was found (in the World or at its AIA URL).
    Certain,
    /// Inferred from the shape of the chain (intermediates sent up to an unknown CA).
    Likely,
    /// Only the leaf was sent, with no AIA URL, and the issuer is nowhere: a guess.
    Low,
}

/// One place in the World where the missing issuer exists, and why it is not used there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// The file, as seen inside the World.
    pub path: String,
    /// `staging`, `kubernetes`, `cert-dir`, `bundle`, `system-source`, or `store` (another
    /// runtime's store).
    pub kind: String,
    /// Why it does not help: "staged at …, `update-ca-certificates` never ran".
    pub note: String,
    /// The runtimes that trust it from there (kind `store`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_by: Vec<String>,
}

/// The AIA caIssuers fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiaDoc {
    pub url: String,
    /// `fetched`, `failed`, `not-fetched` (verify without --fetch, `--no-fetch`, not http).
    pub outcome: String,
    /// Why it failed or was not fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fetched certificate's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `root` or `intermediate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<IssuerKind>,
    /// It signed the top presented certificate and, with it, some runtime would trust the chain.
    #[serde(default)]
    pub completes_chain: bool,
}

/// The `issuer` object of a connect/verify document: the certificate the chain lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerDoc {
    /// The missing issuer's distinguished name.
    pub subject: String,
    /// Its key identifier (from the top certificate's authorityKeyIdentifier), hex.
    pub key_id: Option<String>,
    /// The presented certificate it should have issued.
    pub issues: String,
    /// The server sent intermediates (the top presented certificate is not the leaf).
    pub intermediates_sent: bool,
    pub kind: IssuerKind,
    pub confidence: Confidence,
    /// SHA-256 of the certificate found (World or AIA).
    pub sha256: Option<String>,
    pub found_at: Vec<Sighting>,
    pub aia: Option<AiaDoc>,
    /// OpenSSL's subject hash of the issuer name (`%08x`): the `HASH.0` link name.
    pub subject_hash: Option<String>,
}

/// The result of an AIA caIssuers fetch, done by `connect` (network) before diagnosing.
#[derive(Debug, Clone)]
pub enum AiaFetch {
    /// Certificates served at the URL (DER, PEM or PKCS#7 decoded).
    Fetched {
        url: String,
        certs: Vec<Arc<CertInfo>>,
    },
    Failed {
        url: String,
        reason: String,
    },
    NotFetched {
        url: String,
        reason: String,
    },
}

impl AiaFetch {
    pub fn url(&self) -> &str {
        match self {
            AiaFetch::Fetched { url, .. }
            | AiaFetch::Failed { url, .. }
            | AiaFetch::NotFetched { url, .. } => url,
        }
    }
}

/// The evidence, gathered once per chain.
#[derive(Debug, Clone)]
pub struct IssuerEvidence {
    /// The certificate found (in the World or at the AIA URL) that issued the top.
    pub cert: Option<Arc<CertInfo>>,
    pub sightings: Vec<Sighting>,
    pub aia: Option<AiaFetch>,
    /// The OpenSSL certificate directory of this World (for fixes naming a `HASH.0` mount).
    pub cert_dir: Option<String>,
    /// The system bundle of this World's distribution.
    pub system_bundle: String,
    /// Per runtime: where it exists and why that runtime does not take it (store --find).
    pub why_not: Vec<(Runtime, String)>,
}

/// The top of the presented chain: from the leaf, follow presented issuers by name.
pub fn presented_top(chain: &[Arc<CertInfo>]) -> Option<Arc<CertInfo>> {
    let order = super::order_presented(chain);
    let mut cur = chain.get(*order.first()?)?.clone();
    let mut used = vec![order[0]];
    loop {
        if cur.self_signed {
            return Some(cur);
        }
        let next = order
            .iter()
            .copied()
            .find(|&i| !used.contains(&i) && chain[i].subject_der == cur.issuer_der);
        match next {
            Some(i) => {
                used.push(i);
                cur = chain[i].clone();
            }
            None => return Some(cur),
        }
    }
}

/// Does `cand` look like the issuer of `child`: the same name and, when both carry one, the
/// same key identifier; and its key verifies the signature (when it can be checked)?
pub fn issues(cand: &CertInfo, child: &CertInfo) -> bool {
    if cand.subject_der != child.issuer_der {
        // The same child is asked about every certificate of the World's inventory: its
        // issuer's canonical form is computed once.
        thread_local! {
            static CHILD: std::cell::RefCell<(Vec<u8>, Option<Vec<u8>>)> = Default::default();
        }
        let child_canon = CHILD.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != child.issuer_der || c.0.is_empty() {
                *c = (child.issuer_der.clone(), super::canon_name(&child.issuer_der));
            }
            c.1.clone()
        });
        let same = match (canon_subject(&cand.subject_der), child_canon) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if !same {
            return false;
        }
    }
    if let (Some(a), Some(b)) = (&child.authority_key_id, &cand.subject_key_id) {
        if a != b {
            return false;
        }
    }
    // The answer depends on the two certificates' bytes alone: remembered for the process
    // (each target of a `check` behind one CA asks it for every store).
    let mut key = Vec::with_capacity(16 + cand.der.len() + child.der.len());
    key.extend_from_slice(&(cand.der.len() as u64).to_be_bytes());
    key.extend_from_slice(&cand.der);
    key.extend_from_slice(&child.der);
    let memo = || ISSUES_MEMO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = memo().get(&key) {
        return known;
    }
    let c = super::facts::Facts::new(Arc::new(child.clone()));
    let i = super::facts::Facts::new(Arc::new(cand.clone()));
    let answer = !matches!(
        super::facts::verify_sig(&c, &i),
        super::facts::SigCheck::Invalid | super::facts::SigCheck::KeyMismatch
    );
    let mut m = memo();
    if m.len() >= ISSUES_MEMO_MAX {
        m.clear();
    }
    m.insert(key, answer);
    answer
}

/// The canonical form of a subject, remembered for the process: the issuer evidence
/// compares every certificate of the World's inventory with the chain's issuer, for every
/// target of a `check` whose chain some store lacks.
fn canon_subject(subject_der: &[u8]) -> Option<Vec<u8>> {
    type Memo = crate::trust::fasthash::FastMap<Vec<u8>, Option<Vec<u8>>>;
    static MEMO: std::sync::Mutex<Memo> =
        std::sync::Mutex::new(Memo::with_hasher(std::hash::BuildHasherDefault::new()));
    let memo = || MEMO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = memo().get(subject_der) {
        return c.clone();
    }
    let c = super::canon_name(subject_der);
    let mut m = memo();
    if m.len() >= CANON_MEMO_MAX {
        m.clear();
    }
    m.insert(subject_der.to_vec(), c.clone());
    c
}

/// Canonical subjects remembered at most (then forgotten all at once).
const CANON_MEMO_MAX: usize = 8192;

/// [`issues`] answers remembered at most (then forgotten all at once).
const ISSUES_MEMO_MAX: usize = 1024;

static ISSUES_MEMO: std::sync::Mutex<crate::trust::fasthash::FastMap<Vec<u8>, bool>> = std::sync::Mutex::new(
    crate::trust::fasthash::FastMap::with_hasher(std::hash::BuildHasherDefault::new()),
);

/// Does some store lack the issuer of the top presented certificate?
pub fn needed(chain: &[Arc<CertInfo>], stores: &[TrustStore]) -> bool {
    let Some(top) = presented_top(chain) else {
        return false;
    };
    !top.self_signed
        && stores
            .iter()
            .any(|s| !s.anchors.iter().any(|a| issues(&a.cert, &top)))
}

/// Look for the issuer of the top presented certificate everywhere in the World.
pub fn gather(
    cx: &Cx,
    stores: &[TrustStore],
    chain: &[Arc<CertInfo>],
    aia: Option<AiaFetch>,
) -> IssuerEvidence {
    let distro = cx.distro;
    let (ossl_dir, _) = crate::trust::openssl::openssldir(cx);
    let cert_dir = {
        let d = ossl_dir.join("certs");
        cx.world()
            .canonical(&d)
            .ok()
            .map(|c| crate::trust::loader::disp(&c))
        // Absent here (no OpenSSL in this World): the fix names the distribution's
        // directory, which Go and rustls-native-certs read too.
    };
    let mut ev = IssuerEvidence {
        cert: None,
        sightings: vec![],
        aia,
        cert_dir,
        system_bundle: distro.system_bundle().to_string(),
        why_not: vec![],
    };
    let Some(top) = presented_top(chain) else {
        return ev;
    };
    if top.self_signed {
        return ev;
    }
    // Other runtimes' stores (Java's keystores, node's extra file, a bundle only one reads).
    let mut found: Option<Arc<CertInfo>> = None;
    let mut by_store: Vec<(String, Vec<String>)> = vec![];
    for s in stores {
        if let Some(a) = s.anchors.iter().find(|a| issues(&a.cert, &top)) {
            found.get_or_insert_with(|| a.cert.clone());
            let p = a.provenance.path.clone();
            match by_store.iter_mut().find(|(x, _)| *x == p) {
                Some((_, r)) => r.push(s.runtime.code().to_string()),
                None => by_store.push((p, vec![s.runtime.code().to_string()])),
            }
        }
    }
    for (p, rts) in by_store {
        // A file some runtimes read from a directory (Go reads every file of SSL_CERT_DIR)
        // that OpenSSL-based clients miss because it has no hash link.
        let unhashed = found.as_ref().and_then(|cert| {
            let path = Path::new(&p);
            let dir = path.parent()?;
            let base = path.file_name()?.to_str()?;
            let hashed = base.len() > 9
                && base.as_bytes()[8] == b'.'
                && base[..8].bytes().all(|b| b.is_ascii_hexdigit())
                && base[9..].bytes().all(|b| b.is_ascii_digit());
            // A bundle some runtime reads as a file is no directory entry.
            let a_file_source = stores.iter().any(|s| s.sources().contains(&p));
            if hashed || a_file_source || cx.world().file_type(dir).ok() != Some(crate::world::FileType::Dir) {
                return None;
            }
            let h = crate::trust::openssl::subject_hash(&cert.subject_der)?;
            let linked = (0..10).any(|n| {
                let link = dir.join(format!("{h:08x}.{n}"));
                matches!(&*cx.loader.file(&link), Ok(c) if c.pem_certificates().any(|(_, x)| x.sha256 == cert.sha256))
            });
            (!linked).then(|| {
                format!(
                    "; in {} without the hash link {h:08x}.0 that OpenSSL-based clients need",
                    dir.display()
                )
            })
        });
        ev.sightings.push(Sighting {
            note: format!(
                "trusted by {} from {p}{}",
                rts.join(", "),
                unhashed.unwrap_or_default()
            ),
            path: p,
            kind: "store".into(),
            trusted_by: rts,
        });
    }
    // Every other place the tool knows.
    let inv = find::inventory(cx);
    let mut locations: Vec<Location> = vec![];
    for (cert, locs) in inv.values() {
        if !issues(cert, &top) {
            continue;
        }
        found.get_or_insert_with(|| cert.clone());
        for l in locs {
            if ev.sightings.iter().any(|s| Path::new(&s.path) == l.path) {
                continue;
            }
            if let Some(s) = sighting(cx, stores, cert, l, distro) {
                ev.sightings.push(s);
            }
            locations.push(l.clone());
        }
    }
    if let Some(c) = &found {
        ev.why_not = stores
            .iter()
            .map(|s| (s.runtime, find::answer(cx, s, c, &locations)))
            .filter(|(_, a)| !a.trusted)
            .map(|(r, a)| (r, a.why_not.unwrap_or_default()))
            .collect();
    }
    // The AIA fetch, when it served the issuer.
    if found.is_none() {
        if let Some(AiaFetch::Fetched { certs, .. }) = &ev.aia {
            found = certs.iter().find(|c| issues(c, &top)).cloned();
        }
    }
    ev.cert = found;
    ev
}

fn sighting(
    cx: &Cx,
    stores: &[TrustStore],
    cert: &CertInfo,
    l: &Location,
    distro: crate::trust::distro::Distro,
) -> Option<Sighting> {
    let p = crate::trust::loader::disp(&l.path);
    let tool = match distro {
        crate::trust::distro::Distro::Rhel => "`update-ca-trust extract`",
        _ => "`update-ca-certificates`",
    };
    // A program given its own CA file (--ca-in-world) reads nothing else: wherever else the
    // CA is, the point is that it is not in that file.
    let in_world: Vec<&str> = stores
        .iter()
        .flat_map(|s| s.ca_in_world.iter().map(String::as_str))
        .collect();
    if !stores.is_empty() && stores.iter().all(|s| !s.ca_in_world.is_empty()) && l.kind != "system-source" {
        let mut files = in_world.clone();
        files.dedup();
        return Some(Sighting {
            path: p.clone(),
            kind: l.kind.to_string(),
            note: format!(
                "in {p}, not in {}, the CA file the program reads",
                files.join(", ")
            ),
            trusted_by: vec![],
        });
    }
    let note = match l.kind {
        "staging" => {
            let crt_only = matches!(
                distro,
                crate::trust::distro::Distro::Debian | crate::trust::distro::Distro::Unknown
            ) && p.starts_with("/usr/local/share/ca-certificates");
            if crt_only && !p.ends_with(".crt") {
                format!("staged at {p}, but {tool} only picks up files ending in .crt")
            } else {
                format!("staged at {p}, but {tool} never ran")
            }
        }
        "kubernetes" => format!("in the Kubernetes service-account CA {p}, which no runtime reads"),
        "cert-dir" => {
            let dir = l.path.parent().unwrap_or(Path::new("/"));
            let hash = crate::trust::openssl::subject_hash(&cert.subject_der);
            let linked = hash.is_some_and(|h| {
                (0..10).any(|n| {
                    let link = dir.join(format!("{h:08x}.{n}"));
                    matches!(&*cx.loader.file(&link), Ok(c) if c.pem_certificates().any(|(_, x)| x.sha256 == cert.sha256))
                })
            });
            if linked {
                format!("in {p}, a directory no runtime here reads")
            } else {
                let name = hash
                    .map(|h| format!("{h:08x}.0"))
                    .unwrap_or_else(|| "HASH.0".into());
                format!(
                    "in {p} without a hash link {name} (OpenSSL-based clients only open hash-named files{})",
                    if stores.iter().any(|s| s.runtime == Runtime::Go) {
                        "; Go reads every file there"
                    } else {
                        ""
                    }
                )
            }
        }
        "system-source" => return None,
        _ => format!("in the bundle {p}, which no runtime here reads"),
    };
    Some(Sighting {
        path: p,
        kind: l.kind.to_string(),
        note,
        trusted_by: vec![],
    })
}

impl IssuerEvidence {
    /// The wire form, with the kind and confidence decided from the evidence.
    pub fn doc(&self, top: &CertInfo, leaf_only: bool) -> IssuerDoc {
        let (kind, confidence) = self.kind(leaf_only);
        IssuerDoc {
            subject: top.issuer.clone(),
            key_id: top.authority_key_id.clone(),
            issues: top.subject.clone(),
            intermediates_sent: !leaf_only,
            kind,
            confidence,
            sha256: self.cert.as_ref().map(|c| c.sha256.clone()),
            found_at: self.sightings.clone(),
            aia: self.aia.as_ref().map(|a| self.aia_doc(a, top)),
            subject_hash: crate::trust::openssl::subject_hash(&top.issuer_der).map(|h| format!("{h:08x}")),
        }
    }

    /// Root or intermediate, and how sure.
    pub fn kind(&self, leaf_only: bool) -> (IssuerKind, Confidence) {
        match &self.cert {
            Some(c) if c.self_signed => (IssuerKind::Root, Confidence::Certain),
            Some(_) => (IssuerKind::Intermediate, Confidence::Certain),
            // Intermediates sent up to a CA whose issuer is nowhere: a private root.
            None if !leaf_only => (IssuerKind::Root, Confidence::Likely),
            None => (IssuerKind::Unknown, Confidence::Low),
        }
    }

    fn aia_doc(&self, a: &AiaFetch, top: &CertInfo) -> AiaDoc {
        match a {
            AiaFetch::Fetched { url, certs } => {
                let hit = certs.iter().find(|c| issues(c, top));
                AiaDoc {
                    url: url.clone(),
                    outcome: "fetched".into(),
                    reason: if hit.is_none() {
                        Some(format!(
                            "it served {} certificate{} that did not issue \"{}\"",
                            certs.len(),
                            if certs.len() == 1 { "" } else { "s" },
                            top.short_name()
                        ))
                    } else {
                        None
                    },
                    subject: hit.or(certs.first()).map(|c| c.subject.clone()),
                    kind: hit.map(|c| {
                        if c.self_signed {
                            IssuerKind::Root
                        } else {
                            IssuerKind::Intermediate
                        }
                    }),
                    completes_chain: false,
                }
            }
            AiaFetch::Failed { url, reason } => AiaDoc {
                url: url.clone(),
                outcome: "failed".into(),
                reason: Some(reason.clone()),
                subject: None,
                kind: None,
                completes_chain: false,
            },
            AiaFetch::NotFetched { url, reason } => AiaDoc {
                url: url.clone(),
                outcome: "not-fetched".into(),
                reason: Some(reason.clone()),
                subject: None,
                kind: None,
                completes_chain: false,
            },
        }
    }

    /// The one sentence of evidence for the verdict: where it is and why it is not used.
    pub fn where_words(&self) -> Option<String> {
        let notes: Vec<&str> = self
            .sightings
            .iter()
            .filter(|s| s.kind != "store")
            .map(|s| s.note.as_str())
            .collect();
        if notes.is_empty() {
            return None;
        }
        let mut v: Vec<&str> = notes.into_iter().take(2).collect();
        v.dedup();
        Some(v.join("; "))
    }
}
