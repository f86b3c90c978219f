//! STIX2 bundles as `--iocs` and `indicators update` load them: JSON,
//! relationships, patterns, normalisation, then the compiled matcher.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::indicators::{IndicatorSet, Matcher};

fuzz_target!(|data: &[u8]| {
    let mut set = IndicatorSet::default();
    if set.add_bytes("fuzz.stix2", data).is_err() {
        return;
    }
    let _ = set.total() + set.skipped();
    let matcher = Matcher::new(set);
    let _ =
        matcher.text_hits(b"connect to evil.example.com via /private/var/tmp/x and com.bad.app");
});
