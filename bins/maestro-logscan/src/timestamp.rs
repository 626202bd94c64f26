//! Timestamps at the start of log records: the formats Maestro's Java
//! components, Tomcat and MySQL/MariaDB write, detected once a file.
//!
//! Maestro's own line format is not documented, so the tool does not
//! assume one: it tries each known format on the first lines of a file and
//! keeps the one that matches most. The parsers work on bytes and return
//! how many bytes the timestamp took; they are hand-written because they
//! run on every line of a gigabyte file.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone};

/// How many lines detection looks at.
pub const DETECT_LINES: usize = 200;

/// A timestamp format a file's records start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampFormat {
    /// `2026-11-26T08:00:01.123`, `2026-11-26 08:00:01,123`, with an optional
    /// zone; also MySQL/MariaDB's `2026-11-26  8:00:01` (hour padded with a space).
    Iso8601,
    /// java.util.logging's SimpleFormatter: `Nov 26, 2026 8:00:01 AM`,
    /// also in the JVM's language (`Nov. 26, 2026 8:00:01 PM` in German,
    /// `déc. 3, 2026 ...` in French, `a. m.` in Spanish, `FM`/`EM` in
    /// Swedish).
    JavaUtilLogging,
    /// Tomcat's OneLineFormatter: `26-Nov-2026 08:00:01.123`.
    Tomcat,
    /// `26.11.2026 08:00:01`.
    DayMonthYearDots,
    /// Old MySQL error logs: `261126  8:00:01` (yymmdd).
    MysqlShort,
    /// A strftime format given with `--timestamp-format`.
    Custom(String),
}

impl TimestampFormat {
    pub const BUILT_IN: [TimestampFormat; 5] = [
        TimestampFormat::Iso8601,
        TimestampFormat::JavaUtilLogging,
        TimestampFormat::Tomcat,
        TimestampFormat::DayMonthYearDots,
        TimestampFormat::MysqlShort,
    ];

    pub fn name(&self) -> String {
        match self {
            TimestampFormat::Iso8601 => "iso-8601".into(),
            TimestampFormat::JavaUtilLogging => "java.util.logging".into(),
            TimestampFormat::Tomcat => "tomcat".into(),
            TimestampFormat::DayMonthYearDots => "dd.mm.yyyy".into(),
            TimestampFormat::MysqlShort => "mysql-yymmdd".into(),
            TimestampFormat::Custom(f) => format!("custom {f:?}"),
        }
    }

    /// The timestamp at the start of `line` (a `[` before it is allowed),
    /// as local time, and the bytes it took.
    pub fn parse(&self, line: &[u8]) -> Option<(NaiveDateTime, usize)> {
        if let TimestampFormat::Custom(fmt) = self {
            return custom(fmt, line);
        }
        let (f, n) = self.fields(line)?;
        Some((f.to_local()?, n))
    }

    fn fields(&self, line: &[u8]) -> Option<(Fields, usize)> {
        let skip = usize::from(line.first() == Some(&b'['));
        let rest = &line[skip..];
        let (f, n) = match self {
            TimestampFormat::Iso8601 => iso8601(rest),
            TimestampFormat::JavaUtilLogging => jul(rest),
            TimestampFormat::Tomcat => tomcat(rest),
            TimestampFormat::DayMonthYearDots => dotted(rest),
            TimestampFormat::MysqlShort => mysql_short(rest),
            TimestampFormat::Custom(_) => None,
        }?;
        Some((f, n + skip))
    }

    /// Whether `line` starts a record: the same parser as
    /// [`parse`](Self::parse) without building the time, since this runs
    /// on every line.
    pub fn starts_record(&self, line: &[u8]) -> bool {
        match self {
            TimestampFormat::Custom(fmt) => custom(fmt, line).is_some(),
            _ => self.fields(line).is_some(),
        }
    }

    /// How many leading bytes of a valid timestamp make any line that
    /// starts with the same bytes a record start too (up to the seconds,
    /// where a fraction and zone may follow), for [`StartCache`].
    fn sure_prefix(&self, line: &[u8]) -> Option<usize> {
        let (_, n) = self.fields(line)?;
        let cut = match self {
            TimestampFormat::Iso8601
            | TimestampFormat::Tomcat
            | TimestampFormat::DayMonthYearDots => {
                // Up to the end of `hh:mm:ss`: the last ':' plus three.
                line[..n]
                    .iter()
                    .rposition(|&c| c == b':')
                    .map_or(n, |i| i + 3)
            }
            _ => n,
        };
        Some(cut.min(n))
    }
}

/// Remembers the last record start's sure prefix: in a busy log most
/// lines share their date and second with the line before, and comparing
/// 19 bytes is much cheaper than parsing them.
#[derive(Debug, Default)]
pub struct StartCache {
    prefix: Vec<u8>,
}

impl StartCache {
    pub fn starts_record(&mut self, format: &TimestampFormat, line: &[u8]) -> bool {
        if !self.prefix.is_empty() && line.starts_with(&self.prefix) {
            return true;
        }
        if let TimestampFormat::Custom(_) = format {
            return format.starts_record(line);
        }
        match format.sure_prefix(line) {
            Some(n) => {
                self.prefix.clear();
                self.prefix.extend_from_slice(&line[..n]);
                true
            }
            None => false,
        }
    }
}

/// The format most of the first lines start with, if any does.
pub fn detect<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Option<TimestampFormat> {
    let mut hits = [0usize; 5];
    for line in lines.take(DETECT_LINES) {
        for (i, f) in TimestampFormat::BUILT_IN.iter().enumerate() {
            if f.parse(line).is_some() {
                hits[i] += 1;
            }
        }
    }
    let (best, &n) = hits
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, usize::MAX - i))?;
    (n > 0).then(|| TimestampFormat::BUILT_IN[best].clone())
}

fn num(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// A number of 1 or 2 digits, or a space then a digit (`%2d`). Returns the
/// value and its width.
fn num_1_2(b: &[u8], at: usize) -> Option<(u32, usize)> {
    match (b.get(at), b.get(at + 1)) {
        (Some(b' '), Some(d)) if d.is_ascii_digit() => Some((u32::from(d - b'0'), 2)),
        (Some(a), Some(d)) if a.is_ascii_digit() && d.is_ascii_digit() => {
            Some((u32::from(a - b'0') * 10 + u32::from(d - b'0'), 2))
        }
        (Some(a), _) if a.is_ascii_digit() => Some((u32::from(a - b'0'), 1)),
        _ => None,
    }
}

fn at(b: &[u8], i: usize, c: u8) -> Option<()> {
    (b.get(i) == Some(&c)).then_some(())
}

/// The fields of a timestamp, checked for range only: building a chrono
/// value costs more than the parse, and most lines only need "is this a
/// record start".
#[derive(Debug, Clone, Copy)]
struct Fields {
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    nanos: u32,
    /// Seconds east of UTC, when the timestamp names its zone.
    offset: Option<i32>,
}

fn make(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> Option<Fields> {
    let ok = (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61;
    ok.then_some(Fields {
        y,
        mo,
        d,
        h,
        mi,
        s,
        nanos,
        offset: None,
    })
}

impl Fields {
    fn to_local(self) -> Option<NaiveDateTime> {
        let naive = NaiveDate::from_ymd_opt(self.y, self.mo, self.d)?
            .and_hms_nano_opt(self.h, self.mi, self.s, self.nanos)?;
        match self.offset {
            None => Some(naive),
            Some(secs) => {
                let tz = FixedOffset::east_opt(secs)?;
                let dt: DateTime<FixedOffset> = tz.from_local_datetime(&naive).single()?;
                Some(dt.with_timezone(&Local).naive_local())
            }
        }
    }
}

/// `.123` or `,123456`: nanoseconds and width.
fn fraction(b: &[u8], i: usize) -> (u32, usize) {
    if !matches!(b.get(i), Some(b'.' | b',')) {
        return (0, 0);
    }
    let mut n = 0;
    let mut nanos = 0u32;
    while let Some(c) = b.get(i + 1 + n).filter(|c| c.is_ascii_digit()) {
        if n < 9 {
            nanos = nanos * 10 + u32::from(c - b'0');
        }
        n += 1;
    }
    if n == 0 {
        return (0, 0);
    }
    for _ in n..9 {
        nanos *= 10;
    }
    (nanos, n + 1)
}

/// `hh:mm:ss` at `i` (hour `%2d` allowed): (h, m, s, width).
fn hms(b: &[u8], i: usize) -> Option<(u32, u32, u32, usize)> {
    let (h, w) = num_1_2(b, i)?;
    let i2 = i + w;
    at(b, i2, b':')?;
    let m = num(b, i2 + 1, 2)?;
    at(b, i2 + 3, b':')?;
    let s = num(b, i2 + 4, 2)?;
    Some((h, m, s, w + 6))
}

fn iso8601(b: &[u8]) -> Option<(Fields, usize)> {
    let y = num(b, 0, 4)?;
    at(b, 4, b'-')?;
    let mo = num(b, 5, 2)?;
    at(b, 7, b'-')?;
    let d = num(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (h, mi, s, w) = hms(b, 11)?;
    let mut i = 11 + w;
    let (nanos, fw) = fraction(b, i);
    i += fw;
    let mut fields = make(y as i32, mo, d, h, mi, s, nanos)?;
    // A zone, when written, turns the time into local time.
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(b, i + 1, 2);
            let (om, w) = if b.get(i + 3) == Some(&b':') {
                (num(b, i + 4, 2), 6)
            } else {
                (num(b, i + 3, 2), 5)
            };
            match (oh, om) {
                (Some(oh), Some(om)) => {
                    i += w;
                    let secs = (oh * 3600 + om * 60) as i32;
                    Some(if sign == b'-' { -secs } else { secs })
                }
                _ => None,
            }
        }
        _ => None,
    };
    fields.offset = offset;
    Some((fields, i))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn month(b: &[u8], i: usize) -> Option<u32> {
    let m = b.get(i..i + 3)?;
    MONTHS
        .iter()
        .position(|n| n.eq_ignore_ascii_case(m))
        .map(|p| p as u32 + 1)
}

/// Short month names as java.util.logging writes them (`%tb`) in the
/// JVM's language, lower-cased, without a trailing dot: English, German
/// (also Austrian `jän`), French, Spanish, Italian, Portuguese, Dutch,
/// the Scandinavian languages, Finnish, Polish and Czech.
const JUL_MONTHS: [(&str, u32); 80] = [
    ("jan", 1),
    ("janv", 1),
    ("jän", 1),
    ("ene", 1),
    ("gen", 1),
    ("sty", 1),
    ("tammik", 1),
    ("led", 1),
    ("feb", 2),
    ("févr", 2),
    ("fev", 2),
    ("lut", 2),
    ("helmik", 2),
    ("úno", 2),
    ("mar", 3),
    ("mär", 3),
    ("märz", 3),
    ("mrz", 3),
    ("mars", 3),
    ("mrt", 3),
    ("maalisk", 3),
    ("bře", 3),
    ("apr", 4),
    ("avr", 4),
    ("abr", 4),
    ("kwi", 4),
    ("huhtik", 4),
    ("dub", 4),
    ("may", 5),
    ("mai", 5),
    ("mag", 5),
    ("mei", 5),
    ("maj", 5),
    ("toukok", 5),
    ("kvě", 5),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("giu", 6),
    ("cze", 6),
    ("kesäk", 6),
    ("čvn", 6),
    ("jul", 7),
    ("juli", 7),
    ("juil", 7),
    ("juill", 7),
    ("lug", 7),
    ("lip", 7),
    ("heinäk", 7),
    ("čvc", 7),
    ("aug", 8),
    ("août", 8),
    ("ago", 8),
    ("sie", 8),
    ("elok", 8),
    ("srp", 8),
    ("sep", 9),
    ("sept", 9),
    ("set", 9),
    ("wrz", 9),
    ("syysk", 9),
    ("zář", 9),
    ("oct", 10),
    ("okt", 10),
    ("ott", 10),
    ("out", 10),
    ("paź", 10),
    ("lokak", 10),
    ("říj", 10),
    ("nov", 11),
    ("lis", 11),
    ("marrask", 11),
    ("dec", 12),
    ("dez", 12),
    ("dic", 12),
    ("déc", 12),
    ("des", 12),
    ("gru", 12),
    ("jouluk", 12),
    ("pro", 12),
];

/// The morning and afternoon markers java.util.logging writes (`%Tp`):
/// (marker, afternoon).
const JUL_AM_PM: [(&str, bool); 14] = [
    ("AM", false),
    ("PM", true),
    ("A.M.", false),
    ("P.M.", true),
    ("A.\u{a0}M.", false),
    ("P.\u{a0}M.", true),
    ("FM", false),
    ("EM", true),
    ("AP.", false),
    ("IP.", true),
    ("DOP.", false),
    ("ODP.", true),
    ("DA MANHÃ", false),
    ("DA TARDE", true),
];

/// A JUL month name at the start of `b` and the bytes it took.
fn jul_month(b: &[u8]) -> Option<(u32, usize)> {
    let end = b.iter().take(12).position(|&c| c == b' ')?;
    let word = b[..end].strip_suffix(b".").unwrap_or(&b[..end]);
    JUL_MONTHS
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))
        .map(|&(_, m)| (m, end))
}

fn jul(b: &[u8]) -> Option<(Fields, usize)> {
    let (mo, mut i) = jul_month(b)?;
    at(b, i, b' ')?;
    let (d, w) = num_1_2(b, i + 1)?;
    i += 1 + w;
    at(b, i, b',')?;
    at(b, i + 1, b' ')?;
    let y = num(b, i + 2, 4)?;
    i += 6;
    at(b, i, b' ')?;
    let (h, mi, s, w) = hms(b, i + 1)?;
    i += 1 + w;
    at(b, i, b' ')?;
    let rest = &b[i + 1..];
    let (marker, pm) = JUL_AM_PM.iter().find(|(m, _)| {
        rest.get(..m.len())
            .is_some_and(|x| x.eq_ignore_ascii_case(m.as_bytes()))
    })?;
    // The marker is a word of its own (the source class follows).
    if !matches!(rest.get(marker.len()), None | Some(b' ')) {
        return None;
    }
    if !(1..=12).contains(&h) {
        return None;
    }
    let h24 = (h % 12) + if *pm { 12 } else { 0 };
    Some((make(y as i32, mo, d, h24, mi, s, 0)?, i + 1 + marker.len()))
}

fn tomcat(b: &[u8]) -> Option<(Fields, usize)> {
    let d = num(b, 0, 2)?;
    at(b, 2, b'-')?;
    let mo = month(b, 3)?;
    at(b, 6, b'-')?;
    let y = num(b, 7, 4)?;
    at(b, 11, b' ')?;
    let (h, mi, s, w) = hms(b, 12)?;
    let i = 12 + w;
    let (nanos, fw) = fraction(b, i);
    Some((make(y as i32, mo, d, h, mi, s, nanos)?, i + fw))
}

fn dotted(b: &[u8]) -> Option<(Fields, usize)> {
    let d = num(b, 0, 2)?;
    at(b, 2, b'.')?;
    let mo = num(b, 3, 2)?;
    at(b, 5, b'.')?;
    let y = num(b, 6, 4)?;
    at(b, 10, b' ')?;
    let (h, mi, s, w) = hms(b, 11)?;
    let i = 11 + w;
    let (nanos, fw) = fraction(b, i);
    Some((make(y as i32, mo, d, h, mi, s, nanos)?, i + fw))
}

fn mysql_short(b: &[u8]) -> Option<(Fields, usize)> {
    let y = num(b, 0, 2)?;
    let mo = num(b, 2, 2)?;
    let d = num(b, 4, 2)?;
    at(b, 6, b' ')?;
    let (h, mi, s, w) = hms(b, 7)?;
    Some((make(2000 + y as i32, mo, d, h, mi, s, 0)?, 7 + w))
}

fn custom(fmt: &str, line: &[u8]) -> Option<(NaiveDateTime, usize)> {
    // Timestamps are ASCII in practice; look at a short prefix only.
    let head = &line[..line.len().min(64)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    let (t, rest) = NaiveDateTime::parse_and_remainder(text, fmt).ok()?;
    Some((t, text.len() - rest.len()))
}

/// Check a strftime format before using it: it must name a date and a time.
pub fn validate_custom(fmt: &str) -> Result<(), String> {
    let sample = chrono::NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(8, 0, 1))
        .ok_or("internal: bad sample date")?;
    let mut text = String::new();
    use std::fmt::Write;
    write!(text, "{}", sample.format(fmt))
        .map_err(|_| format!("invalid timestamp format {fmt:?}"))?;
    match NaiveDateTime::parse_and_remainder(&text, fmt) {
        Ok((t, _)) if t == sample => Ok(()),
        _ => Err(format!(
            "timestamp format {fmt:?} must give a full date and time (like \"%Y-%m-%d %H:%M:%S\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn each_built_in_format_parses_its_own_lines() {
        let cases: [(TimestampFormat, &str, &str, usize); 9] = [
            (
                TimestampFormat::Iso8601,
                "2026-11-26T08:00:01.123 INFO x",
                "2026-11-26 08:00:01.123",
                23,
            ),
            (
                TimestampFormat::Iso8601,
                "2026-11-26 08:00:01,5 SEVERE",
                "2026-11-26 08:00:01.5",
                21,
            ),
            (
                TimestampFormat::Iso8601,
                "2026-11-26  1:13:54 0 [Note] x",
                "2026-11-26 01:13:54",
                19,
            ),
            (
                TimestampFormat::Iso8601,
                "[2026-11-26 08:00:01] x",
                "2026-11-26 08:00:01",
                20,
            ),
            (
                TimestampFormat::JavaUtilLogging,
                "Nov 26, 2026 8:00:01 PM org.x.Y m",
                "2026-11-26 20:00:01",
                23,
            ),
            (
                TimestampFormat::JavaUtilLogging,
                "Nov 6, 2026 12:00:01 AM x",
                "2026-11-06 00:00:01",
                23,
            ),
            (
                TimestampFormat::Tomcat,
                "26-Nov-2026 08:00:01.123 SEVERE",
                "2026-11-26 08:00:01.123",
                24,
            ),
            (
                TimestampFormat::DayMonthYearDots,
                "26.11.2026 08:00:01 ERROR",
                "2026-11-26 08:00:01",
                19,
            ),
            (
                TimestampFormat::MysqlShort,
                "261126  8:00:01 [ERROR] x",
                "2026-11-26 08:00:01",
                15,
            ),
        ];
        for (f, line, want, len) in cases {
            assert_eq!(f.parse(line.as_bytes()), Some((t(want), len)), "{line}");
        }
    }

    /// java.util.logging in the JVM's language (the lines are what Java 17
    /// writes with -Duser.language=...).
    #[test]
    fn jul_headers_in_other_languages() {
        for (line, want) in [
            (
                "Nov. 27, 2026 10:41:36 PM com.example.X main",
                "2026-11-27 22:41:36",
            ),
            ("März 5, 2026 9:00:00 AM x y", "2026-03-05 09:00:00"),
            ("déc. 5, 2026 9:00:00 PM x y", "2026-12-05 21:00:00"),
            ("janv. 5, 2026 9:00:00 AM x y", "2026-01-05 09:00:00"),
            ("ene 5, 2026 9:00:00 P.\u{a0}M. x y", "2026-01-05 21:00:00"),
            ("okt. 5, 2026 9:00:00 EM x y", "2026-10-05 21:00:00"),
            ("mrt. 5, 2026 12:00:00 A.M. x y", "2026-03-05 00:00:00"),
            ("out. 5, 2026 9:00:00 DA TARDE x y", "2026-10-05 21:00:00"),
        ] {
            let got = TimestampFormat::JavaUtilLogging.parse(line.as_bytes());
            assert_eq!(got.map(|(t, _)| t), Some(t(want)), "{line}");
        }
        let (_, n) = TimestampFormat::JavaUtilLogging
            .parse("Nov. 27, 2026 10:41:36 PM com.example.X main".as_bytes())
            .unwrap();
        assert_eq!(n, "Nov. 27, 2026 10:41:36 PM".len());
        for not in [
            "Nov 27, 2026 10:41:36 PMx y",
            "Foo 27, 2026 10:41:36 PM x",
            "Nov. 27, 2026 10:41:36 XX x",
        ] {
            assert!(
                TimestampFormat::JavaUtilLogging
                    .parse(not.as_bytes())
                    .is_none(),
                "{not}"
            );
        }
    }

    #[test]
    fn non_timestamps_and_impossible_dates_are_not_records() {
        for line in [
            "\tat com.x.Y(Y.java:1)",
            "Caused by: java.sql.SQLException",
            "2026-13-01 08:00:01 x",
            "2026-02-30 08:00:01 x",
            "2026-11-26 25:00:01 x",
            "Nov 26, 2026 13:00:01 PM x",
            "",
            "2026",
        ] {
            for f in TimestampFormat::BUILT_IN {
                assert!(f.parse(line.as_bytes()).is_none(), "{f:?} {line}");
            }
        }
    }

    #[test]
    fn zones_become_local_time() {
        let (a, n) = TimestampFormat::Iso8601
            .parse(b"2026-11-26T08:00:01Z x")
            .unwrap();
        assert_eq!(n, 20);
        let (b, _) = TimestampFormat::Iso8601
            .parse(b"2026-11-26T09:00:01+01:00 x")
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn detection_picks_the_majority() {
        let lines: Vec<&[u8]> = vec![
            b"Nov 26, 2026 8:00:01 AM org.x.Y main",
            b"SEVERE: boom",
            b"Nov 26, 2026 8:00:02 AM org.x.Y main",
            b"INFO: fine",
            b"2026-11-26 08:00:01 stray",
        ];
        assert_eq!(
            detect(lines.into_iter()),
            Some(TimestampFormat::JavaUtilLogging)
        );
        assert_eq!(detect([b"no time here" as &[u8]].into_iter()), None);
    }

    #[test]
    fn custom_formats_are_checked_and_used() {
        assert!(validate_custom("%Y/%m/%d %H:%M:%S").is_ok());
        assert!(validate_custom("%H:%M").is_err());
        let f = TimestampFormat::Custom("%Y/%m/%d %H:%M:%S".into());
        assert_eq!(
            f.parse(b"2026/11/26 08:00:01 x"),
            Some((t("2026-11-26 08:00:01"), 19))
        );
    }
}
