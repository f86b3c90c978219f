//! androidqf `browser_history/<package>/<profile>/History`: the Chromium
//! history databases (Chrome, Brave, Edge, Samsung Internet) current
//! androidqf pulls with existing root access (`-browser-history yes`),
//! listed in `browser_history/manifest.json`. One record per visit, its
//! URL an observable. MVT does not read them (its removed `check-adb` read
//! Chrome's). In a folder, a `History-wal` beside the database is applied
//! (on a private copy); from a zip the database is read as it is.

use rusqlite::Connection;

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::evidence::sqlite;
use crate::evidence::zip_source::{Member, Source};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_browser_history",
    artifact: "browser_history/*/*/History",
    read: AqfRead::Files(run),
};

/// `browser_history/<package>/<profile>/History` → the package.
fn history_package(name: &str) -> Option<&str> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["browser_history", package, profile, "History"]
            if !package.is_empty() && !profile.is_empty() =>
        {
            Some(package)
        }
        _ => None,
    }
}

fn open(src: &Source, m: &Member) -> Result<Connection, String> {
    if let Some(p) = src.disk_path(m) {
        if let Some(with_wal) = sqlite::open_with_wal(p) {
            return with_wal;
        }
        return sqlite::open_immutable(p).map_err(|e| e.to_string());
    }
    let bytes = src.read(m).map_err(|e| e.to_string())?;
    sqlite::open_bytes(&bytes).map_err(|e| e.to_string())
}

fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let src = q.src;
    let dbs: Vec<(&Member, &str)> = src
        .members
        .iter()
        .filter_map(|m| Some((m, history_package(&m.name)?)))
        .collect();
    if dbs.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (m, package) in dbs {
        match open(src, m).and_then(|c| visits(&c, &m.name, package).map_err(|e| e.to_string())) {
            Ok(r) => out.extend(r),
            Err(e) => errors.push(format!("{}: {e}", m.name)),
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(out)
}

/// Every visit (`urls` joined with `visits`), in visit order.
pub fn visits(conn: &Connection, artifact: &str, package: &str) -> rusqlite::Result<Vec<Record>> {
    let mut stmt = conn.prepare(
        "SELECT urls.id, urls.url, urls.title, visits.id, visits.visit_time, visits.from_visit \
         FROM urls JOIN visits ON visits.url = urls.id ORDER BY visits.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let url: String = r.get::<_, Option<String>>(1)?.unwrap_or_default();
        let title: String = r.get::<_, Option<String>>(2)?.unwrap_or_default();
        let ts = r
            .get::<_, Option<i64>>(4)?
            .and_then(crate::time::from_webkit);
        Ok(Record::new(MODULE.name, artifact)
            .at(ts)
            .event("browser_visit", format!("{package} visit to {url}"))
            .field("browser_package", package)
            .field("url_id", r.get::<_, Option<i64>>(0)?.unwrap_or(0))
            .field("url", url.as_str())
            .field("title", title)
            .field("visit_id", r.get::<_, Option<i64>>(3)?.unwrap_or(0))
            .field("redirect_source", r.get::<_, Option<i64>>(5)?.unwrap_or(0))
            .observe(ObservableType::Url, url))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_paths() {
        assert_eq!(
            history_package("browser_history/com.android.chrome/Default/History"),
            Some("com.android.chrome")
        );
        for n in [
            "browser_history/manifest.json",
            "browser_history/com.android.chrome/Default/History-wal",
            "browser_history//Default/History",
            "x/browser_history/a/b/History",
        ] {
            assert_eq!(history_package(n), None, "{n}");
        }
    }

    #[test]
    fn visits_of_a_chromium_history() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE urls(id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR);
             CREATE TABLE visits(id INTEGER PRIMARY KEY, url INTEGER, visit_time INTEGER, from_visit INTEGER);
             INSERT INTO urls VALUES (1, 'https://example.org/', NULL), (2, 'https://a.example/x', 'A');
             INSERT INTO visits VALUES (1, 1, 13380000000000000, 0), (2, 2, NULL, 1), (3, 1, 13380000001000000, 2);",
        )
        .unwrap();
        let r = visits(&conn, "h", "com.android.chrome").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].fields["url"], "https://a.example/x");
        assert!(r[1].timestamp.is_none());
        assert_eq!(
            r[0].timestamp.unwrap().to_string(),
            "2024-12-30T02:40:00Z",
            "Chromium's microseconds since 1601"
        );
        assert_eq!(r[0].observables[0].value, "https://example.org/");
        assert_eq!(r[2].fields["redirect_source"], 2);
    }
}
