//! What differs between Unix and Windows, in one place, so that the tools
//! themselves hold no `cfg`: the host name, a child run in a group of its
//! own that can be ended whole (a process group on Unix, a Job Object on
//! Windows), advisory file locks (`flock`, `LockFileEx`), the identity of
//! an open file (device and inode; volume serial and file index), the shell
//! a command line runs in, and where state lives by default.
//!
//! Each OS has its own module with the same functions; this one picks it
//! and adds what is the same on both.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

use std::fs::File;
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// This machine's host name, as the OS reports it (`gethostname`;
/// the DNS host name on Windows); `None` when it cannot be read.
pub fn host_name() -> Option<String> {
    imp::host_name().filter(|h| !h.is_empty())
}

/// Whether this process runs with full rights over the machine: root on
/// Unix, an elevated administrator on Windows. It decides the default
/// state folder (the system's or the user's).
pub fn is_privileged() -> bool {
    imp::is_privileged()
}

/// The system-wide folder of state when privileged: `/var/lib/maestro-ha`
/// on Unix, `%ProgramData%\maestro-ha` on Windows.
pub fn system_state_dir() -> std::path::PathBuf {
    imp::system_state_dir()
}

/// The folder of the configuration (`config.toml`, `known_hosts`):
/// `/etc/maestro-ha` on Unix, `%ProgramData%\maestro-ha` on Windows (the
/// same folder as the state there).
pub fn config_dir() -> std::path::PathBuf {
    #[cfg(unix)]
    {
        std::path::PathBuf::from("/etc/maestro-ha")
    }
    #[cfg(windows)]
    {
        imp::system_state_dir()
    }
}

/// A command line run by the system's shell: `/bin/sh -c LINE` on Unix,
/// `cmd.exe /C LINE` on Windows.
pub fn shell_command(line: &str) -> Command {
    imp::shell_command(line)
}

/// Our own stderr, for a child to write to (so that its output never mixes
/// with ours on stdout); `/dev/null` (NUL) when it cannot be shared.
pub fn stderr_for_child() -> std::process::Stdio {
    #[cfg(unix)]
    let shared = {
        use std::os::fd::AsFd;
        io::stderr().as_fd().try_clone_to_owned()
    };
    #[cfg(windows)]
    let shared = {
        use std::os::windows::io::AsHandle;
        io::stderr().as_handle().try_clone_to_owned()
    };
    match shared {
        Ok(h) => std::process::Stdio::from(h),
        Err(_) => std::process::Stdio::null(),
    }
}

/// Whether a file may be run as a program: a regular file with an execute
/// bit on Unix; a regular file on Windows (where the ACL decides at run
/// time).
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The permission bits a file created by this open gets (before the
/// umask) on Unix; nothing on Windows, where a new file inherits its
/// folder's ACL.
pub fn create_mode(opts: &mut std::fs::OpenOptions, mode: u32) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        opts
    }
}

/// A socket as the OS names it, kept beside a library (libssh2) that owns
/// the stream: a descriptor on Unix, a SOCKET on Windows.
pub type RawSocket = imp::RawSocket;

/// The OS's name of a stream's socket, valid while the stream is open.
pub fn raw_socket(stream: &std::net::TcpStream) -> RawSocket {
    imp::raw_socket(stream)
}

/// Wait at most `wait` until `socket` is ready to read (`read`) or write
/// (`write`): `poll(2)` on Unix, `WSAPoll` on Windows. The answer is not
/// returned: callers retry their operation and check their own deadline.
pub fn wait_socket(socket: RawSocket, read: bool, write: bool, wait: Duration) {
    imp::wait_socket(socket, read, write, wait)
}

/// Create `dir` (and its parents) for state only its owner may read: mode
/// 0700 on Unix; on Windows a protected DACL (nothing inherited from where
/// it is made: `%ProgramData%` lets every user read) with full control for
/// this process's user, Administrators and SYSTEM, inherited by what is
/// made inside. Every folder this call creates gets it; a folder that
/// existed is left as it was. An ACL that cannot be set is an error (a
/// folder every user can read is not made quietly).
pub fn create_private_dir(dir: &std::path::Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(windows)]
    {
        let missing: Vec<&std::path::Path> = dir
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .collect();
        std::fs::create_dir_all(dir)?;
        // Outermost first, so no moment has a new inner folder under a
        // new outer one that still inherits the parent's ACL.
        for p in missing.iter().rev() {
            imp::acl::restrict_to_owner(p).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot restrict {} to its owner, Administrators and SYSTEM: {e}",
                        p.display()
                    ),
                )
            })?;
        }
        Ok(())
    }
}

/// Why every user of the machine can read a file, and how to stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EveryoneReads {
    /// `mode 0644`; `its ACL lets Everyone read it`.
    pub why: String,
    /// The command that takes the right away.
    pub fix: String,
}

/// Whether every user of the machine can read `path`; `None` when they
/// cannot or it cannot be told. Unix reads the mode's "other" read bit;
/// Windows reads the DACL: an allow ACE with a read right for Everyone,
/// Authenticated Users or Users (or no DACL at all).
pub fn readable_by_everyone(path: &std::path::Path) -> Option<EveryoneReads> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o004 != 0).then(|| EveryoneReads {
            why: format!("mode {:04o}", mode & 0o7777),
            fix: format!("chmod o-rwx {}", path.display()),
        })
    }
    #[cfg(windows)]
    {
        let group = imp::acl::readable_by_everyone(path)?;
        Some(EveryoneReads {
            why: format!("its ACL lets {group} read it"),
            fix: format!(
                "icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%\":F Administrators:F SYSTEM:F",
                path.display()
            ),
        })
    }
}

/// Give `path` the DACL written in SDDL (`D:P(A;OICI;FA;;;SY)…`); a DACL
/// marked protected (`D:P`) inherits nothing from the parent. Windows only.
#[cfg(windows)]
pub fn set_dacl(path: &std::path::Path, sddl: &str) -> io::Result<()> {
    imp::acl::set_dacl(path, sddl)
}

/// This host's interface addresses on Windows, with the adapter's name:
/// `GetAdaptersAddresses` (Unix lists them with `getifaddrs`, in
/// [`crate::net`]).
#[cfg(windows)]
pub fn adapter_addresses() -> io::Result<Vec<(String, std::net::IpAddr)>> {
    imp::interface_addresses()
}

/// What one ICMP echo request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcmpEcho {
    /// An echo reply with success, from the address asked.
    Reply {
        from: std::net::Ipv4Addr,
        rtt_ms: u32,
    },
    /// What the network said instead (unreachable, no reply in time, a
    /// reply from another address).
    NoReply(String),
}

/// One ICMP echo to `dest` within `timeout`, through the system's ICMP API
/// (`IcmpSendEcho2`, no administrator rights needed). An error is a failure
/// on this side (no ICMP handle, no resources), not evidence about `dest`.
/// Windows only: on Linux tools run the system `ping`.
#[cfg(windows)]
pub fn icmp_echo(dest: std::net::Ipv4Addr, timeout: Duration) -> io::Result<IcmpEcho> {
    imp::icmp::icmp_echo(dest, timeout)
}

/// What a capture compares of a file's metadata to tell whether it changed
/// while read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatKey {
    /// Device and inode on Unix; 0 and 0 on Windows (std's metadata does
    /// not carry the file index: [`file_id`] reads it from a handle).
    pub device: u64,
    pub index: u64,
    pub size: u64,
    /// The permission bits on Unix; 0 on Windows, where the ACL decides.
    pub mode: u32,
    /// Last modification, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Last change of data or metadata (ctime) on Unix; in [`stat_key`] the
    /// last write on Windows (std does not give NTFS's change time:
    /// [`file_stat_key`] and [`stat_key_at`] read it).
    pub ctime_ns: i64,
}

/// The [`StatKey`] of a file's metadata. On Windows it lacks the file index
/// and the change time: use [`file_stat_key`] or [`stat_key_at`] where a
/// replaced or changed file must be told.
pub fn stat_key(meta: &std::fs::Metadata) -> StatKey {
    imp::stat_key(meta)
}

/// The whole [`StatKey`] of an open file whose metadata is `meta`: the same
/// as [`stat_key`] on Unix (no further call); on Windows read from the
/// handle: volume serial number, file index, and NTFS's change time
/// (FILE_BASIC_INFO), which a rename or a rewrite moves and the usual
/// calls cannot set back, as Linux's ctime.
pub fn file_stat_key(file: &File, meta: &std::fs::Metadata) -> io::Result<StatKey> {
    imp::file_stat_key(file, meta)
}

/// The whole [`StatKey`] of what `path` names itself (a final link not
/// followed), whose `lstat` gave `meta`: [`stat_key`] on Unix; on Windows
/// the path is opened (attributes only, every sharing allowed, no link
/// followed) and read as [`file_stat_key`].
pub fn stat_key_at(path: &std::path::Path, meta: &std::fs::Metadata) -> io::Result<StatKey> {
    imp::stat_key_at(path, meta)
}

/// Whether an open or a read failed because another program holds the file
/// open without sharing, or holds a lock on the range read: Windows'
/// ERROR_SHARING_VIOLATION and ERROR_LOCK_VIOLATION. Never on Unix, whose
/// locks are advisory.
pub fn is_locked_by_another(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        let _ = e;
        false
    }
    #[cfg(windows)]
    {
        imp::is_locked_by_another(e)
    }
}

/// Whether a file type is a stream a tool may write its output into: a FIFO
/// or a character device (a terminal, `/dev/null`) on Unix; none on Windows,
/// where such names are not files.
pub fn is_stream_type(ft: std::fs::FileType) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        ft.is_fifo() || ft.is_char_device()
    }
    #[cfg(not(unix))]
    {
        let _ = ft;
        false
    }
}

/// Fill `buf` from `file` at `offset`, without using or moving its read
/// position on Unix (`pread`); on Windows the position moves.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut got = 0;
        while got < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[got..],
                offset + got as u64,
            )?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                ));
            }
            got += n;
        }
        Ok(())
    }
}

/// Fill `buf` with random bytes from the OS (`getrandom(2)`;
/// `BCryptGenRandom` on Windows).
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    imp::fill_random(buf)
}

/// The OS call behind [`fill_random`], for messages.
pub const RANDOM_SOURCE: &str = imp::RANDOM_SOURCE;

/// The boot clock in milliseconds: monotonic, counting the time the host
/// was suspended, from the host's boot (`CLOCK_BOOTTIME`; `GetTickCount64`
/// on Windows, which counts sleep and hibernation too). `None` when it
/// cannot be read.
pub fn boot_clock_ms() -> Option<i64> {
    imp::boot_clock_ms()
}

/// Which kind of advisory lock to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once, none while an exclusive one is held.
    Shared,
    /// One holder only.
    Exclusive,
}

/// Take an advisory lock on the whole of `file` without waiting: `Ok(true)`
/// when taken, `Ok(false)` when another open file holds a conflicting one.
/// The lock goes away when the file is closed (or the process dies), or
/// with [`unlock`]. `flock(2)` on Unix; `LockFileEx` on Windows.
pub fn try_lock(file: &File, kind: LockKind) -> io::Result<bool> {
    imp::try_lock(file, kind)
}

/// Release a lock taken with [`try_lock`].
pub fn unlock(file: &File) -> io::Result<()> {
    imp::unlock(file)
}

/// What names a file whatever its path: the device and inode on Unix, the
/// volume serial number and file index on Windows. Two opens of the same
/// file give the same identity; a file put in the place of another (a log
/// rotated) gives a different one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub device: u64,
    pub index: u64,
}

/// The identity of an open file.
pub fn file_id(file: &File) -> io::Result<FileId> {
    imp::file_id(file)
}

/// The identity of the file `path` names now (links followed).
pub fn file_id_at(path: &std::path::Path) -> io::Result<FileId> {
    imp::file_id_at(path)
}

/// Options that make an open neither follow a final symbolic link (or
/// other reparse point) nor block (on a FIFO with no writer, say), and not
/// pass the descriptor to children. `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
/// O_CLOEXEC` on Unix; `FILE_FLAG_OPEN_REPARSE_POINT` on Windows, where an
/// open never blocks and handles are not inherited unless asked.
pub fn no_follow_no_block(opts: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    imp::no_follow_no_block(opts)
}

/// A child started in a group of its own, so that everything it starts can
/// be ended with it: a new process group on Unix, a Job Object on Windows.
pub struct GroupChild {
    child: Child,
    group: imp::Group,
}

/// How a bounded wait for a [`GroupChild`] ended.
#[derive(Debug)]
pub enum GroupEnd {
    /// The child exited by itself within the time.
    Exited(ExitStatus),
    /// The time ran out (or the child could not be waited for): the group
    /// was ended.
    TimedOut,
    /// `stop` said to stop: the group was ended.
    Interrupted,
}

impl GroupChild {
    /// Start `cmd` in a new group.
    pub fn spawn(cmd: &mut Command) -> io::Result<GroupChild> {
        imp::spawn_group(cmd).map(|(child, group)| GroupChild { child, group })
    }

    /// The child itself (its pipes, its id).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Ask the whole group to end: SIGTERM to the group on Unix. Windows has
    /// no such request for console programs: there it ends the group at
    /// once, as [`GroupChild::kill`].
    pub fn terminate(&self) {
        imp::terminate(&self.group)
    }

    /// End every process of the group at once (SIGKILL, TerminateJobObject).
    pub fn kill(&self) {
        imp::kill(&self.group)
    }

    /// Whether any process of the group is still there.
    pub fn any_left(&self) -> bool {
        imp::any_left(&self.group)
    }

    /// End the group: [`GroupChild::terminate`], then [`GroupChild::kill`]
    /// after `grace` for what is still there, and wait (bounded by another
    /// `grace`) until nothing is left. Reaps the child.
    pub fn end(&mut self, grace: Duration) {
        self.terminate();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let _ = self.child.try_wait();
            if !self.any_left() {
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + grace;
        while self.any_left() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the child within `timeout`, looking at `stop` every 20 ms; at
    /// the timeout, or when `stop` says so, the whole group is ended with
    /// [`GroupChild::end`] and `grace`.
    pub fn wait_bounded(
        &mut self,
        timeout: Duration,
        grace: Duration,
        stop: impl Fn() -> bool,
    ) -> GroupEnd {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return GroupEnd::Exited(status),
                Ok(None) => {}
                Err(_) => {
                    self.end(grace);
                    return GroupEnd::TimedOut;
                }
            }
            if stop() {
                self.end(grace);
                return GroupEnd::Interrupted;
            }
            if Instant::now() >= deadline {
                self.end(grace);
                return GroupEnd::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_is_read() {
        let name = host_name().expect("a host name");
        assert!(!name.contains('\0'), "{name:?}");
    }

    #[test]
    fn the_boot_clock_is_read_and_goes_forward() {
        let a = boot_clock_ms().expect("a boot clock");
        std::thread::sleep(Duration::from_millis(50));
        let b = boot_clock_ms().unwrap();
        assert!(a > 0 && b >= a + 30, "{a} then {b}");
    }

    #[test]
    fn an_exclusive_lock_excludes_another_open_until_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let a = File::create(&path).unwrap();
        let b = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        assert!(try_lock(&a, LockKind::Exclusive).unwrap());
        assert!(!try_lock(&b, LockKind::Exclusive).unwrap());
        assert!(!try_lock(&b, LockKind::Shared).unwrap());
        unlock(&a).unwrap();
        assert!(try_lock(&b, LockKind::Shared).unwrap());
        assert!(!try_lock(&a, LockKind::Exclusive).unwrap());
        drop(b);
        assert!(try_lock(&a, LockKind::Exclusive).unwrap());
    }

    #[test]
    fn file_identity_follows_the_file_not_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"one").unwrap();
        let first = File::open(&path).unwrap();
        let again = File::open(&path).unwrap();
        assert_eq!(file_id(&first).unwrap(), file_id(&again).unwrap());
        // Rotation: the old file renamed away, a new one in its place.
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        std::fs::write(&path, b"two").unwrap();
        let rotated = File::open(&path).unwrap();
        assert_ne!(file_id(&first).unwrap(), file_id(&rotated).unwrap());
        let moved = File::open(dir.path().join("app.log.1")).unwrap();
        assert_eq!(file_id(&first).unwrap(), file_id(&moved).unwrap());
    }

    /// The state folder (and a parent made with it) is not readable by
    /// every user: on Windows its DACL is protected and names only the
    /// owner, Administrators and SYSTEM; a folder made plainly beside it
    /// inherits what the parent allows.
    #[test]
    fn a_private_folder_is_not_readable_by_every_user() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("maestro-ha").join("state");
        create_private_dir(&state).unwrap();
        assert!(state.is_dir());
        assert_eq!(readable_by_everyone(&state), None);
        assert_eq!(readable_by_everyone(state.parent().unwrap()), None);
        // Again: an existing folder is fine.
        create_private_dir(&state).unwrap();
        // That what is made inside inherits the folder's DACL is NTFS's
        // doing, which Wine 8 does not do (it keeps a file's DACL as its
        // Unix mode only): not checked here.
        #[cfg(windows)]
        {
            let open = dir.path().join("open");
            std::fs::create_dir(&open).unwrap();
            set_dacl(&open, "D:P(A;OICI;FR;;;WD)(A;OICI;FA;;;SY)").unwrap();
            assert!(readable_by_everyone(&open).is_some());
            let inner = open.join("state");
            create_private_dir(&inner).unwrap();
            assert_eq!(readable_by_everyone(&inner), None);
        }
    }

    /// A shell line that starts a long-lived grandchild and itself lives long.
    fn sleeper_line() -> &'static str {
        if cfg!(windows) {
            "ping -n 30 127.0.0.1 >NUL"
        } else {
            "sleep 30 & sleep 30"
        }
    }

    #[test]
    fn a_quick_child_exits_with_its_status() {
        let line = "exit 3";
        let mut child = GroupChild::spawn(&mut shell_command(line)).unwrap();
        match child.wait_bounded(Duration::from_secs(20), Duration::from_secs(1), || false) {
            GroupEnd::Exited(status) => assert_eq!(status.code(), Some(3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_timeout_ends_the_whole_group() {
        let mut child = GroupChild::spawn(&mut shell_command(sleeper_line())).unwrap();
        let started = Instant::now();
        let end = child.wait_bounded(
            Duration::from_millis(300),
            Duration::from_millis(500),
            || false,
        );
        assert!(matches!(end, GroupEnd::TimedOut), "{end:?}");
        // A Job Object counts only live processes. A Unix process group
        // still has the killed grandchild as a zombie until init reaps it
        // (tests/watch.rs checks the group through /proc there).
        #[cfg(windows)]
        assert!(!child.any_left(), "a process of the group outlived the end");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn stop_ends_the_whole_group() {
        let mut child = GroupChild::spawn(&mut shell_command(sleeper_line())).unwrap();
        let end = child.wait_bounded(Duration::from_secs(30), Duration::from_millis(500), || true);
        assert!(matches!(end, GroupEnd::Interrupted), "{end:?}");
        #[cfg(windows)]
        assert!(!child.any_left());
    }
}
