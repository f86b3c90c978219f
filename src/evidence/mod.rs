//! Read-only views of an input, and input-kind detection. Nothing here knows
//! what an SMS is.

pub mod abx;
pub mod android_backup;
pub mod apk_sig;
pub mod detect;
pub mod ios_backup;
pub mod ios_backup_decrypt;
pub mod ios_crypto;
pub mod ios_domain;
pub mod ios_fs;
pub mod ios_fs_archive;
pub mod ios_fs_index;
pub mod log_store;
pub mod manifest_rows;
pub mod mbfile_times;
pub mod nskeyed;
pub mod plist_safe;
pub mod private_tmp;
pub mod sqlite;
pub mod tar_guard;
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

/// Largest decompressed size of a compressed member inside an archive
/// (e.g. an Android backup's zlib-compressed SMS chunk).
pub const MAX_INFLATED_MEMBER: u64 = 64 * 1024 * 1024;
/// Above this decompressed size, a member whose compression ratio exceeds
/// [`BOMB_RATIO`] is refused as a decompression bomb.
pub const INFLATE_RATIO_FLOOR: u64 = 8 * 1024 * 1024;
/// Highest accepted compression ratio for a large member: text and JSON
/// deflate about 5-20 to 1; runs of zeros about 1,000 to 1.
pub const BOMB_RATIO: u64 = 200;

/// Inflates a zlib member with the caps above: at most
/// [`MAX_INFLATED_MEMBER`] bytes and, past [`INFLATE_RATIO_FLOOR`], at most
/// [`BOMB_RATIO`] times its compressed size. The error says which cap.
pub fn inflate_zlib_capped(compressed: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let ratio_cap = (compressed.len() as u64)
        .saturating_mul(BOMB_RATIO)
        .max(INFLATE_RATIO_FLOOR);
    let limit = MAX_INFLATED_MEMBER.min(ratio_cap);
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a zlib stream: {e}"))?;
    if out.len() as u64 > limit {
        return Err(if limit < MAX_INFLATED_MEMBER {
            format!(
                "decompression bomb: {} compressed bytes inflate past {limit} bytes (more than {BOMB_RATIO} to 1)",
                compressed.len()
            )
        } else {
            format!("inflates past the {MAX_INFLATED_MEMBER}-byte cap for one member")
        });
    }
    Ok(out)
}

/// Opens a file inside evidence (a backup's stored file, a file of a dump
/// or an extracted folder) for reading, only if it is a regular file that
/// is not a symbolic link: a FIFO would block the scan, a device or a link
/// to `/dev/zero` would never end, and a link may point outside the
/// evidence. The error message says which.
pub fn open_regular_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(std::io::Error::other(
            "is a symbolic link; spydar never follows links inside evidence",
        ));
    }
    open_checked(path, &meta, true)
}

/// Opens an input the user named: a link the user gave is followed, but
/// the target must be a regular file (a FIFO or a device is refused).
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::metadata(path)?;
    open_checked(path, &meta, false)
}

fn open_checked(
    path: &Path,
    meta: &std::fs::Metadata,
    nofollow: bool,
) -> std::io::Result<std::fs::File> {
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(format!(
            "is not a regular file ({}); spydar reads only regular files",
            describe_type(meta.file_type())
        )));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so a file swapped for a FIFO after the check cannot
        // hang the open; harmless on a regular file.
        let mut flags = libc::O_NONBLOCK;
        if nofollow {
            flags |= libc::O_NOFOLLOW;
        }
        opts.custom_flags(flags);
    }
    let file = opts.open(path)?;
    // The file opened is the one checked (not swapped in between).
    let opened = file.metadata()?;
    if !opened.file_type().is_file() {
        return Err(std::io::Error::other(
            "is not a regular file; spydar reads only regular files",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if opened.dev() != meta.dev() || opened.ino() != meta.ino() {
            return Err(std::io::Error::other("changed while being opened"));
        }
    }
    Ok(file)
}

fn describe_type(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        return "a folder";
    }
    if ft.is_symlink() {
        return "a symbolic link";
    }
    "not a file"
}

/// Whether every component of `rel` below `root` is a plain name and
/// none of the folders or the file on the way is a symbolic link.
pub fn no_links_below(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return false;
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if !m.file_type().is_symlink() => {}
            _ => return false,
        }
    }
    true
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
