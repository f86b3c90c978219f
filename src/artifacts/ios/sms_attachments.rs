//! `sms_attachments`: attachments of `sms.db`; the file name is matched as
//! a path, and received attachments named `/var/tmp/...-1` (the pattern of
//! Pegasus FORCEDENTRY payloads) are a heuristic.

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "sms_attachments",
    artifact: "HomeDomain/Library/SMS/sms.db",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(super::sms::DOMAIN, super::sms::PATH)?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    if !crate::evidence::sqlite::has_table(&conn, "attachment")
        || !crate::evidence::sqlite::has_table(&conn, "message_attachment_join")
    {
        return Ok(Vec::new());
    }
    let artifact = entry.logical_path();
    let sql = "SELECT attachment.ROWID AS attachment_id, attachment.filename AS filename, attachment.mime_type AS mime_type, \
        attachment.transfer_name AS transfer_name, attachment.total_bytes AS total_bytes, attachment.is_outgoing AS is_outgoing, \
        attachment.created_date AS created_date, attachment.start_date AS start_date, message.service AS service, handle.id AS phone_number \
        FROM attachment LEFT JOIN message_attachment_join ON message_attachment_join.attachment_id = attachment.ROWID \
        LEFT JOIN message ON message.ROWID = message_attachment_join.message_id \
        LEFT JOIN handle ON handle.ROWID = message.handle_id ORDER BY attachment.ROWID";
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let filename = col_text(r, "filename");
            let outgoing = col_int(r, "is_outgoing").unwrap_or(0) != 0;
            let created = col_real(r, "created_date").and_then(crate::time::from_apple_nonzero);
            let name = filename.clone().unwrap_or_else(|| "NULL".into());
            let mut rec = Record::new("sms_attachments", &artifact)
                .at(created)
                .event(
                    "sms_attachment",
                    format!(
                        "Attachment \"{name}\" {} {} {}",
                        if outgoing { "sent to" } else { "received from" },
                        col_text(r, "phone_number").unwrap_or_default(),
                        col_text(r, "service").unwrap_or_default()
                    ),
                )
                .field("attachment_id", col_int(r, "attachment_id").unwrap_or(0))
                .field("filename", name.clone())
                .field("mime_type", js(col_text(r, "mime_type")))
                .field("transfer_name", js(col_text(r, "transfer_name")))
                .field("total_bytes", col_int(r, "total_bytes").unwrap_or(0))
                .field("direction", if outgoing { "sent" } else { "received" })
                .field("service", js(col_text(r, "service")))
                .field("phone_number", js(col_text(r, "phone_number")))
                .field("isodate", jts(created))
                .field("start_date", jts(col_real(r, "start_date").and_then(crate::time::from_apple_nonzero)));
            if let Some(f) = &filename {
                let path = f.strip_prefix("~/").map(|p| format!("/private/var/mobile/{p}")).unwrap_or(f.clone());
                rec.push_observable(ObservableType::FilePath, path);
                rec.push_observable(ObservableType::FileName, crate::strings::base_name(f).to_string());
                if f.starts_with("/var/tmp/") && f.ends_with("-1") && !outgoing {
                    rec = rec.alert(
                        &crate::rules::SMS_ATTACHMENTS_SUSPICIOUS_TMP,
                        format!("Suspicious iMessage attachment {f}: received attachments under /var/tmp/ ending in -1 match Pegasus FORCEDENTRY deliveries"),
                    );
                }
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
