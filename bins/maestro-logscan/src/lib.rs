//! `maestro-logscan`: find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs.
//!
//! Reads the LUI, HUB, Tracker and database logs of the day for recovery errors after Maestro starts (missing, crashed or corrupt tables, lost database connections, InnoDB crash recovery problems), for people and for scripts.

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use std::process::ExitCode;

/// Find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-logscan",
    version,
    about = "Find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs",
    long_about = "Reads the LUI, HUB, Tracker and database logs of the day for recovery errors after Maestro starts (missing, crashed or corrupt tables, lost database connections, InnoDB crash recovery problems), for people and for scripts.",
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
    const NAME: &'static str = "maestro-logscan";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check(ctx),
            None => Err(ToolError::NotBuilt {
                what: "log scanning",
                issue: 3,
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
