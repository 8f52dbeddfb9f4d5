//! The World: a filesystem plus an environment. Every file read and every environment
//! lookup that belongs to the evaluated system goes through it, so the tool can answer for
//! the host, an unpacked image (`--root`), another process (`--pid`), a container image
//! read in place (`--image`), a Kubernetes pod before it is deployed (`--manifest`), or a
//! test fixture, and never for anything else by accident.
//!
//! Paths inside the World are absolute paths *as seen by a process living there*.
//! Symlinks met while resolving them are followed inside the World: an absolute link
//! target is taken relative to its `/`, `..` never climbs above it.
//!
//! Sources: [`host`] (this machine), [`root`] (a directory tree), [`pid`] (another
//! process, and every process: `--all-processes`), [`image`] (OCI layouts and archives,
//! docker-archives: layers indexed in memory, never unpacked), [`manifest`] (a pod's
//! environment and volumes applied on top of an image).

pub mod host;
pub mod image;
pub mod manifest;
pub mod pid;
pub mod root;
pub mod tree;

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use tree::{Content, NodeKind, Tree};

pub use root::{describe_io, read_host_file};

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
    /// `--image PATH`: a container image read in place (the label names it).
    Image(String),
    /// `--manifest`: a Kubernetes pod's container over its image (the label names it).
    Pod(String),
    /// Built explicitly (tests).
    Fixture,
}

/// The filesystem under the mounts.
#[derive(Debug, Clone)]
enum Base {
    /// A directory of this machine taken as `/`.
    Dir(PathBuf),
    /// A container image's merged layers.
    Image(Arc<image::Image>),
}

/// A volume mounted over the base filesystem (Kubernetes `volumeMounts`).
#[derive(Debug, Clone)]
pub struct Mount {
    /// Canonical World path of the mount point, as components.
    at: Vec<OsString>,
    /// The volume's content.
    tree: Arc<Tree>,
    /// The key inside `tree` that appears at the mount point (`""`: the volume's root;
    /// a `subPath` otherwise).
    base: Vec<u8>,
    writable: bool,
}

#[derive(Debug, Clone)]
pub struct World {
    base: Base,
    mounts: Arc<Vec<Mount>>,
    env: BTreeMap<String, String>,
    kind: WorldKind,
    /// The program this World is evaluated for (a path inside the World), when known:
    /// `/proc/N/exe`, an image's entrypoint, `--exe`.
    exe: Option<PathBuf>,
    /// What the report must say about how this World was built (an init container's
    /// unknown output, the platform chosen from an index, …).
    notes: Vec<String>,
    /// Filesystem answers already obtained in this run (directory Worlds), by host path.
    memo: Arc<root::Memo>,
    /// What this run has read by World path (a mount changes what a path shows: a new
    /// mount starts afresh).
    views: Arc<Views>,
}

/// Caches keyed by World paths, shared by clones of one World (and so by threads).
#[derive(Default)]
struct Views {
    /// Whole files read through [`World::read_shared`].
    shared: Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>,
    /// One cache per type for other modules ([`World::view_cache`]).
    ext: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Views")
    }
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

/// One entry of a directory listing inside the World.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// The path as seen inside the World (`/etc/ssl/certs/abcd1234.0`).
    pub path: PathBuf,
    /// Whether the entry itself is a symlink ([`World::read_link`] reads its target: a
    /// listing reads no link, as most callers only look for names).
    pub is_link: bool,
}

/// What a path is, after following symlinks inside the World ([`World::lstat`] can also
/// answer `Symlink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Dir,
    Symlink,
    Other,
}

/// What `stat` says about a World path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub file_type: FileType,
    pub len: u64,
    /// Permission bits (`0o644`).
    pub mode: u32,
}

impl Meta {
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Dir
    }
    pub fn is_file(&self) -> bool {
        self.file_type == FileType::File
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type == FileType::Symlink
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

fn key_of(comps: &[OsString]) -> Vec<u8> {
    let mut k = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            k.push(b'/');
        }
        k.extend_from_slice(c.as_bytes());
    }
    k
}

fn join_key(base: &[u8], rest: &[OsString]) -> Vec<u8> {
    let mut k = base.to_vec();
    for c in rest {
        if !k.is_empty() {
            k.push(b'/');
        }
        k.extend_from_slice(c.as_bytes());
    }
    k
}

/// Where a canonical World path lives.
enum Loc<'a> {
    Base,
    Mounted(&'a Mount, Vec<u8>),
}

impl World {
    /// This machine, as the tool's own process sees it.
    pub fn host() -> World {
        World::new(Base::Dir(PathBuf::from("/")), host::env(), WorldKind::Host)
    }

    /// An unpacked image at `root`, with the given environment.
    pub fn with_root(root: impl Into<PathBuf>, env: BTreeMap<String, String>) -> World {
        World::new(Base::Dir(root.into()), env, WorldKind::Root)
    }

    /// A test World: a fixture tree and an explicit environment, nothing from the host.
    pub fn fixture(root: impl Into<PathBuf>, env: &[(&str, &str)]) -> World {
        World::new(
            Base::Dir(root.into()),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            WorldKind::Fixture,
        )
    }

    /// Another process: `/proc/PID/root` and `/proc/PID/environ`.
    pub fn from_pid(pid: u32) -> anyhow::Result<World> {
        pid::world(pid)
    }

    /// A container image read in place (see [`image`]): its merged layers, the config's
    /// `Env`, and its entrypoint as the program.
    pub fn from_image(path: &Path, platform: Option<&str>) -> anyhow::Result<World> {
        let img = image::Image::open(path, platform)?;
        let env = img.config.env.clone();
        let label = img.label.clone();
        let exe_args = img.config.program();
        let notes = img.notes.clone();
        let mut w = World::new(Base::Image(Arc::new(img)), env, WorldKind::Image(label));
        w.notes = notes;
        w.exe = exe_args.and_then(|a| w.find_program(&a));
        Ok(w)
    }

    fn new(base: Base, env: BTreeMap<String, String>, kind: WorldKind) -> World {
        World {
            base,
            mounts: Arc::new(Vec::new()),
            env,
            kind,
            exe: None,
            notes: Vec::new(),
            memo: Default::default(),
            views: Default::default(),
        }
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

    /// Replace the whole environment (a pod's container environment).
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> World {
        self.env = env;
        self
    }

    /// Mount `tree` (its subtree at `base`, `""` for all of it) at World path `at`, over
    /// whatever is there, as the kubelet mounts a volume. The mount point is resolved in
    /// the World as it is before this mount (runc resolves it inside the rootfs).
    pub fn with_mount(mut self, at: &Path, tree: Arc<Tree>, base: &[u8], writable: bool) -> World {
        let canon = self.canonical(at).unwrap_or_else(|_| at.to_path_buf());
        let mut comps = Vec::new();
        push_components(&mut comps, &canon);
        comps.reverse();
        let comps: Vec<OsString> = comps.into_iter().filter(|c| c != ".." && c != ".").collect();
        let mut mounts = (*self.mounts).clone();
        // A later mount at the same point hides the earlier one.
        mounts.retain(|m| m.at != comps);
        mounts.push(Mount {
            at: comps,
            tree,
            base: base.to_vec(),
            writable,
        });
        self.mounts = Arc::new(mounts);
        self.views = Default::default();
        self
    }

    /// Evaluate this program file (`--exe PATH`, a path inside the World): its build info
    /// decides the Go version and GODEBUG defaults modelled.
    pub fn with_exe(mut self, exe: impl Into<PathBuf>) -> World {
        self.exe = Some(exe.into());
        self
    }

    /// The program file being evaluated: `--exe`, an image's entrypoint, `/proc/N/exe`.
    pub fn exe(&self) -> Option<&Path> {
        self.exe.as_deref()
    }

    pub fn with_kind(mut self, kind: WorldKind) -> World {
        self.kind = kind;
        self
    }

    pub fn add_note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// What the report must say about how this World was built.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn kind(&self) -> &WorldKind {
        &self.kind
    }

    /// The directory taken as `/` (the image file for an image World).
    pub fn root(&self) -> &Path {
        match &self.base {
            Base::Dir(d) => d,
            Base::Image(i) => &i.path,
        }
    }

    /// A human label: "this machine", "root /img", "process 1", "image app.tar".
    pub fn label(&self) -> String {
        match &self.kind {
            WorldKind::Host => "this machine".into(),
            WorldKind::Root => format!("root {}", self.root().display()),
            WorldKind::Pid(p) => format!("process {p}"),
            WorldKind::Image(l) => format!("image {l}"),
            WorldKind::Pod(l) => format!("pod {l}"),
            WorldKind::Fixture => format!("fixture {}", self.root().display()),
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

    /// The path a shell's `exec` would run for `args[0]`: absolute as is, otherwise
    /// searched in the World's `PATH` (the default PATH when unset).
    pub fn find_program(&self, args: &[String]) -> Option<PathBuf> {
        let first = args.first()?;
        if first.contains('/') {
            return Some(Path::new("/").join(first));
        }
        let path = self
            .var("PATH")
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new("/").join(d).join(first))
            .find(|p| self.file_type(p).ok() == Some(FileType::File))
    }

    // ---- the filesystem primitives, on canonical paths (no symlink in any parent) ----

    fn locate(&self, comps: &[OsString]) -> Loc<'_> {
        let mut best: Option<&Mount> = None;
        for m in self.mounts.iter() {
            if comps.len() >= m.at.len()
                && comps[..m.at.len()] == m.at[..]
                && best.is_none_or(|b| m.at.len() >= b.at.len())
            {
                best = Some(m);
            }
        }
        match best {
            Some(m) => Loc::Mounted(m, join_key(&m.base, &comps[m.at.len()..])),
            None => Loc::Base,
        }
    }

    /// Is `comps` a directory above a mount point (created by the runtime if missing)?
    fn is_mount_ancestor(&self, comps: &[OsString]) -> bool {
        self.mounts
            .iter()
            .any(|m| m.at.len() > comps.len() && m.at[..comps.len()] == comps[..])
    }

    fn lstat_comps(&self, comps: &[OsString]) -> io::Result<Meta> {
        let r = match self.locate(comps) {
            Loc::Mounted(m, key) => tree_meta(&m.tree, &key),
            Loc::Base => match &self.base {
                Base::Dir(root) => root::lstat(&self.memo, root, comps),
                Base::Image(img) => tree_meta(&img.tree, &key_of(comps)),
            },
        };
        match r {
            Err(e) if self.is_mount_ancestor(comps) && e.kind() == io::ErrorKind::NotFound => Ok(Meta {
                file_type: FileType::Dir,
                len: 0,
                mode: 0o755,
            }),
            Ok(m) if !m.is_dir() && self.is_mount_ancestor(comps) => Ok(Meta {
                file_type: FileType::Dir,
                len: 0,
                mode: 0o755,
            }),
            r => r,
        }
    }

    fn readlink_comps(&self, comps: &[OsString]) -> io::Result<PathBuf> {
        let target = match self.locate(comps) {
            Loc::Mounted(m, key) => tree_link(&m.tree, &key)?,
            Loc::Base => match &self.base {
                Base::Dir(root) => return root::readlink(&self.memo, root, comps),
                Base::Image(img) => tree_link(&img.tree, &key_of(comps))?,
            },
        };
        Ok(PathBuf::from(OsStr::from_bytes(&target)))
    }

    fn read_comps(&self, comps: &[OsString], cap: u64) -> io::Result<Vec<u8>> {
        let (tree, key, img) = match self.locate(comps) {
            Loc::Mounted(m, key) => (&*m.tree, key, None),
            Loc::Base => match &self.base {
                Base::Dir(root) => return root::read(&self.memo, root, comps, cap),
                Base::Image(img) => (&img.tree, key_of(comps), Some(img)),
            },
        };
        let node = tree.get(&key).ok_or_else(not_found)?;
        let content = match &node.kind {
            NodeKind::File(c) => c,
            NodeKind::Dir => return Err(io::Error::from_raw_os_error(21)),
            NodeKind::Symlink(_) | NodeKind::Other => {
                return Err(io::Error::other("not a regular file (FIFO, socket or device)"))
            }
        };
        if node.size() > cap {
            return Err(too_big(node.size(), cap));
        }
        match content {
            Content::Bytes(b) => Ok(b.to_vec()),
            Content::Unknown(why) => Err(io::Error::other(format!("content unknown: {why}"))),
            Content::Layer { layer, offset, len } => match img {
                Some(img) => img.read_layer_range(*layer, *offset, *len),
                None => Err(io::Error::other("layer content outside an image")),
            },
        }
    }

    /// The names in a directory, each with whether it is a symlink.
    fn list_comps(&self, comps: &[OsString]) -> io::Result<Vec<(OsString, bool)>> {
        let mut out: BTreeMap<OsString, bool> = BTreeMap::new();
        let listed = match self.locate(comps) {
            Loc::Mounted(m, key) => tree_list(&m.tree, &key),
            Loc::Base => match &self.base {
                Base::Dir(root) => root::names(&self.memo, root, comps).map(|v| v.to_vec()),
                Base::Image(img) => tree_list(&img.tree, &key_of(comps)),
            },
        };
        match listed {
            Ok(v) => out.extend(v),
            Err(e) if !self.is_mount_ancestor(comps) => return Err(e),
            Err(_) => {}
        }
        // Mount points directly below this directory appear in it; so do the directories
        // leading to deeper ones, which the container runtime creates when the image lacks
        // them (a mount at /usr/local/share/x in an image without /usr/local).
        for m in self.mounts.iter() {
            if m.at.len() > comps.len() && m.at[..comps.len()] == comps[..] {
                let name = m.at[comps.len()].clone();
                if m.at.len() == comps.len() + 1 {
                    out.insert(name, tree_link(&m.tree, &m.base).is_ok());
                } else {
                    out.entry(name).or_insert(false);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    // ---- resolution ----

    /// Resolve `p` to its canonical World path (every symlink followed inside the World).
    /// Relative paths are taken from the World's `/`.
    pub fn resolve(&self, p: &Path) -> Result<PathBuf, ResolveError> {
        self.resolve_inner(p, true).map(|c| world_of(&c))
    }

    /// The canonical World path of `p` (symlinks followed inside the World).
    pub fn canonical(&self, p: &Path) -> Result<PathBuf, ResolveError> {
        self.resolve(p)
    }

    fn resolve_inner(&self, p: &Path, follow_last: bool) -> Result<Vec<OsString>, ResolveError> {
        // Work list of components still to walk; `cur` is the canonical World path so far.
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, p);
        let mut cur: Vec<OsString> = Vec::new();
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
            match self.lstat_comps(&cur) {
                Ok(md) if md.is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(ResolveError::Loop);
                    }
                    let target = self.readlink_comps(&cur).map_err(ResolveError::Io)?;
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
                        if rest == ".." {
                            cur.pop();
                        } else if rest != "." {
                            cur.push(rest);
                        }
                    }
                    return Ok(cur);
                }
                Err(e) => return Err(ResolveError::Io(e)),
            }
        }
        Ok(cur)
    }

    /// `lstat` of a path whose parent directories are canonical (no symlink among them):
    /// what [`crate::trust::loader`] asks after resolving each parent once.
    pub fn lstat(&self, canonical: &Path) -> io::Result<Meta> {
        self.lstat_comps(&comps_of(canonical))
    }

    /// The link target of a canonical path that [`World::lstat`] called a symlink.
    pub fn readlink_canonical(&self, canonical: &Path) -> io::Result<PathBuf> {
        self.readlink_comps(&comps_of(canonical))
    }

    /// Read a file at a canonical path (no symlink anywhere in it), capped at `cap` bytes.
    pub fn read_canonical(&self, canonical: &Path, cap: u64) -> io::Result<Vec<u8>> {
        self.read_comps(&comps_of(canonical), cap)
    }

    /// Read a whole file (following symlinks inside the World), refusing anything over
    /// [`MAX_FILE_BYTES`].
    pub fn read(&self, p: &Path) -> io::Result<Vec<u8>> {
        self.read_capped(p, MAX_FILE_BYTES)
    }

    /// Read a whole file, refusing anything over `cap` bytes.
    pub fn read_capped(&self, p: &Path, cap: u64) -> io::Result<Vec<u8>> {
        let c = self.resolve_inner(p, true)?;
        self.read_comps(&c, cap)
    }

    /// [`World::read_capped`], read once per run however often it is asked for (a file
    /// several detections consult, such as the package database).
    pub fn read_shared(&self, p: &Path, cap: u64) -> io::Result<Arc<Vec<u8>>> {
        let c = self.resolve_inner(p, true)?;
        let key = world_of(&c);
        let lock = || self.views.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = lock().get(&key) {
            return Ok(d.clone());
        }
        let d = Arc::new(self.read_comps(&c, cap)?);
        lock().insert(key, d.clone());
        Ok(d)
    }

    /// A cache of type `T` for this World (its clones and threads share it), for what
    /// other modules derive from World paths (the trust-file loader's parsed files).
    pub fn view_cache<T: Any + Default + Send + Sync>(&self) -> Arc<T> {
        let mut m = self.views.ext.lock().unwrap_or_else(|e| e.into_inner());
        let slot = m
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>)
            .clone();
        drop(m);
        slot.downcast::<T>().unwrap_or_else(|_| Arc::new(T::default()))
    }

    /// What `p` is after following symlinks.
    pub fn file_type(&self, p: &Path) -> io::Result<FileType> {
        Ok(self.metadata(p)?.file_type)
    }

    /// Metadata after following symlinks inside the World.
    pub fn metadata(&self, p: &Path) -> io::Result<Meta> {
        let c = self.resolve_inner(p, true)?;
        let md = self.lstat_comps(&c)?;
        if md.is_symlink() {
            // Only a dangling link survives resolution as a link.
            return Err(not_found());
        }
        Ok(md)
    }

    pub fn exists(&self, p: &Path) -> bool {
        self.metadata(p).is_ok()
    }

    /// The link target of `p` itself, if `p` is a symlink.
    pub fn read_link(&self, p: &Path) -> io::Result<Option<PathBuf>> {
        let c = self.resolve_inner(p, false)?;
        match self.lstat_comps(&c) {
            Ok(md) if md.is_symlink() => Ok(Some(self.readlink_comps(&c)?)),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// List a directory (following symlinks to reach it), sorted by name.
    pub fn read_dir(&self, p: &Path) -> io::Result<Vec<Entry>> {
        let c = self.resolve_inner(p, true)?;
        let md = self.lstat_comps(&c)?;
        if !md.is_dir() {
            return Err(io::Error::from_raw_os_error(20));
        }
        let canon = world_of(&c);
        let mut out: Vec<Entry> = self
            .list_comps(&c)?
            .into_iter()
            .map(|(name_os, is_link)| Entry {
                path: canon.join(&name_os),
                name: String::from_utf8_lossy(name_os.as_bytes()).into_owned(),
                is_link,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Is this World path writable by the evaluated process? (Best effort: mode bits and
    /// read-only mounts as seen by us.)
    pub fn is_writable_dir(&self, p: &Path) -> bool {
        let Ok(c) = self.resolve_inner(p, true) else {
            return false;
        };
        if let Loc::Mounted(m, _) = self.locate(&c) {
            if !m.writable {
                return false;
            }
        }
        match self.lstat_comps(&c) {
            Ok(md) => md.is_dir() && md.mode & 0o200 != 0,
            Err(_) => false,
        }
    }

    /// The host path for display purposes only (never used to read).
    pub fn host_path_for_display(&self, p: &Path) -> PathBuf {
        match &self.base {
            Base::Dir(root) => {
                let mut out = root.clone();
                for c in comps_of(p) {
                    out.push(c);
                }
                out
            }
            Base::Image(_) => p.to_path_buf(),
        }
    }
}

fn too_big(len: u64, cap: u64) -> io::Error {
    io::Error::other(format!("file is {len} bytes, larger than the {cap} byte limit"))
}

fn tree_meta(t: &Tree, key: &[u8]) -> io::Result<Meta> {
    let n = t.get(key).ok_or_else(not_found)?;
    let file_type = match &n.kind {
        NodeKind::File(_) => FileType::File,
        NodeKind::Dir => FileType::Dir,
        NodeKind::Symlink(_) => FileType::Symlink,
        NodeKind::Other => FileType::Other,
    };
    Ok(Meta {
        file_type,
        len: n.size(),
        mode: n.mode & 0o7777,
    })
}

fn tree_link(t: &Tree, key: &[u8]) -> io::Result<Vec<u8>> {
    match t.get(key).map(|n| &n.kind) {
        Some(NodeKind::Symlink(target)) => Ok(target.clone()),
        Some(_) => Err(io::Error::from_raw_os_error(22)),
        None => Err(not_found()),
    }
}

fn tree_list(t: &Tree, key: &[u8]) -> io::Result<Vec<(OsString, bool)>> {
    match t.get(key).map(|n| &n.kind) {
        Some(NodeKind::Dir) => {}
        Some(_) => return Err(io::Error::from_raw_os_error(20)),
        None => return Err(not_found()),
    }
    Ok(t.children(key)
        .into_iter()
        .map(|name| {
            let mut k = key.to_vec();
            if !k.is_empty() {
                k.push(b'/');
            }
            k.extend_from_slice(&name);
            (OsStr::from_bytes(&name).to_os_string(), tree_link(t, &k).is_ok())
        })
        .collect())
}

fn comps_of(p: &Path) -> Vec<OsString> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn push_components(pending: &mut Vec<OsString>, p: &Path) {
    let comps: Vec<OsString> = p
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

fn world_of(comps: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for c in comps {
        p.push(c);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
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
