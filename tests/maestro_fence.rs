//! maestro-fence with real parts: two network namespaces as the primary and
//! the failover server, a real sshd in the primary's, fake Maestro services
//! under the `commands` backend, a fake running sync, nftables/iptables in
//! the failover's namespace, Debian's fence_dummy as a fence agent.
//! Needs root (namespaces) like the rest of the suite in CI.

mod support;

use std::fs;
use std::time::Duration;
use support::maestro_fence::{run_env, ServiceKind, World, BIN, FAILOVER_ADDR, PRIMARY_ADDR};
use support::sshd::Sshd;

fn epoch_of(world: &World) -> u64 {
    let r = world.fence(&["--format", "json", "epoch"]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("\"type\":\"check\""))
        .unwrap_or_else(|| panic!("{}", r.all()));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["details"]["epoch"].as_u64().unwrap()
}

#[test]
fn fence_over_ssh_stops_disables_marks_and_guard_refuses_then_unfence() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.start_sync();
    let config = w.write_config("", "levels = [\"ssh\"]");

    // A dry run prints each command and where it would run, and changes nothing.
    let dry = w.fence(&["fence", "--dry-run"]);
    assert_eq!(dry.code, Some(0), "{}", dry.all());
    assert!(
        dry.stdout.contains(&format!(
            "{}@{PRIMARY_ADDR}:{}",
            w.sshd.user(),
            w.sshd.port()
        )),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("timeout -k 2 5 sh -c 'kill $(cat"),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout
            .contains(&format!("pkill -TERM -x {}", w.sync_process)),
        "{}",
        dry.all()
    );
    assert!(dry.stdout.contains("epoch=1"), "{}", dry.all());
    assert!(w.service_running("lui") && w.sync_running());
    assert!(!w.path("fenced").exists());
    assert!(
        !w.path("state/catalog.sqlite").exists(),
        "a dry run creates no catalog"
    );
    assert_eq!(epoch_of(&w), 0, "a dry run takes no epoch");

    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.stdout.contains("fenced by the ssh level (epoch 1)"),
        "{}",
        r.all()
    );
    assert!(
        !w.service_running("lui") && !w.service_running("hub"),
        "services still running"
    );
    assert!(w.path("lui.disabled").exists() && w.path("hub.disabled").exists());
    assert!(!w.sync_running(), "the sync still runs");
    let cron = fs::read_to_string(w.path("cron.d-maestro-sync")).unwrap();
    assert!(cron.contains("#maestro-fence# */5 * * * *"), "{cron}");
    let marker = fs::read_to_string(w.path("fenced")).unwrap();
    assert!(marker.contains("epoch=1\n"), "{marker}");

    // The guard on the primary refuses (marker), even when allowed to start without the peer.
    let g = w.on_primary(&config, &["guard", "--unreachable", "allow"]);
    assert_eq!(g.code, Some(2), "{}", g.all());
    assert!(g.stdout.contains("fenced at epoch 1"), "{}", g.all());

    // status and check verify live; epoch and history read the journal.
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(0), "{}", s.all());
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());
    assert!(c.stdout.contains("re-verified"), "{}", c.all());
    assert_eq!(epoch_of(&w), 1);
    let h = w.fence(&["-v", "history"]);
    assert!(
        h.stdout.contains("fence 198.18.0.2: fenced by ssh"),
        "{}",
        h.all()
    );

    // A failover with a newer epoch keeps the primary down even without the marker.
    let failover_sshd = Sshd::start();
    let peer_cmd = format!(
        "{BIN} --config {} --state-dir {} --format json epoch",
        config.display(),
        w.path("state").display()
    );
    let guard_config = w.path("guard.toml");
    fs::write(
        &guard_config,
        format!(
            "[primary]\nhost = \"{PRIMARY_ADDR}\"\n[failover]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n[fence]\nmarker_file = \"{}\"\nepoch_file = \"{}\"\npeer_epoch_command = \"{peer_cmd}\"\n",
            failover_sshd.port(),
            failover_sshd.user(),
            failover_sshd.user_key_path().display(),
            failover_sshd.known_hosts().display(),
            w.path("fenced").display(),
            w.path("epoch").display(),
        ),
    )
    .unwrap();
    fs::rename(w.path("fenced"), w.path("fenced.moved")).unwrap();
    let g = w.on_primary(&guard_config, &["guard"]);
    assert_eq!(g.code, Some(2), "{}", g.all());
    assert!(g.stdout.contains("holds epoch 1"), "{}", g.all());
    fs::rename(w.path("fenced.moved"), w.path("fenced")).unwrap();

    // Failback.
    let u = w.fence(&["unfence", "--resume-sync"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    assert!(!w.path("lui.disabled").exists() && !w.path("fenced").exists());
    assert_eq!(fs::read_to_string(w.path("epoch")).unwrap().trim(), "2");
    let cron = fs::read_to_string(w.path("cron.d-maestro-sync")).unwrap();
    assert!(!cron.contains("#maestro-fence#"), "{cron}");
    // The gate on the failover now fails: the primary was unfenced.
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "{}", c.all());
    // The guard now lets the primary start: no marker, epochs equal.
    let g = w.on_primary(&guard_config, &["guard"]);
    assert_eq!(g.code, Some(0), "{}", g.all());
}

/// `result`: `not-fenced` when nothing was changed, `partial` when the
/// fence failed after changing things.
fn assert_not_fenced_within(
    w: &World,
    r: &support::maestro_fence::Run,
    deadline: Duration,
    result: &str,
) {
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("NOT fenced"), "{}", r.all());
    assert!(r.took < deadline, "took {:?}", r.took);
    assert_eq!(
        epoch_of(w),
        1,
        "the failed run still took and journaled an epoch"
    );
    let h = w.fence(&["history"]);
    assert!(h.stdout.contains(&format!(": {result} at")), "{}", h.all());
}

#[test]
fn a_service_that_refuses_to_stop_is_not_fenced() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::RefusesToStop);
    w.write_config("", "levels = [\"ssh\"]\ndeadline = \"15s\"");
    let r = w.fence(&["fence"]);
    assert_not_fenced_within(&w, &r, Duration::from_secs(15), "partial");
    assert!(r.stdout.contains("hub stopped: no"), "{}", r.all());
    assert!(w.service_running("hub"));
    // The report says what was changed half-way, and what undoes it.
    for change in [
        "stop lui (done; not undone",
        "disable lui (done; unfence enables it again)",
        "stop hub (failed;",
        "comment out the sync entries of",
        "write the fence marker (done; unfence removes it)",
    ] {
        assert!(r.stdout.contains(change), "{change}: {}", r.all());
    }
    assert!(r.stdout.contains("only partly"), "{}", r.all());
    // status shows it as partial, from the journal, beside the live checks.
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(2), "{}", s.all());
    assert!(
        s.stdout.contains("partial: the fence of epoch 1 ("),
        "{}",
        s.all()
    );
    assert!(s.stdout.contains("disable lui (done"), "{}", s.all());
    // unfence undoes it: lui enabled again, the marker gone.
    let u = w.fence(&["unfence"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    assert!(!w.path("lui.disabled").exists() && !w.path("fenced").exists());
    let s = w.fence(&["status"]);
    assert!(!s.stdout.contains("partial"), "{}", s.all());
}

#[test]
fn a_service_a_watchdog_restarts_is_disabled_before_it_is_stopped() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Respawned);
    w.write_config("", "levels = [\"ssh\"]\ndeadline = \"15s\"");
    let r = w.fence(&["fence"]);
    // Stopped first, the watchdog starts it again before it is disabled,
    // and the fence fails on "hub stopped: no".
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!w.service_running("hub"), "{}", r.all());
    std::thread::sleep(Duration::from_millis(500));
    assert!(!w.service_running("hub"), "the watchdog started it again");
}

#[test]
fn a_command_that_hangs_times_out_and_is_not_fenced() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config(
        "",
        "levels = [\"ssh\"]\ncommand_timeout = \"1s\"\ndeadline = \"8s\"",
    );
    // Replace the stop command with one that hangs.
    let config = fs::read_to_string(w.path("config.toml")).unwrap();
    let config = config
        .lines()
        .map(|l| {
            if l.starts_with("stop_command") {
                "stop_command = \"sleep 30\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(w.path("config.toml"), config).unwrap();
    let r = w.fence(&["fence"]);
    assert_not_fenced_within(&w, &r, Duration::from_secs(8), "partial");
    assert!(r.stdout.contains("stop lui (unknown"), "{}", r.all());
    assert!(r.stdout.contains("timeout"), "{}", r.all());
}

#[test]
fn sshd_killed_during_the_fence_is_not_fenced() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    let pid = w.sshd.pid();
    // Disabling "lui" kills sshd and the connection the fence runs over.
    w.write_config("", "levels = [\"ssh\"]\ndeadline = \"10s\"");
    let config = fs::read_to_string(w.path("config.toml")).unwrap();
    let config = config
        .lines()
        .map(|l| {
            if l.starts_with("disable_command") {
                format!("disable_command = \"pkill -KILL -P {pid}; kill -KILL {pid}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(w.path("config.toml"), config).unwrap();
    let r = w.fence(&["fence"]);
    assert_not_fenced_within(&w, &r, Duration::from_secs(10), "partial");
    // The session broke mid-script: every change it carried may have run.
    for change in [
        "stop lui (unknown",
        "disable hub (unknown",
        "write the fence marker (unknown",
    ] {
        assert!(r.stdout.contains(change), "{change}: {}", r.all());
    }
}

#[test]
fn a_primary_whose_link_is_down_is_decided_within_the_connect_timeout() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    w.pair.link_down();
    let r = w.fence(&["fence"]);
    // connect_timeout is 2s; decided within it plus 1 s.
    assert_not_fenced_within(&w, &r, Duration::from_secs(3), "not-fenced");
    assert!(r.stdout.contains("nothing was changed"), "{}", r.all());
    assert!(r.stdout.contains("cannot reach the primary"), "{}", r.all());
    // status cannot tell (3), it does not say "not fenced".
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(3), "{}", s.all());
}

#[test]
fn a_changed_host_key_is_refused_and_not_fenced() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    let other = w.path("other_key");
    support::sshd::keygen(&other);
    let other_pub = fs::read_to_string(other.with_extension("pub")).unwrap();
    let kt: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    fs::write(
        w.sshd.known_hosts(),
        format!("[{PRIMARY_ADDR}]:{} {}\n", w.sshd.port(), kt.join(" ")),
    )
    .unwrap();
    let r = w.fence(&["fence"]);
    assert_not_fenced_within(&w, &r, Duration::from_secs(10), "not-fenced");
    assert!(r.stdout.contains("CHANGED"), "{}", r.all());
    assert!(w.service_running("lui"));
}

fn isolate_case(firewall: &str) {
    let mut w = World::new();
    w.listen_on_failover(8022);
    assert!(
        w.primary_can_connect(FAILOVER_ADDR, 8022),
        "no connection before the fence"
    );
    let keys = w.path("authorized_keys");
    fs::write(
        &keys,
        "ssh-ed25519 AAAAadmin admin@x\nssh-ed25519 AAAAsync maestro-sync@primary\n",
    )
    .unwrap();
    w.write_config(
        "",
        &format!("levels = [\"isolate\"]\nfirewall = \"{firewall}\"\n[sync.x]\n"),
    );
    // [sync] keys for isolate: rewrite the section with the key settings.
    let config = fs::read_to_string(w.path("config.toml"))
        .unwrap()
        .replace("[sync.x]\n", "");
    let config = config.replace(
        "[sync]\n",
        &format!(
            "[sync]\nauthorized_keys = \"{}\"\nkey_match = \"maestro-sync@primary\"\n",
            keys.display()
        ),
    );
    fs::write(w.path("config.toml"), config).unwrap();

    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.stdout.contains("fenced by the isolate level"),
        "{}",
        r.all()
    );
    assert!(
        !w.primary_can_connect(FAILOVER_ADDR, 8022),
        "the primary still connects after isolate"
    );
    let k = fs::read_to_string(&keys).unwrap();
    assert!(
        k.contains("#maestro-fence# ssh-ed25519 AAAAsync")
            && k.starts_with("ssh-ed25519 AAAAadmin"),
        "{k}"
    );
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(0), "{}", s.all());
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());

    let u = w.fence(&["unfence", "--resume-sync"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    assert!(
        w.primary_can_connect(FAILOVER_ADDR, 8022),
        "still blocked after unfence"
    );
    assert!(!fs::read_to_string(&keys)
        .unwrap()
        .contains("#maestro-fence#"));
    let s = w.fence(&["status", "--level", "isolate"]);
    assert_eq!(s.code, Some(2), "{}", s.all());
}

#[test]
fn isolate_with_nftables_blocks_the_primary() {
    isolate_case("nft");
}

#[test]
fn isolate_with_iptables_blocks_the_primary() {
    isolate_case("iptables");
}

#[test]
fn ssh_failing_falls_through_to_isolate_with_a_warning() {
    let mut w = World::new();
    w.listen_on_failover(8022);
    w.write_config("", "levels = [\"ssh\", \"isolate\"]\nfirewall = \"nft\"");
    w.pair.link_down();
    let r = w.fence(&["fence"]);
    assert_eq!(
        r.code,
        Some(1),
        "fenced at a later level is WARNING: {}",
        r.all()
    );
    assert!(
        r.stdout.contains("fenced by the isolate level"),
        "{}",
        r.all()
    );
}

fn dummy_config(
    dir: &std::path::Path,
    status_file: &std::path::Path,
    kind: &str,
) -> std::path::PathBuf {
    let p = dir.join("config.toml");
    fs::write(
        &p,
        format!(
            "[primary]\nhost = \"{PRIMARY_ADDR}\"\n[fence]\nlevels = [\"agent\"]\nagent = \"fence_dummy\"\nagent_timeout = \"20s\"\nagent_options = {{ type = \"{kind}\", status_file = \"{}\" }}\nagent_secrets = {{ password = {{ env = \"MAESTRO_FENCE_TEST_SECRET\" }} }}\n",
            status_file.display()
        ),
    )
    .unwrap();
    p
}

fn tool(
    dir: &std::path::Path,
    config: &std::path::Path,
    args: &[&str],
) -> support::maestro_fence::Run {
    let mut all = vec![
        "--config".to_string(),
        config.display().to_string(),
        "--state-dir".into(),
        dir.join("state").display().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    run_env(
        BIN,
        &all,
        "",
        &[("MAESTRO_FENCE_TEST_SECRET", "s3cr3t-value")],
    )
}

#[test]
fn agent_level_with_fence_dummy() {
    let dir = tempfile::tempdir().unwrap();
    let status_file = dir.path().join("dummy.status");
    fs::write(&status_file, "on").unwrap();
    let config = dummy_config(dir.path(), &status_file, "file");
    let r = tool(dir.path(), &config, &["-v", "fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(fs::read_to_string(&status_file).unwrap(), "off");
    assert!(
        r.stdout.contains("password=***") && !r.all().contains("s3cr3t-value"),
        "{}",
        r.all()
    );
    let s = tool(dir.path(), &config, &["status"]);
    assert_eq!(s.code, Some(0), "{}", s.all());
    fs::write(&status_file, "on").unwrap();
    let s = tool(dir.path(), &config, &["status"]);
    assert_eq!(s.code, Some(2), "{}", s.all());
    let c = tool(dir.path(), &config, &["check"]);
    assert_eq!(
        c.code,
        Some(2),
        "the agent says the primary is on again: {}",
        c.all()
    );
}

#[test]
fn agent_level_that_cannot_power_off_is_not_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let config = dummy_config(dir.path(), &dir.path().join("none"), "fail");
    // fence_dummy --type=fail waits for its power timeout (20 s): the
    // deadline kills it, and a timeout is "not fenced".
    let r = tool(dir.path(), &config, &["fence", "--deadline", "4s"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stdout.contains("timeout") || r.stdout.contains("did not finish"),
        "{}",
        r.all()
    );
    assert!(r.took < Duration::from_secs(6), "took {:?}", r.took);
}

#[test]
fn concurrent_fences_serialize_on_the_lock_with_distinct_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let status_file = dir.path().join("dummy.status");
    fs::write(&status_file, "on").unwrap();
    let config = dummy_config(dir.path(), &status_file, "file");
    let d = dir.path().to_path_buf();
    let c = config.clone();
    let a = std::thread::spawn(move || tool(&d, &c, &["--format", "json", "fence"]));
    let b = tool(dir.path(), &config, &["--format", "json", "fence"]);
    let a = a.join().unwrap();
    assert_eq!(
        (a.code, b.code),
        (Some(0), Some(0)),
        "{}\n{}",
        a.all(),
        b.all()
    );
    let epochs: Vec<bool> = [1, 2]
        .iter()
        .map(|e| format!("{}{}", a.stdout, b.stdout).contains(&format!("\"epoch\":{e}")))
        .collect();
    assert_eq!(epochs, vec![true, true], "{}\n{}", a.all(), b.all());

    // A run that cannot get the lock before its deadline is not fenced.
    let lock = dir.path().join("state/fence.lock");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "5"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = tool(dir.path(), &config, &["fence", "--deadline", "1s"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stdout.contains("another maestro-fence run holds"),
        "{}",
        r.all()
    );
}

#[test]
fn check_trusts_the_journal_only_while_the_primary_cannot_be_reached() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    // Someone re-enables a service behind the fence's back: check fails.
    fs::remove_file(w.path("hub.disabled")).unwrap();
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "{}", c.all());
    assert!(c.stdout.contains("NOT fenced any more"), "{}", c.all());
    fs::write(w.path("hub.disabled"), "").unwrap();
    // The primary goes away: the journal's confirmed fence is trusted, and says so.
    w.pair.link_down();
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());
    assert!(c.stdout.contains("not re-verified"), "{}", c.all());
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(3), "{}", s.all());
}

/// `check` trusts the journal only when the primary cannot be reached at
/// all (no TCP connection). Something that answers on the SSH port and
/// then does not speak SSH (a listener that never sends a banner, one
/// that closes at once) is not "unreachable": cannot re-verify, CRITICAL.
#[test]
fn check_does_not_trust_the_journal_when_something_answers_on_the_ssh_port() {
    use support::maestro_fence::Listener;
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    w.stop_sshd();
    // Nothing listens: the primary answers with a reset. It is up, so it
    // may run Maestro: not a primary that is gone.
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "a refused connect: {}", c.all());
    assert!(c.stdout.contains("cannot re-verify"), "{}", c.all());
    let ns = w.pair.primary.name.clone();
    let port = w.sshd.port();
    w.listen(&ns, PRIMARY_ADDR, port, Listener::Silent);
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "a silent listener: {}", c.all());
    assert!(c.stdout.contains("cannot re-verify"), "{}", c.all());
    assert!(!c.stdout.contains("trusting the journal"), "{}", c.all());
}

#[test]
fn check_does_not_trust_the_journal_when_the_ssh_port_accepts_and_closes() {
    use support::maestro_fence::Listener;
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    w.stop_sshd();
    let ns = w.pair.primary.name.clone();
    let port = w.sshd.port();
    w.listen(&ns, PRIMARY_ADDR, port, Listener::Closes);
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "a listener that closes: {}", c.all());
    assert!(c.stdout.contains("cannot re-verify"), "{}", c.all());
}
