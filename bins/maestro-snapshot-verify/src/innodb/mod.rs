//! The InnoDB check: a page whose LSN lies beyond the end of the redo log
//! was written after the log was copied, so the tablespaces and the log are
//! not from one instant and crash recovery cannot make them consistent.

pub mod page;
pub mod redo;

use crate::config::InnodbPolicy;
use maestro_common::report::{Check, Finding};
use maestro_common::Status;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Findings listed a file at most; the rest are counted.
const FINDINGS_PER_FILE: usize = 5;

/// Whether `dir` holds an InnoDB data folder.
pub fn is_data_dir(dir: &Path) -> bool {
    dir.join("ibdata1").is_file()
        || dir.join("ib_logfile0").is_file()
        || dir.join("#innodb_redo").is_dir()
}

/// The tablespace files of a data folder: the system tablespace first.
pub fn tablespaces(datadir: &Path) -> Vec<PathBuf> {
    let mut system: Vec<PathBuf> = Vec::new();
    let mut others: Vec<PathBuf> = Vec::new();
    let walker = walkdir::WalkDir::new(datadir)
        .follow_links(false)
        .max_depth(2)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|d| {
            let n = d.file_name().to_string_lossy();
            // Temporary tablespaces are recreated at start; the redo folder is not pages.
            !(d.depth() > 0 && (n == "#innodb_temp" || n == "#innodb_redo"))
        });
    for d in walker.flatten() {
        if !d.file_type().is_file() {
            continue;
        }
        let name = d.file_name().to_string_lossy().into_owned();
        let is_system = name.starts_with("ibdata") && name[6..].chars().all(|c| c.is_ascii_digit());
        let is_undo = name.strip_prefix("undo").is_some_and(|n| {
            let n = n.trim_start_matches('_');
            !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
        });
        if is_system && d.depth() == 1 {
            system.push(d.into_path());
        } else if is_undo || name.ends_with(".ibd") || name.ends_with(".ibu") {
            others.push(d.into_path());
        }
    }
    system.extend(others);
    system
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

fn scan(
    path: &Path,
    end_lsn: u64,
    fallback: Option<page::Layout>,
) -> Result<(PageScan, page::Layout), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut head = vec![0u8; 1024];
    let n = read_full(&mut reader, &mut head).map_err(|e| format!("{}: {e}", path.display()))?;
    if n == 0 {
        return Ok((
            PageScan::default(),
            fallback.unwrap_or(page::Layout {
                page_size: 16384,
                full_crc32: false,
                compressed: false,
            }),
        ));
    }
    if n < page::FSP_FLAGS_AT + 4 {
        return Err(format!(
            "{}: {n} bytes, shorter than one page header",
            path.display()
        ));
    }
    let flags = page::be32(&head, page::FSP_FLAGS_AT);
    // Page 0 of ibdata2.. has no FSP header: it takes ibdata1's layout.
    let layout = match (page::be32(&head, 4), fallback) {
        (p, Some(l)) if p != 0 => l,
        _ => page::layout(flags).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    let mut pagebuf = vec![0u8; layout.page_size];
    pagebuf[..n.min(1024)].copy_from_slice(&head[..n.min(1024)]);
    let first_len = n.min(1024)
        + if n == 1024 {
            read_full(&mut reader, &mut pagebuf[1024..])
                .map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            0
        };
    let mut scan = PageScan {
        first_page_flush_lsn: page::be64(&pagebuf, 26),
        ..PageScan::default()
    };
    let mut len = first_len;
    let mut page_no = 0u64;
    loop {
        if len == 0 {
            break;
        }
        if len < layout.page_size {
            return Err(format!(
                "{}: ends with a partial page ({len} of {} bytes) at page {page_no}: the file was cut",
                path.display(),
                layout.page_size
            ));
        }
        scan.pages += 1;
        let lsn = page::be64(&pagebuf, 16);
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
        if lsn > end_lsn {
            scan.beyond_count += 1;
            if scan.beyond.len() < FINDINGS_PER_FILE {
                scan.beyond.push((page_no, lsn));
            }
        }
        page_no += 1;
        len =
            read_full(&mut reader, &mut pagebuf).map_err(|e| format!("{}: {e}", path.display()))?;
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

/// What a folder whose InnoDB files could not be judged gives: OK when no
/// table keeps its data in InnoDB (every `.frm` names another engine, no
/// `.ibd`), OK under `best-effort` with the setting named, else WARNING.
fn not_judged(mut check: Check, datadir: &Path, why: &str, policy: InnodbPolicy) -> Check {
    let has_ibd = tablespaces(datadir).iter().any(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ibdata"))
    });
    let tables = crate::frm::tables(datadir);
    check = check
        .detail("judged", false)
        .detail("not_judged_because", why.to_string())
        .detail("tables_other_engines", tables.other_engine)
        .detail("tables_innodb", tables.innodb.len() as u64);
    if !has_ibd && tables.none_in_innodb() {
        check.status = Status::Ok;
        check.message = format!(
            "no table keeps its data in InnoDB ({} tables, {} views, every .frm names another engine, no .ibd): nothing to judge in the InnoDB files ({why})",
            tables.other_engine, tables.views
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
            check.status = Status::Ok;
            check.message = format!(
                "not judged, accepted by innodb = best-effort ([verify] innodb or --innodb): {why} ({in_use} not checked)"
            );
            check.detail("accepted_by", "innodb = best-effort")
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
    let name = format!("innodb {shown}");
    let base = Check::ok(name, String::new()).detail("datadir", datadir.display().to_string());
    let redo = match redo::read(datadir) {
        Ok(r) => r,
        Err(why) => return not_judged(base, datadir, &why, policy),
    };
    let mut check = base
        .detail("redo_format", redo.format.clone())
        .detail("checkpoint_lsn", redo.checkpoint_lsn)
        .detail("end_lsn", redo.end_lsn);
    if let Some(c) = redo.block_checksum {
        check = check.detail("redo_block_checksum", c);
    }
    let files = tablespaces(datadir);
    if files.is_empty() {
        let why = format!("no tablespace found in {}", datadir.display());
        return not_judged(check, datadir, &why, policy);
    }
    let mut pages = 0u64;
    let mut not_judged_pages = 0u64;
    let mut max_lsn = 0u64;
    let mut beyond_total = 0u64;
    let mut flushed_beyond = 0u64;
    let mut corrupt_total = 0u64;
    let mut unreadable = 0u64;
    let mut system_layout: Option<page::Layout> = None;
    let mut system_flush_lsn: Option<u64> = None;
    for path in &files {
        let rel = path
            .strip_prefix(datadir)
            .unwrap_or(path)
            .display()
            .to_string();
        let is_system = rel.starts_with("ibdata");
        let fallback = if is_system { system_layout } else { None };
        match scan(path, redo.end_lsn, fallback) {
            Err(why) => {
                unreadable += 1;
                check.add_finding(
                    Finding::new(Status::Critical, "innodb-unreadable", why)
                        .at(path.display().to_string()),
                );
            }
            Ok((s, layout)) => {
                if is_system && system_layout.is_none() {
                    system_layout = Some(layout);
                    system_flush_lsn = Some(s.first_page_flush_lsn);
                }
                pages += s.pages;
                not_judged_pages += s.not_judged;
                max_lsn = max_lsn.max(s.max_lsn);
                beyond_total += s.beyond_count;
                corrupt_total += s.corrupt_count;
                for (page_no, lsn) in &s.beyond {
                    check.add_finding(
                        Finding::new(
                            Status::Critical,
                            "innodb-page-newer-than-log",
                            format!(
                                "{rel} page {page_no} has LSN {lsn}, beyond the end of the redo log (LSN {}): the tablespace was copied later than the log",
                                redo.end_lsn
                            ),
                        )
                        .at(format!("{}:page {page_no}", path.display()))
                        .detail("page", *page_no)
                        .detail("page_lsn", *lsn)
                        .detail("log_end_lsn", redo.end_lsn),
                    );
                }
                if s.beyond_count > s.beyond.len() as u64 {
                    check.add_finding(
                        Finding::new(
                            Status::Critical,
                            "innodb-page-newer-than-log",
                            format!(
                                "{rel}: {} more pages beyond the end of the redo log",
                                s.beyond_count - s.beyond.len() as u64
                            ),
                        )
                        .at(path.display().to_string()),
                    );
                }
                // Format 0's servers write a clean shutdown's LSN into the
                // first page of each data file; one beyond the log's end was
                // shut down (and flushed) after the log was copied.
                if redo.format_0 && s.first_page_flush_lsn > redo.end_lsn {
                    flushed_beyond += 1;
                    check.add_finding(
                        Finding::new(
                            Status::Critical,
                            "innodb-flushed-lsn-beyond-log",
                            format!(
                                "{rel} says the server shut down cleanly at LSN {}, beyond the end of the redo log (LSN {}): the tablespace was copied after a later shutdown than the log",
                                s.first_page_flush_lsn, redo.end_lsn
                            ),
                        )
                        .at(format!("{}:page 0", path.display()))
                        .detail("flushed_lsn", s.first_page_flush_lsn)
                        .detail("log_end_lsn", redo.end_lsn),
                    );
                }
                for (page_no, why) in &s.corrupt {
                    check.add_finding(
                        Finding::new(
                            Status::Critical,
                            "innodb-page-checksum",
                            format!("{rel} page {page_no}: {why}"),
                        )
                        .at(format!("{}:page {page_no}", path.display()))
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
                        .at(path.display().to_string()),
                    );
                }
            }
        }
    }
    check = check
        .detail("tablespaces", files.len() as u64)
        .detail("pages", pages)
        .detail("max_page_lsn", max_lsn)
        .detail("pages_not_judged", not_judged_pages);
    let clean_shutdown = redo.format_0
        && system_flush_lsn == Some(redo.checkpoint_lsn)
        && redo.end_lsn == redo.checkpoint_lsn;
    if let Some(f) = system_flush_lsn.filter(|_| redo.format_0) {
        check = check
            .detail("flushed_lsn", f)
            .detail("clean_shutdown", clean_shutdown);
    }
    if beyond_total > 0 || flushed_beyond > 0 {
        check.message = if beyond_total > 0 {
            format!(
                "{beyond_total} pages carry LSNs up to {max_lsn}, beyond the end of the redo log at {}: tablespaces and log are not from one instant",
                redo.end_lsn
            )
        } else {
            format!(
                "{flushed_beyond} data files were flushed by a clean shutdown beyond the end of the redo log at {}: tablespaces and log are not from one instant",
                redo.end_lsn
            )
        };
    } else if corrupt_total > 0 || unreadable > 0 {
        check.message = format!(
            "{corrupt_total} pages fail their checksum, {unreadable} tablespaces unreadable"
        );
    } else {
        check.message = format!(
            "{} tablespaces, {pages} pages, none beyond the redo log's end (LSN {}, checkpoint {}, {}{})",
            files.len(),
            redo.end_lsn,
            redo.checkpoint_lsn,
            redo.format,
            if clean_shutdown { "; copied after a clean shutdown" } else { "" }
        );
        if not_judged_pages > 0 {
            let note =
                format!("{not_judged_pages} compressed or encrypted pages' checksums not judged");
            match policy {
                InnodbPolicy::BestEffort => {
                    check.message.push_str(&format!(
                        "; {note}, accepted by innodb = best-effort ([verify] innodb or --innodb)"
                    ));
                    check = check.detail("accepted_by", "innodb = best-effort");
                }
                InnodbPolicy::Strict => {
                    check.status = check.status.worst(Status::Warning);
                    check.message.push_str(&format!("; {note}"));
                }
            }
        }
    }
    check
}
