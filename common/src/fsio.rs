//! Reading a file whole and rewriting a file, the two ways a tool touches a
//! file it does not stream.
//!
//! Reads are bounded: a path that should hold a config, a manifest, a rule
//! set or a secret and is a FIFO, a device or a socket is refused at once
//! (a FIFO would block the tool past every timeout, `/dev/zero` would grow
//! it without bound), and a regular file larger than the caller's limit is
//! an error, not an allocation.
//!
//! Nothing is opened before it is known to be a regular file: opening a
//! device or a FIFO is itself an act (a terminal becomes the controlling
//! terminal, a watchdog is armed, a writer waiting on a FIFO is let
//! through).
//!
//! Writes are atomic: the new content goes to a temporary file beside the
//! target, is flushed to disk, renamed over the target, and the folder is
//! flushed too. A crash, a SIGKILL or a full disk at any point leaves either
//! the old file or the new one, never a cut one, and a write that fails
//! before the rename leaves no temporary file. All of it happens in one
//! folder opened once, so a folder swapped for a link meanwhile is not
//! written through.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One KiB, one MiB: limits read as sizes.
pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

#[derive(Debug, thiserror::Error)]
pub enum FsioError {
    #[error("{}: is {kind}, not a regular file", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{}: is {kind}, not a FIFO or a character device: no stream is written to it", .path.display())]
    NotStream { path: PathBuf, kind: &'static str },
    #[error("{}: larger than {} (refused: a file of this kind is never that big)", .path.display(), size_text(*.limit))]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{}: is not valid UTF-8 text", .path.display())]
    NotText { path: PathBuf },
    #[error("{}: changed while being opened (refused)", .path.display())]
    Changed { path: PathBuf },
    /// A folder on the way to a file being written is a symbolic link
    /// that belongs to another user: whoever owns it decides where the
    /// write goes (`~sync/.ssh -> /root/.ssh`).
    #[error("{}: is a symbolic link owned by another user (uid {uid}), not followed for a write", .path.display())]
    ForeignLink { path: PathBuf, uid: u32 },
    /// The new content is in place, but the folder could not be flushed:
    /// a crash soon after may still bring the old file back. Not a failed
    /// write: a caller that records what it did must record it as done.
    #[error("{}: replaced, but the folder could not be flushed to disk: {source}", .path.display())]
    ReplacedNotFlushed { path: PathBuf, source: io::Error },
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
}

impl FsioError {
    /// The file (or a folder on its path) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsioError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The new content is in place although the write reported an error
    /// ([`FsioError::ReplacedNotFlushed`]).
    pub fn replaced(&self) -> bool {
        matches!(self, FsioError::ReplacedNotFlushed { .. })
    }

    fn io(path: &Path, action: &'static str, source: io::Error) -> FsioError {
        FsioError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

/// `16 MiB`, `512 KiB`, `100 bytes`.
pub fn size_text(bytes: u64) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a file type is, for messages: "a FIFO", "a folder".
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Opens `path` for reading, refusing anything that is not a regular file
/// (symbolic links are followed to what they name). What the path names is
/// looked at first, and anything else is refused without being opened; the
/// open itself cannot block or take a terminal (`O_NONBLOCK`, `O_NOCTTY`),
/// and what was opened must be what was looked at.
/// `/dev/null` is a device like any other here: the configuration, the one
/// place where it means something ("no configuration"), says so itself.
pub fn open_regular(path: &Path) -> Result<File, FsioError> {
    let before = std::fs::metadata(path).map_err(|e| FsioError::io(path, "open it", e))?;
    if !before.is_file() {
        return Err(FsioError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(before.file_type()),
        });
    }
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts
        .open(path)
        .map_err(|e| FsioError::io(path, "open it", e))?;
    let meta = file
        .metadata()
        .map_err(|e| FsioError::io(path, "read its metadata", e))?;
    if !meta.is_file() {
        return Err(FsioError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(meta.file_type()),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (meta.dev(), meta.ino()) != (before.dev(), before.ino()) {
            return Err(FsioError::Changed {
                path: path.to_path_buf(),
            });
        }
        clear_nonblocking(&file).map_err(|e| FsioError::io(path, "open it", e))?;
    }
    Ok(file)
}

/// Opens an existing FIFO or character device for writing a stream (a
/// tool's output sent to a pipe or a terminal), without ever blocking: a
/// FIFO nobody reads is refused at once (it would block the open until a
/// reader came). Anything else is refused by name: a regular file is
/// written atomically instead ([`AtomicFile`]), and a block device or a
/// socket is no place for a stream.
pub fn open_stream_for_writing(path: &Path) -> Result<File, FsioError> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ENXIO) {
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_fifo() {
                    return FsioError::io(path, "write to it: a FIFO nobody reads", e);
                }
                return FsioError::NotStream {
                    path: path.to_path_buf(),
                    kind: kind_name(meta.file_type()),
                };
            }
        }
        FsioError::io(path, "open it for writing", e)
    })?;
    let meta = file
        .metadata()
        .map_err(|e| FsioError::io(path, "read its metadata", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        if !ft.is_fifo() && !ft.is_char_device() {
            return Err(FsioError::NotStream {
                path: path.to_path_buf(),
                kind: kind_name(ft),
            });
        }
        clear_nonblocking(&file).map_err(|e| FsioError::io(path, "open it for writing", e))?;
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(file)
}

#[cfg(unix)]
fn clear_nonblocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a whole regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FsioError> {
    let file = open_regular(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        return Err(FsioError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // One byte past the limit tells a file that grew while being read.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FsioError::io(path, "read it", e))?;
    if bytes.len() as u64 > limit {
        return Err(FsioError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_regular`] for text.
pub fn read_regular_to_string(path: &Path, limit: u64) -> Result<String, FsioError> {
    String::from_utf8(read_regular(path, limit)?).map_err(|_| FsioError::NotText {
        path: path.to_path_buf(),
    })
}

/// Replaces `path` with `bytes` atomically (see [`AtomicFile`]). A new file
/// gets `mode_if_new`; an existing one keeps its mode and owner; a
/// symbolic link at `path` is refused.
pub fn write_atomic(path: &Path, bytes: &[u8], mode_if_new: u32) -> Result<(), FsioError> {
    let mut file = AtomicFile::create(path, mode_if_new)?;
    file.write_all(bytes)
        .map_err(|e| FsioError::io(file.temp_path(), "write it", e))?;
    file.commit()
}

/// A file being written in place of another: written to a temporary file
/// beside the target, and put in its place by [`AtomicFile::commit`]
/// (fsync, rename, fsync of the folder). Dropped without a commit, or when
/// the commit fails before the rename, the temporary file is removed and
/// the target is untouched.
///
/// An existing target keeps its permissions and its owner and group: a
/// chown that fails is an error (the new file would belong to someone
/// else). A target that is a symbolic link is refused by
/// [`AtomicFile::create`]: a tool running as root in a folder someone else
/// can write to would otherwise replace whatever file the link names; so is
/// a folder on the way that is a link owned by another user than the one
/// running the tool or root ([`FsioError::ForeignLink`]).
/// [`AtomicFile::create_through_link`] is the explicit opt-in for a path
/// the user named on the command line: the file the link names is
/// replaced, and the link is kept.
///
/// The folder is opened once, and the temporary file is created, renamed
/// and removed relative to it (`openat`, `renameat`, `unlinkat`): a folder
/// swapped for a link after the checks is not written through.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    folder: Folder,
    target_name: std::ffi::OsString,
    temp_name: std::ffi::OsString,
    file: Option<File>,
}

/// The folder a file is written in, open.
#[derive(Debug)]
struct Folder {
    path: PathBuf,
    #[cfg(unix)]
    dir: File,
}

#[cfg(unix)]
fn c_name(name: &std::ffi::OsStr) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the name"))
}

#[cfg(unix)]
fn cvt(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Folder {
    /// Refuses a link on the way that belongs to someone else, then opens
    /// the folder.
    fn open(folder: &Path) -> Result<Folder, FsioError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
            // SAFETY: geteuid cannot fail.
            let me = unsafe { libc::geteuid() };
            let mut prefix = PathBuf::new();
            for part in folder.components() {
                prefix.push(part);
                if let Ok(m) = std::fs::symlink_metadata(&prefix) {
                    if m.file_type().is_symlink() && m.uid() != 0 && m.uid() != me {
                        return Err(FsioError::ForeignLink {
                            path: prefix,
                            uid: m.uid(),
                        });
                    }
                }
            }
            let dir = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(folder)
                .map_err(|e| FsioError::io(folder, "open the folder", e))?;
            Ok(Folder {
                path: folder.to_path_buf(),
                dir,
            })
        }
        #[cfg(not(unix))]
        Ok(Folder {
            path: folder.to_path_buf(),
        })
    }

    /// What `name` in the folder is, without following a link.
    fn entry(&self, name: &std::ffi::OsStr) -> io::Result<Option<std::fs::Metadata>> {
        // The standard library has no fstatat; the folder's path plus the
        // name is looked at, and the checks that matter are repeated on
        // the descriptors (the temporary file is created O_EXCL|O_NOFOLLOW,
        // the rename is relative to the open folder).
        match std::fs::symlink_metadata(self.path.join(name)) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[cfg(unix)]
    fn create_new(&self, name: &std::ffi::OsStr) -> io::Result<File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let c = c_name(name)?;
        // SAFETY: openat with a descriptor we own and a valid C string; the
        // returned descriptor is owned by the File made from it.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    #[cfg(unix)]
    fn rename(&self, from: &std::ffi::OsStr, to: &std::ffi::OsStr) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let (from, to) = (c_name(from)?, c_name(to)?);
        let fd = self.dir.as_raw_fd();
        // SAFETY: renameat within one folder we hold open, valid C strings.
        cvt(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) })
    }

    #[cfg(unix)]
    fn remove(&self, name: &std::ffi::OsStr) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let c = c_name(name)?;
        // SAFETY: unlinkat in a folder we hold open, a valid C string.
        cvt(unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) })
    }

    #[cfg(unix)]
    fn sync(&self) -> io::Result<()> {
        self.dir.sync_all()
    }

    #[cfg(not(unix))]
    fn create_new(&self, name: &std::ffi::OsStr) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path.join(name))
    }

    #[cfg(not(unix))]
    fn rename(&self, from: &std::ffi::OsStr, to: &std::ffi::OsStr) -> io::Result<()> {
        std::fs::rename(self.path.join(from), self.path.join(to))
    }

    #[cfg(not(unix))]
    fn remove(&self, name: &std::ffi::OsStr) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    #[cfg(not(unix))]
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

/// The folder holding `path`, and the name in it.
fn split(path: &Path) -> Result<(PathBuf, std::ffi::OsString), FsioError> {
    let name = path.file_name().ok_or_else(|| FsioError::NotRegular {
        path: path.to_path_buf(),
        kind: "a folder",
    })?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((folder, name.to_os_string()))
}

impl AtomicFile {
    /// Refuses a target that is a symbolic link (see the type's docs).
    pub fn create(path: &Path, mode_if_new: u32) -> Result<AtomicFile, FsioError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Err(FsioError::NotRegular {
                path: path.to_path_buf(),
                kind: kind_name(m.file_type()),
            }),
            _ => AtomicFile::create_at(path.to_path_buf(), mode_if_new),
        }
    }

    /// Like [`AtomicFile::create`], but a target that is a symbolic link
    /// has the file it names replaced, and the link is kept.
    pub fn create_through_link(path: &Path, mode_if_new: u32) -> Result<AtomicFile, FsioError> {
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
                .map_err(|e| FsioError::io(path, "follow the symbolic link", e))?,
            _ => path.to_path_buf(),
        };
        AtomicFile::create_at(target, mode_if_new)
    }

    fn create_at(target: PathBuf, mode_if_new: u32) -> Result<AtomicFile, FsioError> {
        let (folder_path, target_name) = split(&target)?;
        let folder = Folder::open(&folder_path)?;
        // Not following a link: one put there since the caller looked is
        // refused as "a symbolic link", never written through.
        let existing = match folder.entry(&target_name) {
            Ok(Some(m)) if m.is_file() => Some(m),
            Ok(Some(m)) => {
                return Err(FsioError::NotRegular {
                    path: target,
                    kind: kind_name(m.file_type()),
                })
            }
            Ok(None) => None,
            Err(e) => return Err(FsioError::io(&target, "read its metadata", e)),
        };
        let temp_name = temp_name_for(&target_name);
        let temp = folder_path.join(&temp_name);
        let file = folder
            .create_new(&temp_name)
            .map_err(|e| FsioError::io(&temp, "create it", e))?;
        let atomic = AtomicFile {
            target,
            temp,
            folder,
            target_name,
            temp_name,
            file: Some(file),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = existing
                .as_ref()
                .map_or(mode_if_new, |m| m.permissions().mode() & 0o7777);
            // The umask must not widen or narrow what the file had: it was
            // created private, and gets the exact mode once the owner is right.
            if let Some(m) = &existing {
                atomic.keep_owner(m)?;
            }
            atomic
                .file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| FsioError::io(&atomic.temp, "set its mode", e))?;
        }
        #[cfg(not(unix))]
        let _ = (mode_if_new, existing);
        Ok(atomic)
    }

    #[cfg(unix)]
    fn keep_owner(&self, old: &std::fs::Metadata) -> Result<(), FsioError> {
        use std::os::unix::fs::MetadataExt;
        let now = self
            .file()
            .metadata()
            .map_err(|e| FsioError::io(&self.temp, "read its metadata", e))?;
        if now.uid() == old.uid() && now.gid() == old.gid() {
            return Ok(());
        }
        std::os::unix::fs::fchown(self.file(), Some(old.uid()), Some(old.gid())).map_err(|e| {
            FsioError::io(
                &self.temp,
                "give it the owner and group of the file it replaces",
                e,
            )
        })
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    fn file(&self) -> &File {
        self.file.as_ref().expect("the file is open until commit")
    }

    /// Where the content is written until the commit.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The file that is replaced at the commit.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flush the content to disk, rename it over the target, flush the
    /// folder. An error before the rename leaves the target as it was and
    /// no temporary file; after it, the error is
    /// [`FsioError::ReplacedNotFlushed`]: the new content is in place.
    pub fn commit(mut self) -> Result<(), FsioError> {
        let flushed = self
            .file()
            .sync_all()
            .map_err(|e| FsioError::io(&self.temp, "flush it to disk", e));
        flushed?; // Drop removes the temporary file.
        self.folder
            .rename(&self.temp_name, &self.target_name)
            .map_err(|e| FsioError::io(&self.target, "rename the new content over it", e))?;
        // Renamed: nothing is left to remove.
        self.file = None;
        self.folder
            .sync()
            .map_err(|source| FsioError::ReplacedNotFlushed {
                path: self.target.clone(),
                source,
            })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("the file is open until commit")
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("the file is open until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = self.folder.remove(&self.temp_name);
        }
    }
}

/// `.NAME.PID.N.tmp` beside the target: hidden, unique within the process
/// and among processes, in the same folder so that the rename is atomic.
fn temp_name_for(target_name: &std::ffi::OsStr) -> std::ffi::OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".{}.{}.{n}.tmp",
        target_name.to_string_lossy(),
        std::process::id()
    )
    .into()
}

/// Flushes the folder holding `path`, so that a rename into it survives a crash.
pub fn sync_parent(path: &Path) -> Result<(), FsioError> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| FsioError::io(parent, "flush the folder to disk", e))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

// FIFOs, sockets, modes and owners: Unix-only cases.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::time::{Duration, Instant};

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.toml");
        mkfifo(&fifo);
        let started = Instant::now();
        let err = read_regular(&fifo, MIB).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            err.to_string(),
            format!("{}: is a FIFO, not a regular file", fifo.display())
        );
    }

    #[test]
    fn devices_folders_and_sockets_are_refused() {
        let err = read_regular(Path::new("/dev/zero"), MIB).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a character device, not a regular file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read_regular(dir.path(), MIB).unwrap_err();
        assert!(err.to_string().ends_with("is a folder, not a regular file"));
        let sock = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let err = read_regular(&sock, MIB).unwrap_err();
        assert!(err.to_string().ends_with("is a socket, not a regular file"));
    }

    #[test]
    fn a_stream_is_opened_only_on_a_fifo_with_a_reader_or_a_character_device() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        mkfifo(&fifo);
        let started = Instant::now();
        let err = open_stream_for_writing(&fifo).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(err.to_string().contains("a FIFO nobody reads"), "{err}");
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut w = open_stream_for_writing(&fifo).unwrap();
        w.write_all(b"x").unwrap();
        open_stream_for_writing(Path::new("/dev/null")).unwrap();
        let sock = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let err = open_stream_for_writing(&sock).unwrap_err();
        assert!(err.to_string().contains("is a socket, not a FIFO"), "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, "keep").unwrap();
        assert!(matches!(
            open_stream_for_writing(&file),
            Err(FsioError::NotStream { .. })
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }

    #[test]
    fn dev_null_is_a_device_like_any_other() {
        // A log or a manifest given as /dev/null would read as empty: "no
        // findings", never an error. Only the config treats it specially.
        let err = read_regular(Path::new("/dev/null"), MIB).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("is a character device, not a regular file"));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m");
        std::fs::write(&p, vec![b'x'; 1024]).unwrap();
        assert_eq!(read_regular(&p, 1024).unwrap().len(), 1024);
        let err = read_regular(&p, 1023).unwrap_err();
        assert!(matches!(err, FsioError::TooLarge { limit: 1023, .. }));
        assert!(err.to_string().contains("larger than 1023 bytes"), "{err}");
        assert_eq!(size_text(16 * MIB), "16 MiB");
        assert_eq!(size_text(64 * KIB), "64 KiB");
    }

    #[test]
    fn missing_files_are_told_apart() {
        let err = read_regular(Path::new("/nonexistent/x"), MIB).unwrap_err();
        assert!(err.is_not_found());
        assert!(!FsioError::NotText { path: "x".into() }.is_not_found());
    }

    #[test]
    fn not_utf8_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, b"ok\xff").unwrap();
        assert!(matches!(
            read_regular_to_string(&p, MIB),
            Err(FsioError::NotText { .. })
        ));
    }

    #[test]
    fn an_atomic_write_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("authorized_keys");
        std::fs::write(&p, "old\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new\n", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
        // A new file takes the mode asked for, whatever the umask.
        let q = dir.path().join("marker");
        write_atomic(&q, b"x", 0o644).unwrap();
        assert_eq!(
            std::fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn an_atomic_write_keeps_the_owner() {
        if unsafe { libc::geteuid() } != 0 {
            return; // only root can give a file away
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cron");
        std::fs::write(&p, "old\n").unwrap();
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        write_atomic(&p, b"new\n", 0o600).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534));
    }

    #[test]
    fn an_uncommitted_write_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest");
        std::fs::write(&p, "the good manifest\n").unwrap();
        {
            let mut f = AtomicFile::create(&p, 0o644).unwrap();
            f.write_all(b"half a new ").unwrap();
            // dropped: an error or an interruption before the commit
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "the good manifest\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symbolic_link_is_refused_unless_asked_for_and_then_keeps_pointing_at_the_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        let link = dir.path().join("link");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = write_atomic(&link, b"new", 0o600).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let mut f = AtomicFile::create_through_link(&link, 0o600).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_folder_as_the_target_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x", 0o600).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
    }

    /// A commit that fails leaves no temporary file behind.
    #[test]
    fn a_failed_commit_removes_its_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest");
        let mut f = AtomicFile::create(&p, 0o644).unwrap();
        f.write_all(b"new manifest").unwrap();
        // The target turns into a folder that is not empty before the commit.
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("inside"), "x").unwrap();
        assert!(f.commit().is_err());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["manifest".to_string()], "left behind");
    }

    /// `~sync/.ssh -> /root/.ssh`: a folder on the way that is a link
    /// made by someone else is not written through.
    #[test]
    fn a_parent_folder_that_is_a_link_owned_by_another_user_is_refused() {
        if unsafe { libc::geteuid() } != 0 {
            return; // only root can make a link owned by another user
        }
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("root-ssh");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("authorized_keys"), "root's keys\n").unwrap();
        let home = dir.path().join("home-sync");
        std::fs::create_dir(&home).unwrap();
        let link = home.join(".ssh");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let err = write_atomic(&link.join("authorized_keys"), b"forced\n", 0o600).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(
            std::fs::read_to_string(victim.join("authorized_keys")).unwrap(),
            "root's keys\n"
        );
        // A link made by the user running the tool (a state folder moved
        // to another disk) is followed.
        let own = dir.path().join("state");
        std::os::unix::fs::symlink(&victim, &own).unwrap();
        write_atomic(&own.join("epoch"), b"1\n", 0o600).unwrap();
        assert_eq!(
            std::fs::read_to_string(victim.join("epoch")).unwrap(),
            "1\n"
        );
    }

    /// Opening a FIFO, even without blocking, is an act: a writer waiting
    /// for a reader is let through. Nothing that is not a regular file is
    /// opened at all.
    #[test]
    fn a_special_file_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.toml");
        mkfifo(&fifo);
        let writer_path = fifo.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = std::thread::spawn(move || {
            // Blocks until somebody opens the FIFO for reading.
            let f = OpenOptions::new().write(true).open(&writer_path);
            let _ = tx.send(());
            f
        });
        std::thread::sleep(Duration::from_millis(100));
        let err = read_regular(&fifo, MIB).unwrap_err();
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        let let_through = rx.recv_timeout(Duration::from_millis(300)).is_ok();
        // Release the writer either way.
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        writer.join().unwrap().unwrap();
        assert!(!let_through, "read_regular opened the FIFO");
    }
}
