//! fence_maestro under a real Pacemaker: a one-node cluster (Debian's
//! corosync and pacemakerd, no systemd) in the failover's network
//! namespace, the device made with `pcs stonith create` as the README shows
//! it, and fencing asked with `stonith_admin`, against a primary that is a
//! throwaway sshd in its own namespace (levels = ["ssh"]). Both outcomes:
//! fenced and verified, and a primary that cannot be reached is a failed
//! fence, while the device itself stays up (its monitor never needs the
//! primary). About a minute; needs root.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use support::maestro_fence::{ServiceKind, World, BIN, PRIMARY_ADDR};
use support::pacemaker::Cluster;

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn crm_mon(c: &Cluster) -> String {
    String::from_utf8_lossy(&c.run("crm_mon", &["-1", "--include=all"]).stdout).into_owned()
}

#[test]
fn pacemaker_fences_through_fence_maestro_and_an_unreachable_primary_fails() {
    let mut w = World::new();
    w.start_service("lui", ServiceKind::Normal);
    w.start_service("hub", ServiceKind::Normal);
    w.start_sync();
    let config = w.write_config("", "levels = [\"ssh\"]\nnode_name = \"maestro1\"");
    let state = w.path("state");
    let cluster = Cluster::start(&w.pair.failover.name, Path::new(BIN));
    let config_arg = format!("config_file={}", config.display());
    let state_arg = format!("state_dir={}", state.display());

    // The device as the README makes it: power_timeout well below pcmk_off_timeout.
    let out = cluster.run(
        "pcs",
        &[
            "stonith",
            "create",
            "maestro-primary",
            "fence_maestro",
            &config_arg,
            &state_arg,
            "node_name=maestro1",
            "pcmk_host_list=maestro1",
            "power_timeout=20",
            "pcmk_off_timeout=60s",
            "op",
            "monitor",
            "interval=3s",
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out), cluster.logs());
    cluster.wait_for(Duration::from_secs(30), "the device started", |c| {
        crm_mon(c).contains("maestro-primary\t(stonith:fence_maestro):\t Started node1")
            || crm_mon(c).contains("maestro-primary (stonith:fence_maestro): Started node1")
    });

    // Without pcmk_host_list Pacemaker asks the agent's `list`: one node name.
    let out = cluster.run(
        "pcs",
        &[
            "stonith",
            "create",
            "maestro-listed",
            "fence_maestro",
            &config_arg,
            &state_arg,
            "pcmk_host_check=dynamic-list",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cluster.run("stonith_admin", &["--list-targets", "maestro-listed"]);
    let targets = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(targets.contains("maestro1"), "{}", text(&out));
    assert!(
        !targets.contains(PRIMARY_ADDR) && !targets.contains("primary"),
        "the device claims more than its node: {}",
        text(&out)
    );
    let out = cluster.run("pcs", &["stonith", "delete", "maestro-listed"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = cluster.run("stonith_admin", &["--query", "maestro-primary"]);
    assert!(out.status.success(), "{}", text(&out));

    // Fenced, as Pacemaker asks it.
    let out = cluster.run("stonith_admin", &["--fence", "maestro1", "--timeout", "60"]);
    assert!(out.status.success(), "{}\n{}", text(&out), cluster.logs());
    assert!(!w.service_running("lui") && !w.service_running("hub"));
    assert!(!w.sync_running());
    assert!(w.path("fenced").exists(), "no marker on the primary");
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());
    let out = cluster.run("stonith_admin", &["--history", "maestro1"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("successful"),
        "{}",
        text(&out)
    );

    // A device that knows no node name (no node_name, no pcmk_host_list):
    // its `list` fails, so Pacemaker asks its `status` for the node it
    // wants fenced, passing that node as plug and nodename. The device must
    // not claim a node it does not know, or Pacemaker "fences" maestro2 by
    // fencing the primary again.
    let nameless = w.path("nameless.toml");
    std::fs::write(
        &nameless,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("node_name = \"maestro1\"", ""),
    )
    .unwrap();
    let nameless_arg = format!("config_file={}", nameless.display());
    let out = cluster.run(
        "pcs",
        &[
            "stonith",
            "create",
            "maestro-nameless",
            "fence_maestro",
            &nameless_arg,
            &state_arg,
            "power_timeout=20",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    cluster.wait_for(
        Duration::from_secs(30),
        "the nameless device started",
        |c| {
            let m = crm_mon(c);
            m.contains("maestro-nameless\t(stonith:fence_maestro):\t Started node1")
                || m.contains("maestro-nameless (stonith:fence_maestro): Started node1")
        },
    );
    let epoch = |w: &World| {
        w.fence(&["epoch"])
            .stdout
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    let epoch_before = epoch(&w);
    // The first search runs `list`, which fails; Pacemaker then switches
    // the device to asking `status` for each node.
    let _ = cluster.run("stonith_admin", &["--list", "maestro2"]);
    let out = cluster.run("stonith_admin", &["--list", "maestro2"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("maestro-nameless"),
        "the nameless device claims maestro2: {}",
        text(&out)
    );
    let out = cluster.run("stonith_admin", &["--fence", "maestro2", "--timeout", "30"]);
    assert!(
        !out.status.success(),
        "a device that knows no node fenced maestro2: {}\n{}",
        text(&out),
        cluster.logs()
    );
    assert_eq!(
        epoch(&w),
        epoch_before,
        "the primary was fenced again for another node"
    );
    let out = cluster.run("pcs", &["stonith", "delete", "maestro-nameless"]);
    assert!(out.status.success(), "{}", text(&out));

    // The primary goes away. The device stays usable: its monitor checks
    // this server only, so it keeps passing every 3 s.
    w.pair.link_down();
    std::thread::sleep(Duration::from_secs(8));
    let mon = crm_mon(&cluster);
    assert!(mon.contains("Started node1"), "{mon}");
    assert!(!mon.contains("Failed Resource Actions"), "{mon}");
    let out = cluster.run("stonith_admin", &["--query", "maestro-primary"]);
    assert!(out.status.success(), "{}", text(&out));

    // A fence of an unreachable primary fails, within its bounds.
    let started = Instant::now();
    let out = cluster.run("stonith_admin", &["--fence", "maestro1", "--timeout", "60"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
    let out = cluster.run("stonith_admin", &["--history", "maestro1", "--verbose"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("failed"),
        "{}",
        text(&out)
    );
    let h = w.fence(&["history"]);
    assert!(h.stdout.contains("not-fenced"), "{}", h.all());
}
