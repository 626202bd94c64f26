//! The driver: settings from flags and config, one pass over the inputs,
//! `--follow`, `--incremental`, and the report.

use crate::cli::{ComponentArg, ScanArgs};
use crate::collect::{Collector, Event};
use crate::input::{self, Input};
use crate::record::{BlockReader, Counts, ParserOptions, Record, RecordParser, Window};
use crate::rules::{self, Pack, RuleSet, Severity};
use crate::state::{self, FileState, Resume};
use crate::timestamp::{self, TimestampFormat};
use anyhow::Context as _;
use chrono::{Local, NaiveDate, NaiveDateTime};
use maestro_common::catalog::Catalog;
use maestro_common::cli::{Context, ToolError};
use maestro_common::fsio;
use maestro_common::perfdata::{Perfdata, Uom};
use maestro_common::render::json::{finding_record, write_record};
use maestro_common::render::{Format, Verbosity};
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
    pub since_start: bool,
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
            since_start: args.since_start,
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
    // count today.
    // Not when following: there only new lines (or an explicit window)
    // count, so an earlier start's "ready for connections" cannot pass.
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
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
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
        args.files
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Input::stdin()
                } else {
                    Input::file(p.clone(), true)
                }
            })
            .collect()
    };
    let mut report = Report::new(ctx.tool, None);
    let mut collector = Collector::new(settings.since_start);
    let live = if args.follow { live_output(ctx) } else { None };
    if live.is_some() {
        collector.live = Some(Vec::new());
    }
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut extra = Vec::new();
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
            extra.extend(readiness(&collector));
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

/// Whether the last start got ready, for `--since-start`: a readiness line
/// (Tomcat's "Server startup in", which it writes even when the web
/// application failed to deploy) after a critical finding of the same
/// start does not count. None when no readiness line came.
fn readiness(collector: &Collector) -> Option<Check> {
    let ready = collector.ready.as_ref()?;
    Some(match collector.first_critical() {
        Some(what) => Check::new(
            "ready",
            Status::Critical,
            format!(
                "not ready: {what} was logged in this start; the readiness marker at {} does not count",
                ready.describe()
            ),
        ),
        None => Check::ok("ready", format!("readiness marker at {}", ready.describe())),
    })
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
    pub start_offset: u64,
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
        }
    }
}

fn drain(
    out: &mut Vec<Record>,
    collector: &mut Collector,
    idx: usize,
    name: &str,
    rules: &RuleSet,
) -> Vec<Event> {
    out.drain(..)
        .map(|r| collector.accept(idx, name, r, rules))
        .collect()
}

/// Read `src` from where it stands to its end into the collector.
fn scan_stream(
    src: &mut dyn std::io::Read,
    display: &str,
    settings: &Settings,
    collector: &mut Collector,
    resume: Option<(u64, u64)>,
    whole_lines_only: bool,
) -> Result<Outcome, std::io::Error> {
    let mut parser = RecordParser::new(&settings.rules, settings.parser_options());
    if let Some((offset, line)) = resume {
        parser.resume_at(offset, line);
    }
    let idx = collector.add_file();
    let name = short_name(display);
    let mut reader = BlockReader::new(settings.max_line);
    let mut out = Vec::new();
    loop {
        let n = reader.read_once(src, &mut parser, &mut out)?;
        drain(&mut out, collector, idx, &name, &settings.rules);
        if n == 0 || maestro_common::signal::interrupted() {
            break;
        }
    }
    if whole_lines_only {
        reader.discard();
        parser.flush(&mut out);
    } else {
        reader.finish(&mut parser, &mut out);
    }
    drain(&mut out, collector, idx, &name, &settings.rules);
    let mut notes = Vec::new();
    notes.extend(last_record_note(&parser));
    Ok(Outcome {
        display: display.to_string(),
        problem: None,
        counts: parser.counts,
        format: Some(
            parser
                .format()
                .map_or("none (every line a record)".to_string(), |f| f.name()),
        ),
        collector_index: Some(idx),
        notes,
        start_offset: resume.map_or(0, |r| r.0),
    })
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

fn scan_input(
    inp: &Input,
    settings: &Settings,
    collector: &mut Collector,
    catalog: Option<&mut Catalog>,
) -> Vec<Outcome> {
    let Some(path) = &inp.path else {
        // A stream may never end (a pipe from a program that hangs,
        // /dev/zero): it is read until --timeout, then UNKNOWN.
        let mut stdin = crate::input::TimedStdin::new(settings.timeout);
        return vec![
            scan_stream(&mut stdin, "-", settings, collector, None, false).unwrap_or_else(|e| {
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
    let mut file = match fsio::open_regular(path) {
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
        None => scan_stream(&mut file, &inp.display, settings, collector, None, false)
            .map(|o| vec![o])
            .map_err(anyhow::Error::from),
        Some(c) => scan_incremental(path, &inp.display, file, settings, collector, c),
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
    display: &str,
    mut file: std::fs::File,
    settings: &Settings,
    collector: &mut Collector,
    catalog: &mut Catalog,
) -> anyhow::Result<Vec<Outcome>> {
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
                    let mut f = fsio::open_regular(&rotated)?;
                    if f.metadata()?.len() >= old.offset {
                        f.seek(SeekFrom::Start(old.offset))?;
                        let shown = rotated.display().to_string();
                        let mut o = scan_stream(&mut f, &shown, settings, collector, Some((old.offset, old.line)), false)?;
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
    file.seek(SeekFrom::Start(resume.map_or(0, |(offset, _)| offset)))?;
    let mut o = scan_stream(&mut file, display, settings, collector, resume, true)?;
    o.notes.extend(note);
    // Save where whole lines end; a partial last line is read next time.
    let end = o.counts.bytes;
    let (dev, ino) = state::identity(&meta);
    // The hash covers the last records: up to MAX_TAIL bytes before the end.
    let (tail_start, tail_hash) = state::tail_hash(&mut file, 0, end)?;
    let (head_len, head_hash) = state::head_hash(&mut file, end)?;
    let new_state = FileState {
        head_len,
        head_hash,
        device: dev,
        inode: ino,
        size: file.metadata()?.len(),
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

/// The file being followed, with its own parser.
struct Followed<'r> {
    path: PathBuf,
    file: std::fs::File,
    identity: (u64, u64),
    parser: RecordParser<'r>,
    reader: BlockReader,
    idx: usize,
    name: String,
    display: String,
    /// How far the file has been read.
    read_to: u64,
    /// The file's first bytes (up to [`FINGERPRINT_BYTES`]) and the last
    /// ones before `read_to`, as read: when either changed, the file was
    /// truncated and written again (perhaps past `read_to`, within one
    /// poll), and it is read again from its start.
    head: Vec<u8>,
    tail: (u64, Vec<u8>),
}

/// How many first and last bytes tell a followed file that was rewritten.
const FINGERPRINT_BYTES: u64 = 4096;
const TAIL_FINGERPRINT_BYTES: u64 = 256;

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
        let len = self.file.metadata()?.len();
        if len < self.read_to {
            return Ok(true);
        }
        if read_at(&self.file, 0, self.head.len() as u64)? != self.head {
            return Ok(true);
        }
        let (at, bytes) = &self.tail;
        Ok(read_at(&self.file, *at, bytes.len() as u64)? != *bytes)
    }

    /// Take the fingerprints of what was read up to `read_to`.
    fn fingerprint(&mut self) -> std::io::Result<()> {
        let want = self.read_to.min(FINGERPRINT_BYTES);
        if (self.head.len() as u64) < want {
            self.head = read_at(&self.file, 0, want)?;
        }
        let at = self.read_to.saturating_sub(TAIL_FINGERPRINT_BYTES);
        if self.tail.0 != at || self.tail.1.len() as u64 != self.read_to - at {
            self.tail = (at, read_at(&self.file, at, self.read_to - at)?);
        }
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            display: self.display.clone(),
            problem: None,
            counts: self.parser.counts,
            format: Some(
                self.parser
                    .format()
                    .map_or("none (every line a record)".to_string(), |f| f.name()),
            ),
            collector_index: Some(self.idx),
            notes: Vec::new(),
            start_offset: 0,
        }
    }
}

fn follow(
    settings: &Settings,
    inputs: &[Input],
    layout: Option<&SiteLayout>,
    until_ready: bool,
    collector: &mut Collector,
    live: Option<Live>,
) -> Result<FollowResult, ToolError> {
    let fixed_path = match (layout, inputs) {
        (Some(_), _) => None,
        (None, [one]) => one.path.clone(),
        _ => {
            return Err(usage(
                "--follow reads one file (or, with no FILE, the component's log of the day)",
            ))
        }
    };
    // Without a window only new lines count: an old readiness marker of an
    // earlier start today must not pass for this one.
    let from_start = settings.window.since.is_some() || settings.since_start;
    let deadline = Instant::now() + settings.timeout;
    let path_now = |date: NaiveDate| -> PathBuf {
        match (&fixed_path, layout) {
            (Some(p), _) => p.clone(),
            (None, Some(l)) => l.log_file_for(settings.component, date).to_path_buf(),
            (None, None) => PathBuf::new(),
        }
    };
    let mut outcomes = Vec::new();
    let mut current: Option<Followed> = None;
    let mut first_open = true;
    let mut out = Vec::new();
    let mut ready_seen = false;
    // Ok(None): not there (yet). Err: there, but not a regular file (a
    // FIFO would block every read past the timeout, a device never ends).
    let open = |path: &Path,
                collector: &mut Collector,
                at_end: bool|
     -> Result<Option<Followed>, String> {
        let mut file = match fsio::open_regular(path) {
            Ok(f) => f,
            Err(e @ fsio::FsioError::NotRegular { .. }) => return Err(e.to_string()),
            Err(_) => return Ok(None),
        };
        let Ok(meta) = file.metadata() else {
            return Ok(None);
        };
        let mut parser = RecordParser::new(&settings.rules, settings.parser_options());
        let mut read_to = 0;
        if at_end {
            // Count the lines already there, so locations stay true.
            let len = meta.len();
            let Ok(lines) = count_lines(&mut file, len, deadline) else {
                return Ok(None);
            };
            if file.seek(SeekFrom::Start(len)).is_err() {
                return Ok(None);
            }
            parser.resume_at(len, lines);
            read_to = len;
        }
        let display = path.display().to_string();
        let mut followed = Followed {
            path: path.to_path_buf(),
            identity: state::identity(&meta),
            file,
            parser,
            reader: BlockReader::new(settings.max_line),
            idx: collector.add_file(),
            name: short_name(&display),
            display,
            read_to,
            head: Vec::new(),
            tail: (0, Vec::new()),
        };
        if followed.fingerprint().is_err() {
            return Ok(None);
        }
        Ok(Some(followed))
    };
    let stop = loop {
        if maestro_common::signal::interrupted() {
            return Err(ToolError::Interrupted);
        }
        let today = if layout.is_some() {
            Local::now().date_naive()
        } else {
            settings.date
        };
        let want = path_now(today);
        if current.is_none() {
            // A file that appears after we started is read from its start.
            match open(&want, collector, first_open && !from_start) {
                Ok(c) => current = c,
                Err(refused) => {
                    outcomes.push(Outcome::problem(
                        &want.display().to_string(),
                        Status::Unknown,
                        refused,
                    ));
                    break "refused";
                }
            }
            if current.is_some() || !want.exists() {
                first_open = false;
            }
        }
        let mut grew = false;
        // Truncated and written again since the last look, perhaps past
        // where it was read: not a continuation, a new file (read below
        // as a replaced one, from its start).
        let rewritten = current
            .as_ref()
            .is_some_and(|c| c.rewritten().unwrap_or(true));
        if let Some(cur) = current.as_mut().filter(|_| !rewritten) {
            // Read what is there, but never past the deadline: a file
            // written faster than it is read still ends on time.
            while Instant::now() < deadline {
                let n = cur
                    .reader
                    .read_once(&mut cur.file, &mut cur.parser, &mut out)
                    .map_err(|e| {
                        ToolError::Failed(anyhow::anyhow!("cannot read {}: {e}", cur.display))
                    })?;
                for ev in drain(&mut out, collector, cur.idx, &cur.name, &settings.rules) {
                    ready_seen |= ev == Event::Ready;
                }
                emit_live(collector, live, &cur.display);
                if n == 0 {
                    break;
                }
                cur.read_to += n as u64;
                grew = true;
            }
            cur.fingerprint().map_err(|e| {
                ToolError::Failed(anyhow::anyhow!("cannot read {}: {e}", cur.display))
            })?;
            if !grew {
                // Quiet: the record being written is complete enough to judge.
                cur.parser.flush(&mut out);
                for ev in drain(&mut out, collector, cur.idx, &cur.name, &settings.rules) {
                    ready_seen |= ev == Event::Ready;
                }
                emit_live(collector, live, &cur.display);
            }
        }
        // A critical finding ends it at once, also when the readiness
        // line came in the same read: a start with a failed deployment
        // or a critical error is never ready. A later startup marker
        // (--since-start) clears the findings of an earlier start.
        if collector.first_critical().is_some() {
            break "critical";
        }
        if collector.ready.is_none() {
            ready_seen = false;
        }
        if ready_seen && until_ready {
            break "ready";
        }
        // Rotation: a new file under the name (midnight, logrotate) or the
        // same file truncated. The old one was read to its end above.
        if let Some(cur) = current.as_ref() {
            let replaced = rewritten
                || match std::fs::metadata(&want) {
                    Ok(m) => {
                        state::identity(&m) != cur.identity
                            || want != cur.path
                            || m.len() < cur.parser.counts.bytes
                    }
                    Err(_) => want != cur.path,
                };
            if replaced && !grew && want.exists() {
                if let Some(mut old) = current.take() {
                    old.reader.finish(&mut old.parser, &mut out);
                    drain(&mut out, collector, old.idx, &old.name, &settings.rules);
                    emit_live(collector, live, &old.display);
                    let mut o = old.outcome();
                    o.notes.push(if rewritten {
                        "truncated and written again: read again from its start".into()
                    } else {
                        "followed until it was rotated".into()
                    });
                    outcomes.push(o);
                }
                continue;
            }
        }
        if Instant::now() >= deadline {
            break "timeout";
        }
        if !grew {
            let left = deadline.saturating_duration_since(Instant::now());
            if !maestro_common::signal::sleep(settings.poll.min(left)) {
                return Err(ToolError::Interrupted);
            }
        }
    };
    let followed_path = current.as_ref().map(|c| c.display.clone());
    if let Some(mut cur) = current.take() {
        cur.reader.finish(&mut cur.parser, &mut out);
        drain(&mut out, collector, cur.idx, &cur.name, &settings.rules);
        emit_live(collector, live, &cur.display);
        outcomes.push(cur.outcome());
    }
    if outcomes.is_empty() {
        // The file never appeared: that is not "no findings".
        let shown = path_now(settings.date).display().to_string();
        outcomes.push(missing(&Input::file(PathBuf::from(&shown), true), settings));
    }
    let waited = humantime_short(settings.timeout);
    let check = match stop {
        "refused" => Check::new(
            "follow",
            Status::Unknown,
            "the log cannot be followed: it is not a regular file",
        ),
        "ready" => {
            let at = collector
                .ready
                .as_ref()
                .map(|p| p.describe())
                .unwrap_or_default();
            Check::ok("ready", format!("readiness marker at {at}"))
        }
        "critical" => {
            let what = collector.first_critical().unwrap_or_default();
            let ready_line = collector
                .ready
                .as_ref()
                .map(|p| format!("; the readiness marker at {} does not count", p.describe()))
                .unwrap_or_default();
            Check::new(
                "ready",
                Status::Critical,
                format!("not ready: stopped at once at the critical finding {what}{ready_line}"),
            )
        }
        _ if until_ready => {
            let shown =
                followed_path.unwrap_or_else(|| path_now(settings.date).display().to_string());
            Check::new(
                "ready",
                Status::Critical,
                format!("not ready after {waited}"),
            )
            .detail("file", shown)
        }
        _ => Check::ok("follow", format!("followed for {waited}")),
    };
    Ok(FollowResult { outcomes, check })
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
    let mut out = std::io::stdout().lock();
    let mut written = || -> std::io::Result<()> {
        for f in found.drain(..) {
            match mode {
                Live::Json => {
                    let mut record = finding_record("maestro-logscan", check, &f);
                    record["type"] = "live-finding".into();
                    write_record(&mut out, &record)?;
                }
                Live::Text => writeln!(
                    out,
                    "{} [{}] {}: {}",
                    f.status,
                    f.id,
                    f.location.as_deref().unwrap_or(check),
                    f.message
                )?,
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

/// Newlines in the first `len` bytes of `file`; `TimedOut` at `deadline`
/// (a huge log must not hold --follow past its timeout).
fn count_lines(file: &mut std::fs::File, len: u64, deadline: Instant) -> std::io::Result<u64> {
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
        totals.2 += c.lines;
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
        match &collector.last_startup {
            Some(p) => report.push(
                Check::ok(
                    "since-start",
                    format!("counted from the last startup at {}", p.describe()),
                )
                .detail("cleared_before", collector.cleared),
            ),
            None => report.push(Check::new(
                "since-start",
                Status::Warning,
                "no startup marker found: everything read was counted",
            )),
        }
    }
    if let Some(p) = &collector.ok_point {
        report.push(
            Check::ok(
                "ok-rule",
                format!("findings before {} no longer count", p.describe()),
            )
            .detail("cleared_before", collector.cleared),
        );
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
        .rule_counts
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
