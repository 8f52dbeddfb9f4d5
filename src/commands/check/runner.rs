//! Run many targets at once, within a total time bound.
//!
//! `examine` is blocking network I/O, so the runner uses a fixed pool of worker threads
//! (`--jobs`) pulling targets from a shared counter. Each target's own timeout is cut to
//! the time left before the deadline, so silent targets time out concurrently, never in
//! series. Workers are detached: when the deadline (plus a short grace) passes, targets
//! still running are reported as timed out and the command finishes without waiting.
//! A panic while examining one target is caught and reported for that target only (the
//! release profile keeps `panic = "unwind"` for exactly this).

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::spec::Job;
use crate::commands::connect::ConnectRequest;
use crate::report::json::Document;

/// How `examine` is called (the real one in `check::run`; tests inject their own).
pub type Examiner = Arc<dyn Fn(&ConnectRequest) -> anyhow::Result<Document> + Send + Sync>;

/// Wait this long past the deadline for targets that were given the remaining time as
/// their timeout (they return just after it) before declaring them timed out.
pub const GRACE: Duration = Duration::from_millis(250);

/// Why a target has no document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// `examine` refused the request (unreadable file, bad target syntax): exit 2.
    Input(String),
    /// The total deadline passed before this target finished (or started).
    Deadline { started: bool },
    /// A bug: examining this target panicked.
    Panic(String),
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub result: Result<Document, RunError>,
    /// Time spent on this target.
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct RunOpts {
    pub jobs: usize,
    pub deadline: Duration,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// Examine every job; results in job order.
pub fn run(jobs: Arc<Vec<Job>>, examine: Examiner, opts: &RunOpts) -> Vec<Finished> {
    let n = jobs.len();
    let mut results: Vec<Option<Finished>> = vec![None; n];
    let _ = run_each(jobs, examine, Arc::new(|_, f| f), opts, |i, f| {
        results[i] = Some(f);
        Ok::<(), std::convert::Infallible>(())
    });
    results.into_iter().flatten().collect()
}

/// How a worker turns a target's result into what the caller keeps (on the worker's
/// thread, so rendering runs on every core and no document outlives its target).
pub type Render<T> = Arc<dyn Fn(usize, Finished) -> T + Send + Sync>;

/// Examine every job. `render` runs on the worker that examined the target; `each` gets
/// `(index, rendered)` on this thread in the order the targets finish, exactly once per
/// job: the targets still running (or never started) when the deadline and its grace
/// have passed are rendered here as [`RunError::Deadline`]. An error from `each` ends the
/// run at once (the detached workers stop at their next send).
pub fn run_each<T: Send + 'static, E>(
    jobs: Arc<Vec<Job>>,
    examine: Examiner,
    render: Render<T>,
    opts: &RunOpts,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    let n = jobs.len();
    let start = Instant::now();
    let deadline_at = start + opts.deadline;
    let next = Arc::new(AtomicUsize::new(0));
    let workers = opts.jobs.clamp(1, n.max(1));
    // Bounded: when this thread falls behind (it is one thread among `workers`), the
    // workers wait instead of piling rendered results up in the channel.
    let (tx, mut rx) = mpsc::sync_channel::<(usize, bool, T)>(workers.max(64));
    for w in 0..workers {
        let (j, e, r, nx, t) = (
            Arc::clone(&jobs),
            Arc::clone(&examine),
            Arc::clone(&render),
            Arc::clone(&next),
            Tx::Bounded(tx.clone()),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("check-{w}"))
            .spawn(move || worker(&j, &*e, &*r, &nx, &t, deadline_at));
        if spawned.is_err() && w == 0 {
            // Not even one thread: run in this thread rather than not at all (into an
            // unbounded channel: nobody would drain a bounded one).
            let (all_tx, all_rx) = mpsc::channel();
            worker(
                &jobs,
                &*examine,
                &*render,
                &next,
                &Tx::Unbounded(all_tx),
                deadline_at,
            );
            rx = all_rx;
            break;
        }
    }
    drop(tx);

    let mut seen = vec![false; n];
    let mut progress = Progress::new(opts.progress, n, start);
    let mut done = 0;
    let hard_stop = deadline_at + GRACE;
    while done < n {
        let now = Instant::now();
        if now >= hard_stop {
            break;
        }
        let wait = (hard_stop - now).min(Duration::from_millis(100));
        match rx.recv_timeout(wait) {
            Ok((i, problem, r)) => {
                if !std::mem::replace(&mut seen[i], true) {
                    done += 1;
                    progress.finished(problem);
                    progress.draw();
                    if let Err(e) = each(i, r) {
                        progress.clear();
                        return Err(e);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        progress.draw();
    }
    // What finished but was not received in time still counts.
    while let Ok((i, problem, r)) = rx.try_recv() {
        if !std::mem::replace(&mut seen[i], true) {
            progress.finished(problem);
            if let Err(e) = each(i, r) {
                progress.clear();
                return Err(e);
            }
        }
    }
    progress.clear();
    let late = start.elapsed();
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
        let f = Finished {
            result: Err(RunError::Deadline { started: true }),
            elapsed: late,
        };
        each(i, render(i, f))?;
    }
    Ok(())
}

/// Where a worker sends its results.
enum Tx<M> {
    Bounded(mpsc::SyncSender<M>),
    Unbounded(mpsc::Sender<M>),
}

impl<M> Tx<M> {
    /// False once nobody listens.
    fn send(&self, m: M) -> bool {
        match self {
            Tx::Bounded(t) => t.send(m).is_ok(),
            Tx::Unbounded(t) => t.send(m).is_ok(),
        }
    }
}

fn worker<T>(
    jobs: &[Job],
    examine: &(dyn Fn(&ConnectRequest) -> anyhow::Result<Document> + Send + Sync),
    render: &(dyn Fn(usize, Finished) -> T + Send + Sync),
    next: &AtomicUsize,
    tx: &Tx<(usize, bool, T)>,
    deadline_at: Instant,
) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else { return };
        let t0 = Instant::now();
        let finished = if t0 >= deadline_at {
            Finished {
                result: Err(RunError::Deadline { started: false }),
                elapsed: Duration::ZERO,
            }
        } else {
            let mut req = job.req.clone();
            req.timeout = req.timeout.min(deadline_at - t0);
            let r = catch_unwind(AssertUnwindSafe(|| examine(&req)));
            let result = match r {
                Ok(Ok(doc)) => Ok(doc),
                Ok(Err(e)) => Err(RunError::Input(format!("{e:#}"))),
                Err(p) => Err(RunError::Panic(panic_text(&p))),
            };
            Finished {
                result,
                elapsed: t0.elapsed(),
            }
        };
        let problem = !matches!(&finished.result, Ok(d) if crate::commands::connect::exit_code(d) == 0);
        // A panic while rendering is contained like one while examining.
        let rendered = match catch_unwind(AssertUnwindSafe(|| render(i, finished))) {
            Ok(r) => r,
            Err(p) => render(
                i,
                Finished {
                    result: Err(RunError::Panic(panic_text(&p))),
                    elapsed: t0.elapsed(),
                },
            ),
        };
        if !tx.send((i, problem, rendered)) {
            return; // the run is over (deadline): nobody listens any more
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// A one-line progress bar on stderr (only when stderr is a terminal; decided by caller).
struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
    problems: usize,
    start: Instant,
    last: Option<Instant>,
}

impl Progress {
    fn new(enabled: bool, total: usize, start: Instant) -> Progress {
        Progress {
            enabled,
            total,
            done: 0,
            problems: 0,
            start,
            last: None,
        }
    }

    fn finished(&mut self, problem: bool) {
        self.done += 1;
        if problem {
            self.problems += 1;
        }
    }

    fn draw(&mut self) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|l| now - l < Duration::from_millis(80)) && self.done < self.total {
            return;
        }
        self.last = Some(now);
        let width = 30;
        let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
        let bar: String = "#".repeat(filled) + &".".repeat(width - filled);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{bar}] {}/{} targets, {} not ok, {:.1}s",
            self.done,
            self.total,
            self.problems,
            self.start.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::check::expect::tests::{doc, unreachable};
    use crate::commands::check::expect::Expectations;
    use crate::commands::check::spec::DEFAULT_TIMEOUT;
    use crate::commands::connect::ConnectRequest;

    fn job(target: &str) -> Job {
        Job {
            id: target.to_string(),
            req: ConnectRequest {
                target: target.to_string(),
                starttls: crate::cli::StarttlsArg::None,
                servername: None,
                name: None,
                xmpp_domain: None,
                ca: vec![],
                ca_in_world: vec![],
                runtimes: vec![],
                pins: vec![],
                timeout: DEFAULT_TIMEOUT,
                proxy: None,
                alpn: vec![],
                client_cert: None,
                client_key: None,
                at: None,
                fetch_aia: false,
            },
            expect: Expectations::default(),
        }
    }

    /// "slow:MS" sleeps MS (bounded by the timeout it is given) then reports a timeout;
    /// "bad" is an input error; "boom" panics; anything else answers at once.
    fn fake() -> Examiner {
        Arc::new(|req: &ConnectRequest| {
            if let Some(ms) = req.target.strip_prefix("slow:") {
                let want = Duration::from_millis(ms.parse().unwrap());
                std::thread::sleep(want.min(req.timeout));
                return Ok(unreachable());
            }
            match req.target.as_str() {
                "bad" => anyhow::bail!("unreadable --ca"),
                "boom" => panic!("examine exploded"),
                _ => Ok(doc()),
            }
        })
    }

    #[test]
    fn results_come_back_in_job_order_with_errors_and_panics_contained() {
        let jobs = Arc::new(vec![job("a"), job("bad"), job("boom"), job("slow:50"), job("b")]);
        let r = run(
            jobs,
            fake(),
            &RunOpts {
                jobs: 2,
                deadline: Duration::from_secs(10),
                progress: false,
            },
        );
        assert_eq!(r.len(), 5);
        assert!(r[0].result.is_ok());
        assert_eq!(
            r[1].result.as_ref().unwrap_err(),
            &RunError::Input("unreadable --ca".into())
        );
        assert_eq!(
            r[2].result.as_ref().unwrap_err(),
            &RunError::Panic("examine exploded".into())
        );
        assert!(r[3].result.as_ref().unwrap().error.is_some());
        assert!(r[4].result.is_ok());
    }

    #[test]
    fn silent_targets_wait_concurrently_not_in_series() {
        // 40 targets that each take 300 ms, 40 workers: ~0.3 s, not 12 s.
        let jobs = Arc::new((0..40).map(|_| job("slow:300")).collect::<Vec<_>>());
        let t0 = Instant::now();
        let r = run(
            jobs,
            fake(),
            &RunOpts {
                jobs: 40,
                deadline: Duration::from_secs(30),
                progress: false,
            },
        );
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(r.iter().all(|f| f.result.is_ok()));
    }

    #[test]
    fn the_deadline_bounds_the_run_and_caps_each_timeout() {
        // One worker, three targets that would each take 5 s: the deadline (400 ms) cuts the
        // first one's timeout and the other two never start.
        let jobs = Arc::new(vec![job("slow:5000"), job("slow:5000"), job("slow:5000")]);
        let t0 = Instant::now();
        let r = run(
            jobs,
            fake(),
            &RunOpts {
                jobs: 1,
                deadline: Duration::from_millis(400),
                progress: false,
            },
        );
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(400) + GRACE + Duration::from_millis(300),
            "{took:?}"
        );
        assert!(
            r[0].result.is_ok(),
            "the first got the remaining time as its timeout"
        );
        for f in &r[1..] {
            assert!(matches!(f.result, Err(RunError::Deadline { .. })), "{f:?}");
        }
    }

    #[test]
    fn a_target_that_ignores_its_timeout_cannot_hold_the_run() {
        let stuck: Examiner = Arc::new(|_req: &ConnectRequest| {
            std::thread::sleep(Duration::from_secs(5));
            Ok(doc())
        });
        let t0 = Instant::now();
        let r = run(
            Arc::new(vec![job("x")]),
            stuck,
            &RunOpts {
                jobs: 4,
                deadline: Duration::from_millis(200),
                progress: false,
            },
        );
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert_eq!(
            r[0].result.as_ref().unwrap_err(),
            &RunError::Deadline { started: true }
        );
    }
}
