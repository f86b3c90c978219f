//! MVT's check-fs-only modules on filesystem dumps (`netusage`,
//! `cache_files`, `safari_favicon`, `analytics`, `analytics_ios_versions`,
//! `ios_version_history`, `webkit_indexeddb`, `webkit_local_storage`,
//! `webkit_safari_view_service`, and `shutdown_log`): planted indicators
//! found in the right module, decoys silent, record counts equal to MVT's
//! on the generated dump and on the shared real inputs.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_fs_modules::{DECOYS, PLANTED_COUNTS, PLANTS};

/// The modules of this file.
const MODULES: [&str; 11] = [
    "netusage",
    "cache_files",
    "safari_favicon",
    "analytics",
    "analytics_ios_versions",
    "ios_version_history",
    "webkit_indexeddb",
    "webkit_local_storage",
    "webkit_safari_view_service",
    "shutdown_log",
    "analytics_logs",
];

/// `module → records` of the modules of this file that read something.
fn counts(report: &Value) -> BTreeMap<String, u64> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| MODULES.contains(&m["name"].as_str().unwrap()) && m["status"] == "ok")
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["records"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn detected(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected")
        .collect()
}

fn generated(plant: bool) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let opts = GenOptions {
        plant,
        ..Default::default()
    };
    spydar::fixtures::ios_fs::generate(&dump, &opts).unwrap();
    let before = common::tree(&dump);
    let (_, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    assert_eq!(before, common::tree(&dump), "the scan changed the dump");
    (dir, report)
}

#[test]
fn planted_indicators_are_detected_in_their_module_and_decoys_stay_silent() {
    let (_dir, report) = generated(true);
    let found = detected(&report);
    for (module, value) in PLANTS {
        assert!(
            found.iter().any(|f| f["module"] == *module
                && f["indicator"]["value"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))),
            "{value} not detected in {module}"
        );
    }
    for f in &found {
        let module = f["module"].as_str().unwrap();
        let obs = f["observable"]["value"].as_str().unwrap_or("");
        for (m, decoy) in DECOYS {
            assert!(
                !(module == *m && (obs == *decoy || obs.contains(decoy))),
                "decoy {decoy} reported: {f}"
            );
        }
        // Process names only from process positions: netusage's bundle
        // column and analytics' free text never give a process finding.
        if MODULES.contains(&module) && f["observable"]["type"] == "process" {
            assert!(
                ["netusage", "analytics", "analytics_logs", "shutdown_log"].contains(&module),
                "{f}"
            );
        }
    }
    // Every finding of these modules is a planted one.
    for f in found
        .iter()
        .filter(|f| MODULES.contains(&f["module"].as_str().unwrap()))
    {
        let value = f["indicator"]["value"].as_str().unwrap_or("");
        assert!(
            PLANTS
                .iter()
                .any(|(m, v)| f["module"] == *m && v.eq_ignore_ascii_case(value)),
            "unplanted finding {f}"
        );
    }
    let want: BTreeMap<String, u64> = PLANTED_COUNTS
        .iter()
        .map(|(m, n)| (m.to_string(), *n as u64))
        .chain([("shutdown_log".to_string(), 3)])
        .collect();
    assert_eq!(counts(&report), want);
}

#[test]
fn clean_dump_reads_the_modules_and_detects_nothing() {
    let (_dir, report) = generated(false);
    assert!(detected(&report).is_empty(), "{}", report["findings"]);
    let got = counts(&report);
    for m in MODULES {
        assert!(got.contains_key(m), "{m} did not read the clean dump");
    }
}

/// MVT 2026.10.26, `mvt-ios check-fs --iocs
/// ../shared/indicators/amnesty-investigations/2021-07-18_nso/pegasus.stix2
/// -o OUT DUMP` on `spydar-fixtures ios-filesystem DUMP` (the generated
/// dump, planted): records in each `OUT/<module>.json` (`cache_files.json`
/// counts the rows under every `Cache.db`). spydar's differences, by
/// design: `webkit_indexeddb` also reads the `IndexedDB/v1/` origins of
/// current WebKit (MVT reads the folder's direct children only: 1 of 4);
/// `shutdown_log` adds one summary record per log file (MVT: 2 client
/// records, spydar 2 + 1).
const MVT_GENERATED: &[(&str, u64)] = &[
    ("analytics", 4),
    ("analytics_ios_versions", 2),
    ("cache_files", 4),
    ("ios_version_history", 2),
    ("netusage", 6),
    ("safari_favicon", 4),
    ("shutdown_log", 2),
    ("webkit_indexeddb", 1),
    ("webkit_local_storage", 5),
    ("webkit_safari_view_service", 2),
];

#[test]
fn generated_dump_counts_equal_mvt_s() {
    let (_dir, report) = generated(true);
    let got = counts(&report);
    // analytics_logs is spydar's own: no MVT count.
    for (module, mvt) in MVT_GENERATED {
        let ours = got[*module];
        let expected = match *module {
            "webkit_indexeddb" => mvt + 3,
            "shutdown_log" => mvt + 1,
            _ => *mvt,
        };
        assert_eq!(ours, expected, "{module}: spydar {ours}, MVT {mvt}");
    }
}

/// MVT 2026.10.26, `mvt-ios check-fs -o OUT ../shared/fixtures/real/plaso-ios-fs/fs`
/// (no indicators): `netusage.json` holds 357 records (335 process rows
/// and 22 `MISSING` placeholders of its deleted-process heuristic, which
/// MVT raises as 22 LOW alerts; spydar's `datausage.missing_process`
/// warnings are the same 22). The other check-fs-only modules find no file
/// in this dump, nor in the three ileapp-ios-fs dumps (MVT writes no json
/// for them; spydar lists them missing).
const MVT_PLASO_NETUSAGE: u64 = 357;
const MVT_PLASO_MISSING_PROCESS: usize = 22;

#[test]
#[ignore = "needs ../shared"]
fn real_dumps_counts_equal_mvt_s() {
    let real = Path::new("../shared/fixtures/real");
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = common::scan(&real.join("plaso-ios-fs/fs"), &dir.path().join("p"), &[]);
    assert_eq!(report["summary"]["detected"], 0, "{}", report["findings"]);
    let got = counts(&report);
    assert_eq!(
        got,
        BTreeMap::from([("netusage".to_string(), MVT_PLASO_NETUSAGE)])
    );
    let missing = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["module"] == "netusage" && f["rule"] == "datausage.missing_process")
        .count();
    assert_eq!(missing, MVT_PLASO_MISSING_PROCESS);
    for image in ["josh_ios15", "mvs_ios_2023", "belkasoft_ctf6"] {
        let out = dir.path().join(image);
        let (_, report) = common::scan(&real.join("ileapp-ios-fs").join(image), &out, &[]);
        assert_eq!(report["summary"]["detected"], 0, "{image}");
        assert!(counts(&report).is_empty(), "{image}: {:?}", counts(&report));
    }
}

/// A Pegasus `bh` client in a dump's `shutdown.log`, in each form the log
/// writes it: found by `shutdown_log` as a process (and its staging path
/// raises the unusual-path warning); `xbh` stays silent.
#[test]
fn shutdown_log_bh_client_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    spydar::fixtures::ios_fs::generate(
        &dump,
        &GenOptions {
            plant: false,
            ..Default::default()
        },
    )
    .unwrap();
    std::fs::write(
        dump.join("private/var/db/diagnostics/shutdown.log"),
        "After 0.01s, these clients are still here:\n\
         \t\tremaining client pid: 311 (/usr/libexec/xbh)\n\
         \t\tremaining client pid: 4242 (/private/var/db/com.apple.xpc.roleaccountd.staging/bh/0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9)\n\
         SIGTERM: [1700000000] All buffers flushed\n\
         After 0.01s, these clients are still here:\n\
         \t\tremaining client pid: 4243 (bh)\n\
         SIGTERM: [1700090000] All buffers flushed\n",
    )
    .unwrap();
    let (code, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    assert_eq!(code, 1);
    let found = detected(&report);
    assert!(!found.is_empty());
    for f in &found {
        assert_eq!(f["module"], "shutdown_log", "{f}");
        assert_eq!(f["indicator"]["value"], "bh", "{f}");
    }
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| { f["module"] == "shutdown_log" && f["rule"] == "shutdown_log.unusual_path" })
    );
}

/// MVT's check-fs reads some of its mixed (backup and dump) modules from
/// more places than a backup holds: `locationd/clients.plist` under
/// `/private/var/mobile` as well as `/private/var/root`, the IDS status
/// cache under `Library/IdentityServices/`, WebKit's `observations.db` and
/// session resource log in the in-app browser's store
/// (`SystemData/com.apple.SafariViewService/…`), and the session log of web
/// clips. The generated dump's files moved there are still read, and their
/// planted indicators found in the same modules.
#[test]
fn mixed_modules_read_mvt_s_other_check_fs_paths() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    spydar::fixtures::ios_fs::generate(&dump, &GenOptions::default()).unwrap();
    let var = dump.join("private/var");
    let mv = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(from, to).unwrap();
    };
    mv(
        &var.join("root/Library/Caches/locationd/clients.plist"),
        &var.join("mobile/Library/Caches/locationd/clients.plist"),
    );
    mv(
        &var.join("mobile/Library/Preferences/com.apple.identityservices.idstatuscache.plist"),
        &var.join("mobile/Library/IdentityServices/idstatuscache.plist"),
    );
    let stats = walkdir::WalkDir::new(var.join("mobile/Containers/Data/Application"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("ResourceLoadStatistics/observations.db"))
        .unwrap();
    let container = stats.ancestors().nth(5).unwrap().to_path_buf();
    let svc = container.join("SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData");
    mv(&stats, &svc.join("observations.db"));
    mv(
        &stats.with_file_name("full_browsing_session_resourceLog.plist"),
        &var.join("mobile/Library/WebClips/0C1D2E3F.webclip/Storage/full_browsing_session_resourceLog.plist"),
    );
    let (_, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    let found = detected(&report);
    for (module, value) in spydar::fixtures::ios_backup::PLANTS
        .iter()
        .filter(|(m, _)| {
            [
                "locationd_clients",
                "id_status_cache",
                "webkit_resource_load_statistics",
                "webkit_session_resource_log",
            ]
            .contains(m)
        })
    {
        assert!(
            found.iter().any(|f| f["module"] == *module
                && f["indicator"]["value"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))),
            "{value} not detected in {module} at MVT's other path"
        );
    }
}

/// One unreadable `Cache.db` among several (apps each keep one): a record
/// saying so, the others still read and matched.
#[test]
fn a_corrupt_cache_db_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    spydar::fixtures::ios_fs::generate(&dump, &GenOptions::default()).unwrap();
    let bad = dump.join("private/var/mobile/Library/Caches/com.apple.Maps/Cache.db");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, vec![0x42u8; 8192]).unwrap();
    let (_, report) = common::scan(&dump, &dir.path().join("out"), &[]);
    let module = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "cache_files")
        .unwrap();
    assert_eq!(module["status"], "ok", "{module}");
    let want = PLANTED_COUNTS
        .iter()
        .find(|(m, _)| *m == "cache_files")
        .unwrap()
        .1;
    assert_eq!(module["records"], want as u64 + 1);
    assert!(
        detected(&report)
            .iter()
            .any(|f| f["module"] == "cache_files")
    );
}
