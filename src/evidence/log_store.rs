//! The binary unified-log store of a sysdiagnose's `system_logs.logarchive`
//! (tracev3 chunk files, timesync, uuidtext and shared-cache strings), kept
//! while the archive streams past so it can be decoded after the stream.
//!
//! A member of an archive is held in memory while the store's memory
//! budget allows, and otherwise written to a private temporary folder
//! (`private_tmp`: mode 0700, removed on drop, Ctrl-C and panic), made only
//! when the first member has to go there. A member of an extracted folder
//! is not copied: the store notes its path and reads it again later, as a
//! regular file that is not a link. Nothing here knows the formats.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::private_tmp::PrivateTempDir;

/// Prefix of the spool folder's name.
pub const SPOOL_PREFIX: &str = "spydar-logarchive-";
/// Bytes of members held in memory before the rest go to the spool folder.
pub const MEMORY_BUDGET: u64 = 48 * 1024 * 1024;
/// Largest member read back from an extracted folder.
pub const MAX_MEMBER: u64 = 512 * 1024 * 1024;

enum Stored {
    Memory(Vec<u8>),
    Spooled(PathBuf),
    Source(PathBuf),
}

/// See the module documentation. Member names are relative to the store
/// (`Persist/0000000000000001.tracev3`, `dsc/<uuid>`, `3F/<rest>`).
pub struct LogStore {
    members: BTreeMap<String, (Stored, u64)>,
    budget: u64,
    in_memory: u64,
    spooled: u64,
    base: Option<PathBuf>,
    dir: Option<PrivateTempDir>,
    errors: Vec<String>,
    rejected: usize,
}

/// Environment variable that sets the memory budget in bytes instead of
/// [`MEMORY_BUDGET`] (benchmarks and tests of the spool; `0` spools all).
pub const MEMORY_ENV: &str = "SPYDAR_LOGARCHIVE_MEMORY";

impl Default for LogStore {
    fn default() -> Self {
        let budget = std::env::var(MEMORY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(MEMORY_BUDGET);
        Self::new(budget)
    }
}

impl LogStore {
    /// A store that holds up to `budget` bytes in memory.
    pub fn new(budget: u64) -> Self {
        LogStore {
            members: BTreeMap::new(),
            budget,
            in_memory: 0,
            spooled: 0,
            base: None,
            dir: None,
            errors: Vec::new(),
            rejected: 0,
        }
    }

    /// Spool folders are made inside `base` instead of `TMPDIR`.
    pub fn spool_in(mut self, base: &Path) -> Self {
        self.base = Some(base.to_path_buf());
        self
    }

    /// Keeps an archive member's bytes (in memory, or spooled to disk).
    pub fn add_bytes(&mut self, name: &str, data: Vec<u8>) {
        let len = data.len() as u64;
        if self.in_memory + len <= self.budget {
            self.in_memory += len;
            self.members
                .insert(name.to_string(), (Stored::Memory(data), len));
            return;
        }
        match self.spool(&data) {
            Ok(path) => {
                self.spooled += len;
                self.members
                    .insert(name.to_string(), (Stored::Spooled(path), len));
            }
            Err(e) => self
                .errors
                .push(format!("{name}: could not be kept for decoding ({e})")),
        }
    }

    /// Notes a member that is not kept, and why.
    pub fn reject(&mut self, name: &str, why: &str) {
        self.errors.push(format!("{name}: {why}"));
        self.rejected += 1;
    }

    /// Members not kept ([`LogStore::reject`]).
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// Notes a member of an extracted folder, read again when decoded.
    pub fn add_source(&mut self, name: &str, path: &Path, len: u64) {
        self.members
            .insert(name.to_string(), (Stored::Source(path.to_path_buf()), len));
    }

    fn spool(&mut self, data: &[u8]) -> std::io::Result<PathBuf> {
        if self.dir.is_none() {
            let base = self.base.clone().unwrap_or_else(std::env::temp_dir);
            self.dir = Some(PrivateTempDir::new_named_in(&base, SPOOL_PREFIX)?);
        }
        let dir = self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new(""));
        // Numbered, not named after the member: the name is the archive's.
        let path = dir.join(format!("{:08}", self.members.len()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.write_all(data)?;
        Ok(path)
    }

    /// The bytes of member `name`.
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let Some((stored, _)) = self.members.get(name) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{name}: not in the log archive"),
            ));
        };
        match stored {
            Stored::Memory(v) => Ok(v.clone()),
            Stored::Spooled(p) => std::fs::read(p),
            Stored::Source(p) => super::read_capped(super::open_regular_nofollow(p)?, MAX_MEMBER),
        }
    }

    /// Whether member `name` is there.
    pub fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// Member names and sizes, in name order.
    pub fn members(&self) -> impl Iterator<Item = (&str, u64)> {
        self.members.iter().map(|(n, (_, len))| (n.as_str(), *len))
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.in_memory
    }

    /// Bytes written to the spool folder.
    pub fn spooled_bytes(&self) -> u64 {
        self.spooled
    }

    /// The spool folder, once one was made.
    pub fn spool_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Members that could not be kept.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_then_private_spool_removed_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let mut s = LogStore::new(10).spool_in(base.path());
        s.add_bytes("timesync/1.timesync", vec![1; 8]);
        assert!(s.spool_dir().is_none());
        s.add_bytes("Persist/1.tracev3", vec![2; 100]);
        let dir = s.spool_dir().unwrap().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(s.memory_bytes(), 8);
        assert_eq!(s.spooled_bytes(), 100);
        assert_eq!(s.read("Persist/1.tracev3").unwrap(), vec![2; 100]);
        assert_eq!(s.read("timesync/1.timesync").unwrap(), vec![1; 8]);
        assert!(s.read("nope").is_err());
        drop(s);
        assert!(!dir.exists());
    }

    #[cfg(unix)]
    #[test]
    fn folder_members_are_not_followed_through_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        let mut s = LogStore::default();
        s.add_source("a", &d.path().join("real"), 1);
        s.add_source("b", &d.path().join("link"), 1);
        assert_eq!(s.read("a").unwrap(), b"x");
        assert!(s.read("b").is_err());
    }
}
