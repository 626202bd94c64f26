//! A token served on this server while the witnesses connect: a
//! connection that reads it back landed here, not on the old primary
//! (which cannot know a token made for this run). Maestro is not running
//! yet at this step of the runbook, so its port is free; the answer is a
//! minimal HTTP response, so a firewall or proxy that expects HTTP passes it.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The line a witness must read back.
pub fn token_line(token: &str) -> String {
    format!("maestro-redirect-token {token}")
}

/// Where the token is served, or why it is not.
pub enum Listen {
    /// Serving on this address and port.
    Serving(TokenServer),
    /// Something already listens on the port (Maestro itself, after the
    /// start): a connection proves reachability, not where it landed.
    PortInUse,
}

pub struct TokenServer {
    pub addr: SocketAddr,
    pub token: String,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    handle: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Serves a fresh token on `ip:port`. An address that is not this
    /// host's (a NAT's public address) is served on every address instead.
    pub fn start(ip: IpAddr, port: u16) -> Result<Listen, String> {
        let token = crate::net::random_token();
        let listener = match TcpListener::bind((ip, port)) {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::AddrInUse => return Ok(Listen::PortInUse),
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {
                let any: IpAddr = if ip.is_ipv4() {
                    std::net::Ipv4Addr::UNSPECIFIED.into()
                } else {
                    std::net::Ipv6Addr::UNSPECIFIED.into()
                };
                match TcpListener::bind((any, port)) {
                    Ok(l) => l,
                    Err(e) if e.kind() == ErrorKind::AddrInUse => return Ok(Listen::PortInUse),
                    Err(e) => return Err(format!("cannot listen on port {port}: {e}")),
                }
            }
            Err(e) => return Err(format!("cannot listen on {ip} port {port}: {e}")),
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot listen on {ip} port {port}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {ip} port {port}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let answer = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{}\n",
            token_line(&token)
        );
        let (flag, count) = (stop.clone(), served.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                        if stream.write_all(answer.as_bytes()).is_ok() {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Listen::Serving(TokenServer {
            addr,
            token,
            stop,
            served,
            handle: Some(handle),
        }))
    }

    /// How many connections read the token.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Whether `received` holds this server's token.
    pub fn matches(&self, received: &[u8]) -> bool {
        String::from_utf8_lossy(received).contains(&token_line(&self.token))
    }
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

    #[test]
    fn a_connection_reads_the_token_and_a_used_port_is_told() {
        let Listen::Serving(server) = TokenServer::start("127.0.0.1".parse().unwrap(), 0).unwrap()
        else {
            panic!("port 0 is never in use");
        };
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert!(server.matches(&got), "{}", String::from_utf8_lossy(&got));
        assert_eq!(server.served(), 1);
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(matches!(
            TokenServer::start("127.0.0.1".parse().unwrap(), port).unwrap(),
            Listen::PortInUse
        ));
        assert!(!server.matches(b"HTTP/1.0 200 OK\r\n\r\nsomething else"));
        assert_eq!(
            shown(b"\r\nHTTP/1.1 403 Forbidden\r\n"),
            "\"HTTP/1.1 403 Forbidden\""
        );
    }
}
