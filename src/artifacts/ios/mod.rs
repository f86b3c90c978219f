//! iOS artifacts: backups (plain and encrypted) and filesystem dumps.

use std::path::Path;

use super::ScanOptions;
use crate::error::{Error, Result};
use crate::model::DeviceScan;

/// Scans an iOS backup folder.
pub fn scan_backup(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(path, "iOS backup reading is not built yet"))
}

/// Scans an iOS filesystem dump.
pub fn scan_filesystem(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(
        path,
        "iOS filesystem dumps are not supported yet",
    ))
}
