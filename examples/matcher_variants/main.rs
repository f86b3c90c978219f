//! The free-text matcher's parts and the alternatives issue 15 asked about,
//! in MiB per CPU-second of this thread (benches/results/matcher.txt):
//!
//!   cargo build --release --example matcher_variants
//!   target/release/examples/matcher_variants current,cands      # AVX2 layout
//!   SPYDAR_NO_AVX2=1 target/release/examples/matcher_variants current,cands
//!   target/release/examples/matcher_variants dfa,dfa-std,nfa,teddy
//!   target/release/examples/matcher_variants main,find,current   # before/after, interleaved
//!   BITS=256/128,16/32 target/release/examples/matcher_variants bits   # table sizes
//!   target/release/examples/matcher_variants lengths             # needles per length
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, StartKind};
use spydar::artifacts::TextSweep;
use spydar::fixtures::Rng;
use spydar::indicators::prefilter::Prefilter;
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::ObservableType as T;
use std::time::Instant;

include!("../../benches/common/log_text.rs");

/// This thread's CPU time in seconds: on a shared machine, wall time
/// measures the other jobs.
#[cfg(unix)]
fn cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Wall time where there is no thread clock.
#[cfg(not(unix))]
fn cpu() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

thread_local! {
    /// Every run's MiB per CPU-second, by variant, for the summary.
    static ALL: std::cell::RefCell<std::collections::BTreeMap<String, Vec<f64>>> =
        Default::default();
}

fn summary() {
    ALL.with(|all| {
        println!("summary (MiB per thread-CPU-second): variant, runs, best, median");
        for (name, v) in all.borrow_mut().iter_mut() {
            v.sort_by(|a, b| b.partial_cmp(a).unwrap());
            println!(
                "  {name:40} {:3} {:6.0} {:6.0}",
                v.len(),
                v[0],
                v[v.len() / 2]
            );
        }
    });
}

fn time<F: FnMut() -> usize>(name: &str, bytes: usize, runs: usize, mut f: F) {
    let mut best = f64::MAX;
    let mut all = Vec::new();
    let mut r = 0;
    for _ in 0..runs {
        let t = cpu();
        r = std::hint::black_box(f());
        let s = cpu() - t;
        all.push(bytes as f64 / s / 1048576.0);
        ALL.with(|a| {
            a.borrow_mut()
                .entry(name.to_string())
                .or_default()
                .push(bytes as f64 / s / 1048576.0)
        });
        best = best.min(s);
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:40} {:8.0} MiB/s per CPU-second best, range {:.0}-{:.0} (result {r})",
        bytes as f64 / best / 1048576.0,
        all[0],
        all[all.len() - 1]
    );
}

/// main's free-text path before the exact checks: candidate regions,
/// lower-cased, through the contiguous NFA. Returns the matches.
fn main_loop(pf: &Prefilter, ac: &AhoCorasick, text: &[u8]) -> usize {
    let mut lower = Vec::new();
    let mut k = 0;
    for r in pf.candidates(text) {
        lower.clear();
        lower.extend(text[r].iter().map(u8::to_ascii_lowercase));
        k += ac.find_overlapping_iter(&lower[..]).count();
    }
    k
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let set = IndicatorSet::bundled();
    let mut needles: Vec<String> = set
        .indicators
        .iter()
        .filter(|i| i.kind != T::Text && i.value.len() >= 5)
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    needles.sort();
    needles.dedup();
    let m = Matcher::new(set);
    let text = log_text(100 * 1024 * 1024);
    let n = text.len();
    let pf = Prefilter::new(&needles);
    let c = pf.candidates(&text);
    println!(
        "{} needles; candidates {} covering {} bytes",
        needles.len(),
        c.len(),
        c.iter().map(|r| r.len()).sum::<usize>()
    );
    if which.split(',').any(|x| x == "lengths") {
        let mut h = std::collections::BTreeMap::new();
        for n in &needles {
            *h.entry(n.len().min(40)).or_insert(0usize) += 1;
        }
        println!("needles per length (40 = 40+): {h:?}");
    }
    let go = |w: &str| which.is_empty() || which.split(',').any(|x| x == w);
    if go("current") && !go("main") {
        time("current flagged_lines", n, runs, || {
            m.flagged_lines(&text).len()
        });
    }
    if go("main") || go("find") {
        // main's loop before the exact checks: the same code with main's
        // table sizes (256/128 bits per key), its candidate regions then
        // lower-cased and run through main's contiguous NFA.
        let old = Prefilter::with_bits(&needles, 256, 128);
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::Standard)
            .build(&needles)
            .unwrap();
        for _ in 0..runs {
            if go("main") {
                time("main: candidates + lower-case + NFA", n, 1, || {
                    main_loop(&old, &ac, &text)
                });
            }
            if go("find") {
                time("new: Prefilter::find", n, 1, || {
                    let mut k = 0;
                    pf.find(&text, |_, _| k += 1);
                    k
                });
            }
            if go("current") {
                time("new: flagged_lines", n, 1, || m.flagged_lines(&text).len());
            }
        }
    }
    if go("bits") {
        let sizes: Vec<(usize, usize)> = std::env::var("BITS")
            .unwrap_or("256/128,64/64,32/64,16/32".into())
            .split(',')
            .filter_map(|p| {
                let (a, b) = p.split_once('/')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        let pfs: Vec<_> = sizes
            .iter()
            .map(|&(a, b)| {
                let p = Prefilter::with_bits(&needles, a, b);
                let (t, k) = p.table_bytes();
                let mut hits = 0;
                let c = p.candidates(&text);
                p.find(&text, |_, _| hits += 1);
                println!(
                    "bits {a}/{b}: tables {t} B, keys {k} B, {} candidate ranges ({} B), {hits} found",
                    c.len(),
                    c.iter().map(|r| r.len()).sum::<usize>()
                );
                p
            })
            .collect();
        for _ in 0..runs {
            for (p, (a, b)) in pfs.iter().zip(&sizes) {
                time(&format!("find, bits/key {a}/{b}"), n, 1, || {
                    let mut k = 0;
                    p.find(&text, |_, _| k += 1);
                    k
                });
            }
        }
    }
    if go("build") {
        for _ in 0..runs {
            let t = cpu();
            std::hint::black_box(IndicatorSet::bundled());
            let load = cpu() - t;
            let t = cpu();
            std::hint::black_box(Matcher::new(IndicatorSet::bundled()));
            let all = cpu() - t - load;
            let t = cpu();
            std::hint::black_box(Prefilter::new(&needles));
            let pf = cpu() - t;
            let t = cpu();
            std::hint::black_box(
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::Standard)
                    .build(&needles)
                    .unwrap(),
            );
            let nfa = cpu() - t;
            println!(
                "CPU ms: IndicatorSet::bundled {:.1}, Matcher::new {:.1} (Prefilter::new {:.1}); main's NFA build {:.1}",
                load * 1e3,
                all * 1e3,
                pf * 1e3,
                nfa * 1e3
            );
        }
    }
    if go("big") {
        // The bench's 1M synthetic domain indicators, as needles.
        let mut rng = Rng::new(3);
        let mut big: Vec<String> = (0..1_000_000)
            .map(|i| format!("{}{i}.example-{}.net", rng.hex(4), rng.below(1000)))
            .chain(needles.iter().cloned())
            .collect();
        big.sort();
        big.dedup();
        let t = cpu();
        let p = Prefilter::new(&big);
        let (tables, keys) = p.table_bytes();
        println!(
            "1M needles: Prefilter::new {:.2} CPU-s, tables {tables} B, keys {keys} B",
            cpu() - t
        );
        let old = Prefilter::with_bits(&big, 256, 128);
        let t = cpu();
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::Standard)
            .build(&big)
            .unwrap();
        println!(
            "main's tables {} B; its contiguous NFA {} B, built in {:.2} CPU-s",
            old.table_bytes().0,
            ac.memory_usage(),
            cpu() - t
        );
        for _ in 0..runs {
            time("1M: main candidates + NFA", n, 1, || {
                main_loop(&old, &ac, &text)
            });
            time("1M: new find", n, 1, || {
                let mut k = 0;
                p.find(&text, |_, _| k += 1);
                k
            });
        }
    }
    if go("cands") {
        time("prefilter.candidates only", n, runs, || {
            pf.candidates(&text).len()
        });
    }
    let build = |kind, match_kind| {
        let t = Instant::now();
        let ac = AhoCorasick::builder()
            .kind(Some(kind))
            .start_kind(StartKind::Unanchored)
            .match_kind(match_kind)
            .ascii_case_insensitive(true)
            .build(&needles)
            .unwrap();
        println!(
            "{kind:?} build {:?}, {} bytes",
            t.elapsed(),
            ac.memory_usage()
        );
        ac
    };
    if go("dfa") {
        let ac = build(AhoCorasickKind::DFA, MatchKind::LeftmostFirst);
        time("AC DFA leftmost-first ci (find_iter)", n, runs, || {
            ac.find_iter(&text[..]).count()
        });
    }
    if go("dfa-std") {
        let ac = build(AhoCorasickKind::DFA, MatchKind::Standard);
        time("AC DFA standard ci overlapping", n, runs, || {
            ac.find_overlapping_iter(&text[..]).count()
        });
    }
    if go("nfa") {
        let ac = build(AhoCorasickKind::ContiguousNFA, MatchKind::LeftmostFirst);
        time("AC contiguous NFA leftmost-first ci", n, runs, || {
            ac.find_iter(&text[..]).count()
        });
    }
    if go("teddy") {
        use aho_corasick::packed::{Config, MatchKind as PK};
        for (lo, hi) in [(5usize, 8usize), (5, 11)] {
            let pats: Vec<&String> = needles
                .iter()
                .filter(|s| (lo..hi).contains(&s.len()))
                .collect();
            let s = Config::new()
                .match_kind(PK::LeftmostFirst)
                .heuristic_pattern_limits(false)
                .builder()
                .extend(&pats)
                .build();
            match s {
                None => println!(
                    "Teddy over {} needles of {lo}..{hi} bytes: cannot build (limit 128)",
                    pats.len()
                ),
                Some(s) => {
                    let lower = text.to_ascii_lowercase();
                    time(
                        &format!("Teddy {} needles {lo}..{hi}b, lowercased text", pats.len()),
                        n,
                        runs,
                        || s.find_iter(&lower).count(),
                    );
                }
            }
        }
    }
    summary();
}
