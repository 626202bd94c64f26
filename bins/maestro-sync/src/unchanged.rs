//! Is the current generation still what was received? Before a run
//! replaces it, the receiving side compares it with its own manifest the
//! way rsync's quick check does (type, size, mode, mtime, link target;
//! nothing missing, nothing added). A difference means someone wrote into
//! it: Maestro ran from it (a failover), and a sync from the old primary
//! would replace data only this server has.
//!
//! The same walk confirms, for the hash cache, that each file whose key
//! the cache holds is unchanged at this moment: the transfer that follows
//! hard-links these files into the next generation, which changes their
//! ctime but nothing else (see `RootCache::confirm`).

use maestro_snapshot_verify::compare::{compare, Delta};
use maestro_snapshot_verify::manifest::{Entry, Kind, Manifest, RawName};
use maestro_snapshot_verify::store::{CacheKey, RootCache};
use maestro_snapshot_verify::walk::ExcludeGlob;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What the comparison found.
#[derive(Debug, Default)]
pub struct Looked {
    pub entries: u64,
    /// Differences, in the manifest's order then the extras.
    pub deltas: Vec<Delta>,
    /// Files whose cached key was confirmed.
    pub confirmed: u64,
}

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000) + nsec
}

fn entry(root: &str, rel: &Path, abs: &Path, meta: &std::fs::Metadata) -> Entry {
    let kind = Kind::of(meta.file_type());
    let target = (kind == Kind::Symlink)
        .then(|| {
            std::fs::read_link(abs)
                .ok()
                .map(|t| RawName::from_os(t.as_os_str()))
        })
        .flatten();
    Entry {
        root: root.to_string(),
        path: RawName::from_os(rel.as_os_str()),
        size: if kind == Kind::Dir { 0 } else { meta.size() },
        kind,
        mode: meta.mode() & 0o7777,
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        sha256: None,
        target,
        torn: None,
        error: None,
    }
}

/// Walks `data` (the root the manifest names `root`) and compares it with
/// the manifest, confirming cached keys on the way.
pub fn look(
    root: &str,
    data: &Path,
    manifest: &Manifest,
    cache: Option<&RootCache>,
) -> Result<Looked, String> {
    let globs: Vec<ExcludeGlob> = manifest
        .header
        .excludes
        .iter()
        .filter(|t| !t.starts_with('/'))
        .filter_map(|t| ExcludeGlob::new(t).ok())
        .collect();
    let mut entries = Vec::new();
    let mut confirmed = 0u64;
    let it = walkdir::WalkDir::new(data)
        .follow_links(false)
        .into_iter()
        .filter_entry(|d| {
            let rel = d.path().strip_prefix(data).unwrap_or(d.path());
            d.depth() == 0 || !globs.iter().any(|g| g.matches(rel))
        });
    for item in it {
        if maestro_common::signal::interrupted() {
            return Err("interrupted".into());
        }
        let d = item.map_err(|e| format!("cannot walk {}: {e}", data.display()))?;
        let meta = std::fs::symlink_metadata(d.path())
            .map_err(|e| format!("{}: {e}", d.path().display()))?;
        let rel = d.path().strip_prefix(data).unwrap_or(Path::new(""));
        if meta.is_file() {
            if let Some(c) = cache {
                let key = CacheKey {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    size: meta.size(),
                    mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                    ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
                };
                if c.confirm(&key) {
                    confirmed += 1;
                }
            }
        }
        entries.push(entry(root, rel, d.path(), &meta));
    }
    let cmp = compare(&manifest.entries, &entries, true);
    Ok(Looked {
        entries: entries.len() as u64,
        deltas: cmp.deltas,
        confirmed,
    })
}
