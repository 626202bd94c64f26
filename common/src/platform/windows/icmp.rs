//! One ICMP echo through the system's ICMP API (`IcmpSendEcho2`), which
//! needs no administrator rights, where Linux runs the system `ping`.
//! (Windows' `ping` exits 0 on "destination host unreachable", so its exit
//! code cannot be read as Linux's.)

use super::super::IcmpEcho;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    IcmpCloseHandle, IcmpCreateFile, IcmpSendEcho2, ICMP_ECHO_REPLY, IP_SUCCESS,
};

/// What the echo request carries.
const PAYLOAD: &[u8; 32] = b"maestro-watch echo request......";

struct IcmpHandle(HANDLE);

impl Drop for IcmpHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { IcmpCloseHandle(self.0) };
    }
}

pub fn icmp_echo(dest: Ipv4Addr, timeout: Duration) -> io::Result<IcmpEcho> {
    // SAFETY: no arguments; the handle is checked below.
    let handle = unsafe { IcmpCreateFile() };
    if handle == INVALID_HANDLE_VALUE || handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    let handle = IcmpHandle(handle);
    // One reply, the payload echoed, and room for an ICMP error message
    // (8 bytes plus the original header), as the API asks; u64s for the
    // reply's alignment.
    let size = std::mem::size_of::<ICMP_ECHO_REPLY>() + PAYLOAD.len() + 8 + 64;
    let mut buf: Vec<u64> = vec![0; size.div_ceil(8)];
    let ms = timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32;
    // The address as the API takes it: network order in memory.
    let to = u32::from_ne_bytes(dest.octets());
    // SAFETY: no event and no APC: the call is synchronous and bounded by
    // `ms`; the payload and the reply buffer outlive it, their sizes given.
    let count = unsafe {
        IcmpSendEcho2(
            handle.0,
            std::ptr::null_mut(),
            None,
            std::ptr::null(),
            to,
            PAYLOAD.as_ptr().cast(),
            PAYLOAD.len() as u16,
            std::ptr::null(),
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            ms,
        )
    };
    // SAFETY: the buffer is large enough and aligned for one reply; it is
    // zeroed, so a reply the call did not write reads as status 0, which
    // is only believed with a count of at least one.
    let reply = unsafe { &*(buf.as_ptr() as *const ICMP_ECHO_REPLY) };
    if count == 0 {
        let status = match reply.Status {
            0 => io::Error::last_os_error().raw_os_error().unwrap_or(0) as u32,
            s => s,
        };
        return classify_failure(status);
    }
    let from = Ipv4Addr::from(reply.Address.to_ne_bytes());
    Ok(judge_reply(reply.Status, from, dest, reply.RoundTripTime))
}

/// A reply is an answer from `dest` only when its status is success and it
/// came from `dest`.
pub(crate) fn judge_reply(status: u32, from: Ipv4Addr, dest: Ipv4Addr, rtt_ms: u32) -> IcmpEcho {
    if status != IP_SUCCESS {
        return match classify_failure(status) {
            Ok(no) => no,
            Err(e) => IcmpEcho::NoReply(e.to_string()),
        };
    }
    if from != dest {
        return IcmpEcho::NoReply(format!("the echo reply came from {from}, not {dest}"));
    }
    IcmpEcho::Reply { from, rtt_ms }
}

/// An IP_STATUS: what the network said (no reply from the target) or a
/// failure on this side (an error: no evidence about the target).
pub(crate) fn classify_failure(status: u32) -> io::Result<IcmpEcho> {
    let network = |what: &str| Ok(IcmpEcho::NoReply(what.to_string()));
    match status {
        11002 => network("destination network unreachable"),
        11003 => network("destination host unreachable"),
        11004 => network("destination protocol unreachable"),
        11005 => network("destination port unreachable"),
        11009 => network("packet too big"),
        11010 => network("no echo reply in time"),
        11012 => network("bad route"),
        11013 => network("time to live expired in transit"),
        11014 => network("time to live expired during reassembly"),
        11015 => network("parameter problem"),
        11016 => network("source quench"),
        11018 => network("bad destination"),
        11001 => Err(io::Error::other("ICMP: reply buffer too small")),
        11006 => Err(io::Error::other("ICMP: no resources")),
        11007 => Err(io::Error::other("ICMP: bad option")),
        11008 => Err(io::Error::other("ICMP: hardware error")),
        11011 => Err(io::Error::other("ICMP: bad request")),
        11050 => Err(io::Error::other("ICMP: general failure")),
        s if (11000..12000).contains(&s) => Err(io::Error::other(format!("ICMP status {s}"))),
        s => Err(io::Error::from_raw_os_error(s as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_successful_reply_from_the_address_asked_is_an_answer() {
        let dest = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(
            judge_reply(IP_SUCCESS, dest, dest, 3),
            IcmpEcho::Reply {
                from: dest,
                rtt_ms: 3
            }
        );
        // A router's "host unreachable" comes with the router's address.
        let router = Ipv4Addr::new(192, 0, 2, 1);
        assert_eq!(
            judge_reply(11003, router, dest, 0),
            IcmpEcho::NoReply("destination host unreachable".into())
        );
        match judge_reply(IP_SUCCESS, router, dest, 1) {
            IcmpEcho::NoReply(why) => assert!(why.contains("came from 192.0.2.1"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify_failure(11010).unwrap(),
            IcmpEcho::NoReply("no echo reply in time".into())
        );
        // A failure on this side is no evidence about the target.
        assert!(classify_failure(11050).is_err());
        assert!(classify_failure(5).is_err());
    }

    #[test]
    fn loopback_answers_an_echo() {
        let lo = Ipv4Addr::LOCALHOST;
        match icmp_echo(lo, Duration::from_secs(5)).unwrap() {
            IcmpEcho::Reply { from, .. } => assert_eq!(from, lo),
            other => panic!("{other:?}"),
        }
    }
}
