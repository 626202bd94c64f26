//! `maestro-sync`: rsync replication that always leaves the failover a
//! complete, verified point in time.
//!
//! A run takes a point in time of Maestro's data on the sending server
//! ([`snapshot`]), captures its manifest ([`source`], with
//! maestro-snapshot-verify's capture), sends it with rsync over SSH into a
//! new generation on the receiving server, unchanged files hard-linked from
//! the current one ([`transfer`], [`run`]), and then the manifest; the
//! receiving side checks the generation against the manifest and only then
//! makes it final and `current` ([`receive`], [`generations`]). Every run
//! either ends in a new complete, verified generation or changes nothing
//! the failover would start from.

pub mod carried;
pub mod cli;
pub mod generations;
pub mod journal;
pub mod manifest_delta;
pub mod mounts;
pub mod proc;
pub mod protocol;
pub mod receive;
pub mod relay;
pub mod remote_report;
pub mod rsync_wrap;
pub mod run;
pub mod settings;
pub mod snapshot;
pub mod source;
pub mod stamp;
pub mod status;
pub mod transfer;
pub mod unchanged;

use clap::{CommandFactory, Parser};
pub use cli::{Cli, Command};
use maestro_common::cli::{self as harness, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::config::LoadedConfig;
use maestro_common::{Check, Report, Status};
use settings::Settings;
use std::process::ExitCode;

fn settings(ctx: &mut Context) -> Result<Settings, ToolError> {
    let loaded = ctx.config()?;
    Settings::resolve(loaded).map_err(|e| ToolError::Usage(e.to_string()))
}

/// `config check`'s own part: the resolution every run uses.
fn resolution_checks(loaded: &LoadedConfig) -> Vec<Check> {
    match Settings::resolve(loaded) {
        Err(e) => vec![Check::new("sync", Status::Critical, e.to_string())],
        Ok(s) => {
            let sending = match s.snapshot {
                Some(k) => format!("sends {} by a {} snapshot", s.source.display(), k.as_str()),
                None => format!(
                    "sends {} only with --no-snapshot (no [sync] snapshot)",
                    s.source.display()
                ),
            };
            let receiving = match &s.generations {
                Some(g) => format!("receives into {} (keeps {})", g.display(), s.keep),
                None => "receives nothing here (no [sync] generations)".to_string(),
            };
            vec![Check::ok(
                "sync",
                format!(
                    "{sending}; {receiving}; RPO warning {}, critical {}",
                    humantime::format_duration(s.rpo_warning),
                    humantime::format_duration(s.rpo_critical)
                ),
            )
            .detail("source", s.source.display().to_string())
            .detail("snapshot", s.snapshot.map(|k| k.as_str()))
            .detail(
                "generations",
                s.generations.as_ref().map(|g| g.display().to_string()),
            )]
        }
    }
}

impl Tool for Cli {
    const NAME: &'static str = "maestro-sync";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        let Some(command) = self.command else {
            return Err(ToolError::Usage(
                "a subcommand is required: push, pull, status, hold, release, receive, serve or config check (see --help)".into(),
            ));
        };
        match command {
            Command::Config(ConfigCommand::Check) => {
                harness::config_check_with(ctx, resolution_checks)
            }
            Command::Push(args) => {
                let s = settings(ctx)?;
                run::push(ctx, &s, args)
            }
            Command::Pull(args) => {
                let s = settings(ctx)?;
                run::pull(ctx, &s, args)
            }
            Command::Status(args) => {
                let s = settings(ctx)?;
                status::status(ctx, &s, args)
            }
            Command::Hold(args) => status::hold(&settings(ctx)?, args),
            Command::Release(args) => status::release(&settings(ctx)?, args),
            Command::Receive(args) => {
                let s = settings(ctx)?;
                receive::run(ctx, &s, args)
            }
            Command::Serve(args) => {
                let s = settings(ctx)?;
                source::run(ctx, &s, args)
            }
            // Dispatched in `main` before the harness: their stdout is rsync's.
            Command::RsyncWrap(_) | Command::Relay(_) => Err(ToolError::Usage(
                "rsync-wrap and relay are run through maestro_sync::main".into(),
            )),
        }
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // rsync-wrap and relay speak rsync's protocol on stdout: nothing of the
    // harness (a report, a usage error) may be written there.
    if args
        .iter()
        .skip(1)
        .any(|a| a == "rsync-wrap" || a == "relay")
    {
        match Cli::try_parse_from(&args) {
            Ok(Cli {
                command: Some(Command::RsyncWrap(w)),
                ..
            }) => return rsync_wrap::run(&w.usage, &w.command),
            Ok(Cli {
                command: Some(Command::Relay(r)),
                ..
            }) => return relay::run(&r.args),
            _ => {}
        }
    }
    harness::main::<Cli>()
}
