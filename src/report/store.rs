//! `tlsdoctor store`: the `tlsdoctor.store/v1` wire types and the human rendering.
//!
//! One data model ([`StoreDoc`]) feeds both renderers; a test deserializes real output into
//! these structs with `deny_unknown_fields`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};
use crate::report::sanitize::sanitize;

pub use crate::report::json::STORE_SCHEMA;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDoc {
    pub schema: String,
    pub world: WorldDoc,
    /// Detected distribution code (`debian`, `alpine`, `rhel`, `distroless`, `scratch`, `unknown`).
    pub distro: String,
    /// OPENSSLDIR as assumed for OpenSSL (detected or `--openssldir`), when OpenSSL is shown.
    #[serde(default)]
    pub openssldir: Option<String>,
    /// True when OPENSSLDIR came from `--openssldir` rather than detection.
    #[serde(default)]
    pub openssldir_given: bool,
    pub runtimes: Vec<RuntimeDoc>,
    /// Every finding of every runtime, merged (identical findings list all their runtimes).
    pub findings: Vec<Finding>,
    /// `--find`: the answer.
    #[serde(default)]
    pub find: Option<FindDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldDoc {
    /// `host`, `root`, `pid` or `fixture`.
    pub kind: String,
    pub root: String,
    pub label: String,
    /// The variables that steer trust stores, as set in the World.
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeDoc {
    pub runtime: String,
    pub title: String,
    /// Total usable anchors, de-duplicated.
    pub anchors: usize,
    /// Usable: has anchors and no error-severity finding.
    pub ok: bool,
    /// What the runtime itself would report (Go: the load error).
    pub error: Option<String>,
    /// An extra runtime (node, python, python-requests, curl, java) with no sign of it in
    /// this World (no binary on PATH, no home, none of its variables): shown, never failing.
    #[serde(default)]
    pub absent: bool,
    pub steps: Vec<StepDoc>,
    pub findings: Vec<Finding>,
    pub assumptions: Vec<String>,
    /// `--list`: every anchor.
    #[serde(default)]
    pub anchor_list: Option<Vec<AnchorDoc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    pub source: String,
    /// `file`, `dir`, `builtin`, `explicit`.
    pub kind: String,
    /// `loaded`, `missing`, `skipped`, `error`.
    pub outcome: String,
    pub anchors: usize,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorDoc {
    pub subject: String,
    pub not_after: String,
    pub sha256: String,
    pub path: String,
    pub resolved: Option<String>,
    pub block: Option<usize>,
    pub line: Option<usize>,
    /// OpenSSL hashed-directory name (`3513523f`).
    pub hash_name: Option<String>,
    pub trusted_cert_block: bool,
    pub is_ca: bool,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindDoc {
    pub query: String,
    /// `file` (a certificate file was given) or `text` (subject substring / SHA-256 prefix).
    pub kind: String,
    pub certificates: Vec<FoundCertDoc>,
    /// Matches beyond the ones shown.
    pub more: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundCertDoc {
    pub subject: String,
    pub sha256: String,
    pub not_after: String,
    pub is_ca: bool,
    pub runtimes: Vec<FoundRuntimeDoc>,
    /// Where this certificate exists in the World.
    pub locations: Vec<LocationDoc>,
    /// How to make the runtimes that do not trust it trust it (one line per group of
    /// runtimes, then the Kubernetes form); empty when every runtime trusts it or it is no
    /// CA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundRuntimeDoc {
    pub runtime: String,
    pub trusted: bool,
    /// Where the runtime got it (`path` or `path#block`).
    pub from: Option<String>,
    /// Why not, when not trusted.
    pub why_not: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationDoc {
    pub path: String,
    pub block: Option<usize>,
    /// `bundle`, `cert-dir`, `staging`, `kubernetes`, `system-source`.
    pub kind: String,
}

/// Rendering options for humans.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanOpts {
    pub color: bool,
    pub verbose: u8,
    pub quiet: bool,
    pub list: bool,
}

use super::human::WIDTH;

fn paint(s: &str, style: anstyle::Style, on: bool) -> String {
    super::style::Painter::new(on).paint(style, s)
}

/// Word-wrap to 80 columns (one implementation for every report).
pub use super::human::wrap;

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn sev_mark(s: Severity, color: bool) -> String {
    match s {
        Severity::Error => paint("✘", super::style::RED, color),
        Severity::Warning => paint("!", super::style::YELLOW, color),
        Severity::Info => paint("i", super::style::CYAN, color),
    }
}

/// The human report: verdict lines, findings with fixes, then (-v) the steps, (--list)
/// the anchors.
pub fn render_human(doc: &StoreDoc, o: &HumanOpts) -> String {
    let c = o.color;
    let mut out = String::new();
    // `--find` asks one question: its answer (and fix) is the report; -v adds the stores.
    if let Some(find) = doc.find.as_ref().filter(|_| o.verbose == 0) {
        render_find(&mut out, find, c);
        if !o.quiet {
            out.push_str(&format!(
                "\n({} · -v: the stores and every step · --json)\n",
                sanitize(&doc.world.label)
            ));
        }
        return out;
    }
    let distro = match doc.distro.as_str() {
        "debian" => "Debian/Ubuntu",
        "alpine" => "Alpine",
        "rhel" => "RHEL/Fedora",
        "distroless" => "distroless",
        "scratch" => "scratch (empty image)",
        _ => "unknown distribution",
    };
    if !o.quiet {
        out.push_str(&wrap(
            &format!("Trust stores — {} · {distro}", sanitize(&doc.world.label)),
            "",
            "  ",
        ));
        if let Some(d) = &doc.openssldir {
            out.push_str(&wrap(
                &if doc.openssldir_given {
                    format!("OPENSSLDIR {} (given with --openssldir)", sanitize(d))
                } else {
                    format!("OPENSSLDIR {} (assumed; --openssldir to change)", sanitize(d))
                },
                "  ",
                "    ",
            ));
        }
        for k in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let Some(v) = doc.world.env.get(k) {
                out.push_str(&wrap(&format!("{k}={}", sanitize(v)), "  ", "    "));
            }
        }
        out.push('\n');
    }

    // Verdict lines.
    // Extra runtimes absent from this World get a short line (none with -q) and do not
    // widen the columns.
    let present = || doc.runtimes.iter().filter(|r| !r.absent);
    let name_w = present().map(|r| r.runtime.len()).max().unwrap_or(0);
    let count_w = present().map(|r| r.anchors.to_string().len()).max().unwrap_or(1);
    let absent: Vec<&str> = doc
        .runtimes
        .iter()
        .filter(|r| r.absent)
        .map(|r| r.runtime.as_str())
        .collect();
    for r in &doc.runtimes {
        if r.absent {
            continue;
        }
        let worst = r.findings.iter().map(|f| f.severity).max();
        let mark = if !r.ok {
            paint("✘", super::style::RED, c)
        } else if worst == Some(Severity::Warning) {
            paint("!", super::style::YELLOW, c)
        } else {
            paint("✔", super::style::GREEN, c)
        };
        let sources: Vec<String> = r
            .steps
            .iter()
            .filter(|s| s.outcome == "loaded" && s.anchors > 0)
            .map(|s| sanitize(&s.source))
            .collect();
        let head = format!(
            "{mark} {:<name_w$} {:>count_w$} anchor{}  ",
            r.runtime,
            r.anchors,
            if r.anchors == 1 { " " } else { "s" },
        );
        let room = WIDTH.saturating_sub(2 + name_w + 1 + count_w + 8 + 2);
        let summary = if let Some(e) = &r.error {
            sanitize(e)
        } else if r.runtime == "webpki-roots" {
            "compiled into the program (Mozilla)".to_string()
        } else if sources.first().is_some_and(|s| s == "builtin:node") {
            let more: Vec<&String> = sources.iter().skip(1).collect();
            if more.is_empty() {
                "compiled into node (Mozilla)".to_string()
            } else {
                format!(
                    "compiled in + {}",
                    more.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )
            }
        } else if sources.is_empty() {
            "no source gave certificates".to_string()
        } else {
            let all = sources.join(", ");
            if all.chars().count() <= room || sources.len() == 1 {
                all
            } else {
                let more = format!(" (+{} more)", sources.len() - 1);
                format!(
                    "{}{more}",
                    truncate(&sources[0], room.saturating_sub(more.chars().count()))
                )
            }
        };
        out.push_str(&head);
        out.push_str(&truncate(&summary, room));
        out.push('\n');
    }

    if !absent.is_empty() && !o.quiet {
        out.push_str(&wrap(
            &format!(
                "{} not present here (no binary, home or variable): {}",
                paint("–", super::style::DIM, c),
                absent.join(", ")
            ),
            "",
            "    ",
        ));
    }

    // Findings (errors first).
    // The extra runtimes (node, python, python-requests, curl, java) keep the default
    // screen short: their own warnings and notes show with -v.
    let extra_only = |f: &Finding| {
        !f.runtimes.is_empty()
            && f.runtimes
                .iter()
                .all(|r| crate::trust::Runtime::from_id(r).is_some_and(|x| x.is_extra()))
    };
    let mut hidden = 0;
    let mut findings: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| !o.quiet || f.severity == Severity::Error)
        .filter(|f| {
            // A note that asks nothing of anyone (Debian's snakeoil certificate) is not a
            // problem on a healthy host: -v shows it.
            let idle = f.severity == Severity::Info && f.code == "not-a-ca-anchor";
            let show = o.verbose > 0 || f.severity == Severity::Error || !(extra_only(f) || idle);
            if !show {
                hidden += 1;
            }
            show
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if !findings.is_empty() {
        out.push('\n');
        if !o.quiet {
            out.push_str("Findings\n");
        }
        for f in findings {
            let rts = if f.runtimes.is_empty() || f.runtimes.len() == doc.runtimes.len() {
                String::new()
            } else {
                format!(" [{}]", f.runtimes.join(", "))
            };
            out.push_str(&wrap(
                &format!(
                    "{} {}{rts}: {}",
                    sev_mark(f.severity, c),
                    f.code,
                    sanitize(&f.message)
                ),
                "",
                "    ",
            ));
            if let Some(fix) = &f.fix {
                out.push_str(&wrap(&format!("fix: {}", sanitize(fix)), "    ", "         "));
            }
        }
    }

    if hidden > 0 && !o.quiet {
        out.push_str(&format!(
            "  ({hidden} more note{}: -v)\n",
            if hidden == 1 { "" } else { "s" }
        ));
    }

    if let Some(find) = doc.find.as_ref().filter(|_| o.verbose > 0) {
        out.push('\n');
        render_find(&mut out, find, c);
    }

    if o.verbose > 0 {
        for r in &doc.runtimes {
            out.push('\n');
            out.push_str(&format!("{} — {}\n", r.runtime, r.title));
            for (i, s) in r.steps.iter().enumerate() {
                let what = match s.outcome.as_str() {
                    "loaded" => format!("loaded {}", s.anchors),
                    other => other.to_string(),
                };
                let reason = s
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {}", sanitize(r)))
                    .unwrap_or_default();
                let src = if s.source.is_empty() {
                    "(empty)".to_string()
                } else {
                    sanitize(&s.source)
                };
                out.push_str(&wrap(
                    &format!("{:>2}. {} {src}: {what}{reason}", i + 1, s.kind),
                    "  ",
                    "      ",
                ));
            }
            for a in &r.assumptions {
                out.push_str(&wrap(&format!("assumed: {}", sanitize(a)), "  ", "    "));
            }
        }
    }

    if o.list {
        for r in &doc.runtimes {
            let Some(list) = &r.anchor_list else { continue };
            out.push('\n');
            out.push_str(&format!("{} anchors ({})\n", r.runtime, list.len()));
            for a in list {
                let mut from = sanitize(&a.path);
                if let Some(b) = a.block {
                    from.push_str(&format!("#{b}"));
                }
                let flags = format!(
                    "{}{}{}",
                    if a.expired { " EXPIRED" } else { "" },
                    if a.is_ca { "" } else { " not-CA" },
                    if a.trusted_cert_block { " TRUSTED" } else { "" }
                );
                // 28 columns of date and digest; the subject gets what the flags leave of 80.
                let room = (80 - 28usize).saturating_sub(flags.chars().count()).max(20);
                out.push_str(&format!(
                    "  {}  {}  {}{flags}\n",
                    &a.not_after[..a.not_after.len().min(10)],
                    &a.sha256[..a.sha256.len().min(12)],
                    truncate(&sanitize(&a.subject), room.min(50))
                ));
                if o.verbose > 0 {
                    if let Some(l) = a.line {
                        from.push_str(&format!(" (line {l})"));
                    }
                    if let Some(r) = &a.resolved {
                        from.push_str(&format!(" -> {}", sanitize(r)));
                    }
                    if let Some(h) = &a.hash_name {
                        from.push_str(&format!(" [hash {h}]"));
                    }
                    out.push_str(&wrap(&format!("from {from}"), "      ", "        "));
                }
            }
        }
    }

    if !o.quiet && o.verbose == 0 && !o.list {
        out.push_str("\n(-v: every step and assumption · --list: every anchor · --json)\n");
    }
    out
}

fn render_find(out: &mut String, f: &FindDoc, c: bool) {
    let _ = writeln!(out, "Find {:?}", sanitize(&f.query));
    if f.certificates.is_empty() {
        out.push_str("  no certificate matches, in any store or anywhere this tool looked\n");
        return;
    }
    for cert in &f.certificates {
        out.push_str(&wrap(
            &format!(
                "{} (sha256 {}…, not after {})",
                sanitize(&cert.subject),
                &cert.sha256[..cert.sha256.len().min(16)],
                &cert.not_after[..cert.not_after.len().min(10)]
            ),
            "  ",
            "    ",
        ));
        // The answer first: who trusts it.
        let (yes, no): (Vec<&FoundRuntimeDoc>, Vec<&FoundRuntimeDoc>) =
            cert.runtimes.iter().partition(|r| r.trusted);
        let names = |v: &[&FoundRuntimeDoc]| {
            v.iter()
                .map(|r| r.runtime.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let answer = match (yes.is_empty(), no.is_empty()) {
            (true, _) => "trusted by no runtime here".to_string(),
            (false, true) => "trusted by every runtime here".to_string(),
            (false, false) => format!("trusted by {}; not by {}", names(&yes), names(&no)),
        };
        out.push_str(&wrap(&answer, "  → ", "    "));
        // Runtimes with the same answer on one line.
        let mut groups: Vec<(Vec<&str>, &FoundRuntimeDoc)> = vec![];
        for r in &cert.runtimes {
            match groups
                .iter_mut()
                .find(|(_, g)| g.trusted == r.trusted && g.from == r.from && g.why_not == r.why_not)
            {
                Some((rts, _)) => rts.push(&r.runtime),
                None => groups.push((vec![&r.runtime], r)),
            }
        }
        for (rts, r) in groups {
            let text = if r.trusted {
                format!(
                    "{} {}: trusted, from {}",
                    paint("✔", super::style::GREEN, c),
                    rts.join(", "),
                    sanitize(r.from.as_deref().unwrap_or("?"))
                )
            } else {
                format!(
                    "{} {}: not trusted — {}",
                    paint("✘", super::style::RED, c),
                    rts.join(", "),
                    sanitize(r.why_not.as_deref().unwrap_or(""))
                )
            };
            out.push_str(&wrap(&text, "    ", "        "));
        }
        for (i, line) in cert.fix.iter().enumerate() {
            let head = if i == 0 { "    fix: " } else { "      " };
            out.push_str(&wrap(&sanitize(line), head, "          "));
        }
        if !cert.locations.is_empty() {
            out.push_str("    found at:\n");
            for l in cert.locations.iter().take(12) {
                let b = l.block.map(|b| format!("#{b}")).unwrap_or_default();
                out.push_str(&wrap(
                    &format!("{}{b} ({})", sanitize(&l.path), l.kind),
                    "      ",
                    "        ",
                ));
            }
            if cert.locations.len() > 12 {
                let _ = writeln!(out, "      … {} more", cert.locations.len() - 12);
            }
        }
    }
    if f.more > 0 {
        let _ = writeln!(out, "  … and {} more matches (narrow the query)", f.more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_fits_80_columns() {
        let long = "word ".repeat(50) + &"x".repeat(120);
        let w = wrap(&long, "  ", "    ");
        for l in w.lines() {
            assert!(l.chars().count() <= WIDTH, "{l:?}");
        }
        assert!(w.contains("word"));
    }
}
