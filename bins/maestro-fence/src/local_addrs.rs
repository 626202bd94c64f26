//! The addresses of this host, so that a fence never acts on them.
//!
//! Dropping traffic to one of this server's own addresses cuts the
//! failover off from itself (its own services on loopback stop answering)
//! while the real primary runs on, and the rules still list back as if the
//! primary were isolated. So before `isolate` changes anything, every
//! address it would block is compared with the loopback and unspecified
//! ranges and with every address on a local interface (`getifaddrs`, which
//! in a network namespace sees that namespace's interfaces, as the firewall
//! does).

use std::net::IpAddr;

/// One address of this host and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAddress {
    pub ip: IpAddr,
    /// `loopback range`, `unspecified`, or the interface holding it (`eth0`).
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot list this server's interface addresses: {0}")]
#[cfg(unix)]
pub struct LocalAddrError(#[from] nix::Error);

#[derive(Debug, thiserror::Error)]
#[error("cannot list this server's interface addresses: {0}")]
#[cfg(not(unix))]
pub struct LocalAddrError(String);

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

/// Not built for Windows yet (GetAdaptersAddresses is the way there).
#[cfg(not(unix))]
pub fn interface_addresses() -> Result<Vec<OwnAddress>, LocalAddrError> {
    Err(LocalAddrError("not available on Windows yet".into()))
}

/// Every address on a local interface, with the interface's name.
#[cfg(unix)]
pub fn interface_addresses() -> Result<Vec<OwnAddress>, LocalAddrError> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn this_machine_has_its_loopback_interface() {
        // getifaddrs works here and lists lo's address.
        let all = interface_addresses().unwrap();
        assert!(all.iter().any(|a| a.ip == ip("127.0.0.1")), "{all:?}");
        assert!(own_addresses(&[ip("127.0.0.1")]).unwrap().len() == 1);
    }
}
