//! A private temporary folder for decrypted files too large to hold in
//! memory: mode 0700, and removed when dropped (normal end, error, panic
//! unwinding) and on Ctrl-C / SIGTERM / SIGHUP (the handler comes with the
//! `cli` feature; see [`install_signal_cleanup`]).
//!
//! Drop cannot run when a signal kills the process, so every live folder is
//! also listed in a process-wide registry that a signal handler empties
//! before exiting. That registry is the one piece of global state in the
//! evidence layer: a signal handler has no other way to find the folders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
/// Set by [`remove_all`]: the process is going away, no new folder.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// The registry, also after a panic poisoned it (a signal handler must
/// still find the folders).
fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Prefix of every private folder's name (tests look for it).
pub const PREFIX: &str = "spydar-decrypted-";

/// A private temporary folder; see the module documentation.
pub struct PrivateTempDir {
    dir: Option<tempfile::TempDir>,
}

impl PrivateTempDir {
    /// Creates the folder in the system temporary folder (`TMPDIR`).
    pub fn new() -> std::io::Result<Self> {
        Self::new_in(&std::env::temp_dir())
    }

    /// Creates the folder inside `base`.
    pub fn new_in(base: &Path) -> std::io::Result<Self> {
        Self::new_named_in(base, PREFIX)
    }

    /// Creates the folder inside `base`, its name starting with `prefix`.
    pub fn new_named_in(base: &Path, prefix: &str) -> std::io::Result<Self> {
        install_signal_cleanup();
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        // Created and listed under the lock: a signal handler that runs
        // meanwhile waits for the folder to be listed, then removes it, and
        // once it has run no new folder is made.
        let mut live = live();
        if CLOSING.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("interrupted: no new private folder"));
        }
        let dir = builder.tempdir_in(base)?;
        live.push(dir.path().to_path_buf());
        Ok(PrivateTempDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new(""))
    }
}

impl Drop for PrivateTempDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            let _ = dir.close();
            live().retain(|p| p != &path);
        }
    }
}

/// Removes every live private folder, and makes sure no new one is made
/// in this process. Called by the signal handler; a program that installs
/// its own Ctrl-C handler (only one is allowed per process) must call this
/// from it before it exits.
pub fn remove_all() {
    let paths = {
        let mut live = live();
        CLOSING.store(true, Ordering::SeqCst);
        std::mem::take(&mut *live)
    };
    remove(paths);
}

/// Removes the folders; another thread may still be writing a file into
/// one (the process exits right after), so a failed removal is retried.
fn remove(paths: Vec<PathBuf>) {
    for path in paths {
        for _ in 0..20 {
            if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
                break;
            }
        }
    }
}

/// Installs (once) a Ctrl-C / SIGTERM / SIGHUP handler that removes the
/// live folders and exits with 130. If the program already installed a
/// handler of its own, that one stays, and must call [`remove_all`].
///
/// Only with the `cli` feature: a library caller owns its signals, so
/// without it no handler is installed and the caller's own handler must
/// call [`remove_all`].
pub fn install_signal_cleanup() {
    HANDLER.call_once(|| {
        #[cfg(feature = "cli")]
        let _ = ctrlc::set_handler(|| {
            remove_all();
            std::process::exit(130);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_removed_on_drop() {
        let dir = PrivateTempDir::new().unwrap();
        let path = dir.path().to_path_buf();
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(PREFIX)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        std::fs::write(path.join("plain"), b"secret").unwrap();
        assert!(LIVE.lock().unwrap().contains(&path));
        drop(dir);
        assert!(!path.exists());
        assert!(!LIVE.lock().unwrap().contains(&path));

        // (One test, not two: remove_all would race with a parallel test.)
        let dir = PrivateTempDir::new().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("plain"), b"secret").unwrap();
        // What remove_all does, without closing the registry for the other
        // tests of this process.
        let listed = std::mem::take(&mut *live());
        assert!(listed.contains(&path));
        remove(listed);
        assert!(!path.exists());
        drop(dir); // dropping after removal is harmless
    }
}
