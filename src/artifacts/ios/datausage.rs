//! `datausage` (and `netusage`, same schema): per-process network usage
//! from `DataUsage.sqlite` / `netusage.sqlite` (MVT's NetBase). Processes
//! are matched by name; MVT's two heuristics run without indicators:
//! a live-usage row whose process row was deleted ("manipulated"), and gaps
//! in the process primary keys ("missing process").

use std::collections::BTreeSet;

use rusqlite::Connection;
use serde_json::Value;

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "datausage",
    artifact: "WirelessDomain/Library/Databases/DataUsage.sqlite",
    run,
};

pub const DOMAIN: &str = "WirelessDomain";
pub const PATH: &str = "Library/Databases/DataUsage.sqlite";

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let (entry, conn) = ctx.backup.open_sqlite_at(DOMAIN, PATH)?;
    let artifact = entry.logical_path();
    read(&conn, "datausage", &artifact).map_err(ModuleError::sqlite(|| ctx.backup.describe(&entry)))
}

struct Row {
    first: Option<jiff::Timestamp>,
    last: Option<jiff::Timestamp>,
    proc_name: Option<String>,
    bundle_id: Option<String>,
    proc_id: Option<i64>,
    wifi_in: Option<f64>,
    wifi_out: Option<f64>,
    wwan_in: Option<f64>,
    wwan_out: Option<f64>,
    live_id: Option<i64>,
    live_proc_id: Option<i64>,
    live_ts: Option<jiff::Timestamp>,
}

const QUERY_WIFI: &str = "SELECT ZPROCESS.ZFIRSTTIMESTAMP AS ZFIRSTTIMESTAMP, ZPROCESS.ZTIMESTAMP AS ZTIMESTAMP, \
    ZPROCESS.ZPROCNAME AS ZPROCNAME, ZPROCESS.ZBUNDLENAME AS ZBUNDLENAME, ZPROCESS.Z_PK AS ZPROCESS_PK, \
    ZLIVEUSAGE.ZWIFIIN AS ZWIFIIN, ZLIVEUSAGE.ZWIFIOUT AS ZWIFIOUT, ZLIVEUSAGE.ZWWANIN AS ZWWANIN, \
    ZLIVEUSAGE.ZWWANOUT AS ZWWANOUT, ZLIVEUSAGE.Z_PK AS ZLIVEUSAGE_PK, ZLIVEUSAGE.ZHASPROCESS AS ZHASPROCESS, \
    ZLIVEUSAGE.ZTIMESTAMP AS ZL_TIMESTAMP \
    FROM ZLIVEUSAGE LEFT JOIN ZPROCESS ON ZLIVEUSAGE.ZHASPROCESS = ZPROCESS.Z_PK \
    UNION SELECT ZFIRSTTIMESTAMP, ZTIMESTAMP, ZPROCNAME, ZBUNDLENAME, Z_PK, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
    FROM ZPROCESS WHERE Z_PK NOT IN (SELECT ZHASPROCESS FROM ZLIVEUSAGE WHERE ZHASPROCESS IS NOT NULL)";

/// Reads a DataUsage/netusage database into records (shared with netusage).
pub fn read(conn: &Connection, module: &str, artifact: &str) -> rusqlite::Result<Vec<Record>> {
    let has_wifi = crate::evidence::sqlite::columns(conn, "ZLIVEUSAGE")
        .iter()
        .any(|c| c == "ZWIFIIN");
    let query = if has_wifi {
        QUERY_WIFI.to_string()
    } else {
        QUERY_WIFI.replace(
            "ZLIVEUSAGE.ZWIFIIN AS ZWIFIIN, ZLIVEUSAGE.ZWIFIOUT AS ZWIFIOUT, ",
            "NULL AS ZWIFIIN, NULL AS ZWIFIOUT, ",
        )
    };
    let mut stmt = conn.prepare(&query)?;
    let mut rows: Vec<Row> = stmt
        .query_map([], |r| {
            let first_raw = col_real(r, "ZFIRSTTIMESTAMP");
            let last_raw = col_real(r, "ZTIMESTAMP");
            // MVT converts the process times only when both are set.
            let (first, last) = match (first_raw, last_raw) {
                (Some(a), Some(b)) => (crate::time::from_apple(a), crate::time::from_apple(b)),
                _ => (None, None),
            };
            let live_ts = col_real(r, "ZL_TIMESTAMP").and_then(crate::time::from_apple);
            Ok(Row {
                first,
                last,
                proc_name: col_text(r, "ZPROCNAME"),
                bundle_id: col_text(r, "ZBUNDLENAME"),
                proc_id: col_int(r, "ZPROCESS_PK"),
                wifi_in: col_real(r, "ZWIFIIN"),
                wifi_out: col_real(r, "ZWIFIOUT"),
                wwan_in: col_real(r, "ZWWANIN"),
                wwan_out: col_real(r, "ZWWANOUT"),
                live_id: col_int(r, "ZLIVEUSAGE_PK"),
                live_proc_id: col_int(r, "ZHASPROCESS"),
                live_ts: live_ts.or(first),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.sort_by_key(|a| (a.live_ts, a.proc_id, a.live_id));

    let mut out = Vec::with_capacity(rows.len() + 4);
    for row in &rows {
        out.push(record(module, artifact, row));
    }
    out.extend(missing_processes(module, artifact, &rows));
    out.sort_by(|a, b| {
        let key = |r: &Record| {
            (
                r.fields
                    .get("first_isodate")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                r.fields.get("proc_id").and_then(Value::as_i64),
                r.fields.get("live_id").and_then(Value::as_i64),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(out)
}

fn record(module: &str, artifact: &str, row: &Row) -> Record {
    let manipulated = row.live_id.is_some() && row.proc_id.is_none();
    let proc_name = if manipulated {
        Some("MANIPULATED [process record deleted]".to_string())
    } else {
        row.proc_name.clone()
    };
    let (first, last) = if manipulated {
        (row.live_ts, row.live_ts)
    } else {
        (row.first, row.last)
    };
    let name = proc_name.clone().unwrap_or_default();
    let mut r = Record::new(module, artifact)
        .at(row.live_ts)
        .event(
            "live_usage",
            format!(
                "{name} (Bundle ID: {}, ID: {}) WWAN IN: {}, WWAN OUT: {}",
                row.bundle_id.as_deref().unwrap_or(""),
                row.proc_id
                    .or(row.live_proc_id)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                row.wwan_in.unwrap_or(0.0),
                row.wwan_out.unwrap_or(0.0)
            ),
        )
        .field("first_isodate", jts(first))
        .field("isodate", jts(last))
        .field("proc_name", js(proc_name))
        .field("bundle_id", js(row.bundle_id.clone()))
        .field(
            "proc_id",
            row.proc_id.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "wifi_in",
            row.wifi_in.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "wifi_out",
            row.wifi_out.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "wwan_in",
            row.wwan_in.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "wwan_out",
            row.wwan_out.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "live_id",
            row.live_id.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "live_proc_id",
            row.live_proc_id.map(Value::from).unwrap_or(Value::Null),
        )
        .field("live_isodate", jts(row.live_ts));
    if manipulated {
        r = r.alert(
            &crate::rules::DATAUSAGE_MANIPULATED_PROCESS,
            format!(
                "Found manipulated process entry {}: the usage row on {} points to a process record that was deleted",
                row.live_proc_id.map(|v| v.to_string()).unwrap_or_default(),
                row.live_ts.map(|t| t.to_string()).unwrap_or_default()
            ),
        );
    } else if let Some(full) = &row.proc_name {
        // ZPROCNAME is "<process>/<bundle id>" (the process part truncated to
        // 16 characters by iOS); both parts are process names to check.
        r.push_observable(ObservableType::Process, full.clone());
        for part in full.split('/') {
            r.push_observable(ObservableType::Process, part.to_string());
        }
    }
    if let Some(b) = &row.bundle_id {
        r.push_observable(ObservableType::AppId, b.clone());
    }
    r
}

/// MVT's `find_deleted`: every id missing between the smallest and largest
/// process primary key is a process record that was removed.
fn missing_processes(module: &str, artifact: &str, rows: &[Row]) -> Vec<Record> {
    let ids: BTreeSet<i64> = rows.iter().filter_map(|r| r.proc_id).collect();
    let (Some(&min), Some(&max)) = (ids.iter().next(), ids.iter().next_back()) else {
        return Vec::new();
    };
    if max - min > 1_000_000 {
        return Vec::new(); // a corrupt key, not a million deletions
    }
    let mut out = Vec::new();
    for id in min..max {
        if ids.contains(&id) {
            continue;
        }
        let prev = rows
            .iter()
            .filter(|r| r.proc_id.is_some_and(|p| p < id))
            .max_by_key(|r| r.proc_id);
        let prev_name = prev.and_then(|p| p.proc_name.clone()).unwrap_or_default();
        let prev_first = prev.and_then(|p| p.first);
        out.push(
            Record::new(module, artifact)
                .at(prev_first)
                .event(
                    "missing_process",
                    format!("Missing process {id} (follows {prev_name})"),
                )
                .field("first_isodate", jts(prev_first))
                .field("isodate", jts(prev.and_then(|p| p.last)))
                .field("proc_name", format!("MISSING [follows {prev_name}]"))
                .field("bundle_id", Value::Null)
                .field("proc_id", id)
                .field("live_proc_id", id)
                .field("live_isodate", jts(prev_first))
                .alert(
                    &crate::rules::DATAUSAGE_MISSING_PROCESS,
                    format!(
                        "Missing process {id}. Previous process at \"{}\" ({prev_name})",
                        prev_first.map(|t| t.to_string()).unwrap_or_default()
                    ),
                ),
        );
    }
    out
}
