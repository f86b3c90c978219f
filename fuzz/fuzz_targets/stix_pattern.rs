//! The STIX pattern parser (`[domain-name:value = 'x' OR ...]`) and the
//! normalisation of each comparison.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::indicators::{normalize, pattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(comparisons) = pattern::parse(text) {
        for c in comparisons {
            let _ = normalize::canonical_key(&c.key);
            let _ = normalize::indicator(&c.key, &c.value);
        }
    }
    let _ = normalize::url_key(text);
    let _ = normalize::url_host(text);
    let _ = normalize::domain(text);
});
