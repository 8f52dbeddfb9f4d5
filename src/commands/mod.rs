//! One module per subcommand: gather the data, hand it to `report`, return the exit code.

pub mod check;
pub mod connect;
pub mod docs;
pub mod inspect;
pub mod patch;
pub mod processes;
pub mod store;
pub mod verify;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;

use crate::cli::{Cli, ColorChoice, Command, Format, GlobalArgs};
use crate::trust::distro::Distro;
use crate::trust::{Runtime, TrustOptions, TrustStore};
use crate::world::World;

/// Everything a command needs besides its own arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub world: World,
    pub format: Format,
    /// Decided once: `--color`, then `NO_COLOR`, then whether stdout is a terminal.
    pub color: bool,
    pub verbose: u8,
    pub quiet: bool,
    pub trust: TrustOptions,
    /// "Now" as Unix seconds (injectable for tests via `--at`).
    pub now: i64,
    /// Trust stores resolved once per run and shared (`check` examines many targets
    /// against the same World; resolving per target would re-read every store).
    pub stores: StoreCache,
    /// The rustls verifier and client key built once per run and key, shared the same way.
    pub clients: ClientCache,
    /// `--manifest`: what the pod was built from (a proposed patch builds it again).
    pub pod: Option<patch::PodSource>,
}

/// What a set of trust stores was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreKey {
    /// Each runtime's store in the World, with the versions pinned.
    World(Vec<Runtime>, crate::profiles::Pins),
    /// Each runtime's store in the World, with the versions pinned, database clients
    /// reading the target URL's parameters (`sslrootcert=…`).
    WorldWith(Vec<Runtime>, Vec<(String, String)>, crate::profiles::Pins),
    /// Explicit CA files (`--ca`, a spec's `ca`), as each runtime's CA option.
    Explicit(Vec<Runtime>, Vec<PathBuf>, crate::profiles::Pins),
    /// Explicit CA files read inside the World (`--ca-in-world`).
    InWorld(Vec<Runtime>, Vec<PathBuf>, crate::profiles::Pins),
}

type StoreSlot = Arc<OnceLock<Result<Arc<Vec<TrustStore>>, String>>>;

/// A per-run cache of resolved stores and of the detected distribution. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct StoreCache {
    slots: Arc<Mutex<HashMap<StoreKey, StoreSlot>>>,
    distro: Arc<OnceLock<Distro>>,
}

impl StoreCache {
    /// The stores for `key`, resolving them with `make` the first time. Concurrent callers
    /// with the same key wait for one resolution instead of repeating it.
    pub fn get_or_resolve(
        &self,
        key: StoreKey,
        make: impl FnOnce() -> anyhow::Result<Vec<TrustStore>>,
    ) -> anyhow::Result<Arc<Vec<TrustStore>>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(key).or_default())
        };
        slot.get_or_init(|| make().map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// Whether the stores for `key` and the distribution are already known (resolving them
    /// again costs nothing, so there is no need to do it alongside the network).
    pub fn is_ready(&self, key: &StoreKey) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(key).is_some_and(|s| s.get().is_some()) && self.distro.get().is_some()
    }

    /// The distribution of the World, detected once.
    pub fn distro(&self, world: &World) -> Distro {
        *self.distro.get_or_init(|| crate::trust::distro::detect(world))
    }
}

/// What a target's rustls client is built from: its CA files (host, then in the World)
/// and its client certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub ca: Vec<PathBuf>,
    pub ca_in_world: Vec<PathBuf>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

type ClientSlot = Arc<OnceLock<Result<Arc<crate::probe::tls::ClientBase>, String>>>;

/// A per-run cache of rustls clients (verifier roots read from the CA files, the verifier,
/// the client key): `check` reads a spec's `ca` once, not once per target. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct ClientCache {
    slots: Arc<Mutex<HashMap<ClientKey, ClientSlot>>>,
}

impl ClientCache {
    /// The client for `key`, built with `make` the first time (concurrent callers with the
    /// same key wait for one build); an error is kept and returned again, with its text.
    pub fn get_or_build(
        &self,
        key: ClientKey,
        make: impl FnOnce() -> anyhow::Result<crate::probe::tls::ClientBase>,
    ) -> anyhow::Result<Arc<crate::probe::tls::ClientBase>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(key).or_default())
        };
        slot.get_or_init(|| make().map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(|e| anyhow::anyhow!(e))
    }
}

/// The World the global flags describe: the host, `--root`, `--pid`, `--image`, with
/// `--manifest` applied on top (`--env` and `--exe` come in [`Ctx::new`]); and for
/// `--manifest`, what the pod was built from.
pub fn world_from_global(g: &GlobalArgs) -> anyhow::Result<(World, Option<patch::PodSource>)> {
    let world = match (&g.root, g.pid) {
        _ if g.image.is_some() => {
            let path = g.image.as_deref().unwrap_or(std::path::Path::new(""));
            World::from_image(path, g.platform.as_deref())?
        }
        (Some(root), _) => {
            let md = std::fs::metadata(root).with_context(|| format!("--root {}", root.display()))?;
            anyhow::ensure!(md.is_dir(), "--root {}: not a directory", root.display());
            // An unpacked image's ENV is not known here, and this shell's variables
            // (SSL_CERT_FILE …) belong to the host: start empty, add with --env.
            World::with_root(root.clone(), Default::default())
        }
        (None, Some(pid)) => World::from_pid(pid)?,
        (None, None) => World::host(),
    };
    if g.manifest.is_empty() {
        return Ok((world, None));
    }
    anyhow::ensure!(
        g.image.is_some() || g.root.is_some(),
        "--manifest needs the container's filesystem: --image PATH (or --root DIR)"
    );
    let m = crate::world::manifest::Manifests::load(&g.manifest)?;
    let pod = crate::world::manifest::apply_loaded(world.clone(), &m, g.container.as_deref())?;
    Ok((
        pod,
        Some(patch::PodSource {
            base: world,
            manifests: Arc::new(m),
            container: g.container.clone(),
            env: g.env.clone(),
        }),
    ))
}

/// `--ca-in-world` paths as the World sees them: a relative path is taken from its `/`
/// (as a mountPath in a proposed patch must be).
pub fn in_world_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().map(|p| std::path::Path::new("/").join(p)).collect()
}

/// `--env KEY=VALUE` (set) and `--env KEY` (unset), in order.
pub fn apply_env(mut world: World, env: &[String]) -> anyhow::Result<World> {
    for kv in env {
        world = match kv.split_once('=') {
            Some((k, v)) => {
                anyhow::ensure!(!k.is_empty(), "--env {kv:?}: expected KEY=VALUE");
                world.with_overrides([(k.to_string(), v.to_string())])
            }
            None => world.without(kv),
        };
    }
    Ok(world)
}

impl Ctx {
    pub fn from_global(g: &GlobalArgs) -> anyhow::Result<Ctx> {
        let (world, pod) = world_from_global(g)?;
        let mut ctx = Ctx::new(g, world)?;
        ctx.pod = pod;
        Ok(ctx)
    }

    /// A context for `world` with the rest of the global flags (`--env` on top of it).
    pub fn new(g: &GlobalArgs, world: World) -> anyhow::Result<Ctx> {
        let mut world = apply_env(world, &g.env)?;
        if !g.quiet {
            for n in world.notes() {
                eprintln!("tlsdoctor: note: {}: {n}", world.label());
            }
        }
        if let Some(exe) = &g.exe {
            world = world.with_exe(exe.clone());
            // A program that cannot be read, or is not a Go program, is a usage error: the
            // answer would silently be about some other program.
            if let Some(Err(e)) = crate::detect::go_program(&world) {
                anyhow::bail!("{e}");
            }
        }
        let format = if g.json { Format::Json } else { g.format };
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        } && format == Format::Human;
        Ok(Ctx {
            world,
            format,
            color,
            verbose: g.verbose,
            quiet: g.quiet,
            trust: TrustOptions {
                openssldir: g.openssldir.clone(),
                pins: Vec::new(),
                dsn: Vec::new(),
            },
            now: now_unix(),
            stores: StoreCache::default(),
            clients: ClientCache::default(),
            pod: None,
        })
    }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parse `--at` (RFC 3339) into Unix seconds.
pub fn parse_at(s: &str) -> anyhow::Result<i64> {
    // `time`'s parse error displays its source too: format it once, not as a chain
    // (`{:#}` printed "the 'year' component could not be parsed" twice).
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
        anyhow::anyhow!("--at {s:?}: expected an RFC 3339 time such as 2027-01-31T00:00:00Z ({e})")
    })?;
    Ok(t.unix_timestamp())
}

/// Store warnings that can be why a CA is missing from a store; others (a leaf in the
/// bundle, a proxy variable …) say nothing about this chain and stay in `store`.
const MAY_EXPLAIN: &[&str] = &[
    "bundle-bad-block",
    "not-hashed",
    "stale-hash-link",
    "hash-chain-gap",
    "der-in-cert-dir",
    "unreadable-entry",
    "staged-not-installed",
    "staged-wrong-extension",
    "system-bundle-not-read",
    "ssl-cert-file-without-dir",
    "ca-file-no-certificate",
    "ca-file-missing",
];

/// Store findings about one certificate (staged, installed but not read, not hashed): the
/// missing issuer's evidence (`issuer.found_at`) says the same for the certificate that
/// matters; for any other certificate they say nothing about this chain.
const ABOUT_ONE_CERT: &[&str] = &[
    "staged-not-installed",
    "staged-wrong-extension",
    "system-bundle-not-read",
    "not-hashed",
];

/// Problems with the setup of a store whose runtime rejects the chain (a DER `--ca` file,
/// SSL_CERT_FILE pointing nowhere, an unhashed directory …) often are the reason: say them
/// too (`verify` and `connect`).
pub fn store_findings(
    stores: &[TrustStore],
    verdicts: &[crate::report::json::VerdictDoc],
    out: &mut Vec<crate::finding::Finding>,
) {
    for st in stores {
        let code = st.runtime.code();
        if !verdicts.iter().any(|v| v.runtime == code && !v.trusted) {
            continue;
        }
        for f in st.findings.iter().filter(|f| {
            f.severity >= crate::finding::Severity::Error
                || (f.severity >= crate::finding::Severity::Warning && MAY_EXPLAIN.contains(&f.code.as_str()))
        }) {
            // A finding about one staged or unlinked certificate explains this failure only
            // when that certificate is the missing one — and then the verdict already says
            // where it is and the fix covers it.
            if ABOUT_ONE_CERT.contains(&f.code.as_str()) {
                continue;
            }
            if let Some(seen) = out
                .iter_mut()
                .find(|g| g.code == f.code && g.message == f.message)
            {
                if !seen.runtimes.is_empty() && !seen.runtimes.iter().any(|r| r == code) {
                    seen.runtimes.push(code.to_string());
                }
                continue;
            }
            let mut f = f.clone();
            if f.runtimes.is_empty() {
                f.runtimes = vec![code.to_string()];
            }
            out.push(f);
        }
    }
}

/// Evidence about the issuer the presented chain lacks (when some store lacks it): where it
/// exists in the World and, with `fetch`, what its AIA caIssuers URL serves.
pub fn issuer_evidence(
    ctx: &Ctx,
    stores: &[TrustStore],
    chain: &[Arc<crate::x509::CertInfo>],
    fetch: Result<(&crate::probe::ProxyChoice, std::time::Duration), &str>,
) -> Option<crate::diagnose::evidence::IssuerEvidence> {
    use crate::diagnose::{aia, evidence};
    if !evidence::needed(chain, stores) {
        return None;
    }
    let top = evidence::presented_top(chain)?;
    let aia = top.aia_ca_issuers.first().map(|u| match fetch {
        Ok((proxy, t)) => aia::fetch(u, &ctx.world, proxy, t),
        Err(why) => evidence::AiaFetch::NotFetched {
            url: u.clone(),
            reason: why.to_string(),
        },
    });
    let cx = crate::trust::Cx::new(&ctx.world, &ctx.trust, false);
    Some(evidence::gather(&cx, stores, chain, aia))
}

/// Write a report to stdout. A closed pipe (`tlsdoctor … | head`) comes back as an
/// `io::ErrorKind::BrokenPipe` error, which `main` ends quietly on.
pub fn emit(s: impl AsRef<str>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_ref().as_bytes())?;
    out.flush()
}

/// Is this error (anywhere in its chain) a closed stdout pipe?
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // JSON written straight to stdout wraps the I/O error.
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    if cli.global.all_processes {
        return match &cli.command {
            None => processes::run(processes::Question::Store(&Default::default()), &cli.global),
            Some(Command::Store(a)) => processes::run(processes::Question::Store(a), &cli.global),
            Some(Command::Verify(a)) => processes::run(processes::Question::Verify(a), &cli.global),
            Some(_) => anyhow::bail!("--all-processes works with `store` (and `store --find`) and `verify`"),
        };
    }
    match cli.command {
        Some(Command::Completions(a)) => {
            docs::completions(a.shell, &mut std::io::stdout().lock())?;
            Ok(crate::exit::OK)
        }
        Some(Command::Manpage) => {
            docs::manpage(&mut std::io::stdout().lock())?;
            Ok(crate::exit::OK)
        }
        Some(Command::Inspect(a)) => {
            let ctx = Ctx::from_global(&cli.global)?;
            inspect::run(&a, &ctx)
        }
        Some(Command::Store(a)) => {
            let mut ctx = Ctx::from_global(&cli.global)?;
            ctx.trust.pins = crate::cli::RuntimeArg::pins(&a.runtimes);
            store::run(&a, &ctx)
        }
        None => {
            let ctx = Ctx::from_global(&cli.global)?;
            store::run(&Default::default(), &ctx)
        }
        Some(Command::Verify(a)) => {
            let mut ctx = Ctx::from_global(&cli.global)?;
            ctx.trust.pins = crate::cli::RuntimeArg::pins(&a.runtimes);
            verify::run(&a, &ctx)
        }
        Some(Command::Connect(a)) => {
            let ctx = Ctx::from_global(&cli.global)?;
            connect::run(&a, &ctx)
        }
        Some(Command::Check(a)) => {
            let ctx = Ctx::from_global(&cli.global)?;
            check::run(&a, &ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parse_at_error_says_the_cause_once() {
        assert_eq!(parse_at("2027-01-31T00:00:00Z").unwrap(), 1_801_353_600);
        let e = format!("{:#}", parse_at("garbage").unwrap_err());
        assert_eq!(e.matches("could not be parsed").count(), 1, "{e}");
        assert!(
            e.starts_with("--at \"garbage\": expected an RFC 3339 time"),
            "{e}"
        );
    }

    #[test]
    fn stores_are_resolved_once_per_key_even_concurrently() {
        let cache = StoreCache::default();
        let calls = AtomicUsize::new(0);
        let key = StoreKey::World(vec![Runtime::Go], vec![]);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let st = cache
                        .get_or_resolve(key.clone(), || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            Ok(vec![crate::trust::from_certs(Runtime::Go, vec![], "test")])
                        })
                        .unwrap();
                    assert_eq!(st.len(), 1);
                });
            }
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another key resolves on its own; an error is kept and returned, not retried.
        let e = cache
            .get_or_resolve(
                StoreKey::Explicit(vec![Runtime::Go], vec!["/x".into()], vec![]),
                || anyhow::bail!("unreadable CA file"),
            )
            .unwrap_err();
        assert!(e.to_string().contains("unreadable"), "{e}");
    }
}
