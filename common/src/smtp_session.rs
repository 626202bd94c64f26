//! An SMTP client session on a [`BoundedTcp`]: lettre's commands and reply
//! parser, our reading. lettre's own transport reads each reply line with
//! `read_line` on a socket it owns, so a reply line is unbounded in size and
//! each read only in time; here the whole session is one [`StepLimits`]
//! (one time bound, one byte budget) and each reply line at most
//! [`REPLY_LINE_LIMIT`] bytes. maestro-smoketest sends its bounce through
//! it, maestro-redirect asks a relay whether it would relay.

use crate::bounded_io::{BoundedTcp, StepLimits};
use lettre::transport::smtp::response::Response;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::str::FromStr;

/// One reply line's limit (RFC 5321 says 512 octets; Postfix allows 2048).
pub const REPLY_LINE_LIMIT: usize = 4096;

/// A client session: commands written, replies read, within its limits.
pub struct SmtpSession {
    reader: BufReader<BoundedTcp>,
    writer: BoundedTcp,
}

impl SmtpSession {
    /// A session on a connected socket; `limits` bound the whole session.
    pub fn new(tcp: TcpStream, limits: StepLimits) -> std::io::Result<Self> {
        let writer = BoundedTcp::new(tcp, limits);
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Self { reader, writer })
    }

    /// The server's next reply, all its lines (`250-...` continues,
    /// `250 ...` or a bare code ends it).
    pub fn reply(&mut self) -> Result<Response, String> {
        let mut text = String::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take(REPLY_LINE_LIMIT as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            if line.len() > REPLY_LINE_LIMIT {
                return Err(format!(
                    "the server sent a reply line longer than {REPLY_LINE_LIMIT} bytes"
                ));
            }
            let line = String::from_utf8_lossy(&line);
            text.push_str(&line);
            if !line.ends_with('\n') {
                text.push_str("\r\n");
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        Response::from_str(&text).map_err(|e| {
            let first = text.lines().next().unwrap_or("").trim_end();
            let mut shown: String = first.chars().take(120).collect();
            if first.chars().count() > 120 {
                shown.push('…');
            }
            format!("unreadable reply {shown:?}: {e}")
        })
    }

    /// Write raw bytes (a message's DATA) and flush.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .and_then(|()| self.writer.flush())
            .map_err(|e| e.to_string())
    }

    /// Write one of lettre's commands and read the reply to it.
    pub fn command(&mut self, command: impl std::fmt::Display) -> Result<Response, String> {
        self.send(command.to_string().as_bytes())?;
        self.reply()
    }
}
