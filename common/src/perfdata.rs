//! Performance data in the form the monitoring-plugins guidelines define:
//! `'label'=value[UOM];[warn];[crit];[min];[max]`.
//!
//! Numbers are always written the C-locale way (a `.` decimal point, no
//! thousands separator, no exponent), whatever the machine's locale is,
//! because Nagios, Icinga and PNP parse them that way.

use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};
use std::time::Duration;

/// A unit of measurement the guidelines allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Uom {
    /// A plain number (count of things, a ratio).
    None,
    Seconds,
    Milliseconds,
    Microseconds,
    Percent,
    Bytes,
    Kilobytes,
    Megabytes,
    Terabytes,
    /// A continuous counter (`c`), like bytes sent since boot.
    Counter,
}

impl Uom {
    pub fn suffix(self) -> &'static str {
        match self {
            Uom::None => "",
            Uom::Seconds => "s",
            Uom::Milliseconds => "ms",
            Uom::Microseconds => "us",
            Uom::Percent => "%",
            Uom::Bytes => "B",
            Uom::Kilobytes => "KB",
            Uom::Megabytes => "MB",
            Uom::Terabytes => "TB",
            Uom::Counter => "c",
        }
    }
}

/// A threshold range, `[@]start:end`, as the guidelines define it: the
/// check alerts when the value is outside start..end (inside, with `@`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Range {
    /// `None` is negative infinity (`~`).
    pub start: Option<f64>,
    /// `None` is positive infinity.
    pub end: Option<f64>,
    /// Alert when inside the range rather than outside.
    #[serde(default)]
    pub inside: bool,
}

impl Range {
    /// The common case: alert when the value is above `limit` (`0:limit`
    /// is what `limit` alone means in the guidelines).
    pub fn above(limit: f64) -> Range {
        Range {
            start: Some(0.0),
            end: Some(limit),
            inside: false,
        }
    }

    /// Whether a value at `value` raises the alert this range describes.
    pub fn alerts(&self, value: f64) -> bool {
        let lo = self.start.unwrap_or(f64::NEG_INFINITY);
        let hi = self.end.unwrap_or(f64::INFINITY);
        let within = value >= lo && value <= hi;
        if self.inside {
            within
        } else {
            !within
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_char('@')?;
        }
        match (self.start, self.end) {
            // "10" alone means 0:10.
            (Some(s), Some(e)) if s == 0.0 && !self.inside => f.write_str(&number(e)),
            (Some(s), Some(e)) => write!(f, "{}:{}", number(s), number(e)),
            (Some(s), None) => write!(f, "{}:", number(s)),
            (None, Some(e)) => write!(f, "~:{}", number(e)),
            (None, None) => f.write_str("~:"),
        }
    }
}

/// One performance data item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Perfdata {
    pub label: String,
    /// `None` writes `U`: the value could not be determined.
    pub value: Option<f64>,
    pub uom: Uom,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warn: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crit: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max: Option<f64>,
}

impl Perfdata {
    pub fn new(label: impl Into<String>, value: f64, uom: Uom) -> Perfdata {
        Perfdata {
            label: label.into(),
            value: Some(value),
            uom,
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    /// A count of things: unit-less, never below 0.
    pub fn count(label: impl Into<String>, n: u64) -> Perfdata {
        Perfdata::new(label, n as f64, Uom::None).with_min(0.0)
    }

    /// A duration, in seconds (the unit the guidelines prefer for time).
    pub fn seconds(label: impl Into<String>, d: Duration) -> Perfdata {
        Perfdata::new(label, d.as_secs_f64(), Uom::Seconds).with_min(0.0)
    }

    /// A value that could not be measured: written as `U`.
    pub fn unknown(label: impl Into<String>, uom: Uom) -> Perfdata {
        Perfdata {
            value: None,
            ..Perfdata::new(label, 0.0, uom)
        }
    }

    pub fn with_warn(mut self, r: Range) -> Self {
        self.warn = Some(r);
        self
    }
    pub fn with_crit(mut self, r: Range) -> Self {
        self.crit = Some(r);
        self
    }
    pub fn with_min(mut self, v: f64) -> Self {
        self.min = Some(v);
        self
    }
    pub fn with_max(mut self, v: f64) -> Self {
        self.max = Some(v);
        self
    }
}

impl fmt::Display for Perfdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_label(&self.label))?;
        f.write_char('=')?;
        match self.value.filter(|v| v.is_finite()) {
            Some(v) => write!(f, "{}{}", number(v), self.uom.suffix())?,
            // The guidelines: "U" when the value cannot be determined, with no UOM.
            None => f.write_char('U')?,
        }
        let fields = [
            self.warn.map(|r| r.to_string()),
            self.crit.map(|r| r.to_string()),
            self.min.filter(|v| v.is_finite()).map(number),
            self.max.filter(|v| v.is_finite()).map(number),
        ];
        // Trailing empty fields are dropped; inner ones stay as `;;`.
        let used = fields
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            f.write_char(';')?;
            if let Some(text) = field {
                f.write_str(text)?;
            }
        }
        Ok(())
    }
}

/// Write a number the C-locale way, without an exponent and without a
/// needless fraction (`3`, `0.25`, `-1.5`).
///
/// Rust's float `Display` never uses an exponent and never uses a locale,
/// which is exactly what the guidelines want; only `-0` and non-finite
/// values need care.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "U".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    // Round to microsecond-ish precision so that 0.1+0.2 prints 0.3 and
    // timings do not print seventeen digits.
    let rounded = (v * 1e6).round() / 1e6;
    if rounded == 0.0 {
        return format!("{v}");
    }
    format!("{rounded}")
}

/// Quote a label where the guidelines require it: labels with spaces,
/// quotes or `=` are put in single quotes, an inner `'` doubled. `=` cannot
/// be expressed at all (the parser splits on it), so it becomes `_`, as
/// does every character that would break the line or show the label as
/// another ([`crate::safe_output::must_escape`]).
pub fn quote_label(label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| {
            if c == '=' || crate::safe_output::must_escape(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let label = if label.is_empty() {
        "_".to_string()
    } else {
        label
    };
    let needs_quotes = label
        .chars()
        .any(|c| c.is_whitespace() || c == '\'' || c == ';' || c == '|');
    if needs_quotes {
        format!("'{}'", label.replace('\'', "''"))
    } else {
        label
    }
}

/// Join perfdata items with single spaces, as a plugin prints them.
pub fn join(items: &[Perfdata]) -> String {
    let mut out = String::new();
    for (i, p) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_item() {
        assert_eq!(
            Perfdata::new("time", 0.25, Uom::Seconds).to_string(),
            "time=0.25s"
        );
        assert_eq!(Perfdata::count("files", 10).to_string(), "files=10;;;0");
    }

    #[test]
    fn labels_with_spaces_and_quotes_are_quoted() {
        assert_eq!(quote_label("lui log"), "'lui log'");
        assert_eq!(quote_label("it's"), "'it''s'");
        assert_eq!(quote_label("a=b"), "a_b");
        assert_eq!(quote_label(""), "_");
        assert_eq!(quote_label("x;y"), "'x;y'");
        assert_eq!(quote_label("tab\there"), "tab_here");
    }

    #[test]
    fn numbers_are_c_locale_without_exponent() {
        assert_eq!(number(1e21), "1000000000000000000000");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-1.5), "-1.5");
        assert_eq!(number(1e-9), "0.000000001");
        assert!(!number(1234567.891).contains(','));
        assert_eq!(number(f64::NAN), "U");
    }

    #[test]
    fn unknown_value_is_u_without_uom() {
        let p = Perfdata::unknown("latency", Uom::Seconds).with_min(0.0);
        assert_eq!(p.to_string(), "latency=U;;;0");
        let nan = Perfdata::new("x", f64::NAN, Uom::Seconds);
        assert_eq!(nan.to_string(), "x=U");
    }

    #[test]
    fn thresholds_and_limits_keep_inner_empty_fields() {
        let p = Perfdata::new("skew", 12.0, Uom::Seconds)
            .with_crit(Range::above(300.0))
            .with_max(3600.0);
        assert_eq!(p.to_string(), "skew=12s;;300;;3600");
        let p = Perfdata::new("used", 50.0, Uom::Percent)
            .with_warn(Range::above(80.0))
            .with_crit(Range::above(90.0))
            .with_min(0.0)
            .with_max(100.0);
        assert_eq!(p.to_string(), "used=50%;80;90;0;100");
    }

    #[test]
    fn range_forms() {
        let r = |start, end, inside| Range { start, end, inside };
        assert_eq!(r(Some(0.0), Some(10.0), false).to_string(), "10");
        assert_eq!(r(Some(10.0), None, false).to_string(), "10:");
        assert_eq!(r(None, Some(10.0), false).to_string(), "~:10");
        assert_eq!(r(Some(10.0), Some(20.0), false).to_string(), "10:20");
        assert_eq!(r(Some(10.0), Some(20.0), true).to_string(), "@10:20");
        assert_eq!(r(Some(0.0), Some(5.0), true).to_string(), "@0:5");
        assert!(Range::above(10.0).alerts(11.0));
        assert!(Range::above(10.0).alerts(-1.0));
        assert!(!Range::above(10.0).alerts(10.0));
        assert!(r(Some(10.0), Some(20.0), true).alerts(15.0));
        assert!(!r(None, Some(10.0), false).alerts(-1e9));
    }

    #[test]
    fn join_separates_with_spaces() {
        let items = [
            Perfdata::count("a", 1),
            Perfdata::new("b c", 2.0, Uom::Bytes),
        ];
        assert_eq!(join(&items), "a=1;;;0 'b c'=2B");
    }

    #[test]
    fn a_label_cannot_hide_or_reorder_text() {
        assert_eq!(quote_label("http evil\u{202e}gpj"), "'http evil_gpj'");
        assert_eq!(quote_label("a\u{2028}b\u{200b}c"), "a_b_c");
    }
}
