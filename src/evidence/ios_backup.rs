//! Read-only view of an iTunes/Finder/libimobiledevice iOS backup folder.
//!
//! A backup stores each file under `<root>/<fileID[0..2]>/<fileID>` where
//! `fileID = SHA1("<domain>-<relativePath>")`; `Manifest.db` (table `Files`)
//! maps the logical `domain` + `relativePath` to that ID and carries an
//! NSKeyedArchiver `MBFile` blob with the file's metadata. `Info.plist`,
//! `Manifest.plist` and `Status.plist` describe the device and the backup.
//!
//! Every file access of the iOS modules goes through [`IosBackup`], over
//! one of three backends ([`Backend`]): a plain backup folder read from
//! disk (SQLite opened immutable, so nothing is ever written beside the
//! evidence); an encrypted backup, with a [`FileDecryptor`] and an
//! in-memory `Manifest.db` plugged in through [`IosBackup::open_decrypted`],
//! so the same modules read decrypted bytes from memory; and a filesystem
//! dump indexed under the backup domains (see `ios_fs`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use super::nskeyed::{MbFile, decode_mbfile};
use super::sqlite::{open_bytes, open_immutable, open_with_wal};
use crate::error::{Error, Result};
use crate::model::{DeviceInfo, Platform};
use crate::options::ModuleError;
use rusqlite::{Connection, OptionalExtension};

/// One row of `Manifest.db` `Files`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// 40 hex characters: `SHA1("<domain>-<relative_path>")`.
    pub file_id: String,
    /// e.g. `HomeDomain`, `AppDomain-net.whatsapp.WhatsApp`.
    pub domain: String,
    /// Path inside the domain, e.g. `Library/SMS/sms.db` (empty for the domain root).
    pub relative_path: String,
    /// `Files.flags`: 1 file, 2 directory, 4 symlink (0 when unknown).
    pub flags: i64,
    /// The decoded `Files.file` blob, when it was present and decodable.
    pub mbfile: Option<MbFile>,
}

impl FileEntry {
    /// `Domain/relative/path`, the name records use for their source.
    pub fn logical_path(&self) -> String {
        if self.relative_path.is_empty() {
            self.domain.clone()
        } else {
            format!("{}/{}", self.domain, self.relative_path)
        }
    }

    /// Where this file lived on the device, when its domain has a known
    /// root (`HomeDomain` → `/private/var/mobile`, ...). App containers have
    /// a random UUID on the device, so they have no known absolute path.
    pub fn device_path(&self) -> Option<String> {
        device_path(&self.domain, &self.relative_path)
    }
}

pub use super::ios_domain::{device_path, domain_root, file_id, is_file_id};

/// Decrypts a file's bytes (the encrypted-backup support implements this).
pub trait FileDecryptor: Send + Sync {
    /// `data` is the file as stored in the backup; returns the plaintext
    /// (truncated to `MbFile::size`) or a one-line reason.
    fn decrypt(&self, entry: &FileEntry, data: Vec<u8>) -> std::result::Result<Vec<u8>, String>;

    /// `data` is the start of the stored file (a whole number of cipher
    /// blocks, or all of it); returns at most `len` plaintext bytes from
    /// the file's start. The default decrypts `data` as a whole file.
    fn decrypt_head(
        &self,
        entry: &FileEntry,
        data: Vec<u8>,
        len: usize,
    ) -> std::result::Result<Vec<u8>, String> {
        let mut plain = self.decrypt(entry, data)?;
        plain.truncate(len);
        Ok(plain)
    }

    /// Opens the stored file at `stored` as SQLite without going through
    /// memory (files too large for it), or `None` to use `decrypt`.
    fn open_sqlite(
        &self,
        _entry: &FileEntry,
        _stored: &Path,
    ) -> Option<std::result::Result<Connection, String>> {
        None
    }
}

/// Where an [`IosBackup`]'s manifest and files are.
enum Backend {
    /// A plain backup folder: `Manifest.db` on disk, each file at
    /// `root/<fileID[0..2]>/<fileID>`.
    Folder { manifest: PathBuf },
    /// An encrypted backup: `Manifest.db` decrypted into memory; each file
    /// stored as in a plain backup and decrypted on access.
    Decrypted {
        manifest: Vec<u8>,
        decryptor: Box<dyn FileDecryptor>,
    },
    /// A filesystem dump: an index with the `Manifest.db` schema over the
    /// dump's listing (see `ios_fs_index`); each file at its domain's
    /// folder joined with its relative path, not by fileID.
    Filesystem {
        index: super::ios_fs_index::DumpIndex,
        roots: HashMap<String, PathBuf>,
        /// The device facts found in the dump.
        device: Box<DeviceInfo>,
        /// Every path of the dump, notes, and an archive's spool.
        dump: Box<DumpExtras>,
    },
}

/// What a filesystem dump carries besides its index.
pub(crate) struct DumpExtras {
    /// The input as given: the dump folder or the archive.
    pub source: PathBuf,
    /// Every path of the dump: listed while reading an archive, walked on
    /// first use for a folder.
    pub listing: std::sync::OnceLock<std::sync::Arc<super::ios_fs::DumpListing>>,
    /// What reading the dump met (refused members, oversize files).
    pub notes: Vec<String>,
    /// Private copies holding only a file's head (what a module sniffs):
    /// reading one whole is an error, its head reads.
    pub partial: std::collections::HashSet<PathBuf>,
    /// The private folder holding the files of an archive modules read;
    /// removed with the backup.
    pub spool: Option<super::private_tmp::PrivateTempDir>,
}

impl DumpExtras {
    pub fn folder(root: &Path) -> Self {
        DumpExtras {
            source: root.to_path_buf(),
            listing: std::sync::OnceLock::new(),
            notes: Vec::new(),
            partial: Default::default(),
            spool: None,
        }
    }
}

/// `Info.plist`, `Manifest.plist` and `Status.plist` of a backup (none in
/// a filesystem dump).
#[derive(Default)]
struct Plists {
    info: Option<plist::Dictionary>,
    manifest: Option<plist::Dictionary>,
    status: Option<plist::Dictionary>,
}

impl Plists {
    fn read(root: &Path) -> Result<Self> {
        Ok(Plists {
            info: read_plist_dict(&root.join("Info.plist"))?,
            manifest: read_plist_dict(&root.join("Manifest.plist"))?,
            // Status.plist is informative only; a broken one is not fatal.
            status: read_plist_dict(&root.join("Status.plist")).unwrap_or(None),
        })
    }
}

/// An opened backup. `Sync`: modules share it across threads.
pub struct IosBackup {
    root: PathBuf,
    backend: Backend,
    /// One connection for the (indexed, quick) lookups of all modules.
    lookup: Mutex<Connection>,
    plists: Plists,
    /// Rows the `manifest` module's pass collects for other modules.
    manifest_rows: super::manifest_rows::Handoff,
}

fn read_plist_dict(path: &Path) -> Result<Option<plist::Dictionary>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let value =
        super::plist_safe::value_from_file(path).map_err(|e| Error::input(path, e.to_string()))?;
    match value {
        plist::Value::Dictionary(d) => Ok(Some(d)),
        _ => Err(Error::input(path, "property list is not a dictionary")),
    }
}

impl IosBackup {
    /// Opens a plain (unencrypted) backup folder.
    ///
    /// An encrypted backup (`Manifest.plist` `IsEncrypted`, or a
    /// `Manifest.db` that is not SQLite) is refused with a clear message.
    pub fn open(root: &Path) -> Result<Self> {
        let plists = Plists::read(root)?;
        let encrypted = plists
            .manifest
            .as_ref()
            .and_then(|d| d.get("IsEncrypted"))
            .and_then(|v| v.as_boolean())
            .unwrap_or(false);
        if encrypted {
            return Err(Error::input(
                root,
                "encrypted backup: decryption support is being added; for now decrypt it first (e.g. `mvt-ios decrypt-backup`) and scan the decrypted copy",
            ));
        }
        let db_path = root.join("Manifest.db");
        if !db_path.is_file() {
            return Err(Error::input(
                root,
                "not an iOS backup: Manifest.db is missing",
            ));
        }
        let conn = open_immutable(&db_path).map_err(|e| {
            Error::input(
                &db_path,
                format!(
                    "cannot read Manifest.db ({e}); if the backup is encrypted, decrypt it first"
                ),
            )
        })?;
        check_manifest_schema(&conn).map_err(|reason| Error::input(&db_path, reason))?;
        Ok(IosBackup {
            root: root.to_path_buf(),
            backend: Backend::Folder { manifest: db_path },
            lookup: Mutex::new(conn),
            plists,
            manifest_rows: Default::default(),
        })
    }

    /// Opens a backup whose `Manifest.db` was decrypted into memory; every
    /// file read goes through `decryptor`. For the encrypted-backup support.
    pub fn open_decrypted(
        root: &Path,
        manifest_db: Vec<u8>,
        decryptor: Box<dyn FileDecryptor>,
    ) -> Result<Self> {
        let plists = Plists::read(root)?;
        let db_path = root.join("Manifest.db");
        let conn = open_bytes(&manifest_db).map_err(|e| {
            Error::input(
                &db_path,
                format!("decrypted Manifest.db is not a database: {e}"),
            )
        })?;
        check_manifest_schema(&conn).map_err(|reason| Error::input(&db_path, reason))?;
        Ok(IosBackup {
            root: root.to_path_buf(),
            backend: Backend::Decrypted {
                manifest: manifest_db,
                decryptor,
            },
            lookup: Mutex::new(conn),
            plists,
            manifest_rows: Default::default(),
        })
    }

    /// A filesystem dump seen as a backup: `index` serves the
    /// `Manifest.db` `Files` table over the dump's listing, `roots` maps
    /// each domain to its folder, `dump` holds the listing, notes and an
    /// archive's spool. For `ios_fs`.
    pub(crate) fn open_filesystem_dump(
        root: &Path,
        index: super::ios_fs_index::DumpIndex,
        roots: HashMap<String, PathBuf>,
        device: DeviceInfo,
        dump: DumpExtras,
    ) -> Result<Self> {
        let conn = index
            .connect()
            .map_err(|e| Error::input(root, format!("cannot index the dump: {e}")))?;
        check_manifest_schema(&conn).map_err(|reason| Error::input(root, reason))?;
        Ok(IosBackup {
            root: root.to_path_buf(),
            backend: Backend::Filesystem {
                index,
                roots,
                device: Box::new(device),
                dump: Box::new(dump),
            },
            lookup: Mutex::new(conn),
            plists: Plists::default(),
            manifest_rows: Default::default(),
        })
    }

    /// Whether this is a filesystem dump rather than a backup.
    pub fn is_filesystem(&self) -> bool {
        matches!(self.backend, Backend::Filesystem { .. })
    }

    /// Every path of a filesystem dump, sorted (`None` for a backup). A
    /// folder is walked on the first call.
    pub fn dump_listing(&self) -> Option<std::sync::Arc<super::ios_fs::DumpListing>> {
        let Backend::Filesystem { dump, .. } = &self.backend else {
            return None;
        };
        Some(
            dump.listing
                .get_or_init(|| std::sync::Arc::new(super::ios_fs::list_folder(&dump.source)))
                .clone(),
        )
    }

    /// The index of a filesystem dump (`None` for a backup).
    pub fn dump_index(&self) -> Option<&super::ios_fs_index::DumpIndex> {
        match &self.backend {
            Backend::Filesystem { index, .. } => Some(index),
            _ => None,
        }
    }

    /// What reading a filesystem dump met, for the report's notes.
    pub fn dump_notes(&self) -> Vec<String> {
        match &self.backend {
            Backend::Filesystem { dump, .. } => dump.notes.clone(),
            _ => Vec::new(),
        }
    }

    /// A filesystem dump's domain folders.
    fn fs_roots(&self) -> Option<&HashMap<String, PathBuf>> {
        match &self.backend {
            Backend::Filesystem { roots, .. } => Some(roots),
            _ => None,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn info_plist(&self) -> Option<&plist::Dictionary> {
        self.plists.info.as_ref()
    }

    pub fn manifest_plist(&self) -> Option<&plist::Dictionary> {
        self.plists.manifest.as_ref()
    }

    pub fn status_plist(&self) -> Option<&plist::Dictionary> {
        self.plists.status.as_ref()
    }

    /// Whether opening a database again costs only an open (a plain
    /// backup folder): modules then read a large table's rowid ranges on
    /// several connections. An encrypted backup's or a dump's database may
    /// be decrypted or copied into memory each time.
    pub fn reopens_cheaply(&self) -> bool {
        matches!(self.backend, Backend::Folder { .. })
    }

    /// Whether `Manifest.plist` says the backup is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.plists
            .manifest
            .as_ref()
            .and_then(|d| d.get("IsEncrypted"))
            .and_then(|v| v.as_boolean())
            .unwrap_or(false)
    }

    /// Device facts for the report, from Info.plist, then Manifest.plist's `Lockdown`.
    pub fn device_info(&self) -> DeviceInfo {
        if let Backend::Filesystem { device, .. } = &self.backend {
            return (**device).clone();
        }
        let info = self.plists.info.as_ref();
        let lockdown = self
            .plists
            .manifest
            .as_ref()
            .and_then(|d| d.get("Lockdown"))
            .and_then(|v| v.as_dictionary());
        let get = |info_key: &str, lockdown_key: &str| -> Option<String> {
            info.and_then(|d| d.get(info_key))
                .and_then(plist_scalar)
                .or_else(|| {
                    lockdown
                        .and_then(|d| d.get(lockdown_key))
                        .and_then(plist_scalar)
                })
                .filter(|s| !s.is_empty())
        };
        let mut device = DeviceInfo {
            platform: Some(Platform::Ios),
            identifier: get("Unique Identifier", "UniqueDeviceID"),
            name: get("Device Name", "DeviceName"),
            model: get("Product Type", "ProductType"),
            os_version: get("Product Version", "ProductVersion"),
            build: get("Build Version", "BuildVersion"),
            ..Default::default()
        };
        if let Some(s) = get("Serial Number", "SerialNumber") {
            device.extra.insert("serial_number".into(), s);
        }
        if let Some(d) = info
            .and_then(|d| d.get("Last Backup Date"))
            .or_else(|| self.plists.manifest.as_ref().and_then(|d| d.get("Date")))
            .and_then(plist_scalar)
        {
            device.extra.insert("backup_date".into(), d);
        }
        device
            .extra
            .insert("encrypted".into(), self.is_encrypted().to_string());
        if let Some(full) = self
            .plists
            .status
            .as_ref()
            .and_then(|d| d.get("IsFullBackup"))
            .and_then(|v| v.as_boolean())
        {
            device.extra.insert("full_backup".into(), full.to_string());
        }
        device
    }

    /// A fresh connection to `Manifest.db`, for streaming all rows.
    pub fn manifest_connection(&self) -> std::result::Result<Connection, ModuleError> {
        match &self.backend {
            Backend::Folder { manifest } => open_immutable(manifest).map_err(|e| fail(manifest, e)),
            Backend::Decrypted {
                manifest: bytes, ..
            } => open_bytes(bytes).map_err(|e| fail(&self.root.join("Manifest.db"), e)),
            Backend::Filesystem { index, .. } => index
                .connect()
                .map_err(|e| fail(&self.root.join("Manifest.db"), e)),
        }
    }

    /// The rows of one domain whose relativePath matches `?2`, in
    /// `row_to_entry`'s columns (`file_column`: `file`, or `NULL` where the
    /// `MBFile` blobs are not wanted). When `glob` starts with a literal,
    /// `+domain` keeps SQLite — which has no statistics of an immutable
    /// Manifest.db — from choosing the domain index, so it reads the
    /// `relativePath` index's range of that prefix instead: a domain such as
    /// HomeDomain holds tens of thousands of rows, each a read of the table,
    /// where the prefix holds a few. The rows found are the same either way.
    /// A dump's index (a virtual table) plans its own lookups.
    fn domain_glob_query(&self, file_column: &str, glob: &str) -> String {
        let by_prefix = !matches!(self.backend, Backend::Filesystem { .. })
            && glob
                .chars()
                .next()
                .is_some_and(|c| !matches!(c, '*' | '?' | '['));
        format!(
            "SELECT fileID, domain, relativePath, flags, {file_column} FROM Files WHERE {}domain = ?1 AND relativePath GLOB ?2 ORDER BY domain, relativePath",
            if by_prefix { "+" } else { "" }
        )
    }

    fn with_lookup<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> std::result::Result<T, ModuleError> {
        let conn = self
            .lookup
            .lock()
            .map_err(|_| ModuleError::Failed("Manifest.db: lookup connection poisoned".into()))?;
        f(&conn).map_err(|e| {
            ModuleError::Failed(format!("{}: {e}", self.root.join("Manifest.db").display()))
        })
    }

    /// The entry for `domain` + `relative_path`. Falls back to the computed
    /// fileID when the Manifest has no row but the file is there (iOS omits
    /// a few files from the Manifest, e.g. WhatsApp's `LID.sqlite`).
    pub fn entry(
        &self,
        domain: &str,
        relative_path: &str,
    ) -> std::result::Result<Option<FileEntry>, ModuleError> {
        let row = self.with_lookup(|c| {
            c.prepare_cached(
                "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE domain = ?1 AND relativePath = ?2 LIMIT 1",
            )?
            .query_row([domain, relative_path], row_to_entry)
            .optional()
        })?;
        if row.is_some() {
            return Ok(row);
        }
        let id = file_id(domain, relative_path);
        let entry = FileEntry {
            file_id: id,
            domain: domain.to_string(),
            relative_path: relative_path.to_string(),
            flags: 1,
            mbfile: None,
        };
        Ok(self
            .stored_path(&entry)
            .filter(|p| p.is_file())
            .map(|_| entry))
    }

    /// Entries whose `relativePath` matches a glob (`*` matches across `/`,
    /// as in SQLite GLOB), optionally within one domain; sorted by domain
    /// then path. Example: `Library/Safari/Profiles/*/History.db`.
    pub fn find(
        &self,
        domain: Option<&str>,
        relative_glob: &str,
    ) -> std::result::Result<Vec<FileEntry>, ModuleError> {
        self.with_lookup(|c| {
            let mut out = Vec::new();
            match domain {
                Some(d) => {
                    let mut stmt = c.prepare_cached(&self.domain_glob_query("file", relative_glob))?;
                    for r in stmt.query_map([d, relative_glob], row_to_entry)? {
                        out.push(r?);
                    }
                }
                None => {
                    let mut stmt = c.prepare_cached(
                        "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE relativePath GLOB ?1 ORDER BY domain, relativePath",
                    )?;
                    for r in stmt.query_map([relative_glob], row_to_entry)? {
                        out.push(r?);
                    }
                }
            }
            Ok(out)
        })
    }

    /// Like [`Self::find`] in one domain, without decoding the `MBFile`
    /// blobs (`mbfile` is `None`): cheap for listing many rows, of which
    /// [`Self::entry`] then gives the few needed in full.
    pub fn find_paths(
        &self,
        domain: &str,
        relative_glob: &str,
    ) -> std::result::Result<Vec<FileEntry>, ModuleError> {
        self.with_lookup(|c| {
            let mut stmt = c.prepare_cached(&self.domain_glob_query("NULL", relative_glob))?;
            let rows = stmt.query_map([domain, relative_glob], row_to_entry)?;
            rows.collect()
        })
    }

    /// [`Self::find_paths`] streamed: `f` gets each entry in turn, so
    /// listing a domain of a million-file Manifest holds one entry, not all
    /// (the list is ~450 bytes an entry: 39 MB for the 87,000 attachment
    /// rows of the largest reported backup). Runs on a connection of its
    /// own, so `f` may call [`Self::entry`] and read files.
    pub fn each_path(
        &self,
        domain: &str,
        relative_glob: &str,
        mut f: impl FnMut(FileEntry) -> std::result::Result<(), ModuleError>,
    ) -> std::result::Result<(), ModuleError> {
        let conn = self.manifest_connection()?;
        let failed = |e: rusqlite::Error| {
            ModuleError::Failed(format!("{}: {e}", self.root.join("Manifest.db").display()))
        };
        let mut stmt = conn
            .prepare(&self.domain_glob_query("NULL", relative_glob))
            .map_err(failed)?;
        let mut rows = stmt.query([domain, relative_glob]).map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            f(row_to_entry(row).map_err(failed)?)?;
        }
        Ok(())
    }

    /// Entries whose domain matches a glob (e.g. `AppDomainGroup-*whatsapp*`) and
    /// whose relativePath equals `relative_path`.
    pub fn find_in_domains(
        &self,
        domain_glob: &str,
        relative_path: &str,
    ) -> std::result::Result<Vec<FileEntry>, ModuleError> {
        self.with_lookup(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE relativePath = ?2 AND domain GLOB ?1 ORDER BY domain, relativePath",
            )?;
            let rows = stmt.query_map([domain_glob, relative_path], row_to_entry)?;
            rows.collect()
        })
    }

    /// Where the entry's bytes are stored, if its fileID is well-formed
    /// (40 hex digits: nothing from the Manifest can point outside the folder).
    ///
    /// In a filesystem dump: the domain's folder joined with the relative
    /// path, when every component is a plain name and something is there;
    /// [`Self::link_problem`] then refuses links on the way.
    fn stored_path(&self, entry: &FileEntry) -> Option<PathBuf> {
        if let Some(roots) = self.fs_roots() {
            let rel = Path::new(&entry.relative_path);
            if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                return None;
            }
            let path = roots.get(&entry.domain)?.join(rel);
            std::fs::symlink_metadata(&path).ok()?;
            return Some(path);
        }
        let id = entry.file_id.as_str();
        if !is_file_id(id) {
            return None;
        }
        Some(self.root.join(&id[..2]).join(id))
    }

    /// Links are never followed inside evidence: a link where a file is
    /// expected (in a dump: also any folder on its path) is a module error
    /// naming the file, as is a FIFO, a device or a folder.
    fn link_problem(&self, entry: &FileEntry, path: &Path) -> Option<ModuleError> {
        let why = if self.is_filesystem()
            && !path
                .strip_prefix(&self.root)
                .is_ok_and(|rel| super::no_links_below(&self.root, rel))
        {
            "it or a folder on its path is a symbolic link; spydar never follows links inside evidence".to_string()
        } else {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_file() => return None,
                Err(_) => return None,
                Ok(_) => super::open_regular_nofollow(path)
                    .err()
                    .map_or_else(|| "not a regular file".to_string(), |e| e.to_string()),
            }
        };
        Some(ModuleError::Failed(format!(
            "{}: {why}",
            self.describe(entry)
        )))
    }

    /// The hand-over of the rows the `manifest` module's pass over
    /// `Manifest.db` collects for other modules.
    pub fn manifest_rows(&self) -> &super::manifest_rows::Handoff {
        &self.manifest_rows
    }

    /// [`Self::has_content`] of the entries with these fileIDs, for a
    /// backup (`None` for a filesystem dump, whose files are not stored by
    /// fileID). A fileID whose `xx/` folder does not list it is absent
    /// without asking for it by name: a backup may list tens of thousands
    /// of files it does not hold (attachments left on the device), one
    /// failed lookup each.
    pub fn holds_each(&self, file_ids: &[&str]) -> Option<Vec<bool>> {
        if self.is_filesystem() {
            return None;
        }
        let mut out = vec![false; file_ids.len()];
        let mut by_folder: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, id) in file_ids.iter().enumerate() {
            if is_file_id(id) {
                by_folder.entry(&id[..2]).or_default().push(i);
            }
        }
        for (folder, ids) in by_folder {
            for i in self.listed_in(folder, file_ids, ids) {
                // What `has_content` asks of a backup's stored file.
                let path = self.root.join(folder).join(file_ids[i]);
                out[i] = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
            }
        }
        Some(out)
    }

    /// Those of `ids` (indices into `file_ids`, all stored in `folder`)
    /// whose name the folder lists, or all of them when it cannot be read.
    fn listed_in(&self, folder: &str, file_ids: &[&str], ids: Vec<usize>) -> Vec<usize> {
        let dir = match std::fs::read_dir(self.root.join(folder)) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(_) => return ids,
        };
        let mut names = std::collections::HashSet::new();
        for d in dir {
            let Ok(d) = d else { return ids };
            if let Some(n) = d.file_name().to_str().filter(|n| n.len() == 40) {
                names.insert(n.to_ascii_lowercase());
            }
        }
        ids.into_iter()
            .filter(|&i| names.contains(&file_ids[i].to_ascii_lowercase()))
            .collect()
    }

    /// Whether the entry's content is present in the backup.
    pub fn has_content(&self, entry: &FileEntry) -> bool {
        self.stored_path(entry).is_some_and(|p| {
            std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_file())
                && self.link_problem(entry, &p).is_none()
        })
    }

    /// The plaintext bytes of an entry. `Missing` when the file is listed but
    /// absent (partial backups list files they do not hold).
    pub fn read(&self, entry: &FileEntry) -> std::result::Result<Vec<u8>, ModuleError> {
        if self.is_filesystem() && self.stored_path(entry).is_none() {
            return Err(ModuleError::Missing);
        }
        let path = self.stored_path(entry).ok_or_else(|| {
            ModuleError::Failed(format!(
                "{}: malformed fileID {:?}",
                entry.logical_path(),
                entry.file_id
            ))
        })?;
        if let Some(problem) = self.link_problem(entry, &path) {
            return Err(problem);
        }
        if let Backend::Filesystem { dump, .. } = &self.backend
            && dump.partial.contains(&path)
        {
            return Err(self.failed(
                entry,
                "only its first bytes are read from the archive (no module reads it whole)",
            ));
        }
        let file = match super::open_regular_nofollow(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ModuleError::Missing),
            Err(e) => return Err(self.failed(entry, e)),
        };
        let data =
            super::read_capped(file, super::MAX_MEMBER_BYTES).map_err(|e| self.failed(entry, e))?;
        match &self.backend {
            Backend::Decrypted { decryptor, .. } => decryptor
                .decrypt(entry, data)
                .map_err(|e| self.failed(entry, e)),
            Backend::Folder { .. } | Backend::Filesystem { .. } => Ok(data),
        }
    }

    /// At most the first `len` plaintext bytes of an entry, reading no more
    /// of the stored file than that (rounded up to a cipher block in an
    /// encrypted backup): for sniffing a file's type without loading it.
    pub fn read_head(
        &self,
        entry: &FileEntry,
        len: usize,
    ) -> std::result::Result<Vec<u8>, ModuleError> {
        use std::io::Read;
        let path = self.stored_path(entry).ok_or(ModuleError::Missing)?;
        if let Some(problem) = self.link_problem(entry, &path) {
            return Err(problem);
        }
        let file = match super::open_regular_nofollow(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ModuleError::Missing),
            Err(e) => return Err(self.failed(entry, e)),
        };
        let want = match &self.backend {
            Backend::Decrypted { .. } => len.div_ceil(16) * 16,
            Backend::Folder { .. } | Backend::Filesystem { .. } => len,
        };
        let mut data = Vec::with_capacity(want);
        file.take(want as u64)
            .read_to_end(&mut data)
            .map_err(|e| self.failed(entry, e))?;
        match &self.backend {
            Backend::Decrypted { decryptor, .. } => decryptor
                .decrypt_head(entry, data, len)
                .map_err(|e| self.failed(entry, e)),
            Backend::Folder { .. } | Backend::Filesystem { .. } => Ok(data),
        }
    }

    /// `Domain/path (xx/fileID)` for messages.
    pub fn describe(&self, entry: &FileEntry) -> String {
        if let Some(root) = self.fs_roots().and_then(|r| r.get(&entry.domain)) {
            let at = root.join(&entry.relative_path);
            // An archive's file: named inside the archive, not by the
            // private copy it is read from.
            if let Backend::Filesystem { dump, .. } = &self.backend
                && dump.spool.is_some()
                && let Ok(rel) = at.strip_prefix(&self.root)
            {
                return format!(
                    "{} ({}!{})",
                    entry.logical_path(),
                    dump.source.display(),
                    rel.display()
                );
            }
            return format!("{} ({})", entry.logical_path(), at.display());
        }
        let id = &entry.file_id;
        format!(
            "{} ({}/{})",
            entry.logical_path(),
            id.get(..2).unwrap_or(""),
            id
        )
    }

    /// Opens an entry as a read-only SQLite database (immutable on disk, or
    /// from decrypted bytes in memory).
    /// Opens the database of every entry, skipping files the backup lists
    /// but does not hold; `Missing` when none could be opened.
    pub fn open_sqlite_all(
        &self,
        entries: Vec<FileEntry>,
    ) -> std::result::Result<Vec<(FileEntry, Connection)>, ModuleError> {
        let mut out = Vec::new();
        for entry in entries {
            match self.open_sqlite(&entry) {
                Ok(conn) => out.push((entry, conn)),
                Err(ModuleError::Missing) => continue,
                Err(e) => return Err(e),
            }
        }
        if out.is_empty() {
            return Err(ModuleError::Missing);
        }
        Ok(out)
    }

    pub fn open_sqlite(&self, entry: &FileEntry) -> std::result::Result<Connection, ModuleError> {
        match &self.backend {
            Backend::Decrypted { decryptor, .. } => self.open_sqlite_decrypted(entry, &**decryptor),
            Backend::Folder { .. } | Backend::Filesystem { .. } => self.open_sqlite_on_disk(entry),
        }
    }

    /// An encrypted backup's database: through the decryptor's own opener
    /// (large files), else decrypted into memory.
    fn open_sqlite_decrypted(
        &self,
        entry: &FileEntry,
        decryptor: &dyn FileDecryptor,
    ) -> std::result::Result<Connection, ModuleError> {
        if let Some(path) = self.stored_path(entry)
            && let Some(problem) = self.link_problem(entry, &path)
        {
            return Err(problem);
        }
        let stored = self
            .stored_path(entry)
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()));
        if let Some(opened) = stored.and_then(|p| decryptor.open_sqlite(entry, &p)) {
            return opened.map_err(|e| self.failed(entry, e));
        }
        let bytes = self.read(entry)?;
        open_bytes(&bytes).map_err(|e| self.failed(entry, e))
    }

    /// A plain backup's or a dump's database, opened immutable where it is
    /// (a dump's with its `-wal` applied, when it has one).
    fn open_sqlite_on_disk(
        &self,
        entry: &FileEntry,
    ) -> std::result::Result<Connection, ModuleError> {
        let filesystem = self.is_filesystem();
        let path = match self.stored_path(entry) {
            Some(path) => path,
            None if filesystem => return Err(ModuleError::Missing),
            None => {
                return Err(ModuleError::Failed(format!(
                    "{}: malformed fileID",
                    entry.logical_path()
                )));
            }
        };
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(ModuleError::Missing);
        }
        if let Some(problem) = self.link_problem(entry, &path) {
            return Err(problem);
        }
        if filesystem && let Some(opened) = open_with_wal(&path) {
            return opened.map_err(|e| self.failed(entry, e));
        }
        open_immutable(&path).map_err(|e| self.failed(entry, e))
    }

    /// A module error naming the entry.
    fn failed(&self, entry: &FileEntry, e: impl std::fmt::Display) -> ModuleError {
        ModuleError::Failed(format!("{}: {e}", self.describe(entry)))
    }

    /// Looks up and opens a database; `Missing` if it is not in the backup.
    pub fn open_sqlite_at(
        &self,
        domain: &str,
        relative_path: &str,
    ) -> std::result::Result<(FileEntry, Connection), ModuleError> {
        let entry = self
            .entry(domain, relative_path)?
            .ok_or(ModuleError::Missing)?;
        let conn = self.open_sqlite(&entry)?;
        Ok((entry, conn))
    }

    /// Reads and parses a property list entry (XML or binary).
    pub fn read_plist(&self, entry: &FileEntry) -> std::result::Result<plist::Value, ModuleError> {
        let bytes = self.read(entry)?;
        super::plist_safe::value_from_bytes(&bytes).map_err(|e| self.failed(entry, e))
    }

    /// Looks up and parses a property list; `Missing` if it is not in the backup.
    pub fn read_plist_at(
        &self,
        domain: &str,
        relative_path: &str,
    ) -> std::result::Result<(FileEntry, plist::Value), ModuleError> {
        let entry = self
            .entry(domain, relative_path)?
            .ok_or(ModuleError::Missing)?;
        let value = self.read_plist(&entry)?;
        Ok((entry, value))
    }
}

fn fail(path: &Path, e: impl std::fmt::Display) -> ModuleError {
    ModuleError::Failed(format!("{}: {e}", path.display()))
}

fn check_manifest_schema(conn: &Connection) -> std::result::Result<(), String> {
    let cols = super::sqlite::columns(conn, "Files");
    for needed in ["fileID", "domain", "relativePath", "flags", "file"] {
        if !cols.iter().any(|c| c == needed) {
            return Err(format!(
                "Manifest.db has no Files.{needed} column; not an iOS backup manifest"
            ));
        }
    }
    Ok(())
}

/// Maps a `SELECT fileID, domain, relativePath, flags, file` row. Text
/// columns stored as BLOBs (seen in the wild) are read lossily.
pub fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileEntry> {
    let text = |i: usize| row_text(row, i);
    let flags = match row.get_ref(3)? {
        rusqlite::types::ValueRef::Integer(n) => n,
        _ => 0,
    };
    let mbfile = match row.get_ref(4)? {
        rusqlite::types::ValueRef::Blob(b) if !b.is_empty() => decode_mbfile(b).ok(),
        _ => None,
    };
    Ok(FileEntry {
        file_id: text(0)?,
        domain: text(1)?,
        relative_path: text(2)?,
        flags,
        mbfile,
    })
}

/// A `Files` text column as [`row_to_entry`] reads it: text or blob
/// (lossy UTF-8), an integer as its digits, anything else empty.
pub fn row_text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    Ok(match row.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
            String::from_utf8_lossy(t).into_owned()
        }
        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
        _ => String::new(),
    })
}

/// A plist scalar as text (dates in RFC 3339 UTC).
pub fn plist_scalar(v: &plist::Value) -> Option<String> {
    Some(match v {
        plist::Value::String(s) => s.clone(),
        plist::Value::Integer(i) => i.to_string(),
        plist::Value::Real(f) => f.to_string(),
        plist::Value::Boolean(b) => b.to_string(),
        plist::Value::Date(d) => {
            let st: std::time::SystemTime = (*d).into();
            jiff::Timestamp::try_from(st).ok()?.to_string()
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Manifest.db's `Files` table, as iOS creates it.
    const FILES: &str = "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);";

    #[cfg(feature = "fixtures")]
    #[test]
    fn each_path_streams_what_find_paths_lists() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let opts = crate::fixtures::GenOptions::default();
        crate::fixtures::ios_backup::generate(&out, &opts).unwrap();
        let b = IosBackup::open(&out).unwrap();
        let glob = "Library/SMS/Attachments/*";
        let listed = b.find_paths("MediaDomain", glob).unwrap();
        assert!(!listed.is_empty());
        let mut streamed = Vec::new();
        b.each_path("MediaDomain", glob, |e| {
            // The lookup connection stays free for the caller.
            assert!(b.entry(&e.domain, &e.relative_path).is_ok());
            streamed.push(e.logical_path());
            Ok(())
        })
        .unwrap();
        let want: Vec<String> = listed.iter().map(FileEntry::logical_path).collect();
        assert_eq!(streamed, want);
    }

    #[test]
    fn holds_each_is_has_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        Connection::open(root.join("Manifest.db"))
            .unwrap()
            .execute_batch(FILES)
            .unwrap();
        let ids: Vec<String> = (0..40u32)
            .map(|i| format!("{:02x}{:038x}", i % 3, i))
            .chain(["../etc".to_string(), "AB".repeat(20)])
            .collect();
        std::fs::create_dir(root.join("00")).unwrap();
        std::fs::create_dir(root.join("01")).unwrap();
        for id in ids.iter().step_by(4).filter(|id| id.starts_with("00")) {
            std::fs::write(root.join("00").join(id), b"x").unwrap();
        }
        std::fs::create_dir(root.join("01").join(&ids[1])).unwrap();
        let backup = IosBackup::open(root).unwrap();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let held = backup.holds_each(&refs).unwrap();
        let want: Vec<bool> = ids
            .iter()
            .map(|id| {
                backup.has_content(&FileEntry {
                    file_id: id.clone(),
                    domain: "MediaDomain".into(),
                    relative_path: "x".into(),
                    flags: 1,
                    mbfile: None,
                })
            })
            .collect();
        assert_eq!(held, want);
        assert!(held.iter().filter(|h| **h).count() >= 3);
    }

    /// A lookup of a domain and a path with a literal start reads the
    /// path index's range, not every row of the domain, and finds the same
    /// rows as a lookup by the domain index.
    #[test]
    fn domain_and_path_lookups_read_the_path_range() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let conn = Connection::open(root.join("Manifest.db")).unwrap();
        conn.execute_batch(&format!(
            "{FILES}
             CREATE INDEX FilesDomainIdx ON Files(domain);
             CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
             CREATE INDEX FilesFlagsIdx ON Files(flags);"
        ))
        .unwrap();
        let add = |i: u32, domain: &str, path: &str| {
            conn.execute(
                "INSERT INTO Files VALUES (?1, ?2, ?3, 1, NULL)",
                rusqlite::params![format!("{i:040x}"), domain, path],
            )
            .unwrap();
        };
        for i in 0..3000 {
            add(i, "HomeDomain", &format!("Library/Other/{i}"));
        }
        let glob = "Library/WebClips/*/Storage/x.plist";
        add(5000, "HomeDomain", "Library/WebClips/A/Storage/x.plist");
        add(5001, "AppDomain-a", "Library/WebClips/B/Storage/x.plist");
        drop(conn);
        let backup = IosBackup::open(root).unwrap();
        let found = backup.find(Some("HomeDomain"), glob).unwrap();
        let paths: Vec<String> = found.iter().map(FileEntry::logical_path).collect();
        assert_eq!(paths, ["HomeDomain/Library/WebClips/A/Storage/x.plist"]);
        let steps = |sql: &str| {
            let conn = crate::evidence::sqlite::open_immutable(&root.join("Manifest.db")).unwrap();
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt
                .query_map(["HomeDomain", glob], |_| Ok(()))
                .unwrap()
                .count();
            assert_eq!(n, 1);
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let query = backup.domain_glob_query("file", glob);
        assert!(query.contains("+domain"), "{query}");
        let by_path = steps(&query);
        // The same query as SQLite plans it with the domain index allowed.
        let by_domain = steps(&query.replace("+domain", "domain"));
        assert!(by_path < 200, "{by_path} steps");
        assert!(by_domain > 3000, "{by_domain} steps");
    }

    #[test]
    fn refuses_non_backups_and_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(IosBackup::open(dir.path()).is_err());
        std::fs::write(
            dir.path().join("Manifest.db"),
            b"not sqlite, encrypted bytes ...",
        )
        .unwrap();
        let err = IosBackup::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("Manifest.db"), "{err}");
        let mut d = plist::Dictionary::new();
        d.insert("IsEncrypted".into(), true.into());
        plist::Value::Dictionary(d)
            .to_file_xml(dir.path().join("Manifest.plist"))
            .unwrap();
        let err = IosBackup::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("encrypted backup"), "{err}");
    }

    /// A backup whose files are "encrypted" with XOR 0x5A, read through the
    /// decryptor hook: modules see plaintext, from memory.
    struct Xor;
    impl FileDecryptor for Xor {
        fn decrypt(
            &self,
            _entry: &FileEntry,
            data: Vec<u8>,
        ) -> std::result::Result<Vec<u8>, String> {
            Ok(data.into_iter().map(|b| b ^ 0x5A).collect())
        }
    }

    #[test]
    fn decryptor_hook_serves_plaintext_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("b");
        crate::fixtures::ios_backup::generate(&root, &crate::fixtures::GenOptions::default())
            .unwrap();
        let manifest = std::fs::read(root.join("Manifest.db")).unwrap();
        let id = file_id("HomeDomain", "Library/TCC/TCC.db");
        let stored = root.join(&id[..2]).join(&id);
        let plain = std::fs::read(&stored).unwrap();
        std::fs::write(&stored, plain.iter().map(|b| b ^ 0x5A).collect::<Vec<_>>()).unwrap();
        std::fs::write(root.join("Manifest.db"), b"ciphertext").unwrap();
        let backup = IosBackup::open_decrypted(&root, manifest, Box::new(Xor)).unwrap();
        let (_, conn) = backup
            .open_sqlite_at("HomeDomain", "Library/TCC/TCC.db")
            .unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM access", [], |r| r.get(0))
            .unwrap();
        assert!(n > 0);
        assert!(backup.manifest_connection().is_ok());
    }

    #[test]
    fn hostile_manifest_rows_do_not_escape_or_panic() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let conn = Connection::open(root.join("Manifest.db")).unwrap();
        conn.execute_batch(&format!(
            "{FILES}
             INSERT INTO Files VALUES ('../../../../etc/passwd', 'HomeDomain', 'Library/SMS/sms.db', 1, x'00');
             INSERT INTO Files VALUES ('abc', 'HomeDomain', 'Library/x', 1, 'not a plist');
             INSERT INTO Files VALUES (NULL, NULL, NULL, NULL, NULL);"
        ))
        .unwrap();
        drop(conn);
        let backup = IosBackup::open(root).unwrap();
        let e = backup
            .entry("HomeDomain", "Library/SMS/sms.db")
            .unwrap()
            .unwrap();
        assert!(e.mbfile.is_none());
        assert!(matches!(backup.read(&e), Err(ModuleError::Failed(_))));
        assert!(matches!(
            backup.open_sqlite(&e),
            Err(ModuleError::Failed(_))
        ));
        assert_eq!(backup.find(None, "*").unwrap().len(), 2);
        assert!(
            backup
                .entry("HomeDomain", "Library/missing")
                .unwrap()
                .is_none()
        );
    }
}
