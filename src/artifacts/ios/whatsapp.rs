//! `whatsapp`: WhatsApp messages (`ChatStorage.sqlite`) with the links
//! they carry, chat sessions, and LID ↔ phone pairs (`LID.sqlite`).

use super::util::{col_int, col_real, col_text, js, jts, links};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const DOMAIN: &str = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared";
pub const MODULE: Module = Module {
    name: "whatsapp",
    artifact: "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite",
    run,
};
const MEDIA_HOSTS: [&str; 2] = ["https://mmg-fna.whatsapp.net/", "https://mmg.whatsapp.net/"];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let (entry, conn) = b.open_sqlite_at(DOMAIN, "ChatStorage.sqlite")?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    let artifact = entry.logical_path();
    // Streamed in batches: a large ChatStorage holds tens of thousands
    // of messages, which would otherwise all be held until the module ends.
    let mut out = ctx.opts.batches("whatsapp");
    messages(&conn, &artifact, &mut out).map_err(err)?;
    for r in sessions(&conn, &artifact).map_err(err)? {
        out.push(r);
    }
    match b.open_sqlite_at(DOMAIN, "LID.sqlite") {
        Ok((lid_entry, lid)) => {
            let lid_err = ModuleError::sqlite(|| b.describe(&lid_entry));
            for r in lid_pairs(&lid, &lid_entry.logical_path()).map_err(lid_err)? {
                out.push(r);
            }
        }
        Err(ModuleError::Missing) => {}
        Err(e) => return Err(e),
    }
    Ok(out.finish())
}

fn opt_col(conn: &rusqlite::Connection, table: &str, col: &str, alias: &str) -> String {
    if crate::evidence::sqlite::columns(conn, table)
        .iter()
        .any(|c| c == col)
    {
        format!("{table}.{col} AS {alias}")
    } else {
        format!("NULL AS {alias}")
    }
}

/// Positions of the columns `messages` selects, in its SELECT's order.
mod col {
    pub const ID: usize = 0;
    pub const TEXT: usize = 1;
    pub const DATE: usize = 2;
    pub const FROM_JID: usize = 3;
    pub const TO_JID: usize = 4;
    pub const FROM_ME: usize = 5;
    pub const MEDIA_URL: usize = 6;
    // 7: author, selected and not read.
    pub const C1: usize = 8;
    pub const C2: usize = 9;
    pub const MATCHED: usize = 10;
    pub const TITLE: usize = 11;
}

fn messages(
    conn: &rusqlite::Connection,
    artifact: &str,
    out: &mut crate::options::Batches<'_>,
) -> rusqlite::Result<()> {
    let has_media = crate::evidence::sqlite::has_table(conn, "ZWAMEDIAITEM");
    let has_data = crate::evidence::sqlite::has_table(conn, "ZWAMESSAGEDATAITEM");
    let sql = format!(
        "SELECT ZWAMESSAGE.Z_PK AS id, ZWAMESSAGE.ZTEXT AS text, ZWAMESSAGE.ZMESSAGEDATE AS date, \
         ZWAMESSAGE.ZFROMJID AS from_jid, ZWAMESSAGE.ZTOJID AS to_jid, ZWAMESSAGE.ZISFROMME AS from_me, \
         {media_url}, {author}, {c1}, {c2}, {matched}, {title} FROM ZWAMESSAGE {join_media} {join_data} ORDER BY ZWAMESSAGE.Z_PK",
        media_url = if has_media {
            opt_col(conn, "ZWAMEDIAITEM", "ZMEDIAURL", "media_url")
        } else {
            "NULL AS media_url".into()
        },
        author = if has_media {
            opt_col(conn, "ZWAMEDIAITEM", "ZAUTHORNAME", "author")
        } else {
            "NULL AS author".into()
        },
        c1 = if has_data {
            opt_col(conn, "ZWAMESSAGEDATAITEM", "ZCONTENT1", "c1")
        } else {
            "NULL AS c1".into()
        },
        c2 = if has_data {
            opt_col(conn, "ZWAMESSAGEDATAITEM", "ZCONTENT2", "c2")
        } else {
            "NULL AS c2".into()
        },
        matched = if has_data {
            opt_col(conn, "ZWAMESSAGEDATAITEM", "ZMATCHEDTEXT", "matched")
        } else {
            "NULL AS matched".into()
        },
        title = if has_data {
            opt_col(conn, "ZWAMESSAGEDATAITEM", "ZTITLE", "title")
        } else {
            "NULL AS title".into()
        },
        join_media = if has_media {
            "LEFT JOIN ZWAMEDIAITEM ON ZWAMEDIAITEM.ZMESSAGE = ZWAMESSAGE.Z_PK"
        } else {
            ""
        },
        join_data = if has_data {
            "LEFT JOIN ZWAMESSAGEDATAITEM ON ZWAMESSAGEDATAITEM.ZMESSAGE = ZWAMESSAGE.Z_PK"
        } else {
            ""
        },
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        let text = col_text(r, col::TEXT).unwrap_or_default();
        let date = col_real(r, col::DATE).and_then(crate::time::from_apple_nonzero);
        let mut found: Vec<String> = Vec::new();
        // Each column read once: this runs for every message.
        let media_url = col_text(r, col::MEDIA_URL);
        let matched = col_text(r, col::MATCHED);
        let (c1, c2) = (col_text(r, col::C1), col_text(r, col::C2));
        let sources = [
            Some(&text),
            matched.as_ref(),
            media_url.as_ref(),
            c1.as_ref(),
            c2.as_ref(),
        ];
        for src in sources.into_iter().flatten() {
            for l in links(src) {
                if !MEDIA_HOSTS.iter().any(|h| l.starts_with(h)) && !found.contains(&l) {
                    found.push(l);
                }
            }
        }
        let from_me = col_int(r, col::FROM_ME).unwrap_or(0) != 0;
        let from_jid = col_text(r, col::FROM_JID);
        let to_jid = col_text(r, col::TO_JID);
        let peer = if from_me { &to_jid } else { &from_jid };
        let mut rec = Record::new("whatsapp", artifact)
            .at(date)
            .event(
                "whatsapp_message",
                format!(
                    "WhatsApp message {} {}: {}",
                    if from_me { "to" } else { "from" },
                    peer.as_deref().unwrap_or("?"),
                    text.chars().take(200).collect::<String>()
                ),
            )
            .field("kind", "message")
            .field("id", col_int(r, col::ID).unwrap_or(0))
            .field("text", text.clone())
            .field("from_jid", js(from_jid))
            .field("to_jid", js(to_jid))
            .field("direction", if from_me { "sent" } else { "received" });
        if let Some(m) = media_url {
            rec = rec.field("media_url", m);
        }
        if let Some(t) = col_text(r, col::TITLE) {
            rec = rec.field("title", t);
        }
        if !found.is_empty() {
            rec = rec.field("links", found.clone());
        }
        for l in found {
            rec.push_observable(ObservableType::Url, l);
        }
        rec.push_observable(ObservableType::Text, text);
        Ok(rec)
    })?;
    for r in rows {
        out.push(r?);
    }
    Ok(())
}

fn sessions(conn: &rusqlite::Connection, artifact: &str) -> rusqlite::Result<Vec<Record>> {
    if !crate::evidence::sqlite::has_table(conn, "ZWACHATSESSION") {
        return Ok(Vec::new());
    }
    let group = crate::evidence::sqlite::has_table(conn, "ZWAGROUPINFO");
    let sql = format!(
        "SELECT s.Z_PK AS id, s.ZCONTACTJID AS jid, s.ZPARTNERNAME AS name, s.ZLASTMESSAGEDATE AS last_date, \
         {creation}, (SELECT min(ZMESSAGEDATE) FROM ZWAMESSAGE m WHERE m.ZCHATSESSION = s.Z_PK) AS first_stored, \
         (SELECT max(ZMESSAGEDATE) FROM ZWAMESSAGE m WHERE m.ZCHATSESSION = s.Z_PK) AS last_stored, \
         (SELECT count(*) FROM ZWAMESSAGE m WHERE m.ZCHATSESSION = s.Z_PK) AS stored \
         FROM ZWACHATSESSION s {join} ORDER BY s.Z_PK",
        creation = if group {
            "g.ZCREATIONDATE AS creation"
        } else {
            "NULL AS creation"
        },
        join = if group {
            "LEFT JOIN ZWAGROUPINFO g ON g.Z_PK = s.ZGROUPINFO"
        } else {
            ""
        },
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        let name = col_text(r, "name").unwrap_or_default();
        let jid = col_text(r, "jid").unwrap_or_default();
        let last = col_real(r, "last_date").and_then(crate::time::from_apple_nonzero);
        Ok(Record::new("whatsapp", artifact)
            .at(last)
            .event(
                "whatsapp_chat",
                format!("Last message in WhatsApp chat with '{name}' ({jid})"),
            )
            .field("kind", "chat_session")
            .field("id", col_int(r, "id").unwrap_or(0))
            .field("contact_jid", jid)
            .field("partner_name", name)
            .field("last_message_date", jts(last))
            .field(
                "group_creation_date",
                jts(col_real(r, "creation").and_then(crate::time::from_apple_nonzero)),
            )
            .field(
                "first_stored_message_date",
                jts(col_real(r, "first_stored").and_then(crate::time::from_apple_nonzero)),
            )
            .field(
                "last_stored_message_date",
                jts(col_real(r, "last_stored").and_then(crate::time::from_apple_nonzero)),
            )
            .field("stored_message_count", col_int(r, "stored").unwrap_or(0)))
    })?;
    rows.collect()
}

fn lid_pairs(conn: &rusqlite::Connection, artifact: &str) -> rusqlite::Result<Vec<Record>> {
    if !crate::evidence::sqlite::has_table(conn, "ZWAPHONENUMBERLIDPAIR") {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT ZLID, ZPHONENUMBER, ZTIMESTAMP FROM ZWAPHONENUMBERLIDPAIR ORDER BY Z_PK",
    )?;
    let rows = stmt.query_map([], |r| {
        let lid = col_text(r, "ZLID").unwrap_or_default();
        let phone = col_text(r, "ZPHONENUMBER").unwrap_or_default();
        let ts = col_real(r, "ZTIMESTAMP").and_then(crate::time::from_apple_nonzero);
        Ok(Record::new("whatsapp", artifact)
            .at(ts)
            .event(
                "whatsapp_lid",
                format!("WhatsApp associated LID {lid} with phone number {phone}"),
            )
            .field("kind", "lid_phone_number_pair")
            .field("lid", lid)
            .field("phone_number", phone)
            .field("pair_timestamp", jts(ts)))
    })?;
    rows.collect()
}
