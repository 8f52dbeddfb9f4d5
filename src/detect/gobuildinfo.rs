//! Go build information, read from an executable like `go version -m` does
//! (`debug/buildinfo`): the toolchain version, the main module and its dependencies, and
//! the build settings — among them `DefaultGODEBUG`, which is where the program's go.mod
//! `go` line, its `godebug` block and its `//go:debug` directives end up.
//!
//! Why by hand: the format is small and stable, and the input is untrusted (any file in an
//! image, any process's executable). The linker writes a 32-byte header starting with the
//! magic `\xff Go buildinf:` at a 16-byte boundary of the `.go.buildinfo` section (or, with
//! no section headers, of the first writable, non-executable `PT_LOAD` segment):
//!
//! ```text
//! magic [14] | ptrSize u8 | flags u8 | versPtr uintptr | modPtr uintptr
//! ```
//!
//! * flags bit 1 set (Go ≥ 1.18): the version and the module text follow the header
//!   inline, each as a uvarint length and the bytes;
//! * clear (Go < 1.18): the two pointers (`ptrSize` bytes, byte order from flags bit 0)
//!   are virtual addresses of Go string headers `{data uintptr, len uintptr}` in the data
//!   segment, read through the ELF program headers.
//!
//! The module text is framed by two 16-byte sentinels, recognised by the newline 17 bytes
//! from its end. Every length is checked against the file: junk gives an error, never a
//! panic, and nothing is allocated beyond the input's size.

use std::fmt;

use super::elf::{self, Elf};

/// The magic that starts the build-info header.
pub const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER: usize = 32;
const ALIGN: usize = 16;

/// Why no build information could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not an ELF file (Linux programs only).
    NotElf,
    /// An ELF file without Go build information (a C program, a shared library, a Go
    /// program built before Go 1.13 or with the build info removed).
    NotGo,
    /// Build information is there but malformed.
    Malformed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotElf => f.write_str("not an ELF executable"),
            Error::NotGo => f.write_str("not a Go executable (no Go build information)"),
            Error::Malformed(why) => write!(f, "malformed Go build information: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// How the blob stored its strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Go ≥ 1.18: inline, length-prefixed strings.
    Inline,
    /// Go < 1.18: pointers to Go strings in the data segment.
    Pointers,
}

/// A module line (`mod`, `dep`, `=>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    pub replace: Option<Box<Module>>,
}

/// What the linker recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The toolchain version, e.g. `go1.24.4`.
    pub go_version: String,
    pub layout: Layout,
    /// `path` line: the main package's import path.
    pub path: Option<String>,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` lines, in order (keys and values unquoted).
    pub settings: Vec<(String, String)>,
    /// Lines this reader did not recognise (kept, never an error: newer Go may add some).
    pub other_lines: Vec<String>,
}

/// Read the build information of a Go ELF executable (the whole file's bytes).
pub fn parse(data: &[u8]) -> Result<BuildInfo, Error> {
    let elf = Elf::parse(data).map_err(|_| Error::NotElf)?;
    // Where the blob is: the `.go.buildinfo` section, else the first writable,
    // non-executable PT_LOAD segment (the linker puts it near its start).
    let (start, size) = match elf.section(".go.buildinfo") {
        Some(s) => (s.addr, s.size),
        None => elf
            .segments
            .iter()
            .find(|p| p.kind == elf::PT_LOAD && p.flags & (elf::PF_X | elf::PF_W) == elf::PF_W)
            .map(|p| (p.vaddr, p.memsz))
            .ok_or(Error::NotGo)?,
    };
    let addr = search_magic(&elf, start, size)?;
    let header = elf.read_vaddr(addr, HEADER as u64).ok_or(Error::NotGo)?;
    if header.len() < HEADER {
        return Err(Error::NotGo);
    }
    let flags = header[15];
    let (vers, module, layout) = if flags & 2 == 2 {
        let (vers, next) = inline_string(&elf, addr + HEADER as u64)?;
        let (module, _) = inline_string(&elf, next)?;
        (vers, module, Layout::Inline)
    } else {
        let ptr = header[14] as usize;
        if ptr != 4 && ptr != 8 {
            return Err(Error::Malformed("pointer size is neither 4 nor 8"));
        }
        let big = flags & 1 == 1;
        let read_ptr = |b: &[u8]| -> Option<u64> {
            Some(match (ptr, big) {
                (4, false) => u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
                (4, true) => u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
                (_, false) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
                (_, true) => u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            })
        };
        let go_string = |at: u64| -> Vec<u8> {
            (|| {
                let hdr = elf.read_vaddr(at, 2 * ptr as u64)?;
                let data = read_ptr(hdr)?;
                let len = read_ptr(hdr.get(ptr..)?)?;
                let b = elf.read_vaddr(data, len)?;
                (b.len() as u64 == len).then(|| b.to_vec())
            })()
            .unwrap_or_default()
        };
        let vp = read_ptr(&header[16..]).ok_or(Error::NotGo)?;
        let mp = read_ptr(&header[16 + ptr..]).ok_or(Error::NotGo)?;
        (go_string(vp), go_string(mp), Layout::Pointers)
    };
    if vers.is_empty() {
        return Err(Error::NotGo);
    }
    let go_version = String::from_utf8_lossy(&vers).into_owned();
    // Strip the sentinels (cmd/go's infoStart/infoEnd) around the module text.
    let module: &[u8] = if module.len() >= 33 && module[module.len() - 17] == b'\n' {
        &module[16..module.len() - 16]
    } else {
        b""
    };
    let mut bi = parse_mod_text(&String::from_utf8_lossy(module))?;
    bi.go_version = go_version;
    bi.layout = layout;
    Ok(bi)
}

/// The aligned first occurrence of the magic in `[start, start+size)` (virtual addresses).
fn search_magic(elf: &Elf, start: u64, size: u64) -> Result<u64, Error> {
    let end = start.checked_add(size).ok_or(Error::NotGo)?;
    let mut at = start.checked_add(ALIGN as u64 - 1).ok_or(Error::NotGo)? & !(ALIGN as u64 - 1);
    while at < end {
        // The segment holding `at`: scan its file bytes in one go.
        let Some(chunk) = elf.read_vaddr(at, end - at) else {
            return Err(Error::NotGo);
        };
        if chunk.is_empty() {
            break;
        }
        let mut i = 0;
        while i + MAGIC.len() <= chunk.len() {
            if &chunk[i..i + MAGIC.len()] == MAGIC {
                return Ok(at + i as u64);
            }
            i += ALIGN;
        }
        at = at.saturating_add(chunk.len() as u64);
    }
    Err(Error::NotGo)
}

/// A uvarint length and that many bytes at `addr`; returns them and the next address.
fn inline_string(elf: &Elf, addr: u64) -> Result<(Vec<u8>, u64), Error> {
    let b = elf.read_vaddr(addr, 10).ok_or(Error::NotGo)?;
    let (len, n) = uvarint(b).ok_or(Error::NotGo)?;
    let at = addr.checked_add(n as u64).ok_or(Error::NotGo)?;
    let s = elf.read_vaddr(at, len).ok_or(Error::NotGo)?;
    if (s.len() as u64) < len {
        return Err(Error::NotGo);
    }
    Ok((s.to_vec(), at + len))
}

/// encoding/binary.Uvarint: (value, bytes read); None on overflow or a short buffer.
fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    let mut s = 0u32;
    for (i, &c) in b.iter().enumerate().take(10) {
        if c < 0x80 {
            if i == 9 && c > 1 {
                return None;
            }
            return Some((x | (u64::from(c) << s), i + 1));
        }
        x |= u64::from(c & 0x7f) << s;
        s += 7;
    }
    None
}

/// runtime/debug.ParseBuildInfo: the module text (`path`, `mod`, `dep`, `=>`, `build`).
pub fn parse_mod_text(text: &str) -> Result<BuildInfo, Error> {
    let mut bi = BuildInfo {
        go_version: String::new(),
        layout: Layout::Inline,
        path: None,
        main: None,
        deps: Vec::new(),
        settings: Vec::new(),
        other_lines: Vec::new(),
    };
    // Which module a `=>` line replaces: the main one, the last dep, or none.
    enum Last {
        None,
        Main,
        Dep,
    }
    let mut last = Last::None;
    let module = |cols: &str| -> Result<Module, Error> {
        let e: Vec<&str> = cols.split('\t').collect();
        if e.len() != 2 && e.len() != 3 {
            return Err(Error::Malformed("module line without 2 or 3 columns"));
        }
        Ok(Module {
            path: e[0].to_string(),
            version: e[1].to_string(),
            sum: e.get(2).unwrap_or(&"").to_string(),
            replace: None,
        })
    };
    // Only complete lines count, as in Go.
    let mut rest = text;
    while let Some((line, tail)) = rest.split_once('\n') {
        rest = tail;
        if let Some(p) = line.strip_prefix("path\t") {
            bi.path = Some(p.to_string());
        } else if let Some(m) = line.strip_prefix("mod\t") {
            bi.main = Some(module(m)?);
            last = Last::Main;
        } else if let Some(m) = line.strip_prefix("dep\t") {
            bi.deps.push(module(m)?);
            last = Last::Dep;
        } else if let Some(m) = line.strip_prefix("=>\t") {
            let r = module(m)?;
            if m.split('\t').count() != 3 {
                return Err(Error::Malformed("replacement without 3 columns"));
            }
            let target = match last {
                Last::Main => bi.main.as_mut(),
                Last::Dep => bi.deps.last_mut(),
                Last::None => None,
            }
            .ok_or(Error::Malformed("replacement with no module before it"))?;
            target.replace = Some(Box::new(r));
            last = Last::None;
        } else if let Some(kv) = line.strip_prefix("build\t") {
            bi.settings.push(build_setting(kv)?);
        } else if !line.is_empty() {
            bi.other_lines.push(line.to_string());
        }
    }
    Ok(bi)
}

fn build_setting(kv: &str) -> Result<(String, String), Error> {
    let (key, raw) = match kv.as_bytes().first() {
        None => return Err(Error::Malformed("build line missing '='")),
        Some(b'=') => return Err(Error::Malformed("build line with missing key")),
        Some(b'"') | Some(b'`') => {
            let (k, used) = go_unquote_prefix(kv).ok_or(Error::Malformed("bad quoted key"))?;
            let after = &kv[used..];
            let v = after
                .strip_prefix('=')
                .ok_or(Error::Malformed("build line missing '=' after quoted key"))?;
            (k, v)
        }
        Some(_) => {
            let (k, v) = kv
                .split_once('=')
                .ok_or(Error::Malformed("build line missing '=' after key"))?;
            (k.to_string(), v)
        }
    };
    let value = match raw.as_bytes().first() {
        Some(b'"') | Some(b'`') => match go_unquote_prefix(raw) {
            Some((v, used)) if used == raw.len() => v,
            _ => return Err(Error::Malformed("bad quoted value")),
        },
        _ => raw.to_string(),
    };
    Ok((key, value))
}

/// A Go quoted string at the start of `s` (`"…"` with escapes, or a raw `` `…` ``):
/// (its value, bytes consumed).
fn go_unquote_prefix(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() == Some(&b'`') {
        let end = s[1..].find('`')? + 1;
        return Some((s[1..end].to_string(), end + 1));
    }
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            b'\\' => {
                let c = *b.get(i + 1)?;
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'\\' | b'"' | b'\'' => out.push(c),
                    b'x' => {
                        let h = s.get(i..i + 2)?;
                        out.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if c == b'u' { 4 } else { 8 };
                        let h = s.get(i..i + n)?;
                        let ch = char::from_u32(u32::from_str_radix(h, 16).ok()?)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += n;
                    }
                    b'0'..=b'7' => {
                        let h = s.get(i - 1..i + 2)?;
                        out.push(u8::from_str_radix(h, 8).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
            }
            b'\n' => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// strconv.Quote for what build settings hold (printable text; control bytes escaped).
fn go_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\u{7}' => o.push_str("\\a"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            '\u{b}' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl BuildInfo {
    /// A build setting's value (`DefaultGODEBUG`, `CGO_ENABLED`, `-ldflags`, …).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `DefaultGODEBUG` pairs, in order (empty when none was recorded: the toolchain's
    /// own defaults apply, or the toolchain predates Go 1.21).
    pub fn default_godebug(&self) -> Vec<(String, String)> {
        parse_godebug(self.setting("DefaultGODEBUG").unwrap_or(""))
    }

    /// The dependency with this module path, if linked.
    pub fn dep(&self, path: &str) -> Option<&Module> {
        self.deps.iter().find(|m| m.path == path)
    }

    /// The module text as runtime/debug's `BuildInfo.String` writes it (without the go
    /// line), i.e. what `go version -m` prints after the first line.
    pub fn mod_text(&self) -> String {
        let mut o = String::new();
        if let Some(p) = &self.path {
            o.push_str(&format!("path\t{p}\n"));
        }
        fn module(o: &mut String, word: &str, m: &Module) {
            o.push_str(&format!("{word}\t{}\t{}", m.path, m.version));
            match &m.replace {
                None => o.push_str(&format!("\t{}", m.sum)),
                Some(r) => {
                    o.push('\n');
                    module(o, "=>", r);
                }
            }
            o.push('\n');
        }
        if let Some(m) = &self.main {
            module(&mut o, "mod", m);
        }
        for d in &self.deps {
            module(&mut o, "dep", d);
        }
        for (k, v) in &self.settings {
            let qk = k.is_empty() || k.contains(['=', ' ', '\t', '\r', '\n', '"', '`']);
            let qv = v.contains([' ', '\t', '\r', '\n', '"', '`']);
            let k = if qk { go_quote(k) } else { k.clone() };
            let v = if qv { go_quote(v) } else { v.clone() };
            o.push_str(&format!("build\t{k}={v}\n"));
        }
        o
    }

    /// Exactly what `go version -m FILE` prints for this executable.
    pub fn go_version_m(&self, file: &str) -> String {
        let mut o = format!("{file}: {}\n", self.go_version);
        let m = self.mod_text();
        if !m.is_empty() {
            o.push('\t');
            o.push_str(&m[..m.len() - 1].replace('\n', "\n\t"));
            o.push('\n');
        }
        o
    }
}

/// `k=v,k=v` as GODEBUG and DefaultGODEBUG write it (later pairs win when read by Go;
/// entries without `=` are ignored, as Go ignores them).
pub fn parse_godebug(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF64 with one writable PT_LOAD segment at `vaddr` holding
    /// `seg` (file offset 0x100), and optionally a `.go.buildinfo` section over it.
    fn elf64(vaddr: u64, seg: &[u8], with_section: bool) -> Vec<u8> {
        let mut f = vec![0u8; 0x100];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // phoff
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let ph = 0x40;
        f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f[ph + 4..ph + 8].copy_from_slice(&6u32.to_le_bytes()); // R|W
        f[ph + 8..ph + 16].copy_from_slice(&0x100u64.to_le_bytes());
        f[ph + 16..ph + 24].copy_from_slice(&vaddr.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&(seg.len() as u64).to_le_bytes());
        f[ph + 40..ph + 48].copy_from_slice(&(seg.len() as u64).to_le_bytes());
        f.extend_from_slice(seg);
        if with_section {
            // Section headers: null, .go.buildinfo, .shstrtab.
            let names = b"\0.go.buildinfo\0.shstrtab\0";
            let names_off = f.len() as u64;
            f.extend_from_slice(names);
            while !f.len().is_multiple_of(8) {
                f.push(0);
            }
            let shoff = f.len() as u64;
            let mut sh = |name: u32, kind: u32, addr: u64, off: u64, size: u64| {
                let mut h = vec![0u8; 64];
                h[0..4].copy_from_slice(&name.to_le_bytes());
                h[4..8].copy_from_slice(&kind.to_le_bytes());
                h[16..24].copy_from_slice(&addr.to_le_bytes());
                h[24..32].copy_from_slice(&off.to_le_bytes());
                h[32..40].copy_from_slice(&size.to_le_bytes());
                f.extend_from_slice(&h);
            };
            sh(0, 0, 0, 0, 0);
            sh(1, 1, vaddr, 0x100, seg.len() as u64);
            sh(15, 3, 0, names_off, names.len() as u64);
            f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
            f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
            f[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
            f[0x3e..0x40].copy_from_slice(&2u16.to_le_bytes());
        }
        f
    }

    fn framed(text: &str) -> Vec<u8> {
        let mut m = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        m.extend_from_slice(text.as_bytes());
        m.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        m
    }

    // As runtime/debug's String writes it: a replaced module's line ends after its
    // version, and the `=>` line is followed by an empty one.
    const MOD: &str = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n\
        dep\tgolang.org/x/crypto\tv0.25.0\n=>\tgolang.org/x/crypto\tv0.26.0\th1:abc=\n\n\
        build\t-ldflags=\"-s -w\"\nbuild\tDefaultGODEBUG=x509negativeserial=1,rsa1024min=0\n\
        build\tCGO_ENABLED=0\n";

    fn inline_blob(vers: &str, module: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.push(8);
        b.push(2);
        b.resize(HEADER, 0);
        for s in [vers.as_bytes(), module] {
            let mut n = s.len() as u64;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    b.push(byte);
                    break;
                }
                b.push(byte | 0x80);
            }
            b.extend_from_slice(s);
        }
        b
    }

    #[test]
    fn inline_layout_with_and_without_section_headers() {
        let mut seg = vec![0u8; 48]; // the magic must be found at a 16-byte boundary
        seg.extend(inline_blob("go1.24.4", &framed(MOD)));
        for with_section in [true, false] {
            let bi = parse(&elf64(0x500000, &seg, with_section)).unwrap();
            assert_eq!(bi.go_version, "go1.24.4");
            assert_eq!(bi.layout, Layout::Inline);
            assert_eq!(bi.path.as_deref(), Some("example.com/hello"));
            let dep = bi.dep("golang.org/x/crypto").unwrap();
            assert_eq!(dep.replace.as_ref().unwrap().version, "v0.26.0");
            assert_eq!(bi.setting("-ldflags"), Some("-s -w"));
            assert_eq!(
                bi.default_godebug(),
                vec![
                    ("x509negativeserial".to_string(), "1".to_string()),
                    ("rsa1024min".to_string(), "0".to_string())
                ]
            );
            assert_eq!(bi.mod_text(), MOD);
        }
    }

    #[test]
    fn pointer_layout_of_go_before_1_18() {
        // Header pointers → string headers {data, len} → bytes, all in the segment.
        let base = 0x600000u64;
        let vers = b"go1.16.15";
        let module = framed("path\tcmd/old\nmod\tcmd/old\t(devel)\t\n");
        let mut seg = MAGIC.to_vec();
        seg.push(8);
        seg.push(0); // little-endian, pointer layout
        let vhdr = base + 32;
        let mhdr = base + 48;
        seg.extend_from_slice(&vhdr.to_le_bytes());
        seg.extend_from_slice(&mhdr.to_le_bytes());
        let vdata = base + 64;
        let mdata = vdata + vers.len() as u64;
        seg.extend_from_slice(&vdata.to_le_bytes());
        seg.extend_from_slice(&(vers.len() as u64).to_le_bytes());
        seg.extend_from_slice(&mdata.to_le_bytes());
        seg.extend_from_slice(&(module.len() as u64).to_le_bytes());
        seg.extend_from_slice(vers);
        seg.extend_from_slice(&module);
        let bi = parse(&elf64(base, &seg, false)).unwrap();
        assert_eq!(bi.go_version, "go1.16.15");
        assert_eq!(bi.layout, Layout::Pointers);
        assert_eq!(bi.main.unwrap().path, "cmd/old");
        // A dangling pointer gives an empty version: not a Go executable.
        let mut bad = seg.clone();
        bad[16..24].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        assert_eq!(parse(&elf64(base, &bad, false)), Err(Error::NotGo));
    }

    #[test]
    fn junk_and_truncations_are_errors_not_panics() {
        assert_eq!(parse(b""), Err(Error::NotElf));
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), Err(Error::NotElf));
        let seg = inline_blob("go1.24.4", &framed(MOD));
        let whole = elf64(0x500000, &seg, true);
        for cut in 0..whole.len() {
            let _ = parse(&whole[..cut]);
        }
        // Flip every byte of the blob in turn.
        for i in 0x100..0x100 + seg.len() {
            let mut f = whole.clone();
            f[i] ^= 0xff;
            let _ = parse(&f);
        }
        // A length that runs past the segment.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&[8, 2]);
        huge.resize(HEADER, 0);
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(parse(&elf64(0x500000, &huge, true)), Err(Error::NotGo));
        // Misaligned magic is not the header.
        let mut mis = vec![0u8; 3];
        mis.extend(seg);
        assert_eq!(parse(&elf64(0x500000, &mis, true)), Err(Error::NotGo));
    }

    #[test]
    fn module_text_rules() {
        assert!(parse_mod_text("=>\ta\tb\tc\n").is_err());
        assert!(parse_mod_text("mod\tonly-one\n").is_err());
        assert!(parse_mod_text("build\t=x\n").is_err());
        let bi = parse_mod_text("build\t\"a b\"=\"c\\td\"\nbuild\tk=v\nfuture\tline\n").unwrap();
        assert_eq!(bi.settings[0], ("a b".to_string(), "c\td".to_string()));
        assert_eq!(bi.other_lines, vec!["future\tline".to_string()]);
        // An unterminated last line is ignored, as Go does.
        assert!(parse_mod_text("path\tx").unwrap().path.is_none());
        assert_eq!(uvarint(&[0x80; 10]), None);
        assert_eq!(uvarint(&[0xac, 0x02]), Some((300, 2)));
    }
}
