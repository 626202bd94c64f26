//! The InnoDB check on data folders in the layout of MySQL 4.1 to 5.6 (the
//! default database of a Maestro installation is a MySQL 4.1.7): redo logs
//! of format 0 and tablespaces with the legacy `innodb` page checksum.
//!
//! No server that old runs here, so the redo logs and pages in these tests
//! are CONSTRUCTED from the documented layout (see `support::format_0`),
//! not written by a server. `maestro-snapshot-verify-mariadb.rs` has a real
//! MariaDB read the same constructed logs, and runs the check on real
//! pages; the `MAESTRO_HA_INNODB_SAMPLES` test below reads real MySQL 5.0
//! tablespaces when they are at hand.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use support::maestro_snapshot_verify::format_0::{fold, Checksum, LogGroup, START_LSN};
use support::maestro_snapshot_verify::{check_status, finding_ids, records, text, tool};

const PAGE: usize = 16384;

/// A page with the legacy `innodb` checksums MySQL 4.1 to 5.5 write.
fn page(space: u32, page_no: u32, lsn: u64) -> Vec<u8> {
    let mut p = vec![0u8; PAGE];
    p[4..8].copy_from_slice(&page_no.to_be_bytes());
    p[8..12].copy_from_slice(&u32::MAX.to_be_bytes()); // no previous page
    p[16..24].copy_from_slice(&lsn.to_be_bytes());
    p[24..26].copy_from_slice(&17855u16.to_be_bytes()); // an index page
    p[34..38].copy_from_slice(&space.to_be_bytes());
    for (i, b) in p[38..200].iter_mut().enumerate() {
        *b = (i as u32 ^ page_no) as u8;
    }
    seal_page(&mut p);
    p
}

/// The new checksum at 0 (folds of 4..26 and 38..size-8), the old one at
/// size-8 (fold of 0..26, so after the new one), the LSN's low half last.
fn seal_page(p: &mut [u8]) {
    let n = p.len();
    let lsn_low = [p[20], p[21], p[22], p[23]];
    p[n - 4..].copy_from_slice(&lsn_low);
    let new = fold(&p[4..26]).wrapping_add(fold(&p[38..n - 8]));
    p[..4].copy_from_slice(&new.to_be_bytes());
    let old = fold(&p[..26]);
    p[n - 8..n - 4].copy_from_slice(&old.to_be_bytes());
}

/// A tablespace file of pages with these LSNs; page 0 (FSP flags 0: 16 KiB,
/// as 4.1 writes them) carries `flushed_lsn` at offset 26.
fn tablespace(path: &Path, space: u32, lsns: &[u64], flushed_lsn: u64) {
    let mut body = Vec::new();
    for (n, &lsn) in lsns.iter().enumerate() {
        let mut p = page(space, n as u32, lsn);
        if n == 0 {
            // The FSP header: space id, size in pages, flags 0 (16 KiB
            // pages, as 4.1 to 5.5 write them; 4.1 left the page type 0).
            p[24..26].copy_from_slice(&0u16.to_be_bytes());
            p[26..34].copy_from_slice(&flushed_lsn.to_be_bytes());
            p[38..150].fill(0);
            p[38..42].copy_from_slice(&space.to_be_bytes());
            p[46..50].copy_from_slice(&(lsns.len() as u32).to_be_bytes());
            seal_page(&mut p);
        }
        body.extend(p);
    }
    fs::write(path, body).unwrap();
}

/// A `.frm` header as MySQL writes it: `FE 01`, version, engine number.
fn frm(path: &Path, engine: u8) {
    let mut h = vec![0xFE, 0x01, 0x0A, engine, 0x03, 0x00, 0x10, 0x00];
    h.resize(8554, 0);
    fs::write(path, h).unwrap();
}

/// A MyISAM index header with the given open count.
fn myi(path: &Path, open_count: u16) {
    let mut h = vec![0u8; 1024];
    h[..4].copy_from_slice(&[0xFE, 0xFE, 0x07, 0x01]);
    h[24..26].copy_from_slice(&open_count.to_be_bytes());
    fs::write(path, h).unwrap();
}

/// A MySQL 4.1-like data folder: the system tablespace, a log group of two
/// 64 KiB files written from the start to `end` with the newest checkpoint
/// at `checkpoint`, and a MyISAM and an InnoDB table in `maestro/`.
struct Datadir {
    dir: tempfile::TempDir,
    log: LogGroup,
}

impl Datadir {
    fn new(checkpoint: u64, end: u64, page_lsns: &[u64]) -> Datadir {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("maestro")).unwrap();
        tablespace(&data.join("ibdata1"), 0, page_lsns, 0);
        frm(&data.join("maestro/jobs.frm"), 12);
        frm(&data.join("maestro/lists.frm"), 9);
        myi(&data.join("maestro/lists.MYI"), 0);
        fs::write(data.join("maestro/lists.MYD"), b"").unwrap();
        let mut log = LogGroup::new(2, 64 * 1024);
        log.write(START_LSN, end, 7);
        log.checkpoint(7, checkpoint);
        log.save(&data);
        Datadir { dir, log }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn check(&self, extra: &[&str]) -> Output {
        tool(&self.dir.path().join("state"))
            .args(["--format", "json", "check", "--root"])
            .arg(format!("db={}", self.data().display()))
            .args(extra)
            .output()
            .unwrap()
    }
}

fn innodb_record(o: &Output) -> serde_json::Value {
    records(o)
        .into_iter()
        .find(|r| r["type"] == "check" && r["name"].as_str().unwrap_or("").starts_with("innodb"))
        .unwrap_or_else(|| panic!("no innodb check: {}", text(o)))
}

#[test]
fn a_consistent_format_0_copy_is_ok_and_a_page_beyond_the_log_is_critical() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500, 23_456, 12_000]);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["status"], "OK", "{}", text(&out));
    let details = &rec["details"];
    assert_eq!(details["checkpoint_lsn"], 20_000, "{rec}");
    // The log ends inside the block holding 23456: exactly there.
    assert_eq!(details["end_lsn"], 23_456, "{rec}");
    assert_eq!(details["redo_block_checksum"], "innodb", "{rec}");
    assert!(
        rec["message"].as_str().unwrap().contains("MySQL 4.1-5.6"),
        "{rec}"
    );
    assert_eq!(check_status(&out, "myisam").as_deref(), Some("OK"));

    // The tablespace copied after the server wrote on: page 3 is newer.
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500, 23_456, 23_457]);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(check_status(&out, "innodb").as_deref(), Some("CRITICAL"));
    assert!(
        finding_ids(&out).contains(&"innodb-page-newer-than-log".to_string()),
        "{}",
        text(&out)
    );
    let found = records(&out)
        .into_iter()
        .find(|r| r["id"] == "innodb-page-newer-than-log")
        .unwrap();
    assert_eq!(found["details"]["page"], 3, "{found}");
    assert_eq!(found["details"]["page_lsn"], 23_457, "{found}");
}

#[test]
fn the_log_end_is_found_across_files_and_after_the_ring_wraps() {
    // 2 files of 64 KiB: 126976 bytes of log. Write past the capacity so
    // the newest blocks overwrite the oldest in ib_logfile0.
    let capacity = 2 * (64 * 1024 - 2048);
    let end = START_LSN + capacity + 50_077;
    let checkpoint = end - 40_000;
    let d = Datadir::new(checkpoint, end, &[checkpoint - 10, end]);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(innodb_record(&out)["details"]["end_lsn"], end);

    // The log copied while the server was writing it: from `cut` on, the
    // copy holds the previous pass around the ring (block numbers one
    // capacity behind). The log ends there, and a page written after that
    // point is beyond it.
    let mut d = Datadir::new(checkpoint, end, &[checkpoint - 10, end]);
    let cut = checkpoint + 20_000;
    d.log.write(cut - capacity, cut - capacity + 600, 6);
    d.log.save(&d.data());
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["details"]["end_lsn"], cut - cut % 512, "{rec}");
}

#[test]
fn xtradb_crc32_and_none_checksums_and_the_4_1_checkpoint_are_read() {
    for checksum in [Checksum::Crc32, Checksum::None] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        tablespace(&data.join("ibdata1"), 0, &[9_000, 9_100], 0);
        let mut log = LogGroup::new(3, 32 * 1024);
        log.checksum = checksum;
        log.write(START_LSN, 9_100, 2);
        log.checkpoint(2, 9_000);
        log.save(&data);
        let out = tool(&dir.path().join("state"))
            .args(["--format", "json", "check", "--root"])
            .arg(format!("db={}", data.display()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{checksum:?}: {}", text(&out));
        let want = if checksum == Checksum::Crc32 {
            "crc32"
        } else {
            "none"
        };
        assert_eq!(innodb_record(&out)["details"]["redo_block_checksum"], want);
    }

    // MySQL 4.1 wrote no high half of the checkpoint offset and left the
    // bytes after its checkpoint (304..) as they were in memory.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    tablespace(&data.join("ibdata1"), 0, &[9_000, 9_100], 0);
    let mut log = LogGroup::new(2, 32 * 1024);
    log.old_checkpoint = Some(0xA5);
    log.write(START_LSN, 9_100, 3);
    log.checkpoint(3, 9_000);
    log.save(&data);
    let out = tool(&dir.path().join("state"))
        .args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", data.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(innodb_record(&out)["details"]["checkpoint_lsn"], 9_000);
}

#[test]
fn a_damaged_or_foreign_log_cannot_be_judged_unless_best_effort_is_named() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    // Damage the block holding the checkpoint.
    let at = d.log.group_offset(20_000) as usize + 100;
    let mut f0 = d.log.files[0].clone();
    f0[at] ^= 0xFF;
    fs::write(d.data().join("ib_logfile0"), &f0).unwrap();
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["status"], "WARNING");
    let msg = rec["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot judge") && msg.contains("best-effort"),
        "{msg}"
    );
    assert!(msg.contains("1 InnoDB tables"), "{msg}");

    // The flag accepts it, and says so.
    let out = d.check(&["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["status"], "OK");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("accepted by innodb = best-effort"),
        "{rec}"
    );
    assert_eq!(rec["details"]["accepted_by"], "innodb = best-effort");

    // So does the config key; a flag still wins over it.
    let state = d.dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    fs::write(
        state.join("config.toml"),
        "[verify]\ninnodb = \"best-effort\"\n",
    )
    .unwrap();
    assert_eq!(d.check(&[]).status.code(), Some(0));
    assert_eq!(d.check(&["--innodb", "strict"]).status.code(), Some(1));
    fs::write(
        state.join("config.toml"),
        "[verify]\ninnodb = \"lenient\"\n",
    )
    .unwrap();
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("innodb"),
        "{}",
        text(&out)
    );
    fs::write(state.join("config.toml"), "").unwrap();

    // best-effort never hides pages beyond the log's end.
    let d = Datadir::new(20_000, 23_456, &[19_000, 30_000]);
    let out = d.check(&["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // ib_logfile1 of another log: its header names a start LSN that is no
    // pass of this ring.
    let d = Datadir::new(20_000, 23_456, &[19_000]);
    let mut f1 = d.log.files[1].clone();
    f1[4..12].copy_from_slice(&(START_LSN + 61_440 + 1_000).to_be_bytes());
    fs::write(d.data().join("ib_logfile1"), &f1).unwrap();
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        innodb_record(&out)["message"]
            .as_str()
            .unwrap()
            .contains("do not belong together"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_flushed_lsn_of_a_clean_shutdown_is_compared_with_the_log() {
    // A clean shutdown: checkpoint at the log's end, ibdata1 flushed there.
    let d = Datadir::new(23_456, 23_456, &[19_000, 23_456]);
    tablespace(&d.data().join("ibdata1"), 0, &[19_000, 23_456], 23_456);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["details"]["clean_shutdown"], true, "{rec}");
    assert!(rec["message"].as_str().unwrap().contains("clean shutdown"));

    // ibdata1 from a later shutdown than the log: no page says so (the
    // shutdown wrote no page), the flushed LSN does.
    tablespace(&d.data().join("ibdata1"), 0, &[19_000, 23_456], 40_000);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        finding_ids(&out).contains(&"innodb-flushed-lsn-beyond-log".to_string()),
        "{}",
        text(&out)
    );
}

#[test]
fn myisam_and_innodb_in_one_folder_are_judged_by_both_checks() {
    // A table copied open is a MyISAM warning while InnoDB is consistent.
    let d = Datadir::new(20_000, 23_456, &[19_000, 23_000]);
    myi(&d.data().join("maestro/lists.MYI"), 1);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(check_status(&out, "myisam").as_deref(), Some("WARNING"));
    assert_eq!(check_status(&out, "innodb").as_deref(), Some("OK"));

    // And an InnoDB copy out of step is critical beside it.
    let d = Datadir::new(20_000, 23_456, &[19_000, 29_000]);
    myi(&d.data().join("maestro/lists.MYI"), 1);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(check_status(&out, "myisam").as_deref(), Some("WARNING"));
    assert_eq!(check_status(&out, "innodb").as_deref(), Some("CRITICAL"));
}

#[test]
fn innodb_files_with_no_table_in_innodb_are_ok() {
    // As 4.1 leaves them when every table is MyISAM: the shared tablespace
    // and the log exist, no table uses them. Zero-filled here: even a log
    // never written counts as nothing to judge.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("maestro")).unwrap();
    fs::create_dir_all(data.join("mysql")).unwrap();
    fs::write(data.join("ibdata1"), vec![0u8; 4 * PAGE]).unwrap();
    fs::write(data.join("ib_logfile0"), vec![0u8; 64 * 1024]).unwrap();
    fs::write(data.join("ib_logfile1"), vec![0u8; 64 * 1024]).unwrap();
    for (db, t) in [("maestro", "lists"), ("maestro", "jobs"), ("mysql", "user")] {
        frm(&data.join(format!("{db}/{t}.frm")), 9);
        myi(&data.join(format!("{db}/{t}.MYI")), 0);
    }
    fs::write(data.join("maestro/v.frm"), b"TYPE=VIEW\nquery=select 1\n").unwrap();
    let run = |extra: &[&str]| {
        tool(&dir.path().join("state"))
            .args(["--format", "json", "check", "--root"])
            .arg(format!("db={}", data.display()))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["status"], "OK");
    assert_eq!(rec["details"]["innodb_in_use"], false, "{rec}");
    let msg = rec["message"].as_str().unwrap();
    assert!(
        msg.contains("no table keeps its data in InnoDB (3 tables, 1 views"),
        "{msg}"
    );
    assert_eq!(check_status(&out, "myisam").as_deref(), Some("OK"));

    // One InnoDB table, and the unreadable log matters again.
    frm(&data.join("maestro/jobs.frm"), 12);
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(innodb_record(&out)["message"]
        .as_str()
        .unwrap()
        .contains("never written"));
    // A table whose engine cannot be told from its number counts as
    // InnoDB too (partitioned, or a plugin engine).
    frm(&data.join("maestro/jobs.frm"), 20);
    assert_eq!(run(&[]).status.code(), Some(1));
    frm(&data.join("maestro/jobs.frm"), 9);
    // So does a tablespace of its own.
    fs::write(data.join("maestro/jobs.ibd"), vec![0u8; 4 * PAGE]).unwrap();
    assert_eq!(run(&[]).status.code(), Some(1));
}

/// Real tablespaces written by MySQL 5.0: Jeremy Cole's innodb_ruby keeps
/// the sakila sample database as MySQL 5.0 wrote it (`spec/data/sakila/5.0`,
/// BSD-3-Clause). They are not part of this repository; point
/// `MAESTRO_HA_INNODB_SAMPLES` at innodb_ruby's `spec/data` to run this.
#[test]
fn real_mysql_5_0_tablespaces_pass_their_checksums_and_are_judged_by_lsn() {
    let Some(samples) = std::env::var_os("MAESTRO_HA_INNODB_SAMPLES") else {
        eprintln!("MAESTRO_HA_INNODB_SAMPLES not set: the real MySQL 5.0 tablespaces are not read");
        return;
    };
    let sakila = Path::new(&samples).join("sakila/5.0/sakila");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("sakila")).unwrap();
    let mut max_lsn = 0u64;
    let mut tables = 0;
    for e in fs::read_dir(&sakila).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".ibd") || name.ends_with(".frm"))
            || e.metadata().unwrap().len() > 1 << 20
        {
            continue;
        }
        let body = fs::read(e.path()).unwrap();
        if name.ends_with(".ibd") {
            tables += 1;
            for p in body.chunks(PAGE) {
                max_lsn = max_lsn.max(u64::from_be_bytes(p[16..24].try_into().unwrap()));
            }
        }
        fs::write(data.join("sakila").join(&name), body).unwrap();
    }
    assert!(tables >= 10, "{tables} tablespaces in {}", sakila.display());
    // The system tablespace and logs are too large for the sample set:
    // a small ibdata1 and a constructed log ending at the newest page.
    tablespace(&data.join("ibdata1"), 0, &[max_lsn - 100], 0);
    let mut log = LogGroup::new(2, 1 << 20);
    log.write(START_LSN, max_lsn, 4);
    log.checkpoint(4, max_lsn - 100);
    log.save(&data);
    let run = || {
        tool(&dir.path().join("state"))
            .args(["--format", "json", "check", "--root"])
            .arg(format!("db={}", data.display()))
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = innodb_record(&out);
    assert!(rec["details"]["pages"].as_u64().unwrap() > 100, "{rec}");

    // A log that ends before the newest page: those pages are beyond it.
    let mut log = LogGroup::new(2, 1 << 20);
    log.write(START_LSN, max_lsn - 1_000, 4);
    log.checkpoint(4, max_lsn - 2_000);
    log.save(&data);
    tablespace(&data.join("ibdata1"), 0, &[max_lsn - 3_000], 0);
    let out = run();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
