//! The four outcomes of every check, with the monitoring-plugin exit codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The outcome of a check, a finding or a whole run.
///
/// The numeric value is the process exit code (monitoring-plugin convention),
/// so every tool is also a Nagios/Icinga check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The check holds; safe to proceed.
    Ok,
    /// It holds, with findings a person should read.
    Warning,
    /// It does not hold: unsafe to proceed.
    Critical,
    /// The tool could not decide.
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Unknown,
    ];

    /// The process exit code: 0, 1, 2 or 3.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// The status an exit code stands for (another tool's, a witness's).
    /// Anything outside 0..=3 could not decide, so it is UNKNOWN.
    pub fn from_exit_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::Warning,
            2 => Status::Critical,
            _ => Status::Unknown,
        }
    }

    /// How bad a status is, for picking the worst of several.
    ///
    /// CRITICAL ranks above UNKNOWN: when one check proves the thing unsafe
    /// and another could not decide, "unsafe" is the more useful answer, and
    /// both stop a runbook. UNKNOWN ranks above WARNING because a check that
    /// could not decide must never pass for one that held with remarks.
    fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The worst of any number of statuses; OK when there are none.
    pub fn worst_of<I: IntoIterator<Item = Status>>(statuses: I) -> Status {
        statuses.into_iter().fold(Status::Ok, Status::worst)
    }

    /// The name monitoring systems print: `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Whether a runbook may go on: only OK and WARNING.
    pub fn is_safe(self) -> bool {
        matches!(self, Status::Ok | Status::Warning)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_plugin_convention() {
        let codes: Vec<u8> = Status::ALL.iter().map(|s| s.exit_code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3]);
        for s in Status::ALL {
            assert_eq!(Status::from_exit_code(s.exit_code().into()), s);
        }
        assert_eq!(Status::from_exit_code(130), Status::Unknown);
        assert_eq!(Status::from_exit_code(-1), Status::Unknown);
    }

    #[test]
    fn worst_ranks_critical_over_unknown_over_warning() {
        use Status::*;
        assert_eq!(Status::worst_of([]), Ok);
        assert_eq!(Status::worst_of([Ok, Warning]), Warning);
        assert_eq!(Status::worst_of([Warning, Unknown, Ok]), Unknown);
        assert_eq!(Status::worst_of([Unknown, Critical, Warning]), Critical);
        assert_eq!(Status::worst_of([Critical, Unknown]), Critical);
        assert!(!Unknown.is_safe());
        assert!(Warning.is_safe());
    }

    #[test]
    fn serializes_as_the_plugin_names() {
        assert_eq!(
            serde_json::to_string(&Status::Critical).unwrap(),
            "\"CRITICAL\""
        );
        let back: Status = serde_json::from_str("\"WARNING\"").unwrap();
        assert_eq!(back, Status::Warning);
    }
}
