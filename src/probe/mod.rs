//! probe — *what does the server actually present?*
//!
//! Resolve, connect (directly or through an HTTP CONNECT proxy), speak the pre-TLS dialogue
//! (MySQL, PostgreSQL, SMTP, …), run a rustls handshake whose verifier *records* the chain
//! and the real verifier's answer, and capture what the handshake negotiated. Every step
//! runs against one [`Deadline`]; every read is capped. Failures are data ([`ProbeError`]
//! with a [`Cause`]), never panics.

pub mod net;
pub mod protocols;
pub mod sniff;
pub mod target;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::diagnose::Cause;
use crate::finding::{Finding, Severity};
use crate::world::World;

pub use target::{Starttls, Target};

/// One absolute deadline for the whole probe (`--timeout`).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + total,
            total,
        }
    }

    /// Time left; an error with cause `timeout` once it is spent.
    pub fn remaining(&self, step: &str) -> Result<Duration, ProbeError> {
        let now = Instant::now();
        if now >= self.end {
            return Err(self.expired(step));
        }
        Ok((self.end - now).max(Duration::from_millis(1)))
    }

    pub fn expired(&self, step: &str) -> ProbeError {
        ProbeError::new(
            Cause::Timeout,
            format!(
                "{step}: no answer within the time budget ({})",
                fmt_duration(self.total)
            ),
        )
    }

    pub fn total(&self) -> Duration {
        self.total
    }
}

pub use crate::report::style::duration as fmt_duration;

/// A failure before (or instead of) a completed handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    pub cause: Cause,
    pub message: String,
}

impl ProbeError {
    pub fn new(cause: Cause, message: impl Into<String>) -> ProbeError {
        ProbeError {
            cause,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.cause.code(), self.message)
    }
}

/// Which proxy to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    /// HTTPS_PROXY / https_proxy / NO_PROXY from the World, as Go's ProxyFromEnvironment.
    FromEnv,
    /// `--proxy URL`.
    Explicit(String),
    /// `--no-proxy`.
    Never,
}

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// SNI to send; None = derived from the name (no SNI for an IP address).
    pub servername: Option<String>,
    pub alpn: Vec<String>,
    pub timeout: Duration,
    pub proxy: ProxyChoice,
    /// Client certificate chain and key (host paths).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Roots for the rustls verifier whose answer is recorded (DER). Empty = webpki-roots.
    pub verifier_roots: Vec<Vec<u8>>,
    /// `--name`, for protocols that name the service they want (XMPP's stream `to`).
    pub name: Option<String>,
    /// `--xmpp-domain`: the XMPP domain (default: the name, else the host).
    pub xmpp_domain: Option<String>,
    /// The verifier and client key already built for `verifier_roots` and `client_cert`
    /// (shared by a run's targets); None = built by the probe.
    pub client: Option<std::sync::Arc<tls::ClientBase>>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            servername: None,
            alpn: Vec::new(),
            timeout: Duration::from_secs(10),
            proxy: ProxyChoice::FromEnv,
            client_cert: None,
            verifier_roots: Vec::new(),
            name: None,
            xmpp_domain: None,
            client: None,
        }
    }
}

/// What the handshake negotiated.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    pub completed: bool,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub client_cert_requested: bool,
    /// The CA names the server would accept for a client certificate (RFC 4514).
    pub acceptable_client_cas: Vec<String>,
    pub client_cert_sent: bool,
    /// The SNI actually sent (None for an IP address).
    pub sni: Option<String>,
    /// rustls-webpki's own answer on the presented chain (`Ok` or its error text).
    pub verifier_answer: Option<Result<(), String>>,
}

/// Everything a probe learned.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub addresses: Vec<SocketAddr>,
    pub connected_to: Option<SocketAddr>,
    /// The proxy used (redacted URL), if any.
    pub proxy: Option<String>,
    /// The dialogue actually used (may differ from the target's after auto-detection).
    pub starttls: Option<Starttls>,
    /// One-line summary of what the server said before TLS.
    pub server_greeting: Option<String>,
    /// Protocol facts (MySQL version, Postgres answer, SMTP banner, …).
    pub server: serde_json::Map<String, serde_json::Value>,
    pub handshake: Option<Handshake>,
    /// The chain as presented (DER, in order).
    pub chain: Vec<Vec<u8>>,
    pub findings: Vec<Finding>,
    pub error: Option<ProbeError>,
    pub elapsed: Duration,
    /// Internal: what a failed plain-TLS attempt suggests (for `auto`'s retry).
    #[doc(hidden)]
    pub detected: Detected,
    /// Internal: the server's answer proved the dialogue (a guess may be kept).
    #[doc(hidden)]
    pub confirmed: bool,
}

/// Probe one target. `Err` only for input errors (an unusable client certificate or key);
/// never panics on peer behaviour: every network failure lands in `Probe::error`.
pub fn run(target: &Target, opts: &ProbeOptions, world: &World) -> anyhow::Result<Probe> {
    let start = Instant::now();
    let deadline = Deadline::after(opts.timeout);
    let mut probe = Probe::default();
    let client = tls::ClientSetup::new(target, opts)?;
    let dialogue = target.effective_starttls();
    attempt(target, dialogue, opts, world, &client, &deadline, &mut probe);
    // `auto` on a plain-TLS port: the server spoke first in another protocol we know, or
    // closed without a word (what PostgreSQL, slapd and SQL Server do with a ClientHello).
    // Retry with that dialogue, or with each client-first protocol in turn, and say so; a
    // guess is kept only when the server's answer confirms it.
    if target.starttls == Starttls::Auto && dialogue == Starttls::None && probe.error.is_some() {
        let candidates: Vec<(Starttls, bool)> = match std::mem::take(&mut probe.detected) {
            Detected::Recognised(d) => vec![(d, false)],
            Detected::SilentClose => Starttls::guesses().into_iter().map(|g| (g, true)).collect(),
            Detected::Nothing | Detected::TlsFirst(_) => Vec::new(),
        };
        let mut tried = Vec::new();
        for (candidate, guess) in candidates {
            let Ok(left) = deadline.remaining("retry") else {
                break;
            };
            let mut retry = Probe {
                addresses: probe.addresses.clone(),
                ..Probe::default()
            };
            // A guess must not turn a quick failure into a long wait.
            let budget = if guess {
                Deadline {
                    end: Instant::now() + left.min(GUESS_BUDGET),
                    total: deadline.total,
                }
            } else {
                deadline
            };
            attempt(target, candidate, opts, world, &client, &budget, &mut retry);
            if guess && !retry.confirmed {
                tried.push(candidate);
                continue;
            }
            let first_error = probe.error.take();
            let message = if guess {
                format!(
                    "The server closed the connection on the TLS ClientHello and answered a \
                     {} request{}; tlsdoctor retried with --starttls {}.",
                    candidate.label(),
                    retry
                        .server_greeting
                        .as_deref()
                        .map(|g| format!(" ({g})"))
                        .unwrap_or_default(),
                    candidate.code()
                )
            } else {
                format!(
                    "The server {} {}, not TLS ({}); tlsdoctor retried with --starttls {}.",
                    if candidate.server_speaks_first() {
                        "spoke first in"
                    } else {
                        "answered the ClientHello in"
                    },
                    candidate.label(),
                    first_error.map(|e| e.message).unwrap_or_default(),
                    candidate.code()
                )
            };
            retry.findings.insert(
                0,
                Finding::new("dialogue-detected", Severity::Warning, message).fix(format!(
                    "Clients must speak the {} dialogue before TLS on this port (--starttls {}).",
                    candidate.label(),
                    candidate.code()
                )),
            );
            probe = retry;
            tried.clear();
            break;
        }
        if !tried.is_empty() {
            if let Some(e) = probe.error.as_mut() {
                let codes: Vec<&str> = tried.iter().map(|t| t.code()).collect();
                e.message.push_str(&format!(
                    " (tlsdoctor also tried {}: none answered)",
                    codes.join(", ")
                ));
            }
        }
    }
    // `auto` with a dialogue that got no answer: the TLS-first variant, kept only when a
    // TLS server answered it.
    if let Detected::TlsFirst(variant) = probe.detected {
        if target.starttls == Starttls::Auto && deadline.remaining("retry").is_ok() {
            let mut retry = Probe {
                addresses: probe.addresses.clone(),
                ..Probe::default()
            };
            attempt(target, variant, opts, world, &client, &deadline, &mut retry);
            if retry.handshake.is_some() {
                let first = probe.error.take().map(|e| e.message).unwrap_or_default();
                retry.findings.insert(
                    0,
                    Finding::new(
                        "dialogue-detected",
                        Severity::Warning,
                        format!(
                            "The {} dialogue got no answer ({first}); the server speaks TLS first: \
                             tlsdoctor retried with --starttls {}.",
                            dialogue.label(),
                            variant.code()
                        ),
                    )
                    .fix(format!(
                        "Clients must use {} on this port (--starttls {}).",
                        variant.label(),
                        variant.code()
                    )),
                );
                probe = retry;
            }
        }
    }
    probe.elapsed = start.elapsed();
    Ok(probe)
}

/// Time allowed to confirm a guessed dialogue (and finish its handshake).
const GUESS_BUDGET: Duration = Duration::from_secs(3);

/// What a failed plain-TLS attempt suggests (not part of the report).
#[derive(Debug, Clone, Copy, Default)]
pub enum Detected {
    #[default]
    Nothing,
    /// The server spoke first in a protocol a unit recognised.
    Recognised(Starttls),
    /// The server closed on the ClientHello without a word.
    SilentClose,
    /// The dialogue got no answer (or a TLS one) from a server that may speak only the
    /// protocol's TLS-first variant.
    TlsFirst(Starttls),
}

fn attempt(
    target: &Target,
    dialogue: Starttls,
    opts: &ProbeOptions,
    world: &World,
    client: &tls::ClientSetup,
    deadline: &Deadline,
    probe: &mut Probe,
) {
    probe.starttls = Some(dialogue);
    if let Err(e) = attempt_inner(target, dialogue, opts, world, client, deadline, probe) {
        probe.error = Some(e);
    }
}

fn attempt_inner(
    target: &Target,
    dialogue: Starttls,
    opts: &ProbeOptions,
    world: &World,
    client: &tls::ClientSetup,
    deadline: &Deadline,
    probe: &mut Probe,
) -> Result<(), ProbeError> {
    let proxy = match &opts.proxy {
        ProxyChoice::Never => None,
        ProxyChoice::Explicit(u) => Some(net::ProxyUrl::parse(u)?),
        ProxyChoice::FromEnv if target.proxy_eligible() => {
            net::proxy_from_env(world, &target.host, target.port)?
        }
        ProxyChoice::FromEnv => None,
    };
    let stream = match &proxy {
        Some(p) => {
            probe.proxy = Some(p.redacted());
            let (s, proxy_addrs, addr) = net::connect_via_proxy(p, &target.host, target.port, deadline)?;
            probe.addresses = proxy_addrs;
            probe.connected_to = Some(addr);
            s
        }
        None => {
            if probe.addresses.is_empty() {
                probe.addresses = net::resolve(&target.host, target.port, deadline)?;
            }
            let (s, addr) = net::connect_any(&probe.addresses, deadline)?;
            probe.connected_to = Some(addr);
            s
        }
    };
    let mut conn = net::Conn::new(stream, *deadline);
    let unit = dialogue.unit();
    if unit.server_speaks_first() {
        // A third of the budget, at least 2 s: enough for a slow greeting, short enough to
        // leave time to say what is wrong.
        // Never more than what is left of the whole budget; the message then names the
        // budget (`--timeout`), not a wait that was never granted.
        let total = deadline.total();
        let wait = (total / 3).max(Duration::from_secs(2));
        let left = deadline.remaining("greeting").unwrap_or_default();
        if wait < left {
            conn.expect_greeting_within(wait, wait);
        } else {
            conn.expect_greeting_within(left, total);
        }
    }
    let cx = protocols::Context {
        target,
        name: opts.name.as_deref(),
        xmpp_domain: opts.xmpp_domain.as_deref(),
    };
    let mut dlg = match unit.negotiate(&mut conn, &cx) {
        Ok(d) => d,
        Err(e) => {
            // Closed without a word, or answered with TLS: a server that speaks only the
            // protocol's TLS-first variant (TDS 8 strict, PostgreSQL direct TLS).
            let tls_answer = conn.captured_nonempty().is_some_and(sniff::looks_like_tls);
            let silent = conn.captured().is_empty() && e.cause == Cause::HandshakeFailure;
            if tls_answer || silent {
                if let Some(v) = unit.tls_first_variant().and_then(Starttls::from_code) {
                    probe.detected = Detected::TlsFirst(v);
                }
            }
            if let Some(first) = conn.captured_nonempty() {
                if let Some(s) = sniff::sniff(first) {
                    if s.dialogue != Some(dialogue) {
                        if !s.summary.is_empty() {
                            probe.server_greeting.get_or_insert_with(|| s.summary.clone());
                        }
                        return Err(ProbeError::new(Cause::NoTls, s.message_for(dialogue)));
                    }
                }
            }
            return Err(e);
        }
    };
    probe.confirmed = dlg.confirmed;
    probe.server_greeting = dlg.greeting.clone().filter(|g| !g.trim().is_empty());
    probe.server.extend(dlg.facts.clone());
    let findings_before = dlg.findings.len();
    probe.findings.extend(dlg.findings.iter().cloned());
    if let Some(err) = dlg.refused.take() {
        return Err(err);
    }
    // Only a dialogue has a go-ahead; with TLS first, bytes a server sends first are left
    // for the handshake to fail on and the sniffer to name.
    if let Some(extra) = (!unit.tls_first()).then(|| conn.leftover()).flatten() {
        probe.findings.push(
            Finding::new(
                "bytes-after-starttls",
                Severity::Error,
                format!(
                    "The server sent {} byte(s) after its go-ahead and before the TLS handshake ({}); \
                     they were discarded, not fed to TLS. A server or something in the path is \
                     injecting plaintext (the CVE-2021-23222 / CVE-2011-0411 class).",
                    extra.len(),
                    sniff::preview(&extra)
                ),
            )
            .fix("Find what injects bytes in front of the TLS handshake (a proxy, a load balancer, a compromised host); clients must discard them."),
        );
    }
    conn.start_tls_phase();
    let alpn = dlg.alpn.clone();
    let (hs, chain, err) = {
        let mut wire = unit.wire(&mut conn, &dlg);
        client.handshake(&mut *wire, alpn, &mut |tls, w| {
            unit.after_handshake(tls, w, &mut dlg)
        })
    };
    // What the protocol learned after the handshake.
    probe.server.extend(dlg.facts.clone());
    probe
        .findings
        .extend(dlg.findings.iter().skip(findings_before).cloned());
    probe.handshake = hs;
    probe.chain = chain;
    if let Some(mut e) = err {
        // No certificate and not TLS: say what is listening.
        if probe.chain.is_empty() && matches!(e.cause, Cause::NoTls | Cause::HandshakeFailure) {
            if let Some(first) = conn.captured_nonempty() {
                match sniff::sniff(first) {
                    // It is TLS after all: keep the handshake's own error.
                    Some(s) if s.dialogue == Some(Starttls::None) => {}
                    Some(s) => {
                        e = ProbeError::new(Cause::NoTls, s.message_for(dialogue));
                        if !s.summary.is_empty() {
                            probe.server_greeting.get_or_insert_with(|| s.summary.clone());
                        }
                        if dialogue == Starttls::None {
                            // A greeting, or a client-first protocol's answer to the
                            // ClientHello (an XMPP stream error, an LDAP notice): retry.
                            if let Some(d) = s.dialogue.filter(|d| *d != Starttls::None) {
                                probe.detected = Detected::Recognised(d);
                            }
                        }
                    }
                    None if !sniff::looks_like_tls(first) => {
                        e = ProbeError::new(
                            Cause::NoTls,
                            format!(
                                "the peer answered the ClientHello with bytes that are not TLS ({})",
                                sniff::preview(first)
                            ),
                        );
                    }
                    None => {}
                }
            } else if e.cause == Cause::HandshakeFailure && dialogue == Starttls::None {
                e.message.push_str(&sniff::silent_close_hint(target.port));
                probe.detected = Detected::SilentClose;
            }
        }
        return Err(e);
    }
    Ok(())
}

// `Probe` carries the sniffer's detected dialogue between attempts without exposing it.
impl Probe {
    /// Cause code of the error, if any.
    pub fn cause(&self) -> Option<Cause> {
        self.error.as_ref().map(|e| e.cause)
    }
}
