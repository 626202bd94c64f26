//! The manifest over the run's own session, as a delta.
//!
//! The receiving side already holds a manifest (the current generation's);
//! the sending side keeps the manifest it sent last. When the two are the
//! same file (same SHA-256: the last run went through), the new manifest
//! goes as its lines that are new and, for the rest, runs of lines to copy
//! from that base; otherwise every line goes. The receiving side rebuilds
//! the file and accepts it only when its SHA-256 is the one the sending
//! side stated: a wrong base, a lost or damaged line, all end the run
//! before anything is checked against it.
//!
//! On the wire, after `manifest {"sha256":..,"lines":N,"bytes":B,"base":..}`,
//! N lines follow: `c START COUNT` (copy COUNT lines of the base from line
//! START, counted from 0) or `l TEXT` (one line of the manifest, as is).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The longest line sent this way: the session reads lines of at most a
/// MiB, and `l ` goes before each.
const MAX_LINE: usize = 1 << 19;

/// The head of a manifest sent over the session.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Head {
    /// SHA-256 of the whole manifest, as the receiving side must rebuild it.
    pub sha256: String,
    /// Lines of the delta that follow.
    pub lines: u64,
    /// The manifest's size in bytes.
    pub bytes: u64,
    /// SHA-256 of the base the delta copies from (`None`: no copies).
    pub base: Option<String>,
}

/// SHA-256 in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A manifest's lines (each without its `\n`), or `None` when it does not
/// end in one or a line would not survive the trip (a line holding a
/// carriage return or surrounding white space, which the session's line
/// reading trims, or longer than it reads at once). Such a manifest is sent
/// by rsync instead.
pub fn lines_of(text: &[u8]) -> Option<Vec<&[u8]>> {
    if text.is_empty() || *text.last()? != b'\n' {
        return None;
    }
    let body = &text[..text.len() - 1];
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let fits = |l: &&[u8]| {
        !l.is_empty()
            && l.len() < MAX_LINE
            && std::str::from_utf8(l).is_ok()
            && !l.contains(&b'\r')
            && !l.first().is_some_and(u8::is_ascii_whitespace)
            && !l.last().is_some_and(u8::is_ascii_whitespace)
    };
    lines.iter().all(fits).then_some(lines)
}

/// The delta of `new` against `base` (`None`: every line as is), as the
/// lines to send after the head.
pub fn encode(new: &[&[u8]], base: Option<&[&[u8]]>) -> Vec<String> {
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    if let Some(base) = base {
        for (i, l) in base.iter().enumerate() {
            index.entry(l).or_insert(i);
        }
    }
    let mut out = Vec::new();
    // The copy run being built: (start in the base, count).
    let mut run: Option<(usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize)>, out: &mut Vec<String>| {
        if let Some((s, n)) = run.take() {
            out.push(format!("c {s} {n}"));
        }
    };
    for l in new {
        match index.get(l) {
            Some(&j) => match &mut run {
                Some((s, n)) if *s + *n == j => *n += 1,
                _ => {
                    flush(&mut run, &mut out);
                    run = Some((j, 1));
                }
            },
            None => {
                flush(&mut run, &mut out);
                out.push(format!("l {}", String::from_utf8_lossy(l)));
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DeltaError {
    #[error("line {0} of the manifest's delta is not `c START COUNT` or `l TEXT`")]
    Bad(u64),
    #[error("line {0} of the manifest's delta copies lines the base does not have")]
    Beyond(u64),
    #[error("the manifest's delta copies from a base this side does not have")]
    NoBase,
    #[error("the manifest would grow beyond the {0} bytes announced")]
    TooBig(u64),
}

/// Rebuilds a manifest from its delta, line by line.
pub struct Rebuild<'a> {
    base: Option<Vec<&'a [u8]>>,
    limit: u64,
    done: u64,
    pub text: Vec<u8>,
}

impl<'a> Rebuild<'a> {
    /// `base`: the base's text when the head names it (its SHA-256 already
    /// compared); `limit`: the size the head announced.
    pub fn new(base: Option<&'a [u8]>, limit: u64) -> Rebuild<'a> {
        Rebuild {
            base: base.and_then(lines_of),
            limit,
            done: 0,
            text: Vec::new(),
        }
    }

    fn add(&mut self, line: &[u8]) -> Result<(), DeltaError> {
        if (self.text.len() + line.len() + 1) as u64 > self.limit {
            return Err(DeltaError::TooBig(self.limit));
        }
        self.text.extend_from_slice(line);
        self.text.push(b'\n');
        Ok(())
    }

    pub fn line(&mut self, line: &str) -> Result<(), DeltaError> {
        self.done += 1;
        let at = self.done;
        if let Some(text) = line.strip_prefix("l ") {
            return self.add(text.as_bytes());
        }
        let copy = line.strip_prefix("c ").and_then(|r| {
            let (s, n) = r.split_once(' ')?;
            Some((s.parse::<usize>().ok()?, n.parse::<usize>().ok()?))
        });
        let Some((start, count)) = copy else {
            return Err(DeltaError::Bad(at));
        };
        let base = self.base.take().ok_or(DeltaError::NoBase)?;
        let end = start.checked_add(count).filter(|e| *e <= base.len());
        let result = match end {
            None => Err(DeltaError::Beyond(at)),
            Some(end) => base[start..end].iter().try_for_each(|l| self.add(l)),
        };
        self.base = Some(base);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebuild(delta: &[String], base: Option<&[u8]>, limit: u64) -> Result<Vec<u8>, DeltaError> {
        let mut r = Rebuild::new(base, limit);
        for l in delta {
            r.line(l)?;
        }
        Ok(r.text)
    }

    #[test]
    fn a_delta_rebuilds_the_manifest_and_sends_only_what_changed() {
        let base = b"{\"h\":1}\n{\"a\":1}\n{\"b\":1}\n{\"c\":1}\n{\"d\":1}\n{\"t\":1}\n";
        let new = b"{\"h\":2}\n{\"a\":1}\n{\"b\":2}\n{\"c\":1}\n{\"d\":1}\n{\"e\":1}\n{\"t\":2}\n";
        let delta = encode(&lines_of(new).unwrap(), Some(&lines_of(base).unwrap()));
        assert_eq!(
            delta,
            vec![
                "l {\"h\":2}",
                "c 1 1",
                "l {\"b\":2}",
                "c 3 2",
                "l {\"e\":1}",
                "l {\"t\":2}"
            ]
        );
        assert_eq!(rebuild(&delta, Some(base), 1000).unwrap(), new.to_vec());
        // Without a base: every line as is.
        let full = encode(&lines_of(new).unwrap(), None);
        assert!(full.iter().all(|l| l.starts_with("l ")));
        assert_eq!(rebuild(&full, None, 1000).unwrap(), new.to_vec());
    }

    #[test]
    fn a_bad_delta_is_refused_never_guessed_around() {
        let base = b"{\"a\":1}\n{\"b\":1}\n";
        assert_eq!(
            rebuild(&["c 1 2".into()], Some(base), 1000),
            Err(DeltaError::Beyond(1))
        );
        assert_eq!(
            rebuild(&["c 0 1".into()], None, 1000),
            Err(DeltaError::NoBase)
        );
        assert_eq!(
            rebuild(&["x 0 1".into()], Some(base), 1000),
            Err(DeltaError::Bad(1))
        );
        assert_eq!(
            rebuild(&["c 0 2".into()], Some(base), 10),
            Err(DeltaError::TooBig(10))
        );
        assert_eq!(
            rebuild(&[format!("c {} 1", usize::MAX)], Some(base), 1000),
            Err(DeltaError::Beyond(1))
        );
    }

    #[test]
    fn manifests_the_line_reading_would_change_are_not_sent_this_way() {
        assert!(lines_of(b"{\"a\":1}\n").is_some());
        assert!(lines_of(b"{\"a\":1}").is_none());
        assert!(lines_of(b"{\"a\":1} \n").is_none());
        assert!(lines_of(b"{\"a\":1}\r\n").is_none());
        assert!(lines_of(b"{\"a\":1}\n\n").is_none());
        assert!(lines_of(b"").is_none());
        let mut long = vec![b'x'; MAX_LINE];
        long.push(b'\n');
        assert!(lines_of(&long).is_none());
    }
}
