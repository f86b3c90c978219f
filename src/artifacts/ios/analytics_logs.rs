//! `analytics_logs` (spydar's own; MVT has no counterpart): the daily
//! analytics logs iOS keeps next to its crash reports,
//! `/private/var/mobile/Library/Logs/CrashReporter/[Retired/]Analytics-*.ips`
//! and `….ips.ca.synced` (sent to Apple). A JSON header line
//! (`timestamp`, `os_version`) then one JSON event per line, whose
//! `message` names processes, bundles and hosts.
//!
//! Strings are typed by their key as in [`super::analytics`]: process keys
//! (`process`, `processName`, `responsibleProcess`, …) give process names,
//! bundle keys app ids, host/domain keys domains, `http(s)://` values URLs;
//! other text stays out. One record per event line that has an
//! observable, and one summary record per file.

use serde_json::Value;

use super::util::jts;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "analytics_logs",
    artifact: "HomeDomain/Library/Logs/CrashReporter/*Analytics*.ips{,.ca.synced}",
    run,
};

fn is_analytics_log(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or("");
    name.starts_with("Analytics") && (name.ends_with(".ips") || name.ends_with(".ips.ca.synced"))
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(
            Some("HomeDomain"),
            "Library/Logs/CrashReporter/*Analytics*.ips*",
        )?
        .into_iter()
        .filter(|e| e.flags != 2 && is_analytics_log(&e.relative_path))
        .collect();
    if entries.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for e in &entries {
        let data = match b.read(e) {
            Ok(d) => d,
            Err(ModuleError::Missing) => continue,
            Err(err) => return Err(err),
        };
        out.extend(records(&e.logical_path(), &data));
    }
    Ok(out)
}

/// The records of one log: a summary, then each event with an observable.
pub fn records(artifact: &str, data: &[u8]) -> Vec<Record> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let header: Option<Value> = lines
        .next()
        .and_then(|l| serde_json::from_str(l.trim()).ok());
    let get = |k: &str| {
        header
            .as_ref()
            .and_then(|h| h.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let ts = get("timestamp")
        .as_deref()
        .and_then(super::ios_version_history::parse_time);
    let os = get("os_version");
    let mut out = Vec::new();
    let mut events = 0usize;
    for (i, line) in lines.enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        events += 1;
        let name = v.get("name").and_then(Value::as_str).unwrap_or("event");
        let mut r = Record::new(MODULE.name, artifact)
            .at(ts)
            .event("analytics_log_event", format!("Analytics event {name}"))
            .field("line", i + 2)
            .field("name", name.to_string())
            .field("event", head(line));
        observe(&mut r, "", &v);
        if !r.observables.is_empty() {
            out.push(r);
        }
    }
    out.insert(
        0,
        Record::new(MODULE.name, artifact)
            .at(ts)
            .event(
                "analytics_log",
                format!("{artifact}: {events} analytics events"),
            )
            .field("isodate", jts(ts))
            .field("os_version", os)
            .field("events", events),
    );
    out
}

/// At most 2 KiB of an event line, for the record.
fn head(line: &str) -> String {
    crate::time::head_str(line.trim(), 2048).to_string()
}

fn observe(r: &mut Record, key: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                observe(r, k, v);
            }
        }
        Value::Array(a) => {
            for v in a {
                observe(r, key, v);
            }
        }
        Value::String(s) => super::analytics::observe_string(r, key, s),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObservableType;

    #[test]
    fn typed_strings_of_events() {
        let log = "{\"timestamp\":\"2021-09-01 10:00:00.00 +0200\",\"os_version\":\"iPhone OS 14.7.1 (18G82)\"}\n\
{\"name\":\"crash\",\"message\":{\"process\":\"bh\",\"bundleID\":\"com.example.app\",\"reason\":\"roleaccountd\"}}\n\
{\"name\":\"quiet\",\"message\":{\"reason\":\"bh failed\",\"count\":3}}\n\
not json\n";
        let r = records(
            "HomeDomain/Library/Logs/CrashReporter/Analytics-x.ips",
            log.as_bytes(),
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fields.get("events"), Some(&Value::from(2)));
        assert_eq!(r[0].timestamp.unwrap().to_string(), "2021-09-01T08:00:00Z");
        let obs: Vec<(ObservableType, &str)> = r[1]
            .observables
            .iter()
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        assert_eq!(
            obs,
            [
                (ObservableType::AppId, "com.example.app"),
                (ObservableType::Process, "bh")
            ]
        );
        assert!(is_analytics_log(
            "Library/Logs/CrashReporter/Retired/Analytics-2021-09-01-000000.ips.ca.synced"
        ));
        assert!(!is_analytics_log(
            "Library/Logs/CrashReporter/bh-2021-09-01-000000.ips"
        ));
        assert!(!is_analytics_log(
            "Library/Logs/CrashReporter/Analytics-x.ips.bak"
        ));
    }
}
