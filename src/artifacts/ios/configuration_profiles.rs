//! `configuration_profiles`: installed configuration profiles (`profile-*`
//! in the configurationprofiles shared container). The profile's
//! `PayloadUUID` is matched against profile-id indicators (Predator
//! installed one); its payload domains and URLs are matched too.

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "configuration_profiles",
    artifact: "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles/Library/ConfigurationProfiles/profile-*",
    run,
};

pub const DOMAIN: &str = "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles";

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries = b.find(Some(DOMAIN), "*profile-*")?;
    let mut out = Vec::new();
    for entry in entries {
        if entry.flags == 2
            || !crate::strings::base_name(&entry.relative_path).starts_with("profile-")
        {
            continue;
        }
        let value = match b.read_plist(&entry) {
            Ok(v) => v,
            Err(ModuleError::Missing) => continue,
            Err(e) => return Err(e),
        };
        let Some(d) = value.as_dictionary() else {
            continue;
        };
        let s = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_string())
                .unwrap_or("")
                .to_string()
        };
        let uuid = s("PayloadUUID");
        let install = d.get("InstallDate").and_then(plist_time);
        let mut r = Record::new("configuration_profiles", &entry.logical_path())
            .at(install)
            .event(
                "configuration_profile_install",
                format!(
                    "Configuration profile {} ({}) installed",
                    s("PayloadDisplayName"),
                    uuid
                ),
            )
            .field("file_id", entry.file_id.clone())
            .field("relative_path", entry.relative_path.clone())
            .field("domain", entry.domain.clone())
            .field("payload_uuid", uuid.clone())
            .field("payload_identifier", s("PayloadIdentifier"))
            .field("payload_display_name", s("PayloadDisplayName"))
            .field("install_date", jts(install));
        r.push_observable(ObservableType::ProfileId, uuid);
        r.push_observable(ObservableType::ProfileId, s("PayloadIdentifier"));
        let payloads = d
            .get("PayloadContent")
            .and_then(|v| v.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut types = Vec::new();
        for p in payloads.iter().filter_map(|p| p.as_dictionary()) {
            if let Some(t) = p.get("PayloadType").and_then(|v| v.as_string()) {
                types.push(t.to_string());
            }
            for k in ["URL", "ServerURL", "CheckInURL", "Host"] {
                if let Some(u) = p.get(k).and_then(|v| v.as_string()) {
                    r.push_observable(
                        if u.contains("://") {
                            ObservableType::Url
                        } else {
                            ObservableType::Domain
                        },
                        u.to_string(),
                    );
                }
            }
            if let Some(uuid) = p.get("PayloadUUID").and_then(|v| v.as_string()) {
                r.push_observable(ObservableType::ProfileId, uuid.to_string());
            }
        }
        r = r.field("payload_types", types.clone());
        if types.first().map(String::as_str) == Some("com.apple.notificationsettings") {
            r = r.alert(
                &crate::rules::CONFIGURATION_PROFILES_NOTIFICATION_SETTINGS,
                "Configuration profile whose first payload changes notification settings (seen with spyware that hides its alerts)",
            );
        }
        out.push(r);
    }
    Ok(out)
}
