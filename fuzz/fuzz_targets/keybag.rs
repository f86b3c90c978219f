//! The `BackupKeyBag` TLV of an encrypted iOS backup's Manifest.plist.
//! The key derivation itself (PBKDF2, bounded by MAX_ITERATIONS) is not run:
//! it is slow by design. Unlocking with a fixed key exercises the unwrap path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::evidence::ios_crypto::{Key, KeyBag, split_class_prefixed};

fn key() -> Key {
    Key::new([7u8; 32])
}

fuzz_target!(|data: &[u8]| {
    let _ = split_class_prefixed(data);
    let Ok(bag) = KeyBag::parse(data) else {
        return;
    };
    let _ = bag.kdf_params();
    if let Ok(keys) = bag.unlock(&key()) {
        for class in keys.classes().collect::<Vec<_>>() {
            let _ = keys.unwrap_for_class(class, data);
        }
        let _ = keys.unwrap_class_prefixed(data, None);
    }
});
