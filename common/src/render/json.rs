//! JSON Lines: one object a line, each with a `"type"`; the last is the
//! `"summary"`. Tools that stream (a log being followed) write records with
//! [`write_record`] as they go and the summary at the end.

use crate::perfdata::Perfdata;
use crate::report::{Check, Finding, Report, StatusCounts};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{self, Write};
use std::time::Duration;

/// Write one record as a line. `record` should be an object with a `type`.
pub fn write_record(out: &mut dyn Write, record: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn perfdata_value(p: &Perfdata) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

pub fn check_record(tool: &str, c: &Check) -> Value {
    json!({
        "type": "check",
        "tool": tool,
        "name": c.name,
        "status": c.status,
        "message": c.message,
        "details": c.details,
        "elapsed_ms": c.elapsed.map(millis),
        "perfdata": c.perfdata.iter().map(perfdata_value).collect::<Vec<_>>(),
        "findings": c.findings.len(),
    })
}

pub fn finding_record(tool: &str, check: &str, f: &Finding) -> Value {
    json!({
        "type": "finding",
        "tool": tool,
        "check": check,
        "status": f.status,
        "id": f.id,
        "message": f.message,
        "location": f.location,
        "details": f.details,
    })
}

fn counts(n: StatusCounts) -> Value {
    json!({"ok": n.ok, "warning": n.warning, "critical": n.critical, "unknown": n.unknown})
}

pub fn summary_record(r: &Report) -> Value {
    let status = r.status();
    json!({
        "type": "summary",
        "tool": r.tool,
        "command": r.command,
        "status": status,
        "exit_code": status.exit_code(),
        "message": r.summary_line(),
        "checks": counts(r.check_counts()),
        "findings": counts(r.finding_counts()),
        "started_at": r.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "elapsed_ms": millis(r.elapsed),
    })
}

pub fn render(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for c in &r.checks {
        write_record(out, &check_record(&r.tool, c))?;
        for f in &c.findings {
            write_record(out, &finding_record(&r.tool, &c.name, f))?;
        }
    }
    write_record(out, &summary_record(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perfdata::Uom;
    use crate::status::Status;

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
    }
}
