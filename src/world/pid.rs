//! Another process (`--pid N`): `/proc/N/root`, `/proc/N/environ`, `/proc/N/exe`; and every
//! process of this machine (`--all-processes`), grouped by what decides their trust.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::{describe_io, Base, World, WorldKind};

fn parse_environ(raw: &[u8]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for kv in raw.split(|b| *b == 0) {
        if kv.is_empty() {
            continue;
        }
        let s = String::from_utf8_lossy(kv);
        if let Some((k, v)) = s.split_once('=') {
            env.insert(k.to_string(), v.to_string());
        }
    }
    env
}

/// `/proc/PID/root` and `/proc/PID/environ`.
pub(super) fn world(pid: u32) -> anyhow::Result<World> {
    let environ = format!("/proc/{pid}/environ");
    let raw = fs::read(&environ).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            anyhow::anyhow!("no process with PID {pid} ({environ} does not exist)")
        }
        io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot read {environ}: permission denied. Reading another process's environment needs \
             the same user or CAP_SYS_PTRACE (run as root, or `kubectl debug --profile=general` \
             / a pod with shareProcessNamespace and the same UID)"
        ),
        _ => anyhow::anyhow!("cannot read {environ}: {}", describe_io(&e)),
    })?;
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    if let Err(e) = fs::read_dir(&root) {
        anyhow::bail!(
            "cannot open {}: {}. Reading another process's filesystem needs the same user or \
             CAP_SYS_PTRACE (and, across containers, a shared PID namespace)",
            root.display(),
            describe_io(&e)
        );
    }
    // The program is read from /proc/PID/exe itself (crate::detect), which stays readable
    // even when the file was replaced or deleted since the process started.
    let w = World::new(Base::Dir(root), parse_environ(&raw), WorldKind::Pid(pid));
    Ok(w)
}

/// One process as `--all-processes` sees it.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
    /// `comm`: the short command name.
    pub name: String,
    /// Device and inode of its root directory: processes with the same pair see the same
    /// filesystem (the host, or one container).
    pub root: (u64, u64),
    /// The program (`/proc/N/exe`, as a path inside its root), when readable.
    pub exe: Option<PathBuf>,
    /// The variables that decide trust in some runtime, as set in its environment.
    pub tls_env: BTreeMap<String, String>,
}

/// Why a process could not be examined (`--all-processes` reports these too).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub pid: u32,
    pub why: String,
}

/// Every process of this machine (kernel threads, which have no environment and no
/// program, are left out), sorted by PID.
pub fn processes(is_tls_var: impl Fn(&str) -> bool) -> (Vec<Process>, Vec<Skipped>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return (out, skipped);
    };
    let mut pids: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let me = std::process::id();
    for pid in pids {
        if pid == me {
            continue;
        }
        let name = fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        let environ = match fs::read(format!("/proc/{pid}/environ")) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // exited
            Err(e) => {
                skipped.push(Skipped {
                    pid,
                    why: format!("{name}: environment: {}", describe_io(&e)),
                });
                continue;
            }
        };
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        if environ.is_empty() && exe.is_none() {
            continue; // a kernel thread
        }
        let root = match fs::metadata(format!("/proc/{pid}/root")) {
            Ok(md) => (md.dev(), md.ino()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(Skipped {
                    pid,
                    why: format!("{name}: root: {}", describe_io(&e)),
                });
                continue;
            }
        };
        let tls_env = parse_environ(&environ)
            .into_iter()
            .filter(|(k, _)| is_tls_var(k))
            .collect();
        out.push(Process {
            pid,
            name,
            root,
            exe: exe.filter(|p| !p.to_string_lossy().ends_with(" (deleted)")),
            tls_env,
        });
    }
    (out, skipped)
}
