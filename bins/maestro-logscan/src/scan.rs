//! The driver: settings from flags and config, one pass over the inputs,
//! `--follow`, `--incremental`, and the report.

use crate::cli::{ComponentArg, ScanArgs};
use crate::collect::{Collector, StartRule};
use crate::input::{self, Input};
use crate::record::{BlockReader, Counts, ParserOptions, Record, RecordParser, Window};
use crate::rules::{self, Pack, RuleSet, Severity};
use crate::state::{self, FileState, Resume};
use crate::timestamp::{self, TimestampFormat};
use anyhow::Context as _;
use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone};
use maestro_common::catalog::Catalog;
use maestro_common::cli::{Context, ToolError};
use maestro_common::fsio;
use maestro_common::perfdata::{Perfdata, Uom};
use maestro_common::render::json::{self as json_records, write_record, FindingRecord};
use maestro_common::render::{Format, Verbosity};
use maestro_common::safe_output;
use maestro_common::site::{Component, SiteLayout};
use maestro_common::{Check, Finding, Report, Status};
use std::io::{Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DEFAULT_MAX_LINE: u64 = 1 << 20;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// Everything a run needs, flags over config over defaults.
pub struct Settings {
    pub component: Component,
    pub pack: Pack,
    pub rules: RuleSet,
    pub window: Window,
    /// `--since-start`, also implied by `--since-start-after`.
    pub since_start: bool,
    /// `--since-start-after TIME`: this start's startup line is stamped
    /// at or after TIME.
    pub start_after: Option<NaiveDateTime>,
    pub missing_ok: bool,
    pub format: Option<TimestampFormat>,
    pub max_line: usize,
    pub max_stack: usize,
    pub timeout: Duration,
    pub poll: Duration,
    pub date: NaiveDate,
    pub now: NaiveDateTime,
}

fn usage(msg: impl Into<String>) -> ToolError {
    ToolError::Usage(msg.into())
}

fn component_of(c: ComponentArg) -> Component {
    match c {
        ComponentArg::Lui => Component::Lui,
        ComponentArg::Hub => Component::Hub,
        ComponentArg::Tracker => Component::Tracker,
        ComponentArg::Db => Component::Db,
    }
}

impl Settings {
    pub fn resolve(args: &ScanArgs, ctx: &mut Context) -> Result<Settings, ToolError> {
        let cfg: crate::config::LogscanConfig =
            ctx.config()?.section(crate::config::SECTION.name)?;
        let component = args
            .component
            .map(component_of)
            .or(cfg.component)
            .unwrap_or(Component::Lui);
        let pack = Pack::for_component(component);
        let mut all = rules::built_in();
        for (id, value) in [
            ("maestro-startup", &cfg.maestro_startup_marker),
            ("maestro-ready", &cfg.maestro_ready_marker),
            ("db-startup", &cfg.db_startup_marker),
            ("db-ready", &cfg.db_ready_marker),
        ] {
            if let Some(v) = value {
                rules::set_marker(&mut all, id, v);
            }
        }
        for path in cfg.rules.iter().chain(&args.rules) {
            rules::merge_file(&mut all, path).map_err(|e| usage(e.to_string()))?;
        }
        let min_severity = args
            .min_severity
            .or(cfg.min_severity)
            .unwrap_or(Severity::Info);
        let rules = RuleSet::compile(&all, pack, min_severity).map_err(|e| usage(e.to_string()))?;
        let now = Local::now().naive_local();
        let parse = |flag: &str, v: &Option<String>| -> Result<Option<NaiveDateTime>, ToolError> {
            v.as_deref()
                .map(|t| input::parse_time(t, now).map_err(|e| usage(format!("{flag}: {e}"))))
                .transpose()
        };
        let window = Window {
            since: parse("--since", &args.since)?,
            until: parse("--until", &args.until)?,
        };
        if let (Some(s), Some(u)) = (window.since, window.until) {
            if s > u {
                return Err(usage("--since is after --until: the window is empty"));
            }
        }
        let start_after = parse("--since-start-after", &args.since_start_after)?;
        if let Some(t) = start_after {
            // A time noted before starting Maestro is in the past; one in
            // the future would wait for a start that never comes.
            if t > now + chrono::Duration::seconds(crate::collect::CLOCK_SLACK_SECS) {
                return Err(usage(format!(
                    "--since-start-after {}: that is in the future (now is {})",
                    t.format("%Y-%m-%d %H:%M:%S"),
                    now.format("%Y-%m-%d %H:%M:%S")
                )));
            }
        }
        let format = match args
            .timestamp_format
            .as_ref()
            .or(cfg.timestamp_format.as_ref())
        {
            Some(f) => {
                timestamp::validate_custom(f)
                    .map_err(|e| usage(format!("--timestamp-format: {e}")))?;
                Some(TimestampFormat::Custom(f.clone()))
            }
            None => None,
        };
        let max_line = args
            .max_line_bytes
            .or(cfg.max_line_bytes)
            .unwrap_or(DEFAULT_MAX_LINE);
        if !(256..=(64 << 20)).contains(&max_line) {
            return Err(usage(format!(
                "--max-line-bytes {max_line}: must be between 256 and 67108864"
            )));
        }
        Ok(Settings {
            component,
            pack,
            rules,
            window,
            since_start: args.since_start || start_after.is_some(),
            start_after,
            missing_ok: args.missing_ok || cfg.missing_ok,
            format,
            max_line: max_line as usize,
            max_stack: cfg.max_stack_lines.unwrap_or(50).min(1000),
            timeout: args
                .timeout
                .or(cfg.follow_timeout.map(|d| d.0))
                .unwrap_or(DEFAULT_TIMEOUT),
            poll: args
                .poll_interval
                .or(cfg.poll_interval.map(|d| d.0))
                .unwrap_or(DEFAULT_POLL)
                .max(Duration::from_millis(10)),
            date: args.date.unwrap_or(now.date()),
            now,
        })
    }

    fn parser_options(&self) -> ParserOptions {
        ParserOptions {
            window: self.window,
            format: self.format.clone(),
            max_stack_lines: self.max_stack,
            max_line: self.max_line,
        }
    }
}

/// `maestro-logscan [FILE...]`.
pub fn run(args: ScanArgs, ctx: &mut Context) -> Result<Report, ToolError> {
    let mut settings = Settings::resolve(&args, ctx)?;
    // The database's error log is not one file a day: without a window it
    // is read from the start of --date, so last month's crash does not
    // count today. Not when following: there only lines appended after
    // following began (or a start found by --since-start-after) count.
    if args.files.is_empty()
        && !args.follow
        && settings.component == Component::Db
        && settings.window.since.is_none()
        && !settings.since_start
    {
        settings.window.since = Some(settings.date.and_time(chrono::NaiveTime::MIN));
    }
    if args.list_rules {
        return Ok(list_rules(&settings));
    }
    if let Some(path) = &args.write_patterns {
        let mut text = settings.rules.patterns().join("\n");
        text.push('\n');
        // Atomic, and a FIFO or a device as the target is refused at once.
        fsio::write_atomic(path, text.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut r = Report::new(ctx.tool, Some("write-patterns"));
        r.push(Check::ok(
            "patterns",
            format!(
                "{} patterns written to {}",
                settings.rules.rules.len(),
                path.display()
            ),
        ));
        return Ok(r);
    }
    let stdin_count = args.files.iter().filter(|p| p.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err(usage("`-` (standard input) can be named only once"));
    }
    if (args.follow || args.incremental) && stdin_count > 0 {
        return Err(usage(
            "--follow and --incremental need files, not standard input",
        ));
    }
    let inputs: Vec<Input> = if args.files.is_empty() {
        let loaded = ctx.config()?;
        let layout = SiteLayout::resolve(&loaded.config.site).map_err(|e| usage(e.to_string()))?;
        input::component_inputs(
            &layout,
            settings.component,
            settings.date,
            settings.window.since,
            settings.since_start,
        )
    } else {
        input::named_inputs(&args.files)
    };
    let mut report = Report::new(ctx.tool, None);
    let mut collector = Collector::new(StartRule {
        since_start: settings.since_start,
        after: settings.start_after,
        follow: args.follow,
    });
    for inp in &inputs {
        if inp.stream == collector.streams.len() {
            collector.add_stream(&inp.display);
        }
    }
    let live = if args.follow { live_output(ctx) } else { None };
    if live.is_some() {
        collector.live = Some(Vec::new());
    }
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut extra = Vec::new();
    let judging = settings.since_start || args.until_ready;
    if judging {
        for (catalina, localhost) in input::lone_catalina_logs(&inputs) {
            extra.push(
                Check::new(
                    "localhost-log",
                    Status::Warning,
                    format!(
                        "{} was not read with {catalina}: Tomcat logs a servlet or filter that fails at start only there; name both files",
                        localhost.display()
                    ),
                )
                .detail("file", localhost.display().to_string()),
            );
        }
    }
    if args.follow {
        let layout = if args.files.is_empty() {
            SiteLayout::resolve(&ctx.config()?.config.site).ok()
        } else {
            None
        };
        let f = follow(
            &settings,
            &inputs,
            layout.as_ref(),
            args.until_ready,
            &mut collector,
            live,
        )?;
        outcomes = f.outcomes;
        extra.push(f.check);
    } else {
        let mut catalog = if args.incremental {
            let dir = ctx.state_dir()?;
            Some(state::open(&dir).map_err(|e| ToolError::Failed(e.into()))?)
        } else {
            None
        };
        for inp in &inputs {
            if maestro_common::signal::interrupted() {
                return Err(ToolError::Interrupted);
            }
            outcomes.extend(scan_input(inp, &settings, &mut collector, catalog.as_mut()));
        }
        if settings.since_start {
            for stream in 0..collector.streams.len() {
                extra.push(ready_check(&collector, stream, &Judged::OnePass));
            }
        }
    }
    if maestro_common::signal::interrupted() {
        return Err(ToolError::Interrupted);
    }
    build_report(
        &mut report,
        &settings,
        &outcomes,
        &collector,
        extra,
        started.elapsed(),
    );
    Ok(report)
}

/// How a start was read, for its readiness verdict.
enum Judged {
    /// Whole files (`--since-start`).
    OnePass,
    /// Followed (`--follow`) until it stopped.
    Followed {
        stop: Stop,
        until_ready: bool,
        waited: Duration,
    },
}

/// Why following stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The readiness line came, and the grace period after it passed.
    Ready,
    /// A critical finding of this start.
    Critical,
    Timeout,
    /// The log is not a regular file.
    Refused,
    /// The log cannot be read (permission denied, an I/O error).
    Unreadable,
    /// A startup line stamped ahead of this host's clock.
    Zone,
}

/// Whether `stream`'s start got ready: one verdict for one pass and for
/// following. A readiness line (Tomcat's "Server startup in", which it
/// writes even when the web application failed to deploy) after a
/// critical finding of the same start does not count, nor one of an
/// earlier start.
fn ready_check(collector: &Collector, stream: usize, how: &Judged) -> Check {
    let Some(st) = collector.streams.get(stream) else {
        return Check::new("ready", Status::Unknown, "internal: no such stream");
    };
    let with_file = |c: Check| c.detail("file", st.display.clone());
    let ready_at = st.ready.as_ref().map(|p| p.describe());
    if let Some(p) = &collector.zone_mismatch {
        return with_file(Check::new(
            "ready",
            Status::Unknown,
            format!(
                "cannot tell this start from an earlier one: the startup line at {} is stamped ahead of this host's clock, so the log is written in another time zone than this host's (the JVM's -Duser.timezone or TZ) and --since-start-after cannot be compared with its stamps; run the JVM in this host's zone",
                p.describe()
            ),
        ));
    }
    if let Judged::Followed { stop, .. } = how {
        match stop {
            Stop::Refused => {
                return with_file(Check::new(
                    "follow",
                    Status::Unknown,
                    "the log cannot be followed: it is not a regular file",
                ))
            }
            Stop::Unreadable => {
                return with_file(Check::new(
                    "follow",
                    Status::Unknown,
                    "the log cannot be followed: it cannot be read",
                ))
            }
            _ => {}
        }
    }
    if let Some(what) = collector.first_critical(stream) {
        let ready_line = ready_at
            .as_ref()
            .map(|r| format!("; the readiness marker at {r} does not count"))
            .unwrap_or_default();
        let message = match how {
            Judged::Followed {
                stop: Stop::Critical,
                ..
            } => format!("not ready: stopped at once at the critical finding {what}{ready_line}"),
            _ => format!("not ready: {what} was logged in this start{ready_line}"),
        };
        return with_file(Check::new("ready", Status::Critical, message));
    }
    let judging_ready = !matches!(
        how,
        Judged::Followed {
            until_ready: false,
            ..
        }
    );
    if let Some(r) = ready_at.filter(|_| judging_ready) {
        return with_file(Check::ok("ready", format!("readiness marker at {r}")));
    }
    let stale = st
        .stale_ready
        .as_ref()
        .map(|p| {
            format!(
                "; the readiness line at {} belongs to an earlier start",
                p.describe()
            )
        })
        .unwrap_or_default();
    match how {
        Judged::OnePass => {
            let why = match (&st.last_startup, st.this_start) {
                (Some(p), false) => format!(
                    "no startup line at or after --since-start-after (the last, at {}, is earlier)",
                    p.describe()
                ),
                (None, false) => "no startup line at or after --since-start-after".to_string(),
                (Some(p), true) => format!(
                    "no readiness line after the last startup at {}",
                    p.describe()
                ),
                (None, true) => "no readiness line".to_string(),
            };
            with_file(Check::new(
                "ready",
                Status::Warning,
                format!("not ready: {why}{stale}"),
            ))
        }
        Judged::Followed {
            until_ready: false,
            waited,
            ..
        } => with_file(Check::ok(
            "follow",
            format!("followed for {}", humantime_short(*waited)),
        )),
        Judged::Followed { waited, .. } => with_file(Check::new(
            "ready",
            Status::Critical,
            format!("not ready after {}{stale}", humantime_short(*waited)),
        )),
    }
}

/// What became of one input.
#[derive(Debug)]
pub struct Outcome {
    pub display: String,
    /// Set when the file could not be scanned (or was missing).
    pub problem: Option<(Status, String)>,
    pub counts: Counts,
    pub format: Option<String>,
    pub collector_index: Option<usize>,
    pub notes: Vec<String>,
    /// Where reading began (offset, lines before it): a resumed or
    /// followed file reports only what it read.
    pub start_offset: u64,
    pub start_line: u64,
}

impl Outcome {
    fn problem(display: &str, status: Status, message: String) -> Outcome {
        Outcome {
            display: display.to_string(),
            problem: Some((status, message)),
            counts: Counts::default(),
            format: None,
            collector_index: None,
            notes: Vec::new(),
            start_offset: 0,
            start_line: 0,
        }
    }

    /// What a parser read of a file, from `start` (offset, lines before) on.
    fn scanned(display: &str, parser: &RecordParser, idx: usize, start: (u64, u64)) -> Outcome {
        Outcome {
            display: display.to_string(),
            problem: None,
            counts: parser.counts,
            format: Some(
                parser
                    .format()
                    .map_or("none (every line a record)".to_string(), |f| f.name()),
            ),
            collector_index: Some(idx),
            notes: last_record_note(parser).into_iter().collect(),
            start_offset: start.0,
            start_line: start.1,
        }
    }
}

/// Where records of one file go: the collector's file, and from which
/// offset on a record counts as appended after following began.
#[derive(Debug, Clone)]
struct Sink {
    idx: usize,
    name: String,
    display: String,
    fresh_from: u64,
}

/// Give the records parsed to the collector, then write out (while
/// following) the findings they made.
fn deliver(
    out: &mut Vec<Record>,
    collector: &mut Collector,
    sink: &Sink,
    rules: &RuleSet,
    live: Option<Live>,
) {
    for r in out.drain(..) {
        let fresh = r.offset >= sink.fresh_from;
        collector.accept(sink.idx, &sink.name, r, rules, fresh);
    }
    emit_live(collector, live, &sink.display);
}

/// Read `src` from where it stands to its end into the collector.
fn scan_stream(
    src: &mut dyn std::io::Read,
    sink: &Sink,
    settings: &Settings,
    collector: &mut Collector,
    resume: Option<(u64, u64)>,
    whole_lines_only: bool,
) -> Result<Outcome, std::io::Error> {
    let mut parser = RecordParser::new(&settings.rules, settings.parser_options());
    if let Some((offset, line)) = resume {
        parser.resume_at(offset, line);
    }
    let mut reader = BlockReader::new(settings.max_line);
    let mut out = Vec::new();
    loop {
        let n = reader.read_once(src, &mut parser, &mut out)?;
        deliver(&mut out, collector, sink, &settings.rules, None);
        if n == 0 || maestro_common::signal::interrupted() {
            break;
        }
    }
    if whole_lines_only {
        reader.discard_partial(&mut parser);
        parser.flush(&mut out);
    } else {
        reader.finish(&mut parser, &mut out);
    }
    deliver(&mut out, collector, sink, &settings.rules, None);
    Ok(Outcome::scanned(
        &sink.display,
        &parser,
        sink.idx,
        resume.unwrap_or((0, 0)),
    ))
}

fn last_record_note(p: &RecordParser) -> Option<String> {
    p.counts
        .truncated_last_line
        .then(|| "the last line has no newline (truncated, or still being written)".to_string())
}

/// A file's name for locations: the last path component keeps lines short.
fn short_name(display: &str) -> String {
    Path::new(display)
        .file_name()
        .map_or(display.to_string(), |n| n.to_string_lossy().into_owned())
}

fn missing(inp: &Input, settings: &Settings) -> Outcome {
    let (status, msg) = if !inp.required {
        (
            Status::Ok,
            format!(
                "not found: {} (an earlier day; nothing logged then?)",
                inp.display
            ),
        )
    } else if settings.missing_ok {
        (
            Status::Ok,
            format!("not found: {} (--missing-ok)", inp.display),
        )
    } else {
        (Status::Unknown, format!("not found: {}", inp.display))
    };
    Outcome::problem(&inp.display, status, msg)
}

/// Open a log for reading: a regular file only. `fsio::open_regular`
/// takes `/dev/null` for the empty file it reads as (so that `--config
/// /dev/null` means "no configuration"); a log that is `/dev/null` would
/// be "no findings", a lie, so every device is refused here.
fn open_log(path: &Path) -> Result<std::fs::File, fsio::FsioError> {
    let file = fsio::open_regular(path)?;
    match file.metadata() {
        Ok(m) if !m.is_file() => Err(fsio::FsioError::NotRegular {
            path: path.to_path_buf(),
            kind: fsio::kind_name(m.file_type()),
        }),
        Ok(_) => Ok(file),
        Err(e) => Err(fsio::FsioError::Io {
            path: path.to_path_buf(),
            action: "read its metadata",
            source: e,
        }),
    }
}

fn scan_input(
    inp: &Input,
    settings: &Settings,
    collector: &mut Collector,
    catalog: Option<&mut Catalog>,
) -> Vec<Outcome> {
    let sink = |collector: &mut Collector, display: &str| Sink {
        idx: collector.add_file(inp.stream, inp.companion),
        name: short_name(display),
        display: display.to_string(),
        // Read whole: nothing of it was appended while following.
        fresh_from: u64::MAX,
    };
    let Some(path) = &inp.path else {
        // A stream may never end (a pipe from a program that hangs,
        // /dev/zero) or never stop talking: it is read until --timeout,
        // then UNKNOWN.
        let mut stdin = crate::input::TimedStdin::new(settings.timeout);
        let sink = sink(collector, "-");
        return vec![
            scan_stream(&mut stdin, &sink, settings, collector, None, false).unwrap_or_else(|e| {
                let why = if e.kind() == std::io::ErrorKind::TimedOut {
                    format!(
                        "standard input did not end within {} (--timeout): what was read is not a whole log",
                        humantime_short(settings.timeout)
                    )
                } else {
                    format!("cannot read standard input: {e}")
                };
                Outcome::problem("-", Status::Unknown, why)
            }),
        ];
    };
    // A log named here is a file: a FIFO, a device or a folder is refused
    // at once, naming it (a FIFO would block, /dev/zero never ends).
    let mut file = match open_log(path) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return vec![missing(inp, settings)],
        Err(e) => {
            return vec![Outcome::problem(
                &inp.display,
                Status::Unknown,
                e.to_string(),
            )]
        }
    };
    let result = match catalog {
        None => {
            let sink = sink(collector, &inp.display);
            scan_stream(&mut file, &sink, settings, collector, None, false)
                .map(|o| vec![o])
                .map_err(anyhow::Error::from)
        }
        Some(c) => scan_incremental(path, inp, file, settings, collector, c),
    };
    result.unwrap_or_else(|e| {
        vec![Outcome::problem(
            &inp.display,
            Status::Unknown,
            format!("cannot read {}: {e:#}", inp.display),
        )]
    })
}

fn state_key(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn scan_incremental(
    path: &Path,
    inp: &Input,
    mut file: std::fs::File,
    settings: &Settings,
    collector: &mut Collector,
    catalog: &mut Catalog,
) -> anyhow::Result<Vec<Outcome>> {
    let display = &inp.display;
    let sink = |collector: &mut Collector, display: &str| Sink {
        idx: collector.add_file(inp.stream, inp.companion),
        name: short_name(display),
        display: display.to_string(),
        fresh_from: u64::MAX,
    };
    let key = state_key(path);
    let saved = state::load(catalog, &key).context("cannot read the saved offset")?;
    let meta = file.metadata()?;
    let decision = state::decide(saved.as_ref(), &mut file, &meta)?;
    let mut outcomes = Vec::new();
    let mut note = None;
    let resume = match &decision {
        Resume::New => None,
        Resume::From { offset, line } => Some((*offset, *line)),
        Resume::Truncated => {
            note =
                Some("truncated or rewritten since the last run: read from the start".to_string());
            None
        }
        Resume::Rotated { old } => {
            let dir = path.parent().unwrap_or(Path::new("."));
            match state::find_rotated(dir, old.device, old.inode) {
                Some(rotated) => {
                    let mut f = open_log(&rotated)?;
                    if f.metadata()?.len() >= old.offset {
                        f.seek(SeekFrom::Start(old.offset))?;
                        let shown = rotated.display().to_string();
                        let s = sink(collector, &shown);
                        let mut o = scan_stream(&mut f, &s, settings, collector, Some((old.offset, old.line)), false)?;
                        o.notes.push(format!("rotated away from {display}: its rest was read"));
                        outcomes.push(o);
                    }
                }
                None => {
                    note = Some("rotated since the last run; the old file was not found, its last lines may be unread".into())
                }
            }
            if note.is_none() {
                note =
                    Some("rotated since the last run: the new file is read from the start".into());
            }
            None
        }
    };
    // Always seek: deciding read the file, so it does not stand at the start.
    let start = resume.map_or(0, |(offset, _)| offset);
    file.seek(SeekFrom::Start(start))?;
    // The fingerprints saved are of the bytes as this run read them: the
    // file is not read again after the scan (it may be rewritten by then).
    let mut seen = state::SeenBytes::new(start, (2 * state::MAX_TAIL) as usize);
    let s = sink(collector, display);
    let mut o = {
        let mut tapped = state::Tapped {
            inner: &mut file,
            seen: &mut seen,
        };
        scan_stream(&mut tapped, &s, settings, collector, resume, true)?
    };
    o.notes.extend(note);
    // Save where whole lines end; a partial last line (even one past the
    // line limit) is read next time.
    let end = o.counts.bytes;
    let (dev, ino) = state::identity(&meta);
    let resumed_from = saved.as_ref().filter(|_| resume.is_some());
    let (head_len, head_hash, tail_start, tail_hash) =
        state::fingerprints(&seen, end, resumed_from);
    let new_state = FileState {
        head_len,
        head_hash,
        device: dev,
        inode: ino,
        offset: end,
        line: o.counts.lines,
        tail_start,
        tail_hash,
    };
    state::save(catalog, &key, &new_state).context("cannot save the offset")?;
    o.notes.push(format!(
        "state saved: offset {end}, line {}",
        o.counts.lines
    ));
    outcomes.push(o);
    Ok(outcomes)
}

struct FollowResult {
    outcomes: Vec<Outcome>,
    check: Check,
}

/// How many of the last bytes read a followed file compares each poll
/// (with its first 4 KiB) to tell it was truncated and written again.
const FOLLOW_TAIL_BYTES: usize = 4096;

/// The file being followed, with its own parser.
struct Followed<'r> {
    path: PathBuf,
    file: std::fs::File,
    identity: (u64, u64),
    parser: RecordParser<'r>,
    reader: BlockReader,
    sink: Sink,
    /// What was read of it so far (`seen.pos` bytes, from its start: the
    /// lines skipped when following began were counted through it too):
    /// its first bytes and its last ones, as read. When the file's bytes
    /// there changed, it was truncated and written again (perhaps past
    /// `seen.pos`, within one poll), and it is read again from its start.
    seen: state::SeenBytes,
    /// Where reading began: (offset, lines before it).
    start: (u64, u64),
}

/// `len` bytes of `file` at `offset` (fewer at its end), without moving
/// its read position.
fn read_at(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    let mut got = 0;
    while got < buf.len() {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf[got..], offset + got as u64)?;
        #[cfg(windows)]
        let n =
            std::os::windows::fs::FileExt::seek_read(file, &mut buf[got..], offset + got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    Ok(buf)
}

impl Followed<'_> {
    /// Whether the file under the same identity is no longer the one read
    /// so far: shorter than what was read, or other first or last bytes.
    fn rewritten(&self) -> std::io::Result<bool> {
        let pos = self.seen.pos;
        if self.file.metadata()?.len() < pos {
            return Ok(true);
        }
        if read_at(&self.file, 0, self.seen.head.len() as u64)? != self.seen.head {
            return Ok(true);
        }
        let from = self
            .seen
            .kept_from()
            .max(pos.saturating_sub(FOLLOW_TAIL_BYTES as u64));
        let kept = self.seen.range(from, pos).unwrap_or(&[]);
        Ok(read_at(&self.file, from, pos - from)? != kept)
    }

    fn outcome(&self) -> Outcome {
        Outcome::scanned(&self.sink.display, &self.parser, self.sink.idx, self.start)
    }
}

/// Where a followed file is first read from.
#[derive(Debug, Clone, Copy)]
enum FirstRead {
    /// Its end: only lines appended after following began are read.
    End,
    /// Its start (a file that appeared or was replaced: all of it is new;
    /// or --since: the window decides).
    Start,
    /// Its start when it was written at or after this time (a start
    /// logged before following began is read), else its end.
    StartIfWrittenSince(std::time::SystemTime),
}

/// Why a followed file could not be opened.
enum OpenFailure {
    Refused(String),
    Unreadable(String),
    Deadline,
}

/// One file followed: the component's log of the day, a named file, or
/// Tomcat's localhost log beside its catalina log (a companion, which may
/// never appear).
struct Slot<'r> {
    fixed: Option<PathBuf>,
    stream: usize,
    companion: bool,
    first_open: bool,
    current: Option<Followed<'r>>,
    outcomes: Vec<Outcome>,
}

fn follow(
    settings: &Settings,
    inputs: &[Input],
    layout: Option<&SiteLayout>,
    until_ready: bool,
    collector: &mut Collector,
    live: Option<Live>,
) -> Result<FollowResult, ToolError> {
    let one_stream = inputs.iter().all(|i| i.stream == 0);
    let fixed: Vec<&Input> = match (layout, inputs) {
        (Some(_), _) => Vec::new(),
        (None, [one]) => vec![one],
        (None, [a, b]) if one_stream && b.companion => vec![a, b],
        _ => {
            return Err(usage(
                "--follow reads one file, a catalina.*.log with its localhost.*.log, or (with no FILE) the component's log of the day",
            ))
        }
    };
    let deadline = Instant::now() + settings.timeout;
    let first_read = if settings.window.since.is_some() {
        FirstRead::Start
    } else if let Some(t) = settings.start_after {
        match Local.from_local_datetime(&t).earliest() {
            Some(t) => FirstRead::StartIfWrittenSince(t.into()),
            None => FirstRead::Start,
        }
    } else {
        FirstRead::End
    };
    let mut slots: Vec<Slot> = if fixed.is_empty() {
        vec![Slot {
            fixed: None,
            stream: 0,
            companion: false,
            first_open: true,
            current: None,
            outcomes: Vec::new(),
        }]
    } else {
        fixed
            .iter()
            .map(|i| Slot {
                fixed: i.path.clone(),
                stream: 0,
                companion: i.companion,
                first_open: true,
                current: None,
                outcomes: Vec::new(),
            })
            .collect()
    };
    let path_of = |slot: &Slot, date: NaiveDate| -> PathBuf {
        match (&slot.fixed, layout) {
            (Some(p), _) => p.clone(),
            (None, Some(l)) => l.log_file_for(settings.component, date).to_path_buf(),
            (None, None) => PathBuf::new(),
        }
    };
    if layout.is_some() {
        // The checks name the log followed, today's.
        if let Some(st) = collector.streams.first_mut() {
            st.display = path_of(&slots[0], Local::now().date_naive())
                .display()
                .to_string();
        }
    }
    let mut out = Vec::new();
    // After the readiness line, read on a little: Tomcat logs a shutdown
    // port already taken (another instance) right after "Server startup
    // in", and a file handler may write a moment late.
    let grace = (settings.poll * 2).max(Duration::from_secs(1));
    let mut ready_since: Option<Instant> = None;
    let stop = 'poll: loop {
        if maestro_common::signal::interrupted() {
            return Err(ToolError::Interrupted);
        }
        let today = if layout.is_some() {
            Local::now().date_naive()
        } else {
            settings.date
        };
        let mut busy = false;
        for slot in slots.iter_mut() {
            let want = path_of(slot, today);
            match poll_slot(
                slot, &want, first_read, settings, collector, live, deadline, &mut out,
            ) {
                Ok(b) => busy |= b,
                Err(stop) => break 'poll stop,
            }
        }
        if collector.zone_mismatch.is_some() {
            break Stop::Zone;
        }
        // A critical finding of this start ends it at once, also when the
        // readiness line came in the same read: a start with a failed
        // deployment or a critical error is never ready.
        if collector.first_critical(0).is_some() {
            break Stop::Critical;
        }
        let ready = collector.streams.first().is_some_and(|s| s.ready.is_some());
        if until_ready && ready {
            if ready_since.get_or_insert_with(Instant::now).elapsed() >= grace {
                break Stop::Ready;
            }
        } else {
            // A later startup line takes the readiness back.
            ready_since = None;
        }
        if Instant::now() >= deadline {
            break if ready_since.is_some() {
                Stop::Ready
            } else {
                Stop::Timeout
            };
        }
        if !busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if !maestro_common::signal::sleep(settings.poll.min(left)) {
                return Err(ToolError::Interrupted);
            }
        }
    };
    // What was read is judged whole: the open records are closed first.
    let mut outcomes = Vec::new();
    let today = Local::now().date_naive();
    for mut slot in slots {
        if let Some(mut cur) = slot.current.take() {
            cur.reader.finish(&mut cur.parser, &mut out);
            deliver(&mut out, collector, &cur.sink, &settings.rules, live);
            slot.outcomes.push(cur.outcome());
        }
        if slot.outcomes.is_empty() {
            let shown = path_of(
                &slot,
                if layout.is_some() {
                    today
                } else {
                    settings.date
                },
            )
            .display()
            .to_string();
            slot.outcomes.push(if slot.companion {
                Outcome::problem(
                    &shown,
                    Status::Ok,
                    format!("not found: {shown} (Tomcat logged nothing there)"),
                )
            } else {
                missing(&Input::file(PathBuf::from(&shown), true), settings)
            });
        }
        outcomes.extend(slot.outcomes);
    }
    let check = ready_check(
        collector,
        0,
        &Judged::Followed {
            stop,
            until_ready,
            waited: settings.timeout,
        },
    );
    Ok(FollowResult { outcomes, check })
}

/// One poll of one followed file: open it when it is not yet, read what
/// is new (never past the deadline), and take a replaced one as ended.
/// Returns whether anything was read or reopened (then no pause before
/// the next poll); Err when following must stop.
#[allow(clippy::too_many_arguments)]
fn poll_slot<'r>(
    slot: &mut Slot<'r>,
    want: &Path,
    first_read: FirstRead,
    settings: &'r Settings,
    collector: &mut Collector,
    live: Option<Live>,
    deadline: Instant,
    out: &mut Vec<Record>,
) -> Result<bool, Stop> {
    let shown = want.display().to_string();
    if slot.current.is_none() {
        // A file that appears after following began is read from its start.
        let how = if slot.first_open {
            first_read
        } else {
            FirstRead::Start
        };
        match open_followed(want, how, slot, settings, collector, deadline) {
            Ok(c) => slot.current = c,
            Err(OpenFailure::Deadline) => {
                slot.outcomes.push(Outcome::problem(
                    &shown,
                    Status::Unknown,
                    format!("{shown}: --timeout passed while counting the lines already in it"),
                ));
                return Err(Stop::Timeout);
            }
            Err(OpenFailure::Refused(why)) => {
                slot.outcomes
                    .push(Outcome::problem(&shown, Status::Unknown, why));
                return Err(Stop::Refused);
            }
            Err(OpenFailure::Unreadable(why)) => {
                slot.outcomes
                    .push(Outcome::problem(&shown, Status::Unknown, why));
                return Err(Stop::Unreadable);
            }
        }
        slot.first_open = false;
    }
    let Some(cur) = slot.current.as_mut() else {
        return Ok(false);
    };
    let unreadable = |cur: &Followed, e: std::io::Error| {
        Outcome::problem(
            &cur.sink.display,
            Status::Unknown,
            format!("cannot read {}: {e}", cur.sink.display),
        )
    };
    // Truncated and written again since the last look, perhaps past
    // where it was read: not a continuation, a new file (read below as a
    // replaced one, from its start).
    let rewritten = match cur.rewritten() {
        Ok(r) => r,
        Err(e) => {
            let o = unreadable(cur, e);
            slot.outcomes.push(o);
            return Err(Stop::Unreadable);
        }
    };
    let mut grew = false;
    if !rewritten {
        // Read what is there, but never past the deadline: a file
        // written faster than it is read still ends on time.
        while Instant::now() < deadline {
            let mut tapped = state::Tapped {
                inner: &mut cur.file,
                seen: &mut cur.seen,
            };
            let n = match cur.reader.read_once(&mut tapped, &mut cur.parser, out) {
                Ok(n) => n,
                Err(e) => {
                    let o = unreadable(cur, e);
                    slot.outcomes.push(o);
                    return Err(Stop::Unreadable);
                }
            };
            deliver(out, collector, &cur.sink, &settings.rules, live);
            if n == 0 {
                break;
            }
            grew = true;
        }
        if !grew {
            // Quiet: the record being written is complete enough to judge.
            cur.parser.flush(out);
            deliver(out, collector, &cur.sink, &settings.rules, live);
        }
    }
    // Rotation: a new file under the name (midnight, logrotate) or the
    // same file truncated. The old one was read to its end above.
    let replaced = rewritten
        || match std::fs::metadata(want) {
            Ok(m) => {
                state::identity(&m) != cur.identity || want != cur.path || m.len() < cur.seen.pos
            }
            Err(_) => want != cur.path,
        };
    if replaced && !grew && want.exists() {
        if let Some(mut old) = slot.current.take() {
            old.reader.finish(&mut old.parser, out);
            deliver(out, collector, &old.sink, &settings.rules, live);
            let mut o = old.outcome();
            o.notes.push(if rewritten {
                "truncated and written again: read again from its start".into()
            } else {
                "followed until it was rotated".into()
            });
            slot.outcomes.push(o);
        }
        return Ok(true);
    }
    Ok(grew)
}

/// Open a followed file. Ok(None): not there (yet). A FIFO would block
/// every read past the timeout and a device never ends: refused. Any other
/// error (permission denied) is said as it is, never taken for "missing".
fn open_followed<'r>(
    path: &Path,
    how: FirstRead,
    slot: &Slot<'r>,
    settings: &'r Settings,
    collector: &mut Collector,
    deadline: Instant,
) -> Result<Option<Followed<'r>>, OpenFailure> {
    let mut file = match open_log(path) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e @ fsio::FsioError::NotRegular { .. }) => {
            return Err(OpenFailure::Refused(e.to_string()))
        }
        Err(e) => return Err(OpenFailure::Unreadable(e.to_string())),
    };
    let unreadable =
        |e: std::io::Error| OpenFailure::Unreadable(format!("cannot read {}: {e}", path.display()));
    let meta = file.metadata().map_err(unreadable)?;
    let at_end = match how {
        FirstRead::End => true,
        FirstRead::Start => false,
        FirstRead::StartIfWrittenSince(t) => meta.modified().is_ok_and(|m| m < t),
    };
    let mut parser = RecordParser::new(&settings.rules, settings.parser_options());
    let mut seen = state::SeenBytes::new(0, FOLLOW_TAIL_BYTES);
    if at_end {
        // Count the lines already there, so locations stay true (and
        // take the fingerprints of what was skipped, as it was read).
        let lines = match count_lines(&mut file, meta.len(), deadline, &mut seen) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(OpenFailure::Deadline)
            }
            Err(e) => return Err(unreadable(e)),
        };
        file.seek(SeekFrom::Start(seen.pos)).map_err(unreadable)?;
        parser.resume_at(seen.pos, lines);
    }
    let start = (parser.counts.bytes, parser.counts.lines);
    // Lines read now that were there before following began belong to
    // this start only when --since-start-after says so; a file that
    // appeared or was replaced since is all new.
    let fresh_from = match how {
        FirstRead::Start if !slot.first_open => 0,
        _ => meta.len().max(seen.pos),
    };
    let display = path.display().to_string();
    Ok(Some(Followed {
        path: path.to_path_buf(),
        identity: state::identity(&meta),
        file,
        parser,
        reader: BlockReader::new(settings.max_line),
        sink: Sink {
            idx: collector.add_file(slot.stream, slot.companion),
            name: short_name(&display),
            display,
            fresh_from,
        },
        start,
        seen,
    }))
}

/// How findings are written the moment they are found while following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    /// A line each: `CRITICAL [rule] FILE:LINE: message`.
    Text,
    /// A JSON Lines record each, `"type": "live-finding"`, with the fields
    /// of a `finding` record (it is not folded: count 1).
    Json,
}

/// Text (unless `-q`) and JSON Lines stream findings; nagios output is one
/// report at the end, so it does not.
fn live_output(ctx: &Context) -> Option<Live> {
    match ctx.globals.format {
        Format::Json => Some(Live::Json),
        Format::Text if ctx.render.verbosity != Verbosity::Quiet => Some(Live::Text),
        _ => None,
    }
}

/// Write out the findings found since the last call. When standard output
/// fails (a reader that went away), streaming stops: following goes on and
/// every finding is still in the final report and the exit code.
fn emit_live(collector: &mut Collector, live: Option<Live>, check: &str) {
    let (Some(mode), Some(found)) = (live, collector.live.as_mut()) else {
        return;
    };
    if found.is_empty() {
        return;
    }
    // Written before the report is, so masked and escaped here as the
    // report is by the harness: a followed line may hold a password in a
    // JDBC URL, or a character that reorders the terminal.
    let mut out = std::io::stdout().lock();
    let mut written = || -> std::io::Result<()> {
        for f in found.drain(..) {
            match mode {
                Live::Json => {
                    let record = json_records::Record::LiveFinding(FindingRecord::new(
                        "maestro-logscan",
                        check,
                        &f,
                    ));
                    let mut value = serde_json::to_value(record).map_err(std::io::Error::other)?;
                    safe_output::mask_json(&mut value);
                    write_record(&mut out, &value)?;
                }
                Live::Text => {
                    let line = format!(
                        "{} [{}] {}: {}",
                        f.status,
                        f.id,
                        f.location.as_deref().unwrap_or(check),
                        f.message
                    );
                    writeln!(out, "{}", safe_output::printable(&line))?
                }
            }
        }
        out.flush()
    };
    if let Err(e) = written() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("maestro-logscan: cannot write a finding as it is found: {e} (they are in the report at the end)");
        }
        collector.live = None;
    }
}

/// Newlines in the first `len` bytes of `file`, shown to `seen` as read;
/// `TimedOut` at `deadline` (a huge log must not hold --follow past its
/// timeout).
fn count_lines(
    file: &mut std::fs::File,
    len: u64,
    deadline: Instant,
    seen: &mut state::SeenBytes,
) -> std::io::Result<u64> {
    use std::io::Read;
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    let mut n = 0u64;
    while left > 0 {
        if Instant::now() >= deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = file.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        seen.saw(&buf[..got]);
        n += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
        left -= got as u64;
    }
    Ok(n)
}

fn humantime_short(d: Duration) -> String {
    maestro_common::duration::HumanDuration(d).to_string()
}

fn list_rules(settings: &Settings) -> Report {
    let mut r = Report::new("maestro-logscan", Some("list-rules"));
    for rule in &settings.rules.rules {
        r.push(
            Check::ok(
                rule.id.clone(),
                format!(
                    "{} {} ({}): {}",
                    rule.severity.as_str(),
                    rule.kind.as_str(),
                    rule.pack.as_str(),
                    rule.description
                ),
            )
            .detail("severity", rule.severity.as_str())
            .detail("kind", rule.kind.as_str())
            .detail("pack", rule.pack.as_str())
            .detail("regex", rule.regex.clone())
            .detail(
                "warn_severity",
                rule.warn_severity.map(|s| s.as_str()).unwrap_or_default(),
            )
            .detail(
                "min_level",
                rule.min_level
                    .map(|l| format!("{l:?}").to_lowercase())
                    .unwrap_or_default(),
            )
            .detail("description", rule.description.clone())
            .detail("advice", rule.advice.clone()),
        );
    }
    r.summary = Some(format!(
        "{} rules for the {} log ({} pack)",
        settings.rules.rules.len(),
        settings.component,
        settings.pack.as_str()
    ));
    r
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn build_report(
    report: &mut Report,
    settings: &Settings,
    outcomes: &[Outcome],
    collector: &Collector,
    extra: Vec<Check>,
    elapsed: Duration,
) {
    let mut totals = (0u64, 0u64, 0u64);
    let mut by_sev = [0u64; 3];
    let mut worst_finding: Option<Finding> = None;
    for o in outcomes {
        if let Some((status, msg)) = &o.problem {
            report.push(
                Check::new(o.display.clone(), *status, msg.clone())
                    .detail("path", o.display.clone()),
            );
            continue;
        }
        let c = &o.counts;
        totals.0 += c.records;
        totals.1 += c.bytes - o.start_offset;
        totals.2 += c.lines - o.start_line;
        let ff = o.collector_index.and_then(|i| collector.files.get(i));
        let mut check = Check::ok(o.display.clone(), String::new())
            .detail("path", o.display.clone())
            .detail("lines", c.lines)
            .detail("records", c.records)
            .detail("bytes_scanned", c.bytes - o.start_offset)
            .detail("start_offset", o.start_offset)
            .detail("end_offset", c.bytes)
            .detail("timestamp_format", o.format.clone().unwrap_or_default())
            .detail("cut_lines", c.cut_lines)
            .detail("non_utf8_lines", c.non_utf8_lines)
            .detail("truncated_last_line", c.truncated_last_line);
        if !o.notes.is_empty() {
            check = check.detail("notes", o.notes.join("; "));
        }
        let mut counts = [0u64; 3];
        if let Some(ff) = ff {
            for g in &ff.groups {
                counts[g.severity as usize] += g.count;
                let f = g.to_finding();
                let better = worst_finding
                    .as_ref()
                    .is_none_or(|w| f.status.worst(w.status) != w.status);
                if better {
                    worst_finding = Some(f.clone());
                }
                check.add_finding(f);
            }
            for (sev, n) in &ff.overflow {
                counts[*sev as usize] += n;
                check.add_finding(Finding::new(
                    sev.status(),
                    "more-findings",
                    format!(
                        "{n} more {} findings not kept (only {} distinct findings are kept a file)",
                        sev.as_str(),
                        crate::collect::MAX_GROUPS
                    ),
                ));
            }
        }
        for i in 0..3 {
            by_sev[i] += counts[i];
        }
        let found = if counts.iter().sum::<u64>() == 0 {
            "no findings".to_string()
        } else {
            format!(
                "{} critical, {} warning, {} info",
                counts[2], counts[1], counts[0]
            )
        };
        let window = if o.start_offset > 0 {
            format!(" from offset {}", o.start_offset)
        } else {
            String::new()
        };
        check.message = format!(
            "{found} in {} records ({}{window}; timestamps: {})",
            c.records,
            mib(c.bytes - o.start_offset),
            o.format.clone().unwrap_or_default()
        );
        if o.format.as_deref().is_some_and(|f| f.starts_with("none"))
            && !settings.window.is_open()
            && c.records > 0
        {
            check.status = check.status.worst(Status::Unknown);
            check
                .message
                .push_str("; no timestamps recognised, so the time window could not be applied");
        }
        report.push(check);
    }
    if settings.since_start {
        for st in &collector.streams {
            let check = match (&st.last_startup, st.this_start) {
                (Some(p), true) => Check::ok(
                    "since-start",
                    format!("counted from the last startup at {}", p.describe()),
                ),
                (Some(p), false) => Check::new(
                    "since-start",
                    Status::Warning,
                    format!(
                        "the last startup at {} is an earlier start's: nothing of it counted",
                        p.describe()
                    ),
                ),
                (None, _) if collector.start_rule.follow => Check::new(
                    "since-start",
                    Status::Warning,
                    "no startup marker read: every line appended while following was counted",
                ),
                (None, _) => Check::new(
                    "since-start",
                    Status::Warning,
                    "no startup marker found: everything read was counted",
                ),
            };
            report.push(
                check
                    .detail("file", st.display.clone())
                    .detail("cleared_before", st.cleared),
            );
        }
    }
    for st in &collector.streams {
        if let Some(p) = &st.ok_point {
            report.push(
                Check::ok(
                    "ok-rule",
                    format!("findings before {} no longer count", p.describe()),
                )
                .detail("file", st.display.clone())
                .detail("cleared_before", st.cleared),
            );
        }
    }
    for c in extra {
        report.push(c);
    }
    let mut rules_check = Check::ok(
        "totals",
        format!(
            "{} records, {} lines, {} in {} file(s)",
            totals.0,
            totals.2,
            mib(totals.1),
            outcomes.len()
        ),
    )
    .perf(Perfdata::count("records", totals.0))
    .perf(Perfdata::new("bytes", totals.1 as f64, Uom::Bytes))
    .perf(Perfdata::count("critical", by_sev[2]))
    .perf(Perfdata::count("warning", by_sev[1]))
    .perf(Perfdata::count("info", by_sev[0]))
    .perf(Perfdata::new("time", elapsed.as_secs_f64(), Uom::Seconds))
    .timed(elapsed);
    let per_rule: serde_json::Map<String, serde_json::Value> = collector
        .rule_counts()
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    rules_check = rules_check.detail("per_rule", serde_json::Value::Object(per_rule));
    report.push(rules_check);
    let status = report.status();
    let quiet_line = || {
        let info = if by_sev[0] > 0 {
            format!(" ({} info)", by_sev[0])
        } else {
            String::new()
        };
        format!(
            "no warning or critical findings in {} records ({}) of {} file(s){info}",
            totals.0,
            mib(totals.1),
            outcomes.len()
        )
    };
    report.summary = Some(match (&worst_finding, status) {
        (_, Status::Ok) => quiet_line(),
        (_, Status::Unknown) | (None, _) => report.summary_line(),
        (Some(w), _) if w.status == Status::Ok => report.summary_line(),
        (Some(w), _) => {
            let mut msg = w.message.clone();
            if msg.chars().count() > 160 {
                msg = msg.chars().take(157).collect::<String>() + "...";
            }
            format!(
                "{} critical, {} warning: [{}] {}: {msg}",
                by_sev[2],
                by_sev[1],
                w.id,
                w.location.clone().unwrap_or_default()
            )
        }
    });
}
