//! Records into findings: markers move the starting point (`--since-start`,
//! ok-rules), repeats of one message fold into one finding with a count
//! and first/last time, and counts per rule are kept for the summary.
//!
//! A finding reads as the record's message: the first line, or for
//! java.util.logging the `SEVERE: message` line after the header; repeats
//! fold on that message, so two different messages from one method stay
//! two findings.

use crate::record::Record;
use crate::rules::{Rule, RuleKind, RuleSet, Severity};
use chrono::NaiveDateTime;
use maestro_common::{Finding, Status};
use std::collections::{BTreeMap, HashMap};

/// The most distinct findings kept a file; more are counted, not kept, so
/// a log full of distinct errors cannot eat the memory.
pub const MAX_GROUPS: usize = 200;

/// Where something was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub file: String,
    pub line: u64,
    pub time: Option<NaiveDateTime>,
    pub text: String,
}

impl Point {
    pub fn describe(&self) -> String {
        let when = self
            .time
            .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M:%S")))
            .unwrap_or_default();
        format!("{}:{}{when}", self.file, self.line)
    }
}

/// One finding with its folded repeats.
#[derive(Debug, Clone)]
pub struct Group {
    pub rule: Rule,
    /// The rule's severity at the level the record was logged at.
    pub severity: Severity,
    pub also: Vec<String>,
    pub first: Record,
    pub file: String,
    pub count: u64,
    pub first_time: Option<NaiveDateTime>,
    pub last_time: Option<NaiveDateTime>,
    pub last_line: u64,
}

impl Group {
    pub fn to_finding(&self) -> Finding {
        let r = &self.first;
        let mut message = summary(r);
        let caused = r
            .stack
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with("Caused by:"))
            .or_else(|| {
                r.stack
                    .iter()
                    .find(|l| !l.starts_with('\t') && !l.starts_with(' '))
            });
        if let Some(c) = caused {
            message.push_str(&format!(" / {}", c.trim()));
        }
        if self.count > 1 {
            let span = match (self.first_time, self.last_time) {
                (Some(a), Some(b)) => format!(
                    ", {} .. {}",
                    a.format("%Y-%m-%d %H:%M:%S"),
                    b.format("%Y-%m-%d %H:%M:%S")
                ),
                _ => String::new(),
            };
            message.push_str(&format!(
                " (x{}{span}, last at line {})",
                self.count, self.last_line
            ));
        }
        let fmt = |t: Option<NaiveDateTime>| {
            t.map(|t| serde_json::Value::from(t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()))
                .unwrap_or(serde_json::Value::Null)
        };
        let mut stack: Vec<serde_json::Value> = r.stack.iter().map(|l| l.clone().into()).collect();
        if r.more_lines > 0 {
            let at = r.left_out_at.min(stack.len());
            stack.insert(
                at,
                format!("... {} lines left out ...", r.more_lines).into(),
            );
        }
        Finding::new(self.severity.status(), &self.rule.id, message)
            .at(format!("{}:{}", self.file, r.line))
            .detail("file", self.file.clone())
            .detail("line", r.line)
            .detail("offset", r.offset)
            .detail("timestamp", fmt(r.time))
            .detail("severity", self.severity.as_str())
            .detail("description", self.rule.description.clone())
            .detail("advice", self.rule.advice.clone())
            .detail("first_line", r.text.clone())
            .detail("jul_message", r.message.clone())
            .detail("lines_left_out", r.more_lines)
            .detail("stack", serde_json::Value::Array(stack))
            .detail("count", self.count)
            .detail("first_time", fmt(self.first_time))
            .detail("last_time", fmt(self.last_time))
            .detail("last_line", self.last_line)
            .detail("also_matched", self.also.clone())
    }
}

/// What a finding says: java.util.logging's message line with the time of
/// its header, else the record's first line.
fn summary(r: &Record) -> String {
    match &r.message {
        Some(m) => match r.text.get(..r.stamp_len).filter(|s| !s.is_empty()) {
            Some(stamp) => format!("{stamp} {m}"),
            None => m.clone(),
        },
        None => r.text.clone(),
    }
}

/// The text repeats fold on: the message line, else the first line after
/// its timestamp.
fn fold_key(r: &Record) -> String {
    match &r.message {
        Some(m) => m.trim().to_string(),
        None => r.text.get(r.stamp_len..).unwrap_or("").trim().to_string(),
    }
}

/// The findings of one file.
#[derive(Debug, Default)]
pub struct FileFindings {
    pub groups: Vec<Group>,
    index: HashMap<(String, String), usize>,
    /// Findings past [`MAX_GROUPS`], by severity.
    pub overflow: BTreeMap<Severity, u64>,
}

impl FileFindings {
    pub fn worst(&self) -> Status {
        let kept = self.groups.iter().map(|g| g.severity.status());
        let over = self.overflow.keys().map(|s| s.status());
        Status::worst_of(kept.chain(over))
    }

    fn clear(&mut self) -> u64 {
        let n =
            self.groups.iter().map(|g| g.count).sum::<u64>() + self.overflow.values().sum::<u64>();
        self.groups.clear();
        self.index.clear();
        self.overflow.clear();
        n
    }
}

/// What a record did, for the follow loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Nothing,
    Finding(Severity),
    Ready,
}

/// Findings across the files of one run.
#[derive(Debug, Default)]
pub struct Collector {
    pub since_start: bool,
    pub files: Vec<FileFindings>,
    pub rule_counts: BTreeMap<String, u64>,
    pub last_startup: Option<Point>,
    pub ready: Option<Point>,
    pub ok_point: Option<Point>,
    /// Findings dropped because a startup (with --since-start) or an ok-rule came after them.
    pub cleared: u64,
    /// When set (`--follow`), every finding record as it is accepted, one
    /// finding each (not folded), for the caller to write out at once.
    pub live: Option<Vec<Finding>>,
}

impl Collector {
    pub fn new(since_start: bool) -> Collector {
        Collector {
            since_start,
            ..Collector::default()
        }
    }

    /// The first critical finding that still counts (in file order), as
    /// `[rule] file:line`: a start with one is not ready, whatever
    /// readiness line follows it.
    pub fn first_critical(&self) -> Option<String> {
        self.files
            .iter()
            .find_map(|f| {
                f.groups
                    .iter()
                    .filter(|g| g.severity == Severity::Critical)
                    .min_by_key(|g| g.first.line)
            })
            .map(|g| format!("[{}] {}:{}", g.rule.id, g.file, g.first.line))
            .or_else(|| {
                self.files
                    .iter()
                    .any(|f| f.overflow.contains_key(&Severity::Critical))
                    .then(|| "critical findings past the kept ones".to_string())
            })
    }

    /// Start a new file; returns its index.
    pub fn add_file(&mut self) -> usize {
        self.files.push(FileFindings::default());
        self.files.len() - 1
    }

    fn clear_all(&mut self) {
        for f in &mut self.files {
            self.cleared += f.clear();
        }
        self.rule_counts.clear();
    }

    pub fn accept(&mut self, file: usize, name: &str, rec: Record, rules: &RuleSet) -> Event {
        let point = || Point {
            file: name.to_string(),
            line: rec.line,
            time: rec.time,
            text: rec.text.clone(),
        };
        let kinds = |k: RuleKind| rec.rules.iter().any(|&i| rules.rules[i].kind == k);
        if kinds(RuleKind::Startup) {
            self.last_startup = Some(point());
            self.ready = None;
            if self.since_start {
                self.clear_all();
            }
        }
        if kinds(RuleKind::Ok) {
            self.ok_point = Some(point());
            self.clear_all();
        }
        let mut event = Event::Nothing;
        if kinds(RuleKind::Ready) && self.ready.is_none() {
            self.ready = Some(point());
            event = Event::Ready;
        }
        // The finding is named by its most severe rule at the record's
        // level, the first in rule order among equals (specific rules come
        // first).
        let level = crate::level::of_record(
            rec.text.get(rec.stamp_len..).unwrap_or(""),
            rec.message.as_deref(),
        );
        let best = rec
            .rules
            .iter()
            .copied()
            .filter(|&i| rules.rules[i].kind == RuleKind::Finding)
            .max_by_key(|&i| (rules.rules[i].severity_at(level), usize::MAX - i));
        let Some(best) = best else {
            return event;
        };
        let rule = &rules.rules[best];
        let severity = rule.severity_at(level);
        *self.rule_counts.entry(rule.id.clone()).or_default() += 1;
        let also: Vec<String> = rec
            .rules
            .iter()
            .filter(|&&i| i != best && rules.rules[i].kind == RuleKind::Finding)
            .map(|&i| rules.rules[i].id.clone())
            .collect();
        let Some(ff) = self.files.get_mut(file) else {
            return event;
        };
        // Repeats are the same rule and the same message.
        let key = (rule.id.clone(), fold_key(&rec));
        if let Some(live) = self.live.as_mut() {
            let one = Group {
                rule: rule.clone(),
                severity,
                also: also.clone(),
                first: rec.clone(),
                file: name.to_string(),
                count: 1,
                first_time: rec.time,
                last_time: rec.time,
                last_line: rec.line,
            };
            live.push(one.to_finding());
        }
        match ff.index.get(&key) {
            Some(&g) => {
                let g = &mut ff.groups[g];
                g.count += 1;
                g.last_line = rec.line;
                if rec.time.is_some() {
                    g.last_time = rec.time;
                }
            }
            None if ff.groups.len() >= MAX_GROUPS => {
                *ff.overflow.entry(severity).or_default() += 1;
            }
            None => {
                ff.index.insert(key, ff.groups.len());
                ff.groups.push(Group {
                    rule: rule.clone(),
                    severity,
                    also,
                    file: name.to_string(),
                    count: 1,
                    first_time: rec.time,
                    last_time: rec.time,
                    last_line: rec.line,
                    first: rec,
                });
            }
        }
        if event == Event::Nothing {
            event = Event::Finding(severity);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_records, ParserOptions};
    use crate::rules::{built_in, merge_text, Pack};

    fn run(data: &str, since_start: bool, extra: &str) -> Collector {
        let mut rules = built_in();
        merge_text(&mut rules, extra, "t").unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        let (recs, _) = parse_records(data.as_bytes(), &set, ParserOptions::default(), 4096);
        let mut c = Collector::new(since_start);
        let f = c.add_file();
        for r in recs {
            c.accept(f, "LUI.LOG", r, &set);
        }
        c
    }

    const LOG: &str = "2026-11-26 07:00:00 ERROR old problem\n\
2026-11-26 08:00:00 INFO Starting LISTSERV Maestro\n\
2026-11-26 08:00:01 ERROR Table 'm.a' doesn't exist\n\
2026-11-26 08:00:02 ERROR Table 'm.a' doesn't exist\n\
2026-11-26 08:00:03 ERROR Table 'm.a' doesn't exist\n\
2026-11-26 08:00:04 INFO Server startup in 1234 ms\n";

    #[test]
    fn repeats_fold_with_count_and_times() {
        let c = run(LOG, false, "");
        let f = &c.files[0];
        assert_eq!(f.groups.len(), 2);
        let g = &f.groups[1];
        assert_eq!(
            (g.rule.id.as_str(), g.count, g.last_line),
            ("table-missing", 3, 5)
        );
        assert_eq!(g.also, vec!["error-level".to_string()]);
        let finding = g.to_finding();
        assert_eq!(finding.status, Status::Critical);
        assert!(
            finding
                .message
                .contains("(x3, 2026-11-26 08:00:01 .. 2026-11-26 08:00:03"),
            "{}",
            finding.message
        );
        assert_eq!(finding.location.as_deref(), Some("LUI.LOG:3"));
        assert_eq!(c.rule_counts["table-missing"], 3);
        assert_eq!(c.ready.as_ref().map(|p| p.line), Some(6));
    }

    #[test]
    fn live_findings_are_each_record_unfolded() {
        let mut rules = built_in();
        merge_text(&mut rules, "", "t").unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        let (recs, _) = parse_records(LOG.as_bytes(), &set, ParserOptions::default(), 4096);
        let mut c = Collector::new(false);
        c.live = Some(Vec::new());
        let f = c.add_file();
        for r in recs {
            c.accept(f, "LUI.LOG", r, &set);
        }
        let live = c.live.take().unwrap();
        let at: Vec<_> = live.iter().map(|f| f.location.clone().unwrap()).collect();
        assert_eq!(at, ["LUI.LOG:1", "LUI.LOG:3", "LUI.LOG:4", "LUI.LOG:5"]);
        assert!(live.iter().all(|f| !f.message.contains("(x")));
        assert_eq!(c.files[0].groups.len(), 2, "the report still folds them");
    }

    #[test]
    fn since_start_drops_what_came_before_the_last_startup() {
        let c = run(LOG, true, "");
        assert_eq!(c.files[0].groups.len(), 1);
        assert_eq!(c.cleared, 1);
        assert_eq!(c.last_startup.as_ref().map(|p| p.line), Some(2));
    }

    #[test]
    fn ok_rules_reset_like_okpatterns() {
        let c = run(
            LOG,
            false,
            "[[rule]]\nid = \"started\"\nkind = \"ok\"\nregex = \"Server startup in\"\n",
        );
        assert!(c.files[0].groups.is_empty());
        assert_eq!(c.cleared, 4);
        assert_eq!(c.files[0].worst(), Status::Ok);
    }
}
