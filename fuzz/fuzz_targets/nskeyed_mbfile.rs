//! NSKeyedArchiver `MBFile` blobs (Manifest.db `Files.file`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::evidence::nskeyed::decode_mbfile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = decode_mbfile(data) {
        let _ = f.wrapped_key();
    }
});
