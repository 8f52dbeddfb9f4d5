//! `tlsdoctor inspect FILE...`: decode PEM/DER bundles and show what is inside.

use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;

use super::Ctx;
use crate::cli::{Format, InspectArgs};
use crate::report::human::wrap;
use crate::report::sanitize::sanitize;
use crate::x509::CertInfo;

/// One certificate-like block found in a file.
#[derive(Debug, Clone)]
pub struct Block {
    /// PEM label (`CERTIFICATE`, `TRUSTED CERTIFICATE`, …) or `DER`.
    pub label: String,
    /// 1-based line of the BEGIN line (None for DER).
    pub line: Option<usize>,
    pub result: Result<Arc<CertInfo>, String>,
}

/// Decode a PEM bundle (any number of blocks) or a single DER certificate.
pub fn decode_bundle(data: &[u8]) -> Vec<Block> {
    let text = String::from_utf8_lossy(data);
    if !text.contains("-----BEGIN ") {
        if data.is_empty() {
            return vec![];
        }
        // No PEM block: it should be one DER certificate. Say both, so a text file or a
        // key does not read as a broken certificate.
        let result = CertInfo::from_der(data)
            .map(Arc::new)
            .map_err(|e| format!("no PEM block (-----BEGIN …) and not a DER certificate ({e})"));
        return vec![Block {
            label: "DER".into(),
            line: None,
            result,
        }];
    }
    let mut out = vec![];
    let mut cur: Option<(String, usize, String)> = None;
    for (ln, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("-----BEGIN ") {
            let label = rest.trim_end_matches('-').to_string();
            cur = Some((label, ln + 1, String::new()));
        } else if l.starts_with("-----END ") {
            if let Some((label, line, b64)) = cur.take() {
                let result = decode_block(&label, &b64);
                out.push(Block {
                    label,
                    line: Some(line),
                    result,
                });
            }
        } else if let Some((_, _, b64)) = cur.as_mut() {
            if !l.contains(':') {
                b64.push_str(l);
            }
        }
    }
    out
}

fn decode_block(label: &str, b64: &str) -> Result<Arc<CertInfo>, String> {
    use base64::Engine;
    if label != "CERTIFICATE" && label != "TRUSTED CERTIFICATE" && label != "X509 CERTIFICATE" {
        return Err(format!("not a certificate ({label})"));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("bad base64: {e}"))?;
    CertInfo::from_der(&der).map(Arc::new).map_err(|e| e.to_string())
}

/// Read a file of certificates (host path), failing on no certificate or a broken block.
pub fn read_certs(path: &std::path::Path) -> anyhow::Result<Vec<Arc<CertInfo>>> {
    let data =
        crate::world::read_host_file(path).with_context(|| format!("cannot read {}", path.display()))?;
    let blocks = decode_bundle(&data);
    let mut certs = vec![];
    for b in blocks {
        match b.result {
            Ok(c) => certs.push(c),
            Err(e) if b.label.contains("CERTIFICATE") || b.label == "DER" => {
                let at = b.line.map(|l| format!(" (line {l})")).unwrap_or_default();
                anyhow::bail!("{}{at}: {e}", path.display());
            }
            Err(_) => {}
        }
    }
    anyhow::ensure!(
        !certs.is_empty(),
        "{}: no certificate found (expected PEM or DER)",
        path.display()
    );
    Ok(certs)
}

#[derive(Serialize)]
struct InspectDoc {
    schema: &'static str,
    files: Vec<FileDoc>,
}

#[derive(Serialize)]
struct FileDoc {
    path: String,
    certificates: Vec<InspectCert>,
    /// Certificate blocks that could not be decoded (exit code 2).
    errors: Vec<String>,
    /// Other PEM blocks (keys, CRLs, requests): listed, not decoded.
    skipped: Vec<String>,
}

#[derive(Serialize)]
struct InspectCert {
    #[serde(flatten)]
    doc: crate::report::json::CertDoc,
    label: String,
    line: Option<usize>,
    version: u32,
    self_issued: bool,
    key_usage: Option<Vec<String>>,
    ext_key_usage: Option<Vec<String>>,
    path_len: Option<u32>,
    subject_key_id: Option<String>,
    authority_key_id: Option<String>,
    aia_ca_issuers: Vec<String>,
    interception_product: Option<String>,
}

pub fn run(args: &InspectArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let mut files = vec![];
    for p in &args.files {
        let data = crate::world::read_host_file(p).with_context(|| format!("cannot read {}", p.display()))?;
        let blocks = decode_bundle(&data);
        let mut certs = vec![];
        let mut errors = vec![];
        let mut skipped = vec![];
        for (i, b) in blocks.iter().enumerate() {
            match &b.result {
                Ok(c) => {
                    let product = crate::diagnose::intercept::detect(std::slice::from_ref(c))
                        .map(|p| p.0.name.to_string());
                    certs.push(InspectCert {
                        doc: crate::report::json::CertDoc::from_cert(i, c),
                        label: b.label.clone(),
                        line: b.line,
                        version: c.version,
                        self_issued: c.self_issued,
                        key_usage: c.key_usage.clone(),
                        ext_key_usage: c.ext_key_usage.clone(),
                        path_len: c.basic_constraints.as_ref().and_then(|b| b.path_len),
                        subject_key_id: c.subject_key_id.clone(),
                        authority_key_id: c.authority_key_id.clone(),
                        aia_ca_issuers: c.aia_ca_issuers.clone(),
                        interception_product: product,
                    })
                }
                Err(e) if e.starts_with("not a certificate") => skipped.push(format!(
                    "block {} ({}{}): skipped, not a certificate",
                    i,
                    b.label,
                    b.line.map(|l| format!(", line {l}")).unwrap_or_default()
                )),
                Err(e) => errors.push(format!(
                    "block {} ({}{}): {e}",
                    i,
                    b.label,
                    b.line.map(|l| format!(", line {l}")).unwrap_or_default()
                )),
            }
        }
        if certs.is_empty() && errors.is_empty() && skipped.is_empty() {
            anyhow::bail!("{}: no certificate found (expected PEM or DER)", p.display());
        }
        files.push(FileDoc {
            path: p.display().to_string(),
            certificates: certs,
            errors,
            skipped,
        });
    }
    let bad = files.iter().any(|f| !f.errors.is_empty());
    match ctx.format {
        Format::Json | Format::Jsonl => {
            let doc = InspectDoc {
                schema: crate::report::json::INSPECT_SCHEMA,
                files,
            };
            let s = if ctx.format == Format::Json {
                serde_json::to_string_pretty(&doc)?
            } else {
                serde_json::to_string(&doc)?
            };
            super::emit(format!("{s}\n"))?;
        }
        _ => {
            let mut s = String::new();
            for f in &files {
                s.push_str(&format!(
                    "{}: {} certificate(s)\n",
                    sanitize(&f.path),
                    f.certificates.len()
                ));
                for c in &f.certificates {
                    let d = &c.doc;
                    s.push_str(&format!("\n  [{}] {}\n", d.index, sanitize(&d.subject)));
                    s.push_str(&format!("      issuer    {}\n", sanitize(&d.issuer)));
                    s.push_str(&format!("      validity  {} .. {}\n", d.not_before, d.not_after));
                    if !d.dns_names.is_empty() || !d.ip_addresses.is_empty() {
                        let mut n = d.dns_names.clone();
                        n.extend(d.ip_addresses.iter().cloned());
                        s.push_str(&wrap(
                            &sanitize(&n.join(", ")),
                            "      names     ",
                            "                ",
                        ));
                    }
                    let kind = if d.self_signed {
                        "self-signed CA"
                    } else if d.is_ca {
                        "CA"
                    } else {
                        "end entity"
                    };
                    s.push_str(&format!("      kind      {kind}, v{}\n", c.version));
                    s.push_str(&format!("      key       {}, signed {}\n", d.key, d.signature));
                    if let Some(eku) = &c.ext_key_usage {
                        s.push_str(&format!("      eku       {}\n", eku.join(", ")));
                    }
                    for u in &c.aia_ca_issuers {
                        s.push_str(&format!("      issuer at {}\n", sanitize(u)));
                    }
                    if let Some(p) = &c.interception_product {
                        s.push_str(&format!("      note      TLS inspection product: {p}\n"));
                    }
                    s.push_str(&format!("      sha256    {}\n", d.sha256));
                }
                for e in &f.errors {
                    s.push_str(&wrap(&sanitize(e), "  error: ", "      "));
                }
                for e in &f.skipped {
                    s.push_str(&wrap(&sanitize(e), "  note: ", "      "));
                }
            }
            super::emit(s)?;
        }
    }
    Ok(if bad { crate::exit::USAGE } else { crate::exit::OK })
}
