//! Device facts: the archive's root folder name
//! (`sysdiagnose_YYYY.MM.DD_HH-MM-SS±ZZZZ_<Platform>_<Device>_<Build>`),
//! `remotectl_dumpstate.txt` and `logs/SystemVersion/SystemVersion.plist`.

use crate::model::DeviceInfo;

/// Facts from the root folder name: (collection time as RFC 3339, platform,
/// device class, build).
pub fn from_root_name(name: &str) -> Option<(Option<String>, String, String, String)> {
    let rest = name.strip_prefix("sysdiagnose_")?;
    let rest = rest.strip_suffix(".tar.gz").unwrap_or(rest);
    let mut parts = rest.splitn(5, '_');
    let date = parts.next()?;
    let time_zone = parts.next()?;
    let platform = parts.next()?.to_string();
    let device = parts.next()?.to_string();
    let build = parts.next()?.to_string();
    let collected = (|| {
        // `HH-MM-SS` then the zone's sign and four digits.
        let (time, sign, zone) = (
            time_zone.get(..8)?,
            time_zone.get(8..9)?,
            time_zone.get(9..)?,
        );
        if sign != "+" && sign != "-" {
            return None;
        }
        let text = format!(
            "{}T{}{}{}:{}",
            date.replace('.', "-"),
            time.replace('-', ":"),
            sign,
            zone.get(..2)?,
            zone.get(2..4)?
        );
        text.parse::<jiff::Timestamp>().ok()?;
        Some(text)
    })();
    Some((collected, platform, device, build))
}

/// Applies `remotectl_dumpstate.txt` (`Key => value` lines under `Local device`).
pub fn apply_remotectl(info: &mut DeviceInfo, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        if line.trim_start().starts_with("Found ") {
            break; // peers follow; only the local device counts
        }
        let Some((k, v)) = line.split_once("=>").or_else(|| line.split_once(':')) else {
            continue;
        };
        let v = v.trim().to_string();
        if v.is_empty() {
            continue;
        }
        match k.trim() {
            "ProductType" => info.model = Some(v),
            "OSVersion" => info.os_version = Some(v),
            "BuildVersion" => info.build = Some(v),
            "UniqueDeviceID" => info.identifier = Some(v),
            "SerialNumber" => {
                info.extra.insert("serial_number".into(), v);
            }
            "DeviceName" => info.name = Some(v),
            _ => {}
        }
    }
}

/// Applies `SystemVersion.plist` where remotectl said nothing.
pub fn apply_system_version(info: &mut DeviceInfo, data: &[u8]) {
    let Ok(v) = crate::evidence::plist_safe::value_from_bytes(data) else {
        return;
    };
    let Some(d) = v.as_dictionary() else { return };
    if info.os_version.is_none() {
        info.os_version = d
            .get("ProductVersion")
            .and_then(|x| x.as_string())
            .map(str::to_string);
    }
    if info.build.is_none() {
        info.build = d
            .get("ProductBuildVersion")
            .and_then(|x| x.as_string())
            .map(str::to_string);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names() {
        let (t, p, d, b) =
            from_root_name("sysdiagnose_2023.05.24_13-29-15-0700_iPhone-OS_iPhone_19H349").unwrap();
        assert_eq!(t.as_deref(), Some("2023-05-24T13:29:15-07:00"));
        assert_eq!(
            (p.as_str(), d.as_str(), b.as_str()),
            ("iPhone-OS", "iPhone", "19H349")
        );
        let (t, ..) =
            from_root_name("sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21A329").unwrap();
        assert_eq!(t.as_deref(), Some("2024-01-02T03:04:05+02:00"));
        assert!(from_root_name("backup").is_none());
    }

    #[test]
    fn remotectl() {
        let mut info = DeviceInfo::default();
        apply_remotectl(&mut info, b"Local device\n\tProperties: {\n\t\tProductType => iPhone14,5\n\t\tOSVersion => 17.2\n\t\tUniqueDeviceID => 00008110-000A\n\t}\nFound peer\n\t\tProductType => Watch\n");
        assert_eq!(info.model.as_deref(), Some("iPhone14,5"));
        assert_eq!(info.identifier.as_deref(), Some("00008110-000A"));
    }
}
