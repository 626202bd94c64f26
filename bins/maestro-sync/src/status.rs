//! `status`, `hold` and `release`.

use crate::cli::{LockArgs, StatusArgs};
use crate::generations::{Hold, Layout};
use crate::journal;
use crate::receive::TOOL;
use crate::settings::Settings;
use maestro_common::cli::{Context, ToolError};
use maestro_common::perfdata::{Perfdata, Range, Uom};
use maestro_common::report::{Check, Report};
use maestro_common::sync_lock::{self, LockMode, SyncLock, SyncLockError};
use maestro_common::Status;
use std::time::Duration;

fn age_text(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(0.0) as u64)).to_string()
}

fn rpo_check(name: &str, rpo: f64, warn: Duration, crit: Duration, what: String) -> Check {
    let status = if rpo > crit.as_secs_f64() {
        Status::Critical
    } else if rpo > warn.as_secs_f64() {
        Status::Warning
    } else {
        Status::Ok
    };
    Check::new(name, status, what).perf(
        Perfdata::new("rpo", rpo.max(0.0).round(), Uom::Seconds)
            .with_warn(Range::above(warn.as_secs_f64()))
            .with_crit(Range::above(crit.as_secs_f64()))
            .with_min(0.0),
    )
}

pub fn status(
    ctx: &mut Context,
    settings: &Settings,
    args: StatusArgs,
) -> Result<Report, ToolError> {
    let warn = args.warning.unwrap_or(settings.rpo_warning);
    let crit = args.critical.unwrap_or(settings.rpo_critical);
    if crit < warn {
        return Err(ToolError::Usage(
            "--critical is shorter than --warning".into(),
        ));
    }
    let mut report = Report::new(TOOL, Some("status"));
    let state_dir = ctx.state_dir()?;
    let now_ns = maestro_snapshot_verify::time::now_ns();
    let receiving = settings.generations.as_deref().filter(|g| g.is_dir());
    if let Some(gen) = receiving {
        let layout = Layout::new(gen);
        match layout.current() {
            Err(e) => report.push(Check::new("current", Status::Critical, e.to_string())),
            Ok(None) => report.push(Check::new(
                "current",
                Status::Critical,
                format!(
                    "no current generation in {}: no complete, verified replica yet",
                    gen.display()
                ),
            )),
            Ok(Some(id)) => match layout.meta(&id) {
                Err(e) => report.push(Check::new(
                    "current",
                    Status::Critical,
                    format!("{id}: {e}"),
                )),
                Ok(meta) => {
                    let age = (now_ns - meta.point_in_time_ns) as f64 / 1e9;
                    let mut c = rpo_check(
                        "current",
                        age,
                        warn,
                        crit,
                        format!(
                            "current -> {id}: point in time {} ({} old), from {}:{}, verified {}",
                            meta.point_in_time,
                            age_text(age),
                            meta.source_host,
                            meta.source,
                            meta.verified_at
                        ),
                    )
                    .detail("generation", id.clone())
                    .detail("point_in_time", meta.point_in_time.clone())
                    .detail("rpo_s", age.round())
                    .detail("snapshot", meta.snapshot.clone())
                    .detail("consistent", meta.consistent)
                    .detail(
                        "check",
                        format!("{}: {}", meta.check_status, meta.check_message),
                    );
                    if !meta.consistent {
                        c.status = c.status.worst(Status::Warning);
                        c.message
                            .push_str("; NOT a point in time (taken without a snapshot)");
                    }
                    report.push(c);
                }
            },
        }
        let all = layout.generations().unwrap_or_default();
        let partials = layout.partials().unwrap_or_default();
        let mut c = Check::ok(
            "generations",
            format!(
                "{} complete (keep {}){}",
                all.len(),
                settings.keep,
                if partials.is_empty() {
                    String::new()
                } else {
                    format!("; partial, to be resumed: {}", partials.join(", "))
                }
            ),
        )
        .detail("complete", serde_json::json!(all))
        .detail("partial", serde_json::json!(partials))
        .perf(Perfdata::count("generations", all.len() as u64));
        match layout.hold() {
            Ok(Some(h)) => {
                c.message.push_str(&format!(
                    "; {} is held since {} on {} (syncs refused until `maestro-sync release`)",
                    h.generation, h.since, h.host
                ));
                c = c.detail("hold", serde_json::json!(h));
            }
            Ok(None) => {}
            Err(e) => {
                c.status = Status::Warning;
                c.message.push_str(&format!("; {e}"));
            }
        }
        report.push(c);
    }
    let wait = settings.lock_wait.max(Duration::from_secs(5));
    match journal::recent(&state_dir, args.limit.max(1), wait) {
        Err(e) => report.push(Check::new(
            "runs",
            Status::Unknown,
            format!("cannot read the journal: {e}"),
        )),
        Ok(runs) => {
            if receiving.is_none() {
                // The sending side: the RPO of the last run that made a
                // generation, as this side saw it.
                match journal::last_success(&state_dir, wait) {
                    Ok(Some(r)) => {
                        let age = r.point_in_time_ns.map_or(f64::MAX, |p| (now_ns - p) as f64 / 1e9);
                        report.push(
                            rpo_check(
                                "current",
                                age,
                                warn,
                                crit,
                                format!(
                                    "the last generation made from here is {} ({} of {}), {} old",
                                    r.generation.clone().unwrap_or_default(),
                                    r.point_in_time.clone().unwrap_or_default(),
                                    r.peer,
                                    age_text(age)
                                ),
                            )
                            .detail("generation", r.generation.clone()),
                        );
                    }
                    Ok(None) => report.push(Check::new(
                        "current",
                        Status::Unknown,
                        "no sync has made a generation from here, and no generations folder is here",
                    )),
                    Err(e) => report.push(Check::new("current", Status::Unknown, e.to_string())),
                }
            }
            let mut c = match runs.first() {
                None => Check::ok("runs", "no run recorded"),
                Some(last) => {
                    let text = format!(
                        "last run: {} {} at {}: {} ({} bytes sent, {} files linked, cpu {:.2}s here and {:.2}s there)",
                        last.role,
                        last.result,
                        last.finished_at,
                        last.message,
                        last.bytes_sent,
                        last.files_linked,
                        last.cpu_source_s.unwrap_or(0.0),
                        last.cpu_target_s.unwrap_or(0.0)
                    );
                    let status = if last.result == journal::OK || last.result == journal::WARNING {
                        Status::Ok
                    } else {
                        Status::Warning
                    };
                    Check::new("runs", status, text)
                }
            };
            c = c.detail("recent", serde_json::json!(runs));
            report.push(c);
        }
    }
    Ok(report)
}

fn lock(settings: &Settings, wait: Option<Duration>) -> Result<(Layout, SyncLock), Box<Check>> {
    let gen = settings
        .generations()
        .map_err(|e| Box::new(Check::new("generations", Status::Unknown, e.to_string())))?;
    let layout = Layout::new(gen);
    layout
        .ensure()
        .map_err(|e| Box::new(Check::new("generations", Status::Unknown, e.to_string())))?;
    let lock = SyncLock::acquire(
        &sync_lock::lock_file(gen),
        LockMode::Exclusive,
        wait.unwrap_or(settings.lock_wait),
        true,
    )
    .map_err(|e| match e {
        SyncLockError::Interrupted { .. } => {
            Box::new(Check::new("lock", Status::Unknown, e.to_string()))
        }
        e => Box::new(Check::new(
            "lock",
            Status::Critical,
            format!("{e}: a sync is running"),
        )),
    })?;
    Ok((layout, lock))
}

/// `hold`: pins `current` (what a Maestro start does first).
pub fn hold(settings: &Settings, args: LockArgs) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("hold"));
    let (layout, mut lock) = match lock(settings, args.wait) {
        Ok(l) => l,
        Err(c) => {
            report.push(*c);
            return Ok(report);
        }
    };
    lock.describe("maestro-sync hold");
    let c = match layout.current() {
        Err(e) => Check::new("hold", Status::Critical, e.to_string()),
        Ok(None) => Check::new(
            "hold",
            Status::Critical,
            "no current generation: there is no complete, verified replica to start Maestro from",
        ),
        Ok(Some(id)) => match layout.meta(&id) {
            Err(e) => Check::new("hold", Status::Critical, format!("current -> {id}: {e}")),
            Ok(meta) => {
                let h = Hold {
                    generation: id.clone(),
                    since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    host: maestro_snapshot_verify::capture::host_name(),
                };
                match layout.set_hold(&h) {
                    Ok(()) => Check::ok(
                        "hold",
                        format!(
                            "{id} (point in time {}) is held: no sync replaces or prunes it until `maestro-sync release`",
                            meta.point_in_time
                        ),
                    )
                    .detail("generation", id),
                    Err(e) => Check::new("hold", Status::Critical, e.to_string()),
                }
            }
        },
    };
    report.push(c);
    Ok(report)
}

/// `release`: syncs may replace the held generation again.
pub fn release(settings: &Settings, args: LockArgs) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("release"));
    let (layout, _lock) = match lock(settings, args.wait) {
        Ok(l) => l,
        Err(c) => {
            report.push(*c);
            return Ok(report);
        }
    };
    let held = layout.hold().ok().flatten();
    report.push(match layout.clear_hold() {
        Ok(true) => Check::ok(
            "release",
            format!(
                "{} is no longer held: the next sync may replace it",
                held.map(|h| h.generation).unwrap_or_default()
            ),
        ),
        Ok(false) => Check::ok("release", "nothing was held"),
        Err(e) => Check::new("release", Status::Critical, e.to_string()),
    });
    Ok(report)
}
