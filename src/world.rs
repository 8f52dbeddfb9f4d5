//! The World: a filesystem root plus an environment. Every file read and every
//! environment lookup that belongs to the evaluated system goes through it, so the tool
//! can answer for the host, an unpacked image (`--root`), another process (`--pid`), or a
//! test fixture, and never for anything else by accident.
//!
//! Paths inside the World are absolute paths *as seen by a process living there*.
//! Symlinks met while resolving them are followed inside the root: an absolute link
//! target is taken relative to the root, `..` never climbs above it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Largest file the World will read (anything bigger is reported, not loaded).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Symlink hops before a path is declared a loop (Linux uses 40).
const MAX_LINK_HOPS: usize = 40;

/// Where a World came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldKind {
    /// This machine: `/` and the process environment.
    Host,
    /// `--root DIR`: an unpacked image, with the process environment (or `--env`).
    Root,
    /// `--pid N`: `/proc/N/root` and `/proc/N/environ`.
    Pid(u32),
    /// Built explicitly (tests).
    Fixture,
}

#[derive(Debug, Clone)]
pub struct World {
    root: PathBuf,
    env: BTreeMap<String, String>,
    kind: WorldKind,
}

/// An error resolving a path inside the World.
#[derive(Debug)]
pub enum ResolveError {
    Io(io::Error),
    /// More than 40 symlinks: a loop.
    Loop,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Io(e) => write!(f, "{}", describe_io(e)),
            ResolveError::Loop => write!(f, "too many levels of symbolic links (a symlink loop)"),
        }
    }
}

impl From<ResolveError> for io::Error {
    fn from(e: ResolveError) -> io::Error {
        match e {
            ResolveError::Io(e) => e,
            ResolveError::Loop => io::Error::other("too many levels of symbolic links (a symlink loop)"),
        }
    }
}

/// Read a file named on the command line (a host path, read as the user typed it); `-` is
/// standard input (read once: a second `-` on the same command line gets the same bytes).
/// Capped at [`MAX_FILE_BYTES`]: `/dev/zero`, `/dev/urandom` or a huge file is a clear
/// error, never an endless read; pipes and `/dev/stdin` work.
pub fn read_host_file(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("-") {
        return read_stdin_once();
    }
    let f = fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::from_raw_os_error(21));
    }
    read_capped(f)
}

/// Standard input, read to its end once and kept for the rest of the run.
fn read_stdin_once() -> io::Result<Vec<u8>> {
    static STDIN: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    STDIN
        .get_or_init(|| read_capped(io::stdin().lock()).map_err(|e| describe_io(&e)))
        .clone()
        .map_err(|e| io::Error::other(format!("standard input: {e}")))
}

fn read_capped(f: impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::other(format!(
            "larger than {} MiB: not a certificate or spec file",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(buf)
}

/// A short, stable description of an I/O error for reports ("no such file", …).
pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            if e.raw_os_error() == Some(21) {
                "is a directory".into()
            } else if e.raw_os_error() == Some(20) {
                "not a directory".into()
            } else if e.raw_os_error() == Some(40) {
                "too many levels of symbolic links (a symlink loop)".into()
            } else {
                e.to_string()
            }
        }
    }
}

/// One entry of a directory listing inside the World.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// The path as seen inside the World (`/etc/ssl/certs/abcd1234.0`).
    pub path: PathBuf,
    /// `Some(target)` if the entry itself is a symlink (target as written in the link).
    pub link_target: Option<PathBuf>,
}

/// What a path is, after following symlinks inside the World.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Dir,
    Other,
}

impl World {
    /// This machine, as the tool's own process sees it.
    pub fn host() -> World {
        World {
            root: PathBuf::from("/"),
            env: host_env(),
            kind: WorldKind::Host,
        }
    }

    /// An unpacked image at `root`, with the given environment.
    pub fn with_root(root: impl Into<PathBuf>, env: BTreeMap<String, String>) -> World {
        World {
            root: root.into(),
            env,
            kind: WorldKind::Root,
        }
    }

    /// A test World: a fixture tree and an explicit environment, nothing from the host.
    pub fn fixture(root: impl Into<PathBuf>, env: &[(&str, &str)]) -> World {
        World {
            root: root.into(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            kind: WorldKind::Fixture,
        }
    }

    /// Another process: `/proc/PID/root` and `/proc/PID/environ`.
    pub fn from_pid(pid: u32) -> anyhow::Result<World> {
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
        Ok(World {
            root,
            env,
            kind: WorldKind::Pid(pid),
        })
    }

    /// Apply `--env KEY=VALUE` overrides ("what if"). An empty value sets the variable to
    /// the empty string (which Go and OpenSSL treat as unset).
    pub fn with_overrides<I: IntoIterator<Item = (String, String)>>(mut self, kv: I) -> World {
        for (k, v) in kv {
            self.env.insert(k, v);
        }
        self
    }

    /// Remove a variable (tests, `--env KEY` without `=`).
    pub fn without(mut self, key: &str) -> World {
        self.env.remove(key);
        self
    }

    pub fn kind(&self) -> &WorldKind {
        &self.kind
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A human label: "this machine", "root /img", "process 1".
    pub fn label(&self) -> String {
        match &self.kind {
            WorldKind::Host => "this machine".into(),
            WorldKind::Root => format!("root {}", self.root.display()),
            WorldKind::Pid(p) => format!("process {p}"),
            WorldKind::Fixture => format!("fixture {}", self.root.display()),
        }
    }

    /// The raw value of an environment variable, if set (possibly empty).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// The value if set *and* non-empty: how Go and OpenSSL read `SSL_CERT_FILE` & co.
    pub fn var_nonempty(&self, key: &str) -> Option<&str> {
        self.var(key).filter(|v| !v.is_empty())
    }

    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Map a World path to a host path, without following any symlink.
    fn host_path_lexical(&self, p: &Path) -> PathBuf {
        let mut out = self.root.clone();
        for c in p.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::ParentDir | Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
        out
    }

    /// Resolve a World path to a host path, following every symlink inside the root.
    /// Relative paths are taken from the World's `/`.
    pub fn resolve(&self, p: &Path) -> Result<PathBuf, ResolveError> {
        self.resolve_inner(p, true).map(|(host, _)| host)
    }

    /// Resolve all but the last component (for lstat-like questions).
    fn resolve_parent(&self, p: &Path) -> Result<PathBuf, ResolveError> {
        self.resolve_inner(p, false).map(|(host, _)| host)
    }

    /// Returns (host path, canonical World path).
    fn resolve_inner(&self, p: &Path, follow_last: bool) -> Result<(PathBuf, PathBuf), ResolveError> {
        // Work list of components still to walk; `cur` is the canonical World path so far.
        let mut pending: Vec<std::ffi::OsString> = Vec::new();
        push_components(&mut pending, p);
        let mut cur: Vec<std::ffi::OsString> = Vec::new();
        let mut hops = 0usize;
        while let Some(c) = pending.pop() {
            if c == OsStr::new("..") {
                cur.pop();
                continue;
            }
            if c == OsStr::new(".") {
                continue;
            }
            cur.push(c);
            let is_last = pending.is_empty();
            if is_last && !follow_last {
                break;
            }
            let host = self.host_of(&cur);
            match fs::symlink_metadata(&host) {
                Ok(md) if md.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(ResolveError::Loop);
                    }
                    let target = fs::read_link(&host).map_err(ResolveError::Io)?;
                    cur.pop();
                    if target.is_absolute() {
                        cur.clear();
                    }
                    push_components(&mut pending, &target);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // The rest cannot exist either; report the lexical result.
                    while let Some(rest) = pending.pop() {
                        cur.push(rest);
                    }
                    let host = self.host_of(&cur);
                    return Ok((host, world_of(&cur)));
                }
                Err(e) => return Err(ResolveError::Io(e)),
            }
        }
        Ok((self.host_of(&cur), world_of(&cur)))
    }

    fn host_of(&self, comps: &[std::ffi::OsString]) -> PathBuf {
        let mut out = self.root.clone();
        for c in comps {
            out.push(c);
        }
        out
    }

    /// Both at once: (host path, canonical World path), following every symlink.
    pub fn resolve_both(&self, p: &Path) -> Result<(PathBuf, PathBuf), ResolveError> {
        self.resolve_inner(p, true)
    }

    /// The canonical World path of `p` (symlinks followed inside the root).
    pub fn canonical(&self, p: &Path) -> Result<PathBuf, ResolveError> {
        self.resolve_inner(p, true).map(|(_, w)| w)
    }

    /// Read a whole file (following symlinks inside the World), refusing anything over
    /// [`MAX_FILE_BYTES`].
    pub fn read(&self, p: &Path) -> io::Result<Vec<u8>> {
        self.read_capped(p, MAX_FILE_BYTES)
    }

    /// Read a whole file, refusing anything over `cap` bytes.
    pub fn read_capped(&self, p: &Path, cap: u64) -> io::Result<Vec<u8>> {
        let host = self.resolve(p)?;
        let f = fs::File::open(&host)?;
        let md = f.metadata()?;
        if md.is_dir() {
            return Err(io::Error::from_raw_os_error(21));
        }
        if md.len() > cap {
            return Err(io::Error::other(format!(
                "file is {} bytes, larger than the {} byte limit",
                md.len(),
                cap
            )));
        }
        let mut buf = Vec::with_capacity(md.len() as usize);
        f.take(cap + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > cap {
            return Err(io::Error::other(format!(
                "file is larger than the {cap} byte limit"
            )));
        }
        Ok(buf)
    }

    /// What `p` is after following symlinks.
    pub fn file_type(&self, p: &Path) -> io::Result<FileType> {
        let host = self.resolve(p)?;
        let md = fs::metadata(&host)?;
        Ok(if md.is_file() {
            FileType::File
        } else if md.is_dir() {
            FileType::Dir
        } else {
            FileType::Other
        })
    }

    /// Metadata after following symlinks inside the World.
    pub fn metadata(&self, p: &Path) -> io::Result<fs::Metadata> {
        let host = self.resolve(p)?;
        fs::metadata(host)
    }

    pub fn exists(&self, p: &Path) -> bool {
        self.metadata(p).is_ok()
    }

    /// The link target of `p` itself, if `p` is a symlink.
    pub fn read_link(&self, p: &Path) -> io::Result<Option<PathBuf>> {
        let host = self.resolve_parent(p)?;
        match fs::symlink_metadata(&host) {
            Ok(md) if md.file_type().is_symlink() => Ok(Some(fs::read_link(&host)?)),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// List a directory (following symlinks to reach it), sorted by name.
    pub fn read_dir(&self, p: &Path) -> io::Result<Vec<Entry>> {
        let host = self.resolve(p)?;
        let canon = self.canonical(p).unwrap_or_else(|_| p.to_path_buf());
        let mut out = Vec::new();
        for e in fs::read_dir(&host)? {
            let e = e?;
            let name_os = e.file_name();
            let name = String::from_utf8_lossy(name_os.as_bytes()).into_owned();
            let link_target = match e.file_type() {
                Ok(t) if t.is_symlink() => fs::read_link(e.path()).ok(),
                _ => None,
            };
            out.push(Entry {
                path: canon.join(&name_os),
                name,
                link_target,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Is this World path writable by the evaluated process? (Best effort: mode bits and
    /// read-only mounts as seen by us.)
    pub fn is_writable_dir(&self, p: &Path) -> bool {
        match self.resolve(p) {
            Ok(host) => {
                use std::os::unix::fs::PermissionsExt;
                match fs::metadata(&host) {
                    Ok(md) => md.is_dir() && md.permissions().mode() & 0o200 != 0,
                    Err(_) => false,
                }
            }
            Err(_) => false,
        }
    }

    /// The host path for display purposes only (never used to read).
    pub fn host_path_for_display(&self, p: &Path) -> PathBuf {
        self.host_path_lexical(p)
    }
}

fn push_components(pending: &mut Vec<std::ffi::OsString>, p: &Path) {
    let comps: Vec<std::ffi::OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    for c in comps.into_iter().rev() {
        pending.push(c);
    }
}

fn world_of(comps: &[std::ffi::OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for c in comps {
        p.push(c);
    }
    p
}

fn host_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k.as_bytes()).into_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc/ssl/certs")).unwrap();
        fs::create_dir_all(r.join("usr/share/ca")).unwrap();
        fs::write(r.join("usr/share/ca/a.crt"), b"A").unwrap();
        symlink("/usr/share/ca/a.crt", r.join("etc/ssl/certs/a.pem")).unwrap();
        symlink(
            "../../../../../../usr/share/ca/a.crt",
            r.join("etc/ssl/certs/b.pem"),
        )
        .unwrap();
        let w = World::fixture(r, &[]);
        assert_eq!(w.read(Path::new("/etc/ssl/certs/a.pem")).unwrap(), b"A");
        assert_eq!(w.read(Path::new("/etc/ssl/certs/b.pem")).unwrap(), b"A");
        assert_eq!(
            w.canonical(Path::new("/etc/ssl/certs/a.pem")).unwrap(),
            PathBuf::from("/usr/share/ca/a.crt")
        );
    }

    #[test]
    fn symlink_loops_are_an_error_not_a_hang() {
        let d = tempfile::tempdir().unwrap();
        symlink("b", d.path().join("a")).unwrap();
        symlink("a", d.path().join("b")).unwrap();
        let w = World::fixture(d.path(), &[]);
        assert!(matches!(w.resolve(Path::new("/a")), Err(ResolveError::Loop)));
        let e = w.read(Path::new("/a")).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }

    #[test]
    fn env_is_explicit() {
        let w = World::fixture("/nonexistent", &[("SSL_CERT_FILE", "")]);
        assert_eq!(w.var("SSL_CERT_FILE"), Some(""));
        assert_eq!(w.var_nonempty("SSL_CERT_FILE"), None);
        assert_eq!(w.var("HOME"), None);
    }
}
