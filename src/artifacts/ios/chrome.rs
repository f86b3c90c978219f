//! `chrome_history` and `chrome_favicon`: Chrome for iOS history and
//! favicon databases (WebKit/Chrome microsecond epoch).

use super::util::{col_int, col_text, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

const DOMAIN: &str = "AppDomain-com.google.chrome.ios";
pub const HISTORY: Module = Module {
    name: "chrome_history",
    artifact: "AppDomain-com.google.chrome.ios/Library/Application Support/Google/Chrome/Default/History",
    run: run_history,
};
pub const FAVICON: Module = Module {
    name: "chrome_favicon",
    artifact: "AppDomain-com.google.chrome.ios/Library/Application Support/Google/Chrome/Default/Favicons",
    run: run_favicon,
};

pub fn run_history(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(
        DOMAIN,
        "Library/Application Support/Google/Chrome/Default/History",
    )?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT urls.id AS id, urls.url AS url, visits.id AS visit_id, visits.visit_time AS visit_time, \
             visits.from_visit AS from_visit FROM urls JOIN visits ON visits.url = urls.id ORDER BY visits.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let url = col_text(r, "url").unwrap_or_default();
            let ts = col_int(r, "visit_time").and_then(crate::time::from_webkit);
            Ok(Record::new("chrome_history", &artifact)
                .at(ts)
                .event("chrome_visit", format!("Chrome visit to {url}"))
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("url", url.clone())
                .field("visit_id", col_int(r, "visit_id").unwrap_or(0))
                .field("isodate", jts(ts))
                .field("redirect_source", col_int(r, "from_visit").unwrap_or(0))
                .observe(ObservableType::Url, url))
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

pub fn run_favicon(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(
        DOMAIN,
        "Library/Application Support/Google/Chrome/Default/Favicons",
    )?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT icon_mapping.page_url AS url, favicons.url AS icon_url, favicon_bitmaps.last_updated AS last_updated, \
             favicon_bitmaps.last_requested AS last_requested FROM icon_mapping \
             JOIN favicon_bitmaps ON icon_mapping.icon_id = favicon_bitmaps.icon_id \
             JOIN favicons ON icon_mapping.icon_id = favicons.id ORDER BY icon_mapping.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let url = col_text(r, "url").unwrap_or_default();
            let icon = col_text(r, "icon_url").unwrap_or_default();
            let t = col_int(r, "last_updated")
                .filter(|v| *v > 0)
                .or_else(|| col_int(r, "last_requested"));
            let ts = t.and_then(crate::time::from_webkit);
            Ok(Record::new("chrome_favicon", &artifact)
                .at(ts)
                .event("chrome_favicon", format!("Chrome favicon {icon} for {url}"))
                .field("url", url.clone())
                .field("icon_url", icon.clone())
                .field("isodate", jts(ts))
                .observe(ObservableType::Url, url)
                .observe(ObservableType::Url, icon))
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
