//! Maestro's services on this node, started, stopped and asked as
//! `[services] manager` says: systemd (`systemctl`), sysv (`/etc/init.d`
//! scripts, LSB exit codes) or the configured commands. Every command is
//! bounded and killed with its process group when its time is up.

use crate::ocf::Deadline;
use maestro_fence::process::{self, LocalOutput, RunError};
use maestro_fence::remote::sh_quote;
use std::time::Duration;

/// How long one status question may take, at most.
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Manager {
    Systemd,
    Sysv,
    Commands {
        start: String,
        stop: String,
        active: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSet {
    manager: Manager,
    names: Vec<String>,
}

/// What a service is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running,
    Stopped,
    /// The question got no usable answer (a status command's own failure,
    /// a timeout): never read as stopped.
    Unknown(String),
}

impl ServiceSet {
    pub fn systemd(names: Vec<String>) -> ServiceSet {
        ServiceSet {
            manager: Manager::Systemd,
            names,
        }
    }

    pub fn sysv(names: Vec<String>) -> ServiceSet {
        ServiceSet {
            manager: Manager::Sysv,
            names,
        }
    }

    pub fn commands(names: Vec<String>, start: String, stop: String, active: String) -> ServiceSet {
        ServiceSet {
            manager: Manager::Commands {
                start,
                stop,
                active,
            },
            names,
        }
    }

    /// In start order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn manager_name(&self) -> &'static str {
        match self.manager {
            Manager::Systemd => "systemd",
            Manager::Sysv => "sysv",
            Manager::Commands { .. } => "commands",
        }
    }

    /// The program and arguments of `verb` (start, stop, status) for `name`.
    fn command(&self, verb: &str, name: &str) -> (String, Vec<String>) {
        match &self.manager {
            Manager::Systemd => match verb {
                "status" => (
                    "systemctl".into(),
                    vec![
                        "show".into(),
                        "-p".into(),
                        "ActiveState".into(),
                        "--value".into(),
                        name.into(),
                    ],
                ),
                _ => ("systemctl".into(), vec![verb.into(), name.into()]),
            },
            Manager::Sysv => (format!("/etc/init.d/{name}"), vec![verb.into()]),
            Manager::Commands {
                start,
                stop,
                active,
            } => {
                let template = match verb {
                    "start" => start,
                    "stop" => stop,
                    _ => active,
                };
                (
                    "sh".into(),
                    vec!["-c".into(), template.replace("{name}", &sh_quote(name))],
                )
            }
        }
    }

    /// The command line of `verb`, for the log.
    pub fn shown(&self, verb: &str, name: &str) -> String {
        let (program, args) = self.command(verb, name);
        std::iter::once(program)
            .chain(args.iter().map(|a| sh_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn run(&self, verb: &str, name: &str, timeout: Duration) -> Result<LocalOutput, RunError> {
        let (program, args) = self.command(verb, name);
        process::run(&program, &args, b"", timeout)
    }

    /// Whether `name` is a service this node has (systemd: the unit is
    /// loaded; sysv: its script exists). The configured commands cannot
    /// be asked that.
    pub fn installed(&self, name: &str, deadline: &Deadline) -> Result<(), String> {
        match &self.manager {
            Manager::Systemd => {
                let out = process::run(
                    "systemctl",
                    &[
                        "show".into(),
                        "-p".into(),
                        "LoadState".into(),
                        "--value".into(),
                        name.into(),
                    ],
                    b"",
                    deadline.remaining().min(STATUS_TIMEOUT),
                )
                .map_err(|e| e.to_string())?;
                match out.stdout.trim() {
                    "loaded" => Ok(()),
                    "" => Err(format!(
                        "systemctl show {name}: no answer ({})",
                        out.stderr.trim()
                    )),
                    other => Err(format!("the unit {name} is {other} on this node")),
                }
            }
            Manager::Sysv => {
                let script = format!("/etc/init.d/{name}");
                match std::fs::metadata(&script) {
                    Ok(m) if m.is_file() => Ok(()),
                    Ok(_) => Err(format!("{script} is not a file")),
                    Err(e) => Err(format!("{script}: {e}")),
                }
            }
            Manager::Commands { .. } => Ok(()),
        }
    }

    pub fn state(&self, name: &str, deadline: &Deadline) -> State {
        let timeout = deadline.remaining().min(STATUS_TIMEOUT);
        if timeout.is_zero() {
            return State::Unknown("no time left to ask".into());
        }
        let out = match self.run("status", name, timeout) {
            Ok(o) => o,
            Err(e) => return State::Unknown(e.to_string()),
        };
        match &self.manager {
            Manager::Systemd => match out.stdout.trim() {
                // A unit that is not loaded is inactive too.
                "inactive" | "failed" => State::Stopped,
                "" => State::Unknown(format!(
                    "systemctl show: no ActiveState (exit {:?}: {})",
                    out.code,
                    out.stderr.trim()
                )),
                // active, reloading, activating, deactivating: not stopped.
                _ => State::Running,
            },
            // LSB: 0 running; 1 dead with a pid file, 2 dead with a lock
            // file, 3 not running; 4 (and anything else) unknown.
            Manager::Sysv | Manager::Commands { .. } => match out.code {
                Some(0) => State::Running,
                Some(1..=3) => State::Stopped,
                code => State::Unknown(format!(
                    "{} exited with {}{}",
                    self.shown("status", name),
                    code.map_or("a signal".to_string(), |c| c.to_string()),
                    match out.stderr.trim() {
                        "" => String::new(),
                        e => format!(": {e}"),
                    }
                )),
            },
        }
    }

    /// Runs the start (or stop) of one service; Ok is only "the command
    /// succeeded": the caller asks the service's state afterwards.
    pub fn act(&self, verb: &str, name: &str, deadline: &Deadline) -> Result<(), String> {
        let timeout = deadline.remaining();
        if timeout.is_zero() {
            return Err(format!("no time left to {verb} {name}"));
        }
        match self.run(verb, name, timeout) {
            Err(e) => Err(e.to_string()),
            Ok(out) if out.success() => Ok(()),
            Ok(out) => Err(format!(
                "{} exited with {}{}",
                self.shown(verb, name),
                out.code.map_or("a signal".to_string(), |c| c.to_string()),
                match (out.stderr.trim(), out.stdout.trim()) {
                    ("", "") => String::new(),
                    ("", o) => format!(": {}", last_line(o)),
                    (e, _) => format!(": {}", last_line(e)),
                }
            )),
        }
    }
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dir: &std::path::Path) -> ServiceSet {
        let d = dir.display();
        ServiceSet::commands(
            vec!["a".into(), "b c".into()],
            format!("touch {d}/{{name}}.on"),
            format!("rm -f {d}/{{name}}.on"),
            format!("test -e {d}/{{name}}.on || exit 3"),
        )
    }

    #[test]
    fn commands_with_quoted_names() {
        let dir = tempfile::tempdir().unwrap();
        let s = set(dir.path());
        let d = Deadline::new(Duration::from_secs(10));
        assert_eq!(s.state("b c", &d), State::Stopped);
        s.act("start", "b c", &d).unwrap();
        assert!(dir.path().join("b c.on").exists());
        assert_eq!(s.state("b c", &d), State::Running);
        s.act("stop", "b c", &d).unwrap();
        assert_eq!(s.state("b c", &d), State::Stopped);
        assert_eq!(
            s.shown("start", "b c"),
            format!("sh -c 'touch {}/'\\''b c'\\''.on'", dir.path().display())
        );
    }

    #[test]
    fn an_answer_outside_the_lsb_codes_is_unknown_never_stopped() {
        let s = ServiceSet::commands(
            vec!["a".into()],
            "false".into(),
            "true".into(),
            "echo broken >&2; exit 4".into(),
        );
        let d = Deadline::new(Duration::from_secs(10));
        match s.state("a", &d) {
            State::Unknown(why) => assert!(why.contains("exited with 4: broken"), "{why}"),
            other => panic!("{other:?}"),
        }
        let e = s.act("start", "a", &d).unwrap_err();
        assert!(e.contains("exited with 1"), "{e}");
        let s = ServiceSet::commands(
            vec!["a".into()],
            "true".into(),
            "true".into(),
            "sleep 5".into(),
        );
        let started = std::time::Instant::now();
        let short = Deadline::new(Duration::from_millis(600));
        assert!(matches!(s.state("a", &short), State::Unknown(_)));
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
