//! The Unix side of the platform layer.

use super::{FileId, LockKind};
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};

pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

pub fn is_privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn system_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/maestro-ha")
}

pub fn shell_command(line: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", line]);
    cmd
}

pub fn try_lock(file: &File, kind: LockKind) -> io::Result<bool> {
    let op = match kind {
        LockKind::Shared => libc::LOCK_SH,
        LockKind::Exclusive => libc::LOCK_EX,
    };
    // SAFETY: flock on a descriptor we borrow; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

pub fn unlock(file: &File) -> io::Result<()> {
    // SAFETY: as in try_lock.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn file_id(file: &File) -> io::Result<FileId> {
    let meta = file.metadata()?;
    Ok(FileId {
        device: meta.dev(),
        index: meta.ino(),
    })
}

pub fn file_id_at(path: &std::path::Path) -> io::Result<FileId> {
    let meta = std::fs::metadata(path)?;
    Ok(FileId {
        device: meta.dev(),
        index: meta.ino(),
    })
}

pub fn no_follow_no_block(opts: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    opts.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC)
}

/// The process group's id (the child's pid: it leads the group).
pub struct Group(libc::pid_t);

pub fn spawn_group(cmd: &mut Command) -> io::Result<(Child, Group)> {
    let child = cmd.process_group(0).spawn()?;
    let pgid = child.id() as libc::pid_t;
    Ok((child, Group(pgid)))
}

/// Signal the whole group; false once no process of it is left.
fn signal(group: &Group, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) with a negative pid addresses a process group; the
    // group was made for the child and holds only what it started.
    unsafe { libc::kill(-group.0, sig) == 0 }
}

pub fn terminate(group: &Group) {
    signal(group, libc::SIGTERM);
}

pub fn kill(group: &Group) {
    signal(group, libc::SIGKILL);
}

pub fn any_left(group: &Group) -> bool {
    signal(group, 0)
}

pub type RawSocket = std::os::fd::RawFd;

pub fn raw_socket(stream: &std::net::TcpStream) -> RawSocket {
    stream.as_raw_fd()
}

pub fn wait_socket(socket: RawSocket, read: bool, write: bool, wait: std::time::Duration) {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd: socket,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the caller keeps the socket open.
    unsafe {
        libc::poll(
            &mut pfd,
            1,
            wait.as_millis().min(i32::MAX as u128) as libc::c_int,
        );
    }
}

pub fn stat_key(m: &std::fs::Metadata) -> super::StatKey {
    super::StatKey {
        device: m.dev(),
        index: m.ino(),
        size: m.size(),
        mode: m.mode() & 0o7777,
        mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
        ctime_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
    }
}

pub fn file_stat_key(_file: &File, meta: &std::fs::Metadata) -> io::Result<super::StatKey> {
    Ok(stat_key(meta))
}

pub fn stat_key_at(
    _path: &std::path::Path,
    meta: &std::fs::Metadata,
) -> io::Result<super::StatKey> {
    Ok(stat_key(meta))
}

pub const RANDOM_SOURCE: &str = "getrandom";

pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
    Ok(())
}

pub fn boot_clock_ms() -> Option<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(ts.tv_sec.saturating_mul(1000) + ts.tv_nsec / 1_000_000)
}
