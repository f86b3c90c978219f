//! androidqf `settings_<namespace>.txt` (`key=value`): Play Protect and
//! package verification turned off, ADB or accessibility on, crash reports
//! off are warnings. Also `selinux.txt` (permissive SELinux is a warning),
//! and the system's own `settings_<namespace>.xml` (ABX binary XML since
//! Android 12, text XML before) when an acquisition holds them.

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::model::{Record, Rule};
use crate::rules;
use crate::strings::base_name;

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_settings",
    artifact: "settings_*.txt, settings_*.xml",
    read: AqfRead::Files(run),
};
pub const SELINUX: AqfModule = AqfModule {
    name: "aqf_selinux",
    artifact: "selinux.txt",
    read: AqfRead::Member(|data, member, _| {
        Ok(parse_selinux(&String::from_utf8_lossy(data), member))
    }),
};

/// Every `settings_<namespace>.txt` and `settings_<namespace>.xml`; an
/// unreadable XML file is an error only when nothing else could be read.
fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let s = q.src;
    let members: Vec<_> = s
        .find_all(|b| b.starts_with("settings_") && (b.ends_with(".txt") || b.ends_with(".xml")))
        .collect();
    if members.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for m in members {
        let ns = namespace(base_name(&m.name));
        if m.name.ends_with(".xml") {
            match parse_xml(&s.read(m)?, ns, &m.name) {
                Ok(r) => out.extend(r),
                Err(e) => errors.push(e),
            }
        } else {
            let text = s.read_text(m)?;
            out.extend(parse(&text, ns, &m.name));
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(out)
}

/// `settings_<namespace>.xml` (`<settings><setting name=… value=…/>`),
/// ABX or text: the same records as the `.txt` form.
pub fn parse_xml(data: &[u8], namespace: &str, artifact: &str) -> Result<Vec<Record>, String> {
    let doc = crate::evidence::abx::read(data).map_err(|e| format!("{artifact}: {e}"))?;
    let mut out = Vec::new();
    for (_, e) in doc.named("setting") {
        let key = e.attr_text("name");
        if key.trim().is_empty() {
            continue;
        }
        out.push(setting_record(
            namespace,
            key.trim(),
            e.attr_text("value").trim(),
            artifact,
        ));
    }
    Ok(out)
}

fn setting_record(namespace: &str, key: &str, value: &str, artifact: &str) -> Record {
    let mut r = Record::new(MODULE.name, artifact)
        .event("setting", format!("{namespace} {key} = {value}"))
        .field("namespace", namespace)
        .field("key", key)
        .field("value", value);
    if let Some((rule, message)) = danger(namespace, key, value) {
        r = r.alert(rule, message);
    }
    r
}

/// (key, safe value, what a different value means, the rule it raises)
const DANGEROUS: &[(&str, &str, &str, &Rule)] = &[
    (
        "verifier_verify_adb_installs",
        "1",
        "disabled Google Play Services apps verification",
        &rules::ANDROID_SETTING_VERIFIER_VERIFY_ADB_INSTALLS,
    ),
    (
        "package_verifier_enable",
        "1",
        "disabled Google Play Protect",
        &rules::ANDROID_SETTING_PACKAGE_VERIFIER_ENABLE,
    ),
    (
        "package_verifier_state",
        "1",
        "disabled APK package verification",
        &rules::ANDROID_SETTING_PACKAGE_VERIFIER_STATE,
    ),
    (
        "package_verifier_user_consent",
        "1",
        "disabled Google Play Protect",
        &rules::ANDROID_SETTING_PACKAGE_VERIFIER_USER_CONSENT,
    ),
    (
        "upload_apk_enable",
        "1",
        "disabled Google Play Protect",
        &rules::ANDROID_SETTING_UPLOAD_APK_ENABLE,
    ),
    (
        "adb_install_need_confirm",
        "1",
        "disabled confirmation of adb apps installation",
        &rules::ANDROID_SETTING_ADB_INSTALL_NEED_CONFIRM,
    ),
    (
        "send_security_reports",
        "1",
        "disabled sharing of security reports",
        &rules::ANDROID_SETTING_SEND_SECURITY_REPORTS,
    ),
    (
        "samsung_errorlog_agree",
        "1",
        "disabled sharing of crash logs with manufacturer",
        &rules::ANDROID_SETTING_SAMSUNG_ERRORLOG_AGREE,
    ),
    (
        "send_action_app_error",
        "1",
        "disabled applications errors reports",
        &rules::ANDROID_SETTING_SEND_ACTION_APP_ERROR,
    ),
    (
        "accessibility_enabled",
        "0",
        "enabled accessibility services",
        &rules::ANDROID_SETTING_ACCESSIBILITY_ENABLED,
    ),
    // Not in MVT: USB debugging left on after the acquisition.
    (
        "adb_enabled",
        "0",
        "USB debugging (ADB) is enabled",
        &rules::ANDROID_SETTING_ADB_ENABLED,
    ),
];

/// The rule and message when `key` holds a value other than its safe one.
pub(crate) fn danger(namespace: &str, key: &str, value: &str) -> Option<(&'static Rule, String)> {
    let (_, safe, why, rule) = DANGEROUS.iter().find(|(k, _, _, _)| *k == key)?;
    (value != *safe).then(|| {
        (
            *rule,
            format!("Found suspicious \"{namespace}\" setting \"{key} = {value}\" ({why})"),
        )
    })
}

/// `settings_secure.txt` (or `.xml`) → `secure`.
pub fn namespace(file_name: &str) -> &str {
    let stem = file_name
        .strip_suffix(".txt")
        .or_else(|| file_name.strip_suffix(".xml"))
        .unwrap_or(file_name);
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
        out.push(setting_record(namespace, key, value, artifact));
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
        r = r.alert(
            &rules::ANDROID_SELINUX_NOT_ENFORCING,
            format!("SELinux is \"{mode}\", not enforcing: the phone's security policy is off"),
        );
    }
    vec![r]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports name these rules `android.setting.<key>`; the catalogue must too.
    #[test]
    fn each_setting_raises_the_rule_named_after_its_key() {
        for (key, safe, _, rule) in DANGEROUS {
            assert_eq!(rule.id, format!("android.setting.{key}"));
            assert!(danger("secure", key, safe).is_none());
            let (raised, _) = danger("secure", key, "x").unwrap();
            assert_eq!(raised.id, rule.id);
        }
    }
}
