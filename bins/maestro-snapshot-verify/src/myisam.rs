//! MyISAM index headers: a `.MYI` whose open count is not zero was copied
//! while the server had the table open (or after a crash), so its index may
//! not match its data file.
//!
//! The header starts with the magic `FE FE 07 01` and 20 more bytes of
//! base information; the state follows at 24: the open count (2 bytes,
//! big-endian), then the `changed` flags (1 byte: 2 = crashed).

use maestro_common::fsio;
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    Closed,
    Open { open_count: u16, crashed: bool },
    NotMyisam,
}

/// Reads the state header; a FIFO or a device in place of the index is an
/// error at once, never waited on.
pub fn read_state(path: &Path) -> Result<IndexState, String> {
    let mut head = [0u8; 27];
    let mut f = fsio::open_regular(path).map_err(|e| e.to_string())?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if n < head.len() || head[..4] != [0xFE, 0xFE, 0x07, 0x01] {
        return Ok(IndexState::NotMyisam);
    }
    let open_count = u16::from_be_bytes([head[24], head[25]]);
    let crashed = head[26] & 2 != 0;
    Ok(if open_count == 0 && !crashed {
        IndexState::Closed
    } else {
        IndexState::Open {
            open_count,
            crashed,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_count_and_crash_flag() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.MYI");
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&[0xFE, 0xFE, 0x07, 0x01]);
        std::fs::write(&p, &h).unwrap();
        assert_eq!(read_state(&p).unwrap(), IndexState::Closed);
        h[25] = 1;
        std::fs::write(&p, &h).unwrap();
        assert_eq!(
            read_state(&p).unwrap(),
            IndexState::Open {
                open_count: 1,
                crashed: false
            }
        );
        h[25] = 0;
        h[26] = 2;
        std::fs::write(&p, &h).unwrap();
        assert_eq!(
            read_state(&p).unwrap(),
            IndexState::Open {
                open_count: 0,
                crashed: true
            }
        );
        std::fs::write(&p, b"short").unwrap();
        assert_eq!(read_state(&p).unwrap(), IndexState::NotMyisam);
    }
}
