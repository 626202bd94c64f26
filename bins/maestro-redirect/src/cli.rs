//! The command line.

use crate::config::RedirectMethod;
use clap::{Parser, Subcommand};
use maestro_common::cli::{self, ConfigCommand, GlobalArgs};
use maestro_common::duration::HumanDuration;

/// Move Maestro's service address or DNS names to this server, prove that
/// traffic arrives here, and find what still points at the old primary.
#[derive(Debug, Parser)]
#[command(
    name = "maestro-redirect",
    version,
    about = "Move Maestro's address or DNS names to this server, prove traffic arrives here, find what still points at the old primary",
    long_about = "The failover's step 2: direct traffic to the failover server. `move` takes the floating service address (added, announced by gratuitous ARP or unsolicited neighbour advertisement, and verified from each witness, which must reach a token served here), updates the DNS (an RFC 2136 update signed with TSIG, then every authoritative server asked until it answers the new address) or runs the admin's own commands, each verified; `undo` reverses them for the failback; `check` finds what still points at the old primary: INI values, the Maestro and tracker names as seen from here and from each witness, the SMTP relay's IP-based rules (a dialogue up to RCPT TO, never DATA), ports a witness cannot reach.",
    after_help = cli::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MoveArgs {
    /// A method to run, in order (repeatable) [default: redirect.methods]
    #[arg(long = "method", value_enum, value_name = "METHOD")]
    pub methods: Vec<RedirectMethod>,
    /// Print every change and where it would be made; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The whole run's deadline [default: redirect.deadline, else 120s]
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<HumanDuration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Move the traffic to this server by each method and verify it (0 verified, 1 with warnings, 2 not redirected, 3 cannot tell)
    Move {
        #[command(flatten)]
        args: MoveArgs,
    },
    /// Failback: reverse each method (release the address, point the names back to the old primary, the undo command)
    Undo {
        #[command(flatten)]
        args: MoveArgs,
    },
    /// What still points at the old primary: INI values, the names from here and from the witnesses, the SMTP relay, ports
    Check {
        /// An address or name of the old server (repeatable) [default: redirect.old_addresses, else the [primary] host and addresses]
        #[arg(long = "old-address", value_name = "ADDRESS")]
        old_addresses: Vec<String>,
        /// The whole run's deadline [default: redirect.deadline, else 120s]
        #[arg(long, value_name = "DURATION")]
        deadline: Option<HumanDuration>,
    },
    /// Work with the shared configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}
