//! Support code shared by the integration tests. Each test file includes
//! it with `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod drill;
pub mod maestro_fence;
pub mod maestro_logscan;
pub mod maestro_snapshot_verify;
pub mod maestro_sync;
pub mod netns;
pub mod ocf;
pub mod pacemaker;
pub mod plugin_output;
pub mod redirect_lab;
pub mod smoketest_mail;
pub mod sshd;
