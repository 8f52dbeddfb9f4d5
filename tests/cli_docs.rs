//! Shell completions and the man page are generated from the clap definitions and shipped
//! by the binary itself (`tlsdoctor completions SHELL`, `tlsdoctor manpage`).

use std::process::{Command, Output, Stdio};

fn tlsdoctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run tlsdoctor")
}

fn stdout_of(args: &[&str]) -> String {
    let out = tlsdoctor(args);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

const SUBCOMMANDS: [&str; 7] = [
    "store",
    "connect",
    "verify",
    "inspect",
    "check",
    "completions",
    "manpage",
];
const FLAGS: [&str; 8] = [
    "--starttls",
    "--servername",
    "--runtime",
    "--junit",
    "--jobs",
    "--deadline",
    "--root",
    "--pid",
];

/// Run `shell -n` on a script when that shell is installed (syntax check only).
fn syntax_check(shell: &str, script: &str) {
    let found = ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(shell))
        .find(|p| p.exists());
    let Some(path) = found else {
        eprintln!("NOTE: {shell} is not installed: syntax check of its completion script skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("tlsdoctor.{shell}"));
    std::fs::write(&file, script).unwrap();
    let out = Command::new(path)
        .arg("-n")
        .arg(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} -n rejects the completion script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    for (shell, marker) in [
        ("bash", "complete -F _tlsdoctor"),
        ("zsh", "#compdef tlsdoctor"),
        ("fish", "complete -c tlsdoctor"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.len() > 2000, "{shell}: only {} bytes", script.len());
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: subcommand {sub} missing");
        }
        for flag in FLAGS {
            // fish spells long options `-l name`.
            let needle = if shell == "fish" {
                format!("-l {}", &flag[2..])
            } else {
                flag.to_string()
            };
            assert!(script.contains(&needle), "{shell}: flag {flag} missing");
        }
        // Value enums are completed too.
        assert!(
            script.contains("postgres-direct"),
            "{shell}: --starttls values missing"
        );
        assert!(
            script.contains("rustls-native"),
            "{shell}: --runtime values missing"
        );
        syntax_check(shell, &script);
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = tlsdoctor(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
    assert!(out.stdout.is_empty());
}

#[test]
fn man_page_is_roff_with_every_subcommand() {
    let man = stdout_of(&["manpage"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq") || man.contains(".TH tlsdoctor"),
        "{}",
        &man[..200]
    );
    assert!(man.contains(".TH tlsdoctor 1"), "no .TH header");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH VERSION",
    ] {
        assert!(man.contains(section), "missing {section}");
    }
    for sub in SUBCOMMANDS {
        assert!(
            man.contains(&format!("tlsdoctor\\-{sub}")),
            "subcommand {sub} not listed"
        );
    }
    // Each subcommand has its own section with its options (not only a one-line listing).
    for (sub, flag) in [
        ("CONNECT", "\\-\\-starttls"),
        ("CHECK", "\\-\\-junit"),
        ("STORE", "\\-\\-find"),
    ] {
        let start = man
            .find(&format!(".SH \"TLSDOCTOR {sub}\""))
            .unwrap_or_else(|| panic!("no {sub} section"));
        let section = &man[start..];
        let end = section[4..]
            .find("\n.SH ")
            .map(|i| i + 4)
            .unwrap_or(section.len());
        assert!(section[..end].contains(flag), "{sub} section lacks {flag}");
    }
    assert!(man.contains(".SH \"EXIT STATUS\""));
    // ENVIRONMENT names every variable a runtime's store depends on, not only Go's.
    let env = &man[man.find(".SH ENVIRONMENT").expect("ENVIRONMENT")..];
    for var in [
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "JAVA_TOOL_OPTIONS",
        "HTTPS_PROXY",
    ] {
        assert!(env.contains(var), "ENVIRONMENT lacks {var}");
    }
    assert!(man.contains("Diagnose TLS trust errors"));
    assert!(man.contains(env!("CARGO_PKG_VERSION")));

    // It renders: groff/nroff accept it without warnings when installed.
    let nroff = ["/usr/bin/groff", "/bin/groff"]
        .iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(groff) = nroff else {
        eprintln!("NOTE: groff is not installed: man page rendering check skipped");
        return;
    };
    let mut child = Command::new(groff)
        .args(["-man", "-Tutf8", "-ww", "-k"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(man.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "groff warnings: {stderr}");
    // Undo grotty's overstrike bold/underline (`N\x08N`, `_\x08x`).
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\x08' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(text.contains("NAME") && text.contains("tlsdoctor"), "{text}");
    assert!(text.contains("SUBCOMMANDS"), "{text}");
}

#[test]
fn check_help_states_the_real_jobs_default() {
    let help = stdout_of(&["check", "--help"]);
    let want = format!("else {})", tlsdoctor::commands::check::DEFAULT_JOBS);
    let line = help
        .lines()
        .skip_while(|l| !l.contains("--jobs"))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(line.contains(&want), "--jobs help {line:?} lacks {want:?}");
}

/// "World" is the project's word for the evaluated system; wherever help text uses it, the
/// same help says what it is (the top-level --help defines it, flags gloss it).
#[test]
fn help_explains_world_wherever_it_uses_the_word() {
    let long = stdout_of(&["--help"]);
    assert!(
        long.contains("The World is the system being evaluated"),
        "--help does not define the World"
    );
    for sub in SUBCOMMANDS {
        for flag in ["-h", "--help"] {
            let help = stdout_of(&[sub, flag]);
            let top = stdout_of(&[flag]);
            for (what, text) in [(format!("{sub} {flag}"), help), (flag.to_string(), top)] {
                // Help is wrapped: look at the words, not the lines.
                let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if flat.contains("The World is the system being evaluated") {
                    continue;
                }
                for (at, _) in flat.match_indices("World") {
                    let end = (at + 80).min(flat.len());
                    let window = flat.get(at..end).unwrap_or(&flat[at..]);
                    assert!(
                        window.contains("evaluated system"),
                        "{what}: \"{window}\" uses \"World\" without saying what it is"
                    );
                }
            }
        }
    }
}
