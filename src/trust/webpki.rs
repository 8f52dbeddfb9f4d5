//! webpki-roots: Mozilla's list compiled into the program; the system is never consulted.
//!
//! The crate ships trust anchors (subject, public key, name constraints), not certificates.
//! Each anchor is turned into a minimal unsigned certificate so the rest of the tool can treat
//! it like any other anchor; its SHA-256 is therefore not the real root's fingerprint.

use std::sync::Arc;

use super::der::tlv;
use super::{Anchor, Cx, Outcome, Provenance, Runtime, Step, StepKind, TrustStore};
use crate::x509::CertInfo;

/// The version of webpki-roots compiled into tlsdoctor.
pub const VERSION: &str = "1.0";

/// A certificate carrying the anchor's subject, key and name constraints (not signed).
pub fn anchor_certificate(a: &rustls_pki_types::TrustAnchor<'_>) -> Vec<u8> {
    let subject = tlv(0x30, a.subject.as_ref());
    let spki = tlv(0x30, a.subject_public_key_info.as_ref());
    let alg = tlv(
        0x30,
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
        ],
    );
    let validity = {
        let mut v = tlv(0x18, b"19700101000000Z");
        v.extend(tlv(0x18, b"99991231235959Z"));
        tlv(0x30, &v)
    };
    // basicConstraints: critical, CA:TRUE
    let mut exts = tlv(
        0x30,
        &[
            0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff,
        ],
    );
    if let Some(nc) = &a.name_constraints {
        let mut e = vec![0x06, 0x03, 0x55, 0x1d, 0x1e, 0x01, 0x01, 0xff];
        e.extend(tlv(0x04, &tlv(0x30, nc.as_ref())));
        exts.extend(tlv(0x30, &e));
    }
    let mut tbs = vec![0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01];
    tbs.extend(&alg);
    tbs.extend(&subject);
    tbs.extend(&validity);
    tbs.extend(&subject);
    tbs.extend(&spki);
    tbs.extend(tlv(0xa3, &tlv(0x30, &exts)));
    let mut cert = tlv(0x30, &tbs);
    cert.extend(&alg);
    cert.extend([0x03, 0x01, 0x00]);
    tlv(0x30, &cert)
}

/// The compiled-in anchors as certificates, built once per process (webpki-roots and
/// Node's stand-in list share them); the second value counts anchors that could not be
/// represented.
pub fn builtin() -> &'static (Vec<Arc<CertInfo>>, usize) {
    static BUILTIN: std::sync::OnceLock<(Vec<Arc<CertInfo>>, usize)> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(|| {
        let mut v = Vec::new();
        let mut skipped = 0;
        for a in webpki_roots::TLS_SERVER_ROOTS.iter() {
            let der = anchor_certificate(a);
            match CertInfo::from_der_opts(&der, false) {
                Ok(mut c) => {
                    c.self_signed = true;
                    v.push(Arc::new(c));
                }
                Err(_) => skipped += 1,
            }
        }
        (v, skipped)
    })
}

pub fn resolve(_cx: &Cx) -> TrustStore {
    let mut store = TrustStore::empty(Runtime::WebpkiRoots);
    let (certs, skipped) = builtin();
    let skipped = *skipped;
    for (i, c) in certs.iter().enumerate() {
        store.anchors.push(Anchor {
            cert: c.clone(),
            provenance: Provenance {
                path: "builtin:webpki-roots".into(),
                resolved: None,
                block: Some(i),
                line: None,
            },
            hash_name: None,
            trusted_cert_block: false,
            aux_trust: None,
        });
    }
    store.steps.push(Step {
        source: "builtin:webpki-roots".into(),
        kind: StepKind::Builtin,
        outcome: Outcome::Loaded,
        anchors: store.anchors.len(),
        reason: Some(format!(
            "compiled into the program; environment and files are ignored{}",
            if skipped > 0 {
                format!(" ({skipped} anchors could not be represented)")
            } else {
                String::new()
            }
        )),
    });
    store.assumptions.push(format!(
        "webpki-roots {VERSION}.x as compiled into tlsdoctor ({} anchors); a program built with another \
         version carries its own list. Anchors are subject + key only: fingerprints shown are of a \
         reconstructed certificate",
        webpki_roots::TLS_SERVER_ROOTS.len()
    ));
    store
}
