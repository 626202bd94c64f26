//! What every maestro-ha tool shares.
//!
//! The tools are small and do one job each; this crate holds the parts that
//! must behave the same in all of them, so that a shell script, a systemd
//! `ExecStartPre=` line or a Nagios check can treat every tool alike:
//!
//! - [`status`] and [`report`]: the report model (checks, findings, perfdata)
//!   and the monitoring-plugin exit codes;
//! - [`render`]: the text, JSON Lines and nagios output formats;
//! - [`cli`]: the shared flags and the `main` harness (exit codes, usage
//!   errors, broken pipes, SIGINT);
//! - [`safe_output`]: secrets masked and control characters escaped in
//!   everything a tool prints;
//! - [`config`], [`secret`], [`state`]: the TOML configuration, secrets from
//!   files or the environment, and where state lives;
//! - [`site`] and [`ini`]: the layout of a Maestro installation and its INI files;
//! - [`fsio`]: bounded reads of regular files and atomic rewrites;
//! - [`catalog`]: the SQLite state catalog;
//! - [`ssh`]: the SSH client every remote step uses;
//! - [`bounded_io`]: a TCP stream bounded in time and bytes per protocol step;
//! - [`net`]: this host's addresses and bounded name lookups;
//! - [`sync_lock`]: the lock of a generations folder that maestro-sync,
//!   snapshot-verify's check, maestro-fence and a Maestro start respect.

pub mod bounded_io;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod duration;
pub mod fsio;
pub mod ini;
pub mod net;
pub mod perfdata;
pub mod platform;
pub mod render;
pub mod report;
pub mod safe_output;
pub mod secret;
pub mod signal;
pub mod site;
#[cfg(feature = "smtp")]
pub mod smtp_session;
pub mod ssh;
pub mod state;
pub mod status;
pub mod sync_lock;

pub use report::{Check, Finding, Report};
pub use status::Status;
