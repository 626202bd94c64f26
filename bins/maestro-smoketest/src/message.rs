//! Reading the test message: MIME (multipart, quoted-printable, base64,
//! text and HTML parts, with mail-parser), whether it is the test message,
//! its tracker links, its bounce address and its recipient.

use crate::settings::Matcher;
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// The path of Maestro's click-through tracking links.
pub const TRACKER_PATH: &str = "/trk/click?ref=";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("the message cannot be parsed as MIME at all")]
    Unparsable,
    #[error("malformed MIME: {0}")]
    Malformed(String),
    #[error("the message has no readable text or HTML part")]
    NoBody,
}

/// What the click and bounce checks need from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMessage {
    pub subject: Option<String>,
    /// Every `/trk/click?ref=` link of the text and HTML parts, in order, once each.
    pub tracker_links: Vec<String>,
    /// The envelope sender the delivering MTA wrote into Return-Path:
    /// `None` when there is no Return-Path, `Some("")` for `<>`.
    pub return_path: Option<String>,
    /// Where it was delivered (Delivered-To, else the first To).
    pub recipient: Option<String>,
    /// The header block, for the DSN's text/rfc822-headers part.
    pub headers: Vec<u8>,
    /// Parts counted by kind, for details: "text/plain (quoted-printable)", ...
    pub parts: Vec<String>,
}

/// Whether `raw` is the test message: its subject contains the text
/// (case-insensitive), or its raw or decoded text contains the marker.
pub fn matches(raw: &[u8], matcher: &Matcher) -> bool {
    match matcher {
        Matcher::Subject(s) => {
            let subject = MessageParser::default()
                .parse(raw)
                .and_then(|m| m.subject().map(str::to_string));
            subject.is_some_and(|subj| subj.to_lowercase().contains(&s.to_lowercase()))
        }
        Matcher::Marker(m) => {
            if contains(raw, m.as_bytes()) {
                return true;
            }
            let Some(msg) = MessageParser::default().parse(raw) else {
                return false;
            };
            let found = msg.parts.iter().any(|p| match &p.body {
                PartType::Text(t) | PartType::Html(t) => t.contains(m.as_str()),
                _ => false,
            });
            found
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The header block of a raw message (up to the first empty line).
fn header_block(raw: &[u8]) -> Vec<u8> {
    for sep in [&b"\r\n\r\n"[..], &b"\n\n"[..]] {
        if let Some(i) = raw.windows(sep.len()).position(|w| w == sep) {
            return raw[..i + sep.len() / 2].to_vec();
        }
    }
    raw.to_vec()
}

/// The address inside `<...>` (or the bare address) of a header value.
fn angle_address(value: &str) -> String {
    let v = value.trim();
    match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].trim().to_string(),
        _ => v.to_string(),
    }
}

/// The last value of a header, read from the raw header block, unfolded.
fn raw_header(headers: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(headers);
    let mut value: Option<String> = None;
    let mut current: Option<String> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take() {
            value = Some(c);
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case(name) {
                current = Some(v.trim().to_string());
            }
        }
    }
    current.or(value)
}

impl TestMessage {
    /// Parse the message; malformed MIME is an error naming what is wrong.
    pub fn parse(raw: &[u8]) -> Result<TestMessage, MessageError> {
        let msg = MessageParser::default()
            .parse(raw)
            .ok_or(MessageError::Unparsable)?;
        let mut problems = Vec::new();
        let mut bodies = Vec::new();
        let mut parts = Vec::new();
        for (i, p) in msg.parts.iter().enumerate() {
            let ctype = p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "text/plain".into())
                .to_ascii_lowercase();
            let encoding = p
                .content_transfer_encoding()
                .unwrap_or("7bit")
                .to_ascii_lowercase();
            if p.is_encoding_problem {
                problems.push(format!("part {i} ({ctype}): bad {encoding} encoding"));
            }
            let attachment = msg.attachments.contains(&(i as u32));
            match &p.body {
                PartType::Text(t) | PartType::Html(t) if !attachment => {
                    parts.push(format!("{ctype} ({encoding})"));
                    bodies.push((matches!(p.body, PartType::Html(_)), t.to_string()));
                }
                // A multipart none of whose boundaries was found: mail
                // clients show nothing or the raw source.
                PartType::Multipart(children) if children.is_empty() => {
                    problems.push(format!(
                        "part {i} ({ctype}): no part found (its boundary never occurs)"
                    ));
                }
                PartType::Text(_) | PartType::Html(_) if ctype.starts_with("multipart/") => {
                    problems.push(format!(
                        "part {i} ({ctype}): no part found (its boundary never occurs)"
                    ));
                }
                _ => {}
            }
            if ctype.starts_with("multipart/")
                && p.content_type()
                    .and_then(|c| c.attribute("boundary"))
                    .is_none()
            {
                problems.push(format!("part {i} ({ctype}): no boundary parameter"));
            }
        }
        if !problems.is_empty() {
            return Err(MessageError::Malformed(problems.join("; ")));
        }
        if bodies.iter().all(|(_, b)| b.trim().is_empty()) {
            return Err(MessageError::NoBody);
        }
        let mut links: Vec<String> = Vec::new();
        for (html, body) in &bodies {
            for l in tracker_links(body, *html) {
                if !links.contains(&l) {
                    links.push(l);
                }
            }
        }
        let headers = header_block(raw);
        let return_path = raw_header(&headers, "Return-Path").map(|v| angle_address(&v));
        let recipient = raw_header(&headers, "Delivered-To")
            .map(|v| angle_address(&v))
            .or_else(|| {
                msg.to()
                    .and_then(|to| to.first())
                    .and_then(|a| a.address())
                    .map(str::to_string)
            })
            .filter(|a| a.contains('@'));
        Ok(TestMessage {
            subject: msg.subject().map(str::to_string),
            tracker_links: links,
            return_path,
            recipient,
            headers,
            parts,
        })
    }
}

/// The `http(s)://.../trk/click?ref=...` links in a decoded body. In HTML
/// the `&amp;` of an attribute is the URL's `&`.
pub fn tracker_links(body: &str, html: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = body[from..].find(TRACKER_PATH) {
        let at = from + pos;
        from = at + TRACKER_PATH.len();
        let before = &body[..at];
        let start = match (before.rfind("http://"), before.rfind("https://")) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => continue,
        };
        // The scheme must belong to this link: no space or quote between.
        if before[start..]
            .contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '<' || c == '>')
        {
            continue;
        }
        let end = body[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .map_or(body.len(), |e| at + e);
        let mut link = body[start..end].to_string();
        if html {
            link = link.replace("&amp;", "&").replace("&#38;", "&");
        }
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

/// The whole authority of a URL with `scheme://`, user-info included
/// (`user:pw@host:port`). The one place a URL is split: the settings check
/// and mask the user-info, the clicks and the DNS check use the host.
pub fn url_authority_with_userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    rest.split(['/', '?', '#']).next()
}

/// `HOST` or `HOST:PORT` of a URL (the user-info dropped).
pub fn url_authority(url: &str) -> Option<&str> {
    let a = url_authority_with_userinfo(url)?;
    Some(a.rsplit_once('@').map_or(a, |(_, h)| h))
}

/// The host of a URL, without port and brackets.
pub fn url_host(url: &str) -> Option<String> {
    let a = url_authority(url)?;
    crate::settings::parse_host_port(a, 80).ok().map(|(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Return-Path: <bounce-7-1@maestro.example.org>\r\n\
Delivered-To: seed@seed.test\r\n\
From: Maestro <news@maestro.example.org>\r\n\
To: <seed@seed.test>\r\n\
Subject: maestro-ha smoke test (job 7)\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Read more: http://trk.example.org:8080/trk/cli=\r\n\
ck?ref=3D7-1-1& and there.\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
PGEgaHJlZj0iaHR0cDovL3Ryay5leGFtcGxlLm9yZzo4MDgwL3Ryay9jbGljaz9yZWY9Ny0xLTEm\r\n\
YW1wOyI+UmVhZDwvYT4gPGEgaHJlZj0iaHR0cDovL3Ryay5leGFtcGxlLm9yZzo4MDgwL3Ryay9j\r\n\
bGljaz9yZWY9Ny0xLTImYW1wOyI+TW9yZTwvYT4=\r\n\
--b1--\r\n";

    #[test]
    fn links_from_quoted_printable_text_and_base64_html() {
        let m = TestMessage::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(
            m.tracker_links,
            vec![
                "http://trk.example.org:8080/trk/click?ref=7-1-1&",
                "http://trk.example.org:8080/trk/click?ref=7-1-2&"
            ]
        );
        assert_eq!(
            m.return_path.as_deref(),
            Some("bounce-7-1@maestro.example.org")
        );
        assert_eq!(m.recipient.as_deref(), Some("seed@seed.test"));
        assert_eq!(
            m.parts,
            vec!["text/plain (quoted-printable)", "text/html (base64)"]
        );
        assert!(
            m.headers.starts_with(b"Return-Path:")
                && m.headers
                    .ends_with(b"1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n")
        );
    }

    #[test]
    fn matching_by_subject_or_marker() {
        assert!(matches(
            GOOD.as_bytes(),
            &Matcher::Subject("SMOKE test".into())
        ));
        assert!(!matches(
            GOOD.as_bytes(),
            &Matcher::Subject("newsletter".into())
        ));
        // The marker is in the decoded HTML only.
        assert!(matches(GOOD.as_bytes(), &Matcher::Marker(">More<".into())));
        assert!(!matches(GOOD.as_bytes(), &Matcher::Marker("absent".into())));
    }

    #[test]
    fn malformed_mime_is_named() {
        let bad = GOOD.replace("--b1--\r\n", "").replace("PGEg", "P!!!GEg");
        let e = TestMessage::parse(bad.as_bytes()).unwrap_err();
        assert!(matches!(e, MessageError::Malformed(_)), "{e}");
        let s = e.to_string();
        assert!(s.contains("malformed"), "{s}");
        let empty = "Subject: x\r\nContent-Type: text/plain\r\n\r\n\r\n";
        assert_eq!(
            TestMessage::parse(empty.as_bytes()).unwrap_err(),
            MessageError::NoBody
        );
    }

    #[test]
    fn links_need_their_own_scheme_and_html_entities_are_decoded() {
        assert_eq!(
            tracker_links("see https://a.example/x then /trk/click?ref=1", false),
            Vec::<String>::new()
        );
        assert_eq!(
            tracker_links(
                "<a href=\"https://t.example/trk/click?ref=9&amp;x=1\">",
                true
            ),
            vec!["https://t.example/trk/click?ref=9&x=1"]
        );
        assert_eq!(url_authority("http://u@h:81/trk"), Some("h:81"));
        assert_eq!(url_host("http://[::1]:81/trk").as_deref(), Some("::1"));
    }
}
