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
    let finished = runner::run(
        Arc::new(spec.jobs_list.clone()),
        examine,
        &RunOpts {
            jobs: opts.jobs,
            deadline: opts.deadline,
            progress: opts.progress,
        },
    );
    let targets: Vec<_> = spec
        .jobs_list
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

/// What the reports need of one target, rendered by the worker that examined it: the
/// target's documents are dropped there, so memory does not grow with their number.
#[derive(Debug, Default)]
struct Rendered {
    status: String,
    exit_code: u8,
    /// `--format jsonl`: the line, with its newline.
    jsonl: Vec<u8>,
    /// `--format json`: the target's object, indented as it sits in the report.
    json: String,
    /// Human summary: the target's line, and its details (empty for a pass).
    line: String,
    details: String,
    /// `--junit`: the `<testcase>` element.
    junit: String,
}

/// What each target is rendered into.
#[derive(Debug, Clone)]
struct RenderOpts {
    format: Format,
    junit_suite: Option<String>,
    widths: output::HumanWidths,
    color: bool,
    now: i64,
    deadline: Duration,
}

fn render(jobs: &[spec::Job], i: usize, f: runner::Finished, o: &RenderOpts) -> Rendered {
    let t = output::target_doc(&jobs[i], f, o.now, o.deadline);
    let mut r = Rendered {
        status: t.status.clone(),
        exit_code: t.exit_code,
        ..Rendered::default()
    };
    match o.format {
        Format::Jsonl => {
            // Serializing plain data into a Vec cannot fail.
            r.jsonl = serde_json::to_vec(&t).unwrap_or_default();
            r.jsonl.push(b'\n');
        }
        Format::Json => r.json = output::json_target(&t),
        Format::Human => (r.line, r.details) = output::human_parts(&t, o.widths, o.color),
    }
    if let Some(suite) = &o.junit_suite {
        r.junit = output::junit_testcase(&t, suite);
    }
    r
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
    // The JUnit test cases wait in a file beside the report until the totals are known.
    let mut spool = match &args.junit {
        Some(path) => Some(Spool::new(path).with_context(|| format!("--junit {}", path.display()))?),
        None => None,
    };
    let shared = Arc::new(ctx.clone());
    let examine: Examiner = Arc::new(move |req| crate::commands::connect::examine(req, &shared));
    let started_at = crate::x509::rfc3339(crate::commands::now_unix());
    let t0 = Instant::now();
    let spec_name = spec.path.display().to_string();
    let suite = output::junit_suite(&spec_name);
    let jobs_list = Arc::new(spec.jobs_list);
    let shown: Vec<String> = jobs_list
        .iter()
        .map(|j| crate::probe::target::redact_password(&j.req.target))
        .collect();
    let ro = RenderOpts {
        format: ctx.format,
        junit_suite: args.junit.as_ref().map(|_| suite.clone()),
        widths: output::HumanWidths::of(
            jobs_list
                .iter()
                .zip(&shown)
                .map(|(j, t)| (j.id.as_str(), t.as_str())),
        ),
        color: ctx.color,
        now: ctx.now,
        deadline,
    };
    drop(shown);
    let render_jobs = Arc::clone(&jobs_list);
    let render_fn: runner::Render<Rendered> = Arc::new(move |i, f| render(&render_jobs, i, f, &ro));

    // Targets finish in any order; the reports list them in spec order. Each one is
    // written (JSON Lines) or appended (the rest) as soon as every target before it is
    // done, so only the out-of-order window is held, already rendered.
    let n = jobs_list.len();
    let mut pending: std::collections::BTreeMap<usize, Rendered> = Default::default();
    let mut next = 0;
    let mut summary = output::SummaryDoc {
        total: n,
        ..Default::default()
    };
    let mut codes: Vec<u8> = Vec::new();
    let (mut lines, mut details) = (String::new(), String::new());
    // `--format json` is one document whose totals come first: its targets wait in a
    // temporary file, or in memory where there is none (a read-only file system).
    let mut json = match ctx.format {
        Format::Json => Some(Spool::new(&std::env::temp_dir().join("tlsdoctor-check.json")).ok()),
        _ => None,
    };
    let mut json_in_memory = String::new();
    let mut any_json = false;
    let progress = !ctx.quiet && std::io::stderr().is_terminal();
    // JSON Lines go out as they come, unless they would cross the progress bar on one
    // terminal: then they wait for the end, like the other formats.
    let stream = !(progress && std::io::stdout().is_terminal());
    let mut held: Vec<u8> = Vec::new();
    let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    runner::run_each(
        jobs_list,
        examine,
        render_fn,
        &RunOpts {
            jobs,
            deadline,
            progress,
        },
        |i, r| -> std::io::Result<()> {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&next) {
                next += 1;
                match r.status.as_str() {
                    "pass" => summary.passed += 1,
                    "fail" => summary.failed += 1,
                    "unreachable" => summary.unreachable += 1,
                    _ => summary.errors += 1,
                }
                if !codes.contains(&r.exit_code) {
                    codes.push(r.exit_code);
                }
                if stream {
                    stdout.write_all(&r.jsonl)?;
                } else {
                    held.extend_from_slice(&r.jsonl);
                }
                if let Some(sp) = &mut json {
                    let sep: &[u8] = if any_json { b",\n" } else { b"" };
                    match sp {
                        Some(sp) => {
                            sp.out.write_all(sep)?;
                            sp.out.write_all(r.json.as_bytes())?;
                        }
                        None => {
                            json_in_memory.push_str(std::str::from_utf8(sep).unwrap_or_default());
                            json_in_memory.push_str(&r.json);
                        }
                    }
                    any_json = true;
                }
                lines.push_str(&r.line);
                details.push_str(&r.details);
                if let Some(sp) = &mut spool {
                    sp.out.write_all(r.junit.as_bytes())?;
                }
            }
            Ok(())
        },
    )?;
    let exit_code = output::worst(codes);
    let duration_ms = t0.elapsed().as_millis().min(u64::MAX as u128) as u64;

    match ctx.format {
        Format::Human => {
            stdout.write_all(lines.as_bytes())?;
            stdout.write_all(
                output::human_tail(&details, &summary, duration_ms, exit_code, ctx.color, ctx.quiet)
                    .as_bytes(),
            )?;
        }
        Format::Json => {
            let head = CheckReportDoc {
                schema: CHECK_REPORT_SCHEMA.to_string(),
                spec: spec_name,
                exit_code,
                duration_ms,
                started_at: started_at.clone(),
                summary: summary.clone(),
                targets: Vec::new(),
            };
            let (before, after) = output::json_around_targets(&head, any_json);
            stdout.write_all(before.as_bytes())?;
            match json.take().flatten() {
                Some(mut sp) => sp.copy_to(&mut stdout)?,
                None => stdout.write_all(json_in_memory.as_bytes())?,
            }
            stdout.write_all(after.as_bytes())?;
        }
        Format::Jsonl => stdout.write_all(&held)?,
    }
    stdout.flush()?;
    if let (Some(path), Some(sp)) = (&args.junit, spool) {
        let head = output::junit_head(&suite, &summary, duration_ms, &started_at);
        sp.finish(path, &head, output::JUNIT_TAIL)
            .with_context(|| format!("--junit {}", path.display()))?;
    }
    Ok(exit_code)
}

/// Text to be written between a head and a tail known only at the end, kept in a hidden
/// file (so memory does not grow with it); removed when dropped.
struct Spool {
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl Spool {
    /// A new file `.NAME.casesPID` beside `dest`, readable by this user only; never an
    /// existing file or a link planted there (the temporary directory is shared).
    fn new(dest: &std::path::Path) -> anyhow::Result<Spool> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let (dir, name) = dir_and_name(dest)?;
        let path = dir.join(format!(".{name}.cases{}", std::process::id()));
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
        };
        let f = match open() {
            // Left by an earlier run with the same process id: a link is removed, not
            // followed.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&path);
                open()
            }
            r => r,
        }
        .map_err(|e| anyhow::anyhow!("{}", crate::world::describe_io(&e)))?;
        Ok(Spool {
            path,
            out: std::io::BufWriter::with_capacity(64 * 1024, f),
        })
    }

    /// The spooled text, copied to `out` (read back through the handle it was written by).
    fn copy_to(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        use std::io::Seek as _;
        self.out.flush()?;
        let f = self.out.get_mut();
        f.seek(std::io::SeekFrom::Start(0))?;
        std::io::copy(f, out)?;
        Ok(())
    }

    /// Write `head`, the spooled text and `tail` to a temporary file beside `dest`, then
    /// rename it: a CI system never sees half a report.
    fn finish(mut self, dest: &std::path::Path, head: &str, tail: &str) -> anyhow::Result<()> {
        let (dir, name) = dir_and_name(dest)?;
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(&tmp)?);
            out.write_all(head.as_bytes())?;
            self.copy_to(&mut out)?;
            out.write_all(tail.as_bytes())?;
            out.into_inner().map_err(|e| e.into_error())?;
            std::fs::rename(&tmp, dest)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            anyhow::bail!("{}", crate::world::describe_io(&e));
        }
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The directory (`.` for a bare name) and the file name of `path`.
fn dir_and_name(path: &std::path::Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("not a file name"))?
        .to_string_lossy()
        .into_owned();
    Ok((dir, name))
}

/// Can `path` be written the way [`Spool::finish`] writes it (a temporary file beside it)?
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
