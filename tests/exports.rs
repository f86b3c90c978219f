//! `--junit FILE` and `--timesketch FILE` (issue 14 §3, §4): the JUnit XML
//! read back with two independent parsers (roxmltree, and junit-parser as a
//! JUnit consumer reads it) and checked against the
//! Jenkins/Ant JUnit schema's structure and against report.json; the
//! Timesketch JSON Lines checked line by line against Timesketch's
//! required columns and against timeline.csv.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::generate;

fn spydar() -> Command {
    let mut c = Command::cargo_bin("spydar").unwrap();
    c.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .env("SPYDAR_NO_MVT_INDICATORS", "1");
    c
}

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// An Android backup holding an empty tar: scanned, nothing read.
fn empty_ab(path: &Path) {
    let mut bytes = b"ANDROID BACKUP\n5\n0\nnone\n".to_vec();
    bytes.extend([0u8; 1024]);
    std::fs::write(path, bytes).unwrap();
}

/// A generated backup whose sms.db is garbage: one module error.
fn corrupt_backup(path: &Path) {
    generate(path, &GenOptions::default()).unwrap();
    let id = spydar::evidence::ios_backup::file_id("HomeDomain", "Library/SMS/sms.db");
    std::fs::write(path.join(&id[..2]).join(&id), vec![0x42u8; 8192]).unwrap();
}

fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    n.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", n.tag_name().name()))
}

fn count(n: roxmltree::Node, name: &str) -> usize {
    attr(n, name).parse().unwrap()
}

fn children<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.has_tag_name(tag)).collect()
}

/// The structure the Jenkins JUnit schema (junit-10.xsd) asks for:
/// testsuites > testsuite (name, tests, failures, errors, skipped, time) >
/// properties?, testcase* (name, classname, time) > error*, failure*
/// (message, type), system-out?; counts that agree with the elements.
fn check_schema<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> roxmltree::Node<'a, 'i> {
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites = children(root, "testsuite");
    assert_eq!(suites.len(), 1, "one testsuite per run");
    let suite = suites[0];
    let cases = children(suite, "testcase");
    assert_eq!(count(suite, "tests"), cases.len());
    assert_eq!(count(root, "tests"), cases.len());
    assert_eq!(count(suite, "skipped"), 0);
    attr(suite, "name");
    attr(suite, "time").parse::<f64>().unwrap();
    let (mut failed, mut errored) = (0, 0);
    for c in &cases {
        attr(*c, "name");
        attr(*c, "classname");
        attr(*c, "time").parse::<f64>().unwrap();
        let order: Vec<&str> = c
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        let rank = |t: &str| match t {
            "error" => 0,
            "failure" => 1,
            "system-out" => 2,
            other => panic!("unexpected <{other}> in a testcase"),
        };
        assert!(
            order.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
            "{order:?}"
        );
        for p in children(*c, "failure")
            .into_iter()
            .chain(children(*c, "error"))
        {
            assert!(!attr(p, "message").is_empty());
            attr(p, "type");
        }
        let (f, e) = (children(*c, "failure").len(), children(*c, "error").len());
        if f > 0 {
            failed += 1;
        } else if e > 0 {
            errored += 1;
        }
    }
    assert_eq!(count(suite, "failures"), failed);
    assert_eq!(count(suite, "errors"), errored);
    assert_eq!(count(root, "failures"), failed);
    assert_eq!(count(root, "errors"), errored);
    suite
}

fn case<'a, 'i>(suite: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    children(suite, "testcase")
        .into_iter()
        .find(|c| c.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no testcase {name}"))
}

#[test]
fn junit_has_a_case_per_device_a_failure_per_finding_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let corrupt = d.path().join("corrupt-backup");
    corrupt_backup(&corrupt);
    let empty = d.path().join("empty.ab");
    empty_ab(&empty);
    let unknown = d.path().join("notes.txt");
    std::fs::write(&unknown, "not a phone").unwrap();
    let out = d.path().join("out");
    let junit = d.path().join("ci").join("junit.xml");
    let assert = spydar()
        .arg("scan")
        .arg(testdata("ios_backup"))
        .arg(testdata("android/androidqf-clean"))
        .args([&corrupt, &empty, &unknown])
        .arg("-o")
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg("--quiet")
        .assert();
    assert_eq!(assert.get_output().status.code(), Some(1));
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = check_schema(&doc);
    let summary = json(&out.join("summary.json"));
    let devices = summary["devices"].as_array().unwrap();
    assert_eq!(children(suite, "testcase").len(), devices.len());
    assert_eq!(devices.len(), 5);
    // And as a JUnit consumer reads it (the junit-parser crate).
    let parsed = junit_parser::from_reader(std::io::Cursor::new(text.as_bytes())).unwrap();
    assert_eq!(parsed.suites.len(), 1);
    let ts = &parsed.suites[0];
    assert_eq!(ts.tests as usize, devices.len());
    assert_eq!(ts.cases.len(), devices.len());
    let failing = ts.cases.iter().filter(|c| c.status.is_failure()).count();
    let erroring = ts.cases.iter().filter(|c| c.status.is_error()).count();
    assert_eq!(failing as u64, ts.failures as u64);
    assert_eq!(erroring as u64, ts.errors as u64);
    // Planted backup and corrupt backup fail; empty .ab and notes.txt are
    // errors; the clean androidqf passes.
    assert_eq!((failing, erroring), (2, 2));
    assert_eq!(ts.cases.iter().filter(|c| c.status.is_success()).count(), 1);
    for dev in devices.iter().filter(|d| d["error"].is_null()) {
        let id = dev["id"].as_str().unwrap();
        let report = json(&out.join(id).join("report.json"));
        let c = case(suite, id);
        assert_eq!(attr(c, "classname"), report["device"]["input_kind"]);
        let detected: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["level"] == "detected")
            .collect();
        let failures = children(c, "failure");
        assert_eq!(failures.len(), detected.len(), "{id}");
        for (x, f) in failures.iter().zip(&detected) {
            assert_eq!(attr(*x, "message"), f["message"].as_str().unwrap());
            assert_eq!(attr(*x, "type"), "detected");
            let body = x.text().unwrap();
            assert!(body.contains(f["module"].as_str().unwrap()), "{body}");
            assert!(body.contains(f["artifact"].as_str().unwrap()), "{body}");
            if let Some(i) = f["indicator"]["id"].as_str() {
                assert!(body.contains(i), "{body}");
            }
            if let Some(t) = f["timestamp"].as_str() {
                assert!(body.contains(t), "{body}");
            }
        }
        let module_errors = report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "error")
            .count();
        let errors = children(c, "error");
        let nothing = usize::from(report["summary"]["verdict"] == "nothing-read");
        assert_eq!(errors.len(), module_errors + nothing, "{id}");
    }
    // The corrupt backup: sms and sms_attachments failed, still detected.
    let corrupt_id = devices
        .iter()
        .find(|d| {
            d["input_path"]
                .as_str()
                .unwrap()
                .ends_with("corrupt-backup")
        })
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let c = case(suite, corrupt_id);
    let types: Vec<&str> = children(c, "error")
        .iter()
        .map(|e| attr(*e, "type"))
        .collect();
    assert_eq!(types, ["module-error", "module-error"]);
    assert!(!children(c, "failure").is_empty());
    let c = case(suite, "empty.ab");
    assert_eq!(attr(children(c, "error")[0], "type"), "nothing-read");
    // The clean androidqf: a passing case; its warnings are below --fail-on.
    let clean = children(suite, "testcase")
        .into_iter()
        .find(|c| attr(*c, "classname") == "androidqf")
        .unwrap();
    assert!(children(clean, "failure").is_empty() && children(clean, "error").is_empty());
    let out_text = children(clean, "system-out")[0].text().unwrap();
    assert!(
        out_text.contains("findings below --fail-on: 4"),
        "{out_text}"
    );
    // The unrecognised input: one error naming it.
    let bad = children(suite, "testcase")
        .into_iter()
        .find(|c| attr(*c, "classname") == "input")
        .unwrap();
    assert_eq!(attr(children(bad, "error")[0], "type"), "input-error");
    assert!(attr(children(bad, "error")[0], "message").contains("notes.txt"));
    // The default outputs are unchanged by the flag.
    assert!(!out.join("junit.xml").exists());
}

#[test]
fn junit_follows_fail_on_and_needs_no_output_folder() {
    let d = tempfile::tempdir().unwrap();
    for (fail_on, failures) in [("never", 0), ("warning", 2)] {
        let junit = d.path().join(format!("{fail_on}.xml"));
        spydar()
            .arg("scan")
            .arg(testdata("ios_backup"))
            .arg(testdata("android/androidqf-clean"))
            .args(["--fail-on", fail_on, "--quiet", "--junit"])
            .arg(&junit)
            .assert()
            .code(if failures > 0 { 1 } else { 0 });
        let text = std::fs::read_to_string(&junit).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let suite = check_schema(&doc);
        assert_eq!(count(suite, "failures"), failures, "{fail_on}");
        let kinds: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .map(|n| attr(n, "type"))
            .collect();
        if fail_on == "warning" {
            assert!(kinds.contains(&"warning") && kinds.contains(&"detected"));
            assert!(!kinds.contains(&"info"));
        }
    }
}

#[test]
fn export_files_are_outputs_and_never_touch_the_evidence() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("backup");
    generate(&input, &GenOptions::default()).unwrap();
    let out = d.path().join("out");
    let refused = [
        ("--junit", input.join("junit.xml")),
        ("--junit", input.clone()),
        ("--timesketch", input.join("Manifest.db")),
        ("--junit", out.join("summary.json")),
        ("--junit", out.join("some-device").join("junit.xml")),
    ];
    let before = crate::common::tree(&input);
    for (flag, file) in refused {
        spydar()
            .arg("scan")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg(flag)
            .arg(&file)
            .arg("--quiet")
            .assert()
            .code(2);
        assert!(!out.exists(), "{flag} {}: nothing scanned", file.display());
    }
    assert_eq!(crate::common::tree(&input), before);
    // A folder or a link is not replaced; --timesketch needs -o.
    std::fs::create_dir(d.path().join("adir")).unwrap();
    spydar()
        .arg("scan")
        .arg(&input)
        .arg("--junit")
        .arg(d.path().join("adir"))
        .assert()
        .code(2);
    let err = spydar()
        .arg("scan")
        .arg(&input)
        .arg("--timesketch")
        .arg(d.path().join("t.jsonl"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&err.get_output().stderr).to_string();
    assert!(stderr.contains("needs an output folder"), "{stderr}");
}

/// Timesketch's own rules for a JSONL import: every line an object with a
/// string `message`, `datetime` (ISO 8601) and `timestamp_desc`; spydar's
/// `datetime` is always UTC (`Z`).
fn check_timesketch_line(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    for key in ["message", "datetime", "timestamp_desc"] {
        assert!(
            v[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {line}"
        );
    }
    let dt = v["datetime"].as_str().unwrap();
    assert!(dt.ends_with('Z'), "{dt}");
    let ts: jiff::Timestamp = dt.parse().unwrap();
    assert_eq!(v["timestamp"].as_i64().unwrap(), ts.as_microsecond());
    for key in [
        "module",
        "level",
        "observable_type",
        "observable_value",
        "indicator",
        "device",
        "time_zone",
    ] {
        assert!(v[key].is_string(), "{key}: {line}");
    }
    if !v["level"].as_str().unwrap().is_empty() {
        assert!(
            !v["indicator"].as_str().unwrap().is_empty() || !v["rule"].as_str().unwrap().is_empty(),
            "a finding row names its indicator or rule: {line}"
        );
        assert!(v["message"].as_str().unwrap().starts_with('['), "{line}");
    }
    v
}

/// Rows of every device's timeline.csv under `out`.
fn timeline_rows(out: &Path) -> usize {
    walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "timeline.csv")
        .map(|e| csv::Reader::from_path(e.path()).unwrap().records().count())
        .sum()
}

/// Checks a Timesketch export against the output folder it came from:
/// one line per timeline row; every finding with a time has a marked line
/// (same device, module and time).
fn check_timesketch(file: &Path, out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<Value> = text.lines().map(check_timesketch_line).collect();
    assert_eq!(lines.len(), timeline_rows(out));
    let summary = json(&out.join("summary.json"));
    for dev in summary["devices"].as_array().unwrap() {
        let Some(id) = dev["id"].as_str().filter(|s| !s.is_empty()) else {
            continue;
        };
        let report = json(&out.join(id).join("report.json"));
        for f in report["findings"].as_array().unwrap() {
            let Some(t) = f["timestamp"].as_str() else {
                continue;
            };
            let t: jiff::Timestamp = t.parse().unwrap();
            assert!(
                lines.iter().any(|l| l["device"] == id
                    && l["module"] == f["module"]
                    && l["timestamp"].as_i64() == Some(t.as_microsecond())
                    && !l["level"].as_str().unwrap().is_empty()),
                "no marked line for {f}"
            );
        }
    }
    lines
}

#[test]
fn timesketch_lines_import_and_match_the_timeline() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let ts = d.path().join("timeline.jsonl");
    spydar()
        .arg("scan")
        .arg(testdata("ios_backup"))
        .arg(testdata("android/androidqf"))
        .arg(testdata(
            "sysdiagnose/sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62.tar.gz",
        ))
        .arg("-o")
        .arg(&out)
        .arg("--timesketch")
        .arg(&ts)
        .arg("--quiet")
        .assert()
        .code(1);
    let lines = check_timesketch(&ts, &out);
    let detected: Vec<&Value> = lines.iter().filter(|l| l["level"] == "detected").collect();
    assert!(detected.len() >= 20, "{}", detected.len());
    assert!(detected.iter().any(|l| l["malware"] == "Pegasus"));
    let devices: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices.len(), 3, "{devices:?}");
    // Rechecking writes both again, from the saved records.
    let junit = d.path().join("recheck.xml");
    let ts2 = d.path().join("recheck.jsonl");
    spydar()
        .arg("recheck")
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg("--timesketch")
        .arg(&ts2)
        .arg("--quiet")
        .assert()
        .code(1);
    assert_eq!(check_timesketch(&ts2, &out).len(), lines.len());
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = check_schema(&doc);
    assert_eq!(attr(suite, "name"), "spydar recheck");
    assert_eq!(count(suite, "tests"), 3);
}

#[test]
#[ignore = "needs ../shared"]
fn real_inputs_export_cleanly() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let (junit, ts) = (d.path().join("j.xml"), d.path().join("t.jsonl"));
    spydar()
        .arg("scan")
        .arg(real.join("plaso-ios-fs/fs"))
        .arg(real.join("chk-bugreport-legacy/bugreport_deadlock.txt"))
        .arg(real.join("sysdiag-pieces/sysdiagnose_2099.01.01_00-00-00+0000_realpieces.tar.gz"))
        .arg(real.join("abe-adb-backup/invalid_header.uncompressed.unencrypted.backup"))
        .arg("-o")
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg("--timesketch")
        .arg(&ts)
        .arg("--quiet")
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = check_schema(&doc);
    assert_eq!(count(suite, "tests"), 4);
    assert_eq!(count(suite, "failures"), 0, "no real input is infected");
    let lines = check_timesketch(&ts, &out);
    assert!(lines.len() > 1000, "{}", lines.len());
    assert!(lines.iter().all(|l| l["level"] != "detected"));
}

/// The ```yaml blocks of the README's "CI jobs (JUnit)" section.
fn readme_ci_jobs() -> Vec<Value> {
    let readme = include_str!("../README.md");
    let start = readme.find("### CI jobs (JUnit)").expect("section");
    let end = start
        + readme[start..]
            .find("### Timesketch export")
            .expect("next section");
    readme[start..end]
        .split("```yaml\n")
        .skip(1)
        .map(|b| serde_saphyr::from_str::<Value>(&b[..b.find("```").unwrap()]).unwrap())
        .collect()
}

/// The README's CI jobs parse as YAML, publish the file their scan writes
/// even when it fails, and their scan command runs as written.
#[test]
fn readme_ci_jobs_publish_the_junit_report_their_scan_writes() {
    let jobs = readme_ci_jobs();
    assert_eq!(jobs.len(), 2, "a GitHub Actions and a GitLab CI job");
    let steps = jobs[0]["jobs"]["scan"]["steps"].as_array().unwrap();
    let scan = steps.iter().find(|s| s["name"] == "Scan").unwrap()["run"]
        .as_str()
        .unwrap()
        .replace("\\\n", " ");
    let publish = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("mikepenz/action-junit-report@"))
        })
        .unwrap();
    assert_eq!(publish["if"], "always()");
    assert!(scan.contains(&format!(
        "--junit {}",
        publish["with"]["report_paths"].as_str().unwrap()
    )));
    let gitlab = &jobs[1]["spydar"];
    assert_eq!(gitlab["artifacts"]["when"], "always");
    let junit = gitlab["artifacts"]["reports"]["junit"].as_str().unwrap();
    let script = gitlab["script"][1].as_str().unwrap();
    assert!(script.contains(&format!("--junit {junit}")), "{script}");
    // Run the GitHub job's scan, in a scratch folder, on the samples.
    let d = tempfile::tempdir().unwrap();
    let words: Vec<String> = scan.split_whitespace().map(str::to_string).collect();
    assert_eq!(&words[..2], ["spydar", "scan"]);
    let args: Vec<std::ffi::OsString> = words[2..]
        .iter()
        .map(|w| match w.strip_prefix("testdata/") {
            Some(rest) => testdata(rest).into_os_string(),
            None => w.into(),
        })
        .collect();
    spydar()
        .current_dir(d.path())
        .arg("scan")
        .args(&args)
        .assert()
        .code(1);
    let text = std::fs::read_to_string(d.path().join(junit)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = check_schema(&doc);
    assert_eq!(count(suite, "tests"), 2);
    assert_eq!(count(suite, "failures"), 1);
}
