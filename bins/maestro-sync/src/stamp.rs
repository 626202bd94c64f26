//! Whether a btrfs generation is unchanged since it was made current,
//! without walking it.
//!
//! btrfs numbers its transactions, file system wide and only upwards. A
//! subvolume's root item carries the number of the last transaction that
//! changed anything in it (`generation`: every write, `chmod`, rename,
//! unlink, even an atime update, changes the subvolume's tree) and of the
//! last change of an inode in it (`ctransid`). Once every change is
//! committed (`syncfs`), both are final for what happened before: read
//! again later, equal numbers (and the same subvolume UUID) mean nothing in
//! that subvolume changed in between. A change not yet committed when the
//! stamp is read can only make the numbers move later, never hide: the
//! comparison then fails and the walk runs, as it did always.
//!
//! The stamp of the current generation is written next to the generations
//! (`.current-stamp`, outside every generation's subvolume: writing it
//! changes none of them) after the generation was verified and made
//! current. The next run compares current's stamp with it before it
//! compares current with its manifest, and skips that walk when they are
//! equal. Anything else (no record, another generation named, another
//! subvolume, a number moved, not btrfs) is "unknown": the walk runs.
//!
//! The staging subvolume's stamp, with its read-only flag, is kept the same
//! way (`.staging-stamp`) when it is kept for the next run (see
//! [`crate::generations`]).

use serde::{Deserialize, Serialize};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Where the stamp of the current generation is kept, in the
/// generations folder.
pub const STAMP_FILE: &str = ".current-stamp";
/// Where the stamp of the staging subvolume is kept (see
/// [`crate::generations::STAGING`]); its `generation` is the one it was
/// the last partial generation of.
pub const STAGING_STAMP_FILE: &str = ".staging-stamp";

/// `BTRFS_IOC_GET_SUBVOL_INFO` (linux/btrfs.h): `_IOR(0x94, 60, struct
/// btrfs_ioctl_get_subvol_info_args)`, 504 bytes; any user may ask it of
/// a subvolume's root folder (Linux 4.18 and later).
const GET_SUBVOL_INFO: libc::c_ulong = 0x81F8_943C;
const INFO_SIZE: usize = 504;
const OFFSET_GENERATION: usize = 280;
const OFFSET_FLAGS: usize = 288;
const OFFSET_UUID: usize = 296;
/// `BTRFS_ROOT_SUBVOL_RDONLY`, the root item's flag that the subvolume
/// information reports (the flag ioctls call it `BTRFS_SUBVOL_RDONLY`,
/// another bit).
pub const READ_ONLY: u64 = 1 << 0;
const OFFSET_CTRANSID: usize = 344;

/// A subvolume's last-change numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The generation (its name) the stamp is of.
    pub generation: String,
    /// The subvolume's UUID, hex.
    pub uuid: String,
    /// The last transaction that changed the subvolume.
    pub transid: u64,
    /// The last transaction that changed an inode in it.
    pub ctransid: u64,
    /// The subvolume's flags ([`READ_ONLY`]): setting or clearing them
    /// moves neither number. Absent from records of older releases (0, as
    /// a writable subvolume's).
    #[serde(default)]
    pub flags: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The stamp of the subvolume at `dir` (its root folder) as its file
/// system last committed it; `None` when `dir` is not the root of a btrfs
/// subvolume or the file system does not say. Right after a `syncfs` of
/// that file system, it covers every change made before.
pub fn committed(generation: &str, dir: &Path) -> Option<Stamp> {
    if !crate::generations::is_subvolume(dir) {
        return None;
    }
    let f = std::fs::File::open(dir).ok()?;
    let mut info = [0u8; INFO_SIZE];
    // SAFETY: the ioctl writes at most INFO_SIZE bytes into the buffer we
    // own, of that size, on a descriptor we own.
    // It answers 0 or, from its tree search, 1 on success.
    if unsafe { libc::ioctl(f.as_raw_fd(), GET_SUBVOL_INFO, info.as_mut_ptr()) } < 0 {
        return None;
    }
    let uuid: String = info[OFFSET_UUID..OFFSET_UUID + 16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(Stamp {
        generation: generation.to_string(),
        uuid,
        transid: u64_at(&info, OFFSET_GENERATION),
        ctransid: u64_at(&info, OFFSET_CTRANSID),
        flags: u64_at(&info, OFFSET_FLAGS),
    })
}

/// Commits every change on the file system of `dir` (`syncfs`).
fn commit(dir: &Path) -> bool {
    let Ok(f) = std::fs::File::open(dir) else {
        return false;
    };
    // SAFETY: syncfs on a descriptor we own.
    unsafe { libc::syncfs(f.as_raw_fd()) == 0 }
}

/// Records `stamp` in `file` of the generations folder (replacing the
/// record).
pub fn record(generations: &Path, file: &str, stamp: &Stamp) -> std::io::Result<()> {
    let tmp = generations.join(format!("{file}.tmp"));
    let text = serde_json::to_vec(stamp).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, generations.join(file))
}

/// Removes the record in `file`, if there is one.
pub fn forget(generations: &Path, file: &str) {
    let _ = std::fs::remove_file(generations.join(file));
}

/// The stamp recorded in `file`, if any can be read (a record is about
/// 100 bytes; anything longer than 4 KiB is not one).
pub fn recorded(generations: &Path, file: &str) -> Option<Stamp> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(generations.join(file))
        .ok()?
        .take(4096)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// Whether the subvolume at `dir`, recorded in `file` for generation
/// `id`, is unchanged since: `Some(stamp)` when it is (the same
/// subvolume, both numbers equal), `None` when that cannot be shown.
pub fn unchanged(generations: &Path, file: &str, id: &str, dir: &Path) -> Option<Stamp> {
    let was = recorded(generations, file)?;
    if was.generation != id {
        return None;
    }
    let now = now(id, dir)?;
    (now == was).then_some(now)
}

/// The stamp of the subvolume at `dir` with every change committed first,
/// so that a change not yet on disk shows too.
pub fn now(generation: &str, dir: &Path) -> Option<Stamp> {
    if !commit(dir) {
        return None;
    }
    committed(generation, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(generation: &str) -> Stamp {
        Stamp {
            generation: generation.into(),
            uuid: "00".repeat(16),
            transid: 7,
            ctransid: 7,
            flags: 0,
        }
    }

    #[test]
    fn a_record_is_read_back_and_a_bad_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(recorded(dir.path(), STAMP_FILE), None);
        record(dir.path(), STAMP_FILE, &stamp("20261126T013000.081Z")).unwrap();
        assert_eq!(
            recorded(dir.path(), STAMP_FILE),
            Some(stamp("20261126T013000.081Z"))
        );
        // Each record has its file.
        assert_eq!(recorded(dir.path(), STAGING_STAMP_FILE), None);
        std::fs::write(dir.path().join(STAMP_FILE), "{\"generation\":").unwrap();
        assert_eq!(recorded(dir.path(), STAMP_FILE), None);
        record(dir.path(), STAGING_STAMP_FILE, &stamp("x")).unwrap();
        forget(dir.path(), STAGING_STAMP_FILE);
        assert_eq!(recorded(dir.path(), STAGING_STAMP_FILE), None);
    }

    #[test]
    fn without_btrfs_or_a_matching_record_nothing_is_shown_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let id = "20261126T013000.081Z";
        let gen = dir.path().join(id);
        std::fs::create_dir(&gen).unwrap();
        // Not a subvolume (not even on btrfs here, or inode other than 256).
        assert_eq!(committed(id, &gen), None);
        record(dir.path(), STAMP_FILE, &stamp(id)).unwrap();
        assert_eq!(unchanged(dir.path(), STAMP_FILE, id, &gen), None);
        // A record of another generation is never taken.
        assert_eq!(
            unchanged(dir.path(), STAMP_FILE, "20261126T014500.007Z", &gen),
            None
        );
    }
}
