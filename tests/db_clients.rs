//! Database clients are runtimes, and their verdicts are the real clients' verdicts.
//!
//! Real PostgreSQL and MariaDB servers on 127.0.0.1 ephemeral ports serve generated
//! chains (good, leaf only, expired, wrong name, self-signed); the real clients — psql 15
//! (Debian 12) and psql 17 (the Debian 13 root, `TLSDOCTOR_TRIXIE_ROOT`), the `mariadb`
//! tools of MariaDB 10.11 and 11.8, and one Go program on each side's pgx v4 and
//! go-sql-driver/mysql packages built by its Go (1.19 with pgx 4.15 and the driver 1.5;
//! 1.24 with pgx 4.18 and the driver 1.9) — connect with every trust setup (the right
//! root, another root, none; `sslrootcert=system`, `SSL_CERT_FILE`) and mode (`sslmode`,
//! `--ssl-verify-server-cert`, `tls=`),
//! each with a cleared environment. tlsdoctor predicts each from the same World (same
//! root, same variables, the same settings in the target URL): the verdict must agree
//! every time and the message, exactly, in at least 98 % of the cases.

#[path = "common/servers.rs"]
mod servers;
#[path = "common/store.rs"]
mod store_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use servers::{clean, Pki, Server};
use tlsdoctor::report::json::Document;

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The Debian 13 root: `TLSDOCTOR_TRIXIE_ROOT`, else the repository's `.cache/trixie-root`.
fn trixie_root() -> Option<PathBuf> {
    let p = std::env::var_os("TLSDOCTOR_TRIXIE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/trixie-root"));
    p.join("usr/bin/psql").is_file().then_some(p)
}

/// One served chain.
struct Fixture {
    name: &'static str,
    chain: String,
    key: String,
}

/// The scenarios: the leaf names 127.0.0.1 (the address every client connects to) except
/// in `wrong-name`.
fn fixtures(pki: &Pki) -> Vec<Fixture> {
    let good = pki.leaf("good", "db.test", &["db.test", "127.0.0.1"], 2020, 2045);
    let expired = pki.leaf("expired", "db.test", &["db.test", "127.0.0.1"], 2020, 2021);
    let wrong = pki.leaf("wrong", "other.test", &["other.test"], 2020, 2045);
    let mut p = rcgen::CertificateParams::new(vec!["db.test".to_string()]).unwrap();
    p.subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "self-signed db.test");
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let sk = rcgen::KeyPair::generate().unwrap();
    let ss = p.self_signed(&sk).unwrap();
    let int = pki.int.pem();
    vec![
        Fixture {
            name: "good",
            chain: format!("{}{int}", good.pem()),
            key: good.key_pem(),
        },
        Fixture {
            name: "leaf-only",
            chain: good.pem(),
            key: good.key_pem(),
        },
        Fixture {
            name: "expired",
            chain: format!("{}{int}", expired.pem()),
            key: expired.key_pem(),
        },
        Fixture {
            name: "wrong-name",
            chain: format!("{}{int}", wrong.pem()),
            key: wrong.key_pem(),
        },
        Fixture {
            name: "self-signed",
            chain: ss.pem(),
            key: sk.serialize_pem(),
        },
    ]
}

/// The files a client sees, in a directory that is `dir` on the host and `/mnt` inside
/// the Debian 13 root: the right root, another root, an unrelated "system" bundle, the
/// right root as the "system" bundle, and an empty home.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(pki: &Pki) -> Files {
        let dir = pki.path("clients");
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.as_path();
        std::fs::write(d.join("root.pem"), pki.root.pem()).unwrap();
        std::fs::write(d.join("other.pem"), servers::ca("Other Root", None).pem()).unwrap();
        std::fs::write(d.join("unrelated.pem"), servers::ca("Unrelated Root", None).pem()).unwrap();
        std::fs::create_dir_all(d.join("home")).unwrap();
        std::fs::create_dir_all(d.join("nodir")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        Files { dir }
    }
}

/// The PKI, the client files and one server per fixture of each kind, shared by the tests
/// of this binary (the servers die with it).
struct Fx {
    files: Files,
    fixtures: Vec<Fixture>,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = Pki::new();
        let files = Files::new(&pki);
        let fixtures = fixtures(&pki);
        Fx { files, fixtures }
    })
}

type Servers = Vec<(&'static str, Option<Server>)>;

fn start_all(start: fn(&str, &str, &str) -> Option<Server>) -> Servers {
    let f = fx();
    std::thread::scope(|s| {
        let hs: Vec<_> = f
            .fixtures
            .iter()
            .map(|x| s.spawn(move || (x.name, start(x.name, &x.chain, &x.key))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn pg_servers() -> &'static Servers {
    static S: OnceLock<Servers> = OnceLock::new();
    S.get_or_init(|| start_all(servers::postgres_tls))
}

fn my_servers() -> &'static Servers {
    static S: OnceLock<Servers> = OnceLock::new();
    S.get_or_init(|| start_all(servers::mariadb_tls))
}

/// Where a client runs: the host (Debian 12) or the Debian 13 root.
#[derive(Clone)]
struct Side {
    label: &'static str,
    /// None: the host.
    root: Option<PathBuf>,
}

impl Side {
    /// The fixture directory as this side's programs see it.
    fn base(&self, files: &Files) -> String {
        match self.root {
            None => files.dir.display().to_string(),
            Some(_) => "/mnt".into(),
        }
    }

    /// Run `argv` with exactly `env` (plus PATH and LC_ALL=C): on the host, or chrooted
    /// into the root with the fixture directory bound at /mnt in a private mount namespace
    /// (the root itself is never written to).
    fn run(&self, files: &Files, env: &[(String, String)], argv: &[String]) -> std::process::Output {
        match &self.root {
            None => {
                let mut c = clean(&argv[0]);
                c.args(&argv[1..]);
                for (k, v) in env {
                    c.env(k, v);
                }
                c.output().expect("run client")
            }
            Some(root) => {
                let mut c = Command::new("unshare");
                c.env_clear()
                    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                    .args([
                        "-m",
                        "--propagation",
                        "private",
                        "sh",
                        "-c",
                        "mount --bind \"$1\" \"$2/mnt\" && root=\"$2\" && shift 2 && exec chroot \"$root\" /usr/bin/env -i \"$@\"",
                        "sh",
                    ])
                    .arg(&files.dir)
                    .arg(root)
                    .arg("PATH=/usr/bin:/bin")
                    .arg("LC_ALL=C");
                for (k, v) in env {
                    c.arg(format!("{k}={v}"));
                }
                c.args(argv);
                c.output().expect("unshare chroot")
            }
        }
    }

    /// tlsdoctor's verdict for `runtime` on `target`, in this side's World: the same root
    /// (the fixture directory bound at /mnt the same way) and the same variables.
    /// `extra`: further arguments (`--exe` as this side sees the program, `--ca` as a
    /// host path).
    fn predict(
        &self,
        files: &Files,
        env: &[(String, String)],
        target: &str,
        runtime: &str,
        extra: &[String],
    ) -> Document {
        let bin = env!("CARGO_BIN_EXE_tlsdoctor");
        let mut args: Vec<String> = vec![
            "--json".into(),
            "--root".into(),
            self.root
                .as_ref()
                .map(|r| r.display().to_string())
                .unwrap_or_else(|| "/".into()),
        ];
        for (k, v) in env {
            args.push("--env".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(
            [
                "connect",
                target,
                "--runtime",
                runtime,
                "--timeout",
                "10s",
                "--no-fetch",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().cloned());
        let out = match &self.root {
            None => clean(bin).args(&args).output().expect("tlsdoctor"),
            Some(root) => Command::new("unshare")
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .args([
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    "mount --bind \"$1\" \"$2/mnt\" && shift 2 && exec \"$@\"",
                    "sh",
                ])
                .arg(&files.dir)
                .arg(root)
                .arg(bin)
                .args(&args)
                .output()
                .expect("tlsdoctor in namespace"),
        };
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "tlsdoctor {args:?}: not a document ({e}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

/// What the real client did.
#[derive(Debug, PartialEq)]
enum Real {
    Connected,
    Failed(String),
}

fn real(out: &std::process::Output) -> Real {
    if out.status.success() {
        Real::Connected
    } else {
        Real::Failed(String::from_utf8_lossy(&out.stderr).trim_end().to_string())
    }
}

/// Go's expiry message names the current time (`current time 2026-…Z is after …`): the
/// real program and tlsdoctor read the clock a moment apart, so that one field is not
/// compared.
fn unclocked(s: &str) -> String {
    match s.find("current time ") {
        Some(i) => {
            let rest = &s[i + "current time ".len()..];
            let end = rest.find(' ').unwrap_or(rest.len());
            format!("{}current time <now>{}", &s[..i], &rest[end..])
        }
        None => s.to_string(),
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    /// Cases where the real client refused to connect.
    refused: usize,
    verdicts: usize,
    messages: usize,
    /// (case, what differs)
    misses: Vec<(String, String)>,
    verdict_misses: Vec<String>,
}

impl Tally {
    /// Compare one case. `expected_text` maps tlsdoctor's message to the line the real
    /// program prints (its own prefix around the library's words).
    fn compare(&mut self, case: String, real: Real, doc: &Document, expected_text: impl Fn(&str) -> String) {
        self.cases += 1;
        if real != Real::Connected {
            self.refused += 1;
        }
        let Some(v) = doc.verdicts.first() else {
            self.verdict_misses.push(format!(
                "{case}: no verdict (error: {:?})",
                doc.error.as_ref().map(|e| &e.message)
            ));
            return;
        };
        match (&real, v.trusted) {
            (Real::Connected, true) => {
                self.verdicts += 1;
                self.messages += 1;
            }
            (Real::Failed(text), false) => {
                self.verdicts += 1;
                let want = expected_text(&v.message);
                if unclocked(text) == unclocked(&want) {
                    self.messages += 1;
                } else {
                    self.misses
                        .push((case, format!("real {text:?}\n      ours {want:?}")));
                }
            }
            _ => self.verdict_misses.push(format!(
                "{case}: real {real:?}, tlsdoctor trusted={} {:?}",
                v.trusted, v.message
            )),
        }
    }

    fn report(&self, what: &str) {
        eprintln!(
            "{what}: {} cases ({} refused by the real client), verdicts {}/{}, exact messages {}/{}",
            self.cases, self.refused, self.verdicts, self.cases, self.messages, self.cases
        );
        for (c, d) in &self.misses {
            eprintln!("  message differs: {c}\n      {d}");
        }
        assert!(
            self.verdict_misses.is_empty(),
            "{what}: verdicts differ:\n{}",
            self.verdict_misses.join("\n")
        );
        assert!(
            self.refused > 0 && self.refused < self.cases,
            "{what}: the cases must include connections that work and ones that fail"
        );
        assert!(
            self.messages * 100 >= self.cases * 98,
            "{what}: exact messages {}/{} (< 98 %)",
            self.messages,
            self.cases
        );
    }
}

fn sides() -> Vec<Side> {
    let mut v = vec![Side {
        label: "debian12",
        root: None,
    }];
    match trixie_root() {
        Some(r) => v.push(Side {
            label: "debian13",
            root: Some(r),
        }),
        None => {
            assert!(
                !ci(),
                "CI=true: the Debian 13 root (TLSDOCTOR_TRIXIE_ROOT or .cache/trixie-root) with psql is required"
            );
            eprintln!("!!! SKIPPED the Debian 13 clients: no Debian 13 root !!!");
        }
    }
    v
}

/// The trust setups: (label, the CA file under the fixture directory or a keyword, the
/// "system" bundle for OpenSSL's default paths).
const TRUSTS: &[(&str, Option<&str>, &str)] = &[
    ("right-root", Some("root.pem"), "unrelated.pem"),
    ("other-root", Some("other.pem"), "unrelated.pem"),
    ("none", None, "unrelated.pem"),
    ("system-has-root", Some("system"), "root.pem"),
];

fn env_for(base: &str, system: &str) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), format!("{base}/home")),
        ("SSL_CERT_FILE".into(), format!("{base}/{system}")),
        ("SSL_CERT_DIR".into(), format!("{base}/nodir")),
    ]
}

#[test]
fn libpq_psql_15_and_17_agree_with_tlsdoctor() {
    if servers::need("psql").is_none() {
        return;
    }
    let files = &fx().files;
    let servers = pg_servers();
    let mut tally = Tally::default();
    for side in sides() {
        let base = side.base(files);
        for (fname, server) in servers {
            let Some(server) = server else { return };
            for (tname, ca, system) in TRUSTS {
                for mode in ["require", "verify-ca", "verify-full", "prefer"] {
                    // prefer with a root file retries without TLS after a failure: not a
                    // TLS verdict.
                    if mode == "prefer" && ca.is_some() {
                        continue;
                    }
                    let root = ca.map(|c| {
                        if c == "system" {
                            c.to_string()
                        } else {
                            format!("{base}/{c}")
                        }
                    });
                    let env = env_for(&base, system);
                    let mut conninfo = format!(
                        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=10 sslmode={mode}",
                        server.port
                    );
                    let mut url = format!("postgres://127.0.0.1:{}/postgres?sslmode={mode}", server.port);
                    if let Some(r) = &root {
                        conninfo.push_str(&format!(" sslrootcert={r}"));
                        url.push_str(&format!("&sslrootcert={r}"));
                    }
                    let out = side.run(
                        files,
                        &env,
                        &[
                            "psql".into(),
                            "-X".into(),
                            "-A".into(),
                            "-t".into(),
                            "-c".into(),
                            "select 1".into(),
                            conninfo.clone(),
                        ],
                    );
                    let doc = side.predict(files, &env, &url, "libpq", &[]);
                    let port = server.port;
                    tally.compare(
                        format!("{} psql {fname} {tname} sslmode={mode}", side.label),
                        real(&out),
                        &doc,
                        |m| {
                            if m.starts_with("weak sslmode") || m.starts_with("invalid sslmode") {
                                format!("psql: error: {m}")
                            } else {
                                format!("psql: error: connection to server at \"127.0.0.1\", port {port} failed: {m}")
                            }
                        },
                    );
                }
            }
        }
    }
    tally.report("libpq (psql 15, psql 17)");
}

#[test]
fn mariadb_clients_10_11_and_11_8_agree_with_tlsdoctor() {
    if servers::need("mariadb").is_none() {
        return;
    }
    let files = &fx().files;
    let servers = my_servers();
    let mut tally = Tally::default();
    for side in sides() {
        let base = side.base(files);
        for (fname, server) in servers {
            let Some(server) = server else { return };
            for (tname, ca, system) in TRUSTS {
                if *ca == Some("system") {
                    continue;
                }
                for verify in [None, Some(true), Some(false)] {
                    let env = env_for(&base, system);
                    let mut argv: Vec<String> = vec![
                        "mariadb".into(),
                        "--no-defaults".into(),
                        "-h127.0.0.1".into(),
                        format!("-P{}", server.port),
                        "-uroot".into(),
                        "--connect-timeout=10".into(),
                    ];
                    let mut url = format!("mysql://127.0.0.1:{}/?x=1", server.port);
                    if let Some(c) = ca {
                        argv.push(format!("--ssl-ca={base}/{c}"));
                        url.push_str(&format!("&ssl-ca={base}/{c}"));
                    }
                    match verify {
                        Some(true) => {
                            argv.push("--ssl-verify-server-cert".into());
                            url.push_str("&ssl-verify-server-cert=1");
                        }
                        Some(false) => {
                            argv.push("--disable-ssl-verify-server-cert".into());
                            url.push_str("&ssl-verify-server-cert=0");
                        }
                        None => {}
                    }
                    argv.extend(["-e".into(), "select 1".into()]);
                    let out = side.run(files, &env, &argv);
                    let doc = side.predict(files, &env, &url, "mysql-client", &[]);
                    tally.compare(
                        format!("{} mariadb {fname} {tname} verify={verify:?}", side.label),
                        real(&out),
                        &doc,
                        |m| m.to_string(),
                    );
                }
            }
        }
    }
    tally.report("MariaDB client (10.11, 11.8)");
}

/// A Go program on the distribution's driver packages: `pgx DSN` or `mysql DSN [CAFILE]`
/// (with a CA file: a `tls.Config` with it as RootCAs, registered as `custom`); prints OK
/// or the error. The same source builds on both sides (pgx v4 4.15 / go-sql-driver 1.5 on
/// Debian 12, 4.18 / 1.9 on Debian 13).
const GO_PROGRAM: &str = r#"package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v4"
)

func fail(err error) {
	fmt.Println(err)
	os.Exit(1)
}

func main() {
	switch os.Args[1] {
	case "pgx":
		c, err := pgx.Connect(context.Background(), os.Args[2])
		if err != nil {
			fail(err)
		}
		c.Close(context.Background())
	case "mysql":
		if len(os.Args) > 3 {
			pool := x509.NewCertPool()
			pem, err := os.ReadFile(os.Args[3])
			if err != nil {
				fail(err)
			}
			pool.AppendCertsFromPEM(pem)
			if err := mysql.RegisterTLSConfig("custom", &tls.Config{RootCAs: pool}); err != nil {
				fail(err)
			}
		}
		db, err := sql.Open("mysql", os.Args[2])
		if err != nil {
			fail(err)
		}
		if err := db.Ping(); err != nil {
			fail(err)
		}
	}
	fmt.Println("OK")
}
"#;

/// The Debian packages the program is built from (the same names in Debian 12 and 13).
const GO_DRIVERS: &[&str] = &["jackc/pgx/v4", "go-sql-driver/mysql"];

/// The program built by this side's Go (Debian 12: 1.19 on the host; Debian 13: 1.24 in
/// its root) in GOPATH mode on the side's `/usr/share/gocode`, once per side: its path as
/// the side sees it (None: a loud skip, a failure under CI=true, when Go or the driver
/// packages are missing there).
fn go_program(side: &Side) -> Option<String> {
    /// (side, its program) for the sides built so far.
    type Built = Vec<(&'static str, Option<String>)>;
    static BUILT: std::sync::Mutex<Built> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(l, _)| *l == side.label) {
        return p.clone();
    }
    let p = build_go_program(side);
    built.push((side.label, p.clone()));
    p
}

fn build_go_program(side: &Side) -> Option<String> {
    let files = &fx().files;
    let sysroot = side.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let gocode = sysroot.join("usr/share/gocode/src/github.com");
    // Debian 13's Go is found by its GOROOT (the `go` on PATH is a symlink into it).
    let goroot = side.root.as_deref().and_then(newest_goroot);
    let have_go = match &side.root {
        None => servers::need("go").is_some(),
        Some(_) => goroot.is_some(),
    };
    let have = have_go && GO_DRIVERS.iter().all(|d| gocode.join(d).is_dir());
    if !have {
        assert!(
            !ci(),
            "CI=true: {}: go and golang-github-jackc-pgx-v4-dev / golang-github-go-sql-driver-mysql-dev are required (.ci/run installs them)",
            side.label
        );
        eprintln!(
            "!!! SKIPPED ({}): Go or the driver packages are missing !!!",
            side.label
        );
        return None;
    }
    let work = format!("go-{}", side.label);
    let src = files.dir.join(&work).join("src/dbprobe");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("main.go"), GO_PROGRAM).unwrap();
    let w = format!("{}/{work}", side.base(files));
    let mut env: Vec<(String, String)> = vec![
        ("GO111MODULE".into(), "off".into()),
        ("GOPATH".into(), format!("{w}:/usr/share/gocode")),
        ("GOCACHE".into(), format!("{w}/cache")),
        ("HOME".into(), w.clone()),
        ("GOTOOLCHAIN".into(), "local".into()),
        ("GOTELEMETRY".into(), "off".into()),
        ("CGO_ENABLED".into(), "0".into()),
    ];
    if let Some(g) = &goroot {
        env.push(("GOROOT".into(), format!("/usr/lib/{g}")));
    }
    let bin = format!("{w}/dbprobe");
    let out = side.run(
        files,
        &env,
        &[
            "sh".into(),
            "-c".into(),
            "cd \"$1\" && exec go build -o \"$2\" .".into(),
            "sh".into(),
            format!("{w}/src/dbprobe"),
            bin.clone(),
        ],
    );
    assert!(
        out.status.success(),
        "{}: go build: {}{}",
        side.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

/// The newest `/usr/lib/go-1.N` of a root (its directory name).
fn newest_goroot(root: &Path) -> Option<String> {
    std::fs::read_dir(root.join("usr/lib"))
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.starts_with("go-1."))
        .max_by_key(|n| n.trim_start_matches("go-1.").parse::<u32>().unwrap_or(0))
}

/// The Go toolchain and driver packages the side's program was built with (for the
/// report): Go's `VERSION` file, the packages' versions from the dpkg database.
fn go_version(side: &Side) -> String {
    let root = side.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let go = newest_goroot(&root)
        .and_then(|g| std::fs::read_to_string(root.join("usr/lib").join(g).join("VERSION")).ok())
        .and_then(|v| v.lines().next().map(String::from))
        .unwrap_or_else(|| "go?".into());
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap_or_default();
    let version = |pkg: &str| {
        status
            .split("\n\n")
            .find(|p| p.lines().any(|l| l == format!("Package: {pkg}")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("Version: ")))
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{go}, pgx {}, go-sql-driver/mysql {}",
        version("golang-github-jackc-pgx-v4-dev"),
        version("golang-github-go-sql-driver-mysql-dev")
    )
}

/// The Go program's outcome: it prints OK or the driver's error on standard output.
fn go_outcome(out: &std::process::Output) -> Real {
    if out.status.success() {
        Real::Connected
    } else {
        Real::Failed(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }
}

#[test]
fn go_driver_pgx_agrees_with_tlsdoctor() {
    let files = &fx().files;
    let pg = pg_servers();
    for side in sides() {
        let Some(prog) = go_program(&side) else {
            continue;
        };
        let mut tally = Tally::default();
        let base = side.base(files);
        for (fname, server) in pg {
            let Some(server) = server else { return };
            for (tname, ca, system) in TRUSTS {
                if *ca == Some("system") {
                    continue;
                }
                for mode in ["require", "verify-ca", "verify-full"] {
                    let env = env_for(&base, system);
                    let mut url = format!(
                        "postgres://postgres@127.0.0.1:{}/postgres?sslmode={mode}",
                        server.port
                    );
                    if let Some(c) = ca {
                        url.push_str(&format!("&sslrootcert={base}/{c}"));
                    }
                    let out = side.run(
                        files,
                        &env,
                        &[prog.clone(), "pgx".into(), format!("{url}&connect_timeout=10")],
                    );
                    let doc = side.predict(files, &env, &url, "pgx", &["--exe".into(), prog.clone()]);
                    tally.compare(
                        format!("{} pgx {fname} {tname} sslmode={mode}", side.label),
                        go_outcome(&out),
                        &doc,
                        |m| {
                            format!(
                                "failed to connect to `host=127.0.0.1 user=postgres database=postgres`: {m}"
                            )
                        },
                    );
                }
            }
        }
        tally.report(&format!("pgx v4 ({}, {})", side.label, go_version(&side)));
    }
}

/// go-sql-driver/mysql with every `tls=` setting against the MariaDB servers: a CA file is
/// a registered `tls.Config` (`tls=custom`; tlsdoctor: `--ca`); otherwise `tls=true` (Go's
/// system pool: `SSL_CERT_FILE`), `skip-verify`, `preferred` and `false`.
#[test]
fn go_driver_mysql_agrees_with_tlsdoctor() {
    let files = &fx().files;
    let my = my_servers();
    for side in sides() {
        let Some(prog) = go_program(&side) else {
            continue;
        };
        let mut tally = Tally::default();
        let base = side.base(files);
        for (fname, server) in my {
            let Some(server) = server else { return };
            for (tname, ca, system) in TRUSTS {
                let file = ca.filter(|c| *c != "system");
                let modes: &[&str] = match (file, *ca) {
                    (Some(_), _) => &["custom"],
                    (None, Some(_)) => &["true"],
                    (None, None) => &["true", "skip-verify", "preferred", "false"],
                };
                for mode in modes {
                    let env = env_for(&base, system);
                    let dsn = format!("root@tcp(127.0.0.1:{})/?tls={mode}&timeout=10s", server.port);
                    let mut argv = vec![prog.clone(), "mysql".into(), dsn];
                    let mut extra = vec!["--exe".to_string(), prog.clone()];
                    if let Some(c) = file {
                        argv.push(format!("{base}/{c}"));
                        extra.push("--ca".into());
                        extra.push(files.dir.join(c).display().to_string());
                    }
                    let out = side.run(files, &env, &argv);
                    let url = format!("mysql://127.0.0.1:{}/?tls={mode}", server.port);
                    let doc = side.predict(files, &env, &url, "go-mysql", &extra);
                    tally.compare(
                        format!("{} go-mysql {fname} {tname} tls={mode}", side.label),
                        go_outcome(&out),
                        &doc,
                        |m| m.to_string(),
                    );
                }
            }
        }
        tally.report(&format!(
            "go-sql-driver/mysql ({}, {})",
            side.label,
            go_version(&side)
        ));
        no_tls_server_cases(&side, &prog);
    }
}

/// A MariaDB server without TLS (started once): the driver's outcome for every `tls=`
/// must be what tlsdoctor's conclusions about that server say (`go_sql_driver_mysql`).
fn no_tls_server_cases(side: &Side, prog: &str) {
    static PLAIN: OnceLock<Option<Server>> = OnceLock::new();
    let Some(server) = PLAIN.get_or_init(|| servers::mariadb_plain("no-tls")) else {
        return;
    };
    let files = &fx().files;
    let base = side.base(files);
    let env = env_for(&base, "unrelated.pem");
    let url = format!("mysql://127.0.0.1:{}/", server.port);
    let doc = side.predict(files, &env, &url, "go-mysql", &[]);
    let facts = doc
        .server
        .as_ref()
        .and_then(|s| s.get("go_sql_driver_mysql"))
        .unwrap_or_else(|| {
            panic!(
                "{}: no go_sql_driver_mysql conclusions: {:?}",
                side.label, doc.server
            )
        })
        .clone();
    let modes = ["true", "skip-verify", "preferred", "false", "custom"];
    for mode in modes {
        let dsn = format!("root@tcp(127.0.0.1:{})/?tls={mode}&timeout=10s", server.port);
        let mut argv = vec![prog.to_string(), "mysql".into(), dsn];
        let key = if mode == "custom" {
            argv.push(format!("{base}/root.pem"));
            "tls=<a registered config>".to_string()
        } else {
            format!("tls={mode}")
        };
        let real = go_outcome(&side.run(files, &env, &argv));
        let said = facts[&key].as_str().unwrap_or_default().to_string();
        let want = match &real {
            Real::Connected => "connects without TLS".to_string(),
            Real::Failed(m) => format!("fails: {m}"),
        };
        assert_eq!(said, want, "{}: no-TLS server, tls={mode}", side.label);
    }
    eprintln!(
        "go-sql-driver/mysql ({}): a server without TLS: {n}/{n} tls= settings as predicted",
        side.label,
        n = modes.len()
    );
}

/// Which runtimes judge a database target by default, and how a Go driver is found: a
/// program linking go-sql-driver/mysql (module mode, the driver from Debian's source by a
/// `replace`) has it in its build info, so `--exe` on it makes go-mysql present; a program
/// without it leaves go-mysql absent.
#[test]
fn database_targets_are_judged_by_their_clients_and_go_drivers_found_in_build_info() {
    let driver = Path::new("/usr/share/gocode/src/github.com/go-sql-driver/mysql");
    if !driver.is_dir() {
        assert!(
            !ci(),
            "CI=true: golang-github-go-sql-driver-mysql-dev is required"
        );
        eprintln!("!!! SKIPPED: Debian's go-sql-driver/mysql source is missing !!!");
        return;
    }
    let with = store_common::build_go_mod(
        "withmysql",
        "package main\n\nimport (\n\t\"fmt\"\n\n\t_ \"github.com/go-sql-driver/mysql\"\n)\n\nfunc main() { fmt.Println(\"ok\") }\n",
        &format!(
            "\nrequire github.com/go-sql-driver/mysql v1.5.0\n\nreplace github.com/go-sql-driver/mysql => {}\n",
            driver.display()
        ),
    );
    let without = store_common::build_go_mod(
        "withoutmysql",
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ok\") }\n",
        "",
    );
    let (Some(with), Some(without)) = (with, without) else {
        assert!(!ci(), "CI=true: go is required");
        return;
    };
    let absent = |exe: &Path| {
        let r = servers::tlsdoctor(
            &[
                "--exe",
                &exe.display().to_string(),
                "store",
                "--json",
                "--runtime",
                "go-mysql",
            ],
            &[],
        );
        let doc: tlsdoctor::report::store::StoreDoc =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
        assert_eq!(doc.runtimes.len(), 1);
        doc.runtimes[0].absent
    };
    assert!(
        !absent(&with),
        "go-mysql not found in the build info of a program linking the driver"
    );
    assert!(
        absent(&without),
        "go-mysql found in a program that does not link the driver"
    );

    let judges = |url: &str| -> Vec<String> {
        let r = servers::tlsdoctor(&["--json", "connect", url, "--timeout", "10s", "--no-fetch"], &[]);
        r.doc().verdicts.iter().map(|v| v.runtime.clone()).collect()
    };
    let good = |servers: &'static Servers| {
        servers
            .iter()
            .find(|(n, _)| *n == "good")
            .and_then(|(_, s)| s.as_ref())
            .map(|s| s.port)
    };
    if let Some(port) = good(my_servers()) {
        assert_eq!(
            judges(&format!("mysql://127.0.0.1:{port}/")),
            ["go", "openssl", "mysql-client", "go-mysql"]
        );
    }
    if let Some(port) = good(pg_servers()) {
        assert_eq!(
            judges(&format!("postgres://127.0.0.1:{port}/postgres")),
            ["go", "openssl", "libpq", "pgx"]
        );
    }
}
