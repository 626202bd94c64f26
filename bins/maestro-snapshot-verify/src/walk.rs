//! The walker: lists the roots, stats and hashes every regular file on all
//! cores, and hands the entries on in a stable order.
//!
//! One thread walks (walkdir, names sorted, symlinks never followed, so no
//! walk can leave a root or loop), worker threads hash, and the caller's
//! thread receives the entries in walk order through a reorder buffer. A
//! window of permits bounds the entries in flight, so memory stays flat
//! however large the tree.
//!
//! Torn files: each file is `fstat`ed right after it is opened and again
//! after it was read; a change of size, mtime or ctime in between, a read
//! that saw another size, or an mtime at or after the capture's start marks
//! the entry torn: it is not a copy of one instant.

use crate::manifest::{Entry, Kind, RawName};
use crate::store::{CacheKey, RootCache};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

/// Entries in flight between the walker and the caller.
const WINDOW: usize = 4096;
const READ_BUF: usize = 256 * 1024;

/// A folder to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub name: String,
    pub path: PathBuf,
}

/// A glob of `--exclude`: with a `/` it matches the whole relative path,
/// without one the name at any depth.
#[derive(Debug, Clone)]
pub struct ExcludeGlob {
    pub text: String,
    pattern: glob::Pattern,
    whole_path: bool,
}

impl ExcludeGlob {
    pub fn new(text: &str) -> Result<ExcludeGlob, String> {
        let trimmed = text.trim_start_matches("./").trim_end_matches('/');
        let pattern = glob::Pattern::new(trimmed)
            .map_err(|e| format!("--exclude {text:?}: not a valid glob: {e}"))?;
        Ok(ExcludeGlob {
            text: text.to_string(),
            pattern,
            whole_path: trimmed.contains('/'),
        })
    }

    fn matches(&self, rel: &Path) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        if self.whole_path {
            self.pattern.matches_with(&rel.to_string_lossy(), opts)
        } else {
            rel.file_name()
                .is_some_and(|n| self.pattern.matches_with(&n.to_string_lossy(), opts))
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Absolute paths left out (the site's log, temp and backup folders).
    pub excluded_paths: Vec<PathBuf>,
    pub globs: Vec<ExcludeGlob>,
    /// Read and hash regular files (false: metadata only).
    pub hash: bool,
    pub threads: usize,
    /// Entries modified at or after this instant are torn.
    pub window_start_ns: i64,
}

/// What a walk did, beside the entries.
#[derive(Debug, Default)]
pub struct WalkStats {
    pub cache_hits: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    /// Per root: new hashes for the cache, and the cached keys that hit
    /// (the others are stale).
    pub cache_added: HashMap<String, Vec<(CacheKey, [u8; 32])>>,
    pub cache_seen: HashMap<String, HashSet<CacheKey>>,
}

struct Job {
    seq: u64,
    entry: Entry,
    abs: PathBuf,
    lstat_key: CacheKey,
}

struct Done {
    seq: u64,
    entry: Entry,
    /// Set when the file was read: its key and hash, for the cache.
    hashed: Option<(CacheKey, [u8; 32])>,
    /// Set when the cache answered.
    cache_hit: Option<CacheKey>,
    bytes_read: u64,
}

fn key_of(m: &std::fs::Metadata) -> CacheKey {
    CacheKey {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
        ctime_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec()
}

/// Walk `roots` and call `sink` with every entry, in walk order.
/// `caches` holds the hash cache of each root that has one.
pub fn walk(
    roots: &[Root],
    opts: &WalkOptions,
    caches: &HashMap<String, RootCache>,
    mut sink: impl FnMut(Entry) -> io::Result<()>,
) -> io::Result<WalkStats> {
    let threads = opts.threads.max(1);
    let (permit_tx, permit_rx) = mpsc::sync_channel::<()>(WINDOW);
    for _ in 0..WINDOW {
        let _ = permit_tx.send(());
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 4);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let mut stats = WalkStats::default();
    let stop = AtomicBool::new(false);

    thread::scope(|scope| -> io::Result<()> {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let window_start = opts.window_start_ns;
            scope.spawn(move || worker(&job_rx, &done_tx, window_start));
        }
        {
            let done_tx = done_tx.clone();
            let stop = &stop;
            scope.spawn(move || walker(roots, opts, caches, &permit_rx, &job_tx, &done_tx, stop));
        }
        drop(done_tx);

        // Hand the entries on in order; return a permit for each.
        let mut pending: HashMap<u64, Done> = HashMap::new();
        let mut next = 0u64;
        let mut failure: Option<io::Error> = None;
        for done in done_rx {
            pending.insert(done.seq, done);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                let root = d.entry.root.clone();
                if let Some(k) = d.cache_hit {
                    stats.cache_hits += 1;
                    stats.cache_seen.entry(root.clone()).or_default().insert(k);
                }
                if let Some((k, h)) = d.hashed {
                    stats.cache_added.entry(root).or_default().push((k, h));
                }
                stats.bytes_read += d.bytes_read;
                if failure.is_none() {
                    if let Err(e) = sink(d.entry) {
                        failure = Some(e);
                        // Stop the walk; what is in flight is drained.
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                // The walker may be gone (finished, or stopped by SIGINT).
                let _ = permit_tx.send(());
            }
        }
        match failure {
            Some(e) => Err(e),
            None if maestro_common::signal::interrupted() => {
                Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"))
            }
            None => Ok(()),
        }
    })?;
    stats.files_read = stats.cache_added.values().map(|v| v.len() as u64).sum();
    Ok(stats)
}

fn walker(
    roots: &[Root],
    opts: &WalkOptions,
    caches: &HashMap<String, RootCache>,
    permits: &Receiver<()>,
    jobs: &SyncSender<Job>,
    done: &mpsc::Sender<Done>,
    stop: &AtomicBool,
) {
    let mut seq = 0u64;
    // Send one entry: regular files to be hashed go to the workers, the
    // rest (and cache hits) straight to the caller.
    let mut emit = |entry: Entry, abs: PathBuf, meta: Option<&std::fs::Metadata>| -> bool {
        if permits.recv().is_err()
            || stop.load(Ordering::Relaxed)
            || maestro_common::signal::interrupted()
        {
            return false;
        }
        let this = seq;
        seq += 1;
        let wants_read = opts.hash && entry.kind == Kind::File && entry.error.is_none();
        if let (true, Some(meta)) = (wants_read, meta) {
            let key = key_of(meta);
            if let Some(hash) = caches.get(&entry.root).and_then(|c| c.hashes.get(&key)) {
                let mut entry = entry;
                entry.sha256 = Some(crate::manifest::hex(hash));
                return done
                    .send(Done {
                        seq: this,
                        entry,
                        hashed: None,
                        cache_hit: Some(key),
                        bytes_read: 0,
                    })
                    .is_ok();
            }
            return jobs
                .send(Job {
                    seq: this,
                    entry,
                    abs,
                    lstat_key: key,
                })
                .is_ok();
        }
        done.send(Done {
            seq: this,
            entry,
            hashed: None,
            cache_hit: None,
            bytes_read: 0,
        })
        .is_ok()
    };

    for root in roots {
        let excluded = |p: &Path| opts.excluded_paths.iter().any(|x| x == p);
        let it = walkdir::WalkDir::new(&root.path)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|d| {
                if d.depth() == 0 {
                    return true;
                }
                if excluded(d.path()) {
                    return false;
                }
                let rel = d.path().strip_prefix(&root.path).unwrap_or(d.path());
                !opts.globs.iter().any(|g| g.matches(rel))
            });
        // A folder that cannot be listed comes as the folder, then an
        // error for the same path: hold each folder back one step so the
        // two become one entry.
        let mut held: Option<(Entry, PathBuf)> = None;
        for item in it {
            match item {
                Ok(d) => {
                    if let Some((e, abs)) = held.take() {
                        if !emit(e, abs, None) {
                            return;
                        }
                    }
                    let rel = d.path().strip_prefix(&root.path).unwrap_or(Path::new(""));
                    let entry = match d.metadata() {
                        Ok(meta) => entry_from_meta(root, rel, d.path(), &meta, opts),
                        Err(e) => error_entry(root, rel, io_text(e.io_error(), &e.to_string())),
                    };
                    if entry.kind == Kind::Dir {
                        held = Some((entry, d.path().to_path_buf()));
                        continue;
                    }
                    let meta = d.metadata().ok();
                    if !emit(entry, d.path().to_path_buf(), meta.as_ref()) {
                        return;
                    }
                }
                Err(err) => {
                    let path = err
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.path.clone());
                    let text = io_text(err.io_error(), &err.to_string());
                    match held.take() {
                        Some((mut e, abs)) if abs == path => {
                            e.error = Some(format!("cannot list: {text}"));
                            if !emit(e, abs, None) {
                                return;
                            }
                        }
                        other => {
                            if let Some((e, abs)) = other {
                                if !emit(e, abs, None) {
                                    return;
                                }
                            }
                            let rel = path.strip_prefix(&root.path).unwrap_or(Path::new(""));
                            if !emit(error_entry(root, rel, text), path.clone(), None) {
                                return;
                            }
                        }
                    }
                }
            }
        }
        if let Some((e, abs)) = held.take() {
            if !emit(e, abs, None) {
                return;
            }
        }
    }
}

fn io_text(err: Option<&io::Error>, fallback: &str) -> String {
    match err {
        Some(e) => e.to_string(),
        None => fallback.to_string(),
    }
}

fn error_entry(root: &Root, rel: &Path, error: String) -> Entry {
    Entry {
        root: root.name.clone(),
        path: RawName::from_os(rel.as_os_str()),
        kind: Kind::Error,
        size: 0,
        mode: 0,
        mtime_ns: 0,
        sha256: None,
        target: None,
        torn: None,
        error: Some(error),
    }
}

fn entry_from_meta(
    root: &Root,
    rel: &Path,
    abs: &Path,
    meta: &std::fs::Metadata,
    opts: &WalkOptions,
) -> Entry {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Other
    };
    let mut entry = Entry {
        root: root.name.clone(),
        path: RawName::from_os(rel.as_os_str()),
        kind: kind.clone(),
        size: if kind == Kind::Dir { 0 } else { meta.size() },
        mode: meta.mode() & 0o7777,
        mtime_ns: mtime_ns(meta),
        sha256: None,
        target: None,
        torn: None,
        error: None,
    };
    if kind == Kind::Symlink {
        match std::fs::read_link(abs) {
            Ok(t) => entry.target = Some(RawName::from_os(t.as_os_str())),
            Err(e) => {
                entry.target = Some(RawName::default());
                entry.error = Some(format!("cannot read the link: {e}"));
            }
        }
    }
    if matches!(kind, Kind::File | Kind::Dir) && entry.mtime_ns >= opts.window_start_ns {
        entry.torn = Some("modified during the capture (mtime after its start)".into());
    }
    entry
}

fn worker(jobs: &Mutex<Receiver<Job>>, done: &mpsc::Sender<Done>, window_start_ns: i64) {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let seq = job.seq;
        let (entry, hashed, bytes_read) = hash_file(job, &mut buf, window_start_ns);
        if done
            .send(Done {
                seq,
                entry,
                hashed,
                cache_hit: None,
                bytes_read,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Read and hash one regular file, stat'ing it before and after.
fn hash_file(
    job: Job,
    buf: &mut [u8],
    window_start_ns: i64,
) -> (Entry, Option<(CacheKey, [u8; 32])>, u64) {
    let mut entry = job.entry;
    // O_NOFOLLOW: a file swapped for a symlink since the listing is not
    // followed out of the root; O_NONBLOCK: one swapped for a fifo does
    // not hang the capture.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOATIME)
        .open(&job.abs)
        .or_else(|e| {
            // O_NOATIME is only for the file's owner (or root).
            if e.raw_os_error() == Some(libc::EPERM) {
                File::options()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&job.abs)
            } else {
                Err(e)
            }
        });
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            entry.error = Some(format!("cannot open: {e}"));
            return (entry, None, 0);
        }
    };
    let before = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            entry.error = Some(format!("cannot stat: {e}"));
            return (entry, None, 0);
        }
    };
    if !before.file_type().is_file() {
        entry.torn = Some("replaced by another kind of entry while walked".into());
        return (entry, None, 0);
    }
    let key_before = key_of(&before);
    // What is recorded is what was read, not what was listed.
    entry.size = before.size();
    entry.mode = before.mode() & 0o7777;
    entry.mtime_ns = mtime_ns(&before);
    let mut hasher = Sha256::new();
    let mut read_total = 0u64;
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                read_total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                entry.error = Some(format!("cannot read: {e}"));
                return (entry, None, read_total);
            }
        }
    }
    let hash: [u8; 32] = hasher.finalize().into();
    entry.sha256 = Some(crate::manifest::hex(&hash));
    let after = match file.metadata() {
        Ok(m) => key_of(&m),
        Err(e) => {
            entry.error = Some(format!("cannot stat after reading: {e}"));
            return (entry, None, read_total);
        }
    };
    let mut torn = Vec::new();
    if after.size != key_before.size {
        torn.push(format!(
            "size changed while read ({} -> {})",
            key_before.size, after.size
        ));
    }
    if after.mtime_ns != key_before.mtime_ns {
        torn.push("mtime changed while read".to_string());
    }
    if after.ctime_ns != key_before.ctime_ns {
        torn.push("ctime changed while read".to_string());
    }
    if read_total != key_before.size {
        torn.push(format!("read {read_total} bytes of {}", key_before.size));
    }
    if job.lstat_key.ino != key_before.ino {
        torn.push("replaced while walked".to_string());
    }
    if key_before.mtime_ns >= window_start_ns || after.mtime_ns >= window_start_ns {
        torn.push("modified during the capture (mtime after its start)".to_string());
    }
    if !torn.is_empty() {
        entry.torn = Some(torn.join("; "));
        return (entry, None, read_total);
    }
    entry.torn = None;
    (entry, Some((key_before, hash)), read_total)
}

/// Parse `--root [NAME=]DIR`. A bare DIR is named after its last component.
pub fn parse_root(spec: &str) -> Result<Root, String> {
    let (name, dir) = match spec.split_once('=') {
        Some((n, d)) if !n.is_empty() && !n.contains('/') => (Some(n.to_string()), d),
        _ => (None, spec),
    };
    if dir.is_empty() {
        return Err(format!("--root {spec:?}: no folder given"));
    }
    let path = PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(format!(
            "--root {spec:?}: give an absolute path (two manifests are only comparable when their roots are named alike)"
        ));
    }
    let name = match name {
        Some(n) => n,
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".to_string()),
    };
    Ok(Root { name, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_named_after_their_folder_unless_named() {
        assert_eq!(
            parse_root("/srv/lui").unwrap(),
            Root {
                name: "lui".into(),
                path: "/srv/lui".into()
            }
        );
        assert_eq!(parse_root("db=/var/lib/mysql").unwrap().name, "db");
        assert!(parse_root("relative/dir").is_err());
        assert!(parse_root("x=").is_err());
    }

    #[test]
    fn globs_match_names_anywhere_or_whole_paths() {
        let g = ExcludeGlob::new("*.log").unwrap();
        assert!(g.matches(Path::new("a/b/x.log")));
        assert!(!g.matches(Path::new("a/x.log.1")));
        let g = ExcludeGlob::new("cache/*").unwrap();
        assert!(g.matches(Path::new("cache/x")));
        assert!(!g.matches(Path::new("a/cache/x")));
        assert!(!g.matches(Path::new("cache/x/y")));
        assert!(ExcludeGlob::new("[").is_err());
    }
}
