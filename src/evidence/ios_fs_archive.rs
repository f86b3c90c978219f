//! An iOS filesystem dump handed over as an archive (`.tar`, `.tar.gz` /
//! `.tgz`, `.zip`), read without unpacking it next to the evidence.
//!
//! One pass over the archive (a tar stream is read once, front to back; a
//! zip's central directory is read, then its needed members) lists every
//! member with its kind, size, mtime and mode ([`DumpListing`]), and copies
//! only the files modules read ([`Needs`]) into a private temporary folder
//! (0700, removed when the scan ends; see `private_tmp`). The listing is
//! indexed under the backup domains as a dump folder is
//! (`ios_fs::index_from_listing`), so the same modules run on both forms.
//!
//! The dump root is found by its paths: `private/var/…`, or `var/…` (the
//! `/var` link's name, read as `private/var/…`), under any wrapper folders
//! (`filesystem1/`, `./`). Hostile archives are refused with a one-line
//! error, never followed: a member named with `..` or an absolute path, more
//! than [`MAX_DUMP_ENTRIES`] members, a gzip stream inflating more than
//! [`super::BOMB_RATIO`] to 1 past [`BOMB_FLOOR`], a zip member that looks
//! like a bomb. Links are listed with their target and never followed; a
//! needed file over [`MAX_NEEDED_FILE`] bytes, or needed files over
//! [`MAX_SPOOL_TOTAL`] in all, are not read and the report's notes say so.

use std::cell::Cell;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::ios_backup::{DumpExtras, IosBackup, domain_root};
use super::ios_fs::{
    CONTAINER_METADATA, CONTAINER_PARENTS, DumpEntry, DumpListing, EntryKind, EntryMeta,
    SYSTEM_VERSION,
};
use super::is_safe_member_name;
use super::private_tmp::PrivateTempDir;
use crate::error::{Error, Result};

/// Most members an archived dump may have (a full dump has a few million).
pub const MAX_DUMP_ENTRIES: usize = 20_000_000;
/// Largest single file copied for a module.
pub const MAX_NEEDED_FILE: u64 = 1024 * 1024 * 1024;
/// Most bytes copied for modules in all.
pub const MAX_SPOOL_TOTAL: u64 = 8 * 1024 * 1024 * 1024;
/// Inflated bytes above which a gzip stream's ratio is checked.
pub const BOMB_FLOOR: u64 = 1024 * 1024 * 1024;

/// The caps of one read (the constants above; tests use small ones).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_needed_file: u64,
    pub max_spool_total: u64,
    /// Inflated bytes above which a gzip stream's ratio is checked.
    pub bomb_floor: u64,
    /// A zip member inflating past this at more than the bomb ratio is refused.
    pub zip_bomb_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: MAX_DUMP_ENTRIES,
            max_needed_file: MAX_NEEDED_FILE,
            max_spool_total: MAX_SPOOL_TOTAL,
            bomb_floor: BOMB_FLOOR,
            zip_bomb_floor: super::zip_source::BOMB_MIN_BYTES,
        }
    }
}

/// Which files of a dump modules read: globs over dump paths
/// (`private/var/mobile/Library/SMS/sms.db`; `*` also matches `/`), made
/// from the modules' declared artifacts, plus a database's `-wal`,
/// `-shm` and `-journal`, the container metadata plists that name app
/// folders and `SystemVersion.plist`.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    globs: Vec<Glob>,
    /// Files of which only the first [`HEAD_BYTES`] are read.
    heads: Vec<Glob>,
}

/// How much of a file matched by [`Needs::wants_head`] is kept.
pub const HEAD_BYTES: u64 = 4096;

/// Files whose first bytes a module sniffs (`sms_attachments` looks for
/// documents behind image names), as dump-path globs.
const HEAD_GLOBS: &[&str] = &["private/var/mobile/Library/SMS/Attachments/*"];

/// What is kept of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    Whole,
    Head,
    Nothing,
}

impl Needs {
    /// From artifact declarations: `Domain/relative/glob` (several may be
    /// comma-separated). A fixed domain stands for its device folder, an
    /// app or group domain (or a glob such as `AppDomain-*`) for any
    /// container of that kind, `*` for any folder. `{a,b}` alternatives
    /// are expanded. Declarations without a `/` (`Info.plist`,
    /// `Manifest.db`) name backup files and are left out.
    pub fn from_artifacts<'a>(artifacts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut globs: Vec<String> = Vec::new();
        for art in artifacts {
            for part in art.split(", ") {
                let Some((domain, rel)) = part.trim().split_once('/') else {
                    continue;
                };
                for rel in expand_braces(rel) {
                    globs.extend(device_globs(domain, &rel));
                }
            }
        }
        for (parent, _) in CONTAINER_PARENTS {
            globs.push(format!("{parent}/*/{CONTAINER_METADATA}"));
        }
        globs.push(SYSTEM_VERSION.to_string());
        globs.sort();
        globs.dedup();
        Needs {
            globs: globs.iter().map(|g| Glob::new(g)).collect(),
            heads: HEAD_GLOBS.iter().map(|g| Glob::new(g)).collect(),
        }
    }

    /// Whether a module reads the first [`HEAD_BYTES`] of this file.
    pub fn wants_head(&self, path: &str) -> bool {
        self.heads.iter().any(|g| g.matches(path))
    }

    fn keep(&self, path: &str) -> Keep {
        if self.wants(path) {
            Keep::Whole
        } else if self.wants_head(path) {
            Keep::Head
        } else {
            Keep::Nothing
        }
    }

    /// Whether modules read the file at this dump path.
    pub fn wants(&self, path: &str) -> bool {
        let base = ["-wal", "-shm", "-journal"]
            .iter()
            .find_map(|s| path.strip_suffix(s))
            .unwrap_or(path);
        self.globs
            .iter()
            .any(|g| g.matches(path) || g.matches(base))
    }

    /// The patterns, for messages and tests.
    pub fn patterns(&self) -> Vec<&str> {
        self.globs.iter().map(|g| g.text.as_str()).collect()
    }
}

/// Dump-path globs for one `Domain/rel` declaration.
fn device_globs(domain: &str, rel: &str) -> Vec<String> {
    if let Some(root) = domain_root(domain) {
        return vec![format!("{}/{rel}", root.trim_start_matches('/'))];
    }
    let mut out = Vec::new();
    for (parent, prefix) in CONTAINER_PARENTS {
        let kind = prefix.trim_end_matches('-');
        // `AppDomain-x` is a container of its kind, not `AppDomainGroup-x`.
        let of_kind = domain
            .strip_prefix(kind)
            .is_some_and(|r| r.starts_with('-') || r == "*");
        if of_kind {
            out.push(format!("{parent}/*/{rel}"));
        }
    }
    if out.is_empty() {
        out.push(format!("*/{rel}"));
    }
    out
}

/// `a{,b/}c` → `ac`, `ab/c` (one level of nesting is enough for the
/// declarations).
fn expand_braces(s: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (s.find('{'), s.find('}')) else {
        return vec![s.to_string()];
    };
    if close < open {
        return vec![s.to_string()];
    }
    let (head, rest) = (&s[..open], &s[close + 1..]);
    s[open + 1..close]
        .split(',')
        .flat_map(|alt| expand_braces(&format!("{head}{alt}{rest}")))
        .collect()
}

/// A glob where `*` matches any run of characters (`/` included) and `?`
/// any one character.
#[derive(Clone, Debug)]
struct Glob {
    text: String,
    /// The literal text after the last `*`/`?`: a quick refusal.
    tail: String,
}

impl Glob {
    fn new(text: &str) -> Self {
        let tail = text
            .rfind(['*', '?'])
            .map_or(text, |i| &text[i + 1..])
            .to_string();
        Glob {
            text: text.to_string(),
            tail,
        }
    }

    fn matches(&self, s: &str) -> bool {
        s.ends_with(&self.tail) && wildcard(self.text.as_bytes(), s.as_bytes())
    }
}

/// Iterative wildcard match with one backtrack point (linear for the
/// patterns used here).
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Folders found directly in a device's `/var` (how a `var/…` path is
/// told from any folder named `var`).
const VAR_CHILDREN: &[&str] = &[
    "mobile",
    "containers",
    "db",
    "root",
    "wireless",
    "preferences",
    "Keychains",
    "networkd",
    "installd",
    "protected",
    "logs",
    "tmp",
    "log",
    "Managed Preferences",
];

/// Wrapper folders tolerated above the dump root.
const MAX_WRAPPERS: usize = 4;

/// Where the dump root is in a member name (without a leading `./`): the
/// byte length of the wrapper folders before it, and whether the dump
/// says `var/` for `private/var/`. `None` when the name does not tell.
pub fn dump_root_of(name: &str) -> Option<(usize, bool)> {
    let comps: Vec<&str> = name.split('/').collect();
    let mut offset = 0usize;
    for (i, c) in comps.iter().enumerate().take(MAX_WRAPPERS + 1) {
        let next = comps.get(i + 1).copied();
        if *c == "private" && next == Some("var") {
            return Some((offset, false));
        }
        if *c == "var" && next.is_some_and(|n| VAR_CHILDREN.contains(&n)) {
            return Some((offset, true));
        }
        offset += c.len() + 1;
    }
    None
}

/// Whether a member name is one of an iOS filesystem dump (for detection):
/// its root is found, or it is the system volume's version file.
pub fn is_dump_member(name: &str) -> bool {
    let name = strip_dot(name);
    dump_root_of(name).is_some()
        || name.ends_with(SYSTEM_VERSION)
            && name.len() - SYSTEM_VERSION.len() <= 64
            && name[..name.len() - SYSTEM_VERSION.len()]
                .split('/')
                .filter(|c| !c.is_empty())
                .count()
                <= MAX_WRAPPERS
}

/// Without leading `./` (and `/` for the check that refuses it later).
fn strip_dot(name: &str) -> &str {
    let mut n = name;
    while let Some(r) = n.strip_prefix("./") {
        n = r;
    }
    n.trim_end_matches('/')
}

/// The dump path a member name stands for, guessed before the root is
/// known, for deciding whether modules need it.
fn guessed_path(name: &str) -> Option<String> {
    let (at, var) = dump_root_of(name)?;
    let rest = &name[at..];
    Some(if var {
        format!("private/{rest}")
    } else {
        rest.to_string()
    })
}

/// Whether modules need the member `name`: by its dump path when the name
/// shows the root, else by any ending of it at a `/` (files outside
/// `private/var`, such as `System/…/SystemVersion.plist`).
fn member_wanted(needs: &Needs, name: &str) -> Keep {
    if let Some(p) = guessed_path(name) {
        return needs.keep(&p);
    }
    let whole = needs.wants(name)
        || name
            .match_indices('/')
            .any(|(i, _)| needs.wants(&name[i + 1..]));
    if whole { Keep::Whole } else { Keep::Nothing }
}

/// The private folder the needed files are copied to, at their member name.
struct Spool {
    dir: PrivateTempDir,
    total: u64,
    notes: Vec<String>,
    limits: Limits,
    /// Files of which only the head was copied.
    partial: std::collections::HashSet<PathBuf>,
}

impl Spool {
    fn new(limits: Limits) -> Result<Self> {
        let dir = PrivateTempDir::new_named_in(&std::env::temp_dir(), "spydar-dump-")
            .map_err(|e| Error::input(std::env::temp_dir(), format!("private folder: {e}")))?;
        Ok(Spool {
            dir,
            total: 0,
            notes: Vec::new(),
            limits,
            partial: Default::default(),
        })
    }

    /// Copies what is kept of a member of `size` bytes (the caller reads
    /// past the rest).
    fn keep(
        &mut self,
        keep: Keep,
        name: &str,
        size: u64,
        reader: &mut dyn Read,
    ) -> std::io::Result<()> {
        match keep {
            Keep::Whole => self.put(name, size, reader),
            Keep::Head if size > HEAD_BYTES => {
                self.put(name, HEAD_BYTES, reader)?;
                self.partial.insert(self.dir.path().join(name));
                Ok(())
            }
            Keep::Head => self.put(name, size, reader),
            Keep::Nothing => Ok(()),
        }
    }

    /// Copies a member of `size` bytes; a short member is an error, an
    /// oversize one a note.
    fn put(&mut self, name: &str, size: u64, reader: &mut dyn Read) -> std::io::Result<()> {
        let Limits {
            max_needed_file,
            max_spool_total,
            ..
        } = self.limits;
        if size > max_needed_file || self.total.saturating_add(size) > max_spool_total {
            self.notes.push(format!(
                "not read: {name} ({size} bytes) is over the limit of {max_needed_file} bytes per file and {max_spool_total} in all that modules read from an archive"
            ));
            return Ok(());
        }
        let dest = self.dir.path().join(name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&dest)?;
        let copied = std::io::copy(&mut reader.take(size), &mut out)?;
        out.flush()?;
        if copied < size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "member shorter than its header says",
            ));
        }
        self.total += size;
        Ok(())
    }
}

/// Opens an archived dump as a backup view; see the module documentation.
pub fn open(path: &Path, needs: &Needs) -> Result<IosBackup> {
    open_with(path, needs, Limits::default())
}

/// [`open`] with other caps.
pub fn open_with(path: &Path, needs: &Needs, limits: Limits) -> Result<IosBackup> {
    let mut spool = Spool::new(limits)?;
    let mut raw = DumpListing::default();
    let file = super::open_regular(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 4];
    let n = std::io::Read::read(&mut &file, &mut head).map_err(|e| Error::io(path, e))?;
    drop(file);
    if head[..n].starts_with(b"PK") {
        read_zip(path, needs, &mut spool, &mut raw)?;
    } else {
        read_tar(path, needs, &mut spool, &mut raw)?;
    }
    let (listing, root) = canonical_listing(path, raw)?;
    let base = spool.dir.path().join(&root.prefix);
    let var = root.var;
    let stored = |p: &str| -> PathBuf {
        match p.strip_prefix("private/").filter(|_| var) {
            Some(rest) => base.join(rest),
            None => base.join(p),
        }
    };
    let listing = std::sync::Arc::new(listing);
    let (index, roots) = super::ios_fs::index_from_listing(listing.clone(), &stored)
        .map_err(|e| Error::input(path, format!("cannot index the dump: {e}")))?;
    let mut device = super::ios_fs::device_info(&base);
    device.extra.remove("dump_folder");
    if let Some(name) = path.file_name() {
        device
            .extra
            .insert("dump_archive".into(), name.to_string_lossy().into_owned());
    }
    let mut notes = std::mem::take(&mut spool.notes);
    notes.extend(listing.notes.iter().cloned());
    let dump = DumpExtras {
        source: path.to_path_buf(),
        listing: std::sync::OnceLock::from(listing),
        notes,
        partial: spool.partial,
        spool: Some(spool.dir),
    };
    IosBackup::open_filesystem_dump(&base, index, roots, device, dump)
}

/// Where the dump root is inside the archive.
struct Root {
    /// Wrapper folders, with their trailing `/` (empty at the archive root).
    prefix: String,
    /// The dump says `var/` for `private/var/`.
    var: bool,
}

/// The listing with dump paths (wrappers removed, `var/` read as
/// `private/var/`), sorted; members outside the root are left out with a
/// note.
fn canonical_listing(path: &Path, raw: DumpListing) -> Result<(DumpListing, Root)> {
    let root = raw
        .entries
        .iter()
        .find_map(|e| dump_root_of(&e.path).map(|(at, var)| (e.path[..at].to_string(), var)))
        .map(|(prefix, var)| Root { prefix, var })
        .ok_or_else(|| {
            Error::input(
                path,
                "not an iOS filesystem dump: no member under private/var/ or var/",
            )
        })?;
    let mut out = DumpListing {
        entries: Vec::with_capacity(raw.entries.len()),
        notes: raw.notes,
        root: None,
    };
    let mut outside = 0u64;
    for mut e in raw.entries {
        let Some(rest) = e.path.strip_prefix(root.prefix.as_str()) else {
            // The wrapper folders themselves are no part of the dump.
            if !root.prefix.starts_with(&format!("{}/", e.path)) {
                outside += 1;
            }
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let canonical = if root.var && (rest == "var" || rest.starts_with("var/")) {
            format!("private/{rest}")
        } else {
            rest.to_string()
        };
        e.path = canonical.into();
        out.entries.push(e);
    }
    add_implied_folders(&mut out.entries);
    if outside > 0 {
        out.notes.push(format!(
            "{outside} archive members outside the dump's folder {:?} were not read",
            root.prefix
        ));
    }
    out.finish();
    Ok((out, root))
}

/// Adds the folders an archive implies but does not list (zips often
/// list files only), so containers and every path's parents are there.
fn add_implied_folders(entries: &mut Vec<DumpEntry>) {
    let mut dirs: std::collections::HashSet<Box<str>> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| e.path.clone())
        .collect();
    let mut added = Vec::new();
    for e in entries.iter() {
        let mut p: &str = &e.path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            if dirs.contains(parent) {
                break;
            }
            dirs.insert(parent.into());
            added.push(DumpEntry::bare(parent.into(), EntryKind::Dir, None));
            p = parent;
        }
    }
    entries.extend(added);
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

fn read_tar(path: &Path, needs: &Needs, spool: &mut Spool, out: &mut DumpListing) -> Result<()> {
    let file = super::open_regular(path).map_err(|e| Error::io(path, e))?;
    let compressed = Rc::new(Cell::new(0u64));
    let inflated = Rc::new(Cell::new(0u64));
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let gz = {
        let buf = std::io::BufRead::fill_buf(&mut reader).map_err(|e| Error::io(path, e))?;
        buf.starts_with(&[0x1f, 0x8b])
    };
    let inner: Box<dyn Read> = if gz {
        let counted = Counting {
            inner: reader,
            count: compressed.clone(),
        };
        Box::new(Counting {
            inner: MultiGzDecoder::new(counted),
            count: inflated.clone(),
        })
    } else {
        Box::new(reader)
    };
    let mut archive = tar::Archive::new(super::tar_guard::TarHeaderGuard::new(inner));
    let entries = archive
        .entries()
        .map_err(|e| Error::input(path, format!("not a tar archive: {e}")))?;
    let mut scratch = vec![0u8; 1 << 20];
    let mut seen = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if seen == 0 => {
                return Err(Error::input(path, format!("not a tar archive: {e}")));
            }
            Err(e) => {
                out.notes.push(format!(
                    "the archive is truncated or corrupt after {seen} members ({e}); findings cover the members read so far"
                ));
                break;
            }
        };
        seen += 1;
        if seen > spool.limits.max_entries {
            return Err(Error::input(
                path,
                format!("refused: more than {} members", spool.limits.max_entries),
            ));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(member) = tar_member(path, &raw, &entry)? else {
            continue;
        };
        let size = member.size();
        let keep = match member.kind {
            EntryKind::File => member_wanted(needs, &member.path),
            _ => Keep::Nothing,
        };
        let name = member.path.to_string();
        out.entries.push(member);
        let read = spool
            .keep(keep, &name, size, &mut entry)
            .and_then(|()| drain(&mut entry, &mut scratch));
        if let Err(e) = read {
            out.notes.push(format!(
                "the archive is truncated or corrupt in member {name} ({e}); findings cover the members read so far"
            ));
            break;
        }
        let (inf, comp) = (inflated.get(), compressed.get());
        if gz && inf > spool.limits.bomb_floor && inf / comp.max(1) > super::BOMB_RATIO {
            return Err(Error::input(
                path,
                format!(
                    "refused: looks like a decompression bomb ({inf} bytes inflated from {comp})"
                ),
            ));
        }
    }
    if seen == 0 {
        return Err(Error::input(path, "empty archive: no members"));
    }
    Ok(())
}

/// The listing entry of a tar member (`None` for the archive's `./` and
/// for devices and FIFOs); an unsafe name refuses the archive.
fn tar_member<R: Read>(
    path: &Path,
    raw: &str,
    entry: &tar::Entry<'_, R>,
) -> Result<Option<DumpEntry>> {
    let name = strip_dot(raw);
    if name.is_empty() || name == "." {
        return Ok(None);
    }
    if !is_safe_member_name(name) {
        return Err(unsafe_name(path, raw));
    }
    let header = entry.header();
    let t = header.entry_type();
    let (kind, bits) = if t.is_dir() {
        (EntryKind::Dir, 0o040000)
    } else if t.is_symlink() || t.is_hard_link() {
        (EntryKind::Link, 0o120000)
    } else if t.is_file() || t.is_contiguous() || t.is_gnu_sparse() {
        (EntryKind::File, 0o100000)
    } else {
        return Ok(None);
    };
    let link = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned().into_boxed_str());
    Ok(Some(DumpEntry {
        path: name.into(),
        kind,
        link: if kind == EntryKind::Link { link } else { None },
        meta: Some(Box::new(
            EntryMeta::new(if kind == EntryKind::File {
                entry.size()
            } else {
                0
            })
            .times(
                header.mtime().ok().and_then(|t| i64::try_from(t).ok()),
                None,
                None,
            )
            .owner(
                header.mode().ok().map(|m| (m & 0o7777) | bits),
                header.uid().ok().and_then(|u| u32::try_from(u).ok()),
                header.gid().ok().and_then(|g| u32::try_from(g).ok()),
            ),
        )),
    }))
}

fn unsafe_name(path: &Path, raw: &str) -> Error {
    Error::input(
        path,
        format!(
            "refused: member {raw:?} is named with an absolute path or `..`; spydar never reads such an archive"
        ),
    )
}

/// Reads the rest of a member with large reads.
fn drain(reader: &mut dyn Read, scratch: &mut [u8]) -> std::io::Result<()> {
    loop {
        match reader.read(scratch) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn read_zip(path: &Path, needs: &Needs, spool: &mut Spool, out: &mut DumpListing) -> Result<()> {
    let file = super::open_regular(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| Error::input(path, format!("unreadable zip archive: {e}")))?;
    let limits = spool.limits;
    if archive.len() > limits.max_entries {
        return Err(Error::input(
            path,
            format!(
                "refused: {} members, more than {}",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let zerr =
        |e: zip::result::ZipError| Error::input(path, format!("unreadable zip archive: {e}"));
    for i in 0..archive.len() {
        let (member, compressed) = {
            let f = archive.by_index_raw(i).map_err(zerr)?;
            let raw = String::from_utf8_lossy(f.name_raw()).into_owned();
            let name = strip_dot(&raw);
            if name.is_empty() || name == "." {
                continue;
            }
            if !is_safe_member_name(name) {
                return Err(unsafe_name(path, &raw));
            }
            let mode = f.unix_mode();
            let kind = if f.is_dir() {
                EntryKind::Dir
            } else if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
                EntryKind::Link
            } else {
                EntryKind::File
            };
            let bits = match kind {
                EntryKind::Dir => 0o040000,
                EntryKind::Link => 0o120000,
                EntryKind::File => 0o100000,
            };
            let member = DumpEntry {
                path: name.into(),
                kind,
                link: None,
                meta: Some(Box::new(
                    EntryMeta::new(if kind == EntryKind::File { f.size() } else { 0 })
                        .times(zip_mtime(&f), None, None)
                        .owner(mode.map(|m| (m & 0o7777) | bits), None, None),
                )),
            };
            (member, f.compressed_size())
        };
        let mut member = member;
        if member.kind == EntryKind::Link {
            let target = read_zip_member(&mut archive, i, compressed, limits)
                .map_err(|e| Error::input(path, format!("zip member {}: {e}", member.path)))?;
            member.link = Some(String::from_utf8_lossy(&target).into());
        } else if member.kind == EntryKind::File
            && let keep = member_wanted(needs, &member.path)
            && keep != Keep::Nothing
        {
            if zip_bomb(member.size(), compressed, limits) {
                return Err(Error::input(
                    path,
                    format!(
                        "refused: zip member {} looks like a decompression bomb ({} bytes from {compressed})",
                        member.path,
                        member.size()
                    ),
                ));
            }
            let mut f = archive.by_index(i).map_err(zerr)?;
            spool
                .keep(keep, &member.path, member.size(), &mut f)
                .map_err(|e| Error::input(path, format!("zip member {}: {e}", member.path)))?;
        }
        out.entries.push(member);
    }
    if out.entries.is_empty() {
        return Err(Error::input(path, "empty archive: no members"));
    }
    Ok(())
}

/// A zip member that inflates past the zip bomb floor at more than
/// [`super::zip_source::BOMB_RATIO`] to 1.
fn zip_bomb(size: u64, compressed: u64, limits: Limits) -> bool {
    size > limits.zip_bomb_floor && size / compressed.max(1) > super::zip_source::BOMB_RATIO
}

/// A link member's target: its content, a short path.
fn read_zip_member<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    i: usize,
    compressed: u64,
    limits: Limits,
) -> std::io::Result<Vec<u8>> {
    let f = archive.by_index(i).map_err(std::io::Error::other)?;
    if zip_bomb(f.size(), compressed, limits) {
        return Err(std::io::Error::other("looks like a decompression bomb"));
    }
    super::read_capped(f, 4096)
}

/// A zip member's mtime: the extended-timestamp field when present (UTC),
/// else the DOS time, taken as UTC (zip stores no zone; MVT does the same).
fn zip_mtime<R: Read>(f: &zip::read::ZipFile<'_, R>) -> Option<i64> {
    for field in f.extra_data_fields() {
        if let zip::extra_fields::ExtraField::ExtendedTimestamp(ts) = field
            && let Some(t) = ts.mod_time()
        {
            return Some(i64::from(t));
        }
    }
    let d = f.last_modified()?;
    let civil = jiff::civil::date(d.year() as i16, d.month() as i8, d.day() as i8).at(
        d.hour() as i8,
        d.minute() as i8,
        d.second() as i8,
        0,
    );
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .ok()
        .map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_needs() {
        assert_eq!(dump_root_of("private/var/mobile"), Some((0, false)));
        assert_eq!(
            dump_root_of("filesystem1/private/var/db/x"),
            Some((12, false))
        );
        assert_eq!(dump_root_of("dump/var/mobile/Library"), Some((5, true)));
        assert_eq!(dump_root_of("dump/var/folders/x"), None);
        assert_eq!(dump_root_of("a/b/c/d/e/private/var/x"), None);
        assert!(is_dump_member(
            "./fs/System/Library/CoreServices/SystemVersion.plist"
        ));
        assert!(!is_dump_member("sysdiagnose_2024/logs/ps.txt"));

        let needs = Needs::from_artifacts([
            "HomeDomain/Library/SMS/sms.db",
            "*/Library/Safari/{,Profiles/*/}History.db",
            "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite",
            "Info.plist",
            "Manifest.db, DataUsage.sqlite",
        ]);
        for yes in [
            "private/var/mobile/Library/SMS/sms.db",
            "private/var/mobile/Library/SMS/sms.db-wal",
            "private/var/mobile/Library/Safari/History.db",
            "private/var/mobile/Containers/Data/Application/U/Library/Safari/Profiles/P/History.db",
            "private/var/mobile/Containers/Shared/AppGroup/U/ChatStorage.sqlite",
            "private/var/containers/Shared/SystemGroup/U/.com.apple.mobile_container_manager.metadata.plist",
            "System/Library/CoreServices/SystemVersion.plist",
        ] {
            assert!(needs.wants(yes), "{yes}");
        }
        for no in [
            "private/var/mobile/Library/SMS/sms.db.bak",
            "private/var/mobile/Containers/Data/Application/U/ChatStorage.sqlite",
            "private/var/mobile/Media/DCIM/IMG_0001.JPG",
            "private/var/mobile/Library/Info.plist",
        ] {
            assert!(!needs.wants(no), "{no}");
        }
        assert_eq!(
            member_wanted(
                &needs,
                "wrap/System/Library/CoreServices/SystemVersion.plist"
            ),
            Keep::Whole
        );
        assert_eq!(
            member_wanted(&needs, "wrap/var/mobile/Library/SMS/sms.db"),
            Keep::Whole
        );
        assert_eq!(
            member_wanted(
                &needs,
                "private/var/mobile/Library/SMS/Attachments/a/b/x.gif"
            ),
            Keep::Head
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"a*c", b"abbbc"));
        assert!(wildcard(b"a*/x", b"a/b/c/x"));
        assert!(!wildcard(b"a*c", b"abd"));
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"a?c", b"abc"));
        assert_eq!(expand_braces("x/{,P/*/}H.db"), ["x/H.db", "x/P/*/H.db"]);
    }
}
