//! Sysdiagnose inputs shaped like real ones: the real pieces in
//! `../shared/fixtures/real/sysdiag-pieces` (ignored without ../shared), a
//! generated equivalent of them, and generated iOS 26 rotated shutdown
//! logs. Folder and `.tar.gz` forms each.

use crate::common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use spydar::artifacts::{ScanOptions, sysdiagnose};
use spydar::fixtures::sysdiagnose::{self as gen_sd, planted};
use spydar::model::{DeviceScan, ObservableType, Record};

const REAL: &str = "../shared/fixtures/real/sysdiag-pieces";
const REAL_ROOT: &str = "sysdiagnose_2099.01.01_00-00-00+0000_realpieces";

fn scan(path: &Path) -> DeviceScan {
    sysdiagnose::scan(path, &ScanOptions::default()).unwrap()
}

use crate::common::module_records as records;

fn has(r: &Record, kind: ObservableType, v: &str) -> bool {
    r.observables.iter().any(|o| o.kind == kind && o.value == v)
}

fn field<'a>(r: &'a Record, k: &str) -> &'a Value {
    r.fields.get(k).unwrap_or(&Value::Null)
}

/// What the real pieces (and their generated equivalent) must yield:
/// 15 app ids from mobile_installation.log.0, with device-local times
/// converted by the folder name's offset; every process of the iOS 16
/// panic's `processByPid`.
fn check_pieces(s: &DeviceScan, offset_label: &str, first_utc: &str) {
    let mi = records(s, "mobile_installation");
    assert_eq!(mi.len(), 15, "one record per bundle id the log names");
    for r in &mi {
        let id = field(r, "bundle_id").as_str().unwrap();
        assert!(has(r, ObservableType::AppId, id), "{id}");
        assert!(r.timestamp.is_some(), "{id} has a time");
        let tz = field(r, "time_zone").as_str().unwrap();
        assert!(tz.starts_with(offset_label), "{tz}");
    }
    assert_eq!(mi[0].timestamp.unwrap().to_string(), first_utc);
    assert_eq!(field(mi[0], "local_time"), "2021-08-11T05:51:02");
    assert!(
        mi.iter().any(|r| field(r, "bundle_id")
            == "com.apple.accessibility.Accessibility.HearingAidsTapToRadar")
    );

    let crashes = records(s, "crash_reports");
    let panic = crashes
        .iter()
        .find(|r| field(r, "bug_type") == "151")
        .expect("the iOS 16 panic report");
    let procs = field(panic, "processes").as_array().unwrap();
    assert_eq!(procs.len(), 6);
    for n in [
        "kernel_task",
        "launchd",
        "restored_update",
        "asr",
        "PurpleReverseProxy",
    ] {
        assert!(has(panic, ObservableType::Process, n), "{n}");
    }
    assert_eq!(
        panic.timestamp.unwrap().to_string(),
        "2022-12-24T11:43:00.47Z"
    );
    let itunes = crashes
        .iter()
        .find(|r| field(r, "proc_name") == "itunescloudd")
        .unwrap();
    // `2021-10-22 00:14:53.00 +0300` is 21:14:53 UTC the day before.
    assert_eq!(
        itunes.timestamp.unwrap().to_string(),
        "2021-10-21T21:14:53Z"
    );
}

fn real(name: &str) -> PathBuf {
    Path::new(REAL).join(name)
}

#[test]
#[ignore = "needs ../shared"]
fn real_pieces_folder_and_targz() {
    for p in [real(REAL_ROOT), real(&format!("{REAL_ROOT}.tar.gz"))] {
        let s = scan(&p);
        check_pieces(&s, "+00:00 ", "2021-08-11T05:51:02Z");
        // Pinned per-module counts of the modules that read something (MVT
        // has no sysdiagnose modules to compare with). crash_reports: one
        // record per .ips (4); unified_log_images: the two uuidtext files.
        let counts: Vec<(String, usize)> = s
            .modules
            .iter()
            .filter(|m| m.status != spydar::model::ModuleStatus::Missing)
            .map(|m| (m.name.clone(), m.records.len()))
            .collect();
        let want: Vec<(String, usize)> = [
            ("crash_reports", 4),
            ("mobile_installation", 15),
            ("unified_log_images", 2),
        ]
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
        assert_eq!(counts, want, "{}", p.display());
    }
}

#[test]
#[ignore = "needs ../shared"]
fn real_pieces_scan_without_detection() {
    for p in [real(REAL_ROOT), real(&format!("{REAL_ROOT}.tar.gz"))] {
        let dir = tempfile::tempdir().unwrap();
        let before = common::tree(Path::new(REAL));
        let (code, report) = common::scan(&p, &dir.path().join("out"), &[]);
        assert_eq!(code, 0, "{}", report["findings"]);
        assert_eq!(report["summary"]["detected"], 0);
        assert_eq!(before, common::tree(Path::new(REAL)), "input untouched");
    }
}

#[test]
fn generated_pieces_folder_and_targz() {
    let dir = tempfile::tempdir().unwrap();
    let members = gen_sd::real_pieces_like();
    // The real folder's name: offset +0000.
    let folder = gen_sd::write_members(dir.path(), REAL_ROOT, &members).unwrap();
    check_pieces(&scan(&folder), "+00:00 ", "2021-08-11T05:51:02Z");
    // A folder name at +0200: the device-local times move two hours back.
    let root = "sysdiagnose_2021.08.12_10-00-00+0200_iPhone-OS_iPhone_18H17";
    let tgz =
        gen_sd::write_members(&dir.path().join(format!("{root}.tar.gz")), root, &members).unwrap();
    check_pieces(&scan(&tgz), "+02:00 ", "2021-08-11T03:51:02Z");
}

/// Without an offset in the folder name, device-local times say so.
#[test]
fn unknown_zone_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let folder = gen_sd::write_members(
        dir.path(),
        "sysdiagnose_from_somewhere",
        &gen_sd::real_pieces_like(),
    )
    .unwrap();
    let s = scan(&folder);
    let mi = records(&s, "mobile_installation");
    assert_eq!(mi.len(), 15);
    assert!(
        mi.iter()
            .all(|r| field(r, "time_zone") == "unknown, device-local")
    );
    // The crash report's own offset still gives true UTC.
    let crashes = records(&s, "crash_reports");
    assert!(crashes.iter().all(|r| field(r, "time_zone").is_null()));
}

/// iOS 26: only rotated logs, client paths ending in `/<UUID>`. Every
/// rotation is read (folder and .tar.gz), the path observable has the UUID
/// stripped so exact path indicators match, the raw value is kept, and the
/// sticky-process heuristic still fires.
#[test]
fn ios26_rotated_shutdown_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = "sysdiagnose_2026.06.01_10-00-00+0200_iPhone-OS_iPhone_23A100";
    let members = gen_sd::ios26_shutdown_members();
    let folder = gen_sd::write_members(dir.path(), root, &members).unwrap();
    let tgz =
        gen_sd::write_members(&dir.path().join(format!("{root}.tar.gz")), root, &members).unwrap();
    for p in [folder, tgz] {
        let s = scan(&p);
        let recs = records(&s, "shutdown_log");
        let members: std::collections::BTreeSet<&str> =
            recs.iter().map(|r| r.artifact.as_str()).collect();
        assert_eq!(
            members.into_iter().collect::<Vec<_>>(),
            [
                "system_logs.logarchive/Extra/shutdown.0.log",
                "system_logs.logarchive/Extra/shutdown.1.log"
            ]
        );
        let hit: Vec<&&Record> = recs
            .iter()
            .filter(|r| has(r, ObservableType::FilePath, planted::IOS26_PATH))
            .collect();
        assert_eq!(hit.len(), 1);
        let r = hit[0];
        assert_eq!(
            field(r, "path"),
            &format!(
                "{}/0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9",
                planted::IOS26_PATH
            )
        );
        assert_eq!(field(r, "uuid"), "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9");
        assert!(has(r, ObservableType::Process, "mptbd"));
        assert!(!r.observables.iter().any(|o| o.value.contains("0F1E2D3C")));
        let rules: Vec<&str> = r.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert!(rules.contains(&"shutdown_log.sticky_process"), "{rules:?}");
        assert!(rules.contains(&"shutdown_log.unusual_path"), "{rules:?}");
        // Shutdown times are Unix seconds: UTC, whatever the folder's offset.
        assert_eq!(r.timestamp.unwrap().as_second(), 1_780_090_000);
        assert!(field(r, "time_zone").is_null());
        let stock = recs
            .iter()
            .find(|r| has(r, ObservableType::FilePath, "/usr/sbin/filecoordinationd"))
            .unwrap();
        assert!(stock.alerts.is_empty());
    }
}

/// The same logs through the CLI with an exact `file:path` indicator: the
/// UUID-suffixed client path is `detected`.
#[test]
fn ios26_exact_path_indicator_matches() {
    let dir = tempfile::tempdir().unwrap();
    let root = "sysdiagnose_2026.06.01_10-00-00+0200_iPhone-OS_iPhone_23A100";
    let tgz = gen_sd::write_members(
        &dir.path().join(format!("{root}.tar.gz")),
        root,
        &gen_sd::ios26_shutdown_members(),
    )
    .unwrap();
    let stix = dir.path().join("path.stix2");
    std::fs::write(
        &stix,
        format!(
            r#"{{"type":"bundle","objects":[
          {{"type":"malware","id":"malware--1","name":"TestSpy"}},
          {{"type":"indicator","id":"indicator--1","pattern":"[file:path = '{}']"}},
          {{"type":"relationship","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--1"}}]}}"#,
            planted::IOS26_PATH
        ),
    )
    .unwrap();
    let (code, report) = common::scan(
        &tgz,
        &dir.path().join("out"),
        &["--no-bundled-iocs", "--iocs", stix.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    let hits: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected" && f["module"] == "shutdown_log")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["observable"]["value"], planted::IOS26_PATH);
}

/// Audit of byte-offset slicing in the sysdiagnose parsers (issue 9 §4):
/// every site slices at an ASCII delimiter it found, at a `char_indices`
/// position or through `get(..)`, so none was unsafe. This guards each
/// site with multi-byte text right where it cuts; a panic here would be an
/// exit 101 outside the module guard when called directly.
#[test]
fn multibyte_text_at_every_cut_never_panics() {
    use spydar::artifacts::sysdiagnose::{
        apps, crash_reports, device, local_time, network, processes, shutdown_log,
    };
    // crash_reports::name_from_file: walks back over `-` fields.
    assert_eq!(
        crash_reports::name_from_file("crashes_and_spins/Ünïcødé-2024-01-01-101010.ips"),
        Some("Ünïcødé")
    );
    assert_eq!(crash_reports::name_from_file("x/é-é-é-é.ips"), None);
    // crash_reports::ips legacy body: `Process:` and Binary Images ` /`.
    let text = "{\"bug_type\":109}\nProcess: ñämé [1]\nPath: /private/var/tmp/é\n\nBinary Images:\n0x1 - 0x2 ñ arm64 <é> /private/var/tmp/é/ü\n0x1é /\n";
    let r = &crash_reports::ips("a.ips", text.as_bytes()).unwrap()[0];
    assert!(
        r.observables
            .iter()
            .any(|o| o.value == "/private/var/tmp/é/ü")
    );
    // network::security: after `srvr` / `sdmn`.
    let r =
        network::security("s", "m", "srvrü: x srvr:é.example.com, sdmn=ü\n".as_bytes()).unwrap();
    assert!(r.len() <= 2);
    // processes::ps: the command from the n-th field; spindump `> /`.
    let ps = "USER PID COMMAND\nrööt 12 /usr/libexec/ñ -é\n";
    let r = processes::ps("ps", "ps.txt", ps.as_bytes()).unwrap();
    assert_eq!(r[0].fields.get("command").unwrap(), "/usr/libexec/ñ -é");
    let spin = "Process: é [1]\nPath: /é/x\n  0x1 - 0x2 é <é> /é/y\n  0x1 - 0x2 é <é>é /\n";
    processes::spindump("spindump", "s.txt", spin.as_bytes()).unwrap();
    // shutdown_log: SIGTERM's `@` fallback takes ten characters.
    let log = "After 0.01s, these clients are still here:\n\t\tremaining client pid: é (/é/ü)\nSIGTERM: [é] @éééééééééé\nSIGTERM: [x] @17000000é0\n";
    let r = shutdown_log::records("shutdown.log", log.as_bytes()).unwrap();
    assert!(r.iter().all(|r| r.timestamp.is_none()));
    // device::from_root_name and local_time::root_offset: fixed widths.
    for name in [
        "sysdiagnose_2024.01.02_03-04-0é+0200_a_b_c",
        "sysdiagnose_2024.01.02_03-04-05+02é_a_b_c",
        "sysdiagnose_é_é_é_é_é",
    ] {
        let _ = device::from_root_name(name);
        assert!(local_time::root_offset(name).is_none(), "{name}");
    }
    // local_time::log_prefix and apps::install_log.
    assert!(local_time::log_prefix("Wéd Äug 11 05:51:02 2021").is_none());
    let r = apps::install_log(
        "m",
        "m.log",
        "Wed Aug 11 05:51:02 2021 [1] Made container live for é.ü at /é\n".as_bytes(),
    )
    .unwrap();
    assert!(r.is_empty(), "é.ü is not an ASCII bundle id");
}
