//! The connect probe: from this server, a bounded TCP connect to the
//! primary, its packets marked so that the fence's own probe rule counts
//! them (see [`crate::firewall`]).

use crate::firewall::PROBE_MARK;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest a probe waits (when `connect_timeout` is longer).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest a probe waits, whatever `connect_timeout` says: Linux
/// sends a SYN, then retransmits it after 1 s and 3 s. A primary that
/// dropped the first SYN answers the second; a window shorter than this
/// would count that as "no connection". With less of the run left, the
/// probe is not made: "cannot tell", never "isolated".
pub const MIN_PROBE_WINDOW: Duration = Duration::from_millis(3500);

/// What a TCP connect to the primary found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The connection was made: the primary is not isolated.
    Connected,
    /// The primary answered with a reset: its packets still get here.
    Refused,
    /// No connection: timed out, dropped here (EPERM), or a host that is
    /// unreachable. Proof of the fence only when its own rule counted the
    /// probe's SYNs.
    NoConnection(String),
    /// "Network is unreachable": no route from here (nothing was sent), or
    /// a router on the way said so (the SYN left this server). Which one,
    /// [`has_route`] tells.
    NoRoute(String),
    /// The connect failed for a reason that says nothing about the path to
    /// the primary (no free port, no descriptor, EACCES from a security
    /// module, a probe that could not be marked): cannot tell.
    Unknown(String),
}

/// How a connect's error reads. Only a timeout, EPERM (a rule here dropped
/// the SYN and the kernel said so), an unreachable host or network mean no
/// connection; anything else, EACCES included (which
/// `ErrorKind::PermissionDenied` also covers), says nothing about the path.
pub fn classify(result: io::Result<()>) -> Reach {
    match result {
        Ok(()) => Reach::Connected,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Reach::Refused,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Reach::NoConnection(e.to_string()),
        Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) => Reach::NoRoute(e.to_string()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EHOSTUNREACH)) => {
            Reach::NoConnection(e.to_string())
        }
        Err(e) => Reach::Unknown(e.to_string()),
    }
}

/// One bounded TCP connect to `addr`, marked with [`PROBE_MARK`].
pub fn probe_once(addr: SocketAddr, timeout: Duration) -> Reach {
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) => return Reach::Unknown(format!("no socket: {e}")),
    };
    if let Err(e) = socket.set_mark(PROBE_MARK) {
        return Reach::Unknown(format!(
            "cannot mark the probe (SO_MARK needs CAP_NET_ADMIN): {e}"
        ));
    }
    classify(socket.connect_timeout(&SockAddr::from(addr), timeout))
}

/// Whether this server has a route to `addr` for the probe's packets: a
/// UDP connect looks the route up (with the probe's mark) and sends
/// nothing.
pub fn has_route(addr: SocketAddr) -> Result<bool, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("no socket: {e}"))?;
    socket
        .set_mark(PROBE_MARK)
        .map_err(|e| format!("cannot mark the socket: {e}"))?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) => Ok(false),
        Err(e) => Err(format!("cannot look the route up: {e}")),
    }
}

/// A probe thread's answer; one that panicked is "cannot tell", never
/// "no connection".
pub fn joined(handle: JoinHandle<Reach>) -> Reach {
    handle
        .join()
        .unwrap_or_else(|_| Reach::Unknown("the probe thread failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_timeout_eperm_or_no_route_is_no_connection() {
        let os = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(classify(Ok(())), Reach::Connected);
        assert_eq!(classify(os(libc::ECONNREFUSED)), Reach::Refused);
        for n in [libc::EPERM, libc::EHOSTUNREACH, libc::ETIMEDOUT] {
            assert!(matches!(classify(os(n)), Reach::NoConnection(_)), "{n}");
        }
        assert!(matches!(classify(os(libc::ENETUNREACH)), Reach::NoRoute(_)));
        assert!(matches!(
            classify(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out"
            ))),
            Reach::NoConnection(_)
        ));
        // EACCES is PermissionDenied too, and sends nothing.
        for n in [libc::EACCES, libc::EADDRNOTAVAIL, libc::EMFILE] {
            assert!(matches!(classify(os(n)), Reach::Unknown(_)), "{n}");
        }
    }

    #[test]
    fn a_route_is_looked_up_without_sending() {
        // Loopback always has a route; sending nothing needs no privilege
        // beyond the mark, which root has (and which fails clearly otherwise).
        match has_route("127.0.0.1:9".parse().unwrap()) {
            Ok(r) => assert!(r),
            Err(e) => assert!(e.contains("mark"), "{e}"),
        }
    }

    #[test]
    fn a_probe_thread_that_panics_cannot_tell() {
        let h = std::thread::spawn(|| -> Reach { panic!("boom") });
        assert!(matches!(joined(h), Reach::Unknown(_)));
    }
}
