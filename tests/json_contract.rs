//! The JSON Lines contract: every tool, in the modes a test can run without
//! outside servers, writes records that the committed schema
//! (docs/schema/records.schema.json, generated from the record types)
//! accepts, and together they show every record type the schema names.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn bin(tool: &str) -> &'static str {
    match tool {
        "maestro-fence" => env!("CARGO_BIN_EXE_maestro-fence"),
        "maestro-snapshot-verify" => env!("CARGO_BIN_EXE_maestro-snapshot-verify"),
        "maestro-logscan" => env!("CARGO_BIN_EXE_maestro-logscan"),
        "maestro-smoketest" => env!("CARGO_BIN_EXE_maestro-smoketest"),
        "maestro-watch" => env!("CARGO_BIN_EXE_maestro-watch"),
        "maestro-redirect" => env!("CARGO_BIN_EXE_maestro-redirect"),
        other => panic!("no such tool {other}"),
    }
}

const TOOLS: [&str; 6] = [
    "maestro-fence",
    "maestro-snapshot-verify",
    "maestro-logscan",
    "maestro-smoketest",
    "maestro-watch",
    "maestro-redirect",
];

struct Contract {
    validator: jsonschema::Validator,
    seen: BTreeSet<String>,
    dir: tempfile::TempDir,
}

impl Contract {
    fn new() -> Contract {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/records.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Contract {
            validator: jsonschema::validator_for(&schema).expect("the schema compiles"),
            seen: BTreeSet::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `tool --format json ARGS` and check every line of its stdout.
    fn run(&mut self, tool: &str, args: &[&str]) -> Vec<Value> {
        let state = self.path("state");
        let out = Command::new(bin(tool))
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .arg("--format")
            .arg("json")
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            !stdout.trim().is_empty(),
            "{tool} {args:?} wrote nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut records = Vec::new();
        for line in stdout.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{tool} {args:?}: not JSON ({e}): {line}"));
            let errors: Vec<String> = self
                .validator
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{tool} {args:?} wrote a record the schema refuses:\n{line}\n{}",
                errors.join("\n")
            );
            self.seen
                .insert(v["type"].as_str().unwrap_or_default().to_string());
            records.push(v);
        }
        let last = records.last().unwrap();
        assert_eq!(last["type"], "summary", "{tool} {args:?}: the last record");
        assert_eq!(
            Some(last["exit_code"].as_i64().unwrap()),
            out.status.code().map(i64::from),
            "{tool} {args:?}: the summary's exit code is the process's"
        );
        records
    }
}

/// An HTTP server on loopback that answers every request with 200.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    port
}

/// A TCP port nobody listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn every_record_every_tool_writes_is_in_the_schema() {
    let mut c = Contract::new();
    let config = c.path("config.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap().to_string();

    // Every tool: config check, a usage error, an unreadable configuration.
    for tool in TOOLS {
        c.run(tool, &["--config", &config, "config", "check"]);
        c.run(tool, &["--no-such-flag"]);
        c.run(
            tool,
            &["--config", "/nonexistent/config.toml", "config", "check"],
        );
    }

    // maestro-logscan: findings with stack traces, and live findings while following.
    let log = c.path("LUI.LOG");
    std::fs::write(
        &log,
        "2026-11-28 08:00:00,001 INFO  [main] com.lsoft.maestro.lui.Startup - Starting LISTSERV Maestro (LUI)\n\
         2026-11-28 08:00:01,120 ERROR [main] com.lsoft.maestro.lui.job.JobManager - Loading jobs failed\n\
         java.sql.SQLSyntaxErrorException: Table 'maestro.lui_job' doesn't exist\n\
         \tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:120)\n",
    )
    .unwrap();
    let log = log.to_str().unwrap().to_string();
    let records = c.run("maestro-logscan", &["--config", &config, &log]);
    assert!(records.iter().any(|r| r["type"] == "finding"));
    c.run(
        "maestro-logscan",
        &[
            "--config",
            &config,
            "--follow",
            "--timeout",
            "3s",
            "--since",
            "2026-11-28",
            &log,
        ],
    );

    // maestro-snapshot-verify: a capture, a check against it, a diff.
    let root = c.path("root");
    std::fs::create_dir_all(root.join("jobs")).unwrap();
    std::fs::write(root.join("jobs/42.xml"), "<job/>").unwrap();
    let root_arg = format!("lui={}", root.display());
    let manifest = c.path("m.jsonl");
    let manifest = manifest.to_str().unwrap().to_string();
    c.run(
        "maestro-snapshot-verify",
        &[
            "--config", &config, "capture", "--root", &root_arg, "--out", &manifest,
        ],
    );
    std::fs::write(root.join("jobs/.43.xml.a8Xk2Q"), "<jo").unwrap();
    c.run(
        "maestro-snapshot-verify",
        &[
            "--config",
            &config,
            "check",
            "--root",
            &root_arg,
            "--manifest",
            &manifest,
        ],
    );
    c.run(
        "maestro-snapshot-verify",
        &["--config", &config, "diff", &manifest, &manifest],
    );

    // maestro-fence: a dry run and the journal's answers.
    let fence = c.path("fence.toml");
    std::fs::write(
        &fence,
        "[primary]\nhost = \"192.0.2.10\"\n\n[services]\nmanager = \"commands\"\nnames = [\"lui\"]\n\
         stop_command = \"true\"\ndisable_command = \"true\"\nenable_command = \"true\"\n\
         active_command = \"false\"\nenabled_command = \"false\"\n\n[fence]\nlevels = [\"ssh\"]\n",
    )
    .unwrap();
    let fence = fence.to_str().unwrap().to_string();
    c.run("maestro-fence", &["--config", &fence, "fence", "--dry-run"]);
    c.run("maestro-fence", &["--config", &fence, "epoch"]);
    c.run("maestro-fence", &["--config", &fence, "history"]);

    // maestro-watch: once, and run with its events and the failover command.
    let up = http_server();
    let down = closed_port();
    let gateway = format!("127.0.0.1:{up}");
    c.run(
        "maestro-watch",
        &[
            "--config",
            &config,
            "once",
            "--target",
            "127.0.0.1",
            "--tcp",
            &up.to_string(),
        ],
    );
    let records = c.run(
        "maestro-watch",
        &[
            "--config",
            &config,
            "run",
            "--target",
            "127.0.0.1",
            "--tcp",
            &down.to_string(),
            "--gateway",
            &gateway,
            "--threshold",
            "0s",
            "--interval",
            "200ms",
            "--probe-timeout",
            "300ms",
            "--exec",
            "true",
            "--for",
            "3s",
        ],
    );
    assert!(records.iter().any(|r| r["type"] == "event"), "{records:?}");

    // maestro-smoketest: a test message that never arrives in an empty Maildir.
    let maildir = c.path("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mailbox = format!("maildir:{}", maildir.display());
    c.run(
        "maestro-smoketest",
        &[
            "--config",
            &config,
            "deliver",
            "--no-trigger",
            "--mailbox",
            &mailbox,
            "--timeout",
            "1s",
        ],
    );

    // maestro-redirect: what a move would do.
    c.run(
        "maestro-redirect",
        &["--config", &config, "move", "--dry-run"],
    );

    for wanted in [
        "check",
        "finding",
        "live-finding",
        "summary",
        "event",
        "exec",
    ] {
        assert!(
            c.seen.contains(wanted),
            "no tool wrote a {wanted:?} record here (seen: {:?}): extend this test",
            c.seen
        );
    }
}
