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
pub mod unified_log_decode;
pub mod unified_log_entries;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::{ModuleResult, ScanOptions, run_module};
use crate::error::{Error, Result};
use crate::evidence::log_store::LogStore;
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

/// A sysdiagnose module, declared once in its file as a `const` and listed
/// in [`MODULES`].
#[derive(Clone, Copy)]
pub struct Module {
    pub name: &'static str,
    /// The members it reads, as reports show them.
    pub artifact: &'static str,
    /// Whether it reads member `name` (relative to the archive's root).
    pub claims: fn(&str) -> bool,
    /// Parses one claimed member; gets the module's name, the member's name
    /// and its bytes.
    pub parse: fn(&str, &str, &[u8]) -> ModuleResult,
    /// The member's free text is swept too (the parse only takes ids).
    pub sweep_too: bool,
}

/// Every sysdiagnose module. A member goes to the first module that claims
/// it, so a narrower claim comes before a wider one it overlaps (`jetsam`
/// before `crash_reports`, which would take `crashes_and_spins/jetsam*.ips`).
pub const MODULES: &[Module] = &[
    processes::PS,
    processes::PS_THREAD,
    processes::TASKINFO,
    processes::SPINDUMP,
    network::SWCUTIL,
    network::SECURITY,
    apps::TCC,
    shutdown_log::MODULE,
    processes::LOGDATA_STATISTICS,
    unified_log::MODULE,
    processes::JETSAM,
    processes::UUID_TO_BINARY,
    crash_reports::MODULE,
    profiles::MODULE,
    apps::APP_STORE,
    apps::MOBILE_INSTALLATION,
    apps::CONTAINER_MANAGER,
    network::NETWORK_EXTENSION,
    network::WIFI,
];

/// The logarchive's plain-text logs: only `shutdown_log` and
/// `logdata_statistics` read members here; the other claims leave them out.
pub const LOGARCHIVE_EXTRA: &str = "system_logs.logarchive/Extra/";

/// The module that reads member `name`.
fn module_of(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| (m.claims)(name))
}

/// Members that hold device facts, not records.
fn device_fact(name: &str) -> Option<fn(&mut DeviceInfo, &[u8])> {
    match name {
        "remotectl_dumpstate.txt" => Some(device::apply_remotectl),
        "logs/SystemVersion/SystemVersion.plist" => Some(device::apply_system_version),
        _ => None,
    }
}

/// `(name, artifact)` of every module, the text sweep last.
pub(crate) fn listed() -> Vec<(&'static str, String)> {
    MODULES
        .iter()
        .map(|m| (m.name, m.artifact.to_string()))
        .chain([(
            unified_log_entries::MODULE,
            unified_log_entries::ARTIFACT.to_string(),
        )])
        .chain([(text_sweep::MODULE, text_sweep::ARTIFACT.to_string())])
        .collect()
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

    let (streamed, seen, store) = std::thread::scope(|s| {
        let budget = &budget;
        let reader = s.spawn(move || {
            let mut seen = Seen::default();
            let mut count = 0u64;
            let store = std::cell::RefCell::new(LogStore::default());
            let mut want = |name: &str| {
                if let Some(w) = keep_for_log(&store, path, name) {
                    return w;
                }
                count += 1;
                if count.is_multiple_of(500) {
                    progress.message(&format!("read {count} members"));
                }
                if is_marker(name) {
                    seen.markers += 1;
                }
                if device_fact(name).is_some() || module_of(name).is_some() {
                    Want::Whole
                } else if !sweeping || is_unified_log_store(name) {
                    Want::Skip
                } else {
                    Want::Lines
                }
            };
            let mut sink = |p: Piece| {
                let Some(p) = spool_for_log(&store, p) else {
                    return true;
                };
                budget.take(p.data.len() as u64);
                tx.send(p).is_ok()
            };
            let r = tar_stream::stream(path, MAX_WHOLE, &mut want, &mut sink);
            (r, seen, store.into_inner())
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
                LogStore::default(),
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
    let ulog = unified_log_entries::run(&store, sweeper.as_deref(), &mut notes);
    drop(store);
    let at = modules.partition_point(|m| m.name.as_str() < ulog.name.as_str());
    modules.insert(at, ulog);
    observed.append_to(&mut modules);
    let modules = modules.into_iter().map(|m| opts.finish(m)).collect();
    Ok(DeviceScan {
        device: info,
        modules,
        notes,
    })
}

/// The unified-log store (tracev3, uuidtext, dsc, timesync) is binary: not
/// swept (the `unified_log` module decodes it); skip it without sniffing.
fn is_unified_log_store(name: &str) -> bool {
    name.starts_with("system_logs.logarchive/")
        && !name.starts_with("system_logs.logarchive/Extra/")
}

/// The reader's answer for a member of the unified-log store: from a
/// folder, the member is noted to be read again after the stream (and
/// skipped unless a module reads it too); from an archive it is read whole
/// (and kept by [`spool_for_log`]). `None` for every other member.
fn keep_for_log(store: &std::cell::RefCell<LogStore>, root: &Path, name: &str) -> Option<Want> {
    let rest = unified_log_decode::store_name(name)?;
    if !root.is_dir() {
        return Some(Want::Whole);
    }
    let full = root.join(name);
    let len = std::fs::symlink_metadata(&full).map_or(0, |m| m.len());
    store.borrow_mut().add_source(rest, &full, len);
    module_of(name).is_none().then_some(Want::Skip)
}

/// Keeps a whole archive member of the unified-log store; gives the piece
/// back if a module reads it too (or if it is not such a member).
fn spool_for_log(store: &std::cell::RefCell<LogStore>, p: Piece) -> Option<Piece> {
    let rest = match unified_log_decode::store_name(&p.name) {
        Some(rest) if p.whole => rest.to_string(),
        _ => return Some(p),
    };
    let mut store = store.borrow_mut();
    if store.contains(&rest) {
        // A folder's member, noted by name already.
        return Some(p);
    }
    if unified_log_decode::kind(&rest) == Some(unified_log_decode::Kind::Tracev3)
        && let Some(why) = unified_log_decode::unreadable(&p.data)
    {
        // Not kept (a folder's copy gives the same line when decoded).
        store.reject(&p.name, &why);
        return None;
    }
    if module_of(&p.name).is_some() {
        store.add_bytes(&rest, p.data.clone());
        return Some(p);
    }
    store.add_bytes(&rest, p.data);
    None
}

fn work(
    piece: Piece,
    sweeper: Option<&dyn super::TextSweep>,
    device: &Mutex<DeviceInfo>,
    observed: &text_sweep::Observations,
) -> Vec<Outcome> {
    let hidden = Progress::hidden();
    let mut out = Vec::new();
    if piece.whole
        && let Some(apply) = device_fact(&piece.name)
    {
        if let Ok(mut d) = device.lock() {
            apply(&mut d, &piece.data);
        }
        return out;
    }
    let module = if piece.whole {
        module_of(&piece.name)
    } else {
        None
    };
    if let Some(m) = module {
        let o = run_module(m.name, m.artifact, &hidden, || {
            (m.parse)(m.name, &piece.name, &piece.data)
        });
        out.push(outcome(o, m.name, &piece));
    }
    let sweep_it = module.is_none_or(|m| m.sweep_too);
    if let (true, Some(sw)) = (sweep_it, sweeper) {
        let o = run_module(text_sweep::MODULE, text_sweep::ARTIFACT, &hidden, || {
            Ok(text_sweep::sweep(
                sw,
                &piece.name,
                piece.first_line,
                &piece.data,
                observed,
            ))
        });
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
    for m in MODULES {
        by_module.insert(m.name, (m.artifact, Vec::new(), Vec::new(), 0, 0));
    }
    if sweeping {
        by_module.insert(
            text_sweep::MODULE,
            (text_sweep::ARTIFACT, Vec::new(), Vec::new(), 0, 0),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Which module reads a member, where two claims overlap or a member
    /// looks like another's.
    #[test]
    fn each_member_goes_to_one_module() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ps.txt", Some("ps")),
            ("summaries/crashes_and_spins.log", Some("crash_reports")),
            ("crashes_and_spins/sub/Foo-2024.ips", Some("crash_reports")),
            (
                "crashes_and_spins/jetsam_priority-2024.ips",
                Some("jetsam_priority"),
            ),
            (
                "logs/appinstallation/jetsam_priority.sqlitedb",
                Some("jetsam_priority"),
            ),
            ("logs/itunesstored/downloads.sqlitedb", Some("app_store")),
            (
                "system_logs.logarchive/Extra/shutdown.0.log",
                Some("shutdown_log"),
            ),
            (
                "system_logs.logarchive/Extra/logdata.statistics.1.txt",
                Some("logdata_statistics"),
            ),
            ("system_logs.logarchive/Extra/logdata.statistics.1.gz", None),
            // Under Extra/ only the shutdown and logdata logs are read.
            ("system_logs.logarchive/Extra/jetsam_priority.txt", None),
            (
                "system_logs.logarchive/Extra/tailspindb/UUIDToBinaryLocations",
                None,
            ),
            (
                "logs/tailspindb/UUIDToBinaryLocations",
                Some("uuid_to_binary"),
            ),
            (
                "system_logs.logarchive/0A/0123456789abcdef0123456789abcd",
                Some("unified_log_images"),
            ),
            (
                "logs/MobileInstallation/mobile_installation.log.0",
                Some("mobile_installation"),
            ),
            ("WiFi/x/known.plist", Some("wifi")),
            ("remotectl_dumpstate.txt", None),
            ("sysdiagnose.log", None),
        ];
        for (name, want) in cases {
            assert_eq!(module_of(name).map(|m| m.name), *want, "{name}");
        }
        assert!(device_fact("remotectl_dumpstate.txt").is_some());
        assert!(device_fact("logs/SystemVersion/SystemVersion.plist").is_some());
    }
}
