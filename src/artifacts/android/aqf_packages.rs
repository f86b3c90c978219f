//! androidqf `packages.json`: installed packages with their APK hashes and
//! signing certificates, installer and flags. Installs from browsers, adb
//! and third-party stores, root packages and disabled security/update
//! packages are warnings.

use serde_json::Value;

use crate::model::{ObservableType, Record};

use super::dumpsys::is_root_package;
use super::{AqfModule, AqfRead};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_packages",
    artifact: "packages.json",
    read: AqfRead::Member(|data, member, _| parse(data, member)),
};

const SECURITY_PACKAGES: &[&str] = &[
    "com.policydm",
    "com.samsung.android.app.omcagent",
    "com.samsung.android.securitylogagent",
    "com.sec.android.soagent",
];
const SYSTEM_UPDATE_PACKAGES: &[&str] = &[
    "com.android.updater",
    "com.google.android.gms",
    "com.huawei.android.hwouc",
    "com.lge.lgdmsclient",
    "com.motorola.ccc.ota",
    "com.oneplus.opbackup",
    "com.oppo.ota",
    "com.transsion.systemupdate",
    "com.wssyncmldm",
];
const THIRD_PARTY_STORES: &[&str] = &["com.aurora.store", "org.fdroid.fdroid"];
const BROWSER_INSTALLERS: &[&str] = &[
    "com.google.android.packageinstaller",
    "com.android.packageinstaller",
];

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(o) => o.to_string(),
    }
}

pub fn parse(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    let items: Vec<Value> = serde_json::from_slice(data)
        .map_err(|e| format!("{artifact}: not a JSON array of packages: {e}"))?;
    let mut out = Vec::new();
    for p in items {
        let name = text(&p, "name");
        if name.is_empty() {
            continue;
        }
        let installer = text(&p, "installer");
        let system = p.get("system").and_then(Value::as_bool).unwrap_or(false);
        let disabled = p.get("disabled").and_then(Value::as_bool).unwrap_or(false);
        let files = p
            .get("files")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut r = Record::new(MODULE.name, artifact)
            .event("package", format!("Package {name} (installer {installer})"))
            .field("package_name", name.as_str())
            .field("installer", installer.as_str())
            .field("uid", p.get("uid").cloned().unwrap_or(Value::Null))
            .field("system", system)
            .field(
                "third_party",
                p.get("third_party")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            )
            .field("disabled", disabled)
            .field(
                "files",
                files.iter().map(|f| text(f, "path")).collect::<Vec<_>>(),
            )
            .observe(ObservableType::AppId, name.as_str());
        for f in &files {
            r.push_observable(ObservableType::Sha256, text(f, "sha256").to_lowercase());
            r.push_observable(ObservableType::Sha1, text(f, "sha1").to_lowercase());
            r.push_observable(ObservableType::Md5, text(f, "md5").to_lowercase());
            if let Some(c) = f.get("certificate") {
                for k in ["Md5", "Sha1", "Sha256"] {
                    r.push_observable(ObservableType::CertHash, text(c, k).to_lowercase());
                }
            }
        }
        if is_root_package(&name) {
            r = r.alert(
                &crate::rules::ANDROID_ROOT_PACKAGE,
                format!("Found an installed package related to rooting/jailbreaking: \"{name}\""),
            );
            out.push(r);
            continue;
        }
        if THIRD_PARTY_STORES.contains(&installer.as_str()) {
            r = r.alert(
                &crate::rules::ANDROID_THIRD_PARTY_STORE_INSTALL,
                format!("Found a package installed via a third party store (installer=\"{installer}\"): \"{name}\""),
            );
        } else if BROWSER_INSTALLERS.contains(&installer.as_str()) {
            r = r.alert(
                &crate::rules::ANDROID_BROWSER_INSTALL,
                format!("Found a package installed via a browser (installer=\"{installer}\"): \"{name}\""),
            );
        } else if installer == "null" && !system {
            r = r.alert(
                &crate::rules::ANDROID_SIDELOADED_PACKAGE,
                format!(
                    "Found a non-system package installed via adb or another method: \"{name}\""
                ),
            );
        }
        if disabled && SECURITY_PACKAGES.contains(&name.as_str()) {
            r = r.alert(
                &crate::rules::ANDROID_SECURITY_PACKAGE_DISABLED,
                format!("Security package \"{name}\" disabled on the phone"),
            );
        }
        if disabled && SYSTEM_UPDATE_PACKAGES.contains(&name.as_str()) {
            r = r.alert(
                &crate::rules::ANDROID_UPDATE_PACKAGE_DISABLED,
                format!("System OTA update package \"{name}\" disabled on the phone"),
            );
        }
        out.push(r);
    }
    Ok(out)
}
