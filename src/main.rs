//! The `spydar` binary: parse, run, exit. Everything else is the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_malloc();
    let cli = spydar::cli::Cli::parse();
    ExitCode::from(spydar::cli::run(cli))
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
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; it is
    // called first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        // No fastbins: small blocks freed (a batch of records is tens of
        // thousands of them) are merged as they are freed, rather than
        // piled up for `malloc_consolidate` to sort at the next large
        // request. -12 % user CPU on the scale-400 backup (1.66-1.73 s vs
        // 1.92-1.96 s, GLIBC_TUNABLES=glibc.malloc.mxfast=0, interleaved).
        libc::mallopt(libc::M_MXFAST, 0);
    }
}
