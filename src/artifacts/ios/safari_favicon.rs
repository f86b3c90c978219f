//! `safari_favicon` (MVT's `SafariFavicon`,
//! `mvt/ios/modules/fs/safari_favicon.py`): Safari's favicon cache,
//! `Library/Image Cache/Favicons/Favicons.db` in the home folder and in app
//! containers. One record per cached icon (`page_url` joined with
//! `icon_info`, type `valid`) and per rejected icon (`rejected_resources`,
//! type `rejected`); the page URL and the icon URL are both URLs. Times are
//! Apple absolute time.

use super::util::{col_real, col_text, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "safari_favicon",
    artifact: "*/Library/Image Cache/Favicons/Favicons.db",
    run,
};

const PATH: &str = "Library/Image Cache/Favicons/Favicons.db";

const QUERIES: [(&str, &str); 2] = [
    (
        "valid",
        "SELECT page_url.url AS url, icon_info.url AS icon_url, icon_info.timestamp AS timestamp \
         FROM page_url JOIN icon_info ON page_url.uuid = icon_info.uuid ORDER BY icon_info.timestamp",
    ),
    (
        "rejected",
        "SELECT page_url AS url, icon_url, timestamp FROM rejected_resources ORDER BY timestamp",
    ),
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(None, PATH)?
        .into_iter()
        .filter(|e| e.domain == "HomeDomain" || e.domain.starts_with("AppDomain-"))
        .collect();
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let artifact = entry.logical_path();
        for (kind, sql) in QUERIES {
            let mut stmt = conn.prepare(sql).map_err(err)?;
            let rows = stmt
                .query_map([], |r| {
                    let url = col_text(r, "url").unwrap_or_default();
                    let icon = col_text(r, "icon_url").unwrap_or_default();
                    let raw = col_real(r, "timestamp");
                    let ts = raw.and_then(crate::time::from_apple_nonzero);
                    let mut rec = Record::new(MODULE.name, &artifact)
                        .at(ts)
                        .event(
                            "safari_favicon",
                            format!("Safari favicon from {url} with icon URL {icon} ({kind})"),
                        )
                        .field("url", url.clone())
                        .field("icon_url", icon.clone())
                        .field("timestamp", raw)
                        .field("isodate", jts(ts))
                        .field("type", kind)
                        .field("safari_favicon_db_path", artifact.clone());
                    rec.push_observable(ObservableType::Url, url);
                    rec.push_observable(ObservableType::Url, icon);
                    Ok(rec)
                })
                .map_err(err)?;
            for r in rows {
                out.push(r.map_err(err)?);
            }
        }
    }
    out.sort_by_key(|r| r.timestamp);
    Ok(out)
}
