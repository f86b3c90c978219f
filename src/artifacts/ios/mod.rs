//! iOS artifacts: backups (plain and encrypted) and filesystem dumps.
//!
//! One module per source, named with MVT's slug so results can be compared
//! side by side (`mvt-ios check-backup` writes `<slug>.json`). Every module
//! reads through [`IosBackup`], never through raw paths, so the same code
//! serves decrypted bytes from memory.

use std::path::Path;

use super::{ModuleResult, ScanOptions, run_module};
use crate::error::Result;
use crate::evidence::InputKind;
use crate::evidence::ios_backup::IosBackup;
use crate::model::{DeviceScan, ModuleOutput};

pub mod applications;
pub mod backup_info;
pub mod calendar;
pub mod calls;
pub mod chrome;
pub mod configuration_profiles;
pub mod contacts;
pub mod datausage;
pub mod filesystem;
pub mod firefox;
pub mod global_preferences;
pub mod id_status_cache;
pub mod interaction_c;
pub mod locationd_clients;
pub mod manifest;
pub mod manifest_rows;
pub mod os_analytics_ad_daily;
pub mod profile_events;
pub mod safari_browser_state;
pub mod safari_history;
pub mod shortcuts;
pub mod shutdown_log;
pub mod sms;
pub mod sms_attachments;
pub mod tcc;
pub mod triangulation;
pub mod util;
pub mod webkit_resource_load_statistics;
pub mod webkit_session_resource_log;
pub mod whatsapp;
pub mod whatsapp_contacts;
// Filesystem-dump modules (MVT's check-fs-only modules, issue 12).
pub mod analytics;
pub mod analytics_ios_versions;
pub mod analytics_logs;
pub mod cache_files;
pub mod ios_version_history;
pub mod netusage;
pub mod safari_favicon;
pub mod webkit_base;
pub mod webkit_indexeddb;
pub mod webkit_local_storage;
pub mod webkit_safari_view_service;

/// What a module gets: the backup and the scan options.
pub struct Ctx<'a> {
    pub backup: &'a IosBackup,
    pub opts: &'a ScanOptions,
}

/// An iOS module, declared once in its file as a `const` and listed in
/// [`BACKUP`] or [`FILESYSTEM`].
#[derive(Clone, Copy)]
pub struct Module {
    /// MVT's slug; records and `records/<name>.jsonl` carry it.
    pub name: &'static str,
    /// The logical path (`Domain/relative/path`, globs allowed) it reads,
    /// as reports show it.
    /// In the globs, `*` also matches across `/` (SQLite `GLOB`, as
    /// `IosBackup::find`), `{a,b}` lists alternatives, a leading `*/` or
    /// `AppDomain-*/` means any domain or any app container; a dump's
    /// domains map to device folders through `ios_domain::domain_root` and
    /// `ios_fs::CONTAINER_PARENTS` (`DatabaseDomain/x` is
    /// `private/var/db/x`).
    pub artifact: &'static str,
    pub run: fn(&Ctx<'_>) -> ModuleResult,
}

/// Modules run on backups and on filesystem dumps, in MVT's check-backup
/// order.
pub const BACKUP: &[Module] = &[
    backup_info::MODULE,
    configuration_profiles::MODULE,
    manifest::MODULE,
    profile_events::MODULE,
    calls::MODULE,
    chrome::FAVICON,
    chrome::HISTORY,
    contacts::MODULE,
    firefox::FAVICON,
    firefox::HISTORY,
    id_status_cache::MODULE,
    locationd_clients::MODULE,
    os_analytics_ad_daily::MODULE,
    datausage::MODULE,
    safari_browser_state::MODULE,
    safari_history::MODULE,
    tcc::MODULE,
    sms::MODULE,
    sms_attachments::MODULE,
    webkit_resource_load_statistics::MODULE,
    webkit_session_resource_log::MODULE,
    whatsapp::MODULE,
    whatsapp_contacts::MODULE,
    interaction_c::MODULE,
    shortcuts::MODULE,
    applications::MODULE,
    calendar::MODULE,
    global_preferences::MODULE,
    triangulation::MODULE,
];

/// Modules for files a backup never holds, run on filesystem dumps only
/// (after the [`BACKUP`] modules).
pub const FILESYSTEM: &[Module] = &[
    shutdown_log::MODULE,
    filesystem::MODULE,
    // MVT's check-fs-only modules, in its FS_MODULES order.
    cache_files::MODULE,
    netusage::MODULE,
    analytics::MODULE,
    analytics_ios_versions::MODULE,
    safari_favicon::MODULE,
    ios_version_history::MODULE,
    webkit_indexeddb::MODULE,
    webkit_local_storage::MODULE,
    webkit_safari_view_service::MODULE,
    // spydar's own (MVT lacks it).
    analytics_logs::MODULE,
];

/// `(name, artifact)` of every module an input kind runs.
pub(crate) fn listed(kind: InputKind) -> Vec<(&'static str, String)> {
    let extra = match kind {
        InputKind::IosFilesystem => FILESYSTEM,
        _ => &[],
    };
    BACKUP
        .iter()
        .chain(extra)
        .map(|m| (m.name, m.artifact.to_string()))
        .collect()
}

/// Runs every backup module on an opened backup, in parallel; the output
/// order is the table's order whatever the thread count.
pub fn run_backup_modules(backup: &IosBackup, opts: &ScanOptions) -> Vec<ModuleOutput> {
    run_modules(BACKUP, backup, opts)
}

fn run_modules(table: &[Module], backup: &IosBackup, opts: &ScanOptions) -> Vec<ModuleOutput> {
    let ctx = Ctx { backup, opts };
    // `manifest` reads the whole of Manifest.db: the rows other modules
    // need are collected on the way (see `manifest_rows`).
    if table.iter().any(|m| m.name == manifest::MODULE.name) {
        backup.manifest_rows().plan();
    }
    let outputs: Vec<std::sync::Mutex<Option<ModuleOutput>>> =
        table.iter().map(|_| std::sync::Mutex::new(None)).collect();
    // Started longest first, taken in that order by whichever worker is
    // free: the wall time of a scan is bounded below by its longest module.
    let mut order: Vec<usize> = (0..table.len()).collect();
    order.sort_by_key(|&i| {
        LONGEST_FIRST
            .iter()
            .position(|n| *n == table[i].name)
            .unwrap_or(LONGEST_FIRST.len())
    });
    let (ctx, outputs_ref) = (&ctx, &outputs);
    rayon::scope_fifo(|s| {
        for i in order {
            s.spawn_fifo(move |_| {
                let m = &table[i];
                let out = opts.finish(run_module(m.name, m.artifact, &opts.progress, || {
                    (m.run)(ctx)
                }));
                *outputs_ref[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            });
        }
    });
    outputs
        .into_iter()
        .filter_map(|o| o.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

/// The modules that take longest on a large backup (a profile of the
/// generated 200,000-message backup), longest first; the others follow
/// in table order.
const LONGEST_FIRST: [&str; 7] = [
    "sms",
    "manifest",
    "safari_history",
    "triangulation_timeline",
    "whatsapp",
    "sms_attachments",
    "webkit_session_resource_log",
];

/// Scans an iOS backup folder.
pub fn scan_backup(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let backup = crate::evidence::ios_backup_decrypt::open_backup(path, opts)?;
    let mut modules = run_backup_modules(&backup, opts);
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DeviceScan {
        device: backup.device_info(),
        modules,
        notes: Vec::new(),
    })
}

/// Scans an iOS filesystem dump: the dump is indexed as a backup (see
/// [`crate::evidence::ios_fs`]) and the backup modules run on it; the
/// `manifest` module then lists the walked files.
pub fn scan_filesystem(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let backup = filesystem::open_dump(path)?;
    let mut modules = run_backup_modules(&backup, opts);
    modules.extend(run_modules(FILESYSTEM, &backup, opts));
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DeviceScan {
        device: backup.device_info(),
        modules,
        notes: backup.dump_notes(),
    })
}
