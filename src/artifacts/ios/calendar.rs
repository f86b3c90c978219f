//! `calendar`: events of `Calendar.sqlitedb` with their organiser; the
//! organiser's e-mail is matched, and QuaDream's ENDOFDAYS invitation
//! pattern (summary "Meeting", notes "Notes") is a heuristic.

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "calendar",
    artifact: "HomeDomain/Library/Calendar/Calendar.sqlitedb",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at("HomeDomain", "Library/Calendar/Calendar.sqlitedb")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    let sql = "SELECT CalendarItem.ROWID AS id, CalendarItem.summary AS summary, CalendarItem.description AS description, \
        CalendarItem.start_date AS start_date, CalendarItem.end_date AS end_date, CalendarItem.all_day AS all_day, \
        CalendarItem.url AS url, CalendarItem.last_modified AS last_modified, CalendarItem.creation_date AS creation_date, \
        CalendarItem.UUID AS uuid, Participant.email AS participant_email, Participant.phone_number AS participant_phone \
        FROM CalendarItem LEFT JOIN Participant ON Participant.ROWID = CalendarItem.organizer_id ORDER BY CalendarItem.ROWID";
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let summary = col_text(r, "summary");
            let description = col_text(r, "description");
            let start = col_real(r, "start_date").and_then(crate::time::from_apple);
            let email = col_text(r, "participant_email");
            let url = col_text(r, "url");
            let mut rec = Record::new("calendar", &artifact)
                .at(start)
                .event("calendar_event", format!("Calendar event: {}", summary.as_deref().unwrap_or("")))
                .field("id", col_int(r, "id").unwrap_or(0))
                .field("summary", js(summary.clone()))
                .field("description", js(description.clone()))
                .field("start_date", jts(start))
                .field("end_date", jts(col_real(r, "end_date").and_then(crate::time::from_apple)))
                .field("all_day", col_int(r, "all_day").unwrap_or(0))
                .field("url", js(url.clone()))
                .field("last_modified", jts(col_real(r, "last_modified").and_then(crate::time::from_apple)))
                .field("creation_date", jts(col_real(r, "creation_date").and_then(crate::time::from_apple)))
                .field("uuid", js(col_text(r, "uuid")))
                .field("participant_email", js(email.clone()))
                .field("participant_phone", js(col_text(r, "participant_phone")));
            if let Some(e) = email {
                rec.push_observable(ObservableType::Email, e.trim_start_matches("mailto:").to_string());
            }
            if let Some(u) = url {
                rec.push_observable(ObservableType::Url, u);
            }
            if summary.as_deref() == Some("Meeting") && description.as_deref() == Some("Notes") {
                rec = rec.alert(
                    &crate::rules::CALENDAR_QUADREAM_INVITE,
                    "Calendar event titled \"Meeting\" with notes \"Notes\": the pattern of QuaDream's ENDOFDAYS exploit invitations",
                );
            }
            Ok(rec)
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
}
