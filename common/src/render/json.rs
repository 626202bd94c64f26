//! JSON Lines: one object a line, each with a `"type"`; the last is the
//! `"summary"`. Tools that stream (a log being followed) write records with
//! [`write_record`] as they go and the summary at the end.

use crate::perfdata::Perfdata;
use crate::report::{Check, Details, Finding, Report, StatusCounts};
use crate::status::Status;
use serde::Serialize;
use serde_json::Value;
use std::io::{self, Write};
use std::time::Duration;

/// The version of the JSON Lines records: every record carries it as
/// `format_version`, so a consumer that starts reading mid-stream (a log
/// being followed) knows it too. It grows when a field is removed or changes
/// meaning; new fields and new record types keep it.
pub const FORMAT_VERSION: u32 = 1;

/// Write one record as a line. `record` should be an object with a `type`.
/// Its strings are masked before it is serialized
/// ([`crate::safe_output::mask_json`]): a secret is found whole, before JSON
/// escapes its quotes and backslashes, and numbers and nulls are never
/// touched.
pub fn write_record(out: &mut dyn Write, record: &impl Serialize) -> io::Result<()> {
    let mut value = serde_json::to_value(record).map_err(io::Error::from)?;
    crate::safe_output::mask_json(&mut value);
    serde_json::to_writer(&mut *out, &value).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `{"ok": 1, "warning": 0, "critical": 0, "unknown": 0}`.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub ok: usize,
    pub warning: usize,
    pub critical: usize,
    pub unknown: usize,
}

impl From<StatusCounts> for Counts {
    fn from(n: StatusCounts) -> Counts {
        Counts {
            ok: n.ok,
            warning: n.warning,
            critical: n.critical,
            unknown: n.unknown,
        }
    }
}

/// One question a tool answered.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRecord<'a> {
    pub format_version: u32,
    pub tool: &'a str,
    pub name: &'a str,
    pub status: Status,
    pub message: &'a str,
    pub details: &'a Details,
    /// How long the check took; null when not timed.
    pub elapsed_ms: Option<f64>,
    pub perfdata: &'a [Perfdata],
    /// How many finding records follow this one.
    pub findings: usize,
}

/// One thing a check found. `live-finding` has the same fields: a finding
/// written the moment it was found, while a run goes on.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRecord<'a> {
    pub format_version: u32,
    pub tool: &'a str,
    /// The name of the check it belongs to.
    pub check: &'a str,
    pub status: Status,
    pub id: &'a str,
    pub message: &'a str,
    pub location: Option<&'a str>,
    pub details: &'a Details,
}

/// The last record of a run: the answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryRecord<'a> {
    pub format_version: u32,
    pub tool: &'a str,
    pub command: Option<&'a str>,
    pub status: Status,
    pub exit_code: u8,
    pub message: String,
    pub checks: Counts,
    pub findings: Counts,
    /// RFC 3339, UTC, milliseconds.
    pub started_at: String,
    pub elapsed_ms: f64,
}

/// The records of a report, tagged by `type`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record<'a> {
    Check(CheckRecord<'a>),
    Finding(FindingRecord<'a>),
    LiveFinding(FindingRecord<'a>),
    Summary(SummaryRecord<'a>),
}

impl<'a> CheckRecord<'a> {
    pub fn new(tool: &'a str, c: &'a Check) -> CheckRecord<'a> {
        CheckRecord {
            format_version: FORMAT_VERSION,
            tool,
            name: &c.name,
            status: c.status,
            message: &c.message,
            details: &c.details,
            elapsed_ms: c.elapsed.map(millis),
            perfdata: &c.perfdata,
            findings: c.findings.len(),
        }
    }
}

impl<'a> FindingRecord<'a> {
    pub fn new(tool: &'a str, check: &'a str, f: &'a Finding) -> FindingRecord<'a> {
        FindingRecord {
            format_version: FORMAT_VERSION,
            tool,
            check,
            status: f.status,
            id: &f.id,
            message: &f.message,
            location: f.location.as_deref(),
            details: &f.details,
        }
    }
}

impl<'a> SummaryRecord<'a> {
    pub fn new(r: &'a Report) -> SummaryRecord<'a> {
        let status = r.status();
        SummaryRecord {
            format_version: FORMAT_VERSION,
            tool: &r.tool,
            command: r.command.as_deref(),
            status,
            exit_code: status.exit_code(),
            message: r.summary_line(),
            checks: r.check_counts().into(),
            findings: r.finding_counts().into(),
            started_at: r
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_ms: millis(r.elapsed),
        }
    }
}

fn to_value(record: Record<'_>) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

pub fn check_record(tool: &str, c: &Check) -> Value {
    to_value(Record::Check(CheckRecord::new(tool, c)))
}

pub fn finding_record(tool: &str, check: &str, f: &Finding) -> Value {
    to_value(Record::Finding(FindingRecord::new(tool, check, f)))
}

pub fn summary_record(r: &Report) -> Value {
    to_value(Record::Summary(SummaryRecord::new(r)))
}

pub fn render(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for c in &r.checks {
        write_record(out, &Record::Check(CheckRecord::new(&r.tool, c)))?;
        for f in &c.findings {
            write_record(
                out,
                &Record::Finding(FindingRecord::new(&r.tool, &c.name, f)),
            )?;
        }
    }
    write_record(out, &Record::Summary(SummaryRecord::new(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perfdata::Uom;

    #[test]
    fn every_line_parses_back_with_a_type_and_summary_is_last() {
        let mut r = Report::new("maestro-test", Some("check"));
        r.push(
            Check::ok("a", "fine \"quoted\"\nnewline")
                .perf(Perfdata::new("t", 1.5, Uom::Seconds))
                .timed(Duration::from_millis(12)),
        );
        r.push(
            Check::ok("b", "x")
                .with_finding(Finding::new(Status::Critical, "torn", "ü|x").at("f:1")),
        );
        r.finish();
        let mut buf = Vec::new();
        render(&r, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 4);
        assert!(records.iter().all(|v| v["type"].is_string()));
        let types: Vec<&str> = records
            .iter()
            .map(|v| v["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["check", "check", "finding", "summary"]);
        assert_eq!(records[0]["message"], "fine \"quoted\"\nnewline");
        assert_eq!(records[0]["perfdata"][0]["value"], 1.5);
        assert_eq!(records[0]["elapsed_ms"], 12.0);
        assert_eq!(records[2]["location"], "f:1");
        let s = &records[3];
        assert_eq!(s["status"], "CRITICAL");
        assert_eq!(s["exit_code"], 2);
        assert_eq!(s["checks"]["critical"], 1);
        assert_eq!(s["findings"]["critical"], 1);
        assert!(records
            .iter()
            .all(|v| v["format_version"] == FORMAT_VERSION));
    }
}
