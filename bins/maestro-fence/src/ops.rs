//! The subcommands' work, shared by the CLI and the fence-agent mode.

use crate::agent_level;
use crate::config::FenceLevel;
use crate::deadline::Deadline;
use crate::isolate;
use crate::journal::{self, EpochRow, Journal, RunLock};
use crate::level::{Change, ChangeLog, LevelOutcome, NoChangeLog, UndoRecord, Verdict};
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

/// Runs one level of `fence`, journaling its changes through `log`.
fn fence_level(
    env: &mut Env,
    level: FenceLevel,
    marker: &Marker,
    isolate_targets: Option<&isolate::Targets>,
    deadline: &Deadline,
    log: &mut dyn ChangeLog,
) -> LevelOutcome {
    let s = &env.settings;
    match level {
        FenceLevel::Ssh => ssh_level::run(s, &plan::fence_plan(s, marker), deadline, log),
        FenceLevel::Agent => agent_level::fence(s, deadline, env.warn, log),
        // The targets are resolved (and vetted) before the first level
        // whenever isolate is one of them.
        FenceLevel::Isolate => match isolate_targets {
            Some(t) => isolate::fence(s, t, deadline, log),
            None => isolate::fence(
                s,
                &isolate::Targets::Unresolved("the addresses were not resolved".into()),
                deadline,
                log,
            ),
        },
    }
}

/// Writes a fence's changes to the journal as its levels go: the changes
/// of the levels before, then the current level's list.
struct JournalLog<'a> {
    journal: &'a mut Journal,
    epoch: u64,
    earlier: &'a [Change],
    deadline: &'a Deadline,
    /// The first write that failed: the fence then does not count.
    error: &'a mut Option<String>,
}

impl ChangeLog for JournalLog<'_> {
    fn save(&mut self, changes: &[Change]) -> Result<(), String> {
        let all: Vec<&Change> = self.earlier.iter().chain(changes).collect();
        self.journal
            .wait_at_most(self.deadline.remaining())
            .and_then(|()| self.journal.save_changes(self.epoch, &json!(all)))
            .map_err(|e| {
                let e = e.to_string();
                self.error.get_or_insert(e.clone());
                e
            })
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
    let mut changed_so_far: Vec<Change> = Vec::new();
    let isolate_at = s.levels.iter().position(|&l| l == FenceLevel::Isolate);
    for (i, &level) in s.levels.iter().enumerate() {
        // The levels before isolate leave it the time its probe needs: a
        // probe squeezed into what they left over would prove nothing.
        let level_deadline = match isolate_at {
            Some(at) if i < at => deadline.ending_before(isolate::RESERVE),
            _ => deadline,
        };
        let outcome = {
            let mut log = JournalLog {
                journal: &mut journal,
                epoch,
                earlier: &changed_so_far,
                deadline: &deadline,
                error: &mut journal_error,
            };
            fence_level(
                env,
                level,
                &marker,
                isolate_targets.as_ref(),
                &level_deadline,
                &mut log,
            )
        };
        changed_so_far.extend(outcome.changes.iter().cloned());
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
    let changes = changed_so_far;
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
        FenceLevel::Ssh => ssh_level::run(
            s,
            &plan::fenced_probes(s, epoch),
            deadline,
            &mut NoChangeLog,
        ),
        FenceLevel::Agent => agent_level::status(s, deadline, env.warn),
        FenceLevel::Isolate => isolate::status(s, deadline),
    };
    if out.unreachable && !out.verdict.is_confirmed() {
        out.verdict = Verdict::CannotTell(out.verdict.text().to_string());
    }
    out
}

/// The changes a journal row holds.
fn row_changes(row: &EpochRow) -> Vec<Change> {
    serde_json::from_value(row.changes.clone()).unwrap_or_default()
}

/// How one fence that did not end fenced is shown: stopped half-way
/// (`partial`), or never finished (`running`: killed, or running now).
fn unfinished_line(row: &EpochRow, running_now: bool) -> Option<String> {
    let changes = row_changes(row);
    let list = changes
        .iter()
        .map(Change::line)
        .collect::<Vec<_>>()
        .join("; ");
    let what = match row.result.as_str() {
        journal::RUNNING if running_now => format!(
            "the fence of epoch {} ({}) is still running (another run holds the lock)",
            row.epoch, row.started_at
        ),
        journal::RUNNING => format!(
            "interrupted: the fence of epoch {} ({}) never finished",
            row.epoch, row.started_at
        ),
        journal::FENCED => return None,
        _ if changes.is_empty() => return None,
        _ => format!(
            "partial: the fence of epoch {} ({}) failed after changing",
            row.epoch, row.started_at
        ),
    };
    Some(if changes.is_empty() {
        format!("{what}; it recorded no change")
    } else if row.result == journal::RUNNING {
        format!("{what}; it may have changed: {list}")
    } else {
        format!("{what}: {list}")
    })
}

/// Every fence since the last successful unfence that stopped half-way or
/// never finished, with what it changed (or may have), so that `status`
/// shows the primary as partly fenced. Read within the run's deadline; a
/// missing catalog is not created (`status` changes nothing).
fn unfinished_from_journal(env: &Env, deadline: &Deadline, answer: Option<bool>) -> Option<Check> {
    if !env
        .state_dir
        .join(maestro_common::catalog::FILE_NAME)
        .exists()
    {
        return None;
    }
    let rows = Journal::open_within(&env.state_dir, deadline.remaining())
        .map_err(|e| e.to_string())
        .and_then(|j| {
            j.fences_since_last_unfence(&env.settings.primary.host)
                .map_err(|e| e.to_string())
        });
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            return Some(Check::new(
                "journal",
                Status::Unknown,
                format!("cannot read the journal within the run's deadline ({e}): whether an earlier fence stopped half-way is not known"),
            ))
        }
    };
    let newest = rows.last().map(|r| r.epoch);
    let held = RunLock::held_now(&env.state_dir) == Some(true);
    let shown: Vec<(&EpochRow, String)> = rows
        .iter()
        .filter_map(|r| unfinished_line(r, held && Some(r.epoch) == newest).map(|l| (r, l)))
        .collect();
    if shown.is_empty() {
        return None;
    }
    let status = match answer {
        Some(true) => Status::Ok,
        Some(false) => Status::Critical,
        None => Status::Unknown,
    };
    let all: Vec<Change> = shown.iter().flat_map(|(r, _)| row_changes(r)).collect();
    let mut c = changes_check(&all, status);
    c.name = "journal".into();
    c.message = format!(
        "{} (since the last successful unfence; `maestro-fence unfence` undoes what it can)",
        shown
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    Some(c.detail(
        "epochs",
        json!(shown.iter().map(|(r, _)| r.epoch).collect::<Vec<_>>()),
    ))
}

/// A check for each alarm a level raised (the fence blocks an address of
/// this server now).
fn alarm_checks(outcomes: &[LevelOutcome]) -> Vec<Check> {
    outcomes
        .iter()
        .flat_map(|o| {
            o.alarms.iter().map(move |a| {
                Check::new(
                    format!("level {}: own address", o.level.as_str()),
                    Status::Critical,
                    a.clone(),
                )
            })
        })
        .collect()
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
    for c in alarm_checks(&outcomes) {
        report.push(c);
    }
    if let Some(c) = unfinished_from_journal(env, &deadline, answer) {
        report.push(c);
    }
    (report, answer)
}

/// `check`: the pre-start gate on the failover server.
pub fn check(env: &mut Env) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some("check"));
    // One deadline for the whole gate: the wait for the journal comes out
    // of the live check's time, not on top of it.
    let deadline = Deadline::after(env.settings.deadline);
    let journal = Journal::open_within(&env.state_dir, deadline.remaining()).map_err(failed)?;
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
    for c in alarm_checks(std::slice::from_ref(&o)) {
        report.push(c);
    }
    Ok(report)
}

/// What the fences since the last successful unfence recorded for undoing
/// here (firewall blocks, key files, daemon units).
fn undo_records(journal: &Journal, primary: &str) -> Result<Vec<UndoRecord>, String> {
    let rows = journal
        .fences_since_last_unfence(primary)
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .flat_map(row_changes)
        .filter_map(|c| c.record)
        .collect())
}

/// `unfence`: failback. What is undone on this server comes from the
/// journal (every fence since the last successful unfence: the backend
/// and table it loaded, the key file it edited), not from what the
/// configuration says today; the configuration adds its own when
/// `isolate` is one of its levels.
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
    let configured = s.levels.contains(&FenceLevel::Isolate);
    if dry_run {
        let next = peek_next_epoch(&env.state_dir);
        // A missing catalog is not created: a dry run changes nothing.
        let records = if env
            .state_dir
            .join(maestro_common::catalog::FILE_NAME)
            .exists()
        {
            let journal = Journal::open(&env.state_dir).map_err(failed)?;
            undo_records(&journal, &s.primary.host).map_err(failed)?
        } else {
            Vec::new()
        };
        let undo = isolate::UndoPlan::new(&s, &records, configured);
        if !undo.is_empty() {
            let mut c = Check::ok("level isolate", "would run (dry run: nothing changed)");
            for (name, what) in undo.describe(resume_sync) {
                c.add_finding(Finding::new(Status::Ok, name, what).at("local"));
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
    // Read under the lock, before anything changes: an unfence that does
    // not know what the fences did here could leave a block behind.
    let records = match undo_records(&journal, &s.primary.host) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                report,
                format!("cannot read what the fences changed on this server: {e}"),
            )
        }
    };
    let began = journal
        .wait_at_most(deadline.remaining())
        .and_then(|()| journal.begin("unfence", &s.primary.host, &s.failover_name()));
    let epoch = match began {
        Ok(e) => e,
        Err(e) => return refuse(report, format!("cannot record the epoch: {e}")),
    };
    let mut outcomes = Vec::new();
    let undo = isolate::UndoPlan::new(&s, &records, configured);
    if !undo.is_empty() {
        // First: the primary's SSH may be behind this very block.
        outcomes.push(isolate::undo(&s, &undo, resume_sync, &deadline));
    }
    outcomes.push(ssh_level::run(
        &s,
        &plan::unfence_plan(&s, epoch, resume_sync),
        &deadline,
        &mut NoChangeLog,
    ));
    // The primary was changed: a journal that cannot take it now no longer
    // stops the report (the admin must see what was done); it makes the
    // unfence "not confirmed", and `check` refuses anyway (the unfence's
    // epoch voids every older fence, finished or not).
    let mut journal_error: Option<String> = None;
    for o in &outcomes {
        if let Err(e) = journal
            .wait_at_most(deadline.remaining())
            .and_then(|()| journal.add_steps(epoch, &o.steps))
        {
            journal_error.get_or_insert(e.to_string());
        }
    }
    let done = outcomes.iter().all(|o| o.verdict.is_confirmed());
    let levels_json = json!(outcomes
        .iter()
        .map(LevelOutcome::summary_json)
        .collect::<Vec<_>>());
    if let Err(e) = journal.wait_at_most(deadline.remaining()).and_then(|()| {
        journal.finish(
            epoch,
            if done && journal_error.is_none() {
                journal::UNFENCED
            } else {
                journal::UNFENCE_FAILED
            },
            None,
            &levels_json,
            &json!([]),
        )
    }) {
        journal_error.get_or_insert(e.to_string());
    }
    for o in &outcomes {
        let status = if o.verdict.is_confirmed() {
            Status::Ok
        } else {
            Status::Critical
        };
        report.push(level_check(o, status, verdict_message(&o.verdict)));
    }
    if let Some(e) = &journal_error {
        report.push(Check::new(
            "journal",
            Status::Critical,
            format!("the unfence could not be journaled within its deadline ({e}): what is listed above was done on the primary and here, but the journal does not hold it as a successful unfence"),
        ));
    }
    let ok = done && journal_error.is_none();
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
    let held = RunLock::held_now(state_dir) == Some(true);
    let newest = rows.first().map(|r| r.epoch);
    for r in rows {
        let steps = journal.steps(r.epoch).map_err(failed)?;
        let changes = row_changes(&r);
        let list = changes
            .iter()
            .map(Change::line)
            .collect::<Vec<_>>()
            .join("; ");
        let after = match r.result.as_str() {
            journal::RUNNING if held && Some(r.epoch) == newest => {
                format!(" (still running now; so far it may have changed: {list})")
            }
            journal::RUNNING if changes.is_empty() => {
                " (interrupted: it never finished; no change was recorded)".to_string()
            }
            journal::RUNNING => {
                format!(" (interrupted: it never finished; it may have changed: {list})")
            }
            journal::PARTIAL => format!(" (changed: {list})"),
            _ => String::new(),
        };
        let mut c = Check::ok(
            format!("epoch {}", r.epoch),
            format!(
                "{} {}: {}{} at {}{after}",
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
