//! The rustls client (ring provider, TLS 1.2 and 1.3). Its verifier *records* the presented
//! chain and the real `WebPkiServerVerifier`'s answer, then lets the handshake finish so the
//! diagnosis can see everything; its client-certificate resolver records whether a
//! CertificateRequest came and which CA names the server would accept.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, Error as TlsError,
    PeerIncompatible, SignatureScheme,
};

use super::protocols::Wire;
use super::{Handshake, ProbeError, ProbeOptions, Target};
use crate::diagnose::Cause;

/// The chain the server presented and the real verifier's answer.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<Vec<u8>>,
    answer: Option<Result<(), String>>,
}

/// The real rustls verifier for one set of roots, shared by every target of a run that
/// uses those roots, with its answers remembered: a run of many targets presenting the
/// same chain under the same name verifies it once (per second of the clock, since the
/// answer depends on the time), not once per handshake.
pub struct Verifier {
    real: Arc<WebPkiServerVerifier>,
    answers: Mutex<Answers>,
}

/// Answers keyed by exactly what they depend on besides the roots: every certificate's
/// bytes, the server name, the OCSP response and the second of the verification time.
#[derive(Default)]
struct Answers {
    map: crate::trust::fasthash::FastMap<Vec<u8>, Result<(), String>>,
    bytes: usize,
}

/// Bytes of keys remembered at most (then forgotten all at once).
const ANSWERS_MAX_BYTES: usize = 4 << 20;

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    fn new(roots: rustls::RootCertStore, provider: Arc<CryptoProvider>) -> anyhow::Result<Verifier> {
        let real = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .context("building the rustls verifier")?;
        Ok(Verifier {
            real,
            answers: Mutex::new(Answers::default()),
        })
    }

    /// rustls-webpki's answer on the chain (`Ok` or its error text), remembered.
    fn answer(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<(), String> {
        let mut key = Vec::with_capacity(
            64 + end_entity.len()
                + intermediates.iter().map(|c| c.len() + 8).sum::<usize>()
                + ocsp_response.len(),
        );
        let name = server_name.to_str();
        let kind: u8 = match server_name {
            ServerName::DnsName(_) => 0,
            ServerName::IpAddress(_) => 1,
            _ => 2,
        };
        let mut part = |b: &[u8]| {
            key.extend_from_slice(&(b.len() as u64).to_be_bytes());
            key.extend_from_slice(b);
        };
        part(&[kind]);
        part(name.as_bytes());
        part(&now.as_secs().to_be_bytes());
        part(ocsp_response);
        part(end_entity);
        for c in intermediates {
            part(c);
        }
        let lock = || self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = lock().map.get(&key) {
            return a.clone();
        }
        let answer = self
            .real
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let mut a = lock();
        if a.bytes + key.len() > ANSWERS_MAX_BYTES {
            a.map.clear();
            a.bytes = 0;
        }
        a.bytes += key.len();
        a.map.insert(key, answer.clone());
        answer
    }

    /// How many answers are remembered (tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.answers.lock().map(|a| a.map.len()).unwrap_or(0)
    }
}

/// What the verifier and the client-certificate resolver of the handshake running on this
/// thread recorded. rustls calls both on the thread that drives the connection (inside
/// `process_new_packets`), so one `ClientConfig` serves every handshake of a run and each
/// handshake still sees only its own chain and CertificateRequest.
#[derive(Debug, Default)]
struct Recorded {
    seen: Seen,
    /// Some(CA names) once a CertificateRequest arrived.
    requested: Option<Vec<Vec<u8>>>,
}

thread_local! {
    static RECORDED: std::cell::RefCell<Recorded> = std::cell::RefCell::default();
}

fn recorded<T>(f: impl FnOnce(&mut Recorded) -> T) -> Option<T> {
    RECORDED.with(|r| r.try_borrow_mut().ok().map(|mut r| f(&mut r)))
}

#[derive(Debug)]
struct Recorder {
    verifier: Arc<Verifier>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let answer = self
            .verifier
            .answer(end_entity, intermediates, server_name, ocsp_response, now);
        recorded(|r| {
            r.seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
            r.seen.answer = Some(answer);
        });
        // The answer is kept, not enforced: the diagnosis needs the whole handshake.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.verifier.real.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.verifier.real.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.real.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct ClientAuth {
    key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for ClientAuth {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        recorded(|r| r.requested = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect()));
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        // Keep the transcript so that a CertificateRequest is always seen and recorded.
        true
    }
}

/// What every target with the same verifier roots and client certificate shares: the
/// provider, the rustls verifier (with its remembered answers) and the client key, built
/// once per run and key (`check`: once for thousands of targets, see
/// `commands::ClientCache`).
pub struct ClientBase {
    provider: Arc<CryptoProvider>,
    verifier: Arc<Verifier>,
    /// The client key; its loading error is kept and reported when a probe starts, as
    /// when each probe loaded it.
    key: Result<Option<Arc<CertifiedKey>>, String>,
    /// The rustls configurations built so far, by (ALPN protocols, SNI sent).
    configs: Mutex<Vec<ConfigSlot>>,
}

type ConfigSlot = ((Vec<Vec<u8>>, bool), Arc<ClientConfig>);

impl std::fmt::Debug for ClientBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBase")
            .field("client_key", &self.key.as_ref().map(|k| k.is_some()))
            .finish_non_exhaustive()
    }
}

impl ClientBase {
    /// Roots for the recorded verifier (DER; empty = webpki-roots) and the client
    /// certificate and key files. `Err` only if rustls cannot build a verifier.
    pub fn new(
        verifier_roots: &[Vec<u8>],
        client_cert: Option<&(std::path::PathBuf, std::path::PathBuf)>,
    ) -> anyhow::Result<ClientBase> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for der in verifier_roots {
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let verifier = Arc::new(Verifier::new(roots, provider.clone())?);
        let key = match client_cert {
            None => Ok(None),
            Some((cert, key)) => load_client_key(&provider, cert, key)
                .map(Some)
                .map_err(|e| format!("{e:#}")),
        };
        Ok(ClientBase {
            provider,
            verifier,
            key,
            configs: Mutex::new(Vec::new()),
        })
    }

    /// The rustls configuration for these ALPN protocols and SNI choice, built once.
    fn config(&self, alpn: Vec<Vec<u8>>, sni: bool) -> Result<Arc<ClientConfig>, ProbeError> {
        let key = (alpn, sni);
        let lock = || self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = lock().iter().find(|(k, _)| *k == key) {
            return Ok(c.clone());
        }
        let recorder = Arc::new(Recorder {
            verifier: self.verifier.clone(),
        });
        let auth = Arc::new(ClientAuth {
            key: self.key.clone().ok().flatten(),
        });
        let mut cfg = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| ProbeError::new(Cause::HandshakeFailure, format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(recorder)
            .with_client_cert_resolver(auth);
        cfg.alpn_protocols = key.0.clone();
        cfg.enable_sni = key.1;
        cfg.resumption = rustls::client::Resumption::disabled();
        let cfg = Arc::new(cfg);
        let mut configs = lock();
        // A handful of keys per run (a spec's ALPN lists); never more than a few dozen.
        if configs.len() < 64 {
            configs.push((key, cfg.clone()));
        }
        Ok(cfg)
    }

    /// The shared verifier (tests: that targets share it).
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }
}

/// Everything fixed before connecting: the shared part, names, ALPN.
pub struct ClientSetup {
    base: Arc<ClientBase>,
    key: Option<Arc<CertifiedKey>>,
    alpn: Vec<Vec<u8>>,
    server_name: ServerName<'static>,
    sni: Option<String>,
}

impl ClientSetup {
    /// `Err` only for input errors (unreadable or mismatched client certificate/key).
    /// Uses `opts.client` when set, else builds the shared part from `opts`.
    pub fn new(target: &Target, opts: &ProbeOptions) -> anyhow::Result<ClientSetup> {
        let base = match &opts.client {
            Some(b) => b.clone(),
            None => Arc::new(ClientBase::new(&opts.verifier_roots, opts.client_cert.as_ref())?),
        };
        let key = base.key.clone().map_err(|e| anyhow::anyhow!(e))?;
        let (server_name, sni) = server_name_for(target, opts);
        Ok(ClientSetup {
            base,
            key,
            alpn: opts.alpn.iter().map(|a| a.as_bytes().to_vec()).collect(),
            server_name,
            sni,
        })
    }

    /// Run the handshake on `wire`. After a completed handshake, `after` runs (what the
    /// protocol does before closing), then close_notify. Returns what was negotiated (None
    /// before a ServerHello), the chain as presented, and the failure if any.
    pub fn handshake(
        &self,
        wire: &mut dyn Wire,
        alpn: Option<Vec<String>>,
        after: &mut dyn FnMut(&mut ClientConnection, &mut dyn Wire),
    ) -> (Option<Handshake>, Vec<Vec<u8>>, Option<ProbeError>) {
        let alpn = match alpn {
            Some(a) => a.iter().map(|s| s.as_bytes().to_vec()).collect(),
            None => self.alpn.clone(),
        };
        let cfg = match self.base.config(alpn, self.sni.is_some()) {
            Ok(c) => c,
            Err(e) => return (None, Vec::new(), Some(e)),
        };
        recorded(|r| *r = Recorded::default());
        let mut tls = match ClientConnection::new(cfg, self.server_name.clone()) {
            Ok(t) => t,
            Err(e) => {
                return (
                    None,
                    Vec::new(),
                    Some(ProbeError::new(Cause::HandshakeFailure, e.to_string())),
                )
            }
        };
        let mut err = drive(&mut tls, wire, self.key.is_some());
        if err.is_none() {
            wire.handshake_done();
        }
        let requested = recorded(|r| r.requested.clone()).flatten();
        // TLS 1.3: the server judges our (absent) certificate after our Finished; its
        // verdict arrives as an alert right after the handshake.
        // (TLS 1.2: the server's Finished already came after it judged the certificate.)
        if err.is_none()
            && requested.is_some()
            && tls.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
        {
            err = post_handshake_check(&mut tls, wire, self.key.is_some());
        }
        let seen = recorded(|r| std::mem::take(&mut r.seen)).unwrap_or_default();
        let hs = tls.protocol_version().map(|v| Handshake {
            completed: err.is_none(),
            version: Some(version_name(v)),
            cipher: tls.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
            alpn: tls
                .alpn_protocol()
                .map(|a| crate::report::sanitize::sanitize(&String::from_utf8_lossy(a))),
            client_cert_requested: requested.is_some(),
            acceptable_client_cas: requested
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|n| name_text(n))
                .collect(),
            client_cert_sent: requested.is_some() && self.key.is_some(),
            sni: self.sni.clone(),
            verifier_answer: seen.answer.clone(),
        });
        if err.is_none() {
            after(&mut tls, wire);
            tls.send_close_notify();
            let _ = tls.write_tls(&mut Io(wire));
        }
        wire.conn().shutdown();
        (hs, seen.chain, err)
    }
}

/// `&mut dyn Wire` as the `Read`/`Write` rustls takes.
struct Io<'a, 'b>(&'a mut (dyn Wire + 'b));

impl std::io::Read for Io<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Io<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    // rustls hands over a flight's records at once (ChangeCipherSpec and Finished): on a
    // bare socket they go out in one system call, not one each.
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.0.write_vectored(bufs)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The rustls server name and the SNI actually sent: `--servername`, else the name, else
/// the host; an IP address (or a name that is not a valid DNS name) sends no SNI.
pub fn server_name_for(target: &Target, opts: &ProbeOptions) -> (ServerName<'static>, Option<String>) {
    let name = opts.servername.clone().unwrap_or_else(|| target.host.clone());
    match name.parse::<IpAddr>() {
        Ok(ip) => (ServerName::IpAddress(ip.into()), None),
        Err(_) => match ServerName::try_from(name.clone()) {
            Ok(n) => (n, Some(name)),
            Err(_) => (
                ServerName::IpAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED).into()),
                None,
            ),
        },
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_1 => "TLSv1.1".into(),
        rustls::ProtocolVersion::TLSv1_0 => "TLSv1".into(),
        other => format!("{other:?}"),
    }
}

/// A DER Name as RFC 4514-ish text (or hex when undecodable).
pub fn name_text(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(der) {
        Ok((_, n)) => crate::report::sanitize::sanitize(&crate::x509::name_to_string(&n)),
        Err(_) => format!("(undecodable name {})", hex::encode(der)),
    }
}

fn load_client_key(
    provider: &CryptoProvider,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<Arc<CertifiedKey>> {
    // Capped reads: a path such as /dev/zero is an error, not an endless read.
    let cert_pem =
        crate::world::read_host_file(cert).with_context(|| format!("--client-cert {}", cert.display()))?;
    let key_pem =
        crate::world::read_host_file(key).with_context(|| format!("--client-key {}", key.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .with_context(|| format!("--client-cert {}: not a PEM certificate file", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--client-cert {}: no CERTIFICATE block{}",
        cert.display(),
        if cert_pem.starts_with(&[0x30]) && !String::from_utf8_lossy(&cert_pem).contains("-----BEGIN") {
            format!(
                " (it looks like DER; convert it to PEM: openssl x509 -inform DER -in {} -out client.pem)",
                cert.display()
            )
        } else {
            String::new()
        }
    );
    // An encrypted key is the usual cause of "no key": say so, with the way out.
    let text = String::from_utf8_lossy(&key_pem);
    anyhow::ensure!(
        !text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") && !text.contains("Proc-Type: 4,ENCRYPTED"),
        "--client-key {}: the private key is encrypted (password-protected); decrypt it to a \
         file first: openssl pkey -in {} -out client-plain.key",
        key.display(),
        key.display()
    );
    anyhow::ensure!(
        !key_pem.starts_with(&[0x30]) || text.contains("-----BEGIN"),
        "--client-key {}: looks like DER; convert it to PEM: openssl pkey -inform DER -in {} -out client.key",
        key.display(),
        key.display()
    );
    let pk = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("--client-key {}: no usable PEM private key", key.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(pk)
        .with_context(|| format!("--client-key {}: unsupported key", key.display()))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match().map_err(|e| {
        anyhow::anyhow!(
            "--client-key {} does not match --client-cert {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Arc::new(ck))
}

/// Drive the handshake to completion or failure.
fn drive(tls: &mut ClientConnection, wire: &mut dyn Wire, key_sent: bool) -> Option<ProbeError> {
    while tls.is_handshaking() {
        while tls.wants_write() {
            if let Err(e) = tls.write_tls(&mut Io(wire)) {
                return Some(wire.conn().io_error(&e, "TLS handshake (sending)"));
            }
        }
        if !tls.is_handshaking() {
            break;
        }
        match tls.read_tls(&mut Io(wire)) {
            Ok(0) => {
                return Some(ProbeError::new(
                    Cause::HandshakeFailure,
                    if tls.protocol_version().is_some() {
                        "the server closed the connection during the handshake".to_string()
                    } else {
                        "the server closed the connection".to_string()
                    },
                ))
            }
            Ok(_) => {}
            Err(e) => return Some(wire.conn().io_error(&e, "TLS handshake")),
        }
        if let Err(e) = tls.process_new_packets() {
            // Send our alert, best effort.
            let _ = tls.write_tls(&mut Io(wire));
            let requested = recorded(|r| r.requested.is_some()).unwrap_or(false);
            return Some(classify(&e, tls, requested, key_sent, wire.conn().captured()));
        }
    }
    while tls.wants_write() {
        if let Err(e) = tls.write_tls(&mut Io(wire)) {
            return Some(wire.conn().io_error(&e, "TLS handshake (sending Finished)"));
        }
    }
    None
}

/// After a completed handshake in which a client certificate was requested: wait briefly
/// for the server's verdict (an alert, or tickets/data meaning it accepted).
fn post_handshake_check(tls: &mut ClientConnection, wire: &mut dyn Wire, sent: bool) -> Option<ProbeError> {
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    wire.conn().deadline().remaining("").ok()?;
    let mut waiter = LimitedWait { wire, until };
    match tls.read_tls(&mut waiter) {
        Ok(0) => (!sent).then(|| {
            ProbeError::new(
                Cause::ClientCertRequired,
                "the server requested a client certificate and closed the connection when none was sent",
            )
        }),
        // Tickets or data instead of an alert: the server accepted us.
        Ok(_) => match tls.process_new_packets() {
            Ok(_) => None,
            Err(e) => Some(classify(&e, tls, true, sent, &[])),
        },
        Err(_) => None,
    }
}

/// A reader that waits no longer than `until` (and the deadline).
pub(crate) struct LimitedWait<'a, 'b> {
    wire: &'a mut (dyn Wire + 'b),
    until: std::time::Instant,
}

impl<'a, 'b> LimitedWait<'a, 'b> {
    pub(crate) fn new(wire: &'a mut (dyn Wire + 'b), until: std::time::Instant) -> LimitedWait<'a, 'b> {
        LimitedWait { wire, until }
    }
}

impl std::io::Read for LimitedWait<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "wait over"));
        }
        self.wire.read_with_timeout(buf, left)
    }
}

impl Write for LimitedWait<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.wire.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.wire.flush()
    }
}

fn classify(
    e: &TlsError,
    tls: &ClientConnection,
    cert_requested: bool,
    cert_sent: bool,
    captured: &[u8],
) -> ProbeError {
    use AlertDescription as A;
    match e {
        TlsError::AlertReceived(a) => {
            let name = super::sniff::alert_name(u8::from(*a));
            match a {
                A::ProtocolVersion => ProbeError::new(
                    Cause::ProtocolVersion,
                    format!(
                        "the server rejected TLS 1.2 and 1.3 (alert {name}): it speaks only older \
                         versions (TLS 1.0/1.1, as old MySQL builds do) or a narrower range"
                    ),
                ),
                A::CertificateRequired => ProbeError::new(
                    Cause::ClientCertRequired,
                    format!("the server requires a client certificate (alert {name}); present one with --client-cert/--client-key"),
                ),
                A::HandshakeFailure | A::BadCertificate | A::CertificateUnknown | A::UnknownCA | A::AccessDenied | A::DecryptError
                    if cert_requested =>
                {
                    if cert_sent {
                        ProbeError::new(
                            Cause::ClientCertRequired,
                            format!("the server rejected the client certificate (alert {name}): it must chain to one of the CA names the server accepts"),
                        )
                    } else {
                        ProbeError::new(
                            Cause::ClientCertRequired,
                            format!("the server requested a client certificate and failed the handshake without one (alert {name}); present one with --client-cert/--client-key"),
                        )
                    }
                }
                A::HandshakeFailure | A::InsufficientSecurity => ProbeError::new(
                    Cause::HandshakeFailure,
                    format!(
                        "the server failed the handshake (alert {name}): no cipher suite, group or \
                         signature scheme in common with rustls (TLS 1.2/1.3, AEAD suites only)"
                    ),
                ),
                A::UnrecognisedName => ProbeError::new(
                    Cause::HandshakeFailure,
                    format!("the server does not serve the name sent in SNI (alert {name}); try --servername"),
                ),
                A::NoApplicationProtocol => ProbeError::new(
                    Cause::HandshakeFailure,
                    format!("the server accepts none of the ALPN protocols offered (alert {name}); check --alpn"),
                ),
                _ => ProbeError::new(Cause::HandshakeFailure, format!("the server sent alert {name}")),
            }
        }
        TlsError::PeerIncompatible(p) => match p {
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled => {
                let chosen = server_hello_version(captured)
                    .map(|v| format!(" (its ServerHello chose {v})"))
                    .unwrap_or_default();
                ProbeError::new(
                    Cause::ProtocolVersion,
                    format!("the server does not speak TLS 1.2 or 1.3{chosen}: clients built on current TLS stacks refuse it"),
                )
            }
            other => ProbeError::new(Cause::HandshakeFailure, format!("incompatible server: {other:?}")),
        },
        TlsError::InvalidMessage(_)
        | TlsError::InappropriateMessage { .. }
        | TlsError::InappropriateHandshakeMessage { .. }
            if tls.protocol_version().is_none() =>
        {
            ProbeError::new(
                Cause::HandshakeFailure,
                format!("the server's answer is not a TLS handshake ({e})"),
            )
        }
        other => ProbeError::new(Cause::HandshakeFailure, format!("TLS handshake failed: {other}")),
    }
}

/// The legacy_version of a ServerHello in the captured bytes.
fn server_hello_version(b: &[u8]) -> Option<&'static str> {
    if b.len() >= 11 && b[0] == 0x16 && b[5] == 0x02 {
        return Some(match (b[9], b[10]) {
            (3, 0) => "SSL 3.0",
            (3, 1) => "TLS 1.0",
            (3, 2) => "TLS 1.1",
            (3, 3) => "TLS 1.2",
            _ => return None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a leaf for `name` it issued (DER).
    fn chain(name: &str) -> (Vec<u8>, Vec<u8>) {
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "memo test CA");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = p.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        (ca.der().to_vec(), leaf.der().to_vec())
    }

    #[test]
    fn the_verifier_remembers_answers_by_chain_name_and_second() {
        let (ca, leaf) = chain("memo.test");
        let base = ClientBase::new(std::slice::from_ref(&ca), None).unwrap();
        let v = base.verifier();
        let leaf = CertificateDer::from(leaf);
        let now = UnixTime::now();
        let good = ServerName::try_from("memo.test").unwrap();
        let bad = ServerName::try_from("other.test").unwrap();
        let real = |n: &ServerName<'_>, t: UnixTime| {
            v.real
                .verify_server_cert(&leaf, &[], n, &[], t)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(v.answer(&leaf, &[], &good, &[], now), Ok(()));
        assert_eq!(v.answer(&leaf, &[], &good, &[], now), Ok(()));
        assert_eq!(v.remembered(), 1, "the same chain, name and second: one answer");
        // Another name is another answer, and the real verifier's.
        let wrong = v.answer(&leaf, &[], &bad, &[], now);
        assert!(wrong.is_err());
        assert_eq!(wrong, real(&bad, now));
        assert_eq!(v.remembered(), 2);
        // Another time is another answer (a certificate can expire in between).
        let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 1));
        assert_eq!(v.answer(&leaf, &[], &good, &[], later), real(&good, later));
        assert_eq!(v.remembered(), 3);
        // Another chain (an extra certificate) is another answer.
        let extra = CertificateDer::from(ca.clone());
        assert_eq!(
            v.answer(&leaf, std::slice::from_ref(&extra), &good, &[], now),
            Ok(())
        );
        assert_eq!(v.remembered(), 4);
        // A verifier for other roots does not share the answers: the chain is unknown there.
        let (other_ca, _) = chain("memo.test");
        let other = ClientBase::new(&[other_ca], None).unwrap();
        assert!(other.verifier().answer(&leaf, &[], &good, &[], now).is_err());
    }

    #[test]
    fn one_config_per_alpn_and_sni_choice() {
        let (ca, _) = chain("memo.test");
        let base = ClientBase::new(&[ca], None).unwrap();
        let a = base.config(vec![b"h2".to_vec()], true).unwrap();
        let b = base.config(vec![b"h2".to_vec()], true).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = base.config(vec![b"h2".to_vec()], false).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(!c.enable_sni);
        let d = base.config(vec![], true).unwrap();
        assert!(d.alpn_protocols.is_empty());
        assert_eq!(a.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
