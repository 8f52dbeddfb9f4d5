//! Loopback peers for `scripts/bench-check`: a few multi-threaded rustls TLS servers and a
//! few silent ports (accept, never answer), plus the `check` spec that targets them.
//!
//! ```text
//! bench_servers DIR [TARGETS=1000] [SILENT=50] [SERVERS=4] [TIMEOUT=1s]
//! ```
//! Writes DIR/ca.pem and DIR/spec.toml, prints `ready`, and serves until killed.
//! Certificates are valid 2025..2040; the spec pins `at` to 2030-06-01 so the result does
//! not depend on the clock.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_servers: {e:#}");
        std::process::exit(2);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> anyhow::Result<T> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| anyhow::anyhow!("bad argument {s:?}")),
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir =
        std::path::PathBuf::from(args.first().ok_or_else(|| {
            anyhow::anyhow!("usage: bench_servers DIR [TARGETS] [SILENT] [SERVERS] [TIMEOUT]")
        })?);
    let targets: usize = arg(&args, 1, 1000)?;
    let silent: usize = arg(&args, 2, 50)?;
    let servers: usize = arg(&args, 3, 4)?;
    let timeout: String = arg(&args, 4, "1s".to_string())?;
    anyhow::ensure!(
        servers >= 1 && silent <= targets,
        "need at least one server and SILENT <= TARGETS"
    );

    // PKI: a root and one leaf for bench.test.
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "tlsdoctor bench CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = date_time_ymd(2025, 1, 1);
    ca.not_after = date_time_ymd(2040, 1, 1);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let mut leaf = CertificateParams::new(vec!["bench.test".to_string()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "bench.test");
    leaf.distinguished_name = dn;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = date_time_ymd(2025, 1, 1);
    leaf.not_after = date_time_ymd(2040, 1, 1);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf_cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )?,
    );

    // The servers must not be what the benchmark measures. std's TcpListener listens with
    // a backlog of 128 and one acceptor thread spawning a thread per connection falls
    // behind on a loaded machine: the accept queue fills, the kernel drops the client's
    // SYN (TcpExtListenOverflows) and the retransmission comes 1 s later, after a 1 s
    // timeout, so a target that should pass came back "unreachable: timeout". Each
    // listener gets the largest accept queue the kernel allows and several acceptors.
    let mut tls_ports = Vec::new();
    for _ in 0..servers {
        let l = listener()?;
        tls_ports.push(l.local_addr()?.port());
        for _ in 0..ACCEPTORS {
            let l = l.try_clone()?;
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    let config = Arc::clone(&config);
                    let _ = std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || serve(s, config));
                }
            });
        }
    }
    let mut silent_ports = Vec::new();
    for _ in 0..silent.min(4).max(usize::from(silent > 0)) {
        let l = listener()?;
        silent_ports.push(l.local_addr()?.port());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in l.incoming().flatten() {
                held.push(s); // accept and never answer
            }
        });
    }

    // The spec: SILENT targets spread over the run, the rest over the TLS servers.
    let mut spec = format!(
        "# generated by examples/bench_servers.rs\n[defaults]\nca = \"ca.pem\"\nname = \"bench.test\"\n\
         starttls = \"none\"\nruntimes = [\"go\", \"openssl\"]\ntimeout = \"{timeout}\"\nmin_days = 30\n\
         at = 2030-06-01T00:00:00Z\n\n"
    );
    let every = targets.checked_div(silent).unwrap_or(usize::MAX);
    let (mut s, mut t) = (0, 0);
    for i in 0..targets {
        let port = if silent > 0 && i % every == every - 1 && s < silent {
            s += 1;
            silent_ports[s % silent_ports.len()]
        } else {
            t += 1;
            tls_ports[t % tls_ports.len()]
        };
        let kind = if silent_ports.contains(&port) {
            "silent"
        } else {
            "tls"
        };
        spec.push_str(&format!(
            "[[target]]\nid = \"{kind}-{i:04}\"\ntarget = \"127.0.0.1:{port}\"\n"
        ));
    }
    std::fs::write(dir.join("spec.toml"), spec)?;
    println!(
        "ready {} tls servers {:?}, {} silent ports {:?}",
        servers,
        tls_ports,
        silent_ports.len(),
        silent_ports
    );
    std::io::stdout().flush()?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Acceptor threads per TLS listener.
const ACCEPTORS: usize = 4;

/// A loopback listener whose accept queue is as long as `net.core.somaxconn` allows
/// (listen(2) on a listening socket only changes its backlog; std has no other way).
#[allow(unsafe_code)]
fn listener() -> anyhow::Result<TcpListener> {
    use std::os::fd::AsRawFd as _;
    let l = TcpListener::bind("127.0.0.1:0")?;
    // SAFETY: a valid socket descriptor owned by `l`; listen(2) touches no memory.
    if unsafe { libc::listen(l.as_raw_fd(), 65535) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(l)
}

fn serve(sock: TcpStream, config: Arc<rustls::ServerConfig>) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, sock);
    // Drive the handshake, then wait for the client to go away.
    let mut buf = [0u8; 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
