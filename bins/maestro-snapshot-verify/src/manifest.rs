//! The manifest: JSON Lines, a header, one entry a line, a trailer.
//!
//! ```text
//! {"type":"header","format":"maestro-snapshot-verify/manifest","version":1,...}
//! {"type":"entry","root":"lui","path":"lui.ini","kind":"file","size":812,...}
//! {"type":"trailer","entries":1234,...,"sha256":"<hex>"}
//! ```
//!
//! The trailer's `sha256` is the digest of every byte before the trailer
//! line, so an edited, dropped or added entry is detected, and a manifest
//! without its trailer is truncated. Names that are not UTF-8 are written
//! reversibly as `path_b64` (and `target_b64`) instead of `path`.
//! A manifest ends at its trailer: what follows (a capture's own report,
//! when it was written to stdout) is not part of it and is ignored.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, Read, Write};

pub const FORMAT: &str = "maestro-snapshot-verify/manifest";
pub const VERSION: u32 = 1;

/// A name as bytes, written as UTF-8 text when it is UTF-8, else as base64.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RawName(pub Vec<u8>);

impl RawName {
    /// The name's bytes: as they are on Unix; UTF-8 on Windows (WTF-8 for
    /// the rare name that is not valid UTF-16, which then names no file on
    /// another system either).
    /// Windows' `\\` separators are stored as `/`, so that a manifest
    /// made on one system checks on the other.
    pub fn from_os(s: &OsStr) -> RawName {
        let mut bytes = s.as_encoded_bytes().to_vec();
        if cfg!(windows) {
            for b in &mut bytes {
                if *b == b'\\' {
                    *b = b'/';
                }
            }
        }
        RawName(bytes)
    }

    /// The name as the OS takes it. On Windows, bytes that are not UTF-8
    /// (a Unix name in another encoding) cannot name a file: they become
    /// U+FFFD, a name that is then reported missing rather than guessed.
    pub fn to_os(&self) -> OsString {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            OsString::from_vec(self.0.clone())
        }
        #[cfg(not(unix))]
        {
            OsString::from(String::from_utf8_lossy(&self.0).into_owned())
        }
    }

    /// For people: UTF-8 as is, other bytes as `\xNN`.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for chunk in self.0.utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
        out
    }

    /// Split into the (`path`, `path_b64`) pair of the JSON form.
    fn encode(&self) -> (Option<String>, Option<String>) {
        match std::str::from_utf8(&self.0) {
            Ok(s) => (Some(s.to_string()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&self.0)),
            ),
        }
    }

    fn decode(text: Option<String>, b64: Option<String>, what: &str) -> Result<RawName, String> {
        match (text, b64) {
            (Some(t), None) => Ok(RawName(t.into_bytes())),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map(RawName)
                .map_err(|e| format!("{what}_b64 is not base64: {e}")),
            (None, None) => Err(format!("{what} is missing")),
            (Some(_), Some(_)) => Err(format!("both {what} and {what}_b64 are given")),
        }
    }
}

/// A root as the header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInfo {
    pub name: String,
    pub path: RawName,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Sockets, fifos, devices: recorded, never read.
    Other,
    /// Could not be read or listed; `error` says why.
    Error,
}

impl Kind {
    /// What an entry is by its type as `lstat` saw it.
    pub fn of(ft: std::fs::FileType) -> Kind {
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
            Kind::Error => "error",
        }
    }
}

/// One walked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub root: String,
    /// Relative to the root; empty for the root itself.
    pub path: RawName,
    pub kind: Kind,
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub mtime_ns: i64,
    pub sha256: Option<String>,
    pub target: Option<RawName>,
    /// Why the entry is not from one instant (changed while read, or
    /// modified inside the capture window).
    pub torn: Option<String>,
    pub error: Option<String>,
}

impl Entry {
    pub fn key(&self) -> (String, RawName) {
        (self.root.clone(), self.path.clone())
    }

    /// `root:path` for messages.
    pub fn location(&self) -> String {
        location(&self.root, &self.path)
    }
}

pub fn location(root: &str, path: &RawName) -> String {
    if path.0.is_empty() {
        format!("{root}:/")
    } else {
        format!("{root}:{}", path.display())
    }
}

/// The header of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub tool_version: String,
    pub host: String,
    pub label: Option<String>,
    pub roots: Vec<RootInfo>,
    pub excludes: Vec<String>,
    pub from_snapshot: bool,
    pub started_at: String,
    pub started_at_ns: i64,
    /// The family of the system it was captured on, `unix` or `windows`
    /// (`std::env::consts::FAMILY`); manifests without it are from Unix.
    pub os: Option<String>,
}

impl Header {
    /// The family of the system the manifest was captured on.
    pub fn os_family(&self) -> &str {
        self.os.as_deref().unwrap_or("unix")
    }
}

/// Totals and the manifest's own digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub other: u64,
    pub errors: u64,
    pub torn: u64,
    pub bytes: u64,
}

impl Totals {
    pub fn add(&mut self, e: &Entry) {
        self.entries += 1;
        match e.kind {
            Kind::File => {
                self.files += 1;
                self.bytes += e.size;
            }
            Kind::Dir => self.dirs += 1,
            Kind::Symlink => self.symlinks += 1,
            Kind::Other => self.other += 1,
            Kind::Error => {}
        }
        if e.error.is_some() {
            self.errors += 1;
        }
        if e.torn.is_some() {
            self.torn += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trailer {
    pub finished_at: String,
    pub finished_at_ns: i64,
    pub totals: Totals,
    pub point_in_time: bool,
    pub sha256: String,
}

// ---- the JSON forms ----

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RootJson {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_b64: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderJson {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    version: u32,
    tool_version: String,
    host: String,
    label: Option<String>,
    roots: Vec<RootJson>,
    excludes: Vec<String>,
    from_snapshot: bool,
    started_at: String,
    started_at_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    os: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    #[serde(rename = "type")]
    kind_tag: String,
    root: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_b64: Option<String>,
    kind: Kind,
    size: u64,
    mode: u32,
    mtime_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    torn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrailerJson {
    #[serde(rename = "type")]
    kind: String,
    finished_at: String,
    finished_at_ns: i64,
    #[serde(flatten)]
    totals: Totals,
    point_in_time: bool,
    sha256: String,
}

/// Writes a manifest line by line, hashing as it goes.
pub struct ManifestWriter<W: Write> {
    out: W,
    digest: Sha256,
    totals: Totals,
    line: Vec<u8>,
}

impl<W: Write> ManifestWriter<W> {
    pub fn new(out: W, header: &Header) -> io::Result<ManifestWriter<W>> {
        let mut w = ManifestWriter {
            out,
            digest: Sha256::new(),
            totals: Totals::default(),
            line: Vec::with_capacity(512),
        };
        let json = HeaderJson {
            kind: "header".into(),
            format: FORMAT.into(),
            version: VERSION,
            tool_version: header.tool_version.clone(),
            host: header.host.clone(),
            label: header.label.clone(),
            roots: header
                .roots
                .iter()
                .map(|r| {
                    let (path, path_b64) = r.path.encode();
                    RootJson {
                        name: r.name.clone(),
                        path,
                        path_b64,
                    }
                })
                .collect(),
            excludes: header.excludes.clone(),
            from_snapshot: header.from_snapshot,
            started_at: header.started_at.clone(),
            started_at_ns: header.started_at_ns,
            os: header.os.clone(),
        };
        w.write_hashed(&json)?;
        Ok(w)
    }

    fn write_hashed(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(io::Error::from)?;
        self.line.push(b'\n');
        self.digest.update(&self.line);
        self.out.write_all(&self.line)
    }

    pub fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.totals.add(e);
        let (path, path_b64) = e.path.encode();
        let (target, target_b64) = match &e.target {
            Some(t) => t.encode(),
            None => (None, None),
        };
        let json = EntryJson {
            kind_tag: "entry".into(),
            root: e.root.clone(),
            path,
            path_b64,
            kind: e.kind.clone(),
            size: e.size,
            mode: e.mode,
            mtime_ns: e.mtime_ns,
            sha256: e.sha256.clone(),
            target,
            target_b64,
            torn: e.torn.clone(),
            error: e.error.clone(),
        };
        self.write_hashed(&json)
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Write the trailer and return it with the writer.
    pub fn finish(mut self, finished_at: String, finished_at_ns: i64) -> io::Result<(W, Trailer)> {
        let sha256 = hex(&self.digest.clone().finalize());
        let trailer = Trailer {
            finished_at,
            finished_at_ns,
            totals: self.totals.clone(),
            point_in_time: self.totals.torn == 0,
            sha256,
        };
        let json = TrailerJson {
            kind: "trailer".into(),
            finished_at: trailer.finished_at.clone(),
            finished_at_ns: trailer.finished_at_ns,
            totals: trailer.totals.clone(),
            point_in_time: trailer.point_in_time,
            sha256: trailer.sha256.clone(),
        };
        let mut line = serde_json::to_vec(&json).map_err(io::Error::from)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()?;
        Ok((self.out, trailer))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Why a manifest cannot be used. Each is UNKNOWN: a bad manifest proves nothing.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{source_name}: cannot read: {err}")]
    Io { source_name: String, err: io::Error },
    /// Not a regular file (a FIFO, a device), or it cannot be opened.
    #[error("{0}")]
    File(#[from] maestro_common::fsio::FsioError),
    #[error("{source_name}:{line}: a line longer than {} (no manifest line is): not a manifest", maestro_common::fsio::size_text(*.limit))]
    LineTooLong {
        source_name: String,
        line: u64,
        limit: u64,
    },
    #[error("{source_name}: empty: not a manifest")]
    Empty { source_name: String },
    #[error("{source_name}:{line}: {message}")]
    Invalid {
        source_name: String,
        line: u64,
        message: String,
    },
    #[error("{source_name}: truncated: no trailer after {entries} entries (the capture did not finish, or the file was cut)")]
    Truncated { source_name: String, entries: u64 },
    #[error("{source_name}: the manifest's SHA-256 does not match its content (trailer says {expected}, content is {actual}): it was edited or damaged after the capture")]
    DigestMismatch {
        source_name: String,
        expected: String,
        actual: String,
    },
}

/// The longest line a manifest may hold. An entry is a few hundred bytes;
/// the longest, a path of 4096 bytes of control characters each escaped as
/// `\u00XX` and a link target of the same, stays under 64 KiB; a header
/// lists the roots and the excludes. A longer line is not read into memory.
pub const MAX_LINE: u64 = 1 << 20;

/// A whole manifest, validated, indexed by (root, path).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub source_name: String,
    pub header: Header,
    pub entries: Vec<Entry>,
    pub trailer: Trailer,
}

impl Manifest {
    pub fn index(&self) -> HashMap<(String, RawName), usize> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key(), i))
            .collect()
    }
}

/// Read and validate a manifest: header first, the version known, every
/// entry well formed and unique, the trailer present with matching totals
/// and digest.
pub fn read(source_name: &str, input: impl BufRead) -> Result<Manifest, ManifestError> {
    let invalid = |line: u64, message: String| ManifestError::Invalid {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let mut input = input;
    let mut digest = Sha256::new();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut header: Option<Header> = None;
    let mut entries = Vec::new();
    let mut seen: HashMap<(String, RawName), u64> = HashMap::new();
    loop {
        buf.clear();
        // One byte past the limit tells a line that is too long.
        let n = (&mut input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|err| ManifestError::Io {
                source_name: source_name.to_string(),
                err,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.len() as u64 > MAX_LINE {
            return Err(ManifestError::LineTooLong {
                source_name: source_name.to_string(),
                line: line_no,
                limit: MAX_LINE,
            });
        }
        if buf.last() != Some(&b'\n') {
            // A last line without its newline is a cut file.
            return Err(ManifestError::Truncated {
                source_name: source_name.to_string(),
                entries: entries.len() as u64,
            });
        }
        let value: serde_json::Value = serde_json::from_slice(&buf)
            .map_err(|e| invalid(line_no, format!("not a JSON object: {e}")))?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| invalid(line_no, "a record without a \"type\"".into()))?
            .to_string();
        match (kind.as_str(), &header) {
            ("header", None) => {
                let h = parse_header(value).map_err(|m| invalid(line_no, m))?;
                header = Some(h);
                digest.update(&buf);
            }
            ("header", Some(_)) => {
                return Err(invalid(line_no, "a second header: two manifests in one file".into()))
            }
            (_, None) => {
                return Err(invalid(
                    line_no,
                    format!("expected the manifest header first, found a {kind:?} record: not a manifest of this tool"),
                ))
            }
            ("entry", Some(h)) => {
                let e = parse_entry(value).map_err(|m| invalid(line_no, m))?;
                if !h.roots.iter().any(|r| r.name == e.root) {
                    return Err(invalid(
                        line_no,
                        format!("entry of root {:?}, which the header does not name", e.root),
                    ));
                }
                if let Some(first) = seen.insert(e.key(), line_no) {
                    return Err(invalid(
                        line_no,
                        format!("{} is listed twice (first on line {first})", e.location()),
                    ));
                }
                digest.update(&buf);
                entries.push(e);
            }
            ("trailer", Some(h)) => {
                let t: TrailerJson = serde_json::from_value(value)
                    .map_err(|e| invalid(line_no, format!("bad trailer: {e}")))?;
                let actual = hex(&digest.finalize());
                if t.sha256 != actual {
                    return Err(ManifestError::DigestMismatch {
                        source_name: source_name.to_string(),
                        expected: t.sha256,
                        actual,
                    });
                }
                let mut totals = Totals::default();
                entries.iter().for_each(|e| totals.add(e));
                if totals != t.totals {
                    return Err(invalid(
                        line_no,
                        format!(
                            "the trailer's totals ({} entries) do not match the {} entries listed",
                            t.totals.entries, totals.entries
                        ),
                    ));
                }
                if t.point_in_time != (totals.torn == 0) {
                    return Err(invalid(
                        line_no,
                        "the trailer's point_in_time disagrees with its torn count".into(),
                    ));
                }
                return Ok(Manifest {
                    source_name: source_name.to_string(),
                    header: h.clone(),
                    entries,
                    trailer: Trailer {
                        finished_at: t.finished_at,
                        finished_at_ns: t.finished_at_ns,
                        totals,
                        point_in_time: t.point_in_time,
                        sha256: t.sha256,
                    },
                });
            }
            (other, Some(_)) => {
                return Err(invalid(
                    line_no,
                    format!("unexpected record type {other:?} inside the manifest"),
                ))
            }
        }
    }
    match header {
        None => Err(ManifestError::Empty {
            source_name: source_name.to_string(),
        }),
        Some(_) => Err(ManifestError::Truncated {
            source_name: source_name.to_string(),
            entries: entries.len() as u64,
        }),
    }
}

fn parse_header(value: serde_json::Value) -> Result<Header, String> {
    // Read the format and version before the rest, so a newer manifest gets
    // a message about its version rather than about a field we do not know.
    let format = value.get("format").and_then(|v| v.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(format!(
            "the header's format is {format:?}, not {FORMAT:?}: not a manifest of this tool"
        ));
    }
    let version = value.get("version").and_then(|v| v.as_u64());
    match version {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) if v > u64::from(VERSION) => {
            return Err(format!(
                "manifest format version {v} is newer than this tool reads ({VERSION}); upgrade maestro-snapshot-verify"
            ))
        }
        Some(v) => return Err(format!("unknown manifest format version {v}")),
        None => return Err("the header has no version".into()),
    }
    let h: HeaderJson = serde_json::from_value(value).map_err(|e| format!("bad header: {e}"))?;
    let mut roots = Vec::new();
    for r in h.roots {
        let path = RawName::decode(r.path, r.path_b64, "root path")?;
        if roots.iter().any(|x: &RootInfo| x.name == r.name) {
            return Err(format!("root {:?} is named twice", r.name));
        }
        roots.push(RootInfo { name: r.name, path });
    }
    if let Some(os) = h.os.as_deref() {
        if os != "unix" && os != "windows" {
            return Err(format!("bad header: os {os:?} is neither \"unix\" nor \"windows\""));
        }
    }
    Ok(Header {
        tool_version: h.tool_version,
        host: h.host,
        label: h.label,
        roots,
        excludes: h.excludes,
        from_snapshot: h.from_snapshot,
        started_at: h.started_at,
        started_at_ns: h.started_at_ns,
        os: h.os,
    })
}

fn parse_entry(value: serde_json::Value) -> Result<Entry, String> {
    let j: EntryJson = serde_json::from_value(value).map_err(|e| format!("bad entry: {e}"))?;
    let path = RawName::decode(j.path, j.path_b64, "path")?;
    let target = match (j.target, j.target_b64) {
        (None, None) => None,
        (t, b) => Some(RawName::decode(t, b, "target")?),
    };
    if let Some(h) = &j.sha256 {
        if h.len() != 64
            || !h
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(format!("sha256 {h:?} is not 64 lowercase hex digits"));
        }
    }
    if j.kind == Kind::Symlink && target.is_none() {
        return Err("a symlink entry without a target".into());
    }
    if path.0.starts_with(b"/") || path.0.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(format!("path {:?} leaves its root", path.display()));
    }
    Ok(Entry {
        root: j.root,
        path,
        kind: j.kind,
        size: j.size,
        mode: j.mode,
        mtime_ns: j.mtime_ns,
        sha256: j.sha256,
        target,
        torn: j.torn,
        error: j.error,
    })
}

/// Read a manifest from a file (`-` is stdin).
pub fn read_path(path: &std::path::Path) -> Result<Manifest, ManifestError> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        let stdin = io::stdin();
        return read("stdin", stdin.lock());
    }
    // A FIFO, a device or a socket is refused at once, not waited on.
    let file = maestro_common::fsio::open_regular(path)?;
    read(&name, io::BufReader::with_capacity(1 << 16, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            tool_version: "0.1.0".into(),
            host: "h".into(),
            label: None,
            roots: vec![RootInfo {
                name: "r".into(),
                path: RawName(b"/srv/r".to_vec()),
            }],
            excludes: vec![],
            from_snapshot: false,
            started_at: "2026-01-01T00:00:00Z".into(),
            started_at_ns: 1,
            os: Some("unix".into()),
        }
    }

    fn entry(path: &[u8]) -> Entry {
        Entry {
            root: "r".into(),
            path: RawName(path.to_vec()),
            kind: Kind::File,
            size: 3,
            mode: 0o644,
            mtime_ns: 5,
            sha256: Some("ab".repeat(32)),
            target: None,
            torn: None,
            error: None,
        }
    }

    fn write(entries: &[Entry]) -> Vec<u8> {
        let mut w = ManifestWriter::new(Vec::new(), &header()).unwrap();
        for e in entries {
            w.entry(e).unwrap();
        }
        w.finish("t".into(), 2).unwrap().0
    }

    #[test]
    fn a_line_past_the_limit_is_refused_without_being_held() {
        // An endless line (what /dev/zero or a runaway writer gives).
        let endless = std::io::BufReader::new(std::io::repeat(b'x'));
        match read("m", endless) {
            Err(ManifestError::LineTooLong { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        // The limit counts the second line on its own.
        let mut body = write(&[entry(b"a")]);
        let first = body.iter().position(|&b| b == b'\n').unwrap() + 1;
        body.truncate(first);
        body.extend(std::iter::repeat_n(b' ', MAX_LINE as usize + 1));
        match read("m", &body[..]) {
            Err(e @ ManifestError::LineTooLong { line: 2, .. }) => {
                assert!(
                    e.to_string().starts_with("m:2: a line longer than 1 MiB"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_header_says_which_system_it_was_captured_on() {
        let text = String::from_utf8(write(&[entry(b"a")])).unwrap();
        assert!(text.lines().next().unwrap().contains("\"os\":\"unix\""), "{text}");
        let mut value: serde_json::Value =
            serde_json::from_str(text.lines().next().unwrap()).unwrap();
        value["os"] = "windows".into();
        assert_eq!(parse_header(value.clone()).unwrap().os_family(), "windows");
        // Manifests of earlier versions have no "os": all were made on Unix.
        value.as_object_mut().unwrap().remove("os");
        let old = parse_header(value.clone()).unwrap();
        assert_eq!((old.os.as_deref(), old.os_family()), (None, "unix"));
        value["os"] = "beos".into();
        let err = parse_header(value).unwrap_err();
        assert!(err.contains("os \"beos\""), "{err}");
    }

    #[test]
    fn round_trip_keeps_non_utf8_names() {
        let mut link = entry(b"l\xff");
        link.kind = Kind::Symlink;
        link.sha256 = None;
        link.target = Some(RawName(b"../\xfe".to_vec()));
        let bytes = write(&[entry(b"caf\xe9"), entry("ü".as_bytes()), link.clone()]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("path_b64"), "{text}");
        let m = read("m", &bytes[..]).unwrap();
        assert_eq!(m.entries[0].path.0, b"caf\xe9");
        assert_eq!(m.entries[0].path.display(), "caf\\xE9");
        assert_eq!(m.entries[1].path.0, "ü".as_bytes());
        assert_eq!(m.entries[2], link);
        assert_eq!(m.trailer.totals.entries, 3);
    }

    #[test]
    fn truncated_edited_and_foreign_manifests_are_refused() {
        let bytes = write(&[entry(b"a"), entry(b"b")]);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        let cut = lines[..3].join("\n") + "\n";
        assert!(matches!(
            read("m", cut.as_bytes()),
            Err(ManifestError::Truncated { entries: 2, .. })
        ));
        let half = &text[..text.len() - 10];
        assert!(matches!(
            read("m", half.as_bytes()),
            Err(ManifestError::Truncated { .. })
        ));

        let edited = text.replace("\"size\":3", "\"size\":4");
        let err = read("m", edited.as_bytes()).unwrap_err();
        assert!(matches!(err, ManifestError::DigestMismatch { .. }), "{err}");

        let newer = text.replace("\"version\":1", "\"version\":2");
        let err = read("m", newer.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("newer than this tool"), "{err}");

        let err = read("m", &b""[..]).unwrap_err();
        assert!(matches!(err, ManifestError::Empty { .. }));

        let err = read("m", &b"{\"type\":\"check\"}\n"[..])
            .unwrap_err()
            .to_string();
        assert!(err.contains("header first"), "{err}");

        let err = read("m", &b"garbage\n"[..]).unwrap_err().to_string();
        assert!(err.contains("m:1: not a JSON object"), "{err}");

        let dup = format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[1], lines[3]);
        let err = read("m", dup.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn what_follows_the_trailer_is_not_part_of_the_manifest() {
        let mut bytes = write(&[entry(b"a")]);
        bytes.extend_from_slice(b"OK  capture: done\n");
        let m = read("m", &bytes[..]).unwrap();
        assert_eq!(m.entries.len(), 1);
    }
}
