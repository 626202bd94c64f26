//! Does the tracker's host name resolve to this server? Mail already sent
//! carries the tracker's name in every link, so after a failover that name
//! must follow to the active server, or every click of every mailing sent
//! before is lost. This host's addresses and the bounded lookup are
//! `maestro_common::net`'s, as every tool has them.

use maestro_common::net;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

pub use maestro_common::net::join;

/// The addresses of this machine's interfaces.
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, String> {
    net::local_addresses().map_err(|e| e.to_string())
}

/// Where a host name points, as this machine's resolver sees it, within `timeout`.
pub fn resolve(host: &str, timeout: Duration) -> Result<BTreeSet<IpAddr>, String> {
    net::resolve(host, timeout).map_err(|e| e.to_string())
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

/// Parse the configured server addresses (`--server-address`); a name is
/// resolved, within `timeout`.
pub fn server_addresses(
    configured: &[String],
    timeout: Duration,
) -> Result<BTreeSet<IpAddr>, String> {
    if configured.is_empty() {
        return local_addresses();
    }
    let mut out = BTreeSet::new();
    for a in configured {
        out.extend(resolve(a, timeout)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    // getifaddrs on Unix, GetAdaptersAddresses on Windows (and Wine).
    #[test]
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
        let v = compare(resolve("127.0.0.1", T).unwrap(), &ours);
        assert_eq!(join(&v.elsewhere), "127.0.0.1");
        let v = compare(resolve("192.0.2.1", T).unwrap(), &ours);
        assert!(v.elsewhere.is_empty());
        assert!(resolve("no-such-host.invalid", T).is_err());
        assert_eq!(
            server_addresses(&["[::ffff:192.0.2.1]".to_string()], T).unwrap(),
            ours,
            "a mapped address is the IPv4 one"
        );
    }
}
