//! This host's interface addresses: `GetAdaptersAddresses`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use windows_sys::Win32::Foundation::{ERROR_BUFFER_OVERFLOW, ERROR_NO_DATA, ERROR_SUCCESS};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetAdaptersAddresses, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST,
    IP_ADAPTER_ADDRESSES_LH, IP_ADAPTER_UNICAST_ADDRESS_LH,
};
use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, AF_UNSPEC, SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6,
};

/// Every unicast address of every adapter (up or not: an address the
/// system holds is this host's), with the adapter's friendly name.
pub fn interface_addresses() -> io::Result<Vec<(String, IpAddr)>> {
    let flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    // 15 KB is the size Microsoft suggests to start with; a short buffer
    // is answered with the size needed, which can grow again when an
    // adapter comes between two calls: a few tries.
    let mut size: u32 = 15 * 1024;
    for _ in 0..5 {
        // u64s: the list's structures need 8-byte alignment.
        let mut buf: Vec<u64> = vec![0; (size as usize).div_ceil(8)];
        // SAFETY: the pointer and `size` describe `buf`, which outlives the
        // call; no reserved argument is passed.
        let rc = unsafe {
            GetAdaptersAddresses(
                u32::from(AF_UNSPEC),
                flags,
                std::ptr::null(),
                buf.as_mut_ptr().cast(),
                &mut size,
            )
        };
        match rc {
            // SAFETY: on success `buf` holds the list the call wrote, and
            // its pointers point into `buf`, alive for the read.
            ERROR_SUCCESS => return Ok(unsafe { collect(buf.as_ptr().cast()) }),
            ERROR_BUFFER_OVERFLOW => continue,
            ERROR_NO_DATA => return Ok(Vec::new()),
            e => return Err(io::Error::from_raw_os_error(e as i32)),
        }
    }
    Err(io::Error::other(
        "GetAdaptersAddresses: the list kept growing between calls",
    ))
}

/// The addresses in a list written by `GetAdaptersAddresses`.
///
/// # Safety
/// `first` is null or the head of such a list, alive for the call.
unsafe fn collect(first: *const IP_ADAPTER_ADDRESSES_LH) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut adapter = first;
    // SAFETY (the whole loop): every pointer followed is null or was set
    // by GetAdaptersAddresses to a structure in the caller's buffer.
    while let Some(a) = unsafe { adapter.as_ref() } {
        let mut name = unsafe { wide_text(a.FriendlyName) };
        if name.is_empty() {
            name = unsafe { narrow_text(a.AdapterName) };
        }
        let mut unicast = a.FirstUnicastAddress as *const IP_ADAPTER_UNICAST_ADDRESS_LH;
        while let Some(u) = unsafe { unicast.as_ref() } {
            if let Some(ip) = unsafe { sockaddr_ip(u.Address.lpSockaddr) } {
                out.push((name.clone(), ip));
            }
            unicast = u.Next as *const IP_ADAPTER_UNICAST_ADDRESS_LH;
        }
        adapter = a.Next as *const IP_ADAPTER_ADDRESSES_LH;
    }
    out
}

/// # Safety
/// `sa` is null or points to a socket address of its family's size.
unsafe fn sockaddr_ip(sa: *const SOCKADDR) -> Option<IpAddr> {
    // SAFETY: as the caller promises; the family says which it is.
    let family = unsafe { sa.as_ref() }?.sa_family;
    if family == AF_INET {
        let sin = unsafe { &*(sa as *const SOCKADDR_IN) };
        // S_addr is in network order: its bytes in memory are the octets.
        let octets = unsafe { sin.sin_addr.S_un.S_addr }.to_ne_bytes();
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    } else if family == AF_INET6 {
        let sin6 = unsafe { &*(sa as *const SOCKADDR_IN6) };
        Some(IpAddr::V6(Ipv6Addr::from(unsafe { sin6.sin6_addr.u.Byte })))
    } else {
        None
    }
}

/// # Safety
/// `p` is null or a NUL-terminated UTF-16 string.
pub(super) unsafe fn wide_text(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    // SAFETY: read up to the terminating NUL the caller promises.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

/// # Safety
/// `p` is null or a NUL-terminated byte string.
unsafe fn narrow_text(p: *const u8) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: as the caller promises.
    unsafe { std::ffi::CStr::from_ptr(p.cast()) }
        .to_string_lossy()
        .into_owned()
}
