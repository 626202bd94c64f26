//! The other side's report, as JSON Lines records, turned back into checks
//! of this side's report.

use maestro_common::report::{Check, Finding};
use maestro_common::Status;

fn status(v: &serde_json::Value) -> Status {
    match v.as_str() {
        Some("OK") => Status::Ok,
        Some("WARNING") => Status::Warning,
        Some("CRITICAL") => Status::Critical,
        _ => Status::Unknown,
    }
}

/// A `check` record (with its findings) as a check.
pub fn check_from_json(v: &serde_json::Value) -> Option<Check> {
    if v["type"] != "check" {
        return None;
    }
    let mut c = Check::new(
        v["name"].as_str().unwrap_or("remote"),
        status(&v["status"]),
        v["message"].as_str().unwrap_or(""),
    );
    if let Some(map) = v["details"].as_object() {
        for (k, val) in map {
            c = c.detail(k.clone(), val.clone());
        }
    }
    if let Some(ms) = v["elapsed_ms"].as_f64() {
        c = c.timed(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    Some(c)
}

/// A `finding` record, attached by the harness after its check.
pub fn finding_from_json(v: &serde_json::Value) -> Option<Finding> {
    if v["type"] != "finding" {
        return None;
    }
    let mut f = Finding::new(
        status(&v["status"]),
        v["id"].as_str().unwrap_or("finding"),
        v["message"].as_str().unwrap_or(""),
    );
    if let Some(l) = v["location"].as_str() {
        f = f.at(l);
    }
    Some(f)
}

/// The checks of a report's records, findings under their checks.
pub fn checks(records: &[serde_json::Value]) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    for r in records {
        if let Some(c) = check_from_json(r) {
            out.push(c);
        } else if let Some(f) = finding_from_json(r) {
            if let Some(last) = out.last_mut() {
                let name = r["check"].as_str();
                if name.is_none_or(|n| n == last.name) {
                    last.add_finding(f);
                }
            }
        }
    }
    out
}

/// The summary record's status, if the report ended.
pub fn summary_status(records: &[serde_json::Value]) -> Option<Status> {
    records
        .iter()
        .rev()
        .find(|r| r["type"] == "summary")
        .map(|s| status(&s["status"]))
}
