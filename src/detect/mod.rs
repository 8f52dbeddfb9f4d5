//! Which version and build of a runtime would run here, and where that was learned.
//!
//! The order (issue 8): `--runtime go@1.24` (parsed with the runtime selection), then the
//! program file (`--exe PATH`, a path inside the World: a Go binary's build info), then the
//! process (`--pid N`: `/proc/N/exe` the same way, and the `libssl` mapped into it), then
//! the World itself (python3.N's standard library, libssl/libcrypto's version string,
//! which nodejs build, curl's and the database client libraries' packages). What was
//! found is a [`Detected`]: the version, the build facts that change behaviour, and a
//! [`Source`] the report names ("go1.24.4 from --exe build info").
//!
//! Every read goes through the World and is bounded; a file that is not what it claims
//! is "not detected", never an error that stops the run.

pub mod elf;
pub mod gobuildinfo;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::trust::pem;
use crate::world::{World, WorldKind};

use gobuildinfo::BuildInfo;

/// Largest program file read for its build info (Go binaries of 200 MB exist).
pub const MAX_EXE_BYTES: u64 = 512 * 1024 * 1024;
/// Largest shared object read for a version string.
const MAX_LIB_BYTES: u64 = 64 * 1024 * 1024;

/// The module and package whose init installs Go's fallback roots.
pub const FALLBACK_MODULE: &str = "golang.org/x/crypto";
pub const FALLBACK_PACKAGE: &str = "golang.org/x/crypto/x509roots/fallback";

/// A dotted version: `1.24.4`, `3.5.9`, `3.13`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: Option<u32>) -> Version {
        Version { major, minor, patch }
    }

    /// `1.24.4`, `1.24`, `go1.24.4`, `v20.19.2`, `1.25rc1` (the numeric prefix counts).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix("go").or_else(|| s.strip_prefix('v')).unwrap_or(s);
        let mut parts = s.split('.');
        let num = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            p[..end].parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = num(parts.next());
        Some(Version { major, minor, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// Which runtime a detection is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Go,
    Openssl,
    Python,
    Node,
    Curl,
    Libpq,
    Mariadb,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Go => "go",
            Kind::Openssl => "openssl",
            Kind::Python => "python",
            Kind::Node => "node",
            Kind::Curl => "curl",
            Kind::Libpq => "libpq",
            Kind::Mariadb => "mariadb",
        }
    }
}

/// Where a version was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--runtime go@1.24`.
    Flag,
    /// `--exe PATH`: the program's build info (PATH inside the World).
    Exe(PathBuf),
    /// `--pid N`: `/proc/N/exe`.
    PidExe(u32),
    /// `--pid N`: a library mapped into the process (its path inside the process's root).
    PidMap(u32, PathBuf),
    /// A file of the World (a shared object, a package database, a directory).
    World(PathBuf),
    /// Nothing found: the newest known version is modelled.
    Assumed,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("--runtime"),
            Source::Exe(p) => write!(f, "--exe build info ({})", p.display()),
            Source::PidExe(pid) => write!(f, "/proc/{pid}/exe build info"),
            Source::PidMap(pid, p) => write!(f, "{} mapped into process {pid}", p.display()),
            Source::World(p) => write!(f, "{}", p.display()),
            Source::Assumed => f.write_str("assumed: newest known"),
        }
    }
}

/// Go's fallback roots compiled into a program (`golang.org/x/crypto/x509roots/fallback`).
#[derive(Debug, Clone)]
pub struct FallbackRoots {
    /// The x/crypto module version (after a `=>` replacement, when there is one).
    pub module_version: String,
    /// The certificates embedded in the program, as DER, in order.
    pub certs: Vec<Vec<u8>>,
}

/// What a Go program's build info says that changes how it verifies.
#[derive(Debug, Clone)]
pub struct GoBuild {
    pub info: BuildInfo,
    /// `DefaultGODEBUG` pairs (the go.mod `go` line, its `godebug` block and `//go:debug`
    /// directives, as the toolchain resolved them).
    pub default_godebug: Vec<(String, String)>,
    /// The program links the fallback roots package.
    pub fallback: Option<FallbackRoots>,
}

/// Build facts beyond the version.
#[derive(Debug, Clone)]
pub enum Build {
    None,
    Go(Box<GoBuild>),
    /// Debian's nodejs (system libnode, system OpenSSL and store) or a self-contained
    /// build (NodeSource, nodejs.org: bundled OpenSSL and Mozilla list).
    Node {
        debian: bool,
    },
}

/// One runtime's detected version and build.
#[derive(Debug, Clone)]
pub struct Detected {
    pub kind: Kind,
    pub version: Option<Version>,
    /// The version as the runtime names itself (`go1.24.4`, `OpenSSL 3.5.9 29 Sep 2026`).
    pub text: String,
    pub build: Build,
    pub source: Source,
}

impl Detected {
    /// "go1.24.4 from --exe build info (/app/server)".
    pub fn describe(&self) -> String {
        format!("{} from {}", self.text, self.source)
    }

    pub fn go(&self) -> Option<&GoBuild> {
        match &self.build {
            Build::Go(g) => Some(g),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------------ program files

/// Is this file a Go program? Its build info and what follows from it.
pub fn go_from_bytes(data: &[u8], source: Source) -> Result<Detected, gobuildinfo::Error> {
    let info = gobuildinfo::parse(data)?;
    let fallback = fallback_roots(&info, data);
    Ok(Detected {
        kind: Kind::Go,
        version: Version::parse(&info.go_version),
        text: info.go_version.clone(),
        source,
        build: Build::Go(Box::new(GoBuild {
            default_godebug: info.default_godebug(),
            fallback,
            info,
        })),
    })
}

/// The program file of the World (`--exe`, else `/proc/N/exe` for `--pid`), read as a Go
/// binary. None when there is no program file; Err when it is not a Go program.
pub fn go_program(world: &World) -> Option<Result<Detected, String>> {
    if let Some(exe) = world.exe() {
        let data = match world.read_capped(exe, MAX_EXE_BYTES) {
            Ok(d) => d,
            Err(e) => {
                return Some(Err(format!(
                    "--exe {}: {}",
                    exe.display(),
                    crate::world::describe_io(&e)
                )))
            }
        };
        return Some(
            go_from_bytes(&data, Source::Exe(exe.to_path_buf()))
                .map_err(|e| format!("--exe {}: {e}", exe.display())),
        );
    }
    if let WorldKind::Pid(pid) = world.kind() {
        let p = PathBuf::from(format!("/proc/{pid}/exe"));
        // The process's own file, even if it was replaced or deleted since it started.
        let data = read_host_capped(&p, MAX_EXE_BYTES).ok()?;
        return go_from_bytes(&data, Source::PidExe(*pid)).ok().map(Ok);
    }
    None
}

fn read_host_capped(p: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(p)?;
    let mut buf = Vec::new();
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(std::io::Error::other("larger than the read limit"));
    }
    Ok(buf)
}

/// The fallback roots, when the program links the package: its x/crypto dependency is
/// recorded and the package's own symbols (its `init`, named in the function table that
/// even stripped Go binaries keep) are in the file. The certificates are read from the
/// program itself: the package embeds them as PEM text, each block preceded by a
/// `# <SHA-256>` comment line, which tells them apart from other PEM text a program may
/// carry (when no block has that comment, every PEM certificate in the file is taken).
pub fn fallback_roots(info: &BuildInfo, data: &[u8]) -> Option<FallbackRoots> {
    let dep = info.dep(FALLBACK_MODULE)?;
    let needle = format!("{FALLBACK_PACKAGE}.");
    pem::memfind(data, needle.as_bytes())?;
    let module_version = dep
        .replace
        .as_ref()
        .map(|r| r.version.clone())
        .unwrap_or_else(|| dep.version.clone());
    Some(FallbackRoots {
        module_version,
        certs: embedded_certificates(data),
    })
}

/// PEM certificates embedded in a program (see [`fallback_roots`]).
pub fn embedded_certificates(data: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut tagged = Vec::new();
    let mut all = Vec::new();
    let mut at = 0;
    while let Some(i) = pem::memfind(&data[at..], BEGIN) {
        let start = at + i;
        let Some(j) = pem::memfind(&data[start..], END) else {
            break;
        };
        let end = start + j + END.len();
        at = end;
        // A PEM block is text: a NUL inside means unrelated bytes between two markers.
        if data[start..end].contains(&0) || end - start > 64 * 1024 {
            at = start + BEGIN.len();
            continue;
        }
        let Some(der) = pem::parse(&data[start..end])
            .into_iter()
            .next()
            .and_then(|b| b.data.ok())
        else {
            continue;
        };
        // The comment line just before: `# <64 hex digits>\n`.
        let before = &data[start.saturating_sub(67)..start];
        let hash_line = before
            .strip_suffix(b"\n")
            .and_then(|b| b.get(b.len().saturating_sub(66)..))
            .and_then(|b| b.strip_prefix(b"# "))
            .filter(|h| h.len() == 64 && h.iter().all(u8::is_ascii_hexdigit));
        if let Some(h) = hash_line {
            use sha2::Digest;
            let sum = hex::encode(sha2::Sha256::digest(&der));
            if sum.as_bytes().eq_ignore_ascii_case(h) {
                tagged.push(der);
                continue;
            }
        }
        all.push(der);
    }
    if tagged.is_empty() {
        all
    } else {
        tagged
    }
}

// --------------------------------------------------------------------------- processes

/// A shared object mapped into a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Its path as the process sees it (inside the process's root).
    pub path: PathBuf,
    /// `/proc/N/map_files/START-END`: the mapped file itself, whatever its name now.
    pub map_file: PathBuf,
}

/// The shared objects mapped into process `pid` whose file name starts with `prefix`
/// (`libssl.so`), from `/proc/N/maps`. The kernel prints each path as *we* would reach
/// it (a chrooted process's libraries show under its root's path), so the process's
/// root is taken off the front; the bytes are read through `map_files`, which names the
/// very file mapped even after it was replaced or deleted.
pub fn mapped_libraries(pid: u32, prefix: &str) -> Vec<Mapped> {
    let maps = match read_host_capped(Path::new(&format!("/proc/{pid}/maps")), 16 << 20) {
        Ok(m) => m,
        Err(_) => return vec![],
    };
    let proc_root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap_or_else(|_| PathBuf::from("/"));
    let mut out: Vec<Mapped> = vec![];
    for line in String::from_utf8_lossy(&maps).lines() {
        // address perms offset dev inode pathname
        let mut cols = line.split_whitespace();
        let (Some(range), Some(_), Some(_), Some(_), Some(_)) =
            (cols.next(), cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let Some(at) = line.find(" /") else { continue };
        let path = line[at + 1..].trim_end();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        let p = PathBuf::from(path);
        let is = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix));
        if !is || out.iter().any(|m| m.path == p || p.ends_with(&m.path)) {
            continue;
        }
        let inside = match p.strip_prefix(&proc_root) {
            Ok(rel) if proc_root != Path::new("/") => Path::new("/").join(rel),
            _ => p,
        };
        out.push(Mapped {
            path: inside,
            map_file: PathBuf::from(format!("/proc/{pid}/map_files/{range}")),
        });
    }
    out
}

// ---------------------------------------------------------------------------- OpenSSL

/// Library directories searched for shared objects, in the dynamic loader's usual order.
const LIB_DIRS: [&str; 6] = [
    "/usr/local/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib",
    "/lib",
];

/// `OpenSSL 3.5.9 29 Sep 2026` in a libcrypto (OPENSSL_VERSION_TEXT).
pub fn openssl_version_text(data: &[u8]) -> Option<String> {
    let mut at = 0;
    while let Some(i) = pem::memfind(&data[at..], b"OpenSSL ") {
        let s = at + i;
        at = s + 8;
        let end = data[s..].iter().position(|b| *b == 0).map(|e| s + e)?;
        let t = std::str::from_utf8(&data[s..end]).ok()?;
        let rest = &t[8..];
        // "3.5.9 29 Sep 2026": a version with three numbers, then a date.
        let ver = rest.split(' ').next().unwrap_or("");
        let date_words = rest.split(' ').count();
        if ver.split('.').count() == 3
            && ver
                .split('.')
                .all(|p| !p.is_empty() && p.chars().take_while(|c| c.is_ascii_digit()).count() > 0)
            && date_words == 4
            && t.len() < 64
        {
            return Some(t.to_string());
        }
    }
    None
}

/// The newest `OPENSSL_3.N.0` symbol version a libssl defines (its API level).
pub fn libssl_api_level(data: &[u8]) -> Option<Version> {
    let mut best: Option<Version> = None;
    let mut at = 0;
    while let Some(i) = pem::memfind(&data[at..], b"OPENSSL_3.") {
        let s = at + i + 8;
        at = s;
        let end = data[s..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .map(|e| s + e)
            .unwrap_or(data.len());
        if data.get(end) != Some(&0) {
            continue;
        }
        if let Some(v) = std::str::from_utf8(&data[s..end]).ok().and_then(Version::parse) {
            best = best.max(Some(v));
        }
    }
    best
}

/// OpenSSL from a libssl path: the version text of the libcrypto beside it (libssl
/// itself carries only symbol versions), else libssl's API level.
fn openssl_from_libssl(world: &World, libssl: &Path, source: impl Fn(PathBuf) -> Source) -> Option<Detected> {
    let dir = libssl.parent()?;
    let name = libssl.file_name()?.to_str()?;
    let crypto = dir.join(name.replacen("libssl", "libcrypto", 1));
    if let Ok(d) = world.read_capped(&crypto, MAX_LIB_BYTES) {
        if let Some(t) = openssl_version_text(&d) {
            return Some(Detected {
                kind: Kind::Openssl,
                version: Version::parse(t.trim_start_matches("OpenSSL ")),
                text: t,
                build: Build::None,
                source: source(crypto),
            });
        }
    }
    let d = world.read_capped(libssl, MAX_LIB_BYTES).ok()?;
    let v = libssl_api_level(&d)?;
    Some(Detected {
        kind: Kind::Openssl,
        version: Some(Version::new(v.major, v.minor, None)),
        text: format!("OpenSSL {}.{} (libssl API level)", v.major, v.minor),
        build: Build::None,
        source: source(libssl.to_path_buf()),
    })
}

/// OpenSSL as the process (`--pid`) or the World would load it.
pub fn openssl(world: &World) -> Option<Detected> {
    if let WorldKind::Pid(pid) = world.kind() {
        let pid = *pid;
        // libssl needs libcrypto: when one is mapped, so is the other.
        if !mapped_libraries(pid, "libssl.so").is_empty() {
            for lib in mapped_libraries(pid, "libcrypto.so") {
                let data = read_host_capped(&lib.map_file, MAX_LIB_BYTES)
                    .or_else(|_| world.read_capped(&lib.path, MAX_LIB_BYTES));
                if let Some(t) = data.ok().and_then(|d| openssl_version_text(&d)) {
                    return Some(Detected {
                        kind: Kind::Openssl,
                        version: Version::parse(t.trim_start_matches("OpenSSL ")),
                        text: t,
                        build: Build::None,
                        source: Source::PidMap(pid, lib.path),
                    });
                }
            }
            for lib in mapped_libraries(pid, "libssl.so") {
                if let Some(d) = openssl_from_libssl(world, &lib.path, |p| Source::PidMap(pid, p)) {
                    return Some(d);
                }
            }
        }
    }
    for dir in LIB_DIRS {
        for name in ["libssl.so.3", "libssl.so.1.1"] {
            let p = Path::new(dir).join(name);
            if world.exists(&p) {
                if let Some(d) = openssl_from_libssl(world, &p, Source::World) {
                    return Some(d);
                }
            }
        }
    }
    None
}

// --------------------------------------------------------------------- other runtimes

/// The newest `python3.N` whose standard library (ssl.py) is in the World.
pub fn python(world: &World) -> Option<Detected> {
    let mut best: Option<(u32, PathBuf)> = None;
    for base in ["/usr/lib", "/usr/local/lib"] {
        let Ok(es) = world.read_dir(Path::new(base)) else {
            continue;
        };
        for e in es {
            let Some(m) = e
                .name
                .strip_prefix("python3.")
                .and_then(|m| m.parse::<u32>().ok())
            else {
                continue;
            };
            let ssl = Path::new(base).join(&e.name).join("ssl.py");
            if world.exists(&ssl) && best.as_ref().is_none_or(|(b, _)| m > *b) {
                best = Some((m, Path::new(base).join(&e.name)));
            }
        }
    }
    let (m, dir) = best?;
    Some(Detected {
        kind: Kind::Python,
        version: Some(Version::new(3, m, None)),
        text: format!("Python 3.{m}"),
        build: Build::None,
        source: Source::World(dir),
    })
}

/// A package's version from the World's dpkg database (`Version:` of `Package: name`,
/// installed), with any epoch removed.
pub fn dpkg_version(world: &World, package: &str) -> Option<String> {
    let db = world
        .read_shared(Path::new("/var/lib/dpkg/status"), MAX_LIB_BYTES)
        .ok()?;
    // Only the paragraphs that start with this package's name are parsed (the database
    // is hundreds of kilobytes; detection runs on every report).
    let needle = format!("Package: {package}\n");
    let mut at = 0;
    while let Some(i) = pem::memfind(&db[at..], needle.as_bytes()) {
        let start = at + i;
        at = start + needle.len();
        if start > 0 && db[start - 1] != b'\n' {
            continue;
        }
        let end = pem::memfind(&db[start..], b"\n\n").map_or(db.len(), |e| start + e);
        let para = String::from_utf8_lossy(&db[start..end]);
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for l in para.lines() {
            if let Some(v) = l.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = l.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = l.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if name == Some(package) && installed {
            let v = version?;
            return Some(v.split_once(':').map(|(_, r)| r).unwrap_or(v).to_string());
        }
    }
    None
}

/// OpenSSL for the version profile: the process's mapped library (`--pid`), else the
/// package database (libssl3t64 / libssl3: cheap), else the library's version string.
pub fn openssl_version(world: &World) -> Option<Detected> {
    if matches!(world.kind(), WorldKind::Pid(_)) {
        return openssl(world);
    }
    for pkg in ["libssl3t64", "libssl3"] {
        if let Some(v) = dpkg_version(world, pkg) {
            let upstream = v.split(['-', '+', '~']).next().unwrap_or(&v).to_string();
            if let Some(ver) = Version::parse(&upstream) {
                return Some(Detected {
                    kind: Kind::Openssl,
                    version: Some(ver),
                    text: format!("OpenSSL {upstream} ({pkg})"),
                    build: Build::None,
                    source: Source::World(PathBuf::from("/var/lib/dpkg/status")),
                });
            }
        }
    }
    openssl(world)
}

/// Node.js: which build (Debian's, with the system libnode, or a self-contained one) and
/// its version, from the package database or the headers it installs.
pub fn node(world: &World) -> Option<Detected> {
    let status = Path::new("/var/lib/dpkg/status");
    if let Some(v) = dpkg_version(world, "nodejs") {
        // NodeSource's packages say so in their version (`20.20.2-1nodesource1`).
        let debian = !v.contains("nodesource");
        return Some(Detected {
            kind: Kind::Node,
            version: Version::parse(&v),
            text: format!(
                "Node.js {} ({})",
                v.split(['-', '+']).next().unwrap_or(&v),
                if debian {
                    "Debian's build"
                } else {
                    "NodeSource's build"
                }
            ),
            build: Build::Node { debian },
            source: Source::World(status.to_path_buf()),
        });
    }
    None
}

/// A dpkg-installed package's version as a detection.
fn from_dpkg(world: &World, kind: Kind, packages: &[&str], title: &str) -> Option<Detected> {
    for p in packages {
        if let Some(v) = dpkg_version(world, p) {
            let upstream = v.split(['-', '+']).next().unwrap_or(&v).to_string();
            return Some(Detected {
                kind,
                version: Version::parse(&upstream),
                text: format!("{title} {upstream}"),
                build: Build::None,
                source: Source::World(PathBuf::from("/var/lib/dpkg/status")),
            });
        }
    }
    None
}

/// The curl tool's version.
pub fn curl(world: &World) -> Option<Detected> {
    from_dpkg(world, Kind::Curl, &["curl"], "curl")
}

/// libpq's major version: the file name of the library (`libpq.so.5.17` is PostgreSQL
/// 17's libpq), else the package database.
pub fn libpq(world: &World) -> Option<Detected> {
    for dir in LIB_DIRS {
        let Ok(es) = world.read_dir(Path::new(dir)) else {
            continue;
        };
        let best = es
            .iter()
            .filter_map(|e| {
                let minor = e.name.strip_prefix("libpq.so.5.")?.parse::<u32>().ok()?;
                Some((minor, e.path.clone()))
            })
            .max();
        if let Some((m, p)) = best {
            // Since PostgreSQL 10, libpq.so.5.N is PostgreSQL N's.
            return Some(Detected {
                kind: Kind::Libpq,
                version: Some(Version::new(m, 0, None)),
                text: format!("libpq {m}"),
                build: Build::None,
                source: Source::World(p),
            });
        }
    }
    from_dpkg(world, Kind::Libpq, &["libpq5"], "libpq")
}

/// The MariaDB client library (Connector/C, as the `mariadb` tool links it): the version
/// string in libmariadb.so.3, else the package database.
pub fn mariadb(world: &World) -> Option<Detected> {
    for dir in LIB_DIRS {
        let p = Path::new(dir).join("libmariadb.so.3");
        let Ok(d) = world.read_capped(&p, MAX_LIB_BYTES) else {
            continue;
        };
        if let Some(v) = mariadb_version_text(&d) {
            return Some(Detected {
                kind: Kind::Mariadb,
                version: Version::parse(&v),
                text: format!("MariaDB client {v}"),
                build: Build::None,
                source: Source::World(p),
            });
        }
    }
    from_dpkg(
        world,
        Kind::Mariadb,
        &["mariadb-client", "libmariadb3"],
        "MariaDB client",
    )
}

/// `10.11.19` / `11.8.9`: the server version libmariadb reports as its client version
/// (a NUL-terminated `1N.N.N` string).
fn mariadb_version_text(d: &[u8]) -> Option<String> {
    for major in [b"\x0011.".as_slice(), b"\x0010.", b"\x0012."] {
        let mut at = 0;
        while let Some(i) = pem::memfind(&d[at..], major) {
            let s = at + i + 1;
            at = s;
            let end = d[s..].iter().position(|b| *b == 0).map(|e| s + e)?;
            let t = std::str::from_utf8(&d[s..end]).ok()?;
            if t.split('.').count() == 3
                && t.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Some(t.to_string());
            }
        }
    }
    None
}

/// Everything detectable here, for the report: the program file first, then the World.
pub fn all(world: &World) -> Vec<Detected> {
    let mut v = vec![];
    if let Some(Ok(d)) = go_program(world) {
        v.push(d);
    }
    v.extend(openssl(world));
    v.extend(python(world));
    v.extend(node(world));
    v.extend(curl(world));
    v.extend(libpq(world));
    v.extend(mariadb(world));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("go1.24.4"), Some(Version::new(1, 24, Some(4))));
        assert_eq!(Version::parse("1.25rc1"), Some(Version::new(1, 25, None)));
        assert_eq!(Version::parse("v20.19.2"), Some(Version::new(20, 19, Some(2))));
        assert_eq!(Version::parse("devel"), None);
        assert_eq!(Version::new(3, 13, None).to_string(), "3.13");
    }

    #[test]
    fn openssl_strings() {
        let lib = b"\0junk OpenSSL \0OpenSSL 3.5.9 29 Sep 2026\0OPENSSL_3.0.0\0OPENSSL_3.5.0\0OPENSSL_3.10\0";
        assert_eq!(
            openssl_version_text(lib).as_deref(),
            Some("OpenSSL 3.5.9 29 Sep 2026")
        );
        assert_eq!(libssl_api_level(lib), Some(Version::new(3, 10, None)));
        assert_eq!(openssl_version_text(b"OpenSSL"), None);
        assert_eq!(mariadb_version_text(b"x\x0011.8.9\0y").as_deref(), Some("11.8.9"));
        assert_eq!(
            mariadb_version_text(b"x\x0011.8\0\x0010.11.19\0").as_deref(),
            Some("10.11.19")
        );
    }

    #[test]
    fn embedded_roots_prefer_the_fallback_bundle_blocks() {
        let d = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
        assert!(embedded_certificates(&d).is_empty());
        assert!(embedded_certificates(b"-----BEGIN CERTIFICATE-----\0-----END CERTIFICATE-----").is_empty());
    }
}
