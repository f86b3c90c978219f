//! Crash reports (`.ips`: JSON header + JSON, plist or legacy text body),
//! the crashes_and_spins summary, and process names from report file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::sysdiagnose::crash_reports::{ips, name_from_file, summary};

fuzz_target!(|data: &[u8]| {
    let _ = ips("crashes_and_spins/foo-2024-01-02-030405.ips", data);
    let _ = summary("summaries/crashes_and_spins.log", data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = name_from_file(s);
    }
});
