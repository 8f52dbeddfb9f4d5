//! Entry points of the coverage-guided fuzz targets in `fuzz/` — one function per parser
//! and pre-TLS dialogue that reads bytes the tool does not trust (files, environment
//! variables, servers).
//!
//! Each function takes arbitrary bytes and must return without panicking, hanging or
//! allocating out of proportion to its input. The fuzz targets are one-line wrappers, and
//! the normal test suite (`tests/fuzz_corpus.rs`) replays every committed seed and every
//! regression input through these same functions, so what the fuzzer once found stays
//! fixed and a parser moved or renamed breaks the build here, not only in `fuzz/`.
//!
//! The functions also exercise what callers do with a parse result (descriptions, hashes,
//! re-encodings), since a panic there is as fatal as one in the parser.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::probe::net::Conn;
use crate::probe::{Deadline, Starttls, Target};

/// A harness: untrusted bytes in, nothing out (a panic or a hang is the finding).
pub type Harness = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` file and corpus folder.
pub const TARGETS: &[(&str, Harness)] = &[
    ("pem", pem),
    ("der_name", der_name),
    ("cert", cert),
    ("keystore", keystore),
    ("auxtrust", auxtrust),
    ("sniff", sniff),
    ("check_spec", check_spec),
    ("target", target),
    ("proxy", proxy),
    ("dialogue_mysql", dialogue_mysql),
    ("dialogue_postgres", dialogue_postgres),
    ("dialogue_smtp", dialogue_smtp),
    ("dialogue_imap", dialogue_imap),
    ("dialogue_pop3", dialogue_pop3),
    ("dialogue_ftp", dialogue_ftp),
    ("dialogue_ldap", dialogue_ldap),
    ("dialogue_xmpp", dialogue_xmpp),
    ("gobuildinfo", gobuildinfo),
    ("image", image),
    ("manifest", manifest),
    ("dialogue_tds", dialogue_tds),
];

/// A PEM bundle as the trust loader reads it (Go's skip-and-resume block scanner), and the
/// shape the report derives from it.
pub fn pem(data: &[u8]) {
    let blocks = crate::trust::pem::parse(data);
    let _ = crate::trust::pem::shape(data, &blocks);
    for b in &blocks {
        let _ = crate::trust::pem::is_openssl_cert_label(&b.label);
        let _ = crate::trust::pem::is_key_label(&b.label);
    }
}

/// A DER name: the TLV walker, OpenSSL's canonical encoding and the subject hash.
pub fn der_name(data: &[u8]) {
    walk_der(data, 0);
    let _ = crate::trust::canon::canonical_name(data);
    let _ = crate::trust::canon::subject_hash(data);
}

fn walk_der(mut input: &[u8], depth: usize) {
    // The walker itself is iterative per level; the recursion here is the fuzz harness's,
    // bounded so a deeply nested input cannot overflow the harness's stack.
    if depth > 64 {
        return;
    }
    while let Some((tlv, rest)) = crate::trust::der::read_tlv(input) {
        if tlv.tag & 0x20 != 0 {
            if let Some(kids) = crate::trust::der::children(tlv.content) {
                for k in kids {
                    walk_der(k.content, depth + 1);
                }
            }
        }
        if rest.len() >= input.len() {
            break;
        }
        input = rest;
    }
}

/// A certificate: DER → the model every engine shares, and what reports derive from it.
pub fn cert(data: &[u8]) {
    for check_self in [false, true] {
        if let Ok(c) = crate::x509::CertInfo::from_der_opts(data, check_self) {
            let _ = c.short_name();
            let _ = c.is_ca();
            let _ = c.has_key_usage("keyCertSign");
            let _ = c.pem();
            let _ = c.not_before_rfc3339();
            let _ = c.not_after_rfc3339();
            let _ = crate::trust::canon::subject_hash(&c.subject_der);
        }
    }
}

/// A Java key store (JKS, JCEKS, PKCS#12), without and with the usual password.
pub fn keystore(data: &[u8]) {
    let _ = crate::trust::keystore::parse(data, None);
    let _ = crate::trust::keystore::parse(data, Some("changeit"));
}

/// OpenSSL's `X509_CERT_AUX` trust settings after a `TRUSTED CERTIFICATE`'s DER.
pub fn auxtrust(data: &[u8]) {
    if let Ok(Some(aux)) = crate::trust::auxtrust::AuxTrust::parse(data) {
        let _ = aux.describe();
        let _ = aux.decision(crate::trust::auxtrust::OID_SERVER_AUTH);
    }
}

/// What a server said first, as `connect --starttls auto` classifies it.
pub fn sniff(data: &[u8]) {
    let _ = crate::probe::sniff::looks_like_tls(data);
    let _ = crate::probe::sniff::sniff(data);
    let _ = crate::probe::sniff::preview(data);
    if let Some(&d) = data.first() {
        let _ = crate::probe::sniff::alert_name(d);
    }
}

/// A `check` spec file (TOML). Relative paths resolve under a folder that does not exist.
pub fn check_spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::commands::check::spec::parse(text, Path::new("/nonexistent-fuzz-base"));
    }
}

/// A target as typed on the command line, under every `--starttls` choice.
pub fn target(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::probe::target::redact_password(s);
    for &st in <Starttls as clap::ValueEnum>::value_variants() {
        if let Ok(t) = Target::parse(s, st) {
            let _ = t.effective_starttls();
            let _ = t.proxy_eligible();
            let _ = t.ip();
            let _ = t.host_port();
        }
    }
}

/// Proxy variables: a proxy URL, and NO_PROXY matching. Input: `NO_PROXY\nHOST\nURL`,
/// the port from the host's length (any u16 is as good as another to the matcher).
pub fn proxy(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.splitn(3, '\n');
    let no_proxy = parts.next().unwrap_or("");
    let host = parts.next().unwrap_or("");
    let url = parts.next().unwrap_or("");
    let port = (data.len() as u16).wrapping_mul(31);
    let _ = crate::probe::net::use_proxy(no_proxy, host, port);
    if let Ok(p) = crate::probe::net::ProxyUrl::parse(url) {
        let _ = p.redacted();
    }
}

pub fn dialogue_mysql(data: &[u8]) {
    dialogue("mysql", data)
}
pub fn dialogue_postgres(data: &[u8]) {
    dialogue("postgres", data)
}
pub fn dialogue_smtp(data: &[u8]) {
    dialogue("smtp", data)
}
pub fn dialogue_imap(data: &[u8]) {
    dialogue("imap", data)
}
pub fn dialogue_pop3(data: &[u8]) {
    dialogue("pop3", data)
}
pub fn dialogue_ftp(data: &[u8]) {
    dialogue("ftp", data)
}
pub fn dialogue_ldap(data: &[u8]) {
    dialogue("ldap", data)
}
pub fn dialogue_xmpp(data: &[u8]) {
    dialogue("xmpp", data)
}
/// TDS: the PRELOGIN answer, then — past the go-ahead — what the server sends as TLS
/// records inside PRELOGIN packets, read through the TDS transport as the handshake would.
pub fn dialogue_tds(data: &[u8]) {
    dialogue("tds", data)
}

/// Drive one pre-TLS dialogue against a peer whose whole flight is `data`: a loopback
/// socket (the dialogues speak to a `TcpStream`, as in production) whose server side
/// writes `data`, half-closes, and drains whatever the client says. The peer's close
/// makes every wait end at once, so a run costs microseconds, not the deadline.
pub fn dialogue(code: &str, data: &[u8]) {
    let which = Starttls::from_code(code).expect("a registered protocol");
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    let listener = LISTENER.get_or_init(|| TcpListener::bind("127.0.0.1:0").expect("bind loopback"));
    let addr = listener.local_addr().expect("local addr");
    let client = TcpStream::connect(addr).expect("connect loopback");
    let (mut server, _) = listener.accept().expect("accept loopback");
    let flight = data.to_vec();
    let peer = std::thread::spawn(move || {
        let _ = server.set_write_timeout(Some(Duration::from_secs(2)));
        let _ = server.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = server.write_all(&flight);
        let _ = server.shutdown(Shutdown::Write);
        let mut sink = [0u8; 4096];
        while let Ok(n) = server.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
    });
    let target = Target {
        host: "fuzz.test".into(),
        port: addr.port(),
        starttls: which,
        scheme: None,
        scheme_starttls: None,
        params: Vec::new(),
    };
    let mut conn = Conn::new(client, Deadline::after(Duration::from_secs(3)));
    let cx = crate::probe::protocols::Context {
        target: &target,
        name: None,
        xmpp_domain: None,
    };
    let res = which.unit().negotiate(&mut conn, &cx);
    if let Ok(d) = &res {
        let _ = d.greeting.as_deref().map(crate::report::sanitize::sanitize);
        if which.unit().tls_first() || d.refused.is_some() {
            let _ = conn.leftover();
        } else {
            // Past the go-ahead: the rest of the flight through the protocol's transport
            // (TLS records bare, or inside its packets), as the handshake reads it.
            conn.start_tls_phase();
            let mut wire = which.unit().wire(&mut conn, d);
            let mut buf = [0u8; 4096];
            for _ in 0..256 {
                match wire.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            wire.handshake_done();
        }
    }
    conn.shutdown();
    drop(conn);
    let _ = peer.join();
}

/// A Go executable's build information: the ELF reader (sections, segments, virtual
/// addresses), the `.go.buildinfo` blob (both layouts) and the module text, and what
/// detection derives from it. The input is the whole file; its text part alone is also
/// read as module text.
pub fn gobuildinfo(data: &[u8]) {
    use crate::detect::{elf, gobuildinfo as gbi};
    if let Ok(e) = elf::Elf::parse(data) {
        for sec in &e.sections {
            let _ = e.section_data(sec);
        }
        for seg in &e.segments {
            let _ = e.read_vaddr(seg.vaddr, seg.memsz.min(4096));
        }
        let _ = e.section(".go.buildinfo");
    }
    let show = |bi: &gbi::BuildInfo| {
        let _ = bi.mod_text();
        let _ = bi.go_version_m("fuzz");
        let _ = bi.default_godebug();
        let _ = bi.setting("GOOS");
        let _ = bi.dep("golang.org/x/crypto");
    };
    if let Ok(bi) = gbi::parse(data) {
        show(&bi);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bi) = gbi::parse_mod_text(text) {
            show(&bi);
        }
        let _ = gbi::parse_godebug(text);
    }
}

/// A scratch file for harnesses whose parser reads a path, one per process and name.
fn scratch(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let p = dir.join(format!("tlsdoctor-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).expect("write the scratch file");
    p
}

/// Members of an archive described by the input: `\n\0\n` separates members, the first
/// line of each is its name, the rest its bytes. A member whose bytes start with `TAR\n`
/// (or `TGZ\n`) is itself a tar (gzip-compressed tar) built the same way from the rest,
/// members separated by `\n\x01\n` — image layers, with their whiteouts. Names ending in
/// `/` are directories, `NAME -> TARGET` symlinks. Checksums and sizes are right by
/// construction, so the fuzzer spends its time in the readers, not on tar headers.
fn build_tar(spec: &[u8], sep: &[u8], depth: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in split_on(spec, sep) {
        let (name, body) = match m.iter().position(|c| *c == b'\n') {
            Some(i) => (&m[..i], &m[i + 1..]),
            None => (m, &[][..]),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if name.is_empty() || name.len() > 90 {
            continue;
        }
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(0);
        if let Some((link, target)) = name.split_once(" -> ") {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            if h.set_path(link).is_err() || h.set_link_name(target).is_err() {
                continue;
            }
            h.set_cksum();
            let _ = b.append(&h, &[][..]);
            continue;
        }
        let body: std::borrow::Cow<[u8]> = match (depth, body.get(..4)) {
            (0, Some(b"TAR\n")) => build_tar(&body[4..], b"\n\x01\n", 1).into(),
            (0, Some(b"TGZ\n")) => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = gz.write_all(&build_tar(&body[4..], b"\n\x01\n", 1));
                gz.finish().unwrap_or_default().into()
            }
            _ => body.into(),
        };
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(body.len() as u64);
        }
        if h.set_path(&name).is_err() {
            continue;
        }
        h.set_cksum();
        let data: &[u8] = if name.ends_with('/') { &[] } else { &body };
        let _ = b.append(&h, data);
    }
    b.into_inner().unwrap_or_default()
}

fn split_on<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = crate::trust::pem::memfind(data, sep) {
        out.push(&data[..i]);
        data = &data[i + sep.len()..];
    }
    out.push(data);
    out
}

/// A container image archive (OCI layout in a tar, or `docker save`): the index, manifest
/// and config JSON, the layers (plain or gzip tars) with their whiteouts, and the World
/// built from them, read where the trust loader reads.
pub fn image(data: &[u8]) {
    let tar = build_tar(data, b"\n\0\n", 0);
    let path = scratch("image.tar", &tar);
    for platform in [None, Some("linux/amd64")] {
        let Ok(w) = crate::world::World::from_image(&path, platform) else {
            continue;
        };
        let _ = w.env();
        for d in ["/", "/etc/ssl/certs", "/etc/ssl", "/etc"] {
            if let Ok(entries) = w.read_dir(Path::new(d)) {
                for e in entries.iter().take(64) {
                    let _ = w.read_capped(&e.path, 1 << 20);
                    let _ = w.read_link(&e.path);
                }
            }
        }
        for f in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/os-release",
            "/etc/ssl/cert.pem",
        ] {
            let _ = w.read_capped(Path::new(f), 1 << 20);
        }
    }
}

/// Kubernetes manifests (multi-document YAML or JSON): workloads, ConfigMaps, Secrets,
/// env, envFrom, volumes and projections applied over an empty World, for the only
/// container and for one named `app`.
pub fn manifest(data: &[u8]) {
    let path = scratch("manifest.yaml", data);
    for container in [None, Some("app")] {
        let base = crate::world::World::fixture("/nonexistent-fuzz-root", &[]);
        let Ok(w) = crate::world::manifest::apply(base, std::slice::from_ref(&path), container) else {
            continue;
        };
        let _ = w.env();
        for d in [
            "/var/run/secrets/kubernetes.io/serviceaccount",
            "/etc/ssl/certs",
            "/etc/ssl",
            "/certs",
            "/",
        ] {
            if let Ok(entries) = w.read_dir(Path::new(d)) {
                for e in entries.iter().take(64) {
                    let _ = w.read_capped(&e.path, 1 << 20);
                    let _ = w.read_link(&e.path);
                }
            }
        }
    }
}
