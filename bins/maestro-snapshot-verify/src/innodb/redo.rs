//! The InnoDB redo log: which format, the newest checkpoint, and the LSN
//! where the log ends.
//!
//! Formats read (the 4-byte big-endian number at offset 0 of the header):
//! - `1`: MySQL 5.7.9+ and MariaDB 10.2; `103`, `104`: MariaDB 10.3, 10.4;
//!   `3`, `4`: MySQL 8.0.3 to 8.0.29; `0x50485953` ("PHYS"): MariaDB 10.5 to
//!   10.7. All are 512-byte blocks (12-byte header with the block number,
//!   CRC-32C in the last 4 bytes) in `ib_logfile0..N` (MariaDB 10.5+: only
//!   `ib_logfile0`), each file with a 2048-byte header; checkpoints at 512
//!   and 1536 of the first file hold the checkpoint LSN (offset 8) and its
//!   byte offset in the log group (16).
//! - `5`, `6`: MySQL 8.0.30+, the same blocks in `#innodb_redo/#ib_redoN`,
//!   each file starting at the LSN in its header (offset 8).
//! - `0x50687973` ("Phys"): MariaDB 10.8+, one `ib_logfile0` holding a ring
//!   of mini-transactions from offset 0x3000, checkpoints at 0x1000 and
//!   0x2000 (LSN, end LSN, CRC-32C at 60); each mini-transaction ends with a
//!   sequence bit (which flips on every wrap of the ring) and a CRC-32C.
//!
//! - `0`: MySQL 3.23.52 to 5.6, MariaDB 10.0 and 10.1 (the field was the
//!   log group id, always 0, before MySQL 5.7.9 made it a format number).
//!   The same 512-byte blocks in `ib_logfile0..N` (at least two files),
//!   but each file header holds the group id (0) and the LSN its data
//!   starts at (4, 8 bytes); the checkpoint blocks at 512 and 1536 hold the
//!   checkpoint number (0), LSN (8), the offset in the log group (low half
//!   at 16, high half at 304, written by 5.6 only) and two fold checksums
//!   (288 over bytes 0..288, 292 over 8..292). A block's trailer checksum is
//!   the old fold-based sum, or CRC-32C or 0xDEADBEEF where XtraDB's
//!   `innodb_log_checksum_algorithm` chose those; InnoDB before 3.23.52
//!   put the block number there.
//!
//! The end is found block by block, as recovery scans: from the block that
//! holds the checkpoint, while each block carries its own number and a
//! checksum of the kind the checkpoint's block has, to the first block
//! that is not full (its data length). The log records themselves are not
//! parsed (except in MariaDB 10.8's ring, which has no blocks).
//!
//! What cannot be read is told apart from what is wrong: a format or a
//! variant this tool does not read ([`Problem::NotRead`]) may be a sound
//! log; files that do not make one log ([`Problem::Inconsistent`]) or no
//! log at all ([`Problem::Missing`]) are a broken copy.

use super::bytes::{be32, be64, NO_CHECKSUM_MAGIC};
use super::page::fold_binary;
use maestro_common::fsio::{self, FsioError};
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
/// The data of a block starts after its 12-byte header.
const BLOCK_HDR: u64 = 12;

/// What the redo log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedoState {
    pub format: String,
    pub checkpoint_lsn: u64,
    /// Where the log's written data ends (block by block, see the module
    /// comment): no page flushed before this log was copied can carry a
    /// larger LSN.
    pub end_lsn: u64,
    pub files: Vec<PathBuf>,
    /// The log is of format 0 (MySQL 5.6 and older, MariaDB 10.1 and
    /// older): the servers that write it put the LSN of a clean shutdown
    /// into the first page of each data file (offset 26).
    pub format_0: bool,
    /// The trailer checksum the blocks carry, where the format allows more
    /// than one.
    pub block_checksum: Option<&'static str>,
}

/// What kind of reason the log gives no end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A format or variant this tool does not read, or a log never
    /// written: nothing says the copy is wrong.
    NotRead,
    /// The files are not one consistent log: files of different moments,
    /// a damaged or cut file, a block at the checkpoint that does not hold
    /// it, a log that ends before its own checkpoint, a group with a file
    /// missing. A server cannot recover from such a copy.
    Inconsistent,
    /// No redo log at all next to the tablespaces.
    Missing,
    /// A file could not be read (permissions, I/O errors): nothing is known.
    Unreadable,
}

/// Why the log cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannotJudge {
    pub problem: Problem,
    pub why: String,
    /// Where the log was found to end before the problem showed: the
    /// pages are still compared with it.
    pub end_lsn: Option<u64>,
}

impl CannotJudge {
    fn new(problem: Problem, why: impl Into<String>) -> CannotJudge {
        CannotJudge {
            problem,
            why: why.into(),
            end_lsn: None,
        }
    }

    fn not_read(why: impl Into<String>) -> CannotJudge {
        CannotJudge::new(Problem::NotRead, why)
    }

    fn inconsistent(why: impl Into<String>) -> CannotJudge {
        CannotJudge::new(Problem::Inconsistent, why)
    }

    fn with_end(mut self, end_lsn: u64) -> CannotJudge {
        self.end_lsn = Some(end_lsn);
        self
    }

    /// Evidence that the copy is not one consistent point in time.
    pub fn is_evidence(&self) -> bool {
        matches!(self.problem, Problem::Inconsistent | Problem::Missing)
    }
}

fn read_at(file: &File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, CannotJudge> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        let why = format!(
            "{}: cannot read {len} bytes at {offset}: {e}",
            path.display()
        );
        // A file shorter than its own layout is a cut copy.
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CannotJudge::inconsistent(why),
            _ => CannotJudge::new(Problem::Unreadable, why),
        }
    })?;
    Ok(buf)
}

/// Opens a log file without ever blocking on it: a FIFO, a device or a
/// link that leads nowhere where a log file should be is a broken copy.
fn open(path: &Path) -> Result<(File, u64), CannotJudge> {
    let f = fsio::open_regular(path).map_err(|e| match &e {
        FsioError::NotRegular { .. } => CannotJudge::inconsistent(format!("{e}: not a log file")),
        _ if e.is_not_found() => CannotJudge::inconsistent(e.to_string()),
        _ => CannotJudge::new(Problem::Unreadable, e.to_string()),
    })?;
    let len = f
        .metadata()
        .map_err(|e| CannotJudge::new(Problem::Unreadable, format!("{}: {e}", path.display())))?
        .len();
    Ok((f, len))
}

/// Whether a path names something, whatever it is (a link that leads
/// nowhere included).
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Find and read the redo log of the data folder `datadir`.
pub fn read(datadir: &Path) -> Result<RedoState, CannotJudge> {
    let redo_dir = datadir.join("#innodb_redo");
    if redo_dir.is_dir() {
        return read_mysql_8030(&redo_dir);
    }
    let first = datadir.join("ib_logfile0");
    if !present(&first) {
        let others = log_file_numbers(datadir)?;
        return Err(CannotJudge::new(
            Problem::Missing,
            if others.is_empty() {
                "no redo log (ib_logfile0 or #innodb_redo) next to the tablespaces: the copy lacks the log the server had".to_string()
            } else {
                format!(
                    "no ib_logfile0, but {}: the log group is incomplete",
                    file_list(&others)
                )
            },
        ));
    }
    let (file, len) = open(&first)?;
    if len < FILE_HDR + BLOCK {
        return Err(CannotJudge::inconsistent(format!(
            "{}: {len} bytes, too short for a redo log: a cut copy",
            first.display()
        )));
    }
    let header = read_at(&file, &first, 0, BLOCK as usize)?;
    let format = be32(&header, 0);
    if format & ENCRYPTED != 0 {
        return Err(CannotJudge::not_read(format!(
            "{}: the redo log is encrypted (format {format:#x})",
            first.display()
        )));
    }
    match format {
        FORMAT_10_8 => read_mariadb_108(&first, &file, len, &header),
        1 | 103 | 104 | 3 | 4 | FORMAT_10_5 => {
            read_block_group(datadir, &first, &file, len, format)
        }
        0 => read_format_0(datadir, &first, &file, len, &header),
        other => Err(CannotJudge::not_read(format!(
            "{}: unknown redo log format {other:#x}",
            first.display()
        ))),
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

fn block_no(lsn: u64) -> u32 {
    (((lsn / BLOCK) & 0x3FFF_FFFF) + 1) as u32
}

/// The kinds of trailer checksum a log block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockSum {
    /// The fold-based sum of MySQL 3.23.52 to 5.6.
    Innodb,
    Crc32,
    /// 0xDEADBEEF: checksums switched off.
    None,
    /// The block number: InnoDB before 3.23.52.
    BlockNumber,
}

impl BlockSum {
    fn name(self) -> &'static str {
        match self {
            BlockSum::Innodb => "innodb",
            BlockSum::Crc32 => "crc32",
            BlockSum::None => "none",
            BlockSum::BlockNumber => "block number (InnoDB before 3.23.52)",
        }
    }

    fn holds(self, block: &[u8]) -> bool {
        let stored = be32(block, 508);
        match self {
            BlockSum::Innodb => stored == format_0_block_checksum(block),
            BlockSum::Crc32 => stored == crc32c::crc32c(&block[..508]),
            BlockSum::None => stored == NO_CHECKSUM_MAGIC,
            BlockSum::BlockNumber => stored == be32(block, 0) & 0x7FFF_FFFF,
        }
    }
}

/// What a format's blocks may carry: MySQL 4.1 to 5.6 (and XtraDB's
/// choices); MySQL 5.7+ and MariaDB 10.2 to 10.7.
const FORMAT_0_SUMS: &[BlockSum] = &[
    BlockSum::Innodb,
    BlockSum::Crc32,
    BlockSum::None,
    BlockSum::BlockNumber,
];
const LATER_SUMS: &[BlockSum] = &[BlockSum::Crc32, BlockSum::None];

fn sum_of(block: &[u8], kinds: &[BlockSum]) -> Option<BlockSum> {
    kinds.iter().copied().find(|k| k.holds(block))
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

/// Whether the first `len` bytes of a file are all zero: a log created and
/// never written.
fn never_written(file: &File, path: &Path, len: u64) -> Result<bool, CannotJudge> {
    Ok(read_at(file, path, 0, len as usize)?
        .iter()
        .all(|&b| b == 0))
}

/// How the blocks of a format are checked while scanning.
struct BlockRules {
    /// The checksum kinds the format knows; the block at the checkpoint
    /// picks one, and every later block must carry the same.
    sums: &'static [BlockSum],
    /// Format 0: the block-number form of InnoDB before 3.23.52 is also
    /// accepted (as MySQL 5.6 does), and recovery ends at a block written
    /// before the newest recovery (its checkpoint number far behind the
    /// one of the block before).
    format_0: bool,
}

const LATER_RULES: BlockRules = BlockRules {
    sums: LATER_SUMS,
    format_0: false,
};

const FORMAT_0_RULES: BlockRules = BlockRules {
    sums: FORMAT_0_SUMS,
    format_0: true,
};

/// Where the scan of a log ended.
struct ScanEnd {
    end_lsn: u64,
    block_sum: BlockSum,
}

/// Scan blocks from the one holding `checkpoint_lsn`; `locate` maps an LSN
/// to (file index, byte offset).
fn scan_blocks(
    files: &[(File, PathBuf)],
    checkpoint_lsn: u64,
    capacity: u64,
    rules: &BlockRules,
    locate: impl Fn(u64) -> Option<(usize, u64)>,
) -> Result<ScanEnd, CannotJudge> {
    // Every LSN the scan can reach fits in 64 bits, or the log is damaged
    // (no server gets near 2^64).
    if checkpoint_lsn
        .checked_add(capacity.saturating_add(BLOCK))
        .is_none()
    {
        return Err(CannotJudge::inconsistent(format!(
            "the checkpoint LSN {checkpoint_lsn} lies so close to 2^64 that the log would run past it: the log is damaged"
        )));
    }
    let mut lsn = checkpoint_lsn - checkpoint_lsn % BLOCK;
    let mut end = None;
    let mut block_sum = None;
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
        // Format 0's servers never write more than a block's worth; MySQL
        // 5.6 would add such a length and read on, this ends the log
        // before it (the safe side: an earlier end flags more pages).
        let length_ok = !rules.format_0 || data_len <= BLOCK;
        let sum_ok = match block_sum {
            None => {
                block_sum = sum_of(&block, rules.sums);
                block_sum.is_some()
            }
            Some(kind) => {
                kind.holds(&block) || (rules.format_0 && BlockSum::BlockNumber.holds(&block))
            }
        };
        if !number_ok || !length_ok || !sum_ok {
            if i == 0 {
                return Err(CannotJudge::inconsistent(format!(
                    "{}: the block at offset {offset} does not hold the checkpoint LSN {checkpoint_lsn} (wrong block number, length or checksum): the log is damaged, or not the log that checkpoint was written to",
                    path.display()
                )));
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
            end = Some(lsn + data_len.max(BLOCK_HDR));
            break;
        }
        lsn += BLOCK;
    }
    let end = end.unwrap_or(lsn);
    let block_sum = block_sum.unwrap_or(BlockSum::None);
    if end < checkpoint_lsn {
        return Err(CannotJudge::inconsistent(format!(
            "the log ends (LSN {end}) before its own checkpoint (LSN {checkpoint_lsn}): the checkpoint was copied later than the blocks after it"
        ))
        .with_end(end));
    }
    Ok(ScanEnd {
        end_lsn: end,
        block_sum,
    })
}

/// The numbers N of the `ib_logfileN` files in a data folder, sorted.
fn log_file_numbers(datadir: &Path) -> Result<Vec<u32>, CannotJudge> {
    let list = std::fs::read_dir(datadir).map_err(|e| {
        CannotJudge::new(Problem::Unreadable, format!("{}: {e}", datadir.display()))
    })?;
    let mut numbers: Vec<u32> = list
        .filter_map(|d| d.ok())
        .filter_map(|d| {
            let name = d.file_name();
            let digits = name.to_str()?.strip_prefix("ib_logfile")?;
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

fn file_list(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(|n| format!("ib_logfile{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files of a log group, `ib_logfile0..N-1`: numbered from 0 without
/// a gap, at least `min_files` of them (the servers of format 0 keep at
/// least two), all of the first one's size. The server is told how many
/// files its group has; a copy with a file missing (at the end of the
/// group) is found when the checkpoint or the file headers do not fit.
fn log_group_files(
    datadir: &Path,
    first: &Path,
    first_file: &File,
    size: u64,
    min_files: usize,
) -> Result<Vec<(File, PathBuf)>, CannotJudge> {
    if size <= FILE_HDR || size % BLOCK != 0 {
        return Err(CannotJudge::inconsistent(format!(
            "{}: odd log file size {size}",
            first.display()
        )));
    }
    let numbers = log_file_numbers(datadir)?;
    let count = numbers
        .iter()
        .enumerate()
        .take_while(|(i, n)| *i as u64 == u64::from(**n))
        .count();
    if count < numbers.len() {
        return Err(CannotJudge::inconsistent(format!(
            "{} found, but not ib_logfile{count}: the log group is incomplete (its files are numbered from 0 without a gap)",
            file_list(&numbers[count..])
        )));
    }
    if count < min_files {
        return Err(CannotJudge::inconsistent(format!(
            "only {} found: a log group of this format has at least {min_files} files, ib_logfile{count} is missing: the log group is incomplete",
            file_list(&numbers)
        )));
    }
    let mut files = vec![(
        first_file
            .try_clone()
            .map_err(|e| CannotJudge::new(Problem::Unreadable, e.to_string()))?,
        first.to_path_buf(),
    )];
    for n in 1..count {
        let p = datadir.join(format!("ib_logfile{n}"));
        let (f, len) = open(&p)?;
        if len != size {
            return Err(CannotJudge::inconsistent(format!(
                "{}: {len} bytes, but ib_logfile0 has {size}: the files of one log group are alike, these do not belong together",
                p.display()
            )));
        }
        files.push((f, p));
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

/// MySQL 5.7, 8.0 before 8.0.30, MariaDB 10.2 to 10.7: ib_logfile0..N
/// (MariaDB 10.5 to 10.7: ib_logfile0 only).
fn read_block_group(
    datadir: &Path,
    first: &Path,
    first_file: &File,
    size: u64,
    format: u32,
) -> Result<RedoState, CannotJudge> {
    let Some((checkpoint_lsn, checkpoint_offset)) = newest_checkpoint(first_file, first)? else {
        return Err(if never_written(first_file, first, FILE_HDR)? {
            CannotJudge::not_read(format!(
                "{}: the log was never written (its header and checkpoint blocks are all zero)",
                first.display()
            ))
        } else {
            CannotJudge::inconsistent(format!(
                "{}: neither checkpoint block passes its checksum: the log is damaged",
                first.display()
            ))
        });
    };
    let files = if format == FORMAT_10_5 {
        if size <= FILE_HDR || size % BLOCK != 0 {
            return Err(CannotJudge::inconsistent(format!(
                "{}: odd log file size {size}",
                first.display()
            )));
        }
        let clone = first_file
            .try_clone()
            .map_err(|e| CannotJudge::new(Problem::Unreadable, e.to_string()))?;
        vec![(clone, first.to_path_buf())]
    } else {
        log_group_files(datadir, first, first_file, size, 1)?
    };
    let Some(ring) = GroupRing::new(size, files.len(), checkpoint_lsn, checkpoint_offset) else {
        return Err(CannotJudge::inconsistent(format!(
            "{}: the checkpoint's offset {checkpoint_offset} lies outside the log files: the log group is incomplete or damaged",
            first.display()
        )));
    };
    let end = scan_blocks(&files, checkpoint_lsn, ring.capacity, &LATER_RULES, |lsn| {
        Some(ring.locate(lsn))
    })?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn: end.end_lsn,
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
/// MySQL 4.1 to 5.6 and MariaDB 10.0/10.1 keep at least two log files
/// (`innodb_log_files_in_group` 2 to 100).
const FORMAT_0_MIN_FILES: usize = 2;

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
    if xtradb_block != 0 && xtradb_block != 512 && xtradb_block.is_power_of_two() {
        return Err(CannotJudge::not_read(format!(
            "{}: its header names a log block size of {xtradb_block} bytes, XtraDB's innodb_log_block_size, which this tool does not read",
            first.display()
        )));
    }
    // The group first: a copy that lost a file is broken whatever its
    // first file holds.
    let files = log_group_files(datadir, first, first_file, size, FORMAT_0_MIN_FILES)?;
    let Some(cp) = format_0_checkpoint(first_file, first)? else {
        return Err(if never_written(first_file, first, FILE_HDR)? {
            CannotJudge::not_read(format!(
                "{}: the log was never written (its header and checkpoint blocks are all zero)",
                first.display()
            ))
        } else {
            CannotJudge::inconsistent(format!(
                "{}: format 0 (MySQL 5.6 or older, MariaDB 10.1 or older), but neither checkpoint block passes its checksums: the log is damaged",
                first.display()
            ))
        });
    };
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
                "{}: the checkpoint's offset {offset} lies outside the log files: the log group is incomplete or damaged",
                first.display()
            );
            continue;
        };
        let (idx, at) = r.locate(cp.lsn - cp.lsn % BLOCK);
        let (file, path) = &files[idx];
        let block = read_at(file, path, at, BLOCK as usize)?;
        if be32(&block, 0) & 0x7FFF_FFFF == block_no(cp.lsn)
            && sum_of(&block, FORMAT_0_SUMS).is_some()
        {
            ring = Some(r);
            break;
        }
        why = format!(
            "{}: the block at offset {at} does not hold the checkpoint LSN {} (wrong block number or checksum): the log is damaged, or not the log that checkpoint was written to",
            path.display(),
            cp.lsn
        );
    }
    let Some(ring) = ring else {
        return Err(CannotJudge::inconsistent(why));
    };
    let end = scan_blocks(&files, cp.lsn, ring.capacity, &FORMAT_0_RULES, |lsn| {
        Some(ring.locate(lsn))
    })?;
    let end_lsn = end.end_lsn;
    // Each file's header names the LSN its data starts at, written when the
    // log reaches the file: one of the passes around the ring, and never
    // beyond the log's end. Anything else is a file of another log, or of
    // this log at another moment.
    for (n, (file, path)) in files.iter().enumerate() {
        let h = read_at(file, path, 0, 12)?;
        let (group_id, start_lsn) = (be32(&h, 0), be64(&h, 4));
        if start_lsn == 0 {
            continue; // never reached: still as created
        }
        let expected = ring.file_start_lsn(n);
        let same_ring =
            (i128::from(start_lsn) - expected).rem_euclid(i128::from(ring.capacity)) == 0;
        if group_id != 0 || !same_ring || start_lsn > end_lsn.saturating_add(BLOCK) {
            return Err(CannotJudge::inconsistent(format!(
                "{}: its header (group {group_id}, data from LSN {start_lsn}) does not fit the checkpoint in ib_logfile0 (LSN {}, which puts this file's data at LSN {expected} plus a multiple of {}), nor the log's end at LSN {end_lsn}: the log files do not belong together",
                path.display(),
                cp.lsn,
                ring.capacity
            ))
            .with_end(end_lsn));
        }
    }
    Ok(RedoState {
        format: format_name(0).to_string(),
        checkpoint_lsn: cp.lsn,
        end_lsn,
        files: files.into_iter().map(|(_, p)| p).collect(),
        format_0: true,
        block_checksum: Some(end.block_sum.name()),
    })
}

/// MySQL 8.0.30+: `#innodb_redo/#ib_redoN`, each starting at its own LSN.
fn read_mysql_8030(dir: &Path) -> Result<RedoState, CannotJudge> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let unreadable = |e: std::io::Error| {
        CannotJudge::new(Problem::Unreadable, format!("{}: {e}", dir.display()))
    };
    let list = std::fs::read_dir(dir).map_err(unreadable)?;
    for d in list {
        let d = d.map_err(unreadable)?;
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
        return Err(CannotJudge::new(
            Problem::Missing,
            format!(
                "{}: no #ib_redoN file: the copy lacks the log the server had",
                dir.display()
            ),
        ));
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
            return Err(CannotJudge::not_read(format!(
                "{}: unknown redo log format {format:#x}",
                path.display()
            )));
        }
        if be32(&header, 508) != crc32c::crc32c(&header[..508]) {
            return Err(CannotJudge::inconsistent(format!(
                "{}: header checksum mismatch: the log is damaged",
                path.display()
            )));
        }
        let start = be64(&header, 8);
        if let Some((lsn, _)) = newest_checkpoint(&file, &path)? {
            if best.is_none_or(|b| lsn > b) {
                best = Some(lsn);
            }
        }
        let Some(end) = start.checked_add(len.saturating_sub(FILE_HDR)) else {
            return Err(CannotJudge::inconsistent(format!(
                "{}: its data would run past LSN 2^64 (from LSN {start}): the log is damaged",
                path.display()
            )));
        };
        ranges.push((start, end));
        files.push((file, path));
    }
    let Some(checkpoint_lsn) = best else {
        return Err(CannotJudge::inconsistent(format!(
            "{}: no valid checkpoint block in any redo file: the log is damaged",
            dir.display()
        )));
    };
    let capacity = ranges
        .iter()
        .fold(0u64, |sum, (s, e)| sum.saturating_add(e - s));
    let locate = |lsn: u64| -> Option<(usize, u64)> {
        ranges
            .iter()
            .position(|(s, e)| lsn >= *s && lsn < *e)
            .map(|i| (i, FILE_HDR + (lsn - ranges[i].0)))
    };
    let end = scan_blocks(&files, checkpoint_lsn, capacity, &LATER_RULES, locate)?;
    Ok(RedoState {
        format: format_name(format).to_string(),
        checkpoint_lsn,
        end_lsn: end.end_lsn,
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
        return Err(CannotJudge::inconsistent(format!(
            "{}: header checksum mismatch: the log is damaged",
            path.display()
        )));
    }
    if be32(header, 48) != 0 {
        return Err(CannotJudge::not_read(format!(
            "{}: the redo log is encrypted",
            path.display()
        )));
    }
    let first_lsn = be64(header, 8);
    if first_lsn < RING_START || len <= RING_START {
        return Err(CannotJudge::inconsistent(format!(
            "{}: invalid header (first LSN {first_lsn}): the log is damaged",
            path.display()
        )));
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
        return Err(CannotJudge::inconsistent(format!(
            "{}: no valid checkpoint block: the log is damaged",
            path.display()
        )));
    };
    let capacity = len - RING_START;
    // Every LSN the scan can reach fits in 64 bits, or the log is damaged.
    if checkpoint_lsn
        .checked_add(capacity.saturating_add(8 * MTR_SIZE_MAX))
        .is_none()
    {
        return Err(CannotJudge::inconsistent(format!(
            "{}: the checkpoint LSN {checkpoint_lsn} lies so close to 2^64 that the log would run past it: the log is damaged",
            path.display()
        )));
    }
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
        return Err(CannotJudge::inconsistent(format!(
            "{}: the log's records end at LSN {lsn}, before the end its checkpoint names ({checkpoint_end}): the log is damaged, or copied before the checkpoint",
            path.display()
        ))
        .with_end(lsn));
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
        assert!(err.why.contains("does not hold the checkpoint"), "{err:?}");
        assert_eq!(err.problem, Problem::Inconsistent);
    }

    #[test]
    fn unknown_formats_and_unwritten_logs_cannot_be_judged() {
        let dir = tempfile::tempdir().unwrap();
        let mut f0 = vec![0u8; 0x4000];
        assert_eq!(read(dir.path()).unwrap_err().problem, Problem::Missing);
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        std::fs::write(dir.path().join("ib_logfile1"), &f0).unwrap();
        let why = |dir: &Path| read(dir).unwrap_err();
        let e = why(dir.path());
        assert!(e.why.contains("never written"), "{e:?}");
        assert_eq!(e.problem, Problem::NotRead);
        f0[600] = 1;
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        let e = why(dir.path());
        assert!(e.why.contains("neither checkpoint block"), "{e:?}");
        assert_eq!(e.problem, Problem::Inconsistent);
        f0[600] = 0;
        put32(&mut f0, 0, 77);
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        let e = why(dir.path());
        assert!(e.why.contains("unknown redo log format"), "{e:?}");
        assert_eq!(e.problem, Problem::NotRead);
        put32(&mut f0, 0, FORMAT_10_8 | ENCRYPTED);
        std::fs::write(dir.path().join("ib_logfile0"), &f0).unwrap();
        let e = why(dir.path());
        assert!(e.why.contains("encrypted"), "{e:?}");
        assert_eq!(e.problem, Problem::NotRead);
        let empty = tempfile::tempdir().unwrap();
        assert!(why(empty.path()).why.contains("no redo log"));
    }

    /// A format-0 log at the top of the LSN space: judged, no overflow.
    #[test]
    fn a_log_near_the_end_of_the_lsn_space_is_damaged_not_a_panic() {
        let files: Vec<(File, PathBuf)> = Vec::new();
        let e = match scan_blocks(&files, u64::MAX - 412, 1 << 20, &FORMAT_0_RULES, |_| None) {
            Err(e) => e,
            Ok(_) => panic!("a log running past 2^64 was read"),
        };
        assert_eq!(e.problem, Problem::Inconsistent);
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
