//! End to end: `spydar scan` on a generated iOS filesystem dump gives the
//! same detections as the backup it was laid out from; decoys stay silent;
//! the dump is byte-identical after the scan; a corrupt database fails only
//! its modules.

use crate::common;

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
    // MVT's check-fs-only modules (the FILESYSTEM table) read files no
    // backup holds, planted by `fixtures::ios_fs_modules` (tested in
    // ios_fs_modules.rs): left out of the comparison.
    let fs_only: BTreeSet<&str> = spydar::artifacts::ios::FILESYSTEM
        .iter()
        .map(|m| m.name)
        .collect();
    let fs_found: BTreeSet<(String, String)> = detected(&fs_report)
        .into_iter()
        .filter(|(m, _)| !fs_only.contains(m.as_str()))
        .collect();
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

mod variants {
    //! Each schema variant MVT reads, as a generated database in a minimal
    //! dump: every variant gives the same records.

    use spydar::artifacts::{ScanOptions, ios};
    use spydar::fixtures::ios_backup::variants::{self, BrowserState, DataUsage, Tcc};
    use spydar::fixtures::sysdiagnose::{ios26_shutdown_log, planted};
    use spydar::model::{DeviceScan, ObservableType, Record};

    fn scan(files: &[(&str, Vec<u8>)]) -> DeviceScan {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dump");
        variants::write_fs(&root, files).unwrap();
        let before = super::tree(&root);
        let s = ios::scan_filesystem(&root, &ScanOptions::default()).unwrap();
        assert_eq!(before, super::tree(&root), "dump untouched");
        s
    }

    fn module<'a>(s: &'a DeviceScan, name: &str) -> &'a [Record] {
        let m = s.modules.iter().find(|m| m.name == name).unwrap();
        assert_eq!(m.error, None, "{name}");
        &m.records
    }

    fn has(r: &Record, kind: ObservableType, v: &str) -> bool {
        r.observables.iter().any(|o| o.kind == kind && o.value == v)
    }

    #[test]
    fn datausage_with_and_without_wifi_columns() {
        for v in [DataUsage::WithWifi, DataUsage::WithoutWifi] {
            let s = scan(&[(
                "private/var/wireless/Library/Databases/DataUsage.sqlite",
                variants::datausage(v),
            )]);
            let recs = module(&s, "datausage");
            assert_eq!(recs.len(), 3, "{v:?}");
            for (name, _) in variants::DATAUSAGE_PROCS {
                assert!(
                    recs.iter().any(|r| has(r, ObservableType::Process, name)),
                    "{v:?} {name}"
                );
            }
            let wifi = &recs[0].fields.get("wifi_in").unwrap();
            match v {
                DataUsage::WithWifi => assert_eq!(wifi.as_f64(), Some(2048.0)),
                DataUsage::WithoutWifi => assert!(wifi.is_null()),
            }
            assert_eq!(
                recs[0].fields.get("wwan_in").unwrap().as_f64(),
                Some(1024.0)
            );
        }
    }

    #[test]
    fn tcc_v1_v2_v3_and_ios17() {
        for v in [Tcc::V1, Tcc::V2, Tcc::V3, Tcc::V3Ios17] {
            let s = scan(&[("private/var/mobile/Library/TCC/TCC.db", variants::tcc(v))]);
            let recs = module(&s, "tcc");
            assert_eq!(recs.len(), 2, "{v:?}");
            assert!(has(
                &recs[0],
                ObservableType::AppId,
                "net.whatsapp.WhatsApp"
            ));
            assert!(has(
                &recs[1],
                ObservableType::FilePath,
                variants::TCC_CLIENTS[1].0
            ));
            assert_eq!(
                recs[0].fields.get("auth_value").unwrap(),
                "allowed",
                "{v:?}"
            );
            let prompts = recs[0].fields.get("prompt_count").unwrap();
            match v {
                Tcc::V1 => {
                    assert!(recs[0].timestamp.is_none());
                    assert_eq!(prompts, 1);
                }
                Tcc::V2 => {
                    assert!(recs[0].timestamp.is_some());
                    assert_eq!(prompts, 2);
                }
                Tcc::V3 | Tcc::V3Ios17 => {
                    assert!(recs[0].timestamp.is_some());
                    assert_eq!(recs[0].fields.get("auth_reason").unwrap(), "user_consent");
                    assert!(prompts.is_null());
                }
            }
        }
    }

    #[test]
    fn browser_state_tab_sessions_and_legacy_session_data() {
        for v in [BrowserState::TabSessions, BrowserState::TabsSessionData] {
            let s = scan(&[(
                "private/var/mobile/Library/Safari/BrowserState.db",
                variants::browser_state(v),
            )]);
            let recs = module(&s, "safari_browser_state");
            assert_eq!(recs.len(), 2, "{v:?}");
            for (r, (url, back)) in recs.iter().zip(variants::TABS) {
                assert!(has(r, ObservableType::Url, url), "{v:?}");
                assert!(has(r, ObservableType::Url, back), "{v:?} back history");
                assert!(r.timestamp.is_some());
            }
        }
    }

    /// iOS 26 dumps: `/private/var/db/diagnostics/shutdown.0.log` (and
    /// further rotations), no `shutdown.log`; client paths end in `/<UUID>`.
    #[test]
    fn ios26_shutdown_logs_in_a_dump() {
        let s = scan(&[
            (
                "private/var/db/diagnostics/shutdown.0.log",
                ios26_shutdown_log(false).into_bytes(),
            ),
            (
                "private/var/db/diagnostics/shutdown.1.log",
                ios26_shutdown_log(true).into_bytes(),
            ),
            (
                "private/var/db/diagnostics/shutdown.log.old",
                b"After 0.01s, these clients are still here:\n".to_vec(),
            ),
        ]);
        let recs = module(&s, "shutdown_log");
        let files: std::collections::BTreeSet<&str> =
            recs.iter().map(|r| r.artifact.as_str()).collect();
        assert_eq!(
            files.into_iter().collect::<Vec<_>>(),
            [
                "DatabaseDomain/diagnostics/shutdown.0.log",
                "DatabaseDomain/diagnostics/shutdown.1.log"
            ]
        );
        let hit: Vec<&Record> = recs
            .iter()
            .filter(|r| has(r, ObservableType::FilePath, planted::IOS26_PATH))
            .collect();
        assert_eq!(hit.len(), 1);
        assert!(
            hit[0]
                .fields
                .get("path")
                .unwrap()
                .as_str()
                .unwrap()
                .ends_with("/0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9")
        );
        assert!(
            hit[0]
                .alerts
                .iter()
                .any(|a| a.rule == "shutdown_log.sticky_process")
        );
    }

    /// A backup or dump without the log: the module is missing, not empty.
    #[test]
    fn no_shutdown_log_is_missing() {
        let s = scan(&[]);
        let m = s.modules.iter().find(|m| m.name == "shutdown_log").unwrap();
        assert_eq!(m.status, spydar::model::ModuleStatus::Missing);
    }
}
