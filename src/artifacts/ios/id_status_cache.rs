//! `id_status_cache`: identities iMessage/FaceTime looked up
//! (`com.apple.identityservices.idstatuscache.plist`). E-mail handles are
//! matched; NUL bytes in a handle (seen in exploit lookups) are a heuristic.

use std::collections::BTreeMap;

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "id_status_cache",
    artifact: "HomeDomain/Library/{Preferences/com.apple.identityservices.,IdentityServices/}idstatuscache.plist",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let (entry, value) = match ctx.backup.read_plist_at(
        "HomeDomain",
        "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
    ) {
        // Where newer iOS keeps it (MVT's second check-fs path).
        Err(ModuleError::Missing) => ctx
            .backup
            .read_plist_at("HomeDomain", "Library/IdentityServices/idstatuscache.plist")?,
        other => other?,
    };
    let artifact = entry.logical_path();
    let Some(top) = value.as_dictionary() else {
        return Ok(Vec::new());
    };
    // (package, user) → (first lookup, status, occurrences)
    let mut seen: BTreeMap<(String, String), (Option<jiff::Timestamp>, i64, u64)> = BTreeMap::new();
    for (package, users) in top.iter() {
        let Some(users) = users.as_dictionary() else {
            continue;
        };
        for (user, v) in users.iter() {
            let d = v.as_dictionary();
            let date = d.and_then(|d| d.get("LookupDate")).and_then(plist_time);
            let status = d
                .and_then(|d| d.get("IDStatus"))
                .and_then(|v| v.as_signed_integer())
                .unwrap_or(0);
            let e = seen
                .entry((package.clone(), user.clone()))
                .or_insert((date, status, 0));
            e.2 += 1;
        }
    }
    let mut out = Vec::new();
    for ((package, user), (date, status, n)) in seen {
        let shown = user.replace('\0', "\\x00");
        let mut r = Record::new("id_status_cache", &artifact)
            .at(date)
            .event(
                "id_status_lookup",
                format!("Lookup of {shown} within {package} (status {status})"),
            )
            .field("package", package)
            .field("user", shown.clone())
            .field("isodate", jts(date))
            .field("idstatus", status)
            .field("occurrences", n);
        if let Some(email) = user.strip_prefix("mailto:") {
            r.push_observable(ObservableType::Email, email.replace('\'', ""));
        }
        if user.contains("\0\0") || shown.contains("\\x00\\x00") {
            r = r.alert(
                &crate::rules::ID_STATUS_CACHE_NUL_BYTES,
                format!("ID Status Cache entry with suspicious patterns (NUL bytes): {shown}"),
            );
        }
        out.push(r);
    }
    Ok(out)
}
