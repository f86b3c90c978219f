//! `webkit_session_resource_log`: WebKit's per-session log of which
//! origins loaded which (`full_browsing_session_resourceLog.plist`),
//! including redirects. Every origin is matched as a domain.

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "webkit_session_resource_log",
    artifact: "*/{Library/WebKit/WebsiteData/ResourceLoadStatistics,SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData,Library/WebClips/*/Storage}/full_browsing_session_resourceLog.plist",
    run,
};

const PATH: &str =
    "Library/WebKit/WebsiteData/ResourceLoadStatistics/full_browsing_session_resourceLog.plist";
const LISTS: [&str; 4] = [
    "topFrameUniqueRedirectsFrom",
    "topFrameUniqueRedirectsTo",
    "subframeUnderTopFrameOrigins",
    "subresourceUnderTopFrameOrigins",
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut out = Vec::new();
    let mut any = false;
    // MVT's check-fs paths besides the backup's: the in-app browser's store
    // and the web clips' (HomeDomain).
    let mut entries = b.find(None, PATH)?;
    entries.extend(b.find(
        None,
        "SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData/full_browsing_session_resourceLog.plist",
    )?);
    entries.extend(b.find(
        Some("HomeDomain"),
        "Library/WebClips/*/Storage/full_browsing_session_resourceLog.plist",
    )?);
    for entry in entries {
        let value = match b.read_plist(&entry) {
            Ok(v) => v,
            Err(ModuleError::Missing) => continue,
            Err(e) => return Err(e),
        };
        any = true;
        let stats = value
            .as_dictionary()
            .and_then(|d| d.get("browsingStatistics"))
            .and_then(|v| v.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for s in stats.iter().filter_map(|s| s.as_dictionary()) {
            let origin = s
                .get("PrevalentResourceOrigin")
                .and_then(|v| v.as_string())
                .unwrap_or("")
                .to_string();
            // Seconds since 1970 in older iOS, a plist date in newer ones.
            let seen = s.get("lastSeen").and_then(|v| match v {
                plist::Value::Real(f) => crate::time::from_unix_f64(*f),
                other => plist_time(other),
            });
            let mut r = Record::new("webkit_session_resource_log", &entry.logical_path())
                .at(seen)
                .event(
                    "webkit_session_origin",
                    format!("WebKit session resource origin {origin}"),
                )
                .field("origin", origin.clone())
                .field("last_seen", jts(seen))
                .field(
                    "most_recent_interaction",
                    jts(s.get("mostRecentUserInteraction").and_then(plist_time)),
                );
            r.push_observable(ObservableType::Domain, origin);
            for list in LISTS {
                let items: Vec<String> = s
                    .get(list)
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|i| match i {
                                plist::Value::String(s) => Some(s.clone()),
                                plist::Value::Dictionary(d) => d
                                    .get("origin")
                                    .or_else(|| d.get("domain"))
                                    .and_then(|v| v.as_string())
                                    .map(str::to_string),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for i in &items {
                    r.push_observable(ObservableType::Domain, i.clone());
                }
                r = r.field(list, items);
            }
            out.push(r);
        }
    }
    if !any {
        return Err(ModuleError::Missing);
    }
    Ok(out)
}
