//! Runtimes as units: one module per runtime, one line in [`REGISTRY`].
//!
//! A runtime's module holds everything that is *about that runtime*: its id and title, the
//! environment variables it reads (one table that feeds `store`'s report, the man page's
//! ENVIRONMENT section and presence detection), how it is detected in a World, its store
//! resolution entry point, how it takes an explicit CA file, the engine it verifies with
//! and its own words. Nothing outside this module matches on the runtime to find those
//! out, so a runtime added here cannot fall through to another runtime's words.
//!
//! Adding a runtime: a file `src/runtimes/NAME.rs` with a `pub static UNIT: Unit`, and one
//! line in the `registry!` invocation below.

use std::fmt;

use crate::diagnose::openssl::OsslErr;
use crate::profiles::Profile;
use crate::trust::{Cx, TrustStore};
use crate::world::World;
use crate::x509::CertInfo;

/// Declares the runtime modules, the [`Runtime`] enum and the [`REGISTRY`] from one list.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)*) => {
        $(pub mod $module;)*

        /// A runtime whose trust decisions the tool reproduces (ids and order: [`REGISTRY`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Runtime {
            $($(#[$doc])* $variant,)*
        }

        /// Every runtime's unit, in the order reports list them.
        pub static REGISTRY: &[&Unit] = &[$(&$module::UNIT,)*];

        impl Runtime {
            /// Every runtime, in registry order.
            pub const ALL: [Runtime; [$(stringify!($variant),)*].len()] = [$(Runtime::$variant,)*];

            /// This runtime's unit.
            pub fn unit(self) -> &'static Unit {
                match self {
                    $(Runtime::$variant => &$module::UNIT,)*
                }
            }
        }
    };
}

registry! {
    /// Go's crypto/x509 system pool.
    Go => go,
    /// OpenSSL 3.x default verify paths (also: curl, Python ssl, psql, Ruby, PHP …).
    Openssl => openssl,
    /// rustls-native-certs (0.8.x) + rustls-webpki.
    RustlsNative => rustls_native,
    /// webpki-roots: Mozilla's list compiled into the program.
    WebpkiRoots => webpki_roots,
    /// Node.js: its compiled-in Mozilla list (or OpenSSL's paths) + NODE_EXTRA_CA_CERTS.
    Node => node,
    /// Python `ssl.create_default_context()`: OpenSSL's default paths.
    Python => python,
    /// Python requests: REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, else certifi's bundle.
    PythonRequests => python_requests,
    /// The curl tool (OpenSSL build): CURL_CA_BUNDLE / SSL_CERT_* / build-time defaults.
    Curl => curl,
    /// Java (JSSE PKIX): javax.net.ssl.trustStore, jssecacerts, cacerts (JKS / PKCS#12).
    Java => java,
    /// libpq (psql and every libpq program): sslmode, sslrootcert, PGSSL* on OpenSSL.
    Libpq => libpq,
    /// The MariaDB/MySQL client library (Connector/C, the `mariadb` tool): --ssl-ca, OpenSSL.
    MysqlClient => mysql_client,
    /// pgx (Go's PostgreSQL driver): sslmode, sslrootcert, else Go's system pool.
    Pgx => pgx,
    /// go-sql-driver/mysql (Go's MySQL driver): `tls=` (true, skip-verify, preferred, a registered config), Go's system pool.
    GoMysql => go_mysql,
}

/// Is a runtime always evaluated, or only when evidently present in the World?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Evaluated by default everywhere (go, openssl, rustls-native, webpki-roots).
    Core,
    /// Evaluated by default only when [`Unit::presence`] finds a sign of it.
    Extra,
}

/// One environment variable a runtime reads.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    /// Setting it is a sign the runtime is in use (presence detection).
    pub presence: bool,
    /// Its value may hold a password (proxy URLs): shown redacted.
    pub secret: bool,
}

impl EnvVar {
    /// A variable the runtime reads.
    pub const fn reads(name: &'static str) -> EnvVar {
        EnvVar {
            name,
            presence: false,
            secret: false,
        }
    }
    /// A variable the runtime reads whose being set says the runtime is in use.
    pub const fn marks(name: &'static str) -> EnvVar {
        EnvVar {
            name,
            presence: true,
            secret: false,
        }
    }
    /// A proxy variable (its value is shown with the password redacted).
    pub const fn proxy(name: &'static str) -> EnvVar {
        EnvVar {
            name,
            presence: false,
            secret: true,
        }
    }
}

/// How the runtime reads an explicit CA file (`--ca`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaFile {
    /// OpenSSL's `X509_STORE_load_file` (`-CAfile`, `load_verify_locations`, curl
    /// `--cacert`): PEM blocks, TRUSTED CERTIFICATE included; one bad block refuses the file.
    OpensslCafile,
    /// `AppendCertsFromPEM` / rustls-pemfile / node `ca:` / a keystore import: PEM
    /// `CERTIFICATE` blocks only, undecodable ones skipped.
    PemCertificates,
}

/// The verification engine a runtime uses, with what the runtime adds around it.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    /// Go crypto/x509 `Verify` as crypto/tls calls it.
    GoX509,
    /// OpenSSL's `X509_verify_cert` called directly (`openssl s_client`/`verify`, libssl).
    Openssl,
    /// An application on OpenSSL's `X509_verify_cert` with its own checks and words.
    OpensslApp(&'static OsslApp),
    /// rustls-webpki.
    Webpki,
    /// Java's PKIX path building (ends a path at any trusted certificate, like Go).
    Pkix,
}

/// Where an OpenSSL application checks the host name.
#[derive(Debug, Clone, Copy)]
pub enum HostCheck {
    /// Handed to OpenSSL (`X509_VERIFY_PARAM_set1_host`), checked during the chain.
    ByOpenssl,
    /// Checked by the application itself once the chain verified: Err(its message, in
    /// the words of the modelled version).
    After(fn(&CertInfo, &str, &Profile) -> Result<(), String>),
}

/// When the application sets `X509_V_FLAG_PARTIAL_CHAIN` (any trusted certificate ends the
/// chain, as in Go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialChain {
    Never,
    Always,
    /// When the profile has this rule (Python ≥ 3.13: `Rule::PyPartialChain`).
    When(crate::profiles::Rule),
}

/// An application on OpenSSL: what it adds to `X509_verify_cert` and how it words errors.
#[derive(Debug, Clone, Copy)]
pub struct OsslApp {
    pub host_check: HostCheck,
    pub partial_chain: PartialChain,
    /// Sets `X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS` (`w*.example.com` matches nothing).
    pub no_partial_wildcards: bool,
    /// Sets `X509_CHECK_FLAG_NEVER_CHECK_SUBJECT` (no subject CN fallback).
    pub never_check_subject: bool,
    /// Reports the last error OpenSSL set (a verify callback that accepts everything and
    /// reads the result afterwards) rather than the first.
    pub reports_last_error: bool,
    /// Sets `X509_V_FLAG_X509_STRICT` when the profile has this rule (Python ≥ 3.13).
    pub strict: Option<crate::profiles::Rule>,
    /// The OpenSSL security level when the profile carries one (node: by build), else 2.
    pub security_level: Option<crate::profiles::Rule>,
    /// The runtime's message for the error it reports; `name` is the checked name; the
    /// words are those of the modelled version.
    pub message: fn(&OsslErr, &str, &Profile) -> String,
}

/// Everything the tool knows about one runtime.
pub struct Unit {
    pub runtime: Runtime,
    /// The stable code used on the command line and in JSON.
    pub id: &'static str,
    /// A name for humans.
    pub title: &'static str,
    pub tier: Tier,
    /// The variables it reads, in the order it reads them.
    pub env: &'static [EnvVar],
    /// Program names whose presence on `PATH` says it is installed.
    pub binaries: &'static [&'static str],
    /// Further signs of presence (a package directory, a home): Some(why).
    pub present_also: Option<fn(&World) -> Option<String>>,
    /// Its store in a World.
    pub resolve: fn(&Cx) -> TrustStore,
    pub ca_file: CaFile,
    pub engine: Engine,
    /// The family of versions whose rows it verifies with ([`crate::profiles`]); None: no
    /// behaviour of this runtime is modelled per version.
    pub profile: Option<crate::detect::Kind>,
    /// For Kubernetes fixes: how this runtime is pointed at a mounted CA when
    /// `SSL_CERT_FILE` is not enough (None: `SSL_CERT_FILE` does it).
    pub own_ca_variable: Option<&'static str>,
    /// A database client: its protocols, its connection settings and its words.
    pub client: Option<&'static Client>,
}

/// How much of the server certificate a database client checks, as it is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing: encrypted (or not at all), any certificate accepted.
    Nothing,
    /// The chain up to a trusted root, not the name (libpq verify-ca, MySQL VERIFY_CA).
    Chain,
    /// The chain and the host name.
    Full,
}

/// What a database client's settings make of a connection (sslmode, ssl-mode, tls=…).
#[derive(Debug, Clone)]
pub struct Policy {
    pub check: Check,
    /// The settings that decided it, in the client's own terms, with where each came from:
    /// `sslmode=verify-full (PGSSLMODE), sslrootcert=/etc/pg/ca.crt (URL)`.
    pub setting: String,
    /// The client stops before any verification with this message (a missing root file,
    /// a refused combination of settings).
    pub error: Option<String>,
    /// What the client says when only the host name fails (None: the engine's words).
    pub name_message: Option<String>,
    /// Said with a verdict that passes without checking (what a failure would fall back
    /// to, what is not checked); None when the check is complete.
    pub note: Option<String>,
    /// The one change that makes this client verify (a DSN parameter, an option).
    pub fix: String,
    /// A failed verification is accepted anyway, and why (MariaDB 11 without an explicit
    /// CA).
    pub tolerated: Option<String>,
    /// [`Policy::tolerated`] only when every cause is one of these (None: any failure).
    pub tolerate_only: Option<&'static [crate::diagnose::Cause]>,
}

/// What a database client's settings are read from.
pub struct ClientCx<'a> {
    pub world: &'a World,
    /// The target URL's query parameters, in order.
    pub params: &'a [(String, String)],
    /// `--ca` gave the CA file(s): the client's own CA option (sslrootcert, --ssl-ca).
    pub explicit_ca: bool,
    /// The host connected to (None: offline `verify`).
    pub host: Option<&'a str>,
    /// The client's store as resolved.
    pub store: &'a TrustStore,
}

impl ClientCx<'_> {
    /// A URL parameter (the last one wins, as in libpq and the Go drivers).
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// Is the host connected to a loopback address (or `localhost`)?
    pub fn loopback(&self) -> bool {
        self.host.is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        })
    }
}

/// One version rule of a runtime: the version it appears in, what it does, how a program
/// gets the other behaviour (its escape hatch). Code asks the module's `has(version, Rule)`.
#[derive(Debug, Clone, Copy)]
pub struct VersionRow<R: 'static> {
    pub since: crate::detect::Version,
    pub rule: R,
    pub behaviour: &'static str,
    pub escape: &'static str,
}

impl<R: PartialEq> VersionRow<R> {
    /// Does `v` have `rule`, per `rows`?
    pub fn has(rows: &[VersionRow<R>], v: crate::detect::Version, rule: R) -> bool {
        rows.iter().any(|r| r.rule == rule && v >= r.since)
    }
}

/// A version rule as documented: (since, behaviour, escape hatch).
pub type DocRow = (crate::detect::Version, &'static str, &'static str);

/// A database client (libpq, the MySQL client library, the Go drivers).
pub struct Client {
    /// The protocol units (`probe::protocols`) it speaks: a target of one of them is
    /// judged by it by default.
    pub protocols: &'static [&'static str],
    /// The URL parameters it reads from a target such as `postgres://h/db?sslmode=…`.
    pub params: &'static [&'static str],
    /// Its settings: what it checks, and what it says.
    pub policy: fn(&ClientCx) -> Policy,
    /// The engine's message as the client reports it.
    pub words: fn(&str) -> String,
    /// How this client, as set up in its store, is made to trust the CA `name` (whose
    /// PEM is `file`): its own CA setting.
    pub ca_fix: fn(&TrustStore, &str, &str) -> String,
    /// Its version rules, for the documentation's table.
    pub version_rules: fn() -> Vec<DocRow>,
    /// How its version is detected in a World.
    pub detection: &'static str,
}

/// The table of every database client's version rules (docs/TRUST-RULES.md holds it;
/// `tests/registry.rs` keeps the two equal).
pub fn version_rules_table() -> String {
    let mut out =
        String::from("| runtime | since | behaviour | escape hatch | detection |\n|---|---|---|---|---|\n");
    for u in REGISTRY {
        let Some(c) = u.client else { continue };
        for (since, behaviour, escape) in (c.version_rules)() {
            let v = match since.patch {
                Some(p) => format!("{}.{}.{p}", since.major, since.minor),
                None if since.minor == 0 => format!("{}", since.major),
                None => format!("{}.{}", since.major, since.minor),
            };
            out.push_str(&format!(
                "| `{}` | {v} | {behaviour} | {escape} | {} |\n",
                u.id, c.detection
            ));
        }
    }
    out
}

/// The database clients' settings applied to their stores (after resolution, for the
/// World as for `--ca`): a client that stops before verifying has its error and no
/// anchors, every other carries its [`Policy`] for the diagnosis.
pub fn apply_clients(
    stores: &mut [TrustStore],
    world: &World,
    params: &[(String, String)],
    host: Option<&str>,
) {
    for s in stores.iter_mut() {
        let Some(c) = s.runtime.unit().client else {
            continue;
        };
        let p = (c.policy)(&ClientCx {
            world,
            params,
            explicit_ca: s.explicit,
            host,
            store: s,
        });
        if let Some(e) = &p.error {
            s.error = Some(e.clone());
            s.anchors.clear();
        }
        s.assumptions.push(format!("{}: {}", s.runtime.code(), p.setting));
        s.policy = Some(p);
    }
}

/// Go's system pool as a program using a Go driver has it (`x509.SystemCertPool`), named
/// for that driver.
pub(crate) fn go_pool(cx: &Cx, runtime: Runtime) -> TrustStore {
    let mut s = crate::trust::go::resolve(cx);
    s.runtime = runtime;
    for f in &mut s.findings {
        for r in &mut f.runtimes {
            if r == "go" {
                *r = runtime.code().to_string();
            }
        }
    }
    s
}

/// A CA file read as Go's `AppendCertsFromPEM` reads it (a Go driver's CA setting):
/// `CERTIFICATE` blocks, undecodable ones skipped.
pub(crate) fn go_pem_file(cx: &Cx, runtime: Runtime, path: &str, why: &str) -> TrustStore {
    use crate::trust::{loader::ReadErr, Outcome, Pool, Step, StepKind};
    let mut store = TrustStore::empty(runtime);
    let p = std::path::Path::new(path);
    let loaded = cx.loader.file(p);
    let (outcome, n, reason) = match &*loaded {
        Ok(c) => {
            let mut pool = Pool::new();
            let mut n = 0;
            for (b, cert) in c.pem_certificates() {
                n += 1;
                pool.add(cert, p, &c.resolved, b);
            }
            store.anchors = pool.anchors;
            (Outcome::Loaded, n, why.to_string())
        }
        Err(ReadErr::Missing) => (Outcome::Missing, 0, why.to_string()),
        Err(e) => (Outcome::Error, 0, format!("{}; {why}", e.describe())),
    };
    store.steps.push(Step {
        source: path.to_string(),
        kind: StepKind::File,
        outcome,
        anchors: n,
        reason: Some(reason),
    });
    store
}

/// The module path a Go program in the World links (`--exe`, `--pid`), when it does.
pub(crate) fn go_program_links(world: &World, module: &str) -> Option<String> {
    let d = crate::detect::go_program(world)?.ok()?;
    let m = d.go()?.info.dep(module)?;
    Some(format!("{} links {} {}", d.source, m.path, m.version))
}

/// The runtimes that judge a target of this protocol by default: its database clients
/// plus Go and OpenSSL (None: not a database protocol — the usual set).
pub fn clients_of(protocol: &str) -> Option<Vec<Runtime>> {
    let clients: Vec<Runtime> = REGISTRY
        .iter()
        .filter(|u| u.client.is_some_and(|c| c.protocols.contains(&protocol)))
        .map(|u| u.runtime)
        .collect();
    if clients.is_empty() {
        return None;
    }
    let mut v = vec![Runtime::Go, Runtime::Openssl];
    v.extend(clients);
    Some(v)
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The runtimes always evaluated by default.
    pub fn core() -> Vec<Runtime> {
        Runtime::ALL.into_iter().filter(|r| !r.is_extra()).collect()
    }

    /// Runtimes built on top of others (Node, Python, curl, Java): evaluated by default
    /// only when evidently relevant in the World ([`presence`]).
    pub fn extra() -> Vec<Runtime> {
        Runtime::ALL.into_iter().filter(|r| r.is_extra()).collect()
    }

    /// Does an explicit CA file go to OpenSSL's `X509_STORE_load_file`?
    pub fn openssl_cafile(self) -> bool {
        self.unit().ca_file == CaFile::OpensslCafile
    }

    /// Is this an [`Tier::Extra`] runtime?
    pub fn is_extra(self) -> bool {
        self.unit().tier == Tier::Extra
    }

    /// The stable code used on the command line and in JSON.
    pub fn code(self) -> &'static str {
        self.unit().id
    }

    /// A name for humans.
    pub fn title(self) -> &'static str {
        self.unit().title
    }

    /// The runtime with this id.
    pub fn from_id(id: &str) -> Option<Runtime> {
        REGISTRY.iter().find(|u| u.id == id).map(|u| u.runtime)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Runtime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl clap::ValueEnum for Runtime {
    fn value_variants<'a>() -> &'a [Self] {
        &Runtime::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.code()).help(self.title()))
    }
}

/// Why a runtime is evidently relevant in this World (None: no sign of it). Core runtimes
/// always are.
pub fn presence(world: &World, r: Runtime) -> Option<String> {
    let u = r.unit();
    if u.tier == Tier::Core {
        return Some("core runtime".into());
    }
    if let Some(v) = u
        .env
        .iter()
        .filter(|v| v.presence)
        .find(|v| world.var_nonempty(v.name).is_some())
    {
        return Some(format!("{} is set", v.name));
    }
    for b in u.binaries {
        if let Some(p) = crate::trust::extra::which(world, b) {
            return Some(format!("{} is present", crate::trust::loader::disp(&p)));
        }
    }
    u.present_also.and_then(|f| f(world))
}

/// Every variable some runtime reads, once, in registry order.
pub fn env_vars() -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = Vec::new();
    for u in REGISTRY {
        for v in u.env {
            if !out.iter().any(|o| o.name == v.name) {
                out.push(*v);
            }
        }
    }
    out
}

/// The runtimes that read `var`, in registry order.
pub fn readers(var: &str) -> Vec<Runtime> {
    REGISTRY
        .iter()
        .filter(|u| u.env.iter().any(|v| v.name == var))
        .map(|u| u.runtime)
        .collect()
}

/// The man page's list of variables (roff): variables read by the same runtimes are
/// grouped, each group followed by the titles of those runtimes.
pub fn man_environment() -> String {
    let mut groups: Vec<(Vec<Runtime>, Vec<&'static str>)> = Vec::new();
    for v in env_vars() {
        let who = readers(v.name);
        match groups.iter_mut().find(|(w, _)| *w == who) {
            Some((_, names)) => names.push(v.name),
            None => groups.push((who, vec![v.name])),
        }
    }
    groups
        .iter()
        .map(|(who, names)| {
            let names: Vec<String> = names.iter().map(|n| format!("\\fB{n}\\fR")).collect();
            let titles: Vec<String> = who.iter().map(|r| r.title().replace('-', "\\-")).collect();
            format!("{} ({})", names.join(", "), titles.join(", "))
        })
        .collect::<Vec<_>>()
        .join(";\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_units_name_their_own_runtime() {
        for (i, u) in REGISTRY.iter().enumerate() {
            assert_eq!(u.runtime, Runtime::ALL[i], "{}", u.id);
            assert_eq!(u.runtime.unit().id, u.id);
            assert_eq!(Runtime::from_id(u.id), Some(u.runtime));
            assert!(REGISTRY.iter().filter(|x| x.id == u.id).count() == 1, "{}", u.id);
        }
    }

    #[test]
    fn extra_runtimes_have_a_sign_of_presence() {
        for u in REGISTRY.iter().filter(|u| u.tier == Tier::Extra) {
            assert!(
                u.env.iter().any(|v| v.presence) || !u.binaries.is_empty() || u.present_also.is_some(),
                "{} can never be found present",
                u.id
            );
        }
    }
}
