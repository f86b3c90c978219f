//! The report contract (REPORT.md): report.json, report.html, timeline.csv,
//! records/<module>.jsonl per device, summary.json (and index.html) per run.

pub mod html;
pub mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::indicators::IndicatorSet;
use crate::model::{DeviceInfo, Level, ModuleOutput, ModuleStatus, Platform};
use crate::scan::{Finding, Suppressed, TimelineRow};

pub const REPORT_SCHEMA: &str = "spydar.report/1";
pub const SUMMARY_SCHEMA: &str = "spydar.summary/1";

/// What a clean result means, in the words every output uses.
pub const CLEAN_RESULT_NOTE: &str = "No published indicator of compromise was found in what spydar could read. \
This is not proof that the device is clean: indicators cover only known, published campaigns; \
a backup or archive holds only part of what is on a phone; and spyware can erase its traces. \
Check the list of modules that could not be read, and re-check later with newer indicators (spydar recheck).";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScanTimes {
    pub started: jiff::Timestamp,
    pub finished: jiff::Timestamp,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceRef {
    pub name: String,
    pub sha256: String,
    pub indicators: usize,
    pub malware: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndicatorsInfo {
    pub total: usize,
    pub sources: Vec<SourceRef>,
}

impl IndicatorsInfo {
    pub fn from_set(set: &IndicatorSet) -> Self {
        IndicatorsInfo {
            total: set.total(),
            sources: set
                .sources
                .iter()
                .map(|s| SourceRef {
                    name: s.name.clone(),
                    sha256: s.sha256.clone(),
                    indicators: s.indicators,
                    malware: s.malware.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub name: String,
    pub artifact: String,
    pub status: ModuleStatus,
    pub records: usize,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Earliest and latest record time of this module (for the HTML timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<jiff::Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Detected,
    Warnings,
    NoFindings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub detected: usize,
    pub warning: usize,
    pub info: usize,
    pub verdict: Verdict,
    /// What the verdict means and does not mean, in plain words.
    pub note: String,
}

/// `report.json`, schema `spydar.report/1`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub tool: Tool,
    pub scan: ScanTimes,
    pub device: DeviceInfo,
    pub indicators: IndicatorsInfo,
    pub modules: Vec<ModuleInfo>,
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Suppressed>,
    pub summary: Summary,
    /// Input-level problems (truncated archive, refused member names).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(
        device: DeviceInfo,
        modules: &[ModuleOutput],
        findings: Vec<Finding>,
        suppressed: Vec<Suppressed>,
        notes: Vec<String>,
        indicators: IndicatorsInfo,
        scan: ScanTimes,
    ) -> Self {
        let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
        let (detected, warning, info) = (
            count(Level::Detected),
            count(Level::Warning),
            count(Level::Info),
        );
        let verdict = if detected > 0 {
            Verdict::Detected
        } else if warning > 0 {
            Verdict::Warnings
        } else {
            Verdict::NoFindings
        };
        let unreadable: Vec<&str> = modules
            .iter()
            .filter(|m| m.status == ModuleStatus::Error)
            .map(|m| m.name.as_str())
            .collect();
        let mut note = match verdict {
            Verdict::Detected => "Published indicators of compromise matched. Treat the device as possibly compromised \
                and ask a digital-security expert to review the findings before acting; keep the input as evidence."
                .to_string(),
            Verdict::Warnings => format!(
                "No published indicator matched, but heuristics raised warnings that need an expert's look. {CLEAN_RESULT_NOTE}"
            ),
            Verdict::NoFindings => CLEAN_RESULT_NOTE.to_string(),
        };
        if !unreadable.is_empty() {
            note.push_str(&format!(" Not read: {}.", unreadable.join(", ")));
        }
        let mut report = Report {
            schema: REPORT_SCHEMA.to_string(),
            tool: Tool {
                name: "spydar".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scan,
            device,
            indicators,
            modules: modules
                .iter()
                .map(|m| ModuleInfo {
                    name: m.name.clone(),
                    artifact: m.artifact.clone(),
                    status: m.status,
                    records: m.record_count(),
                    error: m.error.clone(),
                    duration_ms: m.duration_ms,
                    first: None,
                    last: None,
                })
                .collect(),
            findings,
            suppressed,
            summary: Summary {
                detected,
                warning,
                info,
                verdict,
                note,
            },
            notes,
        };
        report.widen_spans(modules.iter().flat_map(|m| {
            m.records
                .iter()
                .filter_map(|r| Some((m.name.as_str(), r.timestamp?)))
        }));
        report
    }

    /// Whether any finding is at or above `level`.
    pub fn has_at_least(&self, level: Level) -> bool {
        self.findings.iter().any(|f| f.level <= level)
    }

    pub fn device_id(&self) -> String {
        device_id(&self.device)
    }

    /// Widens each module's `first`/`last` record time to cover `times`
    /// (module name, time): records a `RecordSink` took before the report.
    pub fn widen_spans<'a>(&mut self, times: impl IntoIterator<Item = (&'a str, jiff::Timestamp)>) {
        for (module, t) in times {
            if let Some(m) = self.modules.iter_mut().find(|m| m.name == module) {
                m.first = Some(m.first.map_or(t, |f| f.min(t)));
                m.last = Some(m.last.map_or(t, |l| l.max(t)));
            }
        }
    }
}

/// `<device-id>`: the device identifier where known, else a name derived
/// from the input path; only characters safe in a folder name.
pub fn device_id(device: &DeviceInfo) -> String {
    let raw = device.identifier.clone().unwrap_or_else(|| {
        Path::new(&device.input_path)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "device".into())
    });
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = id.trim_matches('.').to_string();
    if id.is_empty() { "device".into() } else { id }
}

/// One line of `summary.json` per device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub id: String,
    pub input_path: String,
    pub input_kind: String,
    pub platform: Option<Platform>,
    pub name: Option<String>,
    pub detected: usize,
    pub warning: usize,
    pub info: usize,
    pub verdict: Option<Verdict>,
    pub modules_failed: usize,
    /// Set when the input could not be scanned at all.
    pub error: Option<String>,
    pub report: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub schema: String,
    pub tool: Tool,
    pub devices: Vec<DeviceSummary>,
}

impl DeviceSummary {
    pub fn of(report: &Report, id: &str) -> Self {
        DeviceSummary {
            id: id.to_string(),
            input_path: report.device.input_path.clone(),
            input_kind: report.device.input_kind.clone(),
            platform: report.device.platform,
            name: report.device.name.clone(),
            detected: report.summary.detected,
            warning: report.summary.warning,
            info: report.summary.info,
            verdict: Some(report.summary.verdict),
            modules_failed: report
                .modules
                .iter()
                .filter(|m| m.status == ModuleStatus::Error)
                .count(),
            error: None,
            report: Some(format!("{id}/report.json")),
        }
    }

    pub fn failed(input: &Path, error: String) -> Self {
        DeviceSummary {
            id: String::new(),
            input_path: input.display().to_string(),
            input_kind: String::new(),
            platform: None,
            name: None,
            detected: 0,
            warning: 0,
            info: 0,
            verdict: None,
            modules_failed: 0,
            error: Some(error),
            report: None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> crate::error::Error + '_ {
    move |e| crate::error::Error::io(path, e)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> crate::error::Result<()> {
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, value)
        .map_err(|e| crate::error::Error::io(path, e.into()))?;
    w.write_all(b"\n").map_err(io_err(path))?;
    w.flush().map_err(io_err(path))
}

/// CSV field quoting (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `timeline.csv`: every timestamped record, sorted by time.
pub fn write_timeline(path: &Path, mut rows: Vec<TimelineRow>) -> crate::error::Result<()> {
    rows.sort();
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "time,module,event,description").map_err(io_err(path))?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{}",
            r.time,
            csv_field(&r.module),
            csv_field(&r.event),
            csv_field(&r.description)
        )
        .map_err(io_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// Writes `records/<module>.jsonl`, one record per line.
pub fn write_records(dir: &Path, modules: &[ModuleOutput]) -> crate::error::Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    for m in modules.iter().filter(|m| !m.records.is_empty()) {
        let path = dir.join(format!("{}.jsonl", m.name));
        let file = std::fs::File::create(&path).map_err(io_err(&path))?;
        let mut w = std::io::BufWriter::new(file);
        for r in &m.records {
            serde_json::to_writer(&mut w, r)
                .map_err(|e| crate::error::Error::io(&path, e.into()))?;
            w.write_all(b"\n").map_err(io_err(&path))?;
        }
        w.flush().map_err(io_err(&path))?;
    }
    Ok(())
}

/// Writes one device's folder: report.json, report.html, timeline.csv, and
/// records/ for the records still held in `modules` (a `StreamingSink` has
/// written the others there already; `streamed_rows` are their timeline).
pub fn write_device(
    dir: &Path,
    report: &Report,
    modules: &[ModuleOutput],
    streamed_rows: Vec<TimelineRow>,
) -> crate::error::Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut rows = streamed_rows;
    rows.extend(
        modules
            .iter()
            .flat_map(|m| m.records.iter())
            .filter_map(TimelineRow::of),
    );
    write_json(&dir.join("report.json"), report)?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, html::render(report)).map_err(io_err(&html_path))?;
    write_timeline(&dir.join("timeline.csv"), rows)?;
    write_records(&dir.join("records"), modules)
}

/// Writes summary.json (and index.html when there are several devices).
pub fn write_run(out: &Path, devices: &[DeviceSummary]) -> crate::error::Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let summary = RunSummary {
        schema: SUMMARY_SCHEMA.into(),
        tool: Tool {
            name: "spydar".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        devices: devices.to_vec(),
    };
    let path = out.join("summary.json");
    write_json(&path, &summary)?;
    if devices.len() > 1 {
        let index = out.join("index.html");
        std::fs::write(&index, html::render_index(devices)).map_err(io_err(&index))?;
    }
    Ok(path)
}

pub fn run_summary(devices: Vec<DeviceSummary>) -> RunSummary {
    RunSummary {
        schema: SUMMARY_SCHEMA.into(),
        tool: Tool {
            name: "spydar".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        devices,
    }
}
