//! `spydar scan PATH...`: read each input, match, write a report per device.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Args;
use zeroize::Zeroizing;

use super::output::OutDir;
use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FailOn, IocArgs};
use crate::allow::AllowList;
use crate::artifacts::ScanOptions;
use crate::error::Error;
use crate::evidence::private_tmp::PrivateTempDir;
use crate::evidence::{InputKind, detect::expand_as};
use crate::indicators::LateMatcher;
use crate::model::ModuleStatus;
use crate::progress::Progress;
use crate::report::{self, DeviceSummary, Report};
use crate::scan::DeviceReport;
use crate::scan::device::scan_device_late;

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
    matcher: &Arc<LateMatcher>,
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
    let outcome = scan_device_late(
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

/// What the run keeps of a device once its folder is written: its summary
/// line and a few facts, and its whole report only when `--json` or
/// `--junit` needs it. So the run's memory does not grow with the number
/// of devices, only with the devices in flight.
struct Kept {
    /// The input's position among the run's inputs.
    index: usize,
    input: PathBuf,
    /// Ordered as [`report::assign_names`] orders devices.
    key: (String, String),
    summary: DeviceSummary,
    report: Option<Report>,
    hit: bool,
    nothing_read: bool,
    module_errors: usize,
    /// Where the folder went when the device finished: the first free name
    /// (renamed at the end if its canonical name differs).
    placed: Option<(String, PathBuf)>,
    /// A written folder not placed yet (its first name was refused).
    held: Option<PrivateTempDir>,
    /// Writing the report failed: the summary says why.
    write_failed: bool,
}

/// One finished input: kept, or failed with its summary line.
enum Done {
    Kept(Box<Kept>),
    Failed(usize, DeviceSummary),
}

/// What is shared by the threads that place finished devices.
struct Placing<'a> {
    args: &'a ScanArgs,
    outdir: Option<&'a OutDir>,
    multi: &'a indicatif::MultiProgress,
    /// Keep each report whole (for `--json` of one device, or `--junit`).
    keep_reports: bool,
    /// Names of the folders placed so far.
    taken: Mutex<Vec<String>>,
}

impl Placing<'_> {
    /// Says how a device went on stderr and writes its folder into its
    /// staging folder, then moves it into OUTDIR under the first free name:
    /// a device's folder is complete as soon as the device is done.
    fn finish(&self, index: usize, s: Scanned, stage: Option<PrivateTempDir>) -> Done {
        let mut device = match s.outcome {
            Err(e) => {
                self.multi.suspend(|| eprintln!("spydar: {e}"));
                let mut failed = DeviceSummary::failed(&s.input, e.to_string());
                failed.duration_ms = Some(s.ms);
                return Done::Failed(index, failed);
            }
            Ok(device) => device,
        };
        let report = &device.report;
        let module_errors = self.say(&s.input, report);
        let key = (report.device_id(), report.device.input_path.clone());
        let mut kept = Kept {
            index,
            input: s.input,
            summary: DeviceSummary::of(report, &key.0),
            hit: self
                .args
                .fail_on
                .level()
                .is_some_and(|level| report.has_at_least(level)),
            nothing_read: report.summary.verdict == report::Verdict::NothingRead,
            key,
            report: None,
            module_errors,
            placed: None,
            held: None,
            write_failed: false,
        };
        if let (Some(out), Some(stage)) = (self.outdir, stage) {
            let rows = std::mem::take(&mut device.streamed_rows);
            match report::write_device(stage.path(), &device.report, &device.modules, rows) {
                Ok(()) => self.place(out, stage, &mut kept),
                Err(e) => kept.write_error(&e),
            }
        }
        if self.keep_reports {
            kept.report = Some(device.report);
        }
        Done::Kept(Box::new(kept))
    }

    /// The human summary, or the failed modules; how many failed.
    fn say(&self, input: &Path, report: &Report) -> usize {
        let failed: Vec<_> = report
            .modules
            .iter()
            .filter(|m| m.status == ModuleStatus::Error)
            .collect();
        self.multi.suspend(|| {
            if !self.args.quiet && !self.args.json {
                eprint!("{}", report::text::summary(report));
                return;
            }
            for m in &failed {
                eprintln!(
                    "spydar: {}: module {}: {}",
                    input.display(),
                    m.name,
                    m.error.as_deref().unwrap_or("")
                );
            }
        });
        failed.len()
    }

    fn place(&self, out: &OutDir, stage: PrivateTempDir, kept: &mut Kept) {
        let Ok(mut taken) = self.taken.lock() else {
            kept.held = Some(stage);
            return;
        };
        let name = report::unique_name(&kept.key.0, &taken);
        // Something already there (an earlier run's folder) is left to the
        // end, when the device has its canonical name: the folder waits.
        if std::fs::symlink_metadata(out.path.join(&name)).is_ok() {
            kept.held = Some(stage);
            return;
        }
        match out.place(stage, &name) {
            Ok(dir) => {
                taken.push(name.clone());
                kept.placed = Some((name, dir));
            }
            Err(e) => kept.write_error(&e),
        }
    }
}

impl Kept {
    fn write_error(&mut self, e: &Error) {
        eprintln!(
            "spydar: report for {} not written: {e}",
            self.input.display()
        );
        self.write_failed = true;
        self.summary.report = None;
        self.summary.error = Some(format!("report not written: {e}"));
    }
}
/// What the devices of a run came to.
#[derive(Default)]
struct Tally {
    summaries: Vec<DeviceSummary>,
    /// Whole reports, kept only when `--json` or `--junit` needs them.
    reports: Vec<Report>,
    written: Vec<PathBuf>,
    scanned: usize,
    failed_inputs: usize,
    module_errors: usize,
    write_errors: usize,
    hit: bool,
    nothing_read: bool,
}

/// Gives every written folder its canonical name ([`report::assign_names`],
/// as when the run held every report at the end): folders placed under
/// another name are first set aside into fresh staging folders, then placed,
/// so devices may trade names. Then tallies the run, in the order of the
/// inputs (failed inputs first, as their summary lines have always come).
fn settle(outdir: Option<&OutDir>, mut done: Vec<Done>) -> Tally {
    done.sort_by_key(|d| match d {
        Done::Failed(i, _) => (0, *i),
        Done::Kept(k) => (1, k.index),
    });
    let mut t = Tally::default();
    let mut kept = Vec::new();
    for d in done {
        match d {
            Done::Failed(_, summary) => {
                t.failed_inputs += 1;
                t.summaries.push(summary);
            }
            Done::Kept(k) => kept.push(*k),
        }
    }
    let keys: Vec<(String, &str)> = kept
        .iter()
        .map(|k| (k.key.0.clone(), k.key.1.as_str()))
        .collect();
    let names = report::assign_names_by(&keys);
    if let Some(out) = outdir {
        for (k, name) in kept.iter_mut().zip(&names) {
            k.set_aside(out, name);
        }
        for (k, name) in kept.iter_mut().zip(&names) {
            if let Some(stage) = k.held.take() {
                match out.place(stage, name) {
                    Ok(dir) => k.placed = Some((name.clone(), dir)),
                    Err(e) => k.write_error(&e),
                }
            }
        }
    }
    for (k, name) in kept.into_iter().zip(names) {
        let mut summary = k.summary;
        summary.id.clone_from(&name);
        if outdir.is_none() {
            summary.report = None;
        } else if !k.write_failed {
            summary.report = Some(format!("{name}/report.json"));
        }
        t.summaries.push(summary);
        t.written.extend(k.placed.map(|(_, dir)| dir));
        t.reports.extend(k.report);
        t.scanned += 1;
        t.module_errors += k.module_errors;
        t.write_errors += usize::from(k.write_failed);
        t.hit |= k.hit;
        t.nothing_read |= k.nothing_read;
    }
    t
}

impl Kept {
    /// Moves a folder placed under a name other than `name` into a fresh
    /// staging folder, to be placed under `name`.
    fn set_aside(&mut self, out: &OutDir, name: &str) {
        let Some((placed, dir)) = self.placed.take_if(|(placed, _)| placed != name) else {
            return;
        };
        let moved = out.stage().and_then(|stage| {
            std::fs::rename(&dir, stage.path())
                .map(|()| stage)
                .map_err(|e| Error::io(&dir, e))
        });
        match moved {
            Ok(stage) => self.held = Some(stage),
            Err(e) => {
                // Left where it was: listed under the name it has.
                self.write_error(&e);
                self.placed = Some((placed, dir));
            }
        }
    }
}

/// Scans and writes every input with `scan` (given its index, the input
/// and its staging folder): as many devices in flight as the pool has
/// threads, each run inside the one pool (a device's own parallel work
/// shares those threads), each written as soon as it is done.
fn scan_all(
    inputs: &[PathBuf],
    stages: &[Mutex<Option<PrivateTempDir>>],
    pool: &rayon::ThreadPool,
    scan: impl Fn(usize, &Path, Option<PrivateTempDir>) -> Done + Sync,
) -> Vec<Done> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(inputs.len()));
    let drivers = pool.current_num_threads().clamp(1, inputs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..drivers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let stage = stages[i].lock().ok().and_then(|mut s| s.take());
                    let finished = pool.install(|| scan(i, input, stage));
                    if let Ok(mut v) = done.lock() {
                        v.push(finished);
                    }
                }
            });
        }
    });
    done.into_inner().unwrap_or_default()
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
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        pool = pool.num_threads(super::jobs(n));
    }
    let pool = pool
        .build()
        .map_err(|e| Error::input("--jobs", e.to_string()))?;
    let load_clock = Instant::now();
    // On the run's one pool (the bundled sets are parsed in parallel), so
    // that no second pool starts. The matcher is built on its own thread
    // while the inputs are opened and their modules start (see
    // `LateMatcher`); its builder's scratch space is returned after it.
    let set = pool.install(|| args.iocs.load())?;
    let (total, sources) = (set.total(), set.sources.len());
    // The parse's scratch space back first, before the modules allocate.
    super::release_free_memory();
    let matcher = LateMatcher::building(set, super::release_free_memory);
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
            total,
            sources,
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
    let multi = indicatif::MultiProgress::new();
    // Records are staged per input in a fresh private folder under OUTDIR
    // until the device is written; it goes away on every path.
    let mut stages: Vec<Mutex<Option<PrivateTempDir>>> = Vec::new();
    if let Some(out) = &outdir {
        out.create()?;
        for _ in &inputs {
            stages.push(Mutex::new(Some(out.stage()?)));
        }
    } else {
        stages.resize_with(inputs.len(), || Mutex::new(None));
    }
    let placing = Placing {
        args: &args,
        outdir: outdir.as_ref(),
        multi: &multi,
        keep_reports: args.exports.junit.is_some() || (args.json && inputs.len() == 1),
        taken: Mutex::new(Vec::new()),
    };
    let done = scan_all(&inputs, &stages, &pool, |i, input, stage| {
        let path = stage.as_ref().map(|d| d.path().to_path_buf());
        let s = scan_one(input, &args, &matcher, &password, &multi, &allow, path);
        placing.finish(i, s, stage)
    });
    let Tally {
        mut summaries,
        reports,
        mut written,
        scanned,
        failed_inputs,
        module_errors,
        mut write_errors,
        hit,
        nothing_read,
    } = settle(outdir.as_ref(), done);
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
    // Freeing the indicators and the matcher (tens of thousands of small
    // allocations, ~5 ms) on a thread of its own: the binary exits without
    // waiting for it; a caller that goes on (a test) has them freed all the same.
    // (If no thread can start, the closure and the matcher are dropped here.)
    let _ = std::thread::Builder::new()
        .name("spydar-free".into())
        .spawn(move || drop(matcher));
    if scanned == 0
        || write_errors > 0
        || (args.strict && (failed_inputs > 0 || module_errors > 0 || nothing_read))
    {
        return Ok(EXIT_ERROR);
    }
    Ok(if hit { EXIT_FINDINGS } else { EXIT_CLEAN })
}
