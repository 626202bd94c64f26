//! The web server: the LUI's trigger and export URL, and the tracker.

use crate::{mailing, Shared};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tiny_http::{Header, Request, Response, Server};

pub(crate) fn spawn(server: Server, shared: Arc<Shared>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !shared.stop.load(Ordering::SeqCst) {
            match server.recv_timeout(Duration::from_millis(50)) {
                Ok(Some(req)) => {
                    let shared = shared.clone();
                    // One thread a request: the trigger sends mail, which takes a moment.
                    std::thread::spawn(move || handle(req, &shared));
                }
                Ok(None) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    })
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// An error page like a servlet container's.
fn page(status: u16, title: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(format!(
        "<html><head><title>{status} {title}</title></head><body><h1>HTTP Status {status} - {title}</h1></body></html>\n"
    ))
    .with_status_code(status)
    .with_header(header("Content-Type", "text/html; charset=utf-8"))
}

fn handle(req: Request, shared: &Shared) {
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("");
    let response =
        if req.method() != &tiny_http::Method::Get && req.method() != &tiny_http::Method::Head {
            page(405, "Method Not Allowed")
        } else {
            match path {
            "/lui/externalAction.do" => external_action(&url, shared),
            "/trk/click" => click(&url, shared),
            // The LUI's start page, which a monitor may request.
            "/lui" | "/lui/" => Response::from_string(
                "<html><head><title>LISTSERV Maestro</title></head><body>Log in</body></html>\n",
            )
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
            _ => page(404, "Not Found"),
        }
        };
    let _ = req.respond(response);
}

fn external_action(url: &str, shared: &Shared) -> Response<std::io::Cursor<Vec<u8>>> {
    let Some(token) = query_param(url, "token").filter(|t| !t.is_empty()) else {
        return page(400, "Bad Request");
    };
    if token == shared.config.trigger_token {
        return match mailing::send_job(shared) {
            Ok(job) => Response::from_string(format!(
                "<html><body>Job {job} was triggered and is being delivered.</body></html>\n"
            ))
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
            Err(e) => Response::from_string(format!(
                "<html><body><h1>HTTP Status 500 - Internal Server Error</h1><p>The job could not be delivered: {e}</p></body></html>\n"
            ))
            .with_status_code(500)
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
        };
    }
    if shared.config.report_token.as_deref() == Some(token.as_str()) {
        let c = shared.state().counts;
        return if query_param(url, "format").as_deref() == Some("csv") {
            Response::from_string(format!(
                "jobs,sent,clicks,bounces\r\n{},{},{},{}\r\n",
                c.jobs, c.sent, c.clicks, c.bounces
            ))
            .with_header(header("Content-Type", "text/csv; charset=utf-8"))
        } else {
            let body = serde_json::json!({"jobs": c.jobs, "sent": c.sent, "clicks": c.clicks, "bounces": c.bounces});
            Response::from_string(format!("{body}\n"))
                .with_header(header("Content-Type", "application/json"))
        };
    }
    page(403, "Forbidden")
}

fn click(url: &str, shared: &Shared) -> Response<std::io::Cursor<Vec<u8>>> {
    let Some(r) = query_param(url, "ref").filter(|r| !r.is_empty()) else {
        return page(400, "Bad Request");
    };
    let target = {
        let mut st = shared.state();
        let t = st.refs.get(&r).cloned();
        if t.is_some() {
            st.counts.clicks += 1;
        }
        t
    };
    if let Some(t) = &target {
        shared.log_info(
            "com.lsoft.maestro.tracker.ClickServlet",
            &format!("Click on {r} redirected to {t}"),
        );
    }
    match target {
        Some(t) => Response::from_string(String::new())
            .with_status_code(302)
            .with_header(header("Location", &t)),
        None => page(404, "Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param("/trk/click?ref=1-1-1&", "ref").as_deref(),
            Some("1-1-1")
        );
        assert_eq!(
            query_param("/x?a=1&token=a%2Bb", "token").as_deref(),
            Some("a+b")
        );
        assert_eq!(query_param("/x", "token"), None);
    }
}
