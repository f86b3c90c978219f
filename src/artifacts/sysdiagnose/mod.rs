//! iOS sysdiagnose archives (.tar.gz, .tar, or extracted folder).
//!
//! One streaming pass (`evidence::tar_stream`) on a reader thread: members a
//! module claims are read whole, the other text members in line-aligned
//! pieces for the text sweep, binary members are skipped by their first
//! bytes. Pieces go through a small bounded channel to rayon workers while
//! the stream goes on, so memory stays bounded whatever the archive size.

pub mod apps;
pub mod crash_reports;
pub mod device;
pub mod local_time;
pub mod network;
pub mod processes;
pub mod profiles;
pub mod shutdown_log;
pub mod text_sweep;
pub mod unified_log;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::{ModuleError, ScanOptions, run_module};
use crate::error::{Error, Result};
use crate::evidence::tar_stream::{self, Piece, Want};
use crate::model::{DeviceInfo, DeviceScan, ModuleOutput, ModuleStatus, Platform, Record};
use crate::progress::Progress;

/// Largest member read whole into memory.
const MAX_WHOLE: u64 = 256 * 1024 * 1024;
/// Pieces waiting for a worker. With 4 MiB pieces this bounds the queue to
/// about 32 MiB; claimed members are small except databases.
const QUEUE: usize = 8;
/// Bytes of pieces queued or being worked on, whatever the number of
/// workers (a 64-core machine would otherwise hold 64 pieces at once).
const IN_FLIGHT_BYTES: u64 = 64 * 1024 * 1024;

/// A byte budget the reader waits on; workers give bytes back when done.
struct Budget {
    used: Mutex<u64>,
    freed: std::sync::Condvar,
}

impl Budget {
    /// Waits until `n` more bytes fit (one piece always fits when nothing
    /// else is in flight, so a large member cannot block the stream).
    fn take(&self, n: u64) {
        let Ok(mut used) = self.used.lock() else {
            return;
        };
        while *used > 0 && *used + n > IN_FLIGHT_BYTES {
            used = match self.freed.wait(used) {
                Ok(u) => u,
                Err(_) => return,
            };
        }
        *used += n;
    }

    fn give(&self, n: u64) {
        if let Ok(mut used) = self.used.lock() {
            *used = used.saturating_sub(n);
        }
        self.freed.notify_all();
    }
}

/// Which module reads a member (or which device fact it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Claim {
    ShutdownLog,
    Ps,
    PsThread,
    Taskinfo,
    Spindump,
    Jetsam,
    LogdataStatistics,
    UuidToBinary,
    CrashReport,
    CrashSummary,
    Profile,
    Tcc,
    AppStore,
    MobileInstallation,
    ContainerManager,
    Swcutil,
    NetworkExtension,
    Security,
    Wifi,
    UuidText,
    RemoteCtl,
    SystemVersion,
}

impl Claim {
    pub const MODULES: [Claim; 19] = [
        Claim::ShutdownLog,
        Claim::Ps,
        Claim::PsThread,
        Claim::Taskinfo,
        Claim::Spindump,
        Claim::Jetsam,
        Claim::LogdataStatistics,
        Claim::UuidToBinary,
        Claim::CrashReport,
        Claim::Profile,
        Claim::Tcc,
        Claim::AppStore,
        Claim::MobileInstallation,
        Claim::ContainerManager,
        Claim::Swcutil,
        Claim::NetworkExtension,
        Claim::Security,
        Claim::Wifi,
        Claim::UuidText,
    ];

    /// The module that reads `name` (a member name relative to the root).
    pub fn of(name: &str) -> Option<Claim> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let c = match name {
            "ps.txt" => Claim::Ps,
            "ps_thread.txt" => Claim::PsThread,
            "taskinfo.txt" => Claim::Taskinfo,
            "spindump-nosymbols.txt" => Claim::Spindump,
            "swcutil_show.txt" => Claim::Swcutil,
            "security-sysdiagnose.txt" => Claim::Security,
            "remotectl_dumpstate.txt" => Claim::RemoteCtl,
            "logs/SystemVersion/SystemVersion.plist" => Claim::SystemVersion,
            "summaries/crashes_and_spins.log" => Claim::CrashSummary,
            "logs/Accessibility/TCC.db" => Claim::Tcc,
            _ if name.starts_with("system_logs.logarchive/Extra/") => {
                if base.starts_with("shutdown") && base.ends_with(".log") {
                    Claim::ShutdownLog
                } else if base.starts_with("logdata.statistics.")
                    && (base.ends_with(".jsonl") || base.ends_with(".txt"))
                {
                    Claim::LogdataStatistics
                } else {
                    return None;
                }
            }
            _ if unified_log::is_uuidtext(name) => Claim::UuidText,
            _ if base.starts_with("jetsam_priority") => Claim::Jetsam,
            _ if name.ends_with("tailspindb/UUIDToBinaryLocations") => Claim::UuidToBinary,
            _ if name.starts_with("crashes_and_spins/") && base.ends_with(".ips") => {
                Claim::CrashReport
            }
            _ if name.starts_with("logs/MCState/Shared/")
                && base.starts_with("profile-")
                && base.ends_with(".stub") =>
            {
                Claim::Profile
            }
            _ if (name.starts_with("logs/appinstallation/")
                || name.starts_with("logs/itunesstored/"))
                && base.ends_with(".sqlitedb") =>
            {
                Claim::AppStore
            }
            _ if name.starts_with("logs/MobileInstallation/")
                && base.starts_with("mobile_installation.log") =>
            {
                Claim::MobileInstallation
            }
            _ if name.starts_with("logs/MobileContainerManager/")
                && base.starts_with("containermanagerd.log") =>
            {
                Claim::ContainerManager
            }
            _ if name.starts_with("logs/Networking/") && base.ends_with(".plist") => {
                Claim::NetworkExtension
            }
            _ if name.starts_with("WiFi/") && base.ends_with(".plist") => Claim::Wifi,
            _ => return None,
        };
        Some(c)
    }

    pub fn module(self) -> &'static str {
        match self {
            Claim::ShutdownLog => shutdown_log::MODULE,
            Claim::Ps => "ps",
            Claim::PsThread => "ps_thread",
            Claim::Taskinfo => "taskinfo",
            Claim::Spindump => "spindump",
            Claim::Jetsam => "jetsam_priority",
            Claim::LogdataStatistics => "logdata_statistics",
            Claim::UuidToBinary => "uuid_to_binary",
            Claim::CrashReport | Claim::CrashSummary => crash_reports::MODULE,
            Claim::Profile => profiles::MODULE,
            Claim::Tcc => "tcc",
            Claim::AppStore => "app_store",
            Claim::MobileInstallation => "mobile_installation",
            Claim::ContainerManager => "container_manager",
            Claim::Swcutil => "swcutil",
            Claim::NetworkExtension => "network_extension",
            Claim::Security => "security_sysdiagnose",
            Claim::Wifi => "wifi",
            Claim::UuidText => unified_log::MODULE,
            Claim::RemoteCtl | Claim::SystemVersion => "device",
        }
    }

    pub fn artifact(self) -> &'static str {
        match self {
            Claim::ShutdownLog => "system_logs.logarchive/Extra/shutdown*.log",
            Claim::Ps => "ps.txt",
            Claim::PsThread => "ps_thread.txt",
            Claim::Taskinfo => "taskinfo.txt",
            Claim::Spindump => "spindump-nosymbols.txt",
            Claim::Jetsam => "jetsam_priority.*",
            Claim::LogdataStatistics => "system_logs.logarchive/Extra/logdata.statistics.*",
            Claim::UuidToBinary => "logs/tailspindb/UUIDToBinaryLocations",
            Claim::CrashReport | Claim::CrashSummary => "crashes_and_spins/**/*.ips",
            Claim::Profile => "logs/MCState/Shared/profile-*.stub",
            Claim::Tcc => "logs/Accessibility/TCC.db",
            Claim::AppStore => "logs/appinstallation/*.sqlitedb",
            Claim::MobileInstallation => "logs/MobileInstallation/mobile_installation.log*",
            Claim::ContainerManager => "logs/MobileContainerManager/containermanagerd.log*",
            Claim::Swcutil => "swcutil_show.txt",
            Claim::NetworkExtension => "logs/Networking/*.plist",
            Claim::Security => "security-sysdiagnose.txt",
            Claim::Wifi => "WiFi/*.plist",
            Claim::UuidText => "system_logs.logarchive/XX/<uuidtext>",
            Claim::RemoteCtl => "remotectl_dumpstate.txt",
            Claim::SystemVersion => "logs/SystemVersion/SystemVersion.plist",
        }
    }

    /// Logs whose free text is also swept (their typed parse only takes ids).
    fn sweep_too(self) -> bool {
        matches!(
            self,
            Claim::MobileInstallation | Claim::ContainerManager | Claim::Security
        )
    }

    fn is_device_fact(self) -> bool {
        matches!(self, Claim::RemoteCtl | Claim::SystemVersion)
    }

    fn run(self, name: &str, data: &[u8]) -> std::result::Result<Vec<Record>, ModuleError> {
        let m = self.module();
        match self {
            Claim::ShutdownLog => shutdown_log::records(name, data),
            Claim::Ps | Claim::PsThread => processes::ps(m, name, data),
            Claim::Taskinfo => processes::taskinfo(m, name, data),
            Claim::Spindump => processes::spindump(m, name, data),
            Claim::Jetsam => processes::jetsam(m, name, data),
            Claim::LogdataStatistics => processes::logdata_statistics(m, name, data),
            Claim::UuidToBinary => processes::uuid_to_binary(m, name, data),
            Claim::CrashReport => crash_reports::ips(name, data),
            Claim::CrashSummary => crash_reports::summary(name, data),
            Claim::Profile => profiles::stub(name, data),
            Claim::Tcc => apps::tcc(m, name, data),
            Claim::AppStore => apps::app_store(m, name, data),
            Claim::MobileInstallation | Claim::ContainerManager => apps::install_log(m, name, data),
            Claim::Swcutil => network::swcutil(m, name, data),
            Claim::NetworkExtension | Claim::Wifi => network::plist_hosts(m, name, data),
            Claim::Security => network::security(m, name, data),
            Claim::UuidText => unified_log::records(name, data),
            Claim::RemoteCtl | Claim::SystemVersion => Ok(Vec::new()),
        }
    }
}

/// Member names that only a sysdiagnose has.
fn is_marker(name: &str) -> bool {
    matches!(
        name,
        "sysdiagnose.log"
            | "ps.txt"
            | "remotectl_dumpstate.txt"
            | "swcutil_show.txt"
            | "taskinfo.txt"
            | "spindump-nosymbols.txt"
    ) || name.starts_with("system_logs.logarchive/")
        || name.starts_with("crashes_and_spins/")
}

/// What a worker made of one piece.
struct Outcome {
    module: &'static str,
    member: String,
    first_line: usize,
    result: std::result::Result<Vec<Record>, String>,
    duration_ms: u64,
}

/// What the reader thread learnt besides the pieces.
#[derive(Default)]
struct Seen {
    markers: usize,
}

/// Scans a sysdiagnose archive or folder.
pub fn scan(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let sweeper = opts.text_sweep.clone();
    let sweeping = sweeper.is_some();
    let (tx, rx) = crossbeam_channel::bounded::<Piece>(QUEUE);
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let observed = text_sweep::Observations::default();
    let device: Mutex<DeviceInfo> = Mutex::new(DeviceInfo::default());
    let progress = opts.progress.clone();
    let budget = Budget {
        used: Mutex::new(0),
        freed: std::sync::Condvar::new(),
    };

    let (streamed, seen) = std::thread::scope(|s| {
        let budget = &budget;
        let reader = s.spawn(move || {
            let mut seen = Seen::default();
            let mut count = 0u64;
            let mut want = |name: &str| {
                count += 1;
                if count.is_multiple_of(500) {
                    progress.message(&format!("read {count} members"));
                }
                if is_marker(name) {
                    seen.markers += 1;
                }
                if Claim::of(name).is_some() {
                    Want::Whole
                } else if !sweeping || is_unified_log_store(name) {
                    Want::Skip
                } else {
                    Want::Lines
                }
            };
            let mut sink = |p: Piece| {
                budget.take(p.data.len() as u64);
                tx.send(p).is_ok()
            };
            let r = tar_stream::stream(path, MAX_WHOLE, &mut want, &mut sink);
            (r, seen)
        });
        rx.into_iter().par_bridge().for_each(|piece| {
            let len = piece.data.len() as u64;
            let out = work(piece, sweeper.as_deref(), &device, &observed);
            budget.give(len);
            if let Ok(mut all) = outcomes.lock() {
                all.extend(out);
            }
        });
        reader.join().unwrap_or_else(|_| {
            (
                Err(Error::input(
                    path,
                    "internal error while reading the archive",
                )),
                Seen::default(),
            )
        })
    });
    let summary = streamed?;
    let root = summary.root.clone().unwrap_or_default();
    let named = root.starts_with("sysdiagnose");
    if !named && seen.markers == 0 {
        if let Some(why) = summary.truncated {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                reason: why,
            });
        }
        return Err(Error::input(
            path,
            "not a sysdiagnose: no sysdiagnose.log, ps.txt, system_logs.logarchive or crashes_and_spins inside",
        ));
    }

    let mut info = device.into_inner().unwrap_or_default();
    info.platform = Some(Platform::Ios);
    if let Some((collected, platform, class, build)) = device::from_root_name(&root) {
        if let Some(c) = collected {
            info.extra.insert("collected".into(), c);
        }
        info.extra.insert("platform".into(), platform);
        info.extra.insert("device_class".into(), class);
        if info.build.is_none() {
            info.build = Some(build);
        }
    }
    if info.identifier.is_none() && !root.is_empty() {
        info.identifier = Some(root.clone());
    }
    info.extra
        .insert("members".into(), summary.members.to_string());
    info.extra
        .insert("uncompressed_bytes".into(), summary.bytes.to_string());

    let mut notes = summary.notes;
    if let Some(why) = &summary.truncated {
        notes.push(why.clone());
    }
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    // Device-local log times take the offset the folder name gives.
    if let Some(offset) = local_time::root_offset(&root) {
        for o in &mut outcomes {
            if let Ok(records) = &mut o.result {
                local_time::apply_offset(records, offset, &root);
            }
        }
    }
    outcomes.sort_by(|a, b| {
        (a.module, &a.member, a.first_line).cmp(&(b.module, &b.member, b.first_line))
    });
    let mut modules = assemble(outcomes, sweeping, &mut notes, &opts.progress);
    observed.append_to(&mut modules);
    let modules = modules.into_iter().map(|m| opts.finish(m)).collect();
    Ok(DeviceScan {
        device: info,
        modules,
        notes,
    })
}

/// The unified-log store (tracev3, uuidtext, dsc, timesync) is binary and
/// not decoded; skip it without sniffing.
fn is_unified_log_store(name: &str) -> bool {
    name.starts_with("system_logs.logarchive/")
        && !name.starts_with("system_logs.logarchive/Extra/")
}

fn work(
    piece: Piece,
    sweeper: Option<&dyn super::TextSweep>,
    device: &Mutex<DeviceInfo>,
    observed: &text_sweep::Observations,
) -> Vec<Outcome> {
    let hidden = Progress::hidden();
    let mut out = Vec::new();
    let claim = if piece.whole {
        Claim::of(&piece.name)
    } else {
        None
    };
    if let Some(c) = claim {
        if c.is_device_fact() {
            if let Ok(mut d) = device.lock() {
                match c {
                    Claim::RemoteCtl => device::apply_remotectl(&mut d, &piece.data),
                    _ => device::apply_system_version(&mut d, &piece.data),
                }
            }
            return out;
        }
        let o = run_module(c.module(), c.artifact(), &hidden, || {
            c.run(&piece.name, &piece.data)
        });
        out.push(outcome(o, c.module(), &piece));
    }
    let sweep_it = claim.is_none_or(|c| c.sweep_too());
    if let (true, Some(sw)) = (sweep_it, sweeper) {
        let o = run_module(
            text_sweep::MODULE,
            "every other text member",
            &hidden,
            || {
                Ok(text_sweep::sweep(
                    sw,
                    &piece.name,
                    piece.first_line,
                    &piece.data,
                    observed,
                ))
            },
        );
        out.push(outcome(o, text_sweep::MODULE, &piece));
    }
    out
}

fn outcome(o: ModuleOutput, module: &'static str, piece: &Piece) -> Outcome {
    Outcome {
        module,
        member: piece.name.clone(),
        first_line: piece.first_line,
        result: match o.status {
            ModuleStatus::Error => Err(o.error.unwrap_or_default()),
            _ => Ok(o.records),
        },
        duration_ms: o.duration_ms,
    }
}

/// Per module: artifact, records, member errors, pieces read, milliseconds.
type Acc = (&'static str, Vec<Record>, Vec<String>, usize, u64);

/// One `ModuleOutput` per module: records in member and line order; a
/// member that failed is a note, and the module is an error only if every
/// member it read failed.
fn assemble(
    outcomes: Vec<Outcome>,
    sweeping: bool,
    notes: &mut Vec<String>,
    progress: &Progress,
) -> Vec<ModuleOutput> {
    let mut by_module: BTreeMap<&'static str, Acc> = BTreeMap::new();
    for c in Claim::MODULES {
        by_module.insert(c.module(), (c.artifact(), Vec::new(), Vec::new(), 0, 0));
    }
    if sweeping {
        by_module.insert(
            text_sweep::MODULE,
            ("every other text member", Vec::new(), Vec::new(), 0, 0),
        );
    }
    for o in outcomes {
        let entry = by_module
            .entry(o.module)
            .or_insert(("", Vec::new(), Vec::new(), 0, 0));
        entry.3 += 1;
        entry.4 += o.duration_ms;
        match o.result {
            Ok(mut r) => entry.1.append(&mut r),
            Err(e) => entry.2.push(e),
        }
    }
    by_module
        .into_iter()
        .map(|(name, (artifact, records, errors, pieces, ms))| {
            progress.module_done(name);
            let all_failed = pieces > 0 && errors.len() == pieces;
            let status = if pieces == 0 && name != text_sweep::MODULE {
                ModuleStatus::Missing
            } else if all_failed {
                ModuleStatus::Error
            } else {
                ModuleStatus::Ok
            };
            if !all_failed {
                notes.extend(errors.iter().map(|e| format!("{name}: {e}")));
            }
            ModuleOutput {
                name: name.to_string(),
                artifact: artifact.to_string(),
                status,
                error: all_failed.then(|| errors.join("; ")),
                duration_ms: ms,
                records,
                streamed: 0,
            }
        })
        .collect()
}
