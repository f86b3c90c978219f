//! `dumpsys platform_compat`: the DOWNSCALED change keeps overrides for
//! packages that were uninstalled, so it names apps that used to be there.

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_platform_compat",
    in_androidqf: Some("aqf_dumpsys_platform_compat"),
    part: Part::Service("platform_compat"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for line in section.lines() {
        if !line.starts_with("ChangeId(168419799; name=DOWNSCALED;") {
            continue;
        }
        let Some(start) = line.find("rawOverrides={") else {
            continue;
        };
        let rest = &line[start + "rawOverrides={".len()..];
        let rest = rest
            .split("};")
            .next()
            .unwrap_or(rest)
            .trim_end_matches('}');
        for entry in rest.split(", ") {
            let package = entry.split('=').next().unwrap_or("").trim();
            if package.is_empty() {
                continue;
            }
            out.push(
                Record::new(MODULE.name, artifact)
                    .event(
                        "compat_override",
                        format!("Override kept for (possibly uninstalled) package {package}"),
                    )
                    .field("package_name", package)
                    .observe(ObservableType::AppId, package),
            );
        }
    }
    out
}
