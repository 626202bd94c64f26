//! The command line.

use crate::config::FenceLevel;
use clap::{Parser, Subcommand, ValueEnum};
use maestro_common::cli::{self, ConfigCommand, GlobalArgs};
use maestro_common::duration::HumanDuration;

/// Make sure the old primary can never run Maestro or push files again.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-fence",
    version,
    about = "Make sure the old primary can never run Maestro or push files again",
    long_about = "Fences the old primary before Maestro starts on the failover server: stops its Maestro services and keeps them from starting, stops its file synchronization, proves both, and records a fencing epoch. Also the pre-start gate (`check`), the guard on the primary (`guard`), failback (`unfence`) and a fence-agents compatible agent mode for Pacemaker (`agent`, or invoked as `fence_maestro`).",
    after_help = cli::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TimeArgs {
    /// The whole run's deadline [default: fence.deadline, else 60s]
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<HumanDuration>,
    /// Each command's timeout [default: fence.command_timeout, else 15s]
    #[arg(long, value_name = "DURATION")]
    pub command_timeout: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnreachableChoice {
    Refuse,
    Allow,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fence the primary: try the levels in order until one is confirmed (0 fenced at the first level, 1 fenced at a later one, 2 NOT fenced)
    Fence {
        /// A level to try, in order (repeatable) [default: fence.levels, else ssh then isolate]
        #[arg(long = "level", value_enum, value_name = "LEVEL")]
        levels: Vec<FenceLevel>,
        /// Print exactly what would run where; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        time: TimeArgs,
    },
    /// Is the primary fenced now, per level (0 yes, verified; 2 no; 3 cannot tell)
    Status {
        /// A level to ask (repeatable) [default: fence.levels]
        #[arg(long = "level", value_enum, value_name = "LEVEL")]
        levels: Vec<FenceLevel>,
        #[command(flatten)]
        time: TimeArgs,
    },
    /// Pre-start gate on the failover server (ExecStartPre=): OK only after a confirmed fence newer than the last unfence, re-verified live where possible
    Check {
        #[command(flatten)]
        time: TimeArgs,
    },
    /// On the primary, before Maestro starts: exit 2 when fenced (marker present, or the failover server holds a newer epoch)
    Guard {
        /// When the failover server cannot be asked [default: fence.guard_unreachable, else refuse]
        #[arg(long, value_enum, value_name = "CHOICE")]
        unreachable: Option<UnreachableChoice>,
        #[command(flatten)]
        time: TimeArgs,
    },
    /// Failback: re-enable the services on the primary (not started), remove the marker and the isolation, new epoch
    Unfence {
        /// Also resume the file synchronization (timer, cron entries, task, sync key, rsync daemon)
        #[arg(long)]
        resume_sync: bool,
        /// Print exactly what would run where; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        time: TimeArgs,
    },
    /// Print the current fencing epoch (the token)
    Epoch,
    /// Print the fence journal, newest first (-v: every step)
    History {
        /// How many epochs
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Fence-agent mode for Pacemaker (FenceAgentAPI; the same as invoking the binary as fence_maestro)
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        long_about = "Fence-agent mode for Pacemaker, following the FenceAgentAPI of the fence-agents project. The same as invoking the binary through a link named fence_maestro.\n\nWithout arguments, options are read from stdin as key=value lines (# comments, blank lines skipped, the last value wins, unknown keys such as Pacemaker's own ignored): action (alias option), ip (ipaddr), ipport, username (login), identity_file, known_hosts, config_file, state_dir, levels (comma list of ssh, agent, isolate), power_timeout (seconds: the deadline of one run; keep it, plus delay, below Pacemaker's pcmk_off_timeout), delay (seconds to wait before off and reboot), plug (port: the primary's node name), nodename (the node asked for), verbose, quiet. With arguments, the same as flags: -o/--action, -a/--ip, -u/--ipport, -l/--username, -k/--identity-file, --known-hosts, --config-file, --state-dir, --levels, --power-timeout, --delay, -n/--plug, --nodename, -v, -q, -V, -h.\n\nActions and exit codes: off and reboot fence the primary (as `maestro-fence fence`; reboot leaves it fenced) and exit 0 only when the fence is verified, else 1; on unfences (as `maestro-fence unfence`): 0 or 1; status: 0 when the primary is not fenced (on), 2 when it is fenced (off), 1 when it cannot tell; monitor checks the device, never the primary (the config, the key file, the known_hosts entry, the fence agent, the firewall tool of the configured levels): 0 or 1; list prints the primary's node name (plug, else [fence] node_name; without either it fails: give Pacemaker pcmk_host_list); list-status prints name,,ON|OFF|UNKNOWN; metadata (meta-data) and manpage print XML valid against fence-agents' metadata.rng; validate-all runs the resolution of a real fence: 0 valid, else 1. A request for another node than [fence] node_name, an unknown action or flag exits 1. Example: pcs stonith create maestro-primary fence_maestro config_file=/etc/maestro-ha/config.toml pcmk_host_list=maestro1 power_timeout=40 pcmk_off_timeout=90s"
    )]
    Agent {
        /// FenceAgentAPI flags (-o ACTION, -a IP, ...); without any, key=value lines on stdin
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "AGENT-ARGS"
        )]
        args: Vec<String>,
    },
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}
