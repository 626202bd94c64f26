//! The command line.

use crate::rules::Severity;
use clap::{Parser, Subcommand, ValueEnum};
use maestro_common::cli::{self, ConfigCommand, GlobalArgs};
use std::path::PathBuf;
use std::time::Duration;

/// Find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-logscan",
    version,
    about = "Find recovery errors in LUI-yyyymmdd.LOG and the other Maestro logs",
    long_about = "Reads the LUI, HUB, Tracker and database logs of the day for recovery errors after Maestro starts (missing, crashed or corrupt tables, lost database connections, InnoDB crash recovery problems), for people and for scripts.\n\nWith no FILE, the log of --component for --date (today) is read from the site's log folder; when the window reaches back before midnight the earlier days' files are read too.",
    after_help = cli::EXIT_CODES_HELP,
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(flatten)]
    pub scan: ScanArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `--component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComponentArg {
    Lui,
    Hub,
    Tracker,
    Db,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScanArgs {
    /// Log files to scan; `-` reads standard input [default: the component's log of the day]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Which log: picks the file of the day and the rule pack (lui, hub, tracker: Maestro; db: InnoDB/MariaDB) [default: lui, or [logscan] component]
    #[arg(long, value_enum)]
    pub component: Option<ComponentArg>,

    /// The day whose log to read (YYYY-MM-DD, local) [default: today]
    #[arg(long, value_name = "DATE")]
    pub date: Option<chrono::NaiveDate>,

    /// Only records at or after TIME (2026-11-26T08:00, "2026-11-26 08:00:00", 08:00 today) or DURATION ago (15m)
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,

    /// Only records at or before TIME or DURATION ago
    #[arg(long, value_name = "TIME|DURATION")]
    pub until: Option<String>,

    /// Only records from the last startup marker of the component's pack on; with --follow, only a start appended after following began (see --since-start-after)
    #[arg(long)]
    pub since_start: bool,

    /// Like --since-start, for the start that began at or after TIME (noted before starting Maestro): an earlier start's lines in the same log never count; with --follow, a start logged before following began is read too
    #[arg(long, value_name = "TIME|DURATION")]
    pub since_start_after: Option<String>,

    /// A missing log file is OK, not UNKNOWN
    #[arg(long)]
    pub missing_ok: bool,

    /// strftime format of the timestamps records start with, instead of auto-detection
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<String>,

    /// A TOML rule file that adds or overrides rules (repeatable; after [logscan] rules)
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// List the rules that apply (with --component) and exit
    #[arg(long)]
    pub list_rules: bool,

    /// Write the regexes of the rules that apply to FILE, one a line (for `rg -f`, `grep -E -f`), and exit
    #[arg(long, value_name = "FILE")]
    pub write_patterns: Option<PathBuf>,

    /// Report only findings of this severity or worse [default: info]
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub min_severity: Option<Severity>,

    /// Keep reading the log as it grows (it may not exist yet, and may rotate at midnight)
    #[arg(long)]
    pub follow: bool,

    /// With --follow: return when the readiness marker appears (0/1), at once on a critical finding (2), or at --timeout (2)
    #[arg(long, requires = "follow")]
    pub until_ready: bool,

    /// With --follow, and for standard input (`-`): give up after this long [default: 10m]
    #[arg(long, value_name = "DURATION", value_parser = maestro_common::duration::parse_duration)]
    pub timeout: Option<Duration>,

    /// With --follow: how often to look for new lines [default: 250ms]
    #[arg(long, value_name = "DURATION", value_parser = maestro_common::duration::parse_duration)]
    pub poll_interval: Option<Duration>,

    /// Scan only what is new since the last --incremental run (offsets kept in the state catalog)
    #[arg(long, conflicts_with = "follow")]
    pub incremental: bool,

    /// The longest line kept whole, in bytes; the rest of a longer line is skipped [default: 1048576]
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<u64>,
}
