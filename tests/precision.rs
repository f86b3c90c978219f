//! Precision on free text (issue 9 §1) and bounded findings (issue 10 §3):
//! near-misses planted next to true positives in generated logs.

use crate::common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use spydar::artifacts::TextSweep;
use spydar::fixtures::{GenOptions, sysdiagnose as gen_sd};
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::{Level, ObservableType as T, Record};
use spydar::scan::record_findings;

fn matcher() -> Matcher {
    Matcher::new(IndicatorSet::bundled())
}

/// A clean generated sysdiagnose folder with `lines` as an extra log member
/// that no module parses (so the text sweep reads it).
fn sysdiagnose_with_log(dir: &Path, lines: &str) -> PathBuf {
    let root = dir.join("sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62");
    gen_sd::generate(
        &root,
        &GenOptions {
            plant: false,
            ..Default::default()
        },
    )
    .unwrap();
    let log = root.join("logs/Precision/kernel.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, lines).unwrap();
    root
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn on_member_line(report: &Value, line: u64) -> Vec<&Value> {
    findings(report)
        .iter()
        .filter(|f| {
            f["module"] == "text_sweep"
                && f["record"]["member"] == "logs/Precision/kernel.log"
                && f["record"]["line"] == line
        })
        .collect()
}

const PLANTED_LOG: &str = "\
<6>[   12.345] q6asm_callback: payload size of 8 is less than expected
the payload was delivered; gatekeeperd mentioned in a sentence
Nov 30 12:00:01 iPhone roleaccountd[123]: started
init: Starting service 'gatekeeperd'... /system/bin/gatekeeperd
exec /data/local/tmp/gatekeeperd --daemon
";

#[test]
fn prose_words_never_detect_and_stock_names_warn_next_to_true_positives() {
    let dir = tempfile::tempdir().unwrap();
    let input = sysdiagnose_with_log(dir.path(), PLANTED_LOG);
    let out = dir.path().join("out");
    let (code, report) = common::scan(&input, &out, &[]);

    // Line 1 and 2: prose. No finding, not even a warning.
    assert!(
        on_member_line(&report, 1).is_empty(),
        "{:#?}",
        on_member_line(&report, 1)
    );
    assert!(
        on_member_line(&report, 2).is_empty(),
        "{:#?}",
        on_member_line(&report, 2)
    );
    assert!(
        !findings(&report)
            .iter()
            .any(|f| f["observable"]["value"] == "payload"),
        "payload matched somewhere"
    );

    // Line 3: a Pegasus process name in `NAME[pid]:` position.
    let l3 = on_member_line(&report, 3);
    assert_eq!(l3.len(), 1, "{l3:#?}");
    assert_eq!(l3[0]["level"], "detected");
    assert_eq!(l3[0]["indicator"]["value"], "roleaccountd");

    // Line 4: gatekeeperd at its stock path: a warning that says so.
    let l4 = on_member_line(&report, 4);
    assert_eq!(l4.len(), 1, "{l4:#?}");
    assert_eq!(l4[0]["level"], "warning");
    let msg = l4[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("gatekeeperd is also a stock Android daemon (/system/bin/gatekeeperd)"),
        "{msg}"
    );
    assert!(
        msg.contains("its path here is /system/bin/gatekeeperd"),
        "{msg}"
    );

    // Line 5: gatekeeperd run from /data/local/tmp is not the stock binary.
    let l5 = on_member_line(&report, 5);
    assert_eq!(l5.len(), 1, "{l5:#?}");
    assert_eq!(l5[0]["level"], "detected");
    assert!(
        l5[0]["message"]
            .as_str()
            .unwrap()
            .contains("\"/data/local/tmp/gatekeeperd\", not a stock path"),
        "{}",
        l5[0]["message"]
    );
    assert_eq!(code, 1, "a detection exits 1");

    // The swept records keep only lines with a detectable hit.
    let device = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    let swept = spydar::report::records::read_records(&device.join("records/text_sweep.jsonl.zst"))
        .unwrap();
    let kept: Vec<u64> = swept
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .filter(|r| r["fields"]["member"] == "logs/Precision/kernel.log")
        .map(|r| r["fields"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, vec![3, 4, 5]);
}

#[test]
fn sweep_flags_lines_with_detectable_hits_only() {
    let m = matcher();
    let text = PLANTED_LOG.as_bytes();
    let lines: Vec<usize> = m.flagged_lines(text).iter().map(|l| l.line_no).collect();
    assert_eq!(lines, vec![3, 4, 5]);
    // Domains still match anywhere in prose.
    let prose = b"we talked about backuprabbit.com over lunch";
    assert_eq!(m.flagged_lines(prose).len(), 1);
}

fn record_with(kind: T, value: &str, fields: &[(&'static str, &str)]) -> Record {
    let mut r = Record::new("processes", "ps.txt").observe(kind, value);
    for (k, v) in fields {
        r = r.field(k, *v);
    }
    r
}

#[test]
fn typed_stock_names_warn_unless_the_record_shows_another_path() {
    let m = matcher();
    let cases: &[(Record, Level, &str)] = &[
        (
            record_with(T::Process, "gatekeeperd", &[]),
            Level::Warning,
            "the record does not show its path",
        ),
        (
            record_with(
                T::Process,
                "gatekeeperd",
                &[("command", "/system/bin/gatekeeperd /data/misc/gatekeeper")],
            ),
            Level::Warning,
            "its path here is /system/bin/gatekeeperd",
        ),
        (
            record_with(T::Process, "/system/bin/gatekeeperd", &[]),
            Level::Warning,
            "stock Android daemon",
        ),
        (
            record_with(
                T::Process,
                "gatekeeperd",
                &[("command", "/data/local/tmp/gatekeeperd -d")],
            ),
            Level::Detected,
            "not a stock path",
        ),
        (
            record_with(T::Process, "/data/local/tmp/gatekeeperd", &[]),
            Level::Detected,
            "not a stock path",
        ),
        // Not a stock name: a typed match stays detected.
        (
            record_with(T::Process, "roleaccountd", &[]),
            Level::Detected,
            "known Pegasus indicator",
        ),
        // `payload` is a word, not a stock binary: a process so named is detected.
        (
            record_with(T::Process, "payload", &[]),
            Level::Detected,
            "known Pegasus indicator",
        ),
        // A bare file name with no path: the Coruna plist name is a warning.
        (
            record_with(T::FileName, "com.apple.photolibraryd.plist", &[]),
            Level::Warning,
            "stock iOS file name",
        ),
        // Elsewhere (and not under any `Library/Preferences/`, which the
        // relative Coruna path indicator covers), still only a name: a warning.
        (
            record_with(
                T::FilePath,
                "/private/var/tmp/com.apple.photolibraryd.plist",
                &[],
            ),
            Level::Warning,
            "stock iOS file name",
        ),
        // At Coruna's own path the path indicator detects, and the name
        // warning is not added on top.
        (
            record_with(
                T::FilePath,
                "/private/var/mobile/Library/Preferences/com.apple.photolibraryd.plist",
                &[],
            ),
            Level::Detected,
            "is a known",
        ),
        // BackupAgent: stock iOS name (Operation Triangulation reused it).
        (
            record_with(T::Process, "BackupAgent", &[]),
            Level::Warning,
            "stock iOS daemon (/usr/libexec/BackupAgent)",
        ),
    ];
    for (record, level, words) in cases {
        let f = record_findings(record, &m);
        assert_eq!(f.len(), 1, "{record:?}: {f:#?}");
        assert_eq!(f[0].level, *level, "{}", f[0].message);
        assert!(f[0].message.contains(words), "{}", f[0].message);
    }
}

#[test]
fn text_observables_use_process_positions() {
    let m = matcher();
    let cases: &[(&str, Option<Level>)] = &[
        (
            "q6asm_callback: payload size of 8 is less than expected",
            None,
        ),
        ("gatekeeperd is running fine", None),
        ("Process:         payload [77]", Some(Level::Detected)),
        (
            "remaining client pid: 9 (/private/var/tmp/roleaccountd)",
            Some(Level::Detected),
        ),
        ("I/gatekeeperd(  612): enrolled", Some(Level::Warning)),
    ];
    for (text, want) in cases {
        let r = Record::new("sms", "sms.db").observe(T::Text, *text);
        let got = record_findings(&r, &m).first().map(|f| f.level);
        assert_eq!(got, *want, "{text}");
    }
}

/// Peak resident memory (VmHWM, kB) of `spydar scan`, polled from /proc.
fn scan_peak_kb(input: &Path, out: &Path) -> (i32, u64) {
    let bin = assert_cmd::cargo::cargo_bin("spydar");
    let mut child = std::process::Command::new(bin)
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .args(["scan", "--quiet", "-o"])
        .arg(out)
        .arg(input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(line) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_log_where_every_line_hits_gives_few_findings_and_a_small_report() {
    let mut log = String::new();
    let mut n = 0;
    while log.len() < 100_000 {
        n += 1;
        log.push_str(&format!(
            "Nov 30 12:{:02}:{:02} iPhone roleaccountd[{n}]: connect backuprabbit.com /private/var/tmp/hooker #{n}\n",
            n / 60 % 60,
            n % 60
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let input = sysdiagnose_with_log(dir.path(), &log);
    let out = dir.path().join("out");
    let (code, peak_kb) = scan_peak_kb(&input, &out);
    assert_eq!(code, 1);
    let report_path = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.json")
        .unwrap()
        .into_path();
    let size = std::fs::metadata(&report_path).unwrap().len();
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let swept: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["record"]["member"] == "logs/Precision/kernel.log")
        .collect();
    // One line per record, three indicators per line (process, domain, path):
    // three findings, each counting every line.
    assert_eq!(swept.len(), 3, "{} lines gave {} findings", n, swept.len());
    for f in &swept {
        assert_eq!(f["count"], n as u64, "{f:#}");
    }
    assert!(
        findings(&report).len() < 40,
        "{} findings",
        findings(&report).len()
    );
    assert!(size < 200_000, "report.json is {size} bytes for {n} lines");
    eprintln!("{n} lines, report.json {size} bytes, peak RSS {peak_kb} kB");
    assert!(peak_kb > 0, "VmHWM was read");
    assert!(peak_kb < 300_000, "peak RSS {peak_kb} kB");
}
