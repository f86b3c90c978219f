//! `spydar scan` on generated sysdiagnose archives, end to end: the real
//! matcher and the bundled indicators, checked through `report.json`.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::sysdiagnose::{self as gen_sd, ROOT, planted};

fn generate(dir: &Path, name: &str, plant: bool) -> PathBuf {
    let p = dir.join(name);
    gen_sd::generate(
        &p,
        &GenOptions {
            plant,
            ..Default::default()
        },
    )
    .unwrap();
    p
}

/// Runs `spydar scan INPUT -o OUT --quiet`, checks the exit code, returns report.json.
fn scan(input: &Path, out: &Path, code: i32) -> Value {
    cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("scan")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--quiet")
        .assert()
        .code(code);
    let report = out.join("00008110-000A1B2C3D4E5F6A").join("report.json");
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn detected(report: &Value, module: &str, kind: &str, value: &str) -> bool {
    findings(report).iter().any(|f| {
        f["level"] == "detected"
            && f["module"] == module
            && f["observable"]["type"] == kind
            && f["observable"]["value"] == value
    })
}

const DECOYS: [&str; 9] = [
    "cfprefsd",
    "passd",
    "mptbd-helper",
    planted::DECOY_PROFILE_UUID,
    "notbackuprabbit.com",
    "backuprabbit.community",
    "www.mainredirecter.community",
    "/private/var/tmp/hookerz",
    "/private/var/tmp/hooker.d/cache",
];

#[test]
fn planted_archive_is_detected_and_decoys_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(dir.path(), "s.tar.gz", true);
    let r = scan(&input, &dir.path().join("out"), 1);
    assert_eq!(r["device"]["input_kind"], "sysdiagnose");
    assert_eq!(r["device"]["model"], "iPhone14,5");
    assert_eq!(r["summary"]["verdict"], "detected");

    assert!(detected(
        &r,
        "shutdown_log",
        "process",
        planted::SHUTDOWN_PROCESS
    ));
    assert!(detected(
        &r,
        "shutdown_log",
        "file_path",
        planted::SHUTDOWN_FILE_PATH
    ));
    assert!(detected(&r, "ps", "process", planted::PS_PROCESS));
    assert!(detected(
        &r,
        "crash_reports",
        "process",
        planted::CRASH_PROCESS
    ));
    assert!(detected(
        &r,
        "profiles",
        "profile_id",
        planted::PROFILE_UUID
    ));
    assert!(detected(&r, "swcutil", "domain", planted::SWCUTIL_DOMAIN));
    assert!(detected(
        &r,
        "unified_log_images",
        "process",
        planted::SHUTDOWN_PROCESS
    ));
    assert!(detected(
        &r,
        "uuid_to_binary",
        "file_path",
        "/private/var/tmp/takePhoto"
    ));
    // The domain in a log line: a `high` finding naming member and line.
    let text = findings(&r)
        .iter()
        .find(|f| f["module"] == "text_sweep")
        .expect("a text-sweep finding");
    assert_eq!(text["level"], "detected");
    assert_eq!(text["severity"], "high");
    assert_eq!(text["observable"]["value"], planted::LOG_DOMAIN);
    assert_eq!(text["record"]["member"], "logs/Networking/networkd.log");
    assert_eq!(text["record"]["line"], 25);
    // Typed matches are critical.
    let ps = findings(&r).iter().find(|f| f["module"] == "ps").unwrap();
    assert_eq!(ps["severity"], "critical");

    // Heuristics are warnings, never detections.
    let rules: Vec<&str> = findings(&r)
        .iter()
        .filter(|f| f["kind"] == "heuristic")
        .map(|f| {
            assert_eq!(f["level"], "warning");
            f["rule"].as_str().unwrap()
        })
        .collect();
    for rule in [
        "shutdown_log.sticky_process",
        "shutdown_log.unusual_path",
        "shutdown_log.daemon_outside_system",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }

    for f in findings(&r) {
        let v = f["observable"]["value"].as_str().unwrap_or_default();
        assert!(!DECOYS.contains(&v), "decoy {v} matched: {f}");
    }
}

#[test]
fn clean_archive_has_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(dir.path(), "clean.tar.gz", false);
    let r = scan(&input, &dir.path().join("out"), 0);
    assert!(findings(&r).is_empty(), "{:#}", r["findings"]);
    assert_eq!(r["summary"]["verdict"], "no-findings");
}

#[test]
fn folder_and_archive_reports_agree() {
    let dir = tempfile::tempdir().unwrap();
    let gz = generate(dir.path(), "s.tar.gz", true);
    let folder = generate(dir.path(), ROOT, true);
    let a = scan(&gz, &dir.path().join("a"), 1);
    let b = scan(&folder, &dir.path().join("b"), 1);
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(a["summary"], b["summary"]);
}

#[test]
fn truncated_archive_reports_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let gz = generate(dir.path(), "s.tar.gz", true);
    let bytes = std::fs::read(&gz).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let r = scan(&cut, &dir.path().join("out"), 1);
    let notes = r["notes"].to_string();
    assert!(notes.contains("truncated"), "{notes}");
    assert!(detected(
        &r,
        "shutdown_log",
        "process",
        planted::SHUTDOWN_PROCESS
    ));
}

#[test]
fn non_sysdiagnose_tar_gz_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "photos/a.txt", &b"hello\n"[..])
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    let p = dir.path().join("photos.tar.gz");
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    let out = cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("scan")
        .arg(&p)
        .arg("-o")
        .arg(dir.path().join("out"))
        .arg("--quiet")
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(
        err.contains("photos.tar.gz") && err.contains("not a sysdiagnose"),
        "{err}"
    );
}
