//! One module per subcommand: gather the data, hand it to `report`, return the exit code.

pub mod check;
pub mod connect;
pub mod docs;
pub mod inspect;
pub mod store;
pub mod verify;

use std::io::IsTerminal;

use anyhow::Context as _;

use crate::cli::{Cli, ColorChoice, Command, Format, GlobalArgs};
use crate::trust::TrustOptions;
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
}

impl Ctx {
    pub fn from_global(g: &GlobalArgs) -> anyhow::Result<Ctx> {
        let mut world = match (&g.root, g.pid) {
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
        for kv in &g.env {
            world = match kv.split_once('=') {
                Some((k, v)) => {
                    anyhow::ensure!(!k.is_empty(), "--env {kv:?}: expected KEY=VALUE");
                    world.with_overrides([(k.to_string(), v.to_string())])
                }
                None => world.without(kv),
            };
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
            },
            now: now_unix(),
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
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at {s:?}: expected an RFC 3339 time such as 2027-01-31T00:00:00Z"))?;
    Ok(t.unix_timestamp())
}

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
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
            let ctx = Ctx::from_global(&cli.global)?;
            store::run(&a, &ctx)
        }
        None => {
            let ctx = Ctx::from_global(&cli.global)?;
            store::run(&Default::default(), &ctx)
        }
        Some(Command::Verify(a)) => {
            let ctx = Ctx::from_global(&cli.global)?;
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
