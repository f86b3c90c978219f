//! Runs one input through its reader.

use std::path::Path;

use crate::artifacts::{ScanOptions, android, ios, sysdiagnose};
use crate::error::Result;
use crate::evidence::{InputKind, detect};
use crate::model::DeviceScan;

/// Reads one input (of the given kind, or the detected one) into records.
pub fn read_input(path: &Path, kind: Option<InputKind>, opts: &ScanOptions) -> Result<DeviceScan> {
    let kind = match kind {
        Some(k) => k,
        None => detect(path)?,
    };
    let mut scan = match kind {
        InputKind::IosBackup => ios::scan_backup(path, opts)?,
        InputKind::IosFilesystem => ios::scan_filesystem(path, opts)?,
        InputKind::Sysdiagnose => sysdiagnose::scan(path, opts)?,
        InputKind::AndroidBackup => android::scan_backup(path, opts)?,
        InputKind::AndroidBugreport => android::scan_bugreport(path, opts)?,
        InputKind::Androidqf => android::scan_androidqf(path, opts)?,
    };
    scan.device.input_kind = kind.as_str().to_string();
    scan.device.input_path = path.display().to_string();
    scan.modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scan)
}
