//! The `[watch]` section of the shared configuration: how maestro-watch
//! probes the primary and decides. Every key also has a flag, which wins.

use maestro_common::config::{ConfigError, HostConfig, LoadedConfig, Section, WitnessConfig};
use maestro_common::duration::HumanDuration;
use serde::Deserialize;

/// `[watch]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<WatchConfig>("watch");

/// What the watcher's settings are resolved from: its own section and the
/// primary it watches by default.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub watch: WatchConfig,
    pub primary: Option<HostConfig>,
}

impl Sources {
    pub fn from_loaded(loaded: &LoadedConfig) -> Result<Sources, ConfigError> {
        Ok(Sources {
            watch: loaded.section(SECTION.name)?,
            primary: loaded.config.primary.clone(),
        })
    }
}

/// `[watch]`: outage detection by maestro-watch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The primary as probed: a host name or address. Default: `[primary] host`.
    pub target: Option<String>,
    /// TCP ports to connect to. Default: 80, 443, 25, 1099, 3306 (Maestro's ports).
    pub tcp_ports: Option<Vec<u16>>,
    /// URLs to GET without following redirects, e.g. `http://maestro1/lui/`.
    #[serde(default)]
    pub http: Vec<String>,
    /// HTTP statuses that count as up. Default: every 2xx and 3xx.
    pub http_expect: Option<Vec<u16>>,
    /// Also ping the target (`ping` on Linux, the ICMP API on Windows). An ICMP-only failure never makes DOWN.
    pub icmp: Option<bool>,
    /// Each probe's timeout. Default 3s.
    pub probe_timeout: Option<HumanDuration>,
    /// How long every probe must fail before DOWN is confirmed. Default 120s.
    pub threshold: Option<HumanDuration>,
    /// Time between evaluations of `run`, and the expected spacing of `once`
    /// runs: a gap of more than three intervals restarts the threshold timer. Default 10s.
    pub interval: Option<HumanDuration>,
    /// Proves this host is connected: `host:port` (TCP connect) or `host` (ping).
    pub gateway: Option<String>,
    /// Third-party servers that run the same probes over SSH.
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
    /// Command run once (through `sh -c`) when DOWN is confirmed by `run`.
    pub exec: Option<String>,
    /// Bound on the `exec` command. Default 30m.
    pub exec_timeout: Option<HumanDuration>,
}
