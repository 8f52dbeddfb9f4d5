//! The `check` spec file: TOML, defaults at the top, one `[[target]]` table per target.
//!
//! ```toml
//! jobs = 32            # targets checked at once (--jobs overrides)
//! deadline = "2m"      # total time bound (--deadline overrides)
//!
//! [defaults]           # any per-target key; a target's own value replaces it
//! timeout = "5s"
//! min_days = 14
//!
//! [[target]]
//! target = "api.example.com:443"
//! ```
//!
//! Every key is documented on [`Settings`]; unknown keys are an error (a typo must not
//! silently disable an expectation). Relative paths (`ca`, `client_cert`, `client_key`)
//! are relative to the spec file's directory. The schema is also in docs/check.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::ValueEnum;
use serde::Deserialize;

use super::expect::{normalize_pin, Expectations, TlsVersion, TrustedBy};
use crate::cli::{parse_duration, StarttlsArg};
use crate::commands::connect::ConnectRequest;
use crate::trust::Runtime;

/// Default per-target timeout when neither the target nor `[defaults]` set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total time bound.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Largest spec file read (a spec is configuration, not data).
const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;

/// The file as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// Targets checked at once.
    pub jobs: Option<usize>,
    /// Total time bound for the whole run ("90s", "2m", or seconds).
    pub deadline: Option<DurationValue>,
    /// Applied to every target; a target's own value replaces the default (lists too).
    #[serde(default)]
    pub defaults: Settings,
    #[serde(default, rename = "target")]
    pub targets: Vec<Settings>,
}

/// A duration: `"500ms"`, `"5s"`, `"2m"`, or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Text(String),
    Int(i64),
    Float(f64),
}

impl DurationValue {
    fn get(&self, what: &str) -> anyhow::Result<Duration> {
        let d = match self {
            DurationValue::Text(s) => parse_duration(s).map_err(anyhow::Error::msg),
            DurationValue::Int(n) => parse_duration(&n.to_string()).map_err(anyhow::Error::msg),
            DurationValue::Float(f) if f.is_finite() && *f >= 0.0 => {
                parse_duration(&format!("{f}")).map_err(anyhow::Error::msg)
            }
            DurationValue::Float(f) => Err(anyhow::anyhow!("invalid duration {f}")),
        };
        d.with_context(|| format!("`{what}`"))
    }
}

/// A time: an RFC 3339 string or a TOML date-time.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Text(String),
    Toml(toml::value::Datetime),
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The keys of `[defaults]` and of each `[[target]]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    // --- identity (targets only) ---
    /// What to connect to, as for `tlsdoctor connect TARGET` (required per target).
    pub target: Option<String>,
    /// The test-case name in reports (default: the `target` string); unique.
    pub id: Option<String>,

    // --- connect options (same meaning as the `connect` flags) ---
    pub starttls: Option<String>,
    pub servername: Option<String>,
    pub name: Option<String>,
    pub xmpp_domain: Option<String>,
    pub ca: Option<OneOrMany>,
    /// Runtimes to evaluate; `["all"]` = every runtime; unset = every runtime that resolves.
    pub runtimes: Option<Vec<String>>,
    pub timeout: Option<DurationValue>,
    /// HTTP proxy URL; `""` = never use a proxy; unset = from HTTPS_PROXY/NO_PROXY.
    pub proxy: Option<String>,
    pub alpn: Option<Vec<String>>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// Evaluate certificates (and `min_days`) as of this time.
    pub at: Option<TimeValue>,

    // --- expectations ---
    /// Runtimes that must trust the target; `["all"]` (the default) = every evaluated
    /// runtime; `[]` = no trust expectation.
    pub trusted_by: Option<Vec<String>>,
    /// Every presented certificate must stay valid at least this many days.
    pub min_days: Option<i64>,
    /// Substring (case-insensitive) of the leaf certificate's issuer DN.
    pub issuer: Option<String>,
    /// SHA-256 (hex, colons allowed) of a certificate's DER: any presented certificate or
    /// the anchor a runtime's path ended at must match one of them.
    pub pin_sha256: Option<OneOrMany>,
    /// Minimum negotiated TLS version: "1.2" or "1.3".
    pub tls_min: Option<String>,
    /// Whether the server must (true) or must not (false) ask for a client certificate.
    pub client_cert_requested: Option<bool>,
}

impl Settings {
    /// Field-wise: `self` where set, else `d`.
    fn over(self, d: &Settings) -> Settings {
        macro_rules! pick {
            ($($f:ident),*) => { Settings { $($f: self.$f.or_else(|| d.$f.clone()),)* } };
        }
        pick!(
            target,
            id,
            starttls,
            servername,
            name,
            xmpp_domain,
            ca,
            runtimes,
            timeout,
            proxy,
            alpn,
            client_cert,
            client_key,
            at,
            trusted_by,
            min_days,
            issuer,
            pin_sha256,
            tls_min,
            client_cert_requested
        )
    }
}

/// A parsed, validated spec.
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub jobs: Option<usize>,
    pub deadline: Option<Duration>,
    pub jobs_list: Vec<Job>,
}

/// One target to check.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub req: ConnectRequest,
    pub expect: Expectations,
}

/// Read and validate a spec file (an `Err` is a usage/input error: exit 2).
pub fn load(path: &Path) -> anyhow::Result<Spec> {
    // `-` is standard input (relative paths in it are then relative to this directory).
    if path != Path::new("-") {
        let md = std::fs::metadata(path).with_context(|| format!("spec file {}", path.display()))?;
        anyhow::ensure!(md.is_file(), "spec file {}: not a regular file", path.display());
        anyhow::ensure!(
            md.len() <= MAX_SPEC_BYTES,
            "spec file {}: larger than {} MiB",
            path.display(),
            MAX_SPEC_BYTES >> 20
        );
    }
    let bytes =
        crate::world::read_host_file(path).with_context(|| format!("spec file {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "spec file {}: not UTF-8 text (a TOML file is expected)",
            path.display()
        )
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base)
        .with_context(|| format!("spec file {}", path.display()))
        .map(|mut s| {
            s.path = path.to_path_buf();
            s
        })
}

/// Parse spec text; relative paths resolve against `base`.
pub fn parse(text: &str, base: &Path) -> anyhow::Result<Spec> {
    let file: SpecFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
    if file.defaults.target.is_some() || file.defaults.id.is_some() {
        bail!("[defaults] cannot set `target` or `id`: they belong to each [[target]]");
    }
    if file.targets.is_empty() {
        bail!("no targets: add at least one [[target]] table with `target = \"host:port\"`");
    }
    if let Some(0) = file.jobs {
        bail!("`jobs` must be at least 1");
    }
    let deadline = file.deadline.as_ref().map(|d| d.get("deadline")).transpose()?;
    let mut seen = BTreeSet::new();
    // Each file is checked once, however many targets name it (through `[defaults]`).
    let mut files = Files::default();
    let mut jobs = Vec::with_capacity(file.targets.len());
    for (i, t) in file.targets.into_iter().enumerate() {
        let n = i + 1;
        let s = t.over(&file.defaults);
        let job = build_job(s, base, &mut files).with_context(|| format!("[[target]] #{n}"))?;
        if !seen.insert(job.id.clone()) {
            bail!(
                "[[target]] #{n}: duplicate id {:?}: give each target a unique `id`",
                job.id
            );
        }
        jobs.push(job);
    }
    Ok(Spec {
        path: PathBuf::new(),
        jobs: file.jobs,
        deadline,
        jobs_list: jobs,
    })
}

fn build_job(s: Settings, base: &Path, files: &mut Files) -> anyhow::Result<Job> {
    let target = match s.target {
        Some(t) if !t.trim().is_empty() => t.trim().to_string(),
        Some(_) => bail!("`target` is empty"),
        None => bail!("missing `target` (what to connect to, e.g. \"db.example.com:5432\")"),
    };
    let id = match s.id {
        Some(id) if id.trim().is_empty() => bail!("`id` is empty"),
        Some(id) => id,
        // Reports show the id: never a password from the URL.
        None => crate::probe::target::redact_password(&target),
    };
    let starttls = match &s.starttls {
        None => StarttlsArg::Auto,
        Some(p) => StarttlsArg::from_str(p, true).map_err(|_| {
            anyhow::anyhow!(
                "`starttls = {p:?}`: expected one of {}",
                possible(StarttlsArg::value_variants())
            )
        })?,
    };
    // The target's syntax is checked now, so a typo stops the run before anything is contacted.
    crate::probe::Target::parse(&target, starttls).map_err(|e| {
        let shown = crate::probe::target::redact_password(&target);
        let e = format!("{e:#}").replace(&target, &shown);
        anyhow::anyhow!("`target = {shown:?}`: {e}")
    })?;
    let (runtimes, all_runtimes, pins) = parse_runtimes(s.runtimes.as_deref().unwrap_or(&[]), "runtimes")?;
    let runtimes = if all_runtimes {
        Runtime::ALL.to_vec()
    } else {
        runtimes
    };
    let timeout = match &s.timeout {
        Some(t) => t.get("timeout")?,
        None => DEFAULT_TIMEOUT,
    };
    anyhow::ensure!(!timeout.is_zero(), "`timeout` must be more than 0");
    let ca =
        s.ca.map(OneOrMany::into_vec)
            .unwrap_or_default()
            .into_iter()
            .map(|p| files.input(base, &p, "ca"))
            .collect::<anyhow::Result<Vec<_>>>()?;
    if s.client_cert.is_some() != s.client_key.is_some() {
        bail!("`client_cert` and `client_key` go together");
    }
    let client_cert = s
        .client_cert
        .as_deref()
        .map(|p| files.input(base, p, "client_cert"))
        .transpose()?;
    let client_key = s
        .client_key
        .as_deref()
        .map(|p| files.input(base, p, "client_key"))
        .transpose()?;
    let at = match &s.at {
        None => None,
        Some(TimeValue::Text(t)) => Some(crate::commands::parse_at(t).context("`at`")?),
        Some(TimeValue::Toml(dt)) => Some(crate::commands::parse_at(&dt.to_string()).context("`at`")?),
    };
    let trusted_by = match s.trusted_by {
        None => TrustedBy::AllEvaluated,
        Some(v) if v.is_empty() => TrustedBy::Nobody,
        Some(v) => {
            let (rts, all, _) = parse_runtimes(&v, "trusted_by")?;
            if all {
                TrustedBy::AllEvaluated
            } else {
                TrustedBy::Runtimes(rts)
            }
        }
    };
    let tls_min = s
        .tls_min
        .as_deref()
        .map(|v| {
            TlsVersion::parse(v)
                .ok_or_else(|| anyhow::anyhow!("`tls_min = {v:?}`: expected \"1.2\" or \"1.3\""))
        })
        .transpose()?;
    let pin_sha256 = s
        .pin_sha256
        .map(OneOrMany::into_vec)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            normalize_pin(p).ok_or_else(|| {
                anyhow::anyhow!("`pin_sha256 = {p:?}`: expected 64 hex digits (colons allowed)")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(d) = s.min_days {
        anyhow::ensure!((0..=36_500).contains(&d), "`min_days = {d}`: expected 0 to 36500");
    }
    if let Some(i) = &s.issuer {
        anyhow::ensure!(!i.is_empty(), "`issuer` is empty");
    }
    let proxy = s.proxy;
    let req = ConnectRequest {
        target,
        starttls,
        servername: s.servername,
        name: s.name,
        xmpp_domain: s.xmpp_domain,
        ca,
        ca_in_world: vec![],
        runtimes,
        pins,
        timeout,
        proxy,
        alpn: s.alpn.unwrap_or_default(),
        client_cert,
        client_key,
        at,
        // CI runs talk to their targets only; `connect` fetches AIA URLs.
        fetch_aia: false,
    };
    Ok(Job {
        id,
        req,
        expect: Expectations {
            trusted_by,
            min_days: s.min_days,
            issuer: s.issuer,
            pin_sha256,
            tls_min,
            client_cert_requested: s.client_cert_requested,
        },
    })
}

/// Runtime codes (`go`, `go@1.24`) -> runtimes and the versions pinned; the bool says
/// whether `all` was among them.
fn parse_runtimes(v: &[String], key: &str) -> anyhow::Result<(Vec<Runtime>, bool, crate::profiles::Pins)> {
    let mut out = Vec::new();
    let mut all = false;
    let mut args = Vec::new();
    for r in v {
        if r.eq_ignore_ascii_case("all") {
            all = true;
            continue;
        }
        let (id, _) = crate::profiles::split_pin(r).map_err(|e| anyhow::anyhow!("`{key}`: {e}"))?;
        if Runtime::from_str(id, true).is_err() {
            bail!(
                "`{key}`: unknown runtime {id:?}: expected all, {}",
                possible(Runtime::value_variants())
            );
        }
        match crate::cli::RuntimeArg::parse(r) {
            Ok(a @ crate::cli::RuntimeArg::One(rt, _)) => {
                out.push(rt);
                args.push(a);
            }
            Ok(crate::cli::RuntimeArg::All) => all = true,
            Err(e) => bail!("`{key}`: {e}"),
        }
    }
    out.sort();
    out.dedup();
    Ok((out, all, crate::cli::RuntimeArg::pins(&args)))
}

fn possible<T: ValueEnum>(v: &[T]) -> String {
    v.iter()
        .filter_map(|x| x.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files named in a spec that were found readable (by the name written there).
#[derive(Default)]
struct Files(std::collections::HashMap<String, PathBuf>);

impl Files {
    /// [`input_file`], once per name.
    fn input(&mut self, base: &Path, p: &str, key: &str) -> anyhow::Result<PathBuf> {
        if let Some(path) = self.0.get(p) {
            return Ok(path.clone());
        }
        let path = input_file(base, p, key)?;
        self.0.insert(p.to_string(), path.clone());
        Ok(path)
    }
}

/// A file named in the spec: relative to the spec's directory; must be a readable file.
fn input_file(base: &Path, p: &str, key: &str) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(!p.is_empty(), "`{key}`: empty path");
    let path = if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        base.join(p)
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {
            crate::fsio::open_regular(&path).with_context(|| format!("`{key}`: {}", path.display()))?;
            Ok(path)
        }
        Ok(_) => bail!("`{key}`: {}: not a regular file", path.display()),
        Err(e) => bail!("`{key}`: {}: {}", path.display(), crate::world::describe_io(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Spec {
        parse(text, Path::new("/nonexistent")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        format!("{:#}", parse(text, Path::new("/nonexistent")).unwrap_err())
    }

    #[test]
    fn defaults_apply_and_targets_override() {
        let s = parse_ok(
            r#"
            jobs = 8
            deadline = "90s"
            [defaults]
            timeout = "3s"
            runtimes = ["go", "openssl"]
            min_days = 14
            trusted_by = ["all"]
            [[target]]
            target = "a.example:443"
            [[target]]
            id = "db"
            target = "postgres://db.example:5432"
            starttls = "postgres"
            timeout = 2
            min_days = 30
            runtimes = ["rustls-native"]
            trusted_by = ["go"]
            tls_min = "1.3"
            client_cert_requested = false
            issuer = "Example CA"
            pin_sha256 = "AB:CD:ef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
            at = 2030-01-02T03:04:05Z
            "#,
        );
        assert_eq!(s.jobs, Some(8));
        assert_eq!(s.deadline, Some(Duration::from_secs(90)));
        let a = &s.jobs_list[0];
        assert_eq!(a.id, "a.example:443");
        assert_eq!(a.req.timeout, Duration::from_secs(3));
        assert_eq!(a.req.runtimes, vec![Runtime::Go, Runtime::Openssl]);
        assert_eq!(a.req.starttls, StarttlsArg::Auto);
        assert_eq!(a.expect.min_days, Some(14));
        assert_eq!(a.expect.trusted_by, TrustedBy::AllEvaluated);
        assert_eq!(a.req.at, None);
        let b = &s.jobs_list[1];
        assert_eq!(b.id, "db");
        assert_eq!(b.req.starttls, StarttlsArg::from_code("postgres").unwrap());
        assert_eq!(b.req.timeout, Duration::from_secs(2));
        assert_eq!(b.req.runtimes, vec![Runtime::RustlsNative]);
        assert_eq!(b.expect.min_days, Some(30));
        assert_eq!(b.expect.trusted_by, TrustedBy::Runtimes(vec![Runtime::Go]));
        assert_eq!(b.expect.tls_min, Some(TlsVersion::Tls13));
        assert_eq!(b.expect.client_cert_requested, Some(false));
        assert_eq!(b.expect.issuer.as_deref(), Some("Example CA"));
        assert_eq!(
            b.expect.pin_sha256,
            vec!["abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789".to_string()]
        );
        assert_eq!(b.req.at, Some(1_893_553_445));
    }

    #[test]
    fn empty_trusted_by_means_no_trust_expectation() {
        let s = parse_ok("[[target]]\ntarget = \"x:1\"\ntrusted_by = []\n");
        assert_eq!(s.jobs_list[0].expect.trusted_by, TrustedBy::Nobody);
        let s = parse_ok("[[target]]\ntarget = \"x:1\"\nruntimes = [\"all\"]\n");
        assert_eq!(s.jobs_list[0].req.runtimes, Runtime::ALL.to_vec());
    }

    #[test]
    fn relative_ca_paths_resolve_against_the_spec_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let s = parse(
            "[defaults]\nca = \"ca.pem\"\n[[target]]\ntarget = \"x:1\"\n",
            dir.path(),
        )
        .unwrap();
        assert_eq!(s.jobs_list[0].req.ca, vec![dir.path().join("ca.pem")]);
        let e = format!(
            "{:#}",
            parse(
                "[[target]]\ntarget = \"x:1\"\nca = [\"missing.pem\"]\n",
                dir.path()
            )
            .unwrap_err()
        );
        assert!(e.contains("missing.pem") && e.contains("no such file"), "{e}");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        for (text, needle) in [
            ("", "no targets"),
            ("[[target]]\nid = \"x\"\n", "missing `target`"),
            (
                "[[target]]\ntarget = \"x:1\"\nmin_dayz = 3\n",
                "unknown field `min_dayz`",
            ),
            (
                "[[target]]\ntarget = \"x:1\"\nruntimes = [\"java9\"]\n",
                "unknown runtime \"java9\"",
            ),
            (
                "[[target]]\ntarget = \"x:1\"\nstarttls = \"gopher\"\n",
                "`starttls = \"gopher\"`",
            ),
            (
                "[[target]]\ntarget = \"x:1\"\ntimeout = \"5 parsecs\"\n",
                "`timeout`",
            ),
            ("[[target]]\ntarget = \"x:1\"\ntls_min = \"1.9\"\n", "tls_min"),
            (
                "[[target]]\ntarget = \"x:1\"\npin_sha256 = \"abc\"\n",
                "64 hex digits",
            ),
            ("[[target]]\ntarget = \"x:1\"\nmin_days = -1\n", "min_days"),
            (
                "[[target]]\ntarget = \"x:1\"\n[[target]]\ntarget = \"x:1\"\n",
                "duplicate id",
            ),
            (
                "[defaults]\ntarget = \"x:1\"\n[[target]]\ntarget = \"y:1\"\n",
                "[defaults] cannot",
            ),
            ("jobs = 0\n[[target]]\ntarget = \"x:1\"\n", "at least 1"),
            (
                "[[target]]\ntarget = \"x:1\"\nclient_cert = \"c.pem\"\n",
                "go together",
            ),
            ("[[target]]\ntarget = \"x:1\"\nat = \"yesterday\"\n", "`at`"),
            ("[[target]\ntarget = 1", "TOML parse error"),
            (
                "[[target]]\ntarget = \"db.example:99999\"\n",
                "`target = \"db.example:99999\"`",
            ),
            (
                "[[target]]\ntarget = \"gopher://x\"\n",
                "`target = \"gopher://x\"`",
            ),
        ] {
            let e = parse_err(text);
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
