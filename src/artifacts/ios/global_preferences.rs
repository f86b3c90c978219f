//! `global_preferences`: `.GlobalPreferences.plist`, one record per key;
//! Lockdown Mode (`LDMGlobalEnabled`) is reported as context.

use super::util::plist_json;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "global_preferences",
    artifact: "HomeDomain/Library/Preferences/.GlobalPreferences.plist",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let (entry, value) = ctx
        .backup
        .read_plist_at("HomeDomain", "Library/Preferences/.GlobalPreferences.plist")?;
    let dict = value.as_dictionary().ok_or_else(|| {
        ModuleError::Failed(format!("{}: not a dictionary", ctx.backup.describe(&entry)))
    })?;
    let artifact = entry.logical_path();
    let mut out = Vec::new();
    for (key, v) in dict.iter() {
        let mut r = Record::new("global_preferences", &artifact)
            .event("preference", format!("{key} = {}", plist_json(v)))
            .field("entry", key.clone())
            .field("value", plist_json(v));
        if key == "LDMGlobalEnabled" {
            let on = match v {
                plist::Value::Boolean(b) => *b,
                plist::Value::Integer(i) => i.as_signed().unwrap_or(0) != 0,
                _ => false,
            };
            r = r.alert(
                &crate::rules::GLOBAL_PREFERENCES_LOCKDOWN_MODE,
                if on {
                    "Lockdown mode enabled"
                } else {
                    "Lockdown mode disabled"
                },
            );
        }
        out.push(r);
    }
    Ok(out)
}
