//! `tlsdoctor verify CHAIN_FILE [--name NAME] [--ca FILE]... [--runtime R]... [--at TIME]`:
//! evaluate a chain file offline against each runtime's resolved store (or only `--ca`).

use super::Ctx;
use crate::cli::{Format, RuntimeArg, VerifyArgs};
use crate::diagnose::{evaluate_with, Input};
use crate::report::json::{Document, VERIFY_SCHEMA};
use crate::trust::{self, Runtime, TrustStore};

/// Runtimes used when `--ca` is given and no `--runtime`: webpki-roots is compiled in and
/// does not take a CA file.
const CA_DEFAULT: [Runtime; 3] = [Runtime::Go, Runtime::Openssl, Runtime::RustlsNative];

/// The stores to evaluate against.
pub fn stores(
    args_runtimes: &[RuntimeArg],
    ca: &[std::path::PathBuf],
    ca_in_world: &[std::path::PathBuf],
    ctx: &Ctx,
) -> anyhow::Result<Vec<TrustStore>> {
    let mut v = if ca_in_world.is_empty() {
        resolve(args_runtimes, ca, ctx)?
    } else {
        // The program's own CA file, read inside the World (a Helm repository's caFile).
        let rts = RuntimeArg::expand(args_runtimes, &CA_DEFAULT);
        let mut stores = trust::from_ca_files_in_world(&rts, &ctx.world, ca_in_world);
        trust::attach_profiles(&mut stores, &ctx.world, &ctx.trust);
        stores
    };
    // Database clients: their settings from the World (offline: checked as verifying).
    crate::runtimes::apply_clients(&mut v, &ctx.world, &[], None);
    Ok(v)
}

fn resolve(
    args_runtimes: &[RuntimeArg],
    ca: &[std::path::PathBuf],
    ctx: &Ctx,
) -> anyhow::Result<Vec<TrustStore>> {
    if !ca.is_empty() {
        let rts = RuntimeArg::expand(args_runtimes, &CA_DEFAULT);
        let mut stores = trust::from_ca_files_many(&rts, ca)?;
        trust::attach_profiles(&mut stores, &ctx.world, &ctx.trust);
        return Ok(stores);
    }
    let explicit = !args_runtimes.is_empty();
    // Default: the core runtimes plus the extra ones evidently relevant in the World.
    let rts = RuntimeArg::expand(args_runtimes, &trust::default_runtimes(&ctx.world));
    let all = trust::resolve_many(&rts, &ctx.world, &ctx.trust);
    if explicit {
        return Ok(all);
    }
    // Of the core runtimes, every one whose store could be resolved here; an extra runtime
    // that is present is shown even when its store is broken (that is the diagnosis).
    Ok(all
        .into_iter()
        .filter(|s| !s.anchors.is_empty() || s.runtime == Runtime::Go || s.runtime.is_extra())
        .collect())
}

/// Build the verify document.
pub fn document(args: &VerifyArgs, ctx: &Ctx) -> anyhow::Result<Document> {
    // An empty name would silently skip the name check and report ok.
    anyhow::ensure!(
        args.name.as_deref() != Some(""),
        "--name is empty: give the name to verify, or leave it out to check the chain only"
    );
    let chain = super::inspect::read_certs(&args.chain_file)?;
    let at = match &args.at {
        Some(s) => super::parse_at(s)?,
        None => ctx.now,
    };
    let ca_in_world = super::in_world_paths(&args.ca_in_world);
    let stores = stores(&args.runtimes, &args.ca, &ca_in_world, ctx)?;
    let input = Input {
        chain,
        name: args.name.clone(),
        at,
        distro: Some(trust::distro::detect(&ctx.world)),
    };
    let ev = super::issuer_evidence(
        ctx,
        &stores,
        &input.chain,
        if args.fetch {
            Ok((
                &crate::probe::ProxyChoice::FromEnv,
                crate::diagnose::aia::MAX_TIME,
            ))
        } else {
            Err("verify is offline; add --fetch")
        },
    );
    let d = evaluate_with(&input, &stores, 0, ev.as_ref());
    // A pod (--manifest) whose runtimes lack the CA: the smallest manifest change, proven
    // (with --ca-in-world: the CA in that file; not with host --ca files).
    let patch = if args.ca.is_empty() {
        super::patch::propose(
            ctx,
            &ctx.trust,
            &input,
            &stores,
            &d.verdicts,
            ev.as_ref(),
            &ca_in_world,
        )
    } else {
        None
    };
    let mut findings = d.findings;
    super::store_findings(&stores, &d.verdicts, &mut findings);
    Ok(Document {
        schema: VERIFY_SCHEMA.to_string(),
        target: None,
        network: None,
        handshake: None,
        chain: d.chain,
        verdicts: d.verdicts,
        findings,
        error: None,
        evaluated_at: Some(crate::x509::rfc3339(at)),
        server: None,
        issuer: d.issuer,
        patch,
    })
}

pub fn run(args: &VerifyArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let doc = document(args, ctx)?;
    super::emit(render(&doc, args, ctx)?)?;
    Ok(super::connect::exit_code(&doc))
}

/// The document in the context's format, ending with a newline.
pub fn render(doc: &Document, args: &VerifyArgs, ctx: &Ctx) -> anyhow::Result<String> {
    Ok(match ctx.format {
        Format::Json => serde_json::to_string_pretty(doc)? + "\n",
        // One document on one line, as `connect` and `store` print it.
        Format::Jsonl => serde_json::to_string(doc)? + "\n",
        Format::Human => {
            let mut text = crate::report::human::render(
                doc,
                &crate::report::human::HumanOpts {
                    color: ctx.color,
                    verbose: ctx.verbose,
                    quiet: ctx.quiet,
                },
            );
            // Without --name a ✔ says nothing about the host name: say so under the chain.
            if args.name.as_deref().is_none_or(str::is_empty) {
                // Under the chain with -v; under the verdicts otherwise.
                let at = match text.find("  evaluated at ") {
                    Some(i) => text[i..].find('\n').map_or(text.len(), |n| i + n + 1),
                    None => text.find("\n\n").map_or(text.len(), |i| i + 1),
                };
                text.insert_str(
                    at,
                    "  name not checked (no --name): only the path and the dates decide\n",
                );
            }
            if let Some(p) = &doc.patch {
                text.push_str(&super::patch::render_human(p));
            }
            text
        }
    })
}
