//! The `ssh` level: runs a plan on the primary over the common SSH client
//! and judges the re-query. Any error, timeout or unexpected answer means
//! "not confirmed"; only every probe holding means "confirmed".

use crate::config::FenceLevel;
use crate::deadline::Deadline;
use crate::level::{change_state, ChangeLog, LevelOutcome, Verdict, STARTED};
use crate::plan::SshPlan;
use crate::remote::{bounded, brief, sh_quote, Answer, Probe, RemoteOs};
use crate::settings::Settings;
use maestro_common::ssh::{ExecOutput, SshClient, SshError};
use std::time::{Duration, Instant};

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
            let refused = matches!(
                &e,
                SshError::Connect { source, .. }
                    if source.kind() == std::io::ErrorKind::ConnectionRefused
            );
            let refuses_us = matches!(
                e,
                SshError::UnknownHostKey { .. }
                    | SshError::ChangedHostKey { .. }
                    | SshError::RevokedHostKey { .. }
                    | SshError::Auth { .. }
                    | SshError::KnownHosts { .. }
                    | SshError::InvalidTarget { .. }
            );
            // Unreachable only when no TCP connection was made at all (the
            // name did not resolve, the connect timed out, no route): the
            // primary may be gone. A reset says the host is up; anything
            // after the connection (no banner, a broken handshake) says
            // something answers on its SSH port. Both may run Maestro, so
            // neither lets `check` trust the journal.
            out.unreachable = e.before_tcp_connection() && !refused;
            out.record(
                "connect",
                &target,
                "ssh connect",
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            out.verdict = if out.unreachable || refuses_us {
                Verdict::NotConfirmed(format!("cannot reach the primary over SSH: {e}"))
            } else if refused {
                Verdict::CannotTell(format!(
                    "the primary is up but refuses SSH connections, so nothing on it can be verified: {e}"
                ))
            } else {
                Verdict::CannotTell(format!(
                    "something answers on the primary's SSH port but no SSH session could be made, so nothing on it can be verified: {e}"
                ))
            };
            None
        }
    }
}

/// One command of a phase (a probe or an action).
struct Item<'a> {
    name: &'a str,
    command: &'a str,
    input: Option<&'a str>,
}

/// How each item of a phase ended: its output, or why there is none.
type Results = Vec<Result<ExecOutput, String>>;

const FRAME: &str = "@@maestro-fence-step";

/// One shell script that runs every item bounded by its own `timeout` and
/// frames each one's exit code, stdout and stderr (length-prefixed, so no
/// output can fake a frame). One SSH channel a phase instead of one a
/// command: every channel costs the remote login shell's start-up.
pub fn batch_script(
    items: &[(String, Option<String>)],
    step_timeout: Duration,
    stop_on_timeout: bool,
) -> String {
    let mut s = String::from("d=$(mktemp -d) || exit 125\ntrap 'rm -rf \"$d\"' EXIT\n");
    for (i, (command, input)) in items.iter().enumerate() {
        let feed = match input {
            Some(text) => format!("printf '%s' {} | ", sh_quote(text)),
            None => String::new(),
        };
        let redirect_in = if input.is_some() { "" } else { " </dev/null" };
        s.push_str(&format!(
            "{feed}{}{redirect_in} >\"$d/o\" 2>\"$d/e\"; rc=$?\nprintf '{FRAME} {i} %s %s %s\\n' \"$rc\" $(wc -c <\"$d/o\") $(wc -c <\"$d/e\"); cat \"$d/o\" \"$d/e\"\n",
            bounded(RemoteOs::Unix, command, step_timeout)
        ));
        if stop_on_timeout {
            s.push_str("if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then exit 0; fi\n");
        }
    }
    s
}

/// Splits a batch's stdout into each step's output.
pub fn parse_batch(mut bytes: &[u8], n: usize) -> Result<Vec<Option<ExecOutput>>, String> {
    let mut results: Vec<Option<ExecOutput>> = vec![None; n];
    while !bytes.is_empty() {
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("a frame header without its line end")?;
        let header =
            std::str::from_utf8(&bytes[..nl]).map_err(|_| "a frame header that is not text")?;
        let mut w = header.split_whitespace();
        if w.next() != Some(FRAME) {
            return Err(format!(
                "unexpected output instead of a frame: {}",
                brief(header)
            ));
        }
        let mut num = || -> Result<i64, String> {
            w.next()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| format!("a malformed frame header: {header}"))
        };
        let (i, rc, olen, elen) = (num()? as usize, num()?, num()? as usize, num()? as usize);
        bytes = &bytes[nl + 1..];
        if i >= n || bytes.len() < olen + elen {
            return Err(format!("a frame that does not fit: {header}"));
        }
        results[i] = Some(ExecOutput {
            stdout: bytes[..olen].to_vec(),
            stderr: bytes[olen..olen + elen].to_vec(),
            exit_status: rc as i32,
            exit_signal: None,
            elapsed: Duration::ZERO,
        });
        bytes = &bytes[olen + elen..];
    }
    Ok(results)
}

/// Runs a phase: on Unix one script over one channel, on Windows one
/// channel a command (cmd.exe has no `timeout` to bound each step).
fn run_phase(
    client: &SshClient,
    s: &Settings,
    deadline: &Deadline,
    items: &[Item],
    stop_on_timeout: bool,
    out: &mut LevelOutcome,
) -> Results {
    let target = s.primary_target();
    let Some(step_timeout) = deadline.cap(s.command_timeout) else {
        return items
            .iter()
            .map(|_| Err("the run's deadline passed".to_string()))
            .collect();
    };
    if s.os == RemoteOs::Windows || items.is_empty() {
        let mut results = Vec::new();
        for it in items {
            let Some(t) = deadline.cap(s.command_timeout) else {
                results.push(Err("the run's deadline passed".to_string()));
                continue;
            };
            let command = bounded(s.os, it.command, t);
            let r = client
                .exec_with_input(&command, it.input.unwrap_or("").as_bytes(), t)
                .map_err(|e| e.to_string());
            let broken = r.is_err();
            results.push(r);
            if broken && stop_on_timeout {
                break;
            }
        }
        while results.len() < items.len() {
            results.push(Err("not run: an earlier step failed".into()));
        }
        return results;
    }
    let script_items: Vec<(String, Option<String>)> = items
        .iter()
        .map(|i| (i.command.to_string(), i.input.map(str::to_string)))
        .collect();
    let script = batch_script(&script_items, step_timeout, stop_on_timeout);
    // Every step bounded on its own, plus slack for the shell; never past the deadline.
    let whole = (step_timeout + Duration::from_secs(3)) * items.len() as u32;
    let Some(timeout) = deadline.cap(whole) else {
        return items
            .iter()
            .map(|_| Err("the run's deadline passed".to_string()))
            .collect();
    };
    let started = Instant::now();
    match client.exec(&script, timeout) {
        Ok(o) => {
            out.record(
                format!("send {} commands in one session", items.len()),
                &target,
                format!("sh script of {} bounded steps", items.len()),
                "ran",
                format!("exit {}", o.exit_status),
                started.elapsed(),
            );
            match parse_batch(&o.stdout, items.len()) {
                Ok(parsed) => {
                    // After a step that timed out the script stops on purpose;
                    // otherwise a missing answer means it ended mid-step.
                    let stopped = parsed
                        .iter()
                        .flatten()
                        .any(|r| r.exit_status == 124 || r.exit_status == 137);
                    parsed
                        .into_iter()
                        .map(|p| {
                            p.ok_or_else(|| {
                                if o.exit_status == 125 {
                                    "not run: no temporary folder on the primary (mktemp failed)"
                                        .to_string()
                                } else if stopped {
                                    "not run: an earlier step timed out".to_string()
                                } else {
                                    format!("no answer: the script ended (exit {}) before this step reported; it may have run", o.exit_status)
                                }
                            })
                        })
                        .collect()
                }
                Err(e) => items
                    .iter()
                    .map(|_| Err(format!("cannot read the primary's answer: {e}")))
                    .collect(),
            }
        }
        Err(e) => {
            let outcome = if e.is_timeout() { "timeout" } else { "error" };
            out.record(
                format!("send {} commands in one session", items.len()),
                &target,
                format!("sh script of {} bounded steps", items.len()),
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            items.iter().map(|_| Err(e.to_string())).collect()
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
    let target = s.primary_target();
    let items: Vec<Item> = probes
        .iter()
        .map(|p| Item {
            name: &p.name,
            command: &p.command,
            input: None,
        })
        .collect();
    let results = run_phase(client, s, deadline, &items, false, out);
    let mut failed = Vec::new();
    let mut unsure = Vec::new();
    let mut broken = None;
    for (p, r) in probes.iter().zip(results) {
        let action = bounded(s.os, &p.command, s.command_timeout);
        match r {
            Ok(o) => {
                let answer = p.judge.judge(&o);
                let outcome = match &answer {
                    Answer::Holds(_) => "holds",
                    Answer::Fails(_) => "does-not-hold",
                    Answer::CannotTell(_) => "cannot-tell",
                };
                out.record(
                    &p.name,
                    &target,
                    action,
                    outcome,
                    answer.text(),
                    Duration::ZERO,
                );
                match answer {
                    Answer::Holds(_) => {}
                    Answer::Fails(seen) => failed.push(format!("{}: no ({seen})", p.name)),
                    Answer::CannotTell(seen) => {
                        unsure.push(format!("{}: cannot tell ({seen})", p.name))
                    }
                }
            }
            Err(e) => {
                out.record(&p.name, &target, action, "error", e.clone(), Duration::ZERO);
                broken.get_or_insert(format!("{}: {e}", p.name));
            }
        }
    }
    if let Some(why) = broken {
        return Verdict::NotConfirmed(why);
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

/// Runs the plan: prechecks, actions, then the re-query. The actions that
/// change something are journaled through `log` as started before the
/// phase is sent, and with what became of each after.
pub fn run(
    s: &Settings,
    plan: &SshPlan,
    deadline: &Deadline,
    log: &mut dyn ChangeLog,
) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Ssh);
    let Some(client) = connect(s, deadline, &mut out) else {
        return out;
    };
    let target = s.primary_target();
    if !plan.prechecks.is_empty() {
        match verify(&client, s, deadline, &plan.prechecks, &mut out) {
            Verdict::Confirmed(_) => {}
            v => {
                out.verdict = Verdict::NotConfirmed(format!("{}; nothing was changed", v.text()));
                return out;
            }
        }
    }
    let items: Vec<Item> = plan
        .actions
        .iter()
        .map(|a| Item {
            name: &a.name,
            command: &a.command,
            input: a.input.as_deref(),
        })
        .collect();
    // Every change of the phase may run once the script is sent.
    let base = out.changes.len();
    for a in plan.actions.iter().filter(|a| !a.undo.is_empty()) {
        out.changed(&a.name, &target, STARTED, &a.undo);
    }
    if let Err(e) = log.save(&out.changes) {
        out.changes.truncate(base);
        out.verdict = Verdict::NotConfirmed(format!(
            "cannot journal the changes before making them ({e}); nothing was changed"
        ));
        return out;
    }
    out.changes.truncate(base);
    let results = run_phase(&client, s, deadline, &items, true, &mut out);
    let outcome = settle_actions(s, plan, &items, results, &target, &mut out);
    let _ = log.save(&out.changes);
    if let Some(verdict) = outcome {
        out.verdict = verdict;
        return out;
    }
    let verdict = verify(&client, s, deadline, &plan.verify, &mut out);
    // After actions, "cannot tell" is not fenced either.
    out.verdict = match verdict {
        Verdict::CannotTell(why) if !plan.actions.is_empty() => Verdict::NotConfirmed(why),
        v => v,
    };
    out
}

/// Records what each action did and which ones changed something; the
/// verdict when the phase ended early.
fn settle_actions(
    s: &Settings,
    plan: &SshPlan,
    items: &[Item],
    results: Results,
    target: &str,
    out: &mut LevelOutcome,
) -> Option<Verdict> {
    // A step with no answer because the session broke may have run, and so
    // may every step after it in the same script.
    let unanswered: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref().is_err_and(|e| !e.starts_with("not run")))
        .map(|(i, _)| i)
        .collect();
    for (i, ((a, step), r)) in items.iter().zip(&plan.actions).zip(results).enumerate() {
        let action = bounded(s.os, a.command, s.command_timeout);
        match r {
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
                let timed_out = o.exit_status == 124 || o.exit_status == 137;
                let outcome = if timed_out {
                    "timeout"
                } else if o.success() {
                    "ran"
                } else {
                    "failed"
                };
                out.record(
                    a.name,
                    target,
                    action,
                    outcome,
                    seen.clone(),
                    Duration::ZERO,
                );
                if !step.undo.is_empty() {
                    out.changed(a.name, target, change_state(outcome), &step.undo);
                }
                if timed_out {
                    return Some(Verdict::NotConfirmed(format!(
                        "`{}` timed out on the primary ({seen})",
                        a.name
                    )));
                }
            }
            Err(e) => {
                out.record(a.name, target, action, "error", e.clone(), Duration::ZERO);
                for &j in unanswered.iter().filter(|&&j| j >= i) {
                    let later = &plan.actions[j];
                    if !later.undo.is_empty() {
                        out.changed(&later.name, target, "unknown", &later.undo);
                    }
                }
                return Some(Verdict::NotConfirmed(format!("`{}`: {e}", a.name)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_batch_runs_frames_and_parses_back() {
        let items = vec![
            ("echo out; echo err >&2; exit 3".to_string(), None),
            (
                "cat".to_string(),
                Some("it's\n@@maestro-fence-step 9 0 0 0\n".to_string()),
            ),
            ("printf ''".to_string(), None),
        ];
        let script = batch_script(&items, Duration::from_secs(5), true);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let parsed = parse_batch(&out.stdout, 3).unwrap();
        let first = parsed[0].as_ref().unwrap();
        assert_eq!(
            (
                first.exit_status,
                first.stdout.as_slice(),
                first.stderr.as_slice()
            ),
            (3, &b"out\n"[..], &b"err\n"[..])
        );
        let second = parsed[1].as_ref().unwrap();
        assert_eq!(
            second.stdout, b"it's\n@@maestro-fence-step 9 0 0 0\n",
            "output cannot fake a frame"
        );
        assert!(parsed[2].as_ref().unwrap().stdout.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_timed_out_step_stops_the_batch() {
        let items = vec![
            ("sleep 5".to_string(), None),
            ("echo later".to_string(), None),
        ];
        let script = batch_script(&items, Duration::from_secs(1), true);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let parsed = parse_batch(&out.stdout, 2).unwrap();
        assert_eq!(parsed[0].as_ref().unwrap().exit_status, 124);
        assert!(parsed[1].is_none());
    }

    #[test]
    fn junk_is_not_a_frame() {
        assert!(parse_batch(b"hello\n", 1).is_err());
        assert!(parse_batch(b"@@maestro-fence-step 0 0 10 0\nabc", 1).is_err());
        assert!(parse_batch(b"@@maestro-fence-step 5 0 0 0\n", 1).is_err());
    }
}
