//! The MariaDB/MySQL client library as Debian ships it (MariaDB Connector/C, linked by the
//! `mariadb`/`mysql` tools): `--ssl-ca` (`SSL_CTX_load_verify_locations`), else OpenSSL's
//! default paths; a given CA always has the chain verified, the host name (OpenSSL's
//! `X509_check_host`) only with `--ssl-verify-server-cert` — on by default from 11.4.
//!
//! Settings come from the target URL's parameters named as the tool's options:
//! `mysql://host/db?ssl-ca=/etc/db/ca.pem&ssl-verify-server-cert=1` (also `ssl=0`).

use super::{
    CaFile, Check, Client, ClientCx, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Policy, Runtime, Tier,
    Unit, VersionRow,
};
use crate::detect::Version;
use crate::diagnose::openssl::OsslErr;
use crate::trust::openssl::{self, Paths};
use crate::trust::{Cx, StepKind, TrustStore};
use crate::world::World;

pub static UNIT: Unit = Unit {
    // Version rules are this client's own rows (see its `RULES`), not a profile family.
    profile: None,
    runtime: Runtime::MysqlClient,
    id: "mysql-client",
    title: "MySQL/MariaDB client (libmariadb)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("MYSQL_HOST"),
        EnvVar::reads("SSL_CERT_FILE"),
        EnvVar::reads("SSL_CERT_DIR"),
    ],
    binaries: &["mariadb", "mysql"],
    present_also: Some(present),
    resolve,
    ca_file: CaFile::OpensslCafile,
    engine: Engine::OpensslApp(&APP),
    own_ca_variable: Some("--ssl-ca for the MariaDB/MySQL client"),
    client: Some(&CLIENT),
};

static APP: OsslApp = OsslApp {
    strict: None,
    security_level: None,
    // X509_check_host with no flags: subject CN when no DNS SAN, partial wildcards allowed.
    host_check: HostCheck::ByOpenssl,
    partial_chain: PartialChain::Never,
    no_partial_wildcards: false,
    never_check_subject: false,
    reports_last_error: false,
    message,
};

static CLIENT: Client = Client {
    protocols: &["mysql"],
    params: &["ssl-ca", "ssl-capath", "ssl-verify-server-cert", "ssl", "ssl-mode"],
    policy,
    words: |m| m.to_string(),
    ca_fix,
    version_rules: || ROWS.iter().map(|r| (r.since, r.behaviour, r.escape)).collect(),
    detection: "the version string in `libmariadb.so.3`, else the dpkg database (`mariadb-client`, `libmariadb3`)",
};

/// What changes with the client library's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `--ssl-verify-server-cert` is on unless disabled.
    VerifiesByDefault,
    /// A host name mismatch reads `Hostname verification failed` (before: `Validation of
    /// SSL server certificate failed`).
    HostnameWords,
    /// No host name check on a connection to the address `127.0.0.1` or `::1`
    /// (Connector/C `is_local_connection`, even with `--ssl-verify-server-cert`).
    LocalNoHostCheck,
    /// Without `--ssl-ca`: a certificate failing only as self-signed is accepted on a
    /// local connection (`127.0.0.1`, `::1`).
    LocalSelfSignedAccepted,
    /// Without `--ssl-ca` and without an explicit `--ssl-verify-server-cert`: a failed
    /// verification does not stop the connection.
    ImplicitVerifyTolerant,
}

/// (since version, rule, what it does) — measured with the clients of MariaDB 10.11
/// (Debian 12) and 11.8 (Debian 13); MariaDB 11.4 (Connector/C 3.4) brought them.
pub const ROWS: &[VersionRow<Rule>] = &[
    VersionRow {
        since: Version::new(11, 4, None),
        rule: Rule::VerifiesByDefault,
        behaviour: "ssl-verify-server-cert defaults to on",
        escape: "`--disable-ssl-verify-server-cert`",
    },
    VersionRow {
        since: Version::new(11, 4, None),
        rule: Rule::HostnameWords,
        behaviour: "a name mismatch reads `Hostname verification failed` (before: `Validation of SSL server certificate failed`)",
        escape: "none (wording)",
    },
    VersionRow {
        since: Version::new(11, 4, None),
        rule: Rule::LocalNoHostCheck,
        behaviour: "no host name check when connecting to 127.0.0.1 or ::1",
        escape: "connect by a name (`localhost` is checked)",
    },
    VersionRow {
        since: Version::new(11, 4, None),
        rule: Rule::LocalSelfSignedAccepted,
        behaviour: "without --ssl-ca, a self-signed certificate is accepted on 127.0.0.1 or ::1",
        escape: "`--ssl-ca=<file>`",
    },
    VersionRow {
        since: Version::new(11, 4, None),
        rule: Rule::ImplicitVerifyTolerant,
        behaviour: "without --ssl-ca or an explicit --ssl-verify-server-cert, a failed verification is not fatal",
        escape: "an explicit `--ssl-verify-server-cert`, or `--ssl-ca=<file>`",
    },
];

/// The newest client modelled (an unknown version gets it).
pub const NEWEST: Version = Version::new(11, 8, None);

pub fn has(v: Version, rule: Rule) -> bool {
    VersionRow::has(ROWS, v, rule)
}

/// The client library modelled here and how that was decided.
pub fn version(world: &World) -> (Version, String) {
    match crate::detect::mariadb(world) {
        Some(d) => {
            let v = d.version.unwrap_or(NEWEST);
            (v, d.describe())
        }
        None => (
            NEWEST,
            format!(
                "no MariaDB client library in the World: assuming MariaDB {}.{}'s, the newest modelled",
                NEWEST.major, NEWEST.minor
            ),
        ),
    }
}

fn present(world: &World) -> Option<String> {
    crate::detect::mariadb(world).map(|d| d.describe())
}

fn param<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| names.iter().any(|n| k.replace('_', "-") == *n))
        .map(|(_, v)| v.as_str())
}

fn resolve(cx: &Cx) -> TrustStore {
    let w = cx.world();
    let (_, vnote) = version(w);
    let ca = param(&cx.opts.dsn, &["ssl-ca"]);
    let capath = param(&cx.opts.dsn, &["ssl-capath"]);
    let mut store = if ca.is_some() || capath.is_some() {
        let paths = Paths {
            file: ca.map(Into::into),
            file_why: "--ssl-ca (URL)".into(),
            file_var: None,
            dirs: capath.map(|d| vec![d.to_string()]).unwrap_or_default(),
            dir_why: "--ssl-capath (URL)".into(),
            dir_var: None,
            store_lookup: false,
            still_searched_dir: None,
        };
        openssl::resolve_paths(cx, Runtime::MysqlClient, &paths)
    } else {
        let (dir, a) = openssl::openssldir(cx);
        let mut s = openssl::resolve_paths(cx, Runtime::MysqlClient, &openssl::default_paths(cx, &dir));
        s.assumptions
            .push(format!("no --ssl-ca: SSL_CTX_set_default_verify_paths; {a}"));
        s
    };
    store.assumptions.push(vnote);
    store
}

fn truthy(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

fn policy(cx: &ClientCx) -> Policy {
    let (v, _) = version(cx.world);
    let ca = cx.explicit_ca || param(cx.params, &["ssl-ca", "ssl-capath"]).is_some();
    let verify_param = param(cx.params, &["ssl-verify-server-cert"]).and_then(truthy);
    let tls_off = param(cx.params, &["ssl"]).and_then(truthy) == Some(false)
        || param(cx.params, &["skip-ssl"]).is_some();
    let by_default = has(v, Rule::VerifiesByDefault);
    // Offline (`verify`): the question is whether the client verifying accepts the chain.
    let verify_name = verify_param.unwrap_or(by_default || cx.host.is_none());
    let mut setting = format!(
        "MariaDB client {}.{}: {}, ssl-verify-server-cert {}",
        v.major,
        v.minor,
        if cx.explicit_ca {
            "--ssl-ca the --ca file"
        } else if ca {
            "--ssl-ca from the URL"
        } else {
            "no --ssl-ca (OpenSSL's default paths)"
        },
        match verify_param {
            Some(true) => "on (URL)",
            Some(false) => "off (URL)",
            None if by_default => "on (default)",
            None => "off (default)",
        }
    );
    let mut p = Policy {
        check: Check::Full,
        setting: String::new(),
        error: None,
        name_message: Some(format!(
            "ERROR 2026 (HY000): TLS/SSL error: {}",
            if has(v, Rule::HostnameWords) {
                "Hostname verification failed"
            } else {
                "Validation of SSL server certificate failed"
            }
        )),
        note: None,
        fix: "--ssl-ca=<the CA's PEM file> --ssl-verify-server-cert (ssl-ca/ssl-verify-server-cert in the \
              [client] section of my.cnf)"
            .into(),
        tolerated: None,
        tolerate_only: None,
    };
    if let Some(m) = param(cx.params, &["ssl-mode"]) {
        // MariaDB's tools have no --ssl-mode (MySQL's do).
        p.error = Some(format!("mariadb: unknown variable 'ssl-mode={m}'"));
        setting.push_str(&format!(", ssl-mode={m} (not a MariaDB option)"));
        p.setting = setting;
        return p;
    }
    p.setting = setting;
    if tls_off {
        p.check = Check::Nothing;
        p.note = Some("ssl=0: no TLS at all".into());
    } else if verify_name {
        p.check = Check::Full;
    } else if ca {
        p.check = Check::Chain;
    } else {
        p.check = Check::Nothing;
        p.note = Some("no --ssl-ca and no --ssl-verify-server-cert: encrypted, the certificate not checked".into());
    }
    // Connector/C's is_local_connection: the host string itself, not where it resolves.
    let local = matches!(cx.host, Some("127.0.0.1") | Some("::1"));
    if p.check == Check::Full && local && has(v, Rule::LocalNoHostCheck) {
        p.check = Check::Chain;
        p.note = Some("no host name check on a connection to 127.0.0.1/::1".into());
    }
    if p.check != Check::Nothing && !ca && cx.host.is_some() {
        if verify_param.is_none() && has(v, Rule::ImplicitVerifyTolerant) {
            p.tolerated = Some(format!(
                "MariaDB {}.{} without --ssl-ca and without an explicit --ssl-verify-server-cert does not stop on a \
                 failed verification",
                v.major, v.minor
            ));
        } else if local && has(v, Rule::LocalSelfSignedAccepted) {
            p.tolerated = Some(format!(
                "MariaDB {}.{} without --ssl-ca accepts a self-signed certificate on a connection to 127.0.0.1/::1",
                v.major, v.minor
            ));
            p.tolerate_only = Some(&[crate::diagnose::Cause::SelfSigned]);
        }
    }
    p
}

fn ca_fix(store: &TrustStore, name: &str, file: &str) -> String {
    if store.explicit {
        return format!("add \"{name}\" to the file given as --ssl-ca (--ca here)");
    }
    let given = store
        .steps
        .iter()
        .find(|s| s.kind == StepKind::File && s.reason.as_deref().is_some_and(|r| r.contains("--ssl-ca")));
    match given {
        Some(s) => format!("append \"{name}\" (PEM) to {}, the --ssl-ca file", s.source),
        None => format!("--ssl-ca={file} (or install it in the system store, which OpenSSL's default paths read)"),
    }
}

/// `mysql_error()` after a failed handshake, as the `mariadb` tool prints it.
fn message(e: &OsslErr, _name: &str, _p: &crate::profiles::Profile) -> String {
    format!("ERROR 2026 (HY000): TLS/SSL error: {}", e.text())
}
