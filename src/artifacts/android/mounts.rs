//! Mount tables. androidqf's `mounts.json` holds `mount` and `/proc/mounts`
//! lines (MVT reads only the first form); a bugreport's
//! `FS/proc/<pid>/mountinfo` files (one per mount namespace dumpstate
//! met) are read as MVT 2026's bugreport `mounts` reads them: one record per
//! distinct mount, with the processes that see it. System partitions mounted
//! read-write, or with unusual options, are warnings; mount points and
//! device paths are matched against `file:path` indicators.

use std::collections::BTreeMap;

use super::{AqfModule, AqfRead, BugreportModule};
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::{Member, Source};
use crate::model::{ObservableType, Record};
use crate::time::DeviceZone;

pub const MODULE: AqfModule = AqfModule {
    name: "mounts",
    artifact: "mounts.json",
    read: AqfRead::Member(|data, member, _| parse(data, member)),
};

/// A bugreport's `FS/proc/<pid>/mountinfo` files. Inside androidqf (whose
/// own `mounts` reads `mounts.json`) it is `bugreport_mounts`.
pub const BUGREPORT: BugreportModule = BugreportModule {
    name: "mounts",
    nested_name: Some("bugreport_mounts"),
    artifact: "FS/proc/*/mountinfo",
    run: run_bugreport,
};

const SYSTEM: &[&str] = &["/system", "/vendor", "/product", "/system_ext"];
const NOATIME_OK: &[&str] = &[
    "/system_dlkm",
    "/system_ext",
    "/product",
    "/vendor",
    "/vendor_dlkm",
];
const ODD_OPTIONS: &[&str] = &["rw", "remount", "noatime", "nodiratime"];

/// What the heuristics look at in one mount.
struct Checked<'a> {
    mount_point: &'a str,
    /// Every option (mountinfo: the mount's and its superblock's).
    options: &'a [String],
    /// Writable (mountinfo: `rw` in both option lists).
    read_write: bool,
    system: bool,
}

/// MVT's heuristics (`android/artifacts/mounts.py`, `check_indicators`).
fn check(mut r: Record, m: &Checked<'_>) -> Record {
    let mp = m.mount_point;
    if m.system && m.read_write {
        let msg = if mp == "/system" {
            "Root detected /system partition is mounted as read-write (rw)".to_string()
        } else {
            format!(
                "System partition {mp} is mounted as read-write (rw). This may indicate system modifications."
            )
        };
        r = r.alert(&crate::rules::ANDROID_SYSTEM_RW, msg);
    }
    if m.system {
        // `rw` in a merged list is not writability: only counted when the
        // mount really is writable.
        let odd: Vec<&str> = m
            .options
            .iter()
            .map(String::as_str)
            .filter(|o| ODD_OPTIONS.contains(o) && (*o != "rw" || m.read_write))
            .collect();
        let excused = m.options.iter().any(|o| o == "noatime") && NOATIME_OK.contains(&mp);
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
    r
}

/// The paths of a mount matched against `file:path` indicators.
fn observe_paths(mut r: Record, mount_point: &str, device: &str) -> Record {
    r.push_observable(ObservableType::FilePath, mount_point);
    if device.starts_with('/') {
        r.push_observable(ObservableType::FilePath, device);
    }
    r
}

// ------------------------------------------------------- androidqf mounts.json

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
        // As MVT's mounts.json reading: `/system_dlkm` counts as a system
        // partition (a prefix, not a folder).
        let system = SYSTEM.iter().any(|s| mp.starts_with(s));
        let r = Record::new(MODULE.name, artifact)
            .event(
                "mount",
                format!("{dev} on {mp} type {fs} ({})", opts.join(",")),
            )
            .field("device", dev.as_str())
            .field("mount_point", mp.as_str())
            .field("fs_type", fs.as_str())
            .field("options", opts.clone());
        let r = observe_paths(r, &mp, &dev);
        let checked = Checked {
            mount_point: &mp,
            options: &opts,
            read_write: opts.iter().any(|o| o == "rw"),
            system,
        };
        out.push(check(r, &checked));
    }
    Ok(out)
}

// --------------------------------------------------- bugreport mountinfo

/// One `/proc/<pid>/mountinfo` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_id: i64,
    pub parent_id: i64,
    pub major_minor: String,
    pub root: String,
    pub mount_point: String,
    /// The mount's own (VFS) options.
    pub options: Vec<String>,
    pub optional_fields: Vec<String>,
    pub fs_type: String,
    pub device: String,
    /// The superblock's options.
    pub super_options: Vec<String>,
}

impl MountInfo {
    /// The mount's and the superblock's options, each once, in order.
    pub fn all_options(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for o in self.options.iter().chain(&self.super_options) {
            if !all.contains(o) {
                all.push(o.clone());
            }
        }
        all
    }

    /// Writable only when both the mount and its superblock allow it.
    pub fn read_write(&self) -> bool {
        self.options.iter().any(|o| o == "rw") && self.super_options.iter().any(|o| o == "rw")
    }

    /// A system partition or a folder of one (`/system_dlkm` is not).
    pub fn system(&self) -> bool {
        SYSTEM.iter().any(|s| {
            self.mount_point == *s
                || self
                    .mount_point
                    .strip_prefix(s)
                    .is_some_and(|r| r.starts_with('/'))
        })
    }
}

/// `\040`-style octal escapes the kernel writes for space, tab, newline
/// and backslash.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one mountinfo line (`id parent maj:min root mount-point options
/// [optional fields] - fstype source super-options`).
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let sep = f.iter().position(|x| *x == "-")?;
    if sep < 6 || f.len() < sep + 4 {
        return None;
    }
    let list = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
    Some(MountInfo {
        mount_id: f[0].parse().ok()?,
        parent_id: f[1].parse().ok()?,
        major_minor: f[2].to_string(),
        root: unescape(f[3]),
        mount_point: unescape(f[4]),
        options: list(f[5]),
        optional_fields: f[6..sep].iter().map(|s| s.to_string()).collect(),
        fs_type: f[sep + 1].to_string(),
        device: unescape(f[sep + 2]),
        super_options: list(f[sep + 3]),
    })
}

/// The pid of `…/proc/<pid>/mountinfo`.
fn mountinfo_pid(name: &str) -> Option<u32> {
    let rest = name.strip_suffix("/mountinfo")?;
    let (before, pid) = rest.rsplit_once('/')?;
    if !(before == "proc" || before.ends_with("/proc")) || !pid.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    pid.parse().ok()
}

/// The mountinfo files, `FS/proc/<pid>/mountinfo` first choice, by pid.
fn mountinfo_files(src: &Source) -> Vec<(u32, &Member)> {
    let all: Vec<(u32, &Member)> = src
        .members
        .iter()
        .filter_map(|m| Some((mountinfo_pid(&m.name)?, m)))
        .collect();
    let fs: Vec<(u32, &Member)> = all
        .iter()
        .copied()
        .filter(|(_, m)| m.name.starts_with("FS/proc/"))
        .collect();
    let mut files = if fs.is_empty() { all } else { fs };
    files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    files
}

/// One distinct mount: where it was first seen and every process seeing it.
struct Seen {
    mount: MountInfo,
    file: String,
    pids: Vec<u32>,
}

fn run_bugreport(src: &Source, _zone: &DeviceZone) -> Result<Vec<Record>, ModuleError> {
    let files = mountinfo_files(src);
    if files.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut order: Vec<Seen> = Vec::new();
    let mut index: BTreeMap<(String, String, String, String, String, String), usize> =
        BTreeMap::new();
    let mut errors = Vec::new();
    for (pid, m) in &files {
        let text = match src.read_text(m) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", src.label));
                continue;
            }
        };
        for mount in text.lines().filter_map(parse_mountinfo_line) {
            let key = (
                mount.major_minor.clone(),
                mount.root.clone(),
                mount.mount_point.clone(),
                mount.device.clone(),
                mount.fs_type.clone(),
                mount.all_options().join(","),
            );
            match index.get(&key) {
                Some(&i) => order[i].pids.push(*pid),
                None => {
                    index.insert(key, order.len());
                    order.push(Seen {
                        mount,
                        file: m.name.clone(),
                        pids: vec![*pid],
                    });
                }
            }
        }
    }
    if order.is_empty() && errors.len() == files.len() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(order.iter().map(mountinfo_record).collect())
}

fn mountinfo_record(s: &Seen) -> Record {
    let m = &s.mount;
    let all = m.all_options();
    let r = Record::new(BUGREPORT.name, &s.file)
        .event(
            "mount",
            format!(
                "{} on {} type {} ({})",
                m.device,
                m.mount_point,
                m.fs_type,
                all.join(",")
            ),
        )
        .field("device", m.device.as_str())
        .field("mount_point", m.mount_point.as_str())
        .field("fs_type", m.fs_type.as_str())
        .field("options", all.clone())
        .field("mount_options", m.options.clone())
        .field("super_options", m.super_options.clone())
        .field("mount_id", m.mount_id)
        .field("parent_id", m.parent_id)
        .field("major_minor", m.major_minor.as_str())
        .field("root", m.root.as_str())
        .field("optional_fields", m.optional_fields.clone())
        .field("process_ids", s.pids.clone());
    let r = observe_paths(r, &m.mount_point, &m.device);
    let checked = Checked {
        mount_point: &m.mount_point,
        options: &all,
        read_write: m.read_write(),
        system: m.system(),
    };
    check(r, &checked)
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

    #[test]
    fn mountinfo_lines() {
        let m = parse_mountinfo_line(
            "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!(m.mount_id, 36);
        assert_eq!(m.mount_point, "/mnt 2");
        assert_eq!(m.optional_fields, ["master:1", "shared:7"]);
        assert_eq!(m.device, "/dev/root");
        assert_eq!(m.all_options(), ["rw", "noatime", "errors=continue"]);
        assert!(m.read_write());
        // Too few fields, no separator, a non-numeric id: skipped.
        for bad in [
            "1 2 3:4 / / - ext4 /dev/x rw",
            "1 2 3:4 / /x rw ext4 /dev/x rw",
            "a 2 3:4 / /x rw - ext4 /dev/x rw",
            "",
            "\\\\\\ - - - - - - - -",
        ] {
            assert!(parse_mountinfo_line(bad).is_none(), "{bad}");
        }
        assert_eq!(unescape("a\\134b\\0"), "a\\b\\0");
        assert_eq!(unescape("é\\040ü"), "é ü");
    }

    #[test]
    fn mountinfo_heuristics() {
        let rec = |line: &str| {
            let m = parse_mountinfo_line(line).unwrap();
            mountinfo_record(&Seen {
                mount: m,
                file: "FS/proc/1/mountinfo".into(),
                pids: vec![1],
            })
        };
        // Writable only through the superblock: not rw, no alert.
        let r = rec("1 0 8:1 / /system ro,relatime - ext4 /dev/block/dm-0 rw,seclabel");
        assert!(r.alerts.is_empty(), "{:?}", r.alerts);
        // Writable both ways: high, and medium for the rw option.
        let r = rec("1 0 8:1 / /system rw,relatime - ext4 /dev/block/dm-0 rw,seclabel");
        let sev: Vec<Severity> = r.alerts.iter().map(|a| a.severity).collect();
        assert_eq!(sev, [Severity::High, Severity::Medium]);
        // A folder of a system partition counts; /system_dlkm does not.
        let r = rec("1 0 8:1 / /vendor/dsp rw - ext4 /dev/block/sda1 rw");
        assert_eq!(r.alerts.len(), 2);
        let r = rec("1 0 8:1 / /system_dlkm rw - ext4 /dev/block/dm-9 rw");
        assert!(r.alerts.is_empty());
        // noatime excused on /vendor, not on /system.
        let r = rec("1 0 8:1 / /vendor ro,noatime - ext4 /dev/block/dm-2 ro");
        assert!(r.alerts.is_empty());
        let r = rec("1 0 8:1 / /system ro,noatime - ext4 /dev/block/dm-2 ro");
        assert_eq!(r.alerts[0].severity, Severity::Medium);
    }

    #[test]
    fn mountinfo_pids() {
        assert_eq!(mountinfo_pid("FS/proc/123/mountinfo"), Some(123));
        assert_eq!(mountinfo_pid("x/proc/7/mountinfo"), Some(7));
        for n in [
            "FS/proc/self/mountinfo",
            "FS/proc/1/task/2/mountinfo2",
            "FS/notproc/1/mountinfo",
            "FS/proc//mountinfo",
            "FS/proc/1/mounts",
        ] {
            assert_eq!(mountinfo_pid(n), None, "{n}");
        }
    }
}
