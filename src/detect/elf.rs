//! A bounded ELF reader: just enough to find a section by name and to read bytes at a
//! virtual address through the file's `PT_LOAD` segments.
//!
//! Why by hand: the only consumers are Go's build-info blob (`.go.buildinfo`, pointers into
//! the data segment for pre-1.18 binaries) and version strings in shared objects. Both
//! need a handful of header fields, and the input is untrusted (any file in an image, any
//! process's executable): every offset and size is checked against the buffer, counts
//! are capped, and nothing here can panic or allocate more than the input's size.

use std::fmt;

/// Why a buffer is not a usable ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub &'static str);

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// Segment flags.
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;

/// At most this many section or program headers are read (real files have < 100).
const MAX_HEADERS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// A parsed ELF header with its sections and segments; borrows the file's bytes.
#[derive(Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    pub class64: bool,
    pub little_endian: bool,
    pub sections: Vec<Section>,
    pub segments: Vec<Segment>,
}

/// Does the buffer start like an ELF file?
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

struct Rd<'a> {
    d: &'a [u8],
    le: bool,
}

impl Rd<'_> {
    fn bytes(&self, off: u64, n: usize) -> Option<&[u8]> {
        let s = usize::try_from(off).ok()?;
        self.d.get(s..s.checked_add(n)?)
    }
    fn u16(&self, off: u64) -> Option<u16> {
        let b: [u8; 2] = self.bytes(off, 2)?.try_into().ok()?;
        Some(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, off: u64) -> Option<u32> {
        let b: [u8; 4] = self.bytes(off, 4)?.try_into().ok()?;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, off: u64) -> Option<u64> {
        let b: [u8; 8] = self.bytes(off, 8)?.try_into().ok()?;
        Some(if self.le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
    /// A word of the file's class: 8 bytes for ELF64, 4 for ELF32.
    fn word(&self, off: u64, is64: bool) -> Option<u64> {
        if is64 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, ElfError> {
        const TRUNC: ElfError = ElfError("truncated ELF header");
        if !is_elf(data) {
            return Err(ElfError("not an ELF file"));
        }
        let class64 = match data.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err(ElfError("unknown ELF class")),
        };
        let little_endian = match data.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err(ElfError("unknown ELF byte order")),
        };
        let r = Rd {
            d: data,
            le: little_endian,
        };
        // e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        let (phoff, shoff, rest) = if class64 {
            (r.u64(0x20).ok_or(TRUNC)?, r.u64(0x28).ok_or(TRUNC)?, 0x36)
        } else {
            (
                u64::from(r.u32(0x1c).ok_or(TRUNC)?),
                u64::from(r.u32(0x20).ok_or(TRUNC)?),
                0x2a,
            )
        };
        let phentsize = r.u16(rest).ok_or(TRUNC)? as u64;
        let phnum = r.u16(rest + 2).ok_or(TRUNC)? as usize;
        let shentsize = r.u16(rest + 4).ok_or(TRUNC)? as u64;
        let shnum = r.u16(rest + 6).ok_or(TRUNC)? as usize;
        let shstrndx = r.u16(rest + 8).ok_or(TRUNC)? as usize;
        let (min_ph, min_sh) = if class64 { (56, 64) } else { (32, 40) };

        let mut segments = Vec::new();
        if phnum > 0 && phentsize >= min_ph {
            for i in 0..phnum.min(MAX_HEADERS) {
                let Some(b) = (i as u64)
                    .checked_mul(phentsize)
                    .and_then(|o| o.checked_add(phoff))
                else {
                    break;
                };
                let seg = if class64 {
                    (|| {
                        Some(Segment {
                            kind: r.u32(b)?,
                            flags: r.u32(b + 4)?,
                            offset: r.u64(b + 8)?,
                            vaddr: r.u64(b + 16)?,
                            filesz: r.u64(b + 32)?,
                            memsz: r.u64(b + 40)?,
                        })
                    })()
                } else {
                    (|| {
                        Some(Segment {
                            kind: r.u32(b)?,
                            offset: u64::from(r.u32(b + 4)?),
                            vaddr: u64::from(r.u32(b + 8)?),
                            filesz: u64::from(r.u32(b + 16)?),
                            memsz: u64::from(r.u32(b + 20)?),
                            flags: r.u32(b + 24)?,
                        })
                    })()
                };
                match seg {
                    Some(s) => segments.push(s),
                    None => break,
                }
            }
        }

        let mut raw = Vec::new();
        if shnum > 0 && shentsize >= min_sh {
            for i in 0..shnum.min(MAX_HEADERS) {
                let Some(b) = (i as u64)
                    .checked_mul(shentsize)
                    .and_then(|o| o.checked_add(shoff))
                else {
                    break;
                };
                let s = (|| {
                    Some((
                        r.u32(b)?,
                        r.u32(b + 4)?,
                        r.word(b + if class64 { 16 } else { 12 }, class64)?,
                        r.word(b + if class64 { 24 } else { 16 }, class64)?,
                        r.word(b + if class64 { 32 } else { 20 }, class64)?,
                    ))
                })();
                match s {
                    Some(s) => raw.push(s),
                    None => break,
                }
            }
        }
        // Section names live in the section-name string table.
        let strtab = raw.get(shstrndx).and_then(|&(_, _, _, off, size)| {
            let s = usize::try_from(off).ok()?;
            data.get(s..s.checked_add(usize::try_from(size).ok()?)?)
        });
        let sections = raw
            .into_iter()
            .map(|(name_off, kind, addr, offset, size)| Section {
                name: strtab
                    .and_then(|t| {
                        let t = t.get(name_off as usize..)?;
                        let end = t.iter().position(|b| *b == 0)?;
                        Some(String::from_utf8_lossy(&t[..end]).into_owned())
                    })
                    .unwrap_or_default(),
                kind,
                addr,
                offset,
                size,
            })
            .collect();
        Ok(Elf {
            data,
            class64,
            little_endian,
            sections,
            segments,
        })
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The bytes of a section in the file (None for NOBITS or out-of-range sections).
    pub fn section_data(&self, s: &Section) -> Option<&'a [u8]> {
        const SHT_NOBITS: u32 = 8;
        if s.kind == SHT_NOBITS {
            return None;
        }
        let start = usize::try_from(s.offset).ok()?;
        let len = usize::try_from(s.size).ok()?;
        self.data.get(start..start.checked_add(len)?)
    }

    /// Up to `len` bytes at virtual address `addr`, read through the `PT_LOAD`
    /// segment that holds it (fewer when the segment's file data ends first; None when
    /// no segment holds the address). This is Go's `elfExe.DataReader`.
    pub fn read_vaddr(&self, addr: u64, len: u64) -> Option<&'a [u8]> {
        let seg = self
            .segments
            .iter()
            .find(|p| p.kind == PT_LOAD && p.filesz > 0 && p.vaddr <= addr && addr - p.vaddr < p.filesz)?;
        let rel = addr - seg.vaddr;
        let avail = seg.filesz - rel;
        let n = len.min(avail);
        let start = seg.offset.checked_add(rel)?;
        let start = usize::try_from(start).ok()?;
        let n = usize::try_from(n).ok()?;
        let end = start.checked_add(n)?.min(self.data.len());
        self.data.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_an_error_not_a_panic() {
        assert!(Elf::parse(b"").is_err());
        assert!(Elf::parse(b"\x7fELF").is_err());
        assert!(Elf::parse(b"\x7fELF\x02\x01").is_err());
        // Absurd header offsets and counts: parsed as far as the buffer allows.
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        h[0x28..0x30].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        h[0x38..0x3a].copy_from_slice(&u16::MAX.to_le_bytes());
        h[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        h[0x3c..0x3e].copy_from_slice(&u16::MAX.to_le_bytes());
        h[0x3e..0x40].copy_from_slice(&u16::MAX.to_le_bytes());
        let e = Elf::parse(&h).unwrap();
        assert!(e.segments.is_empty() && e.sections.is_empty());
        assert!(e.read_vaddr(0, 10).is_none());
    }
}
