//! The fixture generator and the modules together: every planted value
//! reaches the right module's observables, every decoy is present (so the
//! matcher is really tested against it), heuristics fire, and the committed
//! sample cannot rot.

use crate::common;
use common::tree;
use std::path::Path;

use spydar::artifacts::ScanOptions;
use spydar::artifacts::ios::scan_backup;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::{DECOYS, PLANTS, generate};
use spydar::model::{DeviceScan, ModuleStatus};

fn gen_scan(plant: bool) -> (tempfile::TempDir, DeviceScan) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    generate(
        &out,
        &GenOptions {
            plant,
            ..Default::default()
        },
    )
    .unwrap();
    let scan = scan_backup(&out, &ScanOptions::default()).unwrap();
    (dir, scan)
}

fn mentions(scan: &DeviceScan, module: &str, value: &str) -> bool {
    scan.modules
        .iter()
        .filter(|m| m.name == module)
        .flat_map(|m| m.records.iter())
        .any(|r| r.observables.iter().any(|o| o.value.contains(value)))
}

#[test]
fn every_plant_and_decoy_reaches_its_module() {
    let (_d, scan) = gen_scan(true);
    for m in &scan.modules {
        assert_eq!(m.status, ModuleStatus::Ok, "{}: {:?}", m.name, m.error);
    }
    for (module, value) in PLANTS {
        assert!(
            mentions(&scan, module, value),
            "planted {value} not seen by {module}"
        );
    }
    for (module, value) in DECOYS {
        assert!(
            mentions(&scan, module, value),
            "decoy {value} not seen by {module}"
        );
    }
    let rules: Vec<&str> = scan
        .modules
        .iter()
        .flat_map(|m| m.records.iter())
        .flat_map(|r| r.alerts.iter())
        .map(|a| a.rule.as_str())
        .collect();
    for rule in [
        "datausage.missing_process",
        "datausage.manipulated_process",
        "sms_attachments.suspicious_tmp",
        "calendar.quadream_invite",
        "applications.not_from_app_store",
        "configuration_profiles.notification_settings",
        "global_preferences.lockdown_mode",
    ] {
        assert!(rules.contains(&rule), "{rule} not raised: {rules:?}");
    }
    assert_eq!(scan.device.model.as_deref(), Some("iPhone13,2"));
    assert_eq!(
        scan.device.extra.get("encrypted").map(String::as_str),
        Some("false")
    );
}

#[test]
fn clean_backup_has_decoys_but_no_plants() {
    let (_d, scan) = gen_scan(false);
    for (module, value) in PLANTS {
        // The plants' values may occur inside decoys (`not<domain>`), so
        // check the exact observable instead.
        let exact = scan
            .modules
            .iter()
            .filter(|m| m.name == *module)
            .flat_map(|m| m.records.iter())
            .flat_map(|r| r.observables.iter())
            .any(|o| {
                o.value == *value
                    || o.value.contains(&format!("://{value}/"))
                    || o.value.ends_with(&format!("/{value}"))
                    || o.value.contains(&format!("_{value}_"))
            });
        assert!(!exact, "clean backup carries planted {value} in {module}");
    }
    for (module, value) in DECOYS {
        assert!(
            mentions(&scan, module, value),
            "decoy {value} not in clean {module}"
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate(&a, &GenOptions::default()).unwrap();
    generate(&b, &GenOptions::default()).unwrap();
    assert_eq!(tree(&a), tree(&b));
}

/// The committed sample is what the generator makes at scale 1.
#[test]
fn committed_sample_is_up_to_date() {
    let committed = Path::new("testdata/ios_backup");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("b");
    generate(&fresh, &GenOptions::default()).unwrap();
    assert_eq!(
        tree(committed),
        tree(&fresh),
        "testdata/ios_backup is stale: rm -r testdata/ios_backup && cargo run --features fixtures --bin spydar-fixtures -- ios-backup testdata/ios_backup"
    );
}

#[test]
fn scale_grows_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    generate(
        &out,
        &GenOptions {
            scale: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let scan = scan_backup(&out, &ScanOptions::default()).unwrap();
    let count = |n: &str| {
        scan.modules
            .iter()
            .find(|m| m.name == n)
            .unwrap()
            .records
            .len()
    };
    assert!(count("manifest") >= 2000, "{}", count("manifest"));
    assert!(count("sms") >= 2000);
    assert!(count("safari_history") >= 800);
}

#[test]
fn corrupt_database_fails_only_its_module() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    generate(&out, &GenOptions::default()).unwrap();
    let id = spydar::evidence::ios_backup::file_id("HomeDomain", "Library/TCC/TCC.db");
    std::fs::write(
        out.join(&id[..2]).join(&id),
        b"this is not a database, it was overwritten",
    )
    .unwrap();
    let scan = scan_backup(&out, &ScanOptions::default()).unwrap();
    let tcc = scan.modules.iter().find(|m| m.name == "tcc").unwrap();
    assert_eq!(tcc.status, ModuleStatus::Error);
    let why = tcc.error.as_deref().unwrap();
    assert!(
        why.contains("HomeDomain/Library/TCC/TCC.db") && why.contains(&id),
        "{why}"
    );
    for m in scan.modules.iter().filter(|m| m.name != "tcc") {
        assert_eq!(m.status, ModuleStatus::Ok, "{}: {:?}", m.name, m.error);
    }
    // A listed file whose content is absent is `missing`, not an error.
    let id = spydar::evidence::ios_backup::file_id("HomeDomain", "Library/SMS/sms.db");
    std::fs::remove_file(out.join(&id[..2]).join(&id)).unwrap();
    let scan = scan_backup(&out, &ScanOptions::default()).unwrap();
    let sms = scan.modules.iter().find(|m| m.name == "sms").unwrap();
    assert_eq!(sms.status, ModuleStatus::Missing);
}

#[test]
fn scanning_leaves_the_input_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    generate(&out, &GenOptions::default()).unwrap();
    let before = tree(&out);
    let _ = scan_backup(&out, &ScanOptions::default()).unwrap();
    let after = tree(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert!(before == after, "a file changed");
    assert!(
        !after
            .keys()
            .any(|k| k.ends_with("-wal") || k.ends_with("-shm") || k.ends_with("-journal"))
    );
}

#[test]
fn output_is_the_same_with_one_thread_or_many() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    generate(&out, &GenOptions::default()).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let scan = pool.install(|| scan_backup(&out, &ScanOptions::default()).unwrap());
        scan.modules
            .iter()
            .map(|m| (m.name.clone(), serde_json::to_string(&m.records).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(4));
}
