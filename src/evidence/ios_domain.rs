//! iOS backup domains: where each domain lives on the device, and the
//! `fileID` a backup stores a file under. Shared by backups and filesystem
//! dumps (which are indexed under the same domains).

use sha1::{Digest, Sha1};

/// The on-device root folder of a backup domain, where it is fixed.
pub fn domain_root(domain: &str) -> Option<&'static str> {
    Some(match domain {
        "HomeDomain" | "MediaDomain" | "CameraRollDomain" | "HealthDomain" | "HomeKitDomain"
        | "KeyboardDomain" | "MobileDeviceDomain" | "TonesDomain" | "BooksDomain" => {
            "/private/var/mobile"
        }
        "RootDomain" => "/private/var/root",
        "WirelessDomain" => "/private/var/wireless",
        "SystemPreferencesDomain" => "/private/var/preferences",
        "ManagedPreferencesDomain" => "/private/var/Managed Preferences",
        "KeychainDomain" => "/private/var/Keychains",
        "DatabaseDomain" => "/private/var/db",
        "NetworkDomain" => "/private/var/networkd",
        "ProtectedDomain" => "/private/var/protected",
        "InstallDomain" => "/private/var/installd",
        _ => return None,
    })
}

/// `domain` + `relative_path` → absolute device path, if the domain root is fixed.
pub fn device_path(domain: &str, relative_path: &str) -> Option<String> {
    let root = domain_root(domain)?;
    Some(if relative_path.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{relative_path}")
    })
}

/// `SHA1("<domain>-<relative_path>")` in hex: the name of the file in the backup.
pub fn file_id(domain: &str, relative_path: &str) -> String {
    let mut h = Sha1::new();
    h.update(domain.as_bytes());
    h.update(b"-");
    h.update(relative_path.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `id` is a backup file name as [`file_id`] makes it: 40 hex
/// digits (so nothing from the Manifest can name a path outside its
/// `xx/` folder).
pub fn is_file_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_are_sha1_of_domain_and_path() {
        assert_eq!(
            file_id("HomeDomain", "Library/SMS/sms.db"),
            "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
        );
        assert_eq!(
            file_id(
                "AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
                "LID.sqlite"
            ),
            "e794f6ffcc3c222535f47684a63d5178da3c4500"
        );
    }

    #[test]
    fn device_paths() {
        assert_eq!(
            device_path("HomeDomain", "Library/SMS/sms.db").as_deref(),
            Some("/private/var/mobile/Library/SMS/sms.db")
        );
        assert_eq!(device_path("AppDomain-x", "Library/a"), None);
    }
}
