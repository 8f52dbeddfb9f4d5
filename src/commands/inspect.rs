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
    let mut out = vec![];
    for_each_block(data, |_, b| out.push(b));
    out
}

/// The blocks of a bundle one at a time, with their index among all blocks: the PEM
/// reader every command shares (`trust::pem`, Go's scanner), holding one block at a time.
/// No PEM block at all: the data should be one DER certificate.
///
/// A certificate repeated in the bundle (a system bundle concatenated many times) is
/// decoded once: the first [`MAX_CACHED`] distinct certificates are remembered.
pub fn for_each_block(data: &[u8], mut f: impl FnMut(usize, Block)) {
    let mut any = false;
    let mut cache: crate::trust::fasthash::FastMap<Vec<u8>, Arc<CertInfo>> = Default::default();
    for b in crate::trust::pem::blocks(data) {
        any = true;
        let result = if !crate::trust::pem::is_openssl_cert_label(&b.label) {
            Err(format!("not a certificate ({})", b.label))
        } else {
            b.data.map_err(|e| format!("bad PEM block: {e}")).and_then(|der| {
                if let Some(c) = cache.get(&der) {
                    return Ok(c.clone());
                }
                let c = CertInfo::from_der(&der)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())?;
                if cache.len() < MAX_CACHED {
                    cache.insert(der, c.clone());
                }
                Ok(c)
            })
        };
        f(
            b.index,
            Block {
                label: b.label,
                line: Some(b.line),
                result,
            },
        );
    }
    if any || data.is_empty() {
        return;
    }
    // No PEM block: it should be one DER certificate. Say both, so a text file or a key
    // does not read as a broken certificate.
    let result = if data[0] != 0x30 {
        // Every DER certificate is a SEQUENCE (first byte 0x30): this is something else.
        Err("no PEM block (-----BEGIN …) and not a DER certificate (which starts with byte 0x30)".into())
    } else {
        CertInfo::from_der(data)
            .map(Arc::new)
            .map_err(|e| format!("no PEM block (-----BEGIN …) and not a DER certificate ({e})"))
    };
    f(
        0,
        Block {
            label: "DER".into(),
            line: None,
            result,
        },
    );
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

/// Errors and notes listed per file; past these, one line counts the rest (a bundle can
/// hold millions of broken blocks, and memory must follow the certificates).
const MAX_LISTED: usize = 1000;

/// Distinct certificates remembered while a bundle is walked (decoded once each).
const MAX_CACHED: usize = 4096;

/// One input: its name and bytes.
struct Input {
    name: String,
    data: Vec<u8>,
}

/// What one file yields, one certificate at a time: `cert` is called per certificate as
/// it is decoded (and dropped after), errors and notes are gathered (capped).
#[derive(Default)]
struct Tally {
    certs: usize,
    errors: Vec<String>,
    errors_more: usize,
    skipped: Vec<String>,
    skipped_more: usize,
}

impl Tally {
    fn push(list: &mut Vec<String>, more: &mut usize, s: impl FnOnce() -> String) {
        if list.len() < MAX_LISTED {
            list.push(s());
        } else {
            *more += 1;
        }
    }

    fn errors(&self) -> Vec<String> {
        let mut v = self.errors.clone();
        if self.errors_more > 0 {
            v.push(format!("… and {} more undecodable block(s)", self.errors_more));
        }
        v
    }

    fn skipped(&self) -> Vec<String> {
        let mut v = self.skipped.clone();
        if self.skipped_more > 0 {
            v.push(format!(
                "… and {} more block(s) that are not certificates",
                self.skipped_more
            ));
        }
        v
    }
}

fn at_line(b: &Block) -> String {
    b.line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// Walk one file's blocks: each certificate to `cert` (then dropped), the rest tallied.
fn walk(data: &[u8], mut cert: impl FnMut(InspectCert)) -> Tally {
    let mut t = Tally::default();
    // What costs a second parse (CRL points) or a scan, per distinct certificate.
    type Extra = (Vec<String>, Option<String>);
    let mut extra: std::collections::HashMap<*const CertInfo, (Arc<CertInfo>, Extra)> = Default::default();
    for_each_block(data, |i, b| match &b.result {
        Ok(c) => {
            t.certs += 1;
            let key = Arc::as_ptr(c);
            let (crl, product) = match extra.get(&key) {
                Some((_, e)) => e.clone(),
                None => {
                    let e = (
                        crl_distribution_points(&c.der),
                        crate::diagnose::intercept::detect(std::slice::from_ref(c))
                            .map(|p| p.0.name.to_string()),
                    );
                    if extra.len() < MAX_CACHED {
                        // The Arc is kept with its pointer, so the key cannot be reused.
                        extra.insert(key, (c.clone(), e.clone()));
                    }
                    e
                }
            };
            cert(inspect_cert(i, &b, c, crl, product));
        }
        Err(e) if e.starts_with("not a certificate") => {
            Tally::push(&mut t.skipped, &mut t.skipped_more, || {
                format!(
                    "block {i} ({}{}): skipped, not a certificate",
                    b.label,
                    at_line(&b)
                )
            })
        }
        Err(e) => Tally::push(&mut t.errors, &mut t.errors_more, || {
            format!("block {i} ({}{}): {e}", b.label, at_line(&b))
        }),
    });
    t
}

fn inspect_cert(
    i: usize,
    b: &Block,
    c: &Arc<CertInfo>,
    crl_distribution_points: Vec<String>,
    product: Option<String>,
) -> InspectCert {
    InspectCert {
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
        crl_distribution_points,
        basic_constraints: c.basic_constraints.clone(),
        key_bits: c.key_bits,
        interception_product: product,
    }
}

/// The JSON document, serialized while the certificates are decoded: one certificate in
/// memory at a time, whatever the bundle holds.
struct StreamDoc<'a> {
    inputs: &'a [Input],
    bad: &'a std::cell::Cell<bool>,
}

struct StreamFile<'a> {
    input: &'a Input,
    bad: &'a std::cell::Cell<bool>,
}

struct StreamCerts<'a> {
    data: &'a [u8],
    tally: &'a std::cell::RefCell<Tally>,
}

impl Serialize for StreamDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq as _, SerializeStruct as _};
        struct Files<'a>(&'a StreamDoc<'a>);
        impl Serialize for Files<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.inputs.len()))?;
                for input in self.0.inputs {
                    seq.serialize_element(&StreamFile {
                        input,
                        bad: self.0.bad,
                    })?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("InspectDoc", 2)?;
        st.serialize_field("schema", crate::report::json::INSPECT_SCHEMA)?;
        st.serialize_field("files", &Files(self))?;
        st.end()
    }
}

impl Serialize for StreamFile<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let tally = std::cell::RefCell::new(Tally::default());
        let mut st = s.serialize_struct("FileDoc", 4)?;
        st.serialize_field("path", &self.input.name)?;
        // Certificates first: serializing them fills the tally the next fields print.
        st.serialize_field(
            "certificates",
            &StreamCerts {
                data: &self.input.data,
                tally: &tally,
            },
        )?;
        let t = tally.into_inner();
        if !t.errors.is_empty() {
            self.bad.set(true);
        }
        st.serialize_field("errors", &t.errors())?;
        st.serialize_field("skipped", &t.skipped())?;
        st.end()
    }
}

impl Serialize for StreamCerts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = s.serialize_seq(None)?;
        let mut err = None;
        let t = walk(self.data, |c| {
            if err.is_none() {
                if let Err(e) = seq.serialize_element(&c) {
                    err = Some(e);
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        *self.tally.borrow_mut() = t;
        seq.end()
    }
}

/// Read every input and check each holds a certificate block before anything is printed
/// (an unreadable or certificate-less file is a usage error with no partial output).
fn read_inputs(args: &InspectArgs) -> anyhow::Result<Vec<Input>> {
    let mut inputs = vec![];
    for p in &args.files {
        let name = input_name(p);
        let data = crate::world::read_host_file(p)
            .map_err(|e| anyhow::anyhow!("cannot read {name}: {}", crate::world::describe_io(&e)))?;
        // Labels only (no certificate decoded): does the file hold a certificate block?
        let mut labels: Vec<String> = vec![];
        let mut cert_block = false;
        let mut any = false;
        for b in crate::trust::pem::blocks(&data) {
            any = true;
            if crate::trust::pem::is_openssl_cert_label(&b.label) {
                cert_block = true;
                break;
            }
            if labels.len() < 20 && !labels.contains(&b.label) {
                labels.push(b.label);
            }
        }
        // No PEM block at all: a DER attempt (a certificate or an error) is printed.
        if !cert_block && any {
            anyhow::bail!(
                "{name}: no certificate in it, only {} (inspect decodes certificates)",
                labels.join(", ")
            );
        }
        if data.is_empty() {
            anyhow::bail!("{name}: no certificate in it (expected PEM or DER; the input is empty)");
        }
        inputs.push(Input { name, data });
    }
    Ok(inputs)
}

pub fn run(args: &InspectArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let inputs = read_inputs(args)?;
    let bad = std::cell::Cell::new(false);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    match ctx.format {
        Format::Json | Format::Jsonl => {
            let doc = StreamDoc {
                inputs: &inputs,
                bad: &bad,
            };
            if ctx.format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &doc)?;
            } else {
                serde_json::to_writer(&mut out, &doc)?;
            }
            out.write_all(b"\n")?;
        }
        _ => {
            for f in &inputs {
                // The count heads the file: one cheap pass counts, the second prints.
                let n = count_certs(&f.data);
                writeln!(out, "{}: {} certificate(s)", sanitize(&f.name), n)?;
                let mut res = Ok(());
                let t = walk(&f.data, |c| {
                    if res.is_ok() {
                        res = out
                            .write_all(b"\n")
                            .and_then(|_| out.write_all(human_cert(&c).as_bytes()));
                    }
                });
                res?;
                if !t.errors.is_empty() {
                    bad.set(true);
                }
                for e in &t.errors() {
                    out.write_all(wrap(&sanitize(e), "  error: ", "      ").as_bytes())?;
                }
                for e in &t.skipped() {
                    out.write_all(wrap(&sanitize(e), "  note: ", "      ").as_bytes())?;
                }
            }
        }
    }
    out.flush()?;
    Ok(if bad.get() {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

/// How many certificates a file holds: what [`for_each_block`] would decode, without the
/// self-signature checks and descriptions (the same success: the check only sets a flag).
fn count_certs(data: &[u8]) -> usize {
    let mut n = 0;
    let mut any = false;
    let mut seen: crate::trust::fasthash::FastMap<Vec<u8>, bool> = Default::default();
    for b in crate::trust::pem::blocks(data) {
        any = true;
        if let (true, Ok(der)) = (crate::trust::pem::is_openssl_cert_label(&b.label), b.data) {
            let ok = match seen.get(&der) {
                Some(&ok) => ok,
                None => {
                    let ok = CertInfo::from_der_opts(&der, false).is_ok();
                    if seen.len() < MAX_CACHED {
                        seen.insert(der, ok);
                    }
                    ok
                }
            };
            n += usize::from(ok);
        }
    }
    if !any && !data.is_empty() && data[0] == 0x30 {
        n += usize::from(CertInfo::from_der_opts(data, false).is_ok());
    }
    n
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
