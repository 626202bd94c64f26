//! A real, throwaway OpenSSH server for the SSH tests.
//!
//! A mock server would only test our idea of the protocol; the tools talk to
//! OpenSSH in production, so the tests do too. Everything (host key, user key,
//! authorized_keys, known_hosts, pid file, log) lives in one temporary
//! directory, and the server listens on 127.0.0.1 only.

// Each test binary that includes `support` uses a different part of it.
#![allow(dead_code)]

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use maestro_common::ssh::SshOptions;
use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "ssh-keygen";
/// How long sshd may take to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(10);

pub struct Sshd {
    dir: TempDir,
    child: Child,
    port: u16,
    user: String,
    /// The address it listens on (127.0.0.1 unless started in a netns).
    addr: String,
    /// The network namespace it runs in, if any.
    netns: Option<String>,
}

impl Sshd {
    /// Starts sshd on a free port. Panics (with the server's log) if it does
    /// not come up: a test that silently skipped would prove nothing.
    pub fn start() -> Sshd {
        Sshd::start_with(None, "127.0.0.1")
    }

    /// Starts sshd inside the network namespace `netns` (made by the test),
    /// listening on `addr`, an address of that namespace only. It is
    /// reachable only from namespaces routed to it, never from the host.
    pub fn start_in_netns(netns: &str, addr: &str) -> Sshd {
        Sshd::start_with(Some(netns), addr)
    }

    fn start_with(netns: Option<&str>, addr: &str) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: the SSH tests need a real OpenSSH server. Run the tests \
             with scripts/test.sh, or install it (Debian: apt-get install openssh-server)"
        );
        // The port is picked by binding port 0 and letting it go, so another
        // process may take it in between; a retry makes that harmless.
        let mut last_failure = String::new();
        for _ in 0..3 {
            match Sshd::try_start(netns, addr) {
                Ok(sshd) => return sshd,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("sshd did not start: {last_failure}");
    }

    fn try_start(netns: Option<&str>, addr: &str) -> Result<Sshd, String> {
        let dir = tempfile::Builder::new()
            .prefix("maestro-sshd-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let d = dir.path();
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").map_err(|e| format!("cannot create /run/sshd: {e}"))?;

        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        fs::copy(d.join("user_key.pub"), d.join("authorized_keys"))
            .map_err(|e| format!("cannot write authorized_keys: {e}"))?;

        // A namespace has its own ports: any fixed one is free there.
        let port = if netns.is_some() { 2222 } else { free_port()? };
        let config = format!(
            "Port {port}\n\
             ListenAddress {addr}\n\
             HostKey {host_key}\n\
             PidFile {pid}\n\
             AuthorizedKeysFile {authorized}\n\
             StrictModes no\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\n\
             Subsystem sftp internal-sftp\n\
             LogLevel VERBOSE\n",
            host_key = d.join("host_key").display(),
            pid = d.join("sshd.pid").display(),
            authorized = d.join("authorized_keys").display(),
        );
        let config_path = d.join("sshd_config");
        fs::write(&config_path, config).map_err(|e| format!("cannot write sshd_config: {e}"))?;
        let log = fs::File::create(d.join("sshd.log"))
            .map_err(|e| format!("cannot create sshd.log: {e}"))?;

        let mut command = match netns {
            Some(ns) => {
                // `ip netns exec` execs sshd, so the child is sshd itself.
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, SSHD]);
                c
            }
            None => Command::new(SSHD),
        };
        let child = command
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {SSHD}: {e}"))?;
        let mut sshd = Sshd {
            dir,
            child,
            port,
            user: current_user(),
            addr: addr.to_string(),
            netns: netns.map(str::to_string),
        };
        sshd.wait_until_ready()?;
        fs::write(
            sshd.known_hosts(),
            format!("[{addr}]:{port} {}\n", sshd.host_public_key()),
        )
        .map_err(|e| format!("cannot write known_hosts: {e}"))?;
        Ok(sshd)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("sshd exited with {status}; log:\n{}", self.log()));
            }
            let ready = match self.netns {
                // The host cannot reach into the namespace; sshd says when it listens.
                Some(_) => self.log().contains("Server listening on"),
                None => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
            };
            if ready {
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                return Err(format!(
                    "sshd did not accept connections on port {} within {READY_WITHIN:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The listener's process id (per-connection processes are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The user the tests log in as: the one running them (root in CI).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The temporary directory holding everything; files the tests need on
    /// the "remote" side can go here too.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn host_key_path(&self) -> PathBuf {
        self.dir().join("host_key")
    }

    /// The host's public key as `<type> <base64>`, without the comment.
    pub fn host_public_key(&self) -> String {
        let text = fs::read_to_string(self.dir().join("host_key.pub"))
            .expect("host_key.pub written by ssh-keygen");
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The host key fingerprint as `ssh-keygen -l` prints it ("SHA256:...").
    pub fn host_key_fingerprint(&self) -> String {
        let out = Command::new(SSH_KEYGEN)
            .args(["-l", "-E", "sha256", "-f"])
            .arg(self.dir().join("host_key.pub"))
            .output()
            .expect("ssh-keygen -l runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .nth(1)
            .expect("ssh-keygen -l prints a fingerprint")
            .to_string()
    }

    pub fn user_key_path(&self) -> PathBuf {
        self.dir().join("user_key")
    }

    /// A known_hosts file holding the right `[addr]:port` entry.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// Options that connect as [`Sshd::user`] with the user key and the
    /// right known_hosts.
    pub fn options(&self) -> SshOptions {
        SshOptions {
            host: self.addr.clone(),
            port: self.port,
            user: self.user.clone(),
            identity_file: Some(self.user_key_path()),
            known_hosts: self.known_hosts(),
            accept_new_host_key: false,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// What sshd has logged so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Killing the listener leaves per-connection sshd processes to exit
        // when their client disconnects; they hold no files we need.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates an unencrypted key pair at `path` and `path.pub`.
pub fn keygen(path: &Path) {
    let status = Command::new(SSH_KEYGEN)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "maestro-ha-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs (install openssh-client)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no local address: {e}"))
}

fn current_user() -> String {
    match Command::new("id").arg("-un").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(_) => panic!("`id -un` failed"),
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("`id` is missing"),
        Err(e) => panic!("cannot run `id -un`: {e}"),
    }
}
