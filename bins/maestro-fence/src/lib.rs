//! `maestro-fence`: make sure the old primary can never run Maestro or push files again.
//!
//! Fences the old primary before Maestro starts on the failover server: stops its Maestro services and keeps them from starting, stops its file synchronization, proves both, and records a fencing epoch. Also the pre-start gate (`check`), the guard on the primary (`guard`), failback (`unfence`) and a fence-agents compatible agent mode for Pacemaker.

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use std::process::ExitCode;

/// Make sure the old primary can never run Maestro or push files again.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-fence",
    version,
    about = "Make sure the old primary can never run Maestro or push files again",
    long_about = "Fences the old primary before Maestro starts on the failover server: stops its Maestro services and keeps them from starting, stops its file synchronization, proves both, and records a fencing epoch. Also the pre-start gate (`check`), the guard on the primary (`guard`), failback (`unfence`) and a fence-agents compatible agent mode for Pacemaker.",
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
    const NAME: &'static str = "maestro-fence";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check(ctx),
            None => Err(ToolError::NotBuilt {
                what: "fencing the primary (fence, status, check, guard, unfence, agent)",
                issue: 5,
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
