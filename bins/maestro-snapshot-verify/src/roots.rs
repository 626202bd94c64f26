//! Which folders to walk and what to leave out: `--root`/`--exclude`, else
//! `[verify]`, else the site profile's data roots minus its log, temp and
//! backup folders and the database error log.

use crate::cli::WalkArgs;
use crate::walk::{parse_root, ExcludeGlob, Root, WalkOptions};
use maestro_common::cli::{Context, ToolError};
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

pub fn plan(ctx: &mut Context, args: &WalkArgs) -> Result<Plan, ToolError> {
    let config = ctx.config()?.config.clone();
    let verify = &config.verify;
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
    };
    if specs.is_empty() {
        let layout = SiteLayout::resolve(&config.site)
            .map_err(|e| ToolError::Usage(format!("[site]: {e}")))?;
        for (component, path) in layout.data_roots() {
            plan.roots.push(Root {
                name: component.as_str().to_string(),
                path: path.to_path_buf(),
            });
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
            let root = parse_root(spec).map_err(ToolError::Usage)?;
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
