//! androidqf `root_binaries.json`: paths of su, busybox, magisk and other
//! root tools found on the phone. Every one is a warning.

use super::{AqfModule, AqfRead};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "root_binaries",
    artifact: "root_binaries.json",
    read: AqfRead::Member(|data, member, _| parse(data, member)),
};

fn describe(name: &str) -> &'static str {
    match name {
        "su" => "SuperUser binary",
        "busybox" => "BusyBox utilities",
        "supersu" => "SuperSU root management",
        "superuser.apk" => "Superuser app",
        "kingouser.apk" => "KingRoot app",
        "supersu.apk" => "SuperSU app",
        "magisk" => "Magisk root framework",
        "magiskhide" => "Magisk hide utility",
        "magiskinit" => "Magisk init binary",
        "magiskpolicy" => "Magisk policy binary",
        _ => "Unknown root binary",
    }
}

pub fn parse(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    let items: Vec<String> = serde_json::from_slice(data)
        .map_err(|e| format!("{artifact}: not a JSON list of paths: {e}"))?;
    let mut out = Vec::new();
    for entry in items {
        for path in entry.lines().map(str::trim).filter(|p| !p.is_empty()) {
            let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
            let description = describe(&name);
            out.push(
                Record::new(MODULE.name, artifact)
                    .event(
                        "root_binary_found",
                        format!("Root binary found: {path} ({description})"),
                    )
                    .field("path", path)
                    .field("binary_name", name.as_str())
                    .field("description", description)
                    .observe(ObservableType::FilePath, path)
                    .alert(
                        &crate::rules::ANDROID_ROOT_BINARY,
                        format!("Found root binary \"{name}\" at path \"{path}\""),
                    ),
            );
        }
    }
    Ok(out)
}
