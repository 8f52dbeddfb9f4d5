//! go-sql-driver/mysql (github.com/go-sql-driver/mysql): Go's crypto/tls as the DSN's
//! `tls=` sets it up (`dsn.go`, `normalize` and `parseDSNParams`, the same in 1.5 and 1.9):
//! - `false`, `0` (also `FALSE`, `False`) or no `tls=` at all: no TLS;
//! - `true`, `1` (`TRUE`, `True`): `&tls.Config{}` — Go's system pool, the host name
//!   checked (`ServerName` is the DSN's host);
//! - `skip-verify`, `preferred` (any case): `InsecureSkipVerify`; `preferred` also goes on
//!   without TLS when the server offers none;
//! - anything else is the name of a `tls.Config` the program registered
//!   (`mysql.RegisterTLSConfig`), taken here as RootCAs from `--ca` (else Go's system pool)
//!   with the host name checked; a name nobody registered is refused when the DSN is
//!   parsed: `invalid value / unknown config name: NAME`.
//!
//! The driver returns crypto/tls's errors verbatim (`db.Ping()`), so its words are Go's at
//! the toolchain's version: the Go profile (`tls: failed to verify certificate: ` since
//! 1.20 …). A server without TLS fails `true`, `skip-verify` and a registered name with
//! the driver's `TLS requested but server does not support TLS` (the mysql protocol's
//! conclusions say so).

use super::{CaFile, Check, Client, ClientCx, Engine, EnvVar, Policy, Runtime, Tier, Unit};
use crate::trust::{Cx, TrustStore};
use crate::world::World;

pub static UNIT: Unit = Unit {
    runtime: Runtime::GoMysql,
    id: "go-mysql",
    title: "go-sql-driver/mysql (Go MySQL driver)",
    tier: Tier::Extra,
    // Go's system pool (`tls=true`).
    env: &[EnvVar::reads("SSL_CERT_FILE"), EnvVar::reads("SSL_CERT_DIR")],
    binaries: &[],
    present_also: Some(present),
    resolve,
    // A registered tls.Config's RootCAs, filled with AppendCertsFromPEM.
    ca_file: CaFile::PemCertificates,
    engine: Engine::GoX509,
    // crypto/x509 and crypto/tls at the Go version the program was built with.
    profile: Some(crate::detect::Kind::Go),
    own_ca_variable: Some("a tls.Config registered with mysql.RegisterTLSConfig (RootCAs) and tls=<its name>"),
    client: Some(&CLIENT),
};

static CLIENT: Client = Client {
    protocols: &["mysql"],
    params: &["tls"],
    policy,
    // db.Ping() returns the handshake's error as it is.
    words: |m| m.to_string(),
    ca_fix,
    // The TLS setup is the same in the versions measured (1.5 on Debian 12, 1.9 on
    // Debian 13); what changes with the version is Go's, in the Go profile.
    version_rules: Vec::new,
    detection: "the go-sql-driver/mysql module in a Go program's build info (`--exe`, `--pid`)",
};

/// The driver's `ErrNoTLS`: `tls=true`, `skip-verify` or a registered config against a
/// server whose greeting lacks CLIENT_SSL (`preferred`, and since 1.7 any value with
/// `allowFallbackToPlaintext=true`, go on without TLS).
pub const NO_TLS: &str = "TLS requested but server does not support TLS";

/// The driver's module path, as a Go program's build info lists it.
const MODULE: &str = "github.com/go-sql-driver/mysql";

fn present(world: &World) -> Option<String> {
    super::go_program_links(world, MODULE)
}

fn resolve(cx: &Cx) -> TrustStore {
    let mut s = super::go_pool(cx, Runtime::GoMysql);
    s.assumptions
        .push("tls=true: tls.Config.RootCAs unset, Go's system pool".into());
    s
}

/// What the driver makes of a `tls=` value (`parseDSNParams`: `readBool` first, which
/// knows exactly `1 true TRUE True` and `0 false FALSE False`; then `skip-verify` and
/// `preferred` in any case; anything else names a registered config).
#[derive(Debug, PartialEq, Eq)]
enum Tls {
    Off,
    Verify,
    SkipVerify,
    Preferred,
    Registered(String),
}

fn parse_tls(v: &str) -> Tls {
    match v {
        "1" | "true" | "TRUE" | "True" => Tls::Verify,
        "0" | "false" | "FALSE" | "False" => Tls::Off,
        _ if v.eq_ignore_ascii_case("skip-verify") => Tls::SkipVerify,
        _ if v.eq_ignore_ascii_case("preferred") => Tls::Preferred,
        // An empty value leaves no TLS (`case "false", ""` in normalize).
        "" => Tls::Off,
        _ => Tls::Registered(v.to_string()),
    }
}

fn policy(cx: &ClientCx) -> Policy {
    let (tls, from) = match cx.param("tls") {
        Some(v) => (parse_tls(v), "DSN"),
        // --ca: the program registered a tls.Config holding it and names it in the DSN.
        None if cx.explicit_ca => (
            Tls::Registered("custom".into()),
            "a registered tls.Config with the --ca file as RootCAs",
        ),
        // Offline (`verify`): as the driver verifying (tls=true) would.
        None if cx.host.is_none() => (Tls::Verify, "checked as tls=true"),
        None => (Tls::Off, "the default"),
    };
    let value = match &tls {
        Tls::Off => "false".to_string(),
        Tls::Verify => "true".into(),
        Tls::SkipVerify => "skip-verify".into(),
        Tls::Preferred => "preferred".into(),
        Tls::Registered(n) => n.clone(),
    };
    let mut setting = format!("tls={value} ({from})");
    match (&tls, cx.explicit_ca) {
        (Tls::Registered(_), false) if from == "DSN" => setting.push_str(
            ", a registered tls.Config taken as RootCAs unset (Go's system pool) with the host name \
             checked: give its RootCAs file as --ca",
        ),
        (Tls::Verify, true) => setting.push_str(
            ", which sets no RootCAs (Go's system pool): the --ca file stands for that pool here",
        ),
        _ => {}
    }
    let mut p = Policy {
        check: Check::Full,
        setting,
        error: None,
        name_message: None,
        note: None,
        fix: "tls=true in the DSN (the server's CA in the system store Go reads), or mysql.RegisterTLSConfig \
              with a tls.Config whose RootCAs hold the CA, and tls=<that name>"
            .into(),
        tolerated: None,
        tolerate_only: None,
    };
    match tls {
        Tls::Off => {
            p.check = Check::Nothing;
            p.note = Some(format!("tls={value} ({from}): no TLS at all"));
        }
        Tls::SkipVerify => {
            p.check = Check::Nothing;
            p.note = Some("tls=skip-verify: InsecureSkipVerify".into());
        }
        Tls::Preferred => {
            p.check = Check::Nothing;
            p.note = Some("tls=preferred: InsecureSkipVerify, and no TLS when the server offers none".into());
        }
        Tls::Verify | Tls::Registered(_) => {}
    }
    p
}

fn ca_fix(store: &TrustStore, name: &str, file: &str) -> String {
    if store.explicit {
        return format!("add \"{name}\" to the RootCAs of the registered tls.Config (the --ca file here)");
    }
    format!(
        "register a tls.Config whose RootCAs hold {file} (mysql.RegisterTLSConfig) and name it in the DSN \
         (tls=<that name>), or install it in the system store Go reads"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_values_are_read_as_the_driver_reads_them() {
        for v in ["1", "true", "TRUE", "True"] {
            assert_eq!(parse_tls(v), Tls::Verify, "{v}");
        }
        for v in ["0", "false", "FALSE", "False", ""] {
            assert_eq!(parse_tls(v), Tls::Off, "{v}");
        }
        assert_eq!(parse_tls("Skip-Verify"), Tls::SkipVerify);
        assert_eq!(parse_tls("PREFERRED"), Tls::Preferred);
        // readBool knows only four spellings: `tRUE` names a registered config.
        assert_eq!(parse_tls("tRUE"), Tls::Registered("tRUE".into()));
        assert_eq!(parse_tls("custom"), Tls::Registered("custom".into()));
    }
}
