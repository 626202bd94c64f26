//! The `command` method: the admin's own commands for what this tool
//! cannot know (a NAT rule, a load balancer, a cloud provider's API), run
//! through `sh -c` with a bound, killed with their process group at it.
//! Exit codes as maestro-fence's commands read them: the move or undo
//! command exits 0 when done; the verify command exits 0 when traffic
//! arrives here, 1 when it does not, anything else means "cannot tell".
//! `undo` is verified by its own command, `undo_verify_command`, which
//! exits 0 when traffic arrives at the primary again: a verify command
//! that merely fails (exit 1 from a broken pipe, a script that dies) is
//! no proof that traffic left, so `undo` runs nothing without it.

use crate::{human, Direction, Env};
use maestro_common::{Check, Finding, Status};
use maestro_fence::process::{self, LocalOutput, RunError};
use std::time::Duration;

const NAME: &str = "command";

fn sh(command: &str, timeout: Duration, vars: &[(&str, &str)]) -> Result<LocalOutput, RunError> {
    // Variables reach the command through `env`, so the command text stays as written.
    let mut args: Vec<String> = Vec::new();
    let program = if vars.is_empty() {
        args.extend(["-c".to_string(), command.to_string()]);
        "sh"
    } else {
        for (k, v) in vars {
            args.push(format!("{k}={v}"));
        }
        args.extend(["sh".into(), "-c".into(), command.to_string()]);
        "env"
    };
    process::run(program, &args, b"", timeout)
}

fn brief(out: &LocalOutput) -> String {
    let text = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    let first: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let code = out.code.map_or("was killed by a signal".to_string(), |c| {
        format!("exited {c}")
    });
    if first.is_empty() {
        code
    } else {
        format!("{code}: {first}")
    }
}

/// Runs a helper command (the DNS method's NOTIFY) and says how it went.
pub fn run_shell(command: &str, timeout: Duration, vars: &[(&str, &str)]) -> String {
    match sh(command, timeout, vars) {
        Ok(out) => brief(&out),
        Err(e) => e.to_string(),
    }
}

pub fn run(env: &Env, direction: Direction) -> Check {
    let Some(cs) = env.settings.command.as_ref() else {
        return Check::new(
            NAME,
            Status::Unknown,
            "the command method is not configured",
        );
    };
    let (action, key) = match direction {
        Direction::Move => (cs.move_command.as_deref(), "move_command"),
        Direction::Undo => (cs.undo_command.as_deref(), "undo_command"),
    };
    let Some(action) = action else {
        return Check::new(
            NAME,
            Status::Unknown,
            format!("[redirect] {key} is not set"),
        );
    };
    let (verify, verify_key) = match direction {
        Direction::Move => (Some(cs.verify_command.as_str()), "verify_command"),
        Direction::Undo => (cs.undo_verify_command.as_deref(), "undo_verify_command"),
    };
    let Some(verify) = verify else {
        return Check::new(
            NAME,
            Status::Unknown,
            "not undone: [redirect] undo_verify_command is not set (a command that exits 0 when traffic arrives at the primary): without it the undo could not be verified, so nothing was run",
        );
    };
    let timeout = cs.timeout.min(env.left());
    if env.dry_run {
        return Check::ok(
            NAME,
            format!(
                "dry run: would run locally: sh -c {action:?} (bounded {}), then sh -c {verify:?}, which must exit 0",
                human(timeout),
            ),
        )
        .detail("dry_run", true);
    }
    let mut c = Check::ok(NAME, "");
    match sh(action, timeout, &[]) {
        Err(e) => {
            return Check::new(
                NAME,
                Status::Critical,
                format!("not {}: {key}: {e}", done_word(direction)),
            )
        }
        Ok(out) if !out.success() => {
            return Check::new(
                NAME,
                Status::Critical,
                format!("not {}: {key} {}", done_word(direction), brief(&out)),
            )
            .detail("command", action.to_string())
        }
        Ok(out) => {
            c = c
                .detail(key, action.to_string())
                .detail(format!("{key}_took_ms"), out.elapsed.as_millis() as u64);
        }
    }
    let timeout = cs.timeout.min(env.left());
    match sh(verify, timeout, &[("MAESTRO_REDIRECT", direction.as_str())]) {
        Err(e) => {
            c.status = Status::Critical;
            c.message = format!("{key} ran, but {verify_key} failed: {e}: not verified");
        }
        Ok(out) => {
            c = c.detail(verify_key, verify.to_string());
            let what = match direction {
                Direction::Move => "traffic arrives here",
                Direction::Undo => "traffic arrives at the primary",
            };
            let verdict = match out.code {
                Some(0) => Ok(()),
                Some(1) => Err(Status::Critical),
                _ => Err(Status::Unknown),
            };
            match verdict {
                Ok(()) => {
                    c.message = format!("{key} ran; {verify_key} says {what} ({})", brief(&out));
                }
                Err(status) => {
                    c.status = status;
                    c.message = format!(
                        "{key} ran, but {verify_key} {} (wanted exit 0: {what}): not {}",
                        brief(&out),
                        done_word(direction)
                    );
                    c.add_finding(
                        Finding::new(status, "command-not-verified", c.message.clone()).at("local"),
                    );
                }
            }
        }
    }
    c
}

fn done_word(d: Direction) -> &'static str {
    match d {
        Direction::Move => "redirected",
        Direction::Undo => "undone",
    }
}
