//! LISTSERV's SMTP listener, as far as bounces go: mail for a bounce
//! address the emulator handed out is accepted (and counted when it is a
//! permanent DSN); mail for any other local part is rejected with 550.
//! Plain SMTP (RFC 5321) with HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

use crate::Shared;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bound on one message, as a real listener has.
const MAX_MESSAGE: usize = 10 << 20;

pub(crate) fn spawn(listener: TcpListener, shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    Ok(std::thread::spawn(move || {
        while !shared.stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        let _ = session(stream, &shared);
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }))
}

fn address(arg: &str) -> Option<String> {
    let a = arg.find('<')?;
    let b = arg[a..].find('>')? + a;
    Some(arg[a + 1..b].trim().to_string())
}

/// Whether a DSN reports a permanent failure (what Maestro records).
fn is_permanent_dsn(data: &str) -> bool {
    let lower = data.to_ascii_lowercase();
    lower.contains("multipart/report")
        && lower.contains("delivery-status")
        && lower.lines().any(|l| {
            l.trim_start().starts_with("status:")
                && l.split(':')
                    .nth(1)
                    .is_some_and(|v| v.trim().starts_with('5'))
        })
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let domain = shared.config.bounce_domain.clone();
    writeln!(out, "220 {domain} ESMTP LISTSERV (Maestro emulator)\r")?;
    let mut rcpts: Vec<String> = Vec::new();
    let mut mail_from = false;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        let upper = cmd.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply = match verb {
            "EHLO" => format!("250-{domain}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"),
            "HELO" => format!("250 {domain}"),
            "NOOP" => "250 2.0.0 OK".into(),
            "RSET" => {
                rcpts.clear();
                mail_from = false;
                "250 2.0.0 OK".into()
            }
            "QUIT" => {
                writeln!(out, "221 2.0.0 Bye\r")?;
                return Ok(());
            }
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                mail_from = true;
                rcpts.clear();
                "250 2.1.0 OK".into()
            }
            "RCPT" if upper.starts_with("RCPT TO:") => match address(cmd) {
                _ if !mail_from => "503 5.5.1 MAIL first".into(),
                Some(a)
                    if shared
                        .state()
                        .bounce_addresses
                        .contains(&a.to_ascii_lowercase()) =>
                {
                    rcpts.push(a);
                    "250 2.1.5 OK".into()
                }
                Some(a) => format!("550 5.1.1 <{a}>: no such bounce address or list here"),
                None => "501 5.1.3 bad address".into(),
            },
            "DATA" if rcpts.is_empty() => "503 5.5.1 RCPT first".into(),
            "DATA" => {
                writeln!(out, "354 End data with <CR><LF>.<CR><LF>\r")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line.trim_end_matches(['\r', '\n']) == "." {
                        break;
                    }
                    if data.len() < MAX_MESSAGE {
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                }
                if is_permanent_dsn(&data) {
                    shared.state().counts.bounces += rcpts.len() as u64;
                    shared.log_info(
                        "com.lsoft.maestro.bounce.BounceProcessor",
                        &format!("Permanent bounce received for {}", rcpts.join(", ")),
                    );
                }
                rcpts.clear();
                mail_from = false;
                "250 2.0.0 OK: queued".into()
            }
            _ => "500 5.5.2 command not recognized".into(),
        };
        for l in reply.split("\r\n") {
            writeln!(out, "{l}\r")?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_dsns_are_told_from_other_mail() {
        let dsn = "Content-Type: multipart/report; report-type=delivery-status;\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n";
        assert!(is_permanent_dsn(dsn));
        assert!(!is_permanent_dsn(&dsn.replace("5.1.1", "4.2.2")));
        assert!(!is_permanent_dsn("Subject: hello\r\n\r\nStatus: 5.1.1\r\n"));
        assert_eq!(
            address("TO:<Bounce-1-1@x>").as_deref(),
            Some("Bounce-1-1@x")
        );
    }
}
