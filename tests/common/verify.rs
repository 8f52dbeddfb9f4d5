//! Shared helpers for the verify/limbo tests.
#![allow(dead_code)]

use std::sync::Arc;

use tlsdoctor::trust::{Anchor, Provenance, Runtime, TrustStore};
use tlsdoctor::x509::CertInfo;

/// A trust store made of exactly these certificates (as `--ca` would give).
pub fn store(runtime: Runtime, certs: &[Arc<CertInfo>], source: &str) -> TrustStore {
    TrustStore {
        runtime,
        steps: vec![],
        anchors: certs
            .iter()
            .enumerate()
            .map(|(i, c)| Anchor {
                cert: c.clone(),
                provenance: Provenance {
                    path: source.to_string(),
                    resolved: None,
                    block: Some(i),
                    line: None,
                },
                hash_name: None,
                trusted_cert_block: false,
            })
            .collect(),
        findings: vec![],
        assumptions: vec![],
        explicit: true,
        error: None,
    }
}

/// Decode a PEM string into certificates (panics on bad input: test data).
pub fn pem_certs(pem: &str) -> Vec<Arc<CertInfo>> {
    tlsdoctor::commands::inspect::decode_bundle(pem.as_bytes())
        .into_iter()
        .filter_map(|b| b.result.ok())
        .collect()
}
