//! One TCP connection to a host name, within one timeout in all: every
//! address the name resolves to is tried at once, the first to connect
//! wins. One after the other, each with the whole timeout, two addresses
//! that drop the SYN (an AAAA without a route) would take twice the
//! timeout before the one that answers was tried. The IMAP session and the
//! bounce's SMTP session open their sockets here. The name lookup is
//! bounded by the same timeout.

use std::net::{SocketAddr, TcpStream};
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
    maestro_common::net::connect_any(&addrs, timeout.saturating_sub(started.elapsed()))
        .map(|(stream, _)| stream)
        .map_err(|e| e.to_string())
}
