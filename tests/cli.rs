//! The command line as scripts and CI jobs use it: exit codes, one-line
//! errors, and the report files.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use spydar::model::{DeviceInfo, ModuleOutput, ModuleStatus, ObservableType, Platform, Record};
use spydar::report::{self, IndicatorsInfo, Report, ScanTimes};

/// The binary, blind to any indicators `spydar indicators update` left on this machine.
fn spydar() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("spydar");
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    cmd
}

#[test]
fn indicators_check_names_pegasus() {
    spydar()
        .args(["indicators", "check", "roleaccountd"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("Pegasus")
                .and(predicate::str::contains("process:name='roleaccountd'")),
        );
    spydar()
        .args(["indicators", "check", "https://news.24-7clinic.com/x"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("Pegasus").and(predicate::str::contains("24-7clinic.com")),
        );
    spydar()
        .args(["indicators", "check", "news.example.com"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no indicator matches"));
}

#[test]
fn indicators_stats_agree_with_inventory_totals() {
    spydar()
        .args(["indicators", "stats"])
        .assert()
        .success()
        .stdout(
            // 16 spyware bundles (5,713) and Echap's stalkerware set (5,598).
            predicate::str::contains("total: 11311 indicators in 17 sources")
                .and(predicate::str::is_match(r"domain-name:value\s+6868").unwrap())
                .and(predicate::str::is_match(r"file:hashes.sha256\s+3001").unwrap())
                .and(predicate::str::is_match(r"app:cert.sha1\s+485").unwrap())
                .and(predicate::str::is_match(r"process:name\s+83").unwrap()),
        );
}

#[test]
fn unsupported_input_is_exit_2_with_the_known_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "hello").unwrap();
    spydar().arg("scan").arg(&f).assert().code(2).stderr(
        predicate::str::contains("notes.txt").and(predicate::str::contains("sysdiagnose archives")),
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    spydar()
        .arg("scan")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty folder"));
}

#[test]
fn bad_indicator_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.stix2");
    std::fs::write(&bad, "{not json").unwrap();
    spydar()
        .args(["indicators", "stats", "--iocs"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.stix2: not a STIX2 JSON bundle",
        ));
    let empty = dir.path().join("none");
    std::fs::create_dir(&empty).unwrap();
    spydar()
        .args(["indicators", "list", "--iocs"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no *.stix2 or *.json file"));
    let odd = dir.path().join("odd.stix2");
    std::fs::write(
        &odd,
        r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[a:b = 'x'] FOLLOWEDBY [a:b = 'y']"}]}"#,
    )
    .unwrap();
    spydar()
        .args(["indicators", "stats", "--no-bundled-iocs", "--iocs"])
        .arg(&odd)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("skipped 1 pattern")
                .and(predicate::str::contains("no indicators loaded")),
        );
}

#[test]
fn output_inside_the_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("backup");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("Manifest.db"), b"").unwrap();
    std::fs::write(input.join("Info.plist"), b"").unwrap();
    spydar()
        .arg("scan")
        .arg(&input)
        .arg("-o")
        .arg(input.join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("inside the input"));
    assert!(!input.join("out").exists());
}

/// Writes a device folder the way `spydar scan -o` does, with one record
/// that only a custom indicator names.
fn saved_device(out: &Path) {
    let record = Record::new("safari_history", "HomeDomain/Library/Safari/History.db")
        .at(spydar::time::from_unix(1_700_000_000))
        .event("visit", "visit to https://updates.tracker-zz.example/x")
        .field("url", "https://updates.tracker-zz.example/x")
        .observe(ObservableType::Url, "https://updates.tracker-zz.example/x");
    let decoy = Record::new("safari_history", "HomeDomain/Library/Safari/History.db")
        .at(spydar::time::from_unix(1_700_000_100))
        .event("visit", "visit to https://nottracker-zz.example/")
        .observe(ObservableType::Url, "https://nottracker-zz.example/");
    let modules = vec![ModuleOutput {
        name: "safari_history".into(),
        artifact: "HomeDomain/Library/Safari/History.db".into(),
        status: ModuleStatus::Ok,
        error: None,
        duration_ms: 1,
        records: vec![record, decoy],
        streamed: 0,
    }];
    let device = DeviceInfo {
        platform: Some(Platform::Ios),
        input_kind: "ios-backup".into(),
        input_path: "/evidence/phone".into(),
        identifier: Some("00008030-TEST".into()),
        ..Default::default()
    };
    let now = jiff::Timestamp::now();
    let r = Report::new(
        device,
        &modules,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        IndicatorsInfo {
            total: 0,
            sources: Vec::new(),
        },
        ScanTimes {
            started: now,
            finished: now,
            duration_ms: 0,
        },
    );
    report::write_device(&out.join("00008030-TEST"), &r, &modules, Vec::new()).unwrap();
}

#[test]
fn recheck_matches_saved_records_against_new_indicators() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    saved_device(&out);
    let stix = dir.path().join("new.stix2");
    std::fs::write(
        &stix,
        r#"{"type":"bundle","objects":[
          {"type":"malware","id":"malware--1","name":"TestSpy"},
          {"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'tracker-zz.example']"},
          {"type":"relationship","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--1"}]}"#,
    )
    .unwrap();

    // With the bundled sets only: nothing, and the report says what that means.
    spydar().arg("recheck").arg(&out).arg("-q").assert().code(0);
    let clean: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("00008030-TEST/report.json")).unwrap())
            .unwrap();
    assert_eq!(clean["summary"]["verdict"], "no-findings");
    assert!(
        clean["summary"]["note"]
            .as_str()
            .unwrap()
            .contains("not proof")
    );

    spydar()
        .arg("recheck")
        .arg(&out)
        .arg("--iocs")
        .arg(&stix)
        .arg("-q")
        .assert()
        .code(1);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("00008030-TEST/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["schema"], "spydar.report/1");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        findings.len(),
        1,
        "the decoy nottracker-zz.example must not match: {findings:?}"
    );
    let f = &findings[0];
    assert_eq!(f["level"], "detected");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["kind"], "indicator");
    assert_eq!(f["module"], "safari_history");
    assert_eq!(f["indicator"]["malware"], "TestSpy");
    assert_eq!(f["indicator"]["type"], "domain");
    assert_eq!(f["observable"]["type"], "url");
    assert_eq!(f["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(report["summary"]["detected"], 1);
    assert_eq!(report["summary"]["verdict"], "detected");

    let timeline = std::fs::read_to_string(out.join("00008030-TEST/timeline.csv")).unwrap();
    let lines: Vec<&str> = timeline.lines().collect();
    assert_eq!(lines[0], "time,module,event,description");
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("2023-11-14T22:13:20Z,safari_history,visit,"));
    let html = std::fs::read_to_string(out.join("00008030-TEST/report.html")).unwrap();
    assert!(html.contains("TestSpy"));
    assert!(html.contains("Traces of known spyware were found") && !html.contains("<script"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema"], "spydar.summary/1");
    assert_eq!(summary["devices"][0]["detected"], 1);
}

#[test]
fn fail_on_never_and_unknown_flags() {
    spydar()
        .args(["scan", "--fail-on", "sometimes", "x"])
        .assert()
        .code(2);
    spydar().args(["scan"]).assert().code(2);
}

#[test]
fn allow_file_moves_reviewed_findings_to_suppressed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    saved_device(&out);
    let stix = dir.path().join("new.stix2");
    std::fs::write(
        &stix,
        r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'tracker-zz.example']"}]}"#,
    )
    .unwrap();
    let allow = dir.path().join("allow.txt");
    std::fs::write(
        &allow,
        "# reviewed\ndomain:tracker-zz.example  # our own test server\n",
    )
    .unwrap();
    spydar()
        .arg("recheck")
        .arg(&out)
        .arg("--iocs")
        .arg(&stix)
        .arg("--allow")
        .arg(&allow)
        .arg("-q")
        .assert()
        .code(0);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("00008030-TEST/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    let suppressed = report["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["level"], "detected");
    assert!(
        suppressed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("our own test server")
    );
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "colour:blue\n").unwrap();
    spydar()
        .arg("recheck")
        .arg(&out)
        .arg("--allow")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.txt").and(predicate::str::contains("unknown type")));
}
