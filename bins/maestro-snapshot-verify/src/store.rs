//! This tool's tables in the shared catalog: stored manifests (by label)
//! and the hash cache.
//!
//! The hash cache is keyed, as restic and borg do, by what changes whenever
//! a file's content can have changed: device, inode, size, mtime and ctime
//! (ctime cannot be set back by a user, so a rewrite that restores mtime is
//! still seen). A file whose key is unchanged since it was hashed is not
//! read again.

use maestro_common::catalog::{Catalog, CatalogError, Migration};
use rusqlite::{params, DatabaseName, OptionalExtension};
use std::io::{Read, Seek};
use std::sync::atomic::{AtomicBool, Ordering};

pub const COMPONENT: &str = "snapshot-verify";

/// How many manifests of one label the catalog keeps.
const KEEP_PER_LABEL: i64 = 10;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "snapshot manifests and hash cache",
    sql: "CREATE TABLE snapshot_manifests (
              id            INTEGER PRIMARY KEY AUTOINCREMENT,
              label         TEXT,
              host          TEXT NOT NULL,
              started_at    TEXT NOT NULL,
              finished_at   TEXT NOT NULL,
              entries       INTEGER NOT NULL,
              torn          INTEGER NOT NULL,
              point_in_time INTEGER NOT NULL,
              sha256        TEXT NOT NULL,
              body          BLOB NOT NULL
          );
          CREATE INDEX snapshot_manifests_by_label ON snapshot_manifests (label, id);
          CREATE TABLE snapshot_hash_cache (
              root      TEXT NOT NULL,
              dev       INTEGER NOT NULL,
              ino       INTEGER NOT NULL,
              size      INTEGER NOT NULL,
              mtime_ns  INTEGER NOT NULL,
              ctime_ns  INTEGER NOT NULL,
              sha256    BLOB NOT NULL,
              PRIMARY KEY (root, dev, ino, size, mtime_ns, ctime_ns)
          ) WITHOUT ROWID;",
}];

/// What identifies one version of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

/// The cached hashes of one root, loaded whole (a lookup a file would cost
/// more than the walk itself), and which keys this capture met again (the
/// keys not met are stale and dropped).
///
/// A vector sorted by key, searched by bisection: 72 bytes an entry, where a
/// hash table's power-of-two growth (and a second table of the keys met)
/// took a cached capture of 1M files past 250 MiB. The flags are set by
/// whichever walk thread met the key.
///
/// Two refinements serve maestro-sync's generations:
/// - `across_devices`: the keys leave the device out. A btrfs, LVM or ZFS
///   snapshot is a device of its own each time it is made, with the
///   origin's inode numbers and times; within the snapshots of one volume
///   (device, inode) and (inode) name the same file.
/// - a relink window: a hard link made to a file changes its ctime (the
///   link count is in the inode) but not its content. The ctime can then no
///   longer prove that nothing changed since the file was hashed, so this
///   is accepted only under two conditions, both stated by the caller: the
///   cached key was [`RootCache::confirm`]ed right before the window began
///   (the file was unchanged then), and the new ctime lies inside the window
///   (a span in which only links were made to existing files: maestro-sync's
///   transfer, under the generations lock, which writes every changed file
///   to a new inode). Outside those conditions a ctime change is a change.
#[derive(Debug, Default)]
pub struct RootCache {
    entries: Vec<(CacheKey, [u8; 32])>,
    seen: Vec<AtomicBool>,
    confirmed: Vec<AtomicBool>,
    across_devices: bool,
    relink_window: Option<(i64, i64)>,
}

/// A hash the cache answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHit {
    pub sha256: [u8; 32],
    /// Answered through the relink window: the file's key has a new ctime,
    /// which the cache should learn.
    pub relinked: bool,
}

impl RootCache {
    pub fn new(mut entries: Vec<(CacheKey, [u8; 32])>) -> RootCache {
        // The rows come in key order already, but signed, as SQLite keeps
        // them; sorting sorted input costs one pass.
        entries.sort_unstable_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        let seen = entries.iter().map(|_| AtomicBool::new(false)).collect();
        let confirmed = entries.iter().map(|_| AtomicBool::new(false)).collect();
        RootCache {
            entries,
            seen,
            confirmed,
            across_devices: false,
            relink_window: None,
        }
    }

    /// Keys without the device (see the type's comment). Set before use:
    /// the stored keys are expected in the same form.
    pub fn set_across_devices(&mut self, yes: bool) {
        self.across_devices = yes;
    }

    /// Accept keys whose ctime lies in `start_ns ..= end_ns` for confirmed
    /// entries that differ in nothing else (see the type's comment).
    pub fn set_relink_window(&mut self, start_ns: i64, end_ns: i64) {
        self.relink_window = Some((start_ns, end_ns));
    }

    /// The key as this cache stores it.
    pub fn normalize(&self, key: CacheKey) -> CacheKey {
        normalize(key, self.across_devices)
    }

    fn find(&self, key: &CacheKey) -> Option<usize> {
        self.entries
            .binary_search_by_key(&self.normalize(*key), |(k, _)| *k)
            .ok()
    }

    /// The cached hash of `key`, marking the key as met.
    pub fn hit(&self, key: &CacheKey) -> Option<&[u8; 32]> {
        let i = self.find(key)?;
        self.seen[i].store(true, Ordering::Relaxed);
        Some(&self.entries[i].1)
    }

    /// [`RootCache::hit`], and through the relink window. An entry
    /// answered through the window is not marked met: its old key is stale
    /// (every name of the inode has the new ctime now).
    pub fn lookup(&self, key: &CacheKey) -> Option<CacheHit> {
        if let Some(h) = self.hit(key) {
            return Some(CacheHit {
                sha256: *h,
                relinked: false,
            });
        }
        let (start, end) = self.relink_window?;
        let key = self.normalize(*key);
        if key.ctime_ns < start || key.ctime_ns > end {
            return None;
        }
        let same_file = |k: &CacheKey| {
            (k.dev, k.ino, k.size, k.mtime_ns) == (key.dev, key.ino, key.size, key.mtime_ns)
        };
        let first = self.entries.partition_point(|(k, _)| {
            (k.dev, k.ino, k.size, k.mtime_ns) < (key.dev, key.ino, key.size, key.mtime_ns)
        });
        self.entries[first..]
            .iter()
            .zip(&self.confirmed[first..])
            .take_while(|((k, _), _)| same_file(k))
            .find(|((k, _), confirmed)| k.ctime_ns < start && confirmed.load(Ordering::Relaxed))
            .map(|((_, h), _)| CacheHit {
                sha256: *h,
                relinked: true,
            })
    }

    /// Records that `key` was seen unchanged now, before a relink window
    /// begins. Returns whether the cache holds it.
    pub fn confirm(&self, key: &CacheKey) -> bool {
        match self.find(key) {
            Some(i) => {
                self.confirmed[i].store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The keys no one met (read after the walk's threads ended, so no
    /// ordering beyond the join is needed).
    pub fn stale(&self) -> Vec<CacheKey> {
        self.entries
            .iter()
            .zip(&self.seen)
            .filter(|(_, seen)| !seen.load(Ordering::Relaxed))
            .map(|((k, _), _)| *k)
            .collect()
    }
}

/// A key without its device when `across_devices`.
pub fn normalize(key: CacheKey, across_devices: bool) -> CacheKey {
    if across_devices {
        CacheKey { dev: 0, ..key }
    } else {
        key
    }
}

pub fn open(state_dir: &std::path::Path) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::open(state_dir)?;
    catalog.ensure_schema(COMPONENT, MIGRATIONS)?;
    Ok(catalog)
}

fn sql_err(catalog: &Catalog, source: rusqlite::Error) -> CatalogError {
    CatalogError::Sql {
        path: catalog.path().to_path_buf(),
        source,
    }
}

pub fn load_cache(catalog: &Catalog, root: &str) -> Result<RootCache, CatalogError> {
    let mut stmt = catalog
        .conn()
        .prepare(
            "SELECT dev, ino, size, mtime_ns, ctime_ns, sha256
             FROM snapshot_hash_cache WHERE root = ?1",
        )
        .map_err(|e| sql_err(catalog, e))?;
    let rows = stmt
        .query_map([root], |r| {
            // A hash of another length (or type) was not written by us:
            // ignore it, the file is simply read again.
            let hash = r
                .get_ref(5)?
                .as_blob()
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            Ok((
                CacheKey {
                    dev: r.get::<_, i64>(0)? as u64,
                    ino: r.get::<_, i64>(1)? as u64,
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    ctime_ns: r.get(4)?,
                },
                hash,
            ))
        })
        .map_err(|e| sql_err(catalog, e))?;
    let mut entries = Vec::new();
    for row in rows {
        if let (key, Some(hash)) = row.map_err(|e| sql_err(catalog, e))? {
            entries.push((key, hash));
        }
    }
    Ok(RootCache::new(entries))
}

/// Record new hashes and forget the keys of one root that this capture no
/// longer saw.
pub fn update_cache(
    catalog: &mut Catalog,
    root: &str,
    added: &[(CacheKey, [u8; 32])],
    stale: &[CacheKey],
) -> Result<(), CatalogError> {
    if added.is_empty() && stale.is_empty() {
        return Ok(());
    }
    catalog.write(|tx| {
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO snapshot_hash_cache
                 (root, dev, ino, size, mtime_ns, ctime_ns, sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (k, h) in added {
                insert.execute(params![
                    root,
                    k.dev as i64,
                    k.ino as i64,
                    k.size as i64,
                    k.mtime_ns,
                    k.ctime_ns,
                    &h[..]
                ])?;
            }
            let mut delete = tx.prepare(
                "DELETE FROM snapshot_hash_cache WHERE root = ?1 AND dev = ?2 AND ino = ?3
                 AND size = ?4 AND mtime_ns = ?5 AND ctime_ns = ?6",
            )?;
            for k in stale {
                delete.execute(params![
                    root,
                    k.dev as i64,
                    k.ino as i64,
                    k.size as i64,
                    k.mtime_ns,
                    k.ctime_ns
                ])?;
            }
        }
        Ok(())
    })
}

/// A stored manifest's summary.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub id: i64,
    pub label: Option<String>,
    pub started_at: String,
}

pub struct ManifestMeta<'a> {
    pub label: Option<&'a str>,
    pub host: &'a str,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    pub entries: u64,
    pub torn: u64,
    pub point_in_time: bool,
    pub sha256: &'a str,
}

/// Store a manifest whose bytes are in `body` (a file), streamed into a
/// blob so a large manifest is never held in memory whole.
pub fn store_manifest(
    catalog: &mut Catalog,
    meta: &ManifestMeta<'_>,
    body: &mut std::fs::File,
) -> Result<i64, CatalogError> {
    let len = body
        .seek(std::io::SeekFrom::End(0))
        .and_then(|len| body.rewind().map(|_| len))
        .map_err(|e| io_err(catalog, e))?;
    let path = catalog.path().to_path_buf();
    // The blob is written twice in one transaction (zeroblob, then the
    // bytes): with SQLite's default 2 MiB page cache the zeroed pages spill
    // to the WAL and are read back and written again, which took a third of
    // a cached re-capture's time. 32 MiB holds a 100k-entry manifest and
    // bounds the memory for larger ones.
    catalog
        .conn()
        .execute_batch("PRAGMA cache_size = -32768")
        .map_err(|e| sql_err(catalog, e))?;
    catalog.write(|tx| {
        tx.execute(
            "INSERT INTO snapshot_manifests
             (label, host, started_at, finished_at, entries, torn, point_in_time, sha256, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, zeroblob(?9))",
            params![
                meta.label,
                meta.host,
                meta.started_at,
                meta.finished_at,
                meta.entries as i64,
                meta.torn as i64,
                meta.point_in_time,
                meta.sha256,
                len as i64
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut blob =
                tx.blob_open(DatabaseName::Main, "snapshot_manifests", "body", id, false)?;
            std::io::copy(body, &mut blob).map_err(|e| {
                rusqlite::Error::ToSqlConversionFailure(
                    format!("copying the manifest into {}: {e}", path.display()).into(),
                )
            })?;
        }
        tx.execute(
            "DELETE FROM snapshot_manifests WHERE label IS ?1 AND id NOT IN
             (SELECT id FROM snapshot_manifests WHERE label IS ?1 ORDER BY id DESC LIMIT ?2)",
            params![meta.label, KEEP_PER_LABEL],
        )?;
        Ok(id)
    })
}

fn io_err(catalog: &Catalog, e: std::io::Error) -> CatalogError {
    sql_err(
        catalog,
        rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
    )
}

/// The newest manifest stored under `label`, as bytes.
pub fn load_manifest(
    catalog: &Catalog,
    label: &str,
) -> Result<Option<(StoredManifest, Vec<u8>)>, CatalogError> {
    let row = catalog
        .conn()
        .query_row(
            "SELECT id, label, started_at FROM snapshot_manifests
             WHERE label = ?1 ORDER BY id DESC LIMIT 1",
            [label],
            |r| {
                Ok(StoredManifest {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    started_at: r.get(2)?,
                })
            },
        )
        .optional()
        .map_err(|e| sql_err(catalog, e))?;
    let Some(meta) = row else { return Ok(None) };
    let mut blob = catalog
        .conn()
        .blob_open(
            DatabaseName::Main,
            "snapshot_manifests",
            "body",
            meta.id,
            true,
        )
        .map_err(|e| sql_err(catalog, e))?;
    let mut body = Vec::new();
    blob.read_to_end(&mut body)
        .map_err(|e| io_err(catalog, e))?;
    Ok(Some((meta, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dev: u64, ino: u64, ctime_ns: i64) -> CacheKey {
        CacheKey {
            dev,
            ino,
            size: 10,
            mtime_ns: 1_000,
            ctime_ns,
        }
    }

    #[test]
    fn a_new_ctime_is_a_change_unless_confirmed_and_inside_the_relink_window() {
        let hash = [7u8; 32];
        let mut cache = RootCache::new(vec![(key(1, 5, 2_000), hash), (key(1, 6, 2_000), hash)]);
        // A link made later changed the ctime: not the cached file any more.
        assert_eq!(cache.lookup(&key(1, 5, 9_000)), None);
        cache.set_relink_window(8_000, 10_000);
        // Not confirmed before the window began: still a change.
        assert_eq!(cache.lookup(&key(1, 5, 9_000)), None);
        assert!(cache.confirm(&key(1, 5, 2_000)));
        assert!(!cache.confirm(&key(1, 7, 2_000)));
        let hit = cache.lookup(&key(1, 5, 9_000)).unwrap();
        assert!(hit.relinked && hit.sha256 == hash);
        // A ctime outside the window, or another size or mtime, is a change.
        assert_eq!(cache.lookup(&key(1, 5, 10_001)), None);
        assert_eq!(cache.lookup(&key(1, 5, 7_999)), None);
        assert_eq!(
            cache.lookup(&CacheKey {
                mtime_ns: 1_001,
                ..key(1, 5, 9_000)
            }),
            None
        );
        // The relinked key's old form is stale (every name of the inode has
        // the new ctime), as is the key no one met.
        assert_eq!(cache.stale(), vec![key(1, 5, 2_000), key(1, 6, 2_000)]);
        assert_eq!(cache.hit(&key(1, 6, 2_000)), Some(&hash));
        assert_eq!(cache.stale(), vec![key(1, 5, 2_000)]);
    }

    #[test]
    fn keys_across_devices_ignore_the_device() {
        let hash = [1u8; 32];
        let mut cache = RootCache::new(vec![(key(0, 5, 2_000), hash)]);
        assert_eq!(cache.hit(&key(42, 5, 2_000)), None);
        cache.set_across_devices(true);
        assert_eq!(cache.hit(&key(42, 5, 2_000)), Some(&hash));
        assert_eq!(normalize(key(42, 5, 1), true).dev, 0);
        assert_eq!(normalize(key(42, 5, 1), false).dev, 42);
    }
}
