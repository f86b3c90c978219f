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
//! that are no index row are kept as bare path observables, 1,000 to a
//! record ([`crate::artifacts::observe::Listed`], for `recheck`; index rows
//! are listed by `manifest`), plus one summary record. The sweep is one for
//! `filesystem` and `manifest` ([`dump_flags`]): each path is swept once.

use super::util::jts;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::IosBackup;
use crate::evidence::ios_fs::{DumpEntry, DumpListing};
use crate::evidence::ios_fs_archive::Needs;
use crate::evidence::ios_fs_index::{DumpFlags, DumpIndex};
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
        && let Some(index) = ctx.backup.dump_index()
    {
        let listed = sweep.keeps_observables().then(|| {
            crate::artifacts::observe::Listed::new(MODULE.name, ARTIFACT, ctx.opts.sink.clone())
        });
        let flags = dump_flags(index, sweep.as_ref());
        return Ok(swept(&listing, &flags.filesystem, listed, index));
    }
    Ok(entries.iter().map(|e| record(&listing.full(e))).collect())
}

/// The paths of a dump that mention an indicator, for `filesystem` and
/// `manifest` alike, from one sweep over the listing (made by whichever of
/// the two asks first; see [`DumpIndex::flags`]). Each path is one line
/// holding what both modules match it on: its absolute and `/var/…`
/// spellings and, for a path in a backup domain, what `manifest` adds (the
/// device path when it is another, the file name, the hosts WebKit embeds
/// in it). The few lines flagged are swept again as each module words them,
/// so each module keeps exactly the paths it would flag alone.
pub fn dump_flags(
    index: &DumpIndex,
    sweep: &dyn crate::artifacts::TextSweep,
) -> std::sync::Arc<DumpFlags> {
    index.flags(|| {
        let listing = index.listing();
        let mut text = String::new();
        let mut maybe: Vec<usize> = Vec::new();
        let entries = &listing.entries;
        for (n, batch) in entries.chunks(BATCH).enumerate() {
            text.clear();
            for (i, e) in batch.iter().enumerate() {
                let at = n * BATCH + i;
                let start = text.len();
                push_line(&mut text, &e.path);
                text.pop();
                if let Some((domain, rel, _)) =
                    index.row_of_entry(at).and_then(|r| index.row(r as usize))
                {
                    push_manifest_part(&mut text, domain, rel);
                }
                one_line(&mut text, start);
                text.push('\n');
            }
            maybe.extend(
                sweep
                    .flagged_lines(text.as_bytes())
                    .iter()
                    .map(|l| n * BATCH + l.line_no.wrapping_sub(1)),
            );
        }
        // Each module's own lines, for the paths flagged above.
        text.clear();
        for &at in &maybe {
            push_line(&mut text, &entries[at].path);
        }
        let filesystem = sweep
            .flagged_lines(text.as_bytes())
            .iter()
            .filter_map(|l| maybe.get(l.line_no.wrapping_sub(1)))
            .map(|&at| at as u32)
            .collect();
        let rows: Vec<u32> = maybe
            .iter()
            .filter_map(|&at| index.row_of_entry(at))
            .collect();
        text.clear();
        for &r in &rows {
            if let Some((domain, rel, _)) = index.row(r as usize) {
                super::manifest::push_row_line(&mut text, domain, rel);
            }
        }
        let mut manifest: Vec<u32> = sweep
            .flagged_lines(text.as_bytes())
            .iter()
            .filter_map(|l| rows.get(l.line_no.wrapping_sub(1)).copied())
            .collect();
        manifest.sort_unstable();
        DumpFlags {
            filesystem,
            manifest,
        }
    })
}

/// What `manifest`'s line for the row adds to the path's line (see
/// `manifest::push_sweep_line`): its device path when that is not the
/// absolute path already on the line (a container's rows say `/` +
/// relative path), its file name, the hosts in its name.
fn push_manifest_part(text: &mut String, domain: &str, rel: &str) {
    if crate::evidence::ios_backup::domain_root(domain).is_none() {
        text.push_str(" /");
        text.push_str(rel);
    }
    text.push(' ');
    text.push_str(rel.rsplit('/').next().unwrap_or(""));
    for h in super::manifest::embedded_domains(rel) {
        text.push(' ');
        text.push_str(&h);
    }
}

/// One line of `filesystem`'s sweep: both forms of the path (see `forms`).
fn push_line(text: &mut String, path: &str) {
    let start = text.len();
    text.push('/');
    text.push_str(path);
    if let Some(rest) = path.strip_prefix("private/var/") {
        text.push_str(" /var/");
        text.push_str(rest);
    }
    one_line(text, start);
    text.push('\n');
}

/// Line breaks in the text from `start` become spaces (one line a path).
pub(super) fn one_line(text: &mut String, start: usize) {
    if memchr::memchr2(b'\n', b'\r', &text.as_bytes()[start..]).is_some() {
        let line = text[start..].replace(['\n', '\r'], " ");
        text.truncate(start);
        text.push_str(&line);
    }
}

/// Large dumps: only the paths the shared sweep flagged (`flagged`,
/// ascending listing positions) are records; see the module documentation.
fn swept(
    listing: &DumpListing,
    flagged: &[u32],
    mut listed: Option<crate::artifacts::observe::Listed>,
    index: &DumpIndex,
) -> Vec<Record> {
    let entries = &listing.entries;
    let out: Vec<Record> = flagged
        .iter()
        .filter_map(|&at| entries.get(at as usize))
        .map(|e| record(&listing.full(e)))
        .collect();
    if let Some(l) = listed.as_mut() {
        let mut flagged = flagged.iter().peekable();
        for (n, batch) in entries.chunks(BATCH).enumerate() {
            let mut lines = Vec::new();
            for (i, e) in batch.iter().enumerate() {
                if flagged
                    .next_if(|&&at| at as usize == n * BATCH + i)
                    .is_some()
                {
                    lines.push(crate::artifacts::SweptLine {
                        line_no: i + 1,
                        range: 0..0,
                    });
                }
                // Index rows are listed by `manifest`.
                l.row(if index.row_of_entry(n * BATCH + i).is_some() {
                    Vec::new()
                } else {
                    vec![Observable {
                        kind: ObservableType::FilePath,
                        value: format!("/{}", e.path),
                    }]
                });
            }
            l.batch(&lines);
        }
    }
    let kept = out.len();
    let mut out = out;
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
    let modified = e.mtime().and_then(crate::time::from_unix);
    let mut r = Record::new(MODULE.name, ARTIFACT)
        .at(modified)
        .event("entry_modified", e.path.to_string())
        .field("path", e.path.to_string())
        .field("kind", e.kind.as_str())
        .field("modified", jts(modified));
    if e.kind == crate::evidence::ios_fs::EntryKind::File {
        r = r.field("size", e.size());
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
