//! The command line: `push`, `pull`, `status`, `hold`, `release`, the two
//! sides a run starts on the other server (`receive`, `serve`), and
//! `config check`.

use clap::{Args, Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, GlobalArgs};
use maestro_common::duration::parse_duration;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Replicate Maestro's data so that the failover always holds a complete, verified point in time.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-sync",
    version,
    about = "Replicate Maestro's data so that the failover always holds a complete, verified point in time",
    long_about = "Takes a point in time of Maestro's data on the primary (a btrfs, ZFS or LVM snapshot, or the admin's quiesce commands around a local copy), captures its manifest, sends it with rsync over SSH into a new generation on the failover (unchanged files hard-linked from the current one), has the failover check the generation against the manifest, and only then moves the `current` link to it. A run either ends in a new complete, verified generation or changes nothing the failover would start from.",
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
    /// On the sending server: take a point in time and make it a verified generation on the other server
    Push(RunArgs),
    /// On the receiving server: the same, driven from here
    Pull(RunArgs),
    /// The replica here: the current generation, its age (the RPO), partial and held generations, the last runs
    Status(StatusArgs),
    /// Pin the current generation: no sync replaces or prunes it until `release` (a Maestro start runs this)
    Hold(LockArgs),
    /// Unpin the held generation, so that syncs replace it again (after the failback)
    Release(LockArgs),
    /// The receiving side of a run, started over SSH by `push` (or run here by `pull`)
    Receive(ReceiveArgs),
    /// The sending side of a run, started over SSH by `pull`: takes the point in time and keeps it until the transfer ends
    Serve(ServeArgs),
    /// Run rsync for the other side and record its CPU time (rsync's --rsync-path)
    #[command(hide = true)]
    RsyncWrap(RsyncWrapArgs),
    /// rsync's remote shell: carries rsync's stream through the run's own session (rsync's -e)
    #[command(hide = true)]
    Relay(RelayArgs),
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// How a run goes: `push` and `pull`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// The failback direction: from the failover to the primary
    #[arg(long)]
    pub reverse: bool,

    /// Take no snapshot: copy the live data and mark the generation as not a point in time (only for a stopped Maestro)
    #[arg(long)]
    pub no_snapshot: bool,

    /// Replace the receiving side's current generation even though it changed since it was received (Maestro ran from it): its changes are lost
    #[arg(long)]
    pub discard_changes: bool,

    /// Print what would run (snapshot commands, capture, rsync, SSH) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Bound on the whole run [default: [sync] deadline, else 12h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// The RPO (age of the current generation) that warns [default: [sync] rpo_warning, else two intervals]
    #[arg(long, short = 'w', value_name = "DURATION", value_parser = parse_duration)]
    pub warning: Option<Duration>,

    /// The RPO that is critical [default: [sync] rpo_critical, else four intervals]
    #[arg(long, short = 'c', value_name = "DURATION", value_parser = parse_duration)]
    pub critical: Option<Duration>,

    /// How many recent runs to list
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub limit: usize,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LockArgs {
    /// How long to wait for a running sync [default: [sync] lock_wait, else 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

/// What the sending side asks of the receiving side.
#[derive(Debug, Clone, Default, Args)]
pub struct ReceiveArgs {
    /// The run is a failback (no fence state is asked here)
    #[arg(long)]
    pub reverse: bool,

    /// The generation will not be a point in time (the sender took no snapshot)
    #[arg(long)]
    pub no_snapshot: bool,

    /// Replace a current generation that changed since it was received
    #[arg(long)]
    pub discard_changes: bool,

    /// The sending host, for the journal
    #[arg(long, value_name = "NAME")]
    pub from: Option<String>,

    /// Bound on the receiving side [default: [sync] deadline]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// How often the sender says it is alive: three times as long without a word ends the run [default: a quarter of [sync] io_timeout, 1s to 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub alive_every: Option<Duration>,

    /// Compare the current generation with its manifest before saying
    /// ready (the sender's snapshot, which pauses nothing, is already
    /// being taken)
    #[arg(long, hide = true)]
    pub look_first: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// The run is a failback (no fence marker is asked here)
    #[arg(long)]
    pub reverse: bool,

    /// Take no snapshot (see `push --no-snapshot`)
    #[arg(long)]
    pub no_snapshot: bool,

    /// Bound on the sending side [default: [sync] deadline]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// How often the receiving side says it is alive: three times as long without a word ends the run [default: a quarter of [sync] io_timeout, 1s to 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub alive_every: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct RsyncWrapArgs {
    /// Where to add a line with rsync's CPU time
    #[arg(long, value_name = "FILE")]
    pub usage: PathBuf,

    /// The rsync command and its arguments
    #[arg(last = true, required = true, value_name = "RSYNC")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Args)]
pub struct RelayArgs {
    /// What rsync gives its remote shell: `[-l USER] HOST COMMAND...`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}
