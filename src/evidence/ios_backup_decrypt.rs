//! Encrypted iOS backups at the level of the backup folder: unlocking it
//! with a password or a saved key, scanning it without writing plaintext to
//! disk, and `spydar decrypt` (a plain copy for other tools).
//!
//! Scanning decrypts into memory: `Manifest.db` is opened from memory and
//! each file is decrypted when a module reads it. Databases larger than
//! [`in_memory_max`] are decrypted into a [`PrivateTempDir`] instead, opened,
//! and unlinked at once; the folder itself goes at exit, on error and on
//! Ctrl-C.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rusqlite::Connection;
use zeroize::Zeroizing;

use super::ios_backup::{FileDecryptor, FileEntry, IosBackup, is_file_id, row_to_entry};
use super::ios_crypto::{self as crypto, ClassKeys, CryptoError, Key, KeyBag};
use super::nskeyed::MbFile;
use super::private_tmp::PrivateTempDir;
use crate::error::{Error, Result};
use crate::options::ScanOptions;

/// Databases up to this size are decrypted in memory; larger ones go to a
/// private temporary folder. `SPYDAR_DECRYPT_IN_MEMORY_MAX` (bytes) changes it.
pub const DEFAULT_IN_MEMORY_MAX: u64 = 512 * 1024 * 1024;

/// The in-memory limit in force.
pub fn in_memory_max() -> u64 {
    std::env::var("SPYDAR_DECRYPT_IN_MEMORY_MAX")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_IN_MEMORY_MAX)
}

fn read_manifest_plist(root: &Path) -> Result<plist::Dictionary> {
    let path = root.join("Manifest.plist");
    let value = super::plist_safe::value_from_file(&path).map_err(|e| match e {
        super::plist_safe::PlistError::Io(io) => Error::io(&path, io),
        e => Error::input(&path, e.to_string()),
    })?;
    value
        .into_dictionary()
        .ok_or_else(|| Error::input(&path, "property list is not a dictionary"))
}

/// Whether `Manifest.plist` marks the backup as encrypted.
pub fn is_encrypted(root: &Path) -> bool {
    read_manifest_plist(root)
        .ok()
        .and_then(|d| d.get("IsEncrypted").and_then(|v| v.as_boolean()))
        .unwrap_or(false)
}

/// How the user unlocks a backup.
pub enum Secret<'a> {
    Password(&'a [u8]),
    /// A key saved with `--key-file` (skips the slow derivation).
    DerivedKey(Key),
}

/// The keys of an unlocked backup.
pub struct BackupKeys {
    derived: Key,
    class_keys: ClassKeys,
    /// `None` before iOS 10.2, when `Manifest.db` was not encrypted.
    manifest_key: Option<Key>,
}

impl BackupKeys {
    /// Reads the keybag, derives the key (unless given) and unwraps the
    /// class keys. A wrong password or key is `Error::WrongPassword`,
    /// returned as soon as the derivation ends.
    pub fn unlock(root: &Path, secret: Secret<'_>) -> Result<Self> {
        let plist_path = root.join("Manifest.plist");
        let dict = read_manifest_plist(root)?;
        let blob = dict
            .get("BackupKeyBag")
            .and_then(|v| v.as_data())
            .ok_or_else(|| Error::input(&plist_path, "no BackupKeyBag; not an encrypted backup"))?;
        let bag = KeyBag::parse(blob).map_err(|e| Error::input(&plist_path, e.to_string()))?;
        let derived = match secret {
            Secret::Password(password) => {
                let params = bag
                    .kdf_params()
                    .map_err(|e| Error::input(&plist_path, e.to_string()))?;
                crypto::derive_key(password, &params)
            }
            Secret::DerivedKey(key) => key,
        };
        let class_keys = bag.unlock(&derived).map_err(|e| match e {
            CryptoError::WrongPassword => Error::WrongPassword {
                path: root.to_path_buf(),
            },
            other => Error::input(&plist_path, other.to_string()),
        })?;
        let manifest_key = match dict.get("ManifestKey").and_then(|v| v.as_data()) {
            Some(blob) => Some(
                class_keys
                    .unwrap_class_prefixed(blob, None)
                    .map_err(|e| Error::input(&plist_path, format!("ManifestKey: {e}")))?,
            ),
            None => None,
        };
        Ok(BackupKeys {
            derived,
            class_keys,
            manifest_key,
        })
    }

    /// Unlocks with what the scan options carry: `key_file` first, then the
    /// password; neither is `Error::PasswordRequired`.
    pub fn from_options(root: &Path, opts: &ScanOptions) -> Result<Self> {
        if let Some(key_file) = &opts.key_file {
            let key =
                crypto::load_key(key_file).map_err(|e| Error::input(key_file, e.to_string()))?;
            return Self::unlock(root, Secret::DerivedKey(key));
        }
        match &opts.password {
            Some(password) => Self::unlock(root, Secret::Password(password.as_bytes())),
            None => Err(Error::PasswordRequired {
                path: root.to_path_buf(),
            }),
        }
    }

    /// The password-derived key, for `--key-file`.
    pub fn derived_key(&self) -> &Key {
        &self.derived
    }

    /// `Manifest.db` in the clear, in memory.
    pub fn manifest_db(&self, root: &Path) -> Result<Zeroizing<Vec<u8>>> {
        let path = root.join("Manifest.db");
        let file = super::open_regular_nofollow(&path).map_err(|e| Error::io(&path, e))?;
        let data =
            super::read_capped(file, super::MAX_MEMBER_BYTES).map_err(|e| Error::io(&path, e))?;
        let plain = match &self.manifest_key {
            Some(key) => crypto::decrypt_manifest_db(key, data)
                .map_err(|e| Error::input(&path, e.to_string()))?,
            None => Zeroizing::new(data),
        };
        if !plain.starts_with(b"SQLite format 3\0") {
            return Err(Error::input(&path, "does not decrypt to a SQLite database"));
        }
        Ok(plain)
    }

    /// `Manifest.db` in the clear, as an in-memory read-only SQLite
    /// database, decrypted straight into SQLite's buffer (one copy).
    pub fn open_manifest(&self, root: &Path) -> Result<Connection> {
        let path = root.join("Manifest.db");
        let fail = |e: &dyn std::fmt::Display| Error::input(&path, e.to_string());
        let Some(key) = &self.manifest_key else {
            return super::sqlite::open_immutable(&path).map_err(|e| fail(&e));
        };
        let mut file = super::open_regular_nofollow(&path).map_err(|e| Error::io(&path, e))?;
        let len = crypto::padded_plaintext_len(key, &mut file).map_err(|e| fail(&e))?;
        // SQLite allocates the buffer with a C int size.
        if len > i32::MAX as u64 {
            return Err(fail(&format!("{len} bytes is too large to load")));
        }
        let reader = crypto::DecryptingReader::new(key, std::io::BufReader::new(file), len);
        let mut conn = Connection::open_in_memory().map_err(|e| fail(&e))?;
        conn.deserialize_read_exact(rusqlite::MAIN_DB, reader, len as usize, true)
            .map_err(|e| fail(&e))?;
        super::sqlite::guard(&mut conn).map_err(|e| fail(&e))?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|_| fail(&"does not decrypt to a SQLite database"))?;
        Ok(conn)
    }

    /// Writes `Manifest.db` in the clear to `out`, streamed.
    fn write_manifest(&self, root: &Path, out: &Path) -> Result<()> {
        let path = root.join("Manifest.db");
        let Some(key) = &self.manifest_key else {
            return std::fs::copy(&path, out)
                .map(|_| ())
                .map_err(|e| Error::io(&path, e));
        };
        let mut file = super::open_regular_nofollow(&path).map_err(|e| Error::io(&path, e))?;
        let len = crypto::padded_plaintext_len(key, &mut file)
            .map_err(|e| Error::input(&path, e.to_string()))?;
        let mut dst = File::create(out).map_err(|e| Error::io(out, e))?;
        crypto::decrypt_stream(key, file, &mut dst, len)
            .map_err(|e| Error::input(&path, e.to_string()))?;
        Ok(())
    }

    /// The AES key of one file, or `None` when the file is stored in the
    /// clear (no `EncryptionKey` in its `MBFile`).
    pub fn file_key(&self, mbfile: &MbFile) -> std::result::Result<Option<Key>, CryptoError> {
        match &mbfile.encryption_key {
            Some(blob) => self
                .class_keys
                .unwrap_class_prefixed(blob, mbfile.protection_class)
                .map(Some),
            None => Ok(None),
        }
    }

    /// Decrypts one file's stored bytes, trimmed to its recorded size.
    pub fn decrypt_file(
        &self,
        mbfile: Option<&MbFile>,
        data: Vec<u8>,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, CryptoError> {
        let Some(mbfile) = mbfile else {
            return Err(CryptoError::WrappedKey(
                "no MBFile metadata in Manifest.db, so no key".into(),
            ));
        };
        match (self.file_key(mbfile)?, mbfile.size) {
            (None, _) => Ok(Zeroizing::new(data)),
            (Some(key), Some(size)) => crypto::decrypt_file_bytes(&key, data, size),
            (Some(key), None) => crypto::decrypt_manifest_db(&key, data),
        }
    }

    /// Decrypts the start of one file (`data`: its first whole cipher
    /// blocks) into at most `len` bytes, never past its recorded size.
    pub fn decrypt_file_head(
        &self,
        mbfile: Option<&MbFile>,
        mut data: Vec<u8>,
        len: usize,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, CryptoError> {
        let Some(mbfile) = mbfile else {
            return Err(CryptoError::WrappedKey(
                "no MBFile metadata in Manifest.db, so no key".into(),
            ));
        };
        if let Some(key) = self.file_key(mbfile)? {
            data.truncate(data.len() / 16 * 16);
            crypto::decrypt_in_place(&key, &mut data)?;
        }
        let size = mbfile
            .size
            .map_or(usize::MAX, |s| usize::try_from(s).unwrap_or(usize::MAX));
        data.truncate(len.min(size));
        Ok(Zeroizing::new(data))
    }
}

/// Derives the key of `backup` from `password`, checks it unlocks the
/// backup (a wrong password is never saved), and writes it to `key_file`
/// (mode 0600, 64 hex characters; refuses to overwrite). Returns the time
/// the derivation took.
pub fn derive_and_save_key(
    backup: &Path,
    password: &[u8],
    key_file: &Path,
) -> Result<std::time::Duration> {
    let started = std::time::Instant::now();
    let keys = BackupKeys::unlock(backup, Secret::Password(password))?;
    let took = started.elapsed();
    crypto::save_key(key_file, keys.derived_key())
        .map_err(|e| Error::input(key_file, e.to_string()))?;
    Ok(took)
}

/// Opens a backup for scanning, plain or encrypted. An encrypted one is
/// unlocked with `opts` and read through memory.
pub fn open_backup(root: &Path, opts: &ScanOptions) -> Result<IosBackup> {
    if !is_encrypted(root) {
        return IosBackup::open(root);
    }
    let keys = BackupKeys::from_options(root, opts)?;
    let mut manifest = keys.manifest_db(root)?;
    let manifest = std::mem::take(&mut *manifest);
    IosBackup::open_decrypted(root, manifest, Box::new(Decryptor::new(keys)))
}

/// The scan-time decryptor plugged into [`IosBackup`].
pub struct Decryptor {
    keys: Arc<BackupKeys>,
    tmp: Mutex<Option<PrivateTempDir>>,
    in_memory_max: u64,
    temp_base: Option<PathBuf>,
    opened: std::sync::atomic::AtomicU64,
}

impl Decryptor {
    pub fn new(keys: BackupKeys) -> Self {
        Self::with_limits(keys, in_memory_max(), None)
    }

    /// As `new`, with an explicit in-memory limit and, optionally, the
    /// folder to create the private temporary folder in (default `TMPDIR`).
    pub fn with_limits(keys: BackupKeys, in_memory_max: u64, temp_base: Option<PathBuf>) -> Self {
        Decryptor {
            keys: Arc::new(keys),
            tmp: Mutex::new(None),
            in_memory_max,
            temp_base,
            opened: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The private temporary folder, once a large file needed it.
    pub fn temp_dir(&self) -> Option<PathBuf> {
        self.tmp
            .lock()
            .ok()?
            .as_ref()
            .map(|t| t.path().to_path_buf())
    }

    /// Opens a stored encrypted database as SQLite through the private
    /// temporary folder: decrypted there, opened, and unlinked at once (the
    /// open connection keeps reading it; the name is gone from the disk).
    pub fn open_sqlite_via_temp(
        &self,
        entry: &FileEntry,
        stored: &Path,
    ) -> std::result::Result<Connection, String> {
        let len = std::fs::metadata(stored).map_err(|e| e.to_string())?.len();
        let key = match entry.mbfile.as_ref().map(|m| self.keys.file_key(m)) {
            Some(Ok(Some(key))) => key,
            Some(Ok(None)) => {
                return super::sqlite::open_immutable(stored).map_err(|e| e.to_string());
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("no MBFile metadata in Manifest.db, so no key".into()),
        };
        let size = entry.mbfile.as_ref().and_then(|m| m.size).unwrap_or(len);
        let path = {
            let mut tmp = self
                .tmp
                .lock()
                .map_err(|_| "temporary folder lock poisoned".to_string())?;
            if tmp.is_none() {
                let made = match &self.temp_base {
                    Some(base) => PrivateTempDir::new_in(base),
                    None => PrivateTempDir::new(),
                };
                *tmp = Some(made.map_err(|e| format!("private temporary folder: {e}"))?);
            }
            let dir = tmp
                .as_ref()
                .map(|t| t.path().to_path_buf())
                .unwrap_or_default();
            // Two modules may open the same database at once (sms and
            // sms_attachments): each gets its own copy.
            let n = self
                .opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            dir.join(format!("{n}.db"))
        };
        let result = decrypt_to_file(&key, stored, &path, size, None)
            .map_err(|e| e.to_string())
            .and_then(|_| super::sqlite::open_immutable(&path).map_err(|e| e.to_string()));
        let _ = std::fs::remove_file(&path);
        result
    }
}

impl FileDecryptor for Decryptor {
    /// Files over the in-memory limit go through the private temp folder.
    fn open_sqlite(
        &self,
        entry: &FileEntry,
        stored: &Path,
    ) -> Option<std::result::Result<Connection, String>> {
        let len = std::fs::metadata(stored).ok()?.len();
        (len > self.in_memory_max).then(|| self.open_sqlite_via_temp(entry, stored))
    }

    fn decrypt(&self, entry: &FileEntry, data: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        let mut plain = self
            .keys
            .decrypt_file(entry.mbfile.as_ref(), data)
            .map_err(|e| e.to_string())?;
        Ok(std::mem::take(&mut *plain))
    }

    fn decrypt_head(
        &self,
        entry: &FileEntry,
        data: Vec<u8>,
        len: usize,
    ) -> std::result::Result<Vec<u8>, String> {
        let mut plain = self
            .keys
            .decrypt_file_head(entry.mbfile.as_ref(), data, len)
            .map_err(|e| e.to_string())?;
        Ok(std::mem::take(&mut *plain))
    }
}

fn decrypt_to_file(
    key: &Key,
    src: &Path,
    dst: &Path,
    size: u64,
    mtime: Option<std::time::SystemTime>,
) -> std::result::Result<u64, CryptoError> {
    let input = super::open_regular_nofollow(src)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut output = options.open(dst)?;
    let written = crypto::decrypt_stream(key, input, &mut output, size);
    if written.is_err() {
        let _ = std::fs::remove_file(dst);
    } else if let Some(when) = mtime {
        let _ = output.set_modified(when);
    }
    output.flush()?;
    written
}

/// What `decrypt_backup` did.
#[derive(Debug, Default)]
pub struct DecryptSummary {
    pub files_decrypted: u64,
    /// Files the backup stores in the clear, copied as they are.
    pub files_copied: u64,
    /// Listed in `Manifest.db` but absent from the folder (partial backups).
    pub files_missing: u64,
    /// Bytes of plaintext written.
    pub bytes: u64,
    /// One line per file that could not be decrypted.
    pub failures: Vec<String>,
}

enum Outcome {
    Decrypted(u64),
    Copied(u64),
    Missing,
    Skipped,
    Failed(String),
}

/// The nearest existing ancestor made absolute, with the rest appended, so
/// an output folder that does not exist yet can be compared with the input.
fn resolve_lexically(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

fn prepare_output(src: &Path, out: &Path) -> Result<()> {
    let src_real = src.canonicalize().map_err(|e| Error::io(src, e))?;
    let out_real = resolve_lexically(out);
    if out_real.starts_with(&src_real) {
        return Err(Error::input(
            out,
            format!(
                "is inside the backup being decrypted ({}); choose an output folder outside it",
                src.display()
            ),
        ));
    }
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::input(
                out,
                "already exists and is not an empty folder; refusing to write into it",
            ));
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(out).map_err(|e| Error::io(out, e))
}

fn decrypt_one(keys: &BackupKeys, src: &Path, out: &Path, entry: &FileEntry) -> Outcome {
    if entry.flags != 1 && entry.flags != 0 {
        return Outcome::Skipped; // folders and symlinks have no stored file
    }
    let id = entry.file_id.as_str();
    if !is_file_id(id) {
        return Outcome::Failed(format!("{}: malformed fileID {id:?}", entry.logical_path()));
    }
    let stored = src.join(&id[..2]).join(id);
    if !stored.is_file() {
        return Outcome::Missing;
    }
    let dir = out.join(&id[..2]);
    let target = dir.join(id);
    let fail = |e: &dyn std::fmt::Display| {
        let _ = std::fs::remove_file(&target);
        Outcome::Failed(format!("{} ({}/{id}): {e}", entry.logical_path(), &id[..2]))
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(&e);
    }
    let key = match entry.mbfile.as_ref().map(|m| keys.file_key(m)) {
        Some(Ok(key)) => key,
        Some(Err(e)) => return fail(&e),
        None => return fail(&"no MBFile metadata in Manifest.db, so no key"),
    };
    let mtime = entry
        .mbfile
        .as_ref()
        .and_then(|m| m.last_modified)
        .filter(|t| *t > 0)
        .map(|t| std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64));
    let outcome = match key {
        None => std::fs::copy(&stored, &target)
            .map(Outcome::Copied)
            .map_err(CryptoError::from),
        Some(key) => match entry.mbfile.as_ref().and_then(|m| m.size) {
            Some(size) => {
                // The usual case: the modification time is set on the
                // handle that wrote the file.
                return match decrypt_to_file(&key, &stored, &target, size, mtime) {
                    Ok(n) => Outcome::Decrypted(n),
                    Err(e) => fail(&e),
                };
            }
            None => decrypt_unsized(keys, entry, &stored, &target),
        },
    };
    match outcome {
        Ok(done) => {
            if let Some(when) = mtime
                && let Ok(f) = File::options().write(true).open(&target)
            {
                let _ = f.set_modified(when);
            }
            done
        }
        Err(e) => fail(&e),
    }
}

/// A file whose `MBFile` has no `Size`: decrypted whole, padding removed.
fn decrypt_unsized(
    keys: &BackupKeys,
    entry: &FileEntry,
    stored: &Path,
    target: &Path,
) -> std::result::Result<Outcome, CryptoError> {
    let data = super::read_capped(
        super::open_regular_nofollow(stored)?,
        super::MAX_MEMBER_BYTES,
    )?;
    let plain = keys.decrypt_file(entry.mbfile.as_ref(), data)?;
    std::fs::write(target, &*plain)?;
    Ok(Outcome::Decrypted(plain.len() as u64))
}

/// Writes a plain copy of the encrypted backup `src` into `out`: the same
/// layout, `Manifest.db` in the clear, `Manifest.plist` with `IsEncrypted`
/// false and no `ManifestKey`; the other root files copied. File contents
/// are decrypted in parallel, each streamed through a 1 MiB buffer.
///
/// `out` must not exist or be an empty folder, and must not be inside
/// `src`. It is created with mode 0700. The manifest files are written
/// last, so an interrupted run does not leave something that looks like a
/// complete backup.
pub fn decrypt_backup(src: &Path, out: &Path, keys: &BackupKeys) -> Result<DecryptSummary> {
    prepare_output(src, out)?;
    let db_path = src.join("Manifest.db");
    let conn = keys.open_manifest(src)?;
    // Rows in batches (by fileID, the primary key), so memory holds one
    // batch of entries and not the whole manifest's.
    const BATCH: i64 = 10_000;
    let mut summary = DecryptSummary::default();
    let mut after = String::new();
    loop {
        let batch: Vec<FileEntry> = conn
            .prepare_cached(
                "SELECT fileID, domain, relativePath, flags, file FROM Files \
                 WHERE fileID > ?1 ORDER BY fileID LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(rusqlite::params![after, BATCH], row_to_entry)?
                    .collect()
            })
            .map_err(|e| Error::input(&db_path, e.to_string()))?;
        let Some(last) = batch.last() else { break };
        after = last.file_id.clone();
        let outcomes: Vec<Outcome> = batch
            .par_iter()
            .map(|entry| decrypt_one(keys, src, out, entry))
            .collect();
        for outcome in outcomes {
            match outcome {
                Outcome::Decrypted(n) => {
                    summary.files_decrypted += 1;
                    summary.bytes += n;
                }
                Outcome::Copied(n) => {
                    summary.files_copied += 1;
                    summary.bytes += n;
                }
                Outcome::Missing => summary.files_missing += 1,
                Outcome::Skipped => {}
                Outcome::Failed(why) => summary.failures.push(why),
            }
        }
    }
    drop(conn);
    summary.failures.sort();

    // Other root files (Info.plist, Status.plist, ...), then the manifests.
    let root_files = std::fs::read_dir(src).map_err(|e| Error::io(src, e))?;
    for item in root_files.flatten() {
        let name = item.file_name();
        let is_file = item.file_type().map(|t| t.is_file()).unwrap_or(false);
        if !is_file || name == "Manifest.db" || name == "Manifest.plist" {
            continue;
        }
        std::fs::copy(item.path(), out.join(&name)).map_err(|e| Error::io(item.path(), e))?;
    }
    let out_db = out.join("Manifest.db");
    keys.write_manifest(src, &out_db)?;
    let mut dict = read_manifest_plist(src)?;
    dict.insert("IsEncrypted".into(), plist::Value::Boolean(false));
    dict.remove("ManifestKey");
    let out_plist = out.join("Manifest.plist");
    plist::Value::Dictionary(dict)
        .to_file_binary(&out_plist)
        .map_err(|e| Error::input(&out_plist, e.to_string()))?;
    Ok(summary)
}
