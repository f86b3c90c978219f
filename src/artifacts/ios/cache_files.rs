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
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        if !crate::evidence::sqlite::has_table(&conn, "cfurl_cache_response") {
            continue;
        }
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let artifact = entry.logical_path();
        let mut stmt = conn
            .prepare(
                "SELECT entry_ID, version, hash_value, storage_policy, request_key, time_stamp \
                 FROM cfurl_cache_response ORDER BY entry_ID",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
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
            })
            .map_err(err)?;
        for r in rows {
            out.push(r.map_err(err)?);
        }
    }
    Ok(out)
}
