//! The `ip` method: a floating service address, for a pair without
//! keepalived or Pacemaker's IPaddr2. `move` makes sure no other machine
//! answers for it (refused unless the old primary is fenced), adds it to
//! the interface, announces it, and has every witness connect to it: the
//! connection must read the token this run serves here. `undo` removes it.
//!
//! The address is added with a host prefix (/32, /128) unless configured
//! otherwise: added with the prefix of an address the interface already
//! has, it becomes that address's *secondary* and is deleted with it
//! unless the interface has `promote_secondaries` set. The report says so.

use crate::neighbour::{self, Probe};
use crate::settings::IpSettings;
use crate::token::{Listen, TokenServer};
use crate::witness::{self, Landed};
use crate::{fenced, human, Direction, Env};
use maestro_common::perfdata::Perfdata;
use maestro_common::{Check, Finding, Status};
use maestro_fence::process;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const NAME: &str = "ip";

/// The address's state on the interface, from `ip -j addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrState {
    Absent,
    Present {
        prefix: u8,
        secondary: bool,
        tentative: bool,
        dadfailed: bool,
    },
}

fn ip_cmd(args: &[String], timeout: Duration) -> Result<String, String> {
    let out = process::run("ip", args, b"", timeout).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "ip {} exited {:?}: {}",
            args.join(" "),
            out.code,
            out.stderr.trim()
        ))
    }
}

/// Reads the address's state on `interface` from `ip -j addr show`.
pub fn addr_state(interface: &str, ip: IpAddr, timeout: Duration) -> Result<AddrState, String> {
    let json = ip_cmd(
        &[
            "-j".into(),
            "addr".into(),
            "show".into(),
            "dev".into(),
            interface.into(),
        ],
        timeout,
    )?;
    parse_addr_state(&json, ip)
}

fn parse_addr_state(json: &str, ip: IpAddr) -> Result<AddrState, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("cannot read `ip -j addr`: {e}"))?;
    for link in v.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            if a["local"].as_str().and_then(|l| l.parse::<IpAddr>().ok()) == Some(ip) {
                return Ok(AddrState::Present {
                    prefix: a["prefixlen"].as_u64().unwrap_or(0) as u8,
                    secondary: a["secondary"].as_bool().unwrap_or(false),
                    tentative: a["tentative"].as_bool().unwrap_or(false),
                    dadfailed: a["dadfailed"].as_bool().unwrap_or(false),
                });
            }
        }
    }
    Ok(AddrState::Absent)
}

fn promote_secondaries(interface: &str) -> bool {
    let p = std::path::PathBuf::from(format!(
        "/proc/sys/net/ipv4/conf/{interface}/promote_secondaries"
    ));
    maestro_common::fsio::read_regular_to_string(&p, 64).is_ok_and(|t| t.trim() == "1")
}

fn add_args(s: &IpSettings) -> Vec<String> {
    vec![
        "addr".into(),
        "add".into(),
        format!("{}/{}", s.address, s.prefix),
        "dev".into(),
        s.interface.clone(),
    ]
}

fn del_args(s: &IpSettings, prefix: u8) -> Vec<String> {
    vec![
        "addr".into(),
        "del".into(),
        format!("{}/{}", s.address, prefix),
        "dev".into(),
        s.interface.clone(),
    ]
}

pub fn run(env: &Env, direction: Direction) -> Check {
    let Some(s) = env.settings.ip.as_ref() else {
        return Check::new(NAME, Status::Unknown, "the ip method is not configured");
    };
    let started = Instant::now();
    let c = match direction {
        Direction::Move => take(env, s),
        Direction::Undo => release(env, s),
    };
    c.detail("address", format!("{}/{}", s.address, s.prefix))
        .detail("interface", s.interface.clone())
        .timed(started.elapsed())
}

fn release(env: &Env, s: &IpSettings) -> Check {
    if env.dry_run {
        return Check::ok(
            NAME,
            format!("would run locally: ip {}", del_args(s, s.prefix).join(" ")),
        );
    }
    let prefix = match addr_state(&s.interface, s.address, env.step()) {
        Err(e) => {
            return Check::new(
                NAME,
                Status::Unknown,
                format!("cannot tell whether {} is here: {e}", s.address),
            )
        }
        Ok(AddrState::Absent) => {
            return Check::ok(
                NAME,
                format!(
                    "{} is not on {}: nothing to release",
                    s.address, s.interface
                ),
            )
        }
        Ok(AddrState::Present { prefix, .. }) => prefix,
    };
    if let Err(e) = ip_cmd(&del_args(s, prefix), env.step()) {
        return Check::new(NAME, Status::Critical, format!("not released: {e}"));
    }
    match addr_state(&s.interface, s.address, env.step()) {
        Ok(AddrState::Absent) => Check::ok(
            NAME,
            format!(
                "{} released from {}: the old primary may take it now (maestro-redirect move there)",
                s.address, s.interface
            ),
        ),
        Ok(AddrState::Present { .. }) => Check::new(
            NAME,
            Status::Critical,
            format!("{} is still on {} after `ip addr del`", s.address, s.interface),
        ),
        Err(e) => Check::new(NAME, Status::Unknown, format!("cannot verify the release: {e}")),
    }
}

fn take(env: &Env, s: &IpSettings) -> Check {
    let witnesses = &env.settings.witnesses;
    if env.dry_run {
        let (prog, args) = neighbour::probe_command(&s.interface, s.address);
        let names: Vec<String> = witnesses.iter().map(witness::label).collect();
        return Check::ok(
            NAME,
            format!(
                "would run locally: {prog} {} (refuse if another machine answers, unless the primary is fenced); ip {}; {}; then serve a token on {}:{} and have each witness connect there ({})",
                args.join(" "),
                add_args(s).join(" "),
                neighbour::announce_text(&s.interface, s.address),
                s.address,
                s.verify_port,
                if names.is_empty() { "none configured: it could not be verified".to_string() } else { names.join(", ") }
            ),
        );
    }
    let mut c = Check::ok(NAME, "");
    let state = match addr_state(&s.interface, s.address, env.step()) {
        Ok(st) => st,
        Err(e) => {
            return Check::new(
                NAME,
                Status::Critical,
                format!("not redirected: interface {}: {e}", s.interface),
            )
        }
    };
    // Asked even when the address is here already: another machine may
    // hold it too, and announcing it then would only split the clients.
    let ours = neighbour::interface_mac(&s.interface).ok();
    let probe = match neighbour::probe(
        &s.interface,
        s.address,
        env.step().max(Duration::from_secs(3)),
    ) {
        // Our own answer (a looped-back solicitation) is no other holder.
        Probe::Answered { mac: Some(m) } if ours.is_some_and(|o| neighbour::mac_text(&o) == m) => {
            Probe::Free
        }
        p => p,
    };
    let here = state != AddrState::Absent;
    match probe {
        Probe::Free => {}
        Probe::CannotTell(why) => {
            return Check::new(
                NAME,
                Status::Unknown,
                format!(
                    "not taken: cannot tell whether another machine holds {}: {why}",
                    s.address
                ),
            )
        }
        Probe::Answered { mac } => {
            let holder = mac.map_or("another machine".to_string(), |m| {
                format!("the machine with MAC {m}")
            });
            let also = if here {
                " (it is on this server too)"
            } else {
                ""
            };
            let fence = match (&env.state_dir, &env.settings.primary_host) {
                (Some(dir), Some(primary)) => fenced::current_fence(dir, primary),
                _ => Ok(None),
            };
            match fence {
                Ok(Some(f)) => c.add_finding(
                    Finding::new(
                        Status::Warning,
                        "ip-still-answers",
                        format!(
                            "{} still answers from {holder}{also}; taken anyway because the primary is fenced (epoch {}, {}): that machine must drop it, or clients reach either",
                            s.address,
                            f.epoch,
                            f.level.as_deref().unwrap_or("level unknown")
                        ),
                    )
                    .at(s.interface.clone())
                    .detail("fence_epoch", f.epoch),
                ),
                Ok(None) => {
                    return Check::new(
                        NAME,
                        Status::Critical,
                        format!(
                            "refused: {} still answers on {} from {holder}{also} (the old primary?), and the primary is not fenced: fence it first (maestro-fence fence) or take the address off it",
                            s.address, s.interface
                        ),
                    )
                    .with_finding(
                        Finding::new(
                            Status::Critical,
                            "ip-still-answers",
                            format!("{} answers from {holder}", s.address),
                        )
                        .at(s.interface.clone()),
                    )
                }
                Err(e) => {
                    return Check::new(
                        NAME,
                        Status::Critical,
                        format!(
                            "refused: {} still answers from {holder}, and the fence journal cannot be read: {e}",
                            s.address
                        ),
                    )
                }
            }
        }
    }
    let mut added = false;
    if !here {
        if let Err(e) = ip_cmd(&add_args(s), env.step()) {
            return Check::new(NAME, Status::Critical, format!("not redirected: {e}"));
        }
        added = true;
    }
    c = c.detail("added", added);
    // IPv6: the kernel's duplicate address detection runs first (~1s).
    let dad_until = Instant::now() + env.step().max(Duration::from_secs(3));
    let state = loop {
        match addr_state(&s.interface, s.address, env.step()) {
            Ok(AddrState::Present {
                tentative: true,
                dadfailed: false,
                ..
            }) if Instant::now() < dad_until => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(st) => break st,
            Err(e) => return c.set(Status::Critical, format!("not verified: {e}")),
        }
    };
    match state {
        AddrState::Absent => {
            return c.set(
                Status::Critical,
                format!("not redirected: {} is not on {} after `ip addr add`", s.address, s.interface),
            )
        }
        AddrState::Present { dadfailed: true, .. } => {
            let _ = ip_cmd(&del_args(s, s.prefix), env.step());
            return c.set(
                Status::Critical,
                format!("refused: the kernel's duplicate address detection found {} on another machine; removed it again", s.address),
            );
        }
        AddrState::Present { tentative: true, .. } => {
            return c.set(
                Status::Unknown,
                format!("{} is still tentative (duplicate address detection) after {}", s.address, human(env.step())),
            )
        }
        AddrState::Present { secondary: true, prefix, .. } if !promote_secondaries(&s.interface) => c.add_finding(
            Finding::new(
                Status::Warning,
                "ip-secondary",
                format!(
                    "{}/{prefix} is a secondary address of {}: deleting the interface's primary address of that subnet deletes it too; use a /32 (/128) or set net.ipv4.conf.{}.promote_secondaries=1",
                    s.address, s.interface, s.interface
                ),
            )
            .at(s.interface.clone()),
        ),
        AddrState::Present { .. } => {}
    }
    let announced_at = Instant::now();
    if let Err(e) = neighbour::announce(
        &s.interface,
        s.address,
        env.step().max(Duration::from_secs(3)),
    ) {
        c.add_finding(
            Finding::new(
                Status::Warning,
                "ip-not-announced",
                format!("the announcement failed ({e}): neighbours learn the new holder only when their entries expire"),
            )
            .at(s.interface.clone()),
        );
    }
    verify_from_witnesses(env, s, c, announced_at)
}

/// Where a witness's connection landed and when, or why it could not be asked.
type WitnessAnswer = Result<(Landed, Duration), String>;

/// Every witness must connect to the address and read this run's token.
fn verify_from_witnesses(env: &Env, s: &IpSettings, mut c: Check, since: Instant) -> Check {
    let witnesses = &env.settings.witnesses;
    if witnesses.is_empty() {
        return c.set(
            Status::Unknown,
            format!(
                "{} is on {} and announced, but no witness can prove that traffic arrives here: configure [[redirect.witnesses]] (or [[watch.witnesses]])",
                s.address, s.interface
            ),
        );
    }
    let server = match TokenServer::start(s.address, s.verify_port) {
        Ok(Listen::Serving(server)) => server,
        Ok(Listen::PortInUse) => {
            return c.set(
                Status::Unknown,
                format!(
                    "{} is on {}, but port {} is in use here, so no token can be served to prove where connections land: set [redirect] verify_port to a free port the witnesses may reach",
                    s.address, s.interface, s.verify_port
                ),
            )
        }
        Err(e) => return c.set(Status::Unknown, format!("not verified: {e}")),
    };
    // ARP entries move within milliseconds; a witness that still lands
    // elsewhere is asked again until the step's bound.
    let window = env.step();
    let results: Vec<(String, WitnessAnswer)> = std::thread::scope(|scope| {
        let handles: Vec<_> = witnesses
            .iter()
            .map(|w| {
                let server = &server;
                scope.spawn(move || {
                    let client = match witness::connect(w, env.step()) {
                        Ok(cl) => cl,
                        Err(e) => return (witness::label(w), Err(e.to_string())),
                    };
                    let until = Instant::now() + window;
                    loop {
                        let left = until
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_millis(200));
                        let landed = witness::connect_probe(
                            &client,
                            s.address,
                            s.verify_port,
                            Some(server),
                            left.min(window),
                        );
                        if landed == Landed::Here || Instant::now() >= until {
                            return (witness::label(w), Ok((landed, since.elapsed())));
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(witnesses)
            .map(|(h, w)| {
                h.join()
                    .unwrap_or_else(|_| (witness::label(w), Err("the witness check failed".into())))
            })
            .collect()
    });
    let target = format!("{}:{}", s.address, s.verify_port);
    let here = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok((Landed::Here, _))))
        .count();
    // A witness that could not be asked only warns when others proved it.
    let unasked = if here > 0 {
        Status::Warning
    } else {
        Status::Unknown
    };
    let mut slowest = Duration::ZERO;
    for (label, r) in &results {
        let f = match r {
            Ok((Landed::Here, took)) => {
                slowest = slowest.max(*took);
                Finding::new(
                    Status::Ok,
                    "ip-verified",
                    format!("its connection to {target} reached this server ({})", human(*took)),
                )
            }
            Ok((Landed::Elsewhere(answer), _)) => Finding::new(
                Status::Critical,
                "ip-lands-elsewhere",
                format!("its connection to {target} reached another machine (it answered {answer}): the old primary may still hold the address"),
            ),
            Ok((Landed::NoConnection(why), _)) => Finding::new(
                Status::Critical,
                "ip-unreachable",
                format!("cannot connect to {target}: {why}"),
            ),
            Ok((Landed::Reachable, _)) => Finding::new(
                unasked,
                "ip-unproven",
                format!("reached {target}, but where is unknown"),
            ),
            Err(e) => Finding::new(unasked, "witness-unreachable", format!("cannot ask the witness: {e}")),
        };
        c.add_finding(f.at(label.clone()));
    }
    drop(server);
    let total = results.len();
    if here > 0 {
        c = c.perf(Perfdata::seconds("verified", slowest).with_min(0.0));
    }
    if c.status == Status::Critical {
        let msg =
            format!("not redirected: {here} of {total} witnesses reach this server at {target}");
        return c.set(Status::Critical, msg);
    }
    if here == 0 {
        return c.set(
            Status::Unknown,
            format!(
                "{} is on {}, but no witness could be asked: not verified",
                s.address, s.interface
            ),
        );
    }
    let msg = format!(
        "{} is on {} here; {here} of {total} witnesses reach this server at {target}",
        s.address, s.interface
    );
    let status = c.status;
    c.set(status, msg)
}

trait SetStatus {
    fn set(self, status: Status, message: String) -> Check;
}

impl SetStatus for Check {
    /// Sets the message; the status only ever gets worse.
    fn set(mut self, status: Status, message: String) -> Check {
        self.status = self.status.worst(status);
        self.message = message;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_json_is_read() {
        let json = r#"[{"ifname":"eth0","addr_info":[{"family":"inet","local":"198.18.0.2","prefixlen":24},{"family":"inet","local":"198.18.0.20","prefixlen":24,"secondary":true},{"family":"inet6","local":"2001:2::20","prefixlen":64,"tentative":true}]}]"#;
        assert_eq!(
            parse_addr_state(json, "198.18.0.20".parse().unwrap()).unwrap(),
            AddrState::Present {
                prefix: 24,
                secondary: true,
                tentative: false,
                dadfailed: false
            }
        );
        assert_eq!(
            parse_addr_state(json, "2001:2::20".parse().unwrap()).unwrap(),
            AddrState::Present {
                prefix: 64,
                secondary: false,
                tentative: true,
                dadfailed: false
            }
        );
        assert_eq!(
            parse_addr_state(json, "198.18.0.99".parse().unwrap()).unwrap(),
            AddrState::Absent
        );
        assert!(parse_addr_state("not json", "198.18.0.99".parse().unwrap()).is_err());
    }
}
