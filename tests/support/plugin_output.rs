//! Parsers that read the tools' machine output back the way a consumer
//! would: a Nagios/Icinga core for `--format nagios`, a JSON Lines reader
//! for `--format json`. Tests assert on what these parsers see.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct PerfItem {
    pub label: String,
    pub value: String,
    pub uom: String,
    pub warn: String,
    pub crit: String,
    pub min: String,
    pub max: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PluginOutput {
    pub service: String,
    pub status: String,
    pub text: String,
    pub perfdata: Vec<PerfItem>,
    pub long_output: Vec<String>,
}

/// Parse plugin output as Nagios does: the first line is
/// `SERVICE STATUS: text | perfdata`, the rest is long output.
pub fn parse_nagios(output: &str) -> Result<PluginOutput, String> {
    let mut lines = output.lines();
    let first = lines.next().ok_or("no output")?;
    let (head, perf) = match first.split_once(" | ") {
        Some((h, p)) => (h, Some(p)),
        None => (first, None),
    };
    if head.contains('|') {
        return Err(format!("stray '|' in status text: {first}"));
    }
    let (service, rest) = head.split_once(' ').ok_or("no service name")?;
    let (status, text) = rest.split_once(": ").ok_or("no 'STATUS: ' after service")?;
    if !["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(&status) {
        return Err(format!("bad status {status:?}"));
    }
    let perfdata = match perf {
        Some(p) => parse_perfdata(p)?,
        None => Vec::new(),
    };
    Ok(PluginOutput {
        service: service.to_string(),
        status: status.to_string(),
        text: text.to_string(),
        perfdata,
        long_output: lines.map(str::to_string).collect(),
    })
}

/// Split perfdata on spaces outside single-quoted labels and parse each item
/// by the monitoring-plugins guidelines.
pub fn parse_perfdata(s: &str) -> Result<Vec<PerfItem>, String> {
    let mut items = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut label = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        label.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => label.push(c),
                    None => return Err("unterminated quoted label".into()),
                }
            }
            if chars.next() != Some('=') {
                return Err(format!("no '=' after label {label}"));
            }
        } else {
            loop {
                match chars.next() {
                    Some('=') => break,
                    Some(' ') | None => return Err(format!("no '=' after label {label}")),
                    Some(c) => label.push(c),
                }
            }
        }
        let mut rest = String::new();
        while let Some(&c) = chars.peek() {
            if c == ' ' {
                break;
            }
            rest.push(c);
            chars.next();
        }
        let mut fields = rest.split(';');
        let value_uom = fields.next().unwrap_or_default();
        let split = value_uom
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(value_uom.len());
        let (value, uom) = value_uom.split_at(split);
        if value_uom == "U" {
            // allowed: undetermined value
        } else if value.parse::<f64>().is_err() {
            return Err(format!(
                "value {value_uom:?} of {label} is not a C-locale number"
            ));
        }
        if !["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c", "U"].contains(&if value_uom
            == "U"
        {
            "U"
        } else {
            uom
        }) {
            return Err(format!("bad UOM {uom:?} on {label}"));
        }
        let mut next = || fields.next().unwrap_or_default().to_string();
        let (warn, crit, min, max) = (next(), next(), next(), next());
        for n in [&min, &max] {
            if !n.is_empty() && n.parse::<f64>().is_err() {
                return Err(format!("min/max {n:?} of {label} is not a number"));
            }
        }
        items.push(PerfItem {
            label,
            value: if value_uom == "U" {
                "U".into()
            } else {
                value.to_string()
            },
            uom: if value_uom == "U" {
                String::new()
            } else {
                uom.to_string()
            },
            warn,
            crit,
            min,
            max,
        });
    }
    Ok(items)
}

/// Parse JSON Lines; every record must be an object with a string `type`,
/// and the last must be the summary.
pub fn parse_json_lines(output: &str) -> Result<Vec<Value>, String> {
    let mut records = Vec::new();
    for (i, line) in output.lines().enumerate() {
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}: {line}", i + 1))?;
        if !v.get("type").is_some_and(Value::is_string) {
            return Err(format!("line {} has no string \"type\": {line}", i + 1));
        }
        records.push(v);
    }
    match records.last() {
        Some(last) if last["type"] == "summary" => Ok(records),
        _ => Err("the last record is not the summary".into()),
    }
}

#[test]
fn the_parsers_reject_what_a_core_would_misread() {
    assert!(parse_nagios("X OK: a | b=1").is_ok());
    assert!(parse_nagios("X FINE: a").is_err());
    assert!(parse_nagios("X OK: a|b | c=1").is_err());
    assert!(
        parse_perfdata("'a b'=1,5s").is_err(),
        "a decimal comma must fail"
    );
    assert!(parse_perfdata("a=1e3").is_err(), "an exponent must fail");
    let items = parse_perfdata("'it''s'=U;;;0 t=0.25s;1;2;0;10").unwrap();
    assert_eq!(items[0].label, "it's");
    assert_eq!(items[0].value, "U");
    assert_eq!(
        (
            items[1].uom.as_str(),
            items[1].crit.as_str(),
            items[1].max.as_str()
        ),
        ("s", "2", "10")
    );
    assert!(parse_json_lines("{\"type\":\"check\"}\n").is_err());
}
