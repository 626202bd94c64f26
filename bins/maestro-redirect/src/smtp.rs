//! Does the SMTP relay Maestro sends through accept mail from this
//! server's address? Relays usually decide by the client's IP (Postfix
//! `mynetworks`, Exchange receive connectors), and a rule naming only the
//! old primary refuses the failover at `RCPT TO` ("Relay access denied").
//!
//! The dialogue is lettre's SMTP client at the command level: connect,
//! EHLO, `MAIL FROM`, `RCPT TO`, then `RSET` and `QUIT`. It stops before
//! `DATA`, so no mail is ever sent. lettre's high-level transport always
//! goes on to DATA, hence the command level. The whole dialogue runs on a
//! thread bounded as one, since a relay that trickles its replies would
//! otherwise get a timeout for every read.

use crate::settings::SmtpSettings;
use lettre::transport::smtp::client::SmtpConnection;
use lettre::transport::smtp::commands::{Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

/// How far the relay let us go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayVerdict {
    /// It accepted the recipient: its reply.
    Accepted(String),
    /// It refused: at which command, and its reply quoted.
    Refused {
        at: &'static str,
        reply: String,
        permanent: bool,
    },
    /// It could not be reached or spoke no SMTP.
    Failed(String),
}

/// The source address the kernel picks to reach `target` (no packet is sent).
pub fn source_address(target: SocketAddr) -> Option<IpAddr> {
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(target).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// The server's reply as it sent it, `554 5.7.1 <x@y>: Relay access denied`
/// (lettre's text of the error is `permanent error (554): ...`).
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    match (e.status(), std::error::Error::source(e)) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        _ => e.to_string(),
    }
}

fn refused(at: &'static str, e: &lettre::transport::smtp::Error) -> RelayVerdict {
    let reply = reply_text(e);
    if e.is_permanent() || e.is_transient() {
        RelayVerdict::Refused {
            at,
            reply,
            permanent: e.is_permanent(),
        }
    } else {
        RelayVerdict::Failed(format!("{at}: {reply}"))
    }
}

fn dialogue(s: &SmtpSettings, server: SocketAddr, step: Duration) -> RelayVerdict {
    let from: Address = match s.from.parse() {
        Ok(a) => a,
        Err(e) => return RelayVerdict::Failed(format!("smtp_from {}: {e}", s.from)),
    };
    let rcpt: Address = match s.rcpt.parse() {
        Ok(a) => a,
        Err(e) => return RelayVerdict::Failed(format!("smtp_rcpt {}: {e}", s.rcpt)),
    };
    let hello = ClientId::Domain(s.helo.clone());
    let mut conn = match SmtpConnection::connect(server, Some(step), &hello, None, None) {
        Ok(c) => c,
        Err(e) => return refused("the greeting or EHLO", &e),
    };
    let verdict = match conn.command(Mail::new(Some(from), vec![])) {
        Err(e) => refused("MAIL FROM", &e),
        Ok(_) => match conn.command(Rcpt::new(rcpt, vec![])) {
            Err(e) => refused("RCPT TO", &e),
            Ok(r) => RelayVerdict::Accepted(format!(
                "{} {}",
                r.code(),
                r.message().collect::<Vec<_>>().join(" ")
            )),
        },
    };
    // Leave politely; nothing was sent either way.
    let _ = conn.command(Rset);
    let _ = conn.command(Quit);
    verdict
}

/// The relay dialogue, bounded as a whole by `total`.
pub fn check_relay(
    s: &SmtpSettings,
    step: Duration,
    total: Duration,
) -> (Option<SocketAddr>, RelayVerdict) {
    let addrs = match crate::net::resolve(&s.host, step) {
        Ok(a) => a,
        Err(e) => return (None, RelayVerdict::Failed(e)),
    };
    let Some(ip) = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.iter().next())
        .copied()
    else {
        return (
            None,
            RelayVerdict::Failed(format!("{} has no address", s.host)),
        );
    };
    let server = SocketAddr::new(ip, s.port);
    let (tx, rx) = mpsc::channel();
    let settings = s.clone();
    std::thread::spawn(move || {
        let _ = tx.send(dialogue(&settings, server, step));
    });
    let verdict = rx.recv_timeout(total).unwrap_or_else(|_| {
        RelayVerdict::Failed(format!(
            "the SMTP dialogue with {server} did not end within {}",
            crate::human(total)
        ))
    });
    (Some(server), verdict)
}
