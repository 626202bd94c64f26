//! Addresses and names: parsing them, this machine's own addresses, and
//! name lookups through the system resolver with a bound (getaddrinfo has
//! none of its own: a dead name server costs its timeout times its retries).

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// An IP literal, also in brackets (`[2001:db8::1]`).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    t.parse().ok()
}

/// A host name as DNS spells it: labels of letters, digits, `-` and `_`,
/// none empty or longer than 63, at most 253 in all, not all-numeric at
/// the end (that would be a mistyped address).
pub fn check_host_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?} is not a host name: {why}"));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("an empty label");
        }
        if label.len() > 63 {
            return bad("a label longer than 63 characters");
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("only letters, digits, '-' and '_' may form a label");
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return bad("the last label is a number");
    }
    Ok(())
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
pub fn split_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{t:?}: no closing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p, t)?,
            None if after.is_empty() => default_port,
            None => return Err(format!("{t:?}: text after ']'")),
        };
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{t:?}: not an IPv6 address in brackets"))?;
        return Ok((host.to_string(), port));
    }
    if t.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((t.to_string(), default_port));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) => (h, parse_port(p, t)?),
        None => (t, default_port),
    };
    if parse_ip(host).is_none() {
        check_host_name(host)?;
    }
    Ok((host.to_string(), port))
}

fn parse_port(p: &str, whole: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{whole:?}: {p:?} is not a port number"))
}

/// The addresses of this machine's interfaces (getifaddrs).
pub fn local_addresses() -> Result<BTreeSet<IpAddr>, String> {
    let mut out = BTreeSet::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below with
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

/// This machine's host name.
pub fn host_name() -> Option<String> {
    use maestro_common::site::SiteHost;
    maestro_common::site::LocalHost
        .host_name()
        .filter(|h| check_host_name(h).is_ok())
}

/// Where a name points, as this machine's resolver sees it, within
/// `timeout` (the lookup runs on a thread that is left behind on timeout:
/// getaddrinfo cannot be cancelled).
pub fn resolve(name: &str, timeout: Duration) -> Result<BTreeSet<IpAddr>, String> {
    if let Some(ip) = parse_ip(name) {
        return Ok([ip].into());
    }
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    std::thread::spawn(move || {
        let result = (owned.as_str(), 0)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect::<BTreeSet<_>>())
            .map_err(|e| e.to_string());
        let _ = tx.send(result);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(format!("{name} has no address")),
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(format!("cannot resolve {name}: {e}")),
        Err(_) => Err(format!(
            "cannot resolve {name}: no answer within {}",
            crate::human(timeout)
        )),
    }
}

/// Resolves many names at once, each bounded by `timeout`.
pub fn resolve_all(
    names: &[String],
    timeout: Duration,
) -> std::collections::BTreeMap<String, Result<BTreeSet<IpAddr>, String>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| (n.clone(), s.spawn(move || resolve(n, timeout))))
            .collect();
        handles
            .into_iter()
            .map(|(n, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(format!("the lookup of {n} failed")));
                (n, r)
            })
            .collect()
    })
}

pub fn join(addrs: &BTreeSet<IpAddr>) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// 128 random bits, hex: the token a witness must read back.
pub fn random_token() -> String {
    let mut buf = [0u8; 16];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // No kernel randomness: the time still makes a token nobody else serves.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            buf.copy_from_slice(&t.to_le_bytes());
            break;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("ns1.example.org", 53).unwrap(),
            ("ns1.example.org".into(), 53)
        );
        assert_eq!(
            split_host_port("192.0.2.1:5353", 53).unwrap(),
            ("192.0.2.1".into(), 5353)
        );
        assert_eq!(
            split_host_port("[2001:db8::1]:25", 53).unwrap(),
            ("2001:db8::1".into(), 25)
        );
        assert_eq!(
            split_host_port("2001:db8::1", 53).unwrap(),
            ("2001:db8::1".into(), 53)
        );
        assert!(split_host_port("host:0", 53).is_err());
        assert!(split_host_port("bad host", 53).is_err());
        assert!(split_host_port("[::1", 53).is_err());
    }

    #[test]
    fn host_names_are_checked() {
        assert!(check_host_name("maestro.example.org").is_ok());
        assert!(check_host_name("_dmarc.example.org").is_ok());
        assert!(check_host_name("maestro1").is_ok());
        assert!(check_host_name("a..b").is_err());
        assert!(check_host_name("10.0.0.300").is_err());
        assert!(check_host_name("a b").is_err());
        assert!(check_host_name("").is_err());
    }

    #[test]
    fn lookups_are_bounded_and_literals_need_none() {
        assert_eq!(
            resolve("[::1]", Duration::from_millis(1)).unwrap(),
            ["::1".parse().unwrap()].into()
        );
        assert!(resolve("no-such-host.invalid", Duration::from_secs(5)).is_err());
        let ours = local_addresses().unwrap();
        assert!(ours.contains(&"127.0.0.1".parse().unwrap()), "{ours:?}");
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
