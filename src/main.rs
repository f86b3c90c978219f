//! The `spydar` binary: parse, run, exit. Everything else is the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    spydar::cli::tune_malloc();
    let cli = spydar::cli::Cli::parse();
    ExitCode::from(spydar::cli::run(cli))
}
