//! Issue 15 §4: one `spydar scan` of many devices streams them. Each
//! device's folder is written as soon as that device is done, not when the
//! whole batch is, and it is the same as that device scanned alone (the
//! names too: devices sharing one identifier get the `-2`, `-3` a run that
//! held every report would give them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use spydar::fixtures::{GenOptions, android, ios_backup, sysdiagnose};

use crate::common::tree;

/// The UDID every generated iPhone reports.
const UDID: &str = "00008030-001A2B3C4D5E6F70";

/// Six devices; the first (by name, so by input order) is much larger, so
/// the other worker finishes the small ones while it runs.
const DEVICES: [&str; 6] = [
    "a-big-iphone",
    "iphone-a",
    "iphone-b",
    "phone-aqf",
    "phone-aqf-clean",
    "sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62.tar.gz",
];

fn generate(i: usize, p: &Path) -> std::io::Result<()> {
    let plant = GenOptions::default();
    let clean = GenOptions {
        plant: false,
        seed: 2,
        ..GenOptions::default()
    };
    match i {
        0 => ios_backup::generate(
            p,
            &GenOptions {
                scale: 20,
                ..GenOptions::default()
            },
        ),
        1 => ios_backup::generate(p, &plant),
        2 => ios_backup::generate(p, &clean),
        3 => android::generate_androidqf(p, &plant),
        4 => android::generate_androidqf(p, &clean),
        _ => sysdiagnose::generate(p, &plant),
    }
}

fn populate(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    DEVICES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = dir.join(name);
            generate(i, &path).unwrap();
            path
        })
        .collect()
}

/// Exit code 1 (something found) for a batch or a planted device, else 0.
fn scan(inputs: &[&Path], out: &Path, expect: i32) {
    let code = assert_cmd::Command::cargo_bin("spydar")
        .unwrap()
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .arg("scan")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .args(["--quiet", "--jobs", "2"])
        .output()
        .unwrap()
        .status
        .code();
    assert_eq!(code, Some(expect), "{inputs:?}");
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// report.json without the fields that measure the run itself.
fn stable_report(bytes: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    v["scan"] = Value::Null;
    for m in v["modules"].as_array_mut().unwrap() {
        m["duration_ms"] = Value::Null;
    }
    v
}

/// The device folders of an output folder, by the input they came from.
fn devices(out: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("report.json").is_file())
        .map(|p| {
            let input = json(&p.join("report.json"))["device"]["input_path"]
                .as_str()
                .unwrap()
                .to_string();
            (input, p)
        })
        .collect()
}

fn assert_same_folder(alone: &Path, batch: &Path) {
    let (a, b) = (tree(alone), tree(batch));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{}: same files",
        batch.display()
    );
    assert!(a.keys().any(|k| k.starts_with("records/")));
    for (name, bytes) in &a {
        if name == "report.json" {
            assert_eq!(stable_report(bytes), stable_report(&b[name]), "{name}");
        } else if name != "report.html" {
            // report.html shows the scan's own time and duration.
            assert!(bytes == &b[name], "{}: {name} differs", batch.display());
        }
    }
}

#[test]
fn a_batch_writes_each_device_when_done_and_as_if_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devices");
    let inputs = populate(&dir);
    let before = tree(&dir);
    let out = tmp.path().join("out");
    scan(&[&dir], &out, 1);
    assert_eq!(tree(&dir), before, "the input tree changed");

    let batch = devices(&out);
    assert_eq!(batch.len(), inputs.len());
    // No staging folder is left behind.
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Names as a run holding every report names them: by input path among
    // devices of one identifier, whichever finished first.
    let iphones: Vec<String> = batch
        .iter()
        .filter(|(input, _)| input.contains("iphone"))
        .map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        iphones,
        [UDID.to_string(), format!("{UDID}-2"), format!("{UDID}-3")]
    );
    let summary = json(&out.join("summary.json"));
    for e in summary["devices"].as_array().unwrap() {
        let folder = &batch[e["input_path"].as_str().unwrap()];
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(e["id"], name.as_str(), "{e}");
        assert_eq!(e["report"], format!("{name}/report.json").as_str(), "{e}");
    }

    // Written as each device finished: some device's report.json is older
    // than the moment the last device finished scanning (a run that wrote
    // every folder at the end would have none).
    let finished = batch
        .values()
        .map(|p| {
            json(&p.join("report.json"))["scan"]["finished"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
        })
        .max()
        .unwrap();
    let first_written = batch
        .values()
        .map(|p| {
            let mtime = std::fs::metadata(p.join("report.json"))
                .unwrap()
                .modified()
                .unwrap();
            jiff::Timestamp::try_from(mtime).unwrap()
        })
        .min()
        .unwrap();
    assert!(
        first_written < finished,
        "every report was written after the last device finished"
    );

    // Each folder equals the device scanned alone.
    for input in &inputs {
        let one = tmp.path().join("alone").join(input.file_name().unwrap());
        let clean = input.to_string_lossy().ends_with("-b") || input.ends_with("phone-aqf-clean");
        scan(&[input], &one, if clean { 0 } else { 1 });
        let alone = devices(&one);
        assert_eq!(alone.len(), 1);
        let (path, folder) = alone.iter().next().unwrap();
        assert_same_folder(folder, &batch[path]);
    }
}
