//! `maestro-smoketest`: send a test mailing and verify delivery, bounces and click-through tracking.
//!
//! Triggers a prepared test mailing, waits for it in a seed mailbox, follows its click-through tracking links and sends a bounce for it, and says which link of the chain broke.

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use std::process::ExitCode;

/// Send a test mailing and verify delivery, bounces and click-through tracking.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-smoketest",
    version,
    about = "Send a test mailing and verify delivery, bounces and click-through tracking",
    long_about = "Triggers a prepared test mailing, waits for it in a seed mailbox, follows its click-through tracking links and sends a bounce for it, and says which link of the chain broke.",
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
    const NAME: &'static str = "maestro-smoketest";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check(ctx),
            None => Err(ToolError::NotBuilt {
                what: "the test mailing checks (all, deliver, click, bounce)",
                issue: 6,
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
