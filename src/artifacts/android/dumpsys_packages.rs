//! `dumpsys package`, "Packages:": installed packages with install times,
//! installer, system flag and permissions. Root-related packages are
//! warnings, and so are the installer heuristics of MVT's `aqf_packages`
//! (a browser or the package installer installed it, or a non-system
//! package has no installer). Signing-certificate digests a line prints
//! (`Signing certificate SHA-256 digest: …`, `certDigests=[…]`) are matched
//! against `app:cert.*` indicators. "Hidden system packages:" (the factory
//! versions of updated system packages, which MVT 2026 reads as
//! `package_type: hidden_system`) are read too, one record each, without
//! counting the package twice or raising the installer heuristics.

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
    /// Listed under "Hidden system packages:": the factory version of an
    /// updated system package, which the update hides.
    hidden: bool,
    code_path: String,
}

fn split_packages(section: &str) -> Vec<Pkg> {
    let mut out = Vec::new();
    let mut started = false;
    let mut cur: Option<Pkg> = None;
    let mut block: Option<&'static str> = None;
    let mut user: Option<String> = None;
    let mut hidden = false;
    for line in section.lines() {
        if line.starts_with("Packages:") || line.starts_with("Hidden system packages:") {
            out.extend(cur.take());
            started = true;
            hidden = line.starts_with("Hidden");
            continue;
        }
        if !started {
            continue;
        }
        if line.trim().is_empty() {
            // The end of the list; "Hidden system packages:" may follow.
            out.extend(cur.take());
            started = false;
            continue;
        }
        if let Some(rest) = line.strip_prefix("  Package [") {
            out.extend(cur.take());
            let name = rest.split(']').next().unwrap_or("").to_string();
            cur = Some(Pkg {
                name,
                hidden,
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
            } else if let Some(v) = t.strip_prefix("codePath=") {
                p.code_path = v.to_string();
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
    let (hidden, packages): (Vec<Pkg>, Vec<Pkg>) =
        split_packages(section).into_iter().partition(|p| p.hidden);
    for p in packages {
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
        main = root_alert(main, &p.name);
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
    let hidden_records: Vec<Record> = hidden
        .iter()
        .map(|h| hidden_record(h, &out, artifact))
        .collect();
    out.extend(hidden_records);
    out
}

/// The root-package warning, when `name` is a rooting app.
fn root_alert(r: Record, name: &str) -> Record {
    if !is_root_package(name) {
        return r;
    }
    r.alert(
        &crate::rules::ANDROID_ROOT_PACKAGE,
        format!("Found an installed package related to rooting/jailbreaking: \"{name}\""),
    )
}

/// A "Hidden system packages:" entry: the factory version of an updated
/// system package. The updated package is the installed one (its record
/// carries the app id, the installer heuristics and the root-package
/// warning); this record carries the factory version's facts, its code
/// path and any certificate digest the update does not have. Only when no
/// installed package has its name does it carry the app id itself.
fn hidden_record(h: &Pkg, installed: &[Record], artifact: &str) -> Record {
    let active = installed
        .iter()
        .find(|r| r.event == "package_install" && r.fields["package_name"] == h.name.as_str());
    let mut r = Record::new(MODULE.name, artifact)
        .at(parse_local(&h.timestamp))
        .event(
            "hidden_system_package",
            format!("Factory version of updated system package {}", h.name),
        )
        .field("package_name", h.name.as_str())
        .field("package_type", "hidden_system")
        .field("uid", h.uid.as_str())
        .field("version_name", h.version_name.as_str())
        .field("version_code", h.version_code.as_str())
        .field("code_path", h.code_path.as_str())
        .field("system", h.system)
        .field("updated_package_listed", active.is_some())
        .field("cert_digests", json!(h.cert_hashes));
    if !h.code_path.is_empty() {
        r.push_observable(ObservableType::FilePath, h.code_path.as_str());
    }
    let known = |d: &str| {
        active.is_some_and(|a| {
            a.observables
                .iter()
                .any(|o| o.kind == ObservableType::CertHash && o.value == d)
        })
    };
    for d in h.cert_hashes.iter().filter(|d| !known(d)) {
        r.push_observable(ObservableType::CertHash, d.as_str());
    }
    if active.is_none() {
        r.push_observable(ObservableType::AppId, h.name.as_str());
        r = root_alert(r, &h.name);
    }
    r
}

/// Number of distinct installed packages in a `parse` result (hidden
/// factory versions of updated system packages are not counted again).
pub fn package_count(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.event == "package_install")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObservableType as T;

    const SECTION: &str = "\
Packages:
  Package [com.google.android.gms] (1a2b3c):
    userId=10146
    codePath=/data/app/~~x==/com.google.android.gms-y==
    versionCode=224312044 minSdk=30 targetSdk=33
    versionName=22.43.12
    timeStamp=2026-10-01 10:00:00
    lastUpdateTime=2026-10-01 10:00:00
    installerPackageName=com.android.vending
    pkgFlags=[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA UPDATED_SYSTEM_APP ]
    Signing certificate SHA-256 digest: f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83
  Package [com.example.app] (4d5e6f):
    userId=10200
    versionCode=3 minSdk=28 targetSdk=34
    timeStamp=2026-10-02 10:00:00
    installerPackageName=com.android.vending
    pkgFlags=[ HAS_CODE ]

Renamed packages:
  com.old -> com.new

Hidden system packages:
  Package [com.google.android.gms] (7a8b9c):
    userId=10146
    codePath=/system/priv-app/PrebuiltGmsCore
    versionCode=213 minSdk=30 targetSdk=33
    versionName=21.3
    timeStamp=2008-12-31 16:00:00
    lastUpdateTime=2008-12-31 16:00:00
    pkgFlags=[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ]
    Signing certificate SHA-256 digest: f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83
  Package [com.topjohnwu.magisk] (0a0b0c):
    userId=10300
    codePath=/system/app/Magisk
    timeStamp=2008-12-31 16:00:00
    pkgFlags=[ SYSTEM HAS_CODE ]

Queries:
  system apps queryable: false
";

    #[test]
    fn hidden_system_packages_read_once() {
        let r = parse(SECTION, "a");
        // Two installed packages; each hidden one is a record of its own.
        assert_eq!(package_count(&r), 2);
        let hidden: Vec<&Record> = r
            .iter()
            .filter(|x| x.event == "hidden_system_package")
            .collect();
        assert_eq!(hidden.len(), 2);
        let gms = hidden[0];
        assert_eq!(gms.fields["package_name"], "com.google.android.gms");
        assert_eq!(gms.fields["code_path"], "/system/priv-app/PrebuiltGmsCore");
        assert_eq!(gms.fields["version_code"], "213 minSdk=30 targetSdk=33");
        // The installed update has the app id and the certificate: the
        // factory version repeats neither, and raises no heuristic.
        assert!(gms.alerts.is_empty());
        assert!(
            !gms.observables
                .iter()
                .any(|o| o.kind == T::AppId || o.kind == T::CertHash)
        );
        assert_eq!(
            r.iter()
                .filter(|x| x
                    .observables
                    .iter()
                    .any(|o| o.kind == T::AppId && o.value == "com.google.android.gms"))
                .count(),
            1
        );
        // No installer line and the installed one is SYSTEM: silent.
        assert!(
            r.iter().all(
                |x| x.fields["package_name"] != "com.google.android.gms" || x.alerts.is_empty()
            )
        );
        // A hidden package no installed one names carries its app id (and
        // the root-package warning, once).
        let magisk = hidden[1];
        assert!(
            magisk
                .observables
                .iter()
                .any(|o| o.kind == T::AppId && o.value == "com.topjohnwu.magisk")
        );
        assert_eq!(magisk.alerts.len(), 1);
        // "Renamed packages:" and "Queries:" are not packages.
        assert!(r.iter().all(|x| x.fields["package_name"] != "com.old"));
    }
}
