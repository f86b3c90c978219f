//! The distinct observables of swept text, kept so that `spydar recheck`
//! can match indicators published after the scan.
//!
//! A text sweep keeps whole only the lines today's indicators flag. Every
//! other line goes through [`Observed`]: one pass over its bytes picks out
//! what an indicator could name there (hosts, URLs, e-mail addresses, IPv4
//! and IPv6 literals, absolute paths, names in process positions) and keeps
//! each distinct value once per artifact with the first and last time of
//! the lines it was on and how many times it was seen. The records carry
//! them as typed observables, so the matcher checks them as it checks any
//! typed field.
//!
//! What counts as each kind follows the free-text rules of the matcher
//! (ARCHITECTURE.md): a host is a run of host bytes with a dot whose last
//! label is a real top-level domain (so `libc.dylib`, `com.apple.springboard`
//! and `12:00:01.5` are not hosts); an IPv4 literal is four decimal octets;
//! IPv6 is a `::`-compressed literal that parses; a path starts with `/`
//! after a non-path byte and has at least two components; process names are
//! taken only from process positions (`crate::textpos`).
//!
//! Bounded: at most [`MAX_DISTINCT`] values per artifact. When there are
//! more, the kept ones are those with the smallest hash (a bottom-k sample,
//! so the choice does not depend on the order in which parallel pieces
//! arrive) and a summary record says the set was capped.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use crate::model::{ObservableType, Record};
use crate::options::{SweptLine, TextSweep};

/// Distinct values kept per artifact.
pub const MAX_DISTINCT: usize = 200_000;
/// Event name of the records made here.
pub const EVENT: &str = "observed";
/// Event name of the record that says an artifact's set was capped.
pub const CAPPED_EVENT: &str = "observed_capped";

const MAX_HOST: usize = 253;
const MAX_URL: usize = 2048;
const MAX_PATH: usize = 1024;
const MAX_PROCESS: usize = 255;

/// Kinds in the order their records are written.
const KINDS: [ObservableType; 7] = [
    ObservableType::Domain,
    ObservableType::Url,
    ObservableType::Email,
    ObservableType::Ipv4,
    ObservableType::Ipv6,
    ObservableType::FilePath,
    ObservableType::Process,
];
const DOMAIN: usize = 0;
const URL: usize = 1;
const EMAIL: usize = 2;
const IPV4: usize = 3;
const IPV6: usize = 4;
const PATH: usize = 5;
const PROCESS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Zone {
    /// The line gave an offset or `Z`.
    Utc,
    /// A civil time without an offset: device-local.
    Local,
    /// Month and day but no year (logcat): device-local, year 2000 stands in.
    NoYear,
}

/// The time at the start of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineTime {
    /// Microseconds since 1970 (a civil time taken as if it were UTC).
    micros: i64,
    zone: Zone,
}

impl LineTime {
    fn text(self) -> String {
        let Ok(ts) = jiff::Timestamp::from_microsecond(self.micros) else {
            return String::new();
        };
        let s = ts.to_string();
        match self.zone {
            Zone::Utc => s,
            Zone::Local => s.trim_end_matches('Z').to_string(),
            Zone::NoYear => s
                .trim_end_matches('Z')
                .trim_start_matches("2000-")
                .to_string(),
        }
    }
}

/// How often, and when first and last, one value was seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub first: Option<LineTime>,
    pub last: Option<LineTime>,
    pub count: u64,
}

impl Seen {
    fn merge(&mut self, o: &Seen) {
        self.count += o.count;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The distinct observables of one artifact (or of one piece of it, to be
/// merged). Also holds the scratch buffers of the extractor, so that lines
/// are read without allocating.
pub struct Observed {
    maps: [HashMap<Box<[u8]>, Seen>; 7],
    len: usize,
    cap: usize,
    /// Bottom-k threshold: once the set overflowed, values hashing above it
    /// are not kept.
    threshold: Option<u64>,
    capped: bool,
    too_long: u64,
    lower: Vec<u8>,
    urls: Vec<UrlSpan>,
}

#[derive(Clone, Copy)]
struct UrlSpan {
    start: usize,
    host: usize,
    host_end: usize,
    end: usize,
}

impl Default for Observed {
    fn default() -> Self {
        Self::new()
    }
}

fn finders() -> &'static (
    memchr::memmem::Finder<'static>,
    memchr::memmem::Finder<'static>,
) {
    static F: OnceLock<(
        memchr::memmem::Finder<'static>,
        memchr::memmem::Finder<'static>,
    )> = OnceLock::new();
    F.get_or_init(|| {
        (
            memchr::memmem::Finder::new(b"://"),
            memchr::memmem::Finder::new(b"::"),
        )
    })
}

impl Observed {
    pub fn new() -> Self {
        Self::with_cap(MAX_DISTINCT)
    }

    pub fn with_cap(cap: usize) -> Self {
        Observed {
            maps: Default::default(),
            len: 0,
            cap: cap.max(1),
            threshold: None,
            capped: false,
            too_long: 0,
            lower: Vec::new(),
            urls: Vec::new(),
        }
    }

    /// Distinct values held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && !self.capped && self.too_long == 0
    }

    /// How often `value` of `kind` was seen (tests, and callers that merge).
    pub fn seen(&self, kind: ObservableType, value: &str) -> Option<Seen> {
        let k = KINDS.iter().position(|x| *x == kind)?;
        self.maps[k].get(value.as_bytes()).copied()
    }

    /// Every line of `text` except those that start where a range of `skip`
    /// starts (the lines a sweep kept whole; `skip` sorted by start).
    pub fn text(&mut self, text: &[u8], skip: &[Range<usize>]) {
        let mut skip = skip.iter().map(|r| r.start).peekable();
        let mut start = 0;
        while start < text.len() {
            let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
            while skip.next_if(|&s| s < start).is_some() {}
            if skip.next_if(|&s| s == start).is_none() {
                self.line(&text[start..end]);
            }
            start = end + 1;
        }
    }

    /// One line (without its newline).
    pub fn line(&mut self, line: &[u8]) {
        let mut at = LineAt { line, time: None };
        self.urls.clear();
        self.urls_in(&mut at);
        self.paths_in(&mut at);
        self.hosts_in(&mut at);
        self.ipv6_in(&mut at);
        self.processes_in(&mut at);
    }

    fn urls_in(&mut self, at: &mut LineAt<'_>) {
        let line = at.line;
        for p in finders().0.find_iter(line) {
            let mut s = p;
            while s > 0 && (line[s - 1].is_ascii_alphanumeric() || b"+.-".contains(&line[s - 1])) {
                s -= 1;
            }
            // The scheme starts with a letter.
            while s < p && !line[s].is_ascii_alphabetic() {
                s += 1;
            }
            if s == p || line[s..p].eq_ignore_ascii_case(b"file") {
                continue;
            }
            let host = p + 3;
            let mut e = host;
            while e < line.len() && is_url_byte(line[e]) {
                e += 1;
            }
            while e > host && b".,;:!?)]}'\"".contains(&line[e - 1]) {
                e -= 1;
            }
            let host_end = line[host..e]
                .iter()
                .position(|b| b"/?#".contains(b))
                .map_or(e, |i| host + i);
            if host_end == host || self.urls.last().is_some_and(|u| s < u.end) {
                continue;
            }
            self.urls.push(UrlSpan {
                start: s,
                host,
                host_end,
                end: e,
            });
            if e - s > MAX_URL {
                // Too long to keep: its host still is.
                self.too_long += 1;
                self.host_token(at, host, host_end);
            } else {
                self.note(URL, &line[s..e], at);
            }
        }
    }

    fn paths_in(&mut self, at: &mut LineAt<'_>) {
        let line = at.line;
        let mut done = 0;
        let mut url = 0;
        for q in memchr::memchr_iter(b'/', line) {
            if q < done {
                continue;
            }
            while url < self.urls.len() && self.urls[url].end <= q {
                url += 1;
            }
            if self.urls.get(url).is_some_and(|u| u.start <= q) {
                continue;
            }
            if q > 0 && (is_path_byte(line[q - 1]) || line[q - 1] == b'/') {
                continue;
            }
            // `file:///private/…`: the path starts at the last slash.
            let mut s = q;
            while line.get(s + 1) == Some(&b'/') {
                s += 1;
            }
            let mut e = s + 1;
            while e < line.len() && (is_path_byte(line[e]) || line[e] == b'/') {
                e += 1;
            }
            done = e;
            while e > s + 1 && line[e - 1] == b'.' {
                e -= 1;
            }
            let path = &line[s..e];
            // Two components at least: `/a/b`, not `/s` in `10 /s`.
            let two = memchr::memchr(b'/', &path[1..]).is_some_and(|i| i + 2 < path.len());
            if !two {
                continue;
            }
            if path.len() > MAX_PATH {
                self.too_long += 1;
                continue;
            }
            self.note(PATH, path, at);
        }
    }

    fn hosts_in(&mut self, at: &mut LineAt<'_>) {
        let line = at.line;
        let mut done = 0;
        let mut url = 0;
        for d in memchr::memchr_iter(b'.', line) {
            if d < done {
                continue;
            }
            let mut l = d;
            while l > 0 && is_host_byte(line[l - 1]) {
                l -= 1;
            }
            let mut r = d + 1;
            while r < line.len() && is_host_byte(line[r]) {
                r += 1;
            }
            done = r;
            // A URL's own host is kept with the URL.
            while url < self.urls.len() && self.urls[url].host_end <= l {
                url += 1;
            }
            if self.urls.get(url).is_some_and(|u| l >= u.host) {
                continue;
            }
            self.host_token(at, l, r);
        }
    }

    /// A run of host bytes at `line[l..r]`: an IPv4 literal, a host, and
    /// with the local part before an `@`, an e-mail address.
    fn host_token(&mut self, at: &mut LineAt<'_>, mut l: usize, mut r: usize) {
        let line = at.line;
        while l < r && matches!(line[l], b'.' | b'-') {
            l += 1;
        }
        while r > l && matches!(line[r - 1], b'.' | b'-') {
            r -= 1;
        }
        let tok = &line[l..r];
        if !tok.contains(&b'.') {
            return;
        }
        if tok.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
            if is_ipv4(tok) {
                self.note(IPV4, tok, at);
            }
            return;
        }
        if tok.len() > MAX_HOST || !is_domain(tok) {
            return;
        }
        self.lower.clear();
        self.lower.extend(tok.iter().map(u8::to_ascii_lowercase));
        let host = std::mem::take(&mut self.lower);
        self.note(DOMAIN, &host, at);
        if l > 1 && line[l - 1] == b'@' {
            let mut k = l - 1;
            while k > 0 && is_local_byte(line[k - 1]) {
                k -= 1;
            }
            while k < l - 1 && line[k] == b'.' {
                k += 1;
            }
            if k < l - 1 {
                let mut email = Vec::with_capacity(r - k);
                email.extend(line[k..l].iter().map(u8::to_ascii_lowercase));
                email.extend_from_slice(&host);
                self.note(EMAIL, &email, at);
            }
        }
        self.lower = host;
    }

    fn ipv6_in(&mut self, at: &mut LineAt<'_>) {
        let line = at.line;
        let mut done = 0;
        for p in finders().1.find_iter(line) {
            if p < done {
                continue;
            }
            let is6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
            let mut l = p;
            while l > 0 && is6(line[l - 1]) {
                l -= 1;
            }
            let mut r = p + 2;
            while r < line.len() && is6(line[r]) {
                r += 1;
            }
            done = r;
            let prev_ok = l == 0 || !line[l - 1].is_ascii_alphanumeric();
            let next_ok = r == line.len() || !line[r].is_ascii_alphanumeric();
            let tok = &line[l..r];
            if !prev_ok || !next_ok || tok.len() < 3 {
                continue;
            }
            let Ok(s) = std::str::from_utf8(tok) else {
                continue;
            };
            if let Ok(ip) = s.parse::<std::net::Ipv6Addr>()
                && !ip.is_unspecified()
            {
                self.lower.clear();
                self.lower.extend(tok.iter().map(u8::to_ascii_lowercase));
                let v = std::mem::take(&mut self.lower);
                self.note(IPV6, &v, at);
                self.lower = v;
            }
        }
    }

    fn processes_in(&mut self, at: &mut LineAt<'_>) {
        let line = at.line;
        for r in crate::textpos::process_tokens(line) {
            if let Some(tok) = line.get(r)
                && !tok.is_empty()
                && tok.len() <= MAX_PROCESS
            {
                self.note(PROCESS, tok, at);
            }
        }
    }

    fn note(&mut self, kind: usize, value: &[u8], at: &mut LineAt<'_>) {
        let t = at.time();
        self.add(
            kind,
            value,
            Seen {
                first: t,
                last: t,
                count: 1,
            },
        );
    }

    fn add(&mut self, kind: usize, value: &[u8], seen: Seen) {
        if let Some(s) = self.maps[kind].get_mut(value) {
            s.merge(&seen);
            return;
        }
        if self.threshold.is_some_and(|t| cap_hash(kind, value) > t) {
            self.capped = true;
            return;
        }
        self.maps[kind].insert(value.into(), seen);
        self.len += 1;
        if self.len >= self.cap.saturating_mul(2) {
            self.prune();
        }
    }

    /// Keeps the `cap` values with the smallest hash.
    fn prune(&mut self) {
        if self.len <= self.cap {
            return;
        }
        let mut hashes: Vec<u64> = Vec::with_capacity(self.len);
        for (k, m) in self.maps.iter().enumerate() {
            hashes.extend(m.keys().map(|v| cap_hash(k, v)));
        }
        let (_, kth, _) = hashes.select_nth_unstable(self.cap - 1);
        let t = *kth;
        for (k, m) in self.maps.iter_mut().enumerate() {
            m.retain(|v, _| cap_hash(k, v) <= t);
        }
        self.len = self.maps.iter().map(HashMap::len).sum();
        self.threshold = Some(self.threshold.map_or(t, |o| o.min(t)));
        self.capped = true;
    }

    /// Adds another piece's set (of the same artifact) to this one.
    pub fn merge(&mut self, other: Observed) {
        self.capped |= other.capped;
        self.too_long += other.too_long;
        if let Some(t) = other.threshold {
            self.threshold = Some(self.threshold.map_or(t, |o| o.min(t)));
        }
        for (k, m) in other.maps.into_iter().enumerate() {
            for (v, s) in m {
                self.add(k, &v, s);
            }
        }
    }

    /// One record per distinct value, sorted by kind then value, and one
    /// more when the set was capped or values were too long to keep.
    pub fn into_records(mut self, module: &str, artifact: &str) -> Vec<Record> {
        self.prune();
        let mut out = Vec::with_capacity(self.len + 1);
        let maps = std::mem::take(&mut self.maps);
        for (k, m) in maps.into_iter().enumerate() {
            let mut entries: Vec<(Box<[u8]>, Seen)> = m.into_iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (v, s) in entries {
                out.push(record(module, artifact, KINDS[k], &v, &s));
            }
        }
        if self.capped || self.too_long > 0 {
            out.push(
                Record::new(module, artifact)
                    .event(
                        CAPPED_EVENT,
                        format!(
                            "{artifact}: not every observable was kept for recheck (at most {} distinct values per artifact; {} too long)",
                            self.cap, self.too_long
                        ),
                    )
                    .field("capped", self.capped)
                    .field("cap", self.cap as u64)
                    .field("kept", self.len as u64)
                    .field("too_long", self.too_long),
            );
        }
        out
    }
}

impl Observed {
    /// The lines of `text` a sweep did not keep whole: those it flagged are
    /// skipped, unless longer than a swept record keeps (`MAX_SWEPT_LINE`).
    pub fn of_swept(text: &[u8], flagged: &[SweptLine]) -> Observed {
        let skip: Vec<Range<usize>> = flagged
            .iter()
            .filter(|l| l.range.len() <= MAX_SWEPT_LINE)
            .map(|l| l.range.clone())
            .collect();
        let mut o = Observed::new();
        o.text(text, &skip);
        o
    }
}

/// Longest flagged line a sweep record keeps whole; a longer one is also
/// read for observables (its tail is not in the record).
pub const MAX_SWEPT_LINE: usize = 4096;

/// The observables of one artifact swept in parallel pieces.
#[derive(Default)]
pub struct Shared(std::sync::Mutex<Observed>);

impl Shared {
    /// `Some` when `sweep` asks for observables to be kept.
    pub fn for_sweep(sweep: &dyn TextSweep) -> Option<Shared> {
        sweep.keeps_observables().then(Shared::default)
    }

    /// Reads one piece (`flagged`: what the sweep found in it).
    pub fn swept(&self, text: &[u8], flagged: &[SweptLine]) {
        let o = Observed::of_swept(text, flagged);
        if let Ok(mut all) = self.0.lock() {
            all.merge(o);
        }
    }

    pub fn into_records(self, module: &str, artifact: &str) -> Vec<Record> {
        self.0
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_records(module, artifact)
    }
}

/// Rows of a large table swept as text lines (one row a line): the typed
/// observables of the rows the sweep did not flag, [`LISTED_CHUNK`] to a
/// record, handed to the scan's sink as they fill so memory stays flat.
pub struct Listed {
    module: &'static str,
    artifact: String,
    sink: Option<std::sync::Arc<dyn crate::options::RecordSink>>,
    /// The observables of the current batch's rows, one after the other,
    /// and where each row's end.
    pending: Vec<crate::model::Observable>,
    row_ends: Vec<usize>,
    chunk: Vec<crate::model::Observable>,
    first_row: usize,
    row: usize,
    kept: usize,
    out: Vec<Record>,
}

/// Observables per `Listed` record.
pub const LISTED_CHUNK: usize = 1000;
/// Observables a `Listed` keeps in all (a row is one path or so).
pub const MAX_LISTED: usize = 2_000_000;
/// Event name of `Listed` records.
pub const LISTED_EVENT: &str = "listed";

impl Listed {
    pub fn new(
        module: &'static str,
        artifact: &str,
        sink: Option<std::sync::Arc<dyn crate::options::RecordSink>>,
    ) -> Self {
        Listed {
            module,
            artifact: artifact.to_string(),
            sink,
            pending: Vec::new(),
            row_ends: Vec::new(),
            chunk: Vec::new(),
            first_row: 1,
            row: 0,
            kept: 0,
            out: Vec::new(),
        }
    }

    /// The next row of the current batch.
    pub fn row(&mut self, observables: Vec<crate::model::Observable>) {
        self.row_from(observables);
    }

    /// [`Self::row`] from an iterator, without a vector a row.
    pub fn row_from(&mut self, observables: impl IntoIterator<Item = crate::model::Observable>) {
        self.pending.extend(observables);
        self.row_ends.push(self.pending.len());
    }

    /// Ends a batch: `flagged` are the lines (1-based, one per row) the
    /// sweep kept as records; the other rows' observables are listed.
    pub fn batch(&mut self, flagged: &[SweptLine]) {
        let mut flagged = flagged.iter().map(|l| l.line_no).peekable();
        // Taken out and put back: the buffers keep their capacity.
        let mut pending = std::mem::take(&mut self.pending);
        let mut ends = std::mem::take(&mut self.row_ends);
        let mut obs = pending.drain(..);
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let row = obs.by_ref().take(end - start);
            start = end;
            self.row += 1;
            while flagged.next_if(|&n| n < i + 1).is_some() {}
            if flagged.next_if(|&n| n == i + 1).is_some() {
                row.for_each(drop);
                continue;
            }
            for o in row {
                if self.kept >= MAX_LISTED {
                    continue;
                }
                self.kept += 1;
                self.chunk.push(o);
                if self.chunk.len() >= LISTED_CHUNK {
                    self.flush();
                }
            }
        }
        drop(obs);
        ends.clear();
        self.pending = pending;
        self.row_ends = ends;
    }

    fn flush(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let mut r = Record::new(self.module, &self.artifact)
            .event(LISTED_EVENT, String::new())
            .field("rows", format!("{}-{}", self.first_row, self.row));
        r.observables = std::mem::take(&mut self.chunk);
        self.first_row = self.row + 1;
        match &self.sink {
            Some(sink) => sink.take(self.module, vec![r]),
            None => self.out.push(r),
        }
    }

    /// The records not handed to the sink, and one saying the list was
    /// capped, if it was.
    pub fn finish(mut self) -> Vec<Record> {
        self.batch(&[]);
        self.flush();
        if self.kept >= MAX_LISTED {
            self.out.push(
                Record::new(self.module, &self.artifact)
                    .event(
                        CAPPED_EVENT,
                        format!(
                            "{}: only the first {MAX_LISTED} observables were kept for recheck",
                            self.artifact
                        ),
                    )
                    .field("capped", true)
                    .field("cap", MAX_LISTED as u64),
            );
        }
        self.out
    }
}

fn record(module: &str, artifact: &str, kind: ObservableType, v: &[u8], s: &Seen) -> Record {
    let mut r = Record::new(module, artifact).event(EVENT, String::new());
    if let Some(f) = s.first {
        r = r.field("first", f.text());
    }
    if let Some(l) = s.last {
        r = r.field("last", l.text());
    }
    r = r.field("count", s.count);
    let zone = [s.first, s.last]
        .into_iter()
        .flatten()
        .map(|t| t.zone)
        .max();
    match zone {
        Some(Zone::Local) => r = r.field("time_zone", crate::time::UNKNOWN_LOCAL),
        Some(Zone::NoYear) => {
            r = r.field(
                "time_zone",
                format!("{}; the log gives no year", crate::time::UNKNOWN_LOCAL),
            )
        }
        _ => {}
    }
    let value = String::from_utf8_lossy(v).into_owned();
    r.observables.push(crate::model::Observable { kind, value });
    r
}

/// FNV-1a: a fixed hash, so the kept sample does not vary between runs.
fn cap_hash(kind: usize, v: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ kind as u64;
    for &b in v {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct LineAt<'a> {
    line: &'a [u8],
    time: Option<Option<LineTime>>,
}

impl LineAt<'_> {
    fn time(&mut self) -> Option<LineTime> {
        *self.time.get_or_insert_with(|| line_time(self.line))
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-~+@%=$#!&^".contains(&b) || b >= 0x80
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}

fn is_url_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f && !b"\"'<>`{}|\\^".contains(&b)
}

fn is_ipv4(tok: &[u8]) -> bool {
    let mut n = 0;
    for part in tok.split(|b| *b == b'.') {
        n += 1;
        if part.is_empty() || part.len() > 3 || n > 4 {
            return false;
        }
        let v = part.iter().fold(0u32, |a, b| a * 10 + (b - b'0') as u32);
        if v > 255 {
            return false;
        }
    }
    n == 4
}

/// Labels of host bytes, none empty or longer than 63 or with a hyphen at
/// an end, two at least, the last a top-level domain.
fn is_domain(tok: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in tok.split(|b| *b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && is_tld(last)
}

fn is_tld(label: &[u8]) -> bool {
    if label.len() > 4 && label[..4].eq_ignore_ascii_case(b"xn--") {
        return true;
    }
    if label.len() < 2 || label.len() > 24 || !label.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut buf = [0u8; 24];
    for (d, s) in buf.iter_mut().zip(label) {
        *d = s.to_ascii_lowercase();
    }
    let key = &buf[..label.len()];
    tlds().binary_search_by(|t| t.as_bytes().cmp(key)).is_ok()
}

fn tlds() -> &'static [&'static str] {
    static T: OnceLock<Vec<&'static str>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<&str> = include_str!("tlds.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        v.sort_unstable();
        v
    })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, frac: i64) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > dim[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 60
        || !(1..=9999).contains(&y)
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59);
    Some(secs * 1_000_000 + frac)
}

/// `.ffffff` at `*i`: microseconds, advancing `*i` past every digit.
fn fraction(b: &[u8], i: &mut usize) -> i64 {
    if b.get(*i) != Some(&b'.') {
        return 0;
    }
    *i += 1;
    let mut v = 0i64;
    let mut n = 0;
    while let Some(c) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        if n < 6 {
            v = v * 10 + (c - b'0') as i64;
            n += 1;
        }
        *i += 1;
    }
    while n < 6 {
        v *= 10;
        n += 1;
    }
    v
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The time a line starts with, in the forms iOS and Android logs use:
/// `2024-01-02 03:04:05.123456 +0200` (or `T`, `Z`, `+02:00`, no offset),
/// `Tue Jan  2 02:08:13 2024`, `01/02/24 02:55:45.978543`, and logcat's
/// yearless `01-06 19:22:26.600`.
fn line_time(b: &[u8]) -> Option<LineTime> {
    let at = |i: usize| b.get(i).copied();
    if at(4) == Some(b'-')
        && at(7) == Some(b'-')
        && matches!(at(10), Some(b' ' | b'T'))
        && at(13) == Some(b':')
        && at(16) == Some(b':')
    {
        let mut i = 19;
        let frac = fraction(b, &mut i);
        let local = civil(
            digits(b, 0, 4)?,
            digits(b, 5, 2)?,
            digits(b, 8, 2)?,
            digits(b, 11, 2)?,
            digits(b, 14, 2)?,
            digits(b, 17, 2)?,
            frac,
        )?;
        if at(i) == Some(b' ') && matches!(at(i + 1), Some(b'+' | b'-')) {
            i += 1;
        }
        return Some(match at(i) {
            Some(b'Z') => LineTime {
                micros: local,
                zone: Zone::Utc,
            },
            Some(sign @ (b'+' | b'-')) => {
                let hh = digits(b, i + 1, 2)?;
                let mm = if at(i + 3) == Some(b':') {
                    digits(b, i + 4, 2)?
                } else {
                    digits(b, i + 3, 2).unwrap_or(0)
                };
                let off = (hh * 3600 + mm * 60) * 1_000_000;
                LineTime {
                    micros: if sign == b'+' {
                        local - off
                    } else {
                        local + off
                    },
                    zone: Zone::Utc,
                }
            }
            _ => LineTime {
                micros: local,
                zone: Zone::Local,
            },
        });
    }
    if at(2) == Some(b'-') && at(5) == Some(b' ') && at(8) == Some(b':') && at(11) == Some(b':') {
        let mut i = 14;
        let frac = fraction(b, &mut i);
        let micros = civil(
            2000,
            digits(b, 0, 2)?,
            digits(b, 3, 2)?,
            digits(b, 6, 2)?,
            digits(b, 9, 2)?,
            digits(b, 12, 2)?,
            frac,
        )?;
        return Some(LineTime {
            micros,
            zone: Zone::NoYear,
        });
    }
    if at(2) == Some(b'/') && at(5) == Some(b'/') && at(8) == Some(b' ') && at(11) == Some(b':') {
        let mut i = 17;
        let frac = fraction(b, &mut i);
        let micros = civil(
            2000 + digits(b, 6, 2)?,
            digits(b, 0, 2)?,
            digits(b, 3, 2)?,
            digits(b, 9, 2)?,
            digits(b, 12, 2)?,
            digits(b, 15, 2)?,
            frac,
        )?;
        return Some(LineTime {
            micros,
            zone: Zone::Local,
        });
    }
    if at(3) == Some(b' ') && at(7) == Some(b' ') && at(13) == Some(b':') && at(19) == Some(b' ') {
        let mon = b.get(4..7)?;
        let mo = MONTHS.iter().position(|m| m.as_slice() == mon)? as i64 + 1;
        let day = if at(8) == Some(b' ') {
            digits(b, 9, 1)?
        } else {
            digits(b, 8, 2)?
        };
        let micros = civil(
            digits(b, 20, 4)?,
            mo,
            day,
            digits(b, 11, 2)?,
            digits(b, 14, 2)?,
            digits(b, 17, 2)?,
            0,
        )?;
        return Some(LineTime {
            micros,
            zone: Zone::Local,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObservableType as T;

    fn of(text: &[u8]) -> Observed {
        let mut o = Observed::new();
        o.text(text, &[]);
        o
    }

    fn values(o: &Observed, kind: T) -> Vec<String> {
        let k = KINDS.iter().position(|x| *x == kind).unwrap();
        let mut v: Vec<String> = o.maps[k]
            .keys()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn kinds_are_told_apart() {
        let o = of(b"2024-01-02 02:23:11.000001 +0200 nsurlsessiond[211] <Notice>: connect to Fresh-IOC.example-evil.net:443 \
            via https://cdn.example.org/a/b.js?x=1, mail Bob.Smith@Example.COM, ip 10.1.2.3:80 and [fe80::1%en0], \
            read /private/var/tmp/x.plist; lib libc.dylib com.apple.springboard 12:00:01.5 v1.2.3 1.2.3.4.5\n");
        assert_eq!(
            values(&o, T::Domain),
            ["example.com", "fresh-ioc.example-evil.net"]
        );
        assert_eq!(values(&o, T::Url), ["https://cdn.example.org/a/b.js?x=1"]);
        assert_eq!(values(&o, T::Email), ["bob.smith@example.com"]);
        assert_eq!(values(&o, T::Ipv4), ["10.1.2.3"]);
        assert_eq!(values(&o, T::Ipv6), ["fe80::1"]);
        assert_eq!(values(&o, T::FilePath), ["/private/var/tmp/x.plist"]);
        let s = o.seen(T::Domain, "fresh-ioc.example-evil.net").unwrap();
        assert_eq!(s.first.unwrap().text(), "2024-01-02T00:23:11.000001Z");
        assert_eq!(s.count, 1);
    }

    #[test]
    fn process_names_only_from_process_positions() {
        let o = of(b"2024-01-02 02:30:00.000000 +0200 freshspyd[4242] <Notice>: the proseonlyd daemon said hi\n");
        assert_eq!(values(&o, T::Process), ["freshspyd"]);
    }

    #[test]
    fn near_misses_are_not_hosts() {
        let o = of(b"notfresh-ioc.example-evil.net.other foo.txt libc.so.6 x_y.plist 1.2.3 a..b.com -lead.com.\n");
        // `libc.so` is a real TLD shape (Somalia) but `.6` ends the token.
        assert_eq!(values(&o, T::Domain), ["lead.com"]);
        assert!(values(&o, T::Ipv4).is_empty());
    }

    #[test]
    fn paths_need_two_components_and_skip_urls() {
        let o = of(b"10 /s and/or /bin/sh file:///private/var/db/x (at /usr/lib/dyld:12) https://h.com/a/b //c/d\n");
        assert_eq!(
            values(&o, T::FilePath),
            ["/bin/sh", "/c/d", "/private/var/db/x", "/usr/lib/dyld"]
        );
        assert_eq!(values(&o, T::Url), ["https://h.com/a/b"]);
        assert!(
            values(&o, T::Domain).is_empty(),
            "the URL's host stays with the URL"
        );
    }

    #[test]
    fn counts_and_times_across_lines_and_merges() {
        let mut a = Observed::new();
        a.text(
            b"Tue Jan  2 02:08:13 2024 [1] to evil.com\nno time evil.com\nMon Jan  1 10:00:00 2024 evil.com\n",
            &[],
        );
        let mut b = Observed::new();
        b.text(b"01/03/24 02:55:45.978543 pid=76 evil.com\n", &[]);
        a.merge(b);
        let s = a.seen(T::Domain, "evil.com").unwrap();
        assert_eq!(s.count, 4);
        assert_eq!(s.first.unwrap().text(), "2024-01-01T10:00:00");
        assert_eq!(s.last.unwrap().text(), "2024-01-03T02:55:45.978543");
        let recs = a.into_records("m", "art");
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].fields.get("time_zone").unwrap(),
            "unknown, device-local"
        );
        assert_eq!(recs[0].fields.get("count").unwrap(), 4);
    }

    #[test]
    fn logcat_times_have_no_year() {
        let o = of(b"01-06 19:22:26.600 I/Vold    (  110): fetch http://a.example.net/x\n");
        let s = o.seen(T::Url, "http://a.example.net/x").unwrap();
        assert_eq!(s.first.unwrap().text(), "01-06T19:22:26.6");
        assert_eq!(s.first.unwrap().zone, Zone::NoYear);
    }

    #[test]
    fn skipped_lines_are_not_read() {
        let text = b"a.example.com\nb.example.com\nc.example.com";
        let mut o = Observed::new();
        o.text(text, std::slice::from_ref(&(14..27)));
        assert_eq!(values(&o, T::Domain), ["a.example.com", "c.example.com"]);
    }

    #[test]
    fn any_bytes_are_safe() {
        // Invalid UTF-8, NULs, lone separators, a line without newline at EOF.
        let mut text: Vec<u8> = Vec::new();
        for b in 0..=255u8 {
            text.extend_from_slice(&[b, b'.', b'/', b':', b'@', b'\xff', b]);
        }
        text.extend_from_slice(
            b"\xff\xfe evil\xc3.com \xe2\x82/\xffa/b :: ::: @.com a@ @ . / // http:// https://\xff",
        );
        let o = of(&text);
        assert!(o.len() < 50);
        let o = of(b"last line without newline evil.example.com");
        assert_eq!(values(&o, T::Domain), ["evil.example.com"]);
        // Non-ASCII in a path is kept as it is (lossy only when written).
        let o = of("/private/var/mobile/Média/x y\n".as_bytes());
        assert_eq!(values(&o, T::FilePath), ["/private/var/mobile/Média/x"]);
    }

    #[test]
    fn very_long_lines() {
        let mut line = vec![b'a'; 3_000_000];
        line.extend_from_slice(b" x.evil.com /");
        line.extend(std::iter::repeat_n(b'b', 5000));
        line.extend_from_slice(b"/c https://h.com/");
        line.extend(std::iter::repeat_n(b'q', 5000));
        let o = of(&line);
        assert_eq!(values(&o, T::Domain), ["h.com", "x.evil.com"]);
        assert!(values(&o, T::FilePath).is_empty());
        assert_eq!(o.too_long, 2);
    }

    #[test]
    fn cap_keeps_a_sample_that_does_not_depend_on_order() {
        let lines: Vec<String> = (0..1000).map(|i| format!("h{i}.example.com\n")).collect();
        let mut fwd = Observed::with_cap(100);
        for l in &lines {
            fwd.text(l.as_bytes(), &[]);
        }
        let mut back = Observed::with_cap(100);
        let mut half = Observed::with_cap(100);
        for (i, l) in lines.iter().rev().enumerate() {
            if i % 2 == 0 {
                back.text(l.as_bytes(), &[]);
            } else {
                half.text(l.as_bytes(), &[]);
            }
        }
        back.merge(half);
        let a = fwd.into_records("m", "a");
        let b = back.into_records("m", "a");
        assert_eq!(a.len(), 101);
        assert_eq!(a, b);
        assert_eq!(a.last().unwrap().event, CAPPED_EVENT);
    }

    #[test]
    fn times_are_checked() {
        assert!(line_time(b"2024-02-30 00:00:00 x").is_none());
        assert!(line_time(b"2024-01-02T03:04:05Z").is_some_and(|t| t.zone == Zone::Utc));
        assert_eq!(
            line_time(b"2024-01-02T03:04:05-01:30 x").unwrap().text(),
            "2024-01-02T04:34:05Z"
        );
        assert!(line_time(b"Foo Bar 99 99:99:99 2024").is_none());
        assert!(line_time(b"").is_none());
        assert!(line_time(b"2024-01-02").is_none());
    }
}
