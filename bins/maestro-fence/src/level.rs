//! What a level reports back: its verdict and the steps behind it.

use crate::config::FenceLevel;
use crate::journal::StepRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How a line the fence disabled starts: a sync key line in
/// authorized_keys here, a cron entry on the primary. Undoing removes it.
pub const DISABLED_TAG: &str = "#maestro-fence# ";

/// A change that is about to be made: journaled before it runs, so a
/// fence killed half-way (Pacemaker kills an agent at its timeout) still
/// leaves on record what it may have changed.
pub const STARTED: &str = "started";

/// What undoes a change, recorded with it so that `unfence` undoes what
/// was done, not what the configuration says today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum UndoRecord {
    /// Firewall rules on this server: which tool loaded them, under which
    /// table (nftables) or chain prefix (iptables), for which addresses.
    Firewall {
        backend: String,
        table: String,
        addresses: Vec<String>,
        /// The unique names (`-Name`) of the Windows Firewall rules this
        /// load made; empty on Linux.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rules: Vec<String>,
    },
    /// Sync key lines disabled in this authorized_keys file.
    SyncKey { path: String },
    /// The rsync daemon unit stopped and masked here.
    DaemonUnit { unit: String },
}

/// Something a level changed (or may have changed) while fencing: what a
/// fence that stops half-way leaves behind, and what undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub level: String,
    /// The step, like `disable lui`.
    pub step: String,
    /// Where: `user@host:port`, `local`.
    pub target: String,
    /// `started` (journaled before it ran: the run ended before it
    /// answered, so it may have run), `done`, `failed` (ran and failed: may
    /// have changed part of it) or `unknown` (sent, but no answer came
    /// back: it may have run).
    pub state: String,
    /// What undoes it (`unfence`, `unfence --resume-sync`, or why nothing does).
    pub undo: String,
    /// What `unfence` needs to undo it, where the configuration may not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<UndoRecord>,
}

impl Change {
    pub fn line(&self) -> String {
        let state = if self.state == STARTED {
            "started, no answer: may have run"
        } else {
            &self.state
        };
        format!("{} ({state}; {})", self.step, self.undo)
    }
}

/// The state a change is in after its step ended with `outcome` (as
/// journaled: `ran`, `failed`, `timeout`, `error`): done, failed, or
/// unknown when it was sent and no answer says what happened.
pub fn change_state(outcome: &str) -> &'static str {
    match outcome {
        "ran" => "done",
        "failed" => "failed",
        _ => "unknown",
    }
}

/// Where a level writes its changes as it goes: before each change (state
/// `started`) and after it. `save` gets the level's whole list each time.
/// An error means the journal cannot hold them: the level then changes
/// nothing more.
pub trait ChangeLog {
    fn save(&mut self, changes: &[Change]) -> Result<(), String>;
}

/// For runs that change nothing (status, unfence's re-queries).
pub struct NoChangeLog;

impl ChangeLog for NoChangeLog {
    fn save(&mut self, _: &[Change]) -> Result<(), String> {
        Ok(())
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
    /// The target could not be reached at all: its name did not resolve,
    /// or no TCP connection (or call to the power device) was made. Not a
    /// host key or login problem, and not something that answered on the
    /// port and then failed. `check` may then trust the journal.
    pub unreachable: bool,
    /// Wrong besides the verdict, for the admin to act on (CRITICAL): the
    /// fence blocks an address that is this server's now.
    pub alarms: Vec<String>,
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
            alarms: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// Journals a change before it is made (state `started`); returns its
    /// index for [`LevelOutcome::settle`]. An error: the journal cannot
    /// hold it, so it must not be made.
    pub fn start_change(
        &mut self,
        log: &mut dyn ChangeLog,
        step: &str,
        target: &str,
        undo: &str,
        record: Option<UndoRecord>,
    ) -> Result<usize, String> {
        self.changes.push(Change {
            level: self.level.as_str().to_string(),
            step: step.to_string(),
            target: target.to_string(),
            state: STARTED.to_string(),
            undo: undo.to_string(),
            record,
        });
        log.save(&self.changes).map_err(|e| {
            self.changes.pop();
            format!("cannot journal `{step}` before making it ({e}); nothing more was changed")
        })?;
        Ok(self.changes.len() - 1)
    }

    /// Records a change whose state is known (no journal write: the
    /// caller saves the list).
    pub fn changed(&mut self, step: &str, target: &str, state: &str, undo: &str) {
        self.changes.push(Change {
            level: self.level.as_str().to_string(),
            step: step.to_string(),
            target: target.to_string(),
            state: state.to_string(),
            undo: undo.to_string(),
            record: None,
        });
    }

    /// The state a started change ended in; `None`: it was not made after
    /// all (it never ran, or found nothing to change), so it is dropped.
    /// A journal error here is the caller's to see through the log.
    pub fn settle(&mut self, log: &mut dyn ChangeLog, index: usize, state: Option<&str>) {
        match state {
            Some(st) => self.changes[index].state = st.to_string(),
            None => {
                self.changes.remove(index);
            }
        }
        let _ = log.save(&self.changes);
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
