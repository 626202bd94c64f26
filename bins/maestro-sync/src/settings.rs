//! `[sync]` resolved: what a run uses, with the defaults and the checks
//! that must fail before anything runs. `config check` runs this same
//! resolution.

use maestro_common::config::{HostConfig, LoadedConfig, SyncSnapshot};
use maestro_common::site::SiteLayout;
use maestro_snapshot_verify::walk::ExcludeGlob;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_KEEP: u32 = 3;
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(12 * 3600);
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Where the fence writes its marker on a Unix primary (maestro-fence's default).
pub const DEFAULT_MARKER_FILE: &str = "/var/lib/maestro-ha/fenced";

/// A setting that cannot be used, named by its key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingsError {
    pub key: &'static str,
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        key,
        message: message.into(),
    }
}

/// Which configured server is the other end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRole {
    Primary,
    Failover,
}

impl PeerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerRole::Primary => "primary",
            PeerRole::Failover => "failover",
        }
    }
}

/// How the other server is reached over SSH (OpenSSH's client: rsync
/// speaks through it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub role: PeerRole,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_file: Option<PathBuf>,
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    /// OpenSSH's control socket: the first session of a run is the master
    /// connection, the run's rsyncs go through it (no new handshake).
    pub control_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The folder replicated, as configured.
    pub source: PathBuf,
    pub generations: Option<PathBuf>,
    pub keep: u32,
    /// `None`: not configured (a server that only receives).
    pub snapshot: Option<SyncSnapshot>,
    pub snapshot_dir: Option<PathBuf>,
    pub btrfs_subvolume: Option<PathBuf>,
    pub zfs_dataset: Option<String>,
    pub lvm_volume: Option<String>,
    pub lvm_snapshot_size: Option<String>,
    pub lvm_mount_options: String,
    pub volume_mountpoint: Option<PathBuf>,
    pub copy_command: Option<String>,
    pub quiesce: Option<String>,
    pub unquiesce: Option<String>,
    pub hook_timeout: Duration,
    pub command_timeout: Duration,
    pub exclude: Vec<String>,
    pub rsync: String,
    pub remote_rsync: String,
    pub rsync_options: Vec<String>,
    pub remote_command: String,
    pub io_timeout: Duration,
    pub deadline: Duration,
    pub lock_wait: Duration,
    pub interval: Duration,
    pub rpo_warning: Duration,
    pub rpo_critical: Duration,
    /// The fence's marker on this server when it is the primary.
    pub marker_file: PathBuf,
    primary: Option<HostConfig>,
    failover: Option<HostConfig>,
    sync_user: Option<String>,
    sync_identity: Option<PathBuf>,
}

fn nonzero(key: &'static str, d: Duration) -> Result<Duration, SettingsError> {
    if d.is_zero() {
        Err(invalid(key, "must be longer than 0"))
    } else {
        Ok(d)
    }
}

fn no_newline(key: &'static str, text: &str) -> Result<(), SettingsError> {
    if text.trim().is_empty() || text.contains(['\n', '\r', '\0']) {
        return Err(invalid(key, "empty, or holding a line break"));
    }
    Ok(())
}

impl Settings {
    pub fn resolve(loaded: &LoadedConfig) -> Result<Settings, SettingsError> {
        let config = &loaded.config;
        let sync = &config.sync;
        let source = match &sync.source {
            Some(s) => PathBuf::from(s),
            None => {
                let layout = SiteLayout::resolve(&config.site)
                    .map_err(|e| invalid("sync.source", format!("unset, and [site]: {e}")))?;
                layout.install_root().to_path_buf()
            }
        };
        if !source.is_absolute() {
            return Err(invalid("sync.source", "give an absolute path"));
        }
        if let Some(g) = &sync.generations {
            if !g.is_absolute() {
                return Err(invalid("sync.generations", "give an absolute path"));
            }
            if g.starts_with(&source) {
                // The generations would be replicated into themselves.
                return Err(invalid(
                    "sync.generations",
                    format!(
                        "{} lies inside the source {}",
                        g.display(),
                        source.display()
                    ),
                ));
            }
        }
        let keep = sync.keep.unwrap_or(DEFAULT_KEEP);
        if keep == 0 {
            return Err(invalid("sync.keep", "at least 1 (the current generation)"));
        }
        match sync.snapshot {
            Some(SyncSnapshot::None) => {
                return Err(invalid(
                    "sync.snapshot",
                    "\"none\" is not a point in time and is refused here; give --no-snapshot to a run that copies a stopped Maestro",
                ))
            }
            Some(SyncSnapshot::Btrfs) | Some(SyncSnapshot::Command) if sync.snapshot_dir.is_none() => {
                return Err(invalid(
                    "sync.snapshot_dir",
                    format!(
                        "snapshot = \"{}\" needs a folder for the snapshot (btrfs: on the same file system; command: the local copy)",
                        sync.snapshot.map_or("", SyncSnapshot::as_str)
                    ),
                ))
            }
            Some(SyncSnapshot::Lvm) => {
                if sync.lvm_volume.as_deref().is_none_or(|v| !v.contains('/')) {
                    return Err(invalid(
                        "sync.lvm_volume",
                        "snapshot = \"lvm\" needs the volume as VG/LV, like \"vg0/maestro\"",
                    ));
                }
                if sync.snapshot_dir.is_none() {
                    return Err(invalid(
                        "sync.snapshot_dir",
                        "snapshot = \"lvm\" needs a folder to mount the snapshot on",
                    ));
                }
            }
            Some(SyncSnapshot::Zfs) if sync.zfs_dataset.as_deref().is_none_or(str::is_empty) => {
                return Err(invalid(
                    "sync.zfs_dataset",
                    "snapshot = \"zfs\" needs the dataset, like \"tank/maestro\"",
                ))
            }
            _ => {}
        }
        if let Some(d) = &sync.snapshot_dir {
            if !d.is_absolute() {
                return Err(invalid("sync.snapshot_dir", "give an absolute path"));
            }
            if d.starts_with(&source) {
                return Err(invalid(
                    "sync.snapshot_dir",
                    format!(
                        "{} lies inside the source {}: the snapshot would be replicated",
                        d.display(),
                        source.display()
                    ),
                ));
            }
        }
        for (key, value) in [
            ("sync.zfs_dataset", &sync.zfs_dataset),
            ("sync.lvm_volume", &sync.lvm_volume),
            ("sync.lvm_snapshot_size", &sync.lvm_snapshot_size),
            ("sync.lvm_mount_options", &sync.lvm_mount_options),
        ] {
            if let Some(v) = value {
                if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '\0') {
                    return Err(invalid(key, "empty, or holding white space"));
                }
            }
        }
        for (key, value) in [
            ("sync.copy_command", &sync.copy_command),
            ("sync.quiesce_command", &sync.quiesce_command),
            ("sync.unquiesce_command", &sync.unquiesce_command),
            ("sync.remote_command", &sync.remote_command),
            ("sync.rsync", &sync.rsync),
            ("sync.remote_rsync", &sync.remote_rsync),
        ] {
            if let Some(v) = value {
                no_newline(key, v)?;
            }
        }
        if sync.quiesce_command.is_some() != sync.unquiesce_command.is_some() {
            return Err(invalid(
                "sync.unquiesce_command",
                "quiesce_command and unquiesce_command go together: what pauses the writers must let them go on",
            ));
        }
        for g in &sync.exclude {
            ExcludeGlob::new(g).map_err(|e| invalid("sync.exclude", e))?;
            if g.contains(['\n', '\0']) {
                return Err(invalid("sync.exclude", "a glob holding a line break"));
            }
        }
        for o in &sync.rsync_options {
            if !o.starts_with('-') || o.contains(['\n', '\0']) {
                return Err(invalid(
                    "sync.rsync_options",
                    format!("{o:?} is not an option (options start with -)"),
                ));
            }
            // These would break what makes a generation: a transfer that
            // writes into the linked files of the current generation, or
            // one that leaves files out of it.
            for bad in [
                "--inplace",
                "--append",
                "--link-dest",
                "--compare-dest",
                "--copy-dest",
                "--delete-after",
                "--partial-dir",
                "--remove-source-files",
                "--existing",
                "--ignore-existing",
                "--update",
                "--max-size",
                "--min-size",
            ] {
                if o == bad || o.starts_with(&format!("{bad}=")) {
                    return Err(invalid(
                        "sync.rsync_options",
                        format!("{bad} is refused: the sync sets how files reach a generation"),
                    ));
                }
            }
        }
        let interval = nonzero(
            "sync.interval",
            sync.interval.map_or(DEFAULT_INTERVAL, |d| d.0),
        )?;
        let rpo_warning = nonzero(
            "sync.rpo_warning",
            sync.rpo_warning.map_or(interval * 2, |d| d.0),
        )?;
        let rpo_critical = nonzero(
            "sync.rpo_critical",
            sync.rpo_critical.map_or(interval * 4, |d| d.0),
        )?;
        if rpo_critical < rpo_warning {
            return Err(invalid("sync.rpo_critical", "shorter than rpo_warning"));
        }
        // The fence's marker, where maestro-fence writes it on this server
        // when it is the primary.
        let fence: maestro_fence::config::FenceConfig = loaded
            .section("fence")
            .map_err(|e| invalid("fence", e.to_string()))?;
        let marker_file = PathBuf::from(
            fence
                .marker_file
                .unwrap_or_else(|| DEFAULT_MARKER_FILE.to_string()),
        );
        Ok(Settings {
            source,
            generations: sync.generations.clone(),
            keep,
            snapshot: sync.snapshot,
            snapshot_dir: sync.snapshot_dir.clone(),
            btrfs_subvolume: sync.btrfs_subvolume.clone(),
            zfs_dataset: sync.zfs_dataset.clone(),
            lvm_volume: sync.lvm_volume.clone(),
            lvm_snapshot_size: sync.lvm_snapshot_size.clone(),
            lvm_mount_options: sync
                .lvm_mount_options
                .clone()
                .unwrap_or_else(|| "ro".to_string()),
            volume_mountpoint: sync.volume_mountpoint.clone(),
            copy_command: sync.copy_command.clone(),
            quiesce: sync.quiesce_command.clone(),
            unquiesce: sync.unquiesce_command.clone(),
            hook_timeout: nonzero(
                "sync.hook_timeout",
                sync.hook_timeout.map_or(DEFAULT_HOOK_TIMEOUT, |d| d.0),
            )?,
            command_timeout: nonzero(
                "sync.command_timeout",
                sync.command_timeout
                    .map_or(DEFAULT_COMMAND_TIMEOUT, |d| d.0),
            )?,
            exclude: sync.exclude.clone(),
            rsync: sync.rsync.clone().unwrap_or_else(|| "rsync".into()),
            remote_rsync: sync.remote_rsync.clone().unwrap_or_else(|| "rsync".into()),
            rsync_options: sync.rsync_options.clone(),
            remote_command: sync
                .remote_command
                .clone()
                .unwrap_or_else(|| "maestro-sync".into()),
            io_timeout: nonzero(
                "sync.io_timeout",
                sync.io_timeout.map_or(DEFAULT_IO_TIMEOUT, |d| d.0),
            )?,
            deadline: nonzero(
                "sync.deadline",
                sync.deadline.map_or(DEFAULT_DEADLINE, |d| d.0),
            )?,
            lock_wait: sync.lock_wait.map_or(DEFAULT_LOCK_WAIT, |d| d.0),
            interval,
            rpo_warning,
            rpo_critical,
            marker_file,
            primary: config.primary.clone(),
            failover: config.failover.clone(),
            sync_user: sync.user.clone(),
            sync_identity: sync.identity_file.clone(),
        })
    }

    /// How often a side says it is alive to the other while it works.
    pub fn alive_every(&self) -> Duration {
        (self.io_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }

    /// How long a side waits without a word from the other: three missed
    /// keepalives and a second.
    pub fn silence_for(alive_every: Duration) -> Duration {
        alive_every * 3 + Duration::from_secs(1)
    }

    /// The snapshot a run takes: the configured one, or none with the flag.
    pub fn snapshot_for_run(&self, no_snapshot: bool) -> Result<SyncSnapshot, SettingsError> {
        if no_snapshot {
            return Ok(SyncSnapshot::None);
        }
        self.snapshot.ok_or_else(|| {
            invalid(
                "sync.snapshot",
                "not set: say how the point in time is taken (btrfs, zfs, lvm or command), or give --no-snapshot for a stopped Maestro",
            )
        })
    }

    /// The generations folder, which a receiving server needs.
    pub fn generations(&self) -> Result<&Path, SettingsError> {
        self.generations.as_deref().ok_or_else(|| {
            invalid(
                "sync.generations",
                "not set: the receiving server keeps its generations there, like \"/srv/maestro-sync\"",
            )
        })
    }

    /// The other server of a run, reached as the sync user.
    pub fn peer(&self, role: PeerRole) -> Result<Peer, SettingsError> {
        let (host, key) = match role {
            PeerRole::Primary => (&self.primary, "primary.host"),
            PeerRole::Failover => (&self.failover, "failover.host"),
        };
        let host = host.as_ref().ok_or_else(|| {
            invalid(
                key,
                format!(
                    "[{}] is not configured: the sync needs the other server",
                    role.as_str()
                ),
            )
        })?;
        Ok(Peer {
            role,
            host: host.host.clone(),
            port: host.port,
            user: self.sync_user.clone().unwrap_or_else(|| host.user.clone()),
            identity_file: self
                .sync_identity
                .clone()
                .or_else(|| host.identity_file.clone()),
            known_hosts: host.known_hosts_path(),
            connect_timeout: host.connect_timeout(),
            control_path: None,
        })
    }

    /// The name of the other server in the journal.
    pub fn peer_name(&self, role: PeerRole) -> String {
        self.peer(role)
            .map(|p| p.host)
            .unwrap_or_else(|_| role.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Settings, String> {
        let c = LoadedConfig::from_text(text, Path::new("c.toml")).map_err(|e| e.to_string())?;
        Settings::resolve(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_come_from_the_site_and_the_interval() {
        let s = resolve("[site]\ninstall_root = \"/opt/lsoft/maestro\"\n").unwrap();
        assert_eq!(s.source, Path::new("/opt/lsoft/maestro"));
        assert_eq!(s.keep, 3);
        assert_eq!(s.rpo_warning, Duration::from_secs(30 * 60));
        assert_eq!(s.rpo_critical, Duration::from_secs(60 * 60));
        assert!(s
            .snapshot_for_run(false)
            .unwrap_err()
            .to_string()
            .contains("sync.snapshot"));
        assert_eq!(s.snapshot_for_run(true).unwrap(), SyncSnapshot::None);
        assert!(s
            .generations()
            .unwrap_err()
            .to_string()
            .starts_with("sync.generations"));
        let e = s.peer(PeerRole::Failover).unwrap_err().to_string();
        assert!(e.starts_with("failover.host"), "{e}");
    }

    #[test]
    fn the_peer_is_reached_as_the_sync_user() {
        let s = resolve("[failover]\nhost = \"f\"\nport = 2222\nuser = \"root\"\nidentity_file = \"/k\"\n[sync]\nuser = \"maestro-sync\"\n").unwrap();
        let p = s.peer(PeerRole::Failover).unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("f", 2222, "maestro-sync")
        );
        assert_eq!(p.identity_file.as_deref(), Some(Path::new("/k")));
    }

    #[test]
    fn what_cannot_work_is_named_by_its_key() {
        for (text, key) in [
            ("[sync]\nsnapshot = \"none\"\n", "sync.snapshot"),
            ("[sync]\nsnapshot = \"btrfs\"\n", "sync.snapshot_dir"),
            ("[sync]\nsnapshot = \"zfs\"\n", "sync.zfs_dataset"),
            ("[sync]\nsnapshot = \"lvm\"\nlvm_volume = \"maestro\"\nsnapshot_dir = \"/mnt/s\"\n", "sync.lvm_volume"),
            ("[sync]\nsource = \"/srv/m\"\nsnapshot = \"command\"\nsnapshot_dir = \"/srv/m/stage\"\n", "sync.snapshot_dir"),
            ("[sync]\nsource = \"relative\"\n", "sync.source"),
            ("[sync]\nsource = \"/srv/m\"\ngenerations = \"/srv/m/gen\"\n", "sync.generations"),
            ("[sync]\nkeep = 0\n", "sync.keep"),
            ("[sync]\nquiesce_command = \"true\"\n", "sync.unquiesce_command"),
            ("[sync]\nrsync_options = [\"--inplace\"]\n", "sync.rsync_options"),
            ("[sync]\nrsync_options = [\"-z\", \"x\"]\n", "sync.rsync_options"),
            ("[sync]\nexclude = [\"[\"]\n", "sync.exclude"),
            ("[sync]\nrpo_warning = \"1h\"\nrpo_critical = \"10m\"\n", "sync.rpo_critical"),
            ("[sync]\nio_timeout = \"0s\"\n", "sync.io_timeout"),
        ] {
            let e = resolve(&format!("[site]\ninstall_root = \"/opt/m\"\n{text}")).unwrap_err();
            assert!(e.starts_with(key), "{text}: {e}");
        }
    }
}
