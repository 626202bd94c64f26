//! Maestro's INI files (`hub.ini`, `lui.ini`, `tracker.ini`, `tomcat.ini`).
//!
//! Maestro is a Java application and reads these files with
//! `java.util.Properties.load`, so they are Java properties files, whatever
//! their name says. This reader follows that method's grammar rule for rule
//! (line continuation, comments, the three key separators, escapes): a tool
//! that reads a value differently from Maestro would check the wrong thing.
//!
//! Where Java is lenient in ways that would hide a broken file, this reader
//! fails instead, with the line: a malformed `\uXXXX` escape (Java throws too),
//! a `\uXXXX` escape naming half a surrogate pair (Java would keep the lone
//! half; Rust strings cannot hold it) and, in UTF-8 mode, invalid UTF-8 (a Java
//! reader would substitute U+FFFD and carry on).
//!
//! A UTF-8 byte-order mark is kept as part of the first line, as Java keeps it:
//! the first key then starts with U+FEFF, in Maestro and here alike.

use std::fmt;
use std::path::{Path, PathBuf};

/// How the bytes of a properties file map to characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// ISO-8859-1, one byte one character: what `Properties.load(InputStream)`
    /// assumes and the platform default on typical Maestro installs.
    #[default]
    Latin1,
    /// UTF-8, for sites that load their files through a UTF-8 reader.
    Utf8,
}

/// One `key=value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    /// The 1-based line where the entry's logical line starts.
    pub line: usize,
}

/// The entries of a properties file, in file order, duplicates included.
///
/// Duplicates are kept so that a check can point at a key that is set twice;
/// lookups give the last value, as Java's `Properties` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<Property>,
}

/// Where in the input an error is: the file when known, and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Option<PathBuf>,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}", file.display(), self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// Maestro's INI files hold a few dozen keys; nothing real comes near this.
pub const INI_LIMIT: u64 = 16 * crate::fsio::MIB;

#[derive(Debug, thiserror::Error)]
pub enum IniError {
    #[error("{0}: malformed \\uXXXX escape")]
    MalformedUnicodeEscape(Location),
    #[error("{at}: \\u{code:04X} is half of a UTF-16 surrogate pair without its other half")]
    UnpairedSurrogate { at: Location, code: u16 },
    #[error("{0}: invalid UTF-8")]
    InvalidUtf8(Location),
    #[error(transparent)]
    Read(#[from] crate::fsio::FsioError),
}

impl IniError {
    /// The location of a syntax error, if this is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            IniError::MalformedUnicodeEscape(at)
            | IniError::UnpairedSurrogate { at, .. }
            | IniError::InvalidUtf8(at) => Some(at),
            IniError::Read(_) => None,
        }
    }

    fn in_file(mut self, path: &Path) -> IniError {
        match &mut self {
            IniError::MalformedUnicodeEscape(at)
            | IniError::UnpairedSurrogate { at, .. }
            | IniError::InvalidUtf8(at) => at.file = Some(path.to_path_buf()),
            IniError::Read(_) => {}
        }
        self
    }
}

impl Properties {
    /// Parses the bytes of a properties file.
    pub fn parse(bytes: &[u8], encoding: Encoding) -> Result<Properties, IniError> {
        let chars = decode(bytes, encoding)?;
        let lines = natural_lines(&chars);
        let mut entries = Vec::new();
        let mut next = 0;
        'logical: while let Some(&(line, text)) = lines.get(next) {
            next += 1;
            let first = trim_leading_white_space(text);
            // Only the first natural line of a logical line can be a comment
            // or blank; a comment never continues, whatever it ends with.
            if first.is_empty() || first[0] == '#' || first[0] == '!' {
                continue;
            }
            let mut logical: Vec<char> = Vec::with_capacity(first.len());
            let mut current = first;
            loop {
                if !ends_in_odd_backslashes(current) {
                    logical.extend_from_slice(current);
                    break;
                }
                logical.extend_from_slice(&current[..current.len() - 1]);
                match lines.get(next) {
                    Some(&(_, continuation)) => {
                        next += 1;
                        current = trim_leading_white_space(continuation);
                        // Java ends up with an empty buffer at a line end
                        // here and treats the whole thing as a blank line.
                        if current.is_empty() && logical.is_empty() {
                            continue 'logical;
                        }
                    }
                    // A backslash on the last line continues into nothing.
                    None => break,
                }
            }
            entries.push(split_entry(&logical, line)?);
        }
        Ok(Properties { entries })
    }

    /// Reads and parses a file (a regular file of at most [`INI_LIMIT`]);
    /// errors name the file.
    pub fn read_file(path: &Path, encoding: Encoding) -> Result<Properties, IniError> {
        let bytes = crate::fsio::read_regular(path, INI_LIMIT)?;
        Properties::parse(&bytes, encoding).map_err(|e| e.in_file(path))
    }

    /// The value of `key` (exact match); the last one when set more than once.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.last_where(|k| k == key)
    }

    /// Like [`get`](Self::get), ignoring ASCII case: the manuals spell keys
    /// in mixed case (`RemoteAdminPassword`) and people copy them loosely.
    /// Maestro itself matches exactly, so prefer `get` when that matters.
    pub fn get_ignore_ascii_case(&self, key: &str) -> Option<&str> {
        self.last_where(|k| k.eq_ignore_ascii_case(key))
    }

    /// Every entry, in file order, duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = &Property> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn last_where(&self, matches: impl Fn(&str) -> bool) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|p| matches(&p.key))
            .map(|p| p.value.as_str())
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

fn decode(bytes: &[u8], encoding: Encoding) -> Result<Vec<char>, IniError> {
    match encoding {
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.chars().collect()),
            Err(e) => {
                let before: Vec<char> = bytes[..e.valid_up_to()]
                    .iter()
                    .map(|&b| char::from(b))
                    .collect();
                let line = natural_lines(&before).len().max(1);
                // The prefix ends with a terminator when the bad byte starts
                // a line; that line is not in the prefix yet.
                let line = if before.last().is_some_and(|&c| c == '\n' || c == '\r') {
                    line + 1
                } else {
                    line
                };
                Err(IniError::InvalidUtf8(Location { file: None, line }))
            }
        },
    }
}

/// Splits at `\n`, `\r` and `\r\n`, numbering lines from 1.
fn natural_lines(chars: &[char]) -> Vec<(usize, &[char])> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\n' => {
                lines.push((lines.len() + 1, &chars[start..i]));
                i += 1;
                start = i;
            }
            '\r' => {
                lines.push((lines.len() + 1, &chars[start..i]));
                i += 1;
                if chars.get(i) == Some(&'\n') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < chars.len() {
        lines.push((lines.len() + 1, &chars[start..]));
    }
    lines
}

/// Java's white space in properties files: not `\n`/`\r`, those end lines.
fn is_white_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0C')
}

fn trim_leading_white_space(text: &[char]) -> &[char] {
    let skip = text.iter().take_while(|&&c| is_white_space(c)).count();
    &text[skip..]
}

fn ends_in_odd_backslashes(text: &[char]) -> bool {
    text.iter().rev().take_while(|&&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line into key and value the way `Properties.load0` does.
fn split_entry(logical: &[char], line: usize) -> Result<Property, IniError> {
    let mut key_end = logical.len();
    let mut value_start = logical.len();
    let mut has_separator = false;
    let mut preceding_backslash = false;
    for (i, &c) in logical.iter().enumerate() {
        if !preceding_backslash && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_separator = true;
            break;
        }
        if !preceding_backslash && is_white_space(c) {
            key_end = i;
            value_start = i + 1;
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
    }
    // White space, then at most one `=` or `:`, then white space.
    while let Some(&c) = logical.get(value_start) {
        if is_white_space(c) {
            value_start += 1;
        } else if !has_separator && (c == '=' || c == ':') {
            has_separator = true;
            value_start += 1;
        } else {
            break;
        }
    }
    Ok(Property {
        key: unescape(&logical[..key_end], line)?,
        value: unescape(&logical[value_start..], line)?,
        line,
    })
}

fn unescape(text: &[char], line: usize) -> Result<String, IniError> {
    let at = || Location { file: None, line };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        // Line joining leaves no lone backslash at the end; if one were
        // there, Java would fail on it, and dropping it is the harmless choice.
        let Some(&escaped) = text.get(i) else { break };
        i += 1;
        match escaped {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0C'),
            'u' => {
                let unit = hex4(text, i).ok_or_else(|| IniError::MalformedUnicodeEscape(at()))?;
                i += 4;
                match unit {
                    0xD800..=0xDBFF => {
                        // Java strings are UTF-16, so characters beyond the
                        // BMP are written as two escapes; join them.
                        let low = match (text.get(i), text.get(i + 1)) {
                            (Some('\\'), Some('u')) => hex4(text, i + 2)
                                .ok_or_else(|| IniError::MalformedUnicodeEscape(at()))?,
                            _ => 0,
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(IniError::UnpairedSurrogate {
                                at: at(),
                                code: unit,
                            });
                        }
                        i += 6;
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    0xDC00..=0xDFFF => {
                        return Err(IniError::UnpairedSurrogate {
                            at: at(),
                            code: unit,
                        });
                    }
                    _ => out.push(
                        char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
                    ),
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The four hex digits at `text[at..at + 4]`, if they are that.
fn hex4(text: &[char], at: usize) -> Option<u16> {
    let digits = text.get(at..at.checked_add(4)?)?;
    digits.iter().try_fold(0u16, |acc, &c| {
        let digit = c.to_digit(16)?;
        Some(acc << 4 | digit as u16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Properties {
        Properties::parse(text.as_bytes(), Encoding::Utf8).unwrap()
    }

    fn pairs(props: &Properties) -> Vec<(String, String)> {
        props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect()
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_three_separators() {
        let p = parse("a=1\nb: 2\nc 3\nd\t4\ne\x0C5\n");
        assert_eq!(
            pairs(&p),
            kv(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")])
        );
    }

    #[test]
    fn white_space_around_the_separator_and_at_most_one_separator() {
        let p = parse("a  =  1\nb  :  2\nc = = 3\nd :: 4\ne   =\nf\ng=:h\nk  v=w\n");
        assert_eq!(
            pairs(&p),
            kv(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "= 3"),
                ("d", ": 4"),
                ("e", ""),
                ("f", ""),
                ("g", ":h"),
                ("k", "v=w"),
            ])
        );
    }

    #[test]
    fn trailing_white_space_belongs_to_the_value() {
        let p = parse("a=1  \nb=  \n");
        assert_eq!(pairs(&p), kv(&[("a", "1  "), ("b", "")]));
    }

    #[test]
    fn leading_white_space_is_skipped() {
        let p = parse("   a=1\n\t\x0Cb=2\n");
        assert_eq!(pairs(&p), kv(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn comments_and_blank_lines() {
        let p =
            parse("# hash\n! bang\n   # indented\n\t!indented\n\n   \n\t\na=1 # not a comment\n");
        assert_eq!(pairs(&p), kv(&[("a", "1 # not a comment")]));
        assert_eq!(p.iter().next().unwrap().line, 8);
    }

    #[test]
    fn a_comment_line_never_continues() {
        let p = parse("# comment \\\na=1\n");
        assert_eq!(pairs(&p), kv(&[("a", "1")]));
    }

    #[test]
    fn a_continuation_line_starting_with_hash_is_not_a_comment() {
        let p = parse("a=1\\\n  # two\n");
        assert_eq!(pairs(&p), kv(&[("a", "1# two")]));
    }

    #[test]
    fn line_terminators_lf_crlf_cr_and_mixed() {
        for text in [
            "a=1\nb=2\nc=3",
            "a=1\r\nb=2\r\nc=3\r\n",
            "a=1\rb=2\rc=3\r",
            "a=1\r\nb=2\rc=3\n",
        ] {
            let p = parse(text);
            assert_eq!(
                pairs(&p),
                kv(&[("a", "1"), ("b", "2"), ("c", "3")]),
                "{text:?}"
            );
            let lines: Vec<usize> = p.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![1, 2, 3], "{text:?}");
        }
    }

    #[test]
    fn cr_lf_counts_as_one_line_and_cr_cr_as_two() {
        let p = parse("\r\n\r\na=1\r\rb=2\n\r\nc=3");
        let lines: Vec<usize> = p.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 5, 7]);
    }

    #[test]
    fn continuation_with_odd_backslashes() {
        let p = parse("a=one \\\n    two\\\n\tthree\nb=x\\\\\\\n  y\n");
        assert_eq!(pairs(&p), kv(&[("a", "one twothree"), ("b", "x\\y")]));
        let lines: Vec<usize> = p.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 4]);
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        let p = parse("a=x\\\\\nb=y\\\\\\\\\n");
        assert_eq!(pairs(&p), kv(&[("a", "x\\"), ("b", "y\\\\")]));
    }

    #[test]
    fn continuation_across_crlf_and_cr() {
        let p = parse("a=1\\\r\n  2\\\r  3\r\nb=4");
        assert_eq!(pairs(&p), kv(&[("a", "123"), ("b", "4")]));
        assert_eq!(p.iter().nth(1).unwrap().line, 4);
    }

    #[test]
    fn an_empty_continuation_line_ends_the_logical_line() {
        let p = parse("a=1\\\n\nb=2\n");
        assert_eq!(pairs(&p), kv(&[("a", "1"), ("b", "2")]));
        let p = parse("a=1\\\n   \nb=2\n");
        assert_eq!(pairs(&p), kv(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn continuation_can_split_the_key() {
        let p = parse("Remote\\\n    AdminPassword=s3cret\n");
        assert_eq!(p.get("RemoteAdminPassword"), Some("s3cret"));
    }

    #[test]
    fn a_lone_backslash_then_nothing_is_a_blank_line_as_in_java() {
        assert!(parse("\\\n\n").is_empty());
        assert!(parse("\\\n   ").is_empty());
        assert_eq!(pairs(&parse("\\\n\n# c\nb=2")), kv(&[("b", "2")]));
        assert_eq!(pairs(&parse("\\\n\\\n")), kv(&[("", "")]));
        assert_eq!(pairs(&parse("\\\n# x")), kv(&[("#", "x")]));
    }

    #[test]
    fn trailing_backslash_at_end_of_file() {
        assert_eq!(pairs(&parse("a=1\\")), kv(&[("a", "1")]));
        assert_eq!(pairs(&parse("a=1\\\n")), kv(&[("a", "1")]));
        assert_eq!(pairs(&parse("a=1\\\\\\")), kv(&[("a", "1\\")]));
        assert_eq!(pairs(&parse("a=1\\\\")), kv(&[("a", "1\\")]));
        assert_eq!(pairs(&parse("\\")), kv(&[("", "")]));
    }

    #[test]
    fn escapes() {
        let p = parse(r"a=\t\n\r\f|\u0041\u00e9\u00E9|\q\=\:\ \#\!\\|\u20AC");
        assert_eq!(p.get("a"), Some("\t\n\r\x0C|Aéé|q=: #!\\|€"));
    }

    #[test]
    fn escaped_separators_in_keys() {
        let p = parse("a\\=b=c\nd\\:e:f\ng\\ h i\n\\#k=v\nx\\\\=y\n");
        assert_eq!(
            pairs(&p),
            kv(&[
                ("a=b", "c"),
                ("d:e", "f"),
                ("g h", "i"),
                ("#k", "v"),
                ("x\\", "y")
            ])
        );
    }

    #[test]
    fn escaped_leading_white_space_in_the_value_is_kept() {
        let p = parse("a=\\ \\ x\n");
        assert_eq!(p.get("a"), Some("  x"));
    }

    #[test]
    fn unicode_escapes_beyond_the_bmp_are_joined() {
        let p = parse(r"a=\uD83D\uDE00");
        assert_eq!(p.get("a"), Some("😀"));
    }

    #[test]
    fn malformed_unicode_escape_names_the_line() {
        for bad in [r"\u12", r"\u12G4", r"\u", r"\uXYZW", r"\u00e"] {
            let text = format!("ok=1\n\nbad={bad}\n");
            let err = Properties::parse(text.as_bytes(), Encoding::Latin1).unwrap_err();
            assert!(
                matches!(err, IniError::MalformedUnicodeEscape(_)),
                "{bad}: {err:?}"
            );
            assert_eq!(err.to_string(), "line 3: malformed \\uXXXX escape");
        }
        let err = Properties::parse(b"k\\u00zz=v", Encoding::Latin1).unwrap_err();
        assert_eq!(err.location().unwrap().line, 1);
    }

    #[test]
    fn lone_surrogates_are_errors() {
        for bad in [r"a=\uD83D", r"a=\uD83Dx", r"a=\uDE00", r"a=\uD83D\u0041"] {
            let err = Properties::parse(bad.as_bytes(), Encoding::Latin1).unwrap_err();
            assert!(
                matches!(err, IniError::UnpairedSurrogate { .. }),
                "{bad}: {err:?}"
            );
        }
        let err = Properties::parse(br"a=\uD83D\uZZZZ", Encoding::Latin1).unwrap_err();
        assert!(matches!(err, IniError::MalformedUnicodeEscape(_)));
    }

    #[test]
    fn latin1_maps_each_byte_to_one_char() {
        let p = Properties::parse(b"caf\xE9=na\xEFve\xFF\n", Encoding::Latin1).unwrap();
        assert_eq!(p.get("café"), Some("naïveÿ"));
    }

    #[test]
    fn utf8_mode() {
        let p = Properties::parse("café=naïve €\n".as_bytes(), Encoding::Utf8).unwrap();
        assert_eq!(p.get("café"), Some("naïve €"));
        // The same bytes read as Latin-1 are what Maestro sees by default.
        let p = Properties::parse("é=1".as_bytes(), Encoding::Latin1).unwrap();
        assert_eq!(p.get("Ã©"), Some("1"));
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = Properties::parse(b"a=1\r\nb=2\n\xE9=3\n", Encoding::Utf8).unwrap_err();
        assert!(matches!(err, IniError::InvalidUtf8(_)));
        assert_eq!(err.to_string(), "line 3: invalid UTF-8");
        let err = Properties::parse(b"a=1\nb=x\xFF\n", Encoding::Utf8).unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
        let err = Properties::parse(b"\xC3", Encoding::Utf8).unwrap_err();
        assert_eq!(err.location().unwrap().line, 1);
        let err = Properties::parse(b"a=1\r\xC3", Encoding::Utf8).unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
    }

    #[test]
    fn a_utf8_bom_stays_in_the_first_key_as_in_java() {
        let p = Properties::parse(b"\xEF\xBB\xBFa=1\n", Encoding::Utf8).unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("\u{FEFF}a"), Some("1"));
    }

    #[test]
    fn duplicates_are_kept_and_the_last_wins() {
        let p = parse("Port=80\nport=81\nPort=8080\n");
        assert_eq!(p.len(), 3);
        assert_eq!(p.get("Port"), Some("8080"));
        assert_eq!(p.get("port"), Some("81"));
        assert_eq!(p.get("PORT"), None);
        assert_eq!(p.get_ignore_ascii_case("PORT"), Some("8080"));
        assert_eq!(p.get_ignore_ascii_case("missing"), None);
        let keys: Vec<&str> = (&p).into_iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["Port", "port", "Port"]);
    }

    #[test]
    fn empty_inputs() {
        for text in ["", "\n", "\r\n\r\n", "   ", "# only a comment", "!"] {
            let p = parse(text);
            assert!(p.is_empty(), "{text:?}");
            assert_eq!(p.len(), 0);
        }
    }

    #[test]
    fn realistic_lui_ini_and_tomcat_ini() {
        let lui = b"#LISTSERV Maestro User Interface settings\r\n\
#Tue Mar 05 14:22:31 CET 2024\r\n\
RemoteAdminPassword=s3cr\\u00E9t\\=x\r\n\
SystemDatabaseURL=jdbc\\:mysql\\://localhost\\:3306/lui\r\n\
DataFolder=C\\:\\\\Program Files\\\\L-Soft\\\\Maestro\\\\lui\\\\data\r\n\
MailFrom=Maestro Admin <admin@example.org>\r\n\
Description=Caf\xE9 \\\r\n    server\r\n";
        let p = Properties::parse(lui, Encoding::Latin1).unwrap();
        assert_eq!(p.get("RemoteAdminPassword"), Some("s3cr\u{e9}t=x"));
        assert_eq!(
            p.get("SystemDatabaseURL"),
            Some("jdbc:mysql://localhost:3306/lui")
        );
        assert_eq!(
            p.get("DataFolder"),
            Some(r"C:\Program Files\L-Soft\Maestro\lui\data")
        );
        assert_eq!(p.get("MailFrom"), Some("Maestro Admin <admin@example.org>"));
        assert_eq!(p.get("Description"), Some("Café server"));
        assert_eq!(
            p.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4, 5, 6, 7]
        );

        let tomcat = "# Tomcat settings\nPort = 8080\nShutdownPort : 8007\n";
        let p = Properties::parse(tomcat.as_bytes(), Encoding::Latin1).unwrap();
        assert_eq!(p.get("Port"), Some("8080"));
        assert_eq!(p.get_ignore_ascii_case("shutdownport"), Some("8007"));
    }

    #[test]
    fn read_file_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("hub.ini");
        std::fs::write(&good, "RemoteAdminPassword=pw\n").unwrap();
        let p = Properties::read_file(&good, Encoding::Latin1).unwrap();
        assert_eq!(p.get("RemoteAdminPassword"), Some("pw"));

        let bad = dir.path().join("lui.ini");
        std::fs::write(&bad, "a=1\nb=\\u12\n").unwrap();
        let err = Properties::read_file(&bad, Encoding::Latin1).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:2: malformed \\uXXXX escape", bad.display())
        );

        let missing = dir.path().join("tracker.ini");
        let err = Properties::read_file(&missing, Encoding::Latin1).unwrap_err();
        assert!(matches!(err, IniError::Read(_)));
        assert!(
            err.to_string().starts_with(&missing.display().to_string()),
            "{err}"
        );
        assert!(err.location().is_none());
    }

    #[test]
    fn never_panics_on_any_byte() {
        for encoding in [Encoding::Latin1, Encoding::Utf8] {
            for b in 0..=255u8 {
                for input in [
                    vec![b],
                    vec![b'a', b'=', b],
                    vec![b'\\', b],
                    vec![b, b'\\', b'u', b, b'\n', b],
                ] {
                    let _ = Properties::parse(&input, encoding);
                }
            }
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        // A fixed xorshift sequence: reproducible, no extra crate.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"\\u=: \t\x0C\r\n#!aZ09DdEe\xE9\xC3\xBF\x00";
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..(state % 64) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let byte = if state % 4 == 0 {
                    (state >> 8) as u8
                } else {
                    alphabet[(state >> 8) as usize % alphabet.len()]
                };
                input.push(byte);
            }
            for encoding in [Encoding::Latin1, Encoding::Utf8] {
                if let Ok(p) = Properties::parse(&input, encoding) {
                    for e in p.iter() {
                        assert!(e.line >= 1);
                        let _ = p.get(&e.key);
                    }
                }
            }
            state = state.wrapping_add(0x2545_F491_4F6C_DD1D);
        }
    }
}
