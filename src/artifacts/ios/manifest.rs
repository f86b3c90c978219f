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

use super::Ctx;
use super::util::jts;
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::{FileEntry, row_to_entry};
use crate::model::{ObservableType, Record};

pub const MODULE: &str = "manifest";
/// Above this many rows, only rows flagged by the indicator sweep are kept.
pub const FULL_RECORDS_LIMIT: i64 = 100_000;
const BATCH: usize = 20_000;

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let conn = ctx.backup.manifest_connection()?;
    let manifest = ctx.backup.root().join("Manifest.db");
    let err = |e: rusqlite::Error| ModuleError::Failed(format!("{}: {e}", manifest.display()));
    let total: i64 = conn
        .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
        .map_err(err)?;
    let sweep = ctx
        .opts
        .text_sweep
        .as_ref()
        .filter(|_| total > FULL_RECORDS_LIMIT);
    // rowid order is insertion order: stable and cheap to stream.
    let mut stmt = conn
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid")
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut out = Vec::new();
    let mut batch: Vec<FileEntry> = Vec::new();
    let mut kept = 0usize;
    while let Some(row) = rows.next().map_err(err)? {
        // A row whose blob is not an MBFile still lists a path; keep it.
        let entry = match row_to_entry(row) {
            Ok(e) => e,
            Err(_) => continue,
        };
        let Some(sweep) = sweep else {
            out.push(record(&entry));
            continue;
        };
        batch.push(entry);
        if batch.len() >= BATCH {
            kept += flush(sweep.as_ref(), &mut batch, &mut out);
        }
    }
    if let Some(sweep) = sweep {
        kept += flush(sweep.as_ref(), &mut batch, &mut out);
        out.push(
            Record::new(MODULE, "Manifest.db")
                .event(
                    "manifest_summary",
                    format!(
                        "Manifest.db lists {total} files; {kept} mention an indicator and are kept as records (rows above {FULL_RECORDS_LIMIT} are swept, not all recorded)"
                    ),
                )
                .field("rows", total)
                .field("rows_kept", kept as i64),
        );
    }
    Ok(out)
}

/// Sends one batch through the sweep; keeps the flagged rows as records.
fn flush(
    sweep: &dyn crate::artifacts::TextSweep,
    batch: &mut Vec<FileEntry>,
    out: &mut Vec<Record>,
) -> usize {
    let mut text = String::new();
    for e in batch.iter() {
        text.push_str(&sweep_line(e));
        text.push('\n');
    }
    let flagged = sweep.flagged_lines(text.as_bytes());
    let n = flagged.len();
    for line in flagged {
        if let Some(e) = batch.get(line.line_no.wrapping_sub(1)) {
            out.push(record(e));
        }
    }
    batch.clear();
    n
}

/// One line per row: every string the record's observables carry, space
/// separated, so a token-boundary sweep sees each one whole.
fn sweep_line(e: &FileEntry) -> String {
    let mut s = String::with_capacity(e.domain.len() + e.relative_path.len() * 2 + 24);
    s.push_str(&file_path(e));
    s.push(' ');
    s.push_str(name(e));
    for d in embedded_domains(&e.relative_path) {
        s.push(' ');
        s.push_str(&d);
    }
    s.replace(['\n', '\r'], " ")
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
        let lower = comp.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https_")
            .or_else(|| lower.strip_prefix("http_"));
        let Some(rest) = rest else { continue };
        let host = rest.split('_').next().unwrap_or("");
        if host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && !out.iter().any(|h| h == host)
        {
            out.push(host.to_string());
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
    let mut r = Record::new(MODULE, "Manifest.db")
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
