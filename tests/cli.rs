//! Whole-binary behaviours that belong to no single command.

use std::process::{Command, Stdio};

/// `tlsdoctor … | head`: when the reader goes away, the tool ends quietly — no panic, no
/// "Broken pipe" error, no usage-error exit code.
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // Enough output that no pipe buffer could swallow it.
    let bundle = dir.path().join("junk.pem");
    std::fs::write(&bundle, "not a certificate\n".repeat(10)).unwrap();
    // JSON Lines are written straight to stdout by serde_json (its error wraps the pipe's).
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "[[target]]\ntarget = \"127.0.0.1:1\"\n").unwrap();
    let spec = spec.to_str().unwrap();
    for args in [
        vec!["--root", dir.path().to_str().unwrap(), "store", "--list", "-v"],
        vec![
            "--root",
            dir.path().to_str().unwrap(),
            "check",
            spec,
            "--format",
            "jsonl",
        ],
        vec![
            "--root",
            dir.path().to_str().unwrap(),
            "check",
            spec,
            "--format",
            "json",
        ],
        vec!["--help"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .env_clear()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the child writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] != "--help" {
            assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
    }
}

/// Files named on the command line are read with a cap: an endless device or a directory
/// is a usage error (exit 2) with the path in the message, never a hang or a panic.
#[test]
fn endless_or_odd_input_files_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["inspect", "/dev/zero"],
        vec!["verify", "/dev/urandom"],
        vec!["verify", d],
        vec!["verify", "/dev/null", "--ca", "/dev/zero"],
        vec!["check", "/dev/zero"],
        vec![
            "connect",
            "127.0.0.1:1",
            "--client-cert",
            "/dev/zero",
            "--client-key",
            "/dev/zero",
        ],
    ];
    for args in cases {
        let start = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .env_clear()
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("tlsdoctor: error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            start.elapsed().as_secs() < 10,
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
}

/// `verify --name ''` would skip the name check and report ok: a usage error instead.
#[test]
fn an_empty_name_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["svc.test".to_string()]).unwrap();
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&leaf, cert.cert.pem()).unwrap();
    let run = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .env_clear()
            .args(["verify", leaf.to_str().unwrap(), "--ca", leaf.to_str().unwrap()])
            .args(["--name", name])
            .output()
            .unwrap()
    };
    let ok = run("svc.test");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let empty = run("");
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("--name is empty"));
}
