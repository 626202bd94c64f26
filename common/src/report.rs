//! The report model: a run of a tool is a [`Report`] made of [`Check`]s,
//! each with its own status, message, details, timing, perfdata and
//! [`Finding`]s. The overall status is the worst one.

use crate::perfdata::Perfdata;
use crate::status::Status;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Key/value evidence attached to a check or finding (paths, LSNs, times,
/// what was run, what was seen). Ordered, so output is stable.
pub type Details = BTreeMap<String, Value>;

/// One thing a check found: a recovery error in a log, a torn file, a
/// service still running.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub status: Status,
    /// A stable identifier (rule id, finding kind) scripts can match on.
    pub id: String,
    pub message: String,
    /// Where it was found: `file:line`, a path, a host.
    pub location: Option<String>,
    pub details: Details,
}

impl Finding {
    pub fn new(status: Status, id: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            status,
            id: id.into(),
            message: message.into(),
            location: None,
            details: Details::new(),
        }
    }

    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }
}

/// One question a tool answered, with its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    /// Never better than the worst finding: [`Check::add_finding`] keeps it so.
    pub status: Status,
    pub message: String,
    pub details: Details,
    pub elapsed: Option<Duration>,
    pub perfdata: Vec<Perfdata>,
    pub findings: Vec<Finding>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            message: message.into(),
            details: Details::new(),
            elapsed: None,
            perfdata: Vec::new(),
            findings: Vec::new(),
        }
    }

    pub fn ok(name: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(name, Status::Ok, message)
    }

    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    pub fn perf(mut self, p: Perfdata) -> Self {
        self.perfdata.push(p);
        self
    }

    pub fn timed(mut self, elapsed: Duration) -> Self {
        self.elapsed = Some(elapsed);
        self
    }

    pub fn with_finding(mut self, f: Finding) -> Self {
        self.add_finding(f);
        self
    }

    /// Add a finding; the check's status becomes at least as bad as it.
    pub fn add_finding(&mut self, f: Finding) {
        self.status = self.status.worst(f.status);
        self.findings.push(f);
    }
}

/// Counts of statuses, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub ok: usize,
    pub warning: usize,
    pub critical: usize,
    pub unknown: usize,
}

impl StatusCounts {
    pub fn add(&mut self, s: Status) {
        match s {
            Status::Ok => self.ok += 1,
            Status::Warning => self.warning += 1,
            Status::Critical => self.critical += 1,
            Status::Unknown => self.unknown += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.ok + self.warning + self.critical + self.unknown
    }
}

/// The whole answer of one run of a tool.
#[derive(Debug, Clone)]
pub struct Report {
    /// The tool's name, `maestro-fence`.
    pub tool: String,
    /// The subcommand, where the tool has them (`check`, `fence`).
    pub command: Option<String>,
    /// A one-line answer; derived from the checks when not set.
    pub summary: Option<String>,
    pub checks: Vec<Check>,
    pub started_at: DateTime<Utc>,
    pub elapsed: Duration,
    started: Instant,
}

impl Report {
    pub fn new(tool: impl Into<String>, command: Option<&str>) -> Report {
        Report {
            tool: tool.into(),
            command: command.map(str::to_string),
            summary: None,
            checks: Vec::new(),
            started_at: Utc::now(),
            elapsed: Duration::ZERO,
            started: Instant::now(),
        }
    }

    pub fn push(&mut self, c: Check) {
        self.checks.push(c);
    }

    /// Stop the clock: call once the last check is in.
    pub fn finish(&mut self) {
        self.elapsed = self.started.elapsed();
    }

    /// The worst status of all checks. A report without a single check
    /// verified nothing, so it is UNKNOWN, never OK.
    pub fn status(&self) -> Status {
        if self.checks.is_empty() {
            return Status::Unknown;
        }
        Status::worst_of(self.checks.iter().map(|c| c.status))
    }

    pub fn check_counts(&self) -> StatusCounts {
        let mut n = StatusCounts::default();
        self.checks.iter().for_each(|c| n.add(c.status));
        n
    }

    pub fn finding_counts(&self) -> StatusCounts {
        let mut n = StatusCounts::default();
        self.checks
            .iter()
            .flat_map(|c| &c.findings)
            .for_each(|f| n.add(f.status));
        n
    }

    /// The one-line answer: the set summary, else the messages of the
    /// checks that are not OK (worst first), else a count of OK checks.
    pub fn summary_line(&self) -> String {
        if let Some(s) = &self.summary {
            return s.clone();
        }
        if self.checks.is_empty() {
            return "no check was run".to_string();
        }
        let mut bad: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.status != Status::Ok)
            .collect();
        if bad.is_empty() {
            return match self.checks.as_slice() {
                [only] => only.message.clone(),
                all => format!("all {} checks OK", all.len()),
            };
        }
        let worst = self.status();
        bad.sort_by_key(|c| c.status != worst);
        bad.iter()
            .map(|c| format!("{}: {}", c.name, c.message))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// All perfdata of all checks, in check order.
    pub fn perfdata(&self) -> Vec<&Perfdata> {
        self.checks.iter().flat_map(|c| &c.perfdata).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_report_is_unknown_not_ok() {
        let r = Report::new("maestro-test", None);
        assert_eq!(r.status(), Status::Unknown);
        assert_eq!(r.summary_line(), "no check was run");
    }

    #[test]
    fn a_finding_makes_its_check_at_least_as_bad() {
        let c = Check::ok("scan", "scanned").with_finding(Finding::new(Status::Warning, "w", "w"));
        assert_eq!(c.status, Status::Warning);
        let c = c.with_finding(Finding::new(Status::Ok, "i", "info"));
        assert_eq!(
            c.status,
            Status::Warning,
            "an OK finding never improves a check"
        );
    }

    #[test]
    fn overall_status_is_the_worst_and_summary_names_the_bad_checks() {
        let mut r = Report::new("maestro-test", Some("check"));
        r.push(Check::ok("a", "fine"));
        r.push(Check::new("b", Status::Warning, "hmm"));
        r.push(Check::new("c", Status::Critical, "broken"));
        assert_eq!(r.status(), Status::Critical);
        assert_eq!(r.summary_line(), "c: broken; b: hmm");
        let n = r.check_counts();
        assert_eq!(
            (n.ok, n.warning, n.critical, n.unknown, n.total()),
            (1, 1, 1, 0, 3)
        );
    }

    #[test]
    fn all_ok_summary() {
        let mut r = Report::new("t", None);
        r.push(Check::ok("a", "fine"));
        assert_eq!(r.summary_line(), "fine");
        r.push(Check::ok("b", "fine too"));
        assert_eq!(r.summary_line(), "all 2 checks OK");
        assert_eq!(r.status(), Status::Ok);
    }
}
