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
use maestro_common::Finding;
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
    /// Why the severity is what it is, when that is not plain.
    pub note: Option<String>,
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
        if let Some(n) = &self.note {
            message.push_str(&format!(" [{n}]"));
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
    /// Findings per rule (folded repeats counted), for the totals.
    pub rule_counts: BTreeMap<String, u64>,
    /// The stream the file belongs to.
    pub stream: usize,
    /// Another file of the stream's program (Tomcat's localhost.*.log
    /// beside its catalina.*.log): its markers do not count, and with
    /// --since-start its records count from the stream's last startup
    /// line's time on.
    pub companion: bool,
}

impl FileFindings {
    fn clear(&mut self) -> u64 {
        let n =
            self.groups.iter().map(|g| g.count).sum::<u64>() + self.overflow.values().sum::<u64>();
        self.groups.clear();
        self.index.clear();
        self.overflow.clear();
        self.rule_counts.clear();
        n
    }
}

/// How a run tells the start it judges from earlier ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartRule {
    /// `--since-start`: a startup line clears what its stream logged before.
    pub since_start: bool,
    /// `--since-start-after TIME`: this start's startup line is stamped at
    /// or after TIME (the time noted before Maestro was started); an
    /// earlier start's lines never count.
    pub after: Option<NaiveDateTime>,
    /// Following: lines that were in the file before following began
    /// belong to this start only when `after` says so.
    pub follow: bool,
}

/// How far a startup line's stamp may lie ahead of this host's clock
/// before the log is taken for one written in another time zone.
pub const CLOCK_SLACK_SECS: i64 = 120;

/// Successive files of one log (a component's day files), or a program's
/// files read together (Tomcat's catalina and localhost logs): a startup
/// line in it starts a new start for all of its files, and nothing else.
#[derive(Debug, Default)]
pub struct Stream {
    /// The first file, for the checks.
    pub display: String,
    pub last_startup: Option<Point>,
    /// Whether the start being read is the one judged ("this start").
    pub this_start: bool,
    /// The time of this start's startup line.
    pub start_time: Option<NaiveDateTime>,
    /// This start's first readiness line.
    pub ready: Option<Point>,
    /// A readiness line that did not count (an earlier start's).
    pub stale_ready: Option<Point>,
    /// The last startup line stamped before `--since-start-after`.
    pub earlier_start: Option<Point>,
    pub ok_point: Option<Point>,
    /// Findings dropped: before this start, or before an ok-rule.
    pub cleared: u64,
    /// WARN-level retries taken at the lower severity in this start, per rule.
    demoted: HashMap<String, u64>,
    pub files: Vec<usize>,
}

/// Findings across the files of one run.
#[derive(Debug, Default)]
pub struct Collector {
    pub start_rule: StartRule,
    pub files: Vec<FileFindings>,
    pub streams: Vec<Stream>,
    /// With `--since-start-after`: a startup line stamped ahead of this
    /// host's clock, so the log is not in this host's time zone and its
    /// stamps cannot be compared with TIME.
    pub zone_mismatch: Option<Point>,
    /// When set (`--follow`), every finding record as it is accepted, one
    /// finding each (not folded), for the caller to write out at once.
    pub live: Option<Vec<Finding>>,
}

impl Collector {
    pub fn new(start_rule: StartRule) -> Collector {
        Collector {
            start_rule,
            ..Collector::default()
        }
    }

    /// Start a new stream; returns its index.
    pub fn add_stream(&mut self, display: &str) -> usize {
        self.streams.push(Stream {
            display: display.to_string(),
            // Reading whole files without a TIME, every start is "this
            // start" in turn (the last one wins); following, or with a
            // TIME, a start must show that it is this one.
            this_start: !self.start_rule.follow && self.start_rule.after.is_none(),
            ..Stream::default()
        });
        self.streams.len() - 1
    }

    /// Start a new file of `stream`; returns its index.
    pub fn add_file(&mut self, stream: usize, companion: bool) -> usize {
        self.files.push(FileFindings {
            stream,
            companion,
            ..FileFindings::default()
        });
        let idx = self.files.len() - 1;
        if let Some(st) = self.streams.get_mut(stream) {
            st.files.push(idx);
        }
        idx
    }

    /// The first critical finding of `stream` that still counts (in file
    /// order), as `[rule] file:line`: a start with one is not ready,
    /// whatever readiness line follows it.
    pub fn first_critical(&self, stream: usize) -> Option<String> {
        let files = || {
            self.streams
                .get(stream)
                .into_iter()
                .flat_map(|s| &s.files)
                .filter_map(|&i| self.files.get(i))
        };
        files()
            .find_map(|f| {
                f.groups
                    .iter()
                    .filter(|g| g.severity == Severity::Critical)
                    .min_by_key(|g| g.first.line)
            })
            .map(|g| format!("[{}] {}:{}", g.rule.id, g.file, g.first.line))
            .or_else(|| {
                files()
                    .any(|f| f.overflow.contains_key(&Severity::Critical))
                    .then(|| "critical findings past the kept ones".to_string())
            })
    }

    /// Findings per rule over all files.
    pub fn rule_counts(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for (k, v) in self.files.iter().flat_map(|f| &f.rule_counts) {
            *all.entry(k.clone()).or_default() += v;
        }
        all
    }

    fn clear_stream(&mut self, stream: usize) {
        let Some(st) = self.streams.get_mut(stream) else {
            return;
        };
        for &i in &st.files {
            if let Some(f) = self.files.get_mut(i) {
                st.cleared += f.clear();
            }
        }
        st.demoted.clear();
    }

    /// Whether a startup line (stamped `time`; `fresh`: appended after
    /// following began) starts the start being judged.
    fn is_this_start(&self, time: Option<NaiveDateTime>, fresh: bool) -> bool {
        let stamped_after = |t: NaiveDateTime| time.is_some_and(|x| x >= t);
        match (self.start_rule.follow, self.start_rule.after) {
            (true, None) => fresh,
            (true, Some(t)) => fresh || stamped_after(t),
            (false, None) => true,
            (false, Some(t)) => stamped_after(t),
        }
    }

    /// Whether a finding of `stream` counts: with --since-start only this
    /// start's; another file of the program (a companion) from this
    /// start's startup line's time on.
    fn counts(
        &self,
        stream: usize,
        companion: bool,
        time: Option<NaiveDateTime>,
        fresh: bool,
    ) -> bool {
        if !self.start_rule.since_start || fresh {
            return true;
        }
        let Some(st) = self.streams.get(stream) else {
            return true;
        };
        if !st.this_start {
            return false;
        }
        match (companion, st.start_time) {
            (true, Some(start)) => time.is_some_and(|t| t >= start),
            _ => true,
        }
    }

    fn startup(&mut self, stream: usize, point: Point, fresh: bool) {
        let ours = self.is_this_start(point.time, fresh);
        if let (Some(_), Some(t), false) = (self.start_rule.after, point.time, fresh) {
            let now = chrono::Local::now().naive_local();
            if t > now + chrono::Duration::seconds(CLOCK_SLACK_SECS) {
                self.zone_mismatch.get_or_insert_with(|| point.clone());
            }
        }
        let since_start = self.start_rule.since_start;
        let Some(st) = self.streams.get_mut(stream) else {
            return;
        };
        if !ours && self.start_rule.after.is_some() {
            st.earlier_start = Some(point.clone());
        }
        st.start_time = point.time;
        st.last_startup = Some(point);
        st.this_start = ours;
        st.ready = None;
        if since_start {
            self.clear_stream(stream);
        }
    }

    fn readiness_line(&mut self, stream: usize, point: Point, fresh: bool) {
        let follow = self.start_rule.follow;
        let Some(st) = self.streams.get_mut(stream) else {
            return;
        };
        let counts = st.this_start || (follow && fresh);
        if !counts {
            st.stale_ready = Some(point);
        } else if st.ready.is_none() {
            st.ready = Some(point);
        }
    }

    /// Take one record of `file` (`fresh`: appended after following began).
    pub fn accept(&mut self, file: usize, name: &str, rec: Record, rules: &RuleSet, fresh: bool) {
        let Some(ff) = self.files.get(file) else {
            return;
        };
        let (stream, companion) = (ff.stream, ff.companion);
        let point = || Point {
            file: name.to_string(),
            line: rec.line,
            time: rec.time,
            text: rec.text.clone(),
        };
        let level = crate::level::of_record(
            rec.text.get(rec.stamp_len..).unwrap_or(""),
            rec.message.as_deref(),
        );
        // The finding is named by its most severe rule at the record's
        // level, the first in rule order among equals (specific rules come
        // first). A WARN-level retry is the lower severity only when the
        // match is the record's own message or exception.
        let severity_of = |i: usize| {
            let r = &rules.rules[i];
            if rec.loose_rules.contains(&i) {
                r.severity
            } else {
                r.severity_at(level)
            }
        };
        let is_finding_rule = |i: &usize| {
            let r = &rules.rules[*i];
            r.kind == RuleKind::Finding && r.applies_at(level)
        };
        let best = rec
            .rules
            .iter()
            .copied()
            .filter(is_finding_rule)
            .max_by_key(|&i| (severity_of(i), usize::MAX - i));
        // A marker is the first line (or JUL's message line) of a record
        // logged at INFO (or at no level the record names) that is no
        // finding itself: "ERROR ... while initializing Maestro" or a
        // stack line naming it starts nothing.
        let marker_level = matches!(level, None | Some(crate::level::Level::Info));
        let is_finding = best.is_some_and(|i| severity_of(i) > Severity::Info);
        let head = |k: RuleKind| rec.head_rules.iter().any(|&i| rules.rules[i].kind == k);
        if !companion && marker_level && !is_finding {
            if head(RuleKind::Startup) {
                self.startup(stream, point(), fresh);
            }
            if head(RuleKind::Ready) {
                self.readiness_line(stream, point(), fresh);
            }
        }
        if head(RuleKind::Ok) {
            self.clear_stream(stream);
            if let Some(st) = self.streams.get_mut(stream) {
                st.ok_point = Some(point());
            }
        }
        let Some(best) = best else {
            return;
        };
        if !self.counts(stream, companion, rec.time, fresh) {
            if let Some(st) = self.streams.get_mut(stream) {
                st.cleared += 1;
            }
            return;
        }
        let rule = &rules.rules[best];
        let mut severity = severity_of(best);
        let mut note = None;
        if severity < rule.severity {
            // One retry while the database starts is a warning; a second
            // in the same start is the failure it stands for.
            let st = &mut self.streams[stream];
            let n = st.demoted.entry(rule.id.clone()).or_default();
            *n += 1;
            if *n > 1 {
                severity = rule.severity;
                note = Some(format!(
                    "WARN-level match {n} of this rule in this start: no longer a retry"
                ));
            }
        }
        let also: Vec<String> = rec
            .rules
            .iter()
            .filter(|&&i| i != best && is_finding_rule(&i))
            .map(|&i| rules.rules[i].id.clone())
            .collect();
        let Some(ff) = self.files.get_mut(file) else {
            return;
        };
        *ff.rule_counts.entry(rule.id.clone()).or_default() += 1;
        // Repeats are the same rule and the same message.
        let key = (rule.id.clone(), fold_key(&rec));
        let group = || Group {
            rule: rule.clone(),
            severity,
            also: also.clone(),
            first: rec.clone(),
            file: name.to_string(),
            count: 1,
            first_time: rec.time,
            last_time: rec.time,
            last_line: rec.line,
            note: note.clone(),
        };
        if let Some(live) = self.live.as_mut() {
            live.push(group().to_finding());
        }
        match ff.index.get(&key) {
            Some(&g) => {
                let g = &mut ff.groups[g];
                g.count += 1;
                g.last_line = rec.line;
                if rec.time.is_some() {
                    g.last_time = rec.time;
                }
                if severity > g.severity {
                    g.severity = severity;
                    g.note = note;
                }
            }
            None if ff.groups.len() >= MAX_GROUPS => {
                *ff.overflow.entry(severity).or_default() += 1;
            }
            None => {
                ff.index.insert(key, ff.groups.len());
                ff.groups.push(group());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_records, ParserOptions};
    use crate::rules::{built_in, merge_text, Pack};
    use maestro_common::Status;

    fn run(data: &str, since_start: bool, extra: &str) -> Collector {
        let mut rules = built_in();
        merge_text(&mut rules, extra, "t").unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        let (recs, _) = parse_records(data.as_bytes(), &set, ParserOptions::default(), 4096);
        let mut c = Collector::new(StartRule {
            since_start,
            ..StartRule::default()
        });
        let s = c.add_stream("LUI.LOG");
        let f = c.add_file(s, false);
        for r in recs {
            c.accept(f, "LUI.LOG", r, &set, false);
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
        assert_eq!(c.rule_counts()["table-missing"], 3);
        assert_eq!(c.streams[0].ready.as_ref().map(|p| p.line), Some(6));
    }

    #[test]
    fn live_findings_are_each_record_unfolded() {
        let mut rules = built_in();
        merge_text(&mut rules, "", "t").unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        let (recs, _) = parse_records(LOG.as_bytes(), &set, ParserOptions::default(), 4096);
        let mut c = Collector::new(StartRule::default());
        c.live = Some(Vec::new());
        let s = c.add_stream("LUI.LOG");
        let f = c.add_file(s, false);
        for r in recs {
            c.accept(f, "LUI.LOG", r, &set, false);
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
        assert_eq!(c.streams[0].cleared, 1);
        assert_eq!(c.streams[0].last_startup.as_ref().map(|p| p.line), Some(2));
    }

    #[test]
    fn ok_rules_reset_like_okpatterns() {
        let c = run(
            LOG,
            false,
            "[[rule]]\nid = \"started\"\nkind = \"ok\"\nregex = \"Server startup in\"\n",
        );
        assert!(c.files[0].groups.is_empty() && c.files[0].overflow.is_empty());
        assert_eq!(c.streams[0].cleared, 4);
    }
}
