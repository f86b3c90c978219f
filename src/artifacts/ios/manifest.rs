//! `manifest`: every row of `Manifest.db` `Files` (MVT's `Manifest`): the
//! file's device path and name against file indicators, and the origins
//! WebKit embeds in file names (`https_evil.com_0.localstorage`) against
//! domain indicators.
//!
//! Memory: a backup can list a million files. Up to [`FULL_RECORDS_LIMIT`]
//! rows every row becomes a record (as MVT does); above it, when the scan
//! has an indicator sweep, rows are streamed in batches through the sweep
//! and only rows that mention an indicator become records, plus one summary
//! record with the total. Matching itself stays in the matcher.

use serde_json::Value;

use super::manifest_rows::Collector;
use super::util::jts;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::{FileEntry, row_to_entry};
use crate::evidence::manifest_rows::Handoff;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "manifest",
    artifact: "Manifest.db",
    run,
};

/// Above this many rows, only rows flagged by the indicator sweep are kept.
pub const FULL_RECORDS_LIMIT: i64 = 100_000;
const BATCH: usize = 20_000;

/// Source name of the records of a filesystem dump, whose index is the
/// walk of the dump rather than a `Manifest.db`.
pub const FS_ARTIFACT: &str = "filesystem (walked index)";

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    // Whatever happens, the modules waiting for rows of the pass are told.
    let _give = GiveOnDrop(ctx.backup.manifest_rows());
    let mut records = rows(ctx)?;
    if ctx.backup.is_filesystem() {
        for r in &mut records {
            r.artifact = FS_ARTIFACT.into();
        }
    }
    Ok(records)
}

/// Gives the waiting modules nothing if the pass did not give them rows.
struct GiveOnDrop<'a>(&'a Handoff);

impl Drop for GiveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.give(None);
    }
}

/// The hand-over to fill during the pass over `Files`, when other modules
/// wait for its rows (a filesystem dump's are not collected: its rows are
/// not read through SQL here).
fn handoff<'a>(ctx: &Ctx<'a>) -> Option<&'a Handoff> {
    let h = ctx.backup.manifest_rows();
    (h.is_planned() && !ctx.backup.is_filesystem()).then_some(h)
}

fn rows(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let conn = ctx.backup.manifest_connection()?;
    let manifest = ctx.backup.root().join("Manifest.db");
    let err = ModuleError::sqlite(|| manifest.display());
    // A dump's index knows its size (counting through SQL walks every row).
    let total: i64 = match ctx.backup.dump_index() {
        Some(index) => index.rows() as i64,
        None => conn
            .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
            .map_err(err)?,
    };
    if let Some(sweep) = ctx
        .opts
        .text_sweep
        .as_ref()
        .filter(|_| total > FULL_RECORDS_LIMIT)
    {
        let listed = sweep.keeps_observables().then(|| {
            let artifact = if ctx.backup.is_filesystem() {
                FS_ARTIFACT
            } else {
                "Manifest.db"
            };
            crate::artifacts::observe::Listed::new(MODULE.name, artifact, ctx.opts.sink.clone())
        });
        if let Some(index) = ctx.backup.dump_index() {
            let flags = super::filesystem::dump_flags(index, sweep.as_ref());
            return dump_swept(&conn, index, &flags.manifest, listed).map_err(err);
        }
        return swept(
            &conn,
            sweep.as_ref(),
            total,
            listed,
            handoff(ctx),
            Some(ctx.backup.root()),
        )
        .map_err(err);
    }
    // rowid order is insertion order: stable and cheap to stream.
    let mut stmt = conn
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid")
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut out = Vec::new();
    let mut collect = handoff(ctx).map(|h| (h, Collector::new(Some(ctx.backup.root()))));
    while let Some(row) = rows.next().map_err(err)? {
        if let Some((_, c)) = collect.as_mut() {
            c.row(row);
        }
        // A row whose blob is not an MBFile still lists a path; keep it.
        if let Ok(entry) = row_to_entry(row) {
            out.push(record(&entry));
        }
    }
    if let Some((h, c)) = collect {
        h.give(c.finish());
    }
    Ok(out)
}

/// Large manifests: only paths go through the sweep, in batches; the
/// `MBFile` blob is decoded only for the rows it flags.
fn swept(
    conn: &rusqlite::Connection,
    sweep: &dyn crate::artifacts::TextSweep,
    total: i64,
    mut listed: Option<crate::artifacts::observe::Listed>,
    handoff: Option<&Handoff>,
    root: Option<&std::path::Path>,
) -> rusqlite::Result<Vec<Record>> {
    // The columns the collector reads only when it collects.
    let mut stmt = conn.prepare(if handoff.is_some() {
        "SELECT fileID, domain, relativePath, flags, file, rowid FROM Files ORDER BY rowid"
    } else {
        "SELECT NULL, domain, relativePath, NULL, NULL, rowid FROM Files ORDER BY rowid"
    })?;
    let mut collect = handoff.map(|h| (h, Collector::new(root)));
    let mut fetch = conn
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files WHERE rowid = ?1")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut batch: Vec<i64> = Vec::with_capacity(BATCH);
    let mut text = String::new();
    let mut kept = 0usize;
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            if let Some((_, c)) = collect.as_mut() {
                c.row(row);
            }
            let domain = text_cow(row.get_ref(1)?);
            let rel = text_cow(row.get_ref(2)?);
            let path = row_path(&domain, &rel);
            let hosts = embedded_domains(&rel);
            push_sweep_line(&mut text, &path, &rel, &hosts);
            if let Some(l) = listed.as_mut() {
                l.row_from(row_observables(path, &rel, hosts));
            }
            batch.push(row.get(5)?);
            if batch.len() < BATCH {
                continue;
            }
        } else if let Some((h, c)) = collect.take() {
            // The table is read: the waiting modules need not wait for
            // the last batch's sweep.
            h.give(c.finish());
        }
        let flagged = sweep.flagged_lines(text.as_bytes());
        if let Some(l) = listed.as_mut() {
            l.batch(&flagged);
        }
        for line in flagged {
            if let Some(rowid) = batch.get(line.line_no.wrapping_sub(1))
                && let Ok(entry) = fetch.query_row([rowid], row_to_entry)
            {
                out.push(record(&entry));
                kept += 1;
            }
        }
        batch.clear();
        text.clear();
        if row.is_none() {
            break;
        }
    }
    out.extend(listed.map(|l| l.finish()).unwrap_or_default());
    out.push(summary(total, kept));
    Ok(out)
}

/// [`swept`] on a filesystem dump: the rows the dump's one sweep flagged
/// (`flagged`, ascending row positions; see `filesystem::dump_flags`) are
/// records; the others are listed as [`swept`] lists them, read from the
/// index directly rather than through SQL.
fn dump_swept(
    conn: &rusqlite::Connection,
    index: &crate::evidence::ios_fs_index::DumpIndex,
    flagged: &[u32],
    mut listed: Option<crate::artifacts::observe::Listed>,
) -> rusqlite::Result<Vec<Record>> {
    let mut fetch = conn
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files WHERE rowid = ?1")?;
    let mut out = Vec::new();
    for &pos in flagged {
        if let Ok(entry) = fetch.query_row([i64::from(pos) + 1], row_to_entry) {
            out.push(record(&entry));
        }
    }
    let kept = out.len();
    if let Some(l) = listed.as_mut() {
        let mut flagged = flagged.iter().peekable();
        let mut lines = Vec::new();
        for pos in 0..index.rows() {
            let Some((domain, rel, _)) = index.row(pos) else {
                break;
            };
            let line_no = pos % BATCH + 1;
            if flagged.next_if(|&&f| f as usize == pos).is_some() {
                lines.push(crate::artifacts::SweptLine {
                    line_no,
                    range: 0..0,
                });
            }
            l.row_from(row_observables(
                row_path(domain, rel),
                rel,
                embedded_domains(rel),
            ));
            if line_no == BATCH {
                l.batch(&lines);
                lines.clear();
            }
        }
        l.batch(&lines);
    }
    out.extend(listed.map(|l| l.finish()).unwrap_or_default());
    out.push(summary(index.rows() as i64, kept));
    Ok(out)
}

/// The record that says how many rows a large manifest has and kept.
fn summary(total: i64, kept: usize) -> Record {
    Record::new(MODULE.name, "Manifest.db")
        .event(
            "manifest_summary",
            format!(
                "Manifest.db lists {total} files; {kept} mention an indicator and are kept as records (above {FULL_RECORDS_LIMIT} rows, paths are swept rather than all recorded)"
            ),
        )
        .field("rows", total)
        .field("rows_kept", kept as i64)
}

/// The device path of a row (as `file_path` gives it for a record):
/// `device_path`, else `/` + relative path; built without `format!` (a
/// million rows).
fn row_path(domain: &str, relative_path: &str) -> String {
    let root = crate::evidence::ios_backup::domain_root(domain);
    let mut out = String::with_capacity(root.map_or(0, str::len) + 1 + relative_path.len());
    match root {
        Some(root) => {
            out.push_str(root);
            if !relative_path.is_empty() {
                out.push('/');
                out.push_str(relative_path);
            }
        }
        None => {
            out.push('/');
            out.push_str(relative_path);
        }
    }
    out
}

/// A text column as `util::text` reads it (`""` for NULL), borrowed when
/// it is valid UTF-8.
fn text_cow(v: rusqlite::types::ValueRef<'_>) -> std::borrow::Cow<'_, str> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t),
        ValueRef::Integer(i) => i.to_string().into(),
        ValueRef::Real(f) => f.to_string().into(),
        ValueRef::Null => "".into(),
    }
}

/// [`push_sweep_line`] for the row `domain`, `relative_path`.
pub(crate) fn push_row_line(text: &mut String, domain: &str, relative_path: &str) {
    let path = row_path(domain, relative_path);
    push_sweep_line(text, &path, relative_path, &embedded_domains(relative_path));
}

/// One line per row, appended to `text`: every string the record's
/// observables carry, space separated, so a token-boundary sweep sees each
/// one whole. Line breaks inside a name become spaces.
fn push_sweep_line(text: &mut String, path: &str, relative_path: &str, hosts: &[String]) {
    let start = text.len();
    text.push_str(path);
    text.push(' ');
    text.push_str(relative_path.rsplit('/').next().unwrap_or(""));
    for d in hosts {
        text.push(' ');
        text.push_str(d);
    }
    super::filesystem::one_line(text, start);
    text.push('\n');
}

/// What a row's record is matched on: its path (the file name is matched
/// through it) and the hosts in its name, as `record` has them.
fn row_observables(
    path: String,
    relative_path: &str,
    hosts: Vec<String>,
) -> impl Iterator<Item = crate::model::Observable> {
    let path = (!relative_path.is_empty()).then_some(crate::model::Observable {
        kind: ObservableType::FilePath,
        value: path,
    });
    path.into_iter()
        .chain(hosts.into_iter().map(|value| crate::model::Observable {
            kind: ObservableType::Domain,
            value,
        }))
}

/// The absolute device path when the domain root is known, else `/` +
/// relative path (MVT's form).
fn file_path(e: &FileEntry) -> String {
    e.device_path()
        .unwrap_or_else(|| format!("/{}", e.relative_path))
}

fn name(e: &FileEntry) -> &str {
    e.relative_path.rsplit('/').next().unwrap_or("")
}

/// Hosts WebKit embeds in the names of per-origin storage:
/// `https_www.example.com_0.localstorage`, `http_evil.net_8080`, and the
/// `IndexedDB/v1/https_x.com_0` folders.
pub fn embedded_domains(relative_path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for comp in relative_path.split('/') {
        // Most components are not origins: test the prefix before copying.
        let b = comp.as_bytes();
        let skip = if b.len() > 6 && b[..6].eq_ignore_ascii_case(b"https_") {
            6
        } else if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"http_") {
            5
        } else {
            continue;
        };
        let host = comp[skip..].split('_').next().unwrap_or("");
        if host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            let host = host.to_ascii_lowercase();
            if !out.contains(&host) {
                out.push(host);
            }
        }
    }
    out
}

fn ts(v: Option<i64>) -> Option<jiff::Timestamp> {
    v.and_then(crate::time::from_unix)
}

/// The record for one Manifest row. Fields follow MVT's `manifest.json`.
pub fn record(e: &FileEntry) -> Record {
    let mb = e.mbfile.as_ref();
    let modified = ts(mb.and_then(|m| m.last_modified));
    let created = ts(mb.and_then(|m| m.birth));
    let changed = ts(mb.and_then(|m| m.last_status_change));
    let logical = e.logical_path();
    let mut r = Record::new(MODULE.name, "Manifest.db")
        .at(modified.or(created))
        .event("file_modified", logical.clone())
        .field("file_id", e.file_id.clone())
        .field("domain", e.domain.clone())
        .field("relative_path", e.relative_path.clone())
        .field("flags", e.flags)
        .field("created", jts(created))
        .field("modified", jts(modified))
        .field("status_changed", jts(changed))
        .field(
            "mode",
            mb.and_then(|m| m.mode)
                .map(|m| Value::String(format!("0o{m:o}")))
                .unwrap_or(Value::Null),
        )
        .field(
            "owner",
            mb.and_then(|m| m.user_id)
                .map(Value::from)
                .unwrap_or(Value::Null),
        )
        .field(
            "size",
            mb.and_then(|m| m.size)
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
    if let Some(t) = mb.and_then(|m| m.target.clone()) {
        r = r.field("symlink_target", t);
    }
    if !e.relative_path.is_empty() {
        r.push_observable(ObservableType::FilePath, file_path(e));
        r.push_observable(ObservableType::FileName, name(e).to_string());
    }
    for d in embedded_domains(&e.relative_path) {
        r.push_observable(ObservableType::Domain, d);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webkit_origins_in_names() {
        assert_eq!(
            embedded_domains(
                "Library/WebKit/WebsiteData/LocalStorage/https_www.Example.com_0.localstorage"
            ),
            vec!["www.example.com"]
        );
        assert_eq!(
            embedded_domains("Library/WebKit/WebsiteData/IndexedDB/v1/http_evil.net_8080"),
            vec!["evil.net"]
        );
        assert!(embedded_domains("Library/Preferences/com.apple.x.plist").is_empty());
        assert!(embedded_domains("Library/https_nodot_0").is_empty());
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;
    use crate::artifacts::{SweptLine, TextSweep};

    struct Contains(&'static str);
    impl TextSweep for Contains {
        fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
            let text = String::from_utf8_lossy(text);
            let mut out = Vec::new();
            let mut at = 0;
            for (n, line) in text.split('\n').enumerate() {
                if line.contains(self.0) {
                    out.push(SweptLine {
                        line_no: n + 1,
                        range: at..at + line.len(),
                    });
                }
                at += line.len() + 1;
            }
            out
        }
    }

    #[test]
    fn large_manifests_keep_only_swept_rows() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        crate::fixtures::ios_backup::generate(&out, &crate::fixtures::GenOptions::default())
            .unwrap();
        let backup = crate::evidence::ios_backup::IosBackup::open(&out).unwrap();
        let conn = backup.manifest_connection().unwrap();
        let total: i64 = conn
            .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
            .unwrap();
        let recs = swept(
            &conn,
            &Contains("accountcanceled.com"),
            total,
            None,
            None,
            None,
        )
        .unwrap();
        // The planted localstorage file and its decoy sibling are flagged by
        // this naive stand-in; the summary comes last.
        let paths: Vec<_> = recs
            .iter()
            .filter_map(|r| r.fields.get("relative_path"))
            .collect();
        assert_eq!(paths.len(), 2, "{paths:?}");
        let last = recs.last().unwrap();
        assert_eq!(last.event, "manifest_summary");
        assert_eq!(last.fields["rows"], total);
        assert!(
            recs[0]
                .observables
                .iter()
                .any(|o| o.kind == ObservableType::Domain)
        );
    }
}
