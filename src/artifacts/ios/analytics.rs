//! `analytics` (MVT's `Analytics`, `mvt/ios/modules/fs/analytics.py`): the
//! security-framework analytics databases,
//! `private/var/Keychains/Analytics/*.db`. Each row of `hard_failures`,
//! `soft_failures` and (when present) `all_events` holds a Unix time and an
//! event as a property list; one record per distinct row (MVT's `UNION`).
//!
//! MVT checks every string of an event both as a process name and as a URL.
//! Here a string is an observable only where its key says what it is: keys
//! naming a process (`process`, `processName`, `client`, `executable`, …)
//! give process names, keys naming a bundle give app ids, keys naming a
//! host or domain give domains, and any `http(s)://` value is a URL. The
//! other strings (event names, error text, build numbers) stay fields.

use super::util::{col_real, jts, plist_json};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "analytics",
    artifact: "KeychainDomain/Analytics/*.db",
    run,
};

/// One analytics event.
pub struct Event {
    /// The database's file name (MVT's `artifact`).
    pub db: String,
    /// `Domain/path` of the database.
    pub artifact: String,
    pub time: Option<jiff::Timestamp>,
    pub data: plist::Dictionary,
}

const TABLES: [&str; 3] = ["hard_failures", "soft_failures", "all_events"];

/// Every event of every analytics database; `Missing` when there is none.
pub fn events(ctx: &Ctx<'_>) -> Result<Vec<Event>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(Some("KeychainDomain"), "Analytics/*.db")?
        .into_iter()
        .filter(|e| {
            e.flags != 2
                && e.relative_path
                    .strip_prefix("Analytics/")
                    .is_some_and(|name| !name.contains('/'))
        })
        .collect();
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let tables: Vec<&str> = TABLES
            .into_iter()
            .filter(|t| crate::evidence::sqlite::has_table(&conn, t))
            .collect();
        if tables.is_empty() {
            continue;
        }
        let sql = tables
            .iter()
            .map(|t| format!("SELECT timestamp, data FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ");
        let db = entry
            .relative_path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let artifact = entry.logical_path();
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let time = col_real(r, "timestamp")
                    .filter(|t| *t != 0.0)
                    .and_then(crate::time::from_unix_f64);
                let blob: Option<Vec<u8>> = match r.get_ref("data")? {
                    rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                        Some(b.to_vec())
                    }
                    _ => None,
                };
                Ok((time, blob))
            })
            .map_err(err)?;
        for row in rows {
            let (time, blob) = row.map_err(err)?;
            let data = blob
                .filter(|b| !b.is_empty())
                .and_then(|b| crate::evidence::plist_safe::value_from_bytes(&b).ok())
                .and_then(plist::Value::into_dictionary);
            if time.is_none() && data.is_none() {
                continue;
            }
            out.push(Event {
                db: db.clone(),
                artifact: artifact.clone(),
                time,
                data: data.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let mut out: Vec<Record> = events(ctx)?.into_iter().map(record).collect();
    out.sort_by_key(|r| r.timestamp);
    Ok(out)
}

fn record(e: Event) -> Record {
    let kind = ["SFAnalyticsEventType", "eventType", "eventtype", "topic"]
        .iter()
        .find_map(|k| e.data.get(k).and_then(|v| v.as_string()))
        .unwrap_or("event")
        .to_string();
    let mut r = Record::new(MODULE.name, &e.artifact)
        .at(e.time)
        .event(
            "analytics_event",
            format!("{} event {kind} in {}", MODULE.name, e.db),
        )
        .field("isodate", jts(e.time))
        .field("artifact", e.db.clone());
    for (k, v) in e.data.iter() {
        if k == "isodate" || k == "artifact" {
            continue;
        }
        r = r.field(k, plist_json(v));
    }
    for (k, v) in e.data.iter() {
        observe(&mut r, k, v);
    }
    r
}

/// What a key says its string value is.
fn kind_of_key(key: &str) -> Option<ObservableType> {
    let k = key.to_ascii_lowercase();
    if k.contains("process") || k.contains("procname") || k == "client" || k.contains("executable")
    {
        Some(ObservableType::Process)
    } else if k.contains("bundle") {
        Some(ObservableType::AppId)
    } else if k.contains("domain") || k.contains("host") {
        Some(ObservableType::Domain)
    } else {
        None
    }
}

/// Pushes the observables of one value under `key` (nested values keep
/// the key that holds them).
fn observe(r: &mut Record, key: &str, v: &plist::Value) {
    match v {
        plist::Value::Dictionary(d) => {
            for (k, v) in d.iter() {
                observe(r, k, v);
            }
        }
        plist::Value::Array(a) => {
            for v in a {
                observe(r, key, v);
            }
        }
        plist::Value::String(s) => observe_string(r, key, s),
        _ => {}
    }
}

/// Pushes what one string is, by its key (see [`kind_of_key`]); any
/// `http(s)://` value is a URL. Shared with `analytics_logs`.
pub(crate) fn observe_string(r: &mut Record, key: &str, s: &str) {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        r.push_observable(ObservableType::Url, s);
        return;
    }
    match kind_of_key(key) {
        Some(ObservableType::Domain) if s.contains('.') && !s.contains(char::is_whitespace) => {
            r.push_observable(ObservableType::Domain, s);
        }
        Some(ObservableType::Process) => {
            // A path names its executable by its last component.
            if s.starts_with('/') {
                r.push_observable(ObservableType::FilePath, s);
            }
            r.push_observable(ObservableType::Process, s.rsplit('/').next().unwrap_or(s));
        }
        Some(ObservableType::AppId) => r.push_observable(ObservableType::AppId, s),
        _ => {}
    }
}

/// The `build` of an event, as text (`18G82`).
pub fn build(e: &Event) -> Option<String> {
    match e.data.get("build")? {
        plist::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn only_typed_keys_give_observables() {
        let mut d = plist::Dictionary::new();
        d.insert("processName".into(), "/usr/libexec/bh".into());
        d.insert("bundleID".into(), "com.example.app".into());
        d.insert("errorDescription".into(), "bh failed".into());
        d.insert("topic".into(), "roleaccountd".into());
        d.insert("server".into(), "https://evil.example/x".into());
        d.insert("peerHost".into(), "evil.example".into());
        let mut inner = plist::Dictionary::new();
        inner.insert("client".into(), "mptbd".into());
        d.insert("attributes".into(), plist::Value::Dictionary(inner));
        let r = record(Event {
            db: "x.db".into(),
            artifact: "KeychainDomain/Analytics/x.db".into(),
            time: None,
            data: d,
        });
        let got: Vec<(ObservableType, &str)> = r
            .observables
            .iter()
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        for want in [
            (ObservableType::Process, "bh"),
            (ObservableType::FilePath, "/usr/libexec/bh"),
            (ObservableType::AppId, "com.example.app"),
            (ObservableType::Url, "https://evil.example/x"),
            (ObservableType::Domain, "evil.example"),
            (ObservableType::Process, "mptbd"),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
        assert!(
            !got.iter()
                .any(|(_, v)| *v == "roleaccountd" || *v == "bh failed")
        );
        assert_eq!(r.fields.get("topic"), Some(&Value::from("roleaccountd")));
    }
}
