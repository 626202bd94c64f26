//! The `ip` method: a floating service address, for a pair without
//! keepalived or Pacemaker's IPaddr2.
//!
//! `move` first makes sure it can prove the result and record it, and
//! changes nothing when it cannot: witnesses configured and logged in to,
//! the token's port free on the address, the state catalog writable, time
//! left for every step. Then it asks whether another machine answers for
//! the address (refused unless the old primary is fenced, and then asked
//! again after the announcement: a holder that still answers was not
//! silenced by the fence), adds it to the interface (recorded in the state
//! catalog first), announces it, and has every witness connect to it: the
//! connection must read a token this run serves here. When that does not
//! hold, the address this run added is removed again and the report says
//! so. `undo` removes what `move` recorded and checks every interface.
//!
//! The address is added with a host prefix (/32, /128) unless configured
//! otherwise: added with the prefix of an address the interface already
//! has, it becomes that address's *secondary* and is deleted with it
//! unless the interface has `promote_secondaries` set. The report says so.

use crate::journal::{IpChange, Journal, Pending};
use crate::neighbour::{self, Probe};
use crate::settings::IpSettings;
use crate::token::{Listen, TokenServer};
use crate::witness::{self, Landed, Witness};
use crate::{fenced, human, Direction, Env};
use maestro_common::perfdata::Perfdata;
use maestro_common::{Check, Finding, Status};
use maestro_fence::process;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const NAME: &str = "ip";

/// Where a witness's connection may still take a moment after the
/// announcement (neighbour entries move within milliseconds).
const MIN_VERIFY: Duration = Duration::from_secs(1);

/// The address on one interface, from `ip -j addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub interface: String,
    pub prefix: u8,
    pub secondary: bool,
    pub tentative: bool,
    pub dadfailed: bool,
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

/// Every interface of this host that holds `ip`, from `ip -j addr show`.
pub fn placements(ip: IpAddr, timeout: Duration) -> Result<Vec<Placed>, String> {
    let json = ip_cmd(&["-j".into(), "addr".into(), "show".into()], timeout)?;
    parse_placements(&json, ip)
}

fn parse_placements(json: &str, ip: IpAddr) -> Result<Vec<Placed>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("cannot read `ip -j addr`: {e}"))?;
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            let local = a["local"].as_str().and_then(maestro_common::net::parse_ip);
            if local == Some(ip) {
                out.push(Placed {
                    interface: link["ifname"].as_str().unwrap_or("?").to_string(),
                    prefix: a["prefixlen"].as_u64().unwrap_or(0) as u8,
                    secondary: a["secondary"].as_bool().unwrap_or(false),
                    tentative: a["tentative"].as_bool().unwrap_or(false),
                    dadfailed: a["dadfailed"].as_bool().unwrap_or(false),
                });
            }
        }
    }
    Ok(out)
}

fn interfaces_text(p: &[Placed]) -> String {
    p.iter()
        .map(|p| p.interface.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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

fn del_args(address: IpAddr, prefix: u8, interface: &str) -> Vec<String> {
    vec![
        "addr".into(),
        "del".into(),
        format!("{address}/{prefix}"),
        "dev".into(),
        interface.to_string(),
    ]
}

pub fn run(env: &Env, direction: Direction) -> Check {
    let Some(s) = env.settings.ip.as_ref() else {
        return Check::new(NAME, Status::Unknown, "the ip method is not configured");
    };
    let started = Instant::now();
    let c = match direction {
        Direction::Move if env.dry_run => plan_take(env, s),
        Direction::Undo if env.dry_run => plan_release(env, s),
        Direction::Move => take(env, s),
        Direction::Undo => release(env, s),
    };
    c.detail("address", format!("{}/{}", s.address, s.prefix))
        .detail("interface", s.interface.clone())
        .timed(started.elapsed())
}

fn plan_take(env: &Env, s: &IpSettings) -> Check {
    let (prog, args) = neighbour::probe_command(&s.interface, s.address);
    let names: Vec<String> = env.settings.witnesses.iter().map(witness::label).collect();
    let plan = format!(
        "run locally: {prog} {} (refuse if another machine answers, unless the primary is fenced); ip {} (recorded in the state catalog first); {}; then serve tokens on {}:{} and have each witness connect there ({}); remove the address again if that does not prove it",
        args.join(" "),
        add_args(s).join(" "),
        neighbour::announce_text(&s.interface, s.address),
        s.address,
        env.settings.verify_port,
        if names.is_empty() { "none configured".to_string() } else { names.join(", ") }
    );
    if names.is_empty() {
        return Check::new(
            NAME,
            Status::Unknown,
            format!("dry run: would not take {}: no witness could prove it (configure [[redirect.witnesses]]); the plan: {plan}", s.address),
        )
        .detail("dry_run", true);
    }
    Check::ok(NAME, format!("dry run: would {plan}")).detail("dry_run", true)
}

fn plan_release(env: &Env, s: &IpSettings) -> Check {
    let _ = env;
    Check::ok(
        NAME,
        format!(
            "dry run: would run locally: ip {} if `move` recorded adding it there (the state catalog), then check that no interface holds {}",
            del_args(s.address, s.prefix, &s.interface).join(" "),
            s.address
        ),
    )
    .detail("dry_run", true)
}

fn release(env: &Env, s: &IpSettings) -> Check {
    let unknown = |m: String| Check::new(NAME, Status::Unknown, m);
    let mut journal = match Journal::for_run(env) {
        Ok(j) => j,
        Err(e) => return unknown(format!("cannot tell what `move` added: {e}")),
    };
    let pending: Option<Pending<IpChange>> = match journal.pending(NAME) {
        Ok(p) => p,
        Err(e) => return unknown(format!("cannot tell what `move` added: {e}")),
    };
    let places = match placements(s.address, env.step()) {
        Ok(p) => p,
        Err(e) => return unknown(format!("cannot tell whether {} is here: {e}", s.address)),
    };
    let mark_undone = |journal: &mut Journal, c: Check| -> Check {
        match &pending {
            Some(p) => match journal.undone(p.id) {
                Ok(()) => c,
                Err(e) => c.with_finding(Finding::new(
                    Status::Warning,
                    "journal-not-written",
                    format!("the release is not recorded in the state catalog: {e}"),
                )),
            },
            None => c,
        }
    };
    if places.is_empty() {
        let c = Check::ok(
            NAME,
            format!(
                "{} is on no interface of this server: nothing to release",
                s.address
            ),
        );
        return mark_undone(&mut journal, c);
    }
    let Some(p) = &pending else {
        return Check::new(
            NAME,
            Status::Critical,
            format!(
                "not released: {} is on {} of this server, but no `move` recorded adding it: it is left (remove it by hand if it must go: ip {})",
                s.address,
                interfaces_text(&places),
                del_args(s.address, places[0].prefix, &places[0].interface).join(" ")
            ),
        );
    };
    let recorded = &p.change;
    let mut errors = Vec::new();
    for place in places.iter().filter(|x| x.interface == recorded.interface) {
        if let Err(e) = ip_cmd(
            &del_args(recorded.address, place.prefix, &place.interface),
            env.step(),
        ) {
            errors.push(e);
        }
    }
    match placements(s.address, env.step()) {
        Err(e) => unknown(format!("cannot verify the release: {e}")),
        Ok(left) if left.is_empty() => {
            let c = Check::ok(
                NAME,
                format!(
                    "{} released from {}, and no interface of this server holds it: the old primary may take it now (maestro-redirect move there)",
                    s.address, recorded.interface
                ),
            );
            mark_undone(&mut journal, c)
        }
        Ok(left) => Check::new(
            NAME,
            Status::Critical,
            format!(
                "not released: {} is still on {} of this server{}{}",
                s.address,
                interfaces_text(&left),
                if left.iter().any(|l| l.interface != recorded.interface) {
                    format!(
                        " (`move` added it on {}; the others are not its to remove)",
                        recorded.interface
                    )
                } else {
                    String::new()
                },
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(": {}", errors.join("; "))
                }
            ),
        ),
    }
}

/// Sets the message; the status only ever gets worse.
trait SetStatus {
    fn set(self, status: Status, message: String) -> Check;
}

impl SetStatus for Check {
    fn set(mut self, status: Status, message: String) -> Check {
        self.status = self.status.worst(status);
        self.message = message;
        self
    }
}

/// What a run added, so a failure can take it back.
struct Added {
    id: i64,
}

fn take(env: &Env, s: &IpSettings) -> Check {
    let port = env.settings.verify_port;
    let not_taken = |status: Status, why: String| {
        Check::new(
            NAME,
            status,
            format!("not taken: {why}; nothing was changed"),
        )
    };
    // Everything that could make the result unprovable is checked before
    // the network changes.
    if env.settings.witnesses.is_empty() {
        return not_taken(
            Status::Unknown,
            format!(
                "no witness can prove that traffic for {} arrives here: configure [[redirect.witnesses]] (or [[watch.witnesses]])",
                s.address
            ),
        );
    }
    let needs =
        neighbour::probe_takes(s.address) + neighbour::announce_takes(s.address) + MIN_VERIFY;
    if env.left() < needs {
        return not_taken(
            Status::Unknown,
            format!(
                "{} of the run's deadline is left; the probe, the announcement and a witness's connection take at least {}",
                human(env.left()),
                human(needs)
            ),
        );
    }
    let mut journal = match Journal::for_run(env) {
        Ok(j) => j,
        Err(e) => {
            return not_taken(
                Status::Unknown,
                format!("cannot record what it changes: {e}"),
            )
        }
    };
    let pending: Option<Pending<IpChange>> = match journal.pending(NAME) {
        Ok(p) => p,
        Err(e) => {
            return not_taken(
                Status::Unknown,
                format!("cannot record what it changes: {e}"),
            )
        }
    };
    let places = match placements(s.address, env.step()) {
        Ok(p) => p,
        Err(e) => {
            return not_taken(
                Status::Unknown,
                format!("cannot tell whether {} is here: {e}", s.address),
            )
        }
    };
    if let Some(other) = places.iter().find(|p| p.interface != s.interface) {
        return not_taken(
            Status::Unknown,
            format!(
                "{} is on {} of this server, not on {}: take it off there first, or set [redirect] interface",
                s.address, other.interface, s.interface
            ),
        );
    }
    let here = !places.is_empty();
    let server = match TokenServer::on_address(s.address, port, true) {
        Ok(Listen::Serving(server)) => server,
        Ok(Listen::PortInUse) => {
            return not_taken(
                Status::Unknown,
                format!(
                    "port {port} is in use on {} here, so no token can be served to prove where connections land: set [redirect] verify_port to a free port the witnesses may reach",
                    s.address
                ),
            )
        }
        Err(e) => return not_taken(Status::Unknown, e),
    };
    let logins = witness::login_all(&env.settings.witnesses, env.step());
    if logins.iter().all(|(_, w)| w.is_err()) {
        let mut c = not_taken(
            Status::Unknown,
            format!(
                "no witness could be asked to prove that traffic for {} arrives here",
                s.address
            ),
        );
        for (label, w) in &logins {
            if let Err(e) = w {
                c.add_finding(
                    Finding::new(
                        Status::Unknown,
                        "witness-unreachable",
                        format!("cannot ask the witness: {e}"),
                    )
                    .at(label.clone()),
                );
            }
        }
        return c;
    }

    let mut c = Check::ok(NAME, "");
    // Asked even when the address is here already: another machine may
    // hold it too, and announcing it then would only split the clients.
    let ours = neighbour::interface_mac(&s.interface).ok();
    let not_ours = |p: Probe| match p {
        // Our own answer (a looped-back solicitation) is no other holder.
        Probe::Answered { mac: Some(m) } if ours.is_some_and(|o| neighbour::mac_text(&o) == m) => {
            Probe::Free
        }
        p => p,
    };
    let probe_bound =
        |env: &Env| (neighbour::probe_takes(s.address) + Duration::from_secs(1)).min(env.left());
    let probe = not_ours(neighbour::probe(&s.interface, s.address, probe_bound(env)));
    // The holder the fence should have silenced: asked again after the announcement.
    let mut reprobe: Option<String> = None;
    match probe {
        Probe::Free => {}
        Probe::CannotTell(why) => {
            return not_taken(
                Status::Unknown,
                format!(
                    "cannot tell whether another machine holds {}: {why}",
                    s.address
                ),
            )
        }
        Probe::Answered { mac } => {
            let holder = mac.clone().map_or("another machine".to_string(), |m| {
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
                Ok(Some(f)) => {
                    c.add_finding(
                        Finding::new(
                            Status::Warning,
                            "ip-still-answers",
                            format!(
                                "{} answers from {holder}{also}; taken because the primary is fenced (epoch {}, {}, at {}), and asked again after the announcement",
                                s.address,
                                f.epoch,
                                f.level.as_deref().unwrap_or("level unknown"),
                                f.at
                            ),
                        )
                        .at(s.interface.clone())
                        .detail("fence_epoch", f.epoch),
                    );
                    reprobe = Some(holder);
                }
                Ok(None) => {
                    return Check::new(
                        NAME,
                        Status::Critical,
                        format!(
                            "refused: {} still answers on {} from {holder}{also} (the old primary?), and the primary is not fenced: fence it first (maestro-fence fence) or take the address off it; nothing was changed",
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
                            "refused: {} still answers from {holder}, and the fence journal cannot be read: {e}; nothing was changed",
                            s.address
                        ),
                    )
                }
            }
        }
    }

    // The change: recorded first, so that an interrupted run leaves a
    // record `undo` can act on.
    let mut added: Option<Added> = None;
    if !here {
        let change = IpChange {
            address: s.address,
            prefix: s.prefix,
            interface: s.interface.clone(),
        };
        let id = match journal.record(NAME, &change) {
            Ok(id) => id,
            Err(e) => {
                return not_taken(
                    Status::Unknown,
                    format!("cannot record what it changes: {e}"),
                )
            }
        };
        if let Err(e) = ip_cmd(&add_args(s), env.step()) {
            let _ = journal.forget(id);
            return not_taken(Status::Critical, e);
        }
        added = Some(Added { id });
    } else if pending.is_none() {
        c.add_finding(
            Finding::new(
                Status::Ok,
                "ip-already-here",
                format!(
                    "{} was on {} before this run, not added by a `move`: `undo` will not remove it",
                    s.address, s.interface
                ),
            )
            .at(s.interface.clone()),
        );
    }
    c = c.detail("added", added.is_some());
    let c = after_add(env, s, c, &server, &logins, reprobe.as_deref(), probe_bound);
    match (&added, c.status) {
        (Some(a), Status::Critical | Status::Unknown) => roll_back(env, s, &mut journal, a, c),
        (None, Status::Critical | Status::Unknown) if here => {
            let m = format!(
                "{}; {} was on {} before this run and is left there",
                c.message, s.address, s.interface
            );
            let status = c.status;
            c.set(status, m)
        }
        _ => c,
    }
}

/// From the added address to the witnesses' proof.
fn after_add(
    env: &Env,
    s: &IpSettings,
    mut c: Check,
    server: &TokenServer,
    logins: &[(String, Result<Witness, String>)],
    reprobe: Option<&str>,
    probe_bound: impl Fn(&Env) -> Duration,
) -> Check {
    // IPv6: the kernel's duplicate address detection runs first (~1s).
    let dad_until = Instant::now() + env.step().max(Duration::from_secs(3)).min(env.left());
    let place = loop {
        match placements(s.address, env.step()) {
            Ok(p) => match p.into_iter().find(|p| p.interface == s.interface) {
                Some(p) if p.tentative && !p.dadfailed && Instant::now() < dad_until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                found => break found,
            },
            Err(e) => return c.set(Status::Unknown, format!("not verified: {e}")),
        }
    };
    match place {
        None => {
            return c.set(
                Status::Critical,
                format!("not redirected: {} is not on {} after `ip addr add`", s.address, s.interface),
            )
        }
        Some(p) if p.dadfailed => {
            return c.set(
                Status::Critical,
                format!("refused: the kernel's duplicate address detection found {} on another machine", s.address),
            );
        }
        Some(p) if p.tentative => {
            return c.set(
                Status::Unknown,
                format!("{} is still tentative (duplicate address detection): not verified", s.address),
            )
        }
        Some(p) if p.secondary && !promote_secondaries(&s.interface) => c.add_finding(
            Finding::new(
                Status::Warning,
                "ip-secondary",
                format!(
                    "{}/{} is a secondary address of {}: deleting the interface's primary address of that subnet deletes it too; use a /32 (/128) or set net.ipv4.conf.{}.promote_secondaries=1",
                    s.address, p.prefix, s.interface, s.interface
                ),
            )
            .at(s.interface.clone()),
        ),
        Some(_) => {}
    }
    let announced_at = Instant::now();
    let announce_bound =
        (neighbour::announce_takes(s.address) + Duration::from_secs(1)).min(env.left());
    if let Err(e) = neighbour::announce(&s.interface, s.address, announce_bound) {
        c.add_finding(
            Finding::new(
                Status::Warning,
                "ip-not-announced",
                format!("the announcement failed ({e}): neighbours learn the new holder only when their entries expire"),
            )
            .at(s.interface.clone()),
        );
    }
    c = verify_from_witnesses(env, s, c, server, logins, announced_at);
    if let Some(holder) = reprobe {
        // The fence was trusted to let the address be taken; whether it
        // silenced the other holder is asked now, live.
        let ours = neighbour::interface_mac(&s.interface).ok();
        match neighbour::probe(&s.interface, s.address, probe_bound(env)) {
            Probe::Answered { mac: Some(m) }
                if ours.is_some_and(|o| neighbour::mac_text(&o) == m) => {}
            Probe::Free => c.add_finding(
                Finding::new(
                    Status::Ok,
                    "ip-holder-silent",
                    format!(
                        "after the announcement nobody else answers for {}",
                        s.address
                    ),
                )
                .at(s.interface.clone()),
            ),
            Probe::Answered { mac } => {
                let who = mac.map_or(holder.to_string(), |m| format!("the machine with MAC {m}"));
                c.add_finding(
                    Finding::new(
                        Status::Critical,
                        "ip-still-answers",
                        format!(
                            "{} still answers from {who} after this server took and announced it: the fence did not silence it, and clients may reach either machine",
                            s.address
                        ),
                    )
                    .at(s.interface.clone()),
                );
                let m = format!(
                    "not redirected: {} still answers from {who} after the announcement: the fence did not silence it (take the address off it, or power it off)",
                    s.address
                );
                return c.set(Status::Critical, m);
            }
            Probe::CannotTell(why) => {
                let m = format!(
                    "not verified: whether {holder} still answers for {} cannot be told after the announcement: {why}",
                    s.address
                );
                return c.set(Status::Unknown, m);
            }
        }
    }
    c
}

/// Takes back the address this run added, and says what is left.
fn roll_back(env: &Env, s: &IpSettings, journal: &mut Journal, a: &Added, c: Check) -> Check {
    let status = c.status;
    let del = del_args(s.address, s.prefix, &s.interface);
    // Taking back what was changed is worth a moment past the deadline.
    let bound = env.step().max(Duration::from_secs(2));
    let deleted = ip_cmd(&del, bound);
    let suffix = match placements(s.address, bound) {
        Ok(p) if p.is_empty() => {
            let _ = journal.forget(a.id);
            format!(
                "; {} was removed from {} again (neighbours that took the announcement learn the other holder when their entries expire)",
                s.address, s.interface
            )
        }
        Ok(p) => format!(
            "; {} is still on {} of this server and announced: remove it by hand (ip {})",
            s.address,
            interfaces_text(&p),
            del.join(" ")
        ),
        Err(e) => format!(
            "; whether {} could be removed again is not known ({}{e}): check {} and remove it by hand (ip {})",
            s.address,
            deleted.err().map(|d| format!("{d}; ")).unwrap_or_default(),
            s.interface,
            del.join(" ")
        ),
    };
    let m = format!("{}{suffix}", c.message);
    c.detail("rolled_back", suffix.contains("removed from"))
        .set(status, m)
}

/// A witness, and where its connection landed and how long after the
/// announcement, or why it could not be asked.
type WitnessResult = (String, Result<(Landed, Duration), String>);

/// Every witness must connect to the address and read a token served here.
fn verify_from_witnesses(
    env: &Env,
    s: &IpSettings,
    mut c: Check,
    server: &TokenServer,
    logins: &[(String, Result<Witness, String>)],
    since: Instant,
) -> Check {
    let port = env.settings.verify_port;
    // ARP entries move within milliseconds; a witness that still lands
    // elsewhere is asked again until the step's bound.
    let until = Instant::now() + env.step().min(env.left());
    let results: Vec<WitnessResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = logins
            .iter()
            .map(|(label, w)| {
                scope.spawn(move || {
                    let w = match w {
                        Ok(w) => w,
                        Err(e) => return (label.clone(), Err(e.clone())),
                    };
                    loop {
                        let left = until
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_millis(200));
                        let landed =
                            witness::connect_probe(w, s.address, port, Some(server), true, left);
                        let done = matches!(
                            landed,
                            Landed::Here | Landed::Broken(_) | Landed::Unproven(_)
                        );
                        if done || Instant::now() >= until {
                            return (label.clone(), Ok((landed, since.elapsed())));
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(logins)
            .map(|(h, (label, _))| {
                h.join()
                    .unwrap_or_else(|_| (label.clone(), Err("the witness check failed".into())))
            })
            .collect()
    });
    let target = format!("{}:{port}", s.address);
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
            Ok((l @ (Landed::Unproven(_) | Landed::Reachable), _)) => Finding::new(
                unasked,
                "ip-unproven",
                format!("its connection to {target}: {}", witness::describe(l)),
            ),
            Ok((Landed::Broken(e), _)) => Finding::new(
                unasked,
                "witness-unreachable",
                format!("the witness's channel broke: {e}"),
            ),
            Err(e) => Finding::new(unasked, "witness-unreachable", format!("cannot ask the witness: {e}")),
        };
        c.add_finding(f.at(label.clone()));
    }
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
                "{} is on {}, but no witness proved that traffic arrives here: not verified",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_json_is_read_on_every_interface() {
        let json = r#"[{"ifname":"eth0","addr_info":[{"family":"inet","local":"198.18.0.2","prefixlen":24},{"family":"inet","local":"198.18.0.20","prefixlen":24,"secondary":true},{"family":"inet6","local":"2001:2::20","prefixlen":64,"tentative":true}]},{"ifname":"bond0.7","addr_info":[{"family":"inet","local":"198.18.0.20","prefixlen":32}]}]"#;
        let p = parse_placements(json, "198.18.0.20".parse().unwrap()).unwrap();
        assert_eq!(
            p,
            vec![
                Placed {
                    interface: "eth0".into(),
                    prefix: 24,
                    secondary: true,
                    tentative: false,
                    dadfailed: false
                },
                Placed {
                    interface: "bond0.7".into(),
                    prefix: 32,
                    secondary: false,
                    tentative: false,
                    dadfailed: false
                }
            ]
        );
        let p = parse_placements(json, "2001:2::20".parse().unwrap()).unwrap();
        assert!(p[0].tentative && p.len() == 1);
        assert!(parse_placements(json, "198.18.0.99".parse().unwrap())
            .unwrap()
            .is_empty());
        assert!(parse_placements("not json", "198.18.0.99".parse().unwrap()).is_err());
    }
}
