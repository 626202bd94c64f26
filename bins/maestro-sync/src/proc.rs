//! External commands, each bounded: its own process group (so a timeout
//! or a stop ends its children too: rsync's ssh, a hook's sub-shells),
//! reaped with `wait4` for its CPU time, output read bounded. A SIGINT or
//! SIGTERM ends the command at once.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Output kept of a command, each stream.
const OUTPUT_LIMIT: u64 = 1 << 20;
/// How long output readers may take after the process ended (a grandchild
/// that escaped the group could hold the pipes open).
const READER_GRACE: Duration = Duration::from_millis(500);

/// A command to run: a program and its arguments, never a shell line
/// unless made with [`Spec::shell`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub program: String,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

impl Spec {
    pub fn new<I, A>(program: &str, args: I) -> Spec
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        Spec {
            program: program.to_string(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }

    /// An admin's command line, run by `sh -c`.
    pub fn shell(line: &str) -> Spec {
        Spec::new("sh", ["-c", line])
    }

    pub fn env(mut self, key: &str, value: &str) -> Spec {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The command as a shell would take it, for plans and messages.
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        parts.push(shell_quote(&self.program));
        parts.extend(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())));
        parts.join(" ")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        // Its own process group: a timeout or a stop kills the group.
        c.process_group(0);
        c
    }
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// CPU time, user plus system.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    fn from_rusage(r: &libc::rusage) -> Cpu {
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Cpu {
            user: tv(r.ru_utime),
            system: tv(r.ru_stime),
        }
    }

    /// This process's CPU time and that of its children reaped so far.
    pub fn of_this_process() -> Cpu {
        let mut total = Cpu::default();
        for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
            // SAFETY: getrusage writes into the struct we own.
            let mut r: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(who, &mut r) } == 0 {
                let c = Cpu::from_rusage(&r);
                total.user += c.user;
                total.system += c.system;
            }
        }
        total
    }

    pub fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code; `None` when a signal ended it (never a success).
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub cpu: Cpu,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `exit 3`, `killed by signal 9`.
    pub fn how(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended without an exit code".into(),
        }
    }

    /// The last lines of stderr (else stdout), for a message.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" / ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("{program} did not finish within {}s (killed with its process group){}", .after.as_secs_f64(), tail_text(.stderr))]
    Timeout {
        program: String,
        after: Duration,
        stderr: String,
    },
    #[error("{program} was stopped: this run was interrupted")]
    Interrupted { program: String },
    /// What ran on the other side did not say how it ended.
    #[error("{what}: {why}")]
    Unaccounted { what: String, why: String },
}

fn tail_text(stderr: &str) -> String {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    last.map(|l| format!(": {l}")).unwrap_or_default()
}

pub(crate) fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.by_ref().take(OUTPUT_LIMIT).read_to_end(&mut buf);
            // Drain the rest, so the command never blocks on a full pipe.
            let _ = io::copy(&mut p, &mut io::sink());
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

pub(crate) fn kill_group(pid: libc::pid_t) {
    // SAFETY: kill has no memory-safety preconditions; the negative pid
    // names the process group made for the child.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// Waits for `pid` (reaping it with its resource use) until `deadline`.
/// `Ok(None)` on timeout or interruption, the child still running.
pub(crate) fn wait_until(
    pid: libc::pid_t,
    deadline: Instant,
) -> Result<Option<(i32, Cpu)>, io::Error> {
    // The child's end wakes a poll of its pidfd at once (Linux 5.3 and
    // later); without one, growing sleeps between looks (each end then
    // noticed up to 50 ms late, which a run's every step paid).
    // SAFETY: pidfd_open takes a pid and flags and returns a descriptor,
    // owned here from then on.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
    let mut step = Duration::from_millis(2);
    loop {
        let mut status = 0;
        // SAFETY: wait4 writes into the locals we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if rc == pid {
            return Ok(Some((status, Cpu::from_rusage(&usage))));
        }
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if Instant::now() >= deadline || maestro_common::signal::interrupted() {
            return Ok(None);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match &pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // A tenth of a second at most: a stop is noticed.
                let ms = wait.min(Duration::from_millis(100)).as_millis().max(1) as libc::c_int;
                // SAFETY: poll on the one pollfd we own.
                unsafe { libc::poll(&mut p, 1, ms) };
            }
            None => {
                thread::sleep(step.min(wait));
                step = (step * 2).min(Duration::from_millis(50));
            }
        }
    }
}

pub(crate) fn decode(status: i32) -> (Option<i32>, Option<i32>) {
    if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    }
}

/// Runs `spec` to its end, at most `timeout`, feeding `input` on stdin.
pub fn run(spec: &Spec, timeout: Duration, input: Option<&[u8]>) -> Result<Finished, ProcError> {
    run_with_fds(spec, timeout, input, Vec::new())
}

/// [`run`], the command also getting `fds`: each `(ours, theirs)` is this
/// process's descriptor `ours`, open in the command as `theirs` (and in
/// its children: rsync hands them to its remote shell, the relay).
pub fn run_with_fds(
    spec: &Spec,
    timeout: Duration,
    input: Option<&[u8]>,
    fds: Vec<(OwnedFd, RawFd)>,
) -> Result<Finished, ProcError> {
    let started = Instant::now();
    let mut command = spec.command();
    if !fds.is_empty() {
        let fds: Vec<(RawFd, RawFd)> = fds.iter().map(|(o, t)| (o.as_raw_fd(), *t)).collect();
        // SAFETY: between fork and exec only fcntl and dup2 run, both
        // async-signal-safe, on descriptors this process owns; nothing
        // allocates.
        unsafe {
            command.pre_exec(move || {
                // First out of the way of every target (a source may be
                // numbered like another pair's target), then into place;
                // dup2 leaves the target open across exec.
                let mut moved = [0 as RawFd; 8];
                if fds.len() > moved.len() {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                }
                for (i, (ours, _)) in fds.iter().enumerate() {
                    let fd = libc::fcntl(*ours, libc::F_DUPFD_CLOEXEC, 64);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    moved[i] = fd;
                }
                for (i, (_, theirs)) in fds.iter().enumerate() {
                    if libc::dup2(moved[i], *theirs) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ProcError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
    // This side's copies closed: the command holds the only ones.
    drop(fds);
    let pid = child.id() as libc::pid_t;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    finish(spec, child, pid, started, started + timeout, stdout, stderr)
}

fn finish(
    spec: &Spec,
    child: Child,
    pid: libc::pid_t,
    started: Instant,
    deadline: Instant,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
) -> Result<Finished, ProcError> {
    let waited = wait_until(pid, deadline);
    let (status, cpu) = match waited {
        Ok(Some(done)) => done,
        Ok(None) | Err(_) => {
            kill_group(pid);
            // Reap it (it was killed; the wait is short).
            let _ = wait_until(pid, Instant::now() + Duration::from_secs(5));
            drop(child);
            if maestro_common::signal::interrupted() {
                return Err(ProcError::Interrupted {
                    program: spec.program.clone(),
                });
            }
            return Err(ProcError::Timeout {
                program: spec.program.clone(),
                after: deadline.saturating_duration_since(started),
                stderr: stderr.recv_timeout(READER_GRACE).unwrap_or_default(),
            });
        }
    };
    // Reaped by wait4: std's Child must not wait for it again.
    drop(child);
    let (code, signal) = decode(status);
    Ok(Finished {
        code,
        signal,
        stdout: stdout.recv_timeout(READER_GRACE).unwrap_or_default(),
        stderr: stderr.recv_timeout(READER_GRACE).unwrap_or_default(),
        elapsed: started.elapsed(),
        cpu,
    })
}

/// How long a send waits for another one to finish.
const SEND_WAIT: Duration = Duration::from_secs(10);

/// The lock, waited for at most `wait`.
fn lock_within<T>(m: &Mutex<T>, wait: Duration) -> Option<std::sync::MutexGuard<'_, T>> {
    let until = Instant::now() + wait;
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < until => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

/// Sends on a [`Session`]'s stdin: each line or frame whole, never mixed
/// with another thread's (the keepalive's).
#[derive(Clone)]
pub struct SessionWriter(Arc<Mutex<Option<ChildStdin>>>);

impl SessionWriter {
    pub fn line(&self, line: &str) -> io::Result<()> {
        self.write(format!("{line}\n").as_bytes())
    }

    /// A binary frame: `data N` and N bytes (see [`crate::carried`]).
    pub fn frame(&self, payload: &[u8]) -> io::Result<()> {
        self.write(&crate::carried::data_frame("", payload))
    }

    /// One write of `bytes` (a line or a frame, whole).
    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        // Bounded: another writer may be stuck in a write the other side
        // does not take (a stopped process there).
        let mut guard = lock_within(&self.0, SEND_WAIT).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the session takes nothing (another write waits)",
            )
        })?;
        match guard.as_mut() {
            Some(s) => {
                s.write_all(bytes)?;
                s.flush()
            }
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed")),
        }
    }
}

/// A command to talk to line by line: the other side of a run over SSH.
/// Its stdout comes as lines through a reader thread; stderr is kept
/// (bounded) for messages. Dropped, its process group is killed.
pub struct Session {
    spec: Spec,
    child: Option<Child>,
    pid: libc::pid_t,
    started: Instant,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    /// Where binary frames from the other side go (rsync's stream, see
    /// [`crate::carried`]); without one they are dropped.
    sink: crate::carried::Sink,
    lines: mpsc::Receiver<Option<String>>,
    stderr: Option<mpsc::Receiver<String>>,
    keepalive: Option<(Arc<std::sync::atomic::AtomicBool>, mpsc::Receiver<()>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no answer from {what} within {}s", .after.as_secs_f64())]
    Timeout { what: String, after: Duration },
    #[error("this run was interrupted")]
    Interrupted,
}

/// The longest line taken from the other side (a report line; the longest
/// real one holds a few hundred findings' worth of text).
const LINE_LIMIT: usize = 4 << 20;

impl Session {
    pub fn start(spec: &Spec) -> Result<Session, ProcError> {
        let mut child = spec
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ProcError::Spawn {
                program: spec.program.clone(),
                source,
            })?;
        let pid = child.id() as libc::pid_t;
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take();
        let sink = crate::carried::Sink::default();
        let frames = sink.clone();
        thread::spawn(move || {
            let Some(out) = out else {
                let _ = tx.send(None);
                return;
            };
            let mut r = BufReader::new(out);
            loop {
                let mut buf = Vec::new();
                match r
                    .by_ref()
                    .take(LINE_LIMIT as u64)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        match frames.take_frame(&buf, crate::protocol::PREFIX, &mut r) {
                            Ok(true) => continue,
                            Ok(false) => {}
                            Err(_) => break,
                        }
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(Some(line)).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(None);
        });
        let stderr = Some(reader(child.stderr.take()));
        Ok(Session {
            spec: spec.clone(),
            stdin: Arc::new(Mutex::new(child.stdin.take())),
            sink,
            child: Some(child),
            pid,
            started: Instant::now(),
            lines,
            stderr,
            keepalive: None,
        })
    }

    /// Sends one line.
    pub fn send(&self, line: &str) -> io::Result<()> {
        self.writer().line(line)
    }

    /// A handle to send with from another thread.
    pub fn writer(&self) -> SessionWriter {
        SessionWriter(self.stdin.clone())
    }

    /// Where binary frames from the other side go from now on (`None`:
    /// nowhere).
    pub fn set_sink(&self, to: Option<std::fs::File>) {
        self.sink
            .set(to.map(|f| Box::new(f) as Box<dyn Write + Send>));
    }

    /// Sends `alive` every `every` until [`Session::stop_keepalive`], so
    /// the other side can tell a slow transfer from a dead sender.
    pub fn keepalive(&mut self, every: Duration) {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, stdin) = (stop.clone(), self.stdin.clone());
        let (ended, handle) = mpsc::channel();
        thread::spawn(move || {
            let mut next = Instant::now() + every;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                if Instant::now() >= next {
                    // Never waits for the lock: a frame being written
                    // (rsync's stream) says as much as `alive`.
                    if let Ok(mut g) = stdin.try_lock() {
                        if let Some(s) = g.as_mut() {
                            let _ = s.write_all(b"alive\n").and_then(|_| s.flush());
                        }
                    }
                    next = Instant::now() + every;
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = ended.send(());
        });
        self.keepalive = Some((stop, handle));
    }

    /// Stops the keepalive; a keepalive caught in a write the other side
    /// does not take is left behind (the session's end ends it).
    pub fn stop_keepalive(&mut self) {
        if let Some((stop, ended)) = self.keepalive.take() {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = ended.recv_timeout(Duration::from_millis(500));
        }
    }

    /// The next line, waiting at most `timeout`; `Ok(None)` at the end of
    /// the output.
    pub fn read_line(&self, timeout: Duration) -> Result<Option<String>, SessionError> {
        let deadline = Instant::now() + timeout;
        loop {
            if maestro_common::signal::interrupted() {
                return Err(SessionError::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SessionError::Timeout {
                    what: self.spec.program.clone(),
                    after: timeout,
                });
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) => return Ok(line),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// Closes its stdin: the other side reads the end.
    pub fn close_stdin(&mut self) {
        self.stop_keepalive();
        // A writer stuck in a write the other side does not take holds
        // the lock: then the end of the session (its kill) closes it.
        if let Some(mut g) = lock_within(&self.stdin, Duration::from_secs(1)) {
            *g = None;
        }
    }

    /// Waits for its end (at most `timeout`, then kills it).
    pub fn finish(mut self, timeout: Duration) -> Result<Finished, ProcError> {
        self.close_stdin();
        let child = self.child.take().expect("finished once");
        let stdout = {
            let (tx, rx) = mpsc::channel();
            let _ = tx.send(String::new());
            rx
        };
        let stderr = self.stderr.take().expect("finished once");
        finish(
            &self.spec,
            child,
            self.pid,
            self.started,
            Instant::now() + timeout,
            stdout,
            stderr,
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop_keepalive();
        if let Some(child) = self.child.take() {
            kill_group(self.pid);
            let _ = wait_until(self.pid, Instant::now() + Duration::from_secs(5));
            drop(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_input_exit_code_and_cpu_time() {
        let out = run(
            &Spec::shell(
                "cat; echo err >&2; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
            ),
            Duration::from_secs(20),
            Some(b"hello"),
        )
        .unwrap();
        assert_eq!((out.code, out.stdout.as_str()), (Some(3), "hello"));
        assert_eq!(out.stderr.trim(), "err");
        assert!(out.cpu.total() > Duration::ZERO, "{:?}", out.cpu);
        assert_eq!(out.how(), "exit 3");
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("survived");
        let started = Instant::now();
        let e = run(
            &Spec::shell(&format!("(sleep 2; touch {}) & sleep 30", mark.display())),
            Duration::from_millis(300),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ProcError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        thread::sleep(Duration::from_millis(2500));
        assert!(!mark.exists(), "the background child outlived the timeout");
    }

    #[test]
    fn a_session_talks_in_lines_and_ends() {
        let mut s = Session::start(&Spec::shell(
            "echo ready; read x; echo got $x; read y; echo end $y",
        ))
        .unwrap();
        assert_eq!(
            s.read_line(Duration::from_secs(5)).unwrap().as_deref(),
            Some("ready")
        );
        s.send("one").unwrap();
        assert_eq!(
            s.read_line(Duration::from_secs(5)).unwrap().as_deref(),
            Some("got one")
        );
        let e = s.read_line(Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, SessionError::Timeout { .. }));
        s.close_stdin();
        assert_eq!(
            s.read_line(Duration::from_secs(5)).unwrap().as_deref(),
            Some("end")
        );
        assert_eq!(s.read_line(Duration::from_secs(5)).unwrap(), None);
        assert!(s.finish(Duration::from_secs(5)).unwrap().success());
    }

    #[test]
    fn a_command_gets_the_descriptors_it_is_handed_in_their_places() {
        use std::os::unix::net::UnixStream;
        // Two streams whose ends here get low numbers, likely to collide
        // with the places they go to.
        let (a_here, a_there) = UnixStream::pair().unwrap();
        let (b_here, b_there) = UnixStream::pair().unwrap();
        (&a_here).write_all(b"ping\n").unwrap();
        let out = run_with_fds(
            &Spec::shell("read line <&3; echo \"got $line\" >&4"),
            Duration::from_secs(10),
            None,
            vec![(OwnedFd::from(a_there), 3), (OwnedFd::from(b_there), 4)],
        )
        .unwrap();
        assert!(out.success(), "{}", out.stderr);
        let mut got = String::new();
        b_here
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = (&b_here).read_to_string(&mut got);
        assert_eq!(got, "got ping\n", "{}", out.stderr);
    }

    #[test]
    fn quoting_for_a_shell() {
        assert_eq!(shell_quote("/srv/a-b_c.d"), "/srv/a-b_c.d");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            Spec::new("rsync", ["-a", "x y"])
                .env("LC_ALL", "C")
                .display(),
            "LC_ALL=C rsync -a 'x y'"
        );
    }
}
