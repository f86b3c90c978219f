//! Merging output folders written by separate runs (on other machines,
//! then copied or mounted) into one, for `spydar summary`.
//!
//! A run's `summary.json` and `index.html` are a pure function of
//! 1. its device folders' `report.json` (each entry's figures, verdict and
//!    duration come from there, and the folder names from
//!    [`super::assign_names`]), and
//! 2. its entries without a report: inputs that failed and entries of a
//!    folder of devices that are no input; these live only in the run's
//!    `summary.json`, which is why that file travels with the folders.
//!
//! The summary holds no run-level time, and its entries are in a canonical
//! order ([`super::sort_entries`]), so merging the folders of two half
//! runs gives, byte for byte, what one run over the same devices writes
//! when given those same reports.
//!
//! The folders are untrusted input, like the evidence: a link anywhere in
//! them is refused (the top-level folder given on the command line may be
//! one), only regular files and the `records/` folder are read, names must
//! be the plain ones spydar writes, and sizes are bounded.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::saved::{MAX_REPORT_JSON, open_regular};
use super::{DeviceSummary, EntryStatus, Report, RunSummary, assign_names, is_spydar_folder};
use crate::error::{Error, Result};

/// Largest summary.json read back.
pub const MAX_SUMMARY_JSON: u64 = 64 << 20;

/// One output folder as read back.
pub struct RunFolder {
    pub path: PathBuf,
    /// Its device folders, sorted by name, with their reports.
    pub devices: Vec<(PathBuf, Report)>,
    /// Entries of its summary.json without a report (failures, not inputs)
    /// and, for a report it lists whose folder is missing, an entry saying so.
    pub entries: Vec<DeviceSummary>,
    /// What was there and was not read (said on stderr by the caller).
    pub ignored: Vec<(PathBuf, &'static str)>,
}

/// Reads `path` (a regular file, not a link) up to `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::input(path, format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// Whether `name` is one spydar gives a file or folder it writes in an
/// output folder: `[A-Za-z0-9._-]`, at most 255 bytes, not `.` or `..`.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn refuse_link(path: &Path) -> Error {
    Error::input(
        path,
        "is a link; spydar summary reads only the real folders and files scan wrote (copy them, not links)",
    )
}

/// The entries of `dir`, sorted, each with its name (checked plain) and
/// whether it is a real folder; a link is refused.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, std::fs::FileType)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let path = e.path();
        let kind = e.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_symlink() {
            return Err(refuse_link(&path));
        }
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            return Err(Error::input(
                &path,
                "has a name that is not UTF-8; refusing it",
            ));
        };
        out.push((name, path, kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A run's summary.json: its schema checked, its entries kept.
fn read_summary(path: &Path) -> Result<RunSummary> {
    let bytes = read_bounded(path, MAX_SUMMARY_JSON)?;
    let summary: RunSummary =
        serde_json::from_slice(&bytes).map_err(|e| Error::input(path, e.to_string()))?;
    if !summary.schema.starts_with("spydar.summary/") {
        return Err(Error::input(
            path,
            format!("schema {:?} is not spydar.summary/…", summary.schema),
        ));
    }
    Ok(summary)
}

/// The entries of `dir/summary.json` that have no report (failed inputs,
/// non-inputs, reports not written): what a rewrite of that summary from
/// the device folders alone (`recheck`) must carry over. None when there
/// is no summary.json.
pub fn entries_without_report(dir: &Path) -> Result<Vec<DeviceSummary>> {
    let path = dir.join("summary.json");
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(Vec::new());
    }
    Ok(read_summary(&path)?
        .devices
        .into_iter()
        .filter(|d| d.report.is_none())
        .collect())
}

/// Reads an output folder `spydar scan -o` wrote (see the module
/// documentation for what is refused).
pub fn read_run(dir: &Path) -> Result<RunFolder> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::input(dir, "is not a folder"));
    }
    let mut run = RunFolder {
        path: dir.to_path_buf(),
        devices: Vec::new(),
        entries: Vec::new(),
        ignored: Vec::new(),
    };
    let mut summary = None;
    for (name, path, kind) in entries(dir)? {
        if name == "summary.json" && kind.is_file() {
            summary = Some(read_summary(&path)?);
        } else if name == "index.html" && kind.is_file() {
            // Rewritten from the entries.
        } else if kind.is_dir() && is_spydar_folder(&path) {
            if !plain_name(&name) || name.starts_with('.') {
                return Err(Error::input(
                    &path,
                    "is not a name spydar gives a device folder ([A-Za-z0-9._-], no leading dot); refusing it",
                ));
            }
            let bytes = read_bounded(&path.join("report.json"), MAX_REPORT_JSON)?;
            let report: Report = serde_json::from_slice(&bytes)
                .map_err(|e| Error::input(path.join("report.json"), e.to_string()))?;
            run.devices.push((path, report));
        } else {
            run.ignored.push((
                path,
                "not summary.json, index.html or a device folder spydar wrote",
            ));
        }
    }
    let Some(summary) = summary else {
        run.ignored.push((
            dir.join("summary.json"),
            "missing: this run's failed inputs and non-inputs (if any) are not known",
        ));
        return Ok(run);
    };
    for mut entry in summary.devices {
        match &entry.report {
            None => run.entries.push(entry),
            Some(listed) => {
                let folder = listed.strip_suffix("/report.json").unwrap_or(listed);
                let present = run
                    .devices
                    .iter()
                    .any(|(p, _)| p.file_name().is_some_and(|n| n == folder));
                if !present {
                    entry.error = Some(format!(
                        "its report {listed} is listed in {} but is not there (copy the whole output folder)",
                        dir.join("summary.json").display()
                    ));
                    entry.report = None;
                    entry.status = Some(EntryStatus::Failed);
                    run.entries.push(entry);
                }
            }
        }
    }
    Ok(run)
}

/// Whether `dir` looks like one output folder: it holds a summary.json or
/// a device folder spydar wrote.
fn is_run_folder(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join("summary.json")).is_ok()
        || std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && is_spydar_folder(&e.path()))
        })
}

/// The output folders `dir` stands for: itself when it is one, else each
/// of its folders that is one, sorted (a folder of downloaded CI artifacts
/// or of one folder per Kubernetes pod). A link among them is refused.
pub fn run_folders(dir: &Path) -> Result<Vec<PathBuf>> {
    if is_run_folder(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let runs: Vec<PathBuf> = entries(dir)?
        .into_iter()
        .filter(|(_, path, kind)| kind.is_dir() && is_run_folder(path))
        .map(|(_, path, _)| path)
        .collect();
    Ok(if runs.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        runs
    })
}

/// What the merged folder holds.
pub struct Merged {
    /// Each device folder to copy, and the name it takes.
    pub devices: Vec<(PathBuf, String)>,
    /// summary.json's entries (in canonical order once written).
    pub entries: Vec<DeviceSummary>,
    /// The reports, in the order of `devices`.
    pub reports: Vec<Report>,
}

/// Merges runs: device folders named as one run would name them, entries
/// from their reports, plus every run's entries without a report.
pub fn merge(runs: Vec<RunFolder>) -> Merged {
    let mut folders = Vec::new();
    let mut reports = Vec::new();
    let mut others = Vec::new();
    for run in runs {
        for (path, report) in run.devices {
            folders.push(path);
            reports.push(report);
        }
        others.extend(run.entries);
    }
    let names = assign_names(&reports.iter().collect::<Vec<_>>());
    let mut entries: Vec<DeviceSummary> = reports
        .iter()
        .zip(&names)
        .map(|(r, n)| DeviceSummary::of(r, n))
        .collect();
    entries.extend(others);
    Merged {
        devices: folders.into_iter().zip(names).collect(),
        entries,
        reports,
    }
}

/// Copies a device folder `src` into `dst` (an existing, empty, real
/// folder): its regular files and those of its `records/` folder, nothing
/// else. A link, a name spydar does not write, or any other kind of entry
/// is refused.
pub fn copy_device(src: &Path, dst: &Path) -> Result<()> {
    copy_level(src, dst, true)
}

fn copy_level(src: &Path, dst: &Path, top: bool) -> Result<()> {
    for (name, path, kind) in entries(src)? {
        if !plain_name(&name) {
            return Err(Error::input(
                &path,
                "is not a name spydar writes ([A-Za-z0-9._-]); refusing it",
            ));
        }
        let target = dst.join(&name);
        if kind.is_file() {
            let mut from = open_regular(&path)?;
            let mut to = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(|e| Error::io(&target, e))?;
            std::io::copy(&mut from, &mut to).map_err(|e| Error::io(&target, e))?;
        } else if kind.is_dir() && top && name == "records" {
            std::fs::create_dir(&target).map_err(|e| Error::io(&target, e))?;
            copy_level(&path, &target, false)?;
        } else {
            return Err(Error::input(
                &path,
                "is not a file or folder spydar writes in a device folder; refusing it",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn plain_names_only() {
        for ok in ["report.json", ".spydar-report", "00008030-X", "a_b.c-2"] {
            assert!(plain_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "x\n"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }
}
