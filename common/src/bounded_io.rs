//! A TCP stream whose every read and write is bounded by the time left of
//! the current protocol step and by the bytes that step may still read.
//!
//! Socket timeouts alone bound each single read: a server that sends one
//! byte a second, or an endless line at full speed, keeps every read short
//! and the step going forever, while the protocol crate above (the `imap`
//! crate, a `BufRead::read_line`) gathers the line in memory without limit.
//! Bounding the socket itself, below the TLS layer and below the crates'
//! own buffering, bounds all of them at once. maestro-smoketest's IMAP and
//! SMTP sessions and maestro-redirect's relay check read through it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `3 s`, `1.5 s`: how timeouts read in messages.
pub fn seconds_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{} s", s.round())
    } else {
        format!("{s:.1} s")
    }
}

/// `16 MiB`, `512 KiB`.
pub fn size_text(bytes: u64) -> String {
    crate::fsio::size_text(bytes)
}

#[derive(Debug)]
struct Step {
    deadline: Instant,
    timeout: Duration,
    budget: u64,
    read: u64,
}

/// The limits of the step under way, shared by the stream and by the code
/// that starts each step (a new IMAP command, the SMTP session).
#[derive(Debug, Clone)]
pub struct StepLimits(Arc<Mutex<Step>>);

impl StepLimits {
    pub fn new(timeout: Duration, budget: u64) -> StepLimits {
        StepLimits(Arc::new(Mutex::new(Step {
            deadline: Instant::now() + timeout,
            timeout,
            budget,
            read: 0,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Step> {
        // The guarded numbers stay consistent whatever panicked.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new step: `timeout` from now, at most `budget` bytes read.
    pub fn start(&self, timeout: Duration, budget: u64) {
        let mut s = self.lock();
        *s = Step {
            deadline: Instant::now() + timeout,
            timeout,
            budget,
            read: 0,
        };
    }

    /// Time left of the step, or the error that says it is over.
    fn time_left(&self) -> io::Result<Duration> {
        let s = self.lock();
        let left = s.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(s.timeout));
        }
        Ok(left)
    }

    /// Bytes the step may still read, or the error that says it read enough.
    fn bytes_left(&self) -> io::Result<u64> {
        let s = self.lock();
        if s.read >= s.budget {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server sent more than {} in one answer (refused: no answer of this step is that long)",
                    size_text(s.budget)
                ),
            ));
        }
        Ok(s.budget - s.read)
    }

    fn count(&self, n: usize) {
        self.lock().read += n as u64;
    }

    fn timeout(&self) -> Duration {
        self.lock().timeout
    }
}

/// The error of a step that ran out of time: "timed out after 3 s".
pub fn timed_out(after: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("timed out after {}", seconds_text(after)),
    )
}

/// Whether an error is this module's (or the socket's) timeout.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// A TCP stream under [`StepLimits`].
#[derive(Debug)]
pub struct BoundedTcp {
    tcp: TcpStream,
    limits: StepLimits,
}

impl BoundedTcp {
    pub fn new(tcp: TcpStream, limits: StepLimits) -> BoundedTcp {
        BoundedTcp { tcp, limits }
    }

    /// A second handle on the same socket and the same limits.
    pub fn try_clone(&self) -> io::Result<BoundedTcp> {
        Ok(BoundedTcp {
            tcp: self.tcp.try_clone()?,
            limits: self.limits.clone(),
        })
    }

    pub fn limits(&self) -> &StepLimits {
        &self.limits
    }

    /// A socket timeout (EAGAIN) read as the step's timeout.
    fn step_error(&self, e: io::Error) -> io::Error {
        if is_timeout(&e) {
            timed_out(self.limits.timeout())
        } else {
            e
        }
    }
}

impl Read for BoundedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.limits.time_left()?;
        let allowed = self.limits.bytes_left()?;
        self.tcp.set_read_timeout(Some(left))?;
        let want = buf
            .len()
            .min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let n = self
            .tcp
            .read(&mut buf[..want])
            .map_err(|e| self.step_error(e))?;
        self.limits.count(n);
        Ok(n)
    }
}

impl Write for BoundedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.limits.time_left()?;
        self.tcp.set_write_timeout(Some(left))?;
        self.tcp.write(buf).map_err(|e| self.step_error(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn a_trickling_server_cannot_stretch_the_step() {
        let (c, mut s) = pair();
        let feeder = std::thread::spawn(move || {
            for _ in 0..20 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let mut b = BoundedTcp::new(c, StepLimits::new(Duration::from_millis(500), 1 << 20));
        let started = Instant::now();
        let mut sink = Vec::new();
        let e = b.read_to_end(&mut sink).unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(900));
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "timed out after 0.5 s");
        drop(b);
        feeder.join().unwrap();
    }

    #[test]
    fn an_endless_line_stops_at_the_budget() {
        let (c, mut s) = pair();
        let feeder = std::thread::spawn(move || {
            let chunk = [b'x'; 8192];
            while s.write_all(&chunk).is_ok() {}
        });
        let mut b = std::io::BufReader::new(BoundedTcp::new(
            c,
            StepLimits::new(Duration::from_secs(5), 100_000),
        ));
        let mut line = Vec::new();
        let e = std::io::BufRead::read_until(&mut b, b'\n', &mut line).unwrap_err();
        assert_eq!(line.len(), 100_000);
        assert!(e.to_string().contains("more than 100000 bytes"), "{e}");
        drop(b);
        feeder.join().unwrap();
    }

    #[test]
    fn a_new_step_has_new_limits() {
        let l = StepLimits::new(Duration::ZERO, 0);
        assert!(l.time_left().is_err() && l.bytes_left().is_err());
        l.start(Duration::from_secs(3), 10);
        assert!(l.time_left().is_ok());
        assert_eq!(l.bytes_left().unwrap(), 10);
        assert_eq!(seconds_text(Duration::from_secs(3)), "3 s");
        assert_eq!(seconds_text(Duration::from_millis(1500)), "1.5 s");
    }
}
