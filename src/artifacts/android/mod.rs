//! Android artifacts: adb backups, bugreports and androidqf acquisitions.
//!
//! Each input is opened as a read-only `Source` (folder, zip, zip in
//! memory, age-encrypted zip) or streamed (`.ab`); the modules of that
//! input kind then run in parallel, each on the bytes it needs.
//!
//! A module declares itself in its file with the descriptor of what it
//! reads, and one registry lists it: [`BACKUP`] (the `.ab` tar's members),
//! [`DUMPSTATE`] (a part of a bugreport's dumpstate text, and of
//! androidqf's `dumpsys.txt`), [`BUGREPORT`] (other files of a bugreport)
//! and [`ANDROIDQF`] (an acquisition's own files).

pub mod aqf_browser_history;
pub mod aqf_command_log;
pub mod aqf_files;
pub mod aqf_hashes;
pub mod aqf_packages;
pub mod aqf_processes;
pub mod aqf_root_collections;
pub mod aqf_settings;
pub mod aqf_tmp;
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
pub mod intrusion_logs;
pub mod logcat;
pub mod mounts;
pub mod root_binaries;
pub mod sms;
pub mod tombstones;

use std::io::Read;
use std::path::Path;

use jiff::Timestamp;
use rayon::prelude::*;

use super::{ModuleError, ModuleResult, ScanOptions, TextSweep, run_module};
use crate::error::{Error, Result};
use crate::evidence::InputKind;
use crate::evidence::android_backup::{self, AbError, AbMember};
use crate::evidence::zip_source::Source;
use crate::model::{DeviceInfo, DeviceScan, ModuleOutput, Platform, Record};
use crate::time::DeviceZone;

// ------------------------------------------------------------ registries

/// What a parser of one member returns: records, or why it could not read
/// the member.
pub type Parsed = std::result::Result<Vec<Record>, String>;

/// A module over the members of an `adb backup` tar.
pub struct BackupModule {
    pub name: &'static str,
    /// What it reads, after `<backup>:` in reports.
    pub artifact: &'static str,
    /// The tar members it reads (only those are kept in memory).
    pub wants: fn(&str) -> bool,
    /// Runs on the members it wants (at least one), in tar order.
    pub run: fn(Vec<&AbMember>) -> ModuleResult,
}

/// A module over one part of a dumpstate text: a bugreport's, and (when
/// `in_androidqf` names it there) androidqf's `dumpsys.txt`.
pub struct DumpstateModule {
    pub name: &'static str,
    /// Its name when it reads androidqf's own `dumpsys.txt`; `None`: it
    /// does not read that file.
    pub in_androidqf: Option<&'static str>,
    /// The part it reads; reports show `<dumpstate>#<part>`.
    pub part: Part,
    pub read: DumpRead,
}

/// Where in a dumpstate a module's text is.
#[derive(Clone, Copy)]
pub enum Part {
    /// A `DUMP OF SERVICE <name>:` section.
    Service(&'static str),
    /// The `SYSTEM PROPERTIES` block.
    SystemProperties,
    /// A `------ <title> (<command>) ------` block.
    Command(&'static str),
    /// The whole text (its log blocks).
    Logs,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::Service(s) | Part::Command(s) => s,
            Part::SystemProperties => "SYSTEM PROPERTIES",
            Part::Logs => "LOGS",
        }
    }

    fn find(self, text: &str) -> Option<&str> {
        match self {
            Part::Service(s) => dumpsys::section(text, s),
            Part::SystemProperties => dumpsys::system_properties(text),
            Part::Command(title) => dumpsys::command_section(text, title),
            Part::Logs => Some(text),
        }
    }
}

/// How a dumpstate module reads its part.
#[derive(Clone, Copy)]
pub enum DumpRead {
    /// Parsed; the times it reads are the device's wall clock and are
    /// re-read in the device's zone.
    Parse(fn(&str, &Dumped<'_>) -> Vec<Record>),
    /// Swept for indicators: runs only when the scan has a text sweep and
    /// the dumpstate was read.
    Sweep(fn(&str, &Dumped<'_>, &dyn TextSweep) -> ModuleResult),
}

/// What a dumpstate module gets besides its part's text.
pub struct Dumped<'a> {
    /// `<dumpstate>#<part>`.
    pub artifact: &'a str,
    /// The dumpstate's own name (`label:member`, or a file's path).
    pub dumpstate: &'a str,
    /// The acquisition's adb host key (inside androidqf; `Some("")` when it
    /// recorded none).
    pub host_key: Option<&'a str>,
    /// When the dump was taken (else the scan's time).
    pub now: Timestamp,
    /// The acquisition has its own `logcat.txt`.
    pub has_logcat: bool,
}

/// A module over the files of a bugreport zip or folder besides the
/// dumpstate; `missing` for a plain-text bugreport.
pub struct BugreportModule {
    pub name: &'static str,
    /// Its name over the `bugreport.zip` inside androidqf, when an
    /// androidqf module of its own file has `name` (`None`: `name`).
    pub nested_name: Option<&'static str>,
    /// What it reads, after `<bugreport>:` in reports.
    pub artifact: &'static str,
    /// Gets the bugreport and the device's zone.
    pub run: fn(&Source, &DeviceZone) -> ModuleResult,
}

impl BugreportModule {
    /// Its name, over the bugreport nested in androidqf or not.
    pub fn name_in(&self, nested: bool) -> &'static str {
        match (nested, self.nested_name) {
            (true, Some(n)) => n,
            _ => self.name,
        }
    }
}

/// A module over an androidqf acquisition's own files.
pub struct AqfModule {
    pub name: &'static str,
    /// The member it reads (or what it reads), as reports show it.
    pub artifact: &'static str,
    pub read: AqfRead,
}

/// How an androidqf module reads the acquisition.
#[derive(Clone, Copy)]
pub enum AqfRead {
    /// The member named by `artifact`: its bytes and name.
    Member(fn(&[u8], &str, &Acquired<'_>) -> Parsed),
    /// Whatever files it looks for.
    Files(fn(&Acquired<'_>) -> ModuleResult),
    /// Files swept for indicators: runs only when the scan has a text sweep.
    Sweep(fn(&Source, &dyn TextSweep) -> ModuleResult),
}

/// What an androidqf module gets.
pub struct Acquired<'a> {
    pub src: &'a Source,
    /// When the acquisition started (else the scan's time).
    pub now: Timestamp,
}

/// The modules of an `adb backup` (also the one inside androidqf).
pub const BACKUP: &[BackupModule] = &[sms::MODULE];

/// The modules of a dumpstate text.
pub const DUMPSTATE: &[DumpstateModule] = &[
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
    getprop::BUGREPORT,
    bugreport_processes::MODULE,
    logcat::BUGREPORT_LOGS,
];

/// The modules of a bugreport's other files.
pub const BUGREPORT: &[BugreportModule] = &[
    file_timestamps::BUGREPORT,
    tombstones::MODULE,
    mounts::BUGREPORT,
];

/// The modules of an androidqf acquisition's own files (its `dumpsys.txt`,
/// `backup.ab` and `bugreport.zip` go through the registries above).
pub const ANDROIDQF: &[AqfModule] = &[
    aqf_packages::MODULE,
    getprop::ANDROIDQF,
    aqf_files::MODULE,
    root_binaries::MODULE,
    mounts::MODULE,
    aqf_settings::SELINUX,
    aqf_processes::MODULE,
    aqf_settings::MODULE,
    file_timestamps::ANDROIDQF,
    logcat::MODULE,
    intrusion_logs::ANDROIDQF_DNS,
    intrusion_logs::ANDROIDQF_CONNECT,
    intrusion_logs::ANDROIDQF_SECURITY,
    aqf_hashes::MODULE,
    aqf_tmp::MODULE,
    logcat::AQF_LOGS,
    aqf_packages::PACKAGES_XML,
    dumpsys_appops::APPOPS_XML,
    aqf_packages::APKS,
    aqf_command_log::MODULE,
    aqf_browser_history::MODULE,
    aqf_root_collections::MAGISK,
    aqf_root_collections::INIT_SCRIPTS,
];

/// `(name, artifact)` of every module an input kind may report.
pub(crate) fn listed(kind: InputKind) -> Vec<(&'static str, String)> {
    let backup = || {
        BACKUP
            .iter()
            .map(|m| (m.name, format!("<backup>:{}", m.artifact)))
    };
    let bugreport = |nested: bool| {
        DUMPSTATE
            .iter()
            .map(|m| (m.name, format!("<dumpstate>#{}", m.part.label())))
            .chain(
                BUGREPORT
                    .iter()
                    .map(move |m| (m.name_in(nested), format!("<bugreport>:{}", m.artifact))),
            )
    };
    match kind {
        InputKind::AndroidBackup => backup().collect(),
        InputKind::AndroidBugreport => bugreport(false).collect(),
        InputKind::Androidqf => {
            ANDROIDQF
                .iter()
                .map(|m| (m.name, m.artifact.to_string()))
                .chain(DUMPSTATE.iter().filter_map(|m| {
                    Some((m.in_androidqf?, format!("dumpsys.txt#{}", m.part.label())))
                }))
                .chain(backup())
                .chain(bugreport(true))
                .collect()
        }
        InputKind::AndroidIntrusionLogs => intrusion_logs::MODULES
            .iter()
            .map(|m| (m.name, m.artifact.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------- running

/// One module to run: its name, its artifact in reports, its work.
struct Job<'a> {
    name: &'static str,
    artifact: String,
    run: Box<dyn FnOnce() -> ModuleResult + Send + 'a>,
}

fn job<'a>(
    name: &'static str,
    artifact: String,
    run: impl FnOnce() -> ModuleResult + Send + 'a,
) -> Job<'a> {
    Job {
        name,
        artifact,
        run: Box::new(run),
    }
}

fn run_jobs(jobs: Vec<Job<'_>>, opts: &ScanOptions) -> Vec<ModuleOutput> {
    jobs.into_par_iter()
        .map(|j| opts.finish(run_module(j.name, &j.artifact, &opts.progress, j.run)))
        .collect()
}

/// The backup modules over the members a walk kept; `label` names the
/// backup.
fn backup_jobs<'a>(kept: &'a [AbMember], label: &str) -> Vec<Job<'a>> {
    BACKUP
        .iter()
        .map(|m| {
            let members: Vec<&AbMember> = kept.iter().filter(|x| (m.wants)(&x.name)).collect();
            job(m.name, format!("{label}:{}", m.artifact), move || {
                if members.is_empty() {
                    return Err(ModuleError::Missing);
                }
                (m.run)(members)
            })
        })
        .collect()
}

/// One dumpstate text and what its modules need to know.
struct DumpRun<'a> {
    text: &'a str,
    /// The dumpstate's name (`label:member`, or the file's path).
    name: &'a str,
    host_key: Option<&'a str>,
    now: Timestamp,
    zone: &'a DeviceZone,
    has_logcat: bool,
    /// androidqf's own `dumpsys.txt`: modules go by their androidqf names.
    androidqf: bool,
}

/// The dumpstate modules over one text.
fn dumpstate_jobs<'a>(d: &DumpRun<'a>, sweep: Option<&'a dyn TextSweep>) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for m in DUMPSTATE {
        let name = match (d.androidqf, m.in_androidqf) {
            (false, _) => m.name,
            (true, Some(n)) => n,
            (true, None) => continue,
        };
        if matches!(m.read, DumpRead::Sweep(_)) && sweep.is_none() {
            continue;
        }
        let artifact = format!("{}#{}", d.name, m.part.label());
        let (text, now, has_logcat) = (d.text, d.now, d.has_logcat);
        let dumpstate = d.name.to_string();
        let host_key = d.host_key.map(str::to_string);
        let zone = d.zone.clone();
        let a = artifact.clone();
        jobs.push(job(name, artifact, move || {
            let part = m.part.find(text).ok_or(ModuleError::Missing)?;
            let ctx = Dumped {
                artifact: &a,
                dumpstate: &dumpstate,
                host_key: host_key.as_deref(),
                now,
                has_logcat,
            };
            match m.read {
                DumpRead::Sweep(f) => f(part, &ctx, sweep.ok_or(ModuleError::Missing)?),
                DumpRead::Parse(f) => {
                    let mut records = f(part, &ctx);
                    localise(&mut records, &zone);
                    Ok(records)
                }
            }
        }));
    }
    jobs
}

/// The dumpstate modules of a bugreport whose dumpstate could not be read:
/// `missing` when there is none, else an error with `why`.
fn unread_dumpstate_jobs<'a>(src: Option<&Source>, why: &str) -> Vec<Job<'a>> {
    let label = src.map(|s| s.label.clone()).unwrap_or_default();
    DUMPSTATE
        .iter()
        .filter(|m| matches!(m.read, DumpRead::Parse(_)))
        .map(|m| {
            let why = why.to_string();
            job(m.name, format!("{label}:dumpstate"), move || {
                if why.is_empty() {
                    Err(ModuleError::Missing)
                } else {
                    Err(ModuleError::Failed(why))
                }
            })
        })
        .collect()
}

/// The modules over a bugreport's other files; `label` names the
/// bugreport.
fn bugreport_file_jobs<'a>(
    src: Option<&'a Source>,
    label: &str,
    zone: &DeviceZone,
    nested: bool,
) -> Vec<Job<'a>> {
    BUGREPORT
        .iter()
        .map(|m| {
            let zone = zone.clone();
            job(
                m.name_in(nested),
                format!("{label}:{}", m.artifact),
                move || {
                    // A plain-text bugreport carries no other files.
                    (m.run)(src.ok_or(ModuleError::Missing)?, &zone)
                },
            )
        })
        .collect()
}

/// The androidqf modules over an acquisition's own files.
fn androidqf_jobs<'a>(q: &'a Acquired<'a>, sweep: Option<&'a dyn TextSweep>) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for m in ANDROIDQF {
        let artifact = m.artifact.to_string();
        jobs.push(match m.read {
            AqfRead::Member(parse) => job(m.name, artifact, move || {
                let src = q.src;
                let member = src.find(m.artifact).ok_or(ModuleError::Missing)?;
                let data = src
                    .read(member)
                    .map_err(|e| ModuleError::Failed(format!("{}: {e}", src.label)))?;
                parse(&data, &member.name, q).map_err(ModuleError::Failed)
            }),
            AqfRead::Files(run) => job(m.name, artifact, move || run(q)),
            AqfRead::Sweep(run) => match sweep {
                Some(s) => job(m.name, artifact, move || run(q.src, s)),
                None => continue,
            },
        });
    }
    jobs
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

/// Reads a `.ab` stream into (header, the members backup modules want, notes).
fn read_ab(
    input: impl Read,
    label: &str,
    path: &Path,
    opts: &ScanOptions,
) -> Result<(android_backup::AbHeader, android_backup::AbContents)> {
    let password = opts.password.as_ref().map(|p| p.as_str());
    let (header, tar) = android_backup::open(input, password).map_err(|e| ab_error(path, e))?;
    let mut contents = android_backup::walk_tar(tar, |name| BACKUP.iter().any(|m| (m.wants)(name)));
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
    scan.modules = run_jobs(backup_jobs(&contents.kept, &label), opts);
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
pub(crate) fn localise(records: &mut [Record], zone: &DeviceZone) {
    for r in records {
        if let Some(ts) = r.timestamp {
            r.timestamp = zone.relocate(ts);
            r.fields.insert("time_zone".into(), zone.label().into());
        }
    }
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
    let mut jobs = match &dump.text {
        Ok(text) => {
            let run = DumpRun {
                text,
                name: &dump.artifact,
                host_key: acq.host_key.as_deref(),
                now,
                zone: &zone,
                has_logcat: acq.has_logcat,
                androidqf: false,
            };
            dumpstate_jobs(&run, opts.text_sweep.as_deref())
        }
        Err(why) => unread_dumpstate_jobs(src, why),
    };
    let label = src.map_or(dump.artifact.as_str(), |s| s.label.as_str());
    // Inside androidqf a host key is always set (`Some("")` without one).
    let nested = acq.host_key.is_some();
    jobs.extend(bugreport_file_jobs(src, label, &zone, nested));
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

/// Scans an androidqf acquisition (folder, zip or .zip.age).
pub fn scan_androidqf(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let src = open_androidqf(path, opts)?;
    let mut scan = DeviceScan {
        device: android_device(),
        notes: src.notes.clone(),
        ..DeviceScan::default()
    };
    let acq = read_acquisition(&src);
    describe_acquisition(&mut scan, &src, &acq, path);
    let q = Acquired {
        src: &src,
        now: acq.started.unwrap_or_else(Timestamp::now),
    };
    let sweep = opts.text_sweep.as_deref();
    // MVT ignores dumpsys.txt since its V3 refactor; spydar reads it.
    let dumpsys_text = src.find("dumpsys.txt").map(|m| src.read_text(m));
    if let Some(Err(e)) = &dumpsys_text {
        scan.notes
            .push(format!("{}: dumpsys.txt unreadable: {e}", path.display()));
    }
    let backup = nested_backup(&src, path, opts, &mut scan.notes);
    let mut jobs = androidqf_jobs(&q, sweep);
    if let Some(Ok(text)) = &dumpsys_text {
        let run = DumpRun {
            text,
            name: "dumpsys.txt",
            host_key: acq.host_key.as_deref(),
            now: q.now,
            zone: &acq.zone,
            has_logcat: acq.has_logcat,
            androidqf: true,
        };
        jobs.extend(dumpstate_jobs(&run, sweep));
    }
    if let Some((label, contents)) = &backup {
        jobs.extend(backup_jobs(&contents.kept, label));
    }
    // The nested bugreport.zip runs beside the other modules.
    let nested = open_nested_bugreport(&src);
    let mut nested_dev = DeviceInfo::default();
    let (mut modules, nested_modules) = rayon::join(
        || run_jobs(jobs, opts),
        || nested_bugreport_modules(&nested, &acq, opts, &mut nested_dev),
    );
    if let Some((_, Ok(b))) = &nested {
        scan.notes.extend(b.notes.iter().cloned());
    }
    match nested_modules {
        Ok(m) => modules.extend(m),
        Err(e) => scan.notes.push(e),
    }
    merge_device(&mut scan.device, nested_dev);
    scan.modules = modules;
    Ok(scan)
}

/// Device facts and notes from the acquisition's own files.
fn describe_acquisition(scan: &mut DeviceScan, src: &Source, acq: &Acquisition, path: &Path) {
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
    aqf_command_log::describe(scan, src, &path.display().to_string());
}

/// The `backup.ab` inside an acquisition, read for the backup modules
/// (`(label, what the walk kept)`); what went wrong is a note.
fn nested_backup(
    src: &Source,
    path: &Path,
    opts: &ScanOptions,
    notes: &mut Vec<String>,
) -> Option<(String, android_backup::AbContents)> {
    let m = src.find_all(|b| b.ends_with("backup.ab")).next()?;
    let label = format!("{}:{}", src.label, m.name);
    let read = src.read(m).map_err(|e| Error::input(path, e.to_string()));
    match read.and_then(|bytes| read_ab(&bytes[..], &label, path, opts)) {
        Ok((_, mut contents)) => {
            notes.append(&mut contents.notes);
            notes.extend(contents.truncated.take());
            Some((label, contents))
        }
        Err(e @ (Error::PasswordRequired { .. } | Error::WrongPassword { .. })) => {
            notes.push(format!(
                "{e}: skipped the SMS in {label} (give the backup password to read them)"
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "skipping backup modules as {label} is malformed: {e}"
            ));
            None
        }
    }
}

/// The `bugreport.zip` inside an acquisition: its label, and the zip opened
/// (or why not).
type NestedBugreport = Option<(String, std::result::Result<Source, String>)>;

fn open_nested_bugreport(src: &Source) -> NestedBugreport {
    let m = src.find_all(|b| b.ends_with("bugreport.zip")).next()?;
    let label = format!("{}:{}", src.label, m.name);
    let opened = match src.disk_path(m) {
        Some(p) => Source::open_zip(p).map_err(|e| e.to_string()),
        None => src
            .read(m)
            .map_err(|e| e.to_string())
            .and_then(|b| Source::open_zip_bytes(label.clone(), b).map_err(|e| e.to_string())),
    };
    Some((label, opened))
}

/// The bugreport modules over the nested bugreport; `Err` is a note.
fn nested_bugreport_modules(
    nested: &NestedBugreport,
    acq: &Acquisition,
    opts: &ScanOptions,
    dev: &mut DeviceInfo,
) -> std::result::Result<Vec<ModuleOutput>, String> {
    match nested {
        Some((label, Ok(b))) => {
            let mut b = b.clone();
            b.label = label.clone();
            let dump = read_dumpstate(&b);
            Ok(bugreport_modules(Some(&b), &dump, acq, opts, dev))
        }
        Some((label, Err(e))) => Err(format!(
            "{label}: skipping bugreport modules, unreadable bugreport.zip: {e}"
        )),
        None => Ok(Vec::new()),
    }
}

/// Facts the acquisition's own files did not give, from the nested
/// bugreport.
fn merge_device(dev: &mut DeviceInfo, nested: DeviceInfo) {
    dev.model = dev.model.take().or(nested.model);
    dev.name = dev.name.take().or(nested.name);
    dev.os_version = dev.os_version.take().or(nested.os_version);
    dev.build = dev.build.take().or(nested.build);
    dev.identifier = dev.identifier.take().or(nested.identifier);
    for (k, v) in nested.extra {
        dev.extra.entry(k).or_insert(v);
    }
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
