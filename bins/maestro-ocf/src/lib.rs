//! `ocf:maestro-ha:maestro`: the OCF resource agent that lets Pacemaker
//! start LISTSERV Maestro only through maestro-ha's gates.
//!
//! It is a mode of the `maestro-fence` binary, as `fence_maestro` is: the
//! package installs `/usr/lib/ocf/resource.d/maestro-ha/maestro` as a link
//! to it, and a binary invoked under the file name `maestro` runs
//! [`main`]. The agent reads the shared configuration with the same typed
//! parser as every tool, and runs the tools themselves as its gates, each
//! a bounded process whose words go to the log Pacemaker keeps.
//!
//! Modules: [`ocf`] (exit codes, environment, log), [`metadata`],
//! [`settings`] (parameters and configuration), [`services`] (start, stop,
//! status by manager), [`tools`] (the gates), [`record`] (a gated start on
//! this node), [`actions`].

// The agent runs on a Pacemaker node (Linux); its metadata and manual page
// are made everywhere the documents are.
pub mod manpage;
pub mod metadata;

#[cfg(unix)]
pub mod actions;
#[cfg(unix)]
mod agent;
#[cfg(unix)]
pub mod ocf;
#[cfg(unix)]
pub mod record;
#[cfg(unix)]
pub mod services;
#[cfg(unix)]
pub mod settings;
#[cfg(unix)]
pub mod tools;

#[cfg(unix)]
pub use agent::{invoked_as_agent, main, run, AGENT_FILE_NAME};
