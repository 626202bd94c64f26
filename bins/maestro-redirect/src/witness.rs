//! The witnesses: third-party servers reached over SSH (host keys checked)
//! that show what a client out there sees. A connection "from the witness"
//! is an SSH `direct-tcpip` channel: the witness's sshd opens it, so no
//! program of ours has to be installed there. A name "from the witness" is
//! `getent ahosts`, the witness's own resolver.
//!
//! A witness must be another machine: one whose address is this server's
//! own would reach this server whatever the network does, so it is refused.

use crate::token::{self, Listen, TokenServer};
use maestro_common::config::WitnessConfig;
use maestro_common::net as common;
use maestro_common::ssh::{SshClient, SshError};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// The most a witness's lookup may print: `getent ahosts` prints a few lines.
const LOOKUP_OUTPUT_LIMIT: usize = 64 * 1024;

/// `user@host:port`, for messages.
pub fn label(w: &WitnessConfig) -> String {
    format!("{}@{}:{}", w.user, w.host, w.port)
}

/// A witness logged in to.
pub struct Witness {
    pub label: String,
    pub client: SshClient,
    /// Its addresses, as this server reaches it: a token it fetches must
    /// come from one of them.
    pub addresses: BTreeSet<IpAddr>,
}

/// Logs in to a witness, the whole setup bounded by `timeout` at most. A
/// witness that is this server (one of its addresses is this host's) is
/// refused before any login.
pub fn login(w: &WitnessConfig, timeout: Duration) -> Result<Witness, String> {
    let mut addresses = common::resolve(&w.host, timeout).map_err(|e| e.to_string())?;
    let own = common::own_addresses(&addresses.iter().copied().collect::<Vec<_>>())
        .map_err(|e| e.to_string())?;
    if let Some(o) = own.first() {
        return Err(format!(
            "refused: {} is this server ({}, {}): a witness must be another machine, or it proves nothing",
            w.host, o.ip, o.source
        ));
    }
    let mut opts = w.ssh_options();
    opts.connect_timeout = opts
        .connect_timeout
        .min(timeout.max(Duration::from_millis(100)));
    let client = SshClient::connect(&opts).map_err(|e| e.to_string())?;
    if let Some(peer) = client.peer_addr() {
        addresses.insert(common::canonical(peer.ip()));
    }
    // Its other addresses (the other family's, other interfaces'): a
    // connection it makes may leave from any of them. A witness that
    // cannot list them is still used, with the addresses known so far.
    if let Ok(out) = client.exec_limited("hostname -I", timeout, LOOKUP_OUTPUT_LIMIT) {
        if out.exit_status == 0 {
            addresses.extend(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(common::parse_ip)
                    .filter(|a| common::is_routable(*a)),
            );
        }
    }
    Ok(Witness {
        label: label(w),
        client,
        addresses,
    })
}

/// Every witness at once: each logged in, or why not.
pub fn login_all(
    witnesses: &[WitnessConfig],
    timeout: Duration,
) -> Vec<(String, Result<Witness, String>)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = witnesses
            .iter()
            .map(|w| scope.spawn(move || login(w, timeout)))
            .collect();
        handles
            .into_iter()
            .zip(witnesses)
            .map(|(h, w)| {
                (
                    label(w),
                    h.join()
                        .unwrap_or_else(|_| Err("the witness check failed".into())),
                )
            })
            .collect()
    })
}

/// Where a witness's connection to an address landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// It read a token this run served here, fetched from the witness's
    /// own address, on the address it connected to: it reached this server.
    Here,
    /// It connected, but to something that does not know this run's tokens.
    Elsewhere(String),
    /// It read a token, but how it got here proves nothing about the address.
    Unproven(String),
    /// It connected to a service already listening here on the port (no
    /// token could be served there): reachable, landing not proven.
    Reachable,
    /// It could not connect.
    NoConnection(String),
    /// The witness's channel or session broke: nothing is known.
    Broken(String),
}

/// Has the witness connect to `ip:port` and says where it landed. A token
/// counts only when the witness fetched it itself (not a proxy on another
/// machine) and, when `ip` is on this host, on `ip` itself.
pub fn connect_probe(
    w: &Witness,
    ip: IpAddr,
    port: u16,
    server: Option<&TokenServer>,
    ip_is_here: bool,
    timeout: Duration,
) -> Landed {
    let host = ip.to_string();
    // Whole tenths of a second: the bound appears in messages.
    let ms = timeout.as_millis().div_ceil(100) * 100;
    let timeout = Duration::from_millis(ms as u64);
    let x = match w.client.tcp_exchange(&host, port, b"", 512, timeout) {
        Ok(x) => x,
        Err(e) => return failed_exchange(e),
    };
    let Some(server) = server else {
        return Landed::Reachable;
    };
    match server.fetch_of(&x.received) {
        None => Landed::Elsewhere(token::shown(&x.received)),
        Some(f) if !w.addresses.contains(&f.peer) => Landed::Unproven(format!(
            "the token was fetched from {}, not from the witness ({}): a proxy or NAT between them proves nothing about {ip}",
            f.peer,
            common::join(&w.addresses)
        )),
        Some(f) if ip_is_here && f.local != common::canonical(ip) => Landed::Unproven(format!(
            "the connection to {ip} arrived on {} of this server: something redirects it",
            f.local
        )),
        Some(_) => Landed::Here,
    }
}

/// Why a witness's connection failed: the witness's sshd could not connect
/// (its open failure, or no answer in time), or the witness itself could
/// not be used (forwarding not allowed, the channel or session broke).
fn failed_exchange(e: SshError) -> Landed {
    match &e {
        SshError::Timeout { .. } => Landed::NoConnection(e.to_string()),
        SshError::Channel { what, reason } if what.starts_with("connect to") => {
            if reason.contains("prohibited") {
                Landed::Broken(format!(
                    "{e} (the witness's sshd does not allow TCP forwarding: AllowTcpForwarding)"
                ))
            } else if reason.contains("open failure") {
                Landed::NoConnection(e.to_string())
            } else {
                Landed::Broken(e.to_string())
            }
        }
        _ => Landed::Broken(e.to_string()),
    }
}

/// A name as the witness's resolver answers it (`getent ahosts`), bounded
/// there too (`timeout`), since a command that outlives the channel is not
/// killed by SSH; its output is bounded too.
pub fn resolve_on(w: &Witness, name: &str, timeout: Duration) -> Result<BTreeSet<IpAddr>, String> {
    crate::net::check_host_name(name.trim_end_matches('.'))?;
    let secs = timeout.as_secs().max(1);
    let command = format!("timeout {secs} getent ahosts '{name}'");
    let out = w
        .client
        .exec_limited(
            &command,
            timeout + Duration::from_secs(1),
            LOOKUP_OUTPUT_LIMIT,
        )
        .map_err(|e| e.to_string())?;
    match out.exit_status {
        0 => {
            let addrs: BTreeSet<IpAddr> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter_map(|w| w.parse().ok())
                .map(common::canonical)
                .collect();
            if addrs.is_empty() {
                Err(format!("{name} has no address"))
            } else {
                Ok(addrs)
            }
        }
        2 => Err(format!("{name} is not known there")),
        124 => Err(format!("the lookup of {name} took longer than {secs}s")),
        127 => Err("getent or timeout is missing there".to_string()),
        code => Err(format!(
            "getent exited {code}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Does every witness that can be asked reach this server through each of
/// `addrs` (addresses that are not on this host's interfaces: a NAT's public
/// address)? A token is served on `port` on every address of this host
/// while they connect. Per address: proven, or why not.
pub fn prove_reaches_here(
    witnesses: &[WitnessConfig],
    addrs: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> BTreeMap<IpAddr, Result<String, String>> {
    let fail = |why: String| addrs.iter().map(|a| (*a, Err(why.clone()))).collect();
    if witnesses.is_empty() {
        return fail("no witness is configured to prove it".into());
    }
    let server = match TokenServer::on_every_address(port) {
        Ok(Listen::Serving(s)) => s,
        Ok(Listen::PortInUse) => {
            return fail(format!(
                "port {port} is in use here, so no token can be served to prove it: set [redirect] verify_port to a free port the witnesses may reach"
            ))
        }
        Err(e) => return fail(e),
    };
    let logins = login_all(witnesses, timeout);
    let mut out = BTreeMap::new();
    for ip in addrs {
        let mut proven = Vec::new();
        let mut problems = Vec::new();
        for (label, w) in &logins {
            match w {
                Err(e) => problems.push(format!("{label}: cannot ask it: {e}")),
                Ok(w) => match connect_probe(w, *ip, port, Some(&server), false, timeout) {
                    Landed::Here => proven.push(label.clone()),
                    other => problems.push(format!("{label}: {}", describe(&other))),
                },
            }
        }
        out.insert(
            *ip,
            if problems.is_empty() && !proven.is_empty() {
                Ok(format!(
                    "{ip}:{port} reaches this server from {}",
                    proven.join(", ")
                ))
            } else {
                Err(problems.join("; "))
            },
        );
    }
    out
}

/// A landing in words, for messages.
pub fn describe(l: &Landed) -> String {
    match l {
        Landed::Here => "reached this server".into(),
        Landed::Elsewhere(a) => format!("reached another machine (it answered {a})"),
        Landed::Unproven(why) => format!("not proven: {why}"),
        Landed::Reachable => {
            "reached a service that listens on the port here (no token could be served): where it landed is not proven".into()
        }
        Landed::NoConnection(e) => format!("cannot connect: {e}"),
        Landed::Broken(e) => format!("the witness's channel broke: {e}"),
    }
}
