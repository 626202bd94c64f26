//! The InnoDB check against a real MariaDB server (Debian's mariadb-server),
//! started on a scratch data folder on 127.0.0.1.

mod support;

use std::time::Duration;
use support::maestro_snapshot_verify::{check_status, copy_tree, finding_ids, text, tool, Mariadb};

#[test]
fn innodb_copies_consistent_after_shutdown_and_torn_when_log_copied_first() {
    let mut db = Mariadb::start(&[
        "--innodb-max-dirty-pages-pct=0",
        "--innodb-max-dirty-pages-pct-lwm=0",
    ]);
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");

    db.sql("CREATE DATABASE maestro");
    db.sql(
        "CREATE TABLE maestro.jobs (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT) ENGINE=InnoDB",
    );
    db.sql("INSERT INTO maestro.jobs (body) SELECT REPEAT('x', 500) FROM maestro.seq_1_to_2000");
    db.wait_flushed(Duration::from_secs(30));

    // A torn copy: the redo log first, then a writer commits and the page
    // cleaner flushes, then the tablespaces.
    let torn = work.path().join("torn");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::copy(db.datadir.join("ib_logfile0"), torn.join("ib_logfile0")).unwrap();
    for round in 0..5 {
        db.sql(&format!(
            "UPDATE maestro.jobs SET body = REPEAT('{}', 500) WHERE id % 5 = {round}",
            (b'a' + round as u8) as char
        ));
    }
    db.sql("FLUSH TABLES");
    db.wait_flushed(Duration::from_secs(30));
    for entry in std::fs::read_dir(&db.datadir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "ib_logfile0" {
            continue;
        }
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(entry.path())
            .arg(torn.join(&name))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let out = tool(&state)
        .args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", torn.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        check_status(&out, "innodb").as_deref(),
        Some("CRITICAL"),
        "{}",
        text(&out)
    );
    assert!(
        finding_ids(&out)
            .iter()
            .any(|id| id == "innodb-page-newer-than-log"),
        "{}",
        text(&out)
    );

    // A copy after a clean shutdown is one instant.
    db.shutdown();
    let clean = work.path().join("clean");
    copy_tree(&db.datadir, &clean);
    let out = tool(&state)
        .args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", clean.display()))
        .output()
        .unwrap();
    assert_eq!(
        check_status(&out, "innodb").as_deref(),
        Some("OK"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // And it matches the manifest of the original folder.
    let manifest = work.path().join("db.jsonl");
    let out = tool(&state)
        .args(["capture", "--out"])
        .arg(&manifest)
        .arg("--root")
        .arg(format!("db={}", db.datadir.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = tool(&state)
        .args(["check", "--manifest"])
        .arg(&manifest)
        .arg("--root")
        .arg(format!("db={}", clean.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
