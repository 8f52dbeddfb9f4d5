//! A fresh clone, following only the README, reaches a working `tlsdoctor` in two
//! commands: the README's install block (`git clone REPOSITORY_URL tlsdoctor`, then
//! `cargo install --locked --path tlsdoctor`) runs as written in an empty directory, with
//! this repository's committed HEAD as the URL; the installed binary then diagnoses a
//! chain. The README's `cargo run --release` runs in the clone too.
//!
//! What is not the README's, and why: the release profile is fat LTO (minutes on a small
//! machine), so `CARGO_PROFILE_RELEASE_*` variables make it a quick unoptimized build; the
//! target directory is shared between runs (target/readme-install) and cargo is offline
//! (the crates are the ones this test suite was built from). The commands are the README's.

#[path = "common/ship.rs"]
mod ship;

use std::path::Path;
use std::process::{Command, Output, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The commands of the README's first `sh` block that contains `needle`.
fn readme_block(needle: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let mut in_block = false;
    let mut cur = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            if in_block && cur.iter().any(|l: &String| l.contains(needle)) {
                return cur;
            }
            in_block = line == "```sh";
            cur.clear();
        } else if in_block && !line.trim().is_empty() {
            cur.push(line.to_string());
        }
    }
    panic!("README.md has no sh block with {needle:?}");
}

/// Cargo with a cleared environment plus what cargo and rustup need; the quick profile.
fn cargo_env(cmd: &mut Command, install_root: &Path) {
    cmd.env_clear()
        .env("CARGO_TARGET_DIR", Path::new(ROOT).join("target/readme-install"))
        .env("CARGO_INSTALL_ROOT", install_root)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
        .stdin(Stdio::null());
    for k in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
}

#[test]
fn a_fresh_clone_reaches_a_working_tlsdoctor_in_the_readmes_two_commands() {
    if ship::need("git").is_none() || ship::need("openssl").is_none() {
        return;
    }
    let cmds = readme_block("git clone");
    assert_eq!(
        cmds.len(),
        2,
        "the README's install block is two commands: {cmds:?}"
    );
    assert!(cmds[0].starts_with("git clone REPOSITORY_URL "), "{cmds:?}");
    assert!(cmds[1].starts_with("cargo install --locked --path "), "{cmds:?}");

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let install_root = tmp.path().join("installed");
    let script = cmds.join("\n").replace("REPOSITORY_URL", ROOT);
    let mut sh = Command::new("/bin/sh");
    sh.args(["-ec", &script]).current_dir(&work);
    cargo_env(&mut sh, &install_root);
    let o = sh.output().unwrap();
    assert!(
        o.status.success(),
        "the README's install commands failed:\n{}",
        text(&o)
    );

    // The installed binary works: a chain verified against its CA, and a wrong name caught.
    let bin = install_root.join("bin/tlsdoctor");
    let pki = tmp.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    let ca = ship::ca(&pki, "ca", "Example Root CA");
    let leaf = ship::leaf(&pki, "leaf", &["api.internal"], (2025, 1, 1), (2035, 1, 1), &ca);
    let verify = |name: &str| {
        Command::new(&bin)
            .arg("verify")
            .arg(&leaf.cert_path)
            .args(["--name", name, "--ca"])
            .arg(&ca.cert_path)
            .env_clear()
            .output()
            .unwrap()
    };
    let good = verify("api.internal");
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let bad = verify("www.example.com");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("name-mismatch"), "{}", text(&bad));

    // The README's other command, `cargo run --release`, in the clone (same build).
    let clone = work.join(cmds[0].split_whitespace().nth(3).expect("clone directory"));
    let mut run = Command::new("cargo");
    run.args(["run", "--release"]).current_dir(&clone);
    cargo_env(&mut run, &install_root);
    let o = run.output().unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "cargo run --release: {}",
        text(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("go") && out.contains("openssl"), "{out}");
}
