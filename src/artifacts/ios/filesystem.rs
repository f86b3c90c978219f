//! `filesystem` (MVT's `Filesystem`, `mvt/ios/modules/fs/filesystem.py`):
//! every path of a filesystem dump, folders and links included, with its
//! modification time, against `file:path` and `file:name` indicators.
//!
//! MVT matches the path relative to the dump (`private/var/…`) with
//! `startswith`, so an indicator written as an absolute device path
//! (`/private/var/…`, or `/var/…` through the device's `/var` link) never
//! matches there. Here each path is an observable in its absolute form
//! (`/private/var/db/x`) and, under `/private/var`, also in its `/var/…`
//! form, so both spellings of an indicator match, and relative indicators
//! (`var/db/x`) match as path endings (the matcher's rule).
//!
//! The same listing serves a folder (walked once, in parallel, when it is
//! opened; the walk also feeds the backup modules' index) and
//! an archive (listed in the one pass that reads it), so both forms give
//! the same records. Contents are never read here.
//!
//! Size: up to [`FULL_RECORDS_LIMIT`] paths every path is a record, as in
//! MVT. Above, when the scan has an indicator sweep, paths go through it in
//! batches: only paths that mention an indicator become records, the others
//! outside the backup domains are kept as bare path observables, 1,000 to
//! a record ([`crate::artifacts::observe::Listed`], for `recheck`; paths in
//! a domain are listed by `manifest`), plus one summary record.

use super::util::jts;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::IosBackup;
use crate::evidence::ios_fs::{DumpEntry, in_backup_domain};
use crate::evidence::ios_fs_archive::Needs;
use crate::model::{Observable, ObservableType, Record};

pub const MODULE: Module = Module {
    name: "filesystem",
    artifact: ARTIFACT,
    run,
};

/// Source name of the records: the dump's listing, not one file.
pub const ARTIFACT: &str = "filesystem (every path of the dump)";

/// Above this many paths, only paths flagged by the indicator sweep are
/// records.
pub const FULL_RECORDS_LIMIT: usize = 100_000;
const BATCH: usize = 20_000;

/// The files of a dump that the iOS modules read, from their declared
/// artifacts (see [`Needs::from_artifacts`]).
pub fn needs() -> Needs {
    Needs::from_artifacts(
        super::BACKUP
            .iter()
            .chain(super::FILESYSTEM)
            .map(|m| m.artifact),
    )
}

/// Opens a dump folder or archive, with the files modules read at hand.
pub fn open_dump(path: &std::path::Path) -> crate::error::Result<IosBackup> {
    crate::evidence::ios_fs::open_dump(path, &needs())
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let listing = ctx.backup.dump_listing().ok_or(ModuleError::Missing)?;
    let entries = &listing.entries;
    if entries.is_empty() {
        return Err(ModuleError::Missing);
    }
    if let Some(sweep) = ctx
        .opts
        .text_sweep
        .as_ref()
        .filter(|_| entries.len() > FULL_RECORDS_LIMIT)
    {
        let listed = sweep.keeps_observables().then(|| {
            crate::artifacts::observe::Listed::new(MODULE.name, ARTIFACT, ctx.opts.sink.clone())
        });
        return Ok(swept(entries, sweep.as_ref(), listed));
    }
    Ok(entries.iter().map(record).collect())
}

/// Large dumps: paths through the sweep in batches; see the module
/// documentation.
fn swept(
    entries: &[DumpEntry],
    sweep: &dyn crate::artifacts::TextSweep,
    mut listed: Option<crate::artifacts::observe::Listed>,
) -> Vec<Record> {
    let mut out = Vec::new();
    let mut text = String::new();
    for batch in entries.chunks(BATCH) {
        text.clear();
        for e in batch {
            // The line holds both forms of the path (see `forms`), one line
            // a path: line breaks in a name become spaces.
            let line_start = text.len();
            text.push('/');
            text.push_str(&e.path);
            if let Some(rest) = e.path.strip_prefix("private/var/") {
                text.push_str(" /var/");
                text.push_str(rest);
            }
            if text[line_start..].contains(['\n', '\r']) {
                let line = text[line_start..].replace(['\n', '\r'], " ");
                text.truncate(line_start);
                text.push_str(&line);
            }
            text.push('\n');
            // Paths in a backup domain are listed by `manifest` already.
            if let Some(l) = listed.as_mut() {
                l.row(if in_backup_domain(&e.path) {
                    Vec::new()
                } else {
                    vec![Observable {
                        kind: ObservableType::FilePath,
                        value: format!("/{}", e.path),
                    }]
                });
            }
        }
        let flagged = sweep.flagged_lines(text.as_bytes());
        if let Some(l) = listed.as_mut() {
            l.batch(&flagged);
        }
        for line in &flagged {
            if let Some(e) = batch.get(line.line_no.wrapping_sub(1)) {
                out.push(record(e));
            }
        }
    }
    let kept = out.len();
    out.extend(listed.map(|l| l.finish()).unwrap_or_default());
    out.push(
        Record::new(MODULE.name, ARTIFACT)
            .event(
                "filesystem_summary",
                format!(
                    "the dump holds {} paths; {kept} mention an indicator and are kept as records (above {FULL_RECORDS_LIMIT} paths, paths are swept rather than all recorded)",
                    entries.len()
                ),
            )
            .field("paths", entries.len() as i64)
            .field("paths_kept", kept as i64),
    );
    out
}

/// The absolute path, and its `/var/…` spelling under `/private/var`.
fn forms(path: &str) -> (String, Option<String>) {
    let abs = format!("/{path}");
    let var = path
        .strip_prefix("private/var/")
        .map(|r| format!("/var/{r}"));
    (abs, var)
}

/// The record of one path (MVT's fields `path` and `modified`).
pub fn record(e: &DumpEntry) -> Record {
    let modified = e.mtime.and_then(crate::time::from_unix);
    let mut r = Record::new(MODULE.name, ARTIFACT)
        .at(modified)
        .event("entry_modified", e.path.to_string())
        .field("path", e.path.to_string())
        .field("kind", e.kind.as_str())
        .field("modified", jts(modified));
    if e.kind == crate::evidence::ios_fs::EntryKind::File {
        r = r.field("size", e.size);
    }
    if let Some(t) = &e.link {
        r = r.field("symlink_target", t.to_string());
    }
    let (abs, var) = forms(&e.path);
    r.push_observable(ObservableType::FilePath, abs);
    if let Some(v) = var {
        r.push_observable(ObservableType::FilePath, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_a_var_path() {
        assert_eq!(
            forms("private/var/db/x"),
            ("/private/var/db/x".into(), Some("/var/db/x".into()))
        );
        assert_eq!(forms("System/Library/x").1, None);
    }

    #[test]
    fn every_declared_artifact_is_needed() {
        let n = needs();
        for p in [
            "private/var/mobile/Library/SMS/sms.db",
            "private/var/db/diagnostics/shutdown.0.log",
            "private/var/wireless/Library/Databases/DataUsage.sqlite",
            "private/var/root/Library/Caches/locationd/clients.plist",
        ] {
            assert!(n.wants(p), "{p}: {:?}", n.patterns());
        }
        assert!(!n.wants("private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC"));
    }
}
