//! `--incremental`: what was read of each file, kept in the catalog, so a
//! cron job or a Nagios check reads only what is new. Per file: device,
//! inode, offset (always at a line end: a last line still being written,
//! even one past the line limit, is left for the next run), line number, a
//! fingerprint of its first bytes (up to 4 KiB) and a hash of the last
//! bytes before the offset (up to 64 KiB: the last records). Both are of
//! the bytes as they were read ([`SeenBytes`]), never read again after the
//! scan: a file rewritten in between must not lend its new bytes to the
//! old offset. A file whose inode changed was rotated (its old self is
//! looked for in the same folder and finished first); one that shrank, or
//! whose first or last hashed bytes changed, was truncated or rewritten
//! (copytruncate and new lines, even past the old offset): it is read
//! again from the start.

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
    Migration {
        version: 3,
        description: "logscan: the file size is not kept (the offset and fingerprints tell)",
        sql: "ALTER TABLE logscan_files DROP COLUMN size;",
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
        "SELECT device, inode, offset, line, tail_start, tail_hash, head_len, head_hash FROM logscan_files WHERE path = ?1",
    )?;
    let mut rows = stmt.query([path])?;
    match rows.next()? {
        None => Ok(None),
        Some(r) => Ok(Some(FileState {
            device: r.get::<_, i64>(0)? as u64,
            inode: r.get::<_, i64>(1)? as u64,
            offset: r.get::<_, i64>(2)? as u64,
            line: r.get::<_, i64>(3)? as u64,
            tail_start: r.get::<_, i64>(4)? as u64,
            tail_hash: r.get(5)?,
            head_len: r.get::<_, i64>(6)? as u64,
            head_hash: r.get(7)?,
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
            "INSERT INTO logscan_files (path, device, inode, offset, line, tail_start, tail_hash, updated_at, head_len, head_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (path) DO UPDATE SET device = excluded.device, inode = excluded.inode,
               offset = excluded.offset, line = excluded.line,
               tail_start = excluded.tail_start, tail_hash = excluded.tail_hash, updated_at = excluded.updated_at,
               head_len = excluded.head_len, head_hash = excluded.head_hash",
            rusqlite::params![
                path,
                s.device as i64,
                s.inode as i64,
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
    fnv1a_from(0xcbf2_9ce4_8422_2325, data)
}

/// FNV-1a 64 continued from the hash of the bytes before `data`.
fn fnv1a_from(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn hash_text(h: u64) -> String {
    format!("fnv1a64:{h:016x}")
}

/// A saved hash continued over `data` (None: not a hash this tool wrote).
fn continue_hash(saved: &str, data: &[u8]) -> Option<String> {
    let h = u64::from_str_radix(saved.strip_prefix("fnv1a64:")?, 16).ok()?;
    Some(hash_text(fnv1a_from(h, data)))
}

/// What a reader saw of a file, as it read it: the bytes from where it
/// began up to [`HEAD_BYTES`] into the file, and the last `keep` bytes.
/// Fingerprints come from these, not from reading the file again, which
/// may have been rewritten since.
#[derive(Debug, Clone)]
pub struct SeenBytes {
    /// The file offset of the first byte seen.
    pub start: u64,
    /// The file offset after the last byte seen.
    pub pos: u64,
    /// The bytes seen below [`HEAD_BYTES`], from `start` on.
    pub head: Vec<u8>,
    /// The last bytes seen (at most `keep`, once trimmed), ending at `pos`.
    tail: Vec<u8>,
    keep: usize,
}

impl SeenBytes {
    pub fn new(start: u64, keep: usize) -> SeenBytes {
        SeenBytes {
            start,
            pos: start,
            head: Vec::new(),
            tail: Vec::new(),
            keep,
        }
    }

    pub fn saw(&mut self, bytes: &[u8]) {
        if self.pos < HEAD_BYTES {
            let n = ((HEAD_BYTES - self.pos) as usize).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
        }
        self.pos += bytes.len() as u64;
        let bytes = &bytes[bytes.len().saturating_sub(self.keep)..];
        if self.tail.len() + bytes.len() > 2 * self.keep {
            let drop = (self.tail.len() + bytes.len())
                .saturating_sub(self.keep)
                .min(self.tail.len());
            self.tail.drain(..drop);
        }
        self.tail.extend_from_slice(bytes);
    }

    /// The bytes seen in `[from, to)`, when all of them are still kept.
    pub fn range(&self, from: u64, to: u64) -> Option<&[u8]> {
        let tail_start = self.pos - self.tail.len() as u64;
        if from < tail_start || to > self.pos || from > to {
            return None;
        }
        let a = (from - tail_start) as usize;
        let b = (to - tail_start) as usize;
        Some(&self.tail[a..b])
    }

    /// The first offset whose byte is still kept.
    pub fn kept_from(&self) -> u64 {
        self.pos - self.tail.len() as u64
    }
}

/// A reader that shows every byte it passes on to a [`SeenBytes`].
pub struct Tapped<'a, R: Read + ?Sized> {
    pub inner: &'a mut R,
    pub seen: &'a mut SeenBytes,
}

impl<R: Read + ?Sized> Read for Tapped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.saw(&buf[..n]);
        Ok(n)
    }
}

/// The fingerprints to save after an incremental run that read from
/// `seen.start` and consumed whole lines up to `end`, given what was saved
/// before (verified by [`decide`] when the run resumed from it):
/// `(head_len, head_hash, tail_start, tail_hash)`.
pub fn fingerprints(
    seen: &SeenBytes,
    end: u64,
    saved: Option<&FileState>,
) -> (u64, String, u64, String) {
    let start = seen.start;
    let resumed = saved.filter(|s| start > 0 && s.offset == start);
    // The first bytes: all read now, or the saved ones continued.
    let head_len = end.min(HEAD_BYTES);
    let head = if start == 0 {
        seen.head
            .get(..head_len as usize)
            .map(|b| hash_text(fnv1a(b)))
    } else {
        match resumed {
            Some(s) if s.head_len == head_len => Some(s.head_hash.clone()),
            Some(s) if s.head_len == start && head_len > start => seen
                .head
                .get(..(head_len - start) as usize)
                .and_then(|b| continue_hash(&s.head_hash, b)),
            _ => None,
        }
    };
    let (head_len, head) = match head {
        Some(h) => (head_len, h),
        None => (0, String::new()),
    };
    // The last bytes before the end: the saved range continued while it
    // stays short, else what is still kept of this run's bytes.
    let tail = resumed.and_then(|s| {
        if end - s.tail_start > 2 * MAX_TAIL {
            return None;
        }
        let new = seen.range(start, end)?;
        Some((s.tail_start, continue_hash(&s.tail_hash, new)?))
    });
    let (tail_start, tail_hash) = tail.unwrap_or_else(|| {
        let from = end.saturating_sub(MAX_TAIL).max(seen.kept_from()).min(end);
        let bytes = seen.range(from, end).unwrap_or(&[]);
        (from, hash_text(fnv1a(bytes)))
    });
    (head_len, head, tail_start, tail_hash)
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
    Ok((start, hash_text(fnv1a(&buf))))
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

    /// The fingerprints saved are those of the bytes as read: from a whole
    /// read they equal the file's; resumed, the saved ones continue over
    /// the new bytes and still equal the file's.
    #[test]
    fn fingerprints_come_from_the_bytes_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        let mut text = Vec::new();
        for i in 0..300 {
            text.extend_from_slice(format!("2026-11-26 08:00:00 INFO line {i}\n").as_bytes());
        }
        let first = 1000usize; // a resume point under HEAD_BYTES
        let first = first + text[first..].iter().position(|&b| b == b'\n').unwrap() + 1;
        std::fs::write(&log, &text[..first]).unwrap();
        let mut seen = SeenBytes::new(0, (2 * MAX_TAIL) as usize);
        seen.saw(&text[..first]);
        let (hl, hh, ts, th) = fingerprints(&seen, first as u64, None);
        let mut f = std::fs::File::open(&log).unwrap();
        assert_eq!((hl, hh.clone()), head_hash(&mut f, first as u64).unwrap());
        assert_eq!(
            (ts, th.clone()),
            tail_hash(&mut f, 0, first as u64).unwrap()
        );
        let saved = FileState {
            device: 0,
            inode: 0,
            offset: first as u64,
            line: 0,
            tail_start: ts,
            tail_hash: th,
            head_len: hl,
            head_hash: hh,
        };
        // The rest, read by a run that resumed at `first`; a partial line
        // after the end is seen but not consumed.
        let end = text.len();
        std::fs::write(&log, &text).unwrap();
        let mut seen = SeenBytes::new(first as u64, (2 * MAX_TAIL) as usize);
        seen.saw(&text[first..]);
        seen.saw(b"2026-11-26 08:00:00 INFO half a li");
        let (hl, hh, ts, th) = fingerprints(&seen, end as u64, Some(&saved));
        let mut f = std::fs::File::open(&log).unwrap();
        assert_eq!((hl, hh), head_hash(&mut f, end as u64).unwrap());
        assert_eq!(ts, 0, "the saved range continued");
        assert_eq!((ts, th), tail_hash(&mut f, ts, end as u64).unwrap());
        // Nothing new: the saved fingerprints stay.
        let seen = SeenBytes::new(first as u64, 16);
        let got = fingerprints(&seen, first as u64, Some(&saved));
        assert_eq!(
            got,
            (
                saved.head_len,
                saved.head_hash.clone(),
                saved.tail_start,
                saved.tail_hash.clone()
            )
        );
        // The kept tail is the last bytes, however they came.
        let mut seen = SeenBytes::new(0, 8);
        for chunk in text.chunks(7) {
            seen.saw(chunk);
        }
        let n = text.len() as u64;
        assert_eq!(seen.range(n - 8, n), Some(&text[text.len() - 8..]));
        assert_eq!(seen.head.len() as u64, HEAD_BYTES.min(n));
    }
}
