//! Bundle parsing with provenance: every PEM block with its index, line, label and
//! decoded bytes (or why it did not decode). The scanner follows Go's `encoding/pem`
//! (a block that fails to decode is skipped and scanning resumes after its BEGIN line), which
//! is what the runtimes that skip bad blocks do; OpenSSL's stricter "one bad block fails the
//! file" rule is applied on top of the same blocks.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Go's `base64.StdEncoding`: padding required, trailing bits not checked.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// One `-----BEGIN X-----` … `-----END X-----` block.
#[derive(Debug, Clone)]
pub struct PemBlock {
    /// 0-based index among the blocks of the file (bad blocks count too).
    pub index: usize,
    /// 1-based line of the BEGIN line.
    pub line: usize,
    /// The label (`CERTIFICATE`, `TRUSTED CERTIFICATE`, `PRIVATE KEY`, …).
    pub label: String,
    /// RFC 1421 headers (`Proc-Type: …`) were present: Go ignores such blocks.
    pub has_headers: bool,
    /// The decoded body, or why it could not be decoded.
    pub data: Result<Vec<u8>, String>,
}

/// What a file looks like, when it has no PEM blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Has at least one BEGIN line.
    Pem,
    /// No bytes at all (or only whitespace).
    Empty,
    /// Starts like DER (SEQUENCE): probably a DER certificate.
    Der,
    /// Text without any PEM block.
    Text,
    /// Binary junk.
    Binary,
}

/// Classify a file's bytes.
pub fn shape(data: &[u8], blocks: &[PemBlock]) -> Shape {
    shape_of(data, !blocks.is_empty())
}

/// Classify a file's bytes, knowing whether it had any PEM block.
pub fn shape_of(data: &[u8], has_blocks: bool) -> Shape {
    if has_blocks {
        return Shape::Pem;
    }
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Shape::Empty;
    }
    if data.len() > 4 && data[0] == 0x30 && (data[1] == 0x82 || data[1] == 0x81 || data[1] < 0x80) {
        return Shape::Der;
    }
    let sample = &data[..data.len().min(4096)];
    let binary = sample
        .iter()
        .filter(|b| **b == 0 || (**b < 0x20 && !b.is_ascii_whitespace()))
        .count();
    if binary > 0 {
        Shape::Binary
    } else {
        Shape::Text
    }
}

fn trim_line(l: &[u8]) -> &[u8] {
    let mut l = l;
    while let Some((&b, rest)) = l.split_last() {
        if b == b'\r' || b == b' ' || b == b'\t' {
            l = rest;
        } else {
            break;
        }
    }
    l
}

fn begin_label(l: &[u8]) -> Option<&[u8]> {
    let l = trim_line(l);
    let rest = l.strip_prefix(b"-----BEGIN ")?;
    rest.strip_suffix(b"-----")
}

fn end_label(l: &[u8]) -> Option<&[u8]> {
    let l = trim_line(l);
    let rest = l.strip_prefix(b"-----END ")?;
    rest.strip_suffix(b"-----")
}

/// The longest label kept (a BEGIN line can be as long as the file).
const MAX_LABEL: usize = 128;
/// The most base64 one block may hold (a certificate is a few KiB; the biggest honest
/// blocks, CRLs, a few MiB). A bigger block is reported, not decoded.
pub const MAX_BLOCK_BASE64: usize = 16 << 20;

/// Every PEM block of a file, in order (all of them: for callers that keep only some, use
/// [`blocks`], which holds one block at a time).
pub fn parse(data: &[u8]) -> Vec<PemBlock> {
    blocks(data).collect()
}

/// The PEM blocks of a file, one at a time: the memory in use is one block's, whatever
/// the file holds (millions of lines or of BEGIN markers).
pub fn blocks(data: &[u8]) -> Blocks<'_> {
    // Fast reject: no BEGIN marker anywhere (binary files, DER, junk).
    let pos = if memfind(data, b"-----BEGIN ").is_none() {
        data.len() + 1
    } else {
        0
    };
    Blocks {
        data,
        pos,
        line: 1,
        index: 0,
    }
}

/// The iterator behind [`blocks`]: the scanner of Go's `encoding/pem` over a byte slice,
/// by byte offsets (a line is what `data.split('\n')` yields).
pub struct Blocks<'a> {
    data: &'a [u8],
    /// Start of the next line to examine; `data.len() + 1` once past the last line.
    pos: usize,
    /// 1-based number of the line at `pos`.
    line: usize,
    index: usize,
}

impl<'a> Blocks<'a> {
    /// The line starting at `at` (without its '\n') and the start of the next one.
    fn line_at(&self, at: usize) -> (&'a [u8], usize) {
        let rest = &self.data[at..];
        match memchr::memchr(b'\n', rest) {
            Some(n) => (&rest[..n], at + n + 1),
            None => (rest, self.data.len() + 1),
        }
    }

    fn newlines(&self, from: usize, to: usize) -> usize {
        memchr::memchr_iter(b'\n', &self.data[from..to]).count()
    }

    /// Move to the next line starting with a valid BEGIN line: its (start, label).
    fn seek_begin(&mut self) -> Option<&'a [u8]> {
        let data = self.data;
        while self.pos <= data.len() {
            let at = self.pos + memfind(&data[self.pos..], b"-----BEGIN ")?;
            // The line holding the marker.
            let ls = data[..at].iter().rposition(|b| *b == b'\n').map_or(0, |n| n + 1);
            let ls = ls.max(self.pos);
            self.line += self.newlines(self.pos, ls);
            self.pos = ls;
            let (l, next) = self.line_at(ls);
            if ls == at {
                if let Some(label) = begin_label(l) {
                    return Some(label);
                }
            }
            self.pos = next;
            self.line += 1;
        }
        None
    }
}

fn short_label(l: &[u8]) -> String {
    if l.len() <= MAX_LABEL {
        String::from_utf8_lossy(l).into_owned()
    } else {
        format!("{}…", String::from_utf8_lossy(&l[..MAX_LABEL]))
    }
}

impl Iterator for Blocks<'_> {
    type Item = PemBlock;

    fn next(&mut self) -> Option<PemBlock> {
        if self.pos > self.data.len() {
            return None;
        }
        let Some(raw_label) = self.seek_begin() else {
            self.pos = self.data.len() + 1;
            return None;
        };
        let data = self.data;
        let begin_line = self.line;
        let label = short_label(raw_label);
        let (_, after_begin) = self.line_at(self.pos);
        let mut j = after_begin;
        let mut jline = begin_line + 1;
        let mut has_headers = false;
        // Headers: "Key: value" lines directly after BEGIN, ended by a blank line.
        if j <= data.len() {
            let (l, _) = self.line_at(j);
            if l.contains(&b':') && begin_label(l).is_none() {
                has_headers = true;
                while j <= data.len() {
                    let (l, next) = self.line_at(j);
                    if trim_line(l).is_empty() || end_label(l).is_some() {
                        break;
                    }
                    j = next;
                    jline += 1;
                }
            }
        }
        // Grown as the base64 comes: a file of millions of empty blocks allocates nothing here.
        let mut body: Vec<u8> = Vec::new();
        let mut too_big = false;
        let mut result: Option<Result<Vec<u8>, String>> = None;
        // Where scanning resumes: after the BEGIN line unless the block says otherwise.
        let mut resume = (after_begin, begin_line + 1);
        while j <= data.len() {
            // Runs of empty lines: one tight loop, not one line at a time.
            while j < data.len() && data[j] == b'\n' {
                j += 1;
                jline += 1;
            }
            let (l, next) = self.line_at(j);
            if let Some(end) = end_label(l) {
                result = Some(if end != raw_label {
                    Err(format!(
                        "END line says {:?}, BEGIN said {label:?}",
                        short_label(end)
                    ))
                } else if too_big {
                    Err(format!(
                        "a block of more than {} MiB of base64: not decoded",
                        MAX_BLOCK_BASE64 >> 20
                    ))
                } else {
                    B64.decode(&body)
                        .map_err(|e| format!("base64 does not decode ({e})"))
                });
                resume = (next, jline + 1);
                break;
            }
            if begin_label(l).is_some() {
                result = Some(Err("no END line before the next BEGIN".into()));
                resume = (j, jline);
                break;
            }
            if !too_big {
                push_base64_line(&mut body, l);
                if body.len() > MAX_BLOCK_BASE64 {
                    too_big = true;
                    body = Vec::new();
                }
            }
            j = next;
            jline += 1;
        }
        drop(body);
        let out = result.unwrap_or_else(|| Err("no END line".into()));
        if result_is_truncated(&out) {
            resume = (data.len() + 1, jline);
        }
        let block = PemBlock {
            index: self.index,
            line: begin_line,
            label,
            has_headers,
            data: out,
        };
        self.index += 1;
        (self.pos, self.line) = resume;
        Some(block)
    }
}

fn result_is_truncated(r: &Result<Vec<u8>, String>) -> bool {
    matches!(r, Err(e) if e == "no END line")
}

/// Append a base64 line without its whitespace (usually only a trailing `\r`).
fn push_base64_line(body: &mut Vec<u8>, l: &[u8]) {
    let t = l.trim_ascii();
    if t.iter().any(|b| b.is_ascii_whitespace()) {
        body.extend(t.iter().filter(|b| !b.is_ascii_whitespace()));
    } else {
        body.extend_from_slice(t);
    }
}

/// Find `needle` in `hay`.
pub fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// Labels that hold a certificate for OpenSSL.
pub fn is_openssl_cert_label(label: &str) -> bool {
    matches!(label, "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE")
}

/// Labels that hold a private key.
pub fn is_key_label(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_lines_and_bad_blocks() {
        let text = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n\
-----BEGIN TRUSTED CERTIFICATE-----\nAwQ=\n-----END TRUSTED CERTIFICATE-----\n";
        let b = parse(text);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].line, 2);
        assert_eq!(b[0].data.as_ref().unwrap(), &vec![0, 1, 2]);
        assert!(b[1].data.is_err());
        assert_eq!(b[2].label, "TRUSTED CERTIFICATE");
        assert_eq!(b[2].line, 8);
    }

    #[test]
    fn missing_end_resumes_at_next_begin() {
        let text = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let b = parse(text);
        assert_eq!(b.len(), 2);
        assert!(b[0].data.is_err());
        assert!(b[1].data.is_ok());
    }

    #[test]
    fn headers_are_noticed() {
        let text =
            b"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAEC\n-----END CERTIFICATE-----\n";
        let b = parse(text);
        assert!(b[0].has_headers);
    }

    #[test]
    fn shapes() {
        assert_eq!(shape(b"", &[]), Shape::Empty);
        assert_eq!(shape(b"\x30\x82\x01\x00abcd", &[]), Shape::Der);
        assert_eq!(shape(b"hello", &[]), Shape::Text);
        assert_eq!(shape(b"\x00\x01\x02\x03\x04", &[]), Shape::Binary);
    }

    /// The line-by-line scanner this streaming one replaced (it held every line and every
    /// block in memory), kept as the reference: both must find the same blocks.
    fn reference_parse(data: &[u8]) -> Vec<PemBlock> {
        // Fast reject: no BEGIN marker anywhere (binary files, DER, junk).
        if memfind(data, b"-----BEGIN ").is_none() {
            return Vec::new();
        }
        let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        let mut blocks = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let Some(label) = begin_label(lines[i]) else {
                i += 1;
                continue;
            };
            let label = String::from_utf8_lossy(label).into_owned();
            let begin = i;
            let mut j = i + 1;
            let mut has_headers = false;
            // Headers: "Key: value" lines directly after BEGIN, ended by a blank line.
            if j < lines.len() && lines[j].contains(&b':') && begin_label(lines[j]).is_none() {
                has_headers = true;
                while j < lines.len() && !trim_line(lines[j]).is_empty() && end_label(lines[j]).is_none() {
                    j += 1;
                }
            }
            // Grown as the base64 comes: a file of millions of empty blocks allocates nothing here.
            let mut body: Vec<u8> = Vec::new();
            let mut result: Option<Result<Vec<u8>, String>> = None;
            let mut resume = begin + 1;
            while j < lines.len() {
                let l = lines[j];
                if let Some(end) = end_label(l) {
                    if end == label.as_bytes() {
                        result = Some(
                            B64.decode(&body)
                                .map_err(|e| format!("base64 does not decode ({e})")),
                        );
                    } else {
                        result = Some(Err(format!(
                            "END line says {:?}, BEGIN said {label:?}",
                            String::from_utf8_lossy(end)
                        )));
                    }
                    resume = j + 1;
                    break;
                }
                if begin_label(l).is_some() {
                    result = Some(Err("no END line before the next BEGIN".into()));
                    resume = j;
                    break;
                }
                push_base64_line(&mut body, l);
                j += 1;
            }
            let data = result.unwrap_or_else(|| Err("no END line".into()));
            if result_is_truncated(&data) {
                resume = lines.len();
            }
            blocks.push(PemBlock {
                index: blocks.len(),
                line: begin + 1,
                label,
                has_headers,
                data,
            });
            i = resume.max(begin + 1);
        }
        blocks
    }

    #[test]
    fn the_streaming_scanner_agrees_with_the_line_scanner() {
        const PARTS: &[&[u8]] = &[
            b"-----BEGIN CERTIFICATE-----",
            b"-----END CERTIFICATE-----",
            b"-----BEGIN TRUSTED CERTIFICATE-----",
            b"-----END TRUSTED CERTIFICATE-----",
            b"-----BEGIN X-----  ",
            b"-----END X-----\r",
            b"-----BEGIN ",
            b"x-----BEGIN CERTIFICATE-----",
            b"AAEC",
            b"AwQ=",
            b"!!",
            b"Proc-Type: 4,ENCRYPTED",
            b"",
            b" \t",
            b"\r",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let n = (next() % 12) as usize;
            let mut text = Vec::new();
            for k in 0..n {
                text.extend_from_slice(PARTS[(next() % PARTS.len() as u64) as usize]);
                if k + 1 < n || next() % 2 == 0 {
                    text.push(b'\n');
                }
            }
            let a = parse(&text);
            let b = reference_parse(&text);
            let key = |v: &[PemBlock]| {
                v.iter()
                    .map(|p| (p.index, p.line, p.label.clone(), p.has_headers, p.data.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(key(&a), key(&b), "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn memory_follows_blocks_not_lines() {
        // One BEGIN line and a million empty lines: one block, found without a line table.
        let mut text = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        text.resize(text.len() + 1_000_000, b'\n');
        let b = parse(&text);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].data.as_ref().unwrap_err(), "no END line");
        // A huge label is kept short.
        let mut long = b"-----BEGIN ".to_vec();
        long.resize(long.len() + 100_000, b'A');
        long.extend_from_slice(b"-----\n-----END X-----\n");
        let b = parse(&long);
        assert!(b[0].label.len() < 200);
        assert!(b[0].data.is_err());
    }
}
