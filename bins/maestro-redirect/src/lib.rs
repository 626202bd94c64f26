//! `maestro-redirect`: the failover's step 2. Moves Maestro's service
//! address or DNS names to this server, proves that traffic arrives here,
//! and finds what still points at the old primary.
//!
//! Modules: [`settings`] (the `[redirect]` section and the flags), the
//! methods [`ip`] (floating address: [`neighbour`] announces it,
//! [`token`] and [`witness`] prove where connections land), [`dns`]
//! (RFC 2136 update signed with TSIG: [`tsig`], [`dns_wire`]) and
//! [`command`]; [`check`] (INI values: [`ini_scan`]; names; the SMTP relay:
//! [`smtp`]; ports), [`fenced`] (the fence journal), [`net`].

pub mod check;
pub mod cli;
pub mod command;
pub mod config;
pub mod dns;
pub mod dns_wire;
pub mod fenced;
pub mod ini_scan;
pub mod ip;
pub mod journal;
pub mod neighbour;
pub mod net;
pub mod settings;
pub mod smtp;
pub mod token;
pub mod tsig;
pub mod witness;

use crate::config::RedirectMethod;
use clap::CommandFactory;
pub use cli::{Cli, Command};
use maestro_common::cli::{self as harness, ConfigCommand, Context, GlobalArgs, Tool, ToolError};
use maestro_common::{Check, Report, Status};
use settings::{Overrides, Settings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The tool's name, as reports carry it.
pub const TOOL: &str = "maestro-redirect";

/// Which way a run moves the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To this server (the failover).
    Move,
    /// Back to the old primary (the failback).
    Undo,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Move => "move",
            Direction::Undo => "undo",
        }
    }
}

/// What every step of a run shares: the settings, the run's deadline and
/// the state folder (the fence journal).
pub struct Env {
    pub settings: Settings,
    pub deadline: Instant,
    pub dry_run: bool,
    pub state_dir: Option<PathBuf>,
}

impl Env {
    pub fn new(settings: Settings, dry_run: bool, state_dir: Option<PathBuf>) -> Env {
        Env {
            deadline: Instant::now() + settings.deadline,
            settings,
            dry_run,
            state_dir,
        }
    }

    /// What is left of the run.
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// One network step's bound: the step timeout, or what is left of the
    /// run (at least 50ms: a step cut to nothing could only fail oddly).
    pub fn step(&self) -> Duration {
        self.settings
            .step_timeout
            .min(self.left())
            .max(Duration::from_millis(50))
    }

    pub fn expired(&self) -> bool {
        self.left().is_zero()
    }
}

/// A duration for people: `350ms`, `2.5s`, `3m10s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

fn resolve(ctx: &mut Context, flags: &Overrides) -> Result<Settings, ToolError> {
    let loaded = ctx.config()?.clone();
    let mut warnings = Vec::new();
    let s = Settings::resolve(&loaded, flags, &mut |w| warnings.push(w)).map_err(|e| match e {
        settings::SettingsError::Config(c) => ToolError::Config(c),
        other => ToolError::Usage(other.to_string()),
    });
    for w in warnings {
        ctx.warn(w);
    }
    s
}

/// `move` or `undo`: each method in order, each verified. A method that
/// does not hold does not stop the next one (the report names every
/// method's state), but the run is then CRITICAL.
fn move_or_undo(
    ctx: &mut Context,
    args: cli::MoveArgs,
    direction: Direction,
) -> Result<Report, ToolError> {
    let flags = Overrides {
        methods: args.methods,
        deadline: args.deadline.map(|d| d.0),
        ..Overrides::default()
    };
    let settings = resolve(ctx, &flags)?;
    settings
        .require_methods()
        .map_err(|e| ToolError::Usage(e.to_string()))?;
    let state_dir = ctx.state_dir().ok();
    let env = Env::new(settings, args.dry_run, state_dir);
    let mut report = Report::new(Cli::NAME, Some(direction.as_str()));
    for method in env.settings.methods.clone() {
        if signal_stop() {
            return Err(ToolError::Interrupted);
        }
        let check = if env.expired() {
            Check::new(
                method.as_str(),
                Status::Critical,
                format!(
                    "not run: the run's deadline ({}) passed",
                    human(env.settings.deadline)
                ),
            )
        } else {
            match method {
                RedirectMethod::Ip => ip::run(&env, direction),
                RedirectMethod::Dns => dns::run(&env, direction),
                RedirectMethod::Command => command::run(&env, direction),
            }
        };
        // A plan is never to be read as a verified result.
        let check = if args.dry_run {
            check.detail("dry_run", true)
        } else {
            check
        };
        report.push(check);
    }
    if args.dry_run {
        report.summary = Some(format!(
            "dry run: {} {} planned, nothing changed",
            report.checks.len(),
            if report.checks.len() == 1 {
                "method"
            } else {
                "methods"
            }
        ));
    }
    Ok(report)
}

fn signal_stop() -> bool {
    maestro_common::signal::interrupted()
}

/// `config check`: the shared checks and this tool's own resolution.
fn config_check(ctx: &mut Context) -> Result<Report, ToolError> {
    harness::config_check_with(ctx, |loaded| {
        let mut warnings = Vec::new();
        let mut checks = Vec::new();
        match Settings::resolve(loaded, &Overrides::default(), &mut |w| warnings.push(w)) {
            Err(e) => checks.push(Check::new("redirect", Status::Critical, e.to_string())),
            Ok(s) => {
                let methods: Vec<&str> = s.methods.iter().map(|m| m.as_str()).collect();
                let mut c = Check::ok(
                    "redirect",
                    if methods.is_empty() {
                        "no method configured: `check` only".to_string()
                    } else {
                        format!("methods {}", methods.join(", "))
                    },
                )
                .detail("methods", methods.clone())
                .detail("old_server", s.old.entries.clone())
                .detail("old_server_from", s.old.source.clone())
                .detail("witnesses", s.witnesses.len())
                .detail("witnesses_from", s.witnesses_from);
                if let Some(ip) = &s.ip {
                    c = c.detail(
                        "floating_address",
                        format!("{}/{} on {}", ip.address, ip.prefix, ip.interface),
                    );
                }
                if let Some(d) = &s.dns {
                    c = c
                        .detail("dns_zone", d.zone.clone())
                        .detail("dns_server", format!("{}:{}", d.server_host, d.server_port))
                        .detail("dns_key", format!("{} ({})", d.key.name, d.key.algorithm));
                }
                if let Some(w) = warnings.first() {
                    c.status = Status::Warning;
                    c.message = w.clone();
                }
                checks.push(c);
            }
        }
        checks
    })
}

impl Tool for Cli {
    const NAME: &'static str = TOOL;

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, ctx: &mut Context) -> Result<Report, ToolError> {
        match self.command {
            None => Err(ToolError::Usage(
                "say what to do: move, undo or check (see --help)".into(),
            )),
            Some(Command::Config(ConfigCommand::Check)) => config_check(ctx),
            Some(Command::Move { args }) => move_or_undo(ctx, args, Direction::Move),
            Some(Command::Undo { args }) => move_or_undo(ctx, args, Direction::Undo),
            Some(Command::Check {
                old_addresses,
                deadline,
            }) => {
                let flags = Overrides {
                    old_addresses,
                    deadline: deadline.map(|d| d.0),
                    ..Overrides::default()
                };
                let settings = resolve(ctx, &flags)?;
                let env = Env::new(settings, false, ctx.state_dir().ok());
                Ok(check::run(&env))
            }
        }
    }
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    harness::main::<Cli>()
}
