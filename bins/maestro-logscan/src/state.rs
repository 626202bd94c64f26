//! `--incremental`: what was read of each file, kept in the catalog, so a
//! cron job or a Nagios check reads only what is new. Per file: device,
//! inode, size, offset (always at a line end), line number, a fingerprint
//! of its first bytes (up to 4 KiB) and a hash of the last bytes before the
//! offset (up to 64 KiB: the last records). A file whose inode changed was
//! rotated (its old self is looked for in the same folder and finished
//! first); one that shrank, or whose first or last hashed bytes changed,
//! was truncated or rewritten (copytruncate and new lines, even past the
//! old offset): it is read again from the start.

use maestro_common::catalog::{Catalog, Migration};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const COMPONENT: &str = "logscan";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "logscan: per-file offsets for --incremental",
        sql: "CREATE TABLE logscan_files (
              path        TEXT PRIMARY KEY,
              device      INTEGER NOT NULL,
              inode       INTEGER NOT NULL,
              size        INTEGER NOT NULL,
              offset      INTEGER NOT NULL,
              line        INTEGER NOT NULL,
              tail_start  INTEGER NOT NULL,
              tail_hash   TEXT NOT NULL,
              updated_at  TEXT NOT NULL
          );",
    },
    Migration {
        version: 2,
        description: "logscan: a fingerprint of each file's first bytes",
        sql: "ALTER TABLE logscan_files ADD COLUMN head_len INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE logscan_files ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';",
    },
];

/// How many of a file's first bytes its fingerprint covers.
pub const HEAD_BYTES: u64 = 4096;

/// The hashed tail is capped, so checking it costs little.
pub const MAX_TAIL: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub offset: u64,
    pub line: u64,
    pub tail_start: u64,
    pub tail_hash: String,
    /// How many first bytes `head_hash` covers (0: none, a state saved
    /// before fingerprints were kept).
    pub head_len: u64,
    pub head_hash: String,
}

/// What to do with a file, given its saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Never seen: read from the start.
    New,
    /// Same file, grown or not: read from the offset.
    From { offset: u64, line: u64 },
    /// Same inode but smaller, or the bytes before the offset changed.
    Truncated,
    /// Another inode: the old file may still be found under another name.
    Rotated { old: FileState },
}

pub fn open(state_dir: &Path) -> Result<Catalog, maestro_common::catalog::CatalogError> {
    let mut c = Catalog::open(state_dir)?;
    c.ensure_schema(COMPONENT, MIGRATIONS)?;
    Ok(c)
}

pub fn load(c: &Catalog, path: &str) -> rusqlite::Result<Option<FileState>> {
    let mut stmt = c.conn().prepare(
        "SELECT device, inode, size, offset, line, tail_start, tail_hash, head_len, head_hash FROM logscan_files WHERE path = ?1",
    )?;
    let mut rows = stmt.query([path])?;
    match rows.next()? {
        None => Ok(None),
        Some(r) => Ok(Some(FileState {
            device: r.get::<_, i64>(0)? as u64,
            inode: r.get::<_, i64>(1)? as u64,
            size: r.get::<_, i64>(2)? as u64,
            offset: r.get::<_, i64>(3)? as u64,
            line: r.get::<_, i64>(4)? as u64,
            tail_start: r.get::<_, i64>(5)? as u64,
            tail_hash: r.get(6)?,
            head_len: r.get::<_, i64>(7)? as u64,
            head_hash: r.get(8)?,
        })),
    }
}

pub fn save(
    c: &mut Catalog,
    path: &str,
    s: &FileState,
) -> Result<(), maestro_common::catalog::CatalogError> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    c.write(|tx| {
        tx.execute(
            "INSERT INTO logscan_files (path, device, inode, size, offset, line, tail_start, tail_hash, updated_at, head_len, head_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (path) DO UPDATE SET device = excluded.device, inode = excluded.inode,
               size = excluded.size, offset = excluded.offset, line = excluded.line,
               tail_start = excluded.tail_start, tail_hash = excluded.tail_hash, updated_at = excluded.updated_at,
               head_len = excluded.head_len, head_hash = excluded.head_hash",
            rusqlite::params![
                path,
                s.device as i64,
                s.inode as i64,
                s.size as i64,
                s.offset as i64,
                s.line as i64,
                s.tail_start as i64,
                s.tail_hash,
                now,
                s.head_len as i64,
                s.head_hash
            ],
        )?;
        Ok(())
    })
}

/// Device and inode of an open file (0, 0 where the OS has none).
pub fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// FNV-1a 64, written out: stable across Rust versions, unlike std's hasher.
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hash the bytes `[start, end)` of a file (the start moved up so that at
/// most [`MAX_TAIL`] bytes are read). Returns (start used, hash).
pub fn tail_hash(file: &mut std::fs::File, start: u64, end: u64) -> std::io::Result<(u64, String)> {
    let start = start.max(end.saturating_sub(MAX_TAIL)).min(end);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity((end - start) as usize);
    file.by_ref().take(end - start).read_to_end(&mut buf)?;
    if (buf.len() as u64) < end - start {
        return Ok((start, String::new()));
    }
    Ok((start, format!("fnv1a64:{:016x}", fnv1a(&buf))))
}

/// The fingerprint of a file's first bytes: how many (at most
/// [`HEAD_BYTES`], and no more than `end`) and their hash.
pub fn head_hash(file: &mut std::fs::File, end: u64) -> std::io::Result<(u64, String)> {
    let (_, h) = tail_hash(file, 0, end.min(HEAD_BYTES))?;
    Ok((end.min(HEAD_BYTES), h))
}

/// Decide where to start reading `file` (open, with its metadata).
pub fn decide(
    saved: Option<&FileState>,
    file: &mut std::fs::File,
    meta: &std::fs::Metadata,
) -> std::io::Result<Resume> {
    let Some(s) = saved else {
        return Ok(Resume::New);
    };
    let (dev, ino) = identity(meta);
    if (dev, ino) != (s.device, s.inode) {
        return Ok(Resume::Rotated { old: s.clone() });
    }
    if meta.len() < s.offset {
        return Ok(Resume::Truncated);
    }
    // Truncated and written again past the old offset: the first bytes
    // are another start's (its first line's timestamp, at least).
    if s.head_len > 0 && head_hash(file, s.head_len)? != (s.head_len, s.head_hash.clone()) {
        return Ok(Resume::Truncated);
    }
    let (_, h) = tail_hash(file, s.tail_start, s.offset)?;
    if h != s.tail_hash {
        return Ok(Resume::Truncated);
    }
    Ok(Resume::From {
        offset: s.offset,
        line: s.line,
    })
}

/// The rotated-away file with this device and inode, looked for in `dir`
/// (logrotate's `LUI.LOG.1`, a renamed day file).
pub fn find_rotated(dir: &Path, device: u64, inode: u64) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for e in entries.flatten() {
        if let Ok(m) = e.metadata() {
            if m.is_file() && identity(&m) == (device, inode) {
                return Some(e.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn state_round_trips_and_decides() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = open(dir.path()).unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "line one\nline two\n").unwrap();
        let mut f = std::fs::File::open(&log).unwrap();
        let meta = f.metadata().unwrap();
        assert_eq!(decide(None, &mut f, &meta).unwrap(), Resume::New);
        let (dev, ino) = identity(&meta);
        let (start, hash) = tail_hash(&mut f, 9, 18).unwrap();
        let (head_len, head) = head_hash(&mut f, 18).unwrap();
        let s = FileState {
            head_len,
            head_hash: head,
            device: dev,
            inode: ino,
            size: 18,
            offset: 18,
            line: 2,
            tail_start: start,
            tail_hash: hash,
        };
        save(&mut c, "a.log", &s).unwrap();
        let back = load(&c, "a.log").unwrap().unwrap();
        assert_eq!(back, s);
        // Grown: resume.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"three\n")
            .unwrap();
        let mut f = std::fs::File::open(&log).unwrap();
        let meta = f.metadata().unwrap();
        assert_eq!(
            decide(Some(&s), &mut f, &meta).unwrap(),
            Resume::From {
                offset: 18,
                line: 2
            }
        );
        // Rewritten in place with other bytes: start over.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .write_all(b"LINE ONE\nLINE TWO\n")
            .unwrap();
        let mut f = std::fs::File::open(&log).unwrap();
        let meta = f.metadata().unwrap();
        assert_eq!(decide(Some(&s), &mut f, &meta).unwrap(), Resume::Truncated);
        // Truncated.
        std::fs::write(&log, "x\n").unwrap();
        let mut f = std::fs::File::open(&log).unwrap();
        let meta = f.metadata().unwrap();
        assert_eq!(decide(Some(&s), &mut f, &meta).unwrap(), Resume::Truncated);
        // Rotated: renamed away, a new file in its place.
        std::fs::rename(&log, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&log, "new\n").unwrap();
        let mut f = std::fs::File::open(&log).unwrap();
        let meta = f.metadata().unwrap();
        let old_meta = std::fs::metadata(dir.path().join("a.log.1")).unwrap();
        let s2 = FileState {
            inode: identity(&old_meta).1,
            device: identity(&old_meta).0,
            ..s
        };
        assert!(matches!(
            decide(Some(&s2), &mut f, &meta).unwrap(),
            Resume::Rotated { .. }
        ));
        assert_eq!(
            find_rotated(dir.path(), s2.device, s2.inode),
            Some(dir.path().join("a.log.1"))
        );
    }
}
