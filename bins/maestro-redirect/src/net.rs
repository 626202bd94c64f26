//! Addresses and names as this tool reads them from its configuration and
//! from INI files, and the random tokens of its proofs. This host's own
//! addresses and bounded name lookups are [`maestro_common::net`]'s.

use maestro_common::net as common;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

pub use maestro_common::net::{join, parse_ip};

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

/// This machine's host name.
pub fn host_name() -> Option<String> {
    use maestro_common::site::SiteHost;
    maestro_common::site::LocalHost
        .host_name()
        .filter(|h| check_host_name(h).is_ok())
}

/// The addresses clients on other machines can reach this host on now:
/// its interfaces' addresses without loopback and link-local ones. Only
/// these are "this server" when a name or a connection is judged.
pub fn routable_here() -> Result<BTreeSet<IpAddr>, String> {
    Ok(common::local_addresses()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|a| common::is_routable(*a))
        .collect())
}

/// Where a name points, as this machine's resolver sees it, within
/// `timeout`, canonical (see [`maestro_common::net::resolve`]).
pub fn resolve(name: &str, timeout: Duration) -> Result<BTreeSet<IpAddr>, String> {
    common::resolve(name, timeout).map_err(|e| e.to_string())
}

/// Resolves many names at once, each bounded by `timeout`.
pub fn resolve_all(
    names: &[String],
    timeout: Duration,
) -> BTreeMap<String, Result<BTreeSet<IpAddr>, String>> {
    common::resolve_all(names, timeout)
        .into_iter()
        .map(|(n, r)| (n, r.map_err(|e| e.to_string())))
        .collect()
}

/// 128 random bits from the kernel, hex: a token a witness must read
/// back, which nobody else can guess. No randomness, no token: a guessable
/// one would prove nothing.
pub fn random_token() -> Result<String, String> {
    let mut buf = [0u8; 16];
    maestro_common::platform::fill_random(&mut buf).map_err(|e| {
        format!(
            "no randomness from the kernel ({}): {e}",
            maestro_common::platform::RANDOM_SOURCE
        )
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
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
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
