//! Helpers for the image and pod tests: images built by `umoci` from fixture trees, a pod's
//! World materialised into a directory, and the real runtimes run inside it — a static Go
//! verifier chrooted there, and Debian 13's OpenSSL and Python with the pod's files laid
//! over that root (a read-only overlay: the pod's tree above `TLSDOCTOR_TRIXIE_ROOT`,
//! mounted in a private mount namespace, never written to).
//!
//! Include after `common/store.rs`: `#[path = "common/pod.rs"] mod pod;` (it uses
//! `super::common::have_with`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run `cmd` with a cleared environment (PATH, HOME only); it must succeed.
pub fn run(cmd: &mut Command) {
    let o = cmd
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn umoci(args: &[&str]) {
    run(Command::new("umoci").args(args));
}

/// Are umoci and skopeo installed? With CI=true a missing tool is a failure.
pub fn image_tools() -> bool {
    super::common::have_with("umoci", "--version") && super::common::have_with("skopeo", "--version")
}

/// `umoci` builds an OCI layout `DIR/layout` with tag `t` from `tree` (one layer), with
/// `env` in its config and `entrypoint` as its program.
pub fn layout_from_tree(dir: &Path, tree: &Path, env: &[(&str, &str)], entrypoint: Option<&str>) -> PathBuf {
    let l = dir.join("layout");
    let li = format!("{}:t", l.display());
    umoci(&["init", "--layout", l.to_str().unwrap()]);
    umoci(&["new", "--image", &li]);
    umoci(&["insert", "--image", &li, tree.to_str().unwrap(), "/"]);
    let mut cfg: Vec<String> = vec!["config".into(), "--image".into(), li.clone()];
    for (k, v) in env {
        cfg.push(format!("--config.env={k}={v}"));
    }
    if let Some(e) = entrypoint {
        cfg.push(format!("--config.entrypoint={e}"));
    }
    umoci(&cfg.iter().map(String::as_str).collect::<Vec<_>>());
    l
}

/// Write the World's files under `at` into `out`, every link read through (as a process
/// in the pod reads the bytes); the kubelet's `..data` bookkeeping is left out.
pub fn materialise(w: &tlsdoctor::world::World, at: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    for e in w.read_dir(at).unwrap() {
        if e.name.starts_with("..") {
            continue;
        }
        let dst = out.join(&e.name);
        match w.file_type(&e.path) {
            Ok(tlsdoctor::world::FileType::Dir) => materialise(w, &e.path, &dst),
            Ok(tlsdoctor::world::FileType::File) => {
                if let Ok(b) = w.read(&e.path) {
                    std::fs::write(dst, b).unwrap();
                }
            }
            _ => {}
        }
    }
}

const GO_VERIFY: &str = r#"package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// podverify CHAIN NAME: the first certificate of CHAIN is the leaf, the others are
// intermediates; verified against the system pool as crypto/tls would.
func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			fmt.Println(err)
			return
		}
		certs = append(certs, c)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		fmt.Println(err)
		return
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: os.Args[2]}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok")
}
"#;

static GO_VERIFIER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// A static Go program (this machine's Go, CGO off) that verifies a chain file against
/// its system pool: prints `ok` or Go's error.
pub fn go_verifier() -> Option<PathBuf> {
    GO_VERIFIER
        .get_or_init(|| super::common::build_go("podverify2", GO_VERIFY))
        .clone()
}

pub fn chroot() -> &'static str {
    ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils)")
}

/// Real Go, chrooted into the materialised pod tree, with the pod's environment: `ok` or
/// Go's error for `chain` (PEM, leaf first) and `name`.
pub fn real_go(tree: &Path, env: &BTreeMap<String, String>, chain: &str, name: &str) -> String {
    let bin = go_verifier().unwrap();
    std::fs::write(tree.join("chain.pem"), chain).unwrap();
    in_chroot(tree, env, &bin, &["/chain.pem", name])
}

/// Run the static program `bin` chrooted into the materialised pod `tree` (copied there as
/// `/NAME`), with exactly the pod's environment; its trimmed standard output.
pub fn in_chroot(tree: &Path, env: &BTreeMap<String, String>, bin: &Path, args: &[&str]) -> String {
    let name = bin.file_name().unwrap();
    std::fs::copy(bin, tree.join(name)).unwrap();
    let mut c = Command::new(chroot());
    c.env_clear()
        .arg(tree)
        .arg(Path::new("/").join(name))
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "chroot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The Debian 13 root (`TLSDOCTOR_TRIXIE_ROOT`, default the repository's
/// `.cache/trixie-root`); None (a loud skip, a failure under CI=true) when absent.
pub fn trixie_root() -> Option<PathBuf> {
    let p = std::env::var_os("TLSDOCTOR_TRIXIE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/trixie-root"));
    if p.join("etc/debian_version").exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the Debian 13 root is required under CI=true (TLSDOCTOR_TRIXIE_ROOT or .cache/trixie-root)");
    }
    eprintln!(
        "\n!!! SKIPPING: no Debian 13 root ({}); this test did not run !!!\n",
        p.display()
    );
    None
}

/// Run `argv` inside the pod: the materialised `tree` laid over the Debian 13 root
/// (read-only overlay in a private mount namespace), chrooted, with exactly `env` (plus
/// PATH). Returns (exit code, stdout + stderr).
pub fn in_pod(trixie: &Path, tree: &Path, env: &BTreeMap<String, String>, argv: &[&str]) -> (i32, String) {
    let mnt = tempfile::tempdir().unwrap();
    let script = "mount -t overlay overlay -o \"lowerdir=$1:$2\" \"$3\" && shift 3 && exec \"$@\"";
    let mut c = Command::new("unshare");
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(tree)
        .arg(trixie)
        .arg(mnt.path())
        .arg(chroot())
        .arg(mnt.path())
        .args(["/usr/bin/env", "-i", "PATH=/usr/bin:/bin"]);
    for (k, v) in env {
        c.arg(format!("{k}={v}"));
    }
    let o = c.args(argv).stdin(Stdio::null()).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}
