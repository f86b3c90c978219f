//! report.html and index.html, rendered in headless Chromium: the verdict
//! and every finding show; hostile device strings stay text and run
//! nothing (no DOM change, no Content-Security-Policy report on the
//! console); screenshots of an infected and a clean report land in
//! target/html-report/.
//!
//! Needs Debian's `chromium`. Without it the tests say so and skip, except
//! under CI (`CI` set), where a missing browser is a failure.

use crate::common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spydar::fixtures::{GenOptions, ios_backup};
use spydar::model::{
    DeviceInfo, Level, ModuleStatus, Observable, ObservableType, Platform, Severity,
};
use spydar::report::{
    DeviceSummary, IndicatorsInfo, ModuleInfo, Report, ScanTimes, SourceRef, Summary, Verdict, html,
};
use spydar::scan::{Finding, FindingKind, IndicatorRef};

/// The three shapes of injection, each of which would set the page title
/// to PWNED if it ran.
const PAYLOADS: [&str; 3] = [
    "<script>document.title='PWNED'</script>",
    "\"><img src=x onerror=\"document.title='PWNED'\">",
    "javascript:document.title='PWNED'",
];

fn chromium() -> Option<PathBuf> {
    for c in ["/usr/bin/chromium", "chromium", "chromium-browser"] {
        let ok = Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(PathBuf::from(c));
        }
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "chromium is required under CI (Debian package `chromium`; .ci/run installs it)"
    );
    eprintln!("SKIPPED: chromium is not installed (apt-get install chromium); CI is not set");
    None
}

fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    stdout: String,
    console: String,
}

/// Runs headless Chromium on a local page with no network, a fresh profile,
/// and the console logged to stderr.
fn browse(bin: &Path, page: &Path, mode: &[String]) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(mode)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run {
        stdout: t_out.join().unwrap(),
        console: t_err.join().unwrap(),
    }
}

fn dump_dom(bin: &Path, page: &Path) -> Run {
    let run = browse(bin, page, &["--dump-dom".to_string()]);
    assert!(
        run.stdout.contains("</html>"),
        "no DOM dumped for {}: {}",
        page.display(),
        run.console
    );
    run
}

/// Console lines that report a blocked script, image or style.
fn csp_lines(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter(|l| l.contains("Content Security Policy") || l.contains("Refused to"))
        .collect()
}

/// How the DOM serialiser writes a text node.
fn as_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

fn title_of(dom: &str) -> &str {
    let start = dom.find("<title>").expect("a <title>") + "<title>".len();
    let end = dom[start..].find("</title>").unwrap() + start;
    &dom[start..end]
}

/// The visible text of the page, tags dropped (good enough to assert on).
fn text_of(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn finding(
    level: Level,
    module: &str,
    kind: ObservableType,
    value: &str,
    time: &str,
    message: String,
    source: &str,
) -> Finding {
    let mut record = BTreeMap::new();
    record.insert("value".to_string(), serde_json::json!(value));
    Finding {
        level,
        severity: if level == Level::Detected {
            Severity::Critical
        } else {
            Severity::Medium
        },
        kind: if level == Level::Detected {
            FindingKind::Indicator
        } else {
            FindingKind::Heuristic
        },
        module: module.to_string(),
        count: 1,
        first_seen: None,
        last_seen: None,
        artifact: format!("HomeDomain/{value}"),
        timestamp: Some(ts(time)),
        observable: Some(Observable {
            kind,
            value: value.to_string(),
        }),
        indicator: (level == Level::Detected).then(|| IndicatorRef {
            kind,
            value: value.to_string(),
            pattern: format!("[x:value = '{value}']"),
            id: "indicator--00000000-0000-4000-8000-000000000000".into(),
            malware: Some(format!("Malware {}", PAYLOADS[0])),
            source: source.to_string(),
        }),
        rule: (level != Level::Detected).then(|| format!("rule-{}", PAYLOADS[2])),
        message,
        record,
    }
}

fn module(name: &str, records: usize, first: Option<&str>, last: Option<&str>) -> ModuleInfo {
    ModuleInfo {
        name: name.to_string(),
        artifact: format!("Library/{name}.db"),
        status: ModuleStatus::Ok,
        records,
        error: None,
        duration_ms: 3,
        first: first.map(ts),
        last: last.map(ts),
    }
}

/// A report whose device name, app id, SMS URL and process name each carry
/// every payload.
fn hostile_report() -> (Report, Vec<String>) {
    let all = PAYLOADS.concat();
    let name = format!("Phone {all}");
    let app = format!("com.evil.{all}");
    let url = format!("https://evil.example/{all}");
    let process = format!("bh{all}");
    let source = format!("iocs-{all}.stix2");
    let findings = vec![
        finding(
            Level::Detected,
            "sms",
            ObservableType::Url,
            &url,
            "2026-03-02T10:00:00Z",
            format!("URL {url} is a known indicator"),
            &source,
        ),
        finding(
            Level::Detected,
            "applications",
            ObservableType::AppId,
            &app,
            "2026-03-04T08:30:00Z",
            format!("app id {app} is a known indicator"),
            &source,
        ),
        finding(
            Level::Warning,
            "shutdown_log",
            ObservableType::Process,
            &process,
            "2026-03-05T23:59:00Z",
            format!("process {process} ran from an unusual path"),
            &source,
        ),
    ];
    let report = Report {
        schema: "spydar.report/1".into(),
        tool: spydar::report::Tool {
            name: "spydar".into(),
            version: "0.1.0".into(),
        },
        scan: ScanTimes {
            started: ts("2026-11-30T12:00:00Z"),
            finished: ts("2026-11-30T12:00:01Z"),
            duration_ms: 1000,
        },
        device: DeviceInfo {
            platform: Some(Platform::Ios),
            input_kind: "ios-backup".into(),
            input_path: format!("/cases/{all}"),
            identifier: Some("00008030-000A".into()),
            name: Some(name.clone()),
            model: Some(format!("iPhone {}", PAYLOADS[1])),
            os_version: Some("17.4".into()),
            build: None,
            extra: BTreeMap::from([(format!("k{}", PAYLOADS[0]), all.clone())]),
        },
        indicators: IndicatorsInfo {
            total: 3,
            sources: vec![SourceRef {
                name: source.clone(),
                sha256: "ab".repeat(32),
                indicators: 3,
                malware: vec![format!("Malware {}", PAYLOADS[0])],
            }],
        },
        modules: vec![
            module(
                "sms",
                120,
                Some("2026-01-01T00:00:00Z"),
                Some("2026-03-10T00:00:00Z"),
            ),
            module(
                "applications",
                40,
                Some("2025-12-01T00:00:00Z"),
                Some("2026-03-04T08:30:00Z"),
            ),
            module(
                "shutdown_log",
                9,
                Some("2026-02-20T00:00:00Z"),
                Some("2026-03-06T00:00:00Z"),
            ),
            ModuleInfo {
                status: ModuleStatus::Error,
                error: Some(format!("corrupt {}", PAYLOADS[1])),
                ..module(&format!("mod{}", PAYLOADS[0]), 0, None, None)
            },
        ],
        findings,
        suppressed: Vec::new(),
        summary: Summary {
            detected: 2,
            warning: 1,
            info: 0,
            verdict: Verdict::Detected,
            note: format!("note {all}"),
        },
        notes: vec![format!("member {} refused", PAYLOADS[1])],
        rechecked: None,
    };
    (report, vec![name, app, url, process, source])
}

#[test]
fn hostile_device_strings_show_as_text_and_run_nothing() {
    let Some(bin) = chromium() else { return };
    let (report, strings) = hostile_report();
    let page = html::render(&report);
    assert!(
        page.contains("http-equiv=\"Content-Security-Policy\"")
            && page.contains("default-src 'none'"),
        "no CSP meta tag"
    );
    let path = out_dir().join("hostile.html");
    std::fs::write(&path, &page).unwrap();
    let run = dump_dom(&bin, &path);
    let dom = &run.stdout;
    let title = title_of(dom);
    assert_ne!(title, "PWNED", "a payload ran");
    assert_eq!(title, format!("spydar report: {}", as_text(&strings[0])));
    let lower = dom.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element was created");
    assert!(!lower.contains("<img"), "an img element was created");
    assert!(
        !lower.contains("href=\"javascript:"),
        "a javascript: link was created"
    );
    for s in &strings {
        assert!(dom.contains(&as_text(s)), "not shown as text: {s}");
    }
    for p in PAYLOADS {
        assert!(dom.contains(&as_text(p)), "payload not shown as text: {p}");
    }
    let blocked = csp_lines(&run.console);
    assert!(blocked.is_empty(), "console reports: {blocked:#?}");
}

/// The check above must be able to fail: the same page with one payload
/// not escaped is caught by the CSP (console line, title unchanged), and
/// without the CSP it runs (title changed).
#[test]
fn harness_catches_an_unescaped_payload() {
    let Some(bin) = chromium() else { return };
    let (report, _) = hostile_report();
    let page = html::render(&report).replace("<footer", &format!("{}<footer", PAYLOADS[0]));
    let path = out_dir().join("unescaped-with-csp.html");
    std::fs::write(&path, &page).unwrap();
    let run = dump_dom(&bin, &path);
    assert!(
        title_of(&run.stdout).starts_with("spydar report: Phone "),
        "CSP did not stop the script"
    );
    assert!(
        !csp_lines(&run.console).is_empty(),
        "the blocked script left no console line: {}",
        run.console
    );

    let start = page
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let end = page[start..].find('>').unwrap() + start + 1;
    let no_csp = format!("{}{}", &page[..start], &page[end..]);
    let path = out_dir().join("unescaped-without-csp.html");
    std::fs::write(&path, no_csp).unwrap();
    let run = dump_dom(&bin, &path);
    assert_eq!(
        title_of(&run.stdout),
        "PWNED",
        "the harness cannot see a script run"
    );
}

#[test]
fn index_escapes_hostile_device_fields() {
    let Some(bin) = chromium() else { return };
    let (report, _) = hostile_report();
    let mut hostile = DeviceSummary::of(&report, &format!("id{}", PAYLOADS[1]));
    hostile.input_path = PAYLOADS.concat();
    let mut scheme = DeviceSummary::of(&report, PAYLOADS[2]);
    scheme.name = Some(PAYLOADS[0].to_string());
    let mut failed = DeviceSummary::failed(Path::new("/cases/x"), PAYLOADS.concat());
    failed.id = "broken".into();
    let page = html::render_index(&[hostile, scheme, failed]);
    let path = out_dir().join("index-hostile.html");
    std::fs::write(&path, &page).unwrap();
    let run = dump_dom(&bin, &path);
    let dom = &run.stdout;
    assert_eq!(title_of(dom), "spydar: 3 devices");
    let lower = dom.to_ascii_lowercase();
    assert!(!lower.contains("<script") && !lower.contains("<img"));
    assert!(
        !lower.contains("href=\"javascript:"),
        "a javascript: link was created"
    );
    assert!(
        dom.contains(&as_text(PAYLOADS[2])),
        "scheme id not shown as text"
    );
    assert!(dom.contains("spyware traces found") && dom.contains("not scanned"));
    assert!(csp_lines(&run.console).is_empty(), "{}", run.console);
}

/// Generates an iOS backup (planted or clean), scans it with the CLI, and
/// returns the report.json and the path of report.html.
fn scanned(plant: bool, dir: &Path) -> (serde_json::Value, PathBuf) {
    let input = dir.join("backup");
    ios_backup::generate(
        &input,
        &GenOptions {
            plant,
            ..Default::default()
        },
    )
    .unwrap();
    let out = dir.join("out");
    let (_, report) = common::scan(&input, &out, &[]);
    spans_match_the_timeline(&report, &out);
    let html = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.html")
        .expect("report.html written")
        .into_path();
    (report, html)
}

/// Each module's `first`/`last` in report.json (what the timeline picture
/// draws) are the earliest and latest times of its rows in timeline.csv.
fn spans_match_the_timeline(report: &serde_json::Value, out: &Path) {
    let csv = walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "timeline.csv")
        .expect("timeline.csv written");
    let csv = std::fs::read_to_string(csv.path()).unwrap();
    let mut spans: BTreeMap<String, (jiff::Timestamp, jiff::Timestamp)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let mut cols = line.splitn(3, ',');
        let (time, module) = (ts(cols.next().unwrap()), cols.next().unwrap());
        let e = spans.entry(module.to_string()).or_insert((time, time));
        e.0 = e.0.min(time);
        e.1 = e.1.max(time);
    }
    assert!(!spans.is_empty());
    for m in report["modules"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        match spans.get(name) {
            Some((first, last)) => {
                assert_eq!(m["first"].as_str().map(ts), Some(*first), "{name} first");
                assert_eq!(m["last"].as_str().map(ts), Some(*last), "{name} last");
            }
            None => assert!(m.get("first").is_none(), "{name} has a span but no rows"),
        }
    }
}

fn screenshot(bin: &Path, page: &Path, png: &Path) {
    let _ = std::fs::remove_file(png);
    let run = browse(
        bin,
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,2600".to_string(),
        ],
    );
    let bytes = std::fs::read(png).unwrap_or_else(|_| panic!("no screenshot: {}", run.console));
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
}

/// Prints the page to PDF (A4 from the page's @page rule) and counts pages.
fn pdf_pages(bin: &Path, page: &Path, pdf: &Path) -> usize {
    let _ = std::fs::remove_file(pdf);
    let run = browse(
        bin,
        page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".to_string(),
        ],
    );
    let bytes = std::fs::read(pdf).unwrap_or_else(|_| panic!("no PDF: {}", run.console));
    let text = String::from_utf8_lossy(&bytes);
    regex::Regex::new(r"/Type\s*/Page\b")
        .unwrap()
        .find_iter(&text)
        .count()
}

#[test]
fn infected_report_shows_verdict_and_every_finding() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (report, page) = scanned(true, dir.path());
    assert_eq!(report["summary"]["verdict"], "detected");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.len() >= 3,
        "the generated device plants several indicators"
    );

    let run = dump_dom(&bin, &page);
    let text = text_of(&run.stdout);
    assert!(text.contains("Traces of known spyware were found on this device."));
    assert!(text.contains("Keep the device as it is."));
    assert!(text.contains("https://securitylab.amnesty.org/get-help/"));
    assert!(text.contains("https://www.accessnow.org/help/"));
    assert!(
        !run.stdout.contains("href=\"https://"),
        "help addresses must be text, not links"
    );
    assert!(
        run.stdout.contains("<svg class=\"timeline\""),
        "no timeline picture"
    );
    let marks = run.stdout.matches("<circle class=\"m-").count();
    let dated = findings
        .iter()
        .filter(|f| !f["timestamp"].is_null())
        .count();
    assert_eq!(marks, dated, "one timeline mark per dated finding");
    for f in findings {
        let msg = text_of(&as_text(f["message"].as_str().unwrap()));
        assert!(text.contains(&msg), "finding not shown: {msg}");
    }
    for s in report["indicators"]["sources"].as_array().unwrap() {
        assert!(
            text.contains(s["name"].as_str().unwrap()),
            "indicator set not listed"
        );
    }
    assert!(csp_lines(&run.console).is_empty(), "{}", run.console);

    let out = out_dir();
    screenshot(&bin, &page, &out.join("infected.png"));
    std::fs::copy(&page, out.join("infected.html")).unwrap();
    let pages = pdf_pages(&bin, &page, &out.join("infected.pdf"));
    assert!(
        (1..=6).contains(&pages),
        "the infected report prints to {pages} A4 pages"
    );
}

#[test]
fn clean_report_says_what_a_clean_result_means() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (report, page) = scanned(false, dir.path());
    assert_eq!(report["summary"]["detected"], 0);
    let run = dump_dom(&bin, &page);
    let text = text_of(&run.stdout);
    if report["summary"]["verdict"] == "no-findings" {
        assert!(text.contains("No known spyware was found in what could be read."));
    }
    assert!(text.contains("not proof that the device is clean"));
    assert!(!text.contains("Traces of known spyware were found"));
    assert!(csp_lines(&run.console).is_empty(), "{}", run.console);
    screenshot(&bin, &page, &out_dir().join("clean.png"));
    std::fs::copy(&page, out_dir().join("clean.html")).unwrap();
}

#[test]
fn an_input_with_nothing_read_is_not_called_clean() {
    let (mut report, _) = hostile_report();
    report.findings.clear();
    for m in &mut report.modules {
        m.records = 0;
        m.first = None;
        m.last = None;
    }
    report.summary = Summary {
        detected: 0,
        warning: 0,
        info: 0,
        verdict: Verdict::NothingRead,
        note: String::new(),
    };
    let page = html::render(&report);
    assert!(page.contains("Nothing was checked"));
    assert!(!page.contains("No known spyware was found"));
    assert!(page.contains("nothing to draw"));
}
