//! Android `adb backup` (`.ab`): the text header, then zlib and the tar walk
//! that keeps members. No password is given (PBKDF2 with up to 10,000,000
//! rounds is slow by design), so an `AES-256` header stops at
//! `PasswordRequired`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::evidence::android_backup::{open, read_header, walk_tar};

fuzz_target!(|data: &[u8]| {
    let _ = read_header(&mut std::io::Cursor::new(data));
    let Ok((_header, tar)) = open(data, None) else {
        return;
    };
    let contents = walk_tar(tar, |name| !name.ends_with(".skip"));
    let _ = contents.kept.len() + contents.names.len() + contents.notes.len();
});
