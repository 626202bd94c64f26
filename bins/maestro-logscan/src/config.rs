//! The `[logscan]` section of the shared configuration. Each key has a
//! flag that wins.

use crate::rules::Severity;
use maestro_common::config::Section;
use maestro_common::duration::HumanDuration;
use serde::Deserialize;
use std::path::PathBuf;

/// `[logscan]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<LogscanConfig>("logscan");

/// `[logscan]`: maestro-logscan's settings. Each has a flag that wins.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogscanConfig {
    /// Which component's log to read when no file is named, and which rule
    /// pack applies (`lui`, `hub`, `tracker`: the Maestro pack; `db`: the
    /// InnoDB/MariaDB pack). Default `lui`. Flag: `--component`.
    pub component: Option<maestro_common::site::Component>,
    /// Rule files (TOML) that add or override rules, in order. Flag: `--rules`.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Findings below this severity are not reported: `info` (default),
    /// `warning` or `critical`. Flag: `--min-severity`.
    pub min_severity: Option<Severity>,
    /// A missing log file is OK instead of UNKNOWN. Flag: `--missing-ok`.
    #[serde(default)]
    pub missing_ok: bool,
    /// A strftime format for the timestamps at the start of records, instead
    /// of auto-detection. Flag: `--timestamp-format`.
    pub timestamp_format: Option<String>,
    /// The longest line kept whole (bytes, default 1 MiB); the rest of a
    /// longer line is skipped, so memory stays bounded. Flag: `--max-line-bytes`.
    pub max_line_bytes: Option<u64>,
    /// How many continuation lines (stack frames) a finding keeps (default 50).
    pub max_stack_lines: Option<usize>,
    /// `--follow` gives up after this long (default 10m). Flag: `--timeout`.
    pub follow_timeout: Option<HumanDuration>,
    /// How often `--follow` looks for new lines (default 250ms). Flag: `--poll-interval`.
    pub poll_interval: Option<HumanDuration>,
    /// Regex for the Maestro pack's startup marker (replaces the built-in one).
    pub maestro_startup_marker: Option<String>,
    /// Regex for the Maestro pack's readiness marker (`--until-ready`).
    pub maestro_ready_marker: Option<String>,
    /// Regex for the database pack's startup marker.
    pub db_startup_marker: Option<String>,
    /// Regex for the database pack's readiness marker.
    pub db_ready_marker: Option<String>,
}
