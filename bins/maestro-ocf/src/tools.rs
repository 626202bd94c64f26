//! The maestro-ha tools the agent runs as its gates, each a separate
//! process bounded by the action's deadline, and what their exit codes
//! mean here: 0 holds, 1 holds with findings a person should read (logged
//! as warnings), 2, 3, a signal or a timeout does not hold.

use crate::ocf::{Deadline, Failure, Log};
use maestro_fence::process::{self, RunError};
use std::path::{Path, PathBuf};

/// The most lines of one tool's output the log gets (a replica check can
/// list thousands of differing files; the first ones say what happened).
const LOG_LINES: usize = 60;

/// Finds a tool: beside this binary first (the package installs them all
/// in /usr/sbin, and Pacemaker runs the agent through a link to one of
/// them), then in PATH and /usr/sbin.
pub fn find(tool: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let beside = dir.join(tool);
        if process::find_program(&beside.display().to_string()).is_some() {
            return Some(beside);
        }
    }
    process::find_program(tool)
}

pub fn require(tool: &str) -> Result<PathBuf, Failure> {
    find(tool).ok_or_else(|| {
        Failure::installed(format!(
            "{tool} is not installed on this node (looked beside the agent, in PATH and /usr/sbin)"
        ))
    })
}

/// One finished run of a tool.
#[derive(Debug)]
pub struct ToolRun {
    pub shown: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ToolRun {
    /// 0 or 1: the gate holds.
    pub fn holds(&self) -> bool {
        matches!(self.code, Some(0 | 1))
    }

    /// The line that says most about a run that did not hold: the first
    /// CRITICAL or UNKNOWN check of the report, else its summary line,
    /// else the last diagnostic.
    pub fn why(&self) -> String {
        let top = |prefix: &str| {
            self.stdout
                .lines()
                .find(|l| l.starts_with(prefix))
                .map(squeeze)
        };
        top("CRITICAL")
            .or_else(|| top("UNKNOWN"))
            .or_else(|| {
                self.stdout
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(squeeze)
            })
            .or_else(|| {
                self.stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(squeeze)
            })
            .unwrap_or_else(|| match self.code {
                Some(c) => format!("exit {c}, no output"),
                None => "ended by a signal, no output".into(),
            })
    }
}

/// Runs of spaces (the report's column padding) as one.
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How much of a tool's output goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Every line: the gates, whose reports are the record of the start.
    Always,
    /// Only when the tool says no (config checks, the epoch query).
    OnFailure,
}

/// Runs `program args` within `deadline`, logging the command, its exit
/// and its output. Err only when it could not run at all or ran out of
/// time: `what` names the step in that message.
pub fn run(
    log: &Log,
    what: &str,
    program: &Path,
    args: &[String],
    deadline: &Deadline,
    echo: Echo,
) -> Result<ToolRun, Failure> {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shown = std::iter::once(name.clone())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let timeout = deadline.remaining();
    if timeout.is_zero() {
        return Err(Failure::generic(format!(
            "{what}: no time left for {name} (raise the operation's timeout)"
        )));
    }
    let quiet = echo == Echo::OnFailure;
    log.log(
        if quiet {
            crate::ocf::Level::Debug
        } else {
            crate::ocf::Level::Info
        },
        &format!("{what}: {shown}"),
    );
    let out =
        process::run(&program.display().to_string(), args, b"", timeout).map_err(|e| match e {
            RunError::Timeout { .. } => Failure::generic(format!(
                "{what}: {name} did not finish within {}s of the operation's timeout (killed)",
                timeout.as_secs()
            )),
            RunError::Spawn { .. } => Failure::installed(format!("{what}: {e}")),
        })?;
    let run = ToolRun {
        shown,
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    };
    let level_out = match (run.holds(), quiet) {
        (true, false) => crate::ocf::Level::Info,
        (true, true) => crate::ocf::Level::Debug,
        (false, _) => crate::ocf::Level::Err,
    };
    let lines: Vec<&str> = run.stdout.lines().collect();
    for l in lines.iter().take(LOG_LINES) {
        log.log(level_out, &format!("{name}: {l}"));
    }
    if lines.len() > LOG_LINES {
        log.log(
            level_out,
            &format!("{name}: ... {} more lines", lines.len() - LOG_LINES),
        );
    }
    for l in run.stderr.lines().take(LOG_LINES) {
        log.warn(&format!("{name}: {l}"));
    }
    log.log(
        if quiet && run.holds() {
            crate::ocf::Level::Debug
        } else {
            crate::ocf::Level::Info
        },
        &format!(
            "{what}: {name} exited with {} in {:.1}s",
            run.code.map_or("a signal".into(), |c| c.to_string()),
            out.elapsed.as_secs_f64()
        ),
    );
    Ok(run)
}

/// A gate: the tool must exit 0 or 1, or the action fails with `what` and
/// the tool's own words.
pub fn gate(
    log: &Log,
    what: &str,
    program: &Path,
    args: &[String],
    deadline: &Deadline,
) -> Result<ToolRun, Failure> {
    let run = run(log, what, program, args, deadline, Echo::Always)?;
    if run.holds() {
        if run.code == Some(1) {
            log.warn(&format!("{what}: holds with warnings: {}", run.why()));
        }
        Ok(run)
    } else {
        Err(Failure::generic(format!("{what}: {}", run.why())))
    }
}

/// The fence epoch this node's journal is at (`maestro-fence epoch`).
pub fn epoch(
    log: &Log,
    fence: &Path,
    tool_args: &[String],
    deadline: &Deadline,
) -> Result<u64, Failure> {
    let mut args = tool_args.to_vec();
    args.extend(["--format".into(), "json".into(), "epoch".into()]);
    let run = run(log, "fence epoch", fence, &args, deadline, Echo::OnFailure)?;
    if run.code != Some(0) {
        return Err(Failure::generic(format!("fence epoch: {}", run.why())));
    }
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("details")?.get("epoch")?.as_u64())
        .ok_or_else(|| {
            Failure::generic("fence epoch: maestro-fence epoch printed no epoch".to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(code: i32, stdout: &str) -> ToolRun {
        ToolRun {
            shown: String::new(),
            code: Some(code),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn the_reason_is_the_first_failing_check() {
        let r = run_of(
            2,
            "OK       config: fine\nCRITICAL leftovers: 1 leftovers of an interrupted transfer\n  CRITICAL [leftover] lui:x\nmaestro-snapshot-verify: CRITICAL (1 critical; 0.1s)\n",
        );
        assert!(!r.holds());
        assert_eq!(
            r.why(),
            "CRITICAL leftovers: 1 leftovers of an interrupted transfer"
        );
        let r = run_of(3, "maestro-x: UNKNOWN (bad)\n");
        assert_eq!(r.why(), "maestro-x: UNKNOWN (bad)");
        let r = ToolRun {
            stderr: "maestro-x: error: no such file\n".into(),
            ..run_of(3, "")
        };
        assert_eq!(r.why(), "maestro-x: error: no such file");
        assert!(run_of(1, "").holds());
    }

    #[test]
    fn a_tool_that_outlives_the_deadline_fails_the_gate() {
        let d = Deadline::new(std::time::Duration::from_millis(700));
        let e = gate(
            &Log::silent(),
            "test gate",
            Path::new("/bin/sleep"),
            &["5".into()],
            &d,
        )
        .unwrap_err();
        assert_eq!(e.status, crate::ocf::OcfStatus::ErrGeneric);
        assert!(e.reason.contains("did not finish"), "{e:?}");
    }
}
