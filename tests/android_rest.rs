//! The rest of issue 12 §2 for Android: a bugreport's mount table
//! (`FS/proc/<pid>/mountinfo`, MVT 2026's bugreport `mounts`), dumpsys
//! package's "Hidden system packages:", and androidqf's `command.log`.
//! Planted values are found in the right module as the right kind of value;
//! near-miss decoys stay silent.

use crate::android_coverage::{AQF_LAYOUTS, opts, scan};
use crate::common::module_records;

use spydar::artifacts::android::dumpsys_packages::package_count;
use spydar::evidence::InputKind;
use spydar::fixtures::android::{
    decoys, generate_bugreport_current, generate_bugreport_text, planted,
};
use spydar::fixtures::android_aqf::generate_androidqf_current;
use spydar::model::{DeviceScan, Finding, Level, ModuleStatus, ObservableType as T, Severity};

/// `(kind, value)` of every `detected` finding of `module`.
fn detected_in(f: &[Finding], module: &str) -> Vec<(T, String)> {
    let mut v: Vec<_> = f
        .iter()
        .filter(|f| f.level == Level::Detected && f.module == module)
        .filter_map(|f| {
            let o = f.observable.as_ref()?;
            Some((o.kind, o.value.clone()))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The warning messages of one module.
fn warnings_of(s: &DeviceScan, module: &str) -> Vec<String> {
    module_records(s, module)
        .into_iter()
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.level == Level::Warning)
        .map(|a| a.message.clone())
        .collect()
}

fn status(s: &DeviceScan, module: &str) -> ModuleStatus {
    s.modules
        .iter()
        .find(|m| m.name == module)
        .unwrap_or_else(|| panic!("no module {module}"))
        .status
}

#[test]
fn bugreport_mounts_planted_decoys_and_heuristics() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    generate_bugreport_current(&p, &opts(true)).unwrap();
    let (kind, s, f) = scan(&p);
    assert_eq!(kind, InputKind::AndroidBugreport);
    let m = module_records(&s, "mounts");
    // 8 shared + 2 planted mounts in both namespaces, and the app's own.
    assert_eq!(m.len(), 11);
    let root = m.iter().find(|r| r.fields["mount_point"] == "/").unwrap();
    assert_eq!(root.fields["process_ids"], serde_json::json!([1, 2345]));
    assert!(
        root.artifact.ends_with("FS/proc/1/mountinfo"),
        "{}",
        root.artifact
    );
    // Predator's folder as a mount point; its neighbour /data/local/tmp/wdx
    // is silent.
    assert_eq!(
        detected_in(&f, "mounts"),
        [(T::FilePath, "/data/local/tmp/wd".to_string())]
    );
    // Only /system (writable both ways) warns: not the writable
    // /system_dlkm, not the overlay whose superblock alone is writable,
    // not noatime on /system_ext.
    let w = warnings_of(&s, "mounts");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("Root detected /system partition"), "{w:?}");
    assert_eq!(w[1], "Suspicious mount options found for /system: rw");
    let sev: Vec<Severity> = m
        .iter()
        .flat_map(|r| r.alerts.iter())
        .map(|a| a.severity)
        .collect();
    assert_eq!(sev, [Severity::High, Severity::Medium]);

    let clean = dir.path().join("clean.zip");
    generate_bugreport_current(&clean, &opts(false)).unwrap();
    let (_, s, f) = scan(&clean);
    assert_eq!(module_records(&s, "mounts").len(), 9);
    assert!(warnings_of(&s, "mounts").is_empty());
    assert!(detected_in(&f, "mounts").is_empty());

    // A plain-text bugreport has no FS/ files.
    let txt = dir.path().join("bugreport.txt");
    generate_bugreport_text(&txt, &opts(true)).unwrap();
    let (_, s, _) = scan(&txt);
    assert_eq!(status(&s, "mounts"), ModuleStatus::Missing);
}

/// Inside androidqf the nested bugreport's mount table is
/// `bugreport_mounts`, beside androidqf's own `mounts` (mounts.json): no
/// two modules share a name.
#[test]
fn androidqf_reads_both_mount_tables() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("acq");
    generate_androidqf_current(&p, &opts(true), None).unwrap();
    let (_, s, f) = scan(&p);
    assert_eq!(status(&s, "mounts"), ModuleStatus::Ok);
    assert_eq!(status(&s, "bugreport_mounts"), ModuleStatus::Ok);
    assert_eq!(module_records(&s, "mounts").len(), 4);
    assert_eq!(module_records(&s, "bugreport_mounts").len(), 11);
    assert_eq!(
        detected_in(&f, "bugreport_mounts"),
        [(T::FilePath, "/data/local/tmp/wd".to_string())]
    );
    let mut names: Vec<&str> = s.modules.iter().map(|m| m.name.as_str()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "a module name twice");
}

#[test]
fn hidden_system_packages_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bugreport.zip");
    generate_bugreport_current(&p, &opts(true)).unwrap();
    let (_, s, f) = scan(&p);
    let pk = module_records(&s, "dumpsys_packages");
    // 20 fillers, 3 decoys, the planted app and magisk are installed; the
    // factory versions of a filler, a decoy and the planted app are hidden.
    let owned: Vec<_> = pk.iter().map(|r| (*r).clone()).collect();
    assert_eq!(package_count(&owned), 25);
    let hidden: Vec<_> = pk
        .iter()
        .filter(|r| r.event == "hidden_system_package")
        .collect();
    assert_eq!(hidden.len(), 3);
    assert!(hidden.iter().all(|r| r.alerts.is_empty()));
    assert!(
        hidden
            .iter()
            .all(|r| r.fields["updated_package_listed"] == true)
    );
    assert_eq!(hidden[2].fields["package_name"], planted::APP_ID);
    assert_eq!(hidden[2].fields["code_path"], "/system/app/Factory2");
    // One app id per package: the planted app is one detection, the decoy
    // none.
    let app_ids: Vec<_> = detected_in(&f, "dumpsys_packages")
        .into_iter()
        .filter(|(k, _)| *k == T::AppId)
        .collect();
    assert_eq!(app_ids, [(T::AppId, planted::APP_ID.to_string())]);
    assert_eq!(
        f.iter()
            .filter(|x| x.level == Level::Detected
                && x.module == "dumpsys_packages"
                && x.observable
                    .as_ref()
                    .is_some_and(|o| o.value == planted::APP_ID))
            .count(),
        1
    );
    assert!(!f.iter().any(|x| {
        x.observable
            .as_ref()
            .is_some_and(|o| o.value == decoys::APP_IDS[0])
            && x.level == Level::Detected
    }));
    // The installer heuristics fire as before (the planted app's null
    // installer), never for a hidden factory version.
    let w = warnings_of(&s, "dumpsys_packages");
    assert!(
        w.iter().all(|m| !m.contains("com.example.filler0\"")),
        "{w:?}"
    );
}

#[test]
fn command_log_notes_device_facts_and_sweep() {
    let dir = tempfile::tempdir().unwrap();
    for (name, wrapper) in AQF_LAYOUTS {
        let p = dir.path().join(name);
        generate_androidqf_current(&p, &opts(true), wrapper).unwrap();
        let (_, s, f) = scan(&p);
        let x = &s.device.extra;
        assert_eq!(x["acquisition_log_first"], "2026-11-20T09:59:58Z", "{name}");
        assert_eq!(x["acquisition_log_last"], "2026-11-20T10:05:00Z", "{name}");
        assert_eq!(x["acquisition_log_entries"], "10", "{name}");
        assert_eq!(x["acquisition_log_problems"], "3", "{name}");
        let notes: Vec<&String> = s
            .notes
            .iter()
            .filter(|n| n.contains("(command.log)"))
            .collect();
        assert_eq!(notes.len(), 3, "{name}: {:?}", s.notes);
        assert!(notes[0].contains("failed to run module backup"));
        assert!(notes[1].contains("[ERROR]") && notes[1].contains("No such file"));
        // The planted host in a command's output; the decoys silent.
        assert_eq!(
            detected_in(&f, "aqf_command_log"),
            [(T::Domain, planted::DOMAIN.to_string())],
            "{name}"
        );
        // The planted host in Chrome's history (pulled as root); the decoys
        // silent.
        assert_eq!(
            detected_in(&f, "aqf_browser_history"),
            [(T::Url, format!("https://{}/s/1", planted::DOMAIN))],
            "{name}"
        );
        assert_eq!(module_records(&s, "aqf_browser_history").len(), 4);
        // Collected with existing root: a Magisk module and a boot script
        // (warnings); the script's call to the planted host.
        let w = |m: &str| warnings_of(&s, m);
        assert_eq!(
            w("aqf_magisk_modules"),
            ["A Magisk module is installed: System Helper"]
        );
        assert_eq!(
            w("aqf_init_scripts"),
            ["A script runs at every boot from /system/etc/init.d/99sys_helper"]
        );
        assert!(
            detected_in(&f, "aqf_init_scripts")
                .iter()
                .any(|(_, v)| v.contains(planted::DOMAIN)),
            "{name}"
        );
        // Every file androidqf wrote is read in every layout.
        for m in [
            "aqf_magisk_modules",
            "aqf_init_scripts",
            "aqf_browser_history",
            "aqf_files",
            "mounts",
            "aqf_tmp",
            "aqf_logs",
            "aqf_log_timestamps",
            "aqf_hashes",
            "aqf_command_log",
            "dns_event",
            "bugreport_mounts",
        ] {
            assert_eq!(status(&s, m), ModuleStatus::Ok, "{name}: {m}");
        }
    }
    let clean = dir.path().join("clean.zip");
    generate_androidqf_current(&clean, &opts(false), None).unwrap();
    let (_, s, f) = scan(&clean);
    assert!(detected_in(&f, "aqf_command_log").is_empty());
    assert!(detected_in(&f, "aqf_browser_history").is_empty());
    assert_eq!(module_records(&s, "aqf_browser_history").len(), 3);
    // Not rooted: the Magisk manifest says so, nothing to warn about.
    assert_eq!(status(&s, "aqf_magisk_modules"), ModuleStatus::Ok);
    assert!(module_records(&s, "aqf_magisk_modules").is_empty());
    assert_eq!(status(&s, "aqf_init_scripts"), ModuleStatus::Missing);
    assert_eq!(s.device.extra["acquisition_log_problems"], "3");
}
