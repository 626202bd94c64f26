//! maestro-logscan on fixture logs (tests/maestro-logscan/): stack traces,
//! CRLF and Latin-1, a window across midnight, a truncated last line,
//! binary garbage; rules, formats, exit codes, --incremental and --follow.

mod support;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::plugin_output::parse_nagios;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/maestro-logscan")
        .join(name)
}

fn cmd(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_maestro-logscan"));
    c.env_remove("MAESTRO_HA_CONFIG")
        .env("MAESTRO_HA_STATE_DIR", state)
        .env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    cmd(dir.path()).args(args).output().unwrap()
}

fn json(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn findings(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["type"] == "finding").collect()
}

fn ids(records: &[Value]) -> Vec<String> {
    findings(records)
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_java_stack_trace_is_one_finding_with_its_frames() {
    let f = fixture("LUI-stacktrace.LOG");
    let out = run(&["--format", "json", path(&f)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json(&out);
    let fs = findings(&recs);
    let table = fs
        .iter()
        .find(|f| f["id"] == "table-missing")
        .expect("table-missing");
    assert_eq!(table["status"], "CRITICAL");
    assert_eq!(table["location"], "LUI-stacktrace.LOG:2");
    let d = &table["details"];
    assert_eq!(d["line"], 2);
    assert_eq!(d["timestamp"], "2026-11-26T08:00:03.120");
    let stack: Vec<&str> = d["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(stack.len(), 6);
    assert!(stack[3].starts_with("Caused by: java.sql.SQLSyntaxErrorException"));
    assert!(d["also_matched"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "sql-exception"));
    assert!(table["message"]
        .as_str()
        .unwrap()
        .contains("Caused by: java.sql.SQLSyntaxErrorException"));
    assert!(ids(&recs).contains(&"hub-unreachable".to_string()));
    let file = recs
        .iter()
        .find(|r| r["type"] == "check" && r["details"]["path"] == path(&f))
        .unwrap();
    assert_eq!(file["details"]["records"], 5);
    assert_eq!(file["details"]["lines"], 11);
    assert_eq!(file["details"]["timestamp_format"], "iso-8601");
    let totals = recs.iter().find(|r| r["name"] == "totals").unwrap();
    assert_eq!(totals["details"]["per_rule"]["table-missing"], 1);
    let summary = recs.last().unwrap();
    assert_eq!(
        (summary["type"].as_str(), summary["exit_code"].as_i64()),
        (Some("summary"), Some(2))
    );
    assert!(summary["message"]
        .as_str()
        .unwrap()
        .contains("[table-missing]"));
}

#[test]
fn min_severity_and_since_start_and_nagios() {
    let f = fixture("LUI-stacktrace.LOG");
    let out = run(&["--format", "nagios", "--min-severity", "critical", path(&f)]);
    assert_eq!(out.status.code(), Some(2));
    let n = parse_nagios(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        (n.service.as_str(), n.status.as_str()),
        ("MAESTRO-LOGSCAN", "CRITICAL")
    );
    assert!(n
        .perfdata
        .iter()
        .any(|p| p.label == "critical" && p.value == "1"));
    assert!(
        n.perfdata
            .iter()
            .any(|p| p.label == "warning" && p.value == "0"),
        "warnings filtered out"
    );
    let out = run(&["--format", "json", "--since-start", path(&f)]);
    let recs = json(&out);
    let s = recs.iter().find(|r| r["name"] == "since-start").unwrap();
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("LUI-stacktrace.LOG:1"),
        "{s}"
    );
}

#[test]
fn crlf_and_latin1_in_the_jul_format() {
    let f = fixture("LUI-crlf-latin1.LOG");
    let out = run(&["--format", "json", path(&f)]);
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(2), "{recs:?}");
    let crashed = findings(&recs)
        .into_iter()
        .find(|f| f["id"] == "table-crashed")
        .unwrap();
    let d = &crashed["details"];
    assert_eq!(d["timestamp"], "2026-11-26T08:00:02.000");
    assert_eq!(d["line"], 3);
    // JUL's second line is the record's message, not a stack line.
    let message = d["jul_message"].as_str().unwrap();
    assert!(
        message.starts_with("SEVERE: Table")
            && message.contains("empfänger")
            && message.contains("\u{201c}quoted\u{201d}"),
        "{message}"
    );
    assert!(!message.contains('\r'));
    assert!(d["stack"].as_array().unwrap().is_empty());
    assert!(crashed["message"].as_str().unwrap().starts_with(
        "Nov 26, 2026 8:00:02 AM SEVERE: Table './maestro/empfänger' is marked as crashed"
    ));
    let file = recs
        .iter()
        .find(|r| r["type"] == "check" && r["details"]["path"] == path(&f))
        .unwrap();
    assert_eq!(file["details"]["timestamp_format"], "java.util.logging");
    assert_eq!(file["details"]["records"], 3);
}

#[test]
fn a_truncated_last_line_is_scanned() {
    let f = fixture("LUI-truncated.LOG");
    let out = run(&["--format", "json", path(&f)]);
    assert_eq!(out.status.code(), Some(2));
    let recs = json(&out);
    assert_eq!(ids(&recs), vec!["out-of-memory"]);
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&f))
        .unwrap();
    assert_eq!(file["details"]["truncated_last_line"], true);
}

#[test]
fn binary_garbage_is_read_without_failing() {
    let f = fixture("LUI-garbage.LOG");
    let out = run(&["--format", "json", path(&f)]);
    let recs = json(&out);
    assert!(matches!(out.status.code(), Some(0..=2)), "{:?}", out.status);
    let fs = findings(&recs);
    assert!(fs
        .iter()
        .any(|f| f["message"].as_str().unwrap().contains("after the garbage")));
    for f in fs {
        assert!(!f["message"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| c.is_control() && c != '\t'));
    }
    assert_eq!(recs.last().unwrap()["type"], "summary");
}

fn site_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!("[site]\ninstall_root = \"{}\"\n", fixture("site").display()),
    )
    .unwrap();
    cfg
}

#[test]
fn a_window_across_midnight_reads_the_day_before() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = site_config(dir.path());
    let out = cmd(dir.path())
        .args([
            "--config",
            path(&cfg),
            "--date",
            "2026-11-26",
            "--since",
            "2026-11-25 23:50",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let recs = json(&out);
    let got = ids(&recs);
    // "Communications link failure" logged at ERROR: the database cannot be reached.
    assert_eq!(got, vec!["duplicate-key", "db-unreachable"], "{recs:?}");
    assert_eq!(out.status.code(), Some(2));
    // Without the window only the day's file is read.
    let out = cmd(dir.path())
        .args([
            "--config",
            path(&cfg),
            "--date",
            "2026-11-26",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(ids(&json(&out)), vec!["db-unreachable"]);
}

#[test]
fn a_missing_log_is_unknown_with_its_path_unless_missing_ok() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = site_config(dir.path());
    let out = cmd(dir.path())
        .args([
            "--config",
            path(&cfg),
            "--date",
            "2026-11-20",
            "--component",
            "hub",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("not found:") && text.contains("hub/logs/HUB-20261120.LOG"),
        "{text}"
    );
    let out = cmd(dir.path())
        .args([
            "--config",
            path(&cfg),
            "--date",
            "2026-11-20",
            "--component",
            "hub",
            "--missing-ok",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn stdin_rules_files_and_list_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"license\"\nseverity = \"critical\"\nregex = \"license (has )?expired\"\ndescription = \"the license expired\"\n[[rule]]\nid = \"error-level\"\nenabled = false\n",
    )
    .unwrap();
    let mut child = cmd(dir.path())
        .args(["--rules", path(&rules), "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"2026-11-26 08:00:00 ERROR your license has expired\n2026-11-26 08:00:01 ERROR plain\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(ids(&json(&out)), vec!["license"]);
    let out = cmd(dir.path())
        .args(["--list-rules", "--component", "db", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let recs = json(&out);
    let lsn = recs
        .iter()
        .find(|r| r["name"] == "innodb-lsn-future")
        .unwrap();
    assert_eq!(lsn["details"]["severity"], "critical");
    assert!(!lsn["details"]["advice"].as_str().unwrap().is_empty());
    assert!(
        !recs.iter().any(|r| r["name"] == "table-missing"),
        "the db list has no Maestro rules"
    );
    std::fs::write(&rules, "[[rule]]\nid = \"x\"\nregex = \"(\"\n").unwrap();
    let out = cmd(dir.path())
        .args(["--rules", path(&rules), "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule `x`"));
}

#[test]
fn incremental_reads_only_what_is_new_through_truncation_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let scan = || {
        let out = cmd(dir.path())
            .args(["--incremental", "--format", "json", path(&log)])
            .output()
            .unwrap();
        let recs = json(&out);
        (out.status.code(), ids(&recs), recs)
    };
    std::fs::write(&log, "2026-11-26 08:00:00 ERROR first\n").unwrap();
    assert_eq!(scan().1, vec!["error-level"]);
    let (code, got, _) = scan();
    assert_eq!((code, got.len()), (Some(0), 0), "nothing new");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"2026-11-26 08:00:01 INFO fine\n2026-11-26 08:00:02 java.net.BindException: Address already in use\n2026-11-26 08:00:03 SEVERE half a li").unwrap();
    drop(f);
    let (code, got, recs) = scan();
    assert_eq!(
        (code, got),
        (Some(2), vec!["port-in-use".to_string()]),
        "{recs:?}"
    );
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&log))
        .unwrap();
    assert_eq!(
        file["details"]["records"], 2,
        "the partial last line waits for the next run"
    );
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"ne\n").unwrap();
    drop(f);
    let (_, got, recs) = scan();
    assert_eq!(got, vec!["error-level"]);
    let f = findings(&recs)[0];
    assert_eq!(f["details"]["line"], 4);
    assert!(f["message"]
        .as_str()
        .unwrap()
        .ends_with("SEVERE half a line"));
    // Truncated (copytruncate): from the start again.
    std::fs::write(&log, "2026-11-26 09:00:00 FATAL again\n").unwrap();
    let (_, got, recs) = scan();
    assert_eq!(got, vec!["error-level"]);
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&log))
        .unwrap();
    assert!(file["details"]["notes"]
        .as_str()
        .unwrap()
        .contains("truncated"));
    // Rotated: lines written to the old file after the last run are read
    // from its new name, then the new file from its start.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"2026-11-26 09:00:01 OutOfMemoryError: java.lang.OutOfMemoryError\n")
        .unwrap();
    drop(f);
    std::fs::rename(&log, dir.path().join("LUI.LOG.1")).unwrap();
    std::fs::write(
        &log,
        "2026-11-26 09:00:02 Incorrect key file for table 'x'\n",
    )
    .unwrap();
    let (_, got, _) = scan();
    assert_eq!(got, vec!["out-of-memory", "table-key-file"]);
}

#[test]
fn follow_waits_for_the_file_and_returns_on_ready() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let mut f = std::fs::File::create(&log).unwrap();
            f.write_all(b"2026-11-26 08:00:00 INFO Starting LISTSERV Maestro\n2026-11-26 08:00:01 WARN Deadlock found when trying to get lock\n").unwrap();
            std::thread::sleep(Duration::from_millis(400));
            f.write_all(b"2026-11-26 08:00:05 INFO Server startup in 4000 ms\n")
                .unwrap();
        })
    };
    let t0 = Instant::now();
    let out = cmd(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--timeout",
            "20s",
            "--poll-interval",
            "50ms",
            "--format",
            "json",
            path(&log),
        ])
        .output()
        .unwrap();
    writer.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10));
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(1), "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert!(
        ready["message"].as_str().unwrap().contains("LUI.LOG:3"),
        "{ready}"
    );
    assert_eq!(ids(&recs), vec!["deadlock"]);
}

#[test]
fn follow_streams_each_finding_as_it_is_found() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(&log, "2026-11-26 08:00:00 INFO Starting LISTSERV Maestro\n").unwrap();
    for (format, first) in [("json", "{"), ("text", "WARNING [deadlock] LUI.LOG:2: ")] {
        std::fs::write(&log, "2026-11-26 08:00:00 INFO Starting LISTSERV Maestro\n").unwrap();
        let mut child = cmd(dir.path())
            .args([
                "--follow",
                "--until-ready",
                "--since",
                "2026-11-26 00:00",
                "--timeout",
                "20s",
                "--poll-interval",
                "50ms",
                "--format",
                format,
                path(&log),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"2026-11-26 08:00:01 WARN Deadlock found when trying to get lock\n")
            .unwrap();
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            child.try_wait().unwrap().is_none(),
            "{format}: the finding came while following"
        );
        assert!(line.starts_with(first), "{format}: {line}");
        if format == "json" {
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(
                (v["type"].as_str(), v["id"].as_str(), v["location"].as_str()),
                (Some("live-finding"), Some("deadlock"), Some("LUI.LOG:2"))
            );
        }
        f.write_all(b"2026-11-26 08:00:05 INFO Server startup in 4000 ms\n")
            .unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let rest: Vec<String> = rx.try_iter().collect();
        assert_eq!(status.code(), Some(1), "{format}: {rest:?}");
        // The report at the end still has the (folded) finding.
        assert!(
            rest.iter().any(|l| l.contains("deadlock")),
            "{format}: {rest:?}"
        );
    }
}

#[test]
fn follow_stops_at_once_on_critical_and_times_out_as_critical() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(&log, "2026-11-26 07:00:00 INFO Server startup in 10 ms\n").unwrap();
    let t0 = Instant::now();
    let child = cmd(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--timeout",
            "30s",
            "--poll-interval",
            "50ms",
            path(&log),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_open(child.id(), &log);
    append(
        &log,
        "2026-11-26 08:00:00 ERROR Table 'maestro.x' doesn't exist\n",
    );
    let out = finish_within(child, Duration::from_secs(40)).expect("ends");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the old ready line did not count, the critical line ended it"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[table-missing] LUI.LOG:2:"),
        "lines before the follow began are counted: {text}"
    );
    let out = cmd(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--timeout",
            "1s",
            "--poll-interval",
            "50ms",
            "--format",
            "nagios",
            path(&log),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("not ready after 1s"), "{text}");
}

#[test]
fn global_flags_before_the_config_subcommand_still_reach_it() {
    let out = run(&["--format", "json", "config", "check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json(&out);
    assert_eq!(recs.last().unwrap()["command"], "config check");
}

/// Run with a hard deadline: None when it was still running at `limit`
/// (then it is killed), so a hang fails the test instead of hanging it.
fn output_within(mut c: Command, stdin: Stdio, limit: Duration) -> Option<(Output, Duration)> {
    let t0 = Instant::now();
    let mut child = c
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while t0.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            let took = t0.elapsed();
            return Some((child.wait_with_output().unwrap(), took));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn append(log: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// copytruncate, then more lines than before: the saved offset lies inside
/// the new content. The whole file is new: read from line 1, and the
/// offset saved is the new end.
#[test]
fn incremental_rescans_a_file_truncated_and_regrown_past_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let scan = || {
        let out = cmd(dir.path())
            .args(["--incremental", "--format", "json", path(&log)])
            .output()
            .unwrap();
        let recs = json(&out);
        (out.status.code(), recs)
    };
    let mut old = String::new();
    for i in 0..20 {
        old.push_str(&format!(
            "2026-11-26 08:00:{i:02},000 INFO  [main] x - job {i} done\n"
        ));
    }
    std::fs::write(&log, &old).unwrap();
    assert_eq!(scan().0, Some(0));
    // Truncated in place (same inode) and written again, longer.
    let mut new = String::from(
        "2026-11-26 09:00:00,000 ERROR [main] x - Table 'maestro.lui_job' doesn't exist\n",
    );
    for i in 0..40 {
        new.push_str(&format!(
            "2026-11-26 09:00:{i:02},500 INFO  [main] x - step {i}\n"
        ));
    }
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&log, &new);
    let (code, recs) = scan();
    assert_eq!(code, Some(2), "{recs:?}");
    let f = findings(&recs);
    assert_eq!(
        (f[0]["id"].as_str(), f[0]["details"]["line"].as_u64()),
        (Some("table-missing"), Some(1))
    );
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&log))
        .unwrap();
    let d = &file["details"];
    assert_eq!(
        (
            d["start_offset"].as_u64(),
            d["end_offset"].as_u64(),
            d["lines"].as_u64()
        ),
        (Some(0), Some(new.len() as u64), Some(41)),
        "{file}"
    );
    assert!(d["notes"].as_str().unwrap().contains("read from the start"));
    // The offset saved is the new end: nothing is new now.
    let (code, recs) = scan();
    assert_eq!((code, findings(&recs).len()), (Some(0), 0), "{recs:?}");
    append(
        &log,
        "2026-11-26 09:01:00,000 ERROR [main] x - Incorrect key file for table 'y'\n",
    );
    let (_, recs) = scan();
    let f = findings(&recs);
    assert_eq!(
        (f[0]["id"].as_str(), f[0]["details"]["line"].as_u64()),
        (Some("table-key-file"), Some(42))
    );
}

/// A rewrite that keeps the bytes before the saved offset's last 64 KiB
/// the same but not the first ones (another start's first line): the
/// fingerprint of the first bytes tells it.
#[test]
fn incremental_tells_a_rewrite_by_the_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let scan = || {
        let out = cmd(dir.path())
            .args(["--incremental", "--format", "json", path(&log)])
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let mut body = String::new();
    for i in 0..2000 {
        body.push_str(&format!(
            "2026-11-26 08:{:02}:{:02},000 INFO  [main] x - job {i:05} done, nothing to report\n",
            i / 60 % 60,
            i % 60
        ));
    }
    assert!(body.len() > 2 * 64 * 1024);
    let first_new =
        "2026-11-26 07:59:59,000 ERROR [main] x - Table 'maestro.lui_job' doesn't exist\n";
    // As long as the new first line: the last 64 KiB before the old end
    // are the same bytes in both.
    let first_old = format!(
        "{:<width$}\n",
        "2026-11-26 07:59:59,000 INFO  [main] x - Starting the user interface",
        width = first_new.len() - 1
    );
    assert_eq!(first_old.len(), first_new.len());
    std::fs::write(&log, format!("{first_old}{body}")).unwrap();
    assert_eq!(scan().0, Some(0));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(
        &log,
        &format!("{first_new}{body}2026-11-26 09:00:00,000 INFO  [main] x - more\n"),
    );
    let (code, recs) = scan();
    assert_eq!(code, Some(2), "{recs:?}");
    assert_eq!(findings(&recs)[0]["details"]["line"], 1);
}

/// Truncated and written again within one poll, past where it was read:
/// followed from its start again, so line 1 is seen.
#[test]
fn follow_rereads_a_file_truncated_and_regrown_within_one_poll() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let mut old = String::new();
    for i in 0..10 {
        old.push_str(&format!(
            "2026-11-26 08:00:{i:02},000 INFO  [main] x - job {i} done\n"
        ));
    }
    std::fs::write(&log, &old).unwrap();
    let mut c = cmd(dir.path());
    c.args([
        "--follow",
        "--timeout",
        "6s",
        "--poll-interval",
        "1500ms",
        "--format",
        "json",
        path(&log),
    ]);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
            f.set_len(0).unwrap();
            let mut new = String::from(
                "2026-11-26 09:00:00,000 ERROR [main] x - Table 'maestro.lui_job' doesn't exist\n",
            );
            for i in 0..30 {
                new.push_str(&format!(
                    "2026-11-26 09:00:{i:02},500 INFO  [main] x - step {i}\n"
                ));
            }
            append(&log, &new);
        })
    };
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(20)).expect("ends");
    writer.join().unwrap();
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(2), "{recs:?}");
    let f = findings(&recs);
    assert_eq!(f[0]["id"], "table-missing", "{recs:?}");
    assert_eq!(f[0]["location"], "LUI.LOG:1", "{recs:?}");
}

/// A FIFO, /dev/zero and /dev/urandom where a log or a rule file is meant:
/// refused at once, exit 3, the path named; following one ends at once too.
#[test]
fn special_files_as_logs_or_rules_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("LUI.LOG");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let fifo_s = path(&fifo).to_string();
    let plain = dir.path().join("plain.log");
    std::fs::write(&plain, "2026-11-26 08:00:00 INFO ok\n").unwrap();
    let plain_s = path(&plain).to_string();
    for (args, named, kind) in [
        (vec![fifo_s.as_str()], fifo_s.as_str(), "a FIFO"),
        (vec!["/dev/zero"], "/dev/zero", "a character device"),
        (vec!["/dev/urandom"], "/dev/urandom", "a character device"),
        // /dev/null reads as an empty file: "no findings" would be a lie.
        (vec!["/dev/null"], "/dev/null", "a character device"),
        (
            vec!["--follow", "--timeout", "30s", "/dev/null"],
            "/dev/null",
            "a character device",
        ),
        (
            vec!["--follow", "--timeout", "30s", fifo_s.as_str()],
            fifo_s.as_str(),
            "a FIFO",
        ),
        (
            vec!["--follow", "--timeout", "30s", "/dev/zero"],
            "/dev/zero",
            "a character device",
        ),
        (
            vec!["--incremental", "/dev/urandom"],
            "/dev/urandom",
            "a character device",
        ),
        (
            vec!["--rules", "/dev/zero", plain_s.as_str()],
            "/dev/zero",
            "a character device",
        ),
        (
            vec!["--rules", fifo_s.as_str(), plain_s.as_str()],
            fifo_s.as_str(),
            "a FIFO",
        ),
    ] {
        let mut c = cmd(dir.path());
        c.args(&args);
        let (out, took) = output_within(c, Stdio::null(), Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{args:?}: still running after 10s"));
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains(&format!("{named}: is {kind}, not a regular file")),
            "{args:?}: {all}"
        );
        assert!(took < Duration::from_secs(5), "{args:?}: {took:?}");
    }
    // A rule file is read up to 1 MiB.
    let big = dir.path().join("rules.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let out = cmd(dir.path())
        .args(["--rules", path(&big), &plain_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 1 MiB"));
}

/// `-` that never ends (a pipe from a program that hangs, or /dev/zero):
/// read until --timeout, then UNKNOWN with why.
#[test]
fn standard_input_that_never_ends_stops_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path());
    c.args(["--timeout", "1s", "--format", "json", "-"]);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let (out, took) =
        output_within(c, Stdio::from(zero), Duration::from_secs(15)).expect("ends at the timeout");
    assert_eq!(out.status.code(), Some(3));
    assert!(took < Duration::from_secs(6), "{took:?}");
    let recs = json(&out);
    let stdin = recs.iter().find(|r| r["name"] == "-").unwrap();
    assert!(
        stdin["message"]
            .as_str()
            .unwrap()
            .contains("standard input did not end within 1s"),
        "{stdin}"
    );
    // A pipe whose writer never closes it and never writes.
    let mut holder = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = holder.stdout.take().unwrap();
    let mut c = cmd(dir.path());
    c.args(["--timeout", "1s", "-"]);
    let done = output_within(c, Stdio::from(pipe), Duration::from_secs(15));
    let _ = holder.kill();
    let _ = holder.wait();
    let (out, _) = done.expect("ends at the timeout");
    assert_eq!(out.status.code(), Some(3));
}

// ---- "This start" in follow mode, markers, readiness, and hostile input.

/// `date` with a format, `offset_secs` from now, in the zone `tz` (None:
/// this process's).
fn date_at(format: &str, offset_secs: i64, tz: Option<&str>) -> String {
    let mut c = Command::new("date");
    if let Some(tz) = tz {
        c.env("TZ", tz);
    }
    let out = c
        .arg("-d")
        .arg(format!("{offset_secs} seconds"))
        .arg(format!("+{format}"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An ISO-8601 stamp (log4j's layout) `offset_secs` from now, local time.
fn stamp(offset_secs: i64) -> String {
    date_at("%F %T,%3N", offset_secs, None)
}

fn follow_args<'a>(extra: &[&'a str], log: &'a Path) -> Vec<&'a str> {
    let timeout = if extra.contains(&"--timeout") {
        vec![]
    } else {
        vec!["--timeout", "20s"]
    };
    let mut a = vec!["--follow", "--until-ready"];
    a.extend(timeout);
    a.extend(["--poll-interval", "50ms", "--format", "json"]);
    a.extend_from_slice(extra);
    a.push(path(log));
    a
}

/// Wait (at most 20 s) until process `pid` has `path` open: from then on
/// it follows the file, and what is appended is "after following began".
fn wait_until_open(pid: u32, path: &Path) {
    let want = std::fs::canonicalize(path).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            let open = fds
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == want));
            if open {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{pid} did not open {}", path.display());
}

/// A started child's output, or None (killed) when it runs past `limit`.
fn finish_within(mut child: std::process::Child, limit: Duration) -> Option<Output> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Follow `log` with `extra` flags; once it is followed, call `write`
/// (which appends to it). Returns exit code, time taken and the records.
fn follow_while(
    dir: &Path,
    log: &Path,
    extra: &[&str],
    write: impl FnOnce(),
) -> (Option<i32>, Duration, Vec<Value>) {
    let t0 = Instant::now();
    let child = cmd(dir)
        .args(follow_args(extra, log))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_open(child.id(), log);
    write();
    let out = finish_within(child, Duration::from_secs(30)).expect("ends");
    (out.status.code(), t0.elapsed(), json(&out))
}

/// Follow `log` while `later` is appended `delay` after following began.
fn follow_with_append(
    dir: &Path,
    log: &Path,
    extra: &[&str],
    delay: Duration,
    later: String,
) -> (Option<i32>, Duration, Vec<Value>) {
    follow_while(dir, log, extra, || {
        std::thread::sleep(delay);
        append(log, &later);
    })
}

fn check<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["type"] == "check" && r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {recs:?}"))
}

const OLD_CLEAN_START: &str = "2026-11-26 07:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n\
2026-11-26 07:00:05,000 INFO  [main] org.apache.catalina.startup.Catalina.start Server startup in [5000] milliseconds\n";
const OLD_FAILED_START: &str = "2026-11-26 07:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n\
2026-11-26 07:00:03,000 ERROR [main] lui - Loading jobs failed: Table 'maestro.lui_job' doesn't exist\n";

/// An earlier start's readiness line in the same file never passes for
/// the start being followed: only lines appended after following began
/// count (without --since-start-after), so the new start's critical is read.
#[test]
fn follow_an_earlier_clean_start_in_the_file_does_not_pass_for_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(&log, OLD_CLEAN_START).unwrap();
    let new = format!(
        "{} INFO  [main] lui - Starting LISTSERV Maestro\n{} ERROR [main] lui - Loading jobs failed: Table 'maestro.lui_job' doesn't exist\n",
        stamp(0),
        stamp(0)
    );
    let (code, took, recs) = follow_with_append(
        dir.path(),
        &log,
        &["--since-start"],
        Duration::from_millis(1500),
        new,
    );
    assert_eq!(code, Some(2), "{recs:?}");
    assert!(
        took >= Duration::from_millis(1400),
        "waited for this start: {took:?}"
    );
    let ready = check(&recs, "ready");
    assert!(
        ready["message"].as_str().unwrap().contains("LUI.LOG:4"),
        "{ready}"
    );
}

/// The mirror: an earlier failed start in the file does not stop a clean
/// start that is appended later.
#[test]
fn follow_an_earlier_failed_start_in_the_file_does_not_fail_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(&log, OLD_FAILED_START).unwrap();
    let new = format!(
        "{} INFO  [main] lui - Starting LISTSERV Maestro\n{} INFO  [main] org.apache.catalina.startup.Catalina.start Server startup in [900] milliseconds\n",
        stamp(0),
        stamp(0)
    );
    let (code, took, recs) = follow_with_append(
        dir.path(),
        &log,
        &["--since-start"],
        Duration::from_millis(1500),
        new,
    );
    assert_eq!(code, Some(0), "{recs:?}");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(findings(&recs).is_empty(), "{recs:?}");
    let ready = check(&recs, "ready");
    assert!(
        ready["message"].as_str().unwrap().contains("LUI.LOG:4"),
        "{ready}"
    );
}

/// `--since-start-after TIME` (the time noted before starting Maestro): a
/// start that already logged everything before following began counts
/// when its startup line is stamped at or after TIME; an earlier start in
/// the same file does not.
#[test]
fn follow_since_start_after_finds_a_start_written_before_following_began() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let before = date_at("%F %T", -2, None);
    let ok_start = format!(
        "{OLD_FAILED_START}{} INFO  [main] lui - Starting LISTSERV Maestro\n{} INFO  [main] x.Catalina.start Server startup in [900] milliseconds\n",
        stamp(0),
        stamp(0)
    );
    std::fs::write(&log, &ok_start).unwrap();
    let mut c = cmd(dir.path());
    c.args(follow_args(&["--since-start-after", &before], &log));
    let (out, took) = output_within(c, Stdio::null(), Duration::from_secs(30)).expect("ends");
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(0), "{recs:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        check(&recs, "ready")["message"]
            .as_str()
            .unwrap()
            .contains("LUI.LOG:4"),
        "{recs:?}"
    );
    // The same, with a critical in this start: CRITICAL at once.
    let failed = format!(
        "{OLD_CLEAN_START}{} INFO  [main] lui - Starting LISTSERV Maestro\n{} ERROR [main] lui - Table 'maestro.lui_job' doesn't exist\n{} INFO  [main] x.Catalina.start Server startup in [900] milliseconds\n",
        stamp(0),
        stamp(0),
        stamp(0)
    );
    std::fs::write(&log, &failed).unwrap();
    let mut c = cmd(dir.path());
    c.args(follow_args(&["--since-start-after", &before], &log));
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(30)).expect("ends");
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(2), "{recs:?}");
    assert_eq!(
        findings(&recs)[0]["location"],
        "LUI.LOG:4",
        "only this start's finding: {recs:?}"
    );
    // Only an earlier start (stamped before TIME) in a file not written
    // since TIME: nothing of it counts; the new start appended later does.
    std::fs::write(&log, OLD_CLEAN_START).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let after = date_at("%F %T", 0, None);
    let new = format!(
        "{} INFO  [main] lui - Starting LISTSERV Maestro\n{} INFO  [main] x.Catalina.start Server startup in [900] milliseconds\n",
        stamp(1),
        stamp(1)
    );
    let (code, took, recs) = follow_with_append(
        dir.path(),
        &log,
        &["--since-start-after", &after],
        Duration::from_millis(1500),
        new,
    );
    assert_eq!(code, Some(0), "{recs:?}");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
}

/// A log written in another time zone than this host's (a JVM with
/// -Duser.timezone=UTC on a host west of UTC) has stamps ahead of the
/// host's clock: --since-start-after cannot judge it and says so (UNKNOWN),
/// instead of taking an earlier start for this one.
#[test]
fn follow_since_start_after_refuses_a_log_stamped_in_another_zone() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    // Written 2 hours ago by a JVM in UTC; read on a host in New York.
    let utc = |secs| date_at("%F %T,%3N", secs, Some("UTC"));
    std::fs::write(
        &log,
        format!(
            "{} INFO  [main] lui - Starting LISTSERV Maestro\n{} INFO  [main] x.Catalina.start Server startup in [900] milliseconds\n",
            utc(-7200),
            utc(-7195)
        ),
    )
    .unwrap();
    let before = date_at("%F %T", -1, Some("America/New_York"));
    let mut c = cmd(dir.path());
    c.env("TZ", "America/New_York").args(follow_args(
        &["--since-start-after", &before, "--timeout", "3s"],
        &log,
    ));
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(30)).expect("ends");
    let recs = json(&out);
    assert_ne!(out.status.code(), Some(0), "{recs:?}");
    assert_eq!(out.status.code(), Some(3), "{recs:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("time zone"), "{text}");
    // --since in follow mode: an earlier start's readiness line inside
    // the window (the same zone mistake) does not make it ready either.
    let mut c = cmd(dir.path());
    c.env("TZ", "America/New_York")
        .args(follow_args(&["--since", &before, "--timeout", "2s"], &log));
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(30)).expect("ends");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A startup marker is the first line of an INFO record naming LISTSERV
/// Maestro: "Starting Maestro scheduler", an ERROR "while initializing
/// Maestro" or a stack line do not start a new start (and clear nothing).
#[test]
fn only_a_real_startup_line_starts_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    for not_a_start in [
        "2026-11-26 08:00:02,000 INFO  [main] lui - Starting Maestro scheduler",
        "2026-11-26 08:00:02,000 ERROR [main] lui - Error while initializing Maestro",
        "2026-11-26 08:00:02,000 WARN  [main] lui - Starting LISTSERV Maestro failed once\njava.lang.IllegalStateException: x",
        "2026-11-26 08:00:02,000 INFO  [main] lui - a stack follows\n\tat Starting LISTSERV Maestro(x.java:1)",
    ] {
        std::fs::write(
            &log,
            format!("2026-11-26 08:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n\
2026-11-26 08:00:01,000 ERROR [main] lui - Table 'maestro.lui_job' doesn't exist\n\
{not_a_start}\n\
2026-11-26 08:00:03,000 INFO  [main] x.Catalina.start Server startup in [3000] milliseconds\n"),
        )
        .unwrap();
        let out = run(&["--since-start", "--format", "json", path(&log)]);
        let recs = json(&out);
        assert_eq!(out.status.code(), Some(2), "{not_a_start}: {recs:?}");
        assert!(
            check(&recs, "since-start")["message"]
                .as_str()
                .unwrap()
                .contains("LUI.LOG:1 "),
            "{not_a_start}: {recs:?}"
        );
        assert_eq!(check(&recs, "ready")["status"], "CRITICAL", "{not_a_start}");
    }
}

/// "Maestro scheduler started" is not the readiness line: followed, the
/// critical appended after it is read and the start is not ready.
#[test]
fn follow_a_component_of_maestro_started_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(&log, "").unwrap();
    let (code, _, recs) = follow_while(dir.path(), &log, &["--since-start"], || {
        append(&log, "2026-11-26 08:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n2026-11-26 08:00:01,000 INFO  [main] lui - Maestro scheduler started\n");
        std::thread::sleep(Duration::from_millis(1500));
        append(
            &log,
            "2026-11-26 08:00:02,000 ERROR [main] lui - Table 'maestro.lui_job' doesn't exist\n",
        );
    });
    assert_eq!(code, Some(2), "{recs:?}");
}

/// Tomcat logs a taken shutdown port (another instance) right after
/// "Server startup in": following goes on for a grace period after the
/// readiness line, and the critical makes it not ready.
#[test]
fn follow_reads_on_a_little_after_the_readiness_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("catalina.log");
    std::fs::write(&log, "").unwrap();
    let start = "28-Nov-2026 02:05:26.593 INFO [main] org.apache.catalina.startup.VersionLoggerListener.log Server version name:   Apache Tomcat/10.1.60 (Debian)\n28-Nov-2026 02:05:29.740 INFO [main] org.apache.catalina.startup.Catalina.start Server startup in [2477] milliseconds\n";
    let taken = "28-Nov-2026 02:05:29.790 SEVERE [main] org.apache.catalina.core.StandardServer.await Failed to create server shutdown socket on address [localhost] and port [8005] (base port [8005] and offset [0])\n\tjava.net.BindException: Address already in use\n";
    let (code, _, recs) = follow_while(dir.path(), &log, &["--since-start"], || {
        append(&log, start);
        std::thread::sleep(Duration::from_millis(150));
        append(&log, taken);
    });
    assert_eq!(code, Some(2), "{recs:?}");
    // All in one read: CRITICAL, and no OK "readiness marker" beside it.
    std::fs::write(&log, "").unwrap();
    let (code, _, recs) = follow_while(dir.path(), &log, &["--since-start"], || {
        append(&log, &format!("{start}{taken}"));
    });
    assert_eq!(code, Some(2), "{recs:?}");
    let ready = check(&recs, "ready");
    assert_eq!(ready["status"], "CRITICAL", "{ready}");
}

/// A follow that cannot read the log (permission denied) is UNKNOWN with
/// the reason, not "not found", also with --missing-ok.
#[test]
fn follow_an_unreadable_log_is_unknown_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("secret.log");
    std::fs::write(&log, "2026-11-26 08:00:00 INFO x\n").unwrap();
    // Mode 600, owned by root: uid 65534 may not read it.
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_maestro-logscan"))
        .env_remove("MAESTRO_HA_CONFIG")
        .env("MAESTRO_HA_STATE_DIR", "/nonexistent")
        .args(["--follow", "--missing-ok", "--timeout", "2s", path(&log)]);
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(20)).expect("ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("Permission denied"), "{text}");
}

/// One pass with --since-start: a start without a readiness line is not
/// ready (WARNING), never OK.
#[test]
fn since_start_without_a_readiness_line_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(
        &log,
        "2026-11-26 08:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n2026-11-26 08:00:01,000 INFO  [main] lui - loading jobs\n",
    )
    .unwrap();
    let out = run(&["--since-start", "--format", "json", path(&log)]);
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(1), "{recs:?}");
    let ready = check(&recs, "ready");
    assert_eq!(ready["status"], "WARNING", "{ready}");
    assert!(
        ready["message"].as_str().unwrap().contains("not ready"),
        "{ready}"
    );
}

/// Standard input that keeps coming past --timeout (a fast endless
/// writer) ends at the timeout too.
#[test]
fn standard_input_that_keeps_coming_stops_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut yes = Command::new("yes")
        .arg("2026-11-26 08:00:00,000 INFO  [main] x - a line that never ends coming")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = yes.stdout.take().unwrap();
    let mut c = cmd(dir.path());
    c.args(["--timeout", "1s", "-"]);
    let done = output_within(c, Stdio::from(pipe), Duration::from_secs(20));
    let _ = yes.kill();
    let _ = yes.wait();
    let (out, took) = done.expect("ends at the timeout");
    assert_eq!(out.status.code(), Some(3));
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// A level word in an INFO line's text (a JVM argument) is not an error.
#[test]
fn a_level_word_inside_an_info_line_is_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("catalina.log");
    std::fs::write(&log, "28-Nov-2026 02:05:26.619 INFO [main] org.apache.catalina.startup.VersionLoggerListener.log Command line argument: -Dorg.apache.logging.log4j.level=ERROR\n28-Nov-2026 02:05:26.620 INFO [main] x.Y.z Command line argument: -Dlog.threshold=FATAL\n").unwrap();
    let out = run(&["--format", "json", path(&log)]);
    let recs = json(&out);
    assert_eq!(out.status.code(), Some(0), "{recs:?}");
}

/// A retry logged at WARN is a warning only when the match is the
/// record's own message or exception; at INFO, in a stack printed under
/// it, or again in the same start, it is the full severity.
#[test]
fn warn_level_demotion_cannot_be_borrowed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    let refused = "java.sql.SQLNonTransientConnectionException: Could not connect to address=(host=127.0.0.1)(port=3306)(type=master) : Socket fail to connect to host:127.0.0.1, port:3306. Connection refused";
    for (text, want) in [
        // An INFO line with an unformatted stack after it (printStackTrace).
        (format!("2026-11-26 08:00:00,000 INFO  [main] x.Listener - contextInitialized\n{refused}\n\tat x(X.java:1)\n"), 2),
        // A WARN line, and another exception printed after its frames.
        (format!("2026-11-26 08:00:00,000 WARN  [main] x.Db - retrying\njava.lang.IllegalStateException: later\n\tat x(X.java:1)\n{refused}\n\tat y(Y.java:1)\n"), 2),
        // A WARN line with its own exception, then another exception
        // printed into the record whose cause is the refusal.
        (format!("2026-11-26 08:00:00,000 WARN  [main] x.Db - retrying\njava.lang.IllegalStateException: mine\n\tat x(X.java:1)\njava.lang.RuntimeException: another thread's\nCaused by: {refused}\n\tat y(Y.java:1)\n"), 2),
        // Two WARN retries in one start: the second is critical.
        (format!("2026-11-26 08:00:00,000 WARN  [main] x.Db - attempt 1: {refused}\n2026-11-26 08:00:01,000 WARN  [main] x.Db - attempt 2: {refused}\n"), 2),
        // One WARN retry with the exception under it: a warning.
        (format!("2026-11-26 08:00:00,000 WARN  [main] x.Db - retrying\n{refused}\n\tat x(X.java:1)\n"), 1),
        // c3p0 giving up after its retries.
        ("2026-11-26 08:00:30,000 WARN  [C3P0PooledConnectionPoolManager[identityToken->1]-HelperThread-#1] com.mchange.v2.resourcepool.BasicResourcePool - com.mchange.v2.resourcepool.BasicResourcePool$ScatteredAcquireTask@5b1d2887 -- Acquisition Attempt Failed!!! Clearing pending acquires. While trying to acquire a needed new resource, we failed to succeed more than the maximum number of allowed acquisition attempts (30). Last acquisition attempt exception: \n".to_string(), 2),
    ] {
        std::fs::write(&log, &text).unwrap();
        let out = run(&["--format", "json", path(&log)]);
        assert_eq!(out.status.code(), Some(want), "{text}: {:?}", json(&out));
    }
}

/// An incremental run that ends inside a long line still being written
/// saves the offset of that line's start: the next run numbers lines right.
#[test]
fn incremental_never_saves_an_offset_inside_a_cut_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("inc.log");
    let head = "2026-11-26 08:00:00 INFO a\n2026-11-26 08:00:01 INFO b\n";
    let long = format!("2026-11-26 08:00:02 INFO {}", "x".repeat(600));
    std::fs::write(&log, format!("{head}{long}")).unwrap();
    let scan = || {
        let out = cmd(dir.path())
            .args([
                "--incremental",
                "--max-line-bytes",
                "256",
                "--format",
                "json",
                path(&log),
            ])
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let (code, recs) = scan();
    assert_eq!(code, Some(0), "{recs:?}");
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&log))
        .unwrap();
    assert_eq!(file["details"]["end_offset"], head.len() as u64, "{file}");
    append(
        &log,
        "\n2026-11-26 08:00:03 ERROR Table 'maestro.x' doesn't exist\n",
    );
    let (code, recs) = scan();
    assert_eq!(code, Some(2), "{recs:?}");
    assert_eq!(findings(&recs)[0]["location"], "inc.log:4", "{recs:?}");
}

/// Following from the end reports only what it read.
#[test]
fn follow_from_the_end_reports_only_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mid.log");
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "2026-11-26 08:00:00,000 INFO  [main] x - line {i}\n"
        ));
    }
    std::fs::write(&log, &text).unwrap();
    let out = run(&[
        "--follow",
        "--timeout",
        "1s",
        "--format",
        "json",
        path(&log),
    ]);
    let recs = json(&out);
    let file = recs
        .iter()
        .find(|r| r["details"]["path"] == path(&log))
        .unwrap();
    let d = &file["details"];
    assert_eq!(d["bytes_scanned"], 0, "{file}");
    assert_eq!(d["start_offset"], text.len() as u64, "{file}");
    let totals = check(&recs, "totals");
    assert!(
        totals["message"]
            .as_str()
            .unwrap()
            .starts_with("0 records, 0 lines, 0 B"),
        "{totals}"
    );
}

/// --write-patterns to a FIFO is refused at once (no hang); to a file it
/// is written whole.
#[test]
fn write_patterns_refuses_a_fifo_and_writes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("patterns");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut c = cmd(dir.path());
    c.args(["--write-patterns", path(&fifo)]);
    let (out, _) = output_within(c, Stdio::null(), Duration::from_secs(10)).expect("no hang");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("patterns.txt");
    let out = run(&["--write-patterns", path(&file)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("doesn't exist"));
}

#[test]
fn findings_written_as_they_are_found_are_masked_and_escaped_like_the_report() {
    // Lines written before following began count as findings (not as
    // readiness) under --since, so one run with a short timeout shows the
    // live lines and then the report.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("LUI.LOG");
    std::fs::write(
        &log,
        "2026-11-28 08:00:00,001 ERROR [main] com.lsoft.maestro.db.Pool - Cannot open jdbc:mysql://maestro:DbPa55word@db:3306/maestro \u{202e}gpj.exe: Table 'maestro.lui_job' doesn't exist\n",
    )
    .unwrap();
    for format in ["text", "json"] {
        let out = cmd(dir.path())
            .args([
                "--format",
                format,
                "--follow",
                "--timeout",
                "1s",
                "--since",
                "2026-11-28",
                path(&log),
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let live = if format == "json" {
            "\"live-finding\""
        } else {
            "[table-missing]"
        };
        assert!(
            stdout.contains(live),
            "{format}: no live finding in {stdout}"
        );
        assert!(
            !stdout.contains("DbPa55word"),
            "{format}: the password shows: {stdout}"
        );
        // Text escapes it; JSON carries the text as found, JSON-escaped.
        if format == "text" {
            assert!(!stdout.contains('\u{202e}'), "a raw U+202E: {stdout}");
        }
    }
}
