//! A directory of this machine taken as the World's `/` (`--root DIR`, the host's `/`,
//! `/proc/N/root`): the filesystem primitives on canonical World paths.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

pub(super) fn lstat(root: &Path, comps: &[OsString]) -> io::Result<Meta> {
    fs::symlink_metadata(host_of(root, comps)).map(|m| meta(&m))
}

pub(super) fn readlink(root: &Path, comps: &[OsString]) -> io::Result<PathBuf> {
    fs::read_link(host_of(root, comps))
}

pub(super) fn read(root: &Path, comps: &[OsString], cap: u64) -> io::Result<Vec<u8>> {
    let host = host_of(root, comps);
    let md = fs::symlink_metadata(&host)?;
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

pub(super) fn list(root: &Path, comps: &[OsString]) -> io::Result<Vec<(OsString, Option<PathBuf>)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(host_of(root, comps))? {
        let e = e?;
        let link_target = match e.file_type() {
            Ok(t) if t.is_symlink() => fs::read_link(e.path()).ok(),
            _ => None,
        };
        out.push((e.file_name(), link_target));
    }
    Ok(out)
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
