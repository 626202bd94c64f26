//! maestro-sync against a real OpenSSH server and real rsync on 127.0.0.1
//! (the two servers are two configs and state folders on this machine):
//! generations made and hard-linked, verified against the manifest, the
//! refusals (a fenced primary, a fenced failover, a held or changed current
//! generation), the lock the admin's check respects, the hash cache across
//! generations, `pull`, and the run killed at every step of the switch.

mod support;

use maestro_common::sync_lock::{self, LockMode, SyncLock};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};
use support::maestro_sync::{incompressible, ino, pids_whose_command, tick, Pair, Run, SYNC};

fn pair() -> Pair {
    let p = Pair::new("");
    let stage = p.path("stage");
    p.write_configs(&format!(
        "snapshot = \"command\"\nsnapshot_dir = \"{}\"\n",
        stage.display()
    ));
    p
}

fn ok(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run.dump());
}

#[test]
fn push_makes_a_verified_generation_and_links_what_did_not_change() {
    let p = pair();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("manifest").contains("whole"),
        "{}",
        run.dump()
    );
    let first = p.current().expect("current");
    assert!(
        run.message_of("generation")
            .starts_with(&format!("current -> {first}")),
        "{}",
        run.dump()
    );
    let data = p.gen().join("current/data");
    assert_eq!(
        fs::read_to_string(data.join("lui/jobs/7.xml")).unwrap(),
        "<job id=\"7\"/>\n"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.gen().join("current/generation.json")).unwrap())
            .unwrap();
    assert_eq!(
        (meta["consistent"].as_bool(), meta["snapshot"].as_str()),
        (Some(true), Some("command"))
    );
    tick();
    fs::write(
        p.source().join("lui/jobs/7.xml"),
        "<job id=\"7\" sent=\"yes\"/>\n",
    )
    .unwrap();
    fs::remove_file(p.source().join("lui/jobs/9.xml")).unwrap();
    let logins = || p.sshd.log().matches("Accepted publickey").count();
    let before = logins();
    let run = p.push();
    ok(&run);
    // One SSH login a run: the data's and the manifest's rsync go through
    // the receiving session's connection.
    assert_eq!(logins() - before, 1, "{}", p.sshd.log());
    let second = p.current().unwrap();
    assert!(second > first);
    let (a, b) = (
        p.gen().join(&first).join("data"),
        p.gen().join(&second).join("data"),
    );
    // Unchanged: one inode in both; changed: a new file; removed: gone.
    assert_eq!(
        ino(&a.join("lui/jobs/8.xml")),
        ino(&b.join("lui/jobs/8.xml"))
    );
    assert_ne!(
        ino(&a.join("lui/jobs/7.xml")),
        ino(&b.join("lui/jobs/7.xml"))
    );
    assert!(!b.join("lui/jobs/9.xml").exists() && a.join("lui/jobs/9.xml").exists());
    let stats = &run.check("transfer").unwrap()["details"]["stats"];
    assert_eq!(stats["transferred"], 1, "{}", run.dump());
    // The manifest went over the session, as a delta against the one sent
    // before (the first run had no base: whole), and arrived byte for byte.
    let sent = p.path("state-s/maestro-sync/outgoing/manifest.jsonl");
    let manifest = fs::read(&sent).unwrap();
    assert_eq!(
        fs::read(p.gen().join(&second).join("manifest.jsonl")).unwrap(),
        manifest
    );
    let said = run.message_of("manifest");
    assert!(
        said.contains("over the session") && said.contains("a delta"),
        "{said}"
    );
    let manifest_bytes = run.check("manifest").unwrap()["details"]["stats"]["bytes_sent"]
        .as_u64()
        .unwrap();
    assert!(
        manifest_bytes < manifest.len() as u64 / 2,
        "{manifest_bytes} of {}",
        manifest.len()
    );
    // The receiving side's check read only the changed file: the linked
    // ones kept their cached hashes through the link (their new ctime is
    // from inside the transfer's window).
    let verify = &run.check("verify").unwrap()["details"];
    assert_eq!(verify["files_read"], 1, "{}", run.dump());
    assert!(verify["relinked"].as_u64().unwrap() >= 50, "{}", run.dump());
    // The admin's check of `current`, through the link: every hash from
    // the cache, the primary's *.tmp file no leftover.
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
    assert_eq!(
        check.check("walk").unwrap()["details"]["files_read"],
        0,
        "{}",
        check.dump()
    );
    assert_eq!(check.status_of("leftovers"), "OK", "{}", check.dump());
    // A root given as a link to the data (the documented layout) is
    // resolved once and named both ways.
    let maestro = p.path("maestro");
    std::os::unix::fs::symlink(p.gen().join("current/data"), &maestro).unwrap();
    let check = p.check_current(&maestro);
    assert_eq!(check.code, Some(0), "{}", check.dump());
    let walked = check.message_of("walk");
    assert!(
        walked.contains(&format!("data={} -> {}", maestro.display(), b.display())),
        "{walked}"
    );
    // keep = 2: a third generation prunes the first, never current.
    // The manifest sent before no longer matches the receiving side's (a
    // base the delta cannot copy from): the new one goes whole, and passes.
    fs::write(&sent, "{}\n").unwrap();
    tick();
    fs::write(p.source().join("lui/jobs/10.xml"), "x").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("manifest").contains("whole"),
        "{}",
        run.dump()
    );
    let gens = p.generations();
    assert_eq!(gens.len(), 2, "{gens:?}");
    assert!(!gens.contains(&first));
    assert_eq!(gens.last(), p.current().as_ref());
}

#[test]
fn status_gives_the_rpo_with_thresholds() {
    let p = pair();
    let none = p.receiver(&["status"]);
    assert_eq!(none.code, Some(2), "{}", none.dump());
    ok(&p.push());
    let run = p.receiver(&["status"]);
    ok(&run);
    assert!(
        run.message_of("current").contains("point in time"),
        "{}",
        run.dump()
    );
    std::thread::sleep(Duration::from_millis(1100));
    let o = Command::new(SYNC)
        .arg("--config")
        .arg(p.path("receiver.toml"))
        .arg("--state-dir")
        .arg(p.path("state-r"))
        .args([
            "--format",
            "nagios",
            "status",
            "--warning",
            "1s",
            "--critical",
            "1h",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("MAESTRO-SYNC WARNING:"), "{text}");
    assert!(first.contains("'rpo'=") || first.contains("rpo="), "{text}");
    assert!(first.contains("s;1;3600;0"), "{text}");
    // The sending side knows its last generation too.
    let run = p.sender(&["status", "--critical", "1h", "--warning", "30m"]);
    ok(&run);
    assert!(
        run.message_of("current")
            .contains("the last generation made from here"),
        "{}",
        run.dump()
    );
}

#[test]
fn a_fenced_primary_and_a_failover_that_took_over_refuse() {
    let p = pair();
    ok(&p.push());
    let before = p.current();
    // The fence's marker on the sending side.
    fs::write(p.path("fenced"), "maestro-fence-marker=1\nepoch=3\n").unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("marker")
            .contains("refused: this server is fenced"),
        "{}",
        run.dump()
    );
    fs::remove_file(p.path("fenced")).unwrap();
    // A fence in the receiving side's journal (it has taken over).
    let mut journal = maestro_fence::journal::Journal::open(&p.path("state-r")).unwrap();
    let epoch = journal.begin("fence", "127.0.0.1", "failover").unwrap();
    journal
        .finish(
            epoch,
            maestro_fence::journal::FENCED,
            Some("isolate"),
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("fence-journal").contains("has taken over"),
        "{}",
        run.dump()
    );
    assert_eq!(p.current(), before);
    // The failback direction asks no fence state.
    let unfence = journal.begin("unfence", "127.0.0.1", "failover").unwrap();
    let run = p.push();
    assert_eq!(
        run.code,
        Some(2),
        "an unfence under way still refuses: {}",
        run.dump()
    );
    journal
        .finish(
            unfence,
            maestro_fence::journal::UNFENCED,
            None,
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
    ok(&p.push());
    assert_ne!(p.current(), before);
    // The failback direction asks no fence state: with the fence back in
    // force here, a push --reverse (its receiving side told so) still runs.
    let epoch = journal.begin("fence", "127.0.0.1", "failover").unwrap();
    journal
        .finish(
            epoch,
            maestro_fence::journal::FENCED,
            Some("ssh"),
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
    tick();
    fs::write(p.source().join("lui/jobs/5.xml"), "failback").unwrap();
    assert_eq!(p.push().code, Some(2));
    let run = p.sender(&["push", "--reverse"]);
    ok(&run);
    assert!(run.check("fence-journal").is_none(), "{}", run.dump());
    assert_eq!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/5.xml")).unwrap(),
        "failback"
    );
}

#[test]
fn a_held_or_changed_current_generation_is_not_replaced() {
    let p = pair();
    ok(&p.push());
    let held = p.current().unwrap();
    let run = p.receiver(&["hold"]);
    ok(&run);
    tick();
    fs::write(p.source().join("lui/jobs/1.xml"), "new").unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("hold")
            .contains(&format!("generation {held} is held")),
        "{}",
        run.dump()
    );
    ok(&p.receiver(&["release"]));
    // Maestro wrote into it (a failover ran from it).
    fs::write(
        p.gen().join("current/data/lui/jobs/2.xml"),
        "written on the failover",
    )
    .unwrap();
    fs::write(p.gen().join("current/data/lui/jobs/new.xml"), "a new job").unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    let m = run.message_of("current");
    assert!(
        m.contains("changed since it was received (2 differences)"),
        "{}",
        run.dump()
    );
    assert_eq!(p.current().as_ref(), Some(&held));
    let run = p.sender(&["push", "--discard-changes"]);
    assert_eq!(
        run.code,
        Some(1),
        "replaced, with a warning: {}",
        run.dump()
    );
    assert_ne!(p.current().as_ref(), Some(&held));
    assert_eq!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/1.xml")).unwrap(),
        "new"
    );
}

/// The failback as docs/maestro-sync.md gives it: the receiving side's
/// current generation changed (Maestro ran from it), so the copy back from
/// a stopped Maestro needs --no-snapshot and --discard-changes, and then
/// replaces it with what the sending side has, marked not a point in time.
#[test]
fn the_failback_replaces_a_changed_current_only_when_told() {
    let p = pair();
    ok(&p.push());
    let before = p.current().unwrap();
    fs::write(p.gen().join("current/data/lui/jobs/2.xml"), "ran here").unwrap();
    tick();
    fs::write(p.source().join("lui/jobs/1.xml"), "failed back").unwrap();
    let run = p.sender(&["push", "--reverse", "--no-snapshot"]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("current")
            .contains("changed since it was received"),
        "{}",
        run.dump()
    );
    assert_eq!(p.current().as_ref(), Some(&before));
    let run = p.sender(&["push", "--reverse", "--no-snapshot", "--discard-changes"]);
    assert_eq!(run.code, Some(1), "replaced, with warnings: {}", run.dump());
    assert!(
        run.message_of("generation").contains("NOT a point in time"),
        "{}",
        run.dump()
    );
    assert_ne!(p.current().as_ref(), Some(&before));
    assert_eq!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/1.xml")).unwrap(),
        "failed back"
    );
    assert_ne!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/2.xml")).unwrap(),
        "ran here"
    );
}

#[test]
fn the_admins_check_waits_for_a_running_sync() {
    let p = pair();
    ok(&p.push());
    let lock = SyncLock::acquire(
        &sync_lock::lock_file(&p.gen()),
        LockMode::Exclusive,
        Duration::ZERO,
        true,
    )
    .unwrap();
    let started = Instant::now();
    let o = Command::new(support::maestro_sync::VERIFY)
        .arg("--config")
        .arg(p.path("receiver.toml"))
        .arg("--state-dir")
        .arg(p.path("state-r"))
        .args(["--format", "json", "check", "--root"])
        .arg(format!("data={}", p.gen().join("current/data").display()))
        .args(["--sync-lock-wait", "1s"])
        .output()
        .unwrap();
    let run = Run::from_output(o);
    assert_eq!(run.code, Some(3), "{}", run.dump());
    assert!(
        run.message_of("sync-lock").contains("could not be shared"),
        "{}",
        run.dump()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // So does a sync (the same lock), and `hold`.
    let push = p.push();
    assert_eq!(push.code, Some(2), "{}", push.dump());
    assert!(
        push.message_of("target-lock").contains("is held"),
        "{}",
        push.dump()
    );
    drop(lock);
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
}

#[test]
fn pull_makes_the_same_generation_driven_from_the_receiving_side() {
    let p = pair();
    let run = p.receiver(&["pull"]);
    ok(&run);
    let first = p.current().unwrap();
    assert!(run.check("rpo").is_some(), "{}", run.dump());
    tick();
    fs::write(p.source().join("hub/hub.ini"), "HubPort=1100\n").unwrap();
    let run = p.receiver(&["pull"]);
    ok(&run);
    let second = p.current().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        ino(&p.gen().join(&first).join("data/lui/lui.ini")),
        ino(&p.gen().join(&second).join("data/lui/lui.ini"))
    );
    // The serving side recorded its part.
    let status = p.sender(&["status", "--critical", "1h", "--warning", "30m"]);
    let recent = &status.check("runs").unwrap()["details"]["recent"];
    assert_eq!(recent[0]["role"], "serve", "{}", status.dump());
}

/// The run is killed (SIGKILL, as a power loss stops it) at each step of
/// making a generation current; after each, `current` is a complete,
/// verified generation, and the next run goes on from there.
#[test]
fn killed_at_any_step_current_stays_complete_and_the_next_run_goes_on() {
    let p = pair();
    killed_at_each_step(
        &p,
        &[
            "before-rename",
            "after-rename",
            "before-switch",
            "after-switch",
        ],
    );
}

/// The same with the generations on btrfs, where a generation is a
/// snapshot of the partial one and that is kept as the staging subvolume
/// (a kill after the snapshot, and after the staging subvolume's rename
/// before its stamp is recorded).
#[test]
fn killed_at_any_step_on_btrfs_current_stays_complete_and_the_next_run_goes_on() {
    let disk = support::maestro_sync::LoopMount::new("btrfs", 300);
    let p = btrfs_pair(&disk);
    killed_at_each_step(
        &p,
        &[
            "before-rename",
            "after-rename",
            "after-staging",
            "before-switch",
            "after-switch",
        ],
    );
    // Two runs more: the staging subvolume is received into again.
    for n in 0..2 {
        tick();
        fs::write(p.source().join(format!("lui/jobs/after-{n}.xml")), "x").unwrap();
        let run = p.push();
        ok(&run);
        if n == 1 {
            assert!(
                run.message_of("prepare")
                    .contains("the btrfs subvolume the current generation was made from"),
                "{}",
                run.dump()
            );
        }
    }
}

/// A pair whose generations are on the btrfs `disk` (the source in a
/// temporary folder, copied as its `command` snapshot).
fn btrfs_pair(disk: &support::maestro_sync::LoopMount) -> Pair {
    let p = Pair::with_folders(None, Some(disk.mount_point.join("gen")));
    let stage = p.path("stage");
    p.write_configs(&format!(
        "snapshot = \"command\"\nsnapshot_dir = \"{}\"\n",
        stage.display()
    ));
    p
}

fn killed_at_each_step(p: &Pair, steps: &[&str]) {
    ok(&p.push());
    for (i, step) in steps.iter().enumerate() {
        let before = p.current().unwrap();
        tick();
        fs::write(p.source().join(format!("lui/jobs/crash-{i}.xml")), step).unwrap();
        let rx = format!(
            "env MAESTRO_SYNC_TEST_CRASH_AT={step} {}",
            p.receiver_command()
        );
        let run = p.sender(&["--set", &format!("sync.remote_command={rx}"), "push"]);
        assert_eq!(run.code, Some(2), "{step}: {}", run.dump());
        let now = p.current().unwrap();
        if *step == "after-switch" {
            assert_ne!(now, before, "{step}: the switch was done before the kill");
        } else {
            assert_eq!(now, before, "{step}: current moved: {}", run.dump());
        }
        let check = p.check_current(&p.gen().join("current/data"));
        assert_eq!(check.code, Some(0), "{step}: {}", check.dump());
        let run = p.push();
        ok(&run);
        assert!(p
            .gen()
            .join("current/data")
            .join(format!("lui/jobs/crash-{i}.xml"))
            .exists());
        assert!(!p.gen().join(".current.tmp").exists());
    }
}

/// rsync's stream goes through the run's own session: one login a run,
/// the receiving side running rsync's server itself. A receiving side
/// whose maestro-sync does not offer that (an older release) costs one
/// login more: rsync opens its own session, under `rsync-wrap`, and the
/// run makes its generation all the same.
#[test]
fn rsync_goes_through_the_runs_session_or_its_own() {
    let p = pair();
    ok(&p.push());
    // The receiving side's maestro-sync behind a script that notes how it
    // is called and, as an older release, may not offer the session.
    let calls = p.path("calls.log");
    let wrapper = |name: &str, older: bool| {
        let path = p.path(name);
        // Only `receive` speaks lines; rsync-wrap's output is rsync's.
        let run = if older {
            format!(
                "case \"$*\" in\n  *' receive '*) {SYNC} \"$@\" | sed -u 's/\"rsync_by_session\":true/\"rsync_by_session\":false/' ;;\n  *) exec {SYNC} \"$@\" ;;\nesac"
            )
        } else {
            format!("exec {SYNC} \"$@\"")
        };
        fs::write(
            &path,
            format!("#!/bin/sh\necho \"$*\" >> {}\n{run}\n", calls.display()),
        )
        .unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        p.receiver_command()
            .replacen(SYNC, &path.display().to_string(), 1)
    };
    let push_through = |rx: &str, v: u32, extra: &[&str]| {
        fs::write(&calls, "").unwrap();
        tick();
        // Sizes that differ from run to run: the test's snapshot is an
        // rsync copy, whose quick check takes a file of the same size and
        // second for unchanged.
        let job = format!("<job id=\"7\" v=\"{}\"/>\n", "v".repeat(v as usize));
        fs::write(p.source().join("lui/jobs/7.xml"), &job).unwrap();
        // A file larger than a frame, with every byte value.
        let big: Vec<u8> = (0..300_000 + v).map(|i| (i * 7 + v) as u8).collect();
        fs::write(p.source().join("lui/big.bin"), &big).unwrap();
        let before = p.current().unwrap();
        // Sessions, not connections: both paths use one connection.
        let sessions = p.sshd.log().matches("Starting session").count();
        let remote = format!("sync.remote_command={rx}");
        let mut args = vec!["--set", remote.as_str()];
        args.extend_from_slice(extra);
        args.push("push");
        let run = p.sender(&args);
        ok(&run);
        assert_ne!(p.current().unwrap(), before);
        assert_eq!(
            fs::read_to_string(p.gen().join("current/data/lui/jobs/7.xml")).unwrap(),
            job
        );
        assert_eq!(
            fs::read(p.gen().join("current/data/lui/big.bin")).unwrap(),
            big
        );
        let sessions = p.sshd.log().matches("Starting session").count() - sessions;
        (run, fs::read_to_string(&calls).unwrap(), sessions)
    };
    let session_of = |run: &Run| {
        run.check("transfer").unwrap()["details"]["ssh_session"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let now = wrapper("maestro-sync-now", false);
    let (run, called, sessions) = push_through(&now, 2, &[]);
    assert_eq!(session_of(&run), "the run's", "{}", run.dump());
    assert!(!called.contains("rsync-wrap"), "{called}");
    assert_eq!(sessions, 1, "{}", p.sshd.log());
    let (run, called, sessions) = push_through(&wrapper("maestro-sync-older", true), 3, &[]);
    assert!(session_of(&run).starts_with("its own"), "{}", run.dump());
    assert!(called.contains("rsync-wrap --usage"), "{called}");
    assert_eq!(sessions, 2, "{}", p.sshd.log());
    // A wrapper command as the other side's rsync: it cannot be carried
    // (the other side runs only an rsync program), so rsync opens its own
    // session, and the run goes on.
    let (run, called, sessions) =
        push_through(&now, 4, &["--set", "sync.remote_rsync=\"env rsync\""]);
    let said = session_of(&run);
    assert!(
        said.starts_with("its own") && said.contains("remote_rsync"),
        "{said}"
    );
    assert!(called.contains("rsync-wrap --usage"), "{called}");
    assert_eq!(sessions, 2, "{}", p.sshd.log());
}

/// `receive` driven by hand as a hostile or broken sender would: it runs
/// no command but the rsync server of the generation it prepared, never
/// checks while that rsync runs, and a stop (maestro-fence's SIGTERM)
/// ends that rsync before the lock is let go.
#[test]
fn the_receiving_side_runs_only_its_runs_rsync_server_and_ends_it_first() {
    use std::io::{BufRead, BufReader, Write};
    let p = pair();
    ok(&p.push());
    let start = || {
        let mut child = Command::new("timeout")
            .args(["-k", "5", "60", SYNC])
            .arg("--config")
            .arg(p.path("receiver.toml"))
            .arg("--state-dir")
            .arg(p.path("state-r"))
            .args([
                "--format",
                "json",
                "receive",
                "--from",
                "test",
                "--deadline",
                "50s",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        (child, stdin, out)
    };
    let until = |out: &mut BufReader<std::process::ChildStdout>, word: &str| -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "no {word}");
            if let Some(rest) = line.strip_prefix(&format!("maestro-sync: {word} ")) {
                return rest.trim().to_string();
            }
        }
    };
    let prepare = |stdin: &mut std::process::ChildStdin, out: &mut BufReader<_>| -> String {
        until(out, "ready");
        tick();
        let now = maestro_snapshot_verify::time::now_ns();
        let id = maestro_sync::generations::id_for(now);
        let req = serde_json::json!({
            "id": id, "point_in_time_ns": now, "consistent": true, "snapshot": "command",
            "source_host": "test", "source": "/src",
        });
        writeln!(stdin, "prepare {req}").unwrap();
        let prepared: serde_json::Value = serde_json::from_str(&until(out, "prepared")).unwrap();
        prepared["data"].as_str().unwrap().to_string()
    };
    let report = |child: std::process::Child, out: BufReader<std::process::ChildStdout>| {
        let rest: Vec<String> = out.lines().map_while(Result::ok).collect();
        let o = child.wait_with_output().unwrap();
        (o.status.code(), rest.join("\n"))
    };
    let gen = p.gen().display().to_string();
    let servers =
        || pids_whose_command(|c| c.starts_with("rsync --server") && c.contains(&gen)).len();
    let rsync_line = |command: &str| format!("rsync {}", serde_json::json!({ "command": command }));
    // 1. Not an rsync server, or not this run's folder: refused, not run.
    let mark = p.path("ran");
    for (n, bad) in [
        format!("sh -c 'touch {}' --server", mark.display()),
        "rsync --server -logDtpre.iLsfxCIvu . /tmp/elsewhere/".to_string(),
        "rsync --server . DATA; touch MARK".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        let (child, mut stdin, mut out) = start();
        let data = prepare(&mut stdin, &mut out);
        let line = rsync_line(
            &bad.replace("DATA", &data)
                .replace("MARK", &mark.display().to_string()),
        );
        writeln!(stdin, "{line}").unwrap();
        let (code, said) = report(child, out);
        assert_eq!(code, Some(2), "{n}: {said}");
        assert!(
            said.contains("the rsync command from the other side"),
            "{n}: {said}"
        );
        assert!(!mark.exists(), "{n}: the command ran");
    }
    // 2. `go` while the rsync server runs (it waits for its sender): the
    // check is refused, and the rsync is gone when receive has ended.
    let (child, mut stdin, mut out) = start();
    let data = prepare(&mut stdin, &mut out);
    writeln!(
        stdin,
        "{}",
        rsync_line(&format!("rsync --server -logDtpre.iLsfxCIvu . {data}"))
    )
    .unwrap();
    let started = Instant::now();
    while servers() == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(servers(), 1);
    writeln!(stdin, "go").unwrap();
    let (code, said) = report(child, out);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("while its rsync still runs"), "{said}");
    assert_eq!(servers(), 0, "an rsync server outlived receive");
    // 3. SIGTERM (maestro-fence taking over) while it runs: the rsync is
    // ended before the lock is let go.
    let (child, mut stdin, mut out) = start();
    let data = prepare(&mut stdin, &mut out);
    writeln!(
        stdin,
        "{}",
        rsync_line(&format!("rsync --server -logDtpre.iLsfxCIvu . {data}"))
    )
    .unwrap();
    let started = Instant::now();
    while servers() == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(servers(), 1);
    // `timeout` runs receive as its child: the signal goes to receive.
    let receive_pid = fs::read_to_string(format!("/proc/{}/task/{0}/children", child.id()))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<i32>()
        .unwrap();
    let lock = sync_lock::lock_file(&p.gen());
    // SAFETY: a signal to the receive this test started.
    unsafe { libc::kill(receive_pid, libc::SIGTERM) };
    let mut freed_with_rsync = false;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let free = SyncLock::acquire(&lock, LockMode::Exclusive, Duration::ZERO, false).is_ok();
        if free {
            freed_with_rsync = servers() > 0;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (_, said) = report(child, out);
    assert!(
        !freed_with_rsync,
        "the lock was let go while rsync ran: {said}"
    );
    assert_eq!(servers(), 0, "an rsync server outlived receive: {said}");
    // The next run goes on.
    tick();
    fs::write(p.source().join("lui/jobs/7.xml"), "after the stop").unwrap();
    ok(&p.push());
}

/// The receiving side stopped mid-transfer (SIGSTOP: alive, its
/// connection open, reading nothing): rsync's stream backs up into the
/// run's session, and the run still ends by its deadline, with `current`
/// untouched.
#[test]
fn a_stopped_receiving_side_still_ends_the_run_by_its_deadline() {
    let p = pair();
    ok(&p.push());
    let before = p.current().unwrap();
    let big = incompressible(40);
    fs::write(p.source().join("lui/attachment.bin"), &big).unwrap();
    let mut push = p.spawn_sender(&[
        "--set",
        "sync.io_timeout=\"4s\"",
        "push",
        "--deadline",
        "15s",
    ]);
    let state = p.path("state-r").display().to_string();
    let receive = || {
        // This pair's receive only: other tests run beside this one.
        pids_whose_command(|c| c.contains(" receive ") && c.contains(&state))
            .first()
            .copied()
    };
    let until = Instant::now() + Duration::from_secs(30);
    let stopped = loop {
        assert!(Instant::now() < until, "the transfer never started");
        if let (Some(pid), true) = (receive(), p.partly_sent("attachment.bin") > 1024 * 1024) {
            // SAFETY: a signal to the receive this test's run started.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            break pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let since = Instant::now();
    let ended = loop {
        if let Some(status) = push.try_wait().unwrap() {
            break Some(status);
        }
        if since.elapsed() > Duration::from_secs(90) {
            let _ = push.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: as above; the stopped receive is let go and ended.
    unsafe {
        libc::kill(stopped, libc::SIGKILL);
        libc::kill(stopped, libc::SIGCONT);
    }
    let waited = since.elapsed();
    assert!(ended.is_some(), "push still ran {waited:?} after the stop");
    let run = Run::from_output(push.wait_with_output().unwrap());
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        waited < Duration::from_secs(60),
        "{waited:?}: {}",
        run.dump()
    );
    assert_eq!(p.current().unwrap(), before);
    std::thread::sleep(Duration::from_millis(200));
    ok(&p.push());
}

/// rsync killed mid-transfer: `current` untouched, and the next run
/// resumes the partial generation instead of sending it again.
#[test]
fn a_transfer_cut_halfway_is_resumed_by_the_next_run() {
    let p = pair();
    ok(&p.push());
    let before = p.current().unwrap();
    let big = incompressible(8);
    fs::write(p.source().join("lui/attachment.bin"), &big).unwrap();
    let push = p.spawn_sender(&["--set", "sync.rsync_options=[\"--bwlimit=2000\"]", "push"]);
    // Kill the data rsync (this run's, found by its destination) once it
    // has sent part of the file.
    let deadline = Instant::now() + Duration::from_secs(30);
    let killed = loop {
        assert!(Instant::now() < deadline, "the data rsync never showed up");
        if let (Some(pid), true) = (
            p.data_rsync_pid(),
            p.partly_sent("attachment.bin") > 2 * 1024 * 1024,
        ) {
            // SAFETY: kill of a process this test started (its run's rsync).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = push.wait_with_output().unwrap();
    let run = Run::from_output(out);
    assert_eq!(run.code, Some(2), "rsync {killed} killed: {}", run.dump());
    assert_eq!(run.status_of("transfer"), "CRITICAL", "{}", run.dump());
    assert_eq!(p.current().unwrap(), before);
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
    let partials: Vec<_> = fs::read_dir(p.gen())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert_eq!(partials.len(), 1);
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("prepare")
            .contains("resumes the partial generation"),
        "{}",
        run.dump()
    );
    let sent = run.check("transfer").unwrap()["details"]["stats"]["bytes_sent"]
        .as_u64()
        .unwrap();
    assert!(
        sent < 7 * 1024 * 1024,
        "the resumed transfer sent {sent} bytes again"
    );
    assert_eq!(
        fs::read(p.gen().join("current/data/lui/attachment.bin")).unwrap(),
        big
    );
}

#[test]
fn a_dry_run_shows_the_lvm_and_zfs_commands_and_runs_nothing() {
    let p = Pair::new("");
    for (sync, want) in [
        (
            "snapshot = \"lvm\"\nlvm_volume = \"vg0/maestro\"\nlvm_snapshot_size = \"1G\"\nsnapshot_dir = \"/mnt/maestro-sync\"\nvolume_mountpoint = \"/\"\n",
            vec!["lvcreate --snapshot --name maestro-sync --size 1G vg0/maestro", "mount -o ro /dev/vg0/maestro-sync /mnt/maestro-sync", "lvremove -f vg0/maestro-sync"],
        ),
        (
            "snapshot = \"zfs\"\nzfs_dataset = \"tank/maestro\"\nvolume_mountpoint = \"/\"\n",
            vec!["zfs snapshot tank/maestro@maestro-sync", "zfs destroy tank/maestro@maestro-sync", "/.zfs/snapshot/maestro-sync/"],
        ),
    ] {
        p.write_configs(sync);
        let run = p.sender(&["push", "--dry-run"]);
        ok(&run);
        let text = run.stdout.clone();
        for w in want {
            assert!(text.contains(w), "{w}: {}", run.dump());
        }
        assert!(run.message_of("transfer").contains("--link-dest="), "{}", run.dump());
        assert!(p.current().is_none());
    }
}

#[test]
fn none_needs_the_flag_and_marks_the_generation() {
    let p = Pair::new("");
    let run = p.sender(&["push"]);
    assert_eq!(run.code, Some(3), "{}", run.dump());
    assert!(run.stderr.contains("sync.snapshot"), "{}", run.dump());
    p.write_configs("snapshot = \"none\"\n");
    let run = p.sender(&["config", "check"]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("sync").contains("--no-snapshot"),
        "{}",
        run.dump()
    );
    p.write_configs("");
    let run = p.sender(&["push", "--no-snapshot"]);
    assert_eq!(
        run.code,
        Some(1),
        "a generation, not a point in time: {}",
        run.dump()
    );
    assert!(
        run.message_of("generation").contains("NOT a point in time"),
        "{}",
        run.dump()
    );
    let status = p.receiver(&["status"]);
    assert_eq!(status.code, Some(1), "{}", status.dump());
}

/// `maestro-fence fence` takes the generations lock before it records its
/// epoch: a sync receiving at that moment is ended (SIGTERM) before it
/// moves `current`, and leaves its partial generation.
#[test]
fn the_fence_ends_a_running_sync_before_it_takes_over() {
    let p = pair();
    ok(&p.push());
    let before = p.current().unwrap();
    let mut receive = Command::new(SYNC)
        .arg("--config")
        .arg(p.path("receiver.toml"))
        .arg("--state-dir")
        .arg(p.path("state-r"))
        .args(["--format", "json", "receive", "--from", "test"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(receive.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("maestro-sync: ready "), "{line}");
    let started = Instant::now();
    let lock = sync_lock::take_over(&p.gen(), Duration::from_secs(10)).unwrap();
    assert!(lock.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let status = receive.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "the receive was stopped by SIGTERM"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("current unchanged"), "{rest}");
    drop(stdin_of(receive));
    assert_eq!(p.current().unwrap(), before);
}

fn stdin_of(mut c: std::process::Child) -> Option<std::process::ChildStdin> {
    c.stdin.take()
}

/// A receiving rsync of an earlier run whose sender vanished (a pulled
/// cable leaves it waiting for good) is ended before the next run reuses
/// the partial generation it writes into.
#[test]
fn a_stray_rsync_in_the_generations_is_ended_before_its_partial_is_reused() {
    let p = pair();
    ok(&p.push());
    let partial = p.gen().join("20200101T000000.000Z.partial/data");
    fs::create_dir_all(&partial).unwrap();
    // A program named rsync (a copy of sleep), working in the partial.
    let bin = p.path("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/sleep", bin.join("rsync")).unwrap();
    let mut stray = Command::new(bin.join("rsync"))
        .arg("60")
        .current_dir(&partial)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(p.rsyncs_in_generations(), vec![stray.id() as i32]);
    tick();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("strays")
            .contains(&format!("[{}]", stray.id())),
        "{}",
        run.dump()
    );
    let status = stray.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
}

/// On btrfs, a generation is a subvolume: a snapshot of the partial one it
/// was received in, which stays as `.staging` and is brought up to date in
/// place by the next run (no hard links to make, its inodes cached); the
/// hash cache follows the files across the subvolumes' devices; pruning
/// deletes subvolumes; a kill before the switch leaves current whole; a
/// staging subvolume changed since it was kept is not received into.
#[test]
fn generations_on_btrfs_are_snapshots_and_the_staging_subvolume_is_reused_only_unchanged() {
    let disk = support::maestro_sync::LoopMount::new("btrfs", 300);
    let p = btrfs_pair(&disk);
    ok(&p.push());
    let first = p.current().unwrap();
    let is_subvolume = |g: &str| ino(&p.gen().join(g)) == 256;
    assert!(is_subvolume(&first));
    tick();
    fs::write(p.source().join("lui/jobs/3.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    let second = p.current().unwrap();
    assert!(is_subvolume(&second));
    assert!(
        run.message_of("prepare")
            .contains("the btrfs subvolume the current generation was made from"),
        "{}",
        run.dump()
    );
    // The staging subvolume is another subvolume than the generation, with
    // the same files.
    let staging = p.gen().join(".staging");
    assert_eq!(ino(&staging), 256);
    assert_ne!(
        fs::metadata(&staging).unwrap().dev(),
        fs::metadata(p.gen().join(&second)).unwrap().dev()
    );
    assert_eq!(
        fs::read(staging.join("data/lui/jobs/3.xml")).unwrap(),
        b"changed"
    );
    assert!(
        run.check("transfer").unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("1 of"),
        "{}",
        run.dump()
    );
    // The unchanged files of the new generation are the current one's,
    // seen on another device: their hashes came from the cache.
    let verify = &run.check("verify").unwrap()["details"];
    assert_eq!(verify["files_read"], 1, "{}", run.dump());
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
    assert_eq!(
        check.check("walk").unwrap()["details"]["files_read"],
        0,
        "{}",
        check.dump()
    );
    // A power loss before the switch; then keep = 2 prunes a subvolume.
    tick();
    fs::write(p.source().join("lui/jobs/4.xml"), "changed").unwrap();
    let rx = format!(
        "env MAESTRO_SYNC_TEST_CRASH_AT=before-switch {}",
        p.receiver_command()
    );
    let run = p.sender(&["--set", &format!("sync.remote_command={rx}"), "push"]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert_eq!(p.current().unwrap(), second);
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
    tick();
    let run = p.push();
    ok(&run);
    // The staging subvolume was kept for the generation the kill left
    // behind, not for current: not received into.
    assert!(
        run.message_of("prepare")
            .contains("the staging subvolume was removed: it was kept for"),
        "{}",
        run.dump()
    );
    let gens = p.generations();
    assert_eq!(gens.len(), 2, "{gens:?}");
    assert!(!gens.contains(&first));
    assert!(gens.iter().all(|g| is_subvolume(g)));
    // Kept read-only: a write fails, and a read (a backup agent, `cat`)
    // moves nothing, not even an atime: the next run receives into it.
    let victim = staging.join("data/lui/jobs/1.xml");
    let bytes = fs::read(&victim).unwrap();
    let refused = fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EROFS), "{refused}");
    tick();
    fs::write(p.source().join("lui/jobs/5.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("prepare")
            .contains("the btrfs subvolume the current generation was made from"),
        "{}",
        run.dump()
    );
    // Someone makes it writable, writes into a file keeping its size and
    // time (which rsync's quick check would take for unchanged), and makes
    // it read-only again: the next run sees its stamp moved and starts
    // from a snapshot of current instead.
    let property = |ro: &str| {
        let o = Command::new("btrfs")
            .args(["property", "set", "-ts"])
            .arg(&staging)
            .args(["ro", ro])
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    };
    property("false");
    let before = fs::metadata(&victim).unwrap();
    let mut changed = bytes.clone();
    changed[0] ^= 0xff;
    {
        use std::os::unix::fs::FileExt;
        let file = fs::OpenOptions::new().write(true).open(&victim).unwrap();
        file.write_all_at(&changed, 0).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();
    }
    property("true");
    tick();
    fs::write(p.source().join("lui/jobs/6.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("prepare")
            .contains("the staging subvolume was removed: it changed since it was kept"),
        "{}",
        run.dump()
    );
    let check = p.check_current(&p.gen().join("current/data"));
    assert_eq!(check.code, Some(0), "{}", check.dump());
    // Left writable, it is not trusted either.
    property("false");
    tick();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("prepare")
            .contains("the staging subvolume was removed: it was made writable since"),
        "{}",
        run.dump()
    );
}

/// On btrfs the receiving side records its current generation's stamp
/// (the subvolume's last transaction) when it makes it current, and the
/// next run takes an equal stamp for the walk that compares current with
/// its manifest. A write into current is still found at once: the stamp
/// is read after the file system is flushed, so a write not yet committed
/// moves it too.
#[test]
fn an_unchanged_btrfs_current_is_not_walked_and_a_write_into_it_is_still_found() {
    let disk = support::maestro_sync::LoopMount::new("btrfs", 300);
    let p = btrfs_pair(&disk);
    ok(&p.push());
    tick();
    fs::write(p.source().join("lui/jobs/3.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("current")
            .contains("unchanged since it was made current"),
        "{}",
        run.dump()
    );
    let current = p.current().unwrap();
    // Maestro writes into current, in place (no truncation: btrfs shows
    // such a write in the subvolume's numbers only once it is committed,
    // which the receiving side's flush before it reads them does).
    {
        use std::os::unix::fs::FileExt;
        let f = fs::OpenOptions::new()
            .write(true)
            .open(p.gen().join("current/data/lui/jobs/3.xml"))
            .unwrap();
        f.write_all_at(b"CHANGED", 0).unwrap();
    }
    tick();
    fs::write(p.source().join("lui/jobs/4.xml"), "changed").unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.message_of("current")
            .contains("changed since it was received (1 differences)"),
        "{}",
        run.dump()
    );
    assert_eq!(p.current().unwrap(), current);
    // Replaced when told, comparing content: the file written in place
    // keeps its size, and its mtime may fall in the second of the
    // sender's (rsync's quick check would take it for unchanged).
    let run = p.sender(&["push", "--discard-changes"]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.message_of("prepare").contains("content is compared"),
        "{}",
        run.dump()
    );
    assert_eq!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/3.xml")).unwrap(),
        fs::read_to_string(p.source().join("lui/jobs/3.xml")).unwrap()
    );
    // Later runs trust the stamp again (the run right after may walk:
    // reading every file for their content updates their access times,
    // which btrfs may commit after the stamp was taken).
    tick();
    fs::write(p.source().join("lui/jobs/5.xml"), "changed").unwrap();
    ok(&p.push());
    tick();
    fs::write(p.source().join("lui/jobs/6.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("current")
            .contains("unchanged since it was made current"),
        "{}",
        run.dump()
    );
}

/// A btrfs snapshot without quiesce hooks pauses no writer: it is taken
/// and captured while the receiving side gets ready (which then compares
/// its current generation first). A refusal still refuses, and the
/// snapshot taken for it is released.
#[test]
fn a_snapshot_that_pauses_nothing_is_taken_while_the_receiving_side_gets_ready() {
    let disk = support::maestro_sync::LoopMount::new("btrfs", 300);
    let volume = disk.mount_point.join("maestro");
    let out = std::process::Command::new("btrfs")
        .args(["subvolume", "create"])
        .arg(&volume)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let snapshots = disk.mount_point.join("snapshots");
    fs::create_dir(&snapshots).unwrap();
    let p = Pair::with_folders(Some(volume.join("app")), None);
    p.write_configs(&format!(
        "snapshot = \"btrfs\"\nsnapshot_dir = \"{}\"\n",
        snapshots.display()
    ));
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("snapshot").starts_with("btrfs snapshot"),
        "{}",
        run.dump()
    );
    tick();
    fs::write(p.source().join("lui/jobs/3.xml"), "changed").unwrap();
    let run = p.push();
    ok(&run);
    assert!(
        run.message_of("current").contains("as received"),
        "{}",
        run.dump()
    );
    assert!(
        run.message_of("manifest").contains("a delta"),
        "{}",
        run.dump()
    );
    let current = p.current().unwrap();
    assert_eq!(
        fs::read_to_string(p.gen().join("current/data/lui/jobs/3.xml")).unwrap(),
        "changed"
    );
    // Held: refused as before, nothing replaced, the snapshot released.
    ok(&p.receiver(&["hold"]));
    tick();
    fs::write(p.source().join("lui/jobs/4.xml"), "changed").unwrap();
    let run = p.push();
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(run.message_of("hold").contains("refused"), "{}", run.dump());
    assert_eq!(p.current().unwrap(), current);
    assert!(!snapshots.join("maestro-sync").exists(), "{}", run.dump());
    assert_eq!(p.generations().len(), 2);
}
