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

#[derive(Debug)]
struct Recorder {
    real: Arc<WebPkiServerVerifier>,
    seen: Mutex<Seen>,
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
            .real
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Ok(mut s) = self.seen.lock() {
            s.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
            s.answer = Some(answer);
        }
        // The answer is kept, not enforced: the diagnosis needs the whole handshake.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.real.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.real.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.real.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct ClientAuth {
    key: Option<Arc<CertifiedKey>>,
    /// Some(CA names) once a CertificateRequest arrived.
    requested: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ResolvesClientCert for ClientAuth {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut r) = self.requested.lock() {
            *r = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect());
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        // Keep the transcript so that a CertificateRequest is always seen and recorded.
        true
    }
}

/// Everything fixed before connecting: provider, verifier roots, client key, names.
pub struct ClientSetup {
    provider: Arc<CryptoProvider>,
    real: Arc<WebPkiServerVerifier>,
    key: Option<Arc<CertifiedKey>>,
    alpn: Vec<Vec<u8>>,
    server_name: ServerName<'static>,
    sni: Option<String>,
}

impl ClientSetup {
    /// `Err` only for input errors (unreadable or mismatched client certificate/key).
    pub fn new(target: &Target, opts: &ProbeOptions) -> anyhow::Result<ClientSetup> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for der in &opts.verifier_roots {
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let real = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .context("building the rustls verifier")?;
        let key = match &opts.client_cert {
            None => None,
            Some((cert, key)) => Some(load_client_key(&provider, cert, key)?),
        };
        let (server_name, sni) = server_name_for(target, opts);
        Ok(ClientSetup {
            provider,
            real,
            key,
            alpn: opts.alpn.iter().map(|a| a.as_bytes().to_vec()).collect(),
            server_name,
            sni,
        })
    }

    fn config(
        &self,
        alpn: Option<&[String]>,
    ) -> Result<(ClientConfig, Arc<Recorder>, Arc<ClientAuth>), ProbeError> {
        let recorder = Arc::new(Recorder {
            real: self.real.clone(),
            seen: Mutex::new(Seen::default()),
        });
        let auth = Arc::new(ClientAuth {
            key: self.key.clone(),
            requested: Mutex::new(None),
        });
        let mut cfg = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| ProbeError::new(Cause::HandshakeFailure, format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_client_cert_resolver(auth.clone());
        cfg.alpn_protocols = match alpn {
            Some(a) => a.iter().map(|s| s.as_bytes().to_vec()).collect(),
            None => self.alpn.clone(),
        };
        cfg.enable_sni = self.sni.is_some();
        cfg.resumption = rustls::client::Resumption::disabled();
        Ok((cfg, recorder, auth))
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
        let (cfg, recorder, auth) = match self.config(alpn.as_deref()) {
            Ok(c) => c,
            Err(e) => return (None, Vec::new(), Some(e)),
        };
        let mut tls = match ClientConnection::new(Arc::new(cfg), self.server_name.clone()) {
            Ok(t) => t,
            Err(e) => {
                return (
                    None,
                    Vec::new(),
                    Some(ProbeError::new(Cause::HandshakeFailure, e.to_string())),
                )
            }
        };
        let mut err = drive(&mut tls, wire, &auth);
        if err.is_none() {
            wire.handshake_done();
        }
        let requested = auth.requested.lock().ok().and_then(|r| r.clone());
        // TLS 1.3: the server judges our (absent) certificate after our Finished; its
        // verdict arrives as an alert right after the handshake.
        // (TLS 1.2: the server's Finished already came after it judged the certificate.)
        if err.is_none()
            && requested.is_some()
            && tls.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
        {
            err = post_handshake_check(&mut tls, wire, self.key.is_some());
        }
        let seen = recorder
            .seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
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
fn drive(tls: &mut ClientConnection, wire: &mut dyn Wire, auth: &ClientAuth) -> Option<ProbeError> {
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
            let requested = auth.requested.lock().ok().and_then(|r| r.clone()).is_some();
            return Some(classify(
                &e,
                tls,
                requested,
                auth.key.is_some(),
                wire.conn().captured(),
            ));
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
