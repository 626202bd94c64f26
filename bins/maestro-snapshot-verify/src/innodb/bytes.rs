//! Big-endian fields as InnoDB stores them, and the value a checksum field
//! holds when checksums are switched off.

/// Written in place of a checksum by `innodb_checksum_algorithm=none`
/// (pages) and `innodb_log_checksums=OFF` or XtraDB's
/// `innodb_log_checksum_algorithm=none` (log blocks).
pub const NO_CHECKSUM_MAGIC: u32 = 0xDEAD_BEEF;

pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}
