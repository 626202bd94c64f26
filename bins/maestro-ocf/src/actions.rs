//! The actions: start through the gates, stop and verify, monitor at its
//! depth, validate-all.

use crate::ocf::{Deadline, Env, Failure, Log, OcfStatus};
use crate::record::{self, Record};
use crate::services::State;
use crate::settings::{Role, Settings};
use crate::tools;
use std::time::Duration;

/// How the services stand, all together.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Overall {
    AllRunning,
    AllStopped,
    /// Some run, some do not: the message names which.
    Partly(String),
    /// A service's state could not be told.
    Unknown(String),
}

fn overall(s: &Settings, deadline: &Deadline, log: &Log) -> Overall {
    let mut running = Vec::new();
    let mut stopped = Vec::new();
    for name in s.services.names() {
        match s.services.state(name, deadline) {
            State::Running => running.push(name.as_str()),
            State::Stopped => stopped.push(name.as_str()),
            State::Unknown(why) => {
                return Overall::Unknown(format!("cannot tell whether {name} runs: {why}"))
            }
        }
    }
    log.debug(&format!(
        "services running: [{}], stopped: [{}]",
        running.join(" "),
        stopped.join(" ")
    ));
    match (running.is_empty(), stopped.is_empty()) {
        (false, true) => Overall::AllRunning,
        (true, _) => Overall::AllStopped,
        (false, false) => Overall::Partly(format!(
            "partly running: {} running, {} stopped",
            running.join(" "),
            stopped.join(" ")
        )),
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// What validate-all checks, also at every start: the tools are here, the
/// services are known to this node, and every tool the start runs accepts
/// the configuration (its `config check`: the same resolution its run
/// makes).
pub fn validate_with(s: &Settings, log: &Log, deadline: &Deadline) -> Result<(), Failure> {
    let mut needed = vec!["maestro-fence", "maestro-logscan"];
    if s.role == Role::Failover {
        needed.push("maestro-snapshot-verify");
    }
    if s.smoketest_message.is_some() {
        needed.push("maestro-smoketest");
    }
    if s.uses_sync() {
        needed.push("maestro-sync");
    }
    let mut found = Vec::new();
    for tool in &needed {
        found.push(tools::require(tool)?);
    }
    for name in s.services.names() {
        s.services
            .installed(name, deadline)
            .map_err(Failure::installed)?;
    }
    if let Some(m) = &s.smoketest_message {
        if !m.is_file() {
            return Err(Failure::installed(format!(
                "smoketest_message={}: not a file on this node",
                m.display()
            )));
        }
    }
    if let Some(crate::settings::Replica::Manifest(m)) = &s.replica {
        if !m.exists() {
            log.warn(&format!(
                "the manifest {} is not on this node yet: a start here fails its replica check until it is",
                m.display()
            ));
        }
    }
    for (tool, program) in needed.iter().zip(&found) {
        let mut args = s.tool_args();
        args.extend(["config".into(), "check".into()]);
        let run = tools::run(
            log,
            &format!("{tool} config check"),
            program,
            &args,
            deadline,
            tools::Echo::OnFailure,
        )?;
        if !run.holds() {
            return Err(Failure::configured(format!(
                "{tool} config check: {}",
                run.why()
            )));
        }
    }
    log.info(&format!(
        "valid: node {} is {} ({} services by {}: {}; ready logs: {})",
        s.node,
        match s.role {
            Role::Primary => "the primary's node: start after maestro-fence guard",
            Role::Failover =>
                "a failover node: start after maestro-fence check and the replica check",
        },
        s.services.names().len(),
        s.services.manager_name(),
        s.services.names().join(" "),
        s.ready_logs.join(" ")
    ));
    Ok(())
}

pub fn validate(env: &Env, log: &Log) -> Result<(), Failure> {
    let deadline = Deadline::new(timeout(env, "validate-all"));
    let s = Settings::resolve(env)?;
    validate_with(&s, log, &deadline)
}

fn timeout(env: &Env, action: &str) -> Duration {
    env.timeout()
        .unwrap_or_else(|| crate::metadata::default_timeout(action))
}

pub fn start(env: &Env, log: &Log) -> Result<(), Failure> {
    let deadline = Deadline::new(timeout(env, "start"));
    let s = Settings::resolve(env)?;
    validate_with(&s, log, &deadline)?;
    match overall(&s, &deadline, log) {
        Overall::AllRunning => {
            log.info("every service runs already: started");
            return Ok(());
        }
        Overall::AllStopped => {}
        Overall::Partly(why) => {
            return Err(Failure::generic(format!(
                "{why}: not started through the gates (stop the resource first)"
            )))
        }
        Overall::Unknown(why) => return Err(Failure::generic(why)),
    }
    // Time kept back to stop the services again when a gate after their
    // start does not hold.
    let reserve = (deadline.budget() / 4).min(Duration::from_secs(30));
    let gates = deadline.less(reserve);
    let fence = tools::require("maestro-fence")?;
    let record_path = record::path(&s.state_dir, env.instance());
    let mut epoch = None;
    match s.role {
        Role::Primary => {
            let mut args = s.tool_args();
            args.extend(["guard".into(), "--deadline".into(), secs(gates.remaining())]);
            tools::gate(log, "guard", &fence, &args, &gates)?;
        }
        Role::Failover => {
            let mut args = s.tool_args();
            args.extend(["check".into(), "--deadline".into(), secs(gates.remaining())]);
            tools::gate(log, "fence check", &fence, &args, &gates)?;
            let now = tools::epoch(log, &fence, &s.tool_args(), &gates)?;
            epoch = Some(now);
            replica_gate(&s, log, &gates, &record_path, now)?;
        }
    }
    // The start-up logs count from here: noted before anything starts.
    let started_at = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    for name in s.services.names() {
        log.info(&format!(
            "starting {name}: {}",
            s.services.shown("start", name)
        ));
        if let Err(e) = s.services.act("start", name, &gates) {
            return Err(stopped_again(
                &s,
                log,
                &deadline,
                Failure::generic(format!("starting {name}: {e}")),
            ));
        }
    }
    let logscan = tools::require("maestro-logscan")?;
    for component in &s.ready_logs {
        let mut args = s.tool_args();
        // The start that began at or after the time noted before the
        // services started: an earlier start's lines in the same log (its
        // readiness line above all) never count for this one, and this
        // start's lines logged before the follow began do.
        args.extend([
            "--component".into(),
            component.clone(),
            "--follow".into(),
            "--until-ready".into(),
            "--since-start-after".into(),
            started_at.clone(),
            "--timeout".into(),
            secs(gates.remaining()),
        ]);
        let what = format!("{component} start-up log");
        if let Err(f) = tools::gate(log, &what, &logscan, &args, &gates) {
            return Err(stopped_again(&s, log, &deadline, f));
        }
    }
    match overall(&s, &gates, log) {
        Overall::AllRunning => {}
        Overall::AllStopped => {
            return Err(stopped_again(
                &s,
                log,
                &deadline,
                Failure::generic("the services said ready, then none runs"),
            ))
        }
        Overall::Partly(why) | Overall::Unknown(why) => {
            return Err(stopped_again(&s, log, &deadline, Failure::generic(why)))
        }
    }
    if let Some(epoch) = epoch {
        let r = Record {
            epoch,
            started_at: started_at.clone(),
            node: s.node.clone(),
        };
        if let Err(e) = record::write(&record_path, &r) {
            // Not fatal: the next start here checks the replica again.
            log.warn(&format!("cannot record the gated start: {e}"));
        }
    }
    log.info(&format!(
        "started through the gates on {} ({} services)",
        s.node,
        s.services.names().len()
    ));
    Ok(())
}

/// The replica check on a failover node (and with maestro-sync, the
/// generation pinned), unless Maestro already started here through the
/// gates at this same fence epoch (see [`crate::record`]).
fn replica_gate(
    s: &Settings,
    log: &Log,
    gates: &Deadline,
    record_path: &std::path::Path,
    epoch: u64,
) -> Result<(), Failure> {
    let Some(replica) = &s.replica else {
        return Ok(());
    };
    let earlier = match record::read(record_path) {
        Ok(r) => r,
        Err(e) => {
            log.warn(&format!("ignoring the record of an earlier start: {e}"));
            None
        }
    };
    match earlier {
        Some(r) if r.epoch == epoch => log.info(&format!(
            "replica check not repeated: Maestro started on this node through the gates at {} at the same fence epoch {epoch}, so the data is its own since (remove {} to check it again)",
            r.started_at,
            record_path.display()
        )),
        _ => {
            let verify = tools::require("maestro-snapshot-verify")?;
            let mut args = s.tool_args();
            args.push("check".into());
            args.extend(replica.check_args());
            tools::gate(
                log,
                "replica check",
                &verify,
                &args,
                gates,
            )?;
        }
    }
    if s.uses_sync() {
        let sync = tools::require("maestro-sync")?;
        let mut args = s.tool_args();
        args.push("hold".into());
        tools::gate(log, "maestro-sync hold", &sync, &args, gates)?;
    }
    Ok(())
}

/// A start that failed after the services were started leaves nothing
/// running: what does not hold must not serve.
fn stopped_again(s: &Settings, log: &Log, deadline: &Deadline, failure: Failure) -> Failure {
    log.err(&format!(
        "start failed: {}; stopping the services again",
        failure.reason
    ));
    match stop_services(s, log, deadline) {
        Ok(()) => log.info("the services are stopped again"),
        Err(f) => log.err(&format!("stopping them again: {}", f.reason)),
    }
    failure
}

/// Stops every service in reverse order, then waits (bounded) until each
/// is seen stopped.
fn stop_services(s: &Settings, log: &Log, deadline: &Deadline) -> Result<(), Failure> {
    for name in s.services.names().iter().rev() {
        match s.services.state(name, deadline) {
            State::Stopped => {
                log.debug(&format!("{name} is stopped"));
                continue;
            }
            State::Running => {}
            State::Unknown(why) => log.warn(&format!("{name}: {why}; stopping it anyway")),
        }
        log.info(&format!(
            "stopping {name}: {}",
            s.services.shown("stop", name)
        ));
        if let Err(e) = s.services.act("stop", name, deadline) {
            // The state below decides; a stop command may fail for a
            // service that ended on its own meanwhile.
            log.warn(&format!("stopping {name}: {e}"));
        }
    }
    loop {
        let mut up = Vec::new();
        for name in s.services.names() {
            match s.services.state(name, deadline) {
                State::Stopped => {}
                State::Running => up.push(format!("{name} still runs")),
                State::Unknown(why) => up.push(format!("{name}: {why}")),
            }
        }
        if up.is_empty() {
            return Ok(());
        }
        if deadline.remaining() < Duration::from_millis(500) {
            return Err(Failure::generic(format!(
                "not stopped within the stop timeout: {}",
                up.join("; ")
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn stop(env: &Env, log: &Log) -> Result<(), Failure> {
    let deadline = Deadline::new(timeout(env, "stop"));
    let s = match Settings::resolve(env) {
        Ok(s) => s,
        Err(f) if f.status == OcfStatus::ErrInstalled => {
            log.info(&format!("{}: nothing of it can run here", f.reason));
            return Ok(());
        }
        Err(f) => return Err(f),
    };
    stop_services(&s, log, &deadline)?;
    log.info("stopped: every service is seen stopped");
    Ok(())
}

pub fn monitor(env: &Env, log: &Log) -> Result<OcfStatus, Failure> {
    let deadline = Deadline::new(timeout(env, "monitor"));
    let depth = env.check_level()?;
    let s = match Settings::resolve(env) {
        Ok(s) => s,
        Err(f) if f.status == OcfStatus::ErrInstalled && env.is_probe() => {
            log.debug(&format!("probe: {}: not running here", f.reason));
            return Ok(OcfStatus::NotRunning);
        }
        Err(f) => return Err(f),
    };
    match overall(&s, &deadline, log) {
        Overall::AllStopped => return Ok(OcfStatus::NotRunning),
        Overall::AllRunning => {}
        Overall::Partly(why) | Overall::Unknown(why) => return Err(Failure::generic(why)),
    }
    if depth >= 10 {
        use maestro_watch::probe::{run_one, ProbeSpec, ProbeState};
        let outcome = run_one(
            &ProbeSpec::Http {
                url: s.http_url.clone(),
                expect: Vec::new(),
            },
            deadline.remaining(),
        );
        if outcome.state != ProbeState::Up {
            return Err(Failure::generic(format!(
                "the LUI does not answer at {}: {}",
                s.http_url, outcome.detail
            )));
        }
        log.debug(&format!("{}: {}", s.http_url, outcome.detail));
    }
    if depth >= 20 {
        let Some(message) = &s.smoketest_message else {
            return Err(Failure::configured(
                "a monitor of depth 20 needs the smoketest_message parameter (a saved test mailing)",
            ));
        };
        let smoketest = tools::require("maestro-smoketest")?;
        let mut args = s.tool_args();
        args.extend([
            "click".into(),
            "--message".into(),
            message.display().to_string(),
        ]);
        tools::gate(log, "smoketest", &smoketest, &args, &deadline)?;
    }
    Ok(OcfStatus::Success)
}
