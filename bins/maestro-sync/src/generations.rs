//! The generations folder on the receiving server:
//!
//! ```text
//! GENERATIONS/
//!   .maestro-sync.lock            the lock (see maestro_common::sync_lock)
//!   current -> 20261126T011645.868Z   the generation Maestro starts from
//!   20261126T011645.868Z/
//!     data/                       the replica of [sync] source
//!     manifest.jsonl              the sending side's manifest of that point in time
//!     generation.json             what the receiving side verified, and when
//!   20261126T013145.112Z.partial/ being received (a cut one is resumed)
//!   .staging/                     btrfs: the subvolume the current generation
//!                                 was made from, received into by the next run
//!   .hold                         `maestro-sync hold`: this generation stays current
//! ```
//!
//! On btrfs, each generation is a subvolume, and a generation is a
//! snapshot of the partial one it was received in, which stays as
//! `.staging` for the next run: rsync brings it up to date in place, and
//! the kernel has its inodes cached from the last run (the first walk of a
//! subvolume just made reads every inode from disk: 0.3 s for 40,000
//! files, against 0.07 s for one walked before). It is kept read-only and
//! used only while it still is, its btrfs stamp shows it unchanged since
//! (see [`crate::stamp`]) and the generation it was made for is still
//! current; otherwise a new partial generation is a writable snapshot of
//! the current one. Elsewhere a new partial generation is a new folder
//! whose unchanged files rsync hard-links from the current one
//! (`--link-dest`). Either way the current generation is never written to.
//!
//! A generation gets its final name only after its data was checked
//! against its manifest and flushed to disk; `current` moves only to a
//! generation with a final name, by renaming a new link over it, and the
//! folder is flushed after each rename. Whatever point a crash or a power
//! loss hits, `current` names a complete, verified generation (or, before
//! the first one, nothing).

use crate::stamp;
use maestro_common::fsio;
use serde::{Deserialize, Serialize};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const CURRENT: &str = "current";
const CURRENT_TMP: &str = ".current.tmp";
pub const HOLD: &str = ".hold";
pub const PARTIAL_SUFFIX: &str = ".partial";
/// On btrfs: the last partial generation, kept to be received into again.
pub const STAGING: &str = ".staging";
pub const DATA: &str = "data";
pub const MANIFEST: &str = "manifest.jsonl";
/// The manifest being written when it comes over the session.
pub const MANIFEST_TMP: &str = "manifest.jsonl.tmp";
pub const META: &str = "generation.json";
/// rsync's CPU time on this side, a line a run (see `rsync-wrap`).
pub const USAGE: &str = ".rsync-usage.jsonl";
/// Where the receiving rsync keeps partly sent files (outside `data/`).
pub const RSYNC_PARTIAL: &str = ".rsync-partial";
/// In a partial generation: its last check failed (the next transfer
/// compares content, not only size and time).
pub const VERIFY_FAILED: &str = ".verify-failed";
const TRASH_PREFIX: &str = ".deleting-";
const META_LIMIT: u64 = 64 * fsio::KIB;

/// A test hook: a run whose environment names a step here is killed
/// (SIGKILL) right there, as a power loss would stop it.
pub fn crash_point(step: &str) {
    if std::env::var("MAESTRO_SYNC_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{}: {what}: {source}", .path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{}: {message}", .path.display())]
    Bad { message: String, path: PathBuf },
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> LayoutError + 'a {
    move |source| LayoutError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

fn bad(message: impl Into<String>, path: PathBuf) -> LayoutError {
    LayoutError::Bad {
        message: message.into(),
        path,
    }
}

/// `BTRFS_IOC_SNAP_DESTROY` and `BTRFS_IOC_SNAP_CREATE_V2`
/// (linux/btrfs.h), both on a 4096-byte argument: what `btrfs subvolume
/// delete` and `btrfs subvolume snapshot` ask, without starting a process
/// for it (20-200 ms on a busy machine, on the run's critical path).
const SNAP_DESTROY: libc::c_ulong = 0x5000_940F;
const SNAP_CREATE_V2: libc::c_ulong = 0x5000_9417;
/// Where the name starts in each argument.
const VOL_ARGS_NAME: usize = 8;
const VOL_ARGS_V2_NAME: usize = 56;

/// Runs a subvolume ioctl on `path`'s parent folder with `path`'s name
/// (and `source`'s descriptor for a snapshot); `false` when it could not
/// (the caller then runs the `btrfs` command, which says why).
fn subvolume_ioctl(path: &Path, source: Option<&Path>) -> bool {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let name = name.as_encoded_bytes();
    let Ok(dir) = std::fs::File::open(parent) else {
        return false;
    };
    let src = match source.map(std::fs::File::open) {
        Some(Ok(f)) => Some(f),
        Some(Err(_)) => return false,
        None => None,
    };
    let mut args = [0u8; 4096];
    let (request, at) = match &src {
        Some(_) => (SNAP_CREATE_V2, VOL_ARGS_V2_NAME),
        None => (SNAP_DESTROY, VOL_ARGS_NAME),
    };
    if name.is_empty() || name.len() >= args.len() - at || name.contains(&0) {
        return false;
    }
    if let Some(f) = &src {
        args[..8].copy_from_slice(&i64::from(f.as_raw_fd()).to_ne_bytes());
    }
    args[at..at + name.len()].copy_from_slice(name);
    // SAFETY: the ioctl reads (and for a snapshot writes its transid
    // into) the 4096-byte argument we own, on descriptors we own.
    unsafe { libc::ioctl(dir.as_raw_fd(), request, args.as_mut_ptr()) >= 0 }
}

/// `BTRFS_IOC_SUBVOL_GETFLAGS` and `BTRFS_IOC_SUBVOL_SETFLAGS`
/// (linux/btrfs.h): `_IOR` and `_IOW(0x94, 25 and 26, __u64)`.
const SUBVOL_GETFLAGS: libc::c_ulong = 0x8008_9419;
const SUBVOL_SETFLAGS: libc::c_ulong = 0x4008_941A;
/// `BTRFS_SUBVOL_RDONLY`, in the flags of those two.
const SUBVOL_RDONLY: u64 = 1 << 1;

/// Makes the subvolume at `path` read-only or writable again (its owner
/// may; the flag moves neither of its stamp's numbers).
fn set_read_only(path: &Path, read_only: bool) -> std::io::Result<()> {
    let dir = std::fs::File::open(path)?;
    let mut flags: u64 = 0;
    // SAFETY: the ioctl writes one u64 into the variable we own, on a
    // descriptor we own.
    if unsafe { libc::ioctl(dir.as_raw_fd(), SUBVOL_GETFLAGS, &mut flags) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let wanted = if read_only {
        flags | SUBVOL_RDONLY
    } else {
        flags & !SUBVOL_RDONLY
    };
    if wanted == flags {
        return Ok(());
    }
    // SAFETY: the ioctl reads one u64 from the variable we own.
    if unsafe { libc::ioctl(dir.as_raw_fd(), SUBVOL_SETFLAGS, &wanted) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Removes a generation's folder: a subvolume by `btrfs subvolume
/// delete`'s ioctl (or the command), a folder with what it holds.
fn remove_tree(path: &Path) -> Result<(), LayoutError> {
    if is_subvolume(path) {
        if subvolume_ioctl(path, None) {
            return Ok(());
        }
        btrfs(
            &["subvolume".as_ref(), "delete".as_ref(), path.as_os_str()],
            path,
        )
    } else {
        std::fs::remove_dir_all(path).map_err(io(path, "cannot remove it"))
    }
}

/// Makes `to` a writable snapshot of the subvolume `from`: by the ioctl,
/// else by the `btrfs` command (which says why it could not).
fn snapshot(from: &Path, to: &Path) -> Result<(), LayoutError> {
    // The command would make `to/<from's name>` in a folder that exists,
    // and say it succeeded.
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(bad(
            "cannot make it a snapshot: it exists already",
            to.to_path_buf(),
        ));
    }
    if subvolume_ioctl(to, Some(from)) {
        return Ok(());
    }
    btrfs(
        &[
            "subvolume".as_ref(),
            "snapshot".as_ref(),
            from.as_os_str(),
            to.as_os_str(),
        ],
        to,
    )
}

/// A generation's name: its point in time in UTC, to the millisecond,
/// so that names sort by time.
pub fn id_for(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    t.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// Whether `name` is a generation's name (`20261126T011645.868Z`).
pub fn is_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 20
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'.'
        && b[16..19].iter().all(u8::is_ascii_digit)
        && b[19] == b'Z'
}

/// What the receiving side recorded of a generation it verified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub format: String,
    pub version: u32,
    pub id: String,
    /// The point in time (when the snapshot was taken), RFC 3339.
    pub point_in_time: String,
    pub point_in_time_ns: i64,
    /// Taken from a snapshot (false: `--no-snapshot`, not a point in time).
    pub consistent: bool,
    pub snapshot: String,
    pub source_host: String,
    pub source: String,
    pub manifest_sha256: String,
    pub verified_at: String,
    /// The check's verdict: OK or WARNING (with its message).
    pub check_status: String,
    pub check_message: String,
}

pub const META_FORMAT: &str = "maestro-sync/generation";

/// Who holds a generation (`maestro-sync hold`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hold {
    pub generation: String,
    pub since: String,
    pub host: String,
}

/// A prepared partial generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub id: String,
    pub path: PathBuf,
    /// The earlier partial it continues, if any.
    pub resumed: Option<String>,
    /// Its last check failed: compare content this time.
    pub checksum: bool,
    /// A btrfs subvolume holding the current generation's files already
    /// (a snapshot of it, or the staging subvolume it was made from):
    /// rsync updates it in place, no `--link-dest`.
    pub snapshot: bool,
    /// It is the staging subvolume (see [`STAGING`]).
    pub staging: bool,
    /// Why a staging subvolume that was there was removed instead.
    pub staging_dropped: Option<String>,
}

/// `statfs`'s magic number of btrfs.
const BTRFS_MAGIC: i64 = 0x9123_683E;

fn is_btrfs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0) && st.f_type as i64 == BTRFS_MAGIC
}

/// Whether `path` is the root of a btrfs subvolume (its inode is 256).
pub fn is_subvolume(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    is_btrfs(path) && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.ino() == 256)
}

/// Runs `btrfs ARGS` (bounded).
fn btrfs(args: &[&std::ffi::OsStr], path: &Path) -> Result<(), LayoutError> {
    let spec = crate::proc::Spec::new("btrfs", args.iter().copied());
    match crate::proc::run(&spec, std::time::Duration::from_secs(60), None) {
        Ok(f) if f.success() => Ok(()),
        Ok(f) => Err(bad(
            format!("{} failed ({}): {}", spec.display(), f.how(), f.tail()),
            path.to_path_buf(),
        )),
        Err(e) => Err(bad(e.to_string(), path.to_path_buf())),
    }
}

pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn partial(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}{PARTIAL_SUFFIX}"))
    }

    pub fn staging(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    pub fn current_link(&self) -> PathBuf {
        self.root.join(CURRENT)
    }

    /// Makes the folder (mode 0755) when it is missing.
    pub fn ensure(&self) -> Result<(), LayoutError> {
        std::fs::create_dir_all(&self.root)
            .map_err(io(&self.root, "cannot create the generations folder"))?;
        let meta =
            std::fs::symlink_metadata(&self.root).map_err(io(&self.root, "cannot read it"))?;
        if !meta.is_dir() {
            return Err(bad(
                "the generations folder is not a folder",
                self.root.clone(),
            ));
        }
        Ok(())
    }

    /// The generation `current` names: `None` before the first one. A
    /// `current` that is not a link to a generation's folder is an error,
    /// never guessed around.
    pub fn current(&self) -> Result<Option<String>, LayoutError> {
        let link = self.current_link();
        let meta = match std::fs::symlink_metadata(&link) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&link, "cannot read it")(e)),
        };
        if !meta.file_type().is_symlink() {
            return Err(bad(
                format!(
                    "is {}, not a link to a generation",
                    fsio::kind_name(meta.file_type())
                ),
                link,
            ));
        }
        let target = std::fs::read_link(&link).map_err(io(&link, "cannot read the link"))?;
        let name = target.to_string_lossy().to_string();
        if !is_id(&name) || !self.dir(&name).is_dir() {
            return Err(bad(
                format!("points to {name:?}, which is not a generation here"),
                link,
            ));
        }
        Ok(Some(name))
    }

    fn names(&self) -> Result<Vec<String>, LayoutError> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(&self.root).map_err(io(&self.root, "cannot list it"))? {
            let e = e.map_err(io(&self.root, "cannot list it"))?;
            names.push(e.file_name().to_string_lossy().to_string());
        }
        names.sort();
        Ok(names)
    }

    /// The complete generations, oldest first.
    pub fn generations(&self) -> Result<Vec<String>, LayoutError> {
        Ok(self
            .names()?
            .into_iter()
            .filter(|n| is_id(n) && self.dir(n).is_dir())
            .collect())
    }

    /// The partial generations, oldest first.
    pub fn partials(&self) -> Result<Vec<String>, LayoutError> {
        Ok(self
            .names()?
            .into_iter()
            .filter_map(|n| n.strip_suffix(PARTIAL_SUFFIX).map(str::to_string))
            .filter(|n| is_id(n))
            .collect())
    }

    pub fn meta(&self, id: &str) -> Result<Meta, LayoutError> {
        let path = self.dir(id).join(META);
        let text = fsio::read_regular_to_string(&path, META_LIMIT)
            .map_err(|e| bad(e.to_string(), path.clone()))?;
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a generation record: {e}"), path.clone()))?;
        if meta.format != META_FORMAT || meta.id != id {
            return Err(bad(
                format!(
                    "records generation {:?} of format {:?}",
                    meta.id, meta.format
                ),
                path,
            ));
        }
        Ok(meta)
    }

    pub fn hold(&self) -> Result<Option<Hold>, LayoutError> {
        let path = self.root.join(HOLD);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, "cannot read it")(e)),
            Ok(_) => {
                let text = fsio::read_regular_to_string(&path, META_LIMIT)
                    .map_err(|e| bad(e.to_string(), path.clone()))?;
                // A hold that cannot be read still holds.
                Ok(Some(serde_json::from_str(&text).unwrap_or(Hold {
                    generation: "(unreadable hold file)".into(),
                    since: String::new(),
                    host: String::new(),
                })))
            }
        }
    }

    pub fn set_hold(&self, hold: &Hold) -> Result<(), LayoutError> {
        let path = self.root.join(HOLD);
        let text = serde_json::to_string(hold).unwrap_or_default() + "\n";
        fsio::write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| bad(e.to_string(), path))
    }

    pub fn clear_hold(&self) -> Result<bool, LayoutError> {
        let path = self.root.join(HOLD);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.sync_folder()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&path, "cannot remove it")(e)),
        }
    }

    /// Leftovers of a killed run that are never data: the temporary link
    /// of a switch, folders half deleted by a prune.
    pub fn clean_leftovers(&self) -> Result<(), LayoutError> {
        let tmp = self.root.join(CURRENT_TMP);
        if std::fs::symlink_metadata(&tmp).is_ok() {
            std::fs::remove_file(&tmp).map_err(io(&tmp, "cannot remove it"))?;
        }
        for n in self.names()? {
            if n.starts_with(TRASH_PREFIX) {
                remove_tree(&self.root.join(&n))?;
            }
        }
        Ok(())
    }

    /// rsync processes still working in this folder: receivers of an
    /// earlier run whose sender vanished (a pulled cable leaves the SSH
    /// session, and rsync in it, waiting for a peer that never answers).
    /// Under the lock no rsync may work here, so they are killed before a
    /// partial generation is reused: no stray writer adds to it later.
    /// Returns their ids.
    pub fn stop_stray_rsyncs(&self) -> Vec<i32> {
        let Ok(root) = std::fs::canonicalize(&self.root) else {
            return Vec::new();
        };
        let strays: Vec<i32> = std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|pid| {
                        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                            .unwrap_or_default();
                        comm.trim() == "rsync"
                            && std::fs::read_link(format!("/proc/{pid}/cwd"))
                                .is_ok_and(|cwd| cwd.starts_with(&root))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for pid in &strays {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while strays
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        strays
    }

    /// The partial folder for generation `id`: the newest earlier partial,
    /// renamed (its files need not be sent again), else a new one. Older
    /// partials are removed.
    ///
    /// On btrfs, when the current generation is a subvolume (or there is
    /// none yet), a new partial generation is the staging subvolume the
    /// current generation was made from, renamed, when it can be trusted
    /// (it was kept read-only and its stamp has not moved), else a
    /// writable snapshot of the current generation (or a new subvolume).
    pub fn prepare(&self, id: &str, current: Option<&str>) -> Result<Prepared, LayoutError> {
        let path = self.partial(id);
        let mut partials = self.partials()?;
        let resumed = partials.pop();
        for old in partials {
            self.trash(&self.partial(&old))?;
        }
        let snapshots = match current {
            Some(c) => is_subvolume(&self.dir(c)),
            None => is_btrfs(&self.root),
        };
        let staging = self.staging();
        let mut staging_dropped = None;
        let mut from_staging = false;
        if std::fs::symlink_metadata(&staging).is_ok() {
            let usable = match (&resumed, snapshots) {
                (Some(old), _) => Err(format!("the partial generation {old} is resumed")),
                (None, false) => Err("the current generation is not a subvolume".to_string()),
                (None, true) => self.staging_usable(current),
            };
            match usable {
                Ok(()) => from_staging = true,
                // Not a basis to trust, or not needed; one that cannot be
                // removed stays (the run goes on without it, and keeps no
                // new one).
                Err(why) => {
                    staging_dropped = Some(match self.trash(&staging) {
                        Ok(()) => why,
                        Err(e) => format!("{why}; it could not be removed: {e}"),
                    })
                }
            }
        }
        stamp::forget(&self.root, stamp::STAGING_STAMP_FILE);
        if let Some(old) = &resumed {
            if old != id {
                let from = self.partial(old);
                std::fs::rename(&from, &path).map_err(io(&from, "cannot rename it"))?;
            }
        } else if from_staging {
            std::fs::rename(&staging, &path).map_err(io(&staging, "cannot rename it"))?;
            // It holds the current generation's record: not this one's.
            let _ = std::fs::remove_file(path.join(META));
        } else if snapshots {
            match current {
                Some(c) => snapshot(&self.dir(c), &path)?,
                None => btrfs(
                    &["subvolume".as_ref(), "create".as_ref(), path.as_os_str()],
                    &path,
                )?,
            }
            // The snapshot holds the current generation's record: not this one's.
            let _ = std::fs::remove_file(path.join(META));
        } else {
            std::fs::create_dir(&path).map_err(io(&path, "cannot create it"))?;
        }
        let subvolume = is_subvolume(&path);
        let snapshot = snapshots && subvolume;
        if subvolume {
            // The staging subvolume is kept read-only, and a kill between
            // that and the naming leaves a read-only partial generation.
            set_read_only(&path, false).map_err(io(&path, "cannot make it writable"))?;
        }
        std::fs::create_dir_all(path.join(DATA))
            .map_err(io(&path, "cannot create its data folder"))?;
        let failed = path.join(VERIFY_FAILED);
        let checksum = failed.exists();
        if checksum {
            std::fs::remove_file(&failed).map_err(io(&failed, "cannot remove it"))?;
        }
        // The manifest there (an earlier one) stays: when rsync sends the new
        // one, it is the delta's basis.
        let usage = path.join(USAGE);
        if usage.exists() {
            std::fs::remove_file(&usage).map_err(io(&usage, "cannot remove it"))?;
        }
        self.sync_folder()?;
        Ok(Prepared {
            id: id.to_string(),
            path,
            resumed,
            checksum,
            snapshot,
            staging: from_staging,
            staging_dropped,
        })
    }

    /// Whether the staging subvolume can be received into after `current`:
    /// it was the partial generation `current` was made from, and its
    /// btrfs stamp shows nothing in it changed since (committed first, so
    /// a change not yet on disk shows too). Else why not.
    fn staging_usable(&self, current: Option<&str>) -> Result<(), String> {
        let staging = self.staging();
        let cur = current.ok_or("there is no current generation")?;
        if !is_subvolume(&staging) {
            return Err("it is not a btrfs subvolume".into());
        }
        let was = stamp::recorded(&self.root, stamp::STAGING_STAMP_FILE)
            .ok_or("its stamp was not recorded")?;
        if was.generation != cur {
            return Err(format!(
                "it was kept for {}, not for the current generation",
                was.generation
            ));
        }
        if was.flags & stamp::READ_ONLY == 0 {
            return Err("it was not kept read-only".into());
        }
        let now = stamp::now(cur, &staging).ok_or("its stamp cannot be read")?;
        if now.flags & stamp::READ_ONLY == 0 {
            return Err("it was made writable since it was kept".into());
        }
        if now != was {
            return Err("it changed since it was kept (its btrfs stamp moved)".into());
        }
        Ok(())
    }

    /// After generation `id` was made from the partial one at `partial` (a
    /// read-only subvolume since before the snapshot): keeps it as the
    /// staging subvolume with its stamp. Read-only, nothing can change it
    /// while it is kept (not even an atime), and the snapshot's commit
    /// made its numbers final. Best effort: without it the next run makes
    /// its partial generation from current, as a first run does.
    fn keep_as_staging(&self, id: &str, partial: &Path, read_only: bool) {
        let staging = self.staging();
        let kept = read_only
            && std::fs::symlink_metadata(&staging).is_err()
            && std::fs::rename(partial, &staging).is_ok();
        if !kept {
            let _ = self.trash(partial);
            return;
        }
        crash_point("after-staging");
        if let Some(s) = stamp::committed(id, &staging) {
            let _ = stamp::record(&self.root, stamp::STAGING_STAMP_FILE, &s);
        }
    }

    /// After a failed transfer: rsync's partly sent files are kept for the
    /// next run to resume, unless they take more room than the file system
    /// has left (a full disk: a partly sent file of a source file deleted
    /// since would then stop every later run). Returns the bytes dropped.
    pub fn drop_partly_sent_if_full(&self, id: &str) -> Option<u64> {
        let dir = self.partial(id).join(RSYNC_PARTIAL);
        let held: u64 = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let c = std::ffi::CString::new(self.root.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: statvfs writes into the struct we own.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let free = st.f_bavail as u64 * st.f_frsize as u64;
        if held == 0 || held <= free {
            return None;
        }
        std::fs::remove_dir_all(&dir).ok()?;
        Some(held)
    }

    /// Marks a partial whose check failed: the next transfer compares content.
    pub fn mark_failed(&self, id: &str, why: &str) {
        let _ = fsio::write_atomic(&self.partial(id).join(VERIFY_FAILED), why.as_bytes(), 0o644);
    }

    /// Makes a verified partial generation `id` final: its record written,
    /// rsync's working files removed, every written byte of the file
    /// system flushed (rsync does not flush), then the rename, flushed. A
    /// btrfs partial generation is not renamed: the generation is a
    /// snapshot of it, and it is kept as the staging subvolume.
    pub fn finalize(&self, id: &str, meta: &Meta) -> Result<(), LayoutError> {
        let partial = self.partial(id);
        for leftover in [USAGE, VERIFY_FAILED, MANIFEST_TMP] {
            let p = partial.join(leftover);
            if p.exists() {
                std::fs::remove_file(&p).map_err(io(&p, "cannot remove it"))?;
            }
        }
        let rp = partial.join(RSYNC_PARTIAL);
        if rp.exists() {
            std::fs::remove_dir_all(&rp).map_err(io(&rp, "cannot remove it"))?;
        }
        let text = serde_json::to_string_pretty(meta).unwrap_or_default() + "\n";
        let meta_path = partial.join(META);
        fsio::write_atomic(&meta_path, text.as_bytes(), 0o644)
            .map_err(|e| bad(e.to_string(), meta_path))?;
        self.sync_file_system()?;
        crash_point("before-rename");
        let dir = self.dir(id);
        if is_subvolume(&partial) {
            // The generation is a writable snapshot of it (whole under its
            // name in one transaction, committed), and it stays, read-only,
            // for the next run.
            let read_only = set_read_only(&partial, true).is_ok();
            snapshot(&partial, &dir)?;
            self.sync_folder()?;
            crash_point("after-rename");
            self.keep_as_staging(id, &partial, read_only);
            return Ok(());
        }
        std::fs::rename(&partial, &dir)
            .map_err(io(&partial, "cannot rename it to its final name"))?;
        self.sync_folder()?;
        crash_point("after-rename");
        Ok(())
    }

    /// Points `current` at generation `id`: a new link renamed over the
    /// old one (atomic), then the folder flushed.
    pub fn switch(&self, id: &str) -> Result<(), LayoutError> {
        let tmp = self.root.join(CURRENT_TMP);
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(id, &tmp).map_err(io(&tmp, "cannot make the link"))?;
        crash_point("before-switch");
        let link = self.current_link();
        std::fs::rename(&tmp, &link).map_err(io(&link, "cannot rename the new link over it"))?;
        self.sync_folder()?;
        crash_point("after-switch");
        Ok(())
    }

    /// Removes complete generations beyond the newest `keep`, never the
    /// current one nor one in `protect`. A folder is renamed out of the way
    /// before it is deleted, so no half-deleted folder ever carries a
    /// generation's name; a subvolume loses its name in one transaction.
    pub fn prune(&self, keep: u32, protect: &[String]) -> Result<Vec<String>, LayoutError> {
        let current = self.current()?;
        let all = self.generations()?;
        let keep_from = all.len().saturating_sub(keep as usize);
        let mut pruned = Vec::new();
        for (i, id) in all.iter().enumerate() {
            if i >= keep_from || current.as_deref() == Some(id) || protect.contains(id) {
                continue;
            }
            self.trash(&self.dir(id))?;
            pruned.push(id.clone());
        }
        Ok(pruned)
    }

    fn trash(&self, path: &Path) -> Result<(), LayoutError> {
        if is_subvolume(path) {
            // One transaction takes a subvolume's name away, whole; btrfs
            // frees its extents later, in the background, and a crash
            // leaves it either whole or gone: no rename (and no flush of
            // the folder for it) is needed.
            return remove_tree(path);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let to = self.root.join(format!("{TRASH_PREFIX}{name}"));
        std::fs::rename(path, &to).map_err(io(path, "cannot move it aside"))?;
        self.sync_folder()?;
        remove_tree(&to)
    }

    pub fn sync_folder(&self) -> Result<(), LayoutError> {
        std::fs::File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.root, "cannot flush the folder"))
    }

    /// Flushes every written byte of the generations' file system.
    pub fn sync_file_system(&self) -> Result<(), LayoutError> {
        let dir = std::fs::File::open(&self.root).map_err(io(&self.root, "cannot open it"))?;
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(io(&self.root, "cannot flush the file system")(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> Meta {
        Meta {
            format: META_FORMAT.into(),
            version: 1,
            id: id.into(),
            point_in_time: String::new(),
            point_in_time_ns: 0,
            consistent: true,
            snapshot: "btrfs".into(),
            source_host: "p".into(),
            source: "/srv".into(),
            manifest_sha256: String::new(),
            verified_at: String::new(),
            check_status: "OK".into(),
            check_message: String::new(),
        }
    }

    #[test]
    fn a_snapshot_is_never_made_into_what_exists() {
        // `btrfs subvolume snapshot A B` with a folder B makes B/A and
        // succeeds: the generation's name would then be an old folder.
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir(&from).unwrap();
        std::fs::create_dir(&to).unwrap();
        let e = snapshot(&from, &to).unwrap_err().to_string();
        assert!(e.contains("it exists already"), "{e}");
        assert_eq!(std::fs::read_dir(&to).unwrap().count(), 0);
    }

    #[test]
    fn ids_sort_by_time_and_are_recognised() {
        let a = id_for(1_795_655_805_868_824_867);
        assert_eq!(a, "20261126T011645.868Z");
        assert!(is_id(&a));
        assert!(id_for(1_795_655_805_868_824_867 + 1_000_000) > a);
        for bad in [
            "current",
            "20261126T011645.868Z.partial",
            "../20261126T01164",
            "20261126X011645.868Z",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_generation_becomes_current_only_when_final_and_prune_keeps_current() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(&dir.path().join("gen"));
        l.ensure().unwrap();
        assert_eq!(l.current().unwrap(), None);
        let mut ids = Vec::new();
        for i in 0..4 {
            let id = id_for(1_795_655_805_000_000_000 + i * 1_000_000_000);
            let p = l.prepare(&id, l.current().unwrap().as_deref()).unwrap();
            assert_eq!((p.resumed.as_deref(), p.checksum), (None, false));
            std::fs::write(p.path.join("data/f"), format!("{i}")).unwrap();
            assert_eq!(l.generations().unwrap().len(), i as usize);
            l.finalize(&id, &meta(&id)).unwrap();
            l.switch(&id).unwrap();
            assert_eq!(l.current().unwrap().as_deref(), Some(id.as_str()));
            assert_eq!(l.meta(&id).unwrap().id, id);
            ids.push(id);
        }
        // Keep 2: the two newest; the oldest is protected by a hold.
        let pruned = l.prune(2, &[ids[0].clone()]).unwrap();
        assert_eq!(pruned, vec![ids[1].clone()]);
        assert_eq!(
            l.generations().unwrap(),
            vec![ids[0].clone(), ids[2].clone(), ids[3].clone()]
        );
        // current is kept even when it is not among the newest (a
        // generation renamed but never switched to).
        l.switch(&ids[0]).unwrap();
        assert_eq!(l.prune(1, &[]).unwrap(), vec![ids[2].clone()]);
        assert_eq!(
            l.generations().unwrap(),
            vec![ids[0].clone(), ids[3].clone()]
        );
    }

    #[test]
    fn a_cut_partial_is_resumed_under_the_new_name_and_a_failed_one_asks_for_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        let first = l.prepare("20261126T011645.868Z", None).unwrap();
        std::fs::write(first.path.join("data/big"), "half").unwrap();
        l.mark_failed("20261126T011645.868Z", "changed: data:big");
        let second = l.prepare("20261126T013000.000Z", None).unwrap();
        assert_eq!(second.resumed.as_deref(), Some("20261126T011645.868Z"));
        assert!(second.checksum);
        assert_eq!(
            std::fs::read_to_string(second.path.join("data/big")).unwrap(),
            "half"
        );
        assert_eq!(
            l.partials().unwrap(),
            vec!["20261126T013000.000Z".to_string()]
        );
        let third = l.prepare("20261126T014000.000Z", None).unwrap();
        assert!(!third.checksum);
    }

    #[test]
    fn a_current_that_is_not_a_link_to_a_generation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        std::os::unix::fs::symlink("/etc", l.current_link()).unwrap();
        assert!(l
            .current()
            .unwrap_err()
            .to_string()
            .contains("not a generation"));
        std::fs::remove_file(l.current_link()).unwrap();
        std::fs::create_dir(l.current_link()).unwrap();
        assert!(l.current().unwrap_err().to_string().contains("a folder"));
    }
}
