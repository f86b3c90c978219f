//! Runs one input through its reader.

use std::path::Path;

use crate::artifacts::{ScanOptions, android, ios, sysdiagnose};
use crate::error::Result;
use crate::evidence::{InputKind, detect};
use crate::model::DeviceScan;

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
    };
    scan.device.input_kind = kind.as_str().to_string();
    scan.device.input_path = path.display().to_string();
    scan.modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scan)
}

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::indicators::Matcher;
use crate::indicators::matcher::{Hit, MatchHow};
use crate::indicators::stock::StockKind;
use crate::model::{Level, Observable, ObservableType, Record, Severity};

/// An indicator as a finding names it (REPORT.md `indicator`).
pub use crate::indicators::Indicator as IndicatorRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Indicator,
    Heuristic,
}

/// One finding (REPORT.md `findings[]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub level: Level,
    pub severity: Severity,
    pub kind: FindingKind,
    pub module: String,
    pub artifact: String,
    pub timestamp: Option<jiff::Timestamp>,
    pub observable: Option<Observable>,
    pub indicator: Option<IndicatorRef>,
    pub rule: Option<String>,
    pub message: String,
    pub record: BTreeMap<String, serde_json::Value>,
    /// How many records gave this same finding (same module, level,
    /// indicator or rule, observable and message); `record` and `artifact`
    /// are the first one's. Omitted when 1 (REPORT.md, schema 1 extended).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// Earliest and latest record time among the `count` records; omitted
    /// when there is none or `count` is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<jiff::Timestamp>,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl Finding {
    /// What makes two findings the same for aggregation.
    fn key(&self) -> FindingKey {
        (
            self.level,
            self.module.clone(),
            self.kind,
            self.indicator.as_ref().map(|i| i.id.clone()),
            self.rule.clone(),
            self.observable.clone(),
            self.message.clone(),
        )
    }

    /// Folds `other` (the same finding from another record) into this one.
    fn absorb(&mut self, other: &Finding) {
        self.count += other.count;
        let times = [
            self.first_seen,
            self.timestamp,
            other.first_seen,
            other.timestamp,
            self.last_seen,
            other.last_seen,
        ];
        self.first_seen = times.iter().flatten().min().copied();
        self.last_seen = times.iter().flatten().max().copied();
    }
}

type FindingKey = (
    Level,
    String,
    FindingKind,
    Option<String>,
    Option<String>,
    Option<Observable>,
    String,
);

/// Repeated findings folded into one with a count and first/last times, so
/// a log in which every line is a hit yields one finding per distinct
/// (module, level, indicator or rule, observable, message), not one per line.
#[derive(Default)]
pub struct Aggregator {
    index: std::collections::HashMap<FindingKey, usize>,
    findings: Vec<Finding>,
}

impl Aggregator {
    pub fn add(&mut self, f: Finding) {
        let key = f.key();
        match self.index.get(&key) {
            Some(&i) => self.findings[i].absorb(&f),
            None => {
                self.index.insert(key, self.findings.len());
                self.findings.push(f);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.findings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The distinct findings, sorted.
    pub fn into_sorted(self) -> Vec<Finding> {
        let mut all = self.findings;
        for f in &mut all {
            if f.count == 1 {
                f.first_seen = None;
                f.last_seen = None;
            }
        }
        sort_findings(&mut all);
        all
    }
}

/// Folds repeated findings (see `Aggregator`), sorted.
pub fn aggregate(findings: impl IntoIterator<Item = Finding>) -> Vec<Finding> {
    let mut agg = Aggregator::default();
    for f in findings {
        agg.add(f);
    }
    agg.into_sorted()
}

fn describe(hit: &Hit, ind: &IndicatorRef, module: &str) -> String {
    let who = ind
        .malware
        .as_deref()
        .unwrap_or("a published indicator set");
    let what = match hit.how {
        MatchHow::Exact => format!(
            "{} {:?} is a known {} indicator",
            hit.found.kind, hit.found.value, who
        ),
        MatchHow::SubDomain => format!(
            "domain {:?} is under {:?}, a known {} domain",
            hit.found.value, ind.value, who
        ),
        MatchHow::UrlHost => format!(
            "URL {:?} points to {:?}, a known {} indicator",
            hit.found.value, ind.value, who
        ),
        MatchHow::TruncatedProcess => format!(
            "process {:?} looks like a truncated name of {:?}, a known {} process",
            hit.found.value, ind.value, who
        ),
        MatchHow::UnderFolder => format!(
            "path {:?} is under {:?}, a known {} folder",
            hit.found.value, ind.value, who
        ),
        MatchHow::BaseName => format!(
            "file {:?} has the name {:?}, a known {} file name",
            hit.found.value, ind.value, who
        ),
        MatchHow::InText => format!(
            "text mentions {} {:?}, a known {} indicator",
            ind.kind, hit.found.value, who
        ),
    };
    format!("{module}: {what}")
}

/// Matches one record: its observables against the indicators, and its
/// heuristic alerts as findings. One finding per (record, malware,
/// indicator type): a record is one event (a visit, a file, a package), so
/// the same domain published by two bundles of one campaign (cytrox and
/// predator), or a path matching both an absolute and a relative path
/// indicator, is one finding, named by the first indicator that matched a
/// typed field; a package whose app id and certificate both match gives two.
pub fn record_findings(record: &Record, matcher: &Matcher) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<(Option<&str>, ObservableType)> = Vec::new();
    // Typed observables first, so a URL field wins over the same URL in text.
    let mut observables: Vec<&Observable> = record.observables.iter().collect();
    observables.sort_by_key(|o| o.kind == ObservableType::Text);
    for obs in observables {
        for hit in matcher.match_observable(obs) {
            let ind = matcher.indicator(hit.indicator);
            let key = (ind.malware.as_deref(), ind.kind);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let iref = ind.clone();
            let mut message = describe(&hit, &iref, &record.module);
            let mut level = Level::Detected;
            // A value the sweep kept from free text (an `observed` record)
            // was found inside text, though it is now a typed observable.
            let mut severity = if hit.in_text || record.event == crate::artifacts::observe::EVENT {
                Severity::High
            } else {
                Severity::Critical
            };
            if let Some((not_stock, why)) = stock_check(record, obs, &hit, ind, matcher) {
                message = format!("{message}; {why}");
                if !not_stock {
                    // A record already detected for this malware (its file
                    // path indicator matched) needs no weaker second word.
                    if out.iter().any(|f| {
                        f.level == Level::Detected
                            && f.indicator.as_ref().and_then(|i| i.malware.as_deref())
                                == ind.malware.as_deref()
                    }) {
                        continue;
                    }
                    level = Level::Warning;
                    severity = Severity::Medium;
                }
            }
            out.push(Finding {
                level,
                severity,
                kind: FindingKind::Indicator,
                module: record.module.clone(),
                artifact: record.artifact.clone(),
                timestamp: record.timestamp,
                observable: Some(hit.found.clone()),
                indicator: Some(iref),
                rule: None,
                message,
                record: record.fields.to_map(),
                count: 1,
                first_seen: None,
                last_seen: None,
            });
        }
    }
    for alert in &record.alerts {
        out.push(Finding {
            level: alert.level,
            severity: alert.severity,
            kind: FindingKind::Heuristic,
            module: record.module.clone(),
            artifact: record.artifact.clone(),
            timestamp: record.timestamp,
            observable: None,
            indicator: None,
            rule: Some(alert.rule.clone()),
            message: alert.message.clone(),
            record: record.fields.to_map(),
            count: 1,
            first_seen: None,
            last_seen: None,
        });
    }
    out
}

/// Paths the record gives for `name`: the observable itself when it is a
/// path, the path around a text hit, file-path observables and string
/// fields whose path (or a command line's path) ends in `name`.
fn paths_for(record: &Record, obs: &Observable, hit: &Hit, name: &str) -> Vec<String> {
    let ends_in =
        |p: &str| p.starts_with('/') && crate::indicators::normalize::base_name(p) == name;
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if ends_in(p) && !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    };
    if let Some(p) = &hit.path {
        add(p);
    }
    if obs.kind != ObservableType::Text {
        add(obs.value.trim());
    }
    for o in &record.observables {
        if matches!(o.kind, ObservableType::FilePath | ObservableType::Process) {
            add(o.value.trim());
        }
    }
    // A typed observable is about the record; a text hit only about its line.
    if obs.kind != ObservableType::Text {
        for (_, v) in record.fields.iter() {
            if let Some(s) = v.as_str() {
                for word in s.split_whitespace() {
                    add(word.trim_matches(|c| matches!(c, '"' | '\'' | '(' | ')' | ',')));
                }
            }
        }
    }
    out
}

/// For a process or file-name indicator that is also a stock name: whether
/// the record shows the name outside its stock paths (the finding stays
/// `detected`; otherwise it becomes a warning), and the words to add.
fn stock_check(
    record: &Record,
    obs: &Observable,
    hit: &Hit,
    ind: &IndicatorRef,
    matcher: &Matcher,
) -> Option<(bool, String)> {
    if !matches!(ind.kind, ObservableType::Process | ObservableType::FileName) {
        return None;
    }
    let stock = matcher.stock_names().get(&ind.value)?;
    if !stock.downgrades() {
        return None;
    }
    let paths = paths_for(record, obs, hit, &ind.value);
    // A stock daemon's name run from elsewhere is not the stock binary; a
    // stock file name elsewhere is still only a name: the campaign's own
    // path indicator is what can detect it.
    let odd = paths
        .iter()
        .find(|p| !stock.is_stock_path(p))
        .filter(|_| stock.kind == StockKind::Process);
    if let Some(odd) = odd {
        return Some((
            true,
            format!(
                "{}, but here it is at {odd:?}, not a stock path",
                stock.describe()
            ),
        ));
    }
    let where_ = match paths.first() {
        Some(p) => format!("its path here is {p}"),
        None => "the record does not show its path".to_string(),
    };
    Some((
        false,
        format!(
            "{}; {where_}, so this may be the stock one. It may still matter: {}",
            stock.describe(),
            stock.why
        ),
    ))
}

/// Sort key that makes the findings order independent of thread count.
fn finding_order(f: &Finding) -> impl Ord + '_ {
    (
        f.level,
        f.severity,
        f.module.as_str(),
        f.timestamp,
        f.observable.as_ref().map(|o| o.value.as_str()),
        f.indicator.as_ref().map(|i| i.id.as_str()),
        f.rule.as_deref(),
        f.message.as_str(),
    )
}

/// Matches every record of a device scan, in parallel, sorted.
pub fn findings(scan: &DeviceScan, matcher: &Matcher) -> Vec<Finding> {
    use rayon::prelude::*;
    let all: Vec<Finding> = scan
        .modules
        .par_iter()
        .flat_map(|m| m.records.par_iter())
        .flat_map_iter(|r| record_findings(r, matcher))
        .collect();
    aggregate(all)
}

/// Sorts findings so the order does not depend on thread count.
pub fn sort_findings(all: &mut [Finding]) {
    all.sort_by(|a, b| finding_order(a).cmp(&finding_order(b)));
}

/// One line of `timeline.csv`, kept without the rest of its record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimelineRow {
    pub time: jiff::Timestamp,
    /// Shared: a device has a few dozen modules and events, and a row per record.
    pub module: std::sync::Arc<str>,
    pub event: std::sync::Arc<str>,
    pub description: Box<str>,
}

impl TimelineRow {
    pub fn of(r: &Record) -> Option<Self> {
        Some(TimelineRow {
            time: r.timestamp?,
            module: r.module.as_str().into(),
            event: r.event.as_str().into(),
            description: r.description.as_str().into(),
        })
    }
}

/// Hands out one shared copy of each module and event name.
#[derive(Default)]
struct Interner(std::collections::HashMap<String, std::sync::Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> std::sync::Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: std::sync::Arc<str> = s.into();
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

/// A `RecordSink` that matches records as modules hand them over, writes
/// them to `records/<module>.jsonl` (when given a folder), keeps their
/// timeline rows, and drops them: memory stays bounded by a batch, not by
/// the device.
pub struct StreamingSink {
    matcher: std::sync::Arc<Matcher>,
    records_dir: Option<std::path::PathBuf>,
    state: std::sync::Mutex<StreamState>,
}

#[derive(Default)]
struct StreamState {
    files: BTreeMap<String, std::io::BufWriter<std::fs::File>>,
    counts: BTreeMap<String, usize>,
    /// Aggregated as batches arrive: memory follows distinct findings.
    findings: Aggregator,
    timeline: Vec<TimelineRow>,
    names: Interner,
    error: Option<String>,
}

impl StreamingSink {
    pub fn new(matcher: std::sync::Arc<Matcher>, records_dir: Option<std::path::PathBuf>) -> Self {
        StreamingSink {
            matcher,
            records_dir,
            state: std::sync::Mutex::new(StreamState::default()),
        }
    }

    /// The findings and timeline rows of everything taken, and the first
    /// error writing records, if any. Flushes the record files.
    pub fn into_parts(self) -> (Vec<Finding>, Vec<TimelineRow>, Option<String>) {
        let mut st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        for (name, f) in st.files.iter_mut() {
            if let Err(e) = std::io::Write::flush(f)
                && st.error.is_none()
            {
                st.error = Some(format!("records/{name}.jsonl: {e}"));
            }
        }
        (st.findings.into_sorted(), st.timeline, st.error)
    }
}

impl crate::artifacts::RecordSink for StreamingSink {
    fn take(&self, module: &str, records: Vec<Record>) {
        use rayon::prelude::*;
        // Matching and serialising run outside the lock.
        let found: Vec<Finding> = aggregate(
            records
                .par_iter()
                .flat_map_iter(|r| record_findings(r, &self.matcher))
                .collect::<Vec<_>>(),
        );
        let mut lines = Vec::new();
        if self.records_dir.is_some() {
            for r in &records {
                if serde_json::to_writer(&mut lines, r).is_ok() {
                    lines.push(b'\n');
                }
            }
        }
        let n = records.len();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for f in found {
            st.findings.add(f);
        }
        for r in &records {
            if let Some(time) = r.timestamp {
                let row = TimelineRow {
                    time,
                    module: st.names.get(&r.module),
                    event: st.names.get(&r.event),
                    description: r.description.as_str().into(),
                };
                st.timeline.push(row);
            }
        }
        drop(records);
        *st.counts.entry(module.to_string()).or_default() += n;
        if let Some(dir) = &self.records_dir {
            if !st.files.contains_key(module) {
                let path = dir.join(format!("{module}.jsonl"));
                match std::fs::create_dir_all(dir).and_then(|_| std::fs::File::create(&path)) {
                    Ok(f) => {
                        st.files
                            .insert(module.to_string(), std::io::BufWriter::new(f));
                    }
                    Err(e) => {
                        st.error.get_or_insert(format!("{}: {e}", path.display()));
                        return;
                    }
                }
            }
            let result = st
                .files
                .get_mut(module)
                .map(|f| std::io::Write::write_all(f, &lines));
            if let Some(Err(e)) = result {
                st.error
                    .get_or_insert(format!("records/{module}.jsonl: {e}"));
            }
        }
    }

    fn taken(&self, module: &str) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.counts.get(module).copied().unwrap_or(0)
    }
}

/// A finding moved out of `findings` by the `--allow` file, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
}

pub use crate::allow::AllowList;
