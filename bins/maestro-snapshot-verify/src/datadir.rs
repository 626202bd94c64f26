//! The files of a MySQL/MariaDB data folder as the server finds them:
//! `DATADIR/NAME` and `DATADIR/DB/NAME`, symbolic links followed. The
//! servers follow links there (a database folder or a system tablespace
//! moved to another disk and linked back is an ordinary setup), so the
//! checks that read database files follow them too, while the walk that
//! builds manifests never does. Nothing here opens a file: the listing
//! only `stat`s, so a FIFO in a data folder is listed, never waited on.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// Folders a server recreates at start or that hold no table files.
const SKIPPED_FOLDERS: [&str; 2] = ["#innodb_temp", "#innodb_redo"];

/// One entry of a data folder.
#[derive(Debug)]
pub struct DataFile {
    /// The path as reached from the data folder.
    pub path: PathBuf,
    /// `NAME` or `DB/NAME`, for messages.
    pub rel: String,
    /// The file name.
    pub name: String,
    /// In the data folder itself (`ibdata1`), not in a database folder.
    pub top: bool,
    /// Reached through a symbolic link (the file is one, or its database
    /// folder is): not part of a walk of the data folder.
    pub linked: bool,
    /// What it is once links are followed; `Err`: a link that leads
    /// nowhere, or an entry that cannot be `stat`ed.
    pub meta: Result<Metadata, String>,
}

impl DataFile {
    pub fn is_regular(&self) -> bool {
        self.meta.as_ref().is_ok_and(Metadata::is_file)
    }

    pub fn is_folder(&self) -> bool {
        self.meta.as_ref().is_ok_and(Metadata::is_dir)
    }

    /// `maestro/jobs.ibd`, or `maestro/jobs.ibd -> /disk2/jobs.ibd` when a
    /// link leads elsewhere.
    pub fn shown(&self) -> String {
        match self.linked.then(|| std::fs::canonicalize(&self.path).ok()) {
            Some(Some(real)) => format!("{} -> {}", self.rel, real.display()),
            _ => self.rel.clone(),
        }
    }
}

/// What [`list`] found, and what it could not list.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<DataFile>,
    /// Folders that could not be read: (path, why).
    pub errors: Vec<(PathBuf, String)>,
}

fn entry(path: PathBuf, rel: String, name: String, top: bool, parent_linked: bool) -> DataFile {
    let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    let meta = std::fs::metadata(&path).map_err(|e| e.to_string());
    DataFile {
        path,
        rel,
        name,
        top,
        linked: parent_linked || is_link,
        meta,
    }
}

fn read_names(dir: &Path, errors: &mut Vec<(PathBuf, String)>) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(list) => {
            let mut names: Vec<String> = list
                .filter_map(|d| match d {
                    Ok(d) => Some(d.file_name().to_string_lossy().into_owned()),
                    Err(e) => {
                        errors.push((dir.to_path_buf(), e.to_string()));
                        None
                    }
                })
                .collect();
            names.sort();
            names
        }
        Err(e) => {
            errors.push((dir.to_path_buf(), e.to_string()));
            Vec::new()
        }
    }
}

/// The entries of `datadir` and of each folder in it (links followed, one
/// level deep: the depth at which the servers keep table files).
pub fn list(datadir: &Path) -> Listing {
    let mut out = Listing::default();
    for name in read_names(datadir, &mut out.errors) {
        let top = entry(datadir.join(&name), name.clone(), name.clone(), true, false);
        if top.is_folder() {
            if SKIPPED_FOLDERS.contains(&name.as_str()) {
                continue;
            }
            for inner in read_names(&top.path, &mut out.errors) {
                out.files.push(entry(
                    top.path.join(&inner),
                    format!("{name}/{inner}"),
                    inner,
                    false,
                    top.linked,
                ));
            }
        }
        out.files.push(top);
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg_attr(not(unix), allow(unused_imports))]
    use super::*;

    #[test]
    #[cfg(unix)]
    fn links_are_followed_one_level_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let other = dir.path().join("disk2");
        std::fs::create_dir_all(data.join("maestro")).unwrap();
        std::fs::create_dir_all(other.join("far")).unwrap();
        std::fs::write(data.join("maestro/a.frm"), b"x").unwrap();
        std::fs::write(other.join("far/b.frm"), b"x").unwrap();
        std::fs::write(other.join("ibdata1"), b"x").unwrap();
        std::os::unix::fs::symlink(other.join("far"), data.join("far")).unwrap();
        std::os::unix::fs::symlink(other.join("ibdata1"), data.join("ibdata1")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), data.join("ibdata2")).unwrap();
        std::fs::create_dir_all(data.join("#innodb_temp")).unwrap();
        std::fs::write(data.join("#innodb_temp/temp_1.ibt"), b"x").unwrap();
        let l = list(&data);
        let seen: Vec<(&str, bool, bool)> = l
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.linked, f.meta.is_ok()))
            .collect();
        assert_eq!(
            seen,
            [
                ("far/b.frm", true, true),
                ("far", true, true),
                ("ibdata1", true, true),
                ("ibdata2", true, false),
                ("maestro/a.frm", false, true),
                ("maestro", false, true),
            ]
        );
        assert!(l.files[0].shown().ends_with("disk2/far/b.frm"));
        assert!(l.errors.is_empty());
    }
}
