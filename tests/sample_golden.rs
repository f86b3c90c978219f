//! Golden outputs for every committed sample in `testdata/`: the whole
//! `report.json` and `timeline.csv` of each scan, compared byte for byte
//! with `tests/golden/samples/<name>/`, plus the SHA-256 of every records
//! file. Volatile fields (scan times, durations, the tool version, the
//! input path) are replaced by fixed words before comparing; nothing else
//! is.
//!
//! These pin the outputs across refactors: a change that moves code
//! without meaning to change behaviour must leave them as they are.
//! Regenerate after a deliberate change with
//! `SPYDAR_BLESS=1 cargo test --test integration sample_golden::`
//! and review the diff like code.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One committed sample: golden name, path under testdata, extra arguments.
struct Sample {
    name: &'static str,
    path: &'static str,
    args: &'static [&'static str],
}

const SAMPLES: &[Sample] = &[
    Sample {
        name: "ios_backup",
        path: "ios_backup",
        args: &[],
    },
    Sample {
        name: "sysdiagnose",
        path: "sysdiagnose/sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62.tar.gz",
        args: &[],
    },
    Sample {
        name: "android_backup",
        path: "android/backup.ab",
        args: &[],
    },
    Sample {
        name: "android_backup_encrypted",
        path: "android/backup-encrypted.ab",
        args: &["--password-env", "SPYDAR_SAMPLE_PW"],
    },
    Sample {
        name: "bugreport",
        path: "android/bugreport.zip",
        args: &[],
    },
    Sample {
        name: "androidqf",
        path: "android/androidqf",
        args: &[],
    },
    Sample {
        name: "androidqf_clean",
        path: "android/androidqf-clean",
        args: &[],
    },
];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn golden_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/samples")
        .join(name)
}

/// Replaces the fields that change from run to run, wherever they are.
fn strip(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                match k.as_str() {
                    "duration_ms" => *x = Value::from(0),
                    "started" | "finished" | "rechecked" => *x = Value::from("TIME"),
                    "input_path" | "input" => *x = Value::from("INPUT"),
                    "version" if x.is_string() => *x = Value::from("VERSION"),
                    _ => strip(x),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// Copies `from` to `to` with every file's modification time set to one
/// fixed instant: a checkout gives files the time of the checkout, and a
/// folder acquisition's file times are evidence that reaches the records.
fn copy_fixed_times(from: &Path, to: &Path) {
    let fixed = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dest = if rel.as_os_str().is_empty() {
            to.to_path_buf()
        } else {
            to.join(rel)
        };
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(e.path(), &dest).unwrap();
            let f = std::fs::File::options().write(true).open(&dest).unwrap();
            f.set_modified(fixed).unwrap();
        }
    }
}

/// The golden files of one scan: name → contents. The sample is copied to
/// the same relative path in a scratch folder and scanned from there by
/// that relative path, so no machine's folder names reach the outputs.
fn outputs(sample: &Sample) -> Vec<(String, String)> {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("testdata").join(sample.path);
    copy_fixed_times(&testdata().join(sample.path), &input);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("out");
    let output = Command::cargo_bin("spydar")
        .unwrap()
        .current_dir(scratch.path())
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .env("SPYDAR_NO_MVT_INDICATORS", "1")
        .env("SPYDAR_SAMPLE_PW", "123456")
        .arg("scan")
        .arg(Path::new("testdata").join(sample.path))
        .arg("-o")
        .arg(&out_dir)
        .arg("--quiet")
        .args(sample.args)
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{}: exit {code}: {}",
        sample.name,
        String::from_utf8_lossy(&output.stderr)
    );
    let device = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("report.json").is_file())
        .unwrap_or_else(|| panic!("{}: no device folder", sample.name));
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(device.join("report.json")).unwrap()).unwrap();
    strip(&mut report);
    let timeline = std::fs::read_to_string(device.join("timeline.csv")).unwrap();
    let mut records: Vec<(String, Vec<u8>)> = std::fs::read_dir(device.join("records"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                records_bytes(&e.path()),
            )
        })
        .collect();
    records.sort();
    let records: String = records
        .iter()
        .map(|(name, bytes)| {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count();
            format!("{}  {lines:>6}  {name}\n", hex(&Sha256::digest(bytes)))
        })
        .collect();
    vec![
        (
            "report.json".into(),
            serde_json::to_string_pretty(&report).unwrap() + "\n",
        ),
        ("timeline.csv".into(), timeline),
        ("records.sha256".into(), records),
        ("exit_code".into(), format!("{code}\n")),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_committed_sample_matches_its_golden_outputs() {
    let bless = std::env::var_os("SPYDAR_BLESS").is_some();
    let mut failures = Vec::new();
    for sample in SAMPLES {
        let dir = golden_dir(sample.name);
        for (file, got) in outputs(sample) {
            let path = dir.join(&file);
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != got {
                let first = want
                    .lines()
                    .zip(got.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(want.lines().count().min(got.lines().count()));
                failures.push(format!(
                    "{}/{file}: differs from {} from line {} (SPYDAR_BLESS=1 to regenerate after review)\n  want: {}\n  got:  {}",
                    sample.name,
                    path.display(),
                    first + 1,
                    want.lines().nth(first).unwrap_or("<end>"),
                    got.lines().nth(first).unwrap_or("<end>"),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_committed_sample_has_a_golden_case() {
    // A sample added to testdata must not go unpinned.
    let mut found = Vec::new();
    for kind in ["android", "sysdiagnose"] {
        for e in std::fs::read_dir(testdata().join(kind)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name != "README.md" {
                found.push(format!("{kind}/{name}"));
            }
        }
    }
    found.push("ios_backup".into());
    let missing: Vec<_> = found
        .iter()
        .filter(|p| !SAMPLES.iter().any(|s| s.path == p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "samples with no golden case: {missing:?}"
    );
}

/// A records file's JSON lines (decompressed, for `.jsonl.zst`): the
/// golden hash is of the records, not of one zstd version's bytes.
fn records_bytes(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "zst") {
        zstd::decode_all(&bytes[..]).unwrap()
    } else {
        bytes
    }
}
