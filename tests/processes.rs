//! `--all-processes`: processes the test starts in different roots (chroot into fixture
//! trees) and environments, with different runtimes (a static Go program, OpenSSL), are
//! grouped by root + trust variables + runtime, and each group's answer is the one `--pid`
//! gives — and the one the real program gives: each Go process verifies the chain itself
//! with its own system pool when it starts. Processes that exit meanwhile and processes
//! that cannot be read are reported; the DaemonSet's capabilities are the ones shown here
//! to be needed and enough.

#[path = "common/store.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

const SLEEPER: &str = r#"package main

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// Verify the chain (argument 1) for the name (argument 2) with this process's own system
// pool, print the verdict, then wait until stdin closes.
func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
	} else {
		b, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(b.Bytes)
		pool, perr := x509.SystemCertPool()
		switch {
		case err != nil:
			fmt.Println(err)
		case perr != nil:
			fmt.Println(perr)
		default:
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: os.Args[2]}); err != nil {
				fmt.Println(err)
			} else {
				fmt.Println("ok")
			}
		}
	}
	bufio.NewReader(os.Stdin).ReadString(0)
}
"#;

static SLEEPER_BIN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// The Go program above, static (CGO off), built once with this machine's Go.
fn sleeper() -> Option<PathBuf> {
    SLEEPER_BIN
        .get_or_init(|| common::build_go("procsleeper", SLEEPER))
        .clone()
}

fn chroot() -> &'static str {
    ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils)")
}

/// A process the test started; killed (stdin closed, then SIGKILL) and reaped on drop.
struct Proc {
    child: Child,
    /// What it printed first (the Go program's own verdict).
    said: String,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `cmd` with exactly `env`; wait for its first line when `line` (it has exec'd,
/// loaded its pool and verified), otherwise until the loader has mapped libssl.
fn start(mut cmd: Command, env: &[(&str, &str)], line: bool) -> Proc {
    cmd.env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut said = String::new();
    if line {
        let out = child.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut said).unwrap();
    } else {
        let pid = child.id();
        let t = std::time::Instant::now();
        while tlsdoctor::detect::mapped_libraries(pid, "libssl.so").is_empty() {
            assert!(t.elapsed().as_secs() < 10, "libssl never mapped into {pid}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    Proc {
        child,
        said: said.trim().to_string(),
    }
}

/// The Go program chrooted into `root` (copied there as /sleeper), verifying /chain.pem.
fn go_in(root: &Path, env: &[(&str, &str)], userspec: Option<&str>) -> Proc {
    if !root.join("sleeper").exists() {
        std::fs::copy(sleeper().unwrap(), root.join("sleeper")).unwrap();
    }
    let mut c = Command::new(chroot());
    if let Some(u) = userspec {
        c.arg(format!("--userspec={u}"));
    }
    c.arg(root).args(["/sleeper", "/chain.pem", "repo.test"]);
    start(c, env, true)
}

/// Run `tlsdoctor --all-processes ARGS --format jsonl` (through `wrap`, e.g. setpriv):
/// (exit code, group lines by PID, summary).
fn all_processes(wrap: &[&str], args: &[&str]) -> (i32, BTreeMap<u32, Value>, Value) {
    let bin = bin();
    let mut full: Vec<&str> = wrap.to_vec();
    full.push(bin.to_str().unwrap());
    full.extend_from_slice(&["--all-processes", "--format", "jsonl"]);
    full.extend_from_slice(args);
    let o = Command::new(full[0])
        .args(&full[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    let mut by_pid = BTreeMap::new();
    let mut summary = Value::Null;
    let mut n = 0;
    for l in out.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{err}"));
        assert_eq!(v["schema"], "tlsdoctor.processes/v1");
        if v.get("summary").is_some() {
            summary = v;
            continue;
        }
        n += 1;
        assert_eq!(v["group"], n, "groups are numbered in order");
        for p in v["processes"].as_array().unwrap() {
            by_pid.insert(p["pid"].as_u64().unwrap() as u32, v.clone());
        }
    }
    assert!(summary.is_object(), "no summary line: {out}\n{err}");
    assert_eq!(summary["summary"]["groups"], n);
    (o.status.code().unwrap_or(-1), by_pid, summary)
}

/// The runtime's answer in a group's `store --find` document.
fn found(group: &Value, runtime: &str) -> bool {
    let certs = group["store"]["find"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{group}");
    certs[0]["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runtime"] == runtime)
        .unwrap_or_else(|| panic!("no {runtime} in {group}"))["trusted"]
        .as_bool()
        .unwrap()
}

fn verdict<'a>(group: &'a Value, runtime: &str) -> &'a Value {
    group["verify"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["runtime"] == runtime)
        .unwrap_or_else(|| panic!("no {runtime} verdict in {group}"))
}

struct Setup {
    _dir: tempfile::TempDir,
    corp_pem: PathBuf,
    chain: PathBuf,
    /// Debian-like root with /etc/corp/bundle.pem (public + corp).
    root1: Fs,
    /// Alpine-like root with the public CA only.
    root2: Fs,
    /// A host file holding public + corp, for host-root processes.
    host_bundle: PathBuf,
}

fn setup() -> Setup {
    let (public, corp) = (ca("Procs Public Root"), ca("Procs Corp Root"));
    let srv = leaf(&corp, "repo.test");
    let dir = tempfile::tempdir().unwrap();
    let corp_pem = dir.path().join("corp.pem");
    std::fs::write(&corp_pem, corp.pem()).unwrap();
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, srv.pem()).unwrap();
    let host_bundle = dir.path().join("host-bundle.pem");
    std::fs::write(&host_bundle, bundle(&[&public, &corp])).unwrap();
    let root1 = Fs::new();
    debian(&root1, &[&public]);
    root1.write("/etc/corp/bundle.pem", bundle(&[&public, &corp]));
    root1.write("/chain.pem", srv.pem());
    let root2 = Fs::new();
    alpine(&root2, &[&public]);
    root2.write("/chain.pem", srv.pem());
    Setup {
        _dir: dir,
        corp_pem,
        chain,
        root1,
        root2,
        host_bundle,
    }
}

#[test]
fn processes_are_grouped_by_root_environment_and_runtime_and_answered_as_pid_would() {
    if sleeper().is_none() || !have("openssl") {
        return;
    }
    let s = setup();
    let corp_env = [("SSL_CERT_FILE", "/etc/corp/bundle.pem")];
    let hb = s.host_bundle.to_str().unwrap();
    // Root 1, no variables: two processes, one group.
    let a1 = go_in(s.root1.root(), &[], None);
    let a2 = go_in(s.root1.root(), &[], None);
    // Root 1 with SSL_CERT_FILE: another group.
    let b = go_in(s.root1.root(), &corp_env, None);
    // Root 2: another group.
    let c = go_in(s.root2.root(), &[], None);
    // This machine's root, the same variables, two runtimes: a Go program and OpenSSL.
    let host_env = [("SSL_CERT_FILE", hb)];
    let mut g = Command::new(sleeper().unwrap());
    g.arg(&s.chain).arg("repo.test");
    let d_go = start(g, &host_env, true);
    let mut o = Command::new("openssl");
    o.args(["enc", "-base64"]);
    let d_ssl = start(o, &host_env, false);

    // The programs' own verdicts: the story this test is about.
    assert_eq!(a1.said, a2.said);
    assert!(a1.said.contains("unknown authority"), "{}", a1.said);
    assert_eq!(b.said, "ok");
    assert!(c.said.contains("unknown authority"), "{}", c.said);
    assert_eq!(d_go.said, "ok");

    let corp = s.corp_pem.to_str().unwrap();
    let (code, by_pid, summary) = all_processes(&[], &["store", "--find", corp]);
    assert_eq!(code, 1, "some groups do not trust the corp root: {summary}");
    let group = |p: &Proc| -> &Value {
        by_pid
            .get(&p.pid())
            .unwrap_or_else(|| panic!("process {} in no group", p.pid()))
    };
    // Grouping.
    assert_eq!(group(&a1)["group"], group(&a2)["group"]);
    let distinct: std::collections::BTreeSet<String> = [&a1, &b, &c, &d_go, &d_ssl]
        .iter()
        .map(|p| group(p)["group"].to_string())
        .collect();
    assert_eq!(distinct.len(), 5, "five groups expected");
    for p in [&a1, &b, &c] {
        assert_eq!(group(p)["root"]["kind"], "other");
        assert!(group(p)["runtime"][0].as_str().unwrap().starts_with("go go1."));
    }
    assert_eq!(
        group(&a1)["root"]["path"].as_str().unwrap(),
        s.root1.root().canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(group(&a1)["root"]["id"], group(&b)["root"]["id"]);
    assert_ne!(group(&a1)["root"]["id"], group(&c)["root"]["id"]);
    assert_eq!(group(&b)["env"]["SSL_CERT_FILE"], "/etc/corp/bundle.pem");
    assert!(group(&a1)["env"].as_object().unwrap().is_empty());
    // Same root and variables, different runtimes.
    assert_eq!(group(&d_go)["root"]["kind"], "host");
    assert_eq!(group(&d_go)["env"], group(&d_ssl)["env"]);
    let ssl_rt = group(&d_ssl)["runtime"].to_string();
    assert!(
        ssl_rt.contains("libssl") && ssl_rt.contains("OpenSSL 3."),
        "{ssl_rt}"
    );
    assert!(!group(&d_go)["runtime"].to_string().contains("libssl"));

    // Answers, against the programs' own.
    for p in [&a1, &b, &c, &d_go] {
        assert_eq!(found(group(p), "go"), p.said == "ok", "group {}", group(p));
    }
    assert!(found(group(&b), "openssl"));
    assert!(found(group(&d_ssl), "openssl"));
    assert!(!found(group(&c), "openssl"));
    // Exactly what `--pid` says for the process that answered.
    for p in [&a1, &b, &d_ssl] {
        let g = group(p);
        let by = g["answered_by"].as_u64().unwrap().to_string();
        let (_, out, err) = tlsdoctor(&["--pid", &by, "store", "--find", corp, "--json"], &[]);
        let want: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        assert_eq!(g["store"], want, "group of {} vs --pid {by}", p.pid());
    }

    // verify: the same groups, each with the verdict the program itself printed.
    let chain = s.chain.to_str().unwrap();
    let (code, by_pid, _) = all_processes(&[], &["verify", chain, "--name", "repo.test"]);
    assert_eq!(code, 1);
    for p in [&a1, &b, &c, &d_go] {
        let g = &by_pid[&p.pid()];
        let v = verdict(g, "go");
        assert_eq!(v["trusted"], p.said == "ok", "{g}");
        if p.said != "ok" {
            assert_eq!(v["message"], p.said, "tlsdoctor words it as Go does");
        }
    }
    // The real OpenSSL with that group's environment agrees.
    let real = Command::new("openssl")
        .env_clear()
        .env("SSL_CERT_FILE", hb)
        .arg("verify")
        .arg(&s.chain)
        .output()
        .unwrap();
    assert_eq!(
        verdict(&by_pid[&d_ssl.pid()], "openssl")["trusted"],
        real.status.success()
    );

    // Human output names each group and ends with the summary.
    let (code, out, _) = tlsdoctor(&["--all-processes", "store", "--find", corp], &[]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("sleeper {}", b.pid())), "{out}");
    assert!(
        out.contains("environment: SSL_CERT_FILE=/etc/corp/bundle.pem"),
        "{out}"
    );
    assert!(out.contains(" groups; "), "{out}");
    // Other commands are refused clearly.
    let (code, _, err) = tlsdoctor(&["--all-processes", "inspect", corp], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("works with `store`"), "{err}");
}

#[test]
fn a_process_that_exits_meanwhile_is_named_and_the_next_one_answers() {
    if sleeper().is_none() {
        return;
    }
    let s = setup();
    let first = go_in(s.root2.root(), &[("SSL_CERT_DIR", "/vanishing")], None);
    let second = go_in(s.root2.root(), &[("SSL_CERT_DIR", "/vanishing")], None);
    let (procs, _) = tlsdoctor::commands::processes::list();
    let ours: Vec<_> = procs
        .into_iter()
        .filter(|p| p.pid == first.pid() || p.pid == second.pid())
        .collect();
    assert_eq!(ours.len(), 2);
    let first_pid = first.pid();
    drop(first); // killed and reaped: listed, but gone before it is examined
    let cli = <tlsdoctor::cli::Cli as clap::Parser>::parse_from(["tlsdoctor", "--all-processes", "store"]);
    let args = tlsdoctor::cli::StoreArgs::default();
    let mut docs = Vec::new();
    tlsdoctor::commands::processes::answer_all(
        tlsdoctor::commands::processes::Question::Store(&args),
        &cli.global,
        ours.clone(),
        |d| {
            docs.push(d);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].vanished, vec![first_pid]);
    assert_eq!(docs[0].answered_by, Some(second.pid()));
    assert!(docs[0].store.is_some());
    // When every process of a group is gone, the group says so instead of answering.
    drop(second);
    let mut docs = Vec::new();
    tlsdoctor::commands::processes::answer_all(
        tlsdoctor::commands::processes::Question::Store(&args),
        &cli.global,
        ours,
        |d| {
            docs.push(d);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(docs[0].vanished.len(), 2);
    assert_eq!(docs[0].answered_by, None);
    assert!(
        docs[0].error.as_deref().unwrap().contains("exited"),
        "{:?}",
        docs[0].error
    );
}

/// The DaemonSet in deploy/ asks for SYS_PTRACE and DAC_READ_SEARCH and nothing else: run
/// as root with exactly those, another user's process (in a root whose CA bundle only its
/// owner may read) is answered in full; without either it is listed as unreadable, with
/// the reason.
#[test]
fn the_daemonset_capabilities_are_needed_and_enough() {
    if sleeper().is_none() || !have_with("setpriv", "--version") {
        return;
    }
    let ds = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/tlsdoctor-daemonset.yaml"
    ))
    .unwrap();
    let ds: Value = serde_norway::from_str(&ds).unwrap();
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"], true);
    let audit = &spec["initContainers"][0];
    assert_eq!(audit["args"][0], "--all-processes");
    let sc = &audit["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let caps: Vec<String> = sc["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(caps, ["sys_ptrace", "dac_read_search"]);

    let s = setup();
    // The root itself must be searchable by that user (a temporary directory is 0700).
    std::fs::set_permissions(s.root1.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The other user's bundle: a 0700 directory of user 65534.
    let corp_dir = s.root1.host("/etc/corp");
    std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&corp_dir)
        .status()
        .unwrap();
    std::fs::set_permissions(&corp_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let p = go_in(
        s.root1.root(),
        &[("SSL_CERT_FILE", "/etc/corp/bundle.pem")],
        Some("65534:65534"),
    );
    assert_eq!(p.said, "ok", "the program itself reads its bundle");
    let corp = s.corp_pem.to_str().unwrap();
    let bounding = |caps: &[String]| -> String {
        let mut b = "-all".to_string();
        for c in caps {
            b.push_str(&format!(",+{c}"));
        }
        b
    };
    // Exactly the DaemonSet's capabilities: answered, and Go trusts it as the program does.
    let b = bounding(&caps);
    let (_, by_pid, _) = all_processes(
        &["setpriv", "--bounding-set", &b, "--"],
        &["store", "--find", corp],
    );
    let g = by_pid
        .get(&p.pid())
        .expect("answered with the DaemonSet's capabilities");
    assert!(found(g, "go"), "{g}");
    // Without SYS_PTRACE: unreadable, with the reason.
    let b = bounding(&["dac_read_search".to_string()]);
    let (_, by_pid, summary) = all_processes(
        &["setpriv", "--bounding-set", &b, "--"],
        &["store", "--find", corp],
    );
    assert!(!by_pid.contains_key(&p.pid()));
    let u = summary["summary"]["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["pid"] == p.pid())
        .unwrap_or_else(|| panic!("not listed as unreadable: {summary}"));
    assert!(u["why"].as_str().unwrap().contains("permission denied"), "{u}");
    assert!(u["why"].as_str().unwrap().contains("CAP_SYS_PTRACE"), "{u}");
    // Without DAC_READ_SEARCH: /proc/N/environ is its owner's alone (mode 0400).
    let b = bounding(&["sys_ptrace".to_string()]);
    let (_, by_pid, summary) = all_processes(
        &["setpriv", "--bounding-set", &b, "--"],
        &["store", "--find", corp],
    );
    assert!(!by_pid.contains_key(&p.pid()));
    let u = summary["summary"]["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["pid"] == p.pid())
        .unwrap_or_else(|| panic!("not listed as unreadable: {summary}"));
    assert!(u["why"].as_str().unwrap().contains("CAP_DAC_READ_SEARCH"), "{u}");
}
