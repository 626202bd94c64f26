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
                if let Some(d) = differ(r, c, quick) {
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

fn differ(r: &Entry, c: &Entry, quick: bool) -> Option<Difference> {
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
    if r.mode != c.mode {
        what.push(format!("mode {:04o} -> {:04o}", r.mode, c.mode));
    }
    match r.kind {
        Kind::File => {
            if r.size != c.size {
                what.push(format!("size {} -> {}", r.size, c.size));
            }
            if r.mtime_ns != c.mtime_ns {
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
}
