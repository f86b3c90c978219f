//! The compiled indicator set: hash lookups for typed observables, a
//! q-gram filter with exact checks for free text (`prefilter`). Built once, `Send + Sync`, shared
//! by every worker.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Range};

use foldhash::fast::FixedState;

use super::normalize::{self, base_name};
use super::prefilter::{self, Prefilter};
use super::stock::StockNames;
use super::{Indicator, IndicatorSet};
use crate::model::{Observable, ObservableType as T};
use crate::options::{SweptLine, TextSweep};

/// Shortest indicator searched for inside free text (`prefilter::MIN_NEEDLE`):
/// shorter names (Pegasus's `bh`, `fmld`, `pcsd`) would fire on ordinary
/// words, so they are matched only where a module gives a typed value.
pub const MIN_TEXT_LEN: usize = prefilter::MIN_NEEDLE;

/// Indicator strings to what they stand for, and the lengths they have.
/// Nearly every value a device gives is no key, and most are ruled out by
/// their length before anything is hashed; the rest hash with foldhash, not
/// SipHash (the keys are the indicators and the map is never iterated, so
/// neither flooding nor order matters).
struct Keys<V> {
    map: HashMap<String, V, FixedState>,
    /// Bit `n`: some key is `n` bytes long (`n < 256`).
    lens: [u64; 4],
    /// Some key is 256 bytes or longer.
    long: bool,
}

impl<V> Default for Keys<V> {
    fn default() -> Self {
        Keys {
            map: HashMap::default(),
            lens: [0; 4],
            long: false,
        }
    }
}

impl<V: Default> Keys<V> {
    fn entry(&mut self, key: String) -> &mut V {
        match self.lens.get_mut(key.len() / 64) {
            Some(word) => *word |= 1 << (key.len() % 64),
            None => self.long = true,
        }
        self.map.entry(key).or_default()
    }
}

impl<V> Keys<V> {
    fn get(&self, key: &str) -> Option<&V> {
        let n = key.len();
        let has_len = match self.lens.get(n / 64) {
            Some(word) => word & (1 << (n % 64)) != 0,
            None => self.long,
        };
        if has_len { self.map.get(key) } else { None }
    }
}

/// One indicator matched by one observable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index into `Matcher::indicators()`.
    pub indicator: usize,
    /// What was found on the device, typed as the indicator it matched
    /// (for text: the matching token, e.g. the full host name).
    pub found: Observable,
    /// Found inside free text or a path rather than in a typed field.
    pub in_text: bool,
    /// How the match was made, for the finding's message.
    pub how: MatchHow,
    /// For a name found in free text as the last component of a path: that
    /// whole path (the stock-name check compares it with the stock paths).
    pub path: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchHow {
    Exact,
    SubDomain,
    /// A 15/16-character process name that an indicator starts with.
    TruncatedProcess,
    UnderFolder,
    BaseName,
    UrlHost,
    InText,
}

/// A needle searched in free text: one string, the indicators it stands for.
struct Needle {
    indicators: Vec<u32>,
}

pub struct Matcher {
    set: IndicatorSet,
    /// Exact values per type (indexed by `T as usize`).
    exact: [Keys<Vec<u32>>; T::ALL.len()],
    /// Folder indicators (`file:path` ending in `/`), keyed without the slash.
    folders: Keys<Vec<u32>>,
    /// Relative `file:path` indicators, matched as a path suffix.
    relative_paths: Keys<Vec<u32>>,
    /// Process indicators in order, for the truncated-name prefix lookup.
    processes: BTreeMap<String, Vec<u32>>,
    /// `host/path` indicators by host.
    url_paths: Keys<Vec<(String, u32)>>,
    /// Free text: a strided q-gram filter over the lower-cased needles
    /// whose hits are checked against the needles themselves.
    prefilter: Prefilter,
    needles: Vec<Needle>,
    /// Published names that are also stock names (`indicators-meta/`).
    stock: StockNames,
}

fn push(map: &mut [Keys<Vec<u32>>], kind: T, value: String, i: u32) {
    let v = map[kind as usize].entry(value);
    if !v.contains(&i) {
        v.push(i);
    }
}

impl Matcher {
    pub fn new(set: IndicatorSet) -> Self {
        // The free-text needles first: their prefilter (the larger part of
        // the build) is then built on a second thread while the exact
        // tables are filled here. A scan waits for the matcher at its start.
        let (needle_strings, needles) = Self::needles(&set);
        let (tables, prefilter) = std::thread::scope(|scope| {
            let prefilter = std::thread::Builder::new()
                .name("spydar-prefilter".into())
                .spawn_scoped(scope, || Prefilter::new(&needle_strings));
            let tables = Tables::new(&set);
            let prefilter = match prefilter {
                Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                // No thread to be had: built here, after the tables.
                Err(_) => Prefilter::new(&needle_strings),
            };
            (tables, prefilter)
        });
        Matcher {
            exact: tables.exact,
            folders: tables.folders,
            relative_paths: tables.relative_paths,
            processes: tables.processes,
            url_paths: tables.url_paths,
            set,
            prefilter,
            needles,
            stock: StockNames::bundled(),
        }
    }

    /// The distinct lower-cased values free text is searched for, and the
    /// indicators of each.
    fn needles(set: &IndicatorSet) -> (Vec<String>, Vec<Needle>) {
        let mut needle_index: HashMap<String, usize, FixedState> = HashMap::default();
        let mut needle_strings: Vec<String> = Vec::new();
        let mut needles: Vec<Needle> = Vec::new();
        for (i, ind) in set.indicators.iter().enumerate() {
            let searchable = match ind.kind {
                T::Text => false,
                _ => ind.value.len() >= MIN_TEXT_LEN,
            };
            if searchable {
                let key = ind.value.to_ascii_lowercase();
                let n = *needle_index.entry(key.clone()).or_insert_with(|| {
                    needle_strings.push(key);
                    needles.push(Needle {
                        indicators: Vec::new(),
                    });
                    needles.len() - 1
                });
                needles[n].indicators.push(i as u32);
            }
        }
        (needle_strings, needles)
    }

    /// Replaces the stock-name list (the bundled one is the default).
    pub fn with_stock_names(mut self, stock: StockNames) -> Self {
        self.stock = stock;
        self
    }

    pub fn stock_names(&self) -> &StockNames {
        &self.stock
    }

    pub fn indicators(&self) -> &[Indicator] {
        &self.set.indicators
    }

    pub fn indicator(&self, i: usize) -> &Indicator {
        &self.set.indicators[i]
    }

    pub fn set(&self) -> &IndicatorSet {
        &self.set
    }

    fn lookup(&self, kind: T, value: &str) -> &[u32] {
        self.exact[kind as usize]
            .get(value)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn hits(
        &self,
        out: &mut Vec<Hit>,
        ids: &[u32],
        kind: T,
        found: &str,
        in_text: bool,
        how: MatchHow,
    ) {
        for &i in ids {
            let hit = Hit {
                indicator: i as usize,
                found: Observable {
                    kind,
                    value: found.to_string(),
                },
                in_text,
                how,
                path: None,
            };
            if !out.contains(&hit) {
                out.push(hit);
            }
        }
    }

    /// Every indicator `obs` matches.
    pub fn match_observable(&self, obs: &Observable) -> Vec<Hit> {
        let mut out = Vec::new();
        if obs.kind == T::Text {
            for (_, hit) in self.text_hits(obs.value.as_bytes()) {
                if !out.contains(&hit) {
                    out.push(hit);
                }
            }
            return out;
        }
        let v = normalize::trim(&obs.value);
        match obs.kind {
            T::Domain => self.match_host(&mut out, v, v, false),
            T::Url => self.match_url(&mut out, v),
            T::Process => self.match_process(&mut out, v),
            T::FilePath => self.match_path(&mut out, v),
            T::FileName => self.hits(
                &mut out,
                self.lookup(T::FileName, base_name(v)),
                T::FileName,
                v,
                false,
                MatchHow::Exact,
            ),
            T::Ipv4
            | T::Ipv6
            | T::Email
            | T::Sha256
            | T::Sha1
            | T::Md5
            | T::CertHash
            | T::AppId
            | T::ProfileId
            | T::AndroidProperty => {
                if let Some(n) = normalize::value_of(obs.kind, v) {
                    self.hits(
                        &mut out,
                        self.lookup(obs.kind, &n),
                        obs.kind,
                        v,
                        false,
                        MatchHow::Exact,
                    );
                }
            }
            T::Text => {}
        }
        // A typed observable is reported as it was found (a URL stays a URL
        // even when its host matched a domain indicator).
        for hit in &mut out {
            hit.found = obs.clone();
        }
        out.dedup_by(|a, b| a.indicator == b.indicator);
        out
    }

    /// A host matches a domain indicator for itself and every parent domain,
    /// label-wise; an IP literal matches IP indicators.
    fn match_host(&self, out: &mut Vec<Hit>, host: &str, found: &str, in_text: bool) {
        // (`contains("://") || contains('/')`: the first implies the second.)
        if memchr::memchr(b'/', host.as_bytes()).is_some() {
            return self.match_url(out, host);
        }
        let h = normalize::trim(host);
        let h = if h.starts_with(['[', ']']) || h.ends_with(['[', ']']) {
            h.trim_matches(['[', ']'])
        } else {
            h
        };
        // A host with a port (`evil.com:443`), but not an IPv6 literal.
        let colon = memchr::memrchr(b':', h.as_bytes());
        let h = match colon.map(|i| (&h[..i], &h[i + 1..])) {
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => h,
        };
        if normalize::may_be_ip(h)
            && let Ok(ip) = h.parse::<std::net::IpAddr>()
        {
            let kind = if ip.is_ipv4() { T::Ipv4 } else { T::Ipv6 };
            self.hits(
                out,
                self.lookup(kind, &ip.to_string()),
                kind,
                found,
                in_text,
                MatchHow::Exact,
            );
            return;
        }
        let Some(norm) = normalize::domain_cow(h) else {
            return;
        };
        let mut suffix: &str = &norm;
        let mut how = MatchHow::Exact;
        loop {
            self.hits(
                out,
                self.lookup(T::Domain, suffix),
                T::Domain,
                found,
                in_text,
                how,
            );
            match memchr::memchr(b'.', suffix.as_bytes()).map(|i| &suffix[i + 1..]) {
                Some(parent) if !parent.is_empty() => {
                    suffix = parent;
                    how = MatchHow::SubDomain;
                }
                _ => break,
            }
        }
    }

    fn match_url(&self, out: &mut Vec<Hit>, url: &str) {
        let key = normalize::url_key_cow(url);
        self.hits(
            out,
            self.lookup(T::Url, &key),
            T::Url,
            url,
            false,
            MatchHow::Exact,
        );
        let Some((host, rest)) = normalize::url_host(url) else {
            return;
        };
        let before = out.len();
        self.match_host(out, host, url, false);
        for hit in &mut out[before..] {
            hit.how = MatchHow::UrlHost;
        }
        if let Some(norm) = normalize::domain_cow(host)
            && let Some(paths) = self.url_paths.get(&norm)
        {
            for (path, i) in paths {
                let boundary = rest
                    .strip_prefix(path.as_str())
                    .is_some_and(|after| after.is_empty() || after.starts_with(['/', '?', '#']));
                if boundary && !self.lookup(T::Url, &key).contains(i) {
                    self.hits(out, &[*i], T::Url, url, false, MatchHow::Exact);
                }
            }
        }
    }

    /// Exact base name; a 15/16-character name also matches the indicators it
    /// is a prefix of, because iOS truncates process names.
    fn match_process(&self, out: &mut Vec<Hit>, value: &str) {
        let name = base_name(value);
        self.hits(
            out,
            self.lookup(T::Process, name),
            T::Process,
            value,
            false,
            MatchHow::Exact,
        );
        if matches!(name.len(), 15 | 16) {
            let from: (Bound<&str>, Bound<&str>) = (Bound::Included(name), Bound::Unbounded);
            for (full, ids) in self.processes.range::<str, _>(from) {
                if !full.starts_with(name) {
                    break;
                }
                if full.len() > name.len() {
                    self.hits(
                        out,
                        ids,
                        T::Process,
                        value,
                        false,
                        MatchHow::TruncatedProcess,
                    );
                }
            }
        }
    }

    /// Exact path, under a folder indicator (at a `/` boundary), a relative
    /// indicator as a path suffix, and file-name indicators by base name.
    fn match_path(&self, out: &mut Vec<Hit>, path: &str) {
        self.hits(
            out,
            self.lookup(T::FilePath, path),
            T::FilePath,
            path,
            false,
            MatchHow::Exact,
        );
        let trimmed = normalize::trim_end_byte(path, b'/');
        if let Some(ids) = self.folders.get(trimmed) {
            self.hits(out, ids, T::FilePath, path, false, MatchHow::Exact);
        }
        for pos in memchr::memchr_iter(b'/', trimmed.as_bytes()) {
            if pos > 0
                && let Some(ids) = self.folders.get(&trimmed[..pos])
            {
                self.hits(out, ids, T::FilePath, path, false, MatchHow::UnderFolder);
            }
            if let Some(ids) = self.relative_paths.get(&trimmed[pos + 1..]) {
                self.hits(out, ids, T::FilePath, path, false, MatchHow::Exact);
            }
        }
        if let Some(ids) = self.relative_paths.get(trimmed) {
            self.hits(out, ids, T::FilePath, path, false, MatchHow::Exact);
        }
        let base = base_name(path);
        self.hits(
            out,
            self.lookup(T::FileName, base),
            T::FileName,
            path,
            false,
            MatchHow::BaseName,
        );
    }

    /// Every indicator mentioned in `text`, confirmed at token boundaries,
    /// with the byte range of the token that matched. One filter pass.
    pub fn text_hits(&self, text: &[u8]) -> Vec<(Range<usize>, Hit)> {
        let mut out: Vec<(Range<usize>, Hit)> = Vec::new();
        let mut seen: std::collections::HashSet<(usize, usize, u32)> =
            std::collections::HashSet::new();
        let mut found: Vec<(usize, Range<usize>)> = Vec::new();
        self.prefilter.find(text, |n, at| found.push((n, at)));
        // In the order an overlapping automaton reports them (by end, the
        // longer first at one end), so hits come out as they always did.
        found.sort_unstable_by_key(|(_, at)| (at.end, std::cmp::Reverse(at.len())));
        let mut line_cache = LineCache::default();
        for (n, at) in found {
            self.confirm_needle(&mut out, &mut seen, &mut line_cache, text, n, at);
        }
        out
    }

    fn confirm_needle(
        &self,
        out: &mut Vec<(Range<usize>, Hit)>,
        seen: &mut std::collections::HashSet<(usize, usize, u32)>,
        line_cache: &mut LineCache,
        text: &[u8],
        needle: usize,
        at: Range<usize>,
    ) {
        for &i in &self.needles[needle].indicators {
            let ind = &self.set.indicators[i as usize];
            let Some(range) = confirm(ind, text, at.start, at.end) else {
                continue;
            };
            if !seen.insert((range.start, range.end, i)) {
                continue;
            }
            // A name is a process (or a file) only where the text says so:
            // `payload` in prose is a word. Checked on confirmed hits only.
            let mut path = None;
            if matches!(ind.kind, T::Process | T::FileName) {
                let (ls, line, tokens) = line_cache.get(text, range.clone());
                let rel = range.start - ls..range.end - ls;
                if !tokens.contains(&rel) {
                    continue;
                }
                path = crate::textpos::enclosing_path(line, rel)
                    .map(|r| String::from_utf8_lossy(&line[r]).into_owned());
            }
            let found = String::from_utf8_lossy(&text[range.clone()]).to_string();
            let hit = Hit {
                indicator: i as usize,
                found: Observable {
                    kind: ind.kind,
                    value: found,
                },
                in_text: true,
                how: MatchHow::InText,
                path,
            };
            out.push((range, hit));
        }
    }

    /// Whether any indicator is mentioned in `text` (the sweep's fast path).
    pub fn text_mentions_any(&self, text: &[u8]) -> bool {
        !self.text_hits(text).is_empty()
    }
}

/// The process tokens of the line last asked about, so a long line with
/// many name hits is read once, not once per hit.
#[derive(Default)]
struct LineCache {
    line: Range<usize>,
    tokens: Vec<Range<usize>>,
}

impl LineCache {
    /// The line holding `hit` (its start, its bytes) and its process tokens.
    fn get<'t>(&mut self, text: &'t [u8], hit: Range<usize>) -> (usize, &'t [u8], &[Range<usize>]) {
        if !(self.line.start <= hit.start && hit.end <= self.line.end && !self.line.is_empty()) {
            let ls = memchr::memrchr(b'\n', &text[..hit.start]).map_or(0, |p| p + 1);
            let le = memchr::memchr(b'\n', &text[hit.end..]).map_or(text.len(), |p| hit.end + p);
            self.line = ls..le;
            self.tokens = crate::textpos::process_tokens(&text[ls..le]);
        }
        (self.line.start, &text[self.line.clone()], &self.tokens)
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.-~".contains(&b)
}

/// Confirms an automaton hit of `ind` at `text[s..e]` at token boundaries,
/// returning the range of the token as found (for a domain, the whole host
/// including sub-domains).
fn confirm(ind: &Indicator, text: &[u8], s: usize, e: usize) -> Option<Range<usize>> {
    let prev = if s > 0 { Some(text[s - 1]) } else { None };
    let next = text.get(e).copied();
    let next2 = text.get(e + 1).copied();
    // `.` ends a sentence, but `.x` continues a dotted name.
    let dotted_continues = next == Some(b'.') && next2.is_some_and(is_word_byte);
    match ind.kind {
        T::Domain => {
            if prev.is_some_and(|p| p != b'.' && is_host_byte(p)) {
                return None;
            }
            if next.is_some_and(|n| n != b'.' && is_host_byte(n))
                || (next == Some(b'.') && next2.is_some_and(is_host_byte) && next2 != Some(b'.'))
            {
                return None;
            }
            let mut l = s;
            while l > 0 && is_host_byte(text[l - 1]) {
                l -= 1;
            }
            while l < s && text[l] == b'.' {
                l += 1;
            }
            Some(l..e)
        }
        T::Ipv4 | T::Ipv6 => {
            let bad = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b':';
            if prev.is_some_and(bad)
                || (next.is_some_and(|n| n != b'.' && bad(n)))
                || (next == Some(b'.') && next2.is_some_and(|b| b.is_ascii_digit()))
            {
                return None;
            }
            Some(s..e)
        }
        T::Url => {
            if prev.is_some_and(|p| p != b'.' && is_host_byte(p)) {
                return None;
            }
            if next.is_some_and(|n| is_path_byte(n) || n == b'%') && !dotted_end(next, next2) {
                return None;
            }
            let mut l = s;
            while l > 0 && is_host_byte(text[l - 1]) {
                l -= 1;
            }
            Some(l..e)
        }
        T::Email => {
            if prev.is_some_and(|p| is_word_byte(p) || b".%+-".contains(&p))
                || next.is_some_and(|n| is_word_byte(n) || n == b'-')
                || dotted_continues
            {
                return None;
            }
            Some(s..e)
        }
        T::Sha256 | T::Sha1 | T::Md5 | T::CertHash => {
            if prev.is_some_and(|p| p.is_ascii_alphanumeric())
                || next.is_some_and(|n| n.is_ascii_alphanumeric())
            {
                return None;
            }
            Some(s..e)
        }
        T::FilePath => {
            let v = ind.value.as_bytes();
            // `/x/private/var/tmp` is not `/private/var/tmp`; `file:///private/...` is.
            if prev.is_some_and(is_path_byte) {
                return None;
            }
            let folder = v.last() == Some(&b'/');
            if !folder && next.is_some_and(is_path_byte) && !dotted_end(next, next2) {
                return None;
            }
            Some(s..e)
        }
        T::Process | T::FileName | T::AndroidProperty => {
            // Case matters for these names.
            if &text[s..e] != ind.value.as_bytes() {
                return None;
            }
            identifier_bounds(prev, next, dotted_continues).then_some(s..e)
        }
        T::AppId | T::ProfileId => identifier_bounds(prev, next, dotted_continues).then_some(s..e),
        T::Text => None,
    }
}

/// `x.` at the end of a sentence: a dot followed by nothing word-like.
fn dotted_end(next: Option<u8>, next2: Option<u8>) -> bool {
    next == Some(b'.') && !next2.is_some_and(is_word_byte)
}

fn identifier_bounds(prev: Option<u8>, next: Option<u8>, dotted_continues: bool) -> bool {
    let left_ok = !prev.is_some_and(|p| is_word_byte(p) || p == b'.' || p == b'-');
    let right_ok = !next.is_some_and(is_word_byte) && !dotted_continues;
    left_ok && right_ok
}

impl TextSweep for Matcher {
    fn keeps_observables(&self) -> bool {
        true
    }

    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
        let mut hits: Vec<usize> = self
            .text_hits(text)
            .into_iter()
            .map(|(r, _)| r.start)
            .collect();
        hits.sort_unstable();
        hits.dedup();
        let mut out: Vec<SweptLine> = Vec::new();
        let mut line_no = 1;
        let mut counted_to = 0;
        for pos in hits {
            let start = memchr::memrchr(b'\n', &text[..pos]).map_or(0, |i| i + 1);
            if out.last().is_some_and(|l| l.range.start == start) {
                continue;
            }
            line_no += memchr::memchr_iter(b'\n', &text[counted_to..start]).count();
            counted_to = start;
            let mut end = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |i| pos + i);
            if end > start && text[end - 1] == b'\r' {
                end -= 1;
            }
            out.push(SweptLine {
                line_no,
                range: start..end,
            });
        }
        out
    }
}

/// The exact-value tables of a [`Matcher`], filled from its indicators.
struct Tables {
    exact: [Keys<Vec<u32>>; T::ALL.len()],
    folders: Keys<Vec<u32>>,
    relative_paths: Keys<Vec<u32>>,
    processes: BTreeMap<String, Vec<u32>>,
    url_paths: Keys<Vec<(String, u32)>>,
}

impl Tables {
    fn new(set: &IndicatorSet) -> Self {
        let mut exact: [Keys<Vec<u32>>; T::ALL.len()] = std::array::from_fn(|_| Keys::default());
        let mut folders: Keys<Vec<u32>> = Keys::default();
        let mut relative_paths: Keys<Vec<u32>> = Keys::default();
        let mut processes: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut url_paths: Keys<Vec<(String, u32)>> = Keys::default();
        for (i, ind) in set.indicators.iter().enumerate() {
            let i = i as u32;
            let v = ind.value.as_str();
            match ind.kind {
                T::FilePath if v.ends_with('/') => {
                    folders.entry(v.trim_end_matches('/').to_string()).push(i);
                }
                T::FilePath if !v.starts_with('/') => {
                    relative_paths.entry(v.to_string()).push(i);
                }
                T::Process => {
                    processes.entry(v.to_string()).or_default().push(i);
                    push(&mut exact, T::Process, v.to_string(), i);
                }
                T::Url => {
                    if let Some((host, rest)) = normalize::url_host(v)
                        && !rest.is_empty()
                    {
                        url_paths
                            .entry(host.to_string())
                            .push((rest.to_string(), i));
                    }
                    push(&mut exact, T::Url, v.to_string(), i);
                }
                kind => push(&mut exact, kind, v.to_string(), i),
            }
        }
        Tables {
            exact,
            folders,
            relative_paths,
            processes,
            url_paths,
        }
    }
}
