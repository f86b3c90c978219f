//! Throughput of the swept-text observable extractor (`artifacts::observe`)
//! on log-like text, one core:
//!
//!     cargo run --release --example observe_speed [FILE]
//!
//! Without FILE, 256 MB of lines shaped like the sysdiagnose generator's
//! filler (`2024-01-02 01:23:45.123456 +0200 wifid[123] <Notice>: words...`),
//! one in eight with a host, a URL or a path.
use spydar::artifacts::observe::Observed;

fn main() {
    let text = match std::env::args().nth(1) {
        Some(p) => std::fs::read(&p).expect("readable file"),
        None => synthetic(256 << 20),
    };
    let mut best = f64::MAX;
    let mut kept = 0;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut o = Observed::new();
        for piece in text.chunks(4 << 20) {
            o.text(piece, &[]);
        }
        best = best.min(t.elapsed().as_secs_f64());
        kept = o.len();
    }
    println!(
        "{:.0} MB in {:.3} s: {:.0} MB/s, {} distinct values",
        text.len() as f64 / 1e6,
        best,
        text.len() as f64 / 1e6 / best,
        kept
    );
}

fn synthetic(size: usize) -> Vec<u8> {
    let words = [
        "scan", "cache", "updated", "network", "session", "token", "refresh", "state",
    ];
    let mut out = Vec::with_capacity(size + 256);
    let mut i: u64 = 0;
    while out.len() < size {
        i += 1;
        let r = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        out.extend_from_slice(
            format!(
                "2024-01-02 0{}:{:02}:{:02}.{:06} +0200 wifid[{}] <Notice>: ",
                r % 3,
                (r >> 8) % 60,
                (r >> 16) % 60,
                (r >> 24) % 1_000_000,
                100 + (r >> 40) % 900
            )
            .as_bytes(),
        );
        for k in 0..(4 + (r >> 50) % 8) {
            out.extend_from_slice(words[((r >> (k * 3)) % 8) as usize].as_bytes());
            out.push(b' ');
        }
        match i % 8 {
            0 => out.extend_from_slice(format!("to host{}.example.com:443", i % 5000).as_bytes()),
            3 => out.extend_from_slice(b"GET https://api.example.org/v1/items?id=42"),
            5 => out.extend_from_slice(
                format!("open /private/var/mobile/Library/f{}.plist", i % 3000).as_bytes(),
            ),
            _ => {}
        }
        out.extend_from_slice(format!(" id={:04x} value={}\n", r % 65536, r % 100_000).as_bytes());
    }
    out
}
