//! Which logs to read and which time window: files named on the command
//! line, standard input, or the site's log of the day for a component (and
//! the days before it that the window reaches into).

use chrono::{Duration as ChronoDuration, NaiveDate, NaiveDateTime, NaiveTime};
use maestro_common::site::{Component, SiteLayout};
use std::path::{Path, PathBuf};

/// Standard input read with a deadline: a reader thread passes blocks over
/// a small channel, and a read at or past the deadline fails with
/// `TimedOut`, whether the stream is silent or never stops talking. The
/// thread, blocked in a read that never returns, ends with the process.
pub struct TimedStdin {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    deadline: std::time::Instant,
    pending: Vec<u8>,
    at: usize,
    done: bool,
}

impl TimedStdin {
    pub fn new(timeout: std::time::Duration) -> TimedStdin {
        TimedStdin::from_reader(std::io::stdin(), timeout)
    }

    pub fn from_reader(
        mut src: impl std::io::Read + Send + 'static,
        timeout: std::time::Duration,
    ) -> TimedStdin {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || loop {
            let mut buf = vec![0u8; 256 * 1024];
            let r = match src.read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    Ok(buf)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let end = !matches!(&r, Ok(b) if !b.is_empty());
            if tx.send(r).is_err() || end {
                return;
            }
        });
        TimedStdin {
            rx,
            deadline: std::time::Instant::now() + timeout,
            pending: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl std::io::Read for TimedStdin {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if !self.done && std::time::Instant::now() >= self.deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        if self.at == self.pending.len() {
            if self.done {
                return Ok(0);
            }
            let left = self
                .deadline
                .saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Ok(b)) if b.is_empty() => {
                    self.done = true;
                    return Ok(0);
                }
                Ok(Ok(b)) => {
                    self.pending = b;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(std::io::ErrorKind::TimedOut.into())
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.pending.len() - self.at);
        out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The most days back a window may pull in.
pub const MAX_DAYS_BACK: i64 = 31;

/// One log to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// None: standard input.
    pub path: Option<PathBuf>,
    /// How the report names it.
    pub display: String,
    /// A missing required file is UNKNOWN (OK with --missing-ok); an
    /// earlier day's file that is missing is only noted.
    pub required: bool,
    /// Which stream it belongs to: the files of one log (a component's
    /// day files) or of one program (Tomcat's catalina and localhost
    /// logs). A startup line starts a new start for its stream only.
    pub stream: usize,
    /// Tomcat's localhost.*.log read with its catalina.*.log: the
    /// catalina log's startup lines say when its start began.
    pub companion: bool,
}

impl Input {
    pub fn file(path: PathBuf, required: bool) -> Input {
        Input {
            display: path.display().to_string(),
            path: Some(path),
            required,
            stream: 0,
            companion: false,
        }
    }

    pub fn stdin() -> Input {
        Input {
            path: None,
            display: "-".into(),
            required: true,
            stream: 0,
            companion: false,
        }
    }
}

/// Tomcat's other log of the same day beside `path`: `localhost.X.log`
/// for `catalina.X.log` (and `catalina.log`/`localhost.log`).
pub fn tomcat_localhost_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("catalina.")?;
    (rest == "log" || rest.ends_with(".log"))
        .then(|| path.with_file_name(format!("localhost.{rest}")))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
}

/// The files named on the command line (`-` for standard input), each a
/// stream of its own, except that a `localhost.*.log` named with its
/// `catalina.*.log` is read right after it, in its stream: a servlet or
/// filter that fails at start is logged only there, and which start it
/// belongs to only catalina's startup lines tell.
pub fn named_inputs(paths: &[PathBuf]) -> Vec<Input> {
    let plain = |p: &PathBuf| {
        if p.as_os_str() == "-" {
            Input::stdin()
        } else {
            Input::file(p.clone(), true)
        }
    };
    let companion_of = |i: usize| -> Option<usize> {
        paths
            .iter()
            .position(|c| tomcat_localhost_of(c).is_some_and(|l| same_file(&l, &paths[i])))
    };
    let mut out: Vec<Input> = Vec::new();
    let mut stream = 0;
    for (i, p) in paths.iter().enumerate() {
        if companion_of(i).is_some() {
            continue;
        }
        let mut inp = plain(p);
        inp.stream = stream;
        out.push(inp);
        for (j, q) in paths.iter().enumerate() {
            if companion_of(j) == Some(i) && j != i {
                let mut c = plain(q);
                c.stream = stream;
                c.companion = true;
                out.push(c);
            }
        }
        stream += 1;
    }
    out
}

/// The catalina.*.log inputs whose localhost.*.log lies beside them but
/// was not named: a readiness judged on them alone misses a servlet that
/// failed at load. (catalina display, localhost path)
pub fn lone_catalina_logs(inputs: &[Input]) -> Vec<(String, PathBuf)> {
    inputs
        .iter()
        .filter(|i| !i.companion)
        .filter_map(|i| {
            let local = tomcat_localhost_of(i.path.as_deref()?)?;
            let paired = inputs.iter().any(|c| c.companion && c.stream == i.stream);
            (!paired && local.is_file()).then(|| (i.display.clone(), local))
        })
        .collect()
}

/// Parse `--since`/`--until`: a duration ago (`15m`), a date and time
/// (`2026-11-26T08:00`, `2026-11-26 08:00:00`), a date (midnight) or a
/// time of day (today).
pub fn parse_time(text: &str, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(v);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(tm) = NaiveTime::parse_from_str(t, f) {
            return Ok(now.date().and_time(tm));
        }
    }
    match maestro_common::duration::parse_duration(t) {
        Ok(d) => ChronoDuration::from_std(d)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(|| format!("{text:?} reaches too far back")),
        Err(_) => Err(format!(
            "{text:?} is neither a time (2026-11-26T08:00, \"2026-11-26 08:00:00\", 08:00) nor a duration (15m, 2h)"
        )),
    }
}

/// The logs of `component` for `date`: for the database its error log;
/// for the Java components the file of the day, preceded by the files of
/// the earlier days the window reaches into (`since` before midnight, or
/// the day before for `--since-start`, whose last startup may be there).
pub fn component_inputs(
    layout: &SiteLayout,
    component: Component,
    date: NaiveDate,
    since: Option<NaiveDateTime>,
    since_start: bool,
) -> Vec<Input> {
    if component == Component::Db {
        return vec![Input::file(
            layout.log_file_for(component, date).to_path_buf(),
            true,
        )];
    }
    let mut first = date;
    if let Some(s) = since {
        if s.date() < date {
            first = s.date().max(date - ChronoDuration::days(MAX_DAYS_BACK));
        }
    }
    if since_start {
        first = first.min(date - ChronoDuration::days(1));
    }
    let mut out = Vec::new();
    let mut d = first;
    while d <= date {
        out.push(Input::file(
            layout.log_file_for(component, d).to_path_buf(),
            d == date,
        ));
        d += ChronoDuration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestro_common::site::SiteConfig;

    fn now() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-11-26 00:10:00", "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_stream_that_never_ends_times_out() {
        use std::io::Read;
        let start = std::time::Instant::now();
        let mut r =
            TimedStdin::from_reader(std::io::repeat(b'x'), std::time::Duration::from_millis(300));
        let mut buf = vec![0u8; 1 << 16];
        let err = loop {
            match r.read(&mut buf) {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() < std::time::Duration::from_secs(3));
        // A stream that keeps coming ends at the deadline too.
        let start = std::time::Instant::now();
        let mut r =
            TimedStdin::from_reader(std::io::repeat(b'x'), std::time::Duration::from_millis(300));
        let mut n = 0u64;
        let err = loop {
            match r.read(&mut buf) {
                Ok(got) => n += got as u64,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(n > 0 && start.elapsed() < std::time::Duration::from_secs(3));
        let mut r = TimedStdin::from_reader(&b"a\nb\n"[..], std::time::Duration::from_secs(5));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a\nb\n");
    }

    #[test]
    fn a_tomcat_pair_is_one_stream_catalina_first() {
        let p = |s: &str| PathBuf::from(s);
        let got = named_inputs(&[
            p("/l/localhost.2026-11-28.log"),
            p("/x/LUI.LOG"),
            p("/l/catalina.2026-11-28.log"),
            p("/l/localhost.2026-11-27.log"),
        ]);
        let shown: Vec<(&str, usize, bool)> = got
            .iter()
            .map(|i| (i.display.as_str(), i.stream, i.companion))
            .collect();
        assert_eq!(
            shown,
            [
                ("/x/LUI.LOG", 0, false),
                ("/l/catalina.2026-11-28.log", 1, false),
                ("/l/localhost.2026-11-28.log", 1, true),
                ("/l/localhost.2026-11-27.log", 2, false),
            ]
        );
        assert_eq!(
            tomcat_localhost_of(Path::new("/l/catalina.log")),
            Some(p("/l/localhost.log"))
        );
        assert_eq!(tomcat_localhost_of(Path::new("/l/catalina.out")), None);
    }

    #[test]
    fn times_and_durations() {
        let p = |s| {
            parse_time(s, now())
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        assert_eq!(p("15m"), "2026-11-25 23:55:00");
        assert_eq!(p("2026-11-26T08:00"), "2026-11-26 08:00:00");
        assert_eq!(p("2026-11-26 08:00:05"), "2026-11-26 08:00:05");
        assert_eq!(p("2026-11-25"), "2026-11-25 00:00:00");
        assert_eq!(p("07:30"), "2026-11-26 07:30:00");
        let e = parse_time("yesterday-ish", now()).unwrap_err();
        assert!(e.contains("neither a time"), "{e}");
    }

    #[test]
    fn a_window_across_midnight_reads_the_day_before_too() {
        let dir = tempfile::tempdir().unwrap();
        let site = SiteConfig {
            install_root: Some(dir.path().display().to_string()),
            ..SiteConfig::default()
        };
        let layout = SiteLayout::resolve(&site).unwrap();
        let date = now().date();
        let only = component_inputs(&layout, Component::Lui, date, None, false);
        assert_eq!(only.len(), 1);
        assert!(only[0].display.ends_with("LUI-20261126.LOG"));
        let since = parse_time("15m", now()).ok();
        let two = component_inputs(&layout, Component::Lui, date, since, false);
        assert_eq!(two.len(), 2);
        assert!(two[0].display.ends_with("LUI-20261125.LOG") && !two[0].required);
        assert!(two[1].required);
        assert!(
            two.iter().all(|i| i.stream == 0),
            "the day files are one log"
        );
        let hub = component_inputs(&layout, Component::Hub, date, None, true);
        assert_eq!(hub.len(), 2);
        assert!(hub[1].display.ends_with("HUB-20261126.LOG"));
        let db = component_inputs(&layout, Component::Db, date, since, true);
        assert_eq!(db.len(), 1);
    }
}
