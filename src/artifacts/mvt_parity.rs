//! MVT's module list, per command, beside spydar's: for every MVT module,
//! the spydar module that reads the same thing on the same input, or why
//! there is none. `tests/module_table.rs` joins this with the registries
//! ([`super::modules`]) for README's module table, and fails when an MVT
//! module has neither a counterpart in the registry nor a reason.
//!
//! The lists are MVT 2026.10.26's (`*_MODULES` in `mvt/ios/modules/*` and
//! `mvt/android/modules/*`, by each module's `get_slug()`); the ignored test
//! `module_table::mvt_lists_are_the_installed_mvts` compares them with an
//! installed MVT.

use crate::evidence::InputKind;

/// The MVT release these lists are taken from.
pub const MVT_VERSION: &str = "2026.10.26";

/// The reason given for an MVT module another helper is porting in the
/// same round; once it is in the registry the test asks for `Same`.
pub const PLANNED: &str = "planned: being ported this round";

/// What spydar has for one MVT module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spydar {
    /// A module of the same name on the same input.
    Same,
    /// A module of another name on the same input.
    Named(&'static str),
    /// Being ported this round ([`PLANNED`]).
    Planned,
    /// No module, and why.
    Reason(&'static str),
}

/// One MVT module of a command.
#[derive(Clone, Copy, Debug)]
pub struct MvtModule {
    /// MVT's slug (its results file name).
    pub slug: &'static str,
    pub spydar: Spydar,
}

/// One MVT `check-*` command and the modules it runs.
#[derive(Clone, Copy, Debug)]
pub struct MvtCommand {
    /// `mvt-ios check-backup`, ...
    pub command: &'static str,
    /// spydar's input kind for the same evidence (`None`: spydar has none yet).
    pub input: Option<InputKind>,
    /// What to call the input when spydar has no kind for it.
    pub input_name: &'static str,
    /// MVT's module lists the command runs, in order.
    pub lists: &'static [&'static [MvtModule]],
}

impl MvtCommand {
    /// Its modules, in MVT's order.
    pub fn modules(&self) -> impl Iterator<Item = &'static MvtModule> + use<> {
        self.lists.iter().flat_map(|l| l.iter())
    }
}

const fn same(slug: &'static str) -> MvtModule {
    MvtModule {
        slug,
        spydar: Spydar::Same,
    }
}

const fn reason(slug: &'static str, why: &'static str) -> MvtModule {
    MvtModule {
        slug,
        spydar: Spydar::Reason(why),
    }
}

/// `mvt/ios/modules/backup` (check-backup only).
const IOS_BACKUP: &[MvtModule] = &[
    same("backup_info"),
    same("configuration_profiles"),
    same("manifest"),
    same("profile_events"),
];

/// `mvt/ios/modules/mixed` (check-backup and check-fs).
const IOS_MIXED: &[MvtModule] = &[
    same("calls"),
    same("chrome_favicon"),
    same("chrome_history"),
    same("contacts"),
    same("firefox_favicon"),
    same("firefox_history"),
    same("id_status_cache"),
    same("interaction_c"),
    same("locationd_clients"),
    same("os_analytics_ad_daily"),
    same("datausage"),
    same("safari_browser_state"),
    same("safari_history"),
    same("tcc"),
    same("sms"),
    same("sms_attachments"),
    same("webkit_resource_load_statistics"),
    same("webkit_session_resource_log"),
    same("whatsapp"),
    same("whatsapp_contacts"),
    same("shortcuts"),
    same("applications"),
    same("calendar"),
    same("global_preferences"),
];

/// `mvt/ios/modules/fs` (check-fs only).
const IOS_FS: &[MvtModule] = &[
    same("cache_files"),
    same("filesystem"),
    same("netusage"),
    same("analytics"),
    same("analytics_ios_versions"),
    same("safari_favicon"),
    same("shutdown_log"),
    same("ios_version_history"),
    same("webkit_indexeddb"),
    same("webkit_local_storage"),
    same("webkit_safari_view_service"),
];

const IOS_SYSDIAGNOSE: &[MvtModule] = &[reason(
    "sysdiagnose_info",
    "not a module: the device facts it extracts (model, iOS version and build, device name) go into the report's `device` section (`sysdiagnose/device.rs`); the App Store daemon database it also reads is module `app_store`",
)];

/// `mvt/android/modules/androidqf`.
const ANDROIDQF: &[MvtModule] = &[
    same("aqf_packages"),
    same("aqf_processes"),
    same("aqf_get_prop"),
    same("aqf_settings"),
    same("aqf_files"),
    same("aqf_log_timestamps"),
    same("root_binaries"),
    same("mounts"),
];

/// `mvt/android/modules/bugreport` but its last, `mounts` (whose slug
/// check-androidqf's own `mounts` has).
const BUGREPORT: &[MvtModule] = &[
    same("dumpsys_accessibility"),
    same("dumpsys_activities"),
    same("dumpsys_appops"),
    same("dumpsys_battery_daily"),
    same("dumpsys_battery_history"),
    same("dbinfo"),
    same("dumpsys_get_prop"),
    same("dumpsys_packages"),
    same("dumpsys_platform_compat"),
    same("dumpsys_receivers"),
    same("dumpsys_adb_state"),
    same("bugreport_timestamps"),
    same("tombstones"),
    same("processes"),
    same("settings"),
];

/// Bugreport `mounts` (`FS/proc/*/mountinfo`). check-androidqf runs it too,
/// on its `bugreport.zip`, beside its own `mounts` (`mounts.json`): the
/// slug once per command, so it is listed for check-bugreport only; spydar
/// calls the nested one `bugreport_mounts`.
const BUGREPORT_MOUNTS: &[MvtModule] = &[same("mounts")];

/// MVT modules that one command runs a second time under the same slug,
/// and spydar's name for that second run: (command, MVT slug, spydar
/// module). check-androidqf runs its own `mounts` on `mounts.json` and the
/// bugreport `mounts` on its `bugreport.zip`; MVT's results keep one slug,
/// the command lists above keep it once, and this says where the second
/// run went.
pub const SECOND_RUNS: &[(&str, &str, &str)] =
    &[("mvt-android check-androidqf", "mounts", "bugreport_mounts")];

/// `mvt/android/modules/backup`.
const ANDROID_BACKUP: &[MvtModule] = &[same("sms")];

/// `mvt/android/modules/intrusion_logs` (check-intrusion-logs).
const INTRUSION_LOGS: &[MvtModule] = &[
    same("dns_event"),
    same("connect_event"),
    same("security_event"),
];

/// Every MVT `check-*` command that runs modules, in MVT's order.
pub const COMMANDS: &[MvtCommand] = &[
    MvtCommand {
        command: "mvt-ios check-backup",
        input: Some(InputKind::IosBackup),
        input_name: "ios-backup",
        lists: &[IOS_BACKUP, IOS_MIXED],
    },
    MvtCommand {
        command: "mvt-ios check-fs",
        input: Some(InputKind::IosFilesystem),
        input_name: "ios-filesystem",
        lists: &[IOS_FS, IOS_MIXED],
    },
    MvtCommand {
        command: "mvt-ios check-sysdiagnose",
        input: Some(InputKind::Sysdiagnose),
        input_name: "sysdiagnose",
        lists: &[IOS_SYSDIAGNOSE],
    },
    MvtCommand {
        command: "mvt-android check-androidqf",
        input: Some(InputKind::Androidqf),
        input_name: "androidqf",
        // Then the bugreport modules on its `bugreport.zip`, the backup
        // module on its `backup.ab`, the intrusion-log modules on its
        // `intrusion_logs/`.
        lists: &[ANDROIDQF, BUGREPORT, ANDROID_BACKUP, INTRUSION_LOGS],
    },
    MvtCommand {
        command: "mvt-android check-bugreport",
        input: Some(InputKind::AndroidBugreport),
        input_name: "android-bugreport",
        lists: &[BUGREPORT, BUGREPORT_MOUNTS],
    },
    MvtCommand {
        command: "mvt-android check-backup",
        input: Some(InputKind::AndroidBackup),
        input_name: "android-backup",
        lists: &[ANDROID_BACKUP],
    },
    MvtCommand {
        command: "mvt-android check-intrusion-logs",
        input: Some(InputKind::AndroidIntrusionLogs),
        input_name: "android-intrusion-logs",
        lists: &[INTRUSION_LOGS],
    },
];

/// The MVT modules of `kind` (every command reading that input), by slug,
/// each once, with the commands that run it.
pub fn for_kind(kind: InputKind) -> Vec<(&'static MvtModule, Vec<&'static str>)> {
    let mut out: Vec<(&'static MvtModule, Vec<&'static str>)> = Vec::new();
    for c in COMMANDS.iter().filter(|c| c.input == Some(kind)) {
        for m in c.modules() {
            match out.iter_mut().find(|(o, _)| o.slug == m.slug) {
                Some((_, cmds)) => {
                    if !cmds.contains(&c.command) {
                        cmds.push(c.command);
                    }
                }
                None => out.push((m, vec![c.command])),
            }
        }
    }
    out
}

impl MvtModule {
    /// The spydar module it names, if any.
    pub fn counterpart(&self) -> Option<&'static str> {
        match self.spydar {
            Spydar::Same => Some(self.slug),
            Spydar::Named(n) => Some(n),
            Spydar::Planned | Spydar::Reason(_) => None,
        }
    }

    /// Why spydar has no counterpart, if it has none.
    pub fn reason(&self) -> Option<&'static str> {
        match self.spydar {
            Spydar::Planned => Some(PLANNED),
            Spydar::Reason(r) => Some(r),
            Spydar::Same | Spydar::Named(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_per_list_and_counted_as_mvt_has_them() {
        let n = |c: &MvtCommand| c.modules().count();
        let counts: Vec<(&str, usize)> = COMMANDS.iter().map(|c| (c.command, n(c))).collect();
        assert_eq!(
            counts,
            [
                ("mvt-ios check-backup", 28),
                ("mvt-ios check-fs", 35),
                ("mvt-ios check-sysdiagnose", 1),
                ("mvt-android check-androidqf", 27),
                ("mvt-android check-bugreport", 16),
                ("mvt-android check-backup", 1),
                ("mvt-android check-intrusion-logs", 3),
            ]
        );
        for c in COMMANDS {
            let mut slugs: Vec<&str> = c.modules().map(|m| m.slug).collect();
            slugs.sort_unstable();
            let len = slugs.len();
            slugs.dedup();
            assert_eq!(slugs.len(), len, "{}: a slug twice", c.command);
            for m in c.modules() {
                assert!(m.counterpart().is_some() != m.reason().is_some());
                if let Some(r) = m.reason() {
                    assert!(r.len() > 20, "{}: say why", m.slug);
                }
            }
        }
    }
}
