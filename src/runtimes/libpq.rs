//! libpq, PostgreSQL's client library (psql, pg_dump and every program on libpq): the
//! root file `sslrootcert` (URL, `PGSSLROOTCERT`, else `~/.postgresql/root.crt`, or
//! `sslrootcert=system` — OpenSSL's default paths — from libpq 16), `sslmode` (URL,
//! `PGSSLMODE`, else `prefer`) deciding what is checked, OpenSSL's `X509_verify_cert`
//! without partial chains, then libpq's own host name check, in libpq's words.
//!
//! `sslmode` as libpq applies it (fe-secure-openssl.c `initialize_SSL`): a root file that
//! exists is loaded and the chain verified in *every* mode that uses TLS (so `require` with
//! a root file behaves as `verify-ca`); without one, `verify-ca`/`verify-full` stop before
//! connecting and the other modes verify nothing; only `verify-full` checks the name.

use std::path::{Path, PathBuf};

use super::{
    CaFile, Check, Client, ClientCx, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Policy, Runtime, Tier,
    Unit, VersionRow,
};
use crate::detect::Version;
use crate::diagnose::openssl::OsslErr;
use crate::trust::openssl::{self, Paths};
use crate::trust::{Cx, Outcome, Step, StepKind, TrustStore};
use crate::world::World;
use crate::x509::CertInfo;

pub static UNIT: Unit = Unit {
    // Version rules are this client's own rows (see its `RULES`), not a profile family.
    profile: None,
    runtime: Runtime::Libpq,
    id: "libpq",
    title: "libpq (PostgreSQL client)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("PGSSLMODE"),
        EnvVar::marks("PGSSLROOTCERT"),
        EnvVar::reads("PGSSLCRL"),
        EnvVar::reads("PGSSLCERT"),
        EnvVar::reads("PGSSLKEY"),
        EnvVar::reads("PGSSLNEGOTIATION"),
        EnvVar::marks("PGHOST"),
        // The default root file is under $HOME (else the passwd entry's home).
        EnvVar::reads("HOME"),
        // sslrootcert=system: OpenSSL's default paths.
        EnvVar::reads("SSL_CERT_FILE"),
        EnvVar::reads("SSL_CERT_DIR"),
    ],
    binaries: &["psql", "pg_dump"],
    present_also: Some(present),
    resolve,
    // sslrootcert=FILE: SSL_CTX_load_verify_locations, OpenSSL's file loader.
    ca_file: CaFile::OpensslCafile,
    engine: Engine::OpensslApp(&APP),
    own_ca_variable: Some("PGSSLROOTCERT (or sslrootcert=) for libpq"),
    client: Some(&CLIENT),
};

static APP: OsslApp = OsslApp {
    strict: None,
    security_level: None,
    // pq_verify_peer_name_matches_certificate, after the handshake (verify-full only).
    host_check: HostCheck::After(host_check),
    partial_chain: PartialChain::Never,
    no_partial_wildcards: false,
    never_check_subject: false,
    reports_last_error: false,
    message,
};

static CLIENT: Client = Client {
    protocols: &["postgres", "postgres-direct"],
    params: &["sslmode", "sslrootcert"],
    policy,
    words: |m| m.to_string(),
    ca_fix,
    version_rules: || ROWS.iter().map(|r| (r.since, r.behaviour, r.escape)).collect(),
    detection: "the file name of `libpq.so.5.N` (PostgreSQL N), else the dpkg database (`libpq5`)",
};

/// What changes with libpq's major version (rows: the version a rule appears in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `sslrootcert=system` is OpenSSL's default store, and only `verify-full` may use it
    /// (an unset sslmode becomes verify-full); before, "system" is a file name.
    SystemRoots,
    /// The missing-root-file message also offers `sslrootcert=system`.
    SystemHint,
}

/// Measured with libpq 15 (Debian 12) and 17 (Debian 13); the rules came with
/// `sslrootcert=system` in PostgreSQL 16.
pub const ROWS: &[VersionRow<Rule>] = &[
    VersionRow {
        since: Version::new(16, 0, None),
        rule: Rule::SystemRoots,
        behaviour: "`sslrootcert=system` reads OpenSSL's default paths; an unset sslmode becomes verify-full, a weaker one is refused",
        escape: "`sslrootcert=<file>`",
    },
    VersionRow {
        since: Version::new(16, 0, None),
        rule: Rule::SystemHint,
        behaviour: "a missing root file's error suggests `sslrootcert=system`",
        escape: "none (wording)",
    },
];

/// The newest libpq whose behaviour is modelled (an unknown version gets it).
pub const NEWEST: u32 = 17;

/// Does libpq `major` have `rule`?
pub fn has(major: u32, rule: Rule) -> bool {
    VersionRow::has(ROWS, Version::new(major, 0, None), rule)
}

/// The libpq modelled here and how that was decided.
pub fn version(world: &World) -> (u32, String) {
    match crate::detect::libpq(world) {
        Some(d) => {
            let m = d.version.map(|v| v.major).unwrap_or(NEWEST);
            (m, format!("libpq {m} ({})", d.describe()))
        }
        None => (
            NEWEST,
            format!("libpq not found in the World: assuming libpq {NEWEST}, the newest modelled"),
        ),
    }
}

fn present(world: &World) -> Option<String> {
    crate::detect::libpq(world).map(|d| d.describe())
}

/// The home directory libpq uses: `HOME`, else the passwd entry of uid 0 (the World's
/// processes are taken to run as root), else `/root`.
fn home(world: &World) -> String {
    if let Some(h) = world.var_nonempty("HOME") {
        return h.to_string();
    }
    passwd_home(world, 0).unwrap_or_else(|| "/root".into())
}

/// The home directory of `uid` in the World's `/etc/passwd`.
pub fn passwd_home(world: &World, uid: u32) -> Option<String> {
    let b = world.read_capped(Path::new("/etc/passwd"), 1 << 20).ok()?;
    String::from_utf8_lossy(&b).lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// `sslrootcert` and where it came from: the URL, `PGSSLROOTCERT`, else the default file.
fn rootcert(world: &World, params: &[(String, String)]) -> (String, &'static str) {
    if let Some((_, v)) = params.iter().rev().find(|(k, _)| k == "sslrootcert") {
        return (v.clone(), "URL");
    }
    if let Some(v) = world.var_nonempty("PGSSLROOTCERT") {
        return (v.to_string(), "PGSSLROOTCERT");
    }
    (format!("{}/.postgresql/root.crt", home(world)), "default")
}

fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let (major, vnote) = version(w);
    let (root, from) = rootcert(w, &cx.opts.dsn);
    let mut store = if root == "system" && has(major, Rule::SystemRoots) {
        let (dir, a) = openssl::openssldir(cx);
        let mut s = openssl::resolve_paths(cx, Runtime::Libpq, &openssl::default_paths(cx, &dir));
        s.assumptions.push(format!(
            "sslrootcert=system ({from}): OpenSSL's default paths; {a}"
        ));
        s
    } else if Path::new(&root).is_absolute() {
        let paths = Paths {
            file: Some(PathBuf::from(&root)),
            file_why: format!("sslrootcert ({from})"),
            file_var: (from == "PGSSLROOTCERT").then_some("PGSSLROOTCERT"),
            dirs: vec![],
            dir_why: String::new(),
            dir_var: None,
            store_lookup: false,
            still_searched_dir: None,
        };
        openssl::resolve_paths(cx, Runtime::Libpq, &paths)
    } else {
        let mut s = TrustStore::empty(Runtime::Libpq);
        s.steps.push(Step {
            source: root.clone(),
            kind: StepKind::File,
            outcome: Outcome::Missing,
            anchors: 0,
            reason: Some(format!(
                "sslrootcert ({from}) is a relative path: opened from the program's working directory, taken as absent"
            )),
        });
        s
    };
    store.assumptions.push(vnote);
    store
}

/// Is libpq's root file there (libpq only `stat`s it to decide)?
fn root_exists(store: &TrustStore, root: &str) -> bool {
    store
        .steps
        .iter()
        .any(|s| s.kind == StepKind::File && s.source == root && s.outcome != Outcome::Missing)
}

fn policy(cx: &ClientCx) -> Policy {
    let w = cx.world;
    let (major, _) = version(w);
    let (mode, mode_from) = match (cx.param("sslmode"), w.var_nonempty("PGSSLMODE")) {
        (Some(m), _) => (m.to_string(), "URL"),
        (None, Some(m)) => (m.to_string(), "PGSSLMODE"),
        // Offline (`verify`): the question is whether libpq *verifying* accepts the chain.
        (None, None) if cx.host.is_none() => ("verify-full".to_string(), "checked as verify-full"),
        (None, None) => ("prefer".to_string(), "default"),
    };
    let (root, root_from) = if cx.explicit_ca {
        ("the --ca file".to_string(), "--ca")
    } else {
        rootcert(w, cx.params)
    };
    let system = !cx.explicit_ca && root == "system" && has(major, Rule::SystemRoots);
    // libpq 16+: an unset sslmode with sslrootcert=system is verify-full.
    let mode = if system && mode_from == "default" {
        "verify-full".to_string()
    } else {
        mode
    };
    let setting = format!("sslmode={mode} ({mode_from}), sslrootcert={root} ({root_from}), libpq {major}");
    let fix = "sslmode=verify-full with sslrootcert=<the CA's PEM file> (PGSSLMODE/PGSSLROOTCERT, or in the \
               connection string; libpq 16+: sslrootcert=system for a CA in the system store)"
        .to_string();
    let mut p = Policy {
        check: Check::Full,
        setting,
        error: None,
        name_message: None,
        note: None,
        fix,
        tolerated: None,
        tolerate_only: None,
    };
    if !matches!(
        mode.as_str(),
        "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
    ) {
        p.error = Some(format!("invalid sslmode value: \"{mode}\""));
        return p;
    }
    if system && mode != "verify-full" {
        p.error = Some(format!(
            "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
        ));
        return p;
    }
    let exists = cx.explicit_ca || system || root_exists(cx.store, &root);
    let verifying = mode.starts_with("verify");
    if verifying && !exists {
        p.error = Some(if has(major, Rule::SystemHint) {
            format!(
                "root certificate file \"{root}\" does not exist\nEither provide the file, use the system's trusted \
                 roots with sslrootcert=system, or change sslmode to disable server certificate verification."
            )
        } else {
            format!(
                "root certificate file \"{root}\" does not exist\nEither provide the file or change sslmode to \
                 disable server certificate verification."
            )
        });
        return p;
    }
    (p.check, p.note) = match mode.as_str() {
        "disable" => (Check::Nothing, Some("sslmode=disable: no TLS at all".to_string())),
        "allow" => (
            Check::Nothing,
            Some("sslmode=allow: tries without TLS first".to_string()),
        ),
        "verify-full" => (Check::Full, None),
        _ if exists => (Check::Chain, None),
        _ => (
            Check::Nothing,
            Some(format!(
                "sslmode={mode} without a root certificate file ({root}): encrypted, the certificate not checked"
            )),
        ),
    };
    p
}

fn ca_fix(store: &TrustStore, name: &str, file: &str) -> String {
    if store.explicit {
        return format!("add \"{name}\" to the file given as sslrootcert (--ca here)");
    }
    let root = store
        .steps
        .iter()
        .find(|s| s.kind == StepKind::File)
        .map(|s| (s.source.clone(), s.outcome));
    match root {
        Some((r, Outcome::Loaded)) if store.steps.len() == 1 => format!(
            "append \"{name}\" (PEM) to {r}, the sslrootcert libpq reads; or sslrootcert={file}"
        ),
        Some((r, _)) if store.steps.len() == 1 => format!(
            "sslrootcert={file} in the connection string (or PGSSLROOTCERT={file}, or copy it to {r}) with \
             sslmode=verify-full"
        ),
        _ => format!(
            "install {file} in the system store (sslrootcert=system reads OpenSSL's default paths), or \
             sslrootcert={file}"
        ),
    }
}

/// libpq reports every failed verification the same way (OpenSSL's reason string).
fn message(_e: &OsslErr, _name: &str, _p: &crate::profiles::Profile) -> String {
    "SSL error: certificate verify failed".to_string()
}

/// libpq's `wildcard_certificate_match`: `*.` then at least one more character, the
/// wildcard standing for exactly one non-empty label; case-insensitive.
pub fn name_match(pattern: &str, host: &str) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let (p, h) = (pattern.as_bytes(), host.as_bytes());
    if p.len() < 3 || p[0] != b'*' || p[1] != b'.' || p.len() > h.len() {
        return false;
    }
    let start = h.len() - p.len() + 1;
    if !p[1..].eq_ignore_ascii_case(&h[start..]) {
        return false;
    }
    // No dot left of where the pattern's suffix starts to match.
    !h[..start].contains(&b'.')
}

/// `pq_verify_peer_name_matches_certificate`: every dNSName and iPAddress entry is
/// examined; the subject CN only when there is no entry of the host's kind.
pub fn host_check(c: &CertInfo, host: &str, _p: &crate::profiles::Profile) -> Result<(), String> {
    let ip = host.parse::<std::net::IpAddr>().ok();
    let mut first: Option<String> = None;
    let mut examined = 0usize;
    for d in &c.dns_names {
        examined += 1;
        first.get_or_insert_with(|| d.clone());
        if ip.is_none() && name_match(d, host) {
            return Ok(());
        }
    }
    for a in &c.ip_addresses {
        examined += 1;
        first.get_or_insert_with(|| a.clone());
        if ip.is_some() && a.parse::<std::net::IpAddr>().ok() == ip {
            return Ok(());
        }
    }
    let check_cn = if ip.is_some() {
        c.ip_addresses.is_empty()
    } else {
        c.dns_names.is_empty()
    };
    if check_cn {
        if let Some(cn) = c.subject_cn.first() {
            examined += 1;
            first.get_or_insert_with(|| cn.clone());
            if name_match(cn, host) {
                return Ok(());
            }
        }
    }
    let first = first.unwrap_or_default();
    Err(match examined {
        0 => "could not get server's host name from server certificate".to_string(),
        1 => format!("server certificate for \"{first}\" does not match host name \"{host}\""),
        2 => format!("server certificate for \"{first}\" (and 1 other name) does not match host name \"{host}\""),
        n => format!(
            "server certificate for \"{first}\" (and {} other names) does not match host name \"{host}\"",
            n - 1
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_as_libpq() {
        assert!(name_match("*.example.com", "a.example.com"));
        assert!(name_match("*.Example.com", "A.example.COM"));
        assert!(!name_match("*.example.com", "a.b.example.com"));
        assert!(!name_match("*.example.com", "example.com"));
        assert!(!name_match("*.example.com", ".example.com"));
        assert!(!name_match("w*.example.com", "www.example.com"));
        assert!(name_match("db.test", "DB.test"));
    }

    #[test]
    fn versions_are_rows() {
        assert!(!has(15, Rule::SystemRoots));
        assert!(has(16, Rule::SystemRoots) && has(17, Rule::SystemHint));
    }
}
