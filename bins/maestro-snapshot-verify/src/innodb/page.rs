//! InnoDB tablespace pages: the page size from the FSP header flags, each
//! page's LSN and checksum.
//!
//! Every page starts with the 38-byte FIL header: checksum (0), page number
//! (4), LSN (16, 8 bytes), page type (24). Page 0 holds the FSP header at 38,
//! whose flags (38 + 16) give the page size:
//! - MariaDB `full_crc32` tablespaces (flag bit 4): page size `512 << (flags & 15)`;
//!   the page's last 4 bytes are the CRC-32C of everything before them, the
//!   4 before that the low half of the LSN.
//! - otherwise (MySQL 5.6+, MariaDB before 10.5): `PAGE_SSIZE` in bits 6-9
//!   (0 = 16 KiB, else `512 << ssize`), `ZIP_SSIZE` in bits 1-4 (compressed
//!   tables: checksums not judged here). The checksum is at 0 and again at
//!   `size - 8`, as `crc32` (CRC-32C of bytes 4..26 xor 38..size-8), the
//!   legacy `innodb` fold, or `none` (0xDEADBEEF); the last 4 bytes repeat
//!   the low half of the LSN.
//!
//! Encrypted tablespaces: MariaDB (before `full_crc32`) encrypts what lies
//! between the FIL header and the 8-byte trailer and writes the key
//! version at 26; page 0 says so with its crypt data (the magic
//! `s\x0e\x0cREt` and scheme 1 after the FSP header's extent descriptors).
//! MySQL 5.7+ marks the tablespace in its FSP flags (bit 13) and gives
//! each encrypted page a type of its own (15, 16, 17), trailer included.

/// How the pages of one tablespace are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub page_size: usize,
    pub full_crc32: bool,
    /// ROW_FORMAT=COMPRESSED or page_compressed: LSNs are read, checksums
    /// are not judged.
    pub compressed: bool,
    /// Page 0 says the tablespace is encrypted: a page whose checksum
    /// fails and that names a key version is not judged (its torn-page
    /// check still is, the trailer being clear text).
    pub encrypted: bool,
}

use super::bytes::{be32, NO_CHECKSUM_MAGIC};

pub const FSP_FLAGS_AT: usize = 38 + 16;

/// The layout from the FSP flags of page 0.
pub fn layout(flags: u32) -> Result<Layout, String> {
    if flags & (1 << 4) != 0 {
        let ssize = flags & 15;
        if !(3..=7).contains(&ssize) {
            return Err(format!(
                "full_crc32 flags {flags:#x}: page size code {ssize} is invalid"
            ));
        }
        return Ok(Layout {
            page_size: 512 << ssize,
            full_crc32: true,
            compressed: (flags >> 5) & 7 != 0,
            encrypted: false,
        });
    }
    let page_ssize = (flags >> 6) & 15;
    let zip_ssize = (flags >> 1) & 15;
    let logical = match page_ssize {
        0 => 16384,
        3..=7 => 512 << page_ssize,
        other => {
            return Err(format!(
                "FSP flags {flags:#x}: page size code {other} is invalid"
            ))
        }
    };
    if zip_ssize != 0 {
        if zip_ssize > 5 {
            return Err(format!(
                "FSP flags {flags:#x}: compressed page size code {zip_ssize} is invalid"
            ));
        }
        return Ok(Layout {
            page_size: 512 << zip_ssize,
            full_crc32: false,
            compressed: true,
            encrypted: flags & MYSQL_ENCRYPTION_FLAG != 0,
        });
    }
    Ok(Layout {
        page_size: logical,
        full_crc32: false,
        // MariaDB's PAGE_COMPRESSION flag (bit 16).
        compressed: flags & (1 << 16) != 0,
        encrypted: flags & MYSQL_ENCRYPTION_FLAG != 0,
    })
}

/// MySQL 5.7+: FSP flag `ENCRYPTION`.
const MYSQL_ENCRYPTION_FLAG: u32 = 1 << 13;
/// MariaDB's crypt data on page 0: this magic, then the scheme (1 byte).
const CRYPT_MAGIC: [u8; 6] = [b's', 0x0E, 0x0C, b'R', b'E', b't'];
const CRYPT_SCHEME_1: u8 = 1;

/// Where MariaDB keeps the crypt data on page 0 of a tablespace of this
/// physical page size: after the FSP header (at 38, 112 bytes) and the
/// extent descriptors of the pages page 0 describes.
fn crypt_data_offset(page_size: usize) -> usize {
    let extent_pages = if page_size <= 16384 {
        (1 << 20) / page_size
    } else {
        64
    };
    // 24 bytes of list node and state, then 2 bits a page.
    let descriptor = 24 + (extent_pages * 2).div_ceil(8);
    38 + 112 + descriptor * page_size / extent_pages
}

/// Whether page 0 (`page0`, a whole page) carries MariaDB crypt data of an
/// encrypting scheme.
pub fn mariadb_encrypted(page0: &[u8]) -> bool {
    let at = crypt_data_offset(page0.len());
    page0.len() > at + CRYPT_MAGIC.len()
        && page0[at..at + CRYPT_MAGIC.len()] == CRYPT_MAGIC
        && page0[at + CRYPT_MAGIC.len()] == CRYPT_SCHEME_1
}

/// InnoDB's `ut_fold_binary`. The servers compute it in a `ulint` (32 or
/// 64 bits) and store the low 32 bits, which only depend on the low bits of
/// the inputs (the steps are shifts left, adds and xors).
pub(crate) fn fold_binary(bytes: &[u8]) -> u32 {
    const MASK: u32 = 1_463_735_687;
    const MASK2: u32 = 1_653_893_711;
    bytes.iter().fold(0u32, |f, &b| {
        let b = u32::from(b);
        (((f ^ b ^ MASK2) << 8).wrapping_add(f) ^ MASK).wrapping_add(b)
    })
}

/// The legacy `innodb` checksums: (new at offset 0, old at size - 8).
pub fn innodb_checksums(page: &[u8]) -> (u32, u32) {
    let n = page.len();
    let new = fold_binary(&page[4..26]).wrapping_add(fold_binary(&page[38..n - 8]));
    let old = fold_binary(&page[..26]);
    (new, old)
}

pub fn crc32_checksum(page: &[u8]) -> u32 {
    let n = page.len();
    crc32c::crc32c(&page[4..26]) ^ crc32c::crc32c(&page[38..n - 8])
}

/// The two checksum fields as the servers accept them when not told to be
/// strict (MySQL 4.1 to 5.7, MariaDB): both CRC-32C, both 0xDEADBEEF, or
/// each field on its own the legacy `innodb` fold, 0xDEADBEEF, or what
/// InnoDB before 4.0.14 wrote there (0 in the first field, the LSN's high
/// half in the last).
fn checksum_fields_hold(page: &[u8], field1: u32, field2: u32, crc: u32) -> bool {
    if (field1 == crc && field2 == crc)
        || (field1 == NO_CHECKSUM_MAGIC && field2 == NO_CHECKSUM_MAGIC)
    {
        return true;
    }
    let (new, old) = innodb_checksums(page);
    let old_ok = field2 == old || field2 == NO_CHECKSUM_MAGIC || field2 == be32(page, 16);
    let new_ok = field1 == new || field1 == NO_CHECKSUM_MAGIC || field1 == 0;
    old_ok && new_ok
}

/// What is wrong with a page, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageVerdict {
    Ok,
    /// All zero: never written.
    Empty,
    /// Not judged (compressed or encrypted pages).
    NotJudged,
    Corrupt(String),
}

const FIL_PAGE_PAGE_COMPRESSED: u16 = 34354;
const FIL_PAGE_PAGE_COMPRESSED_ENCRYPTED: u16 = 37401;
/// MySQL 5.7+: transparent page compression and encryption, trailer
/// included (14 compressed, 15 encrypted, 16 both, 17 an encrypted R-tree
/// page). MySQL 5.6 and older never wrote these types.
const MYSQL_COMPRESSED_OR_ENCRYPTED: std::ops::RangeInclusive<u16> = 14..=17;

pub fn verify(page: &[u8], layout: &Layout) -> PageVerdict {
    if page.iter().all(|&b| b == 0) {
        return PageVerdict::Empty;
    }
    let n = page.len();
    if layout.full_crc32 {
        if layout.compressed {
            return PageVerdict::NotJudged;
        }
        let stored = be32(page, n - 4);
        if stored != crc32c::crc32c(&page[..n - 4]) {
            return PageVerdict::Corrupt("CRC-32C (full_crc32) mismatch".into());
        }
        if be32(page, 20) != be32(page, n - 8) {
            return PageVerdict::Corrupt(
                "the LSN in the header and trailer disagree (torn page)".into(),
            );
        }
        return PageVerdict::Ok;
    }
    if layout.compressed {
        return PageVerdict::NotJudged;
    }
    let page_type = u16::from_be_bytes([page[24], page[25]]);
    if matches!(
        page_type,
        FIL_PAGE_PAGE_COMPRESSED | FIL_PAGE_PAGE_COMPRESSED_ENCRYPTED
    ) || MYSQL_COMPRESSED_OR_ENCRYPTED.contains(&page_type)
    {
        return PageVerdict::NotJudged;
    }
    // The trailer is clear text here, encrypted or not: halves of two
    // writes are a torn page whatever the checksum fields say.
    if be32(page, 20) != be32(page, n - 4) {
        return PageVerdict::Corrupt(format!(
            "the LSN in the header and trailer disagree (torn page: header {:#x}, trailer {:#x})",
            be32(page, 20),
            be32(page, n - 4)
        ));
    }
    let field1 = be32(page, 0);
    let field2 = be32(page, n - 8);
    let crc = crc32_checksum(page);
    if !checksum_fields_hold(page, field1, field2, crc) {
        // MariaDB's encrypted pages carry their key version at 26, and
        // their checksum over the encrypted bytes: only where page 0 says
        // the tablespace is encrypted.
        if layout.encrypted && be32(page, 26) != 0 {
            return PageVerdict::NotJudged;
        }
        return PageVerdict::Corrupt(format!(
            "checksum mismatch (stored {field1:#010x}/{field2:#010x}, crc32 {crc:#010x})"
        ));
    }
    PageVerdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_from_flags() {
        assert_eq!(layout(0).unwrap().page_size, 16384);
        assert_eq!(
            layout(0x15).unwrap(),
            Layout {
                page_size: 16384,
                full_crc32: true,
                compressed: false,
                encrypted: false,
            }
        );
        assert_eq!(layout(0x10 | 4).unwrap().page_size, 8192);
        assert_eq!(layout(4 << 6).unwrap().page_size, 8192);
        assert_eq!(layout(7 << 6).unwrap().page_size, 65536);
        let zip = layout((4 << 1) | 1).unwrap();
        assert_eq!((zip.page_size, zip.compressed), (8192, true));
        assert!(layout(1 << 6).is_err());
        assert!(layout(0x10 | 9).is_err());
    }

    fn page(size: usize, lsn: u64) -> Vec<u8> {
        let mut p = vec![0u8; size];
        p[4..8].copy_from_slice(&3u32.to_be_bytes());
        p[16..24].copy_from_slice(&lsn.to_be_bytes());
        p[100] = 42;
        p
    }

    #[test]
    fn checksums_of_each_algorithm() {
        let l = layout(0).unwrap();
        let mut p = page(16384, 0x1_0000_0005);
        let n = p.len();
        p[n - 4..].copy_from_slice(&5u32.to_be_bytes());
        let crc = crc32_checksum(&p);
        p[..4].copy_from_slice(&crc.to_be_bytes());
        p[n - 8..n - 4].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(verify(&p, &l), PageVerdict::Ok);
        p[200] = 1;
        assert!(matches!(verify(&p, &l), PageVerdict::Corrupt(_)));

        let mut p = page(16384, 9);
        p[n - 4..].copy_from_slice(&9u32.to_be_bytes());
        let (new, _) = innodb_checksums(&p);
        p[..4].copy_from_slice(&new.to_be_bytes());
        // The old checksum covers the new one, so it is computed after it.
        let (_, old) = innodb_checksums(&p);
        p[n - 8..n - 4].copy_from_slice(&old.to_be_bytes());
        assert_eq!(verify(&p, &l), PageVerdict::Ok);

        let fl = layout(0x15).unwrap();
        let mut p = page(16384, 77);
        p[n - 8..n - 4].copy_from_slice(&77u32.to_be_bytes());
        let c = crc32c::crc32c(&p[..n - 4]);
        p[n - 4..].copy_from_slice(&c.to_be_bytes());
        assert_eq!(verify(&p, &fl), PageVerdict::Ok);
        p[n - 8] ^= 1;
        assert!(matches!(verify(&p, &fl), PageVerdict::Corrupt(_)));

        assert_eq!(verify(&vec![0u8; 16384], &l), PageVerdict::Empty);
    }

    /// A page whose checksum fails and whose word at 26 is not zero is an
    /// encrypted page only in a tablespace page 0 calls encrypted; a torn
    /// one is torn either way.
    #[test]
    fn encrypted_pages_are_told_by_page_0_and_torn_pages_always_are() {
        let mut p = page(16384, 9);
        let n = p.len();
        p[n - 4..].copy_from_slice(&9u32.to_be_bytes());
        p[26..30].copy_from_slice(&7u32.to_be_bytes()); // a key version
        p[0] = 0x55; // and a checksum over bytes this tool cannot see
        let plain = layout(0).unwrap();
        assert!(matches!(verify(&p, &plain), PageVerdict::Corrupt(_)));
        let mut page0 = vec![0u8; 16384];
        let at = crypt_data_offset(16384);
        assert_eq!(at, 38 + 112 + 40 * 256, "MariaDB's offset for 16 KiB pages");
        page0[at..at + 6].copy_from_slice(&CRYPT_MAGIC);
        page0[at + 6] = CRYPT_SCHEME_1;
        assert!(mariadb_encrypted(&page0));
        let encrypted = Layout {
            encrypted: true,
            ..plain
        };
        assert_eq!(verify(&p, &encrypted), PageVerdict::NotJudged);
        p[n - 4..].copy_from_slice(&8u32.to_be_bytes());
        let PageVerdict::Corrupt(why) = verify(&p, &encrypted) else {
            panic!("a torn page was not judged");
        };
        assert!(why.contains("torn"), "{why}");
        // The scheme byte says "unencrypted" (a table being converted).
        page0[at + 6] = 0;
        assert!(!mariadb_encrypted(&page0));
        assert!(layout(1 << 13).unwrap().encrypted);
    }
}
