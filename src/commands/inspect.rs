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
        let result = if data[0] != 0x30 {
            // Every DER certificate is a SEQUENCE (first byte 0x30): this is something else.
            Err("no PEM block (-----BEGIN …) and not a DER certificate (which starts with byte 0x30)".into())
        } else {
            CertInfo::from_der(data)
                .map(Arc::new)
                .map_err(|e| format!("no PEM block (-----BEGIN …) and not a DER certificate ({e})"))
        };
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
    ocsp_urls: Vec<String>,
    crl_distribution_points: Vec<String>,
    basic_constraints: Option<crate::x509::BasicConstraintsInfo>,
    key_bits: u32,
    interception_product: Option<String>,
}

/// The URIs of the CRL distribution points extension (other name forms are shown as text).
fn crl_distribution_points(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer as _;
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return vec![];
    };
    let mut out = vec![];
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        for n in names {
                            out.push(match n {
                                GeneralName::URI(u) => u.to_string(),
                                other => other.to_string(),
                            });
                        }
                    }
                    Some(DistributionPointName::NameRelativeToCRLIssuer(rdn)) => {
                        out.push(format!("(relative name) {rdn:?}"))
                    }
                    None => {}
                }
            }
        }
    }
    out
}

/// The label of the inputs: `-` is standard input.
fn input_name(p: &std::path::Path) -> String {
    if p == std::path::Path::new("-") {
        "standard input".into()
    } else {
        p.display().to_string()
    }
}

/// `0a:1b:…` for a hex string (serials, key identifiers), as OpenSSL prints them.
fn colon_hex(h: &str) -> String {
    let b = h.as_bytes();
    let mut out = String::with_capacity(h.len() * 3 / 2);
    for (i, pair) in b.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(std::str::from_utf8(pair).unwrap_or("?"));
    }
    out
}

pub fn run(args: &InspectArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let mut files = vec![];
    for p in &args.files {
        let name = input_name(p);
        let data = crate::world::read_host_file(p)
            .map_err(|e| anyhow::anyhow!("cannot read {name}: {}", crate::world::describe_io(&e)))?;
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
                        ocsp_urls: c.ocsp_urls.clone(),
                        crl_distribution_points: crl_distribution_points(&c.der),
                        basic_constraints: c.basic_constraints.clone(),
                        key_bits: c.key_bits,
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
        if certs.is_empty() && errors.is_empty() {
            let held: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
            if held.is_empty() {
                anyhow::bail!("{name}: no certificate in it (expected PEM or DER; the input is empty)");
            }
            anyhow::bail!(
                "{name}: no certificate in it, only {} (inspect decodes certificates)",
                held.join(", ")
            );
        }
        files.push(FileDoc {
            path: name,
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
                    s.push('\n');
                    s.push_str(&human_cert(c));
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

/// One certificate for a person: every fact chain debugging needs, one labelled line each.
fn human_cert(c: &InspectCert) -> String {
    const IND: &str = "               ";
    let d = &c.doc;
    let mut s = wrap(&sanitize(&d.subject), &format!("  [{}] ", d.index), "      ");
    let mut line = |label: &str, value: &str| {
        s.push_str(&wrap(&sanitize(value), &format!("    {label:<11}"), IND));
    };
    line("issuer", &d.issuer);
    line("serial", &colon_hex(&d.serial));
    line("validity", &format!("{} .. {}", d.not_before, d.not_after));
    let mut names: Vec<String> = d.dns_names.iter().map(|n| format!("DNS:{n}")).collect();
    names.extend(d.ip_addresses.iter().map(|n| format!("IP:{n}")));
    line(
        "names",
        &if names.is_empty() {
            "(no subjectAltName)".into()
        } else {
            names.join(", ")
        },
    );
    let key = if c.key_bits > 0 && !d.key.contains(&c.key_bits.to_string()) {
        format!("{} ({} bits)", d.key, c.key_bits)
    } else {
        d.key.clone()
    };
    line("key", &key);
    line("signature", &d.signature);
    let kind = if d.self_signed {
        "self-signed"
    } else if c.self_issued {
        "self-issued (subject = issuer), not signed by its own key"
    } else {
        "issued by another certificate"
    };
    line("kind", &format!("{kind}, X.509 v{}", c.version));
    line(
        "basic",
        &match &c.basic_constraints {
            None => "(no basicConstraints: not a CA)".to_string(),
            Some(b) => {
                let mut t = if b.ca {
                    "CA:TRUE".to_string()
                } else {
                    "CA:FALSE".to_string()
                };
                if let Some(n) = b.path_len {
                    t.push_str(&format!(", pathlen {n}"));
                }
                if b.critical {
                    t.push_str(" (critical)");
                }
                t
            }
        },
    );
    line(
        "key usage",
        &c.key_usage
            .as_ref()
            .map_or("(none: any)".to_string(), |u| u.join(", ")),
    );
    line(
        "ext usage",
        &c.ext_key_usage
            .as_ref()
            .map_or("(none: any)".to_string(), |u| u.join(", ")),
    );
    if let Some(k) = &c.subject_key_id {
        line("subject id", &colon_hex(k));
    }
    if let Some(k) = &c.authority_key_id {
        line("auth id", &colon_hex(k));
    }
    for u in &c.aia_ca_issuers {
        line("ca issuers", u);
    }
    for u in &c.ocsp_urls {
        line("ocsp", u);
    }
    for u in &c.crl_distribution_points {
        line("crl", u);
    }
    if let Some(p) = &c.interception_product {
        line("note", &format!("TLS inspection product: {p}"));
    }
    line("sha256", &d.sha256);
    s
}
