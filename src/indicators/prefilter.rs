//! A strided q-gram filter in front of the free-text automaton.
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
//! Only the regions around a hit are handed to the automaton, which
//! confirms or rejects them. A needle shorter than 4 bytes is never
//! searched in text.

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

/// Bits per key of the pair table: log text repeats the same few thousand
/// 8-byte sequences, so one false positive recurs on every line; 256 bits
/// keep that rare while the table stays in L2.
const PAIR_BITS: usize = 256;
/// Bits per key of the short table, probed twice as often: small enough
/// for L1.
const SHORT_BITS: usize = 128;

/// A blocked Bloom filter: each key sets two bits of one 64-bit word.
struct Bits {
    words: Vec<u64>,
    shift: u32,
}

impl Bits {
    fn new(keys: usize, bits_per_key: usize) -> Self {
        let bits = (keys.max(1) * bits_per_key)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 27);
        let log = bits.trailing_zeros();
        Bits {
            words: vec![0; bits / 64],
            shift: 64 - (log - 6),
        }
    }

    #[inline(always)]
    fn slot(&self, key: u64) -> (usize, u64) {
        // The top bits of a 64-bit multiplicative hash pick the word; middle
        // bits (the low ones depend on the first byte only) pick two bits.
        let h = (key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let word = (h >> self.shift) as usize;
        let b1 = (h >> 24) & 63;
        let b2 = (h >> 30) & 63;
        (word, (1u64 << b1) | (1u64 << b2))
    }

    fn insert(&mut self, key: u64) {
        let (w, m) = self.slot(key);
        self.words[w] |= m;
    }

    #[inline(always)]
    fn contains(&self, key: u64) -> bool {
        let (w, m) = self.slot(key);
        // The slot is always in range: the shift leaves log2(words) bits.
        self.words[w] & m == m
    }
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

#[inline(always)]
fn pair(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
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
}

impl Prefilter {
    /// Builds the filter over lower-cased needles (those shorter than
    /// `MIN_NEEDLE` are ignored).
    pub fn new(needles: &[String]) -> Self {
        let count =
            |r: std::ops::Range<usize>| needles.iter().filter(|n| r.contains(&n.len())).count();
        let mut pairs = Bits::new(count(MIN_PAIR..usize::MAX) * STRIDE, PAIR_BITS);
        let short_count = count(MIN_NEEDLE..MIN_PAIR);
        let mut short = (short_count > 0).then(|| {
            Bits::new(
                (short_count + needles.len() / 16) * SHORT_STRIDE,
                SHORT_BITS,
            )
        });
        let common: std::collections::HashSet<u32> = {
            let c = COMMON.as_bytes();
            (0..c.len().saturating_sub(3))
                .map(|i| gram_at(c, i))
                .collect()
        };
        // Cost of storing `windows` windows from offset k: common words first.
        let cost = |b: &[u8], k: usize, windows: usize| -> u32 {
            (k..k + windows)
                .map(|o| {
                    if common.contains(&gram_at(b, o)) {
                        1000
                    } else {
                        b[o..o + 4].iter().map(|&c| byte_cost(c)).sum()
                    }
                })
                .sum()
        };
        let (mut back, mut ahead, mut short_back, mut short_ahead) = (0, 0, 0, 0);
        for n in needles {
            let b = n.as_bytes();
            if b.len() < MIN_NEEDLE {
                continue;
            }
            if b.len() < MIN_PAIR {
                let k = (0..=b.len() - MIN_NEEDLE)
                    .min_by_key(|&k| cost(b, k, SHORT_STRIDE))
                    .unwrap_or(0);
                if let Some(s) = short.as_mut() {
                    for off in k..k + SHORT_STRIDE {
                        s.insert(u64::from(gram_at(b, off)));
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
                        let c = cost(b, o, 1).min(cost(b, o + STRIDE, 1));
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
                    .min_by_key(|&k| cost(b, k, SHORT_STRIDE))
                    .unwrap_or(0);
                let s = short
                    .get_or_insert_with(|| Bits::new(needles.len() * SHORT_STRIDE, SHORT_BITS));
                for off in k..k + SHORT_STRIDE {
                    s.insert(u64::from(gram_at(b, off)));
                }
                short_back = short_back.max(k + SHORT_STRIDE - 1);
                short_ahead = short_ahead.max(b.len() - k);
                continue;
            };
            for off in k..k + STRIDE {
                pairs.insert(pair(gram_at(b, off), gram_at(b, off + STRIDE)));
            }
            back = back.max(k + STRIDE - 1);
            ahead = ahead.max(b.len() - k);
        }
        Prefilter {
            pairs,
            short,
            back,
            ahead,
            short_back,
            short_ahead,
        }
    }

    /// The disjoint, sorted byte ranges of `text` that may hold a needle.
    /// Every needle occurrence lies wholly inside one of them.
    pub fn candidates(&self, text: &[u8]) -> Vec<std::ops::Range<usize>> {
        let n = text.len();
        let mut out: Vec<std::ops::Range<usize>> = Vec::new();
        if n < MIN_NEEDLE {
            return out;
        }
        let push = |out: &mut Vec<std::ops::Range<usize>>, start: usize, end: usize| {
            let end = end.min(n);
            match out.last_mut() {
                Some(last) if start <= last.end => {
                    last.start = last.start.min(start);
                    last.end = last.end.max(end);
                }
                _ => out.push(start..end),
            }
        };
        // Every 2nd byte: a short-needle window; every 4th: a pair.
        let mut q = 0;
        while q + 2 * STRIDE <= n {
            // One 8-byte load gives the windows at q, q + 2 and q + 4.
            let w: [u8; 8] = text[q..q + 8].try_into().unwrap_or([0; 8]);
            let x = u64::from_le_bytes(w) | 0x2020_2020_2020_2020;
            let g0 = x as u32;
            let g2 = (x >> 16) as u32;
            let g4 = (x >> 32) as u32;
            if self.pairs.contains(pair(g0, g4)) {
                push(&mut out, q.saturating_sub(self.back), q + self.ahead);
            }
            if let Some(short) = &self.short {
                if short.contains(u64::from(g0)) {
                    push(
                        &mut out,
                        q.saturating_sub(self.short_back),
                        q + self.short_ahead,
                    );
                }
                if short.contains(u64::from(g2)) {
                    let p = q + SHORT_STRIDE;
                    push(
                        &mut out,
                        p.saturating_sub(self.short_back),
                        p + self.short_ahead,
                    );
                }
            }
            q += STRIDE;
        }
        // The tail, where no pair fits: short windows only.
        if let Some(short) = &self.short {
            while q + 4 <= n {
                if short.contains(u64::from(gram_at(text, q))) {
                    push(
                        &mut out,
                        q.saturating_sub(self.short_back),
                        q + self.short_ahead,
                    );
                }
                q += SHORT_STRIDE;
            }
        }
        // Hits with different reach can leave ranges out of order.
        merge(out)
    }
}

/// Sorts ranges and merges the overlapping ones.
fn merge(mut all: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    all.sort_by_key(|r| r.start);
    let mut out: Vec<std::ops::Range<usize>> = Vec::with_capacity(all.len());
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

    #[test]
    fn every_occurrence_falls_inside_a_candidate() {
        let needles: Vec<String> = [
            "24-7clinic.com",
            "roleaccountd",
            "fmld",
            "bbc.tf",
            "xx.an",
            "/private/var/tmp/hooker",
            "a-very-long-needle-with-rare-bytes-qzxj-at-the-end.example",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pf = Prefilter::new(&needles);
        let mut text = Vec::new();
        let mut rng = crate::fixtures::Rng::new(5);
        for i in 0..2000 {
            // Needles at every alignment and case, among filler.
            text.extend_from_slice(rng.hex(1 + (i % 7)).as_bytes());
            let n = &needles[i % needles.len()];
            if i % 3 == 0 {
                text.extend_from_slice(n.to_uppercase().as_bytes());
            } else {
                text.extend_from_slice(n.as_bytes());
            }
        }
        let cands = pf.candidates(&text);
        for w in cands.windows(2) {
            assert!(w[0].end < w[1].start, "candidates overlap");
        }
        for (i, p) in naive(&needles, &text) {
            let end = p + needles[i].len();
            assert!(
                cands.iter().any(|r| r.start <= p && end <= r.end),
                "needle {} at {p} not covered",
                needles[i]
            );
        }
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
        let pf = Prefilter::new(&needles);
        let text = "2024-05-01 10:00:00.000 kernel[0] <Notice>: wifid state changed to associated on en0\n".repeat(2000);
        let covered: usize = pf.candidates(text.as_bytes()).iter().map(|r| r.len()).sum();
        assert!(
            covered * 20 < text.len(),
            "{covered} of {} bytes",
            text.len()
        );
    }
}
