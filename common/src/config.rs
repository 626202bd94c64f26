//! The one TOML configuration file all tools share.
//!
//! Found as `--config PATH`, else `$MAESTRO_HA_CONFIG`, else
//! `/etc/maestro-ha/config.toml`. A file named by the flag or the variable
//! must exist; the default file may be absent (every setting has a flag).
//! Every section is typed and rejects unknown keys, so a typo is an error
//! that names the file, the line and the key, not a silently ignored line.
//! `--set section.key=value` overrides any key from the command line; a
//! tool's own flags win over both.
//!
//! The sections several tools read (`[site]`, `[primary]`, `[failover]`,
//! `[services]`, `[sync]`) are typed here. Each tool owns the type of its
//! own section (`[fence]` in maestro-fence, ...) beside the code that
//! resolves it, and offers it as a [`Section`]. The binaries register every
//! tool's section ([`register_sections`]), so that any tool's `config
//! check`, and every run, names a typo in any section.

use crate::duration::HumanDuration;
use crate::site::SiteConfig;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub const ENV_CONFIG: &str = "MAESTRO_HA_CONFIG";
/// The configuration file on Unix (`%ProgramData%\maestro-ha\config.toml` on
/// Windows: see [`crate::platform::config_dir`]).
pub const DEFAULT_CONFIG: &str = "/etc/maestro-ha/config.toml";

/// A commented configuration is a few KiB; a file beyond this is not one
/// (and `/dev/zero` or a FIFO is refused before any read).
pub const CONFIG_LIMIT: u64 = crate::fsio::MIB;

/// How long an SSH connection may take to be set up when the config says nothing.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole file: the shared sections typed, each tool's own section as
/// written (read typed with [`LoadedConfig::section`]).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where Maestro is installed and how its folders are laid out.
    pub site: SiteConfig,
    /// The server Maestro normally runs on.
    pub primary: Option<HostConfig>,
    /// The server that takes over.
    pub failover: Option<HostConfig>,
    /// How Maestro's services are named and managed on both servers.
    pub services: ServicesConfig,
    /// The file synchronization from the primary (maestro-fence stops it).
    pub sync: SyncConfig,
    /// The sections the tools own (`fence`, `verify`, `logscan`, ...), as
    /// written in the file, by name.
    pub tool_sections: BTreeMap<String, toml::Value>,
}

/// The shared sections, in the order an error lists them.
const SHARED_SECTIONS: [&str; 5] = ["site", "primary", "failover", "services", "sync"];

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Config, D::Error> {
        d.deserialize_map(ConfigVisitor)
    }
}

struct ConfigVisitor;

impl<'de> serde::de::Visitor<'de> for ConfigVisitor {
    type Value = Config;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the sections of the maestro-ha configuration")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Config, A::Error> {
        use serde::de::Error;
        let mut c = Config::default();
        let registered = registered_sections();
        while let Some(key) = map.next_key::<String>()? {
            // The value is read by the same deserializer as the file, so an
            // error inside a shared section keeps its line.
            match key.as_str() {
                "site" => c.site = map.next_value()?,
                "primary" => c.primary = Some(map.next_value()?),
                "failover" => c.failover = Some(map.next_value()?),
                "services" => c.services = map.next_value()?,
                "sync" => c.sync = map.next_value()?,
                name if registered.is_empty() || registered.iter().any(|s| s.name == name) => {
                    let value: toml::Value = map.next_value()?;
                    if !value.is_table() {
                        return Err(A::Error::custom(format!(
                            "`{name}` is a section: write it as [{name}]"
                        )));
                    }
                    c.tool_sections.insert(key, value);
                }
                other => {
                    let mut known: Vec<&'static str> = SHARED_SECTIONS.to_vec();
                    known.extend(registered.iter().map(|s| s.name));
                    return Err(A::Error::unknown_field(other, leak_names(known)));
                }
            }
        }
        Ok(c)
    }
}

/// serde's `unknown_field` wants a `'static` list; the registered names
/// are known only at run time, and an error is made at most once a run.
fn leak_names(names: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(names.into_boxed_slice())
}

/// A section one tool owns: its name and the type it is read as. Every
/// binary registers every tool's section, so a typo in any section is found
/// by any tool.
#[derive(Clone, Copy)]
pub struct Section {
    pub name: &'static str,
    check: fn(&LoadedConfig, &'static str) -> Result<(), ConfigError>,
    /// The section's JSON Schema, with its keys' descriptions (the doc
    /// comments of its type): the source of the configuration reference.
    pub schema: fn() -> schemars::Schema,
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Section({})", self.name)
    }
}

impl Section {
    /// The section `[name]`, read as `T`.
    pub const fn typed<T: DeserializeOwned + Default + schemars::JsonSchema>(
        name: &'static str,
    ) -> Section {
        Section {
            name,
            check: check_typed::<T>,
            schema: schema_of::<T>,
        }
    }

    /// Read the section from the loaded configuration; an error names the
    /// file, the line and the key.
    pub fn check(&self, loaded: &LoadedConfig) -> Result<(), ConfigError> {
        (self.check)(loaded, self.name)
    }
}

fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>()
}

/// The sections several tools read, with their schemas, in the order the
/// configuration reference lists them.
pub fn shared_sections() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("site", schema_of::<SiteConfig>()),
        ("primary", schema_of::<HostConfig>()),
        ("failover", schema_of::<HostConfig>()),
        ("services", schema_of::<ServicesConfig>()),
        ("sync", schema_of::<SyncConfig>()),
    ]
}

fn check_typed<T: DeserializeOwned + Default>(
    loaded: &LoadedConfig,
    name: &'static str,
) -> Result<(), ConfigError> {
    loaded.section::<T>(name).map(drop)
}

static REGISTERED: OnceLock<&'static [Section]> = OnceLock::new();

/// Make these the sections every configuration is checked against (once
/// per process, by a binary's `main`; later calls change nothing).
pub fn register_sections(sections: &'static [Section]) {
    let _ = REGISTERED.set(sections);
}

/// The registered sections; empty where no binary registered any (a
/// tool's library tests), and then any tool section is accepted as written.
pub fn registered_sections() -> &'static [Section] {
    REGISTERED.get().copied().unwrap_or(&[])
}

/// Reads one named section out of the whole file with the file's own
/// deserializer, so that errors keep their position.
struct OneSection<T> {
    name: &'static str,
    _type: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> serde::de::DeserializeSeed<'de> for OneSection<T> {
    type Value = Option<T>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OneSection<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a configuration with a [{}] section", self.name)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `[primary]` and `[failover]`: how to reach a server over SSH.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Host name or address, as known_hosts names it (required).
    pub host: String,
    /// The SSH port. Default 22.
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// The user the tools log in as. Default `root`.
    #[serde(default = "default_ssh_user")]
    pub user: String,
    /// The private key (unencrypted); without it the ssh-agent is asked.
    pub identity_file: Option<PathBuf>,
    /// Default: `/etc/maestro-ha/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// TCP connect, SSH handshake and login, each. Default 10s.
    pub connect_timeout: Option<HumanDuration>,
    /// Every address the server answers on that stays with it (the fence
    /// blocks them all; the watcher probes them): never one the other
    /// server takes over, like Maestro's service address. Default: `host`
    /// alone.
    #[serde(default)]
    pub addresses: Vec<String>,
}

pub const DEFAULT_KNOWN_HOSTS: &str = "/etc/maestro-ha/known_hosts";

fn default_ssh_port() -> u16 {
    22
}

fn default_ssh_user() -> String {
    "root".to_string()
}

impl HostConfig {
    pub fn known_hosts_path(&self) -> PathBuf {
        self.known_hosts
            .clone()
            .unwrap_or_else(|| crate::platform::config_dir().join("known_hosts"))
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
            .map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0)
    }

    /// How the SSH client reaches this host. Accepting an unknown host key
    /// is never a config setting: it takes the tool's explicit flag.
    pub fn ssh_options(&self, accept_new_host_key: bool) -> crate::ssh::SshOptions {
        crate::ssh::SshOptions {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            identity_file: self.identity_file.clone(),
            known_hosts: self.known_hosts_path(),
            accept_new_host_key,
            connect_timeout: self.connect_timeout(),
        }
    }
}

/// How Maestro's services are started and stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceManager {
    #[default]
    Systemd,
    Sysv,
    Windows,
    /// Configured stop/disable/status commands.
    Commands,
}

/// `[services]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    #[serde(default)]
    pub manager: ServiceManager,
    /// The Maestro service (unit, init script, Windows service) names.
    #[serde(default)]
    pub names: Vec<String>,
    /// `commands` manager: starts one service; `{name}` is replaced by the
    /// service name (shell-quoted). Run through `sh -c` by the Pacemaker
    /// agent `ocf:maestro-ha:maestro`; it must return once the service runs
    /// on its own (detached, its output not on the command's stdout).
    pub start_command: Option<String>,
    /// `commands` manager: stops one service; `{name}` is replaced by the
    /// service name (shell-quoted). Run through `sh -c` on the host.
    pub stop_command: Option<String>,
    /// `commands` manager: keeps one service from starting at boot.
    pub disable_command: Option<String>,
    /// `commands` manager: lets one service start at boot again (unfence).
    pub enable_command: Option<String>,
    /// `commands` manager: exit 0 while the service runs, 1-3 when it is
    /// stopped (LSB `status`); any other exit means "cannot tell".
    pub active_command: Option<String>,
    /// `commands` manager: exit 0 while the service would start at boot,
    /// 1 when it is disabled; any other exit means "cannot tell".
    pub enabled_command: Option<String>,
}

/// `[sync]`: the file synchronization from the primary to the failover
/// server, as far as the fence must stop it (maestro-fence).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// On the primary: the systemd timer that starts the sync (stopped,
    /// disabled and masked by the fence), like `maestro-rsync.timer`.
    pub timer: Option<String>,
    /// On the primary: a cron file whose entries run the sync, like
    /// `/etc/cron.d/maestro-rsync`; the fence comments its entries out.
    pub cron_file: Option<String>,
    /// On a Windows primary: the scheduled task that runs the sync.
    pub scheduled_task: Option<String>,
    /// The process name of a running sync, ended by the fence. Default
    /// `rsync` (`rsync.exe` on Windows); `""` ends nothing.
    pub process_name: Option<String>,
    /// On the failover: the sync user's `authorized_keys`; `isolate`
    /// comments out the key lines holding `key_match`.
    pub authorized_keys: Option<PathBuf>,
    /// Text that identifies the sync user's key line in `authorized_keys`
    /// (its comment or its base64 blob).
    pub key_match: Option<String>,
    /// On the failover: the systemd unit of the rsync daemon that receives
    /// the sync, stopped by `isolate`, like `rsync.service`; on a Windows
    /// failover the service's name as `sc.exe query` knows it (stopped and
    /// disabled through `sc.exe`).
    pub rsync_daemon_unit: Option<String>,

    // maestro-sync: replication into verified generations.
    /// On the sending server: the folder replicated. Default: `[site] install_root`.
    pub source: Option<String>,
    /// On the receiving server: the folder of the generations and the
    /// `current` link (each generation a complete, verified point in time).
    pub generations: Option<PathBuf>,
    /// Complete generations kept on the receiving server, `current`
    /// included. Default 3.
    pub keep: Option<u32>,
    /// How the point in time is taken on the sending server: `btrfs`,
    /// `zfs`, `lvm` or `command`. `none` only with the `--no-snapshot` flag.
    pub snapshot: Option<SyncSnapshot>,
    /// btrfs: the folder (on the same file system) the read-only snapshot
    /// is made in; lvm: where the snapshot is mounted; command: the local
    /// copy the hooks bracket.
    pub snapshot_dir: Option<PathBuf>,
    /// btrfs: the subvolume snapshotted. Default: the one holding `source`.
    pub btrfs_subvolume: Option<PathBuf>,
    /// zfs: the dataset holding `source`, like `tank/maestro`.
    pub zfs_dataset: Option<String>,
    /// lvm: the logical volume holding `source`, like `vg0/maestro`.
    pub lvm_volume: Option<String>,
    /// lvm: the size of a classic (copy-on-write) snapshot, like `2G`;
    /// unset: a thin snapshot (the volume must be thin).
    pub lvm_snapshot_size: Option<String>,
    /// lvm: the options the snapshot is mounted with. Default `ro`
    /// (XFS needs `ro,nouuid`).
    pub lvm_mount_options: Option<String>,
    /// zfs and lvm: where the volume is mounted. Default: read from the
    /// mount table.
    pub volume_mountpoint: Option<PathBuf>,
    /// `command`: replaces the built-in local copy (`rsync -a --delete
    /// SOURCE/ SNAPSHOT_DIR/`), like a reflink copy; run by `sh -c` with
    /// `MAESTRO_SYNC_SOURCE` and `MAESTRO_SYNC_COPY` set, between the hooks.
    pub copy_command: Option<String>,
    /// Run (`sh -c`) before the snapshot is taken: flush and pause writers.
    pub quiesce_command: Option<String>,
    /// Run after the snapshot is taken, also when taking it failed.
    pub unquiesce_command: Option<String>,
    /// Bound on each hook. Default 60s.
    pub hook_timeout: Option<HumanDuration>,
    /// Bound on each snapshot command (create, mount, remove). Default 60s.
    pub command_timeout: Option<HumanDuration>,
    /// Globs left out of the replication and its manifest, relative to
    /// `source`; without `/` a name at any depth.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Extra rsync options for the data transfer, like `["-AX"]`.
    #[serde(default)]
    pub rsync_options: Vec<String>,
    /// The local rsync. Default `rsync`.
    pub rsync: Option<String>,
    /// The rsync on the other server. Default `rsync`.
    pub remote_rsync: Option<String>,
    /// The maestro-sync command on the other server (a shell command
    /// prefix). Default `maestro-sync`.
    pub remote_command: Option<String>,
    /// The SSH user of the sync. Default: the peer's `user`.
    pub user: Option<String>,
    /// The sync user's private key. Default: the peer's `identity_file`.
    pub identity_file: Option<PathBuf>,
    /// rsync's I/O timeout and the SSH keepalive: a transfer that moves
    /// nothing for this long is cut. Default 120s.
    pub io_timeout: Option<HumanDuration>,
    /// Bound on a whole run. Default 12h.
    pub deadline: Option<HumanDuration>,
    /// How long a run waits for another run's lock. Default 60s.
    pub lock_wait: Option<HumanDuration>,
    /// How often the sync runs (the timer's interval). Default 15m.
    pub interval: Option<HumanDuration>,
    /// `status`: the RPO (age of `current`) that warns. Default two intervals.
    pub rpo_warning: Option<HumanDuration>,
    /// `status`: the RPO that is critical. Default four intervals.
    pub rpo_critical: Option<HumanDuration>,
}

/// `[sync] snapshot`: how maestro-sync takes the point in time it replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncSnapshot {
    /// A read-only btrfs snapshot of the subvolume.
    Btrfs,
    /// A ZFS snapshot of the dataset, read through `.zfs/snapshot`.
    Zfs,
    /// An LVM snapshot (thin, or classic with `lvm_snapshot_size`), mounted read-only.
    Lvm,
    /// The admin's quiesce and unquiesce commands around a local copy.
    Command,
    /// No snapshot: not a point in time (refused without `--no-snapshot`).
    None,
}

impl SyncSnapshot {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncSnapshot::Btrfs => "btrfs",
            SyncSnapshot::Zfs => "zfs",
            SyncSnapshot::Lvm => "lvm",
            SyncSnapshot::Command => "command",
            SyncSnapshot::None => "none",
        }
    }
}

/// One witness in `[[watch.witnesses]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness server, as known_hosts names it (required).
    pub host: String,
    /// The SSH port. Default 22.
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// The user to log in as. Default `root`.
    #[serde(default = "default_ssh_user")]
    pub user: String,
    /// The private key (unencrypted); without it the ssh-agent is asked.
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file the witness's host key must be in (never
    /// accepted on first use). Default `/etc/maestro-ha/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// Bounds name lookup, TCP connect, handshake and login, each. Default 10s.
    pub connect_timeout: Option<HumanDuration>,
    /// The maestro-watch binary on the witness. Default `maestro-watch`.
    pub command: Option<String>,
}

impl WitnessConfig {
    /// The witness as an SSH host: the same keys and defaults as `[primary]`.
    pub fn as_host(&self) -> HostConfig {
        HostConfig {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            identity_file: self.identity_file.clone(),
            known_hosts: self.known_hosts.clone(),
            connect_timeout: self.connect_timeout,
            addresses: Vec::new(),
        }
    }

    /// A witness's host key must be known: never accepted on first use.
    pub fn ssh_options(&self) -> crate::ssh::SshOptions {
        self.as_host().ssh_options(false)
    }
}

/// How the config file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Flag,
    Env,
    Default,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigSource::Flag => "--config",
            ConfigSource::Env => ENV_CONFIG,
            ConfigSource::Default => "default location",
        })
    }
}

/// The configuration with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub path: PathBuf,
    pub source: ConfigSource,
    /// False when the default file does not exist and built-in defaults are used.
    pub file_found: bool,
    pub overrides: Vec<String>,
    /// The file's text, so that a tool's section is read with positions.
    text: String,
}

impl LoadedConfig {
    /// A configuration from text, as if read from `path`, checked against
    /// the registered sections (for tests and for callers that got the
    /// text elsewhere).
    pub fn from_text(text: &str, path: &Path) -> Result<LoadedConfig, ConfigError> {
        let loaded = LoadedConfig {
            config: parse(text, path)?,
            path: path.to_path_buf(),
            source: ConfigSource::Flag,
            file_found: true,
            overrides: Vec::new(),
            text: text.to_string(),
        };
        loaded.check_sections()?;
        Ok(loaded)
    }

    /// The tool section `[name]` as `T` (its default when the file has
    /// none). Errors name the file, the line and the key; after `--set`,
    /// the keys that were set.
    pub fn section<T: DeserializeOwned + Default>(
        &self,
        name: &'static str,
    ) -> Result<T, ConfigError> {
        if self.overrides.is_empty() {
            let seed = OneSection::<T> {
                name,
                _type: std::marker::PhantomData,
            };
            let found = serde::de::DeserializeSeed::deserialize(
                seed,
                toml::de::Deserializer::new(&self.text),
            )
            .map_err(|e| invalid(&self.text, &self.path, e))?;
            return Ok(found.unwrap_or_default());
        }
        match self.config.tool_sections.get(name) {
            None => Ok(T::default()),
            Some(value) => T::deserialize(value.clone()).map_err(|e| ConfigError::Override {
                arg: override_keys(&self.overrides).join(" "),
                message: e.to_string().trim().to_string(),
            }),
        }
    }

    /// The keys given to `--set`, never their values.
    pub fn override_keys(&self) -> Vec<&str> {
        override_keys(&self.overrides)
    }

    fn check_sections(&self) -> Result<(), ConfigError> {
        for section in registered_sections() {
            section.check(self)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file (from {source_name}): {err}")]
    Read {
        path: PathBuf,
        source_name: ConfigSource,
        err: crate::fsio::FsioError,
    },
    #[error("{}", invalid_message(.path, *.line, .key.as_deref(), .message))]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        key: Option<String>,
        message: String,
    },
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },
}

fn invalid_message(path: &Path, line: Option<usize>, key: Option<&str>, message: &str) -> String {
    let mut s = path.display().to_string();
    if let Some(l) = line {
        s.push_str(&format!(":{l}"));
    }
    s.push_str(": ");
    if let Some(k) = key {
        s.push_str(&format!("key `{k}`: "));
    }
    s.push_str(message);
    s
}

/// Which file to read and why.
pub fn locate(flag: Option<&Path>) -> (PathBuf, ConfigSource) {
    if let Some(p) = flag {
        return (p.to_path_buf(), ConfigSource::Flag);
    }
    match std::env::var_os(ENV_CONFIG).filter(|v| !v.is_empty()) {
        Some(p) => (PathBuf::from(p), ConfigSource::Env),
        None => (
            crate::platform::config_dir().join("config.toml"),
            ConfigSource::Default,
        ),
    }
}

/// Find, read, parse and validate the configuration, then apply `--set`.
pub fn load(flag: Option<&Path>, overrides: &[String]) -> Result<LoadedConfig, ConfigError> {
    let (path, source) = locate(flag);
    // `--config /dev/null` is the way to say "no configuration, flags only"
    // (a witness's probe command, a test): the one device read as a file.
    let read = if path == Path::new("/dev/null") {
        Ok(Vec::new())
    } else {
        crate::fsio::read_regular(&path, CONFIG_LIMIT)
    };
    let (text, file_found) = match read {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => (t, true),
            Err(e) => {
                let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                return Err(ConfigError::Invalid {
                    path,
                    line: Some(line),
                    key: None,
                    message: "the file is not valid UTF-8 (TOML must be)".into(),
                });
            }
        },
        Err(e) if e.is_not_found() && source == ConfigSource::Default => (String::new(), false),
        Err(err) => {
            return Err(ConfigError::Read {
                path,
                source_name: source,
                err,
            })
        }
    };
    let mut config = parse(&text, &path)?;
    if !overrides.is_empty() {
        config = apply_overrides(&text, overrides)?;
    }
    let loaded = LoadedConfig {
        config,
        path,
        source,
        file_found,
        overrides: overrides.to_vec(),
        text,
    };
    loaded.check_sections()?;
    Ok(loaded)
}

/// Parse config text; errors name `path`, the line and the key. The tools'
/// own sections are checked by [`LoadedConfig::from_text`] and [`load`].
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str::<Config>(text).map_err(|e| invalid(text, path, e))
}

/// A TOML error in `text` as the file, line and key it is about.
fn invalid(text: &str, path: &Path, e: toml::de::Error) -> ConfigError {
    let (line, key) = match e.span() {
        Some(span) => {
            let (line, key) = locate_span(text, span);
            (Some(line), key)
        }
        None => (None, None),
    };
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        key,
        message: e.message().trim().to_string(),
    }
}

/// The keys of `--set KEY=VALUE` arguments, never their values: `--set` may
/// be (wrongly) used to give a secret, and no message may show it.
fn override_keys(overrides: &[String]) -> Vec<&str> {
    overrides
        .iter()
        .map(|arg| arg.split_once('=').map_or("KEY", |(k, _)| k.trim()))
        .collect()
}

/// The 1-based line of a byte span and the dotted key written there.
fn locate_span(text: &str, span: Range<usize>) -> (usize, Option<String>) {
    let start = span.start.min(text.len());
    let start = (0..=start)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let line_no = text[..start].matches('\n').count() + 1;
    let mut table: Option<String> = None;
    let mut key = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if let Some(header) = table_header(line) {
            table = Some(header.to_string());
            if i + 1 == line_no {
                key = Some(header.to_string());
            }
        } else if i + 1 == line_no {
            if let Some((lhs, _)) = line.split_once('=') {
                let lhs: String = lhs
                    .trim()
                    .chars()
                    .filter(|c| *c != '"' && *c != '\'')
                    .collect();
                key = Some(match &table {
                    Some(t) => format!("{t}.{lhs}"),
                    None => lhs,
                });
            } else {
                key = table.clone();
            }
        }
        if i + 1 >= line_no {
            break;
        }
    }
    (line_no, key)
}

fn table_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]"));
    let inner = inner.or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')));
    inner.map(str::trim)
}

fn strip_comment(line: &str) -> &str {
    // Good enough to find headers and keys: a `#` inside a quoted value can
    // only cut the value, never the key in front of it.
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Merge `--set a.b=value` arguments into the file's table and type it again.
fn apply_overrides(text: &str, overrides: &[String]) -> Result<Config, ConfigError> {
    let keys = override_keys(overrides);
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Override {
        arg: keys.join(" "),
        message: e.message().to_string(),
    })?;
    for (arg, key_shown) in overrides.iter().zip(&keys) {
        let err = |message: &str| ConfigError::Override {
            arg: key_shown.to_string(),
            message: message.to_string(),
        };
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| err("expected KEY=VALUE, like site.install_root=/srv/maestro"))?;
        let parts: Vec<&str> = key.trim().split('.').map(str::trim).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err("the key is empty or has an empty part"));
        }
        // A value that reads as TOML (a number, a boolean, an array) is
        // taken as such; anything else is a string, so paths need no quotes.
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        let (last, parents) = parts.split_last().ok_or_else(|| err("the key is empty"))?;
        let mut cursor = &mut table;
        for p in parents {
            let entry = cursor
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = entry
                .as_table_mut()
                .ok_or_else(|| err(&format!("`{p}` is not a section")))?;
        }
        cursor.insert(last.to_string(), value);
    }
    Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Override {
        arg: keys.join(" "),
        message: e.to_string().trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        // Without registered sections any section name would be taken for
        // a tool's; the binaries always register theirs.
        register_sections(&TEST_SECTIONS);
        parse(text, Path::new("/etc/maestro-ha/config.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("", Path::new("x")).unwrap();
        assert!(c.primary.is_none());
        assert_eq!(c.services.manager, ServiceManager::Systemd);
    }

    #[test]
    fn hosts_parse_with_defaults() {
        let c = parse(
            "[primary]\nhost = \"maestro1.example.org\"\nconnect_timeout = \"3s\"\n[failover]\nhost = \"10.0.0.2\"\nport = 2222\nuser = \"ha\"\n",
            Path::new("x"),
        )
        .unwrap();
        let p = c.primary.unwrap();
        assert_eq!((p.port, p.user.as_str()), (22, "root"));
        assert_eq!(p.connect_timeout(), Duration::from_secs(3));
        assert_eq!(
            p.known_hosts_path(),
            crate::platform::config_dir().join("known_hosts")
        );
        #[cfg(unix)]
        assert_eq!(p.known_hosts_path(), Path::new(DEFAULT_KNOWN_HOSTS));
        let o = p.ssh_options(false);
        assert_eq!(
            (o.host.as_str(), o.port, o.user.as_str()),
            ("maestro1.example.org", 22, "root")
        );
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert!(!o.accept_new_host_key);
        let f = c.failover.unwrap();
        assert_eq!(
            (f.port, f.user.as_str(), f.connect_timeout()),
            (2222, "ha", DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let e = err("# comment\n[primary]\nhost = \"a\"\nport = \"twenty-two\"\n");
        assert!(
            e.starts_with("/etc/maestro-ha/config.toml:4: key `primary.port`: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = err("[services]\nmanager = \"systemd\"\nnmaes = [\"lui\"]\n");
        assert!(
            e.starts_with(
                "/etc/maestro-ha/config.toml:3: key `services.nmaes`: unknown field `nmaes`"
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_section_and_bad_enum_are_errors() {
        let e = err("[primry]\nhost = \"a\"\n");
        assert!(
            e.contains(":1:") && e.contains("unknown field `primry`"),
            "{e}"
        );
        let e = err("[services]\nmanager = \"upstart\"\n");
        assert!(
            e.contains(":2: key `services.manager`") && e.contains("upstart"),
            "{e}"
        );
    }

    /// A tool's own section, as a tool crate defines it.
    #[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TestFence {
        #[allow(dead_code)]
        levels: Option<Vec<String>>,
    }

    static TEST_SECTIONS: [Section; 1] = [Section::typed::<TestFence>("fence")];

    #[test]
    fn a_registered_section_is_read_typed_with_its_line_and_others_are_unknown() {
        register_sections(&TEST_SECTIONS);
        let path = Path::new("/etc/maestro-ha/config.toml");
        let e = LoadedConfig::from_text("[site]\n\n[fence]\nlvels = [\"ssh\"]\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":4: key `fence.lvels`: unknown field `lvels`"),
            "{e}"
        );
        let e = err("[fense]\nlevels = []\n");
        assert!(
            e.contains(":1:") && e.contains("unknown field `fense`") && e.contains("`fence`"),
            "{e}"
        );
        let l = LoadedConfig::from_text("[fence]\nlevels = [\"ssh\"]\n", path).unwrap();
        let f: TestFence = l.section("fence").unwrap();
        assert_eq!(f.levels.unwrap(), ["ssh"]);
        let e = err("fence = 3\n");
        assert!(e.contains("write it as [fence]"), "{e}");
        // After --set, the keys set are named.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[fence]\nlevels = [\"ssh\"]\n").unwrap();
        let e = load(Some(&p), &["fence.lvels=1".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--set fence.lvels:") && e.contains("lvels"),
            "{e}"
        );
        let l = load(Some(&p), &["fence.levels=[\"isolate\"]".into()]).unwrap();
        let f: TestFence = l.section("fence").unwrap();
        assert_eq!(f.levels.unwrap(), ["isolate"]);
    }

    #[test]
    fn missing_required_key_names_the_section() {
        let e = err("[primary]\nport = 22\n");
        assert!(e.contains("missing field `host`"), "{e}");
        assert!(e.contains("primary"), "{e}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = err("[site]\ninstall_root = /opt\n");
        assert!(
            e.starts_with("/etc/maestro-ha/config.toml:2: key `site.install_root`"),
            "{e}"
        );
    }

    #[test]
    fn overrides_replace_file_values_and_are_checked() {
        let text = "[primary]\nhost = \"a\"\nport = 22\n";
        let c = apply_overrides(
            text,
            &["primary.port=2200".into(), "primary.user=ha".into()],
        )
        .unwrap();
        let p = c.primary.unwrap();
        assert_eq!(
            (p.port, p.user.as_str(), p.host.as_str()),
            (2200, "ha", "a")
        );
        let c = apply_overrides("", &["primary.host=/x y".into()]).unwrap();
        assert_eq!(c.primary.unwrap().host, "/x y");
        let e = apply_overrides(text, &["primary.port=x".into()])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--set primary.port:"), "{e}");
        for secret in [
            "smoketest.mailbox_password=hunter2",
            "smoketest.mailbox_password=12345678",
        ] {
            let e = apply_overrides(text, &[secret.into()])
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("--set smoketest.mailbox_password:"), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("1234"), "{e}");
        }
        let e = apply_overrides(text, &["hunter2".into()])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = apply_overrides(text, &["primary.port".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected KEY=VALUE"), "{e}");
        let e = apply_overrides(text, &["primary.host.x=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`host` is not a section"), "{e}");
    }

    #[test]
    fn load_reads_the_named_file_and_requires_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[primary]\nhost = \"h\"\n").unwrap();
        let l = load(Some(&p), &[]).unwrap();
        assert!(l.file_found);
        assert_eq!(l.source, ConfigSource::Flag);
        assert_eq!(l.config.primary.unwrap().host, "h");
        let missing = dir.path().join("nope.toml");
        let e = load(Some(&missing), &[]).unwrap_err().to_string();
        assert!(
            e.contains("cannot read config file")
                && e.contains("nope.toml")
                && e.contains("--config"),
            "{e}"
        );
        std::fs::write(&p, b"[site]\ninstall_root = \"\xff\"\n").unwrap();
        let e = load(Some(&p), &[]).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("UTF-8"), "{e}");
    }
}
