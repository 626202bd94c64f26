//! `capture`: walk the roots and write the manifest.

use crate::cli::CaptureArgs;
use crate::manifest::{Entry, Header, ManifestWriter, RawName, RootInfo};
use crate::roots::{self, Plan};
use crate::store::{self, RootCache};
use crate::{time, walk, NAME};
use maestro_common::catalog::Catalog;
use maestro_common::cli::{Context, ToolError};
use maestro_common::fsio;
use maestro_common::perfdata::{Perfdata, Uom};
use maestro_common::report::{Check, Finding, Report};
use maestro_common::Status;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

/// Entries handed to the manifest writer's thread at a time.
const WRITE_BATCH: usize = 512;

/// Writes to the output and to the catalog's copy at once. The copy is a
/// second thought: when it cannot be written (a full or broken state
/// folder) it is dropped and the error kept, and the manifest goes on.
struct Tee<A: Write, B: Write> {
    a: A,
    b: Option<B>,
    b_failed: Option<io::Error>,
}

impl<A: Write, B: Write> Tee<A, B> {
    fn b_result(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.b = None;
            self.b_failed.get_or_insert(e);
        }
    }
}

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.a.write_all(buf)?;
        if let Some(b) = &mut self.b {
            let r = b.write_all(buf);
            self.b_result(r);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.a.flush()?;
        if let Some(b) = &mut self.b {
            let r = b.flush();
            self.b_result(r);
        }
        Ok(())
    }
}

/// Where the manifest goes.
enum Output {
    Stdout(io::BufWriter<io::Stdout>),
    /// A regular file (or none yet): written beside it and renamed over it
    /// once complete, so the previous manifest survives a kill, a full disk
    /// or an error.
    Replace(io::BufWriter<fsio::AtomicFile>),
    /// An existing FIFO or device (`/dev/stdout`): written as a stream;
    /// there is no previous content to keep.
    Stream(io::BufWriter<std::fs::File>),
}

impl Output {
    /// A path: a regular file (or none yet) is replaced atomically; an
    /// existing FIFO or character device is written as a stream (a FIFO
    /// nobody reads is refused at once, not waited on). Anything else is
    /// refused by name: a manifest is never streamed onto a disk (a block
    /// device) or into a socket.
    fn open(path: &Path) -> Result<Output, String> {
        let shown = path.display();
        match std::fs::metadata(path) {
            Ok(m) if maestro_common::platform::is_stream_type(m.file_type()) => {
                let f = fsio::open_stream_for_writing(path).map_err(|e| format!("--out {e}"))?;
                Ok(Output::Stream(io::BufWriter::with_capacity(1 << 16, f)))
            }
            Ok(m) if !m.is_file() && !m.is_dir() => Err(format!(
                "--out {shown}: is {}: a manifest is written to a regular file, a FIFO or a character device",
                fsio::kind_name(m.file_type())
            )),
            _ => {
                // The admin names --out on the command line: a link there
                // is theirs and is kept, the manifest replacing what it names.
                let f = fsio::AtomicFile::create_through_link(path, 0o644)
                    .map_err(|e| format!("--out: {e}"))?;
                Ok(Output::Replace(io::BufWriter::with_capacity(1 << 16, f)))
            }
        }
    }

    /// Descriptors passed by number are a Unix thing.
    #[cfg(not(unix))]
    fn descriptor(fd: i32, named: Option<&Path>) -> Result<Output, String> {
        let shown = named.map_or_else(|| format!("/dev/fd/{fd}"), |p| p.display().to_string());
        Err(format!(
            "--out {shown}: descriptors by number are Unix-only"
        ))
    }

    /// A descriptor the tool was started with (`/dev/fd/3`), written as a
    /// stream: it is already open, there is nothing to replace.
    #[cfg(unix)]
    fn descriptor(fd: i32, named: Option<&Path>) -> Result<Output, String> {
        let shown = named.map_or_else(|| format!("/dev/fd/{fd}"), |p| p.display().to_string());
        // SAFETY: dup of a descriptor number; the new descriptor is owned
        // by the File below and closed with it.
        let new = unsafe { libc::dup(fd) };
        if new < 0 {
            return Err(format!(
                "--out {shown}: descriptor {fd}: {}",
                io::Error::last_os_error()
            ));
        }
        // SAFETY: `new` is a descriptor this process just got from dup.
        let f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(new) };
        Ok(Output::Stream(io::BufWriter::with_capacity(1 << 16, f)))
    }

    /// Flush, and put a replaced file in place.
    fn finish(self) -> Result<(), String> {
        match self {
            Output::Stdout(mut w) => w.flush().map_err(|e| e.to_string()),
            Output::Stream(mut w) => w.flush().map_err(|e| e.to_string()),
            Output::Replace(w) => {
                let file = w.into_inner().map_err(|e| e.error().to_string())?;
                file.commit().map_err(|e| e.to_string())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Replace(w) => w.write(buf),
            Output::Stream(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Replace(w) => w.flush(),
            Output::Stream(w) => w.flush(),
        }
    }
}

/// What `--out` names: a path, or a descriptor this process already has
/// (`-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`).
/// Those names are written to the descriptor itself: opened by name, a
/// descriptor sent to a regular file would have that file replaced, and a
/// log stdout is appended to would lose what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OutTarget {
    Descriptor(i32),
    Path(std::path::PathBuf),
}

impl OutTarget {
    fn of(path: &Path) -> OutTarget {
        let text = path.to_string_lossy();
        let fd = match text.as_ref() {
            "-" | "/dev/stdout" => Some(1),
            "/dev/stderr" => Some(2),
            other => other
                .strip_prefix("/dev/fd/")
                .or_else(|| other.strip_prefix("/proc/self/fd/"))
                .or_else(|| {
                    other
                        .strip_prefix(&format!("/proc/{}/fd/", std::process::id()))
                        .map(|s| s as &str)
                })
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0),
        };
        match fd {
            Some(fd) => OutTarget::Descriptor(fd),
            None => OutTarget::Path(path.to_path_buf()),
        }
    }
}

pub fn host_name() -> String {
    maestro_common::platform::host_name().unwrap_or_else(|| "unknown".into())
}

/// Open the catalog, or say why not (a capture still works without it).
pub fn open_catalog(ctx: &Context) -> Result<Catalog, String> {
    let dir = ctx.state_dir().map_err(|e| e.to_string())?;
    store::open(&dir).map_err(|e| e.to_string())
}

pub fn load_caches(
    catalog: Option<&Catalog>,
    plan: &Plan,
    rehash: bool,
) -> HashMap<String, RootCache> {
    let mut caches = HashMap::new();
    if rehash {
        return caches;
    }
    if let Some(catalog) = catalog {
        for r in &plan.roots {
            if let Ok(mut c) = store::load_cache(catalog, &plan.cache_key(r)) {
                c.set_across_devices(plan.cache_across_devices);
                caches.insert(r.name.clone(), c);
            }
        }
    }
    caches
}

/// Write what the walk learnt into the cache; the hits and the new hashes
/// stay, keys of this root not seen again are dropped.
pub fn save_caches(
    catalog: &mut Catalog,
    plan: &Plan,
    caches: &HashMap<String, RootCache>,
    stats: &walk::WalkStats,
) -> Result<(), String> {
    for r in &plan.roots {
        let added: Vec<_> = stats
            .cache_added
            .get(&r.name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|(k, h)| (store::normalize(*k, plan.cache_across_devices), *h))
            .collect();
        let stale = caches
            .get(&r.name)
            .map(RootCache::stale)
            .unwrap_or_default();
        store::update_cache(catalog, &plan.cache_key(r), &added, &stale)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub fn run(ctx: &mut Context, args: CaptureArgs) -> Result<Report, ToolError> {
    let plan = roots::plan(ctx, &args.walk)?;
    let target = args.out.as_deref().map(OutTarget::of);
    let to_stdout = matches!(target, None | Some(OutTarget::Descriptor(1)));
    match &target {
        Some(OutTarget::Path(out)) => roots::refuse_writing_inside(&plan, out, "--out")?,
        Some(OutTarget::Descriptor(fd)) => {
            roots::refuse_descriptor_inside(&plan, *fd, "the output (--out)")?
        }
        None => roots::refuse_descriptor_inside(&plan, 1, "the output (stdout)")?,
    }
    let mut report = Report::new(NAME, Some("capture"));
    if let Ok(dir) = ctx.state_dir() {
        roots::refuse_writing_inside(&plan, &dir, "the state folder")?;
    }
    let mut catalog = open_catalog(ctx);
    let caches = load_caches(catalog.as_ref().ok(), &plan, args.walk.rehash);
    let copy = match (&catalog, ctx.state_dir()) {
        _ if args.no_catalog_copy => None,
        (Ok(_), Ok(dir)) => tempfile::tempfile_in(dir).ok(),
        _ => None,
    };

    let started = Instant::now();
    let start_ns = time::now_ns();
    let header = Header {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        host: host_name(),
        label: args.label.clone(),
        roots: plan
            .roots
            .iter()
            .map(|r| RootInfo {
                name: r.name.clone(),
                path: RawName::from_os(r.path.as_os_str()),
            })
            .collect(),
        excludes: plan.exclude_texts(),
        from_snapshot: args.from_snapshot,
        started_at: time::format_ns(start_ns),
        os: Some(std::env::consts::FAMILY.to_string()),
        started_at_ns: start_ns,
    };
    let out = match &target {
        None | Some(OutTarget::Descriptor(1)) => {
            Output::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout()))
        }
        Some(OutTarget::Descriptor(fd)) => Output::descriptor(*fd, args.out.as_deref())
            .map_err(|e| anyhow::anyhow!("cannot write the manifest: {e}"))?,
        Some(OutTarget::Path(path)) => {
            Output::open(path).map_err(|e| anyhow::anyhow!("cannot write the manifest: {e}"))?
        }
    };
    let tee = Tee {
        a: out,
        b: copy.map(|f| io::BufWriter::with_capacity(1 << 16, f)),
        b_failed: None,
    };
    let mut writer = match ManifestWriter::new(tee, &header) {
        Ok(w) => w,
        Err(e) => return closed_or_error(e),
    };
    let mut torn: Vec<Finding> = Vec::new();
    let mut locked: Vec<Finding> = Vec::new();
    let mut locked_count = 0u64;
    let torn_status = if args.from_snapshot {
        Status::Critical
    } else {
        Status::Warning
    };
    let opts = plan.walk_options(true, start_ns);
    // The manifest is written (serialised, hashed, written twice) on its own
    // thread, in batches, while the walk goes on: on a cached capture the
    // writing costs about as much as the walk itself.
    let (walked, written) = std::thread::scope(|scope| {
        let (batches, received) = mpsc::sync_channel::<Vec<Entry>>(4);
        let writing = scope.spawn(move || -> io::Result<_> {
            for batch in received {
                for e in &batch {
                    writer.entry(e)?;
                }
            }
            Ok(writer)
        });
        let writer_gone = || io::Error::other("the manifest writer stopped");
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        let walked = walk::walk(&plan.roots, &opts, &caches, |e| {
            if walk::is_locked(&e) {
                locked_count += 1;
                if locked.len() < crate::intrinsic::MAX_FINDINGS {
                    let why = e.error.clone().unwrap_or_default();
                    locked.push(Finding::new(Status::Critical, "locked", why).at(e.location()));
                }
            }
            if let Some(why) = &e.torn {
                if torn.len() < crate::intrinsic::MAX_FINDINGS {
                    torn.push(Finding::new(torn_status, "torn", why.clone()).at(e.location()));
                }
            }
            batch.push(e);
            if batch.len() == WRITE_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH));
                batches.send(full).map_err(|_| writer_gone())?;
            }
            Ok(())
        });
        let walked = walked.and_then(|stats| match batch.is_empty() {
            true => Ok(stats),
            false => batches
                .send(batch)
                .map(|_| stats)
                .map_err(|_| writer_gone()),
        });
        drop(batches); // the writer ends when it has written what was sent
        let written = writing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the manifest writer panicked")));
        (walked, written)
    });
    // A writer that failed stopped the walk too: its error is the cause.
    let writer = match written {
        Ok(w) => w,
        Err(e) => return closed_or_error(e),
    };
    let stats = match walked {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(ToolError::Interrupted),
        Err(e) => return closed_or_error(e),
    };
    let end_ns = time::now_ns();
    let (tee, trailer) = match writer.finish(time::format_ns(end_ns), end_ns) {
        Ok(x) => x,
        Err(e) => return closed_or_error(e),
    };
    let Tee {
        a: out,
        b: copy,
        b_failed: copy_failed,
    } = tee;
    // The manifest is in place before anything else is said about it.
    if let Err(e) = out.finish() {
        return closed_or_error(io::Error::other(e));
    }
    let elapsed = started.elapsed();
    let totals = trailer.totals.clone();

    // A root given as a symbolic link is named with what it led to.
    let linked: Vec<String> = plan
        .roots
        .iter()
        .filter(|r| r.link.is_some())
        .map(walk::Root::shown)
        .collect();
    let mut capture = Check::ok(
        "capture",
        format!(
            "{} entries ({} files, {} bytes) in {} roots{}; manifest SHA-256 {}",
            totals.entries,
            totals.files,
            totals.bytes,
            plan.roots.len(),
            if linked.is_empty() {
                String::new()
            } else {
                format!(" ({})", linked.join(", "))
            },
            &trailer.sha256[..16]
        ),
    )
    .timed(elapsed)
    .detail("host", header.host.clone())
    .detail("started_at", header.started_at.clone())
    .detail("finished_at", trailer.finished_at.clone())
    .detail("sha256", trailer.sha256.clone())
    .detail(
        "roots",
        plan.roots
            .iter()
            .map(walk::Root::shown)
            .collect::<Vec<_>>()
            .join(" "),
    )
    .detail("files_read", stats.files_read)
    .detail("cache_hits", stats.cache_hits)
    .detail("bytes_read", stats.bytes_read)
    .detail("threads", plan.threads as u64)
    .perf(Perfdata::count("entries", totals.entries))
    .perf(Perfdata::new("bytes", totals.bytes as f64, Uom::Bytes))
    .perf(Perfdata::count("cache_hits", stats.cache_hits))
    .perf(Perfdata::seconds("time", elapsed));
    if let Some(out) = args.out.as_ref().filter(|_| !to_stdout) {
        capture = capture.detail("out", out.display().to_string());
    }
    report.push(capture);

    let mut torn_check = if totals.torn == 0 {
        Check::ok(
            "torn",
            "no file changed while read: the manifest is a point in time",
        )
    } else if args.from_snapshot {
        Check::new(
            "torn",
            Status::Critical,
            format!("{} entries changed while read from a frozen snapshot: the snapshot is not frozen, not a point in time", totals.torn),
        )
    } else {
        Check::new(
            "torn",
            Status::Warning,
            format!(
                "{} entries changed while read: the manifest is marked not a point in time",
                totals.torn
            ),
        )
    };
    for f in torn {
        torn_check.add_finding(f);
    }
    report.push(torn_check.perf(Perfdata::count("torn", totals.torn)));
    // A file a running program holds open without sharing (Windows) is not
    // in the manifest at all: the copy cannot be checked against it.
    if locked_count > 0 {
        let mut check = Check::new(
            "locked",
            Status::Critical,
            format!(
                "{locked_count} files are {}; the manifest lists them as errors",
                walk::LOCKED
            ),
        );
        for f in locked {
            check.add_finding(f);
        }
        report.push(check);
    }
    let unreadable = totals.errors.saturating_sub(locked_count);
    if unreadable > 0 {
        report.push(Check::new(
            "unreadable",
            Status::Warning,
            format!(
                "{} entries could not be read; the manifest lists them as errors",
                unreadable
            ),
        ));
    }

    // Store the manifest and the cache.
    let catalog_check = match &mut catalog {
        Err(why) => Check::new(
            "catalog",
            Status::Warning,
            format!("manifest not stored, no hash cache: {why}"),
        ),
        Ok(catalog) => {
            let stored = match copy.map(|w| w.into_inner()) {
                _ if args.no_catalog_copy => Ok(None),
                _ if copy_failed.is_some() => Err(format!(
                    "manifest not stored: cannot write the catalog's copy: {}",
                    copy_failed
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )),
                Some(Ok(mut file)) => store::store_manifest(
                    catalog,
                    &store::ManifestMeta {
                        label: args.label.as_deref(),
                        host: &header.host,
                        started_at: &header.started_at,
                        finished_at: &trailer.finished_at,
                        entries: totals.entries,
                        torn: totals.torn,
                        point_in_time: trailer.point_in_time,
                        sha256: &trailer.sha256,
                    },
                    &mut file,
                )
                .map(Some)
                .map_err(|e| e.to_string()),
                Some(Err(e)) => Err(format!("cannot write the catalog's copy: {e}")),
                None => Err("cannot make a temporary file in the state folder".to_string()),
            };
            let cached = save_caches(catalog, &plan, &caches, &stats);
            match (stored, cached) {
                (Ok(id), Ok(())) => Check::ok(
                    "catalog",
                    match (id, &args.label) {
                        (None, _) => "hash cache updated (no copy of the manifest kept)".into(),
                        (Some(id), Some(l)) => format!("stored as manifest #{id} with label {l:?}"),
                        (Some(id), None) => format!("stored as manifest #{id} (no label)"),
                    },
                )
                .detail("catalog", catalog.path().display().to_string()),
                (Err(e), _) | (_, Err(e)) => Check::new("catalog", Status::Warning, e),
            }
        }
    };
    report.push(catalog_check);
    Ok(report)
}

/// A reader that closed the pipe ends the run quietly (UNKNOWN: no
/// complete manifest was written); any other write error is an error.
fn closed_or_error(e: io::Error) -> Result<Report, ToolError> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        let mut report = Report::new(NAME, Some("capture"));
        report.push(Check::new(
            "capture",
            Status::Unknown,
            "the output was closed before the manifest was complete",
        ));
        return Ok(report);
    }
    Err(ToolError::Failed(anyhow::anyhow!(
        "cannot write the manifest: {e}"
    )))
}
