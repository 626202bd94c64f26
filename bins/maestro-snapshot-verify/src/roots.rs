//! Which folders to walk and what to leave out: `--root`/`--exclude`, else
//! `[verify]`, else the site profile's data roots minus its log, temp and
//! backup folders and the database error log.

use crate::cli::WalkArgs;
use crate::walk::{parse_root, ExcludeGlob, Root, WalkOptions};
use maestro_common::cli::{Context, ToolError};
use maestro_common::fsio;
use maestro_common::site::{Component, SiteLayout};
use std::path::{Path, PathBuf};

/// The roots with what each part of them belongs to.
#[derive(Debug, Clone)]
pub struct Plan {
    pub roots: Vec<Root>,
    /// Folders that belong to a component, deepest wins (the DB data folder
    /// inside the LUI home is the DB's).
    pub component_dirs: Vec<(PathBuf, Component)>,
    pub excluded_paths: Vec<PathBuf>,
    pub globs: Vec<ExcludeGlob>,
    pub threads: usize,
    /// Hash cache keys given by a library caller, by root name.
    pub cache_keys: std::collections::HashMap<String, String>,
    /// Hash cache keys without the device (the roots are snapshots).
    pub cache_across_devices: bool,
}

impl Plan {
    /// `window_start_ns`: when the capture started; an entry modified or
    /// replaced since then is torn.
    pub fn walk_options(&self, hash: bool, window_start_ns: i64) -> WalkOptions {
        WalkOptions {
            excluded_paths: self.excluded_paths.clone(),
            globs: self.globs.clone(),
            hash,
            threads: self.threads,
            window_start_ns,
        }
    }

    /// The excludes as the manifest header lists them.
    pub fn exclude_texts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.globs.iter().map(|g| g.text.clone()).collect();
        v.extend(self.excluded_paths.iter().map(|p| p.display().to_string()));
        v
    }

    /// The hash cache's key of a root: the caller's, else the path the
    /// root was given as (a root given as a link keeps its cache when the
    /// link moves to another folder: the cache holds inodes, not paths).
    pub fn cache_key(&self, root: &Root) -> String {
        match self.cache_keys.get(&root.name) {
            Some(k) => k.clone(),
            None => root
                .link
                .as_ref()
                .unwrap_or(&root.path)
                .display()
                .to_string(),
        }
    }

    pub fn root_path(&self, name: &str) -> Option<&Path> {
        self.roots
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.path.as_path())
    }

    /// The component an absolute path belongs to.
    pub fn component_of(&self, abs: &Path) -> Option<Component> {
        self.component_dirs
            .iter()
            .filter(|(dir, _)| abs.starts_with(dir))
            .max_by_key(|(dir, _)| dir.components().count())
            .map(|(_, c)| *c)
    }
}

fn component_named(name: &str) -> Option<Component> {
    Component::ALL.into_iter().find(|c| c.as_str() == name)
}

/// A root must be a folder: a file, a FIFO, a device or a socket given as
/// one is refused (a FIFO would be "walked" as one entry and called a point
/// in time). A symbolic link to a folder is resolved here, once, so the
/// walk, the overlap and "never write into a root" checks all see the same
/// folder, and the reports name both. A root that does not exist is left to
/// the walk, which reports it as unreadable.
fn resolve(root: Root) -> Result<Root, ToolError> {
    let meta = match std::fs::symlink_metadata(&root.path) {
        Ok(m) => m,
        Err(_) => return Ok(root),
    };
    if meta.is_dir() {
        return Ok(root);
    }
    let not_a_folder = |kind: &str| {
        ToolError::Usage(format!(
            "root {}={} is {kind}, not a folder: a root must be a folder",
            root.name,
            root.path.display()
        ))
    };
    if !meta.file_type().is_symlink() {
        return Err(not_a_folder(fsio::kind_name(meta.file_type())));
    }
    let target = std::fs::canonicalize(&root.path).map_err(|e| {
        ToolError::Usage(format!(
            "root {}={} is a symbolic link that leads nowhere: {e}",
            root.name,
            root.path.display()
        ))
    })?;
    let target_meta = std::fs::metadata(&target)
        .map_err(|e| ToolError::Usage(format!("root {}={}: {e}", root.name, target.display())))?;
    if !target_meta.is_dir() {
        let kind = fsio::kind_name(target_meta.file_type());
        return Err(not_a_folder(&format!(
            "a symbolic link to {} ({kind})",
            target.display()
        )));
    }
    Ok(Root {
        name: root.name,
        path: target,
        link: Some(root.path),
    })
}

/// Where a write to `path` lands, links and `..` resolved: the folder that
/// would be written to, canonical, with the name (when `path` is a link,
/// the file it leads to, as an atomic replacement writes there). Parts of
/// the path that do not exist yet are kept as they are, after the
/// canonical part that does.
fn landing(path: &Path) -> PathBuf {
    let mut path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // A link is followed as a write through it would be (a bounded number
    // of times: a loop ends in an error when written anyway).
    for _ in 0..40 {
        match std::fs::read_link(&path) {
            Ok(target) => {
                path = match path.parent() {
                    Some(parent) => parent.join(target),
                    None => target,
                }
            }
            Err(_) => break,
        }
    }
    if let Ok(real) = std::fs::canonicalize(&path) {
        return real;
    }
    // The deepest part that exists, canonical, then the rest.
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    let mut at = path.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(at) {
            let mut out = real;
            for part in rest.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return out;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            (Some(parent), None) => {
                // `..` or `.` at the end.
                rest.push(at.components().next_back().map_or_else(
                    || std::ffi::OsString::from("."),
                    |c| c.as_os_str().to_os_string(),
                ));
                at = parent;
            }
            _ => return path,
        }
    }
}

/// This tool never writes into a root: `path` (an output file or the state
/// folder, named `what`) is refused when it lands inside one, whatever
/// `..` or links on the way say.
pub fn refuse_writing_inside(plan: &Plan, path: &Path, what: &str) -> Result<(), ToolError> {
    let lands = landing(path);
    for r in &plan.roots {
        let root = std::fs::canonicalize(&r.path).unwrap_or_else(|_| r.path.clone());
        if lands.starts_with(&root) {
            return Err(ToolError::Usage(format!(
                "{what} {} lies inside the root {} ({}): this tool never writes into the roots",
                path.display(),
                r.shown(),
                lands.display()
            )));
        }
    }
    Ok(())
}

/// [`refuse_writing_inside`] for a descriptor the tool writes to (stdout,
/// `--out /dev/fd/N`): refused when it is a regular file that lies inside a
/// root (`capture > ROOT/m.jsonl`). Where the system cannot name the file
/// behind a descriptor (no `/proc`), nothing is refused.
pub fn refuse_descriptor_inside(plan: &Plan, fd: i32, what: &str) -> Result<(), ToolError> {
    let link = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let is_file = std::fs::metadata(&link).is_ok_and(|m| m.is_file());
    match std::fs::read_link(&link) {
        Ok(named) if is_file && named.is_absolute() => refuse_writing_inside(plan, &named, what),
        _ => Ok(()),
    }
}

/// The root `db` for the database folder `db` when it lies inside one of
/// `roots` by its name but elsewhere once links are followed.
fn linked_inside(roots: &[Root], db: &Path) -> Option<Root> {
    if roots.iter().any(|r| r.name == Component::Db.as_str()) {
        return None;
    }
    let inside = roots
        .iter()
        .find(|r| db.starts_with(r.link.as_ref().unwrap_or(&r.path)) || db.starts_with(&r.path))?;
    let real = std::fs::canonicalize(db).ok()?;
    let root_real = std::fs::canonicalize(&inside.path).unwrap_or_else(|_| inside.path.clone());
    if real.starts_with(&root_real) || !real.is_dir() {
        return None;
    }
    Some(Root {
        name: Component::Db.as_str().to_string(),
        path: real,
        link: Some(db.to_path_buf()),
    })
}

/// `path` with the link of a linked root it lies under replaced by the
/// root's target.
fn rebase(path: &Path, roots: &[Root]) -> PathBuf {
    for r in roots {
        if let Some(rest) = r.link.as_ref().and_then(|l| path.strip_prefix(l).ok()) {
            return if rest.as_os_str().is_empty() {
                r.path.clone()
            } else {
                r.path.join(rest)
            };
        }
    }
    path.to_path_buf()
}

pub fn plan(ctx: &mut Context, args: &WalkArgs) -> Result<Plan, ToolError> {
    let loaded = ctx.config()?;
    let verify = &crate::config::verify_section(loaded)?;
    let config = loaded.config.clone();
    let threads = args
        .threads
        .map(usize::from)
        .or(verify.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let mut globs = Vec::new();
    for g in verify.exclude.iter().chain(&args.excludes) {
        globs.push(ExcludeGlob::new(g).map_err(ToolError::Usage)?);
    }
    let specs: Vec<String> = if !args.roots.is_empty() {
        args.roots.clone()
    } else {
        verify.roots.clone()
    };
    let mut plan = Plan {
        roots: Vec::new(),
        component_dirs: Vec::new(),
        excluded_paths: Vec::new(),
        globs,
        threads,
        cache_keys: args.cache_keys.iter().cloned().collect(),
        cache_across_devices: args.cache_across_devices,
    };
    if specs.is_empty() {
        let layout = SiteLayout::resolve(&config.site)
            .map_err(|e| ToolError::Usage(format!("[site]: {e}")))?;
        for (component, path) in layout.data_roots() {
            plan.roots.push(resolve(Root {
                name: component.as_str().to_string(),
                path: path.to_path_buf(),
                link: None,
            })?);
        }
        // The database folder inside a root, reached through a link (moved
        // to another disk and linked back): the walk never follows links,
        // so it becomes a root of its own, `db`, walked and compared.
        let db = layout.db_data_dir().to_path_buf();
        if let Some(root) = linked_inside(&plan.roots, &db) {
            plan.roots.push(root);
        }
        for c in Component::APPLICATIONS {
            plan.component_dirs.push((layout.home(c).to_path_buf(), c));
        }
        plan.component_dirs
            .push((layout.db_data_dir().to_path_buf(), Component::Db));
        plan.excluded_paths = layout
            .excluded_dirs()
            .iter()
            .chain(layout.excluded_files().iter())
            .map(|p| p.to_path_buf())
            .collect();
    } else {
        for spec in &specs {
            let root = resolve(parse_root(spec).map_err(ToolError::Usage)?)?;
            if plan.roots.iter().any(|r| r.name == root.name) {
                return Err(ToolError::Usage(format!(
                    "two roots are named {:?}; name them apart with --root NAME=DIR",
                    root.name
                )));
            }
            if let Some(c) = component_named(&root.name) {
                plan.component_dirs.push((root.path.clone(), c));
            }
            plan.roots.push(root);
        }
    }
    // A root in a maestro-sync generations folder: its generations may be
    // btrfs subvolumes, a device each, which keep the inode numbers and
    // times of the generation they were made from.
    if plan
        .roots
        .iter()
        .any(|r| maestro_common::sync_lock::guarding(&r.path).is_some())
    {
        plan.cache_across_devices = true;
    }
    // Folders named through a root given as a link lie in its target.
    for (dir, _) in &mut plan.component_dirs {
        *dir = rebase(dir, &plan.roots);
    }
    for p in &mut plan.excluded_paths {
        *p = rebase(p, &plan.roots);
    }
    for (i, a) in plan.roots.iter().enumerate() {
        for b in &plan.roots[i + 1..] {
            if a.path.starts_with(&b.path) || b.path.starts_with(&a.path) {
                return Err(ToolError::Usage(format!(
                    "roots {} and {} overlap: one lies inside the other",
                    a.path.display(),
                    b.path.display()
                )));
            }
        }
    }
    Ok(plan)
}
