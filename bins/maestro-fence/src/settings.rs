//! Everything a run needs, resolved from the config and the flags (flags win).

use crate::config::{FenceConfig, FenceLevel, GuardUnreachable};
use crate::remote::RemoteOs;
use maestro_common::config::{
    ConfigError, HostConfig, LoadedConfig, ServiceManager, ServicesConfig, SyncConfig,
};
use std::time::Duration;

pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_LEVELS: [FenceLevel; 2] = [FenceLevel::Ssh, FenceLevel::Isolate];
pub const DEFAULT_TABLE: &str = "maestro_fence";
pub const DEFAULT_PEER_EPOCH_COMMAND: &str = "maestro-fence --format json epoch";

#[derive(Debug, Clone)]
pub struct Settings {
    pub primary: HostConfig,
    pub failover: Option<HostConfig>,
    pub services: ServicesConfig,
    pub sync: SyncConfig,
    pub fence: FenceConfig,
    pub levels: Vec<FenceLevel>,
    pub deadline: Duration,
    pub command_timeout: Duration,
    pub os: RemoteOs,
    pub marker_file: String,
    pub epoch_file: String,
    pub table: String,
    pub guard_unreachable: GuardUnreachable,
    /// `[watch] tcp_ports` as configured: isolate's probe tries them too.
    pub watch_ports: Vec<u16>,
}

/// The one key of maestro-watch's `[watch]` section the fence reads: the
/// ports its isolation probe tries besides SSH. The section is the
/// watcher's (every other key is its business, checked by its type).
#[derive(Debug, Default, serde::Deserialize)]
struct WatchPorts {
    tcp_ports: Option<Vec<u16>>,
}

/// Flags that override config keys.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub levels: Vec<FenceLevel>,
    pub deadline: Option<Duration>,
    pub command_timeout: Option<Duration>,
    pub guard_unreachable: Option<GuardUnreachable>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no [primary] in the configuration: maestro-fence needs to know which server to fence (set [primary] host)")]
    NoPrimary,
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A service, timer or task name that is safe to put on a command line.
pub fn check_name(key: &str, name: &str) -> Result<(), SettingsError> {
    // A trailing `\` would escape the closing quote of `"name"` for
    // Windows' argument parsing (sc.exe, on a Windows primary).
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('\\')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@:\\ ".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("{name:?} is not a plain name (letters, digits, _-.@:\\ and spaces only, not starting with - nor ending with \\)"),
        ))
    }
}

impl Settings {
    pub fn resolve(loaded: &LoadedConfig, flags: &Overrides) -> Result<Settings, SettingsError> {
        let config = &loaded.config;
        let primary = config.primary.clone().ok_or(SettingsError::NoPrimary)?;
        let fence: FenceConfig = loaded.section(crate::config::SECTION.name)?;
        let levels = if !flags.levels.is_empty() {
            flags.levels.clone()
        } else {
            fence
                .levels
                .clone()
                .unwrap_or_else(|| DEFAULT_LEVELS.to_vec())
        };
        if levels.is_empty() {
            return Err(invalid("fence.levels", "no level to try"));
        }
        let os = if config.services.manager == ServiceManager::Windows {
            RemoteOs::Windows
        } else {
            RemoteOs::Unix
        };
        for (i, name) in config.services.names.iter().enumerate() {
            check_name(&format!("services.names[{i}]"), name)?;
        }
        if config.services.manager == ServiceManager::Commands {
            for (key, value) in [
                ("services.stop_command", &config.services.stop_command),
                ("services.disable_command", &config.services.disable_command),
                ("services.active_command", &config.services.active_command),
                ("services.enabled_command", &config.services.enabled_command),
            ] {
                if value.as_deref().is_none_or(|v| v.trim().is_empty())
                    && !config.services.names.is_empty()
                {
                    return Err(invalid(key, "the commands manager needs it"));
                }
            }
        }
        for (key, value) in [
            ("sync.timer", &config.sync.timer),
            ("sync.scheduled_task", &config.sync.scheduled_task),
            ("sync.rsync_daemon_unit", &config.sync.rsync_daemon_unit),
        ] {
            if let Some(v) = value {
                check_name(key, v)?;
            }
        }
        if let Some(p) = config
            .sync
            .process_name
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            check_name("sync.process_name", p)?;
        }
        if config.sync.authorized_keys.is_some()
            && config.sync.key_match.as_deref().is_none_or(str::is_empty)
        {
            return Err(invalid(
                "sync.key_match",
                "sync.authorized_keys is set, so the fence must know which key line is the sync user's",
            ));
        }
        let table = fence
            .firewall_table
            .clone()
            .unwrap_or_else(|| DEFAULT_TABLE.to_string());
        if table.is_empty()
            || table.len() > 24
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(invalid(
                "fence.firewall_table",
                "letters, digits and _ only, at most 24 characters",
            ));
        }
        let (marker_default, epoch_default) = match os {
            RemoteOs::Unix => ("/var/lib/maestro-ha/fenced", "/var/lib/maestro-ha/epoch"),
            RemoteOs::Windows => (
                r"C:\ProgramData\maestro-ha\fenced",
                r"C:\ProgramData\maestro-ha\epoch",
            ),
        };
        let marker_file = fence
            .marker_file
            .clone()
            .unwrap_or_else(|| marker_default.to_string());
        let epoch_file = fence
            .epoch_file
            .clone()
            .unwrap_or_else(|| epoch_default.to_string());
        for (key, path) in [
            ("fence.marker_file", &marker_file),
            ("fence.epoch_file", &epoch_file),
        ] {
            if path.is_empty() || path.contains(['\n', '"', '\'']) {
                return Err(invalid(key, "an empty path or one with quotes or newlines"));
            }
        }
        let deadline = flags
            .deadline
            .or(fence.deadline.map(|d| d.0))
            .unwrap_or(DEFAULT_DEADLINE);
        let command_timeout = flags
            .command_timeout
            .or(fence.command_timeout.map(|d| d.0))
            .unwrap_or(DEFAULT_COMMAND_TIMEOUT);
        if deadline.is_zero() || command_timeout.is_zero() {
            return Err(invalid("fence.deadline", "timeouts must be longer than 0"));
        }
        if levels.contains(&FenceLevel::Agent)
            && fence.agent.as_deref().is_none_or(|a| a.trim().is_empty())
        {
            return Err(invalid(
                "fence.agent",
                "the agent level is configured but no fence agent is named (like agent = \"fence_ipmilan\")",
            ));
        }
        let watch = loaded.section::<WatchPorts>("watch")?;
        Ok(Settings {
            watch_ports: watch.tcp_ports.unwrap_or_default(),
            failover: config.failover.clone(),
            services: config.services.clone(),
            sync: config.sync.clone(),
            guard_unreachable: flags.guard_unreachable.unwrap_or(fence.guard_unreachable),
            fence,
            levels,
            deadline,
            command_timeout,
            os,
            marker_file,
            epoch_file,
            table,
            primary,
        })
    }

    /// `user@host:port` of the primary, for messages and the journal.
    pub fn primary_target(&self) -> String {
        format!(
            "{}@{}:{}",
            self.primary.user, self.primary.host, self.primary.port
        )
    }

    /// The name this failover server goes by in the marker.
    pub fn failover_name(&self) -> String {
        match &self.failover {
            Some(f) => f.host.clone(),
            None => local_hostname(),
        }
    }

    /// The ports isolate's connect probe tries: the primary's SSH port and
    /// the configured `[watch] tcp_ports`.
    pub fn probe_ports(&self) -> Vec<u16> {
        let mut ports = vec![self.primary.port];
        for &p in &self.watch_ports {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        ports
    }

    pub fn agent_timeout(&self) -> Duration {
        self.fence
            .agent_timeout
            .map_or(DEFAULT_AGENT_TIMEOUT, |d| d.0)
    }

    /// The process name that a running sync has on the primary, if any.
    pub fn sync_process(&self) -> Option<String> {
        match self.sync.process_name.as_deref() {
            Some("") => None,
            Some(p) => Some(p.to_string()),
            None => Some(
                match self.os {
                    RemoteOs::Unix => "rsync",
                    RemoteOs::Windows => "rsync.exe",
                }
                .to_string(),
            ),
        }
    }
}

pub fn local_hostname() -> String {
    maestro_common::platform::host_name().unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(text: &str) -> Result<Settings, SettingsError> {
        let c = maestro_common::config::LoadedConfig::from_text(text, Path::new("t.toml")).unwrap();
        Settings::resolve(&c, &Overrides::default())
    }

    /// `"Name\"` would leave the quote escaped for sc.exe's parser on a
    /// Windows primary; a backslash inside a name stays allowed.
    #[test]
    fn a_name_ending_in_a_backslash_is_refused() {
        let e = settings("[primary]\nhost = \"p\"\n[services]\nmanager = \"windows\"\nnames = [\"Maestro\\\\\"]\n")
            .expect_err("refused");
        assert!(e.to_string().contains("services.names[0]"), "{e}");
        assert!(check_name("k", "Maestro\\").is_err());
        assert!(check_name("k", "DOMAIN\\svc").is_ok());
        assert!(check_name("k", "Maestro LUI").is_ok());
    }

    #[test]
    fn defaults_and_validation() {
        let s = settings("[primary]\nhost = \"p\"\n").unwrap();
        assert_eq!(s.levels, DEFAULT_LEVELS.to_vec());
        assert_eq!(s.marker_file, "/var/lib/maestro-ha/fenced");
        assert_eq!(s.sync_process().as_deref(), Some("rsync"));
        assert!(matches!(settings(""), Err(SettingsError::NoPrimary)));
        let e = settings("[primary]\nhost = \"p\"\n[services]\nnames = [\"a;rm -rf /\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.names[0]"), "{e}");
        let e = settings(
            "[primary]\nhost = \"p\"\n[services]\nmanager = \"commands\"\nnames = [\"a\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("services.stop_command"), "{e}");
        let e = settings("[primary]\nhost = \"p\"\n[sync]\nauthorized_keys = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sync.key_match"), "{e}");
        let e = settings("[primary]\nhost = \"p\"\n[fence]\nlevels = [\"ssh\", \"agent\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fence.agent"), "{e}");
        let w = settings("[primary]\nhost = \"p\"\n[services]\nmanager = \"windows\"\n").unwrap();
        assert_eq!(w.os, RemoteOs::Windows);
        assert!(w.marker_file.starts_with("C:\\"));
    }
}
