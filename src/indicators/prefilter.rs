//! A strided q-gram filter with exact checks: the free-text search.
//!
//! With thousands of needles, an Aho-Corasick automaton has no prefilter and
//! its DFA does not fit in cache, so it crawls through ordinary log text
//! (about 300 MB/s here). This filter probes the text only every 4th byte.
//!
//! - A needle of 11 bytes or more covers eight consecutive 4-byte windows;
//!   at whatever alignment it sits, some multiple of 4 starts one of its
//!   first four windows, and the window 4 bytes on is its too. The filter
//!   stores those (window, window + 4) pairs, so a probe is one 8-byte
//!   sequence: ordinary words shared with an indicator (`apple`, `update`,
//!   `/private/var/mobile/`) rarely make a hit.
//! - A needle of 5 to 10 bytes covers two consecutive windows, one of which
//!   starts at an even offset: those two windows go in a second table,
//!   probed every 2nd byte.
//!
//! The windows stored are chosen where the needle avoids common log words.
//! A hit is checked against the keys themselves (which needles stored this
//! pair or window, at which offset) and then the needle's bytes, so
//! `Prefilter::find` reports every occurrence exactly, with no automaton
//! behind it. A needle shorter than 5 bytes is never searched in text.
//!
//! Where the CPU has AVX2 (detected at run time; the build targets plain
//! x86-64), the tables take a vector layout: 32-bit hashes and words, so
//! that eight positions are hashed per step and each table is read with one
//! gather, 2.4x the scalar loop's speed (benches/results/matcher.txt).
//! Elsewhere (aarch64, old x86) the scalar layout and loop are unchanged.

use std::ops::Range;

/// Whether the block loop may use AVX2 (`SPYDAR_NO_AVX2` turns it off, to
/// compare the two loops).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::env::var_os("SPYDAR_NO_AVX2").is_none()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Stride of the aligned pair probes.
const STRIDE: usize = 4;
/// Shortest needle the pair table serves: two aligned windows at any alignment.
pub const MIN_PAIR: usize = 2 * STRIDE + 3;
/// Stride of the short-needle probes.
const SHORT_STRIDE: usize = 2;
/// Shortest needle searched in text at all (two windows at stride 2).
pub const MIN_NEEDLE: usize = SHORT_STRIDE + 3;
/// Furthest into a needle its stored windows may start.
const MAX_SKIP: usize = 96;
// A stored key's offset in its needle (at most MAX_SKIP + STRIDE - 1) is a u8.
const _: () = assert!(MAX_SKIP + STRIDE <= 256);

/// Words that fill phone logs, paths and plists. A needle's stored windows
/// avoid the 4-byte grams of these, or every log line would be a candidate
/// (`/private/var/mobile/Library/...` paths and `com.apple.` names are in
/// the indicator sets too).
const COMMON: &str = "/private/var/mobile/Library/Caches/ /private/var/root/Library/ /private/var/db/ \
/private/var/tmp/ /private/var/containers/Bundle/Application/ /System/Library/PrivateFrameworks/ \
/System/Library/Frameworks/ /usr/libexec/ /usr/sbin/ /usr/lib/ /Applications/ .framework .appex .plist \
.sqlite .db .log .json .dylib com.apple. com.google. com.android. android.permission. https:// http:// \
www. .com .net .org .io .co.uk .info apple.com icloud.com google.com googleapis.com gstatic.com \
localhost kernel launchd default debug info error notice fault process service daemon request \
response session connection network interface state changed assertion timer cache settings \
preferences location notification configuration application container identifier version build \
activity persona keychain backup profile payload install update status result failed success \
mobile system library private events report account helper support manager center agent \
/data/local/tmp/ /data/data/ /data/app/ /system/bin/ /system/lib/ /proc/ /sdcard/ \
com.apple.xpc.launchd com.apple.WebKit com.apple.mobile com.apple.springboard com.apple.CommCenter \
SpringBoard CommCenter mDNSResponder locationd symptomsd nsurlsessiond apsd wifid configd bluetoothd \
identityservicesd imagent assertiond runningboardd backboardd powerd securityd trustd \
2024-01-01 00:00:00.000000 +0000 0x0000 uuid pid tid";

/// Bits per key of the pair table. A hit is checked against the stored keys
/// (one hash-bucket lookup), so a false positive is cheap, while a table
/// out of L2 made every probe wait on memory: 16 bits (32 in the vector
/// layout, whose 32-bit words fill less evenly) keep the bundled sets'
/// tables at 290 KB. 256 bits (4 MB) ran at half the speed
/// (benches/results/matcher.txt).
const PAIR_BITS: usize = 16;
/// Bits per key of the short table, probed twice as often.
const SHORT_BITS: usize = 32;

/// Odd multipliers of the vector layout's 32-bit hashes.
const K1: u32 = 0x9E37_79B1;
const K2: u32 = 0x85EB_CA6B;
const K3: u32 = 0xC2B2_AE3D;
const K4: u32 = 0xC2B2_AE35;

/// The vector layout's first step of a key's hash: a window's product...
#[inline(always)]
fn window_mul(g: u32) -> u32 {
    g.wrapping_mul(K1)
}

/// ...and a pair's, reusing the first window's product.
#[inline(always)]
fn pair_mul(first: u32, g4: u32) -> u32 {
    first ^ g4.wrapping_mul(K3)
}

/// Mixes a product (MurmurHash3's 32-bit finaliser) so that its top bits
/// can pick a word and its low ten bits two bits in it: without it, keys in
/// one word would share bits whenever their first bytes agree.
#[inline(always)]
fn finish(x: u32) -> u32 {
    let x = (x ^ (x >> 16)).wrapping_mul(K2);
    let x = (x ^ (x >> 13)).wrapping_mul(K4);
    x ^ (x >> 16)
}

/// A blocked Bloom filter: each key sets two bits of one word. Two layouts:
/// - scalar: 64-bit words, one 64-bit multiplicative hash of the key (a
///   window, or a pair of windows as one 64-bit number);
/// - vector (`narrow`): 32-bit words (two per `u64`, little-endian), 32-bit
///   hashes (`window_mul`/`pair_mul`, then `finish`) that eight AVX2 lanes
///   compute at once, read with one gather per table.
struct Bits {
    words: Vec<u64>,
    /// Shift that leaves log2(number of words) top bits of the hash.
    shift: u32,
    narrow: bool,
}

impl Bits {
    fn new(keys: usize, bits_per_key: usize, narrow: bool) -> Self {
        let bits_per_key = if narrow {
            2 * bits_per_key
        } else {
            bits_per_key
        };
        let bits = (keys.max(1) * bits_per_key)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 27);
        let log = bits.trailing_zeros();
        Bits {
            words: vec![0; bits / 64],
            shift: if narrow {
                32 - (log - 5)
            } else {
                64 - (log - 6)
            },
            narrow,
        }
    }

    #[inline(always)]
    fn wide_slot(&self, key: u64) -> (usize, u64) {
        // The top bits of a 64-bit multiplicative hash pick the word; middle
        // bits (the low ones depend on the first byte only) pick two bits.
        let h = hash64(key);
        let word = (h >> self.shift) as usize;
        let b1 = (h >> 24) & 63;
        let b2 = (h >> 30) & 63;
        (word, (1u64 << b1) | (1u64 << b2))
    }

    #[inline(always)]
    fn narrow_slot(&self, product: u32) -> (usize, u32) {
        let h = finish(product);
        let word = (h >> self.shift) as usize;
        (word, (1u32 << (h & 31)) | (1u32 << ((h >> 5) & 31)))
    }

    fn insert(&mut self, window: u32, next: Option<u32>) {
        if self.narrow {
            let p = window_mul(window);
            let (w, m) = self.narrow_slot(next.map_or(p, |g4| pair_mul(p, g4)));
            self.words[w >> 1] |= u64::from(m) << ((w & 1) * 32);
        } else {
            let key = next.map_or(u64::from(window), |g4| pair(window, g4));
            let (w, m) = self.wide_slot(key);
            self.words[w] |= m;
        }
    }

    /// Whether the window `g` (and, for a pair, `g4` 4 bytes on) may be a
    /// stored key.
    #[inline(always)]
    fn contains(&self, g: u32, g4: Option<u32>) -> bool {
        // The word is always in range: the shift leaves log2(words) bits.
        if self.narrow {
            let p = window_mul(g);
            let (w, m) = self.narrow_slot(g4.map_or(p, |g4| pair_mul(p, g4)));
            self.words
                .get(w >> 1)
                .is_some_and(|&x| (x >> ((w & 1) * 32)) as u32 & m == m)
        } else {
            let key = g4.map_or(u64::from(g), |g4| pair(g, g4));
            let (w, m) = self.wide_slot(key);
            self.words.get(w).is_some_and(|&x| x & m == m)
        }
    }
}

/// The scalar layout's 64-bit multiplicative hash of a key, also the
/// bucket of its exact-check entries (`Keys`: built and read with this one).
#[inline(always)]
fn hash64(key: u64) -> u64 {
    (key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline(always)]
fn pair(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// ASCII case folding that is lossy but consistent (`|0x20` on every byte):
/// equal after a case-insensitive compare implies equal after folding.
#[inline(always)]
fn fold(w: u32) -> u32 {
    w | 0x2020_2020
}

#[inline(always)]
fn gram_at(text: &[u8], i: usize) -> u32 {
    // One bounds check for the four bytes; callers keep i + 4 <= len.
    let b: [u8; 4] = text[i..i + 4].try_into().unwrap_or([0; 4]);
    fold(u32::from_le_bytes(b))
}

fn byte_cost(b: u8) -> u32 {
    match b.to_ascii_lowercase() {
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'.' | b'/' | b' ' => 10,
        b'h' | b'l' | b'd' | b'c' | b'u' | b'm' | b'f' | b'p' | b'g' | b'w' | b'y' | b'b'
        | b'-' | b'_' | b':' => 5,
        _ => 1,
    }
}

pub struct Prefilter {
    /// (window, window + 4) pairs of needles of MIN_PAIR bytes or more.
    pairs: Bits,
    /// Two consecutive windows of each shorter needle.
    short: Option<Bits>,
    /// How far before an aligned pair hit a needle may start, and after it end.
    back: usize,
    ahead: usize,
    /// The same for a short-window hit.
    short_back: usize,
    short_ahead: usize,
    /// The CPU has AVX2 (the block loop's gathers).
    avx2: bool,
    /// The needles and, for each stored pair or window, which needles
    /// stored it at which offset: a filter hit is checked against these
    /// directly, so a false positive costs one lookup.
    needles: Needles,
    pair_keys: Keys,
    short_keys: Keys,
}

/// The needles, concatenated.
struct Needles {
    bytes: Vec<u8>,
    /// Needle i is `bytes[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
}

impl Needles {
    fn get(&self, n: u32) -> &[u8] {
        let n = n as usize;
        match (self.starts.get(n), self.starts.get(n + 1)) {
            (Some(&s), Some(&e)) => self.bytes.get(s..e).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Stored keys (a pair as `pair(window, window + 4)`, a window as itself),
/// each with its needle and the offset of its first window in it, in a
/// hash-bucketed array.
struct Keys {
    /// The entries of bucket b are `entries[dir[b]..dir[b + 1]]`.
    dir: Vec<u32>,
    entries: Vec<(u64, u32, u8)>,
    shift: u32,
}

impl Keys {
    fn new(mut all: Vec<(u64, u32, u8)>) -> Self {
        let log = all.len().max(2).next_power_of_two().trailing_zeros();
        let shift = 64 - log;
        let bucket = |k: u64| hash64(k) >> shift;
        all.sort_unstable_by_key(|e| (bucket(e.0), *e));
        all.dedup();
        let mut dir = vec![0u32; (1usize << log) + 1];
        for e in &all {
            dir[bucket(e.0) as usize + 1] += 1;
        }
        for b in 1..dir.len() {
            dir[b] += dir[b - 1];
        }
        Keys {
            dir,
            entries: all,
            shift,
        }
    }

    /// The (needle, offset) entries stored under `key`.
    #[inline]
    fn get(&self, key: u64) -> impl Iterator<Item = (u32, u8)> + '_ {
        let b = (hash64(key) >> self.shift) as usize;
        let range = match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&s), Some(&e)) => s as usize..e as usize,
            _ => 0..0,
        };
        self.entries
            .get(range)
            .unwrap_or(&[])
            .iter()
            .filter(move |e| e.0 == key)
            .map(|e| (e.1, e.2))
    }
}

impl Prefilter {
    /// Builds the filter over lower-cased needles (those shorter than
    /// `MIN_NEEDLE` are ignored).
    pub fn new(needles: &[String]) -> Self {
        Self::build(needles, has_avx2())
    }

    /// `new` with other bits per key (examples/matcher_variants compares
    /// table sizes with it).
    #[doc(hidden)]
    pub fn with_bits(needles: &[String], pair_bits: usize, short_bits: usize) -> Self {
        Self::build_with(needles, has_avx2(), pair_bits, short_bits)
    }

    /// `new` with the table layout chosen: vector where the AVX2 loop will
    /// read them, scalar otherwise.
    fn build(needles: &[String], avx2: bool) -> Self {
        Self::build_with(needles, avx2, PAIR_BITS, SHORT_BITS)
    }

    fn build_with(needles: &[String], avx2: bool, pair_bits: usize, short_bits: usize) -> Self {
        let count =
            |r: std::ops::Range<usize>| needles.iter().filter(|n| r.contains(&n.len())).count();
        let mut pairs = Bits::new(count(MIN_PAIR..usize::MAX) * STRIDE, pair_bits, avx2);
        let short_count = count(MIN_NEEDLE..MIN_PAIR);
        let mut short = (short_count > 0).then(|| {
            Bits::new(
                (short_count + needles.len() / 16) * SHORT_STRIDE,
                short_bits,
                avx2,
            )
        });
        // The grams of COMMON, in a set: asked for every window of every
        // needle (a binary search was half of the matcher's build).
        let common: std::collections::HashSet<u32, foldhash::fast::FixedState> = {
            let c = COMMON.as_bytes();
            (0..c.len().saturating_sub(3))
                .map(|i| gram_at(c, i))
                .collect()
        };
        // Cost of storing the window at o: common words first.
        let window_cost = |b: &[u8], o: usize| -> u32 {
            if common.contains(&gram_at(b, o)) {
                1000
            } else {
                b[o..o + 4].iter().map(|&c| byte_cost(c)).sum()
            }
        };
        let (mut back, mut ahead, mut short_back, mut short_ahead) = (0, 0, 0, 0);
        let (mut pair_keys, mut short_keys) = (Vec::new(), Vec::new());
        let mut bytes = Vec::with_capacity(needles.iter().map(String::len).sum());
        let mut starts = Vec::with_capacity(needles.len() + 1);
        for (i, n) in needles.iter().enumerate() {
            starts.push(bytes.len());
            bytes.extend_from_slice(n.as_bytes());
            let i = i as u32;
            let b = n.as_bytes();
            if b.len() < MIN_NEEDLE {
                continue;
            }
            // The costs of the windows a choice below may read, each once.
            let costs: Vec<u32> = (0..=(b.len() - 4).min(MAX_SKIP + 2 * STRIDE))
                .map(|o| window_cost(b, o))
                .collect();
            // Cost of storing `windows` windows from offset k.
            let cost = |k: usize, windows: usize| -> u32 {
                (k..k + windows)
                    .map(|o| costs.get(o).copied().unwrap_or(1000))
                    .sum()
            };
            if b.len() < MIN_PAIR {
                let k = (0..=b.len() - MIN_NEEDLE)
                    .min_by_key(|&k| cost(k, SHORT_STRIDE))
                    .unwrap_or(0);
                if let Some(s) = short.as_mut() {
                    for off in k..k + SHORT_STRIDE {
                        s.insert(gram_at(b, off), None);
                        short_keys.push((u64::from(gram_at(b, off)), i, off as u8));
                    }
                }
                short_back = short_back.max(k + SHORT_STRIDE - 1);
                short_ahead = short_ahead.max(b.len() - k);
                continue;
            }
            let last = (b.len() - MIN_PAIR).min(MAX_SKIP);
            // A pair is as selective as its rarer window; a pair of two common
            // windows (`appl` + `e.co` of `...apple.com`) would fire on every
            // mention of apple.com, so such needles use the short table.
            let pair_cost = |k: usize| -> Option<u32> {
                (k..k + STRIDE)
                    .map(|o| {
                        let c = cost(o, 1).min(cost(o + STRIDE, 1));
                        (c < 1000).then_some(c)
                    })
                    .sum()
            };
            let best = (0..=last)
                .filter_map(|k| pair_cost(k).map(|c| (c, k)))
                .min();
            let Some((_, k)) = best else {
                let last = (b.len() - MIN_NEEDLE).min(MAX_SKIP);
                let k = (0..=last)
                    .min_by_key(|&k| cost(k, SHORT_STRIDE))
                    .unwrap_or(0);
                let s = short.get_or_insert_with(|| {
                    Bits::new(needles.len() * SHORT_STRIDE, short_bits, avx2)
                });
                for off in k..k + SHORT_STRIDE {
                    s.insert(gram_at(b, off), None);
                    short_keys.push((u64::from(gram_at(b, off)), i, off as u8));
                }
                short_back = short_back.max(k + SHORT_STRIDE - 1);
                short_ahead = short_ahead.max(b.len() - k);
                continue;
            };
            for off in k..k + STRIDE {
                let (g, g4) = (gram_at(b, off), gram_at(b, off + STRIDE));
                pairs.insert(g, Some(g4));
                pair_keys.push((pair(g, g4), i, off as u8));
            }
            back = back.max(k + STRIDE - 1);
            ahead = ahead.max(b.len() - k);
        }
        starts.push(bytes.len());
        Prefilter {
            pairs,
            short,
            back,
            ahead,
            short_back,
            short_ahead,
            avx2,
            needles: Needles { bytes, starts },
            pair_keys: Keys::new(pair_keys),
            short_keys: Keys::new(short_keys),
        }
    }

    /// Bytes held by the filter tables and the exact-check keys.
    #[doc(hidden)]
    pub fn table_bytes(&self) -> (usize, usize) {
        let tables =
            8 * (self.pairs.words.len() + self.short.as_ref().map_or(0, |s| s.words.len()));
        let keys = [&self.pair_keys, &self.short_keys]
            .iter()
            .map(|k| 4 * k.dir.len() + 16 * k.entries.len())
            .sum::<usize>()
            + self.needles.bytes.len()
            + 8 * self.needles.starts.len();
        (tables, keys)
    }

    /// The disjoint, sorted byte ranges of `text` that may hold a needle.
    /// Every needle occurrence lies wholly inside one of them.
    pub fn candidates(&self, text: &[u8]) -> Vec<Range<usize>> {
        let mut out = Collector {
            out: Vec::new(),
            len: text.len(),
        };
        self.probe(text, &mut out);
        // Hits with different reach can leave ranges out of order.
        merge(out.out)
    }

    /// Every occurrence of every needle (of `MIN_NEEDLE` bytes or more) in
    /// `text`, ASCII case ignored, as (needle index, byte range), each once,
    /// in no particular order. The filter's hits are checked against the
    /// stored keys and then the needle's bytes: no automaton.
    pub fn find(&self, text: &[u8], f: impl FnMut(usize, Range<usize>)) {
        self.probe(text, &mut Finder { text, f });
    }

    /// Runs the probes over `text`, handing every hit to `out`.
    fn probe<S: Sink>(&self, text: &[u8], out: &mut S) {
        if text.len() < MIN_NEEDLE {
            return;
        }
        let q = match &self.short {
            Some(short) => self.probe_blocks::<true, S>(text, short, out),
            None => self.probe_blocks::<false, S>(text, &self.pairs, out),
        };
        let q = self.probe_scalar(text, q, out);
        // The tail, where no pair fits: short windows only.
        if let Some(short) = &self.short {
            let mut q = q;
            while q + 4 <= text.len() {
                if short.contains(gram_at(text, q), None) {
                    out.short(self, q);
                }
                q += SHORT_STRIDE;
            }
        }
    }

    /// Every 4th byte from `q` while a pair fits: one 8-byte load gives the
    /// windows at q, q + 2 and q + 4. Returns where it stopped.
    fn probe_scalar<S: Sink>(&self, text: &[u8], mut q: usize, out: &mut S) -> usize {
        while q + 2 * STRIDE <= text.len() {
            let w: [u8; 8] = text[q..q + 8].try_into().unwrap_or([0; 8]);
            let x = u64::from_le_bytes(w) | 0x2020_2020_2020_2020;
            let g0 = x as u32;
            if self.pairs.contains(g0, Some((x >> 32) as u32)) {
                out.pair(self, q);
            }
            if let Some(short) = &self.short {
                if short.contains(g0, None) {
                    out.short(self, q);
                }
                if short.contains((x >> 16) as u32, None) {
                    out.short(self, q + SHORT_STRIDE);
                }
            }
            q += STRIDE;
        }
        q
    }

    /// 32 bytes at a time with AVX2 where the CPU has it (checked at run
    /// time: the build itself targets plain x86-64). Returns where it
    /// stopped (0 without AVX2); finds exactly what `probe_scalar` finds.
    fn probe_blocks<const SHORT: bool, S: Sink>(
        &self,
        text: &[u8],
        short: &Bits,
        out: &mut S,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: AVX2 was detected at run time (`Prefilter::new`).
            return unsafe { avx2::probe::<SHORT, S>(self, short, text, out) };
        }
        let _ = (text, short, out);
        0
    }

    /// Checks a hit of `key` at `q` against the needles that stored it.
    #[inline]
    fn verify(
        &self,
        keys: &Keys,
        key: u64,
        q: usize,
        text: &[u8],
        f: &mut impl FnMut(usize, Range<usize>),
    ) {
        for (n, off) in keys.get(key) {
            let Some(p) = q.checked_sub(usize::from(off)) else {
                continue;
            };
            let needle = self.needles.get(n);
            let end = p + needle.len();
            if text
                .get(p..end)
                .is_some_and(|t| t.eq_ignore_ascii_case(needle))
            {
                f(n as usize, p..end);
            }
        }
    }
}

/// Where the probes' hits go.
trait Sink {
    /// A pair hit at `q` (windows at q and q + 4).
    fn pair(&mut self, pf: &Prefilter, q: usize);
    /// A short-window hit at `q`.
    fn short(&mut self, pf: &Prefilter, q: usize);
}

/// Candidate ranges as the probes find them, merged with the last one
/// where they overlap.
struct Collector {
    out: Vec<Range<usize>>,
    len: usize,
}

impl Collector {
    #[inline(always)]
    fn push(&mut self, start: usize, end: usize) {
        let end = end.min(self.len);
        match self.out.last_mut() {
            Some(last) if start <= last.end => {
                last.start = last.start.min(start);
                last.end = last.end.max(end);
            }
            _ => self.out.push(start..end),
        }
    }
}

impl Sink for Collector {
    #[inline(always)]
    fn pair(&mut self, pf: &Prefilter, q: usize) {
        self.push(q.saturating_sub(pf.back), q + pf.ahead);
    }

    #[inline(always)]
    fn short(&mut self, pf: &Prefilter, q: usize) {
        self.push(q.saturating_sub(pf.short_back), q + pf.short_ahead);
    }
}

/// Hits checked against the stored keys and needles (`Prefilter::find`).
struct Finder<'t, F> {
    text: &'t [u8],
    f: F,
}

impl<F: FnMut(usize, Range<usize>)> Sink for Finder<'_, F> {
    #[inline]
    fn pair(&mut self, pf: &Prefilter, q: usize) {
        let key = pair(gram_at(self.text, q), gram_at(self.text, q + STRIDE));
        pf.verify(&pf.pair_keys, key, q, self.text, &mut self.f);
    }

    #[inline]
    fn short(&mut self, pf: &Prefilter, q: usize) {
        let key = u64::from(gram_at(self.text, q));
        pf.verify(&pf.short_keys, key, q, self.text, &mut self.f);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The probe loop over eight 4-byte-aligned positions at once: the same
    //! hashes as the scalar code (32-bit multiplies), the table words
    //! fetched with one gather per table.
    use super::{Bits, K1, K2, K3, K4, Prefilter, SHORT_STRIDE, STRIDE, Sink};
    use std::arch::x86_64::*;

    /// Lanes of the table words that hold both bits of their key.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lookup(bits: &Bits, product: __m256i) -> i32 {
        // `finish`, lane-wise.
        let x = _mm256_xor_si256(product, _mm256_srli_epi32::<16>(product));
        let x = _mm256_mullo_epi32(x, _mm256_set1_epi32(K2 as i32));
        let x = _mm256_xor_si256(x, _mm256_srli_epi32::<13>(x));
        let x = _mm256_mullo_epi32(x, _mm256_set1_epi32(K4 as i32));
        let h = _mm256_xor_si256(x, _mm256_srli_epi32::<16>(x));
        let shift = _mm_cvtsi32_si128(bits.shift as i32);
        let word = _mm256_srl_epi32(h, shift);
        // SAFETY: `word < bits.words.len()` (the shift leaves log2(len) bits).
        let got = unsafe { _mm256_i32gather_epi32::<4>(bits.words.as_ptr().cast(), word) };
        let one = _mm256_set1_epi32(1);
        let five = _mm256_set1_epi32(31);
        let b1 = _mm256_and_si256(h, five);
        let b2 = _mm256_and_si256(_mm256_srli_epi32::<5>(h), five);
        let mask = _mm256_or_si256(_mm256_sllv_epi32(one, b1), _mm256_sllv_epi32(one, b2));
        let ok = _mm256_cmpeq_epi32(_mm256_and_si256(got, mask), mask);
        _mm256_movemask_ps(_mm256_castsi256_ps(ok))
    }

    /// Probes `text[..]` in 32-byte blocks while the last window pair of a
    /// block (ending at byte 36) fits; returns where it stopped.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn probe<const SHORT: bool, S: Sink>(
        pf: &Prefilter,
        short: &Bits,
        text: &[u8],
        out: &mut S,
    ) -> usize {
        let fold = _mm256_set1_epi8(0x20);
        let (k1, k3) = (_mm256_set1_epi32(K1 as i32), _mm256_set1_epi32(K3 as i32));
        let mut q = 0;
        while q + 8 * STRIDE + STRIDE <= text.len() {
            // SAFETY: the three 32-byte loads end at q + 36 <= len.
            let (v0, v2, v4) = unsafe {
                let p = text.as_ptr().add(q);
                (
                    _mm256_or_si256(_mm256_loadu_si256(p.cast()), fold),
                    _mm256_or_si256(_mm256_loadu_si256(p.add(2).cast()), fold),
                    _mm256_or_si256(_mm256_loadu_si256(p.add(4).cast()), fold),
                )
            };
            let p0 = _mm256_mullo_epi32(v0, k1);
            let pp = _mm256_xor_si256(p0, _mm256_mullo_epi32(v4, k3));
            // SAFETY: gathers within the tables (see `lookup`).
            let pairs = unsafe { lookup(&pf.pairs, pp) };
            let (s0, s2) = if SHORT {
                let p2 = _mm256_mullo_epi32(v2, k1);
                unsafe { (lookup(short, p0), lookup(short, p2)) }
            } else {
                (0, 0)
            };
            if pairs | s0 | s2 != 0 {
                // In the scalar code's order, so the ranges come out the same.
                for lane in 0..8 {
                    let at = q + lane * STRIDE;
                    if pairs >> lane & 1 != 0 {
                        out.pair(pf, at);
                    }
                    if s0 >> lane & 1 != 0 {
                        out.short(pf, at);
                    }
                    if s2 >> lane & 1 != 0 {
                        out.short(pf, at + SHORT_STRIDE);
                    }
                }
            }
            q += 8 * STRIDE;
        }
        q
    }
}

/// Sorts ranges and merges the overlapping ones.
fn merge(mut all: Vec<Range<usize>>) -> Vec<Range<usize>> {
    all.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(all.len());
    for r in all {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(needles: &[String], text: &[u8]) -> Vec<(usize, usize)> {
        let lower = text.to_ascii_lowercase();
        let mut out = Vec::new();
        for (i, n) in needles.iter().enumerate() {
            if n.len() < MIN_NEEDLE {
                continue;
            }
            for p in 0..lower.len().saturating_sub(n.len() - 1) {
                if lower[p..].starts_with(n.as_bytes()) {
                    out.push((i, p));
                }
            }
        }
        out
    }

    /// Needles of every table (pair, short, long with only common pairs,
    /// self-overlapping, too short to search).
    fn planted_needles() -> Vec<String> {
        [
            "24-7clinic.com",
            "roleaccountd",
            "fmld",
            "bbc.tf",
            "xx.an",
            "abcab",
            "aaaaaaaaaaaaaaaaaaaa",
            "apple.com.co.uk.apple.com",
            "/private/var/tmp/hooker",
            "a-very-long-needle-with-rare-bytes-qzxj-at-the-end.example",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// `count` needles at every alignment and case among hex filler, with
    /// `extra` after every 11th.
    fn planted(needles: &[String], seed: u64, count: usize, extra: &str) -> Vec<u8> {
        let mut text = Vec::new();
        let mut rng = crate::fixtures::Rng::new(seed);
        for i in 0..count {
            text.extend_from_slice(rng.hex(1 + (i % 7)).as_bytes());
            let n = &needles[i % needles.len()];
            if i % 3 == 0 {
                text.extend_from_slice(n.to_uppercase().as_bytes());
            } else {
                text.extend_from_slice(n.as_bytes());
            }
            if i % 11 == 0 {
                text.extend_from_slice(extra.as_bytes());
            }
        }
        text
    }

    #[test]
    fn every_occurrence_falls_inside_a_candidate() {
        let needles = planted_needles();
        let text = planted(&needles, 5, 2000, "");
        // Both table layouts (the vector one only where AVX2 reads it).
        for avx2 in [false, has_avx2()] {
            let pf = Prefilter::build(&needles, avx2);
            let cands = pf.candidates(&text);
            for w in cands.windows(2) {
                assert!(w[0].end < w[1].start, "candidates overlap");
            }
            for (i, p) in naive(&needles, &text) {
                let end = p + needles[i].len();
                assert!(
                    cands.iter().any(|r| r.start <= p && end <= r.end),
                    "needle {} at {p} not covered (avx2 {avx2})",
                    needles[i]
                );
            }
        }
    }

    /// `find` reports exactly the occurrences a naive search finds, once
    /// each, in both table layouts and at every alignment and case.
    #[test]
    fn find_equals_naive_search() {
        let needles = planted_needles();
        let text = planted(&needles, 7, 3000, "abcabcab aaaaaaaaaaaaaaaaaaaaaaaaa");
        let mut want = naive(&needles, &text);
        want.sort_unstable();
        for avx2 in [false, has_avx2()] {
            let pf = Prefilter::build(&needles, avx2);
            for len in (0..90).chain([text.len() / 2, text.len()]) {
                let mut got = Vec::new();
                pf.find(&text[..len], |n, r| {
                    assert_eq!(r.len(), needles[n].len());
                    got.push((n, r.start));
                });
                got.sort_unstable();
                let want: Vec<_> = want
                    .iter()
                    .copied()
                    .filter(|&(n, p)| p + needles[n].len() <= len)
                    .collect();
                assert_eq!(got, want, "length {len}, avx2 {avx2}");
            }
        }
    }

    /// The AVX2 block loop (where the CPU has it) and the scalar loop give
    /// the same ranges over the same (vector-layout) tables, at every text
    /// length around the block edges.
    #[test]
    fn block_and_scalar_loops_agree() {
        let needles: Vec<String> = [
            "24-7clinic.com",
            "roleaccountd",
            "gssdp",
            "bbc.tf",
            "/private/var/tmp/hooker",
            "0123456789abcdef0123456789abcdef01234567",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut fast = Prefilter::new(&needles);
        let mut rng = crate::fixtures::Rng::new(9);
        let mut text = Vec::new();
        for i in 0..600 {
            text.extend_from_slice(rng.hex(1 + i % 11).as_bytes());
            text.push(b' ');
            if i % 5 == 0 {
                text.extend_from_slice(needles[i % needles.len()].to_uppercase().as_bytes());
            }
        }
        for len in (0..80).chain(text.len() - 40..=text.len()) {
            fast.avx2 = has_avx2();
            let a = fast.candidates(&text[..len]);
            fast.avx2 = false;
            let b = fast.candidates(&text[..len]);
            assert_eq!(a, b, "length {len}");
        }
        fast.avx2 = has_avx2();
        let a = fast.candidates(&text);
        fast.avx2 = false;
        assert_eq!(a, fast.candidates(&text));
        assert!(a.len() > 100);
    }

    #[test]
    fn ordinary_text_yields_few_candidates() {
        let letters = |mut i: usize| {
            let mut s = String::new();
            for _ in 0..4 {
                s.push((b'a' + (i % 26) as u8) as char);
                i /= 26;
            }
            s
        };
        let needles: Vec<String> = (0..5000)
            .map(|i| format!("host-{}q.example{}.net", letters(i), i % 97))
            .collect();
        let text = "2024-05-01 10:00:00.000 kernel[0] <Notice>: wifid state changed to associated on en0\n".repeat(2000);
        for avx2 in [false, has_avx2()] {
            let pf = Prefilter::build(&needles, avx2);
            let covered: usize = pf.candidates(text.as_bytes()).iter().map(|r| r.len()).sum();
            assert!(
                covered * 20 < text.len(),
                "{covered} of {} bytes (avx2 {avx2})",
                text.len()
            );
        }
    }
}
