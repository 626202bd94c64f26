//! Tokens served on this server while the witnesses connect: a connection
//! that reads one back landed here, not on the old primary (which cannot
//! know a token made for this run). Each connection gets a token of its
//! own, and the server notes who fetched it (the peer's address) and on
//! which of this host's addresses it arrived: a token read through a proxy
//! on another machine, or on another address than the one the witness
//! connected to, proves nothing about that address.
//!
//! The answer is a minimal HTTP response, so a firewall or proxy that
//! expects HTTP passes it. Maestro is not running yet at this step of the
//! runbook, so its port is normally free.

use maestro_common::net::canonical;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The start of the line a witness must read back.
const PREFIX: &str = "maestro-redirect-token ";

/// At most this many fetches are remembered: a flood of connections
/// cannot grow the server's memory.
const MAX_FETCHES: usize = 4096;

/// The line a witness must read back.
pub fn token_line(token: &str) -> String {
    format!("{PREFIX}{token}")
}

/// One token handed out: to whom, on which address of this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub token: String,
    /// The connection's source, canonical.
    pub peer: IpAddr,
    /// The address of this host it arrived on, canonical.
    pub local: IpAddr,
}

/// Where the tokens are served, or why they are not.
pub enum Listen {
    Serving(TokenServer),
    /// Something already listens on the port here (Maestro itself, after
    /// the start): no token can be served there.
    PortInUse,
}

pub struct TokenServer {
    pub addr: SocketAddr,
    fetches: Arc<Mutex<Vec<Fetch>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

fn listener(addr: SocketAddr, freebind: bool, dual_stack: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if freebind {
        // Bound before the address is on an interface (the `ip` method
        // listens first, so that a port in use stops it before it
        // changes anything); it takes connections once the address is added.
        if addr.is_ipv4() {
            socket.set_freebind_v4(true)?;
        } else {
            socket.set_freebind_v6(true)?;
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = freebind;
    socket.bind(&addr.into())?;
    socket.listen(64)?;
    Ok(socket.into())
}

impl TokenServer {
    /// Serves tokens on `ip:port`; with `freebind`, `ip` need not be on an
    /// interface yet.
    pub fn on_address(ip: IpAddr, port: u16, freebind: bool) -> Result<Listen, String> {
        Self::start(SocketAddr::new(ip, port), freebind, false)
    }

    /// Serves tokens on every address of this host (IPv6 and IPv4 where
    /// the host has IPv6, else IPv4).
    pub fn on_every_address(port: u16) -> Result<Listen, String> {
        match Self::start(
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            false,
            true,
        ) {
            Err(_) => Self::start(
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
                false,
                false,
            ),
            other => other,
        }
    }

    fn start(addr: SocketAddr, freebind: bool, dual_stack: bool) -> Result<Listen, String> {
        let listener = match listener(addr, freebind, dual_stack) {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::AddrInUse => return Ok(Listen::PortInUse),
            Err(e) => return Err(format!("cannot listen on {addr}: {e}")),
        };
        let bound = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
        listener.set_nonblocking(true).map_err(bound)?;
        let addr = listener.local_addr().map_err(bound)?;
        // No randomness, no server: fail before any witness is asked.
        crate::net::random_token()?;
        let stop = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (stop.clone(), fetches.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, peer)) => serve(stream, peer, &log),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Listen::Serving(TokenServer {
            addr,
            fetches,
            stop,
            handle: Some(handle),
        }))
    }

    /// The fetch whose token `received` holds, if it is one of this server's.
    pub fn fetch_of(&self, received: &[u8]) -> Option<Fetch> {
        let text = String::from_utf8_lossy(received);
        let token = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(PREFIX))?
            .trim()
            .to_string();
        self.fetches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|f| f.token == token)
            .cloned()
    }

    /// Every fetch so far.
    pub fn fetches(&self) -> Vec<Fetch> {
        self.fetches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn serve(mut stream: std::net::TcpStream, peer: SocketAddr, log: &Mutex<Vec<Fetch>>) {
    let Ok(token) = crate::net::random_token() else {
        return;
    };
    let local = match stream.local_addr() {
        Ok(a) => canonical(a.ip()),
        Err(_) => return,
    };
    {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= MAX_FETCHES {
            return;
        }
        log.push(Fetch {
            token: token.clone(),
            peer: canonical(peer.ip()),
            local,
        });
    }
    let answer = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{}\n",
        token_line(&token)
    );
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What a peer answered, shortened and printable, for a message.
pub fn shown(received: &[u8]) -> String {
    let text = String::from_utf8_lossy(received);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let short: String = line.chars().take(80).collect();
    if short.is_empty() {
        "nothing".to_string()
    } else {
        format!("{short:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_all(addr: SocketAddr) -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    }

    #[test]
    fn each_connection_reads_its_own_token_and_the_server_knows_who_fetched_it() {
        let Listen::Serving(server) =
            TokenServer::on_address("127.0.0.1".parse().unwrap(), 0, false).unwrap()
        else {
            panic!("port 0 is never in use");
        };
        let (a, b) = (read_all(server.addr), read_all(server.addr));
        let (fa, fb) = (server.fetch_of(&a).unwrap(), server.fetch_of(&b).unwrap());
        assert_ne!(fa.token, fb.token);
        assert_eq!(fa.peer, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(fa.local, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(server.fetches().len(), 2);
        // Another run's token, or none: not this server's.
        assert_eq!(
            server.fetch_of(format!("{PREFIX}0123456789abcdef").as_bytes()),
            None
        );
        assert_eq!(server.fetch_of(b"HTTP/1.0 200 OK\r\n\r\nold-primary"), None);
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(matches!(
            TokenServer::on_address("127.0.0.1".parse().unwrap(), port, false).unwrap(),
            Listen::PortInUse
        ));
        assert!(matches!(
            TokenServer::on_every_address(port).unwrap(),
            Listen::PortInUse
        ));
        assert_eq!(
            shown(b"\r\nHTTP/1.1 403 Forbidden\r\n"),
            "\"HTTP/1.1 403 Forbidden\""
        );
    }

    #[test]
    fn every_address_serves_both_families_and_an_address_not_here_yet_can_be_bound() {
        let Listen::Serving(server) = TokenServer::on_every_address(0).unwrap() else {
            panic!("port 0 is never in use");
        };
        let port = server.addr.port();
        let got = read_all(SocketAddr::new("127.0.0.1".parse().unwrap(), port));
        let f = server.fetch_of(&got).unwrap();
        assert_eq!(f.local, "127.0.0.1".parse::<IpAddr>().unwrap(), "canonical");
        // 192.0.2.1 (TEST-NET-1) is on no interface here.
        let not_here: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(TokenServer::on_address(not_here, 0, false).is_err());
        assert!(matches!(
            TokenServer::on_address(not_here, 0, true),
            Ok(Listen::Serving(_))
        ));
    }
}
