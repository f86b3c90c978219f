//! Android 12+ files (issue 12 §2): ABX binary XML (`packages.xml`,
//! `settings_*.xml`, `appops.xml`), protobuf tombstones, the package
//! installer heuristic, battery-daily uninstalls and downgrades, and
//! signing-certificate hashes from packages.json, packages.xml, dumpsys and
//! APKs. Generated inputs with planted values and near-miss decoys, checked
//! through `spydar scan`'s report; MVT's counts on the shared samples.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use spydar::artifacts::android::{
    aqf_packages, aqf_settings, dumpsys_appops, dumpsys_battery_daily, dumpsys_packages, tombstones,
};
use spydar::fixtures::GenOptions;
use spydar::fixtures::android_abx::{self, cert_hashes, decoys, planted};
use spydar::model::{ObservableType as T, Record};
use spydar::time::DeviceZone;

use super::android_cli::findings;
use super::android_mvt::{has_obs as has, warnings};

fn opts(plant: bool) -> GenOptions {
    GenOptions {
        plant,
        ..GenOptions::default()
    }
}

/// `spydar scan INPUT --json` with the bundled indicators and `extra`.
fn scan(input: &Path, extra: &[&str]) -> (i32, Value) {
    let out = cargo_bin_cmd!("spydar")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .env("SPYDAR_NO_MVT_INDICATORS", "1")
        .arg("scan")
        .arg(input)
        .args(extra)
        .args(["--json", "--quiet"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no report on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A STIX bundle of `patterns` (one malware) in `dir`.
fn stix(dir: &Path, patterns: &[String]) -> PathBuf {
    let p: Vec<&str> = patterns.iter().map(String::as_str).collect();
    super::android_cli::stix(dir, &p)
}

/// The fixture's own indicators: the planted certificate's SHA-1 (upper
/// case: values compare in normal form) and the packages.json hash-only
/// values, written the way Echap's stalkerware set writes them
/// (`app:cert.sha1`, `file:hashes.sha256`).
fn fixture_iocs(dir: &Path) -> PathBuf {
    let [_, sha1, _] = cert_hashes(planted::CERT_DER);
    stix(
        dir,
        &[
            format!("[app:cert.sha1 = '{}']", sha1.to_uppercase()),
            format!("[app:cert.sha1 = '{}']", planted::JSON_CERT_SHA1),
            format!("[file:hashes.sha256 = '{}']", planted::JSON_APK_SHA256),
        ],
    )
}

/// (module, observable type) of the detections of `value`.
fn detected(r: &Value, value: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = findings(r, "detected")
        .into_iter()
        .filter(|f| f["observable"]["value"] == value)
        .map(|f| {
            (
                f["module"].as_str().unwrap_or("").to_string(),
                f["observable"]["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// (module, rule) of the warnings whose message names `what`.
fn warned(r: &Value, what: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = findings(r, "warning")
        .into_iter()
        .filter(|f| f["message"].as_str().unwrap_or("").contains(what))
        .map(|f| {
            (
                f["module"].as_str().unwrap_or("").to_string(),
                f["rule"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn pair(m: &str, t: &str) -> (String, String) {
    (m.to_string(), t.to_string())
}

#[test]
fn androidqf_abx_files_certificates_and_hash_only_packages() {
    let dir = tempfile::tempdir().unwrap();
    let acq = dir.path().join("acq");
    android_abx::generate_androidqf(&acq, &opts(true)).unwrap();
    assert!(
        std::fs::read(acq.join("packages.xml"))
            .unwrap()
            .starts_with(b"ABX\0")
    );
    let iocs = fixture_iocs(dir.path());
    let (code, r) = scan(&acq, &["--iocs", iocs.to_str().unwrap()]);
    assert_eq!(code, 1);
    let [md5, sha1, sha256] = cert_hashes(planted::CERT_DER);
    // The planted certificate: in packages.xml (its package and the bundled
    // app id signed with it by index) and in the APK. One finding per
    // record and malware: its SHA-1 (the records carry all three hashes).
    assert_eq!(
        detected(&r, &sha1),
        vec![
            pair("aqf_apks", "cert_hash"),
            pair("aqf_packages_xml", "cert_hash")
        ],
    );
    let records: Vec<_> = findings(&r, "detected")
        .into_iter()
        .filter(|f| f["observable"]["value"] == sha1.as_str())
        .collect();
    for f in records {
        let certs = &f["record"]["certificates"][0];
        assert_eq!(
            (&certs["md5"], &certs["sha256"]),
            (&Value::from(md5.as_str()), &Value::from(sha256.as_str()))
        );
    }
    // Hash-only packages of packages.json.
    assert_eq!(
        detected(&r, planted::JSON_CERT_SHA1),
        vec![pair("aqf_packages", "cert_hash")]
    );
    assert_eq!(
        detected(&r, planted::JSON_APK_SHA256),
        vec![pair("aqf_packages", "sha256")]
    );
    // The bundled app id, in packages.xml too.
    assert!(
        detected(&r, spydar::fixtures::android::planted::APP_ID)
            .contains(&pair("aqf_packages_xml", "app_id"))
    );
    // Decoys: none detected.
    let [dm, ds1, ds256] = cert_hashes(decoys::CERT_DER);
    for d in [
        dm.as_str(),
        ds1.as_str(),
        ds256.as_str(),
        decoys::JSON_CERT_SHA1,
        decoys::JSON_APK_SHA256,
        decoys::STORE_APP,
    ] {
        assert!(detected(&r, d).is_empty(), "{d}");
    }
    // Installer heuristics on packages.xml.
    assert_eq!(
        warned(&r, planted::BROWSER_INSTALLED),
        vec![pair("aqf_packages_xml", "android.browser_install")]
    );
    assert_eq!(
        warned(&r, planted::NO_INSTALLER),
        vec![pair("aqf_packages_xml", "android.sideloaded_package")]
    );
    for d in [decoys::STORE_APP, decoys::SYSTEM_APP] {
        assert!(warned(&r, d).is_empty(), "{d}");
    }
    // settings_global.xml (ABX): Play Protect off; the look-alike key and
    // the safe values say nothing.
    assert_eq!(
        warned(&r, "package_verifier_enable = 0"),
        vec![pair(
            "aqf_settings",
            "android.setting.package_verifier_enable"
        )]
    );
    assert!(warned(&r, "package_verifier_enable_x").is_empty());
    // appops.xml (ABX): installing apps allowed for one package only.
    assert_eq!(
        warned(&r, planted::INSTALLER_APP),
        vec![pair("aqf_appops_xml", "android.risky_permission")]
    );
    assert!(warned(&r, decoys::INSTALLER_APP).is_empty());
    assert!(warned(&r, "com.abx.fixture.camera").is_empty());
}

#[test]
fn androidqf_abx_clean_device_has_no_detection_in_these_modules() {
    let dir = tempfile::tempdir().unwrap();
    let acq = dir.path().join("acq");
    android_abx::generate_androidqf(&acq, &opts(false)).unwrap();
    let iocs = fixture_iocs(dir.path());
    let (code, r) = scan(&acq, &["--iocs", iocs.to_str().unwrap()]);
    assert_eq!(code, 0, "{:#?}", findings(&r, "detected"));
    let mine = [
        "aqf_packages_xml",
        "aqf_apks",
        "aqf_appops_xml",
        "aqf_settings",
    ];
    let noisy: Vec<_> = findings(&r, "warning")
        .into_iter()
        .filter(|f| mine.contains(&f["module"].as_str().unwrap_or("")))
        .collect();
    assert!(noisy.is_empty(), "{noisy:#?}");
}

#[test]
fn bugreport_protobuf_tombstone_twins_are_one_crash_with_backtrace_files() {
    let dir = tempfile::tempdir().unwrap();
    let br = dir.path().join("bugreport.zip");
    android_abx::generate_bugreport(&br, &opts(true)).unwrap();
    let (code, r) = scan(&br, &[]);
    assert_eq!(code, 1);
    // The bundled file:path indicator in a backtrace frame of the crash
    // written twice (text and protobuf): one detection, in tombstones.
    let files: Vec<_> = findings(&r, "detected")
        .into_iter()
        .filter(|f| f["observable"]["value"] == planted::BACKTRACE_FILE)
        .collect();
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(files[0]["module"], "tombstones");
    assert_eq!(files[0]["observable"]["type"], "file_path");
    assert_eq!(files[0]["count"].as_u64().unwrap_or(1), 1);
    assert!(detected(&r, decoys::BACKTRACE_FILE).is_empty());
    // Root crash of the planted process: a warning, from the one record.
    assert!(
        warned(
            &r,
            &format!("'{}' running as UID '0'", planted::TOMBSTONE_PROCESS)
        )
        .contains(&pair("tombstones", "android.privileged_crash"))
    );
}

fn zip_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            (f.name().unwrap().to_string(), d)
        })
        .collect()
}

#[test]
fn protobuf_and_text_tombstones_read_the_same_crash() {
    let files = ["/system/lib64/libc.so", planted::BACKTRACE_FILE];
    let pb = android_abx::tombstone_pb("crasher", 77, 1000, &files);
    let text = android_abx::tombstone_text("crasher", 77, 1000, &files);
    let a = tombstones::parse_protobuf(&pb).unwrap();
    let b = tombstones::parse_text(&text);
    for t in [&a, &b] {
        assert_eq!(t.process_name, "crasher");
        assert_eq!((t.pid, t.tid, t.uid), (Some(77), Some(77), Some(1000)));
        assert_eq!(t.backtrace_files, files);
        assert!(
            t.signal
                .starts_with("signal 6 (SIGABRT), code -1 (SI_QUEUE)"),
            "{}",
            t.signal
        );
    }
    assert_eq!(a.selinux_label, "u:r:untrusted_app:s0");
    // A root crash: proto3 leaves uid 0 out of the bytes.
    let root = tombstones::parse_protobuf(&android_abx::tombstone_pb("su", 9, 0, &[])).unwrap();
    assert_eq!(root.uid, Some(0));
    let rec = tombstones::to_record(&root, "tombstone_00.pb", &DeviceZone::Unknown);
    assert_eq!(rec.alerts.len(), 1);
    // Hostile bytes: no panic, no record.
    for n in 0..pb.len() {
        let _ = tombstones::parse("tombstone_00.pb", &pb[..n], &DeviceZone::Unknown);
    }
    assert!(tombstones::parse_protobuf(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_none());
    assert!(tombstones::parse_protobuf(&vec![0u8; tombstones::MAX_PB_BYTES + 1]).is_none());
    // The generated bugreport holds both forms of tombstone_05.
    let dir = tempfile::tempdir().unwrap();
    let br = dir.path().join("b.zip");
    android_abx::generate_bugreport(&br, &opts(true)).unwrap();
    let names: Vec<String> = zip_entries(&br).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"FS/data/tombstones/tombstone_05".to_string()));
    assert!(names.contains(&"FS/data/tombstones/tombstone_05.pb".to_string()));
}

#[test]
fn packages_xml_text_and_abx_give_the_same_records() {
    let abx = android_abx::packages_xml(&opts(true));
    let from_abx = aqf_packages::parse_packages_xml(&abx, "packages.xml").unwrap();
    // The same file as text XML (what Android 11 and earlier wrote).
    let doc = spydar::evidence::abx::read(&abx).unwrap();
    let mut xml = String::from("<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n");
    let mut open: Vec<(usize, String)> = Vec::new();
    for e in &doc.elements {
        while open.last().is_some_and(|(d, _)| *d >= e.depth) {
            let (_, n) = open.pop().unwrap();
            xml.push_str(&format!("</{n}>"));
        }
        xml.push_str(&format!("<{}", e.name));
        for (k, v) in &e.attrs {
            let text = match v {
                spydar::evidence::abx::Value::Hex(n) => format!("{n:x}"),
                // Text XML writes certificates in lower-case hex.
                v => v.text().to_lowercase(),
            };
            xml.push_str(&format!(" {k}=\"{text}\""));
        }
        xml.push('>');
        open.push((e.depth, e.name.to_string()));
    }
    while let Some((_, n)) = open.pop() {
        xml.push_str(&format!("</{n}>"));
    }
    let from_text = aqf_packages::parse_packages_xml(xml.as_bytes(), "packages.xml").unwrap();
    assert_eq!(from_abx.len(), from_text.len());
    for (a, b) in from_abx.iter().zip(&from_text) {
        assert_eq!(a.observables, b.observables);
        assert_eq!(a.alerts, b.alerts);
    }
    let certified = from_abx
        .iter()
        .find(|r| r.fields["package_name"] == planted::CERT_PACKAGE)
        .unwrap();
    assert!(has(
        certified,
        T::CertHash,
        &cert_hashes(planted::CERT_DER)[1]
    ));
    // Hostile: every truncation reads or fails, never panics.
    for n in 0..abx.len() {
        let _ = aqf_packages::parse_packages_xml(&abx[..n], "packages.xml");
        let _ = aqf_settings::parse_xml(&abx[..n], "global", "settings_global.xml");
        let _ = dumpsys_appops::parse_appops_xml(&abx[..n], "appops.xml");
    }
    assert!(aqf_packages::parse_packages_xml(b"not xml at all", "p").is_err());
}

#[test]
fn dumpsys_package_installer_heuristics_and_certificate_digests() {
    let digest = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    let section = format!(
        "Packages:
  Package [com.example.sideloaded] (1a2b3c):
    userId=10201
    pkgFlags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ]
    timeStamp=2026-11-01 10:00:00
    signatures=PackageSignatures{{6c98c74 version:2, signatures:[b378e95c], past signatures:[]}}
    Signing certificate SHA-256 digest: {digest}
  Package [com.example.browser] (1a2b3d):
    userId=10202
    installerPackageName=com.google.android.packageinstaller
    installInitiatingPackageName=com.android.chrome
    pkgFlags=[ HAS_CODE ]
  Package [com.example.store] (1a2b3e):
    userId=10203
    installerPackageName=com.android.vending
    installInitiatingPackageName=com.android.vending
    pkgFlags=[ HAS_CODE ]
  Package [com.example.system] (1a2b3f):
    userId=1000
    pkgFlags=[ SYSTEM HAS_CODE ]
"
    );
    let r = dumpsys_packages::parse(&section, "a");
    let main = |p: &str| {
        r.iter()
            .find(|x| x.event == "package_install" && x.fields["package_name"] == p)
            .unwrap()
    };
    let hex = digest.replace(':', "").to_lowercase();
    assert!(has(main("com.example.sideloaded"), T::CertHash, &hex));
    // The Java hash code `b378e95c` is no digest.
    assert_eq!(
        main("com.example.sideloaded").fields["cert_digests"],
        serde_json::json!([hex])
    );
    let rules = |p: &str| -> Vec<&str> { main(p).alerts.iter().map(|a| a.rule.as_str()).collect() };
    assert_eq!(
        rules("com.example.sideloaded"),
        ["android.sideloaded_package"]
    );
    assert_eq!(rules("com.example.browser"), ["android.browser_install"]);
    assert!(rules("com.example.store").is_empty());
    assert!(rules("com.example.system").is_empty());
    // An Android that never prints installers says nothing about them.
    let old = "Packages:\n  Package [com.example.old] (1):\n    userId=10001\n    pkgFlags=[ HAS_CODE ]\n";
    assert!(warnings(&dumpsys_packages::parse(old, "a")).is_empty());
}

#[test]
fn battery_daily_reads_as_mvt_2026() {
    let text = "  Daily from 2026-11-18-03-52-51 to 2026-11-19-04-08-49:
      Update com.example.app vers=10
      Update com.example.app vers=10
      Update com.example.gone vers=0
      Update com.example.truncated
      Update com.example.keep vers=5
  Daily from 2026-11-19-04-08-49 to 2026-11-20-04-00-00:
      Update com.example.app vers=9
      Update com.example.keep vers=05
      Update com.example.keep vers=6
";
    let r = dumpsys_battery_daily::parse(text, "a");
    // The repeated update is one record with two occurrences; the line
    // without `vers=` is skipped (MVT).
    assert_eq!(r.len(), 6, "{r:#?}");
    let app: Vec<_> = r
        .iter()
        .filter(|x| x.fields["package_name"] == "com.example.app")
        .collect();
    assert_eq!(app[0].fields["occurrences"], 2);
    assert_eq!(app[0].fields["from"], "2026-11-18 03:52:51");
    assert_eq!(
        app[0].timestamp.unwrap().to_string(),
        "2026-11-18T03:52:51Z"
    );
    let w = warnings(&r);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.contains(&"Detected uninstall of package com.example.gone (vers 0)"));
    assert!(w.contains(&"Detected downgrade of package com.example.app from vers 10 to vers 9"));
    assert!(has(&r[0], T::AppId, "com.example.app"));
}

// ------------------------------------------------------------------- MVT

const MVT: &str = "../shared/fixtures/mvt";

/// MVT 2026.10.26 on the generated bugreport (`spydar-fixtures
/// bugreport-abx /tmp/abx/bugreport.zip` and `spydar-fixtures androidqf-abx
/// /tmp/abx/acq`, then `mvt-android check-bugreport -o out
/// /tmp/abx/bugreport.zip`): 4 records in tombstones.json (tombstone_05
/// and tombstone_05.pb are one crash).
const MVT_GENERATED_TOMBSTONES: usize = 4;
/// Same run, `mvt-android check-androidqf -o out /tmp/abx/acq`: 31 records
/// in aqf_packages.json, 3 MEDIUM aqf_packages alerts (the hash-only
/// packages raise none), 4 records in dumpsys_battery_daily.json (from the
/// nested bugreport.zip) with 1 MEDIUM alert (a downgrade).
const MVT_GENERATED_AQF_PACKAGES: usize = 31;
const MVT_GENERATED_AQF_PACKAGE_WARNINGS: usize = 3;
const MVT_GENERATED_BATTERY_DAILY: usize = 4;
const MVT_GENERATED_BATTERY_DAILY_WARNINGS: usize = 1;
/// MVT 2026.10.26 on its own samples: `mvt-android check-bugreport -o out
/// ../shared/fixtures/mvt/android_data/bugreport` (2 records in
/// tombstones.json) and `mvt-android check-androidqf -o out
/// ../shared/fixtures/mvt/androidqf` (4 MEDIUM aqf_packages alerts).
const MVT_SAMPLE_TOMBSTONES: usize = 2;
const MVT_SAMPLE_AQF_PACKAGE_WARNINGS: usize = 4;

fn module_records(scan: &spydar::model::DeviceScan, name: &str) -> Vec<Record> {
    scan.modules
        .iter()
        .filter(|m| m.name == name)
        .flat_map(|m| m.records.iter().cloned())
        .collect()
}

#[test]
fn generated_counts_equal_mvt_2026_10_26() {
    let dir = tempfile::tempdir().unwrap();
    let o = spydar::artifacts::ScanOptions::default();
    let br = dir.path().join("bugreport.zip");
    android_abx::generate_bugreport(&br, &opts(true)).unwrap();
    let s = spydar::artifacts::android::scan_bugreport(&br, &o).unwrap();
    assert_eq!(
        module_records(&s, "tombstones").len(),
        MVT_GENERATED_TOMBSTONES
    );
    let acq = dir.path().join("acq");
    android_abx::generate_androidqf(&acq, &opts(true)).unwrap();
    let s = spydar::artifacts::android::scan_androidqf(&acq, &o).unwrap();
    let p = module_records(&s, "aqf_packages");
    assert_eq!(p.len(), MVT_GENERATED_AQF_PACKAGES);
    assert_eq!(
        warnings(&p).len(),
        MVT_GENERATED_AQF_PACKAGE_WARNINGS,
        "{:?}",
        warnings(&p)
    );
    let d = module_records(&s, "dumpsys_battery_daily");
    assert_eq!(d.len(), MVT_GENERATED_BATTERY_DAILY);
    assert_eq!(warnings(&d).len(), MVT_GENERATED_BATTERY_DAILY_WARNINGS);
}

#[test]
#[ignore = "needs ../shared"]
fn sample_counts_equal_mvt_2026_10_26() {
    let o = spydar::artifacts::ScanOptions::default();
    let s = spydar::artifacts::android::scan_bugreport(
        Path::new(&format!("{MVT}/android_data/bugreport")),
        &o,
    )
    .unwrap();
    assert_eq!(
        module_records(&s, "tombstones").len(),
        MVT_SAMPLE_TOMBSTONES
    );
    let data = std::fs::read(format!("{MVT}/androidqf/packages.json")).unwrap();
    let r = aqf_packages::parse(&data, "packages.json").unwrap();
    assert_eq!(
        warnings(&r).len(),
        MVT_SAMPLE_AQF_PACKAGE_WARNINGS,
        "{:?}",
        warnings(&r)
    );
    // MVT's protobuf and text copies of one crash read the same.
    let pb = std::fs::read(format!("{MVT}/android_data/tombstone_process.pb")).unwrap();
    let tx = std::fs::read(format!("{MVT}/android_data/tombstone_process.txt")).unwrap();
    let a = tombstones::parse_any("t.pb", &pb).unwrap();
    let b = tombstones::parse_any("t", &tx).unwrap();
    assert_eq!(
        (a.pid, a.tid, a.uid, &a.process_name),
        (b.pid, b.tid, b.uid, &b.process_name)
    );
    assert_eq!(a.backtrace_files, b.backtrace_files);
    assert!(!a.backtrace_files.is_empty());
}

/// Echap's stalkerware set as it is (`app:cert.sha1` in upper case,
/// `file:hashes.sha256`): a package found by its certificate SHA-1 only and
/// one by its APK hash only are detected in aqf_packages.
#[test]
#[ignore = "needs ../shared"]
fn stalkerware_certificate_sha1_only_and_apk_hash_only() {
    let set = "../shared/indicators/stalkerware/stalkerware.stix2";
    let bundle: Value = serde_json::from_slice(&std::fs::read(set).unwrap()).unwrap();
    let value = |key: &str| -> String {
        let p = bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["pattern"].as_str())
            .find(|p| p.contains(key))
            .unwrap();
        p.split('\'').nth(1).unwrap().to_string()
    };
    let (sha1, sha256) = (value("app:cert.sha1"), value("file:hashes.sha256"));
    let dir = tempfile::tempdir().unwrap();
    let acq = dir.path().join("acq");
    android_abx::generate_androidqf(&acq, &opts(false)).unwrap();
    let path = acq.join("packages.json");
    let mut pkgs: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    pkgs.push(android_abx::hash_only_package(
        "com.example.bycert",
        "",
        Some(&sha1),
    ));
    pkgs.push(android_abx::hash_only_package(
        "com.example.byapk",
        &sha256,
        None,
    ));
    std::fs::write(&path, serde_json::to_vec(&pkgs).unwrap()).unwrap();
    let (code, r) = scan(&acq, &["--iocs", set]);
    assert_eq!(code, 1);
    assert_eq!(
        detected(&r, &sha1.to_lowercase()),
        vec![pair("aqf_packages", "cert_hash")]
    );
    assert_eq!(detected(&r, &sha256), vec![pair("aqf_packages", "sha256")]);
}
