//! `--all-processes`: every process of this machine, grouped by what decides its trust —
//! its root filesystem, the variables the runtimes read, and the runtime detected in it (a
//! Go program's build info from `/proc/N/exe`, the libssl mapped into it) — and each group
//! answered as `--pid` would answer for its first process (`store`, `store --find`,
//! `verify`). A process that exits before its group is examined is named as vanished (the
//! next process of the group answers); one that cannot be read is named with why.
//!
//! JSON Lines (`--format jsonl`, also `--json`): one `tlsdoctor.processes/v1` line per
//! group, then one summary line, so `kubectl logs` of the DaemonSet in `deploy/` is the
//! whole cluster's answer, one node per pod.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::cli::{Format, GlobalArgs, StoreArgs, VerifyArgs};
use crate::world::pid::{self, Process, Skipped};
use crate::world::World;

pub const PROCESSES_SCHEMA: &str = "tlsdoctor.processes/v1";

/// What every group is asked.
#[derive(Debug, Clone, Copy)]
pub enum Question<'a> {
    Store(&'a StoreArgs),
    Verify(&'a VerifyArgs),
}

/// One line of the JSON Lines output: a group, or the closing summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    pub schema: String,
    /// 1, 2, … in output order.
    pub group: usize,
    pub root: RootDoc,
    /// The variables some runtime reads, as set in these processes (passwords redacted).
    pub env: BTreeMap<String, String>,
    /// The runtime detected in these processes: `go go1.24.4 …`, `libssl /usr/lib/….so.3 (OpenSSL 3.5.1 …)`,
    /// or empty (neither: the answer covers every runtime of the root).
    pub runtime: Vec<String>,
    pub processes: Vec<ProcessDoc>,
    /// The process whose World answered (the first that was still there).
    #[serde(default)]
    pub answered_by: Option<u32>,
    /// Processes of the group that exited before they could be examined.
    #[serde(default)]
    pub vanished: Vec<u32>,
    /// The exit code `--pid` would have given for this group.
    pub exit: u8,
    /// Why the group has no answer (every process vanished, or its World failed).
    #[serde(default)]
    pub error: Option<String>,
    /// `store`: the `tlsdoctor.store/v1` document.
    #[serde(default)]
    pub store: Option<crate::report::store::StoreDoc>,
    /// `verify`: the `tlsdoctor.verify/v1` document.
    #[serde(default)]
    pub verify: Option<crate::report::json::Document>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootDoc {
    /// `host` (the same root as tlsdoctor's) or `other` (a chroot, a container).
    pub kind: String,
    /// `/proc/N/root` as the kernel names it from here (`/` for a container in another
    /// mount namespace).
    pub path: String,
    /// `dev:inode` of the root directory (equal ids: the same filesystem).
    pub id: String,
    /// The first process's cgroup (names the pod and container on Kubernetes).
    #[serde(default)]
    pub cgroup: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessDoc {
    pub pid: u32,
    pub name: String,
    #[serde(default)]
    pub exe: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryDoc {
    pub schema: String,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Processes listed (this one and kernel threads are not).
    pub processes: usize,
    pub groups: usize,
    /// Groups whose answer was a diagnosis (exit 1).
    pub failing_groups: usize,
    /// Processes that could not be read, with why.
    pub unreadable: Vec<UnreadableDoc>,
    /// Processes that exited before their group was examined.
    pub vanished: Vec<u32>,
    /// The exit code: the worst of the groups'.
    pub exit: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnreadableDoc {
    pub pid: u32,
    pub name: String,
    pub why: String,
}

/// What separates groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    root: (u64, u64),
    env: BTreeMap<String, String>,
    runtime: Vec<String>,
}

/// Runtime detection per process, cached by program file and by mapped library.
#[derive(Default)]
struct Detector {
    go: HashMap<(u64, u64), Option<String>>,
    ssl: HashMap<((u64, u64), PathBuf), String>,
}

impl Detector {
    /// `go go1.24.4 GODEBUG=… +fallback roots`, `libssl PATH (OpenSSL x.y.z)`.
    fn runtime(&mut self, p: &Process) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(id) = p.exe_id {
            let pid = p.pid;
            let go = self.go.entry(id).or_insert_with(|| go_text(pid)).clone();
            out.extend(go);
        }
        if let Some(lib) = crate::detect::mapped_libraries(p.pid, "libssl.so")
            .into_iter()
            .next()
        {
            let key = (p.root, lib.path.clone());
            if !self.ssl.contains_key(&key) {
                let version = crate::detect::mapped_libraries(p.pid, "libcrypto.so")
                    .into_iter()
                    .find_map(|c| {
                        let mut d = Vec::new();
                        std::fs::File::open(&c.map_file)
                            .ok()?
                            .take(64 << 20)
                            .read_to_end(&mut d)
                            .ok()?;
                        crate::detect::openssl_version_text(&d)
                    });
                let text = match version {
                    Some(v) => format!("libssl {} ({v})", lib.path.display()),
                    None => format!("libssl {}", lib.path.display()),
                };
                self.ssl.insert(key.clone(), text);
            }
            out.push(self.ssl[&key].clone());
        }
        out
    }
}

/// A Go program's build facts that change its verification, as one line.
fn go_text(pid: u32) -> Option<String> {
    let mut data = Vec::new();
    std::fs::File::open(format!("/proc/{pid}/exe"))
        .ok()?
        .take(crate::detect::MAX_EXE_BYTES)
        .read_to_end(&mut data)
        .ok()?;
    let d = crate::detect::go_from_bytes(&data, crate::detect::Source::PidExe(pid)).ok()?;
    let mut t = format!("go {}", d.text);
    if let Some(g) = d.go() {
        if !g.default_godebug.is_empty() {
            let kv: Vec<String> = g
                .default_godebug
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            t.push_str(&format!(" GODEBUG={}", kv.join(",")));
        }
        if let Some(f) = &g.fallback {
            t.push_str(&format!(" +fallback roots (x/crypto {})", f.module_version));
        }
    }
    Some(t)
}

fn redacted(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let secret: Vec<&str> = crate::runtimes::env_vars()
        .iter()
        .filter(|v| v.secret)
        .map(|v| v.name)
        .collect();
    env.iter()
        .map(|(k, v)| {
            let v = if secret.contains(&k.as_str()) {
                crate::trust::findings::redact_url_password(v)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// Every process, grouped; groups ordered by their first PID.
fn groups(procs: Vec<Process>) -> Vec<(Key, Vec<Process>)> {
    let mut det = Detector::default();
    let mut map: BTreeMap<Key, Vec<Process>> = BTreeMap::new();
    for p in procs {
        let key = Key {
            root: p.root,
            env: p.tls_env.clone(),
            runtime: det.runtime(&p),
        };
        map.entry(key).or_default().push(p);
    }
    let mut v: Vec<(Key, Vec<Process>)> = map.into_iter().collect();
    v.sort_by_key(|(_, ps)| ps[0].pid);
    v
}

/// Answer one group: the first process still there answers, as `--pid` would.
fn answer(
    q: Question<'_>,
    g: &GlobalArgs,
    n: usize,
    key: &Key,
    members: &[Process],
    host_root: Option<(u64, u64)>,
) -> GroupDoc {
    let mut doc = GroupDoc {
        schema: PROCESSES_SCHEMA.into(),
        group: n,
        root: RootDoc {
            kind: if Some(key.root) == host_root {
                "host"
            } else {
                "other"
            }
            .into(),
            path: members[0].root_path.to_string_lossy().into_owned(),
            id: format!("{}:{}", key.root.0, key.root.1),
            cgroup: members[0].cgroup.clone(),
        },
        env: redacted(&key.env),
        runtime: key.runtime.clone(),
        processes: members
            .iter()
            .map(|p| ProcessDoc {
                pid: p.pid,
                name: p.name.clone(),
                exe: p.exe.as_ref().map(|e| e.to_string_lossy().into_owned()),
            })
            .collect(),
        answered_by: None,
        vanished: Vec::new(),
        exit: crate::exit::OK,
        error: None,
        store: None,
        verify: None,
    };
    for p in members {
        let world = match World::from_pid(p.pid) {
            Ok(w) => w,
            Err(_) if !std::path::Path::new(&format!("/proc/{}", p.pid)).exists() => {
                doc.vanished.push(p.pid);
                continue;
            }
            Err(e) => {
                doc.error = Some(format!("process {}: {e:#}", p.pid));
                doc.exit = crate::exit::USAGE;
                continue;
            }
        };
        let ctx = match Ctx::new(g, world) {
            Ok(c) => c,
            Err(e) => {
                doc.error = Some(format!("{e:#}"));
                doc.exit = crate::exit::USAGE;
                return doc;
            }
        };
        let r = match q {
            Question::Store(a) => super::store::examine_opts(a, &ctx, false).map(|(d, code)| {
                doc.store = Some(d);
                code
            }),
            Question::Verify(a) => super::verify::document(a, &ctx).map(|d| {
                let code = super::connect::exit_code(&d);
                doc.verify = Some(d);
                code
            }),
        };
        match r {
            Ok(code) => {
                doc.answered_by = Some(p.pid);
                doc.error = None;
                doc.exit = code;
            }
            Err(e) => {
                doc.error = Some(format!("process {}: {e:#}", p.pid));
                doc.exit = crate::exit::USAGE;
            }
        }
        return doc;
    }
    if doc.error.is_none() {
        doc.error = Some("every process of the group exited before it could be examined".into());
    }
    doc
}

/// Every process of this machine but this one, and those that could not be read.
pub fn list() -> (Vec<Process>, Vec<Skipped>) {
    let names: Vec<&'static str> = crate::runtimes::env_vars().iter().map(|v| v.name).collect();
    pid::processes(|k| names.contains(&k))
}

/// Group `procs` and answer each group in turn, handing each answer to `each` as soon as
/// it is ready.
pub fn answer_all(
    q: Question<'_>,
    g: &GlobalArgs,
    procs: Vec<Process>,
    mut each: impl FnMut(GroupDoc) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let host_root = std::fs::metadata("/proc/self/root")
        .ok()
        .map(|m| (m.dev(), m.ino()));
    for (i, (key, members)) in groups(procs).iter().enumerate() {
        each(answer(q, g, i + 1, key, members, host_root))?;
    }
    Ok(())
}

/// Run the question for every group; print each as it is answered.
pub fn run(q: Question<'_>, g: &GlobalArgs) -> anyhow::Result<u8> {
    // Errors in the question itself (a chain file that does not exist, an empty --find)
    // are the user's, once: check them before examining hundreds of processes.
    match q {
        Question::Store(a) => {
            if let Some(f) = &a.find {
                crate::trust::find::parse_query(f)?;
            }
        }
        Question::Verify(a) => {
            super::inspect::read_certs(&a.chain_file)?;
        }
    }
    let (procs, unreadable) = list();
    let total = procs.len();
    let format = if g.json { Format::Jsonl } else { g.format };
    let mut worst = crate::exit::OK;
    let mut failing = 0;
    let mut groups = 0;
    let mut vanished = Vec::new();
    // Rendering only needs the format and colour choices: a World with nothing in it.
    let human_ctx = Ctx::new(g, World::fixture("/", &[]))?;
    answer_all(q, g, procs, |doc| {
        groups += 1;
        worst = worst.max(doc.exit);
        if doc.exit == crate::exit::DIAGNOSIS {
            failing += 1;
        }
        vanished.extend(doc.vanished.iter().copied());
        let text = match format {
            Format::Json | Format::Jsonl => serde_json::to_string(&doc)? + "\n",
            Format::Human => human_group(&doc, q, &human_ctx)?,
        };
        super::emit(text)?;
        Ok(())
    })?;
    let summary = Summary {
        processes: total,
        groups,
        failing_groups: failing,
        unreadable: unreadable
            .into_iter()
            .map(|Skipped { pid, name, why }| UnreadableDoc { pid, name, why })
            .collect(),
        vanished,
        exit: worst,
    };
    let text = match format {
        Format::Json | Format::Jsonl => {
            serde_json::to_string(&SummaryDoc {
                schema: PROCESSES_SCHEMA.into(),
                summary,
            })? + "\n"
        }
        Format::Human => human_summary(&summary),
    };
    super::emit(text)?;
    Ok(worst)
}

fn human_group(doc: &GroupDoc, q: Question<'_>, ctx: &Ctx) -> anyhow::Result<String> {
    use crate::report::sanitize::sanitize;
    let mut s = String::new();
    let who: Vec<String> = doc
        .processes
        .iter()
        .take(8)
        .map(|p| format!("{} {}", sanitize(&p.name), p.pid))
        .collect();
    let more = doc.processes.len().saturating_sub(8);
    s.push_str(&format!(
        "━━ group {}: {} process{}: {}{}\n",
        doc.group,
        doc.processes.len(),
        if doc.processes.len() == 1 { "" } else { "es" },
        who.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ));
    let root = if doc.root.kind == "host" {
        "root: this machine's".to_string()
    } else {
        format!("root: {} ({})", sanitize(&doc.root.path), doc.root.id)
    };
    s.push_str(&format!("   {root}\n"));
    if let Some(c) = doc.root.cgroup.as_deref().filter(|_| doc.root.kind != "host") {
        s.push_str(&format!("   cgroup: {}\n", sanitize(c)));
    }
    if doc.env.is_empty() {
        s.push_str("   environment: none of the trust variables\n");
    } else {
        let kv: Vec<String> = doc
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", sanitize(v)))
            .collect();
        s.push_str(&format!("   environment: {}\n", kv.join(" ")));
    }
    if !doc.runtime.is_empty() {
        s.push_str(&format!("   runtime: {}\n", sanitize(&doc.runtime.join("; "))));
    }
    if !doc.vanished.is_empty() {
        let v: Vec<String> = doc.vanished.iter().map(u32::to_string).collect();
        s.push_str(&format!("   exited before examined: {}\n", v.join(", ")));
    }
    if let Some(e) = &doc.error {
        s.push_str(&format!("   no answer: {}\n\n", sanitize(e)));
        return Ok(s);
    }
    if let Some(p) = doc.answered_by {
        s.push_str(&format!("   answered as --pid {p}:\n"));
    }
    let body = match q {
        Question::Store(a) => doc
            .store
            .as_ref()
            .map(|d| super::store::render(d, a, ctx))
            .transpose()?,
        Question::Verify(a) => doc
            .verify
            .as_ref()
            .map(|d| super::verify::render(d, a, ctx))
            .transpose()?,
    };
    s.push_str(&body.unwrap_or_default());
    s.push('\n');
    Ok(s)
}

fn human_summary(sum: &Summary) -> String {
    let mut s = format!(
        "{} processes in {} groups; {} group{} with a diagnosis (exit 1)\n",
        sum.processes,
        sum.groups,
        sum.failing_groups,
        if sum.failing_groups == 1 { "" } else { "s" }
    );
    if !sum.vanished.is_empty() {
        s.push_str(&format!(
            "{} exited before they could be examined\n",
            sum.vanished.len()
        ));
    }
    if !sum.unreadable.is_empty() {
        s.push_str(&format!("{} could not be read:\n", sum.unreadable.len()));
        for u in &sum.unreadable {
            s.push_str(&format!(
                "  {} {}: {}\n",
                u.pid,
                crate::report::sanitize::sanitize(&u.name),
                u.why
            ));
        }
    }
    s
}
