//! End to end: `spydar scan` on a generated iOS filesystem dump gives the
//! same detections as the backup it was laid out from; decoys stay silent;
//! the dump is byte-identical after the scan; a corrupt database fails only
//! its modules.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use std::path::Path;

use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::DECOYS;

/// `(module, indicator value)` of every detected finding.
fn detected(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected")
        .map(|f| {
            (
                f["module"].as_str().unwrap_or("").to_string(),
                f["indicator"]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase(),
            )
        })
        .collect()
}

/// Every entry of the tree: files with their bytes, folders and symlinks.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let bytes = e
                .file_type()
                .is_file()
                .then(|| std::fs::read(e.path()).unwrap());
            (
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                bytes,
            )
        })
        .collect()
}

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn dump_detects_what_its_backup_twin_detects() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let backup = dir.path().join("backup");
    spydar::fixtures::ios_fs::generate(&dump, &GenOptions::default()).unwrap();
    spydar::fixtures::ios_backup::generate(&backup, &GenOptions::default()).unwrap();
    let before = tree(&dump);

    let (code, fs_report) = common::scan(&dump, &dir.path().join("out-fs"), &[]);
    assert_eq!(code, 1, "findings give exit code 1");
    let (_, bk_report) = common::scan(&backup, &dir.path().join("out-bk"), &[]);
    assert_eq!(fs_report["device"]["input_kind"], "ios-filesystem");
    assert_eq!(fs_report["device"]["os_version"], "14.7.1");

    // `backup_info` and `applications` read the backup's Info.plist, which
    // a dump does not have: they are `missing` on the dump. Neither carries
    // a planted indicator in the generated backup, so the detections match
    // exactly; every other module runs fine on both.
    let fs_found = detected(&fs_report);
    let bk_found = detected(&bk_report);
    assert!(!bk_found.is_empty());
    assert_eq!(fs_found, bk_found);
    let fs_status = statuses(&fs_report);
    for (name, status) in statuses(&bk_report) {
        let expected = if name == "backup_info" || name == "applications" {
            "missing"
        } else {
            status.as_str()
        };
        assert_eq!(fs_status[&name], expected, "{name}");
    }
    // The manifest module lists the walked files, with device paths.
    let manifest = fs_report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "manifest")
        .unwrap();
    assert!(
        manifest["records"].as_u64().unwrap_or(0) > 100,
        "{manifest}"
    );
    let manifest_finding = fs_report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["module"] == "manifest" && f["level"] == "detected")
        .unwrap();
    assert_eq!(
        manifest_finding["artifact"],
        spydar::artifacts::ios::manifest::FS_ARTIFACT
    );
    assert_eq!(manifest_finding["record"]["domain"], "HomeDomain");

    // Decoys stay silent.
    for f in fs_report["findings"].as_array().unwrap() {
        if f["level"] != "detected" {
            continue;
        }
        let obs = f["observable"]["value"].as_str().unwrap_or("");
        for (_, decoy) in DECOYS {
            assert!(
                obs != *decoy && !(decoy.len() > 12 && obs.contains(decoy)),
                "decoy {decoy} reported: {f}"
            );
        }
    }
    // Read-only: the same tree, byte for byte, no SQLite side files.
    assert!(tree(&dump) == before, "the scan changed the dump");
}

#[test]
fn clean_dump_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let opts = GenOptions {
        plant: false,
        ..Default::default()
    };
    spydar::fixtures::ios_fs::generate(&dump, &opts).unwrap();
    let (code, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    assert!(detected(&report).is_empty(), "{:#?}", detected(&report));
    assert_eq!(code, 0);
}

#[test]
fn corrupt_database_is_one_module_error() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    spydar::fixtures::ios_fs::generate(&dump, &GenOptions::default()).unwrap();
    std::fs::write(
        dump.join("private/var/mobile/Library/SMS/sms.db"),
        vec![0x42u8; 8192],
    )
    .unwrap();
    let (code, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    assert_eq!(code, 1, "other modules still detect");
    for m in report["modules"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        if name == "sms" || name == "sms_attachments" {
            assert_eq!(m["status"], "error", "{m}");
            assert!(m["error"].as_str().unwrap().contains("sms.db"), "{m}");
        } else if name != "backup_info" && name != "applications" {
            assert_eq!(m["status"], "ok", "{m}");
        }
    }
    assert!(detected(&report).iter().any(|(m, _)| m == "safari_history"));
}
