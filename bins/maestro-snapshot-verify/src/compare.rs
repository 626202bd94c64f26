//! Comparing two sets of entries: the primary's (the reference) and a copy.

use crate::manifest::{Entry, Kind, RawName};
use std::collections::HashMap;

/// How one entry differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In the reference, not in the copy.
    Missing,
    /// In the copy, not in the reference.
    Extra,
    /// Present in both, differing; the list says in what.
    Changed(Vec<String>),
    /// One side could not read it, so it cannot be compared.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Delta {
    pub location: String,
    pub difference: Difference,
}

#[derive(Debug, Default)]
pub struct Comparison {
    pub deltas: Vec<Delta>,
    pub compared: u64,
}

impl Comparison {
    pub fn count(&self, f: impl Fn(&Difference) -> bool) -> usize {
        self.deltas.iter().filter(|d| f(&d.difference)).count()
    }
}

/// Compare `copy` with `reference`. `quick` compares metadata only (type,
/// size, mode, mtime: rsync's quick check); otherwise content hashes too,
/// and an mtime difference of identical content is still a difference
/// (the copy was not made with times preserved, or was touched).
pub fn compare(reference: &[Entry], copy: &[Entry], quick: bool) -> Comparison {
    compare_across(reference, copy, quick, Systems::Same)
}

/// Whether the two sides were captured on the same family of system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Systems {
    Same,
    /// One on Unix, one on Windows: Windows has no Unix permission bits
    /// (its manifests say mode 0), so modes are not compared, and it keeps
    /// times in units of 100 ns, so mtimes are compared in those units.
    /// Content, sizes, types and link targets are compared as ever.
    UnixAndWindows,
}

impl Systems {
    pub fn of(a: &str, b: &str) -> Systems {
        if a == b {
            Systems::Same
        } else {
            Systems::UnixAndWindows
        }
    }
}

/// [`compare`], for two sides that may come from different systems.
pub fn compare_across(
    reference: &[Entry],
    copy: &[Entry],
    quick: bool,
    systems: Systems,
) -> Comparison {
    let mut by_key: HashMap<(&str, &RawName), &Entry> = HashMap::with_capacity(copy.len());
    for e in copy {
        by_key.insert((e.root.as_str(), &e.path), e);
    }
    let mut out = Comparison::default();
    for r in reference {
        match by_key.remove(&(r.root.as_str(), &r.path)) {
            None => out.deltas.push(Delta {
                location: r.location(),
                difference: Difference::Missing,
            }),
            Some(c) => {
                out.compared += 1;
                if let Some(d) = differ(r, c, quick, systems) {
                    out.deltas.push(Delta {
                        location: r.location(),
                        difference: d,
                    });
                }
            }
        }
    }
    // What is left was not in the reference, in the copy's order.
    for c in copy {
        if by_key.contains_key(&(c.root.as_str(), &c.path)) {
            out.deltas.push(Delta {
                location: c.location(),
                difference: Difference::Extra,
            });
        }
    }
    out
}

fn differ(r: &Entry, c: &Entry, quick: bool, systems: Systems) -> Option<Difference> {
    if let Some(e) = &r.error {
        return Some(Difference::Unreadable(format!("on the primary: {e}")));
    }
    if let Some(e) = &c.error {
        return Some(Difference::Unreadable(format!("here: {e}")));
    }
    let mut what = Vec::new();
    if r.kind != c.kind {
        what.push(format!("type {} -> {}", r.kind.as_str(), c.kind.as_str()));
        return Some(Difference::Changed(what));
    }
    if systems == Systems::Same && r.mode != c.mode {
        what.push(format!("mode {:04o} -> {:04o}", r.mode, c.mode));
    }
    match r.kind {
        Kind::File => {
            if r.size != c.size {
                what.push(format!("size {} -> {}", r.size, c.size));
            }
            let mtimes_differ = match systems {
                Systems::Same => r.mtime_ns != c.mtime_ns,
                Systems::UnixAndWindows => r.mtime_ns.div_euclid(100) != c.mtime_ns.div_euclid(100),
            };
            if mtimes_differ {
                what.push(format!(
                    "mtime {} -> {}",
                    crate::time::format_ns(r.mtime_ns),
                    crate::time::format_ns(c.mtime_ns)
                ));
            }
            if !quick && r.size == c.size {
                match (&r.sha256, &c.sha256) {
                    (Some(a), Some(b)) if a != b => what.push("content (SHA-256)".into()),
                    (Some(_), Some(_)) => {}
                    _ => what.push("content could not be compared (no hash)".into()),
                }
            }
        }
        Kind::Symlink => {
            if r.target != c.target {
                what.push(format!(
                    "link target {} -> {}",
                    r.target.as_ref().map(RawName::display).unwrap_or_default(),
                    c.target.as_ref().map(RawName::display).unwrap_or_default()
                ));
            }
        }
        // Folder sizes and times depend on the filesystem and on the order
        // files were written; what a folder holds is compared entry by entry.
        Kind::Dir | Kind::Other | Kind::Error => {}
    }
    (!what.is_empty()).then_some(Difference::Changed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64, hash: &str) -> Entry {
        Entry {
            root: "r".into(),
            path: RawName(path.as_bytes().to_vec()),
            kind: Kind::File,
            size,
            mode: 0o644,
            mtime_ns: 7,
            sha256: Some(hash.repeat(64)),
            target: None,
            torn: None,
            error: None,
        }
    }

    #[test]
    fn finds_missing_extra_and_changed() {
        let a = vec![
            file("same", 1, "a"),
            file("gone", 1, "a"),
            file("edited", 1, "a"),
        ];
        let b = vec![
            file("same", 1, "a"),
            file("edited", 1, "b"),
            file("new", 1, "a"),
        ];
        let c = compare(&a, &b, false);
        let kinds: Vec<(String, Difference)> = c
            .deltas
            .iter()
            .map(|d| (d.location.clone(), d.difference.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("r:gone".into(), Difference::Missing),
                (
                    "r:edited".into(),
                    Difference::Changed(vec!["content (SHA-256)".into()])
                ),
                ("r:new".into(), Difference::Extra),
            ]
        );
        // The quick check does not read content.
        assert_eq!(
            compare(&a, &b, true).count(|d| matches!(d, Difference::Changed(_))),
            0
        );
    }

    /// A tree captured on Linux and checked on Windows (or the other way):
    /// Windows has no Unix modes and keeps mtimes in 100 ns units, so those
    /// two differences are not changes there; everything else still is.
    #[test]
    fn across_unix_and_windows_modes_and_sub_100ns_times_are_not_changes() {
        let linux = file("lui/data/a.txt", 6, "a");
        let mut windows = file("lui/data/a.txt", 6, "a");
        windows.mode = 0;
        let (mut l, mut w) = (linux.clone(), windows.clone());
        l.mtime_ns = 1_795_655_805_753_146_220;
        w.mtime_ns = 1_795_655_805_753_146_200;
        assert!(compare_across(&[l.clone()], &[w.clone()], false, Systems::UnixAndWindows)
            .deltas
            .is_empty());
        // On one system the same two entries differ.
        assert_eq!(compare(&[l.clone()], &[w.clone()], false).deltas.len(), 1);
        // Across systems a change of content, size or a whole 100 ns is found.
        let mut edited = w.clone();
        edited.sha256 = Some("b".repeat(64));
        let mut later = w.clone();
        later.mtime_ns += 100;
        let mut longer = w.clone();
        longer.size = 7;
        for copy in [edited, later, longer] {
            let c = compare_across(&[l.clone()], &[copy], false, Systems::UnixAndWindows);
            assert_eq!(c.count(|d| matches!(d, Difference::Changed(_))), 1, "{c:?}");
        }
        assert_eq!(Systems::of("unix", "windows"), Systems::UnixAndWindows);
        assert_eq!(Systems::of("windows", "windows"), Systems::Same);
    }
}
