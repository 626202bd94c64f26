//! maestro-fence against hostile local input: a FIFO where its lock file
//! should be, a catalog another process keeps write-locked, `/dev/zero` as
//! the agent's config file, and files it rewrites (authorized_keys on the
//! failover, the cron file and marker on the primary) that must keep their
//! mode and owner and never be left half-written.

mod support;

use std::fs;
use std::io::BufRead;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::maestro_fence::{run, run_env, ServiceKind, World, BIN, FAILOVER_ADDR};

/// A config whose only level is fence_dummy with a status file.
fn dummy_config(dir: &Path) -> PathBuf {
    let status = dir.join("dummy.status");
    fs::write(&status, "on").unwrap();
    let p = dir.join("config.toml");
    fs::write(
        &p,
        format!(
            "[primary]\nhost = \"198.18.0.2\"\n[fence]\nlevels = [\"agent\"]\nagent = \"fence_dummy\"\nagent_options = {{ type = \"file\", status_file = \"{}\" }}\n",
            status.display()
        ),
    )
    .unwrap();
    p
}

fn tool(dir: &Path, config: &Path, args: &[&str]) -> support::maestro_fence::Run {
    let mut all = vec![
        "--config".to_string(),
        config.display().to_string(),
        "--state-dir".into(),
        dir.join("state").display().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    run_env(BIN, &all, "", &[])
}

#[test]
fn a_fifo_at_the_lock_file_is_refused_at_once_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = dummy_config(dir.path());
    fs::create_dir_all(dir.path().join("state")).unwrap();
    let lock = dir.path().join("state/fence.lock");
    let status = Command::new("mkfifo").arg(&lock).status().unwrap();
    assert!(status.success());
    let r = tool(dir.path(), &config, &["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stdout.contains(&format!("{} is a FIFO", lock.display())),
        "{}",
        r.all()
    );
    assert!(r.took < Duration::from_secs(3), "took {:?}", r.took);
    assert_eq!(
        fs::read_to_string(dir.path().join("dummy.status")).unwrap(),
        "on"
    );
    let u = tool(dir.path(), &config, &["unfence"]);
    assert_eq!(u.code, Some(2), "{}", u.all());
    assert!(u.took < Duration::from_secs(3), "took {:?}", u.took);
}

#[test]
fn a_fence_that_cannot_record_its_epoch_within_its_deadline_is_not_fenced_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = dummy_config(dir.path());
    // The catalog exists (an earlier run made it); another process holds
    // a write transaction on it and does not let go.
    let e = tool(dir.path(), &config, &["epoch"]);
    assert_eq!(e.code, Some(0), "{}", e.all());
    let catalog = dir.path().join("state/catalog.sqlite");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(60)\n",
        ])
        .arg(&catalog)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let r = tool(dir.path(), &config, &["fence", "--deadline", "3s"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("NOT fenced"), "{}", r.all());
    assert!(r.stdout.contains("cannot record"), "{}", r.all());
    assert!(r.took < Duration::from_secs(5), "took {:?}", r.took);
    // Nothing was changed: the power fence was never asked.
    assert_eq!(
        fs::read_to_string(dir.path().join("dummy.status")).unwrap(),
        "on"
    );
}

#[test]
fn dev_zero_as_the_agents_config_file_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("fence_maestro");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    for action in ["validate-all", "monitor", "off"] {
        let r = run(
            link.to_str().unwrap(),
            &[],
            &format!(
                "config_file=/dev/zero\nstate_dir={}\naction={action}\n",
                dir.path().join("state").display()
            ),
        );
        assert_eq!(r.code, Some(1), "{action}: {}", r.all());
        assert!(r.stderr.contains("/dev/zero"), "{action}: {}", r.all());
        assert!(
            r.stderr.contains("not a regular file"),
            "{action}: {}",
            r.all()
        );
        assert!(
            r.took < Duration::from_secs(3),
            "{action}: took {:?}",
            r.took
        );
    }
}

#[test]
fn rewritten_files_keep_their_mode_and_owner_on_both_sides() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.listen_on_failover(8022);
    let keys = w.path("authorized_keys");
    fs::write(
        &keys,
        "ssh-ed25519 AAAAadmin admin@x\nssh-ed25519 AAAAsync maestro-sync@primary\n",
    )
    .unwrap();
    w.write_config("", "levels = [\"ssh\"]");
    let config = fs::read_to_string(w.path("config.toml")).unwrap().replace(
        "[sync]\n",
        &format!(
            "[sync]\nauthorized_keys = \"{}\"\nkey_match = \"maestro-sync@primary\"\n",
            keys.display()
        ),
    );
    fs::write(w.path("config.toml"), config).unwrap();
    // Owned by someone else than the fence's user, with a mode of their own.
    let cron = w.path("cron.d-maestro-sync");
    for (file, mode) in [(&keys, 0o640), (&cron, 0o604)] {
        fs::set_permissions(file, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(file, Some(65534), Some(65534)).unwrap();
    }
    // Fixed temporary names would be written through: a link planted
    // where the old code put its temporary file must not be followed.
    let victim = w.path("victim");
    fs::write(&victim, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&victim, w.path("fenced.tmp")).unwrap();
    std::os::unix::fs::symlink(&victim, keys.with_extension("maestro-fence.tmp")).unwrap();
    let owner_mode = |p: &Path| {
        let m = fs::metadata(p).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };
    let temporaries = |w: &World| {
        fs::read_dir(w.root.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".maestro-fence") || n.starts_with(".authorized_keys"))
            .collect::<Vec<_>>()
    };

    // The ssh level rewrites the cron file on the primary.
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::read_to_string(&cron)
        .unwrap()
        .contains("#maestro-fence# "));
    assert_eq!(owner_mode(&cron), (65534, 65534, 0o604));
    assert_eq!(owner_mode(&w.path("fenced")).2, 0o644);
    assert!(fs::symlink_metadata(w.path("fenced")).unwrap().is_file());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert!(temporaries(&w).is_empty(), "{:?}", temporaries(&w));
    let u = w.fence(&["unfence", "--resume-sync"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    assert!(!fs::read_to_string(&cron)
        .unwrap()
        .contains("#maestro-fence# "));
    assert_eq!(owner_mode(&cron), (65534, 65534, 0o604));

    // The isolate level rewrites authorized_keys here.
    let text = fs::read_to_string(w.path("config.toml")).unwrap().replace(
        "levels = [\"ssh\"]",
        "levels = [\"isolate\"]\nfirewall = \"nft\"",
    );
    fs::write(w.path("config.toml"), text).unwrap();
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!w.primary_can_connect(FAILOVER_ADDR, 8022));
    assert!(fs::read_to_string(&keys)
        .unwrap()
        .contains("#maestro-fence# ssh-ed25519 AAAAsync"));
    assert_eq!(owner_mode(&keys), (65534, 65534, 0o640));
    assert!(fs::symlink_metadata(&keys).unwrap().is_file());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert!(temporaries(&w).is_empty(), "{:?}", temporaries(&w));
}

/// A file the fence rewrites that is a symbolic link is refused on both
/// sides, before anything changes: here, as root, the fence would
/// otherwise rewrite whatever file the link names (anyone who controls the
/// sync user's `.ssh` could point it at any file).
#[test]
fn a_symbolic_link_at_authorized_keys_here_is_refused_before_any_change() {
    let w = World::new();
    // Here: authorized_keys links to a passwd-like file of root's.
    let victim = w.path("passwd-like");
    let victim_text =
        "root:x:0:0:root:/root:/bin/sh\nmaestro-sync:x:998:998::/home/maestro-sync:/bin/sh\n";
    fs::write(&victim, victim_text).unwrap();
    let keys = w.path("authorized_keys");
    std::os::unix::fs::symlink(&victim, &keys).unwrap();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    let config = fs::read_to_string(w.path("config.toml")).unwrap().replace(
        "[sync]\n",
        &format!(
            "[sync]\nauthorized_keys = \"{}\"\nkey_match = \"maestro-sync\"\n",
            keys.display()
        ),
    );
    fs::write(w.path("config.toml"), &config).unwrap();
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("symbolic link"), "{}", r.all());
    assert_eq!(fs::read_to_string(&victim).unwrap(), victim_text);
    assert!(fs::symlink_metadata(&keys).unwrap().is_symlink());
    assert!(
        !w.failover_ruleset().contains("maestro_fence"),
        "refused before any change"
    );
}

/// On the primary the rename would replace the link with a copy and leave
/// what it named active (the sync would go on).
#[test]
fn a_symbolic_link_at_the_cron_file_on_the_primary_is_refused_before_any_change() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    // The cron file is a link to the real one.
    let cron = w.path("cron.d-maestro-sync");
    let real = w.path("real-cron");
    fs::rename(&cron, &real).unwrap();
    std::os::unix::fs::symlink(&real, &cron).unwrap();
    let before = fs::read_to_string(&real).unwrap();
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("symbolic link"), "{}", r.all());
    assert!(fs::symlink_metadata(&cron).unwrap().is_symlink());
    assert_eq!(fs::read_to_string(&real).unwrap(), before);
    // Refused before anything changed on the primary.
    assert!(r.stdout.contains("nothing was changed"), "{}", r.all());
    assert!(w.service_running("lui") && w.service_running("hub"));
}
