//! The `ssh` level: runs a plan on the primary over the common SSH client
//! and judges the re-query. Any error, timeout or unexpected answer means
//! "not confirmed"; only every probe holding means "confirmed".

use crate::deadline::Deadline;
use crate::level::{LevelOutcome, Verdict};
use crate::plan::SshPlan;
use crate::remote::{bounded, brief, Answer, Probe};
use crate::settings::Settings;
use maestro_common::config::FenceLevel;
use maestro_common::ssh::{SshClient, SshError};
use std::time::Instant;

/// Connects within the deadline; records the attempt.
pub fn connect(s: &Settings, deadline: &Deadline, out: &mut LevelOutcome) -> Option<SshClient> {
    let target = s.primary_target();
    let Some(timeout) = deadline.cap(s.primary.connect_timeout()) else {
        out.verdict = Verdict::NotConfirmed("the run's deadline passed before connecting".into());
        return None;
    };
    let mut opts = s.primary.ssh_options(false);
    opts.connect_timeout = timeout;
    let started = Instant::now();
    match SshClient::connect(&opts) {
        Ok(client) => {
            out.record(
                "connect",
                &target,
                "ssh connect",
                "ran",
                format!("host key {}", client.host_key_fingerprint()),
                started.elapsed(),
            );
            Some(client)
        }
        Err(e) => {
            let outcome = if e.is_timeout() { "timeout" } else { "error" };
            out.unreachable = !matches!(
                e,
                SshError::UnknownHostKey { .. }
                    | SshError::ChangedHostKey { .. }
                    | SshError::RevokedHostKey { .. }
            ) && !matches!(
                e,
                SshError::Auth { .. }
                    | SshError::KnownHosts { .. }
                    | SshError::InvalidTarget { .. }
            );
            out.record(
                "connect",
                &target,
                "ssh connect",
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            out.verdict = Verdict::NotConfirmed(format!("cannot reach the primary over SSH: {e}"));
            None
        }
    }
}

enum Asked {
    Answer(Answer),
    Broken(String),
}

fn ask(
    client: &SshClient,
    s: &Settings,
    deadline: &Deadline,
    probe: &Probe,
    out: &mut LevelOutcome,
) -> Asked {
    let target = s.primary_target();
    let Some(timeout) = deadline.cap(s.command_timeout) else {
        return Asked::Broken("the run's deadline passed".into());
    };
    let command = bounded(s.os, &probe.command, timeout);
    let started = Instant::now();
    match client.exec(&command, timeout) {
        Ok(o) => {
            let answer = probe.judge.judge(&o);
            let outcome = match &answer {
                Answer::Holds(_) => "holds",
                Answer::Fails(_) => "does-not-hold",
                Answer::CannotTell(_) => "cannot-tell",
            };
            out.record(
                &probe.name,
                &target,
                &command,
                outcome,
                answer.text(),
                started.elapsed(),
            );
            Asked::Answer(answer)
        }
        Err(e) => {
            let outcome = if e.is_timeout() { "timeout" } else { "error" };
            out.record(
                &probe.name,
                &target,
                &command,
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            Asked::Broken(format!("{}: {e}", probe.name))
        }
    }
}

/// Asks every probe; the verdict holds only when all do.
fn verify(
    client: &SshClient,
    s: &Settings,
    deadline: &Deadline,
    probes: &[Probe],
    out: &mut LevelOutcome,
) -> Verdict {
    let mut failed = Vec::new();
    let mut unsure = Vec::new();
    for p in probes {
        match ask(client, s, deadline, p, out) {
            Asked::Answer(Answer::Holds(_)) => {}
            Asked::Answer(Answer::Fails(seen)) => failed.push(format!("{}: no ({seen})", p.name)),
            Asked::Answer(Answer::CannotTell(seen)) => {
                unsure.push(format!("{}: cannot tell ({seen})", p.name))
            }
            Asked::Broken(why) => return Verdict::NotConfirmed(why),
        }
    }
    if !failed.is_empty() {
        failed.extend(unsure);
        Verdict::NotConfirmed(failed.join("; "))
    } else if !unsure.is_empty() {
        Verdict::CannotTell(unsure.join("; "))
    } else {
        Verdict::Confirmed(format!(
            "{} checks hold on {}",
            probes.len(),
            s.primary_target()
        ))
    }
}

/// Runs the plan: prechecks, actions, then the re-query.
pub fn run(s: &Settings, plan: &SshPlan, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Ssh);
    let Some(client) = connect(s, deadline, &mut out) else {
        return out;
    };
    let target = s.primary_target();
    for p in &plan.prechecks {
        match ask(&client, s, deadline, p, &mut out) {
            Asked::Answer(Answer::Holds(_)) => {}
            Asked::Answer(a) => {
                out.verdict = Verdict::NotConfirmed(format!(
                    "{}: no ({}); nothing was changed",
                    p.name,
                    a.text()
                ));
                return out;
            }
            Asked::Broken(why) => {
                out.verdict = Verdict::NotConfirmed(why);
                return out;
            }
        }
    }
    for a in &plan.actions {
        let Some(timeout) = deadline.cap(s.command_timeout) else {
            out.verdict =
                Verdict::NotConfirmed(format!("the run's deadline passed before `{}`", a.name));
            return out;
        };
        let command = bounded(s.os, &a.command, timeout);
        let started = Instant::now();
        let input = a.input.as_deref().unwrap_or("").as_bytes();
        match client.exec_with_input(&command, input, timeout) {
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let seen = format!(
                    "exit {}{}",
                    o.exit_status,
                    if stderr.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", brief(&stderr))
                    }
                );
                // A non-zero exit is journaled but not fatal: `pkill` with
                // nothing to kill exits 1. The re-query decides.
                let outcome = if o.exit_status == 124 || o.exit_status == 137 {
                    "timeout"
                } else if o.success() {
                    "ran"
                } else {
                    "failed"
                };
                out.record(
                    &a.name,
                    &target,
                    &command,
                    outcome,
                    seen.clone(),
                    started.elapsed(),
                );
                if outcome == "timeout" {
                    out.verdict = Verdict::NotConfirmed(format!(
                        "`{}` timed out on the primary ({seen})",
                        a.name
                    ));
                    return out;
                }
            }
            Err(e) => {
                let outcome = if e.is_timeout() { "timeout" } else { "error" };
                out.record(
                    &a.name,
                    &target,
                    &command,
                    outcome,
                    e.to_string(),
                    started.elapsed(),
                );
                out.verdict = Verdict::NotConfirmed(format!("`{}`: {e}", a.name));
                return out;
            }
        }
    }
    let verdict = verify(&client, s, deadline, &plan.verify, &mut out);
    // After actions, "cannot tell" is not fenced either.
    out.verdict = match verdict {
        Verdict::CannotTell(why) if !plan.actions.is_empty() => Verdict::NotConfirmed(why),
        v => v,
    };
    out
}
