//! The subcommands' work, shared by the CLI and the fence-agent mode.

use crate::agent_level;
use crate::config::FenceLevel;
use crate::deadline::Deadline;
use crate::isolate;
use crate::journal::{self, Journal, RunLock};
use crate::level::{Change, LevelOutcome, Verdict};
use crate::marker::Marker;
use crate::plan;
use crate::report_build::{level_check, verdict_message};
use crate::settings::Settings;
use crate::ssh_level;
use maestro_common::cli::ToolError;
use maestro_common::{Check, Finding, Report, Status};
use serde_json::json;
use std::path::{Path, PathBuf};

pub const TOOL: &str = "maestro-fence";

/// What every operation needs.
pub struct Env<'a> {
    pub settings: Settings,
    pub state_dir: PathBuf,
    pub warn: &'a mut dyn FnMut(String),
}

fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(anyhow::anyhow!("{e}"))
}

/// Runs one level of `fence`.
fn fence_level(
    env: &mut Env,
    level: FenceLevel,
    marker: &Marker,
    isolate_targets: Option<&isolate::Targets>,
    deadline: &Deadline,
) -> LevelOutcome {
    let s = &env.settings;
    match level {
        FenceLevel::Ssh => ssh_level::run(s, &plan::fence_plan(s, marker), deadline),
        FenceLevel::Agent => agent_level::fence(s, deadline, env.warn),
        FenceLevel::Isolate => match isolate_targets {
            Some(t) => isolate::fence(s, t, deadline),
            None => isolate::fence(s, &isolate::targets(s, s.command_timeout), deadline),
        },
    }
}

/// `fence`: tries the levels in order until one is confirmed. Returns the
/// report and whether the primary is fenced (verified).
pub fn fence(env: &mut Env, dry_run: bool) -> Result<(Report, bool), ToolError> {
    let mut report = Report::new(
        TOOL,
        Some(if dry_run { "fence --dry-run" } else { "fence" }),
    );
    if dry_run {
        dry_run_fence(env, &mut report)?;
        return Ok((report, false));
    }
    let deadline = Deadline::after(env.settings.deadline);
    // Before anything changes, not even an epoch: isolate must never cut
    // this server off from itself, and it is a fallback of every other
    // level, so a refusal stops the whole fence.
    let isolate_targets = if env.settings.levels.contains(&FenceLevel::Isolate) {
        let timeout = deadline
            .cap(env.settings.command_timeout)
            .unwrap_or_default();
        let t = isolate::targets(&env.settings, timeout);
        if let isolate::Targets::Refused(why) = &t {
            report.push(
                Check::new(
                    "fence",
                    Status::Critical,
                    format!(
                        "{} is NOT fenced: {why}; nothing was changed",
                        env.settings.primary.host
                    ),
                )
                .detail("primary", env.settings.primary.host.clone()),
            );
            report.finish();
            return Ok((report, false));
        }
        Some(t)
    } else {
        None
    };
    // A fence that cannot record its epoch within its deadline is not a
    // fence: nothing may change before the epoch is journaled, and no wait
    // on the catalog (another process's write transaction) outlives the
    // deadline.
    let refuse = |mut report: Report, why: String| {
        report.push(Check::new(
            "fence",
            Status::Critical,
            format!("NOT fenced: {why}; nothing was changed"),
        ));
        report.finish();
        Ok((report, false))
    };
    // The journal first: it creates the state folder mode 0700.
    let mut journal = match Journal::open_within(&env.state_dir, deadline.remaining()) {
        Ok(j) => j,
        Err(e) => return refuse(report, format!("cannot record the fence's epoch: {e}")),
    };
    let _lock = match RunLock::acquire(&env.state_dir, deadline.remaining()) {
        Ok(l) => l,
        Err(e) => return refuse(report, e.to_string()),
    };
    // A sync into this server's generations (maestro-sync) is ended
    // before the epoch is taken and none starts while the fence runs:
    // after it, the journal holds the fence and every sync refuses, so
    // `current` no longer moves under the Maestro about to start here.
    let _sync_lock = match env.settings.sync.generations.as_deref() {
        None => None,
        Some(g) => match maestro_common::sync_lock::take_over(g, deadline.remaining()) {
            Ok(l) => l,
            Err(e) => {
                return refuse(
                    report,
                    format!("a sync into {} could not be stopped: {e}", g.display()),
                )
            }
        },
    };
    let s = env.settings.clone();
    let began = journal
        .wait_at_most(deadline.remaining())
        .and_then(|()| journal.begin("fence", &s.primary.host, &s.failover_name()));
    let epoch = match began {
        Ok(e) => e,
        Err(e) => return refuse(report, format!("cannot record the fence's epoch: {e}")),
    };
    let marker = Marker {
        epoch,
        failover: s.failover_name(),
        fenced_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let mut outcomes: Vec<LevelOutcome> = Vec::new();
    // After the first change a journal error no longer stops the fence (the
    // primary is half-changed); it makes the verdict "not fenced" instead,
    // since `check` trusts only what the journal holds.
    let mut journal_error: Option<String> = None;
    for &level in &s.levels {
        let outcome = fence_level(env, level, &marker, isolate_targets.as_ref(), &deadline);
        if let Err(e) = journal
            .wait_at_most(deadline.remaining())
            .and_then(|()| journal.add_steps(epoch, &outcome.steps))
        {
            journal_error.get_or_insert(e.to_string());
        }
        let confirmed = outcome.verdict.is_confirmed();
        outcomes.push(outcome);
        if confirmed {
            break;
        }
    }
    let levels_json = json!(outcomes
        .iter()
        .map(LevelOutcome::summary_json)
        .collect::<Vec<_>>());
    let changes: Vec<Change> = outcomes.iter().flat_map(|o| o.changes.clone()).collect();
    let mut confirmed = outcomes
        .iter()
        .find(|o| o.verdict.is_confirmed())
        .map(|o| o.level);
    let result = if confirmed.is_some() && journal_error.is_none() {
        journal::FENCED
    } else if changes.is_empty() {
        journal::NOT_FENCED
    } else {
        journal::PARTIAL
    };
    if let Err(e) = journal.wait_at_most(deadline.remaining()).and_then(|()| {
        journal.finish(
            epoch,
            result,
            confirmed.map(FenceLevel::as_str),
            &levels_json,
            &json!(changes),
        )
    }) {
        journal_error.get_or_insert(e.to_string());
    }
    if let Some(e) = &journal_error {
        report.push(Check::new(
            "journal",
            Status::Critical,
            format!("the fence could not be journaled within its deadline ({e}): it does not count as a fence; `check` refuses until one is journaled"),
        ));
        confirmed = None;
    }
    for o in &outcomes {
        let status = match (&o.verdict, confirmed) {
            (Verdict::Confirmed(_), _) => Status::Ok,
            (_, Some(_)) => Status::Warning,
            (_, None) => Status::Critical,
        };
        report.push(level_check(o, status, verdict_message(&o.verdict)));
    }
    let tried: Vec<&str> = outcomes.iter().map(|o| o.level.as_str()).collect();
    let summary = match confirmed {
        Some(level) => Check::ok(
            "fence",
            format!(
                "{} fenced by the {} level (epoch {epoch})",
                s.primary.host,
                level.as_str()
            ),
        ),
        None if changes.is_empty() => Check::new(
            "fence",
            Status::Critical,
            format!(
                "{} is NOT fenced: no level confirmed (tried {}; epoch {epoch}); nothing was changed",
                s.primary.host,
                tried.join(", ")
            ),
        ),
        None => {
            report.push(changes_check(&changes, Status::Critical));
            Check::new(
                "fence",
                Status::Critical,
                format!(
                    "{} is NOT fenced, only partly: no level confirmed (tried {}; epoch {epoch}), after {} change(s) (see `changes`; `maestro-fence unfence` undoes what it can)",
                    s.primary.host,
                    tried.join(", "),
                    changes.len()
                ),
            )
        }
    }
    .detail("result", result)
    .detail("epoch", epoch)
    .detail("primary", s.primary.host.clone())
    .detail("levels_tried", json!(tried))
    .detail("deadline_s", s.deadline.as_secs_f64());
    report.push(summary);
    report.finish();
    let _ = journal
        .catalog_mut()
        .record_run(&report, &json!({"epoch": epoch, "levels": levels_json}));
    Ok((report, confirmed.is_some()))
}

/// What a fence changed before it failed, one finding a change, with
/// what undoes it: the admin's list for `unfence`.
fn changes_check(changes: &[Change], status: Status) -> Check {
    let lines: Vec<String> = changes.iter().map(Change::line).collect();
    let mut c = Check::new(
        "changes",
        status,
        format!(
            "partial: changed before the fence failed: {}",
            lines.join("; ")
        ),
    )
    .detail("changes", json!(changes));
    for ch in changes {
        c.add_finding(
            Finding::new(
                status,
                ch.step.clone(),
                format!("{}; {}", ch.state, ch.undo),
            )
            .at(ch.target.clone())
            .detail("level", ch.level.clone()),
        );
    }
    c
}

/// The epoch the next run would take, for a dry run: a missing catalog is
/// not created (a dry run changes nothing).
fn peek_next_epoch(state_dir: &Path) -> u64 {
    if !state_dir.join(maestro_common::catalog::FILE_NAME).exists() {
        return 1;
    }
    Journal::open(state_dir)
        .ok()
        .and_then(|j| j.latest().ok().flatten())
        .map_or(1, |r| r.epoch + 1)
}

fn dry_run_fence(env: &mut Env, report: &mut Report) -> Result<(), ToolError> {
    let s = &env.settings;
    let next = peek_next_epoch(&env.state_dir);
    let marker = Marker {
        epoch: next,
        failover: s.failover_name(),
        fenced_at: "<time of the run>".to_string(),
    };
    for &level in &s.levels {
        let mut c = Check::ok(
            format!("level {}", level.as_str()),
            "would run (dry run: nothing changed)",
        );
        let add = |c: &mut Check, step: &str, target: &str, what: String| {
            c.add_finding(Finding::new(Status::Ok, step.to_string(), what).at(target.to_string()));
        };
        match level {
            FenceLevel::Ssh => {
                let p = plan::fence_plan(s, &marker);
                let t = s.primary_target();
                add(
                    &mut c,
                    "connect",
                    &t,
                    format!(
                        "ssh connect (timeout {}s, host key checked against {})",
                        s.primary.connect_timeout().as_secs_f64(),
                        s.primary.known_hosts_path().display()
                    ),
                );
                for x in &p.prechecks {
                    add(
                        &mut c,
                        &format!("check {}", x.name),
                        &t,
                        crate::remote::bounded(s.os, &x.command, s.command_timeout),
                    );
                }
                for x in &p.actions {
                    let mut what = crate::remote::bounded(s.os, &x.command, s.command_timeout);
                    if let Some(i) = &x.input {
                        what.push_str(&format!(" <<< {:?}", i));
                    }
                    add(&mut c, &x.name, &t, what);
                }
                for x in &p.verify {
                    add(
                        &mut c,
                        &format!("verify {}", x.name),
                        &t,
                        crate::remote::bounded(s.os, &x.command, s.command_timeout),
                    );
                }
            }
            FenceLevel::Agent => match agent_level::describe(s, "off") {
                Ok(d) => {
                    add(&mut c, "action=off", "local", d);
                    add(
                        &mut c,
                        "action=status",
                        "local",
                        format!(
                            "{} (must exit 2: off)",
                            agent_level::describe(s, "status").unwrap_or_default()
                        ),
                    );
                }
                Err(e) => {
                    c.status = Status::Unknown;
                    c.message = e;
                }
            },
            FenceLevel::Isolate => match isolate::targets(s, s.command_timeout) {
                isolate::Targets::Ready(addrs) => {
                    for (name, what) in isolate::describe(s, &addrs) {
                        add(&mut c, &name, "local", what);
                    }
                }
                isolate::Targets::Unresolved(e) => {
                    c.status = Status::Unknown;
                    c.message = e;
                }
                isolate::Targets::Refused(e) => {
                    c.status = Status::Critical;
                    c.message = format!("a real run would refuse: {e}");
                }
            },
        }
        report.push(c);
    }
    report.push(
        Check::ok(
            "fence",
            format!(
                "dry run: would fence {} as epoch {next}; nothing was changed",
                s.primary.host
            ),
        )
        .detail("epoch", next),
    );
    Ok(())
}

/// Asks one level whether the primary is fenced now.
fn level_status(
    env: &mut Env,
    level: FenceLevel,
    epoch: Option<u64>,
    deadline: &Deadline,
) -> LevelOutcome {
    let s = &env.settings;
    let mut out = match level {
        FenceLevel::Ssh => ssh_level::run(s, &plan::fenced_probes(s, epoch), deadline),
        FenceLevel::Agent => agent_level::status(s, deadline, env.warn),
        FenceLevel::Isolate => isolate::status(s, deadline),
    };
    if out.unreachable && !out.verdict.is_confirmed() {
        out.verdict = Verdict::CannotTell(out.verdict.text().to_string());
    }
    out
}

/// When the newest run for the primary is a fence that stopped half-way,
/// what it changed, so that `status` shows the primary as partly fenced.
/// A missing catalog is not created (`status` changes nothing).
fn partial_from_journal(env: &Env, answer: Option<bool>) -> Option<Check> {
    if !env
        .state_dir
        .join(maestro_common::catalog::FILE_NAME)
        .exists()
    {
        return None;
    }
    let journal = Journal::open_within(&env.state_dir, env.settings.command_timeout).ok()?;
    let last = journal
        .latest_for(&env.settings.primary.host)
        .ok()
        .flatten()?;
    if last.command != "fence" || last.result != journal::PARTIAL {
        return None;
    }
    let changes: Vec<Change> = serde_json::from_value(last.changes.clone()).unwrap_or_default();
    let status = match answer {
        Some(true) => Status::Ok,
        Some(false) => Status::Critical,
        None => Status::Unknown,
    };
    let mut c = changes_check(&changes, status);
    c.name = "journal".into();
    c.message = format!(
        "partial: the last fence (epoch {}, {}) failed after changing: {}",
        last.epoch,
        last.started_at,
        changes
            .iter()
            .map(Change::line)
            .collect::<Vec<_>>()
            .join("; ")
    );
    Some(c.detail("epoch", last.epoch))
}

/// `status`: is the primary fenced now, per level. `Some(true)` fenced,
/// `Some(false)` not, `None` cannot tell.
pub fn status(env: &mut Env) -> (Report, Option<bool>) {
    let mut report = Report::new(TOOL, Some("status"));
    let deadline = Deadline::after(env.settings.deadline);
    let levels = env.settings.levels.clone();
    let outcomes: Vec<LevelOutcome> = levels
        .iter()
        .map(|&l| level_status(env, l, None, &deadline))
        .collect();
    let fenced_by = outcomes
        .iter()
        .find(|o| o.verdict.is_confirmed())
        .map(|o| o.level);
    let any_no = outcomes
        .iter()
        .any(|o| matches!(o.verdict, Verdict::NotConfirmed(_)));
    for o in &outcomes {
        let status = match (&o.verdict, fenced_by) {
            (Verdict::Confirmed(_), _) | (_, Some(_)) => Status::Ok,
            (Verdict::NotConfirmed(_), None) => Status::Critical,
            (Verdict::CannotTell(_), None) => Status::Unknown,
        };
        let message = match (&o.verdict, fenced_by) {
            (Verdict::Confirmed(t), _) => format!("fenced: {t}"),
            (v, Some(by)) => format!(
                "not by this level ({}); fenced by {}",
                v.text(),
                by.as_str()
            ),
            (Verdict::NotConfirmed(t), None) => format!("NOT fenced: {t}"),
            (v, None) => format!("cannot tell: {}", v.text()),
        };
        report.push(level_check(o, status, message));
    }
    let answer = match (fenced_by, any_no) {
        (Some(_), _) => Some(true),
        (None, true) => Some(false),
        (None, false) => None,
    };
    if let Some(c) = partial_from_journal(env, answer) {
        report.push(c);
    }
    (report, answer)
}

/// `check`: the pre-start gate on the failover server.
pub fn check(env: &mut Env) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("check"));
    let journal = Journal::open_within(&env.state_dir, env.settings.deadline).map_err(failed)?;
    let primary = env.settings.primary.host.clone();
    let fence = journal.last_confirmed_fence(&primary).map_err(failed)?;
    let unfence = journal.last_unfence(&primary).map_err(failed)?;
    let Some(fence) = fence else {
        report.push(Check::new(
            "journal",
            Status::Critical,
            format!("no confirmed fence of {primary} in the journal: do not start Maestro here"),
        ));
        return Ok(report);
    };
    if let Some(u) = unfence.filter(|u| u.epoch > fence.epoch) {
        report.push(
            Check::new("journal", Status::Critical, format!("{primary} was unfenced (epoch {}, {}) after the last confirmed fence (epoch {}): do not start Maestro here", u.epoch, u.result, fence.epoch))
                .detail("fence_epoch", fence.epoch)
                .detail("unfence_epoch", u.epoch),
        );
        return Ok(report);
    }
    let level = fence.confirmed_level.clone().unwrap_or_default();
    report.push(
        Check::ok(
            "journal",
            format!(
                "{primary} fenced by the {level} level at epoch {} ({})",
                fence.epoch,
                fence.finished_at.clone().unwrap_or_default()
            ),
        )
        .detail("epoch", fence.epoch)
        .detail("level", level.clone()),
    );
    let deadline = Deadline::after(env.settings.deadline);
    let Some(level) = [FenceLevel::Ssh, FenceLevel::Agent, FenceLevel::Isolate]
        .into_iter()
        .find(|l| l.as_str() == level)
    else {
        report.push(Check::new(
            "live",
            Status::Unknown,
            format!("the journal names an unknown level {level:?}"),
        ));
        return Ok(report);
    };
    let o = level_status(env, level, Some(fence.epoch), &deadline);
    let (status, message) = match &o.verdict {
        Verdict::Confirmed(t) => (Status::Ok, format!("re-verified: {t}")),
        Verdict::CannotTell(t) if o.unreachable => (
            Status::Ok,
            format!("not re-verified: the {} level cannot reach its target ({t}); trusting the journal's epoch {}", level.as_str(), fence.epoch),
        ),
        Verdict::CannotTell(t) => (Status::Critical, format!("cannot re-verify: {t}")),
        Verdict::NotConfirmed(t) => (Status::Critical, format!("NOT fenced any more: {t}")),
    };
    report.push(level_check(&o, status, message));
    Ok(report)
}

/// `unfence`: failback.
pub fn unfence(
    env: &mut Env,
    resume_sync: bool,
    dry_run: bool,
) -> Result<(Report, bool), ToolError> {
    let mut report = Report::new(
        TOOL,
        Some(if dry_run {
            "unfence --dry-run"
        } else {
            "unfence"
        }),
    );
    let s = env.settings.clone();
    let uses_isolate = s.levels.contains(&FenceLevel::Isolate);
    if dry_run {
        let next = peek_next_epoch(&env.state_dir);
        if uses_isolate {
            let mut c = Check::ok("level isolate", "would run (dry run: nothing changed)");
            for cmd in isolate::firewall_removal(isolate::Firewall::choose(&s), &s.table) {
                c.add_finding(Finding::new(Status::Ok, cmd.name.clone(), cmd.shown()).at("local"));
            }
            report.push(c);
        }
        let p = plan::unfence_plan(&s, next, resume_sync);
        let mut c = Check::ok("level ssh", "would run (dry run: nothing changed)");
        for x in &p.actions {
            c.add_finding(
                Finding::new(
                    Status::Ok,
                    x.name.clone(),
                    crate::remote::bounded(s.os, &x.command, s.command_timeout),
                )
                .at(s.primary_target()),
            );
        }
        for x in &p.verify {
            c.add_finding(
                Finding::new(
                    Status::Ok,
                    format!("verify {}", x.name),
                    crate::remote::bounded(s.os, &x.command, s.command_timeout),
                )
                .at(s.primary_target()),
            );
        }
        report.push(c);
        report.push(Check::ok(
            "unfence",
            format!("dry run: would unfence {} as epoch {next}", s.primary.host),
        ));
        return Ok((report, false));
    }
    let deadline = Deadline::after(s.deadline);
    let refuse = |mut report: Report, why: String| {
        report.push(Check::new(
            "unfence",
            Status::Critical,
            format!("not unfenced: {why}; nothing was changed"),
        ));
        report.finish();
        Ok((report, false))
    };
    let mut journal = match Journal::open_within(&env.state_dir, deadline.remaining()) {
        Ok(j) => j,
        Err(e) => return refuse(report, format!("cannot record the epoch: {e}")),
    };
    let _lock = match RunLock::acquire(&env.state_dir, deadline.remaining()) {
        Ok(l) => l,
        Err(e) => return refuse(report, e.to_string()),
    };
    let began = journal
        .wait_at_most(deadline.remaining())
        .and_then(|()| journal.begin("unfence", &s.primary.host, &s.failover_name()));
    let epoch = match began {
        Ok(e) => e,
        Err(e) => return refuse(report, format!("cannot record the epoch: {e}")),
    };
    let mut outcomes = Vec::new();
    if uses_isolate {
        outcomes.push(isolate::undo(&s, resume_sync, &deadline));
    }
    outcomes.push(ssh_level::run(
        &s,
        &plan::unfence_plan(&s, epoch, resume_sync),
        &deadline,
    ));
    for o in &outcomes {
        journal.add_steps(epoch, &o.steps).map_err(failed)?;
    }
    let ok = outcomes.iter().all(|o| o.verdict.is_confirmed());
    let levels_json = json!(outcomes
        .iter()
        .map(LevelOutcome::summary_json)
        .collect::<Vec<_>>());
    journal
        .finish(
            epoch,
            if ok {
                journal::UNFENCED
            } else {
                journal::UNFENCE_FAILED
            },
            None,
            &levels_json,
            &json!([]),
        )
        .map_err(failed)?;
    for o in &outcomes {
        let status = if o.verdict.is_confirmed() {
            Status::Ok
        } else {
            Status::Critical
        };
        report.push(level_check(o, status, verdict_message(&o.verdict)));
    }
    report.push(
        if ok {
            Check::ok("unfence", format!("{} unfenced (epoch {epoch}): services enabled, not started; sync {}", s.primary.host, if resume_sync { "resumed" } else { "still stopped (--resume-sync resumes it)" }))
        } else {
            Check::new("unfence", Status::Critical, format!("{} NOT fully unfenced (epoch {epoch}); `check` on this server now fails until the next fence", s.primary.host))
        }
        .detail("epoch", epoch),
    );
    report.finish();
    let _ = journal
        .catalog_mut()
        .record_run(&report, &json!({"epoch": epoch, "levels": levels_json}));
    Ok((report, ok))
}

/// `epoch`: the current fencing token.
pub fn epoch(state_dir: &Path) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("epoch"));
    let journal = Journal::open(state_dir).map_err(failed)?;
    match journal.latest().map_err(failed)? {
        Some(r) => report.push(
            Check::ok(
                "epoch",
                format!(
                    "epoch {}: {} of {} {} ({})",
                    r.epoch,
                    r.command,
                    r.primary_host,
                    r.result,
                    r.finished_at.clone().unwrap_or(r.started_at.clone())
                ),
            )
            .detail("epoch", r.epoch)
            .detail("command", r.command)
            .detail("result", r.result)
            .detail("primary", r.primary_host)
            .detail("confirmed_level", r.confirmed_level.unwrap_or_default())
            .detail("started_at", r.started_at),
        ),
        None => {
            report.push(Check::ok("epoch", "epoch 0: nothing fenced yet").detail("epoch", 0u64))
        }
    }
    Ok(report)
}

/// `history`: the journal, newest first.
pub fn history(state_dir: &Path, limit: usize) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("history"));
    let journal = Journal::open(state_dir).map_err(failed)?;
    let rows = journal.history(limit).map_err(failed)?;
    if rows.is_empty() {
        report.push(Check::ok(
            "history",
            "the journal is empty: nothing fenced yet",
        ));
    }
    for r in rows {
        let steps = journal.steps(r.epoch).map_err(failed)?;
        let mut c = Check::ok(
            format!("epoch {}", r.epoch),
            format!(
                "{} {}: {}{} at {}",
                r.command,
                r.primary_host,
                r.result,
                r.confirmed_level
                    .as_deref()
                    .map(|l| format!(" by {l}"))
                    .unwrap_or_default(),
                r.started_at
            ),
        )
        .detail("levels", r.levels.clone())
        .detail("failover", r.failover_host.clone())
        .detail("finished_at", r.finished_at.clone().unwrap_or_default())
        .detail("changes", r.changes.clone());
        c = c.detail("steps", serde_json::to_value(&steps).unwrap_or_default());
        report.push(c);
    }
    Ok(report)
}

/// What `guard` found out from the failover server.
enum Peer {
    Epoch(u64, String),
    Unreachable(String),
}

fn ask_peer(s: &Settings) -> Peer {
    let Some(f) = &s.failover else {
        return Peer::Unreachable("no [failover] in the configuration".into());
    };
    let deadline = Deadline::after(s.deadline);
    let Some(t) = deadline.cap(f.connect_timeout()) else {
        return Peer::Unreachable("deadline passed".into());
    };
    let mut opts = f.ssh_options(false);
    opts.connect_timeout = t;
    let client = match maestro_common::ssh::SshClient::connect(&opts) {
        Ok(c) => c,
        Err(e) => return Peer::Unreachable(e.to_string()),
    };
    let command = s
        .fence
        .peer_epoch_command
        .clone()
        .unwrap_or_else(|| crate::settings::DEFAULT_PEER_EPOCH_COMMAND.to_string());
    let Some(t) = deadline.cap(s.command_timeout) else {
        return Peer::Unreachable("deadline passed".into());
    };
    match client.exec(&command, t) {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if v["type"] == "check" && v["name"] == "epoch" {
                    if let Some(e) = v["details"]["epoch"].as_u64() {
                        return Peer::Epoch(
                            e,
                            v["message"].as_str().unwrap_or_default().to_string(),
                        );
                    }
                }
            }
            Peer::Unreachable(format!(
                "`{command}` on {} gave no epoch (exit {})",
                f.host, o.exit_status
            ))
        }
        Err(e) => Peer::Unreachable(e.to_string()),
    }
}

/// The largest marker or epoch file read: a few lines.
const MARKER_LIMIT: u64 = 64 * maestro_common::fsio::KIB;

/// `guard`: on the primary, before Maestro starts.
pub fn guard(s: &Settings) -> Report {
    let mut report = Report::new(TOOL, Some("guard"));
    let marker_path = Path::new(&s.marker_file);
    // Bounded and never blocking: a FIFO or a device at the marker's path
    // must not hang the gate (it refuses, as for any unreadable marker).
    match maestro_common::fsio::read_regular_to_string(marker_path, MARKER_LIMIT) {
        Ok(text) => {
            let message = match Marker::parse(&text) {
                Ok(m) => format!("this server was fenced at epoch {} by {} at {}: Maestro must not start here (failback: `maestro-fence unfence` on the failover server)", m.epoch, m.failover, m.fenced_at),
                Err(e) => format!("a fence marker is present but unreadable ({e}): Maestro must not start here"),
            };
            report.push(
                Check::new("marker", Status::Critical, message)
                    .detail("path", s.marker_file.clone()),
            );
        }
        Err(e) if e.is_not_found() => {
            report.push(Check::ok(
                "marker",
                format!("no fence marker at {}", s.marker_file),
            ));
        }
        Err(e) => report.push(Check::new(
            "marker",
            Status::Critical,
            format!("cannot read {}: {e}; refusing", s.marker_file),
        )),
    }
    let local = match maestro_common::fsio::read_regular_to_string(
        Path::new(&s.epoch_file),
        MARKER_LIMIT,
    ) {
        Ok(t) => match t.trim().parse::<u64>() {
            Ok(e) => e,
            Err(_) => {
                report.push(Check::new(
                    "epoch",
                    Status::Critical,
                    format!("{} does not hold an epoch; refusing", s.epoch_file),
                ));
                return report;
            }
        },
        Err(e) if e.is_not_found() => 0,
        Err(e) => {
            report.push(Check::new(
                "epoch",
                Status::Critical,
                format!("cannot read {}: {e}; refusing", s.epoch_file),
            ));
            return report;
        }
    };
    let c = match ask_peer(s) {
        Peer::Epoch(peer, what) if peer > local => Check::new(
            "epoch",
            Status::Critical,
            format!("the failover server holds epoch {peer} ({what}), newer than this side's {local}: Maestro must not start here"),
        ),
        Peer::Epoch(peer, _) => Check::ok("epoch", format!("the failover server's epoch {peer} is not newer than this side's {local}")),
        Peer::Unreachable(why) => match s.guard_unreachable {
            crate::config::GuardUnreachable::Refuse => Check::new(
                "epoch",
                Status::Critical,
                format!("cannot ask the failover server ({why}); refusing (fence.guard_unreachable = \"refuse\")"),
            ),
            crate::config::GuardUnreachable::Allow => Check::ok(
                "epoch",
                format!("cannot ask the failover server ({why}); allowed by fence.guard_unreachable = \"allow\""),
            ),
        },
    }
    .detail("local_epoch", local);
    report.push(c);
    report
}
