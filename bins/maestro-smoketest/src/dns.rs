//! Does the tracker's host name resolve to this server? Mail already sent
//! carries the tracker's name in every link, so after a failover that name
//! must follow to the active server, or every click of every mailing sent
//! before is lost.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};

/// The addresses of this machine's interfaces (getifaddrs).
#[cfg(unix)]
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, String> {
    let mut out = BTreeSet::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with
    // freeifaddrs; every node is read only while the list is alive.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return Err(format!("getifaddrs: {}", std::io::Error::last_os_error()));
        }
        let mut node = head;
        while !node.is_null() {
            let addr = (*node).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.insert(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.insert(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            node = (*node).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    Ok(out)
}

/// Not built for Windows yet (GetAdaptersAddresses is the way there).
#[cfg(not(unix))]
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, String> {
    Err("listing this machine's addresses is not available on Windows yet".into())
}

/// Where a host name points, as this machine's resolver sees it.
pub fn resolve(host: &str) -> Result<BTreeSet<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok([ip].into());
    }
    let addrs: BTreeSet<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addrs)
}

/// The outcome of comparing the tracker name's addresses with ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsVerdict {
    pub resolved: BTreeSet<IpAddr>,
    /// Resolved addresses that are not this server's.
    pub elsewhere: BTreeSet<IpAddr>,
}

pub fn compare(resolved: BTreeSet<IpAddr>, ours: &BTreeSet<IpAddr>) -> DnsVerdict {
    let elsewhere = resolved
        .iter()
        .filter(|a| !ours.contains(a))
        .copied()
        .collect();
    DnsVerdict {
        resolved,
        elsewhere,
    }
}

/// Parse the configured server addresses (`--server-address`); a name is resolved.
pub fn server_addresses(configured: &[String]) -> Result<BTreeSet<IpAddr>, String> {
    if configured.is_empty() {
        return local_addresses();
    }
    let mut out = BTreeSet::new();
    for a in configured {
        out.extend(resolve(a.trim_start_matches('[').trim_end_matches(']'))?);
    }
    Ok(out)
}

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

    #[test]
    #[cfg(unix)]
    fn loopback_is_a_local_address() {
        let ours = local_addresses().unwrap();
        assert!(
            ours.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()),
            "{ours:?}"
        );
    }

    #[test]
    fn a_name_pointing_elsewhere_is_seen() {
        let ours: BTreeSet<IpAddr> = ["192.0.2.1".parse().unwrap()].into();
        let v = compare(resolve("127.0.0.1").unwrap(), &ours);
        assert_eq!(join(&v.elsewhere), "127.0.0.1");
        let v = compare(resolve("192.0.2.1").unwrap(), &ours);
        assert!(v.elsewhere.is_empty());
        assert!(resolve("no-such-host.invalid").is_err());
    }
}
