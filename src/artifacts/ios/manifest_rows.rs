//! The rows `sms_attachments` and `triangulation_timeline` want from
//! `Manifest.db`, picked out during the `manifest` module's one pass over
//! `Files` (see [`crate::evidence::manifest_rows`]): each test below is the
//! `WHERE` clause of the query the module would run otherwise, as SQLite
//! evaluates it on the row's stored values.

use rusqlite::types::ValueRef;

use crate::evidence::manifest_rows::ManifestRows;

/// `relativePath LIKE 'Library/SMS/Attachments/%'`, lower case (LIKE folds
/// ASCII case).
const ATTACHMENTS_LIKE: &[u8] = b"library/sms/attachments/";

/// Collects [`ManifestRows`] from rows selected as
/// `fileID, domain, relativePath, flags, file` (columns 0 to 4).
#[derive(Default)]
pub struct Collector {
    rows: ManifestRows,
    /// The buffer overflowed: nothing is given.
    full: bool,
    /// The backup folder, whose `xx/` folders hold the files by fileID
    /// (`None`: every attachment row is kept).
    root: Option<std::path::PathBuf>,
    /// Whether each `xx/` folder asked about exists.
    folders: std::collections::HashMap<[u8; 2], bool>,
}

impl Collector {
    /// A collector that drops the attachment rows whose fileID's folder
    /// the backup at `root` does not have (a backup may list tens of
    /// thousands of attachments it does not hold).
    pub fn new(root: Option<&std::path::Path>) -> Self {
        Collector {
            root: root.map(std::path::Path::to_path_buf),
            ..Default::default()
        }
    }

    /// Whether the file `id` may be in the backup: its folder exists.
    fn may_hold(&mut self, id: &str) -> bool {
        let (Some(root), Some(folder)) = (&self.root, id.get(..2)) else {
            return true;
        };
        let key = [id.as_bytes()[0], id.as_bytes()[1]];
        *self
            .folders
            .entry(key)
            .or_insert_with(|| std::fs::symlink_metadata(root.join(folder)).is_ok())
    }

    /// Looks at one row (rows come in `rowid` order).
    pub fn row(&mut self, row: &rusqlite::Row<'_>) {
        let (Ok(ValueRef::Text(domain)), Ok(rel)) = (row.get_ref(1), row.get_ref(2)) else {
            // `domain = '...'` holds only for a text value.
            return;
        };
        let (path, rel_is_text) = match rel {
            ValueRef::Text(t) => (t, true),
            ValueRef::Blob(b) => (b, false),
            _ => return,
        };
        let attachment = super::sms_attachments::ATTACHMENT_DOMAINS
            .iter()
            .position(|d| d.as_bytes() == domain)
            .filter(|_| is_attachment(row, path));
        if let Some(d) = attachment {
            let id = crate::evidence::ios_backup::row_text(row, 0).unwrap_or_default();
            if self.may_hold(&id) {
                let path = String::from_utf8_lossy(path);
                self.full |= !self.rows.push_attachment(d as u8, !rel_is_text, &path, &id);
            }
        }
        if triangulation_row(domain, path, rel_is_text)
            && let Ok(file) = row.get_ref(4)
            && let Some(times) = super::triangulation::blob_times(file)
        {
            let path = String::from_utf8_lossy(path);
            self.full |= !self.rows.push_times(&path, times);
        }
    }

    /// The rows, attachments in their query's order; `None` if they did
    /// not fit.
    pub fn finish(mut self) -> Option<ManifestRows> {
        self.rows.sort_attachments();
        self.rows.shrink();
        (!self.full).then_some(self.rows)
    }
}

/// `triangulation::MANIFEST_QUERY`'s condition for a backup (SMS
/// attachments in `MediaDomain`).
fn triangulation_row(domain: &[u8], path: &[u8], is_text: bool) -> bool {
    if domain == b"MediaDomain" {
        return path.len() >= ATTACHMENTS_LIKE.len()
            && path[..ATTACHMENTS_LIKE.len()].eq_ignore_ascii_case(ATTACHMENTS_LIKE);
    }
    // `relativePath = '...'` holds only for a text value.
    is_text
        && super::triangulation::PREFERENCE_FILES
            .iter()
            .any(|(d, p)| d.as_bytes() == domain && p.as_bytes() == path)
}

/// Whether `sms_attachments` lists this row (its glob, `relativePath GLOB
/// 'Library/SMS/Attachments/*'`, is case sensitive) and sniffs it; only
/// rows stored under a well-formed fileID can be held by a backup.
fn is_attachment(row: &rusqlite::Row<'_>, path: &[u8]) -> bool {
    if !path.starts_with(super::sms_attachments::ATTACHMENTS.as_bytes()) {
        return false;
    }
    let flags = match row.get_ref(3) {
        Ok(ValueRef::Integer(n)) => n,
        _ => 0,
    };
    let well_formed = matches!(row.get_ref(0), Ok(ValueRef::Text(id) | ValueRef::Blob(id))
        if std::str::from_utf8(id).is_ok_and(crate::evidence::ios_backup::is_file_id));
    well_formed && super::sms_attachments::sniffed(&String::from_utf8_lossy(path), flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ios_backup::{IosBackup, file_id};
    use crate::evidence::nskeyed::{MbFile, encode_mbfile};
    use rusqlite::types::Value;

    fn blob(t: i64) -> Value {
        Value::Blob(encode_mbfile(&MbFile {
            last_modified: Some(t),
            last_status_change: Some(t + 1),
            birth: Some(t + 2),
            ..Default::default()
        }))
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    /// What the pass collects is what the modules' own queries list, on
    /// rows made to tell SQL's rules apart: LIKE ignores ASCII case, GLOB
    /// does not; `=` never holds for a blob; text sorts before blobs.
    #[test]
    fn collected_rows_are_the_queries_rows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let conn = rusqlite::Connection::open(root.join("Manifest.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);",
        )
        .unwrap();
        let att = "Library/SMS/Attachments/";
        let mut rows: Vec<(Value, Value, Value, Value, Value)> = Vec::new();
        let mut add = |domain: Value, rel: Value, flags: i64, file: Value| {
            let id = format!("{:040x}", rows.len() + 1);
            rows.push((text(&id), domain, rel, Value::Integer(flags), file));
        };
        for (i, d) in ["MediaDomain", "HomeDomain", "RootDomain", "mediadomain"]
            .into_iter()
            .enumerate()
        {
            let t = 1_600_000_000 + i as i64 * 10;
            add(text(d), text(&format!("{att}zz/b.GIF")), 1, blob(t));
            add(text(d), text(&format!("{att}aa/a.jpg")), 1, blob(t));
            add(text(d), text(&format!("{att}aa")), 2, blob(t));
            add(text(d), text(&format!("{att}aa/voice.caf")), 1, blob(t));
            add(
                text(d),
                text(&format!("library/sms/attachments/c/{d}.png")),
                1,
                blob(t),
            );
            add(
                text(d),
                Value::Blob(format!("{att}b/blob.png").into_bytes()),
                1,
                blob(t),
            );
            add(
                text(d),
                text(&format!("{att}b/no-mbfile.png")),
                1,
                Value::Null,
            );
            add(
                text(d),
                text(&format!("{att}b/bad-mbfile.png")),
                1,
                Value::Blob(b"x".to_vec()),
            );
            add(text(d), text(&format!("{att}b/dir.png")), 2, blob(t));
        }
        add(
            Value::Blob(b"MediaDomain".to_vec()),
            text(&format!("{att}x.png")),
            1,
            blob(1),
        );
        add(text("MediaDomain"), Value::Integer(7), 1, blob(1));
        add(text("MediaDomain"), Value::Null, 1, blob(1));
        for (d, p) in super::super::triangulation::PREFERENCE_FILES {
            add(text(d), text(p), 1, blob(1_700_000_000));
            add(text(d), Value::Blob(p.as_bytes().to_vec()), 1, blob(1));
            add(text("MediaDomain"), text(p), 1, blob(1));
        }
        // Ids the backup cannot hold.
        rows.push((
            text("../x"),
            text("MediaDomain"),
            text(&format!("{att}q/bad-id.png")),
            Value::Integer(1),
            blob(2),
        ));
        rows.push((
            Value::Null,
            text("MediaDomain"),
            text(&format!("{att}q/no-id.png")),
            Value::Integer(1),
            blob(2),
        ));
        let id = file_id("MediaDomain", &format!("{att}q/blob-id.png"));
        rows.push((
            Value::Blob(id.into_bytes()),
            text("MediaDomain"),
            text(&format!("{att}q/blob-id.png")),
            Value::Integer(1),
            blob(2),
        ));
        for r in &rows {
            conn.execute(
                "INSERT INTO Files VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![r.0, r.1, r.2, r.3, r.4],
            )
            .unwrap();
        }
        drop(conn);
        let backup = IosBackup::open(root).unwrap();
        let conn = backup.manifest_connection().unwrap();

        let mut c = Collector::default();
        let mut stmt = conn
            .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid")
            .unwrap();
        let mut q = stmt.query([]).unwrap();
        while let Some(row) = q.next().unwrap() {
            c.row(row);
        }
        let got = c.finish().unwrap();

        let want = super::super::triangulation::manifest_query_rows(&conn, "MediaDomain").unwrap();
        let times: Vec<_> = got.times().map(|(p, t)| (p.to_string(), t)).collect();
        assert_eq!(times, want);
        assert!(want.len() >= 10, "{want:?}");

        let mut want = Vec::new();
        for (d, domain) in super::super::sms_attachments::ATTACHMENT_DOMAINS
            .iter()
            .enumerate()
        {
            backup
                .each_path(domain, &format!("{att}*"), |e| {
                    let held_by_id = e.file_id.len() == 40;
                    if held_by_id
                        && super::super::sms_attachments::sniffed(&e.relative_path, e.flags)
                    {
                        want.push((d as u8, e.relative_path, e.file_id));
                    }
                    Ok(())
                })
                .unwrap();
        }
        let listed: Vec<_> = got
            .attachments()
            .map(|(d, p, id)| (d, p.to_string(), id.to_string()))
            .collect();
        assert_eq!(listed, want);
        assert!(want.len() >= 8, "{want:?}");
    }

    /// `sms_attachments` and `triangulation_timeline` give the same
    /// records whether `manifest`'s pass hands them the rows or they query.
    #[test]
    fn modules_give_the_same_records_through_the_pass() {
        use super::super::{Ctx, manifest, sms_attachments, triangulation};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let options = crate::fixtures::GenOptions {
            attachments: crate::fixtures::ios_backup::disguised_attachments(),
            ..Default::default()
        };
        crate::fixtures::ios_backup::generate(&out, &options).unwrap();
        let opts = crate::artifacts::ScanOptions::default();
        let run = |planned: bool| {
            let backup = IosBackup::open(&out).unwrap();
            let ctx = Ctx {
                backup: &backup,
                opts: &opts,
            };
            if planned {
                backup.manifest_rows().plan();
                manifest::run(&ctx).unwrap();
                assert!(!backup.manifest_rows().is_planned());
            }
            let sms = sms_attachments::run(&ctx).unwrap();
            let tri = triangulation::run(&ctx).unwrap();
            serde_json::to_string(&(sms, tri)).unwrap()
        };
        let alone = run(false);
        assert!(alone.contains("sms_attachments.disguised_image"));
        assert!(
            alone.contains("file_modified") || alone.contains("events"),
            "{alone}"
        );
        assert_eq!(run(true), alone);
    }
}
