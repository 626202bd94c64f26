//! Local commands with a hard timeout (fence agents, nft, iptables,
//! systemctl on the failover). A command that outlives its timeout is
//! killed with its whole process group, and the timeout is a failure.

use maestro_common::platform::GroupChild;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished local command produced.
#[derive(Debug, Clone)]
pub struct LocalOutput {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl LocalOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} did not finish within {}ms (killed)", .after.as_millis())]
    Timeout { program: String, after: Duration },
}

/// How long output readers may take after the process ended (a grandchild
/// that escaped the process group could hold the pipes open forever).
const READER_GRACE: Duration = Duration::from_millis(500);

/// Runs `program args`, feeds `input` on stdin, waits at most `timeout`.
pub fn run(
    program: &str,
    args: &[String],
    input: &[u8],
    timeout: Duration,
) -> Result<LocalOutput, RunError> {
    let started = Instant::now();
    // Its own process group (Job Object), so a timeout kills the command's
    // children too.
    let mut group = GroupChild::spawn(
        Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .map_err(|source| RunError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let child = group.child();
    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // A command that does not read its stdin is not an error.
            let _ = s.write_all(&input);
        }
        drop(stdin);
    });
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let deadline = started + timeout;
    let status = loop {
        match group.child().try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if Instant::now() >= deadline {
            group.kill();
            let _ = group.child().wait();
            return Err(RunError::Timeout {
                program: program.to_string(),
                after: timeout,
            });
        }
        thread::sleep(Duration::from_millis(5));
    };
    // A signal leaves no exit code: never read that as success.
    let code = status.and_then(|s| s.code());
    Ok(LocalOutput {
        code,
        stdout: stdout.recv_timeout(READER_GRACE).unwrap_or_default(),
        stderr: stderr.recv_timeout(READER_GRACE).unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // Bounded: a runaway command must not eat the memory.
            let _ = p.by_ref().take(1 << 20).read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Whether `program` is an executable in PATH (or a path to one).
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let is_exec = |p: &std::path::Path| {
        p.metadata()
            .map(|m| maestro_common::platform::is_executable(&m))
            .unwrap_or(false)
    };
    // On Windows a name without an extension is its `.exe` (as
    // CreateProcess finds it), and `\\` separates folders too.
    let names: Vec<String> = if cfg!(windows) && std::path::Path::new(program).extension().is_none()
    {
        vec![program.to_string(), format!("{program}.exe")]
    } else {
        vec![program.to_string()]
    };
    if program.contains('/') || (cfg!(windows) && program.contains('\\')) {
        return names
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| is_exec(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn runs_with_input_and_exit_code() {
        let out = run(
            "sh",
            &["-c".into(), "cat; echo err >&2; exit 3".into()],
            b"hello",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, "hello");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.code, Some(3));
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_command_is_killed_at_its_timeout() {
        let started = Instant::now();
        let e = run(
            "sh",
            &["-c".into(), "sleep 30 & sleep 30".into()],
            b"",
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(e, RunError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[cfg(unix)]
    #[test]
    fn a_killed_command_has_no_exit_code() {
        let out = run(
            "sh",
            &["-c".into(), "kill -9 $$".into()],
            b"",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.code, None);
        assert!(!out.success());
    }

    #[cfg(unix)]
    #[test]
    fn finds_programs() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-xyz").is_none());
    }

    /// On Windows (run under Wine): a command's output and exit code come
    /// back through the Job Object as on Linux.
    #[cfg(windows)]
    #[test]
    fn runs_cmd_with_exit_code_on_windows() {
        let out = run(
            "cmd.exe",
            &["/C".into(), "echo hello& exit /b 3".into()],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout.trim(), "hello");
        assert_eq!(out.code, Some(3));
        assert!(find_program("cmd.exe").is_some());
        // A name without its extension is found as the .exe, a full path too.
        let cmd = find_program("cmd").expect("cmd finds cmd.exe");
        assert!(
            cmd.to_string_lossy().to_lowercase().ends_with("cmd.exe"),
            "{cmd:?}"
        );
        assert!(find_program(&cmd.to_string_lossy()).is_some());
        assert!(find_program("no-such-program-xyz.exe").is_none());
    }
}
