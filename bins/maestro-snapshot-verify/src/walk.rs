//! The walker: lists the roots, stats and hashes every regular file on all
//! cores, and hands the entries on in a stable order.
//!
//! The caller's thread walks (walkdir, names sorted, symlinks never
//! followed, so no walk can leave a root or loop), worker threads `lstat`
//! the entries in batches and hash, and the entries are handed on in walk
//! order through a reorder queue whose length is bounded, so memory stays
//! flat however large the tree.
//!
//! Torn files: each file is `fstat`ed right after it is opened and again
//! after it was read; a change of size, mtime or ctime in between, a read
//! that saw another size, or an mtime at or after the capture's start marks
//! the entry torn: it is not a copy of one instant. On Windows the file
//! index and NTFS's change time, read from the handle, stand for the inode
//! and the ctime.
//!
//! A file another program holds open without sharing (Windows) cannot be
//! read at all: it is an error entry saying so ([`LOCKED`]), which the
//! capture reports as critical, never skipped.

use crate::manifest::{Entry, Kind, RawName};
use crate::store::{CacheKey, RootCache};
use maestro_common::platform;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

/// Entries in flight between the walker and the caller.
const WINDOW: usize = 4096;
/// Measured on the bench tree (AMD EPYC, warm page cache): reads of 32-128 KiB
/// copy out of the page cache about 3x as fast as reads of 256 KiB or 1 MiB,
/// whose buffer no longer stays in the core's cache between copy and hash.
const READ_BUF: usize = 64 * 1024;

/// A folder to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub name: String,
    /// The folder walked (a root given as a symbolic link: its target,
    /// resolved once before the walk).
    pub path: PathBuf,
    /// The symbolic link the root was given as, if it was.
    pub link: Option<PathBuf>,
}

impl Root {
    /// `lui=/srv/lui`, or `lui=/opt/lui -> /srv/lui` for a linked root.
    pub fn shown(&self) -> String {
        match &self.link {
            Some(link) => format!(
                "{}={} -> {}",
                self.name,
                link.display(),
                self.path.display()
            ),
            None => format!("{}={}", self.name, self.path.display()),
        }
    }
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

    pub fn matches(&self, rel: &Path) -> bool {
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
    /// Of the cache hits: answered through a relink window (see
    /// [`RootCache::lookup`]), their new keys among `cache_added`.
    pub relinked: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    /// Per root: new hashes for the cache. (The cached keys that hit are
    /// marked in the cache itself, see [`RootCache::hit`].)
    pub cache_added: HashMap<String, Vec<(CacheKey, [u8; 32])>>,
}

/// Entries a worker takes at a time: enough that the hand-off costs little
/// against the `lstat`s, few enough that the workers share the reads evenly.
const BATCH: usize = 64;

/// A listed entry that is not a folder: a worker `lstat`s it, and reads it
/// when it is a regular file the cache does not answer.
struct Listed {
    /// Index into the roots.
    root: usize,
    abs: PathBuf,
}

/// An entry in a batch: listed, for the worker to settle, or settled
/// already by the caller's thread (a folder, an error), which keeps its
/// place in the walk order by riding along.
// Batches are bounded (BATCH entries, WINDOW in flight), so the size of the
// larger variant does not matter; boxing would cost an allocation a folder.
#[allow(clippy::large_enum_variant)]
enum Item {
    Listed(Listed),
    Settled(Done),
}

/// Entries, in walk order, for one worker.
struct Job {
    seq: u64,
    items: Vec<Item>,
}

/// What a worker made of a job, in the job's order.
struct Finished {
    seq: u64,
    /// None: the worker panicked on this job; its entries are lost.
    done: Option<Vec<Done>>,
}

struct Done {
    entry: Entry,
    /// Set when the file was read: its key and hash, for the cache.
    hashed: Option<(CacheKey, [u8; 32])>,
    /// Set when the cache answered.
    cache_hit: bool,
    bytes_read: u64,
}

/// What the workers share with the walk, read only.
#[derive(Clone, Copy)]
struct Shared<'a> {
    roots: &'a [Root],
    opts: &'a WalkOptions,
    caches: &'a HashMap<String, RootCache>,
}

/// What an entry that another program holds open without sharing says
/// (Windows' sharing and lock violations): it cannot be read, so the
/// capture cannot be a copy of it.
pub const LOCKED: &str = "locked by a running program (stop Maestro or capture from a snapshot)";

/// Whether an entry's error is [`LOCKED`].
pub fn is_locked(entry: &Entry) -> bool {
    entry
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with(LOCKED))
}

/// An entry that could not be stat'ed: said to be [`LOCKED`] when another
/// program's sharing mode or lock is why.
fn listing_error(e: &io::Error) -> String {
    if platform::is_locked_by_another(e) {
        format!("{LOCKED}: {e}")
    } else {
        e.to_string()
    }
}

fn key_of(k: platform::StatKey) -> CacheKey {
    CacheKey {
        dev: k.device,
        ino: k.index,
        size: k.size,
        mtime_ns: k.mtime_ns,
        ctime_ns: k.ctime_ns,
    }
}

/// The whole key of a listed entry (whose `lstat` gave `meta`): on Windows
/// the file index and change time are read through a handle, which std's
/// metadata lacks; on Unix it is the `lstat`'s.
fn listed_key(abs: &Path, meta: &std::fs::Metadata) -> io::Result<platform::StatKey> {
    let kind = meta.file_type();
    if kind.is_file() || kind.is_dir() {
        platform::stat_key_at(abs, meta)
    } else {
        Ok(platform::stat_key(meta))
    }
}

/// Why an entry whose mtime or ctime falls inside the capture window is not
/// of one point in time: its content changed, or it was replaced, renamed
/// or had its metadata changed (a file rsync renames into place keeps the
/// source's mtime, but gets a new ctime).
fn changed_in_window(mtime_ns: i64, ctime_ns: i64, window_start_ns: i64) -> Option<&'static str> {
    if mtime_ns >= window_start_ns {
        Some("modified during the capture (mtime after its start)")
    } else if ctime_ns >= window_start_ns {
        Some("replaced or changed during the capture (ctime after its start)")
    } else {
        None
    }
}

/// Walk `roots` and call `sink` with every entry, in walk order.
/// `caches` holds the hash cache of each root that has one.
///
/// The caller's thread lists the folders (and `lstat`s the folders
/// themselves); every other entry goes, in batches, to the worker threads,
/// which `lstat` it, answer it from the cache or read and hash it. So the
/// `lstat`s of a cached capture, most of its cost, are shared by the cores,
/// at one thread hand-off a batch.
pub fn walk(
    roots: &[Root],
    opts: &WalkOptions,
    caches: &HashMap<String, RootCache>,
    sink: impl FnMut(Entry) -> io::Result<()>,
) -> io::Result<WalkStats> {
    let threads = opts.threads.max(1);
    let shared = Shared {
        roots,
        opts,
        caches,
    };
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 4);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Finished>();
    thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || worker(&job_rx, &done_tx, shared));
        }
        drop(done_tx);
        let mut out = Ordered {
            shared,
            queue: VecDeque::new(),
            in_flight: 0,
            open: None,
            finished: HashMap::new(),
            next_seq: 0,
            jobs: Some(job_tx),
            done: done_rx,
            buf: Vec::new(),
            sink,
            stats: WalkStats::default(),
            failure: None,
        };
        walk_roots(&mut out);
        out.send_open();
        out.jobs = None; // the workers end when the queue is empty
        while !out.queue.is_empty() {
            if !out.wait_one() {
                break;
            }
            out.flush();
        }
        let Ordered { stats, failure, .. } = out;
        match failure {
            Some(e) => Err(e),
            None if maestro_common::signal::interrupted() => {
                Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"))
            }
            None => Ok(stats),
        }
    })
}

/// An entry in walk order, done, or a batch of them a worker has.
// At most WINDOW slots exist, so their size does not matter; boxing would
// cost an allocation an entry.
#[allow(clippy::large_enum_variant)]
enum Slot {
    Ready(Done),
    Pending(u64),
}

/// Keeps the walk order while workers finish in any order, and bounds the
/// entries in flight.
struct Ordered<'a, F: FnMut(Entry) -> io::Result<()>> {
    shared: Shared<'a>,
    queue: VecDeque<Slot>,
    /// Entries in the queue (a pending batch counts all of its entries).
    in_flight: usize,
    /// The batch being filled; its slot is already in the queue.
    open: Option<Job>,
    finished: HashMap<u64, Vec<Done>>,
    next_seq: u64,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Finished>,
    /// Read buffer for the rare file the caller's thread reads itself.
    buf: Vec<u8>,
    sink: F,
    stats: WalkStats,
    failure: Option<io::Error>,
}

impl<F: FnMut(Entry) -> io::Result<()>> Ordered<'_, F> {
    fn stopped(&self) -> bool {
        self.failure.is_some() || maestro_common::signal::interrupted()
    }

    /// One entry the caller's thread stat'ed itself (a root, a folder, an
    /// error): done at once, unless it is a regular file to read.
    fn entry(&mut self, entry: Entry, abs: PathBuf, key: Option<platform::StatKey>) {
        let done = settle(entry, &abs, key, self.shared, &mut self.buf);
        self.in_flight += 1;
        // Behind a batch still being filled it must ride in that batch:
        // a slot of its own would overtake the batch's later entries.
        match &mut self.open {
            Some(job) => job.items.push(Item::Settled(done)),
            None => {
                self.queue.push_back(Slot::Ready(done));
                self.flush();
            }
        }
        self.bound();
    }

    /// A listed entry for a worker: into the open batch, which goes to the
    /// workers when full.
    fn listed(&mut self, item: Listed) {
        let job = match &mut self.open {
            Some(job) => job,
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.queue.push_back(Slot::Pending(seq));
                self.open.insert(Job {
                    seq,
                    items: Vec::with_capacity(BATCH),
                })
            }
        };
        job.items.push(Item::Listed(item));
        self.in_flight += 1;
        if job.items.len() >= BATCH {
            self.send_open();
            self.collect();
            self.flush();
        }
        self.bound();
    }

    /// Hand the open batch to the workers; with none left, do it here
    /// (never drop an entry).
    fn send_open(&mut self) {
        let Some(job) = self.open.take() else { return };
        let refused = match &self.jobs {
            Some(jobs) => jobs.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = refused {
            let done = run_job(job.items, self.shared, &mut self.buf);
            self.finished.insert(job.seq, done);
        }
    }

    fn bound(&mut self) {
        while self.in_flight >= WINDOW {
            if !self.wait_one() {
                return;
            }
            self.flush();
        }
    }

    /// Take whatever the workers have finished, without waiting.
    fn collect(&mut self) {
        while let Ok(f) = self.done.try_recv() {
            self.take(f);
        }
    }

    /// Keep a finished batch for its turn. A batch a worker panicked on is
    /// lost: the walk fails rather than hand on a manifest without it.
    fn take(&mut self, f: Finished) {
        match f.done {
            Some(done) => {
                self.finished.insert(f.seq, done);
            }
            None => {
                if self.failure.is_none() {
                    self.failure = Some(io::Error::other(
                        "a hashing thread failed (panicked) on a batch of entries",
                    ));
                }
            }
        }
    }

    /// Wait for one finished batch; false when no worker is left.
    fn wait_one(&mut self) -> bool {
        if self.failure.is_some() {
            return false;
        }
        // A batch still being filled may be what the queue waits for.
        self.send_open();
        if let Some(Slot::Pending(seq)) = self.queue.front() {
            if self.finished.contains_key(seq) {
                return true;
            }
        }
        match self.done.recv() {
            Ok(f) => {
                self.take(f);
                self.collect();
                self.failure.is_none()
            }
            Err(_) => {
                // Every worker is gone with batches still owed: fail the
                // walk rather than hand on a manifest with entries missing.
                if self.failure.is_none() {
                    self.failure = Some(io::Error::other("the hashing threads ended early"));
                }
                false
            }
        }
    }

    /// Hand on every entry at the front that is done.
    fn flush(&mut self) {
        loop {
            match self.queue.front() {
                Some(Slot::Ready(_)) => {
                    if let Some(Slot::Ready(d)) = self.queue.pop_front() {
                        self.emit(d);
                    }
                }
                Some(Slot::Pending(seq)) => {
                    let open = self.open.as_ref().is_some_and(|j| j.seq == *seq);
                    if open {
                        return;
                    }
                    let Some(batch) = self.finished.remove(seq) else {
                        return;
                    };
                    self.queue.pop_front();
                    for d in batch {
                        self.emit(d);
                    }
                }
                None => return,
            }
        }
    }

    fn emit(&mut self, d: Done) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if d.cache_hit {
            self.stats.cache_hits += 1;
            if d.hashed.is_some() {
                self.stats.relinked += 1;
            }
        } else if d.hashed.is_some() {
            self.stats.files_read += 1;
        }
        if let Some((k, h)) = d.hashed {
            match self.stats.cache_added.get_mut(&d.entry.root) {
                Some(added) => added.push((k, h)),
                None => {
                    let root = d.entry.root.clone();
                    self.stats.cache_added.insert(root, vec![(k, h)]);
                }
            }
        }
        self.stats.bytes_read += d.bytes_read;
        if self.failure.is_none() {
            if let Err(e) = (self.sink)(d.entry) {
                self.failure = Some(e);
            }
        }
    }
}

/// An entry whose metadata is known: a cache hit or no content is done; a
/// regular file to hash is read here.
fn settle(
    entry: Entry,
    abs: &Path,
    key: Option<platform::StatKey>,
    shared: Shared<'_>,
    buf: &mut Vec<u8>,
) -> Done {
    let wants_read = shared.opts.hash && entry.kind == Kind::File && entry.error.is_none();
    if let (true, Some(key)) = (wants_read, key) {
        let key = key_of(key);
        let cached = shared.caches.get(&entry.root).and_then(|c| c.lookup(&key));
        if let Some(hit) = cached {
            let mut entry = entry;
            entry.sha256 = Some(crate::manifest::hex(&hit.sha256));
            return Done {
                entry,
                // A relinked file's new key is learnt, as if it was read.
                hashed: hit.relinked.then_some((key, hit.sha256)),
                cache_hit: true,
                bytes_read: 0,
            };
        }
        if buf.len() < READ_BUF {
            buf.resize(READ_BUF, 0);
        }
        let (entry, hashed, bytes_read) =
            hash_file(entry, abs, key, buf, shared.opts.window_start_ns);
        return Done {
            entry,
            hashed,
            cache_hit: false,
            bytes_read,
        };
    }
    Done {
        entry,
        hashed: None,
        cache_hit: false,
        bytes_read: 0,
    }
}

/// `lstat` listed entries (walkdir never follows a link below a root, so
/// neither does this) and settle them, in order.
fn run_job(items: Vec<Item>, shared: Shared<'_>, buf: &mut Vec<u8>) -> Vec<Done> {
    items
        .into_iter()
        .map(|item| {
            let item = match item {
                Item::Listed(item) => item,
                Item::Settled(done) => return done,
            };
            let root = &shared.roots[item.root];
            let rel = relative(&root.path, &item.abs);
            let listed = std::fs::symlink_metadata(&item.abs)
                .and_then(|meta| listed_key(&item.abs, &meta).map(|key| (meta, key)));
            match listed {
                Ok((meta, key)) => {
                    let entry = entry_from_meta(root, rel, &item.abs, &meta, key, shared.opts);
                    settle(entry, &item.abs, Some(key), shared, buf)
                }
                Err(e) => {
                    let entry = error_entry(root, rel, listing_error(&e));
                    settle(entry, &item.abs, None, shared, buf)
                }
            }
        })
        .collect()
}

fn walk_roots<F: FnMut(Entry) -> io::Result<()>>(out: &mut Ordered<'_, F>) {
    let Shared { roots, opts, .. } = out.shared;
    for (index, root) in roots.iter().enumerate() {
        let excluded = |p: &Path| opts.excluded_paths.iter().any(|x| x == p);
        let it = walkdir::WalkDir::new(&root.path)
            .follow_links(false)
            // Siblings share their folder's path, so ordering them by the
            // whole path's bytes is ordering them by name (what
            // `sort_by_file_name` does), without splitting every path into
            // components at each comparison.
            .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()))
            .into_iter()
            .filter_entry(|d| {
                if d.depth() == 0 {
                    return true;
                }
                if !opts.excluded_paths.is_empty() && excluded(d.path()) {
                    return false;
                }
                if opts.globs.is_empty() {
                    return true;
                }
                let rel = relative(&root.path, d.path());
                !opts.globs.iter().any(|g| g.matches(rel))
            });
        // A folder that cannot be listed comes as the folder, then an
        // error for the same path: hold each folder back one step so the
        // two become one entry.
        let mut held: Option<(Entry, PathBuf)> = None;
        for item in it {
            if out.stopped() {
                return;
            }
            match item {
                Ok(d) => {
                    if let Some((e, abs)) = held.take() {
                        out.entry(e, abs, None);
                    }
                    // Below the root, all but folders go to the workers
                    // (walkdir's type of a folder comes from the listing;
                    // the root's type follows a link, as walkdir does).
                    if d.depth() > 0 && !d.file_type().is_dir() {
                        out.listed(Listed {
                            root: index,
                            abs: d.into_path(),
                        });
                        continue;
                    }
                    let rel = relative(&root.path, d.path());
                    let listed = d
                        .metadata()
                        .map_err(|e| io_text(e.io_error(), &e.to_string()));
                    let listed = listed.and_then(|meta| {
                        listed_key(d.path(), &meta)
                            .map(|key| (meta, key))
                            .map_err(|e| listing_error(&e))
                    });
                    let entry = match &listed {
                        Ok((meta, key)) => entry_from_meta(root, rel, d.path(), meta, *key, opts),
                        Err(e) => error_entry(root, rel, e.clone()),
                    };
                    if entry.kind == Kind::Dir {
                        held = Some((entry, d.path().to_path_buf()));
                        continue;
                    }
                    out.entry(
                        entry,
                        d.path().to_path_buf(),
                        listed.as_ref().ok().map(|(_, key)| *key),
                    );
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
                            out.entry(e, abs, None);
                        }
                        other => {
                            if let Some((e, abs)) = other {
                                out.entry(e, abs, None);
                            }
                            let rel = path.strip_prefix(&root.path).unwrap_or(Path::new(""));
                            let entry = error_entry(root, rel, text);
                            out.entry(entry, path.clone(), None);
                        }
                    }
                }
            }
        }
        if let Some((e, abs)) = held.take() {
            out.entry(e, abs, None);
        }
    }
}

/// `path` relative to `root`, which it lies under (walkdir joins the names
/// it lists onto the root): a slice of the bytes, where `strip_prefix` would
/// compare component by component. The root itself is the empty path.
fn relative<'a>(root: &Path, path: &'a Path) -> &'a Path {
    let (root, path) = (
        root.as_os_str().as_encoded_bytes(),
        path.as_os_str().as_encoded_bytes(),
    );
    let sep = |rest: &'a [u8]| -> &'a [u8] {
        rest.strip_prefix(b"/")
            .or_else(|| rest.strip_prefix(std::path::MAIN_SEPARATOR_STR.as_bytes()))
            .unwrap_or(rest)
    };
    // SAFETY: the bytes come from an OsStr and are split only right after
    // its prefix (the root's own bytes) and an ASCII separator, which
    // as_encoded_bytes allows.
    let os = |b: &'a [u8]| unsafe { OsStr::from_encoded_bytes_unchecked(b) };
    match path.strip_prefix(root) {
        Some([]) => Path::new(""),
        Some(rest) => Path::new(os(sep(rest))),
        None => Path::new(os(path)),
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
    key: platform::StatKey,
    opts: &WalkOptions,
) -> Entry {
    let kind = Kind::of(meta.file_type());
    let mut entry = Entry {
        root: root.name.clone(),
        path: RawName::from_os(rel.as_os_str()),
        kind: kind.clone(),
        size: if kind == Kind::Dir { 0 } else { meta.len() },
        mode: key.mode,
        mtime_ns: key.mtime_ns,
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
    if matches!(kind, Kind::File | Kind::Dir) {
        if let Some(why) = changed_in_window(entry.mtime_ns, key.ctime_ns, opts.window_start_ns) {
            entry.torn = Some(why.into());
        }
    }
    entry
}

fn worker(jobs: &Mutex<Receiver<Job>>, done: &mpsc::Sender<Finished>, shared: Shared<'_>) {
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
        // A panic must not leave the walking thread waiting for this job
        // forever: it is told, and fails the walk.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(job.items, shared, &mut buf)
        }));
        let panicked = result.is_err();
        let finished = Finished {
            seq,
            done: result.ok(),
        };
        if done.send(finished).is_err() || panicked {
            return;
        }
    }
}

/// Read and hash one regular file, stat'ing it before and after.
/// `lstat_key` is what the listing's `lstat` saw.
fn hash_file(
    mut entry: Entry,
    abs: &Path,
    lstat_key: CacheKey,
    buf: &mut [u8],
    window_start_ns: i64,
) -> (Entry, Option<(CacheKey, [u8; 32])>, u64) {
    // O_NOFOLLOW: a file swapped for a symlink since the listing is not
    // followed out of the root; O_NONBLOCK: one swapped for a fifo does
    // not hang the capture.
    #[cfg(unix)]
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOATIME)
        .open(abs)
        .or_else(|e| {
            // O_NOATIME is only for the file's owner (or root).
            if e.raw_os_error() == Some(libc::EPERM) {
                File::options()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(abs)
            } else {
                Err(e)
            }
        });
    // A reparse point (symbolic link, junction) opened as itself, never
    // followed out of the root.
    #[cfg(not(unix))]
    let file = platform::no_follow_no_block(File::options().read(true)).open(abs);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if platform::is_locked_by_another(&e) => {
            entry.error = Some(format!("{LOCKED}: cannot open: {e}"));
            return (entry, None, 0);
        }
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
    let key_before = match platform::file_stat_key(&file, &before) {
        Ok(k) => k,
        Err(e) => {
            entry.error = Some(format!("cannot stat: {e}"));
            return (entry, None, 0);
        }
    };
    // What is recorded is what was read, not what was listed.
    entry.size = key_before.size;
    entry.mode = key_before.mode;
    entry.mtime_ns = key_before.mtime_ns;
    let key_before = key_of(key_before);
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
            // A range another program has locked (LockFileEx).
            Err(e) if platform::is_locked_by_another(&e) => {
                entry.error = Some(format!("{LOCKED}: cannot read: {e}"));
                return (entry, None, read_total);
            }
            Err(e) => {
                entry.error = Some(format!("cannot read: {e}"));
                return (entry, None, read_total);
            }
        }
    }
    let hash: [u8; 32] = hasher.finalize().into();
    entry.sha256 = Some(crate::manifest::hex(&hash));
    let after = match file
        .metadata()
        .and_then(|m| platform::file_stat_key(&file, &m))
    {
        Ok(k) => key_of(k),
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
    if lstat_key.ino != key_before.ino {
        torn.push("replaced while walked".to_string());
    }
    if let Some(why) = changed_in_window(
        key_before.mtime_ns.max(after.mtime_ns),
        key_before.ctime_ns.max(after.ctime_ns),
        window_start_ns,
    ) {
        torn.push(why.to_string());
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
    Ok(Root {
        name,
        path,
        link: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn roots_are_named_after_their_folder_unless_named() {
        assert_eq!(
            parse_root("/srv/lui").unwrap(),
            Root {
                name: "lui".into(),
                path: "/srv/lui".into(),
                link: None,
            }
        );
        assert_eq!(parse_root("db=/var/lib/mysql").unwrap().name, "db");
        assert!(parse_root("relative/dir").is_err());
        assert!(parse_root("x=").is_err());
    }

    /// Folders are settled by the walking thread, files by the workers in
    /// batches: the entries must still come in walk order (each folder
    /// before its contents, names sorted), each once, with the right hash,
    /// also when folders and files alternate within one batch.
    #[test]
    #[cfg(unix)]
    fn entries_come_in_walk_order_whoever_settled_them() {
        let dir = tempfile::tempdir().unwrap();
        for (d, files) in [("a", 150), ("a/b", 3), ("a/b/c", 0), ("d", 1), ("e", 70)] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
            for i in 0..files {
                std::fs::write(dir.path().join(d).join(format!("f{i:03}")), i.to_string()).unwrap();
            }
        }
        for i in 0..40 {
            std::fs::create_dir(dir.path().join(format!("e/s{i:02}"))).unwrap();
            std::fs::write(dir.path().join(format!("e/s{i:02}/x")), b"x").unwrap();
        }
        std::os::unix::fs::symlink("a/f000", dir.path().join("link")).unwrap();
        let root = Root {
            name: "r".into(),
            path: dir.path().to_path_buf(),
            link: None,
        };
        let expected: Vec<String> = walkdir::WalkDir::new(dir.path())
            .sort_by_file_name()
            .into_iter()
            .map(|d| {
                let d = d.unwrap();
                relative(dir.path(), d.path()).display().to_string()
            })
            .collect();
        let opts = WalkOptions {
            hash: true,
            threads: 2,
            window_start_ns: i64::MAX,
            ..WalkOptions::default()
        };
        let mut seen = Vec::new();
        let stats = walk(&[root], &opts, &HashMap::new(), |e| {
            if e.kind == Kind::File {
                let text = std::fs::read(dir.path().join(e.path.to_os())).unwrap();
                assert_eq!(
                    e.sha256,
                    Some(crate::manifest::hex(Sha256::digest(&text).as_slice()))
                );
            }
            assert_eq!(e.error, None, "{}", e.path.display());
            seen.push(e.path.display());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, expected);
        assert_eq!(stats.files_read, 150 + 3 + 1 + 70 + 40);
    }

    // The change time: the inode's ctime on Unix, NTFS's ChangeTime read
    // from the handle on Windows (under Wine: the Unix ctime beneath).
    #[test]
    fn a_file_renamed_into_place_during_the_capture_is_torn_though_its_mtime_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        // File times come from the kernel's coarse clock, which may lag
        // the start read just before by up to a tick.
        std::thread::sleep(std::time::Duration::from_millis(50));
        // What rsync does: write a temporary file, give it the source's
        // (old) mtime, rename it over the target.
        let tmp = dir.path().join(".jobs.dat.Xa3k9Q");
        std::fs::write(&tmp, b"job=43\n").unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::rename(&tmp, dir.path().join("jobs.dat")).unwrap();
        let root = Root {
            name: "r".into(),
            path: dir.path().to_path_buf(),
            link: None,
        };
        for hash in [true, false] {
            let opts = WalkOptions {
                hash,
                threads: 1,
                window_start_ns: start,
                ..WalkOptions::default()
            };
            let mut torn = Vec::new();
            walk(std::slice::from_ref(&root), &opts, &HashMap::new(), |e| {
                if e.kind == Kind::File {
                    torn.push(e.torn.clone());
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(
                torn,
                [Some(
                    "replaced or changed during the capture (ctime after its start)".to_string()
                )],
                "hash: {hash}"
            );
        }
    }

    /// A file another program holds open without sharing cannot be read: on
    /// Windows its entry says it is locked (the capture makes that
    /// critical), whether the content was asked for or not.
    #[test]
    #[cfg(windows)]
    fn a_file_held_open_without_sharing_is_reported_locked() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ibdata1"), b"pages").unwrap();
        std::fs::write(dir.path().join("free.dat"), b"free").unwrap();
        // What a running MariaDB does on Windows: no sharing at all.
        let held = std::fs::File::options()
            .read(true)
            .write(true)
            .share_mode(0)
            .open(dir.path().join("ibdata1"))
            .unwrap();
        let root = Root {
            name: "r".into(),
            path: dir.path().to_path_buf(),
            link: None,
        };
        let opts = WalkOptions {
            hash: true,
            threads: 1,
            window_start_ns: i64::MAX,
            ..WalkOptions::default()
        };
        let mut seen = Vec::new();
        walk(std::slice::from_ref(&root), &opts, &HashMap::new(), |e| {
            if e.kind == Kind::File {
                seen.push((e.path.display(), is_locked(&e), e.sha256.is_some()));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("free.dat".to_string(), false, true),
                ("ibdata1".to_string(), true, false)
            ]
        );
        drop(held);
    }

    #[test]
    fn relative_paths_are_what_follows_the_root() {
        let rel = |root: &str, path: &str| relative(Path::new(root), Path::new(path)).to_owned();
        assert_eq!(rel("/srv/lui", "/srv/lui"), Path::new(""));
        assert_eq!(rel("/srv/lui", "/srv/lui/a/b.ini"), Path::new("a/b.ini"));
        assert_eq!(rel("/srv/lui/", "/srv/lui/a"), Path::new("a"));
        assert_eq!(rel("/", "/etc/x"), Path::new("etc/x"));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = OsStr::from_bytes(b"/srv/lui/\xff\xfe");
            assert_eq!(
                relative(Path::new("/srv/lui"), Path::new(odd))
                    .as_os_str()
                    .as_bytes(),
                b"\xff\xfe"
            );
        }
        #[cfg(windows)]
        {
            let rel = rel(r"C:\srv\lui", r"C:\srv\lui\a\b.ini");
            assert_eq!(rel, Path::new(r"a\b.ini"));
            // What the manifest stores: `/` whatever the system.
            assert_eq!(RawName::from_os(rel.as_os_str()).0, b"a/b.ini");
        }
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
