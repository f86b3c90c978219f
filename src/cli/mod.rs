//! The command line: one file per subcommand. `main.rs` only parses and
//! turns the outcome into an exit code.

pub mod decrypt;
pub mod indicators;
pub mod recheck;
pub mod scan;
pub mod update;

use std::path::PathBuf;

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
}

/// Indicator options shared by scan, indicators and recheck.
#[derive(Args, Clone, Default)]
pub struct IocArgs {
    /// A STIX2 file or a folder of them (*.stix2, *.json), in addition to the bundled sets. Repeatable.
    #[arg(long = "iocs", value_name = "FILE|DIR", global = true)]
    pub iocs: Vec<PathBuf>,
    /// Do not use the indicator sets embedded in spydar.
    #[arg(long, global = true)]
    pub no_bundled_iocs: bool,
    /// Do not use the sets fetched by `spydar indicators update`.
    #[arg(long, global = true)]
    pub no_updated_iocs: bool,
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
        for path in &self.iocs {
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

/// The `--allow` file, or an empty list.
pub fn load_allow(path: Option<&std::path::Path>) -> Result<crate::scan::AllowList, Error> {
    let Some(path) = path else {
        return Ok(crate::scan::AllowList::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    crate::scan::AllowList::parse(&text, &path.display().to_string())
        .map_err(|e| Error::input(path, e))
}

/// Runs the parsed command; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let outcome = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Indicators(args) => indicators::run(args),
        Command::Recheck(args) => recheck::run(args),
        Command::Decrypt(args) => decrypt::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spydar: {e}");
            EXIT_ERROR
        }
    }
}
