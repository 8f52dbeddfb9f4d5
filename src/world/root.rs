//! A directory of this machine taken as the World's `/` (`--root DIR`, the host's `/`,
//! `/proc/N/root`): the filesystem primitives on canonical World paths.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{too_big, FileType, Meta, MAX_FILE_BYTES};

fn host_of(root: &Path, comps: &[OsString]) -> PathBuf {
    let mut out = root.to_path_buf();
    for c in comps {
        out.push(c);
    }
    out
}

fn meta(md: &fs::Metadata) -> Meta {
    let t = md.file_type();
    Meta {
        file_type: if t.is_symlink() {
            FileType::Symlink
        } else if t.is_file() {
            FileType::File
        } else if t.is_dir() {
            FileType::Dir
        } else {
            FileType::Other
        },
        len: md.len(),
        mode: md.permissions().mode() & 0o7777,
    }
}

/// A directory's names, each with whether it is a symlink.
type Names = Arc<Vec<(OsString, bool)>>;

/// What one run has already asked the filesystem, by host path: every runtime resolves
/// the same directories (`/etc/ssl/certs`, its ~300 links, the library directories), and
/// a World is evaluated at one moment, so each `lstat`, `readlink` and directory listing
/// is a system call once per run, not once per runtime and path component. Only answers
/// with an OS error number (or success) are kept. Clones of a World share it.
#[derive(Debug, Default)]
pub(super) struct Memo {
    lstat: Mutex<HashMap<PathBuf, Result<Meta, i32>>>,
    link: Mutex<HashMap<PathBuf, Result<PathBuf, i32>>>,
    names: Mutex<HashMap<PathBuf, Result<Names, i32>>>,
}

/// Look `host` up in `map`, else ask `f` and remember answers that are successes or carry
/// an OS error number.
fn memo<T: Clone>(
    map: &Mutex<HashMap<PathBuf, Result<T, i32>>>,
    host: PathBuf,
    f: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let lock = || map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = lock().get(&host) {
        return r.clone().map_err(io::Error::from_raw_os_error);
    }
    let r = f(&host);
    let keep = match &r {
        Ok(v) => Some(Ok(v.clone())),
        Err(e) => e.raw_os_error().map(Err),
    };
    if let Some(k) = keep {
        lock().insert(host, k);
    }
    r
}

pub(super) fn lstat(m: &Memo, root: &Path, comps: &[OsString]) -> io::Result<Meta> {
    memo(&m.lstat, host_of(root, comps), |h| {
        fs::symlink_metadata(h).map(|m| meta(&m))
    })
}

pub(super) fn readlink(m: &Memo, root: &Path, comps: &[OsString]) -> io::Result<PathBuf> {
    memo(&m.link, host_of(root, comps), |h| fs::read_link(h))
}

/// The names in a directory, each with whether it is a symlink (the directory entry's
/// type: no `lstat`, no `readlink`).
pub(super) fn names(m: &Memo, root: &Path, comps: &[OsString]) -> io::Result<Names> {
    memo(&m.names, host_of(root, comps), |h| {
        let mut out = Vec::new();
        for e in fs::read_dir(h)? {
            let e = e?;
            let link = match e.file_type() {
                Ok(t) => t.is_symlink(),
                Err(_) => fs::symlink_metadata(e.path()).is_ok_and(|m| m.file_type().is_symlink()),
            };
            out.push((e.file_name(), link));
        }
        Ok(Arc::new(out))
    })
}

pub(super) fn read(m: &Memo, root: &Path, comps: &[OsString], cap: u64) -> io::Result<Vec<u8>> {
    let md = lstat(m, root, comps)?;
    let host = host_of(root, comps);
    if md.is_dir() {
        return Err(io::Error::from_raw_os_error(21));
    }
    if !md.is_file() {
        // A FIFO or device could block or never end: never opened.
        return Err(io::Error::other("not a regular file (FIFO, socket or device)"));
    }
    if md.len() > cap {
        return Err(too_big(md.len(), cap));
    }
    let f = fs::File::open(&host)?;
    let mut buf = Vec::with_capacity(md.len() as usize);
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::other(format!(
            "file is larger than the {cap} byte limit"
        )));
    }
    Ok(buf)
}

/// Read a file named on the command line (a host path, read as the user typed it); `-` is
/// standard input (read once: a second `-` on the same command line gets the same bytes).
/// Capped at [`MAX_FILE_BYTES`]: `/dev/zero`, `/dev/urandom` or a huge file is a clear
/// error, never an endless read; pipes and `/dev/stdin` work.
pub fn read_host_file(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("-") {
        return read_stdin_once();
    }
    // Opened non-blocking, type checked on the descriptor: a FIFO never blocks open(2).
    crate::fsio::read_user_file(path, MAX_FILE_BYTES)
}

/// Standard input, read to its end once and kept for the rest of the run.
fn read_stdin_once() -> io::Result<Vec<u8>> {
    static STDIN: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    STDIN
        .get_or_init(|| {
            crate::fsio::read_capped(io::stdin().lock(), MAX_FILE_BYTES, 0).map_err(|e| describe_io(&e))
        })
        .clone()
        .map_err(|e| io::Error::other(format!("standard input: {e}")))
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
