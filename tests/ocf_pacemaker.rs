//! `ocf:maestro-ha:maestro` under a real Pacemaker: the one-node cluster
//! of the fence-agent test (Debian's corosync with knet on 127.0.0.1 and
//! `pacemakerd -f`, no systemd, in a network and a mount namespace of their
//! own), the agent linked in as /usr/lib/ocf/resource.d/maestro-ha/maestro,
//! and the resource made with `pcs` as docs/maestro-ocf.md shows it: Maestro
//! first in a group, an IPaddr2 address after it. One cluster serves
//! three starts: every gate holds and Maestro comes up (monitored at depth
//! 10: a LUI URL that does not answer fails a monitor, after a restart
//! that skips the replica check at the same fence epoch), then a torn
//! replica and then a LUI start-up log with a CRITICAL finding each leave
//! it down with a failed start, the address never raised, and `crm_mon`
//! showing why. About a minute; needs root.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::maestro_fence::Netns;
use support::ocf::{Node, FENCE};
use support::pacemaker::{Agents, Cluster};

/// The service address the group raises after Maestro (on a veth
/// interface of the cluster's own namespace).
const SERVICE_IP: &str = "198.18.7.10";

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn crm_mon(c: &Cluster) -> String {
    String::from_utf8_lossy(
        &c.run("crm_mon", &["-1", "--inactive", "--include=all"])
            .stdout,
    )
    .into_owned()
}

fn pcs(c: &Cluster, args: &[&str]) {
    let out = c.run("pcs", args);
    assert!(
        out.status.success(),
        "pcs {}: {}\n{}",
        args.join(" "),
        text(&out),
        c.logs()
    );
}

/// The line crm_mon gives a resource, whatever its column padding.
fn resource_line(mon: &str, id: &str) -> String {
    mon.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|l| l.contains(&format!("{id} (")))
        .unwrap_or_default()
}

fn address_up(ns: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!("{SERVICE_IP}/"))
}

/// Waits until crm_mon's output satisfies `ready`; fails with it.
fn wait_mon(c: &Cluster, within: Duration, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let started = std::time::Instant::now();
    loop {
        let m = crm_mon(c);
        if ready(&m) {
            return m;
        }
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for {what}\n--- crm_mon\n{m}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until the start has failed: crm_mon lists it with its reason.
fn wait_failed_start(c: &Cluster) -> String {
    wait_mon(c, Duration::from_secs(90), "a failed start", |m| {
        m.contains("Failed Resource Actions")
            && m.contains("maestro start on node1 returned 'error'")
    })
}

#[test]
fn pacemaker_starts_maestro_only_through_the_gates() {
    // The emulator's ports live in the cluster's own namespace.
    let n = Node::new(18080, 12525);
    n.fence();
    n.capture();
    let ns = Netns::new("o");
    for args in [
        vec![
            "link", "add", "maestro0", "type", "veth", "peer", "name", "maestro1",
        ],
        vec!["addr", "add", "198.18.7.1/24", "dev", "maestro0"],
        vec!["link", "set", "maestro0", "up"],
        vec!["link", "set", "maestro1", "up"],
    ] {
        let mut full = vec!["-n", ns.name.as_str()];
        full.extend(args);
        let s = std::process::Command::new("ip")
            .args(&full)
            .status()
            .unwrap();
        assert!(s.success(), "ip {}", full.join(" "));
    }
    let cluster = Cluster::start_with(
        &ns.name,
        &Agents {
            ocf: vec![("maestro-ha", "maestro", Path::new(FENCE))],
            ..Agents::default()
        },
    );
    // One node and no fence device for it: the test's cluster only.
    pcs(&cluster, &["property", "set", "stonith-enabled=false"]);

    // 1. Every gate holds: Maestro starts, then the address.
    let mut create: Vec<String> = vec![
        "resource".into(),
        "create".into(),
        "maestro".into(),
        "ocf:maestro-ha:maestro".into(),
    ];
    create.extend(n.params().into_iter().map(|(k, v)| format!("{k}={v}")));
    create.extend(
        [
            "op",
            "start",
            "timeout=120s",
            "op",
            "stop",
            "timeout=60s",
            "op",
            "monitor",
            "interval=5s",
            "timeout=30s",
            "OCF_CHECK_LEVEL=10",
            "--group",
            "maestro-group",
        ]
        .map(String::from),
    );
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    pcs(&cluster, &create);
    pcs(
        &cluster,
        &[
            "resource",
            "create",
            "maestro-ip",
            "ocf:heartbeat:IPaddr2",
            &format!("ip={SERVICE_IP}"),
            "cidr_netmask=24",
            "nic=maestro0",
            "op",
            "monitor",
            "interval=10s",
            "--group",
            "maestro-group",
        ],
    );
    wait_mon(
        &cluster,
        Duration::from_secs(90),
        "Maestro and its address started",
        |m| {
            resource_line(m, "maestro").contains("Started node1")
                && resource_line(m, "maestro-ip").contains("Started node1")
        },
    );
    assert!(n.running("db") && n.running("lui"));
    assert!(address_up(&ns.name));
    // A few depth 10 monitors pass (the LUI answers HTTP).
    std::thread::sleep(Duration::from_secs(7));
    let m = crm_mon(&cluster);
    assert!(
        !m.contains("Failed Resource Actions"),
        "{m}\n{}",
        cluster.logs()
    );
    assert!(
        resource_line(&m, "maestro").contains("Started node1"),
        "{m}"
    );
    // The tools' own words are in the log Pacemaker keeps.
    let log = std::fs::read_to_string(cluster.path("pacemaker.log")).unwrap_or_default();
    assert!(
        log.contains("maestro-snapshot-verify: OK") && log.contains("ready: readiness marker"),
        "{}",
        cluster.logs()
    );
    // The cluster's monitors really run at depth 10: pointed at a port
    // nothing listens on, Maestro restarts (the parameter changed; the
    // replica check is not repeated at the same epoch) and its next
    // monitor fails with the agent's reason.
    pcs(
        &cluster,
        &[
            "resource",
            "update",
            "maestro",
            "http_url=http://127.0.0.1:18081/lui/",
        ],
    );
    wait_mon(
        &cluster,
        Duration::from_secs(90),
        "a failed depth 10 monitor",
        |m| {
            m.contains("monitor on node1 returned 'error' (the LUI does not answer at http://127.0.0.1:18081/lui/")
        },
    );
    let log = std::fs::read_to_string(cluster.path("pacemaker.log")).unwrap_or_default();
    assert!(
        log.contains("replica check not repeated"),
        "{}",
        cluster.logs()
    );
    pcs(
        &cluster,
        &[
            "resource",
            "update",
            "maestro",
            &format!("http_url={}", n.url()),
        ],
    );
    pcs(&cluster, &["resource", "cleanup", "maestro"]);
    wait_mon(
        &cluster,
        Duration::from_secs(90),
        "Maestro started again and monitored",
        |m| {
            resource_line(m, "maestro-ip").contains("Started node1")
                && !m.contains("Failed Resource Actions")
        },
    );
    pcs(&cluster, &["resource", "disable", "maestro-group"]);
    wait_mon(
        &cluster,
        Duration::from_secs(60),
        "the group stopped",
        |m| resource_line(m, "maestro").contains("Stopped"),
    );
    assert!(!n.running("db") && !n.running("lui"));
    assert!(!address_up(&ns.name));

    // 2. A new takeover (a new fence epoch) from a torn replica: the start
    // fails at the replica check, nothing runs, the address stays down.
    n.fence();
    n.tear_replica();
    pcs(&cluster, &["resource", "enable", "maestro-group"]);
    let m = wait_failed_start(&cluster);
    assert!(
        m.contains("returned 'error' (replica check: CRITICAL compare: replica is not the primary"),
        "{m}"
    );
    assert!(!n.running("db") && !n.running("lui"));
    assert!(!resource_line(&m, "maestro-ip").contains("Started"), "{m}");
    assert!(!address_up(&ns.name));

    // 3. The replica matches, the LUI logs a missing table while it starts:
    // the services started and are stopped again, the start failed.
    pcs(&cluster, &["resource", "disable", "maestro-group"]);
    n.capture();
    n.break_lui_database(true);
    pcs(&cluster, &["resource", "cleanup", "maestro"]);
    pcs(&cluster, &["resource", "enable", "maestro-group"]);
    let m = wait_failed_start(&cluster);
    assert!(
        m.contains("returned 'error' (lui start-up log: CRITICAL [table-missing]"),
        "{m}"
    );
    assert!(!n.running("db") && !n.running("lui"));
    assert!(!address_up(&ns.name));
    let log = std::fs::read_to_string(cluster.path("pacemaker.log")).unwrap_or_default();
    assert!(
        log.contains("Table 'maestro.lui_job' doesn't exist"),
        "the LUI's finding is not in Pacemaker's log:\n{}",
        cluster.logs()
    );
}
