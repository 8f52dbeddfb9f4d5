//! OpenSSL's auxiliary trust settings: the `X509_CERT_AUX` that follows the certificate
//! DER inside a `TRUSTED CERTIFICATE` PEM block (`openssl x509 -addtrust serverAuth
//! -trustout`, `-addreject …`). Only OpenSSL reads these blocks (`d2i_X509_AUX`).
//!
//! ```text
//! X509_CERT_AUX ::= SEQUENCE {
//!     trust   SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
//!     reject  [0] IMPLICIT SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
//!     alias   UTF8String OPTIONAL,
//!     keyid   OCTET STRING OPTIONAL,
//!     other   [1] IMPLICIT SEQUENCE OF AlgorithmIdentifier OPTIONAL }
//! ```
//!
//! How OpenSSL 3.0 uses them (`x509_trs.c` `obj_trust`, for the `ssl_server` trust id,
//! `trust_1oidany`): a reject list naming the purpose or anyExtendedKeyUsage rejects; else
//! a trust list naming either trusts; a trust list that is present but names neither
//! (including an empty one) rejects; without a trust list the certificate is trusted only
//! when self-signed (the "compat" rule, as for a plain `CERTIFICATE`).

use serde::Serialize;

use super::der::{children, read_tlv};

/// id-kp-serverAuth.
pub const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
/// anyExtendedKeyUsage.
pub const OID_ANY_EKU: &str = "2.5.29.37.0";

/// The trust settings carried by one `TRUSTED CERTIFICATE` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuxTrust {
    /// Trusted uses (dotted OIDs); None when the list is absent (an empty list is
    /// `Some(vec![])`, which OpenSSL treats as "trusted for nothing").
    pub trust: Option<Vec<String>>,
    /// Rejected uses (dotted OIDs); None when absent.
    pub reject: Option<Vec<String>>,
    /// The friendly name (`-setalias`).
    pub alias: Option<String>,
}

/// OpenSSL's explicit decision for a purpose, before the self-signed fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxDecision {
    Trusted,
    Rejected,
    /// No trust list: OpenSSL falls back to "trusted if self-signed".
    NoList,
}

impl AuxTrust {
    /// Parse the bytes that follow the certificate in a `TRUSTED CERTIFICATE` block.
    /// Ok(None): nothing follows (no aux at all). Err: OpenSSL cannot decode it and refuses
    /// the block (and, for a CA file, the whole file).
    pub fn parse(rest: &[u8]) -> Result<Option<AuxTrust>, String> {
        if rest.is_empty() {
            return Ok(None);
        }
        // Bytes after the X509_CERT_AUX are ignored by d2i_X509_AUX.
        let (seq, _) = read_tlv(rest).ok_or("truncated X509_CERT_AUX")?;
        if seq.tag != 0x30 {
            return Err(format!("X509_CERT_AUX is not a SEQUENCE (tag 0x{:02x})", seq.tag));
        }
        let fields = children(seq.content).ok_or("malformed X509_CERT_AUX")?;
        let mut aux = AuxTrust::default();
        // Fields in order, each optional.
        let order = [0x30u8, 0xa0, 0x0c, 0x04, 0xa1];
        let mut pos = 0;
        for f in fields {
            let Some(k) = order[pos..].iter().position(|t| *t == f.tag) else {
                return Err(format!("unexpected field (tag 0x{:02x}) in X509_CERT_AUX", f.tag));
            };
            pos += k + 1;
            match f.tag {
                0x30 => aux.trust = Some(oids(f.content)?),
                0xa0 => aux.reject = Some(oids(f.content)?),
                0x0c => {
                    aux.alias = Some(
                        std::str::from_utf8(f.content)
                            .map_err(|_| "alias is not UTF-8")?
                            .to_string(),
                    )
                }
                _ => {}
            }
        }
        Ok(Some(aux))
    }

    /// `obj_trust(purpose, x, DO_SS_COMPAT | OK_ANY_EKU)` up to the self-signed fallback.
    pub fn decision(&self, purpose: &str) -> AuxDecision {
        let hit = |l: &Option<Vec<String>>| {
            l.as_ref()
                .is_some_and(|v| v.iter().any(|o| o == purpose || o == OID_ANY_EKU))
        };
        if hit(&self.reject) {
            return AuxDecision::Rejected;
        }
        match &self.trust {
            Some(_) if hit(&self.trust) => AuxDecision::Trusted,
            Some(_) => AuxDecision::Rejected,
            None => AuxDecision::NoList,
        }
    }

    /// "trusted for serverAuth; rejected for clientAuth" (as `openssl x509 -text` lists them).
    pub fn describe(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "nothing (empty list)".to_string()
            } else {
                v.iter().map(|o| eku_name(o)).collect::<Vec<_>>().join(", ")
            }
        };
        let mut parts = vec![];
        if let Some(t) = &self.trust {
            parts.push(format!("trusted for {}", list(t)));
        }
        if let Some(r) = &self.reject {
            parts.push(format!("rejected for {}", list(r)));
        }
        if parts.is_empty() {
            parts.push("no trust settings".into());
        }
        parts.join("; ")
    }
}

/// A short name for an extended key usage OID.
pub fn eku_name(oid: &str) -> String {
    match oid {
        OID_SERVER_AUTH => "serverAuth".into(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth".into(),
        "1.3.6.1.5.5.7.3.3" => "codeSigning".into(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection".into(),
        "1.3.6.1.5.5.7.3.8" => "timeStamping".into(),
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning".into(),
        OID_ANY_EKU => "anyExtendedKeyUsage".into(),
        o => o.to_string(),
    }
}

fn oids(content: &[u8]) -> Result<Vec<String>, String> {
    let items = children(content).ok_or("malformed OID list")?;
    items
        .iter()
        .map(|t| {
            if t.tag != 0x06 {
                return Err(format!("not an OBJECT IDENTIFIER (tag 0x{:02x})", t.tag));
            }
            oid_string(t.content).ok_or_else(|| "malformed OBJECT IDENTIFIER".to_string())
        })
        .collect()
}

fn oid_string(b: &[u8]) -> Option<String> {
    if b.is_empty() || b[b.len() - 1] & 0x80 != 0 {
        return None;
    }
    let mut arcs: Vec<u64> = vec![];
    let mut v: u64 = 0;
    for &x in b {
        if v > (u64::MAX >> 7) {
            return None;
        }
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    Some(arcs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    const CLIENT_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

    fn seq(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        super::super::der::tlv(tag, &parts.concat())
    }

    #[test]
    fn decisions_follow_obj_trust() {
        assert_eq!(AuxTrust::parse(&[]).unwrap(), None);
        // -addtrust serverAuth
        let a = AuxTrust::parse(&seq(0x30, &[&seq(0x30, &[SERVER_AUTH])]))
            .unwrap()
            .unwrap();
        assert_eq!(a.trust.as_deref(), Some(&[OID_SERVER_AUTH.to_string()][..]));
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::Trusted);
        assert_eq!(a.describe(), "trusted for serverAuth");
        // -addtrust clientAuth: a list without the purpose rejects.
        let a = AuxTrust::parse(&seq(0x30, &[&seq(0x30, &[CLIENT_AUTH])]))
            .unwrap()
            .unwrap();
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::Rejected);
        // An empty trust list rejects too (real openssl verify: error 28).
        let a = AuxTrust::parse(&seq(0x30, &[&seq(0x30, &[])])).unwrap().unwrap();
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::Rejected);
        // -addreject serverAuth wins over -addtrust serverAuth.
        let a = AuxTrust::parse(&seq(
            0x30,
            &[&seq(0x30, &[SERVER_AUTH]), &seq(0xa0, &[SERVER_AUTH])],
        ))
        .unwrap()
        .unwrap();
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::Rejected);
        // An empty reject list and an alias only: no decision (self-signed fallback).
        let a = AuxTrust::parse(&seq(0x30, &[&seq(0xa0, &[]), &seq(0x0c, &[b"my-alias"])]))
            .unwrap()
            .unwrap();
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::NoList);
        assert_eq!(a.alias.as_deref(), Some("my-alias"));
        // anyExtendedKeyUsage counts for serverAuth.
        let any = [0x06, 0x04, 0x55, 0x1d, 0x25, 0x00];
        let a = AuxTrust::parse(&seq(0x30, &[&seq(0x30, &[&any])]))
            .unwrap()
            .unwrap();
        assert_eq!(a.trust.as_deref(), Some(&[OID_ANY_EKU.to_string()][..]));
        assert_eq!(a.decision(OID_SERVER_AUTH), AuxDecision::Trusted);
    }

    #[test]
    fn bad_aux_is_an_error() {
        assert!(AuxTrust::parse(&[0x02]).is_err());
        assert!(AuxTrust::parse(&seq(0x30, &[&[0x02, 0x01, 0x01]])).is_err());
        assert!(AuxTrust::parse(&seq(0x30, &[&seq(0x30, &[&[0x02, 0x01, 0x01]])])).is_err());
        // Out of order: alias before trust.
        assert!(AuxTrust::parse(&seq(0x30, &[&seq(0x0c, &[b"x"]), &seq(0x30, &[])])).is_err());
    }
}
