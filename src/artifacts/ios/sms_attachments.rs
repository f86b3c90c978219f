//! `sms_attachments`: attachments of `sms.db`; the file name is matched as
//! a path, and received attachments named `/var/tmp/...-1` (the pattern of
//! Pegasus FORCEDENTRY payloads) are a heuristic.
//!
//! Disguised attachments: every attachment file the backup holds
//! (`MediaDomain/Library/SMS/Attachments/...`; `HomeDomain` in a
//! filesystem dump) whose name ends in an image extension is sniffed from
//! its first bytes with the `infer` crate. A document, executable,
//! archive, e-book or font behind an image name (FORCEDENTRY's `.gif`
//! files were PDF and PSD) raises `sms_attachments.disguised_image` on the
//! attachment's record, or on a record of its own when no row of `sms.db`
//! names the file. Image-to-image mismatches (a PNG saved as `.jpg`),
//! audio, video, text and bytes `infer` does not know stay silent, as do
//! files the backup lists but does not hold.

use super::util::{col_int, col_real, col_text, js, jts};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::{FileEntry, IosBackup};
use crate::evidence::manifest_rows::Reader;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "sms_attachments",
    artifact: "HomeDomain/Library/SMS/sms.db",
    run,
};

/// Extensions that claim an image, lower case.
const IMAGE_EXTENSIONS: &[&str] = &[
    "gif", "jpg", "jpeg", "png", "heic", "heif", "webp", "tif", "tiff", "bmp",
];

/// Types `infer` files under images that are documents, not pictures a
/// phone shows: Photoshop (FORCEDENTRY), DjVu, AutoCAD, OpenRaster (zip).
const DOCUMENT_IMAGES: &[&str] = &[
    "image/vnd.adobe.photoshop",
    "image/vnd.djvu",
    "image/vnd.dwg",
    "image/openraster",
];

/// Where attachments are: `MediaDomain` in backups, `HomeDomain` in
/// filesystem dumps (indexed under `/private/var/mobile`).
pub(crate) const ATTACHMENT_DOMAINS: &[&str] = &["MediaDomain", "HomeDomain"];
pub(crate) const ATTACHMENTS: &str = "Library/SMS/Attachments/";

/// Bytes read from each attachment (one page): enough for `infer`'s
/// signatures (tar's is at byte 257; an OOXML file cut short is still
/// typed as zip).
const HEAD_BYTES: usize = 4096;

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let disguised = disguised_files(b)?;
    let (mut records, conn) = match from_sms_db(b) {
        Ok((records, conn)) => (records, Some(conn)),
        Err(ModuleError::Missing) if !disguised.is_empty() => (Vec::new(), None),
        Err(e) => return Err(e),
    };
    for d in disguised {
        flag(&mut records, conn.as_ref(), &d);
    }
    Ok(records)
}

/// One record per row of `attachment`, and the open `sms.db`.
fn from_sms_db(b: &IosBackup) -> Result<(Vec<Record>, rusqlite::Connection), ModuleError> {
    let (entry, conn) = b.open_sqlite_at(super::sms::DOMAIN, super::sms::PATH)?;
    let err = ModuleError::sqlite(|| b.describe(&entry));
    if !crate::evidence::sqlite::has_table(&conn, "attachment")
        || !crate::evidence::sqlite::has_table(&conn, "message_attachment_join")
    {
        return Ok((Vec::new(), conn));
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
    let records = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)?;
    drop(stmt);
    Ok((records, conn))
}

/// An attachment file named as an image whose bytes are something else.
struct Disguised {
    entry: FileEntry,
    /// The extension of the name, lower case (`gif`).
    claimed: String,
    actual: infer::Type,
}

/// The image extension `rel` ends in, lower case.
fn image_extension(rel: &str) -> Option<&'static str> {
    let (_, ext) = rel.rsplit_once('.')?;
    IMAGE_EXTENSIONS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(ext))
        .copied()
}

/// Whether a listed attachment row is one to sniff: a file (`flags` 1)
/// named as an image.
pub(crate) fn sniffed(relative_path: &str, flags: i64) -> bool {
    flags == 1 && image_extension(relative_path).is_some()
}

/// Every attachment file the backup holds under an image name whose
/// first bytes are a document, executable or archive. Files listed but
/// absent, or unreadable, are skipped.
fn disguised_files(b: &IosBackup) -> Result<Vec<Disguised>, ModuleError> {
    let mut out = Vec::new();
    // The rows the `manifest` module's pass collected, when it did.
    let given = b.manifest_rows().take(Reader::SmsAttachments);
    let listed: Vec<(u8, &str, &str)> = given.iter().flat_map(|r| r.attachments()).collect();
    let ids: Vec<&str> = listed.iter().map(|a| a.2).collect();
    if let Some(held) = given.as_ref().and_then(|_| b.holds_each(&ids)) {
        for ((domain, path, id), held) in listed.into_iter().zip(held) {
            if held {
                let entry = FileEntry {
                    file_id: id.to_string(),
                    domain: ATTACHMENT_DOMAINS
                        .get(domain as usize)
                        .copied()
                        .unwrap_or_default()
                        .to_string(),
                    relative_path: path.to_string(),
                    flags: 1,
                    mbfile: None,
                };
                sniff(b, entry, &mut out)?;
            }
        }
    } else {
        for domain in ATTACHMENT_DOMAINS {
            // Streamed: the largest backups list ~87,000 attachment rows.
            b.each_path(domain, &format!("{ATTACHMENTS}*"), |listed| {
                if sniffed(&listed.relative_path, listed.flags) && b.has_content(&listed) {
                    sniff(b, listed, &mut out)?;
                }
                Ok(())
            })?;
        }
    }
    out.sort_by_key(|a| a.entry.logical_path());
    Ok(out)
}

/// Reads the head of a listed attachment the backup holds and keeps it
/// when it is no image.
fn sniff(b: &IosBackup, listed: FileEntry, out: &mut Vec<Disguised>) -> Result<(), ModuleError> {
    let Some(ext) = image_extension(&listed.relative_path) else {
        return Ok(());
    };
    // The full row (its MBFile holds an encrypted file's key).
    let entry = b
        .entry(&listed.domain, &listed.relative_path)?
        .unwrap_or(listed);
    let Ok(head) = b.read_head(&entry, HEAD_BYTES) else {
        return Ok(());
    };
    if let Some(actual) = not_an_image(&head) {
        out.push(Disguised {
            entry,
            claimed: ext.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The sniffed type of `head` when it is no picture: an application,
/// archive (PDF, zip, ...), document, e-book or font, or one of
/// [`DOCUMENT_IMAGES`]. `None` for pictures, audio, video, text and
/// unknown bytes.
fn not_an_image(head: &[u8]) -> Option<infer::Type> {
    use infer::MatcherType as M;
    let t = infer::get(head)?;
    match t.matcher_type() {
        M::App | M::Archive | M::Doc | M::Book | M::Font => Some(t),
        M::Image => DOCUMENT_IMAGES.contains(&t.mime_type()).then_some(t),
        M::Audio | M::Video | M::Text | M::Custom => None,
    }
}

/// `~/Library/SMS/...` (as `sms.db` names files) → `Library/SMS/...`.
fn relative_to_home(filename: &str) -> Option<&str> {
    ["~/", "/private/var/mobile/", "/var/mobile/"]
        .iter()
        .find_map(|p| filename.strip_prefix(p))
}

/// `ROWID` and `guid` of the message an attachment belongs to.
fn message_of(conn: &rusqlite::Connection, attachment_id: i64) -> Option<(i64, String)> {
    conn.query_row(
        "SELECT message.ROWID, message.guid FROM message_attachment_join \
         JOIN message ON message.ROWID = message_attachment_join.message_id \
         WHERE message_attachment_join.attachment_id = ?1 ORDER BY message.ROWID LIMIT 1",
        [attachment_id],
        |r| Ok((r.get::<_, i64>(0)?, col_text(r, "guid").unwrap_or_default())),
    )
    .ok()
}

/// Raises the rule on the record of `d`'s row in `sms.db`, or on a new
/// record for a file no row names.
fn flag(records: &mut Vec<Record>, conn: Option<&rusqlite::Connection>, d: &Disguised) {
    let rel = d.entry.relative_path.as_str();
    let actual = format!(
        "{} ({})",
        d.actual.extension().to_uppercase(),
        d.actual.mime_type()
    );
    let claimed = format!(".{} image", d.claimed);
    let row = records.iter().position(|r| {
        r.fields["filename"]
            .as_str()
            .and_then(relative_to_home)
            .is_some_and(|f| f == rel)
    });
    let Some(i) = row else {
        let mb = d.entry.mbfile.as_ref();
        let mut rec = Record::new("sms_attachments", &d.entry.logical_path())
            .at(mb
                .and_then(|m| m.last_modified)
                .and_then(crate::time::from_unix))
            .event(
                "sms_attachment",
                format!("Attachment file \"{rel}\" named by no message of sms.db"),
            )
            .field("filename", d.entry.logical_path())
            .field("claimed_type", claimed.clone())
            .field("actual_type", actual.clone());
        if let Some(path) = d.entry.device_path() {
            rec.push_observable(ObservableType::FilePath, path);
        }
        rec.push_observable(ObservableType::FileName, crate::strings::base_name(rel));
        records.push(rec.alert(
            &crate::rules::SMS_ATTACHMENTS_DISGUISED_IMAGE,
            format!("Attachment {rel} is named as a {claimed} but its bytes are {actual}; no message in sms.db names it"),
        ));
        return;
    };
    let rec = &mut records[i];
    let id = rec.fields["attachment_id"].as_i64().unwrap_or(0);
    let message = conn.and_then(|c| message_of(c, id));
    let f = |k: &str| rec.fields[k].as_str().unwrap_or("").to_string();
    let mut about = match &message {
        Some((rowid, guid)) => format!("message {rowid} (guid {guid})"),
        None => "no message".to_string(),
    };
    about.push_str(&format!(
        ", {} {} {} {} at {}",
        f("direction"),
        if f("direction") == "sent" {
            "to"
        } else {
            "from"
        },
        f("phone_number"),
        f("service"),
        f("isodate")
    ));
    rec.fields
        .insert("claimed_type".into(), claimed.clone().into());
    rec.fields
        .insert("actual_type".into(), actual.clone().into());
    if let Some((rowid, guid)) = message {
        rec.fields.insert("message_id".into(), rowid.into());
        rec.fields.insert("message_guid".into(), guid.into());
    }
    rec.push_alert(
        &crate::rules::SMS_ATTACHMENTS_DISGUISED_IMAGE,
        format!("Attachment {rel} is named as a {claimed} but its bytes are {actual}: {about}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::ios_backup::magic;

    fn sniffed(head: &[u8]) -> Option<&'static str> {
        not_an_image(head).map(|t| t.mime_type())
    }

    #[test]
    fn documents_programs_and_archives_are_not_images() {
        assert_eq!(sniffed(magic::PDF), Some("application/pdf"));
        assert_eq!(sniffed(magic::PSD), Some("image/vnd.adobe.photoshop"));
        assert_eq!(sniffed(magic::MACHO), Some("application/x-mach-binary"));
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert_eq!(sniffed(&elf), Some("application/x-executable"));
        assert_eq!(
            sniffed(b"PK\x03\x04\x14\x00\x00\x00"),
            Some("application/zip")
        );
    }

    #[test]
    fn pictures_media_and_unknown_bytes_are_silent() {
        for head in [
            magic::GIF,
            magic::PNG,
            magic::HEIC,
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        ] {
            assert_eq!(sniffed(head), None, "{head:?}");
        }
        // An MP4 named .gif (how some apps send animations), and nothing.
        assert_eq!(
            sniffed(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"),
            None
        );
        assert_eq!(sniffed(b""), None);
        assert_eq!(sniffed(b"\x00\x01\x02\x03 not a known format"), None);
    }

    #[test]
    fn image_extensions_ignore_case() {
        assert_eq!(image_extension("a/IMG_1.HEIC"), Some("heic"));
        assert_eq!(image_extension("a/b.Jpeg"), Some("jpeg"));
        assert_eq!(image_extension("a/voice.caf"), None);
        assert_eq!(image_extension("a/gif"), None);
        assert_eq!(
            relative_to_home("~/Library/SMS/Attachments/a/b.gif"),
            Some("Library/SMS/Attachments/a/b.gif")
        );
        assert_eq!(
            relative_to_home("/var/mobile/Library/SMS/Attachments/a/b.gif"),
            Some("Library/SMS/Attachments/a/b.gif")
        );
        assert_eq!(relative_to_home("/var/tmp/x-1"), None);
    }
}
