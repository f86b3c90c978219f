//! What a scan concludes about a device: findings (and those an allow list
//! suppressed), the indicators they name, and the timeline rows kept of the
//! records. Data only; matching lives in `scan`, writing in `report`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Indicator, Level, Observable, Record, Severity};

/// An indicator as a finding names it (REPORT.md `indicator`).
pub type IndicatorRef = Indicator;

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

/// A finding moved out of `findings` by the `--allow` file, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
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
