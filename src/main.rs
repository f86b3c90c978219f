//! The `spydar` binary: parse, run, exit. Everything else is the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc malloc: a scan makes and frees millions of
/// small strings (records), and glibc's free/consolidate took ~20 % of an
/// iOS backup scan's CPU (issue 15 profile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = spydar::cli::Cli::parse();
    ExitCode::from(spydar::cli::run(cli))
}
