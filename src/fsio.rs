//! Opening files the user named (command-line paths, spec-file paths, `--image`): the one
//! place such a path is opened, so none of them can block or read for ever.
//!
//! `open(2)` of a FIFO blocks until a writer appears, and a terminal or a silent pipe
//! blocks in `read(2)`. Every path is therefore opened with `O_NONBLOCK` and its type
//! checked on the open descriptor (no race between the check and the open):
//! - a regular file is read to its end, capped;
//! - a directory is `EISDIR`;
//! - a FIFO, pipe, socket or character device (`<(…)` process substitution,
//!   `/dev/stdin`, a named pipe, `/dev/zero`) is read with a deadline: a FIFO nobody writes
//!   to is an empty input at once, a writer that stalls ends at [`PIPE_DEADLINE`], and an
//!   endless device ends at the cap.
//!
//! [`open_regular`] is for the callers that seek (image archives) or only validate a path
//! (spec-file `ca`): anything but a regular file is refused there.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a FIFO, pipe or device may take to deliver its whole content.
pub const PIPE_DEADLINE: Duration = Duration::from_secs(10);
/// A named FIFO whose writer has not opened it yet reads as end-of-file; a writer that
/// opens it right after us (a test thread, `mkfifo f; writer > f &`) gets this long.
const WRITER_GRACE: Duration = Duration::from_millis(500);

/// Open `path` for reading without ever blocking in `open(2)`, with its metadata taken
/// from the open descriptor.
pub fn open_nonblocking(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let md = f.metadata()?;
    Ok((f, md))
}

/// Open a regular file (following symlinks) for reading; a directory is `EISDIR`, and a
/// FIFO, socket or device is refused with a clear error instead of blocking.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let (f, md) = open_nonblocking(path)?;
    if md.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if !md.is_file() {
        return Err(not_regular(&md.file_type()));
    }
    Ok(f)
}

fn not_regular(t: &std::fs::FileType) -> io::Error {
    let what = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    io::Error::other(format!("{what}, not a regular file: not read"))
}

/// Read a whole file the user named, refusing more than `cap` bytes. Regular files are
/// read directly; FIFOs, pipes and devices with [`PIPE_DEADLINE`].
pub fn read_user_file(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    read_user_file_within(path, cap, PIPE_DEADLINE)
}

/// [`read_user_file`] with an explicit deadline for non-regular files.
pub fn read_user_file_within(path: &Path, cap: u64, deadline: Duration) -> io::Result<Vec<u8>> {
    let (f, md) = open_nonblocking(path)?;
    if md.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if md.is_file() {
        if md.len() > cap {
            return Err(too_big(cap));
        }
        // Regular files ignore O_NONBLOCK: a plain capped read.
        return read_capped(f, cap, md.len() as usize);
    }
    let t = md.file_type();
    if t.is_socket() || t.is_block_device() {
        return Err(not_regular(&t));
    }
    read_stream(f, cap, deadline, t.is_fifo())
}

/// Read everything from a reader, refusing more than `cap` bytes.
pub fn read_capped(f: impl Read, cap: u64, hint: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(hint.min(cap as usize));
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_big(cap));
    }
    Ok(buf)
}

fn too_big(cap: u64) -> io::Error {
    io::Error::other(format!(
        "larger than {} MiB: not a certificate or spec file",
        cap / (1024 * 1024)
    ))
}

/// A non-blocking descriptor read to its end, or to the deadline.
fn read_stream(mut f: File, cap: u64, deadline: Duration, fifo: bool) -> io::Result<Vec<u8>> {
    let start = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => {
                // A FIFO without a writer reads as end-of-file. One whose writer is about
                // to open it gets a short grace; then empty is empty.
                if fifo && buf.is_empty() && start.elapsed() < WRITER_GRACE.min(deadline) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                return Ok(buf);
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() as u64 > cap {
                    return Err(too_big(cap));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if start.elapsed() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "a pipe or device that did not finish within {} s ({} bytes read): not read",
                            deadline.as_secs_f64(),
                            buf.len()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mkfifo(p: &Path) {
        assert!(std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap()
            .success());
    }

    #[test]
    fn a_fifo_without_writer_is_empty_at_once() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        mkfifo(&f);
        let t = Instant::now();
        assert_eq!(read_user_file(&f, 1 << 20).unwrap(), Vec::<u8>::new());
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let e = open_regular(&f).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }

    #[test]
    fn a_fifo_with_a_late_writer_is_read() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        mkfifo(&f);
        let w = {
            let f = f.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let mut o = OpenOptions::new().write(true).open(f).unwrap();
                o.write_all(b"hello ").unwrap();
                std::thread::sleep(Duration::from_millis(100));
                o.write_all(b"world").unwrap();
            })
        };
        assert_eq!(read_user_file(&f, 1 << 20).unwrap(), b"hello world");
        w.join().unwrap();
    }

    #[test]
    fn a_stalled_writer_ends_at_the_deadline() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        mkfifo(&f);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let w = {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut o = OpenOptions::new().write(true).open(f).unwrap();
                o.write_all(b"partial").unwrap();
                let _ = rx.recv();
            })
        };
        let t = Instant::now();
        let e = read_user_file_within(&f, 1 << 20, Duration::from_millis(700)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("7 bytes read"), "{e}");
        tx.send(()).unwrap();
        w.join().unwrap();
    }

    #[test]
    fn devices_are_capped_and_directories_refused() {
        let e = read_user_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let e = read_user_file(Path::new("/"), 1 << 20).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EISDIR));
        assert!(open_regular(Path::new("/dev/null")).is_err());
    }
}
