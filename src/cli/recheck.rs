//! `spydar recheck OUTDIR`: match the saved records again with the current
//! indicators, without the device, and rewrite the reports in OUTDIR.

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_CLEAN, EXIT_FINDINGS, FailOn, IocArgs};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::model::{DeviceScan, ModuleOutput, Record};
use crate::report::{self, DeviceSummary, IndicatorsInfo, Report, ScanTimes};

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

fn load_device(dir: &std::path::Path) -> Result<(Report, Vec<ModuleOutput>), Error> {
    let report_path = dir.join("report.json");
    let text = std::fs::read(&report_path).map_err(|e| Error::io(&report_path, e))?;
    let old: Report =
        serde_json::from_slice(&text).map_err(|e| Error::input(&report_path, e.to_string()))?;
    let mut modules = Vec::new();
    for info in &old.modules {
        let path = dir.join("records").join(format!("{}.jsonl", info.name));
        let mut records = Vec::new();
        if path.is_file() {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| Error::io(&path, e))?;
                let record: Record = serde_json::from_str(&line)
                    .map_err(|e| Error::input(&path, format!("line {}: {e}", n + 1)))?;
                records.push(record);
            }
        }
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
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&args.outdir)
        .map_err(|e| Error::io(&args.outdir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("report.json").is_file())
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
        let started = jiff::Timestamp::now();
        let clock = std::time::Instant::now();
        let (old, modules) = load_device(&dir)?;
        let scan = DeviceScan {
            device: old.device.clone(),
            modules,
            notes: old.notes.clone(),
        };
        let (findings, suppressed) = allow.split(crate::scan::findings(&scan, &matcher));
        let mut notes = old.notes.clone();
        notes.push(format!(
            "rechecked from saved records; originally scanned {}",
            old.scan.started
        ));
        let report = Report::new(
            scan.device.clone(),
            &scan.modules,
            findings,
            suppressed,
            notes,
            IndicatorsInfo::from_set(matcher.set()),
            ScanTimes {
                started,
                finished: jiff::Timestamp::now(),
                duration_ms: clock.elapsed().as_millis() as u64,
            },
        );
        if !args.quiet {
            eprint!("{}", report::text::summary(&report));
        }
        report::write_device(&dir, &report, &scan.modules, Vec::new())?;
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
