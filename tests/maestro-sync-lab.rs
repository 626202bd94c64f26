//! maestro-sync with real parts that can fail under it: the receiving
//! server's cable pulled mid-transfer (network namespaces), its disk full
//! (a small loop-mounted file system), and a real MariaDB committing rows
//! on a btrfs subvolume while read-only snapshots of it are sent. After
//! every cut, `current` is a complete generation that
//! maestro-snapshot-verify passes and MariaDB recovers from.

mod support;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::maestro_snapshot_verify::{free_port, Mariadb};
use support::maestro_sync::{incompressible, LoopMount, Pair, Run, LAB_RECEIVER};

fn ok(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run.dump());
}

fn assert_current_passes(p: &Pair, what: &str) {
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(
        check.code,
        Some(0),
        "{what}: the current generation does not pass: {}",
        check.dump()
    );
}

/// One row committed: its id, when the commit was sent and when it returned.
#[derive(Clone, Copy)]
struct Commit {
    sent_ns: i64,
    done_ns: i64,
}

fn now_ns() -> i64 {
    maestro_snapshot_verify::time::now_ns()
}

/// The sending side's data on a btrfs subvolume, with a real MariaDB
/// committing a row every few milliseconds and files being rewritten; the
/// receiving side in another network namespace, its generations on a
/// small file system of their own. Runs are made from read-only snapshots
/// and cut in every way: rsync killed, the receiving side's cable pulled
/// mid-transfer, its disk full, and the receiving side killed (a power
/// loss) before and after the rename and before the switch. After each,
/// `current` is a complete generation that maestro-snapshot-verify passes
/// and MariaDB recovers from, with every row committed before its point
/// in time and none begun after; the next run goes on from there.
#[test]
fn every_cut_leaves_a_current_generation_that_passes_and_mariadb_recovers_from() {
    let volume = LoopMount::new("btrfs", 400);
    let disk = LoopMount::new("ext4", 320);
    let subvolume = volume.mount_point.join("maestro");
    let out = std::process::Command::new("btrfs")
        .args(["subvolume", "create"])
        .arg(&subvolume)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = subvolume.join("app");
    let p = Pair::in_lab_with(Some(source.clone()), Some(disk.mount_point.join("gen")));
    let snapshots = volume.mount_point.join("snapshots");
    fs::create_dir_all(&snapshots).unwrap();
    p.write_configs(&format!(
        "snapshot = \"btrfs\"\nsnapshot_dir = \"{}\"\n",
        snapshots.display()
    ));
    let datadir = source.join("lui/database/data");
    Mariadb::install(&datadir, &["--innodb-log-file-size=16M"]);
    let db = Mariadb::start_on(
        &datadir,
        None,
        "127.0.0.1",
        free_port(),
        &source.join("mariadb.err"),
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    db.sql("CREATE DATABASE maestro");
    db.sql(
        "CREATE TABLE maestro.jobs (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT) ENGINE=InnoDB",
    );
    let db = Arc::new(db);
    let commits: Arc<Mutex<Vec<Commit>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, commits, stop, jobs) = (
            db.clone(),
            commits.clone(),
            stop.clone(),
            source.join("lui/jobs"),
        );
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let sent_ns = now_ns();
                if db
                    .try_sql("INSERT INTO maestro.jobs (body) VALUES (REPEAT('m', 300))")
                    .is_ok()
                {
                    commits.lock().unwrap().push(Commit {
                        sent_ns,
                        done_ns: now_ns(),
                    });
                }
                n += 1;
                let _ = fs::write(jobs.join(format!("live-{}.xml", n % 10)), format!("{n}"));
            }
        })
    };
    let lab = p.lab.as_ref().unwrap();
    let mut rows = Vec::new();
    let made = |p: &Pair, what: &str, rows: &mut Vec<(String, u64)>| {
        let run = p.push();
        ok(&run);
        let took = run.check("snapshot").unwrap()["elapsed_ms"]
            .as_f64()
            .unwrap();
        eprintln!(
            "{what}: generation {:?}, btrfs snapshot step {took:.1} ms",
            p.current()
        );
        assert_current_passes(p, what);
        rows.push(recover_and_count(p, &commits));
    };
    made(&p, "first run", &mut rows);

    // 1. rsync killed while it sends a large file.
    let before = p.current().unwrap();
    fs::write(source.join("lui/attachment.bin"), incompressible(6)).unwrap();
    let push = p.spawn_sender(&["--set", "sync.rsync_options=[\"--bwlimit=1500\"]", "push"]);
    wait_partly_sent(&p, "attachment.bin");
    let pid = p.data_rsync_pid().expect("the data rsync runs");
    // SAFETY: kill of the rsync this test's run started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let run = Run::from_output(push.wait_with_output().unwrap());
    after_cut(&p, "rsync killed", &run, &before, &commits);

    // 2. The receiving side's cable pulled mid-transfer.
    let before = p.current().unwrap();
    fs::write(source.join("lui/attachment.bin"), incompressible(7)).unwrap();
    let push = p.spawn_sender(&[
        "--set",
        "sync.rsync_options=[\"--bwlimit=1500\"]",
        "--set",
        "sync.io_timeout=\"4s\"",
        "push",
    ]);
    wait_partly_sent(&p, "attachment.bin");
    lab.link(LAB_RECEIVER, false);
    let cut = Instant::now();
    let run = Run::from_output(push.wait_with_output().unwrap());
    assert!(
        cut.elapsed() < Duration::from_secs(30),
        "the cut run took {:?}",
        cut.elapsed()
    );
    lab.link(LAB_RECEIVER, true);
    after_cut(&p, "cable pulled", &run, &before, &commits);
    // The receiving side's rsync of the cut run still waits for its
    // vanished sender; the next run ends it before it reuses the partial.
    let strays = p.rsyncs_in_generations();
    eprintln!("rsyncs of the cut run still waiting: {strays:?}");
    let run = p.push();
    ok(&run);
    assert!(p.rsyncs_in_generations().is_empty(), "{strays:?} still run");
    if !strays.is_empty() {
        assert!(run.message_of("strays").contains("ended"), "{}", run.dump());
    }
    rows.push(recover_and_count(&p, &commits));

    // 3. The receiving side's disk full.
    let before = p.current().unwrap();
    let ballast = disk.mount_point.join("ballast");
    fill(&disk.mount_point, &ballast);
    let run = p.push();
    fs::remove_file(&ballast).unwrap();
    after_cut(&p, "disk full", &run, &before, &commits);

    // 4. The receiving side killed before and after the rename of the
    // verified generation, and between the rename and the switch.
    for step in ["before-rename", "after-rename", "before-switch"] {
        let before = p.current().unwrap();
        let rx = format!(
            "env MAESTRO_SYNC_TEST_CRASH_AT={step} {}",
            p.receiver_command()
        );
        let run = p.sender(&["--set", &format!("sync.remote_command={rx}"), "push"]);
        after_cut(&p, step, &run, &before, &commits);
    }
    made(&p, "after the cuts", &mut rows);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(rows.last().unwrap().1 > rows[0].1, "{rows:?}");
}

/// A run that was cut: it made no generation, `current` is where it was,
/// passes the check, and MariaDB recovers from it.
fn after_cut(p: &Pair, what: &str, run: &Run, before: &str, commits: &Mutex<Vec<Commit>>) {
    assert_eq!(run.code, Some(2), "{what}: {}", run.dump());
    assert_eq!(
        p.current().as_deref(),
        Some(before),
        "{what}: current moved: {}",
        run.dump()
    );
    assert_current_passes(p, what);
    recover_and_count(p, commits);
}

/// Waits (bounded) until the receiving side holds part of `name`.
fn wait_partly_sent(p: &Pair, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.partly_sent(name) < 1024 * 1024 {
        assert!(Instant::now() < deadline, "{name} did not start arriving");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fills the file system of `dir` but for a few hundred KiB.
fn fill(dir: &std::path::Path, ballast: &std::path::Path) {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: statvfs writes into the struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    let out = std::process::Command::new("fallocate")
        .args(["-l", &(free.saturating_sub(256 * 1024)).to_string()])
        .arg(ballast)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts MariaDB on a copy of the current generation's data folder (crash
/// recovery), counts the rows, and holds them against the writer's log and
/// the generation's point in time. Returns (generation, rows).
fn recover_and_count(p: &Pair, commits: &Mutex<Vec<Commit>>) -> (String, u64) {
    let current = p.current().unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.gen().join("current/generation.json")).unwrap())
            .unwrap();
    let pit = meta["point_in_time_ns"].as_i64().unwrap();
    let scratch = tempfile::Builder::new()
        .prefix("maestro-sync-recover-")
        .tempdir()
        .unwrap();
    let copy = scratch.path().join("data");
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(p.gen().join("current/data/lui/database/data"))
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success());
    let db = Mariadb::start_on(
        &copy,
        None,
        "127.0.0.1",
        free_port(),
        &scratch.path().join("err.log"),
        &[],
    )
    .unwrap_or_else(|e| panic!("MariaDB does not start on the generation {current}: {e}"));
    let rows: u64 = db.sql("SELECT COUNT(*) FROM maestro.jobs").parse().unwrap();
    let log = commits.lock().unwrap().clone();
    let surely_in = log.iter().filter(|c| c.done_ns < pit).count() as u64;
    // The snapshot is taken at `pit` and lasts milliseconds: nothing sent
    // a second after it can be in it.
    let maybe_in = log
        .iter()
        .filter(|c| c.sent_ns < pit + 1_000_000_000)
        .count() as u64;
    assert!(
        surely_in <= rows && rows <= maybe_in,
        "{current}: {rows} rows recovered; {surely_in} were committed before its point in time, {maybe_in} sent before a second after it"
    );
    eprintln!("{current}: {rows} rows recovered ({surely_in}..={maybe_in})");
    (current, rows)
}
