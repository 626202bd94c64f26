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
use std::time::Duration;
use support::maestro_snapshot_verify::format_0::{self, fold, Checksum, LogGroup, START_LSN};
use support::maestro_snapshot_verify::{
    check_status, finding_ids, records, run_bounded, text, tool,
};

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

/// Only a log format this tool does not read may be accepted, by naming
/// `best-effort`.
#[test]
fn a_log_format_not_read_is_accepted_only_by_best_effort() {
    // A log format the tool does not know (header format 77).
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    let mut f0 = d.log.files[0].clone();
    f0[..4].copy_from_slice(&77u32.to_be_bytes());
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
}

/// A log format not read still has its pages read: a torn one is not
/// accepted by best-effort.
#[test]
fn best_effort_still_reads_the_pages() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    let mut f0 = d.log.files[0].clone();
    f0[..4].copy_from_slice(&77u32.to_be_bytes());
    fs::write(d.data().join("ib_logfile0"), &f0).unwrap();
    let mut body = fs::read(d.data().join("ibdata1")).unwrap();
    let n = 2 * PAGE;
    body[n - 1] ^= 0x10;
    fs::write(d.data().join("ibdata1"), &body).unwrap();
    let out = d.check(&["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    finding(&out, "innodb-page-checksum");
}

/// The block holding the checkpoint damaged: a broken copy, whatever the
/// policy.
#[test]
fn a_damaged_block_at_the_checkpoint_is_critical_whatever_the_policy() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    let at = d.log.group_offset(20_000) as usize + 100;
    let mut f0 = d.log.files[0].clone();
    f0[at] ^= 0xFF;
    fs::write(d.data().join("ib_logfile0"), &f0).unwrap();
    for policy in POLICIES {
        let out = d.check(policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        assert!(
            finding(&out, "innodb-log-inconsistent")["message"]
                .as_str()
                .unwrap()
                .contains("does not hold the checkpoint"),
            "{}",
            text(&out)
        );
    }
}

/// ib_logfile1 of another log (its header names a start LSN that is no
/// pass of this ring): a broken copy, best-effort or not.
#[test]
fn a_log_file_of_another_log_is_critical_whatever_the_policy() {
    let d = Datadir::new(20_000, 23_456, &[19_000]);
    let mut f1 = d.log.files[1].clone();
    f1[4..12].copy_from_slice(&(START_LSN + 61_440 + 1_000).to_be_bytes());
    fs::write(d.data().join("ib_logfile1"), &f1).unwrap();
    let out = d.check(&["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
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

/// `check --root db=DATA` of a data folder, as JSON.
fn check_data(data: &Path, state: &Path, extra: &[&str]) -> Output {
    tool(state)
        .args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", data.display()))
        .args(extra)
        .output()
        .unwrap()
}

/// The first finding with this id.
fn finding(o: &Output, id: &str) -> serde_json::Value {
    records(o)
        .into_iter()
        .find(|r| r["type"] == "finding" && r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} finding: {}", text(o)))
}

const POLICIES: [&[&str]; 2] = [&["--innodb", "strict"], &["--innodb", "best-effort"]];

/// ib_logfile0 copied at one moment, ib_logfile1 a pass around the ring
/// later: the files do not belong together. That is a mixed copy, whatever
/// the policy and whatever engine the tables use, and the pages are still
/// compared with the end the first file gives.
/// ib_logfile0 copied at one moment, ib_logfile1 a pass around the ring
/// later: the files do not belong together. `innodb_engine` is the engine
/// number the one table's `.frm` names.
fn mixed_age_log(innodb_engine: u8) -> (tempfile::TempDir, std::path::PathBuf, u64, u64) {
    let capacity = 2 * (64 * 1024 - 2048);
    let early_end = START_LSN + capacity + 20_000;
    let late_end = early_end + 61_440;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("maestro")).unwrap();
    let mut early = LogGroup::new(2, 64 * 1024);
    early.write(START_LSN, early_end, 7);
    early.checkpoint(7, early_end - 10_000);
    let mut late = LogGroup::new(2, 64 * 1024);
    late.write(START_LSN, late_end, 7);
    late.checkpoint(7, late_end - 10_000);
    early.files[1] = late.files[1].clone();
    early.save(&data);
    tablespace(
        &data.join("ibdata1"),
        0,
        &[early_end - 20_000, late_end - 5],
        0,
    );
    frm(&data.join("maestro/jobs.frm"), innodb_engine);
    (dir, data, early_end, late_end)
}

/// Log files of two moments are a mixed copy, whatever the policy, and the
/// pages are still compared with the end the first file gives.
#[test]
fn log_files_of_two_moments_are_critical_whatever_the_policy() {
    let (dir, data, early_end, late_end) = mixed_age_log(12);
    let state = dir.path().join("state");
    for policy in POLICIES {
        let out = check_data(&data, &state, policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        assert_eq!(innodb_record(&out)["status"], "CRITICAL");
        let mixed = finding(&out, "innodb-log-inconsistent");
        assert!(
            mixed["message"]
                .as_str()
                .unwrap()
                .contains("do not belong together"),
            "{mixed}"
        );
        let beyond = finding(&out, "innodb-page-newer-than-log");
        assert_eq!(beyond["details"]["page_lsn"], late_end - 5, "{beyond}");
        assert_eq!(beyond["details"]["log_end_lsn"], early_end, "{beyond}");
    }
}

/// No table in InnoDB excuses nothing: the server reads its log and system
/// tablespace at every start.
#[test]
fn no_table_in_innodb_does_not_excuse_log_files_of_two_moments() {
    let (dir, data, _, _) = mixed_age_log(9);
    let out = check_data(
        &data,
        &dir.path().join("state"),
        &["--innodb", "best-effort"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    finding(&out, "innodb-log-inconsistent");
}

/// A data folder whose log files are gone, `ibdata1` shut down at 15000
/// and a page at 23456.
fn without_log(innodb_engine: u8) -> Datadir {
    let d = Datadir::new(20_000, 23_456, &[19_000]);
    tablespace(
        &d.data().join("ibdata1"),
        0,
        &[14_000, 15_000, 23_456],
        15_000,
    );
    fs::remove_file(d.data().join("ib_logfile0")).unwrap();
    fs::remove_file(d.data().join("ib_logfile1")).unwrap();
    frm(&d.data().join("maestro/jobs.frm"), innodb_engine);
    d
}

/// Both log files gone: MySQL 4.1 would make new ones from the LSN page 0
/// says it shut down at, and the changes of every newer page are lost.
#[test]
fn a_data_folder_without_its_log_is_critical_and_names_pages_past_the_shutdown() {
    let d = without_log(12);
    for policy in POLICIES {
        let out = d.check(policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        let missing = finding(&out, "innodb-log-inconsistent");
        assert!(
            missing["message"].as_str().unwrap().contains("no redo log"),
            "{missing}"
        );
        let past = finding(&out, "innodb-page-newer-than-shutdown");
        assert_eq!(past["details"]["page"], 2, "{past}");
        assert_eq!(past["details"]["flushed_lsn"], 15_000, "{past}");
    }
}

/// Every table MyISAM: still a copy without its log.
#[test]
fn no_table_in_innodb_does_not_excuse_a_missing_log() {
    let d = without_log(9);
    let out = d.check(&["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    finding(&out, "innodb-page-newer-than-shutdown");
}

/// A link inside a root that leads to a data folder is the database's:
/// judged as one, its MyISAM tables too.
#[test]
fn a_data_folder_behind_a_link_in_a_root_is_judged() {
    let w = tempfile::tempdir().unwrap();
    let beyond = Datadir::new(20_000, 23_456, &[19_000, 23_999]);
    let lui = w.path().join("lui");
    fs::create_dir_all(&lui).unwrap();
    fs::write(lui.join("lui.ini"), "Port=80\n").unwrap();
    std::os::unix::fs::symlink(beyond.data(), lui.join("database")).unwrap();
    myi(&beyond.data().join("maestro/lists.MYI"), 1);
    let out = tool(&w.path().join("state"))
        .args(["--format", "json", "check", "--root"])
        .arg(format!("lui={}", lui.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let rec = innodb_record(&out);
    assert_eq!(rec["status"], "CRITICAL", "{rec}");
    let name = rec["name"].as_str().unwrap();
    assert!(
        name.contains("lui:database") && name.contains(&beyond.data().display().to_string()),
        "{name}"
    );
    assert_eq!(check_status(&out, "myisam").as_deref(), Some("WARNING"));
}

/// The site's own database folder through a link: walked as the root
/// `db`, so a manifest covers it, and judged.
#[test]
fn the_sites_database_folder_behind_a_link_is_walked_as_its_own_root() {
    let w = tempfile::tempdir().unwrap();
    let site = w.path().join("maestro");
    for home in ["hub", "lui/database", "trk"] {
        fs::create_dir_all(site.join(home)).unwrap();
    }
    let db = Datadir::new(20_000, 23_456, &[19_000, 23_999]);
    std::os::unix::fs::symlink(db.data(), site.join("lui/database/data")).unwrap();
    let state = w.path().join("state");
    fs::create_dir_all(&state).unwrap();
    fs::write(
        state.join("config.toml"),
        format!("[site]\ninstall_root = \"{}\"\n", site.display()),
    )
    .unwrap();
    let out = tool(&state)
        .args(["--format", "json", "check", "--max-skew", "100000d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let walk = records(&out)
        .into_iter()
        .find(|r| r["type"] == "check" && r["name"] == "walk")
        .unwrap();
    assert!(
        walk["message"].as_str().unwrap().contains(&format!(
            "db={} -> {}",
            site.join("lui/database/data").display(),
            db.data().display()
        )),
        "{walk}"
    );
    assert_eq!(innodb_record(&out)["status"], "CRITICAL", "{}", text(&out));
}

/// A system tablespace moved to another disk and linked back is read.
#[test]
fn a_linked_system_tablespace_is_judged() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500, 23_456, 23_457]);
    let elsewhere = d.dir.path().join("disk2");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::rename(d.data().join("ibdata1"), elsewhere.join("ibdata1")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("ibdata1"), d.data().join("ibdata1")).unwrap();
    tablespace(&d.data().join("maestro/t0.ibd"), 5, &[19_000, 19_500], 0);
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        finding(&out, "innodb-page-newer-than-log")["details"]["page"],
        3
    );
}

/// A tablespace of MySQL 5.6's DATA DIRECTORY (an `.isl` file naming it)
/// is read where it lies.
#[test]
fn a_tablespace_named_by_an_isl_file_is_judged() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    let far = d.dir.path().join("far");
    fs::create_dir_all(&far).unwrap();
    tablespace(&far.join("jobs.ibd"), 6, &[19_000, 30_000], 0);
    fs::write(
        d.data().join("maestro/jobs.isl"),
        format!("{}\n", far.join("jobs.ibd").display()),
    )
    .unwrap();
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let f = finding(&out, "innodb-page-newer-than-log");
    assert_eq!(f["details"]["page_lsn"], 30_000, "{f}");
}

/// A tablespace link that leads nowhere: the tablespace is missing from
/// the copy.
#[test]
fn a_tablespace_link_that_leads_nowhere_is_critical() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    fs::remove_file(d.data().join("ibdata1")).unwrap();
    std::os::unix::fs::symlink(d.dir.path().join("gone"), d.data().join("ibdata1")).unwrap();
    for policy in POLICIES {
        let out = d.check(policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        finding(&out, "innodb-unreadable");
    }
}

/// MySQL 4.1 to 5.6 need at least two log files: a copy that lost
/// ib_logfile1 cannot be recovered, even when the checkpoint and the log's
/// end lie in ib_logfile0.
#[test]
fn a_log_group_without_its_second_file_is_critical() {
    let capacity = 2 * (64 * 1024 - 2048);
    let end = START_LSN + capacity + 20_000;
    let d = Datadir::new(end - 10_000, end, &[end - 20_000, end - 100]);
    assert_eq!(d.check(&[]).status.code(), Some(0));
    fs::remove_file(d.data().join("ib_logfile1")).unwrap();
    for policy in POLICIES {
        let out = d.check(policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        let f = finding(&out, "innodb-log-inconsistent");
        assert!(
            f["message"].as_str().unwrap().contains("ib_logfile1"),
            "{f}"
        );
    }
}

/// Three files, the middle one gone: the files of a group are numbered
/// from 0 without a gap, and the one after the gap is named.
#[test]
fn a_gap_in_the_log_group_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    tablespace(&data.join("ibdata1"), 0, &[9_000, 9_100], 0);
    let mut log = LogGroup::new(3, 32 * 1024);
    log.write(START_LSN, 9_100, 2);
    log.checkpoint(2, 9_000);
    log.save(&data);
    let state = dir.path().join("state");
    assert_eq!(check_data(&data, &state, &[]).status.code(), Some(0));
    fs::remove_file(data.join("ib_logfile1")).unwrap();
    let out = check_data(&data, &state, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = finding(&out, "innodb-log-inconsistent")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("ib_logfile1") && msg.contains("ib_logfile2"),
        "{msg}"
    );
}

/// A FIFO where a log file or a tablespace should be is refused at once,
/// named, and is a broken copy: the check never waits on it.
fn a_fifo_in_place_of(name: &str) {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500]);
    let at = d.data().join(name);
    let _ = fs::remove_file(&at);
    let st = std::process::Command::new("mkfifo")
        .arg(&at)
        .status()
        .unwrap();
    assert!(st.success());
    let mut cmd = tool(&d.dir.path().join("state"));
    cmd.args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", d.data().display()));
    let run = run_bounded(cmd, Duration::from_secs(20), 4 << 30);
    assert!(!run.timed_out, "{name}: hung\n{}", run.text());
    assert_eq!(run.code, Some(2), "{name}: {}", run.text());
    assert!(run.stdout.contains("FIFO"), "{name}: {}", run.text());
}

#[test]
fn a_fifo_in_place_of_a_log_file_never_hangs_the_check() {
    a_fifo_in_place_of("ib_logfile1");
}

#[test]
fn a_fifo_in_place_of_the_system_tablespace_is_critical() {
    a_fifo_in_place_of("ibdata2");
}

#[test]
fn a_fifo_in_place_of_a_table_tablespace_is_critical() {
    a_fifo_in_place_of("maestro/jobs.ibd");
}

/// The second half of page 2 is from an older write (its trailer holds
/// the older LSN), and the word at 26 is not zero: still a torn page,
/// since nothing on page 0 says the tablespace is encrypted.
#[test]
fn a_torn_page_is_critical_whatever_lies_at_offset_26() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500, 21_000, 12_000]);
    let mut body = fs::read(d.data().join("ibdata1")).unwrap();
    let old = page(0, 2, 15_000);
    let p = &mut body[2 * PAGE..3 * PAGE];
    p[PAGE / 2..].copy_from_slice(&old[PAGE / 2..]);
    p[26..30].copy_from_slice(&1u32.to_be_bytes());
    fs::write(d.data().join("ibdata1"), &body).unwrap();
    for policy in POLICIES {
        let out = d.check(policy);
        assert_eq!(out.status.code(), Some(2), "{policy:?}: {}", text(&out));
        let f = finding(&out, "innodb-page-checksum");
        assert!(
            f["message"].as_str().unwrap().contains("torn"),
            "{}",
            text(&out)
        );
    }
}

/// A crafted log at the very end of the LSN space: a clear verdict, no
/// arithmetic overflow.
#[test]
fn a_log_at_the_end_of_the_lsn_space_is_judged_without_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    tablespace(&data.join("ibdata1"), 0, &[19_000], 0);
    let mut log = LogGroup::new(2, 64 * 1024);
    let top = u64::MAX - 511;
    log.write(top, u64::MAX, 7);
    let b = log.block_mut(top);
    b[4..6].copy_from_slice(&512u16.to_be_bytes());
    format_0::seal(b, Checksum::Innodb);
    log.checkpoint(7, top + 100);
    log.save(&data);
    let mut cmd = tool(&dir.path().join("state"));
    cmd.args(["--format", "json", "check", "--root"])
        .arg(format!("db={}", data.display()));
    let run = run_bounded(cmd, Duration::from_secs(20), 4 << 30);
    assert_eq!(run.code, Some(2), "{}", run.text());
    assert!(
        run.stdout.contains("innodb-log-inconsistent"),
        "{}",
        run.text()
    );
}

/// The block holding the checkpoint may lie in any file of the group:
/// damaging it there is found (the test helper once assumed ib_logfile0).
#[test]
fn a_damaged_checkpoint_block_in_the_second_file_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    let lsn = START_LSN + (1 << 20) + 100_000;
    tablespace(&data.join("ibdata1"), 0, &[lsn - 50, lsn], lsn);
    let mut log = LogGroup::new(2, 1 << 20);
    log.write(lsn - 3_000, lsn, 9);
    log.checkpoint(9, lsn);
    assert!(
        log.group_offset(lsn) > 1 << 20,
        "the checkpoint is in ib_logfile1"
    );
    log.save(&data);
    let state = dir.path().join("state");
    assert_eq!(check_data(&data, &state, &[]).status.code(), Some(0));
    log.block_mut(lsn)[300] ^= 0x40;
    log.save(&data);
    let out = check_data(&data, &state, &["--innodb", "best-effort"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    finding(&out, "innodb-log-inconsistent");
}

/// MySQL 5.6 accepts a block whose trailer is the checksum it computes
/// (or, from InnoDB before 3.23.52, the block number): a block sealed
/// another way after the checkpoint ends the log there.
#[test]
fn blocks_after_the_checkpoint_are_held_to_its_checksum_kind() {
    let d = Datadir::new(20_000, 23_456, &[19_000, 20_500, 23_000]);
    assert_eq!(d.check(&[]).status.code(), Some(0));
    let mut log = LogGroup {
        size: d.log.size,
        files: d.log.files.clone(),
        checksum: Checksum::Innodb,
        old_checkpoint: None,
    };
    let at = 21_504;
    format_0::seal(log.block_mut(at), Checksum::Crc32);
    log.save(&d.data());
    let out = d.check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(innodb_record(&out)["details"]["end_lsn"], at);
}
