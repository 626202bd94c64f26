//! The seed mailbox the test message arrives in: IMAP (implicit TLS, or
//! STARTTLS) or a local Maildir. Both answer the same three questions:
//! what is there now (before the trigger), is the test message there yet,
//! and remove it afterwards.

mod imap;
mod maildir;

use crate::message;
use crate::settings::Matcher;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

pub use self::imap::{ImapMailbox, ImapOptions};
pub use self::maildir::MaildirMailbox;

/// The largest message read as a candidate for the test message. A test
/// mailing is a few KiB; a larger message in the seed mailbox is skipped
/// (and said so), never read whole: a 2 GB message would cost 2 GB of
/// memory and the run's time.
pub const MESSAGE_LIMIT: u64 = 16 * maestro_common::fsio::MIB;

/// How IMAP is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// `imaps://`: TLS from the first byte (port 993).
    Implicit,
    /// `imap://`: STARTTLS before login; refused when the server does not offer it.
    StartTls,
}

/// A parsed `--mailbox` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxSpec {
    Imap {
        security: ImapSecurity,
        user: String,
        host: String,
        port: u16,
        folder: String,
    },
    Maildir(PathBuf),
}

impl MailboxSpec {
    pub fn parse(url_given: &str) -> Result<MailboxSpec, String> {
        // Messages quote the URL with the password of a `user:password@` masked.
        let url = crate::settings::shown_url(url_given);
        let url = url.as_str();
        if let Some(path) = url.strip_prefix("maildir:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("mailbox {url:?}: no Maildir path"));
            }
            return Ok(MailboxSpec::Maildir(PathBuf::from(path)));
        }
        let (security, rest, default_port) = if let Some(r) = url.strip_prefix("imaps://") {
            (ImapSecurity::Implicit, r, 993)
        } else if let Some(r) = url.strip_prefix("imap://") {
            (ImapSecurity::StartTls, r, 143)
        } else {
            return Err(format!(
                "mailbox {url:?}: expected imaps://USER@HOST/FOLDER, imap://USER@HOST/FOLDER or maildir:/PATH"
            ));
        };
        let (authority, folder) = match rest.split_once('/') {
            Some((a, f)) => (a, f),
            None => (rest, ""),
        };
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| format!("mailbox {url:?}: no user (USER@HOST)"))?;
        if user.contains(':') {
            return Err(format!(
                "mailbox {url:?}: a password may not be written in the URL (it would show in ps, logs and reports); give it with --password-file PATH, --password-env VAR or [smoketest] mailbox_password = {{ file = \"PATH\" }}"
            ));
        }
        let user = percent_decode(user).map_err(|e| format!("mailbox {url:?}: {e}"))?;
        if user.is_empty() {
            return Err(format!("mailbox {url:?}: empty user"));
        }
        let (host, port) = crate::settings::parse_host_port(hostport, default_port)
            .map_err(|e| format!("mailbox {url:?}: {e}"))?;
        let folder = percent_decode(folder).map_err(|e| format!("mailbox {url:?}: {e}"))?;
        Ok(MailboxSpec::Imap {
            security,
            user,
            host,
            port,
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                folder
            },
        })
    }

    pub fn is_imap(&self) -> bool {
        matches!(self, MailboxSpec::Imap { .. })
    }

    /// For messages: never a password (the URL cannot hold one).
    pub fn describe(&self) -> String {
        match self {
            MailboxSpec::Imap {
                security,
                user,
                host,
                port,
                folder,
            } => {
                let scheme = match security {
                    ImapSecurity::Implicit => "imaps",
                    ImapSecurity::StartTls => "imap",
                };
                format!("{scheme}://{user}@{host}:{port}/{folder}")
            }
            MailboxSpec::Maildir(p) => format!("maildir:{}", p.display()),
        }
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a % escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad % escape %{hex}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the % escapes are not UTF-8".into())
}

/// Where a found message is, to remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageLocation {
    Imap { folder: String, uid: u32 },
    File(PathBuf),
}

/// The test message as found.
#[derive(Debug, Clone)]
pub struct Found {
    pub folder: String,
    /// Found in the junk folder, not the inbox.
    pub junk: bool,
    pub location: MessageLocation,
    pub raw: Vec<u8>,
    /// When the mailbox says it arrived (IMAP INTERNALDATE, a file's mtime).
    pub arrived: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot connect to {what}: {detail}")]
    Connect { what: String, detail: String },
    #[error("IMAP login as {user} refused: {detail}")]
    LoginRefused { user: String, detail: String },
    #[error("{0}")]
    Insecure(String),
    #[error("IMAP error during {step}: {detail}")]
    Imap { step: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the password ({0})")]
    Secret(String),
}

/// How far a message's `Date:` may lie before the trigger and still be
/// this run's mailing: the clocks of the Maestro server and this one may
/// differ by this much. A message dated earlier is an earlier mailing
/// delivered late.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// What makes a message this run's test message.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub matcher: Matcher,
    /// With a trigger: its time less [`CLOCK_SKEW`]. A message must carry a
    /// `Date:` no earlier than this.
    pub sent_not_before: Option<SystemTime>,
    /// The end of the run's wait: a look reads no further message after it
    /// (one look may otherwise read many messages, each within its own
    /// I/O timeout).
    pub until: Option<Instant>,
}

/// What one message read from the mailbox is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// This run's test message.
    Ours,
    /// Some other message: never looked at again.
    Other,
    /// It matches, but it was sent before this run (said why): never looked
    /// at again, and said in the report.
    Earlier(String),
}

impl Wanted {
    /// The run's wait is over: stop reading candidates.
    pub fn out_of_time(&self) -> bool {
        self.until.is_some_and(|u| Instant::now() >= u)
    }

    /// Whether `raw` is this run's test message.
    pub fn judge(&self, raw: &[u8]) -> Judged {
        if !message::matches(raw, &self.matcher) {
            return Judged::Other;
        }
        let Some(not_before) = self.sent_not_before else {
            return Judged::Ours;
        };
        let date = mail_parser::MessageParser::default()
            .parse_headers(raw)
            .and_then(|m| m.date().map(|d| (d.to_timestamp(), d.to_rfc3339())));
        let limit = not_before
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        match date {
            Some((t, _)) if t >= limit => Judged::Ours,
            Some((_, shown)) => Judged::Earlier(format!(
                "dated {shown}, before this run's trigger (less {}s for the clocks): an earlier mailing",
                CLOCK_SKEW.as_secs()
            )),
            None => Judged::Earlier(
                "no readable Date: header, so it cannot be shown to be this run's mailing".into(),
            ),
        }
    }
}

/// The best candidate seen so far, each one judged as it is read and
/// dropped unless it is the best: the inbox wins over junk, then the newest.
#[derive(Debug, Default)]
pub(crate) struct Best(Option<Found>);

impl Best {
    pub(crate) fn offer(&mut self, f: Found) {
        let key = |f: &Found| (!f.junk, f.arrived);
        if self.0.as_ref().is_none_or(|b| key(&f) >= key(b)) {
            self.0 = Some(f);
        }
    }

    pub(crate) fn take(self) -> Option<Found> {
        self.0
    }
}

/// What every mailbox kind does.
pub trait Mailbox {
    /// Remember what is in the folders now: messages arriving later are new.
    fn snapshot(&mut self) -> Result<(), MailboxError>;
    /// The newest wanted message that is new since the snapshot (or, with
    /// no snapshot, arrived after `since`); the inbox before the junk folder.
    /// A message judged not wanted is remembered and not read again.
    fn find(
        &mut self,
        want: &Wanted,
        since: Option<SystemTime>,
    ) -> Result<Option<Found>, MailboxError>;
    fn remove(&mut self, found: &Found) -> Result<(), MailboxError>;
    /// The folders looked in, for messages.
    fn folders(&self) -> Vec<String>;
    /// Messages not read (too large, not a regular file), each said once.
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }
    fn close(&mut self) {}
}

/// Polling with backoff: 100 ms, doubling, at most 2 s between looks.
pub fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_urls() {
        assert_eq!(
            MailboxSpec::parse("imaps://seed%40seed.test@mx.example/INBOX").unwrap(),
            MailboxSpec::Imap {
                security: ImapSecurity::Implicit,
                user: "seed@seed.test".into(),
                host: "mx.example".into(),
                port: 993,
                folder: "INBOX".into()
            }
        );
        let s = MailboxSpec::parse("imap://seed@seed.test@127.0.0.1:1143").unwrap();
        assert!(
            matches!(s, MailboxSpec::Imap { security: ImapSecurity::StartTls, port: 1143, ref folder, ref user, .. } if folder == "INBOX" && user == "seed@seed.test")
        );
        assert_eq!(
            MailboxSpec::parse("maildir:/var/mail/seed").unwrap(),
            MailboxSpec::Maildir("/var/mail/seed".into())
        );
        let e = MailboxSpec::parse("imaps://seed:hunter2@mx/INBOX").unwrap_err();
        assert!(e.contains("may not be written"), "{e}");
        assert!(MailboxSpec::parse("pop3://x@y").is_err());
        assert!(MailboxSpec::parse("imaps://mx/INBOX").is_err());
        assert!(MailboxSpec::parse("maildir:").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..8 {
            d = next_backoff(d);
            seen.push(d.as_millis());
        }
        assert_eq!(seen, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    }
}
