//! The three output formats every tool speaks.
//!
//! Renderers write to any `io::Write` and return its errors untouched, so
//! that the harness in [`crate::cli`] can tell a broken pipe (a reader that
//! went away: end quietly) from a real write error.

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

/// Write a finished report in the chosen format.
pub fn render(
    report: &Report,
    format: Format,
    opts: RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::render(report, opts, out),
        Format::Json => json::render(report, out),
        Format::Nagios => nagios::render(report, opts, out),
    }?;
    out.flush()
}
