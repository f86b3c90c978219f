//! One device, start to finish: the reader its input needs, a streaming
//! sink that matches and writes records as modules make them, a retry with
//! a password when the input asks for one, and the report data. `recheck`
//! builds the same report from saved records.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use super::findings::{aggregate, findings};
use super::sink::StreamingSink;
use crate::allow::AllowList;
use crate::artifacts::{RecordSink, ScanOptions, TextSweep, android, ios, sysdiagnose};
use crate::error::{Error, Result};
use crate::evidence::{InputKind, detect};
use crate::indicators::{LateMatcher, Matcher};
use crate::model::{DeviceScan, Finding, ModuleOutput, TimelineRow};
use crate::report::saved::SavedDevice;
use crate::report::timeline::Timeline;
use crate::report::{IndicatorsInfo, Report, ScanTimes};

/// Reads one input (of the given kind, or the detected one) into records.
pub fn read_input(path: &Path, kind: Option<InputKind>, opts: &ScanOptions) -> Result<DeviceScan> {
    let kind = match kind {
        Some(k) => k,
        None => detect(path)?,
    };
    let mut scan = match kind {
        InputKind::IosBackup => ios::scan_backup(path, opts)?,
        InputKind::IosFilesystem => ios::scan_filesystem(path, opts)?,
        InputKind::Sysdiagnose => sysdiagnose::scan(path, opts)?,
        InputKind::AndroidBackup => android::scan_backup(path, opts)?,
        InputKind::AndroidBugreport => android::scan_bugreport(path, opts)?,
        InputKind::Androidqf => android::scan_androidqf(path, opts)?,
        InputKind::AndroidIntrusionLogs => android::intrusion_logs::scan(path, opts)?,
    };
    scan.device.input_kind = kind.as_str().to_string();
    scan.device.input_path = path.display().to_string();
    scan.modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scan)
}

/// One device's outcome: its report, and what its folder needs besides.
pub struct DeviceReport {
    pub report: Report,
    /// The modules, holding the records a sink did not take (none after a
    /// scan with a records folder; every record after a recheck).
    pub modules: Vec<ModuleOutput>,
    /// Timeline rows of the records the sink took (and wrote).
    pub streamed_rows: Timeline,
}

impl DeviceReport {
    /// Every timeline row: the streamed ones, then those of held records.
    /// (Used by a recheck, whose records are all held: the streamed part
    /// is empty there, so nothing is read back from disk.)
    pub fn take_timeline(&mut self) -> Vec<TimelineRow> {
        let mut rows = std::mem::take(&mut self.streamed_rows)
            .into_rows()
            .unwrap_or_default();
        rows.extend(
            self.modules
                .iter()
                .flat_map(|m| m.records.iter())
                .filter_map(TimelineRow::of),
        );
        rows
    }
}

/// A device's records, matched.
struct Matched {
    scan: DeviceScan,
    /// Aggregated and sorted, before the allow list.
    findings: Vec<Finding>,
    streamed_rows: Timeline,
}

/// Reads one input with a streaming sink, so its records are matched (and
/// written to `records_dir`, when given) as modules make them; then matches
/// the records modules still hold.
fn read_matched(
    input: &Path,
    kind: Option<InputKind>,
    matcher: &Arc<LateMatcher>,
    opts: &mut ScanOptions,
    records_dir: Option<&Path>,
) -> Result<Matched> {
    let sink = Arc::new(StreamingSink::new(
        matcher.clone(),
        records_dir.map(Path::to_path_buf),
    ));
    opts.sink = Some(sink.clone() as Arc<dyn RecordSink>);
    let read = read_input(input, kind, opts);
    opts.sink = None;
    let streamed = Arc::try_unwrap(sink).map(StreamingSink::into_parts);
    let scan = read?;
    let streamed = streamed.map_err(|_| {
        Error::input(
            records_dir.unwrap_or(Path::new("-o")),
            "record sink still in use",
        )
    })?;
    if let Some(e) = streamed.error {
        return Err(e);
    }
    let mut found = streamed.findings;
    found.extend(findings(&scan, matcher));
    Ok(Matched {
        scan,
        // Records the sink took and records still held may repeat one finding.
        findings: aggregate(found),
        streamed_rows: streamed.timeline,
    })
}

/// The report of matched records: the allow list applied, counts and the
/// verdict, each module's time span (streamed records included).
fn assemble(
    m: Matched,
    matcher: &Matcher,
    allow: &AllowList,
    notes: Vec<String>,
    times: ScanTimes,
) -> DeviceReport {
    let (findings, suppressed) = allow.split(m.findings);
    let mut report = Report::new(
        m.scan.device,
        &m.scan.modules,
        findings,
        suppressed,
        notes,
        IndicatorsInfo::from_set(matcher.set()),
        times,
    );
    report.widen_spans(m.streamed_rows.spans());
    DeviceReport {
        report,
        modules: m.scan.modules,
        streamed_rows: m.streamed_rows,
    }
}

/// Scans one device: reads `input` (of `kind`, or the detected kind) with
/// the indicators as the text sweep, matches every record, writes the
/// records to `records_dir` (when given) as they come, and builds the
/// report. When the input needs a password and `opts` has none,
/// `ask_password` is asked once and the read tried again. `opts` brings the
/// password, key and identity files and the progress display.
pub fn scan_device(
    input: &Path,
    kind: Option<InputKind>,
    matcher: &Arc<Matcher>,
    allow: &AllowList,
    opts: ScanOptions,
    records_dir: Option<&Path>,
    ask_password: &dyn Fn(&Path) -> Option<Zeroizing<String>>,
) -> Result<DeviceReport> {
    let late = Arc::new(LateMatcher::ready(matcher.clone()));
    scan_device_late(input, kind, &late, allow, opts, records_dir, ask_password)
}

/// [`scan_device`] with a matcher that may still be building: the input is
/// opened and its modules start meanwhile (see [`LateMatcher`]).
pub fn scan_device_late(
    input: &Path,
    kind: Option<InputKind>,
    matcher: &Arc<LateMatcher>,
    allow: &AllowList,
    mut opts: ScanOptions,
    records_dir: Option<&Path>,
    ask_password: &dyn Fn(&Path) -> Option<Zeroizing<String>>,
) -> Result<DeviceReport> {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    opts.text_sweep = Some(matcher.clone() as Arc<dyn TextSweep>);
    let mut read = read_matched(input, kind, matcher, &mut opts, records_dir);
    if matches!(read, Err(Error::PasswordRequired { .. }))
        && opts.password.is_none()
        && let Some(pw) = ask_password(input)
    {
        opts.password = Some(pw);
        read = read_matched(input, kind, matcher, &mut opts, records_dir);
    }
    let matched = read?;
    let times = ScanTimes {
        started,
        finished: jiff::Timestamp::now(),
        duration_ms: clock.elapsed().as_millis() as u64,
    };
    let notes = matched.scan.notes.clone();
    Ok(assemble(matched, matcher, allow, notes, times))
}

const RECHECK_NOTE: &str = "rechecked from saved records";

/// Matches a saved device's records again with `matcher` and builds its
/// report as a scan would, keeping the original scan's times; `rechecked`
/// is this run's time. The records stay as saved: the folder needs only its
/// report files rewritten.
pub fn recheck_device(
    saved: SavedDevice,
    matcher: &Matcher,
    allow: &AllowList,
    rechecked: jiff::Timestamp,
) -> DeviceReport {
    let old = saved.report;
    let scan = DeviceScan {
        device: old.device,
        modules: saved.modules,
        notes: old.notes,
    };
    let found = findings(&scan, matcher);
    let mut notes: Vec<String> = scan
        .notes
        .iter()
        .filter(|n| !n.starts_with(RECHECK_NOTE))
        .cloned()
        .collect();
    notes.push(format!(
        "{RECHECK_NOTE} at {rechecked}; originally scanned {}",
        old.scan.started
    ));
    let matched = Matched {
        scan,
        findings: found,
        streamed_rows: Timeline::default(),
    };
    let mut device = assemble(matched, matcher, allow, notes, old.scan);
    device.report.rechecked = Some(rechecked);
    device
}
