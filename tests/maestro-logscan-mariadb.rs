//! maestro-logscan against logs a real MariaDB wrote (Debian
//! mariadb-server, installed by scripts/test.sh): a crash during writes
//! and its recovery must not be critical; a data folder whose tablespace
//! is newer than its redo log must be.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::maestro_logscan::{install, log_tail, stderr_of, Mariadb, Started, MARIADBD};

fn logscan(args: &[&str], log: &Path) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_maestro-logscan"))
        .env_remove("MAESTRO_HA_CONFIG")
        .env("MAESTRO_HA_STATE_DIR", log.parent().unwrap().join("state"))
        .args(["--component", "db", "--format", "json"])
        .args(args)
        .arg(log)
        .output()
        .unwrap();
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap_or(-1), records)
}

fn finding_ids(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|r| r["type"] == "finding")
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ready(s: Started, log: &Path) -> Mariadb {
    match s {
        Started::Ready(db) => db,
        Started::Exited(code) => panic!("MariaDB exited ({code:?}):\n{}", log_tail(log)),
    }
}

#[test]
fn real_mariadb_crash_recovery_and_a_torn_copy() {
    assert!(
        Path::new(MARIADBD).exists(),
        "{MARIADBD} is missing: run scripts/test.sh (it installs mariadb-server)"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("mariadb.err");
    let sock = dir.path().join("mysqld.sock");
    install(&data).unwrap();

    // 1. A writer, then SIGKILL in the middle of its writes.
    let mut db = ready(Mariadb::start(&data, &log, &sock).unwrap(), &log);
    db.sql(
        "CREATE DATABASE maestro; CREATE TABLE maestro.job (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;",
    )
    .unwrap();
    db.sql_with(
        &["--delimiter=//"],
        "CREATE PROCEDURE maestro.fill() BEGIN DECLARE i INT DEFAULT 0; WHILE i < 1000000 DO INSERT INTO maestro.job (v) VALUES (REPEAT('x', 200)); SET i = i + 1; END WHILE; END//",
    )
    .unwrap();
    let writer = db.spawn_sql("CALL maestro.fill()").unwrap();
    let mut rows = 0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        rows = db
            .sql("SELECT COUNT(*) FROM maestro.job")
            .unwrap()
            .parse()
            .unwrap_or(0);
        if rows > 2000 {
            break;
        }
    }
    assert!(rows > 0, "the writer wrote nothing");
    db.kill9();
    let _ = stderr_of(writer);

    // 2. Restart: crash recovery. The db pack must classify what MariaDB
    // really logged, as info/warning, not critical.
    let mut db = ready(Mariadb::start(&data, &log, &sock).unwrap(), &log);
    let after: u64 = db
        .sql("SELECT COUNT(*) FROM maestro.job")
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > 0);
    let (code, records) = logscan(&["--since-start"], &log);
    let ids = finding_ids(&records);
    assert!(
        code == 0 || code == 1,
        "recovery must not be critical: {code} {ids:?}\n{}",
        log_tail(&log)
    );
    assert!(
        ids.iter()
            .any(|(id, status)| id == "innodb-crash-recovery" && status == "OK"),
        "crash recovery not recognised: {ids:?}\n{}",
        log_tail(&log)
    );
    let start = records.iter().find(|r| r["name"] == "since-start").unwrap();
    assert_eq!(start["status"], "OK", "{start}");
    assert!(
        start["message"].as_str().unwrap().contains("mariadb.err:"),
        "{start}"
    );

    // 3. A torn copy: the redo log from one moment, the tablespace from a
    // later one. Keep the redo log of a clean shutdown, write a lot more,
    // shut down cleanly again, then put the old redo log back.
    db.stop().unwrap();
    let old_redo = std::fs::read(data.join("ib_logfile0")).unwrap();
    let mut db = ready(Mariadb::start(&data, &log, &sock).unwrap(), &log);
    db.sql(
        "INSERT INTO maestro.job (v) SELECT v FROM maestro.job; INSERT INTO maestro.job (v) SELECT v FROM maestro.job;
         CREATE TABLE maestro.copy ENGINE=InnoDB AS SELECT * FROM maestro.job;",
    )
    .unwrap();
    db.stop().unwrap();
    std::fs::write(data.join("ib_logfile0"), old_redo).unwrap();
    let torn = Mariadb::start(&data, &log, &sock).unwrap();
    if let Started::Ready(mut db) = torn {
        // Some versions start and only complain when the pages are read.
        let _ = db.sql("SELECT COUNT(*) FROM maestro.copy; CHECK TABLE maestro.copy");
        std::thread::sleep(Duration::from_millis(500));
        db.kill9();
    }
    let (code, records) = logscan(&["--since-start"], &log);
    let ids = finding_ids(&records);
    assert_eq!(code, 2, "{ids:?}\n{}", log_tail(&log));
    assert!(
        ids.iter()
            .any(|(id, status)| id == "innodb-lsn-future" && status == "CRITICAL"),
        "no 'in the future' finding: {ids:?}\n{}",
        log_tail(&log)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("is in the future"),
        "MariaDB itself wrote the line"
    );
    // The same log scanned before the torn start (until the clean
    // shutdown) holds no critical finding: the verdict comes from the
    // last start.
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["exit_code"], 2);
}
