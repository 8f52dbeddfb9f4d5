//! `tlsdoctor store` (also the default command): each runtime's effective trust store.

use std::collections::BTreeMap;

use super::Ctx;
use crate::cli::{Format, RuntimeArg, StoreArgs};
use crate::finding::{Finding, Severity};
use crate::report::store::{
    render_human, AnchorDoc, FindDoc, FoundCertDoc, FoundRuntimeDoc, HumanOpts, LocationDoc, RuntimeDoc,
    StepDoc, StoreDoc, WorldDoc, STORE_SCHEMA,
};
use crate::trust::find::{self, FindResult};
use crate::trust::{Cx, Outcome, Runtime, StepKind, TrustStore};
use crate::world::{World, WorldKind};
use crate::x509::rfc3339;

pub fn run(args: &StoreArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let (doc, code) = examine(args, ctx)?;
    super::emit(render(&doc, args, ctx)?)?;
    Ok(code)
}

/// The document in the context's format, ending with a newline.
pub fn render(doc: &StoreDoc, args: &StoreArgs, ctx: &Ctx) -> anyhow::Result<String> {
    Ok(match ctx.format {
        Format::Json => serde_json::to_string_pretty(doc)? + "\n",
        Format::Jsonl => serde_json::to_string(doc)? + "\n",
        Format::Human => render_human(
            doc,
            &HumanOpts {
                color: ctx.color,
                verbose: ctx.verbose,
                quiet: ctx.quiet,
                list: args.list,
            },
        ),
    })
}

/// Build the store document and the exit code.
pub fn examine(args: &StoreArgs, ctx: &Ctx) -> anyhow::Result<(StoreDoc, u8)> {
    examine_opts(args, ctx, true)
}

/// [`examine`]; with `one_shot` false the parsed stores are freed as usual (several Worlds
/// examined in one run, `--all-processes`).
pub fn examine_opts(args: &StoreArgs, ctx: &Ctx, one_shot: bool) -> anyhow::Result<(StoreDoc, u8)> {
    let runtimes = RuntimeArg::expand(&args.runtimes, &Runtime::ALL);
    let query = args.find.as_deref().map(find::parse_query).transpose()?;
    // Listing does not need the self-signature checks; --find reports on specific certs.
    let mut cx = Cx::new(&ctx.world, &ctx.trust, false);
    cx.now = ctx.now;
    let stores: Vec<TrustStore> = cx.resolve_all(&runtimes);
    let found = query.as_ref().map(|q| find::find(&cx, &stores, q));
    let doc = document(&ctx.world, &cx, &stores, args, found.as_ref(), ctx.now);
    drop(found);
    // `store` is a one-shot command: the process ends right after printing. Freeing every
    // parsed certificate of a 10,000-certificate bundle one by one cost ~15% of the run,
    // so the caches are handed to the operating system instead (`examine` runs once).
    if one_shot {
        std::mem::forget(stores);
        std::mem::forget(cx);
    }
    let mut code = if doc.runtimes.iter().all(|r| r.ok) {
        crate::exit::OK
    } else {
        crate::exit::DIAGNOSIS
    };
    if let Some(f) = &doc.find {
        // webpki-roots is a list compiled into the program: no setup here can add a CA to
        // it, so it decides the exit code only when asked for by name.
        let named_builtin = args
            .runtimes
            .iter()
            .any(|a| matches!(a, RuntimeArg::One(Runtime::WebpkiRoots, _)));
        let counts = |r: &str| named_builtin || r != Runtime::WebpkiRoots.code();
        let all_trusted = !f.certificates.is_empty()
            && f.certificates.iter().all(|c| {
                c.runtimes
                    .iter()
                    .filter(|r| counts(&r.runtime))
                    .all(|r| r.trusted)
            });
        if !all_trusted {
            code = crate::exit::DIAGNOSIS;
        }
    }
    Ok((doc, code))
}

fn kind_str(k: StepKind) -> &'static str {
    match k {
        StepKind::File => "file",
        StepKind::Dir => "dir",
        StepKind::Builtin => "builtin",
        StepKind::Explicit => "explicit",
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Loaded => "loaded",
        Outcome::Missing => "missing",
        Outcome::Skipped => "skipped",
        Outcome::Error => "error",
    }
}

/// Merge identical findings of several runtimes into one listing all of them.
pub fn merge_findings<'a>(stores: impl IntoIterator<Item = &'a TrustStore>) -> Vec<Finding> {
    fn key(f: &Finding) -> (String, String, Option<String>) {
        let mut m = f.message.clone();
        for r in Runtime::ALL {
            m = m.replace(r.title(), "");
        }
        (f.code.clone(), m, f.fix.clone())
    }
    let mut out: Vec<Finding> = Vec::new();
    for s in stores {
        for f in &s.findings {
            let k = key(f);
            if let Some(m) = out.iter_mut().find(|m| key(m) == k) {
                for r in &f.runtimes {
                    if !m.runtimes.contains(r) {
                        m.runtimes.push(r.clone());
                    }
                }
                if f.severity > m.severity {
                    m.severity = f.severity;
                }
            } else {
                out.push(f.clone());
            }
        }
    }
    out
}

pub fn document(
    world: &World,
    cx: &Cx,
    stores: &[TrustStore],
    args: &StoreArgs,
    found: Option<&FindResult>,
    now: i64,
) -> StoreDoc {
    // The variables the registered runtimes read (src/runtimes/).
    let env: BTreeMap<String, String> = crate::runtimes::env_vars()
        .iter()
        .filter_map(|var| {
            let k = var.name;
            world.var(k).map(|v| {
                let v = if var.secret {
                    crate::trust::findings::redact_url_password(v)
                } else {
                    v.to_string()
                };
                (k.to_string(), v)
            })
        })
        .collect();
    let kind = match world.kind() {
        WorldKind::Host => "host",
        WorldKind::Root => "root",
        WorldKind::Pid(_) => "pid",
        WorldKind::Image(_) => "image",
        WorldKind::Pod(_) => "pod",
        WorldKind::Fixture => "fixture",
    };
    let absent: Vec<bool> = stores
        .iter()
        .map(|s| s.runtime.is_extra() && crate::trust::extra::relevance(world, s.runtime).is_none())
        .collect();
    // Absent runtimes are left out of the findings and of --find, unless named with --runtime.
    let named = |r: Runtime| {
        !args.runtimes.contains(&RuntimeArg::All) && RuntimeArg::expand(&args.runtimes, &[]).contains(&r)
    };
    let hidden: Vec<bool> = stores
        .iter()
        .zip(&absent)
        .map(|(s, a)| *a && !named(s.runtime))
        .collect();
    let runtimes = stores
        .iter()
        .zip(absent.iter().copied())
        .map(|(s, absent)| RuntimeDoc {
            runtime: s.runtime.code().to_string(),
            title: s.runtime.title().to_string(),
            anchors: s.anchors.len(),
            // A runtime with no sign of life here cannot fail here.
            ok: absent
                || (!s.anchors.is_empty() && !s.findings.iter().any(|f| f.severity == Severity::Error)),
            absent,
            error: s.error.clone(),
            steps: s
                .steps
                .iter()
                .map(|st| StepDoc {
                    source: st.source.clone(),
                    kind: kind_str(st.kind).into(),
                    outcome: outcome_str(st.outcome).into(),
                    anchors: st.anchors,
                    reason: st.reason.clone(),
                })
                .collect(),
            findings: s.findings.clone(),
            assumptions: s.assumptions.clone(),
            model: s.profile.as_ref().map(crate::report::json::ModelDoc::from),
            anchor_list: args.list.then(|| {
                s.anchors
                    .iter()
                    .map(|a| AnchorDoc {
                        subject: a.cert.subject.clone(),
                        not_after: a.cert.not_after_rfc3339(),
                        sha256: a.cert.sha256.clone(),
                        path: a.provenance.path.clone(),
                        resolved: a.provenance.resolved.clone(),
                        block: a.provenance.block,
                        line: a.provenance.line,
                        hash_name: a.hash_name.map(|h| format!("{h:08x}")),
                        trusted_cert_block: a.trusted_cert_block,
                        is_ca: a.cert.is_ca(),
                        expired: a.cert.not_after < now,
                    })
                    .collect()
            }),
        })
        .collect();
    let find = found.map(|f| FindDoc {
        query: args.find.clone().unwrap_or_default(),
        kind: match args.find.as_deref().map(std::path::Path::new) {
            Some(p) if p.exists() && !p.is_dir() => "file".into(),
            _ => "text".into(),
        },
        certificates: f
            .found
            .iter()
            .map(|c| FoundCertDoc {
                subject: c.cert.subject.clone(),
                sha256: c.cert.sha256.clone(),
                not_after: rfc3339(c.cert.not_after),
                is_ca: c.cert.is_ca(),
                // As with findings: a runtime with no sign of life here is not asked.
                runtimes: c
                    .runtimes
                    .iter()
                    .filter(|r| {
                        !stores
                            .iter()
                            .zip(&hidden)
                            .any(|(s, h)| *h && s.runtime == r.runtime)
                    })
                    .map(|r| FoundRuntimeDoc {
                        runtime: r.runtime.code().into(),
                        trusted: r.trusted,
                        from: r.from.clone(),
                        why_not: r.why_not.clone(),
                    })
                    .collect(),
                locations: c
                    .locations
                    .iter()
                    .map(|l| LocationDoc {
                        path: l.path.to_string_lossy().into_owned(),
                        block: l.block,
                        kind: l.kind.into(),
                    })
                    .collect(),
                fix: find_fix(cx, stores, &hidden, c),
            })
            .collect(),
        more: f.more,
    });
    StoreDoc {
        schema: STORE_SCHEMA.to_string(),
        world: WorldDoc {
            kind: kind.into(),
            root: world.root().to_string_lossy().into_owned(),
            label: world.label(),
            env,
        },
        distro: cx.distro.code().into(),
        openssldir: stores.iter().any(|s| s.runtime == Runtime::Openssl).then(|| {
            crate::trust::openssl::openssldir(cx)
                .0
                .to_string_lossy()
                .into_owned()
        }),
        openssldir_given: cx.opts.openssldir.is_some(),
        runtimes,
        // A runtime with no sign of life here has nothing to fix here either (a scratch
        // image without curl must not report curl's missing CA file).
        findings: merge_findings(stores.iter().zip(&hidden).filter(|(_, h)| !**h).map(|(s, _)| s)),
        find,
    }
}

/// The fix for a found CA that some runtimes do not trust: the step each of them needs,
/// worded from where the certificate lies (staged, the service-account CA, an unhashed
/// directory), then the Kubernetes form.
fn find_fix(cx: &Cx, stores: &[TrustStore], hidden: &[bool], c: &find::Found) -> Vec<String> {
    use crate::diagnose::fix;
    if !c.cert.is_ca() && !c.cert.self_signed {
        return vec![];
    }
    let failing: Vec<&TrustStore> = stores
        .iter()
        .zip(hidden)
        .filter(|(s, h)| !**h && c.runtimes.iter().any(|r| r.runtime == s.runtime && !r.trusted))
        .map(|(s, _)| s)
        .collect();
    if failing.is_empty() {
        return vec![];
    }
    let mut ca = fix::CaFacts {
        name: c.cert.short_name(),
        subject_hash: crate::trust::openssl::subject_hash(&c.cert.subject_der).map(|h| format!("{h:08x}")),
        ..Default::default()
    };
    let pick = |kind: &str| c.locations.iter().find(|l| l.kind == kind);
    if let Some(l) = pick("staging") {
        ca.file = Some(l.path.to_string_lossy().into_owned());
        ca.staged = true;
    } else if let Some(l) = pick("kubernetes") {
        ca.file = Some(l.path.to_string_lossy().into_owned());
        ca.in_sa_ca = true;
    } else if let Some(l) = c.locations.first() {
        ca.file = Some(l.path.to_string_lossy().into_owned());
        // In a directory a runtime reads, without a hash link for OpenSSL.
        if l.kind == "cert-dir" {
            ca.unhashed_dir = l.path.parent().map(|d| d.display().to_string());
        }
    }
    let mut lines = vec![format!("trust \"{}\":", ca.name)];
    lines.extend(fix::trust_ca_lines(&failing, cx.distro, &ca));
    if !failing.iter().any(|s| s.explicit) {
        let rts: Vec<Runtime> = failing.iter().map(|s| s.runtime).collect();
        lines.extend(fix::kubernetes_mount(&rts, &ca, cx.distro));
    }
    lines
}
