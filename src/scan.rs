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
use crate::model::{Level, Observable, ObservableType, Record, Severity};

/// An indicator as a finding names it (REPORT.md `indicator`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndicatorRef {
    #[serde(rename = "type")]
    pub kind: ObservableType,
    pub value: String,
    pub pattern: String,
    pub id: String,
    pub malware: Option<String>,
    pub source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
/// heuristic alerts as findings. One finding per (record, indicator).
pub fn record_findings(record: &Record, matcher: &Matcher) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    // Typed observables first, so a URL field wins over the same URL in text.
    let mut observables: Vec<&Observable> = record.observables.iter().collect();
    observables.sort_by_key(|o| o.kind == ObservableType::Text);
    for obs in observables {
        for hit in matcher.match_observable(obs) {
            if seen.contains(&hit.indicator) {
                continue;
            }
            seen.push(hit.indicator);
            let ind = matcher.indicator(hit.indicator);
            let iref = IndicatorRef {
                kind: ind.kind,
                value: ind.value.clone(),
                pattern: ind.pattern.clone(),
                id: ind.id.clone(),
                malware: ind.malware.clone(),
                source: ind.source.clone(),
            };
            let message = describe(&hit, &iref, &record.module);
            out.push(Finding {
                level: Level::Detected,
                severity: if hit.in_text {
                    Severity::High
                } else {
                    Severity::Critical
                },
                kind: FindingKind::Indicator,
                module: record.module.clone(),
                artifact: record.artifact.clone(),
                timestamp: record.timestamp,
                observable: Some(hit.found.clone()),
                indicator: Some(iref),
                rule: None,
                message,
                record: record.fields.clone(),
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
            record: record.fields.clone(),
        });
    }
    out
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
    let mut all: Vec<Finding> = scan
        .modules
        .par_iter()
        .flat_map(|m| m.records.par_iter())
        .flat_map_iter(|r| record_findings(r, matcher))
        .collect();
    all.sort_by(|a, b| finding_order(a).cmp(&finding_order(b)));
    all
}
