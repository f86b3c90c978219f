//! androidqf `packages.json`: installed packages with their APK hashes and
//! signing certificates, installer and flags. Installs from browsers, adb
//! and third-party stores, root packages and disabled security/update
//! packages are warnings.
//!
//! Also the system's own `packages.xml` (`/data/system/packages.xml`, ABX
//! binary XML since Android 12, text XML before) when an acquisition holds
//! it: each package's installer and install initiator, install times and
//! signing certificates (their MD5, SHA-1 and SHA-256 are matched against
//! `app:cert.*` indicators).

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

/// Browsers that can hand a downloaded APK to the package installer (the
/// install initiator `packages.xml` records; spydar heuristic).
const BROWSERS: &[&str] = &[
    "com.android.browser",
    "com.android.chrome",
    "com.brave.browser",
    "com.chrome.beta",
    "com.duckduckgo.mobile.android",
    "com.heytap.browser",
    "com.huawei.browser",
    "com.kiwibrowser.browser",
    "com.mi.globalbrowser",
    "com.microsoft.emmx",
    "com.opera.browser",
    "com.opera.mini.native",
    "com.sec.android.app.sbrowser",
    "com.uc.browser.en",
    "com.ucmobile.intl",
    "com.vivaldi.browser",
    "com.yandex.browser",
    "org.mozilla.fenix",
    "org.mozilla.firefox",
    "org.mozilla.firefox_beta",
];

/// The installer heuristics (MVT's `aqf_packages`): a third-party store,
/// the package installer (what opening a downloaded APK uses) or a browser,
/// or no installer at all (`null`, or none recorded) for a non-system
/// package. `initiator` is who asked the installer (`packages.xml`'s
/// `installInitiator`, Android 11+; "" when unknown).
pub(crate) fn installer_alert(
    name: &str,
    installer: &str,
    initiator: &str,
    system: bool,
) -> Option<(&'static crate::model::Rule, String)> {
    let browser = |p: &str| {
        BROWSER_INSTALLERS.contains(&p) || BROWSERS.contains(&p.to_ascii_lowercase().as_str())
    };
    if THIRD_PARTY_STORES.contains(&installer) {
        Some((
            &crate::rules::ANDROID_THIRD_PARTY_STORE_INSTALL,
            format!(
                "Found a package installed via a third party store (installer=\"{installer}\"): \"{name}\""
            ),
        ))
    } else if browser(installer) || (!system && browser(initiator)) {
        let via = if initiator.is_empty() || initiator == installer {
            String::new()
        } else {
            format!(", initiator=\"{initiator}\"")
        };
        Some((
            &crate::rules::ANDROID_BROWSER_INSTALL,
            format!(
                "Found a package installed via a browser (installer=\"{installer}\"{via}): \"{name}\""
            ),
        ))
    } else if (installer == "null" || installer.is_empty()) && !system {
        Some((
            &crate::rules::ANDROID_SIDELOADED_PACKAGE,
            format!("Found a non-system package installed via adb or another method: \"{name}\""),
        ))
    } else {
        None
    }
}

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
        // An acquisition that did not record installers says nothing about them.
        let recorded = if p.get("installer").is_some() {
            installer.as_str()
        } else {
            "?"
        };
        if let Some((rule, message)) = installer_alert(&name, recorded, "", system) {
            r = r.alert(rule, message);
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

// ------------------------------------------------------------ packages.xml

pub const PACKAGES_XML: AqfModule = AqfModule {
    name: "aqf_packages_xml",
    artifact: "packages.xml",
    read: AqfRead::Member(|data, member, _| parse_packages_xml(data, member)),
};

/// `ApplicationInfo.FLAG_SYSTEM` in a package's `publicFlags` (`flags`
/// before Android 5).
const FLAG_SYSTEM: i64 = 1;

/// MD5, SHA-1 and SHA-256 of a DER certificate, lower-case hex.
pub(crate) fn cert_hashes(der: &[u8]) -> [String; 3] {
    use sha2::Digest;
    [
        hex::encode(md5::Md5::digest(der)),
        hex::encode(sha1::Sha1::digest(der)),
        hex::encode(sha2::Sha256::digest(der)),
    ]
}

/// Signing certificates on a record: a `certificates` field and each hash
/// as an `app:cert.*` observable.
fn with_certificates(r: &mut Record, hashes: Vec<[String; 3]>) {
    let shown: Vec<_> = hashes
        .iter()
        .map(|[m, s1, s256]| serde_json::json!({"md5": m, "sha1": s1, "sha256": s256}))
        .collect();
    r.fields.insert("certificates".into(), shown.into());
    for h in hashes.into_iter().flatten() {
        r.push_observable(ObservableType::CertHash, h);
    }
}

/// A time `packages.xml` writes as hex milliseconds (`ft`, `it`, `ut`).
fn hex_ms(v: Option<&crate::evidence::abx::Value>) -> Option<jiff::Timestamp> {
    use crate::evidence::abx::Value;
    let ms = match v? {
        Value::Hex(n) | Value::Int(n) => *n,
        Value::Str(s) => i64::from_str_radix(s.trim(), 16).ok()?,
        _ => return None,
    };
    crate::time::from_unix_ms(ms)
}

/// `packages.xml`, ABX or text: one record per `<package>`.
pub fn parse_packages_xml(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    use crate::evidence::abx;
    let doc = abx::read(data).map_err(|e| format!("{artifact}: {e}"))?;
    // `<cert index="N" key="…"/>` defines certificate N once; later uses
    // carry the index only.
    let mut certs: std::collections::HashMap<i64, Vec<u8>> = std::collections::HashMap::new();
    for (_, c) in doc.named("cert") {
        if let (Some(i), Some(key)) = (
            c.attr("index").and_then(abx::Value::int),
            c.attr("key").and_then(abx::Value::bytes),
        ) {
            certs.entry(i).or_insert(key);
        }
    }
    let mut out = Vec::new();
    for (i, e) in doc.named("package") {
        if e.depth != 1 {
            continue;
        }
        out.push(package_xml_record(&doc, i, e, &certs, artifact));
    }
    if out.is_empty() && doc.named("packages").next().is_none() {
        return Err(format!("{artifact}: not a packages.xml (no <packages>)"));
    }
    Ok(out)
}

fn package_xml_record(
    doc: &crate::evidence::abx::Document,
    i: usize,
    e: &crate::evidence::abx::Element,
    certs: &std::collections::HashMap<i64, Vec<u8>>,
    artifact: &str,
) -> Record {
    use crate::evidence::abx::Value;
    let name = e.attr_text("name");
    let installer = e.attr_text("installer");
    let initiator = e.attr_text("installInitiator");
    let code_path = e.attr_text("codePath");
    let flags = e
        .attr("publicFlags")
        .or_else(|| e.attr("flags"))
        .and_then(Value::int)
        .unwrap_or(0);
    let system = flags & FLAG_SYSTEM != 0
        || [
            "/system/",
            "/product/",
            "/vendor/",
            "/system_ext/",
            "/apex/",
            "/odm/",
        ]
        .iter()
        .any(|p| code_path.starts_with(p));
    let mut hashes = Vec::new();
    for (s, _) in doc.children(i, "sigs") {
        for (_, c) in doc.children(s, "cert") {
            let der = c.attr("key").and_then(Value::bytes).or_else(|| {
                c.attr("index")
                    .and_then(Value::int)
                    .and_then(|k| certs.get(&k).cloned())
            });
            if let Some(der) = der {
                hashes.push(cert_hashes(&der));
            }
        }
    }
    let installed = hex_ms(e.attr("it")).or_else(|| hex_ms(e.attr("ft")));
    let mut r = Record::new(PACKAGES_XML.name, artifact)
        .at(installed)
        .event("package", format!("Package {name} (installer {installer})"))
        .field("package_name", name.as_str())
        .field("installer", installer.as_str())
        .field("install_initiator", initiator.as_str())
        .field("code_path", code_path.as_str())
        .field("version_code", e.attr_text("version"))
        .field("uid", e.attr_text("userId"))
        .field("system", system)
        .field(
            "first_install_time",
            hex_ms(e.attr("it"))
                .map(|t| t.to_string())
                .unwrap_or_default(),
        )
        .field(
            "last_update_time",
            hex_ms(e.attr("ut"))
                .map(|t| t.to_string())
                .unwrap_or_default(),
        )
        .observe(ObservableType::AppId, name.as_str());
    with_certificates(&mut r, hashes);
    if is_root_package(&name) {
        return r.alert(
            &crate::rules::ANDROID_ROOT_PACKAGE,
            format!("Found an installed package related to rooting/jailbreaking: \"{name}\""),
        );
    }
    if let Some((rule, message)) = installer_alert(&name, &installer, &initiator, system) {
        r = r.alert(rule, message);
    }
    r
}

// -------------------------------------------------------------------- APKs

/// APK files an acquisition holds (androidqf's downloaded APKs, or any
/// `.apk`): the file's hashes and its signing certificates' hashes.
pub const APKS: AqfModule = AqfModule {
    name: "aqf_apks",
    artifact: "*.apk",
    read: AqfRead::Files(run_apks),
};

/// Largest APK read (bigger ones are noted, not read).
const MAX_APK_BYTES: u64 = 1024 * 1024 * 1024;

fn run_apks(q: &super::Acquired<'_>) -> Result<Vec<Record>, crate::artifacts::ModuleError> {
    let s = q.src;
    let members: Vec<_> = s
        .find_all(|b| b.to_ascii_lowercase().ends_with(".apk"))
        .collect();
    if members.is_empty() {
        return Err(crate::artifacts::ModuleError::Missing);
    }
    let mut out = Vec::new();
    for m in members {
        let data = s.read_limited(m, MAX_APK_BYTES)?;
        out.push(apk_record(&data, &m.name));
    }
    Ok(out)
}

/// One APK's record: SHA-256/SHA-1/MD5 of the file (`file:hashes.*`) and of
/// each signing certificate (`app:cert.*`).
pub fn apk_record(data: &[u8], artifact: &str) -> Record {
    let [md5, sha1, sha256] = cert_hashes(data);
    let certs: Vec<[String; 3]> = crate::evidence::apk_sig::certificates(data)
        .iter()
        .map(|c| cert_hashes(c))
        .collect();
    let mut r = Record::new(APKS.name, artifact)
        .event("apk", format!("APK {artifact}"))
        .field("sha256", sha256.as_str())
        .field("sha1", sha1.as_str())
        .field("md5", md5.as_str())
        .observe(ObservableType::Sha256, sha256.as_str());
    r.push_observable(ObservableType::Sha1, sha1);
    r.push_observable(ObservableType::Md5, md5);
    with_certificates(&mut r, certs);
    r
}
