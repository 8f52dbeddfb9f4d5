//! Shared reading: every World file is read and parsed once, and every distinct
//! certificate is decoded once, however many runtimes look at it (Go, OpenSSL and rustls
//! usually read the same bundle).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::world::{describe_io, Entry, Meta, ResolveError, World, MAX_FILE_BYTES};
use crate::x509::CertInfo;

use super::auxtrust::AuxTrust;
use super::pem::{self, Shape};

/// Why a path could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadErr {
    Missing,
    IsDir,
    NotDir,
    /// A FIFO, socket or device: never opened (it could block).
    NotRegular,
    TooBig(u64),
    /// Reading it would pass [`MAX_TOTAL_BYTES`] for the run.
    Budget(u64),
    Loop,
    Denied,
    Other(String),
}

impl ReadErr {
    pub fn describe(&self) -> String {
        match self {
            ReadErr::Missing => "no such file or directory".into(),
            ReadErr::IsDir => "is a directory".into(),
            ReadErr::NotDir => "not a directory".into(),
            ReadErr::NotRegular => "not a regular file (FIFO, socket or device): not opened".into(),
            ReadErr::TooBig(n) => format!(
                "{} MB, larger than the {} MiB limit: not read",
                n / 1_000_000,
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            ReadErr::Budget(n) => format!(
                "not read: its {} MB would take the trust files read in this run past {} MiB",
                n / 1_000_000,
                MAX_TOTAL_BYTES / (1024 * 1024)
            ),
            ReadErr::Loop => "too many levels of symbolic links (a symlink loop)".into(),
            ReadErr::Denied => "permission denied".into(),
            ReadErr::Other(s) => s.clone(),
        }
    }

    fn from_io(e: &io::Error) -> ReadErr {
        match e.kind() {
            io::ErrorKind::NotFound => ReadErr::Missing,
            io::ErrorKind::PermissionDenied => ReadErr::Denied,
            _ => match e.raw_os_error() {
                Some(21) => ReadErr::IsDir,
                Some(20) => ReadErr::NotDir,
                Some(40) => ReadErr::Loop,
                _ => ReadErr::Other(describe_io(e)),
            },
        }
    }

    fn from_resolve(e: ResolveError) -> ReadErr {
        match e {
            ResolveError::Loop => ReadErr::Loop,
            ResolveError::Io(e) => ReadErr::from_io(&e),
        }
    }
}

/// A PEM block (or the whole DER file) with its certificate, when it holds one.
#[derive(Debug, Clone)]
pub struct Block {
    pub index: Option<usize>,
    pub line: Option<usize>,
    pub label: String,
    pub has_headers: bool,
    /// For certificate labels: the decoded certificate or why it failed (base64 or X.509).
    /// For other labels: None (or Some(Err) when the base64 itself was bad).
    pub cert: Option<Result<Arc<CertInfo>, String>>,
    /// `TRUSTED CERTIFICATE` blocks: the auxiliary trust settings after the certificate.
    pub aux_trust: Option<AuxTrust>,
}

impl Block {
    pub fn is_cert_label(&self) -> bool {
        pem::is_openssl_cert_label(&self.label)
    }
}

/// A file read from the World.
#[derive(Debug)]
pub struct FileContent {
    /// Canonical World path (symlinks followed).
    pub resolved: PathBuf,
    pub size: usize,
    pub shape: Shape,
    /// PEM blocks; for a DER certificate file, one block labelled `DER`. Every block
    /// holding a certificate, and the first [`MAX_OTHER_BLOCKS`] others.
    pub blocks: Vec<Block>,
    /// Blocks without a certificate past the first [`MAX_OTHER_BLOCKS`]: counted, not kept.
    pub omitted_blocks: usize,
}

impl FileContent {
    /// Certificates of `CERTIFICATE` blocks without headers that decode: what Go and rustls
    /// take from a PEM file.
    pub fn pem_certificates(&self) -> impl Iterator<Item = (&Block, &Arc<CertInfo>)> {
        self.blocks
            .iter()
            .filter_map(|b| match (&b.cert, b.label.as_str(), b.has_headers) {
                (Some(Ok(c)), "CERTIFICATE", false) => Some((b, c)),
                _ => None,
            })
    }

    /// Certificate blocks (`CERTIFICATE`, `TRUSTED CERTIFICATE`, …) that do not decode.
    pub fn bad_cert_blocks(&self) -> impl Iterator<Item = (&Block, &str)> {
        self.blocks.iter().filter_map(|b| match &b.cert {
            Some(Err(e)) if b.label != "DER" && b.is_cert_label() => Some((b, e.as_str())),
            _ => None,
        })
    }

    /// Blocks OpenSSL's `PEM_X509_INFO_read_bio` fails on: certificate blocks that do not
    /// decode, and any block whose base64 is broken.
    pub fn openssl_fatal_blocks(&self) -> impl Iterator<Item = (&Block, &str)> {
        self.blocks.iter().filter_map(|b| match &b.cert {
            Some(Err(e)) if b.label != "DER" => Some((b, e.as_str())),
            _ => None,
        })
    }
}

/// Blocks without a certificate (keys, broken blocks, other labels) kept per file; the
/// rest are counted in [`FileContent::omitted_blocks`].
pub const MAX_OTHER_BLOCKS: usize = 1000;
/// Failed certificate decodings remembered.
const MAX_CACHED_ERRORS: usize = 1000;
/// Decoded certificates remembered per process (a run reads at most [`MAX_TOTAL_BYTES`]
/// per World; `--all-processes` and `check` evaluate many Worlds that mostly share them).
const MAX_CACHED_CERTS: usize = 200_000;

#[derive(Default)]
struct Decoded {
    map: super::fasthash::FastMap<Vec<u8>, CertResult>,
    errors: usize,
}

/// The process's decoded certificates: without, then with the self-signature check.
fn decoded() -> &'static [std::sync::Mutex<Decoded>; 2] {
    static D: std::sync::OnceLock<[std::sync::Mutex<Decoded>; 2]> = std::sync::OnceLock::new();
    D.get_or_init(Default::default)
}
/// Decode a certificate, once per distinct DER (and `check_self_signature`) in this
/// process: the stores, the issuer evidence, `--find`, and each chain a server presents
/// (`check`: thousands of targets presenting the same chain).
pub fn decode(der: &[u8], check_self_signature: bool) -> Result<Arc<CertInfo>, String> {
    let cache = &decoded()[usize::from(check_self_signature)];
    let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = lock().map.get(der) {
        return c.clone();
    }
    let r = CertInfo::from_der_opts(der, check_self_signature)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    let mut c = lock();
    let room = c.map.len() < MAX_CACHED_CERTS;
    if room && (r.is_ok() || c.errors < MAX_CACHED_ERRORS) {
        c.errors += usize::from(r.is_err());
        c.map.insert(der.to_vec(), r.clone());
    }
    r
}

/// The most one run reads from a World's trust files in total (each file is also capped
/// at [`MAX_FILE_BYTES`]): a directory or image of many big files is bounded as a whole.
pub const MAX_TOTAL_BYTES: u64 = 2 * MAX_FILE_BYTES;

pub type Loaded = Arc<Result<FileContent, ReadErr>>;
/// A cached directory listing.
pub type Listing = Arc<Result<Vec<Entry>, ReadErr>>;
type CertResult = Result<Arc<CertInfo>, String>;
/// (canonical World path, twice: the reading key and the reported path).
type Resolved = Result<(PathBuf, PathBuf), ReadErr>;

/// What the Loaders of one World share (with and without the self-signature check):
/// the stores resolved while `connect` waits for the server, the issuer evidence search
/// and `--find` read the same files once.
#[derive(Default)]
pub struct Shared {
    caches: [Caches; 2],
    /// Bytes read so far by every Loader of this World, against [`MAX_TOTAL_BYTES`].
    read_bytes: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Caches {
    files: Mutex<HashMap<PathBuf, Loaded>>,
    dirs: Mutex<HashMap<PathBuf, Listing>>,
    parents: Mutex<HashMap<PathBuf, Resolved>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The cache shared by the runtimes resolved together.
pub struct Loader<'w> {
    pub world: &'w World,
    check_self_signature: bool,
    shared: Arc<Shared>,
}

impl<'w> Loader<'w> {
    pub fn new(world: &'w World, check_self_signature: bool) -> Loader<'w> {
        Loader {
            world,
            check_self_signature,
            shared: world.view_cache::<Shared>(),
        }
    }

    /// Whether certificates are decoded with their self-signature checked.
    pub fn checks_self_signature(&self) -> bool {
        self.check_self_signature
    }

    fn caches(&self) -> &Caches {
        &self.shared.caches[usize::from(self.check_self_signature)]
    }

    /// Decode a certificate, once per distinct DER in this process: the runtimes' stores
    /// (resolved on another thread while `connect` waits for the server), the issuer
    /// evidence search and `--find` all read the same bundles.
    pub fn cert(&self, der: &[u8]) -> Result<Arc<CertInfo>, String> {
        decode(der, self.check_self_signature)
    }

    /// (canonical World path, canonical World path) of `p`, following symlinks inside the
    /// World like [`World::resolve`], but resolving each parent directory only once.
    pub fn resolve(&self, p: &Path) -> Result<(PathBuf, PathBuf), ReadErr> {
        self.resolve_hops(p, 0)
    }

    fn resolve_hops(&self, p: &Path, hops: usize) -> Result<(PathBuf, PathBuf), ReadErr> {
        if hops > 40 {
            return Err(ReadErr::Loop);
        }
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            return self
                .world
                .resolve(p)
                .map(|c| (c.clone(), c))
                .map_err(ReadErr::from_resolve);
        };
        if name == ".." || name == "." || !p.is_absolute() {
            return self
                .world
                .resolve(p)
                .map(|c| (c.clone(), c))
                .map_err(ReadErr::from_resolve);
        }
        let cached = locked(&self.caches().parents).get(parent).cloned();
        let (_, cp) = match cached {
            Some(r) => r?,
            None => {
                let r = self
                    .world
                    .resolve(parent)
                    .map(|c| (c.clone(), c))
                    .map_err(ReadErr::from_resolve);
                locked(&self.caches().parents).insert(parent.to_path_buf(), r.clone());
                r?
            }
        };
        let h = cp.join(name);
        match self.world.lstat(&h) {
            Ok(md) if md.is_symlink() => {
                let t = self
                    .world
                    .readlink_canonical(&h)
                    .map_err(|e| ReadErr::from_io(&e))?;
                let next = if t.is_absolute() { t } else { cp.join(t) };
                self.resolve_hops(&next, hops + 1)
            }
            Ok(_) => Ok((h.clone(), h)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((h.clone(), h)),
            Err(e) => Err(ReadErr::from_io(&e)),
        }
    }

    /// What is at `p` (after symlinks), without opening it.
    pub fn kind(&self, p: &Path) -> Result<Meta, ReadErr> {
        let (canon, _) = self.resolve(p)?;
        match self.world.lstat(&canon) {
            Ok(md) if md.is_symlink() => Err(ReadErr::Missing),
            Ok(md) => Ok(md),
            Err(e) => Err(ReadErr::from_io(&e)),
        }
    }

    /// Read and parse a file (cached by World path).
    /// The same file reached by several names (Debian: `x.pem`, `abcd1234.0`, the target in
    /// /usr/share/ca-certificates) is read once.
    pub fn file(&self, p: &Path) -> Loaded {
        let hit = locked(&self.caches().files).get(p).cloned();
        if let Some(f) = hit {
            return f;
        }
        let r = match self.resolve(p) {
            Err(e) => Arc::new(Err(e)),
            Ok((host, resolved)) => {
                let hit = locked(&self.caches().files).get(&resolved).cloned();
                match hit {
                    Some(f) => f,
                    None => {
                        let r = Arc::new(self.load(host, resolved.clone()));
                        locked(&self.caches().files).insert(resolved, r.clone());
                        r
                    }
                }
            }
        };
        locked(&self.caches().files).insert(p.to_path_buf(), r.clone());
        r
    }

    fn load(&self, canon: PathBuf, resolved: PathBuf) -> Result<FileContent, ReadErr> {
        let md = match self.world.lstat(&canon) {
            Ok(md) if md.is_symlink() => return Err(ReadErr::Missing),
            Ok(md) => md,
            Err(e) => return Err(ReadErr::from_io(&e)),
        };
        if md.is_dir() {
            return Err(ReadErr::IsDir);
        }
        if !md.is_file() {
            return Err(ReadErr::NotRegular);
        }
        if md.len() > MAX_FILE_BYTES {
            return Err(ReadErr::TooBig(md.len()));
        }
        // Charged before reading, so two threads cannot both pass the cap.
        let read = &self.shared.read_bytes;
        let before = read.fetch_add(md.len(), std::sync::atomic::Ordering::SeqCst);
        if before + md.len() > MAX_TOTAL_BYTES {
            read.fetch_sub(md.len(), std::sync::atomic::Ordering::SeqCst);
            return Err(ReadErr::Budget(md.len()));
        }
        let data = self
            .world
            .read_canonical(&canon, MAX_FILE_BYTES)
            .map_err(|e| ReadErr::from_io(&e))?;
        Ok(self.parse_content(resolved, &data))
    }

    /// Parse bytes already in memory (explicit files, `--find`).
    ///
    /// Memory follows the certificates found: every block holding a certificate is kept,
    /// but of the others (keys, broken or empty blocks, unknown labels: a file can hold
    /// millions) only the first [`MAX_OTHER_BLOCKS`]; the rest are counted.
    pub fn parse_content(&self, resolved: PathBuf, data: &[u8]) -> FileContent {
        let mut blocks = Vec::new();
        let mut any = false;
        let mut others = 0usize;
        let mut omitted = 0usize;
        for b in pem::blocks(data) {
            any = true;
            let mut aux_trust = None;
            let cert = if pem::is_openssl_cert_label(&b.label) {
                Some(match &b.data {
                    Ok(der) => {
                        let mut c = self.cert(der);
                        // d2i_X509_AUX: the trust settings follow the certificate; OpenSSL
                        // refuses a block whose settings do not decode.
                        if let (Ok(cert), "TRUSTED CERTIFICATE") = (&c, b.label.as_str()) {
                            match AuxTrust::parse(der.get(cert.der.len()..).unwrap_or_default()) {
                                Ok(a) => aux_trust = a,
                                Err(e) => c = Err(format!("auxiliary trust settings do not decode: {e}")),
                            }
                        }
                        c
                    }
                    Err(e) => Err(e.clone()),
                })
            } else {
                match &b.data {
                    Err(e) => Some(Err(e.clone())),
                    Ok(_) => None,
                }
            };
            if !matches!(cert, Some(Ok(_))) {
                if others >= MAX_OTHER_BLOCKS {
                    omitted += 1;
                    continue;
                }
                others += 1;
            }
            blocks.push(Block {
                index: Some(b.index),
                line: Some(b.line),
                label: b.label,
                has_headers: b.has_headers,
                cert,
                aux_trust,
            });
        }
        let shape = pem::shape_of(data, any);
        if shape == Shape::Der {
            blocks.push(Block {
                index: None,
                line: None,
                label: "DER".into(),
                has_headers: false,
                cert: Some(self.cert(data)),
                aux_trust: None,
            });
        }
        blocks.shrink_to_fit();
        FileContent {
            resolved,
            size: data.len(),
            shape,
            blocks,
            omitted_blocks: omitted,
        }
    }

    /// List a directory (cached).
    pub fn dir(&self, p: &Path) -> Listing {
        let hit = locked(&self.caches().dirs).get(p).cloned();
        if let Some(d) = hit {
            return d;
        }
        // The same directory reached by another name (/usr/lib/ssl/certs -> /etc/ssl/certs)
        // is listed once.
        let canon = self.resolve(p).map(|(_, c)| c).ok();
        if let Some(c) = &canon {
            let hit = locked(&self.caches().dirs).get(c).cloned();
            if let Some(d) = hit {
                locked(&self.caches().dirs).insert(p.to_path_buf(), d.clone());
                return d;
            }
        }
        let r = match self.kind(p) {
            Err(e) => Err(e),
            Ok(md) if !md.is_dir() => Err(ReadErr::NotDir),
            Ok(_) => self.world.read_dir(p).map_err(|e| ReadErr::from_io(&e)),
        };
        let r = Arc::new(r);
        locked(&self.caches().dirs).insert(p.to_path_buf(), r.clone());
        if let Some(c) = canon {
            locked(&self.caches().dirs).insert(c, r.clone());
        }
        r
    }
}

/// Display a World path.
pub fn disp(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// The cached resolution must agree with `World::resolve` on tricky trees.
    #[test]
    fn cached_resolution_agrees_with_the_world() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in ["etc/ssl/certs", "usr/share/ca/moz", "usr/lib/ssl", "a/b"] {
            fs::create_dir_all(r.join(dir)).unwrap();
        }
        fs::write(r.join("usr/share/ca/moz/x.crt"), "X").unwrap();
        symlink("/usr/share/ca/moz/x.crt", r.join("etc/ssl/certs/x.pem")).unwrap();
        symlink("x.pem", r.join("etc/ssl/certs/abcd1234.0")).unwrap();
        symlink(
            "../../../../../../usr/share/ca/moz/x.crt",
            r.join("etc/ssl/certs/up.pem"),
        )
        .unwrap();
        symlink("/etc/ssl/certs", r.join("usr/lib/ssl/certs")).unwrap();
        symlink("./loop2", r.join("a/loop1")).unwrap();
        symlink("./loop1", r.join("a/loop2")).unwrap();
        symlink("/nowhere/file", r.join("a/dangling")).unwrap();
        symlink("../a/b", r.join("a/b/../sib")).unwrap();
        let w = World::fixture(r, &[]);
        let l = Loader::new(&w, false);
        for p in [
            "/etc/ssl/certs/x.pem",
            "/etc/ssl/certs/abcd1234.0",
            "/etc/ssl/certs/up.pem",
            "/usr/lib/ssl/certs/abcd1234.0",
            "/usr/lib/ssl/certs",
            "/a/dangling",
            "/a/sib",
            "/missing/deeper/file",
        ] {
            let ours = l.resolve(Path::new(p)).unwrap();
            let world = w.resolve(Path::new(p)).map(|c| (c.clone(), c)).unwrap();
            assert_eq!(ours, world, "{p}");
        }
        assert_eq!(l.resolve(Path::new("/a/loop1")), Err(ReadErr::Loop));
        assert!(matches!(*l.file(Path::new("/a/loop1")), Err(ReadErr::Loop)));
        let c = l.file(Path::new("/usr/lib/ssl/certs/abcd1234.0"));
        assert_eq!(
            c.as_ref().as_ref().unwrap().resolved,
            PathBuf::from("/usr/share/ca/moz/x.crt")
        );
        // One listing for two names of the same directory.
        let a = l.dir(Path::new("/usr/lib/ssl/certs"));
        let b = l.dir(Path::new("/etc/ssl/certs"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    /// Loaders of one World share what they read (the stores thread, the issuer evidence,
    /// `--find`); a World with a mount added (a manifest's volume, a proposed patch) must
    /// see the mount, not what its original read at that path.
    #[test]
    fn loaders_share_a_world_but_a_mount_starts_afresh() {
        use crate::world::tree::{Content, Node, NodeKind, Tree};
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("etc/ssl/certs")).unwrap();
        fs::write(d.path().join("etc/ssl/certs/bundle.pem"), "base").unwrap();
        let bundle = Path::new("/etc/ssl/certs/bundle.pem");
        let size = |l: &Loader| l.file(bundle).as_ref().as_ref().unwrap().size;
        let w = World::fixture(d.path(), &[]);
        let first = Loader::new(&w, false);
        assert_eq!(size(&first), 4);
        let second = Loader::new(&w, false);
        assert!(Arc::ptr_eq(&first.file(bundle), &second.file(bundle)));
        let mut t = Tree::new();
        t.insert(
            b"bundle.pem",
            Node {
                kind: NodeKind::File(Content::Bytes(Arc::from(&b"from the volume"[..]))),
                mode: 0o644,
            },
        );
        let mounted = w
            .clone()
            .with_mount(Path::new("/etc/ssl/certs"), Arc::new(t), b"", false);
        assert_eq!(size(&Loader::new(&mounted, false)), 15);
        assert_eq!(size(&Loader::new(&w, false)), 4);
    }
}
