//! `maestro-snapshot-verify`: prove that the replica's application and database files come from one point in time.
//!
//! Captures manifests of Maestro's data folders and checks a replica against them and against itself: leftovers of an interrupted transfer, skew between components, InnoDB pages newer than the redo log, MyISAM tables copied while open.

pub mod capture;
pub mod check;
pub mod cli;
pub mod compare;
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
            Some(Command::Config(ConfigCommand::Check)) => common_cli::config_check(ctx),
            Some(Command::Capture(args)) => capture::run(ctx, args),
            Some(Command::Check(args)) => check::run(ctx, args),
            Some(Command::Diff(args)) => check::diff(args),
            None => Err(ToolError::Usage(
                "a subcommand is needed: capture, check, diff or config check (see --help)".into(),
            )),
        }
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    common_cli::main::<Cli>()
}
