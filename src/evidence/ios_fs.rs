//! Read-only view of an iOS full filesystem extraction (a folder holding
//! `private/var/mobile/...`, as checkm8 or agent-based tools produce) as an
//! [`IosBackup`], so the backup modules run on it unchanged.
//!
//! The dump is walked once, folders in parallel (symlinks are listed, never
//! followed), into a [`DumpListing`] that serves the `filesystem` module and
//! is indexed as a `Manifest.db` `Files` table (see `ios_fs_index`: a
//! virtual table over the listing, no database of rows), each path under
//! the backup domain its folder belongs to: `private/var/mobile` is
//! `HomeDomain`, the fixed roots of [`domain_root`] give the other system
//! domains, and app containers (random UUID folders) are named by the
//! `MCMMetadataIdentifier` of their
//! `.com.apple.mobile_container_manager.metadata.plist`
//! (`AppDomain-<bundle id>`, `AppDomainGroup-<group id>`,
//! `AppDomainPlugin-<id>`, `SysSharedContainerDomain-<id>`). Nothing is
//! written to the dump; databases are opened immutable.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::ios_backup::{DumpExtras, IosBackup, plist_scalar};
use super::ios_domain::domain_root;
use super::ios_fs_index::{DumpIndex, path_order};
use crate::error::{Error, Result};
use crate::model::{DeviceInfo, Platform};

/// Domains with a fixed device folder, one per folder (`HomeDomain` stands
/// for every domain rooted at `/private/var/mobile`).
const FIXED_DOMAINS: &[&str] = &[
    "HomeDomain",
    "RootDomain",
    "WirelessDomain",
    "SystemPreferencesDomain",
    "ManagedPreferencesDomain",
    "KeychainDomain",
    "DatabaseDomain",
    "NetworkDomain",
    "ProtectedDomain",
    "InstallDomain",
];

/// Container parents: `(device folder, domain prefix)`.
pub const CONTAINER_PARENTS: &[(&str, &str)] = &[
    (
        "private/var/mobile/Containers/Data/Application",
        "AppDomain-",
    ),
    (
        "private/var/mobile/Containers/Shared/AppGroup",
        "AppDomainGroup-",
    ),
    (
        "private/var/mobile/Containers/Data/PluginKitPlugin",
        "AppDomainPlugin-",
    ),
    (
        "private/var/containers/Shared/SystemGroup",
        "SysSharedContainerDomain-",
    ),
];

/// The system volume's version file, relative to the dump root.
pub const SYSTEM_VERSION: &str = "System/Library/CoreServices/SystemVersion.plist";

/// The container metadata file that names a container folder.
pub const CONTAINER_METADATA: &str = ".com.apple.mobile_container_manager.metadata.plist";

/// The identifier in a container folder's metadata plist, if readable.
fn container_id(dir: &Path) -> Option<String> {
    let path = dir.join(CONTAINER_METADATA);
    if !std::fs::symlink_metadata(&path).ok()?.file_type().is_file() {
        return None;
    }
    let value = super::plist_safe::value_from_file(&path).ok()?;
    value
        .as_dictionary()?
        .get("MCMMetadataIdentifier")?
        .as_string()
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .map(str::to_string)
}

fn unix(t: std::io::Result<std::time::SystemTime>) -> Option<i64> {
    let t = t.ok()?;
    jiff::Timestamp::try_from(t).ok().map(|t| t.as_second())
}

/// Device facts: `System/Library/CoreServices/SystemVersion.plist` (when
/// the extraction includes the system volume) and the dump's folder name.
pub(crate) fn device_info(root: &Path) -> DeviceInfo {
    let mut device = DeviceInfo {
        platform: Some(Platform::Ios),
        ..Default::default()
    };
    let sv_rel = Path::new(SYSTEM_VERSION);
    let sv = root.join(sv_rel);
    let dict = super::no_links_below(root, sv_rel)
        .then(|| super::plist_safe::value_from_file(&sv).ok())
        .flatten()
        .and_then(|v| v.into_dictionary());
    if let Some(d) = dict {
        let get = |k: &str| d.get(k).and_then(plist_scalar).filter(|s| !s.is_empty());
        device.os_version = get("ProductVersion");
        device.build = get("ProductBuildVersion");
    }
    if let Some(name) = root.file_name() {
        device
            .extra
            .insert("dump_folder".into(), name.to_string_lossy().into_owned());
    }
    device
}

/// Opens a dump given as a folder or as an archive (`.tar`, `.tar.gz`,
/// `.zip`; see [`super::ios_fs_archive`], which copies the files `needs`
/// names to a private folder).
pub fn open_dump(path: &Path, needs: &super::ios_fs_archive::Needs) -> Result<IosBackup> {
    if std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_dir()
    {
        open(path)
    } else {
        super::ios_fs_archive::open(path, needs)
    }
}

/// Opens a filesystem dump rooted at `root` (the folder holding `private/`).
pub fn open(root: &Path) -> Result<IosBackup> {
    // No link is followed inside a dump, not even a top-level `private`
    // (some tools write `private -> private/var`-style links): scan the
    // folder the link points to instead.
    if let Some(link) = ["private", "private/var", "private/var/mobile"]
        .into_iter()
        .find(|p| std::fs::symlink_metadata(root.join(p)).is_ok_and(|m| m.file_type().is_symlink()))
    {
        return Err(Error::input(
            root.join(link),
            "is a symbolic link; spydar never follows links inside a dump (scan the folder it points to, or copy the dump without links)",
        ));
    }
    // A partial dump (only `private/var/db/diagnostics`, say) is still a
    // dump, as MVT reads it: its modules report what is missing.
    let var = root.join("private/var");
    if !std::fs::symlink_metadata(&var).is_ok_and(|m| m.is_dir()) {
        return Err(Error::input(
            root,
            "not an iOS filesystem dump: private/var is missing",
        ));
    }
    // One walk: the listing serves `filesystem` and is the index.
    let listing = Arc::new(list_folder(root));
    let (index, roots) = index_from_listing(listing.clone(), &|p: &str| root.join(p))
        .map_err(|e| Error::input(root, format!("cannot index the dump: {e}")))?;
    let dump = DumpExtras::folder(root);
    dump.listing.get_or_init(|| listing);
    IosBackup::open_filesystem_dump(root, index, roots, device_info(root), dump)
}

/// What an entry of a dump is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Link,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Link => "link",
        }
    }
}

/// One path of a dump, as the walk of a folder or the listing of an
/// archive gives it. Kept small: a dump can hold millions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpEntry {
    /// Relative to the dump root, `/`-separated, no leading `/`
    /// (`private/var/mobile/Library/SMS/sms.db`).
    pub path: Box<str>,
    pub kind: EntryKind,
    /// A link's target (never followed).
    pub link: Option<Box<str>>,
    /// Size, times, mode and owner: `None` while a folder's walk has not
    /// read them (see [`DumpListing::full`]), or when an archive gives none
    /// (a folder it implies without listing).
    pub meta: Option<Box<EntryMeta>>,
}

/// What a path's `stat` (or an archive member's header) says besides its
/// kind. Compact (one value per field stands for "not known"): an archive
/// of a million members keeps one each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    size: u64,
    mtime: i64,
    ctime: i64,
    birth: i64,
    inode: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

const NO_TIME: i64 = i64::MIN;
const NO_ID: u32 = u32::MAX;

impl EntryMeta {
    /// `size` bytes; nothing else known.
    pub fn new(size: u64) -> Self {
        EntryMeta {
            size,
            mtime: NO_TIME,
            ctime: NO_TIME,
            birth: NO_TIME,
            inode: u64::MAX,
            mode: NO_ID,
            uid: NO_ID,
            gid: NO_ID,
        }
    }

    /// Modification, status-change and birth times (Unix seconds).
    pub fn times(mut self, mtime: Option<i64>, ctime: Option<i64>, birth: Option<i64>) -> Self {
        let t = |v: Option<i64>| v.filter(|&v| v != NO_TIME).unwrap_or(NO_TIME);
        (self.mtime, self.ctime, self.birth) = (t(mtime), t(ctime), t(birth));
        self
    }

    /// POSIX mode (with the file-type bits), owner and group.
    pub fn owner(mut self, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) -> Self {
        let v = |v: Option<u32>| v.unwrap_or(NO_ID);
        (self.mode, self.uid, self.gid) = (v(mode), v(uid), v(gid));
        self
    }

    pub fn inode(mut self, inode: Option<u64>) -> Self {
        self.inode = inode.unwrap_or(u64::MAX);
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Unix seconds.
    pub fn mtime(&self) -> Option<i64> {
        Some(self.mtime).filter(|&t| t != NO_TIME)
    }

    pub fn ctime(&self) -> Option<i64> {
        Some(self.ctime).filter(|&t| t != NO_TIME)
    }

    pub fn birth(&self) -> Option<i64> {
        Some(self.birth).filter(|&t| t != NO_TIME)
    }

    pub fn inode_number(&self) -> Option<u64> {
        Some(self.inode).filter(|&i| i != u64::MAX)
    }

    /// POSIX mode with the file-type bits, when known.
    pub fn mode(&self) -> Option<u32> {
        Some(self.mode).filter(|&m| m != NO_ID)
    }

    pub fn uid(&self) -> Option<u32> {
        Some(self.uid).filter(|&m| m != NO_ID)
    }

    pub fn gid(&self) -> Option<u32> {
        Some(self.gid).filter(|&m| m != NO_ID)
    }
}

impl DumpEntry {
    /// An entry whose metadata is not known (yet).
    pub fn bare(path: Box<str>, kind: EntryKind, link: Option<Box<str>>) -> Self {
        DumpEntry {
            path,
            kind,
            link,
            meta: None,
        }
    }

    /// The size (0 when not known).
    pub fn size(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.size)
    }

    pub fn mtime(&self) -> Option<i64> {
        self.meta.as_ref().and_then(|m| m.mtime())
    }

    pub fn mode(&self) -> Option<u32> {
        self.meta.as_ref().and_then(|m| m.mode())
    }
}

/// Every path of a dump, in the component-wise order of its paths (see
/// [`path_order`]: a folder's paths right after it, each folder's names in
/// byte order), and what was met while listing.
#[derive(Debug, Default)]
pub struct DumpListing {
    pub entries: Vec<DumpEntry>,
    pub notes: Vec<String>,
    /// The dump folder, when the walk left the metadata of its entries to
    /// be read on first need (see [`DumpListing::full`]); `None` for an
    /// archive, whose headers gave it.
    pub root: Option<PathBuf>,
}

impl DumpListing {
    /// Sorts by path and keeps the last of duplicated paths (an archive
    /// may store a path twice; the later member wins, as when unpacking).
    pub fn finish(&mut self) {
        // Stable: among equal paths the later member stays last.
        self.entries.sort_by(|a, b| path_order(&a.path, &b.path));
        if self.entries.windows(2).all(|w| w[0].path != w[1].path) {
            return;
        }
        let mut out: Vec<DumpEntry> = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            match out.last_mut() {
                Some(last) if last.path == e.path => *last = e,
                _ => out.push(e),
            }
        }
        self.entries = out;
    }

    /// `e` with its metadata. A folder's walk reads names and kinds only
    /// (the folder listing says file, folder or link): the size, times,
    /// mode and owner of a path are read here, when a module or a query
    /// needs them (a path that mentions an indicator, an index row whose
    /// `file` column is read), not for every path of the dump.
    pub fn full<'a>(&self, e: &'a DumpEntry) -> Cow<'a, DumpEntry> {
        let Some(root) = self.root.as_ref().filter(|_| e.meta.is_none()) else {
            return Cow::Borrowed(e);
        };
        match std::fs::symlink_metadata(root.join(&*e.path)) {
            Ok(meta) => Cow::Owned(entry_of(e.path.to_string(), e.kind, &meta, e.link.clone())),
            Err(_) => Cow::Borrowed(e),
        }
    }
}

/// Lists every path below `root` (links listed, never followed), the
/// folders read in parallel; see [`DumpListing::full`] for the metadata.
pub fn list_folder(root: &Path) -> DumpListing {
    let tree = walk_folder(root, "");
    let mut listing = DumpListing {
        entries: Vec::with_capacity(tree.count),
        notes: Vec::new(),
        root: Some(root.to_path_buf()),
    };
    tree.flatten_into(&mut listing);
    // Folders are read in any order; the notes are told in one.
    listing.notes.sort();
    listing
}

/// One folder as walked: its entries sorted by name, and the folders
/// below (by the position of their entry), so that the listing comes out
/// in order without sorting all of it.
struct Folder {
    entries: Vec<DumpEntry>,
    notes: Vec<String>,
    subs: Vec<(usize, Folder)>,
    /// Entries here and below.
    count: usize,
}

impl Folder {
    fn flatten_into(self, out: &mut DumpListing) {
        out.notes.extend(self.notes);
        let mut subs = self.subs.into_iter().peekable();
        for (i, e) in self.entries.into_iter().enumerate() {
            out.entries.push(e);
            while let Some((_, sub)) = subs.next_if(|(at, _)| *at == i) {
                sub.flatten_into(out);
            }
        }
    }
}

/// Reads the folder `abs` (dump path `rel`) and, in parallel, the folders
/// below. Only names and kinds are read (`getdents`); a folder's entries
/// are sorted here, by name.
fn walk_folder(abs: &Path, rel: &str) -> Folder {
    use rayon::prelude::*;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let rd = match std::fs::read_dir(abs) {
        Ok(rd) => rd,
        Err(e) => {
            notes.push(format!("{}: {e}", abs.display()));
            return Folder {
                entries,
                notes,
                subs: Vec::new(),
                count: 0,
            };
        }
    };
    for item in rd {
        let Ok(item) = item else { continue };
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            notes.push(format!(
                "{}: a name that is not UTF-8, skipped",
                abs.display()
            ));
            continue;
        };
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if let Some(e) = walked_entry(&item, path) {
            entries.push(e);
        }
    }
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let dirs: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].kind == EntryKind::Dir)
        .collect();
    let subs: Vec<(usize, Folder)> = dirs
        .par_iter()
        .map(|&i| {
            let path = &entries[i].path;
            let name = path.rsplit('/').next().unwrap_or(path);
            (i, walk_folder(&abs.join(name), path))
        })
        .collect();
    let count = entries.len() + subs.iter().map(|(_, f)| f.count).sum::<usize>();
    Folder {
        entries,
        notes,
        subs,
        count,
    }
}

/// The entry of one folder item: its kind from the folder listing (no
/// `stat`) for files, folders and links; other kinds (FIFOs, devices, or a
/// file system that does not say) are read in full, so the index can
/// leave them out by their mode.
fn walked_entry(item: &std::fs::DirEntry, path: String) -> Option<DumpEntry> {
    let ft = item.file_type().ok()?;
    let kind = if ft.is_symlink() {
        EntryKind::Link
    } else if ft.is_dir() {
        EntryKind::Dir
    } else {
        EntryKind::File
    };
    let link = (kind == EntryKind::Link)
        .then(|| std::fs::read_link(item.path()).ok())
        .flatten()
        .map(|t| t.to_string_lossy().into());
    if ft.is_symlink() || ft.is_dir() || ft.is_file() {
        return Some(DumpEntry::bare(path.into(), kind, link));
    }
    // `DirEntry::metadata` does not follow a link.
    let meta = item.metadata().ok()?;
    Some(entry_of(path, kind, &meta, link))
}

fn entry_of(
    path: String,
    kind: EntryKind,
    meta: &std::fs::Metadata,
    link: Option<Box<str>>,
) -> DumpEntry {
    #[cfg(unix)]
    let (mode, uid, gid, inode, ctime) = {
        use std::os::unix::fs::MetadataExt;
        (
            Some(meta.mode()),
            Some(meta.uid()),
            Some(meta.gid()),
            Some(meta.ino()),
            Some(meta.ctime()),
        )
    };
    #[cfg(not(unix))]
    let (mode, uid, gid, inode, ctime) = (None, None, None, None, None);
    DumpEntry {
        path: path.into(),
        kind,
        link,
        meta: Some(Box::new(
            EntryMeta::new(meta.len())
                .times(unix(meta.modified()), ctime, unix(meta.created()))
                .owner(mode, uid, gid)
                .inode(inode),
        )),
    }
}

/// The index of a dump known by its listing (a folder's walk or an
/// archive's members): each entry under the backup domain its folder
/// belongs to. `stored` maps a dump path to where its bytes are kept (the
/// folder itself, or a private temp folder holding the files modules read
/// from an archive); container metadata is read there. Returns the index
/// and each domain's folder.
pub(crate) fn index_from_listing(
    listing: Arc<DumpListing>,
    stored: &dyn Fn(&str) -> PathBuf,
) -> rusqlite::Result<(DumpIndex, HashMap<String, PathBuf>)> {
    let entries = &listing.entries;
    let mut folders: Vec<(String, String)> = Vec::new();
    for d in FIXED_DOMAINS {
        if let Some(dev) = domain_root(d) {
            folders.push((d.to_string(), dev.trim_start_matches('/').to_string()));
        }
    }
    // Each path's domain (into `folders`) and the length of its domain
    // folder's path. The listing is in component order, so a folder and
    // the paths below it are one run: domains are given run by run, the
    // container folders last (a container is its own domain, never part of
    // `HomeDomain`; a container parent, and a path below one that is in no
    // container folder, is in none).
    let mut domain_of: Vec<Option<(u32, u32)>> = vec![None; entries.len()];
    for (i, (_, dir)) in folders.iter().enumerate() {
        let run = folder_run(entries, dir);
        domain_of[run].fill(Some((i as u32, dir.len() as u32)));
    }
    for (parent, prefix) in CONTAINER_PARENTS {
        let run = folder_run(entries, parent);
        domain_of[run.clone()].fill(None);
        let below = format!("{parent}/");
        for e in &entries[run] {
            let Some(uuid) = e.path.strip_prefix(&below) else {
                continue;
            };
            if e.kind != EntryKind::Dir || uuid.contains('/') {
                continue;
            }
            let dir = format!("{below}{uuid}");
            let mut domain = format!(
                "{prefix}{}",
                container_id(&stored(&dir)).unwrap_or(uuid.to_string())
            );
            if folders.iter().any(|(d, _)| *d == domain) {
                domain = format!("{domain}-{uuid}");
            }
            let i = folders.len() as u32;
            domain_of[folder_run(entries, &dir)].fill(Some((i, dir.len() as u32)));
            folders.push((domain, dir));
        }
    }
    let mut rows: Vec<(u32, u32, u32)> = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let Some((i, dir_len)) = domain_of[n] else {
            continue;
        };
        // FIFOs, sockets and devices are no backup rows.
        let special = e
            .mode()
            .is_some_and(|m| !matches!(m & 0o170000, 0o100000 | 0o040000 | 0o120000));
        if special {
            continue;
        }
        // The folder itself has the relative path "".
        let rel = (dir_len as usize + 1).min(e.path.len());
        let (Ok(n), Ok(rel)) = (u32::try_from(n), u32::try_from(rel)) else {
            continue;
        };
        rows.push((i, n, rel));
    }
    drop(domain_of);
    let domains = folders.iter().map(|(d, _)| d.clone()).collect();
    let roots = folders
        .into_iter()
        .map(|(d, dir)| {
            let at = stored(&dir);
            (d, at)
        })
        .collect();
    Ok((DumpIndex::new(listing, domains, rows)?, roots))
}

/// The positions of the folder `dir` and of every path below it: one run
/// of a listing in component order.
fn folder_run(entries: &[DumpEntry], dir: &str) -> std::ops::Range<usize> {
    let lo = entries.partition_point(|e| path_order(&e.path, dir).is_lt());
    let n = entries[lo..].partition_point(|e| {
        e.path
            .strip_prefix(dir)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    });
    lo..lo + n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn rows_only_in_the_wal_are_read_and_the_dump_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        let lib = dump.join("private/var/mobile/Library");
        std::fs::create_dir_all(&lib).unwrap();
        let src = dir.path().join("live.db");
        let conn = Connection::open(&src).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('only in the wal');",
        )
        .unwrap();
        // Copied while the writer is still open: the rows are in the log.
        std::fs::copy(&src, lib.join("x.db")).unwrap();
        std::fs::copy(dir.path().join("live.db-wal"), lib.join("x.db-wal")).unwrap();
        drop(conn);
        let read = |p: &str| std::fs::read(lib.join(p)).unwrap();
        let before = (read("x.db"), read("x.db-wal"));
        let fs = open(&dump).unwrap();
        let (_, c) = fs.open_sqlite_at("HomeDomain", "Library/x.db").unwrap();
        let a: String = c.query_row("SELECT a FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(a, "only in the wal");
        assert_eq!((read("x.db"), read("x.db-wal")), before);
        assert!(!lib.join("x.db-shm").exists());
    }

    #[test]
    fn refuses_a_folder_without_private_var_but_reads_one_without_mobile() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("private/var is missing"), "{err}");
        std::fs::create_dir_all(dir.path().join("private/var/db/diagnostics")).unwrap();
        assert!(open(dir.path()).is_ok());
    }
}
