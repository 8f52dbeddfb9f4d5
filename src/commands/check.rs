//! `tlsdoctor check SPEC_FILE`: many targets, each with expectations, for CI.
//!
//! - [`spec`]: the TOML schema (defaults at the top, per-target overrides) -> [`spec::Job`]s,
//!   each a `connect` request plus [`expect::Expectations`].
//! - [`runner`]: examines the jobs concurrently (`--jobs`) within a total deadline.
//! - [`expect`]: evaluates the expectations on each `tlsdoctor.connect/v1` document.
//! - [`output`]: the human summary, JSON Lines / JSON wire types, JUnit XML.
//!
//! The exit code is the worst of the targets' (0 < 1 < 3 < 2, see [`output::worst`]).

pub mod expect;
pub mod output;
pub mod runner;
pub mod spec;

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::Ctx;
use crate::cli::{CheckArgs, Format};
use output::{CheckReportDoc, CHECK_REPORT_SCHEMA};
use runner::{Examiner, RunOpts};

/// Targets examined at once unless `--jobs` or the spec's `jobs` say otherwise. The work
/// is waiting on the network, not the CPU, so this is well above the core count.
pub const DEFAULT_JOBS: usize = 256;

/// How to run a spec (resolved from the command line and the spec).
#[derive(Debug, Clone)]
pub struct CheckOpts {
    pub jobs: usize,
    pub deadline: Duration,
    pub progress: bool,
    /// "Now" for expectations when a document does not say when it was evaluated.
    pub now: i64,
}

/// Run every job of `spec` through `examine` and collect the report.
pub fn check(spec: &spec::Spec, examine: Examiner, opts: &CheckOpts) -> CheckReportDoc {
    let started_at = crate::x509::rfc3339(crate::commands::now_unix());
    let t0 = Instant::now();
    let jobs = Arc::new(spec.jobs_list.clone());
    let finished = runner::run(
        Arc::clone(&jobs),
        examine,
        &RunOpts {
            jobs: opts.jobs,
            deadline: opts.deadline,
            progress: opts.progress,
        },
    );
    let targets: Vec<_> = jobs
        .iter()
        .zip(finished)
        .map(|(j, f)| output::target_doc(j, f, opts.now, opts.deadline))
        .collect();
    let summary = output::summarize(&targets);
    CheckReportDoc {
        schema: CHECK_REPORT_SCHEMA.to_string(),
        spec: spec.path.display().to_string(),
        exit_code: output::worst(targets.iter().map(|t| t.exit_code)),
        duration_ms: t0.elapsed().as_millis().min(u64::MAX as u128) as u64,
        started_at,
        summary,
        targets,
    }
}

pub fn run(args: &CheckArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = spec::load(&args.spec_file)?;
    let jobs = args.jobs.or(spec.jobs).unwrap_or(DEFAULT_JOBS);
    anyhow::ensure!(jobs >= 1, "--jobs must be at least 1");
    let deadline = args.deadline.or(spec.deadline).unwrap_or(spec::DEFAULT_DEADLINE);
    anyhow::ensure!(!deadline.is_zero(), "--deadline must be more than 0");
    // A report that cannot be written is a usage error: say so before contacting anything,
    // not after a run whose summary then names another exit code.
    if let Some(path) = &args.junit {
        writable(path).with_context(|| format!("--junit {}", path.display()))?;
    }
    let shared = Arc::new(ctx.clone());
    let examine: Examiner = Arc::new(move |req| crate::commands::connect::examine(req, &shared));
    let opts = CheckOpts {
        jobs,
        deadline,
        progress: !ctx.quiet && std::io::stderr().is_terminal(),
        now: ctx.now,
    };
    let report = check(&spec, examine, &opts);

    let mut stdout = std::io::stdout().lock();
    match ctx.format {
        Format::Human => stdout.write_all(output::render_human(&report, ctx.color, ctx.quiet).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
        Format::Jsonl => {
            for t in &report.targets {
                serde_json::to_writer(&mut stdout, t)?;
                stdout.write_all(b"\n")?;
            }
        }
    }
    stdout.flush()?;
    if let Some(path) = &args.junit {
        write_file(path, output::render_junit(&report).as_bytes())
            .with_context(|| format!("--junit {}", path.display()))?;
    }
    Ok(report.exit_code)
}

/// Can `path` be written the way [`write_file`] writes it (a temporary file beside it)?
fn writable(path: &std::path::Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => anyhow::bail!("{} is not a directory", dir.display()),
        Err(e) => anyhow::bail!("directory {}: {}", dir.display(), crate::world::describe_io(&e)),
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        anyhow::bail!("is a directory");
    }
    let probe = dir.join(format!(".tlsdoctor-junit-probe{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| {
        anyhow::anyhow!(
            "cannot write in {}: {}",
            dir.display(),
            crate::world::describe_io(&e)
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Write via a temporary file in the same directory, then rename: a CI system never sees
/// half a report.
fn write_file(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("not a file name"))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(|e| anyhow::anyhow!("{}", crate::world::describe_io(&e)))?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("{}", crate::world::describe_io(&e));
    }
    Ok(())
}
