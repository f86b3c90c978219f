//! The catalogue of heuristic rules: every non-indicator finding spydar can
//! raise, with its level, severity and the words a person reads.
//!
//! A module raises a rule with `record.alert(&rules::SOME_RULE, message)`:
//! the constant makes a typo a compile error, the catalogue supplies the
//! level and severity, the module only the message about this record.
//! `spydar rules list` prints the catalogue, README's rule table is tested
//! against it, and `--allow rule:ID` is checked against it. Adding a
//! heuristic = one entry here (in id order, added to [`ALL`]) and the code
//! that raises it.

use crate::model::Level::{Info, Warning};
pub use crate::model::Rule;
use crate::model::Severity;

/// A source file of MVT (the Mobile Verification Toolkit), where most
/// of these heuristics were published.
macro_rules! mvt {
    ($path:literal) => {
        concat!(
            "https://github.com/mvt-project/mvt/blob/main/src/mvt/",
            $path
        )
    };
}

/// MVT's source files, as [`mvt!`] cites them.
pub const MVT_SOURCE: &str = "https://github.com/mvt-project/mvt/blob/main/src/mvt/";

/// A heuristic of spydar's own: `spydar heuristic: ` and why spydar raises
/// it where no publication does.
macro_rules! spydar {
    ($why:literal) => {
        concat!("spydar heuristic: ", $why)
    };
}

/// The prefix of a spydar heuristic's reference.
pub const SPYDAR_HEURISTIC: &str = "spydar heuristic: ";

const ISHUTDOWN: &str = "Kaspersky, \"A lightweight method to detect potential iOS malware\" (iShutdown, 2024): https://securelist.com/shutdown-log-lightweight-ios-malware-detection-method/111734/";

/// Every rule, sorted by id.
pub const ALL: &[Rule] = &[
    ANDROID_ACCESSIBILITY_SERVICE,
    ANDROID_ADB_HOST_KEY_EARLIER,
    ANDROID_ADB_INVALID_KEY,
    ANDROID_ADB_OTHER_HOST,
    ANDROID_ADB_UNKNOWN_HOST,
    ANDROID_AQF_HASH_MISMATCH,
    ANDROID_BROWSER_INSTALL,
    ANDROID_FILE_IN_TMP,
    ANDROID_INIT_SCRIPT,
    ANDROID_INTRUSION_CA_INSTALLED,
    ANDROID_INTRUSION_CERT_VALIDATION_FAILURE,
    ANDROID_INTRUSION_CRYPTO_SELF_TEST_FAILED,
    ANDROID_INTRUSION_KEY_INTEGRITY_VIOLATION,
    ANDROID_INTRUSION_WIPE_FAILURE,
    ANDROID_MAGISK_MODULE,
    ANDROID_MANY_DANGEROUS_PERMISSIONS,
    ANDROID_OLD_SECURITY_PATCH,
    ANDROID_PACKAGE_DOWNGRADED,
    ANDROID_PACKAGE_UNINSTALLED,
    ANDROID_PRIVILEGED_CRASH,
    ANDROID_RISKY_PERMISSION,
    ANDROID_ROOT_BINARY,
    ANDROID_ROOT_PACKAGE,
    ANDROID_SECURITY_PACKAGE_DISABLED,
    ANDROID_SELINUX_NOT_ENFORCING,
    ANDROID_SENSITIVE_RECEIVER,
    ANDROID_SETTING_ACCESSIBILITY_ENABLED,
    ANDROID_SETTING_ADB_ENABLED,
    ANDROID_SETTING_ADB_INSTALL_NEED_CONFIRM,
    ANDROID_SETTING_PACKAGE_VERIFIER_ENABLE,
    ANDROID_SETTING_PACKAGE_VERIFIER_STATE,
    ANDROID_SETTING_PACKAGE_VERIFIER_USER_CONSENT,
    ANDROID_SETTING_SAMSUNG_ERRORLOG_AGREE,
    ANDROID_SETTING_SEND_ACTION_APP_ERROR,
    ANDROID_SETTING_SEND_SECURITY_REPORTS,
    ANDROID_SETTING_UPLOAD_APK_ENABLE,
    ANDROID_SETTING_VERIFIER_VERIFY_ADB_INSTALLS,
    ANDROID_SIDELOADED_PACKAGE,
    ANDROID_SYSTEM_MOUNT_OPTIONS,
    ANDROID_SYSTEM_RW,
    ANDROID_THIRD_PARTY_STORE_INSTALL,
    ANDROID_UPDATE_PACKAGE_DISABLED,
    APPLICATIONS_NOT_FROM_APP_STORE,
    CALENDAR_QUADREAM_INVITE,
    CONFIGURATION_PROFILES_NOTIFICATION_SETTINGS,
    DATAUSAGE_MANIPULATED_PROCESS,
    DATAUSAGE_MISSING_PROCESS,
    GLOBAL_PREFERENCES_LOCKDOWN_MODE,
    ID_STATUS_CACHE_NUL_BYTES,
    PROFILE_EVENTS_OPERATION,
    SAFARI_HISTORY_FAST_REDIRECT,
    SHUTDOWN_LOG_DAEMON_OUTSIDE_SYSTEM,
    SHUTDOWN_LOG_EMPTY,
    SHUTDOWN_LOG_SINGLE_RECORD,
    SHUTDOWN_LOG_STICKY_PROCESS,
    SHUTDOWN_LOG_UNUSUAL_PATH,
    SMS_APPLE_THREAT_NOTIFICATION,
    SMS_ATTACHMENTS_DISGUISED_IMAGE,
    SMS_ATTACHMENTS_SUSPICIOUS_TMP,
    STALKERWARE_VENDOR_WEBSITE,
    STALKERWARE_WATCHWARE,
    TRIANGULATION_TIMELINE_WINDOW,
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}

/// Where a rule comes from, read from its `reference`, which is one of: an
/// MVT source file's URL; `NAME: URL` (a publication, possibly followed by
/// more text and links); a bare URL; or `spydar heuristic: WHY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source<'a> {
    /// A few words: `MVT android/artifacts/settings.py`, `Kaspersky, "..."
    /// (iShutdown, 2024)`, `spydar heuristic`.
    pub name: String,
    /// The publication or source file, if any.
    pub url: Option<&'a str>,
    /// Why spydar raises its own heuristic.
    pub why: Option<&'a str>,
}

/// The source of `rule`.
pub fn source(rule: &Rule) -> Source<'_> {
    let r = rule.reference.trim();
    if let Some(path) = r.strip_prefix(MVT_SOURCE) {
        return Source {
            name: format!("MVT {path}"),
            url: Some(r),
            why: None,
        };
    }
    if let Some(why) = r.strip_prefix(SPYDAR_HEURISTIC) {
        return Source {
            name: "spydar heuristic".into(),
            url: None,
            why: Some(why),
        };
    }
    // The first link names the source; a reference may cite more (a
    // report and its tool), which `rules list --json` shows in full.
    match r.find(": https://") {
        Some(i) => Source {
            name: r[..i].to_string(),
            url: r[i + 2..].split_whitespace().next(),
            why: None,
        },
        None => Source {
            name: r.to_string(),
            url: r.starts_with("https://").then_some(r),
            why: None,
        },
    }
}

// ---- Android ---------------------------------------------------------------

pub const ANDROID_ACCESSIBILITY_SERVICE: Rule = Rule {
    id: "android.accessibility_service",
    level: Warning,
    severity: Severity::Medium,
    title: "An accessibility service is installed or enabled",
    explanation: "An accessibility service can read everything on the screen and act for the user, which is why stalkerware and spyware ask for it. Screen readers, password managers and automation apps use it too, so it is a warning to review, not a detection. Check that the person knows the app and wants it to have this access.",
    reference: mvt!("android/artifacts/dumpsys_accessibility.py"),
};

pub const ANDROID_ADB_HOST_KEY_EARLIER: Rule = Rule {
    id: "android.adb_host_key_earlier",
    level: Info,
    severity: Severity::Info,
    title: "The acquiring computer was trusted before the acquisition",
    explanation: "The phone's keystore says the computer that made this androidqf acquisition last connected for USB debugging a day or more before the acquisition started. That is expected when the same computer checked the phone before; otherwise ask who used it.",
    reference: mvt!("android/modules/bugreport/dumpsys_adb_state.py"),
};

pub const ANDROID_ADB_INVALID_KEY: Rule = Rule {
    id: "android.adb_invalid_key",
    level: Warning,
    severity: Severity::Low,
    title: "A trusted ADB host key cannot be decoded",
    explanation: "The phone lists a computer it trusts for USB debugging whose key is not valid base64. It is more likely a damaged or unusual keystore than an attack. Compare with the computers the person has connected; revoking USB debugging authorisations in the developer options removes every trusted key.",
    reference: mvt!("android/modules/bugreport/dumpsys_adb_state.py"),
};

pub const ANDROID_ADB_OTHER_HOST: Rule = Rule {
    id: "android.adb_other_host",
    level: Warning,
    severity: Severity::Low,
    title: "The phone trusts an ADB host other than the acquiring one",
    explanation: "Inside an androidqf acquisition, the phone trusts a computer for USB debugging that is not the one that made the acquisition. Someone with that computer and the unlocked phone could install apps or read data. Developers and repair shops leave such keys too: ask whose computer it is, and revoke USB debugging authorisations if nobody knows.",
    reference: mvt!("android/modules/bugreport/dumpsys_adb_state.py"),
};

pub const ANDROID_ADB_UNKNOWN_HOST: Rule = Rule {
    id: "android.adb_unknown_host",
    level: Warning,
    severity: Severity::Low,
    title: "The phone trusts an ADB host, and the acquisition has no host key to compare",
    explanation: "The phone trusts a computer for USB debugging, and the androidqf acquisition does not record its own host key, so spydar cannot tell whether that computer is the acquiring one. Older androidqf versions wrote no host key (current ones record it in acquisition.json), so this is common with them. Ask whose computer it is, and revoke USB debugging authorisations if nobody knows.",
    reference: mvt!("android/modules/bugreport/dumpsys_adb_state.py"),
};

pub const ANDROID_AQF_HASH_MISMATCH: Rule = Rule {
    id: "android.aqf_hash_mismatch",
    level: Warning,
    severity: Severity::Medium,
    title: "A file of the androidqf acquisition no longer matches its recorded hash",
    explanation: "androidqf records the SHA-256 of every file it writes in hashes.csv. This file's content differs from what was recorded: it was changed after the acquisition, or the copy is damaged. Findings from it may not reflect the phone; get the original acquisition again and keep it read-only.",
    reference: "androidqf, \"Acquisition archives\" (hashes.csv: SHA-256 integrity records of the entries): https://github.com/mvt-project/androidqf/blob/main/docs/acquisition-archives.md",
};

pub const ANDROID_BROWSER_INSTALL: Rule = Rule {
    id: "android.browser_install",
    level: Warning,
    severity: Severity::Medium,
    title: "A package was installed from an APK file (e.g. a browser download)",
    explanation: "The package's installer is the system package installer, which is what opening a downloaded APK uses: the app did not come from a store. Spyware delivered by a link is installed this way, and so are many legitimate apps from vendors' sites. Check that the person knows the app and where it came from.",
    reference: mvt!("android/modules/androidqf/aqf_packages.py"),
};

pub const ANDROID_FILE_IN_TMP: Rule = Rule {
    id: "android.file_in_tmp",
    level: Warning,
    severity: Severity::High,
    title: "A file sits in /data/local/tmp/",
    explanation: "/data/local/tmp/ is where tools pushed over ADB, exploits and spyware stage their files. Developers and some acquisition tools use it too (androidqf's own collector is ignored). Look at the file's name, times and hashes; an executable nobody put there deserves an expert's look.",
    reference: mvt!("android/modules/androidqf/aqf_files.py"),
};

pub const ANDROID_INIT_SCRIPT: Rule = Rule {
    id: "android.init_script",
    level: Warning,
    severity: Severity::High,
    title: "A script runs at every boot from /system/etc/init.d",
    explanation: "Stock Android runs no init.d scripts; custom ROMs and root tools add them, and so can an implant that wants to survive reboots. androidqf could copy them only because the phone is already rooted. If the person did not install a custom ROM or root tool, seek expert help.",
    reference: "androidqf, init_scripts module (copies /system/etc/init.d, which stock Android does not have, from phones already rooted): https://github.com/mvt-project/androidqf/blob/main/modules/init_scripts.go",
};

pub const ANDROID_INTRUSION_CA_INSTALLED: Rule = Rule {
    id: "android.intrusion_ca_installed",
    level: Warning,
    severity: Severity::Medium,
    title: "A certificate authority was installed (intrusion log)",
    explanation: "The phone's intrusion log records a root certificate added to the trusted store. A certificate the person did not install lets whoever holds its key read and alter encrypted traffic (a man in the middle). Workplaces, VPNs and debugging proxies install them too: check the subject and ask who put it there.",
    reference: mvt!("android/modules/intrusion_logs/security_event.py"),
};

pub const ANDROID_INTRUSION_CERT_VALIDATION_FAILURE: Rule = Rule {
    id: "android.intrusion_cert_validation_failure",
    level: Warning,
    severity: Severity::Medium,
    title: "A certificate failed validation (intrusion log)",
    explanation: "The phone's intrusion log records an X.509 certificate that failed validation. An interception attempt looks like this, and so do expired or misconfigured certificates; several failures around one time, or one host, deserve a closer look.",
    reference: mvt!("android/modules/intrusion_logs/security_event.py"),
};

pub const ANDROID_INTRUSION_CRYPTO_SELF_TEST_FAILED: Rule = Rule {
    id: "android.intrusion_crypto_self_test_failed",
    level: Warning,
    severity: Severity::Medium,
    title: "The cryptographic self test failed (intrusion log)",
    explanation: "The phone's intrusion log records a failed self test of its cryptographic module. Tampered system code can cause this, as can a hardware or firmware fault; it is rare on a healthy phone.",
    reference: mvt!("android/modules/intrusion_logs/security_event.py"),
};

pub const ANDROID_INTRUSION_KEY_INTEGRITY_VIOLATION: Rule = Rule {
    id: "android.intrusion_key_integrity_violation",
    level: Warning,
    severity: Severity::Medium,
    title: "A key integrity violation was logged (intrusion log)",
    explanation: "The phone's intrusion log records that a key in the keystore failed its integrity check: the key material or its metadata changed outside the keystore. Tampering causes this; so can storage corruption.",
    reference: mvt!("android/modules/intrusion_logs/security_event.py"),
};

pub const ANDROID_INTRUSION_WIPE_FAILURE: Rule = Rule {
    id: "android.intrusion_wipe_failure",
    level: Warning,
    severity: Severity::Medium,
    title: "A device wipe failed (intrusion log)",
    explanation: "The phone's intrusion log records a wipe of the device or a user's data that did not complete. Data the person believed erased may still be there, and something may have blocked the wipe.",
    reference: mvt!("android/modules/intrusion_logs/security_event.py"),
};

pub const ANDROID_MAGISK_MODULE: Rule = Rule {
    id: "android.magisk_module",
    level: Warning,
    severity: Severity::High,
    title: "A Magisk module is installed",
    explanation: "Magisk modules change the system at every boot on a rooted phone (some hide root, some add system apps or hooks). A phone with Magisk is rooted, whoever did it. If the person did not root the phone or does not know the module, seek expert help.",
    reference: "androidqf, magisk_modules module (the Magisk modules of /data/adb/modules, collected from phones already rooted): https://github.com/mvt-project/androidqf/blob/main/modules/magisk_modules.go",
};

pub const ANDROID_MANY_DANGEROUS_PERMISSIONS: Rule = Rule {
    id: "android.many_dangerous_permissions",
    level: Info,
    severity: Severity::Info,
    title: "A non-system package holds 10 or more dangerous permissions",
    explanation: "Dangerous permissions give access to messages, calls, location, microphone, camera or contacts; spyware asks for many of them. Messaging and social apps do too, so this is context for reviewing the app list, not a warning.",
    reference: mvt!("android/artifacts/dumpsys_packages.py"),
};

pub const ANDROID_OLD_SECURITY_PATCH: Rule = Rule {
    id: "android.old_security_patch",
    level: Warning,
    severity: Severity::Medium,
    title: "The security patch is more than six months old",
    explanation: "The phone's security patch level is more than six months older than the acquisition: known vulnerabilities that spyware uses may be open. It says nothing about an infection. Update the phone, or replace it if the maker no longer ships updates.",
    reference: mvt!("android/artifacts/getprop.py"),
};

pub const ANDROID_PACKAGE_DOWNGRADED: Rule = Rule {
    id: "android.package_downgraded",
    level: Warning,
    severity: Severity::Medium,
    title: "A package was downgraded",
    explanation: "Battery statistics record a package going back to a lower version. Installing an older, vulnerable version of an app is a way to exploit it; so is a user rolling back an update they disliked. Check which app and when, and whether the person did it.",
    reference: mvt!("android/artifacts/dumpsys_battery_daily.py"),
};

pub const ANDROID_PACKAGE_UNINSTALLED: Rule = Rule {
    id: "android.package_uninstalled",
    level: Warning,
    severity: Severity::Medium,
    title: "A package was uninstalled",
    explanation: "Battery statistics record a package reaching version 0, an uninstall. Spyware removes itself, but people uninstall apps every day. The package name is matched against indicators; otherwise check whether the person knows the app and the date.",
    reference: mvt!("android/artifacts/dumpsys_battery_daily.py"),
};

pub const ANDROID_PRIVILEGED_CRASH: Rule = Rule {
    id: "android.privileged_crash",
    level: Warning,
    severity: Severity::Medium,
    title: "A root, system or shell process crashed",
    explanation: "A tombstone records a native crash of a process running as root (0), system (1000) or shell (2000). A failed exploit can crash such a process, and so do ordinary bugs, which are far more common. Look at the process, the signal and the abort message, and at other crashes around the same time.",
    reference: mvt!("android/artifacts/tombstone_crashes.py"),
};

pub const ANDROID_RISKY_PERMISSION: Rule = Rule {
    id: "android.risky_permission",
    level: Warning,
    severity: Severity::Medium,
    title: "An app may install packages, or the ADB shell holds a permission",
    explanation: "App ops record a package allowed to install other apps, or permissions held by the shell user that ADB commands run as. Spyware droppers need the first; browsers, file managers and stores have it legitimately. Check which app holds it and whether the person installed apps through it.",
    reference: mvt!("android/artifacts/dumpsys_appops.py"),
};

pub const ANDROID_ROOT_BINARY: Rule = Rule {
    id: "android.root_binary",
    level: Warning,
    severity: Severity::High,
    title: "A root tool (su, busybox, magisk, ...) is on the phone",
    explanation: "androidqf found a binary used to root the phone. A rooted phone has lost Android's app isolation, whoever rooted it. Some people root their own phones; if the person did not, treat the phone as compromised and seek expert help.",
    reference: mvt!("android/modules/androidqf/root_binaries.py"),
};

pub const ANDROID_ROOT_PACKAGE: Rule = Rule {
    id: "android.root_package",
    level: Warning,
    severity: Severity::Medium,
    title: "A rooting or root-hiding app is installed",
    explanation: "The package is on MVT's list of apps that root a phone or hide root (SuperSU, Magisk, Xposed, ...). It shows the phone is or was rooted, not that it is infected. If the person did not install it, seek expert help.",
    reference: mvt!("android/artifacts/dumpsys_packages.py"),
};

pub const ANDROID_SECURITY_PACKAGE_DISABLED: Rule = Rule {
    id: "android.security_package_disabled",
    level: Warning,
    severity: Severity::Medium,
    title: "A security package is disabled",
    explanation: "A system package that protects the phone (for example Google Play Protect's components) is disabled. Spyware may turn such packages off; so may a user or a debloating tool. Re-enable it and ask who disabled it.",
    reference: mvt!("android/modules/androidqf/aqf_packages.py"),
};

pub const ANDROID_SELINUX_NOT_ENFORCING: Rule = Rule {
    id: "android.selinux_not_enforcing",
    level: Warning,
    severity: Severity::High,
    title: "SELinux is not enforcing",
    explanation: "SELinux confines every process on Android; a permissive or disabled policy removes that barrier, which rooting and some exploits do. Development builds can also run permissive. On a phone from a shop this is serious: seek expert help.",
    reference: mvt!("android/modules/adb/selinux_status.py"),
};

pub const ANDROID_SENSITIVE_RECEIVER: Rule = Rule {
    id: "android.sensitive_receiver",
    level: Info,
    severity: Severity::Info,
    title: "A package receives SMS or call events",
    explanation: "The package registers for incoming or outgoing SMS, data SMS, phone state or outgoing calls, which spyware uses to intercept messages and calls. Messaging, dialler and many other apps do the same, so this is context for reviewing the app list.",
    reference: mvt!("android/artifacts/dumpsys_receivers.py"),
};

const SETTINGS: &str = mvt!("android/artifacts/settings.py");

pub const ANDROID_SETTING_ACCESSIBILITY_ENABLED: Rule = Rule {
    id: "android.setting.accessibility_enabled",
    level: Warning,
    severity: Severity::Medium,
    title: "Accessibility services are enabled",
    explanation: "The setting accessibility_enabled is on: at least one accessibility service can read the screen and act for the user. Spyware relies on this, and so do screen readers and automation apps. Check which services are enabled (see android.accessibility_service).",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_ADB_ENABLED: Rule = Rule {
    id: "android.setting.adb_enabled",
    level: Warning,
    severity: Severity::Medium,
    title: "USB debugging (ADB) is enabled",
    explanation: "adb_enabled is on: a trusted computer can install apps and read data over USB. An acquisition turns it on, so it is expected right after one; left on for daily use it is a risk. Turn USB debugging off after the acquisition. Not in MVT.",
    reference: spydar!(
        "MVT's settings check leaves adb_enabled out because an acquisition turns it on, but USB debugging left on lets anyone holding the unlocked phone install apps, so spydar names it."
    ),
};

pub const ANDROID_SETTING_ADB_INSTALL_NEED_CONFIRM: Rule = Rule {
    id: "android.setting.adb_install_need_confirm",
    level: Warning,
    severity: Severity::Medium,
    title: "Installs over ADB need no confirmation",
    explanation: "adb_install_need_confirm is off: apps pushed over USB debugging install without the user confirming. Someone with brief access to the phone could use it; developers turn it off too. Turn it back on.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_PACKAGE_VERIFIER_ENABLE: Rule = Rule {
    id: "android.setting.package_verifier_enable",
    level: Warning,
    severity: Severity::Medium,
    title: "Google Play Protect is disabled",
    explanation: "package_verifier_enable is off: Play Protect no longer scans apps. Spyware installers turn it off; some users do too. Turn Play Protect back on and scan the phone.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_PACKAGE_VERIFIER_STATE: Rule = Rule {
    id: "android.setting.package_verifier_state",
    level: Warning,
    severity: Severity::Medium,
    title: "APK package verification is disabled",
    explanation: "package_verifier_state is not 1: installed APKs are not verified. Spyware installers turn verification off; some users and vendor builds do too. Turn Play Protect back on.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_PACKAGE_VERIFIER_USER_CONSENT: Rule = Rule {
    id: "android.setting.package_verifier_user_consent",
    level: Warning,
    severity: Severity::Medium,
    title: "Google Play Protect is disabled (user consent)",
    explanation: "package_verifier_user_consent is not 1: the user's consent to Play Protect scanning is withdrawn. Spyware installers change it; some users decline it. Turn Play Protect back on.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_SAMSUNG_ERRORLOG_AGREE: Rule = Rule {
    id: "android.setting.samsung_errorlog_agree",
    level: Warning,
    severity: Severity::Medium,
    title: "Sharing crash logs with the manufacturer is disabled",
    explanation: "samsung_errorlog_agree is off: crash logs are not sent to Samsung, so a crashing exploit may go unreported. Many users decline this sharing, so it is weak on its own; read it with the other settings.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_SEND_ACTION_APP_ERROR: Rule = Rule {
    id: "android.setting.send_action_app_error",
    level: Warning,
    severity: Severity::Medium,
    title: "Application error reports are disabled",
    explanation: "send_action_app_error is off: app crash reports are not sent, so a crashing exploit may go unreported. Many users decline this sharing, so it is weak on its own; read it with the other settings.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_SEND_SECURITY_REPORTS: Rule = Rule {
    id: "android.setting.send_security_reports",
    level: Warning,
    severity: Severity::Medium,
    title: "Sharing security reports is disabled",
    explanation: "send_security_reports is off: Play Protect does not send reports about harmful apps. Spyware installers may turn it off; many users decline it. Read it with the other settings.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_UPLOAD_APK_ENABLE: Rule = Rule {
    id: "android.setting.upload_apk_enable",
    level: Warning,
    severity: Severity::Medium,
    title: "Google Play Protect is disabled (APK upload)",
    explanation: "upload_apk_enable is off: unknown apps are not sent to Google for scanning. Spyware installers turn it off so their APK is never seen; some users decline it. Turn it back on.",
    reference: SETTINGS,
};

pub const ANDROID_SETTING_VERIFIER_VERIFY_ADB_INSTALLS: Rule = Rule {
    id: "android.setting.verifier_verify_adb_installs",
    level: Warning,
    severity: Severity::Medium,
    title: "Apps installed over ADB are not verified",
    explanation: "verifier_verify_adb_installs is off: Google Play Services does not check apps installed over USB debugging. Someone installing spyware with brief physical access would turn it off; developers do too. Turn it back on.",
    reference: SETTINGS,
};

pub const ANDROID_SIDELOADED_PACKAGE: Rule = Rule {
    id: "android.sideloaded_package",
    level: Warning,
    severity: Severity::Medium,
    title: "A non-system package has no installer (adb or another method)",
    explanation: "The package records no installer: it was pushed over ADB or installed some other way than a store or the package installer. Spyware installed by someone with physical access looks like this; so do developers' builds. Check that the person knows the app.",
    reference: mvt!("android/modules/androidqf/aqf_packages.py"),
};

pub const ANDROID_SYSTEM_MOUNT_OPTIONS: Rule = Rule {
    id: "android.system_mount_options",
    level: Warning,
    severity: Severity::Medium,
    title: "A system partition has unusual mount options",
    explanation: "A system partition is mounted with rw, remount, noatime or nodiratime, which modified systems use; some vendors ship noatime on partitions other than /system (those are excused). Read it with android.system_rw and the root rules.",
    reference: mvt!("android/artifacts/mounts.py"),
};

pub const ANDROID_SYSTEM_RW: Rule = Rule {
    id: "android.system_rw",
    level: Warning,
    severity: Severity::High,
    title: "A system partition is mounted read-write",
    explanation: "System partitions are read-only on a stock phone; mounted read-write, the system can be changed, which rooting and persistent implants need. Custom ROMs and development builds do this too. If the person did not modify the phone, seek expert help.",
    reference: mvt!("android/artifacts/mounts.py"),
};

pub const ANDROID_THIRD_PARTY_STORE_INSTALL: Rule = Rule {
    id: "android.third_party_store_install",
    level: Info,
    severity: Severity::Info,
    title: "A package was installed from a third-party store",
    explanation: "The package came from F-Droid or the Aurora Store rather than Google Play. That is a deliberate choice of many users, so it is context: it tells where to look if an app is unknown.",
    reference: mvt!("android/modules/androidqf/aqf_packages.py"),
};

pub const ANDROID_UPDATE_PACKAGE_DISABLED: Rule = Rule {
    id: "android.update_package_disabled",
    level: Warning,
    severity: Severity::Medium,
    title: "A system update package is disabled",
    explanation: "The package that installs system updates (OTA) is disabled, so the phone stops receiving security fixes, which keeps an exploited hole open. Debloating tools and users who dislike updates do this too. Re-enable it and update the phone.",
    reference: mvt!("android/modules/androidqf/aqf_packages.py"),
};

// ---- iOS -------------------------------------------------------------------

pub const APPLICATIONS_NOT_FROM_APP_STORE: Rule = Rule {
    id: "applications.not_from_app_store",
    level: Warning,
    severity: Severity::Medium,
    title: "An app was not installed from the App Store or MDM",
    explanation: "The backup's app list names a source other than the App Store or device management. Enterprise and TestFlight apps show this too. Check that the person knows the app and where it came from.",
    reference: mvt!("ios/modules/mixed/applications.py"),
};

pub const CALENDAR_QUADREAM_INVITE: Rule = Rule {
    id: "calendar.quadream_invite",
    level: Warning,
    severity: Severity::High,
    title: "A calendar event matches QuaDream's ENDOFDAYS invitations",
    explanation: "An event titled \"Meeting\" with notes \"Notes\" is the shape of the calendar invitations that delivered QuaDream's ENDOFDAYS exploit (Citizen Lab, 2023: https://citizenlab.ca/2023/04/spyware-vendor-quadream-exploits-victims-customers/). The words are ordinary, so an event the person made themselves matches too. Look at the organiser and the date; an invitation from a stranger deserves an expert's look.",
    reference: mvt!("ios/modules/mixed/calendar.py"),
};

pub const CONFIGURATION_PROFILES_NOTIFICATION_SETTINGS: Rule = Rule {
    id: "configuration_profiles.notification_settings",
    level: Warning,
    severity: Severity::Medium,
    title: "A configuration profile changes notification settings",
    explanation: "An installed configuration profile's first payload changes notification settings, which spyware has used to hide its alerts. Device management and parental controls install such profiles too. Check who installed the profile and remove it if nobody knows it.",
    reference: mvt!("ios/modules/backup/configuration_profiles.py"),
};

pub const DATAUSAGE_MANIPULATED_PROCESS: Rule = Rule {
    id: "datausage.manipulated_process",
    level: Warning,
    severity: Severity::High,
    title: "A network-usage row points to a deleted process record",
    explanation: "In DataUsage.sqlite or netusage.sqlite, a live-usage row refers to a process row that is gone: what is left when something erases its own process record but not its network use. Database maintenance can leave such rows too. Look at the time of the usage row and the rest of the timeline around it.",
    reference: mvt!("ios/modules/net_base.py"),
};

pub const DATAUSAGE_MISSING_PROCESS: Rule = Rule {
    id: "datausage.missing_process",
    level: Warning,
    severity: Severity::Low,
    title: "A process record is missing from network usage",
    explanation: "A process id is missing between others in DataUsage.sqlite or netusage.sqlite: a row was deleted, by iOS pruning old rows (common) or by something erasing its traces. Weak on its own; read it with datausage.manipulated_process and the timeline.",
    reference: mvt!("ios/modules/net_base.py"),
};

pub const GLOBAL_PREFERENCES_LOCKDOWN_MODE: Rule = Rule {
    id: "global_preferences.lockdown_mode",
    level: Info,
    severity: Severity::Info,
    title: "Whether Lockdown Mode is on",
    explanation: "Whether Apple's Lockdown Mode was enabled, which blocks many of the attack paths mercenary spyware uses. Context for the reader: people at risk are advised to turn it on.",
    reference: mvt!("ios/modules/mixed/global_preferences.py"),
};

pub const ID_STATUS_CACHE_NUL_BYTES: Rule = Rule {
    id: "id_status_cache.nul_bytes",
    level: Warning,
    severity: Severity::High,
    title: "An iMessage/FaceTime lookup contains NUL bytes",
    explanation: "A handle that iMessage or FaceTime looked up contains NUL bytes, which exploit deliveries have produced; a person never types them. It is not a published indicator, so corrupted data could also explain it. Look at the lookup's time and the messages around it, and seek expert help.",
    reference: mvt!("ios/modules/mixed/idstatuscache.py"),
};

pub const PROFILE_EVENTS_OPERATION: Rule = Rule {
    id: "profile_events.operation",
    level: Info,
    severity: Severity::Info,
    title: "A configuration profile was installed or removed",
    explanation: "Which process installed or removed which configuration profile, and when. Profiles can route traffic or install certificates, and spyware has installed them; most come from employers, schools or VPN apps. Context for reading the profiles the phone holds.",
    reference: mvt!("ios/modules/backup/profile_events.py"),
};

pub const SAFARI_HISTORY_FAST_REDIRECT: Rule = Rule {
    id: "safari_history.fast_redirect",
    level: Warning,
    severity: Severity::Medium,
    title: "An http:// visit redirected to another domain in under a second",
    explanation: "Network injection (as used to deliver Pegasus) rewrites a plain-http page so the browser jumps to an exploit server at once. Ordinary redirects, such as link shorteners and sign-in pages, are also fast. Look at the destination domain and what happened on the phone right after.",
    reference: mvt!("ios/modules/mixed/safari_history.py"),
};

pub const SHUTDOWN_LOG_DAEMON_OUTSIDE_SYSTEM: Rule = Rule {
    id: "shutdown_log.daemon_outside_system",
    level: Warning,
    severity: Severity::Medium,
    title: "A daemon-like process ran from outside the system folders",
    explanation: "A process named like a system daemon (com.apple.*, or a name ending in d) delayed a reboot while running from outside /System, /usr, /sbin, /bin, /Applications or an app bundle. Spyware hides under such names; some third-party components use them too. Look at the full path and search it in the published indicators.",
    reference: spydar!(
        "an extension of iShutdown's data-folder check: spyware names its processes like system daemons (Pegasus's roleaccountd and bh), so a daemon name running from outside the system folders is that disguise."
    ),
};

pub const SHUTDOWN_LOG_EMPTY: Rule = Rule {
    id: "shutdown_log.empty",
    level: Warning,
    severity: Severity::Low,
    title: "The shutdown log is empty",
    explanation: "An empty shutdown.log may have been wiped, which was reported for Pegasus in 2022; a device that was never rebooted has an empty log too. Reboot the device, take a new sysdiagnose later, and compare.",
    reference: ISHUTDOWN,
};

pub const SHUTDOWN_LOG_SINGLE_RECORD: Rule = Rule {
    id: "shutdown_log.single_record",
    level: Warning,
    severity: Severity::Low,
    title: "The shutdown log holds a single reboot",
    explanation: "A log with one reboot record may have been cleared; on iOS 26 the log is rewritten at each reboot, so one record is normal there. Not evidence of wiping: take sysdiagnoses after later reboots to build a history.",
    reference: ISHUTDOWN,
};

pub const SHUTDOWN_LOG_STICKY_PROCESS: Rule = Rule {
    id: "shutdown_log.sticky_process",
    level: Warning,
    severity: Severity::Medium,
    title: "A process delayed a reboot 3 or more times",
    explanation: "At a reboot, launchd waited for this process three or more times: the sticky-process trait Kaspersky found with Pegasus. Busy system daemons can also be slow to stop. Look at the process's path: a system path with a known daemon is usually benign, anything else deserves an expert's look.",
    reference: ISHUTDOWN,
};

pub const SHUTDOWN_LOG_UNUSUAL_PATH: Rule = Rule {
    id: "shutdown_log.unusual_path",
    level: Warning,
    severity: Severity::Medium,
    title: "A process ran from a data folder (/private/var/db/, /private/var/tmp/, /tmp/)",
    explanation: "iOS keeps data, not programs, in these folders; Pegasus, Reign and Predator ran from them. It is not a published indicator, and tools installed by a developer or a jailbreak can run there too. Look at the name and seek expert help if nobody knows it.",
    reference: ISHUTDOWN,
};

pub const SMS_APPLE_THREAT_NOTIFICATION: Rule = Rule {
    id: "sms.apple_threat_notification",
    level: Warning,
    severity: Severity::High,
    title: "Apple's threat notification was received",
    explanation: "A message starts like Apple's notice that it believes the device was targeted by mercenary spyware (https://support.apple.com/en-us/102174). It is Apple's judgement, not a spydar detection, and scammers imitate it: confirm at account.apple.com, turn on Lockdown Mode, and contact Access Now's Digital Security Helpline.",
    reference: mvt!("ios/modules/mixed/sms.py"),
};

pub const SMS_ATTACHMENTS_DISGUISED_IMAGE: Rule = Rule {
    id: "sms_attachments.disguised_image",
    level: Warning,
    severity: Severity::High,
    title: "A message attachment named as an image is a document, program or archive",
    explanation: "The attachment's name ends in an image extension (.gif, .jpg, .png, .heic, ...) but its first bytes are a PDF, a Photoshop file, an executable, an archive or another non-picture type. Pegasus's FORCEDENTRY zero-click exploit arrived in iMessage as .gif files that were PDF and PSD files, so that the image parser would open them. A picture saved under another picture's extension is common and is not reported; a document under an image name is rare. Look at the sender and the time of the message, keep the file, and seek expert help.",
    reference: "Citizen Lab, \"FORCEDENTRY: NSO Group iMessage Zero-Click Exploit Captured in the Wild\" (2021): https://citizenlab.ca/2021/09/forcedentry-nso-group-imessage-zero-click-exploit-captured-in-the-wild/",
};

pub const SMS_ATTACHMENTS_SUSPICIOUS_TMP: Rule = Rule {
    id: "sms_attachments.suspicious_tmp",
    level: Warning,
    severity: Severity::Medium,
    title: "A received iMessage attachment under /var/tmp/ ending in -1",
    explanation: "Received attachments at /var/tmp/...-1 match how Pegasus's FORCEDENTRY exploit arrived (2021). Other attachments can be stored there too. Look at the sender and the time, and compare with the rest of the timeline.",
    reference: mvt!("ios/modules/mixed/sms_attachments.py"),
};

pub const TRIANGULATION_TIMELINE_WINDOW: Rule = Rule {
    id: "triangulation_timeline.window",
    level: Warning,
    severity: Severity::High,
    title: "Unrelated activity coincided within 5 minutes, as in Operation Triangulation",
    explanation: "Kaspersky's published heuristic for Operation Triangulation (triangle-check, 2023): within up to 10 consecutive timeline events spanning at most 5 minutes, at least two of these coincide: an SMS attachment folder modified and changed with no attachment file in it, a change to ImageIO, locationd or FaceTime preferences, network use by nehelper, WebKit or two datausage services, and location services stopped by IonosphereHarvest or WRMLinkSelection. The zero-click exploit, delivered by iMessage, left such bursts. Ordinary use can line up by chance, so it is a strong hint, not a detection. Look at the events in the record, run Kaspersky's triangle-check on the same backup, check DataUsage and the SMS database around that minute, and look for a BackupAgent process; if it holds up, keep the backup and seek expert help.",
    reference: "Kaspersky, \"Operation Triangulation: iOS devices targeted with previously unknown malware\" (2023): https://securelist.com/operation-triangulation/109842/ and triangle-check: https://github.com/KasperskyLab/triangle_check",
};

// ---- Stalkerware (raised through `indicators::roles` on an indicator match) ----

const ECHAP: &str = "Echap, stalkerware-indicators (CC BY 4.0): https://github.com/AssoEchap/stalkerware-indicators";

pub const STALKERWARE_VENDOR_WEBSITE: Rule = Rule {
    id: "stalkerware.vendor_website",
    level: Warning,
    severity: Severity::Medium,
    title: "The device visited a stalkerware or watchware vendor's public website",
    explanation: "A domain that Echap's stalkerware set lists as the vendor's public website (not a server the app talks to) was found on the device, usually in browser history. Visiting a vendor's site is not an infection: someone may have read about the product, or bought it. It is worth asking who used the phone then, and checking the app list for the product the site sells.",
    reference: ECHAP,
};

pub const STALKERWARE_WATCHWARE: Rule = Rule {
    id: "stalkerware.watchware",
    level: Warning,
    severity: Severity::High,
    title: "A watchware app (parental control, family locator) is installed or in use",
    explanation: "The app, its signing certificate, its APK or its server is in Echap's watchware list: monitoring software sold for consensual use, such as parental controls and family locators. It is legitimate, unlike covert stalkerware, but it can read location, messages or activity and is abused to follow a partner. Ask whether the person installed it, knows who sees its data, and wants it; if not, get help from a domestic-violence or digital-safety service before removing it, since removal can alert whoever installed it.",
    reference: ECHAP,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    /// `shutdown_log.sticky_process` → `SHUTDOWN_LOG_STICKY_PROCESS`.
    fn const_name(id: &str) -> String {
        id.to_uppercase().replace('.', "_")
    }

    /// Where `name` occurs as a whole identifier in `text`.
    fn has_ident(text: &str, name: &str) -> bool {
        text.match_indices(name).any(|(i, _)| {
            !text[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn catalogue_is_sorted_unique_and_complete() {
        for w in ALL.windows(2) {
            assert!(w[0].id < w[1].id, "{} before {}", w[0].id, w[1].id);
        }
        for r in ALL {
            let shape = r.id.split('.').count() >= 2
                && r.id.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            assert!(shape, "{}: ids are dotted snake_case", r.id);
            match r.level {
                Level::Warning => assert_ne!(r.severity, Severity::Info, "{}", r.id),
                Level::Info => assert_eq!(r.severity, Severity::Info, "{}", r.id),
                Level::Detected => panic!("{}: detected is for indicators only", r.id),
            }
            for text in [r.title, r.explanation, r.reference] {
                assert!(!text.trim().is_empty(), "{}: empty text", r.id);
                assert!(!text.contains(['\n', '|']), "{}: one line, no |", r.id);
            }
            assert!(!r.title.ends_with('.'), "{}: a title, not a sentence", r.id);
            assert_eq!(find(r.id), Some(r));
        }
        assert_eq!(find("shutdown_log.stiky_process"), None);
    }

    /// Every rule names its source: an MVT source file, a publication with
    /// its URL, or spydar's own reason.
    #[test]
    fn every_rule_names_its_source() {
        assert!(mvt!("x.py").starts_with(MVT_SOURCE));
        for r in ALL {
            let s = source(r);
            assert!(!s.name.trim().is_empty(), "{}: no source", r.id);
            match (s.url, s.why) {
                (Some(url), None) => {
                    assert!(url.starts_with("https://"), "{}: {url}", r.id);
                    assert!(!url.contains(' '), "{}: {url}", r.id);
                    if s.name.starts_with("MVT ") {
                        assert!(url.ends_with(".py"), "{}: {url}", r.id);
                    }
                }
                (None, Some(why)) => {
                    assert_eq!(s.name, "spydar heuristic");
                    assert!(why.len() > 40 && why.ends_with('.'), "{}: say why", r.id);
                }
                _ => panic!("{}: a source is a URL or spydar's reason", r.id),
            }
        }
        let by = |name: &str| {
            ALL.iter()
                .filter(|r| source(r).name.starts_with(name))
                .count()
        };
        assert!(by("MVT ") > 30);
        assert!(by("Kaspersky") >= 4);
        assert!(by("Citizen Lab") >= 1);
        assert_eq!(by("spydar heuristic"), 2);
        // A reference citing a report and its tool: the report names it.
        let two = Rule {
            reference: "Kaspersky, \"Operation Triangulation\" (2023): https://securelist.com/a/ and triangle-check: https://github.com/b",
            ..SHUTDOWN_LOG_EMPTY
        };
        let s = source(&two);
        assert_eq!(s.name, "Kaspersky, \"Operation Triangulation\" (2023)");
        assert_eq!(s.url, Some("https://securelist.com/a/"));
    }

    /// Each `pub const` here is a rule named after its id and listed in `ALL`.
    #[test]
    fn every_constant_is_listed_under_its_id() {
        let src = include_str!("rules.rs");
        let mut declared = Vec::new();
        let mut lines = src.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line
                .strip_prefix("pub const ")
                .and_then(|l| l.strip_suffix(": Rule = Rule {"))
            else {
                continue;
            };
            let id = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("id: \""))
                .and_then(|l| l.strip_suffix("\","))
                .unwrap_or_else(|| panic!("{name}: id must be the first field"));
            assert_eq!(name, const_name(id));
            declared.push(id);
        }
        declared.sort_unstable();
        let listed: Vec<&str> = ALL.iter().map(|r| r.id).collect();
        assert_eq!(declared, listed);
    }

    /// Every rule is raised somewhere in `src/artifacts`, always through the
    /// catalogue: no module builds a `Rule` or an `Alert` of its own.
    #[test]
    fn every_rule_is_raised_by_a_module_through_the_catalogue() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/artifacts");
        let sources: Vec<(String, String)> = walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap();
                (e.path().display().to_string(), text)
            })
            .collect();
        assert!(
            sources.len() > 20,
            "artifact sources not found under {root:?}"
        );
        // Indicator roles (a vendor website, a watchware app) raise theirs on a match.
        let roles = root.join("../indicators/roles.rs");
        let sources: Vec<(String, String)> = sources
            .into_iter()
            .chain([(
                roles.display().to_string(),
                std::fs::read_to_string(&roles).unwrap(),
            )])
            .collect();
        for r in ALL {
            let path = format!("rules::{}", const_name(r.id));
            assert!(
                sources.iter().any(|(_, text)| has_ident(text, &path)),
                "{} is in the catalogue but no module raises it",
                r.id
            );
        }
        for (path, text) in &sources {
            for made in ["Rule {", "Alert {"] {
                assert!(
                    !text.contains(made),
                    "{path}: builds a {made}..}}; raise a catalogue rule with Record::alert"
                );
            }
        }
    }
}
