//! rsync's stream carried inside the run's own SSH session.
//!
//! Every SSH session runs the other account's login shell before its
//! command (on a server whose `~/.bashrc` starts a Python version manager,
//! a quarter of a second of CPU), and rsync opens a session of its own for
//! the data. Instead, rsync's remote shell is `maestro-sync relay`
//! ([`crate::relay`]), whose descriptors 3 and 4 are pipes to and from the
//! run: the run sends rsync's command line over its session as
//! `rsync {json}` and rsync's stream as frames, a line `data N` and N
//! bytes, then `data-end`; the other side (`receive` or `serve`) runs the
//! rsync server as its own child and answers in kind, `maestro-sync: data
//! N` frames, `maestro-sync: data-end` when rsync's output ends, and
//! `maestro-sync: rsync-end {json}` (its exit and its last words) when it
//! has exited.
//!
//! One connection, one login a run, and the other side's rsync belongs to
//! the process that holds the run's lock there: an abort, a stop or the
//! session's end ends it.

use crate::proc::{self, Finished, ProcError, Spec};
use crate::protocol::{self, Handover, RsyncEnded, ServerRole};
use crate::relay::{FROM_REMOTE_FD, TO_REMOTE_FD};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The most a frame carries (one read of rsync's stream).
pub const FRAME_MAX: usize = 64 * 1024;

/// A frame's header, as a line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// `data N`: N bytes of the stream follow the line.
    Data(usize),
    /// `data-end`: the stream's end in this direction.
    End,
}

/// A whole frame, `prefix` and `data N` and the N bytes, in one buffer: it
/// goes out in one write, so a frame is one piece for ssh and sshd to pass
/// on instead of three (the header line, then the bytes in up to two
/// pieces of a line-buffered stdout).
pub fn data_frame(prefix: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!("{prefix}data {}\n", payload.len());
    let mut frame = Vec::with_capacity(head.len() + payload.len());
    frame.extend_from_slice(head.as_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The frame header `line` (with its line end) is, after `prefix` (the
/// other side's words come after `maestro-sync: `, this side's bare).
pub fn frame_of(line: &[u8], prefix: &str) -> Option<Frame> {
    let line = line.strip_suffix(b"\n")?;
    let rest = line.strip_prefix(prefix.as_bytes())?;
    if rest == b"data-end" {
        return Some(Frame::End);
    }
    let n: usize = std::str::from_utf8(rest.strip_prefix(b"data ")?)
        .ok()?
        .parse()
        .ok()?;
    (n <= FRAME_MAX).then_some(Frame::Data(n))
}

/// Where the frames that come go: the relay's pipe on the side that runs
/// rsync's client, the rsync server's stdin on the other.
#[derive(Clone, Default)]
pub struct Sink(Arc<Mutex<To>>);

#[derive(Default)]
enum To {
    #[default]
    Nowhere,
    /// Kept until the writer is there: the other side's rsync is being
    /// started while its first frames come.
    Held(Vec<u8>),
    Writer(Box<dyn Write + Send>),
}

/// The most kept while the other side's rsync starts (its first frames:
/// the protocol's greeting, the file list).
const HELD_MAX: usize = 64 << 20;

impl Sink {
    /// Frames go to `to` from now on (first what was held for it); `None`:
    /// nowhere.
    pub fn set(&self, to: Option<Box<dyn Write + Send>>) {
        if let Ok(mut g) = self.0.lock() {
            *g = match (std::mem::take(&mut *g), to) {
                (_, None) => To::Nowhere,
                (To::Held(held), Some(mut w)) => {
                    if w.write_all(&held).and_then(|_| w.flush()).is_ok() {
                        To::Writer(w)
                    } else {
                        To::Nowhere
                    }
                }
                (_, Some(w)) => To::Writer(w),
            };
        }
    }

    /// Frames are kept from now on, until [`Sink::set`].
    pub fn hold(&self) {
        if let Ok(mut g) = self.0.lock() {
            *g = To::Held(Vec::new());
        }
    }

    /// The end of the stream: the reader there sees the end of its input.
    pub fn close(&self) {
        self.set(None);
    }

    /// When `line` (after `prefix`) is a frame header: takes the frame (its
    /// bytes from `from`, or the end of the stream) and says `true`; a line
    /// that is not one is left to the caller. An error is a broken stream.
    pub fn take_frame(&self, line: &[u8], prefix: &str, from: &mut impl Read) -> io::Result<bool> {
        match frame_of(line, prefix) {
            Some(Frame::Data(n)) => self.pass_on(from, n).map(|()| true),
            Some(Frame::End) => {
                self.close();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Reads a frame's `n` bytes from `from` and writes them on. They are
    /// read even with nowhere to go (a stream whose reader ended), so that
    /// the lines after the frame are read as lines.
    pub fn pass_on(&self, from: &mut impl Read, n: usize) -> io::Result<()> {
        let mut buf = vec![0u8; n];
        from.read_exact(&mut buf)?;
        if let Ok(mut g) = self.0.lock() {
            match &mut *g {
                To::Writer(w) => {
                    if w.write_all(&buf).and_then(|_| w.flush()).is_err() {
                        *g = To::Nowhere;
                    }
                }
                // More than a start sends: the stream is broken off (rsync
                // then fails on its own timeout, the run with it).
                To::Held(held) if held.len() + n > HELD_MAX => *g = To::Nowhere,
                To::Held(held) => held.extend_from_slice(&buf),
                To::Nowhere => {}
            }
        }
        Ok(())
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just made by pipe2 and are owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// rsync here, run with its stream carried over the session.
pub struct Carried {
    pub rsync: Result<Finished, ProcError>,
    /// Its command line went to the other side (which then started an
    /// rsync and will say how it ended).
    pub handed_over: bool,
}

/// Runs the data's rsync client (`spec`, whose remote shell is the relay)
/// with its stream carried over `session`. The other side's `rsync-end`
/// is for the caller to wait for (it comes among the session's lines),
/// when the command line was handed over.
pub fn run_rsync(session: &proc::Session, spec: &Spec, timeout: Duration) -> Carried {
    let spawn_error = |e: io::Error| ProcError::Spawn {
        program: spec.program.clone(),
        source: e,
    };
    let pipes = pipe().and_then(|a| Ok((a, pipe()?)));
    let ((relay_reads, to_relay), (from_relay, relay_writes)) = match pipes {
        Ok(p) => p,
        Err(e) => {
            return Carried {
                rsync: Err(spawn_error(e)),
                handed_over: false,
            }
        }
    };
    session.set_sink(Some(File::from(to_relay)));
    let writer = session.writer();
    let (pumped, pump_done) = mpsc::channel();
    thread::spawn(move || {
        let mut r = BufReader::new(File::from(from_relay));
        let mut first = Vec::new();
        // The relay's first line: rsync's command line. Nothing (the relay
        // failed before it): the other side never starts an rsync.
        if matches!(r.by_ref().take(1 << 16).read_until(b'\n', &mut first), Ok(n) if n > 0) {
            if let Ok(h) = serde_json::from_slice::<Handover>(&first) {
                if writer.line(&protocol::Command::Rsync(h).line()).is_ok() {
                    let _ = pumped.send(true);
                    let _ = crate::relay::each_read(&mut r, FRAME_MAX, |b| writer.frame(b));
                    let _ = writer.line("data-end");
                }
            }
        }
        let _ = pumped.send(false);
    });
    let r = proc::run_with_fds(
        spec,
        timeout,
        None,
        vec![(relay_reads, FROM_REMOTE_FD), (relay_writes, TO_REMOTE_FD)],
    );
    // The pump says whether it handed rsync's command over, then ends
    // with the relay (rsync's child, ended with it).
    let mut handed_over = false;
    let until = Instant::now() + Duration::from_secs(10);
    while let Ok(said) = pump_done.recv_timeout(until.saturating_duration_since(Instant::now())) {
        handed_over |= said;
        if !said {
            break;
        }
    }
    Carried {
        rsync: r,
        handed_over,
    }
}

/// The other side's account of its rsync, as a [`Finished`] to weigh with
/// rsync's own result.
pub fn ended(e: &RsyncEnded) -> Finished {
    Finished {
        code: e.code,
        signal: e.signal,
        stdout: String::new(),
        stderr: e.stderr.clone(),
        elapsed: Duration::ZERO,
        cpu: proc::Cpu::default(),
    }
}

/// rsync's result with its other side's: a success needs both (the other
/// side's rsync may fail after rsync here is content, a write that did
/// not reach the disk); a failure keeps rsync's own words last.
pub fn with_other_side(
    rsync: Result<Finished, ProcError>,
    other: Result<Finished, ProcError>,
) -> Result<Finished, ProcError> {
    match (rsync, other) {
        (Ok(f), Ok(s)) if f.success() && !s.success() => Ok(Finished {
            code: s.code,
            signal: s.signal,
            stderr: format!("{}{}", f.stderr, s.stderr),
            ..f
        }),
        (Ok(f), Err(e)) if f.success() => Err(e),
        (Ok(mut f), Ok(s)) if !f.success() => {
            f.stderr = format!("{}{}", s.stderr, f.stderr);
            Ok(f)
        }
        (r, _) => r,
    }
}

/// A frame on this process's stdout (the session back to the run).
fn say_frame(payload: &[u8]) -> io::Result<()> {
    let frame = data_frame(protocol::PREFIX, payload);
    // The lock keeps other lines out; the frame goes past stdout's line
    // buffer (emptied first), which would write it in two pieces.
    let mut out = io::stdout().lock();
    out.flush()?;
    // SAFETY: descriptor 1 stays open for the process's life; the File is
    // never dropped, so it is not closed here.
    let mut fd1 = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    fd1.write_all(&frame)
}

/// The other side's rsync server, run for a [`Handover`].
pub struct ServerRsync {
    pid: libc::pid_t,
    /// Set once it has exited and was reaped.
    ended: Arc<AtomicBool>,
}

impl ServerRsync {
    /// Starts the rsync server `h` names, checked for `role` (see
    /// [`Handover::server_argv`]) and run without a shell: its input is
    /// what `sink` passes on (the frames from the run), its output goes out
    /// as frames, its end as `maestro-sync: rsync-end`. It is ended at
    /// `deadline` at the latest, and with this process (a parent-death
    /// signal).
    pub fn start(
        h: &Handover,
        role: &ServerRole,
        sink: &Sink,
        deadline: Instant,
    ) -> Result<ServerRsync, String> {
        let argv = h.server_argv(role)?;
        let mut command = std::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
        let pid = child.id() as libc::pid_t;
        if let Some(stdin) = child.stdin.take() {
            sink.set(Some(Box::new(stdin)));
        }
        let stdout = child.stdout.take();
        let stderr = proc::reader(child.stderr.take());
        let ended = Arc::new(AtomicBool::new(false));
        let done = ended.clone();
        thread::spawn(move || {
            if let Some(mut out) = stdout {
                let _ = crate::relay::each_read(&mut out, FRAME_MAX, say_frame);
            }
            crate::receive::say(&format!("{}data-end", protocol::PREFIX));
            let waited = match proc::wait_until(pid, deadline) {
                Ok(Some(w)) => Some(w),
                _ => {
                    proc::kill_group(pid);
                    proc::wait_until(pid, Instant::now() + Duration::from_secs(5))
                        .ok()
                        .flatten()
                }
            };
            // Reaped by wait4: std's Child must not wait for it again.
            drop(child);
            done.store(true, Ordering::SeqCst);
            // Its CPU time is this process's children's (reaped here):
            // counted with this process's.
            let (code, signal) = proc::decode(waited.map_or(-1, |(status, _)| status));
            let text = stderr
                .recv_timeout(Duration::from_millis(500))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            let end = RsyncEnded {
                code,
                signal,
                stderr: tail.into_iter().rev().map(|l| format!("{l}\n")).collect(),
            };
            crate::receive::say(&protocol::message("rsync-end", &end));
        });
        Ok(ServerRsync { pid, ended })
    }

    /// Whether it has exited (and was reaped).
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Whether a side's rsync (if it started one) still runs.
    pub fn runs(rsync: &Option<ServerRsync>) -> bool {
        rsync.as_ref().is_some_and(|r| !r.has_ended())
    }

    /// Ends it, its forked helper too (its process group), and waits
    /// (bounded) until it is gone: before the run's lock is let go, so
    /// that no rsync writes into a generation nobody holds.
    pub fn stop(self) {
        // Dropped here.
    }
}

impl Drop for ServerRsync {
    fn drop(&mut self) {
        // The group even when rsync itself has ended: its forked helper
        // may not have yet.
        proc::kill_group(self.pid);
        let until = Instant::now() + Duration::from_secs(5);
        while !self.has_ended() && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_are_told_from_lines() {
        assert_eq!(frame_of(b"data 12\n", ""), Some(Frame::Data(12)));
        assert_eq!(
            frame_of(b"maestro-sync: data 65536\n", protocol::PREFIX),
            Some(Frame::Data(65536))
        );
        assert_eq!(frame_of(b"data-end\n", ""), Some(Frame::End));
        assert_eq!(
            frame_of(b"maestro-sync: data-end\n", protocol::PREFIX),
            Some(Frame::End)
        );
        for not in [
            &b"data 12"[..],
            b"data 65537\n",
            b"data -1\n",
            b"data x\n",
            b"maestro-sync: data 3\n",
            b"alive\n",
            b"data\n",
        ] {
            assert_eq!(frame_of(not, ""), None, "{}", String::from_utf8_lossy(not));
        }
        assert_eq!(frame_of(b"data 3\n", protocol::PREFIX), None);
    }

    #[test]
    fn a_frame_is_read_whole_even_with_nowhere_to_go() {
        let sink = Sink::default();
        let mut input: &[u8] = b"abc\nrest";
        sink.pass_on(&mut input, 4).unwrap();
        assert_eq!(input, b"rest");
        let got = Arc::new(Mutex::new(Vec::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Held while the writer is made, then written first.
        sink.hold();
        sink.pass_on(&mut &b"held"[..], 4).unwrap();
        sink.set(Some(Box::new(Shared(got.clone()))));
        let mut input: &[u8] = b"\x00\x01\n\x02tail";
        sink.pass_on(&mut input, 4).unwrap();
        assert_eq!(*got.lock().unwrap(), b"held\x00\x01\n\x02");
        sink.close();
        sink.pass_on(&mut &b"gone"[..], 4).unwrap();
        assert_eq!(got.lock().unwrap().len(), 8);
        // A frame cut short is a broken stream.
        assert!(sink.pass_on(&mut &b"ab"[..], 4).is_err());
    }

    /// The whole path without ssh: a shell plays rsync here (it writes
    /// its command line and a piece of stream to descriptor 4 and reads
    /// descriptor 3), another the other side of the session.
    #[test]
    fn rsync_s_stream_goes_both_ways_in_frames() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let session = proc::Session::start(&Spec::shell(&format!(
            "read -r line; echo \"$line\" > {d}/rsync-line; \
             printf 'maestro-sync: data 6\\nhello\\n'; printf 'maestro-sync: data-end\\n'; \
             cat > {d}/rest"
        )))
        .unwrap();
        let here = Spec::shell(&format!(
            "printf '{{\"command\":\"rsync --server . /x\"}}\\nping' >&4; exec 4>&-; cat <&3 > {d}/out"
        ));
        let c = run_rsync(&session, &here, Duration::from_secs(10));
        assert!(c.handed_over);
        assert!(c.rsync.unwrap().success());
        session.set_sink(None);
        assert!(session.finish(Duration::from_secs(5)).unwrap().success());
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(read("out"), "hello\n");
        assert_eq!(
            read("rsync-line"),
            "rsync {\"command\":\"rsync --server . /x\"}\n"
        );
        assert_eq!(read("rest"), "data 4\npingdata-end\n");
        // rsync here that never sends its command line: nothing to wait for.
        let session = proc::Session::start(&Spec::shell("cat > /dev/null")).unwrap();
        let c = run_rsync(&session, &Spec::shell("exit 12"), Duration::from_secs(10));
        assert!(!c.handed_over);
        assert_eq!(c.rsync.unwrap().code, Some(12));
    }

    fn ended_with(code: i32, stderr: &str) -> Result<Finished, ProcError> {
        Ok(Finished {
            code: Some(code),
            signal: None,
            stdout: "Number of files: 3".into(),
            stderr: stderr.into(),
            elapsed: Duration::from_millis(5),
            cpu: proc::Cpu::default(),
        })
    }

    #[test]
    fn a_transfer_needs_both_ends_to_succeed() {
        let both = with_other_side(ended_with(0, ""), ended_with(0, "")).unwrap();
        assert!(both.success());
        // rsync here content, the other side's not: a failure, with the
        // other side's words.
        let theirs =
            with_other_side(ended_with(0, ""), ended_with(23, "rsync: mkstemp failed\n")).unwrap();
        assert_eq!(theirs.code, Some(23));
        assert!(theirs.stderr.contains("mkstemp"), "{}", theirs.stderr);
        assert_eq!(theirs.stdout, "Number of files: 3");
        // rsync here failed: its code, its words last.
        let ours =
            with_other_side(ended_with(30, "io timeout\n"), ended_with(0, "note\n")).unwrap();
        assert_eq!(ours.code, Some(30));
        assert!(ours.stderr.ends_with("io timeout\n"), "{}", ours.stderr);
        let lost = with_other_side(
            ended_with(0, ""),
            Err(ProcError::Timeout {
                program: "the other side's rsync".into(),
                after: Duration::from_secs(10),
                stderr: String::new(),
            }),
        );
        assert!(lost.is_err());
    }
}
