//! The report contract (REPORT.md): report.json, report.html, timeline.csv,
//! records/<module>.jsonl per device, summary.json (and index.html) per run.

pub mod html;
pub mod junit;
pub mod merge;
pub mod records;
pub mod saved;
pub mod text;
mod time_text;
pub mod timeline;
mod timeline_csv;
pub mod timesketch;

pub use records::write_records;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::indicators::IndicatorSet;
use crate::model::{
    DeviceInfo, Finding, Level, ModuleOutput, ModuleStatus, Platform, Suppressed, TimelineRow,
};

pub const REPORT_SCHEMA: &str = "spydar.report/1";
pub const SUMMARY_SCHEMA: &str = "spydar.summary/1";

/// What a clean result means, in the words every output uses.
pub const CLEAN_RESULT_NOTE: &str = "No published indicator of compromise was found in what spydar could read. \
This is not proof that the device is clean: indicators cover only known, published campaigns; \
a backup or archive holds only part of what is on a phone; and spyware can erase its traces. \
Check the list of modules that could not be read, and re-check later with newer indicators (spydar recheck).";

/// What `nothing-read` means, in the words every output uses.
pub const NOTHING_READ_NOTE: &str = "Nothing could be read from this input; this is not a clean result. \
No module found data it could read (each is missing or failed, see the list of modules). \
Check that the input is complete and of the kind spydar detected (--kind forces one), and that a password, if any, is right.";

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
    /// No module could read anything (every one missing or failed, no
    /// record): never a clean result.
    NothingRead,
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
    /// When `spydar recheck` last matched the saved records again; `scan`
    /// keeps the times of the original scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rechecked: Option<jiff::Timestamp>,
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
        let nothing_read = modules.iter().all(|m| m.status != ModuleStatus::Ok)
            && modules.iter().all(|m| m.record_count() == 0);
        let verdict = if detected > 0 {
            Verdict::Detected
        } else if warning > 0 {
            Verdict::Warnings
        } else if nothing_read {
            Verdict::NothingRead
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
            Verdict::NothingRead => NOTHING_READ_NOTE.to_string(),
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
            rechecked: None,
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

/// Longest device folder name, in bytes (file systems allow 255; a margin
/// leaves room for a `-N` suffix and the temporary names beside it).
pub const MAX_DEVICE_DIR_BYTES: usize = 100;

/// Names spydar writes at the top of OUTDIR besides the device folders.
pub const RUN_FILES: [&str; 2] = ["summary.json", "index.html"];

/// `<device-id>`: the device identifier where known, else a name derived
/// from the input path; only `[A-Za-z0-9._-]`, no leading or trailing dot,
/// never `summary.json` or `index.html`, at most [`MAX_DEVICE_DIR_BYTES`]
/// (a longer one is cut and ends in a short hash of the whole id, so two
/// long ids stay apart).
pub fn device_id(device: &DeviceInfo) -> String {
    let raw = device.identifier.clone().unwrap_or_else(|| {
        Path::new(&device.input_path)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "device".into())
    });
    folder_name(&raw)
}

/// `raw` made safe as one folder name (see [`device_id`]).
pub fn folder_name(raw: &str) -> String {
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
    let id = id.trim_matches('.');
    let mut id = if id.is_empty() {
        "device".to_string()
    } else {
        id.to_string()
    };
    if RUN_FILES.iter().any(|f| f.eq_ignore_ascii_case(&id)) {
        id.push_str("-device");
    }
    bounded(&id, raw, MAX_DEVICE_DIR_BYTES)
}

/// `name` if it fits in `max` bytes, else its longest prefix (cut on a
/// character boundary) that fits with `-` and 8 hex digits of the SHA-256
/// of `whole`.
pub fn bounded(name: &str, whole: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = hex::encode(&sha2::Sha256::digest(whole.as_bytes())[..4]);
    let mut cut = max.saturating_sub(hash.len() + 1);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = name[..cut].trim_end_matches('.');
    format!("{head}-{hash}")
}

/// A name for a device folder that no earlier device (compared without
/// regard to case, as macOS and Windows do) and no `taken` name uses:
/// `base`, else `base-2`, `base-3`...
pub fn unique_name(base: &str, taken: &[String]) -> String {
    let used = |n: &str| taken.iter().any(|t| t.eq_ignore_ascii_case(n));
    if !used(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let head = bounded(base, base, MAX_DEVICE_DIR_BYTES - suffix.len());
            format!("{head}{suffix}")
        })
        .find(|c| !used(c))
        .unwrap_or_else(|| base.to_string())
}

/// The file spydar leaves in every device folder it writes. Only a folder
/// holding it (a regular file, with this content's `tool`) is ever replaced
/// by `scan --overwrite`.
pub const MARKER: &str = ".spydar-report";
pub const MARKER_SCHEMA: &str = "spydar.folder/1";

#[derive(Serialize, Deserialize)]
struct Marker {
    schema: String,
    tool: String,
    version: String,
}

/// Whether `dir` is a real folder (not a link) that spydar wrote: it holds
/// spydar's marker as a regular file.
pub fn is_spydar_folder(dir: &Path) -> bool {
    let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    let marker = dir.join(MARKER);
    let regular = std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file() && m.len() < 4096);
    is_dir
        && regular
        && std::fs::read(&marker)
            .ok()
            .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
            .is_some_and(|m| m.tool == "spydar" && m.schema.starts_with("spydar.folder/"))
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
    /// What became of this entry (absent in summaries written before it
    /// was added).
    #[serde(default)]
    pub status: Option<EntryStatus>,
    /// How long the device's scan took: its report's `scan.duration_ms`,
    /// or the failed attempt's time.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// What became of one entry of a run (`status` in summary.json).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryStatus {
    /// Scanned; `report` names its report (unless writing it failed, then
    /// `error` says so).
    Scanned,
    /// An input that could not be scanned (corrupt, encrypted without a
    /// password...): `error` says why.
    Failed,
    /// Something in a folder of devices that is no input: `error` says why.
    NotAnInput,
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
            status: Some(EntryStatus::Scanned),
            duration_ms: Some(report.scan.duration_ms),
        }
    }

    /// An entry for something in a folder of devices that is no input.
    pub fn not_an_input(input: &Path, reason: String) -> Self {
        DeviceSummary {
            status: Some(EntryStatus::NotAnInput),
            duration_ms: None,
            ..Self::failed(input, reason)
        }
    }

    pub fn failed(input: &Path, error: String) -> Self {
        DeviceSummary {
            status: Some(EntryStatus::Failed),
            duration_ms: None,
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

/// Refuses a `target` to write that is a link or not a regular file.
fn refuse_non_file(target: &Path) -> crate::error::Result<()> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if !meta.is_file() => Err(crate::error::Error::input(
            target,
            if meta.file_type().is_symlink() {
                "is a link; spydar does not write through links (remove it)"
            } else {
                "exists and is not a regular file; spydar does not replace it"
            },
        )),
        _ => Ok(()),
    }
}

/// Writes `dir/name` through a temporary file in `dir` renamed over it, so
/// a reader never sees half a file and a link planted at `dir/name` is never
/// written through. Refuses a target that is a link or not a regular file.
pub fn write_file(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> crate::error::Result<()> {
    let target = dir.join(name);
    refuse_non_file(&target)?;
    let tmp = tempfile::Builder::new()
        .prefix(".spydar-tmp-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    let mut w = std::io::BufWriter::new(tmp);
    fill(&mut w).map_err(io_err(&target))?;
    let tmp = w
        .into_inner()
        .map_err(|e| crate::error::Error::io(&target, e.into_error()))?;
    tmp.persist(&target)
        .map_err(|e| crate::error::Error::io(&target, e.error))?;
    Ok(())
}

fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> crate::error::Result<()> {
    write_file(dir, name, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return first) gets a leading `'`, as OWASP advises: device text
/// is attacker-controlled.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// Writes `timeline.csv` (in `dir`): every timestamped record, sorted by time.
pub fn write_timeline(dir: &Path, rows: Vec<TimelineRow>) -> crate::error::Result<()> {
    write_timelines(dir, timeline::Timeline::default(), rows)
}

/// Writes `timeline.csv` (in `dir`): the streamed rows (merged from disk
/// runs, see [`timeline`]) and `held` rows, in one sorted order.
pub fn write_timelines(
    dir: &Path,
    streamed: timeline::Timeline,
    mut held: Vec<TimelineRow>,
) -> crate::error::Result<()> {
    held.sort();
    let streamed = streamed
        .into_sorted()
        .map_err(io_err(&std::env::temp_dir()))?;
    write_file(dir, "timeline.csv", |w| {
        // Two stages on two threads: the merge of the sorted runs (reading
        // them back) hands rows over in batches, and this thread formats
        // and writes them. Each stage is about half of the work, which
        // runs after every module has ended, so nothing else is running;
        // a plain scoped thread, as a rayon job blocking on a channel
        // could wait for a job queued behind it.
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<RowBatch>(4);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<RowBatch>();
        std::thread::scope(|scope| {
            let merge = scope.spawn(move || merge_rows(streamed, &held, &full_tx, &empty_rx));
            let written = format_rows(w, &full_rx, &empty_tx);
            // Ends the merge if writing failed: its next send fails.
            drop(full_rx);
            let merged = merge
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            written.and(merged)
        })
    })
}

/// Timeline rows in merge order, copied into one buffer (a batch is
/// formatted while the next one is merged).
#[derive(Default)]
struct RowBatch {
    times: Vec<jiff::Timestamp>,
    /// Where each row's module, event and description end in `text`.
    ends: Vec<[usize; 3]>,
    text: String,
}

impl RowBatch {
    /// Rows a batch holds before it is handed over.
    const ROWS: usize = 4096;

    fn push(&mut self, t: jiff::Timestamp, cells: [&str; 3]) {
        self.times.push(t);
        let mut ends = [0; 3];
        for (end, c) in ends.iter_mut().zip(cells) {
            self.text.push_str(c);
            *end = self.text.len();
        }
        self.ends.push(ends);
    }

    fn clear(&mut self) {
        self.times.clear();
        self.ends.clear();
        self.text.clear();
    }
}

/// The merge stage of [`write_timelines`]: the streamed rows (sorted runs)
/// and the held rows (sorted), merged, in batches to `full`.
fn merge_rows(
    mut streamed: timeline::Sorted,
    held: &[TimelineRow],
    full: &std::sync::mpsc::SyncSender<RowBatch>,
    empty: &std::sync::mpsc::Receiver<RowBatch>,
) -> std::io::Result<()> {
    let stopped = || std::io::Error::other("timeline.csv: the writer stopped");
    let mut batch = RowBatch::default();
    let mut held = held.iter().peekable();
    loop {
        // The two sorted sequences merged (equal rows are identical).
        let s = streamed.next_ref()?;
        let s = s.map(|s| (s.time, [s.module, s.event, s.description]));
        while let Some(h) = held.next_if(|h| {
            s.is_none_or(|(t, c)| {
                (h.time, &*h.module, &*h.event, &*h.description) <= (t, c[0], c[1], c[2])
            })
        }) {
            batch.push(h.time, [&h.module, &h.event, &h.description]);
        }
        let Some((t, cells)) = s else { break };
        batch.push(t, cells);
        if batch.times.len() >= RowBatch::ROWS {
            let mut next = empty.try_recv().unwrap_or_default();
            next.clear();
            full.send(std::mem::replace(&mut batch, next))
                .map_err(|_| stopped())?;
        }
    }
    if !batch.times.is_empty() {
        full.send(batch).map_err(|_| stopped())?;
    }
    Ok(())
}

/// The writing stage of [`write_timelines`]: the header, then each batch's
/// rows as CSV, written in 256 KiB pieces; batches go back to `empty`.
fn format_rows(
    w: &mut dyn std::io::Write,
    full: &std::sync::mpsc::Receiver<RowBatch>,
    empty: &std::sync::mpsc::Sender<RowBatch>,
) -> std::io::Result<()> {
    const FLUSH_AT: usize = 256 << 10;
    let mut out = Vec::with_capacity(FLUSH_AT + (64 << 10));
    out.extend_from_slice(b"time,module,event,description\n");
    let mut times = time_text::TimeCells::default();
    // Ends when the merge has sent its last batch (or stopped).
    for batch in full {
        let mut at = 0;
        for (t, ends) in batch.times.iter().zip(&batch.ends) {
            let cells = [
                &batch.text[at..ends[0]],
                &batch.text[ends[0]..ends[1]],
                &batch.text[ends[1]..ends[2]],
            ];
            at = ends[2];
            timeline_csv::row(&mut out, &mut times, *t, cells);
            if out.len() >= FLUSH_AT {
                w.write_all(&out)?;
                out.clear();
            }
        }
        // The merge may have ended: then the batch is simply dropped.
        let _ = empty.send(batch);
    }
    w.write_all(&out)?;
    w.flush()
}

/// Whether `name` may name a records file: `[A-Za-z0-9_.-]`, not starting
/// with a dot (so neither `..` nor a hidden file), at most 100 bytes.
pub fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A real folder at `dir` (created if absent); a link there is refused.
fn real_dir(dir: &Path) -> crate::error::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(crate::error::Error::input(
            dir,
            "is a link or a file, not a folder; spydar does not write through it",
        )),
        Err(_) => std::fs::create_dir_all(dir).map_err(io_err(dir)),
    }
}

/// Writes report.json, report.html, timeline.csv and the marker into `dir`
/// (an existing real folder), each through a temporary file.
pub fn write_reports(
    dir: &Path,
    report: &Report,
    rows: Vec<TimelineRow>,
) -> crate::error::Result<()> {
    write_reports_with(dir, report, timeline::Timeline::default(), rows)
}

/// [`write_reports`] with streamed timeline rows besides the held ones.
fn write_reports_with(
    dir: &Path,
    report: &Report,
    streamed: timeline::Timeline,
    rows: Vec<TimelineRow>,
) -> crate::error::Result<()> {
    real_dir(dir)?;
    write_json(
        dir,
        MARKER,
        &Marker {
            schema: MARKER_SCHEMA.into(),
            tool: "spydar".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    )?;
    write_json(dir, "report.json", report)?;
    let html = html::render(report);
    write_file(dir, "report.html", |w| w.write_all(html.as_bytes()))?;
    write_timelines(dir, streamed, rows)
}

/// Writes one device's folder: report.json, report.html, timeline.csv, the
/// marker, and records/ for the records still held in `modules` (a
/// `StreamingSink` has written the others there already; `streamed_rows`
/// are their timeline).
pub fn write_device(
    dir: &Path,
    report: &Report,
    modules: &[ModuleOutput],
    streamed_rows: impl Into<timeline::Timeline>,
) -> crate::error::Result<()> {
    let held = modules
        .iter()
        .flat_map(|m| m.records.iter())
        .filter_map(TimelineRow::of)
        .collect();
    write_reports_with(dir, report, streamed_rows.into(), held)?;
    write_records(&dir.join("records"), modules)
}

/// Whether an existing `OUTDIR/summary.json` or `index.html` is one spydar
/// wrote (so `--overwrite` may replace it).
pub fn is_spydar_run_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return true; // absent: nothing to replace
    };
    if !meta.is_file() || meta.len() > 1 << 30 {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| {
            v["schema"]
                .as_str()
                .is_some_and(|s| s.starts_with("spydar.summary/"))
        })
    } else {
        bytes.starts_with(b"<!DOCTYPE html>")
            && memchr::memmem::find(&bytes, b"<title>spydar: ").is_some()
    }
}

/// Writes summary.json (and index.html when there are several devices);
/// returns the paths written. A file of that name that spydar did not write
/// (or a link) is refused, never replaced.
pub fn write_run(out: &Path, devices: &[DeviceSummary]) -> crate::error::Result<Vec<PathBuf>> {
    real_dir(out)?;
    let mut names = vec!["summary.json"];
    if devices.len() > 1 {
        names.push("index.html");
    }
    for name in &names {
        let path = out.join(name);
        if !is_spydar_run_file(&path) {
            return Err(crate::error::Error::input(
                &path,
                "exists and was not written by spydar (or is a link); refusing to replace it",
            ));
        }
    }
    let summary = run_summary(devices.to_vec());
    write_json(out, "summary.json", &summary)?;
    if devices.len() > 1 {
        let index = html::render_index(&summary.devices);
        write_file(out, "index.html", |w| w.write_all(index.as_bytes()))?;
    }
    Ok(names.iter().map(|n| out.join(n)).collect())
}

/// The folder names of a run's devices, in the order given: each
/// report's [`device_id`], made unique ([`unique_name`]) in a canonical
/// order (by that id, then input path, then the order given), so that the
/// names depend only on the set of reports and not on how a batch was cut
/// into runs: `spydar summary` names merged folders the same way.
pub fn assign_names(reports: &[&Report]) -> Vec<String> {
    let keys: Vec<(String, &str)> = reports
        .iter()
        .map(|r| (r.device_id(), r.device.input_path.as_str()))
        .collect();
    assign_names_by(&keys)
}

/// [`assign_names`] from each report's `(device_id, input_path)` alone, for
/// a run that no longer holds the reports of the devices it has written.
pub fn assign_names_by(keys: &[(String, &str)]) -> Vec<String> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut names = vec![String::new(); keys.len()];
    let mut used: Vec<String> = Vec::new();
    for i in order {
        let name = unique_name(&keys[i].0, &used);
        used.push(name.clone());
        names[i] = name;
    }
    names
}

/// The order of entries in summary.json and index.html: by input path,
/// then id, then status and error (the order given breaks any tie). A
/// pure function of the entries, so a merged summary equals a run's.
pub fn sort_entries(devices: &mut [DeviceSummary]) {
    fn status(d: &DeviceSummary) -> u8 {
        match d.status {
            Some(EntryStatus::Scanned) => 0,
            Some(EntryStatus::Failed) => 1,
            Some(EntryStatus::NotAnInput) => 2,
            None => 3,
        }
    }
    devices.sort_by(|a, b| {
        (&a.input_path, &a.id, status(a), &a.error).cmp(&(
            &b.input_path,
            &b.id,
            status(b),
            &b.error,
        ))
    });
}

/// summary.json's content: `devices` in the canonical order
/// ([`sort_entries`]). It holds no run-level time, so it is a pure function
/// of the entries (each device's figures come from its report.json).
pub fn run_summary(mut devices: Vec<DeviceSummary>) -> RunSummary {
    sort_entries(&mut devices);
    RunSummary {
        schema: SUMMARY_SCHEMA.into(),
        tool: Tool {
            name: "spydar".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        devices,
    }
}
