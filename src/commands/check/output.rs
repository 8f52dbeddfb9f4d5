//! `check` results: wire types (`tlsdoctor.check/v1` per target, JSON Lines; one
//! `tlsdoctor.check-report/v1` document for `--format json`), the human summary and the
//! JUnit XML report.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::expect::{self, ExpectationResult};
use super::runner::{Finished, RunError};
use super::spec::Job;
use crate::exit;
use crate::report::human::wrap;
use crate::report::json::{Document, ErrorDoc, CONNECT_SCHEMA};
use crate::report::sanitize::sanitize;
use crate::report::style::{self, Painter};
use anstyle::Style;

pub const CHECK_SCHEMA: &str = "tlsdoctor.check/v1";
pub const CHECK_REPORT_SCHEMA: &str = "tlsdoctor.check-report/v1";

/// One target's result: one line of `--format jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTargetDoc {
    /// `tlsdoctor.check/v1`.
    pub schema: String,
    /// The spec's `id` (default: the target string); the JUnit test-case name.
    pub id: String,
    /// What was connected to, as written in the spec.
    pub target: String,
    /// `pass`, `fail` (an expectation failed), `unreachable` (not examined: DNS, refused,
    /// timeout, no TLS, the total deadline …) or `error` (the target's input is broken, or
    /// the tool failed).
    pub status: String,
    /// This target's exit code: 0 pass, 1 fail, 3 unreachable, 2 input error.
    pub exit_code: u8,
    pub duration_ms: u64,
    /// Every expectation set for this target, in spec order.
    pub expectations: Vec<ExpectationResult>,
    /// Why the target was not (fully) examined; for `unreachable` this repeats the
    /// `connect` document's error, or says the deadline passed (`timeout`).
    pub error: Option<ErrorDoc>,
    /// The `tlsdoctor.connect/v1` document, when `connect` produced one.
    pub connect: Option<Document>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryDoc {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub unreachable: usize,
    pub errors: usize,
}

/// The whole run (`--format json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReportDoc {
    /// `tlsdoctor.check-report/v1`.
    pub schema: String,
    /// The spec file, as given.
    pub spec: String,
    /// The worst exit code of the targets (see [`worst`]).
    pub exit_code: u8,
    pub duration_ms: u64,
    /// When the run started (RFC 3339).
    pub started_at: String,
    pub summary: SummaryDoc,
    pub targets: Vec<CheckTargetDoc>,
}

/// Severity rank of a per-target exit code: 0 < 1 (a diagnosis) < 3 (not examined) <
/// 2 (broken input: someone must fix the spec before the run means anything).
fn rank(code: u8) -> u8 {
    match code {
        exit::OK => 0,
        exit::DIAGNOSIS => 1,
        exit::UNREACHABLE => 2,
        _ => 3,
    }
}

/// The worst of several exit codes (0 when there are none).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes.into_iter().max_by_key(|c| rank(*c)).unwrap_or(exit::OK)
}

fn placeholder(cause: &str, message: String) -> Document {
    Document {
        patch: None,
        schema: CONNECT_SCHEMA.to_string(),
        target: None,
        network: None,
        handshake: None,
        chain: vec![],
        verdicts: vec![],
        findings: vec![],
        error: Some(ErrorDoc {
            cause: cause.to_string(),
            message,
        }),
        evaluated_at: None,
        server: None,
        issuer: None,
    }
}

/// Turn one runner result into the target's document.
pub fn target_doc(job: &Job, f: Finished, now: i64, deadline: Duration) -> CheckTargetDoc {
    let duration_ms = f.elapsed.as_millis().min(u64::MAX as u128) as u64;
    let (status, code, error, connect, expectations) = match f.result {
        Ok(doc) => {
            let at = doc
                .evaluated_at
                .as_deref()
                .and_then(|t| crate::commands::parse_at(t).ok())
                .or(job.req.at)
                .unwrap_or(now);
            let mut results = expect::evaluate(&job.expect, &doc, at);
            let sent = job.req.client_cert.is_some();
            results.extend(expect::handshake_result(&job.expect, &doc, sent));
            let unreachable = crate::commands::connect::exit_code(&doc) == exit::UNREACHABLE;
            let (status, code) = if unreachable {
                ("unreachable", exit::UNREACHABLE)
            } else if results.iter().all(|r| r.passed) {
                ("pass", exit::OK)
            } else {
                ("fail", exit::DIAGNOSIS)
            };
            let error = if unreachable { doc.error.clone() } else { None };
            (status, code, error, Some(doc), results)
        }
        Err(e) => {
            let (status, code, cause, message) = match e {
                RunError::Input(m) => ("error", exit::USAGE, "input-error", m),
                RunError::Deadline { started } => (
                    "unreachable",
                    exit::UNREACHABLE,
                    "timeout",
                    if started {
                        format!(
                            "not finished within the total deadline ({})",
                            fmt_duration(deadline)
                        )
                    } else {
                        format!(
                            "not started: the total deadline ({}) had passed",
                            fmt_duration(deadline)
                        )
                    },
                ),
                RunError::Panic(m) => (
                    "error",
                    exit::UNREACHABLE,
                    "internal-error",
                    format!("tlsdoctor failed while examining this target (a bug): {m}"),
                ),
            };
            let doc = placeholder(cause, message);
            let results = expect::evaluate(&job.expect, &doc, now);
            (status, code, doc.error, None, results)
        }
    };
    CheckTargetDoc {
        schema: CHECK_SCHEMA.to_string(),
        id: job.id.clone(),
        target: crate::probe::target::redact_password(&job.req.target),
        status: status.to_string(),
        exit_code: code,
        duration_ms,
        expectations,
        error,
        connect,
    }
}

/// One target of `--format json`, rendered as [`json_report`] places it: pretty-printed
/// and indented to sit in the report's `targets` array.
pub fn json_target(t: &CheckTargetDoc) -> String {
    // Pretty JSON has no raw newline inside a string, so indenting every line is exact.
    let pretty = serde_json::to_string_pretty(t).unwrap_or_default();
    let mut out = String::with_capacity(pretty.len() + pretty.len() / 8);
    for (i, line) in pretty.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str("    ");
        out.push_str(line);
    }
    out
}

/// The `--format json` report: `head` (its `targets` empty) with `targets`, the
/// [`json_target`]s joined by `",\n"`; the same bytes as pretty-printing the whole report.
pub fn json_report(head: &CheckReportDoc, targets: &str) -> String {
    let (before, after) = json_around_targets(head, !targets.is_empty());
    format!("{before}{targets}{after}")
}

/// What goes before and after the joined [`json_target`]s in [`json_report`].
pub fn json_around_targets(head: &CheckReportDoc, any: bool) -> (String, String) {
    let out = serde_json::to_string_pretty(head).unwrap_or_default();
    match out.strip_suffix("[]\n}") {
        Some(stem) if any => (format!("{stem}[\n"), "\n  ]\n}\n".to_string()),
        _ => (out, "\n".to_string()),
    }
}

pub fn summarize(targets: &[CheckTargetDoc]) -> SummaryDoc {
    let mut s = SummaryDoc {
        total: targets.len(),
        ..SummaryDoc::default()
    };
    for t in targets {
        match t.status.as_str() {
            "pass" => s.passed += 1,
            "fail" => s.failed += 1,
            "unreachable" => s.unreachable += 1,
            _ => s.errors += 1,
        }
    }
    s
}

pub use crate::report::style::duration as fmt_duration;

// ---------------------------------------------------------------------------------------
// Human output

struct Paint {
    color: bool,
}

impl Paint {
    fn c(&self, style: Style, s: &str) -> String {
        Painter::new(self.color).paint(style, s)
    }
}

fn mark(status: &str) -> (&'static str, Style) {
    match status {
        "pass" => ("✔", style::GREEN),
        "fail" => ("✘", style::RED),
        "unreachable" => ("!", style::YELLOW),
        _ => ("✘", style::RED_BOLD),
    }
}

/// A short note for the one-line summary.
fn note(t: &CheckTargetDoc) -> String {
    match t.status.as_str() {
        "pass" => {
            let mut parts = Vec::new();
            if let Some(d) = &t.connect {
                if let Some(v) = d.handshake.as_ref().and_then(|h| h.version.as_deref()) {
                    parts.push(sanitize(v));
                }
                let at = d
                    .evaluated_at
                    .as_deref()
                    .and_then(|t| crate::commands::parse_at(t).ok());
                if let Some(left) = at.and_then(|at| expect::soonest_expiry(d).map(|t| t - at)) {
                    if left >= 0 {
                        parts.push(format!("expires {}", expect::days_phrase(left)));
                    }
                }
            }
            if parts.is_empty() {
                "ok".to_string()
            } else {
                parts.join(", ")
            }
        }
        "fail" => {
            let failed: Vec<&str> = t
                .expectations
                .iter()
                .filter(|r| !r.passed)
                .map(|r| r.expectation.as_str())
                .collect();
            format!("failed: {}", failed.join(", "))
        }
        _ => match &t.error {
            Some(e) => sanitize(&e.cause),
            None => t.status.clone(),
        },
    }
}

/// Column widths of the human summary: the id column, and the target column (shown when
/// it differs from the id), both capped. Known from the spec before any target runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanWidths {
    id: usize,
    target: usize,
}

impl HumanWidths {
    /// From each target's (id, target as shown in reports).
    pub fn of<'a>(targets: impl IntoIterator<Item = (&'a str, &'a str)>) -> HumanWidths {
        let mut w = HumanWidths::default();
        for (id, target) in targets {
            w.id = w.id.max(sanitize(id).chars().count());
            if id != target {
                w.target = w.target.max(sanitize(target).chars().count());
            }
        }
        HumanWidths {
            id: w.id.min(32),
            target: w.target.min(40),
        }
    }
}

/// A target's line of the human summary, and its details (empty for a pass).
pub fn human_parts(t: &CheckTargetDoc, w: HumanWidths, color: bool) -> (String, String) {
    let p = Paint { color };
    let (m, code) = mark(&t.status);
    let id = sanitize(&t.id);
    let pad = w.id.saturating_sub(id.chars().count());
    let target = match (t.id != t.target).then(|| sanitize(&t.target)) {
        Some(s) => format!("  {s}{}", " ".repeat(w.target.saturating_sub(s.chars().count()))),
        None if w.target > 0 => " ".repeat(w.target + 2),
        None => String::new(),
    };
    let line = format!(
        "{} {:<11} {id}{}{target}  {}\n",
        p.c(code, m),
        p.c(code, &t.status),
        " ".repeat(pad),
        note(t)
    );
    let details = if t.status == "pass" {
        String::new()
    } else {
        details(t, &p)
    };
    (line, details)
}

/// The end of the human summary: the details of every target that did not pass (unless
/// `quiet`), then the totals.
pub fn human_tail(
    details: &str,
    summary: &SummaryDoc,
    duration_ms: u64,
    exit_code: u8,
    color: bool,
    quiet: bool,
) -> String {
    let p = Paint { color };
    let mut out = String::new();
    if !quiet && !details.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.c(style::BOLD, "Details"));
        out.push_str(details);
    }
    let s = summary;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} target{}: {} passed, {} failed, {} unreachable, {} error{} in {} (exit {})",
        s.total,
        if s.total == 1 { "" } else { "s" },
        s.passed,
        s.failed,
        s.unreachable,
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        fmt_duration(Duration::from_millis(duration_ms)),
        exit_code
    );
    out
}

/// One line per target, then the details of every target that did not pass, then totals.
pub fn render_human(r: &CheckReportDoc, color: bool, quiet: bool) -> String {
    let w = HumanWidths::of(r.targets.iter().map(|t| (t.id.as_str(), t.target.as_str())));
    let mut out = String::new();
    let mut all_details = String::new();
    for t in &r.targets {
        let (line, details) = human_parts(t, w, color);
        out.push_str(&line);
        all_details.push_str(&details);
    }
    out.push_str(&human_tail(
        &all_details,
        &r.summary,
        r.duration_ms,
        r.exit_code,
        color,
        quiet,
    ));
    out
}

fn details(t: &CheckTargetDoc, p: &Paint) -> String {
    let mut out = String::new();
    let (_, code) = mark(&t.status);
    let _ = writeln!(
        out,
        "\n{}{} — {}",
        p.c(style::BOLD, &sanitize(&t.id)),
        // The target only when the id does not already say it.
        if t.id == t.target {
            String::new()
        } else {
            format!(" ({})", sanitize(&t.target))
        },
        p.c(code, &t.status)
    );
    // Wrapped to 80 columns like `connect`'s report; a fix keeps its paragraphs apart.
    if let Some(e) = &t.error {
        let line = format!("{}: {}", sanitize(&e.cause), sanitize(&e.message));
        out.push_str(&wrap(&line, "  ", "    "));
    }
    if t.status == "fail" {
        for x in t.expectations.iter().filter(|x| !x.passed) {
            let plain = wrap(
                &format!("{}: expected {}", x.expectation, x.expected),
                "  ✘ ",
                "      ",
            );
            out.push_str(&plain.replacen("  ✘ ", &format!("  {} ", p.c(style::RED, "✘")), 1));
            out.push_str(&wrap(&format!("got {}", x.actual), "      ", "        "));
        }
        if let Some(d) = &t.connect {
            for v in d.verdicts.iter().filter(|v| !v.trusted) {
                let line = format!("{}: {}", sanitize(&v.runtime), sanitize(&v.message));
                out.push_str(&wrap(&line, "    ", "      "));
            }
            for f in d
                .findings
                .iter()
                .filter(|f| f.severity == crate::finding::Severity::Error)
                .take(3)
            {
                let line = format!("{}: {}", sanitize(&f.code), sanitize(&f.message));
                out.push_str(&wrap(&line, "    ", "      "));
                if let Some(fix) = &f.fix {
                    let paras = fix.split("\n\n").filter(|x| !x.trim().is_empty());
                    for (i, para) in paras.enumerate() {
                        let first = if i == 0 { "      fix: " } else { "           " };
                        out.push_str(&wrap(&sanitize(para), first, "           "));
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// JUnit XML

/// Escape text for XML element content or a double-quoted attribute. Characters XML 1.0
/// cannot carry at all (C0 controls other than tab/newline/CR, U+FFFE, U+FFFF) become a
/// visible `\xNN` / `\u{…}` escape; in attributes, tab/newline/CR become character
/// references so parsers keep them.
pub fn xml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' if attribute => {
                let _ = write!(out, "&#{};", c as u32);
            }
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// The JUnit suite's name: the spec file's stem.
pub fn junit_suite(spec: &str) -> String {
    std::path::Path::new(spec)
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "check".into())
}

/// The start of the JUnit report, up to the first `<testcase>`.
pub fn junit_head(suite: &str, summary: &SummaryDoc, duration_ms: u64, started_at: &str) -> String {
    let s = summary;
    let timestamp = started_at.trim_end_matches('Z');
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"tlsdoctor check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        s.total,
        s.failed,
        s.unreachable + s.errors,
        secs(duration_ms)
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\" timestamp=\"{}\">",
        xml_escape(&format!("tlsdoctor check {suite}"), true),
        s.total,
        s.failed,
        s.unreachable + s.errors,
        secs(duration_ms),
        xml_escape(timestamp, true)
    );
    x
}

/// The end of the JUnit report, after the last `</testcase>`.
pub const JUNIT_TAIL: &str = "  </testsuite>\n</testsuites>\n";

/// A JUnit XML report: one `<testsuite>` for the spec, one `<testcase>` per target;
/// `<failure>` for failed expectations, `<error>` for targets that could not be examined.
pub fn render_junit(r: &CheckReportDoc) -> String {
    let suite = junit_suite(&r.spec);
    let mut x = junit_head(&suite, &r.summary, r.duration_ms, &r.started_at);
    for t in &r.targets {
        x.push_str(&junit_testcase(t, &suite));
    }
    x.push_str(JUNIT_TAIL);
    x
}

/// One target's `<testcase>` element (with its newline) in the suite `suite`.
pub fn junit_testcase(t: &CheckTargetDoc, suite: &str) -> String {
    let mut x = String::new();
    let classname = format!("tlsdoctor.check.{suite}");
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        xml_escape(&t.id, true),
        xml_escape(&classname, true),
        secs(t.duration_ms)
    );
    let out = system_out(t);
    match t.status.as_str() {
        "pass" if out.is_empty() => x.push_str("/>\n"),
        "pass" => {
            let _ = writeln!(
                x,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&out, false)
            );
        }
        "fail" => {
            let failed: Vec<&ExpectationResult> = t.expectations.iter().filter(|e| !e.passed).collect();
            let message = failed
                .iter()
                .map(|e| format!("{}: {}", e.expectation, e.actual))
                .collect::<Vec<_>>()
                .join("; ");
            let mut body = String::new();
            for e in &failed {
                let _ = writeln!(
                    body,
                    "{}: expected {}\n  got {}",
                    e.expectation, e.expected, e.actual
                );
            }
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&message, true),
                xml_escape(&body, false),
                xml_escape(&out, false)
            );
        }
        _ => {
            let (cause, message) = match &t.error {
                Some(e) => (e.cause.clone(), e.message.clone()),
                None => (t.status.clone(), t.status.clone()),
            };
            let _ = writeln!(
                x,
                ">\n      <error message=\"{}\" type=\"{}\">{}</error>\n      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&format!("{cause}: {message}"), true),
                xml_escape(&cause, true),
                xml_escape(&format!("{} ({}): {cause}: {message}\n", t.id, t.target), false),
                xml_escape(&out, false)
            );
        }
    }
    x
}

/// What was seen, for the CI log: handshake, chain, verdicts, expectations.
fn system_out(t: &CheckTargetDoc) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "target {} ({})", t.id, t.target);
    if let Some(d) = &t.connect {
        if let Some(n) = &d.network {
            if let Some(c) = &n.connected_to {
                let _ = writeln!(o, "connected to {c}");
            }
        }
        if let Some(h) = &d.handshake {
            let _ = writeln!(
                o,
                "handshake {}: {} {}{}",
                if h.completed { "completed" } else { "incomplete" },
                h.version.as_deref().unwrap_or("?"),
                h.cipher.as_deref().unwrap_or("?"),
                if h.client_cert_requested {
                    ", client certificate requested"
                } else {
                    ""
                }
            );
        }
        for c in &d.chain {
            let _ = writeln!(
                o,
                "chain[{}] {} (issuer {}; valid until {}; sha256 {})",
                c.index, c.subject, c.issuer, c.not_after, c.sha256
            );
        }
        for v in &d.verdicts {
            let _ = writeln!(
                o,
                "{} {}: {}{}",
                if v.trusted { "trusted" } else { "rejected" },
                v.runtime,
                v.cause,
                if v.trusted {
                    String::new()
                } else {
                    format!(" — {}", v.message)
                }
            );
        }
    }
    for e in &t.expectations {
        let _ = writeln!(
            o,
            "{} {}: {}",
            if e.passed { "pass" } else { "FAIL" },
            e.expectation,
            e.actual
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::check::expect::tests::{doc, unreachable, AT};
    use crate::commands::check::expect::{Expectations, TrustedBy};
    use crate::commands::check::spec;

    fn jobs() -> Vec<Job> {
        spec::parse(
            r#"
            [[target]]
            id = "good"
            target = "good.test:443"
            trusted_by = ["go"]
            min_days = 5
            [[target]]
            id = "bad <&> \"quoted\""
            target = "bad.test:443"
            [[target]]
            target = "refused.test:9"
            [[target]]
            target = "late.test:443"
            [[target]]
            target = "typo.test:443"
            "#,
            std::path::Path::new("/"),
        )
        .unwrap()
        .jobs_list
    }

    fn report() -> CheckReportDoc {
        let jobs = jobs();
        let fin = |r| Finished {
            result: r,
            elapsed: Duration::from_millis(12),
        };
        let results = vec![
            fin(Ok(doc())),
            fin(Ok(doc())),
            fin(Ok(unreachable())),
            fin(Err(RunError::Deadline { started: false })),
            fin(Err(RunError::Input("--ca x.pem: no such file\u{1b}".into()))),
        ];
        let targets: Vec<CheckTargetDoc> = jobs
            .iter()
            .zip(results)
            .map(|(j, f)| target_doc(j, f, AT, Duration::from_secs(60)))
            .collect();
        let summary = summarize(&targets);
        CheckReportDoc {
            schema: CHECK_REPORT_SCHEMA.into(),
            spec: "ci/endpoints.toml".into(),
            exit_code: worst(targets.iter().map(|t| t.exit_code)),
            duration_ms: 1234,
            started_at: "2030-01-01T00:00:00Z".into(),
            summary,
            targets,
        }
    }

    #[test]
    fn statuses_and_exit_codes() {
        let r = report();
        let st: Vec<(&str, u8)> = r
            .targets
            .iter()
            .map(|t| (t.status.as_str(), t.exit_code))
            .collect();
        assert_eq!(
            st,
            vec![
                ("pass", 0),
                ("fail", 1),
                ("unreachable", 3),
                ("unreachable", 3),
                ("error", 2)
            ]
        );
        assert_eq!(r.exit_code, 2);
        assert_eq!(
            r.summary,
            SummaryDoc {
                total: 5,
                passed: 1,
                failed: 1,
                unreachable: 2,
                errors: 1
            }
        );
        assert_eq!(r.targets[3].error.as_ref().unwrap().cause, "timeout");
        assert_eq!(worst([0, 1, 3]), 3);
        assert_eq!(worst([0, 1]), 1);
        assert_eq!(worst([3, 2, 0]), 2);
        assert_eq!(worst([]), 0);
    }

    #[test]
    fn jsonl_lines_round_trip_through_the_strict_wire_type() {
        for t in report().targets {
            let line = serde_json::to_string(&t).unwrap();
            assert!(!line.contains('\n'));
            let back: CheckTargetDoc = serde_json::from_str(&line).unwrap();
            assert_eq!(back.schema, CHECK_SCHEMA);
            assert_eq!(back.id, t.id);
        }
        let whole = serde_json::to_string(&report()).unwrap();
        let back: CheckReportDoc = serde_json::from_str(&whole).unwrap();
        assert_eq!(back.targets.len(), 5);
    }

    #[test]
    fn human_summary_has_one_line_per_target_then_details() {
        let text = render_human(&report(), false, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("✔ pass"), "{text}");
        assert!(
            lines[0].ends_with("good.test:443  TLSv1.3, expires in 10 days"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("✘ fail") && lines[1].ends_with("failed: trusted_by"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("! unreachable refused.test:9") && lines[2].ends_with("connection-refused")
        );
        assert!(lines[3].ends_with("timeout"), "{text}");
        assert!(
            lines[4].starts_with("✘ error") && lines[4].ends_with("input-error"),
            "{text}"
        );
        assert!(text.contains("  ✘ trusted_by: expected trusted by every evaluated runtime\n      got go: ok; openssl: unknown-authority"), "{text}");
        assert!(
            text.contains("no such file\\x1b"),
            "escape sequences from errors are escaped: {text}"
        );
        assert!(
            text.ends_with("5 targets: 1 passed, 1 failed, 2 unreachable, 1 error in 1.2s (exit 2)\n"),
            "{text}"
        );
        // A target without an id is named once, not "x (x)".
        assert!(text.contains("\nrefused.test:9 — unreachable\n"), "{text}");
        let quiet = render_human(&report(), false, true);
        assert!(!quiet.contains("Details"));
        assert!(!text.contains('\x1b'));
        assert!(render_human(&report(), true, false).contains("\x1b[32m✔\x1b[0m"));
    }

    #[test]
    fn human_details_fit_80_columns_and_keep_fix_paragraphs() {
        let mut r = report();
        let d = r.targets[1].connect.as_mut().unwrap();
        d.verdicts[1].message = "verify error:num=20:unable to get local issuer certificate \
            (and a long tail of words to push this well past the right margin)"
            .into();
        d.findings.push(
            crate::finding::Finding::new(
                "missing-intermediate",
                crate::finding::Severity::Error,
                "the presented chain stops at \"Example Int\"; its issuer \"Root\" was not sent \
                 and is in no store; \"Example Int\" has no AIA caIssuers URL to fetch it from",
            )
            .fix(
                "Trust the root: copy it to /usr/local/share/ca-certificates/NAME.crt and run \
                  `update-ca-certificates`.\n\nKubernetes: mount a bundle from a ConfigMap and \
                  set SSL_CERT_FILE to it.",
            ),
        );
        let text = render_human(&r, false, false);
        let details = &text[text.find("Details").unwrap()..];
        for l in details.lines() {
            assert!(l.chars().count() <= 80, "over 80 columns: {l:?}\n{text}");
        }
        assert!(
            !text.contains("\\x0a"),
            "newlines of a fix shown escaped:\n{text}"
        );
        assert!(
            details.contains("      fix: Trust the root:")
                && details.contains("\n           Kubernetes: mount a bundle"),
            "{text}"
        );
    }

    #[test]
    fn human_summary_columns_line_up() {
        let text = render_human(&report(), false, false);
        let lines: Vec<&str> = text.lines().take(5).collect();
        // Every note (the last column) starts at the same column.
        let notes = [
            "TLSv1.3",
            "failed:",
            "connection-refused",
            "timeout",
            "input-error",
        ];
        let cols: Vec<usize> = lines
            .iter()
            .zip(notes)
            .map(|(l, n)| {
                l[..l.find(n).unwrap_or_else(|| panic!("{n} in {l}"))]
                    .chars()
                    .count()
            })
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{cols:?}\n{text}");
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(xml_escape("a<b>&\"c'", true), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml_escape("x\ny\u{1b}z\u{0}", false), "x\ny\\x1bz\\x00");
        assert_eq!(xml_escape("x\ny", true), "x&#10;y");
        assert_eq!(xml_escape("\u{fffe}é", false), "\\u{fffe}é");
    }

    #[test]
    fn the_json_report_assembled_from_rendered_targets_is_the_pretty_printed_report() {
        let r = report();
        let whole = format!("{}\n", serde_json::to_string_pretty(&r).unwrap());
        let targets: Vec<String> = r.targets.iter().map(json_target).collect();
        let head = CheckReportDoc {
            targets: Vec::new(),
            ..r.clone()
        };
        assert_eq!(json_report(&head, &targets.join(",\n")), whole);
        // No targets: the empty array stays as serde writes it.
        assert_eq!(
            json_report(&head, ""),
            format!("{}\n", serde_json::to_string_pretty(&head).unwrap())
        );
    }

    #[test]
    fn junit_has_one_testcase_per_target() {
        let x = render_junit(&report());
        assert_eq!(x.matches("<testcase ").count(), 5);
        assert!(x.contains(
            "<testsuites name=\"tlsdoctor check\" tests=\"5\" failures=\"1\" errors=\"3\" time=\"1.234\">"
        ));
        assert!(x.contains("name=\"bad &lt;&amp;&gt; &quot;quoted&quot;\""), "{x}");
        assert!(x.contains(
            "<failure message=\"trusted_by: go: ok; openssl: unknown-authority\" type=\"expectation\">"
        ));
        assert!(x.contains("<error message=\"connection-refused: connect 127.0.0.1:9: connection refused\" type=\"connection-refused\">"));
        assert!(x.contains("type=\"input-error\""));
        assert!(!x.contains('\u{1b}'));
        assert!(x.contains("timestamp=\"2030-01-01T00:00:00\""));
        // The passing target keeps its evidence in system-out.
        assert!(
            x.contains("pass min_days: chain[0] CN=db.test expires in 10 days"),
            "{x}"
        );
    }

    #[test]
    fn expectations_default_to_trust_by_every_runtime() {
        assert_eq!(jobs()[1].expect, Expectations::default());
        assert_eq!(
            jobs()[0].expect.trusted_by,
            TrustedBy::Runtimes(vec![crate::trust::Runtime::Go])
        );
    }
}
