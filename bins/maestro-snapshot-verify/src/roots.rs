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
