//! `sms`: iMessage/SMS messages of `sms.db` (`message` joined to `handle`,
//! as MVT: messages without a handle are left out). Links in the text and
//! in `attributedBody` are matched; the body is swept as text. Apple's
//! threat notifications are a heuristic.

use super::util::{self, js, links};
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
    let sql = query(&conn);
    let ranges = if b.reopens_cheaply() {
        util::rowid_ranges(&conn, "message", MIN_PART_ROWS)
    } else {
        None
    };
    let Some(ranges) = ranges else {
        let mut stmt = conn
            .prepare(&format!("{sql} ORDER BY message.ROWID"))
            .map_err(err)?;
        let mut out = ctx.opts.batches("sms");
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            out.push(record(r, &artifact));
        }
        return Ok(out.finish());
    };
    // A large table: its rowid ranges on the workers, one read-only
    // connection each; the sink keeps the parts' records in table order.
    drop(conn);
    let ranged = format!("{sql} AND message.ROWID BETWEEN ?1 AND ?2 ORDER BY message.ROWID");
    let parts = util::in_parts(&ranges, |part, (lo, hi)| {
        let (_, conn) = b.open_sqlite_at(DOMAIN, PATH)?;
        let mut stmt = conn.prepare(&ranged).map_err(err)?;
        let mut out = ctx.opts.part_batches("sms", part);
        let mut rows = stmt.query([lo, hi]).map_err(err)?;
        let read = loop {
            match rows.next() {
                Ok(Some(r)) => out.push(record(r, &artifact)),
                Ok(None) => break Ok(()),
                Err(e) => break Err(err(e)),
            }
        };
        // Ended even on an error, so later parts are not held back.
        let records = out.finish_part();
        read.map(|()| records)
    })?;
    Ok(parts)
}

/// Fewest messages worth a part of their own (a second connection).
const MIN_PART_ROWS: i64 = 20_000;

/// The query of every message with a handle, without its `ORDER BY`
/// (`run` adds it, after a rowid range when reading in parts). Columns
/// are read by position (`col::*`), in this order.
fn query(conn: &rusqlite::Connection) -> String {
    let cols = crate::evidence::sqlite::columns(conn, "message");
    let opt = |c: &str| {
        if cols.iter().any(|x| x == c) {
            format!("message.{c} AS {c}")
        } else {
            format!("NULL AS {c}")
        }
    };
    format!(
        "SELECT message.ROWID AS id, message.text AS text, {}, {}, {}, {}, \
         handle.id AS phone_number FROM message, handle WHERE handle.rowid = message.handle_id",
        opt("attributedBody"),
        opt("service"),
        opt("date"),
        opt("is_from_me"),
    )
}

/// Positions of the columns `run` selects.
mod col {
    pub const ID: usize = 0;
    pub const TEXT: usize = 1;
    pub const ATTRIBUTED_BODY: usize = 2;
    pub const SERVICE: usize = 3;
    pub const DATE: usize = 4;
    pub const IS_FROM_ME: usize = 5;
    pub const PHONE_NUMBER: usize = 6;
}

fn record(r: &rusqlite::Row<'_>, artifact: &str) -> Record {
    let get = |i: usize| r.get_ref(i).ok();
    let text = get(col::TEXT).and_then(util::text).unwrap_or_default();
    let date = get(col::DATE)
        .and_then(util::real)
        .and_then(crate::time::from_apple_nonzero);
    let from_me = get(col::IS_FROM_ME).and_then(util::int).unwrap_or(0) != 0;
    let phone = get(col::PHONE_NUMBER)
        .and_then(util::text)
        .filter(|s| !s.is_empty());
    let service = get(col::SERVICE)
        .and_then(util::text)
        .filter(|s| !s.is_empty());
    let mut found = links(&text);
    // attributedBody is an NSAttributedString typedstream; links sit in it
    // as plain UTF-8, so a byte scan finds them (checked before the blob is
    // made text).
    if let Some(rusqlite::types::ValueRef::Blob(body)) = get(col::ATTRIBUTED_BODY)
        && util::may_link(body)
    {
        for l in links(&String::from_utf8_lossy(body)) {
            if !found.contains(&l) {
                found.push(l);
            }
        }
    }
    let description = describe(service.as_deref(), from_me, phone.as_deref(), &text);
    let mut rec = Record::new("sms", artifact).at(date).event(
        if from_me { "sms_sent" } else { "sms_received" },
        description,
    );
    // Set in place, each once: this runs for every message.
    rec.push_field("id", get(col::ID).and_then(util::int).unwrap_or(0));
    rec.push_field("text", text.clone());
    rec.push_field("service", js(service));
    rec.push_field("phone_number", js(phone));
    rec.push_field("direction", if from_me { "sent" } else { "received" });
    if !found.is_empty() {
        rec.push_field("links", found.clone());
    }
    for l in found {
        rec.push_observable(ObservableType::Url, l);
    }
    if THREAT_NOTIFICATIONS.iter().any(|p| text.starts_with(p)) {
        rec.push_alert(
            &crate::rules::SMS_APPLE_THREAT_NOTIFICATION,
            "Apple threat notification received: Apple believes this device was targeted by mercenary spyware",
        );
    }
    rec.push_observable(ObservableType::Text, text);
    rec
}

/// `<service> message <to|from> <phone>: <first 100 characters>`.
fn describe(service: Option<&str>, from_me: bool, phone: Option<&str>, text: &str) -> String {
    let excerpt = text
        .char_indices()
        .nth(100)
        .map_or(text, |(i, _)| &text[..i]);
    let service = service.unwrap_or("SMS");
    let phone = phone.unwrap_or("?");
    let mut d = String::with_capacity(service.len() + phone.len() + excerpt.len() + 16);
    d.push_str(service);
    d.push_str(if from_me {
        " message to "
    } else {
        " message from "
    });
    d.push_str(phone);
    d.push_str(": ");
    d.push_str(excerpt);
    d
}
