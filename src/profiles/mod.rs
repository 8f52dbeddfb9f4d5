//! Profiles as data: what changes with a runtime's version and build, as rows.
//!
//! A [`Row`] says: from this version (and until that one), for this build, the runtime
//! behaves so; this is how a program turns it off (a GODEBUG setting, a context flag, a
//! build option); this is how the version is detected. A [`Profile`] is one runtime's
//! modelled version and build, with where they were learned; code asks
//! [`Profile::has`]`(Rule::…)` and never compares version numbers itself.
//!
//! Adding a family of versions (a database client, say): a file `src/profiles/NAME.rs`
//! with a `pub static FAMILY: Family`, one line in [`FAMILIES`], and the runtime's unit
//! naming the [`Kind`] in `Unit::profile`. `docs/RUNTIME-VERSIONS.md` is checked against
//! the rows by a test.
//!
//! Detection order (issue 8): `--runtime go@1.24` (a pin), then the program file
//! (`--exe`, `--pid`: a Go binary's build info, the `libssl` mapped into the process), then
//! the World (python3.N, libcrypto's version string, the nodejs build, curl's package). A
//! version nothing reveals, or one newer than every known version, is modelled as the
//! newest known one, and the profile's note says so.

pub mod curl;
pub mod go;
pub mod node;
pub mod openssl;
pub mod python;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

pub use crate::detect::{Kind, Source, Version};
use crate::runtimes::Runtime;
use crate::world::World;

/// Every family of versioned behaviour, one line each.
pub static FAMILIES: &[&Family] = &[
    &go::FAMILY,
    &openssl::FAMILY,
    &python::FAMILY,
    &node::FAMILY,
    &curl::FAMILY,
];

/// A behaviour that depends on the version or build. Closed: every row names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    // ---- Go (crypto/tls, crypto/x509)
    /// crypto/tls wraps Verify's error: `tls: failed to verify certificate: x509: …`.
    GoVerifyErrorPrefix,
    /// Name constraints are checked against the SANs of every certificate in the chain,
    /// not only the leaf and the candidate.
    GoNameConstraintsWholeChain,
    /// A candidate issuer with a key Go cannot parse is skipped (earlier: a panic in
    /// `alreadyInChain`, CVE-2024-24783).
    GoNilKeyCandidateSkipped,
    /// SHA-1 (and MD5) signatures are rejected: `insecure algorithm SHA1-RSA`.
    GoSha1Rejected,
    /// The SHA-1 error says `(temporarily override with GODEBUG=x509sha1=1)`.
    GoSha1OverrideHint,
    /// `ParseCertificate` rejects a negative serial number.
    GoNegativeSerialRejected,
    /// `ParseCertificate` rejects an AKI, SKI or AIA extension marked critical.
    GoCriticalKeyIdsRejected,
    /// A duplicate extension is named: `duplicate extension with OID "2.5.29.17"`.
    GoDuplicateExtensionOid,
    /// A dNSName constraint with a leading period (`.example.com`) parses (as an empty
    /// first label); a SAN dNSName like that is "cannot parse dnsName" under constraints.
    GoLeadingPeriodLabel,
    /// A bare `*` SAN is not a valid host name pattern (it matched any one-label name).
    GoBareWildcardInvalid,
    /// RSA keys under 1024 bits are refused: `crypto/rsa: 768-bit keys are insecure`.
    GoRsaMin1024,
    // ---- Python ssl
    /// `create_default_context()` sets `VERIFY_X509_STRICT`.
    PyX509Strict,
    /// `create_default_context()` sets `VERIFY_X509_PARTIAL_CHAIN`.
    PyPartialChain,
    /// The line of `_ssl.c` in every `SSLError` text (the row's parameter).
    PySslLine,
    // ---- Node.js
    /// The build verifies with the system OpenSSL's store (Debian's nodejs), not its
    /// compiled-in Mozilla list.
    NodeSystemStore,
    /// The OpenSSL security level the build runs at (the row's parameter).
    NodeSecurityLevel,
    // ---- curl
    /// The name-mismatch text says `target hostname` (one word).
    CurlHostnameOneWord,
}

/// How a program gets the earlier behaviour back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// None: the behaviour cannot be turned off.
    None,
    /// A GODEBUG setting (in the environment, in go.mod's `godebug` block or a
    /// `//go:debug` line — recorded as DefaultGODEBUG in the binary) with this value.
    Godebug { name: &'static str, value: &'static str },
    /// A change to the SSL context the program makes.
    ContextFlag(&'static str),
    /// How the runtime was built (another build behaves otherwise).
    BuildOption(&'static str),
    /// A command-line option of the program.
    Option(&'static str),
}

impl fmt::Display for Escape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Escape::None => f.write_str("none"),
            Escape::Godebug { name, value } => write!(f, "GODEBUG {name}={value}"),
            Escape::ContextFlag(s) => write!(f, "context: {s}"),
            Escape::BuildOption(s) => write!(f, "build: {s}"),
            Escape::Option(s) => write!(f, "option: {s}"),
        }
    }
}

/// Which builds a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildIs {
    Any,
    /// A distribution's build on the system libraries (Debian's nodejs: libnode, the
    /// system OpenSSL).
    Distro,
    /// A self-contained upstream build (NodeSource, nodejs.org: bundled OpenSSL).
    Bundled,
}

/// One version rule.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub kind: Kind,
    pub rule: Rule,
    /// The first version with this behaviour.
    pub since: Version,
    /// The first version without it again.
    pub until: Option<Version>,
    pub build: BuildIs,
    /// A value the behaviour carries (`_ssl.c` line, security level); 0 when none.
    pub param: u32,
    pub behaviour: &'static str,
    pub escape: Escape,
}

/// A family of versions: one runtime's (or library's) rows and how it is detected.
pub struct Family {
    pub kind: Kind,
    pub title: &'static str,
    /// The versions modelled, oldest first; an unknown one is modelled as the newest.
    pub known: &'static [Version],
    /// How the version and build are detected, in order (for the docs).
    pub detection: &'static str,
    /// Detection in the World (after the pin and the program file).
    pub detect: fn(&World) -> Option<crate::detect::Detected>,
    pub rows: &'static [Row],
}

impl Family {
    pub fn of(kind: Kind) -> Option<&'static Family> {
        FAMILIES.iter().copied().find(|f| f.kind == kind)
    }

    pub fn newest(&self) -> Version {
        *self.known.last().expect("a family knows a version")
    }
}

/// The version and build of one runtime as modelled, and where they were learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub kind: Kind,
    /// The version whose rows apply.
    pub version: Version,
    /// The version as the runtime names itself (`go1.24.4`, `OpenSSL 3.5.9 29 Sep 2026`).
    pub detected: Option<String>,
    pub source: Source,
    /// Set when the modelled version is not the detected one (unknown or undetected).
    pub note: Option<String>,
    /// The build (node): distro or bundled; Any when not told apart.
    pub build: BuildIs,
    /// GODEBUG settings in force, as the program would read them: the environment's
    /// `GODEBUG` over the binary's DefaultGODEBUG (name, value, where from).
    pub godebug: Vec<(String, String, String)>,
}

impl Profile {
    /// The profile of a version (no detection: a pin or a test).
    pub fn of(kind: Kind, version: Version, source: Source) -> Profile {
        let fam = Family::of(kind).expect("a known family");
        let (version, note) = fit(fam, version);
        Profile {
            kind,
            version,
            detected: None,
            source,
            note,
            build: BuildIs::Any,
            godebug: vec![],
        }
    }

    /// Nothing detected: the newest known version, said as an assumption.
    pub fn assumed(kind: Kind) -> Profile {
        let fam = Family::of(kind).expect("a known family");
        Profile {
            kind,
            version: fam.newest(),
            detected: None,
            source: Source::Assumed,
            note: Some(format!(
                "no {} version found here: modelled as the newest known, {}",
                fam.title,
                fam.newest()
            )),
            build: BuildIs::Any,
            godebug: vec![],
        }
    }

    /// The rows that apply to this version and build, GODEBUG escapes not considered.
    pub fn rows(&self) -> impl Iterator<Item = &'static Row> + '_ {
        Family::of(self.kind)
            .map(|f| f.rows)
            .unwrap_or(&[])
            .iter()
            .filter(move |r| {
                let at = self.at();
                at_least(at, r.since)
                    && r.until.is_none_or(|u| !at_least(at, u))
                    && (r.build == BuildIs::Any || r.build == self.build)
            })
    }

    /// The modelled version as rows compare it: a version without a patch number (a pin,
    /// a directory name) counts as that release's newest patch.
    fn at(&self) -> (u32, u32, u32) {
        (
            self.version.major,
            self.version.minor,
            self.version.patch.unwrap_or(u32::MAX),
        )
    }

    /// Is this row's behaviour turned off by a GODEBUG setting in force?
    fn escaped(&self, r: &Row) -> bool {
        match r.escape {
            Escape::Godebug { name, value } => self
                .godebug
                .iter()
                .rev()
                .find(|(k, _, _)| k == name)
                .is_some_and(|(_, v, _)| v == value),
            _ => false,
        }
    }

    /// Does this behaviour apply?
    pub fn has(&self, rule: Rule) -> bool {
        self.rows().any(|r| r.rule == rule && !self.escaped(r))
    }

    /// The parameter of the newest row of `rule` that applies.
    pub fn param(&self, rule: Rule) -> Option<u32> {
        self.rows()
            .filter(|r| r.rule == rule && !self.escaped(r))
            .max_by_key(|r| r.since)
            .map(|r| r.param)
    }

    /// `Go 1.24.4` / `Node.js 20.19.2, distribution build`.
    pub fn title(&self) -> String {
        let fam = Family::of(self.kind).map(|f| f.title).unwrap_or("");
        let build = match self.build {
            BuildIs::Distro => ", distribution build",
            BuildIs::Bundled => ", bundled build",
            BuildIs::Any => "",
        };
        format!("{fam} {}{build}", self.version)
    }
}

/// Is `at` (major, minor, patch) at or after `v` (a row bound; no patch = `.0`)?
fn at_least(at: (u32, u32, u32), v: Version) -> bool {
    at >= (v.major, v.minor, v.patch.unwrap_or(0))
}

/// A version outside the known range: newer → the newest known; older → the oldest.
fn fit(fam: &Family, v: Version) -> (Version, Option<String>) {
    let newest = fam.newest();
    let oldest = fam.known[0];
    let key = |x: Version| (x.major, x.minor);
    if key(v) > key(newest) {
        return (
            newest,
            Some(format!(
                "{} {v} is newer than any version modelled: modelled as {newest}",
                fam.title
            )),
        );
    }
    if key(v) < key(oldest) {
        return (
            oldest,
            Some(format!(
                "{} {v} is older than any version modelled: modelled as {oldest}",
                fam.title
            )),
        );
    }
    (v, None)
}

/// A version pinned on the command line (`--runtime go@1.24`), by family.
pub type Pins = Vec<(Kind, Version)>;

/// The profile of one family in a World: the pin, the program file, the World, else
/// the newest known version.
pub fn detect(world: &World, kind: Kind, pins: &[(Kind, Version)]) -> Profile {
    let fam = Family::of(kind).expect("a known family");
    let pinned = pins.iter().rev().find(|(k, _)| *k == kind).map(|(_, v)| *v);
    // Go: the program file first (`--exe`, `/proc/N/exe`), whose build info names the
    // toolchain. OpenSSL's detection looks at the process's mapped libcrypto itself.
    let found = match kind {
        Kind::Go => crate::detect::go_program(world).and_then(|r| r.ok()),
        _ => None,
    }
    .or_else(|| (fam.detect)(world));
    let mut p = match (pinned, &found) {
        (Some(v), _) => Profile::of(kind, v, Source::Flag),
        (None, Some(d)) => match d.version {
            Some(v) => {
                let mut p = Profile::of(kind, v, d.source.clone());
                p.detected = Some(d.text.clone());
                p
            }
            None => {
                let mut p = Profile::assumed(kind);
                p.detected = Some(d.text.clone());
                p.source = d.source.clone();
                p.note = Some(format!(
                    "{}: no version number: modelled as the newest known, {}",
                    d.text,
                    fam.newest()
                ));
                p
            }
        },
        (None, None) => Profile::assumed(kind),
    };
    if let Some(d) = &found {
        if let crate::detect::Build::Node { debian } = d.build {
            p.build = if debian { BuildIs::Distro } else { BuildIs::Bundled };
        }
        if let Some(g) = d.go() {
            for (k, v) in &g.default_godebug {
                p.godebug.push((k.clone(), v.clone(), "DefaultGODEBUG".into()));
            }
        }
    }
    if kind == Kind::Node && p.build == BuildIs::Any {
        p.build = node::build_in(world);
    }
    if kind == Kind::Go {
        if let Some(env) = world.var_nonempty("GODEBUG") {
            for (k, v) in crate::detect::gobuildinfo::parse_godebug(env) {
                p.godebug.push((k, v, "GODEBUG".into()));
            }
        }
    }
    p
}

/// Profiles detected once per World and pins (several runtimes share a family: python
/// and python-requests, and `check` asks for every target).
#[derive(Debug, Default)]
pub struct Cache {
    done: Mutex<HashMap<Kind, Profile>>,
}

impl Cache {
    pub fn get(&self, world: &World, kind: Kind, pins: &[(Kind, Version)]) -> Profile {
        if let Some(p) = self.done.lock().unwrap_or_else(|e| e.into_inner()).get(&kind) {
            return p.clone();
        }
        let p = detect(world, kind, pins);
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind, p.clone());
        p
    }
}

/// The profile a runtime verifies with in this World (None: the runtime has no versioned
/// behaviour modelled).
pub fn for_runtime(
    world: &World,
    runtime: Runtime,
    pins: &[(Kind, Version)],
    cache: &Cache,
) -> Option<Profile> {
    runtime.unit().profile.map(|k| cache.get(world, k, pins))
}

/// Every row, family by family (the docs table and its test).
pub fn all_rows() -> impl Iterator<Item = &'static Row> {
    FAMILIES.iter().flat_map(|f| f.rows.iter())
}

/// The rows as the Markdown table `docs/RUNTIME-VERSIONS.md` carries (a test keeps the
/// two equal): runtime, versions, build, rule, behaviour, escape hatch, detection.
pub fn docs_table() -> String {
    let mut out = String::from(
        "| runtime | versions | build | rule | behaviour | escape hatch | detected from |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    for f in FAMILIES {
        for r in f.rows {
            let since = if r.since == Version::new(0, 0, None) {
                None
            } else {
                Some(r.since)
            };
            let versions = match (since, r.until) {
                (None, None) => "all".to_string(),
                (Some(s), None) => format!("≥ {s}"),
                (None, Some(u)) => format!("< {u}"),
                (Some(s), Some(u)) => format!("≥ {s}, < {u}"),
            };
            let versions = if r.param != 0 {
                format!("{versions} ({})", r.param)
            } else {
                versions
            };
            let build = match r.build {
                BuildIs::Any => "any",
                BuildIs::Distro => "distribution",
                BuildIs::Bundled => "bundled",
            };
            let detected = match (r.escape, r.build) {
                (Escape::Godebug { .. }, _) => "the version, then GODEBUG (environment, DefaultGODEBUG)",
                (_, BuildIs::Any) => "the version",
                _ => "the build",
            };
            out.push_str(&format!(
                "| {} | {versions} | {build} | `{:?}` | {} | {} | {detected} |\n",
                f.title,
                r.rule,
                cell(r.behaviour),
                cell(&r.escape.to_string()),
            ));
        }
    }
    out.push_str(
        "\n| runtime | versions modelled | how the version and build are detected |\n|---|---|---|\n",
    );
    for f in FAMILIES {
        let known: Vec<String> = f.known.iter().map(|v| v.to_string()).collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            f.title,
            known.join(", "),
            cell(f.detection)
        ));
    }
    out
}

/// Parse `ID@VERSION` (the `--runtime` value and a check spec's `runtimes` entries):
/// (id, version).
pub fn split_pin(s: &str) -> Result<(&str, Option<Version>), String> {
    match s.split_once('@') {
        None => Ok((s, None)),
        Some((id, v)) => {
            let ver = Version::parse(v).ok_or_else(|| {
                format!("{s:?}: expected a version after '@', such as go@1.24 or python@3.13")
            })?;
            Ok((id, Some(ver)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: u32, b: u32) -> Version {
        Version::new(a, b, None)
    }

    #[test]
    fn rows_are_well_formed() {
        for f in FAMILIES {
            assert!(f.known.windows(2).all(|w| w[0] < w[1]), "{}", f.title);
            for r in f.rows {
                assert_eq!(r.kind, f.kind, "{:?}", r.rule);
                assert!(r.until.is_none_or(|u| r.since < u), "{:?}", r.rule);
                assert!(!r.behaviour.is_empty());
            }
        }
    }

    #[test]
    fn go_versions_and_godebug() {
        let p = Profile::of(Kind::Go, v(1, 19), Source::Flag);
        assert!(!p.has(Rule::GoVerifyErrorPrefix) && p.has(Rule::GoSha1OverrideHint));
        let mut p = Profile::of(Kind::Go, v(1, 24), Source::Flag);
        assert!(p.has(Rule::GoVerifyErrorPrefix) && p.has(Rule::GoNegativeSerialRejected));
        assert!(p.has(Rule::GoRsaMin1024) && !p.has(Rule::GoSha1OverrideHint));
        p.godebug
            .push(("x509negativeserial".into(), "1".into(), "GODEBUG".into()));
        p.godebug.push(("x509sha1".into(), "1".into(), "GODEBUG".into()));
        assert!(!p.has(Rule::GoNegativeSerialRejected));
        // x509sha1 is gone in 1.24: SHA-1 stays rejected.
        assert!(p.has(Rule::GoSha1Rejected));
        let mut p = Profile::of(Kind::Go, v(1, 21), Source::Flag);
        p.godebug.push(("x509sha1".into(), "1".into(), "GODEBUG".into()));
        assert!(!p.has(Rule::GoSha1Rejected));
    }

    #[test]
    fn unknown_versions_are_modelled_as_the_nearest_known() {
        let p = Profile::of(Kind::Go, v(1, 31), Source::Flag);
        assert_eq!(p.version, v(1, 25));
        assert!(p
            .note
            .as_deref()
            .unwrap()
            .contains("newer than any version modelled"));
        let p = Profile::assumed(Kind::Python);
        assert_eq!(p.version, v(3, 13));
        assert_eq!(p.source, Source::Assumed);
    }

    #[test]
    fn pins_parse() {
        assert_eq!(split_pin("go@1.24").unwrap(), ("go", Some(v(1, 24))));
        assert_eq!(split_pin("go").unwrap(), ("go", None));
        assert!(split_pin("go@new").is_err());
    }
}
