//! The command line: one file per subcommand. `main.rs` only parses and
//! turns the outcome into an exit code.

pub mod decrypt;
pub mod exports;
pub mod indicators;
pub mod modules;
pub mod output;
pub mod recheck;
pub mod rules;
pub mod scan;
pub mod summary;
pub mod update;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::indicators::IndicatorSet;

/// Exit codes (REPORT.md).
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "spydar",
    version,
    about = "Scan phone backups and archives for published traces of mercenary spyware",
    long_about = "spydar reads iOS backups (plain and encrypted), iOS sysdiagnose archives, iOS filesystem dumps, \
Android adb backups, bugreports and androidqf acquisitions, and matches what it finds against published STIX2 \
indicators of compromise (bundled: Amnesty International Security Lab, mvt-indicators).\n\n\
Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 nothing could be scanned."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Scan one or more inputs and write a report per device.
    Scan(scan::ScanArgs),
    /// Inspect the indicator sets (list, stats, check VALUE), or fetch the published ones (update).
    Indicators(indicators::IndicatorsArgs),
    /// Match the records saved in an output folder again, against current indicators.
    Recheck(recheck::RecheckArgs),
    /// Write a plain copy of an encrypted iOS backup, or save its derived key.
    Decrypt(decrypt::DecryptArgs),
    /// List the heuristic rules (id, level, severity, title); --json gives the whole catalogue.
    Rules(rules::RulesArgs),
    /// List the artifact modules each input kind runs (list [--json]).
    Modules(modules::ModulesArgs),
    /// Merge output folders of separate runs (other machines) into one summary.json + index.html.
    Summary(summary::SummaryArgs),
}

/// Indicator options shared by scan, indicators and recheck.
#[derive(Args, Clone, Default)]
pub struct IocArgs {
    /// A STIX2 file or a folder of them (*.stix2, *.json), in addition to the bundled sets. Repeatable.
    #[arg(short = 'i', long = "iocs", value_name = "FILE|DIR", global = true)]
    pub iocs: Vec<PathBuf>,
    /// Do not use the indicator sets embedded in spydar.
    #[arg(long, global = true)]
    pub no_bundled_iocs: bool,
    /// Do not use the sets fetched by `spydar indicators update`.
    #[arg(long, global = true)]
    pub no_updated_iocs: bool,
    /// Do not use MVT's indicator folder or $MVT_STIX2 (also: SPYDAR_NO_MVT_INDICATORS=1).
    #[arg(long, global = true)]
    pub no_mvt_iocs: bool,
}

impl IocArgs {
    /// The indicator set these options ask for; an empty set is an error.
    pub fn load(&self) -> Result<IndicatorSet, Error> {
        let mut set = if self.no_bundled_iocs {
            IndicatorSet::default()
        } else {
            IndicatorSet::bundled()
        };
        if !self.no_updated_iocs
            && let Some(dir) = update::default_dir()
        {
            update::add_downloaded(&mut set, &dir);
        }
        if !self.no_mvt_iocs && !crate::indicators::mvt::opted_out() {
            for w in crate::indicators::mvt::add(&mut set, MAX_IOC_FILE) {
                eprintln!("spydar: {w}");
            }
        }
        for path in &self.iocs {
            check_ioc_path(path)?;
            set.add_path(path)?;
        }
        for s in &set.sources {
            if !s.skipped.is_empty() {
                eprintln!(
                    "spydar: {}: skipped {} pattern(s) spydar cannot use (first: {} — {})",
                    s.name,
                    s.skipped.len(),
                    s.skipped[0].0,
                    s.skipped[0].1
                );
            }
        }
        if set.indicators.is_empty() {
            return Err(Error::Indicators(
                "no indicators loaded (give --iocs, or drop --no-bundled-iocs)".into(),
            ));
        }
        Ok(set)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Detected,
    Warning,
    Never,
}

impl FailOn {
    pub fn level(self) -> Option<crate::model::Level> {
        match self {
            FailOn::Detected => Some(crate::model::Level::Detected),
            FailOn::Warning => Some(crate::model::Level::Warning),
            FailOn::Never => None,
        }
    }
}

/// Largest `--password-file`.
pub const MAX_PASSWORD_FILE: u64 = 4 << 10;
/// Largest `--allow` file.
pub const MAX_ALLOW_FILE: u64 = 16 << 20;
/// Largest indicator file given with `--iocs` (the same as a downloaded bundle).
pub const MAX_IOC_FILE: u64 = update::MAX_BUNDLE_BYTES;
/// Most worker threads `--jobs` starts: more only wait for the same cores,
/// and each costs a stack (100,000 of them never finish starting).
pub fn max_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).max(64)
}

/// The thread count for `--jobs N`: at least 1, at most [`max_jobs`] (with a
/// line on stderr saying so).
pub fn jobs(n: usize) -> usize {
    let max = max_jobs();
    if n > max {
        eprintln!("spydar: --jobs {n} is more than this machine can use; using {max}");
        return max;
    }
    n.max(1)
}

fn size_words(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

/// Checks a file the user named: a regular file (after links), at most
/// `cap` bytes; a device (`/dev/zero`), a FIFO or a folder is an error
/// naming it, never a read that does not end.
pub fn check_user_file(path: &Path, cap: u64) -> Result<std::fs::Metadata, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::input(path, "is not a regular file"));
    }
    if meta.len() > cap {
        return Err(Error::input(
            path,
            format!(
                "is larger than {}, the limit for this file",
                size_words(cap)
            ),
        ));
    }
    Ok(meta)
}

/// Reads a file the user named (see [`check_user_file`]), at most `cap`
/// bytes even if it grows meanwhile.
pub fn read_user_file(path: &Path, cap: u64) -> Result<Vec<u8>, Error> {
    let meta = check_user_file(path, cap)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // What was opened decides, not what was checked a moment before.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::input(path, "is not a regular file"));
    }
    // Sized up front, so a password is not left behind in reallocations.
    let mut buf = Vec::with_capacity(meta.len().min(cap) as usize + 1);
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > cap {
        return Err(Error::input(
            path,
            format!(
                "is larger than {}, the limit for this file",
                size_words(cap)
            ),
        ));
    }
    Ok(buf)
}

/// `--iocs PATH`: a folder (its *.stix2 / *.json files, links not
/// followed, as the loader reads them) or a regular file, each within
/// [`MAX_IOC_FILE`].
fn check_ioc_path(path: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return check_user_file(path, MAX_IOC_FILE).map(|_| ());
    }
    for e in walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "stix2" || x == "json")
        })
    {
        check_user_file(e.path(), MAX_IOC_FILE)?;
    }
    Ok(())
}

/// The `--allow` file, or an empty list.
pub fn load_allow(path: Option<&std::path::Path>) -> Result<crate::scan::AllowList, Error> {
    let Some(path) = path else {
        return Ok(crate::scan::AllowList::default());
    };
    let bytes = read_user_file(path, MAX_ALLOW_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::input(path, "is not UTF-8 text"))?;
    let origin = path.display().to_string();
    crate::scan::AllowList::parse(&text, &origin).map_err(|e| {
        // The parser's message starts with "PATH:LINE: "; say the path once.
        match e
            .strip_prefix(origin.as_str())
            .and_then(|r| r.strip_prefix(':'))
        {
            Some(rest) => match rest.split_once(": ") {
                Some((line, reason)) => Error::input(format!("{origin}:{line}"), reason),
                None => Error::input(path, rest.to_string()),
            },
            None => Error::input(path, e),
        }
    })
}

/// glibc malloc: blocks of 256 KiB and more (a batch of records, encoding
/// buffers, SQLite page caches) are mapped on their own and given back to
/// the system when freed. By default the threshold rises with every such
/// block freed (up to 32 MiB), so later batches come from the heap, whose
/// freed space fragments and is not returned: on a scale-400 iOS backup the
/// peak resident set drops from ~130 to ~107 MB with it, and freeing a
/// batch no longer consolidates the heap (`malloc_consolidate` was 4-5 % of
/// the profile). Measured with `GLIBC_TUNABLES=glibc.malloc.mmap_threshold`
/// before being set here; an arena limit and a lower trim threshold cost
/// CPU for no gain.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; it is
    // called first thing in main (src/main.rs), before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        // No fastbins: small blocks freed (a batch of records is tens of
        // thousands of them) are merged as they are freed, rather than
        // piled up for `malloc_consolidate` to sort at the next large
        // request. -12 % user CPU on the scale-400 backup (1.66-1.73 s vs
        // 1.92-1.96 s, GLIBC_TUNABLES=glibc.malloc.mxfast=0, interleaved).
        libc::mallopt(libc::M_MXFAST, 0);
        // Each thread's arena grows its heap by what a request needs plus
        // this pad: with glibc's 128 KiB the scan's worker arenas grew and
        // shrank in 8,371 mprotect calls on the scale-400 backup; with
        // 8 MiB, a few hundred.
        libc::mallopt(libc::M_TOP_PAD, 8 << 20);
    }
}

/// Gives the free memory of the heap back to the system: once the matcher
/// is built, its builder's scratch space (about 6 MB with the bundled sets,
/// spread over the arenas of the threads that parsed the bundles) would
/// otherwise stay in the resident set of the whole scan. About 1 ms.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's arenas to the
    // system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the parsed command; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let outcome = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Indicators(args) => indicators::run(args),
        Command::Recheck(args) => recheck::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Modules(args) => modules::run(args),
        Command::Summary(args) => summary::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spydar: {e}");
            EXIT_ERROR
        }
    }
}
