//! `spydar recheck OUTDIR`: match the saved records again with the current
//! indicators, without the device, and rewrite the reports in OUTDIR.

use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_CLEAN, EXIT_FINDINGS, FailOn, IocArgs};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::model::{DeviceScan, ModuleOutput, Record};
use crate::report::{self, DeviceSummary, IndicatorsInfo, Report};

#[derive(Args)]
pub struct RecheckArgs {
    /// An output folder written by `spydar scan -o`.
    pub outdir: PathBuf,
    #[command(flatten)]
    pub iocs: IocArgs,
    /// Lowest finding level that makes the exit code 1.
    #[arg(long, value_enum, default_value = "detected")]
    pub fail_on: FailOn,
    /// Reviewed, known-benign findings to move to `suppressed` (as for scan).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    #[arg(short, long)]
    pub quiet: bool,
}

/// Largest report.json read back.
const MAX_REPORT_JSON: u64 = 1 << 30;
/// Longest line of a records file read back.
const MAX_RECORD_LINE: u64 = 256 << 20;
const RECHECK_NOTE: &str = "rechecked from saved records";

/// Opens `path` only if it is a regular file and not a link: a saved
/// output folder is untrusted input, like the evidence.
fn open_regular(path: &Path) -> Result<std::fs::File, Error> {
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

fn read_records(path: &Path) -> Result<Vec<Record>, Error> {
    let mut reader = std::io::BufReader::new(open_regular(path)?);
    let mut records = Vec::new();
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        let got = (&mut reader)
            .take(MAX_RECORD_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if got == 0 {
            break;
        }
        if line.len() as u64 > MAX_RECORD_LINE {
            return Err(Error::input(
                path,
                format!("line {n}: longer than {} MiB", MAX_RECORD_LINE >> 20),
            ));
        }
        let record: Record = serde_json::from_slice(&line)
            .map_err(|e| Error::input(path, format!("line {n}: {e}")))?;
        records.push(record);
    }
    Ok(records)
}

fn load_device(dir: &Path) -> Result<(Report, Vec<ModuleOutput>), Error> {
    let report_path = dir.join("report.json");
    let mut text = Vec::new();
    open_regular(&report_path)?
        .take(MAX_REPORT_JSON)
        .read_to_end(&mut text)
        .map_err(|e| Error::io(&report_path, e))?;
    let old: Report =
        serde_json::from_slice(&text).map_err(|e| Error::input(&report_path, e.to_string()))?;
    let records_dir = dir.join("records");
    if let Ok(m) = std::fs::symlink_metadata(&records_dir)
        && !m.is_dir()
    {
        return Err(Error::input(&records_dir, "is a link or not a folder"));
    }
    let mut modules = Vec::new();
    for info in &old.modules {
        if !report::is_module_name(&info.name) {
            return Err(Error::input(
                &report_path,
                format!(
                    "names a module {:?}, which is not a plain name ([A-Za-z0-9_.-]); refusing it",
                    info.name
                ),
            ));
        }
        let path = records_dir.join(format!("{}.jsonl", info.name));
        let records = if std::fs::symlink_metadata(&path).is_ok() {
            read_records(&path)?
        } else {
            Vec::new()
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
    Ok((old, modules))
}

pub fn run(args: RecheckArgs) -> Result<u8, Error> {
    let matcher = Matcher::new(args.iocs.load()?);
    let allow = super::load_allow(args.allow.as_deref())?;
    // Device folders are real folders (a link is not followed) holding a
    // regular report.json.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&args.outdir)
        .map_err(|e| Error::io(&args.outdir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| std::fs::symlink_metadata(p.join("report.json")).is_ok_and(|m| m.is_file()))
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(Error::input(
            &args.outdir,
            "no <device>/report.json here; give the folder `spydar scan -o` wrote",
        ));
    }
    let mut summaries = Vec::new();
    let mut any = false;
    for dir in dirs {
        let rechecked = jiff::Timestamp::now();
        let (old, modules) = load_device(&dir)?;
        let scan = DeviceScan {
            device: old.device.clone(),
            modules,
            notes: old.notes.clone(),
        };
        let (findings, suppressed) = allow.split(crate::scan::findings(&scan, &matcher));
        // `scan` keeps the original scan's times; this run is `rechecked`.
        let mut notes: Vec<String> = old
            .notes
            .iter()
            .filter(|n| !n.starts_with(RECHECK_NOTE))
            .cloned()
            .collect();
        notes.push(format!(
            "{RECHECK_NOTE} at {rechecked}; originally scanned {}",
            old.scan.started
        ));
        let mut report = Report::new(
            scan.device.clone(),
            &scan.modules,
            findings,
            suppressed,
            notes,
            IndicatorsInfo::from_set(matcher.set()),
            old.scan.clone(),
        );
        report.rechecked = Some(rechecked);
        if !args.quiet {
            eprint!("{}", report::text::summary(&report));
        }
        let rows = scan
            .modules
            .iter()
            .flat_map(|m| m.records.iter())
            .filter_map(crate::scan::TimelineRow::of)
            .collect();
        report::write_reports(&dir, &report, rows)?;
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        any |= args.fail_on.level().is_some_and(|l| report.has_at_least(l));
        summaries.push(DeviceSummary::of(&report, &id));
    }
    report::write_run(&args.outdir, &summaries)?;
    Ok(if any { EXIT_FINDINGS } else { EXIT_CLEAN })
}
