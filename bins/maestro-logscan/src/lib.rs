//! `maestro-logscan`: find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs.
//!
//! Reads the LUI, HUB, Tracker and database logs of the day for recovery
//! errors after Maestro starts (missing, crashed or corrupt tables, lost
//! database connections, InnoDB crash recovery problems), for people and
//! for scripts.
//!
//! - [`timestamp`]: the timestamp formats, detected per file;
//! - [`record`]: bytes into lines into records, with a bounded buffer;
//! - [`rules`]: the built-in rule packs and rule files;
//! - [`level`]: the level a record was logged at;
//! - [`literals`]: the literals every match of a rule contains (the fast prefilter);
//! - [`collect`]: records into folded findings, markers;
//! - [`input`]: which files, which window;
//! - [`state`]: per-file offsets for `--incremental`;
//! - [`scan`]: the driver (one pass, follow, incremental) and the report.

pub mod cli;
pub mod collect;
pub mod config;
pub mod input;
pub mod level;
pub mod literals;
pub mod record;
pub mod rules;
pub mod scan;
pub mod state;
pub mod timestamp;

use clap::CommandFactory;
pub use cli::Cli;
use maestro_common::cli::{
    self as common_cli, ConfigCommand, Context, GlobalArgs, Tool, ToolError,
};
use maestro_common::Report;
use std::process::ExitCode;

impl Tool for Cli {
    const NAME: &'static str = "maestro-logscan";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(cli::Command::Config(ConfigCommand::Check)) => config_check(ctx),
            None => scan::run(self.scan, ctx),
        }
    }
}

/// `config check`: the shared checks, then the same resolution a scan
/// runs (rule files read and compiled, markers, limits), so that it passes
/// only for a configuration a scan can start with.
fn config_check(ctx: &mut Context) -> Result<Report, ToolError> {
    let mut report = common_cli::config_check(ctx)?;
    let check = match scan::Settings::resolve(&cli::ScanArgs::default(), ctx) {
        Ok(s) => maestro_common::Check::ok(
            "logscan",
            format!(
                "{} rules for the {} log; follow timeout {}",
                s.rules.rules.len(),
                s.component.as_str(),
                maestro_common::render::text::human_duration(s.timeout)
            ),
        ),
        Err(e) => {
            maestro_common::Check::new("logscan", maestro_common::Status::Critical, e.to_string())
        }
    };
    report.push(check);
    Ok(report)
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    common_cli::main::<Cli>()
}
