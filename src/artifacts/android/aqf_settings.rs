//! androidqf `settings_<namespace>.txt` (`key=value`): Play Protect and
//! package verification turned off, ADB or accessibility on, crash reports
//! off are warnings. Also `selinux.txt` (permissive SELinux is a warning).

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::base_name;
use crate::model::{Record, Severity};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_settings",
    artifact: "settings_*.txt",
    read: AqfRead::Files(run),
};
pub const SELINUX: AqfModule = AqfModule {
    name: "aqf_selinux",
    artifact: "selinux.txt",
    read: AqfRead::Member(|data, member, _| {
        Ok(parse_selinux(&String::from_utf8_lossy(data), member))
    }),
};

/// Every `settings_<namespace>.txt`.
fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let s = q.src;
    let members: Vec<_> = s
        .find_all(|b| b.starts_with("settings_") && b.ends_with(".txt"))
        .collect();
    if members.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for m in members {
        let text = s.read_text(m)?;
        out.extend(parse(&text, namespace(base_name(&m.name)), &m.name));
    }
    Ok(out)
}

/// (key, safe value, what a different value means)
const DANGEROUS: &[(&str, &str, &str)] = &[
    (
        "verifier_verify_adb_installs",
        "1",
        "disabled Google Play Services apps verification",
    ),
    (
        "package_verifier_enable",
        "1",
        "disabled Google Play Protect",
    ),
    (
        "package_verifier_state",
        "1",
        "disabled APK package verification",
    ),
    (
        "package_verifier_user_consent",
        "1",
        "disabled Google Play Protect",
    ),
    ("upload_apk_enable", "1", "disabled Google Play Protect"),
    (
        "adb_install_need_confirm",
        "1",
        "disabled confirmation of adb apps installation",
    ),
    (
        "send_security_reports",
        "1",
        "disabled sharing of security reports",
    ),
    (
        "samsung_errorlog_agree",
        "1",
        "disabled sharing of crash logs with manufacturer",
    ),
    (
        "send_action_app_error",
        "1",
        "disabled applications errors reports",
    ),
    (
        "accessibility_enabled",
        "0",
        "enabled accessibility services",
    ),
    // Not in MVT: USB debugging left on after the acquisition.
    ("adb_enabled", "0", "USB debugging (ADB) is enabled"),
];

/// The rule id and message when `key` holds a value other than its safe one.
pub(crate) fn danger(namespace: &str, key: &str, value: &str) -> Option<(String, String)> {
    let (_, safe, why) = DANGEROUS.iter().find(|(k, _, _)| *k == key)?;
    (value != *safe).then(|| {
        (
            format!("android.setting.{key}"),
            format!("Found suspicious \"{namespace}\" setting \"{key} = {value}\" ({why})"),
        )
    })
}

/// `settings_secure.txt` → `secure`.
pub fn namespace(file_name: &str) -> &str {
    let stem = file_name.strip_suffix(".txt").unwrap_or(file_name);
    stem.rsplit('_').next().unwrap_or(stem)
}

pub fn parse(text: &str, namespace: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            continue;
        }
        let mut r = Record::new(MODULE.name, artifact)
            .event("setting", format!("{namespace} {key} = {value}"))
            .field("namespace", namespace)
            .field("key", key)
            .field("value", value);
        if let Some((rule, message)) = danger(namespace, key, value) {
            r = r.warn(&rule, Severity::Medium, message);
        }
        out.push(r);
    }
    out
}

pub fn parse_selinux(text: &str, artifact: &str) -> Vec<Record> {
    let mode = text.trim();
    if mode.is_empty() {
        return Vec::new();
    }
    let mut r = Record::new(SELINUX.name, artifact)
        .event("selinux", format!("SELinux is {mode}"))
        .field("mode", mode);
    if !mode.eq_ignore_ascii_case("enforcing") {
        r = r.warn(
            "android.selinux_not_enforcing",
            Severity::High,
            format!("SELinux is \"{mode}\", not enforcing: the phone's security policy is off"),
        );
    }
    vec![r]
}
