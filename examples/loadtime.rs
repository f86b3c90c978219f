//! Quick CPU-time measurements of indicator loading and the free-text sweep
//! (CPU time, not wall time, so that other load on the machine matters less).
//! `cargo run --release --example loadtime [TEXTFILE]`
use spydar::artifacts::TextSweep;

fn cpu_ms() -> f64 {
    #[repr(C)]
    struct Tv {
        sec: i64,
        usec: i64,
    }
    #[repr(C)]
    struct Rusage {
        utime: Tv,
        stime: Tv,
        rest: [i64; 14],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, u: *mut Rusage) -> i32;
    }
    let mut u = Rusage {
        utime: Tv { sec: 0, usec: 0 },
        stime: Tv { sec: 0, usec: 0 },
        rest: [0; 14],
    };
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF = 0.
    unsafe { getrusage(0, &mut u) };
    u.utime.sec as f64 * 1000.0 + u.utime.usec as f64 / 1000.0
}

fn main() {
    let a = cpu_ms();
    let set = spydar::indicators::IndicatorSet::bundled();
    let b = cpu_ms();
    let m = spydar::indicators::Matcher::new(set);
    let c = cpu_ms();
    println!(
        "parse {:.1} ms + compile {:.1} ms = {:.1} ms CPU ({} indicators)",
        b - a,
        c - b,
        c - a,
        m.indicators().len()
    );
    if let Some(path) = std::env::args().nth(1) {
        let text = std::fs::read(&path).expect("read text file");
        let needles: Vec<String> = m
            .indicators()
            .iter()
            .map(|i| i.value.to_ascii_lowercase())
            .collect();
        let pf = spydar::indicators::prefilter::Prefilter::new(&needles);
        let d = cpu_ms();
        let c = pf.candidates(&text);
        let d2 = cpu_ms();
        println!(
            "candidates only: {:.0} ms, {} regions, {} bytes",
            d2 - d,
            c.len(),
            c.iter().map(|r| r.len()).sum::<usize>()
        );
        let d = cpu_ms();
        let lines = m.flagged_lines(&text).len();
        let e = cpu_ms();
        println!(
            "sweep {} MB: {:.0} ms CPU = {:.0} MB/s, {lines} flagged lines",
            text.len() / 1_000_000,
            e - d,
            text.len() as f64 / 1e3 / (e - d)
        );
    }
}
