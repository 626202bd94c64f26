//! Probes of the primary: TCP connect, HTTP GET and ICMP ping, each bounded
//! by its timeout. Every probe gives one of three answers: the primary
//! answered (up), it did not (down), or the probe itself could not be run
//! (error). Only "down" is evidence of an outage; an error never is.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What to probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProbeSpec {
    Tcp { host: String, port: u16 },
    Http { url: String, expect: Vec<u16> },
    Icmp { host: String },
}

impl ProbeSpec {
    /// A stable name for messages, perfdata labels and witness matching.
    pub fn name(&self) -> String {
        match self {
            ProbeSpec::Tcp { host, port } => format!("tcp {host}:{port}"),
            ProbeSpec::Http { url, .. } => format!("http {url}"),
            ProbeSpec::Icmp { host } => format!("icmp {host}"),
        }
    }

    pub fn is_icmp(&self) -> bool {
        matches!(self, ProbeSpec::Icmp { .. })
    }
}

/// The three answers a probe can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeState {
    Up,
    Down,
    /// The probe could not be run (no `ping` binary, a malformed URL, DNS
    /// failure of our own resolver): no evidence either way.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    pub name: String,
    pub spec: ProbeSpec,
    pub state: ProbeState,
    /// What was seen: "connected", "connection refused", "HTTP 503", ...
    pub detail: String,
    pub elapsed_ms: f64,
}

/// Run all probes at once, each on its own thread, and wait at most
/// `timeout` plus a small margin for all of them. A probe that has not
/// answered by then counts as down ("no answer").
pub fn run_all(specs: &[ProbeSpec], timeout: Duration) -> Vec<ProbeOutcome> {
    let (tx, rx) = mpsc::channel();
    for (i, spec) in specs.iter().enumerate() {
        let tx = tx.clone();
        let spec = spec.clone();
        thread::spawn(move || {
            let _ = tx.send((i, run_one(&spec, timeout)));
        });
    }
    drop(tx);
    let mut results: Vec<Option<ProbeOutcome>> = vec![None; specs.len()];
    let deadline = Instant::now() + timeout + Duration::from_millis(500);
    while results.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, outcome)) => results[i] = Some(outcome),
            Err(_) => break,
        }
    }
    results
        .into_iter()
        .zip(specs)
        .map(|(r, spec)| {
            r.unwrap_or_else(|| ProbeOutcome {
                name: spec.name(),
                spec: spec.clone(),
                state: ProbeState::Down,
                detail: format!("no answer within {}", seconds_text(timeout)),
                elapsed_ms: timeout.as_secs_f64() * 1e3,
            })
        })
        .collect()
}

fn seconds_text(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

pub fn run_one(spec: &ProbeSpec, timeout: Duration) -> ProbeOutcome {
    let started = Instant::now();
    let (state, detail) = match spec {
        ProbeSpec::Tcp { host, port } => tcp(host, *port, timeout),
        ProbeSpec::Http { url, expect } => http(url, expect, timeout),
        ProbeSpec::Icmp { host } => icmp(host, timeout),
    };
    ProbeOutcome {
        name: spec.name(),
        spec: spec.clone(),
        state,
        detail,
        elapsed_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    }
}

/// Resolve `host:port` within `timeout`; a name that does not resolve (or
/// not in time) is our problem, not evidence that the primary is down.
fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    maestro_common::net::resolve(host, timeout)
        .map(|ips| {
            ips.into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        })
        .map_err(|e| e.to_string())
}

fn tcp(host: &str, port: u16, timeout: Duration) -> (ProbeState, String) {
    let started = Instant::now();
    let addrs = match resolve(host, port, timeout) {
        Ok(a) => a,
        Err(e) => return (ProbeState::Error, e),
    };
    let left = timeout.saturating_sub(started.elapsed());
    if left.is_zero() {
        // Our resolver was slow, not the primary: no evidence either way.
        return (
            ProbeState::Error,
            format!(
                "looking up {host} took the probe's whole {}",
                seconds_text(timeout)
            ),
        );
    }
    connect_any(&addrs, left)
}

/// Connect to every address at once, each within what is left of the
/// probe's time: the first that connects makes the probe up.
fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> (ProbeState, String) {
    use maestro_common::net::ConnectError;
    match maestro_common::net::connect_any(addrs, timeout) {
        Ok((_, addr)) => (ProbeState::Up, format!("connected to {addr}")),
        Err(ConnectError::TimedOut { .. }) => (
            ProbeState::Down,
            format!("no answer within {}", seconds_text(timeout)),
        ),
        Err(ConnectError::Failed { error, .. }) if addrs.len() <= 1 => {
            (ProbeState::Down, error.to_string())
        }
        Err(ConnectError::Failed { addr, error }) => (ProbeState::Down, format!("{addr}: {error}")),
    }
}

fn http(url: &str, expect: &[u16], timeout: Duration) -> (ProbeState, String) {
    // No proxy, whatever the environment says (ureq honours http_proxy and
    // its kin by default): a proxy that answers would read as the primary.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(url).call() {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let up = if expect.is_empty() {
                (200..400).contains(&code)
            } else {
                expect.contains(&code)
            };
            let state = if up { ProbeState::Up } else { ProbeState::Down };
            (state, format!("HTTP {code}"))
        }
        // What the network or the server did is evidence; a URL or a
        // setting of ours that is wrong is not.
        Err(e) => match e {
            ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::Rustls(_)
            | ureq::Error::BodyStalled => (ProbeState::Down, e.to_string()),
            other => (ProbeState::Error, other.to_string()),
        },
    }
}

/// One echo request through the system `ping`, which has the privileges
/// raw ICMP needs. Its exit code 1 means no reply; anything else is an error.
#[cfg(unix)]
fn icmp(host: &str, timeout: Duration) -> (ProbeState, String) {
    use std::process::{Command, Stdio};
    let wait = timeout.as_secs().max(1).to_string();
    let child = Command::new("ping")
        .args(["-n", "-q", "-c", "1", "-W", &wait, host])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return (ProbeState::Error, format!("cannot run ping: {e}")),
    };
    match wait_bounded(child, timeout + Duration::from_secs(1)) {
        Some(out) => match out.status.code() {
            Some(0) => (ProbeState::Up, "echo reply".into()),
            Some(1) => (ProbeState::Down, "no echo reply".into()),
            _ => (
                ProbeState::Error,
                format!(
                    "ping failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ),
        },
        None => (ProbeState::Down, "ping did not finish".into()),
    }
}

/// One echo request through Windows' ICMP API (`IcmpSendEcho2`): the
/// system `ping` exits 0 there on "destination host unreachable", so its
/// exit code says nothing. Up only on an echo reply with success from the
/// address asked. IPv4 only: a name with only IPv6 addresses is an error
/// (no evidence), as is a failure of the API on this side.
#[cfg(windows)]
fn icmp(host: &str, timeout: Duration) -> (ProbeState, String) {
    use maestro_common::platform::{icmp_echo, IcmpEcho};
    use std::net::IpAddr;
    let started = Instant::now();
    let ips = match maestro_common::net::resolve(host, timeout) {
        Ok(ips) => ips,
        Err(e) => return (ProbeState::Error, e.to_string()),
    };
    let Some(dest) = ips.iter().find_map(|ip| match ip {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    }) else {
        return (
            ProbeState::Error,
            format!("{host} has no IPv4 address; ICMPv6 probes are not built on Windows"),
        );
    };
    let left = timeout.saturating_sub(started.elapsed());
    if left.is_zero() {
        return (
            ProbeState::Error,
            format!(
                "looking up {host} took the probe's whole {}",
                seconds_text(timeout)
            ),
        );
    }
    match icmp_echo(dest, left) {
        Ok(IcmpEcho::Reply { from, rtt_ms }) => (
            ProbeState::Up,
            format!("echo reply from {from} in {rtt_ms} ms"),
        ),
        Ok(IcmpEcho::NoReply(why)) => (ProbeState::Down, format!("{dest}: {why}")),
        Err(e) => (ProbeState::Error, format!("cannot send an ICMP echo: {e}")),
    }
}

/// Wait for a child with a bound; kill it when the bound passes.
pub fn wait_bounded(
    mut child: std::process::Child,
    bound: Duration,
) -> Option<std::process::Output> {
    let deadline = Instant::now() + bound;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn tcp_up_and_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let up = run_one(
            &ProbeSpec::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            Duration::from_secs(1),
        );
        assert_eq!(up.state, ProbeState::Up, "{up:?}");
        drop(l);
        let down = run_one(
            &ProbeSpec::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            Duration::from_secs(1),
        );
        assert_eq!(down.state, ProbeState::Down, "{down:?}");
        assert!(down.detail.contains("refused"), "{}", down.detail);
    }

    /// Windows: the ICMP API answers an echo to loopback (also under Wine),
    /// and the answer is checked to come from the address asked.
    #[test]
    #[cfg(windows)]
    fn an_icmp_echo_to_loopback_is_answered() {
        let r = run_one(
            &ProbeSpec::Icmp {
                host: "127.0.0.1".into(),
            },
            Duration::from_secs(5),
        );
        assert_eq!(r.state, ProbeState::Up, "{r:?}");
        assert!(r.detail.contains("echo reply from 127.0.0.1"), "{r:?}");
    }

    #[test]
    fn unresolvable_names_are_errors_not_outages() {
        let r = run_one(
            &ProbeSpec::Tcp {
                host: "no-such-host.invalid".into(),
                port: 80,
            },
            Duration::from_secs(2),
        );
        assert_eq!(r.state, ProbeState::Error, "{r:?}");
        let r = run_one(
            &ProbeSpec::Http {
                url: "not a url".into(),
                expect: vec![],
            },
            Duration::from_secs(1),
        );
        assert_eq!(r.state, ProbeState::Error, "{r:?}");
    }

    #[test]
    fn http_status_decides_and_redirects_are_not_followed() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            use std::io::{Read, Write};
            for reply in [
                "HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            ] {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                s.write_all(reply.as_bytes()).unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/lui/");
        let r = run_one(
            &ProbeSpec::Http {
                url: url.clone(),
                expect: vec![],
            },
            Duration::from_secs(2),
        );
        assert_eq!((r.state, r.detail.as_str()), (ProbeState::Up, "HTTP 302"));
        let r = run_one(
            &ProbeSpec::Http {
                url,
                expect: vec![],
            },
            Duration::from_secs(2),
        );
        assert_eq!((r.state, r.detail.as_str()), (ProbeState::Down, "HTTP 503"));
        server.join().unwrap();
    }

    #[test]
    fn a_silent_server_is_down_within_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let started = Instant::now();
        let r = run_all(
            &[ProbeSpec::Http {
                url: format!("http://127.0.0.1:{port}/"),
                expect: vec![],
            }],
            Duration::from_millis(500),
        );
        assert_eq!(r[0].state, ProbeState::Down, "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(l);
    }

    #[test]
    fn an_endless_body_or_header_is_not_read() {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicU64, Ordering};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let sent = std::sync::Arc::new(AtomicU64::new(0));
        let counted = sent.clone();
        let server = thread::spawn(move || {
            for head in [
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-Endless: ",
            ] {
                let (mut s, _) = l.accept().unwrap();
                let _ = s.read(&mut [0u8; 1024]);
                s.write_all(head.as_bytes()).unwrap();
                let chunk = [b'x'; 65536];
                while counted.load(Ordering::SeqCst) < 1 << 30 {
                    match s.write(&chunk) {
                        Ok(n) => counted.fetch_add(n as u64, Ordering::SeqCst),
                        Err(_) => break,
                    };
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}/lui/");
        let started = Instant::now();
        let body = run_one(
            &ProbeSpec::Http {
                url: url.clone(),
                expect: vec![],
            },
            Duration::from_secs(2),
        );
        assert_eq!(body.state, ProbeState::Up, "{body:?}");
        let header = run_one(
            &ProbeSpec::Http {
                url,
                expect: vec![],
            },
            Duration::from_secs(2),
        );
        // Not evidence either way: the server answered, but not HTTP as a
        // Maestro speaks it.
        assert_eq!(header.state, ProbeState::Error, "{header:?}");
        assert!(header.detail.contains("too big"), "{header:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        server.join().unwrap();
        assert!(
            sent.load(Ordering::SeqCst) < 64 << 20,
            "{} bytes read",
            sent.load(Ordering::SeqCst)
        );
    }
}
