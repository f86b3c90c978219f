//! Parity with MVT's own Android test expectations, on MVT's sample files
//! (read from ../shared, never copied into the project).
//!
//! Deliberate differences from MVT, each with its reason:
//! - MMS dates are seconds, not milliseconds: spydar's MMS lands in 2020,
//!   MVT's in 1970.
//! - Tombstone and /data/local/tmp heuristics run without indicators too
//!   (MVT returns early when no indicator is loaded).
//! - androidqf `dumpsys.txt` is read (MVT ignores it since V3), as modules
//!   prefixed `aqf_`.

use std::path::Path;

use spydar::artifacts::ScanOptions;
use spydar::artifacts::android::{self, *};
use spydar::model::{DeviceScan, Level, ModuleStatus, ObservableType, Record, Severity};
use spydar::time::DeviceZone;

const MVT: &str = "../shared/fixtures/mvt";

fn read(p: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("{MVT}/{p}")).unwrap()).into_owned()
}

pub(crate) fn warnings(records: &[Record]) -> Vec<&str> {
    records
        .iter()
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.level == Level::Warning)
        .map(|a| a.message.as_str())
        .collect()
}

pub(crate) fn has_obs(r: &Record, kind: ObservableType, v: &str) -> bool {
    r.observables.iter().any(|o| o.kind == kind && o.value == v)
}

fn password(p: &str) -> ScanOptions {
    ScanOptions {
        password: Some(zeroize::Zeroizing::new(p.to_string())),
        ..ScanOptions::default()
    }
}

fn module<'a>(scan: &'a DeviceScan, name: &str) -> &'a spydar::model::ModuleOutput {
    scan.modules
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no module {name}: {:?}",
                scan.modules.iter().map(|m| &m.name).collect::<Vec<_>>()
            )
        })
}

#[test]
#[ignore = "needs ../shared"]
fn accessibility_old_and_v14() {
    let r = dumpsys_accessibility::parse(&read("android_data/dumpsys_accessibility.txt"), "a");
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].fields["package_name"], "com.android.settings");
    assert_eq!(
        r[0].fields["service"],
        "com.android.settings/com.samsung.android.settings.development.gpuwatch.GPUWatchInterceptor"
    );
    assert!(has_obs(
        &r[3],
        ObservableType::AppId,
        "com.sec.android.app.camera"
    ));
    assert_eq!(warnings(&r).len(), 4);
    let r = dumpsys_accessibility::parse(
        &read("android_data/dumpsys_accessibility_v14_or_later.txt"),
        "a",
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].fields["package_name"], "com.malware.accessibility");
    assert_eq!(r[0].fields["service"], "com.malware.service.malwareservice");
    assert_eq!(r[0].alerts[0].severity, Severity::Medium);
}

#[test]
#[ignore = "needs ../shared"]
fn adb_keys() {
    let r = dumpsys_adb::parse(&read("android_data/dumpsys_adb.txt"), "a", None);
    let keys: Vec<_> = r.iter().filter(|r| r.event == "adb_trusted_key").collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].fields["fingerprint"],
        "F0:A1:3D:8C:B3:F4:7B:09:9F:EE:8B:D8:38:2E:BD:C6"
    );
    assert_eq!(keys[0].fields["user"], "user@linux");
    let r = dumpsys_adb::parse(&read("android_data/dumpsys_adb_xml.txt"), "a", None);
    let keys: Vec<_> = r.iter().filter(|r| r.event == "adb_trusted_key").collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].fields["fingerprint"],
        "F0:0B:27:08:E3:68:7B:FA:4C:79:A2:B4:BF:0E:CF:70"
    );
    // Inside androidqf without a recorded host key: a low warning.
    let r = dumpsys_adb::parse(&read("android_data/dumpsys_adb.txt"), "a", Some(""));
    assert!(
        warnings(&r)
            .iter()
            .any(|w| w.contains("does not include its host key"))
    );
}

fn appops_packages(r: &[Record]) -> Vec<&Record> {
    r.iter().filter(|r| r.event == "appops_package").collect()
}

#[test]
#[ignore = "needs ../shared"]
fn appops() {
    let r = dumpsys_appops::parse(&read("android_data/dumpsys_appops.txt"), "a");
    let p = appops_packages(&r);
    assert_eq!(p.len(), 13);
    assert_eq!(p[0].fields["package_name"], "com.android.phone");
    assert_eq!(p[0].fields["uid"], "0");
    assert_eq!(
        p[0].fields["permissions"][0]["name"],
        "MANAGE_IPSEC_TUNNELS"
    );
    assert_eq!(p[0].fields["permissions"][0]["access"], "allow");
    assert_eq!(p[6].fields["package_name"], "com.sec.factory.camera");
    assert_eq!(
        p[6].fields["permissions"][1]["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(p[11].fields["permissions"].as_array().unwrap().len(), 4);
    // MVT: IOC com.facebook.katana → 1 match + 2 REQUEST_INSTALL_PACKAGES warnings.
    assert_eq!(warnings(&r).len(), 2, "{:?}", warnings(&r));
}

#[test]
#[ignore = "needs ../shared"]
fn battery() {
    let text = read("android_data/dumpsys_battery.txt");
    let d = dumpsys_battery_daily::parse(&text, "a");
    assert_eq!(d.len(), 3);
    assert!(
        d.iter()
            .any(|r| has_obs(r, ObservableType::AppId, "com.facebook.system"))
    );
    let h = dumpsys_battery_history::parse(&text, "a");
    assert_eq!(h.len(), 5);
    assert_eq!(
        h[0].fields["package_name"],
        "com.samsung.android.app.reminder"
    );
    assert_eq!(h[1].event, "end_job");
    assert_eq!(h[2].event, "start_top");
    assert_eq!(h[2].fields["uid"], "u0a280");
    assert_eq!(h[2].fields["package_name"], "com.whatsapp");
    assert_eq!(h[3].event, "end_top");
    assert_eq!(h[4].fields["package_name"], "com.sec.android.app.launcher");
    // MVT 2026 anchors the elapsed offsets on RESET:TIME; the same instants
    // (device wall clock until the scan applies the zone).
    let times: Vec<_> = h
        .iter()
        .map(|r| r.timestamp.map(|t| t.to_string()))
        .collect();
    assert_eq!(
        times[0].as_deref(),
        Some("2022-01-04T17:30:48.645Z"),
        "{times:?}"
    );
    assert_eq!(times[4].as_deref(), Some("2022-01-07T16:52:25.588Z"));
}

#[test]
fn battery_daily_uninstall_and_downgrade() {
    let text = "  Daily from 2022-08-16-00-00-00 to 2022-08-17-00-00-00:\n      Update com.example.app vers=10\n      Update com.example.removed vers=0\n  Daily from 2022-08-17-00-00-00 to 2022-08-18-00-00-00:\n      Update com.example.app vers=9\n";
    let r = dumpsys_battery_daily::parse(text, "a");
    assert_eq!(r.len(), 3);
    let w = warnings(&r);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|m| m.contains("uninstall of package com.example.removed"))
    );
    assert!(
        w.iter()
            .any(|m| m.contains("downgrade of package com.example.app from vers 10 to vers 9"))
    );
}

#[test]
#[ignore = "needs ../shared"]
fn dbinfo() {
    let r = dumpsys_dbinfo::parse(&read("android_data/dumpsys_dbinfo.txt"), "a");
    assert_eq!(r.len(), 5);
    assert_eq!(r[0].fields["action"], "executeForCursorWindow");
    assert_eq!(r[0].fields["sql"], "PRAGMA database_list;");
    assert_eq!(
        r[0].fields["path"],
        "/data/user/0/com.wssyncmldm/databases/idmsdk.db"
    );
    assert!(
        r.iter()
            .all(|r| has_obs(r, ObservableType::AppId, "com.wssyncmldm"))
    );
}

#[test]
#[ignore = "needs ../shared"]
fn package_tables() {
    let text = read("android_data/dumpsys_packages.txt");
    // Every resolver category, as MVT 2026: 6 Full MIME Types + 4 Non-Data
    // Actions (MVT 2026 reads 10; MVT 2.x read only the 4 actions).
    let a = dumpsys_activities::parse(&text, "a");
    assert_eq!(a.len(), 10);
    assert_eq!(a[0].fields["resolver_type"], "full_mime_type");
    assert_eq!(a[0].fields["key"], "text/comma-separated-values");
    assert_eq!(a[0].fields["package_name"], "com.samsung.android.messaging");
    let actions: Vec<_> = a
        .iter()
        .filter(|r| r.fields["resolver_type"] == "non_data_action")
        .collect();
    assert_eq!(actions.len(), 4);
    assert_eq!(
        actions[0].fields["activity"],
        "com.samsung.android.app.social/.feed.FeedsActivity"
    );
    assert_eq!(
        a.iter()
            .filter(|r| has_obs(r, ObservableType::AppId, "com.google.android.gms"))
            .count(),
        2
    );
    let p = dumpsys_packages::parse(&text, "a");
    let mains: Vec<_> = p.iter().filter(|r| r.event == "package_install").collect();
    assert_eq!(mains.len(), 2);
    assert_eq!(
        mains[0].fields["package_name"],
        "com.samsung.android.provider.filterprovider"
    );
    assert_eq!(mains[0].fields["version_name"], "5.0.07");
    assert_eq!(mains[0].fields["first_install_time"], "2008-12-31 16:00:00");
    assert_eq!(mains[0].fields["system"], true);
    assert!(has_obs(
        mains[1],
        ObservableType::AppId,
        "com.sec.android.app.DataCreate"
    ));
    let rcv = dumpsys_receivers::parse(&text, "a");
    // MVT 2026: 9 (5 Full MIME Types + 4 Non-Data Actions).
    assert_eq!(rcv.len(), 9);
    let intents: std::collections::BTreeSet<_> = rcv
        .iter()
        .filter_map(|r| r.fields.get("intent").and_then(|v| v.as_str()))
        .collect();
    assert_eq!(intents.len(), 4);
    let first_action = rcv
        .iter()
        .find(|r| r.fields.get("intent").is_some())
        .unwrap();
    assert_eq!(
        first_action.fields["intent"],
        "com.android.storagemanager.automatic.SHOW_NOTIFICATION"
    );
    assert_eq!(
        first_action.fields["package_name"],
        "com.android.storagemanager"
    );
    assert_eq!(
        rcv.iter()
            .filter(|r| has_obs(r, ObservableType::AppId, "com.android.storagemanager"))
            .count(),
        1
    );
    // The IOC com.android.services must not match com.android.phone's receiver class.
    assert!(
        !rcv.iter()
            .any(|r| has_obs(r, ObservableType::AppId, "com.android.services"))
    );
}

#[test]
#[ignore = "needs ../shared"]
fn platform_compat_getprop_processes() {
    let r = dumpsys_platform_compat::parse(&read("android_data/dumpsys_platform_compat.txt"), "a");
    let names: Vec<_> = r
        .iter()
        .map(|r| r.fields["package_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["org.torproject.torbrowser", "org.article19.circulo.next"]
    );
    let g = getprop::parse(
        &read("android_data/getprop.txt"),
        "p",
        "a",
        jiff::Timestamp::now(),
    );
    assert_eq!(g.len(), 13);
    assert_eq!(g[0].fields["name"], "af.fast_track_multiplier");
    assert_eq!(g[0].fields["value"], "1");
    assert!(g.iter().any(|r| has_obs(
        r,
        ObservableType::AndroidProperty,
        "dalvik.vm.appimageformat"
    )));
    let p = aqf_processes::parse_text(&read("android_data/ps.txt"), "a");
    assert_eq!(p.len(), 17);
    assert_eq!(p[0].fields["proc_name"], "init");
    assert_eq!(
        p.iter()
            .filter(|r| has_obs(r, ObservableType::Process, "lru-add-drain"))
            .count(),
        1
    );
}

#[test]
#[ignore = "needs ../shared"]
fn tombstones_text_and_protobuf() {
    for f in ["tombstone_process.txt", "tombstone_process.pb"] {
        let data = std::fs::read(format!("{MVT}/android_data/{f}")).unwrap();
        let r = tombstones::parse(f, &data, &DeviceZone::Unknown).unwrap();
        assert_eq!(
            r.fields["command_line"][0], "/vendor/bin/hw/android.hardware.media.c2@1.2-mediatek",
            "{f}"
        );
        assert_eq!(r.fields["uid"], 1046, "{f}");
        assert_eq!(r.fields["pid"], 25541, "{f}");
        assert_eq!(r.fields["tid"], 21307, "{f}");
        assert_eq!(r.fields["process_name"], "mtk.ape.decoder", "{f}");
        // `2023-04-12 12:32:40.518290770+0200`: MVT drops the offset and
        // keeps 12:32:40.518290; spydar keeps the instant.
        assert_eq!(
            r.timestamp.unwrap().to_string(),
            "2023-04-12T10:32:40.51829077Z",
            "{f}"
        );
        assert!(
            r.fields.get("time_zone").is_none(),
            "{f}: the offset is in the text"
        );
        assert!(has_obs(&r, ObservableType::Process, "mtk.ape.decoder"));
        assert!(has_obs(
            &r,
            ObservableType::Process,
            "android.hardware.media.c2@1.2-mediatek"
        ));
        assert!(r.alerts.is_empty(), "uid 1046 is not root/system/shell");
    }
    let data = std::fs::read(format!(
        "{MVT}/android_data/bugreport/FS/data/tombstones/tombstone_00"
    ))
    .unwrap();
    let r = tombstones::parse("tombstone_00", &data, &DeviceZone::Unknown).unwrap();
    assert_eq!(
        r.fields["abort_message"],
        "Check failed: payload.size() <= bytes_left (payload.size()=99, bytes_left=51) "
    );
}

fn sms_links(scan: &DeviceScan) -> Vec<Vec<String>> {
    module(scan, "sms")
        .records
        .iter()
        .map(|r| {
            r.fields["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "needs ../shared"]
fn backups() {
    let none = ScanOptions::default();
    let s =
        android::scan_backup(Path::new(&format!("{MVT}/android_backup/backup.ab")), &none).unwrap();
    assert_eq!(
        sms_links(&s),
        [vec!["https://google.com/"], vec!["http://google.com"]]
    );
    let sms = &module(&s, "sms").records;
    assert!(has_obs(&sms[0], ObservableType::Domain, "google.com"));
    assert!(has_obs(&sms[0], ObservableType::Url, "https://google.com/"));
    // MMS date is in seconds: 2020-01-20, not 1970 as in MVT.
    assert_eq!(
        sms[1].timestamp.unwrap().to_string(),
        "2020-01-20T14:49:49Z"
    );
    let s = android::scan_backup(
        Path::new(&format!("{MVT}/android_backup/backup3.ab")),
        &none,
    )
    .unwrap();
    assert_eq!(sms_links(&s), [vec!["https://google.com/"]]);
    let pw = password("123456");
    let s =
        android::scan_backup(Path::new(&format!("{MVT}/android_backup/backup2.ab")), &pw).unwrap();
    assert_eq!(sms_links(&s), [vec!["https://google.com/"]]);
    assert_eq!(s.device.extra["backup_encryption"], "AES-256");
    let e = android::scan_backup(
        Path::new(&format!("{MVT}/android_backup/backup2.ab")),
        &password("invalid_password"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("wrong password"), "{e}");
    let e = android::scan_backup(
        Path::new(&format!("{MVT}/androidqf_encrypted/backup.ab")),
        &none,
    )
    .unwrap_err();
    assert!(
        matches!(e, spydar::error::Error::PasswordRequired { .. }),
        "{e}"
    );
}

#[test]
#[ignore = "needs ../shared"]
fn bugreport_folder() {
    let s = android::scan_bugreport(
        Path::new(&format!("{MVT}/android_data/bugreport")),
        &ScanOptions::default(),
    )
    .unwrap();
    let appops = &module(&s, "dumpsys_appops").records;
    assert_eq!(appops_packages(appops).len(), 12);
    assert_eq!(appops.iter().filter(|r| r.timestamp.is_some()).count(), 16);
    // No SYSTEM PROPERTIES here, so no persist.sys.timezone: the times stay
    // the device's wall clock and say so.
    assert!(
        appops.iter().filter(|r| r.timestamp.is_some()).all(|r| r
            .fields
            .get("time_zone")
            .and_then(|v| v.as_str())
            == Some(spydar::time::UNKNOWN_LOCAL))
    );
    assert_eq!(warnings(appops).len(), 1);
    let pk: Vec<_> = module(&s, "dumpsys_packages")
        .records
        .iter()
        .filter(|r| r.event == "package_install")
        .collect();
    assert_eq!(pk.len(), 2);
    assert_eq!(pk[0].fields["installer"], "");
    assert_eq!(pk[0].fields["permissions"].as_array().unwrap().len(), 4);
    assert_eq!(pk[1].fields["package_name"], "com.instagram.android");
    assert_eq!(pk[1].fields["installer"], "com.android.vending");
    assert_eq!(pk[1].fields["permissions"].as_array().unwrap().len(), 32);
    assert_eq!(module(&s, "dumpsys_get_prop").status, ModuleStatus::Missing);
    let t = &module(&s, "tombstones").records;
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].fields["pid"], 3559);
    // MVT's receivers test feeds a preset dict; this dumpstate has no receiver table.
    assert_eq!(module(&s, "dumpsys_receivers").records.len(), 0);
    assert_eq!(module(&s, "bugreport_timestamps").records.len(), 2);
}

#[test]
#[ignore = "needs ../shared"]
fn androidqf_folder() {
    let s = android::scan_androidqf(
        Path::new(&format!("{MVT}/androidqf")),
        &ScanOptions::default(),
    )
    .unwrap();
    let files = &module(&s, "aqf_files").records;
    assert_eq!(
        files
            .iter()
            .filter(|r| r
                .observables
                .iter()
                .any(|o| o.kind == ObservableType::FilePath))
            .count(),
        3
    );
    assert_eq!(files.len(), 6);
    let g = &module(&s, "aqf_get_prop").records;
    assert_eq!(g.len(), 10);
    assert_eq!(g[0].fields["name"], "dalvik.vm.appimageformat");
    assert_eq!(g[0].fields["value"], "lz4");
    assert_eq!(module(&s, "aqf_processes").records.len(), 15);
    let p = &module(&s, "aqf_packages").records;
    assert_eq!(p.len(), 7);
    let w = warnings(p);
    assert_eq!(w.len(), 4, "{w:?}");
    assert_eq!(
        p.iter()
            .flat_map(|r| &r.alerts)
            .filter(|a| a.level == Level::Info)
            .count(),
        1
    );
    assert!(
        w.iter()
            .any(|m| m
                .starts_with("Found a non-system package installed via adb or another method:"))
    );
    let muahaha = p
        .iter()
        .find(|r| r.fields["package_name"] == "com.malware.muahaha")
        .unwrap();
    assert!(has_obs(
        muahaha,
        ObservableType::Sha256,
        "31037a27af59d4914906c01ad14a318eee2f3e31d48da8954dca62a99174e3fa"
    ));
    assert!(has_obs(
        muahaha,
        ObservableType::CertHash,
        "c7e56178748be1441370416d4c10e34817ea0c961eb636c8e9d98e0fd79bf730"
    ));
    let rb = &module(&s, "root_binaries").records;
    assert_eq!(rb.len(), 4);
    assert_eq!(warnings(rb).len(), 4);
    assert!(rb.iter().all(|r| r.alerts[0].severity == Severity::High));
    let st = &module(&s, "aqf_settings").records;
    let w = warnings(st);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("samsung_errorlog_agree"));
    assert_eq!(module(&s, "mounts").status, ModuleStatus::Missing);
    // Nested backup.ab → sms with both links.
    let links: std::collections::BTreeSet<_> = sms_links(&s).into_iter().flatten().collect();
    assert_eq!(
        links,
        [
            "http://google.com".to_string(),
            "https://google.com/".to_string()
        ]
        .into()
    );
    // dumpsys.txt, ignored by MVT, is read.
    assert_eq!(module(&s, "aqf_dumpsys_packages").status, ModuleStatus::Ok);
    assert!(!module(&s, "aqf_dumpsys_accessibility").records.is_empty());
}

#[test]
#[ignore = "needs ../shared"]
fn androidqf_zip_under_folder() {
    let s = android::scan_androidqf(
        Path::new(&format!("{MVT}/androidqf.zip")),
        &ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(module(&s, "aqf_get_prop").records.len(), 10);
    assert_eq!(module(&s, "aqf_packages").status, ModuleStatus::Missing);
    assert!(
        s.notes.iter().any(|n| n.contains("packages.json")),
        "{:?}",
        s.notes
    );
}

#[test]
#[ignore = "needs ../shared"]
fn androidqf_encrypted_backup() {
    let path = format!("{MVT}/androidqf_encrypted");
    let s = android::scan_androidqf(Path::new(&path), &password("123456")).unwrap();
    assert_eq!(sms_links(&s), [vec!["https://google.com/"]]);
    let s = android::scan_androidqf(Path::new(&path), &ScanOptions::default()).unwrap();
    assert!(
        s.notes.iter().any(|n| n.contains("password")),
        "{:?}",
        s.notes
    );
}
