//! Baseline for `benches/sysdiagnose.sh`: decompresses a (multi-member)
//! gzip file to nothing with the same decompressor spydar uses (flate2's
//! `MultiGzDecoder`, zlib-rs backend) and prints bytes, seconds and MB/s.

use std::io::{BufReader, Read};
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: gunzip_null FILE.tar.gz");
        std::process::exit(2);
    };
    let started = Instant::now();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gunzip_null: {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, file));
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    loop {
        match gz.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => {
                eprintln!("gunzip_null: {path}: {e}");
                std::process::exit(2);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} bytes in {secs:.3} s ({:.0} MB/s uncompressed)",
        total as f64 / secs / 1e6
    );
}
