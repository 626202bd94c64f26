//! The command line: `capture`, `check`, `diff` and `config check`.

use crate::config::InnodbPolicy;
use clap::{Args, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, GlobalArgs};
use maestro_common::duration::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

/// Prove that the replica's application and database files come from one point in time.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-snapshot-verify",
    version,
    about = "Prove that the replica's application and database files come from one point in time",
    long_about = "Captures manifests of Maestro's data folders and checks a replica against them and against itself: leftovers of an interrupted transfer, skew between components, InnoDB pages newer than the redo log, MyISAM tables copied while open.",
    after_help = cli::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk the data roots and write a manifest (JSON Lines) of every entry with its SHA-256
    Capture(CaptureArgs),
    /// Check the replica here: against a manifest of the primary, and for leftovers, skew, InnoDB and MyISAM state
    Check(CheckArgs),
    /// Compare two manifests: A is the reference, B the copy
    Diff(DiffArgs),
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// What to walk: shared by `capture` and `check`.
#[derive(Debug, Clone, Default, Args)]
pub struct WalkArgs {
    /// A root to walk, `DIR` or `NAME=DIR` (repeatable) [default: the site's HUB, LUI, Tracker and DB data folders]
    #[arg(long = "root", value_name = "[NAME=]DIR")]
    pub roots: Vec<String>,

    /// Leave out paths matching GLOB, relative to their root; without `/` it matches a name at any depth (repeatable)
    #[arg(long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,

    /// Read and hash every file, ignoring the hash cache
    #[arg(long)]
    pub rehash: bool,

    /// Hashing threads [default: every core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// For library callers (maestro-sync): the hash cache's key of a root,
    /// by root name, instead of the path the root was given as.
    #[arg(skip)]
    pub cache_keys: Vec<(String, String)>,

    /// For library callers: hash cache keys without the device, for roots
    /// that are snapshots (a device of their own each time they are made).
    #[arg(skip)]
    pub cache_across_devices: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub walk: WalkArgs,

    /// Write the manifest to FILE instead of stdout (`-` is stdout)
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Store the manifest in the catalog under this label (for `check --manifest-label`)
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,

    /// The roots are a frozen snapshot (LVM, ZFS, VSS): any file that changes while read is CRITICAL
    #[arg(long)]
    pub from_snapshot: bool,

    /// For library callers: do not keep a copy of the manifest in the
    /// catalog (the caller keeps it; the hash cache is still updated).
    #[arg(skip)]
    pub no_catalog_copy: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub walk: WalkArgs,

    /// The primary's manifest to compare with (`-` reads stdin)
    #[arg(long, value_name = "FILE", group = "reference")]
    pub manifest: Option<PathBuf>,

    /// The newest manifest stored in the catalog under LABEL
    #[arg(long, value_name = "LABEL", group = "reference")]
    pub manifest_label: Option<String>,

    /// Get the manifest from the primary ([primary] in the config) over SSH: run `capture` there, or read --remote-manifest over SFTP
    #[arg(long, group = "reference")]
    pub remote: bool,

    /// With --remote: read this manifest file on the primary over SFTP instead of running a capture
    #[arg(long, value_name = "PATH", requires = "remote")]
    pub remote_manifest: Option<String>,

    /// With --remote: how long the remote capture or read may take [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "remote")]
    pub remote_timeout: Option<Duration>,

    /// With --remote: add an unknown host key of the primary to known_hosts (a changed key is always refused)
    #[arg(long, requires = "remote")]
    pub accept_new_host_key: bool,

    /// Compare metadata only (type, size, mode, mtime), not content: rsync's quick check
    #[arg(long)]
    pub quick: bool,

    /// Largest gap allowed between the newest modification times of two components [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_skew: Option<Duration>,

    /// Name of an rsync --partial-dir folder that means an interrupted transfer (repeatable) [default: .rsync-partial]
    #[arg(long = "partial-dir", value_name = "NAME")]
    pub partial_dirs: Vec<String>,

    /// How an InnoDB log format (or pages) this tool does not read counts: strict (WARNING) or best-effort (OK, with the reason and this setting named); a mixed or broken copy is CRITICAL either way [default: strict]
    #[arg(long, value_name = "POLICY", value_enum)]
    pub innodb: Option<InnodbPolicy>,

    /// How long to wait for a running maestro-sync when a root lies in its generations folder (the check shares the folder's lock) [default: 10m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub sync_lock_wait: Option<Duration>,

    /// For library callers: the caller holds the generations lock already.
    #[arg(skip)]
    pub sync_lock_held: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The reference manifest (the primary's)
    pub a: PathBuf,
    /// The manifest compared with it (the replica's)
    pub b: PathBuf,
    /// Compare metadata only, not hashes
    #[arg(long)]
    pub quick: bool,
}
