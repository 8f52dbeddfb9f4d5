//! Detection against real toolchains and processes: Go programs built by BOTH toolchains
//! (this machine's Go and the Debian 13 root's Go 1.24) with different go.mod `go` lines,
//! `godebug` blocks and `//go:debug` directives, and one linking
//! golang.org/x/crypto/x509roots/fallback (Debian's golang-golang-x-crypto-dev, vendored
//! from the Debian 13 root: no network). tlsdoctor must read each one exactly as
//! `go version -m` prints it (both toolchains' `go version -m`), and must resolve a
//! fallback-linked program's store as the real program does in the same fixture roots.
//! Processes (`--pid`): a real program's /proc/N/exe, and the libssl mapped into a real
//! `openssl` of each distribution, against `openssl version`.
//!
//! With CI=true a missing toolchain or Debian 13 root fails; otherwise it skips loudly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tlsdoctor::detect::{self, gobuildinfo, Kind, Source, Version};
use tlsdoctor::world::World;

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn missing(what: &str) {
    if ci() {
        panic!("CI=true and {what} is missing (.ci/run installs it)");
    }
    eprintln!("\n!!! SKIPPED: {what} is missing; this test did not run !!!\n");
}

/// The Debian 13 root (`TLSDOCTOR_TRIXIE_ROOT`, default the repo's `.cache/trixie-root`).
fn trixie_root() -> Option<PathBuf> {
    let p = std::env::var_os("TLSDOCTOR_TRIXIE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/trixie-root"));
    if p.join("etc/debian_version").exists() {
        Some(p)
    } else {
        missing(&format!("the Debian 13 root ({})", p.display()));
        None
    }
}

/// Its newest Go: (GOROOT on this machine, the go binary). The toolchain is static, so it
/// runs here with GOROOT set (and writes nothing into the root: caches are ours).
fn trixie_go(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut gos: Vec<PathBuf> = std::fs::read_dir(root.join("usr/lib"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("go-1."))
                && p.join("bin/go").exists()
        })
        .collect();
    gos.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.trim_start_matches("go-1.").parse::<u32>().ok())
    });
    let goroot = gos.pop();
    if goroot.is_none() {
        missing("golang-go in the Debian 13 root");
    }
    let goroot = goroot?;
    let go = goroot.join("bin/go");
    Some((goroot, go))
}

/// coreutils' chroot (children get a cleared environment, so no PATH lookup).
fn chroot() -> &'static str {
    ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils) is part of every Debian system")
}

fn host_go() -> Option<PathBuf> {
    for d in [
        "/usr/local/go/bin",
        "/usr/lib/go/bin",
        "/usr/bin",
        "/usr/local/bin",
    ] {
        let p = Path::new(d).join("go");
        if p.exists() {
            return Some(p);
        }
    }
    missing("go (golang-go)");
    None
}

struct Toolchain {
    name: &'static str,
    go: PathBuf,
    goroot: Option<PathBuf>,
}

impl Toolchain {
    fn cmd(&self, tmp: &Path) -> Command {
        let mut c = Command::new(&self.go);
        c.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", tmp.join("home"))
            .env("GOCACHE", tmp.join(format!("cache-{}", self.name)))
            .env("GOPATH", tmp.join("gopath"))
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null());
        if let Some(r) = &self.goroot {
            c.env("GOROOT", r);
        }
        c
    }

    /// `go version -m FILE`, as printed.
    fn version_m(&self, tmp: &Path, file: &Path) -> String {
        let o = self.cmd(tmp).args(["version", "-m"]).arg(file).output().unwrap();
        assert!(
            o.status.success(),
            "{}: go version -m: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

/// One program: which toolchain, its go.mod `go` line and `godebug` block, its
/// `//go:debug` directives, the fallback import, extra build flags.
struct Prog {
    name: &'static str,
    tool: usize,
    go_line: &'static str,
    godebug_block: &'static [&'static str],
    directives: &'static [&'static str],
    fallback: bool,
    flags: &'static [&'static str],
}

const PROGS: &[Prog] = &[
    Prog {
        name: "host-go119",
        tool: 0,
        go_line: "1.19",
        godebug_block: &[],
        directives: &[],
        fallback: false,
        flags: &[],
    },
    Prog {
        name: "host-go117-directive",
        tool: 0,
        go_line: "1.17",
        godebug_block: &[],
        directives: &["x509negativeserial=1"],
        fallback: false,
        flags: &["-trimpath"],
    },
    Prog {
        name: "t24-go119",
        tool: 1,
        go_line: "1.19",
        godebug_block: &[],
        directives: &[],
        fallback: false,
        flags: &[],
    },
    Prog {
        name: "t24-go124",
        tool: 1,
        go_line: "1.24",
        godebug_block: &[],
        directives: &[],
        fallback: false,
        flags: &[],
    },
    Prog {
        name: "t24-go122",
        tool: 1,
        go_line: "1.22",
        godebug_block: &[],
        directives: &[],
        fallback: false,
        flags: &[],
    },
    Prog {
        name: "t24-directives",
        tool: 1,
        go_line: "1.24",
        godebug_block: &["rsa1024min=0"],
        directives: &["x509negativeserial=1"],
        fallback: false,
        flags: &[],
    },
    Prog {
        name: "t24-fallback",
        tool: 1,
        go_line: "1.24",
        godebug_block: &[],
        directives: &[],
        fallback: true,
        flags: &["-ldflags=-s -w", "-trimpath"],
    },
    Prog {
        name: "t24-fallback-forced",
        tool: 1,
        go_line: "1.23",
        godebug_block: &[],
        directives: &["x509usefallbackroots=1"],
        fallback: true,
        flags: &[],
    },
];

struct Built {
    tmp: PathBuf,
    tools: Vec<Toolchain>,
    bins: Vec<PathBuf>,
    /// The fallback bundle's certificates as Debian ships the package (SHA-256).
    bundle: BTreeSet<String>,
}

const MAIN: &str = r#"
import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
IMPORTS)

func main() {
	// dial CAFILE ADDR NAME: a crypto/tls client trusting CAFILE (what tlsdoctor's --ca
	// models), printing the handshake's error as the program would log it.
	if len(os.Args) == 5 && os.Args[1] == "dial" {
		roots := x509.NewCertPool()
		pem, _ := os.ReadFile(os.Args[2])
		roots.AppendCertsFromPEM(pem)
		c, err := tls.Dial("tcp", os.Args[3], &tls.Config{RootCAs: roots, ServerName: os.Args[4]})
		if err != nil {
			fmt.Println(err.Error())
			return
		}
		c.Close()
		fmt.Println("OK")
		return
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	//lint:ignore SA1019 Subjects counts the pool across Go versions
	fmt.Println(len(pool.Subjects()))
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		io.Copy(io.Discard, os.Stdin)
	}
}
"#;

/// Build every program once per test binary.
fn built() -> Option<&'static Built> {
    static B: OnceLock<Option<Built>> = OnceLock::new();
    B.get_or_init(|| {
        let host = host_go()?;
        let root = trixie_root()?;
        let (goroot, go24) = trixie_go(&root)?;
        let fb_src = root.join("usr/share/gocode/src/golang.org/x/crypto/x509roots/fallback");
        if !fb_src.join("fallback.go").exists() {
            missing("golang-golang-x-crypto-dev in the Debian 13 root");
            return None;
        }
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("detect-go");
        // Sources and programs are made anew; the build caches are kept between runs.
        let _ = std::fs::remove_dir_all(tmp.join("src"));
        let _ = std::fs::remove_dir_all(tmp.join("bin"));
        std::fs::create_dir_all(tmp.join("home")).unwrap();
        let tools = vec![
            Toolchain { name: "host", go: host, goroot: None },
            Toolchain { name: "trixie", go: go24, goroot: Some(goroot) },
        ];
        // x/crypto's version, from the Debian 13 package database.
        let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
        let xver = status
            .split("\n\n")
            .find(|p| p.lines().any(|l| l == "Package: golang-golang-x-crypto-dev"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("Version: ")))
            .map(|v| {
                let v = v.split_once(':').map(|x| x.1).unwrap_or(v);
                format!("v{}", v.split('-').next().unwrap())
            })
            .expect("golang-golang-x-crypto-dev version");
        let mut bins = vec![];
        for p in PROGS {
            let src = tmp.join("src").join(p.name);
            std::fs::create_dir_all(&src).unwrap();
            let mut gomod = format!("module example.com/{}\n\ngo {}\n", p.name, p.go_line);
            if !p.godebug_block.is_empty() {
                gomod.push_str(&format!("\ngodebug (\n\t{}\n)\n", p.godebug_block.join("\n\t")));
            }
            let mut main = String::new();
            for d in p.directives {
                main.push_str(&format!("//go:debug {d}\n"));
            }
            main.push_str("\npackage main\n");
            let imports = if p.fallback {
                "\t_ \"golang.org/x/crypto/x509roots/fallback\"\n"
            } else {
                ""
            };
            main.push_str(&MAIN.replace("IMPORTS", imports));
            if p.fallback {
                gomod.push_str(&format!("\nrequire golang.org/x/crypto {xver}\n"));
                let v = src.join("vendor/golang.org/x/crypto/x509roots/fallback");
                std::fs::create_dir_all(&v).unwrap();
                for f in ["fallback.go", "bundle.go"] {
                    std::fs::copy(fb_src.join(f), v.join(f)).unwrap();
                }
                std::fs::write(
                    src.join("vendor/modules.txt"),
                    format!("# golang.org/x/crypto {xver}\n## explicit; go 1.20\ngolang.org/x/crypto/x509roots/fallback\n"),
                )
                .unwrap();
            }
            std::fs::write(src.join("go.mod"), gomod).unwrap();
            std::fs::write(src.join("main.go"), main).unwrap();
            let out = tmp.join("bin").join(p.name);
            let mut c = tools[p.tool].cmd(&tmp);
            c.current_dir(&src).arg("build");
            if p.fallback {
                c.arg("-mod=vendor");
            }
            c.args(p.flags).arg("-o").arg(&out).arg(".");
            let o = c.output().unwrap();
            assert!(
                o.status.success(),
                "{}: go build: {}",
                p.name,
                String::from_utf8_lossy(&o.stderr)
            );
            bins.push(out);
        }
        // The bundle as shipped, for the anchor comparison.
        let text = std::fs::read(fb_src.join("bundle.go")).unwrap();
        let bundle = detect::embedded_certificates(&text)
            .iter()
            .map(|d| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(d)))
            .collect();
        Some(Built { tmp, tools, bins, bundle })
    })
    .as_ref()
}

#[test]
fn build_info_reads_exactly_like_go_version_m() {
    let Some(b) = built() else { return };
    let mut compared = 0;
    for (p, bin) in PROGS.iter().zip(&b.bins) {
        let data = std::fs::read(bin).unwrap();
        let info = gobuildinfo::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        let ours = info.go_version_m(bin.to_str().unwrap());
        for t in &b.tools {
            let real = t.version_m(&b.tmp, bin);
            assert_eq!(ours, real, "{} read by {}'s go version -m", p.name, t.name);
            compared += 1;
        }
        // The facts detection draws from it, against the real text.
        let real = b.tools[1].version_m(&b.tmp, bin);
        let real_godebug = real
            .lines()
            .find_map(|l| l.trim().strip_prefix("build\tDefaultGODEBUG="))
            .unwrap_or("");
        let d = detect::go_from_bytes(&data, Source::Exe(bin.clone())).unwrap();
        let g = d.go().unwrap();
        let ours_godebug: Vec<String> = g
            .default_godebug
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(ours_godebug.join(","), real_godebug, "{}", p.name);
        let first = real.lines().next().unwrap();
        assert_eq!(format!("{}: {}", bin.display(), d.text), first);
        assert_eq!(d.version, Version::parse(first.rsplit(' ').next().unwrap()));
        assert_eq!(g.fallback.is_some(), p.fallback, "{}", p.name);
        // What each program's go line and directives do, as the toolchain recorded it.
        let has = |kv: &str| ours_godebug.iter().any(|x| x == kv);
        match p.name {
            "host-go119" | "host-go117-directive" => {
                // Go 1.19 records no DefaultGODEBUG (and ignores //go:debug).
                assert!(ours_godebug.is_empty());
                assert_eq!(d.version.map(|v| (v.major, v.minor)), Some((1, 19)));
            }
            "t24-go119" => {
                assert!(has("x509negativeserial=1") && has("rsa1024min=0") && has("x509usepolicies=0"))
            }
            "t24-go122" => {
                assert!(has("x509negativeserial=1") && has("rsa1024min=0") && !has("tls10server=1"))
            }
            "t24-go124" | "t24-fallback" => assert!(ours_godebug.is_empty()),
            "t24-directives" => assert_eq!(ours_godebug, ["rsa1024min=0", "x509negativeserial=1"]),
            "t24-fallback-forced" => assert!(has("x509usefallbackroots=1") && has("rsa1024min=0")),
            other => panic!("unexpected program {other}"),
        }
        if p.fallback {
            let fb = g.fallback.as_ref().unwrap();
            let ours: BTreeSet<String> = fb
                .certs
                .iter()
                .map(|d| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(d)))
                .collect();
            assert_eq!(
                ours, b.bundle,
                "{}: the embedded roots are the package's bundle",
                p.name
            );
            assert!(fb.module_version.starts_with("v0."));
        }
    }
    eprintln!("go version -m agreement: {compared}/{compared} (programs × toolchains)");
    assert_eq!(compared, PROGS.len() * 2);
}

fn bin_of(name: &str) -> (&'static Built, &'static Path) {
    let b = built().unwrap();
    let i = PROGS.iter().position(|p| p.name == name).unwrap();
    (b, b.bins[i].as_path())
}

/// What the real program says in `root` (chrooted, cleared environment): its pool size.
fn real_count(root: &Path, env: &[(&str, &str)]) -> String {
    let mut c = Command::new(chroot());
    c.env_clear().arg(root).arg("/prog").stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("chroot");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// tlsdoctor's Go store for that root and program: (anchor count, sources).
fn our_store(root: &Path, env: &[(&str, &str)]) -> (usize, Vec<String>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"));
    c.env_clear().arg("--root").arg(root).args(["--exe", "/prog"]);
    for (k, v) in env {
        c.arg("--env").arg(format!("{k}={v}"));
    }
    let o = c.args(["store", "--runtime", "go", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let rt = &doc["runtimes"][0];
    let sources = rt["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "loaded")
        .map(|s| s["source"].as_str().unwrap().to_string())
        .collect();
    (rt["anchors"].as_u64().unwrap() as usize, sources)
}

fn pem_ca(cn: &str) -> String {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
}

#[test]
fn fallback_roots_are_trusted_as_the_real_program_trusts_them() {
    let Some(_) = built() else { return };
    let bundle = format!("{}{}", pem_ca("Detect A"), pem_ca("Detect B"));
    let mut agree = 0;
    /// (program, the root has a bundle, environment, what the store must be made of)
    type Case<'a> = (&'a str, bool, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        // (program, root has a bundle, environment, what the store must be made of)
        ("t24-fallback", false, &[], "fallback"),
        ("t24-fallback", true, &[], "system"),
        (
            "t24-fallback",
            true,
            &[("GODEBUG", "x509usefallbackroots=1")],
            "fallback",
        ),
        (
            "t24-fallback",
            false,
            &[("SSL_CERT_FILE", "/nonexistent.pem")],
            "fallback",
        ),
        ("t24-fallback-forced", true, &[], "fallback"),
        (
            "t24-fallback-forced",
            true,
            &[("GODEBUG", "x509usefallbackroots=0")],
            "system",
        ),
        ("t24-go124", false, &[], "empty"),
        ("host-go119", false, &[], "empty"),
    ];
    for (prog, with_bundle, env, expect) in cases {
        let (_, bin) = bin_of(prog);
        let root = tempfile::tempdir().unwrap();
        std::fs::copy(bin, root.path().join("prog")).unwrap();
        if *with_bundle {
            std::fs::create_dir_all(root.path().join("etc/ssl/certs")).unwrap();
            std::fs::write(root.path().join("etc/ssl/certs/ca-certificates.crt"), &bundle).unwrap();
        }
        let real = real_count(root.path(), env);
        let (ours, sources) = our_store(root.path(), env);
        let case = format!("{prog} bundle={with_bundle} env={env:?}");
        assert_eq!(real, ours.to_string(), "{case}: real Go vs tlsdoctor");
        let from_fallback = sources.iter().any(|s| s.contains("x509roots/fallback"));
        match *expect {
            "fallback" => assert!(from_fallback && ours > 100, "{case}: {sources:?}"),
            "system" => assert_eq!((ours, from_fallback), (2, false), "{case}"),
            _ => assert_eq!(ours, 0, "{case}"),
        }
        agree += 1;
    }
    eprintln!("fallback-roots agreement with real Go: {agree}/{}", cases.len());
}

/// `openssl` with a cleared environment, in `dir`; panics on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A loopback `openssl s_server` for one scenario, killed on drop.
struct SServer {
    _p: Proc,
    port: u16,
}

fn s_server(dir: &Path, cert: &str, key: &str, chain: Option<&str>) -> SServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::new("openssl");
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["-cert", cert, "-key", key])
        // The server's own checks would refuse a SHA-1 or RSA-768 chain: the clients judge.
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(ch) = chain {
        c.args(["-cert_chain", ch]);
    }
    let p = Proc(c.spawn().expect("s_server"));
    let t = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    SServer { _p: p, port }
}

/// The chains whose verdict depends on the Go version, the go.mod line and GODEBUG: a
/// negative serial (rejected from 1.23 unless x509negativeserial=1), an RSA-768
/// intermediate (rejected from 1.24 unless rsa1024min=0), a SHA-1 signature (rejected
/// since 1.18; the override hint gone in 1.24), and a good chain.
fn version_scenarios(dir: &Path) -> Vec<(&'static str, String, String, Option<String>)> {
    let ext = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    ext("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
    ext(
        "leaf.ext",
        "subjectAltName=DNS:good.test\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n",
    );
    let ec = |name: &str| {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
    };
    ec("root");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=Versions Root",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            "ca.pem",
        ],
    );
    let sign = |name: &str, cn: &str, ca: &str, extfile: &str, more: &[&str]| {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subj = format!("/CN={cn}");
        openssl(dir, &["req", "-new", "-key", &key, "-subj", &subj, "-out", &csr]);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        let mut args = vec![
            "x509", "-req", "-in", &csr, "-CA", &ca_pem, "-CAkey", &ca_key, "-days", "3650", "-extfile",
            extfile, "-out", &pem,
        ];
        args.extend_from_slice(more);
        if !more.contains(&"-set_serial") {
            args.extend_from_slice(&["-set_serial", "4242"]);
        }
        openssl(dir, &args);
    };
    std::fs::copy(dir.join("ca.pem"), dir.join("root.pem")).unwrap();
    ec("good");
    sign("good", "good.test", "root", "leaf.ext", &[]);
    ec("neg");
    sign("neg", "good.test", "root", "leaf.ext", &["-set_serial", "-4660"]);
    ec("sha1");
    sign("sha1", "good.test", "root", "leaf.ext", &["-sha1"]);
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:768",
            "-out",
            "weak.key",
        ],
    );
    sign("weak", "Weak Intermediate", "root", "ca.ext", &[]);
    ec("under");
    sign("under", "good.test", "weak", "leaf.ext", &[]);
    vec![
        ("good", "good.pem".into(), "good.key".into(), None),
        ("negative-serial", "neg.pem".into(), "neg.key".into(), None),
        ("sha1-signature", "sha1.pem".into(), "sha1.key".into(), None),
        (
            "rsa768-intermediate",
            "under.pem".into(),
            "under.key".into(),
            Some("weak.pem".into()),
        ),
    ]
}

#[test]
fn each_program_rejects_what_its_version_go_line_and_godebug_reject() {
    let Some(_) = built() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenarios = version_scenarios(d);
    // (program, GODEBUG in its environment)
    let runs: &[(&str, Option<&str>)] = &[
        ("host-go119", None),
        ("host-go117-directive", None),
        ("host-go119", Some("x509sha1=1")),
        ("t24-go124", None),
        ("t24-go122", None),
        ("t24-go119", None),
        ("t24-directives", None),
        ("t24-go124", Some("x509negativeserial=1,rsa1024min=0")),
        ("t24-fallback", None),
    ];
    let world = tempfile::tempdir().unwrap();
    let mut agree = 0;
    let mut total = 0;
    let mut failures = vec![];
    for (name, cert, key, chain) in &scenarios {
        let server = s_server(d, cert, key, chain.as_deref());
        let presented = d.join(format!("{name}.presented.pem"));
        let mut text = std::fs::read_to_string(d.join(cert)).unwrap();
        if let Some(c) = chain {
            text.push_str(&std::fs::read_to_string(d.join(c)).unwrap());
        }
        std::fs::write(&presented, text).unwrap();
        for (prog, godebug) in runs {
            let (_, bin) = bin_of(prog);
            let mut c = Command::new(bin);
            c.env_clear()
                .args(["dial", d.join("ca.pem").to_str().unwrap()])
                .arg(format!("127.0.0.1:{}", server.port))
                .arg("good.test");
            if let Some(g) = godebug {
                c.env("GODEBUG", g);
            }
            let o = c.output().unwrap();
            let real = String::from_utf8_lossy(&o.stdout).trim().to_string();
            // tlsdoctor: the same program file in a World (--exe), the same CA (--ca).
            let exe = format!("/app/{prog}");
            std::fs::create_dir_all(world.path().join("app")).unwrap();
            let _ = std::fs::copy(bin, world.path().join(&exe[1..]));
            let mut t = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"));
            t.env_clear()
                .arg("--root")
                .arg(world.path())
                .args(["--exe", &exe]);
            if let Some(g) = godebug {
                t.arg("--env").arg(format!("GODEBUG={g}"));
            }
            let o = t
                .arg("verify")
                .arg(&presented)
                .arg("--ca")
                .arg(d.join("ca.pem"))
                .args(["--name", "good.test", "--runtime", "go", "--json"])
                .output()
                .unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
            let v = &doc["verdicts"][0];
            let ours = if v["trusted"].as_bool().unwrap() {
                "OK".to_string()
            } else {
                v["message"].as_str().unwrap().to_string()
            };
            let line = format!("{name} / {prog} GODEBUG={godebug:?}\n  real {real}\n  ours {ours}");
            eprintln!("{line}");
            total += 1;
            if real == ours {
                agree += 1;
            } else {
                failures.push(line);
            }
        }
    }
    eprintln!("Go programs (toolchain × go line × GODEBUG) agreement: {agree}/{total}");
    assert!(failures.is_empty(), "disagreements:\n{}", failures.join("\n"));
    assert_eq!(total, scenarios.len() * runs.len());
}

#[test]
fn exe_that_is_not_a_go_program_is_a_usage_error() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("script"), "#!/bin/sh\necho hi\n").unwrap();
    for (exe, want) in [("/script", "not an ELF executable"), ("/missing", "no such file")] {
        let o = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .env_clear()
            .arg("--root")
            .arg(root.path())
            .args(["--exe", exe, "store"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want) && err.contains("--exe"), "{err}");
    }
}

/// A process we started, killed on drop.
struct Proc(std::process::Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pid_detection_reads_the_process_exe_and_its_mapped_libssl() {
    let Some(b) = built() else { return };
    let Some(trixie) = trixie_root() else { return };
    // A fallback-linked program chrooted into an empty root: /proc/N/exe is read for its
    // build info, /proc/N/root is the empty World.
    let (_, bin) = bin_of("t24-fallback");
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(bin, root.path().join("prog")).unwrap();
    let mut child = Command::new(chroot())
        .env_clear()
        .arg(root.path())
        .args(["/prog", "wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its line: it is running and has printed its pool size.
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = child.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
    }
    let p = Proc(child);
    let pid = p.0.id();
    let w = World::from_pid(pid).unwrap();
    let d = detect::go_program(&w).expect("a program").unwrap();
    assert_eq!(d.source, Source::PidExe(pid));
    let real = b.tools[1].version_m(&b.tmp, bin);
    assert_eq!(
        real.lines().next().unwrap(),
        format!("{}: {}", bin.display(), d.text)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_tlsdoctor"))
        .env_clear()
        .args(["--pid", &pid.to_string(), "store", "--runtime", "go", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["runtimes"][0]["anchors"].to_string(),
        line.trim(),
        "--pid store vs the process"
    );
    drop(p);

    // The libssl mapped into a real openssl of each distribution: its libcrypto's version
    // text is what `openssl version` prints.
    let mut checked = 0;
    for (root, label) in [
        (PathBuf::from("/"), "this machine"),
        (trixie.clone(), "Debian 13"),
    ] {
        let mut c = Command::new(chroot());
        c.env_clear().arg(&root).args(["openssl", "version"]);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{label}: openssl version");
        let printed = String::from_utf8(o.stdout).unwrap();
        let lib_text = printed
            .split("(Library: ")
            .nth(1)
            .map(|s| s.trim().trim_end_matches(')').to_string())
            .unwrap_or_else(|| printed.trim().to_string());
        // A long-lived openssl: `s_client` reading a closed loopback would exit; `enc`
        // waits on stdin.
        let child = Command::new(chroot())
            .env_clear()
            .arg(&root)
            .args(["openssl", "enc", "-base64"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let p = Proc(child);
        let pid = p.0.id();
        // Until the loader has mapped libssl.
        let t0 = std::time::Instant::now();
        let d = loop {
            let w = World::from_pid(pid).unwrap();
            if !detect::mapped_libraries(pid, "libssl.so").is_empty() {
                break detect::openssl(&w).expect("OpenSSL detected");
            }
            assert!(t0.elapsed().as_secs() < 10, "{label}: libssl never mapped");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(d.kind, Kind::Openssl);
        assert_eq!(d.text, lib_text, "{label}");
        // Named as the process sees it: inside its root, not under the root's host path.
        assert!(
            matches!(&d.source, Source::PidMap(p, path) if *p == pid
                && path.starts_with("/usr/lib") && path.to_string_lossy().contains("libcrypto.so")),
            "{label}: {:?}",
            d.source
        );
        // The same root read as a World (no process): the same version, from the file.
        let w = World::fixture(&root, &[]);
        let d2 = detect::openssl(&w).unwrap();
        assert_eq!(d2.text, lib_text);
        assert!(matches!(&d2.source, Source::World(p) if p.to_string_lossy().contains("libcrypto")));
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn world_detection_of_both_distributions() {
    let Some(trixie) = trixie_root() else { return };
    // What each distribution's own tools say, against what detection reads from files.
    let run = |root: &Path, args: &[&str]| -> String {
        let o = Command::new(chroot())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg(root)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?} in {}", root.display());
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    for root in [PathBuf::from("/"), trixie] {
        let w = World::fixture(&root, &[]);
        let label = root.display().to_string();
        // python3 --version: "Python 3.13.5"
        let py = run(&root, &["python3", "--version"]);
        let d = detect::python(&w).expect("python");
        assert!(
            py.starts_with(&format!("{}.", d.text)),
            "{label}: {py} vs {}",
            d.text
        );
        // curl --version: "curl 8.14.1 (…"
        let cv = run(&root, &["curl", "--version"]);
        let d = detect::curl(&w).expect("curl");
        assert!(
            cv.starts_with(&format!("{} (", d.text)),
            "{label}: {cv} vs {}",
            d.text
        );
        // node --version: "v20.19.2"
        let nv = run(&root, &["node", "--version"]);
        let d = detect::node(&w).expect("node");
        let v = d.version.unwrap();
        assert_eq!(nv.trim(), format!("v{v}"), "{label}");
        // psql --version: "psql (PostgreSQL) 17.6 (Debian …)"
        let pv = run(&root, &["psql", "--version"]);
        let d = detect::libpq(&w).expect("libpq");
        assert!(
            pv.contains(&format!("(PostgreSQL) {}.", d.version.unwrap().major)),
            "{label}: {pv} vs {}",
            d.text
        );
        // mariadb --version: "… Distrib 11.8.9-MariaDB …" / "from 11.8.9-MariaDB"
        let mv = run(&root, &["mariadb", "--version"]);
        let d = detect::mariadb(&w).expect("mariadb client");
        assert!(
            mv.contains(&format!("{}-MariaDB", d.version.unwrap())),
            "{label}: {mv} vs {}",
            d.text
        );
    }
}
