//! `calls`: call history (`CallHistory.storedata`).

use super::util::{col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "calls",
    artifact: "HomeDomain/Library/CallHistoryDB/CallHistory.storedata",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) =
        b.open_sqlite_at("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare("SELECT ZDATE, ZDURATION, ZLOCATION, ZADDRESS, ZSERVICE_PROVIDER FROM ZCALLRECORD ORDER BY Z_PK")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let ts = col_real(r, "ZDATE").and_then(crate::time::from_apple_nonzero);
            let number = col_text(r, "ZADDRESS").unwrap_or_default();
            let provider = col_text(r, "ZSERVICE_PROVIDER").unwrap_or_default();
            Ok(Record::new("calls", &artifact)
                .at(ts)
                .event("call", format!("Call with {number} via {provider}"))
                .field("isodate", jts(ts))
                .field("duration", col_real(r, "ZDURATION").unwrap_or(0.0))
                .field("location", js(col_text(r, "ZLOCATION")))
                .field("number", number)
                .field("provider", provider))
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
