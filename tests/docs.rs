//! Every command in README.md and docs/*.md runs here, against generated fixtures and real
//! `openssl s_server` peers on 127.0.0.1, with a cleared environment.
//!
//! - ```` ```console ```` blocks are transcripts: `$ command` (continued with `\`), then its
//!   output (stdout and stderr as one stream). The output must match after volatile values
//!   are filtered (ports, durations, day counts, timestamps, fingerprints and other long
//!   hex); a line `...` stands for any number of lines. The command must exit 0 unless it
//!   ends with a `# exit N` comment.
//! - ```` ```sh ```` blocks are commands: each one runs and must exit 0 or 1 (a diagnosis),
//!   or exactly N when it says `# exit N`; never a usage error, an unreachable target or a
//!   panic. `kubectl` lines run the tlsdoctor command they pass to the pod (after `--`);
//!   there is no cluster here, the binary's part is what is tested. kubectl lines that run
//!   nothing of ours (namespaces, ConfigMaps, logs) are counted, not run; a manifest they
//!   apply (`-f FILE`) must exist in the repository.
//! - Commands that build, install or benchmark (`cargo install`, `scripts/build-release`,
//!   …) are run by the test named in `ELSEWHERE`, which must mention them.
//!
//! `--pid 4242` (and, in the pod examples, `--pid 1`) is a process chrooted into the
//! fixture root `rootfs`, started with the environment an image's ENV would give it.
//!
//! The documents name hosts (`api.internal`) and fixed ports (8443…): every command runs in
//! a private mount namespace whose /etc/hosts maps those names to 127.0.0.1 and whose
//! /usr/local is an empty tmpfs (system-wide install commands write there, not to the
//! host), and the ports are swapped for the servers' real ones (and back in the output).
//!
//! `TLSDOCTOR_BLESS=1 cargo test --test docs` rewrites the output of each transcript that
//! does not match from a run (then read the diff: the output is the documentation).

#[path = "common/servers.rs"]
mod servers;
#[path = "common/ship.rs"]
mod ship;
#[path = "common/store.rs"]
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use regex::Regex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Host names the documents use; all resolve to 127.0.0.1 while the commands run.
const HOSTS: &[&str] = &[
    "api.internal",
    "legacy.internal",
    "orders-db.internal",
    "mail.internal",
];

/// Commands another test (or CI script) runs; that file must mention the command.
const ELSEWHERE: &[(&str, &str)] = &[
    ("git clone", "tests/readme_install.rs"),
    ("cargo install --locked --path", "tests/readme_install.rs"),
    ("cargo run --release", "tests/readme_install.rs"),
    ("cargo test --locked --all-targets", ".ci/run"),
    ("scripts/build-release", "tests/release_image.rs"),
    ("scripts/build-image", "tests/release_image.rs"),
    ("sha256sum -c", "tests/release_image.rs"),
    ("skopeo copy", "tests/release_image.rs"),
    ("scripts/build-static", "tests/static_binary.rs"),
    ("rustup target add x86_64-unknown-linux-musl", ".ci/run"),
    ("apt-get install", ".ci/run"),
    ("rustup toolchain install nightly", ".ci/run"),
    ("scripts/fuzz ", ".ci/run"),
];

/// Commands no test runs, and why. Their scripts must exist and pass `sh -n`.
const BY_HAND: &[(&str, &str)] = &[
    (
        "scripts/bench-",
        "benchmarks are run by hand, never as tests (project rule)",
    ),
    ("scripts/soak", "a long soak of hostile peers, run by hand"),
    ("scripts/fuzz-seeds", "rewrites the committed fuzz seeds"),
];

struct Block {
    file: PathBuf,
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    /// Lines between the fences.
    body: Vec<String>,
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(b) => out.push(b),
                None => {
                    open = Some(Block {
                        file: file.to_path_buf(),
                        line: i + 1,
                        lang: info.split_whitespace().next().unwrap_or("").to_string(),
                        body: Vec::new(),
                    })
                }
            }
        } else if let Some(b) = open.as_mut() {
            b.body.push(line.to_string());
        }
    }
    assert!(open.is_none(), "{}: unclosed code fence", file.display());
    out
}

/// Logical commands of a `sh` block: `\`-continued lines joined, comments and blanks skipped.
fn sh_commands(body: &[String]) -> Vec<String> {
    let mut cmds = Vec::new();
    let mut cur = String::new();
    for line in body {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(t);
            cmds.push(std::mem::take(&mut cur));
        }
    }
    assert!(cur.is_empty(), "a command ends with a continuation: {cur}");
    cmds
}

/// The exit status a command's trailing `# exit N` comment promises.
fn promised_exit(cmd: &str) -> Option<i32> {
    let re = Regex::new(r"#.*\bexit (\d)\b[^#]*$").unwrap();
    re.captures(cmd).map(|c| c[1].parse().unwrap())
}

/// One transcript: (command, expected output lines, index of the first output line).
struct Step {
    cmd: String,
    out: Vec<String>,
    out_start: usize,
}

fn console_steps(body: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let Some(first) = body[i].strip_prefix("$ ") else {
            assert!(
                steps.last().is_some(),
                "a console block must start with `$ `: {:?}",
                body[i]
            );
            steps.last_mut().unwrap().out.push(body[i].clone());
            i += 1;
            continue;
        };
        let mut cmd = String::new();
        let mut line = first.to_string();
        loop {
            match line.trim_end().strip_suffix('\\') {
                Some(head) => {
                    cmd.push_str(head);
                    cmd.push(' ');
                    i += 1;
                    line = body[i].trim().to_string();
                }
                None => {
                    cmd.push_str(&line);
                    break;
                }
            }
        }
        i += 1;
        steps.push(Step {
            cmd,
            out: Vec::new(),
            out_start: i,
        });
    }
    steps
}

/// Volatile values become placeholders (applied to both sides).
fn normalize(text: &str) -> Vec<String> {
    let rules: [(&str, &str); 7] = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        (r"(?i)\b[0-9a-f]{2}(:[0-9a-f]{2}){7,}\b", "<hex>"),
        (r"(?i)\b[0-9a-f]{16,}\b", "<hex>"),
        (r"\b\d+(\.\d+)?(ms|µs|s)\b", "<dur>"),
        (r#""duration_ms":\d+"#, r#""duration_ms":<n>"#),
        (r"\b\d+ days?\b", "<n> days"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "<time>"),
    ];
    let mut t = text.to_string();
    for (re, with) in rules {
        t = Regex::new(re).unwrap().replace_all(&t, with).into_owned();
    }
    t.lines().map(|l| l.trim_end().to_string()).collect()
}

/// Does `got` match `want`, where a `...` line in `want` matches any run of lines?
fn matches(want: &[String], got: &[String]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((w, rest)) if w == "..." => (0..=got.len()).any(|k| matches(rest, &got[k..])),
        Some((w, rest)) => got.first().is_some_and(|g| g == w) && matches(rest, &got[1..]),
    }
}

/// The first line where `got` departs from `want` (ignoring `...` runs), for the report.
fn first_difference(want: &[String], got: &[String]) -> String {
    let mut g = 0;
    for w in want {
        if w == "..." {
            return format!("after a `...`, documented {:?}", want.last());
        }
        match got.get(g) {
            Some(l) if l == w => g += 1,
            other => return format!("documented {w:?}, got {other:?}"),
        }
    }
    format!("output goes on: {:?}", got.get(g))
}

/// Fixtures and servers every document may use (cwd of every command):
/// - `ca.pem` (root "Example Root CA"), `int.pem` ("Example Issuing CA"), `chain.pem`
///   (leaf for api.internal + intermediate), `leaf.pem`/`leaf.key`, `corp-root.crt` (= ca.pem)
/// - `rootfs/`: a Debian root whose store holds one unrelated root; corp-root.crt is staged
///   in /usr/local/share/ca-certificates but update-ca-certificates never ran
/// - `ci/endpoints.toml`: a check spec over the servers below
/// - `api.internal:8443` full chain; `legacy.internal:8444` leaf only; `:8445` silent;
///   PostgreSQL on `orders-db.internal:5432` (TLS, chain for that name) and `:5433` (ssl=off)
struct Scenario {
    dir: tempfile::TempDir,
    hosts: PathBuf,
    bin_dir: PathBuf,
    /// document text -> what the command really needs (ports)
    subs: Vec<(String, String)>,
    _servers: Vec<ship::SServer>,
    _silent: ship::Silent,
    _sleeper: Sleeper,
}

struct Sleeper(Child);
impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Scenario {
    /// None when PostgreSQL is not installed (a loud skip; a failure under CI=true).
    fn new(openssl: &Path) -> Option<Scenario> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = ship::ca(d, "ca", "Example Root CA");
        let int = ship::intermediate(d, "int", "Example Issuing CA", &ca);
        let leaf = ship::leaf(d, "leaf", &["api.internal"], (2025, 1, 1), (2035, 1, 1), &int);
        let chain = format!("{}{}", leaf.cert.pem(), int.cert.pem());
        std::fs::write(d.join("chain.pem"), &chain).unwrap();
        std::fs::copy(d.join("ca.pem"), d.join("corp-root.crt")).unwrap();
        std::fs::copy(d.join("ca.pem"), d.join("corp-root.pem")).unwrap();
        std::fs::write(d.join("ca.der"), ca.cert.der()).unwrap();
        let legacy = ship::leaf(
            d,
            "legacy",
            &["legacy.internal"],
            (2025, 1, 1),
            (2035, 1, 1),
            &int,
        );

        // The image's root filesystem: Debian with one unrelated root, our CA staged only.
        let fs = store::Fs::new();
        store::debian(&fs, &[&store::ca("Some Public Root")]);
        let staged = d.join("rootfs");
        std::fs::rename(fs.dir.keep(), &staged).unwrap();
        let staged_ca = staged.join("usr/local/share/ca-certificates/corp-root.crt");
        std::fs::create_dir_all(staged_ca.parent().unwrap()).unwrap();
        std::fs::copy(d.join("ca.pem"), staged_ca).unwrap();

        let full = ship::SServer::start(
            openssl,
            &leaf.cert_path,
            &leaf.key_path,
            &["-cert_chain", d.join("int.pem").to_str().unwrap()],
        );
        let only_leaf = ship::SServer::start(openssl, &legacy.cert_path, &legacy.key_path, &[]);
        let silent = ship::Silent::start();
        // PostgreSQL: ssl=on with a chain for orders-db.internal, and ssl=off.
        let db = ship::leaf(
            d,
            "orders-db",
            &["orders-db.internal"],
            (2025, 1, 1),
            (2035, 1, 1),
            &int,
        );
        let pg = servers::postgres(
            &format!("{}{}", db.cert.pem(), int.cert.pem()),
            &db.key.serialize_pem(),
        )?;

        std::fs::create_dir_all(d.join("ci")).unwrap();
        std::fs::write(
            d.join("ci/endpoints.toml"),
            format!(
                "deadline = \"10s\"\n\n[defaults]\nca = \"../ca.pem\"\ntimeout = \"2s\"\n\n\
                 [[target]]\nid = \"api\"\ntarget = \"api.internal:{}\"\nmin_days = 30\n\n\
                 [[target]]\nid = \"legacy\"\ntarget = \"legacy.internal:{}\"\n\n\
                 [[target]]\nid = \"payments\"\ntarget = \"api.internal:{}\"\n",
                full.port, only_leaf.port, silent.port
            ),
        )
        .unwrap();

        let hosts = d.join("hosts");
        let mut h = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for name in HOSTS {
            h.push_str(&format!("127.0.0.1 {name}\n"));
        }
        std::fs::write(&hosts, h).unwrap();
        std::fs::create_dir_all(d.join("home")).unwrap();

        // The application `--pid` reads: a process in rootfs (chroot) started with
        // SSL_CERT_DIR at the staging directory, as a Dockerfile's ENV might set it. Its
        // program is this machine's `sleep` with the libraries `ldd` names.
        let ldd = Command::new("ldd").arg("/bin/sleep").output().unwrap();
        let mut files = vec!["/bin/sleep".to_string()];
        files.extend(
            String::from_utf8_lossy(&ldd.stdout)
                .split_whitespace()
                .filter(|w| w.starts_with('/'))
                .map(str::to_string),
        );
        for f in files {
            let to = staged.join(f.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
        }
        let sleeper = Command::new("/usr/sbin/chroot")
            .arg(&staged)
            .args(["/bin/sleep", "600"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("SSL_CERT_DIR", "/usr/local/share/ca-certificates")
            .spawn()
            .unwrap();

        let bin_dir = Path::new(env!("CARGO_BIN_EXE_tlsdoctor"))
            .parent()
            .unwrap()
            .to_path_buf();
        let subs = vec![
            (":8443".to_string(), format!(":{}", full.port)),
            (":8444".to_string(), format!(":{}", only_leaf.port)),
            (":8445".to_string(), format!(":{}", silent.port)),
            (":5432".to_string(), format!(":{}", pg.tls.port)),
            (":5433".to_string(), format!(":{}", pg.plain.port)),
            ("--pid 4242".to_string(), format!("--pid {}", sleeper.id())),
            // In a pod, PID 1 is the application; here it is the process above.
            ("--pid 1 ".to_string(), format!("--pid {} ", sleeper.id())),
        ];
        Some(Scenario {
            dir,
            hosts,
            bin_dir,
            subs,
            _servers: vec![full, only_leaf],
            _silent: silent,
            _sleeper: Sleeper(sleeper),
        })
    }

    /// Run a shell command as the documents show it; (exit status, stdout+stderr with the
    /// real ports and paths turned back into the documents').
    fn run(&self, doc_cmd: &str) -> (i32, String) {
        let mut cmd = doc_cmd.to_string();
        for (doc, real) in &self.subs {
            cmd = cmd.replace(doc, real);
        }
        let script = format!(
            "mount --bind {} /etc/hosts || exit 99\nmount -t tmpfs tmpfs /usr/local || exit 99\nexec 2>&1\n{cmd}\n",
            self.hosts.display()
        );
        let o = Command::new("/usr/bin/unshare")
            .args(["-m", "/bin/sh", "-c", &script])
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin_dir.display()))
            .env("HOME", self.dir.path().join("home"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&o.stderr));
        for (doc, real) in self.subs.iter().filter(|(d, _)| d.starts_with(':')) {
            out = out.replace(real, doc);
        }
        let pid = Regex::new(&format!(r"\b{}\b", self._sleeper.0.id())).unwrap();
        out = pid.replace_all(&out, "4242").into_owned();
        out = out.replace(&format!("{}/", self.dir.path().display()), "");
        assert_ne!(o.status.code(), Some(99), "unshare/mount failed: {out}");
        (o.status.code().unwrap_or(-1), out)
    }
}

/// The tlsdoctor command a `kubectl` line runs in the pod, if any.
fn kubectl_payload(cmd: &str) -> Option<String> {
    let (_, after) = cmd.split_once(" -- ")?;
    let mut words = after.splitn(2, ' ');
    let prog = words.next()?;
    if !prog.ends_with("tlsdoctor") {
        return None;
    }
    Some(format!("tlsdoctor {}", words.next().unwrap_or("")))
}

fn where_(b: &Block) -> String {
    format!(
        "{}:{}",
        b.file.strip_prefix(ROOT).unwrap_or(&b.file).display(),
        b.line
    )
}

#[test]
fn every_documented_command_runs_and_transcripts_match() {
    let Some(openssl) = ship::need("openssl") else {
        return;
    };
    if ship::need("unshare").is_none() {
        return;
    }
    let Some(s) = Scenario::new(&openssl) else {
        return;
    };
    let bless = std::env::var("TLSDOCTOR_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut cluster_only = 0;
    // file -> (first line index, old length, new lines), for bless
    let mut rewrites: BTreeMap<PathBuf, Vec<(usize, usize, Vec<String>)>> = BTreeMap::new();

    for file in doc_files() {
        for b in blocks(&file) {
            match b.lang.as_str() {
                "console" => {
                    for step in console_steps(&b.body) {
                        let want_code = promised_exit(&step.cmd).unwrap_or(0);
                        let (code, out) = s.run(&step.cmd);
                        ran += 1;
                        let got = normalize(&out);
                        let want = normalize(&step.out.join("\n"));
                        let ok = code == want_code && matches(&want, &got);
                        // Bless rewrites only what does not match (a trimmed `...`
                        // transcript that still matches is kept as it is).
                        if bless && !ok && code == want_code {
                            let first = b.line + step.out_start; // 0-based index of output line 1
                            let new: Vec<String> = out.lines().map(|l| l.trim_end().to_string()).collect();
                            rewrites
                                .entry(b.file.clone())
                                .or_default()
                                .push((first, step.out.len(), new));
                        } else if !ok {
                            failures.push(format!(
                                "{}: `{}` exited {code} (documented {want_code}); output:\n{out}\n--- documented:\n{}\n--- filtered, first difference: {}",
                                where_(&b),
                                step.cmd,
                                step.out.join("\n"),
                                first_difference(&want, &got)
                            ));
                        }
                    }
                }
                "sh" => {
                    for cmd in sh_commands(&b.body) {
                        if let Some((_, file)) = ELSEWHERE.iter().find(|(p, _)| cmd.contains(p)) {
                            let text =
                                std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap_or_default();
                            let prefix = ELSEWHERE.iter().find(|(p, _)| cmd.contains(p)).unwrap().0;
                            if !text.contains(prefix) {
                                failures.push(format!(
                                    "{}: `{cmd}` is said to run in {file}, which does not mention `{prefix}`",
                                    where_(&b)
                                ));
                            }
                            continue;
                        }
                        if let Some((p, _why)) = BY_HAND.iter().find(|(p, _)| cmd.contains(p)) {
                            let script = cmd.split_whitespace().find(|w| w.starts_with(p)).unwrap();
                            let path = Path::new(ROOT).join(script);
                            let shell = std::fs::read_to_string(&path)
                                .ok()
                                .and_then(|t| t.lines().next().map(|l| l.contains("bash")));
                            let ok = shell.is_some_and(|bash| {
                                Command::new(if bash { "bash" } else { "sh" })
                                    .arg("-n")
                                    .arg(&path)
                                    .status()
                                    .is_ok_and(|st| st.success())
                            });
                            if !ok {
                                failures.push(format!(
                                    "{}: `{script}` is missing or not valid shell",
                                    where_(&b)
                                ));
                            }
                            continue;
                        }
                        let run = if cmd.starts_with("kubectl ") {
                            if cmd.starts_with("kubectl cp ") {
                                let src = cmd.split_whitespace().nth(2).unwrap();
                                let want = format!(
                                    "dist/tlsdoctor-{}-x86_64-unknown-linux-musl",
                                    env!("CARGO_PKG_VERSION")
                                );
                                if src != want {
                                    failures.push(format!(
                                        "{}: kubectl cp copies {src}, scripts/build-release writes {want}",
                                        where_(&b)
                                    ));
                                }
                                continue;
                            }
                            match kubectl_payload(&cmd) {
                                Some(p) => p,
                                None => {
                                    // `-- sh` (a shell in the debug container) and the
                                    // cluster's own commands (namespaces, ConfigMaps,
                                    // logs) run nothing of ours; a manifest they apply
                                    // must be in the repository.
                                    if let Some(f) = cmd.split_whitespace().skip_while(|w| *w != "-f").nth(1)
                                    {
                                        if !Path::new(ROOT).join(f).is_file() {
                                            failures.push(format!(
                                                "{}: `{cmd}`: no {f} in the repository",
                                                where_(&b)
                                            ));
                                        }
                                    }
                                    cluster_only += 1;
                                    continue;
                                }
                            }
                        } else if let Some(rest) = cmd.strip_prefix("/tmp/tlsdoctor ") {
                            format!("tlsdoctor {rest}")
                        } else {
                            cmd.clone()
                        };
                        let (code, out) = s.run(&run);
                        ran += 1;
                        let ok = match promised_exit(&cmd) {
                            Some(n) => code == n,
                            None => code == 0 || code == 1,
                        };
                        if !ok || out.contains("panicked") {
                            failures.push(format!(
                                "{}: `{cmd}` exited {code}{}:\n{out}",
                                where_(&b),
                                promised_exit(&cmd)
                                    .map(|n| format!(" (documented {n})"))
                                    .unwrap_or_default()
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    if bless {
        for (file, mut edits) in rewrites {
            let text = std::fs::read_to_string(&file).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            edits.sort_by_key(|e| std::cmp::Reverse(e.0));
            for (first, old, new) in edits {
                lines.splice(first..first + old, new);
            }
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        }
    }
    eprintln!("ran {ran} documented commands; {cluster_only} kubectl commands need a cluster (not run)");
    assert!(ran >= 30, "only {ran} documented commands ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn block_parsing_and_matching() {
    let body: Vec<String> = [
        "$ tlsdoctor a \\",
        "    --b   # exit 1",
        "out 1",
        "...",
        "$ x",
        "y",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let steps = console_steps(&body);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].cmd, "tlsdoctor a  --b   # exit 1");
    assert_eq!(promised_exit(&steps[0].cmd), Some(1));
    assert_eq!(promised_exit("tlsdoctor store   # this machine"), None);
    assert_eq!(steps[0].out, ["out 1", "..."]);
    assert_eq!(steps[1].out_start, 5);
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&l(&["a", "...", "d"]), &l(&["a", "b", "c", "d"])));
    assert!(matches(&l(&["a", "..."]), &l(&["a"])));
    assert!(!matches(&l(&["a", "...", "d"]), &l(&["a", "b"])));
    assert!(!matches(&l(&["a"]), &l(&["a", "b"])));
    assert_eq!(
        normalize("port 127.0.0.1:8443 in 2.0s, expires in 29 days, sha256 ab12cd34ef56ab12cd34"),
        ["port 127.0.0.1:8443 in <dur>, expires in <n> days, sha256 <hex>"]
    );
    assert_eq!(
        sh_commands(&l(&["# c", "a \\", "  b", "", "c  # x"])),
        ["a  b", "c  # x"]
    );
    assert_eq!(
        kubectl_payload("kubectl debug -it p --image=i -- /tlsdoctor --pid 1 store").as_deref(),
        Some("tlsdoctor --pid 1 store")
    );
}

/// The README stays short, states the MSRV Cargo.toml declares, names the test command
/// `.ci/run` runs, and every relative link in README and docs points at a file.
#[test]
fn readme_is_short_and_its_links_and_facts_hold() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let n = readme.lines().count();
    assert!(n <= 200, "README.md has {n} lines (goal: at most 200)");
    assert!(
        readme.lines().all(|l| l.chars().count() <= 100),
        "README.md has a line over 100 characters"
    );

    let cargo = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let msrv = Regex::new(r#"(?m)^rust-version = "([0-9.]+)""#)
        .unwrap()
        .captures(&cargo)
        .unwrap()[1]
        .to_string();
    assert!(
        readme.contains(&format!("Rust {msrv}")),
        "README does not state the MSRV {msrv}"
    );

    let ci = std::fs::read_to_string(Path::new(ROOT).join(".ci/run")).unwrap();
    let test_cmd = "cargo test --locked --all-targets";
    assert!(
        ci.lines().any(|l| l.trim() == test_cmd),
        ".ci/run does not run `{test_cmd}`"
    );
    assert!(readme.contains(test_cmd), "README does not name `{test_cmd}`");
    assert!(readme.contains("cargo run --release"));

    let link = Regex::new(r"\]\(([^)#]+)(#[^)]*)?\)").unwrap();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") {
                continue;
            }
            let p = file.parent().unwrap().join(target);
            assert!(
                p.exists(),
                "{}: link to {target}, which does not exist",
                file.display()
            );
        }
    }
    for doc in [
        "docs/kubernetes.md",
        "docs/check.md",
        "docs/connect.md",
        "docs/json.md",
        "docs/design.md",
    ] {
        assert!(
            readme.contains(&format!("]({doc})")),
            "README does not link {doc}"
        );
    }
}
