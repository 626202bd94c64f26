//! What a tool prints is safe to print.
//!
//! Two dangers, handled here once for every tool and every format:
//! - **secrets**: a server that echoes the request (an HTTP error page with
//!   the request line, an IMAP `NO` quoting the `LOGIN` command), a URL with
//!   a password in its user-info, an error quoting a config value. Every
//!   secret a tool loads is registered here, and every string that leaves
//!   the tool (report records, diagnostics) has each registered value, and
//!   the password of any `scheme://user:password@` URL and the value of any
//!   `password=` style parameter (a JDBC URL's `;password=...`, a query's
//!   `&pwd=...`), replaced by `***`.
//! - **control characters**: a file named `new\nOK  forged: line` would print
//!   a forged line, an ESC sequence would reach the terminal. Text and
//!   nagios output escape them (`\n`, `\x1b`, `\u{202e}`); JSON escapes them
//!   by its own rules.

use regex::Regex;
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{LazyLock, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked in free text: a two-character
/// value would mangle every message that happens to hold those characters,
/// and gives an attacker little to learn anyway.
pub const MIN_MASKED_LEN: usize = 3;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

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

/// Remember `value` as a secret: from now on it is masked in everything the
/// tool prints. A value given percent-encoded in a URL is registered in
/// both forms by the caller.
pub fn register_secret(value: &str) {
    if value.len() < MIN_MASKED_LEN {
        return;
    }
    // JSON output carries a value with quotes, backslashes or controls in
    // its escaped form: mask that form too.
    let in_json = serde_json::to_string(value).unwrap_or_default();
    let in_json = &in_json[1..in_json.len().saturating_sub(1).max(1)];
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for form in [value, in_json] {
        if !secrets.iter().any(|s| s == form) {
            secrets.push(form.to_string());
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret and every URL password masked.
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
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

/// Characters that must not reach a terminal or a line-based reader raw:
/// the C0 and C1 controls and DEL, and the Unicode marks that reorder text
/// on screen (a file name can otherwise display as another).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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

/// Masked and escaped: for a line of text output or a diagnostic.
pub fn printable(text: &str) -> Cow<'_, str> {
    match mask_secrets(text) {
        Cow::Borrowed(b) => escape_controls(b),
        Cow::Owned(o) => Cow::Owned(escape_controls(&o).into_owned()),
    }
}

/// Mask secrets in a string in place.
pub fn mask_in_place(text: &mut String) {
    if let Cow::Owned(masked) = mask_secrets(text) {
        *text = masked;
    }
}

/// Mask secrets in every string of a JSON value, keys included.
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

/// A writer that masks secrets line by line on their way out: every report
/// a tool renders, and every record it streams, goes through one.
pub struct MaskingWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> MaskingWriter<W> {
    pub fn new(inner: W) -> MaskingWriter<W> {
        MaskingWriter {
            inner,
            line: Vec::new(),
        }
    }

    fn write_masked(&mut self, upto: usize) -> io::Result<()> {
        let rest = self.line.split_off(upto);
        let line = std::mem::replace(&mut self.line, rest);
        match std::str::from_utf8(&line) {
            Ok(text) => self.inner.write_all(mask_secrets(text).as_bytes()),
            // Every renderer writes UTF-8; bytes that are not cannot hold a
            // registered secret (secrets are text) other than in pieces.
            Err(_) => self.inner.write_all(&line),
        }
    }
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        while let Some(nl) = self.line.iter().position(|&b| b == b'\n') {
            self.write_masked(nl + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.write_masked(self.line.len())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
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
    fn the_writer_masks_line_by_line_across_partial_writes() {
        register_secret("writer-s3cret");
        let mut buf = Vec::new();
        {
            let mut w = MaskingWriter::new(&mut buf);
            w.write_all(b"a writer-s").unwrap();
            w.write_all(b"3cret b\nsecond writer-s3cret").unwrap();
        }
        assert_eq!(String::from_utf8(buf).unwrap(), "a *** b\nsecond ***");
        register_secret("q\"uote");
        let mut buf = Vec::new();
        crate::render::json::write_record(
            &mut MaskingWriter::new(&mut buf),
            &serde_json::json!({"m": "q\"uote"}),
        )
        .unwrap();
        assert!(
            !String::from_utf8(buf.clone()).unwrap().contains("uote"),
            "{:?}",
            String::from_utf8(buf)
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
}
