//! What a run uses: the flags over the `[redirect]` section over the
//! built-in defaults. `config check` runs this same resolution, so it
//! passes only for a configuration `move`, `undo` and `check` can run with.

use crate::config::{RedirectConfig, RedirectMethod};
use crate::net;
use crate::tsig::TsigKey;
use maestro_common::config::{Config, ConfigError, HostConfig, LoadedConfig, WitnessConfig};
use maestro_common::site::SiteConfig;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

/// The witnesses of maestro-watch's `[watch]` section, which redirect asks
/// too when `[redirect]` names none. The section is the watcher's: every
/// other key is its business, checked by its type.
#[derive(Debug, Default, serde::Deserialize)]
struct WatchWitnesses {
    #[serde(default)]
    witnesses: Vec<WitnessConfig>,
}

pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_VERIFY_PORT: u16 = 80;
pub const DEFAULT_DNS_TTL: Duration = Duration::from_secs(60);
pub const DEFAULT_DNS_WAIT: Duration = Duration::from_secs(30);
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
pub const DNS_PORT: u16 = 53;
pub const SMTP_PORT: u16 = 25;

/// Why the settings cannot be used: the section does not read (a typo,
/// a wrong type: file, line and key), or a value is unusable (its key).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{key}: {message}")]
    Value { key: String, message: String },
}

impl SettingsError {
    /// The key at fault, where one is.
    pub fn key(&self) -> Option<&str> {
        match self {
            SettingsError::Value { key, .. } => Some(key),
            SettingsError::Config(_) => None,
        }
    }
}

fn err(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Value {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The flags that override the config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub methods: Vec<RedirectMethod>,
    pub deadline: Option<Duration>,
    pub old_addresses: Vec<String>,
}

/// Which server of the pair runs the tool: the one whose `move` takes the
/// traffic. The primary is the host that holds a routable address of
/// `[primary] addresses` (or `host`, when it is an address); every other
/// host is the failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Failover,
    Primary,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Failover => "failover",
            Role::Primary => "primary",
        }
    }

    /// The key that holds this server's service addresses.
    pub fn service_key(self) -> &'static str {
        match self {
            Role::Failover => "redirect.addresses",
            Role::Primary => "redirect.primary_addresses",
        }
    }
}

/// `ip`: the floating service address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSettings {
    pub address: IpAddr,
    pub prefix: u8,
    pub interface: String,
}

/// `dns`: the dynamic update and where it goes.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// The zone, fully qualified (`example.org.`).
    pub zone: String,
    pub server_host: String,
    pub server_port: u16,
    /// Fully qualified names whose A/AAAA records move.
    pub names: Vec<String>,
    pub ttl: u32,
    pub key: TsigKey,
    pub wait: Duration,
    pub notify_command: Option<String>,
}

/// `command`: the admin's own commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSettings {
    pub move_command: Option<String>,
    pub undo_command: Option<String>,
    pub verify_command: String,
    pub undo_verify_command: Option<String>,
    pub timeout: Duration,
}

/// `check`'s SMTP relay test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub helo: String,
    pub from: String,
    pub rcpt: String,
}

/// The other server: what must no longer be pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OldServer {
    /// Addresses and names, as configured.
    pub entries: Vec<String>,
    /// Where they come from, for messages.
    pub source: String,
}

impl OldServer {
    pub fn literal_addresses(&self) -> BTreeSet<IpAddr> {
        self.entries
            .iter()
            .filter_map(|e| net::parse_ip(e))
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| net::parse_ip(e).is_none())
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub methods: Vec<RedirectMethod>,
    pub deadline: Duration,
    pub step_timeout: Duration,
    /// Which server this is.
    pub role: Role,
    /// This server's service addresses (`[redirect] addresses` on the
    /// failover, `primary_addresses` on the primary).
    pub service_addresses: Vec<IpAddr>,
    pub old: OldServer,
    /// Where the token of a witness's proof is served.
    pub verify_port: u16,
    /// `[primary] host`, as the fence journal names it.
    pub primary_host: Option<String>,
    pub witnesses: Vec<WitnessConfig>,
    /// Where the witnesses come from, for messages.
    pub witnesses_from: &'static str,
    pub ip: Option<IpSettings>,
    pub dns: Option<DnsSettings>,
    pub command: Option<CommandSettings>,
    /// The names `check` resolves.
    pub names: Vec<String>,
    pub smtp: Option<SmtpSettings>,
    pub ports: Vec<u16>,
    pub site: SiteConfig,
}

impl Settings {
    /// Resolves everything; `warn` gets advice that does not stop the run
    /// (a secret file others can read).
    pub fn resolve(
        loaded: &LoadedConfig,
        flags: &Overrides,
        warn: &mut dyn FnMut(String),
    ) -> Result<Settings, SettingsError> {
        let config = &loaded.config;
        let r: RedirectConfig = loaded.section(crate::config::SECTION.name)?;
        let r = &r;
        let methods = if flags.methods.is_empty() {
            r.methods.clone().unwrap_or_default()
        } else {
            flags.methods.clone()
        };
        let mut seen = BTreeSet::new();
        for m in &methods {
            if !seen.insert(m.as_str()) {
                return Err(err(
                    "redirect.methods",
                    format!("`{}` is listed twice", m.as_str()),
                ));
            }
        }
        let deadline = flags
            .deadline
            .or(r.deadline.map(|d| d.0))
            .unwrap_or(DEFAULT_DEADLINE);
        if deadline.is_zero() {
            return Err(err("redirect.deadline", "must be longer than 0"));
        }
        let step_timeout = r.step_timeout.map_or(DEFAULT_STEP_TIMEOUT, |d| d.0);
        if step_timeout.is_zero() {
            return Err(err("redirect.step_timeout", "must be longer than 0"));
        }
        let failover_service = service_list("redirect.addresses", &r.addresses)?;
        let primary_service = service_list("redirect.primary_addresses", &r.primary_addresses)?;
        // Which server this is decides what the names point to: not known,
        // nothing runs.
        let local = net::routable_here().map_err(|e| {
            err(
                "primary.addresses",
                format!("which server this is cannot be told: {e}"),
            )
        })?;
        let role = role(config, &local)?;
        let service_addresses = match role {
            Role::Failover => failover_service.clone(),
            Role::Primary => primary_service.clone(),
        };
        let old = old_server(
            config,
            r,
            role,
            &flags.old_addresses,
            &failover_service,
            &primary_service,
        )?;
        let (witnesses, witnesses_from) = if r.witnesses.is_empty() {
            (
                loaded.section::<WatchWitnesses>("watch")?.witnesses,
                "[[watch.witnesses]]",
            )
        } else {
            (r.witnesses.clone(), "[[redirect.witnesses]]")
        };
        let ip = if methods.contains(&RedirectMethod::Ip) || r.floating_address.is_some() {
            Some(ip_settings(r)?)
        } else {
            None
        };
        // The key is loaded whenever it is configured, whatever the methods
        // of this run: loading registers the secret, so that no output of
        // any run (a command that prints it) shows it.
        let dns = if methods.contains(&RedirectMethod::Dns) || r.dns_key.is_some() {
            Some(dns_settings(r, warn)?)
        } else {
            None
        };
        if methods.contains(&RedirectMethod::Dns) && service_addresses.is_empty() {
            return Err(err(
                role.service_key(),
                format!(
                    "the dns method needs this server's service addresses (what the names point to after the move on the {})",
                    role.as_str()
                ),
            ));
        }
        let verify_port = r.verify_port.unwrap_or(DEFAULT_VERIFY_PORT);
        if verify_port == 0 {
            return Err(err("redirect.verify_port", "port 0"));
        }
        let command = if methods.contains(&RedirectMethod::Command) {
            Some(command_settings(r)?)
        } else {
            None
        };
        let names = if r.names.is_empty() {
            r.dns_names.clone()
        } else {
            r.names.clone()
        };
        for n in &names {
            let key = if r.names.is_empty() {
                "redirect.dns_names"
            } else {
                "redirect.names"
            };
            net::check_host_name(n.trim_end_matches('.')).map_err(|m| err(key, m))?;
        }
        let smtp = smtp_settings(r)?;
        if r.ports.contains(&0) {
            return Err(err("redirect.ports", "port 0"));
        }
        Ok(Settings {
            methods,
            deadline,
            step_timeout,
            role,
            service_addresses,
            old,
            verify_port,
            primary_host: config.primary.as_ref().map(|p| p.host.clone()),
            witnesses,
            witnesses_from,
            ip,
            dns,
            command,
            names,
            smtp,
            ports: r.ports.clone(),
            site: config.site.clone(),
        })
    }

    /// The methods of a `move` or `undo`; none is a usage error.
    pub fn require_methods(&self) -> Result<(), SettingsError> {
        if self.methods.is_empty() {
            return Err(err(
                "redirect.methods",
                "no method: set [redirect] methods (ip, dns, command) or give --method",
            ));
        }
        Ok(())
    }
}

/// Service addresses as configured: IP literals, canonical.
fn service_list(key: &str, list: &[String]) -> Result<Vec<IpAddr>, SettingsError> {
    let mut out: Vec<IpAddr> = Vec::new();
    for a in list {
        let ip = net::parse_ip(a).ok_or_else(|| {
            err(
                key,
                format!("{a:?} is not an IP address (service addresses are given as literals)"),
            )
        })?;
        if !maestro_common::net::is_routable(ip) {
            return Err(err(
                key,
                format!("{ip} cannot be a service address (loopback, link-local, unspecified or multicast)"),
            ));
        }
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// The literal addresses of a `[primary]`/`[failover]` section: its
/// addresses and its host, where they are addresses.
fn literals(h: &HostConfig) -> BTreeSet<IpAddr> {
    h.addresses
        .iter()
        .chain(std::iter::once(&h.host))
        .filter_map(|e| net::parse_ip(e))
        .collect()
}

/// Which server this is, from the addresses on its interfaces now. Names
/// are never resolved for this: a name like the service's own would make
/// the failover take itself for the primary once the name moved.
fn role(config: &Config, local: &BTreeSet<IpAddr>) -> Result<Role, SettingsError> {
    let holds = |h: &Option<HostConfig>| {
        h.as_ref()
            .is_some_and(|h| literals(h).iter().any(|a| local.contains(a)))
    };
    match (holds(&config.primary), holds(&config.failover)) {
        (true, true) => Err(err(
            "primary.addresses",
            "this host holds addresses of both [primary] and [failover]: which server it is cannot be told",
        )),
        (true, false) => Ok(Role::Primary),
        _ => Ok(Role::Failover),
    }
}

/// The host entries of a `[primary]`/`[failover]` section: its addresses,
/// else its host.
fn host_entries(h: &HostConfig) -> Vec<String> {
    let mut v = if h.addresses.is_empty() {
        vec![h.host.clone()]
    } else {
        h.addresses.clone()
    };
    if !v.contains(&h.host) {
        v.push(h.host.clone());
    }
    v
}

/// The other server: `--old-address`, else on the failover `[redirect]
/// old_addresses` or `[primary]`, with `primary_addresses`; on the primary
/// (the failback) `[failover]` with `[redirect] addresses`.
fn old_server(
    config: &Config,
    r: &RedirectConfig,
    role: Role,
    flags: &[String],
    failover_service: &[IpAddr],
    primary_service: &[IpAddr],
) -> Result<OldServer, SettingsError> {
    let validate = |key: &str, entries: &[String]| -> Result<(), SettingsError> {
        for e in entries {
            if net::parse_ip(e).is_none() {
                net::check_host_name(e).map_err(|m| err(key, m))?;
            }
        }
        Ok(())
    };
    if !flags.is_empty() {
        validate("--old-address", flags)?;
        return Ok(OldServer {
            entries: flags.to_vec(),
            source: "--old-address".into(),
        });
    }
    let with = |mut entries: Vec<String>, service: &[IpAddr]| {
        for a in service {
            let a = a.to_string();
            if !entries.contains(&a) {
                entries.push(a);
            }
        }
        entries
    };
    match role {
        Role::Primary => {
            let entries = config
                .failover
                .as_ref()
                .map(host_entries)
                .unwrap_or_default();
            Ok(OldServer {
                entries: with(entries, failover_service),
                source: "[failover] and [redirect] addresses (this server is [primary])".into(),
            })
        }
        Role::Failover if !r.old_addresses.is_empty() => {
            validate("redirect.old_addresses", &r.old_addresses)?;
            Ok(OldServer {
                entries: with(r.old_addresses.clone(), primary_service),
                source: "[redirect] old_addresses".into(),
            })
        }
        Role::Failover => {
            let entries = config
                .primary
                .as_ref()
                .map(host_entries)
                .unwrap_or_default();
            Ok(OldServer {
                entries: with(entries, primary_service),
                source: "[primary]".into(),
            })
        }
    }
}

fn ip_settings(r: &RedirectConfig) -> Result<IpSettings, SettingsError> {
    const KEY: &str = "redirect.floating_address";
    let text = r
        .floating_address
        .as_deref()
        .ok_or_else(|| err(KEY, "the ip method needs the floating address"))?;
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let address =
        net::parse_ip(addr).ok_or_else(|| err(KEY, format!("{addr:?} is not an IP address")))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=max).contains(p))
            .ok_or_else(|| err(KEY, format!("/{p} is not a prefix length (1-{max})")))?,
    };
    if address.is_loopback() || address.is_unspecified() || address.is_multicast() {
        return Err(err(KEY, format!("{address} cannot be a service address")));
    }
    let interface = r
        .interface
        .clone()
        .ok_or_else(|| err("redirect.interface", "the ip method needs the interface"))?;
    let valid = !interface.is_empty()
        && interface.len() <= 15
        && interface
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-@:".contains(c));
    if !valid {
        return Err(err(
            "redirect.interface",
            format!("{interface:?} is not an interface name"),
        ));
    }
    Ok(IpSettings {
        address,
        prefix,
        interface,
    })
}

fn dns_settings(
    r: &RedirectConfig,
    warn: &mut dyn FnMut(String),
) -> Result<DnsSettings, SettingsError> {
    let zone = r
        .dns_zone
        .as_deref()
        .ok_or_else(|| err("redirect.dns_zone", "the dns method needs the zone"))?;
    net::check_host_name(zone.trim_end_matches('.')).map_err(|m| err("redirect.dns_zone", m))?;
    let zone = fqdn(zone);
    let server = r.dns_server.as_deref().ok_or_else(|| {
        err(
            "redirect.dns_server",
            "the dns method needs the zone's primary server (HOST or HOST:PORT)",
        )
    })?;
    let (server_host, server_port) =
        net::split_host_port(server, DNS_PORT).map_err(|m| err("redirect.dns_server", m))?;
    if r.dns_names.is_empty() {
        return Err(err(
            "redirect.dns_names",
            "the dns method needs the names to move (the Maestro and tracker names)",
        ));
    }
    let mut names = Vec::new();
    for n in &r.dns_names {
        net::check_host_name(n.trim_end_matches('.')).map_err(|m| err("redirect.dns_names", m))?;
        let n = fqdn(n);
        if !(n == zone || n.ends_with(&format!(".{zone}"))) {
            return Err(err(
                "redirect.dns_names",
                format!("{n} is not in the zone {zone}"),
            ));
        }
        names.push(n);
    }
    let ttl = r.dns_ttl.map_or(DEFAULT_DNS_TTL, |d| d.0).as_secs();
    let ttl = u32::try_from(ttl)
        .ok()
        .filter(|t| *t <= 0x7fff_ffff)
        .ok_or_else(|| err("redirect.dns_ttl", "too long for a DNS TTL"))?;
    let secret = r.dns_key.as_ref().ok_or_else(|| {
        err(
            "redirect.dns_key",
            "the dns method needs the TSIG key: dns_key = { file = \"/etc/maestro-ha/tsig.key\" }",
        )
    })?;
    let loaded = secret
        .load(warn)
        .map_err(|e| err("redirect.dns_key", e.to_string()))?;
    let key = TsigKey::parse(loaded.expose(), r.dns_key_name.as_deref())
        .map_err(|m| err("redirect.dns_key", format!("{}: {m}", secret.describe())))?;
    let wait = r.dns_wait.map_or(DEFAULT_DNS_WAIT, |d| d.0);
    Ok(DnsSettings {
        zone,
        server_host,
        server_port,
        names,
        ttl,
        key,
        wait,
        notify_command: r.dns_notify_command.clone(),
    })
}

fn command_settings(r: &RedirectConfig) -> Result<CommandSettings, SettingsError> {
    let verify_command = r.verify_command.clone().ok_or_else(|| {
        err(
            "redirect.verify_command",
            "the command method needs a verify command (exit 0: traffic arrives here, 1: it does not)",
        )
    })?;
    if r.move_command.is_none() && r.undo_command.is_none() {
        return Err(err(
            "redirect.move_command",
            "the command method needs move_command (and undo_command for the failback)",
        ));
    }
    let timeout = r.command_timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |d| d.0);
    if timeout.is_zero() {
        return Err(err("redirect.command_timeout", "must be longer than 0"));
    }
    Ok(CommandSettings {
        move_command: r.move_command.clone(),
        undo_command: r.undo_command.clone(),
        verify_command,
        undo_verify_command: r.undo_verify_command.clone(),
        timeout,
    })
}

fn smtp_settings(r: &RedirectConfig) -> Result<Option<SmtpSettings>, SettingsError> {
    let Some(relay) = &r.smtp_relay else {
        if r.smtp_rcpt.is_some() || r.smtp_from.is_some() {
            return Err(err(
                "redirect.smtp_relay",
                "smtp_from/smtp_rcpt are set but not the relay",
            ));
        }
        return Ok(None);
    };
    let (host, port) =
        net::split_host_port(relay, SMTP_PORT).map_err(|m| err("redirect.smtp_relay", m))?;
    let rcpt = r.smtp_rcpt.clone().ok_or_else(|| {
        err(
            "redirect.smtp_rcpt",
            "the relay check needs a recipient outside the relay's own domains",
        )
    })?;
    check_mailbox(&rcpt).map_err(|m| err("redirect.smtp_rcpt", m))?;
    let helo = match &r.smtp_helo {
        Some(h) => {
            net::check_host_name(h).map_err(|m| err("redirect.smtp_helo", m))?;
            h.clone()
        }
        None => net::host_name().unwrap_or_else(|| "localhost".into()),
    };
    let from = r
        .smtp_from
        .clone()
        .unwrap_or_else(|| format!("postmaster@{helo}"));
    check_mailbox(&from).map_err(|m| err("redirect.smtp_from", m))?;
    Ok(Some(SmtpSettings {
        host,
        port,
        helo,
        from,
        rcpt,
    }))
}

/// A plain `local@domain` address: SMTP commands are built from it.
fn check_mailbox(a: &str) -> Result<(), String> {
    let ok = a.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty()
            && !d.is_empty()
            && !a.chars().any(|c| c.is_whitespace() || "<>\"".contains(c))
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{a:?} is not a mail address (local@domain)"))
    }
}

/// `name` with its trailing dot, lower-cased.
pub fn fqdn(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if n.ends_with('.') {
        n
    } else {
        format!("{n}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> LoadedConfig {
        LoadedConfig::from_text(text, std::path::Path::new("t.toml")).unwrap()
    }

    fn resolve(text: &str) -> Result<Settings, SettingsError> {
        Settings::resolve(&config(text), &Overrides::default(), &mut |_| {})
    }

    fn key(e: SettingsError) -> String {
        e.key().unwrap_or("").to_string()
    }

    #[test]
    fn the_floating_address_takes_a_host_prefix_unless_given() {
        let s = resolve("[redirect]\nmethods = [\"ip\"]\nfloating_address = \"198.51.100.20\"\ninterface = \"eth0\"\n").unwrap();
        let ip = s.ip.unwrap();
        assert_eq!((ip.prefix, s.verify_port), (32, 80));
        let s =
            resolve("[redirect]\nfloating_address = \"2001:db8::20/64\"\ninterface = \"eth0\"\n")
                .unwrap();
        assert_eq!(s.ip.unwrap().prefix, 64);
        let e =
            resolve("[redirect]\nfloating_address = \"198.51.100.20/33\"\ninterface = \"eth0\"\n")
                .unwrap_err();
        assert_eq!(key(e), "redirect.floating_address");
        let e = resolve("[redirect]\nmethods = [\"ip\"]\nfloating_address = \"198.51.100.20\"\n")
            .unwrap_err();
        assert_eq!(key(e), "redirect.interface");
        let e = resolve("[redirect]\nmethods = [\"ip\"]\n").unwrap_err();
        assert!(e.to_string().contains("floating address"), "{e}");
    }

    #[test]
    fn dns_needs_zone_server_names_key_and_addresses_each_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, "c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n").unwrap();
        let base = format!(
            "[redirect]\nmethods = [\"dns\"]\ndns_zone = \"example.org\"\ndns_server = \"192.0.2.53\"\ndns_names = [\"maestro.example.org\"]\ndns_key_name = \"maestro-ha\"\ndns_key = {{ file = \"{}\" }}\naddresses = [\"198.51.100.2\"]\n",
            key.display()
        );
        let s = resolve(&base).unwrap();
        let d = s.dns.unwrap();
        assert_eq!(
            (d.zone.as_str(), d.server_port, d.names[0].as_str(), d.ttl),
            ("example.org.", 53, "maestro.example.org.", 60)
        );
        assert_eq!(s.names, vec!["maestro.example.org".to_string()]);
        for (drop_line, key) in [
            ("dns_zone", "redirect.dns_zone"),
            ("dns_server", "redirect.dns_server"),
            ("dns_names", "redirect.dns_names"),
            ("dns_key =", "redirect.dns_key"),
            ("addresses", "redirect.addresses"),
        ] {
            let text: String = base
                .lines()
                .filter(|l| !l.starts_with(drop_line))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(
                super::tests::key(resolve(&text).unwrap_err()),
                key,
                "{drop_line}"
            );
        }
        let e = resolve(&base.replace("maestro.example.org", "maestro.example.net")).unwrap_err();
        assert!(e.to_string().contains("not in the zone"), "{e}");
    }

    #[test]
    fn the_old_server_is_the_primary_unless_named() {
        let s =
            resolve("[primary]\nhost = \"maestro1.example.org\"\naddresses = [\"192.0.2.10\"]\n")
                .unwrap();
        assert_eq!(s.old.source, "[primary]");
        assert_eq!(
            s.old.literal_addresses().into_iter().collect::<Vec<_>>(),
            vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(s.old.names(), vec!["maestro1.example.org".to_string()]);
        let s = Settings::resolve(
            &config("[primary]\nhost = \"maestro1.example.org\"\n"),
            &Overrides {
                old_addresses: vec!["192.0.2.99".into()],
                ..Overrides::default()
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(s.old.source, "--old-address");
        // The config of the primary itself: the other server is [failover].
        let s = resolve("[primary]\nhost = \"127.0.0.2\"\naddresses = [\"127.0.0.1\", \"::1\"]\n[failover]\nhost = \"maestro2.example.org\"\n").unwrap();
        assert_eq!(
            s.old.source, "[primary]",
            "loopback never makes [primary] this host"
        );
    }

    #[test]
    fn command_and_smtp_are_checked() {
        let e =
            resolve("[redirect]\nmethods = [\"command\"]\nmove_command = \"true\"\n").unwrap_err();
        assert_eq!(key(e), "redirect.verify_command");
        let e = resolve("[redirect]\nsmtp_relay = \"mail.example.org\"\n").unwrap_err();
        assert_eq!(key(e), "redirect.smtp_rcpt");
        let s = resolve("[redirect]\nsmtp_relay = \"mail.example.org:587\"\nsmtp_rcpt = \"probe@example.net\"\nsmtp_helo = \"maestro2.example.org\"\n").unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!(
            (smtp.port, smtp.from.as_str()),
            (587, "postmaster@maestro2.example.org")
        );
        let e =
            resolve("[redirect]\nsmtp_relay = \"m\"\nsmtp_rcpt = \"no-at-sign\"\n").unwrap_err();
        assert_eq!(key(e), "redirect.smtp_rcpt");
        let e = resolve("[redirect]\nmethods = [\"ip\", \"ip\"]\n").unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
