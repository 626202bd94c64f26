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
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            f.write_all(b"2026-11-26 08:00:00 ERROR Table 'maestro.x' doesn't exist\n")
                .unwrap();
        })
    };
    let t0 = Instant::now();
    let out = cmd(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--timeout",
            "30s",
            "--poll-interval",
            "50ms",
            path(&log),
        ])
        .output()
        .unwrap();
    writer.join().unwrap();
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
