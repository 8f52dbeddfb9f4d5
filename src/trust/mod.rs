//! trust — *what would this program, in this environment, trust?*
//!
//! Each runtime module reproduces how that runtime resolves its CA store from the World
//! (environment variables, default files and directories), keeping the provenance of every
//! anchor and a reason for every source it considered. The rules are in
//! `shared/design/TRUST-RULES.md` and, as implemented, in `docs/TRUST-RULES.md`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::finding::Finding;
use crate::x509::CertInfo;

pub use crate::runtimes::Runtime;

/// What kind of source a step looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// A bundle file.
    File,
    /// A certificate directory.
    Dir,
    /// A compiled-in list (webpki-roots).
    Builtin,
    /// A file given explicitly (`--ca`).
    Explicit,
}

/// What happened when the runtime considered a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Read; `anchors` certificates contributed.
    Loaded,
    /// Does not exist (silently skipped by the runtime).
    Missing,
    /// Not consulted, see `reason` (e.g. an earlier file won, the variable replaced it).
    Skipped,
    /// Exists but could not be used (permission, is a directory, undecodable …).
    Error,
}

/// One source a runtime considered, in the order it considered them.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The path as seen inside the World (or `builtin:webpki-roots`).
    pub source: String,
    pub kind: StepKind,
    pub outcome: Outcome,
    /// Certificates this source contributed (after the runtime's own filtering, before
    /// de-duplication across sources).
    pub anchors: usize,
    /// Why it was skipped / failed, or a note on what was loaded ("set by SSL_CERT_FILE").
    pub reason: Option<String>,
}

impl Outcome {
    /// A source that could not be read: `missing` when it does not exist, else `error`.
    pub fn unreadable(e: &loader::ReadErr) -> Outcome {
        if *e == loader::ReadErr::Missing {
            Outcome::Missing
        } else {
            Outcome::Error
        }
    }
}

/// Where an anchor came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The file it was read from, as seen in the World (the name the runtime opened,
    /// e.g. `/etc/ssl/certs/ca-certificates.crt` or `/etc/ssl/certs/3513523f.0`).
    pub path: String,
    /// Where that path leads after symlinks (inside the World), when different.
    pub resolved: Option<String>,
    /// 0-based index of the PEM block in the file (None for DER / builtin).
    pub block: Option<usize>,
    /// 1-based line of the `-----BEGIN` line.
    pub line: Option<usize>,
}

/// A trusted certificate and where it came from.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub cert: Arc<CertInfo>,
    pub provenance: Provenance,
    /// OpenSSL hashed-directory entries: the hash this file is *named* by (`3513523f`).
    /// OpenSSL finds the certificate only when looking up an issuer whose subject hash is
    /// this value. None for anchors loaded eagerly from a file.
    pub hash_name: Option<u32>,
    /// OpenSSL `TRUSTED CERTIFICATE` blocks (OpenSSL only; auxiliary trust settings).
    pub trusted_cert_block: bool,
    /// The auxiliary trust settings of a `TRUSTED CERTIFICATE` block, when it has any
    /// (OpenSSL's `X509_CERT_AUX`: trusted / rejected uses).
    pub aux_trust: Option<auxtrust::AuxTrust>,
}

/// The resolved store of one runtime.
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub runtime: Runtime,
    /// Every source considered, in order.
    pub steps: Vec<Step>,
    /// Every usable anchor, de-duplicated as the runtime de-duplicates.
    pub anchors: Vec<Anchor>,
    /// Problems found with this setup.
    pub findings: Vec<Finding>,
    /// Facts assumed rather than observed ("OPENSSLDIR /usr/lib/ssl (Debian layout detected)").
    pub assumptions: Vec<String>,
    /// The store came from explicit `--ca` files, not the environment.
    pub explicit: bool,
    /// Those files were read inside the World (`--ca-in-world`: the program's own CA-file
    /// setting): their paths there.
    pub ca_in_world: Vec<String>,
    /// A hard failure the runtime itself would report (Go: "failed to load system roots").
    pub error: Option<String>,
    /// The version and build modelled for this runtime (None: nothing about it is
    /// modelled per version); the diagnosis reads its rules.
    pub profile: Option<crate::profiles::Profile>,
    /// A database client's settings (sslmode, ssl-mode, tls=…): what it checks.
    pub policy: Option<crate::runtimes::Policy>,
}

impl TrustStore {
    /// Sources that contributed anchors, for the short JSON summary.
    pub fn sources(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Loaded)
            .map(|s| s.source.clone())
            .collect()
    }
}

/// Options that change how stores are resolved.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// `--openssldir`: override the detected OPENSSLDIR.
    pub openssldir: Option<PathBuf>,
    /// Versions pinned with `--runtime ID@VERSION`.
    pub pins: crate::profiles::Pins,
    /// The target URL's query parameters (`sslrootcert=…`): database clients read their
    /// CA file from there before their variables and defaults.
    pub dsn: Vec<(String, String)>,
}

pub mod auxtrust;
pub mod canon;
pub(crate) mod der;
pub mod distro;
pub mod extra;
pub mod fasthash;
pub mod find;
pub mod findings;
pub mod go;
pub mod java;
pub mod keystore;
pub mod loader;
pub mod openssl;
pub mod pem;
pub mod rustls;
pub mod webpki;

use std::collections::HashSet;
use std::path::Path;

use crate::world::World;

use loader::Loader;

/// What the runtime modules share while resolving: the World, one file/certificate cache,
/// the distribution and the options.
pub struct Cx<'w> {
    pub loader: Loader<'w>,
    pub distro: distro::Distro,
    pub opts: &'w TrustOptions,
    /// "Now" for expiry findings (Unix seconds).
    pub now: i64,
    /// Versions detected once for every runtime resolved with this context (and the
    /// helper thread of [`Cx::resolve_all`]).
    pub profiles: Arc<crate::profiles::Cache>,
}

impl<'w> Cx<'w> {
    pub fn new(world: &'w World, opts: &'w TrustOptions, check_self_signature: bool) -> Cx<'w> {
        Cx {
            loader: Loader::new(world, check_self_signature),
            distro: distro::detect(world),
            opts,
            now: crate::commands::now_unix(),
            profiles: Default::default(),
        }
    }

    pub fn world(&self) -> &'w World {
        self.loader.world
    }

    /// Resolve one runtime with this context (shares the cache).
    pub fn resolve(&self, runtime: Runtime) -> TrustStore {
        let mut store = (runtime.unit().resolve)(self);
        findings::common(self, &mut store);
        store.profile = self.profile(runtime);
        store
    }

    /// Resolve several runtimes on two threads: this one takes runtimes from the front of
    /// the list, a helper first warms what every runtime needs later (each runtime's
    /// version detection, the compiled-in webpki-roots anchors), then takes runtimes from
    /// the back, with its own [`Loader`] over the same World caches. Files and
    /// certificates are shared, so the two split the reading and decoding of the common
    /// bundles rather than doing it twice; on two cores the wall time nearly halves. The
    /// stores come back in the order asked, whichever thread resolved them.
    pub fn resolve_all(&self, runtimes: &[Runtime]) -> Vec<TrustStore> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        if runtimes.len() < 2 {
            return runtimes.iter().map(|r| self.resolve(*r)).collect();
        }
        let world = self.world();
        // [front, back): the runtimes nobody has taken yet.
        let front = AtomicUsize::new(0);
        let back = AtomicUsize::new(runtimes.len());
        let take_front = || {
            let i = front.fetch_add(1, Ordering::SeqCst);
            (i < back.load(Ordering::SeqCst)).then_some(i)
        };
        let slots: Vec<std::sync::Mutex<Option<TrustStore>>> =
            runtimes.iter().map(|_| Default::default()).collect();
        let put = |i: usize, s: TrustStore| {
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        };
        let (opts, profiles, distro, now) = (self.opts, self.profiles.clone(), self.distro, self.now);
        let check = self.loader.checks_self_signature();
        let (front_h, back_h, put_h) = (&front, &back, &put);
        std::thread::scope(|s| {
            let helper = std::thread::Builder::new().spawn_scoped(s, move || {
                if runtimes
                    .iter()
                    .any(|r| matches!(r, Runtime::WebpkiRoots | Runtime::Node))
                {
                    webpki::builtin();
                }
                for r in runtimes.iter().rev() {
                    crate::profiles::for_runtime(world, *r, &opts.pins, &profiles);
                }
                let mine = Cx {
                    loader: Loader::new(world, check),
                    distro,
                    opts,
                    now,
                    profiles,
                };
                loop {
                    let old = back_h.fetch_sub(1, Ordering::SeqCst);
                    let i = old.wrapping_sub(1);
                    if old == 0 || i < front_h.load(Ordering::SeqCst) {
                        // The main thread has it (or has taken everything). In a close
                        // race both may leave one: it is resolved after the join.
                        back_h.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    put_h(i, mine.resolve(runtimes[i]));
                }
            });
            while let Some(i) = take_front() {
                put(i, self.resolve(runtimes[i]));
            }
            // A helper that could not start (or stopped) leaves its runtimes to this one.
            if let Ok(h) = helper {
                let _ = h.join();
            }
        });
        slots
            .into_iter()
            .zip(runtimes)
            .map(|(m, r)| {
                m.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(|| self.resolve(*r))
            })
            .collect()
    }

    /// The version and build `runtime` is modelled at in this World.
    pub fn profile(&self, runtime: Runtime) -> Option<crate::profiles::Profile> {
        crate::profiles::for_runtime(self.world(), runtime, &self.opts.pins, &self.profiles)
    }
}

/// The store `runtime` would use in `world` (environment variables, default files and
/// directories), with every step, anchor and finding.
pub fn resolve(runtime: Runtime, world: &World, opts: &TrustOptions) -> TrustStore {
    let cx = Cx::new(world, opts, true);
    cx.resolve(runtime)
}

/// The runtimes `connect` and `verify` evaluate by default: the four core runtimes plus
/// every extra runtime that is evidently relevant in the World (its binary or home is
/// present, or one of its variables is set), in [`Runtime::ALL`] order.
pub fn relevant_runtimes(world: &World) -> Vec<Runtime> {
    Runtime::ALL
        .into_iter()
        .filter(|r| crate::runtimes::presence(world, *r).is_some())
        .collect()
}

/// The runtimes `connect` (to a target that is not a database) and `verify` evaluate by
/// default: [`relevant_runtimes`] without the database clients, which judge the targets of
/// their own protocols ([`crate::runtimes::clients_of`]) or are named with `--runtime`.
pub fn default_runtimes(world: &World) -> Vec<Runtime> {
    relevant_runtimes(world)
        .into_iter()
        .filter(|r| r.unit().client.is_none())
        .collect()
}

/// Several runtimes at once: every file is read and every certificate decoded once.
pub fn resolve_many(runtimes: &[Runtime], world: &World, opts: &TrustOptions) -> Vec<TrustStore> {
    resolve_many_opts(runtimes, world, opts, true)
}

/// Like [`resolve_many`]; with `check_self_signature` false the signature of self-issued
/// anchors is not verified (`self_signed` is presumed from `self_issued`): listing a store
/// does not need it and it dominates the cost for large bundles.
pub fn resolve_many_opts(
    runtimes: &[Runtime],
    world: &World,
    opts: &TrustOptions,
    check_self_signature: bool,
) -> Vec<TrustStore> {
    let cx = Cx::new(world, opts, check_self_signature);
    cx.resolve_all(runtimes)
}

/// The store a program has when it is given explicit CA files (`--ca`): Go sets
/// `tls.Config.RootCAs` (system pool not consulted), OpenSSL uses `-CAfile` (default paths
/// not loaded), rustls builds a `RootCertStore` from them. Paths are host paths.
pub fn from_ca_files(runtime: Runtime, files: &[PathBuf]) -> anyhow::Result<TrustStore> {
    Ok(from_ca_files_many(&[runtime], files)?.remove(0))
}

/// [`from_ca_files`] for several runtimes at once: each file is read and parsed once.
pub fn from_ca_files_many(runtimes: &[Runtime], files: &[PathBuf]) -> anyhow::Result<Vec<TrustStore>> {
    let host = World::fixture("/", &[]);
    let loader = Loader::new(&host, true);
    let mut parsed = Vec::with_capacity(files.len());
    for f in files {
        let data = crate::world::read_host_file(f)
            .map_err(|e| anyhow::anyhow!("--ca {}: {}", f.display(), crate::world::describe_io(&e)))?;
        let content = loader.parse_content(f.clone(), &data);
        // A file without any certificate is not refused: what each runtime does with it
        // is the prediction (Go trusts nothing from it; an OpenSSL client cannot load it).
        parsed.push((f, content));
    }
    Ok(runtimes.iter().map(|&r| ca_store(r, &parsed, "--ca")).collect())
}

/// The store a program has when its own CA-file setting names `files` inside `world` (a
/// Helm repository's `caFile`, `--ca-in-world`): as [`from_ca_files_many`] — the file alone
/// is the root pool, the system store is not consulted — but each path is read in the
/// World (`--root`, `--image`, `--manifest`, `--pid`). A file the World does not have is
/// not a usage error but the diagnosis: the program cannot load it (`ca-file-missing`).
pub fn from_ca_files_in_world(runtimes: &[Runtime], world: &World, files: &[PathBuf]) -> Vec<TrustStore> {
    let loader = Loader::new(world, true);
    let mut parsed = Vec::with_capacity(files.len());
    let mut missing = Vec::new();
    for f in files {
        match world.read(f) {
            Ok(data) => parsed.push((f, loader.parse_content(f.clone(), &data))),
            Err(e) => missing.push((f, crate::world::describe_io(&e))),
        }
    }
    runtimes
        .iter()
        .map(|&r| {
            let mut store = ca_store(r, &parsed, "--ca-in-world");
            store.ca_in_world = files.iter().map(|f| f.display().to_string()).collect();
            for (f, why) in &missing {
                let path = f.display().to_string();
                store.steps.push(Step {
                    source: path.clone(),
                    kind: StepKind::Explicit,
                    outcome: Outcome::Error,
                    anchors: 0,
                    reason: Some(format!("given with --ca-in-world, but {why} here")),
                });
                store.findings.push(
                    Finding::new(
                        "ca-file-missing",
                        crate::finding::Severity::Error,
                        format!(
                            "The CA file {path} the program is given does not exist here ({why}): it \
                             cannot build its root pool (Helm: `can't read CA file`), and trusts nothing."
                        ),
                    )
                    .fix(format!("mount the CA at {path}, or name a file that holds it"))
                    .runtimes(&[r.code()])
                    .path(path.clone()),
                );
                // What the program reports instead of a verification error.
                store.error = Some(format!("open {path}: {why}"));
            }
            store
        })
        .collect()
}

/// Give stores built outside a World (explicit CA files) the profile each runtime is
/// modelled at in `world`.
pub fn attach_profiles(stores: &mut [TrustStore], world: &World, opts: &TrustOptions) {
    let cache = crate::profiles::Cache::default();
    for s in stores {
        s.profile = crate::profiles::for_runtime(world, s.runtime, &opts.pins, &cache);
    }
}

/// The store one runtime builds from already-parsed explicit CA files.
fn ca_store(runtime: Runtime, parsed: &[(&PathBuf, loader::FileContent)], flag: &str) -> TrustStore {
    let mut store = TrustStore::empty(runtime);
    store.explicit = true;
    let mut seen = HashSet::new();
    let rt = [runtime.code()];
    for (f, content) in parsed {
        let path = f.display().to_string();
        let bad: Vec<String> = content
            .bad_cert_blocks()
            .map(|(b, e)| {
                format!(
                    "block {} (line {}): {e}",
                    b.index.unwrap_or(0),
                    b.line.unwrap_or(0)
                )
            })
            .collect();
        let openssl_refuses =
            runtime.openssl_cafile() && (!bad.is_empty() || content.shape == pem::Shape::Der);
        let mut n = 0;
        if !openssl_refuses {
            for b in &content.blocks {
                let Some(Ok(cert)) = &b.cert else { continue };
                let accepted = match runtime {
                    // -CAfile: PEM certificate blocks, TRUSTED CERTIFICATE included.
                    r if r.openssl_cafile() => b.label != "DER",
                    // AppendCertsFromPEM / rustls-pemfile: CERTIFICATE blocks only.
                    _ => b.label == "CERTIFICATE" && !b.has_headers,
                };
                if !accepted {
                    continue;
                }
                n += 1;
                if seen.insert(cert.sha256.clone()) {
                    store.anchors.push(Anchor {
                        cert: cert.clone(),
                        provenance: Provenance {
                            path: path.clone(),
                            resolved: None,
                            block: b.index,
                            line: b.line,
                        },
                        hash_name: None,
                        trusted_cert_block: b.label == "TRUSTED CERTIFICATE",
                        aux_trust: b.aux_trust.clone(),
                    });
                }
            }
        }
        let reason = if n > 0 {
            format!("given with {flag}")
        } else if content.shape == pem::Shape::Der {
            format!("given with {flag}, but it is DER: read as PEM, it holds nothing")
        } else if openssl_refuses {
            format!(
                "given with {flag}, but OpenSSL refuses the whole file ({})",
                bad.join("; ")
            )
        } else {
            format!("given with {flag}, but no certificate this runtime reads is in it")
        };
        store.steps.push(Step {
            source: path.clone(),
            kind: StepKind::Explicit,
            outcome: if n > 0 { Outcome::Loaded } else { Outcome::Error },
            anchors: n,
            reason: Some(reason.clone()),
        });
        let no_cert = !content.blocks.iter().any(|b| matches!(b.cert, Some(Ok(_))));
        if no_cert {
            store.findings.push(
                Finding::new(
                    "ca-file-no-certificate",
                    crate::finding::Severity::Warning,
                    format!(
                        "{flag} {path} holds no certificate: {}",
                        no_certificate_effect(runtime, &path)
                    ),
                )
                .fix(format!("give a PEM file of CA certificates instead of {path}"))
                .runtimes(&rt)
                .path(path.clone()),
            );
            if let Some(e) = cafile_load_error(runtime, &path) {
                store.error = Some(e);
            }
        } else if content.shape == pem::Shape::Der {
            store.findings.push(
                Finding::new(
                    "ca-file-der",
                    crate::finding::Severity::Error,
                    format!(
                        "{flag} {path} is a DER certificate; {} reads CA files as PEM and finds nothing in it.",
                        runtime.title()
                    ),
                )
                .fix(format!(
                    "convert it: `openssl x509 -inform der -in {path} -out ca.pem`"
                ))
                .runtimes(&rt)
                .path(path.clone()),
            );
        } else if !bad.is_empty() {
            store.findings.push(
                Finding::new(
                    "bundle-bad-block",
                    if openssl_refuses {
                        crate::finding::Severity::Error
                    } else {
                        crate::finding::Severity::Warning
                    },
                    format!(
                        "{flag} {path} has undecodable CERTIFICATE block(s): {}. {}",
                        bad.join("; "),
                        if openssl_refuses {
                            "OpenSSL refuses the whole file."
                        } else {
                            "They are skipped."
                        }
                    ),
                )
                .fix(format!("remove the broken block(s) from {path}"))
                .runtimes(&rt)
                .path(path.clone()),
            );
        }
    }
    store
}

/// What a runtime does with an explicit CA file that holds no certificate.
fn no_certificate_effect(runtime: Runtime, path: &str) -> String {
    match cafile_load_error(runtime, path) {
        Some(e) => format!(
            "{} cannot load it and fails before connecting ({e})",
            runtime.title()
        ),
        None => format!("{} trusts nothing from it, so no chain verifies", runtime.title()),
    }
}

/// The error an OpenSSL-based client reports when its CA file holds no certificate:
/// `X509_load_cert_crl_file_ex` finds nothing (`X509_R_NO_CERTIFICATE_OR_CRL_FOUND`), so
/// `SSL_CTX_load_verify_locations` fails and the program stops before the handshake.
fn cafile_load_error(runtime: Runtime, path: &str) -> Option<String> {
    Some(match runtime {
        // ERR_error_string as OpenSSL 3.0 prints it.
        Runtime::Openssl => "error:05800088:x509 certificate routines::no certificate or crl found".into(),
        Runtime::Python | Runtime::PythonRequests => {
            "ssl.SSLError: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found".into()
        }
        Runtime::Curl => format!("curl: (77) error setting certificate file: {path}"),
        _ => return None,
    })
}

/// A store made of the given certificates (tests, limbo).
pub fn from_certs(runtime: Runtime, certs: Vec<CertInfo>, source: &str) -> TrustStore {
    let mut store = TrustStore::empty(runtime);
    store.explicit = true;
    let n = certs.len();
    let mut seen = HashSet::new();
    for (i, c) in certs.into_iter().enumerate() {
        if !seen.insert(c.sha256.clone()) {
            continue;
        }
        store.anchors.push(Anchor {
            cert: Arc::new(c),
            provenance: Provenance {
                path: source.to_string(),
                resolved: None,
                block: Some(i),
                line: None,
            },
            hash_name: None,
            trusted_cert_block: false,
            aux_trust: None,
        });
    }
    store.steps.push(Step {
        source: source.to_string(),
        kind: StepKind::Explicit,
        outcome: Outcome::Loaded,
        anchors: n,
        reason: None,
    });
    store
}

impl TrustStore {
    /// A store with nothing in it yet.
    pub fn empty(runtime: Runtime) -> TrustStore {
        TrustStore {
            runtime,
            steps: Vec::new(),
            anchors: Vec::new(),
            findings: Vec::new(),
            assumptions: Vec::new(),
            explicit: false,
            ca_in_world: Vec::new(),
            error: None,
            profile: None,
            policy: None,
        }
    }

    /// Anchors in `pool` that came from a hashed directory (OpenSSL).
    pub(crate) fn anchors_from_dirs(&self, pool: &Pool) -> usize {
        pool.anchors.iter().filter(|a| a.hash_name.is_some()).count()
    }

    /// Is this certificate (by SHA-256) an anchor?
    pub fn find_sha256(&self, sha256: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.cert.sha256 == sha256)
    }
}

/// Collects anchors, de-duplicated by DER (what Go, OpenSSL's store and rustls do).
pub(crate) struct Pool {
    pub anchors: Vec<Anchor>,
    seen: fasthash::FastSet<String>,
}

impl Pool {
    pub fn new() -> Pool {
        Pool {
            anchors: Vec::new(),
            seen: fasthash::FastSet::default(),
        }
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.seen.contains(sha256)
    }

    /// Add; returns whether it was new.
    pub fn add(&mut self, cert: &Arc<CertInfo>, path: &Path, resolved: &Path, block: &loader::Block) -> bool {
        self.add_full(cert, path, resolved, block, None)
    }

    pub fn add_full(
        &mut self,
        cert: &Arc<CertInfo>,
        path: &Path,
        resolved: &Path,
        block: &loader::Block,
        hash_name: Option<u32>,
    ) -> bool {
        if !self.seen.insert(cert.sha256.clone()) {
            return false;
        }
        self.anchors.push(Anchor {
            cert: cert.clone(),
            provenance: Provenance {
                path: loader::disp(path),
                resolved: (resolved != path).then(|| loader::disp(resolved)),
                block: block.index,
                line: block.line,
            },
            hash_name,
            trusted_cert_block: block.label == "TRUSTED CERTIFICATE",
            aux_trust: block.aux_trust.clone(),
        });
        true
    }
}
