//! The JSON Lines records `run` writes as things happen, beside the report
//! records every tool writes (see the JSON Lines contract in docs/json.md).

use crate::evaluate::WatchState;
use maestro_common::render::json::FORMAT_VERSION;
use maestro_common::Status;
use serde::Serialize;

/// What `maestro-watch run` streams, tagged by `type`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WatchRecord<'a> {
    /// The primary's state changed.
    Event(EventRecord<'a>),
    /// The failover command ran (`--exec`, `[watch] exec`).
    Exec(ExecRecord<'a>),
}

/// The primary's state changed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRecord<'a> {
    pub format_version: u32,
    /// When it was seen: RFC 3339, UTC, milliseconds.
    pub at: String,
    /// The primary as probed.
    pub target: &'a str,
    pub state: WatchState,
    /// The state before; null for the first evaluation.
    pub previous: Option<WatchState>,
    pub status: Status,
    pub message: &'a str,
    /// How long every probe has failed; null while the primary answers.
    pub down_for_s: Option<f64>,
}

/// The failover command ran.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRecord<'a> {
    pub format_version: u32,
    pub command: &'a str,
    /// `exited 0`, `exited 3`, `killed at the timeout (30m)`, ...
    pub outcome: &'a str,
    pub status: Status,
}

impl<'a> EventRecord<'a> {
    pub fn new(
        at: String,
        target: &'a str,
        state: WatchState,
        previous: Option<WatchState>,
        status: Status,
        message: &'a str,
        down_for_s: Option<f64>,
    ) -> EventRecord<'a> {
        EventRecord {
            format_version: FORMAT_VERSION,
            at,
            target,
            state,
            previous,
            status,
            message,
            down_for_s,
        }
    }
}

impl<'a> ExecRecord<'a> {
    pub fn new(command: &'a str, outcome: &'a str, status: Status) -> ExecRecord<'a> {
        ExecRecord {
            format_version: FORMAT_VERSION,
            command,
            outcome,
            status,
        }
    }
}
