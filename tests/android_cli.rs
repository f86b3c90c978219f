//! End to end: `spydar scan` on generated Android inputs, checked through
//! report.json: planted indicators are `detected`, decoys give nothing,
//! heuristics are `warning`s.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::android::{
    decoys, generate_androidqf, generate_backup, generate_bugreport, generate_bugreport_text,
    planted,
};

fn scan(input: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = cargo_bin_cmd!("spydar");
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    cmd.arg("scan")
        .arg(input)
        .args(extra)
        .args(["--json", "--quiet"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no report.json on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

pub(crate) fn findings<'a>(r: &'a Value, level: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == level)
        .collect()
}

/// (module, observable type) of every detection of `value`.
fn detected(r: &Value, value: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = findings(r, "detected")
        .into_iter()
        .filter(|f| {
            f["observable"]["value"]
                .as_str()
                .unwrap_or("")
                .contains(value)
        })
        .map(|f| {
            (
                f["module"].as_str().unwrap().to_string(),
                f["observable"]["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn warning_rules(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = findings(r, "warning")
        .into_iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// No detection mentions a decoy.
fn no_decoy(r: &Value) {
    for f in findings(r, "detected") {
        let v = f["observable"]["value"].as_str().unwrap_or("");
        for d in decoys::APP_IDS
            .iter()
            .chain(decoys::PROCESSES)
            .chain(decoys::DOMAINS)
            .chain(
                [
                    decoys::CERT_SHA256,
                    decoys::APK_SHA256,
                    decoys::PROPERTY,
                    decoys::FILE_PATH,
                ]
                .iter(),
            )
        {
            assert!(
                v != *d && !v.contains(&format!("//{d}/")),
                "decoy {d} detected: {f}"
            );
        }
    }
}

#[test]
fn androidqf_zip_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("acq.zip");
    generate_androidqf(&zip, &GenOptions::default()).unwrap();
    let (code, r) = scan(&zip, &[], &[]);
    assert_eq!(code, 1, "findings make exit code 1");
    assert_eq!(r["device"]["input_kind"], "androidqf");
    assert_eq!(r["device"]["model"], "Pixel 7");
    let has = |v: &str, module: &str, ty: &str| {
        let d = detected(&r, v);
        assert!(
            d.contains(&(module.to_string(), ty.to_string())),
            "{v} in {module} as {ty}: {d:?}"
        );
    };
    has(planted::APP_ID, "aqf_packages", "app_id");
    has(planted::APP_ID, "aqf_processes", "app_id");
    has(planted::APP_ID, "dumpsys_packages", "app_id");
    has(planted::APP_ID, "aqf_dumpsys_appops", "app_id");
    has(
        planted::ACCESSIBILITY_APP_ID,
        "dumpsys_accessibility",
        "app_id",
    );
    has(planted::CERT_SHA256, "aqf_packages", "cert_hash");
    has(planted::APK_SHA256, "aqf_packages", "sha256");
    has(planted::PROCESS, "aqf_processes", "process");
    has(planted::PROCESS, "tombstones", "process");
    has(planted::PROPERTY, "aqf_get_prop", "android_property");
    has(planted::PROPERTY, "dumpsys_get_prop", "android_property");
    has(planted::FILE_PATH, "aqf_files", "file_path");
    has(planted::DOMAIN, "sms", "url");
    has(planted::DOMAIN, "logcat", "domain");
    no_decoy(&r);
    let w = warning_rules(&r);
    for rule in [
        "android.accessibility_service",
        "android.risky_permission",
        "android.root_package",
        "android.root_binary",
        "android.setting.package_verifier_enable",
        "android.setting.adb_enabled",
        "android.file_in_tmp",
        "android.old_security_patch",
        "android.privileged_crash",
        "android.package_downgraded",
        "android.sideloaded_package",
    ] {
        assert!(w.contains(&rule.to_string()), "{rule} not a warning: {w:?}");
    }
    // Heuristics never reach `detected`.
    assert!(
        findings(&r, "detected")
            .iter()
            .all(|f| f["kind"] == "indicator")
    );
}

#[test]
fn androidqf_clean_has_no_detection() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("clean.zip");
    generate_androidqf(
        &zip,
        &GenOptions {
            plant: false,
            ..GenOptions::default()
        },
    )
    .unwrap();
    let (code, r) = scan(&zip, &[], &[]);
    assert_eq!(
        findings(&r, "detected").len(),
        0,
        "{:#?}",
        findings(&r, "detected")
    );
    assert_eq!(code, 0);
}

#[test]
fn bugreport_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    generate_bugreport(&p, &GenOptions::default()).unwrap();
    let (code, r) = scan(&p, &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(r["device"]["input_kind"], "android-bugreport");
    assert!(!detected(&r, planted::APP_ID).is_empty());
    assert_eq!(
        detected(&r, planted::PROCESS),
        [
            ("processes".to_string(), "process".to_string()),
            ("tombstones".to_string(), "process".to_string())
        ]
    );
    assert!(!detected(&r, planted::PROPERTY).is_empty());
    no_decoy(&r);
    assert!(warning_rules(&r).contains(&"android.privileged_crash".to_string()));
    assert_new_bugreport_forms(&r);
}

/// What the bugreport forms added for issue 9 give (zip and plain text).
fn assert_new_bugreport_forms(r: &Value) {
    let pair = |m: &str, t: &str| (m.to_string(), t.to_string());
    // The property with a multi-line value is kept and matched.
    assert_eq!(
        detected(r, planted::PROPERTY),
        [pair("dumpsys_get_prop", "android_property")]
    );
    // A URI scheme entry and a `*job*/` wake lock name the accessibility app.
    let acc = detected(r, planted::ACCESSIBILITY_APP_ID);
    for m in ["dumpsys_activities", "dumpsys_battery_history"] {
        assert!(acc.contains(&pair(m, "app_id")), "{m}: {acc:?}");
    }
    // The package that wrote a setting, and the dangerous value it wrote.
    assert!(detected(r, planted::APP_ID).contains(&pair("settings", "app_id")));
    assert!(warning_rules(r).contains(&"android.setting.verifier_verify_adb_installs".to_string()));
    // Device-local times converted with persist.sys.timezone (Europe/Paris):
    // the planted package's `timeStamp=2026-06-13 10:00:00` is CEST.
    let install = findings(r, "detected")
        .into_iter()
        .find(|f| {
            f["module"] == "dumpsys_packages"
                && f["record"]["package_name"] == planted::APP_ID
                && !f["timestamp"].is_null()
        })
        .expect("a timed dumpsys_packages detection");
    assert_eq!(install["timestamp"], "2026-06-13T08:00:00Z", "{install}");
    assert_eq!(install["record"]["time_zone"], "Europe/Paris");
    assert_eq!(r["device"]["extra"]["time_zone"], "Europe/Paris");
    for m in r["modules"].as_array().unwrap() {
        if [
            "processes",
            "settings",
            "dumpsys_activities",
            "dumpsys_receivers",
        ]
        .contains(&m["name"].as_str().unwrap())
        {
            assert_eq!(m["status"], "ok", "{m}");
        }
    }
}

#[test]
fn plain_text_bugreport_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport-2015.txt");
    generate_bugreport_text(&p, &GenOptions::default()).unwrap();
    let before = std::fs::read(&p).unwrap();
    let (code, r) = scan(&p, &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(r["device"]["input_kind"], "android-bugreport");
    assert_eq!(r["device"]["model"], "Pixel 7");
    assert_eq!(
        detected(&r, planted::PROCESS),
        [("processes".to_string(), "process".to_string())]
    );
    no_decoy(&r);
    assert_new_bugreport_forms(&r);
    // A plain text carries no FS/ files: those modules are missing, not errors.
    for m in r["modules"].as_array().unwrap() {
        if ["tombstones", "bugreport_timestamps"].contains(&m["name"].as_str().unwrap()) {
            assert_eq!(m["status"], "missing", "{m}");
        }
    }
    // --kind android-bugreport takes it too (it said "Could not find EOCD").
    let (code, r2) = scan(&p, &["--kind", "android-bugreport"], &[]);
    assert_eq!(code, 1);
    assert_eq!(r2["summary"], r["summary"]);
    assert_eq!(std::fs::read(&p).unwrap(), before, "evidence untouched");
}

#[test]
fn text_that_is_not_a_bugreport_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "shopping list\n").unwrap();
    let out = cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .args(["scan", "--quiet", "--kind", "android-bugreport"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.txt") && err.contains("dumpstate"),
        "{err}"
    );
    assert!(!err.contains("EOCD"), "{err}");
}

#[test]
fn encrypted_backup_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("enc.ab");
    generate_backup(
        &p,
        &GenOptions {
            password: Some("pw123".into()),
            ..GenOptions::default()
        },
    )
    .unwrap();
    let (code, r) = scan(&p, &["--password-env", "AB_PW"], &[("AB_PW", "pw123")]);
    assert_eq!(code, 1);
    assert_eq!(r["device"]["input_kind"], "android-backup");
    assert_eq!(
        detected(&r, planted::DOMAIN),
        [("sms".to_string(), "url".to_string())]
    );
    no_decoy(&r);
    // Wrong password: exit 2 and a one-line message naming the file.
    let out = cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("scan")
        .arg(&p)
        .args(["--password-env", "AB_PW", "--quiet"])
        .env("AB_PW", "nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("enc.ab") && err.contains("wrong password"),
        "{err}"
    );
}

#[test]
fn committed_androidqf_sample_folder() {
    // Forced kind: folder detection of androidqf (ps.txt + logs/) is the lead's to fix.
    let (code, r) = scan(
        Path::new("testdata/android/androidqf"),
        &["--kind", "androidqf"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(!detected(&r, planted::CERT_SHA256).is_empty());
    no_decoy(&r);
    let (code, r) = scan(
        Path::new("testdata/android/androidqf-clean"),
        &["--kind", "androidqf"],
        &[],
    );
    assert_eq!(findings(&r, "detected").len(), 0);
    assert_eq!(code, 0);
}

/// A STIX2 bundle with one malware and the given patterns.
pub(crate) fn stix(dir: &Path, patterns: &[&str]) -> std::path::PathBuf {
    let mut objects = vec![serde_json::json!({
        "type": "malware", "spec_version": "2.1", "id": "malware--00000000-0000-4000-8000-000000000001",
        "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "name": "TestMalware", "is_family": false
    })];
    for (i, p) in patterns.iter().enumerate() {
        let id = format!("indicator--00000000-0000-4000-8000-{:012}", i + 10);
        objects.push(serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00Z",
            "modified": "2024-01-01T00:00:00Z", "pattern": p, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
        }));
        objects.push(serde_json::json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8000-{:012}", i + 100),
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "relationship_type": "indicates",
            "source_ref": id, "target_ref": "malware--00000000-0000-4000-8000-000000000001"
        }));
    }
    let path = dir.join("test.stix2");
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects});
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    path
}

#[test]
#[ignore = "needs ../shared"]
fn mvt_androidqf_sample_with_mvt_test_indicators() {
    // MVT's test_packages.py: the app id com.malware.blah, the APK sha256
    // and the certificate of com.malware.muahaha each give one detection;
    // without indicators 4 medium warnings (+1 info) on packages.
    let dir = tempfile::tempdir().unwrap();
    let iocs = stix(
        dir.path(),
        &[
            "[app:id = 'com.malware.blah']",
            "[file:hashes.sha256 = '31037a27af59d4914906c01ad14a318eee2f3e31d48da8954dca62a99174e3fa']",
            "[app:cert.sha256 = 'c7e56178748be1441370416d4c10e34817ea0c961eb636c8e9d98e0fd79bf730']",
            "[android-property:name = 'dalvik.vm.heapmaxfree']",
            "[domain-name:value = 'google.com']",
        ],
    );
    let iocs = iocs.to_string_lossy().to_string();
    let (code, r) = scan(
        Path::new("../shared/fixtures/mvt/androidqf"),
        &["--no-bundled-iocs", "--iocs", &iocs],
        &[],
    );
    assert_eq!(code, 1);
    let det = |module: &str, ty: &str| {
        findings(&r, "detected")
            .iter()
            .filter(|f| f["module"] == module && f["observable"]["type"] == ty)
            .count()
    };
    assert_eq!(det("aqf_packages", "app_id"), 1);
    assert_eq!(det("aqf_packages", "sha256"), 1);
    assert_eq!(det("aqf_packages", "cert_hash"), 1);
    assert_eq!(det("aqf_get_prop", "android_property"), 1);
    // Both SMS links of the nested backup.ab (MVT: urls.json has both).
    assert_eq!(
        findings(&r, "detected")
            .iter()
            .filter(|f| f["module"] == "sms")
            .count(),
        2,
        "{:#?}",
        findings(&r, "detected")
    );
    let pkg_warnings = findings(&r, "warning")
        .iter()
        .filter(|f| f["module"] == "aqf_packages")
        .count();
    assert_eq!(pkg_warnings, 4);
    let root = findings(&r, "warning")
        .iter()
        .filter(|f| f["module"] == "root_binaries")
        .count();
    assert_eq!(root, 4);
}
