//! The sysdiagnose tar / tar.gz stream (header caps, long names, pax, gzip
//! members). `stream` takes a path, so the input is written to one scratch
//! file per fuzzing process (in the temp folder, never next to evidence).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spydar::evidence::tar_stream::{Want, looks_binary, stream};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        std::env::temp_dir().join(format!("spydar-fuzz-tar-{}.bin", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = looks_binary(data);
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let mut n = 0u32;
    let mut want = |name: &str| {
        n += 1;
        match (name.len() + n as usize) % 3 {
            0 => Want::Whole,
            1 => Want::Lines,
            _ => Want::Skip,
        }
    };
    let mut pieces = 0usize;
    let mut sink = |p: spydar::evidence::tar_stream::Piece| {
        pieces += p.data.len();
        true
    };
    let _ = stream(path, 1 << 20, &mut want, &mut sink);
});
