//! The InnoDB check: a page whose LSN lies beyond the end of the redo log
//! was written after the log was copied, so the tablespaces and the log are
//! not from one instant and crash recovery cannot make them consistent.
//!
//! What counts as what:
//! - evidence of a mixed or broken copy (pages beyond the log's end, log
//!   files that do not make one log, no log at all, torn or corrupt pages,
//!   a tablespace missing or not a file): CRITICAL, whatever the policy and
//!   whatever engine the tables use (the server reads its log and its
//!   system tablespace at every start);
//! - a file that cannot be read (permissions, I/O): UNKNOWN;
//! - a format this tool does not read (and pages it cannot checksum):
//!   WARNING, or OK under `innodb = "best-effort"`, or OK when no table
//!   keeps its data in InnoDB.

mod bytes;
pub mod page;
pub mod redo;

use crate::config::InnodbPolicy;
use crate::datadir::{self, DataFile};
use maestro_common::fsio;
use maestro_common::report::{Check, Finding};
use maestro_common::Status;
use redo::{CannotJudge, Problem};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Findings listed a file at most; the rest are counted.
const FINDINGS_PER_FILE: usize = 5;
/// The largest `.isl` file read: one path.
const ISL_MAX: u64 = 16 * fsio::KIB;

/// Whether `dir` holds an InnoDB data folder: a system tablespace, a log,
/// or MySQL 8.0.30's log folder. Whatever the names are (a FIFO, a link
/// that leads nowhere): the check then says what is wrong with them.
pub fn is_data_dir(dir: &Path) -> bool {
    let present = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
    present("ibdata1") || present("ib_logfile0") || dir.join("#innodb_redo").is_dir()
}

/// The one definition of the system tablespace's files: `ibdata1`,
/// `ibdata2`, ... (or a bare `ibdata`) in the data folder itself; their
/// number orders them.
fn system_number(f: &DataFile) -> Option<u64> {
    let digits = f.name.strip_prefix("ibdata")?;
    if !f.top || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return None;
    }
    Some(digits.parse().unwrap_or(0))
}

fn is_tablespace_name(f: &DataFile) -> bool {
    let undo = f.name.strip_prefix("undo").is_some_and(|n| {
        let n = n.trim_start_matches('_');
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    });
    (undo && f.top) || f.name.ends_with(".ibd") || f.name.ends_with(".ibu")
}

/// One tablespace file of a data folder.
#[derive(Debug, Clone)]
pub struct Tablespace {
    pub path: PathBuf,
    /// For messages: `ibdata1`, `maestro/jobs.ibd`, `maestro/jobs.ibd ->
    /// /disk2/jobs.ibd`, `/disk2/jobs.ibd (from maestro/jobs.isl)`.
    pub shown: String,
    pub system: bool,
    /// Reached through a link or named by an `.isl` file: not walked with
    /// the data folder.
    pub elsewhere: bool,
    /// Why it cannot be read at all (an `.isl` file that names nothing).
    pub problem: Option<String>,
}

/// The tablespace files of a data folder, the system tablespace first (in
/// its files' order): links followed, MySQL 5.6's `.isl` files (a table
/// created with DATA DIRECTORY) read for the `.ibd` they name.
pub fn tablespaces(datadir: &Path) -> Vec<Tablespace> {
    let listing = datadir::list(datadir);
    let mut system: Vec<(u64, Tablespace)> = Vec::new();
    let mut others: Vec<Tablespace> = Vec::new();
    for f in &listing.files {
        if f.is_folder() {
            continue;
        }
        let space = |system: bool| Tablespace {
            path: f.path.clone(),
            shown: f.shown(),
            system,
            elsewhere: f.linked,
            problem: None,
        };
        if let Some(n) = system_number(f) {
            system.push((n, space(true)));
        } else if is_tablespace_name(f) {
            others.push(space(false));
        } else if !f.top && f.name.ends_with(".isl") {
            others.push(isl_tablespace(datadir, f));
        }
    }
    system.sort_by_key(|(n, _)| *n);
    let mut all: Vec<Tablespace> = system.into_iter().map(|(_, s)| s).collect();
    all.extend(others);
    all
}

/// The tablespace an `.isl` file names (a path, absolute or relative to
/// the data folder, as the server reads it).
fn isl_tablespace(datadir: &Path, f: &DataFile) -> Tablespace {
    let unreadable = |why: String| Tablespace {
        path: f.path.clone(),
        shown: f.rel.clone(),
        system: false,
        elsewhere: true,
        problem: Some(why),
    };
    let text = match fsio::read_regular_to_string(&f.path, ISL_MAX) {
        Ok(t) => t,
        Err(e) => return unreadable(e.to_string()),
    };
    let named = text.trim_end_matches(['\n', '\r', '\0']).trim();
    if named.is_empty() {
        return unreadable(format!("{}: names no tablespace", f.path.display()));
    }
    let path = datadir.join(named);
    Tablespace {
        shown: format!("{} (from {})", path.display(), f.rel),
        path,
        system: false,
        elsewhere: true,
        problem: None,
    }
}

/// What pages are compared with.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// The end of the redo log (also one found before the log showed a
    /// problem).
    LogEnd(u64),
    /// No log: the LSN page 0 of the system tablespace says the server
    /// shut down at. A server starting without a log makes a new one from
    /// there, and the changes of every newer page are lost.
    Shutdown(u64),
}

impl Reference {
    fn lsn(self) -> u64 {
        match self {
            Reference::LogEnd(l) | Reference::Shutdown(l) => l,
        }
    }
}

/// What the pages of one tablespace say.
#[derive(Debug, Default)]
struct PageScan {
    pages: u64,
    not_judged: u64,
    max_lsn: u64,
    beyond: Vec<(u64, u64)>,
    beyond_count: u64,
    corrupt: Vec<(u64, String)>,
    corrupt_count: u64,
    /// Offset 26 of the file's first page: where MySQL 5.6 and older write
    /// the LSN of a clean shutdown into each data file.
    first_page_flush_lsn: u64,
}

/// Why a tablespace was not read: a broken copy (missing, not a file,
/// cut, a header that makes no sense) is CRITICAL; a file the tool may not
/// or cannot read (permissions, I/O errors) is UNKNOWN.
#[derive(Debug)]
struct Unread {
    status: Status,
    why: String,
}

impl Unread {
    fn broken(why: String) -> Unread {
        Unread {
            status: Status::Critical,
            why,
        }
    }

    fn io(path: &Path, e: std::io::Error) -> Unread {
        Unread {
            status: Status::Unknown,
            why: format!("{}: {e}", path.display()),
        }
    }
}

/// Opens a tablespace without ever blocking on it.
fn open_tablespace(path: &Path) -> Result<std::fs::File, Unread> {
    fsio::open_regular(path).map_err(|e| match e {
        fsio::FsioError::NotRegular { .. } => Unread::broken(format!("{e}: not a tablespace")),
        _ if e.is_not_found() => Unread::broken(format!("{e}: the tablespace is missing")),
        _ => Unread {
            status: Status::Unknown,
            why: e.to_string(),
        },
    })
}

fn scan(
    path: &Path,
    reference: Option<u64>,
    fallback: Option<page::Layout>,
) -> Result<(PageScan, page::Layout), Unread> {
    let file = open_tablespace(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut head = vec![0u8; 1024];
    let n = read_full(&mut reader, &mut head).map_err(|e| Unread::io(path, e))?;
    if n == 0 {
        return Ok((
            PageScan::default(),
            fallback.unwrap_or(page::Layout {
                page_size: 16384,
                full_crc32: false,
                compressed: false,
                encrypted: false,
            }),
        ));
    }
    if n < page::FSP_FLAGS_AT + 4 {
        return Err(Unread::broken(format!(
            "{}: {n} bytes, shorter than one page header",
            path.display()
        )));
    }
    let flags = bytes::be32(&head, page::FSP_FLAGS_AT);
    // Page 0 of ibdata2.. has no FSP header: it takes ibdata1's layout.
    let own_header = !(bytes::be32(&head, 4) != 0 && fallback.is_some());
    let mut layout = match fallback {
        Some(l) if !own_header => l,
        _ => page::layout(flags).map_err(|e| Unread::broken(format!("{}: {e}", path.display())))?,
    };
    let mut pagebuf = vec![0u8; layout.page_size];
    pagebuf[..n.min(1024)].copy_from_slice(&head[..n.min(1024)]);
    let first_len = n.min(1024)
        + if n == 1024 {
            read_full(&mut reader, &mut pagebuf[1024..]).map_err(|e| Unread::io(path, e))?
        } else {
            0
        };
    if own_header && first_len == layout.page_size && page::mariadb_encrypted(&pagebuf) {
        layout.encrypted = true;
    }
    let mut scan = PageScan {
        first_page_flush_lsn: bytes::be64(&pagebuf, 26),
        ..PageScan::default()
    };
    let mut len = first_len;
    let mut page_no = 0u64;
    loop {
        if len == 0 {
            break;
        }
        if len < layout.page_size {
            return Err(Unread::broken(format!(
                "{}: ends with a partial page ({len} of {} bytes) at page {page_no}: the file was cut",
                path.display(),
                layout.page_size
            )));
        }
        scan.pages += 1;
        let lsn = bytes::be64(&pagebuf, 16);
        match page::verify(&pagebuf, &layout) {
            page::PageVerdict::Empty => {}
            page::PageVerdict::NotJudged => scan.not_judged += 1,
            page::PageVerdict::Corrupt(why) => {
                scan.corrupt_count += 1;
                if scan.corrupt.len() < FINDINGS_PER_FILE {
                    scan.corrupt.push((page_no, why));
                }
            }
            page::PageVerdict::Ok => {}
        }
        if lsn > scan.max_lsn {
            scan.max_lsn = lsn;
        }
        if reference.is_some_and(|r| lsn > r) {
            scan.beyond_count += 1;
            if scan.beyond.len() < FINDINGS_PER_FILE {
                scan.beyond.push((page_no, lsn));
            }
        }
        page_no += 1;
        len = read_full(&mut reader, &mut pagebuf).map_err(|e| Unread::io(path, e))?;
    }
    Ok((scan, layout))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The clean-shutdown LSN on page 0 of the first system tablespace file.
fn system_flush_lsn(spaces: &[Tablespace]) -> Option<u64> {
    let first = spaces.iter().find(|s| s.system && s.problem.is_none())?;
    let mut head = [0u8; 34];
    let mut file = open_tablespace(&first.path).ok()?;
    (read_full(&mut file, &mut head).ok()? == head.len()).then(|| bytes::be64(&head, 26))
}

/// The verdict on a folder whose log format is not read (and that shows
/// nothing worse): OK when no table keeps its data in InnoDB (every `.frm`
/// names another engine, no `.ibd`), OK under `best-effort` with the
/// setting named, else WARNING.
fn not_read(
    mut check: Check,
    datadir: &Path,
    spaces: &[Tablespace],
    why: &str,
    policy: InnodbPolicy,
) -> Check {
    let has_ibd = spaces.iter().any(|s| !s.system);
    let tables = crate::frm::tables(datadir);
    check = check
        .detail("judged", false)
        .detail("not_judged_because", why.to_string())
        .detail("tables_other_engines", tables.other_engine())
        .detail("tables_innodb", tables.innodb.len() as u64);
    if !has_ibd && tables.none_in_innodb() {
        check.message = format!(
            "no table keeps its data in InnoDB ({} tables, {} views, every .frm names another engine ({}), no .ibd): nothing to judge in the InnoDB files ({why})",
            tables.other_engine(),
            tables.views,
            tables.engines_text()
        );
        return check.detail("innodb_in_use", false);
    }
    let in_use = if !tables.innodb.is_empty() {
        format!("{} InnoDB tables", tables.innodb.len())
    } else if has_ibd {
        "InnoDB tablespaces (.ibd)".to_string()
    } else {
        format!(
            "{} tables of engines this tool cannot tell from InnoDB",
            tables.unknown.len()
        )
    };
    match policy {
        InnodbPolicy::BestEffort => {
            check.message = format!(
                "not judged, accepted by innodb = {} ([verify] innodb or --innodb): {why} ({in_use} not checked)",
                policy.as_str()
            );
            check.detail("accepted_by", format!("innodb = {}", policy.as_str()))
        }
        InnodbPolicy::Strict => {
            check.status = check.status.worst(Status::Warning);
            check.message = format!(
                "cannot judge: {why} ({in_use}; to accept this, set [verify] innodb = \"best-effort\" or pass --innodb best-effort)"
            );
            check
        }
    }
}

/// Check one InnoDB data folder. `shown` names it in messages.
pub fn check(datadir: &Path, shown: &str, policy: InnodbPolicy) -> Check {
    let mut check = Check::ok(format!("innodb {shown}"), String::new())
        .detail("datadir", datadir.display().to_string());
    let spaces = tablespaces(datadir);
    let redo = redo::read(datadir);
    // What is CRITICAL (or UNKNOWN), for the message, worst first.
    let mut problems: Vec<String> = Vec::new();
    let mut log_problem: Option<String> = None;
    let mut format_not_read: Option<String> = None;
    let reference = match &redo {
        Ok(r) => {
            check = check
                .detail("redo_format", r.format.clone())
                .detail("checkpoint_lsn", r.checkpoint_lsn)
                .detail("end_lsn", r.end_lsn);
            if let Some(c) = r.block_checksum {
                check = check.detail("redo_block_checksum", c);
            }
            Some(Reference::LogEnd(r.end_lsn))
        }
        Err(e) => {
            check = log_finding(check, datadir, e, &mut log_problem, &mut format_not_read);
            match (e.end_lsn, e.problem) {
                (Some(end), _) => {
                    check = check.detail("end_lsn", end);
                    Some(Reference::LogEnd(end))
                }
                (None, Problem::Missing) => system_flush_lsn(&spaces)
                    .filter(|&l| l > 0)
                    .map(Reference::Shutdown),
                _ => None,
            }
        }
    };
    if spaces.is_empty() && format_not_read.is_none() && log_problem.is_none() {
        format_not_read = Some(format!("no tablespace found in {}", datadir.display()));
    }

    let mut totals = Totals::default();
    let mut system_layout: Option<page::Layout> = None;
    let mut system_flush_lsn: Option<u64> = None;
    for space in &spaces {
        let result = match &space.problem {
            Some(why) => Err(Unread::broken(why.clone())),
            None => scan(
                &space.path,
                reference.map(Reference::lsn),
                if space.system { system_layout } else { None },
            ),
        };
        match result {
            Err(unread) => {
                totals.unreadable += 1;
                check.add_finding(
                    Finding::new(unread.status, "innodb-unreadable", unread.why)
                        .at(space.path.display().to_string()),
                );
            }
            Ok((s, layout)) => {
                if space.system && system_layout.is_none() {
                    system_layout = Some(layout);
                    system_flush_lsn = Some(s.first_page_flush_lsn);
                }
                let flushed_beyond = match &redo {
                    // Format 0's servers write a clean shutdown's LSN into
                    // the first page of each data file; one beyond the
                    // log's end was shut down (and flushed) after the log
                    // was copied.
                    Ok(r) if r.format_0 && s.first_page_flush_lsn > r.end_lsn => Some(r.end_lsn),
                    _ => None,
                };
                report_scan(&mut check, space, &s, reference, flushed_beyond);
                totals.add(&s, flushed_beyond.is_some());
            }
        }
    }
    let elsewhere: Vec<&str> = spaces
        .iter()
        .filter(|s| s.elsewhere)
        .map(|s| s.shown.as_str())
        .collect();
    check = check
        .detail("tablespaces", spaces.len() as u64)
        .detail("pages", totals.pages)
        .detail("max_page_lsn", totals.max_lsn)
        .detail("pages_not_judged", totals.not_judged);
    if !elsewhere.is_empty() {
        check = check.detail("tablespaces_elsewhere", elsewhere.join(", "));
    }
    let clean_shutdown = matches!(&redo, Ok(r) if r.format_0
        && system_flush_lsn == Some(r.checkpoint_lsn)
        && r.end_lsn == r.checkpoint_lsn);
    if let (Ok(r), Some(f)) = (&redo, system_flush_lsn) {
        if r.format_0 {
            check = check
                .detail("flushed_lsn", f)
                .detail("clean_shutdown", clean_shutdown);
        }
    }

    if totals.beyond > 0 {
        problems.push(match reference {
            Some(Reference::Shutdown(at)) => format!(
                "{} pages carry LSNs up to {}, beyond the LSN the system tablespace was shut down at ({at}): their changes are only in the missing redo log",
                totals.beyond, totals.max_lsn
            ),
            _ => format!(
                "{} pages carry LSNs up to {}, beyond the end of the redo log at {}: tablespaces and log are not from one instant",
                totals.beyond,
                totals.max_lsn,
                reference.map_or(0, Reference::lsn)
            ),
        });
    }
    if totals.flushed_beyond > 0 {
        problems.push(format!(
            "{} data files were flushed by a clean shutdown beyond the end of the redo log at {}: tablespaces and log are not from one instant",
            totals.flushed_beyond,
            reference.map_or(0, Reference::lsn)
        ));
    }
    if let Some(p) = log_problem {
        problems.push(p);
    }
    if totals.corrupt > 0 || totals.unreadable > 0 {
        problems.push(format!(
            "{} pages fail their checksum or are torn, {} tablespaces unreadable",
            totals.corrupt, totals.unreadable
        ));
    }
    if !problems.is_empty() {
        check.message = problems.join("; ");
        return check;
    }
    if let Some(why) = format_not_read {
        return not_read(check, datadir, &spaces, &why, policy);
    }
    let Ok(r) = &redo else {
        // Every log problem is in `problems` or `format_not_read`.
        return check;
    };
    check.message = format!(
        "{} tablespaces, {} pages, none beyond the redo log's end (LSN {}, checkpoint {}, {}{}{})",
        spaces.len(),
        totals.pages,
        r.end_lsn,
        r.checkpoint_lsn,
        r.format,
        if clean_shutdown {
            "; copied after a clean shutdown"
        } else {
            ""
        },
        if elsewhere.is_empty() {
            String::new()
        } else {
            format!("; {} reached through links or .isl files", elsewhere.len())
        }
    );
    if totals.not_judged > 0 {
        let note = format!(
            "{} compressed or encrypted pages' checksums not judged",
            totals.not_judged
        );
        match policy {
            InnodbPolicy::BestEffort => {
                check.message.push_str(&format!(
                    "; {note}, accepted by innodb = {} ([verify] innodb or --innodb)",
                    policy.as_str()
                ));
                check = check.detail("accepted_by", format!("innodb = {}", policy.as_str()));
            }
            InnodbPolicy::Strict => {
                check.status = check.status.worst(Status::Warning);
                check.message.push_str(&format!("; {note}"));
            }
        }
    }
    check
}

/// The finding a log problem gives, and where it goes in the message.
fn log_finding(
    mut check: Check,
    datadir: &Path,
    e: &CannotJudge,
    log_problem: &mut Option<String>,
    format_not_read: &mut Option<String>,
) -> Check {
    let at = datadir.display().to_string();
    match e.problem {
        Problem::NotRead => *format_not_read = Some(e.why.clone()),
        Problem::Inconsistent | Problem::Missing => {
            check.add_finding(
                Finding::new(Status::Critical, "innodb-log-inconsistent", e.why.clone()).at(at),
            );
            *log_problem = Some(format!(
                "the redo log is not one consistent copy: {}",
                e.why
            ));
        }
        Problem::Unreadable => {
            check.add_finding(
                Finding::new(Status::Unknown, "innodb-log-unreadable", e.why.clone()).at(at),
            );
            *log_problem = Some(format!("the redo log could not be read: {}", e.why));
        }
    }
    check.detail("redo_problem", e.why.clone())
}

/// Counts over every tablespace.
#[derive(Debug, Default)]
struct Totals {
    pages: u64,
    not_judged: u64,
    max_lsn: u64,
    beyond: u64,
    flushed_beyond: u64,
    corrupt: u64,
    unreadable: u64,
}

impl Totals {
    fn add(&mut self, s: &PageScan, flushed_beyond: bool) {
        self.pages += s.pages;
        self.not_judged += s.not_judged;
        self.max_lsn = self.max_lsn.max(s.max_lsn);
        self.beyond += s.beyond_count;
        self.corrupt += s.corrupt_count;
        self.flushed_beyond += u64::from(flushed_beyond);
    }
}

/// The findings of one tablespace's pages.
fn report_scan(
    check: &mut Check,
    space: &Tablespace,
    s: &PageScan,
    reference: Option<Reference>,
    flushed_beyond: Option<u64>,
) {
    let rel = &space.shown;
    let path = space.path.display();
    for (page_no, lsn) in &s.beyond {
        let finding = match reference {
            Some(Reference::Shutdown(at)) => Finding::new(
                Status::Critical,
                "innodb-page-newer-than-shutdown",
                format!(
                    "{rel} page {page_no} has LSN {lsn}, beyond the LSN the system tablespace was shut down at ({at}), and there is no redo log: its changes are lost"
                ),
            )
            .detail("flushed_lsn", at),
            _ => {
                let end = reference.map_or(0, Reference::lsn);
                Finding::new(
                    Status::Critical,
                    "innodb-page-newer-than-log",
                    format!(
                        "{rel} page {page_no} has LSN {lsn}, beyond the end of the redo log (LSN {end}): the tablespace was copied later than the log"
                    ),
                )
                .detail("log_end_lsn", end)
            }
        };
        check.add_finding(
            finding
                .at(format!("{path}:page {page_no}"))
                .detail("page", *page_no)
                .detail("page_lsn", *lsn),
        );
    }
    if s.beyond_count > s.beyond.len() as u64 {
        let id = match reference {
            Some(Reference::Shutdown(_)) => "innodb-page-newer-than-shutdown",
            _ => "innodb-page-newer-than-log",
        };
        check.add_finding(
            Finding::new(
                Status::Critical,
                id,
                format!(
                    "{rel}: {} more pages beyond the LSN they are compared with",
                    s.beyond_count - s.beyond.len() as u64
                ),
            )
            .at(path.to_string()),
        );
    }
    if let Some(end) = flushed_beyond {
        check.add_finding(
            Finding::new(
                Status::Critical,
                "innodb-flushed-lsn-beyond-log",
                format!(
                    "{rel} says the server shut down cleanly at LSN {}, beyond the end of the redo log (LSN {end}): the tablespace was copied after a later shutdown than the log",
                    s.first_page_flush_lsn
                ),
            )
            .at(format!("{path}:page 0"))
            .detail("flushed_lsn", s.first_page_flush_lsn)
            .detail("log_end_lsn", end),
        );
    }
    for (page_no, why) in &s.corrupt {
        check.add_finding(
            Finding::new(
                Status::Critical,
                "innodb-page-checksum",
                format!("{rel} page {page_no}: {why}"),
            )
            .at(format!("{path}:page {page_no}"))
            .detail("page", *page_no),
        );
    }
    if s.corrupt_count > s.corrupt.len() as u64 {
        check.add_finding(
            Finding::new(
                Status::Critical,
                "innodb-page-checksum",
                format!(
                    "{rel}: {} more pages fail their checksum",
                    s.corrupt_count - s.corrupt.len() as u64
                ),
            )
            .at(path.to_string()),
        );
    }
}

/// Whether a data folder holds anything the check can judge: a
/// tablespace or a log group (a MySQL 8.0.30 log folder alone is not).
pub fn worth_checking(datadir: &Path) -> bool {
    std::fs::symlink_metadata(datadir.join("ib_logfile0")).is_ok()
        || !tablespaces(datadir).is_empty()
}

/// The `.MYI` files of a data folder the walk does not reach: in database
/// folders that are links, or all of them when the data folder itself was
/// reached through a link.
pub fn myisam_indexes_elsewhere(datadir: &Path, folder_linked: bool) -> Vec<(PathBuf, String)> {
    datadir::list(datadir)
        .files
        .into_iter()
        .filter(|f| !f.top && f.name.ends_with(".MYI") && (folder_linked || f.linked))
        .map(|f| {
            let shown = f.shown();
            (f.path, shown)
        })
        .collect()
}
