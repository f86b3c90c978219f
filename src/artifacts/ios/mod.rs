//! iOS artifacts: backups (plain and encrypted) and filesystem dumps.
//!
//! One module per source, named with MVT's slug so results can be compared
//! side by side (`mvt-ios check-backup` writes `<slug>.json`). Every module
//! reads through [`IosBackup`], never through raw paths, so the same code
//! serves decrypted bytes from memory.

use std::path::Path;

use rayon::prelude::*;

use super::{ModuleError, ScanOptions, run_module};
use crate::error::Result;
use crate::evidence::ios_backup::IosBackup;
use crate::model::{DeviceScan, ModuleOutput, Record};

pub mod applications;
pub mod backup_info;
pub mod calendar;
pub mod calls;
pub mod chrome;
pub mod configuration_profiles;
pub mod contacts;
pub mod datausage;
pub mod firefox;
pub mod global_preferences;
pub mod id_status_cache;
pub mod interaction_c;
pub mod locationd_clients;
pub mod manifest;
pub mod os_analytics_ad_daily;
pub mod profile_events;
pub mod safari_browser_state;
pub mod safari_history;
pub mod shortcuts;
pub mod shutdown_log;
pub mod sms;
pub mod sms_attachments;
pub mod tcc;
pub mod util;
pub mod webkit_resource_load_statistics;
pub mod webkit_session_resource_log;
pub mod whatsapp;
pub mod whatsapp_contacts;

/// What a module gets: the backup and the scan options.
pub struct Ctx<'a> {
    pub backup: &'a IosBackup,
    pub opts: &'a ScanOptions,
}

type ModuleFn = fn(&Ctx<'_>) -> std::result::Result<Vec<Record>, ModuleError>;

/// `(slug, artifact description, function)`, in MVT's check-backup order.
pub const BACKUP_MODULES: &[(&str, &str, ModuleFn)] = &[
    ("backup_info", "Info.plist", backup_info::run),
    (
        "configuration_profiles",
        "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles/Library/ConfigurationProfiles/profile-*",
        configuration_profiles::run,
    ),
    ("manifest", "Manifest.db", manifest::run),
    (
        "profile_events",
        "*/Library/ConfigurationProfiles/MCProfileEvents.plist",
        profile_events::run,
    ),
    (
        "calls",
        "HomeDomain/Library/CallHistoryDB/CallHistory.storedata",
        calls::run,
    ),
    (
        "chrome_favicon",
        chrome::FAVICONS_ARTIFACT,
        chrome::run_favicon,
    ),
    (
        "chrome_history",
        chrome::HISTORY_ARTIFACT,
        chrome::run_history,
    ),
    (
        "contacts",
        "HomeDomain/Library/AddressBook/AddressBook.sqlitedb",
        contacts::run,
    ),
    ("firefox_favicon", firefox::ARTIFACT, firefox::run_favicon),
    ("firefox_history", firefox::ARTIFACT, firefox::run_history),
    (
        "id_status_cache",
        id_status_cache::ARTIFACT,
        id_status_cache::run,
    ),
    (
        "locationd_clients",
        locationd_clients::ARTIFACT,
        locationd_clients::run,
    ),
    (
        "os_analytics_ad_daily",
        os_analytics_ad_daily::ARTIFACT,
        os_analytics_ad_daily::run,
    ),
    (
        "datausage",
        "WirelessDomain/Library/Databases/DataUsage.sqlite",
        datausage::run,
    ),
    (
        "safari_browser_state",
        "*/Library/Safari/{,Profiles/*/}BrowserState.db",
        safari_browser_state::run,
    ),
    (
        "safari_history",
        "*/Library/Safari/{,Profiles/*/}History.db",
        safari_history::run,
    ),
    ("tcc", "HomeDomain/Library/TCC/TCC.db", tcc::run),
    ("sms", "HomeDomain/Library/SMS/sms.db", sms::run),
    (
        "sms_attachments",
        "HomeDomain/Library/SMS/sms.db",
        sms_attachments::run,
    ),
    (
        "webkit_resource_load_statistics",
        "*/Library/WebKit/WebsiteData/ResourceLoadStatistics/observations.db",
        webkit_resource_load_statistics::run,
    ),
    (
        "webkit_session_resource_log",
        "*/Library/WebKit/WebsiteData/ResourceLoadStatistics/full_browsing_session_resourceLog.plist",
        webkit_session_resource_log::run,
    ),
    ("whatsapp", whatsapp::ARTIFACT, whatsapp::run),
    (
        "whatsapp_contacts",
        whatsapp_contacts::ARTIFACT,
        whatsapp_contacts::run,
    ),
    (
        "interaction_c",
        "HomeDomain/Library/CoreDuet/People/interactionC.db",
        interaction_c::run,
    ),
    (
        "shortcuts",
        "HomeDomain/Library/Shortcuts/Shortcuts.sqlite",
        shortcuts::run,
    ),
    (
        "applications",
        "Info.plist (Applications)",
        applications::run,
    ),
    (
        "calendar",
        "HomeDomain/Library/Calendar/Calendar.sqlitedb",
        calendar::run,
    ),
    (
        "global_preferences",
        "HomeDomain/Library/Preferences/.GlobalPreferences.plist",
        global_preferences::run,
    ),
];

/// Modules for files a backup never holds, run on filesystem dumps only.
pub const FILESYSTEM_MODULES: &[(&str, &str, ModuleFn)] =
    &[("shutdown_log", shutdown_log::ARTIFACT, shutdown_log::run)];

/// Runs every backup module on an opened backup, in parallel; the output
/// order is the table's order whatever the thread count.
pub fn run_backup_modules(backup: &IosBackup, opts: &ScanOptions) -> Vec<ModuleOutput> {
    run_modules(BACKUP_MODULES, backup, opts)
}

fn run_modules(
    table: &[(&str, &str, ModuleFn)],
    backup: &IosBackup,
    opts: &ScanOptions,
) -> Vec<ModuleOutput> {
    let ctx = Ctx { backup, opts };
    table
        .par_iter()
        .map(|(name, artifact, f)| {
            opts.finish(run_module(name, artifact, &opts.progress, || f(&ctx)))
        })
        .collect()
}

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
    let backup = crate::evidence::ios_fs::open(path)?;
    let mut modules = run_backup_modules(&backup, opts);
    modules.extend(run_modules(FILESYSTEM_MODULES, &backup, opts));
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DeviceScan {
        device: backup.device_info(),
        modules,
        notes: Vec::new(),
    })
}
