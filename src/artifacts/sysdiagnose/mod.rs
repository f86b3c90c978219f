//! iOS sysdiagnose archives (.tar.gz, .tar, or extracted folder).

use std::path::Path;

use super::ScanOptions;
use crate::error::{Error, Result};
use crate::model::DeviceScan;

/// Scans a sysdiagnose archive or folder.
pub fn scan(path: &Path, _opts: &ScanOptions) -> Result<DeviceScan> {
    Err(Error::input(path, "sysdiagnose reading is not built yet"))
}
