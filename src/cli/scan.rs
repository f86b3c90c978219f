//! `spydar scan PATH...`: read each input, match, write a report per device.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rayon::prelude::*;
use zeroize::Zeroizing;

use super::output::OutDir;
use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FailOn, IocArgs};
use crate::allow::AllowList;
use crate::artifacts::ScanOptions;
use crate::error::Error;
use crate::evidence::private_tmp::PrivateTempDir;
use crate::evidence::{InputKind, detect::expand_as};
use crate::indicators::Matcher;
use crate::model::ModuleStatus;
use crate::progress::Progress;
use crate::report::{self, DeviceSummary, Report};
use crate::scan::{DeviceReport, scan_device};

#[derive(Args)]
pub struct ScanArgs {
    /// Inputs: iOS backup folder (or a folder of backups), sysdiagnose .tar.gz/.tar/folder,
    /// iOS filesystem dump, Android .ab, bugreport .zip/folder, androidqf folder/.zip/.zip.age.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write reports here (one folder per device, plus summary.json). Must not be inside an input.
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: Option<PathBuf>,
    /// Write into OUTDIR even if it already holds files.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub iocs: IocArgs,
    #[command(flatten)]
    pub exports: super::exports::ExportArgs,
    /// Print report.json (one device) or summary.json (several) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Lowest finding level that makes the exit code 1.
    #[arg(long, value_enum, default_value = "detected")]
    pub fail_on: FailOn,
    /// Any module error or unreadable input makes the exit code 2.
    #[arg(long)]
    pub strict: bool,
    /// Force the input kind instead of detecting it.
    #[arg(long, value_enum)]
    pub kind: Option<InputKind>,
    /// Read the backup password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// Read the backup password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// A derived key saved by an earlier run (skips the slow key derivation of encrypted iOS backups).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// age identity file for encrypted androidqf acquisitions (.zip.age).
    #[arg(long, value_name = "FILE")]
    pub age_identity: Option<PathBuf>,
    /// Reviewed, known-benign findings to move to `suppressed` (lines of
    /// `indicator--ID`, `rule:ID` or `TYPE:VALUE`, `# reason`).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Worker threads (default: one per core; at most 4 per core, or 64).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// No progress and no human summary on stderr (errors still go there).
    #[arg(short, long)]
    pub quiet: bool,
}

/// The password given by file or environment, if any. Never from argv.
pub fn password_from(
    file: Option<&Path>,
    env: Option<&str>,
) -> Result<Option<Zeroizing<String>>, Error> {
    if let Some(path) = file {
        let bytes = Zeroizing::new(super::read_user_file(path, super::MAX_PASSWORD_FILE)?);
        let text =
            std::str::from_utf8(&bytes).map_err(|_| Error::input(path, "is not UTF-8 text"))?;
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(Zeroizing::new(line.to_string())));
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) => Ok(Some(Zeroizing::new(v))),
            Err(_) => Err(Error::input(
                PathBuf::from(format!("${var}")),
                "environment variable is not set",
            )),
        };
    }
    Ok(None)
}

/// Asks for a password on the terminal (no echo); `None` without a terminal.
pub fn prompt_password(path: &Path) -> Option<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    rpassword::prompt_password(format!("Password for {}: ", path.display()))
        .ok()
        .map(Zeroizing::new)
}

struct Scanned {
    input: PathBuf,
    outcome: Result<DeviceReport, Error>,
    /// How long the attempt took (shown for a failed one).
    ms: u64,
}

/// Scans one input with its progress line, staging its records in `staging`.
fn scan_one(
    input: &Path,
    args: &ScanArgs,
    matcher: &Arc<Matcher>,
    password: &Option<Zeroizing<String>>,
    multi: &indicatif::MultiProgress,
    allow: &AllowList,
    staging: Option<PathBuf>,
) -> Scanned {
    let label = input
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let clock = Instant::now();
    let progress = Progress::for_device(&label, !args.quiet && !args.json, multi);
    progress.message("reading");
    let opts = ScanOptions {
        password: password.clone(),
        key_file: args.key_file.clone(),
        age_identity: args.age_identity.clone(),
        progress: progress.clone(),
        ..Default::default()
    };
    let records = staging.map(|s| s.join("records"));
    let outcome = scan_device(
        input,
        args.kind,
        matcher,
        allow,
        opts,
        records.as_deref(),
        &prompt_password,
    );
    progress.finish();
    Scanned {
        input: input.to_path_buf(),
        outcome,
        ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Writes a device's report into its staging folder (which holds the
/// records streamed there already), then moves it to `OUTDIR/name`. On any
/// error the staging folder is removed when `stage` drops.
fn write_device_dir(
    out: &OutDir,
    name: &str,
    stage: PrivateTempDir,
    device: &mut DeviceReport,
) -> Result<PathBuf, Error> {
    let rows = std::mem::take(&mut device.streamed_rows);
    report::write_device(stage.path(), &device.report, &device.modules, rows)?;
    out.place(stage, name)
}

/// What the devices of a run came to.
#[derive(Default)]
struct Tally {
    summaries: Vec<DeviceSummary>,
    reports: Vec<Report>,
    written: Vec<PathBuf>,
    failed_inputs: usize,
    module_errors: usize,
    write_errors: usize,
}

/// Names each scanned device (canonically: [`report::assign_names`]), says
/// how it went on stderr, and moves its staged folder into OUTDIR (when
/// there is one).
fn place_devices(
    args: &ScanArgs,
    outdir: Option<&OutDir>,
    scanned: Vec<Scanned>,
    stages: Vec<Option<PrivateTempDir>>,
) -> Tally {
    let mut t = Tally::default();
    let mut devices = Vec::new();
    for (s, stage) in scanned.into_iter().zip(stages) {
        match s.outcome {
            Err(e) => {
                eprintln!("spydar: {e}");
                t.failed_inputs += 1;
                let mut failed = DeviceSummary::failed(&s.input, e.to_string());
                failed.duration_ms = Some(s.ms);
                t.summaries.push(failed);
            }
            Ok(device) => devices.push((s.input, device, stage)),
        }
    }
    let names = report::assign_names(&devices.iter().map(|d| &d.1.report).collect::<Vec<_>>());
    let human = !args.quiet && !args.json;
    for ((input, mut device, stage), name) in devices.into_iter().zip(names) {
        let report = &device.report;
        let failed_modules: Vec<_> = report
            .modules
            .iter()
            .filter(|m| m.status == ModuleStatus::Error)
            .collect();
        t.module_errors += failed_modules.len();
        if human {
            eprint!("{}", report::text::summary(report));
        } else {
            for m in failed_modules {
                eprintln!(
                    "spydar: {}: module {}: {}",
                    input.display(),
                    m.name,
                    m.error.as_deref().unwrap_or("")
                );
            }
        }
        let mut summary = DeviceSummary::of(report, &name);
        if let (Some(out), Some(stage)) = (outdir, stage) {
            match write_device_dir(out, &name, stage, &mut device) {
                Ok(dir) => t.written.push(dir),
                Err(e) => {
                    eprintln!("spydar: report for {} not written: {e}", input.display());
                    t.write_errors += 1;
                    summary.report = None;
                    summary.error = Some(format!("report not written: {e}"));
                }
            }
        } else {
            summary.report = None;
        }
        t.summaries.push(summary);
        t.reports.push(device.report);
    }
    t
}

/// The inputs of `paths` (folders of devices expanded), and the entries of
/// those folders that are no input, as summary lines (said on stderr unless
/// `quiet`).
fn enumerate(
    paths: &[PathBuf],
    kind: Option<InputKind>,
    quiet: bool,
) -> (Vec<PathBuf>, Vec<DeviceSummary>) {
    let mut inputs = Vec::new();
    let mut others = Vec::new();
    for p in paths {
        let e = expand_as(p, kind);
        inputs.extend(e.inputs);
        for (path, why) in e.not_inputs {
            if !quiet {
                eprintln!("spydar: {}: {why}", path.display());
            }
            others.push(DeviceSummary::not_an_input(&path, why));
        }
    }
    (inputs, others)
}

pub fn run(args: ScanArgs) -> Result<u8, Error> {
    let load_clock = Instant::now();
    let set = args.iocs.load()?;
    let matcher = Arc::new(Matcher::new(set));
    let load_ms = load_clock.elapsed().as_millis();
    let (inputs, not_inputs) = enumerate(&args.paths, args.kind, args.quiet || args.json);
    let outdir = match &args.output {
        Some(out) => {
            let mut guarded = args.paths.clone();
            guarded.extend(inputs.iter().cloned());
            Some(OutDir::check(out, &guarded, args.overwrite)?)
        }
        None => None,
    };
    let mut guarded = args.paths.clone();
    guarded.extend(inputs.iter().cloned());
    args.exports.check(&guarded, args.output.as_deref())?;
    let allow = super::load_allow(args.allow.as_deref())?;
    // Read later, inside the evidence layer: checked here so a FIFO or a
    // device is one line now and not a hang then.
    if let Some(k) = &args.key_file {
        super::check_user_file(k, super::MAX_PASSWORD_FILE)?;
    }
    if let Some(k) = &args.age_identity {
        super::check_user_file(k, super::MAX_PASSWORD_FILE * 16)?;
    }
    let password = password_from(args.password_file.as_deref(), args.password_env.as_deref())?;
    if !args.quiet && !args.json {
        eprintln!(
            "spydar {}: {} indicators from {} sources (loaded in {load_ms} ms); {} input(s){}",
            env!("CARGO_PKG_VERSION"),
            matcher.set().total(),
            matcher.set().sources.len(),
            inputs.len(),
            match not_inputs.len() {
                0 => String::new(),
                n => format!(
                    " ({n} other entr{} listed as not inputs)",
                    if n == 1 { "y" } else { "ies" }
                ),
            }
        );
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        pool = pool.num_threads(super::jobs(n));
    }
    let pool = pool
        .build()
        .map_err(|e| Error::input("--jobs", e.to_string()))?;
    let multi = indicatif::MultiProgress::new();
    // Records are staged per input in a fresh private folder under OUTDIR
    // until the device's name is known; it goes away on every path.
    let mut stages: Vec<Option<PrivateTempDir>> = Vec::new();
    if let Some(out) = &outdir {
        out.create()?;
        for _ in &inputs {
            stages.push(Some(out.stage()?));
        }
    } else {
        stages.resize_with(inputs.len(), || None);
    }
    let stage_paths: Vec<Option<PathBuf>> = stages
        .iter()
        .map(|s| s.as_ref().map(|d| d.path().to_path_buf()))
        .collect();
    let scanned: Vec<Scanned> = pool.install(|| {
        inputs
            .par_iter()
            .zip(stage_paths.par_iter())
            .map(|(i, stage)| {
                scan_one(i, &args, &matcher, &password, &multi, &allow, stage.clone())
            })
            .collect()
    });

    let Tally {
        mut summaries,
        reports,
        mut written,
        failed_inputs,
        module_errors,
        mut write_errors,
    } = place_devices(&args, outdir.as_ref(), scanned, stages);
    summaries.extend(not_inputs);
    let human = !args.quiet && !args.json;
    if let Some(out) = &outdir {
        match report::write_run(&out.path, &summaries) {
            Ok(files) => written.extend(files),
            Err(e) => {
                eprintln!("spydar: {e}");
                write_errors += 1;
            }
        }
        if human {
            for w in &written {
                eprintln!("written: {}", w.display());
            }
            if written.is_empty() {
                eprintln!("nothing written to {}", out.path.display());
            }
        }
    }
    if args.json {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let printed = if reports.len() == 1 && summaries.len() == 1 {
            serde_json::to_writer_pretty(&mut lock, &reports[0])
        } else {
            serde_json::to_writer_pretty(&mut lock, &report::run_summary(summaries.clone()))
        };
        printed.map_err(|e| Error::io("stdout", e.into()))?;
        println!();
    }
    let dirs: Vec<PathBuf> = written.iter().filter(|p| p.is_dir()).cloned().collect();
    let fail_on = args.fail_on.level();
    match args.exports.write(
        "spydar scan",
        &summaries,
        &reports,
        &dirs,
        &matcher,
        fail_on,
        args.quiet,
    ) {
        Ok(files) if human => files
            .iter()
            .for_each(|f| eprintln!("written: {}", f.display())),
        Ok(_) => {}
        Err(e) => {
            eprintln!("spydar: {e}");
            write_errors += 1;
        }
    }
    let nothing_read = reports
        .iter()
        .any(|r| r.summary.verdict == report::Verdict::NothingRead);
    if reports.is_empty()
        || write_errors > 0
        || (args.strict && (failed_inputs > 0 || module_errors > 0 || nothing_read))
    {
        return Ok(EXIT_ERROR);
    }
    let hit = args
        .fail_on
        .level()
        .is_some_and(|level| reports.iter().any(|r| r.has_at_least(level)));
    Ok(if hit { EXIT_FINDINGS } else { EXIT_CLEAN })
}
