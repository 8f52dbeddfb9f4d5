//! diagnose — *would it verify, and if not, why, and what fixes it?*
//!
//! Evaluates a presented chain against each runtime's store, name and clock; classifies
//! every problem into a stable [`Cause`]; renders the message that runtime would print.
//!
//! Each runtime has its own emulation: [`go`] (crypto/x509 1.19 path building with
//! backtracking), [`openssl`] (X509_verify_cert 3.0 as libssl's client sets it up) and
//! [`webpki`] (rustls' real verifier). [`evaluate`] runs them, collects **all** causes
//! that apply per runtime (not only the first), picks the primary one, and attaches
//! findings with fixes worded for the runtime and distro ([`fix`]).

pub mod aia;
pub mod cause;
pub mod evidence;
pub mod facts;
pub mod fix;
pub mod go;
pub mod intercept;
pub mod name;
pub mod openssl;
pub mod runtimes;
pub mod webpki;

use std::sync::Arc;

pub use cause::Cause;
pub use fix::Distro;

use crate::finding::{Finding, Severity};
use crate::report::json::{AnchorDoc, CauseDetailDoc, CertDoc, ModelDoc, StoreSummaryDoc, VerdictDoc};
use crate::runtimes::{Check, Engine, Policy};
use crate::trust::auxtrust::AuxDecision;
use crate::trust::{Runtime, TrustStore};
use crate::x509::CertInfo;
use facts::Arena;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct Input {
    /// The certificates as presented, in any order (the leaf is found).
    pub chain: Vec<Arc<CertInfo>>,
    /// The name to verify (DNS name or IP address); None = no name check.
    pub name: Option<String>,
    /// The time to verify at (Unix seconds).
    pub at: i64,
    /// The distro / image, for wording fixes.
    pub distro: Option<Distro>,
}

/// The outcome: one verdict per store, findings with fixes, the chain as presented.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub verdicts: Vec<VerdictDoc>,
    pub findings: Vec<Finding>,
    pub chain: Vec<CertDoc>,
    /// The certificate the chain lacks, with where it was found (when evidence was gathered).
    pub issuer: Option<evidence::IssuerDoc>,
}

/// OpenSSL's canonical name encoding (x509_name_canon), when available.
pub fn canon_name(name_der: &[u8]) -> Option<Vec<u8>> {
    crate::trust::openssl::canonical_name(name_der)
}

/// A not-before this close to "now" is most likely clock skew.
pub const CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Order the presented certificates: the leaf first, then the others as presented.
pub fn order_presented(chain: &[Arc<CertInfo>]) -> Vec<usize> {
    let n = chain.len();
    if n == 0 {
        return vec![];
    }
    // A certificate that issues another presented certificate is not the leaf.
    let issues_other = |i: usize| {
        (0..n).any(|j| j != i && chain[j].issuer_der == chain[i].subject_der && !chain[j].self_issued)
    };
    let leaf = if !issues_other(0) {
        0
    } else {
        (0..n)
            .filter(|&i| !issues_other(i))
            .min_by_key(|&i| chain[i].is_ca())
            .unwrap_or(0)
    };
    let mut v = vec![leaf];
    v.extend((0..n).filter(|&i| i != leaf));
    v
}

/// Per-runtime result before it becomes a `VerdictDoc`.
#[derive(Debug, Clone)]
struct Verdict {
    runtime: Runtime,
    trusted: bool,
    name_ok: bool,
    causes: Vec<(Cause, String)>,
    message: String,
    anchor: Option<usize>,
    /// Arena index of the failing certificate.
    failing: Option<usize>,
    /// OpenSSL: a store certificate its trust settings reject (X509_V_ERR_CERT_REJECTED).
    rejected: Option<usize>,
}

impl Verdict {
    fn add(&mut self, c: Cause, detail: String) {
        if !self.causes.iter().any(|(x, _)| *x == c) {
            self.causes.push((c, detail));
        }
    }
}

/// (compiled-in roots?, arena indices of the anchors)
type WebpkiKey = (bool, Vec<usize>);

struct Env<'a> {
    arena: Arena,
    input: &'a Input,
    /// Arena indices: leaf first.
    pres: Vec<usize>,
    /// arena index -> index in input.chain
    pres_pos: Vec<(usize, usize)>,
    stores: &'a [TrustStore],
    store_idx: Vec<Vec<usize>>,
    nanos: u32,
    /// rustls-webpki outcomes by (compiled-in roots?, anchor set): `rustls-native` and
    /// `webpki-roots` given the same `--ca` files verify identically, so once is enough.
    webpki_memo: std::cell::RefCell<Vec<(WebpkiKey, webpki::WebpkiOutcome)>>,
    /// Where the missing issuer exists in the World, and what its AIA URL served.
    evidence: Option<&'a evidence::IssuerEvidence>,
}

use crate::report::style::span as human_duration;

impl Env<'_> {
    /// OpenSSL's `X509_verify_cert` at security level 2 against store `si`, with the
    /// anchors' TRUSTED CERTIFICATE settings; `name` is the host checked by OpenSSL itself.
    fn openssl_verify(&self, si: usize, name: Option<&str>) -> openssl::OsslOutcome {
        self.openssl_verify_with(si, name, 2, false)
    }

    /// [`Self::openssl_verify`] at a given security level, optionally with
    /// `X509_V_FLAG_X509_STRICT`.
    fn openssl_verify_with(
        &self,
        si: usize,
        name: Option<&str>,
        level: u32,
        strict: bool,
    ) -> openssl::OsslOutcome {
        let aux: Vec<_> = self.stores[si]
            .anchors
            .iter()
            .map(|a| a.aux_trust.clone())
            .collect();
        openssl::verify_aux(
            &self.arena,
            &self.pres,
            &self.store_idx[si],
            &aux,
            name,
            self.input.at,
            openssl::Params { level, strict },
        )
    }

    /// The version and build store `si`'s runtime is modelled at (a store built without
    /// one — a test, a library caller — gets the newest known version).
    fn profile(&self, si: usize) -> Option<crate::profiles::Profile> {
        self.profile_of(&self.stores[si])
    }

    fn profile_of(&self, s: &TrustStore) -> Option<crate::profiles::Profile> {
        s.profile
            .clone()
            .or_else(|| s.runtime.unit().profile.map(crate::profiles::Profile::assumed))
    }

    fn cert(&self, i: usize) -> &CertInfo {
        self.arena.info(i)
    }

    fn label(&self, i: usize) -> String {
        format!("\"{}\"", self.cert(i).short_name())
    }

    fn position(&self, arena_idx: usize) -> Option<usize> {
        self.pres_pos
            .iter()
            .find(|(a, _)| *a == arena_idx)
            .map(|(_, p)| *p)
    }

    fn expired_detail(&self, i: usize) -> String {
        let c = self.cert(i);
        format!(
            "{} expired at {} ({} before the time checked, {})",
            self.label(i),
            c.not_after_rfc3339(),
            human_duration(self.input.at - c.not_after),
            crate::x509::rfc3339(self.input.at)
        )
    }

    fn not_yet_detail(&self, i: usize) -> String {
        let c = self.cert(i);
        let ahead = c.not_before - self.input.at;
        let skew = if ahead <= CLOCK_SKEW_SECS {
            " — only minutes ahead: most likely a clock skew between this machine and the CA"
        } else {
            ""
        };
        format!(
            "{} is valid only from {} ({} after the time checked){skew}",
            self.label(i),
            c.not_before_rfc3339(),
            human_duration(ahead)
        )
    }

    fn name_detail(&self, runtime: Runtime) -> String {
        let leaf = self.cert(self.pres[0]);
        let want = self.input.name.clone().unwrap_or_default();
        let mut names: Vec<String> = leaf.dns_names.clone();
        names.extend(leaf.ip_addresses.iter().cloned());
        let cn = if runtime == Runtime::Openssl && leaf.dns_names.is_empty() {
            leaf.subject_cn
                .iter()
                .map(|c| format!("CN {c}"))
                .collect::<Vec<_>>()
        } else {
            vec![]
        };
        names.extend(cn);
        if names.is_empty() {
            format!("expected {want}; the certificate has no names this runtime checks")
        } else {
            format!(
                "expected {want}; the certificate is valid for {}",
                names.join(", ")
            )
        }
    }

    /// The auxiliary trust settings a store of this runtime holds for this certificate.
    fn aux_of(&self, runtime: Runtime, c: usize) -> Option<&crate::trust::auxtrust::AuxTrust> {
        self.stores
            .iter()
            .zip(&self.store_idx)
            .filter(|(s, _)| s.runtime == runtime)
            .find_map(|(s, idx)| {
                idx.iter()
                    .position(|&a| a == c)
                    .and_then(|i| s.anchors[i].aux_trust.as_ref())
            })
    }

    /// Where is a certificate with this subject trusted?
    fn stores_with_subject(&self, subject_der: &[u8]) -> Vec<Runtime> {
        let mut v = vec![];
        for (s, idx) in self.stores.iter().zip(&self.store_idx) {
            if idx.iter().any(|&a| self.cert(a).subject_der == subject_der) {
                v.push(s.runtime);
            }
        }
        v
    }

    /// The top of the presented chain, walking issuers among presented certificates.
    fn presented_top(&self) -> usize {
        let mut chain = vec![self.pres[0]];
        loop {
            let top = *chain.last().unwrap();
            if self.cert(top).self_signed {
                return top;
            }
            let next = self.pres.iter().copied().find(|&p| {
                !chain.contains(&p)
                    && self.cert(p).subject_der == self.cert(top).issuer_der
                    && self.arena.sig(top, p) != facts::SigCheck::Invalid
            });
            match next {
                Some(n) => chain.push(n),
                None => return top,
            }
        }
    }

    /// missing-intermediate / unknown-authority / self-signed, with the explaining detail.
    fn classify_unknown(&self, top: usize) -> (Cause, String) {
        let c = self.cert(top);
        let leaf = self.pres[0];
        if top == leaf && c.self_signed {
            return (
                Cause::SelfSigned,
                format!("{} is self-signed and not a trusted certificate", self.label(top)),
            );
        }
        if c.self_signed {
            return (
                Cause::UnknownAuthority,
                format!(
                    "the chain ends at the root {} (presented by the server), which is not trusted",
                    self.label(top),
                ),
            );
        }
        // The issuer was presented but could not be used: say why.
        if let Some(&p) = self
            .pres
            .iter()
            .find(|&&p| p != top && self.cert(p).subject_der == c.issuer_der)
        {
            let pc = self.cert(p);
            let not_ca = !pc.is_ca() || (pc.key_usage.is_some() && !pc.has_key_usage("keyCertSign"));
            if not_ca {
                return (
                    Cause::NotACa,
                    format!(
                        "the presented issuer {} of {} is not a CA certificate (basicConstraints CA:TRUE and keyCertSign needed)",
                        self.label(p),
                        self.label(top)
                    ),
                );
            }
            if self.arena.sig(top, p) == facts::SigCheck::Invalid {
                return (
                    Cause::BadSignature,
                    format!(
                        "the presented {} has the right name but did not sign {} (a different key: wrong or outdated intermediate)",
                        self.label(p),
                        self.label(top)
                    ),
                );
            }
        }
        let elsewhere = self.stores_with_subject(&c.issuer_der);
        if !elsewhere.is_empty() {
            let names: Vec<&str> = elsewhere.iter().map(|r| r.code()).collect();
            // Only OpenSSL reads TRUSTED CERTIFICATE blocks: say so when that is the reason.
            let tcb = self
                .stores
                .iter()
                .flat_map(|s| &s.anchors)
                .filter(|a| a.cert.subject_der == c.issuer_der)
                .all(|a| a.trusted_cert_block);
            let note = if tcb {
                " (as a TRUSTED CERTIFICATE block, which only OpenSSL reads)"
            } else {
                ""
            };
            // Why this runtime does not see it: where the others take it from.
            let why = self
                .evidence
                .and_then(|ev| {
                    ev.sightings.iter().find(|s| {
                        matches!(s.kind.as_str(), "staging" | "kubernetes")
                            || s.note.contains("without the hash link")
                            || s.note.contains("without a hash link")
                    })
                })
                .map(|s| match s.note.split_once("; in ") {
                    Some((_, rest)) if s.kind == "store" => format!(": in {rest}"),
                    _ => format!(": {}", s.note),
                })
                .unwrap_or_default();
            return (
                Cause::UnknownAuthority,
                format!(
                    "the issuer \"{}\" of {} is only in the {} store{}{note}{why}",
                    issuer_short(c),
                    self.label(top),
                    names.join(", "),
                    if names.len() > 1 { "s" } else { "" },
                ),
            );
        }
        self.classify_missing(top)
    }

    /// The top certificate is not self-signed and its issuer is in no store: an untrusted
    /// root (the trust store lacks it) or a missing intermediate (the server should send
    /// it), decided from where it exists in the World, what its AIA URL serves, and what
    /// the server sent.
    fn classify_missing(&self, top: usize) -> (Cause, String) {
        let c = self.cert(top);
        let leaf_only = top == self.pres[0];
        let issuer = issuer_short(c);
        let ev = self
            .evidence
            .filter(|_| self.cert(self.presented_top()).issuer_der == c.issuer_der);
        let sent = if leaf_only {
            "the server sent only the leaf".to_string()
        } else {
            format!("the server sent its chain up to {}", self.label(top))
        };
        let aia_url = c.aia_ca_issuers.first();
        let (kind, _) = match ev {
            Some(e) => e.kind(leaf_only),
            None if leaf_only => (evidence::IssuerKind::Unknown, evidence::Confidence::Low),
            None => (evidence::IssuerKind::Root, evidence::Confidence::Likely),
        };
        let found = ev.and_then(|e| e.cert.as_ref());
        let from_aia = ev.is_some_and(|e| {
            matches!(&e.aia, Some(evidence::AiaFetch::Fetched { certs, .. }) if found.is_some_and(|f| certs.iter().any(|x| x.sha256 == f.sha256)))
        });
        let where_ = ev.and_then(|e| e.where_words());
        let aia_note = match (ev.and_then(|e| e.aia.as_ref()), aia_url) {
            (_, None) => String::new(),
            (Some(evidence::AiaFetch::Failed { url, reason }), _) => {
                format!("; fetching its AIA caIssuers URL {url} failed ({reason})")
            }
            (Some(evidence::AiaFetch::NotFetched { url, reason }), _) => {
                format!("; its AIA caIssuers URL {url} was not fetched ({reason})")
            }
            (Some(evidence::AiaFetch::Fetched { url, .. }), _) if !from_aia => {
                format!("; its AIA caIssuers URL {url} did not serve it")
            }
            (Some(_), _) => String::new(),
            (None, Some(u)) => format!("; its AIA caIssuers URL is {u}"),
        };
        let mut evidence_words = String::new();
        if let Some(w) = &where_ {
            evidence_words.push_str(&format!(": {w}"));
        } else if from_aia {
            evidence_words.push_str(&format!(
                " (its AIA caIssuers URL {} serves it)",
                aia_url.cloned().unwrap_or_default()
            ));
        }
        match kind {
            evidence::IssuerKind::Root => {
                if found.is_some() {
                    (
                        Cause::UnknownAuthority,
                        format!(
                            "{sent}; its issuer, the root \"{issuer}\", is not trusted here{evidence_words}{aia_note}"
                        ),
                    )
                } else {
                    (
                        Cause::UnknownAuthority,
                        format!(
                            "{sent}; its issuer \"{issuer}\" is in no store and nowhere else here{aia_note}: most \
                             likely a private root CA that this host does not trust"
                        ),
                    )
                }
            }
            evidence::IssuerKind::Intermediate => (
                Cause::MissingIntermediate,
                format!("{sent}; its issuer, the intermediate \"{issuer}\", was not sent{evidence_words}{aia_note}"),
            ),
            evidence::IssuerKind::Unknown => (
                Cause::MissingIntermediate,
                format!(
                    "{sent}; its issuer \"{issuer}\" is in no store and nowhere else here{}: most likely an \
                     intermediate the server should send (low confidence: it may be a root CA)",
                    if aia_url.is_none() {
                        format!(", and {} has no AIA caIssuers URL", self.label(top))
                    } else {
                        aia_note.clone()
                    }
                ),
            ),
        }
    }
}

fn issuer_short(c: &CertInfo) -> String {
    c.issuer
        .split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .map(|s| s.to_string())
        .unwrap_or_else(|| c.issuer.clone())
}

/// The evaluation context: the presented chain and every store's anchors in one arena.
fn build_env<'a>(
    input: &'a Input,
    stores: &'a [TrustStore],
    nanos: u32,
    evidence: Option<&'a evidence::IssuerEvidence>,
) -> Env<'a> {
    let mut arena = Arena::new();
    let order = order_presented(&input.chain);
    let mut pres = vec![];
    let mut pres_pos = vec![];
    for &i in &order {
        let a = arena.add(&input.chain[i]);
        pres.push(a);
        pres_pos.push((a, i));
    }
    let mut store_idx = vec![];
    for s in stores {
        store_idx.push(s.anchors.iter().map(|a| arena.add(&a.cert)).collect::<Vec<_>>());
    }
    Env {
        arena,
        input,
        pres,
        pres_pos,
        stores,
        store_idx,
        nanos,
        webpki_memo: Default::default(),
        evidence,
    }
}

/// The engine's verdict for store `si`.
fn eval_engine(env: &Env, si: usize) -> Verdict {
    match env.stores[si].runtime.unit().engine {
        Engine::GoX509 => eval_go(env, si),
        Engine::Openssl => eval_openssl(env, si),
        Engine::Webpki => eval_webpki(env, si),
        Engine::OpensslApp(app) => runtimes::eval_ossl_app(env, si, app),
        Engine::Pkix => runtimes::eval_java(env, si),
    }
}

/// A database client's settings applied to its engine's verdict: a client that stops
/// before verifying says so; one that checks nothing (or only the chain) connects where
/// the full check would fail — said in a finding with what the full check would say; a
/// name mismatch in the client's own words.
fn client_outcome(v: &mut Verdict, p: &Policy, findings: &mut Vec<Finding>) {
    let code = v.runtime.code();
    if let Some(e) = &p.error {
        v.trusted = false;
        v.name_ok = true;
        v.message = e.clone();
        v.anchor = None;
        v.failing = None;
        v.causes = vec![(
            Cause::UnknownAuthority,
            format!("{code} stops before any verification ({}): {e}", p.setting),
        )];
        return;
    }
    let only_name = !v.trusted
        && !v.causes.is_empty()
        && v.causes
            .iter()
            .all(|(c, _)| matches!(c, Cause::NameMismatch | Cause::LegacyCommonName));
    if p.check == Check::Full && only_name {
        if let Some(m) = &p.name_message {
            v.message = m.clone();
        }
    }
    let accepted_because = match (p.check, &p.tolerated) {
        (Check::Nothing, _) => Some(
            p.note
                .clone()
                .unwrap_or_else(|| "the certificate is not checked".into()),
        ),
        (_, Some(t))
            if !v.trusted
                && p.tolerate_only
                    .is_none_or(|only| v.causes.iter().all(|(c, _)| only.contains(c))) =>
        {
            Some(t.clone())
        }
        _ => None,
    };
    let Some(why) = accepted_because else {
        return;
    };
    let would = if v.trusted {
        String::new()
    } else {
        format!("; a verifying setup would fail here: {}", v.message)
    };
    findings.push(
        Finding::new(
            "client-unverified",
            Severity::Warning,
            format!(
                "{code} connects without verifying the server certificate ({}: {why}): anyone on the path can stand in for the server{would}",
                p.setting
            ),
        )
        .fix(p.fix.clone())
        .runtimes(&[code]),
    );
    v.trusted = true;
    v.name_ok = true;
    v.causes.clear();
    v.message = format!("connects without verifying the certificate ({why})");
    v.failing = None;
}

/// Evaluate a chain against each store.
pub fn evaluate(input: &Input, stores: &[TrustStore]) -> Diagnosis {
    evaluate_precise(input, stores, 0)
}

/// Like [`evaluate`], with sub-second precision for the time (`input.at` + `nanos`).
pub fn evaluate_precise(input: &Input, stores: &[TrustStore], nanos: u32) -> Diagnosis {
    evaluate_with(input, stores, nanos, None)
}

/// Like [`evaluate_precise`], with the evidence about the missing issuer gathered from the
/// World (and its AIA URL) by the command: it decides untrusted root vs missing
/// intermediate, and the report names where the issuer exists.
pub fn evaluate_with(
    input: &Input,
    stores: &[TrustStore],
    nanos: u32,
    evidence: Option<&evidence::IssuerEvidence>,
) -> Diagnosis {
    let env = build_env(input, stores, nanos, evidence);
    // Database clients set to check the chain only (libpq verify-ca, pgx verify-ca, MySQL
    // VERIFY_CA): their engine without the name. Same arena order, so the indices agree.
    let chain_only_input;
    let env_chain = if stores
        .iter()
        .any(|s| s.policy.as_ref().is_some_and(|p| p.check == Check::Chain))
    {
        chain_only_input = Input {
            name: None,
            ..input.clone()
        };
        Some(build_env(&chain_only_input, stores, nanos, evidence))
    } else {
        None
    };
    let mut client_findings: Vec<Finding> = vec![];
    let chain_docs: Vec<CertDoc> = input
        .chain
        .iter()
        .enumerate()
        .map(|(i, c)| CertDoc::from_cert(i, c))
        .collect();
    if env.pres.is_empty() {
        return Diagnosis {
            verdicts: vec![],
            findings: vec![Finding::new(
                "empty-chain",
                Severity::Error,
                "no certificate to verify",
            )],
            chain: chain_docs,
            issuer: None,
        };
    }
    let product = intercept::detect(&input.chain);
    let mut verdicts = vec![];
    for (si, store) in stores.iter().enumerate() {
        // The engine and the words come from the runtime's unit (src/runtimes/).
        let e = match (&store.policy, &env_chain) {
            (Some(p), Some(ec)) if p.check == Check::Chain => ec,
            _ => &env,
        };
        let mut v = eval_engine(e, si);
        if let Some(c) = store.runtime.unit().client {
            if !v.message.is_empty() {
                v.message = (c.words)(&v.message);
            }
        }
        if let Some(p) = &store.policy {
            client_outcome(&mut v, p, &mut client_findings);
        }
        if !v.trusted {
            if let Some((p, _)) = product {
                let unknownish = v.causes.iter().any(|(c, _)| {
                    matches!(
                        c,
                        Cause::UnknownAuthority | Cause::MissingIntermediate | Cause::SelfSigned
                    )
                });
                if unknownish {
                    v.causes.insert(
                        0,
                        (
                            Cause::UntrustedIntercept,
                            format!(
                                "the chain was minted by {} (TLS inspection), whose root is not trusted",
                                p.name,
                            ),
                        ),
                    );
                }
            }
        }
        verdicts.push(v);
    }
    let mut findings = findings(&env, stores, &verdicts, product.map(|p| p.0));
    findings.extend(client_findings);
    let docs: Vec<VerdictDoc> = verdicts
        .iter()
        .zip(stores)
        .map(|(v, s)| verdict_doc(&env, v, s))
        .collect();
    let issuer = issuer_doc(&env, input, stores, &docs);
    Diagnosis {
        verdicts: docs,
        findings,
        chain: chain_docs,
        issuer,
    }
}

/// The `issuer` object: only when some runtime failed for want of the issuer of the top
/// presented certificate, and evidence was gathered. An intermediate served at the AIA URL
/// is tried: would the chain then verify for some runtime?
fn issuer_doc(
    env: &Env,
    input: &Input,
    stores: &[TrustStore],
    docs: &[VerdictDoc],
) -> Option<evidence::IssuerDoc> {
    let ev = env.evidence?;
    let missing = docs.iter().any(|v| {
        v.causes
            .iter()
            .any(|c| c == "unknown-authority" || c == "missing-intermediate" || c == "untrusted-intercept")
    });
    if !missing {
        return None;
    }
    let top_i = env.presented_top();
    let top = env.cert(top_i);
    let mut doc = ev.doc(top, top_i == env.pres[0]);
    if let (Some(a), Some(evidence::AiaFetch::Fetched { certs, .. })) = (doc.aia.as_mut(), &ev.aia) {
        if let Some(c) = certs.iter().find(|c| evidence::issues(c, top)) {
            let mut with = input.clone();
            with.chain.push(c.clone());
            let again = evaluate_with(&with, stores, env.nanos, None);
            a.completes_chain = again.verdicts.iter().any(|v| v.trusted);
        }
    }
    Some(doc)
}

fn verdict_doc(env: &Env, v: &Verdict, s: &TrustStore) -> VerdictDoc {
    // A failing certificate that was not presented is a store anchor: report it as the
    // anchor the path ended at.
    let anchor_idx = match v.failing {
        Some(f) if !v.trusted && env.position(f).is_none() => Some(f),
        _ => v.anchor,
    };
    let anchor = anchor_idx.map(|a| {
        let c = env.cert(a);
        let source = s
            .anchors
            .iter()
            .find(|x| x.cert.der == c.der)
            .map(|x| x.provenance.path.clone())
            .unwrap_or_else(|| "presented".into());
        AnchorDoc {
            subject: c.subject.clone(),
            sha256: c.sha256.clone(),
            source,
        }
    });
    let causes: Vec<(Cause, String)> = if v.trusted {
        vec![(Cause::Ok, String::new())]
    } else {
        v.causes.clone()
    };
    let primary = causes.first().map(|c| c.0).unwrap_or(Cause::UnknownAuthority);
    VerdictDoc {
        runtime: v.runtime.code().to_string(),
        trusted: v.trusted,
        name_ok: v.name_ok,
        cause: primary.code().to_string(),
        causes: causes.iter().map(|c| c.0.code().to_string()).collect(),
        message: v.message.clone(),
        anchor,
        store: StoreSummaryDoc {
            anchors: s.anchors.len(),
            sources: s.sources(),
            explicit: s.explicit,
        },
        details: causes
            .iter()
            .filter(|c| !c.1.is_empty())
            .map(|c| CauseDetailDoc {
                cause: c.0.code().to_string(),
                detail: c.1.clone(),
            })
            .collect(),
        failing_index: v.failing.and_then(|f| env.position(f)),
        model: env.profile_of(s).as_ref().map(ModelDoc::from),
    }
}

fn eval_go(env: &Env, si: usize) -> Verdict {
    let store = &env.stores[si];
    let roots = &env.store_idx[si];
    let mut rules = env
        .profile(si)
        .map(|p| go::GoRules::of(&p))
        .unwrap_or_else(|| go::GoRules::version(19));
    // A Go client that checks the chain only (pgx verify-ca) calls Verify itself in
    // VerifyPeerCertificate (InsecureSkipVerify set): crypto/tls returns that callback's
    // error as it is, without `tls: failed to verify certificate: `.
    if store.policy.as_ref().is_some_and(|p| p.check == Check::Chain) {
        rules.wraps_verify_error = false;
    }
    let out = go::verify_rules(
        &env.arena,
        &env.pres,
        roots,
        env.input.name.as_deref(),
        (env.input.at, env.nanos),
        rules,
    );
    let name_ok = !out
        .all
        .iter()
        .any(|e| matches!(e.cause, Cause::NameMismatch | Cause::LegacyCommonName));
    let mut v = Verdict {
        runtime: store.runtime,
        trusted: out.error.is_none(),
        name_ok,
        causes: vec![],
        message: String::new(),
        anchor: out.chain.as_ref().and_then(|c| c.last().copied()),
        failing: out.error.as_ref().and_then(|e| e.hint_cert.or(e.cert)),
        rejected: None,
    };
    if let Some(err) = &out.error {
        v.message = err.msg.clone();
        if roots.is_empty() {
            if let Some(e) = &store.error {
                v.message = if store.explicit {
                    // The program's own CA file could not be read: it fails before verifying.
                    e.clone()
                } else {
                    format!("x509: failed to load system roots and no roots provided; {e}")
                };
            }
        }
    }
    for e in &out.all {
        let (cause, detail) = go_cause(env, Runtime::Go, e);
        v.add(cause, detail);
    }
    v
}

fn go_cause(env: &Env, rt: Runtime, e: &go::GoErr) -> (Cause, String) {
    match e.cause {
        Cause::Expired => (
            Cause::Expired,
            e.cert.map(|c| env.expired_detail(c)).unwrap_or_default(),
        ),
        Cause::NotYetValid => (
            Cause::NotYetValid,
            e.cert.map(|c| env.not_yet_detail(c)).unwrap_or_default(),
        ),
        Cause::NameMismatch => (Cause::NameMismatch, env.name_detail(rt)),
        Cause::LegacyCommonName => (
            Cause::LegacyCommonName,
            format!(
                "{} carries {} only in its subject CN (no subjectAltName); Go ignores the CN",
                env.label(env.pres[0]),
                env.input.name.clone().unwrap_or_default()
            ),
        ),
        Cause::UnknownAuthority if e.unknown => {
            let cert = e.cert.unwrap_or(env.pres[0]);
            // Go's hint names the first candidate found by name. A store certificate that
            // merely shares the name (Debian's snakeoil certificate carries the host name)
            // and whose key did not sign this one is not the issuer: its complaint
            // ("cannot sign this kind of certificate") is not the cause.
            // (A CA with the same name and another key is a rotated root: that hint stays.)
            let unrelated = e.hint_cert.is_some_and(|h| {
                env.position(h).is_none()
                    && !env.cert(h).is_ca()
                    && env.arena.sig(cert, h) != facts::SigCheck::Valid
            });
            if let (Some(h), false) = (e.hint_cause, unrelated) {
                (h, format!("an issuer was found by name but rejected: {}", e.msg))
            } else if unrelated {
                let (c, d) = env.classify_unknown(cert);
                let other = e.hint_cert.map(|h| env.label(h)).unwrap_or_default();
                (
                    c,
                    format!(
                        "{d} (Go's message names {other}, a different certificate in the store with the same name)"
                    ),
                )
            } else {
                env.classify_unknown(e.cert.unwrap_or(env.pres[0]))
            }
        }
        Cause::RuntimeCrash => (
            Cause::RuntimeCrash,
            format!(
                "the program would crash, not verify: a candidate issuer has a public key Go does not parse \
                 (nil) and the subject of {} in the chain, and alreadyInChain panics on it \
                 (CVE-2024-24783, fixed in Go 1.21.8 and 1.22.1)",
                e.cert.map(|c| env.label(c)).unwrap_or_default()
            ),
        ),
        c => (
            c,
            match e.cert {
                Some(i) => format!("{}: {}", env.label(i), e.msg),
                None => e.msg.clone(),
            },
        ),
    }
}

fn ossl_cause(env: &Env, out: &openssl::OsslOutcome, e: &openssl::OsslErr) -> Option<(Cause, String)> {
    let at = |c: Option<usize>| c.map(|i| env.label(i)).unwrap_or_default();
    Some(match e.code {
        2 => {
            let top = e.cert.unwrap_or(env.pres[0]);
            (
                Cause::UnknownAuthority,
                format!(
                    "the chain reaches {} in the store, but it is not self-signed and OpenSSL (without partial-chain) \
                     needs the self-signed root \"{}\" as anchor",
                    env.label(top),
                    issuer_short(env.cert(top))
                ),
            )
        }
        18..=20 => {
            let top = e.cert.unwrap_or(env.pres[0]);
            env.classify_unknown(top)
        }
        21 => return None,
        28 => {
            let c = e.cert.unwrap_or(env.pres[0]);
            let how = env
                .aux_of(Runtime::Openssl, c)
                .map(|a| a.describe())
                .unwrap_or_else(|| "trust settings".into());
            (
                Cause::UnknownAuthority,
                format!(
                    "{} is in the store as a TRUSTED CERTIFICATE ({how}): OpenSSL rejects it as an anchor \
                     for a TLS server",
                    env.label(c)
                ),
            )
        }
        9 => (Cause::NotYetValid, e.cert.map(|c| env.not_yet_detail(c)).unwrap_or_default()),
        10 => (Cause::Expired, e.cert.map(|c| env.expired_detail(c)).unwrap_or_default()),
        62 | 64 => (Cause::NameMismatch, env.name_detail(Runtime::Openssl)),
        // check_purpose on a store certificate whose trust settings reject the purpose:
        // the same fact as error 28, reported there.
        26 if e.cert.is_some_and(|c| {
            env.aux_of(Runtime::Openssl, c)
                .is_some_and(|a| a.decision(crate::trust::auxtrust::OID_SERVER_AUTH) == AuxDecision::Rejected)
        }) =>
        {
            return None
        }
        // An issuer that is not a CA fails the CA purpose check too (26 after 24/79 at the
        // same depth): that is not-a-ca, already reported, not an EKU problem.
        26 if e.depth > 0
            && out
                .errors
                .iter()
                .any(|o| matches!(o.code, 24 | 79) && o.depth == e.depth) =>
        {
            return None
        }
        26 => (
            Cause::BadEku,
            format!(
                "{} is not usable for a TLS server (extendedKeyUsage without serverAuth, or keyUsage without a TLS usage)",
                at(e.cert)
            ),
        ),
        24 | 79 | 32 => (Cause::NotACa, format!("{} is not a valid CA certificate", at(e.cert))),
        25 | 22 => (Cause::PathTooLong, format!("{}: {}", at(e.cert), e.text())),
        34 => (Cause::UnhandledCriticalExtension, format!("{}: {}", at(e.cert), e.text())),
        7 => (Cause::BadSignature, format!("the signature of {} does not verify", at(e.cert))),
        47 | 48 | 51 | 53 => (Cause::NameConstraints, format!("{}: {}", at(e.cert), e.text())),
        66..=68 => (Cause::WeakSignature, format!("{}: {}", at(e.cert), e.text())),
        94 => (Cause::MalformedCertificate, format!("{}: {}", at(e.cert), e.text())),
        _ => {
            let _ = out;
            (Cause::MalformedCertificate, format!("{}: {}", at(e.cert), e.text()))
        }
    })
}

fn eval_openssl(env: &Env, si: usize) -> Verdict {
    let out = env.openssl_verify(si, env.input.name.as_deref());
    let first = out.first().cloned();
    let mut v = Verdict {
        runtime: Runtime::Openssl,
        trusted: first.is_none(),
        name_ok: !out.errors.iter().any(|e| e.code == 62 || e.code == 64),
        causes: vec![],
        message: first.as_ref().map(|e| e.message()).unwrap_or_default(),
        anchor: if first.is_none() {
            out.chain.last().copied()
        } else {
            None
        },
        failing: first.as_ref().and_then(|e| e.cert),
        rejected: out.errors.iter().find(|e| e.code == 28).and_then(|e| e.cert),
    };
    for e in &out.errors {
        if let Some((c, d)) = ossl_cause(env, &out, e) {
            v.add(c, d);
        }
    }
    if out.cn_fallback && v.trusted {
        v.message = String::new();
    }
    // A CA file the client cannot load: it stops before any verification.
    runtimes::store_error(env, si, &mut v);
    v
}

fn eval_webpki(env: &Env, si: usize) -> Verdict {
    let store = &env.stores[si];
    let builtin = store.runtime == Runtime::WebpkiRoots && !store.explicit;
    let key = (builtin, env.store_idx[si].clone());
    let memo = env
        .webpki_memo
        .borrow()
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, o)| o.clone());
    let out = match memo {
        Some(out) => out,
        None => {
            let presented: Vec<Vec<u8>> = env.pres.iter().map(|&i| env.cert(i).der.clone()).collect();
            let anchors: Vec<Vec<u8>> = env.store_idx[si]
                .iter()
                .map(|&i| env.cert(i).der.clone())
                .collect();
            let out = webpki::verify(
                &presented,
                &anchors,
                builtin,
                env.input.name.as_deref(),
                env.input.at,
            );
            env.webpki_memo.borrow_mut().push((key, out.clone()));
            out
        }
    };
    let mut v = Verdict {
        runtime: store.runtime,
        trusted: out.error.is_none(),
        name_ok: out.name_ok,
        causes: vec![],
        message: out.error.clone().unwrap_or_default(),
        anchor: None,
        failing: None,
        rejected: None,
    };
    if v.trusted {
        // Which anchor? The one that issued the top of the presented chain.
        let top = env.presented_top();
        v.anchor = env.store_idx[si].iter().copied().find(|&a| {
            env.cert(a).subject_der == env.cert(top).issuer_der || env.cert(a).der == env.cert(top).der
        });
        return v;
    }
    let leaf = env.pres[0];
    // All causes: time of every presented certificate, the name, then the path.
    for &p in &env.pres {
        let c = env.cert(p);
        if c.not_after < env.input.at {
            v.add(Cause::Expired, env.expired_detail(p));
            v.failing.get_or_insert(p);
        } else if c.not_before > env.input.at {
            v.add(Cause::NotYetValid, env.not_yet_detail(p));
            v.failing.get_or_insert(p);
        }
    }
    if !out.name_ok {
        let leafc = env.cert(leaf);
        let legacy = leafc.dns_names.is_empty()
            && env
                .input
                .name
                .as_ref()
                .is_some_and(|n| leafc.subject_cn.iter().any(|c| c.eq_ignore_ascii_case(n)));
        if legacy {
            v.add(
                Cause::LegacyCommonName,
                format!(
                    "{} carries the name only in its subject CN; rustls ignores the CN",
                    env.label(leaf)
                ),
            );
        } else {
            v.add(Cause::NameMismatch, env.name_detail(store.runtime));
        }
        v.failing.get_or_insert(leaf);
    }
    match out.cause {
        Cause::UnknownAuthority => {
            let top = env.presented_top();
            let (c, d) = env.classify_unknown(top);
            v.add(c, d);
            v.failing.get_or_insert(top);
        }
        Cause::Expired | Cause::NotYetValid | Cause::NameMismatch => {}
        Cause::BadSignature
            if env.pres.iter().any(|&p| {
                let c = env.cert(p);
                c.signature_hash == "SHA1"
                    || c.signature_hash == "MD5"
                    || (c.key_algorithm == crate::x509::KeyAlgorithm::Rsa && c.key_bits < 2048)
            }) =>
        {
            // Name the weak certificates; rustls' own text (a Debug dump of every
            // supported algorithm id) is on the verdict line already.
            let weak: Vec<String> = env
                .pres
                .iter()
                .filter_map(|&p| {
                    let c = env.cert(p);
                    if c.signature_hash == "SHA1" || c.signature_hash == "MD5" {
                        Some(format!("{} is signed with {}", env.label(p), c.signature))
                    } else if c.key_algorithm == crate::x509::KeyAlgorithm::Rsa && c.key_bits < 2048 {
                        Some(format!("{} has an RSA-{} key", env.label(p), c.key_bits))
                    } else {
                        None
                    }
                })
                .collect();
            v.add(
                Cause::WeakSignature,
                format!(
                    "rustls refuses SHA-1/MD5 signatures and RSA keys under 2048 bits: {}",
                    weak.join("; ")
                ),
            );
            v.failing.get_or_insert(leaf);
        }
        Cause::NotACa
            if out
                .error
                .as_deref()
                .is_some_and(|e| e.contains("CaUsedAsEndEntity")) =>
        {
            v.add(
                Cause::NotACa,
                format!(
                    "{} is a CA certificate (basicConstraints CA:TRUE): rustls refuses a CA certificate \
                     as the server's own certificate, even when it is trusted",
                    env.label(leaf)
                ),
            );
            v.failing.get_or_insert(leaf);
            // A self-signed leaf that is not an anchor here is also self-signed.
            let lc = env.cert(leaf);
            if lc.self_signed && !env.store_idx[si].iter().any(|&a| env.cert(a).der == lc.der) {
                let (c, d) = env.classify_unknown(leaf);
                v.add(c, d);
            }
        }
        c => {
            v.add(c, out.error.clone().unwrap_or_default());
            v.failing.get_or_insert(leaf);
        }
    }
    // Order: the cause rustls itself reported first.
    let reported = match out.cause {
        Cause::UnknownAuthority => None,
        Cause::BadSignature if v.causes.iter().any(|(c, _)| *c == Cause::WeakSignature) => {
            Some(Cause::WeakSignature)
        }
        c => Some(c),
    };
    if let Some(r) = reported {
        if let Some(pos) = v.causes.iter().position(|(c, _)| *c == r) {
            let x = v.causes.remove(pos);
            v.causes.insert(0, x);
        }
    } else if let Some(pos) = v.causes.iter().position(|(c, _)| {
        matches!(
            c,
            Cause::UnknownAuthority | Cause::MissingIntermediate | Cause::SelfSigned
        )
    }) {
        let x = v.causes.remove(pos);
        v.causes.insert(0, x);
    }
    if v.causes.is_empty() {
        v.add(out.cause, out.error.clone().unwrap_or_default());
    }
    v
}

/// What is known about the CA to trust: the missing issuer of the top presented
/// certificate (or, self-signed, the server's certificate itself) and where it exists.
fn ca_facts(env: &Env, cause: Cause) -> fix::CaFacts {
    let top = env.cert(env.presented_top());
    let (name, name_der) = if cause == Cause::SelfSigned {
        let leaf = env.cert(env.pres[0]);
        (leaf.short_name(), leaf.subject_der.clone())
    } else {
        (issuer_short(top), top.issuer_der.clone())
    };
    let mut ca = fix::CaFacts {
        name,
        subject_hash: crate::trust::openssl::subject_hash(&name_der).map(|h| format!("{h:08x}")),
        ..Default::default()
    };
    if let Some(ev) = env.evidence {
        ca.cert_dir = ev.cert_dir.clone();
        let pick = |kind: &str| ev.sightings.iter().find(|s| s.kind == kind);
        if let Some(s) = pick("staging") {
            ca.file = Some(s.path.clone());
            ca.staged = !s.note.contains("only picks up");
        } else if let Some(s) = pick("kubernetes") {
            ca.file = Some(s.path.clone());
            ca.in_sa_ca = true;
        } else if let Some(s) = pick("cert-dir") {
            ca.file = Some(s.path.clone());
            if s.note.contains("hash link") {
                ca.unhashed_dir = std::path::Path::new(&s.path)
                    .parent()
                    .map(|p| p.display().to_string());
            }
        } else if let Some(s) = pick("bundle").or_else(|| pick("store")) {
            ca.file = Some(s.path.clone());
            if s.note.contains("hash link") {
                ca.unhashed_dir = std::path::Path::new(&s.path)
                    .parent()
                    .map(|p| p.display().to_string());
            }
        }
    }
    ca
}

/// "Trust the CA": one line per group of runtimes that need the same step, then the
/// Kubernetes form for this image's layout.
fn trust_fix(env: &Env, stores: &[TrustStore], verdicts: &[Verdict], cause: Cause, distro: Distro) -> String {
    let ca = ca_facts(env, cause);
    let failing: Vec<&TrustStore> = stores
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| !v.trusted && v.causes.iter().any(|(c, _)| *c == cause))
        .map(|(s, _)| s)
        .collect();
    let mut paras = vec![];
    if cause == Cause::SelfSigned {
        paras.push(format!(
            "The server's certificate \"{}\" signed itself: prefer one from a CA the clients trust; or \
             trust this certificate:",
            ca.name
        ));
    } else {
        paras.push(format!(
            "Trust the root \"{}\" (the server needs no change):",
            ca.name
        ));
    }
    paras.extend(fix::trust_ca_lines(&failing, distro, &ca));
    if !failing.iter().any(|s| s.explicit) {
        // requests that reads the system bundle (Debian's certifi) needs no variable.
        let rts: Vec<Runtime> = failing
            .iter()
            .filter(|s| {
                s.runtime != Runtime::PythonRequests
                    || !s.sources().iter().any(|x| x == distro.system_bundle())
            })
            .map(|s| s.runtime)
            .collect();
        if let Some(k) = fix::kubernetes_mount(&rts, &ca, distro) {
            paras.push(k);
        }
    }
    paras.join("\n\n")
}

/// A missing intermediate: the server's chain file, and where the certificate is.
fn server_chain_fix(env: &Env) -> String {
    let top_i = env.presented_top();
    let top = env.cert(top_i);
    let issuer = issuer_short(top);
    let leaf_only = top_i == env.pres[0];
    let kind = env.evidence.map(|e| e.kind(leaf_only).0);
    let mut copy = vec![];
    if let Some(ev) = env.evidence {
        if let Some(evidence::AiaFetch::Fetched { url, .. }) = &ev.aia {
            if ev.cert.is_some() {
                copy.push(format!("it is served at {url}"));
            }
        }
        if let Some(s) = ev.sightings.first() {
            copy.push(format!("a copy is at {}", s.path));
        }
    }
    if copy.is_empty() {
        if let Some(u) = top.aia_ca_issuers.first() {
            copy.push(format!("its AIA caIssuers URL is {u}"));
        }
    }
    let mut s = format!(
        "Have the server send the intermediate \"{issuer}\" after {} (nginx: ssl_certificate with the \
         full chain; Apache: SSLCertificateFile with it appended){}.",
        if leaf_only {
            "its certificate".to_string()
        } else {
            format!("\"{}\"", top.short_name())
        },
        if copy.is_empty() {
            String::new()
        } else {
            format!("; {}", copy.join(", "))
        }
    );
    if kind != Some(evidence::IssuerKind::Intermediate) {
        s.push_str(&format!(
            " If it is a root CA, trust it instead (tlsdoctor store --find '{issuer}')."
        ));
    }
    s
}

fn findings(
    env: &Env,
    stores: &[TrustStore],
    verdicts: &[Verdict],
    product: Option<intercept::Product>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = vec![];
    let distro = env.input.distro.unwrap_or(Distro::Unknown);
    let leaf = env.cert(env.pres[0]);
    // Interception, trusted or not.
    if let Some(p) = product {
        let untrusted: Vec<&str> = verdicts
            .iter()
            .filter(|v| !v.trusted)
            .map(|v| v.runtime.code())
            .collect();
        let sev = if untrusted.is_empty() {
            Severity::Warning
        } else {
            Severity::Error
        };
        let msg = if untrusted.is_empty() {
            format!(
                "This chain comes from a TLS-inspecting proxy ({}); its root is trusted here, so connections work, \
                 but the traffic is decrypted by the proxy.",
                p.name
            )
        } else {
            format!(
                "This chain comes from a TLS-inspecting proxy ({}), not from the server itself; its root is not \
                 trusted by {}.",
                p.name,
                untrusted.join(", ")
            )
        };
        let rt = verdicts
            .iter()
            .find(|v| !v.trusted)
            .map(|v| v.runtime)
            .unwrap_or(Runtime::Openssl);
        let ctx = fix::FixCtx {
            product: Some(p.name),
            runtimes: verdicts
                .iter()
                .filter(|v| !v.trusted)
                .map(|v| v.runtime)
                .collect(),
            ..Default::default()
        };
        let mut f = Finding::new("tls-interception", sev, msg);
        if !untrusted.is_empty() {
            let fx = if stores.iter().any(|s| s.explicit) {
                fix::fix_for(Cause::UntrustedIntercept, rt, distro, &ctx)
            } else {
                Some(
                    trust_fix(env, stores, verdicts, Cause::UntrustedIntercept, distro).replacen(
                        "(the server needs no change):",
                        &format!(
                            "of {} (ask IT for it), or have this host excluded from inspection:",
                            p.name
                        ),
                        1,
                    ),
                )
            };
            if let Some(fx) = fx {
                f = f.fix(fx);
            }
            f = f.runtimes(&untrusted);
        }
        out.push(f);
    }
    // One finding per cause, across the runtimes it applies to.
    let mut seen: Vec<Cause> = vec![];
    for v in verdicts.iter().filter(|v| !v.trusted) {
        for (c, _) in &v.causes {
            if seen.contains(c) || *c == Cause::UntrustedIntercept {
                continue;
            }
            seen.push(*c);
            let rts: Vec<&Verdict> = verdicts
                .iter()
                .filter(|w| !w.trusted && w.causes.iter().any(|(x, _)| x == c))
                .collect();
            let detail = rts
                .iter()
                .find_map(|w| w.causes.iter().find(|(x, _)| x == c).map(|x| x.1.clone()))
                .unwrap_or_default();
            let missing_issuer = Some(issuer_short(env.cert(env.presented_top())));
            let top = env.cert(env.presented_top());
            let ctx = fix::FixCtx {
                missing_issuer,
                aia: top.aia_ca_issuers.first().cloned(),
                name: env.input.name.clone(),
                product: product.map(|p| p.name),
                clock_skew: leaf.not_before > env.input.at
                    && leaf.not_before - env.input.at <= CLOCK_SKEW_SECS,
                explicit: stores.iter().any(|s| s.explicit),
                ca_in_world: stores
                    .iter()
                    .find(|s| !s.ca_in_world.is_empty())
                    .map(|s| s.ca_in_world.clone())
                    .unwrap_or_default(),
                intermediates_sent: env.presented_top() != env.pres[0],
                ca_as_leaf: leaf.is_ca(),
                runtimes: rts.iter().map(|w| w.runtime).collect(),
            };
            let names: Vec<&str> = rts.iter().map(|w| w.runtime.code()).collect();
            let mut f = Finding::new(c.code(), Severity::Error, detail).runtimes(&names);
            let fx = match c {
                Cause::UnknownAuthority | Cause::SelfSigned if product.is_none() => {
                    Some(trust_fix(env, stores, verdicts, *c, distro))
                }
                Cause::MissingIntermediate if product.is_none() => Some(server_chain_fix(env)),
                _ => fix::fix_for(*c, rts[0].runtime, distro, &ctx),
            };
            if let Some(fx) = fx {
                f = f.fix(fx);
            }
            out.push(f);
        }
    }
    // OpenSSL trust settings (TRUSTED CERTIFICATE) that reject a store certificate.
    for v in verdicts.iter().filter(|v| !v.trusted) {
        let Some(c) = v.rejected else { continue };
        let store = stores
            .iter()
            .zip(&env.store_idx)
            .find(|(s, _)| s.runtime == v.runtime);
        let anchor = store.and_then(|(s, idx)| idx.iter().position(|&a| a == c).map(|i| &s.anchors[i]));
        let Some(anchor) = anchor else { continue };
        let how = anchor
            .aux_trust
            .as_ref()
            .map(|a| a.describe())
            .unwrap_or_default();
        let at = match anchor.provenance.line {
            Some(l) => format!("{} (line {l})", anchor.provenance.path),
            None => anchor.provenance.path.clone(),
        };
        out.push(
            Finding::new(
                "openssl-trust-rejected",
                Severity::Error,
                format!(
                    "OpenSSL will not use {} as a trust anchor for TLS servers: its TRUSTED CERTIFICATE \
                     block in {at} is {how}.",
                    env.label(c)
                ),
            )
            .runtimes(&[v.runtime.code()])
            .fix(
                "If this CA should be trusted, rewrite its block: `openssl x509 -in ca.pem -clrreject -clrtrust \
                 -addtrust serverAuth -trustout -out ca-trusted.pem` (or store it as a plain CERTIFICATE with \
                 `openssl x509 -in ca.pem -out ca.crt`). If the rejection is deliberate, the server needs a \
                 certificate from another CA.",
            ),
        );
    }
    // Legacy CN: OpenSSL accepts through the CN while others refuse.
    let cn_only = leaf.dns_names.is_empty()
        && env.input.name.as_ref().is_some_and(|n| {
            leaf.subject_cn
                .iter()
                .any(|c| name::openssl_equal_wildcard(c.as_bytes(), n.as_bytes()))
        });
    if cn_only && !seen.contains(&Cause::LegacyCommonName) {
        out.push(
            Finding::new(
                "legacy-common-name",
                Severity::Warning,
                format!(
                    "{} carries the name only in its subject CN: OpenSSL-based clients accept it, Go and rustls do not.",
                    env.label(env.pres[0])
                ),
            )
            .fix(fix::fix_for(Cause::LegacyCommonName, Runtime::Go, distro, &Default::default()).unwrap_or_default()),
        );
    }
    // Clock skew hint.
    if leaf.not_before > env.input.at && leaf.not_before - env.input.at <= CLOCK_SKEW_SECS {
        out.push(
            Finding::new(
                "clock-skew",
                Severity::Warning,
                format!(
                    "The leaf becomes valid at {}, {} after the time checked: this clock is probably behind.",
                    leaf.not_before_rfc3339(),
                    human_duration(leaf.not_before - env.input.at)
                ),
            )
            .fix("Synchronise the clock (NTP: `timedatectl set-ntp true`, chrony)."),
        );
    }
    // Weak keys/signatures that some runtime still accepts.
    for &p in &env.pres {
        let c = env.cert(p);
        if seen.contains(&Cause::WeakSignature) {
            break;
        }
        let weak_sig = (c.signature_hash == "SHA1" || c.signature_hash == "MD5") && !c.self_signed;
        let small_rsa = c.key_algorithm == crate::x509::KeyAlgorithm::Rsa && c.key_bits < 2048;
        if weak_sig || small_rsa {
            let what = if weak_sig {
                format!("is signed with {} ({})", c.signature_hash, c.signature)
            } else {
                format!(
                    "has a {} key (OpenSSL at security level 2 needs 2048 bits)",
                    c.key
                )
            };
            let fx = fix::fix_for(
                Cause::WeakSignature,
                Runtime::Openssl,
                distro,
                &Default::default(),
            );
            let mut f = Finding::new(
                "weak-signature",
                Severity::Warning,
                format!("{} {what}", env.label(p)),
            );
            if let Some(fx) = fx {
                f = f.fix(fx);
            }
            out.push(f);
            break;
        }
    }
    out
}
