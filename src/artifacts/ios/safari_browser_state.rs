//! `safari_browser_state`: Safari's open tabs and their back/forward
//! history (`BrowserState.db`, default and per-profile).

use super::util::{col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "safari_browser_state",
    artifact: "*/Library/Safari/{,Profiles/*/}BrowserState.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut entries = b.find(None, "Library/Safari/BrowserState.db")?;
    entries.extend(b.find(None, "Library/Safari/Profiles/*/BrowserState.db")?);
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let sessions = crate::evidence::sqlite::has_table(&conn, "tab_sessions");
        let tab_cols = crate::evidence::sqlite::columns(&conn, "tabs");
        let sql = if sessions {
            "SELECT tabs.title AS title, tabs.url AS url, tabs.user_visible_url AS user_visible_url, tabs.last_viewed_time AS last_viewed_time, \
             tab_sessions.session_data AS session_data FROM tabs LEFT JOIN tab_sessions ON tabs.uuid = tab_sessions.tab_uuid ORDER BY tabs.id"
        } else if tab_cols.iter().any(|c| c == "session_data") {
            "SELECT title, url, user_visible_url, last_viewed_time, session_data FROM tabs ORDER BY id"
        } else {
            "SELECT title, url, user_visible_url, last_viewed_time, NULL AS session_data FROM tabs ORDER BY id"
        };
        let artifact = entry.logical_path();
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let url = col_text(r, "url").unwrap_or_default();
                let ts = col_real(r, "last_viewed_time").and_then(crate::time::from_apple_nonzero);
                let history = match r.get_ref("session_data") {
                    Ok(rusqlite::types::ValueRef::Blob(b)) => session_entries(b),
                    _ => Vec::new(),
                };
                let mut rec = Record::new("safari_browser_state", &artifact)
                    .at(ts)
                    .event("safari_tab", format!("Safari tab: {url}"))
                    .field("tab_title", js(col_text(r, "title")))
                    .field("tab_url", url.clone())
                    .field("tab_visible_url", js(col_text(r, "user_visible_url")))
                    .field("last_viewed_timestamp", jts(ts))
                    .field(
                        "session_data",
                        history
                            .iter()
                            .map(|(t, u)| serde_json::json!({"entry_title": t, "entry_url": u}))
                            .collect::<Vec<_>>(),
                    );
                rec.push_observable(ObservableType::Url, url);
                for (_, u) in history {
                    rec.push_observable(ObservableType::Url, u);
                }
                Ok(rec)
            })
            .map_err(err)?;
        for r in rows {
            out.push(r.map_err(err)?);
        }
    }
    Ok(out)
}

/// `session_data`: a 4-byte header, then a binary plist with
/// `SessionHistory.SessionHistoryEntries[]`.
fn session_entries(blob: &[u8]) -> Vec<(String, String)> {
    let Some(body) = blob.get(4..) else {
        return Vec::new();
    };
    let Ok(v) = crate::evidence::plist_safe::value_from_bytes(body) else {
        return Vec::new();
    };
    let entries = v
        .as_dictionary()
        .and_then(|d| d.get("SessionHistory"))
        .and_then(|v| v.as_dictionary())
        .and_then(|d| d.get("SessionHistoryEntries"))
        .and_then(|v| v.as_array());
    entries
        .map(|list| {
            list.iter()
                .filter_map(|e| e.as_dictionary())
                .map(|d| {
                    let s = |k: &str| {
                        d.get(k)
                            .and_then(|v| v.as_string())
                            .unwrap_or("")
                            .to_string()
                    };
                    (
                        s("SessionHistoryEntryOriginalURL"),
                        s("SessionHistoryEntryURL"),
                    )
                })
                .filter(|(_, u)| !u.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Builds a `session_data` blob (for the fixture generator).
pub fn encode_session(urls: &[&str]) -> Vec<u8> {
    let entries: Vec<plist::Value> = urls
        .iter()
        .map(|u| {
            let mut d = plist::Dictionary::new();
            d.insert("SessionHistoryEntryURL".into(), (*u).into());
            d.insert("SessionHistoryEntryOriginalURL".into(), (*u).into());
            d.insert(
                "SessionHistoryEntryData".into(),
                plist::Value::Data(vec![0; 8]),
            );
            plist::Value::Dictionary(d)
        })
        .collect();
    let mut sh = plist::Dictionary::new();
    sh.insert("SessionHistoryEntries".into(), plist::Value::Array(entries));
    sh.insert("SessionHistoryCurrentIndex".into(), 0.into());
    let mut top = plist::Dictionary::new();
    top.insert("SessionHistory".into(), plist::Value::Dictionary(sh));
    let mut out = vec![0, 0, 0, 1];
    let _ = plist::Value::Dictionary(top).to_writer_binary(&mut out);
    out
}
