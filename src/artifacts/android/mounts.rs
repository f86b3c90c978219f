//! androidqf `mounts.json`: `mount` and `/proc/mounts` lines (MVT reads
//! only the first form). System partitions mounted read-write are warnings.

use super::{AqfModule, AqfRead};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "mounts",
    artifact: "mounts.json",
    read: AqfRead::Member(|data, member, _| parse(data, member)),
};

const SYSTEM: &[&str] = &["/system", "/vendor", "/product", "/system_ext"];
const NOATIME_OK: &[&str] = &[
    "/system_dlkm",
    "/system_ext",
    "/product",
    "/vendor",
    "/vendor_dlkm",
];

/// (device, mount point, fs type, options)
pub fn parse_line(line: &str) -> Option<(String, String, String, Vec<String>)> {
    let t: Vec<&str> = line.split_whitespace().collect();
    if t.len() >= 5 && t[1] == "on" && t[3] == "type" {
        let opts = t.get(5).map(|o| o.trim_matches(['(', ')'])).unwrap_or("");
        return Some((
            t[0].into(),
            t[2].into(),
            t[4].into(),
            opts.split(',').map(str::to_string).collect(),
        ));
    }
    if t.len() >= 4 && t[1].starts_with('/') {
        return Some((
            t[0].into(),
            t[1].into(),
            t[2].into(),
            t[3].split(',').map(str::to_string).collect(),
        ));
    }
    None
}

pub fn parse(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<String> = serde_json::from_slice(data)
        .map_err(|e| format!("{artifact}: not a JSON list of mount lines: {e}"))?;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in lines.iter().flat_map(|l| l.lines()) {
        let Some((dev, mp, fs, opts)) = parse_line(line) else {
            continue;
        };
        if !seen.insert((dev.clone(), mp.clone())) {
            continue;
        }
        let system = SYSTEM.iter().any(|s| mp == *s || mp.starts_with(s));
        let rw = opts.iter().any(|o| o == "rw");
        let mut r = Record::new(MODULE.name, artifact)
            .event(
                "mount",
                format!("{dev} on {mp} type {fs} ({})", opts.join(",")),
            )
            .field("device", dev.as_str())
            .field("mount_point", mp.as_str())
            .field("fs_type", fs.as_str())
            .field("options", opts.clone())
            .observe(ObservableType::FilePath, mp.as_str());
        if dev.starts_with('/') {
            r.push_observable(ObservableType::FilePath, dev.as_str());
        }
        if system && rw {
            let msg = if mp == "/system" {
                "Root detected /system partition is mounted as read-write (rw)".to_string()
            } else {
                format!(
                    "System partition {mp} is mounted as read-write (rw). This may indicate system modifications."
                )
            };
            r = r.alert(&crate::rules::ANDROID_SYSTEM_RW, msg);
        }
        if system {
            let odd: Vec<&str> = opts
                .iter()
                .map(String::as_str)
                .filter(|o| ["rw", "remount", "noatime", "nodiratime"].contains(o))
                .collect();
            let excused = opts.iter().any(|o| o == "noatime") && NOATIME_OK.contains(&mp.as_str());
            if !odd.is_empty() && !excused {
                r = r.alert(
                    &crate::rules::ANDROID_SYSTEM_MOUNT_OPTIONS,
                    format!(
                        "Suspicious mount options found for {mp}: {}",
                        odd.join(", ")
                    ),
                );
            }
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn both_line_forms() {
        let data = br#"["/dev/block/dm-0 on / type ext4 (ro,seclabel)",
            "/dev/block/dm-1 on /system type ext4 (ro,seclabel,noatime)",
            "/dev/block/dm-2 on /vendor type ext4 (ro,noatime)",
            "/dev/block/dm-3 /product ext4 rw,seclabel 0 0"]"#;
        let r = parse(data, "mounts.json").unwrap();
        assert_eq!(r.len(), 4);
        // /system with noatime: medium; /vendor with noatime: excused.
        assert_eq!(r[1].alerts.len(), 1);
        assert_eq!(r[1].alerts[0].severity, Severity::Medium);
        assert!(r[2].alerts.is_empty());
        // /proc/mounts form, read-write system partition: high + medium.
        assert_eq!(r[3].fields["mount_point"], "/product");
        assert_eq!(r[3].alerts[0].severity, Severity::High);
        assert_eq!(
            r.iter()
                .filter(|x| x.observables.iter().any(|o| o.value == "/system"))
                .count(),
            1
        );
    }
}
