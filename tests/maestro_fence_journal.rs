//! What the fence journal keeps and what `status` and `unfence` make of it:
//! a fence killed half-way has its changes on record before they happen,
//! `status` lists every unfinished or partial fence since the last
//! successful unfence, `unfence` undoes what the journal says was done
//! (the firewall backend and table recorded at fence time, whatever the
//! configuration says now) and verifies the removal on nftables and
//! iptables, and every run keeps its deadline while the catalog is locked
//! by another process. Network namespaces as the hosts, a real sshd in the
//! primary's, real nftables/iptables in the failover's. Needs root.

mod support;

use std::fs;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::maestro_fence::{wait_for, ServiceKind, World, PRIMARY_ADDR};

/// Holds a write transaction on the catalog (as another process might)
/// for `seconds`, from the moment this returns.
fn hold_catalog(w: &World, seconds: f64) -> Child {
    let catalog = w.path("state/catalog.sqlite");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(float(sys.argv[2]))\nc.execute('COMMIT')\n",
        ])
        .arg(&catalog)
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    holder
}

fn set_in_config(w: &World, from: &str, to: &str) {
    let text = fs::read_to_string(w.path("config.toml")).unwrap();
    assert!(text.contains(from), "{from} not in the config:\n{text}");
    fs::write(w.path("config.toml"), text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_fence_killed_mid_level_leaves_what_it_changed_in_the_journal() {
    let w = World::new();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    let mut child = w.spawn_fence(&["fence"]);
    // Killed as Pacemaker kills an agent at its timeout: after the block
    // is loaded, while the probe still waits.
    wait_for(
        || w.failover_ruleset().contains("maestro_fence"),
        "the fence's table",
    );
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(w.failover_ruleset().contains("maestro_fence"));

    let h = w.fence(&["history"]);
    assert!(h.stdout.contains("interrupted"), "{}", h.all());
    assert!(
        h.stdout.contains("load the nftables block"),
        "history names the change: {}",
        h.all()
    );
    let s = w.fence(&["status"]);
    assert!(
        s.stdout.contains("interrupted") && s.stdout.contains("load the nftables block"),
        "{}",
        s.all()
    );
    // unfence undoes it from the journal.
    let u = w.fence(&["unfence"]);
    assert!(
        !w.failover_ruleset().contains("maestro_fence"),
        "{}",
        u.all()
    );
}

#[test]
fn status_lists_every_partial_fence_since_the_last_unfence() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::RefusesToStop);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    // Epoch 1 stops half-way: lui will not stop, the rest is changed.
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("partial"), "{}", r.all());
    // Epoch 2 changes nothing: the primary is out of reach.
    w.pair.link_down();
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    let s = w.fence(&["status"]);
    assert!(
        s.stdout.contains("epoch 1") && s.stdout.contains("disable hub"),
        "the partial fence of epoch 1 is still shown: {}",
        s.all()
    );
    // After a successful unfence there is nothing left to show.
    w.pair.link_up();
    let u = w.fence(&["unfence"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    let s = w.fence(&["status"]);
    assert!(!s.stdout.contains("partial"), "{}", s.all());
}

#[test]
fn unfence_removes_an_isolation_the_configuration_no_longer_names() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]\nfirewall = \"nft\"");
    let r = w.fence(&["fence", "--level", "isolate"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(w.failover_ruleset().contains("maestro_fence"));
    let d = w.fence(&["unfence", "--dry-run"]);
    assert!(
        d.stdout.contains("remove the nftables block"),
        "{}",
        d.all()
    );
    let u = w.fence(&["unfence"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    assert!(!w.failover_ruleset().contains("maestro_fence"));
    assert!(w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()));
}

#[test]
fn unfence_removes_the_backend_the_fence_used_not_the_one_configured_now() {
    let w = World::new();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    set_in_config(&w, "firewall = \"nft\"", "firewall = \"iptables\"");
    let u = w.fence(&["unfence"]);
    assert!(
        !w.failover_ruleset().contains("table inet maestro_fence"),
        "the nftables block is still loaded after: {}",
        u.all()
    );
    assert_eq!(u.code, Some(0), "{}", u.all());
}

#[test]
fn an_iptables_chain_that_cannot_be_removed_is_not_unfenced() {
    let w = World::new();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"iptables\"");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    // Another tool refers to the fence's chain: it cannot be deleted.
    let o = w.on_failover(
        "iptables",
        &["-w", "5", "-A", "FORWARD", "-j", "maestro_fence_in"],
    );
    assert_eq!(o.code, Some(0), "{}", o.all());
    let u = w.fence(&["unfence"]);
    assert_eq!(u.code, Some(2), "{}", u.all());
    assert!(
        u.stdout.contains("maestro_fence_in") && u.stdout.contains("still"),
        "{}",
        u.all()
    );
    // Once the reference is gone, unfence removes it and says so.
    let o = w.on_failover(
        "iptables",
        &["-w", "5", "-D", "FORWARD", "-j", "maestro_fence_in"],
    );
    assert_eq!(o.code, Some(0), "{}", o.all());
    let u = w.fence(&["unfence"]);
    assert_eq!(u.code, Some(0), "{}", u.all());
    let listing = w.on_failover("iptables", &["-w", "5", "-S"]).stdout;
    assert!(!listing.contains("maestro_fence"), "{listing}");
}

#[test]
fn check_keeps_one_deadline_while_the_catalog_is_locked() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    set_in_config(&w, "connect_timeout = \"2s\"", "connect_timeout = \"4s\"");
    w.pair.link_down();
    let mut holder = hold_catalog(&w, 3.0);
    let started = Instant::now();
    let c = w.fence(&["check", "--deadline", "4s"]);
    let took = started.elapsed();
    let _ = holder.wait();
    assert!(
        took < Duration::from_millis(5500),
        "check took {took:?} with a 4 s deadline: {}",
        c.all()
    );
}

#[test]
fn status_reads_the_journal_within_its_deadline() {
    let w = World::new();
    w.write_config("", "levels = [\"ssh\"]");
    // A catalog to lock.
    let e = w.fence(&["epoch"]);
    assert_eq!(e.code, Some(0), "{}", e.all());
    w.pair.link_down();
    let mut holder = hold_catalog(&w, 30.0);
    let started = Instant::now();
    let s = w.fence(&["status", "--deadline", "3s"]);
    let took = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(
        took < Duration::from_millis(4500),
        "status took {took:?} with a 3 s deadline: {}",
        s.all()
    );
    assert!(s.stdout.contains("journal"), "{}", s.all());
}

#[test]
fn an_unfence_whose_journal_is_locked_still_reports_what_it_did() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.write_config("", "levels = [\"ssh\"]\ndeadline = \"12s\"");
    // Enabling takes a while, and meanwhile another process takes the
    // catalog and keeps it.
    let text = fs::read_to_string(w.path("config.toml")).unwrap();
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("enable_command") {
                l.replacen("\"rm -f", "\"sleep 3; rm -f", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(w.path("config.toml"), text).unwrap();
    let e = w.fence(&["epoch"]);
    assert_eq!(e.code, Some(0), "{}", e.all());
    let child = w.spawn_fence(&["unfence"]);
    std::thread::sleep(Duration::from_millis(1500));
    let mut holder = hold_catalog(&w, 60.0);
    let out = child.wait_with_output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        stdout.contains("level ssh"),
        "the levels are reported: {all}"
    );
    assert!(stdout.contains("could not be journaled"), "{all}");
}
