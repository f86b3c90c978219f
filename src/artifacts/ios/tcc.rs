//! `tcc`: privacy permissions granted to apps (`TCC.db` `access`), schema
//! versions 1–3 (MVT's three queries: v1 `allowed, prompt_count`; v2 adds
//! `last_modified`; v3, iOS 14+, `auth_value, auth_reason`; iOS 17+ extra
//! columns are ignored). Clients are process names or bundle ids (or paths).

use serde_json::Value;

use super::util::{col_int, col_text, js};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "tcc",
    artifact: "HomeDomain/Library/TCC/TCC.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at("HomeDomain", "Library/TCC/TCC.db")?;
    let err = |e: rusqlite::Error| ModuleError::Failed(format!("{}: {e}", b.describe(&entry)));
    let cols = crate::evidence::sqlite::columns(&conn, "access");
    if cols.is_empty() {
        return Err(ModuleError::Failed(format!(
            "{}: no access table",
            b.describe(&entry)
        )));
    }
    let has = |c: &str| cols.iter().any(|x| x == c);
    let v3 = has("auth_value");
    let mut sql = String::from("SELECT service, client, client_type");
    if v3 {
        sql.push_str(", auth_value, auth_reason");
    } else if has("allowed") {
        sql.push_str(", allowed, prompt_count");
    }
    if has("last_modified") {
        sql.push_str(", last_modified");
    }
    sql.push_str(" FROM access ORDER BY rowid");
    let artifact = entry.logical_path();
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let service = col_text(r, "service").unwrap_or_default();
            let client = col_text(r, "client").unwrap_or_default();
            let client_type = col_int(r, "client_type").unwrap_or(0);
            let ts = col_int(r, "last_modified").and_then(crate::time::from_unix);
            let (auth, reason) = if v3 {
                (
                    col_int(r, "auth_value").map(auth_value).map(str::to_string),
                    col_int(r, "auth_reason")
                        .map(auth_reason)
                        .map(str::to_string),
                )
            } else {
                (
                    col_int(r, "allowed")
                        .map(|v| if v == 0 { "denied" } else { "allowed" }.to_string()),
                    None,
                )
            };
            let mut rec = Record::new("tcc", &artifact)
                .at(ts)
                .event(
                    "tcc_permission",
                    format!(
                        "Recorded permission for service {service} from {client}: {}",
                        auth.as_deref().unwrap_or("unknown")
                    ),
                )
                .field("service", service.clone())
                .field("client", client.clone())
                .field(
                    "client_type",
                    if client_type == 0 {
                        "bundle_id"
                    } else {
                        "absolute_path"
                    },
                )
                .field("auth_value", js(auth))
                .field("auth_reason", js(reason))
                .field(
                    "prompt_count",
                    col_int(r, "prompt_count")
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                )
                .field(
                    "last_modified",
                    ts.map(|t| Value::String(t.to_string()))
                        .unwrap_or(Value::Null),
                );
            rec.push_observable(
                ObservableType::Process,
                super::util::basename(&client).to_string(),
            );
            if client_type == 0 {
                rec.push_observable(ObservableType::AppId, client);
            } else {
                rec.push_observable(ObservableType::FilePath, client);
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

fn auth_value(v: i64) -> &'static str {
    match v {
        0 => "denied",
        1 => "unknown",
        2 => "allowed",
        3 => "limited",
        _ => "other",
    }
}

fn auth_reason(v: i64) -> &'static str {
    match v {
        1 => "error",
        2 => "user_consent",
        3 => "user_set",
        4 => "system_set",
        5 => "service_policy",
        6 => "mdm_policy",
        7 => "override_policy",
        8 => "missing_usage_string",
        9 => "prompt_timeout",
        10 => "preflight_unknown",
        11 => "entitled",
        12 => "app_type_policy",
        _ => "other",
    }
}
