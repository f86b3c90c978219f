//! `interaction_c`: CoreDuet's record of who the user interacted with, in
//! which app (`interactionC.db`). Context for a timeline; no indicators.

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "interaction_c",
    artifact: "HomeDomain/Library/CoreDuet/People/interactionC.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) =
        b.open_sqlite_at("HomeDomain", "Library/CoreDuet/People/interactionC.db")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let recipients = crate::evidence::sqlite::has_table(&conn, "Z_2INTERACTIONRECIPIENT");
    let sql = format!(
        "SELECT i.Z_PK AS id, i.ZSTARTDATE AS start_date, i.ZENDDATE AS end_date, i.ZCREATIONDATE AS creation_date, \
         i.ZBUNDLEID AS bundle_id, i.ZACCOUNT AS account, i.ZTARGETBUNDLEID AS target_bundle_id, i.ZDIRECTION AS direction, \
         i.ZRECIPIENTCOUNT AS recipient_count, i.ZDOMAINIDENTIFIER AS domain_identifier, i.ZCONTENTURL AS content_url, \
         i.ZGROUPNAME AS group_name, s.ZDISPLAYNAME AS sender_name, s.ZIDENTIFIER AS sender_identifier, \
         {rname}, {rid} \
         FROM ZINTERACTIONS i LEFT JOIN ZCONTACTS s ON s.Z_PK = i.ZSENDER {rjoin} ORDER BY i.Z_PK",
        rname = if recipients {
            "(SELECT group_concat(c.ZDISPLAYNAME, ', ') FROM Z_2INTERACTIONRECIPIENT r JOIN ZCONTACTS c ON c.Z_PK = r.Z_2RECIPIENTS WHERE r.Z_3INTERACTIONRECIPIENT = i.Z_PK) AS recipient_name"
        } else {
            "NULL AS recipient_name"
        },
        rid = if recipients {
            "(SELECT group_concat(c.ZIDENTIFIER, ', ') FROM Z_2INTERACTIONRECIPIENT r JOIN ZCONTACTS c ON c.Z_PK = r.Z_2RECIPIENTS WHERE r.Z_3INTERACTIONRECIPIENT = i.Z_PK) AS recipient_identifier"
        } else {
            "NULL AS recipient_identifier"
        },
        rjoin = "",
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let start = col_real(r, "start_date").and_then(crate::time::from_apple_nonzero);
            let bundle = col_text(r, "bundle_id").unwrap_or_default();
            let incoming = col_int(r, "direction").unwrap_or(0) == 1;
            let sender = col_text(r, "sender_name").or_else(|| col_text(r, "sender_identifier"));
            let recipient =
                col_text(r, "recipient_name").or_else(|| col_text(r, "recipient_identifier"));
            let desc = if incoming {
                format!(
                    "[{bundle}] INCOMING from {} to local user",
                    sender.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "[{bundle}] OUTGOING from local user to {}",
                    recipient.as_deref().unwrap_or("?")
                )
            };
            let content_url = col_text(r, "content_url");
            let mut rec = Record::new("interaction_c", &artifact)
                .at(start)
                .event("interaction", desc)
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("start_date", jts(start))
                .field(
                    "end_date",
                    jts(col_real(r, "end_date").and_then(crate::time::from_apple_nonzero)),
                )
                .field(
                    "creation_date",
                    jts(col_real(r, "creation_date").and_then(crate::time::from_apple_nonzero)),
                )
                .field("bundle_id", bundle.clone())
                .field("account", js(col_text(r, "account")))
                .field("target_bundle_id", js(col_text(r, "target_bundle_id")))
                .field("direction", if incoming { "incoming" } else { "outgoing" })
                .field("domain_identifier", js(col_text(r, "domain_identifier")))
                .field("group_name", js(col_text(r, "group_name")))
                .field("sender_name", js(col_text(r, "sender_name")))
                .field("sender_identifier", js(col_text(r, "sender_identifier")))
                .field("recipient_name", js(col_text(r, "recipient_name")))
                .field(
                    "recipient_identifier",
                    js(col_text(r, "recipient_identifier")),
                )
                .field("content_url", js(content_url.clone()));
            if let Some(u) = content_url.filter(|u| u.starts_with("http")) {
                rec.push_observable(ObservableType::Url, u);
            }
            for id in [
                col_text(r, "sender_identifier"),
                col_text(r, "recipient_identifier"),
            ]
            .into_iter()
            .flatten()
            {
                for part in id.split(", ") {
                    let part = part.trim_start_matches("mailto:");
                    if part.contains('@')
                        && !part.ends_with("@lid")
                        && !part.contains("whatsapp.net")
                        && !part.ends_with("@g.us")
                    {
                        rec.push_observable(ObservableType::Email, part.to_string());
                    }
                }
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
