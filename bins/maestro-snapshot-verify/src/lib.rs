//! `maestro-snapshot-verify`: prove that the replica's application and database files come from one point in time.
//!
//! Captures manifests of Maestro's data folders and checks a replica against them and against itself: leftovers of an interrupted transfer, skew between components, InnoDB pages newer than the redo log, MyISAM tables copied while open.

pub mod capture;
pub mod check;
pub mod cli;
pub mod compare;
pub mod config;
pub mod datadir;
pub mod frm;
pub mod innodb;
pub mod intrinsic;
pub mod manifest;
pub mod myisam;
pub mod remote;
pub mod roots;
pub mod store;
pub mod time;
pub mod walk;

use clap::CommandFactory;
pub use cli::{Cli, Command};
use maestro_common::cli::{
    self as common_cli, ConfigCommand, Context, GlobalArgs, Tool, ToolError,
};
use maestro_common::Report;
use std::process::ExitCode;

pub const NAME: &str = "maestro-snapshot-verify";

impl Tool for Cli {
    const NAME: &'static str = NAME;

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => config_check(ctx),
            Some(Command::Capture(args)) => capture::run(ctx, args),
            Some(Command::Check(args)) => check::run(ctx, args),
            Some(Command::Diff(args)) => check::diff(args),
            None => Err(ToolError::Usage(
                "a subcommand is needed: capture, check, diff or config check (see --help)".into(),
            )),
        }
    }
}

/// `config check`: the shared checks, then the same resolution `capture`
/// and `check` run (the roots found and each a folder, the excludes), so
/// that it passes only where a run can start.
fn config_check(ctx: &mut Context) -> Result<Report, ToolError> {
    let mut report = common_cli::config_check(ctx)?;
    let check = match roots::plan(ctx, &cli::WalkArgs::default()) {
        Ok(plan) => {
            let listed = plan
                .roots
                .iter()
                .map(walk::Root::shown)
                .collect::<Vec<_>>()
                .join(", ");
            let missing: Vec<String> = plan
                .roots
                .iter()
                .filter(|r| !r.path.is_dir())
                .map(|r| r.path.display().to_string())
                .collect();
            if missing.is_empty() {
                maestro_common::Check::ok("verify", format!("{} roots: {listed}", plan.roots.len()))
            } else {
                // The configuration is sound; this server has no copy yet
                // (a failover before its first sync, a machine without
                // Maestro): a capture or check here would fail.
                maestro_common::Check::new(
                    "verify",
                    maestro_common::Status::Warning,
                    format!(
                        "roots not found on this server: {} (a capture or check here would fail); {} roots: {listed}",
                        missing.join(", "),
                        plan.roots.len()
                    ),
                )
            }
        }
        Err(e) => {
            maestro_common::Check::new("verify", maestro_common::Status::Critical, e.to_string())
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
