//! Lines into records: a record is a line that starts with a timestamp plus
//! the continuation lines after it (Java stack frames, `Caused by:`,
//! `... N more`, indented lines, JUL's second line).
//!
//! A record longer than the kept-line limit keeps its first continuation
//! lines and its root cause: the last `Caused by:` line (also Tomcat's
//! tab-indented one) with the lines after it, and counts the lines left out
//! between them. java.util.logging's second line (`SEVERE: message`) is
//! the record's message, kept apart from the stack.
//!
//! The parser is fed blocks of whole lines. For speed it runs the rules'
//! combined prefilter over the whole block at once (as grep does) and asks
//! the per-rule set only about the lines the prefilter hit; every line is
//! still looked at once, cheaply, to find where records start. Only records
//! that matched a rule leave the parser, with their first line and a
//! bounded number of continuation lines.

use crate::rules::{Prefilter, RuleSet};
use crate::timestamp::{self, TimestampFormat};
use chrono::NaiveDateTime;
use memchr::{memchr, memchr_iter, memrchr};

/// The longest first line or continuation line kept for the report.
pub const KEPT_LINE_BYTES: usize = 1024;
/// Detection gives up after this many bytes without a known timestamp.
const DETECT_BYTES: u64 = 1 << 20;

/// The time window records must fall in; a bound left out is open.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

impl Window {
    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    pub fn contains(&self, t: NaiveDateTime) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

#[derive(Debug, Clone)]
pub struct ParserOptions {
    pub window: Window,
    /// `--timestamp-format`; None: detect.
    pub format: Option<TimestampFormat>,
    pub max_stack_lines: usize,
    /// Lines longer than this are matched on their first `max_line` bytes.
    pub max_line: usize,
}

impl Default for ParserOptions {
    fn default() -> Self {
        ParserOptions {
            window: Window::default(),
            format: None,
            max_stack_lines: 50,
            max_line: 1 << 20,
        }
    }
}

/// A record that matched at least one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number of its first line.
    pub line: u64,
    /// Byte offset of its first line.
    pub offset: u64,
    pub time: Option<NaiveDateTime>,
    /// The first line, decoded (UTF-8, else Windows-1252), controls replaced.
    pub text: String,
    /// How many bytes of `text`'s source were the timestamp.
    pub stamp_len: usize,
    /// java.util.logging's message line (`SEVERE: message`, the line after
    /// the header), decoded; None in other formats.
    pub message: Option<String>,
    /// Continuation lines kept (at most `max_stack_lines`), decoded: the
    /// first ones, then from `left_out_at` on the last `Caused by:` chain.
    pub stack: Vec<String>,
    /// Continuation lines left out (not kept).
    pub more_lines: u64,
    /// Where in `stack` the left-out lines were (`stack.len()` when they
    /// were all at the end).
    pub left_out_at: usize,
    /// Indexes into the rule set of every rule a line of it matched.
    pub rules: Vec<usize>,
    /// The rules its head matched: the first line, or java.util.logging's
    /// message line. Only these make a record a startup or readiness line.
    pub head_rules: Vec<usize>,
    /// The rules a continuation line matched that is neither the
    /// exception right under the head nor a `Caused by:` of its chain:
    /// a stack trace another thread printed into the record, say. A match
    /// there keeps a rule's full severity whatever the record's level.
    pub loose_rules: Vec<usize>,
}

/// Where in a record a line stands, for what a match on it may mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineRole {
    /// The first line, or java.util.logging's message line.
    Head,
    /// The exception line right under the head, or a `Caused by:` line.
    Chain,
    /// Any other continuation line (frames, another printed trace).
    Loose,
}

#[derive(Debug, Default)]
struct Open {
    line: u64,
    offset: u64,
    head: Vec<u8>,
    /// Where the first line is in the current block while it is not
    /// copied into `head` yet: most records never need it copied.
    head_at: Option<(usize, usize)>,
    /// Parsed lazily: only records that matched, or when a window is set.
    time: Option<Option<(NaiveDateTime, usize)>>,
    message: Option<Vec<u8>>,
    /// Whether a continuation line came yet (the first may be JUL's message).
    continued: bool,
    stack: Vec<Vec<u8>>,
    /// The last `Caused by:` line past the kept lines, and what followed it.
    root: Vec<Vec<u8>>,
    more: u64,
    rules: Vec<usize>,
    head_rules: Vec<usize>,
    loose_rules: Vec<usize>,
    /// Continuation lines after the head (the message line not counted).
    body_lines: u64,
    /// A line came after the first one that is no part of a stack trace
    /// (not a frame, `... N more` or `Caused by:`): another exception or
    /// text printed into the record; what follows is not its own chain.
    foreign: bool,
    in_window: bool,
    headless: bool,
}

/// Counts of what was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub lines: u64,
    pub records: u64,
    /// Bytes consumed (whole lines, plus a last line without newline once finished).
    pub bytes: u64,
    /// Lines longer than the line limit (their rest was skipped).
    pub cut_lines: u64,
    /// The last line had no newline (a truncated file or one being written).
    pub truncated_last_line: bool,
    /// Bytes that were not valid UTF-8 were read as Windows-1252 on this many kept lines.
    pub non_utf8_lines: u64,
}

/// The record parser of one file.
pub struct RecordParser<'r> {
    rules: &'r RuleSet,
    opts: ParserOptions,
    format: Option<TimestampFormat>,
    detect_done: bool,
    pub counts: Counts,
    /// Boxed, and the box reused from record to record (`spare`): a record
    /// starts on nearly every line, and moving the whole struct each time
    /// was a tenth of a scan's time.
    open: Option<Box<Open>>,
    stamp_cache: Option<(Vec<u8>, NaiveDateTime)>,
    cands: Vec<usize>,
    /// The last record that was closed, with its buffers, reused so that
    /// ten million records do not cost ten million allocations.
    spare: Option<Box<Open>>,
    start_cache: timestamp::StartCache,
    /// Lower-cased copies of blocks for the literal prefilter.
    scratch: Vec<Vec<u8>>,
    /// Blocks left to search with the rules' regex instead of the
    /// literals, which hit too many lines lately.
    fallback_blocks: u32,
}

impl<'r> RecordParser<'r> {
    pub fn new(rules: &'r RuleSet, opts: ParserOptions) -> RecordParser<'r> {
        let format = opts.format.clone();
        RecordParser {
            rules,
            detect_done: format.is_some(),
            format,
            opts,
            counts: Counts::default(),
            open: None,
            stamp_cache: None,
            cands: Vec::new(),
            spare: None,
            start_cache: timestamp::StartCache::default(),
            scratch: Vec::new(),
            fallback_blocks: 0,
        }
    }

    /// Start counting at a saved position (incremental mode).
    pub fn resume_at(&mut self, offset: u64, lines: u64) {
        self.counts.bytes = offset;
        self.counts.lines = lines;
    }

    pub fn format(&self) -> Option<&TimestampFormat> {
        self.format.as_ref()
    }

    /// Feed a block of whole lines (each ends with `\n`).
    pub fn feed_lines(&mut self, block: &[u8], out: &mut Vec<Record>) {
        if !self.detect_done {
            self.format = timestamp::detect(block.split(|&b| b == b'\n').map(strip_cr));
            if self.format.is_some() || self.counts.bytes + block.len() as u64 >= DETECT_BYTES {
                self.detect_done = true;
            }
        }
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        let fallback = self.rules.fallback.as_ref();
        let pf = match fallback {
            Some(f) if self.fallback_blocks > 0 => {
                self.fallback_blocks -= 1;
                Some(f)
            }
            _ => self.rules.prefilter.as_ref(),
        };
        if let Some(pf) = pf {
            find_candidates(pf, block, &mut cands, &mut self.scratch);
            // Literals that hit a line every few KiB (`error` in every
            // line of some log) make matching the rules line by line cost
            // more than the regex over the block: use the regex for a
            // while, then try the literals again.
            if fallback.is_some()
                && pf.wants_folded()
                && cands.len() > block.len() / FALLBACK_BYTES_PER_HIT + 16
            {
                self.fallback_blocks = FALLBACK_BLOCKS;
            }
        }
        let mut next = 0;
        let mut s = 0;
        for nl in memchr_iter(b'\n', block) {
            let candidate = cands.get(next) == Some(&s);
            if candidate {
                next += 1;
            }
            self.line(block, s, nl, (nl + 1 - s) as u64, candidate, out);
            s = nl + 1;
        }
        if s < block.len() {
            // Not a whole line: the caller broke the contract; treat it as one.
            let candidate = cands.get(next) == Some(&s);
            self.line(
                block,
                s,
                block.len(),
                (block.len() - s) as u64,
                candidate,
                out,
            );
        }
        self.cands = cands;
        self.detach(block);
    }

    /// Feed one line without its newline: the kept part of a line longer
    /// than the limit, or the last line of a file that has no newline.
    /// `consumed` is how many bytes of the file it stands for so far.
    pub fn feed_partial(&mut self, line: &[u8], consumed: u64, out: &mut Vec<Record>) {
        if !self.detect_done {
            self.format = timestamp::detect(std::iter::once(strip_cr(line)));
            self.detect_done = self.format.is_some();
        }
        self.line(line, 0, line.len(), consumed, true, out);
        self.detach(line);
    }

    /// The block is about to go away: copy the open record's first line.
    fn detach(&mut self, block: &[u8]) {
        if let Some(open) = self.open.as_mut() {
            own_head(open, block);
        }
    }

    /// Bytes of a cut line that were skipped.
    pub fn skip(&mut self, n: u64) {
        self.counts.bytes += n;
    }

    /// Forget a cut line whose end was not read yet (`--incremental` stops
    /// at the last whole line): the counts go back to where it began, and
    /// a record it began is dropped, so the next run reads it whole.
    fn unread_cut_line(&mut self, at: CutLine) {
        self.counts.bytes = at.offset;
        self.counts.lines = at.lines;
        self.counts.records = at.records;
        self.counts.cut_lines = self.counts.cut_lines.saturating_sub(1);
        if self.open.as_ref().is_some_and(|o| o.line > at.lines) {
            self.spare = self.open.take();
        }
    }

    /// Close the open record (end of input, or a pause in follow mode).
    pub fn flush(&mut self, out: &mut Vec<Record>) {
        if let Some(open) = self.open.take() {
            self.close(open, out);
        }
    }

    fn line(
        &mut self,
        block: &[u8],
        s: usize,
        e: usize,
        consumed: u64,
        candidate: bool,
        out: &mut Vec<Record>,
    ) {
        let mut line = strip_cr(&block[s..e]);
        let mut candidate = candidate;
        let role;
        if line.len() > self.opts.max_line {
            // Whole in the buffer, but past the limit: judged like a line
            // the buffer had to cut, so the result never depends on where
            // a read happened to end. The prefilter saw the whole line, the
            // rules see the cut one (a `\b` or `$` may hold only at the
            // cut): always asked, as a cut line read in parts is.
            self.counts.cut_lines += 1;
            line = &line[..self.opts.max_line];
            candidate = true;
        }
        let offset = self.counts.bytes;
        self.counts.bytes += consumed;
        self.counts.lines += 1;
        let starts = match &self.format {
            Some(f) => self.start_cache.starts_record(f, line),
            None => true,
        };
        if starts || self.open.is_none() {
            if let Some(prev) = self.open.take() {
                self.close(prev, out);
            }
            self.counts.records += 1;
            let mut open = self.spare.take().unwrap_or_default();
            open.line = self.counts.lines;
            open.offset = offset;
            open.head.clear();
            open.head_at = Some((s, line.len().min(KEPT_LINE_BYTES)));
            open.time = None;
            open.message = None;
            open.continued = false;
            open.stack.clear();
            open.root.clear();
            open.more = 0;
            open.rules.clear();
            open.head_rules.clear();
            open.loose_rules.clear();
            open.body_lines = 0;
            open.foreign = false;
            open.in_window = true;
            open.headless = !starts;
            // A record that starts without a head (the first lines of an
            // input in the middle of a stack trace) has no head.
            role = if starts {
                LineRole::Head
            } else {
                LineRole::Loose
            };
            if !self.opts.window.is_open() && starts {
                let t = self.stamp(line);
                open.in_window = t.is_none_or(|(t, _)| self.opts.window.contains(t));
                open.time = Some(t);
            }
            self.open = Some(open);
        } else if let Some(open) = self.open.as_mut() {
            let kept = &line[..line.len().min(KEPT_LINE_BYTES)];
            let first = !open.continued;
            open.continued = true;
            if first
                && !open.headless
                && matches!(self.format, Some(TimestampFormat::JavaUtilLogging))
                && is_jul_message(line)
            {
                open.message = Some(kept.to_vec());
                role = LineRole::Head;
            } else {
                open.body_lines += 1;
                if open.body_lines > 1 && !open.foreign && !is_trace_line(line) {
                    open.foreign = true;
                }
                let chain = candidate
                    && !open.foreign
                    && ((open.body_lines == 1 && !open.headless) || is_caused_by(line));
                role = if chain {
                    LineRole::Chain
                } else {
                    LineRole::Loose
                };
            }
            if role == LineRole::Head {
                // The message line is kept apart, not in the stack.
            } else if open.stack.len() < self.opts.max_stack_lines {
                open.stack.push(kept.to_vec());
            } else {
                open.more += 1;
                let root_max = root_cause_lines(self.opts.max_stack_lines);
                if root_max > 0 && is_caused_by(line) {
                    open.root.clear();
                    open.root.push(kept.to_vec());
                } else if !open.root.is_empty() && open.root.len() < root_max {
                    open.root.push(kept.to_vec());
                }
            }
        } else {
            role = LineRole::Loose;
        }
        if candidate {
            if let Some(open) = self.open.as_mut() {
                if open.in_window {
                    own_head(open, block);
                    for i in self.rules.set.matches(line).into_iter() {
                        if !open.rules.contains(&i) {
                            open.rules.push(i);
                        }
                        let by_role = match role {
                            LineRole::Head => &mut open.head_rules,
                            LineRole::Loose => &mut open.loose_rules,
                            LineRole::Chain => continue,
                        };
                        if !by_role.contains(&i) {
                            by_role.push(i);
                        }
                    }
                }
            }
        }
    }

    /// The timestamp of a record's first line, reusing the last one when
    /// the line starts with the same bytes (most lines of a busy second do).
    fn stamp(&mut self, line: &[u8]) -> Option<(NaiveDateTime, usize)> {
        if let Some((prefix, t)) = &self.stamp_cache {
            if line.starts_with(prefix) {
                return Some((*t, prefix.len()));
            }
        }
        let parsed = self.format.as_ref()?.parse(line);
        if let Some((t, n)) = parsed {
            self.stamp_cache = Some((line[..n].to_vec(), t));
        }
        parsed
    }

    fn close(&mut self, mut open: Box<Open>, out: &mut Vec<Record>) {
        if open.rules.is_empty() || !open.in_window {
            self.spare = Some(open);
            return;
        }
        let stamp = match open.time.take() {
            Some(t) => t,
            None if open.headless => None,
            None => {
                let head = std::mem::take(&mut open.head);
                let t = self.stamp(&head);
                open.head = head;
                t
            }
        };
        open.rules.sort_unstable();
        let stamp_len = stamp.map_or(0, |(_, n)| n).min(open.head.len());
        let (text, bad) = decode(&open.head);
        let mut non_utf8 = u64::from(bad);
        // The root cause takes the place of the last kept lines, so that
        // at most `max_stack_lines` are kept and the left-out lines are one
        // run between the two parts.
        let mut more = open.more;
        if !open.root.is_empty() {
            let head = self.opts.max_stack_lines.saturating_sub(open.root.len());
            more = more - open.root.len() as u64 + open.stack.len().saturating_sub(head) as u64;
            open.stack.truncate(head);
        }
        let left_out_at = open.stack.len();
        let mut dec = |l: &Vec<u8>| {
            let (s, bad) = decode(l);
            non_utf8 += u64::from(bad);
            s
        };
        let stack = open.stack.iter().chain(&open.root).map(&mut dec).collect();
        let message = open.message.as_ref().map(&mut dec);
        self.counts.non_utf8_lines += non_utf8;
        out.push(Record {
            line: open.line,
            offset: open.offset,
            time: stamp.map(|(t, _)| t),
            text,
            stamp_len: decode(&open.head[..stamp_len]).0.len(),
            message,
            stack,
            more_lines: more,
            left_out_at,
            rules: std::mem::take(&mut open.rules),
            head_rules: std::mem::take(&mut open.head_rules),
            loose_rules: std::mem::take(&mut open.loose_rules),
        });
        self.spare = Some(open);
    }
}

/// More literal hits than one per this many bytes of a block: the regex is
/// cheaper (a hit costs a pass of the rules over its line).
const FALLBACK_BYTES_PER_HIT: usize = 4096;
/// How many blocks the regex then searches before the literals are tried again.
const FALLBACK_BLOCKS: u32 = 32;

/// Blocks at least this large are searched by several threads.
const PARALLEL_MIN: usize = 256 * 1024;

/// The starts of the lines in `block` (whole lines) where the prefilter
/// matches. Large blocks are cut at line ends into one part a core and
/// searched at once. `scratch` holds the lower-cased copies the literal
/// prefilter searches, one a part, kept from block to block.
fn find_candidates(pf: &Prefilter, block: &[u8], out: &mut Vec<usize>, scratch: &mut Vec<Vec<u8>>) {
    // Asked once: the answer reads cgroup files, and this runs a block.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = if block.len() < PARALLEL_MIN {
        1
    } else {
        *CORES.get_or_init(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4)
        })
    };
    scratch.resize_with(threads.max(scratch.len()), Vec::new);
    if threads < 2 {
        candidates_in(pf, block, 0, out, &mut scratch[0]);
        return;
    }
    let mut parts = Vec::with_capacity(threads);
    let mut start = 0;
    for i in 1..threads {
        let guess = (block.len() * i / threads).max(start);
        let end = match memchr(b'\n', &block[guess..]) {
            Some(j) => guess + j + 1,
            None => block.len(),
        };
        parts.push((start, end));
        start = end;
    }
    parts.push((start, block.len()));
    let found: Vec<Vec<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .zip(scratch.iter_mut())
            .map(|(&(s, e), buf)| {
                scope.spawn(move || {
                    let mut v = Vec::new();
                    candidates_in(pf, &block[s..e], s, &mut v, buf);
                    v
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for v in found {
        out.extend(v);
    }
}

fn candidates_in(
    pf: &Prefilter,
    block: &[u8],
    base: usize,
    out: &mut Vec<usize>,
    scratch: &mut Vec<u8>,
) {
    let hay: &[u8] = if pf.wants_folded() {
        crate::literals::fold_into(block, scratch);
        scratch
    } else {
        block
    };
    let mut pos = 0;
    while pos < hay.len() {
        let Some(start) = pf.find_at(hay, pos) else {
            break;
        };
        let start = start.min(hay.len().saturating_sub(1));
        let ls = memrchr(b'\n', &hay[..start]).map_or(0, |i| i + 1).max(pos);
        let le = memchr(b'\n', &hay[start..]).map_or(hay.len(), |i| start + i + 1);
        out.push(base + ls);
        pos = le.max(pos + 1);
    }
}

/// How many lines of the root cause a record keeps: a fifth of the kept
/// lines (10 of the default 50).
fn root_cause_lines(max_stack_lines: usize) -> usize {
    if max_stack_lines < 2 {
        0
    } else {
        (max_stack_lines / 5).max(1)
    }
}

/// `Caused by: ...`, also indented (Tomcat's OneLineFormatter indents a
/// whole stack trace with tabs).
fn is_caused_by(line: &[u8]) -> bool {
    let start = line
        .iter()
        .position(|&b| b != b'\t' && b != b' ')
        .unwrap_or(line.len());
    line[start..].starts_with(b"Caused by:")
}

/// A line of a Java stack trace after its first: a frame (`at ...`), `...
/// N more` (`... N common frames omitted`), or a cause (`Caused by:`,
/// `Suppressed:`), indented or not.
fn is_trace_line(line: &[u8]) -> bool {
    let start = line
        .iter()
        .position(|&b| b != b'\t' && b != b' ')
        .unwrap_or(line.len());
    let rest = &line[start..];
    rest.starts_with(b"at ")
        || rest.starts_with(b"...")
        || rest.starts_with(b"Caused by:")
        || rest.starts_with(b"Suppressed:")
}

/// java.util.logging SimpleFormatter's second line: a level name (in any
/// language: letters only, so an exception's class name is not one), a
/// colon and a space.
fn is_jul_message(line: &[u8]) -> bool {
    let word = line
        .iter()
        .position(|&b| !(b.is_ascii_alphabetic() || b >= 0x80))
        .unwrap_or(line.len());
    word >= 3 && line[word..].starts_with(b": ")
}

fn own_head(open: &mut Open, block: &[u8]) {
    if let Some((s, n)) = open.head_at.take() {
        open.head.clear();
        open.head.extend_from_slice(&block[s..s + n]);
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Bytes to text: UTF-8 when valid, else Windows-1252 (a superset of the
/// printable Latin-1 that Windows servers write). Control characters other
/// than tab become U+FFFD, so a log cannot drive the reader's terminal.
/// Returns whether the bytes were not UTF-8.
pub fn decode(bytes: &[u8]) -> (String, bool) {
    let (text, bad) = match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => {
            let (s, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (s, true)
        }
    };
    let clean = if text.chars().any(|c| c.is_control() && c != '\t') {
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect()
    } else {
        text.into_owned()
    };
    (clean, bad)
}

/// Reads a byte stream in blocks of whole lines into a [`RecordParser`],
/// with a bounded buffer: a line longer than `max_line` keeps its first
/// `max_line` bytes and the rest is skipped, so a 100 MB line costs no more
/// memory than the limit.
pub struct BlockReader {
    buf: Vec<u8>,
    len: usize,
    max_line: usize,
    skipping: bool,
    /// Where the cut line being skipped began.
    cut: Option<CutLine>,
}

/// The counts before a line that was cut at the line limit.
#[derive(Debug, Clone, Copy)]
struct CutLine {
    offset: u64,
    lines: u64,
    records: u64,
}

/// How much is read at a time beyond the line limit.
const CHUNK: usize = 1 << 20;

impl BlockReader {
    pub fn new(max_line: usize) -> BlockReader {
        let max_line = max_line.max(64);
        BlockReader {
            buf: vec![0; max_line + CHUNK],
            len: 0,
            max_line,
            skipping: false,
            cut: None,
        }
    }

    /// Read once from the source and feed the whole lines read; a partial
    /// last line stays buffered (more may come). Returns the bytes read,
    /// 0 at end of file.
    pub fn read_once(
        &mut self,
        src: &mut dyn std::io::Read,
        p: &mut RecordParser,
        out: &mut Vec<Record>,
    ) -> std::io::Result<usize> {
        loop {
            match src.read(&mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    self.process(p, out);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Drop what is buffered without feeding it, and a cut line whose end
    /// was not read yet: incremental mode leaves a partial last line for
    /// the next run, so the counts end at the last whole line.
    pub fn discard_partial(&mut self, p: &mut RecordParser) {
        if let Some(at) = self.cut.take().filter(|_| self.skipping) {
            p.unread_cut_line(at);
        }
        self.len = 0;
        self.skipping = false;
    }

    /// Feed what is buffered, as it stands.
    pub fn process(&mut self, p: &mut RecordParser, out: &mut Vec<Record>) {
        loop {
            if self.len == 0 {
                return;
            }
            if self.skipping {
                match memchr(b'\n', &self.buf[..self.len]) {
                    Some(i) => {
                        p.skip(i as u64 + 1);
                        self.consume(i + 1);
                        self.skipping = false;
                        self.cut = None;
                        continue;
                    }
                    None => {
                        p.skip(self.len as u64);
                        self.len = 0;
                        return;
                    }
                }
            }
            if let Some(i) = memrchr(b'\n', &self.buf[..self.len]) {
                p.feed_lines(&self.buf[..=i], out);
                self.consume(i + 1);
                // What is left has no newline; fall through to the limit check.
            }
            if self.len >= self.max_line {
                self.cut = Some(CutLine {
                    offset: p.counts.bytes,
                    lines: p.counts.lines,
                    records: p.counts.records,
                });
                p.counts.cut_lines += 1;
                p.feed_partial(&self.buf[..self.max_line], self.max_line as u64, out);
                // The rest of the line, read or not, is skipped.
                self.consume(self.max_line);
                self.skipping = true;
                continue;
            }
            return;
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// End of input: a last line without a newline is a line too, and the
    /// open record is closed.
    pub fn finish(&mut self, p: &mut RecordParser, out: &mut Vec<Record>) {
        if self.len > 0 && !self.skipping {
            p.counts.truncated_last_line = true;
            let n = self.len;
            p.feed_partial(&self.buf[..n], n as u64, out);
        } else if self.len > 0 {
            p.skip(self.len as u64);
        }
        self.len = 0;
        self.skipping = false;
        self.cut = None;
        p.flush(out);
    }
}

/// Parse a whole byte string into the records that matched: the function
/// the fuzz target and its corpus tests drive. `max_line` is small there so
/// that cutting long lines is exercised too.
pub fn parse_records(
    data: &[u8],
    rules: &RuleSet,
    mut opts: ParserOptions,
    max_line: usize,
) -> (Vec<Record>, Counts) {
    opts.max_line = max_line.max(64);
    let mut parser = RecordParser::new(rules, opts);
    let mut reader = BlockReader::new(max_line);
    let mut out = Vec::new();
    let mut src = data;
    // Reading from a slice cannot fail.
    while let Ok(n) = reader.read_once(&mut src, &mut parser, &mut out) {
        if n == 0 {
            break;
        }
    }
    reader.finish(&mut parser, &mut out);
    (out, parser.counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{built_in, Pack, RuleSet, Severity};

    fn maestro() -> RuleSet {
        RuleSet::compile(&built_in(), Pack::Maestro, Severity::Info).unwrap()
    }

    fn ids(set: &RuleSet, r: &Record) -> Vec<String> {
        r.rules.iter().map(|&i| set.rules[i].id.clone()).collect()
    }

    const TRACE: &str = "2026-11-26 08:00:00,001 INFO  [main] starting\n\
2026-11-26 08:00:01,002 ERROR [main] Job load failed\n\
java.sql.SQLSyntaxErrorException: Table 'maestro.job' doesn't exist\n\
\tat com.mysql.jdbc.SQLError.createSQLException(SQLError.java:1078)\n\
\tat com.lsoft.Loader.load(Loader.java:42)\n\
Caused by: java.lang.IllegalStateException: x\n\
\t... 12 more\n\
2026-11-26 08:00:02,003 INFO  [main] done\n";

    #[test]
    fn stack_traces_belong_to_their_record() {
        let set = maestro();
        let (recs, counts) = parse_records(TRACE.as_bytes(), &set, ParserOptions::default(), 4096);
        assert_eq!(counts.lines, 8);
        assert_eq!(counts.records, 3);
        assert_eq!(counts.bytes, TRACE.len() as u64);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.line, 2);
        assert!(r.text.ends_with("Job load failed"));
        assert_eq!(r.stack.len(), 5);
        assert_eq!(r.stack[4], "\t... 12 more");
        let got = ids(&set, r);
        assert!(
            got.contains(&"table-missing".into()) && got.contains(&"error-level".into()),
            "{got:?}"
        );
        assert_eq!(&r.text[..r.stamp_len], "2026-11-26 08:00:01,002");
    }

    #[test]
    fn crlf_latin1_and_garbage_are_read() {
        let set = maestro();
        let mut data = b"2026-11-26 08:00:01 ERROR caf\xe9 \x00\x1b[31m\r\n".to_vec();
        data.extend_from_slice(b"\xff\xfe\x00binary\x00\r\n2026-11-26 08:00:02 INFO ok\r\n");
        let (recs, counts) = parse_records(&data, &set, ParserOptions::default(), 4096);
        assert_eq!((counts.lines, counts.records), (3, 2));
        assert_eq!(recs.len(), 1);
        assert!(recs[0].text.contains("café"), "{}", recs[0].text);
        assert!(!recs[0].text.contains('\x1b') && !recs[0].text.contains('\r'));
        assert_eq!(recs[0].stack.len(), 1);
        assert!(counts.non_utf8_lines >= 2);
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let set = maestro();
        let mut data = b"2026-11-26 08:00:01 SEVERE ".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100_000));
        data.extend_from_slice(b" ERROR-at-the-end\n2026-11-26 08:00:02 ERROR second\n");
        let (recs, counts) = parse_records(&data, &set, ParserOptions::default(), 1000);
        assert_eq!(counts.cut_lines, 1);
        assert_eq!(counts.lines, 2);
        assert_eq!(counts.bytes, data.len() as u64);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].line, 2);
        assert!(recs[0].text.len() <= KEPT_LINE_BYTES + 3);
    }

    #[test]
    fn a_line_longer_than_the_buffer_costs_only_the_buffer() {
        let set = maestro();
        let mut data = b"2026-11-26 08:00:01 INFO ".to_vec();
        data.extend(std::iter::repeat_n(b'x', 3 << 20));
        data.extend_from_slice(
            b" SEVERE hidden past the limit\n2026-11-26 08:00:02 ERROR second\n",
        );
        let mut parser = RecordParser::new(
            &set,
            ParserOptions {
                max_line: 4096,
                ..ParserOptions::default()
            },
        );
        let mut reader = BlockReader::new(4096);
        let mut out = Vec::new();
        let mut src = &data[..];
        while reader.read_once(&mut src, &mut parser, &mut out).unwrap() > 0 {
            assert_eq!(reader.buf.len(), 4096 + CHUNK, "the buffer never grows");
        }
        reader.finish(&mut parser, &mut out);
        let c = parser.counts;
        assert_eq!((c.lines, c.records, c.cut_lines), (2, 2, 1));
        assert_eq!(c.bytes, data.len() as u64);
        assert_eq!(out.len(), 1, "only the second line matches: {out:?}");
        assert_eq!(out[0].line, 2);
    }

    #[test]
    fn a_truncated_last_line_is_a_record() {
        let set = maestro();
        let data = b"2026-11-26 08:00:01 INFO a\n2026-11-26 08:00:02 SEVERE cut off he";
        let (recs, counts) = parse_records(data, &set, ParserOptions::default(), 4096);
        assert!(counts.truncated_last_line);
        assert_eq!(counts.bytes, data.len() as u64);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].line, 2);
    }

    #[test]
    fn the_window_drops_records_outside_it() {
        let set = maestro();
        let t = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let opts = ParserOptions {
            window: Window {
                since: Some(t("2026-11-26 08:00:01")),
                until: Some(t("2026-11-26 08:00:01")),
            },
            ..ParserOptions::default()
        };
        let data = b"2026-11-26 08:00:00 ERROR a\n2026-11-26 08:00:01 ERROR b\n\tat x\n2026-11-26 08:00:02 ERROR c\n";
        let (recs, _) = parse_records(data, &set, opts, 4096);
        assert_eq!(recs.len(), 1);
        assert!(recs[0].text.ends_with('b'));
        assert_eq!(recs[0].time, Some(t("2026-11-26 08:00:01")));
    }

    #[test]
    fn literals_hitting_every_line_give_the_same_records_as_the_regex() {
        let set = maestro();
        let reference = set.clone().with_regex_prefilter();
        let mut data = Vec::new();
        for i in 0..80_000 {
            data.extend_from_slice(
                format!(
                    "2026-11-26 08:00:{:02},000 INFO errorCount=0 job {i}\n",
                    i % 60
                )
                .as_bytes(),
            );
            if i % 5000 == 0 {
                data.extend_from_slice(
                    b"2026-11-26 08:00:00,000 ERROR Table 'maestro.x' doesn't exist\n\tat x\n",
                );
            }
        }
        assert!(
            data.len() > 2 * CHUNK,
            "several blocks, so the fallback comes and goes"
        );
        let opts = ParserOptions::default();
        let got = parse_records(&data, &set, opts.clone(), 1 << 20);
        assert_eq!(got, parse_records(&data, &reference, opts, 1 << 20));
        assert_eq!(got.0.len(), 16);
    }

    #[test]
    fn a_long_trace_keeps_its_first_lines_and_its_last_caused_by() {
        let set = maestro();
        let mut data = String::from("26-Nov-2026 08:00:01.000 SEVERE [main] x Exception sending context initialized event to listener\n\tjava.lang.IllegalStateException: a\n");
        for i in 0..30 {
            data.push_str(&format!("\t\tat f{i}(F.java:{i})\n"));
        }
        data.push_str("\tCaused by: java.sql.SQLException: b\n\t\tat g(G.java:1)\n");
        for i in 0..20 {
            data.push_str(&format!("\t\tat h{i}(H.java:{i})\n"));
        }
        data.push_str("\tCaused by: java.net.ConnectException: Connection refused\n\t\tat k(K.java:1)\n\t\t... 70 more\n26-Nov-2026 08:00:02.000 INFO [main] y done\n");
        let opts = ParserOptions {
            max_stack_lines: 20,
            ..ParserOptions::default()
        };
        let (recs, _) = parse_records(data.as_bytes(), &set, opts, 4096);
        let r = &recs[0];
        // 56 continuation lines: the root cause (3 lines) and the first 17.
        assert_eq!(r.stack.len(), 20);
        assert_eq!(r.left_out_at, 17);
        assert_eq!(r.more_lines, 56 - 20);
        assert_eq!(r.stack[0], "\tjava.lang.IllegalStateException: a");
        assert_eq!(
            r.stack[17],
            "\tCaused by: java.net.ConnectException: Connection refused"
        );
        assert_eq!(r.stack[19], "\t\t... 70 more");
        // With 50 kept lines, 6 are left out before the root cause.
        let (recs, _) = parse_records(data.as_bytes(), &set, ParserOptions::default(), 4096);
        assert_eq!((recs[0].stack.len(), recs[0].more_lines), (50, 6));
        assert_eq!(recs[0].left_out_at, 47);
    }

    #[test]
    fn a_jul_record_keeps_its_message_line_apart() {
        let set = maestro();
        let data = b"Nov 28, 2026 2:05:06 AM com.example.Db connect\nSEVERE: Cannot connect\njava.sql.SQLException: Communications link failure\n\tat x(X.java:1)\nNov 28, 2026 2:05:07 AM com.example.Db connect\nINFO: fine\n";
        let (recs, _) = parse_records(data, &set, ParserOptions::default(), 4096);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].message.as_deref(), Some("SEVERE: Cannot connect"));
        assert_eq!(recs[0].stack.len(), 2);
        assert!(recs[0].stack[0].starts_with("java.sql.SQLException"));
        // Not in other formats, and an exception line is never the message.
        assert!(!is_jul_message(b"java.sql.SQLException: x"));
        assert!(is_jul_message(b"SCHWERWIEGEND: x"));
    }

    #[test]
    fn a_file_without_timestamps_is_one_record_a_line() {
        let set = maestro();
        let (recs, counts) =
            parse_records(b"ERROR a\nERROR b\n", &set, ParserOptions::default(), 4096);
        assert_eq!((counts.records, recs.len()), (2, 2));
        assert_eq!(recs[1].time, None);
    }
}

/// The record parser's invariants, checked on any input: the function the
/// cargo-fuzz target (fuzz/) and its corpus regression test call.
pub mod fuzzing {
    use super::*;
    use crate::rules::{built_in, Pack, Severity};
    use std::sync::OnceLock;

    /// Each pack twice: with its literal prefilter, and with the combined
    /// regex as prefilter (the reference).
    fn sets() -> &'static [(RuleSet, RuleSet); 2] {
        static SETS: OnceLock<[(RuleSet, RuleSet); 2]> = OnceLock::new();
        SETS.get_or_init(|| {
            let all = built_in();
            let compile = |p| {
                let set =
                    RuleSet::compile(&all, p, Severity::Info).expect("built-in rules compile");
                let reference = set.clone().with_regex_prefilter();
                (set, reference)
            };
            [compile(Pack::Maestro), compile(Pack::Db)]
        })
    }

    /// Parse `data` (its first byte picks the pack, the line limit and a
    /// window) and panic if an invariant does not hold.
    pub fn check(data: &[u8]) {
        let (ctl, body) = match data.split_first() {
            Some((c, rest)) => (*c, rest),
            None => (0, data),
        };
        let (set, reference) = &sets()[usize::from(ctl & 1)];
        let max_line = 64 + usize::from(ctl >> 2) * 16;
        let mut opts = ParserOptions {
            max_stack_lines: 3,
            ..ParserOptions::default()
        };
        if ctl & 2 != 0 {
            opts.window.since =
                chrono::NaiveDate::from_ymd_opt(2026, 11, 26).and_then(|d| d.and_hms_opt(8, 0, 0));
        }
        let (records, counts) = parse_records(body, set, opts.clone(), max_line);
        let (ref_records, ref_counts) = parse_records(body, reference, opts, max_line);
        assert_eq!(
            (&records, &counts),
            (&ref_records, &ref_counts),
            "the literal prefilter finds what the regex prefilter finds"
        );
        assert_eq!(
            counts.bytes,
            body.len() as u64,
            "every byte is accounted for"
        );
        let newlines = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let partial = u64::from(!body.is_empty() && !body.ends_with(b"\n"));
        assert_eq!(counts.lines, newlines + partial, "lines");
        if partial == 0 {
            assert!(!counts.truncated_last_line);
        }
        assert!(counts.records <= counts.lines);
        let mut last = 0;
        for r in &records {
            assert!(r.line > last && r.line <= counts.lines, "records in order");
            last = r.line;
            assert!(r.offset < body.len().max(1) as u64);
            assert!(!r.rules.is_empty());
            assert!(r.stack.len() <= 3);
            assert!(r.left_out_at <= r.stack.len());
            assert!(r.stamp_len <= r.text.len());
            assert!(r.text.is_char_boundary(r.stamp_len));
            for t in std::iter::once(&r.text).chain(&r.stack).chain(&r.message) {
                assert!(
                    !t.chars().any(|c| c.is_control() && c != '\t'),
                    "no control characters: {t:?}"
                );
            }
        }
    }
}
