//! `sms`: iMessage/SMS messages of `sms.db` (`message` joined to `handle`,
//! as MVT: messages without a handle are left out). Links in the text and
//! in `attributedBody` are matched; the body is swept as text. Apple's
//! threat notifications are a heuristic.

use super::util::{col_int, col_real, col_text, js, links};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "sms",
    artifact: "HomeDomain/Library/SMS/sms.db",
    run,
};

pub const DOMAIN: &str = "HomeDomain";
pub const PATH: &str = "Library/SMS/sms.db";

const THREAT_NOTIFICATIONS: [&str; 2] = [
    "ALERT: State-sponsored attackers may be targeting your iPhone",
    "ALERT: Apple detected a targeted mercenary spyware attack against your iPhone",
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(DOMAIN, PATH)?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let cols = crate::evidence::sqlite::columns(&conn, "message");
    let opt = |c: &str| {
        if cols.iter().any(|x| x == c) {
            format!("message.{c} AS {c}")
        } else {
            format!("NULL AS {c}")
        }
    };
    let sql = format!(
        "SELECT message.ROWID AS id, message.guid AS guid, message.text AS text, {}, {}, {}, {}, {}, {}, \
         handle.id AS phone_number FROM message, handle WHERE handle.rowid = message.handle_id ORDER BY message.ROWID",
        opt("attributedBody"),
        opt("service"),
        opt("date"),
        opt("date_read"),
        opt("is_from_me"),
        opt("account"),
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut out = ctx.opts.batches("sms");
    let rows = stmt
        .query_map([], |r| {
            let text = col_text(r, "text").unwrap_or_default();
            let date = col_real(r, "date").and_then(crate::time::from_apple_nonzero);
            let from_me = col_int(r, "is_from_me").unwrap_or(0) != 0;
            let phone = col_text(r, "phone_number");
            let mut found = links(&text);
            // attributedBody is an NSAttributedString typedstream; links sit
            // in it as plain UTF-8, so a byte scan finds them.
            if let Ok(rusqlite::types::ValueRef::Blob(body)) = r.get_ref("attributedBody") {
                for l in links(&String::from_utf8_lossy(body)) {
                    if !found.contains(&l) {
                        found.push(l);
                    }
                }
            }
            let mut rec = Record::new("sms", &artifact)
                .at(date)
                .event(
                    if from_me { "sms_sent" } else { "sms_received" },
                    format!(
                        "{} message {} {}: {}",
                        col_text(r, "service").unwrap_or_else(|| "SMS".into()),
                        if from_me { "to" } else { "from" },
                        phone.as_deref().unwrap_or("?"),
                        text.chars().take(100).collect::<String>()
                    ),
                )
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("text", text.clone())
                .field("service", js(col_text(r, "service")))
                .field("phone_number", js(phone))
                .field("direction", if from_me { "sent" } else { "received" })
                ;
            if !found.is_empty() {
                rec = rec.field("links", found.clone());
            }
            for l in found {
                rec.push_observable(ObservableType::Url, l);
            }
            rec.push_observable(ObservableType::Text, text.clone());
            if THREAT_NOTIFICATIONS.iter().any(|p| text.starts_with(p)) {
                rec = rec.alert(
                    &crate::rules::SMS_APPLE_THREAT_NOTIFICATION,
                    "Apple threat notification received: Apple believes this device was targeted by mercenary spyware",
                );
            }
            Ok(rec)
        })
        .map_err(err)?;
    for row in rows {
        out.push(row.map_err(err)?);
    }
    Ok(out.finish())
}
