//! `spydar recheck OUTDIR`: match the saved records again with the current
//! indicators, without the device, and rewrite the reports in OUTDIR.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_CLEAN, EXIT_FINDINGS, FailOn, IocArgs};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::report::{self, DeviceSummary, saved};
use crate::scan::recheck_device;

#[derive(Args)]
pub struct RecheckArgs {
    /// An output folder written by `spydar scan -o`.
    pub outdir: PathBuf,
    #[command(flatten)]
    pub iocs: IocArgs,
    #[command(flatten)]
    pub exports: super::exports::ExportArgs,
    /// Lowest finding level that makes the exit code 1.
    #[arg(long, value_enum, default_value = "detected")]
    pub fail_on: FailOn,
    /// Reviewed, known-benign findings to move to `suppressed` (as for scan).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: RecheckArgs) -> Result<u8, Error> {
    let matcher = Matcher::new(args.iocs.load()?);
    super::release_free_memory();
    let allow = super::load_allow(args.allow.as_deref())?;
    let dirs = saved::device_dirs(&args.outdir)?;
    if dirs.is_empty() {
        return Err(Error::input(
            &args.outdir,
            "no <device>/report.json here; give the folder `spydar scan -o` wrote",
        ));
    }
    args.exports.check(&[], Some(&args.outdir))?;
    let mut reports = Vec::new();
    let mut summaries = Vec::new();
    let mut any = false;
    for dir in &dirs {
        let rechecked = jiff::Timestamp::now();
        let saved = saved::read_device(dir)?;
        let mut device = recheck_device(saved, &matcher, &allow, rechecked);
        if !args.quiet {
            eprint!("{}", report::text::summary(&device.report));
        }
        let rows = device.take_timeline();
        report::write_reports(dir, &device.report, rows)?;
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        any |= args
            .fail_on
            .level()
            .is_some_and(|l| device.report.has_at_least(l));
        summaries.push(DeviceSummary::of(&device.report, &id));
        reports.push(device.report);
    }
    summaries.extend(report::merge::entries_without_report(&args.outdir)?);
    report::write_run(&args.outdir, &summaries)?;
    let fail_on = args.fail_on.level();
    let suite = "spydar recheck";
    for f in (args.exports).write(
        suite, &summaries, &reports, &dirs, &matcher, fail_on, args.quiet,
    )? {
        if !args.quiet {
            eprintln!("written: {}", f.display());
        }
    }
    Ok(if any { EXIT_FINDINGS } else { EXIT_CLEAN })
}
