//! `tcc`: privacy permissions granted to apps (`TCC.db` `access`), schema
//! versions 1–3 (MVT's three queries: v1 `allowed, prompt_count`; v2 adds
//! `last_modified`; v3, iOS 14+, `auth_value, auth_reason`; iOS 17+ extra
//! columns are ignored). Clients are process names or bundle ids (or paths).
//! [`grants`] reads the table for this module and for sysdiagnose's `tcc`.

use rusqlite::Connection;
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

/// How a grant says whether it is allowed, by schema version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// v3 (iOS 14+): `auth_value`, `auth_reason`.
    V3 {
        value: Option<i64>,
        reason: Option<i64>,
    },
    /// v1/v2: `allowed` (0/1), `prompt_count`.
    Allowed {
        allowed: Option<i64>,
        prompt_count: Option<i64>,
    },
    /// Neither column.
    Unknown,
}

/// One row of a TCC.db `access` table. Absent columns, NULLs and values
/// of another type that do not read as the expected one are `None` (or an
/// empty string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub service: String,
    /// A bundle id or a path.
    pub client: String,
    /// 0 bundle id, 1 absolute path.
    pub client_type: Option<i64>,
    pub auth: Auth,
    /// Unix seconds (v2+).
    pub last_modified: Option<i64>,
}

/// The grants of a TCC.db (`access` table, in rowid order), whichever
/// schema version: the reader both this module and sysdiagnose's `tcc`
/// use. `what` names the database in errors ("WHAT: no access table",
/// "WHAT: cause").
pub fn grants<W: std::fmt::Display>(
    conn: &Connection,
    what: impl Fn() -> W + Copy,
) -> Result<Vec<Grant>, ModuleError> {
    let cols = crate::evidence::sqlite::columns(conn, "access");
    if cols.is_empty() {
        return Err(ModuleError::Failed(format!("{}: no access table", what())));
    }
    let has = |c: &str| cols.iter().any(|x| x == c);
    let v3 = has("auth_value");
    let allowed = !v3 && has("allowed");
    let mut sql = String::from("SELECT service, client");
    let optional = [
        ("client_type", true),
        ("auth_value", v3),
        ("auth_reason", v3),
        ("allowed", allowed),
        ("prompt_count", allowed),
        ("last_modified", true),
    ];
    for (col, wanted) in optional {
        if wanted && has(col) {
            sql.push_str(", ");
            sql.push_str(col);
        }
    }
    sql.push_str(" FROM access ORDER BY rowid");
    let err = ModuleError::sqlite(what);
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let auth = if v3 {
                Auth::V3 {
                    value: col_int(r, "auth_value"),
                    reason: col_int(r, "auth_reason"),
                }
            } else if allowed {
                Auth::Allowed {
                    allowed: col_int(r, "allowed"),
                    prompt_count: col_int(r, "prompt_count"),
                }
            } else {
                Auth::Unknown
            };
            Ok(Grant {
                service: col_text(r, "service").unwrap_or_default(),
                client: col_text(r, "client").unwrap_or_default(),
                client_type: col_int(r, "client_type"),
                auth,
                last_modified: col_int(r, "last_modified"),
            })
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at("HomeDomain", "Library/TCC/TCC.db")?;
    let artifact = entry.logical_path();
    Ok(grants(&conn, || b.describe(&entry))?
        .into_iter()
        .map(|g| record(g, &artifact))
        .collect())
}

/// This module's record of a grant: named auth values and reasons, a
/// process observable for every client. (sysdiagnose's `tcc` shapes the
/// same grants its own way: `apps::tcc`.)
fn record(g: Grant, artifact: &str) -> Record {
    let client_type = g.client_type.unwrap_or(0);
    let ts = g.last_modified.and_then(crate::time::from_unix);
    let (auth, reason, prompt_count) = match g.auth {
        Auth::V3 { value, reason } => (
            value.map(auth_value).map(str::to_string),
            reason.map(auth_reason).map(str::to_string),
            None,
        ),
        Auth::Allowed {
            allowed,
            prompt_count,
        } => (
            allowed.map(|v| if v == 0 { "denied" } else { "allowed" }.to_string()),
            None,
            prompt_count,
        ),
        Auth::Unknown => (None, None, None),
    };
    let Grant {
        service, client, ..
    } = g;
    let mut rec = Record::new("tcc", artifact)
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
            prompt_count.map(Value::from).unwrap_or(Value::Null),
        )
        .field(
            "last_modified",
            ts.map(|t| Value::String(t.to_string()))
                .unwrap_or(Value::Null),
        );
    rec.push_observable(
        ObservableType::Process,
        crate::strings::base_name(&client).to_string(),
    );
    if client_type == 0 {
        rec.push_observable(ObservableType::AppId, client);
    } else {
        rec.push_observable(ObservableType::FilePath, client);
    }
    rec
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
