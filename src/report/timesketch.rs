//! `--timesketch FILE`: the timeline as JSON Lines that Timesketch imports
//! as is. One line per `timeline.csv` row (every record with a time), with
//! the three columns Timesketch requires (`message`, `datetime` in ISO 8601
//! UTC, `timestamp_desc`), `timestamp` (microseconds since 1970, which
//! Timesketch also reads), and spydar's own: `device`, `module`, `artifact`,
//! `event`, `level`, `severity`, `observable_type`, `observable_value`,
//! `indicator`, `malware`, `rule`, `finding`, `time_zone`.
//!
//! A row that gave a finding (at any level, after the allow list) carries
//! the most serious one's `level`, `indicator` (STIX id) or `rule`, and its
//! message first in `message` (`[detected] ...`); other rows have empty
//! strings there, so every line has the same keys and types.
//!
//! A record whose source wrote device-local time without naming the zone
//! is kept (Timesketch needs a datetime, and dropping it would hide an
//! event): its `datetime` is that wall-clock time read as UTC, as in
//! `timeline.csv`, and it says so: `time_zone` = `unknown, device-local`
//! and `timestamp_desc` ends in `(device-local time, zone unknown)`.

use serde::Serialize;

use crate::model::{Finding, ObservableType, Record};
use crate::time::UNKNOWN_LOCAL;

/// One line of the export.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub message: String,
    pub datetime: String,
    pub timestamp: i64,
    pub timestamp_desc: String,
    pub device: String,
    pub module: String,
    pub artifact: String,
    pub event: String,
    pub level: String,
    pub severity: String,
    pub observable_type: String,
    pub observable_value: String,
    pub indicator: String,
    pub malware: String,
    pub rule: String,
    pub finding: String,
    pub time_zone: String,
    /// Sort key: the `timeline.csv` order (time, module, event, description).
    #[serde(skip)]
    key: (jiff::Timestamp, String),
}

impl Line {
    /// The line for `record` (`None` without a time, as in the timeline),
    /// with the findings it gave (any order).
    pub fn of(device: &str, record: &Record, findings: &[&Finding]) -> Option<Line> {
        let time = record.timestamp?;
        let worst = findings
            .iter()
            .min_by_key(|f| (f.level, f.severity, f.message.as_str()))
            .copied();
        let zone = record
            .fields
            .get("time_zone")
            .and_then(|v| v.as_str())
            .unwrap_or("UTC")
            .to_string();
        let local = zone == UNKNOWN_LOCAL;
        let event = if record.event.is_empty() {
            "record"
        } else {
            record.event.as_str()
        };
        let mut desc = format!("{}: {event}", record.module);
        if local {
            desc.push_str(" (device-local time, zone unknown)");
        }
        let typed = record
            .observables
            .iter()
            .find(|o| o.kind != ObservableType::Text);
        let observable = worst.and_then(|f| f.observable.as_ref()).or(typed);
        let mut message = record.description.clone();
        if message.is_empty() {
            message = format!("{} {event}", record.module);
        }
        if let Some(f) = worst {
            message = format!("[{}] {} | {message}", f.level.as_str(), f.message);
        }
        let ind = worst.and_then(|f| f.indicator.as_ref());
        Some(Line {
            message,
            datetime: time.to_string(),
            timestamp: time.as_microsecond(),
            timestamp_desc: desc,
            device: device.to_string(),
            module: record.module.to_string(),
            artifact: record.artifact.to_string(),
            event: event.to_string(),
            level: worst.map_or("", |f| f.level.as_str()).to_string(),
            severity: worst
                .map(|f| format!("{:?}", f.severity).to_lowercase())
                .unwrap_or_default(),
            observable_type: observable.map(|o| o.kind.to_string()).unwrap_or_default(),
            observable_value: observable.map(|o| o.value.clone()).unwrap_or_default(),
            indicator: ind.map(|i| i.id.clone()).unwrap_or_default(),
            malware: ind.and_then(|i| i.malware.clone()).unwrap_or_default(),
            rule: worst.and_then(|f| f.rule.clone()).unwrap_or_default(),
            finding: worst.map(|f| f.message.clone()).unwrap_or_default(),
            time_zone: zone,
            key: (
                time,
                format!(
                    "{}\0{}\0{}",
                    record.module, record.event, record.description
                ),
            ),
        })
    }

    /// Whether the record's time is device-local of an unknown zone.
    pub fn is_device_local(&self) -> bool {
        self.time_zone == UNKNOWN_LOCAL
    }
}

/// Sorts `lines` in the timeline's order.
pub fn sort(lines: &mut [Line]) {
    lines.sort_by(|a, b| (&a.device, &a.key).cmp(&(&b.device, &b.key)));
}

/// Writes `lines`, one JSON object each.
pub fn write_lines(w: &mut dyn std::io::Write, lines: &[Line]) -> std::io::Result<()> {
    for l in lines {
        serde_json::to_writer(&mut *w, l)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_local_times_are_kept_and_marked_and_untimed_records_are_not_rows() {
        let t: jiff::Timestamp = "2021-08-11T05:51:02Z".parse().unwrap();
        let r = Record::new("mobile_installation", "logs/x.log")
            .at(Some(t))
            .event("install", "installed com.example")
            .field("time_zone", UNKNOWN_LOCAL);
        let l = Line::of("dev", &r, &[]).unwrap();
        assert!(l.is_device_local());
        assert_eq!(l.datetime, "2021-08-11T05:51:02Z");
        assert!(
            l.timestamp_desc
                .ends_with("(device-local time, zone unknown)")
        );
        assert_eq!(l.level, "");
        let untimed = Record::new("m", "a").event("e", "d");
        assert!(Line::of("dev", &untimed, &[]).is_none());
    }
}
