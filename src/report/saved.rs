//! Reading back an output folder `spydar scan -o` wrote, for `recheck`. A
//! saved folder is untrusted input, like the evidence: only real folders
//! and regular files are read, within size limits.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::records::{find_records, read_records};
use super::{Report, is_module_name};
use crate::error::{Error, Result};
use crate::model::ModuleOutput;

/// Largest report.json read back.
pub const MAX_REPORT_JSON: u64 = 1 << 30;

/// Opens `path` only if it is a regular file and not a link.
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::input(
            path,
            "is a link or not a regular file; recheck reads only the files scan wrote",
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::input(path, "is not a regular file"));
    }
    Ok(file)
}

/// The device folders of an output folder, sorted: real folders (a link is
/// not followed) holding a regular report.json.
pub fn device_dirs(outdir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(outdir)
        .map_err(|e| Error::io(outdir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| std::fs::symlink_metadata(p.join("report.json")).is_ok_and(|m| m.is_file()))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// One saved device folder: its report and its modules with their records.
pub struct SavedDevice {
    pub report: Report,
    /// In the report's order; each holds the records of `records/<name>.jsonl.zst`
    /// (or the plain `records/<name>.jsonl` of an older scan).
    pub modules: Vec<ModuleOutput>,
}

/// Reads `dir/report.json` and the records of every module it names.
pub fn read_device(dir: &Path) -> Result<SavedDevice> {
    let report_path = dir.join("report.json");
    let mut text = Vec::new();
    open_regular(&report_path)?
        .take(MAX_REPORT_JSON)
        .read_to_end(&mut text)
        .map_err(|e| Error::io(&report_path, e))?;
    let report: Report =
        serde_json::from_slice(&text).map_err(|e| Error::input(&report_path, e.to_string()))?;
    let records_dir = dir.join("records");
    if let Ok(m) = std::fs::symlink_metadata(&records_dir)
        && !m.is_dir()
    {
        return Err(Error::input(&records_dir, "is a link or not a folder"));
    }
    let mut modules = Vec::new();
    for info in &report.modules {
        if !is_module_name(&info.name) {
            return Err(Error::input(
                &report_path,
                format!(
                    "names a module {:?}, which is not a plain name ([A-Za-z0-9_.-]); refusing it",
                    info.name
                ),
            ));
        }
        let records = match find_records(&records_dir, &info.name) {
            Some(path) => read_records(&path)?,
            None => Vec::new(),
        };
        modules.push(ModuleOutput {
            name: info.name.clone(),
            artifact: info.artifact.clone(),
            status: info.status,
            error: info.error.clone(),
            duration_ms: info.duration_ms,
            records,
            streamed: 0,
        });
    }
    Ok(SavedDevice { report, modules })
}
