//! Human text for the `connect` / `verify` document, ordered like a doctor's note: one
//! verdict line per runtime, then the chain with the failing element marked, then findings
//! with their fixes. Fits 80 columns; every string from a certificate or peer is sanitized.

use crate::finding::Severity;
use crate::report::json::{CertDoc, Document, VerdictDoc};
use crate::report::sanitize::sanitize;

/// Rendering options.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanOpts {
    pub color: bool,
    pub verbose: u8,
    pub quiet: bool,
}

pub const WIDTH: usize = 80;

/// The doctor's note: the common failures fit this many lines by default.
pub const NOTE_LINES: usize = 25;

/// Lines `connect` puts above the note (target, TLS, blank).
const CONNECT_HEADER_LINES: usize = 3;

use crate::report::style::Painter as Pen;

/// Word-wrap `text` to `WIDTH`, first line prefixed by `first`, the rest by `indent`.
pub fn wrap(text: &str, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let wl = word.chars().count();
        let indent_len = indent.chars().count();
        if (!empty && line_len + 1 + wl > WIDTH) || (empty && line_len + wl > WIDTH && line_len > indent_len)
        {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            line_len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        // A single word longer than the line: hard-break it.
        if line_len + wl > WIDTH && wl > WIDTH - indent.chars().count() {
            let mut chunk = String::new();
            for c in word.chars() {
                if line_len + chunk.chars().count() >= WIDTH {
                    line.push_str(&chunk);
                    out.push_str(&line);
                    out.push('\n');
                    line = indent.to_string();
                    line_len = indent.chars().count();
                    chunk.clear();
                }
                chunk.push(c);
            }
            line.push_str(&chunk);
            line_len += chunk.chars().count();
        } else {
            line.push_str(word);
            line_len += wl;
        }
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn day(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

fn verdict_line(p: &Pen, v: &VerdictDoc, opts: &HumanOpts) -> String {
    let mark = if v.trusted { p.green("✔") } else { p.red("✘") };
    let cause = if v.trusted {
        match &v.anchor {
            Some(a) => format!("ok — anchor {}", short_dn(&a.subject)),
            None => "ok".to_string(),
        }
    } else {
        let extra = if v.causes.len() > 1 {
            format!(" (+{})", v.causes[1..].join(", "))
        } else {
            String::new()
        };
        format!("{}{extra}", v.cause)
    };
    // Wide enough for the longest runtime code (`python-requests`).
    let head = format!("{mark} {:<15} ", v.runtime);
    let plain_head = format!("x {:<15} ", v.runtime);
    let body = wrap(&sanitize(&cause), &plain_head, &" ".repeat(18));
    // Replace the plain head with the painted one (same width).
    let body = body.replacen(&plain_head, &head, 1);
    let body = if !v.trusted {
        // Paint the primary cause.
        body.replacen(&v.cause, &p.bold(&v.cause), 1)
    } else {
        body
    };
    let mut s = body;
    if !v.trusted && !v.message.is_empty() && !opts.quiet {
        s.push_str(&p.dim(&wrap(&sanitize(&v.message), "    ", "      ")));
        if v.runtime == "go" && v.message.starts_with("x509: ") && opts.verbose > 0 {
            // crypto/tls wraps Verify errors since Go 1.20; Go 1.19 logs the bare text.
            s.push_str(&p.dim("    (Go ≥ 1.20 logs it after \"tls: failed to verify certificate: \")\n"));
        }
    }
    s
}

fn short_dn(dn: &str) -> String {
    let cn = dn
        .split(", ")
        .find_map(|x| x.strip_prefix("CN="))
        .map(|s| s.to_string())
        .unwrap_or_else(|| {
            if dn.is_empty() {
                "(empty)".into()
            } else {
                dn.to_string()
            }
        });
    format!("\"{}\"", sanitize(&cn))
}

fn cert_block(p: &Pen, c: &CertDoc, blame: &[&str], evaluated_at: Option<i64>) -> String {
    let mut s = String::new();
    let head = format!("  [{}] ", c.index);
    let mut subject = sanitize(&c.subject);
    if subject.is_empty() {
        subject = "(empty subject)".into();
    }
    let mark = if blame.is_empty() {
        String::new()
    } else {
        format!("  ◀ {}", blame.join(", "))
    };
    let line = wrap(&format!("{subject}{mark}"), &head, "      ");
    let line = if blame.is_empty() {
        line
    } else {
        line.replacen("◀", &p.red("◀"), 1)
    };
    s.push_str(&line);
    s.push_str(&wrap(
        &format!("issuer {}", sanitize(&c.issuer)),
        "      ",
        "        ",
    ));
    let mut validity = format!("valid {} .. {}", day(&c.not_before), day(&c.not_after));
    if let Some(at) = evaluated_at {
        let nb = parse(&c.not_before);
        let na = parse(&c.not_after);
        if let (Some(nb), Some(na)) = (nb, na) {
            if na <= at {
                validity.push_str(&format!(" ({})", p.red(&format!("expired {} ago", ago(at - na)))));
            } else if nb > at {
                validity.push_str(&format!(" ({})", p.red(&format!("valid in {}", ago(nb - at)))));
            }
        }
    }
    s.push_str(&format!("      {validity}\n"));
    let mut names = c.dns_names.clone();
    names.extend(c.ip_addresses.iter().cloned());
    if !names.is_empty() {
        s.push_str(&wrap(
            &sanitize(&names.join(", ")),
            "      names ",
            "            ",
        ));
    }
    let kind = if c.self_signed {
        "self-signed CA"
    } else if c.is_ca {
        "CA"
    } else {
        "leaf"
    };
    s.push_str(&format!(
        "      {kind}, {}, {}\n",
        sanitize(&c.key),
        sanitize(&c.signature)
    ));
    s
}

fn parse(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

use crate::report::style::span as ago;

/// One line of the "Why" section: the runtimes that share a cause and its detail.
struct WhyEntry<'a> {
    label: String,
    cause: &'a str,
    detail: &'a str,
}

/// The causes of every rejecting runtime (the primary one, or all with `all`), runtimes
/// with the same cause and detail grouped on one entry, in order of first appearance.
fn why_entries(doc: &Document, all: bool) -> Vec<WhyEntry<'_>> {
    let mut groups: Vec<(&str, &str, Vec<&str>)> = vec![];
    for v in doc.verdicts.iter().filter(|v| !v.trusted) {
        let n = if all {
            v.details.len()
        } else {
            v.details.len().min(1)
        };
        for d in &v.details[..n] {
            match groups.iter_mut().find(|g| g.0 == d.cause && g.1 == d.detail) {
                Some(g) => g.2.push(&v.runtime),
                None => groups.push((&d.cause, &d.detail, vec![&v.runtime])),
            }
        }
    }
    groups
        .into_iter()
        .map(|(cause, detail, rts)| WhyEntry {
            label: runtimes_label(doc, &rts),
            cause,
            detail,
        })
        .collect()
}

/// A list of runtimes for a label: "every runtime" when it is all of them (and more than
/// two), else the codes joined.
fn runtimes_label<S: AsRef<str>>(doc: &Document, rts: &[S]) -> String {
    let every = doc.verdicts.len() > 2
        && doc
            .verdicts
            .iter()
            .all(|v| rts.iter().any(|r| r.as_ref() == v.runtime));
    if every {
        "every runtime".to_string()
    } else {
        rts.iter().map(|r| r.as_ref()).collect::<Vec<_>>().join(", ")
    }
}

/// Render the verdicts, chain and findings.
pub fn render(doc: &Document, opts: &HumanOpts) -> String {
    let p = Pen::new(opts.color);
    let mut out = String::new();
    if let Some(e) = &doc.error {
        out.push_str(&wrap(
            &format!("{}: {}", e.cause, sanitize(&e.message)),
            &format!("{} ", p.red("✘")),
            "  ",
        ));
    }
    if doc.verdicts.is_empty() && doc.error.is_none() {
        out.push_str("no runtime selected (no trust store could be resolved)\n");
    }
    if opts.verbose > 0 {
        for v in &doc.verdicts {
            out.push_str(&verdict_line(&p, v, opts));
        }
    } else {
        // The doctor's note: one line per group of runtimes with the same verdict and
        // words (the cause is said once, under "Why").
        let groups = verdict_groups(doc);
        let w = groups
            .iter()
            .map(|g| g.runtimes.join(", ").chars().count())
            .filter(|&n| n <= 16)
            .max()
            .unwrap_or(0)
            .max(13);
        for g in groups {
            out.push_str(&note_line(&p, &g, w));
        }
    }
    if opts.quiet {
        // Verdicts and what to do.
        for f in doc.findings.iter().filter(|f| f.severity == Severity::Error) {
            if let Some(fix) = &f.fix {
                out.push_str(&fix_text(fix, "  fix: "));
            }
        }
        return out;
    }
    if !doc.chain.is_empty() && opts.verbose > 0 {
        out.push('\n');
        out.push_str(&p.bold("Chain (as presented)"));
        out.push('\n');
        let at = doc.evaluated_at.as_deref().and_then(parse);
        for c in &doc.chain {
            let blame: Vec<&str> = doc
                .verdicts
                .iter()
                .filter(|v| !v.trusted && v.failing_index == Some(c.index))
                .map(|v| v.runtime.as_str())
                .collect();
            out.push_str(&cert_block(&p, c, &blame, at));
        }
        // A store anchor to blame (the path reached it, then failed there).
        let mut anchors: Vec<(&str, Vec<&str>)> = vec![];
        for v in doc
            .verdicts
            .iter()
            .filter(|v| !v.trusted && v.failing_index.is_none())
        {
            if let Some(a) = &v.anchor {
                match anchors.iter_mut().find(|x| x.0 == a.subject) {
                    Some(x) => x.1.push(&v.runtime),
                    None => anchors.push((&a.subject, vec![&v.runtime])),
                }
            }
        }
        for (subject, rts) in anchors {
            let line = wrap(
                &format!("{}  ◀ {}", sanitize(subject), rts.join(", ")),
                "  [anchor] ",
                "      ",
            );
            out.push_str(&line.replacen("◀", &p.red("◀"), 1));
        }
        if let Some(at) = &doc.evaluated_at {
            out.push_str(&p.dim(&format!("  evaluated at {at}\n")));
        }
    }
    let why = why_entries(doc, opts.verbose > 0);
    if !why.is_empty() && opts.verbose == 0 {
        out.push('\n');
        for (i, e) in why.iter().enumerate() {
            let head = if i == 0 { "Why: " } else { "  and " };
            let text = format!("{} ({}): {}", e.cause, e.label, sanitize(e.detail));
            let plain = wrap(&text, head, "  ");
            out.push_str(&if i == 0 {
                plain.replacen("Why:", &p.bold("Why:"), 1)
            } else {
                plain
            });
        }
    } else if !why.is_empty() {
        out.push('\n');
        out.push_str(&p.bold("Why"));
        out.push('\n');
        // Align the columns when the labels are short; a long group label needs no padding.
        let lw = why.iter().map(|e| e.label.chars().count()).max().unwrap_or(0);
        let cw = why.iter().map(|e| e.cause.chars().count()).max().unwrap_or(0);
        let (lw, cw) = (lw.max(13), cw.max(20));
        let aligned = lw + cw <= 44;
        for e in &why {
            let prefix = if aligned {
                format!(
                    "  {:<lw$} {:<cw$} ",
                    e.label,
                    e.cause,
                    lw = lw.max(13),
                    cw = cw.max(20)
                )
            } else {
                // A long group: the runtimes on their own (wrapped) line, then the cause.
                out.push_str(&wrap(&e.label, "  ", "  "));
                format!("      {}  ", e.cause)
            };
            out.push_str(&wrap(&sanitize(e.detail), &prefix, &" ".repeat(6)));
        }
    }
    // By default: no information-only findings, and a cause's finding does not repeat
    // the "Why" sentence — its fix is what is new.
    let why_details: Vec<&str> = why.iter().map(|e| e.detail).collect();
    let shown: Vec<&crate::finding::Finding> = doc
        .findings
        .iter()
        .filter(|f| opts.verbose > 0 || f.severity > Severity::Info)
        // A cause that only points at the interception fix adds nothing to the note.
        .filter(|f| {
            opts.verbose > 0
                || !f
                    .fix
                    .as_deref()
                    .is_some_and(|x| x.ends_with("see the tls-interception fix."))
        })
        .collect();
    // By default the fix of a cause already explained under "Why" comes first, on its own.
    let (fixes, shown): (Vec<&crate::finding::Finding>, Vec<&crate::finding::Finding>) =
        shown.into_iter().partition(|f| {
            opts.verbose == 0
                && f.severity == Severity::Error
                && f.fix.is_some()
                && (why_details.contains(&f.message.as_str())
                    // The interception finding is the untrusted-intercept cause's.
                    || (f.code == "tls-interception" && why.iter().any(|e| e.cause == "untrusted-intercept")))
        });
    // Straight after "Why" (its bold heading is the separator), to keep the note short.
    if !fixes.is_empty() && why.is_empty() {
        out.push('\n');
    }
    for (i, f) in fixes.iter().enumerate() {
        let t = fix_text(
            f.fix.as_deref().unwrap_or_default(),
            if i == 0 { "Fix: " } else { "and: " },
        );
        out.push_str(&t.replacen("Fix:", &p.bold("Fix:"), 1));
    }
    if !shown.is_empty() {
        out.push('\n');
        out.push_str(&p.bold("Findings"));
        out.push('\n');
        for f in shown {
            let sev = match f.severity {
                Severity::Error => p.red("error"),
                Severity::Warning => p.yellow("warn "),
                Severity::Info => "info ".to_string(),
            };
            let rts = if f.runtimes.is_empty() {
                String::new()
            } else {
                format!(" [{}]", runtimes_label(doc, &f.runtimes))
            };
            // Wrapped on the plain text, then the severity painted in.
            let plain = wrap(&format!("{}{rts}", f.code), "  xxxxx ", "          ");
            out.push_str(&plain.replacen("  xxxxx ", &format!("  {sev} "), 1));
            if opts.verbose > 0 || !why_details.contains(&f.message.as_str()) {
                out.push_str(&wrap(&sanitize(&f.message), "        ", "        "));
            }
            if let Some(fix) = &f.fix {
                out.push_str(&fix_text(fix, "    fix: "));
            }
        }
    }
    if opts.verbose > 0 {
        out.push('\n');
        out.push_str(&p.bold("Stores"));
        out.push('\n');
        for v in &doc.verdicts {
            let src = if v.store.sources.is_empty() {
                "(none)".to_string()
            } else {
                v.store.sources.join(", ")
            };
            out.push_str(&wrap(
                &format!(
                    "{} anchors{} from {}",
                    v.store.anchors,
                    if v.store.explicit { " (explicit --ca)" } else { "" },
                    sanitize(&src)
                ),
                &format!("  {:<15} ", v.runtime),
                &" ".repeat(18),
            ));
        }
    } else if !doc.chain.is_empty() && out.lines().count() + CONNECT_HEADER_LINES < NOTE_LINES {
        // The hint only where the note has room for it (-v is in --help).
        out.push_str(&p.dim("(-v: the chain, every cause and the runtimes' whole words)\n"));
    }
    out
}

/// A fix: its paragraphs (the step, one line per group of runtimes, the Kubernetes form)
/// each start a line; continuation lines are indented under them.
fn fix_text(fix: &str, first: &str) -> String {
    let mut out = String::new();
    // Later paragraphs (one per group of runtimes) two columns in from the first's margin.
    let margin = first.len() - first.trim_start().len();
    let next = " ".repeat(margin + 2);
    for (i, para) in fix.split("\n\n").filter(|x| !x.trim().is_empty()).enumerate() {
        let head = if i == 0 { first } else { next.as_str() };
        out.push_str(&wrap(&sanitize(para), head, &format!("{next}  ")));
    }
    out
}

/// A default-report verdict line: the mark, the runtimes padded to `w`, then the
/// runtime's own words on at most two lines (the rest, and every word, with -v and in
/// JSON); a trusted group names its anchor.
fn note_line(p: &Pen, g: &Group, w: usize) -> String {
    let v = g.v;
    let label = g.runtimes.join(", ");
    let words = if v.trusted {
        match &v.anchor {
            Some(a) => format!("ok — anchor {}", short_dn(&a.subject)),
            None => "ok".to_string(),
        }
    } else if v.message.is_empty() {
        v.cause.clone()
    } else {
        sanitize(&v.message)
    };
    let plain_head = format!("x {label:<w$} ");
    let indent = " ".repeat(w.min(16) + 3);
    let wrapped = wrap(&words, &plain_head, &indent);
    let mut lines: Vec<String> = wrapped.lines().map(str::to_string).collect();
    if lines.len() > 2 {
        // Longer than two lines: its beginning and its end, where runtimes put the reason
        // (requests wraps Python's words: "… unable to get local issuer certificate").
        lines.truncate(1);
        let room = WIDTH - indent.chars().count() - 1;
        let chars: Vec<char> = words.chars().collect();
        let mut start = chars.len().saturating_sub(room);
        while start < chars.len() && start > 0 && chars[start - 1] != ' ' {
            start += 1;
        }
        let tail: String = chars[start..].iter().collect();
        lines.push(format!("{indent}…{tail}"));
    }
    let mark = if v.trusted { p.green("✔") } else { p.red("✘") };
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(&l.replacen("x ", &format!("{mark} "), 1));
        } else {
            out.push_str(&p.dim(l));
        }
        out.push('\n');
    }
    out
}

/// Runtimes with the same verdict, cause, causes and words.
struct Group<'a> {
    runtimes: Vec<&'a str>,
    v: &'a VerdictDoc,
}

fn verdict_groups(doc: &Document) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = vec![];
    for v in &doc.verdicts {
        let same = |g: &&mut Group| {
            g.v.trusted == v.trusted
                && g.v.causes == v.causes
                && g.v.message == v.message
                && g.v.anchor.as_ref().map(|a| &a.subject) == v.anchor.as_ref().map(|a| &a.subject)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.runtimes.push(&v.runtime),
            None => groups.push(Group {
                runtimes: vec![&v.runtime],
                v,
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::report::json::{CauseDetailDoc, StoreSummaryDoc};

    /// Nine runtimes (the longest code is `python-requests`), two groups of causes, a
    /// finding naming most of them: every line still fits 80 columns, and a group that is
    /// every runtime is called that.
    #[test]
    fn many_runtimes_fit_80_columns() {
        let rts = [
            "go",
            "openssl",
            "rustls-native",
            "webpki-roots",
            "node",
            "python",
            "python-requests",
            "curl",
            "java",
        ];
        let verdict = |r: &str, cause: &str| VerdictDoc {
            runtime: r.into(),
            trusted: false,
            name_ok: true,
            cause: cause.into(),
            causes: vec![cause.into()],
            message: "a message the runtime prints, long enough to need wrapping at least once or twice"
                .into(),
            anchor: None,
            store: StoreSummaryDoc {
                anchors: 1,
                sources: vec![],
                explicit: false,
            },
            details: vec![CauseDetailDoc {
                cause: cause.into(),
                detail: "the presented chain stops at \"Acme Int\"; its issuer is in no store".into(),
            }],
            failing_index: None,
        };
        let mut verdicts: Vec<VerdictDoc> = rts.iter().map(|r| verdict(r, "missing-intermediate")).collect();
        verdicts[0] = verdict("go", "name-mismatch");
        let doc = Document {
            patch: None,
            schema: crate::report::json::VERIFY_SCHEMA.into(),
            target: None,
            network: None,
            handshake: None,
            chain: vec![],
            verdicts,
            findings: vec![
                Finding::new("missing-intermediate", Severity::Error, "x").runtimes(&rts[1..]),
                Finding::new("name-mismatch", Severity::Error, "y").runtimes(&rts),
            ],
            error: None,
            evaluated_at: None,
            server: None,
            issuer: None,
        };
        let out = render(
            &doc,
            &HumanOpts {
                color: false,
                verbose: 1,
                quiet: false,
            },
        );
        for l in out.lines() {
            assert!(
                l.chars().count() <= WIDTH,
                "{} columns: {l:?}\n{out}",
                l.chars().count()
            );
        }
        assert!(out.contains("✘ python-requests missing-intermediate"), "{out}");
        assert!(out.contains("name-mismatch [every runtime]"), "{out}");
        assert!(out.contains("python, python-requests, curl"), "{out}");
    }

    #[test]
    fn wrap_fits() {
        let t = "a ".repeat(100) + &"x".repeat(150);
        for l in wrap(&t, "  ", "    ").lines() {
            assert!(l.chars().count() <= WIDTH, "{l:?}");
        }
        // A long label prefix followed by a long first word moves the word down.
        let p = format!("  {:<13} {:<28} ", "go", "unhandled-critical-extension");
        let w = wrap("\"x509-limbo-intermediate-pathlen-None\": text", &p, "      ");
        assert!(w.lines().all(|l| l.chars().count() <= WIDTH), "{w}");
        assert!(w.starts_with("  go"));
    }
}
