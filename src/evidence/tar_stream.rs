//! One streaming pass over a `.tar.gz`, a `.tar` or an extracted folder,
//! with nothing written to disk.
//!
//! The caller decides, per member name, whether it wants the member whole
//! (`Want::Whole`), as line-aligned text pieces for a sweep (`Want::Lines`,
//! binary members dropped by their first bytes), or not at all. Pieces go to
//! a sink as soon as they are read, so the consumer can work on them while
//! the stream goes on; memory is bounded by the piece size and whatever the
//! sink buffers. Nothing here knows what a member means.

use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{is_safe_member_name, read_capped};
use crate::error::{Error, Result};

/// Size of a text piece handed to the sink (a piece ends at a newline when
/// the member has one within this size).
pub const PIECE_BYTES: usize = 4 * 1024 * 1024;

/// How many leading bytes decide that a member is binary.
const SNIFF_BYTES: usize = 8 * 1024;

/// What the caller wants of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The whole member in one piece (capped).
    Whole,
    /// Line-aligned pieces of a text member; binary members are skipped.
    Lines,
    Skip,
}

/// A member, or a line-aligned part of one.
#[derive(Debug)]
pub struct Piece {
    /// Member name relative to the archive's root folder.
    pub name: String,
    pub data: Vec<u8>,
    /// 1-based number of the first line of `data` in the member.
    pub first_line: usize,
    /// `true` for a `Want::Whole` member.
    pub whole: bool,
}

/// What the pass saw, besides the pieces.
#[derive(Debug, Default)]
pub struct StreamSummary {
    /// The single top-level folder (archive) or the folder's own name.
    pub root: Option<String>,
    /// Regular-file members seen (including skipped ones).
    pub members: u64,
    /// Uncompressed bytes of the members seen.
    pub bytes: u64,
    /// Members skipped because their first bytes are binary.
    pub binary_skipped: u64,
    /// Problems worth telling the user (refused names, oversize members).
    pub notes: Vec<String>,
    /// Set when the archive ended early or is corrupt past some point.
    pub truncated: Option<String>,
}

/// Whether bytes look like text worth sweeping (no NUL, no known binary magic).
pub fn looks_binary(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 6] = [
        b"bplist",
        b"SQLite format 3\0",
        b"\x1f\x8b",
        b"PK\x03\x04",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ];
    let head = &head[..head.len().min(SNIFF_BYTES)];
    MAGICS.iter().any(|m| head.starts_with(m)) || memchr::memchr(0, head).is_some()
}

/// Streams `path` (a `.tar.gz`, possibly multi-member, a `.tar`, or a
/// folder) once. `want` is called with each regular member's name relative to
/// the root folder; `sink` receives the pieces and returns `false` to stop.
/// `max_whole` caps a `Want::Whole` member (larger ones are skipped with a note).
pub fn stream(
    path: &Path,
    max_whole: u64,
    want: &mut dyn FnMut(&str) -> Want,
    sink: &mut dyn FnMut(Piece) -> bool,
) -> Result<StreamSummary> {
    if path.is_dir() {
        return stream_dir(path, max_whole, want, sink);
    }
    let file = super::open_regular(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut magic = [0u8; 512];
    let got = fill(&mut reader, &mut magic).map_err(|e| Error::io(path, e))?;
    let head = &magic[..got];
    // Re-chain the sniffed bytes in front of the rest of the file.
    let chained = std::io::Cursor::new(head.to_vec()).chain(reader);
    if head.starts_with(&[0x1f, 0x8b]) {
        stream_tar(path, MultiGzDecoder::new(chained), max_whole, want, sink)
    } else if head.len() > 262 && &head[257..262] == b"ustar" {
        stream_tar(path, chained, max_whole, want, sink)
    } else if head.is_empty() {
        Err(Error::input(path, "empty file: not a sysdiagnose archive"))
    } else {
        Err(Error::input(path, "not a .tar.gz or .tar archive"))
    }
}

fn fill<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Splits a member name into its root folder and the rest.
fn split_root(name: &str) -> (&str, &str) {
    let name = name.trim_start_matches("./");
    match name.split_once('/') {
        Some((root, rest)) => (root, rest),
        None => (name, ""),
    }
}

fn stream_tar<R: Read>(
    path: &Path,
    inner: R,
    max_whole: u64,
    want: &mut dyn FnMut(&str) -> Want,
    sink: &mut dyn FnMut(Piece) -> bool,
) -> Result<StreamSummary> {
    let mut summary = StreamSummary::default();
    let mut archive = tar::Archive::new(super::tar_guard::TarHeaderGuard::new(inner));
    let mut last_member = String::new();
    let mut other_roots: Vec<String> = Vec::new();
    let mut headers_read = 0u64;
    let mut scratch = vec![0u8; 1 << 20];
    let entries = archive
        .entries()
        .map_err(|e| Error::input(path, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if headers_read == 0 {
                    if looks_cut(&e) {
                        return Err(Error::Truncated {
                            path: path.to_path_buf(),
                            reason: format!("the archive ends before its first member ({e})"),
                        });
                    }
                    return Err(Error::input(path, format!("not a tar archive: {e}")));
                }
                summary.truncated = Some(truncation(&e, &last_member));
                break;
            }
        };
        headers_read += 1;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !is_safe_member_name(&raw) {
            summary
                .notes
                .push(format!("refused member with an unsafe name: {raw:?}"));
            continue;
        }
        let (root, rest) = split_root(&raw);
        match &summary.root {
            None => summary.root = Some(root.to_string()),
            Some(r) if r != root => {
                if !other_roots.iter().any(|o| o == root) {
                    summary.notes.push(format!(
                        "ignored a second top-level folder {root:?} (a sysdiagnose has one)"
                    ));
                    other_roots.push(root.to_string());
                }
                continue;
            }
            Some(_) => {}
        }
        if kind.is_symlink() || kind.is_hard_link() {
            summary.notes.push(format!("skipped link member {raw:?}"));
            continue;
        }
        if !kind.is_file() || rest.is_empty() {
            continue;
        }
        summary.members += 1;
        let size = entry.size();
        summary.bytes += size;
        last_member = raw.clone();
        match want(rest) {
            Want::Skip => {
                // Skip with large reads (the tar crate's own skip reads 8 KiB
                // at a time, which costs a lot on a gzip stream).
                if let Err(e) = drain(&mut entry, &mut scratch, size) {
                    summary.truncated = Some(truncation(&e, &raw));
                    break;
                }
            }
            Want::Whole => {
                if size > max_whole {
                    summary.notes.push(format!(
                        "skipped {rest}: {size} bytes, over the {max_whole}-byte limit"
                    ));
                    continue;
                }
                match read_capped(&mut entry, max_whole) {
                    Ok(data) if data.len() as u64 == size => {
                        if !sink(Piece {
                            name: rest.to_string(),
                            data,
                            first_line: 1,
                            whole: true,
                        }) {
                            break;
                        }
                    }
                    Ok(_) => {
                        summary.truncated = Some(format!("archive ends inside member {raw}"));
                        break;
                    }
                    Err(e) => {
                        summary.truncated = Some(truncation(&e, &raw));
                        break;
                    }
                }
            }
            Want::Lines => match read_lines(rest, &mut entry, size, sink) {
                Ok(LinesOutcome::Done) => {}
                Ok(LinesOutcome::Binary) => {
                    summary.binary_skipped += 1;
                    if let Err(e) = drain(&mut entry, &mut scratch, 0) {
                        summary.truncated = Some(truncation(&e, &raw));
                        break;
                    }
                }
                Ok(LinesOutcome::Stop) => break,
                Err(e) => {
                    summary.truncated = Some(truncation(&e, &raw));
                    break;
                }
            },
        }
    }
    if headers_read == 0 && summary.truncated.is_none() {
        return Err(Error::input(path, "empty archive: no members"));
    }
    Ok(summary)
}

/// Whether a read error means the input stops early (rather than garbage).
fn looks_cut(e: &std::io::Error) -> bool {
    let msg = e.to_string();
    e.kind() == std::io::ErrorKind::UnexpectedEof
        || msg.contains("incomplete")
        || msg.contains("unexpected end")
}

fn truncation(e: &std::io::Error, last: &str) -> String {
    if last.is_empty() {
        format!("the archive is truncated or corrupt before its first member ({e})")
    } else {
        format!(
            "the archive is truncated or corrupt after member {last} ({e}); findings cover the members read so far"
        )
    }
}

/// Reads `reader` to its end; fewer than `at_least` bytes is an
/// `UnexpectedEof` (a member cut short).
fn drain(reader: &mut dyn Read, scratch: &mut [u8], at_least: u64) -> std::io::Result<()> {
    let mut total = 0u64;
    loop {
        match reader.read(scratch) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if total < at_least {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "member shorter than its header says",
        ));
    }
    Ok(())
}

enum LinesOutcome {
    Done,
    Binary,
    Stop,
}

/// Reads a member in line-aligned pieces. A short member (fewer bytes than
/// its header says) is an `UnexpectedEof` error.
fn read_lines(
    name: &str,
    reader: &mut dyn Read,
    size: u64,
    sink: &mut dyn FnMut(Piece) -> bool,
) -> std::io::Result<LinesOutcome> {
    let mut total = 0u64;
    let mut line = 1usize;
    let mut buf: Vec<u8> = Vec::with_capacity(PIECE_BYTES.min(size as usize + 1));
    let mut first = true;
    loop {
        let start = buf.len();
        // Never more than what is left of the member (plus one byte to see
        // its end): zeroing a whole piece for each tiny member made an
        // archive of many empty members cost ~0.6 ms each.
        let left = size.saturating_sub(total).max(1);
        let want = (PIECE_BYTES.saturating_sub(start).max(64 * 1024) as u64).min(left) as usize;
        buf.resize(start + want, 0);
        let n = fill(reader, &mut buf[start..])?;
        buf.truncate(start + n);
        total += n as u64;
        let eof = n == 0 || total >= size;
        if first {
            first = false;
            if looks_binary(&buf) {
                // The tar reader skips the rest of the member itself.
                return Ok(LinesOutcome::Binary);
            }
        }
        if eof {
            if total < size {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "member shorter than its header says",
                ));
            }
            if !buf.is_empty()
                && !sink(Piece {
                    name: name.to_string(),
                    data: buf,
                    first_line: line,
                    whole: false,
                })
            {
                return Ok(LinesOutcome::Stop);
            }
            return Ok(LinesOutcome::Done);
        }
        if buf.len() >= PIECE_BYTES {
            // Cut after the last newline; a piece without one goes whole.
            let cut = memchr::memrchr(b'\n', &buf)
                .map(|i| i + 1)
                .unwrap_or(buf.len());
            let rest = buf[cut..].to_vec();
            buf.truncate(cut);
            let lines = memchr::memchr_iter(b'\n', &buf).count();
            let piece = std::mem::replace(&mut buf, Vec::with_capacity(PIECE_BYTES));
            buf.extend_from_slice(&rest);
            if !sink(Piece {
                name: name.to_string(),
                data: piece,
                first_line: line,
                whole: false,
            }) {
                return Ok(LinesOutcome::Stop);
            }
            line += lines;
        }
    }
}

fn stream_dir(
    path: &Path,
    max_whole: u64,
    want: &mut dyn FnMut(&str) -> Want,
    sink: &mut dyn FnMut(Piece) -> bool,
) -> Result<StreamSummary> {
    let mut summary = StreamSummary {
        root: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let walker = walkdir::WalkDir::new(path)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                summary
                    .notes
                    .push(format!("could not read part of the folder: {e}"));
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(path) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if entry.file_type().is_symlink() {
            summary.notes.push(format!("skipped symbolic link {rel:?}"));
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        summary.members += 1;
        let file_path = entry.path();
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        summary.bytes += size;
        let w = want(&rel);
        if w == Want::Skip {
            continue;
        }
        let mut file = match super::open_regular_nofollow(file_path) {
            Ok(f) => f,
            Err(e) => {
                summary.notes.push(format!("{rel}: {e}"));
                continue;
            }
        };
        match w {
            Want::Skip => {}
            Want::Whole => {
                if size > max_whole {
                    summary.notes.push(format!(
                        "skipped {rel}: {size} bytes, over the {max_whole}-byte limit"
                    ));
                    continue;
                }
                match read_capped(&mut file, max_whole) {
                    Ok(data) => {
                        if !sink(Piece {
                            name: rel,
                            data,
                            first_line: 1,
                            whole: true,
                        }) {
                            break;
                        }
                    }
                    Err(e) => summary.notes.push(format!("{rel}: {e}")),
                }
            }
            Want::Lines => match read_lines(&rel, &mut file, size, sink) {
                Ok(LinesOutcome::Done) => {}
                Ok(LinesOutcome::Binary) => summary.binary_skipped += 1,
                Ok(LinesOutcome::Stop) => break,
                Err(e) => summary.notes.push(format!("{rel}: {e}")),
            },
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            builder.append_data(&mut h, name, *data).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn collect(path: &Path) -> (StreamSummary, Vec<Piece>) {
        let mut pieces = Vec::new();
        let s = stream(
            path,
            1 << 20,
            &mut |n| {
                if n.ends_with(".db") {
                    Want::Whole
                } else {
                    Want::Lines
                }
            },
            &mut |p| {
                pieces.push(p);
                true
            },
        )
        .unwrap();
        (s, pieces)
    }

    #[test]
    fn pieces_keep_line_numbers_and_skip_binary() {
        let dir = tempfile::tempdir().unwrap();
        let big: String = (1..=300_000)
            .map(|i| format!("line {i} of a long log\n"))
            .collect();
        let gz = tar_gz(&[
            ("root/a.log", big.as_bytes()),
            ("root/b.bin", b"\0\x01binary"),
            ("root/c.db", b"SQLite format 3\0..."),
        ]);
        let p = dir.path().join("x.tar.gz");
        std::fs::write(&p, gz).unwrap();
        let (s, pieces) = collect(&p);
        assert_eq!(s.root.as_deref(), Some("root"));
        assert_eq!(s.members, 3);
        assert_eq!(s.binary_skipped, 1);
        let logs: Vec<&Piece> = pieces.iter().filter(|p| p.name == "a.log").collect();
        assert!(logs.len() > 1, "a 7 MB member comes in several pieces");
        let mut expected_line = 1;
        let mut joined = Vec::new();
        for p in &logs {
            assert_eq!(p.first_line, expected_line);
            assert!(p.data.ends_with(b"\n"));
            expected_line += memchr::memchr_iter(b'\n', &p.data).count();
            joined.extend_from_slice(&p.data);
        }
        assert_eq!(joined, big.as_bytes());
        assert!(pieces.iter().any(|p| p.name == "c.db" && p.whole));
    }

    #[test]
    fn truncated_gzip_keeps_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let filler: Vec<u8> = (0..400_000u32)
            .flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes())
            .collect();
        let gz = tar_gz(&[("r/first.txt", b"hello\n"), ("r/second.txt", &filler)]);
        let p = dir.path().join("t.tar.gz");
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let (s, pieces) = collect(&p);
        assert!(pieces.iter().any(|p| p.name == "first.txt"));
        let why = s.truncated.unwrap();
        assert!(
            why.contains("truncated") && why.contains("r/second.txt"),
            "{why}"
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        // tar::Builder refuses `..`, so write the header name by hand.
        let mut builder = tar::Builder::new(Vec::new());
        for name in ["r/ok.txt", "r/../../etc/evil.txt"] {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(3);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            builder.append(&h, &b"abc"[..]).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.tar");
        std::fs::write(&p, builder.into_inner().unwrap()).unwrap();
        let (s, pieces) = collect(&p);
        assert_eq!(pieces.len(), 1);
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("unsafe") && n.contains("evil")),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn not_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &[b'x'; 2000]).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let err = stream(&p, 100, &mut |_| Want::Lines, &mut |_| true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("n.tar.gz") && err.contains("not a tar"),
            "{err}"
        );
    }
}
