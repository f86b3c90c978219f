//! `--junit FILE`: the run as JUnit XML, for CI systems that display test
//! results (GitHub Actions reporters, GitLab's `artifacts:reports:junit`,
//! Jenkins).
//!
//! One `<testsuite>` per run, one `<testcase>` per device (`name` = its
//! report folder name, `classname` = its input kind). In each test case, in
//! the order the Jenkins/Ant schema wants: an `<error>` per module that
//! failed, one for a device of which nothing could be read, one for an
//! input that could not be scanned or whose report was not written; then a
//! `<failure>` per finding at or above `--fail-on` (`message` = the
//! finding's message, body = level, indicator or rule, observable, module,
//! artifact, time); then `<system-out>` with the verdict, its note, the
//! module counts and the findings below `--fail-on`.
//!
//! Counts: `tests` = devices; `failures` = devices with a failure;
//! `errors` = devices with an error and no failure (so a detection is never
//! shown as a mere error); `skipped` = 0 (spydar skips no device).
//!
//! All text goes through `quick-xml`, which escapes `<`, `>`, `&` and
//! quotes; characters XML 1.0 cannot carry at all (NUL and most C0
//! controls) are written as `\u{..}` first.

use std::borrow::Cow;
use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::{DeviceSummary, NOTHING_READ_NOTE, Report, Verdict};
use crate::model::{Finding, Level, ModuleStatus};

/// Text XML 1.0 can carry: every character outside its `Char` production
/// (C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF)
/// becomes `\u{XX}`. With `attr`, tab and newline become spaces too (a
/// parser would fold them anyway).
pub fn xml_text(s: &str, attr: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
            || (attr && matches!(c, '\t' | '\n'))
    };
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if attr && matches!(c, '\t' | '\n') {
            out.push(' ');
        } else if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One test case: a device with its report, or an input without one.
pub struct Case<'a> {
    pub summary: &'a DeviceSummary,
    pub report: Option<&'a Report>,
}

/// Pairs each summary with its report: `reports` holds, in order, the
/// reports of the summaries that have a verdict (the inputs that could be
/// scanned), as `spydar scan` and `recheck` collect them.
pub fn cases<'a>(summaries: &'a [DeviceSummary], reports: &'a [Report]) -> Vec<Case<'a>> {
    let mut next = reports.iter();
    summaries
        .iter()
        .map(|summary| Case {
            summary,
            report: summary.verdict.and_then(|_| next.next()),
        })
        .collect()
}

/// An `<error>` or `<failure>` to write.
struct Problem {
    message: String,
    kind: String,
    body: String,
}

/// What one test case holds.
struct CaseParts {
    name: String,
    classname: String,
    time: f64,
    errors: Vec<Problem>,
    failures: Vec<Problem>,
    out: String,
}

fn finding_body(f: &Finding) -> String {
    let mut lines = vec![format!("level: {} ({:?})", f.level.as_str(), f.severity).to_lowercase()];
    if let Some(i) = &f.indicator {
        lines.push(format!(
            "indicator: {} {} {:?} ({}) from {}",
            i.id,
            i.kind,
            i.value,
            i.malware.as_deref().unwrap_or("no malware name"),
            i.source
        ));
        lines.push(format!("pattern: {}", i.pattern));
    }
    if let Some(r) = &f.rule {
        lines.push(format!("rule: {r}"));
    }
    if let Some(o) = &f.observable {
        lines.push(format!("observable: {} {:?}", o.kind, o.value));
    }
    lines.push(format!("module: {}", f.module));
    lines.push(format!("artifact: {}", f.artifact));
    let time = f
        .timestamp
        .map_or_else(|| "unknown".to_string(), |t| t.to_string());
    lines.push(format!("time: {time}"));
    if f.count > 1 {
        let span = match (f.first_seen, f.last_seen) {
            (Some(a), Some(b)) => format!(", first {a}, last {b}"),
            _ => String::new(),
        };
        lines.push(format!("records: {}{span}", f.count));
    }
    lines.join("\n")
}

fn device_parts(c: &Case, report: &Report, fail_on: Option<Level>) -> CaseParts {
    let mut errors = Vec::new();
    for m in report
        .modules
        .iter()
        .filter(|m| m.status == ModuleStatus::Error)
    {
        errors.push(Problem {
            message: format!(
                "module {}: {}",
                m.name,
                m.error.as_deref().unwrap_or("failed")
            ),
            kind: "module-error".into(),
            body: format!("module: {}\nartifact: {}", m.name, m.artifact),
        });
    }
    if report.summary.verdict == Verdict::NothingRead {
        errors.push(Problem {
            message: "nothing could be read from this input; this is not a clean result".into(),
            kind: "nothing-read".into(),
            body: NOTHING_READ_NOTE.into(),
        });
    }
    if let Some(e) = &c.summary.error {
        errors.push(Problem {
            message: e.clone(),
            kind: "report-not-written".into(),
            body: format!("input: {}", report.device.input_path),
        });
    }
    let failing = |f: &Finding| fail_on.is_some_and(|l| f.level <= l);
    let failures = report
        .findings
        .iter()
        .filter(|f| failing(f))
        .map(|f| Problem {
            message: f.message.clone(),
            kind: f.level.as_str().into(),
            body: finding_body(f),
        })
        .collect();
    let count = |s: ModuleStatus| report.modules.iter().filter(|m| m.status == s).count();
    let mut out = format!(
        "input: {}\nverdict: {}\n{}\nmodules: {} read, {} missing (not in this input), {} failed\nindicators: {}\n",
        report.device.input_path,
        serde_json::to_value(report.summary.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        report.summary.note,
        count(ModuleStatus::Ok),
        count(ModuleStatus::Missing),
        count(ModuleStatus::Error),
        report.indicators.total,
    );
    let below: Vec<&Finding> = report.findings.iter().filter(|f| !failing(f)).collect();
    if !below.is_empty() {
        out.push_str(&format!("findings below --fail-on: {}\n", below.len()));
        for f in below {
            out.push_str(&format!("  [{}] {}\n", f.level.as_str(), f.message));
        }
    }
    CaseParts {
        name: c.summary.id.clone(),
        classname: report.device.input_kind.clone(),
        time: report.scan.duration_ms as f64 / 1000.0,
        errors,
        failures,
        out,
    }
}

fn parts(c: &Case, fail_on: Option<Level>) -> CaseParts {
    match c.report {
        Some(report) => device_parts(c, report, fail_on),
        None => CaseParts {
            name: if c.summary.id.is_empty() {
                c.summary.input_path.clone()
            } else {
                c.summary.id.clone()
            },
            classname: if c.summary.input_kind.is_empty() {
                "input".into()
            } else {
                c.summary.input_kind.clone()
            },
            time: 0.0,
            errors: vec![Problem {
                message: c
                    .summary
                    .error
                    .clone()
                    .unwrap_or_else(|| "not scanned".into()),
                kind: "input-error".into(),
                body: format!("input: {}", c.summary.input_path),
            }],
            failures: Vec::new(),
            out: String::new(),
        },
    }
}

fn seconds(t: f64) -> String {
    format!("{t:.3}")
}

fn write_problem<W: Write>(w: &mut Writer<W>, tag: &str, p: &Problem) -> std::io::Result<()> {
    w.create_element(tag)
        .with_attribute(("message", xml_text(&p.message, true)))
        .with_attribute(("type", xml_text(&p.kind, true)))
        .write_text_content(BytesText::new(&xml_text(&p.body, false)))?;
    Ok(())
}

fn write_case<W: Write>(w: &mut Writer<W>, p: &CaseParts) -> std::io::Result<()> {
    w.create_element("testcase")
        .with_attribute(("name", xml_text(&p.name, true)))
        .with_attribute(("classname", xml_text(&p.classname, true)))
        .with_attribute(("time", seconds(p.time).as_str()))
        .write_inner_content(|w| {
            for e in &p.errors {
                write_problem(w, "error", e)?;
            }
            for f in &p.failures {
                write_problem(w, "failure", f)?;
            }
            if !p.out.is_empty() {
                w.create_element("system-out")
                    .write_text_content(BytesText::new(&xml_text(&p.out, false)))?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The run's JUnit XML. `suite` names the test suite (`spydar scan`),
/// `fail_on` is the `--fail-on` level (`None`: never).
pub fn render(cases: &[Case], fail_on: Option<Level>, suite: &str) -> std::io::Result<Vec<u8>> {
    let all: Vec<CaseParts> = cases.iter().map(|c| parts(c, fail_on)).collect();
    let tests = all.len().to_string();
    let failures = all.iter().filter(|p| !p.failures.is_empty()).count();
    let errors = all
        .iter()
        .filter(|p| p.failures.is_empty() && !p.errors.is_empty())
        .count();
    let (failures, errors) = (failures.to_string(), errors.to_string());
    let time = seconds(all.iter().map(|p| p.time).sum());
    let started = cases
        .iter()
        .filter_map(|c| c.report.map(|r| r.scan.started))
        .min()
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string());
    let fail_on_word = fail_on.map_or("never", Level::as_str);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", errors.as_str()),
        ("skipped", "0"),
        ("time", time.as_str()),
    ];
    w.create_element("testsuites")
        .with_attribute(("name", "spydar"))
        .with_attributes(counts)
        .write_inner_content(|w| {
            let mut suite_el = w
                .create_element("testsuite")
                .with_attribute(("name", xml_text(suite, true)))
                .with_attributes(counts);
            if let Some(t) = &started {
                suite_el = suite_el.with_attribute(("timestamp", t.as_str()));
            }
            suite_el.write_inner_content(|w| {
                w.create_element("properties").write_inner_content(|w| {
                    let props = [
                        ("spydar.version", env!("CARGO_PKG_VERSION")),
                        ("spydar.fail-on", fail_on_word),
                    ];
                    for (name, value) in props {
                        w.create_element("property")
                            .with_attribute(("name", name))
                            .with_attribute(("value", value))
                            .write_empty()?;
                    }
                    Ok(())
                })?;
                for p in &all {
                    write_case(w, p)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_spelled_out() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c", false), "a\\u{0}b\\u{1b}c");
        assert_eq!(xml_text("line\nnext\tx", true), "line next x");
        assert_eq!(xml_text("line\nnext", false), "line\nnext");
        assert!(matches!(xml_text("<ok & fine>", true), Cow::Borrowed(_)));
    }
}
