//! The `[fence]` section of the shared configuration: how maestro-fence
//! fences, checks and guards. The section is this tool's; every maestro-ha
//! binary registers [`SECTION`] so that any tool's `config check` names a
//! typo in it.

use maestro_common::config::Section;
use maestro_common::duration::HumanDuration;
use serde::Deserialize;

/// `[fence]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<FenceConfig>("fence");

/// A way to fence the primary (`[fence] levels`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FenceLevel {
    /// Over SSH on the primary: stop and disable the services and the sync.
    Ssh,
    /// Through a fence agent of the fence-agents project (power, hypervisor, cloud).
    Agent,
    /// On this failover server: firewall the primary out, close the inbound sync.
    Isolate,
}

impl FenceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            FenceLevel::Ssh => "ssh",
            FenceLevel::Agent => "agent",
            FenceLevel::Isolate => "isolate",
        }
    }
}

/// Which firewall `isolate` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FirewallBackend {
    /// On Linux nftables where `nft` is installed, else iptables; on
    /// Windows the Windows Firewall.
    #[default]
    Auto,
    Nft,
    Iptables,
    /// Windows Firewall (a rule group made with `New-NetFirewallRule`):
    /// on a Windows failover only.
    Windows,
}

/// What `guard` on the primary does when it cannot ask the failover server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuardUnreachable {
    /// Refuse to start Maestro (exit 2): a split network must not give two
    /// running Maestros.
    #[default]
    Refuse,
    /// Allow the start (exit 0, with a message): availability over safety.
    Allow,
}

/// `[fence]`: how maestro-fence fences, checks and guards.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FenceConfig {
    /// Levels tried in order until one is confirmed. Default `["ssh", "isolate"]`.
    pub levels: Option<Vec<FenceLevel>>,
    /// The whole run's deadline. Default 60s. Levels before `isolate` end
    /// 5s before it, so isolate's connect probe keeps its window.
    pub deadline: Option<HumanDuration>,
    /// Each remote or local command's timeout. Default 15s.
    pub command_timeout: Option<HumanDuration>,
    /// The fence marker file on the primary. Default
    /// `/var/lib/maestro-ha/fenced` (`C:\ProgramData\maestro-ha\fenced` on Windows).
    pub marker_file: Option<String>,
    /// The file on the primary holding the epoch of the last unfence, which
    /// `guard` compares with the failover's. Default `/var/lib/maestro-ha/epoch`.
    pub epoch_file: Option<String>,
    /// The fence agent for the `agent` level: a name in PATH or a path, like `fence_ipmilan`.
    pub agent: Option<String>,
    /// The agent's options (written to its stdin as `key=value`), like `{ ip = "10.0.0.9", username = "admin" }`.
    #[serde(default)]
    pub agent_options: std::collections::BTreeMap<String, String>,
    /// The agent's secret options, like `{ password = { file = "/etc/maestro-ha/ipmi" } }`: stdin only, never shown.
    #[serde(default)]
    pub agent_secrets: std::collections::BTreeMap<String, maestro_common::secret::SecretRef>,
    /// How long one agent call may take. Default 60s.
    pub agent_timeout: Option<HumanDuration>,
    /// The firewall `isolate` uses: `auto`, `nft`, `iptables` or `windows`.
    #[serde(default)]
    pub firewall: FirewallBackend,
    /// The nftables table (family inet), iptables chain prefix and Windows
    /// Firewall rule group. Default `maestro_fence`.
    pub firewall_table: Option<String>,
    /// What `guard` does when the failover server cannot be asked.
    #[serde(default)]
    pub guard_unreachable: GuardUnreachable,
    /// The command `guard` runs on the failover server over SSH to read its
    /// epoch. Default `maestro-fence --format json epoch`.
    pub peer_epoch_command: Option<String>,
    /// The primary's node name in a Pacemaker cluster: what `fence_maestro`
    /// lists, and the only node it agrees to fence. Without it (or the
    /// device option `node_name`), `fence_maestro` refuses every request
    /// that names a node.
    pub node_name: Option<String>,
}
