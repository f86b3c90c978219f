//! `spydar summary OUTDIR... -o MERGED`: merge the output folders of
//! separate runs (one job per device on a cluster or CI matrix, copied
//! back) into one, with the summary.json and index.html one run over the
//! same devices writes. See `report::merge` for what is read and trusted.

use std::path::PathBuf;

use clap::Args;

use super::output::OutDir;
use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FailOn};
use crate::error::Error;
use crate::report::{self, merge};

#[derive(Args)]
pub struct SummaryArgs {
    /// Output folders written by `spydar scan -o` (their device folders and summary.json), or
    /// folders holding such folders (downloaded CI artifacts, one folder per pod).
    #[arg(required = true, value_name = "OUTDIR")]
    pub outdirs: Vec<PathBuf>,
    /// The merged folder: each device folder copied in, one summary.json and index.html.
    #[arg(short, long, value_name = "MERGED")]
    pub output: PathBuf,
    /// Write into MERGED even if it already holds files (only spydar's own are replaced).
    #[arg(long)]
    pub overwrite: bool,
    /// Lowest finding level that makes the exit code 1.
    #[arg(long, value_enum, default_value = "detected")]
    pub fail_on: FailOn,
    /// Print the merged summary.json on stdout.
    #[arg(long)]
    pub json: bool,
    /// Say nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: SummaryArgs) -> Result<u8, Error> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in &args.outdirs {
        if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(Error::input(dir, "is not a folder"));
        }
        dirs.extend(merge::run_folders(dir)?);
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        let real = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        if seen.contains(&real) {
            return Err(Error::input(dir, "is given twice"));
        }
        seen.push(real);
    }
    let mut guarded = args.outdirs.clone();
    guarded.extend(dirs.iter().cloned());
    let out = OutDir::check(&args.output, &guarded, args.overwrite)?;
    let mut runs = Vec::new();
    for dir in &dirs {
        let run = merge::read_run(dir)?;
        if !args.quiet {
            for (path, why) in &run.ignored {
                eprintln!("spydar: {}: ignored: {why}", path.display());
            }
        }
        runs.push(run);
    }
    let merged = merge::merge(runs);
    if merged.entries.is_empty() {
        return Err(Error::input(
            &args.outdirs[0],
            "no device folder and no summary.json entry here; give folders `spydar scan -o` wrote",
        ));
    }
    out.create()?;
    for (src, name) in &merged.devices {
        let stage = out.stage()?;
        merge::copy_device(src, stage.path())?;
        let placed = out.place(stage, name)?;
        if !args.quiet {
            eprintln!("{} -> {}", src.display(), placed.display());
        }
    }
    let written = report::write_run(&out.path, &merged.entries)?;
    if !args.quiet {
        for w in &written {
            eprintln!("written: {}", w.display());
        }
    }
    if args.json {
        let summary = report::run_summary(merged.entries.clone());
        let stdout = std::io::stdout();
        serde_json::to_writer_pretty(stdout.lock(), &summary)
            .map_err(|e| Error::io("stdout", e.into()))?;
        println!();
    }
    if merged.reports.is_empty() {
        return Ok(EXIT_ERROR);
    }
    let hit = args
        .fail_on
        .level()
        .is_some_and(|level| merged.reports.iter().any(|r| r.has_at_least(level)));
    Ok(if hit { EXIT_FINDINGS } else { EXIT_CLEAN })
}
