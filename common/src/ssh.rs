//! The SSH client every remote step uses.
//!
//! Built on libssh2 (the `ssh2` crate) rather than on the `ssh` binary so that
//! every step has a hard deadline and every failure comes back typed, with a
//! [`Status`] attached.
//!
//! Safety properties (see "Safety rules" in the design):
//!
//! - The server's host key is checked against a known_hosts file *before* any
//!   authentication, so no credential is ever offered to an impostor. An
//!   unknown key is refused unless the caller passed the explicit
//!   accept-new flag; a changed or `@revoked` key is always refused.
//! - Resolution, TCP connect, handshake and authentication are each bounded by
//!   [`SshOptions::connect_timeout`]; [`SshClient::exec`] and
//!   [`SshClient::read_file`] are bounded by their own timeout.
//!
//! What happens to a remote command on timeout: libssh2 (as bound by ssh2 0.9)
//! cannot send a `signal` channel request, and OpenSSH sends no signal to a
//! command without a pty when its channel or connection closes. So on timeout
//! the channel is closed, which closes the command's stdin, stdout and
//! stderr: a command that reads stdin sees EOF, one that writes gets SIGPIPE,
//! but one that does neither (`sleep 30`) runs on to its natural end. Callers
//! that need the remote side bounded too must bound it there, for example
//! `timeout 10 <command>`.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use ssh2::{BlockDirections, CheckResult, ErrorCode, HashType, KnownHostFileKind, MethodType};
use ssh2::{Channel, Session};

use crate::status::Status;

/// The libssh2 codes this module reacts to (the `ssh2` crate does not
/// re-export libssh2-sys, and a dependency for four constants is not worth it).
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

/// How long tearing down a channel, an SFTP handle or the session may take
/// after the real work is over or has timed out. Short, because by then the
/// caller's deadline has usually passed already.
const TEARDOWN_GRACE: Duration = Duration::from_millis(500);

/// The longest single wait on the socket inside the exec loop. libssh2 may
/// have queued data for one stream while we were reading the other, which
/// `poll` on the socket cannot see; the cap bounds the latency that adds.
/// A known_hosts file of many thousand hosts stays far below this.
const KNOWN_HOSTS_LIMIT: u64 = 16 * crate::fsio::MIB;

const POLL_SLICE: Duration = Duration::from_millis(50);

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// Host name or address, as the known_hosts entries name it.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Private key file (unencrypted). `None` asks the ssh-agent at
    /// `SSH_AUTH_SOCK`; it is an error if neither is available.
    pub identity_file: Option<PathBuf>,
    pub known_hosts: PathBuf,
    /// Append an unknown host key to `known_hosts` instead of refusing it.
    /// A changed key is refused regardless.
    pub accept_new_host_key: bool,
    /// Bounds resolution, TCP connect, handshake and authentication, each.
    pub connect_timeout: Duration,
}

impl SshOptions {
    /// Port 22, the ssh-agent, unknown host keys refused, 10 s connect timeout.
    pub fn new(host: impl Into<String>, user: impl Into<String>, known_hosts: PathBuf) -> Self {
        SshOptions {
            host: host.into(),
            port: 22,
            user: user.into(),
            identity_file: None,
            known_hosts,
            accept_new_host_key: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What a remote command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit code; -1 when the command was killed by a signal (then
    /// `exit_signal` says which), because libssh2 reports 0 in that case and a
    /// killed command must never look like a successful one. libssh2 also
    /// reports 0 if the server closed the channel without any exit status,
    /// which OpenSSH never does; other servers may.
    pub exit_status: i32,
    /// The signal name without "SIG" (e.g. "TERM") if a signal ended it.
    pub exit_signal: Option<String>,
    pub elapsed: Duration,
}

impl ExecOutput {
    /// Exit code 0 and no signal.
    pub fn success(&self) -> bool {
        self.exit_status == 0 && self.exit_signal.is_none()
    }
}

/// What [`SshClient::tcp_exchange`] got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpExchange {
    /// The bytes the peer sent (at most the limit asked for).
    pub received: Vec<u8>,
    /// Whether the peer closed the connection (else the time or the limit ended it).
    pub closed: bool,
    pub elapsed: Duration,
}

/// Everything that can go wrong talking to a remote host.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("invalid SSH target {host:?}: {reason}")]
    InvalidTarget { host: String, reason: String },

    #[error("cannot resolve host {host:?}: {reason}")]
    Resolve { host: String, reason: String },

    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },

    #[error("timed out after {}: {what}", humantime::format_duration(*.after))]
    Timeout { what: String, after: Duration },

    #[error("SSH handshake with {host} port {port} failed: {reason}")]
    Handshake {
        host: String,
        port: u16,
        reason: String,
    },

    #[error(
        "the host key of {host} port {port} ({fingerprint}) is not in {known_hosts}; \
         refusing to connect. Check the fingerprint out of band (on the server: \
         `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`), then add it with \
         `ssh-keyscan -p {port} {host} >> {known_hosts}` or pass the explicit flag \
         to accept a new host key",
        known_hosts = .known_hosts.display()
    )]
    UnknownHostKey {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
    },

    #[error(
        "the host key of {host} port {port} has CHANGED: the server presented {fingerprint}, \
         which is not the key {known_hosts} holds for it. This is either a \
         man-in-the-middle attack or a reinstalled server; refusing to connect (the flag \
         to accept new host keys never accepts a changed one). If the change is known to \
         be legitimate, remove the old entry with `ssh-keygen -R '{pattern}' -f {known_hosts}` \
         and add the new key",
        pattern = known_hosts_pattern(.host, *.port),
        known_hosts = .known_hosts.display()
    )]
    ChangedHostKey {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
    },

    #[error(
        "the host key of {host} port {port} ({fingerprint}) is marked @revoked in \
         {known_hosts}; refusing to connect",
        known_hosts = .known_hosts.display()
    )]
    RevokedHostKey {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
    },

    #[error("known_hosts file {}: {reason}", .path.display())]
    KnownHosts { path: PathBuf, reason: String },

    #[error("SSH authentication as {user:?} failed: {reason}")]
    Auth { user: String, reason: String },

    #[error("SSH channel: cannot {what}: {reason}")]
    Channel { what: String, reason: String },

    #[error("SFTP {path}: {reason}")]
    Sftp { path: String, reason: String },

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl SshError {
    /// The check status this error stands for: a host key that is not the
    /// expected one proves the peer may not be who it claims (CRITICAL);
    /// anything else only means we could not find out (UNKNOWN).
    pub fn status(&self) -> Status {
        match self {
            SshError::UnknownHostKey { .. }
            | SshError::ChangedHostKey { .. }
            | SshError::RevokedHostKey { .. } => Status::Critical,
            _ => Status::Unknown,
        }
    }

    /// Whether the error is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SshError::Timeout { .. })
    }

    /// Whether the failure came before any TCP connection to the server was
    /// made: the name did not resolve, or the connect itself failed (timed
    /// out, no route, refused). Anything later (no SSH banner, a handshake
    /// that breaks, a host key or login refused) means something answered
    /// on the port.
    pub fn before_tcp_connection(&self) -> bool {
        match self {
            SshError::Resolve { .. } | SshError::Connect { .. } => true,
            SshError::Timeout { what, .. } => {
                what.starts_with(TCP_CONNECT) || what.starts_with(RESOLVING)
            }
            _ => false,
        }
    }
}

/// An authenticated SSH connection.
///
/// Methods take `&self` and serialize on an internal lock, because they switch
/// the one libssh2 session between blocking and non-blocking mode.
pub struct SshClient {
    session: Session,
    /// The server's address, as the TCP connection reached it.
    peer: Option<std::net::SocketAddr>,
    /// The socket the session owns, for `poll`; valid as long as `session`.
    fd: crate::platform::RawSocket,
    fingerprint: String,
    op_lock: Mutex<()>,
}

impl std::fmt::Debug for SshClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshClient")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SshClient {
    /// Connects, checks the host key, then authenticates.
    pub fn connect(opts: &SshOptions) -> Result<SshClient, SshError> {
        validate_target(opts)?;
        let target = format!("{}:{}", opts.host, opts.port);
        let timeout = opts.connect_timeout;
        let addrs = resolve(&opts.host, opts.port, timeout)?;
        let stream = connect_any(&addrs, &target, timeout)?;
        let fd = crate::platform::raw_socket(&stream);
        let peer = stream.peer_addr().ok();

        let mut session = Session::new().map_err(|e| SshError::Handshake {
            host: opts.host.clone(),
            port: opts.port,
            reason: format!("cannot create a libssh2 session: {}", e.message()),
        })?;
        session.set_tcp_stream(stream);
        session.set_blocking(true);
        session.set_timeout(millis(timeout));

        let known = KnownHostsFile::load(&opts.known_hosts)?;
        prefer_known_key_types(&session, &known.key_types_for(&opts.host, opts.port));

        session.handshake().map_err(|e| {
            if is_timeout(&e) {
                SshError::Timeout {
                    what: format!("SSH handshake with {target}"),
                    after: timeout,
                }
            } else {
                SshError::Handshake {
                    host: opts.host.clone(),
                    port: opts.port,
                    reason: e.message().to_string(),
                }
            }
        })?;

        let fingerprint = verify_host_key(&session, opts, &known)?;
        authenticate(&session, opts)?;

        Ok(SshClient {
            session,
            peer,
            fd,
            fingerprint,
            op_lock: Mutex::new(()),
        })
    }

    /// The server's address, as this connection reached it.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// The server's host key fingerprint as OpenSSH prints it ("SHA256:...").
    pub fn host_key_fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Runs `command` with stdin closed at once.
    pub fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
        self.exec_with_input(command, &[], timeout)
    }

    /// [`SshClient::exec`] for a command whose output is small and whose
    /// server is not trusted to keep it so (a witness's probe report): more
    /// than `max_output` bytes of stdout and stderr together is an error,
    /// and the channel is closed at once.
    pub fn exec_limited(
        &self,
        command: &str,
        timeout: Duration,
        max_output: usize,
    ) -> Result<ExecOutput, SshError> {
        self.exec_bounded(command, &[], timeout, max_output)
    }

    /// Runs `command`, feeds it `input` on stdin, then closes stdin.
    ///
    /// Returns [`SshError::Timeout`] if the command has not finished within
    /// `timeout` (plus [`TEARDOWN_GRACE`] at most); see the module docs for
    /// what then happens to the remote command.
    pub fn exec_with_input(
        &self,
        command: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        self.exec_bounded(command, input, timeout, usize::MAX)
    }

    fn exec_bounded(
        &self,
        command: &str,
        input: &[u8],
        timeout: Duration,
        max_output: usize,
    ) -> Result<ExecOutput, SshError> {
        let _op = self.lock();
        let start = Instant::now();
        let deadline = start + timeout;
        let timed_out = || SshError::Timeout {
            what: format!("remote command {:?}", abbreviate(command)),
            after: timeout,
        };

        // Non-blocking, so that one loop can feed stdin and drain stdout and
        // stderr together (a blocking read on one stream would stall while
        // the other fills its window) and give up exactly at the deadline.
        self.session.set_blocking(false);
        let mut channel = match self.retry(deadline, || self.session.channel_session()) {
            Ok(channel) => channel,
            Err(e) => {
                self.back_to_blocking();
                return Err(e.into_error("open a session channel", timed_out));
            }
        };
        let result = self.drive(&mut channel, command, input, deadline, start, max_output);
        if result.is_err() {
            // Best effort: ask the server to close the channel now; the
            // blocking free below waits for its answer at most the grace.
            let _ = channel.close();
        }
        self.back_to_blocking();
        drop(channel);
        result.map_err(|e| e.into_error(&format!("run {:?}", abbreviate(command)), timed_out))
    }

    /// Reads a whole remote file over SFTP. A file larger than `max_bytes` is
    /// an error, never silently truncated.
    pub fn read_file(
        &self,
        remote_path: &str,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, SshError> {
        let _op = self.lock();
        let deadline = Instant::now() + timeout;
        let timed_out = || SshError::Timeout {
            what: format!("SFTP read of {remote_path}"),
            after: timeout,
        };
        let sftp_err = |e: ssh2::Error| {
            if is_timeout(&e) {
                timed_out()
            } else {
                SshError::Sftp {
                    path: remote_path.to_string(),
                    reason: sftp_reason(&e),
                }
            }
        };
        // SFTP is request/response with no second stream to drain, so
        // blocking calls each bounded by the time left are enough.
        self.session.set_blocking(true);
        let arm = || -> Result<(), SshError> {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.session.set_timeout(millis(left));
            Ok(())
        };

        arm()?;
        let sftp = self.session.sftp().map_err(sftp_err)?;
        let result = (|| {
            arm()?;
            let mut file = sftp.open(Path::new(remote_path)).map_err(sftp_err)?;
            arm()?;
            let stat = file.stat().map_err(sftp_err)?;
            if stat.is_dir() {
                return Err(SshError::Sftp {
                    path: remote_path.to_string(),
                    reason: "is a directory, not a file".to_string(),
                });
            }
            if let Some(size) = stat.size {
                if size > max_bytes {
                    return Err(too_large(remote_path, size, max_bytes));
                }
            }
            let mut data = Vec::new();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                arm()?;
                let n = match file.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(timed_out()),
                    Err(e) => {
                        return Err(SshError::Sftp {
                            path: remote_path.to_string(),
                            reason: e.to_string(),
                        })
                    }
                };
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                // The file may grow between stat and read.
                if data.len() as u64 > max_bytes {
                    return Err(too_large(remote_path, data.len() as u64, max_bytes));
                }
            }
            // Closing the handle is one more round trip; give it the grace
            // rather than whatever was left of the deadline.
            self.session.set_timeout(millis(TEARDOWN_GRACE));
            Ok(data)
        })();
        self.session.set_timeout(millis(TEARDOWN_GRACE));
        drop(sftp);
        result
    }

    /// Has the server open a TCP connection to `host:port` (an SSH
    /// `direct-tcpip` channel, what `ssh -W` uses), sends `send`, and reads
    /// what comes back until the peer closes, `max_bytes` arrived or
    /// `timeout` is over. The connection starts at the server, so this
    /// proves what a client there reaches, with no program run there (the
    /// server must allow TCP forwarding: OpenSSH's `AllowTcpForwarding`,
    /// yes by default).
    ///
    /// OpenSSH confirms the channel only once its connect succeeded, so an
    /// `Ok` means the connection was made; a refused or unreachable target is
    /// [`SshError::Channel`] with the server's reason, a target that never
    /// answers is [`SshError::Timeout`]. A channel or session that breaks
    /// while reading is [`SshError::Channel`] too (what was read is lost):
    /// it says nothing about the peer.
    pub fn tcp_exchange(
        &self,
        host: &str,
        port: u16,
        send: &[u8],
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<TcpExchange, SshError> {
        let _op = self.lock();
        let start = Instant::now();
        let deadline = start + timeout;
        let target = format!("{host}:{port}");
        let timed_out = || SshError::Timeout {
            what: format!("a TCP connection to {target} through the SSH server"),
            after: timeout,
        };
        self.session.set_blocking(false);
        let mut channel = match self.retry(deadline, || {
            self.session.channel_direct_tcpip(host, port, None)
        }) {
            Ok(channel) => channel,
            Err(e) => {
                self.back_to_blocking();
                return Err(e.into_error(&format!("connect to {target}"), timed_out));
            }
        };
        let mut received = Vec::new();
        let mut fed = 0usize;
        let mut closed = false;
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline && received.len() < max_bytes {
            let mut progressed = false;
            if fed < send.len() {
                match channel.write(&send[fed..]) {
                    Ok(n) => {
                        fed += n;
                        progressed |= n > 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer may close before it read what we sent.
                    Err(_) => fed = send.len(),
                }
            }
            match channel.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    let room = max_bytes - received.len();
                    received.extend_from_slice(&buf[..n.min(room)]);
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The channel or the session broke: no statement about the
                // peer can be made, so it is no "the peer closed".
                Err(e) => {
                    let _ = channel.close();
                    self.back_to_blocking();
                    drop(channel);
                    return Err(SshError::Channel {
                        what: format!("read from {target}"),
                        reason: e.to_string(),
                    });
                }
            }
            if channel.eof() {
                closed = true;
                break;
            }
            if !progressed {
                self.wait_socket(deadline);
            }
        }
        let _ = channel.close();
        self.back_to_blocking();
        drop(channel);
        Ok(TcpExchange {
            received,
            closed,
            elapsed: start.elapsed(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded data is (), so a panic elsewhere cannot have left it
        // inconsistent.
        self.op_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocking mode with a short timeout, so that the libssh2 calls in the
    /// `Drop` impls of ssh2's types finish within the grace.
    fn back_to_blocking(&self) {
        self.session.set_timeout(millis(TEARDOWN_GRACE));
        self.session.set_blocking(true);
    }

    /// Repeats a non-blocking libssh2 call until it stops saying "would
    /// block", waiting on the socket in between, at most until `deadline`.
    fn retry<T>(
        &self,
        deadline: Instant,
        mut op: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, DriveError> {
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if is_eagain(&e) => {
                    if Instant::now() >= deadline {
                        return Err(DriveError::Timeout);
                    }
                    self.wait_socket(deadline);
                }
                Err(e) => return Err(DriveError::Ssh(e.message().to_string())),
            }
        }
    }

    /// Waits until the socket is ready in the direction libssh2 needs, the
    /// deadline passes, or [`POLL_SLICE`] is over.
    fn wait_socket(&self, deadline: Instant) {
        let (read, write) = match self.session.block_directions() {
            BlockDirections::Outbound => (false, true),
            BlockDirections::Both => (true, true),
            BlockDirections::Inbound | BlockDirections::None => (true, false),
        };
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(POLL_SLICE);
        // The socket stays open while `session` lives. The result does not
        // matter: the caller retries and checks the time.
        crate::platform::wait_socket(self.fd, read, write, wait);
    }

    fn drive(
        &self,
        channel: &mut Channel,
        command: &str,
        input: &[u8],
        deadline: Instant,
        start: Instant,
        max_output: usize,
    ) -> Result<ExecOutput, DriveError> {
        self.retry(deadline, || channel.exec(command))?;

        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut fed = 0usize;
        let mut eof_sent = false;
        let mut stdout_open = true;
        let mut stderr_open = true;
        let mut buf = vec![0u8; 32 * 1024];

        while stdout_open || stderr_open {
            let mut progressed = false;

            if fed < input.len() {
                match channel.write(&input[fed..]) {
                    Ok(n) => {
                        fed += n;
                        progressed |= n > 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The command may exit without reading all its input;
                    // its output and status still count.
                    Err(_) => fed = input.len(),
                }
            }
            if fed >= input.len() && !eof_sent {
                match channel.send_eof() {
                    Ok(()) => {
                        eof_sent = true;
                        progressed = true;
                    }
                    Err(e) if is_eagain(&e) => {}
                    Err(_) => eof_sent = true,
                }
            }

            if stdout_open {
                let (p, open) = drain(&mut *channel, &mut buf, &mut stdout, max_output)?;
                progressed |= p;
                stdout_open = open;
            }
            if stderr_open {
                let (p, open) = drain(&mut channel.stderr(), &mut buf, &mut stderr, max_output)?;
                progressed |= p;
                stderr_open = open;
            }
            if stdout.len().saturating_add(stderr.len()) > max_output {
                return Err(DriveError::Ssh(format!(
                    "the command wrote more than {} of output (refused: it never writes that much)",
                    crate::fsio::size_text(max_output as u64)
                )));
            }

            if !progressed {
                if Instant::now() >= deadline {
                    return Err(DriveError::Timeout);
                }
                self.wait_socket(deadline);
            }
        }

        // The exit status travels before the close message; waiting for the
        // close makes sure it has arrived.
        self.retry(deadline, || channel.wait_close())?;
        let exit_signal = channel
            .exit_signal()
            .ok()
            .and_then(|s| s.exit_signal)
            .filter(|s| !s.is_empty());
        let exit_status = match exit_signal {
            Some(_) => -1,
            None => channel
                .exit_status()
                .map_err(|e| DriveError::Ssh(e.message().to_string()))?,
        };
        Ok(ExecOutput {
            stdout,
            stderr,
            exit_status,
            exit_signal,
            elapsed: start.elapsed(),
        })
    }
}

impl Drop for SshClient {
    fn drop(&mut self) {
        // Tell the server we are going, so sshd logs a clean disconnect
        // instead of a reset; bounded by the grace.
        self.back_to_blocking();
        let _ = self.session.disconnect(None, "maestro-ha: done", None);
    }
}

/// Why a non-blocking exchange stopped, before it is given context.
enum DriveError {
    Timeout,
    Ssh(String),
}

impl DriveError {
    fn into_error(self, what: &str, timed_out: impl FnOnce() -> SshError) -> SshError {
        match self {
            DriveError::Timeout => timed_out(),
            DriveError::Ssh(reason) => SshError::Channel {
                what: what.to_string(),
                reason,
            },
        }
    }
}

/// Reads what a stream has now, stopping once `into` holds more than
/// `limit` bytes (a sender faster than us would keep this loop going).
/// Returns (got data, still open).
fn drain(
    stream: &mut impl Read,
    buf: &mut [u8],
    into: &mut Vec<u8>,
    limit: usize,
) -> Result<(bool, bool), DriveError> {
    let mut progressed = false;
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok((progressed, false)),
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                progressed = true;
                if into.len() > limit {
                    return Ok((progressed, true));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((progressed, true)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DriveError::Ssh(e.to_string())),
        }
    }
}

fn validate_target(opts: &SshOptions) -> Result<(), SshError> {
    let invalid = |reason: &str| SshError::InvalidTarget {
        host: opts.host.clone(),
        reason: reason.to_string(),
    };
    if opts.host.is_empty() {
        return Err(invalid("the host name is empty"));
    }
    // libssh2 takes C strings; a NUL would make ssh2 panic or truncate.
    if opts.host.contains('\0') || opts.user.contains('\0') {
        return Err(invalid("the host or user name contains a NUL byte"));
    }
    if opts.host.chars().any(char::is_whitespace) {
        return Err(invalid("the host name contains white space"));
    }
    if opts.user.is_empty() {
        return Err(invalid("the user name is empty"));
    }
    if opts.port == 0 {
        return Err(invalid("port 0 is not a port one can connect to"));
    }
    if opts.connect_timeout.is_zero() {
        return Err(invalid("the connect timeout is zero"));
    }
    Ok(())
}

/// Resolves in a helper thread because `getaddrinfo` has no timeout of its
/// own; on timeout the thread is left to finish on its own.
/// How the timeouts before a TCP connection begin (see
/// [`SshError::before_tcp_connection`]).
const RESOLVING: &str = "resolving host ";
const TCP_CONNECT: &str = "TCP connect to ";

fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, SshError> {
    let (tx, rx) = mpsc::channel();
    let query = (host.to_string(), port);
    let spawned = thread::Builder::new()
        .name("ssh-resolve".to_string())
        .spawn(move || {
            let _ = tx.send(query.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
        });
    if let Err(e) = spawned {
        return Err(SshError::Resolve {
            host: host.to_string(),
            reason: format!("cannot start the resolver thread: {e}"),
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(SshError::Resolve {
            host: host.to_string(),
            reason: "the name has no addresses".to_string(),
        }),
        Ok(Err(e)) => Err(SshError::Resolve {
            host: host.to_string(),
            reason: e.to_string(),
        }),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(SshError::Timeout {
            what: format!("{RESOLVING}{host:?}"),
            after: timeout,
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(SshError::Resolve {
            host: host.to_string(),
            reason: "the resolver thread died".to_string(),
        }),
    }
}

/// Tries each address in turn, as OpenSSH does; reports the last failure.
fn connect_any(
    addrs: &[SocketAddr],
    target: &str,
    timeout: Duration,
) -> Result<TcpStream, SshError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                // Small request/response packets; Nagle only adds latency.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((*addr, e)),
        }
    }
    match last {
        Some((addr, e)) if e.kind() == io::ErrorKind::TimedOut => Err(SshError::Timeout {
            what: format!("{TCP_CONNECT}{target} ({addr})"),
            after: timeout,
        }),
        Some((addr, source)) => Err(SshError::Connect {
            addr: format!("{target} ({addr})"),
            source,
        }),
        None => Err(SshError::Resolve {
            host: target.to_string(),
            reason: "the name has no addresses".to_string(),
        }),
    }
}

/// Checks the server's key; returns its fingerprint.
fn verify_host_key(
    session: &Session,
    opts: &SshOptions,
    known: &KnownHostsFile,
) -> Result<String, SshError> {
    let handshake_err = |reason: &str| SshError::Handshake {
        host: opts.host.clone(),
        port: opts.port,
        reason: reason.to_string(),
    };
    let fingerprint = session
        .host_key_hash(HashType::Sha256)
        .map(fingerprint_sha256)
        .ok_or_else(|| handshake_err("the server's host key hash is not available"))?;
    let (key, _) = session
        .host_key()
        .ok_or_else(|| handshake_err("the server sent no host key"))?;
    let key_b64 = STANDARD.encode(key);

    let unknown = || SshError::UnknownHostKey {
        host: opts.host.clone(),
        port: opts.port,
        fingerprint: fingerprint.clone(),
        known_hosts: opts.known_hosts.clone(),
    };
    if known.revoked.contains(&key_b64) {
        return Err(SshError::RevokedHostKey {
            host: opts.host.clone(),
            port: opts.port,
            fingerprint,
            known_hosts: opts.known_hosts.clone(),
        });
    }

    let known_hosts_err = |reason: String| SshError::KnownHosts {
        path: opts.known_hosts.clone(),
        reason,
    };
    let mut kh = session
        .known_hosts()
        .map_err(|e| known_hosts_err(e.message().to_string()))?;
    for line in &known.entries {
        // A line libssh2 cannot parse (a key type it lacks) cannot vouch for
        // this key either, so skipping it can only make the answer stricter.
        let _ = kh.read_str(line, KnownHostFileKind::OpenSSH);
    }
    match kh.check_port(&opts.host, opts.port, key) {
        CheckResult::Match => Ok(fingerprint),
        CheckResult::Mismatch => Err(SshError::ChangedHostKey {
            host: opts.host.clone(),
            port: opts.port,
            fingerprint,
            known_hosts: opts.known_hosts.clone(),
        }),
        CheckResult::NotFound if opts.accept_new_host_key => {
            let line = known_hosts_line(&known_hosts_pattern(&opts.host, opts.port), key)
                .ok_or_else(|| handshake_err("the server's host key blob is malformed"))?;
            append_known_host(&opts.known_hosts, &line)?;
            Ok(fingerprint)
        }
        CheckResult::NotFound => Err(unknown()),
        CheckResult::Failure => Err(known_hosts_err(
            "libssh2 failed to check the host key against it".to_string(),
        )),
    }
}

/// Appends one line, keeping every other byte of the file as it was
/// (libssh2's own writer would rewrite the file from what it understood,
/// dropping comments, markers and key types it does not know).
fn append_known_host(path: &Path, line: &str) -> Result<(), SshError> {
    let err = |what: &str, e: io::Error| SshError::KnownHosts {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| err("cannot create its directory", e))?;
    }
    let needs_newline = match crate::fsio::read_regular(path, KNOWN_HOSTS_LIMIT) {
        Ok(bytes) => bytes.last().is_some_and(|b| *b != b'\n'),
        Err(e) if e.is_not_found() => false,
        Err(e) => {
            return Err(SshError::KnownHosts {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let mut file =
        crate::platform::create_mode(fs::OpenOptions::new().create(true).append(true), 0o644)
            .open(path)
            .map_err(|e| err("cannot open it for appending", e))?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| err("cannot append the new host key", e))
}

fn authenticate(session: &Session, opts: &SshOptions) -> Result<(), SshError> {
    let auth_err = |reason: String| SshError::Auth {
        user: opts.user.clone(),
        reason,
    };
    let timed_out = || SshError::Timeout {
        what: format!(
            "SSH authentication as {:?} at {}:{}",
            opts.user, opts.host, opts.port
        ),
        after: opts.connect_timeout,
    };
    match &opts.identity_file {
        Some(path) => {
            if !path.is_file() {
                return Err(auth_err(format!(
                    "identity file {} does not exist or is not a file",
                    path.display()
                )));
            }
            session
                .userauth_pubkey_file(&opts.user, None, path, None)
                .map_err(|e| match e.code() {
                    _ if is_timeout(&e) => timed_out(),
                    ErrorCode::Session(LIBSSH2_ERROR_FILE) => auth_err(format!(
                        "cannot use the private key {} (is it encrypted? only unencrypted \
                         keys are supported): {}",
                        path.display(),
                        e.message()
                    )),
                    ErrorCode::Session(
                        LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED,
                    ) => auth_err(format!(
                        "the server refused the key {} (is its public key in the user's \
                         authorized_keys?)",
                        path.display()
                    )),
                    _ => auth_err(format!("with the key {}: {}", path.display(), e.message())),
                })?;
        }
        None => authenticate_with_agent(session, &opts.user).map_err(|e| match e {
            AgentFailure::Timeout => timed_out(),
            AgentFailure::Other(reason) => auth_err(reason),
        })?,
    }
    if session.authenticated() {
        Ok(())
    } else {
        Err(auth_err(
            "the server did not confirm the authentication".to_string(),
        ))
    }
}

enum AgentFailure {
    Timeout,
    Other(String),
}

fn authenticate_with_agent(session: &Session, user: &str) -> Result<(), AgentFailure> {
    if std::env::var_os("SSH_AUTH_SOCK").is_none() {
        return Err(AgentFailure::Other(
            "no identity file is configured and SSH_AUTH_SOCK is not set, so there is \
             no ssh-agent to ask"
                .to_string(),
        ));
    }
    let agent_err = |what: &str, e: ssh2::Error| {
        if is_timeout(&e) {
            AgentFailure::Timeout
        } else {
            AgentFailure::Other(format!("ssh-agent: {what}: {}", e.message()))
        }
    };
    let mut agent = session.agent().map_err(|e| agent_err("cannot start", e))?;
    agent
        .connect()
        .map_err(|e| agent_err("cannot connect", e))?;
    agent
        .list_identities()
        .map_err(|e| agent_err("cannot list keys", e))?;
    let identities = agent
        .identities()
        .map_err(|e| agent_err("cannot list keys", e))?;
    if identities.is_empty() {
        let _ = agent.disconnect();
        return Err(AgentFailure::Other(
            "the ssh-agent holds no keys".to_string(),
        ));
    }
    // Unlike ssh2's userauth_agent, try every key, as OpenSSH does.
    let mut result = Err(AgentFailure::Other(format!(
        "the server accepted none of the {} keys in the ssh-agent",
        identities.len()
    )));
    for identity in &identities {
        match agent.userauth(user, identity) {
            Ok(()) => {
                result = Ok(());
                break;
            }
            Err(e) if is_timeout(&e) => {
                result = Err(AgentFailure::Timeout);
                break;
            }
            Err(_) => {}
        }
    }
    let _ = agent.disconnect();
    result
}

/// Makes libssh2 negotiate a host key type known_hosts has for this host
/// first, as OpenSSH does. Without this, libssh2 picks its own favourite
/// (ECDSA) even when known_hosts holds only the server's Ed25519 key, and the
/// check then reports a changed key. Best effort: on failure the default
/// order stays, which is only stricter.
fn prefer_known_key_types(session: &Session, known_types: &[String]) {
    if known_types.is_empty() {
        return;
    }
    let Ok(supported) = session.supported_algs(MethodType::HostKey) else {
        return;
    };
    if let Some(pref) = host_key_preference(known_types, &supported) {
        let _ = session.method_pref(MethodType::HostKey, &pref);
    }
}

/// The host key algorithm list with the algorithms for `known_types` first,
/// in libssh2's order, then the rest; `None` if nothing would change.
fn host_key_preference(known_types: &[String], supported: &[&str]) -> Option<String> {
    let algs_of = |key_type: &str| -> Vec<String> {
        match key_type {
            // One RSA key serves three signature algorithms.
            "ssh-rsa" => vec![
                "rsa-sha2-512".to_string(),
                "rsa-sha2-256".to_string(),
                "ssh-rsa".to_string(),
            ],
            other => vec![other.to_string()],
        }
    };
    let wanted: Vec<String> = known_types.iter().flat_map(|t| algs_of(t)).collect();
    let (first, rest): (Vec<&str>, Vec<&str>) = supported
        .iter()
        .copied()
        .partition(|alg| wanted.iter().any(|w| w == alg));
    if first.is_empty() {
        return None;
    }
    Some(first.into_iter().chain(rest).collect::<Vec<_>>().join(","))
}

/// A known_hosts file as far as this module needs it.
#[derive(Debug, Default)]
struct KnownHostsFile {
    /// Plain `host keytype key` lines, for libssh2.
    entries: Vec<String>,
    /// The base64 keys of `@revoked` lines (whatever host they name: a
    /// revoked key is not to be trusted anywhere).
    revoked: Vec<String>,
}

impl KnownHostsFile {
    /// A missing file is an empty one: every key is then unknown.
    fn load(path: &Path) -> Result<KnownHostsFile, SshError> {
        match crate::fsio::read_regular(path, KNOWN_HOSTS_LIMIT) {
            Ok(bytes) => Ok(KnownHostsFile::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.is_not_found() => Ok(KnownHostsFile::default()),
            Err(e) => Err(SshError::KnownHosts {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }

    /// Splits the lines here rather than letting libssh2 read the file,
    /// because libssh2 stops at the first line it cannot parse (a
    /// `@cert-authority` line, an `sk-` key) and silently ignores the rest.
    fn parse(text: &str) -> KnownHostsFile {
        let mut file = KnownHostsFile::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.first() {
                Some(&"@revoked") => {
                    if let Some(key) = fields.get(3) {
                        file.revoked.push((*key).to_string());
                    }
                }
                // Host certificates are not supported; such a line vouches
                // for nothing here.
                Some(marker) if marker.starts_with('@') => {}
                Some(_) => file.entries.push(line.to_string()),
                None => {}
            }
        }
        file
    }

    /// Key types recorded for the host under a plain (unhashed) name, in the
    /// names libssh2 checks: `[host]:port`, then `host`. Hashed names
    /// (`|1|...`) would need HMAC-SHA1 here; for them libssh2's default order
    /// stays, which can only make a check stricter, never looser.
    fn key_types_for(&self, host: &str, port: u16) -> Vec<String> {
        let bracketed = format!("[{host}]:{port}");
        let mut types = Vec::new();
        for line in &self.entries {
            let mut fields = line.split_whitespace();
            let (Some(patterns), Some(key_type)) = (fields.next(), fields.next()) else {
                continue;
            };
            let names_host = patterns.split(',').any(|p| p == bracketed || p == host);
            if names_host && !types.iter().any(|t| t == key_type) {
                types.push(key_type.to_string());
            }
        }
        types
    }
}

/// How known_hosts names a host: the bare name for port 22, else
/// `[host]:port` (OpenSSH's convention, which libssh2 checks too).
pub fn known_hosts_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Whether `known_hosts` holds a usable key for `host` port `port`, under a
/// plain or a hashed name, as a connect would look it up, without
/// connecting: a fence agent's `monitor` proves the device can act, never
/// by asking the target. A missing file holds nothing; a revoked key does
/// not count.
pub fn known_hosts_has(known_hosts: &Path, host: &str, port: u16) -> Result<bool, SshError> {
    let known = KnownHostsFile::load(known_hosts)?;
    let err = |reason: String| SshError::KnownHosts {
        path: known_hosts.to_path_buf(),
        reason,
    };
    let session = Session::new().map_err(|e| err(e.message().to_string()))?;
    let mut kh = session
        .known_hosts()
        .map_err(|e| err(e.message().to_string()))?;
    for line in &known.entries {
        let _ = kh.read_str(line, KnownHostFileKind::OpenSSH);
    }
    // libssh2 matches names (hashed ones too) only against a key: ask with
    // each key the file holds.
    for line in &known.entries {
        let Some(b64) = line.split_whitespace().nth(2) else {
            continue;
        };
        if known.revoked.iter().any(|r| r == b64) {
            continue;
        }
        let Ok(key) = STANDARD.decode(b64) else {
            continue;
        };
        if matches!(kh.check_port(host, port, &key), CheckResult::Match) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A SHA-256 digest as OpenSSH prints a fingerprint.
pub fn fingerprint_sha256(digest: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// The key type an SSH public key blob starts with (RFC 4253 section 6.6:
/// a length-prefixed string).
fn key_type_of_blob(blob: &[u8]) -> Option<&str> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    let name = std::str::from_utf8(name).ok()?;
    let printable = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic());
    printable.then_some(name)
}

/// A known_hosts line for `blob` under `pattern`.
fn known_hosts_line(pattern: &str, blob: &[u8]) -> Option<String> {
    let key_type = key_type_of_blob(blob)?;
    Some(format!("{pattern} {key_type} {}", STANDARD.encode(blob)))
}

fn is_eagain(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

/// A timeout in the milliseconds libssh2 takes; never 0, which would mean
/// "no timeout" to it.
fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

fn sftp_reason(e: &ssh2::Error) -> String {
    // SFTP status codes from draft-ietf-secsh-filexfer-02, section 7.
    match e.code() {
        ErrorCode::SFTP(2) => "no such file".to_string(),
        ErrorCode::SFTP(3) => "permission denied".to_string(),
        _ => e.message().to_string(),
    }
}

fn too_large(path: &str, size: u64, max: u64) -> SshError {
    SshError::Sftp {
        path: path.to_string(),
        reason: format!("the file has {size} bytes or more, more than the limit of {max}"),
    }
}

/// A command for an error message: its first line, at most 80 characters.
fn abbreviate(command: &str) -> String {
    let first = command.lines().next().unwrap_or("");
    let mut short: String = first.chars().take(80).collect();
    if short.len() < command.len() {
        let _ = write!(short, "...");
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_before_a_tcp_connection_say_so() {
        let refused = connect_any(
            &["127.0.0.1:1".parse().unwrap()],
            "127.0.0.1:1",
            Duration::from_secs(2),
        )
        .unwrap_err();
        assert!(refused.before_tcp_connection(), "{refused}");
        let timeout = |what: &str| SshError::Timeout {
            what: what.to_string(),
            after: Duration::from_secs(1),
        };
        assert!(timeout(&format!("{TCP_CONNECT}h:22 (198.18.0.2:22)")).before_tcp_connection());
        assert!(timeout(&format!("{RESOLVING}\"h\"")).before_tcp_connection());
        // Connected, then no banner: something answers on the port.
        assert!(!timeout("SSH handshake with h:22").before_tcp_connection());
        assert!(!SshError::Handshake {
            host: "h".into(),
            port: 22,
            reason: "Failed getting banner".into()
        }
        .before_tcp_connection());
    }

    #[test]
    fn fingerprint_is_unpadded_base64_with_prefix() {
        assert_eq!(
            fingerprint_sha256(&[0u8; 32]),
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        // 32 bytes always leave one padding character in base64.
        let fp = fingerprint_sha256(&[0xffu8; 32]);
        assert!(!fp.ends_with('='), "{fp}");
        assert_eq!(fp.len(), "SHA256:".len() + 43);
    }

    #[test]
    fn ssh_host_key_pattern_brackets_non_default_ports() {
        assert_eq!(
            known_hosts_pattern("db1.example.org", 22),
            "db1.example.org"
        );
        assert_eq!(known_hosts_pattern("127.0.0.1", 2222), "[127.0.0.1]:2222");
        assert_eq!(known_hosts_pattern("::1", 2200), "[::1]:2200");
    }

    #[test]
    fn key_type_comes_from_the_blob() {
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        blob.extend_from_slice(&[7u8; 32]);
        assert_eq!(key_type_of_blob(&blob), Some("ssh-ed25519"));
        let line = known_hosts_line("[h]:2", &blob).unwrap();
        assert!(
            line.starts_with("[h]:2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
            "{line}"
        );

        assert_eq!(key_type_of_blob(&[]), None);
        assert_eq!(key_type_of_blob(&[0, 0, 0, 200, b'x']), None);
        assert_eq!(key_type_of_blob(&[0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(key_type_of_blob(&[0, 0, 0, 0]), None);
    }

    #[test]
    fn known_hosts_parse_sorts_markers_and_keeps_entries() {
        let text = "\
# comment
[127.0.0.1]:2222 ssh-ed25519 AAAAkey1
@cert-authority *.example.org ssh-ed25519 AAAAca
@revoked * ssh-rsa AAAArevoked

db1,10.0.0.1 ecdsa-sha2-nistp256 AAAAkey2 comment here
";
        let kh = KnownHostsFile::parse(text);
        assert_eq!(kh.entries.len(), 2);
        assert_eq!(kh.revoked, vec!["AAAArevoked".to_string()]);
        assert_eq!(kh.key_types_for("127.0.0.1", 2222), vec!["ssh-ed25519"]);
        assert_eq!(
            kh.key_types_for("10.0.0.1", 22),
            vec!["ecdsa-sha2-nistp256"]
        );
        assert!(kh.key_types_for("127.0.0.1", 22).is_empty());
    }

    #[test]
    fn host_key_preference_puts_known_types_first() {
        let supported = [
            "ecdsa-sha2-nistp256",
            "ssh-ed25519",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
        ];
        assert_eq!(
            host_key_preference(&["ssh-ed25519".to_string()], &supported).as_deref(),
            Some("ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa")
        );
        assert_eq!(
            host_key_preference(&["ssh-rsa".to_string()], &supported).as_deref(),
            Some("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519")
        );
        assert_eq!(
            host_key_preference(&["sk-ssh-ed25519@openssh.com".to_string()], &supported),
            None
        );
    }

    #[test]
    fn host_key_errors_are_critical_others_unknown() {
        let fp = "SHA256:x".to_string();
        let e = SshError::UnknownHostKey {
            host: "h".into(),
            port: 2222,
            fingerprint: fp.clone(),
            known_hosts: "/k".into(),
        };
        assert_eq!(e.status(), Status::Critical);
        let msg = e.to_string();
        assert!(
            msg.contains("SHA256:x") && msg.contains("ssh-keyscan -p 2222 h"),
            "{msg}"
        );
        let e = SshError::ChangedHostKey {
            host: "h".into(),
            port: 2222,
            fingerprint: fp,
            known_hosts: "/k".into(),
        };
        assert_eq!(e.status(), Status::Critical);
        assert!(
            e.to_string().contains("ssh-keygen -R '[h]:2222' -f /k"),
            "{e}"
        );
        let e = SshError::Timeout {
            what: "x".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(e.status(), Status::Unknown);
        assert_eq!(e.to_string(), "timed out after 1s: x");
        let e = SshError::Auth {
            user: "u".into(),
            reason: "r".into(),
        };
        assert_eq!(e.status(), Status::Unknown);
    }

    #[test]
    fn invalid_targets_are_refused_before_the_network() {
        let mut opts = SshOptions::new("h\0", "root", "/nonexistent".into());
        assert!(matches!(
            SshClient::connect(&opts),
            Err(SshError::InvalidTarget { .. })
        ));
        opts.host = String::new();
        assert!(matches!(
            SshClient::connect(&opts),
            Err(SshError::InvalidTarget { .. })
        ));
    }

    #[test]
    fn abbreviate_keeps_short_commands() {
        assert_eq!(abbreviate("ls -l"), "ls -l");
        assert_eq!(abbreviate("a\nb"), "a...");
        assert_eq!(abbreviate(&"x".repeat(100)).len(), 83);
    }
}
