//! The `dns` method: the names' A/AAAA records replaced on the zone's
//! primary server by an RFC 2136 update signed with TSIG, then every
//! authoritative server of the zone (its NS records) asked until each
//! answers the new addresses, bounded. The report says the old TTL: how
//! long resolvers may still send clients to the old server.
//!
//! A secondary follows the primary by NOTIFY and IXFR within moments when
//! all is well; one that was down during the update stays stale until the
//! next NOTIFY or its refresh timer (hours), so a server still answering
//! the old addresses at the bound is a WARNING with both serials, and
//! `dns_notify_command` (like `rndc notify ZONE` on the primary) is run
//! once, where the admin allows it, before waiting again.

use crate::dns_wire::{self, DnsError, Held};
use crate::settings::DnsSettings;
use crate::{human, net, tsig, Direction, Env};
use hickory_proto::rr::Name;
use maestro_common::perfdata::{Perfdata, Uom};
use maestro_common::{Check, Finding, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const NAME: &str = "dns";
const POLL: Duration = Duration::from_millis(200);
/// How long `dns_notify_command` may run.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(NAME, status, message)
}

/// The addresses the names get: this server's on `move`, the old
/// server's on `undo` (its names resolved, bounded).
fn targets(env: &Env, dns: &DnsSettings, direction: Direction) -> Result<Vec<IpAddr>, String> {
    match direction {
        Direction::Move => Ok(dns.targets.clone()),
        Direction::Undo => {
            let old = &env.settings.old;
            if old.entries.is_empty() {
                return Err("no old server to point the names back to: set [redirect] old_addresses or [primary]".into());
            }
            let mut all: BTreeSet<IpAddr> = old.literal_addresses();
            if all.is_empty() {
                for name in old.names() {
                    all.extend(net::resolve(&name, env.step())?);
                }
            }
            Ok(all.into_iter().collect())
        }
    }
}

fn names_text(names: &[String]) -> String {
    names
        .iter()
        .map(|n| n.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(", ")
}

fn addrs_text(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(env: &Env, direction: Direction) -> Check {
    let Some(dns) = env.settings.dns.as_ref() else {
        return check(Status::Unknown, "the dns method is not configured");
    };
    let started = Instant::now();
    let targets = match targets(env, dns, direction) {
        Ok(t) => t,
        Err(e) => return check(Status::Unknown, e),
    };
    let server_text = format!("{}:{}", dns.server_host, dns.server_port);
    let plan = format!(
        "update {server_text}: zone {zone}: replace the A/AAAA records of {names} with {to} (TTL {ttl}s), signed with the TSIG key {key} ({alg}); then ask every NS of {zone} until each answers them, within {wait}",
        zone = dns.zone.trim_end_matches('.'),
        names = names_text(&dns.names),
        to = addrs_text(&targets),
        ttl = dns.ttl,
        key = dns.key.name.trim_end_matches('.'),
        alg = dns.key.algorithm,
        wait = human(dns.wait),
    );
    if env.dry_run {
        return check(Status::Ok, format!("would {plan}"))
            .detail("server", server_text)
            .detail(
                "targets",
                targets.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            );
    }
    let mut c = run_update(env, dns, &targets, &server_text);
    c = c
        .detail("server", server_text)
        .detail("zone", dns.zone.clone())
        .detail(
            "targets",
            targets.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        )
        .timed(started.elapsed());
    c
}

fn server_addr(env: &Env, dns: &DnsSettings) -> Result<SocketAddr, String> {
    let addrs = net::resolve(&dns.server_host, env.step())?;
    let ip = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.iter().next())
        .copied()
        .ok_or_else(|| format!("{} has no address", dns.server_host))?;
    Ok(SocketAddr::new(ip, dns.server_port))
}

fn parse_names(dns: &DnsSettings) -> Result<(Name, Vec<Name>), String> {
    let zone = Name::from_ascii(&dns.zone).map_err(|e| format!("zone {}: {e}", dns.zone))?;
    let names = dns
        .names
        .iter()
        .map(|n| Name::from_ascii(n).map_err(|e| format!("{n}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((zone, names))
}

/// Whether a server holds exactly `want` for a name.
fn holds(h: &Held, want: &BTreeSet<IpAddr>) -> bool {
    h.cname.is_none() && &h.addresses == want
}

fn run_update(env: &Env, dns: &DnsSettings, targets: &[IpAddr], server_text: &str) -> Check {
    let (zone, names) = match parse_names(dns) {
        Ok(z) => z,
        Err(e) => return check(Status::Unknown, e),
    };
    let server = match server_addr(env, dns) {
        Ok(s) => s,
        Err(e) => {
            return check(
                Status::Critical,
                format!("not redirected: the zone's primary server {server_text}: {e}"),
            )
        }
    };
    let want: BTreeSet<IpAddr> = targets.iter().copied().collect();

    // What the primary server holds now: the old records and their TTL.
    let mut before: BTreeMap<String, Held> = BTreeMap::new();
    for (text, name) in dns.names.iter().zip(&names) {
        match dns_wire::held(server, name, env.step()) {
            Ok(h) => {
                if let Some(target) = &h.cname {
                    return check(
                        Status::Critical,
                        format!(
                            "not redirected: {} is an alias (CNAME) of {}; move that name instead",
                            text.trim_end_matches('.'),
                            target.trim_end_matches('.')
                        ),
                    );
                }
                before.insert(text.clone(), h);
            }
            Err(e) => {
                return check(
                    Status::Critical,
                    format!("not redirected: cannot ask the zone's primary server: {e}"),
                )
            }
        }
    }
    let old_ttl = before.values().filter_map(|h| h.ttl).max();
    let old_addresses: BTreeSet<IpAddr> = before
        .values()
        .flat_map(|h| h.addresses.iter().copied())
        .collect();
    let already = before.values().all(|h| holds(h, &want));

    let mut c = check(Status::Ok, "");
    c = c.detail(
        "old_addresses",
        old_addresses
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
    );
    if let Some(t) = old_ttl {
        c = c
            .detail("old_ttl_s", t)
            .perf(Perfdata::new("old_ttl", f64::from(t), Uom::Seconds).with_min(0.0));
    }
    let update_sent_at = Instant::now();
    if already {
        c = c.detail(
            "update",
            "not needed: the records already hold these addresses",
        );
    } else {
        let message = dns_wire::replace_message(&zone, &names, targets, dns.ttl);
        match dns_wire::send_signed(server, message, &dns.key, env.step()) {
            Ok(took) => {
                c = c
                    .detail("update", format!("accepted in {}", human(took)))
                    .detail("update_ms", took.as_millis() as u64);
            }
            Err(DnsError::Rcode { text, .. }) => {
                let advice = tsig::refusal_advice(&text);
                return c
                    .with_finding(
                        Finding::new(
                            Status::Critical,
                            "dns-update-refused",
                            format!("refused the update: {text}: {advice}"),
                        )
                        .at(server_text)
                        .detail("rcode", text.clone()),
                    )
                    .tap_message(format!(
                        "not redirected: {server_text} refused the update of {}: {text}",
                        names_text(&dns.names)
                    ));
            }
            Err(e) => {
                return c.tap(
                    Status::Critical,
                    format!("not redirected: the update to {server_text} failed: {e}"),
                )
            }
        }
    }

    // The primary server itself must hold the new records now.
    let verify_until = Instant::now() + env.step();
    loop {
        let mut wrong = Vec::new();
        for (text, name) in dns.names.iter().zip(&names) {
            match dns_wire::held(server, name, env.step()) {
                Ok(h) if holds(&h, &want) => {}
                Ok(h) => wrong.push(format!(
                    "{} answers {}",
                    text.trim_end_matches('.'),
                    if h.addresses.is_empty() {
                        "nothing".to_string()
                    } else {
                        net::join(&h.addresses)
                    }
                )),
                Err(e) => wrong.push(e.to_string()),
            }
        }
        if wrong.is_empty() {
            break;
        }
        if Instant::now() >= verify_until || env.expired() {
            return c.tap(
                Status::Critical,
                format!(
                    "not redirected: after the update the primary server {server_text} still: {}",
                    wrong.join("; ")
                ),
            );
        }
        std::thread::sleep(POLL);
    }

    propagate(
        env,
        dns,
        server,
        &zone,
        &names,
        &want,
        update_sent_at,
        c,
        old_ttl,
        &old_addresses,
    )
}

/// An authoritative server of the zone, at one of its addresses.
#[derive(Debug, Clone)]
struct Endpoint {
    ns: String,
    addr: SocketAddr,
    done_after: Option<Duration>,
    last_seen: String,
    serial: Option<u32>,
}

impl Endpoint {
    fn label(&self) -> String {
        format!("{} ({})", self.ns.trim_end_matches('.'), self.addr.ip())
    }
}

/// Where the zone's name servers are: in-zone names asked of the primary
/// server, others of the system resolver.
fn endpoints(
    env: &Env,
    server: SocketAddr,
    zone: &Name,
    port: u16,
) -> Result<(Vec<Endpoint>, Vec<Finding>), String> {
    let ns = dns_wire::name_servers(server, zone, env.step()).map_err(|e| e.to_string())?;
    let zone_text = zone.to_ascii().to_ascii_lowercase();
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for n in ns {
        let lower = n.to_ascii_lowercase();
        let addrs: Result<BTreeSet<IpAddr>, String> =
            if lower == zone_text || lower.ends_with(&format!(".{zone_text}")) {
                Name::from_ascii(&n)
                    .map_err(|e| e.to_string())
                    .and_then(|name| {
                        dns_wire::held(server, &name, env.step())
                            .map(|h| h.addresses)
                            .map_err(|e| e.to_string())
                    })
            } else {
                net::resolve(n.trim_end_matches('.'), env.step())
            };
        match addrs {
            Ok(a) if !a.is_empty() => {
                for ip in a {
                    out.push(Endpoint {
                        ns: n.clone(),
                        addr: SocketAddr::new(ip, port),
                        done_after: None,
                        last_seen: String::new(),
                        serial: None,
                    });
                }
            }
            Ok(_) | Err(_) => findings.push(
                Finding::new(
                    Status::Warning,
                    "dns-ns-unresolved",
                    format!(
                        "the name server {} has no address this server can find: it was not asked",
                        n.trim_end_matches('.')
                    ),
                )
                .at(n.trim_end_matches('.').to_string()),
            ),
        }
    }
    Ok((out, findings))
}

/// An error's text without the `ADDR:PORT: ` it starts with (the finding names the server).
fn strip_server(text: &str, addr: SocketAddr) -> String {
    text.strip_prefix(&format!("{addr}: "))
        .unwrap_or(text)
        .to_string()
}

/// Asks one endpoint whether it holds `want` for every name.
fn ask(
    e: &mut Endpoint,
    names: &[Name],
    zone: &Name,
    want: &BTreeSet<IpAddr>,
    timeout: Duration,
    since: Instant,
) {
    let mut seen = Vec::new();
    let mut all = true;
    for name in names {
        match dns_wire::held(e.addr, name, timeout) {
            Ok(h) => {
                if !holds(&h, want) {
                    all = false;
                    seen.push(format!(
                        "answers {} -> {}",
                        name.to_ascii().trim_end_matches('.'),
                        if h.addresses.is_empty() {
                            "nothing".to_string()
                        } else {
                            net::join(&h.addresses)
                        }
                    ));
                }
            }
            Err(err) => {
                all = false;
                seen.push(format!(
                    "gives no answer for {} ({})",
                    name.to_ascii().trim_end_matches('.'),
                    strip_server(&err.to_string(), e.addr)
                ));
            }
        }
    }
    e.serial = dns_wire::serial(e.addr, zone, timeout).ok().or(e.serial);
    if all {
        e.done_after = Some(since.elapsed());
    } else {
        e.last_seen = seen.join("; ");
    }
}

#[allow(clippy::too_many_arguments)]
fn propagate(
    env: &Env,
    dns: &DnsSettings,
    server: SocketAddr,
    zone: &Name,
    names: &[Name],
    want: &BTreeSet<IpAddr>,
    since: Instant,
    mut c: Check,
    old_ttl: Option<u32>,
    old_addresses: &BTreeSet<IpAddr>,
) -> Check {
    let zone_text = zone.to_ascii();
    let zone_text = zone_text.trim_end_matches('.');
    let (mut eps, findings) = match endpoints(env, server, zone, dns.server_port) {
        Ok(x) => x,
        Err(e) => {
            return c.tap(
                Status::Warning,
                format!(
                    "the primary server holds the new records, but the zone's name servers cannot be listed: {e}"
                ),
            )
        }
    };
    for f in findings {
        c.add_finding(f);
    }
    let primary_serial = dns_wire::serial(server, zone, env.step()).ok();
    let mut wait_until = Instant::now() + dns.wait;
    let mut notified: Option<String> = None;
    loop {
        let pending: Vec<usize> = (0..eps.len())
            .filter(|&i| eps[i].done_after.is_none())
            .collect();
        if pending.is_empty() {
            break;
        }
        let step = env
            .step()
            .min(wait_until.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(100));
        std::thread::scope(|s| {
            for e in eps.iter_mut().filter(|e| e.done_after.is_none()) {
                s.spawn(move || ask(e, names, zone, want, step, since));
            }
        });
        if eps.iter().all(|e| e.done_after.is_some()) {
            break;
        }
        if Instant::now() >= wait_until || env.expired() {
            match (&dns.notify_command, &notified) {
                (Some(cmd), None) if !env.expired() => {
                    notified = Some(crate::command::run_shell(
                        cmd,
                        NOTIFY_TIMEOUT.min(env.left()),
                        &[("MAESTRO_REDIRECT_ZONE", zone_text)],
                    ));
                    wait_until = Instant::now() + dns.wait;
                    continue;
                }
                _ => break,
            }
        }
        std::thread::sleep(POLL);
    }
    let done: Vec<&Endpoint> = eps.iter().filter(|e| e.done_after.is_some()).collect();
    let lagging: Vec<&Endpoint> = eps.iter().filter(|e| e.done_after.is_none()).collect();
    let slowest = done.iter().filter_map(|e| e.done_after).max();
    if let Some(s) = slowest {
        c = c.perf(Perfdata::seconds("propagation", s).with_min(0.0));
    }
    c = c
        .detail(
            "name_servers",
            eps.iter().map(Endpoint::label).collect::<Vec<_>>(),
        )
        .detail(
            "serials",
            eps.iter()
                .map(|e| {
                    (
                        e.label(),
                        e.serial.map_or(serde_json::Value::Null, |s| s.into()),
                    )
                })
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        );
    if let Some(p) = primary_serial {
        c = c.detail("primary_serial", p);
    }
    if let Some(n) = &notified {
        c = c.detail("notify_command", n.clone());
    }
    for e in &lagging {
        let serial = match (e.serial, primary_serial) {
            (Some(s), Some(p)) => format!(" (serial {s}, the primary has {p})"),
            (None, Some(p)) => format!(" (no serial; the primary has {p})"),
            _ => String::new(),
        };
        let advice = if dns.notify_command.is_some() {
            "it did not follow the NOTIFY either; it catches up at its next refresh"
        } else {
            "it follows at its next NOTIFY or refresh: re-send NOTIFY (`rndc notify ZONE` on the primary), or set [redirect] dns_notify_command"
        };
        c.add_finding(
            Finding::new(
                Status::Warning,
                "dns-lagging",
                format!(
                    "still {}{serial} after {}; {advice}",
                    if e.last_seen.is_empty() {
                        "the old records".to_string()
                    } else {
                        e.last_seen.clone()
                    },
                    human(since.elapsed()),
                ),
            )
            .at(e.label())
            .detail(
                "serial",
                e.serial.map_or(serde_json::Value::Null, |s| s.into()),
            ),
        );
    }
    let left_behind: BTreeSet<IpAddr> = old_addresses.difference(want).copied().collect();
    let ttl_text = match old_ttl {
        Some(t) if !left_behind.is_empty() => {
            let until = chrono::Utc::now() + chrono::Duration::seconds(i64::from(t));
            format!(
                "; old TTL {t}s: resolvers may send clients to {} until {}",
                net::join(&left_behind),
                until.format("%H:%M:%SZ")
            )
        }
        _ => String::new(),
    };
    let names_shown = names
        .iter()
        .map(|n| n.to_ascii().trim_end_matches('.').to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let want_shown = net::join(want);
    if done.is_empty() && !eps.is_empty() {
        return c.tap(
            Status::Critical,
            format!("not redirected: no authoritative server of {zone_text} answers {want_shown} for {names_shown} within {}{ttl_text}", human(since.elapsed())),
        );
    }
    let after_notify = if notified.is_some() {
        " (NOTIFY re-sent)"
    } else {
        ""
    };
    let message = if lagging.is_empty() {
        format!(
            "{names_shown} -> {want_shown} on all {} authoritative servers of {zone_text} after {}{after_notify}{ttl_text}",
            eps.len(),
            human(slowest.unwrap_or_default())
        )
    } else {
        format!(
            "{names_shown} -> {want_shown} on {} of {} authoritative servers of {zone_text}; {} lagging{ttl_text}",
            done.len(),
            eps.len(),
            lagging.iter().map(|e| e.label()).collect::<Vec<_>>().join(", ")
        )
    };
    let status = if c.status == Status::Ok && lagging.is_empty() {
        Status::Ok
    } else {
        c.status.worst(Status::Warning)
    };
    c.tap(status, message)
}

/// Small helpers to finish a check in one expression.
trait Tap {
    fn tap(self, status: Status, message: String) -> Check;
    fn tap_message(self, message: String) -> Check;
}

impl Tap for Check {
    fn tap(mut self, status: Status, message: String) -> Check {
        self.status = self.status.worst(status);
        self.message = message;
        self
    }
    fn tap_message(mut self, message: String) -> Check {
        self.message = message;
        self
    }
}
