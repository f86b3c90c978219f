//! `spydar recheck` finds, in swept logs, indicators published after the
//! scan: a domain and a process that no bundled set names are planted in a
//! generated sysdiagnose and a generated androidqf; the scan (bundled
//! indicators) finds nothing from them; recheck with a new bundle detects
//! both, in the sweeping module, and not their near-misses.

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use spydar::fixtures::GenOptions;

const FRESH_DOMAIN: &str = "fresh-ioc.example-evil.net";
const FRESH_PROCESS: &str = "freshspyd";

/// Lines naming the fresh values, with near-misses of the other indicators
/// of the new bundle: `near-ioc.example-evil.net` only inside longer hosts,
/// `proseonlyd` only in prose.
fn planted_lines(time: impl Fn(u32) -> String) -> String {
    [
        format!("{} {FRESH_PROCESS}[4242] <Notice>: connected to {FRESH_DOMAIN}:443", time(30)),
        format!("{} kernel[0] <Notice>: resolved notnear-ioc.example-evil.net.other and xnear-ioc.example-evil.net", time(31)),
        format!("{} kernel[0] <Notice>: the proseonlyd daemon is mentioned in prose only", time(32)),
        format!("{} kernel[0] <Notice>: again {FRESH_DOMAIN}.", time(33)),
    ]
    .join("\n")
}

/// A STIX2 bundle with the fresh domain and process, and the two that only
/// have near-misses on the device.
fn new_bundle(dir: &Path) -> PathBuf {
    let patterns = [
        format!("[domain-name:value = '{FRESH_DOMAIN}']"),
        "[domain-name:value = 'near-ioc.example-evil.net']".to_string(),
        format!("[process:name = '{FRESH_PROCESS}']"),
        "[process:name = 'proseonlyd']".to_string(),
    ];
    common::stix_bundle(&dir.join("new.stix2"), "FreshSpy", &patterns)
}

fn recheck(out: &Path, iocs: &Path) -> Value {
    cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("recheck")
        .arg(out)
        .arg("--iocs")
        .arg(iocs)
        .arg("-q")
        .assert()
        .code(1);
    let report = walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.json")
        .unwrap();
    serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap()
}

fn mentions_fresh(f: &Value) -> bool {
    let v = f["observable"]["value"].as_str().unwrap_or("");
    v.contains("example-evil") || v.contains(FRESH_PROCESS) || v.contains("proseonlyd")
}

/// The detected findings of the new bundle, as (module, type, value).
fn fresh_findings(r: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected" && f["indicator"]["malware"] == "FreshSpy")
        .map(|f| {
            (
                f["module"].as_str().unwrap().to_string(),
                f["observable"]["type"].as_str().unwrap().to_string(),
                f["observable"]["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn check(input: &Path, module: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let before = common::tree(input);
    let (_, scanned) = common::scan(input, &out, extra);
    assert_eq!(before, common::tree(input), "the input is untouched");
    let found: Vec<&Value> = scanned["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| mentions_fresh(f))
        .collect();
    assert!(
        found.is_empty(),
        "no bundled indicator names them: {found:?}"
    );

    let r = recheck(&out, &new_bundle(dir.path()));
    assert_eq!(
        fresh_findings(&r),
        [
            (
                module.to_string(),
                "domain".to_string(),
                FRESH_DOMAIN.to_string()
            ),
            (
                module.to_string(),
                "process".to_string(),
                FRESH_PROCESS.to_string()
            ),
        ],
        "the fresh domain and process, in {module}; not near-ioc.example-evil.net inside longer hosts, not proseonlyd in prose"
    );
    r
}

fn finding<'a>(r: &'a Value, value: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["observable"]["value"] == value)
        .unwrap()
}

#[test]
fn recheck_finds_a_new_domain_and_process_in_a_sysdiagnose_log() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(spydar::fixtures::sysdiagnose::ROOT);
    spydar::fixtures::sysdiagnose::generate(&root, &GenOptions::default()).unwrap();
    let log = root.join("logs/FreshSpy/fresh.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    // No newline at the end: the last line still counts.
    let text = planted_lines(|m| format!("2024-01-02 02:{m:02}:00.000000 +0200"));
    std::fs::write(&log, text).unwrap();

    let r = check(&root, "text_sweep", &[]);
    let f = finding(&r, FRESH_DOMAIN);
    assert_eq!(f["artifact"], "logs/FreshSpy/fresh.log");
    assert_eq!(f["record"]["first"], "2024-01-02T00:30:00Z");
    assert_eq!(f["record"]["last"], "2024-01-02T00:33:00Z");
    assert_eq!(f["record"]["count"], 2);
}

#[test]
fn recheck_finds_a_new_domain_and_process_in_androidqf_logcat() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("androidqf");
    spydar::fixtures::android::generate_androidqf(&root, &GenOptions::default()).unwrap();
    let logcat = root.join("logcat.txt");
    let mut text = std::fs::read_to_string(&logcat).unwrap();
    text.push_str(&planted_lines(|m| format!("01-02 00:{m:02}:00.000")));
    text.push('\n');
    std::fs::write(&logcat, text).unwrap();

    let r = check(&root, "logcat", &["--kind", "androidqf"]);
    let f = finding(&r, FRESH_DOMAIN);
    assert_eq!(f["record"]["first"], "01-02T00:30:00");
    assert_eq!(
        f["record"]["time_zone"],
        "unknown, device-local; the log gives no year"
    );
}

#[test]
fn recheck_finds_a_new_path_in_a_large_manifest() {
    // Above 100,000 rows the manifest keeps only flagged rows as records;
    // the other rows' paths stay re-checkable in `listed` records.
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    spydar::fixtures::ios_backup::generate(
        &backup,
        &GenOptions {
            manifest_rows: Some(100_050),
            ..Default::default()
        },
    )
    .unwrap();
    let conn = rusqlite::Connection::open_with_flags(
        backup.join("Manifest.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let (domain, rel): (String, String) = conn
        .query_row(
            "SELECT domain, relativePath FROM Files WHERE relativePath LIKE '%/%' ORDER BY rowid DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let path = spydar::evidence::ios_backup::device_path(&domain, &rel)
        .unwrap_or_else(|| format!("/{rel}"));

    let out = dir.path().join("out");
    let (_, scanned) = common::scan(&backup, &out, &[]);
    assert!(
        !scanned["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["observable"]["value"] == path.as_str())
    );
    let iocs = dir.path().join("new.stix2");
    let bundle = serde_json::json!({"type": "bundle", "objects": [
        {"type": "malware", "id": "malware--1", "name": "FreshSpy"},
        {"type": "indicator", "id": "indicator--1", "pattern": format!("[file:path = '{path}']")},
        {"type": "indicator", "id": "indicator--2", "pattern": format!("[file:path = '{path}.near']")},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": "malware--1"},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "indicates", "source_ref": "indicator--2", "target_ref": "malware--1"}]});
    std::fs::write(&iocs, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let r = recheck(&out, &iocs);
    assert_eq!(
        fresh_findings(&r),
        [(
            "manifest".to_string(),
            "file_path".to_string(),
            path.clone()
        )]
    );
}
