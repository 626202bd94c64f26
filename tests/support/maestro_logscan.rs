//! A real MariaDB server for maestro-logscan's tests: a scratch data folder,
//! a loopback port and a socket in a temporary folder, started as root with
//! `--user=root --skip-grant-tables`, every wait bounded, killed on drop.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const MARIADBD: &str = "/usr/sbin/mariadbd";

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Run a command with a deadline; kill it when the deadline passes.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {limit:?}"));
            }
        }
    }
    child.wait_with_output().map_err(|e| e.to_string())
}

/// Create a data folder with mariadb-install-db.
pub fn install(datadir: &Path) -> Result<(), String> {
    let out = run_bounded(
        Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", datadir.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db"),
        Duration::from_secs(120),
    )?;
    if !out.status.success() {
        return Err(format!(
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

pub struct Mariadb {
    child: Option<Child>,
    pub datadir: PathBuf,
    pub log: PathBuf,
    pub socket: PathBuf,
    pub port: u16,
}

fn count_ready(log: &Path) -> usize {
    std::fs::read(log)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .matches("ready for connections")
                .count()
        })
        .unwrap_or(0)
}

pub fn log_tail(log: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub enum Started {
    Ready(Mariadb),
    /// The server exited before it was ready (what a broken data folder does).
    Exited(Option<i32>),
}

impl Mariadb {
    /// Start a server on `datadir`, logging to `log`; wait (at most 90 s)
    /// until it logs a new "ready for connections" or exits.
    pub fn start(datadir: &Path, log: &Path, socket: &Path) -> Result<Started, String> {
        let before = count_ready(log);
        let port = free_port();
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--pid-file={}", datadir.join("test.pid").display()))
            .arg("--skip-grant-tables")
            .arg("--innodb-buffer-pool-size=32M")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {MARIADBD}: {e}"))?;
        let mut db = Mariadb {
            child: Some(child),
            datadir: datadir.to_path_buf(),
            log: log.to_path_buf(),
            socket: socket.to_path_buf(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if count_ready(log) > before {
                return Ok(Started::Ready(db));
            }
            if let Some(c) = db.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    db.child = None;
                    return Ok(Started::Exited(status.code()));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("MariaDB not ready within 90s:\n{}", log_tail(log)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn client(&self) -> Command {
        let mut c = Command::new("mariadb");
        c.arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("-u")
            .arg("root")
            .arg("--batch")
            .arg("--skip-column-names");
        c
    }

    pub fn sql(&self, sql: &str) -> Result<String, String> {
        self.sql_with(&[], sql)
    }

    /// With extra client arguments, like `--delimiter=//` for a procedure.
    pub fn sql_with(&self, extra: &[&str], sql: &str) -> Result<String, String> {
        let out = run_bounded(
            self.client().args(extra).arg("-e").arg(sql),
            Duration::from_secs(60),
        )?;
        if !out.status.success() {
            return Err(format!("{sql}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A client running `sql` in the background (a writer).
    pub fn spawn_sql(&self, sql: &str) -> Result<Child, String> {
        self.client()
            .arg("-e")
            .arg(sql)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL: the crash a failover looks like.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (at most 60 s) for a clean shutdown.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut c) = self.child.take() else {
            return Ok(());
        };
        // kill(1): the root package has no libc dependency for kill(2).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = c.try_wait() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return Err("MariaDB did not shut down within 60s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Read a child's stderr after it ended (for diagnostics).
pub fn stderr_of(mut c: Child) -> String {
    let _ = c.kill();
    let _ = c.wait();
    let mut s = String::new();
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}
