//! The agent's parameters resolved against the shared configuration file,
//! with the OCF exit code each mistake earns: a value that is wrong
//! wherever the resource runs is `OCF_ERR_CONFIGURED` (Pacemaker then
//! stops trying anywhere), what is missing on this node only is
//! `OCF_ERR_INSTALLED`.

use crate::ocf::{Env, Failure};
use crate::services::ServiceSet;
use maestro_common::config::{LoadedConfig, ServiceManager, CONFIG_LIMIT};
use std::path::{Path, PathBuf};

/// What this node is to Maestro, which decides the start's first gates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The primary's node: Maestro starts after `maestro-fence guard`.
    Primary,
    /// Any other node takes over: the primary must be fenced, the replica
    /// one point in time.
    Failover,
}

/// What the replica is checked against before Maestro starts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replica {
    /// The primary's last manifest, a file on this node.
    Manifest(PathBuf),
    /// maestro-sync's current generation, against its own manifest; then
    /// pinned with `maestro-sync hold`.
    SyncGeneration { generations: PathBuf },
}

impl Replica {
    /// The arguments of `maestro-snapshot-verify check` for it.
    pub fn check_args(&self) -> Vec<String> {
        match self {
            Replica::Manifest(m) => vec!["--manifest".into(), m.display().to_string()],
            Replica::SyncGeneration { generations } => {
                let current = generations.join("current");
                vec![
                    "--root".into(),
                    format!("data={}", current.join("data").display()),
                    "--manifest".into(),
                    current.join("manifest.jsonl").display().to_string(),
                ]
            }
        }
    }
}

/// The components whose logs maestro-logscan knows.
pub const COMPONENTS: &[&str] = &["db", "lui", "hub", "tracker"];

#[derive(Debug)]
pub struct Settings {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub loaded: LoadedConfig,
    pub services: ServiceSet,
    pub node: String,
    pub primary_node: Option<String>,
    pub role: Role,
    /// On a failover node only.
    pub replica: Option<Replica>,
    pub ready_logs: Vec<String>,
    pub http_url: String,
    pub smoketest_message: Option<PathBuf>,
}

/// Why the configuration file could not be used: absent from this node
/// (nothing of the resource can run here), or present and wrong.
pub fn config_file(env: &Env) -> PathBuf {
    match env.param("config_file") {
        Some(p) => PathBuf::from(p),
        None => maestro_common::config::locate(None).0,
    }
}

impl Settings {
    pub fn resolve(env: &Env) -> Result<Settings, Failure> {
        let config_file = config_file(env);
        if !config_file.is_absolute() {
            return Err(Failure::configured(format!(
                "config_file={}: give an absolute path",
                config_file.display()
            )));
        }
        match std::fs::symlink_metadata(&config_file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::installed(format!(
                    "the configuration file {} is not on this node",
                    config_file.display()
                )))
            }
            _ => {}
        }
        let loaded = maestro_common::config::load(Some(&config_file), &[])
            .map_err(|e| Failure::configured(e.to_string()))?;
        let state_dir = match env.param("state_dir") {
            Some(p) => PathBuf::from(p),
            None => maestro_common::state::state_dir(None)
                .map_err(|e| Failure::configured(format!("state_dir: {e}")))?,
        };
        if !state_dir.is_absolute() {
            return Err(Failure::configured(format!(
                "state_dir={}: give an absolute path",
                state_dir.display()
            )));
        }
        let services = services(env, &loaded)?;
        let fence: maestro_fence::config::FenceConfig = loaded
            .section(maestro_fence::config::SECTION.name)
            .map_err(|e| Failure::configured(e.to_string()))?;
        let primary_node = env
            .param("primary_node")
            .map(str::to_string)
            .or(fence.node_name.clone())
            .filter(|n| !n.trim().is_empty());
        let node = env.node();
        let role = if primary_node.as_deref() == Some(node.as_str()) {
            Role::Primary
        } else {
            Role::Failover
        };
        let replica = match role {
            Role::Primary => None,
            Role::Failover => Some(replica(env, &config_file)?),
        };
        let ready_logs = ready_logs(env)?;
        let http_url = env
            .param("http_url")
            .unwrap_or("http://127.0.0.1/lui/")
            .to_string();
        if !(http_url.starts_with("http://") || http_url.starts_with("https://")) {
            return Err(Failure::configured(format!(
                "http_url={http_url}: give an http:// or https:// URL"
            )));
        }
        let smoketest_message = env.param("smoketest_message").map(PathBuf::from);
        Ok(Settings {
            config_file,
            state_dir,
            loaded,
            services,
            node,
            primary_node,
            role,
            replica,
            ready_logs,
            http_url,
            smoketest_message,
        })
    }

    /// `--config FILE --state-dir DIR`, given to every tool.
    pub fn tool_args(&self) -> Vec<String> {
        vec![
            "--config".into(),
            self.config_file.display().to_string(),
            "--state-dir".into(),
            self.state_dir.display().to_string(),
        ]
    }

    /// Whether maestro-sync is part of this node's start.
    pub fn uses_sync(&self) -> bool {
        matches!(self.replica, Some(Replica::SyncGeneration { .. }))
    }
}

fn services(env: &Env, loaded: &LoadedConfig) -> Result<ServiceSet, Failure> {
    let cfg = &loaded.config.services;
    let (names, key): (Vec<String>, &str) = match env.param("services") {
        Some(list) => (
            list.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            "services",
        ),
        None => (cfg.names.clone(), "[services] names"),
    };
    if names.is_empty() {
        return Err(Failure::configured(
            "no Maestro service to start: set the services parameter or [services] names",
        ));
    }
    for name in &names {
        maestro_fence::settings::check_name(key, name)
            .map_err(|e| Failure::configured(e.to_string()))?;
    }
    let needs = |key: &str, value: &Option<String>| -> Result<String, Failure> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Failure::configured(format!(
                    "[services] {key} is not set: the commands manager needs it to {}",
                    match key {
                        "start_command" => "start a service",
                        "stop_command" => "stop a service",
                        _ => "tell whether a service runs",
                    }
                ))
            })
    };
    match cfg.manager {
        ServiceManager::Systemd => Ok(ServiceSet::systemd(names)),
        ServiceManager::Sysv => Ok(ServiceSet::sysv(names)),
        ServiceManager::Commands => Ok(ServiceSet::commands(
            names,
            needs("start_command", &cfg.start_command)?,
            needs("stop_command", &cfg.stop_command)?,
            needs("active_command", &cfg.active_command)?,
        )),
        ServiceManager::Windows => Err(Failure::configured(
            "[services] manager = \"windows\": the agent runs on a Linux cluster node; use systemd, sysv or commands",
        )),
    }
}

fn replica(env: &Env, config_file: &Path) -> Result<Replica, Failure> {
    if let Some(m) = env.param("manifest") {
        let m = PathBuf::from(m);
        if !m.is_absolute() {
            return Err(Failure::configured(format!(
                "manifest={}: give an absolute path",
                m.display()
            )));
        }
        return Ok(Replica::Manifest(m));
    }
    match sync_generations(config_file)? {
        Some(generations) => Ok(Replica::SyncGeneration { generations }),
        None => Err(Failure::configured(
            "nothing to check the replica against: set the manifest parameter (the primary's last manifest on this node) or [sync] generations (maestro-sync)",
        )),
    }
}

/// `[sync] generations`, as written. maestro-sync is optional: its key is
/// read from the file itself, so that the agent works with or without it.
fn sync_generations(config_file: &Path) -> Result<Option<PathBuf>, Failure> {
    let text = maestro_common::fsio::read_regular_to_string(config_file, CONFIG_LIMIT)
        .map_err(|e| Failure::configured(format!("{}: {e}", config_file.display())))?;
    let value: toml::Value = toml::from_str(&text)
        .map_err(|e| Failure::configured(format!("{}: {e}", config_file.display())))?;
    let Some(g) = value.get("sync").and_then(|s| s.get("generations")) else {
        return Ok(None);
    };
    match g.as_str().map(PathBuf::from) {
        Some(p) if p.is_absolute() => Ok(Some(p)),
        _ => Err(Failure::configured(format!(
            "{}: [sync] generations must be an absolute path",
            config_file.display()
        ))),
    }
}

fn ready_logs(env: &Env) -> Result<Vec<String>, Failure> {
    let list = env.param("ready_logs").unwrap_or("db lui");
    let logs: Vec<String> = list
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for l in &logs {
        if !COMPONENTS.contains(&l.as_str()) {
            return Err(Failure::configured(format!(
                "ready_logs: {l:?} is not a component (db, lui, hub, tracker)"
            )));
        }
    }
    if logs.is_empty() {
        return Err(Failure::configured(
            "ready_logs is empty: name the start-up logs that must say ready (db lui)",
        ));
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::OcfStatus;

    fn with_config(text: &str, extra: &[(&str, &str)]) -> Result<Settings, Failure> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let config = path.display().to_string();
        let state = dir.path().join("state").display().to_string();
        let mut pairs = vec![
            ("OCF_RESKEY_config_file", config.as_str()),
            ("OCF_RESKEY_state_dir", state.as_str()),
            ("OCF_RESKEY_CRM_meta_on_node", "node2"),
        ];
        pairs.extend_from_slice(extra);
        Settings::resolve(&Env::from_pairs(&pairs))
    }

    const SYSTEMD: &str = "[services]\nnames = [\"maestro-lui\", \"maestro-hub\"]\n";

    #[test]
    fn a_failover_node_needs_something_to_check_the_replica_against() {
        let e = with_config(SYSTEMD, &[]).unwrap_err();
        assert_eq!(e.status, OcfStatus::ErrConfigured);
        assert!(e.reason.contains("manifest"), "{e:?}");
        let s = with_config(SYSTEMD, &[("OCF_RESKEY_manifest", "/srv/m.jsonl")]).unwrap();
        assert_eq!(s.role, Role::Failover);
        assert_eq!(
            s.replica,
            Some(Replica::Manifest(PathBuf::from("/srv/m.jsonl")))
        );
        assert_eq!(s.services.names(), ["maestro-lui", "maestro-hub"]);
        assert_eq!(s.ready_logs, ["db", "lui"]);
    }

    #[test]
    fn sync_generations_are_read_from_the_file() {
        let s = with_config(
            &format!("{SYSTEMD}[fence]\nnode_name = \"node1\"\n"),
            &[("OCF_RESKEY_manifest", "/srv/m.jsonl")],
        )
        .unwrap();
        assert!(!s.uses_sync());
        let r = sync_generations_of("[sync]\ngenerations = \"/srv/gen\"\n");
        assert_eq!(r.unwrap(), Some(PathBuf::from("/srv/gen")));
        let r = sync_generations_of("[sync]\ngenerations = \"gen\"\n");
        assert_eq!(r.unwrap_err().status, OcfStatus::ErrConfigured);
        assert_eq!(sync_generations_of("[sync]\n").unwrap(), None);
        let args = Replica::SyncGeneration {
            generations: "/srv/gen".into(),
        }
        .check_args();
        assert_eq!(
            args,
            [
                "--root",
                "data=/srv/gen/current/data",
                "--manifest",
                "/srv/gen/current/manifest.jsonl"
            ]
        );
    }

    fn sync_generations_of(text: &str) -> Result<Option<PathBuf>, Failure> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        sync_generations(&p)
    }

    #[test]
    fn the_primary_node_starts_after_the_guard_alone() {
        let s = with_config(&format!("{SYSTEMD}[fence]\nnode_name = \"node2\"\n"), &[]).unwrap();
        assert_eq!(s.role, Role::Primary);
        assert_eq!(s.replica, None);
        let s = with_config(SYSTEMD, &[("OCF_RESKEY_primary_node", "node2")]).unwrap();
        assert_eq!(s.role, Role::Primary);
    }

    #[test]
    fn mistakes_name_what_to_set() {
        let m = &[("OCF_RESKEY_manifest", "/srv/m.jsonl")];
        let e = with_config("[services]\nnames = []\n", m).unwrap_err();
        assert!(e.reason.contains("services"), "{e:?}");
        let e = with_config("[services]\nmanager = \"commands\"\nnames = [\"a\"]\nstop_command = \"x\"\nactive_command = \"y\"\n", m).unwrap_err();
        assert_eq!(e.status, OcfStatus::ErrConfigured);
        assert!(e.reason.contains("start_command"), "{e:?}");
        let e = with_config("[services]\nmanager = \"windows\"\nnames = [\"a\"]\n", m).unwrap_err();
        assert!(e.reason.contains("windows"), "{e:?}");
        let e = with_config(SYSTEMD, &[m[0], ("OCF_RESKEY_ready_logs", "lui web")]).unwrap_err();
        assert!(e.reason.contains("\"web\""), "{e:?}");
        let e = with_config(SYSTEMD, &[m[0], ("OCF_RESKEY_services", "a;b")]).unwrap_err();
        assert!(e.reason.contains("a;b"), "{e:?}");
        let e = with_config(SYSTEMD, &[m[0], ("OCF_RESKEY_http_url", "ftp://x/")]).unwrap_err();
        assert!(e.reason.contains("http_url"), "{e:?}");
        let e = with_config("[services\n", m).unwrap_err();
        assert_eq!(e.status, OcfStatus::ErrConfigured);
        let e = Settings::resolve(&Env::from_pairs(&[(
            "OCF_RESKEY_config_file",
            "/nonexistent/maestro-ha.toml",
        )]))
        .unwrap_err();
        assert_eq!(e.status, OcfStatus::ErrInstalled);
        let s = with_config(SYSTEMD, &[m[0], ("OCF_RESKEY_services", "db, lui hub")]).unwrap();
        assert_eq!(s.services.names(), ["db", "lui", "hub"]);
    }
}
