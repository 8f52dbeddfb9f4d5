//! `tlsdoctor connect`: probe a server (resolve, connect, pre-TLS dialogue, handshake with a
//! recording verifier), resolve each runtime's trust store meanwhile, diagnose the presented
//! chain per runtime, and report (`tlsdoctor.connect/v1`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::cli::{ConnectArgs, Format, RuntimeArg, StarttlsArg};
use crate::finding::{Finding, Severity};
use crate::probe::{self, Probe, ProbeOptions, ProxyChoice, Starttls, Target};
use crate::report::json::{
    Document, ErrorDoc, HandshakeDoc, NetworkDoc, TargetDoc, VerdictDoc, CONNECT_SCHEMA,
};
use crate::report::sanitize::sanitize;
use crate::trust::{Runtime, TrustStore};
use crate::x509::CertInfo;

/// Everything `connect` needs, independent of clap (also built by `check` from a spec).
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub target: String,
    pub starttls: StarttlsArg,
    pub servername: Option<String>,
    pub name: Option<String>,
    /// `--xmpp-domain` (default: the name, else the host).
    pub xmpp_domain: Option<String>,
    /// Explicit CA files (host paths); empty = each runtime's resolved store.
    pub ca: Vec<PathBuf>,
    /// Explicit CA files read inside the World (`--ca-in-world`: the program's own CA-file
    /// setting, a Helm repository's `caFile`).
    pub ca_in_world: Vec<PathBuf>,
    /// Empty = every runtime whose store resolves here.
    pub runtimes: Vec<Runtime>,
    /// Versions pinned (`--runtime go@1.24`, a spec's `runtimes = ["go@1.24"]`).
    pub pins: crate::profiles::Pins,
    pub timeout: Duration,
    /// None = from the environment (HTTPS_PROXY/NO_PROXY); Some("") = never.
    pub proxy: Option<String>,
    pub alpn: Vec<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Evaluate at this Unix time instead of now.
    pub at: Option<i64>,
    /// Fetch the AIA caIssuers URL of a chain that lacks its issuer.
    pub fetch_aia: bool,
}

impl ConnectRequest {
    pub fn from_args(a: &ConnectArgs) -> anyhow::Result<ConnectRequest> {
        let at = a.at.as_deref().map(super::parse_at).transpose()?;
        let explicit: Vec<Runtime> = if a.runtimes.is_empty() {
            Vec::new()
        } else {
            RuntimeArg::expand(&a.runtimes, &Runtime::ALL)
        };
        Ok(ConnectRequest {
            target: a.target.clone(),
            starttls: a.starttls,
            servername: a.servername.clone(),
            name: a.name.clone(),
            xmpp_domain: a.xmpp_domain.clone(),
            ca: a.ca.clone(),
            ca_in_world: super::in_world_paths(&a.ca_in_world),
            runtimes: explicit,
            pins: RuntimeArg::pins(&a.runtimes),
            timeout: a.timeout,
            proxy: if a.no_proxy {
                Some(String::new())
            } else {
                a.proxy.clone()
            },
            alpn: a.alpn.clone(),
            client_cert: a.client_cert.clone(),
            client_key: a.client_key.clone(),
            at,
            fetch_aia: !a.no_fetch,
        })
    }
}

/// Examine one target: resolve, connect, dialogue, handshake, diagnose. `Err` only for
/// usage/input errors (unreadable --ca, bad target syntax); network failures are data in
/// the document (`error`).
pub fn examine(req: &ConnectRequest, ctx: &Ctx) -> anyhow::Result<Document> {
    let target = Target::parse(&req.target, req.starttls)?;
    // An empty name would skip the name check and read as "ok"; an empty ALPN protocol
    // is invalid on the wire (RFC 7301) and only earns a decode_error alert.
    if let Some(n) = &req.name {
        anyhow::ensure!(
            !n.trim().is_empty(),
            "--name is empty: give the name to verify, or leave it out to verify the host"
        );
    }
    anyhow::ensure!(
        req.alpn.iter().all(|p| (1..=255).contains(&p.len())),
        "--alpn: each protocol name must be 1 to 255 bytes"
    );
    let name = req.name.clone().unwrap_or_else(|| target.host.clone());
    let at = req.at.unwrap_or(ctx.now);
    let timeout = if req.timeout.is_zero() {
        Duration::from_secs(10)
    } else {
        req.timeout
    };
    let proxy = match req.proxy.as_deref() {
        None => ProxyChoice::FromEnv,
        Some("") => ProxyChoice::Never,
        Some(u) => {
            probe::net::ProxyUrl::parse(u).map_err(|e| anyhow::anyhow!("--proxy: {}", e.message))?;
            ProxyChoice::Explicit(u.to_string())
        }
    };
    let client_cert = match (&req.client_cert, &req.client_key) {
        (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
        (None, None) => Ok(None),
        _ => Err(()),
    };
    // --ca: read up front (an unreadable file is a usage error, before any network) for
    // the rustls verifier's roots; each runtime's store is built off the critical path.
    // Once per run and key: `check`'s targets share the files, the verifier and the key.
    let client_key = super::ClientKey {
        ca: req.ca.clone(),
        ca_in_world: req.ca_in_world.clone(),
        client_cert: client_cert.clone().unwrap_or_default(),
    };
    let client = ctx.clients.get_or_build(client_key, || {
        let roots = verifier_roots(req, ctx)?;
        probe::tls::ClientBase::new(&roots, client_cert.as_ref().ok().and_then(Option::as_ref))
    })?;
    // A database target (postgres://, mysql://, --starttls postgres) is judged by its
    // database clients plus Go and OpenSSL, not by HTTP libraries.
    let dialogue = if target.starttls != Starttls::Auto {
        Some(target.starttls)
    } else {
        target.scheme_starttls
    };
    let db_runtimes = dialogue.and_then(|d| crate::runtimes::clients_of(d.code()));
    let runtimes = match (&db_runtimes, req.runtimes.is_empty()) {
        (Some(db), true) => db.clone(),
        _ => req.runtimes.clone(),
    };
    let explicit_ca = !req.ca.is_empty() || !req.ca_in_world.is_empty();
    let ca_runtimes = if runtimes.is_empty() {
        // The core runtimes (node, python, curl, java: with --runtime).
        Runtime::core()
    } else {
        runtimes.clone()
    };
    // The target URL's parameters: where the database clients read their CA file.
    let mut trust_opts = ctx.trust.clone();
    trust_opts.dsn = target.params.clone();
    trust_opts.pins = req.pins.clone();
    let opts = ProbeOptions {
        servername: req.servername.clone().or_else(|| req.name.clone()),
        alpn: req.alpn.clone(),
        timeout,
        proxy,
        client_cert: client_cert
            .map_err(|_| anyhow::anyhow!("--client-cert and --client-key go together"))?,
        verifier_roots: Vec::new(),
        name: req.name.clone(),
        xmpp_domain: req.xmpp_domain.clone(),
        client: Some(client),
    };
    let store_key = if !req.ca_in_world.is_empty() {
        super::StoreKey::InWorld(ca_runtimes.clone(), req.ca_in_world.clone(), req.pins.clone())
    } else if !explicit_ca {
        if target.params.is_empty() {
            super::StoreKey::World(runtimes.clone(), req.pins.clone())
        } else {
            super::StoreKey::WorldWith(runtimes.clone(), target.params.clone(), req.pins.clone())
        }
    } else {
        super::StoreKey::Explicit(ca_runtimes.clone(), req.ca.clone(), req.pins.clone())
    };
    let prepare = || {
        let stores = ctx.stores.get_or_resolve(store_key.clone(), || match &store_key {
            super::StoreKey::InWorld(..) => {
                let mut v = crate::trust::from_ca_files_in_world(&ca_runtimes, &ctx.world, &req.ca_in_world);
                crate::trust::attach_profiles(&mut v, &ctx.world, &trust_opts);
                Ok(v)
            }
            super::StoreKey::World(..) | super::StoreKey::WorldWith(..) => {
                Ok(resolve_stores(&runtimes, ctx, &trust_opts))
            }
            super::StoreKey::Explicit(..) => stores_from_ca(&ca_runtimes, &req.ca, &req.pins, ctx),
        });
        (stores, ctx.stores.distro(&ctx.world))
    };
    let (probe, prepared) = if ctx.stores.is_ready(&store_key) {
        // Resolved for an earlier target (`check`): nothing to do meanwhile, no thread.
        let probe = probe::run(&target, &opts, &ctx.world);
        (probe, Ok(prepare()))
    } else {
        // The stores resolve (and the distribution is detected) while the network is busy.
        std::thread::scope(|s| {
            let prepared = s.spawn(prepare);
            let probe = probe::run(&target, &opts, &ctx.world);
            (probe, prepared.join())
        })
    };
    let (stores, distro) = prepared.map_err(|_| anyhow::anyhow!("resolving the trust stores failed"))?;
    let mut stores: Vec<TrustStore> = stores?.as_ref().clone();
    crate::runtimes::apply_clients(&mut stores, &ctx.world, &target.params, Some(&target.host));
    let probe = probe?;
    let sni = probe::tls::server_name_for(&target, &opts).1;
    let fetch = if req.fetch_aia {
        Ok((&opts.proxy, timeout.min(crate::diagnose::aia::MAX_TIME)))
    } else {
        Err("--no-fetch")
    };
    // The distribution was detected (and cached in ctx.stores) alongside the stores.
    let _ = distro;
    Ok(build_document(
        &target,
        &name,
        at,
        &probe,
        &stores,
        sni,
        ctx,
        &trust_opts,
        (!req.ca.is_empty(), &req.ca_in_world),
        fetch,
    ))
}

/// The roots of the recorded rustls verifier: every certificate of the `--ca` files (host)
/// and the `--ca-in-world` files (a file the World lacks is skipped: the store says so).
fn verifier_roots(req: &ConnectRequest, ctx: &Ctx) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut verifier_roots: Vec<Vec<u8>> = Vec::new();
    let in_world = req.ca_in_world.iter().map(|f| (f, true));
    for (f, world) in req.ca.iter().map(|f| (f, false)).chain(in_world) {
        let data = if world {
            // A file the World lacks is the diagnosis (the store says so), not an error.
            match ctx.world.read(f) {
                Ok(d) => d,
                Err(_) => continue,
            }
        } else {
            crate::world::read_host_file(f)
                .map_err(|e| anyhow::anyhow!("--ca {}: {}", f.display(), crate::world::describe_io(&e)))?
        };
        use rustls::pki_types::pem::PemObject as _;
        let before = verifier_roots.len();
        verifier_roots.extend(
            rustls::pki_types::CertificateDer::pem_slice_iter(&data)
                .filter_map(Result::ok)
                .map(|c| c.as_ref().to_vec()),
        );
        if verifier_roots.len() == before && data.first() == Some(&0x30) {
            verifier_roots.push(data); // a DER certificate
        }
    }
    Ok(verifier_roots)
}

/// Assemble the document from the probe and the stores.
// Each argument is a separate product of `examine` (the probe, the stores, the fetch rule).
#[allow(clippy::too_many_arguments)]
fn build_document(
    target: &Target,
    name: &str,
    at: i64,
    probe: &Probe,
    stores: &[TrustStore],
    sni: Option<String>,
    ctx: &Ctx,
    trust_opts: &crate::trust::TrustOptions,
    (host_ca, ca_in_world): (bool, &[PathBuf]),
    fetch: Result<(&ProxyChoice, Duration), &str>,
) -> Document {
    let distro = ctx.stores.distro(&ctx.world);
    let mut findings: Vec<Finding> = probe.findings.clone();
    let mut certs: Vec<Arc<CertInfo>> = Vec::new();
    for (i, der) in probe.chain.iter().enumerate() {
        // Decoded once per process: `check`'s targets often present the same chain.
        match crate::trust::loader::decode(der, true) {
            Ok(c) => certs.push(c),
            Err(e) => findings.push(Finding::new(
                "unparseable-certificate",
                Severity::Error,
                format!("Certificate #{i} presented by the server cannot be decoded: {e}"),
            )),
        }
    }
    let (verdicts, diag_findings, chain, issuer, patch) = if certs.is_empty() {
        (Vec::new(), Vec::new(), Vec::new(), None, None)
    } else {
        let ev = super::issuer_evidence(ctx, stores, &certs, fetch);
        let input = crate::diagnose::Input {
            chain: certs.clone(),
            name: Some(name.to_string()),
            at,
            distro: Some(distro),
        };
        let d = crate::diagnose::evaluate_with(&input, stores, 0, ev.as_ref());
        // A pod (--manifest) whose runtimes lack the CA of the chain the server presented:
        // the smallest manifest change, proven, exactly as `verify --manifest` proposes it.
        // Not with --ca (host files: nothing in the pod to change); with --ca-in-world the
        // patch makes the CA appear in that file.
        let patch = if host_ca {
            None
        } else {
            super::patch::propose(
                ctx,
                trust_opts,
                &input,
                stores,
                &d.verdicts,
                ev.as_ref(),
                ca_in_world,
            )
        };
        (d.verdicts, d.findings, d.chain, d.issuer, patch)
    };
    findings.extend(diag_findings);
    super::store_findings(stores, &verdicts, &mut findings);
    let dialogue = probe.starttls.unwrap_or(target.effective_starttls());
    let mut server: Map<String, Value> = probe.server.clone();
    if let Some(hs) = &probe.handshake {
        if let Some(ans) = &hs.verifier_answer {
            server.insert(
                "rustls_verifier".into(),
                json!({
                    "roots": if stores.iter().any(|s| !s.ca_in_world.is_empty()) {
                        "--ca-in-world"
                    } else if stores.iter().any(|s| s.explicit) {
                        "--ca"
                    } else {
                        "webpki-roots"
                    },
                    "answer": match ans { Ok(()) => "ok".to_string(), Err(e) => sanitize(e) },
                }),
            );
        }
    }
    protocol_conclusions(dialogue, probe, &verdicts, stores, &mut server, &mut findings);
    recognise_generated_certs(&certs, &server, &mut findings);
    expiring_soon(&certs, at, &mut findings);
    let network = NetworkDoc {
        addresses: probe.addresses.iter().map(|a| a.to_string()).collect(),
        connected_to: probe.connected_to.map(|a| a.to_string()),
        proxy: probe.proxy.clone(),
        // An absent greeting is `null`, never `""`.
        server_greeting: probe.server_greeting.clone().filter(|g| !g.trim().is_empty()),
    };
    let handshake = probe.handshake.as_ref().map(|h| HandshakeDoc {
        completed: h.completed,
        version: h.version.clone(),
        cipher: h.cipher.clone(),
        alpn: h.alpn.clone(),
        client_cert_requested: h.client_cert_requested,
        acceptable_client_cas: h.acceptable_client_cas.clone(),
    });
    if probe.proxy.is_some() {
        findings.push(Finding::new(
            "proxy-used",
            Severity::Info,
            if probe.connected_to.is_some() {
                format!(
                    "The connection went through the HTTP proxy {} (CONNECT). A TLS-inspecting proxy presents its own chain.",
                    probe.proxy.clone().unwrap_or_default()
                )
            } else {
                format!(
                    "The connection was to go through the HTTP proxy {} (CONNECT), and that step failed (see the error).",
                    probe.proxy.clone().unwrap_or_default()
                )
            },
        ));
    }
    Document {
        patch,
        schema: CONNECT_SCHEMA.to_string(),
        target: Some(TargetDoc {
            host: target.host.clone(),
            port: target.port,
            name: name.to_string(),
            server_name: sni.clone(),
            starttls: dialogue.code().to_string(),
        }),
        network: Some(network),
        handshake,
        chain,
        verdicts,
        findings,
        error: probe.error.as_ref().map(|e| ErrorDoc {
            cause: e.cause.code().to_string(),
            message: e.message.clone(),
        }),
        evaluated_at: Some(crate::x509::rfc3339(at)),
        server: if server.is_empty() {
            None
        } else {
            Some(Value::Object(server))
        },
        issuer,
    }
}

/// What the protocol's clients would conclude (libpq `sslmode`, MySQL `ssl-mode`,
/// go-mssqldb `encrypt`): each protocol unit draws its own from the verdicts.
fn protocol_conclusions(
    dialogue: Starttls,
    probe: &Probe,
    verdicts: &[VerdictDoc],
    stores: &[TrustStore],
    server: &mut Map<String, Value>,
    findings: &mut Vec<Finding>,
) {
    let judgements: Vec<probe::protocols::Judgement> = verdicts
        .iter()
        .map(|v| probe::protocols::Judgement {
            runtime: v.runtime.clone(),
            trusted: v.trusted,
            causes: v.causes.clone(),
            message: v.message.clone(),
        })
        .collect();
    let outcome = probe::protocols::Outcome {
        tls_ok: probe.handshake.as_ref().is_some_and(|h| h.completed) && probe.error.is_none(),
        error: probe.error.as_ref().map(|e| e.message.as_str()),
        verdicts: &judgements,
        explicit_ca: stores.iter().any(|s| s.explicit),
    };
    dialogue.unit().conclusions(&outcome, server, findings);
}

/// Days before the end of a presented certificate's validity that earn a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// A presented certificate still valid at `at` that ends within two weeks: it works today,
/// and will not next week (the verdicts stay ✔; `--at` shows the day after).
fn expiring_soon(certs: &[Arc<CertInfo>], at: i64, findings: &mut Vec<Finding>) {
    let soonest = certs
        .iter()
        .filter(|c| c.not_before <= at && at <= c.not_after)
        .min_by_key(|c| c.not_after);
    let Some(c) = soonest else { return };
    let left = c.not_after - at;
    if left > EXPIRY_WARNING_DAYS * 86_400 {
        return;
    }
    let when = crate::commands::check::expect::days_phrase(left);
    let cn = c
        .subject
        .split(", ")
        .find_map(|x| x.strip_prefix("CN="))
        .unwrap_or(&c.subject);
    findings.push(
        Finding::new(
            "expires-soon",
            Severity::Warning,
            format!(
                "\"{}\" expires {when} ({}): connections start failing then.",
                sanitize(cn),
                crate::x509::rfc3339(c.not_after)
            ),
        )
        .fix("Renew it now and reload the server; check the renewal automation (certbot/cert-manager)."),
    );
}

/// MySQL's auto-generated CA and MariaDB 11.4+'s ephemeral self-signed certificate.
fn recognise_generated_certs(
    certs: &[Arc<CertInfo>],
    server: &Map<String, Value>,
    findings: &mut Vec<Finding>,
) {
    let auto = certs.iter().any(|c| {
        c.issuer.contains("_Auto_Generated_CA_Certificate") || c.subject.contains("_Auto_Generated_")
    });
    if auto {
        findings.push(
            Finding::new(
                "mysql-auto-generated-ca",
                Severity::Warning,
                "The certificate was generated automatically by MySQL at first start (MySQL_Server_<version>_Auto_Generated_CA_Certificate): no client trusts it unless given ca.pem from the server's data directory.",
            )
            .fix("Issue a certificate from your own CA for the server's name (ssl_cert/ssl_key), or give clients the data directory's ca.pem (--ssl-ca) for VERIFY_CA."),
        );
    }
    let mariadb_version = server
        .get("product")
        .and_then(Value::as_str)
        .filter(|p| *p == "MariaDB")
        .and_then(|_| server.get("server_version"))
        .and_then(Value::as_str)
        .map(|v| v.strip_prefix("5.5.5-").unwrap_or(v).to_string());
    if let (Some(v), Some(leaf)) = (mariadb_version, certs.first()) {
        let mut parts = v
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse::<u32>().ok());
        let (maj, min) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (maj, min) >= (11, 4) && leaf.self_signed && certs.len() == 1 {
            findings.push(
                Finding::new(
                    "mariadb-auto-generated-cert",
                    Severity::Warning,
                    format!(
                        "MariaDB {maj}.{min} presents a lone self-signed certificate: most likely the certificate MariaDB 11.4+ generates in memory when none is configured (zero-configuration SSL). MariaDB's own 11.4+ clients verify it through the account password; other clients and drivers cannot."
                    ),
                )
                .fix("Configure ssl_cert/ssl_key with a certificate from a CA the clients trust."),
            );
        }
    }
}

/// The exit code for one document (CLI.md): 0 all trusted, 1 a diagnosis, 3 unreachable.
pub fn exit_code(doc: &Document) -> u8 {
    if doc.error.is_some() && doc.chain.is_empty() {
        crate::exit::UNREACHABLE
    } else if doc.error.is_none() && !doc.verdicts.is_empty() && doc.verdicts.iter().all(|v| v.trusted) {
        crate::exit::OK
    } else {
        crate::exit::DIAGNOSIS
    }
}

pub fn run(args: &ConnectArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let req = ConnectRequest::from_args(args)?;
    let doc = examine(&req, ctx)?;
    match ctx.format {
        Format::Json | Format::Jsonl => {
            let s = if ctx.format == Format::Json {
                serde_json::to_string_pretty(&doc)
            } else {
                serde_json::to_string(&doc)
            }
            .context("serializing the report")?;
            super::emit(format!("{s}\n"))?;
        }
        Format::Human => {
            super::emit(render_human(&doc, ctx))?;
        }
    }
    Ok(exit_code(&doc))
}

/// Human output: the network/handshake header, then the shared verdict/chain/findings text.
pub fn render_human(doc: &Document, ctx: &Ctx) -> String {
    let mut out = render_connect_header(doc, ctx.quiet);
    out.push_str(&render_body(doc, ctx));
    if let Some(p) = &doc.patch {
        out.push_str(&super::patch::render_human(p));
    }
    out
}

/// What happened on the wire, in a few lines (80 columns).
pub fn render_connect_header(doc: &Document, quiet: bool) -> String {
    use crate::report::human::wrap;
    let mut o = String::new();
    let Some(t) = &doc.target else { return o };
    if quiet {
        return o;
    }
    let net = doc.network.as_ref();
    let hp = if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let via = net
        .and_then(|n| n.connected_to.clone())
        .map(|a| format!(" → {a}"))
        .unwrap_or_default();
    let dlg = if t.starttls == "none" {
        String::new()
    } else {
        format!(" ({})", t.starttls)
    };
    o.push_str(&wrap(&format!("{}{dlg}{via}", sanitize(&hp)), "connect ", "  "));
    if let Some(n) = net {
        if n.addresses.len() > 1 {
            o.push_str(&wrap(&n.addresses.join(", "), "  addresses: ", "    "));
        }
        if let Some(p) = &n.proxy {
            o.push_str(&wrap(
                &format!("{} (HTTP CONNECT)", sanitize(p)),
                "  proxy: ",
                "    ",
            ));
        }
        if let Some(g) = n.server_greeting.as_ref().filter(|g| !g.trim().is_empty()) {
            o.push_str(&wrap(&sanitize(g), "  server: ", "    "));
        }
    }
    if let Some(h) = &doc.handshake {
        let mut line = format!(
            "{} {}",
            h.version.as_deref().unwrap_or("?"),
            h.cipher.as_deref().unwrap_or("?")
        );
        if let Some(a) = &h.alpn {
            line.push_str(&format!(", ALPN {}", sanitize(a)));
        }
        match &t.server_name {
            Some(s) => line.push_str(&format!(", SNI {}", sanitize(s))),
            None => line.push_str(", no SNI"),
        }
        if !h.completed {
            line.push_str(" (handshake not completed)");
        }
        o.push_str(&wrap(&line, "  TLS: ", "    "));
        if h.client_cert_requested {
            if h.acceptable_client_cas.is_empty() {
                o.push_str("  client certificate requested (any CA)\n");
            } else {
                o.push_str("  client certificate requested; accepted CAs:\n");
                for ca in &h.acceptable_client_cas {
                    o.push_str(&wrap(&sanitize(ca), "    ", "      "));
                }
            }
        }
    }
    o.push('\n');
    o
}

/// `--ca`: the store each runtime would have with these files as its explicit CA option.
fn stores_from_ca(
    runtimes: &[Runtime],
    files: &[PathBuf],
    pins: &crate::profiles::Pins,
    ctx: &Ctx,
) -> anyhow::Result<Vec<TrustStore>> {
    let mut stores = crate::trust::from_ca_files_many(runtimes, files)?;
    let opts = crate::trust::TrustOptions {
        pins: pins.clone(),
        ..ctx.trust.clone()
    };
    crate::trust::attach_profiles(&mut stores, &ctx.world, &opts);
    Ok(stores)
}

/// Each runtime's store in the World. With no `--runtime`, every runtime whose store
/// resolves here (has anchors); all of them when none does, so the report says why.
fn resolve_stores(runtimes: &[Runtime], ctx: &Ctx, opts: &crate::trust::TrustOptions) -> Vec<TrustStore> {
    let wanted = if runtimes.is_empty() {
        // The core runtimes plus node/python/requests/curl/java when evidently present.
        crate::trust::default_runtimes(&ctx.world)
    } else {
        runtimes.to_vec()
    };
    // Anchor self-signatures are not checked: no runtime checks them when verifying.
    let stores = crate::trust::resolve_many_opts(&wanted, &ctx.world, opts, false);
    if runtimes.is_empty() {
        // As `verify`: Go stays even when empty ("failed to load system roots").
        stores
            .into_iter()
            .filter(|s| !s.anchors.is_empty() || s.runtime == Runtime::Go || s.runtime.is_extra())
            .collect()
    } else {
        stores
    }
}

/// The shared verdict/chain/findings text.
fn render_body(doc: &Document, ctx: &Ctx) -> String {
    crate::report::human::render(
        doc,
        &crate::report::human::HumanOpts {
            color: ctx.color,
            verbose: ctx.verbose,
            quiet: ctx.quiet,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(cn: &str) -> Arc<CertInfo> {
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let k = rcgen::KeyPair::generate().unwrap();
        let c = p.self_signed(&k).unwrap();
        Arc::new(CertInfo::from_der(c.der()).unwrap())
    }

    #[test]
    fn targets_with_the_same_ca_share_one_client_built_from_one_read() {
        // A CA file, and a port where nothing listens (refused at once: no server needed
        // to reach the point where the file is read and the rustls client built).
        let dir = std::env::temp_dir().join(format!("tlsdoctor-client-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "cache test CA");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let k = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&ca, p.self_signed(&k).unwrap().pem()).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cli = <crate::cli::Cli as clap::Parser>::parse_from(["tlsdoctor", "--quiet", "--color", "never"]);
        let ctx = Ctx::new(&cli.global, crate::world::World::fixture("/nonexistent", &[])).unwrap();
        let req = |target: String| ConnectRequest {
            target,
            starttls: StarttlsArg::None,
            servername: None,
            name: Some("cache.test".into()),
            xmpp_domain: None,
            ca: vec![ca.clone()],
            ca_in_world: vec![],
            runtimes: vec![Runtime::Go],
            pins: vec![],
            timeout: Duration::from_secs(5),
            proxy: Some(String::new()),
            alpn: vec![],
            client_cert: None,
            client_key: None,
            at: None,
            fetch_aia: false,
        };
        let first = examine(&req(format!("127.0.0.1:{port}")), &ctx).unwrap();
        assert!(first.error.is_some(), "nothing listens there");
        // Read once for the run: the second target does not read the file again.
        std::fs::remove_file(&ca).unwrap();
        let second = examine(&req(format!("127.0.0.1:{port}")), &ctx);
        assert!(second.is_ok(), "{:?}", second.err());
        let key = crate::commands::ClientKey {
            ca: vec![ca.clone()],
            ca_in_world: vec![],
            client_cert: None,
        };
        let a = ctx
            .clients
            .get_or_build(key.clone(), || panic!("built again"))
            .unwrap();
        let b = ctx.clients.get_or_build(key, || panic!("built again")).unwrap();
        assert!(Arc::ptr_eq(a.verifier(), b.verifier()));
        // Another run reads the file (gone now): an error that names it.
        let fresh = Ctx::new(&cli.global, crate::world::World::fixture("/nonexistent", &[])).unwrap();
        let e = examine(&req(format!("127.0.0.1:{port}")), &fresh).unwrap_err();
        assert!(
            format!("{e:#}").starts_with(&format!("--ca {}:", ca.display())),
            "{e:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn facts(product: &str, version: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("product".into(), json!(product));
        m.insert("server_version".into(), json!(version));
        m
    }

    #[test]
    fn recognises_mariadb_zero_configuration_certificate() {
        let leaf = self_signed("b6f3c1d2");
        let mut f = Vec::new();
        recognise_generated_certs(
            std::slice::from_ref(&leaf),
            &facts("MariaDB", "5.5.5-11.4.2-MariaDB"),
            &mut f,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "mariadb-auto-generated-cert");
        let mut f = Vec::new();
        recognise_generated_certs(&[leaf], &facts("MariaDB", "5.5.5-10.11.6-MariaDB"), &mut f);
        assert!(f.is_empty(), "10.11 does not generate certificates");
        let mut f = Vec::new();
        let mysql = self_signed("MySQL_Server_8.0.36_Auto_Generated_Server_Certificate");
        recognise_generated_certs(&[mysql], &facts("MySQL", "8.0.36"), &mut f);
        assert_eq!(f[0].code, "mysql-auto-generated-ca");
    }

    fn d(code: &str) -> Starttls {
        Starttls::from_code(code).unwrap()
    }

    fn verdict(runtime: &str, causes: &[&str]) -> VerdictDoc {
        VerdictDoc {
            runtime: runtime.into(),
            trusted: causes.is_empty(),
            name_ok: !causes.iter().any(|c| c.contains("name") || c.contains("common")),
            cause: causes.first().copied().unwrap_or("ok").into(),
            causes: causes.iter().map(|c| c.to_string()).collect(),
            message: "verify error:num=62:hostname mismatch".into(),
            anchor: None,
            store: crate::report::json::StoreSummaryDoc {
                anchors: 1,
                sources: vec![],
                explicit: true,
            },
            details: vec![],
            failing_index: None,
            model: None,
        }
    }

    #[test]
    fn libpq_and_mysql_conclusions_follow_the_openssl_verdict() {
        let probe = Probe {
            handshake: Some(probe::Handshake {
                completed: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let run = |dialogue, causes: &[&str]| {
            let mut server = Map::new();
            let mut findings = Vec::new();
            protocol_conclusions(
                dialogue,
                &probe,
                &[verdict("openssl", causes)],
                &[],
                &mut server,
                &mut findings,
            );
            server
        };
        let pg = run(d("postgres"), &[]);
        assert_eq!(pg["libpq"]["sslmode=verify-full"], "connects");
        // CN-only: libpq falls back to the CN when there is no DNS SAN.
        let pg = run(d("postgres"), &["legacy-common-name"]);
        assert_eq!(pg["libpq"]["sslmode=verify-full"], "connects");
        let pg = run(d("postgres"), &["name-mismatch"]);
        assert_eq!(pg["libpq"]["sslmode=verify-ca"], "connects");
        assert!(pg["libpq"]["sslmode=verify-full"]
            .as_str()
            .unwrap()
            .contains("does not match host name"));
        let my = run(d("mysql"), &["unknown-authority"]);
        assert!(my["ssl_mode"]["REQUIRED"]
            .as_str()
            .unwrap()
            .starts_with("connects"));
        assert!(my["ssl_mode"]["VERIFY_CA"].as_str().unwrap().starts_with("fails"));
        assert!(run(Starttls::None, &[]).is_empty());
        // `--runtime go`: no OpenSSL verdict, so no claim that verification would fail.
        let mut server = Map::new();
        let mut findings = Vec::new();
        protocol_conclusions(
            d("postgres"),
            &probe,
            &[verdict("go", &[])],
            &[],
            &mut server,
            &mut findings,
        );
        assert!(server["libpq"]["sslmode=verify-full"]
            .as_str()
            .unwrap()
            .starts_with("unknown"));
        assert!(findings.is_empty(), "{findings:?}");
        let mut server = Map::new();
        protocol_conclusions(
            d("mysql"),
            &probe,
            &[verdict("go", &[])],
            &[],
            &mut server,
            &mut findings,
        );
        assert!(server["ssl_mode"]["VERIFY_IDENTITY"]
            .as_str()
            .unwrap()
            .starts_with("unknown"));
    }
}
