//! The InnoDB redo log: which format, the newest checkpoint, and the LSN
//! where the log ends (the last complete record).
//!
//! Formats read (the 4-byte big-endian number at offset 0 of the header):
//! - `1`: MySQL 5.7.9+ and MariaDB 10.2; `103`, `104`: MariaDB 10.3, 10.4;
//!   `3`, `4`: MySQL 8.0.3 to 8.0.29; `0x50485953` ("PHYS"): MariaDB 10.5 to
//!   10.7. All are 512-byte blocks (12-byte header with the block number,
//!   CRC-32C in the last 4 bytes) in `ib_logfile0..N`, each file with a
//!   2048-byte header; checkpoints at 512 and 1536 of the first file hold
//!   the checkpoint LSN (offset 8) and its byte offset in the log group (16).
//! - `5`, `6`: MySQL 8.0.30+, the same blocks in `#innodb_redo/#ib_redoN`,
//!   each file starting at the LSN in its header (offset 8).
//! - `0x50687973` ("Phys"): MariaDB 10.8+, one `ib_logfile0` holding a ring
//!   of mini-transactions from offset 0x3000, checkpoints at 0x1000 and
//!   0x2000 (LSN, end LSN, CRC-32C at 60); each mini-transaction ends with a
//!   sequence bit (which flips on every wrap of the ring) and a CRC-32C.
//!
//! Anything else, an encrypted log, or a log whose blocks do not agree with
//! its checkpoint cannot be judged: the caller reports a WARNING, never OK.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const BLOCK: u64 = 512;
const FILE_HDR: u64 = 2048;
const ENCRYPTED: u32 = 1 << 31;
const FORMAT_10_5: u32 = 0x5048_5953;
const FORMAT_10_8: u32 = 0x5068_7973;
const RING_START: u64 = 0x3000;
/// The largest mini-transaction MariaDB writes.
const MTR_SIZE_MAX: u64 = 1 << 20;
/// Checksum value written when log checksums are switched off (MySQL 5.7).
const NO_CHECKSUM_MAGIC: u32 = 0xDEAD_BEEF;

/// What the redo log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedoState {
    pub format: String,
    pub checkpoint_lsn: u64,
    /// The LSN just past the last complete record: no page flushed before
    /// this log was copied can carry a larger LSN.
    pub end_lsn: u64,
    pub files: Vec<PathBuf>,
}

/// Why the log cannot be judged.
pub type CannotJudge = String;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

fn read_at(file: &File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, CannotJudge> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        format!(
            "{}: cannot read {len} bytes at {offset}: {e}",
            path.display()
        )
    })?;
    Ok(buf)
}

fn open(path: &Path) -> Result<(File, u64), CannotJudge> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = f
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    Ok((f, len))
}

/// Find and read the redo log of the data folder `datadir`.
pub fn read(datadir: &Path) -> Result<RedoState, CannotJudge> {
    let redo_dir = datadir.join("#innodb_redo");
    if redo_dir.is_dir() {
        return read_mysql_8030(&redo_dir);
    }
    let first = datadir.join("ib_logfile0");
    if !first.exists() {
        return Err(
            "no redo log (ib_logfile0 or #innodb_redo) found next to the tablespaces".into(),
        );
    }
    let (file, len) = open(&first)?;
    if len < FILE_HDR + BLOCK {
        return Err(format!(
            "{}: {len} bytes, too short for a redo log",
            first.display()
        ));
    }
    let header = read_at(&file, &first, 0, BLOCK as usize)?;
    let format = be32(&header, 0);
    if format & ENCRYPTED != 0 {
        return Err(format!(
            "{}: the redo log is encrypted (format {format:#x})",
            first.display()
        ));
    }
    match format {
        FORMAT_10_8 => read_mariadb_108(&first, &file, len, &header),
        1 | 103 | 104 | 3 | 4 | FORMAT_10_5 => read_block_group(datadir, &first, &file, len, format),
        0 => Err(format!(
            "{}: redo log format 0 (MySQL 5.6 or older, MariaDB 10.1 or older) is not read by this tool",
            first.display()
        )),
        other => Err(format!("{}: unknown redo log format {other:#x}", first.display())),
    }
}

fn format_name(format: u32) -> &'static str {
    match format {
        1 => "MySQL 5.7 / MariaDB 10.2",
        103 => "MariaDB 10.3",
        104 => "MariaDB 10.4",
        3 | 4 => "MySQL 8.0 (before 8.0.30)",
        5 | 6 => "MySQL 8.0.30+",
        FORMAT_10_5 => "MariaDB 10.5-10.7",
        FORMAT_10_8 => "MariaDB 10.8+",
        _ => "unknown",
    }
}

/// A 512-byte log block is valid when its checksum holds.
fn block_checksum_ok(block: &[u8]) -> bool {
    let stored = be32(block, 508);
    stored == crc32c::crc32c(&block[..508]) || stored == NO_CHECKSUM_MAGIC
}

fn block_no(lsn: u64) -> u32 {
    (((lsn / BLOCK) & 0x3FFF_FFFF) + 1) as u32
}

/// The newest valid checkpoint among the two blocks of a file header:
/// (checkpoint LSN, the field at offset 16).
fn newest_checkpoint(file: &File, path: &Path) -> Result<Option<(u64, u64)>, CannotJudge> {
    let mut best: Option<(u64, u64)> = None;
    for at in [512u64, 1536] {
        let b = read_at(file, path, at, BLOCK as usize)?;
        if be32(&b, 508) != crc32c::crc32c(&b[..508]) {
            continue;
        }
        let lsn = be64(&b, 8);
        let offset = be64(&b, 16);
        if best.is_none_or(|(l, _)| lsn > l) {
            best = Some((lsn, offset));
        }
    }
    Ok(best)
}

/// Scan blocks from the one holding `checkpoint_lsn`; `locate` maps an LSN
/// to (file index, byte offset). Returns the end LSN.
fn scan_blocks(
    files: &[(File, PathBuf)],
    checkpoint_lsn: u64,
    capacity: u64,
    locate: impl Fn(u64) -> Option<(usize, u64)>,
) -> Result<u64, CannotJudge> {
    let mut lsn = checkpoint_lsn - checkpoint_lsn % BLOCK;
    let mut end = None;
    for i in 0..capacity / BLOCK {
        let Some((idx, offset)) = locate(lsn) else {
            break;
        };
        let (file, path) = &files[idx];
        let block = match read_at(file, path, offset, BLOCK as usize) {
            Ok(b) => b,
            Err(e) if i == 0 => return Err(e),
            Err(_) => break,
        };
        let number_ok = be32(&block, 0) & 0x7FFF_FFFF == block_no(lsn);
        if !number_ok || !block_checksum_ok(&block) {
            if i == 0 {
                return Err(format!(
                    "{}: the block at offset {offset} does not hold the checkpoint LSN {checkpoint_lsn} (wrong block number or checksum): the log is damaged or of a layout this tool misreads",
                    path.display()
                ));
            }
            break;
        }
        let data_len = u64::from(u16::from_be_bytes([block[4], block[5]]));
        if data_len < BLOCK {
            end = Some(lsn + data_len.max(12));
            break;
        }
        lsn += BLOCK;
    }
    let end = end.unwrap_or(lsn);
    if end < checkpoint_lsn {
        return Err(format!(
            "the log ends (LSN {end}) before its own checkpoint (LSN {checkpoint_lsn})"
        ));
    }
    Ok(end)
}

/// MySQL 5.7, 8.0 before 8.0.30, MariaDB 10.2 to 10.7: ib_logfile0..N.
fn read_block_group(
    datadir: &Path,
    first: &Path,
    first_file: &File,
    size: u64,
    format: u32,
) -> Result<RedoState, CannotJudge> {
    let Some((checkpoint_lsn, checkpoint_offset)) = newest_checkpoint(first_file, first)? else {
        return Err(format!("{}: no valid checkpoint block", first.display()));
    };
    let mut files = vec![(
        first_file.try_clone().map_err(|e| e.to_string())?,
        first.to_path_buf(),
    )];
    for n in 1..100 {
        let p = datadir.join(format!("ib_logfile{n}"));
        if !p.exists() {
            break;
        }
        let (f, len) = open(&p)?;
        if len != size {
            return Err(format!(
                "{}: {len} bytes, but ib_logfile0 has {size}: the files of one log group must be alike",
                p.display()
            ));
        }
        files.push((f, p));
    }
    if size <= FILE_HDR || size % BLOCK != 0 {
        return Err(format!("{}: odd log file size {size}", first.display()));
    }
    let per_file = size - FILE_HDR;
    let capacity = per_file * files.len() as u64;
    let (cfile, cpos) = (checkpoint_offset / size, checkpoint_offset % size);
    if cfile >= files.len() as u64 || cpos < FILE_HDR {
        return Err(format!(
            "{}: the checkpoint's offset {checkpoint_offset} lies outside the log files",
            first.display()
        ));
    }
    let checkpoint_data = cfile * per_file + (cpos - FILE_HDR);
    let locate = |lsn: u64| -> Option<(usize, u64)> {
        let delta = lsn
            .checked_sub(checkpoint_lsn)
            .map(|d| d as i128)
            .unwrap_or_else(|| -((checkpoint_lsn - lsn) as i128));
        let data = (checkpoint_data as i128 + delta).rem_euclid(capacity as i128) as u64;
        Some(((data / per_file) as usize, FILE_HDR + data % per_file))
    };
    let end_lsn = scan_blocks(&files, checkpoint_lsn, capacity, locate)?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
    })
}

/// MySQL 8.0.30+: `#innodb_redo/#ib_redoN`, each starting at its own LSN.
fn read_mysql_8030(dir: &Path) -> Result<RedoState, CannotJudge> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let list = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for d in list {
        let d = d.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = d.file_name().to_string_lossy().into_owned();
        // `_tmp` files are spares, not yet part of the log.
        if let Some(n) = name
            .strip_prefix("#ib_redo")
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((n, d.path()));
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(format!("{}: no #ib_redoN file", dir.display()));
    }
    let mut files = Vec::new();
    let mut ranges = Vec::new();
    let mut best: Option<u64> = None;
    let mut format = 0;
    for (_, path) in found {
        let (file, len) = open(&path)?;
        let header = read_at(&file, &path, 0, BLOCK as usize)?;
        format = be32(&header, 0);
        if !matches!(format, 5 | 6) {
            return Err(format!(
                "{}: unknown redo log format {format:#x}",
                path.display()
            ));
        }
        if be32(&header, 508) != crc32c::crc32c(&header[..508]) {
            return Err(format!("{}: header checksum mismatch", path.display()));
        }
        let start = be64(&header, 8);
        if let Some((lsn, _)) = newest_checkpoint(&file, &path)? {
            if best.is_none_or(|b| lsn > b) {
                best = Some(lsn);
            }
        }
        ranges.push((start, start + len.saturating_sub(FILE_HDR)));
        files.push((file, path));
    }
    let Some(checkpoint_lsn) = best else {
        return Err(format!(
            "{}: no valid checkpoint block in any redo file",
            dir.display()
        ));
    };
    let capacity: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    let locate = |lsn: u64| -> Option<(usize, u64)> {
        ranges
            .iter()
            .position(|(s, e)| lsn >= *s && lsn < *e)
            .map(|i| (i, FILE_HDR + (lsn - ranges[i].0)))
    };
    let end_lsn = scan_blocks(&files, checkpoint_lsn, capacity, locate)?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
    })
}

/// Reads the ring of a MariaDB 10.8+ log, a window at a time.
struct Ring<'a> {
    file: &'a File,
    path: &'a Path,
    first_lsn: u64,
    capacity: u64,
    window_start: u64,
    window: Vec<u8>,
}

impl Ring<'_> {
    fn offset(&self, lsn: u64) -> u64 {
        RING_START + (lsn - self.first_lsn) % self.capacity
    }

    fn sequence_bit(&self, lsn: u64) -> u8 {
        u8::from(((lsn - self.first_lsn) / self.capacity) & 1 == 0)
    }

    fn byte(&mut self, lsn: u64) -> Result<u8, CannotJudge> {
        let off = self.offset(lsn);
        if off < self.window_start || off >= self.window_start + self.window.len() as u64 {
            let end = RING_START + self.capacity;
            let len = (end - off).min(1 << 20) as usize;
            self.window = read_at(self.file, self.path, off, len)?;
            self.window_start = off;
        }
        Ok(self.window[(off - self.window_start) as usize])
    }

    fn bytes(&mut self, lsn: u64, len: u64) -> Result<Vec<u8>, CannotJudge> {
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            out.push(self.byte(lsn + i)?);
        }
        Ok(out)
    }

    /// The mini-transaction at `lsn`: its end LSN, or None where the log ends.
    fn mtr_end(&mut self, lsn: u64) -> Result<Option<u64>, CannotJudge> {
        let mut p = lsn;
        loop {
            if p - lsn > MTR_SIZE_MAX {
                return Ok(None);
            }
            let b = self.byte(p)?;
            if b <= 1 {
                break;
            }
            let mut rlen = u64::from(b & 0xf);
            p += 1;
            if rlen == 0 {
                let Some(add) = self.varint(p)? else {
                    return Ok(None);
                };
                rlen = add + 15;
            }
            p += rlen;
        }
        if p == lsn {
            return Ok(None); // no record: the end of the log
        }
        if self.byte(p)? != self.sequence_bit(p) {
            return Ok(None);
        }
        let payload = self.bytes(lsn, p - lsn)?;
        let stored = self.bytes(p + 1, 4)?;
        if crc32c::crc32c(&payload).to_be_bytes() != stored.as_slice() {
            return Ok(None);
        }
        Ok(Some(p + 5))
    }

    fn varint(&mut self, at: u64) -> Result<Option<u64>, CannotJudge> {
        let b0 = u64::from(self.byte(at)?);
        let next = |r: &mut Self, i: u64| r.byte(at + i).map(u64::from);
        Ok(Some(if b0 < 0x80 {
            b0
        } else if b0 < 0xC0 {
            0x80 + (((b0 & 0x3F) << 8) | next(self, 1)?)
        } else if b0 < 0xE0 {
            0x4080 + (((b0 & 0x1F) << 16) | (next(self, 1)? << 8) | next(self, 2)?)
        } else {
            return Ok(None); // longer lengths exceed MTR_SIZE_MAX
        }))
    }
}

fn read_mariadb_108(
    path: &Path,
    file: &File,
    len: u64,
    header: &[u8],
) -> Result<RedoState, CannotJudge> {
    if be32(header, 508) != crc32c::crc32c(&header[..508]) {
        return Err(format!("{}: header checksum mismatch", path.display()));
    }
    if be32(header, 48) != 0 {
        return Err(format!("{}: the redo log is encrypted", path.display()));
    }
    let first_lsn = be64(header, 8);
    if first_lsn < RING_START || len <= RING_START {
        return Err(format!(
            "{}: invalid header (first LSN {first_lsn})",
            path.display()
        ));
    }
    let mut best: Option<(u64, u64)> = None;
    for at in [0x1000u64, 0x2000] {
        let b = read_at(file, path, at, 64)?;
        let lsn = be64(&b, 0);
        let end = be64(&b, 8);
        if be32(&b, 60) != crc32c::crc32c(&b[..60]) || lsn < first_lsn || end < lsn {
            continue;
        }
        if best.is_none_or(|(l, _)| lsn > l) {
            best = Some((lsn, end));
        }
    }
    let Some((checkpoint_lsn, checkpoint_end)) = best else {
        return Err(format!("{}: no valid checkpoint block", path.display()));
    };
    let capacity = len - RING_START;
    let mut ring = Ring {
        file,
        path,
        first_lsn,
        capacity,
        window_start: 0,
        window: Vec::new(),
    };
    let mut lsn = checkpoint_lsn;
    while lsn - checkpoint_lsn < capacity {
        match ring.mtr_end(lsn)? {
            Some(next) => lsn = next,
            None => break,
        }
    }
    if lsn < checkpoint_end {
        return Err(format!(
            "{}: the log's records end at LSN {lsn}, before the end its checkpoint names ({checkpoint_end}): the log is damaged",
            path.display()
        ));
    }
    Ok(RedoState {
        format: format_name(FORMAT_10_8).to_string(),
        checkpoint_lsn,
        end_lsn: lsn,
        files: vec![path.to_path_buf()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
    fn put64(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }
    fn seal(block: &mut [u8]) {
        let c = crc32c::crc32c(&block[..508]);
        put32(block, 508, c);
    }

    /// A MySQL 5.7-style log group of two files; the checkpoint at LSN
    /// 8716 (offset 2048 + 12), three blocks of records, the last partial.
    #[test]
    fn reads_a_block_format_log_group() {
        let dir = tempfile::tempdir().unwrap();
        let size = 2048 + 8 * 512;
        let mut f0 = vec![0u8; size];
        put32(&mut f0, 0, 1);
        let checkpoint_lsn = 8704 + 12;
        {
            let cp = &mut f0[512..1024];
            put64(cp, 0, 7);
            put64(cp, 8, checkpoint_lsn);
            put64(cp, 16, 2048 + 12);
            seal(cp);
        }
        for (i, data_len) in [(0usize, 512u16), (1, 512), (2, 100)] {
            let lsn = 8704 + (i as u64) * 512;
            let b = &mut f0[2048 + i * 512..2048 + (i + 1) * 512];
            put32(b, 0, block_no(lsn));
            b[4..6].copy_from_slice(&data_len.to_be_bytes());
            seal(b);
        }
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        std::fs::write(dir.path().join("ib_logfile1"), vec![0u8; size]).unwrap();
        let state = read(dir.path()).unwrap();
        assert_eq!(state.checkpoint_lsn, checkpoint_lsn);
        assert_eq!(state.end_lsn, 8704 + 1024 + 100);
        assert_eq!(state.files.len(), 2);

        // A damaged block at the checkpoint cannot be judged.
        f0[2048 + 20] ^= 0xFF;
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.contains("does not hold the checkpoint"), "{err}");
    }

    #[test]
    fn unknown_and_old_formats_cannot_be_judged() {
        let dir = tempfile::tempdir().unwrap();
        let mut f0 = vec![0u8; 0x4000];
        assert!(read(dir.path()).is_err());
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        assert!(read(dir.path()).unwrap_err().contains("format 0"));
        put32(&mut f0, 0, 77);
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        assert!(read(dir.path())
            .unwrap_err()
            .contains("unknown redo log format"));
        put32(&mut f0, 0, FORMAT_10_8 | ENCRYPTED);
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        assert!(read(dir.path()).unwrap_err().contains("encrypted"));
        let empty = tempfile::tempdir().unwrap();
        assert!(read(empty.path()).unwrap_err().contains("no redo log"));
    }

    /// A MariaDB 10.8 ring with two mini-transactions after the checkpoint.
    #[test]
    fn reads_a_mariadb_108_ring() {
        let dir = tempfile::tempdir().unwrap();
        let len = 0x3000 + 4096;
        let mut f = vec![0u8; len];
        put32(&mut f, 0, FORMAT_10_8);
        put64(&mut f, 8, 0x3000);
        f[16..30].copy_from_slice(b"MariaDB 10.11 ");
        seal(&mut f[..512]);
        let checkpoint = 0x3000u64 + 100;
        {
            let cp = &mut f[0x1000..0x1040];
            put64(cp, 0, checkpoint);
            put64(cp, 8, checkpoint + 16);
            let c = crc32c::crc32c(&cp[..60]);
            put32(cp, 60, c);
        }
        // FILE_CHECKPOINT-like record (0xfa: 10 bytes follow), then a WRITE.
        let mut at = (checkpoint - 0x3000 + 0x3000) as usize;
        for rec in [
            vec![0xfau8, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x64],
            vec![0x34u8, 1, 2, 3, 4],
        ] {
            let n = rec.len();
            f[at..at + n].copy_from_slice(&rec);
            f[at + n] = 1; // sequence bit of the first pass
            let c = crc32c::crc32c(&rec);
            f[at + n + 1..at + n + 5].copy_from_slice(&c.to_be_bytes());
            at += n + 5;
        }
        std::fs::write(dir.path().join("ib_logfile0"), &f).unwrap();
        let s = read(dir.path()).unwrap();
        assert_eq!(s.checkpoint_lsn, checkpoint);
        assert_eq!(s.end_lsn, checkpoint + 16 + 10);
        assert_eq!(s.format, "MariaDB 10.8+");
    }
}
