//! The mount table (`/proc/self/mountinfo`), read to find where a volume
//! is mounted (an LVM volume's or a ZFS dataset's mount point) and whether
//! a folder is a mount point.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the mounted device.
    pub device: (u64, u64),
    pub mount_point: PathBuf,
    pub fs_type: String,
    /// What was mounted: `/dev/mapper/vg0-maestro`, `tank/maestro`.
    pub source: String,
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rest: Vec<&str> = right.split(' ').collect();
        if fields.len() < 5 || rest.len() < 2 {
            continue;
        }
        let Some((maj, min)) = fields[2].split_once(':') else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse(), min.parse()) else {
            continue;
        };
        mounts.push(Mount {
            device: (maj, min),
            mount_point: PathBuf::from(unescape(fields[4])),
            fs_type: rest[0].to_string(),
            source: unescape(rest[1]),
        });
    }
    mounts
}

/// The mounts of this process's namespace.
pub fn current() -> Vec<Mount> {
    maestro_common::fsio::read_regular_to_string(
        Path::new("/proc/self/mountinfo"),
        16 * maestro_common::fsio::MIB,
    )
    .map(|t| parse(&t))
    .unwrap_or_default()
}

/// The mount `path` lies on: the last mounted one whose mount point is the
/// longest prefix of it.
pub fn containing<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (m.mount_point.components().count(), *i))
        .map(|(_, m)| m)
}

pub fn is_mount_point(mounts: &[Mount], path: &Path) -> bool {
    mounts.iter().any(|m| m.mount_point == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 253:3 / /srv/maestro rw,noatime shared:20 - xfs /dev/mapper/vg0-maestro rw,attr2
37 22 0:51 / /tank/maestro rw shared:21 - zfs tank/maestro rw,xattr
38 22 0:52 / /mnt/with\\040space rw - tmpfs tmpfs rw
bad line
";

    #[test]
    fn reads_mount_points_devices_and_sources() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].device, (253, 3));
        assert_eq!(m[1].source, "/dev/mapper/vg0-maestro");
        assert_eq!(m[3].mount_point, Path::new("/mnt/with space"));
        let c = containing(&m, Path::new("/srv/maestro/lui/jobs")).unwrap();
        assert_eq!(c.mount_point, Path::new("/srv/maestro"));
        let c = containing(&m, Path::new("/srv/other")).unwrap();
        assert_eq!(c.mount_point, Path::new("/"));
        assert!(is_mount_point(&m, Path::new("/tank/maestro")));
        assert!(!is_mount_point(&m, Path::new("/tank")));
    }
}
