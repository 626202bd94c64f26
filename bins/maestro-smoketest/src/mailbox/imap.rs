//! The seed mailbox over IMAP, with the `imap` crate on a stream of our
//! own: a TCP socket under [`StepLimits`] (every command ends within
//! `--io-timeout` and reads a bounded number of bytes, whatever the server
//! sends), wrapped in rustls for `imaps://` or after STARTTLS for `imap://`.

use super::{
    Best, Found, ImapSecurity, Judged, Mailbox, MailboxError, MessageLocation, Wanted,
    MESSAGE_LIMIT,
};
use maestro_common::bounded_io::{size_text, BoundedTcp, StepLimits};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A plain or TLS stream for the IMAP client.
pub enum ImapStream {
    Plain(BoundedTcp),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, BoundedTcp>>),
}

/// What one IMAP answer other than a message's body may hold: a LIST of
/// thousands of folders, a FETCH of the sizes of thousands of messages.
const REPLY_LIMIT: u64 = 4 * maestro_common::fsio::MIB;

/// A message's body and the FETCH answer around it.
const BODY_REPLY_LIMIT: u64 = MESSAGE_LIMIT + 64 * maestro_common::fsio::KIB;

impl fmt::Debug for ImapStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImapStream::Plain(_) => "ImapStream::Plain",
            ImapStream::Tls(_) => "ImapStream::Tls",
        })
    }
}

impl Read for ImapStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ImapStream::Plain(s) => s.read(buf),
            ImapStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ImapStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ImapStream::Plain(s) => s.write(buf),
            ImapStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            ImapStream::Plain(s) => s.flush(),
            ImapStream::Tls(s) => s.flush(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImapOptions {
    pub security: ImapSecurity,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub folder: String,
    pub junk_folder: Option<String>,
    /// `--insecure-plain`: no TLS at all; only to a loopback address.
    pub insecure_plain: bool,
    pub ca_file: Option<PathBuf>,
    pub io_timeout: Duration,
}

pub struct ImapMailbox {
    opts: ImapOptions,
    session: imap::Session<ImapStream>,
    limits: StepLimits,
    /// Messages not read, said once each: too large.
    skipped: Vec<String>,
    folders: Vec<(String, bool)>,
    /// UIDNEXT of each folder at the snapshot.
    uid_next: BTreeMap<String, u32>,
    uidplus: bool,
    /// (folder, UID) of the messages judged not the test message (or too
    /// large): not fetched again on the next look.
    rejected: BTreeSet<(String, u32)>,
}

fn imap_err(step: &str, e: impl fmt::Display) -> MailboxError {
    MailboxError::Imap {
        step: step.to_string(),
        detail: e.to_string(),
    }
}

fn tls_config(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::ClientConfig>, MailboxError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| MailboxError::Io {
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
            })?;
        if certs.is_empty() {
            return Err(MailboxError::Io {
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, "no certificate in the file"),
            });
        }
        for c in certs {
            roots.add(c).map_err(|e| imap_err("loading --ca-file", e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| imap_err("TLS set-up", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The handshake error, with what to do about the usual certificate
/// problems (rustls' own words are terse: `UnknownIssuer`).
fn handshake_error_detail(e: &io::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    let hint = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::UnknownIssuer => Some(
                "the server's certificate is not signed by a trusted CA; a private or self-signed CA goes in --ca-file".to_string(),
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => Some(format!(
                "the server's certificate is not for {host}; connect by a name it is issued for"
            )),
            // webpki's error, passed on by rustls as `Other`.
            C::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => Some(
                "the server presents a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` makes by default) as its own; \
                 give it a leaf certificate (CA:FALSE) signed by that CA, or remake it with -addext basicConstraints=critical,CA:FALSE".to_string(),
            ),
            _ => None,
        },
        _ => None,
    };
    match hint {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

fn wrap_tls(
    tcp: BoundedTcp,
    host: &str,
    port: u16,
    ca_file: Option<&PathBuf>,
) -> Result<ImapStream, MailboxError> {
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| imap_err("TLS set-up", format!("{host}: {e}")))?;
    let conn = rustls::ClientConnection::new(tls_config(ca_file)?, name)
        .map_err(|e| imap_err("TLS set-up", e))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // Handshake now, so a certificate problem is reported as one.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| MailboxError::Connect {
                what: format!("IMAP server {host}:{port} (TLS handshake)"),
                detail: handshake_error_detail(&e, host),
            })?;
    }
    Ok(ImapStream::Tls(Box::new(tls)))
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, MailboxError> {
    crate::connect::connect(host, port, timeout).map_err(|detail| MailboxError::Connect {
        what: format!("IMAP server {host}:{port}"),
        detail,
    })
}

/// Whether every address of `host` is a loopback one; the lookup within
/// `timeout` (a name that does not resolve in time is not loopback).
fn is_loopback(host: &str, timeout: Duration) -> bool {
    maestro_common::net::resolve(host, timeout)
        .is_ok_and(|addrs| addrs.iter().all(|a| a.is_loopback()))
}

/// The plain-text part of STARTTLS (RFC 3501 6.2.1): greeting, CAPABILITY,
/// STARTTLS. The `imap` crate does STARTTLS only on sockets it opens
/// itself, without our timeouts, so these three exchanges are done here;
/// everything after them is the crate's.
fn starttls(tcp: BoundedTcp, opts: &ImapOptions) -> Result<BoundedTcp, MailboxError> {
    use std::io::BufRead;
    let mut reader = io::BufReader::new(tcp.try_clone().map_err(|e| imap_err("STARTTLS", e))?);
    let mut writer = tcp;
    let mut line = String::new();
    let mut read_line = |line: &mut String, step: &str| -> Result<(), MailboxError> {
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err(imap_err(step, "the server closed the connection")),
            Ok(_) => Ok(()),
            Err(e) => Err(imap_err(step, e)),
        }
    };
    read_line(&mut line, "greeting")?;
    if !line.starts_with("* OK") {
        return Err(imap_err("greeting", line.trim_end()));
    }
    let mut caps = line.to_ascii_uppercase();
    writer.limits().start(opts.io_timeout, REPLY_LIMIT);
    writer
        .write_all(b"s1 CAPABILITY\r\n")
        .map_err(|e| imap_err("CAPABILITY", e))?;
    loop {
        read_line(&mut line, "CAPABILITY")?;
        if line.starts_with("s1 ") {
            break;
        }
        caps.push_str(&line.to_ascii_uppercase());
    }
    if !caps
        .split_whitespace()
        .any(|w| w.trim_end_matches(']') == "STARTTLS")
    {
        return Err(MailboxError::Insecure(format!(
            "the IMAP server {}:{} does not offer STARTTLS; the password would cross the network in clear (use imaps://)",
            opts.host, opts.port
        )));
    }
    writer.limits().start(opts.io_timeout, REPLY_LIMIT);
    writer
        .write_all(b"s2 STARTTLS\r\n")
        .map_err(|e| imap_err("STARTTLS", e))?;
    loop {
        read_line(&mut line, "STARTTLS")?;
        if let Some(rest) = line.strip_prefix("s2 ") {
            if rest.to_ascii_uppercase().starts_with("OK") {
                break;
            }
            return Err(imap_err("STARTTLS", rest.trim_end()));
        }
    }
    Ok(writer)
}

impl ImapMailbox {
    pub fn connect(opts: ImapOptions, password: &str) -> Result<ImapMailbox, MailboxError> {
        if opts.insecure_plain && !is_loopback(&opts.host, opts.io_timeout) {
            return Err(MailboxError::Insecure(format!(
                "--insecure-plain is only allowed to a loopback address, and {} is not one; use imaps:// or imap:// with STARTTLS",
                opts.host
            )));
        }
        let limits = StepLimits::new(opts.io_timeout, REPLY_LIMIT);
        let tcp = BoundedTcp::new(
            connect_tcp(&opts.host, opts.port, opts.io_timeout)?,
            limits.clone(),
        );
        // The TLS handshake and the greeting are the first step.
        let client = match (opts.security, opts.insecure_plain) {
            (ImapSecurity::Implicit, _) => {
                let mut c =
                    imap::Client::new(wrap_tls(tcp, &opts.host, opts.port, opts.ca_file.as_ref())?);
                c.read_greeting().map_err(|e| imap_err("greeting", e))?;
                c
            }
            (ImapSecurity::StartTls, true) => {
                let mut c = imap::Client::new(ImapStream::Plain(tcp));
                c.read_greeting().map_err(|e| imap_err("greeting", e))?;
                c
            }
            (ImapSecurity::StartTls, false) => {
                let tcp = starttls(tcp, &opts)?;
                limits.start(opts.io_timeout, REPLY_LIMIT);
                imap::Client::new(wrap_tls(tcp, &opts.host, opts.port, opts.ca_file.as_ref())?)
            }
        };
        limits.start(opts.io_timeout, REPLY_LIMIT);
        // Only the server's NO or BAD is a refusal; silence or a cut
        // connection is what it is (a timeout, a lost connection).
        let mut session = client
            .login(&opts.user, password)
            .map_err(|(e, _)| match &e {
                imap::Error::No(no) => MailboxError::LoginRefused {
                    user: opts.user.clone(),
                    detail: format!("the server said NO: {}", no.information),
                },
                imap::Error::Bad(bad) => MailboxError::LoginRefused {
                    user: opts.user.clone(),
                    detail: format!("the server said BAD: {}", bad.information),
                },
                other => imap_err(&format!("LOGIN as {}", opts.user), other),
            })?;
        limits.start(opts.io_timeout, REPLY_LIMIT);
        let uidplus = session
            .capabilities()
            .map(|c| c.has_str("UIDPLUS"))
            .unwrap_or(false);
        limits.start(opts.io_timeout, REPLY_LIMIT);
        let folders = Self::folders_to_watch(&mut session, &opts)?;
        Ok(ImapMailbox {
            opts,
            session,
            limits,
            skipped: Vec::new(),
            folders,
            uid_next: BTreeMap::new(),
            rejected: BTreeSet::new(),
            uidplus,
        })
    }

    /// The main folder, and the junk folder when there is one.
    fn folders_to_watch(
        session: &mut imap::Session<ImapStream>,
        opts: &ImapOptions,
    ) -> Result<Vec<(String, bool)>, MailboxError> {
        let mut folders = vec![(opts.folder.clone(), false)];
        let names = session
            .list(Some(""), Some("*"))
            .map_err(|e| imap_err("LIST", e))?;
        let mut by_attribute = None;
        let mut by_name = None;
        let mut wanted_exists = false;
        for n in names.iter() {
            let name = n.name().to_string();
            if Some(&name) == opts.junk_folder.as_ref() {
                wanted_exists = true;
            }
            if n.attributes()
                .iter()
                .any(|a| matches!(a, imap_proto::NameAttribute::Junk))
            {
                by_attribute.get_or_insert(name.clone());
            }
            let leaf = name
                .rsplit(['.', '/'])
                .next()
                .unwrap_or(&name)
                .to_ascii_lowercase();
            if leaf == "junk" || leaf == "spam" {
                by_name.get_or_insert(name);
            }
        }
        let junk = match &opts.junk_folder {
            Some(j) if wanted_exists => Some(j.clone()),
            Some(j) => {
                return Err(imap_err(
                    "LIST",
                    format!("the junk folder {j:?} does not exist"),
                ));
            }
            None => by_attribute.or(by_name),
        };
        if let Some(j) = junk {
            if j != opts.folder {
                folders.push((j, true));
            }
        }
        Ok(folders)
    }

    /// A new IMAP command: its own `--io-timeout` and byte budget.
    fn step(&self, budget: u64) {
        self.limits.start(self.opts.io_timeout, budget);
    }

    fn uid_next_of(&mut self, folder: &str) -> Result<u32, MailboxError> {
        self.step(REPLY_LIMIT);
        let mb = self
            .session
            .examine(folder)
            .map_err(|e| imap_err(&format!("EXAMINE {folder}"), e))?;
        match mb.uid_next {
            Some(n) => Ok(n),
            None => {
                self.step(REPLY_LIMIT);
                let st = self
                    .session
                    .status(folder, "(UIDNEXT)")
                    .map_err(|e| imap_err(&format!("STATUS {folder}"), e))?;
                st.uid_next.ok_or_else(|| {
                    imap_err(&format!("STATUS {folder}"), "the server gave no UIDNEXT")
                })
            }
        }
    }

    fn skip(&mut self, why: String) {
        if !self.skipped.contains(&why) {
            self.skipped.push(why);
        }
    }

    /// The new messages of a folder: first their sizes and dates, then the
    /// body of each one small enough to be the test message and not judged
    /// before, one command a message, so that no answer is larger than one
    /// message. Each body is judged as it arrives and kept only when it is
    /// the best so far.
    fn fetch_new(
        &mut self,
        folder: &str,
        junk: bool,
        since: Option<SystemTime>,
        want: &Wanted,
        best: &mut Best,
    ) -> Result<(), MailboxError> {
        self.step(REPLY_LIMIT);
        self.session
            .examine(folder)
            .map_err(|e| imap_err(&format!("EXAMINE {folder}"), e))?;
        let from_uid = self.uid_next.get(folder).copied();
        let set = match (from_uid, since) {
            (Some(n), _) => format!("{n}:*"),
            (None, Some(t)) => {
                let day = chrono::DateTime::<chrono::Utc>::from(t) - chrono::Duration::days(1);
                self.step(REPLY_LIMIT);
                let uids = self
                    .session
                    .uid_search(format!("SINCE {}", day.format("%d-%b-%Y")))
                    .map_err(|e| imap_err(&format!("UID SEARCH in {folder}"), e))?;
                if uids.is_empty() {
                    return Ok(());
                }
                let mut uids: Vec<u32> = uids.into_iter().collect();
                uids.sort_unstable();
                uids.iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }
            (None, None) => "1:*".to_string(),
        };
        self.step(REPLY_LIMIT);
        let candidates: Vec<(u32, Option<u32>, Option<SystemTime>)> = match self
            .session
            .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE)")
        {
            Ok(fetches) => fetches
                .iter()
                .filter_map(|f| {
                    let uid = f.uid?;
                    let arrived = f
                        .internal_date()
                        .map(|d| SystemTime::from(d.with_timezone(&chrono::Utc)));
                    Some((uid, f.size, arrived))
                })
                .collect(),
            // An empty folder answers `1:*` with an error on some servers.
            Err(imap::Error::No(_)) | Err(imap::Error::Bad(_)) => return Ok(()),
            Err(e) => return Err(imap_err(&format!("UID FETCH in {folder}"), e)),
        };
        for (uid, size, arrived) in candidates {
            // `N:*` also returns the last message when N is past the end.
            if from_uid.is_some_and(|n| uid < n) {
                continue;
            }
            let key = (folder.to_string(), uid);
            if self.rejected.contains(&key) {
                continue;
            }
            if want.out_of_time() {
                return Ok(());
            }
            if from_uid.is_none() {
                if let (Some(s), Some(a)) = (since, arrived) {
                    if a < s {
                        continue;
                    }
                }
            }
            if let Some(size) = size.filter(|&s| u64::from(s) > MESSAGE_LIMIT) {
                self.skip(format!(
                    "UID {uid} in {folder} ({size} bytes, larger than {}): not read",
                    size_text(MESSAGE_LIMIT)
                ));
                self.rejected.insert(key);
                continue;
            }
            // A server that said a smaller size than it sends is stopped by the budget.
            self.step(BODY_REPLY_LIMIT);
            let fetches = self
                .session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .map_err(|e| imap_err(&format!("UID FETCH {uid} in {folder}"), e))?;
            let Some(body) = fetches
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
            else {
                continue;
            };
            if body.len() as u64 > MESSAGE_LIMIT {
                self.skip(format!(
                    "UID {uid} in {folder} (larger than {}): not read",
                    size_text(MESSAGE_LIMIT)
                ));
                self.rejected.insert(key);
                continue;
            }
            match want.judge(body) {
                Judged::Ours => best.offer(Found {
                    folder: folder.to_string(),
                    junk,
                    location: MessageLocation::Imap {
                        folder: folder.to_string(),
                        uid,
                    },
                    raw: body.to_vec(),
                    arrived,
                }),
                Judged::Other => {
                    self.rejected.insert(key);
                }
                Judged::Earlier(why) => {
                    self.skip(format!("UID {uid} in {folder}: {why}"));
                    self.rejected.insert(key);
                }
            }
        }
        Ok(())
    }
}

impl Mailbox for ImapMailbox {
    fn snapshot(&mut self) -> Result<(), MailboxError> {
        let folders: Vec<String> = self.folders.iter().map(|(f, _)| f.clone()).collect();
        for f in folders {
            let n = self.uid_next_of(&f)?;
            self.uid_next.insert(f, n);
        }
        Ok(())
    }

    fn find(
        &mut self,
        want: &Wanted,
        since: Option<SystemTime>,
    ) -> Result<Option<Found>, MailboxError> {
        let mut best = Best::default();
        for (folder, junk) in self.folders.clone() {
            if want.out_of_time() {
                break;
            }
            self.fetch_new(&folder, junk, since, want, &mut best)?;
        }
        Ok(best.take())
    }

    fn remove(&mut self, found: &Found) -> Result<(), MailboxError> {
        let MessageLocation::Imap { folder, uid } = &found.location else {
            return Err(imap_err("remove", "not an IMAP message"));
        };
        self.step(REPLY_LIMIT);
        self.session
            .select(folder)
            .map_err(|e| imap_err(&format!("SELECT {folder}"), e))?;
        self.step(REPLY_LIMIT);
        self.session
            .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")
            .map_err(|e| imap_err("UID STORE \\Deleted", e))?;
        self.step(REPLY_LIMIT);
        if self.uidplus {
            self.session
                .uid_expunge(uid.to_string())
                .map_err(|e| imap_err("UID EXPUNGE", e))?;
        } else {
            self.session.expunge().map_err(|e| imap_err("EXPUNGE", e))?;
        }
        Ok(())
    }

    fn folders(&self) -> Vec<String> {
        self.folders.iter().map(|(f, _)| f.clone()).collect()
    }

    fn skipped(&self) -> Vec<String> {
        self.skipped.clone()
    }

    fn close(&mut self) {
        self.step(REPLY_LIMIT);
        let _ = self.session.logout();
    }
}

impl fmt::Debug for ImapMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ImapMailbox({}@{}:{})",
            self.opts.user, self.opts.host, self.opts.port
        )
    }
}
