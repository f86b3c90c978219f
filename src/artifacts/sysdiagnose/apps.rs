//! App ids: `logs/Accessibility/TCC.db` (privacy grants), the App Store
//! databases under `logs/appinstallation/` and `logs/itunesstored/`, and the
//! mobile installation and container manager logs.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{Module, local_time};
use crate::artifacts::ModuleError;
use crate::artifacts::ios::tcc::{self, Auth, Grant};
use crate::evidence::sqlite;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const TCC: Module = Module {
    name: "tcc",
    artifact: "logs/Accessibility/TCC.db",
    claims: |n| n == TCC.artifact,
    parse: tcc,
    sweep_too: false,
};
pub const APP_STORE: Module = Module {
    name: "app_store",
    artifact: "logs/appinstallation/*.sqlitedb",
    claims: |n| {
        (n.starts_with("logs/appinstallation/") || n.starts_with("logs/itunesstored/"))
            && base_name(n).ends_with(".sqlitedb")
    },
    parse: app_store,
    sweep_too: false,
};
pub const MOBILE_INSTALLATION: Module = Module {
    name: "mobile_installation",
    artifact: "logs/MobileInstallation/mobile_installation.log*",
    claims: |n| {
        n.starts_with("logs/MobileInstallation/")
            && base_name(n).starts_with("mobile_installation.log")
    },
    parse: install_log,
    sweep_too: true,
};
pub const CONTAINER_MANAGER: Module = Module {
    name: "container_manager",
    artifact: "logs/MobileContainerManager/containermanagerd.log*",
    claims: |n| {
        n.starts_with("logs/MobileContainerManager/")
            && base_name(n).starts_with("containermanagerd.log")
    },
    parse: install_log,
    sweep_too: true,
};

/// `logs/Accessibility/TCC.db`, table `access`: one record per grant,
/// read by the iOS module's reader ([`tcc::grants`]) and shaped this
/// module's way: `tcc_grant` events, the auth value as a number on v3's
/// scale (v1/v2 `allowed` 0 → 0 denied, anything else → 2 allowed), and
/// a process observable only for path clients.
pub fn tcc(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let conn = sqlite::open_bytes(data).map_err(ModuleError::sqlite(|| member))?;
    let mut out = Vec::new();
    for g in tcc::grants(&conn, || member)? {
        let auth = match g.auth {
            Auth::V3 { value, .. } => value,
            Auth::Allowed { allowed, .. } => Some(if allowed == Some(0) { 0 } else { 2 }),
            Auth::Unknown => None,
        };
        let Grant {
            service,
            client,
            client_type,
            ..
        } = g;
        let mut r = Record::new(module, member)
            .at(g.last_modified.and_then(crate::time::from_unix))
            .event("tcc_grant", format!("{client} → {service}"))
            .field("member", member)
            .field("service", service.as_str())
            .field("client", client.as_str())
            .field("client_type", client_type)
            .field("auth_value", auth);
        if client.starts_with('/') || client_type == Some(1) {
            r.push_observable(ObservableType::FilePath, client.as_str());
            r.push_observable(ObservableType::Process, base_name(&client));
        } else {
            r.push_observable(ObservableType::AppId, client.as_str());
        }
        out.push(r);
    }
    Ok(out)
}

/// App Store databases: every column whose name says bundle id, in every table.
pub fn app_store(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let err = ModuleError::sqlite(|| member);
    let conn = sqlite::open_bytes(data).map_err(err)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for t in tables {
        for c in sqlite::columns(&conn, &t) {
            let lc = c.to_ascii_lowercase().replace('_', "");
            if !(lc.contains("bundleid") || lc == "bundleidentifier") {
                continue;
            }
            let sql = format!(
                "SELECT DISTINCT \"{c}\" FROM \"{t}\"",
                c = c.replace('"', "\"\""),
                t = t.replace('"', "\"\"")
            );
            let Ok(mut stmt) = conn.prepare(&sql) else {
                continue;
            };
            let Ok(values) = stmt
                .query_map([], |r| r.get::<_, Option<String>>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            else {
                continue;
            };
            for v in values.into_iter().flatten() {
                if seen.insert(v.clone()) {
                    out.push(
                        Record::new(module, member)
                            .event("app", format!("app {v} in {t}"))
                            .field("member", member)
                            .field("table", t.as_str())
                            .field("bundle_id", v.as_str())
                            .observe(ObservableType::AppId, v),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// A bundle or group id: dotted labels.
const ID: &str = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+";

/// The event forms of mobile_installation and containermanagerd lines that
/// name an app (iLEAPP's `mobileInstall` forms, plus MIInstaller's own):
/// `(event, regex with an `id` group and maybe a `path` group)`;
/// `@ID@` stands for [`ID`].
static EVENTS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "install_successful",
            r"Install Successful for \((?:Placeholder:|Customer:|System:)?(?P<id>@ID@)\)",
        ),
        (
            "container_destroyed",
            r"Destroying container (?:with identifier )?(?P<id>@ID@) at (?P<path>/\S+)",
        ),
        (
            "data_container_moved",
            r"Data container for (?P<id>@ID@) is now at (?P<path>/\S+)",
        ),
        (
            "container_live",
            r"Made container live for (?P<id>@ID@) at (?P<path>/\S+)",
        ),
        ("uninstalling", r"Uninstalling identifier (?P<id>@ID@)"),
        (
            "delta_patch",
            r"Attempting Delta patch update of (?P<id>@ID@) from (?P<path>/\S+)",
        ),
        (
            "app_mentioned",
            r#"(?:\bID=|\bidentifier[:=]?\s+"?|\bbundle ?ID[:=]?\s+"?|\bbundleIdentifier[:=]?\s+"?|\bIdentity:\s+)\[?(?P<id>@ID@)"#,
        ),
    ]
    .into_iter()
    .map(|(event, re)| (event, Regex::new(&re.replace("@ID@", ID)).expect("static regex")))
    .collect()
});

/// Mobile installation and container manager logs: one record per app id
/// each line names (install, uninstall, container made live or destroyed,
/// data container moved, delta patch, or another mention), and one per
/// `Reboot detected`. Times are device-local (see [`super::local_time`]);
/// a message's continuation lines take the time of its first line.
pub fn install_log(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut when = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(t) = local_time::log_prefix(line) {
            when = Some(t);
        }
        let mut ids: Vec<(&str, &str, Option<&str>)> = Vec::new();
        for (event, re) in EVENTS.iter() {
            for cap in re.captures_iter(line) {
                let Some(id) = cap.name("id").map(|m| m.as_str()) else {
                    continue;
                };
                if ids.iter().any(|(_, seen, _)| *seen == id) {
                    continue;
                }
                ids.push((event, id, cap.name("path").map(|m| m.as_str())));
            }
        }
        let base = |event: &str, description: String| {
            local_time::at_local(
                Record::new(module, member)
                    .event(event, description)
                    .field("member", member)
                    .field("line", i + 1),
                when,
            )
        };
        if ids.is_empty() && line.contains("Reboot detected") {
            out.push(base("reboot", "reboot detected".into()).field("text", line.trim()));
        }
        for (event, id, path) in ids {
            let mut r = base(event, format!("{} {id}", event.replace('_', " ")))
                .field("bundle_id", id)
                .field("path", path)
                .field("text", line.trim())
                .observe(ObservableType::AppId, id);
            if let Some(p) = path {
                r.push_observable(ObservableType::FilePath, p);
            }
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Vec<u8> {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(sql).unwrap();
        c.serialize("main").unwrap().to_vec()
    }

    #[test]
    fn tcc_rows() {
        let bytes = db("CREATE TABLE access (service TEXT, client TEXT, client_type INTEGER, auth_value INTEGER, last_modified INTEGER);
            INSERT INTO access VALUES ('kTCCServiceCamera','com.example.app',0,2,1700000000), ('kTCCServiceMicrophone','/private/var/tmp/hooker',1,2,1700000001);");
        let r = tcc("tcc", "logs/Accessibility/TCC.db", &bytes).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].observables[0].kind, ObservableType::AppId);
        assert_eq!(r[1].observables[0].kind, ObservableType::FilePath);
        assert!(tcc("tcc", "TCC.db", b"nope").is_err());
    }

    /// Every TCC schema variant MVT reads gives its grants.
    #[test]
    fn tcc_variants() {
        use crate::fixtures::ios_backup::variants::{self, Tcc};
        for v in [Tcc::V1, Tcc::V2, Tcc::V3, Tcc::V3Ios17] {
            let r = tcc("tcc", "logs/Accessibility/TCC.db", &variants::tcc(v)).unwrap();
            assert_eq!(r.len(), 2, "{v:?}");
            assert_eq!(r[0].fields.get("auth_value").unwrap(), 2, "{v:?}");
            assert_eq!(r[0].timestamp.is_some(), v != Tcc::V1, "{v:?}");
            assert_eq!(r[1].observables[0].kind, ObservableType::FilePath);
        }
    }

    #[test]
    fn app_store_columns() {
        let bytes = db(
            "CREATE TABLE app_updates (pk INTEGER, bundle_id TEXT); INSERT INTO app_updates VALUES (1,'com.a.b'),(2,'com.a.b'),(3,'org.c.d');",
        );
        let r = app_store(
            "app_store",
            "logs/appinstallation/AppUpdates.sqlitedb",
            &bytes,
        )
        .unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn install_log_ids() {
        let log = "Wed May 24 14:08:13 2023 [135] <notice> (0x16f1db000) -[MIInstaller performInstallationWithError:]: Installing <MIInstallableBundle ID=com.example.app; Version=1.0>\n\
Wed May 24 14:08:14 2023 [135] <notice> (0x16f1db000) -[MIUninstaller]: Uninstalling identifier com.other.app\n";
        let r = install_log("mobile_installation", "m.log", log.as_bytes()).unwrap();
        let ids: Vec<&str> = r.iter().map(|r| r.observables[0].value.as_str()).collect();
        assert_eq!(ids, ["com.example.app", "com.other.app"]);
    }

    /// Every form iLEAPP reads, the quoted `with identifier "…"` form of the
    /// real iOS 14 log in ../shared (which gave no record before), times
    /// marked device-local, continuation lines, and near-misses.
    #[test]
    fn install_log_every_form() {
        let log = concat!(
            "Wed Aug 11 05:51:02 2021 [176] <notice> (0x16bae7000) -[MIContainer makeContainerLiveReplacingContainer:reason:waitForDeletion:withError:]: Made container live for com.apple.CoreCDPUI.localSecretPrompt at /private/var/mobile/Containers/Data/PluginKitPlugin/B327BDD9-BD0D-490A-9A31-D07E95DB23E1\n",
            "Wed Aug 11 05:51:02 2021 [176] <err> (0x16bae7000) -[MIPluginKitPluginBundle validateBundleMetadataWithError:]: 652: Appex bundle at \"/System/Library/X.appex\" with identifier \"com.apple.accessibility.Accessibility.HearingAidsTapToRadar\" does not have expected identifier prefix \"com.apple.AccessibilityUtilities.\"\n",
            "Thu Aug 12 09:00:00 2021 [176] <notice> (0x1) -[MIClientConnection]: Install Successful for (Placeholder:com.example.placeholder); Staging: /x\n",
            "Thu Aug 12 09:00:01 2021 [176] <notice> (0x1) -[MIClientConnection]: Install Successful for (com.example.plain)\n",
            "Thu Aug 12 09:00:02 2021 [176] <notice> (0x1) -[MIContainer]: Destroying container with identifier com.example.gone at /private/var/mobile/Containers/Data/Application/1234\n",
            "Thu Aug 12 09:00:03 2021 [176] <notice> (0x1) -[MIContainer]: Data container for com.example.moved is now at /private/var/mobile/Containers/Data/Application/5678\n",
            "Thu Aug 12 09:00:04 2021 [176] <notice> (0x1) -[MIInstaller]: Attempting Delta patch update of com.example.delta from /var/installd/Library/Caches/x\n",
            "Fri Feb  5 18:03:23 2021 [66] <notice> (0x1) main: Reboot detected\n",
            "Fri Feb  5 18:03:24 2021 [66] <notice> (0x1) -[MCMCodeSigningMapping]: Would have removed system group container references for (\n",
            "    \"systemgroup.com.apple.configurationprofiles\"\n",
            ")\n",
            "Fri Feb  5 18:03:25 2021 [66] <notice> (0x1) identifier prefix and ID=nodots and Made container live for x at y\n",
        );
        let r = install_log("mobile_installation", "m.log", log.as_bytes()).unwrap();
        let got: Vec<(&str, &str)> = r
            .iter()
            .map(|r| {
                (
                    r.event.as_str(),
                    r.fields
                        .get("bundle_id")
                        .and_then(|v| v.as_str())
                        .unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("container_live", "com.apple.CoreCDPUI.localSecretPrompt"),
                (
                    "app_mentioned",
                    "com.apple.accessibility.Accessibility.HearingAidsTapToRadar"
                ),
                ("install_successful", "com.example.placeholder"),
                ("install_successful", "com.example.plain"),
                ("container_destroyed", "com.example.gone"),
                ("data_container_moved", "com.example.moved"),
                ("delta_patch", "com.example.delta"),
                ("reboot", ""),
            ]
        );
        let first = &r[0];
        assert_eq!(first.timestamp.unwrap().to_string(), "2021-08-11T05:51:02Z");
        assert_eq!(first.fields.get("time_zone").unwrap(), local_time::UNKNOWN);
        assert!(first.observables.iter().any(|o| o.kind == ObservableType::FilePath
            && o.value == "/private/var/mobile/Containers/Data/PluginKitPlugin/B327BDD9-BD0D-490A-9A31-D07E95DB23E1"));
        assert_eq!(r[7].timestamp.unwrap().to_string(), "2021-02-05T18:03:23Z");
        // Non-UTF-8 bytes and a line without a time do not stop the parse.
        let mut bad = b"\xff\xfe Uninstalling identifier com.example.x\n".to_vec();
        bad.extend_from_slice(log.as_bytes());
        let r = install_log("m", "m.log", &bad).unwrap();
        assert_eq!(r[0].fields.get("bundle_id").unwrap(), "com.example.x");
        assert!(r[0].timestamp.is_none());
    }
}
