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
    if !blocks.is_empty() {
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

/// Every PEM block of a file, in order.
pub fn parse(data: &[u8]) -> Vec<PemBlock> {
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
        let mut body: Vec<u8> = Vec::with_capacity(64 * 32);
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
            body.extend(l.iter().filter(|b| !b.is_ascii_whitespace()));
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

fn result_is_truncated(r: &Result<Vec<u8>, String>) -> bool {
    matches!(r, Err(e) if e == "no END line")
}

/// Find `needle` in `hay`.
pub fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|b| *b == first)
        {
            None => return None,
            Some(p) => {
                let at = i + p;
                if &hay[at..at + needle.len()] == needle {
                    return Some(at);
                }
                i = at + 1;
            }
        }
    }
    None
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
}
