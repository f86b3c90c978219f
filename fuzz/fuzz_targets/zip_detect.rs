//! Zip inputs: kind detection by content (bugreport / androidqf / other)
//! and the in-memory zip source (listing, times, capped member reads).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spydar::evidence::detect::detect;
use spydar::evidence::zip_source::{Source, zip_times};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        std::env::temp_dir().join(format!("spydar-fuzz-zip-{}.zip", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_ok() {
        let _ = detect(path);
    }
    let Ok(mut source) = Source::open_zip_bytes("fuzz.zip".into(), data.to_vec()) else {
        return;
    };
    zip_times(&mut source);
    let _ = source.find("main_entry.txt");
    for m in source.members.clone() {
        let _ = source.read_limited(&m, 1 << 20);
    }
});
