//! `spydar scan PATH...`: read each input, match, write a report per device.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rayon::prelude::*;
use zeroize::Zeroizing;

use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FailOn, IocArgs};
use crate::artifacts::{ScanOptions, TextSweep};
use crate::error::Error;
use crate::evidence::{InputKind, detect::expand_devices};
use crate::indicators::Matcher;
use crate::model::{DeviceScan, ModuleStatus};
use crate::progress::Progress;
use crate::report::{self, DeviceSummary, IndicatorsInfo, Report, ScanTimes};

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
    /// Worker threads (default: one per core).
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
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?);
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

/// Refuses an output folder inside any input (evidence is never written to).
fn check_output(out: &Path, inputs: &[PathBuf], overwrite: bool) -> Result<(), Error> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let out_abs = abs(out);
    for input in inputs {
        let canon = input.canonicalize().unwrap_or_else(|_| abs(input));
        let out_canon = out_abs
            .ancestors()
            .find_map(|a| {
                a.canonicalize()
                    .ok()
                    .map(|c| c.join(out_abs.strip_prefix(a).unwrap_or(Path::new(""))))
            })
            .unwrap_or_else(|| out_abs.clone());
        if out_canon.starts_with(&canon) {
            return Err(Error::input(
                out,
                format!(
                    "is inside the input {}; write reports elsewhere",
                    input.display()
                ),
            ));
        }
    }
    if !overwrite
        && out.is_dir()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(Error::input(
            out,
            "already holds files; choose an empty folder or pass --overwrite",
        ));
    }
    Ok(())
}

struct Scanned {
    input: PathBuf,
    outcome: Result<Device, Error>,
    /// Where the sink wrote this input's records before its device id was known.
    staging: Option<PathBuf>,
}

struct Device {
    report: Report,
    scan: DeviceScan,
    streamed_rows: Vec<crate::scan::TimelineRow>,
}

/// Reads one input with a streaming sink, so its records are matched and
/// written as modules make them, then builds its report.
fn read_streaming(
    input: &Path,
    args: &ScanArgs,
    matcher: &Arc<Matcher>,
    opts: &mut ScanOptions,
    staging: Option<&Path>,
) -> Result<
    (
        DeviceScan,
        Vec<crate::scan::Finding>,
        Vec<crate::scan::TimelineRow>,
    ),
    Error,
> {
    let sink = Arc::new(crate::scan::StreamingSink::new(
        matcher.clone(),
        staging.map(|s| s.join("records")),
    ));
    opts.sink = Some(sink.clone() as Arc<dyn crate::artifacts::RecordSink>);
    let read = crate::scan::read_input(input, args.kind, opts);
    opts.sink = None;
    let (mut found, rows, write_error) = match Arc::try_unwrap(sink) {
        Ok(sink) => sink.into_parts(),
        Err(_) => (
            Vec::new(),
            Vec::new(),
            Some("record sink still in use".to_string()),
        ),
    };
    let scan = read?;
    if let Some(e) = write_error {
        return Err(Error::input(staging.unwrap_or(Path::new("-o")), e));
    }
    found.extend(crate::scan::findings(&scan, matcher));
    crate::scan::sort_findings(&mut found);
    Ok((scan, found, rows))
}

fn scan_one(
    input: &Path,
    args: &ScanArgs,
    matcher: &Arc<Matcher>,
    password: &Option<Zeroizing<String>>,
    multi: &indicatif::MultiProgress,
    allow: &crate::scan::AllowList,
    staging: Option<PathBuf>,
) -> Scanned {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    let label = input
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let progress = Progress::for_device(&label, !args.quiet && !args.json, multi);
    progress.message("reading");
    let mut opts = ScanOptions {
        password: password.clone(),
        key_file: args.key_file.clone(),
        age_identity: args.age_identity.clone(),
        progress: progress.clone(),
        text_sweep: Some(matcher.clone() as Arc<dyn TextSweep>),
        sink: None,
    };
    let mut read = read_streaming(input, args, matcher, &mut opts, staging.as_deref());
    if matches!(read, Err(Error::PasswordRequired { .. }))
        && opts.password.is_none()
        && let Some(pw) = prompt_password(input)
    {
        opts.password = Some(pw);
        read = read_streaming(input, args, matcher, &mut opts, staging.as_deref());
    }
    let outcome = read.map(|(scan, all, streamed_rows)| {
        let (findings, suppressed) = allow.split(all);
        let times = ScanTimes {
            started,
            finished: jiff::Timestamp::now(),
            duration_ms: clock.elapsed().as_millis() as u64,
        };
        let mut report = Report::new(
            scan.device.clone(),
            &scan.modules,
            findings,
            suppressed,
            scan.notes.clone(),
            IndicatorsInfo::from_set(matcher.set()),
            times,
        );
        report.widen_spans(streamed_rows.iter().map(|r| (&*r.module, r.time)));
        Device {
            report,
            scan,
            streamed_rows,
        }
    });
    progress.finish();
    Scanned {
        input: input.to_path_buf(),
        outcome,
        staging,
    }
}

/// Moves a device's staged records to `OUTDIR/<id>` and writes the rest.
fn write_device_dir(
    out: &Path,
    id: &str,
    staging: Option<&Path>,
    report: &Report,
    scan: &DeviceScan,
    rows: Vec<crate::scan::TimelineRow>,
) -> Result<(), Error> {
    let dir = out.join(id);
    if let Some(stage) = staging.filter(|s| s.exists()) {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::rename(stage, &dir).map_err(|e| Error::io(stage, e))?;
    }
    report::write_device(&dir, report, &scan.modules, rows)
}

pub fn run(args: ScanArgs) -> Result<u8, Error> {
    let load_clock = Instant::now();
    let set = args.iocs.load()?;
    let matcher = Arc::new(Matcher::new(set));
    let load_ms = load_clock.elapsed().as_millis();
    let inputs: Vec<PathBuf> = args.paths.iter().flat_map(|p| expand_devices(p)).collect();
    if let Some(out) = &args.output {
        check_output(out, &inputs, args.overwrite)?;
    }
    let allow = super::load_allow(args.allow.as_deref())?;
    let password = password_from(args.password_file.as_deref(), args.password_env.as_deref())?;
    if !args.quiet && !args.json {
        eprintln!(
            "spydar {}: {} indicators from {} sources (loaded in {load_ms} ms); {} input(s)",
            env!("CARGO_PKG_VERSION"),
            matcher.set().total(),
            matcher.set().sources.len(),
            inputs.len()
        );
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        pool = pool.num_threads(n.max(1));
    }
    let pool = pool
        .build()
        .map_err(|e| Error::input("--jobs", e.to_string()))?;
    let multi = indicatif::MultiProgress::new();
    // Records are staged per input under OUTDIR until the device id is known.
    let staging = |n: usize| {
        args.output
            .as_ref()
            .map(|o| o.join(format!(".spydar-partial-{n}")))
    };
    let scanned: Vec<Scanned> = pool.install(|| {
        inputs
            .par_iter()
            .enumerate()
            .map(|(n, i)| scan_one(i, &args, &matcher, &password, &multi, &allow, staging(n)))
            .collect()
    });

    let mut summaries = Vec::new();
    let mut reports: Vec<Report> = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    let mut failed_inputs = 0;
    let mut module_errors = 0;
    let mut write_error = None;
    for s in scanned {
        let device = match s.outcome {
            Err(e) => {
                eprintln!("spydar: {e}");
                failed_inputs += 1;
                summaries.push(DeviceSummary::failed(&s.input, e.to_string()));
                if let Some(stage) = &s.staging {
                    let _ = std::fs::remove_dir_all(stage);
                }
                continue;
            }
            Ok(device) => device,
        };
        let report = &device.report;
        let mut id = report.device_id();
        let base = id.clone();
        let mut n = 2;
        while used_ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        used_ids.push(id.clone());
        let failed_modules: Vec<_> = report
            .modules
            .iter()
            .filter(|m| m.status == ModuleStatus::Error)
            .collect();
        module_errors += failed_modules.len();
        if !args.quiet && !args.json {
            eprint!("{}", report::text::summary(report));
        } else {
            for m in failed_modules {
                eprintln!(
                    "spydar: {}: module {}: {}",
                    s.input.display(),
                    m.name,
                    m.error.as_deref().unwrap_or("")
                );
            }
        }
        summaries.push(DeviceSummary::of(report, &id));
        let Device {
            report,
            scan,
            streamed_rows,
        } = device;
        if let Some(out) = &args.output
            && let Err(e) = write_device_dir(
                out,
                &id,
                s.staging.as_deref(),
                &report,
                &scan,
                streamed_rows,
            )
        {
            write_error = Some(e);
        }
        reports.push(report);
    }
    if let Some(out) = &args.output {
        report::write_run(out, &summaries)?;
        if !args.quiet && !args.json {
            eprintln!("reports written to {}", out.display());
        }
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    if args.json {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let written = if reports.len() == 1 && failed_inputs == 0 {
            serde_json::to_writer_pretty(&mut lock, &reports[0])
        } else {
            serde_json::to_writer_pretty(&mut lock, &report::run_summary(summaries.clone()))
        };
        written.map_err(|e| Error::io("stdout", e.into()))?;
        println!();
    }
    if reports.is_empty() || (args.strict && (failed_inputs > 0 || module_errors > 0)) {
        return Ok(EXIT_ERROR);
    }
    let hit = args
        .fail_on
        .level()
        .is_some_and(|level| reports.iter().any(|r| r.has_at_least(level)));
    Ok(if hit { EXIT_FINDINGS } else { EXIT_CLEAN })
}
