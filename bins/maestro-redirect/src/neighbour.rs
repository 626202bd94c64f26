//! Who holds an address on the link, and telling the neighbours that we
//! do now.
//!
//! IPv4: iputils' `arping` (Debian `iputils-arping`): `-D` is duplicate
//! address detection (an ARP probe from 0.0.0.0; exit 1 and the holder's
//! MAC when someone answers), `-U` sends gratuitous ARP requests, which
//! move the neighbours' ARP entries to our MAC at once.
//!
//! IPv6: `ndisc6` (Debian `ndisc6`) asks who holds the address (a
//! neighbour solicitation; exit 0 and the holder's MAC when answered, 2
//! when nobody does). Debian's ndisc6 has no tool that sends an
//! unsolicited neighbour advertisement, so this module sends it itself
//! (RFC 4861 7.2.6: to all-nodes ff02::1, hop limit 255, the Override flag
//! set, our MAC as the target link-layer address) on a raw ICMPv6 socket,
//! whose checksum the kernel fills in (RFC 3542 3.1).

use maestro_fence::process::{self, RunError};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// What asking the link about an address gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nobody answered: the address is free.
    Free,
    /// Someone holds it; the MAC when the tool printed it.
    Answered { mac: Option<String> },
    /// The probe could not run or said something we cannot read.
    CannotTell(String),
}

fn missing(program: &str, package: &str, e: &RunError) -> String {
    match e {
        RunError::Spawn { .. } => {
            format!("{program} is missing (Debian: apt-get install {package})")
        }
        other => other.to_string(),
    }
}

/// The MAC in `[AA:BB:CC:DD:EE:FF]` (arping) or after "address:" (ndisc6).
fn mac_in(text: &str) -> Option<String> {
    let re = regex::Regex::new(r"([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})").expect("valid regex");
    re.captures(text).map(|c| c[1].to_ascii_lowercase())
}

/// The argv of the probe, for dry runs and for running it.
pub fn probe_command(interface: &str, ip: IpAddr) -> (&'static str, Vec<String>) {
    match ip {
        IpAddr::V4(_) => (
            "arping",
            ["-D", "-c", "2", "-w", "2", "-I", interface, &ip.to_string()]
                .map(String::from)
                .to_vec(),
        ),
        IpAddr::V6(_) => (
            "ndisc6",
            ["-1", "-r", "2", "-w", "500", &ip.to_string(), interface]
                .map(String::from)
                .to_vec(),
        ),
    }
}

/// How long the probe takes when nobody answers: two ARP probes a second
/// apart and arping's `-w 2`; two neighbour solicitations 500ms apart.
pub fn probe_takes(ip: IpAddr) -> Duration {
    match ip {
        IpAddr::V4(_) => Duration::from_secs(2),
        IpAddr::V6(_) => Duration::from_secs(1),
    }
}

/// How long the announcement takes: two gratuitous ARPs a second apart
/// (arping's `-w 2`); two advertisements 200ms apart.
pub fn announce_takes(ip: IpAddr) -> Duration {
    match ip {
        IpAddr::V4(_) => Duration::from_secs(2),
        IpAddr::V6(_) => Duration::from_millis(300),
    }
}

/// Does another machine answer for `ip` on the link? `timeout` bounds the
/// program; less than [`probe_takes`] is refused before it starts (a probe
/// cut short would read as "nobody answers").
pub fn probe(interface: &str, ip: IpAddr, timeout: Duration) -> Probe {
    if timeout < probe_takes(ip) {
        return Probe::CannotTell(format!(
            "the probe takes {}, and only {} of the run is left",
            crate::human(probe_takes(ip)),
            crate::human(timeout)
        ));
    }
    let (program, args) = probe_command(interface, ip);
    let package = if ip.is_ipv4() {
        "iputils-arping"
    } else {
        "ndisc6"
    };
    let out = match process::run(program, &args, b"", timeout) {
        Ok(o) => o,
        Err(e) => return Probe::CannotTell(missing(program, package, &e)),
    };
    let text = format!("{}{}", out.stdout, out.stderr);
    match (ip, out.code) {
        (IpAddr::V4(_), Some(0)) => Probe::Free,
        (IpAddr::V4(_), Some(1)) if text.contains("reply from") => {
            Probe::Answered { mac: mac_in(&text) }
        }
        (IpAddr::V6(_), Some(0)) => Probe::Answered { mac: mac_in(&text) },
        (IpAddr::V6(_), Some(2)) if text.contains("No response") => Probe::Free,
        (_, code) => Probe::CannotTell(format!(
            "{program} exited {}: {}",
            code.map_or("by a signal".to_string(), |c| c.to_string()),
            text.trim().lines().last().unwrap_or("")
        )),
    }
}

/// What the announcement sends, for dry runs and reports.
pub fn announce_text(interface: &str, ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("arping -U -c 2 -w 2 -I {interface} {ip} (gratuitous ARP)"),
        IpAddr::V6(_) => format!(
            "2 unsolicited neighbour advertisements for {ip} to ff02::1 on {interface} (raw ICMPv6)"
        ),
    }
}

/// Tells the link that `ip` is here now, within `timeout` (refused before
/// it starts when that is less than [`announce_takes`]).
pub fn announce(interface: &str, ip: IpAddr, timeout: Duration) -> Result<(), String> {
    if timeout < announce_takes(ip) {
        return Err(format!(
            "the announcement takes {}, and only {} of the run is left",
            crate::human(announce_takes(ip)),
            crate::human(timeout)
        ));
    }
    match ip {
        IpAddr::V4(_) => {
            let args = ["-U", "-c", "2", "-w", "2", "-I", interface, &ip.to_string()]
                .map(String::from)
                .to_vec();
            let out = process::run("arping", &args, b"", timeout)
                .map_err(|e| missing("arping", "iputils-arping", &e))?;
            if out.success() {
                Ok(())
            } else {
                Err(format!(
                    "arping -U exited {:?}: {}",
                    out.code,
                    out.stderr.trim()
                ))
            }
        }
        IpAddr::V6(v6) => {
            let mac = interface_mac(interface)?;
            for i in 0..2 {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(200));
                }
                send_unsolicited_na(interface, v6, mac)?;
            }
            Ok(())
        }
    }
}

/// The interface's MAC, from sysfs (`ip netns exec` mounts the namespace's own).
pub fn interface_mac(interface: &str) -> Result<[u8; 6], String> {
    let path = std::path::PathBuf::from(format!("/sys/class/net/{interface}/address"));
    let text = maestro_common::fsio::read_regular_to_string(&path, 4096)
        .map_err(|e| format!("the MAC of {interface}: {e}"))?;
    parse_mac(text.trim())
        .ok_or_else(|| format!("the MAC of {interface}: {:?} is not one", text.trim()))
}

/// `aa:bb:cc:dd:ee:ff`, as [`probe`] reports a MAC.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

/// The ICMPv6 neighbour advertisement (RFC 4861 4.4): type 136, code 0,
/// checksum (left to the kernel), flags R=0 S=0 O=1, the target, and the
/// target link-layer address option (type 2, length 1 = 8 bytes).
pub fn neighbour_advertisement(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 136;
    p[4] = 0x20; // Override: replace the cached link-layer address
    p[8..24].copy_from_slice(&target.octets());
    p[24] = 2;
    p[25] = 1;
    p[26..32].copy_from_slice(&mac);
    p
}

#[cfg(not(target_os = "linux"))]
fn send_unsolicited_na(interface: &str, target: Ipv6Addr, mac: [u8; 6]) -> Result<(), String> {
    let _ = (interface, target, mac);
    Err("unsolicited neighbour advertisements are sent on Linux only".into())
}

#[cfg(target_os = "linux")]
fn send_unsolicited_na(interface: &str, target: Ipv6Addr, mac: [u8; 6]) -> Result<(), String> {
    let c_if = std::ffi::CString::new(interface).map_err(|_| "bad interface name".to_string())?;
    // SAFETY: a NUL-terminated name; if_nametoindex only reads it.
    let ifindex = unsafe { libc::if_nametoindex(c_if.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {interface}"));
    }
    let os = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain socket calls on a descriptor we own and close below;
    // every pointer passed points at a live local of the size given.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMPV6,
        );
        if fd < 0 {
            return Err(os("raw ICMPv6 socket (needs root or CAP_NET_RAW)"));
        }
        let result = (|| {
            let hops: libc::c_int = 255;
            let set = |opt: libc::c_int, v: &libc::c_int| {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_IPV6,
                    opt,
                    (v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if set(libc::IPV6_MULTICAST_HOPS, &hops) != 0
                || set(libc::IPV6_UNICAST_HOPS, &hops) != 0
            {
                return Err(os("hop limit 255"));
            }
            let idx = ifindex as libc::c_int;
            if set(libc::IPV6_MULTICAST_IF, &idx) != 0 {
                return Err(os("multicast interface"));
            }
            let mut src: libc::sockaddr_in6 = std::mem::zeroed();
            src.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            src.sin6_addr.s6_addr = target.octets();
            if libc::bind(
                fd,
                (&src as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ) != 0
            {
                return Err(os(&format!("bind to {target}")));
            }
            let mut dst: libc::sockaddr_in6 = std::mem::zeroed();
            dst.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            dst.sin6_addr.s6_addr = "ff02::1".parse::<Ipv6Addr>().expect("literal").octets();
            dst.sin6_scope_id = ifindex;
            let packet = neighbour_advertisement(target, mac);
            let n = libc::sendto(
                fd,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&dst as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            );
            if n != packet.len() as isize {
                return Err(os("send the neighbour advertisement"));
            }
            Ok(())
        })();
        libc::close(fd);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertisement_overrides_and_names_our_mac() {
        let target: Ipv6Addr = "2001:db8::20".parse().unwrap();
        let p = neighbour_advertisement(target, [2, 0, 0, 0xaa, 0xbb, 0xcc]);
        assert_eq!((p[0], p[1]), (136, 0));
        assert_eq!(
            p[4] & 0xe0,
            0x20,
            "Override only: not a router, not solicited"
        );
        assert_eq!(&p[8..24], &target.octets());
        assert_eq!((p[24], p[25]), (2, 1));
        assert_eq!(&p[26..], &[2, 0, 0, 0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn macs_are_read_from_tool_output() {
        assert_eq!(
            mac_in("Unicast reply from 198.18.0.10 [B6:C2:22:97:90:AD]  0.563ms").as_deref(),
            Some("b6:c2:22:97:90:ad")
        );
        assert_eq!(
            mac_in("Target link-layer address: B6:C2:22:97:90:AD\n from 2001:2::10").as_deref(),
            Some("b6:c2:22:97:90:ad")
        );
        assert_eq!(
            parse_mac("02:00:00:aa:bb:cc"),
            Some([2, 0, 0, 0xaa, 0xbb, 0xcc])
        );
        assert_eq!(parse_mac("02:00"), None);
    }
}
