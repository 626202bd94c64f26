//! The witnesses: third-party servers reached over SSH (host keys checked)
//! that show what a client out there sees. A connection "from the witness"
//! is an SSH `direct-tcpip` channel: the witness's sshd opens it, so no
//! program of ours has to be installed there. A name "from the witness" is
//! `getent ahosts`, the witness's own resolver.

use crate::token::{self, TokenServer};
use maestro_common::config::WitnessConfig;
use maestro_common::ssh::{SshClient, SshError};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

/// `user@host:port`, for messages.
pub fn label(w: &WitnessConfig) -> String {
    format!("{}@{}:{}", w.user, w.host, w.port)
}

/// Logs in to a witness, the whole setup bounded by `timeout` at most.
pub fn connect(w: &WitnessConfig, timeout: Duration) -> Result<SshClient, SshError> {
    let mut opts = w.ssh_options();
    opts.connect_timeout = opts
        .connect_timeout
        .min(timeout.max(Duration::from_millis(100)));
    SshClient::connect(&opts)
}

/// Where a witness's connection to an address landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// It read this run's token: it reached this server.
    Here,
    /// It connected, but to something that does not know the token.
    Elsewhere(String),
    /// It connected to a service already listening here (no token could
    /// be served on a port in use): reachable, landing not proven.
    Reachable,
    /// It could not connect at all.
    NoConnection(String),
}

/// Has the witness connect to `ip:port` and says where it landed.
pub fn connect_probe(
    client: &SshClient,
    ip: IpAddr,
    port: u16,
    server: Option<&TokenServer>,
    timeout: Duration,
) -> Landed {
    let host = ip.to_string();
    // Whole tenths of a second: the bound appears in messages.
    let ms = timeout.as_millis().div_ceil(100) * 100;
    let timeout = Duration::from_millis(ms as u64);
    match client.tcp_exchange(&host, port, b"", 512, timeout) {
        Err(e) => Landed::NoConnection(e.to_string()),
        Ok(x) => match server {
            Some(s) if s.matches(&x.received) => Landed::Here,
            Some(_) => Landed::Elsewhere(token::shown(&x.received)),
            None => Landed::Reachable,
        },
    }
}

/// A name as the witness's resolver answers it (`getent ahosts`), bounded
/// there too (`timeout`), since a command that outlives the channel is not
/// killed by SSH.
pub fn resolve_on(
    client: &SshClient,
    name: &str,
    timeout: Duration,
) -> Result<BTreeSet<IpAddr>, String> {
    crate::net::check_host_name(name.trim_end_matches('.'))?;
    let secs = timeout.as_secs().max(1);
    let command = format!("timeout {secs} getent ahosts '{name}'");
    let out = client
        .exec(&command, timeout + Duration::from_secs(1))
        .map_err(|e| e.to_string())?;
    match out.exit_status {
        0 => {
            let addrs: BTreeSet<IpAddr> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter_map(|w| w.parse().ok())
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
