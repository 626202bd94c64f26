//! `push` and `pull`: one run, from the point in time to the new current
//! generation, driven from the sending side (`push`) or from the receiving
//! side (`pull`). The other side runs over SSH (`receive` or `serve`), the
//! data goes by rsync over SSH, then the manifest (over the session, or by
//! rsync), and the run is recorded
//! on the side that drove it.

use crate::carried;
use crate::cli::RunArgs;
use crate::journal::{self, RunRecord};
use crate::manifest_delta;
use crate::proc::{self, Cpu, ProcError, Session, SessionError, Spec};
use crate::protocol::{self, Command, Incoming, Prepared, SourceReady};
use crate::receive::{self, direction, Opened as RxOpened, ReceiveOptions, Receiver, TOOL};
use crate::remote_report;
use crate::settings::{Peer, PeerRole, Settings};
use crate::snapshot::{self, Facts};
use crate::source::{self, Opened as SourceOpened, Source, SourceOptions};
use crate::transfer::{self, Rsync, Stats};
use maestro_common::cli::{Context, ToolError};
use maestro_common::perfdata::{Perfdata, Range, Uom};
use maestro_common::report::{Check, Report};
use maestro_common::Status;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn usage<E: std::fmt::Display>(e: E) -> ToolError {
    ToolError::Usage(e.to_string())
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// How often this side tells the other it is alive while it works.
fn keepalive_period(settings: &Settings) -> Duration {
    settings.alive_every()
}

/// The other side of a run, over SSH.
struct Remote {
    session: Session,
    /// Its report's records, as they came.
    records: Vec<serde_json::Value>,
    /// Lines that were neither (for a message when it fails).
    noise: Vec<String>,
}

/// Why the other side did not say what was waited for.
enum Ended {
    /// It ended (refused, failed): its report is in the records.
    Finished,
    Timeout(String),
    Interrupted,
}

impl Remote {
    fn start(spec: &Spec, keepalive: Duration) -> Result<Remote, ProcError> {
        let mut session = Session::start(spec)?;
        session.keepalive(keepalive);
        Ok(Remote {
            session,
            records: Vec::new(),
            noise: Vec::new(),
        })
    }

    /// Waits for the message `word`, keeping report records that come.
    fn expect(&mut self, word: &str, deadline: Instant) -> Result<serde_json::Value, Ended> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.session.read_line(left) {
                Ok(Some(line)) => match protocol::classify(&line) {
                    Incoming::Message(w, v) if w == word => return Ok(v),
                    Incoming::Message(_, _) => {}
                    Incoming::Record(v) => self.records.push(v),
                    Incoming::Other(l) => {
                        if self.noise.len() < 20 && !l.trim().is_empty() {
                            self.noise.push(l);
                        }
                    }
                },
                Ok(None) => return Err(Ended::Finished),
                Err(SessionError::Interrupted) => return Err(Ended::Interrupted),
                Err(SessionError::Timeout { after, .. }) => {
                    return Err(Ended::Timeout(format!(
                        "no answer within {}s",
                        after.as_secs()
                    )))
                }
            }
        }
    }

    /// Reads to the end of its output (its report).
    fn drain(&mut self, deadline: Instant) -> Result<(), Ended> {
        match self.expect("\u{0}never", deadline) {
            Ok(_) => Ok(()),
            Err(Ended::Finished) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn send(&self, c: &Command) -> bool {
        self.session.send(&c.line()).is_ok()
    }

    /// How its rsync ended (`maestro-sync: rsync-end`), at most `within`
    /// after rsync here (which ends only after the other side's output).
    fn rsync_end(
        &mut self,
        within: Duration,
        deadline: Instant,
    ) -> Result<proc::Finished, ProcError> {
        let what = "the other side's rsync";
        let unaccounted = |why: String| ProcError::Unaccounted {
            what: what.into(),
            why,
        };
        match self.expect("rsync-end", deadline.min(Instant::now() + within)) {
            Ok(v) => serde_json::from_value::<protocol::RsyncEnded>(v)
                .map(|e| carried::ended(&e))
                .map_err(|e| unaccounted(format!("its end: {e}"))),
            Err(Ended::Interrupted) => Err(ProcError::Interrupted {
                program: what.into(),
            }),
            Err(Ended::Finished) => Err(unaccounted(
                "the session ended before it said how it ended".into(),
            )),
            Err(Ended::Timeout(why)) => Err(unaccounted(format!("how it ended: {why}"))),
        }
    }

    /// Ends the session; the check that says what became of it, when the
    /// other side did not answer with a report.
    fn end(mut self, what: &str) -> (Vec<serde_json::Value>, Option<Check>) {
        self.session.close_stdin();
        let finished = self.session.finish(Duration::from_secs(10));
        if remote_report::summary_status(&self.records).is_some() {
            return (self.records, None);
        }
        let why = match finished {
            Ok(f) => {
                let tail = f.tail();
                let tail = if tail.is_empty() {
                    self.noise.join(" / ")
                } else {
                    tail
                };
                format!("{what} ended without a report ({}): {tail}", f.how())
            }
            Err(e) => format!("{what}: {e}"),
        };
        (
            self.records,
            Some(Check::new("session", Status::Critical, why)),
        )
    }
}

/// The rsync of the data, then of the manifest.
struct Sent {
    data: Stats,
    manifest: Stats,
}

fn rsync_check(
    name: &str,
    result: &Result<proc::Finished, ProcError>,
    what: &str,
) -> (Check, Stats) {
    match result {
        Ok(f) if f.success() => {
            let s = transfer::parse_stats(&f.stdout);
            let linked = s.regular_files.saturating_sub(s.transferred);
            let c = Check::ok(
                name,
                format!(
                    "{what}: {} bytes sent, {} of {} files sent, {} hard-linked or already there, in {:.1}s",
                    s.bytes_sent,
                    s.transferred,
                    s.regular_files,
                    linked,
                    f.elapsed.as_secs_f64()
                ),
            )
            .timed(f.elapsed)
            .detail("stats", serde_json::json!(s))
            .perf(Perfdata::new(format!("{name}_bytes"), s.bytes_sent as f64, Uom::Bytes))
            .perf(Perfdata::seconds(format!("{name}_time"), f.elapsed));
            (c, s)
        }
        Ok(f) => (
            Check::new(
                name,
                Status::Critical,
                format!("{what}: rsync failed ({}): {}", f.how(), f.tail()),
            )
            .timed(f.elapsed),
            transfer::parse_stats(&f.stdout),
        ),
        Err(e) => (
            Check::new(name, Status::Critical, format!("{what}: {e}")),
            Stats::default(),
        ),
    }
}

/// What both drivers gather into the report and the journal.
struct Outcome {
    report: Report,
    record: RunRecord,
    cpu0: Cpu,
    settings: Settings,
}

impl Outcome {
    fn push_checks(&mut self, checks: Vec<Check>) {
        for c in checks {
            self.report.push(c);
        }
    }

    fn steps(&mut self, steps: &BTreeMap<String, u64>) {
        for (k, v) in steps {
            self.record.steps.insert(k.clone(), *v);
        }
    }

    /// Takes what the receiving side's report says about the generation.
    fn target_details(&mut self, records: &[serde_json::Value]) {
        for r in records {
            let details = &r["details"];
            match r["name"].as_str() {
                Some("receive") => {
                    self.record.cpu_target_s = details["cpu_s"].as_f64();
                    if let Some(steps) = details["steps"].as_object() {
                        for (k, v) in steps {
                            if let Some(n) = v.as_u64() {
                                self.record.steps.insert(k.clone(), n);
                            }
                        }
                    }
                }
                Some("generation") if r["type"] == "check" => {
                    self.record.rpo_s = details["rpo_s"].as_f64();
                }
                _ => {}
            }
        }
    }

    fn sent(&mut self, sent: &Sent) {
        let mut all = sent.data;
        all.add(&sent.manifest);
        self.record.bytes_sent = all.bytes_sent;
        self.record.bytes_received = all.bytes_received;
        self.record.files = sent.data.regular_files;
        self.record.files_transferred = sent.data.transferred;
        self.record.files_linked = sent
            .data
            .regular_files
            .saturating_sub(sent.data.transferred);
    }

    /// The RPO after the run, the run's verdict, the journal.
    fn finish(mut self, made: bool, state_dir: &std::path::Path, local_is_source: bool) -> Report {
        let cpu = Cpu::of_this_process()
            .since(&self.cpu0)
            .total()
            .as_secs_f64();
        if local_is_source {
            self.record.cpu_source_s = Some(cpu);
        } else {
            self.record.cpu_target_s = Some(cpu);
        }
        let s = &self.settings;
        if let Some(rpo) = self.record.rpo_s.filter(|_| made) {
            let status = if rpo > s.rpo_critical.as_secs_f64() {
                Status::Critical
            } else if rpo > s.rpo_warning.as_secs_f64() {
                Status::Warning
            } else {
                Status::Ok
            };
            self.report.push(
                Check::new(
                    "rpo",
                    status,
                    format!(
                        "the new current generation is {} old (warning above {}, critical above {})",
                        humantime::format_duration(Duration::from_secs(rpo as u64)),
                        humantime::format_duration(s.rpo_warning),
                        humantime::format_duration(s.rpo_critical)
                    ),
                )
                .detail("cpu_source_s", self.record.cpu_source_s)
                .detail("cpu_target_s", self.record.cpu_target_s)
                .detail("steps_ms", serde_json::json!(self.record.steps))
                .perf(
                    Perfdata::new("rpo", rpo, Uom::Seconds)
                        .with_warn(Range::above(s.rpo_warning.as_secs_f64()))
                        .with_crit(Range::above(s.rpo_critical.as_secs_f64()))
                        .with_min(0.0),
                )
                .perf(Perfdata::new("bytes_sent", self.record.bytes_sent as f64, Uom::Bytes))
                .perf(Perfdata::count("files_linked", self.record.files_linked))
                .perf(Perfdata::new("cpu_source", self.record.cpu_source_s.unwrap_or(0.0), Uom::Seconds))
                .perf(Perfdata::new("cpu_target", self.record.cpu_target_s.unwrap_or(0.0), Uom::Seconds)),
            );
        }
        let status = self.report.status();
        self.record.result = match (made, status) {
            (true, Status::Ok) => journal::OK,
            (true, _) => journal::WARNING,
            (false, _) if self.record.result == journal::REFUSED => journal::REFUSED,
            (false, _) => journal::FAILED,
        }
        .into();
        if self.record.message.is_empty() {
            self.record.message = self
                .report
                .checks
                .iter()
                .find(|c| c.status == status && status != Status::Ok)
                .map(|c| c.message.clone())
                .unwrap_or_else(|| {
                    format!(
                        "current -> {}",
                        self.record.generation.clone().unwrap_or_default()
                    )
                });
        }
        self.record.finished_at = chrono::Utc::now().to_rfc3339();
        if let Err(e) = journal::record(
            state_dir,
            &self.record,
            s.lock_wait.max(Duration::from_secs(5)),
        ) {
            self.report.push(Check::new(
                "journal",
                Status::Warning,
                format!("run not recorded: {e}"),
            ));
        }
        if !made
            && self.report.status() != Status::Critical
            && self.report.status() != Status::Unknown
        {
            // No new generation is never OK.
            self.report.push(Check::new(
                "generation",
                Status::Critical,
                "no new generation; current unchanged",
            ));
        }
        self.report
    }
}

fn flag(on: bool, name: &str) -> String {
    if on {
        format!(" {name}")
    } else {
        String::new()
    }
}

/// The other side's maestro-sync command line.
fn remote_line(
    settings: &Settings,
    sub: &str,
    args: &RunArgs,
    deadline: Duration,
    extra: &str,
) -> String {
    format!(
        "{} --format json {sub}{}{}{} --deadline {}s --alive-every {}ms{extra}",
        settings.remote_command,
        flag(args.reverse, "--reverse"),
        flag(args.no_snapshot, "--no-snapshot"),
        flag(
            args.discard_changes && sub == "receive",
            "--discard-changes"
        ),
        deadline.as_secs().max(1),
        settings.alive_every().as_millis()
    )
}

/// `--rsync-path` for the other side: rsync under `rsync-wrap`.
fn rsync_path(settings: &Settings, usage: &str) -> String {
    format!(
        "{} rsync-wrap --usage {} -- {}",
        settings.remote_command,
        proc::shell_quote(usage),
        settings.remote_rsync
    )
}

/// The data's rsync with its stream carried in the run's session: `relay`
/// as its remote shell; the other side runs the rsync server itself (no
/// `rsync-wrap` in its path).
fn relayed(data: &Rsync<'_>) -> Result<proc::Spec, String> {
    let remote_rsync = &data.settings.remote_rsync;
    if !protocol::is_rsync_program(remote_rsync) {
        return Err(format!(
            "[sync] remote_rsync {remote_rsync:?} is a command, and the other side runs only an rsync program itself"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    // Replaced by an upgrade while the run started: rsync could not run it.
    if !exe.is_file() {
        return Err(format!("{} is gone", exe.display()));
    }
    let e = transfer::relay_e(&exe).map_err(|e| e.to_string())?;
    let mut d = data.clone();
    d.remote_shell = Some(e);
    d.rsync_path = Some(d.settings.remote_rsync.clone());
    Ok(d.spec())
}

fn interrupted_or<T>(r: Result<T, Ended>) -> Result<Result<T, String>, ToolError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(Ended::Interrupted) => Err(ToolError::Interrupted),
        Err(Ended::Finished) => Ok(Err(String::new())),
        Err(Ended::Timeout(why)) => Ok(Err(why)),
    }
}

/// The control socket for this run's SSH connection (not for a dry run:
/// nothing connects).
fn multiplexed(ctx: &Context, args: &RunArgs, peer: &Peer) -> Option<std::path::PathBuf> {
    if args.dry_run {
        return None;
    }
    let dir = ctx.state_dir().ok()?;
    // Private: the control socket lets whoever reaches it use the connection.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir.join("maestro-sync"))
        .ok()?;
    transfer::control_path(&dir, peer)
}

/// Whether this run's point in time pauses no writer: a btrfs or ZFS
/// snapshot without quiesce hooks (LVM suspends the file system, the
/// `command` kind copies).
fn pauses_nothing(settings: &Settings, args: &RunArgs) -> bool {
    use maestro_common::config::SyncSnapshot;
    settings.quiesce.is_none()
        && settings.unquiesce.is_none()
        && matches!(
            settings.snapshot_for_run(args.no_snapshot),
            Ok(SyncSnapshot::Btrfs | SyncSnapshot::Zfs)
        )
}

/// The manifest goes by content, never by rsync's quick check: that
/// compares size and mtime in whole seconds, so a new manifest of the same
/// size written in the same second as the current one (two runs a second
/// apart, one file changed) was taken for it and hard-linked, and the
/// generation failed its check against the old manifest. One small file's
/// checksum on each side costs nothing.
const MANIFEST_BY_CONTENT: bool = true;

/// What push and pull set up alike before their first step.
struct RunStart {
    peer: Peer,
    /// rsync's `-e`: the SSH command to the peer.
    e: String,
    state_dir: std::path::PathBuf,
    /// How long the whole run may take, and when that is.
    run_deadline: Duration,
    deadline: Instant,
    out: Outcome,
}

enum Started {
    Run(Box<RunStart>),
    DryRun(Report),
}

/// The peer (`role`), its SSH command, the run's deadline and its record;
/// or, with `--dry-run`, the plan's report.
fn start(
    ctx: &mut Context,
    settings: &Settings,
    args: &RunArgs,
    role: PeerRole,
    what: &'static str,
) -> Result<Started, ToolError> {
    let mut peer = settings.peer(role).map_err(usage)?;
    peer.control_path = multiplexed(ctx, args, &peer);
    let run_deadline = args.deadline.unwrap_or(settings.deadline);
    let e = transfer::rsync_e(&peer, settings.io_timeout).map_err(usage)?;
    if args.dry_run {
        return dry_run(ctx, settings, args, &peer, &e, what).map(Started::DryRun);
    }
    let state_dir = ctx.state_dir()?;
    let deadline = Instant::now() + run_deadline;
    let out = Outcome {
        report: Report::new(TOOL, Some(what)),
        record: RunRecord {
            role: what.into(),
            direction: direction(args.reverse).into(),
            peer: peer.host.clone(),
            started_at: chrono::Utc::now().to_rfc3339(),
            ..RunRecord::default()
        },
        cpu0: Cpu::of_this_process(),
        settings: settings.clone(),
    };
    Ok(Started::Run(Box::new(RunStart {
        peer,
        e,
        state_dir,
        run_deadline,
        deadline,
        out,
    })))
}

/// `maestro-sync push`.
pub fn push(ctx: &mut Context, settings: &Settings, args: RunArgs) -> Result<Report, ToolError> {
    let role = if args.reverse {
        PeerRole::Primary
    } else {
        PeerRole::Failover
    };
    let RunStart {
        peer,
        e,
        state_dir,
        run_deadline,
        deadline,
        mut out,
    } = match start(ctx, settings, &args, role, "push")? {
        Started::Run(run) => *run,
        Started::DryRun(report) => return Ok(report),
    };
    if !args.reverse {
        // A fenced primary does not even ask.
        if let Err(c) = source::marker_check(settings) {
            out.record.result = journal::REFUSED.into();
            out.report.push(*c);
            return Ok(out.finish(false, &state_dir, true));
        }
    }
    let snapshot_early = pauses_nothing(settings, &args);
    let remote = remote_line(
        settings,
        "receive",
        &args,
        run_deadline,
        &format!(
            " --from {}{}",
            proc::shell_quote(&maestro_snapshot_verify::capture::host_name()),
            flag(snapshot_early, "--look-first")
        ),
    );
    let mut rx = Remote::start(
        &transfer::ssh_spec(&peer, settings.io_timeout, &remote),
        keepalive_period(settings),
    )
    .map_err(|e| ToolError::Failed(anyhow::anyhow!("{e}")))?;
    // The receiving side first: when it cannot be reached or refuses (a
    // failover that took over, a held generation), no snapshot is taken
    // and no writer on this side is paused for nothing. A snapshot that
    // pauses nothing (btrfs or ZFS, no quiesce hooks) is taken, and
    // captured, while the receiving side gets ready, and released unused
    // when it refuses.
    let source_options = SourceOptions {
        reverse: args.reverse,
        no_snapshot: args.no_snapshot,
        deadline,
    };
    let mut early = if snapshot_early {
        Some(Source::open(ctx, settings, &source_options)?)
    } else {
        None
    };
    match interrupted_or(rx.expect("ready", deadline))? {
        Ok(_) => {}
        Err(why) => {
            if let Some(SourceOpened::Ready(s)) = &mut early {
                s.release();
            }
            if !why.is_empty() {
                out.report.push(Check::new(
                    "session",
                    Status::Critical,
                    format!("the receiving side: {why}"),
                ));
            }
            rx.send(&Command::Abort);
            let (records, broken) = rx.end("the receiving side");
            if remote_report::summary_status(&records).is_some() {
                out.record.result = journal::REFUSED.into();
            }
            out.push_checks(remote_report::checks(&records));
            if let Some(c) = broken {
                out.report.push(c);
            }
            return Ok(out.finish(false, &state_dir, true));
        }
    }
    // The point in time and its manifest.
    let opened = match early.take() {
        Some(o) => o,
        None => Source::open(ctx, settings, &source_options)?,
    };
    let mut source = match opened {
        SourceOpened::Refused(checks) => {
            rx.send(&Command::Abort);
            out.record.result = journal::REFUSED.into();
            out.push_checks(checks);
            let _ = rx.drain(Instant::now() + Duration::from_secs(30));
            let (_, _) = rx.end("the receiving side");
            return Ok(out.finish(false, &state_dir, true));
        }
        SourceOpened::Ready(s) => s,
    };
    out.record.generation = Some(source.request.id.clone());
    out.record.point_in_time = Some(maestro_snapshot_verify::time::format_ns(
        source.request.point_in_time_ns,
    ));
    out.record.point_in_time_ns = Some(source.request.point_in_time_ns);
    out.record.consistent = Some(source.request.consistent);
    let source_checks = std::mem::take(&mut source.checks);
    out.push_checks(source_checks);
    let result = push_to(
        &mut rx,
        &mut source,
        settings,
        &peer,
        &e,
        deadline,
        &mut out,
    );
    let release = source.release();
    out.steps(&source.steps);
    let made = match result {
        Err(ToolError::Interrupted) => {
            rx.send(&Command::Abort);
            let _ = rx.end("the receiving side");
            return Err(ToolError::Interrupted);
        }
        Err(e) => return Err(e),
        Ok(made) => made,
    };
    let (records, broken) = rx.end("the receiving side");
    out.target_details(&records);
    out.push_checks(
        remote_report::checks(&records)
            .into_iter()
            .filter(|c| c.name != "receive")
            .collect(),
    );
    if let Some(c) = broken {
        out.report.push(c);
    }
    out.report.push(release);
    let made = made
        && remote_report::summary_status(&records)
            .is_some_and(|s| matches!(s, Status::Ok | Status::Warning));
    Ok(out.finish(made, &state_dir, true))
}

/// The part of a push after the point in time is taken. `Ok(true)` when
/// the receiving side was told to verify (its report says the rest).
fn push_to(
    rx: &mut Remote,
    source: &mut Source,
    settings: &Settings,
    peer: &Peer,
    e: &str,
    deadline: Instant,
    out: &mut Outcome,
) -> Result<bool, ToolError> {
    rx.send(&Command::Prepare(source.request.clone()));
    let prepared: Prepared = match interrupted_or(rx.expect("prepared", deadline))? {
        Ok(v) => serde_json::from_value(v)
            .map_err(|e| ToolError::Failed(anyhow::anyhow!("the receiving side's answer: {e}")))?,
        Err(why) => {
            if !why.is_empty() {
                out.report.push(Check::new(
                    "session",
                    Status::Critical,
                    format!("the receiving side: {why}"),
                ));
            }
            return Ok(false);
        }
    };
    let path = rsync_path(settings, &prepared.usage);
    let data = Rsync {
        settings,
        remote_shell: Some(e.to_string()),
        rsync_path: Some(path.clone()),
        from: source.ready().data,
        to: transfer::remote_path(peer, &prepared.data),
        link_dest: prepared.link_dest.clone(),
        partial_dir: Some(prepared.partial_dir.clone()),
        checksum: prepared.checksum,
        data: true,
    };
    // The manifest over this session when the receiving side takes it so
    // and every line survives the trip; else by a second rsync.
    let by_session = if prepared.manifest_by_session {
        manifest_lines(source)
    } else {
        None
    };
    let manifest_rsync = Rsync {
        settings,
        remote_shell: Some(e.to_string()),
        rsync_path: Some(path),
        from: source.manifest.display().to_string(),
        to: transfer::remote_path(peer, &format!("{}/", prepared.partial)),
        link_dest: prepared.manifest_link_dest.clone(),
        partial_dir: None,
        checksum: MANIFEST_BY_CONTENT,
        data: false,
    };
    let sent = send(
        settings,
        data,
        by_session.is_none().then_some(manifest_rsync),
        prepared.rsync_by_session.then_some(rx),
        deadline,
        out,
    )?;
    let Some(mut sent) = sent else {
        rx.send(&Command::Abort);
        let _ = rx.drain(deadline);
        return Ok(false);
    };
    // No keepalive line may fall among the manifest's.
    rx.session.stop_keepalive();
    if let Some(text) = by_session {
        let started = Instant::now();
        let previous = std::fs::read(&source.previous_manifest).ok();
        let lines = manifest_delta::lines_of(&text).unwrap_or_default();
        let base = match (&prepared.manifest_base, &previous) {
            (Some(sha), Some(prev)) if &manifest_delta::sha256_hex(prev) == sha => {
                manifest_delta::lines_of(prev).map(|b| (sha.clone(), b))
            }
            _ => None,
        };
        let delta = manifest_delta::encode(&lines, base.as_ref().map(|(_, b)| b.as_slice()));
        let head = manifest_delta::Head {
            sha256: manifest_delta::sha256_hex(&text),
            lines: delta.len() as u64,
            bytes: text.len() as u64,
            base: base.as_ref().map(|(sha, _)| sha.clone()),
        };
        let head = Command::Manifest(head);
        let head_line = head.line();
        let mut wire = String::with_capacity(delta.iter().map(|l| l.len() + 1).sum());
        for l in &delta {
            wire.push_str(l);
            wire.push('\n');
        }
        wire.pop();
        let bytes = (head_line.len() + 1 + wire.len() + 1) as u64;
        if !(rx.send(&head) && (wire.is_empty() || rx.session.send(&wire).is_ok())) {
            out.report.push(Check::new(
                "manifest",
                Status::Critical,
                "the manifest, last: the receiving side's session closed",
            ));
            let _ = rx.drain(deadline);
            return Ok(false);
        }
        let elapsed = started.elapsed();
        out.record.steps.insert("manifest".into(), ms(elapsed));
        sent.manifest = Stats {
            files: 1,
            regular_files: 1,
            transferred: 1,
            bytes_sent: bytes,
            bytes_received: 0,
        };
        out.report.push(
            Check::ok(
                "manifest",
                format!(
                    "the manifest, last, over the session: {bytes} bytes sent for its {} ({}), in {:.1}s",
                    text.len(),
                    if base.is_some() {
                        "a delta against the manifest sent before"
                    } else {
                        "whole"
                    },
                    elapsed.as_secs_f64()
                ),
            )
            .timed(elapsed)
            .detail("stats", serde_json::json!(sent.manifest))
            .perf(Perfdata::new("manifest_bytes", bytes as f64, Uom::Bytes)),
        );
    }
    out.sent(&sent);
    rx.send(&Command::Go);
    // Everything is sent: the snapshot goes while the receiving side checks.
    source.release();
    match rx.drain(deadline) {
        Ok(()) => Ok(true),
        Err(Ended::Interrupted) => Err(ToolError::Interrupted),
        Err(Ended::Timeout(why)) => {
            out.report.push(Check::new(
                "session",
                Status::Critical,
                format!("the receiving side's check: {why}"),
            ));
            Ok(false)
        }
        Err(Ended::Finished) => Ok(true),
    }
}

/// The manifest's text when it can go over the session (every line
/// survives the session's line reading), else `None` (rsync sends it).
fn manifest_lines(source: &Source) -> Option<Vec<u8>> {
    let text = std::fs::read(&source.manifest).ok()?;
    manifest_delta::lines_of(&text)?;
    Some(text)
}

/// Runs the data rsync, then the manifest's. `None` when one failed (its
/// check says why). With `carry`, the data's stream goes in the run's
/// session with that side, which runs the rsync server (see [`carried`]).
fn send(
    settings: &Settings,
    data: Rsync<'_>,
    manifest: Option<Rsync<'_>>,
    carry: Option<&mut Remote>,
    deadline: Instant,
    out: &mut Outcome,
) -> Result<Option<Sent>, ToolError> {
    let started = Instant::now();
    let left = || deadline.saturating_duration_since(Instant::now());
    // rsync's stream in the run's session, when the other side takes it
    // so; else rsync opens an SSH session of its own (one more login).
    let mut session = "the run's".to_string();
    let r = match carry {
        Some(remote) => match relayed(&data) {
            Ok(spec) => {
                let c = carried::run_rsync(&remote.session, &spec, left());
                // No command line went over: no rsync there to wait for.
                let other = if c.handed_over {
                    remote.rsync_end(settings.io_timeout, deadline)
                } else {
                    Err(ProcError::Unaccounted {
                        what: "the other side's rsync".into(),
                        why: "rsync here never asked for it".into(),
                    })
                };
                remote.session.set_sink(None);
                carried::with_other_side(c.rsync, other)
            }
            Err(why) => {
                session = format!("its own ({why})");
                proc::run(&data.spec(), left(), None)
            }
        },
        None => {
            session = "its own (the other side's maestro-sync does not carry rsync)".into();
            proc::run(&data.spec(), left(), None)
        }
    };
    if matches!(r, Err(ProcError::Interrupted { .. })) {
        return Err(ToolError::Interrupted);
    }
    out.record
        .steps
        .insert("transfer".into(), ms(started.elapsed()));
    let (c, data_stats) = rsync_check("transfer", &r, "the data");
    let c = c.detail("ssh_session", session);
    let ok = c.status == Status::Ok;
    out.report.push(c);
    if !ok {
        return Ok(None);
    }
    let Some(manifest) = manifest else {
        return Ok(Some(Sent {
            data: data_stats,
            manifest: Stats::default(),
        }));
    };
    let started = Instant::now();
    let r = proc::run(
        &manifest.spec(),
        deadline.saturating_duration_since(Instant::now()),
        None,
    );
    if matches!(r, Err(ProcError::Interrupted { .. })) {
        return Err(ToolError::Interrupted);
    }
    out.record
        .steps
        .insert("manifest".into(), ms(started.elapsed()));
    let (c, manifest_stats) = rsync_check("manifest", &r, "the manifest, last");
    let ok = c.status == Status::Ok;
    out.report.push(c);
    if !ok {
        return Ok(None);
    }
    Ok(Some(Sent {
        data: data_stats,
        manifest: manifest_stats,
    }))
}

/// `maestro-sync pull`.
pub fn pull(ctx: &mut Context, settings: &Settings, args: RunArgs) -> Result<Report, ToolError> {
    let role = if args.reverse {
        PeerRole::Failover
    } else {
        PeerRole::Primary
    };
    let RunStart {
        peer,
        e,
        state_dir,
        run_deadline,
        deadline,
        mut out,
    } = match start(ctx, settings, &args, role, "pull")? {
        Started::Run(run) => *run,
        Started::DryRun(report) => return Ok(report),
    };
    let mut receiver = match Receiver::open(
        ctx,
        settings,
        ReceiveOptions {
            reverse: args.reverse,
            no_snapshot: args.no_snapshot,
            discard_changes: args.discard_changes,
            from: peer.host.clone(),
            deadline,
        },
    )? {
        RxOpened::Refused(r) => {
            out.record.result = journal::REFUSED.into();
            out.push_checks(r.checks);
            return Ok(out.finish(false, &state_dir, false));
        }
        RxOpened::Ready(r) => r,
    };
    let remote = remote_line(settings, "serve", &args, run_deadline, "");
    let mut tx = Remote::start(
        &transfer::ssh_spec(&peer, settings.io_timeout, &remote),
        keepalive_period(settings),
    )
    .map_err(|e| ToolError::Failed(anyhow::anyhow!("{e}")))?;
    // While the sending side takes its snapshot: is current still as
    // received?
    receiver.look()?;
    if let Some(r) = receiver.refused() {
        tx.send(&Command::Abort);
        let _ = tx.end("the sending side");
        out.record.result = journal::REFUSED.into();
        out.push_checks(r.checks);
        return Ok(out.finish(false, &state_dir, false));
    }
    let ready = match interrupted_or(tx.expect("ready", deadline)) {
        Err(e) => {
            let _ = receiver.abort("interrupted", Status::Unknown);
            return Err(e);
        }
        Ok(r) => r,
    };
    let ready: SourceReady = match ready.map(serde_json::from_value) {
        Ok(Ok(r)) => r,
        other => {
            let why = match other {
                Ok(Ok(_)) => String::new(),
                Ok(Err(e)) => format!("the sending side's answer: {e}"),
                Err(why) if !why.is_empty() => format!("the sending side: {why}"),
                Err(_) => "the sending side took no point in time".to_string(),
            };
            let (records, broken) = tx.end("the sending side");
            out.push_checks(remote_report::checks(&records));
            if let Some(c) = broken {
                out.report.push(c);
            }
            let r = receiver.abort(&why, Status::Critical);
            out.push_checks(
                r.checks
                    .into_iter()
                    .filter(|c| c.name != "generation")
                    .collect(),
            );
            return Ok(out.finish(false, &state_dir, false));
        }
    };
    out.record.generation = Some(ready.request.id.clone());
    out.record.point_in_time = Some(maestro_snapshot_verify::time::format_ns(
        ready.request.point_in_time_ns,
    ));
    out.record.point_in_time_ns = Some(ready.request.point_in_time_ns);
    out.record.consistent = Some(ready.request.consistent);
    out.steps(&ready.steps);
    let prepared = match receiver.prepare(ready.request.clone()) {
        Ok(p) => p,
        Err(c) => {
            tx.send(&Command::Abort);
            let (records, _) = tx.end("the sending side");
            out.push_checks(remote_report::checks(&records));
            let why = c.message.clone();
            out.report.push(*c);
            let r = receiver.abort(&why, Status::Critical);
            out.push_checks(
                r.checks
                    .into_iter()
                    .filter(|c| c.name != "prepare")
                    .collect(),
            );
            return Ok(out.finish(false, &state_dir, false));
        }
    };
    let path = rsync_path(settings, &ready.usage);
    let sent = send(
        settings,
        Rsync {
            settings,
            remote_shell: Some(e.clone()),
            rsync_path: Some(path.clone()),
            from: transfer::remote_path(&peer, &ready.data),
            to: prepared.data.clone(),
            link_dest: prepared.link_dest.clone(),
            partial_dir: Some(prepared.partial_dir.clone()),
            checksum: prepared.checksum,
            data: true,
        },
        Some(Rsync {
            settings,
            remote_shell: Some(e.clone()),
            rsync_path: Some(path),
            from: transfer::remote_path(&peer, &ready.manifest),
            to: format!("{}/", prepared.partial),
            link_dest: prepared.manifest_link_dest.clone(),
            partial_dir: None,
            checksum: MANIFEST_BY_CONTENT,
            data: false,
        }),
        ready.rsync_by_session.then_some(&mut tx),
        deadline,
        &mut out,
    );
    let sent = match sent {
        Ok(s) => s,
        Err(e) => {
            tx.send(&Command::Abort);
            let _ = tx.end("the sending side");
            let _ = receiver.abort("interrupted", Status::Unknown);
            return Err(e);
        }
    };
    let (local, made) = match &sent {
        Some(sent) => {
            out.sent(sent);
            // rsync's CPU time here is this process's child's: counted.
            let r = receiver.finish(ctx);
            let made = matches!(r.status(), Status::Ok | Status::Warning);
            (r, made)
        }
        None => (
            receiver.abort("the transfer failed", Status::Critical),
            false,
        ),
    };
    tx.session.stop_keepalive();
    tx.send(if made { &Command::Go } else { &Command::Abort });
    let _ = tx.drain(Instant::now() + Duration::from_secs(120));
    let (records, broken) = tx.end("the sending side");
    for r in &records {
        if r["name"] == "serve" {
            out.record.cpu_source_s = r["details"]["cpu_s"].as_f64();
            if let Some(steps) = r["details"]["steps"].as_object() {
                for (k, v) in steps {
                    if let Some(n) = v.as_u64() {
                        out.record.steps.insert(k.clone(), n);
                    }
                }
            }
        }
    }
    let local_records: Vec<serde_json::Value> = local
        .checks
        .iter()
        .filter(|c| c.name == "generation" || c.name == "receive")
        .map(|c| serde_json::json!({"type": "check", "name": c.name, "details": c.details}))
        .collect();
    out.target_details(&local_records);
    out.push_checks(
        remote_report::checks(&records)
            .into_iter()
            .filter(|c| c.name != "serve")
            .collect(),
    );
    if let Some(c) = broken {
        out.report.push(c);
    }
    out.push_checks(
        local
            .checks
            .into_iter()
            .filter(|c| c.name != "receive")
            .collect(),
    );
    Ok(out.finish(made, &state_dir, false))
}

/// `--dry-run`: what a run would do, nothing done.
fn dry_run(
    ctx: &mut Context,
    settings: &Settings,
    args: &RunArgs,
    peer: &Peer,
    e: &str,
    what: &str,
) -> Result<Report, ToolError> {
    let mut report = Report::new(TOOL, Some(what));
    let kind = settings.snapshot_for_run(args.no_snapshot).map_err(usage)?;
    let local_source = what == "push";
    let deadline = args.deadline.unwrap_or(settings.deadline);
    let gen = settings
        .generations
        .as_ref()
        .map(|g| g.display().to_string())
        .unwrap_or_else(|| "GENERATIONS".into());
    let partial = format!("{gen}/ID.partial");
    if local_source {
        let source = std::fs::canonicalize(&settings.source)
            .map_err(|e| usage(format!("sync.source {}: {e}", settings.source.display())))?;
        let plan = Facts::detect(settings, kind, &source)
            .and_then(|f| snapshot::plan(settings, kind, &source, &f))
            .map_err(|e| usage(format!("[sync] snapshot = \"{}\": {e}", kind.as_str())))?;
        report.push(
            Check::ok(
                "snapshot",
                format!("{} of {}", kind.as_str(), source.display()),
            )
            .detail("commands", serde_json::json!(plan.lines())),
        );
        let state_dir = ctx.state_dir()?;
        report.push(Check::ok(
            "capture",
            format!(
                "maestro-snapshot-verify capture --root {}={}{} --out {}",
                receive::ROOT,
                plan.data.display(),
                if kind == maestro_common::config::SyncSnapshot::None {
                    ""
                } else {
                    " --from-snapshot"
                },
                source::outgoing(&state_dir)
                    .join("outgoing/manifest.jsonl")
                    .display()
            ),
        ));
        let session = transfer::ssh_spec(
            peer,
            settings.io_timeout,
            &remote_line(settings, "receive", args, deadline, " --from HOST"),
        );
        report.push(Check::ok("session", session.display()));
        let data = Rsync {
            settings,
            remote_shell: Some(e.to_string()),
            rsync_path: Some(rsync_path(
                settings,
                &format!("{partial}/.rsync-usage.jsonl"),
            )),
            from: format!("{}/", plan.data.display()),
            to: transfer::remote_path(peer, &format!("{partial}/data/")),
            link_dest: Some(format!("{gen}/CURRENT/data")),
            partial_dir: Some(format!("{partial}/.rsync-partial")),
            checksum: false,
            data: true,
        };
        report.push(Check::ok("transfer", data.spec().display()));
    } else {
        let session = transfer::ssh_spec(
            peer,
            settings.io_timeout,
            &remote_line(settings, "serve", args, deadline, ""),
        );
        report.push(Check::ok("session", session.display()));
        let data = Rsync {
            settings,
            remote_shell: Some(e.to_string()),
            rsync_path: Some(rsync_path(settings, "USAGE")),
            from: transfer::remote_path(peer, "SNAPSHOT/"),
            to: format!("{partial}/data/"),
            link_dest: Some(format!("{gen}/CURRENT/data")),
            partial_dir: Some(format!("{partial}/.rsync-partial")),
            checksum: false,
            data: true,
        };
        report.push(Check::ok("transfer", data.spec().display()));
    }
    report.push(Check::ok("dry-run", "nothing was run or changed"));
    Ok(report)
}
