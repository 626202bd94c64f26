//! `rsync-wrap`: rsync's `--rsync-path` on the other side of a transfer.
//! It runs rsync as its child with the same stdin and stdout (the rsync
//! protocol stream; nothing else may be written there), waits for it, and
//! adds a line with rsync's CPU time to a file, so the run can say what
//! the transfer cost on both servers.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Runs `command`; the exit code is rsync's (128 + the signal that ended it).
pub fn run(usage: &Path, command: &[std::ffi::OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("maestro-sync: error: rsync-wrap: no command");
        return ExitCode::from(3);
    };
    let before = crate::proc::Cpu::of_this_process();
    let status = match Command::new(program).args(args).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "maestro-sync: error: rsync-wrap: cannot run {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    let cpu = crate::proc::Cpu::of_this_process().since(&before);
    let line = serde_json::json!({
        "user_s": cpu.user.as_secs_f64(),
        "system_s": cpu.system.as_secs_f64(),
        "code": status.code(),
    });
    // The record is a second thought: rsync's result is what counts.
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(usage)
        .and_then(|mut f| writeln!(f, "{line}"));
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitCode::from(c.clamp(0, 255) as u8),
        (None, Some(s)) => ExitCode::from((128 + s).clamp(0, 255) as u8),
        _ => ExitCode::from(255),
    }
}

/// The CPU seconds the lines of `usage` add up to (0 when there is none).
pub fn cpu_seconds(usage: &Path) -> f64 {
    let text = maestro_common::fsio::read_regular_to_string(usage, maestro_common::fsio::MIB)
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["user_s"].as_f64().unwrap_or(0.0) + v["system_s"].as_f64().unwrap_or(0.0))
        .sum()
}
