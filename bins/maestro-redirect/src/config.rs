//! The `[redirect]` section of the shared configuration: how
//! maestro-redirect moves traffic to this server and what its `check`
//! looks at. The section is this tool's; every maestro-ha binary registers
//! [`SECTION`] so that any tool's `config check` names a typo in it.

use maestro_common::config::{Section, WitnessConfig};
use maestro_common::duration::HumanDuration;
use maestro_common::secret::SecretRef;
use serde::Deserialize;

/// `[redirect]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<RedirectConfig>("redirect");

/// A way `maestro-redirect` moves traffic to this server (`[redirect] methods`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RedirectMethod {
    /// A floating service address: added here, announced, verified from the witnesses.
    Ip,
    /// A TSIG-signed dynamic update of the names' A/AAAA records (RFC 2136).
    Dns,
    /// The admin's own commands (NAT, load balancer, cloud API) with a verify command.
    Command,
}

impl RedirectMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RedirectMethod::Ip => "ip",
            RedirectMethod::Dns => "dns",
            RedirectMethod::Command => "command",
        }
    }
}

/// `[redirect]`: maestro-redirect, the failover's step 2 (traffic to this
/// server, and what still points at the old primary).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    /// Methods tried in order by `move` and `undo`, each verified.
    pub methods: Option<Vec<RedirectMethod>>,
    /// The whole run. Default 120s.
    pub deadline: Option<HumanDuration>,
    /// Each network step (an SSH login, a DNS exchange, an SMTP session). Default 5s.
    pub step_timeout: Option<HumanDuration>,
    /// The failover's service addresses (IP literals): what the DNS names
    /// point to after `move` on the failover. One that is not on the
    /// failover's interfaces (a NAT's public address) counts only when a
    /// witness's connection to it reaches the failover.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// The primary's service addresses (IP literals): what the names point
    /// to after `move` on the primary (the failback), and what `check` on
    /// the failover looks for as the old primary's. The primary is the
    /// server that holds an address of `[primary] addresses` (or `host`,
    /// when it is an address).
    #[serde(default)]
    pub primary_addresses: Vec<String>,
    /// On the failover: the primary's addresses or names, what must no
    /// longer be pointed at. Default: `[primary]` host and addresses. On
    /// the primary the old server is always `[failover]` and `addresses`.
    #[serde(default)]
    pub old_addresses: Vec<String>,
    /// Servers that prove from outside that traffic arrives here. Default:
    /// `[[watch.witnesses]]` (their `command` is not used).
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
    /// `ip`: the floating address, `198.51.100.20` or with a prefix length
    /// (`/32` or `/128` when none is given).
    pub floating_address: Option<String>,
    /// `ip`: the interface that holds the floating address.
    pub interface: Option<String>,
    /// The port the witnesses connect to while this tool serves a token
    /// there: the `ip` method's proof, and the `dns` method's for a service
    /// address that is not on this server's interfaces. Default 80.
    pub verify_port: Option<u16>,
    /// `dns`: the zone of the names, like `example.org`.
    pub dns_zone: Option<String>,
    /// `dns`: the zone's primary server, `HOST` or `HOST:PORT`, that takes the update.
    pub dns_server: Option<String>,
    /// `dns`: the names whose A/AAAA records move (the Maestro and tracker names).
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// `dns`: the TTL of the new records. Default 60s.
    pub dns_ttl: Option<HumanDuration>,
    /// `dns`: the TSIG key's name (also read from a key file in BIND's format).
    pub dns_key_name: Option<String>,
    /// `dns`: the TSIG secret: a file holding the base64 secret or a BIND
    /// `key` clause (tsig-keygen's output), or an environment variable.
    pub dns_key: Option<SecretRef>,
    /// `dns`: how long every authoritative server may take to answer the
    /// new addresses. Default 30s.
    pub dns_wait: Option<HumanDuration>,
    /// `dns`: run (through `sh -c`) when a server still lags after
    /// `dns_wait`, like `rndc notify example.org` on the primary; then wait again.
    pub dns_notify_command: Option<String>,
    /// `command`: moves the traffic here (`sh -c`; exit 0 = done).
    pub move_command: Option<String>,
    /// `command`: moves it back (failback).
    pub undo_command: Option<String>,
    /// `command`: after `move_command`, exit 0 when traffic arrives here, 1
    /// when it does not, anything else "cannot tell".
    pub verify_command: Option<String>,
    /// `command`: after `undo_command`, exit 0 when traffic arrives at the
    /// primary, 1 when it does not, anything else "cannot tell". `undo`
    /// runs nothing without it (a command that fails is no proof that
    /// traffic left).
    pub undo_verify_command: Option<String>,
    /// `command`: each command's bound. Default 30s.
    pub command_timeout: Option<HumanDuration>,
    /// `check`: the Maestro and tracker names that must resolve to this
    /// server. Default: `dns_names`.
    #[serde(default)]
    pub names: Vec<String>,
    /// `check`: the SMTP relay Maestro sends through, `HOST` or `HOST:PORT` (25).
    pub smtp_relay: Option<String>,
    /// `check`: the envelope sender of the relay test. Default `postmaster@` the HELO name.
    pub smtp_from: Option<String>,
    /// `check`: a recipient the relay must accept (outside its own domains).
    pub smtp_rcpt: Option<String>,
    /// `check`: the HELO name. Default: this host's name.
    pub smtp_helo: Option<String>,
    /// `check`: ports of this server that must be reachable from every witness.
    #[serde(default)]
    pub ports: Vec<u16>,
}
