//! OpenSSL's canonical name encoding (`x509_name_canon` / `asn1_string_canon` in
//! crypto/x509/x_name.c) and the subject hash built on it (`X509_NAME_hash_ex`).
//!
//! For each RDN SET, each attribute value of a string type (UTF8String, PrintableString,
//! T61String, IA5String, VisibleString, BMPString, UniversalString) is converted to UTF-8,
//! leading/trailing ASCII whitespace (`' '`, `\t`, `\n`, `\v`, `\f`, `\r`) dropped, inner
//! runs collapsed to one space, ASCII letters lowercased (bytes ≥ 0x80 untouched) and
//! re-tagged UTF8String; other types are kept byte for byte. Each SET is DER-encoded
//! (members sorted as DER SET OF), and the canonical encoding is the concatenation of those
//! SETs without the outer SEQUENCE header. The hash is the first four bytes of SHA-1 over
//! it, read little-endian. An empty name hashes the empty string.

use sha1::{Digest, Sha1};

use super::der::{children, read_tlv, tlv};

const UTF8: u8 = 0x0c;
const PRINTABLE: u8 = 0x13;
const T61: u8 = 0x14;
const IA5: u8 = 0x16;
const VISIBLE: u8 = 0x1a;
const UNIVERSAL: u8 = 0x1c;
const BMP: u8 = 0x1e;

/// OpenSSL's canonical encoding of a DER Name (the full `SEQUENCE`, as in a certificate).
/// None when the name is malformed or a string cannot be converted (OpenSSL fails too).
pub fn canonical_name(name_der: &[u8]) -> Option<Vec<u8>> {
    let (seq, rest) = read_tlv(name_der)?;
    if seq.tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(seq.content.len());
    for set in children(seq.content)? {
        if set.tag != 0x31 {
            return None;
        }
        let mut members: Vec<Vec<u8>> = Vec::new();
        for atv in children(set.content)? {
            if atv.tag != 0x30 {
                return None;
            }
            let parts = children(atv.content)?;
            if parts.len() != 2 || parts[0].tag != 0x06 {
                return None;
            }
            let mut body = tlv(0x06, parts[0].content);
            body.extend(canon_value(parts[1].tag, parts[1].content)?);
            members.push(tlv(0x30, &body));
        }
        // DER SET OF: members sorted by their encodings (OpenSSL's der_cmp).
        members.sort_by(|a, b| {
            let n = a.len().min(b.len());
            a[..n].cmp(&b[..n]).then(a.len().cmp(&b.len()))
        });
        let joined: Vec<u8> = members.concat();
        out.extend(tlv(0x31, &joined));
    }
    Some(out)
}

/// `X509_NAME_hash_ex`: SHA-1 of the canonical encoding, first 4 bytes little-endian.
pub fn subject_hash(name_der: &[u8]) -> Option<u32> {
    let canon = canonical_name(name_der)?;
    let d = Sha1::digest(&canon);
    Some(u32::from_le_bytes([d[0], d[1], d[2], d[3]]))
}

fn canon_value(tag: u8, content: &[u8]) -> Option<Vec<u8>> {
    let utf8: Vec<u8> = match tag {
        UTF8 => {
            std::str::from_utf8(content).ok()?;
            content.to_vec()
        }
        // One byte per character, taken as a code point (Latin-1 for T61).
        PRINTABLE | T61 | IA5 | VISIBLE => {
            let mut v = Vec::with_capacity(content.len());
            for &b in content {
                put_utf8(&mut v, b as u32)?;
            }
            v
        }
        BMP => {
            if !content.len().is_multiple_of(2) {
                return None;
            }
            let mut v = Vec::with_capacity(content.len() * 2);
            for c in content.chunks(2) {
                put_utf8(&mut v, u16::from_be_bytes([c[0], c[1]]) as u32)?;
            }
            v
        }
        UNIVERSAL => {
            if !content.len().is_multiple_of(4) {
                return None;
            }
            let mut v = Vec::with_capacity(content.len());
            for c in content.chunks(4) {
                put_utf8(&mut v, u32::from_be_bytes([c[0], c[1], c[2], c[3]]))?;
            }
            v
        }
        _ => return Some(tlv(tag, content)),
    };
    Some(tlv(UTF8, &canon_utf8(&utf8)))
}

/// OpenSSL's `ossl_isspace`: space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    b == b' ' || (0x09..=0x0d).contains(&b)
}

fn canon_utf8(s: &[u8]) -> Vec<u8> {
    let mut from = s;
    while let Some((&b, rest)) = from.split_first() {
        if !is_space(b) {
            break;
        }
        from = rest;
    }
    while let Some((&b, rest)) = from.split_last() {
        if !is_space(b) {
            break;
        }
        from = rest;
    }
    let mut out = Vec::with_capacity(from.len());
    let mut i = 0;
    while i < from.len() {
        let b = from[i];
        if b >= 0x80 {
            out.push(b);
            i += 1;
        } else if is_space(b) {
            out.push(b' ');
            while i < from.len() && is_space(from[i]) {
                i += 1;
            }
        } else {
            out.push(b.to_ascii_lowercase());
            i += 1;
        }
    }
    out
}

/// OpenSSL's `UTF8_putc` (no surrogate pairing; values above 0x10FFFF fail).
fn put_utf8(out: &mut Vec<u8>, v: u32) -> Option<()> {
    match v {
        0..=0x7f => out.push(v as u8),
        0x80..=0x7ff => {
            out.push(0xc0 | (v >> 6) as u8);
            out.push(0x80 | (v & 0x3f) as u8);
        }
        0x800..=0xffff => {
            out.push(0xe0 | (v >> 12) as u8);
            out.push(0x80 | ((v >> 6) & 0x3f) as u8);
            out.push(0x80 | (v & 0x3f) as u8);
        }
        0x10000..=0x10ffff => {
            out.push(0xf0 | (v >> 18) as u8);
            out.push(0x80 | ((v >> 12) & 0x3f) as u8);
            out.push(0x80 | ((v >> 6) & 0x3f) as u8);
            out.push(0x80 | (v & 0x3f) as u8);
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_name_hashes_the_empty_string() {
        // SHA-1("") = da39a3ee…; little-endian first four bytes.
        assert_eq!(subject_hash(&[0x30, 0x00]), Some(0xeea339da));
        assert_eq!(canonical_name(&[0x30, 0x00]), Some(vec![]));
    }

    #[test]
    fn whitespace_and_case_are_canonicalised() {
        assert_eq!(canon_utf8(b"  Hello \t\n  World  "), b"hello world");
        assert_eq!(canon_utf8("ZÜRICH  AG".as_bytes()), "zÜrich ag".as_bytes());
        assert_eq!(canon_utf8(b"\x0bA\x0cB\r"), b"a b");
    }

    #[test]
    fn malformed_names_are_none() {
        assert_eq!(canonical_name(&[0x30, 0x05, 0x31]), None);
        assert_eq!(canonical_name(&[0x04, 0x00]), None);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// xorshift: deterministic pseudo-random bytes without a dependency.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn mutated_names_and_pem_never_panic() {
        // CN=Example, O=Org with a multi-valued RDN, as DER.
        let name: Vec<u8> = vec![
            0x30, 0x29, 0x31, 0x27, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x09, b'E', b'x', b'a',
            b'm', b'p', b'l', b'e', b' ', b' ', 0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x1e, 0x0c, 0x00,
            b'O', 0x00, b'r', 0x00, b'g', 0x00, b' ', 0x00, b'X', 0x00, b'Y',
        ];
        // Valid as written: a multi-valued RDN with a BMPString; its members get re-sorted.
        let canon = canonical_name(&name).expect("valid name");
        assert!(canon.windows(7).any(|w| w == b"example"));
        assert!(subject_hash(&name[..name.len() - 1]).is_none(), "truncated");
        let pem_text =
            b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n".to_vec();
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..5000 {
            let mut n = name.clone();
            let mut p = pem_text.clone();
            for _ in 0..(rng(&mut seed) % 4 + 1) {
                let i = (rng(&mut seed) as usize) % n.len();
                n[i] = rng(&mut seed) as u8;
                let j = (rng(&mut seed) as usize) % p.len();
                p[j] = rng(&mut seed) as u8;
            }
            let cut = (rng(&mut seed) as usize) % (n.len() + 1);
            let _ = canonical_name(&n[..cut]);
            let _ = subject_hash(&n);
            let _ = crate::trust::pem::parse(&p);
            let random: Vec<u8> = (0..(rng(&mut seed) % 64)).map(|_| rng(&mut seed) as u8).collect();
            let _ = canonical_name(&random);
            let _ = crate::trust::pem::parse(&random);
        }
    }
}
