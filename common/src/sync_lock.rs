//! The lock of a generations folder (maestro-sync's replicas).
//!
//! A sync that makes a generation and moves the `current` link holds the
//! folder's lock file (`.maestro-sync.lock`) exclusively, from before it
//! looks at `current` until the link is moved and old generations are
//! pruned. Everything else that must see one generation whole takes it
//! too: `maestro-snapshot-verify check` shares it while it walks a root
//! that lies in a generations folder (a check of `current` while the next
//! generation is hard-linked from it saw files "changing"), `maestro-sync
//! hold` (a Maestro start) takes it exclusively while it pins `current`,
//! and `maestro-fence fence` takes it exclusively, ending a running sync,
//! before it records its epoch, so no sync moves `current` once the
//! failover has taken over.
//!
//! It is an flock: the kernel releases it when its holder dies, so a
//! killed sync never leaves the folder locked. The exclusive holder writes
//! who it is into the file, for the messages of those who wait.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file's name in a generations folder.
pub const LOCK_FILE: &str = ".maestro-sync.lock";

/// Whether others may hold the lock at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Readers: any number at once, never with a writer.
    Shared,
    /// The one writer.
    Exclusive,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncLockError {
    #[error("cannot open the sync lock {}: {source}", .path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("the sync lock {} is {kind}, not a regular file; refusing (remove it: a sync creates it again)", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("the sync lock {} is held{}; gave up waiting after {:.1}s", .path.display(), holder_text(.holder), .waited.as_secs_f64())]
    Busy {
        path: PathBuf,
        waited: Duration,
        holder: Option<String>,
    },
    #[error("interrupted while waiting for the sync lock {}", .path.display())]
    Interrupted { path: PathBuf },
}

fn holder_text(holder: &Option<String>) -> String {
    match holder {
        Some(h) if !h.is_empty() => format!(" by {h}"),
        _ => String::new(),
    }
}

/// A held lock, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct SyncLock {
    file: File,
    path: PathBuf,
    mode: LockMode,
}

/// The lock file of a generations folder.
pub fn lock_file(generations: &Path) -> PathBuf {
    generations.join(LOCK_FILE)
}

/// The lock guarding `path`: the lock file in the nearest folder at or
/// above it, looked for along its real path (links resolved: a root given
/// as `.../current/data` or as a link into a generation) and along the path
/// as given. `None` when `path` lies in no generations folder.
pub fn guarding(path: &Path) -> Option<PathBuf> {
    let given = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let real = std::fs::canonicalize(path).ok();
    for p in real.iter().chain(std::iter::once(&given)) {
        for dir in p.ancestors() {
            let candidate = dir.join(LOCK_FILE);
            if std::fs::symlink_metadata(&candidate).is_ok() {
                return Some(candidate);
            }
        }
    }
    None
}

impl SyncLock {
    /// Takes the lock at `path` in `mode`, waiting at most `wait` (a
    /// SIGINT or SIGTERM ends the wait). `create`: make the lock file when
    /// it is missing (the sync does; readers only lock what exists). A
    /// FIFO, a link or anything but a regular file at `path` is refused at
    /// once, never opened in a way that could block.
    pub fn acquire(
        path: &Path,
        mode: LockMode,
        wait: Duration,
        create: bool,
    ) -> Result<SyncLock, SyncLockError> {
        let mut opts = OpenOptions::new();
        opts.read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC);
        if create {
            opts.write(true).create(true).truncate(false).mode(0o644);
        }
        let not_regular = |meta: std::fs::Metadata| SyncLockError::NotRegular {
            path: path.to_path_buf(),
            kind: crate::fsio::kind_name(meta.file_type()),
        };
        let file = match opts.open(path) {
            Ok(f) => f,
            Err(source) => {
                return Err(match std::fs::symlink_metadata(path) {
                    Ok(meta) if !meta.is_file() => not_regular(meta),
                    _ => SyncLockError::Open {
                        path: path.to_path_buf(),
                        source,
                    },
                })
            }
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {}
            Ok(meta) => return Err(not_regular(meta)),
            Err(source) => {
                return Err(SyncLockError::Open {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let op = match mode {
            LockMode::Shared => libc::LOCK_SH,
            LockMode::Exclusive => libc::LOCK_EX,
        };
        let started = Instant::now();
        loop {
            // SAFETY: flock on a descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
                return Ok(SyncLock {
                    file,
                    path: path.to_path_buf(),
                    mode,
                });
            }
            if crate::signal::interrupted() {
                return Err(SyncLockError::Interrupted {
                    path: path.to_path_buf(),
                });
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(SyncLockError::Busy {
                    path: path.to_path_buf(),
                    waited,
                    holder: read_holder(&file),
                });
            }
            // Short steps first (a sync ends its critical part in
            // milliseconds), then gentler ones for a long wait.
            let step = if waited < Duration::from_secs(1) {
                Duration::from_millis(20)
            } else {
                Duration::from_millis(200)
            };
            std::thread::sleep(step.min(wait - waited));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> LockMode {
        self.mode
    }

    /// The exclusive holder says who it is (`pid=4242 maestro-sync receive
    /// ...`), for those who wait. Best effort: the lock holds either way.
    pub fn describe(&mut self, what: &str) {
        if self.mode != LockMode::Exclusive {
            return;
        }
        let text = format!(
            "pid={} {} since {}\n",
            std::process::id(),
            what,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let _ = self
            .file
            .set_len(0)
            .and_then(|_| self.file.rewind())
            .and_then(|_| self.file.write_all(text.as_bytes()));
    }
}

/// What the holder wrote, read through our own descriptor (bounded).
fn read_holder(file: &File) -> Option<String> {
    let mut f = file.try_clone().ok()?;
    f.rewind().ok()?;
    let mut buf = Vec::new();
    f.take(512).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The pid a holder text names, when that process is a maestro-sync
/// (a pid reused by another program since is never signalled).
fn sync_holder_pid(holder: &str) -> Option<libc::pid_t> {
    let pid: libc::pid_t = holder
        .split_whitespace()
        .next()?
        .strip_prefix("pid=")?
        .parse()
        .ok()?;
    let comm = crate::fsio::read_regular_to_string(
        Path::new(&format!("/proc/{pid}/comm")),
        crate::fsio::KIB,
    )
    .ok()?;
    (pid > 1 && comm.trim() == "maestro-sync").then_some(pid)
}

/// Takes the lock of the generations folder `generations` exclusively,
/// ending a sync that holds it: after a short wait the holder (a
/// maestro-sync, as its lock file names it) gets SIGTERM, which makes it
/// stop before it moves `current`, and the lock is waited for until `wait`
/// has passed. `Ok(None)` when the folder does not exist (no sync can run
/// into it). For `maestro-fence fence` on the failover.
pub fn take_over(generations: &Path, wait: Duration) -> Result<Option<SyncLock>, SyncLockError> {
    if !generations.is_dir() {
        return Ok(None);
    }
    let path = lock_file(generations);
    let started = Instant::now();
    let first = wait.min(Duration::from_secs(2));
    match SyncLock::acquire(&path, LockMode::Exclusive, first, true) {
        Ok(lock) => Ok(Some(lock)),
        Err(SyncLockError::Busy { holder, .. }) => {
            if let Some(pid) = holder.as_deref().and_then(sync_holder_pid) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let rest = wait.saturating_sub(started.elapsed());
            SyncLock::acquire(&path, LockMode::Exclusive, rest, true).map(Some)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_exclude_the_writer_and_the_writer_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_file(dir.path());
        let mut w = SyncLock::acquire(&path, LockMode::Exclusive, Duration::ZERO, true).unwrap();
        w.describe("maestro-sync receive 20261126T011645.123Z");
        let e = SyncLock::acquire(&path, LockMode::Shared, Duration::from_millis(50), false)
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, SyncLockError::Busy { .. }), "{text}");
        assert!(
            text.contains(&format!("pid={}", std::process::id()))
                && text.contains("receive 20261126T011645.123Z"),
            "{text}"
        );
        drop(w);
        let a = SyncLock::acquire(&path, LockMode::Shared, Duration::from_secs(2), false).unwrap();
        let b = SyncLock::acquire(&path, LockMode::Shared, Duration::ZERO, false).unwrap();
        assert!(
            SyncLock::acquire(&path, LockMode::Exclusive, Duration::from_millis(50), true).is_err()
        );
        drop((a, b));
        SyncLock::acquire(&path, LockMode::Exclusive, Duration::from_secs(2), true).unwrap();
    }

    #[test]
    fn a_lock_file_that_is_not_a_regular_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_file(dir.path());
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let e =
            SyncLock::acquire(&path, LockMode::Shared, Duration::from_secs(5), false).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(e.to_string().contains("is a FIFO"), "{e}");
    }

    #[test]
    fn the_lock_guarding_a_path_is_found_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let gen = dir.path().join("gen");
        std::fs::create_dir_all(gen.join("g1/data/lui")).unwrap();
        std::os::unix::fs::symlink("g1", gen.join("current")).unwrap();
        std::os::unix::fs::symlink(gen.join("current/data"), dir.path().join("maestro")).unwrap();
        assert_eq!(guarding(&gen.join("current/data")), None);
        std::fs::write(lock_file(&gen), "").unwrap();
        for p in [
            gen.join("current/data"),
            gen.join("g1/data/lui"),
            dir.path().join("maestro"),
            gen.join("current"),
        ] {
            assert_eq!(guarding(&p), Some(lock_file(&gen)), "{}", p.display());
        }
        assert_eq!(guarding(dir.path()), None);
    }

    #[test]
    fn take_over_of_a_missing_folder_is_nothing_to_take() {
        let dir = tempfile::tempdir().unwrap();
        assert!(take_over(&dir.path().join("nope"), Duration::ZERO)
            .unwrap()
            .is_none());
        let held = take_over(dir.path(), Duration::from_secs(1)).unwrap();
        assert!(held.is_some());
        // A holder that is not a maestro-sync (this test) is not signalled:
        // the wait simply runs out.
        let e = take_over(dir.path(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, SyncLockError::Busy { .. }), "{e}");
    }
}
