//! `maestro-watch`: outage detection that does not fail over on a blocked ping.
//!
//! Decides whether the primary is really down: probes it from this host and from witness servers, checks this host's own health, and confirms an outage only after it has lasted longer than the policy threshold.

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use std::process::ExitCode;

/// Outage detection that does not fail over on a blocked ping.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-watch",
    version,
    about = "Outage detection that does not fail over on a blocked ping",
    long_about = "Decides whether the primary is really down: probes it from this host and from witness servers, checks this host's own health, and confirms an outage only after it has lasted longer than the policy threshold.",
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
    const NAME: &'static str = "maestro-watch";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check(ctx),
            None => Err(ToolError::NotBuilt {
                what: "outage detection (once, run, probe)",
                issue: 7,
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
