//! `dumpsys batterystats`, daily stats: package updates per day. A version
//! of 0 is an uninstall, a lower version a downgrade: both are warnings.

use std::collections::{BTreeSet, HashMap};

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_battery_daily",
    in_androidqf: Some("aqf_dumpsys_battery_daily"),
    part: Part::Service("batterystats"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    // (from, to, package, vers)
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let mut day: Option<(String, String)> = None;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for line in section.lines() {
        if let Some(rest) = line.strip_prefix("  Daily from ") {
            let rest = rest.trim().trim_matches(':');
            let (from, to) = rest.split_once(" to ").unwrap_or((rest, ""));
            day = Some((
                from.chars().take(10).collect(),
                to.chars().take(10).collect(),
            ));
            seen.clear();
            continue;
        }
        let Some((from, to)) = &day else { continue };
        let Some(rest) = line.trim().strip_prefix("Update ") else {
            continue;
        };
        let (pkg, vers) = rest.split_once(' ').unwrap_or((rest, ""));
        let vers = vers.split_once('=').map(|(_, v)| v).unwrap_or(vers).trim();
        if seen.insert((pkg.to_string(), vers.to_string())) {
            rows.push((from.clone(), to.clone(), pkg.to_string(), vers.to_string()));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    let mut last: HashMap<String, i64> = HashMap::new();
    rows.into_iter()
        .map(|(from, to, pkg, vers)| {
            let mut rec = Record::new(MODULE.name, artifact)
                .at(super::dumpsys::parse_local(&format!("{from} 00:00:00")))
                .field("from", from.as_str())
                .field("to", to.as_str())
                .field("package_name", pkg.as_str())
                .field("vers", vers.as_str())
                .observe(ObservableType::AppId, pkg.as_str());
            let v: Option<i64> = vers.parse().ok();
            let mut action = "update";
            if vers == "0" {
                action = "uninstall";
                last.remove(&pkg);
                rec = rec.alert(
                    &crate::rules::ANDROID_PACKAGE_UNINSTALLED,
                    format!("Detected uninstall of package {pkg} (vers 0)"),
                );
            } else if let Some(v) = v {
                if let Some(&prev) = last.get(&pkg)
                    && v < prev
                {
                    action = "downgrade";
                    rec = rec.field("previous_vers", prev.to_string()).alert(
                        &crate::rules::ANDROID_PACKAGE_DOWNGRADED,
                        format!(
                            "Detected downgrade of package {pkg} from vers {prev} to vers {vers}"
                        ),
                    );
                }
                last.insert(pkg.clone(), v);
            }
            rec.field("action", action).event(
                "battery_daily",
                format!("Recorded {action} of package {pkg} with vers {vers}"),
            )
        })
        .collect()
}
