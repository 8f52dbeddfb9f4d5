//! `tlsdoctor manpage` and `tlsdoctor completions SHELL`: generated from the clap
//! definitions in `cli.rs`, so they cannot drift from the real flags.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Print a completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, w: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "tlsdoctor", w);
    Ok(())
}

/// One man page (section 1): the top-level page as clap_mangen renders it, then one
/// section per subcommand with its synopsis, description and every option, then exit
/// status and environment.
pub fn manpage(w: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone()).manual("tlsdoctor manual");
    let mut out: Vec<u8> = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;

    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name().to_string();
        writeln!(out, ".SH \"TLSDOCTOR {}\"", name.to_uppercase())?;
        // Global options are documented once, at the top; so are --help and --version.
        let sub = sub.clone().mut_args(|a| {
            let id = a.get_id().as_str();
            if a.is_global_set() || id == "help" || id == "version" {
                a.hide(true)
            } else {
                a
            }
        });
        let m = clap_mangen::Man::new(sub.clone());
        let mut part: Vec<u8> = Vec::new();
        m.render_synopsis_section(&mut part)?;
        m.render_description_section(&mut part)?;
        if sub
            .get_arguments()
            .any(|a| !a.is_hide_set() && !a.is_global_set())
        {
            m.render_options_section(&mut part)?;
        }
        // Demote the subcommand's own section headings to subsections of this section.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some(rest) => writeln!(out, ".SS {}", title_case(rest))?,
                None => writeln!(out, "{line}")?,
            }
        }
    }

    let (status, rest) = EXTRA.split_at(EXTRA.find(".SH EXAMPLES").unwrap_or(EXTRA.len()));
    out.extend_from_slice(status.as_bytes());
    // One table of variables per runtime (src/runtimes/) feeds this section.
    writeln!(
        out,
        "{};\n\\fBPATH\\fR (which runtimes are present).\n\\fBNO_COLOR\\fR (of this process) turns colour off.",
        crate::runtimes::man_environment()
    )?;
    out.extend_from_slice(rest.as_bytes());
    man.render_version_section(&mut out)?;
    w.write_all(&out)?;
    Ok(())
}

fn title_case(h: &str) -> String {
    let h = h.trim_matches('"');
    let mut c = h.chars();
    match c.next() {
        Some(f) => format!("\"{}{}\"", f, c.as_str().to_lowercase()),
        None => String::new(),
    }
}

const EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
every selected runtime would accept the connection or chain (warnings may be printed)
.TP
\fB1\fR
a diagnosis: at least one selected runtime would reject it (the report says why);
\fBstore\fR: a runtime has no usable anchors or a configured source is broken
.TP
\fB2\fR
usage or input error: bad flag, unreadable or unparseable file
.TP
\fB3\fR
the target could not be examined: DNS, refused, timeout, no TLS, handshake failed
before any certificate was seen
.PP
\fBcheck\fR exits with the worst code of its targets, ordered 0 < 1 < 3 < 2.
.SH ENVIRONMENT
The variables below are read from the evaluated environment (this process, \fB\-\-pid\fR's
process, or \fB\-\-env\fR overrides), as each runtime would read them:
.SH EXAMPLES
.nf
tlsdoctor                                  # the effective trust stores here
tlsdoctor connect db.internal:5432         # what the server presents, who would trust it
tlsdoctor verify chain.pem \-\-name api.example.com
tlsdoctor \-\-pid 1 store                     # the trust store of another process
tlsdoctor check ci/endpoints.toml \-\-junit report.xml
.fi
.SH "SEE ALSO"
\fBopenssl\-verify\fR(1), \fBupdate\-ca\-certificates\fR(8), \fBupdate\-ca\-trust\fR(8);
the project's docs/: check.md (the check spec, use in CI), kubernetes.md (debugging
inside Kubernetes), json.md (the JSON documents and their schemas).
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_gets_its_section_with_its_options() {
        let mut out = Vec::new();
        super::manpage(&mut out).unwrap();
        let man = String::from_utf8(out).unwrap();
        for (sub, flag) in [
            ("CONNECT", "\\-\\-starttls"),
            ("CHECK", "\\-\\-junit"),
            ("STORE", "\\-\\-find"),
            ("VERIFY", "\\-\\-at"),
        ] {
            let start = man
                .find(&format!(".SH \"TLSDOCTOR {sub}\""))
                .unwrap_or_else(|| panic!("{sub}"));
            let rest = &man[start + 4..];
            let section = &rest[..rest.find("\n.SH ").unwrap_or(rest.len())];
            assert!(section.contains(flag), "{sub} lacks {flag}:\n{section}");
            assert!(section.contains(".SS \"Synopsis\""), "{section}");
        }
        assert!(man.contains(".SH \"EXIT STATUS\""));
    }
}
