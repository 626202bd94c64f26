//! `maestro-snapshot-verify`: prove that the replica's application and database files come from one point in time.
//!
//! Captures manifests of Maestro's data folders and checks a replica against them and against itself: leftovers of an interrupted transfer, skew between components, InnoDB pages newer than the redo log, MyISAM tables copied while open.

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use std::process::ExitCode;

/// Prove that the replica's application and database files come from one point in time.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-snapshot-verify",
    version,
    about = "Prove that the replica's application and database files come from one point in time",
    long_about = "Captures manifests of Maestro's data folders and checks a replica against them and against itself: leftovers of an interrupted transfer, skew between components, InnoDB pages newer than the redo log, MyISAM tables copied while open.",
    after_help = cli::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

impl Tool for Cli {
    const NAME: &'static str = "maestro-snapshot-verify";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check(ctx),
            None => Err(ToolError::NotBuilt {
                what: "snapshot capture and verification (capture, check, diff)",
                issue: 4,
            }),
        }
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    cli::main::<Cli>()
}
