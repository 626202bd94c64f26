//! The OCF resource agent `ocf:maestro-ha:maestro` (maestro-fence invoked
//! as `maestro`), run as Pacemaker runs it, without a cluster: its
//! metadata against the OCF schemas Debian's resource-agents ships,
//! Debian's `ocf-tester` against it, and each gate of its start failing on
//! its own. The services are the test's own commands (the database a
//! real MariaDB start's log lines, the LUI the Maestro emulator); the old
//! primary is fenced through fence_dummy. Needs root (ocf-tester runs the
//! metadata as nobody), resource-agents, fence-agents, libxml2-utils.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::ocf::{free_port, ran, Node};

fn node() -> Node {
    Node::new(free_port(), free_port())
}

fn xmllint(args: &[&str], input: &[u8], dir: &Path) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("xmllint")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint runs (libxml2-utils)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn metadata_is_valid_against_the_ocf_schemas() {
    let n = node();
    let out = Command::new(n.agent()).arg("meta-data").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let xml = out.stdout;
    let schemas = Path::new("/usr/share/resource-agents");
    assert!(
        schemas.join("ra-api-1.dtd").exists(),
        "Debian's resource-agents is missing (scripts/test.sh installs it)"
    );
    // As ocf-tester validates: the document's own DOCTYPE, from that folder.
    let (ok, err) = xmllint(&["--noout", "--valid", "-"], &xml, schemas);
    assert!(ok, "not valid against ra-api-1.dtd: {err}");
    let (ok, err) = xmllint(
        &["--noout", "--relaxng", "metadata.rng", "-"],
        &xml,
        schemas,
    );
    assert!(ok, "not valid against metadata.rng: {err}");
    let text = String::from_utf8(xml).unwrap();
    for p in [
        "config_file",
        "state_dir",
        "services",
        "manifest",
        "primary_node",
        "ready_logs",
        "http_url",
        "smoketest_message",
        "monitor_depth",
    ] {
        assert!(text.contains(&format!("<parameter name=\"{p}\"")), "{p}");
    }
    // The broken metadata is refused: the check can fail.
    let broken = text.replace(
        "<shortdesc lang=\"en\">LISTSERV",
        "<summary>x</summary><shortdesc lang=\"en\">LISTSERV",
    );
    let (ok, _) = xmllint(&["--noout", "--valid", "-"], broken.as_bytes(), schemas);
    assert!(!ok, "xmllint accepted an element the DTD does not have");

    // The actions an agent lacks, and no action at all.
    for (action, code) in [("notify", 3), ("promote", 3), ("reload", 3), ("", 2)] {
        let out = Command::new(n.agent()).arg(action).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{action}");
    }
}

#[test]
fn ocf_tester_passes() {
    let n = node();
    n.fence();
    n.capture();
    let mut c = Command::new("timeout");
    c.args(["-k", "5", "300", "ocf-tester", "-n", "maestro-test"]);
    for (k, v) in n.params() {
        c.arg("-o").arg(format!("{k}={v}"));
    }
    let started = Instant::now();
    let out = c
        .arg(n.agent())
        .env("PATH", Node::tools_path())
        .env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("ocf-tester runs (resource-agents)");
    let r = ran(out, started.elapsed());
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stdout.contains("passed all tests"), "{}", r.all());
    assert!(!n.running("db") && !n.running("lui"), "left running");
    eprintln!("ocf-tester took {:?}", r.took);
}

#[test]
fn every_gate_of_the_start_must_hold_and_a_failed_start_leaves_nothing_running() {
    let n = node();
    n.capture();

    // Not fenced: nothing starts.
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    let why = r.exit_reason().unwrap_or_default();
    assert!(why.starts_with("fence check"), "{}", r.all());
    assert!(!n.running("db") && !n.running("lui"));

    // Fenced, but the replica is not the primary's point in time.
    n.fence();
    n.tear_replica();
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    let why = r.exit_reason().unwrap_or_default();
    assert!(
        why.starts_with("replica check") && why.contains("CRITICAL"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("maestro-snapshot-verify: "),
        "the tool's words are in the log: {}",
        r.all()
    );
    assert!(!n.running("db") && !n.running("lui"));

    // The replica matches, the LUI's start logs a missing table: the
    // services did start, and are stopped again.
    n.capture();
    n.break_lui_database(true);
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    let why = r.exit_reason().unwrap_or_default();
    assert!(
        why.starts_with("lui start-up log") && why.contains("table-missing"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("starting lui"), "{}", r.all());
    assert!(!n.running("db") && !n.running("lui"), "{}", r.all());
    let m = n.action("monitor", &[]);
    assert_eq!(m.code, Some(7), "{}", m.all());

    // Every gate holds: it starts, and monitors pass at depth 0 and 10.
    n.break_lui_database(false);
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(n.running("db") && n.running("lui"));
    eprintln!("a start through every gate took {:?}", r.took);
    assert!(r.stderr.contains("ready: readiness marker"), "{}", r.all());
    for depth in ["0", "10"] {
        let m = n.action("monitor", &[("OCF_CHECK_LEVEL", depth)]);
        assert_eq!(m.code, Some(0), "depth {depth}: {}", m.all());
    }
    // Depth 10 fails when the LUI does not answer.
    let closed = format!("http://127.0.0.1:{}/lui/", free_port());
    let m = n.action(
        "monitor",
        &[("OCF_CHECK_LEVEL", "10"), ("http_url", &closed)],
    );
    assert_eq!(m.code, Some(1), "{}", m.all());
    assert!(
        m.exit_reason()
            .unwrap_or_default()
            .contains("does not answer"),
        "{}",
        m.all()
    );
    // Depth 20: the tracker links of a saved test mailing redirect.
    let m = n.action("monitor", &[("OCF_CHECK_LEVEL", "20")]);
    assert_eq!(m.code, Some(6), "depth 20 without a message: {}", m.all());
    let eml = n.save_test_mailing().display().to_string();
    let m = n.action(
        "monitor",
        &[("OCF_CHECK_LEVEL", "20"), ("smoketest_message", &eml)],
    );
    assert_eq!(m.code, Some(0), "{}", m.all());
    let wrong_target = std::fs::read_to_string(n.config())
        .unwrap()
        .replace("https://www.example.org/", "https://elsewhere.example.org/");
    std::fs::write(n.config(), wrong_target).unwrap();
    let m = n.action(
        "monitor",
        &[("monitor_depth", "20"), ("smoketest_message", &eml)],
    );
    assert_eq!(m.code, Some(1), "{}", m.all());
    assert!(
        m.exit_reason().unwrap_or_default().starts_with("smoketest"),
        "{}",
        m.all()
    );
    n.write_config("");

    // A start of a running resource succeeds without running the gates.
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stderr.contains("runs already"), "{}", r.all());

    // Maestro writes into its data; a restart here at the same fence
    // epoch does not compare it with the primary's manifest again...
    n.tear_replica();
    let r = n.action("stop", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!n.running("db") && !n.running("lui"));
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.stderr.contains("replica check not repeated"),
        "{}",
        r.all()
    );
    // ...but the fence check still runs.
    n.action("stop", &[]);
    n.unfence_behind_its_back();
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.exit_reason()
            .unwrap_or_default()
            .starts_with("fence check"),
        "{}",
        r.all()
    );
    // A new fence (a new epoch): the data is compared again, and differs.
    n.fence();
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.exit_reason()
            .unwrap_or_default()
            .starts_with("replica check"),
        "{}",
        r.all()
    );
    assert!(!n.running("db") && !n.running("lui"));
}

#[test]
fn stop_fails_when_a_service_stays_up_and_partial_states_are_failures() {
    let n = node();
    // Half of Maestro runs, started by hand: a failure, never "running"
    // or "stopped"; a start refuses to run the gates around it.
    n.start_by_hand("db");
    let m = n.action("monitor", &[]);
    assert_eq!(m.code, Some(1), "{}", m.all());
    assert!(
        m.exit_reason()
            .unwrap_or_default()
            .contains("partly running"),
        "{}",
        m.all()
    );
    let r = n.action("start", &[]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.exit_reason()
            .unwrap_or_default()
            .contains("partly running"),
        "{}",
        r.all()
    );
    let r = n.action("stop", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!n.running("db"));

    // A database that ignores SIGTERM: stop says so within its timeout,
    // so that Pacemaker fences the node.
    n.make_db_stubborn(true);
    n.start_by_hand("db");
    n.start_by_hand("lui");
    let started = Instant::now();
    let r = n.action("stop", &[("OCF_RESKEY_CRM_meta_timeout", "6000")]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.exit_reason()
            .unwrap_or_default()
            .contains("db still runs"),
        "{}",
        r.all()
    );
    assert!(!n.running("lui") && n.running("db"));
}

#[test]
fn configuration_mistakes_get_the_codes_the_api_gives_them() {
    let n = node();
    n.capture();
    let r = n.action("validate-all", &[]);
    assert_eq!(r.code, Some(0), "{}", r.all());

    // A key no tool knows: every tool's config check refuses it.
    n.write_config("[fence]\nlevles = [\"ssh\"]\n");
    let r = n.action("validate-all", &[]);
    assert_eq!(r.code, Some(6), "{}", r.all());
    // A level the fence cannot run: maestro-fence's own config check says so.
    n.write_config("");
    let text = std::fs::read_to_string(n.config())
        .unwrap()
        .replace("agent = \"fence_dummy\"\n", "");
    std::fs::write(n.config(), text).unwrap();
    let r = n.action("validate-all", &[]);
    assert_eq!(r.code, Some(6), "{}", r.all());
    assert!(
        r.exit_reason()
            .unwrap_or_default()
            .starts_with("maestro-fence config check"),
        "{}",
        r.all()
    );
    n.write_config("");
    // Nothing to check the replica against on a failover node.
    let r = n.action("validate-all", &[("manifest", "")]);
    assert_eq!(r.code, Some(6), "{}", r.all());
    // On the primary's node none is needed (the guard gates the start).
    let r = n.action(
        "validate-all",
        &[
            ("manifest", ""),
            ("OCF_RESKEY_CRM_meta_on_node", "maestro1"),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.all());

    // No configuration file on this node: not installed here; a probe
    // finds it stopped and a stop succeeds (nothing of it can run).
    let missing = n.path("nowhere.toml").display().to_string();
    let r = n.action("validate-all", &[("config_file", &missing)]);
    assert_eq!(r.code, Some(5), "{}", r.all());
    let r = n.action(
        "monitor",
        &[
            ("config_file", &missing),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
        ],
    );
    assert_eq!(r.code, Some(7), "{}", r.all());
    let r = n.action("stop", &[("config_file", &missing)]);
    assert_eq!(r.code, Some(0), "{}", r.all());
}
