//! The decision, as a pure function of what the probes saw.
//!
//! The primary is DOWN only when every probe fails from this host AND the
//! witnesses agree AND this host can prove it is itself connected. Anything
//! less is not an outage: a blocked ping, a cut link between the two
//! servers while the primary still serves the Internet, or this host being
//! cut off from everything must never start a failover.

use crate::probe::{ProbeOutcome, ProbeState};

/// What one witness saw of the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessView {
    pub name: String,
    /// The witness answered over SSH and its probe output could be read.
    pub reachable: bool,
    pub probes: Vec<ProbeOutcome>,
    /// Why it is unreachable, or a summary of what it saw.
    pub detail: String,
}

impl WitnessView {
    /// Some probe from the witness reached the primary.
    pub fn sees_up(&self) -> bool {
        self.reachable && self.probes.iter().any(|p| p.state == ProbeState::Up)
    }

    /// Every probe from the witness ran and failed.
    pub fn sees_down(&self) -> bool {
        self.reachable
            && !self.probes.is_empty()
            && self.probes.iter().all(|p| p.state == ProbeState::Down)
    }
}

/// Whether this host can show that it is connected.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Healthy(String),
    Unhealthy(String),
    /// Neither a gateway nor a witness is configured: nothing can prove it.
    Unproven(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Some probe reaches the primary. `warnings` name probes that fail.
    Up { warnings: Vec<String> },
    /// Every probe fails and every vantage point agrees, as of now. The
    /// threshold timer decides whether that is a confirmed outage yet.
    DownNow { evidence: String },
    /// This host cannot reach the primary but a witness can: the network
    /// between them is at fault, not the primary.
    Partition { reason: String },
    /// Not enough evidence either way.
    Unknown { reason: String },
}

pub fn health(gateway: Option<&ProbeOutcome>, witnesses: &[WitnessView]) -> Health {
    let reachable = witnesses.iter().filter(|w| w.reachable).count();
    match gateway {
        Some(g) if g.state == ProbeState::Up => {
            Health::Healthy(format!("gateway {} answers", g.name))
        }
        _ if reachable > 0 => Health::Healthy(format!("{reachable} witness(es) reachable")),
        Some(g) => Health::Unhealthy(format!(
            "gateway {}: {}; no witness reachable",
            g.name, g.detail
        )),
        None if witnesses.is_empty() => Health::Unproven(
            "no gateway and no witness configured: this host cannot prove it is connected".into(),
        ),
        None => Health::Unhealthy("no witness reachable and no gateway configured".into()),
    }
}

pub fn decide(local: &[ProbeOutcome], witnesses: &[WitnessView], health: &Health) -> Verdict {
    if local.is_empty() {
        return Verdict::Unknown {
            reason: "no probe is configured".into(),
        };
    }
    // Only a TCP or HTTP answer shows that Maestro serves: a kernel answers
    // ping while Maestro hangs. ICMP can keep the verdict from DOWN, never
    // make it UP.
    let service_up = local
        .iter()
        .any(|p| p.state == ProbeState::Up && !p.spec.is_icmp());
    let failing: Vec<&ProbeOutcome> = local.iter().filter(|p| p.state != ProbeState::Up).collect();
    if service_up {
        let mut warnings: Vec<String> = failing
            .iter()
            .map(|p| format!("{}: {}", p.name, p.detail))
            .collect();
        let only_icmp = !failing.is_empty() && failing.iter().all(|p| p.spec.is_icmp());
        if only_icmp {
            warnings.insert(
                0,
                "ICMP fails while TCP/HTTP answer: ping is blocked, the primary is up".into(),
            );
        }
        return Verdict::Up { warnings };
    }
    if let Some(p) = local.iter().find(|p| p.state == ProbeState::Up) {
        return Verdict::Unknown {
            reason: format!(
                "no TCP or HTTP probe answers, but {} does: the host is there and Maestro may hang; ping alone is not an answer from Maestro",
                p.name
            ),
        };
    }
    if let Some(e) = local.iter().find(|p| p.state == ProbeState::Error) {
        return Verdict::Unknown {
            reason: format!("probe {} could not run: {}", e.name, e.detail),
        };
    }
    if let Some(w) = witnesses.iter().find(|w| w.sees_up()) {
        return Verdict::Partition {
            reason: format!(
                "every probe fails from here, but witness {} still reaches the primary",
                w.name
            ),
        };
    }
    let configured = witnesses.len();
    let reachable: Vec<&WitnessView> = witnesses.iter().filter(|w| w.reachable).collect();
    if configured > 0 && reachable.len() * 2 <= configured {
        return Verdict::Unknown {
            reason: format!(
                "only {} of {configured} witnesses reachable: this host may be cut off, not the primary",
                reachable.len()
            ),
        };
    }
    let agreeing = reachable.iter().filter(|w| w.sees_down()).count();
    if agreeing * 2 <= reachable.len() && !reachable.is_empty() {
        return Verdict::Unknown {
            reason: format!(
                "only {agreeing} of {} reachable witnesses see the primary down",
                reachable.len()
            ),
        };
    }
    match health {
        Health::Healthy(_) => {
            Verdict::DownNow {
                evidence: if configured == 0 {
                    format!("all {} probes fail from here", local.len())
                } else {
                    format!("all {} probes fail from here and from {agreeing} of {configured} witnesses", local.len())
                },
            }
        }
        Health::Unhealthy(r) | Health::Unproven(r) => Verdict::Unknown { reason: r.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeSpec;

    fn probe(spec: ProbeSpec, state: ProbeState) -> ProbeOutcome {
        ProbeOutcome {
            name: spec.name(),
            spec,
            state,
            detail: format!("{state:?}"),
            elapsed_ms: 1.0,
        }
    }
    fn tcp(state: ProbeState) -> ProbeOutcome {
        probe(
            ProbeSpec::Tcp {
                host: "p".into(),
                port: 80,
            },
            state,
        )
    }
    fn icmp(state: ProbeState) -> ProbeOutcome {
        probe(ProbeSpec::Icmp { host: "p".into() }, state)
    }
    fn witness(name: &str, reachable: bool, state: ProbeState) -> WitnessView {
        WitnessView {
            name: name.into(),
            reachable,
            probes: if reachable { vec![tcp(state)] } else { vec![] },
            detail: String::new(),
        }
    }
    fn healthy() -> Health {
        Health::Healthy("gw".into())
    }
    use ProbeState::{Down, Error, Up};

    #[test]
    fn a_service_answer_is_up_and_icmp_only_failure_is_a_warning() {
        assert_eq!(
            decide(&[tcp(Up)], &[], &healthy()),
            Verdict::Up { warnings: vec![] }
        );
        match decide(&[tcp(Up), icmp(Down)], &[], &healthy()) {
            Verdict::Up { warnings } => {
                assert!(warnings[0].contains("ping is blocked"), "{warnings:?}")
            }
            v => panic!("{v:?}"),
        }
        // ICMP answering while TCP fails is not "up": a kernel answers ping
        // while Maestro hangs. It is not an outage either.
        match decide(&[tcp(Down), icmp(Up)], &[], &healthy()) {
            Verdict::Unknown { reason } => {
                assert!(
                    reason.contains("icmp p") && reason.contains("Maestro may hang"),
                    "{reason}"
                )
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn all_local_failures_with_agreeing_witnesses_and_health_is_down() {
        let w = [witness("w1", true, Down)];
        assert!(matches!(
            decide(&[tcp(Down), icmp(Down)], &w, &healthy()),
            Verdict::DownNow { .. }
        ));
    }

    #[test]
    fn a_witness_that_sees_the_primary_makes_a_partition() {
        let w = [
            witness("w1", true, Down),
            witness("w2", true, Up),
            witness("w3", true, Down),
        ];
        assert!(matches!(
            decide(&[tcp(Down)], &w, &healthy()),
            Verdict::Partition { .. }
        ));
    }

    #[test]
    fn without_a_quorum_of_witnesses_it_is_unknown() {
        let w = [
            witness("w1", true, Down),
            witness("w2", false, Down),
            witness("w3", false, Down),
        ];
        match decide(&[tcp(Down)], &w, &healthy()) {
            Verdict::Unknown { reason } => assert!(reason.contains("1 of 3"), "{reason}"),
            v => panic!("{v:?}"),
        }
        let w = [witness("w1", false, Down)];
        assert!(matches!(
            decide(&[tcp(Down)], &w, &health(None, &w)),
            Verdict::Unknown { .. }
        ));
    }

    #[test]
    fn a_probe_that_could_not_run_is_no_evidence() {
        assert!(matches!(
            decide(&[tcp(Down), icmp(Error)], &[], &healthy()),
            Verdict::Unknown { .. }
        ));
        assert!(matches!(
            decide(&[], &[], &healthy()),
            Verdict::Unknown { .. }
        ));
    }

    #[test]
    fn an_unproven_or_unhealthy_host_never_decides_down() {
        let unproven = health(None, &[]);
        assert!(matches!(unproven, Health::Unproven(_)));
        assert!(matches!(
            decide(&[tcp(Down)], &[], &unproven),
            Verdict::Unknown { .. }
        ));
        let gw_down = tcp(Down);
        let unhealthy = health(Some(&gw_down), &[]);
        assert!(matches!(unhealthy, Health::Unhealthy(_)));
        assert!(matches!(
            decide(&[tcp(Down)], &[], &unhealthy),
            Verdict::Unknown { .. }
        ));
        let gw_up = tcp(Up);
        assert!(matches!(health(Some(&gw_up), &[]), Health::Healthy(_)));
    }

    #[test]
    fn witnesses_that_cannot_tell_do_not_count_as_agreeing() {
        let w = [
            witness("w1", true, Error),
            witness("w2", true, Error),
            witness("w3", true, Down),
        ];
        assert!(matches!(
            decide(&[tcp(Down)], &w, &healthy()),
            Verdict::Unknown { .. }
        ));
    }
}
