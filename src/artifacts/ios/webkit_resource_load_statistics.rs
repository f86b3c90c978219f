//! `webkit_resource_load_statistics`: domains WebKit observed, per app
//! (`observations.db` in any domain).

use super::util::{col_int, col_real, col_text, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "webkit_resource_load_statistics",
    artifact: "*/{Library/WebKit/WebsiteData/ResourceLoadStatistics,SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData}/observations.db",
    run,
};

const PATH: &str = "Library/WebKit/WebsiteData/ResourceLoadStatistics/observations.db";

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut entries = b.find(None, PATH)?;
    // The in-app browser's store (MVT's second check-fs path).
    entries.extend(b.find(
        None,
        "SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData/observations.db",
    )?);
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let err = ModuleError::sqlite(|| b.describe(&entry));
        let cols = crate::evidence::sqlite::columns(&conn, "ObservedDomains");
        let opt = |c: &str| {
            if cols.iter().any(|x| x == c) {
                c.to_string()
            } else {
                format!("NULL AS {c}")
            }
        };
        let sql = format!(
            "SELECT domainID, registrableDomain, lastSeen, hadUserInteraction, {}, {} FROM ObservedDomains ORDER BY domainID",
            opt("mostRecentUserInteractionTime"),
            opt("mostRecentWebPushInteractionTime")
        );
        let artifact = entry.logical_path();
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let domain = col_text(r, "registrableDomain").unwrap_or_default();
                let seen = col_real(r, "lastSeen")
                    .filter(|v| *v >= 0.0)
                    .and_then(crate::time::from_unix_f64);
                let interaction = col_real(r, "mostRecentUserInteractionTime")
                    .filter(|v| *v > 0.0)
                    .and_then(crate::time::from_unix_f64);
                Ok(Record::new("webkit_resource_load_statistics", &artifact)
                    .at(seen)
                    .event(
                        "webkit_observed_domain",
                        format!("WebKit observed domain {domain} in {}", entry.domain),
                    )
                    .field("domain_id", col_int(r, "domainID").unwrap_or(0))
                    .field("registrable_domain", domain.clone())
                    .field("app_domain", entry.domain.clone())
                    .field("last_seen", jts(seen))
                    .field(
                        "had_user_interaction",
                        col_int(r, "hadUserInteraction").unwrap_or(0) != 0,
                    )
                    .field("most_recent_user_interaction_time", jts(interaction))
                    .observe(ObservableType::Domain, domain))
            })
            .map_err(err)?;
        for r in rows {
            out.push(r.map_err(err)?);
        }
    }
    Ok(out)
}
