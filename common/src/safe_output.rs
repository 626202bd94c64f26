//! What a tool prints is safe to print.
//!
//! Two dangers, handled here once for every tool and every format:
//! - **secrets**: a server that echoes the request (an HTTP error page with
//!   the request line, an IMAP `NO` quoting the `LOGIN` command), a URL with
//!   a password in its user-info, an error quoting a config value. Every
//!   secret a tool loads is registered here ([`register_secret`]). Each
//!   registered value, in any of the forms a request may carry it (raw,
//!   percent-encoded with upper- or lower-case hex, `+` for a space, JSON
//!   escaped), the password of any `scheme://user:password@` URL, and the
//!   value of any `password=` style parameter (a JDBC URL's
//!   `;password=...`, a query's `&pwd=...`), is replaced by `***` in: every report, value by value, before it is
//!   rendered ([`crate::render::render`], [`mask_report`]); every record a
//!   tool streams, before it is serialized
//!   ([`crate::render::json::write_record`], [`mask_json`]); every
//!   diagnostic on stderr ([`printable`]); and clap's usage errors. A tool
//!   that writes anything else must pass it through [`printable`].
//!   Masking comes before any format rewrites the text (nagios turns `|`
//!   into `/`, JSON escapes `\` and `"`), so a secret is recognised whole,
//!   and it works on values, never on rendered bytes, so a secret that
//!   reads like a piece of JSON (`null`, a number) cannot touch its
//!   structure.
//! - **control characters**: a file named `new\nOK  forged: line` would print
//!   a forged line, an ESC sequence would reach the terminal, a right-to-left
//!   override or a zero-width character would show a name as another. Text
//!   and nagios output escape them (`\n`, `\x1b`, `\u{202e}`); JSON escapes
//!   the controls by its own rules.

use crate::report::Report;
use regex::Regex;
use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this cannot be masked without mangling every
/// message that happens to hold those characters; [`crate::secret`]
/// refuses to load one.
pub const MIN_MASKED_LEN: usize = 3;

/// A secret longer than this is masked in its literal forms only: the
/// pattern that also finds every percent-encoding of it would be too large
/// (tokens and passwords are far shorter).
const ENCODED_FORMS_MAX_LEN: usize = 1024;

#[derive(Default)]
struct Registry {
    values: Vec<String>,
    /// Every form of every registered value, longest value first.
    pattern: Option<Regex>,
}

static SECRETS: RwLock<Registry> = RwLock::new(Registry {
    values: Vec::new(),
    pattern: None,
});

/// `scheme://user:password@`: the password is masked whatever its source.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/:@]*):([^\s/@]*)@").expect("a valid regex")
});

/// `password=VALUE` inside a value: connection strings and JDBC URLs carry
/// credentials as parameters (`;user=sa;password=...`, `?pwd=...`). The
/// value ends at a separator of such strings, a quote or white space.
static PARAM_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(password|passwd|passphrase|pwd|pass)(\s*=\s*)([^\s;&,"'<>]+)"#)
        .expect("a valid regex")
});

/// A regex character class that matches `digit` in either case: `[fF]`.
fn hex_digit_either_case(digit: char) -> String {
    if digit.is_ascii_digit() {
        digit.to_string()
    } else {
        format!(
            "[{}{}]",
            digit.to_ascii_lowercase(),
            digit.to_ascii_uppercase()
        )
    }
}

/// The pattern of one secret: each character as itself or as the
/// percent-encoding of its UTF-8 bytes (either case of hex), a space also
/// as `+`; so every mix of encoded and plain characters a client, a proxy
/// or a server's echo may produce is found.
fn pattern_of(value: &str) -> String {
    if value.chars().count() > ENCODED_FORMS_MAX_LEN {
        return regex::escape(value);
    }
    let mut p = String::new();
    for c in value.chars() {
        let mut buf = [0u8; 4];
        let encoded: String = c
            .encode_utf8(&mut buf)
            .bytes()
            .map(|b| {
                let hex = format!("{b:02X}");
                let mut digits = hex.chars();
                let (hi, lo) = (digits.next().unwrap_or('0'), digits.next().unwrap_or('0'));
                format!(
                    "%{}{}",
                    hex_digit_either_case(hi),
                    hex_digit_either_case(lo)
                )
            })
            .collect();
        let plain = regex::escape(c.encode_utf8(&mut buf));
        if c == ' ' {
            p.push_str(&format!("(?:{plain}|\\+|{encoded})"));
        } else {
            p.push_str(&format!("(?:{plain}|{encoded})"));
        }
    }
    p
}

/// Remember `value` as a secret: from now on it is masked in everything the
/// tool prints, in every form a request may carry it.
pub fn register_secret(value: &str) {
    if value.chars().count() < MIN_MASKED_LEN {
        return;
    }
    let mut registry = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if registry.values.iter().any(|v| v == value) {
        return;
    }
    registry.values.push(value.to_string());
    // Longest first, so a secret that contains another is masked whole
    // (the regex takes the first alternative that matches at a position).
    registry
        .values
        .sort_by_key(|v| std::cmp::Reverse(v.chars().count()));
    let mut alternatives = Vec::new();
    for v in &registry.values {
        alternatives.push(pattern_of(v));
        // A server that echoes a JSON body carries the value JSON-escaped.
        let json = serde_json::to_string(v).unwrap_or_default();
        let json = json.trim_start_matches('"').trim_end_matches('"');
        if json != v {
            alternatives.push(regex::escape(json));
        }
    }
    // A pattern that cannot be built (too large) falls back to the raw values.
    let pattern = Regex::new(&alternatives.join("|")).or_else(|_| {
        Regex::new(
            &registry
                .values
                .iter()
                .map(|v| regex::escape(v))
                .collect::<Vec<_>>()
                .join("|"),
        )
    });
    registry.pattern = pattern.ok();
}

/// `text` with every registered secret and every URL password masked.
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let registry = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &registry.pattern {
            if p.is_match(&out) {
                out = Cow::Owned(p.replace_all(&out, MASK).into_owned());
            }
        }
    }
    if URL_PASSWORD.is_match(&out) {
        out = Cow::Owned(
            URL_PASSWORD
                .replace_all(&out, format!("${{1}}:{MASK}@").as_str())
                .into_owned(),
        );
    }
    if PARAM_PASSWORD.is_match(&out) {
        out = Cow::Owned(
            PARAM_PASSWORD
                .replace_all(&out, format!("${{1}}${{2}}{MASK}").as_str())
                .into_owned(),
        );
    }
    out
}

/// `url` as it may be printed: the password of its user-info, if any, as
/// `***` (`imap://seed:***@host/`), whether or not it is registered.
pub fn shown_url(url: &str) -> String {
    URL_PASSWORD
        .replace_all(url, format!("${{1}}:{MASK}@").as_str())
        .into_owned()
}

/// Characters that must not reach a terminal or a line-based reader raw:
/// the C0 and C1 controls and DEL; the line and paragraph separators; and
/// the marks that are invisible or reorder text on screen (a file name can
/// otherwise display as another): bidirectional marks, overrides and
/// isolates, the Arabic letter mark, zero-width spaces and joiners, the
/// word joiner and invisible operators, the byte order mark.
pub fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with control characters written as escapes: `\n`, `\r`, `\t`,
/// `\x1b`, `\u{202e}`; a backslash stays a backslash (names are shown, not
/// parsed back).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(must_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if must_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Masked, then escaped: for a line of text output or a diagnostic.
pub fn printable(text: &str) -> Cow<'_, str> {
    match mask_secrets(text) {
        Cow::Borrowed(b) => escape_controls(b),
        Cow::Owned(o) => Cow::Owned(escape_controls(&o).into_owned()),
    }
}

/// Several lines (a usage message), each masked and escaped, the line
/// breaks kept.
pub fn printable_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (body, end) = match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            };
            format!("{}{end}", printable(body))
        })
        .collect()
}

/// Mask secrets in a string in place.
pub fn mask_in_place(text: &mut String) {
    if let Cow::Owned(masked) = mask_secrets(text) {
        *text = masked;
    }
}

/// Mask secrets in every string of a JSON value, keys included. Numbers,
/// booleans and nulls are never touched.
pub fn mask_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => mask_in_place(s),
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            let masked: serde_json::Map<String, Value> = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    mask_json(&mut v);
                    (mask_secrets(&k).into_owned(), v)
                })
                .collect();
            *map = masked;
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A copy of `report` with every string masked: names, messages, details
/// (keys and string values), locations, perfdata labels, the summary.
pub fn mask_report(report: &Report) -> Report {
    let mut r = report.clone();
    mask_in_place(&mut r.tool);
    if let Some(c) = r.command.as_mut() {
        mask_in_place(c);
    }
    if let Some(s) = r.summary.as_mut() {
        mask_in_place(s);
    }
    let mask_details = |details: &mut crate::report::Details| {
        *details = std::mem::take(details)
            .into_iter()
            .map(|(k, mut v)| {
                mask_json(&mut v);
                (mask_secrets(&k).into_owned(), v)
            })
            .collect();
    };
    for c in &mut r.checks {
        mask_in_place(&mut c.name);
        mask_in_place(&mut c.message);
        mask_details(&mut c.details);
        for p in &mut c.perfdata {
            mask_in_place(&mut p.label);
        }
        for f in &mut c.findings {
            mask_in_place(&mut f.id);
            mask_in_place(&mut f.message);
            if let Some(l) = f.location.as_mut() {
                mask_in_place(l);
            }
            mask_details(&mut f.details);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_wherever_they_appear() {
        register_secret("tok-5ecret-AB12");
        let echoed = "HTTP 500: GET /lui/externalAction.do?token=tok-5ecret-AB12 HTTP/1.1";
        assert_eq!(
            mask_secrets(echoed),
            "HTTP 500: GET /lui/externalAction.do?token=*** HTTP/1.1"
        );
        // Too short to mask without mangling text.
        register_secret("ab");
        assert_eq!(mask_secrets("about"), "about");
    }

    #[test]
    fn a_secret_inside_a_longer_one_does_not_leave_a_part_showing() {
        register_secret("pw9");
        register_secret("pw9-and-more");
        assert_eq!(mask_secrets("x pw9-and-more y"), "x *** y");
    }

    #[test]
    fn url_passwords_are_masked_whatever_their_source() {
        assert_eq!(
            mask_secrets("cannot reach imap://seed:Pa55word@127.0.0.1:143/INBOX"),
            "cannot reach imap://seed:***@127.0.0.1:143/INBOX"
        );
        assert_eq!(
            mask_secrets("'http://u:p%40ss@h/x'=1"),
            "'http://u:***@h/x'=1"
        );
        // No password, nothing masked.
        assert_eq!(mask_secrets("http://user@host/x"), "http://user@host/x");
        assert_eq!(mask_secrets("mail me: a@b.c"), "mail me: a@b.c");
    }

    #[test]
    fn password_parameters_are_masked_in_connection_strings() {
        assert_eq!(
            mask_secrets("JdbcUrl=jdbc:sqlserver://192.0.2.10:1433;databaseName=m;user=sa;password=Sup3rSecret"),
            "JdbcUrl=jdbc:sqlserver://192.0.2.10:1433;databaseName=m;user=sa;password=***"
        );
        assert_eq!(
            mask_secrets(
                r#"{"value":"jdbc:mysql://db/m?user=maestro&password=An0therSecret&useSSL=false"}"#
            ),
            r#"{"value":"jdbc:mysql://db/m?user=maestro&password=***&useSSL=false"}"#
        );
        assert_eq!(mask_secrets("PWD = x1y2; Pass=z"), "PWD = ***; Pass=***");
        // Not a parameter: the words alone, and words that end in "pass".
        assert_eq!(
            mask_secrets("password authentication failed; bypass=on"),
            "password authentication failed; bypass=on"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("new\nOK       forged: line"),
            "new\\nOK       forged: line"
        );
        assert_eq!(escape_controls("\x1b[2J\r\t\x7f"), "\\x1b[2J\\r\\t\\x7f");
        assert_eq!(
            escape_controls("evil\u{202e}gpj.exe"),
            "evil\\u{202e}gpj.exe"
        );
        assert!(matches!(escape_controls("plain é ü"), Cow::Borrowed(_)));
    }

    #[test]
    fn streamed_records_are_masked_value_by_value() {
        register_secret("q\"uote");
        register_secret("writer-s3cret");
        let mut buf = Vec::new();
        crate::render::json::write_record(
            &mut buf,
            &serde_json::json!({"m": "q\"uote and writer-s3cret", "n": null}),
        )
        .unwrap();
        let line = String::from_utf8(buf).unwrap();
        assert_eq!(line, "{\"m\":\"*** and ***\",\"n\":null}\n");
    }

    #[test]
    fn url_passwords_are_shown_masked() {
        assert_eq!(
            shown_url("http://u:pw-9x@m.example:81/lui/x"),
            "http://u:***@m.example:81/lui/x"
        );
        assert_eq!(shown_url("http://m.example/x@y"), "http://m.example/x@y");
        assert_eq!(
            printable_lines("error: invalid value 'http://u:pw123456@h/'\n\x1b[2J\n"),
            "error: invalid value 'http://u:***@h/'\n\\x1b[2J\n"
        );
    }

    #[test]
    fn json_values_are_masked_in_keys_and_values() {
        register_secret("json-s3cret");
        let mut v =
            serde_json::json!({"url": "x json-s3cret", "list": ["json-s3cret"], "json-s3cret": 1});
        mask_json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("json-s3cret"), "{text}");
        assert!(text.contains("\"x ***\""));
    }

    #[test]
    fn a_secret_sent_percent_encoded_is_masked_in_every_encoding() {
        register_secret("tok+en/1==");
        for echoed in [
            "GET /lui/externalAction.do?token=tok%2Ben%2F1%3D%3D HTTP/1.1",
            "GET /lui/externalAction.do?token=tok%2ben%2f1%3d%3d HTTP/1.1",
            "GET /lui/externalAction.do?token=tok%2Ben/1%3D= HTTP/1.1",
        ] {
            assert_eq!(
                mask_secrets(echoed),
                "GET /lui/externalAction.do?token=*** HTTP/1.1",
                "{echoed}"
            );
        }
        register_secret("two words");
        assert_eq!(mask_secrets("q=two+words&x"), "q=***&x");
        assert_eq!(mask_secrets("q=two%20words&x"), "q=***&x");
    }

    #[test]
    fn invisible_and_line_breaking_characters_are_escaped() {
        for c in [
            '\u{2028}', '\u{2029}', '\u{061c}', '\u{200b}', '\u{200d}', '\u{2060}', '\u{feff}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                escape_controls(&text),
                format!("a\\u{{{:x}}}b", c as u32),
                "{:x}",
                c as u32
            );
        }
    }
}
