//! The monitoring-plugin format: `SERVICE STATUS: text | perfdata`, then
//! long output, one line a check or finding.
//!
//! A `|` in free text would be read as the start of perfdata by Nagios and
//! Icinga, and a newline would start long output early, so both are
//! replaced in every message this renderer writes.

use super::{RenderOptions, Verbosity};
use crate::perfdata;
use crate::report::Report;
use crate::status::Status;
use std::io::{self, Write};

/// The service name in the status line: the tool's name in upper case.
pub fn service_name(tool: &str) -> String {
    tool.to_ascii_uppercase()
}

/// Make free text safe for one line of plugin output: `|` would start
/// perfdata, line breaks and tabs become spaces (a message of two lines
/// reads as one), other control characters are escaped as in text output.
pub fn sanitize(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect();
    crate::safe_output::escape_controls(&flat).into_owned()
}

pub fn render(r: &Report, opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let status = r.status();
    write!(
        out,
        "{} {}: {}",
        service_name(&r.tool),
        status,
        sanitize(&r.summary_line())
    )?;
    let perf: Vec<_> = r.perfdata().into_iter().cloned().collect();
    if !perf.is_empty() {
        write!(out, " | {}", perfdata::join(&perf))?;
    }
    writeln!(out)?;
    for c in &r.checks {
        if opts.verbosity == Verbosity::Quiet && c.status == Status::Ok {
            continue;
        }
        writeln!(
            out,
            "[{}] {}: {}",
            c.status,
            sanitize(&c.name),
            sanitize(&c.message)
        )?;
        if opts.verbosity >= Verbosity::Verbose {
            for (k, v) in &c.details {
                writeln!(out, "    {}={}", sanitize(k), sanitize(&value_text(v)))?;
            }
        }
        for f in &c.findings {
            if opts.verbosity == Verbosity::Quiet && f.status == Status::Ok {
                continue;
            }
            let at = f
                .location
                .as_deref()
                .map(|l| format!(" at {}", sanitize(l)))
                .unwrap_or_default();
            writeln!(
                out,
                "  [{}] {}{}: {}",
                f.status,
                sanitize(&f.id),
                at,
                sanitize(&f.message)
            )?;
        }
    }
    Ok(())
}

/// A detail value as plain text: strings without their JSON quotes.
pub(crate) fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perfdata::{Perfdata, Range, Uom};
    use crate::report::{Check, Finding};

    fn render_to_string(r: &Report, verbosity: Verbosity) -> String {
        let mut buf = Vec::new();
        render(
            r,
            RenderOptions {
                color: false,
                verbosity,
            },
            &mut buf,
        )
        .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn status_line_with_perfdata_then_long_output() {
        let mut r = Report::new("maestro-snapshot-verify", Some("check"));
        r.push(
            Check::new("skew", Status::Critical, "lui and db 12m apart | really")
                .perf(Perfdata::new("skew", 720.0, Uom::Seconds).with_crit(Range::above(300.0))),
        );
        r.push(Check::ok("leftovers", "none").perf(Perfdata::count("rsync temp files", 0)));
        let text = render_to_string(&r, Verbosity::Normal);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "MAESTRO-SNAPSHOT-VERIFY CRITICAL: skew: lui and db 12m apart / really | skew=720s;;300 'rsync temp files'=0;;;0"
        );
        assert_eq!(
            lines.next().unwrap(),
            "[CRITICAL] skew: lui and db 12m apart / really"
        );
        assert_eq!(lines.next().unwrap(), "[OK] leftovers: none");
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn quiet_hides_ok_lines_and_no_perfdata_means_no_pipe() {
        let mut r = Report::new("t", None);
        r.push(Check::ok("a", "fine"));
        r.push(
            Check::new("b", Status::Warning, "two\nlines")
                .with_finding(Finding::new(Status::Warning, "x", "y").at("f:2")),
        );
        let text = render_to_string(&r, Verbosity::Quiet);
        assert_eq!(
            text,
            "T WARNING: b: two lines\n[WARNING] b: two lines\n  [WARNING] x at f:2: y\n"
        );
    }
}
