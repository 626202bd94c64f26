//! `maestro-fence`: make sure the old primary can never run Maestro or push files again.
//!
//! Fences the old primary before Maestro starts on the failover server:
//! stops its Maestro services and keeps them from starting, stops its file
//! synchronization, proves both, and records a fencing epoch. Also the
//! pre-start gate (`check`), the guard on the primary (`guard`), failback
//! (`unfence`) and a fence-agents compatible agent mode for Pacemaker.
//!
//! Modules: [`plan`] (what runs on the primary), [`remote`] (how answers
//! are judged), [`ssh_level`], [`agent_level`], [`isolate`] (the three
//! levels; `isolate`'s rules in [`firewall`] and, on Windows, [`winfw`],
//! its proof in [`probe`], the failover's services in [`local_service`]),
//! [`config`] (the `[fence]` section), [`journal`] (epochs, what each run
//! changed, and the lock), [`ops`] (the subcommands),
//! [`agent_mode`] and [`metadata`] (fence_maestro).

pub mod agent_level;
pub mod agent_mode;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod device;
pub mod firewall;
pub mod isolate;
pub mod journal;
pub mod level;
pub mod local_service;
pub mod marker;
pub mod metadata;
pub mod ops;
pub mod plan;
pub mod probe;
pub mod process;
pub mod remote;
pub mod report_build;
pub mod settings;
pub mod ssh_level;
pub mod winfw;

use crate::config::GuardUnreachable;
use clap::{CommandFactory, Parser};
pub use cli::{Cli, Command};
use maestro_common::cli::{self as harness, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::{Report, Status};
use settings::{Overrides, Settings};
use std::ffi::OsString;
use std::process::ExitCode;

/// The name Pacemaker knows the agent by.
pub const AGENT_NAME: &str = "fence_maestro";

fn settings(ctx: &mut Context, flags: Overrides) -> Result<Settings, ToolError> {
    let loaded = ctx.config()?;
    Settings::resolve(loaded, &flags).map_err(|e| ToolError::Usage(e.to_string()))
}

fn time_flags(t: &cli::TimeArgs) -> Overrides {
    Overrides {
        deadline: t.deadline.map(|d| d.0),
        command_timeout: t.command_timeout.map(|d| d.0),
        ..Overrides::default()
    }
}

/// `config check`'s own part: the very resolution a fence runs, so a
/// configuration passes only when a fence could run with it.
fn resolution_checks(loaded: &maestro_common::config::LoadedConfig) -> Vec<maestro_common::Check> {
    use maestro_common::Check;
    let check = match Settings::resolve(loaded, &Overrides::default()) {
        Ok(s) => {
            let levels: Vec<&str> = s.levels.iter().map(|l| l.as_str()).collect();
            Check::ok(
                "fence",
                format!(
                    "levels {}; deadline {}s, command timeout {}s{}",
                    levels.join(", "),
                    s.deadline.as_secs_f64(),
                    s.command_timeout.as_secs_f64(),
                    s.fence
                        .node_name
                        .as_deref()
                        .map(|n| format!("; node name {n}"))
                        .unwrap_or_default()
                ),
            )
            .detail("levels", serde_json::json!(levels))
        }
        Err(e) => Check::new("fence", Status::Critical, e.to_string()),
    };
    let mut checks = vec![check];
    // The isolate level's addresses, as a fence would vet them (name
    // lookup and this server's interfaces only): a configuration whose
    // every isolate would be refused does not pass.
    if let Ok(s) = Settings::resolve(loaded, &Overrides::default()) {
        if s.levels.contains(&config::FenceLevel::Isolate) {
            let lookup = s.command_timeout.min(std::time::Duration::from_secs(5));
            checks.push(match isolate::targets(&s, lookup) {
                isolate::Targets::Ready(a) => Check::ok(
                    "isolate",
                    format!(
                        "would block {}: none of them this server's",
                        a.iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                // Name lookup is the network's state, not the file's: a
                // name that does not resolve here and now is not a
                // configuration error (a fence resolves it again).
                isolate::Targets::Unresolved(e) => Check::ok(
                    "isolate",
                    format!("its addresses are not checked now: {e} (a fence resolves them again, and refuses this server's)"),
                ),
                isolate::Targets::Refused(e) => Check::new("isolate", Status::Critical, e),
            });
        }
    }
    checks
}

/// A run whose verdict is "not confirmed" always exits 2, whatever made
/// it fail (an unreachable host is UNKNOWN elsewhere, but for a fence it
/// is simply "not fenced").
fn not_fenced_is_critical(mut report: Report, fenced: bool) -> Report {
    if !fenced && report.status() != Status::Critical {
        if let Some(last) = report.checks.last_mut() {
            last.status = Status::Critical;
        }
    }
    report
}

impl Tool for Cli {
    const NAME: &'static str = "maestro-fence";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        let Some(command) = self.command else {
            return Err(ToolError::Usage(
                "a subcommand is required (see --help)".into(),
            ));
        };
        let mut warnings = Vec::new();
        let result = match command {
            Command::Config(ConfigCommand::Check) => {
                return harness::config_check_with(ctx, resolution_checks)
            }
            Command::Fence {
                levels,
                dry_run,
                time,
            } => {
                let s = settings(
                    ctx,
                    Overrides {
                        levels,
                        ..time_flags(&time)
                    },
                )?;
                let state_dir = ctx.state_dir()?;
                let mut warn = |w: String| warnings.push(w);
                let mut env = ops::Env {
                    settings: s,
                    state_dir,
                    warn: &mut warn,
                };
                ops::fence(&mut env, dry_run).map(|(r, fenced)| {
                    if dry_run {
                        r
                    } else {
                        not_fenced_is_critical(r, fenced)
                    }
                })
            }
            Command::Status { levels, time } => {
                let s = settings(
                    ctx,
                    Overrides {
                        levels,
                        ..time_flags(&time)
                    },
                )?;
                let state_dir = ctx.state_dir()?;
                let mut warn = |w: String| warnings.push(w);
                let mut env = ops::Env {
                    settings: s,
                    state_dir,
                    warn: &mut warn,
                };
                Ok(ops::status(&mut env).0)
            }
            Command::Check { time } => {
                let s = settings(ctx, time_flags(&time))?;
                let state_dir = ctx.state_dir()?;
                let mut warn = |w: String| warnings.push(w);
                let mut env = ops::Env {
                    settings: s,
                    state_dir,
                    warn: &mut warn,
                };
                ops::check(&mut env)
            }
            Command::Guard { unreachable, time } => {
                let mut flags = time_flags(&time);
                flags.guard_unreachable = unreachable.map(|u| match u {
                    cli::UnreachableChoice::Refuse => GuardUnreachable::Refuse,
                    cli::UnreachableChoice::Allow => GuardUnreachable::Allow,
                });
                let s = settings(ctx, flags)?;
                Ok(ops::guard(&s))
            }
            Command::Unfence {
                resume_sync,
                dry_run,
                time,
            } => {
                let s = settings(ctx, time_flags(&time))?;
                let state_dir = ctx.state_dir()?;
                let mut warn = |w: String| warnings.push(w);
                let mut env = ops::Env {
                    settings: s,
                    state_dir,
                    warn: &mut warn,
                };
                ops::unfence(&mut env, resume_sync, dry_run).map(|(r, _)| r)
            }
            Command::Epoch => ops::epoch(&ctx.state_dir()?),
            Command::History { limit } => ops::history(&ctx.state_dir()?, limit),
            // Dispatched in `main` before the harness; reaching here means
            // the library was driven another way.
            Command::Agent { .. } => Err(ToolError::Usage(
                "`agent` is run through maestro_fence::main".into(),
            )),
        };
        for w in warnings {
            ctx.warn(w);
        }
        result
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Whether argv[0] names the fence agent.
fn invoked_as_agent(argv0: &OsString) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == AGENT_NAME)
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let agent_args: Option<Vec<String>> = if args.first().is_some_and(invoked_as_agent) {
        Some(
            args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        )
    } else {
        match Cli::try_parse_from(&args) {
            Ok(Cli {
                command: Some(Command::Agent { args }),
                ..
            }) => Some(args),
            _ => None,
        }
    };
    if let Some(agent_args) = agent_args {
        let mut stdin = std::io::stdin().lock();
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        let code = agent_mode::run(&agent_args, &mut stdin, &mut stdout, &mut stderr);
        return ExitCode::from(code);
    }
    harness::main::<Cli>()
}
