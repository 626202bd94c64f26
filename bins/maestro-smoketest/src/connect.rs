//! One TCP connection to a host name, within one timeout in all: every
//! address the name resolves to is tried at once, the first to connect
//! wins. One after the other, each with the whole timeout, two addresses
//! that drop the SYN (an AAAA without a route) would take twice the
//! timeout before the one that answers was tried. The IMAP session and the
//! bounce's SMTP session open their sockets here. The name lookup is
//! bounded by the same timeout.

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Connect to `host:port` within `timeout`; the error says what each
/// address did (the last one that answered, or that none did in time).
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let started = Instant::now();
    // The lookup within the same timeout (getaddrinfo has no bound of its own).
    let addrs: Vec<SocketAddr> = maestro_common::net::resolve(host, timeout)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    connect_any(&addrs, timeout.saturating_sub(started.elapsed()))
}

/// Connect to every address at once within `timeout`; the first that
/// connects is returned, the others are dropped.
pub fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, String> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    for addr in addrs.iter().copied() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((
                addr,
                TcpStream::connect_timeout(&addr, timeout.max(Duration::from_millis(1))),
            ));
        });
    }
    drop(tx);
    let timed_out = || {
        format!(
            "connection to {} timed out after {}",
            addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            maestro_common::bounded_io::seconds_text(timeout)
        )
    };
    let mut last = None;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((_, Ok(s))) => return Ok(s),
            Ok((_, Err(e))) if maestro_common::bounded_io::is_timeout(&e) => {}
            Ok((addr, Err(e))) => last = Some(format!("connection to {addr} failed: {e}")),
            Err(_) => return Err(last.unwrap_or_else(timed_out)),
        }
    }
}

// The test needs a loopback address that drops SYNs, which Windows has not.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A loopback address that drops every SYN: a listener whose accept
    /// queue is full (backlog 0, filled, never accepted).
    fn blackhole() -> (TcpListener, Vec<TcpStream>, SocketAddr) {
        use std::os::fd::AsRawFd;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) again on a listening socket we own only sets
        // its backlog.
        assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
        let addr = l.local_addr().unwrap();
        let mut held = Vec::new();
        while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            held.push(s);
            assert!(held.len() < 16, "the accept queue never filled");
        }
        (l, held, addr)
    }

    #[test]
    fn silent_addresses_do_not_use_up_the_time_of_the_one_that_answers() {
        let (_b1, _h1, silent1) = blackhole();
        let (_b2, _h2, silent2) = blackhole();
        let up = TcpListener::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        connect_any(
            &[silent1, silent2, up.local_addr().unwrap()],
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let e = connect_any(&[silent1, silent2], Duration::from_millis(500)).unwrap_err();
        assert!(e.contains("timed out after 0.5 s"), "{e}");
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }
}
