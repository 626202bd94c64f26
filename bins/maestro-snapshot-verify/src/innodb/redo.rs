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
//! - `0`: MySQL 3.23.52 to 5.6, MariaDB 10.0 and 10.1 (the field was the
//!   log group id, always 0, before MySQL 5.7.9 made it a format number).
//!   The same 512-byte blocks in `ib_logfile0..N`, but each file header
//!   holds the group id (0) and the LSN its data starts at (4, 8 bytes); the
//!   checkpoint blocks at 512 and 1536 hold the checkpoint number (0), LSN
//!   (8), the offset in the log group (low half at 16, high half at 304,
//!   written by 5.6 only) and two fold checksums (288 over bytes 0..288,
//!   292 over 8..292). A block's trailer checksum is the old fold-based
//!   sum, or CRC-32C or 0xDEADBEEF where `innodb_log_checksum_algorithm`
//!   (XtraDB, MariaDB 10.0/10.1) chose those; InnoDB before 3.23.52 put
//!   the block number there.
//!
//! Anything else, an encrypted log, or a log whose blocks do not agree with
//! its checkpoint cannot be judged: the caller reports a WARNING, never OK.

use super::page::fold_binary;
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
    /// The log is of format 0 (MySQL 5.6 and older, MariaDB 10.1 and
    /// older): the servers that write it put the LSN of a clean shutdown
    /// into the first page of each data file (offset 26).
    pub format_0: bool,
    /// The trailer checksum the block at the checkpoint carries, where the
    /// format allows more than one.
    pub block_checksum: Option<&'static str>,
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
        1 | 103 | 104 | 3 | 4 | FORMAT_10_5 => {
            read_block_group(datadir, &first, &file, len, format)
        }
        0 => read_format_0(datadir, &first, &file, len, &header),
        other => Err(format!(
            "{}: unknown redo log format {other:#x}",
            first.display()
        )),
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
        0 => "MySQL 4.1-5.6 / MariaDB 10.0-10.1",
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

/// How the blocks of a format are checked while scanning.
struct BlockRules {
    /// Whether the trailer checksum of a block holds.
    checksum_ok: fn(&[u8]) -> bool,
    /// Format 0's recovery also ends the log at a block whose data length
    /// exceeds the block, and at one written before the newest recovery
    /// (its checkpoint number far behind the one of the block before).
    format_0: bool,
}

const CRC32C_RULES: BlockRules = BlockRules {
    checksum_ok: block_checksum_ok,
    format_0: false,
};

/// Scan blocks from the one holding `checkpoint_lsn`; `locate` maps an LSN
/// to (file index, byte offset). Returns the end LSN.
fn scan_blocks(
    files: &[(File, PathBuf)],
    checkpoint_lsn: u64,
    capacity: u64,
    rules: &BlockRules,
    locate: impl Fn(u64) -> Option<(usize, u64)>,
) -> Result<u64, CannotJudge> {
    let mut lsn = checkpoint_lsn - checkpoint_lsn % BLOCK;
    let mut end = None;
    let mut scanned_checkpoint_no = 0u32;
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
        let data_len = u64::from(u16::from_be_bytes([block[4], block[5]]));
        let length_ok = !rules.format_0 || data_len <= BLOCK;
        if !number_ok || !length_ok || !(rules.checksum_ok)(&block) {
            if i == 0 {
                return Err(format!(
                    "{}: the block at offset {offset} does not hold the checkpoint LSN {checkpoint_lsn} (wrong block number, length or checksum): the log is damaged or of a layout this tool misreads",
                    path.display()
                ));
            }
            break;
        }
        if rules.format_0 {
            let checkpoint_no = be32(&block, 8);
            if scanned_checkpoint_no > 0
                && checkpoint_no < scanned_checkpoint_no
                && scanned_checkpoint_no - checkpoint_no > 0x8000_0000
            {
                break;
            }
            scanned_checkpoint_no = checkpoint_no;
        }
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

/// The files of a log group, `ib_logfile0..N`, all of the first one's size.
fn log_group_files(
    datadir: &Path,
    first: &Path,
    first_file: &File,
    size: u64,
) -> Result<Vec<(File, PathBuf)>, CannotJudge> {
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
    Ok(files)
}

/// Where the data of a log group lies: `per_file` bytes after each file's
/// header, `capacity` in all, the ring the LSNs run around.
#[derive(Debug, Clone, Copy)]
struct GroupRing {
    per_file: u64,
    capacity: u64,
    /// The checkpoint's LSN and its offset among the data bytes.
    checkpoint_lsn: u64,
    checkpoint_data: u64,
}

impl GroupRing {
    /// `checkpoint_offset` counts the file headers in, as the checkpoint
    /// block stores it; None when it lies outside the files.
    fn new(size: u64, n_files: usize, checkpoint_lsn: u64, checkpoint_offset: u64) -> Option<Self> {
        let per_file = size - FILE_HDR;
        let (cfile, cpos) = (checkpoint_offset / size, checkpoint_offset % size);
        if cfile >= n_files as u64 || cpos < FILE_HDR {
            return None;
        }
        Some(GroupRing {
            per_file,
            capacity: per_file * n_files as u64,
            checkpoint_lsn,
            checkpoint_data: cfile * per_file + (cpos - FILE_HDR),
        })
    }

    /// (file index, byte offset in it) of an LSN.
    fn locate(&self, lsn: u64) -> (usize, u64) {
        let delta = i128::from(lsn) - i128::from(self.checkpoint_lsn);
        let data =
            (i128::from(self.checkpoint_data) + delta).rem_euclid(i128::from(self.capacity)) as u64;
        (
            (data / self.per_file) as usize,
            FILE_HDR + data % self.per_file,
        )
    }

    /// The LSN at the first data byte of file `n` in the checkpoint's pass
    /// around the ring (it may be negative for a log that never wrapped).
    fn file_start_lsn(&self, n: usize) -> i128 {
        i128::from(self.checkpoint_lsn) - i128::from(self.checkpoint_data)
            + i128::from(self.per_file) * n as i128
    }
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
    let files = log_group_files(datadir, first, first_file, size)?;
    let Some(ring) = GroupRing::new(size, files.len(), checkpoint_lsn, checkpoint_offset) else {
        return Err(format!(
            "{}: the checkpoint's offset {checkpoint_offset} lies outside the log files",
            first.display()
        ));
    };
    let end_lsn = scan_blocks(
        &files,
        checkpoint_lsn,
        ring.capacity,
        &CRC32C_RULES,
        |lsn| Some(ring.locate(lsn)),
    )?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
        format_0: false,
        block_checksum: None,
    })
}

/// Format 0's checkpoint block: its two fold checksums.
const CHECKPOINT_CHECKSUM_1: usize = 288;
const CHECKPOINT_CHECKSUM_2: usize = 292;
/// The high half of the checkpoint's offset, written by MySQL 5.6 (older
/// servers ended the checkpoint at 304; their offsets fit in 32 bits).
const CHECKPOINT_OFFSET_HIGH32: usize = 304;
/// XtraDB wrote its `innodb_log_block_size` here (0: 512 bytes).
const XTRADB_LOG_BLOCK_SIZE: usize = 64;

/// The trailer checksum of a format-0 block as MySQL 3.23.52 to 5.6
/// compute it (`innodb_log_checksum_algorithm=innodb`).
pub(crate) fn format_0_block_checksum(block: &[u8]) -> u32 {
    let mut sum: u64 = 1;
    let mut shift = 0;
    for &b in &block[..508] {
        let b = u64::from(b);
        sum &= 0x7FFF_FFFF;
        sum += b;
        sum += b << shift;
        shift += 1;
        if shift > 24 {
            shift = 0;
        }
    }
    sum as u32
}

/// Which algorithm a format-0 block's trailer checksum matches, if any.
fn format_0_checksum_kind(block: &[u8]) -> Option<&'static str> {
    let stored = be32(block, 508);
    if stored == format_0_block_checksum(block) {
        Some("innodb")
    } else if stored == crc32c::crc32c(&block[..508]) {
        Some("crc32")
    } else if stored == NO_CHECKSUM_MAGIC {
        Some("none")
    } else if stored == be32(block, 0) & 0x7FFF_FFFF {
        Some("block number (InnoDB before 3.23.52)")
    } else {
        None
    }
}

fn format_0_checksum_ok(block: &[u8]) -> bool {
    format_0_checksum_kind(block).is_some()
}

const FORMAT_0_RULES: BlockRules = BlockRules {
    checksum_ok: format_0_checksum_ok,
    format_0: true,
};

/// One valid format-0 checkpoint block.
#[derive(Debug, Clone, Copy)]
struct Checkpoint0 {
    no: u64,
    lsn: u64,
    offset_low: u32,
    offset_high: u32,
}

fn format_0_checkpoint(file: &File, path: &Path) -> Result<Option<Checkpoint0>, CannotJudge> {
    let mut best: Option<Checkpoint0> = None;
    for at in [512u64, 1536] {
        let b = read_at(file, path, at, BLOCK as usize)?;
        if fold_binary(&b[..CHECKPOINT_CHECKSUM_1]) != be32(&b, CHECKPOINT_CHECKSUM_1)
            || fold_binary(&b[8..CHECKPOINT_CHECKSUM_2]) != be32(&b, CHECKPOINT_CHECKSUM_2)
        {
            continue;
        }
        let cp = Checkpoint0 {
            no: be64(&b, 0),
            lsn: be64(&b, 8),
            offset_low: be32(&b, 16),
            offset_high: be32(&b, CHECKPOINT_OFFSET_HIGH32),
        };
        // The server takes the later block on a tie; so does this.
        if best.is_none_or(|c| cp.no >= c.no) {
            best = Some(cp);
        }
    }
    Ok(best)
}

/// MySQL 4.1 to 5.6 and MariaDB 10.0/10.1: format 0, ib_logfile0..N.
fn read_format_0(
    datadir: &Path,
    first: &Path,
    first_file: &File,
    size: u64,
    header: &[u8],
) -> Result<RedoState, CannotJudge> {
    let xtradb_block = be32(header, XTRADB_LOG_BLOCK_SIZE);
    let block_size_hint = if xtradb_block != 0
        && xtradb_block != 512
        && xtradb_block.is_power_of_two()
    {
        format!(" (its header names a log block size of {xtradb_block} bytes, XtraDB's innodb_log_block_size, which this tool does not read)")
    } else {
        String::new()
    };
    let Some(cp) = format_0_checkpoint(first_file, first)? else {
        let empty = read_at(first_file, first, 0, FILE_HDR as usize)?
            .iter()
            .all(|&b| b == 0);
        return Err(if empty {
            format!(
                "{}: the log was never written (its header and checkpoint blocks are all zero)",
                first.display()
            )
        } else {
            format!(
                "{}: format 0 (MySQL 5.6 or older, MariaDB 10.1 or older), but neither checkpoint block passes its checksums",
                first.display()
            )
        });
    };
    let files = log_group_files(datadir, first, first_file, size)?;
    // 5.6 stores a 64-bit offset; older servers wrote only the low half and
    // may have left anything at 304. The right reading puts the block that
    // holds the checkpoint LSN at the offset.
    let mut candidates = vec![(u64::from(cp.offset_high) << 32) | u64::from(cp.offset_low)];
    if cp.offset_high != 0 {
        candidates.push(u64::from(cp.offset_low));
    }
    let mut ring = None;
    let mut why = String::new();
    for offset in candidates {
        let Some(r) = GroupRing::new(size, files.len(), cp.lsn, offset) else {
            why = format!(
                "{}: the checkpoint's offset {offset} lies outside the log files",
                first.display()
            );
            continue;
        };
        let (idx, at) = r.locate(cp.lsn - cp.lsn % BLOCK);
        let (file, path) = &files[idx];
        let block = read_at(file, path, at, BLOCK as usize)?;
        if be32(&block, 0) & 0x7FFF_FFFF == block_no(cp.lsn) && format_0_checksum_ok(&block) {
            ring = Some((r, format_0_checksum_kind(&block)));
            break;
        }
        why = format!(
            "{}: the block at offset {at} does not hold the checkpoint LSN {} (wrong block number or checksum){block_size_hint}: the log is damaged or of a layout this tool misreads",
            path.display(),
            cp.lsn
        );
    }
    let Some((ring, block_checksum)) = ring else {
        return Err(why);
    };
    let end_lsn = scan_blocks(&files, cp.lsn, ring.capacity, &FORMAT_0_RULES, |lsn| {
        Some(ring.locate(lsn))
    })?;
    // Each file's header names the LSN its data starts at, written when the
    // log reaches the file: one of the passes around the ring, and never
    // beyond the log's end. Anything else is a file of another log.
    for (n, (file, path)) in files.iter().enumerate() {
        let h = read_at(file, path, 0, 12)?;
        let (group_id, start_lsn) = (be32(&h, 0), be64(&h, 4));
        if start_lsn == 0 {
            continue; // never reached: still as created
        }
        let expected = ring.file_start_lsn(n);
        let same_ring =
            (i128::from(start_lsn) - expected).rem_euclid(i128::from(ring.capacity)) == 0;
        if group_id != 0 || !same_ring || start_lsn > end_lsn + BLOCK {
            return Err(format!(
                "{}: its header (group {group_id}, data from LSN {start_lsn}) does not fit the checkpoint in ib_logfile0 (LSN {}, which puts this file's data at LSN {expected} plus a multiple of {}), nor the log's end at LSN {end_lsn}: the log files do not belong together",
                path.display(),
                cp.lsn,
                ring.capacity
            ));
        }
    }
    Ok(RedoState {
        format: format_name(0).to_string(),
        checkpoint_lsn: cp.lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
        format_0: true,
        block_checksum,
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
    let end_lsn = scan_blocks(&files, checkpoint_lsn, capacity, &CRC32C_RULES, locate)?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
        format_0: false,
        block_checksum: None,
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
        format_0: false,
        block_checksum: None,
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
    fn unknown_formats_and_unwritten_logs_cannot_be_judged() {
        let dir = tempfile::tempdir().unwrap();
        let mut f0 = vec![0u8; 0x4000];
        assert!(read(dir.path()).is_err());
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        assert!(read(dir.path()).unwrap_err().contains("never written"));
        f0[600] = 1;
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        assert!(read(dir.path())
            .unwrap_err()
            .contains("neither checkpoint block"));
        f0[600] = 0;
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

#[cfg(test)]
mod format_0_tests {
    use super::*;

    /// The fold of no bytes is 0 and each step is the server's
    /// `ut_fold_ulint_pair`; the block sum starts at 1.
    #[test]
    fn fold_and_block_sum_known_values() {
        assert_eq!(fold_binary(&[]), 0);
        // ((0 ^ 0 ^ MASK2) << 8) + 0) ^ MASK) + 0, truncated to 32 bits.
        let one = ((1_653_893_711u64 << 8) ^ 1_463_735_687) as u32;
        assert_eq!(fold_binary(&[0]), one);
        let zero = [0u8; 512];
        assert_eq!(format_0_block_checksum(&zero), 1);
        let mut b = [0u8; 512];
        b[0] = 1; // 1 + 1 + (1 << 0)
        assert_eq!(format_0_block_checksum(&b), 3);
        b[0] = 0;
        b[25] = 2; // the shift wraps to 0 after 24: byte 25 is shifted by 0
        assert_eq!(format_0_block_checksum(&b), 1 + 2 + 2);
        b[25] = 0;
        b[24] = 1; // shifted by 24
        assert_eq!(format_0_block_checksum(&b), 1 + 1 + (1 << 24));
        // Bytes past 508 (the trailer) do not count.
        b[510] = 9;
        assert_eq!(format_0_block_checksum(&b), 1 + 1 + (1 << 24));
    }
}
