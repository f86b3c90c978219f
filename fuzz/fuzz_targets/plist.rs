//! Plist reading (XML, binary, OpenStep), as every plist parse site does it,
//! then the walks spydar makes over a parsed value.
//!
//! TODO(plist_safe): when src/evidence/plist_safe.rs lands, call its entry
//! point here instead of `plist::Value::from_reader` (one line), so the
//! depth guard is what gets fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::ios::util::{plist_json, plist_time};
use spydar::evidence::nskeyed::Archive;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = plist::Value::from_reader(std::io::Cursor::new(data)) else {
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
