//! Certificate kinds from outside the usual RSA/ECDSA mould — RSA-PSS keys and signatures,
//! RSA under the X.500 OID 2.5.8.1.1, X25519/Ed25519 keys, compressed EC points, SM2, proxy
//! certificates, critical extensions, e-mail name constraints, unknown GeneralName types,
//! `CA:FALSE, pathlen:0`, a signature whose declared hash is not the one used, CA files
//! without a certificate, and a chain that crashes Go 1.19 — each cross-checked against the
//! real runtimes: Go 1.19 and OpenSSL 3.0 (this machine), Go 1.24 and OpenSSL 3.5 (the
//! Debian 13 root, `TLSDOCTOR_TRIXIE_ROOT`, default `.cache/trixie-root`).
//!
//! Fixtures are built here, at test time: keys with `openssl genpkey`, certificates DER-
//! encoded by the small builder below and signed with `openssl dgst`/`pkeyutl`, so every
//! odd encoding is exactly the one named by its scenario. Go is asked as `crypto/tls` asks
//! (`ParseCertificate` on every certificate sent, `Verify`, then the leaf key type); OpenSSL
//! as a libssl client (`openssl verify -purpose sslserver -auth_level 2 -verify_hostname`).

#[path = "common/kinds.rs"]
mod kinds_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kinds_common::*;

/// The real answers for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Real {
    go: String,
    openssl: Ossl,
}

#[derive(Default)]
struct Tally {
    /// (verdict agrees, words agree, total)
    by: BTreeMap<(String, String), (usize, usize, usize)>,
}

impl Tally {
    fn add(&mut self, kind: &str, runtime: &str, verdict: bool, words: bool) {
        let e = self
            .by
            .entry((kind.to_string(), runtime.to_string()))
            .or_default();
        e.0 += usize::from(verdict);
        e.1 += usize::from(words);
        e.2 += 1;
    }

    fn print(&self) {
        let runtimes: Vec<String> = {
            let mut v: Vec<String> = self.by.keys().map(|k| k.1.clone()).collect();
            v.sort();
            v.dedup();
            v
        };
        let mut kinds: Vec<String> = self.by.keys().map(|k| k.0.clone()).collect();
        kinds.dedup();
        eprintln!("\nagreement per kind (verdict / exact words / scenarios):");
        eprint!("{:<26}", "kind");
        for r in &runtimes {
            eprint!(" {r:>14}");
        }
        eprintln!();
        let mut totals: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for k in &kinds {
            eprint!("{k:<26}");
            for r in &runtimes {
                match self.by.get(&(k.clone(), r.clone())) {
                    Some(&(v, w, n)) => {
                        eprint!(" {:>14}", format!("{v}/{w}/{n}"));
                        let t = totals.entry(r).or_default();
                        t.0 += v;
                        t.1 += w;
                        t.2 += n;
                    }
                    None => eprint!(" {:>14}", "-"),
                }
            }
            eprintln!();
        }
        eprint!("{:<26}", "all");
        for r in &runtimes {
            let (v, w, n) = totals[r.as_str()];
            eprint!(" {:>14}", format!("{v}/{w}/{n}"));
        }
        eprintln!();
    }
}

fn go_words(real: &str, ours: &str) -> bool {
    real == ours
}

#[test]
fn certificate_kinds_agree_with_real_runtimes() {
    let Some(openssl30) = Openssl::host() else {
        assert!(!ci(), "openssl is required under CI=true");
        eprintln!("SKIPPED: openssl not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let go119 = GoChecker::host(tmp.path());
    assert!(go119.is_some() || !ci(), "go is required under CI=true");
    let trixie = trixie_root();
    assert!(
        trixie.is_some() || !ci(),
        "the Debian 13 root is required under CI=true (TLSDOCTOR_TRIXIE_ROOT or .cache/trixie-root)"
    );
    let go124 = trixie.as_deref().and_then(|r| GoChecker::trixie(r, tmp.path()));
    let openssl35 = trixie.as_deref().and_then(Openssl::trixie);
    if trixie.is_some() {
        assert!(
            go124.is_some() && openssl35.is_some(),
            "the Debian 13 root lacks go or openssl"
        );
    }

    let pki = Pki::new(&tmp.path().join("keys"));
    let scenarios = scenarios(&pki);
    let mut tally = Tally::default();
    let mut failures = vec![];
    for s in &scenarios {
        let dir = tmp.path().join(&s.name);
        std::fs::create_dir_all(&dir).unwrap();
        s.write(&dir);
        let ours = [Ours::of(s, &dir, Profile::Old), Ours::of(s, &dir, Profile::New)];
        let mut rows: Vec<(String, Profile, Option<Real>)> = vec![];
        for (label, go, ossl, profile) in [
            (
                "go1.19/openssl3.0",
                go119.as_ref(),
                Some(&openssl30),
                Profile::Old,
            ),
            (
                "go1.24/openssl3.5",
                go124.as_ref(),
                openssl35.as_ref(),
                Profile::New,
            ),
        ] {
            let (Some(go), Some(ossl)) = (go, ossl) else {
                continue;
            };
            let real = Real {
                go: go.run(&dir, &s.host, AT),
                openssl: ossl.verify(&dir, &s.host, AT),
            };
            rows.push((label.to_string(), profile, Some(real)));
        }
        for (_label, profile, real) in rows {
            let real = real.unwrap();
            let (go_rt, ossl_rt) = match profile {
                Profile::Old => ("go1.19", "openssl3.0"),
                Profile::New => ("go1.24", "openssl3.5"),
            };
            let ours = &ours[profile as usize];
            let our_go = ours.go();
            let go_v = (real.go == "OK") == (our_go == "OK")
                && real.go.starts_with("CRASH") == our_go.starts_with("CRASH");
            let go_w = go_words(&real.go, &our_go);
            tally.add(&s.kind, go_rt, go_v, go_w);
            let our_os = ours.openssl();
            let os_v = real.openssl.verdict() == our_os.verdict();
            let os_w = real.openssl == our_os;
            tally.add(&s.kind, ossl_rt, os_v, os_w);
            if std::env::var_os("KINDS_DEBUG").is_some() {
                eprintln!(
                    "{} [{go_rt}/{ossl_rt}]\n  go      {}\n  openssl {:?}",
                    s.name, real.go, real.openssl
                );
            }
            if !go_v || !go_w {
                failures.push(format!(
                    "{} [{go_rt}]\n  real {}\n  ours {}",
                    s.name, real.go, our_go
                ));
            }
            if !os_v || !os_w {
                failures.push(format!(
                    "{} [{ossl_rt}]\n  real {:?}\n  ours {:?}",
                    s.name, real.openssl, our_os
                ));
            }
        }
    }
    tally.print();
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- the real runtimes

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn path_env() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::split_paths(&path_env())
        .map(|d| d.join(cmd))
        .find(|f| f.is_file())
}

/// The Debian 13 root: `TLSDOCTOR_TRIXIE_ROOT`, else the repository's `.cache/trixie-root`.
fn trixie_root() -> Option<PathBuf> {
    let p = std::env::var_os("TLSDOCTOR_TRIXIE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/trixie-root"));
    p.join("usr/bin/openssl").is_file().then_some(p)
}

/// Run `args` inside the root with `dir` bind-mounted at /mnt, in a private mount
/// namespace: the root itself is never written to.
fn in_root(root: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut script =
        "mount --bind \"$1\" \"$2/mnt\" && exec chroot \"$2\" /usr/bin/env -i PATH=/usr/bin:/bin".to_string();
    for (k, v) in env {
        script.push_str(&format!(" {k}={v}"));
    }
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    Command::new("unshare")
        .env_clear()
        .env("PATH", path_env())
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(dir)
        .arg(root)
        .output()
        .expect("unshare")
}

/// A Go program that does what `crypto/tls` does with the server's certificates.
const GO_CHECKER: &str = r#"package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// crypto/tls wraps Verify's error since Go 1.20.
func wrapped() bool {
	v := strings.TrimPrefix(runtime.Version(), "go1.")
	minor, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return minor >= 20
}

func main() {
	roots := x509.NewCertPool()
	data, _ := os.ReadFile(os.Args[1])
	roots.AppendCertsFromPEM(data)
	rest, _ := os.ReadFile(os.Args[2])
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			fmt.Println("tls: failed to parse certificate from server: " + err.Error())
			return
		}
		certs = append(certs, c)
	}
	at, _ := strconv.ParseInt(os.Args[4], 10, 64)
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), DNSName: os.Args[3], CurrentTime: time.Unix(at, 0).UTC()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		if wrapped() {
			fmt.Println("tls: failed to verify certificate: " + err.Error())
		} else {
			fmt.Println(err.Error())
		}
		return
	}
	switch certs[0].PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		fmt.Printf("tls: server's certificate contains an unsupported type of public key: %T\n", certs[0].PublicKey)
		return
	}
	fmt.Println("OK")
}
"#;

struct GoChecker {
    exe: PathBuf,
}

impl GoChecker {
    fn write_src(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("main.go"), GO_CHECKER).unwrap();
        std::fs::write(dir.join("go.mod"), "module kindscheck\n\ngo 1.19\n").unwrap();
    }

    /// Built with this machine's Go (1.19 on Debian 12).
    fn host(tmp: &Path) -> Option<GoChecker> {
        let go = which("go")?;
        let work = tmp.join("go-host");
        Self::write_src(&work.join("src"));
        let exe = work.join("checker");
        let out = Command::new(go)
            .env_clear()
            .env("PATH", path_env())
            .env("HOME", &work)
            .env("GOPATH", work.join("gopath"))
            .env("GOCACHE", work.join("cache"))
            .env("GOTOOLCHAIN", "local")
            .env("GOTELEMETRY", "off")
            .env("CGO_ENABLED", "0")
            .current_dir(work.join("src"))
            .args(["build", "-o"])
            .arg(&exe)
            .arg(".")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "go build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(GoChecker { exe })
    }

    /// Built inside the Debian 13 root with its Go (1.24); the program is static.
    fn trixie(root: &Path, tmp: &Path) -> Option<GoChecker> {
        let goroot = std::fs::read_dir(root.join("usr/lib"))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("go-1."))
            .max()?;
        let work = tmp.join("go-trixie");
        Self::write_src(&work.join("src"));
        let goroot = format!("GOROOT=/usr/lib/{goroot}");
        let out = in_root(
            root,
            &work,
            &[
                ("HOME", "/mnt"),
                ("GOPATH", "/mnt/gopath"),
                ("GOCACHE", "/mnt/cache"),
                ("GOTOOLCHAIN", "local"),
                ("GOTELEMETRY", "off"),
                ("CGO_ENABLED", "0"),
                ("GOFLAGS", "-buildvcs=false"),
                (&goroot[..6], &goroot[7..]),
            ],
            &[
                "sh",
                "-c",
                "cd /mnt/src && exec /usr/bin/go build -o /mnt/checker .",
            ],
        );
        assert!(
            out.status.success(),
            "go build in the Debian 13 root: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(GoChecker {
            exe: work.join("checker"),
        })
    }

    /// "OK", the error a `crypto/tls` client returns, or "CRASH: <panic line>".
    fn run(&self, dir: &Path, host: &str, at: i64) -> String {
        let out = Command::new(&self.exe)
            .env_clear()
            .arg(dir.join("ca.pem"))
            .arg(dir.join("chain.pem"))
            .arg(host)
            .arg(at.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(p) = stderr.lines().find(|l| l.starts_with("panic: ")) {
            return format!("CRASH: {}", p.trim_end_matches(" [recovered]"));
        }
        assert!(out.status.success(), "go checker: {stderr}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// What OpenSSL answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ossl {
    Ok,
    /// The first verify error: code, depth, text.
    Error(i32, usize, String),
    /// The CA file does not load (`SSL_CTX_load_verify_locations` fails): the library error.
    CaFile(String),
}

impl Ossl {
    fn verdict(&self) -> bool {
        *self == Ossl::Ok
    }
}

struct Openssl {
    /// None: the host's `openssl`; Some(root): the one in that root, via chroot.
    root: Option<PathBuf>,
}

impl Openssl {
    fn host() -> Option<Openssl> {
        which("openssl").map(|_| Openssl { root: None })
    }

    fn trixie(root: &Path) -> Option<Openssl> {
        root.join("usr/bin/openssl").is_file().then(|| Openssl {
            root: Some(root.to_path_buf()),
        })
    }

    fn run(&self, dir: &Path, args: &[String]) -> String {
        let out = match &self.root {
            None => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.replace("/mnt", &dir.to_string_lossy()))
                    .collect();
                Command::new("openssl")
                    .env_clear()
                    .env("PATH", path_env())
                    .args(&args)
                    .output()
                    .unwrap()
            }
            Some(root) => {
                let mut v = vec!["/usr/bin/openssl"];
                v.extend(args.iter().map(|s| s.as_str()));
                in_root(root, dir, &[], &v)
            }
        };
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// A libssl client's answer: first whether `SSL_CTX_load_verify_locations` takes the CA
    /// file (asked of `s_client`, which stops there when it cannot; `openssl verify` loads
    /// CA files another way since 3.5), then `openssl verify` with the client's settings
    /// (purpose sslserver, security level 2, the host name checked, no partial chain).
    fn verify(&self, dir: &Path, host: &str, at: i64) -> Ossl {
        // Port 1 on loopback: with a usable CA file s_client gets as far as a refused
        // connection, and that is all this step asks.
        let text = self.run(
            dir,
            &["s_client", "-connect", "127.0.0.1:1", "-CAfile", "/mnt/ca.pem"].map(String::from),
        );
        if !text.contains("connect") {
            // The library error, as ERR_error_string gives it (without the thread id,
            // function, file and line that ERR_print_errors adds).
            let line = text.lines().find(|l| l.contains(":error:")).unwrap_or("");
            let parts: Vec<&str> = line.split(':').collect();
            let e = if parts.len() > 5 {
                format!("error:{}:{}::{}", parts[2], parts[3], parts[5])
            } else {
                line.to_string()
            };
            return Ossl::CaFile(e);
        }
        let mut args: Vec<String> = vec!["verify".into(), "-CAfile".into(), "/mnt/ca.pem".into()];
        if std::fs::metadata(dir.join("untrusted.pem")).is_ok_and(|m| m.len() > 0) {
            args.extend(["-untrusted".into(), "/mnt/untrusted.pem".into()]);
        }
        args.extend(
            [
                "-purpose",
                "sslserver",
                "-auth_level",
                "2",
                "-attime",
                &at.to_string(),
                "-verify_hostname",
                host,
                "/mnt/leaf.pem",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let text = self.run(dir, &args);
        for line in text.lines() {
            if let Some(rest) = line.split("error ").nth(1) {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                if parts.len() > 3 && parts[1] == "at" && parts[3] == "depth" {
                    let msg = rest.split_once("lookup: ").map(|x| x.1).unwrap_or("").trim();
                    return Ossl::Error(
                        parts[0].parse().unwrap(),
                        parts[2].parse().unwrap(),
                        msg.to_string(),
                    );
                }
            }
        }
        assert!(
            text.contains(": OK"),
            "openssl verify said neither OK nor an error:\n{text}"
        );
        Ossl::Ok
    }
}

// ---------------------------------------------------------------- tlsdoctor's answers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Profile {
    Old = 0,
    New = 1,
}

/// tlsdoctor's predictions, from the same files, through the CLI (`verify --ca`) with
/// the versions pinned: `go@1.19 openssl@3.0` (Debian 12), `go@1.24 openssl@3.5` (13).
struct Ours {
    /// (trusted, message) for go and openssl; Err: the input was refused.
    verdicts: Result<Vec<(bool, String)>, String>,
    ossl: Option<(i32, usize)>,
}

impl Ours {
    fn of(s: &Scenario, dir: &Path, p: Profile) -> Ours {
        let (go, ossl) = match p {
            Profile::Old => ("go@1.19", "openssl@3.0"),
            Profile::New => ("go@1.24", "openssl@3.5"),
        };
        let out = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .env_clear()
            .arg("verify")
            .arg(dir.join("chain.pem"))
            .arg("--ca")
            .arg(dir.join("ca.pem"))
            .args(["--name", &s.host, "--at", &tlsdoctor::x509::rfc3339(AT)])
            .args(["--runtime", go, "--runtime", ossl, "--format", "json"])
            .output()
            .unwrap();
        let verdicts = if out.status.code() == Some(2) {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        } else {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{}: {e}: {}", s.name, String::from_utf8_lossy(&out.stderr)));
            let findings: Vec<&str> = doc["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["code"].as_str())
                .collect();
            // A CA file without a certificate is predicted, and still warned about.
            if s.ca_text.is_some() {
                assert!(
                    findings.contains(&"ca-file-no-certificate"),
                    "{}: {findings:?}",
                    s.name
                );
                assert_eq!(out.status.code(), Some(1), "{}", s.name);
            }
            Ok(doc["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["trusted"].as_bool().unwrap(),
                        v["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect())
        };
        // The depth of OpenSSL's first error, from the engine itself.
        let ossl = (|| {
            use tlsdoctor::diagnose::{facts::Arena, openssl, order_presented};
            let chain = tlsdoctor::commands::inspect::read_certs(&dir.join("chain.pem")).ok()?;
            let trusted: Vec<_> =
                tlsdoctor::commands::inspect::decode_bundle(&std::fs::read(dir.join("ca.pem")).unwrap())
                    .into_iter()
                    .filter_map(|b| b.result.ok())
                    .collect();
            let mut arena = Arena::new();
            let pres: Vec<usize> = order_presented(&chain)
                .iter()
                .map(|&i| arena.add(&chain[i]))
                .collect();
            let tr: Vec<usize> = trusted.iter().map(|c| arena.add(c)).collect();
            openssl::verify(&arena, &pres, &tr, Some(&s.host), AT)
                .first()
                .map(|e| (e.code, e.depth))
        })();
        Ours { verdicts, ossl }
    }

    fn go(&self) -> String {
        match &self.verdicts {
            Err(e) => format!("REFUSED: {e}"),
            Ok(v) if v[0].0 => "OK".into(),
            // A predicted crash: the program dies with this panic.
            Ok(v) if v[0].1.starts_with("panic: ") => format!("CRASH: {}", v[0].1),
            Ok(v) => v[0].1.clone(),
        }
    }

    fn openssl(&self) -> Ossl {
        let v = match &self.verdicts {
            Err(e) => return Ossl::CaFile(format!("REFUSED: {e}")),
            Ok(v) => &v[1],
        };
        if v.0 {
            return Ossl::Ok;
        }
        if let Some(rest) = v.1.strip_prefix("verify error:num=") {
            let (n, text) = rest.split_once(':').unwrap();
            let depth = self.ossl.map(|x| x.1).unwrap_or(usize::MAX);
            return Ossl::Error(n.parse().unwrap(), depth, text.to_string());
        }
        Ossl::CaFile(v.1.clone())
    }
}
