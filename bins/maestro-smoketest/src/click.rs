//! Requesting the tracker links: each must answer a redirect (3xx) whose
//! Location is an expected target. The redirect is not followed: where it
//! points is the answer, and the target site is not under test.

use crate::http;
use crate::message::url_authority;
use maestro_common::Status;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct LinkOutcome {
    pub link: String,
    pub status: Status,
    /// What was seen: "302 to https://...", "HTTP 404", "connection refused".
    pub seen: String,
    pub message: String,
    pub location: Option<String>,
    pub elapsed: Option<Duration>,
}

/// Whether a link points at the configured tracker (`HOST` or `HOST:PORT`).
pub fn on_tracker(link: &str, tracker: Option<&str>) -> bool {
    let Some(t) = tracker else { return true };
    let Some(a) = url_authority(link) else {
        return false;
    };
    let t = t.to_ascii_lowercase();
    let a = a.to_ascii_lowercase();
    if t.contains(':') && !t.starts_with('[')
        || t.ends_with(']') && t.starts_with('[') && t.contains("]:")
    {
        a == t
    } else {
        a == t
            || a.rsplit_once(':')
                .is_some_and(|(h, p)| h == t && p.chars().all(|c| c.is_ascii_digit()))
    }
}

/// A target matches when equal, ignoring a trailing slash.
fn same_target(location: &str, expected: &str) -> bool {
    location.trim_end_matches('/') == expected.trim_end_matches('/')
}

/// Request `link` and judge its answer. With `pinned`, only those addresses
/// are connected to (the ones the DNS check judged), not what the name
/// resolves to at the time of the click.
pub fn click(
    link: &str,
    expect: &[String],
    timeout: Duration,
    pinned: Option<&[IpAddr]>,
) -> LinkOutcome {
    let ref_ = link
        .split_once("ref=")
        .map(|(_, r)| r.trim_end_matches('&'))
        .unwrap_or(link);
    let out = |status, seen: String, message: String, location, elapsed| LinkOutcome {
        link: link.to_string(),
        status,
        seen,
        message,
        location,
        elapsed,
    };
    let a = match http::get_from(link, None, timeout, pinned) {
        Ok(a) => a,
        Err(e) => {
            return out(
                Status::Critical,
                e.clone(),
                format!("tracker link ref={ref_}: no HTTP answer from {link}: {e} (tracker down?)"),
                None,
                None,
            )
        }
    };
    let seen = match &a.location {
        Some(l) => format!("HTTP {} to {l}", a.status),
        None => format!("HTTP {}", a.status),
    };
    if !(300..400).contains(&a.status) {
        return out(
            Status::Critical,
            seen.clone(),
            format!(
                "tracker link ref={ref_}: {seen} ({}), expected a redirect",
                http::snippet(&a.body)
            ),
            a.location,
            Some(a.elapsed),
        );
    }
    let Some(location) = a.location.clone() else {
        return out(
            Status::Critical,
            seen,
            format!(
                "tracker link ref={ref_}: HTTP {} without a Location",
                a.status
            ),
            None,
            Some(a.elapsed),
        );
    };
    if expect.is_empty() {
        return out(
            Status::Warning,
            seen,
            format!("tracker link ref={ref_} redirects to {location} (not compared: give --expect-target)"),
            Some(location),
            Some(a.elapsed),
        );
    }
    if expect.iter().any(|e| same_target(&location, e)) {
        out(
            Status::Ok,
            seen,
            format!("tracker link ref={ref_} redirects to {location}"),
            Some(location),
            Some(a.elapsed),
        )
    } else {
        out(
            Status::Critical,
            seen,
            format!(
                "tracker link ref={ref_} redirects to the wrong place: {location}, expected {}",
                expect.join(" or ")
            ),
            Some(location),
            Some(a.elapsed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_host_filter() {
        let l = "http://trk.example.org:8080/trk/click?ref=1&";
        assert!(on_tracker(l, None));
        assert!(on_tracker(l, Some("trk.example.org")));
        assert!(on_tracker(l, Some("TRK.example.org:8080")));
        assert!(!on_tracker(l, Some("trk.example.org:80")));
        assert!(!on_tracker(l, Some("other.example.org")));
        assert!(same_target("https://a.example/", "https://a.example"));
    }

    #[test]
    fn nothing_listening_is_critical_and_says_so() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let o = click(
            &format!("http://127.0.0.1:{port}/trk/click?ref=1&"),
            &[],
            Duration::from_secs(2),
            None,
        );
        assert_eq!(o.status, Status::Critical);
        assert!(
            o.message.contains("ref=1") && o.message.contains("no HTTP answer"),
            "{}",
            o.message
        );
    }
}
