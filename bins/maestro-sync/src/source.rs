//! The sending side of a run: in-process for `push`, `maestro-sync serve`
//! over SSH for `pull`. It refuses on a fenced primary, takes the point in
//! time, and captures its manifest with maestro-snapshot-verify's capture
//! (the library, in this process) into the state folder, from where it is
//! sent after the data. The snapshot is kept until the transfer ends.

use crate::generations;
use crate::proc::Cpu;
use crate::protocol::{self, Command, PrepareRequest, SourceReady};
use crate::receive::{direction, ROOT, TOOL};
use crate::settings::Settings;
use crate::snapshot::{self, Facts, Taken};
use maestro_common::cli::{Context, ToolError};
use maestro_common::report::{Check, Report};
use maestro_common::sync_lock::{LockMode, SyncLock, SyncLockError};
use maestro_common::Status;
use maestro_snapshot_verify::cli::{CaptureArgs, WalkArgs};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The last run's manifest, beside the new one.
const PREVIOUS_MANIFEST: &str = "manifest.previous.jsonl";

/// The sending side's own folder in the state folder.
pub fn outgoing(state_dir: &Path) -> PathBuf {
    state_dir.join("maestro-sync")
}

#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub reverse: bool,
    pub no_snapshot: bool,
    pub deadline: Instant,
}

pub struct Source {
    pub request: PrepareRequest,
    pub taken: Taken,
    pub manifest: PathBuf,
    /// The manifest of the run before (see [`crate::manifest_delta`]).
    pub previous_manifest: PathBuf,
    pub usage: PathBuf,
    pub steps: BTreeMap<String, u64>,
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
    settings: Settings,
    /// The check of the snapshot's release, once released.
    released: Option<Check>,
    _lock: SyncLock,
}

pub enum Opened {
    Ready(Box<Source>),
    Refused(Vec<Check>),
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The fence writes its marker on the primary: a fenced primary sends
/// nothing (also when the marker cannot be read).
pub fn marker_check(settings: &Settings) -> Result<Check, Box<Check>> {
    match std::fs::symlink_metadata(&settings.marker_file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Check::ok(
            "marker",
            format!("not fenced: no marker at {}", settings.marker_file.display()),
        )),
        Ok(_) => Err(Box::new(Check::new(
            "marker",
            Status::Critical,
            format!(
                "refused: this server is fenced (the marker {} is there): the failover has taken over, and this data must not replace its replica",
                settings.marker_file.display()
            ),
        ))),
        Err(e) => Err(Box::new(Check::new(
            "marker",
            Status::Critical,
            format!(
                "refused: cannot tell whether this server is fenced ({}: {e})",
                settings.marker_file.display()
            ),
        ))),
    }
}

impl Source {
    pub fn open(
        ctx: &mut Context,
        settings: &Settings,
        opts: &SourceOptions,
    ) -> Result<Opened, ToolError> {
        let state_dir = ctx.state_dir()?;
        let dir = outgoing(&state_dir);
        let mut checks = Vec::new();
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
        {
            return Ok(Opened::Refused(vec![Check::new(
                "source",
                Status::Unknown,
                format!("cannot create {}: {e}", dir.display()),
            )]));
        }
        let wait = settings
            .lock_wait
            .min(opts.deadline.saturating_duration_since(Instant::now()));
        let mut lock =
            match SyncLock::acquire(&dir.join("source.lock"), LockMode::Exclusive, wait, true) {
                Ok(l) => l,
                Err(SyncLockError::Interrupted { .. }) => return Err(ToolError::Interrupted),
                Err(e) => {
                    return Ok(Opened::Refused(vec![Check::new(
                        "source-lock",
                        Status::Critical,
                        format!("{e}: another run sends from here"),
                    )]))
                }
            };
        lock.describe("maestro-sync (sending side)");
        if !opts.reverse {
            match marker_check(settings) {
                Ok(c) => checks.push(c),
                Err(c) => return Ok(Opened::Refused(vec![*c])),
            }
        }
        let kind = settings
            .snapshot_for_run(opts.no_snapshot)
            .map_err(|e| ToolError::Usage(e.to_string()))?;
        let source = std::fs::canonicalize(&settings.source).map_err(|e| {
            ToolError::Usage(format!("sync.source {}: {e}", settings.source.display()))
        })?;
        let plan = Facts::detect(settings, kind, &source)
            .and_then(|f| snapshot::plan(settings, kind, &source, &f))
            .map_err(|e| {
                ToolError::Usage(format!("[sync] snapshot = \"{}\": {e}", kind.as_str()))
            })?;
        let started = Instant::now();
        let left = opts.deadline.saturating_duration_since(Instant::now());
        let taken = match snapshot::take(plan, settings, left) {
            Ok(t) => t,
            Err(e) => {
                if maestro_common::signal::interrupted() {
                    return Err(ToolError::Interrupted);
                }
                return Ok(Opened::Refused(vec![Check::new(
                    "snapshot",
                    Status::Critical,
                    e.message,
                )
                .detail("ran", serde_json::json!(e.ran))]));
            }
        };
        let mut steps = BTreeMap::new();
        steps.insert("snapshot".to_string(), ms(started.elapsed()));
        let id = generations::id_for(taken.taken_at_ns);
        let point_in_time = maestro_snapshot_verify::time::format_ns(taken.taken_at_ns);
        let mut snap = Check::new(
            "snapshot",
            if taken.point_in_time() {
                Status::Ok
            } else {
                Status::Warning
            },
            if taken.point_in_time() {
                format!(
                    "{} snapshot of {} at {point_in_time}, read at {}",
                    kind.as_str(),
                    source.display(),
                    taken.plan.data.display()
                )
            } else {
                format!(
                    "no snapshot (--no-snapshot): {} is copied live, NOT a point in time",
                    source.display()
                )
            },
        )
        .timed(started.elapsed())
        .detail("point_in_time", point_in_time.clone())
        .detail("ran", serde_json::json!(taken.ran));
        let mut warnings = Vec::new();
        if let Some(u) = &taken.unquiesce_failed {
            snap.status = Status::Critical;
            snap.message = format!(
                "{}; but {u}: Maestro's writers may still be paused",
                snap.message
            );
            warnings.push(u.clone());
        }
        checks.push(snap);
        // The manifest, with the library's capture.
        let manifest = dir.join("outgoing").join(generations::MANIFEST);
        if let Some(parent) = manifest.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // The manifest sent last: the base the new one goes as a delta
        // against, when the receiving side holds it too.
        let previous_manifest = dir.join("outgoing").join(PREVIOUS_MANIFEST);
        let _ = std::fs::rename(&manifest, &previous_manifest);
        let usage = dir.join("rsync-usage.jsonl");
        let _ = std::fs::remove_file(&usage);
        let consistent = taken.point_in_time();
        let args = CaptureArgs {
            walk: WalkArgs {
                roots: vec![format!("{ROOT}={}", taken.plan.data.display())],
                excludes: settings.exclude.clone(),
                rehash: false,
                threads: None,
                // The snapshot is a new device (and, for btrfs, a new path)
                // each time: the cache follows the source instead.
                cache_keys: vec![(
                    ROOT.to_string(),
                    format!("maestro-sync:{}", source.display()),
                )],
                cache_across_devices: true,
            },
            out: Some(manifest.clone()),
            label: Some("maestro-sync".into()),
            from_snapshot: consistent,
            no_catalog_copy: true,
        };
        let started = Instant::now();
        let captured = maestro_snapshot_verify::capture::run(ctx, args);
        steps.insert("capture".to_string(), ms(started.elapsed()));
        let mut source_state = Source {
            request: PrepareRequest {
                id,
                point_in_time_ns: taken.taken_at_ns,
                consistent,
                snapshot: kind.as_str().into(),
                source_host: maestro_snapshot_verify::capture::host_name(),
                source: source.display().to_string(),
            },
            taken,
            manifest,
            previous_manifest,
            usage,
            steps,
            checks,
            warnings,
            settings: settings.clone(),
            released: None,
            _lock: lock,
        };
        let report = match captured {
            Ok(r) => r,
            Err(e) => {
                let _ = source_state.taken.release(settings);
                if matches!(e, ToolError::Interrupted) {
                    return Err(e);
                }
                source_state.checks.push(Check::new(
                    "capture",
                    Status::Critical,
                    format!("the manifest could not be captured: {e}"),
                ));
                return Ok(Opened::Refused(source_state.checks));
            }
        };
        let status = report.status();
        let mut capture = Check::new(
            "capture",
            status,
            report
                .checks
                .iter()
                .find(|c| c.name == "capture")
                .map(|c| c.message.clone())
                .unwrap_or_else(|| report.summary_line()),
        )
        .timed(started.elapsed());
        for c in report.checks.iter().filter(|c| c.status != Status::Ok) {
            capture.add_finding(maestro_common::Finding::new(
                c.status,
                c.name.clone(),
                c.message.clone(),
            ));
        }
        if let Some(c) = report.checks.iter().find(|c| c.name == "capture") {
            for k in ["sha256", "files_read", "cache_hits", "bytes_read"] {
                if let Some(v) = c.details.get(k) {
                    capture = capture.detail(k, v.clone());
                }
            }
        }
        source_state.checks.push(capture);
        if matches!(status, Status::Critical | Status::Unknown) {
            let _ = source_state.taken.release(settings);
            return Ok(Opened::Refused(source_state.checks));
        }
        Ok(Opened::Ready(Box::new(source_state)))
    }

    /// Removes the snapshot; the check of it.
    pub fn release(&mut self) -> Check {
        if let Some(c) = &self.released {
            return c.clone();
        }
        let c = self.release_now();
        self.released = Some(c.clone());
        c
    }

    fn release_now(&mut self) -> Check {
        let started = Instant::now();
        let r = self.taken.release(&self.settings);
        self.steps.insert("release".into(), ms(started.elapsed()));
        match r {
            Ok(()) if self.taken.plan.release.is_empty() => {
                Check::ok("release", "nothing to release")
            }
            Ok(()) => Check::ok("release", "the snapshot is removed").timed(started.elapsed()),
            Err(e) => Check::new(
                "release",
                Status::Warning,
                format!("{e} (the next run removes it first)"),
            ),
        }
    }

    pub fn ready(&self) -> SourceReady {
        SourceReady {
            request: self.request.clone(),
            data: format!("{}/", self.taken.plan.data.display()),
            manifest: self.manifest.display().to_string(),
            usage: self.usage.display().to_string(),
            steps: self.steps.clone(),
            warnings: self.warnings.clone(),
            rsync_by_session: true,
        }
    }
}

/// `maestro-sync serve`: the sending side for a `pull`, over stdin/stdout.
pub fn run(
    ctx: &mut Context,
    settings: &Settings,
    args: crate::cli::ServeArgs,
) -> Result<Report, ToolError> {
    let started_at = chrono::Utc::now();
    let cpu0 = Cpu::of_this_process();
    let deadline = Instant::now() + args.deadline.unwrap_or(settings.deadline);
    let opts = SourceOptions {
        reverse: args.reverse,
        no_snapshot: args.no_snapshot,
        deadline,
    };
    let mut report = Report::new(TOOL, Some("serve"));
    let state_dir = ctx.state_dir()?;
    let record = |result: &str,
                  message: String,
                  generation: Option<String>,
                  steps: BTreeMap<String, u64>,
                  cpu: f64| {
        let r = crate::journal::RunRecord {
            role: "serve".into(),
            direction: direction(args.reverse).into(),
            peer: "puller".into(),
            generation,
            started_at: started_at.to_rfc3339(),
            finished_at: chrono::Utc::now().to_rfc3339(),
            result: result.into(),
            message,
            steps,
            cpu_source_s: Some(cpu),
            ..Default::default()
        };
        let _ = crate::journal::record(
            &state_dir,
            &r,
            settings.lock_wait.max(Duration::from_secs(5)),
        );
    };
    let mut source = match Source::open(ctx, settings, &opts)? {
        Opened::Refused(checks) => {
            let message = checks.last().map(|c| c.message.clone()).unwrap_or_default();
            for c in checks {
                report.push(c);
            }
            record(crate::journal::REFUSED, message, None, BTreeMap::new(), 0.0);
            return Ok(report);
        }
        Opened::Ready(s) => s,
    };
    let frames = crate::carried::Sink::default();
    let lines = crate::receive::stdin_lines(frames.clone());
    crate::receive::say(&protocol::message("ready", &source.ready()));
    let silence = Settings::silence_for(args.alive_every.unwrap_or_else(|| settings.alive_every()));
    // The data's rsync, when the receiving side has this side run it; it
    // reads the snapshot, so it ends before the snapshot is released.
    let mut rsync: Option<crate::carried::ServerRsync> = None;
    let role = crate::protocol::ServerRole::Sender {
        source: source.ready().data,
    };
    let outcome = loop {
        let runs = || crate::carried::ServerRsync::runs(&rsync);
        match crate::receive::next_line(&lines, silence, deadline, &runs) {
            Ok(l) => match Command::parse(&l) {
                Some(Command::Go) => break Ok(()),
                Some(Command::Abort) => break Err("the receiving side stopped the run".to_string()),
                Some(Command::Rsync(_)) if rsync.is_some() => {
                    break Err("the receiving side asked for a second rsync".to_string())
                }
                Some(Command::Rsync(h)) => {
                    match crate::carried::ServerRsync::start(&h, &role, &frames, deadline) {
                        Ok(r) => rsync = Some(r),
                        Err(why) => break Err(format!("the data: {why}")),
                    }
                }
                _ => {}
            },
            Err(why) => break Err(why),
        }
    };
    // rsync reads the snapshot: gone before the snapshot is released.
    if let Some(r) = rsync.take() {
        r.stop();
    }
    let release = source.release();
    let rsync_cpu = crate::rsync_wrap::cpu_seconds(&source.usage);
    let cpu = Cpu::of_this_process().since(&cpu0).total().as_secs_f64() + rsync_cpu;
    let generation = Some(source.request.id.clone());
    let steps = source.steps.clone();
    for c in std::mem::take(&mut source.checks) {
        report.push(c);
    }
    report.push(release);
    match outcome {
        Ok(()) => {
            report.push(
                Check::ok("serve", format!("{} served", source.request.id))
                    .detail("cpu_s", cpu)
                    .detail("rsync_cpu_s", rsync_cpu)
                    .detail("steps", serde_json::json!(steps)),
            );
            record(crate::journal::OK, "served".into(), generation, steps, cpu);
        }
        Err(why) => {
            report.push(Check::new("serve", Status::Critical, why.clone()).detail("cpu_s", cpu));
            record(crate::journal::FAILED, why, generation, steps, cpu);
        }
    }
    Ok(report)
}
