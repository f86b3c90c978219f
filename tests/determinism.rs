//! The same input gives the same outputs, byte for byte, with one worker
//! thread or several (only the scan's own times differ), for every kind of
//! committed sample. This guards the sorting of findings, the order of
//! streamed records and the timeline.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;

/// report.json without the fields that measure the run itself.
fn stable_report(bytes: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v["scan"] = serde_json::Value::Null;
    for m in v["modules"].as_array_mut().unwrap() {
        m["duration_ms"] = serde_json::Value::Null;
    }
    v
}

fn scan(input: &Path, jobs: &str) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("o");
    let code = cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("scan")
        .arg(input)
        .args(["-o"])
        .arg(&dir)
        .args(["--quiet", "--jobs", jobs])
        .output()
        .unwrap()
        .status
        .code();
    assert_eq!(code, Some(1), "{} has planted indicators", input.display());
    let f = common::tree(&dir);
    (out, f)
}

#[test]
fn one_thread_or_many_gives_the_same_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let sysdiagnose = std::fs::read_dir(root.join("sysdiagnose"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("a committed sysdiagnose sample");
    for input in [
        root.join("ios_backup"),
        sysdiagnose,
        root.join("android/androidqf"),
        root.join("android/bugreport.zip"),
        root.join("android/backup.ab"),
    ] {
        let (_a, one) = scan(&input, "1");
        let (_b, many) = scan(&input, "3");
        assert_eq!(
            one.keys().collect::<Vec<_>>(),
            many.keys().collect::<Vec<_>>(),
            "{}: same files",
            input.display()
        );
        assert!(one.keys().any(|k| k.ends_with("timeline.csv")));
        assert!(one.keys().any(|k| k.contains("records/")));
        for (name, bytes) in &one {
            let other = &many[name];
            if name.ends_with("report.json") {
                assert_eq!(
                    stable_report(bytes),
                    stable_report(other),
                    "{}: {}",
                    input.display(),
                    name
                );
            } else if name.ends_with("summary.json") || name.ends_with("report.html") {
                // These show the scan's own time and duration.
                continue;
            } else {
                assert!(
                    bytes == other,
                    "{}: {} differs between 1 and 3 threads",
                    input.display(),
                    name
                );
            }
        }
    }
}
