//! Commands for the primary and how their answers are judged.
//!
//! A [`RemoteStep`] changes something (stop, disable, write the marker); a
//! [`Probe`] asks, and its [`Judge`] reads the answer as "holds", "does not
//! hold" or "cannot tell". Only probes decide whether the primary is fenced:
//! a stop command that exits 0 proves nothing.

use maestro_common::ssh::ExecOutput;
use std::time::Duration;

/// The shell the primary's SSH server runs commands with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteOs {
    /// `sh`, with coreutils `timeout`, `pgrep`, `sed`.
    Unix,
    /// Windows OpenSSH with `cmd.exe` as the default shell.
    Windows,
}

/// One change to make on the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteStep {
    /// What it is for, like `stop maestro-lui`.
    pub name: String,
    pub command: String,
    /// Written to the command's stdin (the marker's text).
    pub input: Option<String>,
    /// What undoes this change, for the report of a fence that stopped
    /// half-way (empty for the steps of `unfence`).
    pub undo: String,
}

/// One question to ask the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// What it asks, like `maestro-lui stopped and disabled`.
    pub name: String,
    pub command: String,
    pub judge: Judge,
}

/// How a probe's answer is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Judge {
    /// The unit exists (LoadState is not `not-found`).
    SystemdKnown,
    /// `systemctl show`: ActiveState inactive/failed and masked.
    SystemdStoppedMasked,
    /// `systemctl show`: unit file state enabled (after unfence).
    SystemdEnabled,
    /// LSB init script `status`: exit 1, 2 or 3 (not running).
    LsbStopped,
    /// The init script exists (`test -x` exit 0).
    ExitZero,
    /// No `S??name` start links printed.
    NoOutput,
    /// Start links printed (after unfence).
    SomeOutput,
    /// `sc query`: STATE STOPPED.
    ScStopped,
    /// `sc qc`: START_TYPE DISABLED.
    ScDisabled,
    /// `sc qc`: START_TYPE not DISABLED (after unfence).
    ScNotDisabled,
    /// A configured active command: exit 1-3 stopped, 0 running.
    CommandStopped,
    /// A configured enabled command: exit 1 disabled, 0 enabled.
    CommandDisabled,
    /// A configured enabled command: exit 0 (after unfence).
    CommandEnabled,
    /// `grep` for active cron lines: exit 1 (none left).
    GrepNothing,
    /// `pgrep -x`: exit 1 (no such process).
    NoProcess,
    /// `schtasks /Query /FO LIST`: Status Disabled.
    TaskDisabled,
    /// `tasklist`: the image name is not listed.
    NoTask(String),
    /// The marker reads back with this epoch (or any epoch when `None`).
    Marker(Option<u64>),
    /// The marker is absent (after unfence).
    NoMarker,
    /// The epoch file holds this epoch (after unfence).
    EpochFile(u64),
}

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Holds(String),
    Fails(String),
    CannotTell(String),
}

impl Answer {
    pub fn text(&self) -> &str {
        match self {
            Answer::Holds(s) | Answer::Fails(s) | Answer::CannotTell(s) => s,
        }
    }
}

/// A short, single-line view of output for the journal and messages.
pub fn brief(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        let cut: String = one.chars().take(200).collect();
        format!("{cut}...")
    } else {
        one
    }
}

fn key_values(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The value of a `KEY : value` line of `sc`/`schtasks` output.
fn colon_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().to_string())
    })
}

impl Judge {
    /// Reads a finished command's answer.
    pub fn judge(&self, out: &ExecOutput) -> Answer {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let seen = if stderr.trim().is_empty() {
            format!("exit {}: {}", out.exit_status, brief(&stdout))
        } else {
            format!(
                "exit {}: {} (stderr: {})",
                out.exit_status,
                brief(&stdout),
                brief(&stderr)
            )
        };
        if out.exit_signal.is_some() || out.exit_status == 124 || out.exit_status == 137 {
            return Answer::CannotTell(format!("the query was killed or timed out: {seen}"));
        }
        let code = out.exit_status;
        let verdict = |holds: bool| {
            if holds {
                Answer::Holds(seen.clone())
            } else {
                Answer::Fails(seen.clone())
            }
        };
        match self {
            Judge::SystemdKnown => {
                let kv = key_values(&stdout);
                match kv.get("LoadState").map(String::as_str) {
                    Some("not-found") | None => {
                        Answer::Fails(format!("the unit is not known to systemd: {seen}"))
                    }
                    Some(_) => Answer::Holds(seen.clone()),
                }
            }
            Judge::SystemdStoppedMasked | Judge::SystemdEnabled => {
                let kv = key_values(&stdout);
                let (Some(active), Some(load)) = (kv.get("ActiveState"), kv.get("LoadState"))
                else {
                    return Answer::CannotTell(seen);
                };
                let file = kv.get("UnitFileState").map(String::as_str).unwrap_or("");
                if load == "not-found" {
                    return Answer::CannotTell(format!("the unit is not known: {seen}"));
                }
                if *self == Judge::SystemdEnabled {
                    return verdict(file == "enabled" && load != "masked");
                }
                let stopped = matches!(active.as_str(), "inactive" | "failed");
                let masked = load == "masked" || file.starts_with("masked");
                verdict(stopped && masked)
            }
            Judge::LsbStopped => match code {
                1..=3 => Answer::Holds(seen),
                0 => Answer::Fails(seen),
                _ => Answer::CannotTell(seen),
            },
            Judge::ExitZero => verdict(code == 0),
            Judge::NoOutput => {
                if code != 0 {
                    Answer::CannotTell(seen)
                } else {
                    verdict(stdout.trim().is_empty())
                }
            }
            Judge::SomeOutput => {
                if code != 0 {
                    Answer::CannotTell(seen)
                } else {
                    verdict(!stdout.trim().is_empty())
                }
            }
            Judge::ScStopped => match colon_field(&stdout, "STATE") {
                Some(state) if code == 0 => verdict(state.contains("STOPPED")),
                _ => Answer::CannotTell(seen),
            },
            Judge::ScDisabled | Judge::ScNotDisabled => match colon_field(&stdout, "START_TYPE") {
                Some(start) if code == 0 => {
                    let disabled = start.contains("DISABLED");
                    verdict(disabled == (*self == Judge::ScDisabled))
                }
                _ => Answer::CannotTell(seen),
            },
            Judge::CommandStopped => match code {
                1..=3 => Answer::Holds(seen),
                0 => Answer::Fails(seen),
                _ => Answer::CannotTell(seen),
            },
            Judge::CommandDisabled => match code {
                1 => Answer::Holds(seen),
                0 => Answer::Fails(seen),
                _ => Answer::CannotTell(seen),
            },
            Judge::CommandEnabled => match code {
                0 => Answer::Holds(seen),
                1 => Answer::Fails(seen),
                _ => Answer::CannotTell(seen),
            },
            Judge::GrepNothing | Judge::NoProcess => match code {
                1 => Answer::Holds(seen),
                0 => Answer::Fails(seen),
                _ => Answer::CannotTell(seen),
            },
            Judge::TaskDisabled => match colon_field(&stdout, "Status") {
                Some(status) if code == 0 => verdict(status.eq_ignore_ascii_case("Disabled")),
                _ => Answer::CannotTell(seen),
            },
            Judge::NoTask(image) => {
                if code != 0 {
                    return Answer::CannotTell(seen);
                }
                let listed = stdout.lines().any(|l| {
                    l.trim_start()
                        .to_ascii_lowercase()
                        .starts_with(&image.to_ascii_lowercase())
                });
                verdict(!listed)
            }
            Judge::Marker(want) => {
                if code != 0 {
                    return Answer::Fails(format!("no marker: {seen}"));
                }
                match crate::marker::Marker::parse(&stdout) {
                    Ok(m) => match want {
                        Some(e) if m.epoch != *e => {
                            Answer::Fails(format!("the marker holds epoch {}, not {e}", m.epoch))
                        }
                        _ => Answer::Holds(format!(
                            "marker: epoch {} by {} at {}",
                            m.epoch, m.failover, m.fenced_at
                        )),
                    },
                    Err(e) => Answer::Fails(format!("the marker does not read back: {e}")),
                }
            }
            Judge::NoMarker => match code {
                // The command prints `absent` when the file is not there.
                0 => verdict(stdout.trim() == "absent"),
                _ => Answer::CannotTell(seen),
            },
            Judge::EpochFile(want) => {
                if code != 0 {
                    return Answer::Fails(seen);
                }
                verdict(stdout.trim().parse::<u64>().ok() == Some(*want))
            }
        }
    }
}

/// Quotes a word for `sh`.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@=+,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command as it runs on a Unix primary: bounded there too, because a
/// timed-out SSH command is abandoned, not killed (see the SSH client).
pub fn bounded(os: RemoteOs, command: &str, timeout: Duration) -> String {
    match os {
        RemoteOs::Unix => {
            let secs = timeout.as_secs().max(1);
            format!("timeout -k 2 {secs} sh -c {}", sh_quote(command))
        }
        // No portable `timeout` under cmd.exe; the client's own timeout
        // still bounds the wait.
        RemoteOs::Windows => command.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stdout: &str) -> ExecOutput {
        ExecOutput {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_status: code,
            exit_signal: None,
            elapsed: Duration::ZERO,
        }
    }

    fn holds(a: Answer) -> bool {
        matches!(a, Answer::Holds(_))
    }

    #[test]
    fn systemd_needs_stopped_and_masked() {
        let j = Judge::SystemdStoppedMasked;
        assert!(holds(j.judge(&out(
            0,
            "LoadState=masked\nActiveState=inactive\nUnitFileState=masked\n"
        ))));
        assert!(matches!(
            j.judge(&out(
                0,
                "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
            )),
            Answer::Fails(_)
        ));
        assert!(matches!(
            j.judge(&out(
                0,
                "LoadState=masked\nActiveState=active\nUnitFileState=masked\n"
            )),
            Answer::Fails(_)
        ));
        assert!(matches!(
            j.judge(&out(0, "LoadState=not-found\nActiveState=inactive\n")),
            Answer::CannotTell(_)
        ));
        assert!(matches!(j.judge(&out(1, "")), Answer::CannotTell(_)));
    }

    #[test]
    fn commands_and_processes_read_exit_codes() {
        assert!(holds(Judge::CommandStopped.judge(&out(3, ""))));
        assert!(matches!(
            Judge::CommandStopped.judge(&out(0, "")),
            Answer::Fails(_)
        ));
        assert!(matches!(
            Judge::CommandStopped.judge(&out(127, "")),
            Answer::CannotTell(_)
        ));
        assert!(matches!(
            Judge::CommandStopped.judge(&out(124, "")),
            Answer::CannotTell(_)
        ));
        assert!(holds(Judge::NoProcess.judge(&out(1, ""))));
        assert!(matches!(
            Judge::NoProcess.judge(&out(0, "123\n")),
            Answer::Fails(_)
        ));
        assert!(matches!(
            Judge::GrepNothing.judge(&out(2, "")),
            Answer::CannotTell(_)
        ));
    }

    #[test]
    fn windows_answers() {
        let q = "SERVICE_NAME: lui\n        TYPE               : 10  WIN32_OWN_PROCESS\n        STATE              : 1  STOPPED\n";
        assert!(holds(Judge::ScStopped.judge(&out(0, q))));
        assert!(matches!(
            Judge::ScStopped.judge(&out(0, &q.replace("1  STOPPED", "4  RUNNING"))),
            Answer::Fails(_)
        ));
        let qc = "        START_TYPE         : 4   DISABLED\n";
        assert!(holds(Judge::ScDisabled.judge(&out(0, qc))));
        assert!(matches!(
            Judge::ScDisabled.judge(&out(1060, "")),
            Answer::CannotTell(_)
        ));
        let t = "TaskName:      \\maestro-sync\nStatus:        Disabled\n";
        assert!(holds(Judge::TaskDisabled.judge(&out(0, t))));
        assert!(holds(Judge::NoTask("rsync.exe".into()).judge(&out(
            0,
            "INFO: No tasks are running which match the specified criteria.\n"
        ))));
        assert!(matches!(
            Judge::NoTask("rsync.exe".into())
                .judge(&out(0, "rsync.exe    4242 Services  0  5,000 K\n")),
            Answer::Fails(_)
        ));
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("maestro-lui"), "maestro-lui");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(
            bounded(RemoteOs::Unix, "echo hi", Duration::from_millis(1500)),
            "timeout -k 2 1 sh -c 'echo hi'"
        );
    }
}
