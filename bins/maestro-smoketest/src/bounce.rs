//! The bounce: an RFC 3464 delivery status notification (multipart/report,
//! status 5.1.1, a permanent failure, the only kind Maestro records) for a
//! seed address, sent with the null envelope sender to the bounce address
//! of the test message's Return-Path, through LISTSERV's SMTP listener.

use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Quit, Rcpt};
use lettre::transport::smtp::extension::{
    ClientId, Extension, MailBodyParameter, MailParameter, ServerInfo,
};
use lettre::transport::smtp::response::Response;
use lettre::Address;
use maestro_common::bounded_io::StepLimits;
use maestro_common::smtp_session::SmtpSession;
use std::time::{Duration, Instant};

/// The DSN's inputs.
#[derive(Debug, Clone)]
pub struct Dsn<'a> {
    /// The bounce address (the test message's Return-Path).
    pub to: &'a str,
    /// The seed address reported as failed.
    pub failed_recipient: &'a str,
    /// This host, as the Reporting-MTA.
    pub reporting_mta: &'a str,
    /// The test message's header block.
    pub original_headers: &'a [u8],
    pub date: chrono::DateTime<chrono::Utc>,
}

fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut prev = 0u8;
    for &b in text {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

impl Dsn<'_> {
    pub fn build(&self) -> Vec<u8> {
        let date = self.date.to_rfc2822();
        let stamp = self.date.timestamp_micros();
        let boundary = format!("maestro-smoketest-{stamp}");
        let mut headers = crlf(self.original_headers);
        while headers.ends_with(b"\r\n") {
            headers.truncate(headers.len() - 2);
        }
        let head = format!(
            "From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n\
To: <{to}>\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Date: {date}\r\n\
Message-ID: <dsn-{stamp}@{mta}>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status;\r\n\
\tboundary=\"{boundary}\"\r\n\
\r\n\
This is a MIME-encapsulated message.\r\n\
\r\n\
--{boundary}\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is a test bounce sent by maestro-smoketest to check that bounces\r\n\
reach LISTSERV Maestro. Your message could not be delivered to\r\n\
<{rcpt}>: 550 5.1.1 user unknown.\r\n\
\r\n\
--{boundary}\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; {mta}\r\n\
Arrival-Date: {date}\r\n\
\r\n\
Final-Recipient: rfc822; {rcpt}\r\n\
Original-Recipient: rfc822; {rcpt}\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\
\r\n\
--{boundary}\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n",
            mta = self.reporting_mta,
            to = self.to,
            rcpt = self.failed_recipient,
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(&headers);
        out.extend_from_slice(format!("\r\n\r\n--{boundary}--\r\n").as_bytes());
        out
    }
}

/// This host's name, for Reporting-MTA.
pub fn hostname() -> String {
    let name = maestro_common::platform::host_name().unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        "localhost".to_string()
    } else {
        name
    }
}

/// The SMTP server's answer to the whole transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpOutcome {
    pub code: u16,
    pub reply: String,
    /// The command the reply answered: `the end of DATA` when all went through.
    pub answered: &'static str,
    pub elapsed: Duration,
}

/// What a whole SMTP session may read: a greeting, an EHLO list and a few
/// one-line replies are a few KiB; a server sending more is refused.
const SESSION_LIMIT: u64 = 1024 * 1024;

/// `data` with every line starting with `.` doubled (RFC 5321 4.5.2),
/// CRLF line ends, and the closing `.` line.
fn dot_stuffed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in crlf(data).split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn code_of(r: &Response) -> u16 {
    r.code().to_string().parse().unwrap_or(0)
}

/// Send `data` with the null sender `<>` to `to` through `host:port`
/// (plain SMTP, as one MTA bounces to another), the whole session within
/// `timeout`. Ok: the server's reply to the end of DATA, or its first
/// negative reply and the command it answered. Err: what went wrong
/// before a reply (the network, a timeout, an unreadable reply).
pub fn send(
    host: &str,
    port: u16,
    to: &str,
    data: &[u8],
    timeout: Duration,
) -> Result<SmtpOutcome, String> {
    let started = Instant::now();
    let rcpt: Address = to
        .parse()
        .map_err(|e| format!("the bounce address {to:?} is not an address: {e}"))?;
    let tcp = crate::connect::connect(host, port, timeout)?;
    let left = timeout.saturating_sub(started.elapsed());
    let mut s =
        SmtpSession::new(tcp, StepLimits::new(left, SESSION_LIMIT)).map_err(|e| e.to_string())?;
    let outcome = |r: &Response, answered: &'static str| SmtpOutcome {
        code: code_of(r),
        reply: r.message().collect::<Vec<_>>().join(" "),
        answered,
        elapsed: started.elapsed(),
    };
    let greeting = s.reply()?;
    if !greeting.is_positive() {
        return Ok(outcome(&greeting, "the connection (greeting)"));
    }
    let ehlo = s.command(Ehlo::new(ClientId::Domain(hostname())))?;
    if !ehlo.is_positive() {
        return Ok(outcome(&ehlo, "EHLO"));
    }
    let mut params = Vec::new();
    if !data.is_ascii()
        && ServerInfo::from_response(&ehlo)
            .is_ok_and(|i| i.supports_feature(Extension::EightBitMime))
    {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    for (command, name) in [
        (Mail::new(None, params).to_string(), "MAIL FROM:<>"),
        (Rcpt::new(rcpt, vec![]).to_string(), "RCPT TO"),
        (Data.to_string(), "DATA"),
    ] {
        let r = s.command(command)?;
        if !r.is_positive() {
            return Ok(outcome(&r, name));
        }
    }
    s.send(&dot_stuffed(data))?;
    let done = s.reply()?;
    let result = outcome(&done, "the end of DATA");
    // Good manners; the answer does not change the outcome.
    let _ = s.command(Quit);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    #[test]
    fn the_dsn_is_an_rfc3464_report_with_status_511() {
        let dsn = Dsn {
            to: "bounce-7-1@maestro.example.org",
            failed_recipient: "seed@seed.test",
            reporting_mta: "failover.example.org",
            original_headers: b"Subject: test\nReturn-Path: <bounce-7-1@maestro.example.org>\n\n",
            date: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
        .build();
        let text = String::from_utf8(dsn.clone()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        let m = MessageParser::default().parse(&dsn).unwrap();
        let root = m.root_part();
        assert!(root.is_content_type("multipart", "report"));
        let ct = root.content_type().unwrap();
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let parts: Vec<String> = m
            .parts
            .iter()
            .skip(1)
            .map(|p| {
                let c = p.content_type().unwrap();
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
        assert!(text.contains("Status: 5.1.1\r\n"));
        assert!(text.contains("Final-Recipient: rfc822; seed@seed.test\r\n"));
        assert!(text.contains("Action: failed\r\n"));
        assert!(text.contains("Subject: test\r\nReturn-Path: <bounce-7-1@maestro.example.org>\r\n\r\n--maestro-smoketest-"));
    }
}
