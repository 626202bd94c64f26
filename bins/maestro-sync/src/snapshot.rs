//! The point in time on the sending server: what `[sync] snapshot` makes
//! of the source, planned as commands (so a dry run and the tests can show
//! them), then taken and released.
//!
//! - `btrfs`: a read-only snapshot of the subvolume holding the source
//!   (`btrfs subvolume snapshot -r`), in `snapshot_dir` on the same file
//!   system; removed with `btrfs subvolume delete`.
//! - `zfs`: `zfs snapshot DATASET@maestro-sync`, read through the
//!   dataset's `.zfs/snapshot/maestro-sync`; removed with `zfs destroy`.
//! - `lvm`: `lvcreate --snapshot` of the volume (thin, or classic with a
//!   size), mounted read-only on `snapshot_dir`; unmounted and removed with
//!   `lvremove`. LVM suspends the volume's file system while it snapshots.
//! - `command`: the admin's quiesce command, a local copy of the source
//!   into `snapshot_dir` (rsync, or `copy_command`), the unquiesce command.
//! - `none` (`--no-snapshot`): the live source; not a point in time.
//!
//! The quiesce and unquiesce hooks bracket the snapshot of every kind, and
//! the unquiesce hook runs whenever the quiesce hook ran. The snapshot has
//! one fixed name, so one left by a killed run is found and removed first.

use crate::proc::{self, ProcError, Spec};
use crate::settings::Settings;
use maestro_common::config::SyncSnapshot;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The name of the snapshot (btrfs subvolume, ZFS snapshot, LVM volume).
pub const NAME: &str = "maestro-sync";

/// A leftover of an earlier run, removed before a new snapshot is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Removed when the path exists.
    IfExists(PathBuf, Spec),
    /// Removed when the path is a mount point.
    IfMounted(PathBuf, Spec),
    /// Removed when the probe command succeeds.
    IfProbe(Spec, Spec),
}

/// What taking and releasing the point in time runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: SyncSnapshot,
    /// The source, its links resolved.
    pub source: PathBuf,
    /// Where the source's data is seen once the snapshot is taken.
    pub data: PathBuf,
    pub stale: Vec<Stale>,
    pub quiesce: Option<Spec>,
    pub create: Vec<Spec>,
    pub unquiesce: Option<Spec>,
    pub release: Vec<Spec>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl Plan {
    /// Every command in the order a run uses them, for a dry run.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.stale {
            out.push(match s {
                Stale::IfExists(p, c) => format!("if {} exists: {}", p.display(), c.display()),
                Stale::IfMounted(p, c) => format!("if {} is mounted: {}", p.display(), c.display()),
                Stale::IfProbe(probe, c) => {
                    format!("if `{}` succeeds: {}", probe.display(), c.display())
                }
            });
        }
        if let Some(q) = &self.quiesce {
            out.push(format!("quiesce: {}", q.display()));
        }
        for c in &self.create {
            out.push(format!("take: {}", c.display()));
        }
        if let Some(q) = &self.unquiesce {
            out.push(format!("unquiesce: {}", q.display()));
        }
        out.push(format!("read: {}", self.data.display()));
        for c in &self.release {
            out.push(format!("release: {}", c.display()));
        }
        out
    }
}

/// What the file system tells about the source, for a plan. Found by
/// [`Facts::detect`]; a test gives them.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// btrfs: the subvolume holding the source.
    pub subvolume: Option<PathBuf>,
    /// lvm and zfs: where the volume is mounted.
    pub mountpoint: Option<PathBuf>,
}

impl Facts {
    /// Reads what `kind` needs that the settings do not say.
    pub fn detect(
        settings: &Settings,
        kind: SyncSnapshot,
        source: &Path,
    ) -> Result<Facts, PlanError> {
        let mut f = Facts::default();
        match kind {
            SyncSnapshot::Btrfs => {
                f.subvolume = Some(match &settings.btrfs_subvolume {
                    Some(s) => s.clone(),
                    None => btrfs_subvolume_of(source)?,
                });
            }
            SyncSnapshot::Zfs | SyncSnapshot::Lvm => {
                f.mountpoint = Some(match &settings.volume_mountpoint {
                    Some(m) => m.clone(),
                    None => {
                        let mounts = crate::mounts::current();
                        let m = crate::mounts::containing(&mounts, source).ok_or_else(|| {
                            PlanError(format!(
                                "no mount holds {}; set sync.volume_mountpoint",
                                source.display()
                            ))
                        })?;
                        let expected = match kind {
                            SyncSnapshot::Zfs => settings.zfs_dataset.clone().unwrap_or_default(),
                            _ => settings.lvm_volume.clone().unwrap_or_default(),
                        };
                        let fits = match kind {
                            SyncSnapshot::Zfs => m.fs_type == "zfs" && m.source == expected,
                            _ => lvm_device_matches(&expected, m.device),
                        };
                        if !fits {
                            return Err(PlanError(format!(
                                "{} lies on {} ({} on {}), not on {expected}; set sync.volume_mountpoint if that is wrong",
                                source.display(),
                                m.mount_point.display(),
                                m.fs_type,
                                m.source
                            )));
                        }
                        m.mount_point.clone()
                    }
                });
            }
            SyncSnapshot::Command | SyncSnapshot::None => {}
        }
        Ok(f)
    }
}

/// The device numbers of `/dev/VG/LV`.
fn lvm_device_matches(volume: &str, device: (u64, u64)) -> bool {
    let path = PathBuf::from("/dev").join(volume);
    match std::fs::metadata(&path) {
        Ok(m) => {
            let rdev = m.rdev();
            (libc::major(rdev) as u64, libc::minor(rdev) as u64) == device
        }
        Err(_) => false,
    }
}

/// The btrfs subvolume holding `path`: the highest folder above it on the
/// same device whose inode is 256 (every subvolume's root has that inode
/// and a device number of its own).
pub fn btrfs_subvolume_of(path: &Path) -> Result<PathBuf, PlanError> {
    let meta =
        std::fs::metadata(path).map_err(|e| PlanError(format!("{}: {e}", path.display())))?;
    let dev = meta.dev();
    let mut found = None;
    for dir in path.ancestors() {
        match std::fs::metadata(dir) {
            Ok(m) if m.dev() == dev => {
                if m.ino() == 256 {
                    found = Some(dir.to_path_buf());
                }
            }
            _ => break,
        }
    }
    found.ok_or_else(|| {
        PlanError(format!(
            "{} is not on a btrfs subvolume (no folder above it with inode 256 on its device); set sync.btrfs_subvolume",
            path.display()
        ))
    })
}

fn relative<'a>(source: &'a Path, base: &Path, key: &str) -> Result<&'a Path, PlanError> {
    source.strip_prefix(base).map_err(|_| {
        PlanError(format!(
            "the source {} does not lie in {} ({key})",
            source.display(),
            base.display()
        ))
    })
}

fn hook(line: &str, source: &Path) -> Spec {
    Spec::shell(line).env("MAESTRO_SYNC_SOURCE", &source.display().to_string())
}

/// The commands of one run's point in time. `source` is the source with
/// its links resolved.
pub fn plan(
    settings: &Settings,
    kind: SyncSnapshot,
    source: &Path,
    facts: &Facts,
) -> Result<Plan, PlanError> {
    let missing = |key: &str| PlanError(format!("{key} is not set"));
    let mut p = Plan {
        kind,
        source: source.to_path_buf(),
        data: source.to_path_buf(),
        stale: Vec::new(),
        quiesce: settings.quiesce.as_deref().map(|q| hook(q, source)),
        create: Vec::new(),
        unquiesce: settings.unquiesce.as_deref().map(|q| hook(q, source)),
        release: Vec::new(),
    };
    match kind {
        SyncSnapshot::None => {
            // No hooks either: nothing is frozen, and nothing should pause.
            p.quiesce = None;
            p.unquiesce = None;
        }
        SyncSnapshot::Btrfs => {
            let subvolume = facts
                .subvolume
                .as_deref()
                .ok_or_else(|| missing("sync.btrfs_subvolume"))?;
            let dir = settings
                .snapshot_dir
                .as_deref()
                .ok_or_else(|| missing("sync.snapshot_dir"))?;
            let snap = dir.join(NAME);
            let rel = relative(source, subvolume, "sync.btrfs_subvolume")?;
            let delete = Spec::new(
                "btrfs",
                [
                    "subvolume".into(),
                    "delete".into(),
                    snap.clone().into_os_string(),
                ],
            );
            p.stale.push(Stale::IfExists(snap.clone(), delete.clone()));
            p.create.push(Spec::new(
                "btrfs",
                [
                    "subvolume".into(),
                    "snapshot".into(),
                    "-r".into(),
                    subvolume.as_os_str().to_owned(),
                    snap.clone().into_os_string(),
                ],
            ));
            p.data = snap.join(rel);
            p.release.push(delete);
        }
        SyncSnapshot::Zfs => {
            let dataset = settings
                .zfs_dataset
                .as_deref()
                .ok_or_else(|| missing("sync.zfs_dataset"))?;
            let mountpoint = facts
                .mountpoint
                .as_deref()
                .ok_or_else(|| missing("sync.volume_mountpoint"))?;
            let rel = relative(source, mountpoint, "sync.volume_mountpoint")?;
            let name = format!("{dataset}@{NAME}");
            let destroy = Spec::new("zfs", ["destroy", name.as_str()]);
            p.stale.push(Stale::IfProbe(
                Spec::new(
                    "zfs",
                    ["list", "-H", "-t", "snapshot", "-o", "name", name.as_str()],
                ),
                destroy.clone(),
            ));
            p.create.push(Spec::new("zfs", ["snapshot", name.as_str()]));
            p.data = mountpoint.join(".zfs/snapshot").join(NAME).join(rel);
            p.release.push(destroy);
        }
        SyncSnapshot::Lvm => {
            let volume = settings
                .lvm_volume
                .as_deref()
                .ok_or_else(|| missing("sync.lvm_volume"))?;
            let (vg, _) = volume
                .split_once('/')
                .ok_or_else(|| missing("sync.lvm_volume as VG/LV"))?;
            let mountpoint = facts
                .mountpoint
                .as_deref()
                .ok_or_else(|| missing("sync.volume_mountpoint"))?;
            let dir = settings
                .snapshot_dir
                .as_deref()
                .ok_or_else(|| missing("sync.snapshot_dir"))?;
            let rel = relative(source, mountpoint, "sync.volume_mountpoint")?;
            let snap_lv = format!("{vg}/{NAME}");
            let umount = Spec::new("umount", [dir.as_os_str()]);
            let remove = Spec::new("lvremove", ["-f", snap_lv.as_str()]);
            p.stale
                .push(Stale::IfMounted(dir.to_path_buf(), umount.clone()));
            p.stale.push(Stale::IfProbe(
                Spec::new("lvs", ["--noheadings", "-o", "lv_name", snap_lv.as_str()]),
                remove.clone(),
            ));
            let mut create: Vec<String> = vec!["--snapshot".into(), "--name".into(), NAME.into()];
            match &settings.lvm_snapshot_size {
                // A classic snapshot: copy-on-write space of its own.
                Some(size) => create.extend(["--size".into(), size.clone()]),
                // A thin snapshot is made "skip activation"; this one must
                // be active to be mounted.
                None => create.extend(["--setactivationskip".into(), "n".into()]),
            }
            create.push(volume.to_string());
            p.create.push(Spec::new("lvcreate", create));
            p.create.push(Spec::new(
                "mount",
                [
                    "-o".into(),
                    settings.lvm_mount_options.clone().into(),
                    format!("/dev/{snap_lv}").into(),
                    dir.as_os_str().to_owned(),
                ],
            ));
            p.data = dir.join(rel);
            p.release.push(umount);
            p.release.push(remove);
        }
        SyncSnapshot::Command => {
            let dir = settings
                .snapshot_dir
                .as_deref()
                .ok_or_else(|| missing("sync.snapshot_dir"))?;
            let copy = match &settings.copy_command {
                Some(line) => {
                    hook(line, source).env("MAESTRO_SYNC_COPY", &dir.display().to_string())
                }
                None => {
                    let mut args: Vec<String> =
                        vec!["-a".into(), "--delete".into(), "--delete-excluded".into()];
                    args.extend(settings.rsync_options.iter().cloned());
                    args.extend(crate::transfer::exclude_args(&settings.exclude));
                    args.push(format!("{}/", source.display()));
                    args.push(format!("{}/", dir.display()));
                    Spec::new(&settings.rsync, args)
                }
            };
            p.create.push(copy);
            p.data = dir.to_path_buf();
        }
    }
    Ok(p)
}

/// One command that ran, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ran {
    pub what: String,
    pub command: String,
    pub outcome: String,
    pub elapsed_ms: u64,
}

/// A point in time, taken.
#[derive(Debug)]
pub struct Taken {
    pub plan: Plan,
    /// When it was taken (ns since the epoch): just before the snapshot
    /// command ran, so the point in time is never later than this.
    pub taken_at_ns: i64,
    pub ran: Vec<Ran>,
    /// The unquiesce hook failed: the writers may still be paused.
    pub unquiesce_failed: Option<String>,
    released: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TakeError {
    pub message: String,
    pub ran: Vec<Ran>,
}

fn run_step(what: &str, spec: &Spec, timeout: Duration, ran: &mut Vec<Ran>) -> Result<(), String> {
    let started = Instant::now();
    let result = proc::run(spec, timeout, None);
    let (outcome, err) = match &result {
        Ok(f) if f.success() => ("ok".to_string(), None),
        Ok(f) => (
            f.how(),
            Some(format!(
                "{what} failed ({}): {}: {}",
                f.how(),
                spec.display(),
                f.tail()
            )),
        ),
        Err(e @ ProcError::Timeout { .. }) => ("timeout".into(), Some(format!("{what}: {e}"))),
        Err(e) => ("error".into(), Some(format!("{what}: {e}"))),
    };
    ran.push(Ran {
        what: what.to_string(),
        command: spec.display(),
        outcome,
        elapsed_ms: started.elapsed().as_millis() as u64,
    });
    match err {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Takes the point in time: leftovers removed, the quiesce hook, the
/// snapshot, the unquiesce hook. What was made is removed again when a
/// step fails.
pub fn take(plan: Plan, settings: &Settings, copy_timeout: Duration) -> Result<Taken, TakeError> {
    let mut ran = Vec::new();
    let fail = |message: String, ran: Vec<Ran>| Err(TakeError { message, ran });
    let mounts = crate::mounts::current();
    for s in &plan.stale {
        let (due, spec) = match s {
            Stale::IfExists(p, c) => (std::fs::symlink_metadata(p).is_ok(), c),
            Stale::IfMounted(p, c) => (crate::mounts::is_mount_point(&mounts, p), c),
            Stale::IfProbe(probe, c) => (
                proc::run(probe, settings.command_timeout, None).is_ok_and(|f| f.success()),
                c,
            ),
        };
        if due {
            if let Err(e) = run_step(
                "remove the snapshot an earlier run left",
                spec,
                settings.command_timeout,
                &mut ran,
            ) {
                return fail(e, ran);
            }
        }
    }
    let mut quiesced = false;
    if let Some(q) = &plan.quiesce {
        quiesced = true;
        if let Err(e) = run_step("quiesce", q, settings.hook_timeout, &mut ran) {
            // It may have paused some writers before it failed.
            let _ = plan
                .unquiesce
                .as_ref()
                .map(|u| run_step("unquiesce", u, settings.hook_timeout, &mut ran));
            return fail(e, ran);
        }
    }
    let taken_at_ns = maestro_snapshot_verify::time::now_ns();
    let mut created = Ok(());
    for c in &plan.create {
        let timeout = if plan.kind == SyncSnapshot::Command {
            copy_timeout
        } else {
            settings.command_timeout
        };
        if let Err(e) = run_step("take the snapshot", c, timeout, &mut ran) {
            created = Err(e);
            break;
        }
    }
    let mut unquiesce_failed = None;
    if quiesced {
        if let Some(u) = &plan.unquiesce {
            if let Err(e) = run_step("unquiesce", u, settings.hook_timeout, &mut ran) {
                unquiesce_failed = Some(e);
            }
        }
    }
    let mut taken = Taken {
        plan,
        taken_at_ns,
        ran,
        unquiesce_failed,
        released: false,
    };
    if let Err(e) = created {
        let _ = taken.release(settings);
        let message = match &taken.unquiesce_failed {
            Some(u) => format!("{e}; and {u}"),
            None => e,
        };
        return fail(message, std::mem::take(&mut taken.ran));
    }
    if !taken.plan.data.is_dir() {
        let message = format!(
            "the snapshot holds no folder {} (the source in the snapshot)",
            taken.plan.data.display()
        );
        let _ = taken.release(settings);
        return fail(message, std::mem::take(&mut taken.ran));
    }
    Ok(taken)
}

impl Taken {
    /// Removes the snapshot (every release command is tried).
    pub fn release(&mut self, settings: &Settings) -> Result<(), String> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        let mut first_error = None;
        for c in self.plan.release.clone() {
            if let Err(e) = run_step(
                "release the snapshot",
                &c,
                settings.command_timeout,
                &mut self.ran,
            ) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    pub fn point_in_time(&self) -> bool {
        self.plan.kind != SyncSnapshot::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        let c = maestro_common::config::LoadedConfig::from_text(
            &format!("[site]\ninstall_root = \"/srv/maestro/app\"\n{text}"),
            Path::new("c.toml"),
        )
        .unwrap();
        Settings::resolve(&c).unwrap()
    }

    fn lines(p: &Plan) -> String {
        p.lines().join("\n")
    }

    #[test]
    fn btrfs_snapshots_the_subvolume_read_only() {
        let s = settings("[sync]\nsnapshot = \"btrfs\"\nsnapshot_dir = \"/srv/.snapshots\"\nquiesce_command = \"sync\"\nunquiesce_command = \"true\"\n");
        let facts = Facts {
            subvolume: Some("/srv/maestro".into()),
            mountpoint: None,
        };
        let p = plan(
            &s,
            SyncSnapshot::Btrfs,
            Path::new("/srv/maestro/app"),
            &facts,
        )
        .unwrap();
        assert_eq!(p.data, Path::new("/srv/.snapshots/maestro-sync/app"));
        assert_eq!(
            lines(&p),
            "if /srv/.snapshots/maestro-sync exists: btrfs subvolume delete /srv/.snapshots/maestro-sync\n\
             quiesce: MAESTRO_SYNC_SOURCE=/srv/maestro/app sh -c sync\n\
             take: btrfs subvolume snapshot -r /srv/maestro /srv/.snapshots/maestro-sync\n\
             unquiesce: MAESTRO_SYNC_SOURCE=/srv/maestro/app sh -c true\n\
             read: /srv/.snapshots/maestro-sync/app\n\
             release: btrfs subvolume delete /srv/.snapshots/maestro-sync"
        );
        let outside = Facts {
            subvolume: Some("/data".into()),
            mountpoint: None,
        };
        let e = plan(
            &s,
            SyncSnapshot::Btrfs,
            Path::new("/srv/maestro/app"),
            &outside,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not lie in /data"), "{e}");
    }

    #[test]
    fn zfs_reads_the_snapshot_through_its_dot_zfs_folder() {
        let s = settings("[sync]\nsnapshot = \"zfs\"\nzfs_dataset = \"tank/maestro\"\n");
        let facts = Facts {
            subvolume: None,
            mountpoint: Some("/srv/maestro".into()),
        };
        let p = plan(&s, SyncSnapshot::Zfs, Path::new("/srv/maestro/app"), &facts).unwrap();
        assert_eq!(
            lines(&p),
            "if `zfs list -H -t snapshot -o name tank/maestro@maestro-sync` succeeds: zfs destroy tank/maestro@maestro-sync\n\
             take: zfs snapshot tank/maestro@maestro-sync\n\
             read: /srv/maestro/.zfs/snapshot/maestro-sync/app\n\
             release: zfs destroy tank/maestro@maestro-sync"
        );
    }

    #[test]
    fn lvm_thin_and_classic_snapshots_are_mounted_read_only() {
        let facts = Facts {
            subvolume: None,
            mountpoint: Some("/srv/maestro".into()),
        };
        let thin = settings("[sync]\nsnapshot = \"lvm\"\nlvm_volume = \"vg0/maestro\"\nsnapshot_dir = \"/mnt/maestro-sync\"\n");
        let p = plan(
            &thin,
            SyncSnapshot::Lvm,
            Path::new("/srv/maestro/app"),
            &facts,
        )
        .unwrap();
        assert_eq!(
            lines(&p),
            "if /mnt/maestro-sync is mounted: umount /mnt/maestro-sync\n\
             if `lvs --noheadings -o lv_name vg0/maestro-sync` succeeds: lvremove -f vg0/maestro-sync\n\
             take: lvcreate --snapshot --name maestro-sync --setactivationskip n vg0/maestro\n\
             take: mount -o ro /dev/vg0/maestro-sync /mnt/maestro-sync\n\
             read: /mnt/maestro-sync/app\n\
             release: umount /mnt/maestro-sync\n\
             release: lvremove -f vg0/maestro-sync"
        );
        let classic = settings("[sync]\nsnapshot = \"lvm\"\nlvm_volume = \"vg0/maestro\"\nlvm_snapshot_size = \"2G\"\nlvm_mount_options = \"ro,nouuid\"\nsnapshot_dir = \"/mnt/maestro-sync\"\n");
        let p = plan(
            &classic,
            SyncSnapshot::Lvm,
            Path::new("/srv/maestro/app"),
            &facts,
        )
        .unwrap();
        let l = lines(&p);
        assert!(
            l.contains("take: lvcreate --snapshot --name maestro-sync --size 2G vg0/maestro"),
            "{l}"
        );
        assert!(
            l.contains("take: mount -o ro,nouuid /dev/vg0/maestro-sync /mnt/maestro-sync"),
            "{l}"
        );
    }

    #[test]
    fn command_copies_between_the_hooks_and_none_runs_nothing() {
        let s = settings("[sync]\nsnapshot = \"command\"\nsnapshot_dir = \"/srv/stage\"\nexclude = [\"logs\", \"lui/temp\"]\nquiesce_command = \"maestro-pause\"\nunquiesce_command = \"maestro-resume\"\n");
        let p = plan(
            &s,
            SyncSnapshot::Command,
            Path::new("/srv/maestro/app"),
            &Facts::default(),
        )
        .unwrap();
        assert_eq!(
            lines(&p),
            "quiesce: MAESTRO_SYNC_SOURCE=/srv/maestro/app sh -c maestro-pause\n\
             take: rsync -a --delete --delete-excluded --exclude=logs --exclude=/lui/temp /srv/maestro/app/ /srv/stage/\n\
             unquiesce: MAESTRO_SYNC_SOURCE=/srv/maestro/app sh -c maestro-resume\n\
             read: /srv/stage"
        );
        let p = plan(
            &s,
            SyncSnapshot::None,
            Path::new("/srv/maestro/app"),
            &Facts::default(),
        )
        .unwrap();
        assert_eq!(lines(&p), "read: /srv/maestro/app");
        let reflink = settings("[sync]\nsnapshot = \"command\"\nsnapshot_dir = \"/srv/stage\"\ncopy_command = \"cp -a --reflink=always $MAESTRO_SYNC_SOURCE/. $MAESTRO_SYNC_COPY\"\n");
        let p = plan(
            &reflink,
            SyncSnapshot::Command,
            Path::new("/srv/maestro/app"),
            &Facts::default(),
        )
        .unwrap();
        assert!(
            lines(&p).contains(
                "take: MAESTRO_SYNC_SOURCE=/srv/maestro/app MAESTRO_SYNC_COPY=/srv/stage sh -c"
            ),
            "{}",
            lines(&p)
        );
    }

    #[test]
    fn a_failed_snapshot_runs_the_unquiesce_hook_and_removes_nothing_it_did_not_make() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let s = settings(&format!(
            "[sync]\nsnapshot = \"command\"\nsnapshot_dir = \"{stage}\"\nquiesce_command = \"echo quiesce >> {log}\"\nunquiesce_command = \"echo unquiesce >> {log}\"\ncopy_command = \"echo copy >> {log}; exit 7\"\n",
            stage = dir.path().join("stage").display(),
            log = log.display()
        ));
        let p = plan(&s, SyncSnapshot::Command, dir.path(), &Facts::default()).unwrap();
        let e = take(p, &s, Duration::from_secs(10)).unwrap_err();
        assert!(
            e.message.contains("take the snapshot failed (exit 7)"),
            "{}",
            e.message
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "quiesce\ncopy\nunquiesce\n"
        );
        let outcomes: Vec<&str> = e.ran.iter().map(|r| r.outcome.as_str()).collect();
        assert_eq!(outcomes, ["ok", "exit 7", "ok"]);
    }
}
