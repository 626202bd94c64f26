//! The three output formats every tool speaks.
//!
//! Renderers write to any `io::Write` and return its errors untouched, so
//! that the harness in [`crate::cli`] can tell a broken pipe (a reader that
//! went away: end quietly) from a real write error.
//!
//! [`render`] masks the report's secrets value by value before any format
//! sees it ([`crate::safe_output::mask_report`]): every caller, the harness
//! or a tool rendering a report itself, gets the same masking.

pub mod json;
pub mod nagios;
pub mod text;

use crate::report::Report;
use std::io::{self, Write};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line a finding, for a person at a terminal.
    #[default]
    Text,
    /// JSON Lines: one object a record, each with a "type", a "summary" last.
    Json,
    /// A monitoring plugin's output: status line with perfdata, then long output.
    Nagios,
}

/// How much to say: `-q`, nothing, `-v`, `-vv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Verbosity {
    Quiet,
    #[default]
    Normal,
    Verbose,
    Debug,
}

impl Verbosity {
    pub fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colour in text output; the harness turns it on only for a tty.
    pub color: bool,
    pub verbosity: Verbosity,
}

/// Write a finished report in the chosen format, its secrets masked.
pub fn render(
    report: &Report,
    format: Format,
    opts: RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let report = &crate::safe_output::mask_report(report);
    match format {
        Format::Text => text::render(report, opts, out),
        Format::Json => json::render(report, out),
        Format::Nagios => nagios::render(report, opts, out),
    }?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Finding};
    use crate::safe_output::register_secret;
    use crate::status::Status;

    fn rendered(r: &Report, format: Format) -> String {
        let mut buf = Vec::new();
        render(
            r,
            format,
            RenderOptions {
                color: false,
                verbosity: Verbosity::Verbose,
            },
            &mut buf,
        )
        .unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// Masking comes before escaping: a secret with characters a format
    /// rewrites (`|` in nagios, `\` and `"` in JSON) is masked whole, and
    /// a secret that looks like a piece of JSON never touches its structure.
    #[test]
    fn secrets_are_masked_before_any_format_rewrites_them() {
        register_secret("pa|ss-word9");
        register_secret("pa\\ss\"wd9");
        register_secret("null");
        register_secret("12345678");
        let mut r = Report::new("maestro-test", Some("deliver"));
        r.push(
            Check::new(
                "deliver",
                Status::Unknown,
                "IMAP NO: LOGIN \"seed\" \"pa|ss-word9\" refused; then \"pa\\ss\"wd9\"",
            )
            .detail("echo", "pa|ss-word9")
            .with_finding(Finding::new(Status::Unknown, "echo", "x").at("pa\\ss\"wd9")),
        );
        r.push(Check::ok("count", "12345678 null"));
        for format in [Format::Text, Format::Json, Format::Nagios] {
            let out = rendered(&r, format);
            for shown in ["pa|ss", "pa/ss", "ss-word9", "wd9", "12345678"] {
                assert!(!out.contains(shown), "{format:?} shows {shown:?}:\n{out}");
            }
            if format == Format::Json {
                for line in out.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                    if v["type"] == "check" {
                        assert!(v["elapsed_ms"].is_null(), "{line}");
                    }
                }
            }
        }
    }
}
