//! `whatsapp_contacts`: WhatsApp's address book (`ContactsV2.sqlite`).
//! Strings may be stored as UTF-8 BLOBs.

use super::util::{col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "whatsapp_contacts",
    artifact: "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/ContactsV2.sqlite",
    run,
};

const TEXT_COLUMNS: [(&str, &str); 12] = [
    ("ZWHATSAPPID", "whatsapp_id"),
    ("ZLID", "lid"),
    ("ZPHONENUMBER", "phone_number"),
    ("ZLOCALIZEDPHONENUMBER", "localized_phone_number"),
    ("ZFULLNAME", "full_name"),
    ("ZGIVENNAME", "given_name"),
    ("ZLASTNAME", "last_name"),
    ("ZUSERNAME", "user_name"),
    ("ZBUSINESSNAME", "business_name"),
    ("ZABOUTTEXT", "about_text"),
    ("ZABOUTEMOJI", "about_emoji"),
    ("ZNOTES", "notes"),
];
const TIME_COLUMNS: [(&str, &str); 4] = [
    ("ZDISAPPEARINGMODETIMESTAMP", "disappearing_mode_timestamp"),
    ("ZABOUTTIMESTAMP", "about_timestamp"),
    ("ZABOUTEXPIRATIONTIMESTAMP", "about_expiration_timestamp"),
    ("ZLASTUPDATED", "last_updated"),
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(super::whatsapp::DOMAIN, "ContactsV2.sqlite")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let cols = crate::evidence::sqlite::columns(&conn, "ZWAADDRESSBOOKCONTACT");
    if cols.is_empty() {
        return Err(ModuleError::Failed(format!(
            "{}: no ZWAADDRESSBOOKCONTACT table",
            b.describe(&entry)
        )));
    }
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare("SELECT * FROM ZWAADDRESSBOOKCONTACT ORDER BY Z_PK")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let name = col_text(r, "ZFULLNAME").unwrap_or_default();
            let phone = col_text(r, "ZPHONENUMBER").unwrap_or_default();
            let updated = col_real(r, "ZLASTUPDATED").and_then(crate::time::from_apple_nonzero);
            let mut rec = Record::new("whatsapp_contacts", &artifact)
                .at(updated)
                .event(
                    "whatsapp_contact",
                    format!("WhatsApp contact '{name}' ({phone})"),
                );
            for (col, key) in TEXT_COLUMNS {
                rec = rec.field(key, js(col_text(r, col)));
            }
            for (col, key) in TIME_COLUMNS {
                rec = rec.field(
                    key,
                    jts(col_real(r, col).and_then(crate::time::from_apple_nonzero)),
                );
            }
            let duration = col_real(r, "ZDISAPPEARINGMODEDURATION").filter(|d| *d > 0.0);
            rec = rec
                .field(
                    "disappearing_mode_duration",
                    duration.map(serde_json::Value::from).unwrap_or_default(),
                )
                .field("disappearing_mode_on", duration.is_some())
                .field("disappearing_mode_label", disappearing_label(duration));
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}

fn disappearing_label(d: Option<f64>) -> String {
    match d.map(|d| d as i64) {
        None | Some(0) => "off".into(),
        Some(86_400) => "24 hours".into(),
        Some(604_800) => "7 days".into(),
        Some(1_209_600) => "14 days".into(),
        Some(2_592_000) => "30 days".into(),
        Some(7_776_000) => "90 days".into(),
        Some(n) => format!("{n} seconds"),
    }
}
