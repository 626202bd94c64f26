//! The connect probe: from this server, a bounded TCP connect to the
//! primary, its packets marked so that the fence's own probe rule counts
//! them (see [`crate::firewall`]).

#[cfg(target_os = "linux")]
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
    /// No connection: timed out, or a host that is unreachable. Proof of
    /// the fence only when its own rule counted the probe's SYNs (Linux);
    /// never on Windows, where an enforced block refuses the connect
    /// itself (see [`crate::winfw::judge_probe`]).
    NoConnection(String),
    /// Refused by this server before anything left it: a filter here
    /// dropped the connect and the system said so (EPERM on Linux,
    /// WSAEACCES on Windows).
    Blocked(String),
    /// "Network is unreachable": no route from here (nothing was sent), or
    /// a router on the way said so (the SYN left this server). Which one,
    /// [`has_route`] tells.
    NoRoute(String),
    /// The connect failed for a reason that says nothing about the path to
    /// the primary (no free port, no descriptor, EACCES from a security
    /// module, a probe that could not be marked): cannot tell.
    Unknown(String),
}

/// How a connect's error reads. Only a timeout, a refusal by a filter
/// here (EPERM on Linux, WSAEACCES on Windows), an unreachable host or
/// network mean no connection; anything else (EACCES on Linux, which
/// `ErrorKind::PermissionDenied` also covers) says nothing about the path.
pub fn classify(result: io::Result<()>) -> Reach {
    match result {
        Ok(()) => Reach::Connected,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Reach::Refused,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Reach::NoConnection(e.to_string()),
        Err(e) if e.raw_os_error() == Some(codes::NETUNREACH) => Reach::NoRoute(e.to_string()),
        Err(e) if e.raw_os_error() == Some(codes::BLOCKED) => Reach::Blocked(e.to_string()),
        Err(e) if e.raw_os_error() == Some(codes::HOSTUNREACH) => {
            Reach::NoConnection(e.to_string())
        }
        Err(e) => Reach::Unknown(e.to_string()),
    }
}

/// The system's error numbers the probe tells apart.
#[cfg(unix)]
mod codes {
    pub const NETUNREACH: i32 = libc::ENETUNREACH;
    pub const HOSTUNREACH: i32 = libc::EHOSTUNREACH;
    /// A netfilter rule here dropped the SYN.
    pub const BLOCKED: i32 = libc::EPERM;
}

/// Winsock's numbers (WSAENETUNREACH, WSAEHOSTUNREACH, WSAEACCES).
#[cfg(windows)]
mod codes {
    pub const NETUNREACH: i32 = 10051;
    pub const HOSTUNREACH: i32 = 10065;
    /// A Windows Filtering Platform filter (a firewall block rule) refused
    /// the connect on this server.
    pub const BLOCKED: i32 = 10013;
}

/// Mark the probe's packets with [`PROBE_MARK`] (SO_MARK), so that the
/// fence's own firewall rule counts them. Linux only; on Windows nothing
/// is marked, and other systems refuse the probe.
fn mark(socket: &Socket) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        socket.set_mark(PROBE_MARK)
    }
    #[cfg(windows)]
    {
        // Nothing marks a packet there: the Windows probe is judged without
        // a per-rule counter (see `crate::winfw::judge_probe`).
        let _ = socket;
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = socket;
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "SO_MARK exists on Linux only",
        ))
    }
}

/// One bounded TCP connect to `addr`, marked with [`PROBE_MARK`].
pub fn probe_once(addr: SocketAddr, timeout: Duration) -> Reach {
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) => return Reach::Unknown(format!("no socket: {e}")),
    };
    if let Err(e) = mark(&socket) {
        return Reach::Unknown(format!(
            "cannot mark the probe (SO_MARK needs CAP_NET_ADMIN): {e}"
        ));
    }
    classify(socket.connect_timeout(&SockAddr::from(addr), timeout))
}

/// One bounded TCP connect to `addr`, not marked.
#[cfg(test)]
fn connect_plain(addr: SocketAddr, timeout: Duration) -> Reach {
    match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => classify(s.connect_timeout(&SockAddr::from(addr), timeout)),
        Err(e) => Reach::Unknown(format!("no socket: {e}")),
    }
}

/// Whether this server has a route to `addr` for the probe's packets: a
/// UDP connect looks the route up (with the probe's mark) and sends
/// nothing.
pub fn has_route(addr: SocketAddr) -> Result<bool, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("no socket: {e}"))?;
    mark(&socket).map_err(|e| format!("cannot mark the socket: {e}"))?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(codes::NETUNREACH) => Ok(false),
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

    #[cfg(unix)]
    #[test]
    fn only_a_timeout_eperm_or_no_route_is_no_connection() {
        let os = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(classify(Ok(())), Reach::Connected);
        assert_eq!(classify(os(libc::ECONNREFUSED)), Reach::Refused);
        for n in [libc::EHOSTUNREACH, libc::ETIMEDOUT] {
            assert!(matches!(classify(os(n)), Reach::NoConnection(_)), "{n}");
        }
        assert!(matches!(classify(os(libc::EPERM)), Reach::Blocked(_)));
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

    /// Winsock's numbers, as Windows gives them (run under Wine).
    #[cfg(windows)]
    #[test]
    fn winsock_errors_read_as_on_linux() {
        let os = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(classify(os(10061)), Reach::Refused);
        assert!(matches!(classify(os(10060)), Reach::NoConnection(_)));
        assert!(matches!(classify(os(10065)), Reach::NoConnection(_)));
        assert!(matches!(classify(os(10051)), Reach::NoRoute(_)));
        assert!(matches!(classify(os(10013)), Reach::Blocked(_)));
        assert!(matches!(classify(os(10049)), Reach::Unknown(_)));
    }

    #[test]
    fn a_plain_connect_to_a_listener_connects() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        assert_eq!(connect_plain(a, Duration::from_secs(2)), Reach::Connected);
        drop(l);
        assert_eq!(connect_plain(a, Duration::from_secs(2)), Reach::Refused);
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
