//! `shutdown.log` (reboot records and the clients that delayed them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::sysdiagnose::shutdown_log::{records, split_uuid};

fuzz_target!(|data: &[u8]| {
    let _ = records("system_logs.logarchive/Extra/shutdown.log", data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = split_uuid(s);
    }
});
