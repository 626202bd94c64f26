//! Maestro's token-protected report export, read to confirm that a click
//! and a bounce were counted. The export's exact format is not documented
//! publicly, so this reads the two simplest forms (a documented guess):
//! a JSON object with numeric `clicks` and `bounces` (and `sent`), or CSV
//! whose header row names those columns and whose one other row has the
//! values. A body that was cut off is never read as a whole one.

use crate::http;
use crate::settings::ReportSource;
use maestro_common::secret::Secret;
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub sent: Option<u64>,
    pub clicks: Option<u64>,
    pub bounces: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Clicks,
    Bounces,
}

impl Counter {
    pub fn name(self) -> &'static str {
        match self {
            Counter::Clicks => "clicks",
            Counter::Bounces => "bounces",
        }
    }
    pub fn of(self, c: &Counts) -> Option<u64> {
        match self {
            Counter::Clicks => c.clicks,
            Counter::Bounces => c.bounces,
        }
    }
}

pub fn parse(body: &str) -> Result<Counts, String> {
    let t = body.trim_start_matches('\u{feff}').trim();
    if t.starts_with('{') {
        let v: Value =
            serde_json::from_str(t).map_err(|e| format!("the report is not valid JSON: {e}"))?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let c = Counts {
            sent: n("sent"),
            clicks: n("clicks"),
            bounces: n("bounces"),
        };
        if c.clicks.is_none() && c.bounces.is_none() {
            return Err("the JSON report has neither a numeric \"clicks\" nor \"bounces\"".into());
        }
        return Ok(c);
    }
    parse_csv(t)
}

/// CSV with a header row naming the columns and exactly one row of values
/// (the job's). One separator for the whole file, from the header row: `;`
/// when it has semicolons and no commas (a European export, where `0,7` is a
/// number), else tab when it has tabs and no commas, else `,`. Quoted fields
/// follow RFC 4180, so a job name with a comma stays one field.
fn parse_csv(t: &str) -> Result<Counts, String> {
    let header = t
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or("the report is empty")?;
    let delimiter = if header.contains(';') && !header.contains(',') {
        b';'
    } else if header.contains('\t') && !header.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(t.as_bytes());
    let not_csv = |why: String| {
        format!(
            "the report is neither JSON nor CSV with clicks/bounces columns ({why}; starts {:?})",
            http::snippet(t)
        )
    };
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| not_csv(e.to_string()))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let column = |k: &str| names.iter().position(|c| c == k);
    if column("clicks").is_none() && column("bounces").is_none() {
        return Err(not_csv("no clicks or bounces column".into()));
    }
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the CSV report cannot be read: {e}"))?;
    let row = match rows.as_slice() {
        [row] => row,
        [] => return Err("the CSV report has a header row but no values".into()),
        more => {
            return Err(format!(
                "the CSV report has {} rows of values: which one is this run's job is unknown",
                more.len()
            ))
        }
    };
    let n = |k: &str| -> Result<Option<u64>, String> {
        let Some(i) = column(k) else { return Ok(None) };
        let v = row.get(i).unwrap_or("");
        v.parse()
            .map(Some)
            .map_err(|_| format!("the CSV report's {k} value {v:?} is not a count"))
    };
    Ok(Counts {
        sent: n("sent").ok().flatten(),
        clicks: n("clicks")?,
        bounces: n("bounces")?,
    })
}

pub fn fetch(src: &ReportSource, token: &Secret, io_timeout: Duration) -> Result<Counts, String> {
    let a = http::get(&src.url, Some(token), io_timeout)?;
    if a.status != 200 {
        return Err(format!(
            "HTTP {} from the report URL {}: {}",
            a.status,
            src.url,
            http::snippet(&a.body)
        ));
    }
    if a.body_cut {
        return Err(format!(
            "the report export {} is larger than {}: not read whole",
            src.url,
            maestro_common::fsio::size_text(http::BODY_LIMIT)
        ));
    }
    parse(&a.body)
}

/// Poll the report until `counter` has grown by `by` over `before`, or the
/// report timeout passes. Returns the count seen last and how long it took.
pub fn wait_for_increase(
    src: &ReportSource,
    token: &Secret,
    io_timeout: Duration,
    counter: Counter,
    before: u64,
    by: u64,
) -> Result<(u64, Duration), String> {
    let started = Instant::now();
    let mut pause = Duration::ZERO;
    loop {
        let c = fetch(src, token, io_timeout)?;
        let now = counter
            .of(&c)
            .ok_or_else(|| format!("the report has no {} count", counter.name()))?;
        if now >= before + by {
            return Ok((now, started.elapsed()));
        }
        if started.elapsed() >= src.timeout {
            return Err(format!(
                "the report still counts {now} {} after {:.1}s (was {before}, expected at least {})",
                counter.name(),
                started.elapsed().as_secs_f64(),
                before + by
            ));
        }
        pause = crate::mailbox::next_backoff(pause);
        if !maestro_common::signal::sleep(pause.min(src.timeout.saturating_sub(started.elapsed())))
        {
            return Err("interrupted by a signal".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A report export that declares `Content-Length` for `Clicks\r\n120\r\n`
    /// but sends only its start, then either goes silent or closes.
    fn cut_export(close: bool) -> (String, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/export", l.local_addr().unwrap().port());
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let _ = s.read(&mut [0u8; 4096]);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nClicks\r\n12")
                .unwrap();
            if !close {
                // Silent until the client gives up.
                let _ = s.read(&mut [0u8; 1]);
            }
        });
        (url, server)
    }

    #[test]
    fn a_cut_body_is_a_failed_fetch_not_a_smaller_count() {
        for close in [false, true] {
            let (url, server) = cut_export(close);
            let src = ReportSource {
                url,
                token: maestro_common::secret::SecretRef::Env("UNUSED".into()),
                timeout: Duration::from_secs(1),
            };
            let r = fetch(&src, &Secret::new("report-token-1"), Duration::from_secs(1));
            server.join().unwrap();
            let e = r.expect_err("a cut body read as a whole one");
            assert!(e.contains("body"), "{e}");
        }
    }

    #[test]
    fn json_and_csv_reports() {
        let c = parse("{\"job\": 3, \"sent\": 1, \"clicks\": 2, \"bounces\": 0}").unwrap();
        assert_eq!(
            c,
            Counts {
                sent: Some(1),
                clicks: Some(2),
                bounces: Some(0)
            }
        );
        let c = parse("Job,Sent,Clicks,Bounces\r\n3,1,2,1\r\n").unwrap();
        assert_eq!(
            c,
            Counts {
                sent: Some(1),
                clicks: Some(2),
                bounces: Some(1)
            }
        );
        let c = parse("\"sent\";\"clicks\"\n4;5\n").unwrap();
        assert_eq!(c.clicks, Some(5));
        assert!(parse("<html>login</html>").is_err());
        assert!(parse("<html>\n<body>login</body>\n")
            .unwrap_err()
            .contains("neither JSON nor CSV"));
        assert!(parse("{\"x\":1}").is_err());
        assert!(parse("{").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn csv_fields_are_quoted_and_one_separator_holds_for_the_file() {
        // A quoted job name with a comma is one field.
        let c = parse("Job,Sent,Clicks,Bounces\r\n\"Smoke, test\",1,0,0\r\n").unwrap();
        assert_eq!((c.sent, c.clicks, c.bounces), (Some(1), Some(0), Some(0)));
        // A decimal comma in a semicolon file is not a separator.
        let c = parse("Sent;Clicks;Bounces;Rate\n10;3;1;0,7\n").unwrap();
        assert_eq!((c.sent, c.clicks, c.bounces), (Some(10), Some(3), Some(1)));
        // Several jobs: which is ours cannot be told.
        let e = parse("Job,Clicks\n1,5\n2,6\n").unwrap_err();
        assert!(e.contains("2 rows"), "{e}");
        // A count that is not a number is an error, not a missing column.
        let e = parse("Clicks,Bounces\nn/a,0\n").unwrap_err();
        assert!(e.contains("not a count"), "{e}");
    }
}
