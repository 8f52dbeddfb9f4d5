//! Java key stores: JKS / JCEKS (magic `FEEDFEED` / `CECECECE`) and PKCS#12, read the way
//! `TrustStoreUtil.getTrustedCerts` sees them with no store password: trusted-certificate
//! entries, plus the first certificate of each key entry. In PKCS#12 a certificate is a
//! trusted entry only with Java's trustedKeyUsage attribute (2.16.840.1.113894.746875.1.1,
//! as keytool writes it); encrypted parts cannot be read without the password (Java skips
//! them too when `javax.net.ssl.trustStorePassword` is not set).

use super::der::read_tlv;

/// What kind of key store a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jks,
    Jceks,
    Pkcs12,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jks => "JKS",
            Kind::Jceks => "JCEKS",
            Kind::Pkcs12 => "PKCS12",
        }
    }
}

/// One certificate Java trusts from the store.
#[derive(Debug, Clone)]
pub struct Entry {
    pub alias: String,
    pub der: Vec<u8>,
    /// From a key entry (its first certificate) rather than a trusted-certificate entry.
    pub key_entry: bool,
}

/// A parsed store.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub kind: Kind,
    pub entries: Vec<Entry>,
    /// PKCS#12: encrypted SafeContents not read (no password, or an encryption this
    /// reader does not implement).
    pub encrypted_parts: usize,
    /// PKCS#12: encrypted SafeContents decrypted with the given password.
    pub decrypted_parts: usize,
    /// PKCS#12: why an encrypted part could not be read, when a password was given.
    pub decrypt_error: Option<String>,
    /// PKCS#12: certificate bags without the trusted attribute or a key (not trusted by Java).
    pub ignored_certs: usize,
    /// PKCS#12: encrypted parts not decrypted because their key derivation would pass
    /// [`KDF_BUDGET`] (also counted in `encrypted_parts`).
    pub kdf_budget_parts: usize,
}

/// The most PBKDF2 iterations one store may cost, over all its encrypted parts: 100 parts
/// at keytool's 10,000 (about half a second of CPU). Without it, a 67 KB store of parts at
/// 2,000,000 iterations each costs a minute, and a 64 MiB one most of a day.
pub const KDF_BUDGET: u64 = 1_000_000;
/// Why a part was not decrypted when the budget ran out.
pub const KDF_BUDGET_ERROR: &str = "key derivation budget exhausted";

/// Sniff and parse; `password` (javax.net.ssl.trustStorePassword) decrypts PKCS#12
/// parts encrypted with PBES2 (PBKDF2 + AES-CBC), as keytool writes them since JDK 17.
pub fn parse(data: &[u8], password: Option<&str>) -> Result<Parsed, String> {
    match data.get(..4) {
        Some([0xfe, 0xed, 0xfe, 0xed]) => {
            parse_jks(data, Kind::Jks).map(|p| jks_integrity(p, data, password))
        }
        Some([0xce, 0xce, 0xce, 0xce]) => {
            parse_jks(data, Kind::Jceks).map(|p| jks_integrity(p, data, password))
        }
        Some([0x30, ..]) => parse_p12(data, password),
        _ => Err("not a Java key store (neither JKS magic FEEDFEED nor a PKCS#12 structure)".into()),
    }
}

/// JKS/JCEKS keyed digest: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite" and the
/// store; checked by Java only when a password is given.
fn jks_integrity(mut p: Parsed, data: &[u8], password: Option<&str>) -> Parsed {
    use sha1::{Digest, Sha1};
    let (Some(pw), true) = (password, data.len() >= 20) else {
        return p;
    };
    let mut h = Sha1::new();
    for u in pw.encode_utf16() {
        h.update(u.to_be_bytes());
    }
    h.update(b"Mighty Aphrodite");
    h.update(&data[..data.len() - 20]);
    if h.finalize().as_slice() != &data[data.len() - 20..] {
        p.decrypt_error = Some("Keystore was tampered with, or password was incorrect".into());
    }
    p
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {}", self.pos));
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<usize, String> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]) as usize)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn utf(&mut self) -> Result<String, String> {
        let n = self.u16()?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

fn parse_jks(data: &[u8], kind: Kind) -> Result<Parsed, String> {
    let mut r = Rd { b: data, pos: 4 };
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("unsupported {} version {version}", kind.name()));
    }
    let count = r.u32()?;
    let mut entries = vec![];
    for _ in 0..count {
        let tag = r.u32()?;
        let alias = r.utf()?;
        r.take(8)?; // creation date
        match tag {
            1 => {
                // Private key: protected key bytes, then the chain.
                let n = r.u32()? as usize;
                r.take(n)?;
                let chain = r.u32()?;
                for i in 0..chain {
                    if version == 2 {
                        r.utf()?;
                    }
                    let n = r.u32()? as usize;
                    let der = r.take(n)?.to_vec();
                    if i == 0 {
                        entries.push(Entry {
                            alias: alias.clone(),
                            der,
                            key_entry: true,
                        });
                    }
                }
            }
            2 => {
                if version == 2 {
                    r.utf()?;
                }
                let n = r.u32()? as usize;
                entries.push(Entry {
                    alias,
                    der: r.take(n)?.to_vec(),
                    key_entry: false,
                });
            }
            3 if kind == Kind::Jceks => {
                // Sealed secret key: a serialized Java object; nothing to trust, stop here.
                break;
            }
            t => {
                return Err(format!(
                    "unknown {} entry tag {t} for alias {alias:?}",
                    kind.name()
                ))
            }
        }
    }
    Ok(Parsed {
        kind,
        entries,
        encrypted_parts: 0,
        decrypted_parts: 0,
        decrypt_error: None,
        ignored_certs: 0,
        kdf_budget_parts: 0,
    })
}

/// Decode an OID's contents to dotted form.
fn oid(c: &[u8]) -> String {
    let mut parts: Vec<u64> = vec![];
    let mut v: u64 = 0;
    for (i, &b) in c.iter().enumerate() {
        v = (v << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if parts.is_empty() && i < c.len() {
                let (a, b2) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                parts.push(a);
                parts.push(b2);
            } else {
                parts.push(v);
            }
            v = 0;
        }
    }
    parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".")
}

const DATA: &str = "1.2.840.113549.1.7.1";
const ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const X509_CERT: &str = "1.2.840.113549.1.9.22.1";
const FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
const LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
const TRUSTED_KEY_USAGE: &str = "2.16.840.1.113894.746875.1.1";

fn seq_items(c: &[u8]) -> Result<Vec<super::der::Tlv<'_>>, String> {
    let mut out = vec![];
    let mut rest = c;
    while !rest.is_empty() {
        let (t, r) = read_tlv(rest).ok_or("bad DER")?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

fn one(c: &[u8]) -> Result<super::der::Tlv<'_>, String> {
    read_tlv(c).map(|x| x.0).ok_or_else(|| "bad DER".to_string())
}

fn parse_p12(data: &[u8], password: Option<&str>) -> Result<Parsed, String> {
    let pfx = one(data).map_err(|_| "not a PKCS#12 file: bad DER".to_string())?;
    let items = seq_items(pfx.content)?;
    let (Some(v), Some(auth)) = (items.first(), items.get(1)) else {
        return Err("not a PKCS#12 file".into());
    };
    if v.tag != 0x02 || v.content != [3] {
        return Err("not a PKCS#12 file (version is not 3)".into());
    }
    let ci = seq_items(auth.content)?;
    if ci.len() < 2 || oid(ci[0].content) != DATA {
        return Err("PKCS#12 authSafe is not plain data (public-key integrity mode is not supported)".into());
    }
    let octets = one(ci[1].content)?;
    if octets.tag != 0x04 {
        return Err("PKCS#12 authSafe: constructed (BER) encoding is not supported".into());
    }
    let safe = one(octets.content)?;
    let mut out = Parsed {
        kind: Kind::Pkcs12,
        entries: vec![],
        encrypted_parts: 0,
        decrypted_parts: 0,
        decrypt_error: None,
        ignored_certs: 0,
        kdf_budget_parts: 0,
    };
    let mut budget = KDF_BUDGET;
    for ci in seq_items(safe.content)? {
        let parts = seq_items(ci.content)?;
        let Some(ct) = parts.first() else { continue };
        match oid(ct.content).as_str() {
            DATA => {
                let Some(wrapped) = parts.get(1) else { continue };
                let os = one(wrapped.content)?;
                let bags = one(os.content)?;
                for bag in seq_items(bags.content)? {
                    p12_bag(bag.content, &mut out)?;
                }
            }
            ENCRYPTED_DATA => match (password, parts.get(1)) {
                (Some(pw), Some(wrapped)) => match decrypt(one(wrapped.content)?.content, pw, &mut budget) {
                    Ok(plain) => {
                        // A wrong key passes the padding check 1 time in 256: then the
                        // plaintext is no SafeContents, and the password was wrong.
                        let mut bags_out = Parsed {
                            entries: vec![],
                            ..out.clone()
                        };
                        let ok = one(&plain)
                            .and_then(|bags| seq_items(bags.content))
                            .and_then(|bags| bags.iter().try_for_each(|b| p12_bag(b.content, &mut bags_out)));
                        match ok {
                            Ok(()) => {
                                out.decrypted_parts += 1;
                                out.ignored_certs = bags_out.ignored_certs;
                                out.entries.extend(bags_out.entries);
                            }
                            Err(_) => {
                                out.encrypted_parts += 1;
                                out.decrypt_error = Some("keystore password was incorrect".into());
                            }
                        }
                    }
                    Err(e) if e == KDF_BUDGET_ERROR => {
                        out.encrypted_parts += 1;
                        out.kdf_budget_parts += 1;
                    }
                    Err(e) => {
                        out.encrypted_parts += 1;
                        out.decrypt_error = Some(e);
                    }
                },
                _ => out.encrypted_parts += 1,
            },
            _ => {}
        }
    }
    Ok(out)
}

const PBES2: &str = "1.2.840.113549.1.5.13";
const PBKDF2: &str = "1.2.840.113549.1.5.12";
const HMAC_SHA1: &str = "1.2.840.113549.2.7";
const HMAC_SHA256: &str = "1.2.840.113549.2.9";
const HMAC_SHA384: &str = "1.2.840.113549.2.10";
const HMAC_SHA512: &str = "1.2.840.113549.2.11";
const AES128_CBC: &str = "2.16.840.1.101.3.4.1.2";
const AES192_CBC: &str = "2.16.840.1.101.3.4.1.22";
const AES256_CBC: &str = "2.16.840.1.101.3.4.1.42";

/// EncryptedData (PKCS#7) -> the plaintext SafeContents. PBES2 only.
/// `budget`: PBKDF2 iterations left for the store; a part costing more is not derived.
fn decrypt(encrypted_data: &[u8], password: &str, budget: &mut u64) -> Result<Vec<u8>, String> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockDecryptMut, KeyIvInit};
    let f = seq_items(encrypted_data)?;
    let eci = seq_items(f.get(1).ok_or("bad EncryptedData")?.content)?;
    let alg = seq_items(eci.get(1).ok_or("bad EncryptedContentInfo")?.content)?;
    let content = eci.get(2).ok_or("no encrypted content")?;
    let ciphertext: Vec<u8> = if content.tag == 0x80 {
        content.content.to_vec()
    } else {
        // Constructed: concatenated OCTET STRINGs.
        seq_items(content.content)?
            .iter()
            .flat_map(|t| t.content.to_vec())
            .collect()
    };
    let alg_oid = oid(alg.first().ok_or("no algorithm")?.content);
    if alg_oid != PBES2 {
        return Err(format!(
            "encrypted with {alg_oid} (legacy PKCS#12 PBE), which tlsdoctor does not decrypt"
        ));
    }
    let params = seq_items(alg.get(1).ok_or("no PBES2 parameters")?.content)?;
    let kdf = seq_items(params.first().ok_or("no KDF")?.content)?;
    if oid(kdf.first().ok_or("no KDF")?.content) != PBKDF2 {
        return Err("PBES2 with a key derivation other than PBKDF2".into());
    }
    let kp = seq_items(kdf.get(1).ok_or("no PBKDF2 parameters")?.content)?;
    let salt = kp.first().ok_or("no salt")?.content;
    let iter = kp
        .get(1)
        .ok_or("no iteration count")?
        .content
        .iter()
        .fold(0u64, |a, &b| (a << 8) | b as u64);
    let prf = kp
        .iter()
        .skip(2)
        .find(|t| t.tag == 0x30)
        .and_then(|t| seq_items(t.content).ok())
        .and_then(|v| v.first().map(|o| oid(o.content)))
        .unwrap_or_else(|| HMAC_SHA1.to_string());
    let prf = match prf.as_str() {
        HMAC_SHA1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        HMAC_SHA256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        HMAC_SHA384 => ring::pbkdf2::PBKDF2_HMAC_SHA384,
        HMAC_SHA512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        o => return Err(format!("PBKDF2 with PRF {o}, not supported")),
    };
    let iter = std::num::NonZeroU32::new(u32::try_from(iter).map_err(|_| "iteration count too large")?)
        .ok_or("iteration count 0")?;
    if iter.get() > 2_000_000 {
        return Err("iteration count too large".into());
    }
    let enc = seq_items(params.get(1).ok_or("no encryption scheme")?.content)?;
    let scheme = oid(enc.first().ok_or("no encryption scheme")?.content);
    let iv = enc.get(1).ok_or("no IV")?.content;
    if iv.len() != 16 {
        return Err("bad IV".into());
    }
    let key_len = match scheme.as_str() {
        AES128_CBC => 16,
        AES192_CBC => 24,
        AES256_CBC => 32,
        o => return Err(format!("PBES2 with cipher {o}, not supported")),
    };
    if u64::from(iter.get()) > *budget {
        return Err(KDF_BUDGET_ERROR.into());
    }
    *budget -= u64::from(iter.get());
    let mut key = vec![0u8; key_len];
    ring::pbkdf2::derive(prf, iter, salt, password.as_bytes(), &mut key);
    let mut buf = ciphertext;
    let wrong = || "keystore password was incorrect".to_string();
    let n = match key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| wrong())?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| wrong())?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| wrong())?
            .len(),
    };
    buf.truncate(n);
    Ok(buf)
}

fn p12_bag(bag: &[u8], out: &mut Parsed) -> Result<(), String> {
    let f = seq_items(bag)?;
    let (Some(id), Some(val)) = (f.first(), f.get(1)) else {
        return Ok(());
    };
    if oid(id.content) != CERT_BAG {
        return Ok(());
    }
    let cb = seq_items(one(val.content)?.content)?;
    let (Some(cid), Some(cval)) = (cb.first(), cb.get(1)) else {
        return Ok(());
    };
    if oid(cid.content) != X509_CERT {
        return Ok(());
    }
    let der = one(cval.content)?.content.to_vec();
    let mut alias = String::new();
    let mut trusted = false;
    let mut key = false;
    if let Some(attrs) = f.get(2) {
        for a in seq_items(attrs.content)? {
            let av = seq_items(a.content)?;
            let Some(aid) = av.first() else { continue };
            match oid(aid.content).as_str() {
                TRUSTED_KEY_USAGE => trusted = true,
                LOCAL_KEY_ID => key = true,
                FRIENDLY_NAME => {
                    if let Some(set) = av.get(1) {
                        if let Ok(s) = one(set.content) {
                            let u: Vec<u16> = s
                                .content
                                .chunks(2)
                                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                                .collect();
                            alias = String::from_utf16_lossy(&u);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if trusted || key {
        out.entries.push(Entry {
            alias,
            der,
            key_entry: !trusted,
        });
    } else {
        out.ignored_certs += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        assert_eq!(oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]), DATA);
        assert_eq!(
            oid(&[0x60, 0x86, 0x48, 0x01, 0x86, 0xf9, 0x66, 0xad, 0xca, 0x7b, 0x01, 0x01]),
            TRUSTED_KEY_USAGE
        );
    }

    /// A JKS with one trusted certificate, written by hand (format of sun.security.provider.JavaKeyStore).
    fn jks(der: &[u8], password: &str) -> Vec<u8> {
        use sha1::{Digest, Sha1};
        let mut v = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        v.extend([0, 4]);
        v.extend(b"root");
        v.extend([0u8; 8]);
        v.extend([0, 5]);
        v.extend(b"X.509");
        v.extend((der.len() as u32).to_be_bytes());
        v.extend(der);
        let mut h = Sha1::new();
        for u in password.encode_utf16() {
            h.update(u.to_be_bytes());
        }
        h.update(b"Mighty Aphrodite");
        h.update(&v);
        v.extend(h.finalize());
        v
    }

    #[test]
    fn jks_entries_digest_and_mutations() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let data = jks(cert.der(), "changeit");
        let p = parse(&data, None).unwrap();
        assert_eq!((p.kind, p.entries.len()), (Kind::Jks, 1));
        assert_eq!(p.entries[0].alias, "root");
        assert_eq!(p.entries[0].der, cert.der().to_vec());
        assert!(parse(&data, Some("changeit")).unwrap().decrypt_error.is_none());
        assert!(parse(&data, Some("wrong")).unwrap().decrypt_error.is_some());
        // Truncated or mutated anywhere: an error or fewer entries, never a panic.
        for n in 0..data.len() {
            let _ = parse(&data[..n], Some("changeit"));
            let mut m = data.clone();
            m[n] ^= 0xff;
            let _ = parse(&m, Some("changeit"));
        }
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for d in [
            &b""[..],
            b"\xfe\xed\xfe\xed",
            b"\xfe\xed\xfe\xed\0\0\0\x02\0\0\0\x05",
            b"\x30\x03\x02\x01\x03",
            b"hello",
        ] {
            assert!(parse(d, None).is_err() || parse(d, Some("x")).is_ok_and(|p| p.entries.is_empty()));
        }
    }
}
