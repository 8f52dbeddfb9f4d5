//! pgx (github.com/jackc/pgx, its pgconn): Go's crypto/tls. `sslrootcert` (URL,
//! `PGSSLROOTCERT`, else `~/.postgresql/root.crt` of the passwd home when it exists) read
//! with `AppendCertsFromPEM` replaces Go's system pool; `sslmode` (URL, `PGSSLMODE`, else
//! `prefer`) as pgconn's `configTLS` maps it: `prefer`/`allow`/`require` without a root
//! file skip verification, `require` with one and `verify-ca` verify the chain only
//! (`VerifyPeerCertificate`, no name), `verify-full` is crypto/tls with the host name.

use super::{CaFile, Check, Client, ClientCx, Engine, EnvVar, Policy, Runtime, Tier, Unit};
use crate::trust::{Cx, Outcome, StepKind, TrustStore};
use crate::world::World;

pub static UNIT: Unit = Unit {
    // crypto/x509 and crypto/tls at the Go version the program was built with.
    profile: Some(crate::detect::Kind::Go),
    runtime: Runtime::Pgx,
    id: "pgx",
    title: "pgx (Go PostgreSQL driver)",
    tier: Tier::Extra,
    env: &[
        EnvVar::marks("PGSSLMODE"),
        EnvVar::marks("PGSSLROOTCERT"),
        EnvVar::reads("PGSSLCERT"),
        EnvVar::reads("PGSSLKEY"),
        EnvVar::marks("PGHOST"),
        // Without sslrootcert: Go's system pool.
        EnvVar::reads("SSL_CERT_FILE"),
        EnvVar::reads("SSL_CERT_DIR"),
    ],
    binaries: &[],
    present_also: Some(present),
    resolve,
    // sslrootcert: AppendCertsFromPEM.
    ca_file: CaFile::PemCertificates,
    engine: Engine::GoX509,
    own_ca_variable: Some("PGSSLROOTCERT (or sslrootcert=) for pgx"),
    client: Some(&CLIENT),
};

static CLIENT: Client = Client {
    protocols: &["postgres"],
    params: &["sslmode", "sslrootcert"],
    policy,
    words,
    ca_fix,
    // The TLS setup is the same in the versions measured (pgx 4.15 / pgconn 1.11 on Debian 12,
    // 4.18 / 1.14 on Debian 13); what changes with the version is Go's, in the Go profile.
    version_rules: Vec::new,
    detection: "the pgx/pgconn module in a Go program's build info (`--exe`, `--pid`)",
};

/// The driver modules whose presence in a Go program's build info says it uses pgx.
const MODULES: &[&str] = &["github.com/jackc/pgx/v5", "github.com/jackc/pgx/v4", "github.com/jackc/pgconn"];

fn present(world: &World) -> Option<String> {
    MODULES.iter().find_map(|m| super::go_program_links(world, m))
}

/// `sslrootcert` and where it came from; pgconn's default only when the file exists.
fn rootcert(world: &World, params: &[(String, String)]) -> Option<(String, &'static str)> {
    if let Some((_, v)) = params.iter().rev().find(|(k, _)| k == "sslrootcert") {
        return Some((v.clone(), "URL"));
    }
    if let Some(v) = world.var_nonempty("PGSSLROOTCERT") {
        return Some((v.to_string(), "PGSSLROOTCERT"));
    }
    // os/user.Current(): the passwd entry (not $HOME).
    let home = super::libpq::passwd_home(world, 0).unwrap_or_else(|| "/root".into());
    let def = format!("{home}/.postgresql/root.crt");
    world
        .exists(std::path::Path::new(&def))
        .then_some((def, "default, exists"))
}

fn resolve(cx: &Cx) -> TrustStore {
    match rootcert(cx.world(), &cx.opts.dsn) {
        Some((f, from)) => super::go_pem_file(cx, Runtime::Pgx, &f, &format!("sslrootcert ({from})")),
        None => {
            let mut s = super::go_pool(cx, Runtime::Pgx);
            s.assumptions
                .push("no sslrootcert: tls.Config.RootCAs unset, Go's system pool".into());
            s
        }
    }
}

fn policy(cx: &ClientCx) -> Policy {
    let w = cx.world;
    let (mode, mode_from) = match (cx.param("sslmode"), w.var_nonempty("PGSSLMODE")) {
        (Some(m), _) => (m.to_string(), "URL"),
        (None, Some(m)) => (m.to_string(), "PGSSLMODE"),
        (None, None) if cx.host.is_none() => ("verify-full".to_string(), "checked as verify-full"),
        (None, None) => ("prefer".to_string(), "default"),
    };
    let root = if cx.explicit_ca {
        Some(("the --ca file".to_string(), "--ca"))
    } else {
        rootcert(w, cx.params)
    };
    let setting = format!(
        "sslmode={mode} ({mode_from}), {}",
        match &root {
            Some((r, from)) => format!("sslrootcert={r} ({from})"),
            None => "no sslrootcert (Go's system pool)".into(),
        }
    );
    let mut p = Policy {
        check: Check::Full,
        setting,
        error: None,
        name_message: None,
        note: None,
        fix: "sslmode=verify-full in the connection string (with sslrootcert=<the CA's PEM file> for a \
              private CA)"
            .into(),
        tolerated: None,
        tolerate_only: None,
    };
    if let (Some((r, _)), false) = (&root, cx.explicit_ca) {
        let step = cx.store.steps.iter().find(|s| s.kind == StepKind::File);
        match step.map(|s| s.outcome) {
            Some(Outcome::Loaded) if cx.store.anchors.is_empty() => {
                p.error = Some("failed to configure TLS (unable to add CA to cert pool)".into());
                return p;
            }
            Some(Outcome::Loaded) => {}
            _ => {
                p.error = Some(format!(
                    "failed to configure TLS (unable to read CA file: open {r}: no such file or directory)"
                ));
                return p;
            }
        }
    }
    (p.check, p.note) = match mode.as_str() {
        "disable" => (Check::Nothing, Some("sslmode=disable: no TLS at all".into())),
        "allow" | "prefer" => (
            Check::Nothing,
            Some(format!(
                "sslmode={mode}: pgx sets InsecureSkipVerify (and falls back to no TLS)"
            )),
        ),
        "require" if root.is_none() => (
            Check::Nothing,
            Some("sslmode=require without sslrootcert: InsecureSkipVerify".into()),
        ),
        "require" | "verify-ca" => (Check::Chain, None),
        "verify-full" => (Check::Full, None),
        other => {
            p.error = Some(format!("sslmode is invalid: {other:?}"));
            (Check::Full, None)
        }
    };
    p
}

/// pgconn's `connectError` as pgx v4 (pgconn 1.x, Debian's golang-github-jackc-pgx-v4-dev)
/// returns it: the handshake runs on the first write, so a failed verification reads
/// `failed to write startup message (…)`, after
/// ``failed to connect to `host=… user=… database=…`: `` (the connection's identity).
fn words(m: &str) -> String {
    format!("failed to write startup message ({m})")
}

fn ca_fix(store: &TrustStore, name: &str, file: &str) -> String {
    if store.explicit {
        return format!("add \"{name}\" to the file given as sslrootcert (--ca here)");
    }
    match store.steps.first() {
        Some(s) if store.steps.len() == 1 && s.kind == StepKind::File => {
            format!("append \"{name}\" (PEM) to {}, the sslrootcert pgx reads", s.source)
        }
        _ => format!("sslrootcert={file} with sslmode=verify-full in the connection string (or install it in the system store Go reads)"),
    }
}
