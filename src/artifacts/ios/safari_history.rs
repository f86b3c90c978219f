//! `safari_history`: Safari visits (`History.db`, default and per-profile).
//! Visited URLs are matched; MVT's injection heuristic flags an `http://`
//! visit redirected in under a second to another domain.

use super::util;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "safari_history",
    artifact: "*/Library/Safari/{,Profiles/*/}History.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut entries = b.find(None, "Library/Safari/History.db")?;
    entries.extend(b.find(None, "Library/Safari/Profiles/*/History.db")?);
    let mut out = ctx.opts.batches("safari_history");
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let artifact = entry.logical_path();
        let mut stmt = conn
            .prepare(
                "SELECT history_items.id AS id, history_items.url AS url, history_visits.id AS visit_id, \
                 history_visits.visit_time AS visit_time, history_visits.redirect_source AS redirect_source, \
                 history_visits.redirect_destination AS redirect_destination \
                 FROM history_items JOIN history_visits ON history_visits.history_item = history_items.id \
                 ORDER BY history_visits.id",
            )
            .map_err(err)?;
        // Light rows first: the redirect heuristic needs every visit of a
        // database; records are built afterwards and handed over in batches.
        // Columns by position, in the SELECT's order.
        let rows = stmt
            .query_map([], |r| {
                let get = |i: usize| r.get_ref(i).ok();
                Ok(Visit {
                    item: get(0).and_then(util::int).unwrap_or(0),
                    url: get(1)
                        .and_then(util::text)
                        .filter(|s| !s.is_empty())
                        .unwrap_or_default(),
                    id: get(2).and_then(util::int).unwrap_or(0),
                    time: get(3).and_then(util::real).unwrap_or(0.0),
                    source: get(4).and_then(util::int),
                    dest: get(5).and_then(util::int),
                })
            })
            .map_err(err)?;
        let visits = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)?;
        // Redirect heuristic (same DB only: visit ids are per database).
        // Visits come in id order (the id is the key), so a visit is found
        // by binary search, without an index beside them.
        let by_id = |id: i64| {
            visits
                .binary_search_by_key(&id, |v| v.id)
                .ok()
                .map(|i| &visits[i])
        };
        // The rare fast redirects first, so the visits can then be consumed
        // (each URL moved into its record, not copied again).
        let mut alerts: Vec<(usize, String)> = Vec::new();
        for (i, v) in visits.iter().enumerate() {
            if let Some(msg) = v
                .dest
                .filter(|_| v.url.starts_with("http://"))
                .and_then(by_id)
                .and_then(|target| fast_redirect(v, target))
            {
                alerts.push((i, msg));
            }
        }
        let mut alerts = alerts.into_iter().peekable();
        for (i, v) in visits.into_iter().enumerate() {
            let mut description = String::with_capacity(16 + v.url.len());
            description.push_str("Safari visit to ");
            description.push_str(&v.url);
            let mut rec = Record::new("safari_history", &artifact)
                .at(crate::time::from_apple_nonzero(v.time))
                .event("safari_visit", description);
            // Set in place, each once: this runs for every visit.
            rec.push_field("id", v.item);
            rec.push_field("url", v.url.clone());
            rec.push_field("visit_id", v.id);
            rec.push_observable(ObservableType::Url, v.url);
            if let Some(src) = v.source {
                rec.push_field("redirect_source", src);
            }
            if let Some(d) = v.dest {
                rec.push_field("redirect_destination", d);
            }
            if let Some((_, msg)) = alerts.next_if(|(at, _)| *at == i) {
                rec.push_alert(&crate::rules::SAFARI_HISTORY_FAST_REDIRECT, msg);
            }
            out.push(rec);
        }
    }
    Ok(out.finish())
}

/// A visit's light columns (the redirect heuristic needs every visit of a
/// database before the records are built).
struct Visit {
    item: i64,
    id: i64,
    url: String,
    time: f64,
    source: Option<i64>,
    dest: Option<i64>,
}

/// MVT's injection heuristic: an `http://` visit redirected in under a
/// second to another domain; the alert's message.
fn fast_redirect(v: &Visit, target: &Visit) -> Option<String> {
    let (h1, h2) = (host(&v.url), host(&target.url));
    let elapsed_ms = ((target.time - v.time) * 1000.0).round() as i64;
    (h1 != h2 && (0..1000).contains(&elapsed_ms)).then(|| {
        format!(
            "Redirect from {} to {} took less than a second ({elapsed_ms} ms): possible network injection",
            v.url, target.url
        )
    })
}

fn host(u: &str) -> String {
    url::Url::parse(u)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_string())
        })
        .unwrap_or_default()
}
