//! The real servers users run, started by the tests in the foreground from their own
//! generated config in a scratch directory, on 127.0.0.1 ephemeral ports (no systemd, no
//! /etc edits): Postfix (submission STARTTLS, smtps), Dovecot (IMAP, POP3; STARTTLS and
//! implicit), slapd (StartTLS, ldaps), vsftpd (AUTH TLS, implicit), Prosody (c2s STARTTLS,
//! direct TLS). Each serves every scenario chain, and once with TLS off. They die with the
//! test process (SIGTERM through PR_SET_PDEATHSIG, so that masters take their children
//! down). A missing binary skips loudly, or fails with CI=true.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::servers::{self, clean, free_port, need, Scratch};

/// A chain scenario on disk: `chain` (what the server presents) and `key`.
#[derive(Debug, Clone)]
pub struct ChainFiles {
    pub name: &'static str,
    pub chain: PathBuf,
    pub key: PathBuf,
    /// The certificate alone (servers that take the chain in a separate file).
    pub leaf: PathBuf,
    /// The rest of the chain (empty file when none).
    pub extra: PathBuf,
}

/// One listening endpoint of a real server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `postfix submission`, `dovecot imaps`, …
    pub what: String,
    /// The chain scenario, None = TLS off.
    pub chain: Option<&'static str>,
    pub port: u16,
    /// The URL scheme for it (`submission`, `imaps`, …).
    pub scheme: &'static str,
    /// The `--starttls` value (`none` for implicit TLS).
    pub starttls: &'static str,
    /// `openssl s_client -starttls` value; None for implicit TLS.
    pub s_client: Option<&'static str>,
}

/// A server starter: its endpoints and processes, None when skipped.
pub type Started = Option<(Vec<Endpoint>, Vec<Daemon>)>;
pub type Starter = fn(&[ChainFiles]) -> Started;

/// A running daemon (kept for the process lifetime).
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub log: PathBuf,
}

/// `setpriv --pdeathsig TERM -- BIN ARGS`, spawned from the long-lived spawner thread.
fn spawn(bin: &Path, args: &[String], dir: &Path, name: &str) -> Daemon {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log");
    let mut c = clean("setpriv");
    c.args(["--pdeathsig=TERM", "--"])
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let child = servers::spawn_forever(c).unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    // Belt and braces: Postfix's master outlives its parent-death signal (seen here: it
    // stays with parent 1), so a watcher sends SIGTERM once this test process is gone.
    let _ = clean("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -TERM {pid} 2>/dev/null",
            me = std::process::id(),
            pid = child.id()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    Daemon {
        child,
        dir: dir.to_path_buf(),
        log,
    }
}

/// Wait until every port accepts a connection; on failure the daemon is killed and its log
/// returned (a port taken by another process in between is retried by the caller).
fn ready(d: &mut Daemon, ports: &[u16]) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(30);
    for &p in ports {
        loop {
            if TcpStream::connect_timeout(&([127, 0, 0, 1], p).into(), Duration::from_millis(200)).is_ok() {
                break;
            }
            let exited = d.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > until {
                let _ = d.child.kill();
                let _ = d.child.wait();
                return Err(format!(
                    "{} {} before listening on {p}; log:\n{}",
                    d.dir.display(),
                    exited
                        .map(|s| format!("exited ({s})"))
                        .unwrap_or_else(|| "not ready within 30 s".into()),
                    std::fs::read_to_string(&d.log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    Ok(())
}

/// Start with fresh ports until the daemon listens (ports come from the kernel and are
/// free when chosen; another process may take one before the daemon binds it).
fn start_with_retries<T>(mut f: impl FnMut() -> Result<T, String>) -> T {
    let mut last = String::new();
    for _ in 0..4 {
        match f() {
            Ok(t) => return t,
            Err(e) => last = e,
        }
    }
    panic!("{last}")
}

/// What a daemon instance's start gives back: the spawned daemon, the ports it must
/// listen on, and its endpoints.
type Launched = (Daemon, Vec<u16>, Vec<Endpoint>);

/// One daemon per `(name, item)`, each in its own directory `base/name`: `start` writes its
/// config there and spawns it; it is retried with fresh ports until it listens.
fn instances<T: Copy>(
    base: &Scratch,
    items: Vec<(String, T)>,
    mut start: impl FnMut(&Path, T) -> Result<Launched, String>,
) -> Started {
    let mut eps = Vec::new();
    let mut daemons = Vec::new();
    for (name, item) in items {
        let dir = sub(base, &name);
        let (d, local) = start_with_retries(|| {
            let (mut d, ports, local) = start(&dir, item)?;
            ready(&mut d, &ports)?;
            Ok((d, local))
        });
        eps.extend(local);
        daemons.push(d);
    }
    Some((eps, daemons))
}

/// Every chain scenario by name, and `off` (no TLS).
fn chains_and_off(chains: &[ChainFiles]) -> Vec<(String, Option<&ChainFiles>)> {
    let mut all: Vec<_> = chains.iter().map(|c| (c.name.to_string(), Some(c))).collect();
    all.push(("off".to_string(), None));
    all
}

fn sub(base: &Scratch, name: &str) -> PathBuf {
    let d = base.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

fn chown(owner: &str, p: &Path) {
    let st = clean("chown").args(["-R", owner]).arg(p).status().expect("chown");
    assert!(st.success(), "chown {owner} {}", p.display());
}

// ---------------------------------------------------------------------------------------
// Postfix: one instance, two listeners per chain (submission with STARTTLS, smtps) and one
// with TLS off, each service with its own -o smtpd_tls_chain_files.

pub fn postfix(chains: &[ChainFiles]) -> Started {
    let bin = need("postfix")?;
    let master_bin = need("/usr/lib/postfix/sbin/master")?;
    need("setpriv")?;
    let base = servers::scratch("postfix");
    let dir = base.path().to_path_buf();
    let (conf, queue, data) = (sub(&base, "conf"), sub(&base, "queue"), sub(&base, "data"));
    chown("postfix", &data);
    let (eps, d) = start_with_retries(|| {
        let mut eps = Vec::new();
        let mut master = String::new();
        for c in chains {
            for (scheme, starttls, s_client, wrapper) in [
                ("submission", "smtp", Some("smtp"), "no"),
                ("smtps", "none", None, "yes"),
            ] {
                let port = free_port();
                master.push_str(&format!(
                    "127.0.0.1:{port} inet n - n - - smtpd -o smtpd_tls_chain_files={},{} -o smtpd_tls_wrappermode={wrapper} -o smtpd_tls_security_level=may\n",
                    c.key.display(),
                    c.chain.display()
                ));
                eps.push(Endpoint {
                    what: format!("postfix {scheme}"),
                    chain: Some(c.name),
                    port,
                    scheme,
                    starttls,
                    s_client,
                });
            }
        }
        let off = free_port();
        master.push_str(&format!(
            "127.0.0.1:{off} inet n - n - - smtpd -o smtpd_tls_security_level=none\n"
        ));
        eps.push(Endpoint {
            what: "postfix submission".into(),
            chain: None,
            port: off,
            scheme: "submission",
            starttls: "smtp",
            s_client: Some("smtp"),
        });
        for svc in [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ] {
            master.push_str(svc);
            master.push('\n');
        }
        write(&conf.join("master.cf"), &master);
        write(
            &conf.join("main.cf"),
            &format!(
                "compatibility_level = 3.6\nqueue_directory = {}\ndata_directory = {}\n\
                 command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
                 meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n\
                 mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mail.test\n\
                 mydestination =\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
                 maillog_file = /dev/stdout\nsmtpd_tls_loglevel = 0\n",
                queue.display(),
                data.display()
            ),
        );
        // `postfix check` makes the queue; then the master itself in the foreground (not
        // `postfix start-fg`, whose script would outlive the master's parent-death signal).
        let st = clean(bin.to_str().unwrap())
            .args(["-c", &conf.display().to_string(), "check"])
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("postfix check failed ({st})"));
        }
        let mut d = spawn(
            &master_bin,
            &["-c".into(), conf.display().to_string(), "-s".into()],
            &dir,
            "postfix",
        );
        let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
        ready(&mut d, &ports)?;
        Ok((eps, d))
    });
    Some((eps, vec![d]))
}

// ---------------------------------------------------------------------------------------
// Dovecot: one instance per chain (its certificate is global) and one with ssl = no.

pub fn dovecot(chains: &[ChainFiles]) -> Started {
    let bin = need("dovecot")?;
    need("setpriv")?;
    let base = servers::scratch("dovecot");
    instances(&base, chains_and_off(chains), |dir, c| {
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        let mut local = Vec::new();
        let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
        let ssl = match c {
            Some(c) => format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                c.chain.display(),
                c.key.display()
            ),
            None => "ssl = no\n".to_string(),
        };
        let implicit = |svc: &str, port: u16| {
            if c.is_some() {
                format!("  inet_listener {svc}s {{\n    address = 127.0.0.1\n    port = {port}\n    ssl = yes\n  }}\n")
            } else {
                format!("  inet_listener {svc}s {{\n    port = 0\n  }}\n")
            }
        };
        let conf = format!(
                "base_dir = {run}\nstate_dir = {run}\nlisten = 127.0.0.1\nprotocols = imap pop3\n\
                 log_path = /dev/stderr\n{ssl}auth_mechanisms = plain\n\
                 disable_plaintext_auth = no\n\
                 passdb {{\n  driver = static\n  args = password=x\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={home}\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap}\n  }}\n{imaps}}}\n\
                 service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {pop3}\n  }}\n{pop3s}}}\n\
                 service anvil {{\n  chroot =\n}}\nservice stats {{\n  chroot =\n}}\n",
                run = run.display(),
                home = dir.join("home").display(),
                imaps = implicit("imap", imaps),
                pop3s = implicit("pop3", pop3s),
            );
        let cf = dir.join("dovecot.conf");
        write(&cf, &conf);
        let d = spawn(
            &bin,
            &["-F".into(), "-c".into(), cf.display().to_string()],
            dir,
            "dovecot",
        );
        let mut ports = vec![imap, pop3];
        local.push(ep("dovecot imap", c, imap, "imap", "imap", Some("imap")));
        local.push(ep("dovecot pop3", c, pop3, "pop3", "pop3", Some("pop3")));
        if c.is_some() {
            ports.extend([imaps, pop3s]);
            local.push(ep("dovecot imaps", c, imaps, "imaps", "none", None));
            local.push(ep("dovecot pop3s", c, pop3s, "pop3s", "none", None));
        }
        Ok((d, ports, local))
    })
}

fn ep(
    what: &str,
    c: Option<&ChainFiles>,
    port: u16,
    scheme: &'static str,
    starttls: &'static str,
    s_client: Option<&'static str>,
) -> Endpoint {
    Endpoint {
        what: what.to_string(),
        chain: c.map(|c| c.name),
        port,
        scheme,
        starttls,
        s_client,
    }
}

// ---------------------------------------------------------------------------------------
// slapd: one per chain (ldap:// with StartTLS and ldaps://) and one without TLS.

pub fn slapd(chains: &[ChainFiles]) -> Started {
    let bin = need("slapd")?;
    need("setpriv")?;
    let base = servers::scratch("slapd");
    instances(&base, chains_and_off(chains), |dir, c| {
        let mut local = Vec::new();
        let (ldap, ldaps) = (free_port(), free_port());
        let mut conf = format!(
            "include /etc/ldap/schema/core.schema\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n",
            d = dir.display()
        );
        let mut urls = format!("ldap://127.0.0.1:{ldap}/");
        let mut ports = vec![ldap];
        local.push(ep("slapd ldap", c, ldap, "ldap", "ldap", Some("ldap")));
        if let Some(c) = c {
            conf.push_str(&format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                c.chain.display(),
                c.key.display()
            ));
            urls.push_str(&format!(" ldaps://127.0.0.1:{ldaps}/"));
            ports.push(ldaps);
            local.push(ep("slapd ldaps", Some(c), ldaps, "ldaps", "none", None));
        }
        let cf = dir.join("slapd.conf");
        write(&cf, &conf);
        let d = spawn(
            &bin,
            &[
                "-d".into(),
                "0".into(),
                "-f".into(),
                cf.display().to_string(),
                "-h".into(),
                urls,
            ],
            dir,
            "slapd",
        );
        Ok((d, ports, local))
    })
}

// ---------------------------------------------------------------------------------------
// vsftpd: one per chain and mode (AUTH TLS, implicit), and one without TLS.

pub fn vsftpd(chains: &[ChainFiles]) -> Started {
    let bin = need("vsftpd")?;
    need("setpriv")?;
    let base = servers::scratch("vsftpd");
    let mut runs = Vec::new();
    for (name, c) in chains_and_off(chains) {
        runs.push((name.clone(), (c, false)));
        if c.is_some() {
            runs.push((format!("{name}-implicit"), (c, true)));
        }
    }
    instances(&base, runs, |dir, (c, implicit)| {
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let port = free_port();
        let mut conf = format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
                 anonymous_enable=YES\nanon_root={e}\nno_anon_password=YES\nlocal_enable=NO\n\
                 secure_chroot_dir={e}\nseccomp_sandbox=NO\nvsftpd_log_file={d}/xfer.log\n",
            e = empty.display(),
            d = dir.display()
        );
        match c {
                Some(c) => conf.push_str(&format!(
                    "ssl_enable=YES\nallow_anon_ssl=YES\nrsa_cert_file={}\nrsa_private_key_file={}\nimplicit_ssl={}\n",
                    c.chain.display(),
                    c.key.display(),
                    if implicit { "YES" } else { "NO" }
                )),
                None => conf.push_str("ssl_enable=NO\n"),
            }
        let cf = dir.join("vsftpd.conf");
        write(&cf, &conf);
        let d = spawn(&bin, &[cf.display().to_string()], dir, "vsftpd");
        let local = vec![if implicit {
            ep("vsftpd implicit", c, port, "ftps", "none", None)
        } else {
            ep("vsftpd ftp", c, port, "ftp", "ftp", Some("ftp"))
        }];
        Ok((d, vec![port], local))
    })
}

// ---------------------------------------------------------------------------------------
// Prosody: one per chain (c2s STARTTLS and direct TLS, domain mail.test), and one without
// a certificate (no STARTTLS offered).

pub fn prosody(chains: &[ChainFiles]) -> Started {
    let bin = need("prosody")?;
    need("setpriv")?;
    let base = servers::scratch("prosody");
    instances(&base, chains_and_off(chains), |dir, c| {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut local = Vec::new();
        let (c2s, direct) = (free_port(), free_port());
        let ssl = match c {
            Some(c) => format!(
                "ssl = {{ certificate = \"{}\", key = \"{}\" }}\n",
                c.chain.display(),
                c.key.display()
            ),
            None => String::new(),
        };
        let direct_ports = if c.is_some() {
            format!("{{ {direct} }}")
        } else {
            "{ }".to_string()
        };
        let conf = format!(
                "run_as_root = true\npidfile = \"{d}/prosody.pid\"\ndata_path = \"{data}\"\n\
                 daemonize = false\nlog = {{ {{ levels = {{ min = \"info\" }}, to = \"console\" }} }}\n\
                 interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {c2s} }}\nc2s_direct_tls_ports = {direct_ports}\n\
                 s2s_ports = {{ }}\nhttp_ports = {{ }}\nhttps_ports = {{ }}\n\
                 modules_enabled = {{ {tls}\"saslauth\", \"disco\" }}\nmodules_disabled = {{ \"s2s\"{notls} }}\n\
                 c2s_require_encryption = {req}\nallow_unencrypted_plain_auth = true\n\
                 authentication = \"internal_plain\"\ncertificates = \"{d}/certs\"\n{ssl}\
                 VirtualHost \"mail.test\"\n{ssl}",
                d = dir.display(),
                data = data.display(),
                req = c.is_some(),
                // TLS off: without mod_tls no STARTTLS is offered.
                tls = if c.is_some() { "\"tls\", " } else { "" },
                notls = if c.is_some() { "" } else { ", \"tls\"" },
            );
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        let cf = dir.join("prosody.cfg.lua");
        write(&cf, &conf);
        let d = spawn(
            &bin,
            &["--config".into(), cf.display().to_string(), "-F".into()],
            dir,
            "prosody",
        );
        let mut ports = vec![c2s];
        local.push(ep("prosody c2s", c, c2s, "xmpp", "xmpp", Some("xmpp")));
        if c.is_some() {
            ports.push(direct);
            local.push(ep("prosody direct TLS", c, direct, "xmpps", "none", None));
        }
        Ok((d, ports, local))
    })
}
