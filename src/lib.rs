//! What the maestro-ha binaries share beyond `maestro-common`: the list of
//! every tool's configuration section.
//!
//! Each tool owns the type of its own section (`[fence]`, `[verify]`, ...)
//! beside the code that resolves it. The binaries register all of them
//! before anything reads the configuration, so that any tool's `config
//! check`, and every run, names a typo in any section, not only in its own.

use maestro_common::config::{register_sections, Section};
use std::process::ExitCode;

/// Every tool's section.
pub static SECTIONS: &[Section] = &[
    maestro_fence::config::SECTION,
    maestro_snapshot_verify::config::SECTION,
    maestro_logscan::config::SECTION,
    maestro_smoketest::config::SECTION,
    maestro_watch::config::SECTION,
    maestro_redirect::config::SECTION,
];

/// A binary's `main`: register the sections, then run the tool.
pub fn run(tool_main: fn() -> ExitCode) -> ExitCode {
    register_sections(SECTIONS);
    tool_main()
}
