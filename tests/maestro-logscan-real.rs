//! maestro-logscan on logs real software wrote (tests/maestro-logscan/real-java/,
//! made by its make.sh with Debian's Tomcat 10, MariaDB Connector/J, HikariCP,
//! Commons DBCP 2, Tomcat's JDBC pool, java.util.logging, log4j 1.2 and 2 and
//! MariaDB): every file's findings (line, rule, severity) and exit code; what
//! a finding says for java.util.logging, how repeats fold, which lines of a
//! long stack trace are kept; and that a start whose web application failed
//! to deploy is never "ready", read at once or followed as it is written.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/maestro-logscan/real-java/logs")
        .join(name)
}

fn logscan(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_maestro-logscan"));
    c.env_remove("MAESTRO_HA_CONFIG")
        .env("MAESTRO_HA_STATE_DIR", state)
        .env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    logscan(dir.path()).args(args).output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn findings(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "finding").collect()
}

/// (line, rule, severity) of every finding, in report order.
fn summary(recs: &[Value]) -> Vec<(u64, String, String)> {
    findings(recs)
        .iter()
        .map(|f| {
            (
                f["details"]["line"].as_u64().unwrap(),
                f["id"].as_str().unwrap().to_string(),
                f["details"]["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn scan(name: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let f = real(name);
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    args.push(f.to_str().unwrap());
    let out = run(&args);
    (out.status.code().unwrap_or(-1), records(&out))
}

const C: &str = "critical";
const W: &str = "warning";

/// Every file make.sh wrote, with what it must give. The clean runs (a
/// clean Tomcat start, JDBC runs that log INFO only) give nothing.
#[allow(clippy::type_complexity)]
const EXPECTED: &[(&str, &[&str], i32, &[(u64, &str, &str)])] = &[
    ("jdbc-clean-jul.log", &[], 0, &[]),
    ("jdbc-clean-log4j1.log", &[], 0, &[]),
    ("jdbc-clean-log4j2.log", &[], 0, &[]),
    ("jdbc-refused-jul.log", &[], 2, &[(3, "db-unreachable", C)]),
    (
        "jdbc-refused-log4j1.log",
        &[],
        2,
        &[(2, "db-unreachable", C)],
    ),
    (
        "jdbc-refused-log4j2.log",
        &[],
        2,
        &[(2, "db-unreachable", C)],
    ),
    ("jdbc-denied-jul.log", &[], 2, &[(3, "db-access-denied", C)]),
    (
        "jdbc-denied-log4j1.log",
        &[],
        2,
        &[(2, "db-access-denied", C)],
    ),
    (
        "jdbc-denied-log4j2.log",
        &[],
        2,
        &[(2, "db-access-denied", C)],
    ),
    // One retry while the database starts, then it is up: a warning.
    ("jdbc-retry-jul.log", &[], 1, &[(3, "db-unreachable", W)]),
    ("jdbc-retry-log4j2.log", &[], 1, &[(2, "db-unreachable", W)]),
    (
        "jdbc-tables-jul.log",
        &[],
        2,
        &[(5, "table-missing", C), (28, "table-missing", C)],
    ),
    (
        "jdbc-tables-log4j1.log",
        &[],
        2,
        &[(3, "table-missing", C), (24, "table-missing", C)],
    ),
    (
        "jdbc-tables-log4j2.log",
        &[],
        2,
        &[(3, "table-missing", C), (25, "table-missing", C)],
    ),
    (
        "pool-hikari-jul.log",
        &[],
        2,
        &[(5, "db-pool-gave-up", C), (41, "db-pool-gave-up", C)],
    ),
    ("pool-dbcp2-jul.log", &[], 2, &[(3, "db-pool-gave-up", C)]),
    (
        "pool-tomcat-jdbc-jul.log",
        &[],
        2,
        &[(3, "db-pool-gave-up", C), (40, "db-unreachable", C)],
    ),
    // c3p0 gives up after its attempts and says so at WARNING, once a
    // connection asked for: critical, not a retry.
    (
        "pool-c3p0-jul.log",
        &[],
        2,
        &[
            (9, "db-pool-gave-up", C),
            (43, "db-pool-gave-up", C),
            (77, "db-pool-gave-up", C),
            (111, "db-pool-gave-up", C),
        ],
    ),
    // A JVM in German on New York time: JUL's header "Nov. 27, 2026
    // 10:41:36 PM" and "SCHWERWIEGEND:" read as in English.
    ("jdbc-clean-jul-de.log", &[], 0, &[]),
    (
        "jdbc-refused-jul-de.log",
        &[],
        2,
        &[(3, "db-unreachable", C)],
    ),
    ("tomcat-de-clean/catalina.log", &[], 0, &[]),
    ("tomcat-de-clean/localhost.log", &[], 0, &[]),
    (
        "tomcat-de-listener-refused/catalina.log",
        &[],
        2,
        &[
            (38, "tomcat-context-failed", C),
            (39, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-de-listener-refused/localhost.log",
        &[],
        2,
        &[(1, "db-unreachable", C)],
    ),
    // The shutdown port taken: logged right after "Server startup in".
    (
        "tomcat-shutdown-port/catalina.log",
        &[],
        2,
        &[(41, "port-in-use", C)],
    ),
    ("tomcat-clean/catalina.log", &[], 0, &[]),
    ("tomcat-clean/localhost.log", &[], 0, &[]),
    (
        "tomcat-listener-refused/catalina.log",
        &[],
        2,
        &[
            (38, "tomcat-context-failed", C),
            (39, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-listener-refused/localhost.log",
        &[],
        2,
        &[(1, "db-unreachable", C)],
    ),
    (
        "tomcat-listener-denied/catalina.log",
        &[],
        2,
        &[
            (38, "tomcat-context-failed", C),
            (39, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-listener-denied/localhost.log",
        &[],
        2,
        &[(1, "db-access-denied", C)],
    ),
    (
        "tomcat-listener-nodriver/catalina.log",
        &[],
        2,
        &[
            (38, "tomcat-context-failed", C),
            (39, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-listener-nodriver/localhost.log",
        &[],
        2,
        &[(1, "db-driver-missing", C)],
    ),
    (
        "tomcat-filter/catalina.log",
        &[],
        2,
        &[
            (38, "tomcat-context-failed", C),
            (39, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-filter/localhost.log",
        &[],
        2,
        &[(1, "tomcat-deploy-exception", C)],
    ),
    // A servlet that fails at load leaves the context running: Tomcat
    // says so only in localhost.*.log.
    ("tomcat-servlet/catalina.log", &[], 0, &[]),
    (
        "tomcat-servlet/localhost.log",
        &[],
        2,
        &[(1, "tomcat-deploy-exception", C)],
    ),
    (
        "tomcat-webxml/catalina.log",
        &[],
        2,
        &[
            (36, "tomcat-deploy-exception", C),
            (102, "tomcat-deploy-exception", C),
            (168, "error-level", W),
            (169, "tomcat-context-failed", C),
            (170, "tomcat-context-failed", C),
            (171, "tomcat-context-failed", C),
        ],
    ),
    (
        "tomcat-port-in-use/catalina.log",
        &[],
        2,
        &[(32, "port-in-use", C)],
    ),
    // MariaDB's own error log of the runs: the LUI's user refused.
    (
        "mariadb.err",
        &["--component", "db"],
        1,
        &[
            (22, "db-user-refused", W),
            (23, "db-user-refused", W),
            (24, "db-user-refused", W),
            (83, "db-user-refused", W),
        ],
    ),
];

#[test]
fn every_real_log_gives_its_findings_and_exit_code() {
    let mut wrong = Vec::new();
    for (name, extra, code, want) in EXPECTED {
        let (got_code, recs) = scan(name, extra);
        let got = summary(&recs);
        let want: Vec<(u64, String, String)> = want
            .iter()
            .map(|(l, r, s)| (*l, r.to_string(), s.to_string()))
            .collect();
        if got_code != *code || got != want {
            wrong.push(format!(
                "{name}: exit {got_code} (want {code}), findings {got:?}, want {want:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_file_make_sh_wrote_has_its_expectation() {
    let dir = real("");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                files.push(e.unwrap().path());
            }
        } else {
            files.push(p);
        }
    }
    for f in files {
        let rel = f.strip_prefix(&dir).unwrap().to_str().unwrap().to_string();
        if rel == "VERSIONS.txt" {
            continue;
        }
        assert!(
            EXPECTED.iter().any(|(n, ..)| *n == rel),
            "{rel} has no expected findings in this test"
        );
    }
}

/// Each new critical rule names a finding of its own with advice, and the
/// deployment exception is named by its cause with Tomcat's rule beside it.
#[test]
fn findings_carry_their_rule_advice_and_the_other_rules_they_matched() {
    let (_, recs) = scan("tomcat-listener-refused/localhost.log", &[]);
    let f = findings(&recs)[0];
    assert!(
        f["details"]["also_matched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "tomcat-deploy-exception"),
        "{f}"
    );
    for id in [
        "db-unreachable",
        "db-access-denied",
        "db-pool-gave-up",
        "db-driver-missing",
        "tomcat-context-failed",
        "tomcat-deploy-exception",
        "tomcat-component-failed",
    ] {
        let out = run(&["--list-rules", "--format", "json"]);
        let recs = records(&out);
        let r = recs
            .iter()
            .find(|r| r["name"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"));
        assert_eq!(r["details"]["severity"], "critical", "{id}");
        assert!(
            r["details"]["advice"].as_str().unwrap().len() > 20,
            "{id} has advice"
        );
    }
}

/// java.util.logging's header (`Nov 28, 2026 2:05:06 AM class method`) is
/// not what happened: the `SEVERE: message` line after it is.
#[test]
fn a_jul_finding_reads_as_its_message_line() {
    let (_, recs) = scan("jdbc-refused-jul.log", &[]);
    let f = findings(&recs)[0];
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Nov 28, 2026 2:05:06 AM SEVERE: Cannot open the database connection"),
        "{msg}"
    );
    assert!(!msg.contains("DatabaseStartup connectOnce"), "{msg}");
    assert_eq!(
        f["details"]["first_line"],
        "Nov 28, 2026 2:05:06 AM com.example.lui.db.DatabaseStartup connectOnce"
    );
    let stack = f["details"]["stack"].as_array().unwrap();
    assert!(
        stack[0]
            .as_str()
            .unwrap()
            .starts_with("java.sql.SQLNonTransientConnectionException: Could not connect"),
        "the message line is not a stack line: {stack:?}"
    );
    // The text line of a finding says the same.
    let out = run(&[real("jdbc-refused-jul.log").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "[db-unreachable] jdbc-refused-jul.log:3: Nov 28, 2026 2:05:06 AM SEVERE: Cannot open"
        ),
        "{text}"
    );
}

/// Two different SEVERE messages logged from one method are two findings
/// (they share the JUL header's class and method, not their message).
#[test]
fn jul_repeats_fold_on_the_message_not_the_header() {
    let (_, recs) = scan("jdbc-tables-jul.log", &[]);
    let fs = findings(&recs);
    assert_eq!(fs.len(), 2, "{recs:?}");
    let msgs: Vec<&str> = fs.iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(msgs[0].contains("SEVERE: System table lui_recipient cannot be read"));
    assert!(msgs[1].contains("SEVERE: System table lui_mailing cannot be read"));
    assert!(fs.iter().all(|f| f["details"]["count"] == 1));
}

/// A stack trace past the kept-line limit keeps its first lines and its
/// root cause (Tomcat indents the whole trace, `Caused by:` too), with the
/// number of lines left out between them.
#[test]
fn a_long_stack_trace_keeps_its_root_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    // java.util.logging's traces here are shorter than 50 lines: keep 20.
    std::fs::write(&cfg, "[logscan]\nmax_stack_lines = 20\n").unwrap();
    for (name, max) in [
        ("tomcat-listener-refused/localhost.log", 50),
        ("pool-hikari-jul.log", 20),
    ] {
        let args = match max {
            50 => vec![],
            _ => vec!["--config", cfg.to_str().unwrap()],
        };
        let (_, recs) = scan(name, &args);
        let f = findings(&recs).last().copied().unwrap();
        let d = &f["details"];
        let stack: Vec<&str> = d["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let left_out = d["lines_left_out"].as_u64().unwrap();
        assert!(left_out > 0, "{name}: the trace is longer than {max} lines");
        let marker = format!("... {left_out} lines left out ...");
        let at = stack
            .iter()
            .position(|l| *l == marker)
            .unwrap_or_else(|| panic!("{name}: {stack:#?}"));
        assert!(at >= max * 4 / 5, "{name}: the first lines are kept: {at}");
        let root = stack[at + 1];
        assert!(
            root.trim_start()
                .starts_with("Caused by: java.net.ConnectException: Connection refused"),
            "{name}: the last Caused by follows the left-out lines: {root}"
        );
        assert!(
            stack.len() <= max + 1,
            "{name}: at most {max} lines and the marker"
        );
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.ends_with("/ Caused by: java.net.ConnectException: Connection refused"),
            "{name}: {msg}"
        );
        // Kept and left-out lines add up to the record's lines.
        let lines = std::fs::read_to_string(real(name)).unwrap();
        let first = d["line"].as_u64().unwrap() as usize;
        let record_lines = lines
            .lines()
            .skip(first)
            // Up to the next record (Tomcat's and JUL's timestamps).
            .take_while(|l| !l.starts_with("28-Nov-2026") && !l.starts_with("Nov 28, 2026"))
            .count() as u64;
        let jul_line = u64::from(d["jul_message"].is_string());
        assert_eq!(
            stack.len() as u64 - 1 + left_out + jul_line,
            record_lines,
            "{name}"
        );
    }
}

/// `--since-start` on a Tomcat start whose web application failed: the
/// readiness line Tomcat writes after it does not make it ready.
#[test]
fn since_start_with_a_failed_deploy_is_critical_not_ready() {
    let (code, recs) = scan("tomcat-listener-refused/catalina.log", &["--since-start"]);
    assert_eq!(code, 2, "{recs:?}");
    let ready = recs
        .iter()
        .find(|r| r["type"] == "check" && r["name"] == "ready")
        .expect("a ready check");
    assert_eq!(ready["status"], "CRITICAL", "{ready}");
    let msg = ready["message"].as_str().unwrap();
    assert!(
        msg.contains("catalina.log:38") && msg.contains("catalina.log:44"),
        "names the failure and the readiness line that does not count: {msg}"
    );
    // A clean start is ready (Tomcat's two logs read together).
    let (code, recs) = scan(
        "tomcat-clean/catalina.log",
        &[
            "--since-start",
            real("tomcat-clean/localhost.log").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert_eq!(ready["status"], "OK", "{ready}");
}

/// Tomcat binds its connectors before it logs "Starting service
/// [Catalina]": a port already taken at that moment belongs to this start,
/// and `--since-start` must not count from the later line.
#[test]
fn since_start_keeps_errors_logged_before_the_service_starts() {
    let (code, recs) = scan("tomcat-port-in-use/catalina.log", &["--since-start"]);
    assert_eq!(code, 2, "{recs:?}");
    assert_eq!(summary(&recs), vec![(32, "port-in-use".into(), C.into())]);
    let s = recs.iter().find(|r| r["name"] == "since-start").unwrap();
    assert!(
        s["message"].as_str().unwrap().contains("catalina.log:1 "),
        "Tomcat's first line of a start is its version line: {s}"
    );
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

/// Write `lines` of a real log into `log` one by one, `pause_after` a
/// pause of `pause` after the line with that number (1-based).
fn replay(log: PathBuf, lines: Vec<String>, pause_after: usize, pause: Duration) {
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for (i, l) in lines.iter().enumerate() {
        f.write_all(l.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
        f.flush().unwrap();
        if i + 1 == pause_after {
            std::thread::sleep(pause);
        } else if i % 8 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn follow_replay(name: &str, pause_after: usize) -> (i32, Duration, Vec<Value>) {
    follow_replay_pausing(name, pause_after, Duration::from_secs(8))
}

fn follow_replay_pausing(
    name: &str,
    pause_after: usize,
    pause: Duration,
) -> (i32, Duration, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("catalina.log");
    std::fs::write(&log, "").unwrap();
    let text = std::fs::read_to_string(real(name)).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let child = logscan(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--since-start",
            "--timeout",
            "60s",
            "--poll-interval",
            "50ms",
            "--format",
            "json",
            log.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_open(child.id(), &log);
    let t0 = Instant::now();
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || replay(log, lines, pause_after, pause))
    };
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    writer.join().unwrap();
    (out.status.code().unwrap_or(-1), took, records(&out))
}

/// Followed while Tomcat writes it: the start stops at once at the failed
/// context (CRITICAL), long before Tomcat's "Server startup in" line.
#[test]
fn follow_until_ready_stops_at_once_at_a_failed_deploy() {
    // The writer pauses 8 s after the "Context [/lui] startup failed" line.
    let (code, took, recs) = follow_replay("tomcat-listener-refused/catalina.log", 39);
    assert_eq!(code, 2, "{recs:?}");
    assert!(took < Duration::from_secs(7), "stopped at once: {took:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert_eq!(ready["status"], "CRITICAL");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("catalina.log:38"),
        "{ready}"
    );
    let live: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "live-finding")
        .collect();
    assert_eq!(live[0]["id"], "tomcat-context-failed", "{live:?}");
}

/// The same Tomcat start written all at once (failure and readiness line
/// in one read): still CRITICAL, never "ready".
#[test]
fn follow_until_ready_with_failure_and_ready_line_in_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("catalina.log");
    std::fs::copy(real("tomcat-listener-refused/catalina.log"), &log).unwrap();
    let out = logscan(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--since-start",
            "--timeout",
            "20s",
            "--format",
            "json",
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(2), "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert_eq!(ready["status"], "CRITICAL", "{ready}");
    assert!(
        !ready["message"]
            .as_str()
            .unwrap()
            .starts_with("readiness marker"),
        "{ready}"
    );
}

/// A clean Tomcat start followed as it is written is ready (exit 0): no
/// false alarm from the new rules.
#[test]
fn follow_until_ready_on_a_clean_tomcat_start_is_ready() {
    let (code, _, recs) = follow_replay("tomcat-clean/catalina.log", 0);
    assert_eq!(code, 0, "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert_eq!(ready["status"], "OK");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("catalina.log:41"),
        "{ready}"
    );
}

/// Tomcat writes a servlet that fails at load only to localhost.*.log:
/// read with its catalina.*.log, the start is not ready, in either order
/// the files are named.
#[test]
fn a_tomcat_pair_is_read_together_in_either_order() {
    let c = real("tomcat-servlet/catalina.log");
    let l = real("tomcat-servlet/localhost.log");
    for files in [[&c, &l], [&l, &c]] {
        let out = run(&[
            "--since-start",
            "--format",
            "json",
            files[0].to_str().unwrap(),
            files[1].to_str().unwrap(),
        ]);
        let recs = records(&out);
        assert_eq!(out.status.code(), Some(2), "{files:?}: {recs:?}");
        let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
        assert_eq!(ready["status"], "CRITICAL", "{ready}");
        assert!(
            ready["message"]
                .as_str()
                .unwrap()
                .contains("[tomcat-deploy-exception] localhost.log:1"),
            "{ready}"
        );
    }
}

/// With --since-start, what localhost.*.log says about an earlier start
/// (older than catalina's last startup line) does not count; a startup
/// line in one file clears nothing in an unrelated file.
#[test]
fn localhost_lines_of_an_earlier_start_do_not_count() {
    let dir = tempfile::tempdir().unwrap();
    // catalina: a failed start, then a later clean one; localhost: only
    // the failed start's exception.
    let catalina = dir.path().join("catalina.log");
    let mut text = std::fs::read_to_string(real("tomcat-listener-refused/catalina.log")).unwrap();
    text.push_str(&std::fs::read_to_string(real("tomcat-servlet/catalina.log")).unwrap());
    std::fs::write(&catalina, text).unwrap();
    let localhost = dir.path().join("localhost.log");
    std::fs::copy(real("tomcat-listener-refused/localhost.log"), &localhost).unwrap();
    let out = run(&[
        "--since-start",
        "--format",
        "json",
        catalina.to_str().unwrap(),
        localhost.to_str().unwrap(),
    ]);
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(0), "{recs:?}");
    // An unrelated file's startup line clears nothing here.
    let lui = dir.path().join("LUI.LOG");
    std::fs::write(
        &lui,
        "2026-11-28 09:00:00,000 INFO  [main] lui - Starting LISTSERV Maestro\n",
    )
    .unwrap();
    for order in [
        [real("tomcat-listener-refused/catalina.log"), lui.clone()],
        [lui.clone(), real("tomcat-listener-refused/catalina.log")],
    ] {
        let out = run(&[
            "--since-start",
            "--format",
            "json",
            order[0].to_str().unwrap(),
            order[1].to_str().unwrap(),
        ]);
        let recs = records(&out);
        assert_eq!(out.status.code(), Some(2), "{order:?}: {recs:?}");
        assert_eq!(summary(&recs).len(), 2, "{order:?}: {recs:?}");
    }
}

/// Judging readiness on catalina.*.log alone while its localhost.*.log
/// lies beside it: a warning says the other half was not read.
#[test]
fn readiness_on_catalina_alone_warns_about_its_localhost_log() {
    let (code, recs) = scan("tomcat-servlet/catalina.log", &["--since-start"]);
    assert_eq!(code, 1, "{recs:?}");
    let w = recs
        .iter()
        .find(|r| r["type"] == "check" && r["status"] == "WARNING")
        .unwrap();
    assert!(
        w["message"].as_str().unwrap().contains("localhost.log"),
        "{w}"
    );
}

/// Followed as a pair while Tomcat writes them: the servlet's failure in
/// localhost.log makes the start not ready.
#[test]
fn follow_until_ready_reads_catalina_and_localhost_as_a_pair() {
    let dir = tempfile::tempdir().unwrap();
    let catalina = dir.path().join("catalina.log");
    let localhost = dir.path().join("localhost.log");
    std::fs::write(&catalina, "").unwrap();
    let c_text = std::fs::read_to_string(real("tomcat-servlet/catalina.log")).unwrap();
    let l_text = std::fs::read_to_string(real("tomcat-servlet/localhost.log")).unwrap();
    let child = logscan(dir.path())
        .args([
            "--follow",
            "--until-ready",
            "--since-start",
            "--timeout",
            "30s",
            "--poll-interval",
            "50ms",
            "--format",
            "json",
            catalina.to_str().unwrap(),
            localhost.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_open(child.id(), &catalina);
    let ready_at = c_text
        .lines()
        .position(|l| l.contains("Server startup in"))
        .unwrap();
    let lines: Vec<&str> = c_text.lines().collect();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&catalina)
        .unwrap();
    for l in &lines[..ready_at] {
        writeln!(f, "{l}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(&localhost, &l_text).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    for l in &lines[ready_at..] {
        writeln!(f, "{l}").unwrap();
    }
    drop(f);
    let out = child.wait_with_output().unwrap();
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(2), "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("localhost.log:1"),
        "{ready}"
    );
}

/// Tomcat wrote "Server startup in" and, a moment later, that another
/// program holds its shutdown port (another instance): followed as it is
/// written, with a pause between the two lines, the start is not ready.
#[test]
fn follow_until_ready_reads_on_after_the_readiness_line() {
    let text = std::fs::read_to_string(real("tomcat-shutdown-port/catalina.log")).unwrap();
    let ready_line = text
        .lines()
        .position(|l| l.contains("Server startup in"))
        .unwrap()
        + 1;
    let (code, _, recs) = follow_replay_pausing(
        "tomcat-shutdown-port/catalina.log",
        ready_line,
        Duration::from_millis(300),
    );
    assert_eq!(code, 2, "{recs:?}");
    let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
    // (At line 42 when a poll closed the SEVERE line's record before its
    // BindException line was written.)
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("[port-in-use] catalina.log:4"),
        "{ready}"
    );
}

/// Tomcat in German on New York time: its level names are German
/// (INFORMATION, SCHWERWIEGEND), its months English; a clean start is
/// ready, a failed one is not.
#[test]
fn a_tomcat_in_another_language_is_judged_the_same() {
    for (dir, want) in [("tomcat-de-clean", 0), ("tomcat-de-listener-refused", 2)] {
        let (code, recs) = scan(
            &format!("{dir}/catalina.log"),
            &[
                "--since-start",
                real(&format!("{dir}/localhost.log")).to_str().unwrap(),
            ],
        );
        assert_eq!(code, want, "{dir}: {recs:?}");
        let ready = recs.iter().find(|r| r["name"] == "ready").unwrap();
        assert_eq!(
            ready["status"],
            if want == 0 { "OK" } else { "CRITICAL" },
            "{dir}: {ready}"
        );
    }
    let (code, _, recs) = follow_replay("tomcat-de-clean/catalina.log", 0);
    assert_eq!(code, 0, "{recs:?}");
}
