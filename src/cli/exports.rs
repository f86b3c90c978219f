//! `--junit FILE` and `--timesketch FILE` (scan and recheck): the run in
//! the forms CI systems and Timesketch read. Both are outputs: checked
//! against the inputs before anything is read, and written atomically
//! (a temporary file in the same folder renamed over the target).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Args;

use super::output::{check_not_inside, resolve};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::model::{Finding, Level};
use crate::report::{self, DeviceSummary, Report, junit, saved, timesketch};
use crate::scan::record_findings;

#[derive(Args, Clone, Default)]
pub struct ExportArgs {
    /// Also write the run as JUnit XML: one test case per device, a failure per finding at or
    /// above --fail-on, module errors and unread inputs as errors.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the timeline (every timed record, findings marked) as JSON Lines for
    /// Timesketch. Needs an output folder.
    #[arg(long, value_name = "FILE")]
    pub timesketch: Option<PathBuf>,
}

/// Refuses `file` inside OUTDIR unless it sits at its top under a name
/// spydar does not write there.
fn check_against_outdir(file: &Path, outdir: &Path) -> Result<(), Error> {
    let (f, o) = (resolve(file), resolve(outdir));
    if !f.starts_with(&o) {
        return Ok(());
    }
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let spydar_name = report::RUN_FILES.contains(&name.as_str()) || name.starts_with(".spydar-");
    if f == o || f.parent() != Some(o.as_path()) || spydar_name {
        return Err(Error::input(
            file,
            format!(
                "would be inside a report folder or replace a file spydar writes in {}; \
                 put it at the top of that folder under another name, or elsewhere",
                outdir.display()
            ),
        ));
    }
    Ok(())
}

impl ExportArgs {
    fn files(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [("--junit", &self.junit), ("--timesketch", &self.timesketch)]
            .into_iter()
            .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    }

    /// Checks the files before the scan: never an input, inside one or
    /// holding one; never a folder or a link; `--timesketch` needs OUTDIR.
    pub fn check(&self, inputs: &[PathBuf], outdir: Option<&Path>) -> Result<(), Error> {
        if self.timesketch.is_some() && outdir.is_none() {
            return Err(Error::input(
                "--timesketch",
                "needs an output folder (-o OUTDIR): the export is made from the records saved there",
            ));
        }
        if let (Some(a), Some(b)) = (&self.junit, &self.timesketch)
            && resolve(a) == resolve(b)
        {
            return Err(Error::input(a, "is given to both --junit and --timesketch"));
        }
        for (flag, file) in self.files() {
            for input in inputs {
                check_not_inside(file, input, "input")?;
            }
            if let Some(out) = outdir {
                check_against_outdir(file, out)?;
            }
            if let Ok(m) = std::fs::symlink_metadata(file)
                && !m.is_file()
            {
                return Err(Error::input(
                    file,
                    format!(
                        "({flag}) exists and is not a regular file (a folder or a link); spydar does not replace it"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes what was asked for; returns the files written. `dirs` are the
    /// device folders written (for the timeline export).
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        suite: &str,
        summaries: &[DeviceSummary],
        reports: &[Report],
        dirs: &[PathBuf],
        matcher: &Matcher,
        fail_on: Option<Level>,
        quiet: bool,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        if let Some(path) = &self.junit {
            let xml = junit::render(&junit::cases(summaries, reports), fail_on, suite)
                .map_err(|e| Error::io(path, e))?;
            write_atomic(path, &xml)?;
            written.push(path.clone());
        }
        if let Some(path) = &self.timesketch {
            let (lines, local) = timeline_lines(dirs, matcher)?;
            let mut bytes = Vec::new();
            timesketch::write_lines(&mut bytes, &lines).map_err(|e| Error::io(path, e))?;
            write_atomic(path, &bytes)?;
            if local > 0 && !quiet {
                eprintln!(
                    "spydar: {}: {local} of {} lines carry a device-local time of unknown zone \
                     (written as UTC, marked time_zone \"{}\")",
                    path.display(),
                    lines.len(),
                    crate::time::UNKNOWN_LOCAL
                );
            }
            written.push(path.clone());
        }
        Ok(written)
    }
}

/// Writes `bytes` to `path` through a temporary file beside it (its folder
/// made if missing).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::input(path, "names no file"))?
        .to_string_lossy()
        .to_string();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    report::write_file(&dir, &name, |w| w.write_all(bytes))
}

/// What makes a finding the same one the report lists (the aggregation key).
type Key = (
    Level,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn key(f: &Finding) -> Key {
    (
        f.level,
        f.module.clone(),
        f.indicator.as_ref().map(|i| i.id.clone()),
        f.rule.clone(),
        f.observable
            .as_ref()
            .map(|o| format!("{}:{}", o.kind, o.value)),
        f.message.clone(),
    )
}

/// The export's lines for the device folders `dirs`, read back from their
/// records (a row per timed record, as timeline.csv); each record is
/// matched again and keeps the findings its report lists (so the allow
/// list's suppressions stay out). Also returns how many lines have a
/// device-local time.
fn timeline_lines(
    dirs: &[PathBuf],
    matcher: &Matcher,
) -> Result<(Vec<timesketch::Line>, usize), Error> {
    let mut lines = Vec::new();
    for dir in dirs {
        let device = saved::read_device(dir)?;
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let listed: HashSet<Key> = device.report.findings.iter().map(key).collect();
        for record in device.modules.iter().flat_map(|m| m.records.iter()) {
            if record.timestamp.is_none() {
                continue;
            }
            let found: Vec<Finding> = record_findings(record, matcher)
                .into_iter()
                .filter(|f| listed.contains(&key(f)))
                .collect();
            let refs: Vec<&Finding> = found.iter().collect();
            lines.extend(timesketch::Line::of(&id, record, &refs));
        }
    }
    timesketch::sort(&mut lines);
    let local = lines.iter().filter(|l| l.is_device_local()).count();
    Ok((lines, local))
}
