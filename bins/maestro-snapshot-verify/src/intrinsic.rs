//! Checks a replica needs no manifest for: leftovers of an interrupted
//! transfer, skew between components, unreadable entries, symlink loops,
//! and (through `innodb` and `myisam`) the database files themselves.

use crate::manifest::{Entry, Kind};
use crate::roots::Plan;
use maestro_common::perfdata::{Perfdata, Range, Uom};
use maestro_common::report::{Check, Finding};
use maestro_common::site::Component;
use maestro_common::Status;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Findings listed a check at most; the rest are counted.
pub const MAX_FINDINGS: usize = 100;

pub fn abs_path(plan: &Plan, e: &Entry) -> Option<PathBuf> {
    plan.root_path(&e.root).map(|root| {
        if e.path.0.is_empty() {
            root.to_path_buf()
        } else {
            root.join(e.path.to_os())
        }
    })
}

/// rsync writes into `.NAME.XXXXXX` (six random letters or digits) and
/// renames when the file is complete.
pub fn is_rsync_temp(name: &[u8]) -> bool {
    if name.len() < 9 || name[0] != b'.' {
        return false;
    }
    let (stem, suffix) = name.split_at(name.len() - 7);
    suffix[0] == b'.' && suffix[1..].iter().all(u8::is_ascii_alphanumeric) && stem.len() > 1
}

fn file_name(e: &Entry) -> &[u8] {
    e.path.0.rsplit(|&b| b == b'/').next().unwrap_or(&[])
}

/// The entries a manifest lists, by root and path.
#[derive(Debug, Default)]
pub struct Listed(std::collections::HashSet<(String, Vec<u8>)>);

impl Listed {
    pub fn of(entries: &[Entry]) -> Listed {
        Listed(
            entries
                .iter()
                .map(|e| (e.root.clone(), e.path.0.clone()))
                .collect(),
        )
    }

    fn contains(&self, e: &Entry) -> bool {
        // Borrowed lookups of a tuple key need the owned form; the check
        // runs once per leftover candidate only.
        self.0.contains(&(e.root.clone(), e.path.0.clone()))
    }
}

/// Leftovers of an interrupted transfer: rsync's temporary files, its
/// `--partial-dir` folders, `*.tmp` files. An entry the primary's manifest
/// lists (`listed`) is the primary's own file, whatever its name, and no
/// leftover: its content is judged by the comparison.
pub fn leftovers(entries: &[Entry], partial_dirs: &[String], listed: Option<&Listed>) -> Check {
    let mut check = Check::ok("leftovers", "");
    let mut count = 0usize;
    for e in entries {
        let name = file_name(e);
        let why = match e.kind {
            Kind::File if is_rsync_temp(name) => {
                "an rsync temporary file: a transfer was interrupted"
            }
            Kind::File if name.ends_with(b".tmp") => "a *.tmp file in a data root",
            Kind::Dir if partial_dirs.iter().any(|p| p.as_bytes() == name) => {
                "an rsync --partial-dir folder: a transfer was interrupted"
            }
            _ => continue,
        };
        if listed.is_some_and(|l| l.contains(e)) {
            continue;
        }
        count += 1;
        if count <= MAX_FINDINGS {
            check.add_finding(Finding::new(Status::Critical, "leftover", why).at(e.location()));
        }
    }
    if count > MAX_FINDINGS {
        check.add_finding(Finding::new(
            Status::Critical,
            "leftover",
            format!("{} more leftovers not listed", count - MAX_FINDINGS),
        ));
    }
    check.message = if count == 0 {
        "no leftovers of an interrupted transfer".into()
    } else {
        format!("{count} leftovers of an interrupted transfer")
    };
    check.perf(Perfdata::count("leftovers", count as u64).with_crit(Range::above(0.0)))
}

/// The newest modification time of a regular file in each component.
pub fn newest_by_component(
    plan: &Plan,
    entries: &[Entry],
) -> BTreeMap<&'static str, (i64, String)> {
    let mut newest: BTreeMap<&'static str, (i64, String)> = BTreeMap::new();
    // Whether a folder holds InnoDB files, asked once a folder: files share
    // their folders, and each answer costs three stats.
    let mut data_dirs: std::collections::HashMap<PathBuf, bool> = std::collections::HashMap::new();
    for e in entries.iter().filter(|e| e.kind == Kind::File) {
        let Some(abs) = abs_path(plan, e) else {
            continue;
        };
        let Some(c) = component_for(plan, &abs, &mut data_dirs) else {
            continue;
        };
        let slot = newest
            .entry(c.as_str())
            .or_insert((i64::MIN, String::new()));
        if e.mtime_ns > slot.0 {
            *slot = (e.mtime_ns, e.location());
        }
    }
    newest
}

fn component_for(
    plan: &Plan,
    abs: &Path,
    data_dirs: &mut std::collections::HashMap<PathBuf, bool>,
) -> Option<Component> {
    // A folder holding InnoDB files is the database's wherever it lies.
    let mut dir = abs.parent();
    while let Some(d) = dir {
        if plan.roots.iter().all(|r| !d.starts_with(&r.path)) {
            break;
        }
        let is_data = match data_dirs.get(d) {
            Some(known) => *known,
            None => {
                let known = crate::innodb::is_data_dir(d);
                data_dirs.insert(d.to_path_buf(), known);
                known
            }
        };
        if is_data {
            return Some(Component::Db);
        }
        dir = d.parent();
    }
    plan.component_of(abs)
}

pub fn skew(plan: &Plan, entries: &[Entry], max_skew: Duration) -> Check {
    let newest = newest_by_component(plan, entries);
    let max_ns = i64::try_from(max_skew.as_nanos()).unwrap_or(i64::MAX);
    let mut check = Check::ok("skew", "");
    for (c, (ns, loc)) in &newest {
        check = check
            .detail(format!("{c}_newest"), crate::time::format_ns(*ns))
            .detail(format!("{c}_newest_file"), loc.clone());
    }
    if newest.len() < 2 {
        check.message = format!(
            "{} component(s) with files ({}); nothing to compare",
            newest.len(),
            newest.keys().copied().collect::<Vec<_>>().join(", ")
        );
        return check;
    }
    let items: Vec<(&&str, &(i64, String))> = newest.iter().collect();
    let mut worst = 0i64;
    for (i, (a, (ta, fa))) in items.iter().enumerate() {
        for (b, (tb, fb)) in &items[i + 1..] {
            let gap = (ta - tb).abs();
            worst = worst.max(gap);
            if gap > max_ns {
                check.add_finding(
                    Finding::new(
                        Status::Critical,
                        "skew",
                        format!(
                            "{a} and {b} are {} apart: {a} newest {} ({fa}), {b} newest {} ({fb})",
                            human(gap),
                            crate::time::format_short(*ta),
                            crate::time::format_short(*tb)
                        ),
                    )
                    .detail("gap_s", gap as f64 / 1e9),
                );
            }
        }
    }
    check.message = if check.findings.is_empty() {
        format!(
            "newest changes of {} within {} of each other (largest gap {})",
            newest.keys().copied().collect::<Vec<_>>().join(", "),
            human(max_ns),
            human(worst)
        )
    } else {
        check
            .findings
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    check.perf(
        Perfdata::new("skew", (worst as f64 / 1e9).round(), Uom::Seconds)
            .with_crit(Range::above(max_skew.as_secs_f64())),
    )
}

fn human(ns: i64) -> String {
    let secs = (ns / 1_000_000_000).max(0) as u64;
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

pub fn unreadable(entries: &[Entry], what: &str) -> Check {
    let mut check = Check::ok("unreadable", "");
    let mut count = 0usize;
    for e in entries.iter().filter(|e| e.error.is_some()) {
        count += 1;
        if count <= MAX_FINDINGS {
            check.add_finding(
                Finding::new(
                    Status::Unknown,
                    "unreadable",
                    e.error.clone().unwrap_or_default(),
                )
                .at(e.location()),
            );
        }
    }
    check.message = if count == 0 {
        format!("every entry {what} could be read")
    } else {
        format!("{count} entries {what} could not be read, so they could not be verified")
    };
    check
}

/// Symbolic links: loops are a WARNING; links that lead to folders outside
/// every root are counted, since the walk never follows a link and what
/// lies behind them is not compared (database folders among them are
/// judged by the innodb and myisam checks all the same).
pub fn symlink_loops(plan: &Plan, entries: &[Entry]) -> Check {
    let mut check = Check::ok("symlinks", "");
    let mut links = 0u64;
    let mut outside = 0u64;
    let roots: Vec<PathBuf> = plan
        .roots
        .iter()
        .map(|r| std::fs::canonicalize(&r.path).unwrap_or_else(|_| r.path.clone()))
        .collect();
    for e in entries.iter().filter(|e| e.kind == Kind::Symlink) {
        links += 1;
        let Some(abs) = abs_path(plan, e) else {
            continue;
        };
        match std::fs::metadata(&abs) {
            Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
                check.add_finding(
                    Finding::new(Status::Warning, "symlink-loop", "a symlink loop")
                        .at(e.location()),
                );
            }
            Ok(m) if m.is_dir() => {
                let real = std::fs::canonicalize(&abs).unwrap_or(abs);
                if !roots.iter().any(|r| real.starts_with(r)) {
                    outside += 1;
                }
            }
            _ => {}
        }
    }
    check = check.detail("links_to_folders_outside_the_roots", outside);
    check.message = if check.findings.is_empty() {
        format!(
            "{links} symlinks, none in a loop (never followed by the walk{})",
            if outside > 0 {
                format!(
                    "; {outside} lead to folders outside the roots, whose files are not compared"
                )
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "{} symlinks form loops (never followed)",
            check.findings.len()
        )
    };
    check
}

/// The MyISAM check: the `.MYI` files walked, those the walk reaches as
/// links (a table with INDEX DIRECTORY), and `elsewhere`: those in data
/// folders or database folders behind a link (path, location shown).
pub fn myisam(plan: &Plan, entries: &[Entry], elsewhere: &[(PathBuf, String)]) -> Check {
    let mut check = Check::ok("myisam", "");
    let mut tables = 0u64;
    let walked = entries
        .iter()
        .filter(|e| matches!(e.kind, Kind::File | Kind::Symlink) && file_name(e).ends_with(b".MYI"))
        .filter_map(|e| abs_path(plan, e).map(|abs| (abs, e.location())));
    let mut seen = std::collections::HashSet::new();
    for (abs, location) in walked.chain(elsewhere.iter().cloned()) {
        if !seen.insert(std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone())) {
            continue;
        }
        match crate::myisam::read_state(&abs) {
            Ok(crate::myisam::IndexState::Closed) => tables += 1,
            Ok(crate::myisam::IndexState::NotMyisam) => {}
            Ok(crate::myisam::IndexState::Open {
                open_count,
                crashed,
            }) => {
                tables += 1;
                check.add_finding(
                    Finding::new(
                        Status::Warning,
                        "myisam-open",
                        format!(
                            "the index header says the table was open (open count {open_count}{}) when copied; run myisamchk before use",
                            if crashed { ", marked crashed" } else { "" }
                        ),
                    )
                    .at(location),
                );
            }
            Err(err) => check
                .add_finding(Finding::new(Status::Unknown, "myisam-unreadable", err).at(location)),
        }
    }
    check.message = if check.findings.is_empty() {
        format!("{tables} MyISAM tables, all closed when copied")
    } else {
        format!(
            "{} MyISAM tables were copied while open",
            check.findings.len()
        )
    };
    check
}

/// An InnoDB data folder found in the roots.
#[derive(Debug, Clone)]
pub struct DataFolder {
    /// The folder itself (a link's target, resolved).
    pub path: PathBuf,
    /// How reports name it: `lui:database`, `lui:database -> /srv/mysql`.
    pub shown: String,
    /// Reached through a symbolic link: the walk did not enter it.
    pub linked: bool,
}

/// Every InnoDB data folder among the walked entries, and every one a
/// walked symbolic link leads to (a database folder moved to another disk
/// and linked back is judged, not skipped), each once.
pub fn innodb_dirs(plan: &Plan, entries: &[Entry]) -> Vec<DataFolder> {
    let mut dirs: Vec<DataFolder> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries
        .iter()
        .filter(|e| matches!(e.kind, Kind::Dir | Kind::Symlink))
    {
        let Some(abs) = abs_path(plan, e) else {
            continue;
        };
        let linked = e.kind == Kind::Symlink;
        if linked && !std::fs::metadata(&abs).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if !crate::innodb::is_data_dir(&abs) {
            continue;
        }
        let real = std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
        if !seen.insert(real.clone()) {
            continue;
        }
        let (path, shown) = if linked {
            let shown = format!("{} -> {}", e.location(), real.display());
            (real, shown)
        } else {
            (abs, e.location())
        };
        dirs.push(DataFolder {
            path,
            shown,
            linked,
        });
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_temp_names() {
        assert!(is_rsync_temp(b".lui.ini.a8Xk2Q"));
        assert!(is_rsync_temp(b".x.AbCdEf"));
        assert!(!is_rsync_temp(b"lui.ini.a8Xk2Q"));
        assert!(!is_rsync_temp(b".profile"));
        assert!(!is_rsync_temp(b"..abcdef"));
        assert!(!is_rsync_temp(b".x.ab-def"));
    }

    fn entry(root: &str, path: &str, kind: Kind) -> Entry {
        Entry {
            root: root.into(),
            path: crate::manifest::RawName(path.as_bytes().to_vec()),
            kind,
            size: 0,
            mode: 0o644,
            mtime_ns: 0,
            sha256: None,
            target: None,
            torn: None,
            error: None,
        }
    }

    #[test]
    fn what_the_manifest_lists_is_no_leftover() {
        let primary = vec![
            entry("lui", "jobs/export.tmp", Kind::File),
            entry("lui", "cache/.index.a8Xk2Q", Kind::File),
            entry("lui", "spool/.rsync-partial", Kind::Dir),
        ];
        let mut replica = primary.clone();
        replica.push(entry("lui", "jobs/half.tmp", Kind::File));
        replica.push(entry("db", "jobs/export.tmp", Kind::File));
        let partial = [".rsync-partial".to_string()];
        // Without a manifest every name that looks like a leftover is one.
        let c = leftovers(&replica, &partial, None);
        assert_eq!((c.findings.len(), c.status), (5, Status::Critical));
        // With it, only what the primary does not have: the same path in
        // another root is another file.
        let listed = Listed::of(&primary);
        let c = leftovers(&replica, &partial, Some(&listed));
        let at: Vec<&str> = c
            .findings
            .iter()
            .filter_map(|f| f.location.as_deref())
            .collect();
        assert_eq!(at, ["lui:jobs/half.tmp", "db:jobs/export.tmp"], "{c:?}");
        assert_eq!(c.status, Status::Critical);
        let c = leftovers(&primary, &partial, Some(&listed));
        assert_eq!((c.findings.len(), c.status), (0, Status::Ok), "{c:?}");
    }
}
