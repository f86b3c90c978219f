//! `profile_events`: configuration-profile operations
//! (`MCProfileEvents.plist`): which process installed or removed which
//! profile, when. Every operation is context (MVT raises each at LOW).

use super::util::{jts, plist_json, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "profile_events",
    artifact: "*/Library/ConfigurationProfiles/MCProfileEvents.plist",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries = b.find(None, "Library/ConfigurationProfiles/MCProfileEvents.plist")?;
    let mut out = Vec::new();
    let mut any = false;
    for entry in entries {
        let value = match b.read_plist(&entry) {
            Ok(v) => v,
            Err(ModuleError::Missing) => continue,
            Err(e) => return Err(e),
        };
        any = true;
        let events = value
            .as_dictionary()
            .and_then(|d| d.get("ProfileEvents"))
            .and_then(|v| v.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for ev in events.iter().filter_map(|e| e.as_dictionary()) {
            for (profile_id, details) in ev.iter() {
                let Some(d) = details.as_dictionary() else {
                    continue;
                };
                let get = |k: &str| {
                    d.iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v)
                };
                let ts = get("timestamp").and_then(plist_time);
                let process = get("process")
                    .and_then(|v| v.as_string())
                    .unwrap_or("")
                    .to_string();
                let operation = get("operation")
                    .and_then(|v| v.as_string())
                    .unwrap_or("")
                    .to_string();
                let mut r = Record::new("profile_events", &entry.logical_path())
                    .at(ts)
                    .event(
                        "profile_operation",
                        format!("Process {process} started operation {operation} of profile {profile_id}"),
                    )
                    .field("profile_id", profile_id.clone())
                    .field("timestamp", jts(ts))
                    .field("operation", operation.clone())
                    .field("process", process.clone());
                for (k, v) in d.iter() {
                    let k = k.to_lowercase();
                    if !["timestamp", "operation", "process"].contains(&k.as_str()) {
                        r = r.field(&k, plist_json(v));
                    }
                }
                r.push_observable(
                    ObservableType::Process,
                    crate::strings::base_name(&process).to_string(),
                );
                r.push_observable(ObservableType::ProfileId, profile_id.clone());
                r = r.alert(
                    &crate::rules::PROFILE_EVENTS_OPERATION,
                    format!(
                        "On {} process \"{process}\" started operation \"{operation}\" of profile \"{profile_id}\"",
                        ts.map(|t| t.to_string()).unwrap_or_default()
                    ),
                );
                out.push(r);
            }
        }
    }
    if !any {
        return Err(ModuleError::Missing);
    }
    Ok(out)
}
