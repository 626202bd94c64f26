//! `check` and `diff`.

use crate::capture::{load_caches, open_catalog, save_caches};
use crate::cli::{CheckArgs, DiffArgs};
use crate::compare::{compare_across, Comparison, Difference, Systems};
use crate::intrinsic::{self, MAX_FINDINGS};
use crate::manifest::{self, Entry, Manifest};
use crate::roots;
use crate::{store, time, walk, NAME};
use maestro_common::cli::{Context, ToolError};
use maestro_common::perfdata::{Perfdata, Range};
use maestro_common::report::{Check, Finding, Report};
use maestro_common::{signal, Status};
use std::time::{Duration, Instant};

const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

fn manifest_check(m: &Manifest) -> Check {
    Check::ok(
        "manifest",
        format!(
            "{}: {} entries of {} captured {} .. {}",
            m.source_name,
            m.trailer.totals.entries,
            m.header.host,
            m.header.started_at,
            m.trailer.finished_at
        ),
    )
    .detail("host", m.header.host.clone())
    .detail("started_at", m.header.started_at.clone())
    .detail("finished_at", m.trailer.finished_at.clone())
    .detail("sha256", m.trailer.sha256.clone())
    .detail("label", m.header.label.clone().unwrap_or_default())
}

/// The manifest's own torn entries: it is not a point in time.
fn torn_check(name: &str, m: &Manifest) -> Check {
    let torn: Vec<&Entry> = m.entries.iter().filter(|e| e.torn.is_some()).collect();
    if torn.is_empty() {
        return Check::ok(
            name,
            format!("{}: no entry changed while captured", m.source_name),
        );
    }
    let mut c = Check::new(
        name,
        Status::Critical,
        format!(
            "{}: {} entries changed while captured on {}: the manifest is not a point in time",
            m.source_name,
            torn.len(),
            m.header.host
        ),
    );
    for e in torn.iter().take(MAX_FINDINGS) {
        c.add_finding(
            Finding::new(Status::Critical, "torn", e.torn.clone().unwrap_or_default())
                .at(e.location()),
        );
    }
    c
}

fn comparison_check(reference: &Manifest, cmp: &Comparison, what: &str) -> Check {
    let missing = cmp.count(|d| *d == Difference::Missing);
    let extra = cmp.count(|d| *d == Difference::Extra);
    let changed = cmp.count(|d| matches!(d, Difference::Changed(_)));
    let unreadable = cmp.count(|d| matches!(d, Difference::Unreadable(_)));
    let as_of = &reference.header.started_at;
    let mut c = if missing + extra + changed > 0 {
        Check::new(
            "compare",
            Status::Critical,
            format!(
                "{what} is not the primary as of {as_of}: {missing} missing, {extra} extra, {changed} changed{}",
                if unreadable > 0 { format!(", {unreadable} unreadable") } else { String::new() }
            ),
        )
    } else if unreadable > 0 {
        Check::new(
            "compare",
            Status::Unknown,
            format!("{unreadable} entries could not be compared; the other {} match the primary as of {as_of}", cmp.compared),
        )
    } else {
        Check::ok(
            "compare",
            format!(
                "{what} matches the primary as of {as_of}: {} entries",
                cmp.compared
            ),
        )
    };
    for d in cmp.deltas.iter().take(MAX_FINDINGS) {
        let (status, id, text) = match &d.difference {
            Difference::Missing => (Status::Critical, "missing", "missing here".to_string()),
            Difference::Extra => (Status::Critical, "extra", "not on the primary".to_string()),
            Difference::Changed(what) => (
                Status::Critical,
                "changed",
                format!("changed: {}", what.join(", ")),
            ),
            Difference::Unreadable(why) => (
                Status::Unknown,
                "unreadable",
                format!("cannot compare: {why}"),
            ),
        };
        c.add_finding(Finding::new(status, id, text).at(d.location.clone()));
    }
    if cmp.deltas.len() > MAX_FINDINGS {
        let status = c.status;
        c.add_finding(Finding::new(
            status,
            "more",
            format!(
                "{} more differences not listed",
                cmp.deltas.len() - MAX_FINDINGS
            ),
        ));
    }
    c.perf(Perfdata::count("missing", missing as u64).with_crit(Range::above(0.0)))
        .perf(Perfdata::count("extra", extra as u64).with_crit(Range::above(0.0)))
        .perf(Perfdata::count("changed", changed as u64).with_crit(Range::above(0.0)))
}

/// Manifest roots must be the roots walked here, by name.
fn roots_match(reference: &Manifest, names: &[String]) -> Option<Check> {
    let theirs: Vec<&str> = reference
        .header
        .roots
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let only_there: Vec<&str> = theirs
        .iter()
        .copied()
        .filter(|n| !names.iter().any(|m| m == n))
        .collect();
    let only_here: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !theirs.contains(n))
        .collect();
    if only_there.is_empty() && only_here.is_empty() {
        return None;
    }
    Some(Check::new(
        "roots",
        Status::Unknown,
        format!(
            "the manifest's roots ({}) are not the roots walked here ({}); name them alike with --root NAME=DIR",
            theirs.join(", "),
            names.join(", ")
        ),
    ))
}

enum Reference {
    None,
    Loaded(Box<Manifest>),
    Failed(Status, String),
}

fn load_reference(ctx: &mut Context, args: &CheckArgs) -> Reference {
    if let Some(path) = &args.manifest {
        return match manifest::read_path(path) {
            Ok(m) => Reference::Loaded(Box::new(m)),
            Err(e) => Reference::Failed(Status::Unknown, format!("bad manifest: {e}")),
        };
    }
    if let Some(label) = &args.manifest_label {
        let catalog = match open_catalog(ctx) {
            Ok(c) => c,
            Err(e) => {
                return Reference::Failed(Status::Unknown, format!("cannot open the catalog: {e}"))
            }
        };
        return match store::load_manifest(&catalog, label) {
            Err(e) => Reference::Failed(Status::Unknown, e.to_string()),
            Ok(None) => Reference::Failed(
                Status::Unknown,
                format!(
                    "no manifest with label {label:?} in {}",
                    catalog.path().display()
                ),
            ),
            Ok(Some((meta, body))) => match manifest::read(
                &format!("catalog manifest #{} ({label})", meta.id),
                &body[..],
            ) {
                Ok(m) => Reference::Loaded(Box::new(m)),
                Err(e) => Reference::Failed(Status::Unknown, format!("bad manifest: {e}")),
            },
        };
    }
    if args.remote {
        return match crate::remote::fetch(ctx, args) {
            Ok(m) => Reference::Loaded(Box::new(m)),
            Err((status, why)) => Reference::Failed(status, why),
        };
    }
    Reference::None
}

/// How long a check waits for a running sync of a generations folder.
const DEFAULT_SYNC_LOCK_WAIT: Duration = Duration::from_secs(600);

/// The generations locks of the roots, shared, so no sync moves `current`
/// or links into a generation while it is walked. `Err`: the check that
/// says why it could not be had.
fn sync_locks(
    plan: &roots::Plan,
    args: &CheckArgs,
) -> Result<Vec<maestro_common::sync_lock::SyncLock>, Box<Check>> {
    use maestro_common::sync_lock::{self, LockMode, SyncLock, SyncLockError};
    if args.sync_lock_held {
        return Ok(Vec::new());
    }
    let wait = args.sync_lock_wait.unwrap_or(DEFAULT_SYNC_LOCK_WAIT);
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    for r in &plan.roots {
        for p in [Some(&r.path), r.link.as_ref()].into_iter().flatten() {
            if let Some(lock) = sync_lock::guarding(p) {
                if !paths.contains(&lock) {
                    paths.push(lock);
                }
            }
        }
    }
    let mut held = Vec::new();
    for p in paths {
        match SyncLock::acquire(&p, LockMode::Shared, wait, false) {
            Ok(l) => held.push(l),
            Err(SyncLockError::Interrupted { .. }) => {
                return Err(Box::new(Check::new("sync-lock", Status::Unknown, "interrupted")))
            }
            Err(e) => {
                return Err(Box::new(Check::new(
                    "sync-lock",
                    Status::Unknown,
                    format!("a root lies in a maestro-sync generations folder and its lock could not be shared: {e}"),
                )))
            }
        }
    }
    Ok(held)
}

pub fn run(ctx: &mut Context, args: CheckArgs) -> Result<Report, ToolError> {
    run_with(ctx, args, None)
}

/// [`run`] for library callers that prepared the roots' hash caches
/// themselves (maestro-sync confirms the cached keys of a generation
/// before it links the next one from it, and sets the relink window).
pub fn run_with(
    ctx: &mut Context,
    args: CheckArgs,
    prepared: Option<std::collections::HashMap<String, store::RootCache>>,
) -> Result<Report, ToolError> {
    let plan = roots::plan(ctx, &args.walk)?;
    // The hash cache is written to the catalog: never inside a root.
    if let Ok(dir) = ctx.state_dir() {
        roots::refuse_writing_inside(&plan, &dir, "the state folder")?;
    }
    let verify = crate::config::verify_section(ctx.config()?)?;
    let max_skew = args
        .max_skew
        .or(verify.max_skew.map(|d| d.0))
        .unwrap_or(DEFAULT_MAX_SKEW);
    let partial_dirs: Vec<String> = if !args.partial_dirs.is_empty() {
        args.partial_dirs.clone()
    } else {
        verify
            .partial_dirs
            .clone()
            .unwrap_or_else(|| vec![".rsync-partial".to_string()])
    };
    let innodb_policy = args.innodb.or(verify.innodb).unwrap_or_default();
    let mut report = Report::new(NAME, Some("check"));

    let _locks = match sync_locks(&plan, &args) {
        Ok(l) => l,
        Err(c) => {
            if signal::interrupted() {
                return Err(ToolError::Interrupted);
            }
            report.push(*c);
            return Ok(report);
        }
    };
    let reference = load_reference(ctx, &args);
    let hash = matches!(reference, Reference::Loaded(_)) && !args.quick;
    let mut catalog = if hash { open_catalog(ctx).ok() } else { None };
    let caches = match prepared {
        Some(c) => c,
        None => load_caches(catalog.as_ref(), &plan, args.walk.rehash),
    };

    // Walk the replica.
    let started = Instant::now();
    let start_ns = time::now_ns();
    let mut entries: Vec<Entry> = Vec::new();
    let stats = walk::walk(
        &plan.roots,
        &plan.walk_options(hash, start_ns),
        &caches,
        |e| {
            entries.push(e);
            Ok(())
        },
    )
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::Interrupted => ToolError::Interrupted,
        _ => ToolError::Failed(anyhow::anyhow!("walking the roots: {e}")),
    })?;
    if let Some(catalog) = catalog.as_mut() {
        if let Err(e) = save_caches(catalog, &plan, &caches, &stats) {
            ctx.warn(format!("hash cache not updated: {e}"));
        }
    }
    let walked = Check::ok(
        "walk",
        format!(
            "{} entries in {} roots ({})",
            entries.len(),
            plan.roots.len(),
            plan.roots
                .iter()
                .map(walk::Root::shown)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .timed(started.elapsed())
    .detail("cache_hits", stats.cache_hits)
    .detail("relinked", stats.relinked)
    .detail("files_read", stats.files_read)
    .perf(Perfdata::count("entries", entries.len() as u64));
    report.push(walked);

    match &reference {
        Reference::None => {}
        Reference::Failed(status, why) => report.push(Check::new("manifest", *status, why.clone())),
        Reference::Loaded(m) => {
            report.push(manifest_check(m));
            report.push(torn_check("reference", m));
            let names: Vec<String> = plan.roots.iter().map(|r| r.name.clone()).collect();
            match roots_match(m, &names) {
                Some(c) => report.push(c),
                None => {
                    let systems = Systems::of(m.header.os_family(), std::env::consts::FAMILY);
                    let cmp = compare_across(&m.entries, &entries, args.quick, systems);
                    report.push(comparison_check(m, &cmp, "replica"));
                }
            }
        }
    }

    // The replica changing while checked: something still writes to it.
    let changing: Vec<&Entry> = entries.iter().filter(|e| e.torn.is_some()).collect();
    let mut live = if changing.is_empty() {
        Check::ok("changing", "nothing changed while checked")
    } else {
        Check::new(
            "changing",
            Status::Critical,
            format!(
                "{} entries changed while checked: something still writes to the replica",
                changing.len()
            ),
        )
    };
    for e in changing.iter().take(MAX_FINDINGS) {
        live.add_finding(
            Finding::new(
                Status::Critical,
                "changing",
                e.torn.clone().unwrap_or_default(),
            )
            .at(e.location()),
        );
    }
    report.push(live);
    report.push(intrinsic::unreadable(&entries, "here"));
    // What the primary's manifest lists is the primary's, whatever its
    // name: leftover rules judge only what it does not list.
    let listed = match &reference {
        Reference::Loaded(m) => Some(intrinsic::Listed::of(&m.entries)),
        _ => None,
    };
    report.push(intrinsic::leftovers(
        &entries,
        &partial_dirs,
        listed.as_ref(),
    ));
    report.push(intrinsic::skew(&plan, &entries, max_skew));
    report.push(intrinsic::symlink_loops(&plan, &entries));
    let mut myisam_elsewhere = Vec::new();
    for folder in intrinsic::innodb_dirs(&plan, &entries) {
        myisam_elsewhere.extend(crate::innodb::myisam_indexes_elsewhere(
            &folder.path,
            folder.linked,
        ));
        if crate::innodb::worth_checking(&folder.path) {
            report.push(crate::innodb::check(
                &folder.path,
                &folder.shown,
                innodb_policy,
            ));
        }
    }
    report.push(intrinsic::myisam(&plan, &entries, &myisam_elsewhere));
    Ok(report)
}

pub fn diff(args: DiffArgs) -> Result<Report, ToolError> {
    let mut report = Report::new(NAME, Some("diff"));
    let a = manifest::read_path(&args.a);
    let b = manifest::read_path(&args.b);
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            for r in [a, b] {
                match r {
                    Ok(m) => report.push(manifest_check(&m)),
                    Err(e) => report.push(Check::new(
                        "manifest",
                        Status::Unknown,
                        format!("bad manifest: {e}"),
                    )),
                }
            }
            return Ok(report);
        }
    };
    report.push(manifest_check(&a));
    report.push(manifest_check(&b));
    report.push(torn_check("torn A", &a));
    report.push(torn_check("torn B", &b));
    let names: Vec<String> = b.header.roots.iter().map(|r| r.name.clone()).collect();
    match roots_match(&a, &names) {
        Some(c) => report.push(c),
        None => {
            let systems = Systems::of(a.header.os_family(), b.header.os_family());
            let cmp = compare_across(&a.entries, &b.entries, args.quick, systems);
            report.push(comparison_check(&a, &cmp, &b.source_name));
        }
    }
    Ok(report)
}
