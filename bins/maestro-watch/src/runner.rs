//! The three ways to run the watcher: `probe` (for a witness), `once` (for
//! cron and Nagios) and `run` (the loop that fires `--exec`).

use crate::evaluate::{self, Evaluation, WatchState};
use crate::probe::{self, ProbeState};
use crate::records::{EventRecord, ExecRecord, WatchRecord};
use crate::settings::{self, DecideArgs, ProbeArgs};
use crate::timer;
use crate::RunArgs;
use maestro_common::catalog::Catalog;
use maestro_common::cli::{Context, ToolError};
use maestro_common::platform::{self, GroupChild, GroupEnd, LockKind};
use maestro_common::render::{json::write_record, text::human_duration, Format};
use maestro_common::report::{Check, Report};
use maestro_common::safe_output::printable;
use maestro_common::{signal, Status};
use std::io::{self, Write};
use std::process::Stdio;
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

/// `config check`: the probes and the decision settings resolved as `once`
/// and `run` resolve them with no flags, so the check passes only for a
/// configuration a watcher can start with.
pub fn config_check(config: &crate::config::Sources) -> Check {
    if config.watch == crate::config::WatchConfig::default() && config.primary.is_none() {
        return Check::ok(
            "watch",
            "[watch] not configured and no [primary] host: a run takes its target and probes from its flags",
        );
    }
    let resolved = settings::decision_probe_settings(&ProbeArgs::default(), config)
        .and_then(|p| settings::decide_settings(&DecideArgs::default(), config).map(|d| (p, d)));
    match resolved {
        Err(e) => Check::new("watch", Status::Critical, e),
        Ok((p, d)) => {
            let names: Vec<String> = p.probes.iter().map(|x| x.name()).collect();
            Check::ok(
                "watch",
                format!(
                    "{} probe(s), threshold {}, {} witness(es)",
                    names.len(),
                    human_duration(d.threshold),
                    d.witnesses.len()
                ),
            )
            .detail("probes", names.join(", "))
            .detail("interval_s", d.interval.as_secs_f64())
            .detail("exec", config.watch.exec.clone().unwrap_or_default())
        }
    }
}

pub fn probe(ctx: &mut Context, args: &ProbeArgs) -> Result<Report, ToolError> {
    let config = crate::config::Sources::from_loaded(ctx.config()?)?;
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
    let config = crate::config::Sources::from_loaded(ctx.config()?)?;
    let probes = settings::decision_probe_settings(p, &config).map_err(usage)?;
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
    // Masked as every report is (write_record masks each value; text goes
    // through printable): a probe's detail may quote what a server sent.
    let mut out = io::stdout().lock();
    if ctx.globals.format == Format::Json {
        write_record(
            &mut out,
            &WatchRecord::Event(EventRecord::new(
                at.clone(),
                &eval.target,
                eval.state,
                previous,
                eval.status,
                &eval.message,
                eval.down_for().map(|d| d.as_secs_f64()),
            )),
        )?;
    } else {
        writeln!(
            out,
            "{at} {} {}: {}",
            eval.state.as_str(),
            printable(&eval.target),
            printable(&eval.message)
        )?;
    }
    out.flush()
}

fn exec_event(ctx: &Context, command: &str, outcome: &str, status: Status) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if ctx.globals.format == Format::Json {
        write_record(
            &mut out,
            &WatchRecord::Exec(ExecRecord::new(command, outcome, status)),
        )?;
    } else {
        writeln!(out, "exec {}: {}", printable(command), printable(outcome))?;
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
        if platform::try_lock(&f, LockKind::Exclusive)? {
            Ok(Some(ExecLock { _file: f }))
        } else {
            Ok(None)
        }
    }
}

/// How long the command's group gets between SIGTERM and SIGKILL: the
/// runbook may clean up, but within the grace the tool itself has after a
/// signal. (Windows has no SIGTERM for it: the group ends at once.)
const TERM_GRACE: Duration = Duration::from_secs(1);

/// Run the failover command, its output on our stderr so it cannot mix
/// with the event stream on stdout, in a process group of its own. Returns
/// what happened and its status.
fn fire(command: &str, eval: &Evaluation, timeout: Duration) -> (String, Status) {
    let stderr = platform::stderr_for_child();
    let since = eval
        .timer
        .down_since
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let child = GroupChild::spawn(
        platform::shell_command(command)
            .env("MAESTRO_WATCH_TARGET", &eval.target)
            .env("MAESTRO_WATCH_DOWN_SINCE", since)
            .stdin(Stdio::null())
            .stdout(stderr)
            .stderr(Stdio::inherit()),
    );
    match child {
        Err(e) => (format!("could not start: {e}"), Status::Unknown),
        Ok(mut child) => match child.wait_bounded(timeout, TERM_GRACE, signal::interrupted) {
            GroupEnd::TimedOut => (
                format!(
                    "killed after {} (its whole process group)",
                    human_duration(timeout)
                ),
                Status::Critical,
            ),
            GroupEnd::Interrupted => (
                "stopped with the watcher (its whole process group)".into(),
                Status::Critical,
            ),
            GroupEnd::Exited(status) if status.success() => ("exited 0".into(), Status::Ok),
            GroupEnd::Exited(status) => (format!("failed: {status}"), Status::Critical),
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
    let config = crate::config::Sources::from_loaded(ctx.config()?)?;
    let probes = settings::decision_probe_settings(p, &config).map_err(usage)?;
    let decide = settings::decide_settings(d, &config).map_err(usage)?;
    let exec = r.exec.clone().or(config.watch.exec.clone());
    let exec_timeout = r
        .exec_timeout
        .or(config.watch.exec_timeout.map(|d| d.0))
        .unwrap_or(settings::DEFAULT_EXEC_TIMEOUT);
    let state_dir = ctx.state_dir()?;
    let mut catalog = open_catalog(ctx)?;
    let end = r.run_for.map(|d| Instant::now() + d);
    let mut previous: Option<Evaluation> = None;
    let mut fired: Option<Check> = None;
    let mut stdout_failed = false;
    loop {
        let Some(seen) = observe_unless_stopped(&probes, &decide) else {
            return Ok(stopped_report(ctx, previous.as_ref(), fired));
        };
        let eval = evaluate::judge(seen, &probes, &decide, &mut catalog)
            .map_err(|e| ToolError::Failed(e.into()))?;
        let previous_state = previous.as_ref().map(|p| p.state);
        // A reader that went away (EPIPE) ends the watcher quietly, but only
        // after this evaluation's --exec: the failover never hangs on who
        // reads the events. Any other write error (a full disk) is said once
        // on stderr and the watcher goes on.
        let mut reader_gone = false;
        if previous_state != Some(eval.state) {
            if let Err(e) = event(ctx, &eval, previous_state) {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    reader_gone = true;
                } else if !stdout_failed {
                    stdout_failed = true;
                    ctx.warn(format!(
                        "cannot write the events to stdout: {e}; watching on (--exec still fires)"
                    ));
                }
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
        if reader_gone {
            return Err(ToolError::Interrupted);
        }
        let finished = end.is_some_and(|e| Instant::now() >= e);
        if finished {
            let mut report = Report::new(ctx.tool, Some("run"));
            eval.report(&mut report);
            if let Some(c) = fired {
                report.push(c);
            }
            return Ok(report);
        }
        previous = Some(eval);
        let mut wait = decide.interval;
        if let Some(e) = end {
            wait = wait.min(e.saturating_duration_since(Instant::now()));
        }
        if !signal::sleep(wait) {
            return Ok(stopped_report(ctx, previous.as_ref(), fired));
        }
    }
}

/// One observation on a thread of its own, waited for in short slices: a
/// SIGTERM or SIGINT ends the wait at once (the observation is dropped,
/// its probes end at their own timeouts). None when stopped.
fn observe_unless_stopped(
    probes: &settings::ProbeSettings,
    decide: &settings::DecideSettings,
) -> Option<evaluate::Observation> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (p, d) = (probes.clone(), decide.clone());
    std::thread::spawn(move || {
        let _ = tx.send(evaluate::observe(&p, &d));
    });
    loop {
        if signal::interrupted() {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(seen) => return Some(seen),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// The report of a `run` stopped by SIGTERM or SIGINT: the last evaluation
/// and what `--exec` did, then the summary; the harness exits 143 or 130.
fn stopped_report(ctx: &Context, last: Option<&Evaluation>, fired: Option<Check>) -> Report {
    let mut report = Report::new(ctx.tool, Some("run"));
    match last {
        Some(eval) => eval.report(&mut report),
        None => report.push(Check::new(
            "decision",
            Status::Unknown,
            "stopped before the first evaluation ended",
        )),
    }
    if let Some(c) = fired {
        report.push(c);
    }
    let why = "stopped by a signal";
    report.summary = Some(match report.summary.take() {
        Some(s) => format!("{s} ({why})"),
        None => why.into(),
    });
    report
}
