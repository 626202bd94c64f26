//! Text for a person at a terminal: one line a check or finding, a closing
//! summary line. Colour only where the harness says stdout is a tty.

use super::nagios::value_text;
use super::{RenderOptions, Verbosity};
use crate::report::Report;
use crate::safe_output::escape_controls as esc;
use crate::status::Status;
use std::io::{self, Write};
use std::time::Duration;

fn paint(status: Status, color: bool) -> String {
    let word = format!("{:<8}", status.as_str());
    if !color {
        return word;
    }
    let code = match status {
        Status::Ok => "32",
        Status::Warning => "33",
        Status::Critical => "1;31",
        Status::Unknown => "35",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// A duration the way people read it: `850ms`, `2.4s`, `3m05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

pub fn render(r: &Report, opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let quiet = opts.verbosity == Verbosity::Quiet;
    let verbose = opts.verbosity >= Verbosity::Verbose;
    for c in &r.checks {
        if quiet && c.status == Status::Ok {
            continue;
        }
        let time = match (verbose, c.elapsed) {
            (true, Some(d)) => format!(" ({})", human_duration(d)),
            _ => String::new(),
        };
        writeln!(
            out,
            "{} {}: {}{}",
            paint(c.status, opts.color),
            esc(&c.name),
            esc(&c.message),
            time
        )?;
        if verbose {
            for (k, v) in &c.details {
                writeln!(out, "{:9}   {}: {}", "", esc(k), esc(&value_text(v)))?;
            }
            for p in &c.perfdata {
                writeln!(out, "{:9}   perf {}", "", esc(&p.to_string()))?;
            }
        }
        for f in &c.findings {
            if quiet && f.status == Status::Ok {
                continue;
            }
            let at = f
                .location
                .as_deref()
                .map(|l| format!("{}: ", esc(l)))
                .unwrap_or_default();
            writeln!(
                out,
                "  {} [{}] {at}{}",
                paint(f.status, opts.color),
                esc(&f.id),
                esc(&f.message)
            )?;
            if verbose {
                for (k, v) in &f.details {
                    writeln!(out, "{:11}   {}: {}", "", esc(k), esc(&value_text(v)))?;
                }
            }
        }
    }
    let status = r.status();
    let n = r.check_counts();
    let mut parts = Vec::new();
    for (count, word) in [
        (n.critical, "critical"),
        (n.unknown, "unknown"),
        (n.warning, "warning"),
        (n.ok, "ok"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {word}"));
        }
    }
    let counts = if parts.is_empty() {
        "no checks".to_string()
    } else {
        parts.join(", ")
    };
    writeln!(
        out,
        "{}: {} ({counts}; {})",
        r.tool,
        paint(status, opts.color).trim_end(),
        human_duration(r.elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Finding};

    fn render_to_string(r: &Report, opts: RenderOptions) -> String {
        let mut buf = Vec::new();
        render(r, opts, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn sample() -> Report {
        let mut r = Report::new("maestro-logscan", None);
        r.push(Check::ok("open", "LUI-20261126.LOG").detail("bytes", 1234));
        r.push(
            Check::ok("scan", "2 findings").with_finding(
                Finding::new(Status::Critical, "innodb-lsn-future", "LSN in the future")
                    .at("LUI.LOG:7"),
            ),
        );
        r
    }

    #[test]
    fn plain_text_has_no_escape_codes() {
        let text = render_to_string(&sample(), RenderOptions::default());
        assert!(!text.contains('\x1b'));
        assert!(text.contains("OK       open: LUI-20261126.LOG\n"));
        assert!(text.contains("  CRITICAL [innodb-lsn-future] LUI.LOG:7: LSN in the future\n"));
        assert!(text.ends_with("maestro-logscan: CRITICAL (1 critical, 1 ok; 0ms)\n"));
    }

    #[test]
    fn a_name_with_a_newline_cannot_forge_a_line() {
        let mut r = Report::new("maestro-snapshot-verify", None);
        r.push(
            Check::new("compare", Status::Critical, "1 file differs").with_finding(
                Finding::new(Status::Critical, "missing", "missing on the replica")
                    .at("lui/new\nOK       forged: line\x1b[2J"),
            ),
        );
        let text = render_to_string(&r, RenderOptions::default());
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains('\x1b'));
        assert!(text.contains("lui/new\\nOK       forged: line\\x1b[2J: missing"));
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render_to_string(
            &sample(),
            RenderOptions {
                color: true,
                verbosity: Verbosity::Normal,
            },
        );
        assert!(text.contains("\x1b[1;31mCRITICAL\x1b[0m"));
    }

    #[test]
    fn quiet_drops_ok_and_verbose_adds_details() {
        let quiet = render_to_string(
            &sample(),
            RenderOptions {
                color: false,
                verbosity: Verbosity::Quiet,
            },
        );
        assert!(!quiet.contains("open:"));
        let verbose = render_to_string(
            &sample(),
            RenderOptions {
                color: false,
                verbosity: Verbosity::Verbose,
            },
        );
        assert!(verbose.contains("bytes: 1234"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_millis(2400)), "2.4s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3m05s");
    }
}
