//! `dumpsys package`, "Activity Resolver Table": which package's activity
//! answers which intent, MIME type or URI scheme. Every resolver category
//! is read (Full / Base / Wild MIME Types, Schemes, Non-Data Actions, MIME
//! Typed Actions), as MVT 2026 does; before, only "Non-Data Actions".

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_activities",
    in_androidqf: Some("aqf_dumpsys_activities"),
    part: Part::Service("package"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

/// Resolver category headings → the `resolver_type` MVT writes.
const RESOLVER_TYPES: &[(&str, &str)] = &[
    ("Full MIME Types", "full_mime_type"),
    ("Base MIME Types", "base_mime_type"),
    ("Wild MIME Types", "wild_mime_type"),
    ("Schemes", "scheme"),
    ("Non-Data Actions", "non_data_action"),
    ("MIME Typed Actions", "mime_typed_action"),
];

/// One component a resolver table lists.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverEntry {
    pub resolver_type: &'static str,
    /// The action, MIME type or scheme the component answers.
    pub key: String,
    pub component: String,
    pub package_name: String,
    pub filter_count: u32,
}

impl ResolverEntry {
    /// The key is an intent action in the two action categories.
    pub fn intent(&self) -> Option<&str> {
        matches!(self.resolver_type, "non_data_action" | "mime_typed_action")
            .then_some(self.key.as_str())
    }
}

/// `        41a2b3c0 pkg/.Cls (2 filters)` → (component, filters).
fn entry(line: &str) -> Option<(&str, u32)> {
    if super::dumpsys::indent(line) < 8 {
        return None;
    }
    let mut tokens = line.split_whitespace();
    let hash = tokens.next()?;
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let component = tokens.next()?;
    let filters = match (tokens.next(), tokens.next(), tokens.next()) {
        (None, _, _) => 1,
        (Some(n), Some("filter)" | "filters)"), None) => n.strip_prefix('(')?.parse().ok()?,
        // Android 2.x: `4069d1e0 pkg/.Cls filter 40696b18` (MVT reads no
        // entry of this form).
        (Some("filter"), Some(h), None) if h.bytes().all(|b| b.is_ascii_hexdigit()) => 1,
        _ => return None,
    };
    Some((component, filters))
}

/// Every entry of `<table> Resolver Table:` (`Activity`, `Receiver`, ...).
/// The table ends at the next line that does not start with a space.
pub fn resolver_entries(section: &str, table: &str) -> Vec<ResolverEntry> {
    let heading = format!("{table} Resolver Table:");
    let mut out = Vec::new();
    let mut in_table = false;
    let mut kind: Option<&'static str> = None;
    let mut key: Option<String> = None;
    for line in section.lines() {
        if !in_table {
            in_table = line.starts_with(&heading);
            continue;
        }
        if !line.is_empty() && !line.starts_with(' ') {
            break;
        }
        let ind = super::dumpsys::indent(line);
        let t = line.trim_end();
        if ind == 2 && t.ends_with(':') {
            let name = t.trim().trim_end_matches(':');
            kind = RESOLVER_TYPES
                .iter()
                .find(|(h, _)| *h == name)
                .map(|(_, k)| *k);
            key = None;
            continue;
        }
        let Some(kind) = kind else { continue };
        // Keys sit at 6 spaces (sometimes more: mis-indented actions).
        if ind >= 6 && t.ends_with(':') {
            key = Some(t.trim().trim_end_matches(':').to_string());
            continue;
        }
        let Some(k) = &key else { continue };
        if let Some((component, filter_count)) = entry(line) {
            out.push(ResolverEntry {
                resolver_type: kind,
                key: k.clone(),
                component: component.to_string(),
                package_name: component.split('/').next().unwrap_or(component).to_string(),
                filter_count,
            });
        }
    }
    out
}

/// The record fields every resolver entry carries.
pub fn entry_record(module: &str, artifact: &str, e: &ResolverEntry) -> Record {
    let mut r = Record::new(module, artifact)
        .field("resolver_type", e.resolver_type)
        .field("key", e.key.as_str())
        .field("package_name", e.package_name.as_str())
        .field("component", e.component.as_str())
        .field("filter_count", e.filter_count)
        .observe(ObservableType::AppId, e.package_name.as_str());
    if let Some(intent) = e.intent() {
        r = r.field("intent", intent);
    }
    r
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    resolver_entries(section, "Activity")
        .iter()
        .map(|e| {
            entry_record(MODULE.name, artifact, e)
                .event(
                    "activity",
                    format!("{} handles {} {}", e.component, e.resolver_type, e.key),
                )
                .field("activity", e.component.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resolver_category() {
        let s = "Activity Resolver Table:\n  Full MIME Types:\n      text/plain:\n        1a2b com.a/.Share (2 filters)\n\n  Schemes:\n      https:\n        3c4d com.b/.Browser\n  Non-Data Actions:\n      android.intent.action.MAIN:\n        5e6f com.c/.Main\n               android.intent.action.SEND:\n        7a8b com.d/.Send filter 4069a1a8\n  Unknown Category:\n      x:\n        9c9c com.e/.X\n\nReceiver Resolver Table:\n  Non-Data Actions:\n      y:\n        1111 com.f/.R\n";
        let e = resolver_entries(s, "Activity");
        let got: Vec<_> = e
            .iter()
            .map(|e| {
                (
                    e.resolver_type,
                    e.key.as_str(),
                    e.package_name.as_str(),
                    e.filter_count,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("full_mime_type", "text/plain", "com.a", 2),
                ("scheme", "https", "com.b", 1),
                ("non_data_action", "android.intent.action.MAIN", "com.c", 1),
                ("non_data_action", "android.intent.action.SEND", "com.d", 1),
            ]
        );
        assert_eq!(e[0].intent(), None);
        assert_eq!(e[2].intent(), Some("android.intent.action.MAIN"));
        assert_eq!(resolver_entries(s, "Receiver").len(), 1);
    }
}
