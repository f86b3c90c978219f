//! Android artifacts: adb backups, bugreports and androidqf acquisitions.
//!
//! Each input is opened as a read-only `Source` (folder, zip, zip in
//! memory, age-encrypted zip) or streamed (`.ab`); the modules of that
//! input kind then run in parallel, each on the bytes it needs.

pub mod aqf_files;
pub mod aqf_packages;
pub mod aqf_processes;
pub mod aqf_settings;
pub mod bugreport_processes;
pub mod dumpsys;
pub mod dumpsys_accessibility;
pub mod dumpsys_activities;
pub mod dumpsys_adb;
pub mod dumpsys_appops;
pub mod dumpsys_battery_daily;
pub mod dumpsys_battery_history;
pub mod dumpsys_dbinfo;
pub mod dumpsys_packages;
pub mod dumpsys_platform_compat;
pub mod dumpsys_receivers;
pub mod dumpsys_settings;
pub mod file_timestamps;
pub mod getprop;
pub mod logcat;
pub mod mounts;
pub mod root_binaries;
pub mod sms;
pub mod tombstones;

use std::io::Read;
use std::path::Path;

use jiff::Timestamp;
use rayon::prelude::*;

use super::{ModuleError, ScanOptions, run_module};
use crate::error::{Error, Result};
use crate::evidence::android_backup::{self, AbError};
use crate::evidence::zip_source::{Source, zip_times};
use crate::model::{DeviceInfo, DeviceScan, ModuleOutput, Platform, Record};
use crate::strings::base_name;
use crate::time::DeviceZone;

type Job<'a> = (
    String,
    String,
    Box<dyn FnOnce() -> Result<Vec<Record>, ModuleError> + Send + 'a>,
);

fn run_jobs(jobs: Vec<Job<'_>>, opts: &ScanOptions) -> Vec<ModuleOutput> {
    jobs.into_par_iter()
        .map(|(name, artifact, f)| opts.finish(run_module(&name, &artifact, &opts.progress, f)))
        .collect()
}

fn android_device() -> DeviceInfo {
    DeviceInfo {
        platform: Some(Platform::Android),
        ..DeviceInfo::default()
    }
}

/// Device facts from getprop output.
fn fill_device(dev: &mut DeviceInfo, props: &[(String, String)]) {
    let get = |k: &str| {
        props
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    dev.model = dev.model.take().or_else(|| get("ro.product.model"));
    dev.name = dev
        .name
        .take()
        .or_else(|| get("ro.product.vendor.name").or_else(|| get("ro.product.name")));
    dev.os_version = dev
        .os_version
        .take()
        .or_else(|| get("ro.build.version.release").map(|v| format!("Android {v}")));
    dev.build = dev
        .build
        .take()
        .or_else(|| get("ro.build.display.id").or_else(|| get("ro.build.id")));
    dev.identifier = dev
        .identifier
        .take()
        .or_else(|| get("ro.serialno").or_else(|| get("ro.boot.serialno")));
    for k in [
        "ro.build.version.security_patch",
        "ro.product.manufacturer",
        "persist.sys.timezone",
    ] {
        if let Some(v) = get(k) {
            dev.extra.entry(k.to_string()).or_insert(v);
        }
    }
}

// ---------------------------------------------------------------- backup

fn ab_error(path: &Path, e: AbError) -> Error {
    match e {
        AbError::WrongPassword => Error::WrongPassword { path: path.into() },
        AbError::PasswordRequired => Error::PasswordRequired { path: path.into() },
        AbError::Io(io) => Error::io(path, io),
        other => Error::input(path, other.to_string()),
    }
}

/// The SMS module over the backup's telephony members; SMS chunks first.
fn sms_job<'a>(mut members: Vec<android_backup::AbMember>, label: String) -> Job<'a> {
    (
        sms::MODULE.into(),
        format!("{label}:apps/com.android.providers.telephony"),
        Box::new(move || {
            if members.is_empty() {
                return Err(ModuleError::Missing);
            }
            members.sort_by_key(|m| (m.name.ends_with("_mms_backup"), m.name.clone()));
            let mut out = Vec::new();
            let mut errors = Vec::new();
            for m in &members {
                match sms::parse(&m.name, &m.data) {
                    Ok(r) => out.extend(r),
                    Err(e) => errors.push(e),
                }
            }
            if out.is_empty() && !errors.is_empty() {
                return Err(ModuleError::Failed(errors.join("; ")));
            }
            Ok(out)
        }),
    )
}

/// Reads a `.ab` stream into (header, SMS members, notes).
fn read_ab(
    input: impl Read,
    label: &str,
    path: &Path,
    opts: &ScanOptions,
) -> Result<(android_backup::AbHeader, android_backup::AbContents)> {
    let password = opts.password.as_ref().map(|p| p.as_str());
    let (header, tar) = android_backup::open(input, password).map_err(|e| ab_error(path, e))?;
    let mut contents = android_backup::walk_tar(tar, sms::is_sms_member);
    if let Some(t) = contents.truncated.take() {
        contents.truncated = Some(format!(
            "{label}: truncated: {t}; results cover the {} members read before that",
            contents.names.len()
        ));
    }
    Ok((header, contents))
}

/// Scans an `adb backup` file.
pub fn scan_backup(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let file = crate::evidence::open_regular(path).map_err(|e| Error::io(path, e))?;
    let label = path.display().to_string();
    let (header, contents) = read_ab(file, &label, path, opts)?;
    let mut scan = DeviceScan {
        device: android_device(),
        ..DeviceScan::default()
    };
    scan.device
        .extra
        .insert("backup_version".into(), header.version.to_string());
    scan.device
        .extra
        .insert("backup_encryption".into(), header.encryption.clone());
    scan.device
        .extra
        .insert("backup_members".into(), contents.names.len().to_string());
    scan.notes.extend(contents.notes);
    scan.notes.extend(contents.truncated);
    scan.modules = run_jobs(vec![sms_job(contents.kept, label)], opts);
    Ok(scan)
}

// ------------------------------------------------------------- bugreport

/// Context an androidqf acquisition gives the nested bugreport.
#[derive(Clone, Debug, Default)]
struct Acquisition {
    started: Option<Timestamp>,
    /// The acquisition has its own `logcat.txt`: the bugreport's logcat
    /// blocks (the same ring buffers, dumped moments apart) are not swept
    /// twice.
    has_logcat: bool,
    /// `Some("")` inside androidqf when no host key was recorded.
    host_key: Option<String>,
    /// The device's zone (androidqf: `persist.sys.timezone` in getprop.txt).
    zone: DeviceZone,
}

fn find_dumpstate(src: &Source) -> Option<&crate::evidence::zip_source::Member> {
    if let Some(main) = src.find("main_entry.txt")
        && let Ok(name) = src.read_text(main)
        && let Some(m) = src.find(name.trim())
    {
        return Some(m);
    }
    src.find_all(|b| b.starts_with("dumpState_") && b.ends_with(".log"))
        .next()
        .or_else(|| src.find_all(|b| b == "dumpsys.txt").next())
        .or_else(|| {
            src.find_all(|b| b.starts_with("bugreport-") && b.ends_with(".txt"))
                .next()
        })
        .or_else(|| src.find_all(|b| b == "dumpstate.txt").next())
}

/// `== dumpstate: 2024-03-21 11:07:22` in the dumpstate header: the
/// device's wall clock when the report was taken.
fn dumpstate_time(text: &str, zone: &DeviceZone) -> Option<Timestamp> {
    let head = crate::time::head_str(text, 4096);
    let at = head.find("== dumpstate: ")?;
    let rest = head.get(at + 14..)?;
    zone.parse_local(rest.get(..19)?)
}

/// The zone a dumpstate's wall-clock times are in: `persist.sys.timezone`
/// from its SYSTEM PROPERTIES block; else the offset `dumpsys alarm` shows
/// (`nowRTC=<epoch ms>=<wall clock>`, the same instant both ways).
fn dumpstate_zone(text: &str) -> DeviceZone {
    dumpsys::system_properties(text)
        .and_then(|block| {
            getprop::properties(block)
                .into_iter()
                .find(|(k, _)| k == "persist.sys.timezone")
        })
        .and_then(|(_, v)| DeviceZone::named(&v))
        .or_else(|| alarm_offset(dumpsys::section(text, "alarm")?))
        .unwrap_or_default()
}

/// `nowRTC=1588760430123=2020-05-06 12:20:30.123` in `dumpsys alarm`.
fn alarm_offset(section: &str) -> Option<DeviceZone> {
    let at = section.find("nowRTC=")?;
    let rest = section.get(at + 7..)?;
    let (ms, rest) = rest.split_once('=')?;
    let utc = crate::time::from_unix_ms(ms.trim().parse().ok()?)?;
    let local = crate::time::parse_civil(rest.get(..19)?)?;
    DeviceZone::observed_offset(utc, local)
}

/// Device-local times a module parsed as if UTC, re-read in the device's
/// zone; each timed record says which zone (or that it is unknown).
fn localise(records: &mut [Record], zone: &DeviceZone) {
    for r in records {
        if let Some(ts) = r.timestamp {
            r.timestamp = zone.relocate(ts);
            r.fields
                .insert("time_zone".to_string(), zone.label().into());
        }
    }
}

/// The dumpsys section modules over one dumpstate/dumpsys text.
fn dumpsys_jobs<'a>(
    text: &'a str,
    prefix: &str,
    artifact: &str,
    acq: &Acquisition,
    now: Timestamp,
    with_props: bool,
    zone: &DeviceZone,
) -> Vec<Job<'a>> {
    type Parser = fn(&str, &str) -> Vec<Record>;
    let table: [(&str, &str, Parser); 10] = [
        (
            dumpsys_accessibility::MODULE,
            "accessibility",
            dumpsys_accessibility::parse,
        ),
        (
            dumpsys_activities::MODULE,
            "package",
            dumpsys_activities::parse,
        ),
        (dumpsys_appops::MODULE, "appops", dumpsys_appops::parse),
        (
            dumpsys_battery_daily::MODULE,
            "batterystats",
            dumpsys_battery_daily::parse,
        ),
        (
            dumpsys_battery_history::MODULE,
            "batterystats",
            dumpsys_battery_history::parse,
        ),
        (dumpsys_dbinfo::MODULE, "dbinfo", dumpsys_dbinfo::parse),
        (dumpsys_packages::MODULE, "package", dumpsys_packages::parse),
        (
            dumpsys_platform_compat::MODULE,
            "platform_compat",
            dumpsys_platform_compat::parse,
        ),
        (
            dumpsys_receivers::MODULE,
            "package",
            dumpsys_receivers::parse,
        ),
        (
            dumpsys_settings::MODULE,
            "settings",
            dumpsys_settings::parse,
        ),
    ];
    let mut jobs: Vec<Job<'a>> = Vec::new();
    for (module, service, parser) in table {
        let artifact = format!("{artifact}#{service}");
        let a = artifact.clone();
        // androidqf's own settings_*.txt module is aqf_settings already.
        let name = if !prefix.is_empty() && module == dumpsys_settings::MODULE {
            format!("{prefix}dumpsys_{module}")
        } else {
            format!("{prefix}{module}")
        };
        jobs.push((
            name,
            artifact,
            Box::new(move || {
                let section = dumpsys::section(text, service).ok_or(ModuleError::Missing)?;
                Ok(parser(section, &a))
            }),
        ));
    }
    let key = acq.host_key.clone();
    let a = format!("{artifact}#adb");
    jobs.push((
        format!("{prefix}{}", dumpsys_adb::MODULE),
        a.clone(),
        Box::new(move || {
            let section = dumpsys::section(text, "adb").ok_or(ModuleError::Missing)?;
            Ok(dumpsys_adb::parse(section, &a, key.as_deref()))
        }),
    ));
    if with_props {
        let a = format!("{artifact}#SYSTEM PROPERTIES");
        jobs.push((
            getprop::MODULE_BUGREPORT.into(),
            a.clone(),
            Box::new(move || {
                let block = dumpsys::system_properties(text).ok_or(ModuleError::Missing)?;
                Ok(getprop::parse(block, getprop::MODULE_BUGREPORT, &a, now))
            }),
        ));
        let a = format!("{artifact}#PROCESSES AND THREADS");
        jobs.push((
            bugreport_processes::MODULE.into(),
            a.clone(),
            Box::new(move || {
                let block = dumpsys::command_section(text, "PROCESSES AND THREADS")
                    .ok_or(ModuleError::Missing)?;
                Ok(bugreport_processes::parse(block, &a))
            }),
        ));
    }
    // Module names on records follow the job name (aqf_ prefix included);
    // dumpsys times are the device's wall clock.
    let prefix = prefix.to_string();
    jobs.into_iter()
        .map(|(name, art, f)| {
            let p = prefix.clone();
            let n = name.clone();
            let zone = zone.clone();
            let wrapped: Box<dyn FnOnce() -> Result<Vec<Record>, ModuleError> + Send + 'a> =
                Box::new(move || {
                    let mut records = f()?;
                    if !p.is_empty() {
                        for r in &mut records {
                            r.module = n.clone();
                        }
                    }
                    localise(&mut records, &zone);
                    Ok(records)
                });
            (name, art, wrapped)
        })
        .collect()
}

/// The dumpstate text a bugreport's modules read.
struct Dumpstate {
    /// `label:member`, or the file's path for a plain-text bugreport.
    artifact: String,
    /// `Err("")` when the bugreport has no dumpstate.
    text: Result<String, String>,
}

fn read_dumpstate(src: &Source) -> Dumpstate {
    let label = &src.label;
    match find_dumpstate(src) {
        Some(m) => Dumpstate {
            artifact: format!("{label}:{}", m.name),
            text: src.read_text(m).map_err(|e| format!("{label}: {e}")),
        },
        None => Dumpstate {
            artifact: String::new(),
            text: Err(String::new()),
        },
    }
}

/// The modules that read the dumpstate text (names as in reports).
const DUMPSTATE_MODULES: &[&str] = &[
    dumpsys_accessibility::MODULE,
    dumpsys_activities::MODULE,
    dumpsys_appops::MODULE,
    dumpsys_battery_daily::MODULE,
    dumpsys_battery_history::MODULE,
    dumpsys_dbinfo::MODULE,
    dumpsys_packages::MODULE,
    dumpsys_platform_compat::MODULE,
    dumpsys_receivers::MODULE,
    dumpsys_settings::MODULE,
    dumpsys_adb::MODULE,
    getprop::MODULE_BUGREPORT,
    bugreport_processes::MODULE,
];

/// Every bugreport module over `dump` and, for a zip or folder, `src`
/// (FS/ timestamps, tombstones); `acq` when nested in androidqf.
fn bugreport_modules<'a>(
    src: Option<&'a Source>,
    dump: &'a Dumpstate,
    acq: &Acquisition,
    opts: &ScanOptions,
    dev: &mut DeviceInfo,
) -> Vec<ModuleOutput> {
    let zone = match (&acq.zone, &dump.text) {
        (z, _) if z.is_known() => z.clone(),
        (_, Ok(t)) => dumpstate_zone(t),
        _ => DeviceZone::Unknown,
    };
    let now = acq
        .started
        .or_else(|| {
            dump.text
                .as_ref()
                .ok()
                .and_then(|t| dumpstate_time(t, &zone))
        })
        .unwrap_or_else(Timestamp::now);
    if let Ok(t) = &dump.text
        && let Some(block) = dumpsys::system_properties(t)
    {
        fill_device(dev, &getprop::properties(block));
    }
    if zone.is_known() {
        dev.extra
            .entry("time_zone".into())
            .or_insert_with(|| zone.label().to_string());
    }
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let dump_name = dump.artifact.clone();
    match &dump.text {
        Ok(t) => jobs.extend(dumpsys_jobs(t, "", &dump_name, acq, now, true, &zone)),
        Err(e) => {
            let label = src.map(|s| s.label.clone()).unwrap_or_default();
            for name in DUMPSTATE_MODULES {
                let e = e.clone();
                jobs.push((
                    name.to_string(),
                    format!("{label}:dumpstate"),
                    Box::new(move || {
                        if e.is_empty() {
                            Err(ModuleError::Missing)
                        } else {
                            Err(ModuleError::Failed(e))
                        }
                    }),
                ));
            }
        }
    }
    if let (Ok(t), Some(sweep)) = (&dump.text, opts.text_sweep.clone()) {
        let art = dump_name.clone();
        let has_logcat = acq.has_logcat;
        jobs.push((
            "bugreport_logs".into(),
            format!("{art}#LOGS"),
            Box::new(move || {
                let blocks: Vec<_> = dumpsys::log_blocks(t)
                    .into_iter()
                    .filter(|(title, _)| {
                        !(has_logcat && ["SYSTEM LOG", "EVENT LOG", "RADIO LOG"].contains(title))
                    })
                    .collect();
                if blocks.is_empty() {
                    return Err(ModuleError::Missing);
                }
                Ok(blocks
                    .into_iter()
                    .flat_map(|(title, body)| {
                        logcat::sweep(
                            body.as_bytes(),
                            sweep.as_ref(),
                            "bugreport_logs",
                            &format!("{art}#{title}"),
                        )
                    })
                    .collect())
            }),
        ));
    }
    let label = src
        .map(|s| s.label.clone())
        .unwrap_or_else(|| dump_name.clone());
    let fs_src = src.cloned();
    let fs_zone = zone.clone();
    jobs.push((
        file_timestamps::MODULE_BUGREPORT.into(),
        format!("{label}:FS/"),
        Box::new(move || {
            // A plain-text bugreport carries no FS/ files.
            let mut s = fs_src.ok_or(ModuleError::Missing)?;
            zip_times(&mut s);
            let mut r = file_timestamps::parse(
                s.members.iter(),
                "FS/",
                file_timestamps::MODULE_BUGREPORT,
                &s.label,
            );
            if r.is_empty() {
                return Err(ModuleError::Missing);
            }
            // Zip entry times are the device's wall clock; a folder's are
            // the extraction's, real instants.
            if s.members.first().is_some_and(|m| s.disk_path(m).is_none()) {
                localise(&mut r, &fs_zone);
            }
            Ok(r)
        }),
    ));
    let tomb_zone = zone.clone();
    jobs.push((
        tombstones::MODULE.into(),
        format!("{label}:tombstones"),
        Box::new(move || {
            let src = src.ok_or(ModuleError::Missing)?;
            let mut members: Vec<_> = src.find_all(|b| b.starts_with("tombstone_")).collect();
            if members.is_empty() {
                return Err(ModuleError::Missing);
            }
            members.sort_by(|a, b| a.name.cmp(&b.name));
            let mut out = Vec::new();
            let mut errors = Vec::new();
            for m in members {
                match src
                    .read(m)
                    .map_err(|e| e.to_string())
                    .and_then(|d| tombstones::parse(&m.name, &d, &tomb_zone))
                {
                    Ok(r) => out.push(r),
                    Err(e) => errors.push(e),
                }
            }
            if out.is_empty() {
                return Err(ModuleError::Failed(errors.join("; ")));
            }
            Ok(out)
        }),
    ));
    run_jobs(jobs, opts)
}

/// Scans a bugreport: zip, folder, or a plain-text dumpstate file.
pub fn scan_bugreport(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let mut scan = DeviceScan {
        device: android_device(),
        ..DeviceScan::default()
    };
    if path.is_file() && is_plain_bugreport(path)? {
        let data = std::fs::File::open(path)
            .and_then(|f| crate::evidence::read_capped(f, crate::evidence::MAX_MEMBER_BYTES))
            .map_err(|e| Error::io(path, e))?;
        let dump = Dumpstate {
            artifact: path.display().to_string(),
            text: Ok(match String::from_utf8(data) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        };
        scan.device
            .extra
            .insert("bugreport_format".into(), "plain text (dumpstate)".into());
        scan.modules =
            bugreport_modules(None, &dump, &Acquisition::default(), opts, &mut scan.device);
        return Ok(scan);
    }
    let src = if path.is_dir() {
        Source::open_dir(path)
    } else {
        Source::open_zip(path)
    }
    .map_err(|e| Error::input(path, format!("cannot open bugreport: {e}")))?;
    scan.notes = src.notes.clone();
    if find_dumpstate(&src).is_none() {
        scan.notes.push(format!(
            "{}: no dumpstate file (main_entry.txt, dumpState_*.log, dumpsys.txt or bugreport-*.txt) found",
            path.display()
        ));
    }
    let dump = read_dumpstate(&src);
    scan.modules = bugreport_modules(
        Some(&src),
        &dump,
        &Acquisition::default(),
        opts,
        &mut scan.device,
    );
    Ok(scan)
}

/// A file (not a zip) that opens like a dumpstate text.
fn is_plain_bugreport(path: &Path) -> Result<bool> {
    let mut head = [0u8; 1024];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    if head[..n].starts_with(b"PK") {
        return Ok(false);
    }
    if crate::evidence::detect::is_dumpstate_text(&head[..n]) {
        return Ok(true);
    }
    Err(Error::input(
        path,
        "not a bugreport: neither a zip nor a dumpstate text (no \"== dumpstate:\" header in its first KiB)",
    ))
}

// ------------------------------------------------------------- androidqf

/// The files an androidqf acquisition normally has; a note lists the
/// missing ones so a partial acquisition is visible.
const AQF_CORE: &[&str] = &[
    "packages.json",
    "getprop.txt",
    "settings_secure.txt",
    "files.json",
    "dumpsys.txt",
];

fn open_androidqf(path: &Path, opts: &ScanOptions) -> Result<Source> {
    if path.is_dir() {
        return Source::open_dir(path).map_err(|e| Error::input(path, e.to_string()));
    }
    let mut magic = [0u8; 21];
    let n = crate::evidence::open_regular(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| Error::io(path, e))?;
    if magic[..n].starts_with(b"age-encryption.org/") {
        let id = opts.age_identity.as_ref().ok_or_else(|| {
            Error::input(
                path,
                "this androidqf acquisition is age-encrypted; give the identity file (the key.txt private key) with --age-identity",
            )
        })?;
        return Source::open_zip_age(path, id).map_err(|e| Error::input(path, e));
    }
    Source::open_zip(path)
        .map_err(|e| Error::input(path, format!("cannot open androidqf zip: {e}")))
}

fn read_acquisition(src: &Source) -> Acquisition {
    let mut acq = Acquisition {
        started: None,
        has_logcat: src.find("logcat.txt").is_some(),
        host_key: Some(String::new()),
        zone: DeviceZone::Unknown,
    };
    if let Some(m) = src.find("getprop.txt")
        && let Ok(t) = src.read_text(m)
        && let Some((_, name)) = getprop::properties(&t)
            .into_iter()
            .find(|(k, _)| k == "persist.sys.timezone")
    {
        acq.zone = DeviceZone::named(&name).unwrap_or_default();
    }
    if let Some(m) = src.find("acquisition.json")
        && let Ok(data) = src.read(m)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data)
    {
        acq.started = v
            .get("started")
            .and_then(|s| s.as_str())
            .and_then(crate::time::parse_iso);
        if let Some(k) = v.get("adb_host_public_key").and_then(|s| s.as_str()) {
            acq.host_key = Some(k.to_string());
        }
    }
    if acq.host_key.as_deref() == Some("")
        && let Some(m) = src.find("adb_host_key.pub")
        && let Ok(k) = src.read_text(m)
    {
        acq.host_key = Some(k.trim().to_string());
    }
    acq
}

/// A job reading one androidqf member and parsing it.
fn member_job<'a>(
    src: &'a Source,
    module: &str,
    file: &'static str,
    parse: impl FnOnce(&[u8], &str) -> Result<Vec<Record>, String> + Send + 'a,
) -> Job<'a> {
    let artifact = file.to_string();
    (
        module.into(),
        artifact.clone(),
        Box::new(move || {
            let m = src.find(file).ok_or(ModuleError::Missing)?;
            let data = src
                .read(m)
                .map_err(|e| ModuleError::Failed(format!("{}: {e}", src.label)))?;
            parse(&data, &m.name).map_err(ModuleError::Failed)
        }),
    )
}

/// Scans an androidqf acquisition (folder, zip or .zip.age).
pub fn scan_androidqf(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let src = open_androidqf(path, opts)?;
    let mut scan = DeviceScan {
        device: android_device(),
        notes: src.notes.clone(),
        ..DeviceScan::default()
    };
    let acq = read_acquisition(&src);
    let now = acq.started.unwrap_or_else(Timestamp::now);
    if let Some(started) = acq.started {
        scan.device
            .extra
            .insert("acquisition_started".into(), started.to_string());
    }
    let missing: Vec<&str> = AQF_CORE
        .iter()
        .copied()
        .filter(|f| src.find(f).is_none())
        .collect();
    if !missing.is_empty() {
        scan.notes.push(format!(
            "{}: androidqf acquisition without {}; the modules that read them report \"missing\"",
            path.display(),
            missing.join(", ")
        ));
    }
    if let Some(m) = src.find("getprop.txt")
        && let Ok(t) = src.read_text(m)
    {
        fill_device(&mut scan.device, &getprop::properties(&t));
    }

    let dumpsys_text = src.find("dumpsys.txt").map(|m| src.read_text(m));
    let mut jobs: Vec<Job<'_>> = vec![
        member_job(
            &src,
            aqf_packages::MODULE,
            "packages.json",
            aqf_packages::parse,
        ),
        member_job(
            &src,
            getprop::MODULE_ANDROIDQF,
            "getprop.txt",
            move |d, a| {
                Ok(getprop::parse(
                    &String::from_utf8_lossy(d),
                    getprop::MODULE_ANDROIDQF,
                    a,
                    now,
                ))
            },
        ),
        member_job(&src, aqf_files::MODULE, "files.json", aqf_files::parse),
        member_job(
            &src,
            root_binaries::MODULE,
            "root_binaries.json",
            root_binaries::parse,
        ),
        member_job(&src, mounts::MODULE, "mounts.json", mounts::parse),
        member_job(&src, aqf_settings::MODULE_SELINUX, "selinux.txt", |d, a| {
            Ok(aqf_settings::parse_selinux(&String::from_utf8_lossy(d), a))
        }),
    ];
    let s = &src;
    jobs.push((
        aqf_processes::MODULE.into(),
        "processes".into(),
        Box::new(move || {
            if let Some(m) = s.find("processes.json") {
                let d = s.read(m)?;
                return aqf_processes::parse_json(&d, &m.name).map_err(ModuleError::Failed);
            }
            let m = s
                .find("ps.txt")
                .or_else(|| s.find("processes.txt"))
                .ok_or(ModuleError::Missing)?;
            Ok(aqf_processes::parse_text(&s.read_text(m)?, &m.name))
        }),
    ));
    jobs.push((
        aqf_settings::MODULE.into(),
        "settings_*.txt".into(),
        Box::new(move || {
            let members: Vec<_> = s
                .find_all(|b| b.starts_with("settings_") && b.ends_with(".txt"))
                .collect();
            if members.is_empty() {
                return Err(ModuleError::Missing);
            }
            let mut out = Vec::new();
            for m in members {
                let text = s.read_text(m)?;
                out.extend(aqf_settings::parse(
                    &text,
                    aqf_settings::namespace(base_name(&m.name)),
                    &m.name,
                ));
            }
            Ok(out)
        }),
    ));
    let logs_src = src.clone();
    jobs.push((
        file_timestamps::MODULE_ANDROIDQF.into(),
        "logs/".into(),
        Box::new(move || {
            let mut s = logs_src;
            zip_times(&mut s);
            let r = file_timestamps::parse(
                s.members.iter(),
                "logs/",
                file_timestamps::MODULE_ANDROIDQF,
                "logs/",
            );
            if r.is_empty() {
                Err(ModuleError::Missing)
            } else {
                Ok(r)
            }
        }),
    ));
    if let Some(sweep) = opts.text_sweep.clone() {
        jobs.push((
            logcat::MODULE.into(),
            "logcat*.txt".into(),
            Box::new(move || {
                let members: Vec<_> = s
                    .find_all(|b| b.starts_with("logcat") && b.ends_with(".txt"))
                    .collect();
                if members.is_empty() {
                    return Err(ModuleError::Missing);
                }
                let mut out = Vec::new();
                for m in members {
                    let data = s.read(m)?;
                    out.extend(logcat::sweep(
                        &data,
                        sweep.as_ref(),
                        logcat::MODULE,
                        &m.name,
                    ));
                }
                Ok(out)
            }),
        ));
    }
    // MVT ignores dumpsys.txt since its V3 refactor; spydar reads it.
    match &dumpsys_text {
        Some(Ok(t)) => jobs.extend(dumpsys_jobs(
            t,
            "aqf_",
            "dumpsys.txt",
            &acq,
            now,
            false,
            &acq.zone,
        )),
        Some(Err(e)) => scan
            .notes
            .push(format!("{}: dumpsys.txt unreadable: {e}", path.display())),
        None => {}
    }
    // The nested backup.ab (SMS).
    let mut backup_notes = Vec::new();
    if let Some(m) = src.find_all(|b| b.ends_with("backup.ab")).next() {
        let label = format!("{}:{}", src.label, m.name);
        let read = src.read(m).map_err(|e| Error::input(path, e.to_string()));
        match read.and_then(|bytes| read_ab(&bytes[..], &label, path, opts)) {
            Ok((_, contents)) => {
                backup_notes.extend(contents.notes);
                backup_notes.extend(contents.truncated);
                jobs.push(sms_job(contents.kept, label));
            }
            Err(e @ Error::PasswordRequired { .. }) | Err(e @ Error::WrongPassword { .. }) => {
                backup_notes.push(format!(
                    "{e}: skipped the SMS in {label} (give the backup password to read them)"
                ));
            }
            Err(e) => backup_notes.push(format!(
                "skipping backup modules as {label} is malformed: {e}"
            )),
        }
    }
    scan.notes.extend(backup_notes);
    // The nested bugreport.zip runs beside the other modules.
    let nested = src
        .find_all(|b| b.ends_with("bugreport.zip"))
        .next()
        .map(|m| {
            let label = format!("{}:{}", src.label, m.name);
            let opened = match src.disk_path(m) {
                Some(p) => Source::open_zip(p).map_err(|e| e.to_string()),
                None => src.read(m).map_err(|e| e.to_string()).and_then(|b| {
                    Source::open_zip_bytes(label.clone(), b).map_err(|e| e.to_string())
                }),
            };
            (label, opened)
        });
    let mut nested_dev = DeviceInfo::default();
    let (mut modules, nested_modules) = rayon::join(
        || run_jobs(jobs, opts),
        || match &nested {
            Some((label, Ok(b))) => {
                let mut b = b.clone();
                b.label = label.clone();
                let dump = read_dumpstate(&b);
                Ok(bugreport_modules(
                    Some(&b),
                    &dump,
                    &acq,
                    opts,
                    &mut nested_dev,
                ))
            }
            Some((label, Err(e))) => Err(format!(
                "{label}: skipping bugreport modules, unreadable bugreport.zip: {e}"
            )),
            None => Ok(Vec::new()),
        },
    );
    if let Some((_, Ok(b))) = &nested {
        scan.notes.extend(b.notes.iter().cloned());
    }
    match nested_modules {
        Ok(m) => modules.extend(m),
        Err(e) => scan.notes.push(e),
    }
    scan.device.model = scan.device.model.take().or(nested_dev.model);
    scan.device.name = scan.device.name.take().or(nested_dev.name);
    scan.device.os_version = scan.device.os_version.take().or(nested_dev.os_version);
    scan.device.build = scan.device.build.take().or(nested_dev.build);
    scan.device.identifier = scan.device.identifier.take().or(nested_dev.identifier);
    for (k, v) in nested_dev.extra {
        scan.device.extra.entry(k).or_insert(v);
    }
    scan.modules = modules;
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_from_properties_else_alarm_offset() {
        let d = "-".repeat(79);
        let props =
            "------ SYSTEM PROPERTIES ------\n[persist.sys.timezone]: [Europe/Berlin]\n------\n";
        let alarm = format!(
            "{d}\nDUMP OF SERVICE alarm:\nCurrent Alarm Manager state:\n  nowRTC=1588760430123=2020-05-06 12:20:30.123 nowELAPSED=3728123\n{d}\n"
        );
        assert_eq!(
            dumpstate_zone(&format!("{props}{alarm}")).label(),
            "Europe/Berlin"
        );
        let z = dumpstate_zone(&alarm);
        assert!(z.label().starts_with("UTC+02"), "{}", z.label());
        assert_eq!(
            z.parse_local("2020-05-06 12:00:00").unwrap().to_string(),
            "2020-05-06T10:00:00Z"
        );
        assert!(!dumpstate_zone("no zone here").is_known());
    }
}
