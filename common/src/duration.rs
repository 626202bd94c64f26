//! Durations as admins write them: `250ms`, `90s`, `5m`, `1h30m`, `2d`.
//! One parser for flags (`--timeout 10m`) and config values (`threshold = "120s"`).

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration parsed from human text; a bare number means seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {text:?}: {reason} (write it like 90s, 5m, 1h30m or 250ms)")]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let err = |reason: &str| DurationError {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        if t.is_empty() {
            return Err(err("empty"));
        }
        if let Ok(secs) = t.parse::<u64>() {
            return Ok(HumanDuration(Duration::from_secs(secs)));
        }
        humantime::parse_duration(t)
            .map(HumanDuration)
            .map_err(|e| err(&e.to_string()))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl From<HumanDuration> for Duration {
    fn from(h: HumanDuration) -> Duration {
        h.0
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(HumanDuration(Duration::from_secs(s))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// For clap: `#[arg(value_parser = parse_duration)]`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    s.parse::<HumanDuration>().map(|h| h.0)
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a duration: `250ms`, `90s`, `5m`, `1h30m`, or a number of seconds",
            "type": ["string", "number"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("120").unwrap(), Duration::from_secs(120));
        assert_eq!(
            parse_duration(" 2d ").unwrap(),
            Duration::from_secs(172_800)
        );
    }

    #[test]
    fn rejects_nonsense_with_a_clear_message() {
        for bad in ["", "5 parsecs", "-5s", "m5", "1.5.3s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn deserializes_from_text_or_seconds() {
        #[derive(Deserialize)]
        struct T {
            a: HumanDuration,
            b: HumanDuration,
        }
        let t: T = toml::from_str("a = \"2m\"\nb = 7").unwrap();
        assert_eq!(t.a.0, Duration::from_secs(120));
        assert_eq!(t.b.0, Duration::from_secs(7));
        assert!(toml::from_str::<T>("a = \"soon\"\nb = 1").is_err());
    }
}
