//! `maestro-redirect check`: what still points at the old primary.
//!
//! - `ini`: Maestro's INI files (the site profile's hub.ini, lui.ini,
//!   tracker.ini and tomcat.ini), read as Maestro reads them
//!   (java.util.Properties): a value that is, or resolves to, an address of
//!   the old primary is CRITICAL; a literal address that is not this
//!   server's is a WARNING; each with its file:line and key.
//! - `names`: the Maestro and tracker names resolve to this server, from
//!   here and from each witness.
//! - `smtp`: the relay accepts mail from this server (up to RCPT TO).
//! - `ports`: each witness reaches this server's ports.

use crate::ini_scan::{self, Mention};
use crate::smtp::{self, RelayVerdict};
use crate::token::{Listen, TokenServer};
use crate::witness::{self, Landed};
use crate::{net, Env};
use maestro_common::ini::Properties;
use maestro_common::perfdata::Perfdata;
use maestro_common::site::{Component, SiteLayout};
use maestro_common::{Check, Finding, Report, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

/// The old server's addresses: its literals and what its names resolve to.
fn old_addresses(env: &Env) -> (BTreeSet<IpAddr>, Vec<String>) {
    let old = &env.settings.old;
    let mut addrs = old.literal_addresses();
    let mut notes = Vec::new();
    for (name, r) in net::resolve_all(&old.names(), env.step()) {
        match r {
            Ok(a) => addrs.extend(a),
            Err(e) => notes.push(format!("the old server's name {name}: {e}")),
        }
    }
    (addrs, notes)
}

pub fn run(env: &Env) -> Report {
    let mut report = Report::new(crate::TOOL, Some("check"));
    let local = net::local_addresses().unwrap_or_default();
    let ours = env.settings.this_server(&local);
    let (old, notes) = old_addresses(env);
    let old_names: BTreeSet<String> = env
        .settings
        .old
        .names()
        .iter()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let mut ini = ini_check(env, &ours, &old, &old_names);
    if old.is_empty() && old_names.is_empty() {
        ini.status = ini.status.worst(Status::Unknown);
        ini.message = format!(
            "{}; the old server is not known: set [primary] or [redirect] old_addresses, or give --old-address",
            ini.message
        );
    }
    for n in &notes {
        ini = ini.detail("note", n.clone());
    }
    report.push(
        ini.detail("old_server", net::join(&old))
            .detail("old_server_from", env.settings.old.source.clone()),
    );
    let witness_results = witness_round(env, &ours);
    if !env.settings.names.is_empty() {
        report.push(names_check(env, &ours, &old, &witness_results));
    }
    if let Some(s) = &env.settings.smtp {
        report.push(smtp_check(env, s));
    }
    if !env.settings.ports.is_empty() {
        report.push(ports_check(env, &witness_results));
    }
    report
}

// ---- INI values -----------------------------------------------------------

fn ini_files(layout: &SiteLayout) -> Vec<(Component, PathBuf)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for c in Component::APPLICATIONS {
        for p in [layout.ini(c), layout.tomcat_ini(c)].into_iter().flatten() {
            let p = p.to_path_buf();
            if seen.insert(p.clone()) {
                out.push((c, p));
            }
        }
    }
    out
}

struct Hit {
    location: String,
    key: String,
    value: String,
    mention: Mention,
}

fn ini_check(
    env: &Env,
    ours: &BTreeSet<IpAddr>,
    old: &BTreeSet<IpAddr>,
    old_names: &BTreeSet<String>,
) -> Check {
    let started = Instant::now();
    let layout = match SiteLayout::resolve(&env.settings.site) {
        Ok(l) => l,
        Err(e) => return Check::new("ini", Status::Unknown, e.to_string()),
    };
    let mut c = Check::ok("ini", "");
    let mut hits = Vec::new();
    let mut read = Vec::new();
    for (_, path) in ini_files(&layout) {
        match Properties::read_file(&path, layout.ini_encoding()) {
            Ok(props) => {
                read.push(path.display().to_string());
                for p in props.iter() {
                    for m in ini_scan::mentions(&p.key, &p.value) {
                        hits.push(Hit {
                            location: format!("{}:{}", path.display(), p.line),
                            key: p.key.clone(),
                            value: p.value.clone(),
                            mention: m,
                        });
                    }
                }
            }
            Err(maestro_common::ini::IniError::Read(e)) if e.is_not_found() => {}
            Err(e) => c.add_finding(
                Finding::new(Status::Unknown, "ini-unreadable", e.to_string())
                    .at(path.display().to_string()),
            ),
        }
    }
    let names: Vec<String> = hits
        .iter()
        .filter_map(|h| match &h.mention {
            Mention::Name(n) => Some(n.clone()),
            Mention::Address(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let resolved = net::resolve_all(&names, env.step());
    let mut pinned = 0;
    for h in &hits {
        let (status, id, message) = match &h.mention {
            Mention::Address(ip) if old.contains(ip) => (
                Status::Critical,
                "ini-old-primary",
                format!("{} holds {ip}, an address of the old primary", h.key),
            ),
            Mention::Address(ip)
                if ours.contains(ip) || ip.is_loopback() || ip.is_unspecified() =>
            {
                continue
            }
            Mention::Address(ip) => (
                Status::Warning,
                "ini-foreign-address",
                format!(
                    "{} holds the literal address {ip}, which is not this server's",
                    h.key
                ),
            ),
            Mention::Name(n) if old_names.contains(n) => (
                Status::Critical,
                "ini-old-primary",
                format!("{} names {n}, the old primary", h.key),
            ),
            Mention::Name(n) => match resolved.get(n) {
                Some(Ok(a)) if a.iter().any(|ip| old.contains(ip)) => (
                    Status::Critical,
                    "ini-old-primary",
                    format!(
                        "{} names {n}, which resolves to {}, an address of the old primary",
                        h.key,
                        net::join(&a.intersection(old).copied().collect())
                    ),
                ),
                Some(Ok(_)) => continue,
                Some(Err(e)) => (
                    Status::Warning,
                    "ini-unresolved",
                    format!("{} names {n}, which does not resolve here: {e}", h.key),
                ),
                None => continue,
            },
        };
        if status == Status::Critical {
            pinned += 1;
        }
        c.add_finding(
            Finding::new(status, id, message)
                .at(h.location.clone())
                .detail("key", h.key.clone())
                .detail("value", h.value.clone()),
        );
    }
    c = c
        .detail("files", read.clone())
        .detail("values_checked", hits.len())
        .perf(
            Perfdata::count("ini_old_primary", pinned as u64)
                .with_crit(maestro_common::perfdata::Range::above(0.0)),
        )
        .timed(started.elapsed());
    c.message = if read.is_empty() && c.findings.is_empty() {
        c.status = Status::Warning;
        format!(
            "no INI file found under {}: is [site] install_root right?",
            layout.install_root()
        )
    } else if pinned > 0 {
        format!(
            "{pinned} INI value(s) still point at the old primary: change them before Maestro starts"
        )
    } else if c.status == Status::Ok {
        format!(
            "no value of {} INI file(s) points at the old primary ({} address(es) and name(s) checked)",
            read.len(),
            hits.len()
        )
    } else {
        format!(
            "no INI value points at the old primary; {} to read",
            c.findings.len()
        )
    };
    c
}

// ---- the witnesses' view -----------------------------------------------------

/// What one witness saw: its names and its connections.
struct WitnessView {
    label: String,
    error: Option<String>,
    names: BTreeMap<String, Result<BTreeSet<IpAddr>, String>>,
    ports: Vec<(IpAddr, u16, Landed)>,
}

/// The addresses the port checks connect to.
fn port_targets(env: &Env, ours: &BTreeSet<IpAddr>) -> Vec<IpAddr> {
    let mut t: BTreeSet<IpAddr> = env.settings.service_addresses.iter().copied().collect();
    if let Some(ip) = &env.settings.ip {
        t.insert(ip.address);
    }
    if t.is_empty() {
        for (_, r) in net::resolve_all(&env.settings.names, env.step()) {
            if let Ok(a) = r {
                t.extend(
                    a.into_iter()
                        .filter(|ip| ours.contains(ip) && !ip.is_loopback()),
                );
            }
        }
    }
    t.into_iter().collect()
}

/// Every witness, once, in parallel: its lookups of the names and its
/// connections to the ports (a token served on each port that is free).
fn witness_round(env: &Env, ours: &BTreeSet<IpAddr>) -> (Vec<WitnessView>, Vec<String>) {
    let s = &env.settings;
    if s.witnesses.is_empty() || (s.names.is_empty() && s.ports.is_empty()) {
        return (Vec::new(), Vec::new());
    }
    let targets = if s.ports.is_empty() {
        Vec::new()
    } else {
        port_targets(env, ours)
    };
    let mut problems = Vec::new();
    let mut servers: BTreeMap<(IpAddr, u16), Option<TokenServer>> = BTreeMap::new();
    for ip in &targets {
        for port in &s.ports {
            match TokenServer::start(*ip, *port) {
                Ok(Listen::Serving(t)) => {
                    servers.insert((*ip, *port), Some(t));
                }
                Ok(Listen::PortInUse) => {
                    servers.insert((*ip, *port), None);
                }
                Err(e) => problems.push(e),
            }
        }
    }
    if !s.ports.is_empty() && targets.is_empty() {
        problems.push("no address of this server to connect to: set [redirect] addresses".into());
    }
    let views = std::thread::scope(|scope| {
        let handles: Vec<_> = s
            .witnesses
            .iter()
            .map(|w| {
                let servers = &servers;
                scope.spawn(move || {
                    let label = witness::label(w);
                    let mut view = WitnessView {
                        label: label.clone(),
                        error: None,
                        names: BTreeMap::new(),
                        ports: Vec::new(),
                    };
                    let client = match witness::connect(w, env.step()) {
                        Ok(c) => c,
                        Err(e) => {
                            view.error = Some(e.to_string());
                            return view;
                        }
                    };
                    for n in &s.names {
                        view.names
                            .insert(n.clone(), witness::resolve_on(&client, n, env.step()));
                    }
                    for ((ip, port), server) in servers.iter() {
                        let landed = witness::connect_probe(
                            &client,
                            *ip,
                            *port,
                            server.as_ref(),
                            env.step(),
                        );
                        view.ports.push((*ip, *port, landed));
                    }
                    view
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&s.witnesses)
            .map(|(h, w)| {
                h.join().unwrap_or_else(|_| WitnessView {
                    label: witness::label(w),
                    error: Some("the witness check failed".into()),
                    names: BTreeMap::new(),
                    ports: Vec::new(),
                })
            })
            .collect()
    });
    (views, problems)
}

// ---- names ---------------------------------------------------------------------

/// A name's addresses judged against this server and the old one.
fn judge_name(
    name: &str,
    from: &str,
    r: &Result<BTreeSet<IpAddr>, String>,
    ours: &BTreeSet<IpAddr>,
    old: &BTreeSet<IpAddr>,
) -> Finding {
    let (status, id, message) = match r {
        Err(e) => (
            Status::Critical,
            "name-unresolved",
            format!("{name} does not resolve from {from}: {e}"),
        ),
        Ok(a) if a.iter().all(|ip| ours.contains(ip)) => (
            Status::Ok,
            "name-here",
            format!(
                "{name} resolves to {} from {from}: this server",
                net::join(a)
            ),
        ),
        Ok(a) => {
            let at_old: BTreeSet<IpAddr> = a.intersection(old).copied().collect();
            let elsewhere: BTreeSet<IpAddr> =
                a.iter().filter(|ip| !ours.contains(ip)).copied().collect();
            if !at_old.is_empty() {
                (
                    Status::Critical,
                    "name-old-primary",
                    format!(
                        "{name} resolves to {} from {from}: the old primary (a resolver may still cache the old answer for its TTL)",
                        net::join(&at_old)
                    ),
                )
            } else {
                (
                    Status::Critical,
                    "name-elsewhere",
                    format!(
                        "{name} resolves to {} from {from}, not to this server",
                        net::join(&elsewhere)
                    ),
                )
            }
        }
    };
    Finding::new(status, id, message).at(from.to_string())
}

fn names_check(
    env: &Env,
    ours: &BTreeSet<IpAddr>,
    old: &BTreeSet<IpAddr>,
    witnesses: &(Vec<WitnessView>, Vec<String>),
) -> Check {
    let started = Instant::now();
    let mut c = Check::ok("names", "");
    for (name, r) in net::resolve_all(&env.settings.names, env.step()) {
        c.add_finding(judge_name(&name, "here", &r, ours, old));
    }
    let answered = witnesses.0.iter().filter(|v| v.error.is_none()).count();
    for v in &witnesses.0 {
        match &v.error {
            Some(e) => c.add_finding(
                Finding::new(
                    if answered > 0 {
                        Status::Warning
                    } else {
                        Status::Unknown
                    },
                    "witness-unreachable",
                    format!("cannot ask the witness: {e}"),
                )
                .at(v.label.clone()),
            ),
            None => {
                for (name, r) in &v.names {
                    c.add_finding(judge_name(
                        name,
                        &format!("witness {}", v.label),
                        r,
                        ours,
                        old,
                    ));
                }
            }
        }
    }
    let bad = c
        .findings
        .iter()
        .filter(|f| f.status == Status::Critical)
        .count();
    c.message = if bad > 0 {
        let first = c
            .findings
            .iter()
            .find(|f| f.status == Status::Critical)
            .map(|f| f.message.clone())
            .unwrap_or_default();
        format!(
            "{first}{}",
            if bad > 1 {
                format!(" (and {} more)", bad - 1)
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "{} resolve to this server from here and from {answered} of {} witnesses",
            env.settings.names.join(", "),
            witnesses.0.len()
        )
    };
    if env.settings.witnesses.is_empty() {
        c.message.push_str(" (no witness configured)");
    }
    c.timed(started.elapsed())
}

// ---- SMTP relay ------------------------------------------------------------------

fn smtp_check(env: &Env, s: &crate::settings::SmtpSettings) -> Check {
    let started = Instant::now();
    let total = env.step().saturating_mul(4).min(env.left());
    let (server, verdict) = smtp::check_relay(s, env.step(), total);
    let relay = server.map_or(format!("{}:{}", s.host, s.port), |a| a.to_string());
    let source = server
        .and_then(smtp::source_address)
        .map_or("this server".to_string(), |a| a.to_string());
    let (status, message) = match &verdict {
        RelayVerdict::Accepted(reply) => (
            Status::Ok,
            format!(
                "relay {relay} accepts mail from {source} for {} (stopped before DATA): {reply}",
                s.rcpt
            ),
        ),
        RelayVerdict::Refused { at, reply, permanent: true } => (
            Status::Critical,
            format!(
                "relay {relay} refuses mail from {source} at {at}: \"{reply}\": its IP-based relay rules may name only the old primary"
            ),
        ),
        RelayVerdict::Refused { at, reply, permanent: false } => (
            Status::Unknown,
            format!("relay {relay} refused mail from {source} at {at} for now: \"{reply}\" (a temporary reply: ask again)"),
        ),
        RelayVerdict::Failed(e) => (
            Status::Critical,
            format!("relay {relay} cannot be used from {source}: {e}"),
        ),
    };
    Check::new("smtp", status, message)
        .detail("relay", relay)
        .detail("source", source)
        .detail("rcpt", s.rcpt.clone())
        .timed(started.elapsed())
}

// ---- ports -----------------------------------------------------------------------

fn ports_check(env: &Env, witnesses: &(Vec<WitnessView>, Vec<String>)) -> Check {
    let mut c = Check::ok("ports", "");
    for p in &witnesses.1 {
        c.add_finding(Finding::new(Status::Unknown, "ports-not-served", p.clone()));
    }
    if env.settings.witnesses.is_empty() {
        c.status = Status::Unknown;
        c.message =
            "no witness configured to connect from: configure [[redirect.witnesses]]".into();
        return c;
    }
    let answered = witnesses.0.iter().filter(|v| v.error.is_none()).count();
    let mut reached = 0;
    for v in &witnesses.0 {
        if let Some(e) = &v.error {
            c.add_finding(
                Finding::new(
                    if answered > 0 {
                        Status::Warning
                    } else {
                        Status::Unknown
                    },
                    "witness-unreachable",
                    format!("cannot ask the witness: {e}"),
                )
                .at(v.label.clone()),
            );
            continue;
        }
        for (ip, port, landed) in &v.ports {
            let target = format!("{ip}:{port}");
            let f = match landed {
                Landed::Here => {
                    reached += 1;
                    Finding::new(Status::Ok, "port-here", format!("reaches {target} on this server"))
                }
                Landed::Reachable => {
                    reached += 1;
                    Finding::new(Status::Ok, "port-reachable", format!("reaches {target} (a service listens there)"))
                }
                Landed::Elsewhere(a) => Finding::new(
                    Status::Critical,
                    "port-elsewhere",
                    format!("its connection to {target} reached another machine (it answered {a})"),
                ),
                Landed::NoConnection(e) => Finding::new(
                    Status::Critical,
                    "port-blocked",
                    format!("cannot reach {target}: {e}: a firewall rule may name only the old primary's address"),
                ),
            };
            c.add_finding(f.at(v.label.clone()).detail("port", *port));
        }
    }
    let total: usize = witnesses.0.iter().map(|v| v.ports.len()).sum();
    c.message = if c.status == Status::Critical {
        let first = c
            .findings
            .iter()
            .find(|f| f.status == Status::Critical)
            .map(|f| f.message.clone())
            .unwrap_or_default();
        format!("{reached} of {total} connections reach this server: {first}")
    } else if total == 0 {
        c.status = c.status.worst(Status::Unknown);
        "no connection could be tried".to_string()
    } else {
        format!(
            "ports {} reachable from {answered} of {} witnesses",
            env.settings
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            witnesses.0.len(),
        )
    };
    c
}
