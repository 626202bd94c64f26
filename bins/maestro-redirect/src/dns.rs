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
use crate::journal::{DnsChange, Journal, NameRecords, Pending};
use crate::settings::DnsSettings;
use crate::{human, net, tsig, witness, Direction, Env};
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
/// Authoritative servers answer on the DNS port; `dns_server`'s port (a
/// hidden primary on another port) says nothing about theirs.
const NS_PORT: u16 = 53;

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(NAME, status, message)
}

/// One name and what it must hold after this run.
#[derive(Debug, Clone)]
struct Wanted {
    text: String,
    name: Name,
    /// Each address with its TTL.
    records: Vec<(IpAddr, u32)>,
}

impl Wanted {
    fn addresses(&self) -> BTreeSet<IpAddr> {
        self.records.iter().map(|(a, _)| *a).collect()
    }
}

fn names_text(names: &[String]) -> String {
    names
        .iter()
        .map(|n| n.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(", ")
}

fn wanted_text(w: &[Wanted]) -> String {
    w.iter()
        .map(|w| {
            let to = if w.records.is_empty() {
                "no address".to_string()
            } else {
                w.records
                    .iter()
                    .map(|(a, t)| format!("{a} (TTL {t}s)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("{} -> {to}", w.text.trim_end_matches('.'))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn fqdn(text: &str) -> Result<Name, String> {
    let t = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::from_ascii(&t).map_err(|e| format!("{text}: {e}"))
}

/// `move`: the names get this server's service addresses. One that is not
/// on this server's interfaces (a NAT's public address) must be proven by
/// a witness first: pointing the names at an address of the other server
/// (one config read on the wrong host) would undo the redirect.
fn move_targets(env: &Env, dns: &DnsSettings) -> Result<Vec<Wanted>, Box<Check>> {
    let targets = env.settings.service_addresses.clone();
    let local = net::routable_here().map_err(|e| {
        Box::new(check(
            Status::Unknown,
            format!("not redirected: this server's addresses cannot be listed: {e}; nothing was changed"),
        ))
    })?;
    let remote: Vec<IpAddr> = targets
        .iter()
        .filter(|a| !local.contains(a))
        .copied()
        .collect();
    if !remote.is_empty() && !env.dry_run {
        let proofs = witness::prove_reaches_here(
            &env.settings.witnesses,
            &remote,
            env.settings.verify_port,
            env.step(),
        );
        let refused: Vec<String> = proofs
            .iter()
            .filter_map(|(ip, r)| r.as_ref().err().map(|why| format!("{ip}: {why}")))
            .collect();
        if !refused.is_empty() {
            return Err(Box::new(check(
                Status::Critical,
                format!(
                    "refused: {} ({}) is not on this server's interfaces, and no witness proved that it reaches this server: {}; nothing was changed (is this config read on the right server?)",
                    remote
                        .iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    env.settings.role.service_key(),
                    refused.join("; ")
                ),
            )));
        }
    }
    dns.names
        .iter()
        .map(|n| {
            Ok(Wanted {
                text: n.clone(),
                name: fqdn(n)?,
                records: targets.iter().map(|a| (*a, dns.ttl)).collect(),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| Box::new(check(Status::Unknown, e)))
}

/// `undo`: the names get back exactly what they held before the first
/// `move` (both families, their TTLs), as the journal recorded it.
fn undo_targets(dns: &DnsSettings, pending: &Pending<DnsChange>) -> Result<Vec<Wanted>, String> {
    let zone = dns.zone.trim_end_matches('.').to_ascii_lowercase();
    if pending.change.zone != zone {
        return Err(format!(
            "not undone: the `move` recorded at {} changed zone {}, not {zone} as configured now: restore it by hand",
            pending.recorded_at, pending.change.zone
        ));
    }
    pending
        .change
        .before
        .iter()
        .map(|r| {
            let ttl = |t: Option<u32>| t.unwrap_or(dns.ttl);
            let mut records: Vec<(IpAddr, u32)> = r.a.iter().map(|a| (*a, ttl(r.a_ttl))).collect();
            records.extend(r.aaaa.iter().map(|a| (*a, ttl(r.aaaa_ttl))));
            Ok(Wanted {
                text: r.name.clone(),
                name: fqdn(&r.name)?,
                records,
            })
        })
        .collect()
}

pub fn run(env: &Env, direction: Direction) -> Check {
    let Some(dns) = env.settings.dns.as_ref() else {
        return check(Status::Unknown, "the dns method is not configured");
    };
    let started = Instant::now();
    let server_text = format!("{}:{}", dns.server_host, dns.server_port);
    let journal = match Journal::for_run(env) {
        Ok(j) => Some(j),
        Err(e) if env.dry_run => {
            let _ = e;
            None
        }
        Err(e) => {
            return check(
                Status::Unknown,
                format!(
                "not redirected: cannot record what the update changes: {e}; nothing was changed"
            ),
            )
        }
    };
    let pending: Option<Pending<DnsChange>> = match journal.as_ref().map(|j| j.pending(NAME)) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return check(
                Status::Unknown,
                format!("cannot read what an earlier `move` changed: {e}; nothing was changed"),
            )
        }
        None => None,
    };
    let wanted = match direction {
        Direction::Move => match move_targets(env, dns) {
            Ok(w) => w,
            Err(c) => return c.timed(started.elapsed()),
        },
        Direction::Undo => match &pending {
            Some(p) => match undo_targets(dns, p) {
                Ok(w) => w,
                Err(e) => return check(Status::Unknown, e),
            },
            None if env.dry_run => {
                return check(
                    Status::Ok,
                    format!(
                        "dry run: would restore the records a `move` recorded before its update; none is recorded{}",
                        if journal.is_none() { " (no state folder)" } else { "" }
                    ),
                )
                .detail("dry_run", true)
            }
            None => {
                let undone = journal
                    .as_ref()
                    .and_then(|j| j.last_undone(NAME).ok().flatten());
                if let Some(at) = undone {
                    return check(
                        Status::Ok,
                        format!(
                            "nothing to undo: the records the last `move` changed were restored at {at}"
                        ),
                    );
                }
                return check(
                    Status::Unknown,
                    format!(
                        "not undone: no `move` recorded what {} held before its update (in the state catalog): nothing to restore; set the records by hand, or run `move` on the primary",
                        names_text(&dns.names)
                    ),
                );
            }
        },
    };
    let plan = format!(
        "update {server_text}: zone {zone}: replace the A/AAAA records: {to}, signed with the TSIG key {key} ({alg}); then ask every NS of {zone} (port {NS_PORT}) until each answers them with authority, within {wait}",
        zone = dns.zone.trim_end_matches('.'),
        to = wanted_text(&wanted),
        key = dns.key.name.trim_end_matches('.'),
        alg = dns.key.algorithm,
        wait = human(dns.wait),
    );
    let targets: Vec<String> = wanted
        .iter()
        .flat_map(|w| w.records.iter().map(|(a, _)| a.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if env.dry_run {
        return check(Status::Ok, format!("dry run: would {plan}"))
            .detail("dry_run", true)
            .detail("server", server_text)
            .detail("targets", targets);
    }
    let mut journal = journal.expect("opened unless dry run");
    let c = run_update(
        env,
        dns,
        &wanted,
        &server_text,
        direction,
        &mut journal,
        &pending,
    );
    c.detail("server", server_text)
        .detail("zone", dns.zone.clone())
        .detail("targets", targets)
        .timed(started.elapsed())
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

/// Whether a server holds exactly `want` for a name, as its authority.
fn holds(h: &Held, want: &BTreeSet<IpAddr>) -> bool {
    h.cname.is_none() && &h.addresses == want && h.authoritative
}

fn records_of(text: &str, h: &Held) -> NameRecords {
    NameRecords {
        name: text.trim_end_matches('.').to_ascii_lowercase(),
        a: h.family(true),
        a_ttl: h.a_ttl,
        aaaa: h.family(false),
        aaaa_ttl: h.aaaa_ttl,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_update(
    env: &Env,
    dns: &DnsSettings,
    wanted: &[Wanted],
    server_text: &str,
    direction: Direction,
    journal: &mut Journal,
    pending: &Option<Pending<DnsChange>>,
) -> Check {
    let zone = match fqdn(&dns.zone) {
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

    // What the primary server holds now: the old records and their TTL.
    let mut before: BTreeMap<String, Held> = BTreeMap::new();
    for w in wanted {
        match dns_wire::held(server, &w.name, env.step()) {
            Ok(h) => {
                if let Some(target) = &h.cname {
                    return check(
                        Status::Critical,
                        format!(
                            "not redirected: {} is an alias (CNAME) of {}; move that name instead",
                            w.text.trim_end_matches('.'),
                            target.trim_end_matches('.')
                        ),
                    );
                }
                before.insert(w.text.clone(), h);
            }
            Err(e) => {
                return check(
                    Status::Critical,
                    format!("not redirected: cannot ask the zone's primary server: {e}"),
                )
            }
        }
    }
    let old_ttl = before.values().filter_map(Held::ttl).max();
    let old_addresses: BTreeSet<IpAddr> = before
        .values()
        .flat_map(|h| h.addresses.iter().copied())
        .collect();
    let already = wanted.iter().all(|w| {
        before
            .get(&w.text)
            .is_some_and(|h| h.cname.is_none() && h.addresses == w.addresses())
    });

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
    // `move` records what the names held before the first move, before
    // the update is sent: `undo` restores exactly that.
    let mut recorded_now: Option<i64> = None;
    if direction == Direction::Move && pending.is_none() && !already {
        let change = DnsChange {
            zone: dns.zone.trim_end_matches('.').to_ascii_lowercase(),
            server: server_text.to_string(),
            before: wanted
                .iter()
                .map(|w| records_of(&w.text, &before[&w.text]))
                .collect(),
            targets: wanted
                .iter()
                .flat_map(|w| w.records.iter().map(|(a, _)| *a))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        match journal.record(NAME, &change) {
            Ok(id) => recorded_now = Some(id),
            Err(e) => {
                return c.tap(
                    Status::Unknown,
                    format!("not redirected: cannot record the records before the update: {e}; nothing was changed"),
                )
            }
        }
    }
    let forget = |journal: &mut Journal| {
        if let Some(id) = recorded_now {
            let _ = journal.forget(id);
        }
    };
    let update_sent_at = Instant::now();
    if already {
        c = c.detail(
            "update",
            "not needed: the records already hold these addresses",
        );
    } else {
        let records: Vec<(Name, Vec<(IpAddr, u32)>)> = wanted
            .iter()
            .map(|w| (w.name.clone(), w.records.clone()))
            .collect();
        let sent = dns_wire::update_message(&zone, &records)
            .and_then(|m| dns_wire::send_signed(server, m, &dns.key, env.step()));
        match sent {
            Ok(took) => {
                c = c
                    .detail("update", format!("accepted in {}", human(took)))
                    .detail("update_ms", took.as_millis() as u64);
            }
            Err(DnsError::Rcode { text, .. }) => {
                forget(journal);
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
                // Whether it was applied is not known: the record stays.
                return c.tap(
                    Status::Critical,
                    format!("not redirected: the update to {server_text} failed: {e}"),
                );
            }
        }
    }

    // The primary server itself must hold the new records now.
    let verify_until = Instant::now() + env.step();
    loop {
        let mut wrong = Vec::new();
        for w in wanted {
            match dns_wire::held(server, &w.name, env.step()) {
                Ok(h) if h.cname.is_none() && h.addresses == w.addresses() => {}
                Ok(h) => wrong.push(format!(
                    "{} answers {}",
                    w.text.trim_end_matches('.'),
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

    let c = propagate(
        env,
        dns,
        server,
        &zone,
        wanted,
        update_sent_at,
        c,
        old_ttl,
        &old_addresses,
    );
    if direction == Direction::Undo && matches!(c.status, Status::Ok | Status::Warning) {
        if let Some(p) = pending {
            if let Err(e) = journal.undone(p.id) {
                return c.with_finding(Finding::new(
                    Status::Warning,
                    "journal-not-written",
                    format!("the restore is not recorded in the state catalog: {e}"),
                ));
            }
        }
    }
    c
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
fn ask(e: &mut Endpoint, wanted: &[Wanted], zone: &Name, timeout: Duration, since: Instant) {
    let mut seen = Vec::new();
    let mut all = true;
    for w in wanted {
        let name = &w.name;
        match dns_wire::held(e.addr, name, timeout) {
            Ok(h) => {
                if !holds(&h, &w.addresses()) {
                    all = false;
                    seen.push(format!(
                        "answers {} -> {}{}",
                        name.to_ascii().trim_end_matches('.'),
                        if h.nxdomain {
                            "NXDOMAIN (no such name)".to_string()
                        } else if h.addresses.is_empty() {
                            "nothing".to_string()
                        } else {
                            net::join(&h.addresses)
                        },
                        if h.authoritative {
                            ""
                        } else {
                            " without authority (no AA flag: not a server of the zone)"
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
    wanted: &[Wanted],
    since: Instant,
    mut c: Check,
    old_ttl: Option<u32>,
    old_addresses: &BTreeSet<IpAddr>,
) -> Check {
    let zone_text = zone.to_ascii();
    let zone_text = zone_text.trim_end_matches('.');
    let (mut eps, findings) = match endpoints(env, server, zone, NS_PORT) {
        Ok(x) => x,
        Err(e) => {
            return c.tap(
                Status::Unknown,
                format!(
                    "not verified: the primary server holds the new records, but the zone's name servers cannot be listed: {e}: no authoritative server was asked"
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
                s.spawn(move || ask(e, wanted, zone, step, since));
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
    let want: BTreeSet<IpAddr> = wanted.iter().flat_map(Wanted::addresses).collect();
    let left_behind: BTreeSet<IpAddr> = old_addresses.difference(&want).copied().collect();
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
    let names_shown = wanted
        .iter()
        .map(|w| w.text.trim_end_matches('.').to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let want_shown = if want.is_empty() {
        "no address".to_string()
    } else {
        net::join(&want)
    };
    if eps.is_empty() {
        return c.tap(
            Status::Unknown,
            format!("not verified: the primary server holds {want_shown} for {names_shown}, but no authoritative server of {zone_text} could be asked (none of its NS names has an address){ttl_text}"),
        );
    }
    if done.is_empty() {
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
