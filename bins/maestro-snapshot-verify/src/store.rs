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
#[derive(Debug, Default)]
pub struct RootCache {
    entries: Vec<(CacheKey, [u8; 32])>,
    seen: Vec<AtomicBool>,
}

impl RootCache {
    pub fn new(mut entries: Vec<(CacheKey, [u8; 32])>) -> RootCache {
        // The rows come in key order already, but signed, as SQLite keeps
        // them; sorting sorted input costs one pass.
        entries.sort_unstable_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        let seen = entries.iter().map(|_| AtomicBool::new(false)).collect();
        RootCache { entries, seen }
    }

    /// The cached hash of `key`, marking the key as met.
    pub fn hit(&self, key: &CacheKey) -> Option<&[u8; 32]> {
        let i = self.entries.binary_search_by_key(key, |(k, _)| *k).ok()?;
        self.seen[i].store(true, Ordering::Relaxed);
        Some(&self.entries[i].1)
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
