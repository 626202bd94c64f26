//! The seed mailbox as a local Maildir (`maildir:/path`): the inbox is the
//! Maildir itself, a junk folder is a Maildir++ subfolder (`.Junk`).
//! Messages are told apart by the unique part of their file name (before
//! `:2,`), which stays the same when a mail client moves a file from
//! `new/` to `cur/` and adds flags.

use super::{Best, Found, Judged, Mailbox, MailboxError, MessageLocation, Wanted, MESSAGE_LIMIT};
use maestro_common::fsio::{self, FsioError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug)]
pub struct MaildirMailbox {
    root: PathBuf,
    /// (folder name for messages, its Maildir, junk?)
    folders: Vec<(String, PathBuf, bool)>,
    seen: Option<BTreeMap<PathBuf, BTreeSet<String>>>,
    /// Files not read, said once each: too large, or not regular files.
    skipped: Vec<String>,
    /// (Maildir, unique name) of the messages judged not the test message:
    /// not read again on the next look.
    rejected: BTreeSet<(PathBuf, String)>,
}

/// A message file, read only when it is a regular file of at most
/// [`MESSAGE_LIMIT`] bytes. A FIFO is refused at its opening (without
/// blocking), a device or a socket likewise.
enum MessageFile {
    Message(Vec<u8>),
    Gone,
    Skipped(String),
}

fn read_message(path: &Path) -> Result<MessageFile, MailboxError> {
    match fsio::read_regular(path, MESSAGE_LIMIT) {
        Ok(raw) => Ok(MessageFile::Message(raw)),
        // Moved or removed meanwhile by a mail client.
        Err(e) if e.is_not_found() => Ok(MessageFile::Gone),
        Err(e @ (FsioError::NotRegular { .. } | FsioError::TooLarge { .. })) => {
            Ok(MessageFile::Skipped(format!("{e}: not read")))
        }
        Err(e) => Err(MailboxError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> MailboxError {
    MailboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn unique_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

/// Every message file of one Maildir: (unique name, path).
fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, MailboxError> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        let entries = std::fs::read_dir(&d).map_err(|e| io_err(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&d, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            out.push((unique_name(&name).to_string(), entry.path()));
        }
    }
    Ok(out)
}

impl MaildirMailbox {
    pub fn open(root: &Path, junk_folder: Option<&str>) -> Result<MaildirMailbox, MailboxError> {
        for sub in ["new", "cur", "tmp"] {
            let d = root.join(sub);
            if !d.is_dir() {
                return Err(io_err(
                    &d,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "not a Maildir (no new/, cur/ and tmp/)",
                    ),
                ));
            }
        }
        let mut folders = vec![("INBOX".to_string(), root.to_path_buf(), false)];
        let junk = match junk_folder {
            Some(j) => {
                let d = root.join(format!(".{}", j.trim_start_matches('.')));
                if !d.join("new").is_dir() {
                    return Err(io_err(
                        &d,
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "the junk folder is not a Maildir",
                        ),
                    ));
                }
                Some((j.to_string(), d))
            }
            None => [".Junk", ".Spam", ".junk", ".spam"]
                .iter()
                .map(|n| (n[1..].to_string(), root.join(n)))
                .find(|(_, d)| d.join("new").is_dir()),
        };
        if let Some((name, dir)) = junk {
            folders.push((name, dir, true));
        }
        Ok(MaildirMailbox {
            root: root.to_path_buf(),
            folders,
            seen: None,
            skipped: Vec::new(),
            rejected: BTreeSet::new(),
        })
    }
}

impl Mailbox for MaildirMailbox {
    fn snapshot(&mut self) -> Result<(), MailboxError> {
        let mut seen = BTreeMap::new();
        for (_, dir, _) in &self.folders {
            let names = list(dir)?.into_iter().map(|(n, _)| n).collect();
            seen.insert(dir.clone(), names);
        }
        self.seen = Some(seen);
        Ok(())
    }

    fn find(
        &mut self,
        want: &Wanted,
        since: Option<SystemTime>,
    ) -> Result<Option<Found>, MailboxError> {
        let mut best = Best::default();
        for (name, dir, junk) in &self.folders {
            for (unique, path) in list(dir)? {
                if let Some(seen) = &self.seen {
                    if seen.get(dir).is_some_and(|s| s.contains(&unique)) {
                        continue;
                    }
                }
                let key = (dir.clone(), unique);
                if self.rejected.contains(&key) {
                    continue;
                }
                if want.out_of_time() {
                    return Ok(best.take());
                }
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    // Moved or removed meanwhile by a mail client.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err(&path, e)),
                };
                let arrived = meta.modified().ok();
                if self.seen.is_none() {
                    if let (Some(s), Some(a)) = (since, arrived) {
                        if a < s {
                            continue;
                        }
                    }
                }
                let raw = match read_message(&path)? {
                    MessageFile::Message(raw) => raw,
                    MessageFile::Gone => continue,
                    MessageFile::Skipped(why) => {
                        if !self.skipped.contains(&why) {
                            self.skipped.push(why);
                        }
                        self.rejected.insert(key);
                        continue;
                    }
                };
                match want.judge(&raw) {
                    Judged::Ours => best.offer(Found {
                        folder: name.clone(),
                        junk: *junk,
                        location: MessageLocation::File(path),
                        raw,
                        arrived,
                    }),
                    Judged::Other => {
                        self.rejected.insert(key);
                    }
                    Judged::Earlier(why) => {
                        self.skipped
                            .push(format!("{} in {name}: {why}", path.display()));
                        self.rejected.insert(key);
                    }
                }
            }
        }
        Ok(best.take())
    }

    fn remove(&mut self, found: &Found) -> Result<(), MailboxError> {
        let MessageLocation::File(path) = &found.location else {
            return Err(io_err(
                &self.root,
                std::io::Error::other("not a Maildir message"),
            ));
        };
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A mail client moved it from new/ to cur/: find it by its unique name.
                let file = path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let unique = unique_name(&file).to_string();
                let dir = path.parent().and_then(Path::parent).unwrap_or(&self.root);
                match list(dir)?.into_iter().find(|(n, _)| *n == unique) {
                    Some((_, p)) => std::fs::remove_file(&p).map_err(|e| io_err(&p, e)),
                    None => Err(io_err(path, e)),
                }
            }
            Err(e) => Err(io_err(path, e)),
        }
    }

    fn folders(&self) -> Vec<String> {
        self.folders.iter().map(|(n, _, _)| n.clone()).collect()
    }

    fn skipped(&self) -> Vec<String> {
        self.skipped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Matcher;

    fn maildir(root: &Path) {
        for s in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(root.join(s)).unwrap();
        }
    }

    #[test]
    fn new_messages_are_found_old_ones_are_not_junk_is_second() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Maildir");
        maildir(&root);
        maildir(&root.join(".Junk"));
        let m = |subject: &str| format!("Subject: {subject}\r\n\r\nbody\r\n");
        std::fs::write(root.join("new/1.old"), m("maestro-ha smoke test")).unwrap();
        let mut mb = MaildirMailbox::open(&root, None).unwrap();
        assert_eq!(mb.folders(), vec!["INBOX", "Junk"]);
        mb.snapshot().unwrap();
        let matcher = Wanted {
            matcher: Matcher::Subject("smoke test".into()),
            sent_not_before: None,
            until: None,
        };
        assert!(
            mb.find(&matcher, None).unwrap().is_none(),
            "the old one is not new"
        );
        std::fs::write(root.join(".Junk/new/2.j"), m("maestro-ha smoke test")).unwrap();
        let f = mb.find(&matcher, None).unwrap().unwrap();
        assert!(f.junk);
        std::fs::write(root.join("new/3.i:2,S"), m("maestro-ha smoke test")).unwrap();
        std::fs::write(root.join("new/4.other"), m("hello")).unwrap();
        let f = mb.find(&matcher, None).unwrap().unwrap();
        assert!(!f.junk, "the inbox wins");
        mb.remove(&f).unwrap();
        assert!(!root.join("new/3.i:2,S").exists());
        assert!(root.join("new/1.old").exists());
    }

    #[test]
    fn a_message_sent_before_the_trigger_is_not_this_runs_and_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Maildir");
        maildir(&root);
        let mut mb = MaildirMailbox::open(&root, None).unwrap();
        mb.snapshot().unwrap();
        let want = Wanted {
            matcher: Matcher::Subject("smoke test".into()),
            sent_not_before: Some(SystemTime::now() - super::super::CLOCK_SKEW),
            until: None,
        };
        // An earlier run's mailing, delivered late, and one without a date.
        std::fs::write(
            root.join("new/1.late"),
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nSubject: maestro-ha smoke test\r\n\r\nold\r\n",
        )
        .unwrap();
        std::fs::write(
            root.join("new/2.nodate"),
            "Subject: maestro-ha smoke test\r\n\r\nno date\r\n",
        )
        .unwrap();
        assert!(mb.find(&want, None).unwrap().is_none());
        let skipped = mb.skipped().join("; ");
        assert!(
            skipped.contains("2024-01-01") && skipped.contains("earlier mailing"),
            "{skipped}"
        );
        assert!(skipped.contains("no readable Date"), "{skipped}");
        // This run's, dated now.
        let now = chrono::Utc::now().to_rfc2822();
        std::fs::write(
            root.join("new/3.ours"),
            format!("Date: {now}\r\nSubject: maestro-ha smoke test\r\n\r\nnew\r\n"),
        )
        .unwrap();
        let f = mb.find(&want, None).unwrap().unwrap();
        assert!(String::from_utf8_lossy(&f.raw).contains("new"));
    }

    #[test]
    fn a_rejected_message_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Maildir");
        maildir(&root);
        let mut mb = MaildirMailbox::open(&root, None).unwrap();
        mb.snapshot().unwrap();
        let want = Wanted {
            matcher: Matcher::Subject("smoke test".into()),
            sent_not_before: None,
            until: None,
        };
        let other = root.join("new/1.other");
        std::fs::write(&other, "Subject: hello\r\n\r\nbody\r\n").unwrap();
        assert!(mb.find(&want, None).unwrap().is_none());
        // Were it read again, it would match now.
        std::fs::write(&other, "Subject: maestro-ha smoke test\r\n\r\nbody\r\n").unwrap();
        assert!(mb.find(&want, None).unwrap().is_none());
    }

    #[test]
    fn not_a_maildir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = MaildirMailbox::open(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Maildir"), "{e}");
    }
}
