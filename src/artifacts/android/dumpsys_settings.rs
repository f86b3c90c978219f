//! `dumpsys settings`: every row of the settings provider, per namespace
//! (`GLOBAL SETTINGS (user 0)`, SECURE, SYSTEM, CONFIG) and user, as MVT's
//! bugreport `settings` module reads it. The same dangerous values as
//! androidqf's `settings_*.txt` are warnings; the package that wrote a row
//! is matched as an app id. A row's change history (`time:MM-DD ...`, no
//! year) gets its year from the section's `ending at:` time.

use serde_json::json;

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "settings",
    in_androidqf: Some("aqf_dumpsys_settings"),
    part: Part::Service("settings"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

const FIELDS: &[&str] = &[
    "_id",
    "name",
    "pkg",
    "value",
    "default",
    "defaultSystemSet",
    "tag",
    "isValuePreservedInRestore",
];
const HISTORY_FIELDS: &[&str] = &["time", "mode", "oldValue", "newValue", "package"];

/// `key:value` fields in a fixed order; a value runs up to ` next_key:` of
/// a key that is present (values may hold spaces).
fn split_fields<'a>(text: &'a str, keys: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    let Some(mut rest) = text.strip_prefix(keys[0]).and_then(|r| r.strip_prefix(':')) else {
        return out;
    };
    let mut key = keys[0];
    for next in &keys[1..] {
        let marker = format!(" {next}:");
        if let Some(at) = rest.find(&marker) {
            out.push((key, &rest[..at]));
            key = next;
            rest = &rest[at + marker.len()..];
        }
    }
    out.push((key, rest));
    out
}

/// The `ending at: YYYY-MM-DD HH:MM:SS` of the section's duration line.
fn section_end(section: &str) -> Option<jiff::civil::DateTime> {
    let at = section.find("ending at: ")?;
    crate::time::parse_civil(section.get(at + 11..at + 30)?)
}

/// `MM-DD HH:MM:SS.mmm` at or before `end`, in the latest year that fits.
fn resolve_year(value: &str, end: jiff::civil::DateTime) -> Option<jiff::civil::DateTime> {
    (0..9).find_map(|back| {
        let year = end.year() - back;
        let dt = crate::time::parse_civil(&format!("{year}-{value}"))?;
        (dt <= end).then_some(dt)
    })
}

struct Row<'a> {
    namespace: String,
    user: String,
    lines: Vec<&'a str>,
    history: Vec<String>,
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let end = section_end(section);
    let mut rows: Vec<Row> = Vec::new();
    let mut ns: Option<(String, String)> = None;
    let mut cur: Option<Row> = None;
    let mut in_history = false;
    for line in section.lines() {
        let t = line.trim();
        if let Some((name, user)) = t
            .strip_suffix(')')
            .and_then(|x| x.split_once(" SETTINGS (user "))
            && ["CONFIG", "GLOBAL", "SECURE", "SYSTEM"].contains(&name)
        {
            rows.extend(cur.take());
            ns = Some((name.to_lowercase(), user.to_string()));
            continue;
        }
        if line.starts_with("--------- ") {
            rows.extend(cur.take());
            ns = None;
            continue;
        }
        let Some((namespace, user)) = &ns else {
            continue;
        };
        if t.is_empty() {
            rows.extend(cur.take());
            continue;
        }
        if line.starts_with("_id:") {
            rows.extend(cur.take());
            cur = Some(Row {
                namespace: namespace.clone(),
                user: user.clone(),
                lines: vec![line],
                history: Vec::new(),
            });
            in_history = false;
            continue;
        }
        let Some(row) = cur.as_mut() else { continue };
        if t.starts_with("History (") {
            in_history = true;
        } else if in_history {
            if t.starts_with("time:") {
                row.history.push(t.to_string());
            } else if let Some(last) = row.history.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
        } else {
            // A multi-line value.
            row.lines.push(line);
        }
    }
    rows.extend(cur);
    rows.into_iter()
        .map(|row| record(row, artifact, end))
        .collect()
}

fn record(row: Row, artifact: &str, end: Option<jiff::civil::DateTime>) -> Record {
    let text = row.lines.join("\n");
    let text = text.trim_end();
    let head = text.strip_suffix(" notPreservedInRestore").unwrap_or(text);
    let fields = split_fields(head, FIELDS);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| *v)
            .unwrap_or("")
    };
    let (name, value, pkg) = (get("name"), get("value"), get("pkg"));
    let mut latest = None;
    let history: Vec<_> = row
        .history
        .iter()
        .map(|h| {
            let f = split_fields(h, HISTORY_FIELDS);
            let g = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
            let when = end.and_then(|e| resolve_year(g("time").unwrap_or(""), e));
            if when.is_some() {
                latest = latest.max(when);
            }
            json!({
                "time": g("time"),
                "timestamp": when.map(|w| w.to_string()),
                "old_value": g("oldValue"),
                "new_value": g("newValue"),
                "package": g("package"),
            })
        })
        .collect();
    let ns = row.namespace.as_str();
    let mut r = Record::new(MODULE.name, artifact)
        // Device wall clock; the scan converts it with the device's zone.
        .at(latest.and_then(|w| jiff::tz::TimeZone::UTC.to_timestamp(w).ok()))
        .event("setting", format!("{ns} {name} = {value}"))
        .field("namespace", ns)
        .field("user", row.user.as_str())
        .field("id", get("_id"))
        .field("name", name)
        .field("value", value)
        .field("package_name", pkg)
        .observe(ObservableType::AppId, pkg);
    for k in ["default", "tag"] {
        if fields.iter().any(|(n, _)| *n == k) {
            r = r.field(k, get(k));
        }
    }
    if !history.is_empty() {
        r = r.field("history", history);
    }
    if let Some((rule, message)) = super::aqf_settings::danger(ns, name, value) {
        r = r.alert(rule, message);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_history_and_dangerous_values() {
        let s = "GLOBAL SETTINGS (user 0)\n\
_id:12 name:adb_enabled pkg:android value:1 default:1 defaultSystemSet:true\n\
_id:13 name:package_verifier_enable pkg:com.example.tool value:0 tag:null\n\
  History (1 entries):\n\
    time:01-15 10:22:33.123 mode:update oldValue:1 newValue:0 package:com.example.tool\n\
_id:14 name:multi pkg:android value:first line\n\
second line default:null\n\
\n\
SECURE SETTINGS (user 10)\n\
_id:1 name:android_id pkg:android value:abc notPreservedInRestore\n\
--------- 0.05s was the duration of dumpsys settings, ending at: 2024-01-20 08:00:00\n";
        let r = parse(s, "d");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].fields["name"], "adb_enabled");
        assert_eq!(r[0].fields["default"], "1");
        assert_eq!(r[1].fields["value"], "0");
        assert_eq!(r[1].alerts.len(), 1, "Play Protect off is a warning");
        assert_eq!(
            r[1].timestamp.unwrap().to_string(),
            "2024-01-15T10:22:33.123Z"
        );
        assert_eq!(r[1].fields["history"][0]["new_value"], "0");
        assert_eq!(r[2].fields["value"], "first line\nsecond line");
        assert_eq!(r[3].fields["namespace"], "secure");
        assert_eq!(r[3].fields["user"], "10");
        assert_eq!(r[3].fields["value"], "abc");
        assert!(r[0].alerts.iter().any(|a| a.rule.contains("adb_enabled")));
    }
}
