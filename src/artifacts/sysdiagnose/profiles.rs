//! `logs/MCState/Shared/profile-*.stub`: installed configuration profiles.
//! The profile's `PayloadUUID` and every nested payload's are profile ids
//! (Predator was installed through a profile with a published UUID).

use super::Module;
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const MODULE: Module = Module {
    name: "profiles",
    artifact: "logs/MCState/Shared/profile-*.stub",
    claims: |n| {
        let b = base_name(n);
        n.starts_with("logs/MCState/Shared/") && b.starts_with("profile-") && b.ends_with(".stub")
    },
    parse: |_, member, data| stub(member, data),
    sweep_too: false,
};

fn collect_uuids(v: &plist::Value, out: &mut Vec<String>) {
    match v {
        plist::Value::Dictionary(d) => {
            for (k, x) in d {
                if k == "PayloadUUID" {
                    if let Some(s) = x.as_string() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_uuids(x, out);
                }
            }
        }
        plist::Value::Array(a) => a.iter().for_each(|x| collect_uuids(x, out)),
        _ => {}
    }
}

pub fn stub(member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let v: plist::Value = crate::evidence::plist_safe::from_bytes(data)
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let d = v
        .as_dictionary()
        .ok_or_else(|| ModuleError::Failed(format!("{member}: not a dictionary")))?;
    let s = |k: &str| d.get(k).and_then(|x| x.as_string()).map(str::to_string);
    let installed = d.get("InstallDate").and_then(|x| x.as_date()).map(|t| {
        let st: std::time::SystemTime = t.into();
        jiff::Timestamp::try_from(st).ok()
    });
    let mut uuids = Vec::new();
    collect_uuids(&v, &mut uuids);
    let name = s("PayloadDisplayName")
        .or_else(|| s("PayloadIdentifier"))
        .unwrap_or_else(|| "?".into());
    let mut r = Record::new(MODULE.name, member)
        .at(installed.flatten())
        .event("profile_installed", format!("configuration profile {name}"))
        .field("member", member)
        .field("display_name", s("PayloadDisplayName"))
        .field("identifier", s("PayloadIdentifier"))
        .field("uuid", s("PayloadUUID"))
        .field("organization", s("PayloadOrganization"));
    for u in uuids {
        r.push_observable(ObservableType::ProfileId, u);
    }
    Ok(vec![r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_payload_uuids() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>PayloadDisplayName</key><string>Test</string>
<key>PayloadUUID</key><string>76DAB334-7E17-475D-A5D6-0794EB5818A5</string>
<key>InstallDate</key><date>2024-01-01T10:00:00Z</date>
<key>PayloadContent</key><array><dict><key>PayloadUUID</key><string>11111111-2222-3333-4444-555555555555</string></dict></array>
</dict></plist>"#;
        let r = &stub("logs/MCState/Shared/profile-x.stub", xml.as_bytes()).unwrap()[0];
        assert_eq!(r.observables.len(), 2);
        assert_eq!(
            r.observables[0].value,
            "76DAB334-7E17-475D-A5D6-0794EB5818A5"
        );
        assert_eq!(r.timestamp.unwrap().to_string(), "2024-01-01T10:00:00Z");
        assert!(stub("p.stub", b"junk").is_err());
    }
}
