//! The agent's entry point: the action from the first argument, the rest
//! from the environment, the exit code and the closing log line.

use crate::ocf::{self, Env, Log, OcfStatus};
use crate::{actions, metadata};

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The agent's file name under `/usr/lib/ocf/resource.d/maestro-ha/`.
pub const AGENT_FILE_NAME: &str = "maestro";

const USAGE: &str = "usage: maestro {start|stop|monitor|validate-all|meta-data}

The OCF resource agent ocf:maestro-ha:maestro: LISTSERV Maestro, started
through maestro-ha's gates. Its parameters come as OCF_RESKEY_* variables
(see meta-data); Pacemaker runs it, and ocf-tester tests it.";

/// Whether this process was started as the agent (its file name is `maestro`).
pub fn invoked_as_agent() -> bool {
    std::env::args_os()
        .next()
        .is_some_and(|a| Path::new(&a).file_name() == Some(OsStr::new(AGENT_FILE_NAME)))
}

/// The agent's entry point: the action is the first argument, everything
/// else comes from the environment.
pub fn main() -> ExitCode {
    let action = std::env::args().nth(1).unwrap_or_default();
    ExitCode::from(run(&action, &Env::from_process()).code())
}

pub fn run(action: &str, env: &Env) -> OcfStatus {
    match action {
        "meta-data" => {
            // A closed stdout is not this agent's failure.
            let _ = std::io::stdout().write_all(metadata::xml().as_bytes());
            return OcfStatus::Success;
        }
        "usage" | "help" | "-h" | "--help" => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return OcfStatus::Success;
        }
        "start" | "stop" | "monitor" | "status" | "validate-all" => {}
        // Promotable clones, notifications, migration, reload: not this
        // resource's (the API's answer for an action an agent lacks).
        "" => {
            eprintln!("{USAGE}");
            return OcfStatus::ErrArgs;
        }
        _ => {
            eprintln!("{USAGE}");
            return OcfStatus::ErrUnimplemented;
        }
    }
    let log = Log::new(env);
    let started = Instant::now();
    let result = match action {
        "start" => actions::start(env, &log).map(|()| OcfStatus::Success),
        "stop" => actions::stop(env, &log).map(|()| OcfStatus::Success),
        "validate-all" => actions::validate(env, &log).map(|()| OcfStatus::Success),
        _ => actions::monitor(env, &log),
    };
    let status = match result {
        Ok(s) => s,
        Err(f) => {
            log.exit_reason(env, &f.reason);
            f.status
        }
    };
    let level = match (action, status) {
        (_, OcfStatus::Success) | ("monitor" | "status", OcfStatus::NotRunning) => ocf::Level::Info,
        _ => ocf::Level::Err,
    };
    // Recurring monitors that pass say nothing: they run every few seconds.
    if action != "monitor" || status != OcfStatus::Success || env.is_probe() {
        log.log(
            level,
            &format!(
                "{action}: {} in {:.1}s",
                status.name(),
                started.elapsed().as_secs_f64()
            ),
        );
    }
    status
}
