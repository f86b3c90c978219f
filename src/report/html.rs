//! One self-contained HTML page per device (and an index per run), built
//! from askama templates in `templates/`. Every value the page shows goes
//! through the template engine's HTML escaping (device data and indicator
//! names are attacker-controlled), and the page carries a
//! Content-Security-Policy that allows no script and no fetch at all.
//!
//! The templates see only the view structs below, made of plain strings and
//! numbers; the SVG timeline is computed here as coordinates.

use askama::Template;
use serde::Serialize;
use serde_json::Value;

use super::{DeviceSummary, EntryStatus, ModuleInfo, Report, SourceRef};
use crate::model::{DeviceInfo, Finding, ModuleStatus, Platform};

/// Where to turn when spyware traces are found: organisations that take
/// individual cases, with addresses shown as text to copy (the page fetches
/// nothing and links nowhere).
pub const HELP: [(&str, &str, &str); 2] = [
    (
        "Amnesty International's Security Lab",
        "https://securitylab.amnesty.org/get-help/",
        "investigates spyware attacks on human rights defenders, journalists and activists",
    ),
    (
        "Access Now's Digital Security Helpline",
        "https://www.accessnow.org/help/",
        "free, around the clock, in several languages, for civil society",
    ),
];

/// A field of a serialised value, so the page shows fields that newer
/// report versions add (a finding's `count`, a verdict's new name) without
/// this module naming them in code.
fn field(v: &impl Serialize, key: &str) -> Option<Value> {
    match serde_json::to_value(v).ok()? {
        Value::Object(mut m) => m.remove(key),
        _ => None,
    }
}

fn as_name(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn fmt_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn value_time(v: Option<Value>) -> Option<jiff::Timestamp> {
    v?.as_str()?.parse().ok()
}

/// Shortens `s` to at most `max` characters (never inside a character).
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or(s)),
        None => s.to_string(),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

struct VerdictView {
    /// detected | warnings | no-findings | nothing-read
    kind: &'static str,
    headline: &'static str,
}

fn verdict_view(r: &Report) -> VerdictView {
    let name = as_name(&r.summary.verdict);
    match name.as_str() {
        "detected" => VerdictView {
            kind: "detected",
            headline: "Traces of known spyware were found on this device.",
        },
        "warnings" => VerdictView {
            kind: "warnings",
            headline: "No known spyware was found, but some things need an expert's look.",
        },
        "nothing-read" => nothing_read(),
        _ => VerdictView {
            kind: "no-findings",
            headline: "No known spyware was found in what could be read.",
        },
    }
}

fn nothing_read() -> VerdictView {
    VerdictView {
        kind: "nothing-read",
        headline: "Nothing was checked: spydar could not read anything from this input.",
    }
}

struct IndicatorView {
    malware: String,
    pattern: String,
    source: String,
}

struct FindingView {
    anchor: String,
    level: &'static str,
    severity: &'static str,
    time: String,
    local_time: bool,
    message: String,
    observable_type: String,
    observable_value: String,
    /// The message already quotes the value and names the module in most
    /// findings; say them again only when it does not.
    show_observable: bool,
    show_module: bool,
    module: String,
    artifact: String,
    indicator: Option<IndicatorView>,
    rule: String,
    count: u64,
    first_seen: String,
    last_seen: String,
}

fn finding_view(i: usize, f: &Finding) -> FindingView {
    let count = field(f, "count").and_then(|v| v.as_u64()).unwrap_or(1);
    let seen = |k| value_time(field(f, k)).map(fmt_time).unwrap_or_default();
    FindingView {
        anchor: format!("f{}", i + 1),
        level: f.level.as_str(),
        severity: f.severity.as_str(),
        time: f.timestamp.map(fmt_time).unwrap_or_default(),
        local_time: f.record.contains_key("time_zone"),
        message: f.message.clone(),
        observable_type: f
            .observable
            .as_ref()
            .map(|o| o.kind.to_string())
            .unwrap_or_default(),
        observable_value: f
            .observable
            .as_ref()
            .map(|o| o.value.clone())
            .unwrap_or_default(),
        show_observable: f
            .observable
            .as_ref()
            .is_some_and(|o| !f.message.contains(&o.value)),
        show_module: !f.message.starts_with(&f.module),
        module: f.module.clone(),
        artifact: f.artifact.clone(),
        indicator: f.indicator.as_ref().map(|i| IndicatorView {
            malware: i
                .malware
                .clone()
                .unwrap_or_else(|| "a published indicator".into()),
            pattern: i.pattern.clone(),
            source: i.source.clone(),
        }),
        rule: f.rule.clone().unwrap_or_default(),
        count,
        first_seen: seen("first_seen"),
        last_seen: seen("last_seen"),
    }
}

struct ModuleView {
    name: String,
    artifact: String,
    /// ok | missing | error
    status: &'static str,
    error: String,
    records: usize,
    span: String,
}

struct SourceView {
    name: String,
    indicators: usize,
    sha256: String,
    malware: String,
    date: String,
}

struct Lane {
    label: String,
    full: String,
    y: String,
    text_y: String,
    bar: Option<(String, String)>,
}

struct Mark {
    level: &'static str,
    x: String,
    y: String,
    /// A range (first to last seen) for aggregated findings.
    x2: Option<String>,
    title: String,
    anchor: String,
}

struct Tick {
    x: String,
    label: String,
    /// start | middle | end, so the outer labels stay inside the picture.
    anchor: &'static str,
}

/// The inline SVG: one lane per module, a grey bar over the span of its
/// records, a mark per finding at its time.
struct Timeline {
    drawn: bool,
    height: String,
    axis_y: String,
    tick_text_y: String,
    lanes: Vec<Lane>,
    marks: Vec<Mark>,
    ticks: Vec<Tick>,
    undated: usize,
    from: String,
    to: String,
}

const SVG_W: f64 = 960.0;
const PLOT_X: f64 = 180.0;
const PLOT_W: f64 = SVG_W - PLOT_X - 20.0;
const LANE_H: f64 = 22.0;

fn timeline(r: &Report, findings: &[FindingView]) -> Timeline {
    let dated: Vec<(&Finding, &FindingView, jiff::Timestamp)> = r
        .findings
        .iter()
        .zip(findings)
        .filter_map(|(f, v)| Some((f, v, f.timestamp?)))
        .collect();
    let mut times: Vec<jiff::Timestamp> = dated.iter().map(|d| d.2).collect();
    for m in &r.modules {
        times.extend(m.first);
        times.extend(m.last);
    }
    for (f, _, _) in &dated {
        times.extend(value_time(field(*f, "first_seen")));
        times.extend(value_time(field(*f, "last_seen")));
    }
    let undated = r.findings.len() - dated.len();
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
        return Timeline {
            drawn: false,
            height: String::new(),
            axis_y: String::new(),
            tick_text_y: String::new(),
            lanes: Vec::new(),
            marks: Vec::new(),
            ticks: Vec::new(),
            undated,
            from: String::new(),
            to: String::new(),
        };
    };
    let hour = jiff::SignedDuration::from_hours(1);
    let (lo, hi) = if min == max {
        (
            min.saturating_sub(hour).unwrap_or(min),
            max.saturating_add(hour).unwrap_or(max),
        )
    } else {
        (min, max)
    };
    let span = (hi.as_millisecond() - lo.as_millisecond()).max(1) as f64;
    let x = |t: jiff::Timestamp| {
        PLOT_X + PLOT_W * ((t.as_millisecond() - lo.as_millisecond()) as f64 / span)
    };

    // Lanes: modules with a span or a dated finding, in report order, then
    // the modules only findings name.
    let mut names: Vec<&str> = r
        .modules
        .iter()
        .filter(|m| m.first.is_some() || dated.iter().any(|d| d.0.module == m.name))
        .map(|m| m.name.as_str())
        .collect();
    for (f, _, _) in &dated {
        if !names.contains(&f.module.as_str()) {
            names.push(&f.module);
        }
    }
    let lane_y = |i: usize| 10.0 + LANE_H * i as f64;
    let lanes = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let m = r.modules.iter().find(|m| m.name == *name);
            let bar = m.and_then(|m| Some((m.first?, m.last?))).map(|(a, b)| {
                let x1 = x(a);
                (format!("{x1:.1}"), format!("{:.1}", (x(b) - x1).max(2.0)))
            });
            Lane {
                label: shorten(name, 24),
                full: name.to_string(),
                y: format!("{:.1}", lane_y(i) + 5.0),
                text_y: format!("{:.1}", lane_y(i) + 15.0),
                bar,
            }
        })
        .collect::<Vec<_>>();
    let marks = dated
        .iter()
        .map(|(f, v, t)| {
            let lane = names.iter().position(|n| *n == f.module).unwrap_or(0);
            let first = value_time(field(*f, "first_seen"));
            let last = value_time(field(*f, "last_seen"));
            let x2 = match (first, last) {
                (Some(a), Some(b)) if a != b => {
                    Some((format!("{:.1}", x(a)), format!("{:.1}", x(b))))
                }
                _ => None,
            };
            let (cx, x2) = match x2 {
                Some((a, b)) => (a, Some(b)),
                None => (format!("{:.1}", x(*t)), None),
            };
            Mark {
                level: v.level,
                x: cx,
                y: format!("{:.1}", lane_y(lane) + 11.0),
                x2,
                title: format!("{} {}: {}", v.time, v.level, v.message),
                anchor: v.anchor.clone(),
            }
        })
        .collect();
    let axis_y = lane_y(names.len()) + 4.0;
    let long = hi.as_second() - lo.as_second() > 3 * 86_400;
    let ticks = (0..=4)
        .map(|i| {
            let ms = lo.as_millisecond() + ((span * i as f64 / 4.0) as i64);
            let t = jiff::Timestamp::from_millisecond(ms).unwrap_or(lo);
            Tick {
                x: format!("{:.1}", x(t)),
                anchor: match i {
                    0 => "start",
                    4 => "end",
                    _ => "middle",
                },
                label: if long {
                    t.strftime("%Y-%m-%d").to_string()
                } else {
                    t.strftime("%m-%d %H:%M").to_string()
                },
            }
        })
        .collect();
    Timeline {
        drawn: true,
        height: format!("{:.0}", axis_y + 26.0),
        axis_y: format!("{axis_y:.1}"),
        tick_text_y: format!("{:.1}", axis_y + 18.0),
        lanes,
        marks,
        ticks,
        undated,
        from: fmt_time(min),
        to: fmt_time(max),
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    title: String,
    verdict: VerdictView,
    counts: String,
    note: &'a str,
    help: [(&'static str, &'static str, &'static str); 2],
    device: Vec<(String, String)>,
    scanned: String,
    version: &'a str,
    findings: Vec<FindingView>,
    suppressed: Vec<(String, String)>,
    problems: &'a [String],
    modules: Vec<ModuleView>,
    not_read: Vec<String>,
    sources: Vec<SourceView>,
    indicators_total: usize,
    timeline: Timeline,
}

/// The device facts the page lists, in this order, then the extra ones.
fn device_rows(d: &DeviceInfo) -> Vec<(String, String)> {
    let platform = d.platform.map(|p| match p {
        Platform::Ios => "iOS".to_string(),
        Platform::Android => "Android".to_string(),
    });
    let known = [
        ("Name", d.name.clone()),
        ("Platform", platform),
        ("Model", d.model.clone()),
        ("OS version", d.os_version.clone()),
        ("Build", d.build.clone()),
        ("Identifier", d.identifier.clone()),
        (
            "Input",
            Some(format!("{} ({})", d.input_path, d.input_kind)),
        ),
    ];
    known
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .chain(d.extra.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

fn module_view(m: &ModuleInfo) -> ModuleView {
    ModuleView {
        name: m.name.clone(),
        artifact: m.artifact.clone(),
        status: match m.status {
            ModuleStatus::Ok => "ok",
            ModuleStatus::Missing => "missing",
            ModuleStatus::Error => "error",
        },
        error: m.error.clone().unwrap_or_default(),
        records: m.records,
        span: match (m.first, m.last) {
            (Some(a), Some(b)) if a == b => fmt_time(a),
            (Some(a), Some(b)) => format!("{} – {}", fmt_time(a), fmt_time(b)),
            _ => String::new(),
        },
    }
}

/// A set's malware names; a long list (Echap's stalkerware set names 172
/// applications) is cut after a dozen, saying how many more there are.
fn malware_list(names: &[String]) -> String {
    const SHOWN: usize = 12;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

fn source_view(s: &SourceRef) -> SourceView {
    SourceView {
        name: s.name.clone(),
        indicators: s.indicators,
        sha256: s.sha256.get(..16).unwrap_or(&s.sha256).to_string(),
        malware: malware_list(&s.malware),
        date: ["date", "modified", "updated"]
            .iter()
            .find_map(|k| field(s, k)?.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

pub fn render(r: &Report) -> String {
    let d = &r.device;
    let title = d
        .name
        .clone()
        .or(d.identifier.clone())
        .unwrap_or_else(|| d.input_path.clone());
    let findings: Vec<FindingView> = r
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| finding_view(i, f))
        .collect();
    let timeline = timeline(r, &findings);
    let page = ReportPage {
        title,
        verdict: verdict_view(r),
        counts: format!(
            "{} detected · {} · {}",
            r.summary.detected,
            plural(r.summary.warning, "warning"),
            plural(r.summary.info, "note")
        ),
        note: &r.summary.note,
        help: HELP,
        device: device_rows(d),
        scanned: format!(
            "{} UTC, {} ms",
            fmt_time(r.scan.started),
            r.scan.duration_ms
        ),
        version: &r.tool.version,
        findings,
        suppressed: r
            .suppressed
            .iter()
            .map(|s| (s.finding.message.clone(), s.reason.clone()))
            .collect(),
        problems: &r.notes,
        not_read: r
            .modules
            .iter()
            .filter(|m| m.status == ModuleStatus::Error)
            .map(|m| m.name.clone())
            .collect(),
        modules: r.modules.iter().map(module_view).collect(),
        sources: r.indicators.sources.iter().map(source_view).collect(),
        indicators_total: r.indicators.total,
        timeline,
    };
    // Rendering only fails when a value's Display fails; ours are strings.
    page.render()
        .unwrap_or_else(|e| format!("report could not be rendered: {e}\n"))
}

struct IndexRow {
    id: String,
    link: bool,
    input_path: String,
    input_kind: String,
    name: String,
    verdict: String,
    /// detected | warnings | no-findings | nothing-read | error
    class: String,
    detected: usize,
    warning: usize,
    modules_failed: usize,
    duration: String,
    error: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    rows: Vec<IndexRow>,
}

pub fn render_index(devices: &[DeviceSummary]) -> String {
    let rows = devices
        .iter()
        .map(|d| {
            let verdict = d.verdict.as_ref().map(as_name).unwrap_or_default();
            let (class, text) = match (&d.error, verdict.as_str()) {
                (Some(_), _) if d.status == Some(EntryStatus::NotAnInput) => ("", "not an input"),
                (Some(_), _) => ("error", "not scanned"),
                (None, "detected") => ("detected", "spyware traces found"),
                (None, "warnings") => ("warnings", "needs an expert's look"),
                (None, "no-findings") => ("no-findings", "nothing known found"),
                (None, "nothing-read") => ("nothing-read", "nothing could be read"),
                (None, _) => ("", ""),
            };
            IndexRow {
                id: d.id.clone(),
                // Device ids are folder names (`device_id`); anything else
                // (a scheme, a slash) is shown but not linked.
                link: d.report.is_some()
                    && !d.id.is_empty()
                    && !d.id.starts_with('.')
                    && d.id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                input_path: d.input_path.clone(),
                input_kind: d.input_kind.clone(),
                name: d.name.clone().unwrap_or_default(),
                verdict: text.to_string(),
                class: class.to_string(),
                detected: d.detected,
                warning: d.warning,
                modules_failed: d.modules_failed,
                duration: field(d, "duration_ms")
                    .and_then(|v| v.as_u64())
                    .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_default(),
                error: d.error.clone().unwrap_or_default(),
            }
        })
        .collect();
    IndexPage { rows }
        .render()
        .unwrap_or_else(|e| format!("index could not be rendered: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_never_splits_a_character() {
        assert_eq!(shorten("ééééé", 3), "ééé…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
