//! The `[verify]` section of the shared configuration: how
//! maestro-snapshot-verify walks, what it accepts, and how it reaches the
//! primary for `check --remote`. Every key also has a flag, which wins.

use maestro_common::config::{ConfigError, LoadedConfig, Section};
use maestro_common::duration::HumanDuration;
use serde::Deserialize;

/// `[verify]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<VerifyConfig>("verify");

/// The `[verify]` section of a loaded configuration.
pub fn verify_section(loaded: &LoadedConfig) -> Result<VerifyConfig, ConfigError> {
    loaded.section(SECTION.name)
}

/// `[verify]`: maestro-snapshot-verify. Every key also has a flag, which wins.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Roots to walk instead of the site's data roots, as `DIR` or
    /// `NAME=DIR` (`--root`). Names are how two manifests' roots are matched.
    #[serde(default)]
    pub roots: Vec<String>,
    /// Globs of paths to leave out, relative to their root; a glob without
    /// `/` matches a name at any depth (`--exclude`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The largest gap allowed between the newest modification times of two
    /// components (HUB, LUI, Tracker, DB). Default 5m (`--max-skew`).
    pub max_skew: Option<HumanDuration>,
    /// Names of rsync `--partial-dir` folders whose presence means an
    /// interrupted transfer. Default `[".rsync-partial"]` (`--partial-dir`).
    pub partial_dirs: Option<Vec<String>>,
    /// Hashing threads. Default: every core (`--threads`).
    pub threads: Option<usize>,
    /// The command that runs this tool on the primary for `check --remote`,
    /// a shell command prefix (`env X=1 /opt/bin/maestro-snapshot-verify`).
    /// Default `maestro-snapshot-verify` (found on the remote PATH).
    pub remote_command: Option<String>,
    /// The roots the primary's capture walks, as `--root` values; default:
    /// the `--root` flags of the check, else the primary's own config.
    #[serde(default)]
    pub remote_roots: Vec<String>,
    /// Read the primary's last manifest from this path over SFTP instead of
    /// running a capture there (`--remote-manifest`).
    pub remote_manifest: Option<String>,
    /// How long the remote capture or SFTP read may take. Default 1h.
    pub remote_timeout: Option<HumanDuration>,
    /// The largest manifest read from the primary, in bytes. Default 4 GiB.
    pub remote_max_bytes: Option<u64>,
    /// What a database folder whose InnoDB log format (or pages) this tool
    /// does not read gives: `strict` (default) a WARNING, `best-effort` OK
    /// with the reason and this setting named in the message (`--innodb`).
    /// Evidence of a mixed or broken copy is CRITICAL either way.
    pub innodb: Option<InnodbPolicy>,
}

/// `[verify] innodb`: how an InnoDB log format this tool does not read counts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InnodbPolicy {
    /// A log or page format the tool does not read is a WARNING.
    #[default]
    Strict,
    /// Accepted as OK, the reason kept in the message: for sites that know
    /// their log format is not read here and still want the gate to pass.
    /// Never excuses evidence of a mixed copy.
    BestEffort,
}

impl InnodbPolicy {
    /// The value as written in the config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            InnodbPolicy::Strict => "strict",
            InnodbPolicy::BestEffort => "best-effort",
        }
    }
}
