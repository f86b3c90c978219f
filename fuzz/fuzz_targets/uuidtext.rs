//! Unified-log `uuidtext` files (header, entry table, image path).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::sysdiagnose::unified_log::{image_path, records};

fuzz_target!(|data: &[u8]| {
    let _ = image_path(data);
    let _ = records(
        "system_logs.logarchive/00/7EF56328D53A78B59CCCE3E3189F57",
        data,
    );
});
