//! Decodes the unified-log entries of a sysdiagnose's logarchive with
//! Mandiant's `macos-unifiedlogs` crate, from the members an
//! [`LogStore`] kept while the archive streamed past.
//!
//! One tracev3 file at a time (callers run files in parallel). The file is
//! cut at its catalog chunks (the chunk walk is done here, so a corrupt or
//! unknown chunk is found, named and skipped rather than ending the file),
//! and each catalog with its chunksets goes through the crate behind the
//! file's header chunk; entries come out one catalog at a time, so memory
//! stays at one catalog's entries whatever the file's size.
//!
//! Times are UTC: through the timesync record of the file's boot when the
//! archive has it (the crate's own conversion); otherwise from the wall
//! clock and continuous time of the tracev3 header (its 0x6100 sub-chunk),
//! and the entry says so (`time_source`).

use std::collections::HashMap;
use std::io::{Error, ErrorKind};
use std::panic::{AssertUnwindSafe, catch_unwind};

use macos_unifiedlogs::cache::MemoryStringCache;
use macos_unifiedlogs::dsc::SharedCacheStrings;
use macos_unifiedlogs::parser::build_log;
use macos_unifiedlogs::timesync::TimesyncBoot;
use macos_unifiedlogs::traits::{FileProvider, SourceFile};
use macos_unifiedlogs::unified_log::{EventType, LogData, UnifiedLogData};
use macos_unifiedlogs::uuidtext::UUIDText;

use crate::evidence::log_store::LogStore;

/// Where the store's members sit in a sysdiagnose.
pub const PREFIX: &str = "system_logs.logarchive/";

const HEADER_TAG: u32 = 0x1000;
/// Why a member named like a tracev3 file is not decoded.
pub const NOT_TRACEV3: &str = "not a tracev3 file (it does not start with a header chunk)";
const CATALOG_TAG: u32 = 0x600b;
const CHUNKSET_TAG: u32 = 0x600d;

/// What a logarchive member is, by its name relative to the logarchive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tracev3,
    Timesync,
    UuidText,
    Dsc,
}

fn hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The kind of `rest` (a name relative to the logarchive), if the decoder
/// reads it.
pub fn kind(rest: &str) -> Option<Kind> {
    if rest == "logdata.LiveData.tracev3" {
        return Some(Kind::Tracev3);
    }
    let (dir, file) = rest.split_once('/')?;
    if file.contains('/') {
        return None;
    }
    match dir {
        "Persist" | "Special" | "Signpost" | "HighVolume" if file.ends_with(".tracev3") => {
            Some(Kind::Tracev3)
        }
        "timesync" if file.ends_with(".timesync") => Some(Kind::Timesync),
        "dsc" if file.len() == 32 && hex(file) => Some(Kind::Dsc),
        _ if dir.len() == 2 && file.len() == 30 && hex(dir) && hex(file) => Some(Kind::UuidText),
        _ => None,
    }
}

/// The name inside the logarchive of a sysdiagnose member the decoder
/// reads (`system_logs.logarchive/Persist/x.tracev3` → `Persist/x.tracev3`).
pub fn store_name(member: &str) -> Option<&str> {
    let rest = member.strip_prefix(PREFIX)?;
    kind(rest).map(|_| rest)
}

/// One decoded entry.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// UTC, microseconds since 1970; `None` when neither timesync nor the
    /// tracev3 header gives the wall clock.
    pub time_us: Option<i64>,
    pub pid: u64,
    /// The process's executable path, when its uuidtext is there.
    pub process: Option<String>,
    pub process_uuid: String,
    /// The image that logged (the process or one of its libraries).
    pub sender: Option<String>,
    pub subsystem: String,
    pub category: String,
    /// Log level (`Default`, `Info`, `Debug`, `Error`, `Fault`, ...).
    pub level: String,
    /// The message with its format string resolved, or, when the format
    /// string is missing, the raw arguments joined by spaces.
    pub message: String,
    /// Whether the format string was found.
    pub resolved: bool,
}

/// What decoding one tracev3 file counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub entries: u64,
    /// Entries whose format string was not found (they keep their raw
    /// arguments).
    pub unresolved_messages: u64,
    /// Entries whose process path was not found (their uuidtext is missing).
    pub unresolved_processes: u64,
    /// Records of a type the decoder does not know, skipped.
    pub unknown_records: u64,
    /// Chunks of a tag the decoder does not know, skipped.
    pub unknown_chunks: u64,
    /// Entries timed through a timesync record.
    pub timesync_times: u64,
    /// Entries timed from the tracev3 header (no timesync for the boot).
    pub header_times: u64,
    /// Entries without a wall-clock time.
    pub untimed: u64,
    /// Uncompressed bytes of the file.
    pub bytes: u64,
    /// Earliest and latest entry time (UTC microseconds).
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.entries += o.entries;
        self.unresolved_messages += o.unresolved_messages;
        self.unresolved_processes += o.unresolved_processes;
        self.unknown_records += o.unknown_records;
        self.unknown_chunks += o.unknown_chunks;
        self.timesync_times += o.timesync_times;
        self.header_times += o.header_times;
        self.untimed += o.untimed;
        self.bytes += o.bytes;
        self.first_us = [self.first_us, o.first_us].into_iter().flatten().min();
        self.last_us = [self.last_us, o.last_us].into_iter().flatten().max();
    }
}

/// The crate reads uuidtext, dsc and timesync files through this, from
/// the store.
struct Provider<'a> {
    store: &'a LogStore,
    /// UUIDs (as the crate asks for them) whose uuidtext or dsc file is not
    /// in the archive: the crate's cache keeps only files it found, so it
    /// asks again for every entry that names a missing one.
    missing: std::sync::RwLock<std::collections::HashSet<String>>,
}

impl Provider<'_> {
    /// Member `name` of the string file for `uuid`, remembering a miss.
    fn string_file(&self, uuid: &str, name: impl FnOnce(&str) -> String) -> Result<Vec<u8>, Error> {
        if self.missing.read().is_ok_and(|m| m.contains(uuid)) {
            return Err(Error::new(ErrorKind::NotFound, "not in the log archive"));
        }
        let read = full_uuid(uuid).and_then(|u| self.store.read(&name(&u)));
        if let Err(e) = &read
            && e.kind() == ErrorKind::NotFound
            && let Ok(mut m) = self.missing.write()
        {
            m.insert(uuid.to_string());
        }
        read
    }
}

struct MemFile {
    data: Vec<u8>,
    source: String,
}

impl SourceFile for MemFile {
    fn reader(&mut self) -> impl std::io::Read {
        self.data.as_slice()
    }
    fn source_path(&self) -> &str {
        &self.source
    }
}

/// The 32-digit form of a UUID the crate asks for (it drops leading zeros).
fn full_uuid(uuid: &str) -> Result<String, Error> {
    if uuid.len() > 32 || uuid.len() < 30 || !hex(uuid) {
        return Err(Error::new(ErrorKind::NotFound, "not a UUID"));
    }
    Ok(format!("{uuid:0>32}").to_ascii_uppercase())
}

impl FileProvider for Provider<'_> {
    fn tracev3_files(&self) -> impl Iterator<Item = impl SourceFile> {
        std::iter::empty::<MemFile>()
    }

    fn uuidtext_files(&self) -> impl Iterator<Item = impl SourceFile> {
        std::iter::empty::<MemFile>()
    }

    fn read_uuidtext(&self, uuid: &str) -> Result<UUIDText, Error> {
        let data = self.string_file(uuid, |u| format!("{}/{}", &u[..2], &u[2..]))?;
        match UUIDText::parse_uuidtext(&data) {
            Ok((_, t)) => Ok(t),
            Err(_) => Err(Error::new(ErrorKind::InvalidData, "bad uuidtext file")),
        }
    }

    fn dsc_files(&self) -> impl Iterator<Item = impl SourceFile> {
        std::iter::empty::<MemFile>()
    }

    fn read_dsc_uuid(&self, uuid: &str) -> Result<SharedCacheStrings, Error> {
        let data = self.string_file(uuid, |u| format!("dsc/{u}"))?;
        match SharedCacheStrings::parse_dsc(&data) {
            Ok((_, t)) => Ok(t),
            Err(_) => Err(Error::new(ErrorKind::InvalidData, "bad dsc file")),
        }
    }

    fn timesync_files(&self) -> impl Iterator<Item = impl SourceFile> {
        let names: Vec<String> = self
            .store
            .members()
            .filter(|(n, _)| kind(n) == Some(Kind::Timesync))
            .map(|(n, _)| n.to_string())
            .collect();
        names.into_iter().filter_map(|n| {
            let data = self.store.read(&n).ok()?;
            Some(MemFile { data, source: n })
        })
    }
}

/// The crate's default cache of parsed uuidtext and dsc files, shared by
/// every file's decoding.
type Shared<T> = std::sync::Arc<std::sync::RwLock<HashMap<String, std::sync::Arc<T>>>>;
type StringFiles = MemoryStringCache<Shared<UUIDText>, Shared<SharedCacheStrings>>;

/// The archive-wide state every file's decoding shares: timesync records
/// and the string files' cache.
pub struct Decoder<'a> {
    provider: Provider<'a>,
    cache: StringFiles,
    timesync: HashMap<String, TimesyncBoot>,
    /// Timesync files that could not be read.
    pub notes: Vec<String>,
}

impl<'a> Decoder<'a> {
    pub fn new(store: &'a LogStore) -> Self {
        let provider = Provider {
            store,
            missing: Default::default(),
        };
        let mut timesync: HashMap<String, TimesyncBoot> = HashMap::new();
        let mut notes = Vec::new();
        for mut f in provider.timesync_files() {
            let name = f.source_path().to_string();
            let mut data = Vec::new();
            let _ = std::io::Read::read_to_end(&mut f.reader(), &mut data);
            let parsed = catch_unwind(|| TimesyncBoot::parse_timesync_data(&data).map(|(_, m)| m));
            match parsed {
                Ok(Ok(map)) => {
                    for (k, mut v) in map {
                        match timesync.get_mut(&k) {
                            Some(b) => b.timesync.append(&mut v.timesync),
                            None => {
                                timesync.insert(k, v);
                            }
                        }
                    }
                }
                _ => notes.push(format!("{PREFIX}{name}: not a timesync file")),
            }
        }
        Decoder {
            provider,
            cache: MemoryStringCache::default(),
            timesync,
            notes,
        }
    }

    /// Decodes tracev3 file `name` (relative to the logarchive), giving
    /// each catalog's entries to `each`. Problems that end part of the file
    /// are returned as lines naming the file; the entries before them (and
    /// after, where the chunk walk can go on) are still given.
    pub fn decode(&self, name: &str, each: &mut dyn FnMut(Vec<Entry>)) -> (Counts, Vec<String>) {
        let mut counts = Counts::default();
        let mut errors = Vec::new();
        let data = match self.provider.store.read(name) {
            Ok(d) => d,
            Err(e) => return (counts, vec![format!("{PREFIX}{name}: {e}")]),
        };
        // The same line, and nothing counted, as when an archive's copy is
        // not kept (`unreadable` there too).
        if let Some(why) = unreadable(&data) {
            return (counts, vec![format!("{PREFIX}{name}: {why}")]);
        }
        counts.bytes = data.len() as u64;
        let walk = walk_chunks(&data);
        counts.unknown_chunks = walk.unknown;
        if let Some(e) = &walk.error {
            errors.push(format!("{PREFIX}{name}: {e}"));
        }
        let Some(header) = walk.header.clone() else {
            return (counts, errors);
        };
        let mut oversize = Vec::new();
        for seg in &walk.segments {
            let mut buf = data[header.clone()].to_vec();
            for r in seg {
                buf.extend_from_slice(&data[r.clone()]);
            }
            let at = seg.first().map_or(0, |r| r.start);
            let out = catch_unwind(AssertUnwindSafe(|| {
                let mut unified = LogData::parse_unified_log(&buf, name).ok()?.1;
                // The crate skips a chunk it cannot parse without saying so.
                if unified.header.is_empty() || unified.catalog_data.is_empty() {
                    return None;
                }
                unified.oversize.append(&mut oversize);
                let (logs, _) =
                    build_log(&unified, &self.provider, &self.cache, &self.timesync, false);
                Some((logs, unified))
            }));
            match out {
                Ok(Some((logs, unified))) => {
                    let clock = Clock::of(&unified, &self.timesync);
                    oversize = unified.oversize;
                    let entries = logs
                        .into_iter()
                        .filter_map(|l| convert(l, &clock, &mut counts))
                        .collect();
                    each(entries);
                }
                Ok(None) => errors.push(format!(
                    "{PREFIX}{name}: the catalog at offset {at:#x} could not be decoded; skipped"
                )),
                Err(_) => errors.push(format!(
                    "{PREFIX}{name}: the decoder failed on the catalog at offset {at:#x}; skipped"
                )),
            }
        }
        (counts, errors)
    }
}

/// Why `data` cannot be decoded at all (no readable header chunk), as the
/// decoder would say it; `None` when it can be tried.
pub fn unreadable(data: &[u8]) -> Option<String> {
    let w = walk_chunks(data);
    match (w.header, w.error) {
        (None, None) => Some("no header chunk".into()),
        (None, Some(e)) => Some(e),
        // Nothing after the header could be read: nothing to decode.
        (Some(_), Some(e)) if w.segments.is_empty() => Some(e),
        (Some(_), _) => None,
    }
}

/// The chunks of a tracev3 file: the header's byte range, and per catalog
/// the byte ranges of the catalog and its chunksets.
#[derive(Default)]
struct Walk {
    header: Option<std::ops::Range<usize>>,
    segments: Vec<Vec<std::ops::Range<usize>>>,
    unknown: u64,
    error: Option<String>,
}

fn walk_chunks(data: &[u8]) -> Walk {
    let mut w = Walk::default();
    let mut off = 0usize;
    while off < data.len() {
        let Some(pre) = data.get(off..off + 16) else {
            w.error = Some(format!("{} stray bytes at the end", data.len() - off));
            break;
        };
        let tag = u32::from_le_bytes([pre[0], pre[1], pre[2], pre[3]]);
        if off == 0 && tag != HEADER_TAG {
            w.error = Some(NOT_TRACEV3.into());
            break;
        }
        let mut size8 = [0u8; 8];
        size8.copy_from_slice(&pre[8..16]);
        let size = u64::from_le_bytes(size8);
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_add(off + 16))
            .filter(|e| *e <= data.len());
        let Some(end) = end else {
            let before = if off > 0 {
                "; the entries before it were read"
            } else {
                ""
            };
            w.error = Some(format!(
                "chunk at offset {off:#x} (tag {tag:#x}) runs past the end of the file{before}"
            ));
            break;
        };
        let next = end
            .checked_add(7)
            .map_or(data.len(), |e| (e & !7).min(data.len()));
        match tag {
            HEADER_TAG if off == 0 => w.header = Some(off..next),
            CATALOG_TAG => w.segments.push(std::iter::once(off..next).collect()),
            CHUNKSET_TAG => match w.segments.last_mut() {
                Some(s) => s.push(off..next),
                None => w.unknown += 1,
            },
            _ => w.unknown += 1,
        }
        off = next.max(off + 16);
    }
    w
}

/// Converts one segment's continuous times to UTC.
struct Clock {
    /// The crate's times are UTC nanoseconds (timesync found).
    timesync: bool,
    /// Header fallback: wall-clock seconds, continuous time, timebase.
    header: Option<(f64, f64, f64)>,
}

impl Clock {
    fn of(u: &UnifiedLogData, timesync: &HashMap<String, TimesyncBoot>) -> Clock {
        let Some(h) = u.header.first() else {
            return Clock {
                timesync: false,
                header: None,
            };
        };
        let wall = h.unknown_time as f64;
        // 2000-01-01 .. 2100-01-01, and a timebase.
        let plausible = (946_684_800.0..4_102_444_800.0).contains(&wall)
            && h.mach_time_denominator != 0
            && h.mach_time_numerator != 0;
        Clock {
            timesync: timesync.contains_key(&h.boot_uuid),
            header: plausible.then(|| {
                (
                    wall,
                    h.sub_chunk_continous_time as f64,
                    f64::from(h.mach_time_numerator) / f64::from(h.mach_time_denominator),
                )
            }),
        }
    }

    /// UTC microseconds of the crate's time value `t`.
    fn utc_us(&self, t: f64, counts: &mut Counts) -> Option<i64> {
        let ns = if self.timesync {
            counts.timesync_times += 1;
            t
        } else if let Some((wall, cont, base)) = self.header {
            counts.header_times += 1;
            wall * 1e9 + (t - cont) * base
        } else {
            counts.untimed += 1;
            return None;
        };
        let us = ns / 1000.0;
        (us.is_finite() && us.abs() < 9.0e15).then_some(us as i64)
    }
}

/// The crate's text when a format string is not found.
fn unresolved(raw: &str) -> bool {
    raw.starts_with("Error: Invalid")
        || raw.starts_with("Failed to get string")
        || raw.starts_with("Unknown shared string message")
}

fn convert(l: LogData, clock: &Clock, counts: &mut Counts) -> Option<Entry> {
    if l.event_type == EventType::Unknown {
        counts.unknown_records += 1;
        return None;
    }
    counts.entries += 1;
    let resolved = !unresolved(&l.raw_message);
    let message = if resolved {
        l.message
    } else {
        counts.unresolved_messages += 1;
        let args: Vec<&str> = l
            .message_entries
            .iter()
            .map(|i| i.message_strings.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        args.join(" ")
    };
    let path = |p: String| (!p.is_empty() && !p.starts_with("Failed to get")).then_some(p);
    let process = path(l.process);
    if process.is_none() {
        counts.unresolved_processes += 1;
    }
    let time_us = clock.utc_us(l.time, counts);
    if let Some(t) = time_us {
        counts.first_us = Some(counts.first_us.map_or(t, |f| f.min(t)));
        counts.last_us = Some(counts.last_us.map_or(t, |f| f.max(t)));
    }
    Some(Entry {
        time_us,
        pid: l.pid,
        process,
        process_uuid: l.process_uuid,
        sender: path(l.library),
        subsystem: l.subsystem,
        category: l.category,
        level: format!("{:?}", l.log_type),
        message,
        resolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_kinds() {
        assert_eq!(
            kind("Persist/0000000000000001.tracev3"),
            Some(Kind::Tracev3)
        );
        assert_eq!(kind("logdata.LiveData.tracev3"), Some(Kind::Tracev3));
        assert_eq!(
            kind("timesync/0000000000000002.timesync"),
            Some(Kind::Timesync)
        );
        assert_eq!(
            kind("dsc/8E21CAB1DCF936B49F85CF860E6F34EC"),
            Some(Kind::Dsc)
        );
        assert_eq!(
            kind("22/0D3C2953A33917B333DD8366AC25F2"),
            Some(Kind::UuidText)
        );
        assert_eq!(kind("Extra/shutdown.log"), None);
        assert_eq!(kind("Persist/x/y.tracev3"), None);
        assert_eq!(kind("Info.plist"), None);
        assert_eq!(
            store_name("system_logs.logarchive/Special/0000000000000f85.tracev3"),
            Some("Special/0000000000000f85.tracev3")
        );
        assert_eq!(
            full_uuid("D3C2953A33917B333DD8366AC25F2F").unwrap().len(),
            32
        );
        assert!(full_uuid("../../etc/passwd").is_err());
    }

    #[test]
    fn hostile_chunk_walks_end_with_an_error() {
        assert!(walk_chunks(b"").header.is_none());
        let w = walk_chunks(&[0xffu8; 64]);
        assert!(w.error.unwrap().contains("not a tracev3"));
        let mut d = Vec::new();
        d.extend_from_slice(&HEADER_TAG.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&8u64.to_le_bytes());
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&0x7777u32.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        d.extend_from_slice(&CATALOG_TAG.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&u64::MAX.to_le_bytes());
        let w = walk_chunks(&d);
        assert_eq!(w.header, Some(0..24));
        assert_eq!(w.unknown, 1);
        assert!(w.error.unwrap().contains("offset 0x28"));
    }

    #[test]
    fn garbage_files_decode_to_errors_not_panics() {
        let mut store = LogStore::default();
        store.add_bytes("Persist/1.tracev3", vec![0x5a; 4096]);
        let mut d = HEADER_TAG.to_le_bytes().to_vec();
        d.extend_from_slice(&[0u8; 4]);
        d.extend_from_slice(&200u64.to_le_bytes());
        d.extend_from_slice(&[0xa5u8; 200]);
        d.extend_from_slice(&CATALOG_TAG.to_le_bytes());
        d.extend_from_slice(&[0u8; 4]);
        d.extend_from_slice(&64u64.to_le_bytes());
        d.extend_from_slice(&[0x33u8; 64]);
        store.add_bytes("Persist/2.tracev3", d);
        store.add_bytes("timesync/1.timesync", vec![1, 2, 3]);
        let dec = Decoder::new(&store);
        assert_eq!(dec.notes.len(), 1);
        for n in [
            "Persist/1.tracev3",
            "Persist/2.tracev3",
            "Persist/3.tracev3",
        ] {
            let (c, errors) = dec.decode(n, &mut |_| {});
            assert_eq!(c.entries, 0);
            assert!(!errors.is_empty(), "{n}");
            assert!(errors[0].contains(n), "{errors:?}");
        }
    }
}
