//! HTTP with ureq: the trigger, the tracker links and the report export.
//! Redirects are never followed (a tracker answers with one, and that
//! answer is what is checked), and every request is bounded.

use maestro_common::secret::Secret;
use std::time::{Duration, Instant};

/// The start of a body that is kept: a report export or an error page is
/// far smaller; the rest is not read.
pub const BODY_LIMIT: u64 = 1024 * 1024;

/// What an HTTP request answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub elapsed: Duration,
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("maestro-smoketest/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
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
    let started = Instant::now();
    let mut req = agent(timeout).get(url);
    if let Some(t) = token {
        req = req.query("token", t.expose());
    }
    let mut resp = req.call().map_err(|e| failure(e, token, timeout))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Only the start of a body is kept (it is for messages and the report),
    // read within what is left of the request's time (ureq's global
    // timeout covers the body too).
    let mut bytes = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(resp.body_mut().as_reader(), BODY_LIMIT),
        &mut bytes,
    );
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(HttpAnswer {
        status,
        location,
        body,
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
