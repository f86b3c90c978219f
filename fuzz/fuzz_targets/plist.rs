//! Plist reading (XML, binary, OpenStep), as every plist parse site does it,
//! then the walks spydar makes over a parsed value.
//!
//! Parsed through `evidence::plist_safe`, the depth guard every parse site
//! uses, so the guard is what gets fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::ios::util::{plist_json, plist_time};
use spydar::evidence::nskeyed::Archive;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = spydar::evidence::plist_safe::value_from_bytes(data) else {
        return;
    };
    let _ = plist_json(&value);
    let _ = plist_time(&value);
    if let Ok(archive) = Archive::new(&value)
        && let Some(root) = archive.root()
    {
        let _ = archive.resolve(root);
        let _ = archive.data(root);
    }
});
