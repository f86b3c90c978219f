//! Issue 10 §4 and issue 9 §4: `spydar recheck` treats a saved output
//! folder as untrusted input (links, module names, endless files), keeps
//! the original scan time, and every CSV cell a spreadsheet would run is
//! neutralised.

use crate::common;
use common::tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use spydar::model::{DeviceInfo, ModuleOutput, ModuleStatus, ObservableType, Platform, Record};
use spydar::report::{self, IndicatorsInfo, Report, ScanTimes};

fn spydar() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("spydar").unwrap();
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .timeout(Duration::from_secs(60));
    cmd
}

fn recheck(out: &Path) -> (i32, String) {
    let o = spydar().arg("recheck").arg(out).arg("-q").output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const ID: &str = "00008030-TEST";
/// When the saved device was (supposedly) scanned.
const SCANNED: i64 = 1_600_000_000;

/// Cells as a hostile device could write them, and what timeline.csv must hold.
const CELLS: &[(&str, &str)] = &[
    (
        "=HYPERLINK(\"http://x.example\",\"y\")",
        "'=HYPERLINK(\"http://x.example\",\"y\")",
    ),
    ("+SUM(1,2)", "'+SUM(1,2)"),
    ("-2+3", "'-2+3"),
    ("@cmd", "'@cmd"),
    ("\tindent", "'\tindent"),
    ("\rreturn", "'\rreturn"),
    (
        "plain, with \"quotes\"\nand a line",
        "plain, with \"quotes\"\nand a line",
    ),
    ("a=b", "a=b"),
];

fn records() -> Vec<Record> {
    CELLS
        .iter()
        .enumerate()
        .map(|(i, (text, _))| {
            Record::new("safari_history", "HomeDomain/Library/Safari/History.db")
                .at(spydar::time::from_unix(1_700_000_000 + i as i64))
                .event("visit", *text)
                .observe(ObservableType::Url, "https://nottracker-zz.example/")
        })
        .collect()
}

/// OUTDIR/ID written as `spydar scan -o` does.
fn saved(out: &Path) -> PathBuf {
    let modules = vec![ModuleOutput {
        name: "safari_history".into(),
        artifact: "HomeDomain/Library/Safari/History.db".into(),
        status: ModuleStatus::Ok,
        error: None,
        duration_ms: 1,
        records: records(),
        streamed: 0,
    }];
    let device = DeviceInfo {
        platform: Some(Platform::Ios),
        input_kind: "ios-backup".into(),
        input_path: "/evidence/phone".into(),
        identifier: Some(ID.into()),
        ..Default::default()
    };
    let t = jiff::Timestamp::from_second(SCANNED).unwrap();
    let r = Report::new(
        device,
        &modules,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        IndicatorsInfo {
            total: 0,
            sources: Vec::new(),
        },
        ScanTimes {
            started: t,
            finished: t,
            duration_ms: 5,
        },
    );
    let dir = out.join(ID);
    report::write_device(&dir, &r, &modules, Vec::new()).unwrap();
    dir
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn recheck_twice_keeps_the_original_scan_time() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let dir = saved(&out);
    let original = json(&dir.join("report.json"))["scan"].clone();
    for _ in 0..2 {
        let (code, err) = recheck(&out);
        assert_eq!(code, 0, "{err}");
    }
    let r = json(&dir.join("report.json"));
    assert_eq!(r["scan"], original, "the original scan's times are kept");
    assert_eq!(r["scan"]["started"], "2020-09-13T12:26:40Z");
    let rechecked: jiff::Timestamp = r["rechecked"].as_str().unwrap().parse().unwrap();
    assert!(rechecked.as_second() > SCANNED + 100_000_000);
    let notes: Vec<&str> = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| n.starts_with("rechecked from saved records"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("originally scanned 2020-09-13T12:26:40Z"));
}

#[test]
fn timeline_cells_a_spreadsheet_would_run_are_neutralised() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let dir = saved(&out);
    // Once as scan writes it, once as recheck rewrites it.
    for pass in 0..2 {
        if pass == 1 {
            assert_eq!(recheck(&out).0, 0);
        }
        let mut rdr = csv::Reader::from_path(dir.join("timeline.csv")).unwrap();
        assert_eq!(
            rdr.headers().unwrap(),
            vec!["time", "module", "event", "description"]
        );
        let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), CELLS.len());
        for (row, (_, want)) in rows.iter().zip(CELLS) {
            assert_eq!(&row[3], *want);
            assert_eq!(&row[1], "safari_history");
        }
    }
}

#[cfg(unix)]
#[test]
fn recheck_never_writes_through_a_planted_link() {
    for name in ["report.html", "timeline.csv", "report.json"] {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let dir = saved(&out);
        let victim = d.path().join("victim.txt");
        std::fs::write(&victim, b"keep me").unwrap();
        if name == "report.json" {
            // A linked report.json is not read either.
            std::fs::rename(dir.join(name), d.path().join("real.json")).unwrap();
            std::os::unix::fs::symlink(d.path().join("real.json"), dir.join(name)).unwrap();
        } else {
            std::fs::remove_file(dir.join(name)).unwrap();
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        let outside = |d: &Path| {
            let mut t = tree(d);
            t.retain(|k, _| !k.starts_with("out/"));
            t
        };
        let before = outside(d.path());
        let (code, err) = recheck(&out);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(name), "{name}: {err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me", "{name}");
        assert_eq!(
            outside(d.path()),
            before,
            "{name}: a file outside OUTDIR changed"
        );
    }
}

#[test]
fn a_module_name_walking_out_of_records_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("case").join("out");
    let dir = saved(&out);
    // A record file planted outside OUTDIR, where `../../../x` leads, in a
    // layout that rewriting would change (spaces after the colons).
    let line = serde_json::to_string(&records()[0])
        .unwrap()
        .replace("\":", "\": ");
    let target = d.path().join("x.jsonl");
    std::fs::write(&target, format!("{line}\n")).unwrap();
    let mut report = json(&dir.join("report.json"));
    report["modules"][0]["name"] = "../../../../x".into();
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
    let before_outside: Vec<_> = tree(d.path())
        .into_iter()
        .filter(|(k, _)| !k.starts_with("case/out/"))
        .collect();
    let (code, err) = recheck(&out);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("../../../../x") && err.contains("not a plain name"),
        "{err}"
    );
    let after_outside: Vec<_> = tree(d.path())
        .into_iter()
        .filter(|(k, _)| !k.starts_with("case/out/"))
        .collect();
    assert_eq!(after_outside, before_outside);
}

#[cfg(unix)]
#[test]
fn a_records_file_linked_to_dev_zero_is_an_error_not_a_hang() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let dir = saved(&out);
    let records = dir.join("records").join("safari_history.jsonl.zst");
    std::fs::remove_file(&records).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &records).unwrap();
    let (code, err) = recheck(&out);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("safari_history.jsonl.zst") && err.contains("link"),
        "{err}"
    );
}

#[test]
fn plain_records_of_an_older_scan_are_read() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let dir = saved(&out);
    let zst = dir.join("records").join("safari_history.jsonl.zst");
    let plain = zstd::decode_all(&std::fs::read(&zst).unwrap()[..]).unwrap();
    assert_eq!(plain.iter().filter(|b| **b == b'\n').count(), CELLS.len());
    let read = |dir: &Path| report::saved::read_device(dir).map(|s| s.modules[0].records.clone());
    assert_eq!(read(&dir).unwrap(), records());
    // The layout before records were compressed: records/<module>.jsonl.
    std::fs::remove_file(&zst).unwrap();
    std::fs::write(dir.join("records").join("safari_history.jsonl"), &plain).unwrap();
    assert_eq!(read(&dir).unwrap(), records());
    let (code, err) = recheck(&out);
    assert_eq!(code, 0, "{err}");
    // (A zstd bomb is refused: `report::records` unit tests.)
}
