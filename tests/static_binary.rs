//! The static release binary (scripts/build-static, x86_64-unknown-linux-musl): it is
//! statically linked, within the size goal, and works in a minimal root — a chroot holding
//! only the binary, /etc/hosts, /etc/resolv.conf and a CA bundle; no /etc/passwd, no HOME,
//! no /dev, no /proc, an empty environment (`env -i`), stdin not a terminal, and (where
//! `unshare -m` works) a read-only filesystem.
//!
//! The build is cached in target/static (the first run takes a minute or two).

#[path = "common/ship.rs"]
mod ship;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ship::{ca, ci, leaf, need, SServer};

const SIZE_GOAL: u64 = 6 * 1024 * 1024;

// --- ELF: no interpreter, no needed libraries ------------------------------------------

fn u16le(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

/// (has PT_INTERP, number of DT_NEEDED entries, e_machine)
fn elf_linkage(b: &[u8]) -> (bool, usize, u16) {
    assert_eq!(&b[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(b[4], 2, "not ELF64");
    assert_eq!(b[5], 1, "not little-endian");
    let machine = u16le(b, 18);
    let phoff = u64le(b, 32) as usize;
    let phentsize = u16le(b, 54) as usize;
    let phnum = u16le(b, 56) as usize;
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32le(b, ph);
        let p_offset = u64le(b, ph + 8) as usize;
        let p_filesz = u64le(b, ph + 32) as usize;
        match p_type {
            PT_INTERP => interp = true,
            PT_DYNAMIC => {
                let dynamic = &b[p_offset..p_offset + p_filesz];
                for e in dynamic.chunks_exact(16) {
                    let tag = u64le(e, 0);
                    if tag == DT_NULL {
                        break;
                    }
                    if tag == DT_NEEDED {
                        needed += 1;
                    }
                }
            }
            _ => {}
        }
    }
    (interp, needed, machine)
}

// --- a tiny DNS server for the resolv.conf check ----------------------------------------

/// Answers A queries for `name` with 127.0.0.1, NOERROR/no data for its other types, and
/// NXDOMAIN for anything else. Bound on `addr:53` (needs root).
struct Dns {
    stop: Arc<AtomicBool>,
    queries: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Dns {
    fn start(addr: &str, name: &'static str) -> std::io::Result<Dns> {
        let sock = UdpSocket::bind((addr, 53))?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, q) = (Arc::clone(&stop), Arc::clone(&queries));
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(resp) = answer(&buf[..n], name, &q) {
                    let _ = sock.send_to(&resp, peer);
                }
            }
        });
        Ok(Dns { stop, queries })
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(q: &[u8], name: &str, log: &std::sync::Mutex<Vec<String>>) -> Option<Vec<u8>> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    // QNAME
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let l = *q.get(i)? as usize;
        i += 1;
        if l == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + l)?).to_ascii_lowercase());
        i += l;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question_end = i + 4;
    q.get(..question_end)?;
    let qname = labels.join(".");
    log.lock().unwrap().push(format!("{qname} type {qtype}"));
    let found = qname == name;
    let a = found && qtype == 1;
    let mut r = Vec::new();
    r.extend_from_slice(&q[0..2]); // id
    r.extend_from_slice(&[0x81, if found { 0x80 } else { 0x83 }]); // QR RD, RA, rcode
    r.extend_from_slice(&[0, 1, 0, u8::from(a), 0, 0, 0, 0]);
    r.extend_from_slice(&q[12..question_end]);
    if a {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some(r)
}

// --- the minimal root ------------------------------------------------------------------

struct Root {
    dir: tempfile::TempDir,
    read_only: bool,
}

impl Root {
    /// Run `/tlsdoctor ARGS` inside the root with exactly `env` (env -i), stdin /dev/null.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let root = self.dir.path();
        let mut inner: Vec<String> = vec!["/usr/bin/env".into(), "-i".into()];
        inner.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        inner.extend([
            "/usr/sbin/chroot".into(),
            root.display().to_string(),
            "/tlsdoctor".into(),
        ]);
        inner.extend(args.iter().map(|s| s.to_string()));
        let mut cmd = if self.read_only {
            // A private mount namespace; the root is bind-mounted onto itself read-only.
            let mut c = Command::new("/usr/bin/unshare");
            c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                .arg(
                    "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" \"$0\" && \
                     if touch \"$0/probe\" 2>/dev/null; then echo 'root is writable' >&2; exit 99; fi && \
                     shift && exec \"$@\"",
                )
                .arg(root)
                .arg("--")
                .args(&inner);
            c
        } else {
            let mut c = Command::new(&inner[0]);
            c.args(&inner[1..]);
            c
        };
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .stdin(Stdio::null());
        cmd.output().unwrap()
    }
}

fn can_read_only(dir: &Path) -> bool {
    Command::new("/usr/bin/unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg("mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" \"$0\"")
        .arg(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn static_binary_runs_in_a_minimal_read_only_root() {
    let Some(bin) = ship::build_static() else { return };
    let bytes = std::fs::read(&bin).unwrap();

    // Statically linked: no program interpreter, no shared libraries.
    let (interp, needed, machine) = elf_linkage(&bytes);
    assert_eq!(machine, 62, "x86-64");
    assert!(!interp, "the binary asks for a dynamic loader (PT_INTERP)");
    assert_eq!(needed, 0, "the binary needs shared libraries (DT_NEEDED)");
    let size = bytes.len() as u64;
    eprintln!(
        "static binary: {} bytes ({:.2} MiB)",
        size,
        size as f64 / 1048576.0
    );
    assert!(size <= SIZE_GOAL, "{size} bytes is over the 6 MiB goal");

    // The minimal root.
    let Some(openssl) = need("openssl") else { return };
    if need("chroot").is_none() {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    let root_ca = ca(pki.path(), "ca", "pod test CA");
    let db = leaf(
        pki.path(),
        "ca-leaf_db.pod.test",
        &["db.pod.test", "dns-only.test"],
        (2029, 1, 1),
        (2031, 1, 1),
        &root_ca,
    );
    let server = SServer::start(&openssl, &db.cert_path, &db.key_path, &[]);

    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::copy(&bin, r.join("tlsdoctor")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(
        r.join("etc/hosts"),
        "127.0.0.1 localhost\n127.0.0.1 db.pod.test\n",
    )
    .unwrap();
    std::fs::write(
        r.join("etc/resolv.conf"),
        "nameserver 127.0.0.53\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    std::fs::copy(&root_ca.cert_path, r.join("ca-bundle.pem")).unwrap();
    let mut listing: Vec<String> = walk(r);
    listing.sort();
    assert_eq!(
        listing,
        [
            "ca-bundle.pem",
            "etc",
            "etc/hosts",
            "etc/resolv.conf",
            "tlsdoctor"
        ]
    );

    // chroot needs root (tests run as root here).
    let probe = Root {
        dir: tempfile::tempdir().unwrap(),
        read_only: false,
    };
    std::fs::copy(&bin, probe.dir.path().join("tlsdoctor")).unwrap();
    let o = probe.run(&[], &["--version"]);
    if !o.status.success() {
        let msg = format!("chroot is not permitted here: {}", text(&o));
        if ci() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let read_only = can_read_only(r);
    if !read_only {
        let msg = "unshare -m / a read-only bind mount is not available: running the chroot read-write";
        if ci() {
            panic!("{msg}");
        }
        eprintln!("NOTE: {msg}");
    }
    let root = Root { dir, read_only };

    // --version with nothing at all.
    let o = root.run(&[], &["--version"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("tlsdoctor "));

    // `store` with SSL_CERT_FILE pointing at the bundle.
    let o = root.run(
        &[("SSL_CERT_FILE", "/ca-bundle.pem")],
        &["store", "--runtime", "go", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(doc["schema"], "tlsdoctor.store/v1");
    let go = &doc["runtimes"][0];
    assert_eq!(go["anchors"], 1, "{doc:#}");
    assert!(doc.to_string().contains("/ca-bundle.pem"), "{doc:#}");

    // `connect` to a name from /etc/hosts, trusted through SSL_CERT_FILE.
    let target = format!("db.pod.test:{}", server.port);
    let at = "--at=2030-06-01T00:00:00Z";
    // Plain TLS, judged by Go against the chroot's bundle, as JSON.
    let connect = |target: &str| {
        root.run(
            &[("SSL_CERT_FILE", "/ca-bundle.pem")],
            &[
                "connect",
                target,
                "--starttls",
                "none",
                "--runtime",
                "go",
                at,
                "--format",
                "json",
            ],
        )
    };
    let o = connect(&target);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["network"]["connected_to"],
        format!("127.0.0.1:{}", server.port),
        "{doc:#}"
    );
    assert_eq!(doc["verdicts"][0]["trusted"], true, "{doc:#}");

    // The human report too (no terminal, no HOME, no locale).
    let o = root.run(
        &[("SSL_CERT_FILE", "/ca-bundle.pem")],
        &["connect", &target, "--starttls", "none", "--runtime", "go", at],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains('\x1b'),
        "no colour without a terminal"
    );

    // `check` from a spec inside the root (threads, deadline and JSON Lines under musl).
    std::fs::write(
        root.dir.path().join("spec.toml"),
        format!(
            "[defaults]\nca = \"ca-bundle.pem\"\nruntimes = [\"go\", \"openssl\"]\nstarttls = \"none\"\n\
             at = 2030-06-01T00:00:00Z\nmin_days = 30\n\
             [[target]]\nid = \"db\"\ntarget = \"db.pod.test:{port}\"\n\
             [[target]]\nid = \"db-again\"\ntarget = \"db.pod.test:{port}\"\n",
            port = server.port
        ),
    )
    .unwrap();
    let o = root.run(&[], &["check", "/spec.toml", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["status"] == "pass"), "{}", text(&o));

    // A name that only DNS knows, through /etc/resolv.conf (a DNS server on 127.0.0.53).
    match Dns::start("127.0.0.53", "dns-only.test") {
        Ok(dns) => {
            let target = format!("dns-only.test:{}", server.port);
            let o = connect(&target);
            let queries = dns.queries.lock().unwrap().clone();
            assert_eq!(o.status.code(), Some(0), "{}\nDNS queries: {queries:?}", text(&o));
            assert!(queries.iter().any(|q| q == "dns-only.test type 1"), "{queries:?}");
            let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(
                doc["network"]["connected_to"],
                format!("127.0.0.1:{}", server.port)
            );
        }
        Err(e) => {
            // Port 53 on 127.0.0.53 is taken (systemd-resolved): the hosts-file case above
            // still covers name resolution in the chroot.
            eprintln!("NOTE: cannot bind a DNS server on 127.0.0.53:53 ({e}): resolv.conf check skipped");
        }
    }
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}
