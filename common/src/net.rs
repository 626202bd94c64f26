//! This host on the network: the addresses of its interfaces, the ones
//! that are this host whatever its interfaces (loopback, unspecified), and
//! name lookups through the system resolver with a bound.
//!
//! Every address comes back canonical: an IPv4-mapped IPv6 address
//! (`::ffff:192.0.2.10`, also written `::ffff:c000:20a`) reaches the same
//! host as the plain IPv4 one, so it is compared, blocked and reported as
//! that. In a network namespace the interfaces are the namespace's, as the
//! firewall and the sockets see them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One address of this host and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAddress {
    pub ip: IpAddr,
    /// `loopback range`, `unspecified`, or the interface holding it (`eth0`).
    pub source: String,
}

/// The interfaces could not be listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot list this server's interface addresses: {0}")]
pub struct LocalAddrError(pub String);

/// The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:127.0.0.1`),
/// which reaches the same host as the plain address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Addresses that are this host whatever its interfaces: the loopback
/// ranges (127.0.0.0/8, `::1`) and the unspecified address (a connect to
/// `0.0.0.0` or `::` reaches this host).
pub fn always_own(ip: IpAddr) -> Option<&'static str> {
    let ip = canonical(ip);
    if ip.is_loopback() {
        Some("loopback range")
    } else if ip.is_unspecified() {
        Some("unspecified address: this host")
    } else {
        None
    }
}

/// A link-local address (169.254.0.0/16, fe80::/10): valid on one link
/// only, so no client elsewhere can use it.
pub fn is_link_local(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// An address clients on other machines can reach this host on: neither
/// loopback, unspecified, multicast nor link-local.
pub fn is_routable(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    always_own(ip).is_none() && !ip.is_multicast() && !is_link_local(ip)
}

/// Every address on a local interface, canonical, with the interface's
/// name. An empty list is an error: every host has at least its loopback
/// address, so none means the list is wrong, and whatever needs to know
/// which addresses are this host's fails closed rather than judge from it.
pub fn interface_addresses() -> Result<Vec<OwnAddress>, LocalAddrError> {
    require_some(system_interface_addresses()?)
}

fn require_some(all: Vec<OwnAddress>) -> Result<Vec<OwnAddress>, LocalAddrError> {
    if all.is_empty() {
        return Err(LocalAddrError(
            "the system listed no address at all (not even loopback)".to_string(),
        ));
    }
    Ok(all)
}

/// `getifaddrs`.
#[cfg(unix)]
fn system_interface_addresses() -> Result<Vec<OwnAddress>, LocalAddrError> {
    let list = nix::ifaddrs::getifaddrs().map_err(|e| LocalAddrError(e.to_string()))?;
    let mut out = Vec::new();
    for ifa in list {
        let Some(addr) = ifa.address else { continue };
        let ip = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        out.push(OwnAddress {
            ip: canonical(ip),
            source: ifa.interface_name,
        });
    }
    Ok(out)
}

/// `GetAdaptersAddresses`, each address with its adapter's friendly name.
#[cfg(windows)]
fn system_interface_addresses() -> Result<Vec<OwnAddress>, LocalAddrError> {
    let list = crate::platform::adapter_addresses()
        .map_err(|e| LocalAddrError(format!("GetAdaptersAddresses: {e}")))?;
    Ok(list
        .into_iter()
        .map(|(source, ip)| OwnAddress {
            ip: canonical(ip),
            source,
        })
        .collect())
}

/// The addresses of this host's interfaces, canonical (loopback included).
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, LocalAddrError> {
    Ok(interface_addresses()?.into_iter().map(|a| a.ip).collect())
}

/// Which of `candidates` are addresses of this host, given its interface
/// addresses. Pure, so the rule is tested apart from the machine.
pub fn own_among(candidates: &[IpAddr], interfaces: &[OwnAddress]) -> Vec<OwnAddress> {
    let mut found = Vec::new();
    for &ip in candidates {
        let c = canonical(ip);
        if let Some(why) = always_own(c) {
            found.push(OwnAddress {
                ip,
                source: why.to_string(),
            });
        } else if let Some(a) = interfaces.iter().find(|a| canonical(a.ip) == c) {
            found.push(OwnAddress {
                ip,
                source: format!("on interface {}", a.source),
            });
        }
    }
    found
}

/// Which of `candidates` are addresses of this host, asking the system.
pub fn own_addresses(candidates: &[IpAddr]) -> Result<Vec<OwnAddress>, LocalAddrError> {
    Ok(own_among(candidates, &interface_addresses()?))
}

/// An IP literal, also in brackets (`[2001:db8::1]`), canonical.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    t.parse().ok().map(canonical)
}

/// Why a name gave no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{name} has no address")]
    NoAddress { name: String },
    #[error("cannot resolve {name}: {reason}")]
    Failed { name: String, reason: String },
    #[error("cannot resolve {name}: no answer within {}", crate::duration::HumanDuration(*.after))]
    TimedOut { name: String, after: Duration },
}

/// Where a name (or an IP literal, also in brackets) points, as this
/// host's resolver sees it, within `timeout`, canonical. getaddrinfo has
/// no bound of its own (a dead name server costs its timeout times its
/// retries, per address family) and cannot be cancelled, so the lookup
/// runs on a thread that is left behind at the bound.
pub fn resolve(name: &str, timeout: Duration) -> Result<BTreeSet<IpAddr>, ResolveError> {
    if let Some(ip) = parse_ip(name) {
        return Ok([ip].into());
    }
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    std::thread::spawn(move || {
        let result = (owned.as_str(), 0)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| canonical(a.ip())).collect::<BTreeSet<_>>());
        let _ = tx.send(result);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(ResolveError::NoAddress {
            name: name.to_string(),
        }),
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(ResolveError::Failed {
            name: name.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(ResolveError::TimedOut {
            name: name.to_string(),
            after: timeout,
        }),
    }
}

/// Resolves many names at once, each bounded by `timeout`.
pub fn resolve_all(
    names: &[String],
    timeout: Duration,
) -> BTreeMap<String, Result<BTreeSet<IpAddr>, ResolveError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| (n.clone(), s.spawn(move || resolve(n, timeout))))
            .collect();
        handles
            .into_iter()
            .map(|(n, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(ResolveError::Failed {
                        name: n.clone(),
                        reason: "the lookup failed".into(),
                    })
                });
                (n, r)
            })
            .collect()
    })
}

/// Why no address of a host took a TCP connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No address answered (nor refused) within the time.
    #[error("connection to {} timed out after {}", join_socket_addrs(.addrs), crate::bounded_io::seconds_text(*.after))]
    TimedOut {
        addrs: Vec<SocketAddr>,
        after: Duration,
    },
    /// An address answered with an error (the last one that did): the host
    /// is there and said no.
    #[error("connection to {addr} failed: {error}")]
    Failed {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

fn join_socket_addrs(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One TCP connection to any of `addrs` within `timeout` in all: every
/// address is tried at once and the first to connect wins, the others are
/// dropped. One after the other, each with the whole timeout, two
/// addresses that drop the SYN (an AAAA without a route) would use up twice
/// the timeout before the one that answers was tried. A connect that is
/// still waiting at the bound is left to its own timeout on its thread.
pub fn connect_any(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    for addr in addrs.iter().copied() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let attempt = TcpStream::connect_timeout(&addr, timeout.max(Duration::from_millis(1)));
            let _ = tx.send((addr, attempt));
        });
    }
    drop(tx);
    let mut last = None;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((addr, Ok(stream))) => return Ok((stream, addr)),
            Ok((_, Err(e))) if crate::bounded_io::is_timeout(&e) => {}
            Ok((addr, Err(error))) => last = Some(ConnectError::Failed { addr, error }),
            // Every attempt ended (the channel closed) or the time is up.
            Err(_) => {
                return Err(last.unwrap_or_else(|| ConnectError::TimedOut {
                    addrs: addrs.to_vec(),
                    after: timeout,
                }))
            }
        }
    }
}

/// Addresses for a message: `192.0.2.1, 2001:db8::1`.
pub fn join(addrs: &BTreeSet<IpAddr>) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback address that drops every SYN: a listener whose accept
    /// queue is full (backlog 0, filled, never accepted). Windows resets
    /// such a connect instead, so there is no silent address there.
    #[cfg(unix)]
    fn blackhole() -> (std::net::TcpListener, Vec<TcpStream>, SocketAddr) {
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
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

    #[cfg(unix)]
    #[test]
    fn silent_addresses_do_not_use_up_the_time_of_the_one_that_answers() {
        let (_b1, _h1, silent1) = blackhole();
        let (_b2, _h2, silent2) = blackhole();
        let up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let (_, addr) = connect_any(
            &[silent1, silent2, up.local_addr().unwrap()],
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(addr, up.local_addr().unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let e = connect_any(&[silent1, silent2], Duration::from_millis(500)).unwrap_err();
        assert!(matches!(e, ConnectError::TimedOut { .. }), "{e}");
        assert!(e.to_string().contains("timed out after 0.5 s"), "{e}");
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_refusing_address_is_named_with_its_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = connect_any(&[addr], Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, ConnectError::Failed { .. }), "{e}");
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    }
    use std::time::Instant;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_unspecified_and_mapped_forms_are_always_this_host() {
        for own in [
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "0.0.0.0",
            "::",
            "::ffff:127.0.0.1",
        ] {
            assert!(always_own(ip(own)).is_some(), "{own}");
        }
        for other in [
            "198.18.0.2",
            "2001:db8::2",
            "::ffff:198.18.0.2",
            "128.0.0.1",
        ] {
            assert!(always_own(ip(other)).is_none(), "{other}");
        }
    }

    #[test]
    fn mapped_addresses_are_canonical_in_either_spelling() {
        assert_eq!(canonical(ip("::ffff:c000:20a")), ip("192.0.2.10"));
        assert_eq!(canonical(ip("::ffff:192.0.2.10")), ip("192.0.2.10"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(parse_ip("[::ffff:c000:20a]"), Some(ip("192.0.2.10")));
        assert_eq!(parse_ip(" 192.0.2.1 "), Some(ip("192.0.2.1")));
        assert_eq!(parse_ip("host.example"), None);
    }

    #[test]
    fn routable_means_usable_from_another_machine() {
        for no in [
            "127.0.1.1",
            "::1",
            "0.0.0.0",
            "169.254.1.1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(!is_routable(ip(no)), "{no}");
        }
        for yes in ["198.18.0.2", "2001:db8::2", "10.0.0.1", "::ffff:198.18.0.2"] {
            assert!(is_routable(ip(yes)), "{yes}");
        }
    }

    #[test]
    fn interface_addresses_match_in_either_spelling() {
        let ifs = vec![
            OwnAddress {
                ip: ip("198.18.0.1"),
                source: "veth1".into(),
            },
            OwnAddress {
                ip: ip("2001:db8::1"),
                source: "veth1".into(),
            },
        ];
        let found = own_among(
            &[
                ip("198.18.0.2"),
                ip("::ffff:198.18.0.1"),
                ip("2001:db8::1"),
                ip("127.0.0.1"),
            ],
            &ifs,
        );
        let got: Vec<(String, String)> = found
            .iter()
            .map(|a| (a.ip.to_string(), a.source.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("::ffff:198.18.0.1".into(), "on interface veth1".into()),
                ("2001:db8::1".into(), "on interface veth1".into()),
                ("127.0.0.1".into(), "loopback range".into()),
            ]
        );
    }

    #[test]
    fn an_empty_list_of_interfaces_is_an_error_not_a_host_with_no_address() {
        let e = require_some(Vec::new()).unwrap_err().to_string();
        assert!(e.contains("no address at all"), "{e}");
        let one = vec![OwnAddress {
            ip: ip("127.0.0.1"),
            source: "lo".into(),
        }];
        assert_eq!(require_some(one.clone()).unwrap(), one);
    }

    #[test]
    fn this_machine_has_its_loopback_interface() {
        // getifaddrs (GetAdaptersAddresses on Windows, also under Wine)
        // lists the loopback interface's address, with a name.
        let all = interface_addresses().unwrap();
        assert!(all.iter().any(|a| a.ip == ip("127.0.0.1")), "{all:?}");
        assert!(all.iter().all(|a| !a.source.is_empty()), "{all:?}");
        assert!(own_addresses(&[ip("127.0.0.1")]).unwrap().len() == 1);
        assert!(local_addresses().unwrap().contains(&ip("127.0.0.1")));
    }

    #[test]
    fn lookups_are_bounded_and_literals_need_none() {
        assert_eq!(
            resolve("[::1]", Duration::from_millis(1)).unwrap(),
            [ip("::1")].into()
        );
        assert_eq!(
            resolve("::ffff:127.0.0.1", Duration::from_millis(1)).unwrap(),
            [ip("127.0.0.1")].into()
        );
        let started = Instant::now();
        let e = resolve("no-such-host.invalid", Duration::from_secs(5)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(6));
        assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
        let all = resolve_all(
            &["localhost".to_string(), "192.0.2.1".to_string()],
            Duration::from_secs(5),
        );
        assert_eq!(all["192.0.2.1"], Ok([ip("192.0.2.1")].into()));
        assert!(all["localhost"]
            .as_ref()
            .unwrap()
            .iter()
            .all(|a| a.is_loopback()));
    }
}
