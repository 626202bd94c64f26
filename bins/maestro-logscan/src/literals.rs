//! Required literals: for each rule regex, a small set of strings one of
//! which every match must contain. A SIMD multi-literal search (Teddy,
//! through aho-corasick) for them over a whole block finds the few lines
//! worth asking the rules about several times faster than running the
//! combined regex's DFA over every byte, which is what `rg -f` does with
//! these patterns.
//!
//! The literals are lower-cased and searched in a lower-cased copy of the
//! block, so `(?i)` parts and classes like `[Ee]` cost no case variants.
//! The search may therefore hit lines no rule matches, which is harmless:
//! the hits are only candidates, and the rules decide. It must never miss
//! a line a rule matches, so whatever the analysis does not follow gives
//! up (the caller then keeps the combined regex).

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The most strings one cross product (`(a|b)(c|d)...`) may grow to.
const MAX_PRODUCT: usize = 16;
/// The most distinct bytes (after lower-casing) a class may have to count
/// as a handful of one-byte literals.
const MAX_CLASS: usize = 4;
/// Literals shorter than this hit too many lines to be worth it.
pub const MIN_LEN: usize = 3;
/// The most literals the whole prefilter may have.
pub const MAX_LITERALS: usize = 500;

/// A set of lower-case strings. An empty set: the node never matches.
type Set = Vec<Vec<u8>>;

/// What is known about the matches of one regex node.
struct Info {
    /// Every match is exactly one of these (when known and small).
    exact: Option<Set>,
    /// Every match contains one of these (when known).
    required: Option<Set>,
}

impl Info {
    fn unknown() -> Info {
        Info {
            exact: None,
            required: None,
        }
    }

    fn exact(set: Set) -> Info {
        Info {
            required: Some(set.clone()),
            exact: Some(set),
        }
    }

    /// The best thing known that every match contains.
    fn best(&self) -> Option<&Set> {
        match (&self.exact, &self.required) {
            (Some(e), Some(r)) => Some(if score(e) >= score(r) { e } else { r }),
            (Some(e), None) => Some(e),
            (None, r) => r.as_ref(),
        }
    }
}

/// Higher is a better prefilter: longer shortest literal, then fewer.
fn score(set: &Set) -> (usize, std::cmp::Reverse<usize>) {
    let min = set.iter().map(Vec::len).min().unwrap_or(usize::MAX);
    (min, std::cmp::Reverse(set.len()))
}

fn dedup(mut set: Set) -> Set {
    set.sort();
    set.dedup();
    set
}

/// The required literals of `pattern` parsed the way the rules compile it
/// (bytes, no Unicode, multi-line, CRLF), lower-cased; None when there is
/// no usable set (a literal shorter than [`MIN_LEN`], or a construct the
/// analysis does not follow).
pub fn required(pattern: &str) -> Option<Set> {
    let hir = parse(pattern)?;
    let set = info(&hir).best()?.clone();
    let set = dedup(set);
    (set.iter().all(|l| l.len() >= MIN_LEN)).then_some(set)
}

/// Whether `pattern` (parsed as the rules compile it) has an anchor to the
/// ends of the whole text (`\A`, `\z`, `(?-m:^)`, `(?-m:$)`) rather than of
/// a line. False when it does not parse (the regex check says why).
pub fn anchors_to_text_ends(pattern: &str) -> bool {
    fn has(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Look(l) => matches!(l, Look::Start | Look::End),
            HirKind::Repetition(r) => has(&r.sub),
            HirKind::Capture(c) => has(&c.sub),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(has),
            HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) => false,
        }
    }
    parse(pattern).is_some_and(|hir| has(&hir))
}

/// `pattern` parsed as the rules compile it (bytes, no Unicode,
/// multi-line, CRLF); None when it does not parse.
fn parse(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
        .crlf(true)
        .build()
        .parse(pattern)
        .ok()
}

fn info(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![Vec::new()]),
        HirKind::Literal(lit) => Info::exact(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(Class::Bytes(c)) => {
            // `[Ee]` is one byte once lower-cased; a class that matches
            // nothing gives the empty set (the node never matches).
            let mut bytes = Vec::new();
            for r in c.ranges() {
                if usize::from(r.end() - r.start()) >= 2 * MAX_CLASS {
                    return Info::unknown();
                }
                for b in r.start()..=r.end() {
                    let b = b.to_ascii_lowercase();
                    if !bytes.contains(&b) {
                        bytes.push(b);
                        if bytes.len() > MAX_CLASS {
                            return Info::unknown();
                        }
                    }
                }
            }
            Info::exact(bytes.into_iter().map(|b| vec![b]).collect())
        }
        // Only with `(?u)` in a rule; rare, and not worth following.
        HirKind::Class(Class::Unicode(_)) => Info::unknown(),
        HirKind::Capture(c) => info(&c.sub),
        HirKind::Repetition(rep) => {
            let sub = info(&rep.sub);
            match (rep.min, rep.max) {
                (1, Some(1)) => sub,
                (0, Some(1)) => Info {
                    // `x?`: nothing is required, but `(to )?` still
                    // extends its neighbours' literals.
                    exact: sub.exact.and_then(|mut e| {
                        e.push(Vec::new());
                        (e.len() <= MAX_PRODUCT).then(|| dedup(e))
                    }),
                    required: None,
                },
                (0, _) => Info::unknown(),
                _ => Info {
                    exact: None,
                    required: sub.best().cloned(),
                },
            }
        }
        HirKind::Alternation(subs) => {
            let infos: Vec<Info> = subs.iter().map(info).collect();
            let exact = infos
                .iter()
                .map(|i| i.exact.clone())
                .collect::<Option<Vec<Set>>>()
                .map(|sets| dedup(sets.concat()))
                .filter(|e| e.len() <= MAX_PRODUCT);
            let required = infos
                .iter()
                .map(|i| i.best().cloned())
                .collect::<Option<Vec<Set>>>()
                .map(|sets| dedup(sets.concat()));
            Info { exact, required }
        }
        HirKind::Concat(subs) => concat(subs),
    }
}

/// A concatenation: runs of exact children multiply into longer literals
/// (every match contains one of a run's products, since the run is a
/// contiguous part of the match); the best of those and of the children's
/// own required sets is what the concatenation requires.
fn concat(subs: &[Hir]) -> Info {
    let mut candidates: Vec<Set> = Vec::new();
    let mut run: Option<Set> = Some(vec![Vec::new()]);
    let mut all_exact = true;
    for sub in subs {
        let i = info(sub);
        if let Some(r) = i.best() {
            candidates.push(r.clone());
        }
        match i.exact {
            Some(e) => {
                let cur = run.take().unwrap_or_else(|| vec![Vec::new()]);
                if cur.len() * e.len() <= MAX_PRODUCT {
                    run = Some(product(&cur, &e));
                } else {
                    all_exact = false;
                    candidates.push(cur);
                    run = Some(e);
                }
            }
            None => {
                all_exact = false;
                if let Some(cur) = run.take() {
                    candidates.push(cur);
                }
            }
        }
    }
    if let Some(cur) = &run {
        candidates.push(cur.clone());
    }
    let required = candidates.into_iter().max_by_key(score).map(dedup);
    Info {
        exact: if all_exact { run.map(dedup) } else { None },
        required,
    }
}

/// `src` with ASCII upper-case letters lowered, into `dst` (reused): the
/// haystack the lower-cased literals are searched in. Offsets and line
/// ends stay where they were.
pub fn fold_into(src: &[u8], dst: &mut Vec<u8>) {
    dst.clear();
    dst.extend(
        src.iter()
            .map(|&b| b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)),
    );
}

fn product(a: &Set, b: &Set) -> Set {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(p: &str) -> Option<Vec<String>> {
        required(p).map(|s| {
            s.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn literals_are_found_through_groups_classes_and_options() {
        assert_eq!(
            strs(r"\b(SEVERE|ERROR|FATAL)\b").unwrap(),
            ["error", "fatal", "severe"]
        );
        assert_eq!(
            strs(r"[Dd]eadlock detected").unwrap(),
            ["deadlock detected"]
        );
        assert_eq!(
            strs(r"Connection refused.{0,80}3306").unwrap(),
            ["connection refused"]
        );
        assert_eq!(strs(r"(?i)hub\b").unwrap(), ["hub"]);
        assert_eq!(
            strs(r"(?i)\b(starting|initiali[sz]ing) (listserv )?maestro\b")
                .unwrap()
                .len(),
            6
        );
        assert_eq!(strs(r"SQL\w*Exception").unwrap(), ["exception"]);
        assert_eq!(strs(r"completed?").unwrap(), ["complete"]);
    }

    #[test]
    fn what_cannot_be_a_prefilter_gives_up() {
        assert_eq!(strs(r"\d+ errors?|x"), None, "a short branch");
        assert_eq!(strs(r"\w+"), None);
        assert_eq!(strs(r"(foo)?"), None, "may match the empty string");
        assert_eq!(strs(r"(?u)(?i)ß"), None);
    }

    #[test]
    fn folding_lowers_ascii_letters_only() {
        let mut out = Vec::new();
        fold_into(b"AZaz@[`{\xc4\xe4\n09", &mut out);
        assert_eq!(out, b"azaz@[`{\xc4\xe4\n09");
    }
}
