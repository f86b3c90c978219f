//! Golden outputs for the real files other projects published
//! (`../shared/fixtures/real`, never copied here). None of those devices is
//! infected, so every one must scan with zero `detected` findings; the rest
//! of each outcome (modules, their status and record counts, findings,
//! verdict, exit code, the one-line error of an input that cannot be read)
//! is pinned whole in `tests/golden/real/<name>.json`, volatile fields
//! (times, durations, paths, indicator hashes) stripped.
//!
//! Regenerate after a deliberate change with
//! `SPYDAR_BLESS=1 cargo test --test integration real_golden:: -- --include-ignored`
//! and review the diff like code.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const REAL: &str = "../shared/fixtures/real";

/// One real input: its golden name, its path under `REAL`, extra arguments.
struct Case {
    name: &'static str,
    path: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "abe-test.unencrypted",
        path: "abe-adb-backup/test.unencrypted.backup",
        args: &[],
        env: &[],
    },
    Case {
        name: "abe-uncompressed",
        path: "abe-adb-backup/uncompressed.backup",
        args: &[],
        env: &[],
    },
    Case {
        name: "abe-test.encrypted",
        path: "abe-adb-backup/test.encrypted.backup",
        args: &["--password-env", "SPYDAR_GOLDEN_PW"],
        env: &[("SPYDAR_GOLDEN_PW", "12345")],
    },
    Case {
        name: "abe-invalid_header.uncompressed.unencrypted",
        path: "abe-adb-backup/invalid_header.uncompressed.unencrypted.backup",
        args: &[],
        env: &[],
    },
    Case {
        name: "abe-test.encrypted_invalidHeader",
        path: "abe-adb-backup/test.encrypted_invalidHeader.backup",
        args: &["--password-env", "SPYDAR_GOLDEN_PW"],
        env: &[("SPYDAR_GOLDEN_PW", "12345")],
    },
    Case {
        name: "abe-test.encrypted_invalidHeader2",
        path: "abe-adb-backup/test.encrypted_invalidHeader2.backup",
        args: &["--password-env", "SPYDAR_GOLDEN_PW"],
        env: &[("SPYDAR_GOLDEN_PW", "12345")],
    },
    Case {
        name: "chk-bugreport_aidldeadlock",
        path: "chk-bugreport-legacy/bugreport_aidldeadlock.txt",
        args: &[],
        env: &[],
    },
    Case {
        name: "chk-bugreport_deadlock",
        path: "chk-bugreport-legacy/bugreport_deadlock.txt",
        args: &[],
        env: &[],
    },
    Case {
        name: "chk-bugreport_hybriddeadlock",
        path: "chk-bugreport-legacy/bugreport_hybriddeadlock.txt",
        args: &[],
        env: &[],
    },
    Case {
        name: "ileapp-belkasoft_ctf6",
        path: "ileapp-ios-fs/belkasoft_ctf6",
        args: &[],
        env: &[],
    },
    Case {
        name: "ileapp-josh_ios15",
        path: "ileapp-ios-fs/josh_ios15",
        args: &[],
        env: &[],
    },
    Case {
        name: "ileapp-mvs_ios_2023",
        path: "ileapp-ios-fs/mvs_ios_2023",
        args: &[],
        env: &[],
    },
    Case {
        name: "plaso-ios-fs",
        path: "plaso-ios-fs/fs",
        args: &[],
        env: &[],
    },
    Case {
        name: "sysdiag-pieces-folder",
        path: "sysdiag-pieces/sysdiagnose_2099.01.01_00-00-00+0000_realpieces",
        args: &[],
        env: &[],
    },
    Case {
        name: "sysdiag-pieces-tar.gz",
        path: "sysdiag-pieces/sysdiagnose_2099.01.01_00-00-00+0000_realpieces.tar.gz",
        args: &[],
        env: &[],
    },
];

/// The parts of a report that do not change from run to run.
fn stable_report(report: &Value) -> Value {
    let modules: Vec<Value> = report["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "name": m["name"],
                "status": m["status"],
                "records": m["records"],
                "error": m["error"],
            })
        })
        .collect();
    let findings = |key: &str| -> Vec<Value> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                json!({
                    "level": f["level"],
                    "severity": f["severity"],
                    "kind": f["kind"],
                    "module": f["module"],
                    "timestamp": f["timestamp"],
                    "observable": f["observable"],
                    "indicator": f["indicator"].get("id"),
                    "malware": f["indicator"].get("malware"),
                    "rule": f["rule"],
                    "message": f["message"],
                })
            })
            .collect()
    };
    let device = &report["device"];
    json!({
        "device": {
            "platform": device["platform"],
            "input_kind": device["input_kind"],
            "identifier": device["identifier"],
            "name": device["name"],
            "model": device["model"],
            "os_version": device["os_version"],
            "build": device["build"],
        },
        "modules": modules,
        "findings": findings("findings"),
        "summary": {
            "detected": report["summary"]["detected"],
            "warning": report["summary"]["warning"],
            "info": report["summary"]["info"],
            "verdict": report["summary"]["verdict"],
        },
    })
}

fn run_case(case: &Case) -> Value {
    let input = Path::new(REAL).join(case.path);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("out");
    let mut cmd = Command::cargo_bin("spydar").unwrap();
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .env("SPYDAR_NO_MVT_INDICATORS", "1")
        .arg("scan")
        .arg(&input)
        .arg("-o")
        .arg(&out_dir)
        .arg("--quiet")
        .args(case.args);
    for (k, v) in case.env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    // Paths differ between machines; the message after them does not.
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(&input.display().to_string(), "INPUT")
        .replace(&out_dir.display().to_string(), "OUT");
    let report = walkdir::WalkDir::new(&out_dir)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.json")
        .map(|e| serde_json::from_slice::<Value>(&std::fs::read(e.path()).unwrap()).unwrap());
    json!({
        "input": case.path,
        "exit_code": code,
        "stderr": stderr.lines().collect::<Vec<_>>(),
        "report": report.as_ref().map(stable_report),
    })
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/real")
        .join(format!("{name}.json"))
}

#[test]
#[ignore = "needs ../shared"]
fn every_real_input_matches_its_golden_outcome_and_detects_nothing() {
    let bless = std::env::var_os("SPYDAR_BLESS").is_some();
    let mut failures = Vec::new();
    for case in CASES {
        let got = run_case(case);
        // The property that matters most, independent of the golden file.
        let detected = got["report"]["summary"]["detected"].as_u64().unwrap_or(0);
        assert_eq!(
            detected, 0,
            "{}: a clean real device got detections: {got:#}",
            case.name
        );
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        let path = golden_path(case.name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{}: differs from {} (SPYDAR_BLESS=1 to regenerate after review)\n--- want\n{want}\n--- got\n{text}",
                case.name,
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs ../shared"]
fn every_real_input_has_a_golden_case() {
    // A file added to ../shared/fixtures/real must not go unscanned.
    let mut missing = Vec::new();
    for folder in std::fs::read_dir(REAL).unwrap().filter_map(Result::ok) {
        let name = folder.file_name().to_string_lossy().into_owned();
        if !folder.path().is_dir() || name == "dtformats-unified-log" {
            // dtformats' tracev3 files are not a device input by themselves:
            // they are read inside a sysdiagnose (the unified-log module).
            continue;
        }
        if !CASES
            .iter()
            .any(|c| c.path.starts_with(&format!("{name}/")))
        {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "real inputs with no golden case: {missing:?}"
    );
}
