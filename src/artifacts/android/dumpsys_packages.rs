//! `dumpsys package`, "Packages:": installed packages with install times,
//! installer, system flag and permissions. Root-related packages are
//! warnings, and so are the installer heuristics of MVT's `aqf_packages`
//! (a browser or the package installer installed it, or a non-system
//! package has no installer). Signing-certificate digests a line prints
//! (`Signing certificate SHA-256 digest: …`, `certDigests=[…]`) are matched
//! against `app:cert.*` indicators.

use serde_json::json;

use crate::model::{ObservableType, Record};

use super::dumpsys::{indent, is_root_package, parse_local};
use super::{DumpRead, DumpstateModule, Part};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_packages",
    in_androidqf: Some("aqf_dumpsys_packages"),
    part: Part::Service("package"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

const DANGEROUS_PERMISSIONS: &[&str] = &[
    "android.permission.ACCESS_COARSE_LOCATION",
    "android.permission.ACCESS_FINE_LOCATION",
    "android.permission.AUTHENTICATE_ACCOUNTS",
    "android.permission.CAMERA",
    "android.permission.DISABLE_KEYGUARD",
    "android.permission.PROCESS_OUTGOING_CALLS",
    "android.permission.READ_CALENDAR",
    "android.permission.READ_CALL_LOG",
    "android.permission.READ_CONTACTS",
    "android.permission.READ_PHONE_STATE",
    "android.permission.READ_SMS",
    "android.permission.RECEIVE_MMS",
    "android.permission.RECEIVE_SMS",
    "android.permission.RECEIVE_WAP_PUSH",
    "android.permission.RECORD_AUDIO",
    "android.permission.SEND_SMS",
    "android.permission.SYSTEM_ALERT_WINDOW",
    "android.permission.USE_CREDENTIALS",
    "android.permission.USE_SIP",
    "com.android.browser.permission.READ_HISTORY_BOOKMARKS",
];

#[derive(Default)]
struct Pkg {
    name: String,
    uid: String,
    version_name: String,
    version_code: String,
    timestamp: String,
    first_install: Vec<(Option<String>, String)>,
    last_update: String,
    installer: String,
    initiator: String,
    cert_hashes: Vec<String>,
    system: bool,
    permissions: Vec<(String, Option<bool>, &'static str)>,
}

fn split_packages(section: &str) -> Vec<Pkg> {
    let mut out = Vec::new();
    let mut started = false;
    let mut cur: Option<Pkg> = None;
    let mut block: Option<&'static str> = None;
    let mut user: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("Packages:") {
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some(rest) = line.strip_prefix("  Package [") {
            out.extend(cur.take());
            let name = rest.split(']').next().unwrap_or("").to_string();
            cur = Some(Pkg {
                name,
                ..Pkg::default()
            });
            block = None;
            user = None;
            continue;
        }
        let Some(p) = cur.as_mut() else { continue };
        let ind = indent(line);
        let t = line.trim();
        if t.to_ascii_lowercase().contains("cert") {
            p.cert_hashes.extend(cert_digests(t));
        }
        if ind == 4 {
            block = match t {
                "install permissions:" => Some("install"),
                "runtime permissions:" => Some("runtime"),
                "declared permissions:" => Some("declared"),
                "requested permissions:" => Some("requested"),
                _ => None,
            };
            if t.starts_with("User ") {
                user = t
                    .split(':')
                    .next()
                    .map(|u| u.trim_start_matches("User ").to_string());
            }
            if let Some(v) = t.strip_prefix("userId=") {
                // Android 2.x: `userId=10017 gids=[]`.
                p.uid = v.split_whitespace().next().unwrap_or("").to_string();
            } else if let Some(v) = t.strip_prefix("versionName=") {
                p.version_name = v.to_string();
            } else if let Some(v) = t.strip_prefix("versionCode=") {
                p.version_code = v.to_string();
            } else if let Some(v) = t.strip_prefix("timeStamp=") {
                p.timestamp = v.to_string();
            } else if let Some(v) = t.strip_prefix("installerPackageName=") {
                p.installer = v.to_string();
            } else if let Some(v) = t.strip_prefix("installInitiatingPackageName=") {
                p.initiator = v.to_string();
            } else if let Some(v) = t.strip_prefix("pkgFlags=") {
                p.system = v.split_whitespace().any(|x| x == "SYSTEM");
            } else if let Some(v) = t.strip_prefix("firstInstallTime=") {
                p.first_install.push((None, v.to_string()));
            } else if let Some(v) = t.strip_prefix("lastUpdateTime=") {
                p.last_update = v.to_string();
            }
            continue;
        }
        if ind == 6 && t.starts_with("firstInstallTime=") {
            p.first_install
                .push((user.clone(), t["firstInstallTime=".len()..].to_string()));
            continue;
        }
        if ind == 6 && t == "runtime permissions:" {
            block = Some("runtime");
            continue;
        }
        if block == Some("runtime") && ind < 8 {
            block = None;
        }
        let entry_indent = if block == Some("runtime") { 8 } else { 6 };
        if let Some(kind) = block
            && ind == entry_indent
        {
            let name = t.split(':').next().unwrap_or(t).trim().to_string();
            if name.is_empty() || name.contains(' ') {
                continue;
            }
            let granted = if t.contains("granted=true") {
                Some(true)
            } else if t.contains("granted=false") {
                Some(false)
            } else {
                None
            };
            if !p
                .permissions
                .iter()
                .any(|(n, _, k)| *n == name && *k == kind)
            {
                p.permissions.push((name, granted, kind));
            }
        }
    }
    out.extend(cur);
    out
}

/// Hex digests of certificates on a line: 32, 40 or 64 hex digits, colons
/// allowed (`AB:CD:…`); shorter tokens (`signatures:[b378e95c]`, a Java
/// hash code) are not digests.
fn cert_digests(line: &str) -> Vec<String> {
    line.split(|c: char| !(c.is_ascii_hexdigit() || c == ':'))
        .flat_map(|t| {
            let colons = t.contains(':') && t.split(':').all(|x| x.len() == 2);
            if colons {
                vec![t]
            } else {
                t.split(':').collect()
            }
        })
        .map(|t| t.replace(':', "").to_ascii_lowercase())
        .filter(|h| matches!(h.len(), 32 | 40 | 64) && h.bytes().any(|b| b.is_ascii_digit()))
        .collect()
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    // Android prints `installerPackageName=` only when there is one, and
    // very old releases never: no such line anywhere, no installer facts.
    let installers_shown = section.contains("installerPackageName=");
    for p in split_packages(section) {
        let first = p
            .first_install
            .iter()
            .find(|(u, _)| u.as_deref() == Some("0"))
            .or_else(|| p.first_install.iter().find(|(u, _)| u.is_none()))
            .or_else(|| p.first_install.first())
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        let perms: Vec<_> = p
            .permissions
            .iter()
            .map(|(n, g, k)| json!({"name": n, "granted": g, "type": k}))
            .collect();
        let dangerous = p
            .permissions
            .iter()
            .filter(|(n, g, _)| *g != Some(false) && DANGEROUS_PERMISSIONS.contains(&n.as_str()))
            .map(|(n, _, _)| n.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let base = |event: &str, when: &str| {
            Record::new(MODULE.name, artifact)
                .at(parse_local(when))
                .event(event, format!("Install or update of package {}", p.name))
                .field("package_name", p.name.as_str())
                .field("uid", p.uid.as_str())
                .field("version_name", p.version_name.as_str())
                .field("version_code", p.version_code.as_str())
                .field("installer", p.installer.as_str())
                .field("system", p.system)
        };
        // Only the main record carries the app id: one finding per package.
        let mut main = base("package_install", &p.timestamp)
            .observe(ObservableType::AppId, p.name.as_str())
            .field("install_initiator", p.initiator.as_str())
            .field("cert_digests", json!(p.cert_hashes))
            .field("first_install_time", first.as_str())
            .field("last_update_time", p.last_update.as_str())
            .field("permissions", perms);
        if is_root_package(&p.name) {
            main = main.alert(
                &crate::rules::ANDROID_ROOT_PACKAGE,
                format!(
                    "Found an installed package related to rooting/jailbreaking: \"{}\"",
                    p.name
                ),
            );
        }
        for h in &p.cert_hashes {
            main.push_observable(ObservableType::CertHash, h.as_str());
        }
        let installer = match p.installer.as_str() {
            "" if installers_shown => "null",
            "" => "?",
            i => i,
        };
        if !is_root_package(&p.name)
            && let Some((rule, message)) =
                super::aqf_packages::installer_alert(&p.name, installer, &p.initiator, p.system)
        {
            main = main.alert(rule, message);
        }
        if dangerous >= 10 && !p.system {
            main = main.alert(
                &crate::rules::ANDROID_MANY_DANGEROUS_PERMISSIONS,
                format!(
                    "Package \"{}\" holds {dangerous} dangerous permissions",
                    p.name
                ),
            );
        }
        out.push(main);
        if !first.is_empty() {
            out.push(base("package_first_install", &first));
        }
        if !p.last_update.is_empty() {
            out.push(base("package_last_update", &p.last_update));
        }
    }
    out
}

/// Number of distinct packages in a `parse` result.
pub fn package_count(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.event == "package_install")
        .count()
}
