//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// Relative path → bytes of every file under `root`, for byte-identity
/// checks (evidence untouched, outputs equal).
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `spydar scan INPUT -o OUT --quiet EXTRA...`, blind to downloaded
/// indicators, not yet run (callers may add to its environment).
pub fn scan_command(input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("spydar").unwrap();
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .env("SPYDAR_NO_MVT_INDICATORS", "1")
        .arg("scan")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--quiet")
        .args(extra);
    cmd
}

/// The device's report.json under a scan's output folder, if written.
pub fn find_report(out: &Path) -> Option<Value> {
    walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.json")
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
}

/// Runs `spydar scan INPUT -o OUT --quiet EXTRA...` (blind to downloaded
/// indicators) and returns the exit code and the device's report.json.
pub fn scan(input: &Path, out: &Path, extra: &[&str]) -> (i32, Value) {
    let assert = scan_command(input, out, extra).assert();
    let code = assert.get_output().status.code().unwrap_or(-1);
    (code, find_report(out).expect("report.json written"))
}

/// Makes a named pipe at `path` (a reader of it blocks forever: the hang
/// cases of the hostile-input tests).
pub fn mkfifo(path: &Path) {
    assert!(
        std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success(),
        "mkfifo {}",
        path.display()
    );
}

/// The records one module of a scan produced.
pub fn module_records<'a>(
    scan: &'a spydar::model::DeviceScan,
    module: &str,
) -> Vec<&'a spydar::model::Record> {
    scan.modules
        .iter()
        .filter(|m| m.name == module)
        .flat_map(|m| m.records.iter())
        .collect()
}

/// Writes a minimal STIX2 bundle at `path`: one malware named `malware`
/// and one indicator (with its `indicates` relationship) per pattern.
pub fn stix_bundle(path: &Path, malware: &str, patterns: &[String]) -> std::path::PathBuf {
    let mut objects =
        vec![serde_json::json!({"type": "malware", "id": "malware--1", "name": malware})];
    for (i, p) in patterns.iter().enumerate() {
        let id = format!("indicator--{i}");
        objects.push(serde_json::json!({"type": "indicator", "id": id, "pattern": p}));
        objects.push(
            serde_json::json!({"type": "relationship", "id": format!("relationship--{i}"),
            "relationship_type": "indicates", "source_ref": id, "target_ref": "malware--1"}),
        );
    }
    let bundle = serde_json::json!({"type": "bundle", "objects": objects});
    std::fs::write(path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    path.to_path_buf()
}
