//! `check --remote`: the primary's manifest over SSH, either by running
//! `capture` there and reading its output, or by reading a manifest file
//! the primary keeps (SFTP).

use crate::cli::CheckArgs;
use crate::manifest::{self, Manifest};
use maestro_common::cli::Context;
use maestro_common::ssh::SshClient;
use maestro_common::Status;
use std::time::Duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Quote for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Fetch the primary's manifest. An error carries the status it stands
/// for: a wrong host key is CRITICAL, anything else UNKNOWN.
pub fn fetch(ctx: &mut Context, args: &CheckArgs) -> Result<Manifest, (Status, String)> {
    let loaded = ctx.config().map_err(|e| (Status::Unknown, e.to_string()))?;
    let verify =
        crate::config::verify_section(loaded).map_err(|e| (Status::Unknown, e.to_string()))?;
    let config = loaded.config.clone();
    let Some(primary) = config.primary.clone() else {
        return Err((
            Status::Unknown,
            "--remote needs a [primary] section in the configuration".into(),
        ));
    };
    let timeout = args
        .remote_timeout
        .or(verify.remote_timeout.map(|d| d.0))
        .unwrap_or(DEFAULT_TIMEOUT);
    let max_bytes = verify.remote_max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    let opts = primary.ssh_options(args.accept_new_host_key);
    let target = format!("{}@{}:{}", opts.user, opts.host, opts.port);
    let client = SshClient::connect(&opts).map_err(|e| (e.status(), format!("{target}: {e}")))?;
    let remote_manifest = args
        .remote_manifest
        .clone()
        .or(verify.remote_manifest.clone());
    if let Some(path) = remote_manifest {
        let bytes = client
            .read_file(&path, max_bytes, timeout)
            .map_err(|e| (e.status(), format!("{target}: {e}")))?;
        return manifest::read(&format!("{}:{path}", opts.host), &bytes[..])
            .map_err(|e| (Status::Unknown, e.to_string()));
    }
    let program = verify
        .remote_command
        .clone()
        .unwrap_or_else(|| "maestro-snapshot-verify".to_string());
    // The remote side is bounded by `timeout`, since a command abandoned by
    // the SSH client is not killed (see the common SSH module).
    let mut command = format!(
        "timeout {} {program} capture --format json",
        timeout.as_secs().max(1)
    );
    let roots = if verify.remote_roots.is_empty() {
        &args.walk.roots
    } else {
        &verify.remote_roots
    };
    for r in roots {
        command.push_str(&format!(" --root {}", shell_quote(r)));
    }
    for g in &args.walk.excludes {
        command.push_str(&format!(" --exclude {}", shell_quote(g)));
    }
    ctx.info(format!("running on {target}: {command}"));
    let out = client
        .exec(&command, timeout + Duration::from_secs(30))
        .map_err(|e| (e.status(), format!("{target}: {e}")))?;
    // capture exits 0 (OK), 1 (torn files while live), 2 (torn while a
    // snapshot): all three wrote a manifest; 3 and the rest did not.
    let usable = out.exit_signal.is_none() && (0..=2).contains(&out.exit_status);
    if !usable {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = match (out.exit_status, &out.exit_signal) {
            (_, Some(sig)) => format!("killed by SIG{sig}"),
            (124, _) => format!("timed out after {}s", timeout.as_secs()),
            (127, _) => format!("{program} not found on the primary (set verify.remote_command)"),
            (code, _) => format!("exit status {code}"),
        };
        return Err((
            Status::Unknown,
            format!(
                "remote capture on {target} failed ({why}): {}",
                stderr.trim()
            ),
        ));
    }
    manifest::read(&format!("capture on {}", opts.host), &out.stdout[..])
        .map_err(|e| (Status::Unknown, e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        assert_eq!(super::shell_quote("a b"), "'a b'");
        assert_eq!(super::shell_quote("it's"), "'it'\\''s'");
    }
}
