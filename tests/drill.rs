//! The failover drill: the runbook end to end in network namespaces, with
//! real sshd, MariaDB, rsync and maestro-sync (tests/support/drill.rs).
//! A clean run must pass every step; each injected fault must stop the
//! runbook at the right step with the right message. `scripts/drill.sh`
//! runs the same tests by hand and shows their tables.

mod support;

use support::drill::{Drill, Fault};

/// The steps of the runbook from the redirect to the test mailing, the
/// same after an outage and a planned switchover.
const FAILOVER_STEPS: [&str; 10] = [
    "traffic to the failover",
    "nothing points at the old primary",
    "replica is one point in time",
    "pre-start gate",
    "MariaDB starts on the failover",
    "the emulator starts",
    "startup logs (db)",
    "startup logs (LUI)",
    "test mailing",
    "primary may not start Maestro",
];

/// The failback's steps, the same in both modes.
const FAILBACK_STEPS: [&str; 9] = [
    "unfence",
    "sync back",
    "primary is one point in time",
    "primary may start Maestro",
    "traffic back to the primary",
    "MariaDB starts on the primary",
    "startup logs (db)",
    "startup logs (LUI)",
    "test mailing",
];

/// Every step passed, each named step is there (a failback step after
/// the failover's), and the runbook went to its end.
fn assert_clean(drill: &Drill, first: &[&str]) {
    let table = drill.table();
    assert!(drill.stopped_at().is_none(), "{table}");
    let mut at = 0;
    for step in first.iter().chain(&FAILOVER_STEPS).chain(&FAILBACK_STEPS) {
        let found = drill.steps[at..]
            .iter()
            .position(|s| s.step == *step)
            .unwrap_or_else(|| panic!("{step:?} missing or out of order:\n{table}"));
        assert!(drill.steps[at + found].passed, "{table}");
        at += found + 1;
    }
}

fn run(fault: Fault) -> Drill {
    let mut drill = Drill::new(fault);
    drill.run();
    drill
}

fn assert_stopped_at(drill: &Drill, step: &str, tool: &str, message_has: &[&str]) {
    let table = drill.table();
    let stop = drill
        .stopped_at()
        .unwrap_or_else(|| panic!("the runbook did not stop:\n{table}"));
    assert_eq!(stop.step, step, "stopped at the wrong step:\n{table}");
    assert!(stop.tool.starts_with(tool), "{table}");
    for m in message_has {
        assert!(
            stop.message.contains(m),
            "the message does not say {m:?}:\n{table}"
        );
    }
}

#[test]
fn clean_failover_and_failback_raise_no_false_alarm() {
    let drill = run(Fault::None);
    assert_clean(&drill, &["outage confirmed", "fence the primary"]);
    let fence = drill.steps.iter().find(|s| s.step == "fence the primary");
    assert!(
        fence.is_some_and(|s| s.tool.ends_with("isolate")),
        "{}",
        drill.table()
    );
}

#[test]
fn planned_switchover_fences_over_ssh_and_loses_nothing() {
    let mut drill = Drill::planned();
    drill.run();
    assert_clean(
        &drill,
        &[
            "stop Maestro on the primary",
            "last sync",
            "fence the primary",
        ],
    );
    let table = drill.table();
    assert!(
        drill
            .steps
            .iter()
            .any(|s| s.step == "fence the primary" && s.tool.ends_with("--level ssh")),
        "{table}"
    );
    assert!(
        drill
            .steps
            .iter()
            .any(|s| s.step == "primary's scheduled sync is off" && s.passed),
        "{table}"
    );
    // No row lost: the failover starts with every row the stopped primary had.
    let started = drill
        .steps
        .iter()
        .find(|s| s.step == "MariaDB starts on the failover")
        .unwrap();
    assert!(started.message.contains("as synced"), "{table}");
}

/// A step of the drill that must have passed, with words its message has.
fn assert_step(drill: &Drill, step: &str, message_has: &[&str]) {
    let table = drill.table();
    let s = drill
        .steps
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("no step {step:?}:\n{table}"));
    assert!(s.passed, "{table}");
    for m in message_has {
        assert!(s.message.contains(m), "{step} does not say {m:?}:\n{table}");
    }
}

/// maestro-sync makes a cut sync change nothing the failover starts from:
/// the runbook passes with the generation before it, and MariaDB starts
/// with exactly that generation's rows.
#[test]
fn rsync_cut_off_halfway_leaves_the_generation_before_it() {
    let drill = run(Fault::RsyncCut);
    assert_step(
        &drill,
        "last sync (cut off)",
        &["transfer", "current unchanged"],
    );
    assert_clean(&drill, &["outage confirmed", "fence the primary"]);
    assert_step(&drill, "MariaDB starts on the failover", &["as synced"]);
}

/// A copy whose database files come from different moments fails the
/// failover's check when it arrives and never becomes current.
#[test]
fn database_files_copied_at_different_moments_never_become_current() {
    let drill = run(Fault::DbTorn);
    assert_step(&drill, "last sync (torn copy)", &["innodb", "beyond"]);
    assert_clean(&drill, &["outage confirmed", "fence the primary"]);
    assert_step(&drill, "MariaDB starts on the failover", &["as synced"]);
}

#[test]
fn primary_coming_back_during_the_failover_is_kept_out() {
    let drill = run(Fault::PrimaryReturns);
    let table = drill.table();
    // The returning primary's push fails and its Maestro may not start;
    // the failover goes on, and no step raises a false alarm.
    let blocked = drill
        .steps
        .iter()
        .position(|s| s.step == "primary's sync is blocked");
    let fenced = drill
        .steps
        .iter()
        .position(|s| s.step == "fence the primary");
    assert!(blocked.is_some() && blocked > fenced, "{table}");
    assert!(
        drill
            .steps
            .iter()
            .any(|s| s.step == "primary may not start Maestro" && s.passed && s.exit == Some(2)),
        "{table}"
    );
    assert!(drill.stopped_at().is_none(), "{table}");
}

#[test]
fn blocked_icmp_while_the_primary_is_up_stops_at_watch() {
    let drill = run(Fault::IcmpBlocked);
    assert_stopped_at(
        &drill,
        "outage confirmed",
        "maestro-watch",
        &["UP", "ping is blocked"],
    );
    assert_eq!(drill.steps.len(), 1, "{}", drill.table());
}

#[test]
fn tracker_name_still_resolving_to_the_old_primary_stops_at_smoketest() {
    let drill = run(Fault::TrackerDnsStale);
    assert_stopped_at(
        &drill,
        "test mailing",
        "maestro-smoketest",
        &["tracker-dns", "198.18.0.1"],
    );
}

#[test]
fn a_table_missing_from_the_database_stops_at_the_lui_log() {
    let drill = run(Fault::TableMissing);
    assert_stopped_at(
        &drill,
        "startup logs (LUI)",
        "maestro-logscan",
        &["table-missing", "maestro.mailings"],
    );
}

#[test]
fn unreachable_seed_mailbox_stops_at_smoketest() {
    let drill = run(Fault::MailboxUnreachable);
    assert_stopped_at(
        &drill,
        "test mailing",
        "maestro-smoketest",
        &["198.18.0.99"],
    );
}

#[test]
fn a_refused_dns_update_stops_at_the_redirect() {
    let drill = run(Fault::DnsUpdateRefused);
    assert_stopped_at(
        &drill,
        "traffic to the failover",
        "maestro-redirect",
        &["not redirected", "NOTAUTH(BADSIG)"],
    );
}

#[test]
fn an_ini_value_pinning_the_old_primary_stops_at_the_redirect_check() {
    let drill = run(Fault::IniPinsOldPrimary);
    assert_stopped_at(
        &drill,
        "nothing points at the old primary",
        "maestro-redirect",
        &[
            "ini-old-primary",
            "lui/lui.ini:1",
            "DBHost holds 198.18.0.1",
        ],
    );
}
