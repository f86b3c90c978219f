//! Read-only views of an input, and input-kind detection. Nothing here knows
//! what an SMS is.

pub mod android_backup;
pub mod detect;
pub mod ios_backup;
pub mod ios_backup_decrypt;
pub mod ios_crypto;
pub mod ios_fs;
pub mod nskeyed;
pub mod private_tmp;
pub mod sqlite;
pub mod tar_stream;
pub mod zip_source;

pub use detect::{InputKind, detect};

use std::path::{Component, Path};

/// Largest single archive member or file spydar reads into memory. Anything
/// larger is refused with a message (zip bombs, hostile archives).
pub const MAX_MEMBER_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Whether an archive member name is safe to reason about: relative, no `..`,
/// no root or drive prefix, no NUL. Unsafe names are refused and reported,
/// never followed.
pub fn is_safe_member_name(name: &str) -> bool {
    if name.is_empty() || name.contains('\0') || name.starts_with('/') || name.starts_with('\\') {
        return false;
    }
    Path::new(name)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !name.split(['/', '\\']).any(|part| part == "..")
}

/// Reads at most `limit` bytes from `reader`; errors if there are more.
/// Used for every archive member so a lying size header cannot exhaust memory.
pub fn read_capped(mut reader: impl std::io::Read, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    (&mut reader).take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "member larger than the {limit}-byte limit"
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        for ok in ["a", "a/b.txt", "./x/y", "sysdiagnose_2024/ps.txt"] {
            assert!(is_safe_member_name(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a\\..\\b",
            "x\0y",
            "\\x",
        ] {
            assert!(!is_safe_member_name(bad), "{bad}");
        }
    }

    #[test]
    fn capped_read_refuses_oversize() {
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), b"abc");
        assert!(read_capped(&b"abcd"[..], 3).is_err());
    }
}
