//! Turning level outcomes into report checks, with each step a finding.

use crate::journal::StepRecord;
use crate::level::{LevelOutcome, Verdict};
use maestro_common::{Check, Finding, Status};

const GOOD: [&str; 3] = ["ran", "holds", "planned"];

/// A step as a finding: OK when it went as hoped, else `bad` (the level's
/// own status, so a finding never makes its check look worse than it is).
pub fn step_finding(step: &StepRecord, bad: Status) -> Finding {
    let status = if GOOD.contains(&step.outcome.as_str()) {
        Status::Ok
    } else {
        bad
    };
    Finding::new(
        status,
        step.step.clone(),
        format!("{}: {}", step.outcome, step.seen),
    )
    .at(step.target.clone())
    .detail("action", step.action.clone())
    .detail("elapsed_ms", step.elapsed_ms)
}

/// A level's check. `status` is decided by the caller (a failed level is
/// WARNING when a later level confirmed the fence, CRITICAL otherwise).
pub fn level_check(outcome: &LevelOutcome, status: Status, message: String) -> Check {
    let bad = if status == Status::Ok {
        Status::Ok
    } else {
        status
    };
    let elapsed: u64 = outcome.steps.iter().map(|s| s.elapsed_ms).sum();
    let mut c = Check::new(format!("level {}", outcome.level.as_str()), status, message)
        .detail("verdict", outcome.verdict.word())
        .timed(std::time::Duration::from_millis(elapsed));
    for s in &outcome.steps {
        c.add_finding(step_finding(s, bad));
    }
    c
}

pub fn verdict_message(v: &Verdict) -> String {
    match v {
        Verdict::Confirmed(s) => format!("confirmed: {s}"),
        Verdict::NotConfirmed(s) => format!("not confirmed: {s}"),
        Verdict::CannotTell(s) => format!("cannot tell: {s}"),
    }
}
