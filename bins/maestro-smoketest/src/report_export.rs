//! Maestro's token-protected report export, read to confirm that a click
//! and a bounce were counted. The export's exact format is not documented
//! publicly, so this reads the two simplest forms (a documented guess):
//! a JSON object with numeric `clicks` and `bounces` (and `sent`), or CSV
//! whose header row names those columns and whose next row has the values.

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
    let mut lines = t.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("the report is empty")?;
    let values = lines
        .next()
        .ok_or("the CSV report has a header row but no values")?;
    let split = |l: &str| -> Vec<String> {
        let sep = if l.contains(';') && !l.contains(',') {
            ';'
        } else {
            ','
        };
        l.split(sep)
            .map(|s| s.trim().trim_matches('"').to_ascii_lowercase())
            .collect()
    };
    let (h, v) = (split(header), split(values));
    let n = |k: &str| -> Option<u64> {
        let i = h.iter().position(|c| c == k)?;
        v.get(i)?.parse().ok()
    };
    let c = Counts {
        sent: n("sent"),
        clicks: n("clicks"),
        bounces: n("bounces"),
    };
    if c.clicks.is_none() && c.bounces.is_none() {
        return Err(format!(
            "the report is neither JSON nor CSV with clicks/bounces columns (starts {:?})",
            http::snippet(t)
        ));
    }
    Ok(c)
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
        std::thread::sleep(pause.min(src.timeout.saturating_sub(started.elapsed())));
        if maestro_common::signal::interrupted() {
            return Err("interrupted".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
