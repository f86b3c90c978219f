//! Android readers on the project's generated inputs: planted indicators
//! show up as typed observables, decoys never equal a planted value,
//! heuristics are warnings, and broken inputs give a message plus partial
//! results instead of a panic.

use std::io::Write;
use std::path::Path;

use spydar::artifacts::ScanOptions;
use spydar::artifacts::android;
use spydar::fixtures::GenOptions;
use spydar::fixtures::android::{
    decoys, generate_androidqf, generate_backup, generate_bugreport, planted,
};
use spydar::model::{DeviceScan, Level, ModuleStatus, ObservableType as T, Record};

fn gen_opts(plant: bool, password: Option<&str>) -> GenOptions {
    GenOptions {
        plant,
        password: password.map(str::to_string),
        ..GenOptions::default()
    }
}

fn with_password(p: &str) -> ScanOptions {
    ScanOptions {
        password: Some(zeroize::Zeroizing::new(p.to_string())),
        ..ScanOptions::default()
    }
}

fn records(scan: &DeviceScan) -> Vec<&Record> {
    scan.modules.iter().flat_map(|m| m.records.iter()).collect()
}

/// Modules (by name) where an observable of this type and value occurs.
fn found(scan: &DeviceScan, kind: T, value: &str) -> Vec<String> {
    let mut m: Vec<String> = records(scan)
        .iter()
        .filter(|r| {
            r.observables
                .iter()
                .any(|o| o.kind == kind && o.value == value)
        })
        .map(|r| r.module.to_string())
        .collect();
    m.dedup();
    m
}

fn warning_rules(scan: &DeviceScan) -> Vec<String> {
    let mut v: Vec<String> = records(scan)
        .iter()
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.level == Level::Warning)
        .map(|a| a.rule.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn status(scan: &DeviceScan, name: &str) -> ModuleStatus {
    scan.modules
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no module {name}"))
        .status
}

/// No record carries a decoy value that equals a planted one, and every
/// decoy is really there (so "not detected" means something).
fn check_decoys(scan: &DeviceScan) {
    for d in decoys::APP_IDS {
        assert_ne!(*d, planted::APP_ID);
    }
    assert!(!found(scan, T::AppId, decoys::APP_IDS[0]).is_empty());
    assert!(
        found(scan, T::AppId, "com.xdja.safekeyservice.lite")
            .iter()
            .all(|m| !m.is_empty())
    );
}

#[test]
fn backup_plain_and_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.ab");
    generate_backup(&plain, &gen_opts(true, None)).unwrap();
    let s = android::scan_backup(&plain, &ScanOptions::default()).unwrap();
    assert_eq!(found(&s, T::Domain, planted::DOMAIN), ["sms"]);
    for d in decoys::DOMAINS {
        assert_eq!(
            found(&s, T::Domain, d),
            ["sms"],
            "decoy {d} is present as itself"
        );
    }
    assert!(records(&s).iter().any(|r| {
        r.observables
            .iter()
            .any(|o| o.kind == T::Url && o.value.contains(planted::DOMAIN))
    }));
    assert!(
        records(&s)
            .iter()
            .all(|r| r.observables.iter().any(|o| o.kind == T::Text))
    );

    let enc = dir.path().join("enc.ab");
    generate_backup(&enc, &gen_opts(true, Some("s3cret"))).unwrap();
    let s = android::scan_backup(&enc, &with_password("s3cret")).unwrap();
    assert_eq!(found(&s, T::Domain, planted::DOMAIN), ["sms"]);
    assert_eq!(s.device.extra["backup_encryption"], "AES-256");
    let e = android::scan_backup(&enc, &with_password("wrong")).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: wrong password", enc.display()));
    let e = android::scan_backup(&enc, &ScanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");

    let clean = dir.path().join("clean.ab");
    generate_backup(&clean, &gen_opts(false, None)).unwrap();
    let s = android::scan_backup(&clean, &ScanOptions::default()).unwrap();
    assert!(found(&s, T::Domain, planted::DOMAIN).is_empty());
}

#[test]
fn truncated_backup_gives_note_and_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.ab");
    generate_backup(
        &full,
        &GenOptions {
            scale: 40,
            ..gen_opts(true, Some("pw"))
        },
    )
    .unwrap();
    let bytes = std::fs::read(&full).unwrap();
    for cut in [bytes.len() * 9 / 10, bytes.len() / 2, 600] {
        let p = dir.path().join(format!("cut{cut}.ab"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let s = android::scan_backup(&p, &with_password("pw")).unwrap();
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("truncated") && n.contains(&*p.to_string_lossy())),
            "cut {cut}: {:?}",
            s.notes
        );
        // The manifest (first member) was read before the cut.
        assert!(cut == 600 || s.device.extra["backup_members"].parse::<usize>().unwrap() >= 1);
    }
    // Cut inside the header: a clear error, no panic.
    let p = dir.path().join("header.ab");
    std::fs::write(&p, &bytes[..40]).unwrap();
    let e = android::scan_backup(&p, &with_password("pw")).unwrap_err();
    assert!(e.to_string().contains("malformed encryption header"), "{e}");
}

#[test]
fn bugreport_planted_decoys_and_heuristics() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    generate_bugreport(&p, &gen_opts(true, None)).unwrap();
    let s = android::scan_bugreport(&p, &ScanOptions::default()).unwrap();
    for m in [
        "dumpsys_packages",
        "dumpsys_activities",
        "dumpsys_receivers",
        "dumpsys_appops",
        "dumpsys_battery_history",
        "dbinfo",
    ] {
        assert!(
            found(&s, T::AppId, planted::APP_ID).contains(&m.to_string()),
            "{m}"
        );
    }
    assert!(
        found(&s, T::AppId, planted::ACCESSIBILITY_APP_ID)
            .contains(&"dumpsys_accessibility".to_string())
    );
    assert!(
        found(&s, T::AppId, planted::ACCESSIBILITY_APP_ID)
            .contains(&"dumpsys_platform_compat".to_string())
    );
    assert_eq!(
        found(&s, T::AndroidProperty, planted::PROPERTY),
        ["dumpsys_get_prop"]
    );
    assert_eq!(
        found(&s, T::Process, planted::PROCESS),
        ["processes", "tombstones"]
    );
    assert_eq!(
        found(&s, T::Process, decoys::PROCESSES[0]),
        ["processes", "tombstones"],
        "protobuf tombstone read"
    );
    // Forms read since issue 9: a settings row's package, a URI-scheme
    // activity, a `*job*/` wake lock.
    assert!(found(&s, T::AppId, planted::APP_ID).contains(&"settings".to_string()));
    for m in ["dumpsys_activities", "dumpsys_battery_history"] {
        assert!(
            found(&s, T::AppId, planted::ACCESSIBILITY_APP_ID).contains(&m.to_string()),
            "{m}"
        );
    }
    assert_eq!(
        found(&s, T::AndroidProperty, decoys::PROPERTY),
        ["dumpsys_get_prop"]
    );
    check_decoys(&s);
    let w = warning_rules(&s);
    for rule in [
        "android.accessibility_service",
        "android.risky_permission",
        "android.package_downgraded",
        "android.privileged_crash",
        "android.old_security_patch",
        "android.root_package",
        "android.setting.verifier_verify_adb_installs",
    ] {
        assert!(w.contains(&rule.to_string()), "{rule} missing from {w:?}");
    }
    assert_eq!(s.device.model.as_deref(), Some("Pixel 7"));
    // Zip entry times are the phone's wall clock (08:30 in Paris, CET).
    let fs: Vec<_> = records(&s)
        .into_iter()
        .filter(|r| r.module == "bugreport_timestamps")
        .collect();
    assert!(!fs.is_empty());
    for r in fs {
        assert_eq!(r.timestamp.unwrap().to_string(), "2026-11-19T07:30:00Z");
        assert_eq!(r.fields["time_zone"], "Europe/Paris");
    }
    // The standard generated bugreport has no mount tables
    // (`bugreport-current` has: tests/android_rest.rs).
    assert!(
        s.modules
            .iter()
            .all(|m| m.status == ModuleStatus::Ok || m.name == "mounts"),
        "{:?}",
        s.modules
            .iter()
            .map(|m| (&m.name, m.status, &m.error))
            .collect::<Vec<_>>()
    );
}

#[test]
fn bugreport_clean_has_no_planted_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    generate_bugreport(&p, &gen_opts(false, None)).unwrap();
    let s = android::scan_bugreport(&p, &ScanOptions::default()).unwrap();
    for (k, v) in [
        (T::AppId, planted::APP_ID),
        (T::AppId, planted::ACCESSIBILITY_APP_ID),
        (T::AndroidProperty, planted::PROPERTY),
        (T::Process, planted::PROCESS),
    ] {
        assert!(found(&s, k, v).is_empty(), "{v}");
    }
    let w = warning_rules(&s);
    assert!(
        !w.contains(&"android.old_security_patch".to_string()),
        "{w:?}"
    );
    assert!(
        !w.contains(&"android.privileged_crash".to_string()),
        "{w:?}"
    );
}

fn check_androidqf(s: &DeviceScan) {
    assert!(found(s, T::AppId, planted::APP_ID).contains(&"aqf_packages".to_string()));
    assert!(found(s, T::AppId, planted::APP_ID).contains(&"aqf_processes".to_string()));
    assert!(found(s, T::AppId, planted::APP_ID).contains(&"aqf_dumpsys_packages".to_string()));
    assert!(
        found(s, T::AppId, planted::APP_ID).contains(&"dumpsys_packages".to_string()),
        "nested bugreport"
    );
    assert_eq!(
        found(s, T::CertHash, planted::CERT_SHA256),
        ["aqf_packages"]
    );
    assert_eq!(found(s, T::Sha256, planted::APK_SHA256), ["aqf_packages"]);
    assert_eq!(found(s, T::CertHash, decoys::CERT_SHA256), ["aqf_packages"]);
    assert!(found(s, T::Process, planted::PROCESS).contains(&"aqf_processes".to_string()));
    assert!(found(s, T::AndroidProperty, planted::PROPERTY).contains(&"aqf_get_prop".to_string()));
    assert_eq!(found(s, T::FilePath, planted::FILE_PATH), ["aqf_files"]);
    assert_eq!(found(s, T::FilePath, decoys::FILE_PATH), ["aqf_files"]);
    assert_eq!(
        found(s, T::Domain, planted::DOMAIN),
        ["sms"],
        "nested backup.ab"
    );
    check_decoys(s);
    let w = warning_rules(s);
    for rule in [
        "android.sideloaded_package",
        "android.browser_install",
        "android.root_package",
        "android.setting.package_verifier_enable",
        "android.setting.adb_enabled",
        "android.setting.accessibility_enabled",
        "android.file_in_tmp",
        "android.root_binary",
        "android.system_rw",
        "android.selinux_not_enforcing",
        "android.adb_unknown_host",
        "android.privileged_crash",
    ] {
        assert!(w.contains(&rule.to_string()), "{rule} missing from {w:?}");
    }
    assert_eq!(
        s.device.extra["acquisition_started"],
        "2026-11-20T10:00:00Z"
    );
    // dumpsys.txt times are the phone's wall clock: converted with getprop.txt's
    // persist.sys.timezone (Europe/Paris), for the nested bugreport too.
    for module in ["aqf_dumpsys_appops", "dumpsys_appops"] {
        let timed: Vec<_> = records(s)
            .into_iter()
            .filter(|r| r.module == module && r.timestamp.is_some())
            .collect();
        assert!(!timed.is_empty(), "{module}");
        assert!(
            timed.iter().all(|r| r.fields.get("time_zone").and_then(|v| v.as_str())
                == Some("Europe/Paris")),
            "{module}"
        );
        // `Access: [fg-s] 2026-11-18 03:14:15.000` (CET, UTC+1).
        let r = timed
            .iter()
            .find(|r| {
                r.fields.get("permission").and_then(|v| v.as_str())
                    == Some("REQUEST_INSTALL_PACKAGES")
            })
            .expect("the planted app's install permission entry");
        assert_eq!(
            r.timestamp.unwrap().to_string(),
            "2026-11-18T02:14:15Z",
            "{module}"
        );
    }
    let failed: Vec<_> = s
        .modules
        .iter()
        .filter(|m| m.status == ModuleStatus::Error)
        .collect();
    assert!(
        failed.is_empty(),
        "{:?}",
        failed
            .iter()
            .map(|m| (&m.name, &m.error))
            .collect::<Vec<_>>()
    );
}

#[test]
fn androidqf_folder_zip_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("acq");
    generate_androidqf(&folder, &gen_opts(true, None)).unwrap();
    check_androidqf(&android::scan_androidqf(&folder, &ScanOptions::default()).unwrap());

    let zip = dir.path().join("acq.zip");
    generate_androidqf(&zip, &gen_opts(true, None)).unwrap();
    check_androidqf(&android::scan_androidqf(&zip, &ScanOptions::default()).unwrap());

    let age = dir.path().join("acq.zip.age");
    generate_androidqf(&age, &gen_opts(true, None)).unwrap();
    let key = dir.path().join("acq.zip.age.key");
    let opts = ScanOptions {
        age_identity: Some(key.clone()),
        ..ScanOptions::default()
    };
    check_androidqf(&android::scan_androidqf(&age, &opts).unwrap());
    let e = android::scan_androidqf(&age, &ScanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--age-identity"), "{e}");
    // Another identity: a clear error.
    let other = dir.path().join("other.key");
    std::fs::write(
        &other,
        "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33\n",
    )
    .unwrap();
    let opts = ScanOptions {
        age_identity: Some(other),
        ..ScanOptions::default()
    };
    match android::scan_androidqf(&age, &opts) {
        Err(e) => assert!(e.to_string().contains("cannot"), "{e}"),
        Ok(_) => panic!("decrypted with the wrong identity"),
    }
}

#[test]
fn androidqf_clean() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("acq");
    generate_androidqf(&folder, &gen_opts(false, None)).unwrap();
    let s = android::scan_androidqf(&folder, &ScanOptions::default()).unwrap();
    for (k, v) in [
        (T::AppId, planted::APP_ID),
        (T::CertHash, planted::CERT_SHA256),
        (T::Sha256, planted::APK_SHA256),
        (T::Process, planted::PROCESS),
        (T::FilePath, planted::FILE_PATH),
        (T::Domain, planted::DOMAIN),
    ] {
        assert!(found(&s, k, v).is_empty(), "{v}");
    }
    let w = warning_rules(&s);
    for rule in [
        "android.file_in_tmp",
        "android.root_binary",
        "android.selinux_not_enforcing",
        "android.system_rw",
    ] {
        assert!(
            !w.contains(&rule.to_string()),
            "{rule} in a clean acquisition"
        );
    }
}

#[test]
fn androidqf_missing_half_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("acq");
    generate_androidqf(&folder, &gen_opts(true, None)).unwrap();
    for f in [
        "packages.json",
        "dumpsys.txt",
        "bugreport.zip",
        "files.json",
        "settings_secure.txt",
        "settings_global.txt",
        "settings_system.txt",
        "root_binaries.json",
    ] {
        std::fs::remove_file(folder.join(f)).unwrap();
    }
    let s = android::scan_androidqf(&folder, &ScanOptions::default()).unwrap();
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("packages.json") && n.contains("files.json")),
        "{:?}",
        s.notes
    );
    assert_eq!(status(&s, "aqf_packages"), ModuleStatus::Missing);
    assert_eq!(status(&s, "aqf_files"), ModuleStatus::Missing);
    assert_eq!(status(&s, "aqf_processes"), ModuleStatus::Ok);
    assert!(found(&s, T::Process, planted::PROCESS).contains(&"aqf_processes".to_string()));
    assert_eq!(found(&s, T::Domain, planted::DOMAIN), ["sms"]);
}

#[test]
fn zip_with_a_broken_member() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("acq.zip");
    generate_androidqf(&zip, &gen_opts(true, None)).unwrap();
    // Corrupt the compressed bytes of packages.json (find its local header).
    let mut bytes = std::fs::read(&zip).unwrap();
    let name = b"packages.json";
    let at = bytes
        .windows(name.len() + 4)
        .position(|w| &w[4..] == name && w[..4] != [0; 4])
        .map(|i| i + 4)
        .unwrap();
    let data_start = at + name.len() + 20; // past the extra field (zip64)
    for b in &mut bytes[data_start..data_start + 64] {
        *b ^= 0x5a;
    }
    let broken = dir.path().join("broken.zip");
    std::fs::File::create(&broken)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let s = android::scan_androidqf(&broken, &ScanOptions::default()).unwrap();
    let m = s.modules.iter().find(|m| m.name == "aqf_packages").unwrap();
    assert_eq!(m.status, ModuleStatus::Error);
    assert!(
        m.error.as_deref().unwrap_or("").contains("packages.json"),
        "{:?}",
        m.error
    );
    assert_eq!(status(&s, "aqf_get_prop"), ModuleStatus::Ok);
    assert!(found(&s, T::Process, planted::PROCESS).contains(&"aqf_processes".to_string()));
}

#[test]
fn not_a_zip_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    std::fs::write(&p, b"PK\x03\x04 this is not really a zip").unwrap();
    let e = android::scan_bugreport(&p, &ScanOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
    let e = android::scan_androidqf(Path::new("/nonexistent/acq.zip"), &ScanOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/acq.zip"), "{e}");
}

/// A stand-in for the indicator sweep: flags lines holding the planted domain
/// at a token boundary (the real one is the lead's Aho-Corasick automaton).
struct DomainSweep;

impl spydar::artifacts::TextSweep for DomainSweep {
    fn flagged_lines(&self, text: &[u8]) -> Vec<spydar::artifacts::SweptLine> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            let l = String::from_utf8_lossy(line);
            if l.contains(&format!("//{}/", planted::DOMAIN)) {
                out.push(spydar::artifacts::SweptLine {
                    line_no: i + 1,
                    range: start..start + line.len(),
                });
            }
            start += line.len() + 1;
        }
        out
    }
}

#[test]
fn logs_are_swept_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("acq");
    generate_androidqf(&folder, &gen_opts(true, None)).unwrap();
    let opts = ScanOptions {
        text_sweep: Some(std::sync::Arc::new(DomainSweep)),
        ..ScanOptions::default()
    };
    let s = android::scan_androidqf(&folder, &opts).unwrap();
    let swept = |s: &DeviceScan, m: &str| -> Vec<Record> {
        s.modules
            .iter()
            .filter(|x| x.name == m)
            .flat_map(|x| x.records.clone())
            .collect()
    };
    let recs = swept(&s, "logcat");
    assert_eq!(recs.len(), 1);
    assert!(recs[0].observables[0].value.contains(planted::DOMAIN));
    assert_eq!(recs[0].observables[0].kind, T::Text);
    // The nested bugreport's logcat blocks are the same buffers as logcat.txt: not swept twice.
    assert!(swept(&s, "bugreport_logs").is_empty());
    let br = folder.join("bugreport.zip");
    let s = android::scan_bugreport(&br, &opts).unwrap();
    let recs = swept(&s, "bugreport_logs");
    assert_eq!(recs.len(), 1);
    assert!(
        recs[0].artifact.ends_with("#SYSTEM LOG"),
        "{}",
        recs[0].artifact
    );
    let without = android::scan_androidqf(&folder, &ScanOptions::default()).unwrap();
    assert!(
        !without
            .modules
            .iter()
            .any(|m| m.name == "logcat" || m.name == "bugreport_logs")
    );
}

#[test]
fn big_texts_are_swept_in_chunks_with_true_line_numbers() {
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..400_000usize {
        if i % 97_003 == 5 {
            text.push_str(&format!("line {i} https://{}/x/\n", planted::DOMAIN));
            expected.push(i + 1);
        } else {
            text.push_str(&format!(
                "line {i} nothing to see here, padding padding padding\n"
            ));
        }
    }
    assert!(text.len() > 16 << 20, "spans several chunks");
    let recs =
        spydar::artifacts::android::logcat::sweep(text.as_bytes(), &DomainSweep, "logcat", "t");
    let got: Vec<usize> = recs
        .iter()
        .map(|r| r.fields["line_no"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(got, expected);
    assert!(
        recs[1].observables[0]
            .value
            .starts_with(&format!("line {} ", expected[1] - 1))
    );
}

/// A dumpstate whose byte 4096 falls inside `é`: the header time is looked
/// for in the first 4 KiB, and cutting there used to panic outside the
/// module guard (exit 101).
fn dumpstate_with_char_across_4096() -> String {
    let mut text = String::from(
        "========================================================\n== dumpstate: 2024-03-21 11:07:22\n========================================================\n\nBuild: ",
    );
    while text.len() < 4095 {
        text.push('a');
    }
    text.push('é');
    assert!(!text.is_char_boundary(4096));
    text.push_str("\n------ SYSTEM PROPERTIES ------\n[persist.sys.timezone]: [Asia/Tokyo]\n[ro.product.model]: [Straddle]\n------\n");
    text
}

#[test]
fn dumpstate_head_cut_inside_a_character() {
    let dir = tempfile::tempdir().unwrap();
    let text = dumpstate_with_char_across_4096();
    let zip_path = dir.path().join("bugreport.zip");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("main_entry.txt", o).unwrap();
        z.write_all(b"dumpstate.txt").unwrap();
        z.start_file("dumpstate.txt", o).unwrap();
        z.write_all(text.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    let txt_path = dir.path().join("bugreport.txt");
    std::fs::write(&txt_path, &text).unwrap();
    for p in [&zip_path, &txt_path] {
        let s = android::scan_bugreport(p, &ScanOptions::default()).unwrap();
        assert_eq!(s.device.model.as_deref(), Some("Straddle"), "{p:?}");
        assert_eq!(s.device.extra["time_zone"], "Asia/Tokyo", "{p:?}");
        let g = s
            .modules
            .iter()
            .find(|m| m.name == "dumpsys_get_prop")
            .unwrap();
        assert_eq!(g.status, ModuleStatus::Ok);
        assert_eq!(g.records.len(), 2);
    }
}

/// The committed generated bugreport, scanned by MVT 2026.10.26
/// (`mvt-android check-bugreport testdata/android/bugreport.zip -o OUT`,
/// the length of each `OUT/<module>.json`): spydar's record counts equal
/// MVT's result counts wherever the two count the same thing.
#[test]
fn testdata_bugreport_counts_equal_mvt() {
    let s = android::scan_bugreport(
        Path::new("testdata/android/bugreport.zip"),
        &ScanOptions::default(),
    )
    .unwrap();
    let count = |name: &str| {
        s.modules
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.records.len())
            .unwrap()
    };
    for (module, mvt) in [
        ("dumpsys_activities", 30),
        ("dumpsys_receivers", 25),
        ("dumpsys_battery_history", 44),
        ("dumpsys_battery_daily", 4),
        ("dumpsys_get_prop", 13),
        ("processes", 6),
        ("settings", 6),
        ("dbinfo", 2),
        ("dumpsys_accessibility", 2),
        ("dumpsys_platform_compat", 2),
        ("tombstones", 2),
        ("bugreport_timestamps", 3),
    ] {
        assert_eq!(count(module), mvt, "{module}");
    }
    // MVT counts packages (25); spydar writes install, first-install and
    // last-update records for each.
    let packages = s
        .modules
        .iter()
        .find(|m| m.name == "dumpsys_packages")
        .unwrap();
    assert_eq!(
        android::dumpsys_packages::package_count(&packages.records),
        25
    );
    // MVT counts app-ops packages (22); spydar adds one record per timed entry.
    let appops = s
        .modules
        .iter()
        .find(|m| m.name == "dumpsys_appops")
        .unwrap();
    assert_eq!(
        appops
            .records
            .iter()
            .filter(|r| r.event == "appops_package")
            .count(),
        22
    );
}
