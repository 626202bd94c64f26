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
    // Only addresses on this host's interfaces now (no loopback, no
    // link-local) are "this server": not the configured service addresses
    // (one config serves both servers), not the floating address while
    // another machine holds it.
    let here = net::routable_here();
    let local = here.clone().unwrap_or_default();
    let (old, notes) = old_addresses(env);
    let old_names: BTreeSet<String> = env
        .settings
        .old
        .names()
        .iter()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    // An INI literal of this server's own service addresses is no warning.
    let mut ini_ours = local.clone();
    ini_ours.extend(env.settings.service_addresses.iter().copied());
    if let Some(ip) = &env.settings.ip {
        ini_ours.insert(ip.address);
    }
    let mut ini = ini_check(env, &ini_ours, &old, &old_names);
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
    if !env.settings.names.is_empty() {
        let names = match &here {
            Ok(_) => {
                // A service address that is not on an interface here (a
                // NAT's public address) is this server's only when a
                // witness's connection through it reads a token served here.
                let remote: Vec<IpAddr> = env
                    .settings
                    .service_addresses
                    .iter()
                    .filter(|a| !local.contains(a))
                    .copied()
                    .collect();
                let mut ours = local.clone();
                let mut unproven = BTreeMap::new();
                if !remote.is_empty() {
                    for (ip, r) in witness::prove_reaches_here(
                        &env.settings.witnesses,
                        &remote,
                        env.settings.verify_port,
                        env.step(),
                    ) {
                        match r {
                            Ok(_) => {
                                ours.insert(ip);
                            }
                            Err(why) => {
                                unproven.insert(ip, why);
                            }
                        }
                    }
                }
                let round = witness_round(env, &[], &BTreeMap::new(), &local, true);
                names_check(env, &ours, &unproven, &old, &round)
            }
            Err(e) => Check::new(
                "names",
                Status::Unknown,
                format!("this server's addresses cannot be listed: {e}"),
            ),
        };
        report.push(names);
    }
    if let Some(s) = &env.settings.smtp {
        report.push(smtp_check(env, s));
    }
    if !env.settings.ports.is_empty() {
        report.push(ports_check(env, &local));
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

/// The addresses the port checks connect to: the floating address and the
/// service addresses, else what the names resolve to on this server.
fn port_targets(env: &Env, local: &BTreeSet<IpAddr>) -> Vec<IpAddr> {
    let mut t: BTreeSet<IpAddr> = env.settings.service_addresses.iter().copied().collect();
    if let Some(ip) = &env.settings.ip {
        t.insert(ip.address);
    }
    if t.is_empty() {
        for (_, r) in net::resolve_all(&env.settings.names, env.step()) {
            if let Ok(a) = r {
                t.extend(a.into_iter().filter(|ip| local.contains(ip)));
            }
        }
    }
    t.into_iter().collect()
}

/// Every witness, once, in parallel: its lookups of the names (when
/// `names`) and its connections to each target on each port, where
/// `servers` serve a token on every address of this host (`None`: the port
/// is in use here).
fn witness_round(
    env: &Env,
    targets: &[IpAddr],
    servers: &BTreeMap<u16, Option<TokenServer>>,
    local: &BTreeSet<IpAddr>,
    names: bool,
) -> Vec<WitnessView> {
    let s = &env.settings;
    if s.witnesses.is_empty() {
        return Vec::new();
    }
    let logins = witness::login_all(&s.witnesses, env.step());
    std::thread::scope(|scope| {
        let handles: Vec<_> = logins
            .iter()
            .map(|(label, w)| {
                scope.spawn(move || {
                    let mut view = WitnessView {
                        label: label.clone(),
                        error: None,
                        names: BTreeMap::new(),
                        ports: Vec::new(),
                    };
                    let w = match w {
                        Ok(w) => w,
                        Err(e) => {
                            view.error = Some(e.clone());
                            return view;
                        }
                    };
                    if names {
                        for n in &s.names {
                            view.names
                                .insert(n.clone(), witness::resolve_on(w, n, env.step()));
                        }
                    }
                    for ip in targets {
                        for (port, server) in servers {
                            let landed = witness::connect_probe(
                                w,
                                *ip,
                                *port,
                                server.as_ref(),
                                local.contains(ip),
                                env.step(),
                            );
                            view.ports.push((*ip, *port, landed));
                        }
                    }
                    view
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&logins)
            .map(|(h, (label, _))| {
                h.join().unwrap_or_else(|_| WitnessView {
                    label: label.clone(),
                    error: Some("the witness check failed".into()),
                    names: BTreeMap::new(),
                    ports: Vec::new(),
                })
            })
            .collect()
    })
}

// ---- names ---------------------------------------------------------------------

/// A name's addresses judged against this server (`ours`: its interfaces'
/// routable addresses and service addresses a witness proved), service
/// addresses not proven (and why) and the old server.
fn judge_name(
    name: &str,
    from: &str,
    r: &Result<BTreeSet<IpAddr>, String>,
    ours: &BTreeSet<IpAddr>,
    unproven: &BTreeMap<IpAddr, String>,
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
            let pick = |f: &dyn Fn(&IpAddr) -> bool| -> BTreeSet<IpAddr> {
                a.iter().filter(|ip| f(ip)).copied().collect()
            };
            let at_old = pick(&|ip| old.contains(ip));
            let not_routable = pick(&|ip| !maestro_common::net::is_routable(*ip));
            let elsewhere = pick(&|ip| !ours.contains(ip) && !unproven.contains_key(ip));
            let not_proven = pick(&|ip| unproven.contains_key(ip));
            if !at_old.is_empty() {
                (
                    Status::Critical,
                    "name-old-primary",
                    format!(
                        "{name} resolves to {} from {from}: the old primary (a resolver may still cache the old answer for its TTL)",
                        net::join(&at_old)
                    ),
                )
            } else if !not_routable.is_empty() {
                (
                    Status::Critical,
                    "name-not-routable",
                    format!(
                        "{name} resolves to {} from {from}: a loopback, link-local or unspecified address, which no client reaches this server on",
                        net::join(&not_routable)
                    ),
                )
            } else if !elsewhere.is_empty() {
                (
                    Status::Critical,
                    "name-elsewhere",
                    format!(
                        "{name} resolves to {} from {from}, not to this server",
                        net::join(&elsewhere)
                    ),
                )
            } else {
                let why: Vec<String> = not_proven
                    .iter()
                    .map(|ip| format!("{ip}: {}", unproven[ip]))
                    .collect();
                (
                    Status::Warning,
                    "name-unproven",
                    format!(
                        "{name} resolves to {} from {from}, a service address of this server that is not on its interfaces, and no witness proved it reaches this server ({})",
                        net::join(&not_proven),
                        why.join("; ")
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
    unproven: &BTreeMap<IpAddr, String>,
    old: &BTreeSet<IpAddr>,
    witnesses: &[WitnessView],
) -> Check {
    let started = Instant::now();
    let mut c = Check::ok("names", "");
    for (name, r) in net::resolve_all(&env.settings.names, env.step()) {
        c.add_finding(judge_name(&name, "here", &r, ours, unproven, old));
    }
    let answered = witnesses.iter().filter(|v| v.error.is_none()).count();
    for v in witnesses {
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
                        unproven,
                        old,
                    ));
                }
            }
        }
    }
    if env.settings.witnesses.is_empty() {
        // This host's resolver alone (/etc/hosts can override it) says
        // nothing about what clients resolve.
        c.add_finding(Finding::new(
            Status::Warning,
            "names-no-witness",
            "no witness configured: the names were resolved only here, and this host's resolver (or /etc/hosts) is not what clients use; configure [[redirect.witnesses]]",
        ));
    }
    let worst = c
        .findings
        .iter()
        .filter(|f| f.status == c.status && f.status != Status::Ok)
        .count();
    c.message = if worst > 0 {
        let first = c
            .findings
            .iter()
            .find(|f| f.status == c.status)
            .map(|f| f.message.clone())
            .unwrap_or_default();
        format!(
            "{first}{}",
            if worst > 1 {
                format!(" (and {} more)", worst - 1)
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "{} resolve to this server from here and from {answered} of {} witnesses",
            env.settings.names.join(", "),
            witnesses.len()
        )
    };
    c.timed(started.elapsed())
}

// ---- SMTP relay ------------------------------------------------------------------

fn smtp_check(env: &Env, s: &crate::settings::SmtpSettings) -> Check {
    let started = Instant::now();
    let total = env.step().saturating_mul(4).min(env.left());
    let relay_name = format!("{}:{}", s.host, s.port);
    let results = match smtp::check_relay(s, env.step(), total) {
        Ok(r) => r,
        Err(e) => {
            return Check::new(
                "smtp",
                Status::Critical,
                format!("relay {relay_name} cannot be used: {e}"),
            )
            .detail("relay", relay_name)
            .timed(started.elapsed())
        }
    };
    let mut c = Check::ok("smtp", "");
    let mut sources = BTreeSet::new();
    let mut messages = Vec::new();
    for (server, verdict) in &results {
        let relay = server.to_string();
        let source =
            smtp::source_address(*server).map_or("this server".to_string(), |a| a.to_string());
        sources.insert(source.clone());
        let (status, id, message) = match verdict {
            RelayVerdict::Accepted(reply) => (
                Status::Ok,
                "relay-accepts",
                format!(
                    "relay {relay} accepts mail from {source} for {} (stopped before DATA): {reply}",
                    s.rcpt
                ),
            ),
            RelayVerdict::Refused { at, reply, permanent: true } => (
                Status::Critical,
                "relay-refuses",
                format!(
                    "relay {relay} refuses mail from {source} at {at}: \"{reply}\": its IP-based relay rules may name only the old primary"
                ),
            ),
            RelayVerdict::Refused { at, reply, permanent: false } => (
                Status::Unknown,
                "relay-refuses-for-now",
                format!("relay {relay} refused mail from {source} at {at} for now: \"{reply}\" (a temporary reply: ask again)"),
            ),
            RelayVerdict::Failed(e) => (
                Status::Critical,
                "relay-unusable",
                format!("relay {relay} cannot be used from {source}: {e}"),
            ),
        };
        messages.push((status, message.clone()));
        c.add_finding(Finding::new(status, id, message).at(relay));
    }
    let worst = c.status;
    let first = messages
        .iter()
        .find(|(st, _)| *st == worst)
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    c.message = if results.len() == 1 {
        first
    } else if worst == Status::Ok {
        format!(
            "relay {relay_name}: all {} of its addresses accept mail from this server for {} (stopped before DATA)",
            results.len(),
            s.rcpt
        )
    } else {
        let ok = messages.iter().filter(|(st, _)| *st == Status::Ok).count();
        format!(
            "{ok} of {} addresses of relay {relay_name} accept mail: {first}",
            results.len()
        )
    };
    let relay = if results.len() == 1 {
        results[0].0.to_string()
    } else {
        relay_name
    };
    c.detail("relay", relay)
        .detail("source", sources.into_iter().collect::<Vec<_>>().join(", "))
        .detail("rcpt", s.rcpt.clone())
        .timed(started.elapsed())
}

// ---- ports -----------------------------------------------------------------------

fn ports_check(env: &Env, local: &BTreeSet<IpAddr>) -> Check {
    let started = Instant::now();
    let mut c = Check::ok("ports", "");
    if env.settings.witnesses.is_empty() {
        c.status = Status::Unknown;
        c.message =
            "no witness configured to connect from: configure [[redirect.witnesses]]".into();
        return c;
    }
    let targets = port_targets(env, local);
    if targets.is_empty() {
        c.status = Status::Unknown;
        c.message = "no address of this server to connect to: set [redirect] addresses".into();
        return c;
    }
    // One listener a port on every address of this host: a connection to
    // a target reads a token only when it arrives here.
    let mut servers: BTreeMap<u16, Option<TokenServer>> = BTreeMap::new();
    for port in &env.settings.ports {
        match TokenServer::on_every_address(*port) {
            Ok(Listen::Serving(t)) => {
                servers.insert(*port, Some(t));
            }
            Ok(Listen::PortInUse) => {
                servers.insert(*port, None);
            }
            Err(e) => c.add_finding(
                Finding::new(Status::Unknown, "ports-not-served", e).detail("port", *port),
            ),
        }
    }
    let views = witness_round(env, &targets, &servers, local, false);
    drop(servers);
    let answered = views.iter().filter(|v| v.error.is_none()).count();
    let unasked = if answered > 0 {
        Status::Warning
    } else {
        Status::Unknown
    };
    let mut reached = 0;
    for v in &views {
        if let Some(e) = &v.error {
            c.add_finding(
                Finding::new(
                    unasked,
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
                Landed::Reachable if local.contains(ip) => Finding::new(
                    Status::Warning,
                    "port-unproven",
                    format!(
                        "reaches {target}, where a service already listens on this server's port: no token could be served, so where the connection landed is not proven"
                    ),
                ),
                Landed::Reachable => Finding::new(
                    Status::Unknown,
                    "port-unproven",
                    format!(
                        "connects to {target}, but port {port} is in use here (no token could be served) and {ip} is not on this server's interfaces: the connection may have reached another machine"
                    ),
                ),
                Landed::Unproven(why) => Finding::new(
                    Status::Warning,
                    "port-unproven",
                    format!("its connection to {target}: not proven: {why}"),
                ),
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
                Landed::Broken(e) => Finding::new(
                    unasked,
                    "witness-unreachable",
                    format!("the witness's channel broke connecting to {target}: {e}"),
                ),
            };
            c.add_finding(f.at(v.label.clone()).detail("port", *port));
        }
    }
    let total: usize = views.iter().map(|v| v.ports.len()).sum();
    c.message = if c.status != Status::Ok {
        let first = c
            .findings
            .iter()
            .find(|f| f.status == c.status)
            .map(|f| f.message.clone())
            .unwrap_or_default();
        format!("{reached} of {total} connections proven to reach this server: {first}")
    } else if total == 0 {
        c.status = c.status.worst(Status::Unknown);
        "no connection could be tried".to_string()
    } else {
        format!(
            "ports {} of {} reach this server from {answered} of {} witnesses",
            env.settings
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            targets
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            views.len(),
        )
    };
    c.timed(started.elapsed())
}
