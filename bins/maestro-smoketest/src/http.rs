//! HTTP with ureq: the trigger, the tracker links and the report export.
//! Redirects are never followed (a tracker answers with one, and that
//! answer is what is checked), and every request is bounded.

use maestro_common::secret::Secret;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// The start of a body that is kept: a report export or an error page is
/// far smaller; the rest is not read.
pub const BODY_LIMIT: u64 = 1024 * 1024;

/// What an HTTP request answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    /// The body was longer than [`BODY_LIMIT`]: `body` is its start only.
    pub body_cut: bool,
    pub elapsed: Duration,
}

/// The configuration every request uses. No proxy, whatever the
/// environment says (ureq reads `http_proxy`, `HTTPS_PROXY`, `ALL_PROXY`
/// by default): a proxy answering for a host that is down would make
/// every check pass.
fn config(timeout: Duration) -> ureq::config::Config {
    ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("maestro-smoketest/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Connects only to the addresses given, whatever the URL's host name
/// resolves to now: a click goes where the DNS check looked.
#[derive(Debug)]
struct PinnedResolver(Vec<IpAddr>);

impl Resolver for PinnedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let port = uri
            .port_u16()
            .or(match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })
            .ok_or(ureq::Error::HostNotFound)?;
        let mut out = self.empty();
        // ureq keeps at most 16 addresses.
        for ip in self.0.iter().take(16) {
            out.push(SocketAddr::new(*ip, port));
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

fn agent(timeout: Duration, pinned: Option<&[IpAddr]>) -> ureq::Agent {
    match pinned {
        None => config(timeout).into(),
        Some(addrs) => ureq::Agent::with_parts(
            config(timeout),
            DefaultConnector::default(),
            PinnedResolver(addrs.to_vec()),
        ),
    }
}

/// The request failed before an HTTP answer: say what the network did,
/// with the secret blanked out should the library quote the URL.
fn failure(e: ureq::Error, secret: Option<&Secret>, timeout: Duration) -> String {
    let text = match &e {
        ureq::Error::Timeout(_) => {
            format!(
                "timed out after {}",
                maestro_common::bounded_io::seconds_text(timeout)
            )
        }
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    match secret {
        Some(s) => text.replace(s.expose(), "***"),
        None => text,
    }
}

/// GET `url` (plus `token=` when given), without following redirects.
pub fn get(url: &str, token: Option<&Secret>, timeout: Duration) -> Result<HttpAnswer, String> {
    get_from(url, token, timeout, None)
}

/// GET `url` as [`get`], connecting only to `pinned` when given (not to
/// what the host name resolves to at the time of the request).
pub fn get_from(
    url: &str,
    token: Option<&Secret>,
    timeout: Duration,
    pinned: Option<&[IpAddr]>,
) -> Result<HttpAnswer, String> {
    let started = Instant::now();
    let mut req = agent(timeout, pinned).get(url);
    if let Some(t) = token {
        req = req.query("token", t.expose());
    }
    let mut resp = req.call().map_err(|e| failure(e, token, timeout))?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header("location");
    let declared: Option<u64> = header("content-length").and_then(|v| v.trim().parse().ok());
    // Only the start of a body is kept (it is for messages and the report),
    // read within what is left of the request's time (ureq's global
    // timeout covers the body too). A body that stops short, by a timeout
    // or a closed connection, is a failed request: a cut report export
    // would read as a smaller count.
    let mut bytes = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(BODY_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::TimedOut => {
                    format!(
                        "timed out after {}",
                        maestro_common::bounded_io::seconds_text(timeout)
                    )
                }
                _ => e.to_string(),
            };
            format!(
                "HTTP {status}, but the body stopped after {} bytes: {why}",
                bytes.len()
            )
        })?;
    let body_cut = bytes.len() as u64 > BODY_LIMIT;
    bytes.truncate(BODY_LIMIT as usize);
    if let Some(n) = declared {
        if !body_cut && bytes.len() as u64 != n {
            return Err(format!(
                "HTTP {status}, but the body has {} bytes where Content-Length says {n}",
                bytes.len()
            ));
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(HttpAnswer {
        status,
        location,
        body,
        body_cut,
        elapsed: started.elapsed(),
    })
}

/// The first line of a body, shortened, for a message.
pub fn snippet(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_pinned_request_connects_to_the_addresses_given_not_to_the_name() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let _ = s.read(&mut [0u8; 4096]);
            s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: https://t.example/\r\nContent-Length: 0\r\n\r\n",
            )
            .unwrap();
        });
        // The name does not resolve at all: only the pin can reach the server.
        let url = format!("http://tracker.invalid:{port}/trk/click?ref=1&");
        let pin = ["127.0.0.1".parse().unwrap()];
        let a = get_from(&url, None, Duration::from_secs(2), Some(&pin)).unwrap();
        server.join().unwrap();
        assert_eq!(a.status, 302);
        assert_eq!(a.location.as_deref(), Some("https://t.example/"));
        assert!(get(&url, None, Duration::from_secs(2)).is_err());
    }
}
