//! `unified_log`: every entry of the logarchive's tracev3 files, decoded
//! (`unified_log_decode`) after the archive's one streaming pass and
//! matched, file by file on the rayon pool.
//!
//! What is matched, and how:
//! - the process's executable path and the image that logged (sender):
//!   typed `process` (the executable's file name) and `file_path`
//!   observables, one record per distinct path with the first and last
//!   time, the entry count and the first pids;
//! - the message (or, when its format string is missing, its raw
//!   arguments): one line per entry through the scan's text sweep, with the
//!   free-text precision rules of the other swept logs; a flagged entry is
//!   one record with its time, process, pid, subsystem, category and level;
//!   the other entries' hosts, URLs, e-mail addresses, IPs and paths are
//!   kept once per distinct value with first/last time and count
//!   (`artifacts::observe`), so `recheck` matches them later. Process
//!   names are taken from the decoded process path, never from message
//!   words.
//!
//! A summary record counts the entries, those whose strings or process
//! path could not be resolved, the records and chunks of unknown types
//! that were skipped, and how the times were found.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::unified_log_decode::{Counts, Decoder, Entry, Kind, PREFIX, kind};
use crate::artifacts::TextSweep;
use crate::artifacts::observe::{MAX_SWEPT_LINE, Observed};
use crate::evidence::log_store::LogStore;
use crate::model::{ModuleOutput, ModuleStatus, ObservableType, Record};

pub const MODULE: &str = "unified_log";
pub const ARTIFACT: &str = "system_logs.logarchive (tracev3 entries, via timesync, uuidtext, dsc)";

/// Pids listed per distinct path.
const MAX_PIDS: usize = 16;

/// One distinct path's sightings.
#[derive(Clone, Debug, Default)]
struct Seen {
    first: Option<i64>,
    last: Option<i64>,
    count: u64,
    pids: BTreeSet<u64>,
}

impl Seen {
    fn see(&mut self, t: Option<i64>, pid: u64) {
        self.count += 1;
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if self.pids.len() < MAX_PIDS {
            self.pids.insert(pid);
        }
    }

    fn merge(&mut self, o: Seen) {
        self.count += o.count;
        self.first = [self.first, o.first].into_iter().flatten().min();
        self.last = [self.last, o.last].into_iter().flatten().max();
        for p in o.pids {
            if self.pids.len() < MAX_PIDS {
                self.pids.insert(p);
            }
        }
    }
}

/// What one tracev3 file (or all, merged) gave.
#[derive(Default)]
struct Found {
    processes: BTreeMap<String, Seen>,
    senders: BTreeMap<String, Seen>,
    flagged: Vec<Record>,
    observed: Option<Observed>,
    counts: Counts,
    errors: Vec<String>,
}

impl Found {
    fn merge(&mut self, o: Found) {
        for (k, v) in o.processes {
            self.processes.entry(k).or_default().merge(v);
        }
        for (k, v) in o.senders {
            self.senders.entry(k).or_default().merge(v);
        }
        self.flagged.extend(o.flagged);
        match (&mut self.observed, o.observed) {
            (Some(a), Some(b)) => a.merge(b),
            (a @ None, b) => *a = b,
            _ => {}
        }
        self.counts.add(&o.counts);
        self.errors.extend(o.errors);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form `observe` reads as UTC.
fn iso(us: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_microsecond(us).ok()?;
    Some(format!("{ts:.6}"))
}

/// The sightings of `path`, without copying it when it is already there
/// (most entries repeat a path seen before).
fn seen<'m>(map: &'m mut BTreeMap<String, Seen>, path: &str) -> &'m mut Seen {
    if !map.contains_key(path) {
        map.insert(path.to_string(), Seen::default());
    }
    map.get_mut(path).expect("inserted above")
}

/// The entries of one catalog: typed paths, then the messages swept.
fn take(found: &mut Found, entries: &[Entry], member: &str, sweeper: Option<&dyn TextSweep>) {
    for e in entries {
        if let Some(p) = &e.process {
            seen(&mut found.processes, p).see(e.time_us, e.pid);
        }
        if let Some(s) = &e.sender {
            seen(&mut found.senders, s).see(e.time_us, e.pid);
        }
    }
    let Some(sw) = sweeper else {
        return;
    };
    // One line per entry: its time (read back by `observe`) and message.
    let mut text = Vec::with_capacity(entries.len() * 96);
    for e in entries {
        if let Some(t) = e.time_us.and_then(iso) {
            text.extend_from_slice(t.as_bytes());
            text.push(b' ');
        }
        text.extend(
            e.message
                .bytes()
                .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
        text.push(b'\n');
    }
    let flagged = sw.flagged_lines(&text);
    if sw.keeps_observables() {
        let o = Observed::of_swept(&text, &flagged);
        match &mut found.observed {
            Some(all) => all.merge(o),
            None => found.observed = Some(o),
        }
    }
    for hit in &flagged {
        let (Some(e), Some(bytes)) = (entries.get(hit.line_no - 1), text.get(hit.range.clone()))
        else {
            continue;
        };
        found.flagged.push(entry_record(e, bytes, member));
    }
}

fn entry_record(e: &Entry, line: &[u8], member: &str) -> Record {
    let mut cut = line.len().min(MAX_SWEPT_LINE);
    while cut > 0 && cut < line.len() && (line[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    let text = String::from_utf8_lossy(&line[..cut]).trim().to_string();
    let process = e.process.as_deref().unwrap_or("");
    let who = if process.is_empty() {
        format!("process {}", e.process_uuid)
    } else {
        process.to_string()
    };
    let mut r = Record::new(MODULE, &format!("{PREFIX}{member}"))
        .event(
            "log_entry",
            format!(
                "{who}[{}] {}:{} {}",
                e.pid, e.subsystem, e.category, e.level
            ),
        )
        .field("member", format!("{PREFIX}{member}"))
        .field("pid", e.pid)
        .field("process", process)
        .field("process_uuid", e.process_uuid.as_str())
        .field("sender", e.sender.as_deref().unwrap_or(""))
        .field("subsystem", e.subsystem.as_str())
        .field("category", e.category.as_str())
        .field("level", e.level.as_str())
        .field("format_string_found", e.resolved)
        .observe(ObservableType::Text, text);
    if let Some(t) = e.time_us.and_then(iso) {
        r = r.field("time", t);
    }
    r.timestamp = e
        .time_us
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok());
    r
}

fn path_record(event: &str, path: &str, s: &Seen, process: bool) -> Record {
    let what = if process { "process" } else { "sender image" };
    let mut r = Record::new(MODULE, ARTIFACT)
        .event(
            event,
            format!("{path} ({what}) in {} unified-log entries", s.count),
        )
        .field("path", path)
        .field("count", s.count)
        .field(
            "pids",
            s.pids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        );
    if let Some(f) = s.first.and_then(iso) {
        r = r.field("first", f);
    }
    if let Some(l) = s.last.and_then(iso) {
        r = r.field("last", l);
    }
    r.timestamp = s
        .first
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok());
    if process && let Some(base) = path.rsplit('/').next() {
        r.push_observable(ObservableType::Process, base);
    }
    if path.starts_with('/') {
        r.push_observable(ObservableType::FilePath, path);
    }
    r
}

fn summary(c: &Counts, files: usize) -> Record {
    let mut r = Record::new(MODULE, ARTIFACT)
        .event(
            "log_summary",
            format!(
                "{} entries in {files} tracev3 files; {} without their format string, {} without their process path; {} records and {} chunks of unknown types skipped",
                c.entries,
                c.unresolved_messages,
                c.unresolved_processes,
                c.unknown_records,
                c.unknown_chunks
            ),
        )
        .field("tracev3_files", files as u64)
        .field("tracev3_bytes", c.bytes)
        .field("entries", c.entries)
        .field("unresolved_format_strings", c.unresolved_messages)
        .field("unresolved_process_paths", c.unresolved_processes)
        .field("unknown_records_skipped", c.unknown_records)
        .field("unknown_chunks_skipped", c.unknown_chunks)
        .field("times_from_timesync", c.timesync_times)
        .field("times_from_tracev3_header", c.header_times)
        .field("entries_without_time", c.untimed);
    if let Some(f) = c.first_us.and_then(iso) {
        r = r.field("first", f);
    }
    if let Some(l) = c.last_us.and_then(iso) {
        r = r.field("last", l);
    }
    r
}

/// Decodes and matches every tracev3 file of `store` (in parallel on the
/// current rayon pool). `notes` gets one line per file problem.
pub fn run(
    store: &LogStore,
    sweeper: Option<&dyn TextSweep>,
    notes: &mut Vec<String>,
) -> ModuleOutput {
    let started = std::time::Instant::now();
    let files: Vec<String> = store
        .members()
        .filter(|(n, _)| kind(n) == Some(Kind::Tracev3))
        .map(|(n, _)| n.to_string())
        .collect();
    let mut out = ModuleOutput {
        name: MODULE.to_string(),
        artifact: ARTIFACT.to_string(),
        status: ModuleStatus::Missing,
        error: None,
        duration_ms: 0,
        records: Vec::new(),
        streamed: 0,
    };
    if files.is_empty() && store.errors().is_empty() {
        return out;
    }
    let decoder = Decoder::new(store);
    let per_file: Vec<Found> = files
        .par_iter()
        .map(|name| {
            let mut found = Found::default();
            let (counts, errors) = decoder.decode(name, &mut |entries| {
                take(&mut found, &entries, name, sweeper);
            });
            found.counts = counts;
            found.errors = errors;
            found
        })
        .collect();
    let mut all = Found::default();
    for f in per_file {
        all.merge(f);
    }
    all.errors.extend(store.errors().iter().cloned());
    all.errors.sort();
    let failed_all = all.counts.entries == 0 && !all.errors.is_empty();
    if failed_all {
        out.status = ModuleStatus::Error;
        out.error = Some(all.errors.join("; "));
    } else {
        out.status = ModuleStatus::Ok;
        notes.extend(all.errors.iter().map(|e| format!("{MODULE}: {e}")));
    }
    let mut sum = summary(&all.counts, files.len() + store.rejected());
    if !decoder.notes.is_empty() {
        // Times then come from the tracev3 headers (the counts say so).
        sum = sum.field("unreadable_timesync_files", decoder.notes.join("; "));
    }
    out.records.push(sum);
    for (p, s) in &all.processes {
        out.records.push(path_record("log_process", p, s, true));
    }
    for (p, s) in &all.senders {
        out.records.push(path_record("log_sender", p, s, false));
    }
    out.records.append(&mut all.flagged);
    if let Some(o) = all.observed {
        out.records.extend(o.into_records(MODULE, ARTIFACT));
    }
    out.duration_ms = started.elapsed().as_millis() as u64;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::SweptLine;

    /// Flags every line that contains `needle`; keeps observables.
    struct Contains(&'static str);
    impl TextSweep for Contains {
        fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
            let mut out = Vec::new();
            let mut start = 0;
            for (i, line) in text.split(|b| *b == b'\n').enumerate() {
                if memchr::memmem::find(line, self.0.as_bytes()).is_some() {
                    out.push(SweptLine {
                        line_no: i + 1,
                        range: start..start + line.len(),
                    });
                }
                start += line.len() + 1;
            }
            out
        }
        fn keeps_observables(&self) -> bool {
            true
        }
    }

    fn entry(t: i64, process: Option<&str>, message: &str) -> Entry {
        Entry {
            time_us: Some(t),
            pid: 42,
            process: process.map(str::to_string),
            process_uuid: "6C3ADF991F033C1C96C4ADFAA12D8CED".into(),
            sender: Some("/usr/lib/libnetwork.dylib".into()),
            subsystem: "com.example".into(),
            category: "net".into(),
            level: "Default".into(),
            message: message.into(),
            resolved: true,
        }
    }

    #[test]
    fn paths_are_typed_once_with_first_last_and_count() {
        let mut found = Found::default();
        let sweep = Contains("evil.example.net");
        let entries = [
            entry(
                1_700_000_000_000_000,
                Some("/usr/libexec/spyd"),
                "hello\nworld",
            ),
            entry(
                1_700_000_001_000_000,
                Some("/usr/libexec/spyd"),
                "to evil.example.net:443",
            ),
            entry(1_699_999_999_000_000, None, "read /private/var/tmp/x.db"),
        ];
        take(&mut found, &entries, "Persist/1.tracev3", Some(&sweep));
        let spyd = &found.processes["/usr/libexec/spyd"];
        assert_eq!(spyd.count, 2);
        let r = path_record("log_process", "/usr/libexec/spyd", spyd, true);
        assert!(
            r.observables
                .iter()
                .any(|o| o.kind == ObservableType::Process && o.value == "spyd")
        );
        assert!(
            r.observables
                .iter()
                .any(|o| o.kind == ObservableType::FilePath && o.value == "/usr/libexec/spyd")
        );
        assert_eq!(
            r.fields.get("first").unwrap(),
            "2023-11-14T22:13:20.000000Z"
        );
        assert_eq!(r.fields.get("last").unwrap(), "2023-11-14T22:13:21.000000Z");
        let s = path_record(
            "log_sender",
            "/usr/lib/libnetwork.dylib",
            &found.senders["/usr/lib/libnetwork.dylib"],
            false,
        );
        assert!(
            s.observables
                .iter()
                .all(|o| o.kind == ObservableType::FilePath)
        );
        assert_eq!(s.fields.get("count").unwrap(), 3);

        // One flagged entry, with its context; a message's newline does not
        // make a second line.
        assert_eq!(found.flagged.len(), 1);
        let f = &found.flagged[0];
        assert_eq!(f.fields.get("pid").unwrap(), 42);
        assert_eq!(f.fields.get("process").unwrap(), "/usr/libexec/spyd");
        assert_eq!(
            f.fields.get("member").unwrap(),
            "system_logs.logarchive/Persist/1.tracev3"
        );
        assert_eq!(
            f.observables[0].value,
            "2023-11-14T22:13:21.000000Z to evil.example.net:443"
        );
        // The other lines' values are kept with their UTC time.
        let o = found.observed.unwrap();
        let seen = o
            .seen(ObservableType::FilePath, "/private/var/tmp/x.db")
            .unwrap();
        assert_eq!(seen.count, 1);
        assert!(
            o.seen(ObservableType::Domain, "evil.example.net").is_none(),
            "kept whole, not twice"
        );
    }

    #[test]
    fn no_sweep_still_types_paths() {
        let mut found = Found::default();
        take(
            &mut found,
            &[entry(0, Some("/a/b"), "x.example.com")],
            "m",
            None,
        );
        assert_eq!(found.processes.len(), 1);
        assert!(found.flagged.is_empty() && found.observed.is_none());
    }

    #[test]
    fn an_empty_store_is_missing_and_a_rejected_file_an_error() {
        let mut notes = Vec::new();
        let store = LogStore::new(0);
        assert_eq!(run(&store, None, &mut notes).status, ModuleStatus::Missing);
        let mut store = LogStore::new(0);
        store.reject(
            "system_logs.logarchive/Persist/1.tracev3",
            "not a tracev3 file",
        );
        let out = run(&store, None, &mut notes);
        assert_eq!(out.status, ModuleStatus::Error);
        assert!(out.error.unwrap().contains("Persist/1.tracev3"));
    }
}
