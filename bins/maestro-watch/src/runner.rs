//! The three ways to run the watcher: `probe` (for a witness), `once` (for
//! cron and Nagios) and `run` (the loop that fires `--exec`).

use crate::evaluate::{self, Evaluation, WatchState};
use crate::probe::{self, ProbeState};
use crate::settings::{self, DecideArgs, ProbeArgs};
use crate::timer;
use crate::RunArgs;
use maestro_common::catalog::Catalog;
use maestro_common::cli::{Context, ToolError};
use maestro_common::render::{json::write_record, text::human_duration, Format};
use maestro_common::report::{Check, Report};
use maestro_common::{signal, Status};
use serde_json::json;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn usage(e: String) -> ToolError {
    ToolError::Usage(e)
}

fn open_catalog(ctx: &Context) -> Result<Catalog, ToolError> {
    let dir = ctx.state_dir()?;
    let mut catalog = Catalog::open(&dir).map_err(|e| ToolError::Failed(e.into()))?;
    catalog
        .ensure_schema(timer::COMPONENT, timer::MIGRATIONS)
        .map_err(|e| ToolError::Failed(e.into()))?;
    Ok(catalog)
}

pub fn probe(ctx: &mut Context, args: &ProbeArgs) -> Result<Report, ToolError> {
    let config = ctx.config()?.config.clone();
    let s = settings::probe_settings(args, &config).map_err(usage)?;
    let mut report = Report::new(ctx.tool, Some("probe"));
    for p in probe::run_all(&s.probes, s.timeout) {
        let status = match p.state {
            ProbeState::Up => Status::Ok,
            ProbeState::Down => Status::Critical,
            ProbeState::Error => Status::Unknown,
        };
        let check = Check::new(p.name.clone(), status, p.detail.clone())
            .detail("spec", serde_json::to_value(&p.spec).unwrap_or_default())
            .detail("state", serde_json::to_value(p.state).unwrap_or_default())
            .timed(Duration::from_micros((p.elapsed_ms * 1000.0) as u64))
            .perf(evaluate::probe_perfdata(&p));
        report.push(check);
    }
    Ok(report)
}

pub fn once(ctx: &mut Context, p: &ProbeArgs, d: &DecideArgs) -> Result<Report, ToolError> {
    let config = ctx.config()?.config.clone();
    let probes = settings::probe_settings(p, &config).map_err(usage)?;
    let decide = settings::decide_settings(d, &config).map_err(usage)?;
    let mut catalog = open_catalog(ctx)?;
    let eval = evaluate::evaluate(&probes, &decide, &mut catalog)
        .map_err(|e| ToolError::Failed(e.into()))?;
    let mut report = Report::new(ctx.tool, Some("once"));
    eval.report(&mut report);
    Ok(report)
}

fn event(ctx: &Context, eval: &Evaluation, previous: Option<WatchState>) -> io::Result<()> {
    let at = chrono::DateTime::from_timestamp_millis(eval.now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = io::stdout().lock();
    if ctx.globals.format == Format::Json {
        write_record(
            &mut out,
            &json!({
                "type": "event",
                "at": at,
                "target": eval.target,
                "state": eval.state.as_str(),
                "previous": previous.map(WatchState::as_str),
                "status": eval.status,
                "message": eval.message,
                "down_for_s": eval.down_for().map(|d| d.as_secs_f64()),
            }),
        )?;
    } else {
        writeln!(
            out,
            "{at} {} {}: {}",
            eval.state.as_str(),
            eval.target,
            eval.message
        )?;
    }
    out.flush()
}

fn exec_event(ctx: &Context, command: &str, outcome: &str, status: Status) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if ctx.globals.format == Format::Json {
        write_record(
            &mut out,
            &json!({"type": "exec", "command": command, "outcome": outcome, "status": status}),
        )?;
    } else {
        writeln!(out, "exec {command}: {outcome}")?;
    }
    out.flush()
}

/// An exclusive lock file in the state folder, held while `--exec` runs,
/// so that two watchers on this host can never both fire.
struct ExecLock {
    // Held only for its lock: closing the file releases it.
    _file: std::fs::File,
}

impl ExecLock {
    fn try_take(state_dir: &std::path::Path) -> io::Result<Option<ExecLock>> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(state_dir.join("maestro-watch-exec.lock"))?;
        // SAFETY: flock on a descriptor we own.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(Some(ExecLock { _file: f }))
        } else {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Run the failover command, its output on our stderr so it cannot mix
/// with the event stream on stdout. Returns what happened and its status.
fn fire(command: &str, eval: &Evaluation, timeout: Duration) -> (String, Status) {
    let stderr = match io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    let since = eval
        .timer
        .down_since
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let child = Command::new("/bin/sh")
        .args(["-c", command])
        .env("MAESTRO_WATCH_TARGET", &eval.target)
        .env("MAESTRO_WATCH_DOWN_SINCE", since)
        .stdin(Stdio::null())
        .stdout(stderr)
        .stderr(Stdio::inherit())
        .spawn();
    match child {
        Err(e) => (format!("could not start: {e}"), Status::Unknown),
        Ok(child) => match probe::wait_bounded(child, timeout) {
            None => (
                format!("killed after {}", human_duration(timeout)),
                Status::Critical,
            ),
            Some(out) if out.status.success() => ("exited 0".into(), Status::Ok),
            Some(out) => (format!("failed: {}", out.status), Status::Critical),
        },
    }
}

pub fn run(
    ctx: &mut Context,
    p: &ProbeArgs,
    d: &DecideArgs,
    r: &RunArgs,
) -> Result<Report, ToolError> {
    if ctx.globals.format == Format::Nagios {
        return Err(usage(
            "run streams events: use --format text or json (once is the Nagios check)".into(),
        ));
    }
    let config = ctx.config()?.config.clone();
    let probes = settings::probe_settings(p, &config).map_err(usage)?;
    let decide = settings::decide_settings(d, &config).map_err(usage)?;
    let exec = r.exec.clone().or(config.watch.exec.clone());
    let exec_timeout = r
        .exec_timeout
        .or(config.watch.exec_timeout.map(|d| d.0))
        .unwrap_or(settings::DEFAULT_EXEC_TIMEOUT);
    let state_dir = ctx.state_dir()?;
    let mut catalog = open_catalog(ctx)?;
    let end = r.run_for.map(|d| Instant::now() + d);
    let mut previous: Option<WatchState> = None;
    let mut fired: Option<Check> = None;
    loop {
        let eval = evaluate::evaluate(&probes, &decide, &mut catalog)
            .map_err(|e| ToolError::Failed(e.into()))?;
        if previous != Some(eval.state) {
            // A reader that went away ends the watcher quietly.
            if event(ctx, &eval, previous).is_err() {
                return Err(ToolError::Interrupted);
            }
        }
        if let (WatchState::Down, Some(cmd), Some(since)) =
            (eval.state, exec.as_deref(), eval.timer.down_since)
        {
            if let Some(_lock) =
                ExecLock::try_take(&state_dir).map_err(|e| ToolError::Failed(e.into()))?
            {
                if timer::claim_firing(&mut catalog, &eval.target, since)
                    .map_err(|e| ToolError::Failed(e.into()))?
                {
                    let (outcome, status) = fire(cmd, &eval, exec_timeout);
                    let _ = exec_event(ctx, cmd, &outcome, status);
                    fired = Some(Check::new("exec", status, format!("{cmd}: {outcome}")));
                }
            }
        }
        previous = Some(eval.state);
        let finished = end.is_some_and(|e| Instant::now() >= e);
        if finished {
            let mut report = Report::new(ctx.tool, Some("run"));
            eval.report(&mut report);
            if let Some(c) = fired {
                report.push(c);
            }
            return Ok(report);
        }
        let mut wait = decide.interval;
        if let Some(e) = end {
            wait = wait.min(e.saturating_duration_since(Instant::now()));
        }
        if !signal::sleep(wait) {
            return Err(ToolError::Interrupted);
        }
    }
}
