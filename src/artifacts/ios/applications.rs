//! `applications`: apps listed in `Info.plist` `Applications` with their
//! `iTunesMetadata`. Bundle ids are matched; an app not installed from the
//! App Store or MDM is a heuristic.

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "applications",
    artifact: "Info.plist (Applications)",
    run,
};

const STORES: [&str; 4] = [
    "com.apple.AppStore",
    "com.apple.AppStore.ProductPageExtension",
    "com.apple.dmd",
    "dmd",
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let info = ctx.backup.info_plist().ok_or(ModuleError::Missing)?;
    let Some(apps) = info.get("Applications").and_then(|v| v.as_dictionary()) else {
        return Err(ModuleError::Missing);
    };
    let mut out = Vec::new();
    for (bundle, v) in apps.iter() {
        let meta = v
            .as_dictionary()
            .and_then(|d| d.get("iTunesMetadata"))
            .and_then(|v| v.as_data())
            .and_then(|d| crate::evidence::plist_safe::value_from_bytes(d).ok());
        let md = meta.as_ref().and_then(|m| m.as_dictionary());
        let s = |k: &str| {
            md.and_then(|d| d.get(k))
                .and_then(|v| v.as_string())
                .map(str::to_string)
        };
        let purchase = md
            .and_then(|d| d.get("com.apple.iTunesStore.downloadInfo"))
            .and_then(|v| v.as_dictionary())
            .and_then(|d| d.get("purchaseDate"))
            .and_then(|v| match v {
                plist::Value::String(s) => crate::time::parse_iso(s),
                other => plist_time(other),
            });
        let source = s("sourceApp").unwrap_or_else(|| "com.apple.AppStore".into());
        let id = s("softwareVersionBundleId").unwrap_or_else(|| bundle.clone());
        let mut r = Record::new("applications", "Info.plist")
            .at(purchase)
            .event("app_installed", format!("App {id} installed from {source}"))
            .field("bundle_id", id.clone())
            .field("name", s("itemName").unwrap_or_default())
            .field("artist", s("artistName").unwrap_or_default())
            .field("version", s("bundleShortVersionString").unwrap_or_default())
            .field("source_app", source.clone())
            .field("isodate", jts(purchase))
            .observe(ObservableType::AppId, id.clone())
            .observe(ObservableType::Process, id);
        if !STORES.contains(&source.as_str()) {
            r = r.alert(
                &crate::rules::APPLICATIONS_NOT_FROM_APP_STORE,
                format!(
                    "Suspicious app not installed from the App Store or MDM (source: {source})"
                ),
            );
        }
        out.push(r);
    }
    Ok(out)
}
