//! Regressions found by the fuzz targets in `fuzz/` and by probing their
//! entry points with crafted inputs (see fuzz/README.md). Inputs are built
//! here, small in the source.
//!
//! The two hangs below were quadratic loops (fixed: dumpsys section markers
//! are checked by their surrounding white space, shutdown.log clients are
//! indexed by (pid, path)).
//! Each runs the parser on a worker thread and fails when it has not
//! returned within a bound that a linear pass meets by a wide margin, so a
//! regression fails in seconds instead of hanging the suite.

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread; fails the test if it takes longer than `limit`
/// (the thread is left to finish on its own).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("did not return within {limit:?}: quadratic on hostile input"),
    }
}

/// A dumpsys text whose one line repeats `DUMP OF SERVICE package: ` 65,536
/// times (1.6 MB). `section` re-scans the line for every false match
/// (`rfind`/`find` of the newline around each hit): 125 s in a release
/// build; a 16 MB line would take hours. Found by the `dumpsys` target being
/// the slowest one (214 exec/s).
#[test]
fn dumpsys_section_is_linear_on_a_line_of_markers() {
    let text = "DUMP OF SERVICE package: ".repeat(65_536);
    let found = within(Duration::from_secs(20), move || {
        spydar::artifacts::android::dumpsys::section(&text, "package").map(str::len)
    });
    // The markers are not alone on their line: no section.
    assert_eq!(found, None);
}

/// A shutdown.log with 60,000 distinct `remaining client pid:` lines and no
/// SIGTERM line: each client is looked up by a linear scan of the clients
/// seen so far (quadratic; 100,000 lines took 116 s in a release build).
#[test]
fn shutdown_log_is_linear_in_distinct_clients() {
    let mut log = String::new();
    for i in 0..60_000 {
        log.push_str(&format!("remaining client pid: {i} (/usr/libexec/d{i})\n"));
    }
    let records = within(Duration::from_secs(30), move || {
        spydar::artifacts::sysdiagnose::shutdown_log::records(
            "system_logs.logarchive/Extra/shutdown.log",
            log.as_bytes(),
        )
    })
    .expect("a shutdown.log is always readable");
    // One summary record plus one per distinct client.
    assert_eq!(records.len(), 60_001);
}
