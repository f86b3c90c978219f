//! `cache_files` (MVT's `CacheFiles`, `mvt/ios/modules/fs/cache_files.py`):
//! the URLs of the HTTP responses CFNetwork cached, from every file named
//! `Cache.db` in the dump (apps keep one in `Library/Caches/<bundle id>/`).
//! Each row of `cfurl_cache_response` is a record whose `request_key` is a
//! URL; its `time_stamp` is SQLite's `CURRENT_TIMESTAMP`, UTC. A `Cache.db`
//! without that table is skipped, as MVT does.

use super::util::{col_int, col_text, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "cache_files",
    artifact: "*/*Cache.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(None, "*Cache.db")?
        .into_iter()
        .filter(|e| e.flags != 2 && e.relative_path.rsplit('/').next() == Some("Cache.db"))
        .collect();
    if entries.is_empty() {
        return Err(ModuleError::Missing);
    }
    // A dump holds a Cache.db per app: one that cannot be read is a record
    // saying so, not the end of the module (unless none can be read).
    let mut out = Vec::new();
    let mut first_error = None;
    let mut read_any = false;
    for entry in entries {
        let read = b.open_sqlite(&entry).and_then(|conn| {
            read_one(&conn, &entry.logical_path())
                .map_err(ModuleError::sqlite(|| b.describe(&entry)))
        });
        match read {
            Ok(records) => {
                read_any = true;
                out.extend(records);
            }
            Err(ModuleError::Missing) => {}
            Err(e) => {
                out.push(
                    Record::new(MODULE.name, &entry.logical_path())
                        .event("cache_file_unreadable", e.to_string())
                        .field("cache_file", entry.logical_path()),
                );
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if !read_any => Err(e),
        _ if !read_any && out.is_empty() => Err(ModuleError::Missing),
        _ => Ok(out),
    }
}

/// The responses of one `Cache.db` (none without `cfurl_cache_response`).
fn read_one(conn: &rusqlite::Connection, artifact: &str) -> rusqlite::Result<Vec<Record>> {
    if !crate::evidence::sqlite::has_table(conn, "cfurl_cache_response") {
        return Ok(Vec::new());
    }
    let artifact = artifact.to_string();
    let mut stmt = conn.prepare(
        "SELECT entry_ID, version, hash_value, storage_policy, request_key, time_stamp \
         FROM cfurl_cache_response ORDER BY entry_ID",
    )?;
    let rows = stmt.query_map([], |r| {
        let url = col_text(r, "request_key").unwrap_or_default();
        let stamp = col_text(r, "time_stamp");
        let ts = stamp.as_deref().and_then(crate::time::parse_iso);
        let mut rec = Record::new(MODULE.name, &artifact)
            .at(ts)
            .event(
                "cache_response",
                format!("{artifact} recorded visit to URL {url}"),
            )
            .field("cache_file", artifact.clone())
            .field("entry_id", col_int(r, "entry_ID"))
            .field("version", col_int(r, "version"))
            .field("hash_value", col_int(r, "hash_value"))
            .field("storage_policy", col_int(r, "storage_policy"))
            .field("url", url.clone())
            .field("isodate", jts(ts));
        rec.push_observable(ObservableType::Url, url);
        Ok(rec)
    })?;
    rows.collect()
}
