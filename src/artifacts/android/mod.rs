//! Android artifacts: adb backups, bugreports and androidqf acquisitions.

use std::path::Path;

use super::ScanOptions;
use crate::error::{Error, Result};
use crate::model::DeviceScan;

/// Scans an `adb backup` file.
pub fn scan_backup(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(
        path,
        "Android backup reading is not built yet",
    ))
}

/// Scans a bugreport zip or folder.
pub fn scan_bugreport(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(path, "bugreport reading is not built yet"))
}

/// Scans an androidqf acquisition (folder, zip or .zip.age).
pub fn scan_androidqf(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(path, "androidqf reading is not built yet"))
}
