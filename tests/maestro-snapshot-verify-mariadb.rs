//! The InnoDB check against a real MariaDB server (Debian's mariadb-server),
//! started on a scratch data folder on 127.0.0.1.

mod support;

use std::time::Duration;
use support::maestro_snapshot_verify::{
    check_status, copy_tree, finding_ids, format_0, free_port, text, tool, Mariadb,
};

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

/// The newest checkpoint LSN of a MariaDB 10.8+ `ib_logfile0` (the first 8
/// bytes of the checkpoint blocks at 0x1000 and 0x2000).
fn mariadb_checkpoint_lsn(log: &std::path::Path) -> u64 {
    let b = std::fs::read(log).unwrap();
    let at = |o: usize| u64::from_be_bytes(b[o..o + 8].try_into().unwrap());
    at(0x1000).max(at(0x2000))
}

/// Replace a clean data folder's log by a constructed format-0 log group
/// (the layout of MySQL 4.1 to 5.6) that ends, cleanly, at `lsn`.
fn format_0_log_at(datadir: &std::path::Path, lsn: u64) -> format_0::LogGroup {
    std::fs::remove_file(datadir.join("ib_logfile0")).unwrap();
    let mut log = format_0::LogGroup::new(2, 1 << 20);
    log.write(lsn - 3_000, lsn, 9);
    log.checkpoint(9, lsn);
    log.save(datadir);
    log
}

/// A real server cross-checks part of what the constructed format-0 logs
/// hold: MariaDB 10.11 still upgrades a clean log of MySQL 5.6 / MariaDB
/// 10.1, and for that checks the two fold checksums of the checkpoint
/// block, the checkpoint's offset, and the fold checksum and data length
/// of the one block at the checkpoint. So a constructed log it accepts has
/// those fields where the old servers put them, and one whose block at
/// the checkpoint is changed is refused by both. It does not check what
/// else the tool reads (block numbers and the flush bit, the scan over
/// blocks, files and the ring's wrap, the file headers' start LSNs, the
/// CRC-32 and `none` block checksums, MySQL 4.1's checkpoint without the
/// high half of the offset): those are tested against the documented
/// layout only. The tablespaces are real pages of MariaDB in the MySQL
/// 5.6+ layout (`innodb_checksum_algorithm=crc32`), beside a real MyISAM
/// table.
#[test]
fn mariadb_accepts_the_constructed_format_0_log_the_tool_judges() {
    let work = tempfile::Builder::new()
        .prefix("maestro-format0-")
        .tempdir()
        .unwrap();
    let state = work.path().join("state");
    let datadir = work.path().join("data");
    let crc32 = ["--innodb-checksum-algorithm=crc32"];
    Mariadb::install(&datadir, &crc32);
    let port = free_port();
    let log_path = work.path().join("error.log");
    let mut db = Mariadb::start_on(&datadir, None, "127.0.0.1", port, &log_path, &crc32)
        .unwrap_or_else(|e| panic!("{e}"));
    db.sql("CREATE DATABASE maestro");
    db.sql("CREATE TABLE maestro.jobs (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB");
    db.sql("INSERT INTO maestro.jobs SELECT seq, REPEAT('j', 200) FROM maestro.seq_1_to_500");
    db.sql("CREATE TABLE maestro.lists (id INT PRIMARY KEY, name TEXT) ENGINE=MyISAM");
    db.sql("INSERT INTO maestro.lists SELECT seq, 'list' FROM maestro.seq_1_to_50");
    db.shutdown();
    drop(db);
    let lsn = mariadb_checkpoint_lsn(&datadir.join("ib_logfile0"));
    assert!(lsn > 8192, "checkpoint LSN {lsn}");
    format_0_log_at(&datadir, lsn);
    let good = work.path().join("good");
    let bad = work.path().join("bad");
    copy_tree(&datadir, &good);
    copy_tree(&datadir, &bad);

    // The tool: a format-0 log, a clean copy, both engines judged.
    let out = tool(&state)
        .args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", good.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        check_status(&out, "innodb").as_deref(),
        Some("OK"),
        "{}",
        text(&out)
    );
    assert_eq!(
        check_status(&out, "myisam").as_deref(),
        Some("OK"),
        "{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MySQL 4.1-5.6"), "{}", text(&out));
    assert!(stdout.contains("1 MyISAM tables"), "{}", text(&out));

    // The server: upgrades the same log and serves the tables.
    let mut db = Mariadb::start_on(&good, None, "127.0.0.1", free_port(), &log_path, &crc32)
        .unwrap_or_else(|e| panic!("MariaDB refused the constructed format-0 log: {e}"));
    let upgraded = db.error_log();
    assert!(upgraded.contains("Upgrading redo log"), "{upgraded}");
    assert_eq!(db.sql("SELECT COUNT(*) FROM maestro.jobs"), "500");
    assert_eq!(db.sql("SELECT COUNT(*) FROM maestro.lists"), "50");
    db.shutdown();
    drop(db);

    // One byte changed in the block at the checkpoint (in whichever file
    // of the group it lies): the server calls the log corrupt, the tool a
    // broken copy, whatever the policy.
    let mut log = format_0_log_at(&bad, lsn);
    log.block_mut(lsn)[300] ^= 0x40;
    log.save(&bad);
    let out = tool(&state)
        .args([
            "--format",
            "json",
            "check",
            "--innodb",
            "best-effort",
            "--root",
        ])
        .arg(format!("db={}", bad.display()))
        .output()
        .unwrap();
    assert_eq!(
        check_status(&out, "innodb").as_deref(),
        Some("CRITICAL"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let bad_log = work.path().join("bad-error.log");
    match Mariadb::start_on(&bad, None, "127.0.0.1", free_port(), &bad_log, &crc32) {
        Ok(_) => panic!("MariaDB started on a log whose block checksum is wrong"),
        Err(e) => assert!(e.contains("appears corrupted"), "{e}"),
    }
}
