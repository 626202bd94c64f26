//! What the two sides of a run say to each other over the SSH session
//! that runs `receive` (or `serve`) on the other server.
//!
//! The other side writes lines `maestro-sync: WORD {json}` on stdout as
//! it gets ready, then its report (JSON Lines, `--format json`) when it
//! ends. This side writes plain lines on its stdin: `prepare {json}`,
//! `alive` (every few seconds while rsync runs, so the other side can
//! tell a long transfer from a dead sender), `verify` or `done`, and
//! `abort`. A closed stdin is an abort. Lines that are neither (a login
//! banner) are ignored.
//!
//! rsync's stream may go over the same session (see [`crate::carried`]):
//! `rsync {json}` starts the other side's rsync, and binary frames, a line
//! `data N` (`maestro-sync: data N` the other way) followed by N bytes,
//! carry the stream.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PREFIX: &str = "maestro-sync: ";

/// `ready` from `receive`: the lock is held, nothing refuses the run, and
/// the current generation was looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReceiverReady {
    pub current: Option<String>,
    pub host: String,
}

/// `prepare` to `receive`: the generation the sender took.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PrepareRequest {
    pub id: String,
    pub point_in_time_ns: i64,
    pub consistent: bool,
    pub snapshot: String,
    pub source_host: String,
    pub source: String,
}

/// `prepared` from `receive`: where rsync sends the generation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Prepared {
    /// The partial generation's folder.
    pub partial: String,
    /// Its data folder, rsync's destination (with a trailing `/`).
    pub data: String,
    /// The current generation's data: rsync's `--link-dest`.
    pub link_dest: Option<String>,
    /// The current generation's folder: the manifest's `--link-dest` (the
    /// old manifest is the basis of the new one's delta).
    pub manifest_link_dest: Option<String>,
    /// rsync's `--partial-dir` (absolute, outside the data).
    pub partial_dir: String,
    /// Where `rsync-wrap` records rsync's CPU time on that side.
    pub usage: String,
    /// The last check of this partial failed: compare content.
    pub checksum: bool,
    pub resumed: Option<String>,
    /// This side takes the manifest over the session (`manifest` and its
    /// delta) instead of by a second rsync.
    #[serde(default)]
    pub manifest_by_session: bool,
    /// SHA-256 of the manifest this side holds (the current generation's):
    /// the base a delta may copy lines from.
    #[serde(default)]
    pub manifest_base: Option<String>,
    /// This side runs the data's rsync itself, its stream carried in the
    /// session ([`crate::carried`]), instead of rsync opening a session.
    #[serde(default)]
    pub rsync_by_session: bool,
}

/// `ready` from `serve`: the point in time is taken and captured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceReady {
    pub request: PrepareRequest,
    /// The source's data in the snapshot (rsync's source, with a trailing `/`).
    pub data: String,
    /// The manifest file.
    pub manifest: String,
    pub usage: String,
    pub steps: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    /// As [`Prepared::rsync_by_session`].
    #[serde(default)]
    pub rsync_by_session: bool,
}

/// `rsync {json}`: the rsync server to run for the data, as rsync's client
/// asked its remote shell (through `relay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    /// The command line rsync gave its remote shell, as ssh would pass it
    /// to the login shell (rsync escapes it for a POSIX shell).
    pub command: String,
}

/// Which rsync server a side runs for the data, and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRole {
    /// `receive`: rsync writes into the partial generation's data.
    Receiver { destination: String },
    /// `serve`: rsync reads the snapshot's data.
    Sender { source: String },
}

impl Handover {
    /// The rsync server's words, checked against what this run expects:
    /// an rsync program, `--server`, `--sender` only on the sending side,
    /// and as its last word the folder this run prepared. The words are
    /// split as a POSIX shell would (rsync escapes what it passes with
    /// backslashes) and run without a shell; a shell's control characters
    /// end the run. Not a sandbox: the options between are rsync's, as
    /// the other side's maestro-sync chose them.
    pub fn server_argv(&self, role: &ServerRole) -> Result<Vec<String>, String> {
        let bad = |why: &str| {
            Err(format!(
                "the rsync command from the other side {why}: {:?}",
                self.command
            ))
        };
        let argv = shell_words(&self.command).or_else(|e| bad(&e))?;
        let program = argv.first().map(String::as_str).unwrap_or_default();
        if std::path::Path::new(program).file_name() != Some(std::ffi::OsStr::new("rsync")) {
            return bad("does not run rsync");
        }
        if argv.get(1).map(String::as_str) != Some("--server") {
            return bad("is not an rsync server");
        }
        let sender = argv.iter().any(|w| w == "--sender");
        let last = argv
            .last()
            .map(|w| w.trim_end_matches('/'))
            .unwrap_or_default();
        let (want_sender, path) = match role {
            ServerRole::Receiver { destination } => (false, destination),
            ServerRole::Sender { source } => (true, source),
        };
        if sender != want_sender {
            return bad(if want_sender {
                "does not send (this side sends the data)"
            } else {
                "sends (this side receives the data)"
            });
        }
        if last.is_empty() || last != path.trim_end_matches('/') {
            return bad(&format!("names another folder than this run's {path}"));
        }
        Ok(argv)
    }
}

/// Whether `[sync] remote_rsync` names an rsync program (a name or a path,
/// one word), which the other side runs itself for a carried stream; a
/// wrapper command (`sudo rsync`, a script) makes rsync open a session of
/// its own instead.
pub fn is_rsync_program(remote_rsync: &str) -> bool {
    matches!(shell_words(remote_rsync).as_deref(), Ok([one])
        if std::path::Path::new(one).file_name() == Some(std::ffi::OsStr::new("rsync")))
}

/// `line` split into words as a POSIX shell would: white space between
/// words, backslash escapes, single and double quotes. What a shell would
/// run as something else (`;`, `|`, `&`, `$`, redirections, backquotes,
/// a newline) is refused.
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\\') => {
                word.push(chars.next().ok_or("ends with a backslash")?);
                in_word = true;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ' | '\t') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, ';' | '|' | '&' | '$' | '<' | '>' | '`' | '(' | ')' | '\n') => {
                return Err(format!(
                    "holds {c:?}, which a shell would run as something else"
                ));
            }
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n @ ('$' | '`' | '"' | '\\')) => word.push(n),
                Some(n) => {
                    word.push('\\');
                    word.push(n);
                }
                None => return Err("ends inside quotes".into()),
            },
            (Some('"'), '$' | '`') => {
                return Err(format!("holds {c:?} in double quotes"));
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("ends inside quotes".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `maestro-sync: rsync-end {json}`: how the other side's rsync ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RsyncEnded {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The end of what it wrote on stderr.
    pub stderr: String,
}

/// A line from the other side, sorted out.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// `maestro-sync: WORD {json}`.
    Message(String, serde_json::Value),
    /// A record of its report.
    Record(serde_json::Value),
    /// Anything else (banners, noise).
    Other(String),
}

pub fn message(word: &str, body: &impl Serialize) -> String {
    format!(
        "{PREFIX}{word} {}",
        serde_json::to_string(body).unwrap_or_else(|_| "{}".into())
    )
}

pub fn classify(line: &str) -> Incoming {
    if let Some(rest) = line.strip_prefix(PREFIX) {
        let (word, body) = rest.split_once(' ').unwrap_or((rest, "{}"));
        if let Ok(v) = serde_json::from_str(body) {
            return Incoming::Message(word.to_string(), v);
        }
    }
    if line.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if v.get("type").is_some() {
                return Incoming::Record(v);
            }
        }
    }
    Incoming::Other(line.to_string())
}

/// What this side tells the other.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Prepare(PrepareRequest),
    /// Start the data's rsync server, its stream in `data` frames.
    Rsync(Handover),
    /// The manifest follows, as [`crate::manifest_delta`] lines.
    Manifest(crate::manifest_delta::Head),
    Alive,
    /// `verify` (to receive) or `done` (to serve): go on to the end.
    Go,
    Abort,
}

impl Command {
    pub fn line(&self) -> String {
        match self {
            Command::Prepare(r) => {
                format!("prepare {}", serde_json::to_string(r).unwrap_or_default())
            }
            Command::Rsync(h) => {
                format!("rsync {}", serde_json::to_string(h).unwrap_or_default())
            }
            Command::Manifest(h) => {
                format!("manifest {}", serde_json::to_string(h).unwrap_or_default())
            }
            Command::Alive => "alive".into(),
            Command::Go => "go".into(),
            Command::Abort => "abort".into(),
        }
    }

    pub fn parse(line: &str) -> Option<Command> {
        let line = line.trim();
        let (word, body) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "prepare" => serde_json::from_str(body).ok().map(Command::Prepare),
            "manifest" => serde_json::from_str(body).ok().map(Command::Manifest),
            "rsync" => serde_json::from_str(body).ok().map(Command::Rsync),
            "alive" => Some(Command::Alive),
            "go" => Some(Command::Go),
            "abort" => Some(Command::Abort),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_noise_is_told_apart() {
        let r = PrepareRequest {
            id: "20261126T011645.868Z".into(),
            consistent: true,
            ..PrepareRequest::default()
        };
        assert_eq!(
            Command::parse(&Command::Prepare(r.clone()).line()),
            Some(Command::Prepare(r))
        );
        assert_eq!(Command::parse("go\n"), Some(Command::Go));
        let h = crate::manifest_delta::Head {
            sha256: "ab".into(),
            lines: 3,
            bytes: 10,
            base: None,
        };
        assert_eq!(
            Command::parse(&Command::Manifest(h.clone()).line()),
            Some(Command::Manifest(h))
        );
        assert_eq!(Command::parse("prepare {broken"), None);
        let h = Handover {
            command: "rsync --server -logDtpre.iLsfxCIvu --delete . /g/x.partial/data/".into(),
        };
        assert_eq!(
            Command::parse(&Command::Rsync(h.clone()).line()),
            Some(Command::Rsync(h.clone()))
        );
        let dest = ServerRole::Receiver {
            destination: "/g/x.partial/data/".into(),
        };
        assert_eq!(
            h.server_argv(&dest).unwrap(),
            [
                "rsync",
                "--server",
                "-logDtpre.iLsfxCIvu",
                "--delete",
                ".",
                "/g/x.partial/data/"
            ]
        );
        // rsync's escapes are undone, as the shell would.
        let spaced = Handover {
            command: r"/usr/bin/rsync --server -e.LsfxCIvu . /g/a\ b/data/".into(),
        };
        let role = ServerRole::Receiver {
            destination: "/g/a b/data".into(),
        };
        assert_eq!(spaced.server_argv(&role).unwrap()[4], "/g/a b/data/");
        let source = ServerRole::Sender {
            source: "/snap/maestro/app/".into(),
        };
        let sends = Handover {
            command: "rsync --server --sender -logDtpre.iLsfxCIvu . /snap/maestro/app/".into(),
        };
        assert!(sends.server_argv(&source).is_ok());
        assert!(sends.server_argv(&dest).is_err());
        for bad in [
            "rm -rf /",
            "sh -c 'id' --server . /g/x.partial/data/",
            "rsync --server-ish . /g/x.partial/data/",
            "rsync --server . /g/y.partial/data/",
            "rsync --server . /g/x.partial/data/; id",
            "rsync --server . /g/x.partial/data/ && id",
            "rsync --server $(id) . /g/x.partial/data/",
            "rsync --server `id` . /g/x.partial/data/",
            "rsync --server . /g/x.partial/data/ > /etc/passwd",
            "rsync --server --sender . /g/x.partial/data/",
            "rsync --server 'unclosed . /g/x.partial/data/",
            "",
        ] {
            let h = Handover {
                command: bad.into(),
            };
            assert!(h.server_argv(&dest).is_err(), "{bad}");
        }
        for (remote_rsync, carried) in [
            ("rsync", true),
            ("/usr/local/bin/rsync", true),
            ("sudo rsync", false),
            ("/opt/bin/rsync-wrapper", false),
            ("", false),
        ] {
            assert_eq!(is_rsync_program(remote_rsync), carried, "{remote_rsync}");
        }
        let m = message("ready", &ReceiverReady::default());
        assert!(matches!(classify(&m), Incoming::Message(w, _) if w == "ready"));
        assert!(matches!(
            classify("{\"type\":\"summary\"}"),
            Incoming::Record(_)
        ));
        assert!(matches!(
            classify("Welcome to maestro2"),
            Incoming::Other(_)
        ));
        assert!(matches!(
            classify("maestro-sync: ready {nope"),
            Incoming::Other(_)
        ));
    }
}
