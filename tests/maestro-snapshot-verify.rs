//! maestro-snapshot-verify on real trees: rsync cut off with SIGKILL and
//! completed, files appended to while captured, bad manifests, unreadable
//! files, symlink loops, non-UTF-8 names, the hash cache, and `--remote`
//! against a real sshd.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::maestro_snapshot_verify::{
    check_status, finding_ids, records, run_bounded, text, tool, Bounded, BIN,
};

/// A small Maestro-like tree: `files` files of `size` bytes.
fn make_tree(root: &Path, files: usize, size: usize) {
    for i in 0..files {
        let dir = root.join(format!("d{}", i % 7));
        fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..size).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        fs::write(dir.join(format!("f{i}.dat")), body).unwrap();
    }
    fs::write(root.join("lui.ini"), "Port=80\n").unwrap();
}

/// Make every file's mtime a minute old, so nothing counts as modified
/// during a capture that follows at once.
fn age(root: &Path) {
    let st = Command::new("find")
        .arg(root)
        .args(["-exec", "touch", "-h", "-d", "@1700000000", "{}", "+"])
        .status()
        .unwrap();
    assert!(st.success());
}

fn capture(state: &Path, root: &str, out: &Path) -> std::process::Output {
    tool(state)
        .args(["capture", "--root", root, "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn check_with(state: &Path, root: &str, manifest: &Path, extra: &[&str]) -> std::process::Output {
    tool(state)
        .args(["--format", "json", "check", "--root", root, "--manifest"])
        .arg(manifest)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn rsync_killed_partway_is_critical_and_the_completed_copy_is_ok() {
    let w = tempfile::tempdir().unwrap();
    let (src, dst, state) = (
        w.path().join("src"),
        w.path().join("dst"),
        w.path().join("state"),
    );
    make_tree(&src, 40, 200 * 1024);
    age(&src);
    let manifest = w.path().join("primary.jsonl");
    let out = capture(&state, &format!("tree={}", src.display()), &manifest);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // rsync at 2 MB/s copies the 8 MB tree in about 4 s; kill it after 1 s.
    fs::create_dir_all(&dst).unwrap();
    let mut rsync = Command::new("rsync")
        .args(["-a", "--bwlimit=2000"])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .spawn()
        .expect("rsync (Debian package rsync) is needed");
    std::thread::sleep(Duration::from_millis(1000));
    // Child::kill is SIGKILL on Unix: no chance to clean up.
    rsync.kill().unwrap();
    let _ = rsync.wait();
    let out = check_with(&state, &format!("tree={}", dst.display()), &manifest, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        check_status(&out, "compare").as_deref(),
        Some("CRITICAL"),
        "{}",
        text(&out)
    );
    let summary = records(&out).pop().unwrap();
    assert!(
        summary["message"]
            .as_str()
            .unwrap()
            .contains("not the primary as of"),
        "{summary}"
    );

    // Without a manifest the leftovers alone give it away (rsync's temp file).
    let out = tool(&state)
        .args(["--format", "json", "check", "--root"])
        .arg(format!("tree={}", dst.display()))
        .output()
        .unwrap();
    if finding_ids(&out).iter().any(|i| i == "leftover") {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    }

    let st = Command::new("rsync")
        .args(["-a", "--delete"])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .status()
        .unwrap();
    assert!(st.success());
    let out = check_with(&state, &format!("tree={}", dst.display()), &manifest, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = check_with(
        &state,
        &format!("tree={}", dst.display()),
        &manifest,
        &["--quick"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // One changed byte with size and mtime kept: only the full check sees it.
    let victim = dst.join("d0/f0.dat");
    let mut body = fs::read(&victim).unwrap();
    body[10] ^= 1;
    fs::write(&victim, body).unwrap();
    let st = Command::new("touch")
        .args(["-d", "@1700000000"])
        .arg(&victim)
        .status()
        .unwrap();
    assert!(st.success());
    let out = check_with(
        &state,
        &format!("tree={}", dst.display()),
        &manifest,
        &["--quick"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = check_with(&state, &format!("tree={}", dst.display()), &manifest, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("content (SHA-256)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_file_appended_to_while_captured_is_torn() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 5, 1024);
    age(&root);
    let growing = root.join("growing.log.dat");
    fs::write(&growing, vec![b'x'; 4 << 20]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let growing = growing.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(&growing).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                f.write_all(&[b'y'; 512]).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let manifest = w.path().join("m.jsonl");
    let out = tool(&state)
        .args(["--format", "json", "capture", "--root"])
        .arg(format!("r={}", root.display()))
        .arg("--out")
        .arg(&manifest)
        .output()
        .unwrap();
    let snap = tool(&state)
        .args(["capture", "--from-snapshot", "--rehash", "--root"])
        .arg(format!("r={}", root.display()))
        .arg("--out")
        .arg(w.path().join("m2.jsonl"))
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    appender.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        check_status(&out, "torn").as_deref(),
        Some("WARNING"),
        "{}",
        text(&out)
    );
    let m = fs::read_to_string(&manifest).unwrap();
    let line = m.lines().find(|l| l.contains("growing.log.dat")).unwrap();
    assert!(line.contains("\"torn\""), "{line}");
    assert!(m.contains("\"point_in_time\":false"));
    assert_eq!(snap.status.code(), Some(2), "{}", text(&snap));

    // A check against a manifest that is not a point in time is CRITICAL.
    let out = check_with(
        &state,
        &format!("r={}", root.display()),
        &manifest,
        &["--quick"],
    );
    assert_eq!(
        check_status(&out, "reference").as_deref(),
        Some("CRITICAL"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_manifests_are_unknown_with_a_clear_message() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 4, 100);
    age(&root);
    let manifest = w.path().join("m.jsonl");
    assert_eq!(
        capture(&state, &format!("r={}", root.display()), &manifest)
            .status
            .code(),
        Some(0)
    );
    let good = fs::read_to_string(&manifest).unwrap();
    let lines: Vec<&str> = good.lines().collect();

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated",
            lines[..lines.len() - 1].join("\n") + "\n",
            "truncated",
        ),
        (
            "cut mid-line",
            good[..good.len() - 20].to_string(),
            "truncated",
        ),
        (
            "edited",
            good.replacen("\"size\":100", "\"size\":101", 1),
            "does not match its content",
        ),
        (
            "newer",
            good.replacen("\"version\":1", "\"version\":9", 1),
            "newer than this tool",
        ),
        ("not json", "hello\n".to_string(), "not a JSON object"),
        ("empty", String::new(), "empty"),
    ];
    for (what, body, expect) in cases {
        let bad = w.path().join("bad.jsonl");
        fs::write(&bad, &body).unwrap();
        let out = tool(&state)
            .args(["check", "--root"])
            .arg(format!("r={}", root.display()))
            .arg("--manifest")
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expect),
            "{what}: {}",
            text(&out)
        );
        let out = tool(&state)
            .arg("diff")
            .arg(&manifest)
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "diff {what}: {}", text(&out));
    }
    let out = tool(&state)
        .args(["check", "--manifest-label", "nope", "--root"])
        .arg(format!("r={}", root.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = tool(&state)
        .arg("diff")
        .arg(&manifest)
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn unreadable_entries_symlink_loops_and_non_utf8_names_are_reported() {
    let w = tempfile::tempdir().unwrap();
    fs::set_permissions(w.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 3, 100);
    let odd = root.join(OsStr::from_bytes(b"caf\xe9.dat"));
    fs::write(&odd, b"latin-1 name").unwrap();
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    symlink("/etc/passwd", root.join("outside")).unwrap();
    let secret = root.join("secret.dat");
    fs::write(&secret, b"s").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let closed = root.join("closed");
    fs::create_dir(&closed).unwrap();
    fs::write(closed.join("inside.dat"), b"i").unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o000)).unwrap();
    age(&root);
    fs::create_dir_all(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o777)).unwrap();

    // As root everything is readable; run as nobody to meet EACCES.
    let manifest = w.path().join("m.jsonl");
    // An empty config (a device such as /dev/null is refused as one).
    let empty_config = w.path().join("empty.toml");
    fs::write(&empty_config, "").unwrap();
    let nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(["--state-dir"])
            .arg(&state)
            .arg("--config")
            .arg(&empty_config)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    fs::set_permissions(w.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let root_arg = format!("r={}", root.display());
    let out = nobody(&[
        "capture",
        "--root",
        &root_arg,
        "--out",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let m = fs::read_to_string(&manifest).unwrap();
    assert!(m.contains("Permission denied"), "{m}");
    assert!(m.contains("\"errors\":2"), "{m}");
    // The non-UTF-8 name is kept reversibly, and the symlinks are recorded, never followed.
    assert!(m.contains("\"path_b64\""), "{m}");
    assert!(m.contains("\"target\":\"/etc/passwd\""), "{m}");
    assert!(
        !m.contains("root:x:0"),
        "a symlink was followed out of the root"
    );

    let out = nobody(&[
        "--format",
        "json",
        "check",
        "--root",
        &root_arg,
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        check_status(&out, "unreadable").as_deref(),
        Some("UNKNOWN"),
        "{}",
        text(&out)
    );
    assert_eq!(
        check_status(&out, "symlinks").as_deref(),
        Some("WARNING"),
        "{}",
        text(&out)
    );

    // As root, the non-UTF-8 file changed is named with its bytes escaped.
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    let m2 = w.path().join("m2.jsonl");
    assert_eq!(capture(&state, &root_arg, &m2).status.code(), Some(0));
    fs::write(&odd, b"changed!!!!!").unwrap();
    let out = check_with(&state, &root_arg, &m2, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("caf\\\\xE9.dat"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_hash_cache_skips_unchanged_files_and_rehash_reads_all() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 30, 1000);
    age(&root);
    let run = |extra: &[&str]| {
        let out = tool(&state)
            .args([
                "--format", "json", "capture", "--label", "nightly", "--root",
            ])
            .arg(format!("r={}", root.display()))
            .arg("--out")
            .arg(w.path().join("m.jsonl"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let rec = records(&out);
        let c = rec.iter().find(|r| r["name"] == "capture").unwrap().clone();
        (
            c["details"]["files_read"].as_u64().unwrap(),
            c["details"]["cache_hits"].as_u64().unwrap(),
        )
    };
    assert_eq!(run(&[]), (31, 0));
    assert_eq!(run(&[]), (0, 31));
    // A rewrite that keeps size and mtime still changes ctime: read again.
    let f = root.join("d0/f0.dat");
    let mut body = fs::read(&f).unwrap();
    body[0] ^= 1;
    fs::write(&f, body).unwrap();
    Command::new("touch")
        .args(["-d", "@1700000000"])
        .arg(&f)
        .status()
        .unwrap();
    assert_eq!(run(&[]), (1, 30));
    assert_eq!(run(&["--rehash"]), (31, 0));
    // The stored manifest is found by its label.
    let out = tool(&state)
        .args(["check", "--manifest-label", "nightly", "--root"])
        .arg(format!("r={}", root.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn remote_check_runs_capture_on_the_primary_over_ssh() {
    let sshd = support::sshd::Sshd::start();
    let w = tempfile::tempdir().unwrap();
    let (src, dst, state) = (
        w.path().join("src"),
        w.path().join("dst"),
        w.path().join("state"),
    );
    make_tree(&src, 5, 500);
    age(&src);
    support::maestro_snapshot_verify::copy_tree(&src, &dst);
    fs::create_dir_all(&state).unwrap();
    let remote_state: PathBuf = w.path().join("remote-state");
    let remote_config = w.path().join("remote.toml");
    fs::write(&remote_config, "").unwrap();
    let opts = sshd.options();
    let config = format!(
        "[primary]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n[verify]\nremote_command = \"env MAESTRO_HA_STATE_DIR={} {BIN} --config {}\"\nremote_roots = [\"tree={}\"]\n",
        opts.port,
        opts.user,
        opts.identity_file.unwrap().display(),
        opts.known_hosts.display(),
        remote_state.display(),
        remote_config.display(),
        src.display()
    );
    fs::write(state.join("config.toml"), config).unwrap();
    let out = tool(&state)
        .args(["--format", "json", "check", "--remote", "--root"])
        .arg(format!("tree={}", dst.display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nsshd log:\n{}",
        text(&out),
        sshd.log()
    );
    assert_eq!(
        check_status(&out, "compare").as_deref(),
        Some("OK"),
        "{}",
        text(&out)
    );

    fs::write(dst.join("lui.ini"), "Port=81\n").unwrap();
    let out = tool(&state)
        .args(["--format", "json", "check", "--remote", "--root"])
        .arg(format!("tree={}", dst.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The primary's last manifest, read over SFTP.
    let manifest = w.path().join("primary.jsonl");
    assert_eq!(
        capture(&state, &format!("tree={}", src.display()), &manifest)
            .status
            .code(),
        Some(0)
    );
    let out = tool(&state)
        .args(["--format", "json", "check", "--remote", "--remote-manifest"])
        .arg(&manifest)
        .arg("--root")
        .arg(format!("tree={}", dst.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        finding_ids(&out).iter().any(|i| i == "changed"),
        "{}",
        text(&out)
    );
}

#[test]
fn skew_between_components_is_critical() {
    let w = tempfile::tempdir().unwrap();
    let (lui, db, state) = (
        w.path().join("lui"),
        w.path().join("db"),
        w.path().join("state"),
    );
    make_tree(&lui, 2, 10);
    make_tree(&db, 2, 10);
    age(&lui);
    age(&db);
    Command::new("touch")
        .args(["-d", "@1700000900"])
        .arg(db.join("d0/f0.dat"))
        .status()
        .unwrap();
    let run = |skew: &str| {
        tool(&state)
            .args(["--format", "json", "check", "--max-skew", skew, "--root"])
            .arg(format!("lui={}", lui.display()))
            .arg("--root")
            .arg(format!("db={}", db.display()))
            .output()
            .unwrap()
    };
    let out = run("5m");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("15m apart"),
        "{}",
        text(&out)
    );
    let out = run("20m");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn capture_never_writes_into_a_root() {
    let w = tempfile::tempdir().unwrap();
    let root = w.path().join("root");
    make_tree(&root, 1, 10);
    let out = tool(&w.path().join("state"))
        .args(["capture", "--root"])
        .arg(format!("r={}", root.display()))
        .arg("--out")
        .arg(root.join("m.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!root.join("m.jsonl").exists());
}

/// Address space a hostile-input run may use: plenty for the tool, and a
/// fast failure rather than a machine out of memory when it reads without
/// bound (the code before the limits grew one line from /dev/zero).
const HOSTILE_ADDRESS_SPACE: u64 = 4 << 30;

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success(), "mkfifo {}", path.display());
}

fn refused(run: &Bounded, what: &str, path: &Path, expect: &str) {
    assert!(!run.timed_out, "{what}: hung\n{}", run.text());
    assert_eq!(run.code, Some(3), "{what}: {}", run.text());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(&path.display().to_string()),
        "{what}: the path is not named\n{}",
        run.text()
    );
    assert!(
        all.contains(expect),
        "{what}: no {expect:?}\n{}",
        run.text()
    );
    assert!(
        run.max_rss_kib < 64 * 1024,
        "{what}: {} KiB of memory\n{}",
        run.max_rss_kib,
        run.text()
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "{what}: {}",
        run.text()
    );
}

#[test]
fn hostile_manifest_files_are_refused_at_once_without_memory_or_waiting() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 3, 10);
    age(&root);
    let manifest = w.path().join("m.jsonl");
    let root_arg = format!("r={}", root.display());
    assert_eq!(capture(&state, &root_arg, &manifest).status.code(), Some(0));
    let fifo = w.path().join("manifest.fifo");
    mkfifo(&fifo);
    // 300 MB without a newline, sparse: one line that must not be held.
    let long = w.path().join("one-line.jsonl");
    fs::File::create(&long).unwrap().set_len(300 << 20).unwrap();
    let cases: [(&str, &Path, &str); 3] = [
        ("/dev/zero", Path::new("/dev/zero"), "character device"),
        ("a FIFO", &fifo, "a FIFO"),
        ("a 300 MB line", &long, ":1: a line longer than"),
    ];
    for (what, path, expect) in cases {
        let mut cmd = tool(&state);
        cmd.args(["check", "--root", &root_arg, "--manifest"])
            .arg(path);
        refused(
            &run_bounded(cmd, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE),
            what,
            path,
            expect,
        );
        let mut cmd = tool(&state);
        cmd.arg("diff").arg(&manifest).arg(path);
        let run = run_bounded(cmd, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE);
        refused(&run, &format!("diff {what}"), path, expect);
    }
    // The same limit holds on stdin.
    let mut cmd = tool(&state);
    cmd.args(["check", "--root", &root_arg, "--manifest", "-"]);
    let run = run_bounded_stdin(&cmd, &long);
    assert_eq!(run.code, Some(3), "{}", run.text());
    assert!(
        run.stdout.contains("stdin:1: a line longer than"),
        "{}",
        run.text()
    );
    assert!(run.max_rss_kib < 64 * 1024, "{}", run.text());
}

/// `run_bounded` with `input` as stdin.
fn run_bounded_stdin(cmd: &Command, input: &Path) -> Bounded {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("exec \"$@\" < \"$0\"")
        .arg(input)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    run_bounded(sh, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE)
}

#[test]
fn capture_out_keeps_the_previous_manifest_until_the_new_one_is_complete() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 3, 10);
    age(&root);
    let out = w.path().join("primary.jsonl");
    let root_arg = format!("r={}", root.display());
    assert_eq!(capture(&state, &root_arg, &out).status.code(), Some(0));
    let before = fs::read(&out).unwrap();

    // A capture of 4 GiB (sparse files: no disk used) killed while it reads.
    let big = w.path().join("big");
    fs::create_dir_all(&big).unwrap();
    for i in 0..4 {
        fs::File::create(big.join(format!("f{i}")))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
    }
    let mut child = tool(&state)
        .args(["capture", "--rehash", "--threads", "1", "--root"])
        .arg(format!("r={}", big.display()))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the capture ended before it could be killed: make the tree larger"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        fs::read(&out).unwrap() == before,
        "the previous manifest was cut by the killed capture"
    );
    let out_check = tool(&state)
        .arg("diff")
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(out_check.status.code(), Some(0), "{}", text(&out_check));

    // A capture that completes replaces it, and leaves no temporary file.
    assert_eq!(capture(&state, &root_arg, &out).status.code(), Some(0));
    assert_ne!(fs::read(&out).unwrap(), before);
    let out_check = tool(&state)
        .arg("diff")
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(out_check.status.code(), Some(0), "{}", text(&out_check));
    let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "a manifest is readable by the admin's scripts");
}

/// A tmpfs of `size` bytes mounted on `dir`, unmounted on drop.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(dir: &Path, size: &str) -> SmallFs {
        fs::create_dir_all(dir).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mount tmpfs on {} (the tests run as root)",
            dir.display()
        );
        SmallFs(dir.to_path_buf())
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_or_unusable_state_folder_costs_the_catalog_not_the_manifest() {
    let w = tempfile::tempdir().unwrap();
    let root = w.path().join("root");
    make_tree(&root, 4000, 10);
    age(&root);
    let root_arg = format!("r={}", root.display());
    let state = w.path().join("state");
    let small = SmallFs::mount(&state, "4m");
    // The catalog exists (a first capture made it); then the folder fills
    // up but for 256 KiB, less than this manifest's copy (about 1 MB).
    let tiny = w.path().join("tiny");
    make_tree(&tiny, 1, 10);
    let first = tool(&state)
        .args(["capture", "--out", "-", "--root"])
        .arg(format!("t={}", tiny.display()))
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let filler = state.join("filler");
    fs::write(&filler, vec![1u8; (small.free() - 256 * 1024) as usize]).unwrap();

    let out = w.path().join("primary.jsonl");
    let run = capture(&state, &root_arg, &out);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("WARNING  catalog"), "{}", text(&run));
    let diff = tool(&w.path().join("other-state"))
        .arg("diff")
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        diff.status.code(),
        Some(0),
        "the manifest is whole: {}",
        text(&diff)
    );
    drop(small);

    // A state folder that is a file: no catalog at all, the manifest still.
    let not_dir = w.path().join("state-file");
    fs::write(&not_dir, "x").unwrap();
    let out2 = w.path().join("second.jsonl");
    let empty = w.path().join("empty.toml");
    fs::write(&empty, "").unwrap();
    let run = Command::new(BIN)
        .env_remove("MAESTRO_HA_CONFIG")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&empty)
        .arg("--state-dir")
        .arg(&not_dir)
        .args(["capture", "--root", &root_arg, "--out"])
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("manifest not stored"),
        "{}",
        text(&run)
    );
    let diff = tool(&w.path().join("other-state"))
        .arg("diff")
        .arg(&out2)
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
}

#[test]
fn a_root_must_be_a_folder_and_a_linked_root_is_resolved_once() {
    let w = tempfile::tempdir().unwrap();
    let state = w.path().join("state");
    let file = w.path().join("lui.ini");
    fs::write(&file, "Port=80\n").unwrap();
    let fifo = w.path().join("lui.fifo");
    mkfifo(&fifo);
    for (what, path, kind) in [
        ("a file", &file, "a regular file"),
        ("a FIFO", &fifo, "a FIFO"),
    ] {
        for sub in ["capture", "check"] {
            let mut cmd = tool(&state);
            cmd.args([sub, "--root"])
                .arg(format!("lui={}", path.display()));
            let run = run_bounded(cmd, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE);
            assert_eq!(run.code, Some(3), "{sub} of {what}: {}", run.text());
            assert!(
                run.stderr.contains(&path.display().to_string())
                    && run.stderr.contains(kind)
                    && run.stderr.contains("not a folder"),
                "{sub} of {what}: {}",
                run.text()
            );
        }
    }
    // A link to a folder is walked as that folder, and both are named.
    let real = w.path().join("real-lui");
    make_tree(&real, 2, 10);
    age(&real);
    let link = w.path().join("lui");
    symlink(&real, &link).unwrap();
    let manifest = w.path().join("m.jsonl");
    let out = tool(&state)
        .args(["capture", "--root"])
        .arg(format!("lui={}", link.display()))
        .arg("--out")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("lui={} -> {}", link.display(), real.display())),
        "{}",
        text(&out)
    );
    let header = fs::read_to_string(&manifest).unwrap();
    assert!(header
        .lines()
        .next()
        .unwrap()
        .contains(&format!("\"path\":\"{}\"", real.display())));
    let out = tool(&state)
        .args(["check", "--root"])
        .arg(format!("lui={}", link.display()))
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn fifos_devices_and_sockets_inside_a_root_are_listed_never_opened() {
    let w = tempfile::tempdir().unwrap();
    let (root, state) = (w.path().join("root"), w.path().join("state"));
    make_tree(&root, 2, 10);
    mkfifo(&root.join("queue.fifo"));
    // A copy of /dev/zero's node (1,5) and /dev/urandom's (1,9): reading
    // either would never end.
    for (name, minor) in [("zero", "5"), ("urandom", "9")] {
        let st = Command::new("mknod")
            .arg(root.join(name))
            .args(["c", "1", minor])
            .status()
            .unwrap();
        assert!(st.success(), "mknod (the tests run as root)");
    }
    let _socket = std::os::unix::net::UnixListener::bind(root.join("lui.sock")).unwrap();
    age(&root);
    let manifest = w.path().join("m.jsonl");
    let mut cmd = tool(&state);
    cmd.args(["--format", "json", "capture", "--rehash", "--root"])
        .arg(format!("r={}", root.display()))
        .arg("--out")
        .arg(&manifest);
    let run = run_bounded(cmd, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(run.max_rss_kib < 128 * 1024, "{}", run.text());
    let body = fs::read_to_string(&manifest).unwrap();
    for name in ["queue.fifo", "zero", "urandom", "lui.sock"] {
        let line = body
            .lines()
            .find(|l| l.contains(&format!("\"path\":\"{name}\"")))
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert!(
            line.contains("\"kind\":\"other\"") && !line.contains("sha256"),
            "{line}"
        );
    }
    let mut cmd = tool(&state);
    cmd.args(["check", "--rehash", "--root"])
        .arg(format!("r={}", root.display()))
        .arg("--manifest")
        .arg(&manifest);
    let run = run_bounded(cmd, Duration::from_secs(20), HOSTILE_ADDRESS_SPACE);
    assert_eq!(run.code, Some(0), "{}", run.text());
}

/// Every path below `dir`, for "nothing was written here".
fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
                all.push((p, Vec::new()));
            } else if m.is_file() {
                let body = fs::read(&p).unwrap();
                all.push((p, body));
            } else {
                all.push((p, Vec::new()));
            }
        }
    }
    all.sort();
    all
}

/// The tool with an empty config and this state folder, nothing else.
fn bare_tool(config: &Path, state: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state);
    cmd
}

#[test]
fn out_never_lands_in_a_root_whatever_dots_or_links_say() {
    let w = tempfile::tempdir().unwrap();
    let g = w.path();
    let root = g.join("root");
    make_tree(&root, 2, 10);
    fs::write(root.join("m.json"), "keep\n").unwrap();
    age(&root);
    fs::create_dir_all(g.join("other")).unwrap();
    symlink(&root, g.join("link")).unwrap();
    symlink(root.join("m.json"), g.join("outlink")).unwrap();
    let config = g.join("config.toml");
    fs::write(&config, "").unwrap();
    let before = listing(&root);
    let state = g.join("state");
    let root_arg = format!("r={}", root.display());
    let link_arg = format!("r={}", g.join("link").display());
    let cases: Vec<(&str, Vec<String>, PathBuf)> = vec![
        (
            "--out through ..",
            vec![root_arg.clone()],
            g.join("other/../root/m1.json"),
        ),
        (
            "--out through a linked folder",
            vec![root_arg.clone()],
            g.join("link/m2.json"),
        ),
        (
            "a linked root and --out through the link",
            vec![link_arg.clone()],
            g.join("link/m5.json"),
        ),
        (
            "--out a link to a file in the root",
            vec![root_arg.clone()],
            g.join("outlink"),
        ),
        (
            "the second root holds --out",
            vec![format!("o={}", g.join("other").display()), root_arg.clone()],
            g.join("link/m6.json"),
        ),
    ];
    for (what, roots, out) in cases {
        let mut cmd = bare_tool(&config, &state);
        cmd.arg("capture");
        for r in &roots {
            cmd.args(["--root", r]);
        }
        let run = cmd.arg("--out").arg(&out).output().unwrap();
        assert_eq!(run.status.code(), Some(3), "{what}: {}", text(&run));
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("never writes into the roots"),
            "{what}: {}",
            text(&run)
        );
        assert_eq!(listing(&root), before, "{what}: the root was written to");
    }
    // stdout sent into the root by the shell: the file is already there
    // (the shell made it), but not a byte of the manifest goes into it.
    for out in [None, Some("/dev/stdout")] {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg("exec \"$@\" > \"$0\"")
            .arg(root.join("m8.json"))
            .arg(BIN)
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(["capture", "--root", &root_arg])
            .env_remove("MAESTRO_HA_CONFIG");
        if let Some(out) = out {
            sh.args(["--out", out]);
        }
        let run = sh.output().unwrap();
        assert_eq!(run.status.code(), Some(3), "{out:?}: {}", text(&run));
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("never writes into the roots"),
            "{out:?}: {}",
            text(&run)
        );
        assert_eq!(fs::read(root.join("m8.json")).unwrap(), b"");
        fs::remove_file(root.join("m8.json")).unwrap();
    }
}

/// The state folder (the catalog) through a link into the root, for
/// capture and for check (which keeps its hash cache there).
#[test]
fn the_state_folder_never_lands_in_a_root_through_a_link() {
    let w = tempfile::tempdir().unwrap();
    let g = w.path();
    let root = g.join("root");
    make_tree(&root, 2, 10);
    age(&root);
    symlink(&root, g.join("link")).unwrap();
    let config = g.join("config.toml");
    fs::write(&config, "").unwrap();
    let root_arg = format!("r={}", root.display());
    let manifest = g.join("m.jsonl");
    let state = g.join("state");
    let before = listing(&root);
    assert_eq!(capture(&state, &root_arg, &manifest).status.code(), Some(0));
    for sub in ["capture", "check"] {
        let mut cmd = bare_tool(&config, &g.join("link/state"));
        cmd.args([sub, "--root", &root_arg]);
        if sub == "capture" {
            cmd.arg("--out").arg(g.join("m7.json"));
        } else {
            cmd.arg("--manifest").arg(&manifest);
        }
        let run = cmd.output().unwrap();
        assert_eq!(run.status.code(), Some(3), "{sub}: {}", text(&run));
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("state folder"),
            "{sub}: {}",
            text(&run)
        );
        assert_eq!(listing(&root), before, "{sub}: the root was written to");
    }
}

#[test]
fn out_dev_stdout_and_dev_fd_write_to_the_descriptor() {
    let w = tempfile::tempdir().unwrap();
    let g = w.path();
    let root = g.join("root");
    make_tree(&root, 2, 10);
    age(&root);
    let config = g.join("config.toml");
    fs::write(&config, "").unwrap();
    let state = g.join("state");
    for name in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
        // stdout appended to a log the admin keeps: it must keep its lines.
        let log = g.join("tool.log");
        fs::write(&log, "previous log line\n").unwrap();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg("exec \"$@\" >> \"$0\"")
            .arg(&log)
            .arg(BIN)
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(["capture", "--root"])
            .arg(format!("r={}", root.display()))
            .args(["--out", name])
            .env_remove("MAESTRO_HA_CONFIG");
        let run = sh.output().unwrap();
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run));
        let body = fs::read_to_string(&log).unwrap();
        assert!(body.starts_with("previous log line\n"), "{name}: {body}");
        assert!(
            body.lines()
                .nth(1)
                .unwrap_or("")
                .contains("\"type\":\"header\""),
            "{name}: {body}"
        );
    }
}

/// A block device or a socket is never written to as a stream.
#[test]
fn out_refuses_a_block_device_or_a_socket_by_name() {
    let w = tempfile::tempdir().unwrap();
    let g = w.path();
    let root = g.join("root");
    make_tree(&root, 2, 10);
    age(&root);
    let config = g.join("config.toml");
    fs::write(&config, "").unwrap();
    let state = g.join("state");
    let blk = g.join("disk");
    let st = Command::new("mknod")
        .arg(&blk)
        .args(["b", "7", "250"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod (the tests run as root)");
    let sock = g.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (path, kind) in [(&blk, "a block device"), (&sock, "a socket")] {
        let run = bare_tool(&config, &state)
            .args(["capture", "--root"])
            .arg(format!("r={}", root.display()))
            .arg("--out")
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(3), "{kind}: {}", text(&run));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains(kind) && stderr.contains(&path.display().to_string()),
            "{kind}: {}",
            text(&run)
        );
    }
}

#[test]
fn config_check_names_a_linked_root_with_its_target() {
    let w = tempfile::tempdir().unwrap();
    let real = w.path().join("real-lui");
    make_tree(&real, 1, 10);
    let link = w.path().join("lui");
    symlink(&real, &link).unwrap();
    let config = w.path().join("config.toml");
    fs::write(
        &config,
        format!("[verify]\nroots = [\"lui={}\"]\n", link.display()),
    )
    .unwrap();
    let run = bare_tool(&config, &w.path().join("state"))
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(&format!(
            "lui={} -> {}",
            link.display(),
            real.display()
        )),
        "{}",
        text(&run)
    );
}
