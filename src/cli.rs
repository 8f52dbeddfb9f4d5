//! Command-line definitions (clap derive). Doc comments are the help text; the man page
//! and shell completions are generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::trust::Runtime;

/// Diagnose TLS trust errors: what each runtime would trust here, what a server really
/// presents, and exactly why Go, OpenSSL or rustls would reject it — with the fix.
///
/// With no command, prints the effective trust stores of this machine (`tlsdoctor store`).
///
/// The World is the system being evaluated: a root filesystem (where CA files, OpenSSL's
/// directory and the programs are looked up) and an environment (SSL_CERT_FILE, proxies…).
/// It is this machine unless --root, --image, --pid or --manifest names another; --env
/// changes its variables.
#[derive(Debug, Parser)]
#[command(name = "tlsdoctor", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Short for --format json.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour: auto (a terminal and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Say more (repeat for even more): trust-store steps, every anchor considered.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Say less: verdict lines and errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Evaluate an unpacked container filesystem: trust paths resolve inside DIR. The
    /// environment starts empty (the image's ENV is not known): add its variables with --env.
    #[arg(long, global = true, value_name = "DIR", conflicts_with_all = ["pid", "image"])]
    pub root: Option<PathBuf>,

    /// Evaluate a container image read in place (nothing unpacked): an OCI layout
    /// directory, an OCI archive or a docker-archive (`docker save`, `podman save`);
    /// PATH:TAG picks one of several images. Its config's Env is the environment (--env
    /// on top) and its entrypoint the program.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "pid")]
    pub image: Option<PathBuf>,

    /// The platform to read from a multi-platform image index: os/arch[/variant]
    /// (default: this machine's, linux/amd64 on x86-64).
    #[arg(long, global = true, value_name = "OS/ARCH", requires = "image")]
    pub platform: Option<String>,

    /// Evaluate a Kubernetes pod before it is deployed: its container's env, envFrom and
    /// volumeMounts (Secret, ConfigMap, projected, emptyDir) over --image (or --root), as
    /// the kubelet would. Files of Pods, Deployments, StatefulSets, DaemonSets, Jobs,
    /// CronJobs and the ConfigMaps and Secrets they reference (repeat the flag; files may
    /// be multi-document YAML).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "pid")]
    pub manifest: Vec<PathBuf>,

    /// The container of the manifest's pod to evaluate (needed when it has several).
    #[arg(long, global = true, value_name = "NAME", requires = "manifest")]
    pub container: Option<String>,

    /// Evaluate another process: its root (/proc/PID/root) and environment (/proc/PID/environ).
    #[arg(long, global = true, value_name = "PID")]
    pub pid: Option<u32>,

    /// Every process of this machine (with `store`, `store --find CA` and `verify`):
    /// processes grouped by root filesystem, the variables the runtimes read and the
    /// detected runtime (a Go program's build info, the libssl mapped into it), each group
    /// answered as --pid would. Processes that exit meanwhile or cannot be read are listed.
    /// With --format jsonl: one line per group, then a summary line.
    #[arg(long, global = true, conflicts_with_all = ["pid", "root", "image", "manifest", "exe"])]
    pub all_processes: bool,

    /// The program to answer for: a Go executable, as a path inside the World (the
    /// evaluated system: --root, --image, --pid, or this machine). Its build info sets
    /// the Go version, the GODEBUG defaults
    /// (go.mod `go` line, `//go:debug`) and whether it carries Go's fallback roots.
    #[arg(long, global = true, value_name = "PATH")]
    pub exe: Option<PathBuf>,

    /// Set (KEY=VALUE) or unset (KEY) a variable in the evaluated environment: "what if".
    #[arg(long = "env", global = true, value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// OpenSSL's OPENSSLDIR inside the World, the evaluated system (default: detected from
    /// its distribution).
    #[arg(long, global = true, value_name = "DIR")]
    pub openssldir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// JSON Lines: one document per line (check).
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show each runtime's effective trust store: sources, anchors, problems and fixes.
    Store(StoreArgs),
    /// Connect to a server (TLS, or STARTTLS/MySQL/PostgreSQL first) and diagnose its chain.
    Connect(ConnectArgs),
    /// Diagnose a chain from a file, offline, per runtime.
    Verify(VerifyArgs),
    /// Decode certificates and bundles (PEM, DER).
    Inspect(InspectArgs),
    /// Check many targets against expectations, for CI (TOML spec file).
    Check(CheckArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Manpage,
}

#[derive(Debug, Clone, Args, Default)]
pub struct StoreArgs {
    /// Runtimes to show (default: all; node, python, python-requests, curl and java get one
    /// line each unless selected or -v). `ID@VERSION` models that version (go@1.24).
    #[arg(long = "runtime", value_name = "R", value_parser = RuntimeArgParser)]
    pub runtimes: Vec<RuntimeArg>,

    /// List every anchor of every selected runtime.
    #[arg(long)]
    pub list: bool,

    /// Is this certificate trusted, by whom, and if not, where does it exist? A certificate
    /// file (PEM/DER), a subject substring, or a SHA-256 prefix.
    #[arg(long, value_name = "CERT_OR_TEXT")]
    pub find: Option<String>,
}

/// A `--runtime` value: `all`, or a runtime id (the ids come from
/// [`crate::runtimes::REGISTRY`]) with an optional version to model (`go@1.24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeArg {
    All,
    One(Runtime, Option<crate::detect::Version>),
}

impl RuntimeArg {
    /// Expand a list of `--runtime` values; empty means `default`.
    pub fn expand(args: &[RuntimeArg], default: &[Runtime]) -> Vec<Runtime> {
        if args.is_empty() || args.contains(&RuntimeArg::All) {
            if args.contains(&RuntimeArg::All) {
                return Runtime::ALL.to_vec();
            }
            return default.to_vec();
        }
        let mut v: Vec<Runtime> = args
            .iter()
            .filter_map(|a| match a {
                RuntimeArg::All => None,
                RuntimeArg::One(r, _) => Some(*r),
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The versions pinned (`go@1.24`), by family.
    pub fn pins(args: &[RuntimeArg]) -> crate::profiles::Pins {
        args.iter()
            .filter_map(|a| match a {
                RuntimeArg::One(r, Some(v)) => Some((r.unit().profile?, *v)),
                _ => None,
            })
            .collect()
    }

    /// Parse one value: `all`, a runtime id, or `ID@VERSION`.
    pub fn parse(s: &str) -> Result<RuntimeArg, String> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(RuntimeArg::All);
        }
        let (id, version) = crate::profiles::split_pin(s)?;
        let r = Runtime::from_id(&id.to_ascii_lowercase()).ok_or_else(|| {
            let ids: Vec<&str> = Runtime::ALL.iter().map(|r| r.code()).collect();
            format!("unknown runtime {id:?} (possible: all, {})", ids.join(", "))
        })?;
        if version.is_some() && r.unit().profile.is_none() {
            return Err(format!(
                "{s:?}: no version of {id} is modelled (versions: {})",
                Runtime::ALL
                    .iter()
                    .filter(|r| r.unit().profile.is_some())
                    .map(|r| format!("{}@N", r.code()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(RuntimeArg::One(r, version))
    }
}

/// clap's parser for `--runtime`: the possible values (help, completions) come from the
/// registry.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeArgParser;

impl clap::builder::TypedValueParser for RuntimeArgParser {
    type Value = RuntimeArg;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<RuntimeArg, clap::Error> {
        let s = value
            .to_str()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8).with_cmd(cmd))?;
        RuntimeArg::parse(s).map_err(|e| {
            let a = arg.map(|a| a.to_string()).unwrap_or_else(|| "--runtime".into());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{s}' for '{a}': {e}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            std::iter::once(clap::builder::PossibleValue::new("all")).chain(
                Runtime::ALL
                    .into_iter()
                    .filter_map(|r| clap::ValueEnum::to_possible_value(&r)),
            ),
        ))
    }
}

/// `--starttls` values: the dialogue type of the probe itself.
pub use crate::probe::target::Starttls as StarttlsArg;

#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// host, host:port, [v6]:port, or a URL (https://, postgres://, mysql://, smtp://, ldap://, …).
    pub target: String,

    /// Dialogue before TLS (default: from the URL scheme or well-known port, confirmed by what
    /// the server says first).
    #[arg(long, value_enum, default_value_t = StarttlsArg::Auto)]
    pub starttls: StarttlsArg,

    /// SNI to send (default: the name; none for an IP address).
    #[arg(long, value_name = "SNI")]
    pub servername: Option<String>,

    /// Name to verify the certificate for (default: the host).
    #[arg(long)]
    pub name: Option<String>,

    /// XMPP domain for the stream header's `to` (default: --name, else the host), as
    /// s_client's -xmpphost.
    #[arg(long, value_name = "DOMAIN")]
    pub xmpp_domain: Option<String>,

    /// Trust only these CA files, as a program's explicit CA option would (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Like --ca, but PATH is read inside the evaluated system (--root, --image, --manifest,
    /// --pid): the program's own CA-file setting, such as a Helm repository's `caFile`
    /// (repeatable). A PATH missing there is the diagnosis, not an error; with --manifest a
    /// proposed patch puts the CA at PATH.
    #[arg(long, value_name = "PATH", conflicts_with = "ca")]
    pub ca_in_world: Vec<PathBuf>,

    /// Runtimes to evaluate (default: go, openssl, rustls-native, webpki-roots — those whose
    /// store resolves here — plus node, python, python-requests, curl, java when evidently
    /// present: binary on PATH, home directory, or one of their variables set). `ID@VERSION`
    /// models that version instead of the one detected (go@1.24, python@3.13, openssl@3.5).
    #[arg(long = "runtime", value_name = "R", value_parser = RuntimeArgParser)]
    pub runtimes: Vec<RuntimeArg>,

    /// Total time budget for the network steps (500ms, 5s, 2m).
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_budget)]
    pub timeout: std::time::Duration,

    /// HTTP proxy for https targets (default: HTTPS_PROXY/NO_PROXY as Go reads them).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,

    /// Never use a proxy.
    #[arg(long)]
    pub no_proxy: bool,

    /// ALPN protocols to offer (repeatable).
    #[arg(long, value_name = "PROTO")]
    pub alpn: Vec<String>,

    /// Client certificate chain to present (PEM).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// Private key for --client-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Verify as of this moment (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Do not fetch the AIA caIssuers URL of a chain whose issuer is missing (by default one
    /// plain-HTTP GET, at most 64 KiB and 5 s, through the same proxy rules, tells whether
    /// the missing certificate is a root or an intermediate).
    #[arg(long)]
    pub no_fetch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// File with the leaf and any intermediates (PEM or DER, any order).
    pub chain_file: PathBuf,

    /// Name to verify the leaf for (DNS name or IP address).
    #[arg(long)]
    pub name: Option<String>,

    /// Trust only these CA files, as a program's explicit CA option would (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,

    /// Like --ca, but PATH is read inside the evaluated system (--root, --image, --manifest,
    /// --pid): the program's own CA-file setting, such as a Helm repository's `caFile`
    /// (repeatable). A PATH missing there is the diagnosis, not an error; with --manifest a
    /// proposed patch puts the CA at PATH.
    #[arg(long, value_name = "PATH", conflicts_with = "ca")]
    pub ca_in_world: Vec<PathBuf>,

    /// Runtimes to evaluate (default: go, openssl, rustls-native, webpki-roots — those whose
    /// store resolves here — plus node, python, python-requests, curl, java when evidently
    /// present: binary on PATH, home directory, or one of their variables set). `ID@VERSION`
    /// models that version instead of the one detected (go@1.24, python@3.13, openssl@3.5).
    #[arg(long = "runtime", value_name = "R", value_parser = RuntimeArgParser)]
    pub runtimes: Vec<RuntimeArg>,

    /// Verify as of this moment (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Fetch the AIA caIssuers URL of a chain whose issuer is missing (one plain-HTTP GET,
    /// at most 64 KiB and 5 s; HTTP_PROXY/NO_PROXY apply). Off by default: verify is offline.
    #[arg(long)]
    pub fetch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Certificate files or bundles (PEM or DER).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// TOML file listing targets and expectations.
    pub spec_file: PathBuf,

    /// Targets checked at once (default: the spec's `jobs`, else 256).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Total time bound for the whole run (default: the spec's, else 60s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub deadline: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Parse `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 5s, 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// A time budget: a duration that is more than zero (`--timeout 0` is not "no timeout").
pub fn parse_budget(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: the time budget must be more than 0"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("5s").unwrap().as_secs(), 5);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
