//! System properties (`getprop` output: `[name]: [value]` lines), from the
//! bugreport SYSTEM PROPERTIES block or androidqf's `getprop.txt`. Names are
//! matched as Android properties; an old security patch is a warning.

use jiff::Timestamp;

use crate::model::{ObservableType, Record, Severity};

pub const MODULE_BUGREPORT: &str = "dumpsys_get_prop";
pub const MODULE_ANDROIDQF: &str = "aqf_get_prop";

/// `[name]: [value]` pairs in order; empty values are dropped, as MVT does.
pub fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((name, value)) = rest.split_once("]: [") else {
            continue;
        };
        let Some(value) = value.strip_suffix(']') else {
            continue;
        };
        if name.is_empty() || value.is_empty() {
            continue;
        }
        out.push((name.to_string(), value.to_string()));
    }
    out
}

/// One record per property. `now` is the acquisition time (or the scan
/// time) that the security-patch age is measured against.
pub fn parse(text: &str, module: &str, artifact: &str, now: Timestamp) -> Vec<Record> {
    properties(text)
        .into_iter()
        .map(|(name, value)| {
            let mut r = Record::new(module, artifact)
                .event("property", format!("{name} = {value}"))
                .field("name", name.as_str())
                .field("value", value.as_str())
                .observe(ObservableType::AndroidProperty, name.as_str());
            if name == "ro.build.version.security_patch"
                && let Some(patch) = crate::time::parse_iso(&format!("{value} 00:00:00"))
                && now.duration_since(patch).as_secs() > 6 * 31 * 86_400
            {
                r = r.warn(
                    "android.old_security_patch",
                    Severity::Medium,
                    format!("This phone has not received security updates for more than six months (last update: {value})."),
                );
            }
            r
        })
        .collect()
}
