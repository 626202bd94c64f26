//! The receiving side of a run: `maestro-sync receive` over SSH (for
//! `push`), or in-process (for `pull`).
//!
//! It takes the generations lock for the whole run, refuses what must not
//! be replaced (a fenced failover, a held generation, a current generation
//! that changed since it was received), prepares the partial generation
//! (resuming a cut one), and when the sender has sent the data and then
//! the manifest, checks the generation against the manifest with
//! maestro-snapshot-verify's check. Only a generation that passed is
//! flushed to disk, renamed to its final name and made `current`; then
//! older generations are pruned.

use crate::carried::{ServerRsync, Sink};
use crate::generations::{self, Layout, Meta};
use crate::journal::{self, RunRecord};
use crate::manifest_delta;
use crate::proc::Cpu;
use crate::protocol::ServerRole;
use crate::protocol::{self, Command, PrepareRequest, Prepared, ReceiverReady};
use crate::settings::Settings;
use crate::stamp;
use crate::unchanged;
use maestro_common::cli::{Context, ToolError};
use maestro_common::perfdata::{Perfdata, Range};
use maestro_common::report::{Check, Finding, Report};
use maestro_common::sync_lock::{self, LockMode, SyncLock, SyncLockError};
use maestro_common::Status;
use maestro_snapshot_verify::cli::{CheckArgs, WalkArgs};
use maestro_snapshot_verify::store::{self, RootCache};
use maestro_snapshot_verify::time::now_ns;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const TOOL: &str = "maestro-sync";
/// The manifest's one root: the source, whatever its path on either side.
pub const ROOT: &str = "data";
/// Differences listed when the current generation changed.
const LISTED: usize = 20;

#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    pub reverse: bool,
    pub no_snapshot: bool,
    pub discard_changes: bool,
    pub from: String,
    pub deadline: Instant,
}

/// The hash cache key of the generations' data: the path an admin checks
/// (`check --root data=GENERATIONS/current/data`), so both share it.
pub fn cache_key(generations: &Path) -> String {
    generations
        .join(generations::CURRENT)
        .join(generations::DATA)
        .display()
        .to_string()
}

pub struct Receiver {
    settings: Settings,
    state_dir: PathBuf,
    layout: Layout,
    _lock: SyncLock,
    opts: ReceiveOptions,
    started_at: chrono::DateTime<chrono::Utc>,
    cpu0: Cpu,
    current: Option<String>,
    cache: Option<RootCache>,
    window_start_ns: i64,
    steps: BTreeMap<String, u64>,
    checks: Vec<Check>,
    prepared: Option<(PrepareRequest, generations::Prepared)>,
    /// What [`Receiver::look`] refuses the run for.
    refusal: Option<Check>,
    /// [`Receiver::look`] took current's btrfs stamp for the walk (the
    /// cached keys of its files were not confirmed).
    walk_skipped: bool,
    /// Current was changed since it was received and is replaced as
    /// `--discard-changes` asks: rsync's quick check (size and mtime in
    /// seconds) cannot be trusted against it, a file changed in place in
    /// the second the sender's was written looks unchanged.
    basis_changed: bool,
}

/// The result of opening: ready to receive, or the report of a refusal.
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    Ready(Receiver),
    Refused(Report),
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn refused(
    checks: Vec<Check>,
    last: Check,
    settings: &Settings,
    state_dir: &Path,
    opts: &ReceiveOptions,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Opened {
    let mut report = Report::new(TOOL, Some("receive"));
    for c in checks {
        report.push(c);
    }
    let message = last.message.clone();
    report.push(last);
    record(
        state_dir,
        settings,
        RunRecord {
            role: "receive".into(),
            direction: direction(opts.reverse).into(),
            peer: opts.from.clone(),
            started_at: started_at.to_rfc3339(),
            finished_at: chrono::Utc::now().to_rfc3339(),
            result: journal::REFUSED.into(),
            message,
            ..RunRecord::default()
        },
    );
    Opened::Refused(report)
}

pub fn direction(reverse: bool) -> &'static str {
    if reverse {
        "reverse"
    } else {
        "normal"
    }
}

/// Records a run; a catalog that cannot be written costs the record only.
fn record(state_dir: &Path, settings: &Settings, r: RunRecord) {
    if let Err(e) = journal::record(
        state_dir,
        &r,
        settings.lock_wait.max(Duration::from_secs(5)),
    ) {
        maestro_common::cli::diagnostic(TOOL, "warning", &format!("run not recorded: {e}"));
    }
}

/// Why a fenced failover refuses: the newest epoch of its fence journal is
/// a fence (whatever came of it: a fence under way or half done counts), or
/// an unfence that did not end unfenced.
fn fence_state(state_dir: &Path, wait: Duration) -> Result<Option<String>, String> {
    let journal =
        maestro_fence::journal::Journal::open_within(state_dir, wait).map_err(|e| e.to_string())?;
    let latest = journal.latest().map_err(|e| e.to_string())?;
    Ok(match latest {
        None => None,
        Some(row) if row.command == "unfence" && row.result == maestro_fence::journal::UNFENCED => None,
        Some(row) => Some(format!(
            "this server's fence journal ends with epoch {} ({} of {}, {}): it has taken over from the primary",
            row.epoch, row.command, row.primary_host, row.result
        )),
    })
}

impl Receiver {
    pub fn open(
        ctx: &mut Context,
        settings: &Settings,
        opts: ReceiveOptions,
    ) -> Result<Opened, ToolError> {
        let started_at = chrono::Utc::now();
        let cpu0 = Cpu::of_this_process();
        let state_dir = ctx.state_dir()?;
        let generations = settings
            .generations()
            .map_err(|e| ToolError::Usage(e.to_string()))?;
        let layout = Layout::new(generations);
        let mut checks = Vec::new();
        let fail = |checks: Vec<Check>, c: Check| {
            Ok(refused(checks, c, settings, &state_dir, &opts, started_at))
        };
        if let Err(e) = layout.ensure() {
            return fail(
                checks,
                Check::new("generations", Status::Unknown, e.to_string()),
            );
        }
        let wait = settings
            .lock_wait
            .min(opts.deadline.saturating_duration_since(Instant::now()));
        let mut lock = match SyncLock::acquire(
            &sync_lock::lock_file(generations),
            LockMode::Exclusive,
            wait,
            true,
        ) {
            Ok(l) => l,
            Err(SyncLockError::Interrupted { .. }) => return Err(ToolError::Interrupted),
            Err(e) => {
                return fail(
                    checks,
                    Check::new(
                        "target-lock",
                        Status::Critical,
                        format!(
                            "{e}: another run, a check or a Maestro start is using the generations"
                        ),
                    ),
                )
            }
        };
        lock.describe(&format!("maestro-sync receive from {}", opts.from));
        if !opts.reverse {
            match fence_state(&state_dir, wait) {
                Ok(None) => checks.push(Check::ok("fence-journal", "this server has not taken over (no fence in force in its journal)")),
                Ok(Some(why)) => {
                    return fail(
                        checks,
                        Check::new(
                            "fence-journal",
                            Status::Critical,
                            format!("refused: {why}; no sync from it is accepted until `maestro-fence unfence`"),
                        ),
                    )
                }
                Err(e) => {
                    return fail(
                        checks,
                        Check::new("fence-journal", Status::Critical, format!("refused: cannot read this server's fence journal: {e}")),
                    )
                }
            }
        }
        match layout.hold() {
            Ok(None) => {}
            Ok(Some(h)) => {
                return fail(
                    checks,
                    Check::new(
                        "hold",
                        Status::Critical,
                        format!(
                            "refused: generation {} is held (since {} on {}): Maestro runs from it; `maestro-sync release` after the failback",
                            h.generation, h.since, h.host
                        ),
                    ),
                )
            }
            Err(e) => return fail(checks, Check::new("hold", Status::Critical, format!("refused: {e}"))),
        }
        let strays = layout.stop_stray_rsyncs();
        if !strays.is_empty() {
            checks.push(Check::ok(
                "strays",
                format!(
                    "ended {} rsync process(es) of an earlier run still in {} (their sender is gone): {strays:?}",
                    strays.len(),
                    generations.display()
                ),
            ));
        }
        if let Err(e) = layout.clean_leftovers() {
            return fail(
                checks,
                Check::new("generations", Status::Unknown, e.to_string()),
            );
        }
        let current = match layout.current() {
            Ok(c) => c,
            Err(e) => {
                return fail(
                    checks,
                    Check::new("current", Status::Critical, format!("refused: {e}")),
                )
            }
        };
        // The hash cache of the generations' data, shared with the
        // admin's checks of `current`.
        // Its keys leave the device out: btrfs generations are subvolumes,
        // a device each (the check of a root in a generations folder does
        // the same).
        let cache = store::open(&state_dir)
            .ok()
            .and_then(|c| store::load_cache(&c, &cache_key(generations)).ok())
            .map(|mut c| {
                c.set_across_devices(true);
                c
            });
        Ok(Opened::Ready(Receiver {
            settings: settings.clone(),
            state_dir,
            layout,
            _lock: lock,
            opts,
            started_at,
            cpu0,
            current,
            cache,
            window_start_ns: now_ns(),
            steps: BTreeMap::new(),
            checks,
            prepared: None,
            refusal: None,
            walk_skipped: false,
            basis_changed: false,
        }))
    }

    /// Compares the current generation with its manifest (and confirms the
    /// cached keys of its files) before anything is linked from it. A
    /// current generation that changed since it was received refuses the
    /// run (`Err`: the report of the refusal), unless `--discard-changes`.
    /// Runs while the sending side takes its snapshot.
    pub fn look(&mut self) -> Result<(), ToolError> {
        self.look_with(true)
    }

    /// [`Receiver::look`]; `by_stamp`: a btrfs current generation whose
    /// stamp shows it unchanged is not walked.
    fn look_with(&mut self, by_stamp: bool) -> Result<(), ToolError> {
        let Some(cur) = self.current.clone() else {
            self.window_start_ns = now_ns();
            return Ok(());
        };
        let started = Instant::now();
        // A btrfs generation whose subvolume has not changed since it was
        // verified and made current needs no walk to show it (see
        // `stamp`); anything else is walked.
        let unchanged = by_stamp
            .then(|| {
                stamp::unchanged(
                    &self.layout.root,
                    stamp::STAMP_FILE,
                    &cur,
                    &self.layout.dir(&cur),
                )
            })
            .flatten();
        if let Some(s) = unchanged {
            self.steps.insert("look".into(), ms(started.elapsed()));
            self.window_start_ns = now_ns();
            self.walk_skipped = true;
            self.checks.push(
                Check::ok(
                    "current",
                    format!(
                        "{cur}: unchanged since it was made current (its btrfs subvolume's last change is still transaction {})",
                        s.transid
                    ),
                )
                .detail("generation", cur.clone())
                .detail("transid", s.transid)
                .timed(started.elapsed()),
            );
            return Ok(());
        }
        let layout = &self.layout;
        let manifest_path = layout.dir(&cur).join(generations::MANIFEST);
        let looked = maestro_snapshot_verify::manifest::read_path(&manifest_path)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                unchanged::look(
                    ROOT,
                    &layout.dir(&cur).join(generations::DATA),
                    &m,
                    self.cache.as_ref(),
                )
            });
        self.steps.insert("look".into(), ms(started.elapsed()));
        // Hard links made from now on are this run's.
        self.window_start_ns = now_ns();
        let discard = self.opts.discard_changes;
        match looked {
            Err(_) if maestro_common::signal::interrupted() => Err(ToolError::Interrupted),
            Err(e) => {
                self.refusal = Some(Check::new(
                    "current",
                    Status::Critical,
                    format!("refused: cannot compare the current generation {cur} with its manifest: {e}"),
                ));
                Ok(())
            }
            Ok(l) if l.deltas.is_empty() => {
                self.checks.push(
                    Check::ok(
                        "current",
                        format!("{cur}: {} entries, as received", l.entries),
                    )
                    .detail("generation", cur.clone())
                    .detail("confirmed", l.confirmed)
                    .timed(started.elapsed()),
                );
                Ok(())
            }
            Ok(l) => {
                let status = if discard {
                    Status::Warning
                } else {
                    Status::Critical
                };
                let mut c = Check::new("current", status, "");
                c.message = if discard {
                    format!("{cur} changed since it was received ({} differences); replaced as --discard-changes asks, its changes are lost", l.deltas.len())
                } else {
                    format!(
                        "refused: {cur} changed since it was received ({} differences): Maestro ran from it, or something wrote into it; a sync now would replace data the sender does not have. Send it back first (the failback), or run again with --discard-changes",
                        l.deltas.len()
                    )
                };
                for d in l.deltas.iter().take(LISTED) {
                    c.add_finding(
                        Finding::new(c.status, "changed", format!("{:?}", d.difference))
                            .at(d.location.clone()),
                    );
                }
                if discard {
                    self.checks.push(c);
                    self.basis_changed = true;
                } else {
                    self.refusal = Some(c);
                }
                Ok(())
            }
        }
    }

    /// The refusal [`Receiver::look`] found, as the run's report.
    pub fn refused(&mut self) -> Option<Report> {
        let c = self.refusal.take()?;
        if let Opened::Refused(r) = refused(
            std::mem::take(&mut self.checks),
            c,
            &self.settings,
            &self.state_dir,
            &self.opts,
            self.started_at,
        ) {
            return Some(r);
        }
        None
    }

    /// Where the data's rsync writes (the prepared partial generation's
    /// data, as `prepared` told the sender); `None` before `prepare`.
    pub fn rsync_destination(&self) -> Option<String> {
        self.prepared
            .as_ref()
            .map(|(_, p)| format!("{}/", p.path.join(generations::DATA).display()))
    }

    pub fn ready(&self) -> ReceiverReady {
        ReceiverReady {
            current: self.current.clone(),
            host: maestro_snapshot_verify::capture::host_name(),
        }
    }

    /// The partial generation for `req`.
    pub fn prepare(&mut self, req: PrepareRequest) -> Result<Prepared, Box<Check>> {
        if !generations::is_id(&req.id) {
            return Err(Box::new(Check::new(
                "prepare",
                Status::Unknown,
                format!("{:?} is not a generation's name", req.id),
            )));
        }
        if let Some(cur) = &self.current {
            if req.id.as_str() <= cur.as_str() {
                return Err(Box::new(Check::new(
                    "prepare",
                    Status::Critical,
                    format!(
                        "the new generation {} is not newer than the current one {cur}: the sender's clock went back; nothing replaced",
                        req.id
                    ),
                )));
            }
        }
        if req.consistent == self.opts.no_snapshot {
            return Err(Box::new(Check::new(
                "prepare",
                Status::Unknown,
                "the sender and this side disagree whether the generation is a point in time",
            )));
        }
        let p = self
            .layout
            .prepare(&req.id, self.current.as_deref())
            .map_err(|e| Box::new(Check::new("prepare", Status::Critical, e.to_string())))?;
        if self.walk_skipped && !p.snapshot {
            // The new generation gets current's files as hard links, which
            // changes their ctime: the hash cache needs their keys
            // confirmed first, by the walk the stamp stood in for.
            self.walk_skipped = false;
            self.checks.retain(|c| c.name != "current");
            if self.look_with(false).is_err() {
                return Err(Box::new(Check::new(
                    "prepare",
                    Status::Unknown,
                    "interrupted while comparing the current generation",
                )));
            }
            if let Some(c) = self.refusal.take() {
                return Err(Box::new(c));
            }
        }
        let gen = &self.layout.root;
        // A snapshot of current holds its files already; a new folder gets
        // them as hard links.
        let linked = self.current.as_ref().filter(|_| !p.snapshot);
        let answer = Prepared {
            partial: p.path.display().to_string(),
            data: format!("{}/", p.path.join(generations::DATA).display()),
            link_dest: linked.map(|c| {
                self.layout
                    .dir(c)
                    .join(generations::DATA)
                    .display()
                    .to_string()
            }),
            manifest_link_dest: linked.map(|c| gen.join(c).display().to_string()),
            partial_dir: p
                .path
                .join(generations::RSYNC_PARTIAL)
                .display()
                .to_string(),
            usage: p.path.join(generations::USAGE).display().to_string(),
            checksum: p.checksum || self.basis_changed,
            resumed: p.resumed.clone(),
            manifest_by_session: true,
            rsync_by_session: true,
            manifest_base: self.current.as_ref().and_then(|c| {
                std::fs::read(self.layout.dir(c).join(generations::MANIFEST))
                    .ok()
                    .map(|b| manifest_delta::sha256_hex(&b))
            }),
        };
        let mut c = Check::ok(
            "prepare",
            match (&p.resumed, p.snapshot) {
                (Some(old), _) if old != &req.id => {
                    format!("{} resumes the partial generation {old}", p.path.display())
                }
                (_, true) if p.staging => format!(
                    "{} is the btrfs subvolume the current generation was made from, unchanged since",
                    p.path.display()
                ),
                (_, true) => format!(
                    "{} is a btrfs snapshot of the current generation",
                    p.path.display()
                ),
                _ => format!("{} is new", p.path.display()),
            },
        )
        .detail("snapshot", p.snapshot)
        .detail("staging", p.staging);
        if let Some(why) = &p.staging_dropped {
            c.message
                .push_str(&format!("; the staging subvolume was removed: {why}"));
        }
        if p.checksum {
            c.message
                .push_str("; its last check failed, so content is compared this time");
        } else if self.basis_changed {
            c.message
                .push_str("; current was changed in place, so content is compared this time");
        }
        self.checks.push(c);
        self.prepared = Some((req, p));
        Ok(answer)
    }

    /// Takes the manifest over the session: `head`, then its delta's
    /// lines (see [`manifest_delta`]), rebuilt against the current
    /// generation's manifest and accepted only with the SHA-256 the sender
    /// stated. It replaces the partial generation's manifest.
    pub fn take_manifest(
        &mut self,
        head: manifest_delta::Head,
        mut next: impl FnMut() -> Result<String, String>,
    ) -> Result<(), String> {
        let started = Instant::now();
        let Some((_, prepared)) = &self.prepared else {
            return Err("the sender sent a manifest before it prepared a generation".into());
        };
        let partial = prepared.path.clone();
        let base = match (&head.base, &self.current) {
            (None, _) => None,
            (Some(_), None) => return Err("the sender's manifest copies from a base this side does not have (no current generation)".into()),
            (Some(sha), Some(cur)) => {
                let path = self.layout.dir(cur).join(generations::MANIFEST);
                let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                if &manifest_delta::sha256_hex(&text) != sha {
                    return Err(format!("the sender's manifest copies from a base other than {}", path.display()));
                }
                Some(text)
            }
        };
        let mut rebuild = manifest_delta::Rebuild::new(base.as_deref(), head.bytes);
        for _ in 0..head.lines {
            rebuild.line(&next()?).map_err(|e| e.to_string())?;
        }
        let text = rebuild.text;
        let sha = manifest_delta::sha256_hex(&text);
        if text.len() as u64 != head.bytes || sha != head.sha256 {
            return Err(format!(
                "the manifest arrived as {} bytes with SHA-256 {sha}, not the {} bytes with SHA-256 {} the sender stated",
                text.len(),
                head.bytes,
                head.sha256
            ));
        }
        // Flushed with the rest of the generation before it is renamed.
        let path = partial.join(generations::MANIFEST);
        let tmp = partial.join(generations::MANIFEST_TMP);
        std::fs::write(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.steps
            .insert("manifest_in".into(), ms(started.elapsed()));
        Ok(())
    }

    /// The end of a run that was not completed: the partial generation
    /// stays to be resumed, `current` is untouched.
    pub fn abort(self, why: &str, status: Status) -> Report {
        let mut report = Report::new(TOOL, Some("receive"));
        let dropped = self
            .prepared
            .as_ref()
            .and_then(|(r, _)| self.layout.drop_partly_sent_if_full(&r.id));
        let why = match dropped {
            Some(n) => format!(
                "{why}; the partly sent files ({} bytes) were dropped: they took more room than the file system has left",
                n
            ),
            None => why.to_string(),
        };
        let why = why.as_str();
        for c in self.checks {
            report.push(c);
        }
        report.push(Check::new(
            "generation",
            status,
            format!(
                "{why}; current unchanged ({}), the partial generation is kept to be resumed",
                self.current.as_deref().unwrap_or("none yet")
            ),
        ));
        record(
            &self.state_dir,
            &self.settings,
            RunRecord {
                role: "receive".into(),
                direction: direction(self.opts.reverse).into(),
                peer: self.opts.from.clone(),
                generation: self.prepared.as_ref().map(|(r, _)| r.id.clone()),
                started_at: self.started_at.to_rfc3339(),
                finished_at: chrono::Utc::now().to_rfc3339(),
                result: journal::FAILED.into(),
                message: why.to_string(),
                steps: self.steps,
                ..RunRecord::default()
            },
        );
        report
    }

    /// Checks the received generation against its manifest; when it
    /// passes, makes it final and current and prunes.
    pub fn finish(mut self, ctx: &mut Context) -> Report {
        let Some((req, prepared)) = self.prepared.take() else {
            return self.abort(
                "the sender asked to verify before it prepared a generation",
                Status::Unknown,
            );
        };
        let window_end_ns = now_ns();
        let rsync_cpu = crate::rsync_wrap::cpu_seconds(&prepared.path.join(generations::USAGE));
        let generations = self.layout.root.clone();
        let manifest = prepared.path.join(generations::MANIFEST);
        let mut caches = HashMap::new();
        if let Some(mut cache) = self.cache.take() {
            // Files hard-linked by this run's transfer have a new ctime
            // from inside this window and nothing else new.
            cache.set_relink_window(self.window_start_ns, window_end_ns);
            caches.insert(ROOT.to_string(), cache);
        }
        let args = CheckArgs {
            walk: WalkArgs {
                roots: vec![format!(
                    "{ROOT}={}",
                    prepared.path.join(generations::DATA).display()
                )],
                excludes: self.settings.exclude.clone(),
                rehash: false,
                threads: None,
                cache_keys: vec![(ROOT.to_string(), cache_key(&generations))],
                // btrfs generations are subvolumes, a device each, with
                // the inode numbers and times of the generation they were
                // made from.
                cache_across_devices: true,
            },
            manifest: Some(manifest.clone()),
            manifest_label: None,
            remote: false,
            remote_manifest: None,
            remote_timeout: None,
            accept_new_host_key: false,
            quick: false,
            max_skew: None,
            partial_dirs: Vec::new(),
            innodb: None,
            sync_lock_wait: None,
            sync_lock_held: true,
        };
        let started = Instant::now();
        let checked = if manifest.is_file() {
            maestro_snapshot_verify::check::run_with(ctx, args, Some(caches))
        } else {
            Err(ToolError::Usage(format!(
                "no manifest at {}: the sender did not send it",
                manifest.display()
            )))
        };
        self.steps.insert("verify".into(), ms(started.elapsed()));
        self.prepared = Some((req.clone(), prepared.clone()));
        let checked = match checked {
            Ok(r) => r,
            Err(ToolError::Interrupted) => {
                return self.abort("interrupted while checking", Status::Unknown)
            }
            Err(e) => {
                self.layout.mark_failed(&req.id, &e.to_string());
                return self.abort(
                    &format!("the generation could not be checked: {e}"),
                    Status::Critical,
                );
            }
        };
        let status = checked.status();
        let manifest_sha = checked
            .checks
            .iter()
            .find(|c| c.name == "manifest")
            .and_then(|c| c.details.get("sha256").cloned());
        let mut verify = Check::new(
            "verify",
            status,
            match status {
                Status::Ok => format!(
                    "{} matches the manifest of {} ({})",
                    req.id,
                    req.source_host,
                    checked.summary_line()
                ),
                _ => format!(
                    "{} does not pass its check: {}",
                    req.id,
                    checked.summary_line()
                ),
            },
        )
        .timed(started.elapsed());
        for c in checked.checks.iter().filter(|c| c.status != Status::Ok) {
            verify.add_finding(Finding::new(c.status, c.name.clone(), c.message.clone()));
            for f in c.findings.iter().take(LISTED) {
                verify.add_finding(f.clone());
            }
        }
        if let Some(w) = checked.checks.iter().find(|c| c.name == "walk") {
            for k in ["cache_hits", "relinked", "files_read"] {
                if let Some(v) = w.details.get(k) {
                    verify = verify.detail(k, v.clone());
                }
            }
        }
        let verify_message = verify.message.clone();
        self.checks.push(verify);
        if !matches!(status, Status::Ok | Status::Warning) {
            self.layout.mark_failed(&req.id, &verify_message);
            return self.abort("the generation failed its check", Status::Critical);
        }
        if maestro_common::signal::interrupted() {
            return self.abort(
                "interrupted before the generation was made current",
                Status::Unknown,
            );
        }
        // Final, then current.
        // The digest of the manifest the check read (not read again).
        let manifest_sha = manifest_sha
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let meta = Meta {
            format: generations::META_FORMAT.into(),
            version: 1,
            id: req.id.clone(),
            point_in_time: maestro_snapshot_verify::time::format_ns(req.point_in_time_ns),
            point_in_time_ns: req.point_in_time_ns,
            consistent: req.consistent,
            snapshot: req.snapshot.clone(),
            source_host: req.source_host.clone(),
            source: req.source.clone(),
            manifest_sha256: manifest_sha,
            verified_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            check_status: status.as_str().into(),
            check_message: verify_message,
        };
        let started = Instant::now();
        let finalized = self.layout.finalize(&req.id, &meta).and_then(|()| {
            // Right after the flush of the file system and the naming (a
            // rename, or on btrfs a snapshot, which commits): what the
            // next run compares current's stamp with.
            let stamp = stamp::committed(&req.id, &self.layout.dir(&req.id));
            self.layout.switch(&req.id).map(|()| stamp)
        });
        self.steps.insert("finalize".into(), ms(started.elapsed()));
        match finalized {
            Err(e) => {
                return self.abort(
                    &format!("the generation could not be made current: {e}"),
                    Status::Critical,
                )
            }
            // Without a record, the next run walks current.
            Ok(Some(s)) => {
                let _ = stamp::record(&self.layout.root, stamp::STAMP_FILE, &s);
            }
            Ok(None) => {}
        }
        let rpo_s = (now_ns() - req.point_in_time_ns).max(0) as f64 / 1e9;
        let mut generation = Check::new(
            "generation",
            if req.consistent {
                Status::Ok
            } else {
                Status::Warning
            },
            format!(
                "current -> {} (point in time {}{}){}",
                req.id,
                meta.point_in_time,
                if req.consistent {
                    ""
                } else {
                    ", NOT a point in time: taken without a snapshot"
                },
                match &self.current {
                    Some(old) => format!(", replacing {old}"),
                    None => String::new(),
                }
            ),
        )
        .detail("generation", req.id.clone())
        .detail("point_in_time", meta.point_in_time.clone())
        .detail("consistent", req.consistent)
        .detail("rpo_s", rpo_s);
        if let Some(old) = &self.current {
            generation = generation.detail("previous", old.clone());
        }
        self.checks.push(generation);
        // Prune.
        let started = Instant::now();
        let held: Vec<String> = self
            .layout
            .hold()
            .ok()
            .flatten()
            .map(|h| vec![h.generation])
            .unwrap_or_default();
        let pruned = self.layout.prune(self.settings.keep, &held);
        self.steps.insert("prune".into(), ms(started.elapsed()));
        self.checks.push(match pruned {
            Ok(p) if p.is_empty() => Check::ok(
                "prune",
                format!("nothing beyond the {} kept", self.settings.keep),
            ),
            Ok(p) => Check::ok(
                "prune",
                format!(
                    "removed {} beyond the {} kept: {}",
                    p.len(),
                    self.settings.keep,
                    p.join(", ")
                ),
            )
            .detail("pruned", serde_json::json!(p)),
            Err(e) => Check::new(
                "prune",
                Status::Warning,
                format!("older generations not pruned: {e}"),
            ),
        });
        let cpu = Cpu::of_this_process()
            .since(&self.cpu0)
            .total()
            .as_secs_f64()
            + rsync_cpu;
        let mut report = Report::new(TOOL, Some("receive"));
        let result = if self.checks.iter().any(|c| c.status != Status::Ok) {
            journal::WARNING
        } else {
            journal::OK
        };
        let summary = Check::ok("receive", format!("generation {} received", req.id))
            .detail("generation", req.id.clone())
            .detail("cpu_s", cpu)
            .detail("rsync_cpu_s", rsync_cpu)
            .detail("rpo_s", rpo_s)
            .detail("steps", serde_json::json!(self.steps))
            .perf(
                Perfdata::seconds("rpo", Duration::from_secs_f64(rpo_s))
                    .with_warn(Range::above(self.settings.rpo_warning.as_secs_f64()))
                    .with_crit(Range::above(self.settings.rpo_critical.as_secs_f64()))
                    .with_min(0.0),
            );
        for c in self.checks {
            report.push(c);
        }
        report.push(summary);
        record(
            &self.state_dir,
            &self.settings,
            RunRecord {
                role: "receive".into(),
                direction: direction(self.opts.reverse).into(),
                peer: self.opts.from.clone(),
                generation: Some(req.id.clone()),
                point_in_time: Some(meta.point_in_time),
                point_in_time_ns: Some(req.point_in_time_ns),
                consistent: Some(req.consistent),
                started_at: self.started_at.to_rfc3339(),
                finished_at: chrono::Utc::now().to_rfc3339(),
                result: result.into(),
                message: format!("current -> {}", req.id),
                steps: self.steps,
                cpu_target_s: Some(cpu),
                rpo_s: Some(rpo_s),
                ..RunRecord::default()
            },
        );
        report
    }
}

/// `maestro-sync receive`: the receiving side, talking to the sender over
/// stdin and stdout.
pub fn run(
    ctx: &mut Context,
    settings: &Settings,
    args: crate::cli::ReceiveArgs,
) -> Result<Report, ToolError> {
    let deadline = Instant::now() + args.deadline.unwrap_or(settings.deadline);
    let opts = ReceiveOptions {
        reverse: args.reverse,
        no_snapshot: args.no_snapshot,
        discard_changes: args.discard_changes,
        from: args.from.clone().unwrap_or_else(|| "unknown".into()),
        deadline,
    };
    let mut rx = match Receiver::open(ctx, settings, opts)? {
        Opened::Refused(r) => return Ok(r),
        Opened::Ready(rx) => rx,
    };
    let frames = Sink::default();
    let lines = stdin_lines(frames.clone());
    // The data's rsync, when the sender has this side run it.
    let mut rsync: Option<ServerRsync> = None;
    // Is current still as received? While the sender takes its snapshot
    // (after `ready`), or, when the sender took it already, before.
    if !args.look_first {
        say(&protocol::message("ready", &rx.ready()));
    }
    rx.look()?;
    if let Some(report) = rx.refused() {
        return Ok(report);
    }
    if args.look_first {
        say(&protocol::message("ready", &rx.ready()));
    }
    // The sender speaks at least every few seconds while it works; a
    // longer silence is a sender that died with its connection open (a
    // pulled cable: nothing closes the connection here for a long time).
    let silence = Settings::silence_for(args.alive_every.unwrap_or_else(|| settings.alive_every()));
    let end: Result<(), (String, Status)> = loop {
        // While this side's rsync runs, the sender's words may wait behind
        // rsync's stream: rsync's own --timeout ends a stalled transfer.
        let line = match next_line(&lines, silence, deadline, &|| ServerRsync::runs(&rsync)) {
            Ok(l) => l,
            Err(why) => {
                let status = if maestro_common::signal::interrupted() {
                    Status::Unknown
                } else {
                    Status::Critical
                };
                break Err((why, status));
            }
        };
        if maestro_common::signal::interrupted() {
            break Err(("interrupted".into(), Status::Unknown));
        }
        match Command::parse(&line) {
            Some(Command::Alive) => {}
            Some(Command::Prepare(req)) => match rx.prepare(req) {
                Ok(p) => say(&protocol::message("prepared", &p)),
                Err(c) => {
                    let status = c.status;
                    let why = c.message.clone();
                    rx.checks.push(*c);
                    break Err((why, status));
                }
            },
            Some(Command::Rsync(h)) => {
                if rsync.is_some() {
                    break Err((
                        "the sender asked for a second rsync".into(),
                        Status::Critical,
                    ));
                }
                let Some(destination) = rx.rsync_destination() else {
                    break Err((
                        "the sender asked for rsync before it prepared a generation".into(),
                        Status::Critical,
                    ));
                };
                match ServerRsync::start(
                    &h,
                    &ServerRole::Receiver { destination },
                    &frames,
                    deadline,
                ) {
                    Ok(r) => rsync = Some(r),
                    Err(why) => break Err((format!("the data: {why}"), Status::Critical)),
                }
            }
            Some(Command::Manifest(head)) => {
                if let Err(why) =
                    rx.take_manifest(head, || next_line(&lines, silence, deadline, &|| false))
                {
                    break Err((format!("the manifest: {why}"), Status::Critical));
                }
            }
            // Never a check while the data's rsync still writes: what it
            // passed could change after.
            Some(Command::Go) if ServerRsync::runs(&rsync) => {
                break Err((
                    "the sender asked for the check while its rsync still runs here".into(),
                    Status::Critical,
                ))
            }
            Some(Command::Go) => break Ok(()),
            Some(Command::Abort) => {
                break Err(("the sender stopped the run".into(), Status::Critical))
            }
            None => {}
        }
    };
    // The data's rsync is gone before anything else, the lock let go last:
    // no rsync writes into a generation nobody holds.
    if let Some(r) = rsync.take() {
        r.stop();
    }
    Ok(match end {
        Ok(()) => rx.finish(ctx),
        Err((why, status)) => rx.abort(&why, status),
    })
}

/// The next line from the other side, at most `silence` after the last
/// one and before `deadline`; a stop (SIGTERM from maestro-fence, which
/// takes the generations over) is noticed within a tenth of a second.
pub(crate) fn next_line(
    lines: &std::sync::mpsc::Receiver<Option<String>>,
    silence: Duration,
    deadline: Instant,
    busy: &dyn Fn() -> bool,
) -> Result<String, String> {
    let mut quiet_since = Instant::now();
    loop {
        if maestro_common::signal::interrupted() {
            return Err("interrupted (stopped by a signal)".into());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err("the run's deadline passed".into());
        }
        // Busy (this side's rsync runs): no silence counts.
        if busy() {
            quiet_since = now;
        }
        if now.duration_since(quiet_since) >= silence {
            return Err(format!(
                "no word from the other side for {}s",
                silence.as_secs()
            ));
        }
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(l)) => return Ok(l),
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the other side went away (its connection closed)".into())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// A protocol line on stdout, at once.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// stdin's lines through a channel (`None` at its end), so the waits can
/// be bounded and notice a stop. Frames of rsync's stream (see
/// [`crate::carried`]) go to `frames` instead.
pub(crate) fn stdin_lines(frames: Sink) -> std::sync::mpsc::Receiver<Option<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut buf = Vec::new();
            match std::io::Read::take(&mut lock, 1 << 20).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    match frames.take_frame(&buf, "", &mut lock) {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(_) => break,
                    }
                    // rsync's first frames follow its command at once,
                    // while it is being started: kept for it.
                    if buf.starts_with(b"rsync ") {
                        frames.hold();
                    }
                    if tx
                        .send(Some(String::from_utf8_lossy(&buf).trim().to_string()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(None);
    });
    rx
}
