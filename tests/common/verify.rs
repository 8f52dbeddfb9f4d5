//! Shared helpers for the verify/limbo tests.
#![allow(dead_code)]

use std::sync::Arc;

use tlsdoctor::trust::{Runtime, TrustStore};
use tlsdoctor::x509::CertInfo;

/// A trust store made of exactly these certificates (as `--ca` would give).
pub fn store(runtime: Runtime, certs: &[Arc<CertInfo>], source: &str) -> TrustStore {
    tlsdoctor::trust::from_certs(runtime, certs.iter().map(|c| (**c).clone()).collect(), source)
}
/// Decode a PEM string into certificates (panics on bad input: test data).
pub fn pem_certs(pem: &str) -> Vec<Arc<CertInfo>> {
    tlsdoctor::commands::inspect::decode_bundle(pem.as_bytes())
        .into_iter()
        .filter_map(|b| b.result.ok())
        .collect()
}
