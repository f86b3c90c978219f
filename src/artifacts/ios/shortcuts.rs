//! `shortcuts`: Shortcuts automations (`Shortcuts.sqlite`); URLs in the
//! actions' parameters are matched.

use super::util::{col_int, col_real, col_text, js, jts, links};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "shortcuts",
    artifact: "HomeDomain/Library/Shortcuts/Shortcuts.sqlite",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at("HomeDomain", "Library/Shortcuts/Shortcuts.sqlite")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT ZSHORTCUT.Z_PK AS id, ZSHORTCUT.ZNAME AS name, ZSHORTCUT.ZCREATIONDATE AS created, \
             ZSHORTCUT.ZMODIFICATIONDATE AS modified, ZSHORTCUT.ZACTIONSDESCRIPTION AS description, \
             ZSHORTCUTACTIONS.ZDATA AS data FROM ZSHORTCUT LEFT JOIN ZSHORTCUTACTIONS \
             ON ZSHORTCUTACTIONS.ZSHORTCUT = ZSHORTCUT.Z_PK ORDER BY ZSHORTCUT.Z_PK",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let name = col_text(r, "name").unwrap_or_default();
            let created = col_real(r, "created").and_then(crate::time::from_apple_nonzero);
            let mut actions = Vec::new();
            let mut urls = Vec::new();
            if let Ok(rusqlite::types::ValueRef::Blob(data)) = r.get_ref("data")
                && let Ok(plist::Value::Array(list)) =
                    crate::evidence::plist_safe::value_from_bytes(data)
            {
                for a in list.iter().filter_map(|a| a.as_dictionary()) {
                    if let Some(id) = a
                        .get("WFWorkflowActionIdentifier")
                        .and_then(|v| v.as_string())
                    {
                        actions.push(id.to_string());
                    }
                    if let Some(p) = a.get("WFWorkflowActionParameters") {
                        collect_urls(p, &mut urls);
                    }
                }
            }
            let mut rec = Record::new("shortcuts", &artifact)
                .at(created)
                .event("shortcut_created", format!("Shortcut '{name}' created"))
                .field("shortcut_id", col_int(r, "id").unwrap_or(0))
                .field("shortcut_name", name)
                .field("description", js(col_text(r, "description")))
                .field("created_date", jts(created))
                .field(
                    "modified_date",
                    jts(col_real(r, "modified").and_then(crate::time::from_apple_nonzero)),
                )
                .field("action_identifiers", actions)
                .field("action_urls", urls.clone());
            for u in urls {
                rec.push_observable(ObservableType::Url, u);
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

fn collect_urls(v: &plist::Value, out: &mut Vec<String>) {
    match v {
        plist::Value::String(s) => {
            for l in links(s) {
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        plist::Value::Array(a) => a.iter().for_each(|v| collect_urls(v, out)),
        plist::Value::Dictionary(d) => d.values().for_each(|v| collect_urls(v, out)),
        _ => {}
    }
}
