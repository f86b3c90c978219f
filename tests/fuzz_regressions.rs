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

/// A binary plist (199 bytes, found by the `plist` target; the
/// `nskeyed_mbfile` target found the same in a Manifest blob) whose string
/// object declares a length near 2^64. The depth and size guard added 32
/// to it and overflowed: a panic in debug builds, and in release builds a
/// wrapped, tiny size that let the object past the expansion cap. Now the
/// sizes saturate and the plist is refused or read, never a panic.
#[test]
fn plist_guard_saturates_a_huge_declared_length() {
    let bytes = hex::decode(concat!(
        "62706c6973743030d101025d50726f66696c654576656e7473a103d104055f1024",
        "37364441423333342d374531372d343735442d413544362d303739344542353831",
        "71384135d3060708090a0b5974696d657374616d70596f7065726174696f6e5770",
        "726f636573733341c36f55f000000057696e7374616c6c5f101e2f7573722f6c69",
        "62657865632f6d6f62696c6561637469766174696f6e64080b191b1e454c566068",
        "71790000000000000101000000000000000c0000000000000000000000000000009a",
    ))
    .unwrap();
    assert_eq!(bytes.len(), 199);
    // Either outcome is fine; a panic is not (the test would fail).
    let _ = spydar::evidence::plist_safe::value_from_bytes(&bytes);
    // The same length on every other large-size path: a string object of
    // 2^64-1 bytes as the top object is refused as too large.
    let mut top_string = b"bplist00".to_vec();
    top_string.extend_from_slice(&[0x5f, 0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let table = top_string.len();
    top_string.push(8); // offset of object 0
    let mut trailer = [0u8; 32];
    trailer[6] = 1; // offset size
    trailer[7] = 1; // ref size
    trailer[15] = 1; // one object
    trailer[31] = table as u8; // offset table position
    top_string.extend_from_slice(&trailer);
    assert!(spydar::evidence::plist_safe::value_from_bytes(&top_string).is_err());
}

/// A battery history whose elapsed-time token is `+55555555555555510s000ms` (found by the
/// `dumpsys` target in its second 10-minute run): `n * 1_000`
/// overflowed, a panic in debug builds and a wrapped, wrong time in
/// release builds. Now the entry is kept without a time.
#[test]
fn battery_history_survives_an_overflowing_elapsed_time() {
    let section = "Battery History (0% used, 2720 used of 4096KB, 31 strings using 2694):\n\
                   \x20                    0 (15) RESET:TIME: 2026-11-19-00-00-00\n\
                   \x20           +10s000ms (2) 100 +job=u0a100:\"com.example.filler0/.SyncJob\"\n\
                   \x20           +55555555555555510s000ms (2) 100 +job=u0a101:\"com.example.filler5/.SyncJob\"\n";
    let records =
        spydar::artifacts::android::dumpsys_battery_history::parse(section, "dumpsys.txt");
    let jobs: Vec<_> = records
        .iter()
        .filter(|r| r.description.contains("com.example.filler"))
        .collect();
    assert_eq!(jobs.len(), 2, "{records:#?}");
    assert!(jobs[0].timestamp.is_some());
    assert!(jobs[1].timestamp.is_none());
}
