//! `maestro-watch`: outage detection that does not fail over on a blocked ping.
//!
//! Decides whether the primary is really down: probes it from this host
//! and from witness servers, checks this host's own health, and confirms
//! an outage only after it has lasted longer than the policy threshold.

pub mod config;
pub mod decision;
pub mod evaluate;
pub mod probe;
pub mod records;
mod runner;
pub mod settings;
pub mod timer;
pub mod witness;

use clap::{Args, CommandFactory, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::duration::parse_duration;
use maestro_common::Report;
use settings::{DecideArgs, ProbeArgs};
use std::process::ExitCode;
use std::time::Duration;

/// Outage detection that does not fail over on a blocked ping.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-watch",
    version,
    about = "Outage detection that does not fail over on a blocked ping",
    long_about = "Decides whether the primary is really down: probes it from this host and from witness servers, checks this host's own health, and confirms an outage only after it has lasted longer than the policy threshold. The primary is DOWN only when every probe fails from here AND from a majority of the witnesses (none of which may still see it) AND this host can prove it is connected, continuously for the threshold.",
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
    /// Evaluate now: 0 up, 1 suspect/below threshold/partition, 2 down confirmed, 3 cannot decide
    Once {
        #[command(flatten)]
        probes: ProbeArgs,
        #[command(flatten)]
        decide: DecideArgs,
    },
    /// Evaluate every interval, print an event on each state change, run --exec once when DOWN is confirmed
    Run {
        #[command(flatten)]
        probes: ProbeArgs,
        #[command(flatten)]
        decide: DecideArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run the probes only and report each (what a witness runs)
    Probe {
        #[command(flatten)]
        probes: ProbeArgs,
    },
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Command run once through `sh -c` when DOWN is confirmed [default: [watch] exec]
    #[arg(long, value_name = "COMMAND")]
    pub exec: Option<String>,

    /// Bound on the --exec command; it is killed after [default: 30m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub exec_timeout: Option<Duration>,

    /// Stop after this long and report the last state (default: run until interrupted)
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
}

impl Tool for Cli {
    const NAME: &'static str = "maestro-watch";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            Some(Command::Once { probes, decide }) => runner::once(ctx, &probes, &decide),
            Some(Command::Run {
                probes,
                decide,
                run,
            }) => runner::run(ctx, &probes, &decide, &run),
            Some(Command::Probe { probes }) => runner::probe(ctx, &probes),
            Some(Command::Config(ConfigCommand::Check)) => cli::config_check_with(ctx, |loaded| {
                vec![match config::Sources::from_loaded(loaded) {
                    Ok(sources) => runner::config_check(&sources),
                    Err(e) => maestro_common::Check::new(
                        "watch",
                        maestro_common::Status::Critical,
                        e.to_string(),
                    ),
                }]
            }),
            None => Err(ToolError::Usage(
                "say what to do: once, run or probe (see --help)".into(),
            )),
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
