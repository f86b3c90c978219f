//! The fixed cost every scan pays before reading evidence, phase by phase:
//! CPU time and heap (live bytes after the phase, and the phase's own peak)
//! of loading the bundled indicators, the stock-name list, and each table
//! the matcher builds (exact-value maps, the q-gram prefilter with its
//! exact-check data), rebuilt here the way `Matcher::new` builds them. Free
//! text has no Aho-Corasick automaton behind the prefilter any more.
//! `cargo run --release --example fixed_costs` (benches/results/fixed-costs.txt).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spydar::indicators::matcher::MIN_TEXT_LEN;
use spydar::indicators::prefilter::Prefilter;
use spydar::indicators::stock::StockNames;
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::ObservableType;

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        // SAFETY: same layout as asked.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let n = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(n, Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Relaxed);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn cpu_ms() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct passed.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    // SAFETY: zeroed, then filled by getrusage.
    let u = unsafe { u.assume_init() };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(u.ru_utime) + ms(u.ru_stime)
}

/// The resident anonymous memory (heap and stacks), in MB.
fn rss_anon_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn mb(n: usize) -> f64 {
    n as f64 / (1 << 20) as f64
}

/// Runs `f`, prints its CPU time, the heap it leaves and its own peak.
fn phase<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    let t = cpu_ms();
    let out = f();
    let ms = cpu_ms() - t;
    let after = LIVE.load(Relaxed);
    println!(
        "{name:<34} {ms:>7.1} ms CPU  {:>+7.2} MB kept  {:>6.2} MB transient peak",
        mb(after) - mb(live),
        mb(PEAK.load(Relaxed) - after.max(live)),
    );
    out
}

fn main() {
    // As the spydar binary sets it (src/main.rs), before other threads.
    spydar::cli::tune_malloc();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        println!("-- round {}", round + 1);
        let set = phase("IndicatorSet::bundled (parse)", IndicatorSet::bundled);
        let stock = phase("StockNames::bundled", StockNames::bundled);
        // The free-text needles, as `Matcher::new` collects them.
        let needles = phase("needle strings", || {
            let mut seen = std::collections::HashSet::new();
            set.indicators
                .iter()
                .filter(|i| i.kind != ObservableType::Text && i.value.len() >= MIN_TEXT_LEN)
                .map(|i| i.value.to_ascii_lowercase())
                .filter(|k| seen.insert(k.clone()))
                .collect::<Vec<_>>()
        });
        let pf = phase("Prefilter::new", || Prefilter::new(&needles));
        println!(
            "   {} indicators, {} needles ({} bytes)",
            set.indicators.len(),
            needles.len(),
            needles.iter().map(String::len).sum::<usize>(),
        );
        drop((pf, needles, stock));
        let copy = set.clone();
        let m = phase("Matcher::new (all of it)", || Matcher::new(copy));
        let before = rss_anon_mb();
        let t = cpu_ms();
        // What `scan` and `recheck` do once the matcher is built (malloc_trim).
        spydar::cli::release_free_memory();
        println!(
            "   RssAnon with set + matcher: {before:.1} MB; after malloc_trim {:.1} MB ({:.1} ms)",
            rss_anon_mb(),
            cpu_ms() - t
        );
        drop(m);
        drop(set);
        println!("   heap left: {:.2} MB", mb(LIVE.load(Relaxed)));
    }
}
