//! Does the SMTP relay Maestro sends through accept mail from this
//! server's address? Relays usually decide by the client's IP (Postfix
//! `mynetworks`, Exchange receive connectors), and a rule naming only the
//! old primary refuses the failover at `RCPT TO` ("Relay access denied").
//!
//! The dialogue is lettre's SMTP commands and reply parser over our own
//! reading: connect, EHLO, `MAIL FROM`, `RCPT TO`, then `RSET` and `QUIT`.
//! It stops before `DATA`, so no mail is ever sent. lettre's own client
//! reads a reply line without a size limit, so a relay sending an endless
//! line would fill the memory; here the whole session reads through
//! [`maestro_common::bounded_io`]: one time bound, [`SESSION_LIMIT`] bytes,
//! and each reply line at most [`REPLY_LINE_LIMIT`].
//!
//! Every address of the relay's name is asked: Maestro may reach any of
//! them, and one that refuses is a failure waiting for its turn. What this
//! cannot see: a relay that accepts every recipient and refuses later (at
//! the end of DATA, in a milter) passes, since the check never sends DATA.

use crate::settings::SmtpSettings;
use lettre::transport::smtp::commands::{Ehlo, Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::Address;
use maestro_common::bounded_io::StepLimits;
use maestro_common::smtp_session::SmtpSession;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// What a whole session may read: a greeting, an EHLO list and a few
/// one-line replies are a few KiB.
pub const SESSION_LIMIT: u64 = 64 * 1024;

/// One reply line's limit (RFC 5321 says 512 octets; Postfix allows 2048).
pub use maestro_common::smtp_session::REPLY_LINE_LIMIT;

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

/// The reply as the server sent it: `554 5.7.1 <x@y>: Relay access denied`.
fn reply_text(r: &Response) -> String {
    format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "))
}

/// A negative reply at `at`, or the next step.
fn expect(at: &'static str, r: Result<Response, String>) -> Result<Response, RelayVerdict> {
    match r {
        Err(e) => Err(RelayVerdict::Failed(format!("{at}: {e}"))),
        Ok(r) if r.is_positive() => Ok(r),
        Ok(r) => {
            let code = r.code().to_string();
            Err(RelayVerdict::Refused {
                at,
                reply: reply_text(&r),
                permanent: code.starts_with('5'),
            })
        }
    }
}

fn dialogue(s: &SmtpSettings, server: SocketAddr, step: Duration, total: Duration) -> RelayVerdict {
    let started = Instant::now();
    let from: Address = match s.from.parse() {
        Ok(a) => a,
        Err(e) => return RelayVerdict::Failed(format!("smtp_from {}: {e}", s.from)),
    };
    let rcpt: Address = match s.rcpt.parse() {
        Ok(a) => a,
        Err(e) => return RelayVerdict::Failed(format!("smtp_rcpt {}: {e}", s.rcpt)),
    };
    let tcp = match TcpStream::connect_timeout(&server, step.min(total)) {
        Ok(t) => t,
        Err(e) => return RelayVerdict::Failed(format!("cannot connect: {e}")),
    };
    let left = total.saturating_sub(started.elapsed());
    let mut session = match SmtpSession::new(tcp, StepLimits::new(left, SESSION_LIMIT)) {
        Ok(session) => session,
        Err(e) => return RelayVerdict::Failed(e.to_string()),
    };
    let run = |session: &mut SmtpSession| -> Result<RelayVerdict, RelayVerdict> {
        expect("the greeting", session.reply())?;
        expect(
            "EHLO",
            session.command(Ehlo::new(ClientId::Domain(s.helo.clone()))),
        )?;
        expect("MAIL FROM", session.command(Mail::new(Some(from), vec![])))?;
        let r = expect("RCPT TO", session.command(Rcpt::new(rcpt, vec![])))?;
        Ok(RelayVerdict::Accepted(reply_text(&r)))
    };
    let verdict = run(&mut session).unwrap_or_else(|v| v);
    // Leave politely, within what is left; nothing was sent either way.
    if !matches!(verdict, RelayVerdict::Failed(_)) {
        let _ = session.command(Rset);
        let _ = session.command(Quit);
    }
    verdict
}

/// The relay dialogue with every address of the relay's name, each
/// bounded by `total` (the lookup by `step`).
pub fn check_relay(
    s: &SmtpSettings,
    step: Duration,
    total: Duration,
) -> Result<Vec<(SocketAddr, RelayVerdict)>, String> {
    let addrs = crate::net::resolve(&s.host, step)?;
    if addrs.is_empty() {
        return Err(format!("{} has no address", s.host));
    }
    let servers: Vec<SocketAddr> = addrs
        .iter()
        .map(|ip| SocketAddr::new(*ip, s.port))
        .collect();
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|server| scope.spawn(move || dialogue(s, *server, step, total)))
            .collect();
        servers
            .iter()
            .zip(handles)
            .map(|(server, h)| {
                (
                    *server,
                    h.join().unwrap_or_else(|_| {
                        RelayVerdict::Failed("the SMTP dialogue failed".into())
                    }),
                )
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn settings(port: u16) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            from: "maestro@example.org".into(),
            rcpt: "probe@example.net".into(),
            helo: "maestro2.example.org".into(),
        }
    }

    #[test]
    fn an_endless_reply_line_is_cut_off_in_bytes_and_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let _ = c.write_all(b"220 ");
                let chunk = [b'A'; 64 * 1024];
                // Until the client goes away.
                while c.write_all(&chunk).is_ok() {}
            }
        });
        let started = Instant::now();
        let v = check_relay(
            &settings(port),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        match &v[0].1 {
            RelayVerdict::Failed(e) => assert!(e.contains("longer than 4096"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relay_that_trickles_is_cut_off_at_the_total() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                for _ in 0..100 {
                    if c.write_all(b"2").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
        let started = Instant::now();
        let v = check_relay(
            &settings(port),
            Duration::from_secs(1),
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(&v[0].1, RelayVerdict::Failed(e) if e.contains("timed out")),
            "{v:?}"
        );
    }
}
