//! The Windows side of the platform layer (Win32 through windows-sys).

pub mod acl;
pub mod icmp;
pub mod ifaddr;

pub use ifaddr::interface_addresses;

use super::{FileId, LockKind, StatKey};
use std::fs::File;
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_LOCK_VIOLATION, ERROR_MORE_DATA, ERROR_SHARING_VIOLATION, HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::{
    FileBasicInfo, GetFileInformationByHandle, GetFileInformationByHandleEx, LockFileEx,
    UnlockFile, BY_HANDLE_FILE_INFORMATION, FILE_BASIC_INFO, FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::SystemInformation::{ComputerNameDnsHostname, GetComputerNameExW};
use windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;
use windows_sys::Win32::System::IO::OVERLAPPED;

pub fn host_name() -> Option<String> {
    let mut len: u32 = 0;
    // SAFETY: a null buffer with length 0 asks for the length needed.
    let ok = unsafe { GetComputerNameExW(ComputerNameDnsHostname, std::ptr::null_mut(), &mut len) };
    if ok == 0 && io::Error::last_os_error().raw_os_error() != Some(ERROR_MORE_DATA as i32) {
        return None;
    }
    let mut buf = vec![0u16; len as usize + 1];
    let mut len = buf.len() as u32;
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    if unsafe { GetComputerNameExW(ComputerNameDnsHostname, buf.as_mut_ptr(), &mut len) } == 0 {
        return std::env::var("COMPUTERNAME").ok();
    }
    String::from_utf16(&buf[..len as usize]).ok()
}

pub fn is_privileged() -> bool {
    use windows_sys::Win32::Security::{
        GetTokenInformation, TokenElevation, TOKEN_ELEVATION, TOKEN_QUERY,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process; `token` receives a handle.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return false;
    }
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut len = 0u32;
    // SAFETY: the pointer and size describe `elevation`.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenElevation,
            (&mut elevation as *mut TOKEN_ELEVATION).cast(),
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    // SAFETY: the token handle is ours, closed once.
    unsafe { CloseHandle(token) };
    ok != 0 && elevation.TokenIsElevated != 0
}

pub fn system_state_dir() -> PathBuf {
    let base = std::env::var_os("ProgramData")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
    base.join("maestro-ha")
}

pub fn shell_command(line: &str) -> Command {
    let mut cmd = Command::new("cmd.exe");
    // raw_arg: cmd.exe parses its own command line, not by the C rules.
    cmd.arg("/C").raw_arg(line);
    cmd
}

fn handle(file: &File) -> HANDLE {
    file.as_raw_handle() as HANDLE
}

/// Where the lock byte lies: far past any content. Windows' byte-range
/// locks are mandatory (a locked range cannot be read by others), so the
/// lock is put where no data is, and the file's text (who holds it) stays
/// readable, as with flock.
/// (Within a signed 64-bit offset: Wine maps the lock to a POSIX one.)
const LOCK_OFFSET: u64 = i64::MAX as u64 - 1;

fn lock_overlapped() -> OVERLAPPED {
    // SAFETY: OVERLAPPED is plain data; zero is no event.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
    overlapped
}

pub fn try_lock(file: &File, kind: LockKind) -> io::Result<bool> {
    let mut flags = LOCKFILE_FAIL_IMMEDIATELY;
    if kind == LockKind::Exclusive {
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    }
    let mut overlapped = lock_overlapped();
    // SAFETY: the handle is open for the duration; one byte locked.
    let ok = unsafe { LockFileEx(handle(file), flags, 0, 1, 0, &mut overlapped) };
    if ok != 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        Ok(false)
    } else {
        Err(e)
    }
}

pub fn unlock(file: &File) -> io::Result<()> {
    // SAFETY: the handle is open; the same byte as locked.
    let (low, high) = (LOCK_OFFSET as u32, (LOCK_OFFSET >> 32) as u32);
    if unsafe { UnlockFile(handle(file), low, high, 1, 0) } != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn by_handle_info(file: &File) -> io::Result<BY_HANDLE_FILE_INFORMATION> {
    // SAFETY: plain data, filled in by the call.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; `info` outlives the call.
    if unsafe { GetFileInformationByHandle(handle(file), &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

pub fn file_id(file: &File) -> io::Result<FileId> {
    let info = by_handle_info(file)?;
    Ok(FileId {
        device: u64::from(info.dwVolumeSerialNumber),
        index: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
    })
}

pub fn file_id_at(path: &std::path::Path) -> io::Result<FileId> {
    // std opens with every share mode: a writer holding the file is no
    // obstacle, and it can still be renamed or deleted meanwhile.
    file_id(&File::open(path)?)
}

pub fn no_follow_no_block(opts: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    opts.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
}

/// The Job Object the child and everything it starts belong to. Closing it
/// ends them all (KILL_ON_JOB_CLOSE), so none outlives its `GroupChild`.
pub struct Group(HANDLE);

// SAFETY: a job handle may be used from any thread.
unsafe impl Send for Group {}
// SAFETY: as above; the calls made on it are thread-safe.
unsafe impl Sync for Group {}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { CloseHandle(self.0) };
    }
}

pub fn spawn_group(cmd: &mut Command) -> io::Result<(Child, Group)> {
    // SAFETY: no security attributes, no name: a new anonymous job.
    let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if job.is_null() {
        return Err(io::Error::last_os_error());
    }
    let group = Group(job);
    // SAFETY: plain data; only the limit flag is set.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: the pointer and size describe `limits`.
    let ok = unsafe {
        SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // A new console process group too, so that a Ctrl-C meant for us is
    // not also delivered to the command.
    let mut child = cmd.creation_flags(CREATE_NEW_PROCESS_GROUP).spawn()?;
    // The child runs before it is assigned: what it starts in that instant
    // would escape the job. std gives no way to start it suspended; the
    // window is the few microseconds between the two calls.
    // SAFETY: both handles are open.
    let ok = unsafe { AssignProcessToJobObject(job, child.as_raw_handle() as HANDLE) };
    if ok == 0 {
        let e = io::Error::last_os_error();
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    Ok((child, group))
}

pub fn terminate(group: &Group) {
    kill(group)
}

pub fn kill(group: &Group) {
    // SAFETY: the job handle is open. Exit code 1 for every process.
    unsafe { TerminateJobObject(group.0, 1) };
}

pub fn any_left(group: &Group) -> bool {
    // SAFETY: plain data, filled in by the call.
    let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer and size describe `info`.
    let ok = unsafe {
        QueryInformationJobObject(
            group.0,
            JobObjectBasicAccountingInformation,
            (&mut info as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
            std::ptr::null_mut(),
        )
    };
    // When it cannot be told, say something is left: the caller then kills.
    ok == 0 || info.ActiveProcesses > 0
}

pub type RawSocket = std::os::windows::io::RawSocket;

pub fn raw_socket(stream: &std::net::TcpStream) -> RawSocket {
    use std::os::windows::io::AsRawSocket;
    stream.as_raw_socket()
}

pub fn wait_socket(socket: RawSocket, read: bool, write: bool, wait: std::time::Duration) {
    use windows_sys::Win32::Networking::WinSock::{
        WSAPoll, POLLRDNORM, POLLWRNORM, SOCKET, WSAPOLLFD,
    };
    let mut events = 0;
    if read {
        events |= POLLRDNORM;
    }
    if write {
        events |= POLLWRNORM;
    }
    let mut pfd = WSAPOLLFD {
        fd: socket as SOCKET,
        events,
        revents: 0,
    };
    // SAFETY: one valid WSAPOLLFD; the caller keeps the socket open (and
    // Winsock started: std started it when the stream was made).
    unsafe {
        WSAPoll(&mut pfd, 1, wait.as_millis().min(i32::MAX as u128) as i32);
    }
}

/// A FILETIME (100 ns since 1601) as nanoseconds since the Unix epoch.
fn filetime_ns(t: u64) -> i64 {
    const EPOCH_DIFF: i64 = 116_444_736_000_000_000;
    (t as i64).saturating_sub(EPOCH_DIFF).saturating_mul(100)
}

pub fn stat_key(m: &std::fs::Metadata) -> StatKey {
    use std::os::windows::fs::MetadataExt;
    let written = filetime_ns(m.last_write_time());
    StatKey {
        device: 0,
        index: 0,
        size: m.file_size(),
        mode: 0,
        mtime_ns: written,
        ctime_ns: written,
    }
}

/// The key from an open handle: volume serial number and file index
/// (GetFileInformationByHandle), the last write and NTFS's change time
/// (FILE_BASIC_INFO), which moves on every change of content or metadata,
/// a rename included, and cannot be set back through the usual calls.
pub fn file_stat_key(file: &File, _meta: &std::fs::Metadata) -> io::Result<StatKey> {
    let info = by_handle_info(file)?;
    // SAFETY: plain data, filled in by the call.
    let mut basic: FILE_BASIC_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; the pointer and size describe `basic`.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            handle(file),
            FileBasicInfo,
            (&mut basic as *mut FILE_BASIC_INFO).cast(),
            std::mem::size_of::<FILE_BASIC_INFO>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(StatKey {
        device: u64::from(info.dwVolumeSerialNumber),
        index: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        size: (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow),
        mode: 0,
        mtime_ns: filetime_ns(basic.LastWriteTime as u64),
        ctime_ns: filetime_ns(basic.ChangeTime as u64),
    })
}

/// The key of what `path` names, itself (a symbolic link or junction is
/// not followed; a folder opens too), through a handle that asks only to
/// read attributes: every sharing allowed, so a program holding the file
/// open without sharing does not stop it.
pub fn stat_key_at(path: &std::path::Path, meta: &std::fs::Metadata) -> io::Result<StatKey> {
    let file = File::options()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    file_stat_key(&file, meta)
}

pub fn is_locked_by_another(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(ERROR_SHARING_VIOLATION | ERROR_LOCK_VIOLATION)
    )
}

pub const RANDOM_SOURCE: &str = "BCryptGenRandom";

pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    use windows_sys::Win32::Security::Cryptography::{
        BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG,
    };
    for chunk in buf.chunks_mut(u32::MAX as usize) {
        // SAFETY: the pointer and length describe `chunk`.
        let status = unsafe {
            BCryptGenRandom(
                std::ptr::null_mut(),
                chunk.as_mut_ptr(),
                chunk.len() as u32,
                BCRYPT_USE_SYSTEM_PREFERRED_RNG,
            )
        };
        if status != 0 {
            return Err(io::Error::other(format!(
                "BCryptGenRandom: NTSTATUS {status:#x}"
            )));
        }
    }
    Ok(())
}

pub fn boot_clock_ms() -> Option<i64> {
    // SAFETY: GetTickCount64 has no preconditions and cannot fail.
    let ms = unsafe { windows_sys::Win32::System::SystemInformation::GetTickCount64() };
    i64::try_from(ms).ok()
}
