//! App ids: `logs/Accessibility/TCC.db` (privacy grants), the App Store
//! databases under `logs/appinstallation/` and `logs/itunesstored/`, and the
//! mobile installation and container manager logs.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::artifacts::ModuleError;
use crate::evidence::sqlite;
use crate::model::{ObservableType, Record};

/// `logs/Accessibility/TCC.db`, table `access`: one record per grant.
pub fn tcc(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let conn =
        sqlite::open_bytes(data).map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    if !sqlite::has_table(&conn, "access") {
        return Err(ModuleError::Failed(format!("{member}: no access table")));
    }
    let cols = sqlite::columns(&conn, "access");
    let col = |c: &str| {
        if cols.iter().any(|x| x == c) {
            c.to_string()
        } else {
            "NULL".into()
        }
    };
    let sql = format!(
        "SELECT service, client, {}, {}, {} FROM access",
        col("client_type"),
        col("auth_value"),
        col("last_modified")
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, Option<i64>>(4)?,
            ))
        })
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let mut out = Vec::new();
    for row in rows {
        let (service, client, client_type, auth, modified) =
            row.map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
        let client = client.unwrap_or_default();
        let service = service.unwrap_or_default();
        let mut r = Record::new(module, member)
            .at(modified.and_then(crate::time::from_unix))
            .event("tcc_grant", format!("{client} → {service}"))
            .field("member", member)
            .field("service", service.as_str())
            .field("client", client.as_str())
            .field("client_type", client_type)
            .field("auth_value", auth);
        if client.starts_with('/') || client_type == Some(1) {
            r.push_observable(ObservableType::FilePath, client.as_str());
            r.push_observable(
                ObservableType::Process,
                client.rsplit('/').next().unwrap_or(&client),
            );
        } else {
            r.push_observable(ObservableType::AppId, client.as_str());
        }
        out.push(r);
    }
    Ok(out)
}

/// App Store databases: every column whose name says bundle id, in every table.
pub fn app_store(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let conn =
        sqlite::open_bytes(data).map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for t in tables {
        for c in sqlite::columns(&conn, &t) {
            let lc = c.to_ascii_lowercase().replace('_', "");
            if !(lc.contains("bundleid") || lc == "bundleidentifier") {
                continue;
            }
            let sql = format!(
                "SELECT DISTINCT \"{c}\" FROM \"{t}\"",
                c = c.replace('"', "\"\""),
                t = t.replace('"', "\"\"")
            );
            let Ok(mut stmt) = conn.prepare(&sql) else {
                continue;
            };
            let Ok(values) = stmt
                .query_map([], |r| r.get::<_, Option<String>>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            else {
                continue;
            };
            for v in values.into_iter().flatten() {
                if seen.insert(v.clone()) {
                    out.push(
                        Record::new(module, member)
                            .event("app", format!("app {v} in {t}"))
                            .field("member", member)
                            .field("table", t.as_str())
                            .field("bundle_id", v.as_str())
                            .observe(ObservableType::AppId, v),
                    );
                }
            }
        }
    }
    Ok(out)
}

static APP_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\bID=|\bidentifier[:=]?\s+|\bbundle ?ID[:=]?\s+|\bbundleIdentifier[:=]?\s+|\bIdentity:\s+)\[?([A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)")
        .expect("static regex")
});

/// Mobile installation and container manager logs: each app id mentioned,
/// once per member, at the line that first names it.
pub fn install_log(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        for cap in APP_ID.captures_iter(line) {
            let id = &cap[1];
            if seen.insert(id.to_string()) {
                out.push(
                    Record::new(module, member)
                        .event("app", format!("app {id} mentioned"))
                        .field("member", member)
                        .field("line", i + 1)
                        .field("bundle_id", id)
                        .field("text", line.trim())
                        .observe(ObservableType::AppId, id),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Vec<u8> {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(sql).unwrap();
        c.serialize("main").unwrap().to_vec()
    }

    #[test]
    fn tcc_rows() {
        let bytes = db("CREATE TABLE access (service TEXT, client TEXT, client_type INTEGER, auth_value INTEGER, last_modified INTEGER);
            INSERT INTO access VALUES ('kTCCServiceCamera','com.example.app',0,2,1700000000), ('kTCCServiceMicrophone','/private/var/tmp/hooker',1,2,1700000001);");
        let r = tcc("tcc", "logs/Accessibility/TCC.db", &bytes).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].observables[0].kind, ObservableType::AppId);
        assert_eq!(r[1].observables[0].kind, ObservableType::FilePath);
        assert!(tcc("tcc", "TCC.db", b"nope").is_err());
    }

    #[test]
    fn app_store_columns() {
        let bytes = db(
            "CREATE TABLE app_updates (pk INTEGER, bundle_id TEXT); INSERT INTO app_updates VALUES (1,'com.a.b'),(2,'com.a.b'),(3,'org.c.d');",
        );
        let r = app_store(
            "app_store",
            "logs/appinstallation/AppUpdates.sqlitedb",
            &bytes,
        )
        .unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn install_log_ids() {
        let log = "Wed May 24 14:08:13 2023 [135] <notice> (0x16f1db000) -[MIInstaller performInstallationWithError:]: Installing <MIInstallableBundle ID=com.example.app; Version=1.0>\n\
Wed May 24 14:08:14 2023 [135] <notice> (0x16f1db000) -[MIUninstaller]: Uninstalling identifier com.other.app\n";
        let r = install_log("mobile_installation", "m.log", log.as_bytes()).unwrap();
        let ids: Vec<&str> = r.iter().map(|r| r.observables[0].value.as_str()).collect();
        assert_eq!(ids, ["com.example.app", "com.other.app"]);
    }
}
