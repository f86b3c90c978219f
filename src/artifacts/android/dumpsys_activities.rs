//! `dumpsys package`, "Activity Resolver Table" → "Non-Data Actions": which
//! package's activity answers which intent.

use crate::model::{ObservableType, Record};

use super::dumpsys::indent;

pub const MODULE: &str = "dumpsys_activities";

/// (intent, component) pairs of a resolver table's "Non-Data Actions".
pub fn resolver_entries(section: &str, table: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_table = false;
    let mut in_actions = false;
    let mut intent = String::new();
    for line in section.lines() {
        if line.starts_with(table) {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !in_actions {
            if line.starts_with("  Non-Data Actions:") {
                in_actions = true;
            }
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        let ind = indent(line);
        let t = line.trim();
        let tokens: Vec<&str> = t.split_whitespace().collect();
        // Action lines end with ':' (6 spaces, sometimes mis-indented).
        if (ind == 6 && t.contains(':')) || (ind != 8 && tokens.len() == 1 && t.ends_with(':')) {
            intent = t.trim_end_matches(':').to_string();
            continue;
        }
        if ind >= 8
            && let Some(component) = tokens.get(1)
        {
            out.push((intent.clone(), component.to_string()));
        }
    }
    out
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    resolver_entries(section, "Activity Resolver Table:")
        .into_iter()
        .map(|(intent, activity)| {
            let package = activity.split('/').next().unwrap_or(&activity).to_string();
            Record::new(MODULE, artifact)
                .event("activity", format!("{package} handles {intent}"))
                .field("intent", intent.as_str())
                .field("package_name", package.as_str())
                .field("activity", activity.as_str())
                .observe(ObservableType::AppId, package)
        })
        .collect()
}
