//! Real Android inputs published by other projects (../shared/fixtures/real,
//! each folder's SOURCE.md says where from): clean devices, so zero
//! `detected`; every module's record count pinned. Where MVT (2026.10.26,
//! `mvt-android check-bugreport` on a folder holding the same text as
//! `dumpstate.txt` plus `main_entry.txt`) gives a count for the same file,
//! the test says whether it is equal and why not.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

const REAL: &str = "../shared/fixtures/real";

fn modules(r: &Value) -> BTreeMap<String, (String, u64)> {
    r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                (
                    m["status"].as_str().unwrap().to_string(),
                    m["records"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

fn records(out: &Path, module: &str) -> Vec<Value> {
    let f = walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy() == format!("{module}.jsonl.zst"))
        .unwrap_or_else(|| panic!("records/{module}.jsonl.zst"));
    spydar::report::records::read_records(f.path())
        .unwrap()
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

/// The three 2012 plain-text bugreports of one Nexus One (Android 2.3.5,
/// MIUI, Europe/Stockholm). `processes` differs per file (the deadlocks
/// were caught at different moments); everything else is the same phone.
#[test]
#[ignore = "needs ../shared"]
fn legacy_plain_text_bugreports() {
    // (file, ps rows, distinct values the log sweep keeps for recheck)
    for (file, processes, observed) in [
        ("bugreport_deadlock.txt", 420, 392),
        ("bugreport_aidldeadlock.txt", 431, 301),
        ("bugreport_hybriddeadlock.txt", 419, 420),
    ] {
        let input = Path::new(REAL).join("chk-bugreport-legacy").join(file);
        let before = std::fs::read(&input).unwrap();
        let out = tempfile::tempdir().unwrap();
        let (code, r) = common::scan(&input, out.path(), &[]);
        assert_eq!(code, 0, "{file}");
        assert_eq!(r["summary"]["detected"], 0, "{file}: a clean phone");
        assert_eq!(r["summary"]["warning"], 0, "{file}");
        assert_eq!(r["device"]["input_kind"], "android-bugreport");
        assert_eq!(r["device"]["model"], "Nexus One");
        assert_eq!(r["device"]["extra"]["time_zone"], "Europe/Stockholm");
        let m = modules(&r);
        let ok = |n: u64| ("ok".to_string(), n);
        let missing = ("missing".to_string(), 0);
        let expected: BTreeMap<String, (String, u64)> = [
            // A swept log keeps the lines that mention an indicator (none
            // here) and one `observed` record per distinct host, URL,
            // e-mail, IP, path or process token, for `spydar recheck`.
            ("bugreport_logs", ok(observed)),
            // Plain text: no FS/ files, no tombstone files.
            ("bugreport_timestamps", missing.clone()),
            ("tombstones", missing.clone()),
            ("mounts", missing.clone()),
            // Android 2.3 has no dbinfo, adb, appops, platform_compat or
            // settings service, and names batterystats `batteryinfo`
            // (MVT: the same modules find nothing).
            ("dbinfo", missing.clone()),
            ("dumpsys_adb_state", missing.clone()),
            ("dumpsys_appops", missing.clone()),
            ("dumpsys_battery_daily", missing.clone()),
            ("dumpsys_battery_history", missing.clone()),
            ("dumpsys_platform_compat", missing.clone()),
            ("settings", missing.clone()),
            // The service is there, with no service installed (MVT: 0).
            ("dumpsys_accessibility", ok(0)),
            // MVT: 0. Android 2.x prints resolver entries as
            // `4069d1e0 pkg/.Cls filter 40696b18`, which MVT's entry pattern
            // (`hash component [(N filters)]`) does not take.
            ("dumpsys_activities", ok(853)),
            ("dumpsys_receivers", ok(221)),
            // MVT: 137, equal (empty values included).
            ("dumpsys_get_prop", ok(137)),
            // MVT: 72 packages; spydar writes 3 records per package
            // (install, first install, last update), 72 × 3.
            ("dumpsys_packages", ok(216)),
            // MVT: 0. `ps -t -p -P` has VSIZE/PRIO/RTPRI/SCHED/PC columns and
            // an unlabelled state letter; MVT only takes Android 7+ headers.
            ("processes", ok(processes)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(m, expected, "{file}");
        let pk = records(out.path(), "dumpsys_packages");
        assert_eq!(
            pk.iter()
                .filter(|r| r["event"] == "package_install")
                .count(),
            72,
            "{file}: MVT's package count"
        );
        // Device-local times converted with persist.sys.timezone: the
        // dump shows `timeStamp=2008-08-01 14:00:00`, summer time in
        // Stockholm, so 12:00 UTC.
        let loc = pk
            .iter()
            .find(|r| r["fields"]["package_name"] == "com.google.android.location")
            .unwrap();
        assert_eq!(loc["timestamp"], "2008-08-01T12:00:00Z", "{file}");
        assert_eq!(loc["fields"]["time_zone"], "Europe/Stockholm");
        assert_eq!(loc["fields"]["uid"], "10017");
        assert!(
            pk.iter()
                .all(|r| r["timestamp"].is_null() || r["fields"]["time_zone"] == "Europe/Stockholm")
        );
        assert_eq!(std::fs::read(&input).unwrap(), before, "evidence untouched");
    }
}

/// abe's test backups (made by its packer, not a phone: 7 Java sources, no
/// SMS). MVT's `check-backup` reads no SMS from them either.
#[test]
#[ignore = "needs ../shared"]
fn abe_adb_backups() {
    let dir = Path::new(REAL).join("abe-adb-backup");
    for file in [
        "test.unencrypted.backup",
        "uncompressed.backup",
        "invalid_header.uncompressed.unencrypted.backup",
        "test.encrypted.backup",
    ] {
        let out = tempfile::tempdir().unwrap();
        let assert = assert_cmd::Command::cargo_bin("spydar")
            .unwrap()
            .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
            .env("ABE_PASSWORD", "12345")
            .args(["scan", "--quiet", "--password-env", "ABE_PASSWORD", "-o"])
            .arg(out.path())
            .arg(dir.join(file))
            .assert();
        assert_eq!(assert.get_output().status.code(), Some(0), "{file}");
        let report = walkdir::WalkDir::new(out.path())
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| e.file_name() == "report.json")
            .unwrap();
        let r: Value = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
        assert_eq!(r["summary"]["detected"], 0, "{file}");
        assert_eq!(r["device"]["extra"]["backup_members"], "7", "{file}");
        assert_eq!(
            modules(&r),
            [("sms".to_string(), ("missing".to_string(), 0))].into(),
            "{file}"
        );
    }
    // Malformed headers: refused with one line naming the file, no panic.
    for file in [
        "test.encrypted_invalidHeader.backup",
        "test.encrypted_invalidHeader2.backup",
    ] {
        let out = tempfile::tempdir().unwrap();
        let o = assert_cmd::Command::cargo_bin("spydar")
            .unwrap()
            .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
            .env("ABE_PASSWORD", "12345")
            .args(["scan", "--quiet", "--password-env", "ABE_PASSWORD", "-o"])
            .arg(out.path())
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(file) && err.lines().count() == 1, "{err}");
    }
}
