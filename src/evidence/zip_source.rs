//! A flat, read-only view of a folder, a zip (on disk or in memory) or an
//! age-encrypted zip: member names relative to the acquisition root, and
//! their bytes on demand. Nothing is unpacked to disk.
//!
//! Bugreports and androidqf acquisitions put their files either at the zip
//! root or under one top folder (`androidqfzip/getprop.txt`); the single
//! top folder is stripped so modules see the same names either way.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::{MAX_MEMBER_BYTES, is_safe_member_name, read_capped};
use crate::strings::base_name;

/// More members than this in one archive is refused (zip bombs made of
/// millions of empty entries).
pub const MAX_ENTRIES: usize = 1_000_000;

/// A member that inflates past this size...
pub const BOMB_MIN_BYTES: u64 = 256 * 1024 * 1024;
/// ...at more than this ratio is refused unread: text logs deflate about
/// 10-50 times; deflate's ceiling is about 1,000 (runs of one byte).
pub const BOMB_RATIO: u64 = 200;

fn looks_like_bomb(size: u64, compressed: u64) -> bool {
    size > BOMB_MIN_BYTES && size / compressed.max(1) > BOMB_RATIO
}

/// One readable member.
#[derive(Clone, Debug)]
pub struct Member {
    /// Name relative to the acquisition root, `/`-separated.
    pub name: String,
    pub size: u64,
    pub modified: Option<Timestamp>,
    /// Index in the archive, or the full path for a folder.
    loc: Loc,
}

#[derive(Clone, Debug)]
enum Loc {
    Zip(usize),
    File(PathBuf),
}

type Shared<R> = Arc<Mutex<zip::ZipArchive<R>>>;

#[derive(Clone)]
enum Backing {
    Dir,
    ZipFile(Shared<BufReader<File>>),
    ZipMem(Shared<Cursor<Arc<[u8]>>>),
    ZipAge(Shared<age::stream::StreamReader<BufReader<File>>>),
}

/// A folder or zip, seen as a list of members.
#[derive(Clone)]
pub struct Source {
    /// What to call it in messages (the input path, or `outer!inner.zip`).
    pub label: String,
    pub members: Vec<Member>,
    /// Problems met while listing (unsafe names refused, ...).
    pub notes: Vec<String>,
    backing: Backing,
}

impl Source {
    /// A folder, walked recursively (symlinks are not followed).
    pub fn open_dir(path: &Path) -> std::io::Result<Source> {
        let mut members = Vec::new();
        let mut notes = Vec::new();
        for entry in walkdir::WalkDir::new(path)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    notes.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(path) else {
                continue;
            };
            let name = rel.to_string_lossy().replace('\\', "/");
            let meta = entry.metadata().ok();
            members.push(Member {
                name,
                size: meta.as_ref().map(|m| m.len()).unwrap_or(0),
                modified: meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| Timestamp::try_from(t).ok()),
                loc: Loc::File(entry.path().to_path_buf()),
            });
            if members.len() > MAX_ENTRIES {
                return Err(std::io::Error::other(format!(
                    "more than {MAX_ENTRIES} files"
                )));
            }
        }
        Ok(Source {
            label: path.display().to_string(),
            members,
            notes,
            backing: Backing::Dir,
        }
        .strip_single_top())
    }

    /// A zip file on disk.
    pub fn open_zip(path: &Path) -> std::io::Result<Source> {
        let file = super::open_regular(path)?;
        let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
        let (members, notes) = list_zip(&archive)?;
        Ok(Source {
            label: path.display().to_string(),
            members,
            notes,
            backing: Backing::ZipFile(Arc::new(Mutex::new(archive))),
        }
        .strip_single_top())
    }

    /// A zip held in memory (a `bugreport.zip` inside an androidqf zip).
    pub fn open_zip_bytes(label: String, bytes: Vec<u8>) -> std::io::Result<Source> {
        let bytes: Arc<[u8]> = bytes.into();
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
        let (members, notes) = list_zip(&archive)?;
        Ok(Source {
            label,
            members,
            notes,
            backing: Backing::ZipMem(Arc::new(Mutex::new(archive))),
        }
        .strip_single_top())
    }

    /// An age-encrypted zip (androidqf `.zip.age`), decrypted while read
    /// with the X25519 identities in `identity_file`.
    pub fn open_zip_age(path: &Path, identity_file: &Path) -> Result<Source, String> {
        let ids = age::IdentityFile::from_file(identity_file.display().to_string())
            .map_err(|e| {
                format!(
                    "{}: cannot read age identity file: {e}",
                    identity_file.display()
                )
            })?
            .into_identities()
            .map_err(|e| format!("{}: {e}", identity_file.display()))?;
        let file = super::open_regular(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let decryptor = age::Decryptor::new(BufReader::new(file))
            .map_err(|e| format!("{}: not an age file: {e}", path.display()))?;
        let reader = decryptor
            .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                format!(
                    "{}: cannot decrypt with {}: {e}",
                    path.display(),
                    identity_file.display()
                )
            })?;
        let archive = zip::ZipArchive::new(reader).map_err(|e| {
            format!(
                "{}: decrypted content is not a readable zip: {e}",
                path.display()
            )
        })?;
        let (members, notes) =
            list_zip(&archive).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Source {
            label: path.display().to_string(),
            members,
            notes,
            backing: Backing::ZipAge(Arc::new(Mutex::new(archive))),
        }
        .strip_single_top())
    }

    /// When every member sits under one top folder, names lose that folder.
    fn strip_single_top(mut self) -> Source {
        let top = |n: &str| n.split_once('/').map(|(t, _)| t.to_string());
        let Some(first) = self.members.first().and_then(|m| top(&m.name)) else {
            return self;
        };
        if self
            .members
            .iter()
            .all(|m| top(&m.name).as_deref() == Some(first.as_str()))
        {
            let cut = first.len() + 1;
            for m in &mut self.members {
                m.name = m.name[cut..].to_string();
            }
        }
        self
    }

    /// The first member whose name matches exactly, or whose base name does.
    pub fn find(&self, name: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .or_else(|| self.members.iter().find(|m| base_name(&m.name) == name))
    }

    /// Members below the folder `prefix` (written with its `/`), each with
    /// its name relative to that folder, which is never empty.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a Member, &'a str)> {
        self.members.iter().filter_map(move |m| {
            m.name
                .strip_prefix(prefix)
                .filter(|rel| !rel.is_empty())
                .map(|rel| (m, rel))
        })
    }

    /// Members whose base name satisfies `pred`.
    pub fn find_all<'a>(
        &'a self,
        pred: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| pred(base_name(&m.name)))
    }

    /// Reads one member (capped at `MAX_MEMBER_BYTES`).
    pub fn read(&self, member: &Member) -> std::io::Result<Vec<u8>> {
        self.read_limited(member, MAX_MEMBER_BYTES)
    }

    pub fn read_limited(&self, member: &Member, limit: u64) -> std::io::Result<Vec<u8>> {
        let named =
            |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", member.name));
        match &member.loc {
            Loc::File(p) => {
                let f = super::open_regular_nofollow(p).map_err(named)?;
                read_capped(f, limit).map_err(named)
            }
            Loc::Zip(i) => match &self.backing {
                Backing::ZipFile(a) => read_zip(a, *i, limit),
                Backing::ZipMem(a) => read_zip(a, *i, limit),
                Backing::ZipAge(a) => read_zip(a, *i, limit),
                Backing::Dir => Err(std::io::Error::other("no archive")),
            }
            .map_err(named),
        }
    }

    /// Reads a member as text (lossy UTF-8).
    pub fn read_text(&self, member: &Member) -> std::io::Result<String> {
        let bytes = self.read(member)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Where a member lives on disk, when the source is a folder.
    pub fn disk_path<'a>(&self, member: &'a Member) -> Option<&'a Path> {
        match &member.loc {
            Loc::File(p) => Some(p),
            Loc::Zip(_) => None,
        }
    }
}

fn zip_err(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(io) => io,
        other => std::io::Error::other(format!("unreadable zip archive: {other}")),
    }
}

fn list_zip<R: Read + Seek>(
    archive: &zip::ZipArchive<R>,
) -> std::io::Result<(Vec<Member>, Vec<String>)> {
    if archive.len() > MAX_ENTRIES {
        return Err(std::io::Error::other(format!(
            "zip has {} entries, more than the {MAX_ENTRIES} spydar accepts",
            archive.len()
        )));
    }
    let mut members = Vec::new();
    let mut notes = Vec::new();
    for i in 0..archive.len() {
        let Some(Ok(name)) = archive.name_for_index(i) else {
            continue;
        };
        let name: &str = &name;
        if name.ends_with('/') {
            continue;
        }
        if !is_safe_member_name(name) {
            notes.push(format!("refused unsafe zip member name {name:?}"));
            continue;
        }
        let name = name.trim_start_matches("./").to_string();
        members.push(Member {
            name,
            size: 0,
            modified: None,
            loc: Loc::Zip(i),
        });
    }
    Ok((members, notes))
}

fn read_zip<R: Read + Seek>(
    archive: &Mutex<zip::ZipArchive<R>>,
    index: usize,
    limit: u64,
) -> std::io::Result<Vec<u8>> {
    let mut guard = archive
        .lock()
        .map_err(|_| std::io::Error::other("archive lock poisoned"))?;
    let entry = guard.by_index(index).map_err(zip_err)?;
    if looks_like_bomb(entry.size(), entry.compressed_size()) {
        return Err(std::io::Error::other(format!(
            "refused: looks like a zip bomb ({} bytes from {} compressed)",
            entry.size(),
            entry.compressed_size()
        )));
    }
    if entry.size() > limit {
        return Err(std::io::Error::other(format!(
            "member of {} bytes is larger than the {limit}-byte limit",
            entry.size()
        )));
    }
    // Sized up front: a 100 MB dumpstate is read without regrowing.
    let mut buf = Vec::with_capacity(entry.size().min(limit) as usize);
    entry.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "member larger than the {limit}-byte limit"
        )));
    }
    Ok(buf)
}

/// Fills `size` and `modified` for zip members (zip times are local wall
/// clock with no zone; they are taken as UTC, as MVT does).
pub fn zip_times(source: &mut Source) {
    let infos: Vec<(usize, u64, Option<Timestamp>)> = match &source.backing {
        Backing::ZipFile(a) => zip_infos(a),
        Backing::ZipMem(a) => zip_infos(a),
        Backing::ZipAge(a) => zip_infos(a),
        Backing::Dir => return,
    };
    let by_index: std::collections::HashMap<usize, (u64, Option<Timestamp>)> = infos
        .into_iter()
        .map(|(i, size, ts)| (i, (size, ts)))
        .collect();
    for m in &mut source.members {
        if let Loc::Zip(i) = m.loc
            && let Some((size, ts)) = by_index.get(&i)
        {
            m.size = *size;
            m.modified = *ts;
        }
    }
}

fn zip_infos<R: Read + Seek>(
    archive: &Mutex<zip::ZipArchive<R>>,
) -> Vec<(usize, u64, Option<Timestamp>)> {
    let Ok(mut guard) = archive.lock() else {
        return Vec::new();
    };
    (0..guard.len())
        .filter_map(|i| {
            let e = guard.by_index_raw(i).ok()?;
            let ts = e.last_modified().and_then(|d| {
                let dt = jiff::civil::DateTime::new(
                    d.year() as i16,
                    d.month() as i8,
                    d.day() as i8,
                    d.hour() as i8,
                    d.minute() as i8,
                    d.second() as i8,
                    0,
                )
                .ok()?;
                jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
            });
            Some((i, e.size(), ts))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            for (name, data) in entries {
                z.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                z.write_all(data).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn single_top_folder_is_stripped() {
        let bytes = zip_with(&[("acq/getprop.txt", b"[a]: [b]"), ("acq/logs/x.txt", b"x")]);
        let s = Source::open_zip_bytes("t.zip".into(), bytes).unwrap();
        let names: Vec<_> = s.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["getprop.txt", "logs/x.txt"]);
        let m = s.find("getprop.txt").unwrap();
        assert_eq!(s.read(m).unwrap(), b"[a]: [b]");
    }

    #[test]
    fn zip_bomb_member_is_refused_unread() {
        // 300 MiB of zeros deflates to about 300 KB (ratio ~1,000).
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file("dumpstate.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..300 {
                z.write_all(&chunk).unwrap();
            }
            z.start_file("ok.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"fine").unwrap();
            z.finish().unwrap();
        }
        let bytes = buf.into_inner();
        assert!(bytes.len() < 2 * 1024 * 1024);
        let s = Source::open_zip_bytes("bomb.zip".into(), bytes).unwrap();
        let bomb = s
            .members
            .iter()
            .find(|m| m.name == "dumpstate.txt")
            .unwrap();
        let err = s.read(bomb).unwrap_err().to_string();
        assert!(
            err.contains("dumpstate.txt") && err.contains("zip bomb"),
            "{err}"
        );
        let ok = s.members.iter().find(|m| m.name == "ok.txt").unwrap();
        assert_eq!(s.read(ok).unwrap(), b"fine");
        // A large but ordinary log ratio is not a bomb.
        assert!(!looks_like_bomb(300 << 20, 20 << 20));
        assert!(looks_like_bomb(300 << 20, 300 << 10));
        assert!(!looks_like_bomb(10 << 20, 10 << 10));
    }

    #[test]
    fn unsafe_names_are_refused() {
        let bytes = zip_with(&[("../evil.txt", b"x"), ("ok.txt", b"y")]);
        let s = Source::open_zip_bytes("t.zip".into(), bytes).unwrap();
        assert_eq!(s.members.len(), 1);
        assert!(s.notes[0].contains("evil"));
    }
}
