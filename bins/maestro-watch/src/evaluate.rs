//! One evaluation: probe from here and from the witnesses, judge this
//! host's health, decide, advance the threshold timer, and describe it all
//! as a report.

use crate::decision::{self, Health, Verdict, WitnessView};
use crate::probe::{self, ProbeOutcome, ProbeState};
use crate::settings::{DecideSettings, ProbeSettings};
use crate::timer::{self, TimerState};
use maestro_common::catalog::{Catalog, CatalogError};
use maestro_common::perfdata::{Perfdata, Range, Uom};
use maestro_common::report::{Check, Finding, Report};
use maestro_common::Status;
use std::time::Duration;

/// The watcher's answer, as states a person and a script can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum WatchState {
    /// The primary answers.
    Up,
    /// Every probe fails and everyone agrees, but not yet for the threshold.
    Suspect,
    /// Confirmed: every probe has failed for longer than the threshold.
    Down,
    /// This host cannot reach the primary, a witness can.
    Partition,
    /// Not enough evidence (this host may be cut off).
    Unknown,
}

impl WatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchState::Up => "UP",
            WatchState::Suspect => "SUSPECT",
            WatchState::Down => "DOWN",
            WatchState::Partition => "PARTITION",
            WatchState::Unknown => "UNKNOWN",
        }
    }
}

pub struct Evaluation {
    pub target: String,
    pub local: Vec<ProbeOutcome>,
    pub gateway: Option<ProbeOutcome>,
    pub witnesses: Vec<WitnessView>,
    pub health: Health,
    pub verdict: Verdict,
    pub timer: TimerState,
    pub now_ms: i64,
    pub threshold: Duration,
    pub state: WatchState,
    pub status: Status,
    pub message: String,
}

/// What the probes saw, before it is judged.
pub struct Observation {
    pub local: Vec<ProbeOutcome>,
    pub gateway: Option<ProbeOutcome>,
    pub witnesses: Vec<WitnessView>,
}

/// Probe from here, the gateway and the witnesses, all at once: an
/// observation takes about one probe timeout (or the witnesses' bound),
/// not their sum.
pub fn observe(probes: &ProbeSettings, decide: &DecideSettings) -> Observation {
    let gateway_spec = decide.gateway.clone();
    let timeout = probes.timeout;
    let (local, gateway, witnesses) = std::thread::scope(|s| {
        let witnesses =
            s.spawn(|| crate::witness::ask_all(&decide.witnesses, &probes.probes, timeout));
        let gateway = s.spawn(|| gateway_spec.as_ref().map(|g| probe::run_one(g, timeout)));
        let local = probe::run_all(&probes.probes, timeout);
        let gateway = gateway.join().unwrap_or(None);
        let witnesses = witnesses.join().unwrap_or_default();
        (local, gateway, witnesses)
    });
    Observation {
        local,
        gateway,
        witnesses,
    }
}

pub fn evaluate(
    probes: &ProbeSettings,
    decide: &DecideSettings,
    catalog: &mut Catalog,
) -> Result<Evaluation, CatalogError> {
    judge(observe(probes, decide), probes, decide, catalog)
}

/// Decide on an observation and advance the threshold timer.
pub fn judge(
    seen: Observation,
    probes: &ProbeSettings,
    decide: &DecideSettings,
    catalog: &mut Catalog,
) -> Result<Evaluation, CatalogError> {
    let Observation {
        local,
        gateway,
        witnesses,
    } = seen;
    let timeout = probes.timeout;
    let health = decision::health(gateway.as_ref(), &witnesses);
    let verdict = decision::decide(&local, &witnesses, &health);
    let down_now = matches!(verdict, Verdict::DownNow { .. });
    let now = timer::Now::read();
    let now_ms = now.wall;
    // Evaluations are `interval` apart plus however long one takes, so the
    // gap that still counts as continuous watching allows for both.
    let evaluation_bound =
        timeout + Duration::from_millis(500) + crate::witness::bound(&decide.witnesses, timeout);
    let max_gap_ms =
        i64::try_from((decide.interval * 3 + evaluation_bound).as_millis()).unwrap_or(i64::MAX);
    let target = probes
        .target
        .clone()
        .unwrap_or_else(|| probes.probes[0].name());
    let preliminary = match &verdict {
        Verdict::DownNow { .. } => "SUSPECT",
        Verdict::Up { .. } => "UP",
        Verdict::Partition { .. } => "PARTITION",
        Verdict::Unknown { .. } => "UNKNOWN",
    };
    let timer = timer::record(catalog, &target, down_now, preliminary, now, max_gap_ms)?;
    let threshold_ms = i64::try_from(decide.threshold.as_millis()).unwrap_or(i64::MAX);
    let (state, status, message) = match &verdict {
        Verdict::Up { warnings } if warnings.is_empty() => (
            WatchState::Up,
            Status::Ok,
            "the primary answers".to_string(),
        ),
        Verdict::Up { warnings } => (
            WatchState::Up,
            Status::Warning,
            format!("the primary answers; {}", warnings.join("; ")),
        ),
        Verdict::DownNow { evidence } => {
            let down_for = timer.down_for_ms().unwrap_or(0);
            if down_for >= threshold_ms {
                (
                    WatchState::Down,
                    Status::Critical,
                    format!(
                        "primary DOWN: {evidence}, for {} (threshold {})",
                        secs(down_for),
                        secs(threshold_ms)
                    ),
                )
            } else {
                (
                    WatchState::Suspect,
                    Status::Warning,
                    format!(
                        "{evidence} for {}, below the threshold of {}",
                        secs(down_for),
                        secs(threshold_ms)
                    ),
                )
            }
        }
        Verdict::Partition { reason } => (
            WatchState::Partition,
            Status::Warning,
            format!("not DOWN: {reason}"),
        ),
        Verdict::Unknown { reason } => (
            WatchState::Unknown,
            Status::Unknown,
            format!("cannot decide: {reason}"),
        ),
    };
    if state == WatchState::Down {
        timer::record(catalog, &target, true, "DOWN", now, max_gap_ms)?;
    }
    Ok(Evaluation {
        target,
        local,
        gateway,
        witnesses,
        health,
        verdict,
        timer,
        now_ms,
        threshold: decide.threshold,
        state,
        status,
        message,
    })
}

fn secs(ms: i64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// One finding a probe; a failing probe is a WARNING on its own: only the
/// decision says CRITICAL.
fn probe_findings(check: &mut Check, probes: &[ProbeOutcome]) {
    for p in probes {
        let status = if p.state == ProbeState::Up {
            Status::Ok
        } else {
            Status::Warning
        };
        let id = match p.state {
            ProbeState::Up => "up",
            ProbeState::Down => "down",
            ProbeState::Error => "error",
        };
        check.add_finding(
            Finding::new(status, id, format!("{}: {}", p.name, p.detail))
                .detail("elapsed_ms", p.elapsed_ms),
        );
    }
}

pub fn probe_perfdata(p: &ProbeOutcome) -> Perfdata {
    let label = p.name.clone();
    if p.state == ProbeState::Up {
        Perfdata::new(label, p.elapsed_ms / 1000.0, Uom::Seconds).with_min(0.0)
    } else {
        Perfdata::unknown(label, Uom::Seconds)
    }
}

impl Evaluation {
    pub fn down_for(&self) -> Option<Duration> {
        self.timer
            .down_for_ms()
            .map(|ms| Duration::from_millis(ms as u64))
    }

    pub fn report(&self, report: &mut Report) {
        let up = self
            .local
            .iter()
            .filter(|p| p.state == ProbeState::Up)
            .count();
        let mut local = Check::ok(
            "local",
            format!("{up} of {} probes answer from here", self.local.len()),
        );
        probe_findings(&mut local, &self.local);
        for p in &self.local {
            local.perfdata.push(probe_perfdata(p));
        }
        report.push(local);
        for w in &self.witnesses {
            let mut c = Check::ok(format!("witness {}", w.name), w.detail.clone());
            if !w.reachable {
                c.add_finding(Finding::new(
                    Status::Warning,
                    "unreachable",
                    w.detail.clone(),
                ));
            }
            probe_findings(&mut c, &w.probes);
            report.push(c);
        }
        let mut health = match &self.health {
            Health::Healthy(m) => Check::ok("self-health", m.clone()),
            Health::Unhealthy(m) => Check::new("self-health", Status::Warning, m.clone()),
            Health::Unproven(m) => Check::new("self-health", Status::Warning, m.clone()),
        };
        if let Some(g) = &self.gateway {
            health = health.detail("gateway", format!("{}: {}", g.name, g.detail));
        }
        report.push(health);
        let threshold_s = self.threshold.as_secs_f64();
        let down_for_s = self.down_for().map_or(0.0, |d| d.as_secs_f64());
        let reachable = self.witnesses.iter().filter(|w| w.reachable).count();
        let decision = Check::new("decision", self.status, self.message.clone())
            .detail("state", self.state.as_str())
            .detail("target", self.target.clone())
            .perf(
                Perfdata::new("down_for", down_for_s, Uom::Seconds)
                    .with_crit(Range::above(threshold_s))
                    .with_min(0.0),
            )
            .perf(
                Perfdata::count("witnesses_reachable", reachable as u64)
                    .with_max(self.witnesses.len() as f64),
            );
        report.push(decision);
        report.summary = Some(format!("{}: {}", self.state.as_str(), self.message));
    }
}
