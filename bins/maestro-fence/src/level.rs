//! What a level reports back: its verdict and the steps behind it.

use crate::config::FenceLevel;
use crate::journal::StepRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Something a level changed (or may have changed) while fencing: what a
/// fence that stops half-way leaves behind, and what undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub level: String,
    /// The step, like `disable lui`.
    pub step: String,
    /// Where: `user@host:port`, `local`.
    pub target: String,
    /// `done`, `failed` (ran and failed: may have changed part of it) or
    /// `unknown` (sent, but no answer came back: it may have run).
    pub state: String,
    /// What undoes it (`unfence`, `unfence --resume-sync`, or why nothing does).
    pub undo: String,
}

impl Change {
    pub fn line(&self) -> String {
        format!("{} ({}; {})", self.step, self.state, self.undo)
    }
}

/// A level's answer to "is the primary fenced by this level?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Re-queried and seen fenced.
    Confirmed(String),
    /// Seen not fenced, or an action failed or timed out.
    NotConfirmed(String),
    /// Could not find out (unreachable, unreadable answer).
    CannotTell(String),
}

impl Verdict {
    pub fn is_confirmed(&self) -> bool {
        matches!(self, Verdict::Confirmed(_))
    }

    pub fn text(&self) -> &str {
        match self {
            Verdict::Confirmed(s) | Verdict::NotConfirmed(s) | Verdict::CannotTell(s) => s,
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Confirmed(_) => "confirmed",
            Verdict::NotConfirmed(_) => "not-confirmed",
            Verdict::CannotTell(_) => "cannot-tell",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LevelOutcome {
    pub level: FenceLevel,
    pub verdict: Verdict,
    pub steps: Vec<StepRecord>,
    /// The target could not be reached at all (not a host key problem):
    /// `check` may then trust the journal.
    pub unreachable: bool,
    /// What it changed, in order.
    pub changes: Vec<Change>,
}

impl LevelOutcome {
    pub fn new(level: FenceLevel) -> LevelOutcome {
        LevelOutcome {
            level,
            verdict: Verdict::CannotTell("nothing was run".into()),
            steps: Vec::new(),
            unreachable: false,
            changes: Vec::new(),
        }
    }

    /// Records a change (`state`: done, failed, unknown).
    pub fn changed(&mut self, step: &str, target: &str, state: &str, undo: &str) {
        self.changes.push(Change {
            level: self.level.as_str().to_string(),
            step: step.to_string(),
            target: target.to_string(),
            state: state.to_string(),
            undo: undo.to_string(),
        });
    }

    pub fn record(
        &mut self,
        step: impl Into<String>,
        target: &str,
        action: impl Into<String>,
        outcome: &str,
        seen: impl Into<String>,
        elapsed: std::time::Duration,
    ) {
        self.steps.push(StepRecord {
            level: self.level.as_str().to_string(),
            step: step.into(),
            target: target.to_string(),
            action: action.into(),
            outcome: outcome.to_string(),
            seen: seen.into(),
            elapsed_ms: elapsed.as_millis() as u64,
        });
    }

    /// The journal's summary of this level.
    pub fn summary_json(&self) -> serde_json::Value {
        json!({"level": self.level.as_str(), "verdict": self.verdict.word(), "reason": self.verdict.text()})
    }
}
