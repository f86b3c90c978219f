//! `safari_history`: Safari visits (`History.db`, default and per-profile).
//! Visited URLs are matched; MVT's injection heuristic flags an `http://`
//! visit redirected in under a second to another domain.

use super::Ctx;
use super::util::{col_int, col_real, col_text};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record, Severity};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut entries = b.find(None, "Library/Safari/History.db")?;
    entries.extend(b.find(None, "Library/Safari/Profiles/*/History.db")?);
    let mut out = Vec::new();
    let mut any = false;
    for entry in entries {
        let conn = match b.open_sqlite(&entry) {
            Ok(c) => c,
            Err(ModuleError::Missing) => continue,
            Err(e) => return Err(e),
        };
        any = true;
        let err = |e: rusqlite::Error| ModuleError::Failed(format!("{}: {e}", b.describe(&entry)));
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
        struct Visit {
            id: i64,
            url: String,
            time: f64,
            dest: Option<i64>,
        }
        let mut visits = Vec::new();
        let mut records = Vec::new();
        let rows = stmt
            .query_map([], |r| {
                let url = col_text(r, "url").unwrap_or_default();
                let t = col_real(r, "visit_time").unwrap_or(0.0);
                let ts = crate::time::from_apple_nonzero(t);
                let visit_id = col_int(r, "visit_id").unwrap_or(0);
                let dest = col_int(r, "redirect_destination");
                let mut rec = Record::new("safari_history", &artifact)
                    .at(ts)
                    .event("safari_visit", format!("Safari visit to {url}"))
                    .field("id", col_int(r, "id").unwrap_or(0))
                    .field("url", url.clone())
                    .field("visit_id", visit_id)
                    .observe(ObservableType::Url, url.clone());
                if let Some(src) = col_int(r, "redirect_source") {
                    rec = rec.field("redirect_source", src);
                }
                if let Some(d) = dest {
                    rec = rec.field("redirect_destination", d);
                }
                Ok((
                    rec,
                    Visit {
                        id: visit_id,
                        url,
                        time: t,
                        dest,
                    },
                ))
            })
            .map_err(err)?;
        for r in rows {
            let (rec, v) = r.map_err(err)?;
            records.push(rec);
            visits.push(v);
        }
        // Redirect heuristic (same DB only: visit ids are per database).
        let index: std::collections::HashMap<i64, usize> =
            visits.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        for (i, v) in visits.iter().enumerate() {
            let Some(d) = v.dest.and_then(|d| index.get(&d)) else {
                continue;
            };
            let target = &visits[*d];
            if !v.url.starts_with("http://") {
                continue;
            }
            let (h1, h2) = (host(&v.url), host(&target.url));
            let elapsed_ms = ((target.time - v.time) * 1000.0).round() as i64;
            if h1 != h2 && (0..1000).contains(&elapsed_ms) {
                let msg = format!(
                    "Redirect from {} to {} took less than a second ({elapsed_ms} ms): possible network injection",
                    v.url, target.url
                );
                records[i].push_alert(
                    "safari_history.fast_redirect",
                    crate::model::Level::Warning,
                    Severity::Medium,
                    msg,
                );
            }
        }
        out.extend(records);
    }
    if !any {
        return Err(ModuleError::Missing);
    }
    Ok(out)
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
