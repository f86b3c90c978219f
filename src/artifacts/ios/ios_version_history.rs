//! `ios_version_history` (MVT's `IOSVersionHistory`,
//! `mvt/ios/modules/fs/version_history.py`): the iOS version each daily
//! analytics journal was written under,
//! `private/var/db/analyticsd/Analytics-Journal-*.ips`. The journal's first
//! line is a JSON header with `timestamp` (`2021-09-01 10:00:00.00 +0200`,
//! converted to UTC) and `os_version` (`iPhone OS 14.7.1 (18G82)`). No
//! observables: a version is context for the timeline (an update right
//! after a suspected infection, a device kept on an old version).

use serde_json::Value;

use super::util::jts;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "ios_version_history",
    artifact: "DatabaseDomain/analyticsd/Analytics-Journal-*.ips",
    run,
};

/// The header line is short; a journal is not read past this.
const HEAD: usize = 64 * 1024;

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(Some("DatabaseDomain"), "analyticsd/Analytics-Journal-*.ips")?
        .into_iter()
        .filter(|e| {
            e.flags != 2
                && e.relative_path
                    .strip_prefix("analyticsd/")
                    .is_some_and(|name| !name.contains('/'))
        })
        .collect();
    if entries.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for e in &entries {
        let head = b.read_head(e, HEAD)?;
        let text = String::from_utf8_lossy(&head);
        let line = text.lines().next().unwrap_or("").trim();
        let Ok(header) = serde_json::from_str::<Value>(line) else {
            continue; // MVT stops on such a file; one bad journal is skipped here
        };
        let raw = header.get("timestamp").and_then(Value::as_str);
        let ts = raw.and_then(parse_time);
        let version = header
            .get("os_version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        out.push(
            Record::new(MODULE.name, &e.logical_path())
                .at(ts)
                .event("ios_version", format!("Recorded iOS version {version}"))
                .field("isodate", jts(ts))
                .field("timestamp", raw)
                .field("os_version", version),
        );
    }
    out.sort_by_key(|r| r.timestamp);
    Ok(out)
}

/// `2021-09-01 10:00:00.00 +0200` (fraction optional); the analytics
/// logs' headers too.
pub(crate) fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S%.f %z", s.trim())
        .and_then(|p| p.to_timestamp())
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_times_to_utc() {
        for (s, want) in [
            ("2021-09-01 10:00:00.00 +0200", "2021-09-01T08:00:00Z"),
            ("2021-09-01 10:00:00 +0000", "2021-09-01T10:00:00Z"),
        ] {
            assert_eq!(super::parse_time(s).unwrap().to_string(), want);
        }
        assert!(super::parse_time("yesterday").is_none());
    }
}
