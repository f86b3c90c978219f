//! `firefox_history` and `firefox_favicon`: Firefox for iOS `browser.db`.

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

const DOMAIN: &str = "AppDomainGroup-group.org.mozilla.ios.Firefox";
const ARTIFACT: &str = "AppDomainGroup-group.org.mozilla.ios.Firefox/profile.profile/browser.db";
pub const HISTORY: Module = Module {
    name: "firefox_history",
    artifact: ARTIFACT,
    run: run_history,
};
pub const FAVICON: Module = Module {
    name: "firefox_favicon",
    artifact: ARTIFACT,
    run: run_favicon,
};

pub fn run_history(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(DOMAIN, "profile.profile/browser.db")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT visits.id AS id, visits.date AS date, history.url AS url, history.title AS title, \
             visits.is_local AS is_local, visits.type AS type FROM visits, history \
             WHERE visits.siteID = history.id ORDER BY visits.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let url = col_text(r, "url").unwrap_or_default();
            let ts = col_int(r, "date").and_then(crate::time::from_unix_us);
            Ok(Record::new("firefox_history", &artifact)
                .at(ts)
                .event("firefox_visit", format!("Firefox visit to {url}"))
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("isodate", jts(ts))
                .field("url", url.clone())
                .field("title", js(col_text(r, "title")))
                .field("is_local", col_int(r, "is_local").unwrap_or(0))
                .field("type", col_int(r, "type").unwrap_or(0))
                .observe(ObservableType::Url, url))
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

pub fn run_favicon(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(DOMAIN, "profile.profile/browser.db")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT favicons.id AS id, favicons.url AS url, favicons.width AS width, favicons.height AS height, \
             favicons.type AS type, favicons.date AS date, history.id AS history_id, history.url AS history_url \
             FROM favicon_sites, favicons, history WHERE favicon_sites.faviconID = favicons.id \
             AND favicon_sites.siteID = history.id ORDER BY favicons.id, history.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let url = col_text(r, "url").unwrap_or_default();
            let hurl = col_text(r, "history_url").unwrap_or_default();
            let ts = col_real(r, "date").and_then(crate::time::from_unix_f64);
            Ok(Record::new("firefox_favicon", &artifact)
                .at(ts)
                .event(
                    "firefox_favicon",
                    format!("Firefox favicon {url} for {hurl}"),
                )
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("url", url.clone())
                .field("history_url", hurl.clone())
                .field("isodate", jts(ts))
                .observe(ObservableType::Url, url)
                .observe(ObservableType::Url, hurl))
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
