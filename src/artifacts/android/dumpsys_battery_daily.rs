//! `dumpsys batterystats`, daily stats: package updates per day. A version
//! of 0 is an uninstall, a lower version a downgrade: both are warnings.

use std::collections::HashMap;

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_battery_daily",
    in_androidqf: Some("aqf_dumpsys_battery_daily"),
    part: Part::Service("batterystats"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

/// `2021-10-14-03-52-51` → `2021-10-14 03:52:51` (as MVT); else as is.
fn day_time(v: &str) -> String {
    let v = v.trim();
    match (v.get(..10), v.get(10..11), v.get(11..)) {
        (Some(d), Some("-"), Some(t)) if v.len() >= 19 => format!("{d} {}", t.replace('-', ":")),
        _ => v.to_string(),
    }
}

/// One `Update <package> vers=<n>` of a day: (start, end, package, vers,
/// occurrences).
type Row = (String, String, String, String, usize);

fn rows(section: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut day: Option<(String, String)> = None;
    let mut day_start = 0;
    for line in section.lines() {
        if let Some(rest) = line.strip_prefix("  Daily from ") {
            let rest = rest.trim().trim_matches(':');
            let (from, to) = rest.split_once(" to ").unwrap_or((rest, ""));
            day = Some((day_time(from), day_time(to)));
            day_start = rows.len();
            continue;
        }
        let Some((from, to)) = &day else { continue };
        let Some(rest) = line.trim().strip_prefix("Update ") else {
            continue;
        };
        // A truncated or vendor line (no `vers=`) is skipped, as MVT does.
        let (pkg, vers) = rest.split_once(' ').unwrap_or((rest, ""));
        let vers = vers.split_once('=').map_or("", |(_, v)| v).trim();
        if pkg.is_empty() || vers.is_empty() {
            continue;
        }
        match rows[day_start..]
            .iter_mut()
            .find(|r| r.2 == pkg && same_version(&r.3, vers))
        {
            Some(r) => r.4 += 1,
            None => rows.push((from.clone(), to.clone(), pkg.into(), vers.into(), 1)),
        }
    }
    rows
}

/// Versions compare as numbers when both are (`vers=07` is `vers=7`).
fn same_version(a: &str, b: &str) -> bool {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut rows = rows(section);
    // Stable, so updates of one day keep their order (MVT's `sorted`).
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    let mut last: HashMap<String, i64> = HashMap::new();
    rows.into_iter()
        .map(|(from, to, pkg, vers, occurrences)| {
            let at = if from.len() == 10 {
                format!("{from} 00:00:00")
            } else {
                from.clone()
            };
            let mut rec = Record::new(MODULE.name, artifact)
                .at(super::dumpsys::parse_local(&at))
                .field("from", from.as_str())
                .field("to", to.as_str())
                .field("package_name", pkg.as_str())
                .field("vers", vers.as_str())
                .field("occurrences", occurrences)
                .observe(ObservableType::AppId, pkg.as_str());
            let v: Option<i64> = vers.parse().ok();
            let mut action = "update";
            if v == Some(0) {
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
