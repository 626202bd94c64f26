//! `maestro-smoketest`: send a test mailing and verify delivery, bounces and click-through tracking.
//!
//! Triggers a prepared test mailing, waits for it in a seed mailbox, follows
//! its click-through tracking links and sends a bounce for it, and says which
//! link of the chain broke.

pub mod bounce;
pub mod click;
pub mod config;
pub mod connect;
pub mod dns;
pub mod http;
pub mod mailbox;
pub mod message;
pub mod report_export;
mod run;
pub mod settings;

use clap::{CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::Report;
use settings::SmokeArgs;
use std::process::ExitCode;

/// Send a test mailing and verify delivery, bounces and click-through tracking.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-smoketest",
    version,
    about = "Send a test mailing and verify delivery, bounces and click-through tracking",
    long_about = "Triggers a prepared test mailing (Maestro's externalAction.do trigger URL), waits for it in a seed mailbox (IMAP or Maildir), requests its click-through tracking links without following the redirect, sends an RFC 3464 bounce for it to the bounce address of its Return-Path, optionally confirms through Maestro's report export that the click and the bounce were counted, and says which link of the chain broke.",
    after_help = cli::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which checks a run does. Every one of them needs the test message, so
/// each waits for it in the mailbox first (the `deliver` check), unless
/// `--message FILE` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    All,
    Deliver,
    Click,
    Bounce,
}

impl Steps {
    pub fn name(self) -> &'static str {
        match self {
            Steps::All => "all",
            Steps::Deliver => "deliver",
            Steps::Click => "click",
            Steps::Bounce => "bounce",
        }
    }
    pub fn click(self) -> bool {
        matches!(self, Steps::All | Steps::Click)
    }
    pub fn bounce(self) -> bool {
        matches!(self, Steps::All | Steps::Bounce)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trigger, wait for the message, click its tracker links, bounce it
    All(SmokeArgs),
    /// Trigger and wait for the test message in the seed mailbox
    Deliver(SmokeArgs),
    /// Get the test message, then request its tracker links and check the redirects
    Click(SmokeArgs),
    /// Get the test message, then send a DSN (5.1.1) to its bounce address
    Bounce(SmokeArgs),
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
        let (steps, args) = match self.command {
            Some(Command::All(a)) => (Steps::All, a),
            Some(Command::Deliver(a)) => (Steps::Deliver, a),
            Some(Command::Click(a)) => (Steps::Click, a),
            Some(Command::Bounce(a)) => (Steps::Bounce, a),
            Some(Command::Config(ConfigCommand::Check)) => {
                return cli::config_check_with(ctx, |loaded| {
                    vec![
                        match loaded.section::<config::SmoketestConfig>(config::SECTION.name) {
                            Ok(c) => run::config_check(&c),
                            Err(e) => maestro_common::Check::new(
                                "smoketest",
                                maestro_common::Status::Critical,
                                e.to_string(),
                            ),
                        },
                    ]
                })
            }
            None => {
                return Err(ToolError::Usage(
                    "say what to check: all, deliver, click or bounce (see --help)".into(),
                ))
            }
        };
        run::run(ctx, steps, &args)
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    cli::main::<Cli>()
}
