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
        _ if gone(&e) => {
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
    /// `/proc/N/root` as the kernel names it from here (a chroot's directory; `/` for the
    /// host and for a container in another mount namespace).
    pub root_path: PathBuf,
    /// The program (`/proc/N/exe`, as a path inside its root), when readable.
    pub exe: Option<PathBuf>,
    /// Device and inode of the program file (the same program in any root).
    pub exe_id: Option<(u64, u64)>,
    /// The variables that decide trust in some runtime, as set in its environment.
    pub tls_env: BTreeMap<String, String>,
    /// Its cgroup (`0::/kubepods.slice/…/cri-containerd-….scope` names a container).
    pub cgroup: Option<String>,
}

/// Why a process could not be examined (`--all-processes` reports these too).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub pid: u32,
    pub name: String,
    pub why: String,
}

/// Is this a kernel thread (no program, no environment, nothing to ask)? `PF_KTHREAD` in
/// the flags of `/proc/N/stat` (the ninth field; the command name before it may hold
/// spaces and parentheses, so the fields are counted after its closing parenthesis).
fn is_kernel_thread(pid: u32) -> Option<bool> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let flags: u64 = after.split_whitespace().nth(6)?.parse().ok()?;
    Some(flags & PF_KTHREAD != 0)
}

/// The hint for a process we may not read.
pub const PERMISSION_HINT: &str = "reading another user's process needs CAP_SYS_PTRACE \
    (the kernel's ptrace read check on /proc/N/environ, root, exe, maps) and \
    CAP_DAC_READ_SEARCH (/proc/N/environ is readable by its owner only, and so may be \
    files inside its root)";

/// Every process of this machine but this one (kernel threads are left out), sorted by
/// PID, and the ones that could not be read with why. A process that exits while it is
/// being read is simply not listed.
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
        match is_kernel_thread(pid) {
            None => continue, // exited
            Some(true) => continue,
            Some(false) => {}
        }
        let name = fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        let unreadable = |what: &str, e: &io::Error| Skipped {
            pid,
            name: name.clone(),
            why: if e.kind() == io::ErrorKind::PermissionDenied {
                format!("{what}: permission denied ({PERMISSION_HINT})")
            } else {
                format!("{what}: {}", describe_io(e))
            },
        };
        let environ = match fs::read(format!("/proc/{pid}/environ")) {
            Ok(e) => e,
            Err(e) if gone(&e) => continue,
            Err(e) => {
                skipped.push(unreadable(&format!("/proc/{pid}/environ"), &e));
                continue;
            }
        };
        let (root, root_path) = match (
            fs::metadata(format!("/proc/{pid}/root")),
            fs::read_link(format!("/proc/{pid}/root")),
        ) {
            (Ok(md), Ok(p)) => ((md.dev(), md.ino()), p),
            (Err(e), _) | (_, Err(e)) if gone(&e) => continue,
            (Err(e), _) | (_, Err(e)) => {
                skipped.push(unreadable(&format!("/proc/{pid}/root"), &e));
                continue;
            }
        };
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        let exe_id = fs::metadata(format!("/proc/{pid}/exe"))
            .ok()
            .map(|md| (md.dev(), md.ino()));
        let tls_env = parse_environ(&environ)
            .into_iter()
            .filter(|(k, _)| is_tls_var(k))
            .collect();
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|c| {
                c.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_string))
                    .or_else(|| c.lines().next().map(str::to_string))
            });
        out.push(Process {
            pid,
            name,
            root,
            root_path,
            exe: exe.map(|p| {
                let s = p.to_string_lossy();
                match s.strip_suffix(" (deleted)") {
                    Some(t) => PathBuf::from(t),
                    None => p,
                }
            }),
            exe_id,
            tls_env,
            cgroup,
        });
    }
    (out, skipped)
}

/// The process is gone (`ENOENT`, or `ESRCH` from a half-reaped one).
fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3)
}
