//! `contacts`: the address book (`AddressBook.sqlitedb`); e-mail addresses
//! are matched.

use super::util::{col_text, js};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "contacts",
    artifact: "HomeDomain/Library/AddressBook/AddressBook.sqlitedb",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) =
        b.open_sqlite_at("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let mut stmt = conn
        .prepare(
            "SELECT ABMultiValue.value AS value, ABPerson.first AS first, ABPerson.middle AS middle, \
             ABPerson.last AS last, ABPerson.organization AS organization FROM ABPerson, ABMultiValue \
             WHERE ABPerson.rowid = ABMultiValue.record_id AND ABMultiValue.value NOT NULL ORDER BY ABMultiValue.rowid",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let value = col_text(r, "value").unwrap_or_default();
            let name = [
                col_text(r, "first"),
                col_text(r, "middle"),
                col_text(r, "last"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let mut rec = Record::new("contacts", &artifact)
                .event("contact", format!("Contact {name}: {value}"))
                .field("value", value.clone())
                .field("name", name)
                .field("organization", js(col_text(r, "organization")));
            if value.contains('@') {
                rec.push_observable(ObservableType::Email, value);
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
