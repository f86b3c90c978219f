//! A folder of devices of mixed kinds (issue 14 §2), and `spydar summary`
//! merging the output folders of separate runs (§5).
//!
//! Ten generated devices: iOS backups (planted, clean, encrypted without a
//! password given, corrupt), an iOS filesystem dump, a sysdiagnose archive,
//! an Android backup, a bugreport zip, androidqf as a folder and as a zip;
//! next to them, entries that are no input (a text file, an empty folder, a
//! hidden file, a link).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use spydar::fixtures::{GenOptions, android, ios_backup, ios_crypto_gen, ios_fs, sysdiagnose};

use crate::common::tree;

/// The ten devices: (file name, whether it is expected to fail).
const DEVICES: [(&str, bool); 10] = [
    ("iphone-a", false),
    ("iphone-clean", false),
    ("iphone-encrypted", true),
    ("iphone-corrupt", true),
    ("iphone-fs", false),
    (
        "sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62.tar.gz",
        false,
    ),
    ("phone.ab", false),
    ("bugreport.zip", false),
    ("aqf", false),
    ("aqf-clean.zip", false),
];

/// What is in the folders and is no input.
const STRAYS: [&str; 4] = ["notes.txt", "empty", ".DS_Store", "zz-link"];

fn generate(i: usize, out: &Path) {
    let plant = GenOptions::default();
    let clean = GenOptions {
        plant: false,
        seed: 2,
        ..GenOptions::default()
    };
    match i {
        0 => ios_backup::generate(out, &plant),
        1 => ios_backup::generate(out, &clean),
        2 => ios_crypto_gen::generate_encrypted(
            out,
            &GenOptions {
                password: Some("batch test".into()),
                seed: 3,
                ..GenOptions::default()
            },
        ),
        3 => ios_backup::generate(out, &clean).and_then(|()| {
            std::fs::write(
                out.join("Manifest.db"),
                b"this is not SQLite, it is corrupt",
            )
        }),
        4 => ios_fs::generate(out, &plant),
        5 => sysdiagnose::generate(out, &plant),
        6 => android::generate_backup(out, &plant),
        7 => android::generate_bugreport(out, &plant),
        8 => android::generate_androidqf(out, &plant),
        _ => android::generate_androidqf(out, &clean),
    }
    .unwrap();
}

fn stray(i: usize, dir: &Path) {
    let path = dir.join(STRAYS[i]);
    match i {
        0 => std::fs::write(path, b"case notes, not a device\n").unwrap(),
        1 => std::fs::create_dir(path).unwrap(),
        2 => std::fs::write(path, b"\0\0\0\x01Bud1").unwrap(),
        _ => {
            #[cfg(unix)]
            std::os::unix::fs::symlink(dir.join(DEVICES[0].0), &path).unwrap_or_else(|_| {
                std::os::unix::fs::symlink("/nonexistent", &path).unwrap();
            });
            #[cfg(not(unix))]
            std::fs::write(path, b"x").unwrap();
        }
    }
}

/// Devices `which` (and strays `strays`) generated into `dir`.
fn populate(dir: &Path, which: &[usize], strays: &[usize]) {
    std::fs::create_dir_all(dir).unwrap();
    for &i in which {
        generate(i, &dir.join(DEVICES[i].0));
    }
    for &i in strays {
        stray(i, dir);
    }
}

fn spydar() -> Command {
    let mut c = Command::cargo_bin("spydar").unwrap();
    c.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    c
}

struct Run {
    code: i32,
    stderr: String,
}

fn run(args: &[&Path]) -> Run {
    let out = spydar().args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn scan(inputs: &[&Path], out: &Path) -> Run {
    let mut args: Vec<&Path> = vec![Path::new("scan")];
    args.extend(inputs);
    args.extend([Path::new("-o"), out, Path::new("--quiet")]);
    run(&args)
}

fn summary(outdirs: &[&Path], merged: &Path) -> Run {
    let mut args: Vec<&Path> = vec![Path::new("summary")];
    args.extend(outdirs);
    args.extend([Path::new("-o"), merged, Path::new("--quiet")]);
    run(&args)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The device folders of an output folder (those holding report.json).
fn reports(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("report.json").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn by_status<'a>(entries: &'a [Value], status: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["status"] == status).collect()
}

#[test]
fn a_folder_of_mixed_devices_scans_each_and_lists_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devices");
    populate(&dir, &(0..10).collect::<Vec<_>>(), &[0, 1, 2, 3]);
    let before = tree(&dir);
    let out = tmp.path().join("out");
    let started = std::time::Instant::now();
    let r = scan(&[&dir], &out);
    eprintln!("10 devices scanned in {:?}", started.elapsed());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(tree(&dir), before, "the input tree changed");

    let s = json(&out.join("summary.json"));
    assert_eq!(s["schema"], "spydar.summary/1");
    let entries = s["devices"].as_array().unwrap();
    assert_eq!(entries.len(), 10 + STRAYS.len(), "{s:#}");
    let scanned = by_status(entries, "scanned");
    let failed = by_status(entries, "failed");
    let skipped = by_status(entries, "not-an-input");
    assert_eq!((scanned.len(), failed.len(), skipped.len()), (8, 2, 4));
    assert_eq!(reports(&out).len(), 8);
    for e in &scanned {
        let report = out.join(e["report"].as_str().unwrap());
        assert!(report.is_file(), "{e}");
        assert_eq!(json(&report)["scan"]["duration_ms"], e["duration_ms"]);
        assert!(e["verdict"].is_string() && e["error"].is_null(), "{e}");
    }
    assert!(scanned.iter().any(|e| e["verdict"] == "detected"));
    assert!(scanned.iter().any(|e| e["verdict"] == "no-findings"));
    let error_of = |name: &str| -> String {
        entries
            .iter()
            .find(|e| e["input_path"].as_str().unwrap().ends_with(name))
            .unwrap()["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(error_of("iphone-encrypted").contains("encrypted"));
    assert!(error_of("iphone-corrupt").contains("Manifest.db"));
    for e in &failed {
        assert!(e["duration_ms"].is_u64() && e["report"].is_null(), "{e}");
    }
    for name in STRAYS {
        let why = error_of(name);
        assert!(why.starts_with("not a recognised input: "), "{name}: {why}");
    }
    assert!(error_of("zz-link").contains("link"));
    assert!(error_of("empty").contains("empty folder"));
    // Entries are in input-path order.
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["input_path"].as_str().unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    // index.html: one row per entry with verdict, counts, duration, error.
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let rows: Vec<&str> = index.split("<tr class=").skip(1).collect();
    assert_eq!(rows.len(), entries.len());
    for (row, e) in rows.iter().zip(entries) {
        let path = e["input_path"].as_str().unwrap();
        assert!(row.contains(path), "{row}");
        match e["status"].as_str().unwrap() {
            "scanned" => {
                assert!(
                    row.contains(&format!("<td>{}</td>", e["detected"])),
                    "{row}"
                );
                assert!(row.contains(" s</td>"), "{row}");
            }
            "failed" => {
                assert!(
                    row.contains("not scanned") && row.contains(" s</td>"),
                    "{row}"
                );
                let err = e["error"].as_str().unwrap();
                let first = err.split(['<', '>', '&', '"', '\'']).next().unwrap();
                assert!(row.contains(first), "{row}");
            }
            _ => assert!(row.contains("not an input"), "{row}"),
        }
    }
    assert!(index.contains("spyware traces found") && index.contains("nothing known found"));

    // A recheck rewrites summary.json from the device folders and keeps
    // the entries that have none.
    let r = run(&[Path::new("recheck"), &out, Path::new("--quiet")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let again = json(&out.join("summary.json"));
    assert_eq!(again["devices"], s["devices"]);
}

/// `duration_ms` values and the index's duration cells, the only fields
/// that differ between two scans of the same device, made fixed.
fn mask_durations(text: &str) -> String {
    let json = regex::Regex::new(r#""duration_ms": \d+"#).unwrap();
    let html = regex::Regex::new(r"<td>\d+\.\d s</td>").unwrap();
    let t = json.replace_all(text, r#""duration_ms": 0"#);
    html.replace_all(&t, "<td>0.0 s</td>").into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn summary_over_two_half_batches_equals_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (h1, h2) = (tmp.path().join("half1"), tmp.path().join("half2"));
    // Devices with one identifier (three iPhones, three Android phones)
    // fall on both sides, so the merge must name them as one run does.
    populate(&h1, &[0, 2, 4, 6, 8], &[0, 2]);
    populate(&h2, &[1, 3, 5, 7, 9], &[1, 3]);
    let runs = tmp.path().join("runs");
    let (a, b, one) = (runs.join("A"), runs.join("B"), tmp.path().join("one"));
    assert_eq!(scan(&[&h1], &a).code, 1);
    assert_eq!(scan(&[&h2], &b).code, 1);
    assert_eq!(scan(&[&h1, &h2], &one).code, 1);

    let merged = tmp.path().join("merged");
    let r = summary(&[&a, &b], &merged);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(reports(&merged), reports(&one));
    assert_eq!(reports(&merged).len(), 8);

    // Byte for byte, but for the durations: each is the device's own scan
    // time (from its report.json), which differs between two scans.
    for file in ["summary.json", "index.html"] {
        let (m, o) = (read(&merged.join(file)), read(&one.join(file)));
        assert_eq!(mask_durations(&m), mask_durations(&o), "{file}");
    }
    // ...and the merged durations are exactly those of the half runs.
    let half_entries: Vec<Value> = [&a, &b]
        .iter()
        .flat_map(|d| {
            json(&d.join("summary.json"))["devices"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    for e in json(&merged.join("summary.json"))["devices"]
        .as_array()
        .unwrap()
    {
        let twin = half_entries
            .iter()
            .find(|h| h["input_path"] == e["input_path"])
            .unwrap();
        assert_eq!(e["duration_ms"], twin["duration_ms"], "{e}");
        if let Some(rel) = e["report"].as_str() {
            let copied = json(&merged.join(rel));
            assert_eq!(copied["scan"]["duration_ms"], e["duration_ms"]);
            assert_eq!(copied["device"]["input_path"], e["input_path"]);
        }
    }
    // A folder of output folders (downloaded CI artifacts) stands for each.
    let whole = tmp.path().join("whole");
    assert_eq!(summary(&[&runs], &whole).code, 1);
    for file in ["summary.json", "index.html"] {
        assert_eq!(read(&whole.join(file)), read(&merged.join(file)), "{file}");
    }
    // With no volatile field left, merging a run's own folder gives back
    // its summary.json and index.html exactly.
    let again = tmp.path().join("again");
    assert_eq!(summary(&[&one], &again).code, 1);
    for file in ["summary.json", "index.html"] {
        assert_eq!(read(&again.join(file)), read(&one.join(file)), "{file}");
    }
    // A copied device folder is the original, file for file.
    for name in reports(&one) {
        let (x, y) = (tree(&one.join(&name)), tree(&again.join(&name)));
        assert_eq!(x, y, "{name}");
    }
}

/// A copy of the output folder `src` made by `spydar summary`, to tamper with.
fn copy_run(src: &Path, dst: &Path) {
    assert!(summary(&[src], dst).code <= 1);
}

#[cfg(unix)]
#[test]
fn summary_refuses_links_and_odd_names_in_untrusted_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devices");
    populate(&dir, &[6, 7], &[0]);
    let out = tmp.path().join("out");
    assert_eq!(scan(&[&dir], &out).code, 1);
    let first = reports(&out)[0].clone();
    let case = |n: &str| -> PathBuf {
        let d = tmp.path().join(n);
        copy_run(&out, &d);
        d
    };
    let refused = |d: &Path, needle: &str| {
        let merged = tmp.path().join(format!("{}-merged", d.display()));
        let r = run(&[Path::new("summary"), d, Path::new("-o"), &merged]);
        assert_eq!(r.code, 2, "{}: {}", d.display(), r.stderr);
        assert!(r.stderr.contains(needle), "{}: {}", d.display(), r.stderr);
        assert!(!merged.join("summary.json").exists());
    };
    // A device folder that is a link.
    let d = case("linked-folder");
    std::fs::rename(d.join(&first), tmp.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("moved"), d.join(&first)).unwrap();
    refused(&d, "is a link");
    // A records file that is a link (to a file outside).
    let d = case("linked-records");
    let rec = std::fs::read_dir(d.join(&first).join("records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&rec).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &rec).unwrap();
    refused(&d, "is a link");
    // summary.json as a link.
    let d = case("linked-summary");
    std::fs::remove_file(d.join("summary.json")).unwrap();
    std::os::unix::fs::symlink(out.join("summary.json"), d.join("summary.json")).unwrap();
    refused(&d, "is a link");
    // A name spydar never writes, inside a device folder.
    let d = case("odd-name");
    std::fs::write(d.join(&first).join("a b;rm -rf"), b"x").unwrap();
    refused(&d, "not a name spydar writes");
    // A FIFO where a report file should be.
    let d = case("fifo");
    std::fs::remove_file(d.join(&first).join("timeline.csv")).unwrap();
    crate::common::mkfifo(&d.join(&first).join("timeline.csv"));
    refused(&d, "timeline.csv");
    // A summary.json that is not spydar's.
    let d = case("foreign-summary");
    std::fs::write(
        d.join("summary.json"),
        br#"{"schema":"x/1","tool":{"name":"x","version":"1"},"devices":[]}"#,
    )
    .unwrap();
    refused(&d, "schema");
    // The merged folder inside an input, and an input given twice.
    let inside = out.join("merged");
    let r = run(&[Path::new("summary"), &out, Path::new("-o"), &inside]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&[
        Path::new("summary"),
        &out,
        &out,
        Path::new("-o"),
        &tmp.path().join("twice"),
    ]);
    assert!(
        r.code == 2 && r.stderr.contains("given twice"),
        "{}",
        r.stderr
    );

    // A report listed in summary.json whose folder was not copied is an
    // entry with its error, not a silent gap.
    let d = case("missing-folder");
    std::fs::remove_dir_all(d.join(&first)).unwrap();
    let merged = tmp.path().join("missing-merged");
    let r = summary(&[&d], &merged);
    assert!(r.code <= 1, "{}", r.stderr);
    let s = json(&merged.join("summary.json"));
    let entries = s["devices"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{s:#}");
    let gap = entries.iter().find(|e| e["id"] == first.as_str()).unwrap();
    assert!(
        gap["error"].as_str().unwrap().contains("is not there"),
        "{gap}"
    );
    assert!(gap["report"].is_null());
}
